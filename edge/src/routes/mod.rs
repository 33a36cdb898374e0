// Route table: maps method + path to a handler and answers unknown paths
// and wrong methods with JSON errors. Video and model routes answer with
// and without `/v1`. Handlers share `crate::request` and `crate::pipeline`,
// never this module.

mod admin;
mod browser_tokens;
mod characters;
mod google;
mod health;
mod interactions;
mod live;
mod live_interactions;
mod models;
mod playground;
mod realtime;
mod realtime_ws;
mod relay;
mod responses;
mod vertex;
mod videos;

use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::video::FollowUpKind;
use worker::{Method, Request, Response};

use crate::context::Ctx;
use crate::request::{allow, declared_length, method};

/// The error dialect a path's callers expect.
pub(crate) fn dialect_for(path: &str) -> Dialect {
    if path.starts_with("/gemini/")
        || path.starts_with("/vertex_ai/")
        || path.contains("/ws/google.")
        || is_live_interactions(path)
    {
        Dialect::Google
    } else {
        Dialect::OpenAi
    }
}

/// A Live Interactions path (Google-shaped also outside `/gemini/`).
fn is_live_interactions(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    reelay_core::realtime::live_interactions::interactions_route(&segments).is_some()
}

pub(crate) async fn dispatch(mut req: Request, cx: &Ctx) -> Result<Response, ClientError> {
    let result = route(&mut req, cx).await;
    if result.is_err() {
        drain_unread_body(&req).await;
    }
    result
}

/// Largest unread body drained before an error response; bigger uploads,
/// and chunked ones of unknown length, get their error at once and a
/// closed connection.
const MAX_DRAIN_BYTES: u64 = 1024 * 1024;

/// Reads and discards a small request body the handler did not consume.
/// workerd closes a keep-alive connection whose request body was left
/// unread, and a client that reuses it sees a reset on its *next* request;
/// draining (in JS, without copying into wasm) keeps the connection usable.
/// Only a declared length is drained: a refused request (no key, a bad
/// one, a body over the limit) never waits for an upload of unknown size.
async fn drain_unread_body(req: &Request) {
    let inner = req.inner();
    if inner.body_used() || inner.body().is_none() {
        return;
    }
    if declared_length(req).is_none_or(|n| n > MAX_DRAIN_BYTES) {
        return;
    }
    if let Ok(promise) = inner.array_buffer() {
        let _ = worker::wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

async fn route(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let path = req.path();
    let method = method(req);
    // Live sockets; empty segments (`//ws/`, from the JS SDK) are ignored.
    let live_segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(live_route) = reelay_core::realtime::live::live_route(&live_segments) {
        allow(&method, &[Method::Get])?;
        return live::connect(req, cx, live_route).await;
    }
    // Before `/gemini/{v}/interactions/{id}`: `live` is no interaction id.
    if let Some(route) =
        reelay_core::realtime::live_interactions::interactions_route(&live_segments)
    {
        return live_interactions::dispatch(req, cx, route).await;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segments.as_slice() {
        ["v1", rest @ ..] => rest,
        all => all,
    };
    match (segments.as_slice(), rest) {
        (["health", "liveliness" | "liveness"], _) => {
            allow(&method, &[Method::Get])?;
            Ok(health::liveliness())
        }
        ([""], _) => {
            allow(&method, &[Method::Get])?;
            Ok(playground::page())
        }
        (["playground", asset], _) => {
            allow(&method, &[Method::Get])?;
            playground::asset(asset)
        }
        (_, ["browser_tokens"]) => {
            allow(&method, &[Method::Post])?;
            browser_tokens::mint(req, cx).await
        }
        (["health", "readiness"], _) => {
            allow(&method, &[Method::Get])?;
            health::readiness(cx).await
        }
        (["key", "generate"], _) => {
            allow(&method, &[Method::Post])?;
            admin::generate(req, cx).await
        }
        (["key", "info"], _) => {
            allow(&method, &[Method::Get])?;
            admin::info(req, cx).await
        }
        (["key", "update"], _) => {
            allow(&method, &[Method::Post])?;
            admin::update(req, cx).await
        }
        (["key", "delete"], _) => {
            allow(&method, &[Method::Post, Method::Delete])?;
            admin::delete(req, cx).await
        }
        (["gemini", version, "auth_tokens"], _) if google::is_version(version) => {
            allow(&method, &[Method::Post])?;
            live::mint(req, cx).await
        }
        (["gemini", rest @ ..], _) => google::dispatch(req, cx, rest).await,
        (["vertex_ai", rest @ ..], _) => vertex::dispatch(req, cx, rest).await,
        (_, ["models"]) => {
            allow(&method, &[Method::Get])?;
            models::list(req, cx).await
        }
        (_, ["videos"]) => {
            allow(&method, &[Method::Post, Method::Get])?;
            if method == Method::Get {
                videos::list(req, cx).await
            } else {
                videos::create(req, cx).await
            }
        }
        (_, ["videos", "characters"]) => {
            allow(&method, &[Method::Post])?;
            characters::create(req, cx).await
        }
        (_, ["videos", "characters", id]) => {
            allow(&method, &[Method::Get])?;
            let id = (*id).to_owned();
            characters::retrieve(req, cx, &id).await
        }
        (_, ["videos", "edits"]) => {
            allow(&method, &[Method::Post])?;
            videos::follow_up(req, cx, FollowUpKind::Edit, None).await
        }
        (_, ["videos", "extensions"]) => {
            allow(&method, &[Method::Post])?;
            videos::follow_up(req, cx, FollowUpKind::Extend, None).await
        }
        (_, ["videos", id, "remix"]) => {
            allow(&method, &[Method::Post])?;
            let id = (*id).to_owned();
            videos::follow_up(req, cx, FollowUpKind::Remix, Some(&id)).await
        }
        (_, ["videos", id]) => {
            allow(&method, &[Method::Get, Method::Delete])?;
            let id = (*id).to_owned();
            if method == Method::Delete {
                videos::delete(req, cx, &id).await
            } else {
                videos::retrieve(req, cx, &id).await
            }
        }
        (_, ["videos", id, "content"]) => {
            allow(&method, &[Method::Get])?;
            let id = (*id).to_owned();
            videos::content(req, cx, &id).await
        }
        (_, ["responses"]) => {
            allow(&method, &[Method::Post])?;
            responses::create(req, cx).await
        }
        (_, ["responses", id]) => {
            allow(&method, &[Method::Get, Method::Delete])?;
            let id = (*id).to_owned();
            let call = if method == Method::Delete {
                responses::OnResponse::Delete
            } else {
                responses::OnResponse::Retrieve
            };
            responses::on_response(req, cx, &id, call).await
        }
        (_, ["responses", id, "input_items"]) => {
            allow(&method, &[Method::Get])?;
            let id = (*id).to_owned();
            responses::on_response(req, cx, &id, responses::OnResponse::InputItems).await
        }
        (_, ["responses", id, "cancel"]) => {
            allow(&method, &[Method::Post])?;
            let id = (*id).to_owned();
            responses::on_response(req, cx, &id, responses::OnResponse::Cancel).await
        }
        (_, ["realtime"]) | (["openai", "v1", "realtime"], _) => {
            allow(&method, &[Method::Get])?;
            realtime_ws::connect(req, cx).await
        }
        (_, ["realtime", sub @ ..]) | (["openai", "v1", "realtime", sub @ ..], _) => {
            realtime::dispatch(req, cx, sub).await
        }
        _ => Err(ClientError::new(
            ErrorCode::RouteNotFound,
            format!("no route for {} {path}", method.as_ref()),
        )),
    }
}
