//! Upstream text inside successful answers is redacted by value, like the
//! errors: the mock answers a finished-but-failed job whose message echoes
//! the credential the gateway called it with (an upstream that repeats what
//! it was sent), and the client's `200` — a `/v1/videos` object, a Gemini or
//! Vertex operation passed on, a failed Responses answer, a list of videos
//! — never carries it.

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use serde_json::{json, Value};

use crate::harness::{Env, AZURE_KEY, GEMINI_KEY, OPENAI_KEY};

const VERTEX_MODEL: &str =
    "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/veo-vertex";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "veo-vertex", "deployments": [
                {"id": "vertex-veo", "provider": "vertex_ai", "model": "veo-3.1-generate-001",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "us-central1",
                 "api_base": base, "storage_api_base": base}]},
            {"name": "sora-azure", "deployments": [
                {"id": "azure-sora", "provider": "azure", "model": "sora-2",
                 "credential": "AZURE_API_KEY", "api_base": base}]},
            {"name": "gpt-5", "deployments": [
                {"id": "oa-alpha", "provider": "openai", "model": "gpt-5",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        let sa = mock.service_account_json();
        GatewayOptions::new(
            config(mock),
            &[
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("AZURE_API_KEY", AZURE_KEY),
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("VERTEX_SA", sa.as_str()),
            ],
        )
    })
    .await
}

/// The next answer of a request whose path holds `path` is a `200` with
/// `body` (the upstream's own wire shape).
fn answer_once(env: &Env, path: &str, body: Value) {
    env.mock.push_fault(Fault::new(
        path,
        1,
        FaultAction::Status {
            status: 200,
            headers: vec![],
            body: body.to_string(),
        },
    ));
}

