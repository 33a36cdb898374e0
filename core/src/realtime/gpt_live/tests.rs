use super::*;
use crate::access::AccessGroups;
use crate::plan::Auth;
use crate::seal::OWNER_LEN;
use serde_json::json;

const SDP: &str =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

fn config() -> Config {
    Config::parse(
        r#"{"model_groups":[
          {"name":"gpt-live-1","deployments":[
            {"id":"openai-live","provider":"openai","model":"gpt-live-1-2026-11","credential":"K1","api_base":"https://a.example"},
            {"id":"azure-live","provider":"azure","model":"my-live","credential":"K2","api_base":"https://b.openai.azure.com"}]},
          {"name":"veo","deployments":[
            {"id":"g","provider":"gemini","model":"veo-3.1-generate-preview","credential":"G"}]}]}"#,
    )
    .unwrap()
}

fn policy(rules: &[&str]) -> AccessPolicy {
    AccessPolicy::compile(rules, &AccessGroups::new()).unwrap()
}

/// The create the SDK sent in the reference capture.
fn captured() -> Value {
    json!({"session":{"model":"gpt-live-1","instructions":"Be brief","audio":{"output":{"voice":"marin"}},
      "store":true,"idle_timeout_s":30,"wake_policy":{"type":"speech","vad_threshold":0.6},
      "client":{"data_channel":{"allowed_client_events":["session.input_audio.mute"],"allowed_server_events":"all"}},
      "delegation":{"type":"responses","responses":{"model":"gpt-5.6","instructions":"backend"}}},
     "transport":{"type":"webrtc","sdp":SDP}})
}

fn parse(value: &Value) -> Result<CreateRequest, ClientError> {
    CreateRequest::parse(value.to_string().as_bytes())
}

#[test]
fn the_captured_create_round_trips_with_the_deployments_model() {
    let config = config();
    let request = parse(&captured()).unwrap();
    assert_eq!(request.model(), "gpt-live-1");
    let group = request
        .authorize(&config, &policy(&["gpt-live-*", "gpt-5.6"]))
        .unwrap();
    assert_eq!(group.name, "gpt-live-1");
    for (dep_id, url, auth, model) in [
        (
            "openai-live",
            "https://a.example/v1/live/sessions",
            Auth::Bearer,
            "gpt-live-1-2026-11",
        ),
        (
            "azure-live",
            "https://b.openai.azure.com/openai/v1/live/sessions",
            Auth::AzureApiKey,
            "my-live",
        ),
    ] {
        let (_, dep) = config.deployment(dep_id).unwrap();
        let plan = request.plan_for(dep).unwrap();
        assert_eq!(plan.url, url);
        assert_eq!(plan.auth, auth);
        assert_eq!(plan.method, Method::Post);
        let sent: Value = serde_json::from_str(plan.json_body.as_deref().unwrap()).unwrap();
        let mut expected = captured();
        expected["session"]["model"] = json!(model);
        assert_eq!(sent, expected);
    }
    let (_, gemini) = config.deployment("g").unwrap();
    let err = request.plan_for(gemini).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnsupportedValue);
    assert_eq!(err.param.as_deref(), Some("session.model"));
}

#[test]
fn nulls_are_left_out_and_custom_voices_and_decisions_kept() {
    let request = parse(&json!({
        "session": {"model": "gpt-live-1", "instructions": null, "delegation": null,
                    "audio": {"output": {"voice": {"id": "voice_123"}}},
                    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
        "transport": {"type": "webrtc", "sdp": SDP}}))
    .unwrap();
    let (_, dep) = config()
        .deployment("openai-live")
        .map(|(g, d)| (g.clone(), d.clone()))
        .unwrap();
    let sent: Value = serde_json::from_str(
        request
            .plan_for(&dep)
            .unwrap()
            .json_body
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        sent["session"],
        json!({"model": "gpt-live-1-2026-11", "audio": {"output": {"voice": {"id": "voice_123"}}},
               "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]})
    );
    let decisions = parse(&json!({
        "session": {"model": "gpt-live-1", "delegation": {"type": "decisions", "acknowledgement_delay_ms": 400,
            "decisions": {"model": "gpt-5.6-mini", "questions": [{"id": "q"}]}}},
        "transport": {"type": "webrtc", "sdp": SDP}}))
    .unwrap();
    assert_eq!(
        serde_json::to_value(decisions.session.delegation.as_ref().unwrap()).unwrap(),
        json!({"type": "decisions", "decisions": {"model": "gpt-5.6-mini", "questions": [{"id": "q"}]},
               "acknowledgement_delay_ms": 400})
    );
    let err = decisions
        .authorize(&config(), &policy(&["gpt-live-1"]))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ModelAccessDenied);
    assert_eq!(
        err.param.as_deref(),
        Some("session.delegation.decisions.model")
    );
}

#[test]
fn every_model_the_session_spends_on_is_authorized() {
    let config = config();
    let request = parse(&captured()).unwrap();
    let err = request
        .authorize(&config, &policy(&["gpt-live-*"]))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ModelAccessDenied);
    assert_eq!(
        err.param.as_deref(),
        Some("session.delegation.responses.model")
    );
    let err = request
        .authorize(&config, &policy(&["gpt-5.6"]))
        .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("session.model"));
    assert!(request.authorize(&config, &policy(&["*"])).is_ok());
}

