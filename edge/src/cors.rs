// CORS at the edge: reads the request's `Origin`, answers preflights
// (`OPTIONS`) without authentication, upstream or quota, checks an
// authenticated caller's allowed origins, and adds the `Access-Control-*`
// and `Vary` headers to every response in `Ctx::finish`. The rules are
// `reelay_core::cors`; this file only moves headers and keeps the one
// record a preflight needs: which origin patterns some key lists. Each key
// keeps its own marker per pattern (KV `cors:<pattern>#<token>`; `#` never
// occurs in a pattern), written when the key is created or updated and
// removed when it stops listing the pattern or is deleted, so a preflight
// is granted only while some key lists the origin; a preflight asks KV for
// any marker under `cors:<pattern>#` (one list call per pattern, kept per
// isolate for a minute). One marker per key, not a shared count or set:
// two admins changing two keys at once never undo each other's writes
// (KV has no atomic read-modify-write). Markers of the older shared form
// (`cors:<pattern>`) are still read and never removed: nothing records
// which keys they stood for. A preflight only lets the browser send; the
// actual request is checked against its own key.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::join_all;
use reelay_core::config::Config;
use reelay_core::cors::{self, AllowedOrigins, OriginVerdict, PreflightAnswer, PreflightRequest};
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::origin::Origin;
use worker::{Headers, Request, Response};

use crate::context::{Ctx, KV_BINDING};
use crate::respond;

/// How long this isolate trusts what it learned of an origin's listing.
const LISTING_TTL_MS: u64 = 60_000;
/// Origins remembered per isolate.
const MAX_REMEMBERED_ORIGINS: usize = 1_024;

thread_local! {
    // Serialized origin → (listed by some key, when learned).
    static LISTED: RefCell<HashMap<String, (bool, u64)>> = RefCell::new(HashMap::new());
}

/// Checks the request's origin against a key's `allowed_origins` plus the
/// config's; remembers the verdict, so the response is granted only on a pass.
pub(crate) fn check(cx: &Ctx, config: &Config, key_origins: &[String]) -> Result<(), ClientError> {
    let allowed = AllowedOrigins::compile([key_origins, config.cors.allowed_origins.as_slice()]);
    match cx.cors.origin.check(&allowed) {
        Ok(()) => {
            cx.cors.verdict.set(OriginVerdict::Allowed);
            Ok(())
        }
        Err(e) => Err(deny(cx, e)),
    }
}

/// The credential refused the request's origin (a browser token bound to
/// another one): no response to this request is granted.
pub(crate) fn deny(cx: &Ctx, err: ClientError) -> ClientError {
    cx.cors.verdict.set(OriginVerdict::Denied);
    err
}

/// The config's origins, allowed for every key.
fn everyone(config: Option<&Config>) -> AllowedOrigins {
    config.map_or_else(AllowedOrigins::default, |c| {
        AllowedOrigins::compile([c.cors.allowed_origins.as_slice()])
    })
}

/// The prefix of every key's marker for `pattern`.
fn markers_of(pattern: &str) -> String {
    format!("cors:{pattern}#")
}

/// The KV name of the marker saying the key with this token lists `pattern`.
fn marker(pattern: &str, token: &str) -> String {
    format!("{}{token}", markers_of(pattern))
}

/// The shared marker older versions wrote for `pattern` (read only).
fn shared_marker(pattern: &str) -> String {
    format!("cors:{pattern}")
}

