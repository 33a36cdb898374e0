//! The Google-shaped doors (`/gemini/…`, `/vertex_ai/…`) meet the same
//! rules as `/v1/videos`: every sample asked for is charged, storage is the
//! gateway's (client buckets and files it did not issue are refused, the
//! deployment's `storage_uri` applies whatever the door), duplicate keys
//! are refused, and the file URIs handed out work for google-genai over
//! plain HTTP too. Each test inspects what the mock upstream received.

use std::time::Duration;

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{expected_video_bytes, vertex_sample_key, MockOptions, MockUpstream};
use reqwest::Response;
use serde_json::{json, Value};

use crate::harness::{Answer, Env, GEMINI_KEY};

const BUCKET_PREFIX: &str = "gs://reelay-out/veo/";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    let prices = json!({"video_per_second": 0.5});
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base, "prices": prices}]},
            {"name": "veo-vertex", "deployments": [
                {"id": "vertex-gcs", "provider": "vertex_ai", "model": "veo-3.1-generate-001",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "us-central1",
                 "api_base": base, "storage_api_base": base, "storage_uri": BUCKET_PREFIX,
                 "prices": prices}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        let sa = reelay_tests::mock::test_service_account_json(&mock.base_url());
        GatewayOptions::new(
            config(mock),
            &[("GEMINI_API_KEY", GEMINI_KEY), ("VERTEX_SA", &sa)],
        )
    })
    .await
}

const VERTEX_MODEL: &str =
    "/vertex_ai/v1/projects/their-project/locations/europe-west4/publishers/google/models/veo-vertex";

