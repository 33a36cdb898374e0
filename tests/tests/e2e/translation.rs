//! OpenAI Realtime Translation end to end: the built Worker in workerd
//! against the mock's translation peer (`tests/src/mock/translation.rs`).
//! Minting with a key and with a browser token (expiry, origin and models
//! clamped; the upstream's `ek_…` never in an answer), translation tokens
//! and realtime tokens never opening each other's sessions, the WebSocket
//! relay with a key and with a token (the event guard, redaction), the
//! WebRTC `calls` exchange, model refusals, one session per token, and the
//! socket ending when its key is deleted.

use std::time::Duration;

use futures_util::SinkExt;
use reelay_core::browser_token::Claims;
use reelay_core::encoding::sha256;
use reelay_core::seal::Keys;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{unix_now, Answer, Env, AZURE_KEY, OPENAI_KEY, SDP_OFFER, SEALING_KEY};
use crate::sockets::{next_frame, open, send_json, Closed, Socket, FRAME_WITHIN};

const MODEL: &str = "gpt-realtime-translate";
const UPSTREAM_MODEL: &str = "gpt-realtime-translate-2026-11";
const APP: &str = "https://app.example.com";
const OTHER: &str = "https://other.example.com";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": MODEL, "deployments": [
                {"id": "openai-translate", "provider": "openai", "model": UPSTREAM_MODEL,
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "azure-translate", "deployments": [
                {"id": "azure-translate", "provider": "azure", "model": "my-translate",
                 "credential": "AZURE_OPENAI_KEY", "api_base": base}]},
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
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

/// The documented client-secret request (§4 of the reference).
fn secret_body(model: &str) -> Value {
    json!({"session": {"model": model,
        "audio": {"output": {"language": "es"},
                  "input": {"transcription": {"model": "gpt-live-transcribe"},
                            "noise_reduction": {"type": "near_field"}}}},
        "expires_after": {"anchor": "created_at", "seconds": 600}})
}

/// A browser token of `key` sealed here (the tests hold `SEALING_KEY`):
/// bound to [`APP`], narrowed to `models`, living `lifetime_secs`.
fn browser_token(key: &str, lifetime_secs: u64, models: &[&str]) -> (String, u64) {
    let now = unix_now();
    let claims = Claims {
        parent_hash: sha256(key.as_bytes()),
        issued_at_secs: now,
        expires_at_secs: now + lifetime_secs,
        id: [9; 8],
        origin: Some(APP.into()),
        models: models.iter().map(|m| (*m).to_owned()).collect(),
        subject: [9; reelay_core::seal::SUBJECT_LEN],
    };
    let token = claims
        .seal(&Keys::derive(SEALING_KEY.as_bytes()).unwrap())
        .unwrap();
    (token, now + lifetime_secs)
}

