//! GPT-Live over HTTP end to end: the built Worker in workerd against the
//! mock OpenAI / Azure GPT-Live API. Creates with a virtual key and with a
//! browser token (its origin, expiry and model rules), delegation models
//! checked, sealed `live_` ids that only their owner (key, or visitor)
//! opens, the REST fork, the SIP controls and the streamed recording on the
//! deployment holding the session with its own credential, failover only
//! while the create certainly did not start, one session counted per create
//! or fork, and precise 400s for bad bodies — with no provider key in any
//! answer or log line.

use reelay_core::browser_token::{subject_of, Claims};
use reelay_core::encoding::sha256;
use reelay_core::retry::deployment_tag;
use reelay_core::seal::Keys;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{
    recording_bytes, recording_seed, Fault, FaultAction, MockOptions, MockUpstream, RecordedRequest,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{unix_now, Answer, Env, AZURE_KEY, OPENAI_KEY, SDP_OFFER, SEALING_KEY};

const APP: &str = "https://app.example.com";

/// `gpt-live-1` on OpenAI and Azure (one group, two deployments),
/// `gpt-live-azure` on Azure only, `gpt-5.6` (a delegation model).
fn config(mock: &MockUpstream, timeout_ms: u32) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "gpt-live-1", "deployments": [
                {"id": "openai-live", "provider": "openai", "model": "gpt-live-1-2026-11",
                 "credential": "OPENAI_API_KEY", "api_base": base, "timeout_ms": timeout_ms},
                {"id": "azure-live", "provider": "azure", "model": "my-live-deployment",
                 "credential": "AZURE_OPENAI_KEY", "api_base": base, "timeout_ms": timeout_ms}]},
            {"name": "gpt-live-azure", "deployments": [
                {"id": "azure-only", "provider": "azure", "model": "live-eu",
                 "credential": "AZURE_OPENAI_KEY", "api_base": base}]},
            {"name": "gpt-5.6", "deployments": [
                {"id": "openai-gpt56", "provider": "openai", "model": "gpt-5.6",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start_with_timeout(timeout_ms: u32) -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(
            config(mock, timeout_ms),
            &[
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("AZURE_OPENAI_KEY", AZURE_KEY),
            ],
        )
    })
    .await
}

async fn start() -> Env {
    start_with_timeout(30_000).await
}

fn create_body(model: &str) -> Value {
    json!({"session": {"model": model, "instructions": "Be brief", "store": true,
                       "audio": {"output": {"voice": "marin"}}},
           "transport": {"type": "webrtc", "sdp": SDP_OFFER}})
}

fn header<'a>(r: &'a RecordedRequest, name: &str) -> &'a str {
    r.header(name).unwrap_or("")
}

