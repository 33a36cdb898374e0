// OpenAI GPT-Live over HTTP, on OpenAI and Azure deployments: `POST
// /v1/live/sessions` (the JSON WebRTC offer/answer) by a virtual key or a
// browser token, the REST fork, the SIP controls (`accept`, `hangup`,
// `refer`, `reject`) and the recording download (`GET …/{id}/content`,
// streamed). The WebSockets on the same paths (upgrade requests) are the
// WebSocket routes'.
//
// Every request takes the pipeline: identify the key or browser token (its
// origin, expiry and model rules), authorize every model the session
// spends on (core::realtime::gpt_live), admit one realtime session
// (creates and forks) or one request (controls, content), send with
// failover (a create moves on only after an upstream refused it; a
// session's follow-ups go to the deployment its sealed id names), settle,
// answer. Session ids are sealed for the caller's owner (the key, or a
// browser token's visitor).

use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::quota::{Cost, Outcome};
use reelay_core::realtime::gpt_live::{
    self, plan_content, plan_control, Control, CreateRequest, ForkRequest, MAX_BODY_BYTES,
    MAX_CONTROL_BYTES,
};
use reelay_core::retry::Resend;
use reelay_core::seal::UpstreamId;
use worker::{Headers, Method, Request, Response};

use super::realtime::{served, session_cost};
use crate::context::Ctx;
use crate::keys::{self, Caller};
use crate::pipeline::{self, describe};
use crate::request::{allow, media_type, read_body};
use crate::respond::OrInternal;
use crate::upstream::{self, upstream_failure};

/// Routes under `/v1/live/sessions` (also `/live/sessions` and
/// `/openai/v1/live/sessions`) that are not WebSocket upgrades.
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    rest: &[&str],
) -> Result<Response, ClientError> {
    let method = crate::request::method(req);
    match rest {
        [] => {
            allow(&method, &[Method::Post])?;
            create(req, cx).await
        }
        [id, "fork"] => {
            allow(&method, &[Method::Post])?;
            let id = (*id).to_owned();
            fork(req, cx, &id).await
        }
        [id, "content"] => {
            allow(&method, &[Method::Get])?;
            let id = (*id).to_owned();
            content(req, cx, &id).await
        }
        [id, action] => {
            let control =
                Control::parse(action).ok_or_else(|| super::realtime::not_found(&method, req))?;
            allow(&method, &[Method::Post])?;
            let id = (*id).to_owned();
            self::control(req, cx, &id, control).await
        }
        _ => Err(super::realtime::not_found(&method, req)),
    }
}

/// Refuses bodies that are not JSON.
fn require_json(req: &Request) -> Result<(), ClientError> {
    match media_type(req).as_str() {
        "application/json" | "" => Ok(()),
        other => Err(ClientError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "content type {other:?} is not accepted; send application/json \
                 ({{\"session\": …, \"transport\": {{\"type\": \"webrtc\", \"sdp\": …}}}})"
            ),
        )),
    }
}

/// `POST /v1/live/sessions`: a WebRTC session, by a key or a browser token.
async fn create(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    // Admitted once the session's deployment (and so its price) is known.
    let mut caller = keys::identify(req, cx, false).await?;
    require_json(req)?;
    let body = read_body(req, config.max_body_bytes.min(MAX_BODY_BYTES as u32)).await?;
    let request = CreateRequest::parse(&body)?;
    cx.log.borrow_mut().model = Some(request.model().to_owned());
    let policy = caller.policy()?;
    let group = request
        .authorize(&config, &policy)
        .map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment without GPT-Live fails here, before anything is reserved.
    request.plan_for(first.deployment)?;
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    // Failover only while the create certainly did not start upstream (an
    // error status); after a timeout or a lost connection it may have.
    let served = upstream::send_from(cx, &mut route, first, |dep, _| request.plan_for(dep))
        .await
        .map_err(|e| gpt_live::create_outcome_unknown(e, false))?;
    let dep = served.deployment;
    answer_session(
        cx,
        served.value,
        &sealer,
        &caller,
        &dep.id,
        session_cost(dep),
    )
    .await
}