/// Records that the key with this token lists these (canonical) patterns,
/// so preflights from the origins they match are granted. Best effort: the
/// key is stored already, and a pattern left unrecorded only keeps its
/// preflights refused (logged; the next update of the key records it again).
pub(crate) async fn remember_listed(cx: &Ctx, token: &str, patterns: &[String]) {
    if patterns.is_empty() {
        return;
    }
    let Ok(kv) = cx.env.kv(KV_BINDING) else {
        worker::console_error!("recording allowed origins: the key store cannot be opened");
        return;
    };
    let writes = patterns.iter().map(|pattern| {
        let kv = &kv;
        async move {
            match kv.put(&marker(pattern, token), "1") {
                Ok(put) => put.execute().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    });
    for result in join_all(writes).await {
        if let Err(e) = result {
            worker::console_error!("recording an allowed origin failed: {e}");
        }
    }
    // This isolate learns at once (others within LISTING_TTL_MS).
    LISTED.with(|l| l.borrow_mut().clear());
}

/// Removes the markers of the key with this token for these patterns (it
/// no longer lists them, or it was deleted). Best effort: a marker left
/// behind only keeps granting preflights (logged; the key's next update
/// or deletion removes it again).
pub(crate) async fn forget_listed(cx: &Ctx, token: &str, patterns: &[String]) {
    if patterns.is_empty() {
        return;
    }
    let Ok(kv) = cx.env.kv(KV_BINDING) else {
        worker::console_error!("removing allowed origins: the key store cannot be opened");
        return;
    };
    let deletes = patterns.iter().map(|pattern| {
        let kv = &kv;
        async move { kv.delete(&marker(pattern, token)).await }
    });
    for result in join_all(deletes).await {
        if let Err(e) = result {
            worker::console_error!("removing an allowed origin failed: {e}");
        }
    }
    LISTED.with(|l| l.borrow_mut().clear());
}

/// Whether some key lists a pattern matching `origin` (KV, remembered per
/// isolate for a minute); `false` when KV cannot be read.
async fn listed_by_a_key(cx: &Ctx, origin: &Origin) -> bool {
    let name = origin.serialize();
    let known = LISTED.with(|l| {
        l.borrow()
            .get(&name)
            .filter(|(_, at)| cx.now_ms.saturating_sub(*at) < LISTING_TTL_MS)
            .map(|(listed, _)| *listed)
    });
    if let Some(listed) = known {
        return listed;
    }
    let Ok(kv) = cx.env.kv(KV_BINDING) else {
        return false;
    };
    let patterns = origin.matching_patterns();
    let per_key = patterns
        .iter()
        .map(|p| kv.list().prefix(markers_of(p)).limit(1).execute());
    let shared = patterns.iter().map(|p| kv.get(&shared_marker(p)).text());
    let (per_key, shared) = futures_util::future::join(join_all(per_key), join_all(shared)).await;
    let listed = per_key
        .into_iter()
        .any(|r| r.is_ok_and(|list| !list.keys.is_empty()))
        || shared.into_iter().any(|r| matches!(r, Ok(Some(_))));
    LISTED.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() >= MAX_REMEMBERED_ORIGINS {
            l.clear();
        }
        l.insert(name, (listed, cx.now_ms));
    });
    listed
}

/// The answer to an `OPTIONS` request (a CORS preflight or a plain one).
pub(crate) async fn preflight(req: &Request, cx: &Ctx) -> Response {
    let headers = req.headers();
    let get = |name: &str| headers.get(name).ok().flatten();
    let (origin, method, requested) = (
        get("origin"),
        get("access-control-request-method"),
        get("access-control-request-headers"),
    );
    // A broken config still answers (with the default cache time, and no
    // origins of its own).
    let config = cx.config().ok();
    let max_age = config
        .as_ref()
        .map_or(cors::DEFAULT_MAX_AGE_SECS, |c| c.cors.max_age_secs);
    let everyone = everyone(config.as_deref());
    let request = PreflightRequest {
        origin: origin.as_deref(),
        request_method: method.as_deref(),
        request_headers: requested.as_deref(),
    };
    let listed = match cors::preflight_origin(&request) {
        Some(o) if !everyone.allows(&o) => listed_by_a_key(cx, &o).await,
        _ => false,
    };
    let answer = cors::preflight(request, max_age, &everyone, listed);
    match answer {
        PreflightAnswer::Plain => {
            let out = Headers::new();
            let _ = out.set("allow", "GET, POST, DELETE, OPTIONS");
            Response::builder()
                .with_status(204)
                .with_headers(out)
                .empty()
        }
        PreflightAnswer::Granted(list) => {
            let out = Headers::new();
            for (name, value) in list {
                let _ = out.set(name, &value);
            }
            Response::builder()
                .with_status(204)
                .with_headers(out)
                .empty()
        }
        PreflightAnswer::Refused(err) => {
            cx.log.borrow_mut().error_code = Some(err.code.as_str());
            respond::error(&err, Dialect::OpenAi)
        }
    }
}

/// Adds `Vary: Origin` and, when granted (core's `cors::grants`, whatever
/// the status), `Access-Control-Allow-Origin` and
/// `Access-Control-Expose-Headers` (a preflight answer already has its own).
pub(crate) fn finish(cx: &Ctx, headers: &Headers) {
    let vary = headers.get("vary").ok().flatten();
    match vary {
        Some(v)
            if v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("origin")) => {}
        Some(v) if !v.trim().is_empty() => {
            let _ = headers.set("vary", &format!("{v}, Origin"));
        }
        _ => {
            let _ = headers.set("vary", "Origin");
        }
    }
    if headers.has("access-control-allow-origin").unwrap_or(false) {
        return;
    }
    let config = cx.config().ok();
    let everyone = everyone(config.as_deref());
    if let Some(origin) = cors::grants(&cx.cors.origin, cx.cors.verdict.get(), &everyone) {
        for (name, value) in cors::grant_headers(origin) {
            let _ = headers.set(name, &value);
        }
    }
}

/// The raw `Origin` of the request, for a browser token's origin binding.
pub(crate) fn token_origin(cx: &Ctx) -> Option<&str> {
    cx.cors.header.as_deref()
}

/// The error for a browser token on a route that needs a full key.
pub(crate) fn token_refused(route: &str) -> ClientError {
    ClientError::new(
        ErrorCode::BrowserTokenNotAllowed,
        format!(
            "browser tokens cannot be used on {route}; call it from your server with the full key"
        ),
    )
}
