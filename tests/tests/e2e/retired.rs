//! Retired upstreams: the mock answers as each provider does once it has
//! retired a model (Gemini's and Vertex's `404 NOT_FOUND`, OpenAI's `404
//! model_not_found` "has been deprecated"); the gateway moves to the group's
//! fallbacks, leaves the retired deployment out of later requests, and
//! without a fallback answers `410 model_retired` naming the model the
//! client asked for and its configured successor — in the OpenAI and the
//! Google dialect, on the videos, Google-shaped, Responses and realtime
//! doors.

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream, RecordedRequest};
use serde_json::{json, Value};

use crate::harness::{Answer, Env, GEMINI_KEY, OPENAI_KEY};

/// Upstream model ids the mock answers as retired.
const RETIRED: [&str; 4] = [
    "veo-3.0-generate-preview",
    "veo-3.0-generate-001",
    "sora-2",
    "gpt-4o-realtime-preview",
];

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    let gemini = |id: &str, model: &str| json!({"id": id, "provider": "gemini", "model": model, "credential": "GEMINI_API_KEY", "api_base": base});
    let openai = |id: &str, model: &str| json!({"id": id, "provider": "openai", "model": model, "credential": "OPENAI_API_KEY", "api_base": base});
    let vertex = |id: &str, model: &str| {
        json!({"id": id, "provider": "vertex_ai", "model": model, "credential": "VERTEX_SA",
               "project": "mock-project", "location": "us-central1", "api_base": base, "storage_api_base": base})
    };
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [gemini("gemini-veo31", "veo-3.1-generate-preview")]},
            {"name": "veo-3.0", "successor": "veo-3.1",
             "deployments": [gemini("gemini-veo30", "veo-3.0-generate-preview")]},
            {"name": "veo-3.1-vertex", "deployments": [vertex("vertex-veo31", "veo-3.1-generate-001")]},
            {"name": "veo-3.0-vertex", "successor": "veo-3.1-vertex",
             "deployments": [vertex("vertex-veo30", "veo-3.0-generate-001")]},
            {"name": "sora-2", "fallbacks": ["veo-3.1"], "deployments": [openai("openai-sora", "sora-2")]},
            {"name": "sora-solo", "deployments": [openai("openai-sora-solo", "sora-2")]},
            {"name": "gpt-5", "deployments": [openai("openai-gpt5", "gpt-5-2025-08-07")]},
            {"name": "gpt-5-old", "fallbacks": ["gpt-5"],
             "deployments": [openai("openai-gpt5-old", "gpt-4o-realtime-preview")]},
            {"name": "gpt-realtime", "deployments": [openai("openai-rt", "gpt-realtime-2025-08-28")]},
            {"name": "gpt-realtime-old", "successor": "gpt-realtime",
             "deployments": [openai("openai-rt-old", "gpt-4o-realtime-preview")]}
        ]
    })
}

async fn start() -> Env {
    let mock = MockOptions {
        retired_models: RETIRED.iter().map(|m| (*m).to_owned()).collect(),
        ..MockOptions::default()
    };
    Env::start(mock, |mock| {
        let sa = mock.service_account_json();
        GatewayOptions::new(
            config(mock),
            &[
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("VERTEX_SA", &sa),
            ],
        )
    })
    .await
}

/// What the mock received whose path contains `part`.
fn sent(env: &Env, part: &str) -> Vec<RecordedRequest> {
    env.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(part))
        .collect()
}

/// A `410 model_retired` in the OpenAI dialect whose message names `model`
/// and `successor` (or says there is none).
fn expect_retired(answer: &Answer, model: &str, successor: Option<&str>) {
    let body = answer.expect_error(410, "model_retired");
    assert_eq!(body["error"]["param"], "model", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("{model:?}")), "{message}");
    match successor {
        Some(next) => assert!(message.contains(&format!("use {next:?}")), "{message}"),
        None => assert!(message.contains("no successor"), "{message}"),
    }
    for upstream in RETIRED {
        assert!(
            !message.contains(upstream),
            "the upstream model id stays private: {message}"
        );
    }
}