impl Env {
    /// `POST /v1/realtime/translations/client_secrets` with `credential`.
    async fn mint_translation(
        &self,
        credential: &str,
        origin: Option<&str>,
        body: Value,
    ) -> Answer {
        let mut req = self
            .req(Method::POST, "/v1/realtime/translations/client_secrets")
            .bearer_auth(credential)
            .json(&body);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    /// A translation token minted by `key`.
    async fn translation_token(&self, key: &str) -> String {
        let body = self
            .mint_translation(key, None, secret_body(MODEL))
            .await
            .ok();
        body["value"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/realtime/translations/calls` with `credential`.
    async fn translation_call(&self, credential: &str, origin: Option<&str>) -> Answer {
        let mut req = self
            .req(Method::POST, "/v1/realtime/translations/calls")
            .bearer_auth(credential)
            .header("content-type", "application/sdp")
            .body(SDP_OFFER);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    /// The mock's translation state.
    async fn translation_state(&self) -> Value {
        self.http
            .get(format!("{}/_mock/translation", self.mock.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The key's realtime sessions today.
    async fn translation_sessions_today(&self, key: &str) -> u64 {
        let info = self
            .send(self.req(Method::GET, "/key/info").bearer_auth(key))
            .await
            .ok();
        info["info"]["usage"]["today"]["realtime_sessions"]
            .as_u64()
            .unwrap()
    }

    /// A socket to `path` with `Authorization: Bearer <credential>`.
    async fn socket(&self, path: &str, credential: &str, origin: Option<&str>) -> Socket {
        let bearer = format!("Bearer {credential}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        open(self, path, &headers).await
    }

    /// The next text event (as JSON; binary frames skipped), or
    /// `Err((code, reason))` when it closed.
    async fn event(&self, socket: &mut Socket) -> Result<Value, (u16, String)> {
        loop {
            match next_frame(self, socket, FRAME_WITHIN).await {
                Ok(Message::Text(t)) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
                Ok(_) => continue,
                Err(Closed { code, reason }) => return Err((code, reason)),
            }
        }
    }

    /// A refused socket: an `error` event with `code`, then a 1008 close.
    async fn refused(&self, socket: &mut Socket, code: &str) {
        let event = self.event(socket).await.unwrap();
        assert_eq!(event["type"], "error", "{event}");
        assert_eq!(event["error"]["code"], code, "{event}");
        let (close, reason) = self.event(socket).await.unwrap_err();
        assert_eq!(close, 1008, "{reason}");
        assert!(reason.starts_with(code), "{reason}");
    }

    /// Every upstream translation `ek_` the mock issued is absent from
    /// what the gateway sent (on top of the harness's leak checks).
    async fn assert_no_translation_leaks(&self) {
        let state = self.translation_state().await;
        let issued: Vec<String> = state["ephemeral_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["value"].as_str().unwrap().to_owned())
            .collect();
        assert!(!issued.is_empty());
        let logs = self.gateway.log_lines();
        for text in self.seen().iter().chain(logs.iter()) {
            for ek in &issued {
                assert!(
                    !text.contains(ek.as_str()),
                    "an upstream ek_ leaked: {text}"
                );
            }
        }
        self.assert_no_leaks().await;
    }
}

#[tokio::test]
async fn a_key_mints_a_sealed_translation_token_and_the_upstream_gets_the_checked_body() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe"]}))
        .await;
    let answer = env.mint_translation(&key, None, secret_body(MODEL)).await;
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
    let body = answer.ok();
    let token = body["value"].as_str().unwrap();
    assert!(token.starts_with("ek_rl_"), "{body}");
    assert_eq!(body["session"]["type"], "translation");
    assert_eq!(
        body["session"]["model"], MODEL,
        "the group, not the deployment's model"
    );
    assert!(body["expires_at"].as_u64().unwrap() <= unix_now() + 601);
    // The upstream got the typed body, the model rewritten, with the deployment's key.
    let sent = env.upstream("/v1/realtime/translations/client_secrets");
    assert_eq!(sent.len(), 1);
    let mut expected = secret_body(MODEL);
    expected["session"]["model"] = json!(UPSTREAM_MODEL);
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).unwrap(),
        expected
    );
    // Unknown fields never go up: a precise 400.
    let mut extra = secret_body(MODEL);
    extra["session"]["instructions"] = json!("be brief");
    env.mint_translation(&key, None, extra)
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(
        env.upstream("/v1/realtime/translations/client_secrets")
            .len(),
        1
    );
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn translation_and_realtime_tokens_never_open_each_others_sessions() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe", "gpt-realtime"]}))
        .await;
    let translation = env.translation_token(&key).await;
    let realtime = env.realtime_token(&key, "gpt-realtime").await;

    // A translation token on the realtime routes.
    env.send(
        env.req(Method::POST, "/v1/realtime/calls")
            .bearer_auth(&translation)
            .header("content-type", "application/sdp")
            .body(SDP_OFFER),
    )
    .await
    .expect_error(401, "invalid_realtime_token");
    let mut ws = env.socket("/v1/realtime", &translation, None).await;
    env.refused(&mut ws, "invalid_realtime_token").await;
    // A realtime token on the translation routes.
    env.translation_call(&realtime, None)
        .await
        .expect_error(401, "invalid_realtime_token");
    let mut ws = env
        .socket("/v1/realtime/translations", &realtime, None)
        .await;
    env.refused(&mut ws, "invalid_realtime_token").await;
    assert!(env.translation_state().await["calls"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(env.upstream("/v1/realtime/calls").is_empty());

    // Each still opens its own session.
    env.translation_call(&translation, None).await;
    let mut ws = env.socket("/v1/realtime", &realtime, None).await;
    assert_eq!(env.event(&mut ws).await.unwrap()["type"], "session.created");
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_browser_token_mints_nothing_beyond_itself() {
    let env = start().await;
    let key = env
        .new_key(
            json!({"models": [MODEL, "azure-translate", "gpt-live-transcribe"],
                        "allowed_origins": ["https://*.example.com"]}),
        )
        .await;
    let (bt, bt_expires) = browser_token(&key, 30, &[MODEL, "gpt-live-transcribe"]);
    let mut body = secret_body(MODEL);
    body["expires_after"]["seconds"] = json!(7200);
    let minted = env.mint_translation(&bt, Some(APP), body).await.ok();
    assert!(
        minted["expires_at"].as_u64().unwrap() <= bt_expires,
        "the translation token outlives its browser token: {minted}"
    );
    let token = minted["value"].as_str().unwrap().to_owned();
    // Only from the browser token's origin.
    env.translation_call(&token, Some(OTHER))
        .await
        .expect_error(403, "origin_not_allowed");
    let mut ws = env
        .socket("/v1/realtime/translations", &token, Some(OTHER))
        .await;
    env.refused(&mut ws, "origin_not_allowed").await;
    // Only its models, though the key has more.
    env.mint_translation(&bt, Some(APP), secret_body("azure-translate"))
        .await
        .expect_error(403, "key_model_access_denied");
    // From its origin, it works.
    let call = env.translation_call(&token, Some(APP)).await;
    assert_eq!(call.status, 201, "{}", call.text);
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn models_the_key_may_not_use_are_refused_everywhere() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime", MODEL]}))
        .await;
    // The transcription model is checked too.
    let err = env
        .mint_translation(&key, None, secret_body(MODEL))
        .await
        .expect_error(403, "key_model_access_denied");
    assert_eq!(
        err["error"]["param"],
        "session.audio.input.transcription.model"
    );
    let other = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    env.mint_translation(&other, None, json!({"session": {"model": MODEL}}))
        .await
        .expect_error(403, "key_model_access_denied");
    let mut ws = env
        .socket(
            &format!("/v1/realtime/translations?model={MODEL}"),
            &other,
            None,
        )
        .await;
    env.refused(&mut ws, "key_model_access_denied").await;
    assert!(env.upstream("/translations/client_secrets").is_empty());
    assert!(env.translation_state().await["sockets"]
        .as_array()
        .unwrap()
        .is_empty());
    env.stop().await;
}

#[tokio::test]
async fn the_socket_relays_translation_events_and_refuses_the_rest() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe"], "realtime_sessions_per_day": 5}))
        .await;
    let mut ws = env
        .socket(
            &format!("/v1/realtime/translations?model={MODEL}"),
            &key,
            None,
        )
        .await;
    let created = env.event(&mut ws).await.unwrap();
    assert_eq!(created["type"], "session.created");
    assert_eq!(created["session"]["model"], MODEL, "{created}");
    send_json(&mut ws, json!({"type": "session.update", "session": {"audio": {
        "output": {"language": "fr"}, "input": {"transcription": {"model": "gpt-live-transcribe"}}}}}))
    .await;
    let updated = env.event(&mut ws).await.unwrap();
    assert_eq!(updated["type"], "session.updated");
    assert_eq!(updated["session"]["audio"]["output"]["language"], "fr");
    send_json(
        &mut ws,
        json!({"type": "session.input_audio_buffer.append", "audio": "AAAAAAAA"}),
    )
    .await;
    for expected in [
        "session.input_transcript.delta",
        "session.output_transcript.delta",
        "session.output_audio.delta",
    ] {
        assert_eq!(env.event(&mut ws).await.unwrap()["type"], expected);
    }
    // Refused by the gateway, never relayed: each answered by an `error` event.
    for (frame, code) in [
        (json!({"type": "response.create"}).to_string(), "invalid_request"),
        (json!({"type": "session.update", "session": {"model": "gpt-realtime"}}).to_string(), "invalid_request"),
        (json!({"type": "session.update", "session": {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}}).to_string(), "key_model_access_denied"),
        (r#"{"type":"\u0073ession.close","extra":1}"#.to_owned(), "invalid_request"),
        ("not json".to_owned(), "invalid_json"),
    ] {
        ws.send(Message::Text(frame.clone().into())).await.unwrap();
        let event = env.event(&mut ws).await.unwrap();
        assert_eq!(event["type"], "error", "{frame}: {event}");
        assert_eq!(event["error"]["code"], code, "{frame}: {event}");
    }
    ws.send(Message::Binary(b"\x00\x01".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(env.event(&mut ws).await.unwrap()["type"], "error");
    send_json(&mut ws, json!({"type": "session.close"})).await;
    assert_eq!(env.event(&mut ws).await.unwrap()["type"], "session.closed");
    let (code, _) = env.event(&mut ws).await.unwrap_err();
    assert_eq!(code, 1000);
    // Upstream saw exactly the three allowed events, with the deployment's key.
    let state = env.translation_state().await;
    let socket = &state["sockets"][0];
    assert_eq!(socket["credential"], "server");
    assert_eq!(socket["model"], UPSTREAM_MODEL);
    let types: Vec<&str> = socket["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "session.update",
            "session.input_audio_buffer.append",
            "session.close"
        ]
    );
    assert_eq!(env.translation_sessions_today(&key).await, 1);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_translation_token_starts_one_session_socket_or_call() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe"], "realtime_sessions_per_day": 5}))
        .await;
    let token = env.translation_token(&key).await;
    assert_eq!(
        env.translation_sessions_today(&key).await,
        1,
        "the mint pays for its session"
    );
    let mut ws = env
        .socket(
            &format!("/v1/realtime/translations?model={MODEL}"),
            &token,
            None,
        )
        .await;
    let created = env.event(&mut ws).await.unwrap();
    assert_eq!(created["type"], "session.created", "{created}");
    assert_eq!(created["session"]["model"], MODEL);
    send_json(
        &mut ws,
        json!({"type": "session.input_audio_buffer.append", "audio": "AAAA"}),
    )
    .await;
    assert_eq!(
        env.event(&mut ws).await.unwrap()["type"],
        "session.input_transcript.delta",
        "the minted session's transcription"
    );
    // The token's one session has started: nothing more with it.
    let mut again = env.socket("/v1/realtime/translations", &token, None).await;
    env.refused(&mut again, "realtime_token_used").await;
    env.translation_call(&token, None)
        .await
        .expect_error(401, "realtime_token_used");
    let state = env.translation_state().await;
    assert_eq!(state["sockets"].as_array().unwrap().len(), 1);
    assert_eq!(state["sockets"][0]["credential"], "ephemeral");
    assert!(state["calls"].as_array().unwrap().is_empty());
    assert_eq!(env.translation_sessions_today(&key).await, 1);

    // A call: the SDP answer, no upstream call id, no `?model=` upstream.
    let token = env.translation_token(&key).await;
    let call = env.translation_call(&token, None).await;
    assert_eq!(call.status, 201, "{}", call.text);
    assert_eq!(
        call.header("content-type").as_deref(),
        Some("application/sdp")
    );
    assert!(call.text.starts_with("v=0"));
    assert!(call.header("location").is_none());
    let state = env.translation_state().await;
    assert_eq!(state["calls"][0]["query"], Value::Null);
    assert_eq!(state["calls"][0]["model"], UPSTREAM_MODEL);
    env.translation_call(&token, None)
        .await
        .expect_error(401, "realtime_token_used");
    // A key cannot post a call: only a token carries the upstream's secret.
    env.translation_call(&key, None)
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(env.translation_sessions_today(&key).await, 2);
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn deleting_the_key_ends_its_translation_sockets() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe"]}))
        .await;
    let token = env.translation_token(&key).await;
    let mut by_key = env
        .socket(
            &format!("/v1/realtime/translations?model={MODEL}"),
            &key,
            None,
        )
        .await;
    assert_eq!(
        env.event(&mut by_key).await.unwrap()["type"],
        "session.created"
    );
    let mut by_token = env.socket("/v1/realtime/translations", &token, None).await;
    assert_eq!(
        env.event(&mut by_token).await.unwrap()["type"],
        "session.created"
    );

    env.admin("/key/delete", json!({"keys": [key]})).await;
    for (ws, code) in [
        (&mut by_key, "invalid_api_key"),
        (&mut by_token, "invalid_realtime_token"),
    ] {
        let event = env.event(ws).await.unwrap();
        assert_eq!(event["error"]["code"], code, "{event}");
        let (close, reason) = env.event(ws).await.unwrap_err();
        assert_eq!(close, 1008, "{reason}");
    }
    // The upstream sockets were closed by the gateway.
    for _ in 0..200 {
        let state = env.translation_state().await;
        let closed = state["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["closed_by_client"].is_null())
            .count();
        if closed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let state = env.translation_state().await;
    assert!(
        state["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["closed_by_client"].is_null()),
        "{state}"
    );
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn azure_mints_on_its_documented_path() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["azure-translate"]})).await;
    let body = env
        .mint_translation(
            &key,
            None,
            json!({"session": {"model": "azure-translate",
            "audio": {"output": {"language": "de"}}}}),
        )
        .await
        .ok();
    assert!(body["value"].as_str().unwrap().starts_with("ek_rl_"));
    assert_eq!(body["session"]["model"], "azure-translate");
    let sent = env.upstream("/openai/v1/realtime/translations/client_secrets");
    assert_eq!(sent.len(), 1);
    let header = |name: &str| {
        sent[0]
            .headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("api-key").as_deref(), Some(AZURE_KEY));
    assert!(header("authorization").is_none());
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).unwrap()["session"]["model"],
        "my-translate"
    );
    env.assert_no_translation_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_browser_socket_carries_its_token_as_a_subprotocol() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": [MODEL, "gpt-live-transcribe"]}))
        .await;
    let token = env.translation_token(&key).await;
    let mut request = env
        .ws_url("/v1/realtime/translations")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("realtime, openai-insecure-api-key.{token}")
            .parse()
            .unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    let protocol = response.headers().get("sec-websocket-protocol");
    assert_eq!(protocol.map(|v| v.to_str().unwrap()), Some("realtime"));
    let created = env.event(&mut ws).await.unwrap();
    assert_eq!(created["type"], "session.created", "{created}");
    assert_eq!(
        env.translation_state().await["sockets"][0]["credential"],
        "ephemeral"
    );
    env.assert_no_translation_leaks().await;
    env.stop().await;
}