impl Env {
    async fn gpt_live_create(&self, bearer: &str, origin: Option<&str>, body: &Value) -> Answer {
        let mut request = self
            .req(Method::POST, "/v1/live/sessions")
            .bearer_auth(bearer)
            .json(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        self.send(request).await
    }

    async fn gpt_live_post(
        &self,
        bearer: &str,
        id: &str,
        action: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .req(Method::POST, &format!("/v1/live/sessions/{id}/{action}"))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    async fn gpt_live_sessions(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_mock/gpt_live_http", self.mock.base_url()))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["sessions"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// A browser token of `key` minted with `body`.
    async fn gpt_live_browser_token(&self, key: &str, body: Value) -> String {
        self.send(
            self.req(Method::POST, "/v1/browser_tokens")
                .bearer_auth(key)
                .json(&body),
        )
        .await
        .ok()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates sessions until each deployment of `gpt-live-1` served one;
    /// returns `(sealed id, deployment)` per deployment.
    async fn gpt_live_one_per_deployment(&self, key: &str) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        for _ in 0..40 {
            let answer = self
                .gpt_live_create(key, None, &create_body("gpt-live-1"))
                .await;
            let tag = answer.header("x-reelay-deployment").unwrap();
            let dep = ["openai-live", "azure-live"]
                .into_iter()
                .find(|d| deployment_tag(d) == tag)
                .unwrap()
                .to_owned();
            let id = answer.ok()["session"]["id"].as_str().unwrap().to_owned();
            if !found.iter().any(|(_, d)| *d == dep) {
                found.push((id, dep));
            }
            if found.len() == 2 {
                return found;
            }
        }
        panic!("weighted routing never picked both deployments: {found:?}");
    }
}

#[tokio::test]
async fn key_create_seals_the_id_and_sends_the_typed_body() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-live-azure", "gpt-5.6"]}))
        .await;
    let mut body = create_body("gpt-live-azure");
    body["session"]["delegation"] =
        json!({"type": "responses", "responses": {"model": "gpt-5.6", "instructions": "backend"}});
    body["session"]["wake_policy"] = json!({"type": "speech", "vad_threshold": 0.6});
    body["session"]["idle_timeout_s"] = json!(30);
    body["session"]["instructions"] = Value::Null;
    let answer = env.gpt_live_create(&key, None, &body).await;
    let json = answer.ok();
    let id = json["session"]["id"].as_str().unwrap();
    assert!(id.starts_with("live_"), "{id}");
    assert_eq!(json["transport"]["type"], "webrtc");
    assert!(json["transport"]["sdp"]
        .as_str()
        .unwrap()
        .starts_with("v=0\r\n"));
    assert_eq!(
        answer.header("x-reelay-deployment"),
        Some(deployment_tag("azure-only"))
    );

    // Azure: its v1 path, `api-key`, the deployment's model, no null, no api-version.
    let sent = env.upstream("/live/sessions");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/openai/v1/live/sessions");
    assert_eq!(sent[0].query, None);
    assert_eq!(header(&sent[0], "api-key"), AZURE_KEY);
    assert_eq!(header(&sent[0], "authorization"), "");
    let mut expected = body.clone();
    expected["session"]["model"] = json!("live-eu");
    expected["session"]
        .as_object_mut()
        .unwrap()
        .remove("instructions");
    assert_eq!(sent[0].body_json().unwrap(), expected);
    let upstream_id = env.gpt_live_sessions().await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!id.contains(&upstream_id), "the upstream id is sealed");

    // The id works for its key; another key's and forged ids are not found.
    env.gpt_live_post(&key, id, "hangup", None)
        .await
        .ok_gpt_live_control();
    let other = env.new_key(json!({"models": ["*"]})).await;
    env.gpt_live_post(&other, id, "hangup", None)
        .await
        .expect_error(404, "live_session_not_found");
    env.send(
        env.req(Method::GET, &format!("/v1/live/sessions/{id}/content"))
            .bearer_auth(&other),
    )
    .await
    .expect_error(404, "live_session_not_found");
    env.gpt_live_post(&key, &upstream_id, "hangup", None)
        .await
        .expect_error(404, "live_session_not_found");
    env.assert_no_leaks().await;
    env.stop().await;
}

impl Answer {
    /// Asserts a 200 with an empty body (a control).
    fn ok_gpt_live_control(&self) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.text, "");
    }
}

