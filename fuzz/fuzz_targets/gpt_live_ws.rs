//! GPT-Live WebSocket traffic: the first frame (`session.start` of a
//! primary or fork socket), later client frames and upstream frames
//! (`LiveGuard`), the route and the attach query. A client frame passed
//! as it is has a parsed `type` the socket relays (never `session.start`
//! or `session.update`); a rewritten `session.update` holds only
//! `delegation` and `triggers` and names only allowed delegation models;
//! the `session.start` sent up names the deployment's model (primary) or
//! none (fork); a sealed session id in an upstream event opens back to
//! the upstream's id for this deployment and owner.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::realtime::gpt_live_ws::{
    graceful_close, socket_route, LiveGuard, SealFor, SessionStart, SocketKind,
};
use reelay_core::realtime::ws::Verdict;
use reelay_core::seal::Purpose;
use reelay_fuzz::{keys, Input, OWNER};
use serde_json::Value;

const GROUP: &str = "gpt-live";
const UPSTREAM: &str = "gpt-live-1.1-2026-11-20";
/// The only delegation model the fuzzed caller may use.
const DELEGATE: &str = "gpt-5.6";

const RELAYED: &[&str] = &[
    "session.input_audio.mute",
    "session.input_audio.unmute",
    "session.output_audio.fixture.play",
    "session.instructions.append",
    "session.thinking.append",
    "session.commentary.append",
    "decision.create",
    "decision.item.create",
    "decision.item.delete",
    "response.item.create",
    "response.create",
    "session.close",
];

fn policy() -> AccessPolicy {
    AccessPolicy::compile(&[GROUP, DELEGATE], &AccessGroups::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn guard(kind: SocketKind) -> LiveGuard {
    let seal = SealFor {
        keys: keys().clone(),
        owner: OWNER,
        deployment: "openai-live".into(),
        now_ms: 1,
    };
    LiveGuard::new(kind, GROUP, UPSTREAM, policy(), seal)
}

fn kind_of(byte: u8) -> SocketKind {
    match byte % 3 {
        0 => SocketKind::Primary,
        1 => SocketKind::Sideband,
        _ => SocketKind::Fork,
    }
}

/// Every delegation model a parsed `session` names.
fn delegation_models(session: &Value) -> Vec<Value> {
    let Some(delegation) = session.get("delegation") else {
        return Vec::new();
    };
    ["responses", "decisions"]
        .iter()
        .filter_map(|k| delegation.get(k)?.get("model").cloned())
        .filter(|m| !m.is_null())
        .collect()
}

fn client_frame(kind: SocketKind, frame: &[u8]) {
    let g = guard(kind);
    let verdict = match std::str::from_utf8(frame) {
        Ok(text) if frame.first() != Some(&0) => g.client_text(text),
        _ => g.client_binary(frame),
    };
    match verdict {
        Verdict::Refuse(_) => {}
        Verdict::Pass | Verdict::Rewrite(_) => {
            let text = match &verdict {
                Verdict::Rewrite(t) => t.clone(),
                _ => String::from_utf8_lossy(frame).into_owned(),
            };
            let event: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("a relayed frame is JSON ({e}): {text}"));
            let t = event["type"].as_str().unwrap_or_else(|| panic!("{text}"));
            assert_ne!(t, "session.start", "{text}");
            if t == "session.update" {
                let Verdict::Rewrite(_) = verdict else {
                    panic!("session.update is always re-serialized: {text}")
                };
                let session = event["session"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{text}"));
                assert!(
                    session.keys().all(|k| k == "delegation" || k == "triggers"),
                    "{text}"
                );
                for model in delegation_models(&event["session"]) {
                    assert!(model == DELEGATE, "{text}");
                }
            } else {
                let allowed = RELAYED.contains(&t)
                    || match kind {
                        SocketKind::Sideband => t == "transport.dtmf.send",
                        _ => t == "session.input_audio.append",
                    };
                assert!(allowed, "{t} relayed on {kind:?}: {text}");
            }
        }
    }
}

fn first_frame(kind: SocketKind, frame: &[u8]) {
    let Ok(start) = SessionStart::parse(frame, kind) else {
        return;
    };
    let up: Value = serde_json::from_str(&start.to_upstream(UPSTREAM))
        .unwrap_or_else(|e| panic!("the start sent up is JSON: {e}"));
    assert_eq!(up["type"], "session.start");
    match kind {
        SocketKind::Primary => assert_eq!(up["session"]["model"], UPSTREAM),
        _ => assert!(up["session"].get("model").is_none()),
    }
    // What is authorized is what goes up.
    let named: Vec<Value> = start
        .delegation_models()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, m)| Value::String(m))
        .collect();
    assert_eq!(named, delegation_models(&up["session"]));
}

fn upstream_frame(text: &str) {
    let g = guard(SocketKind::Primary);
    let original: Option<Value> = serde_json::from_str(text).ok();
    let session_event = original.as_ref().is_some_and(|o| {
        o.is_object()
            && matches!(
                o["type"].as_str(),
                Some("session.started" | "session.updated" | "session.closed")
            )
            && o["session"].is_object()
    });
    let upstream_id = original
        .as_ref()
        .and_then(|o| o.get("session")?.get("id")?.as_str().map(str::to_owned));
    match g.upstream_text(text) {
        Verdict::Rewrite(out) => {
            if !session_event || out.contains("[redacted]") {
                return;
            }
            let event: Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("a rewritten session event is JSON ({e}): {out}"));
            if let (Some(id), Some(sealed)) = (upstream_id, event["session"]["id"].as_str()) {
                let opened = keys()
                    .open_upstream_id(Purpose::LiveSession, sealed, &OWNER)
                    .unwrap_or_else(|e| panic!("{e:?}: {out}"));
                assert_eq!(opened.id, id);
                assert_eq!(opened.deployment, "openai-live");
            }
        }
        // A session event always shows reelay's id, never the upstream's.
        Verdict::Pass => assert!(!session_event, "{text}"),
        Verdict::Refuse(_) => panic!("upstream frames are never refused: {text}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let selector = input.byte();
    let kind = kind_of(input.byte());
    match selector % 4 {
        0 => client_frame(kind, input.rest()),
        1 => first_frame(kind, input.rest()),
        2 => upstream_frame(&String::from_utf8_lossy(input.rest())),
        _ => {
            let path = input.text();
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            if let Some(route) = socket_route(&segments) {
                let _ = route.kind();
            }
            let _ = graceful_close(&input.text());
        }
    }
});
