// The secrets this Worker holds, handed to core's `Redactor` so no upstream
// text it passes on (error bodies, WebSocket error events and close
// reasons, SSE error events) carries one: every configured deployment's
// credential (API keys, service-account key files), `MASTER_KEY` and
// `SEALING_KEY` — read once per isolate, as secrets cannot change within
// one — plus what a request used on top (a Google access token minted from
// a key file, the upstream ephemeral key inside an `ek_rl_` token), which
// the request registers with `Ctx::remember_secret`. Core decides what to
// remove (by value, then by shape); this file only gathers the values.

use std::cell::RefCell;
use std::rc::Rc;

use reelay_core::errors::{ClientError, UpstreamError};
use reelay_core::redact::Redactor;

use crate::context::Ctx;

/// The credentials the isolate holds, raw and as a redactor.
struct Held {
    values: Vec<String>,
    redactor: Redactor,
}

thread_local! {
    static HELD: RefCell<Option<Rc<Held>>> = const { RefCell::new(None) };
}

fn held(cx: &Ctx) -> Rc<Held> {
    if let Some(held) = HELD.with(|h| h.borrow().clone()) {
        return held;
    }
    let mut names: Vec<String> = vec!["MASTER_KEY".into(), "SEALING_KEY".into()];
    let config = cx.config().ok();
    if let Some(config) = &config {
        for dep in config.model_groups.iter().flat_map(|g| &g.deployments) {
            if !names.contains(&dep.credential) {
                names.push(dep.credential.clone());
            }
        }
    }
    let values: Vec<String> = names
        .iter()
        .filter_map(|name| cx.env.secret(name).ok().map(|s| s.to_string()))
        .filter(|v| !v.is_empty())
        .collect();
    let redactor = Redactor::of(values.iter().map(String::as_str));
    let held = Rc::new(Held { values, redactor });
    // Without a config the deployments' secrets are unknown: try again next time.
    if config.is_some() {
        HELD.with(|h| *h.borrow_mut() = Some(Rc::clone(&held)));
    }
    held
}

/// Everything this request must not pass on, as core's redactor.
pub(crate) fn redactor(cx: &Ctx) -> Redactor {
    let mut redactor = held(cx).redactor.clone();
    for secret in cx.used_secrets().iter() {
        redactor.add(secret);
    }
    redactor
}

/// The raw values (for a relayed socket's close reasons).
pub(crate) fn values(cx: &Ctx) -> Vec<String> {
    let mut values = held(cx).values.clone();
    values.extend(cx.used_secrets().iter().cloned());
    values
}

/// A client error without any secret the Worker holds.
pub(crate) fn clean(cx: &Ctx, err: ClientError) -> ClientError {
    err.redacted(&redactor(cx))
}

/// An upstream failure without any secret the Worker holds.
pub(crate) fn clean_upstream(cx: &Ctx, err: UpstreamError) -> UpstreamError {
    err.redacted(&redactor(cx))
}
