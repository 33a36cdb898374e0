//! Browsers end to end over HTTP: CORS preflights answered at the edge,
//! per-key `allowed_origins` on actual requests, the config's origins for
//! every key, browser tokens (mint, narrowing, origin binding, expiry,
//! revocation through the parent, quotas counted on the parent, refusal on
//! admin routes, realtime with a token) and the playground page — the built
//! Worker in workerd against the mock upstream.

use reelay_core::browser_token::Claims;
use reelay_core::encoding::sha256;
use reelay_core::seal::Keys;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{
    unix_now, Answer, Env, GEMINI_KEY, MASTER_KEY, OPENAI_KEY, SDP_OFFER, SEALING_KEY,
};

const APP: &str = "https://app.example.com";

fn config(mock: &MockUpstream, cors: Option<Value>) -> Value {
    let base = mock.base_url();
    let mut config = json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "veo-3.1-fast", "deployments": [
                {"id": "gemini-veo31-fast", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    });
    if let Some(cors) = cors {
        config["cors"] = cors;
    }
    config
}

async fn start_with(cors: Option<Value>) -> Env {
    let mock = MockOptions {
        polls_until_done: 0,
        ..MockOptions::default()
    };
    Env::start(mock, |mock| {
        GatewayOptions::new(
            config(mock, cors),
            &[
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("OPENAI_API_KEY", OPENAI_KEY),
            ],
        )
    })
    .await
}

async fn start() -> Env {
    start_with(None).await
}