/// A group whose only deployment is retired: `410 model_retired` naming the
/// model and its successor, in the caller's dialect; later requests get the
/// same answer without another upstream call.
#[tokio::test]
async fn a_retired_only_group_answers_410_naming_the_model_and_its_successor() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let create = |model: &str| {
        env.http
            .post(env.url("/v1/videos"))
            .bearer_auth(&key)
            .json(&json!({"model": model, "prompt": "a lighthouse at dusk"}))
    };

    // OpenAI dialect, Gemini's "no longer available".
    let first = env.send(create("veo-3.0")).await;
    expect_retired(&first, "veo-3.0", Some("veo-3.1"));
    let gemini_path = "/models/veo-3.0-generate-preview:predictLongRunning";
    assert_eq!(sent(&env, gemini_path).len(), 1);
    let again = env.send(create("veo-3.0")).await;
    expect_retired(&again, "veo-3.0", Some("veo-3.1"));
    assert_eq!(
        sent(&env, gemini_path).len(),
        1,
        "the retired deployment is not called again"
    );

    // Google dialect on the Gemini-shaped door (the deployment is already
    // known to be retired).
    let google = env
        .send(
            env.http
                .post(env.url("/gemini/v1beta/models/veo-3.0:predictLongRunning"))
                .header("x-goog-api-key", &key)
                .json(&json!({"instances": [{"prompt": "a lighthouse"}]})),
        )
        .await;
    assert_google_retired(&google, "veo-3.0", "veo-3.1");
    assert_eq!(sent(&env, gemini_path).len(), 1);

    // Google dialect on the Vertex-shaped door, from Vertex's own 404.
    let vertex = env
        .send(
            env.http
                .post(env.url(
                    "/vertex_ai/v1/projects/client-project/locations/us-central1/publishers/google/models/veo-3.0-vertex:predictLongRunning",
                ))
                .bearer_auth(&key)
                .json(&json!({"instances": [{"prompt": "a lighthouse"}]})),
        )
        .await;
    assert_google_retired(&vertex, "veo-3.0-vertex", "veo-3.1-vertex");
    assert_eq!(
        sent(&env, "/models/veo-3.0-generate-001:predictLongRunning").len(),
        1
    );

    // OpenAI's answer for a shut-down Sora, no successor configured.
    let sora = env.send(create("sora-solo")).await;
    expect_retired(&sora, "sora-solo", None);

    // The realtime door (a mint), from OpenAI's answer.
    let mint = env
        .mint_realtime(
            &key,
            json!({"session": {"type": "realtime", "model": "gpt-realtime-old"}}),
        )
        .await;
    expect_retired(&mint, "gpt-realtime-old", Some("gpt-realtime"));
    env.assert_no_leaks().await;
    env.stop().await;
}

fn assert_google_retired(answer: &Answer, model: &str, successor: &str) {
    assert_eq!(answer.status, 410, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["code"], 410, "{body}");
    assert_eq!(body["error"]["status"], "NOT_FOUND", "{body}");
    assert_eq!(
        body["error"]["details"][0]["reason"], "MODEL_RETIRED",
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("{model:?}")), "{message}");
    assert!(message.contains(&format!("use {successor:?}")), "{message}");
}

/// A retired group with a fallback: the fallback serves, and the next
/// request starts there without trying the retired deployment again —
/// videos (Sora's shutdown → Veo) and Responses.
#[tokio::test]
async fn a_retired_group_is_served_by_its_fallback_and_not_tried_again() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let create = || {
        env.http
            .post(env.url("/v1/videos"))
            .bearer_auth(&key)
            .json(&json!({"model": "sora-2", "prompt": "a paper boat", "seconds": "8", "size": "1280x720"}))
    };
    let veo_path = "/models/veo-3.1-generate-preview:predictLongRunning";
    let sora_creates = |env: &Env| {
        env.mock
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/videos")
            .count()
    };

    let first = env.send(create()).await;
    let video = first.ok();
    assert_eq!(first.header("x-reelay-attempts").as_deref(), Some("2"));
    assert_eq!((sora_creates(&env), sent(&env, veo_path).len()), (1, 1));
    let id = video["id"].as_str().unwrap();
    let polled = env
        .send(
            env.http
                .get(env.url(&format!("/v1/videos/{id}")))
                .bearer_auth(&key),
        )
        .await
        .ok();
    assert_eq!(polled["id"], id);

    let second = env.send(create()).await;
    second.ok();
    assert_eq!(second.header("x-reelay-attempts").as_deref(), Some("1"));
    assert_eq!(
        (sora_creates(&env), sent(&env, veo_path).len()),
        (1, 2),
        "the second create went straight to the fallback"
    );

    // Responses: the retired deployment's model, then the fallback's.
    let models_sent = |env: &Env| -> Vec<String> {
        sent(env, "/v1/responses")
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.body_json().unwrap()["model"].as_str().unwrap().to_owned())
            .collect()
    };
    let respond = || {
        env.http
            .post(env.url("/v1/responses"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-5-old", "input": "hello"}))
    };
    env.send(respond()).await.ok();
    assert_eq!(
        models_sent(&env),
        ["gpt-4o-realtime-preview", "gpt-5-2025-08-07"]
    );
    env.send(respond()).await.ok();
    assert_eq!(
        models_sent(&env),
        [
            "gpt-4o-realtime-preview",
            "gpt-5-2025-08-07",
            "gpt-5-2025-08-07"
        ]
    );
    env.assert_no_leaks().await;
    env.stop().await;
}
