//! Credentials minted from other credentials, end to end: a realtime token
//! (`ek_rl_`) or a Gemini Live token (`lt_rl_`) minted with a browser token
//! never exceeds it — it expires no later, works only from the browser
//! token's origin and reaches only its models — and a Live token's `uses`
//! hold whoever minted it, the master key included. One credential, one
//! metered session: a realtime token starts one session (call or socket),
//! however many requests race for it, and a Live token's sessions each
//! count on its key; a session the upstream refused gives its use back.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reelay_core::browser_token::Claims;
use reelay_core::encoding::sha256;
use reelay_core::realtime::live::parse_rfc3339_ms;
use reelay_core::seal::Keys;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{
    unix_now, Answer, Env, GEMINI_KEY, MASTER_KEY, OPENAI_KEY, SDP_OFFER, SEALING_KEY,
};

/// The page's origin, and another origin its key also allows.
const APP: &str = "https://app.example.com";
const OTHER: &str = "https://other.example.com";

const GEMINI_CONSTRAINED: &str =
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
            {"name": "gemini-live-lite", "deployments": [
                {"id": "gemini-live-2", "provider": "gemini", "model": "gemini-live-2.5-flash-lite",
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

/// A key allowed every live and realtime model, from any example.com page.
async fn page_key(env: &Env) -> String {
    env.new_key(json!({"models": ["gemini-live*", "gpt-realtime"],
                        "allowed_origins": ["https://*.example.com"]}))
        .await
}

/// A browser token of `key`, sealed here (the tests hold `SEALING_KEY`) so
/// it can live only a few seconds: bound to [`APP`], narrowed to `models`.
fn short_browser_token(key: &str, lifetime_secs: u64, models: &[&str]) -> (String, u64) {
    let now = unix_now();
    let expires_at_secs = now + lifetime_secs;
    let token = Claims {
        parent_hash: sha256(key.as_bytes()),
        issued_at_secs: now,
        expires_at_secs,
        id: [7; 8],
        origin: Some(APP.into()),
        models: models.iter().map(|m| (*m).to_owned()).collect(),
        subject: [7; reelay_core::seal::SUBJECT_LEN],
    }
    .seal(&Keys::derive(SEALING_KEY.as_bytes()).unwrap())
    .unwrap();
    (token, expires_at_secs)
}

/// Sleeps until the unix second `at` has begun on the host clock.
async fn sleep_past(at: u64) {
    while unix_now() < at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Env {
    /// `POST /gemini/v1alpha/auth_tokens` with `credential`, from `origin`.
    async fn mint_live_from(&self, credential: &str, origin: Option<&str>, body: Value) -> Answer {
        let mut req = self
            .req(Method::POST, "/gemini/v1alpha/auth_tokens")
            .header("x-goog-api-key", credential)
            .json(&body);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    /// A Live socket with the token `name` (`auth_tokens/…`), from `origin`.
    async fn live_socket(&self, name: &str, origin: Option<&str>) -> Socket {
        let mut request = self
            .ws_url(GEMINI_CONSTRAINED)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("authorization", format!("Token {name}").parse().unwrap());
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(15),
            tokio_tungstenite::connect_async(request),
        )
        .await
        .expect("the handshake finishes")
        .expect("the gateway upgrades");
        socket
    }

    /// Sends a setup naming `model`; `Ok` when the session started,
    /// else the close reason.
    async fn live_setup(&self, socket: &mut Socket, model: &str) -> Result<(), String> {
        let setup = json!({"setup": {"model": format!("models/{model}")}}).to_string();
        // The gateway may already have closed a refused socket.
        let _ = socket.send(Message::Text(setup.into())).await;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
                .await
                .expect("a frame within 15 s");
            match frame {
                Some(Ok(Message::Binary(b))) => {
                    let v: Value = serde_json::from_slice(&b).unwrap();
                    assert_eq!(v, json!({"setupComplete": {}}));
                    return Ok(());
                }
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map(|f| f.reason.as_str().to_owned());
                    let reason = reason.unwrap_or_default();
                    self.record(reason.clone());
                    return Err(reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err(String::new()),
            }
        }
    }

    /// `POST /v1/realtime/calls` with the token, from `origin`.
    async fn call_from(&self, token: &str, origin: &str) -> Answer {
        self.send(
            self.req(Method::POST, "/v1/realtime/calls")
                .bearer_auth(token)
                .header("origin", origin)
                .header("content-type", "application/sdp")
                .body(SDP_OFFER),
        )
        .await
    }

    /// `POST /v1/realtime/calls` with the token, from a server.
    async fn call(&self, token: &str) -> Answer {
        self.send(
            self.req(Method::POST, "/v1/realtime/calls")
                .bearer_auth(token)
                .header("content-type", "application/sdp")
                .body(SDP_OFFER),
        )
        .await
    }
}

fn time_ms(value: &Value) -> u64 {
    parse_rfc3339_ms(value.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_live_token_minted_by_a_browser_token_never_exceeds_it() {
    let env = start().await;
    let key = page_key(&env).await;
    let (bt, bt_expires) = short_browser_token(&key, 4, &["gemini-live"]);

    // Asked: 20 hours, new sessions for an hour, unlimited uses, no model locked.
    let now_ms = unix_now() * 1000;
    let answer = env
        .mint_live_from(
            &bt,
            Some(APP),
            json!({"expireTime": reelay_core::time::rfc3339(now_ms + 20 * 3_600_000 - 60_000),
                   "newSessionExpireTime": reelay_core::time::rfc3339(now_ms + 3_600_000),
                   "uses": 0}),
        )
        .await;
    let body = answer.ok();
    assert!(
        time_ms(&body["expireTime"]) <= bt_expires * 1000,
        "the Live token outlives its browser token: {body}"
    );
    assert!(time_ms(&body["newSessionExpireTime"]) <= bt_expires * 1000);
    let name = body["name"].as_str().unwrap().to_owned();

    // Another origin the key allows, but not the browser token's.
    let mut ws = env.live_socket(&name, Some(OTHER)).await;
    let refused = env.live_setup(&mut ws, "gemini-live").await.unwrap_err();
    assert!(refused.starts_with("origin_not_allowed"), "{refused}");
    // A model the key allows, but not the browser token.
    let mut ws = env.live_socket(&name, Some(APP)).await;
    let refused = env
        .live_setup(&mut ws, "gemini-live-lite")
        .await
        .unwrap_err();
    assert!(refused.starts_with("key_model_access_denied"), "{refused}");
    // What the browser token may do, it may.
    let mut ws = env.live_socket(&name, Some(APP)).await;
    env.live_setup(&mut ws, "gemini-live").await.unwrap();
    ws.close(None).await.unwrap();

    // Once the browser token has expired, so has the Live token.
    sleep_past(bt_expires).await;
    let mut ws = env.live_socket(&name, Some(APP)).await;
    let refused = env.live_setup(&mut ws, "gemini-live").await.unwrap_err();
    assert!(refused.starts_with("live_token_expired"), "{refused}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn a_realtime_token_minted_by_a_browser_token_never_exceeds_it() {
    let env = start().await;
    let key = page_key(&env).await;
    let (bt, bt_expires) = short_browser_token(&key, 4, &["gpt-realtime"]);

    let minted = env
        .send(
            env.req(Method::POST, "/v1/realtime/client_secrets")
                .bearer_auth(&bt)
                .header("origin", APP)
                .json(
                    &json!({"expires_after": {"anchor": "created_at", "seconds": 7200},
                              "session": {"type": "realtime", "model": "gpt-realtime"}}),
                ),
        )
        .await;
    let body = minted.ok();
    assert!(
        body["expires_at"].as_u64().unwrap() <= bt_expires,
        "the realtime token outlives its browser token: {body}"
    );
    let token = body["value"].as_str().unwrap().to_owned();

    // Another origin the key allows, but not the browser token's.
    env.call_from(&token, OTHER)
        .await
        .expect_error(403, "origin_not_allowed");
    assert!(env.upstream("/v1/realtime/calls").is_empty());

    // Once the browser token has expired, so has the realtime token.
    sleep_past(bt_expires).await;
    env.call_from(&token, APP)
        .await
        .expect_error(401, "realtime_token_expired");
    assert!(env.upstream("/v1/realtime/calls").is_empty());
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn live_tokens_minted_by_the_master_key_honour_their_uses() {
    let env = start().await;
    let body = env
        .mint_live_from(MASTER_KEY, None, json!({"uses": 1}))
        .await
        .ok();
    let name = body["name"].as_str().unwrap().to_owned();
    assert_eq!(body["uses"], 1);
    let mut ws = env.live_socket(&name, None).await;
    env.live_setup(&mut ws, "gemini-live").await.unwrap();
    ws.close(None).await.unwrap();
    let mut ws = env.live_socket(&name, None).await;
    let refused = env.live_setup(&mut ws, "gemini-live").await.unwrap_err();
    assert!(refused.starts_with("live_token_used_up"), "{refused}");
    env.assert_no_leaks().await;
    env.stop().await;
}

impl Env {
    /// The key's realtime sessions today, from `/key/info`.
    async fn sessions_today(&self, key: &str) -> u64 {
        let info = self
            .send(self.req(Method::GET, "/key/info").bearer_auth(key))
            .await
            .ok();
        info["info"]["usage"]["today"]["realtime_sessions"]
            .as_u64()
            .unwrap()
    }

    /// A realtime socket with `token` as Bearer: `Ok` once the upstream's
    /// `session.created` arrives, else the refusal's error code.
    async fn realtime_socket(&self, token: &str) -> Result<(), String> {
        let mut request = self.ws_url("/v1/realtime").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("a frame within 15 s");
        let Some(Ok(Message::Text(text))) = frame else {
            panic!("expected an event, got {frame:?}");
        };
        self.record(text.as_str().to_owned());
        let event: Value = serde_json::from_str(text.as_str()).unwrap();
        let _ = socket.close(None).await;
        match event["type"].as_str() {
            Some("session.created") => Ok(()),
            _ => Err(event["error"]["code"].as_str().unwrap_or("").to_owned()),
        }
    }
}

#[tokio::test]
async fn a_realtime_token_starts_one_session() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime"], "realtime_sessions_per_day": 10}))
        .await;
    let token = env.realtime_token(&key, "gpt-realtime").await;
    assert_eq!(
        env.sessions_today(&key).await,
        1,
        "the mint pays for one session"
    );

    // Eight calls race for the token: one session starts.
    let calls = (0..8).map(|_| env.call(&token));
    let answers = futures_util::future::join_all(calls).await;
    let started = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        started,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.expect_error(401, "realtime_token_used");
    }
    assert_eq!(env.upstream("/v1/realtime/calls").len(), 1);
    // Nor a socket afterwards.
    assert_eq!(
        env.realtime_socket(&token).await.unwrap_err(),
        "realtime_token_used"
    );
    assert_eq!(env.sessions_today(&key).await, 1);

    // A socket spends a token too; a call cannot follow it.
    let token = env.realtime_token(&key, "gpt-realtime").await;
    env.realtime_socket(&token).await.unwrap();
    assert_eq!(
        env.realtime_socket(&token).await.unwrap_err(),
        "realtime_token_used"
    );
    env.call(&token)
        .await
        .expect_error(401, "realtime_token_used");

    // A call the upstream refused started no session: the use is given back.
    let token = env.realtime_token(&key, "gpt-realtime").await;
    env.mock.push_fault(Fault::new(
        "/v1/realtime/calls",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let refused = env.call(&token).await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    let mut given_back = false;
    for _ in 0..50 {
        // The give-back is settled after the refusal's response.
        let answer = env.call(&token).await;
        if answer.status == 201 {
            given_back = true;
            break;
        }
        answer.expect_error(401, "realtime_token_used");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(given_back, "the refused call's use was not given back");
    assert_eq!(env.sessions_today(&key).await, 3);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn every_live_token_session_counts_and_refused_ones_give_their_use_back() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gemini-live"], "realtime_sessions_per_day": 2}))
        .await;
    // One use; the upstream refuses the first session: the use comes back.
    let body = env
        .mint_live_from(&key, None, json!({"uses": 1}))
        .await
        .ok();
    let name = body["name"].as_str().unwrap().to_owned();
    env.mock.push_fault(Fault::new(
        "BidiGenerateContent",
        1,
        FaultAction::Status {
            status: 400,
            headers: Vec::new(),
            body: json!({"error": {"code": 400, "message": "bad setup", "status": "INVALID_ARGUMENT"}})
                .to_string(),
        },
    ));
    let mut ws = env.live_socket(&name, None).await;
    let refused = env.live_setup(&mut ws, "gemini-live").await.unwrap_err();
    assert!(!refused.starts_with("live_token_used_up"), "{refused}");
    let mut started = false;
    for _ in 0..50 {
        // The give-back is settled once the refused session ends.
        let mut ws = env.live_socket(&name, None).await;
        match env.live_setup(&mut ws, "gemini-live").await {
            Ok(()) => {
                ws.close(None).await.unwrap();
                started = true;
                break;
            }
            Err(reason) => assert!(reason.starts_with("live_token_used_up"), "{reason}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started, "the refused session's use was not given back");
    assert_eq!(env.sessions_today(&key).await, 1);

    // Unlimited uses: every session is one of the key's sessions a day.
    let body = env
        .mint_live_from(&key, None, json!({"uses": 0}))
        .await
        .ok();
    let name = body["name"].as_str().unwrap().to_owned();
    let mut ws = env.live_socket(&name, None).await;
    env.live_setup(&mut ws, "gemini-live").await.unwrap();
    ws.close(None).await.unwrap();
    let mut ws = env.live_socket(&name, None).await;
    let refused = env.live_setup(&mut ws, "gemini-live").await.unwrap_err();
    assert!(refused.starts_with("realtime_quota_exceeded"), "{refused}");
    assert_eq!(env.sessions_today(&key).await, 2);
    env.assert_no_leaks().await;
    env.stop().await;
}
