use super::*;
use crate::config::policy::Prices;
use serde_json::json;

const NOW: u64 = 1_790_000_000_000;

fn dep(provider: Provider) -> Deployment {
    Deployment {
        id: "gemini-live-1".into(),
        provider,
        model: "gemini-3.8-live".into(),
        api_base: "https://generativelanguage.googleapis.com".into(),
        credential: "K".into(),
        weight: 1,
        video_seconds: Vec::new(),
        timeout_ms: 1000,
        vertex: None,
        prices: Prices::default(),
    }
}

fn keys() -> Keys {
    Keys::derive(&[9u8; 32]).unwrap()
}

#[test]
fn routes() {
    assert_eq!(
        interactions_route(&["v1", "interactions", "live"]),
        Some(InteractionsRoute::Socket)
    );
    assert_eq!(
        interactions_route(&["gemini", "v1beta", "interactions", "live"]),
        Some(InteractionsRoute::Socket)
    );
    assert_eq!(
        interactions_route(&["gemini", "v1alpha", "interactions", "int_x", "auth_tokens"]),
        Some(InteractionsRoute::MintToken { id: "int_x" })
    );
    assert_eq!(
        interactions_route(&["v1", "interactions", "int_x", "auth_tokens", "lt_rl_y"]),
        Some(InteractionsRoute::RevokeToken {
            id: "int_x",
            token: "lt_rl_y"
        })
    );
    // REST interactions are another door's.
    assert_eq!(interactions_route(&["gemini", "v1", "interactions"]), None);
    assert_eq!(
        interactions_route(&["gemini", "v1", "interactions", "int_x"]),
        None
    );
    assert_eq!(interactions_route(&["v9", "interactions", "live"]), None);
    assert_eq!(
        interactions_route(&["vertex_ai", "v1", "interactions", "live"]),
        None
    );
}

#[test]
fn revisions_and_urls() {
    assert_eq!(api_revision("2026-05-20"), Some("2026-05-20"));
    assert_eq!(api_revision("2026-05-20\r\nx: y"), None);
    assert_eq!(api_revision("latest"), None);
    assert_eq!(
        upstream_url(&dep(Provider::Gemini)).unwrap(),
        "https://generativelanguage.googleapis.com/v1beta/interactions/live"
    );
    assert_eq!(
        upstream_url(&dep(Provider::OpenAi)).unwrap_err().code,
        ErrorCode::UnsupportedValue
    );
}

