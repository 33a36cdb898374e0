//! GPT-Live WebSockets end to end: the built Worker in workerd relaying to
//! the mock's GPT-Live peers (`tests/src/mock/gpt_live_ws.rs`). The primary
//! socket `/v1/live/sessions` with a virtual key and with a browser token
//! (subprotocol); the model and the delegation model authorized from the
//! first frame; a socket without `session.start` closed after 10 s; the
//! upstream session id sealed in `session.started`, and the sideband
//! `attach` with it for its owner only; the WebSocket `fork` counted as a
//! session; client frames limited to the GPT-Live events; the Azure
//! `api-key`; minutes settled from the upstream's usage; key deletion
//! ending every socket — and no provider key in anything a client saw.

use std::time::Duration;

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Env, AZURE_KEY, MASTER_KEY, OPENAI_KEY};
use crate::sockets::{
    error_events_then_1008, next, open_recorded, send_json, send_text, Got, Socket,
};

/// The deployment's model behind the `gpt-live` group.
const UPSTREAM_MODEL: &str = "gpt-live-1.1-2026-11-20";

/// How long a test waits for a close whose cause has happened (the
/// gateway's own bound for a deletion is one second).
const CLOSE_WITHIN: Duration = Duration::from_secs(3);

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "gpt-live", "deployments": [
                {"id": "openai-live", "provider": "openai", "model": UPSTREAM_MODEL,
                 "credential": "OPENAI_API_KEY", "api_base": base,
                 "prices": {"realtime_per_session": 0.10, "realtime_per_minute": 0.25}}]},
            {"name": "azure-live", "deployments": [
                {"id": "azure-live", "provider": "azure", "model": "my-gpt-live",
                 "credential": "AZURE_OPENAI_KEY", "api_base": base}]},
            {"name": "live-ha", "deployments": [
                {"id": "ha-azure", "provider": "azure", "model": "my-gpt-live", "weight": 1000,
                 "credential": "AZURE_OPENAI_KEY", "api_base": base},
                {"id": "ha-openai", "provider": "openai", "model": UPSTREAM_MODEL, "weight": 1,
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(
            config(mock),
            &[
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("AZURE_OPENAI_KEY", AZURE_KEY),
            ],
        )
    })
    .await
}

/// Opens a socket with `key` as Bearer.
async fn open_with(env: &Env, path: &str, key: &str) -> Socket {
    let bearer = format!("Bearer {key}");
    open_recorded(env, path, &[("authorization", bearer.as_str())])
        .await
        .0
}

/// The next event, which must be of `kind`.
async fn expect_event(env: &Env, ws: &mut Socket, kind: &str) -> Value {
    match next(env, ws, Duration::from_secs(15)).await {
        Got::Data(v) => {
            assert_eq!(v["type"], kind, "{v}");
            v
        }
        Got::Closed(code, reason) => panic!("closed {code}: {reason} (expected {kind})"),
    }
}

/// An `error` event with `code` (the socket stays open).
async fn expect_error(env: &Env, ws: &mut Socket, code: &str) -> Value {
    let event = expect_event(env, ws, "error").await;
    assert_eq!(event["error"]["code"], code, "{event}");
    event
}

/// An `error` event with `code`, then a 1008 close whose reason starts with it.
async fn expect_refused(env: &Env, ws: &mut Socket, code: &str, within: Duration) {
    let (errors, _) = error_events_then_1008(env, ws, code, within).await;
    assert!(!errors.is_empty(), "an error event comes before the close");
}

/// Sends `session.start` for `session` and returns `session.started`.
async fn start_session(env: &Env, ws: &mut Socket, session: Value) -> Value {
    send_json(ws, json!({"type": "session.start", "session": session})).await;
    expect_event(env, ws, "session.started").await
}

