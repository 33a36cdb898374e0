// The OpenAI Responses API with affinity: `POST /v1/responses` (JSON and
// SSE), `GET`/`DELETE /v1/responses/{id}`, `GET …/input_items`,
// `POST …/cancel`. Everything upstream-scoped that goes out is sealed for
// the deployment that produced it (`core::responses`); everything that
// comes back in is restored and pins the call to that deployment. New
// conversations route by weight with retries and fallbacks; pinned ones
// stay on their deployment, and when it is unavailable the router's
// `affinity_unavailable` policy decides (fail, or strip reasoning items
// that only it can read and route normally).

use futures_util::stream::{self, StreamExt};
use reelay_core::config::{Config, Deployment, ModelGroup};
use reelay_core::errors::{ClientError, ErrorCode, UpstreamError};
use reelay_core::plan::Method as UpstreamMethod;
use reelay_core::responses::{
    self, create_request, create_shape, id_request, redact_failed_answer, restore_cursor,
    restore_id, restore_request, seal_response_body, sse_error_event, Placement, Recovery,
    SseRewriter,
};
use reelay_core::retry::{Resend, RoutePlan};
use worker::{Headers, Request, Response};

use crate::context::Ctx;
use crate::keys::Caller;
use crate::pipeline;
use crate::request::read_body;
use crate::respond::OrInternal;
use crate::upstream::{self, upstream_failure};

/// `POST /v1/responses`.
pub(super) async fn create(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let body = read_body(req, config.max_body_bytes).await?;
    let owner = caller.owner();
    // Shape first: a bad body is a 400 before any marker is looked at.
    let shape = create_shape(&body)?;
    let restored = restore_request(&body, &sealer, &owner).map_err(|e| e.to_client())?;
    let group = pipeline::authorize_model(cx, &config, &caller, &shape.model)?;

    // Core places the work: on the pinned deployment, as new work, or a
    // pin whose deployment is gone (a conflict is an error).
    let placement = responses::place(&config, group, &shape.model, restored.pin.as_deref())?;
    let policy = caller.policy()?;
    let result = match placement {
        Placement::Pinned(dep) => {
            let mut route = RoutePlan::pinned(
                dep,
                group,
                config.router.retry,
                Resend::OnlyIfRejected,
                cx.now_ms,
            );
            let sent =
                upstream::send_routed(cx, &mut route, |dep, _| create_request(&restored.body, dep))
                    .await;
            match sent {
                Err(err) if responses::deployment_unavailable(err.code) => {
                    // The pinned deployment is down: the policy decides.
                    reroute_or_fail(cx, &config, &caller, group, &restored.body, Some(dep), err)
                        .await
                }
                other => other,
            }
        }
        Placement::PinLost => {
            let err = responses::pin_lost();
            reroute_or_fail(cx, &config, &caller, group, &restored.body, None, err).await
        }
        Placement::New => {
            let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
            upstream::send_routed(cx, &mut route, |dep, _| create_request(&restored.body, dep))
                .await
        }
    };
    let (response, dep) = result?;
    respond_sealed(cx, response, dep, &caller, shape.stream).await
}

/// The pinned deployment cannot serve: fail with a clear error, or (policy
/// `strip`) drop the reasoning items only it could read and route the rest
/// of the conversation normally, avoiding the failed deployment.
async fn reroute_or_fail<'c>(
    cx: &Ctx,
    config: &'c Config,
    caller: &Caller,
    group: &'c ModelGroup,
    body: &[u8],
    failed: Option<&'c Deployment>,
    err: ClientError,
) -> Result<(Response, &'c Deployment), ClientError> {
    if let Recovery::Fail(err) = responses::recover(config.router.affinity_unavailable, &err) {
        return Err(err);
    }
    let stripped = responses::strip_pinned_reasoning(body).map_err(|e| e.to_client())?;
    worker::console_warn!(
        "affinity: pinned deployment unavailable, dropped {} reasoning item(s) and rerouted",
        stripped.removed
    );
    let policy = caller.policy()?;
    let mut route = upstream::new_work(cx, config, &policy, group, Resend::OnlyIfRejected);
    // The failed deployment is cooling down now, so routing skips it
    // unless it is the only one left.
    if let Some(failed) = failed {
        cx.log.borrow_mut().deployment = Some(failed.id.clone());
    }
    upstream::send_routed(cx, &mut route, |dep, _| create_request(&stripped.body, dep)).await
}