impl Env {
    /// `POST /v1/browser_tokens` with `body`, `key` as Bearer.
    async fn mint_browser_token(&self, key: &str, body: Value) -> Answer {
        self.send(
            self.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    /// A 4-second video of a cat on `model`, from a page at `origin`.
    async fn create_video_from(
        &self,
        credential: &str,
        model: &str,
        origin: Option<&str>,
    ) -> Answer {
        let mut req = self
            .req(Method::POST, "/v1/videos")
            .bearer_auth(credential)
            .json(&json!({"model": model, "prompt": "a cat", "seconds": "4"}));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    fn upstream_requests(&self) -> usize {
        self.mock.requests().len()
    }
}

#[tokio::test]
async fn preflights_are_answered_at_the_edge_without_credentials() {
    let env = start().await;
    // A key listing APP: preflights from APP are granted (they carry no
    // key; another origin is refused, see `keys_cors`).
    env.new_key(json!({"models": ["veo-*"], "allowed_origins": [APP]}))
        .await;
    let upstream_before = env.upstream_requests();
    let answer = env
        .send(
            env.req(Method::OPTIONS, "/v1/videos")
                .header("origin", APP)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, x-stainless-os, x-stainless-retry-count, openai-beta, x-bogus",
                ),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(
        answer.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        answer.header("access-control-allow-methods").as_deref(),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        answer.header("access-control-allow-headers").as_deref(),
        Some("authorization, content-type, x-stainless-os, x-stainless-retry-count, openai-beta")
    );
    assert_eq!(
        answer.header("access-control-max-age").as_deref(),
        Some("600")
    );
    assert!(answer.header("vary").unwrap().contains("Origin"));
    assert!(answer.header("access-control-allow-credentials").is_none());
    assert!(answer.header("x-request-id").is_some());
    assert!(answer.text.is_empty());

    // `null` and malformed origins are refused, readably for curl.
    for origin in ["null", "https://app.example.com/"] {
        let answer = env
            .send(
                env.req(Method::OPTIONS, "/v1/videos")
                    .header("origin", origin)
                    .header("access-control-request-method", "POST"),
            )
            .await;
        answer.expect_error(403, "origin_not_allowed");
        assert!(answer.header("access-control-allow-origin").is_none());
    }
    // A plain OPTIONS (no Origin) lists the methods.
    let answer = env.send(env.req(Method::OPTIONS, "/v1/videos")).await;
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("allow").as_deref(),
        Some("GET, POST, DELETE, OPTIONS")
    );
    // Nothing reached the upstream.
    assert_eq!(env.upstream_requests(), upstream_before);
    env.stop().await;
}

#[tokio::test]
async fn keys_allow_only_their_origins() {
    let env = start().await;
    // Validation names the bad entry; stored patterns are canonical.
    let answer = env
        .send(
            env.req(Method::POST, "/key/generate")
                .bearer_auth(MASTER_KEY)
                .json(&json!({"allowed_origins": ["https://ok.example.com", "https://*.com"]})),
        )
        .await;
    let body = answer.expect_error(400, "invalid_request");
    assert_eq!(body["error"]["param"], "allowed_origins");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed_origins[1]"));

    let key = env
        .new_key(json!({"models": ["veo-*"],
                        "allowed_origins": ["https://*.Example.com", "http://localhost:*"]}))
        .await;
    let info = env
        .send(env.req(Method::GET, "/key/info").bearer_auth(&key))
        .await
        .ok();
    assert_eq!(
        info["info"]["allowed_origins"],
        json!(["https://*.example.com", "http://localhost:*"])
    );

    // Allowed: echoed origin, exposed headers, Vary.
    for origin in [APP, "https://a.b.example.com", "http://localhost:5173"] {
        let answer = env
            .send(
                env.req(Method::GET, "/v1/models")
                    .bearer_auth(&key)
                    .header("origin", origin),
            )
            .await;
        answer.ok();
        assert_eq!(
            answer.header("access-control-allow-origin").as_deref(),
            Some(origin)
        );
        let expose = answer.header("access-control-expose-headers").unwrap();
        for h in [
            "x-request-id",
            "retry-after",
            "location",
            "x-reelay-deployment",
            "x-reelay-attempts",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-videos",
        ] {
            assert!(expose.split(", ").any(|e| e == h), "{h} in {expose}");
        }
        assert_eq!(answer.header("vary").as_deref(), Some("Origin"));
    }
    // A video job from an allowed origin exposes its rate-limit headers too.
    let answer = env.create_video_from(&key, "veo-3.1", Some(APP)).await;
    answer.ok();
    assert_eq!(
        answer.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );

    // Not allowed: a 403 before any upstream or quota work, without a grant
    // (the page sees a CORS failure; curl and servers read the JSON).
    let before = env.upstream_requests();
    for origin in [
        "https://example.com",
        "https://evil.net",
        "http://app.example.com",
    ] {
        let answer = env.create_video_from(&key, "veo-3.1", Some(origin)).await;
        let body = answer.expect_error(403, "origin_not_allowed");
        assert!(body["error"]["message"].as_str().unwrap().contains(origin));
        assert_eq!(answer.header("access-control-allow-origin"), None);
    }
    assert_eq!(env.upstream_requests(), before);

    // No Origin (a server) or the gateway's own origin: no CORS at all.
    let answer = env
        .send(env.req(Method::GET, "/v1/models").bearer_auth(&key))
        .await;
    answer.ok();
    assert!(answer.header("access-control-allow-origin").is_none());
    assert_eq!(answer.header("vary").as_deref(), Some("Origin"));
    let own = env.gateway.url().to_owned();
    let answer = env
        .send(
            env.req(Method::GET, "/v1/models")
                .bearer_auth(&key)
                .header("origin", &own),
        )
        .await;
    answer.ok();
    assert!(answer.header("access-control-allow-origin").is_none());

    // A key without a list allows no browser origin; clearing the list applies at once.
    let plain = env.new_key(json!({"models": ["veo-*"]})).await;
    let body = env
        .send(
            env.req(Method::GET, "/v1/models")
                .bearer_auth(&plain)
                .header("origin", APP),
        )
        .await
        .expect_error(403, "origin_not_allowed");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allows no browser origins"));
    env.send(
        env.req(Method::POST, "/key/update")
            .bearer_auth(MASTER_KEY)
            .json(&json!({"key": key, "allowed_origins": null})),
    )
    .await
    .ok();
    env.send(
        env.req(Method::GET, "/v1/models")
            .bearer_auth(&key)
            .header("origin", APP),
    )
    .await
    .expect_error(403, "origin_not_allowed");
    // The master key has no origins of its own either.
    env.send(
        env.req(Method::GET, "/v1/models")
            .bearer_auth(MASTER_KEY)
            .header("origin", APP),
    )
    .await
    .expect_error(403, "origin_not_allowed");
    env.stop().await;
}

#[tokio::test]
async fn config_origins_apply_to_every_key() {
    let env = start_with(Some(
        json!({"allowed_origins": [APP], "max_age_seconds": 60}),
    ))
    .await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let answer = env
        .send(
            env.req(Method::GET, "/v1/models")
                .bearer_auth(&key)
                .header("origin", APP),
        )
        .await;
    answer.ok();
    assert_eq!(
        answer.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    env.send(
        env.req(Method::GET, "/v1/models")
            .bearer_auth(&key)
            .header("origin", "https://other.example.com"),
    )
    .await
    .expect_error(403, "origin_not_allowed");
    let answer = env
        .send(
            env.req(Method::OPTIONS, "/v1/models")
                .header("origin", APP)
                .header("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(
        answer.header("access-control-max-age").as_deref(),
        Some("60")
    );
    env.stop().await;
}

#[tokio::test]
async fn browser_tokens_narrow_bind_and_count_against_the_parent() {
    let env = start().await;
    let key = env
        .new_key(
            json!({"models": ["veo-*", "gpt-realtime"], "videos_per_day": 2,
                        "allowed_origins": [APP, "https://other.example.com"]}),
        )
        .await;

    // Minting: validation against the parent.
    env.mint_browser_token(&key, json!({"models": ["sora-2"]}))
        .await
        .expect_error(403, "key_model_access_denied");
    env.mint_browser_token(&key, json!({"origin": "https://evil.net"}))
        .await
        .expect_error(403, "origin_not_allowed");
    env.mint_browser_token(&key, json!({"expires_in": 7200}))
        .await
        .expect_error(400, "invalid_request");
    env.mint_browser_token(MASTER_KEY, json!({}))
        .await
        .expect_error(400, "invalid_request");

    let minted = env
        .mint_browser_token(
            &key,
            json!({"models": ["veo-3.1"], "expires_in": 600, "origin": APP}),
        )
        .await;
    assert_eq!(minted.header("cache-control").as_deref(), Some("no-store"));
    let minted = minted.ok();
    assert_eq!(minted["object"], "browser_token");
    assert_eq!(minted["expires_in"], 600);
    assert_eq!(minted["models"], json!(["veo-3.1"]));
    assert_eq!(minted["origin"], APP);
    let token = minted["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("bt_rl_"), "{token}");

    // Narrowed: only veo-3.1, in the model list and on create.
    let models = env
        .send(
            env.req(Method::GET, "/v1/models")
                .bearer_auth(&token)
                .header("origin", APP),
        )
        .await
        .ok();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["veo-3.1"]);
    env.create_video_from(&token, "veo-3.1-fast", Some(APP))
        .await
        .expect_error(403, "key_model_access_denied");
    let created = env.create_video_from(&token, "veo-3.1", Some(APP)).await;
    assert_eq!(
        created.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    let video = created.ok();
    let id = video["id"].as_str().unwrap().to_owned();

    // Bound to APP: another allowed origin of the parent may not use it;
    // a request without Origin (a server) may.
    env.create_video_from(&token, "veo-3.1", Some("https://other.example.com"))
        .await
        .expect_error(403, "origin_not_allowed");
    env.send(
        env.req(Method::GET, &format!("/v1/videos/{id}"))
            .bearer_auth(&token),
    )
    .await
    .ok();

    // The job belongs to the parent: the key sees it, and the video plays.
    let status = env
        .send(
            env.req(Method::GET, &format!("/v1/videos/{id}"))
                .bearer_auth(&key),
        )
        .await
        .ok();
    assert_eq!(status["status"], "completed");
    let content = env
        .http
        .get(env.url(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&token)
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    let bytes = content.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(&bytes[36..40], b"moov", "the mock serves a playable MP4");

    // Quotas are the parent's: the token used one of two videos, the key the second.
    env.create_video_from(&key, "veo-3.1", None).await.ok();
    env.create_video_from(&token, "veo-3.1", Some(APP))
        .await
        .expect_error(429, "video_quota_exceeded");

    // Admin routes and minting refuse tokens.
    env.send(env.req(Method::GET, "/key/info").bearer_auth(&token))
        .await
        .expect_error(403, "browser_token_not_allowed");
    env.send(
        env.req(Method::POST, "/key/generate")
            .bearer_auth(&token)
            .json(&json!({})),
    )
    .await
    .expect_error(403, "browser_token_not_allowed");
    env.mint_browser_token(&token, json!({}))
        .await
        .expect_error(403, "browser_token_not_allowed");

    // Forged: one character changed.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    env.send(env.req(Method::GET, "/v1/models").bearer_auth(&forged))
        .await
        .expect_error(401, "invalid_browser_token");

    // Expired: an authentic token whose time has passed (sealed here with
    // the gateway's test SEALING_KEY, so the test need not wait).
    let now = unix_now();
    let expired = Claims {
        parent_hash: sha256(key.as_bytes()),
        issued_at_secs: now - 120,
        expires_at_secs: now - 60,
        id: [0; 8],
        origin: None,
        models: Vec::new(),
        subject: [0; reelay_core::seal::SUBJECT_LEN],
    }
    .seal(&Keys::derive(SEALING_KEY.as_bytes()).unwrap())
    .unwrap();
    let body = env
        .send(
            env.req(Method::GET, "/v1/models")
                .bearer_auth(&expired)
                .header("origin", APP),
        )
        .await
        .expect_error(401, "browser_token_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ask your server for a new one"));

    // Deleting the parent revokes its tokens at once.
    env.send(
        env.req(Method::POST, "/key/delete")
            .bearer_auth(MASTER_KEY)
            .json(&json!({"keys": [key]})),
    )
    .await
    .ok();
    let body = env
        .send(
            env.req(Method::GET, &format!("/v1/videos/{id}"))
                .bearer_auth(&token)
                .header("origin", APP),
        )
        .await
        .expect_error(401, "invalid_browser_token");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("was deleted"));
    env.stop().await;
}

#[tokio::test]
async fn a_browser_token_starts_a_realtime_session() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["veo-*", "gpt-realtime"], "allowed_origins": [APP]}))
        .await;
    let video_only = env
        .mint_browser_token(&key, json!({"models": ["veo-3.1"]}))
        .await
        .ok();
    let token = video_only["token"].as_str().unwrap();
    let secret_body = json!({"session": {"type": "realtime", "model": "gpt-realtime"}});
    env.send(
        env.req(Method::POST, "/v1/realtime/client_secrets")
            .bearer_auth(token)
            .header("origin", APP)
            .json(&secret_body),
    )
    .await
    .expect_error(403, "key_model_access_denied");

