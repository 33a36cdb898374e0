//! The Realtime Translation socket through the shared realtime socket
//! plans and guard (`realtime::ws`): where a translation socket goes, with
//! which credential, and that its guard relays only translation events,
//! shows the model group and redacts upstream errors.

#![allow(clippy::unwrap_used, clippy::panic)]

use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::config::Config;
use reelay_core::plan::Auth;
use reelay_core::realtime::token::{TokenClaims, UpstreamKey};
use reelay_core::realtime::translation::SocketQuery;
use reelay_core::realtime::ws::{
    plan_translation_with_key, plan_translation_with_token, SessionGuard, Verdict, WsCredential,
};
use reelay_core::realtime::SessionKind;
use reelay_core::redact::Redactor;
use serde_json::{json, Value};

const EK: &str = "ek_68af296e8e408191a1120ab6383263c2";

fn config() -> Config {
    Config::parse(
        r#"{"model_groups":[
          {"name":"gpt-realtime-translate","deployments":[
            {"id":"openai-tr","provider":"openai","model":"gpt-realtime-translate-2026-11","credential":"OPENAI_KEY","api_base":"https://api.example"}]},
          {"name":"azure-translate","deployments":[
            {"id":"azure-tr","provider":"azure","model":"my-translate","credential":"AZURE_KEY","api_base":"https://res.openai.azure.com"}]}]}"#,
    )
    .unwrap()
}

fn policy(rules: &[&str]) -> AccessPolicy {
    AccessPolicy::compile(rules, &AccessGroups::new()).unwrap()
}

fn claims() -> TokenClaims {
    TokenClaims {
        id: [1; 12],
        kind: SessionKind::Translation,
        expires_at: u64::MAX,
        key_hash: [0xab; 32],
        deployment: "openai-tr".into(),
        model: "gpt-realtime-translate".into(),
        upstream_key: UpstreamKey::new(EK),
        origin: None,
        subject: None,
    }
}

#[test]
fn translation_sockets_go_to_their_deployment_with_its_credential() {
    let config = config();
    let (_, dep) = config.deployment("openai-tr").unwrap();
    let p = plan_translation_with_key("gpt-realtime-translate", dep, &policy(&["*"])).unwrap();
    assert_eq!(
        p.url,
        "https://api.example/v1/realtime/translations?model=gpt-realtime-translate-2026-11"
    );
    assert_eq!(p.credential, WsCredential::Deployment(Auth::Bearer));
    let q = SocketQuery::parse("model=gpt-realtime-translate").unwrap();
    let p = plan_translation_with_token(&claims(), dep, &q, &policy(&["*"])).unwrap();
    assert_eq!(p.credential, WsCredential::Ephemeral(UpstreamKey::new(EK)));
    let q = SocketQuery::parse("model=gpt-realtime").unwrap();
    assert!(plan_translation_with_token(&claims(), dep, &q, &policy(&["*"])).is_err());
    let (_, azure) = config.deployment("azure-tr").unwrap();
    let p = plan_translation_with_key("azure-translate", azure, &policy(&["*"])).unwrap();
    assert_eq!(
        p.url,
        "https://res.openai.azure.com/openai/v1/realtime/translations?model=my-translate"
    );
    assert_eq!(p.credential, WsCredential::Deployment(Auth::AzureApiKey));
}

fn guard() -> SessionGuard {
    SessionGuard::translation(
        "gpt-realtime-translate",
        "gpt-realtime-translate-2026-11",
        &policy(&["gpt-realtime-translate"]),
    )
    .redacting(Redactor::of([EK]))
}

#[test]
fn the_translation_guard_relays_only_translation_events() {
    let g = guard();
    let close = r#"{"type":"session.close"}"#;
    assert_eq!(g.client_text(close), Verdict::Rewrite(close.into()));
    for text in [
        r#"{"type":"response.create"}"#,
        r#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#,
        r#"{"type":"input_audio_buffer.append","audio":"AAAA"}"#,
        "nope",
    ] {
        assert!(matches!(g.client_text(text), Verdict::Refuse(_)), "{text}");
    }
    assert!(matches!(
        g.client_binary(close.as_bytes()),
        Verdict::Refuse(_)
    ));
    assert!(matches!(g.client_binary(&[0, 1, 2]), Verdict::Refuse(_)));
}

#[test]
fn upstream_session_events_show_the_group_and_errors_are_redacted() {
    let g = guard();
    let created = json!({"type": "session.created", "session": {"id": "sess_1",
        "type": "translation", "model": "gpt-realtime-translate-2026-11"}});
    match g.upstream_text(&created.to_string()) {
        Verdict::Rewrite(t) => {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["session"]["model"], "gpt-realtime-translate");
        }
        other => panic!("{other:?}"),
    }
    let error = json!({"type": "error", "error": {"message": format!("bad key {EK}")}});
    match g.upstream_text(&error.to_string()) {
        Verdict::Rewrite(t) => assert!(!t.contains(EK), "{t}"),
        other => panic!("{other:?}"),
    }
}
