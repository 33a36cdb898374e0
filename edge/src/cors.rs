// CORS at the edge: reads the request's `Origin`, answers preflights
// (`OPTIONS`) without authentication, upstream or quota, checks an
// authenticated caller's allowed origins, and adds the `Access-Control-*`
// and `Vary` headers to every response in `Ctx::finish`. The rules are
// `reelay_core::cors`; this file only moves headers.

use reelay_core::config::Config;
use reelay_core::cors::{self, AllowedOrigins, PreflightAnswer, PreflightRequest};
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use worker::{Headers, Request, Response};

use crate::context::Ctx;
use crate::respond;

/// Checks the request's origin against a key's `allowed_origins` plus the
/// config's; remembers a pass so the response is granted.
pub(crate) fn check(cx: &Ctx, config: &Config, key_origins: &[String]) -> Result<(), ClientError> {
    let allowed = AllowedOrigins::compile([key_origins, config.cors.allowed_origins.as_slice()]);
    cx.cors.origin.check(&allowed)?;
    cx.cors.allowed.set(true);
    Ok(())
}

/// The answer to an `OPTIONS` request (a CORS preflight or a plain one).
pub(crate) fn preflight(req: &Request, cx: &Ctx) -> Response {
    let headers = req.headers();
    let get = |name: &str| headers.get(name).ok().flatten();
    let (origin, method, requested) = (
        get("origin"),
        get("access-control-request-method"),
        get("access-control-request-headers"),
    );
    // The config only sets the cache time: a broken config still answers.
    let max_age = cx
        .config()
        .map_or(cors::DEFAULT_MAX_AGE_SECS, |c| c.cors.max_age_secs);
    let answer = cors::preflight(
        PreflightRequest {
            origin: origin.as_deref(),
            request_method: method.as_deref(),
            request_headers: requested.as_deref(),
        },
        max_age,
    );
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

/// Adds `Vary: Origin` and, when granted, `Access-Control-Allow-Origin` and
/// `Access-Control-Expose-Headers` (a preflight answer already has its own).
pub(crate) fn finish(cx: &Ctx, headers: &Headers, status: u16) {
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
    if let Some(origin) = cors::grants(&cx.cors.origin, cx.cors.allowed.get(), status) {
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
