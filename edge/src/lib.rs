//! The reelay Worker: HTTP I/O, KV, Durable Objects and secrets around
//! `reelay-core`.
//!
//! Core decides, edge does: every rule (config validation, access, sealing,
//! error classification, request translation) lives in `reelay-core`; this
//! crate authenticates against KV, calls upstreams, streams bodies through,
//! and turns a core `ClientError` into a response in exactly one place
//! ([`respond::error`]).

mod context;
mod cors;
mod credentials;
mod faults;
mod fetch;
mod finish;
mod jobs;
mod keys;
mod log;
mod pipeline;
mod quota;
// The durable_object macro generates undocumented public glue.
#[allow(missing_docs)]
mod quota_store;
mod redaction;
mod request;
mod respond;
mod routes;
mod upstream;

pub use quota_store::QuotaCounter;

use worker::{event, Context, Env, Request, Response};

/// Entry point for every HTTP request.
#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let cx = context::Ctx::new(env, ctx, &req);
    if req.method() == worker::Method::Options {
        // Preflights carry no credentials: answered here, before any route,
        // key lookup, quota or upstream.
        return Ok(finish::finish(&cx, cors::preflight(&req, &cx).await));
    }
    let dialect = routes::dialect_for(&req.path());
    let outcome = routes::dispatch(req, &cx).await;
    let response = match outcome {
        Ok(response) => response,
        Err(err) => {
            cx.log.borrow_mut().error_code = Some(err.code.as_str());
            // The last line of defence: whatever upstream text an error
            // carries, no credential the Worker holds or used leaves.
            let err = redaction::clean(&cx, err);
            respond::error(&err, dialect)
        }
    };
    Ok(finish::finish(&cx, response))
}
