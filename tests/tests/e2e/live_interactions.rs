//! Gemini Live Interactions through the gateway: `/{v}/interactions/live`
//! (also under `/gemini/`) with a virtual key or a gateway-minted
//! per-interaction token, against the mock's Live Interactions peer.
//!
//! Interaction ids come from `interaction.create` over the socket itself
//! (the gateway seals the upstream's `interaction.created` id), so these
//! tests need no REST door.

use std::time::Duration;

use futures_util::SinkExt;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Env, GEMINI_KEY, MASTER_KEY};
use crate::sockets::{json, next, open, send_json, Got, Socket};

const SOCKET: &str = "/gemini/v1/interactions/live";
const WITHIN: Duration = Duration::from_secs(15);

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "gemini-live", "deployments": [
                {"id": "gemini-live-1", "provider": "gemini", "model": "gemini-3.8-live",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
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

/// A socket opened with `credential` as `x-goog-api-key` (as google-genai does).
async fn open_with(env: &Env, credential: &str) -> Socket {
    open(
        env,
        SOCKET,
        &[
            ("x-goog-api-key", credential),
            ("api-revision", "2026-05-20"),
        ],
    )
    .await
}

/// Expects the gateway's refusal: an `error` event with `code`, then a
/// close with `close` and a reason starting with `code`.
async fn refused(env: &Env, ws: &mut Socket, code: &str, close: u16) {
    let error = json(env, ws).await;
    assert_eq!(error["event_type"], "error", "{error}");
    assert_eq!(error["error"]["code"], code, "{error}");
    match next(env, ws, WITHIN).await {
        Got::Closed(got, reason) => {
            assert_eq!(got, close, "{reason}");
            assert!(reason.starts_with(code), "{code}: {reason}");
        }
        Got::Data(e) => panic!("an event after the refusal: {e}"),
    }
}

/// Creates an interaction over the socket with `key`; its sealed id and the
/// open socket.
async fn create(env: &Env, key: &str) -> (String, Socket) {
    let mut ws = open_with(env, key).await;
    send_json(
        &mut ws,
        json!({"event_type": "interaction.create", "model": "gemini-live"}),
    )
    .await;
    let created = json(env, &mut ws).await;
    assert_eq!(created["event_type"], "interaction.created", "{created}");
    let id = created["interaction_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("int_"), "{id}");
    (id, ws)
}

/// Creates an interaction and detaches from it.
async fn created(env: &Env, key: &str) -> String {
    let (id, mut ws) = create(env, key).await;
    send_json(&mut ws, json!({"event_type": "interaction.disconnect"})).await;
    assert!(matches!(
        next(env, &mut ws, WITHIN).await,
        Got::Closed(1000, _)
    ));
    id
}

fn connect(id: &str) -> Value {
    json!({"event_type": "interaction.connect", "id": id})
}

async fn connected(env: &Env, credential: &str, id: &str) -> Socket {
    let mut ws = open_with(env, credential).await;
    send_json(&mut ws, connect(id)).await;
    let got = json(env, &mut ws).await;
    assert_eq!(
        got,
        json!({"event_type": "interaction.connected", "id": id})
    );
    ws
}

/// Sends a text input and returns the echoed text.
async fn say(env: &Env, ws: &mut Socket, text: &str) -> String {
    send_json(
        ws,
        json!({"event_type": "input", "content": [{"type": "text", "text": text}]}),
    )
    .await;
    let batch = json(env, ws).await;
    let events = batch["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{batch}"));
    assert_eq!(events[0]["event_type"], "step.start");
    events[1]["delta"]["text"].as_str().unwrap().to_owned()
}

trait GoogleError {
    fn google_error(&self, status: u16, reason: &str);
}

impl GoogleError for crate::harness::Answer {
    /// Asserts a Google-shaped error with `reason`.
    fn google_error(&self, status: u16, reason: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["error"]["code"], status, "{body}");
        let expected = reason.to_ascii_uppercase();
        assert_eq!(
            body["error"]["details"][0]["reason"],
            expected.as_str(),
            "{body}"
        );
    }
}

async fn mock_state(env: &Env) -> Value {
    env.http
        .get(format!("{}/_mock/live_interactions", env.mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn sessions_today(env: &Env, key: &str) -> Value {
    let info: Value = env
        .http
        .get(env.url("/key/info"))
        .query(&[("key", key)])
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    info.pointer("/info/usage/today/realtime_sessions")
        .cloned()
        .unwrap_or_else(|| panic!("{info}"))
}

/// `POST …/interactions/{id}/auth_tokens` with `key`.
async fn mint(env: &Env, key: &str, id: &str, body: Value) -> crate::harness::Answer {
    env.send(
        env.req(
            Method::POST,
            &format!("/gemini/v1/interactions/{id}/auth_tokens"),
        )
        .header("x-goog-api-key", key)
        .json(&body),
    )
    .await
}

async fn token(env: &Env, key: &str, id: &str) -> String {
    let answer = mint(env, key, id, json!({})).await.ok();
    let token = answer["auth_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("auth_tokens/lt_rl_"), "{token}");
    assert!(answer["expires_at"].is_string(), "{answer}");
    token
}

#[tokio::test]
async fn create_then_connect_with_a_key() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let (id, mut ws) = create(&env, &key).await;
    assert_eq!(say(&env, &mut ws, "hello").await, "echo: hello");
    send_json(&mut ws, json!({"event_type": "interaction.disconnect"})).await;
    assert!(matches!(
        next(&env, &mut ws, WITHIN).await,
        Got::Closed(1000, _)
    ));

    // The upstream got the deployment's model, the key, the revision.
    let state = mock_state(&env).await;
    let first = &state["sockets"][0];
    assert_eq!(
        first["first"],
        json!({"event_type": "interaction.create", "model": "gemini-3.8-live"})
    );
    assert_eq!(first["auth"], "x-goog-api-key");
    assert_eq!(first["api_revision"], "2026-05-20");
    let upstream_id = state["interactions"][0]["id"].as_str().unwrap().to_owned();
    assert!(!id.contains(&upstream_id));

    // Connect again, on the root path and another version, batched with input.
    let mut ws = open(
        &env,
        "/v1beta/interactions/live",
        &[("x-goog-api-key", &key)],
    )
    .await;
    send_json(
        &mut ws,
        json!({"events": [connect(&id), {"event_type": "input", "content": [{"type": "text", "text": "again"}]}]}),
    )
    .await;
    assert_eq!(
        json(&env, &mut ws).await,
        json!({"event_type": "interaction.connected", "id": id})
    );
    let batch = json(&env, &mut ws).await;
    assert_eq!(batch["events"][1]["delta"]["text"], "echo: again");
    send_json(&mut ws, json!({"event_type": "interaction.complete"})).await;
    let done = json(&env, &mut ws).await;
    assert_eq!(done["event_type"], "interaction.completed");
    assert!(matches!(
        next(&env, &mut ws, WITHIN).await,
        Got::Closed(1000, _)
    ));
    let state = mock_state(&env).await;
    assert_eq!(state["sockets"][1]["first"]["events"][0]["id"], upstream_id);
    // Each session counted once.
    assert_eq!(sessions_today(&env, &key).await, 2);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn other_keys_and_visitors_cannot_open_an_interaction() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let id = created(&env, &key).await;
    let other = env.new_key(json!({"models": ["gemini-live"]})).await;
    let mut ws = open_with(&env, &other).await;
    send_json(&mut ws, connect(&id)).await;
    refused(&env, &mut ws, "interaction_not_found", 1008).await;
    // A visitor of the same key cannot open the key's own interaction.
    let visitor = env
        .send(
            env.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(&key)
                .json(&json!({"subject": "alice"})),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = open_with(&env, &visitor).await;
    send_json(&mut ws, connect(&id)).await;
    refused(&env, &mut ws, "interaction_not_found", 1008).await;
    // Nor is a raw upstream id or a forgery anything.
    for bad in [
        "v1_live_1",
        "int_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let mut ws = open_with(&env, &key).await;
        send_json(&mut ws, connect(bad)).await;
        refused(&env, &mut ws, "interaction_not_found", 1008).await;
    }
    // Minting for someone else's interaction is not found either.
    mint(&env, &other, &id, json!({}))
        .await
        .google_error(404, "interaction_not_found");
    // Only the creating socket reached the upstream.
    assert_eq!(
        mock_state(&env).await["sockets"].as_array().unwrap().len(),
        1
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_token_opens_only_its_own_interaction() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let a = created(&env, &key).await;
    let b = created(&env, &key).await;
    let token = token(&env, &key, &a).await;
    let mut ws = connected(&env, &token, &a).await;
    assert_eq!(say(&env, &mut ws, "from a page").await, "echo: from a page");
    send_json(&mut ws, json!({"event_type": "interaction.disconnect"})).await;
    assert!(matches!(
        next(&env, &mut ws, WITHIN).await,
        Got::Closed(1000, _)
    ));
    // Again (a token has no use limit), also as `?key=`.
    let mut ws = open(&env, &format!("{SOCKET}?key={token}"), &[]).await;
    send_json(&mut ws, connect(&a)).await;
    assert_eq!(
        json(&env, &mut ws).await["event_type"],
        "interaction.connected"
    );
    drop(ws);
    // Not interaction B, not a new one, not a BidiGenerateContent setup.
    let mut ws = open_with(&env, &token).await;
    send_json(&mut ws, connect(&b)).await;
    refused(&env, &mut ws, "invalid_live_token", 1008).await;
    let mut ws = open_with(&env, &token).await;
    send_json(
        &mut ws,
        json!({"event_type": "interaction.create", "model": "gemini-live"}),
    )
    .await;
    refused(&env, &mut ws, "invalid_live_token", 1008).await;
    let mut ws = open(
        &env,
        "/gemini//ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContentConstrained",
        &[("x-goog-api-key", &token)],
    )
    .await;
    match next(&env, &mut ws, WITHIN).await {
        Got::Closed(code, reason) => {
            assert_eq!(code, 1008, "{reason}");
            assert!(reason.starts_with("invalid_live_token"), "{reason}");
        }
        Got::Data(e) => panic!("{e}"),
    }
    // Bodies are checked.
    mint(&env, &key, &a, json!({"uses": 2}))
        .await
        .google_error(400, "invalid_request");
    mint(
        &env,
        &key,
        &a,
        json!({"expire_time": "2001-01-01T00:00:00Z"}),
    )
    .await
    .google_error(400, "invalid_request");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let id = created(&env, &key).await;
    let soon = reelay_core::time::rfc3339((crate::harness::unix_now() + 2) * 1000);
    let short = mint(&env, &key, &id, json!({"expire_time": soon}))
        .await
        .ok()["auth_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = token(&env, &key, &id).await;
    drop(connected(&env, &token, &id).await);
    // Revoked by the key (the SDK sends the token without `auth_tokens/`).
    let bare = token.trim_start_matches("auth_tokens/");
    let path = format!("/gemini/v1/interactions/{id}/auth_tokens/{bare}");
    let other = env.new_key(json!({"models": ["gemini-live"]})).await;
    env.send(
        env.req(Method::DELETE, &path)
            .header("x-goog-api-key", &other),
    )
    .await
    .google_error(404, "interaction_not_found");
    let revoked = env
        .send(
            env.req(Method::DELETE, &path)
                .header("x-goog-api-key", &key),
        )
        .await;
    assert_eq!(revoked.ok(), json!({}));
    let mut ws = open_with(&env, &token).await;
    send_json(&mut ws, connect(&id)).await;
    refused(&env, &mut ws, "invalid_live_token", 1008).await;
    // Expired: refused before the upgrade completes its first frame.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut ws = open_with(&env, &short).await;
    match next(&env, &mut ws, WITHIN).await {
        Got::Closed(code, reason) => {
            assert_eq!(code, 1008, "{reason}");
            assert!(reason.starts_with("live_token_expired"), "{reason}");
        }
        Got::Data(e) => panic!("{e}"),
    }
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn models_and_frames_are_guarded() {
    let env = start().await;
    // A key without the model cannot create.
    let video_only = env.new_key(json!({"models": ["veo-*"]})).await;
    let mut ws = open_with(&env, &video_only).await;
    send_json(
        &mut ws,
        json!({"event_type": "interaction.create", "model": "gemini-live"}),
    )
    .await;
    refused(&env, &mut ws, "key_model_access_denied", 1008).await;
    // A first frame that opens nothing.
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let mut ws = open_with(&env, &key).await;
    send_json(
        &mut ws,
        json!({"event_type": "input", "content": [{"type": "text", "text": "hi"}]}),
    )
    .await;
    refused(&env, &mut ws, "invalid_request", 1008).await;
    let mut ws = open_with(&env, &key).await;
    ws.send(Message::Text("not json".into())).await.unwrap();
    refused(&env, &mut ws, "invalid_json", 1007).await;
    assert_eq!(
        mock_state(&env).await["sockets"].as_array().unwrap().len(),
        0
    );

    // Later frames: refused ones get an error event and go nowhere.
    let (id, mut ws) = create(&env, &key).await;
    let other = created(&env, &key).await;
    for bad in [
        "not json".to_owned(),
        connect(&other).to_string(),
        json!({"events": [{"event_type": "input"}, {"event_type": "interaction.create", "model": "x"}]}).to_string(),
        json!({"event_type": "session.update"}).to_string(),
        json!({"events": []}).to_string(),
    ] {
        ws.send(Message::Text(bad.clone().into())).await.unwrap();
        let error = json(&env, &mut ws).await;
        assert_eq!(error["event_type"], "error", "{bad}: {error}");
    }
    assert_eq!(say(&env, &mut ws, "still here").await, "echo: still here");
    // An upstream error naming the credential reaches the client without it.
    send_json(
        &mut ws,
        json!({"event_type": "input", "content": [{"type": "text", "text": "[[error-echo-key]]"}]}),
    )
    .await;
    let error = json(&env, &mut ws).await;
    assert_eq!(error["event_type"], "error");
    assert!(!error.to_string().contains(GEMINI_KEY), "{error}");
    let received = &mock_state(&env).await["sockets"][0]["received"];
    assert_eq!(received, &json!(["input", "input"]), "{id}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_socket_without_a_first_frame_is_closed() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let mut ws = open_with(&env, &key).await;
    match next(&env, &mut ws, Duration::from_secs(30)).await {
        Got::Data(error) => {
            assert_eq!(error["error"]["code"], "invalid_request", "{error}");
            match next(&env, &mut ws, WITHIN).await {
                Got::Closed(code, reason) => {
                    assert_eq!(code, 1008);
                    assert!(reason.contains("within 10 s"), "{reason}");
                }
                Got::Data(e) => panic!("{e}"),
            }
        }
        Got::Closed(code, reason) => panic!("closed {code} {reason} without an error event"),
    }
    env.stop().await;
}

#[tokio::test]
async fn deleting_the_key_ends_the_session() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let id = created(&env, &key).await;
    let token = token(&env, &key, &id).await;
    let mut by_key = connected(&env, &key, &id).await;
    let mut by_token = connected(&env, &token, &id).await;
    env.admin("/key/delete", json!({"keys": [key]})).await;
    for (ws, code) in [
        (&mut by_key, "invalid_api_key"),
        (&mut by_token, "invalid_live_token"),
    ] {
        loop {
            match next(&env, ws, WITHIN).await {
                Got::Data(_) => continue,
                Got::Closed(close, reason) => {
                    assert_eq!(close, 1008, "{reason}");
                    assert!(reason.starts_with(code), "{code}: {reason}");
                    break;
                }
            }
        }
    }
    env.assert_no_leaks().await;
    env.stop().await;
}