/// Reads the upstream's create (or fork) answer, seals its session id for
/// the caller and answers `{session:{id}, transport:{type, sdp}}`.
async fn answer_session(
    cx: &Ctx,
    mut response: Response,
    sealer: &reelay_core::seal::Keys,
    caller: &Caller,
    deployment: &str,
    cost: Cost,
) -> Result<Response, ClientError> {
    let accepted = |e| gpt_live::create_outcome_unknown(e, true);
    let status = response.status_code();
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's GPT-Live answer")
        .map_err(accepted)?;
    let created = gpt_live::parse_created(&body).map_err(|e| accepted(upstream_failure(cx, e)))?;
    // The session started: it counts.
    pipeline::settle(cx, Outcome::Done(cost));
    let id = gpt_live::seal_session_id(sealer, caller.owner(), deployment, &created.id, cx.now_ms)
        .map_err(accepted)?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(gpt_live::answer(&id, &created.sdp).into_bytes()))
}

/// A session the caller holds: its sealed id opened with the caller's
/// owner, the deployment holding it (and its group).
struct Held<'c> {
    session: UpstreamId,
    group: &'c reelay_core::config::ModelGroup,
    deployment: &'c reelay_core::config::Deployment,
}

fn held<'c>(
    cx: &Ctx,
    config: &'c reelay_core::config::Config,
    caller: &Caller,
    id: &str,
) -> Result<Held<'c>, ClientError> {
    let sealer = cx.seal_keys()?;
    let session = gpt_live::open_session_id(&sealer, id, &caller.owner())?;
    let (group, deployment) = config.deployment(&session.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::LiveSessionNotFound,
            "the deployment holding this live session is no longer configured",
        )
    })?;
    cx.log.borrow_mut().model = Some(group.name.clone());
    served(cx, deployment);
    Ok(Held {
        session,
        group,
        deployment,
    })
}

/// `POST /v1/live/sessions/{id}/fork`: a new WebRTC session from a stored
/// one, on its deployment; it counts as a session.
async fn fork(req: &mut Request, cx: &Ctx, id: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    let mut caller = keys::identify(req, cx, false).await?;
    let held = held(cx, &config, &caller, id)?;
    require_json(req)?;
    let body = read_body(req, config.max_body_bytes.min(MAX_BODY_BYTES as u32)).await?;
    let request = ForkRequest::parse(&body)?;
    let policy = caller.policy()?;
    request
        .authorize(held.group, &policy)
        .map_err(|e| describe(e, &caller))?;
    let plan = request.plan(held.deployment, &held.session)?;
    let cost = session_cost(held.deployment);
    pipeline::admit(cx, &mut caller, cost).await?;
    // The fork lives where its source is: no other deployment can serve it.
    let response = upstream::send(cx, held.deployment, &plan)
        .await
        .map_err(|e| gpt_live::create_outcome_unknown(e, false))?;
    answer_session(cx, response, &sealer, &caller, &held.deployment.id, cost).await
}

/// `POST /v1/live/sessions/{id}/accept|hangup|refer|reject`.
async fn control(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
    control: Control,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    // Counts one request; a key gone or a token expired stops here.
    let caller = pipeline::authenticate(req, cx, false).await?;
    let held = held(cx, &config, &caller, id)?;
    if control != Control::Hangup {
        require_json(req)?;
    }
    let body = read_body(req, MAX_CONTROL_BYTES as u32).await?;
    let policy = caller.policy()?;
    let plan = plan_control(
        held.group,
        held.deployment,
        &policy,
        &held.session,
        control,
        &body,
    )
    .map_err(|e| describe(e, &caller))?;
    let mut response = upstream::send(cx, held.deployment, &plan).await?;
    let status = response.status_code();
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = response.bytes().await.unwrap_or_default();
    let headers = Headers::new();
    if let Some(ct) = content_type.filter(|_| !body.is_empty()) {
        let _ = headers.set("content-type", &ct);
    }
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body))
}

/// `GET /v1/live/sessions/{id}/content`: the stored session's recording,
/// streamed from the deployment holding it (never buffered), with the
/// upstream's content type.
async fn content(req: &mut Request, cx: &Ctx, id: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let held = held(cx, &config, &caller, id)?;
    let policy = caller.policy()?;
    let plan = plan_content(held.group, held.deployment, &policy, &held.session)
        .map_err(|e| describe(e, &caller))?;
    let upstream = upstream::send(cx, held.deployment, &plan).await?;
    let headers = Headers::new();
    let content_type = upstream
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_else(|| String::from("application/octet-stream"));
    let _ = headers.set("content-type", &content_type);
    if let Some(len) = upstream.headers().get("content-length").ok().flatten() {
        let _ = headers.set("content-length", &len);
    }
    let _ = headers.set("cache-control", "private, no-store");
    let (_, body) = upstream.into_parts();
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .body(body))
}