#[test]
fn bad_bodies_name_the_field() {
    let cases: &[(Value, ErrorCode, Option<&str>)] = &[
        (
            json!({"transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session"),
        ),
        (
            json!({"session": {}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.model"),
        ),
        (
            json!({"session": {"model": "gpt-live-1"}}),
            ErrorCode::InvalidRequest,
            Some("transport"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "voice": "x"}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.voice"),
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "webrtc", "sdp": SDP}, "extra": 1}),
            ErrorCode::InvalidRequest,
            Some("extra"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "delegation": {"type": "responses", "responses": {"model": "m", "temperature": 1}}},
                "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.delegation.responses.temperature"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "delegation": {"type": "responses"}}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.delegation.responses"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "delegation": {"type": "robots"}}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.delegation.type"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 24000}}},
                "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.audio.format"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "wake_policy": {"type": "speech", "vad_threshold": 2}},
                "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.wake_policy.vad_threshold"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "store": "yes"}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.store"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "input": ["hi"]}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.input[0]"),
        ),
        (
            json!({"session": {"model": "gpt-live-1", "type": "live"}, "transport": {"type": "webrtc", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("session.type"),
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "websocket", "sdp": SDP}}),
            ErrorCode::InvalidRequest,
            Some("transport.type"),
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "webrtc", "sdp": "hello"}}),
            ErrorCode::InvalidRequest,
            Some("transport.sdp"),
        ),
        (
            json!({"session": {"model": "gpt-live-1"}, "transport": {"type": "webrtc"}}),
            ErrorCode::InvalidRequest,
            Some("transport.sdp"),
        ),
        (json!([1]), ErrorCode::InvalidRequest, None),
    ];
    for (body, code, param) in cases {
        let err = parse(body).unwrap_err();
        assert_eq!(err.code, *code, "{body}: {}", err.message);
        assert_eq!(err.param.as_deref(), *param, "{body}: {}", err.message);
    }
    assert_eq!(
        CreateRequest::parse(b"{nope").unwrap_err().code,
        ErrorCode::InvalidJson
    );
    let big = std::format!(
        "v=0\r\n{}",
        "a".repeat(crate::realtime::calls::MAX_SDP_BYTES)
    );
    let err =
        parse(&json!({"session": {"model": "m"}, "transport": {"type": "webrtc", "sdp": big}}))
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::PayloadTooLarge);
}

#[test]
fn the_websocket_takes_its_own_fields() {
    let config =
        json!({"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcmu", "rate": 8000}}});
    let parsed = SessionConfig::parse(&config, "session", ConfigUse::WebSocket).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), config);
    let bad =
        json!({"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcmu", "rate": 16000}}});
    let err = SessionConfig::parse(&bad, "session", ConfigUse::WebSocket).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("session.audio.format.rate"));
    let standby = json!({"model": "gpt-live-1", "idle_timeout_s": 30});
    let err = SessionConfig::parse(&standby, "session", ConfigUse::WebSocket).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("session.idle_timeout_s"));
}

fn sealer() -> Keys {
    Keys::derive(&[9u8; 32]).unwrap()
}

fn session(dep: &str) -> UpstreamId {
    UpstreamId {
        deployment: dep.into(),
        id: "live_123".into(),
        owner: Owner::key([4; OWNER_LEN]),
    }
}