/// Passes the upstream's answer on with every upstream-scoped value sealed:
/// an SSE stream is rewritten chunk by chunk as it arrives; JSON at once.
async fn respond_sealed(
    cx: &Ctx,
    mut response: Response,
    dep: &Deployment,
    caller: &Caller,
    stream: bool,
) -> Result<Response, ClientError> {
    let sealer = cx.seal_keys()?;
    let owner = caller.owner();
    let content_type = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let status = response.status_code();
    if stream && content_type.starts_with("text/event-stream") {
        let upstream_body = response
            .stream()
            .or_internal("opening the provider's stream")?;
        let rewriter =
            SseRewriter::new(&sealer, &owner, &dep.id).redacting(crate::redaction::redactor(cx));
        let body = stream::unfold(
            (upstream_body, rewriter, false),
            |(mut upstream_body, mut rewriter, done)| async move {
                if done {
                    return None;
                }
                let mut out = Vec::new();
                match upstream_body.next().await {
                    Some(Ok(chunk)) => {
                        if let Err(e) = rewriter.push(&chunk, &mut out) {
                            out.extend_from_slice(&sse_error_event(&e.to_client()));
                            return Some((Ok(out), (upstream_body, rewriter, true)));
                        }
                        Some((Ok(out), (upstream_body, rewriter, false)))
                    }
                    Some(Err(e)) => {
                        worker::console_warn!("the provider's stream broke: {e}");
                        let _ = rewriter.finish(&mut out);
                        let err = ClientError::new(
                            ErrorCode::UpstreamNetwork,
                            "the provider's stream ended unexpectedly",
                        );
                        out.extend_from_slice(&sse_error_event(&err));
                        Some((Ok(out), (upstream_body, rewriter, true)))
                    }
                    None => {
                        if let Err(e) = rewriter.finish(&mut out) {
                            out.extend_from_slice(&sse_error_event(&e.to_client()));
                        }
                        Some((Ok(out), (upstream_body, rewriter, true)))
                    }
                }
            },
        )
        .filter(|chunk: &worker::Result<Vec<u8>>| {
            let keep = chunk.as_ref().map_or(true, |c| !c.is_empty());
            async move { keep }
        });
        let headers = Headers::new();
        let _ = headers.set("content-type", "text/event-stream; charset=utf-8");
        let _ = headers.set("cache-control", "no-cache");
        return Ok(Response::from_stream(body)
            .or_internal("streaming the provider's answer")?
            .with_status(status)
            .with_headers(headers));
    }
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let sealed = seal_response_body(&body, &sealer, &owner, &dep.id).map_err(|_| {
        worker::console_warn!("unreadable Responses answer from {}", dep.id);
        upstream_failure(
            cx,
            UpstreamError::unreadable(
                Some(status),
                "the provider sent a Responses answer the gateway cannot read",
            ),
        )
    })?;
    let sealed = redact_failed_answer(sealed, &crate::redaction::redactor(cx));
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(sealed))
}

/// Which call on a stored response.
#[derive(Clone, Copy)]
pub(super) enum OnResponse {
    Retrieve,
    Delete,
    InputItems,
    Cancel,
}

/// `GET`/`DELETE /v1/responses/{id}`, `GET …/input_items`, `POST …/cancel`:
/// always on the deployment sealed into the id.
pub(super) async fn on_response(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
    call: OnResponse,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let owner = caller.owner();
    let restored = restore_id(id, &sealer, &owner).map_err(|e| e.to_client())?;
    let (group, dep) = config.deployment(&restored.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::ResponseNotFound,
            "the deployment that holds this response is no longer configured on this gateway",
        )
    })?;
    if !caller.policy()?.allows(&group.name) {
        return Err(ClientError::new(
            ErrorCode::ModelAccessDenied,
            format!("this key may no longer use model {:?}", group.name),
        ));
    }
    cx.log.borrow_mut().model = Some(group.name.clone());
    let url = req.url().or_internal("reading the request URL")?;
    let (method, suffix, query) = match call {
        // A streamed retrieve is not offered: the stored response comes whole.
        OnResponse::Retrieve => (
            UpstreamMethod::Get,
            "",
            passthrough_query(&url, &["stream"]),
        ),
        OnResponse::Delete => (UpstreamMethod::Delete, "", String::new()),
        OnResponse::Cancel => (UpstreamMethod::Post, "/cancel", String::new()),
        OnResponse::InputItems => {
            let mut pairs = Vec::new();
            for (k, v) in url.query_pairs() {
                let value = if k == "after" || k == "before" {
                    let (_, upstream) =
                        restore_cursor(&k, &v, &sealer, &owner).map_err(|e| e.to_client())?;
                    upstream
                } else {
                    v.into_owned()
                };
                pairs.push((k.into_owned(), value));
            }
            let query = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            (UpstreamMethod::Get, "/input_items", query)
        }
    };
    let plan = id_request(dep, method, &restored.upstream_id, suffix, &query)?;
    let response = upstream::send(cx, dep, &plan).await?;
    respond_sealed(cx, response, dep, &caller, false).await
}

/// The query of a retrieve, passed on (`include[]`, `stream`, …) minus `skip`.
fn passthrough_query(url: &worker::Url, skip: &[&str]) -> String {
    url.query_pairs()
        .filter(|(k, _)| !skip.contains(&k.as_ref()))
        .map(|(k, v)| format!("{}={}", encode(&k), encode(&v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    worker::js_sys::encode_uri_component(text).into()
}
