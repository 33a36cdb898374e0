//! Realtime WebSockets end to end: the built Worker in workerd (Miniflare)
//! relaying to the mock's WebSocket peers. OpenAI / Azure `GET /v1/realtime`
//! with a virtual key (Bearer, `api-key`, the browser subprotocol), with a
//! reelay token, and as a `?call_id=` sideband; text and binary frames both
//! ways; closes (code and reason) propagated both ways; refusals (1008 with
//! an `error` event) for bad keys, access, quota and revoked tokens; Gemini
//! Live with a key and with a gateway-minted ephemeral token; Vertex Live
//! with the setup model rewritten to the full resource — and, throughout,
//! that no provider key, upstream ephemeral key or OAuth token reaches a
//! frame, a close reason, a header or a log line.

use std::time::Duration;

use futures_util::SinkExt;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Env, AZURE_KEY, GEMINI_KEY, MASTER_KEY, OPENAI_KEY, SDP_OFFER};
use crate::sockets::{next_frame, open_recorded, send_json, Closed, Socket, FRAME_WITHIN};

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base,
                 "prices": {"realtime_per_session": 0.05}}]},
            {"name": "azure-realtime", "deployments": [
                {"id": "azure-rt", "provider": "azure", "model": "my-realtime-deployment",
                 "credential": "AZURE_OPENAI_KEY", "api_base": base}]},
            {"name": "gemini-live", "deployments": [
                {"id": "gemini-live-1", "provider": "gemini",
                 "model": "gemini-2.5-flash-native-audio-preview-09-2025",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "vertex-live", "deployments": [
                {"id": "vertex-live-1", "provider": "vertex_ai", "model": "gemini-live-2.5-flash",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "global",
                 "api_base": base, "storage_api_base": base}]},
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]}
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

