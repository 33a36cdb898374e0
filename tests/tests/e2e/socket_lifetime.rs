//! Relayed WebSockets end with their key, end to end (the built Worker in
//! workerd relaying to the mock's WebSocket peers): every socket — OpenAI
//! Realtime by key, browser token, realtime token and sideband, Gemini Live
//! and Vertex Live by key and by Live token — is closed (1008, with the
//! stable code as reason) when its key is deleted and at its key's or
//! token's expiry, including an expiry moved by `/key/update`; the session
//! stays charged exactly once. A Live socket that sends no setup is closed
//! after 10 s. The `session.update` guard reads every client event as JSON,
//! however its `type` is escaped, on sideband sockets too.
//!
//! Waits are bounded (a close within a few seconds of its cause), never
//! timed for speed: the gateway's own bound is one second for a deletion.

use std::time::Duration;

use futures_util::SinkExt;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{unix_now, Env, AZURE_KEY, GEMINI_KEY, MASTER_KEY, OPENAI_KEY, SDP_OFFER};
use crate::sockets::{error_events_then_1008, json, open, send_text, Socket};

const GEMINI_LIVE: &str =
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
const GEMINI_CONSTRAINED: &str =
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained";

/// How long a test waits for a close whose cause has happened: generous
/// for a loaded machine; the gateway's design bound is one second.
const CLOSE_WITHIN: Duration = Duration::from_secs(3);

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "gemini-live", "deployments": [
                {"id": "gemini-live-1", "provider": "gemini",
                 "model": "gemini-2.5-flash-native-audio-preview-09-2025",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "vertex-live", "deployments": [
                {"id": "vertex-live-1", "provider": "vertex_ai", "model": "gemini-live-2.5-flash",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "global",
                 "api_base": base, "storage_api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        let sa = mock.service_account_json();
        GatewayOptions::new(
            config(mock),
            &[
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("AZURE_OPENAI_KEY", AZURE_KEY),
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("VERTEX_SA", sa.as_str()),
            ],
        )
    })
    .await
}

const ALL_MODELS: [&str; 3] = ["gpt-realtime", "gemini-live", "vertex-live"];

/// Waits (at most `within`) for the socket to be closed by the gateway with
/// 1008 and a reason starting with `code`; on an OpenAI socket an `error`
/// event with that code comes first.
async fn expect_closed(env: &Env, ws: &mut Socket, code: &str, openai: bool, within: Duration) {
    let (errors, reason) = error_events_then_1008(env, ws, code, within).await;
    assert!(reason.len() <= 123);
    assert_eq!(
        !errors.is_empty(),
        openai,
        "an error event on OpenAI sockets only"
    );
}

/// Sends a Live setup naming `model` and waits for `setupComplete`.
async fn set_up(env: &Env, ws: &mut Socket, model: &str) {
    send_text(ws, &json!({"setup": {"model": model}}).to_string()).await;
    assert_eq!(json(env, ws).await, json!({"setupComplete": {}}));
}

/// A realtime token of `key` on `gpt-realtime`, living `seconds`.
async fn realtime_token(env: &Env, key: &str, seconds: u64) -> String {
    let answer = env
        .mint_realtime(
            key,
            json!({"expires_after": {"anchor": "created_at", "seconds": seconds},
                   "session": {"type": "realtime", "model": "gpt-realtime"}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["value"].as_str().unwrap().to_owned()
}

/// A Gemini Live token of `key` (`auth_tokens/lt_rl_…`) for `body`.
async fn live_token(env: &Env, key: &str, body: Value) -> String {
    let resp = env
        .http
        .post(env.url("/gemini/v1alpha/auth_tokens"))
        .header("x-goog-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["name"].as_str().unwrap().to_owned()
}

/// A browser token of `key`, living `expires_in` seconds.
async fn browser_token(env: &Env, key: &str, expires_in: u64) -> String {
    let answer = env
        .send(
            env.http
                .post(env.url("/v1/browser_tokens"))
                .bearer_auth(key)
                .json(&json!({"expires_in": expires_in})),
        )
        .await;
    answer.ok()["token"].as_str().unwrap().to_owned()
}

/// A WebRTC call started with `token`: reelay's sealed call id.
async fn start_call(env: &Env, token: &str) -> String {
    let resp = env
        .http
        .post(env.url("/v1/realtime/calls"))
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body(SDP_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().to_owned()
}

/// An OpenAI socket on `path` with `bearer`, its `session.created` read.
async fn openai_socket(env: &Env, path: &str, bearer: &str) -> Socket {
    let auth = format!("Bearer {bearer}");
    let mut ws = open(env, path, &[("authorization", &auth)]).await;
    assert_eq!(json(env, &mut ws).await["type"], "session.created");
    ws
}

/// `realtime_sessions` counted today on `key`, as the master key reads it.
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

/// Waits for the mock to see every one of its upstream sockets closed by
/// the gateway (OpenAI sockets under `/_mock/realtime`, Live ones under
/// `/_mock/live`).
async fn upstreams_closed(env: &Env, openai: usize, live: usize) {
    for _ in 0..200 {
        let rt = env.realtime_state().await;
        let lv = env.live_state().await;
        let closed = |list: &Value| {
            list.as_array().map_or(0, |a| {
                a.iter()
                    .filter(|s| !s["closed_by_client"].is_null())
                    .count()
            })
        };
        if closed(&rt["sockets"]) >= openai && closed(&lv["sessions"]) >= live {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "upstream sockets left open: {} {}",
        env.realtime_state().await,
        env.live_state().await
    );
}

#[tokio::test]
async fn deleting_the_key_ends_every_session() {
    let env = start().await;
    let key = env.new_key(json!({"models": ALL_MODELS})).await;
    let other = env.new_key(json!({"models": ALL_MODELS})).await;

    // Every door, all on one key.
    let mut by_key = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &key).await;
    let bt = browser_token(&env, &key, 600).await;
    let mut by_browser_token = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &bt).await;
    let ek = realtime_token(&env, &key, 600).await;
    let mut by_realtime_token = openai_socket(&env, "/v1/realtime", &ek).await;
    // A realtime token starts one session: the call gets its own.
    let call_token = realtime_token(&env, &key, 600).await;
    let call = start_call(&env, &call_token).await;
    let mut sideband = openai_socket(&env, &format!("/v1/realtime?call_id={call}"), &key).await;
    let mut gemini = open(&env, GEMINI_LIVE, &[("x-goog-api-key", &key)]).await;
    set_up(&env, &mut gemini, "models/gemini-live").await;
    let mut vertex = open(
        &env,
        "/vertex_ai/live",
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    set_up(&env, &mut vertex, "vertex-live").await;
    let lt = live_token(&env, &key, json!({"uses": 0})).await;
    let mut by_live_token = open(
        &env,
        &format!("{GEMINI_CONSTRAINED}?access_token={lt}"),
        &[],
    )
    .await;
    set_up(&env, &mut by_live_token, "models/gemini-live").await;
    // Another key's session is not touched.
    let mut unrelated = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &other).await;

    env.admin("/key/delete", json!({"keys": [key]})).await;

    expect_closed(&env, &mut by_key, "invalid_api_key", true, CLOSE_WITHIN).await;
    expect_closed(
        &env,
        &mut by_browser_token,
        "invalid_browser_token",
        true,
        CLOSE_WITHIN,
    )
    .await;
    expect_closed(
        &env,
        &mut by_realtime_token,
        "invalid_realtime_token",
        true,
        CLOSE_WITHIN,
    )
    .await;
    expect_closed(&env, &mut sideband, "invalid_api_key", true, CLOSE_WITHIN).await;
    expect_closed(&env, &mut gemini, "invalid_api_key", false, CLOSE_WITHIN).await;
    expect_closed(&env, &mut vertex, "invalid_api_key", false, CLOSE_WITHIN).await;
    expect_closed(
        &env,
        &mut by_live_token,
        "invalid_live_token",
        false,
        CLOSE_WITHIN,
    )
    .await;
    // The upstream sockets were closed too (the unrelated one stays).
    upstreams_closed(&env, 4, 3).await;
    send_text(&mut unrelated, r#"{"type":"response.create"}"#).await;
    assert_eq!(json(&env, &mut unrelated).await["type"], "response.created");

    // One round trip to the key's object per session for the watch, none while it runs.
    let mut closed: Vec<Value> = Vec::new();
    for _ in 0..200 {
        closed = env
            .gateway
            .log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == "websocket_closed" && l["closed_by"] == "revoked")
            .collect();
        if closed.len() >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(closed.len(), 7, "{closed:?}");
    assert!(closed.iter().all(|l| l["key_watches"] == 1), "{closed:?}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn key_expiry_ends_sessions_and_they_stay_charged_once() {
    let env = start().await;
    // A key living 3 s.
    let key = env
        .new_key(json!({"models": ALL_MODELS, "duration": "3s"}))
        .await;
    let mut openai = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &key).await;
    let mut gemini = open(&env, GEMINI_LIVE, &[("x-goog-api-key", &key)]).await;
    set_up(&env, &mut gemini, "models/gemini-live").await;
    let within = Duration::from_secs(3) + CLOSE_WITHIN;
    expect_closed(&env, &mut openai, "key_expired", true, within).await;
    expect_closed(&env, &mut gemini, "key_expired", false, within).await;
    upstreams_closed(&env, 1, 1).await;
    // Each session counted once: not refunded, not charged again at its end.
    assert_eq!(sessions_today(&env, &key).await, json!(2));

    // An update that gives a long-lived key a 1-second lifetime ends its
    // session then (the key's object tells the session).
    let key = env.new_key(json!({"models": ALL_MODELS})).await;
    let mut ws = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &key).await;
    env.admin("/key/update", json!({"key": key, "duration": "1s"}))
        .await;
    expect_closed(
        &env,
        &mut ws,
        "key_expired",
        true,
        Duration::from_secs(1) + CLOSE_WITHIN,
    )
    .await;
    assert_eq!(sessions_today(&env, &key).await, json!(1));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn token_expiry_ends_sessions() {
    let env = start().await;
    let key = env.new_key(json!({"models": ALL_MODELS})).await;
    // The shortest tokens each kind allows: 10 s for realtime and browser
    // tokens, an `expireTime` 3 s ahead for a Live token.
    let ek = realtime_token(&env, &key, 10).await;
    let bt = browser_token(&env, &key, 10).await;
    let expire = reelay_core::time::rfc3339((unix_now() + 3) * 1000);
    let lt = live_token(&env, &key, json!({"uses": 0, "expireTime": expire})).await;
    let mut by_ek = openai_socket(&env, "/v1/realtime", &ek).await;
    let mut by_bt = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &bt).await;
    let mut by_lt = open(
        &env,
        &format!("{GEMINI_CONSTRAINED}?access_token={lt}"),
        &[],
    )
    .await;
    set_up(&env, &mut by_lt, "models/gemini-live").await;
    let within = Duration::from_secs(10) + CLOSE_WITHIN;
    expect_closed(&env, &mut by_lt, "live_token_expired", false, within).await;
    expect_closed(&env, &mut by_ek, "realtime_token_expired", true, within).await;
    expect_closed(&env, &mut by_bt, "browser_token_expired", true, within).await;
    upstreams_closed(&env, 2, 1).await;
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_live_socket_without_a_setup_is_closed() {
    let env = start().await;
    let key = env.new_key(json!({"models": ALL_MODELS})).await;
    let mut gemini = open(&env, GEMINI_LIVE, &[("x-goog-api-key", &key)]).await;
    let mut vertex = open(
        &env,
        "/vertex_ai/live",
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    // The gateway allows 10 s.
    let within = Duration::from_secs(10) + CLOSE_WITHIN;
    expect_closed(&env, &mut gemini, "invalid_request", false, within).await;
    expect_closed(&env, &mut vertex, "invalid_request", false, within).await;
    // Nothing reached the upstream, nothing was charged.
    assert!(env.live_state().await["sessions"]
        .as_array()
        .is_none_or(Vec::is_empty));
    assert_eq!(sessions_today(&env, &key).await, json!(0));
    env.stop().await;
}

/// Sends `text` and expects the gateway's `error` event for it.
async fn refused(env: &Env, ws: &mut Socket, text: &str) -> Value {
    send_text(ws, text).await;
    let event = json(env, ws).await;
    assert_eq!(event["type"], "error", "{text} → {event}");
    event["error"].clone()
}

/// What the mock's socket `i` received: event types and session models.
async fn received(env: &Env, i: usize) -> (Value, Value) {
    let state = env.realtime_state().await;
    let socket = &state["sockets"][i];
    (socket["events"].clone(), socket["session_models"].clone())
}

#[tokio::test]
async fn escaped_session_update_types_are_guarded() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let mut ws = openai_socket(&env, "/v1/realtime?model=gpt-realtime", &key).await;
    for text in [
        r#"{"type":"session\u002eupdate","session":{"model":"gpt-5"}}"#,
        r#"{"type":"\u0073ession.update","session":{"model":"gpt-5"}}"#,
        r#"{"\u0074ype":"session.update","session":{"model":"gpt-5"}}"#,
        r#"{"type":"session.update","session":{"model":"gpt-realtime"},"session":{"model":"gpt-5"}}"#,
    ] {
        let error = refused(&env, &mut ws, text).await;
        assert_eq!(error["param"], "session.model", "{text}: {error}");
    }
    // A repeated `type`, a frame that is not an event.
    let error = refused(
        &env,
        &mut ws,
        r#"{"type":"response.create","type":"session.update","session":{"model":"gpt-5"}}"#,
    )
    .await;
    assert_eq!(error["param"], "type");
    let error = refused(&env, &mut ws, "{not json").await;
    assert_eq!(error["code"], "invalid_json");
    let error = refused(&env, &mut ws, r#"["session.update",{"model":"gpt-5"}]"#).await;
    assert_eq!(error["code"], "invalid_request");
    // A binary frame holding the event is guarded too.
    ws.send(Message::Binary(
        br#"{"type":"session\u002eupdate","session":{"model":"gpt-5"}}"#
            .to_vec()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(json(&env, &mut ws).await["error"]["param"], "session.model");
    // An escaped group name goes up as the deployment's model.
    send_text(
        &mut ws,
        r#"{"type":"session\u002eupdate","session":{"model":"gpt\u002drealtime"}}"#,
    )
    .await;
    assert_eq!(json(&env, &mut ws).await["type"], "session.updated");
    let (events, models) = received(&env, 0).await;
    assert_eq!(events, json!(["session.update"]));
    assert_eq!(models, json!(["gpt-realtime-2025-08-28"]));
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn sideband_session_update_is_guarded() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let ek = realtime_token(&env, &key, 600).await;
    let call = start_call(&env, &ek).await;
    let mut ws = openai_socket(&env, &format!("/v1/realtime?call_id={call}"), &key).await;
    let error = refused(
        &env,
        &mut ws,
        r#"{"type":"session.update","session":{"model":"gpt-5"}}"#,
    )
    .await;
    assert_eq!(error["param"], "session.model");
    let error = refused(
        &env,
        &mut ws,
        r#"{"type":"session\u002eupdate","session":{"model":"gpt-5"}}"#,
    )
    .await;
    assert_eq!(error["param"], "session.model");
    send_text(
        &mut ws,
        r#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#,
    )
    .await;
    assert_eq!(json(&env, &mut ws).await["type"], "session.updated");
    let (events, models) = received(&env, 0).await;
    assert_eq!(events, json!(["session.update"]));
    assert_eq!(models, json!(["gpt-realtime-2025-08-28"]));
    env.assert_no_leaks().await;
    env.stop().await;
}