/// The mock's GPT-Live state.
async fn state(env: &Env) -> Value {
    env.http
        .get(format!("{}/_mock/gpt_live", env.mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `/key/info` of `key`.
async fn key_info(env: &Env, key: &str) -> Value {
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
    info["info"].clone()
}

async fn sessions_today(env: &Env, key: &str) -> Value {
    key_info(env, key).await["usage"]["today"]["realtime_sessions"].clone()
}

/// A browser token of `key` for the visitor `subject`.
async fn visitor(env: &Env, key: &str, subject: &str) -> String {
    let answer = env
        .send(
            env.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(key)
                .json(&json!({"subject": subject})),
        )
        .await
        .ok();
    answer["token"].as_str().unwrap().to_owned()
}

fn sealed(id: &Value, upstream: &[String]) -> String {
    let id = id.as_str().expect("a session id").to_owned();
    assert!(id.starts_with("live_"), "{id}");
    assert!(
        !upstream.contains(&id),
        "the upstream's own id reached the client: {id}"
    );
    id
}

async fn upstream_ids(env: &Env) -> Vec<String> {
    state(env).await["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_key_starts_a_session_and_pays_its_minutes() {
    let env = start().await;
    let key = env
        .new_key(
            json!({"models": ["gpt-live", "gpt-5.6"], "max_budget": 5, "budget_duration": "1d"}),
        )
        .await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    let started = start_session(
        &env,
        &mut ws,
        json!({"model": "gpt-live", "instructions": "Be brief",
               "audio": {"format": {"type": "audio/pcm", "rate": 24000}},
               "delegation": {"type": "responses", "responses": {"model": "gpt-5.6"}},
               "store": true}),
    )
    .await;
    let ids = upstream_ids(&env).await;
    assert_eq!(ids.len(), 1);
    sealed(&started["session"]["id"], &ids);
    assert_eq!(
        started["session"]["model"], "gpt-live",
        "the group, not the deployment's model"
    );
    // What went up is the checked event, with the deployment's model.
    let first = &state(&env).await["sockets"][0]["first"];
    assert_eq!(first["session"]["model"], UPSTREAM_MODEL);
    assert_eq!(
        first["session"]["delegation"]["responses"]["model"],
        "gpt-5.6"
    );
    assert_eq!(first["session"]["store"], true);

    // Audio in, transcripts, audio and usage out: 2 × 30 s.
    for _ in 0..2 {
        send_json(
            &mut ws,
            json!({"type": "session.input_audio.append", "audio": "AAAA"}),
        )
        .await;
        expect_event(&env, &mut ws, "session.input_transcript.delta").await;
        expect_event(&env, &mut ws, "session.output_audio.delta").await;
        expect_event(&env, &mut ws, "session.output_transcript.delta").await;
        expect_event(&env, &mut ws, "session.usage.updated").await;
    }
    send_json(&mut ws, json!({"type": "session.close"})).await;
    let closed = expect_event(&env, &mut ws, "session.closed").await;
    sealed(&closed["session"]["id"], &ids);
    assert_eq!(closed["usage"]["seconds"], 60);
    match next(&env, &mut ws, Duration::from_secs(5)).await {
        Got::Closed(code, _) => assert_eq!(code, 1000),
        Got::Data(v) => panic!("unexpected {v}"),
    }

    // One session; its price and one started minute ($0.10 + $0.25).
    assert_eq!(sessions_today(&env, &key).await, json!(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = key_info(&env, &key).await;
        let remaining = info["usage"]["limits"]["budget"]["remaining"].clone();
        if remaining == json!("4.65") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the minutes were not settled: {info}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The attach path is a socket only; the primary path without an
    // upgrade is not this route's.
    let resp = env.get(&key, "/v1/live/sessions/live_x/attach").await;
    assert_eq!(resp.status(), 426);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn browser_tokens_and_sidebands_by_owner() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let other_key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let alice = visitor(&env, &key, "alice").await;
    let bob = visitor(&env, &key, "bob").await;

    // A browser: the token as a subprotocol, `realtime` answered.
    let protocols = format!("realtime, openai-insecure-api-key.{alice}");
    let (mut ws, protocol) = open_recorded(
        &env,
        "/v1/live/sessions",
        &[("sec-websocket-protocol", protocols.as_str())],
    )
    .await;
    assert_eq!(protocol.as_deref(), Some("realtime"));
    let started = start_session(&env, &mut ws, json!({"model": "gpt-live"})).await;
    let id = sealed(&started["session"]["id"], &upstream_ids(&env).await);

    // Alice's sideband, and her key's, attach (and graceful_close goes up).
    for credential in [&alice, &key] {
        let path = format!("/v1/live/sessions/{id}/attach?graceful_close=true");
        let mut side = open_with(&env, &path, credential).await;
        let updated = expect_event(&env, &mut side, "session.updated").await;
        sealed(&updated["session"]["id"], &upstream_ids(&env).await);
        // A sideband sends DTMF, never `session.start`.
        send_json(
            &mut side,
            json!({"type": "transport.dtmf.send", "event": "1"}),
        )
        .await;
        expect_event(&env, &mut side, "mock.echo").await;
        send_json(&mut side, json!({"type": "session.start", "session": {}})).await;
        expect_error(&env, &mut side, "invalid_request").await;
        send_text(
            &mut side,
            r#"{"type":"session.input_audio.append","audio":"AA"}"#,
        )
        .await;
        expect_error(&env, &mut side, "invalid_request").await;
        side.close(None).await.unwrap();
    }
    let sockets = state(&env).await["sockets"].clone();
    let attaches: Vec<&Value> = sockets
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "attach")
        .collect();
    assert_eq!(attaches.len(), 2);
    assert!(attaches.iter().all(|s| s["graceful_close"] == true));
    assert!(attaches
        .iter()
        .all(|s| s["events"] == json!(["transport.dtmf.send"])));

    // Bob (another visitor of the key), another key, and a forged id: one answer.
    let forged = format!("{}x", &id[..id.len() - 1]);
    for (credential, id) in [(&bob, &id), (&other_key, &id), (&key, &forged)] {
        let path = format!("/v1/live/sessions/{id}/attach");
        let mut side = open_with(&env, &path, credential).await;
        expect_refused(&env, &mut side, "live_session_not_found", CLOSE_WITHIN).await;
        let path = format!("/v1/live/sessions/{id}/fork");
        let mut fork = open_with(&env, &path, credential).await;
        expect_refused(&env, &mut fork, "live_session_not_found", CLOSE_WITHIN).await;
    }
    assert_eq!(
        state(&env).await["sockets"].as_array().unwrap().len(),
        3,
        "no refused socket reached the upstream"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn models_and_delegation_models_are_authorized() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    // Another model, a delegation model the key may not use, a fork's
    // model field on a primary socket: refused before anything upstream.
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    send_json(
        &mut ws,
        json!({"type": "session.start", "session": {"model": "azure-live"}}),
    )
    .await;
    expect_refused(&env, &mut ws, "key_model_access_denied", CLOSE_WITHIN).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    send_json(
        &mut ws,
        json!({"type": "session.start", "session": {"model": "gpt-live",
            "delegation": {"type": "decisions", "decisions": {"model": "o9", "questions": []}}}}),
    )
    .await;
    expect_refused(&env, &mut ws, "key_model_access_denied", CLOSE_WITHIN).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    send_json(
        &mut ws,
        json!({"type": "session.start", "session": {"model": "gpt-live", "wake_policy": {"type": "speech"}}}),
    )
    .await;
    expect_refused(&env, &mut ws, "invalid_request", CLOSE_WITHIN).await;
    assert_eq!(state(&env).await["sockets"], json!([]));
    assert_eq!(sessions_today(&env, &key).await, json!(0));

    // In a session: `session.update` changes delegation and triggers only,
    // and its delegation model is authorized too.
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    start_session(&env, &mut ws, json!({"model": "gpt-live"})).await;
    send_json(
        &mut ws,
        json!({"type": "session.update", "session": {"delegation": {"type": "responses",
            "responses": {"model": "gpt-5.6"}}}}),
    )
    .await;
    expect_error(&env, &mut ws, "key_model_access_denied").await;
    send_text(
        &mut ws,
        r#"{"type":"session.update","session":{"model":"gpt-5"}}"#,
    )
    .await;
    expect_error(&env, &mut ws, "invalid_request").await;
    send_json(
        &mut ws,
        json!({"type": "session.update", "session": {"triggers": []}}),
    )
    .await;
    let updated = expect_event(&env, &mut ws, "session.updated").await;
    sealed(&updated["session"]["id"], &upstream_ids(&env).await);
    let events = state(&env).await["sockets"][0]["events"].clone();
    assert_eq!(
        events,
        json!(["session.update"]),
        "only the allowed update went up"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn client_frames_are_gpt_live_events_only() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    start_session(&env, &mut ws, json!({"model": "gpt-live"})).await;
    for (frame, code) in [
        ("not json", "invalid_request"),
        ("{\"type\":", "invalid_json"),
        (r#"{"type":"response.cancel"}"#, "invalid_request"),
        (
            r#"{"type":"input_audio_buffer.append","audio":"AA"}"#,
            "invalid_request",
        ),
        (
            r#"{"type":"session\u002estart","session":{"model":"gpt-live"}}"#,
            "invalid_request",
        ),
        (
            r#"{"type":"session.close","type":"session.start"}"#,
            "invalid_request",
        ),
        (
            r#"{"type":"transport.dtmf.send","event":"1"}"#,
            "invalid_request",
        ),
    ] {
        send_text(&mut ws, frame).await;
        expect_error(&env, &mut ws, code).await;
    }
    // An allowed event, escaped or not, goes up.
    send_text(&mut ws, r#"{"type":"response\u002ecreate"}"#).await;
    expect_event(&env, &mut ws, "mock.echo").await;
    let events = state(&env).await["sockets"][0]["events"].clone();
    assert_eq!(
        events,
        json!(["response.create"]),
        "no refused frame went up"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_socket_without_session_start_is_closed() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    expect_refused(&env, &mut ws, "invalid_request", Duration::from_secs(14)).await;
    assert_eq!(state(&env).await["sockets"], json!([]));
    assert_eq!(sessions_today(&env, &key).await, json!(0));
    env.stop().await;
}

#[tokio::test]
async fn a_fork_is_a_new_counted_session() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    let started = start_session(&env, &mut ws, json!({"model": "gpt-live", "store": true})).await;
    let id = sealed(&started["session"]["id"], &upstream_ids(&env).await);
    assert_eq!(sessions_today(&env, &key).await, json!(1));

    let path = format!("/v1/live/sessions/{id}/fork");
    // A fork keeps the stored session's model.
    let mut fork = open_with(&env, &path, &key).await;
    send_json(
        &mut fork,
        json!({"type": "session.start", "session": {"model": "gpt-live"}}),
    )
    .await;
    expect_refused(&env, &mut fork, "invalid_request", CLOSE_WITHIN).await;
    let mut fork = open_with(&env, &path, &key).await;
    let forked = start_session(&env, &mut fork, json!({})).await;
    let ids = upstream_ids(&env).await;
    assert_eq!(ids.len(), 2);
    let fork_id = sealed(&forked["session"]["id"], &ids);
    assert_ne!(fork_id, id);
    assert_eq!(forked["session"]["model"], "gpt-live");
    assert_eq!(sessions_today(&env, &key).await, json!(2));
    let sockets = state(&env).await["sockets"].clone();
    let upstream_fork = sockets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "fork")
        .unwrap();
    assert_eq!(
        upstream_fork["first"],
        json!({"type": "session.start", "session": {}})
    );
    assert_eq!(upstream_fork["session_id"], json!(ids[0]));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn deleting_the_key_ends_its_sockets() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live"]})).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    let started = start_session(&env, &mut ws, json!({"model": "gpt-live"})).await;
    let id = started["session"]["id"].as_str().unwrap().to_owned();
    let mut side = open_with(&env, &format!("/v1/live/sessions/{id}/attach"), &key).await;
    expect_event(&env, &mut side, "session.updated").await;
    env.admin("/key/delete", json!({"keys": [key]})).await;
    expect_refused(&env, &mut ws, "invalid_api_key", CLOSE_WITHIN).await;
    expect_refused(&env, &mut side, "invalid_api_key", CLOSE_WITHIN).await;
    env.stop().await;
}

#[tokio::test]
async fn azure_takes_its_api_key_and_errors_are_redacted() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["azure-live"]})).await;
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    let started = start_session(
        &env,
        &mut ws,
        json!({"model": "azure-live", "instructions": "[[echo-credential]]"}),
    )
    .await;
    assert_eq!(started["session"]["model"], "azure-live");
    let error = expect_event(&env, &mut ws, "error").await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("[redacted]") && !message.contains(AZURE_KEY),
        "{message}"
    );
    let sent = env.upstream("/openai/v1/live/sessions");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("api-key"), Some(AZURE_KEY));
    assert_eq!(sent[0].header("authorization"), None);
    assert_eq!(
        state(&env).await["sockets"][0]["first"]["session"]["model"],
        "my-gpt-live"
    );
    let id = started["session"]["id"].as_str().unwrap().to_owned();
    let mut side = open_with(&env, &format!("/v1/live/sessions/{id}/attach"), &key).await;
    expect_event(&env, &mut side, "session.updated").await;
    let sent = env.upstream("/attach");
    assert_eq!(
        sent[0].path,
        format!(
            "/openai/v1/live/sessions/{}/attach",
            upstream_ids(&env).await[0]
        )
    );
    assert_eq!(sent[0].header("api-key"), Some(AZURE_KEY));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_refused_upgrade_fails_over_and_the_session_is_counted_once() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["live-ha"]})).await;
    // The Azure deployment (chosen first by weight) refuses the upgrade.
    env.mock.push_fault(Fault::new(
        "/openai/v1/live/sessions",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let mut ws = open_with(&env, "/v1/live/sessions", &key).await;
    let started = start_session(&env, &mut ws, json!({"model": "live-ha"})).await;
    assert_eq!(started["session"]["model"], "live-ha");
    let id = sealed(&started["session"]["id"], &upstream_ids(&env).await);
    let sockets = state(&env).await["sockets"].clone();
    assert_eq!(sockets.as_array().unwrap().len(), 1);
    assert_eq!(sockets[0]["provider"], "openai");
    // The refused upgrade reached Azure first.
    assert_eq!(env.upstream("/openai/v1/live/sessions").len(), 1);
    assert_eq!(sessions_today(&env, &key).await, json!(1));
    // The sealed id names the deployment that served it.
    let mut side = open_with(&env, &format!("/v1/live/sessions/{id}/attach"), &key).await;
    expect_event(&env, &mut side, "session.updated").await;
    assert!(env.upstream("/attach")[0]
        .path
        .starts_with("/v1/live/sessions/"));
    env.assert_no_leaks().await;
    env.stop().await;
}
