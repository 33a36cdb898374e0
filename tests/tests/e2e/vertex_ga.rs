//! Veo 3.1 GA on Vertex AI through the OpenAI Videos surface and the Vertex
//! door: every GA parameter reaches Vertex as sent, every value a model
//! cannot take is refused before anything goes upstream with the field
//! named, and `POST /v1/videos/extensions` extends a Vertex video from its
//! Cloud Storage object (+7 s, charged as the whole extended video).

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{expected_video_bytes, vertex_sample_key, MockOptions, MockUpstream};
use serde_json::{json, Value};

use crate::harness::{Answer, Env};

const BUCKET_PREFIX: &str = "gs://reelay-out/veo/";
const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    let vertex = |id: &str, model: &str| {
        json!({"id": id, "provider": "vertex_ai", "model": model, "credential": "VERTEX_SA",
               "project": "mock-project", "location": "us-central1", "api_base": base,
               "storage_api_base": base, "storage_uri": BUCKET_PREFIX,
               "prices": {"video_per_second_by_resolution": {"720p": 0.1, "4k": 0.5}}})
    };
    json!({"model_groups": [
        {"name": "veo-ga", "deployments": [vertex("vertex-ga", "veo-3.1-generate-001")]},
        {"name": "veo-lite", "deployments": [vertex("vertex-lite", "veo-3.1-lite-generate-001")]}
    ]})
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        let sa = reelay_tests::mock::test_service_account_json(&mock.base_url());
        GatewayOptions::new(config(mock), &[("VERTEX_SA", &sa)])
    })
    .await
}

impl Env {
    fn vertex_creates(&self) -> Vec<Value> {
        self.upstream(":predictLongRunning")
            .into_iter()
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    async fn post_json(&self, key: &str, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).bearer_auth(key).json(&body))
            .await
    }

    /// Polls `GET /v1/videos/{id}` until it is no longer running.
    async fn finished(&self, key: &str, id: &str) -> Value {
        for _ in 0..10 {
            let video = self
                .send(
                    self.http
                        .get(self.url(&format!("/v1/videos/{id}")))
                        .bearer_auth(key),
                )
                .await
                .ok();
            if video["status"] == "completed" || video["status"] == "failed" {
                return video;
            }
        }
        panic!("video {id} never finished");
    }
}

/// A create with every GA parameter reaches Vertex as sent (OpenAI fields
/// mapped, Vertex-door fields unchanged), and the mock, which validates
/// like Vertex, accepts it.
#[tokio::test]
async fn every_ga_parameter_reaches_vertex() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let image = json!({"image_url": PNG});
    let video = env
        .post_json(
            &key,
            "/v1/videos",
            json!({"model": "veo-ga", "prompt": "a lighthouse", "seconds": "6",
                   "size": "3840x2160", "negative_prompt": "text", "seed": 4_294_967_295_u32,
                   "person_generation": "allow_adult", "generate_audio": false,
                   "input_reference": image, "last_frame": image,
                   "reference_images": [image, image, image]}),
        )
        .await
        .ok();
    assert_eq!(video["size"], "3840x2160", "{video}");
    let sent = env.vertex_creates().pop().unwrap();
    let bytes = PNG.split_once(',').unwrap().1;
    let media = json!({"bytesBase64Encoded": bytes, "mimeType": "image/png"});
    let reference = json!({"image": media, "referenceType": "asset"});
    assert_eq!(
        sent,
        json!({"instances": [{"prompt": "a lighthouse", "image": media, "lastFrame": media,
                              "referenceImages": [reference, reference, reference]}],
               "parameters": {"durationSeconds": 6, "aspectRatio": "16:9", "resolution": "4k",
                              "negativePrompt": "text", "personGeneration": "allow_adult",
                              "seed": 4_294_967_295_u32, "sampleCount": 1, "generateAudio": false,
                              "storageUri": BUCKET_PREFIX}})
    );
    assert_eq!(
        env.finished(&key, video["id"].as_str().unwrap()).await["status"],
        "completed"
    );

    // The Vertex door: the SDK's spelling passes through unchanged.
    let native = json!({"instances": [{"prompt": "a harbour", "image": media, "lastFrame": media,
                            "referenceImages": [{"image": media, "referenceType": "ASSET"}]}],
                        "parameters": {"sampleCount": 2, "durationSeconds": 8, "seed": 7,
                            "aspectRatio": "9:16", "resolution": "1080p",
                            "personGeneration": "dont_allow", "negativePrompt": "fog",
                            "generateAudio": true, "enhancePrompt": true,
                            "compressionQuality": "OPTIMIZED", "resizeMode": "PAD", "fps": 24}});
    env.post_json(
        &key,
        "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/veo-ga:predictLongRunning",
        native.clone(),
    )
    .await
    .ok();
    let mut expected = native;
    expected["parameters"]["storageUri"] = json!(BUCKET_PREFIX);
    assert_eq!(env.vertex_creates().pop().unwrap(), expected);
    env.stop().await;
}

