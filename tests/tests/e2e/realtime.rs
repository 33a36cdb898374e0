//! Realtime sessions end to end: the built Worker in workerd (Miniflare)
//! against the mock OpenAI / Azure Realtime API. Minting (`client_secrets`),
//! the WebRTC SDP exchange with a reelay token and with a virtual key, call
//! control through the sealed `Location`, forged / truncated / foreign /
//! expired tokens, revocation between mint and call, access rules, the
//! daily session quota and its refund — and, throughout, that no provider
//! key and no upstream ephemeral key ever reaches a client or a log line.

use reelay_core::encoding::sha256;
use reelay_core::realtime::{SessionKind, TokenClaims, UpstreamKey};
use reelay_core::seal::Keys;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream, RecordedRequest};
use serde_json::{json, Value};

use crate::harness::{Answer, Env, AZURE_KEY, GEMINI_KEY, OPENAI_KEY, SDP_OFFER};

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
            {"name": "gpt-4o-transcribe", "deployments": [
                {"id": "openai-tr", "provider": "openai", "model": "gpt-4o-transcribe",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo", "provider": "gemini", "model": "veo-3.1-generate-preview",
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
                ("AZURE_OPENAI_KEY", AZURE_KEY),
                ("GEMINI_API_KEY", GEMINI_KEY),
            ],
        )
    })
    .await
}

impl Env {
    async fn call_sdp(&self, bearer: &str, sdp: &str) -> Answer {
        self.send(
            self.http
                .post(self.url("/v1/realtime/calls"))
                .bearer_auth(bearer)
                .header("content-type", "application/sdp")
                .body(sdp.to_owned()),
        )
        .await
    }

    async fn call_multipart(&self, bearer: &str, session: Option<Value>) -> Answer {
        let mut form = reqwest::multipart::Form::new().part(
            "sdp",
            reqwest::multipart::Part::text(SDP_OFFER)
                .mime_str("application/sdp")
                .unwrap(),
        );
        if let Some(session) = session {
            form = form.part(
                "session",
                reqwest::multipart::Part::text(session.to_string())
                    .mime_str("application/json")
                    .unwrap(),
            );
        }
        self.send(
            self.http
                .post(self.url("/v1/realtime/calls"))
                .bearer_auth(bearer)
                .multipart(form),
        )
        .await
    }

    async fn control(
        &self,
        bearer: &str,
        location: &str,
        action: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .post(self.url(&format!("{location}/{action}")))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }
}

fn header<'a>(r: &'a RecordedRequest, name: &str) -> &'a str {
    r.header(name).unwrap_or("")
}