/// A Google long-running operation that finished with a gRPC
/// `INVALID_ARGUMENT` (whose message reaches the client) naming `secret`.
fn failed_google_operation(name: &str, secret: &str) -> Value {
    json!({"name": name, "done": true, "error": {
        "code": 3,
        "message": format!("Request contains an invalid argument: the request sent with {secret} named no video."),
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": [{"field": "instances[0]", "description": secret}]}]}})
}

/// `text` holds `[redacted]` and not `secret`.
fn assert_redacted(text: &str, secret: &str) {
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn failed_jobs_in_video_objects_and_lists_are_redacted() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*", "sora-*"]})).await;

    // Veo on the Gemini API.
    let created = env
        .send(
            env.req(reqwest::Method::POST, "/v1/videos")
                .bearer_auth(&key)
                .json(&json!({"model": "veo-3.1", "prompt": "a cat", "seconds": "8"})),
        )
        .await
        .ok();
    let veo_id = created["id"].as_str().unwrap().to_owned();
    answer_once(
        &env,
        "/operations/",
        failed_google_operation("models/veo-3.1-generate-preview/operations/op1", GEMINI_KEY),
    );
    let answer = env
        .send(
            env.req(reqwest::Method::GET, &format!("/v1/videos/{veo_id}"))
                .bearer_auth(&key),
        )
        .await;
    let video = answer.ok();
    assert_eq!(video["status"], "failed", "{video}");
    assert_eq!(video["error"]["code"], "upstream_bad_request", "{video}");
    assert_redacted(video["error"]["message"].as_str().unwrap(), GEMINI_KEY);

    // Sora on Azure: a failed video object echoing the `api-key`.
    let created = env
        .send(
            env.req(reqwest::Method::POST, "/v1/videos")
                .bearer_auth(&key)
                .json(&json!({"model": "sora-azure", "prompt": "a dog", "seconds": "4"})),
        )
        .await
        .ok();
    let sora_id = created["id"].as_str().unwrap().to_owned();
    answer_once(
        &env,
        "/openai/v1/videos/",
        json!({"id": "video_upstream1", "object": "video", "model": "sora-2",
               "status": "failed", "progress": 0, "created_at": 1, "seconds": "4",
               "size": "720x1280",
               "error": {"code": "internal_error",
                         "message": format!("Access denied due to invalid key {AZURE_KEY}")}}),
    );
    let video = env
        .send(
            env.req(reqwest::Method::GET, &format!("/v1/videos/{sora_id}"))
                .bearer_auth(&key),
        )
        .await
        .ok();
    assert_eq!(video["status"], "failed", "{video}");
    assert_redacted(video["error"]["message"].as_str().unwrap(), AZURE_KEY);

    // The list shows both as stored: clean too.
    let list = env
        .send(
            env.req(reqwest::Method::GET, "/v1/videos")
                .bearer_auth(&key),
        )
        .await
        .ok();
    let failed: Vec<&Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2, "{list}");
    for video in failed {
        assert!(
            video["error"]["message"]
                .as_str()
                .unwrap()
                .contains("[redacted]"),
            "{video}"
        );
    }
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn passed_on_google_operations_are_redacted() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;

    // The Gemini door: the operation is passed on in Google's shape.
    let op = env
        .send(
            env.req(
                reqwest::Method::POST,
                "/gemini/v1beta/models/veo-3.1:predictLongRunning",
            )
            .header("x-goog-api-key", &key)
            .json(&json!({"instances": [{"prompt": "a cat"}]})),
        )
        .await
        .ok();
    let name = op["name"].as_str().unwrap().to_owned();
    answer_once(
        &env,
        "/operations/",
        failed_google_operation("models/veo-3.1-generate-preview/operations/op1", GEMINI_KEY),
    );
    let passed = env
        .send(
            env.req(reqwest::Method::GET, &format!("/gemini/v1beta/{name}"))
                .header("x-goog-api-key", &key),
        )
        .await;
    let view = passed.ok();
    assert_eq!(view["done"], true, "{view}");
    assert_redacted(&view["error"].to_string(), GEMINI_KEY);

    // The Vertex door: the whole `fetchPredictOperation` answer is passed
    // on; this one echoes the OAuth token minted from the service account.
    let op = env
        .send(
            env.req(
                reqwest::Method::POST,
                &format!("{VERTEX_MODEL}:predictLongRunning"),
            )
            .bearer_auth(&key)
            .json(&json!({"instances": [{"prompt": "a cat"}]})),
        )
        .await
        .ok();
    let name = op["name"].as_str().unwrap().to_owned();
    let tokens = env.live_state().await["bearer_tokens"].clone();
    let token = tokens
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    answer_once(
        &env,
        ":fetchPredictOperation",
        failed_google_operation(
            "projects/mock-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001/operations/op2",
            &token,
        ),
    );
    let passed = env
        .send(
            env.req(
                reqwest::Method::POST,
                &format!("{VERTEX_MODEL}:fetchPredictOperation"),
            )
            .bearer_auth(&key)
            .json(&json!({"operationName": name})),
        )
        .await;
    let view = passed.ok();
    assert_eq!(view["done"], true, "{view}");
    assert_redacted(&view["error"].to_string(), &token);
    assert!(!passed.text.contains(&token));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_failed_responses_answer_is_redacted() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-5"]})).await;
    answer_once(
        &env,
        "/v1/responses",
        json!({"id": "resp_0123456789abcdef", "object": "response", "created_at": 1,
               "status": "failed", "model": "gpt-5", "output": [],
               "error": {"code": "server_error",
                         "message": format!("The key {OPENAI_KEY} could not be used")}}),
    );
    let answer = env
        .send(
            env.req(reqwest::Method::POST, "/v1/responses")
                .bearer_auth(&key)
                .json(&json!({"model": "gpt-5", "input": "hi"})),
        )
        .await;
    let body = answer.ok();
    assert_eq!(body["status"], "failed", "{body}");
    assert_redacted(body["error"]["message"].as_str().unwrap(), OPENAI_KEY);
    // Everything else is as the upstream sent it (the id sealed).
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_ne!(body["id"], "resp_0123456789abcdef");
    env.assert_no_leaks().await;
    env.stop().await;
}