#[tokio::test]
async fn browser_tokens_create_within_their_origin_expiry_and_models() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-live-*", "gpt-5.6"], "allowed_origins": [APP]}))
        .await;
    let token = env
        .gpt_live_browser_token(
            &key,
            json!({"models": ["gpt-live-azure"], "origin": APP, "subject": "alice", "expires_in": 600}),
        )
        .await;

    // From its page: a session, answered with CORS; the id is alice's.
    let answer = env
        .gpt_live_create(&token, Some(APP), &create_body("gpt-live-azure"))
        .await;
    assert_eq!(
        answer.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    let id = answer.ok()["session"]["id"].as_str().unwrap().to_owned();

    // Another page, another model, a delegation model outside the token's rules.
    env.gpt_live_create(
        &token,
        Some("https://evil.example.com"),
        &create_body("gpt-live-azure"),
    )
    .await
    .expect_error(403, "origin_not_allowed");
    env.gpt_live_create(&token, Some(APP), &create_body("gpt-live-1"))
        .await
        .expect_error(403, "key_model_access_denied");
    let mut delegating = create_body("gpt-live-azure");
    delegating["session"]["delegation"] =
        json!({"type": "responses", "responses": {"model": "gpt-5.6"}});
    let body = env
        .gpt_live_create(&token, Some(APP), &delegating)
        .await
        .expect_error(403, "key_model_access_denied");
    assert_eq!(body["error"]["param"], "session.delegation.responses.model");
    assert_eq!(env.upstream("/live/sessions").len(), 1);

    // Controls and content by the visitor; another visitor of the key gets 404.
    let bob = env
        .gpt_live_browser_token(&key, json!({"origin": APP, "subject": "bob"}))
        .await;
    env.gpt_live_post(&bob, &id, "hangup", None)
        .await
        .expect_error(404, "live_session_not_found");
    let again = env
        .gpt_live_browser_token(&key, json!({"origin": APP, "subject": "alice"}))
        .await;
    let recording = env
        .send(
            env.req(Method::GET, &format!("/v1/live/sessions/{id}/content"))
                .bearer_auth(&again)
                .header("origin", APP),
        )
        .await;
    assert_eq!(recording.status, 200, "{}", recording.text);
    // The key sees its visitors' sessions.
    env.gpt_live_post(
        &key,
        &id,
        "refer",
        Some(json!({"target_uri": "sip:agent@example.com"})),
    )
    .await
    .ok_gpt_live_control();

    // An expired token of the same visitor: refused before anything else.
    let now = unix_now();
    let keys = Keys::derive(SEALING_KEY.as_bytes()).unwrap();
    let parent_hash = sha256(key.as_bytes());
    let expired = Claims {
        parent_hash,
        issued_at_secs: now - 120,
        expires_at_secs: now - 60,
        id: [7; 8],
        origin: Some(APP.to_owned()),
        models: Vec::new(),
        subject: subject_of(&keys, &parent_hash, Some("alice"), &[7; 8]),
    }
    .seal(&keys)
    .unwrap();
    env.gpt_live_post(&expired, &id, "hangup", None)
        .await
        .expect_error(401, "browser_token_expired");
    env.gpt_live_create(&expired, Some(APP), &create_body("gpt-live-azure"))
        .await
        .expect_error(401, "browser_token_expired");

    // Deleting the key ends what its tokens and the key itself can do.
    env.admin("/key/delete", json!({"keys": [key]})).await;
    env.gpt_live_post(&again, &id, "hangup", None)
        .await
        .expect_error(401, "invalid_browser_token");
    env.gpt_live_post(&key, &id, "hangup", None)
        .await
        .expect_error(401, "invalid_api_key");
    assert!(env.upstream("/hangup").is_empty());
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn follow_ups_reach_the_deployment_holding_the_session() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-live-1"]})).await;
    let sessions = env.gpt_live_one_per_deployment(&key).await;
    let upstream = env.gpt_live_sessions().await;
    for (id, dep) in &sessions {
        let (prefix, azure) = match dep.as_str() {
            "openai-live" => ("/v1/live/sessions/", false),
            "azure-live" => ("/openai/v1/live/sessions/", true),
            other => panic!("{other}"),
        };
        let before = env.mock.requests().len();
        env.gpt_live_post(
            &key,
            id,
            "accept",
            Some(json!({"session": {"type": "live", "model": "gpt-live-1"}})),
        )
        .await
        .ok_gpt_live_control();
        env.gpt_live_post(
            &key,
            id,
            "refer",
            Some(json!({"target_uri": "tel:+14155550123"})),
        )
        .await
        .ok_gpt_live_control();
        let fork = env
            .gpt_live_post(
                &key,
                id,
                "fork",
                Some(json!({"transport": {"type": "webrtc", "sdp": SDP_OFFER}})),
            )
            .await;
        assert_eq!(
            fork.header("x-reelay-deployment"),
            Some(deployment_tag(dep))
        );
        let forked = fork.ok()["session"]["id"].as_str().unwrap().to_owned();
        assert!(forked.starts_with("live_") && forked != *id);
        let recording = env
            .http
            .get(env.url(&format!("/v1/live/sessions/{id}/content")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(recording.status(), 200);
        assert_eq!(recording.headers()["content-type"], "audio/wav");
        let bytes = recording.bytes().await.unwrap();
        env.gpt_live_post(&key, id, "reject", Some(json!({"status_code": 486})))
            .await
            .ok_gpt_live_control();
        env.gpt_live_post(&key, &forked, "hangup", None)
            .await
            .ok_gpt_live_control();

        let sent: Vec<RecordedRequest> = env.mock.requests()[before..].to_vec();
        assert_eq!(sent.len(), 6, "{sent:?}");
        let upstream_id = sent[0].path[prefix.len()..]
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        assert!(upstream.iter().any(|s| s["id"] == upstream_id.as_str()));
        assert_eq!(
            bytes.as_ref(),
            recording_bytes(recording_seed(&upstream_id)).as_slice()
        );
        for r in &sent {
            assert!(r.path.starts_with(prefix), "{} went to {}", dep, r.path);
            if azure {
                assert_eq!(header(r, "api-key"), AZURE_KEY);
                assert_eq!(header(r, "authorization"), "");
            } else {
                assert_eq!(header(r, "authorization"), format!("Bearer {OPENAI_KEY}"));
            }
        }
        let model = if azure {
            "my-live-deployment"
        } else {
            "gpt-live-1-2026-11"
        };
        assert_eq!(
            sent[0].body_json().unwrap(),
            json!({"session": {"type": "live", "model": model}})
        );
        assert_eq!(
            sent[1].body_json().unwrap(),
            json!({"target_uri": "tel:+14155550123"})
        );
        assert!(sent[2].path.ends_with("/fork"));
        assert_eq!(
            sent[2].body_json().unwrap(),
            json!({"transport": {"type": "webrtc", "sdp": SDP_OFFER}})
        );
        assert_eq!(sent[3].method, "GET");
        assert_eq!(sent[4].body_json().unwrap(), json!({"status_code": 486}));
        assert!(sent[5].path.ends_with("/hangup"));
        assert!(sent[5].body.is_empty());
    }
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn sessions_are_counted_once_and_creates_never_doubled() {
    let env = start_with_timeout(1_000).await;
    let key = env
        .new_key(json!({"models": ["gpt-live-*"], "realtime_sessions_per_day": 3}))
        .await;

    // A refusal moves on to the other deployment; one session, counted once.
    env.mock.push_fault(Fault::new(
        "/live/sessions",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let answer = env
        .gpt_live_create(&key, None, &create_body("gpt-live-1"))
        .await;
    let id = answer.ok()["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(env.upstream("/live/sessions").len(), 2);
    assert_eq!(env.gpt_live_sessions().await.len(), 1);

    // Controls and content count no session.
    env.gpt_live_post(
        &key,
        &id,
        "refer",
        Some(json!({"target_uri": "sip:a@b.example"})),
    )
    .await
    .ok_gpt_live_control();
    let recording = env
        .get(&key, &format!("/v1/live/sessions/{id}/content"))
        .await;
    assert_eq!(recording.status(), 200);

    // A fork is a session.
    env.gpt_live_post(
        &key,
        &id,
        "fork",
        Some(json!({"transport": {"type": "webrtc", "sdp": SDP_OFFER}})),
    )
    .await
    .ok();

    // No answer in time: not resent, not a 5xx; the hold is given back.
    env.mock.push_fault(Fault::new(
        "/live/sessions",
        1,
        FaultAction::Delay { ms: 2_500 },
    ));
    let before = env.upstream("/live/sessions").len();
    env.gpt_live_create(&key, None, &create_body("gpt-live-1"))
        .await
        .expect_error(424, "create_outcome_unknown");
    assert_eq!(env.upstream("/live/sessions").len(), before + 1);

    let third = env
        .gpt_live_create(&key, None, &create_body("gpt-live-1"))
        .await;
    third.ok();
    env.gpt_live_create(&key, None, &create_body("gpt-live-1"))
        .await
        .expect_error(429, "realtime_quota_exceeded");

    let info = env
        .send(env.http.get(env.url("/key/info")).bearer_auth(&key))
        .await
        .json();
    let usage = &info["info"]["usage"];
    assert_eq!(usage["today"]["realtime_sessions"], 3, "{usage}");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_precise_400s_and_reach_no_upstream() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["*"]})).await;
    let sdp = SDP_OFFER;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"session": {"model": "gpt-live-1", "temperature": 0.2}, "transport": {"type": "webrtc", "sdp": sdp}}),
            "invalid_request",
            "session.temperature",
        ),
        (
            json!({"session": {"model": "gpt-live-1", "delegation": {"type": "responses", "responses": {"model": "gpt-5.6", "stream": true}}},
                "transport": {"type": "webrtc", "sdp": sdp}}),
            "invalid_request",
            "session.delegation.responses.stream",
        ),
        (
            json!({"session": {"instructions": "hi"}, "transport": {"type": "webrtc", "sdp": sdp}}),
            "invalid_request",
            "session.model",
        ),
        (
            json!({"session": {"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 24000}}},
                "transport": {"type": "webrtc", "sdp": sdp}}),
            "invalid_request",
            "session.audio.format",
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "webrtc", "sdp": "hello"}}),
            "invalid_request",
            "transport.sdp",
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "sip"}}),
            "invalid_request",
            "transport.type",
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "webrtc", "sdp": sdp}, "model": "x"}),
            "invalid_request",
            "model",
        ),
        (
            json!({"session": {"model": "veo"}, "transport": {"type": "webrtc", "sdp": sdp}}),
            "model_not_found",
            "session.model",
        ),
    ];
    for (body, code, param) in cases {
        let answer = env.gpt_live_create(&key, None, &body).await;
        let status = if code == "model_not_found" { 404 } else { 400 };
        let error = answer.expect_error(status, code);
        assert_eq!(error["error"]["param"], param, "{body}");
    }
    let not_json = env
        .send(
            env.req(Method::POST, "/v1/live/sessions")
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await;
    not_json.expect_error(400, "invalid_json");
    env.send(
        env.req(Method::POST, "/v1/live/sessions")
            .bearer_auth(&key)
            .header("content-type", "application/sdp")
            .body(SDP_OFFER),
    )
    .await
    .expect_error(415, "unsupported_media_type");

    // Controls are checked before anything goes upstream.
    let id = env
        .gpt_live_create(&key, None, &create_body("gpt-live-azure"))
        .await
        .ok()["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (action, body, param) in [
        (
            "refer",
            json!({"target_uri": "https://example.com"}),
            "target_uri",
        ),
        ("reject", json!({"status_code": 200}), "status_code"),
        (
            "accept",
            json!({"session": {"type": "realtime", "model": "gpt-live-azure"}}),
            "session.type",
        ),
        (
            "accept",
            json!({"session": {"type": "live", "model": "gpt-live-1"}}),
            "session.model",
        ),
    ] {
        let error = env
            .gpt_live_post(&key, &id, action, Some(body))
            .await
            .expect_error(400, "invalid_request");
        assert_eq!(error["error"]["param"], param);
    }
    env.gpt_live_post(&key, &id, "transfer", None)
        .await
        .expect_error(404, "route_not_found");
    assert_eq!(env.upstream("/live/sessions").len(), 1);
    env.assert_no_leaks().await;
    env.stop().await;
}
