//! Clients of the Gemini API's Veo operations (google-genai 2.x, the seed's
//! `VEO3VideoGenerator`, hard-coded to the retired `veo-3.0-generate-preview`)
//! keep working when the config serves their model group on Vertex: the
//! gateway creates with Vertex's `predictLongRunning`, polls with
//! `fetchPredictOperation`, answers in the Gemini shape, and serves the
//! videos (in the gateway's bucket or inline) through its own file URIs,
//! for the owning key only.

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{expected_video_bytes, vertex_sample_key, MockOptions, MockUpstream};
use serde_json::{json, Value};

use crate::harness::Env;

const BUCKET_PREFIX: &str = "gs://reelay-out/veo/";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    let vertex = |id: &str, storage: bool| {
        let mut dep = json!({"id": id, "provider": "vertex_ai", "model": "veo-3.1-generate-001",
            "credential": "VERTEX_SA", "project": "mock-project", "location": "us-central1",
            "api_base": base, "storage_api_base": base,
            "prices": {"video_per_second": 0.5}});
        if storage {
            dep["storage_uri"] = json!(BUCKET_PREFIX);
        }
        dep
    };
    json!({
        "model_groups": [
            // The seed's retired Gemini-API model name, served by Vertex.
            {"name": "veo-3.0-generate-preview", "deployments": [vertex("vertex-gcs", true)]},
            {"name": "veo-inline", "deployments": [vertex("vertex-inline", false)]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        let sa = reelay_tests::mock::test_service_account_json(&mock.base_url());
        GatewayOptions::new(config(mock), &[("VERTEX_SA", &sa)])
    })
    .await
}

/// Creates through the Gemini door and polls (Gemini shape) until done.
async fn create_and_finish(env: &Env, key: &str, model: &str, body: Value) -> (String, Value) {
    let created = env
        .send(
            env.http
                .post(env.url(&format!("/gemini/v1beta/models/{model}:predictLongRunning")))
                .header("x-goog-api-key", key)
                .json(&body),
        )
        .await
        .ok();
    let name = created["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("models/{model}/operations/video_")),
        "{name}"
    );
    for _ in 0..5 {
        let op = env
            .send(
                env.http
                    .get(env.url(&format!("/gemini/v1beta/{name}")))
                    .header("x-goog-api-key", key),
            )
            .await
            .ok();
        assert_eq!(op["name"], name.as_str(), "{op}");
        if op["done"] == true {
            return (name, op);
        }
    }
    panic!("operation {name} never finished");
}

async fn download(env: &Env, key: &str, uri: &str) -> (u16, Vec<u8>) {
    let resp = env
        .http
        .get(uri)
        .header("x-goog-api-key", key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

fn sample_uris(op: &Value) -> Vec<String> {
    op["response"]["generateVideoResponse"]["generatedSamples"]
        .as_array()
        .unwrap_or_else(|| panic!("no samples in {op}"))
        .iter()
        .map(|s| s["video"]["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn gemini_shaped_clients_on_a_vertex_deployment() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let (_, done) = create_and_finish(
        &env,
        &key,
        "veo-3.0-generate-preview",
        json!({"instances": [{"prompt": "a lighthouse in a storm"}],
               "parameters": {"sampleCount": 2, "durationSeconds": 8, "aspectRatio": "16:9"}}),
    )
    .await;
    // Sent to Vertex, with the deployment's project, model and bucket.
    let creates = env.upstream(":predictLongRunning");
    assert_eq!(creates.len(), 1);
    assert_eq!(
        creates[0].path,
        "/v1/projects/mock-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
    );
    let sent = creates[0].body_json().unwrap();
    assert_eq!(sent["instances"][0]["prompt"], "a lighthouse in a storm");
    assert_eq!(sent["parameters"]["sampleCount"], 2);
    assert!(sent["parameters"]["storageUri"]
        .as_str()
        .unwrap()
        .starts_with(BUCKET_PREFIX));
    let fetches = env.upstream(":fetchPredictOperation");
    assert!(!fetches.is_empty());
    let upstream_op = fetches[0].body_json().unwrap()["operationName"]
        .as_str()
        .unwrap()
        .to_owned();
    // Answered in the Gemini API's shape; the bucket never shows.
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    );
    assert!(!done.to_string().contains("gs://"), "{done}");
    let uris = sample_uris(&done);
    assert_eq!(uris.len(), 2);
    for (index, uri) in uris.iter().enumerate() {
        assert!(uri.starts_with(&env.url("/gemini/v1beta/files/")), "{uri}");
        let expected = expected_video_bytes(
            &vertex_sample_key(&upstream_op, u32::try_from(index).unwrap()),
            MockOptions::default().video_bytes,
        );
        let (status, bytes) = download(&env, &key, uri).await;
        assert_eq!(status, 200, "{uri}");
        assert_eq!(bytes, expected);
        // google-genai 2.34's `files.download` form over http.
        let sdk = env.url(&format!("/gemini/v1beta/files/{uri}:download?alt=media"));
        assert_eq!(download(&env, &key, &sdk).await, (200, expected));
    }
    // Another key may not read them, nor poll the job.
    let other = env.new_key(json!({"models": ["veo-*"]})).await;
    assert_eq!(download(&env, &other, &uris[0]).await.0, 404);

    // Without a bucket Vertex answers with the bytes inline: the client
    // still gets a file URI, never the base64.
    let (name, done) = create_and_finish(
        &env,
        &key,
        "veo-inline",
        json!({"instances": [{"prompt": "a heron"}]}),
    )
    .await;
    assert!(!done.to_string().contains("bytesBase64Encoded"), "{done}");
    let uris = sample_uris(&done);
    assert_eq!(uris.len(), 1);
    let (status, bytes) = download(&env, &key, &uris[0]).await;
    assert_eq!(status, 200);
    assert_eq!(&bytes[4..8], b"ftyp");
    let polled = env
        .send(
            env.http
                .get(env.url(&format!("/gemini/v1beta/{name}")))
                .header("x-goog-api-key", &other),
        )
        .await;
    assert_eq!(polled.status, 404, "{}", polled.text);
    // Both jobs are charged, every sample: 2 × 8 s, then 1 video.
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    let today = &info["info"]["usage"]["today"];
    assert_eq!(today["videos"], 3, "{info}");
    assert!(today["video_seconds"].as_u64().unwrap() > 16, "{info}");
    env.assert_no_leaks().await;
    env.stop().await;
}
