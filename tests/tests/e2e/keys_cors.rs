//! Keys, credentials and origins at the edges of the pipeline, end to end
//! (the built Worker in workerd against the mock upstream):
//!
//! - **revocation while the quota store is down**: `/key/delete` works and
//!   takes effect with every `QUOTA` Durable Object unreachable (the
//!   Worker's test fault switch, enabled by the `REELAY_TEST_FAULTS`
//!   binding that only tests set), in the isolate that deleted the key, in
//!   others (a stale KV read, another isolate's deletion), and the key does
//!   not come back with the store; a re-created custom key is a new key;
//! - **redaction by value**: a provider that echoes the credential it was
//!   sent (Azure `api-key`, OpenAI bearer, Gemini `x-goog-api-key`, a
//!   Vertex access token) never gets it to the client, over HTTP, in a
//!   realtime WebSocket `error` event or in a Live close reason;
//! - **CORS**: no response grants an origin the caller's credential does
//!   not allow, errors included; preflights grant only origins the config
//!   or some key lists; a browser token's 403 lists only its own rules.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reelay_core::encoding::hex;
use reelay_core::keys::{key_hash, revocation_name, storage_name};
use reelay_tests::gateway::{repo_root, Gateway, GatewayOptions};
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{
    client, state_dir, unix_now, Answer, Env, AZURE_KEY, GEMINI_KEY, MASTER_KEY, OPENAI_KEY,
};
use crate::sockets::open;

/// The KV switch that takes every quota store away (see `edge/src/faults.rs`).
const STORE_SWITCH: &str = "test:fault:quota_store";

const APP: &str = "https://app.example.com";
const CONFIG_ORIGIN: &str = "https://config.example.com";
const EVIL: &str = "https://evil.example.net";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "veo-3.1-fast", "deployments": [
                {"id": "gemini-veo31-fast", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "veo-vertex", "deployments": [
                {"id": "vertex-veo", "provider": "vertex_ai", "model": "veo-3.1-generate-001",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "us-central1",
                 "api_base": base, "storage_api_base": base}]},
            {"name": "sora-2", "deployments": [
                {"id": "openai-sora", "provider": "openai", "model": "sora-2",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "sora-azure", "deployments": [
                {"id": "azure-sora", "provider": "azure", "model": "sora-2",
                 "credential": "AZURE_API_KEY", "api_base": base}]},
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "azure-realtime", "deployments": [
                {"id": "azure-rt", "provider": "azure", "model": "my-realtime-deployment",
                 "credential": "AZURE_API_KEY", "api_base": base}]},
            {"name": "gemini-live", "deployments": [
                {"id": "gemini-live-1", "provider": "gemini",
                 "model": "gemini-2.5-flash-native-audio-preview-09-2025",
                 "credential": "GEMINI_API_KEY", "api_base": base}]}
        ],
        "cors": {"allowed_origins": [CONFIG_ORIGIN]}
    })
}

/// The gateway's options for `mock`, with the fault switches enabled and,
/// when given, state persisted in `persist`.
fn options(mock: &MockUpstream, persist: Option<&std::path::Path>) -> GatewayOptions {
    let sa = mock.service_account_json();
    let mut options = GatewayOptions::new(
        config(mock),
        &[
            ("GEMINI_API_KEY", GEMINI_KEY),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("AZURE_API_KEY", AZURE_KEY),
            ("VERTEX_SA", sa.as_str()),
            ("REELAY_TEST_FAULTS", "1"),
        ],
    );
    options.persist = persist.map(std::path::Path::to_path_buf);
    options
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| options(mock, None)).await
}

async fn switch_store(gateway: &mut Gateway, down: bool) {
    gateway
        .kv_put(STORE_SWITCH, if down { "down" } else { "up" })
        .await
        .unwrap();
}

