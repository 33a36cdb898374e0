//! google-genai 3.x calls the Gemini API on `/v1` (not `v1beta`): every
//! Gemini-shaped door answers there as on `v1beta` and `v1alpha` — Veo
//! create, operation poll, file download (the gateway's URI and the SDK's
//! `files/{uri}` form), `auth_tokens`, and the Live sockets, including the
//! Python SDK's `//ws/…v1…` path with its double slash and the ephemeral-token
//! method `…v1…BidiGenerateContentConstrained`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Env, GEMINI_KEY};

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base,
                 "prices": {"video_per_second": 0.5}}]},
            {"name": "gemini-live", "deployments": [
                {"id": "gemini-live-1", "provider": "gemini",
                 "model": "gemini-2.5-flash-native-audio-preview-09-2025",
                 "credential": "GEMINI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(config(mock), &[("GEMINI_API_KEY", GEMINI_KEY)])
    })
    .await
}

/// Opens `path` with `headers`, sends `{"setup": setup}` and returns the
/// first frame the gateway relays back (as JSON).
async fn live_setup(env: &Env, path: &str, headers: &[(&str, &str)], setup: Value) -> Value {
    let mut request = env.ws_url(path).into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .expect("the handshake finishes")
    .unwrap_or_else(|e| panic!("the gateway upgrades {path}: {e}"));
    ws.send(Message::Text(json!({ "setup": setup }).to_string().into()))
        .await
        .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
        .await
        .expect("a frame within 15 s")
        .expect("a frame")
        .expect("no socket error");
    let value = match frame {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        Message::Binary(b) => serde_json::from_slice(&b).unwrap(),
        other => panic!("unexpected frame {other:?}"),
    };
    let _ = ws.close(None).await;
    value
}

#[tokio::test]
async fn veo_create_poll_and_download_over_v1() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let created = env
        .send(
            env.http
                .post(env.url("/gemini/v1/models/veo-3.1:predictLongRunning"))
                .header("x-goog-api-key", &key)
                .json(&json!({"instances": [{"prompt": "a heron"}]})),
        )
        .await
        .ok();
    let name = created["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("models/veo-3.1/operations/"), "{name}");
    let mut done = Value::Null;
    for _ in 0..5 {
        let op = env
            .send(
                env.http
                    .get(env.url(&format!("/gemini/v1/{name}")))
                    .header("x-goog-api-key", &key),
            )
            .await
            .ok();
        assert_eq!(op["name"], name.as_str());
        if op["done"] == true {
            done = op;
            break;
        }
    }
    let uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap_or_else(|| panic!("no video in {done}"))
        .to_owned();
    // The file URI points back at the door the client used.
    assert!(uri.contains("/gemini/v1/files/"), "{uri}");
    let direct = env
        .http
        .get(&uri)
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    let direct = direct.bytes().await.unwrap();
    assert!(!direct.is_empty());
    // google-genai's `files.download` form over http.
    let via_sdk = env
        .http
        .get(env.url(&format!("/gemini/v1/files/{uri}:download?alt=media")))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(via_sdk.status(), 200);
    assert_eq!(via_sdk.bytes().await.unwrap(), direct);
    // Another key's request for the same file is refused on v1 too.
    let other = env.new_key(json!({"models": ["veo-*"]})).await;
    let refused = env
        .http
        .get(&uri)
        .header("x-goog-api-key", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    // The upstream is still called on its own version.
    assert!(env
        .upstream(":predictLongRunning")
        .iter()
        .all(|r| r.path.starts_with("/v1beta/")));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn live_sockets_and_auth_tokens_over_v1() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    // google-genai 3.x: `//ws/…v1…BidiGenerateContent` with the double slash.
    for path in [
        "//ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent",
        "/gemini//ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent",
    ] {
        let first = live_setup(
            &env,
            path,
            &[("x-goog-api-key", &key)],
            json!({"model": "models/gemini-live"}),
        )
        .await;
        assert_eq!(first, json!({"setupComplete": {}}), "{path}");
    }
    // `client.auth_tokens.create` posts to `/v1/auth_tokens` by default.
    let minted = env
        .send(
            env.http
                .post(env.url("/gemini/v1/auth_tokens"))
                .header("x-goog-api-key", &key)
                .json(&json!({"uses": 2, "bidiGenerateContentSetup": {"model": "models/gemini-live"}})),
        )
        .await;
    let body = minted.ok();
    let token = body["name"].as_str().unwrap().to_owned();
    assert!(token.starts_with("auth_tokens/"), "{token}");
    // The documented `v1alpha` method, and `v1` where google-genai 3.x sends it.
    for version in ["v1alpha", "v1"] {
        let first = live_setup(
            &env,
            &format!("//ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContentConstrained"),
            &[
                ("x-goog-api-key", &token),
                ("authorization", &format!("Token {token}")),
            ],
            json!({"model": "models/gemini-live"}),
        )
        .await;
        assert_eq!(first, json!({"setupComplete": {}}), "{version}");
    }
    env.assert_no_leaks().await;
    env.stop().await;
}