#[test]
fn sealed_session_ids_open_for_their_owner_only() {
    let s = sealer();
    let owner = Owner::key([4; OWNER_LEN]);
    let id = seal_session_id(&s, owner, "azure-live", "live_123", 1).unwrap();
    assert!(id.starts_with("live_") && !id.contains("live_123"), "{id}");
    let opened = open_session_id(&s, &id, &owner).unwrap();
    assert_eq!(
        (opened.deployment.as_str(), opened.id.as_str()),
        ("azure-live", "live_123")
    );
    for err in [
        open_session_id(&s, &id, &Owner::key([5; OWNER_LEN])).unwrap_err(),
        open_session_id(&s, "live_123", &owner).unwrap_err(),
    ] {
        assert_eq!(err.code, ErrorCode::LiveSessionNotFound);
        assert_eq!(err.status(), 404);
    }
    let answer: Value = serde_json::from_str(&answer(&id, SDP)).unwrap();
    assert_eq!(
        answer,
        json!({"session": {"id": id}, "transport": {"type": "webrtc", "sdp": SDP}})
    );
}

#[test]
fn controls_go_to_the_sessions_deployment_with_checked_bodies() {
    let config = config();
    let (group, dep) = config.deployment("azure-live").unwrap();
    let all = policy(&["*"]);
    let hangup = plan_control(
        group,
        dep,
        &all,
        &session("azure-live"),
        Control::Hangup,
        b"",
    )
    .unwrap();
    assert_eq!(
        hangup.url,
        "https://b.openai.azure.com/openai/v1/live/sessions/live_123/hangup"
    );
    assert_eq!(hangup.auth, Auth::AzureApiKey);
    assert_eq!(hangup.json_body, None);
    let accept = plan_control(
        group,
        dep,
        &all,
        &session("azure-live"),
        Control::Accept,
        br#"{"session":{"type":"live","model":"gpt-live-1","instructions":"hi"}}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(accept.json_body.as_deref().unwrap()).unwrap(),
        json!({"session": {"type": "live", "model": "my-live", "instructions": "hi"}})
    );
    let refer = plan_control(
        group,
        dep,
        &all,
        &session("azure-live"),
        Control::Refer,
        br#"{"target_uri":"tel:+14155550123"}"#,
    )
    .unwrap();
    assert_eq!(
        refer.json_body.as_deref(),
        Some(r#"{"target_uri":"tel:+14155550123"}"#)
    );
    let reject = plan_control(
        group,
        dep,
        &all,
        &session("azure-live"),
        Control::Reject,
        br#"{"status_code":486}"#,
    )
    .unwrap();
    assert_eq!(reject.json_body.as_deref(), Some(r#"{"status_code":486}"#));
    let content = plan_content(group, dep, &all, &session("azure-live")).unwrap();
    assert_eq!(
        content.url,
        "https://b.openai.azure.com/openai/v1/live/sessions/live_123/content"
    );
    assert_eq!(content.method, Method::Get);

    let cases: &[(Control, &[u8], ErrorCode, Option<&str>)] = &[
        (
            Control::Refer,
            b"",
            ErrorCode::InvalidRequest,
            Some("target_uri"),
        ),
        (
            Control::Refer,
            br#"{"target_uri":"https://evil.example"}"#,
            ErrorCode::InvalidRequest,
            Some("target_uri"),
        ),
        (
            Control::Refer,
            br#"{"target_uri":"sip:a@b","x":1}"#,
            ErrorCode::InvalidRequest,
            Some("x"),
        ),
        (
            Control::Reject,
            b"",
            ErrorCode::InvalidRequest,
            Some("status_code"),
        ),
        (
            Control::Reject,
            br#"{"status_code":200}"#,
            ErrorCode::InvalidRequest,
            Some("status_code"),
        ),
        (
            Control::Reject,
            br#"{"status_code":700}"#,
            ErrorCode::InvalidRequest,
            Some("status_code"),
        ),
        (
            Control::Accept,
            br#"{"session":{"model":"gpt-live-1"}}"#,
            ErrorCode::InvalidRequest,
            Some("session.type"),
        ),
        (
            Control::Accept,
            br#"{"session":{"type":"realtime","model":"gpt-live-1"}}"#,
            ErrorCode::InvalidRequest,
            Some("session.type"),
        ),
        (
            Control::Accept,
            br#"{"session":{"type":"live","model":"veo"}}"#,
            ErrorCode::InvalidRequest,
            Some("session.model"),
        ),
        (
            Control::Accept,
            br#"{"session":{"type":"live","model":"gpt-live-1","client":{}}}"#,
            ErrorCode::InvalidRequest,
            Some("session.client"),
        ),
        (
            Control::Accept,
            br#"{"type":"live"}"#,
            ErrorCode::InvalidRequest,
            Some("type"),
        ),
        (
            Control::Hangup,
            br#"{"now":true}"#,
            ErrorCode::InvalidRequest,
            Some("now"),
        ),
        (Control::Hangup, b"{nope", ErrorCode::InvalidJson, None),
    ];
    for (control, body, code, param) in cases {
        let err =
            plan_control(group, dep, &all, &session("azure-live"), *control, body).unwrap_err();
        assert_eq!(
            err.code,
            *code,
            "{control:?} {}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            err.param.as_deref(),
            *param,
            "{control:?} {}",
            String::from_utf8_lossy(body)
        );
    }
    // A key that lost the model, or may not use a delegation's.
    let err = plan_control(
        group,
        dep,
        &policy(&["veo"]),
        &session("azure-live"),
        Control::Hangup,
        b"",
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::ModelAccessDenied);
    let err = plan_control(
        group,
        dep,
        &policy(&["gpt-live-1"]),
        &session("azure-live"),
        Control::Accept,
        br#"{"session":{"type":"live","model":"gpt-live-1","delegation":{"type":"responses","responses":{"model":"gpt-5.6"}}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.param.as_deref(),
        Some("session.delegation.responses.model")
    );
}

#[test]
fn forks_are_typed_and_their_delegation_authorized() {
    let config = config();
    let (group, dep) = config.deployment("openai-live").unwrap();
    let body = json!({"transport": {"type": "webrtc", "sdp": SDP},
                      "session": {"store": true, "delegation": {"type": "responses", "responses": {"model": "gpt-5.6"}}}});
    let fork = ForkRequest::parse(body.to_string().as_bytes()).unwrap();
    let plan = fork.plan(dep, &session("openai-live")).unwrap();
    assert_eq!(plan.url, "https://a.example/v1/live/sessions/live_123/fork");
    assert_eq!(
        serde_json::from_str::<Value>(plan.json_body.as_deref().unwrap()).unwrap(),
        body
    );
    assert!(fork.authorize(group, &policy(&["gpt-*"])).is_ok());
    let err = fork.authorize(group, &policy(&["gpt-live-1"])).unwrap_err();
    assert_eq!(
        err.param.as_deref(),
        Some("session.delegation.responses.model")
    );
    let bare = ForkRequest::parse(br#"{"transport":{"type":"webrtc","sdp":"v=0\r\n"}}"#).unwrap();
    assert_eq!(
        bare.plan(dep, &session("openai-live"))
            .unwrap()
            .json_body
            .as_deref(),
        Some(r#"{"transport":{"type":"webrtc","sdp":"v=0\r\n"}}"#)
    );
    let err = ForkRequest::parse(
        br#"{"transport":{"type":"webrtc","sdp":"v=0\r\n"},"session":{"model":"x"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("session.model"));
}

#[test]
fn upstream_answers_are_read_and_unknown_outcomes_are_424() {
    let created = parse_created(
        br#"{"session":{"id":"live_9"},"transport":{"type":"webrtc","sdp":"v=0\r\n"}}"#,
    )
    .unwrap();
    assert_eq!(
        created,
        Created {
            id: "live_9".into(),
            sdp: "v=0\r\n".into()
        }
    );
    for bad in [
        &b"nope"[..],
        br#"{"session":{}}"#,
        br#"{"session":{"id":"x"},"transport":{}}"#,
    ] {
        assert!(parse_created(bad).is_err());
    }
    for code in [
        ErrorCode::UpstreamTimeout,
        ErrorCode::UpstreamNetwork,
        ErrorCode::BadUpstreamResponse,
    ] {
        let err = create_outcome_unknown(ClientError::from_code(code), false);
        assert_eq!(err.code, ErrorCode::CreateOutcomeUnknown);
        assert_eq!(err.status(), 424);
    }
    assert_eq!(
        create_outcome_unknown(
            ClientError::from_code(ErrorCode::UpstreamUnavailable),
            false
        )
        .code,
        ErrorCode::UpstreamUnavailable
    );
    assert_eq!(
        create_outcome_unknown(ClientError::from_code(ErrorCode::Internal), true).code,
        ErrorCode::CreateOutcomeUnknown
    );
}
