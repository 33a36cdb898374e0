//! GPT-Live over HTTP: create and fork bodies, control bodies, the
//! upstream's create answer and sealed session ids. What is sent upstream
//! is the typed value (re-parsing it gives the same value, with the
//! deployment's model), and an accepted session id seals and opens back to
//! itself for its owner only.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use reelay_core::config::Config;
use reelay_core::realtime::gpt_live::{
    open_session_id, parse_created, plan_control, seal_session_id, Control, CreateRequest,
    ForkRequest,
};
use reelay_core::seal::{Owner, UpstreamId, OWNER_LEN};
use reelay_fuzz::{allow_all, keys, Input, OWNER};
use serde_json::Value;

/// One GPT-Live group on OpenAI and Azure.
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::parse(
            r#"{"model_groups":[{"name":"gpt-live-1","deployments":[
  {"id":"openai-live","provider":"openai","model":"gpt-live-1-2026-11","credential":"K","api_base":"https://api.example"},
  {"id":"azure-live","provider":"azure","model":"my-live","credential":"A","api_base":"https://res.openai.azure.com"}]}]}"#,
        )
        .unwrap_or_else(|e| panic!("fuzz fixture config: {e}"))
    })
}

/// Whether `json` holds a non-integer number. serde_json's default float
/// parsing is not correctly rounded: the shortest form of a parsed float
/// (which is what goes upstream, and what the upstream reads back exactly)
/// may parse here to a neighbouring float, so whole values are compared
/// only without floats.
fn has_float(json: &[u8]) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.is_f64(),
            Value::Array(items) => items.iter().any(walk),
            Value::Object(map) => map.values().any(walk),
            _ => false,
        }
    }
    serde_json::from_slice::<Value>(json).is_ok_and(|v| walk(&v))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let group = &config().model_groups[0];
    let dep = &group.deployments[usize::from(input.byte() & 1)];
    match input.byte() % 4 {
        0 => {
            let Ok(request) = CreateRequest::parse(input.rest()) else {
                return;
            };
            let Ok(plan) = request.plan_for(dep) else {
                return;
            };
            let sent = plan.json_body.unwrap_or_else(|| panic!("no body"));
            let mut again = CreateRequest::parse(sent.as_bytes())
                .unwrap_or_else(|e| panic!("the sent body does not parse: {e:?}: {sent}"));
            assert_eq!(again.session.model, dep.model, "{sent}");
            again.session.model = request.session.model.clone();
            assert_eq!(
                again.session.delegation.as_ref().and_then(|d| d.model()),
                request.session.delegation.as_ref().and_then(|d| d.model()),
                "{sent}"
            );
            assert_eq!(again.transport, request.transport);
            if !has_float(sent.as_bytes()) {
                assert_eq!(again, request, "{sent}");
            }
        }
        1 => {
            let Ok(request) = ForkRequest::parse(input.rest()) else {
                return;
            };
            let session = UpstreamId {
                deployment: dep.id.clone(),
                id: "live_1".into(),
                owner: OWNER,
            };
            let Ok(plan) = request.plan(dep, &session) else {
                return;
            };
            let sent = plan.json_body.unwrap_or_else(|| panic!("no body"));
            let again = ForkRequest::parse(sent.as_bytes())
                .unwrap_or_else(|e| panic!("the sent fork does not parse: {e:?}: {sent}"));
            if !has_float(sent.as_bytes()) {
                assert_eq!(again, request, "{sent}");
            }
        }
        2 => {
            let control = [
                Control::Accept,
                Control::Hangup,
                Control::Refer,
                Control::Reject,
            ][usize::from(input.byte()) % 4];
            let session = UpstreamId {
                deployment: dep.id.clone(),
                id: "live_1".into(),
                owner: OWNER,
            };
            let Ok(plan) = plan_control(group, dep, allow_all(), &session, control, input.rest())
            else {
                return;
            };
            assert!(plan.url.ends_with(&format!("/live_1/{}", control.as_str())));
            if let Some(json) = plan.json_body {
                let sent: Value =
                    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
                if control == Control::Accept {
                    assert_eq!(sent["session"]["model"], dep.model.as_str(), "{json}");
                }
            }
        }
        _ => {
            let Ok(created) = parse_created(input.rest()) else {
                return;
            };
            let Ok(id) = seal_session_id(keys(), OWNER, &dep.id, &created.id, 1) else {
                return;
            };
            let opened = open_session_id(keys(), &id, &OWNER)
                .unwrap_or_else(|e| panic!("a sealed session id does not open: {e:?}"));
            assert_eq!((opened.deployment, opened.id), (dep.id.clone(), created.id));
            assert!(open_session_id(keys(), &id, &Owner::key([0x22; OWNER_LEN])).is_err());
        }
    }
});