#[tokio::test]
async fn openai_mint_call_and_control() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;

    // Mint: the upstream sees the deployment's model and the real key; the
    // client gets a reelay token, the upstream's expiry and its own model name.
    let minted = env
        .mint_realtime(
            &key,
            json!({"expires_after": {"anchor": "created_at", "seconds": 99999},
                   "session": {"type": "realtime", "model": "gpt-realtime",
                               "instructions": "be brief", "audio": {"output": {"voice": "marin"}}}}),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text);
    assert_eq!(minted.header("cache-control").as_deref(), Some("no-store"));
    let body = minted.json();
    let token = body["value"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ek_rl_"), "{token}");
    assert_eq!(body["session"]["model"], "gpt-realtime");
    assert_eq!(body["session"]["object"], "realtime.session");
    assert_eq!(body["session"]["instructions"], "be brief");
    let sent = env.upstream("/v1/realtime/client_secrets");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        format!("Bearer {OPENAI_KEY}")
    );
    let sent_body = sent[0].body_json().unwrap();
    assert_eq!(sent_body["session"]["model"], "gpt-realtime-2025-08-28");
    assert_eq!(sent_body["expires_after"]["seconds"], 7200, "clamped");
    let issued = env.issued_keys().await;
    assert_eq!(issued.len(), 1);
    let state = env.realtime_state().await;
    assert_eq!(body["expires_at"], state["ephemeral_keys"][0]["expires_at"]);

    // SDP with the token: the mock sees the ephemeral key, the client a sealed Location.
    let call = env.call_sdp(&token, SDP_OFFER).await;
    assert_eq!(call.status, 201, "{}", call.text);
    assert_eq!(
        call.header("content-type").as_deref(),
        Some("application/sdp")
    );
    assert!(call.text.starts_with("v=0\r\n"), "{}", call.text);
    assert!(call.text.contains("\r\nm=audio "));
    let location = call.header("location").expect("a Location");
    assert!(
        location.starts_with("/v1/realtime/calls/rtc_"),
        "{location}"
    );
    let sent = env.upstream("/v1/realtime/calls");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        format!("Bearer {}", issued[0])
    );
    assert!(header(&sent[0], "content-type").starts_with("application/sdp"));
    assert_eq!(String::from_utf8_lossy(&sent[0].body), SDP_OFFER);
    let upstream_call = {
        let state = env.realtime_state().await;
        state["calls"][0]["id"].as_str().unwrap().to_owned()
    };
    assert!(
        !location.contains(&upstream_call),
        "the upstream call id is sealed"
    );

    // Call control through reelay's Location: with the token, then the key.
    let accepted = env
        .control(
            &token,
            &location,
            "accept",
            Some(json!({"type": "realtime", "model": "gpt-realtime", "instructions": "hi"})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let sent = env.upstream("/accept");
    assert_eq!(
        sent[0].path,
        format!("/v1/realtime/calls/{upstream_call}/accept")
    );
    assert_eq!(
        header(&sent[0], "authorization"),
        format!("Bearer {OPENAI_KEY}")
    );
    assert_eq!(
        sent[0].body_json().unwrap()["model"],
        "gpt-realtime-2025-08-28"
    );
    let hung = env.control(&key, &location, "hangup", None).await;
    assert_eq!(hung.status, 200, "{}", hung.text);
    assert_eq!(hung.text, "");
    // The upstream forgot the call: its 404 comes back classified.
    env.control(&key, &location, "hangup", None)
        .await
        .expect_error(404, "upstream_not_found");
    // refer / reject are validated before anything goes upstream.
    env.control(&key, &location, "refer", Some(json!({})))
        .await
        .expect_error(400, "invalid_request");
    env.control(&key, &location, "transfer", None)
        .await
        .expect_error(404, "route_not_found");

    // Another key cannot touch the call; a tampered call id is unknown.
    let other = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    env.control(&other, &location, "hangup", None)
        .await
        .expect_error(404, "realtime_call_not_found");
    let mut tampered = location.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    env.control(&key, &tampered, "hangup", None)
        .await
        .expect_error(404, "realtime_call_not_found");
    env.control(&key, "/v1/realtime/calls/rtc_abc", "hangup", None)
        .await
        .expect_error(404, "realtime_call_not_found");

    // The log line names the model and deployment, never a secret.
    let logs = env.gateway.log_lines();
    assert!(
        logs.iter()
            .any(|l| l.contains("\"/v1/realtime/calls\"") && l.contains("openai-rt")),
        "{logs:?}"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn azure_ga_shapes() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["azure-*"]})).await;
    let token = env.realtime_token(&key, "azure-realtime").await;
    let sent = env.upstream("/openai/v1/realtime/client_secrets");
    assert_eq!(sent.len(), 1, "Azure GA path, no api-version");
    assert_eq!(sent[0].query, None);
    assert_eq!(header(&sent[0], "api-key"), AZURE_KEY);
    assert_eq!(header(&sent[0], "authorization"), "");
    assert_eq!(
        sent[0].body_json().unwrap()["session"]["model"],
        "my-realtime-deployment"
    );

    let call = env.call_sdp(&token, SDP_OFFER).await;
    assert_eq!(call.status, 201, "{}", call.text);
    let location = call.header("location").unwrap();
    assert!(
        location.starts_with("/v1/realtime/calls/rtc_"),
        "{location}"
    );
    let sent = env.upstream("/openai/v1/realtime/calls");
    assert_eq!(sent.len(), 1);
    let issued = env.issued_keys().await;
    assert_eq!(
        header(&sent[0], "authorization"),
        format!("Bearer {}", issued[0])
    );

    // Control goes to the Azure resource with its api-key (also via /openai/v1).
    let hung = env
        .send(
            env.http
                .post(env.url(&format!("/openai{location}/hangup")))
                .bearer_auth(&key),
        )
        .await;
    assert_eq!(hung.status, 200, "{}", hung.text);
    let sent = env.upstream("/hangup");
    assert!(sent[0].path.starts_with("/openai/v1/realtime/calls/rtc_"));
    assert_eq!(header(&sent[0], "api-key"), AZURE_KEY);

    // `/realtime/client_secrets` (no /v1) and `api-key` auth work too.
    let minted = env
        .send(
            env.http
                .post(env.url("/realtime/client_secrets"))
                .header("api-key", &key)
                .json(&json!({"session": {"type": "realtime", "model": "azure-realtime"}})),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn multipart_calls_with_a_key_or_a_token_and_transcription() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-*"]})).await;

    // A server with its virtual key: session names the model group.
    let call = env
        .call_multipart(
            &key,
            Some(json!({"type": "realtime", "model": "gpt-realtime", "instructions": "hi"})),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.text);
    assert!(call
        .header("location")
        .unwrap()
        .starts_with("/v1/realtime/calls/rtc_"));
    let sent = env.upstream("/v1/realtime/calls");
    assert_eq!(
        header(&sent[0], "authorization"),
        format!("Bearer {OPENAI_KEY}")
    );
    let body = String::from_utf8_lossy(&sent[0].body).into_owned();
    assert!(body.contains("name=\"sdp\""), "{body}");
    assert!(
        body.contains("\"model\":\"gpt-realtime-2025-08-28\""),
        "{body}"
    );
    assert!(!body.contains("\"model\":\"gpt-realtime\""), "{body}");
    let location = call.header("location").unwrap();
    assert_eq!(
        env.control(&key, &location, "hangup", None).await.status,
        200
    );

    // Without a session a key cannot pick a model.
    env.call_multipart(&key, None)
        .await
        .expect_error(400, "invalid_request");
    env.call_sdp(&key, SDP_OFFER)
        .await
        .expect_error(400, "invalid_request");
    // Not an SDP offer.
    let token = env.realtime_token(&key, "gpt-realtime").await;
    env.call_sdp(&token, "hello")
        .await
        .expect_error(400, "invalid_request");

    // The SDK's form with a token: the session's model is the token's.
    let call = env
        .call_multipart(
            &token,
            Some(json!({"type": "realtime", "model": "gpt-realtime"})),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.text);
    let sent = env.upstream("/v1/realtime/calls");
    let issued = env.issued_keys().await;
    assert_eq!(
        header(sent.last().unwrap(), "authorization"),
        format!("Bearer {}", issued[0])
    );
    env.call_multipart(
        &token,
        Some(json!({"type": "realtime", "model": "gpt-4o-transcribe"})),
    )
    .await
    .expect_error(400, "invalid_request");

    // A transcription session: minted on the transcription model, called with SDP.
    let minted = env
        .mint_realtime(
            &key,
            json!({"session": {"type": "transcription",
                   "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}}),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text);
    let body = minted.json();
    assert_eq!(body["session"]["type"], "transcription");
    assert_eq!(
        body["session"]["audio"]["input"]["transcription"]["model"],
        "gpt-4o-transcribe"
    );
    let tr_token = body["value"].as_str().unwrap();
    assert_eq!(env.call_sdp(tr_token, SDP_OFFER).await.status, 201);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn forged_truncated_foreign_and_expired_tokens_are_401() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let token = env.realtime_token(&key, "gpt-realtime").await;

    let mid = token.len() / 2;
    let flip = |c: char| if c == 'A' { 'B' } else { 'A' };
    let forged: String = token
        .char_indices()
        .map(|(i, c)| if i == mid { flip(c) } else { c })
        .collect();
    let truncated = token[..token.len() - 5].to_owned();
    // Well-formed, but sealed under another SEALING_KEY.
    let foreign = TokenClaims {
        id: [7; 12],
        kind: SessionKind::Realtime,
        expires_at: u64::MAX,
        key_hash: sha256(key.as_bytes()),
        deployment: "openai-rt".into(),
        model: "gpt-realtime".into(),
        upstream_key: UpstreamKey::new("ek_0123456789abcdef0123456789abcdef"),
        origin: None,
        subject: None,
    }
    .seal(&Keys::derive(b"another-sealing-key-0123456789abcdef0123").unwrap())
    .unwrap();
    for bad in [
        forged.as_str(),
        truncated.as_str(),
        foreign.as_str(),
        "ek_rl_",
        "ek_rl_AAAA",
    ] {
        let answer = env.call_sdp(bad, SDP_OFFER).await;
        let body = answer.expect_error(401, "invalid_realtime_token");
        assert_eq!(body["error"]["type"], "authentication_error");
        let answer = env
            .control(bad, "/v1/realtime/calls/rtc_x", "hangup", None)
            .await;
        answer.expect_error(401, "invalid_realtime_token");
    }
    // Something that looks like an upstream key is just an unknown API key.
    env.call_sdp("ek_0123456789abcdef0123456789abcdef", SDP_OFFER)
        .await
        .expect_error(401, "invalid_api_key");

    // Expired (the mock mints it one second in the past): refused by reelay.
    let minted = env
        .mint_realtime(
            &key,
            json!({"session": {"type": "realtime", "model": "gpt-realtime",
                               "instructions": "[[expired]]"}}),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text);
    let expired = minted.json()["value"].as_str().unwrap().to_owned();
    let body = env
        .call_sdp(&expired, SDP_OFFER)
        .await
        .expect_error(401, "realtime_token_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mint a new one"));

    // None of them reached the upstream.
    assert!(env.upstream("/v1/realtime/calls").is_empty());
    assert!(env.upstream("/hangup").is_empty());
    // The good token still works.
    assert_eq!(env.call_sdp(&token, SDP_OFFER).await.status, 201);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn revocation_and_access_changes_apply_between_mint_and_call() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["gpt-realtime"]})).await;
    let first = env.realtime_token(&key, "gpt-realtime").await;
    let second = env.realtime_token(&key, "gpt-realtime").await;
    let call = env.call_sdp(&first, SDP_OFFER).await;
    assert_eq!(call.status, 201);
    let location = call.header("location").unwrap();

    // The key loses access to the model: its tokens stop working at once.
    env.admin("/key/update", json!({"key": key, "models": ["veo-*"]}))
        .await;
    env.call_sdp(&second, SDP_OFFER)
        .await
        .expect_error(403, "key_model_access_denied");
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["gpt-realtime"]}),
    )
    .await;
    assert_eq!(env.call_sdp(&second, SDP_OFFER).await.status, 201);

    // Deleted: every token it minted is refused, and so is call control.
    env.admin("/key/delete", json!({"keys": [key]})).await;
    let before = env.upstream("/v1/realtime/calls").len();
    env.call_sdp(&second, SDP_OFFER)
        .await
        .expect_error(401, "invalid_realtime_token");
    env.control(&first, &location, "hangup", None)
        .await
        .expect_error(401, "invalid_realtime_token");
    assert_eq!(env.upstream("/v1/realtime/calls").len(), before);
    assert!(env.upstream("/hangup").is_empty());
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn access_rules_and_bad_requests() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let denied = env
        .mint_realtime(
            &key,
            json!({"session": {"type": "realtime", "model": "gpt-realtime"}}),
        )
        .await;
    let body = denied.expect_error(403, "key_model_access_denied");
    assert_eq!(body["error"]["param"], "session.model");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("veo-*"),
        "{body}"
    );
    env.call_multipart(
        &key,
        Some(json!({"type": "realtime", "model": "gpt-realtime"})),
    )
    .await
    .expect_error(403, "key_model_access_denied");
    assert!(env.upstream("/realtime/client_secrets").is_empty());
    assert!(env.upstream("/realtime/calls").is_empty());

    let all = env.new_key(json!({})).await;
    env.mint_realtime(
        &all,
        json!({"session": {"type": "realtime", "model": "veo-3.1"}}),
    )
    .await
    .expect_error(400, "unsupported_value");
    env.mint_realtime(
        &all,
        json!({"session": {"type": "realtime", "model": "nope"}}),
    )
    .await
    .expect_error(404, "model_not_found");
    env.mint_realtime(&all, json!({"session": {"type": "realtime"}}))
        .await
        .expect_error(400, "invalid_request");
    env.mint_realtime(
        &all,
        json!({"session": {"type": "chat", "model": "gpt-realtime"}}),
    )
    .await
    .expect_error(400, "unsupported_value");
    let bad_json = env
        .send(
            env.http
                .post(env.url("/v1/realtime/client_secrets"))
                .bearer_auth(&all)
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await;
    bad_json.expect_error(400, "invalid_json");
    env.send(env.http.post(env.url("/v1/realtime/client_secrets")))
        .await
        .expect_error(401, "missing_api_key");
    env.send(
        env.http
            .get(env.url("/v1/realtime/client_secrets"))
            .bearer_auth(&all),
    )
    .await
    .expect_error(405, "method_not_allowed");
    env.send(
        env.http
            .post(env.url("/v1/realtime/calls"))
            .bearer_auth(&all)
            .header("content-type", "image/png")
            .body("x"),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn daily_sessions_are_counted_and_failed_mints_refunded() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["gpt-*"], "realtime_sessions_per_day": 1}))
        .await;
    let session = json!({"session": {"type": "realtime", "model": "gpt-realtime"}});

    // The upstream refuses the mint: nothing is charged.
    env.mock.push_fault(Fault::new(
        "/v1/realtime/client_secrets",
        1,
        FaultAction::Status {
            status: 400,
            headers: vec![],
            body: r#"{"error":{"message":"Invalid session.","type":"invalid_request_error","param":null,"code":null}}"#
                .into(),
        },
    ));
    env.mint_realtime(&key, session.clone())
        .await
        .expect_error(400, "upstream_bad_request");

    let ok = env.mint_realtime(&key, session.clone()).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.header("x-ratelimit-limit-realtime-sessions").as_deref(),
        Some("1")
    );
    assert_eq!(
        ok.header("x-ratelimit-remaining-realtime-sessions")
            .as_deref(),
        Some("0")
    );
    let denied = env.mint_realtime(&key, session.clone()).await;
    let body = denied.expect_error(429, "realtime_quota_exceeded");
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert!(denied.header("retry-after").is_some());
    assert_eq!(env.upstream("/v1/realtime/client_secrets").len(), 2);

    // A call with the key starts a session too.
    env.call_multipart(
        &key,
        Some(json!({"type": "realtime", "model": "gpt-realtime"})),
    )
    .await
    .expect_error(429, "realtime_quota_exceeded");
    assert!(env.upstream("/v1/realtime/calls").is_empty());

    let info = env
        .send(env.http.get(env.url("/key/info")).bearer_auth(&key))
        .await
        .json();
    let usage = &info["info"]["usage"];
    assert_eq!(usage["today"]["realtime_sessions"], 1, "{usage}");
    assert_eq!(usage["totals"]["realtime_sessions"], 1, "{usage}");
    env.assert_no_leaks().await;
    env.stop().await;
}