impl Env {
    /// The next frame as JSON (text or binary).
    async fn json(&self, socket: &mut Socket) -> Value {
        match next_frame(self, socket, FRAME_WITHIN).await {
            Ok(Message::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
            Ok(Message::Binary(b)) => serde_json::from_slice(&b).unwrap(),
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(closed) => panic!("closed: {closed:?}"),
        }
    }

    /// The socket's close, skipping data frames.
    async fn closed(&self, socket: &mut Socket) -> Closed {
        loop {
            if let Err(closed) = next_frame(self, socket, FRAME_WITHIN).await {
                return closed;
            }
        }
    }

    /// A refused socket: one OpenAI `error` event with `code`, then a close
    /// with `close` and a reason starting with `code`.
    async fn expect_refusal(&self, socket: &mut Socket, code: &str, close: u16) -> Value {
        let event = self.json(socket).await;
        assert_eq!(event["type"], "error", "{event}");
        assert_eq!(event["error"]["code"], code, "{event}");
        let closed = self.closed(socket).await;
        assert_eq!(closed.code, close, "{closed:?}");
        assert!(closed.reason.starts_with(code), "{closed:?}");
        assert!(closed.reason.len() <= 123);
        event
    }

    /// Waits for the mock to record `n` realtime sockets.
    async fn sockets(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let state = self.realtime_state().await;
            let sockets = state["sockets"].as_array().unwrap().clone();
            if sockets.len() >= n {
                return sockets;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the mock did not see {n} sockets");
    }

    /// Polls the mock until `check` holds for the realtime state.
    async fn until(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let state = self.realtime_state().await;
            if check(&state) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the mock never saw {what}: {}", self.realtime_state().await);
    }
}

#[tokio::test]
async fn openai_socket_relays_text_binary_and_closes_both_ways() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime", "azure-realtime"]}))
        .await;
    let bearer = format!("Bearer {key}");
    let (mut ws, protocol) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(protocol, None);
    // The upstream's session shows the model group, not the deployment's model.
    let created = env.json(&mut ws).await;
    assert_eq!(created["type"], "session.created");
    assert_eq!(created["session"]["model"], "gpt-realtime");
    // session.update naming the group reaches the upstream as the deployment's model.
    send_json(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "be brief"}}),
    )
    .await;
    let updated = env.json(&mut ws).await;
    assert_eq!(updated["type"], "session.updated");
    assert_eq!(updated["session"]["model"], "gpt-realtime");
    // Another model is refused with an error event, and never reaches the upstream.
    send_json(
        &mut ws,
        json!({"type": "session.update", "session": {"model": "gpt-4o-realtime-preview"}}),
    )
    .await;
    let refused = env.json(&mut ws).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error"]["param"], "session.model");
    // Binary frames (larger than one read) come back byte for byte.
    let audio: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::Binary(audio.clone().into()))
        .await
        .unwrap();
    match next_frame(&env, &mut ws, FRAME_WITHIN).await {
        Ok(Message::Binary(b)) => assert_eq!(b.as_ref(), audio.as_slice()),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    send_json(&mut ws, json!({"type": "response.create"})).await;
    let kinds: Vec<Value> = [
        env.json(&mut ws).await,
        env.json(&mut ws).await,
        env.json(&mut ws).await,
    ]
    .iter()
    .map(|e| e["type"].clone())
    .collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.output_text.delta",
            "response.done"
        ]
    );
    // The client closes with a code and reason: the upstream sees both.
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4000),
        reason: "client done".into(),
    }))
    .await
    .unwrap();
    let state = env
        .until("the client's close", |s| {
            !s["sockets"][0]["closed_by_client"].is_null()
        })
        .await;
    let socket = &state["sockets"][0];
    assert_eq!(socket["closed_by_client"]["code"], 4000);
    assert_eq!(socket["closed_by_client"]["reason"], "client done");
    assert_eq!(socket["credential"], "server");
    assert_eq!(socket["model"], "gpt-realtime-2025-08-28");
    assert_eq!(socket["session_models"], json!(["gpt-realtime-2025-08-28"]));
    assert_eq!(socket["binary_frames"], 1);
    assert_eq!(socket["binary_bytes"], 70_000);
    assert_eq!(
        socket["events"],
        json!(["session.update", "response.create"])
    );
    let upgrade = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/realtime")
        .unwrap();
    assert_eq!(
        upgrade.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        upgrade.query.as_deref(),
        Some("model=gpt-realtime-2025-08-28")
    );

    // The upstream closes with a code and reason: the client sees both.
    let (mut ws, _) = open_recorded(
        &env,
        "/openai/v1/realtime?model=gpt-realtime",
        &[("api-key", &key)],
    )
    .await;
    assert_eq!(env.json(&mut ws).await["type"], "session.created");
    send_json(
        &mut ws,
        json!({"type": "mock.close", "code": 4001, "reason": "upstream says bye"}),
    )
    .await;
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 4001);
    assert_eq!(closed.reason, "upstream says bye");

    // Azure: the deployment name, `api-key` upstream.
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=azure-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    let created = env.json(&mut ws).await;
    assert_eq!(created["session"]["model"], "azure-realtime");
    ws.close(None).await.unwrap();
    let sockets = env.sockets(3).await;
    assert_eq!(sockets[2]["provider"], "azure");
    assert_eq!(sockets[2]["model"], "my-realtime-deployment");
    let azure = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/openai/v1/realtime")
        .unwrap();
    assert_eq!(azure.header("api-key"), Some(AZURE_KEY));
    assert_eq!(azure.header("authorization"), None);

    // Every socket was counted as one realtime session.
    let info: Value = env
        .http
        .get(env.url("/key/info"))
        .query(&[("key", key.as_str())])
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = info
        .pointer("/info/usage/today/realtime_sessions")
        .or_else(|| info.pointer("/usage/today/realtime_sessions"))
        .cloned();
    assert_eq!(sessions, Some(json!(3)), "{info}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn browser_subprotocol_and_reelay_tokens() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    // A browser: the key as a subprotocol; `realtime` is answered, the key never.
    let protocols = format!("realtime, openai-insecure-api-key.{key}");
    let (mut ws, protocol) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("sec-websocket-protocol", &protocols)],
    )
    .await;
    assert_eq!(protocol.as_deref(), Some("realtime"));
    assert_eq!(env.json(&mut ws).await["session"]["model"], "gpt-realtime");
    ws.close(None).await.unwrap();
    let upgrade = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/realtime")
        .unwrap();
    assert_eq!(upgrade.header("sec-websocket-protocol"), None);
    assert!(env.seen().iter().all(|s| !s.contains(&key)));

    // A reelay token, as Bearer and as the browser subprotocol: the
    // upstream gets the ephemeral key it minted.
    let token = env.realtime_token(&key, "gpt-realtime").await;
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(env.json(&mut ws).await["type"], "session.created");
    ws.close(None).await.unwrap();
    // Each token starts one session.
    let second = env.realtime_token(&key, "gpt-realtime").await;
    let protocols = format!("realtime, openai-insecure-api-key.{second}");
    let (mut ws, protocol) = open_recorded(
        &env,
        "/v1/realtime",
        &[("sec-websocket-protocol", &protocols)],
    )
    .await;
    assert_eq!(protocol.as_deref(), Some("realtime"));
    assert_eq!(env.json(&mut ws).await["session"]["model"], "gpt-realtime");
    ws.close(None).await.unwrap();
    let sockets = env.sockets(3).await;
    assert_eq!(sockets[1]["credential"], "ephemeral");
    assert_eq!(sockets[2]["credential"], "ephemeral");
    let state = env.realtime_state().await;
    let ek = state["ephemeral_keys"][0]["value"].as_str().unwrap();
    let upgrades: Vec<_> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/realtime")
        .collect();
    assert_eq!(
        upgrades[1].header("authorization"),
        Some(format!("Bearer {ek}").as_str())
    );

    // A token for another model in `?model=` is refused.
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=azure-realtime",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "invalid_request", 1008).await;

    // Revoked between mint and connect: refused at once.
    env.admin("/key/delete", json!({"keys": [key]})).await;
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "invalid_realtime_token", 1008)
        .await;
    // A forged token.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime",
        &[("authorization", &format!("Bearer {forged}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "invalid_realtime_token", 1008)
        .await;
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn refusals_quota_and_upstream_failures() {
    let env = start().await;
    // Plain HTTP on a WebSocket route.
    let resp = env
        .http
        .get(env.url("/v1/realtime?model=gpt-realtime"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "websocket_upgrade_required");

    // No key, a bad key, a key without access, no model.
    let (mut ws, _) = open_recorded(&env, "/v1/realtime?model=gpt-realtime", &[]).await;
    env.expect_refusal(&mut ws, "missing_api_key", 1008).await;
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[(
            "authorization",
            "Bearer sk-reelay-not-a-real-key-000000000000",
        )],
    )
    .await;
    env.expect_refusal(&mut ws, "invalid_api_key", 1008).await;
    let video_only = env.new_key(json!({"models": ["veo-*"]})).await;
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &format!("Bearer {video_only}"))],
    )
    .await;
    let event = env
        .expect_refusal(&mut ws, "key_model_access_denied", 1008)
        .await;
    assert_eq!(event["error"]["param"], "model");
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime",
        &[("authorization", &format!("Bearer {video_only}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "invalid_request", 1008).await;

    // One realtime session a day: the second socket is refused; a socket the
    // upstream refused (on every attempt the router makes: 3 by default; a
    // single 503 is retried like any new work) is refunded.
    let one = env
        .new_key(json!({"models": ["gpt-realtime"], "realtime_sessions_per_day": 1}))
        .await;
    let bearer = format!("Bearer {one}");
    env.mock.push_fault(Fault::new(
        "/v1/realtime",
        3,
        FaultAction::ServerError { status: 503 },
    ));
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    env.expect_refusal(&mut ws, "upstream_unavailable", 1011)
        .await;
    // A single refusal is new work refused: the dial moves on (here to the
    // same deployment, after its backoff) and the socket opens.
    env.mock.push_fault(Fault::new(
        "/v1/realtime",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(env.json(&mut ws).await["type"], "session.created");
    ws.close(None).await.unwrap();
    let (mut ws, _) = open_recorded(
        &env,
        "/v1/realtime?model=gpt-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    env.expect_refusal(&mut ws, "realtime_quota_exceeded", 1008)
        .await;
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn call_id_sideband_attaches_to_the_owning_deployment() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let other = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let token = env.realtime_token(&key, "gpt-realtime").await;
    let resp = env
        .http
        .post(env.url("/v1/realtime/calls"))
        .bearer_auth(&token)
        .header("content-type", "application/sdp")
        .body(SDP_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let sealed = location.rsplit('/').next().unwrap().to_owned();
    let state = env.realtime_state().await;
    let upstream_id = state["calls"][0]["id"].as_str().unwrap().to_owned();
    assert_ne!(sealed, upstream_id);

    let (mut ws, _) = open_recorded(
        &env,
        &format!("/v1/realtime?call_id={sealed}"),
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    let created = env.json(&mut ws).await;
    assert_eq!(created["type"], "session.created");
    send_json(&mut ws, json!({"type": "response.create"})).await;
    assert_eq!(env.json(&mut ws).await["type"], "response.created");
    ws.close(None).await.unwrap();
    let sockets = env.sockets(1).await;
    assert_eq!(sockets[0]["call_id"], upstream_id.as_str());
    assert_eq!(sockets[0]["credential"], "server");
    // The token that started the call may attach too; another key may not.
    let (mut ws, _) = open_recorded(
        &env,
        &format!("/v1/realtime?call_id={sealed}"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(env.json(&mut ws).await["type"], "session.created");
    ws.close(None).await.unwrap();
    let (mut ws, _) = open_recorded(
        &env,
        &format!("/v1/realtime?call_id={sealed}"),
        &[("authorization", &format!("Bearer {other}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "realtime_call_not_found", 1008)
        .await;
    let (mut ws, _) = open_recorded(
        &env,
        &format!("/v1/realtime?call_id={upstream_id}"),
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    env.expect_refusal(&mut ws, "realtime_call_not_found", 1008)
        .await;
    env.assert_no_leaks().await;
    env.stop().await;
}

const GEMINI_LIVE: &str =
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
const GEMINI_CONSTRAINED: &str =
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained";
const VERTEX_LIVE: &str = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";

impl Env {
    async fn live_sessions(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let state = self.live_state().await;
            let sessions = state["sessions"].as_array().cloned().unwrap_or_default();
            if sessions.len() >= n {
                return sessions;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the mock did not see {n} live sessions");
    }

    /// Sends a setup naming `model` and expects `setupComplete` (binary).
    async fn set_up(&self, ws: &mut Socket, setup: Value) {
        send_json(ws, json!({ "setup": setup })).await;
        match next_frame(self, ws, FRAME_WITHIN).await {
            Ok(Message::Binary(b)) => {
                let v: Value = serde_json::from_slice(&b).unwrap();
                assert_eq!(v, json!({"setupComplete": {}}));
            }
            other => panic!("expected setupComplete as a binary frame, got {other:?}"),
        }
    }

    async fn mint_live(&self, key: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/gemini/v1alpha/auth_tokens"))
            .header("x-goog-api-key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn live_token(&self, key: &str, body: Value) -> String {
        let resp = self.mint_live(key, body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body: Value = resp.json().await.unwrap();
        let name = body["name"].as_str().unwrap().to_owned();
        assert!(name.starts_with("auth_tokens/lt_rl_"), "{name}");
        self.record(body.to_string());
        name
    }
}

#[tokio::test]
async fn gemini_live_with_a_key() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    let (mut ws, _) = open_recorded(&env, GEMINI_LIVE, &[("x-goog-api-key", &key)]).await;
    env.set_up(
        &mut ws,
        json!({"model": "models/gemini-live", "generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    send_json(
        &mut ws,
        json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turnComplete": true}}),
    )
    .await;
    let reply = env.json(&mut ws).await;
    assert_eq!(
        reply["serverContent"]["modelTurn"]["parts"][0]["text"],
        "echo: hi"
    );
    // Audio sent as a binary frame is relayed as binary.
    let audio = json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAECAwQF"}}});
    ws.send(Message::Binary(audio.to_string().into_bytes().into()))
        .await
        .unwrap();
    let reply = env.json(&mut ws).await;
    assert_eq!(
        reply["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"],
        "AAECAwQF"
    );
    // The upstream closes: its code and reason reach the client.
    send_json(
        &mut ws,
        json!({"mock": {"close": {"code": 4002, "reason": "server bye"}}}),
    )
    .await;
    let closed = env.closed(&mut ws).await;
    assert_eq!((closed.code, closed.reason.as_str()), (4002, "server bye"));
    let sessions = env.live_sessions(1).await;
    assert_eq!(sessions[0]["api"], "gemini");
    assert_eq!(sessions[0]["auth"], "x-goog-api-key");
    assert_eq!(
        sessions[0]["model"],
        "models/gemini-2.5-flash-native-audio-preview-09-2025"
    );
    assert_eq!(
        sessions[0]["setup"]["generationConfig"]["responseModalities"][0],
        "TEXT"
    );
    assert_eq!(
        sessions[0]["received"],
        json!(["setup", "clientContent", "realtimeInput", "mock"])
    );
    let upgrade = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == GEMINI_LIVE)
        .unwrap();
    assert_eq!(upgrade.header("x-goog-api-key"), Some(GEMINI_KEY));

    // `?key=` under `/gemini/` with the JS SDK's double slash; the client
    // closes and the upstream sees its code and reason.
    let (mut ws, _) = open_recorded(&env, &format!("/gemini/{GEMINI_LIVE}?key={key}"), &[]).await;
    env.set_up(&mut ws, json!({"model": "models/gemini-live"}))
        .await;
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4003),
        reason: "client bye".into(),
    }))
    .await
    .unwrap();
    for _ in 0..200 {
        let sessions = env.live_sessions(2).await;
        if !sessions[1]["closed_by_client"].is_null() {
            assert_eq!(sessions[1]["closed_by_client"]["code"], 4003);
            assert_eq!(sessions[1]["closed_by_client"]["reason"], "client bye");
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Refusals: a bad key before the setup, a model the key may not use,
    // a setup that is not JSON.
    let (mut ws, _) = open_recorded(
        &env,
        GEMINI_LIVE,
        &[("x-goog-api-key", "sk-reelay-bogus-0000000000000000")],
    )
    .await;
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 1008);
    assert!(closed.reason.starts_with("invalid_api_key"), "{closed:?}");
    let video = env.new_key(json!({"models": ["veo-*"]})).await;
    let (mut ws, _) = open_recorded(&env, GEMINI_LIVE, &[("x-goog-api-key", &video)]).await;
    send_json(&mut ws, json!({"setup": {"model": "models/gemini-live"}})).await;
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 1008);
    assert!(
        closed.reason.starts_with("key_model_access_denied"),
        "{closed:?}"
    );
    let (mut ws, _) = open_recorded(&env, GEMINI_LIVE, &[("x-goog-api-key", &key)]).await;
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 1007);
    assert!(closed.reason.starts_with("invalid_json"), "{closed:?}");
    // Nothing of those reached the upstream.
    assert_eq!(env.live_sessions(2).await.len(), 2);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn gemini_live_with_gateway_minted_tokens() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gemini-live"]})).await;
    // Minting checks the locked model against the key's rules.
    let denied = env
        .mint_live(
            &key,
            json!({"bidiGenerateContentSetup": {"model": "models/vertex-live"}}),
        )
        .await;
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");

    // One use, temperature locked; the client's other fields stay.
    let name = env
        .live_token(
            &key,
            json!({"uses": 1, "bidiGenerateContentSetup": {"setup": {"model": "models/gemini-live",
                   "generationConfig": {"temperature": 0.2}}},
                   "fieldMask": "generationConfig.temperature"}),
        )
        .await;
    let auth = format!("Token {name}");
    let (mut ws, _) = open_recorded(&env, GEMINI_CONSTRAINED, &[("authorization", &auth)]).await;
    env.set_up(
        &mut ws,
        json!({"model": "models/something-else", "generationConfig": {"temperature": 0.9, "topK": 5}}),
    )
    .await;
    ws.close(None).await.unwrap();
    let sessions = env.live_sessions(1).await;
    assert_eq!(
        sessions[0]["model"],
        "models/gemini-2.5-flash-native-audio-preview-09-2025"
    );
    assert_eq!(sessions[0]["setup"]["generationConfig"]["temperature"], 0.2);
    assert_eq!(sessions[0]["setup"]["generationConfig"]["topK"], 5);
    // Its one use is spent.
    let (mut ws, _) = open_recorded(&env, GEMINI_CONSTRAINED, &[("authorization", &auth)]).await;
    send_json(&mut ws, json!({"setup": {"model": "models/gemini-live"}})).await;
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 1008);
    assert!(
        closed.reason.starts_with("live_token_used_up"),
        "{closed:?}"
    );

    // Unlimited uses, as the JS SDK sends it (`?access_token=`).
    let name = env.live_token(&key, json!({"uses": 0})).await;
    for _ in 0..2 {
        let (mut ws, _) = open_recorded(
            &env,
            &format!("{GEMINI_CONSTRAINED}?access_token={name}"),
            &[],
        )
        .await;
        env.set_up(&mut ws, json!({"model": "models/gemini-live"}))
            .await;
        ws.close(None).await.unwrap();
    }
    // A forged token, and a token whose key was deleted.
    let forged = format!("{}A", &name[..name.len() - 1]);
    let (mut ws, _) = open_recorded(
        &env,
        GEMINI_CONSTRAINED,
        &[("authorization", &format!("Token {forged}"))],
    )
    .await;
    let closed = env.closed(&mut ws).await;
    assert!(
        closed.reason.starts_with("invalid_live_token"),
        "{closed:?}"
    );
    env.admin("/key/delete", json!({"keys": [key]})).await;
    let (mut ws, _) = open_recorded(&env, GEMINI_CONSTRAINED, &[("authorization", &auth)]).await;
    let closed = env.closed(&mut ws).await;
    assert_eq!(closed.code, 1008);
    assert!(
        closed.reason.starts_with("invalid_live_token"),
        "{closed:?}"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn vertex_live_rewrites_the_model_to_the_full_resource() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["vertex-live"]})).await;
    let bearer = format!("Bearer {key}");
    let (mut ws, _) = open_recorded(&env, "/vertex_ai/live", &[("authorization", &bearer)]).await;
    env.set_up(&mut ws, json!({"model": "vertex-live"})).await;
    send_json(
        &mut ws,
        json!({"client_content": {"turns": [{"role": "user", "parts": [{"text": "hola"}]}]}}),
    )
    .await;
    assert_eq!(
        env.json(&mut ws).await["serverContent"]["modelTurn"]["parts"][0]["text"],
        "echo: hola"
    );
    ws.close(None).await.unwrap();
    let resource =
        "projects/mock-project/locations/global/publishers/google/models/gemini-live-2.5-flash";
    let sessions = env.live_sessions(1).await;
    assert_eq!(sessions[0]["api"], "vertex");
    assert_eq!(sessions[0]["auth"], "bearer");
    assert_eq!(sessions[0]["model"], resource);
    // The native path, with a full resource naming the model group, and
    // after Google stopped accepting the cached token (re-minted once).
    let issued = env.mock.tokens_issued();
    env.mock.revoke_tokens();
    let (mut ws, _) = open_recorded(&env, VERTEX_LIVE, &[("authorization", &bearer)]).await;
    env.set_up(
        &mut ws,
        json!({"model": "projects/p/locations/l/publishers/google/models/vertex-live"}),
    )
    .await;
    ws.close(None).await.unwrap();
    assert_eq!(env.live_sessions(2).await[1]["model"], resource);
    assert_eq!(env.mock.tokens_issued(), issued + 1);
    env.assert_no_leaks().await;
    env.stop().await;
}