/// Each value a model cannot take is a 400 naming its field, and nothing
/// reaches Vertex.
#[tokio::test]
async fn invalid_ga_values_are_refused_by_field() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let image = json!({"image_url": PNG});
    for (body, code, param) in [
        (
            json!({"model": "veo-lite", "size": "3840x2160"}),
            "unsupported_value",
            "size",
        ),
        (
            json!({"model": "veo-lite", "reference_images": [image]}),
            "unsupported_value",
            "reference_images",
        ),
        (
            json!({"model": "veo-lite", "input_reference": image, "last_frame": image}),
            "unsupported_value",
            "last_frame",
        ),
        (
            json!({"model": "veo-ga", "last_frame": image}),
            "invalid_request",
            "last_frame",
        ),
        (
            json!({"model": "veo-ga", "reference_images": [image, image, image, image]}),
            "invalid_request",
            "reference_images",
        ),
        (
            json!({"model": "veo-ga", "reference_images": [{"image_url": "https://example.com/a.png"}]}),
            "unsupported_value",
            "reference_images[0]",
        ),
        (
            json!({"model": "veo-ga", "generate_audio": "loud"}),
            "invalid_request",
            "generate_audio",
        ),
        (
            json!({"model": "veo-ga", "seed": -1}),
            "invalid_request",
            "seed",
        ),
        (
            json!({"model": "veo-ga", "person_generation": "everyone"}),
            "invalid_request",
            "person_generation",
        ),
        (
            json!({"model": "veo-ga", "seconds": "5"}),
            "unsupported_value",
            "seconds",
        ),
    ] {
        let mut body = body;
        body["prompt"] = json!("a lighthouse");
        let answer = env.post_json(&key, "/v1/videos", body.clone()).await;
        let err = answer.expect_error(400, code);
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    let lite = "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/veo-lite:predictLongRunning";
    let ga = "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/veo-ga:predictLongRunning";
    for (path, body, reason, param) in [
        (
            lite,
            r#"{"instances":[{"prompt":"x"}],"parameters":{"resolution":"4k"}}"#,
            "unsupported_value",
            "parameters.resolution",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x"}],"parameters":{"resolution":"2k"}}"#,
            "unsupported_value",
            "parameters.resolution",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x"}],"parameters":{"personGeneration":"all"}}"#,
            "unsupported_value",
            "parameters.personGeneration",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x"}],"parameters":{"seed":-3}}"#,
            "invalid_request",
            "parameters.seed",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x"}],"parameters":{"generateAudio":"yes"}}"#,
            "invalid_request",
            "parameters.generateAudio",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x","lastFrame":{"bytesBase64Encoded":"AA"}}]}"#,
            "invalid_request",
            "instances[0].lastFrame",
        ),
        (
            ga,
            r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"},"referenceType":"STYLE"}]}]}"#,
            "unsupported_value",
            "instances[0].referenceImages[0].referenceType",
        ),
    ] {
        let answer = env
            .send(
                env.http
                    .post(env.url(path))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        let err = answer.json();
        assert_eq!(
            err["error"]["details"][0]["reason"],
            reason.to_ascii_uppercase(),
            "{body}: {err}"
        );
        assert_eq!(
            err["error"]["details"][0]["metadata"]["param"], param,
            "{body}: {err}"
        );
    }
    assert!(
        env.vertex_creates().is_empty(),
        "{:?}",
        env.vertex_creates()
    );
    env.stop().await;
}

/// `POST /v1/videos/extensions` on a Vertex video: the source's object in
/// the gateway's bucket goes upstream as `instances[0].video.gcsUri`, the
/// extension is sealed and charged as source + 7 s at the source's size,
/// and its result streams like any other; other lengths are refused.
#[tokio::test]
async fn a_vertex_video_is_extended_end_to_end() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let source = env
        .post_json(
            &key,
            "/v1/videos",
            json!({"model": "veo-ga", "prompt": "a lighthouse", "seconds": "8", "size": "3840x2160"}),
        )
        .await
        .ok();
    let source_id = source["id"].as_str().unwrap().to_owned();
    assert_eq!(env.finished(&key, &source_id).await["status"], "completed");
    let source_op = env.vertex_creates().len();

    let refused = env
        .post_json(
            &key,
            "/v1/videos/extensions",
            json!({"prompt": "the storm clears", "seconds": "8", "video": {"id": source_id}}),
        )
        .await;
    assert_eq!(
        refused.expect_error(400, "unsupported_value")["error"]["param"],
        "seconds"
    );

    let ext = env
        .post_json(
            &key,
            "/v1/videos/extensions",
            json!({"prompt": "the storm clears", "seconds": "7", "video": {"id": source_id}}),
        )
        .await
        .ok();
    assert_eq!(
        (&ext["seconds"], &ext["size"]),
        (&json!("15"), &json!("3840x2160")),
        "{ext}"
    );
    let creates = env.vertex_creates();
    assert_eq!(creates.len(), source_op + 1);
    let sent = creates.last().unwrap();
    let object = sent["instances"][0]["video"]["gcsUri"].as_str().unwrap();
    assert!(
        object.starts_with(BUCKET_PREFIX) && object.ends_with("/sample_0.mp4"),
        "{sent}"
    );
    assert_eq!(
        sent["parameters"],
        json!({"sampleCount": 1, "storageUri": BUCKET_PREFIX})
    );
    // Charged: 8 s then 15 s of 4k video at 0.5 a second.
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    assert_eq!(
        info["info"]["usage"]["today"]["video_seconds"], 23,
        "{info}"
    );

    let ext_id = ext["id"].as_str().unwrap();
    assert_eq!(env.finished(&key, ext_id).await["status"], "completed");
    let op = env.upstream(":fetchPredictOperation").pop().unwrap();
    let op = op.body_json().unwrap()["operationName"]
        .as_str()
        .unwrap()
        .to_owned();
    let content = env.get(&key, &format!("/v1/videos/{ext_id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(
        content.bytes().await.unwrap().to_vec(),
        expected_video_bytes(
            &vertex_sample_key(&op, 0),
            MockOptions::default().video_bytes
        )
    );
    env.stop().await;
}