impl Env {
    /// `POST /gemini/v1beta/models/veo-3.1:predictLongRunning` with a raw body.
    async fn gemini_create(&self, key: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(self.url("/gemini/v1beta/models/veo-3.1:predictLongRunning"))
                .header("x-goog-api-key", key)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    /// Polls a Gemini-shaped operation until it is done.
    async fn gemini_done(&self, key: &str, name: &str) -> Value {
        for _ in 0..5 {
            let op = self
                .send(
                    self.http
                        .get(self.url(&format!("/gemini/v1beta/{name}")))
                        .header("x-goog-api-key", key),
                )
                .await
                .ok();
            if op["done"] == true {
                return op;
            }
        }
        panic!("operation {name} never finished");
    }

    /// `POST …/models/veo-vertex:predictLongRunning` (Vertex shape) with a raw body.
    async fn vertex_create(&self, key: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(self.url(&format!("{VERTEX_MODEL}:predictLongRunning")))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    /// `:fetchPredictOperation` (Vertex shape) until the operation is done.
    async fn vertex_done(&self, key: &str, name: &str) -> Value {
        for _ in 0..5 {
            let op = self
                .send(
                    self.http
                        .post(self.url(&format!("{VERTEX_MODEL}:fetchPredictOperation")))
                        .bearer_auth(key)
                        .json(&json!({"operationName": name})),
                )
                .await
                .ok();
            if op["done"] == true {
                return op;
            }
        }
        panic!("operation {name} never finished");
    }

    /// The bodies of the creates the mock received.
    fn creates(&self) -> Vec<Value> {
        self.upstream(":predictLongRunning")
            .into_iter()
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    async fn today(&self, key: &str) -> Value {
        let info: Value = self.get(key, "/key/info").await.json().await.unwrap();
        info["info"]["usage"]["today"].clone()
    }
}

/// Asserts a Google-shaped 400 with `reason` naming `param`.
fn expect_refusal(answer: &Answer, reason: &str, param: &str) {
    assert_eq!(answer.status, 400, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{body}");
    assert_eq!(body["error"]["details"][0]["reason"], reason, "{body}");
    assert_eq!(
        body["error"]["details"][0]["metadata"]["param"], param,
        "{body}"
    );
}

async fn bytes_of(resp: Response) -> (u16, Vec<u8>) {
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// `parameters.sampleCount` videos of `durationSeconds` each are reserved
/// and committed, on the Gemini and the Vertex door; out-of-range counts
/// and extra instances are refused before anything goes upstream.
#[tokio::test]
async fn every_sample_asked_for_is_charged() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;

    let created = env
        .gemini_create(
            &key,
            r#"{"instances":[{"prompt":"four foxes"}],"parameters":{"durationSeconds":8,"sampleCount":4}}"#,
        )
        .await
        .ok();
    assert_eq!(env.creates()[0]["parameters"]["sampleCount"], 4);
    let today = env.today(&key).await;
    assert_eq!(
        (&today["videos"], &today["video_seconds"]),
        (&json!(4), &json!(32)),
        "{today}"
    );

    // All four come back, each downloadable through the gateway.
    let name = created["name"].as_str().unwrap();
    let done = env.gemini_done(&key, name).await;
    let samples = done["response"]["generateVideoResponse"]["generatedSamples"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(samples.len(), 4, "{done}");
    let (status, _) = bytes_of(
        env.http
            .get(samples[3]["video"]["uri"].as_str().unwrap())
            .header("x-goog-api-key", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    // The Vertex door: three samples of 8 s.
    env.vertex_create(
        &key,
        r#"{"instances":[{"prompt":"three cranes"}],"parameters":{"durationSeconds":8,"sampleCount":3}}"#,
    )
    .await
    .ok();
    assert_eq!(env.creates()[1]["parameters"]["sampleCount"], 3);
    // Committed when seen finished (after the poll's response): the
    // commit is the sealed count too, so nothing changes.
    env.gemini_done(&key, name).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    let usage = &info["info"]["usage"];
    assert_eq!(usage["today"]["videos"], 7, "{usage}");
    assert_eq!(usage["today"]["video_seconds"], 56, "{usage}");
    assert_eq!(usage["spend"], "28.00", "$0.50 × 56 s: {usage}");

    // Out of bounds, or more than one instance: refused, nothing sent.
    for body in [
        r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":5}}"#,
        r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":0}}"#,
    ] {
        expect_refusal(
            &env.gemini_create(&key, body).await,
            "INVALID_REQUEST",
            "parameters.sampleCount",
        );
        expect_refusal(
            &env.vertex_create(&key, body).await,
            "INVALID_REQUEST",
            "parameters.sampleCount",
        );
    }
    expect_refusal(
        &env.gemini_create(&key, r#"{"instances":[{"prompt":"x"},{"prompt":"y"}]}"#)
            .await,
        "INVALID_REQUEST",
        "instances",
    );
    assert_eq!(env.creates().len(), 2);

    // A daily video quota counts samples: 4 fit in 5, 2 more do not.
    let limited = env
        .new_key(json!({"models": ["veo-*"], "videos_per_day": 5}))
        .await;
    let four = r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":4}}"#;
    let two = r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":2}}"#;
    env.gemini_create(&limited, four).await.ok();
    let denied = env.gemini_create(&limited, two).await;
    assert_eq!(denied.status, 429, "{}", denied.text);
    assert_eq!(denied.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    env.assert_no_leaks().await;
    env.stop().await;
}

/// Client-chosen buckets and objects, and file URIs the gateway did not
/// issue to this key, are refused on both doors before anything goes
/// upstream; the caller's own videos, by the URI the gateway handed out,
/// are accepted and replaced by their upstream file.
#[tokio::test]
async fn storage_is_the_gateways() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let other = env.new_key(json!({"models": ["veo-*"]})).await;

    // A finished video of `other`, and its gateway URI.
    let theirs = env
        .gemini_create(&other, r#"{"instances":[{"prompt":"theirs"}]}"#)
        .await
        .ok();
    let done = env
        .gemini_done(&other, theirs["name"].as_str().unwrap())
        .await;
    let their_uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]
        ["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent_before = env.creates().len();

    let instance = |field: &str| format!(r#"{{"instances":[{{"prompt":"x",{field}}}]}}"#);
    let cases = [
        (
            r#"{"instances":[{"prompt":"x"}],"parameters":{"storageUri":"gs://client-bucket/out/"}}"#.to_owned(),
            "parameters.storageUri",
        ),
        (
            instance(r#""image":{"gcsUri":"gs://client-bucket/first.png","mimeType":"image/png"}"#),
            "instances[0].image.gcsUri",
        ),
        (
            instance(r#""lastFrame":{"gcsUri":"gs://reelay-out/veo/someone-else/sample_0.mp4"}"#),
            "instances[0].lastFrame.gcsUri",
        ),
        (
            instance(r#""referenceImages":[{"image":{"gcsUri":"gs://client-bucket/r.png"},"referenceType":"asset"}]"#),
            "instances[0].referenceImages[0].image.gcsUri",
        ),
        (
            instance(r#""video":{"gcsUri":"gs://reelay-out/veo/someone-else/sample_0.mp4"}"#),
            "instances[0].video.gcsUri",
        ),
        (
            instance(&format!(
                r#""video":{{"uri":"{}/v1beta/files/abc123def:download?alt=media"}}"#,
                env.mock.base_url()
            )),
            "instances[0].video.uri",
        ),
        (
            instance(&format!(r#""video":{{"uri":"{their_uri}"}}"#)),
            "instances[0].video.uri",
        ),
    ];
    for (body, param) in &cases {
        expect_refusal(
            &env.gemini_create(&key, body).await,
            "STORAGE_NOT_ALLOWED",
            param,
        );
        expect_refusal(
            &env.vertex_create(&key, body).await,
            "STORAGE_NOT_ALLOWED",
            param,
        );
    }
    assert_eq!(env.creates().len(), sent_before, "nothing went upstream");

    // The caller's own video, by the URI the gateway returned: extended on
    // the deployment holding it, with its upstream file put in.
    let mine = env
        .gemini_create(&key, r#"{"instances":[{"prompt":"mine"}]}"#)
        .await
        .ok();
    let done = env.gemini_done(&key, mine["name"].as_str().unwrap()).await;
    let my_uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    env.http
        .get(&my_uri)
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    let download = env.upstream(":download").pop().unwrap();
    let body = format!(
        r#"{{"instances":[{{"prompt":"and then it flies","video":{{"uri":"{my_uri}","mimeType":"video/mp4"}}}}],"parameters":{{"durationSeconds":8}}}}"#
    );
    env.gemini_create(&key, &body).await.ok();
    let sent = env.creates().pop().unwrap();
    assert_eq!(
        sent["instances"][0]["video"],
        json!({"uri": format!("{}{}?alt=media", env.mock.base_url(), download.path), "mimeType": "video/mp4"}),
        "{sent}"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

/// The deployment's `storage_uri` goes upstream whatever the door (OpenAI
/// shape, Vertex shape; the Gemini API has no storage), so no Vertex video
/// comes back inline; the Vertex door hands out gateway URIs for the
/// bucket's objects, which stream for their owner only and name the
/// object when given back as an input.
#[tokio::test]
async fn the_deployments_storage_applies_on_every_door() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let other = env.new_key(json!({"models": ["veo-*"]})).await;

    let openai = env
        .create_video(&key, json!({"model": "veo-vertex", "prompt": "a canyon"}))
        .await;
    assert_eq!(openai.status(), 200);
    let native = env
        .vertex_create(
            &key,
            r#"{"instances":[{"prompt":"a glacier"}],"parameters":{"sampleCount":2}}"#,
        )
        .await
        .ok();
    env.gemini_create(&key, r#"{"instances":[{"prompt":"a fox"}]}"#)
        .await
        .ok();
    let creates = env.creates();
    assert_eq!(creates[0]["parameters"]["storageUri"], BUCKET_PREFIX);
    assert_eq!(
        creates[1]["parameters"]["storageUri"], BUCKET_PREFIX,
        "the Vertex door: {}",
        creates[1]
    );
    assert!(creates[2]["parameters"].get("storageUri").is_none());

    let name = native["name"].as_str().unwrap();
    let done = env.vertex_done(&key, name).await;
    assert!(!done.to_string().contains("gs://"), "{done}");
    let videos = done["response"]["videos"].as_array().unwrap().clone();
    assert_eq!(videos.len(), 2, "{done}");
    let upstream_op = env.upstream(":fetchPredictOperation").pop().unwrap();
    let upstream_op = upstream_op.body_json().unwrap()["operationName"]
        .as_str()
        .unwrap()
        .to_owned();
    for (index, video) in videos.iter().enumerate() {
        let uri = video["gcsUri"].as_str().unwrap();
        assert!(uri.starts_with(&env.url("/vertex_ai/v1/files/")), "{uri}");
        let (status, bytes) =
            bytes_of(env.http.get(uri).bearer_auth(&key).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(
            bytes,
            expected_video_bytes(
                &vertex_sample_key(&upstream_op, u32::try_from(index).unwrap()),
                MockOptions::default().video_bytes
            )
        );
        let (status, _) =
            bytes_of(env.http.get(uri).bearer_auth(&other).send().await.unwrap()).await;
        assert_eq!(status, 404, "another key's file");
    }

    // Given back as an input (google-genai in Vertex mode puts a video's
    // URI in `gcsUri`), it names the object in the gateway's bucket.
    let body = format!(
        r#"{{"instances":[{{"prompt":"later","video":{{"gcsUri":"{}"}}}}]}}"#,
        videos[1]["gcsUri"].as_str().unwrap()
    );
    env.vertex_create(&key, &body).await.ok();
    let sent = env.creates().pop().unwrap();
    let object = sent["instances"][0]["video"]["gcsUri"].as_str().unwrap();
    assert!(
        object.starts_with(BUCKET_PREFIX) && object.ends_with("/sample_1.mp4"),
        "{sent}"
    );
    assert_eq!(sent["parameters"]["storageUri"], BUCKET_PREFIX);
    env.assert_no_leaks().await;
    env.stop().await;
}

/// A repeated key anywhere in a Google-shaped body is a 400 naming it, on
/// both doors, and nothing goes upstream: the body sent is always the one
/// that was checked.
#[tokio::test]
async fn duplicate_keys_are_refused() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    for (body, field) in [
        (
            r#"{"instances":[{"prompt":"a cat","prompt":"a dog"}]}"#,
            "prompt",
        ),
        (
            r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":1,"sampleCount":4}}"#,
            "sampleCount",
        ),
        (
            r#"{"instances":[{"prompt":"x"}],"parameters":{"durationSeconds":4,"durationSeconds":8}}"#,
            "durationSeconds",
        ),
        (
            r#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA","bytesBase64Encoded":"BB"}}]}"#,
            "bytesBase64Encoded",
        ),
    ] {
        for answer in [
            env.gemini_create(&key, body).await,
            env.vertex_create(&key, body).await,
        ] {
            expect_refusal(&answer, "INVALID_REQUEST", field);
            assert!(answer.text.contains("duplicate field"), "{}", answer.text);
        }
    }
    let fetch = env
        .send(
            env.http
                .post(env.url(&format!("{VERTEX_MODEL}:fetchPredictOperation")))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(r#"{"operationName":"a","operationName":"b"}"#),
        )
        .await;
    assert_eq!(fetch.status, 400, "{}", fetch.text);
    assert!(fetch.text.contains("duplicate field"), "{}", fetch.text);
    assert!(env.creates().is_empty());
    env.stop().await;
}

/// google-genai's `files.download` only takes the file id out of
/// `https://` URIs; given the gateway's `http://` URI it asks for
/// `files/{that whole URI}:download?alt=media`, which the gateway serves.
#[tokio::test]
async fn file_uris_work_for_google_genai_over_http() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let created = env
        .gemini_create(&key, r#"{"instances":[{"prompt":"a heron"}]}"#)
        .await
        .ok();
    let done = env
        .gemini_done(&key, created["name"].as_str().unwrap())
        .await;
    let uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uri.starts_with("http://"), "{uri}");
    // Exactly the request the SDK (2.34) builds from `uri`.
    let sdk_url = env.url(&format!("/gemini/v1beta/files/{uri}:download?alt=media"));
    let (status, via_sdk) = bytes_of(
        env.http
            .get(&sdk_url)
            .header("x-goog-api-key", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{sdk_url}");
    let (_, direct) = bytes_of(
        env.http
            .get(&uri)
            .header("x-goog-api-key", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(via_sdk, direct);
    let other = env.new_key(json!({"models": ["veo-*"]})).await;
    let (status, _) = bytes_of(
        env.http
            .get(&sdk_url)
            .header("x-goog-api-key", &other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    env.stop().await;
}