/// `GET /v1/models` with `key`: the status and body.
async fn models(http: &Client, gateway: &Gateway, key: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{}/v1/models", gateway.url()))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn admin(http: &Client, gateway: &Gateway, path: &str, body: Value) -> (u16, Value) {
    let resp = http
        .post(format!("{}{path}", gateway.url()))
        .bearer_auth(MASTER_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------
// Class 7: revocation while the quota store is down

#[test]
fn the_fault_switch_is_never_enabled_by_the_deployed_config() {
    let wrangler = std::fs::read_to_string(repo_root().join("wrangler.toml")).unwrap();
    assert!(!wrangler.contains("REELAY_TEST_FAULTS"));
}

#[tokio::test]
async fn a_key_deleted_while_its_quota_store_is_down_stops_and_stays_deleted() {
    let dir = state_dir("revoke-down");
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let http = client();
    let mut gateway = Gateway::start(options(&mock, Some(&dir))).await.unwrap();
    let (status, info) = admin(
        &http,
        &gateway,
        "/key/generate",
        json!({"models": ["veo-*"]}),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    let key = info["key"].as_str().unwrap().to_owned();
    let token = info["token"].as_str().unwrap().to_owned();
    assert_eq!(token, hex(&key_hash(&key)));
    // Confirmed by its store and cached in this isolate.
    assert_eq!(models(&http, &gateway, &key).await.0, 200);
    let record = gateway
        .kv_get(&storage_name(&key_hash(&key)))
        .await
        .unwrap()
        .expect("the key's record is in KV");

    // The store goes away: plain requests still pass (fail open)…
    switch_store(&mut gateway, true).await;
    assert_eq!(models(&http, &gateway, &key).await.0, 200);
    // …and the key can be deleted all the same.
    let (status, deleted) = admin(&http, &gateway, "/key/delete", json!({"keys": [key]})).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted_keys"], json!([token]));
    assert_eq!(deleted["revocation_pending"], json!([token]));
    // At once in this isolate, whose cache would have admitted it.
    let (status, body) = models(&http, &gateway, &key).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    // A stale KV read of the record (another location, within KV's
    // propagation): the store cannot vouch, the marker refuses.
    gateway
        .kv_put(&storage_name(&key_hash(&key)), &record)
        .await
        .unwrap();
    assert_eq!(models(&http, &gateway, &key).await.0, 401);
    gateway.stop().await;

    // Another isolate (a fresh Worker on the same state), the stale record
    // still served, the store still down.
    let gateway = Gateway::start(options(&mock, Some(&dir))).await.unwrap();
    assert_eq!(models(&http, &gateway, &key).await.0, 401);
    gateway.stop().await;

    // The store comes back, never told (every attempt failed); a fresh
    // isolate that saw no failure asks it about the stale record: the
    // store adopts the deletion when it starts, and the key does not come back.
    let mut gateway = Gateway::start(options(&mock, Some(&dir))).await.unwrap();
    switch_store(&mut gateway, false).await;
    for _ in 0..3 {
        let (status, body) = models(&http, &gateway, &key).await;
        assert_eq!(status, 401, "{body}");
    }
    // Nor can an update of the stale record revive it.
    let (status, body) = admin(
        &http,
        &gateway,
        "/key/update",
        json!({"key": key, "rpm": 5}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "key_not_found");
    assert_eq!(models(&http, &gateway, &key).await.0, 401);
    gateway.stop().await;
    mock.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn another_isolates_deletion_holds_while_the_store_is_down_and_after() {
    let mut env = start().await;
    let (key, token) = env.new_key_and_token(json!({"models": ["veo-*"]})).await;
    assert_eq!(models(&env.http, &env.gateway, &key).await.0, 200);
    switch_store(&mut env.gateway, true).await;
    // Another isolate deleted the key and could not tell its store: only
    // its revocation marker says so.
    let now_ms = unix_now() * 1000 + 999;
    env.gateway
        .kv_put(&revocation_name(&token), &now_ms.to_string())
        .await
        .unwrap();
    // Past this isolate's one-second confirmation, the store is asked,
    // cannot answer, and the marker refuses the key.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, body) = models(&env.http, &env.gateway, &key).await;
    assert_eq!(status, 401, "{body}");
    // The store comes back untold: the isolate that saw it down checks the
    // marker and tells it; from then on the store itself refuses the key.
    switch_store(&mut env.gateway, false).await;
    for _ in 0..3 {
        let (status, body) = models(&env.http, &env.gateway, &key).await;
        assert_eq!(status, 401, "{body}");
    }
    env.stop().await;
}

#[tokio::test]
async fn a_deleted_custom_key_can_be_created_again_and_a_late_revocation_spares_it() {
    let mut env = start().await;
    let custom = "team-alpha-custom-key-0001";
    env.admin("/key/generate", json!({"key": custom, "models": ["veo-*"]}))
        .await;
    assert_eq!(models(&env.http, &env.gateway, custom).await.0, 200);
    switch_store(&mut env.gateway, true).await;
    let (status, body) = admin(
        &env.http,
        &env.gateway,
        "/key/delete",
        json!({"keys": [custom]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(models(&env.http, &env.gateway, custom).await.0, 401);
    // The store is back; the key is created again before the deletion
    // reaches it.
    switch_store(&mut env.gateway, false).await;
    env.admin("/key/generate", json!({"key": custom, "models": ["veo-*"]}))
        .await;
    assert_eq!(models(&env.http, &env.gateway, custom).await.0, 200);
    // The deleting request keeps telling the store after its response;
    // once it got through, the new key still works.
    let mut delivered = false;
    for _ in 0..150 {
        if env
            .gateway
            .log_lines()
            .iter()
            .any(|l| l.contains("a pending key revocation reached its quota store"))
        {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "the pending revocation was delivered");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, body) = models(&env.http, &env.gateway, custom).await;
    assert_eq!(status, 200, "{body}");
    env.stop().await;
}

// ---------------------------------------------------------------------------
// Class 8: redaction by value

#[tokio::test]
async fn credentials_an_upstream_echoes_never_reach_the_client_over_http() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*", "sora-*"]})).await;
    // (model, upstream path the fault matches, credential it was sent)
    let cases = [
        ("sora-azure", "/openai/v1/videos", AZURE_KEY.to_owned()),
        ("sora-2", "/v1/videos", OPENAI_KEY.to_owned()),
        ("veo-3.1", ":predictLongRunning", GEMINI_KEY.to_owned()),
    ];
    for (model, path, credential) in cases {
        env.mock.push_fault(Fault::new(
            path,
            1,
            FaultAction::EchoCredential { status: 400 },
        ));
        let answer = env
            .send(
                env.req(Method::POST, "/v1/videos")
                    .bearer_auth(&key)
                    .json(&json!({"model": model, "prompt": "a cat", "seconds": "4"})),
            )
            .await;
        let body = answer.expect_error(400, "upstream_bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !answer.text.contains(&credential),
            "{model}: {}",
            answer.text
        );
        assert!(message.contains("[redacted]"), "{model}: {message}");
    }
    // A Vertex access token minted from the service account, sent as a
    // bearer and echoed in Google's shape.
    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::EchoCredential { status: 400 },
    ));
    let answer = env
        .send(
            env.req(Method::POST, "/v1/videos")
                .bearer_auth(&key)
                .json(&json!({"model": "veo-vertex", "prompt": "a cat", "seconds": "4"})),
        )
        .await;
    answer.expect_error(400, "upstream_bad_request");
    assert!(!answer.text.contains("ya29.mock-"), "{}", answer.text);
    assert!(answer.text.contains("[redacted]"), "{}", answer.text);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn credentials_an_upstream_echoes_never_reach_the_client_over_websockets() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-realtime", "azure-realtime", "gemini-live"]}))
        .await;
    // OpenAI (bearer) and Azure (`api-key`) realtime: an `error` event
    // naming the credential the socket was opened with.
    for (model, credential) in [("gpt-realtime", OPENAI_KEY), ("azure-realtime", AZURE_KEY)] {
        let mut ws = open(
            &env,
            &format!("/v1/realtime?model={model}"),
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
        ws.send(Message::text(
            json!({"type": "mock.error_echoing_credential"}).to_string(),
        ))
        .await
        .unwrap();
        let error = loop {
            let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
                .await
                .expect("a frame")
                .expect("the socket is open")
                .unwrap();
            let Message::Text(text) = frame else {
                continue;
            };
            env.record(text.as_str());
            let event: Value = serde_json::from_str(text.as_str()).unwrap();
            if event["type"] == "error" {
                break event;
            }
        };
        let message = error["error"]["message"].as_str().unwrap();
        assert!(!message.contains(credential), "{model}: {message}");
        assert!(message.contains("[redacted]"), "{model}: {message}");
        let _ = ws.close(None).await;
    }
    // Gemini Live: a close reason naming the key, cut at 123 bytes so only
    // its first 12 bytes are left.
    let mut ws = open(
        &env,
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        &[("x-goog-api-key", &key)],
    )
    .await;
    ws.send(Message::text(
        json!({"setup": {"model": "models/gemini-live"}}).to_string(),
    ))
    .await
    .unwrap();
    let cut = 12;
    let pad = 123 - "API key not valid: ".len() - cut;
    ws.send(Message::text(
        json!({"mock": {"close_echoing_credential": {"code": 1008, "pad": pad}}}).to_string(),
    ))
    .await
    .unwrap();
    let reason = loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a frame");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => break close.reason.to_string(),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => break String::new(),
            Some(Ok(_)) => {}
        }
    };
    env.record(reason.as_str());
    assert!(reason.contains("API key not valid"), "{reason}");
    assert!(!reason.contains(&GEMINI_KEY[..cut]), "{reason}");
    assert!(!reason.contains(&GEMINI_KEY[..8]), "{reason}");
    env.assert_no_leaks().await;
    env.stop().await;
}

// ---------------------------------------------------------------------------
// Class 9: CORS

/// Sends `request` from a page at `origin`; the answer and its grant.
async fn from_origin(
    env: &Env,
    request: reqwest::RequestBuilder,
    origin: &str,
) -> (Answer, Option<String>) {
    let answer = env.send(request.header("origin", origin)).await;
    let grant = answer.header("access-control-allow-origin");
    (answer, grant)
}

#[tokio::test]
async fn no_response_grants_an_origin_the_credential_does_not_allow() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["veo-*"], "rpm": 1, "allowed_origins": [APP]}))
        .await;
    let other = env
        .new_key(json!({"models": ["veo-*"], "allowed_origins": ["https://*.wild.example.com"]}))
        .await;

    // No credential yet (401 missing or unknown key, 404, 405): only the
    // config's origins.
    for origin in [EVIL, APP] {
        let (answer, grant) = from_origin(&env, env.req(Method::GET, "/v1/models"), origin).await;
        answer.expect_error(401, "missing_api_key");
        assert_eq!(grant, None, "{origin}");
        let (answer, grant) = from_origin(
            &env,
            env.req(Method::GET, "/v1/models")
                .bearer_auth("sk-reelay-unknownunknownunknownunknown00"),
            origin,
        )
        .await;
        answer.expect_error(401, "invalid_api_key");
        assert_eq!(grant, None, "{origin}");
        let (answer, grant) = from_origin(
            &env,
            env.req(Method::GET, "/v1/nowhere").bearer_auth(&key),
            origin,
        )
        .await;
        answer.expect_error(404, "route_not_found");
        assert_eq!(grant, None, "{origin}");
    }
    let (answer, grant) =
        from_origin(&env, env.req(Method::GET, "/v1/models"), CONFIG_ORIGIN).await;
    answer.expect_error(401, "missing_api_key");
    assert_eq!(grant.as_deref(), Some(CONFIG_ORIGIN));

    // A key refusing the origin: a 403 without a grant (a CORS failure for
    // the page), even for an origin another key allows.
    for origin in [EVIL, "https://a.wild.example.com"] {
        let (answer, grant) = from_origin(
            &env,
            env.req(Method::GET, "/v1/models").bearer_auth(&key),
            origin,
        )
        .await;
        answer.expect_error(403, "origin_not_allowed");
        assert_eq!(grant, None, "{origin}");
    }
    // The key's own origin: granted, its errors included (a model it may
    // not use, then its rate limit).
    let (answer, grant) = from_origin(
        &env,
        env.req(Method::GET, "/v1/models").bearer_auth(&key),
        APP,
    )
    .await;
    answer.ok();
    assert_eq!(grant.as_deref(), Some(APP));
    let (answer, grant) = from_origin(
        &env,
        env.req(Method::POST, "/v1/videos")
            .bearer_auth(&key)
            .json(&json!({"model": "sora-2", "prompt": "x"})),
        APP,
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(grant.as_deref(), Some(APP));
    let (answer, grant) = from_origin(
        &env,
        env.req(Method::GET, "/v1/models").bearer_auth(&key),
        APP,
    )
    .await;
    answer.expect_error(429, "key_rate_limit_exceeded");
    assert_eq!(grant.as_deref(), Some(APP));

    // A browser token bound to the key's origin, used from the config's
    // origin: the token does not allow it, so no grant.
    let minted = env
        .send(
            env.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(&other)
                .json(&json!({"origin": "https://app.wild.example.com"})),
        )
        .await
        .ok();
    let bt = minted["token"].as_str().unwrap();
    let (answer, grant) = from_origin(
        &env,
        env.req(Method::GET, "/v1/models").bearer_auth(bt),
        CONFIG_ORIGIN,
    )
    .await;
    answer.expect_error(403, "origin_not_allowed");
    assert_eq!(grant, None);
    let (answer, grant) = from_origin(
        &env,
        env.req(Method::GET, "/v1/models").bearer_auth(bt),
        "https://app.wild.example.com",
    )
    .await;
    answer.ok();
    assert_eq!(grant.as_deref(), Some("https://app.wild.example.com"));

    // Preflights carry no credential: granted to the config's origins and
    // to origins some key lists, refused (without a grant) to any other.
    for (origin, granted) in [
        (APP, true),
        (CONFIG_ORIGIN, true),
        ("https://deep.sub.wild.example.com", true),
        (EVIL, false),
        ("https://wild.example.com", false),
    ] {
        let answer = env
            .send(
                env.req(Method::OPTIONS, "/v1/videos")
                    .header("origin", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "authorization"),
            )
            .await;
        let grant = answer.header("access-control-allow-origin");
        if granted {
            assert_eq!(answer.status, 204, "{origin}: {}", answer.text);
            assert_eq!(grant.as_deref(), Some(origin));
        } else {
            answer.expect_error(403, "origin_not_allowed");
            assert_eq!(grant, None, "{origin}");
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn a_browser_tokens_denial_does_not_list_its_keys_rules() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["veo-3.1", "veo-3.1-fast", "sora-*", "gpt-realtime"]}))
        .await;
    let mint = |body: Value| {
        env.send(
            env.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(&key)
                .json(&body),
        )
    };
    // A token with its own rules: only those are named.
    let narrowed = mint(json!({"models": ["veo-3.1"]})).await.ok();
    let bt = narrowed["token"].as_str().unwrap();
    let answer = env
        .send(
            env.req(Method::POST, "/v1/videos")
                .bearer_auth(bt)
                .json(&json!({"model": "veo-3.1-fast", "prompt": "x"})),
        )
        .await;
    let body = answer.expect_error(403, "key_model_access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("it may use: veo-3.1"), "{message}");
    for parent_rule in ["sora-*", "gpt-realtime", "veo-3.1-fast,"] {
        assert!(!message.contains(parent_rule), "{message}");
    }
    // A token without rules of its own: none are named.
    let plain = mint(json!({})).await.ok();
    let bt = plain["token"].as_str().unwrap();
    let answer = env
        .send(
            env.req(Method::POST, "/v1/videos")
                .bearer_auth(bt)
                .json(&json!({"model": "veo-vertex", "prompt": "x"})),
        )
        .await;
    let body = answer.expect_error(403, "key_model_access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("it may use"), "{message}");
    assert!(!message.contains("sora-*"), "{message}");
    // The key itself still learns its own rules.
    let answer = env
        .send(
            env.req(Method::POST, "/v1/videos")
                .bearer_auth(&key)
                .json(&json!({"model": "veo-vertex", "prompt": "x"})),
        )
        .await;
    let body = answer.expect_error(403, "key_model_access_denied");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sora-*"));
    env.stop().await;
}