    let realtime = env
        .mint_browser_token(&key, json!({"models": ["gpt-realtime"], "origin": APP}))
        .await
        .ok();
    let token = realtime["token"].as_str().unwrap();
    let secret = env
        .send(
            env.req(Method::POST, "/v1/realtime/client_secrets")
                .bearer_auth(token)
                .header("origin", APP)
                .json(&secret_body),
        )
        .await;
    assert_eq!(
        secret.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    let ek = secret.ok()["value"].as_str().unwrap().to_owned();
    assert!(ek.starts_with("ek_rl_"), "{ek}");
    let call = env
        .send(
            env.req(Method::POST, "/v1/realtime/calls")
                .bearer_auth(&ek)
                .header("origin", APP)
                .header("content-type", "application/sdp")
                .body(SDP_OFFER),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.text);
    assert!(call.text.starts_with("v=0"));
    assert!(call.header("location").unwrap().contains("/rtc_"));
    // The page can read Location: it is exposed.
    assert!(call
        .header("access-control-expose-headers")
        .unwrap()
        .contains("location"));
    env.stop().await;
}

#[tokio::test]
async fn the_playground_is_served_with_a_strict_policy() {
    let env = start().await;
    let page = env.send(env.req(Method::GET, "/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("media-src 'self' blob:"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(page.text.contains("<script src=\"/playground/app.js\""));
    assert!(!page.text.contains("<script>"), "no inline script");
    for (path, ty) in [
        ("/playground/app.js", "text/javascript; charset=utf-8"),
        ("/playground/style.css", "text/css; charset=utf-8"),
    ] {
        let asset = env.send(env.req(Method::GET, path)).await;
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type").as_deref(), Some(ty));
        assert!(
            !asset.text.contains("http://") && !asset.text.contains("https://"),
            "{path} loads nothing from another origin"
        );
    }
    env.send(env.req(Method::GET, "/playground/nope.js"))
        .await
        .expect_error(404, "route_not_found");
    env.send(env.req(Method::POST, "/"))
        .await
        .expect_error(405, "method_not_allowed");
    env.stop().await;
}
