//! Relayed realtime WebSocket traffic and the upgrade request: frames
//! from the client and the upstream, `Sec-WebSocket-Protocol`, the query.
//! The session guard never lets through a `session.update` (as a JSON
//! parser reads it) that names a model other than the session's, and
//! every rewrite it makes carries the allowed model. An upstream frame is
//! rewritten only to show the model group in a session event, or to
//! redact: then it is exactly the redactor's output, and no known secret
//! is left in it.
//! A translation socket's guard relays only translation events, never one
//! naming a model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::realtime::ws::{
    close_reason, query_escape, query_pairs, scrub, SessionGuard, Subprotocols, Verdict, WsQuery,
    MAX_CLOSE_REASON,
};
use reelay_core::realtime::SessionKind;
use reelay_core::redact::Redactor;
use reelay_fuzz::Input;
use serde_json::Value;

const GROUP: &str = "gpt-realtime";
const UPSTREAM: &str = "gpt-realtime-2025-08-28";
/// A credential the guard knows by value (of no known shape).
const SECRET: &str = "azure0123456789secret";

/// Where a session of `kind` names its model.
fn model_path(kind: SessionKind) -> &'static [&'static str] {
    match kind {
        SessionKind::Realtime | SessionKind::Translation => &["model"],
        SessionKind::Transcription => &["audio", "input", "transcription", "model"],
    }
}

/// The model a parsed event of one of `types` names for `kind`:
/// `None` when the event is not one, `Some(None)` when it names none.
fn named_model(text: &str, types: &[&str], kind: SessionKind) -> Option<Option<Value>> {
    let event: Value = serde_json::from_str(text).ok()?;
    let t = event.as_object()?.get("type")?.as_str()?;
    if !types.contains(&t) {
        return None;
    }
    let mut at = event.get("session")?;
    if !at.is_object() {
        return None;
    }
    for key in model_path(kind) {
        match at.get(key) {
            Some(next) => at = next,
            None => return Some(None),
        }
    }
    Some(Some(at.clone()).filter(|m| !m.is_null()))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = if input.byte() & 1 == 0 {
        SessionKind::Realtime
    } else {
        SessionKind::Transcription
    };
    match input.byte() % 3 {
        0 => {
            let text = String::from_utf8_lossy(input.rest());
            client_frame(kind, &text);
            upstream_frame(kind, &text);
            translation_frame(&text);
        }
        1 => {
            let text = String::from_utf8_lossy(input.rest());
            let _ = Subprotocols::parse(Some(&text));
            let _ = WsQuery::parse(&text);
            let reason = close_reason(&text);
            assert!(reason.len() <= MAX_CLOSE_REASON && text.starts_with(&reason));
        }
        _ => {
            let value = input.text();
            let secret = input.text();
            // An escaped value survives the query round trip.
            let query = format!("model={}&x=1", query_escape(&value));
            let pairs = query_pairs(&query).unwrap_or_else(|| panic!("{query}"));
            assert_eq!(pairs[0], ("model".to_owned(), value.clone()));
            let rest = input.text();
            let scrubbed = scrub(&rest, &[&secret]);
            // Credentials are printable ASCII (the redactor also removes
            // their escaped forms, which control bytes change).
            if secret.len() >= 8 && secret.bytes().all(|b| b.is_ascii_graphic()) {
                assert!(!scrubbed.contains(&secret) || "[redacted]".contains(&secret));
            }
        }
    }
});

fn client_frame(kind: SessionKind, text: &str) {
    let guard = SessionGuard::new(kind, GROUP, UPSTREAM);
    let verdict = guard.client_text(text);
    let allowed = |m: &Option<Value>| m.as_ref().is_none_or(|m| m.as_str() == Some(UPSTREAM));
    match &verdict {
        Verdict::Pass => {
            if let Some(model) = named_model(text, &["session.update"], kind) {
                assert!(
                    allowed(&model),
                    "passed a session.update naming {model:?}: {text}"
                );
            }
        }
        Verdict::Rewrite(sent) => {
            // The guard re-serializes every checked update (with or without
            // a model): whatever it names must be allowed.
            if let Some(model) = named_model(sent, &["session.update"], kind) {
                assert!(allowed(&model), "rewrote to {model:?}: {sent}");
            }
        }
        Verdict::Refuse(_) => {}
    }
}

fn upstream_frame(kind: SessionKind, text: &str) {
    let redactor = Redactor::of([SECRET]);
    let guard = SessionGuard::new(kind, GROUP, UPSTREAM).redacting(redactor.clone());
    if let Verdict::Rewrite(sent) = guard.upstream_text(text) {
        match named_model(sent.as_str(), &["session.created", "session.updated"], kind) {
            // A session event: shows the model group.
            Some(model) if sent != redactor.redact(text) => {
                assert_eq!(
                    model.as_ref().and_then(Value::as_str),
                    Some(GROUP),
                    "{sent}"
                );
            }
            // Anything else may only be redacted: exactly what the
            // redactor makes of the text, changed, and clean.
            _ => {
                assert_eq!(sent, redactor.redact(text), "rewrote beyond redaction");
                assert_ne!(sent, text, "a rewrite that changes nothing");
                assert!(!redactor.knows_a_value_in(&sent), "left a secret: {sent}");
            }
        }
    }
}

/// A translation socket's guard: nothing passes unchecked; what it relays
/// is a translation client event with only its own fields, and a
/// `session.update` never names a model or a disallowed transcription model.
fn translation_frame(text: &str) {
    let policy = reelay_core::access::AccessPolicy::compile(
        &["gpt-realtime", "gpt-live-transcribe"],
        &reelay_core::access::AccessGroups::new(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let guard = SessionGuard::translation(GROUP, UPSTREAM, &policy);
    assert!(matches!(
        guard.client_binary(text.as_bytes()),
        Verdict::Refuse(_)
    ));
    match guard.client_text(text) {
        Verdict::Pass => panic!("a translation event passed unchecked: {text}"),
        Verdict::Refuse(_) => {}
        Verdict::Rewrite(sent) => {
            let event: Value =
                serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}: {sent}"));
            let t = event["type"].as_str().unwrap_or_else(|| panic!("{sent}"));
            assert!(
                reelay_core::realtime::translation::CLIENT_EVENTS.contains(&t),
                "{sent}"
            );
            if let Some(session) = event.get("session") {
                assert!(session.get("model").is_none(), "{sent}");
                if let Some(m) = session.pointer("/audio/input/transcription/model") {
                    assert_eq!(m.as_str(), Some("gpt-live-transcribe"), "{sent}");
                }
            }
            // Re-checking what was sent changes nothing.
            assert_eq!(guard.client_text(&sent), Verdict::Rewrite(sent.clone()));
        }
    }
}