#[test]
fn first_frames_open_or_are_refused() {
    let f = FirstFrame::parse(
        br#"{"event_type":"interaction.connect","id":"int_a","background":true}"#,
    )
    .unwrap();
    assert_eq!(f.opening(), &Opening::Connect { id: "int_a".into() });
    let up: Value =
        serde_json::from_str(&f.upstream_text(&dep(Provider::Gemini), Some("v1_up"))).unwrap();
    assert_eq!(
        up,
        json!({"event_type":"interaction.connect","id":"v1_up","background":true})
    );

    let f = FirstFrame::parse(
        br#"{"events":[{"event_type":"interaction.create","model":"models/gemini-live","previous_interaction_id":"int_p"},
                       {"event_type":"input","content":[{"type":"text","text":"hi"}]}]}"#,
    )
    .unwrap();
    assert_eq!(f.group_name(), Some("gemini-live"));
    assert_eq!(
        f.opening(),
        &Opening::Create {
            model: "models/gemini-live".into(),
            previous: Some("int_p".into())
        }
    );
    let up: Value =
        serde_json::from_str(&f.upstream_text(&dep(Provider::Gemini), Some("v1_p"))).unwrap();
    assert_eq!(up["events"][0]["model"], "gemini-3.8-live");
    assert_eq!(up["events"][0]["previous_interaction_id"], "v1_p");
    assert_eq!(up["events"][1]["event_type"], "input");

    for (bad, code) in [
        (&b"nope"[..], ErrorCode::InvalidJson),
        (b"[]", ErrorCode::InvalidRequest),
        (br#"{"event_type":"input","content":[]}"#, ErrorCode::InvalidRequest),
        (br#"{"event_type":"interaction.connect"}"#, ErrorCode::InvalidRequest),
        (br#"{"event_type":"interaction.connect","id":7}"#, ErrorCode::InvalidRequest),
        (br#"{"event_type":"interaction.create"}"#, ErrorCode::InvalidRequest),
        (br#"{"events":[]}"#, ErrorCode::InvalidRequest),
        (br#"{"events":[{"event_type":"interaction.connect","id":"a"},{"event_type":"interaction.connect","id":"b"}]}"#, ErrorCode::InvalidRequest),
        (br#"{"events":[{"event_type":"interaction.connect","id":"a"}],"id":"b"}"#, ErrorCode::InvalidRequest),
        (br#"{"event_type":"interaction.connect","id":"a","background":"yes"}"#, ErrorCode::InvalidRequest),
    ] {
        assert_eq!(FirstFrame::parse(bad).unwrap_err().code, code, "{}", String::from_utf8_lossy(bad));
    }
}

fn guard() -> InteractionGuard {
    let sealer = Sealer {
        keys: keys(),
        owner: Owner::of(&[4; 32], None),
        deployment: "gemini-live-1".into(),
        now_ms: NOW,
    };
    InteractionGuard::new(
        sealer,
        Some(("v1_up".into(), "int_client".into())),
        Redactor::of(["SECRET-KEY-123456"]),
    )
}

#[test]
fn later_client_frames_are_guarded() {
    let mut g = guard();
    let input = r#"{"event_type":"input","content":[{"type":"audio","mime_type":"audio/pcm","data":"AAAA"}]}"#;
    match g.client_text(input) {
        Verdict::Rewrite(t) => assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap(),
            serde_json::from_str::<Value>(input).unwrap()
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        g.client_binary(br#"{"events":[{"event_type":"interaction.complete"}]}"#),
        Verdict::Rewrite(_)
    ));
    for bad in [
        r#"{"event_type":"interaction.connect","id":"int_other"}"#,
        r#"{"events":[{"event_type":"input"},{"event_type":"interaction.create","model":"x"}]}"#,
        r#"{"event_type":"session.update"}"#,
        r#"{"content":[]}"#,
        "not json",
    ] {
        let Verdict::Refuse(err) = g.client_text(bad) else {
            panic!("{bad} passed");
        };
        let event: Value = serde_json::from_str(&g.refusal(&err).unwrap()).unwrap();
        assert_eq!(event["event_type"], "error");
    }
    assert!(matches!(g.client_binary(&[0xff, 0xfe]), Verdict::Refuse(_)));
}

#[test]
fn server_ids_are_sealed_and_errors_redacted() {
    let mut g = guard();
    let Verdict::Rewrite(t) =
        g.upstream_text(r#"{"event_type":"interaction.created","interaction_id":"v1_new"}"#)
    else {
        panic!("not sealed");
    };
    let created: Value = serde_json::from_str(&t).unwrap();
    let sealed = created["interaction_id"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("int_"), "{sealed}");
    let opened = keys()
        .open_upstream_id(Purpose::Interaction, &sealed, &Owner::of(&[4; 32], None))
        .unwrap();
    assert_eq!(
        (opened.deployment.as_str(), opened.id.as_str()),
        ("gemini-live-1", "v1_new")
    );
    // The connected interaction keeps the id the client sent; batches too.
    let Verdict::Rewrite(t) = g.upstream_binary(
        br#"{"events":[{"event_type":"interaction.connected","id":"v1_up"},{"event_type":"interaction.completed","interaction":{"id":"v1_new"}}]}"#,
    ) else {
        panic!("not sealed");
    };
    let batch: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(batch["events"][0]["id"], "int_client");
    assert_eq!(batch["events"][1]["interaction"]["id"], sealed.as_str());
    // Audio deltas pass untouched.
    assert_eq!(
        g.upstream_text(
            r#"{"event_type":"step.delta","index":1,"delta":{"type":"audio","data":"AAAA"}}"#
        ),
        Verdict::Pass
    );
    let Verdict::Rewrite(t) = g.upstream_text(
        r#"{"event_type":"error","error":{"code":"x","message":"bad key SECRET-KEY-123456"}}"#,
    ) else {
        panic!("not redacted");
    };
    assert!(!t.contains("SECRET-KEY-123456"), "{t}");
}

#[test]
fn token_bodies() {
    assert_eq!(
        TokenRequest::parse(b"", NOW).unwrap().expires_at_ms,
        NOW + DEFAULT_EXPIRE_MS
    );
    let body = json!({"expire_time": crate::time::rfc3339(NOW + 60_000)}).to_string();
    let r = TokenRequest::parse(body.as_bytes(), NOW).unwrap();
    assert_eq!(r.expires_at_ms, NOW + 60_000);
    assert!(TokenRequest::parse(br#"{"expire_time":"2001-01-01T00:00:00Z"}"#, NOW).is_err());
    assert!(TokenRequest::parse(br#"{"expire_time":"2027-09-21T14:13:20Z"}"#, NOW - 1).is_err());
    assert_eq!(
        TokenRequest::parse(br#"{"uses":3}"#, NOW)
            .unwrap_err()
            .param
            .as_deref(),
        Some("uses")
    );
    assert_eq!(
        TokenRequest::parse(b"{", NOW).unwrap_err().code,
        ErrorCode::InvalidJson
    );
}

#[test]
fn tokens_round_trip_bind_their_interaction_and_never_pass_as_setup_tokens() {
    let k = keys();
    let r = TokenRequest::parse(b"{}", NOW).unwrap();
    let claims =
        InteractionTokenClaims::mint(&r, [4; 32], [5; 12], "gemini-live-1", "v1_up", Minter::Key);
    let token = claims.seal(&k).unwrap();
    assert!(token.starts_with("lt_rl_"));
    let opened = InteractionTokenClaims::open(&k, &format!("auth_tokens/{token}"), NOW).unwrap();
    assert_eq!(opened, claims);
    assert!(opened.check_interaction("gemini-live-1", "v1_up").is_ok());
    assert_eq!(
        opened
            .check_interaction("gemini-live-1", "v1_other")
            .unwrap_err()
            .code,
        ErrorCode::InvalidLiveToken
    );
    assert_eq!(opened.session_use().max, TOKEN_MAX_USES);
    assert!(!opened.session_use().allows_another(REVOKED_USES - 1));
    assert_eq!(
        InteractionTokenClaims::open(&k, &token, claims.expires_at_ms).unwrap_err(),
        seal::Error::Expired(claims.expires_at_ms / 1000)
    );
    // Neither kind opens as the other.
    assert_eq!(
        super::super::live::LiveTokenClaims::open(&k, &token, NOW).unwrap_err(),
        seal::Error::Malformed
    );
    let setup = super::super::live::AuthTokenRequest::parse(b"", NOW).unwrap();
    let live = super::super::live::LiveTokenClaims::mint(&setup, [4; 32], [6; 12], Minter::Key)
        .seal(&k)
        .unwrap();
    assert_eq!(
        InteractionTokenClaims::open(&k, &live, NOW).unwrap_err(),
        seal::Error::Malformed
    );
    let answer = token_answer(&token, &claims);
    assert_eq!(answer["auth_token"], format!("auth_tokens/{token}"));
    assert_eq!(
        answer["expires_at"],
        crate::time::rfc3339(NOW + DEFAULT_EXPIRE_MS)
    );
}

#[test]
fn a_browser_token_mints_nothing_that_outlives_or_outreaches_it() {
    let bt = crate::browser_token::Claims {
        parent_hash: [4; 32],
        issued_at_secs: NOW / 1000,
        expires_at_secs: NOW / 1000 + 10,
        id: [1; 8],
        origin: Some("https://app.example.com".into()),
        models: alloc::vec!["gemini-live".into()],
        subject: [6; SUBJECT_LEN],
    };
    let r = TokenRequest::parse(b"{}", NOW).unwrap();
    let claims = InteractionTokenClaims::mint(
        &r,
        [4; 32],
        [5; 12],
        "d",
        "v1_up",
        Minter::BrowserToken(&bt),
    );
    assert_eq!(claims.expires_at_ms, NOW + 10_000);
    assert_eq!(claims.owner(), bt.owner());
    let opened =
        InteractionTokenClaims::open(&keys(), &claims.seal(&keys()).unwrap(), NOW).unwrap();
    assert_eq!(opened, claims);
    assert!(opened
        .check_origin(Some("https://evil.example.com"))
        .is_err());
    assert!(opened.narrowing(&AccessGroups::new()).unwrap().is_some());
}
