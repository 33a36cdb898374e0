//! A `/key/update` that narrows a key's rules ends its open sessions whose
//! model the new rules no longer allow (the key's quota object pushes the
//! new rules to every session watching it; core decides), and leaves the
//! others open — on an OpenAI Realtime socket and a Gemini Live socket,
//! opened with the key and with a browser token of it.
//!
//! Waits are bounded (a close within a few seconds of its cause), never
//! timed for speed: the gateway's own bound is one second.

use std::time::Duration;

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use serde_json::{json, Value};

use crate::harness::{Env, GEMINI_KEY, OPENAI_KEY};
use crate::sockets::{error_events_then_1008, json, open, send_text, Socket};

const GEMINI_LIVE: &str =
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

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
                 "credential": "GEMINI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(
            config(mock),
            &[
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("GEMINI_API_KEY", GEMINI_KEY),
            ],
        )
    })
    .await
}

/// Waits (at most [`CLOSE_WITHIN`]) for the gateway to close the socket
/// with 1008 and `key_model_access_denied`; on an OpenAI socket its
/// `error` event comes first.
async fn expect_narrowed_out(env: &Env, ws: &mut Socket, openai: bool) {
    let (errors, _) =
        error_events_then_1008(env, ws, "key_model_access_denied", CLOSE_WITHIN).await;
    for event in &errors {
        assert!(
            event["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no longer")),
            "{event}"
        );
    }
    assert_eq!(
        !errors.is_empty(),
        openai,
        "an error event on OpenAI sockets only"
    );
}

/// An OpenAI socket on `gpt-realtime` with `bearer`, its `session.created` read.
async fn openai_socket(env: &Env, bearer: &str) -> Socket {
    let auth = format!("Bearer {bearer}");
    let mut ws = open(
        env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(json(env, &mut ws).await["type"], "session.created");
    ws
}

/// A Gemini Live socket on `gemini-live` with `key`, set up.
async fn live_socket(env: &Env, key: &str) -> Socket {
    let mut ws = open(env, GEMINI_LIVE, &[("x-goog-api-key", key)]).await;
    send_text(
        &mut ws,
        &json!({"setup": {"model": "models/gemini-live"}}).to_string(),
    )
    .await;
    assert_eq!(json(env, &mut ws).await, json!({"setupComplete": {}}));
    ws
}

/// The OpenAI session still relays both ways: a response is created and
/// done (its events read to the end).
async fn openai_alive(env: &Env, ws: &mut Socket) {
    send_text(ws, r#"{"type":"response.create"}"#).await;
    assert_eq!(json(env, ws).await["type"], "response.created");
    while json(env, ws).await["type"] != "response.done" {}
}

/// The Live session still relays both ways.
async fn live_alive(env: &Env, ws: &mut Socket, text: &str) {
    let turn = json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                                        "turnComplete": true}});
    send_text(ws, &turn.to_string()).await;
    let answer = json(env, ws).await;
    assert_eq!(
        answer.pointer("/serverContent/modelTurn/parts/0/text"),
        Some(&json!(format!("echo: {text}"))),
        "{answer}"
    );
}

/// A browser token of `key`, living ten minutes.
async fn browser_token(env: &Env, key: &str) -> String {
    let answer = env
        .send(
            env.http
                .post(env.url("/v1/browser_tokens"))
                .bearer_auth(key)
                .json(&json!({"expires_in": 600})),
        )
        .await;
    answer.ok()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_narrowing_that_still_allows_the_model_leaves_sessions_open() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime", "gemini-live", "veo-3.1"]}))
        .await;
    let mut openai = openai_socket(&env, &key).await;
    let mut live = live_socket(&env, &key).await;
    // Narrower, but both models stay: by name, then by pattern.
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["gpt-realtime", "gemini-live"]}),
    )
    .await;
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["gpt-*", "gemini-*", "!gpt-4o*"]}),
    )
    .await;
    // Give the pushed rules the same bound a close gets.
    tokio::time::sleep(CLOSE_WITHIN).await;
    openai_alive(&env, &mut openai).await;
    live_alive(&env, &mut live, "still here").await;
    // The upstream sockets are still open.
    let rt = env.realtime_state().await;
    assert!(rt["sockets"][0]["closed_by_client"].is_null(), "{rt}");
    let lv = env.live_state().await;
    assert!(lv["sessions"][0]["closed_by_client"].is_null(), "{lv}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_narrowing_ends_the_sessions_it_no_longer_allows() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime", "gemini-live"]}))
        .await;
    let other = env
        .new_key(json!({"models": ["gpt-realtime", "gemini-live"]}))
        .await;
    let mut openai = openai_socket(&env, &key).await;
    let bt = browser_token(&env, &key).await;
    let mut by_browser_token = openai_socket(&env, &bt).await;
    let mut live = live_socket(&env, &key).await;
    // Another key's sessions are not touched.
    let mut unrelated = openai_socket(&env, &other).await;

    // The key loses gpt-realtime: its OpenAI sessions end, Live stays.
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["gemini-live"]}),
    )
    .await;
    expect_narrowed_out(&env, &mut openai, true).await;
    expect_narrowed_out(&env, &mut by_browser_token, true).await;
    live_alive(&env, &mut live, "after the first narrowing").await;
    openai_alive(&env, &mut unrelated).await;

    // Then gemini-live, by a deny rule: the Live session ends.
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["*", "!gemini-live"]}),
    )
    .await;
    expect_narrowed_out(&env, &mut live, false).await;
    openai_alive(&env, &mut unrelated).await;

    // The upstream sockets were closed too (the unrelated one stays open).
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
        if closed(&rt["sockets"]) >= 2 && closed(&lv["sessions"]) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let rt = env.realtime_state().await;
    let open_upstream = rt["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["closed_by_client"].is_null())
        .count();
    assert_eq!(open_upstream, 1, "{rt}");
    assert!(!env.live_state().await["sessions"][0]["closed_by_client"].is_null());

    // Each ended session logged why.
    let mut narrowed = 0;
    for _ in 0..200 {
        narrowed = env
            .gateway
            .log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == "websocket_closed" && l["closed_by"] == "narrowed")
            .count();
        if narrowed >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(narrowed, 3);
    env.assert_no_leaks().await;
    env.stop().await;
}
