// OpenAI Realtime Translation (`/v1/realtime/translations…`, also under
// `/realtime` and `/openai/v1/realtime`), through the one pipeline:
//
// | route | caller | upstream | metering |
// |---|---|---|---|
// | `POST …/translations/client_secrets` | virtual key or browser token | routed by model group (failover before the mint), `{base}/realtime/translations/client_secrets` with the deployment's key (Azure: `api-key`) | one realtime session reserved, committed when minted |
// | `GET …/translations?model=` (WebSocket) | virtual key (header or browser subprotocol) | routed, `{base}/realtime/translations?model=<deployment model>`, the deployment's key | one realtime session reserved before dialing |
// | the same, with a translation token | the token (`Bearer`, `api-key` or subprotocol) | the deployment that minted it, `Bearer ek_…` | the token's one use (its session was paid at mint) |
// | `POST …/translations/calls` (`application/sdp`) | translation token | the minting deployment, raw SDP, no `?model=` | the token's one use |
//
// The answer of a mint carries reelay's sealed `ek_rl_` token (of the
// translation kind, core's `realtime::translation`) instead of the
// upstream's `ek_…`; a translation token never opens a realtime session and
// a realtime token never opens a translation one. Every client event of a
// socket passes core's translation guard; upstream error events and close
// reasons are redacted; the session ends with its key or token
// (`relay::Lifetime`). Token checks (tag, purpose, expiry, origin, the
// owning key now) are the realtime routes' own.

use reelay_core::browser_token::Minter;
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::quota::{Cost, Outcome};
use reelay_core::realtime::calls::{check_sdp, MAX_SDP_BYTES};
use reelay_core::realtime::session::SealWith;
use reelay_core::realtime::translation::{
    finish_mint, plan_call, SecretRequest, SocketQuery, TRANSLATION_KINDS,
};
use reelay_core::realtime::ws::{
    plan_translation_with_key, plan_translation_with_token, Subprotocols,
};
use reelay_core::realtime::TOKEN_PREFIX;
use reelay_core::retry::Resend;
use worker::{Headers, Method, Request, Response};

use super::realtime::{
    admit_session, describe, not_found, open_token, presented_token, send_call, session_cost,
    token_session,
};
use super::realtime_ws::{self, Opened};
use super::relay::{self, Lifetime};
use crate::context::{random_bytes, Ctx};
use crate::keys;
use crate::pipeline;
use crate::request::{allow, media_type, read_body, require_json};
use crate::respond::OrInternal;
use crate::upstream::{self, upstream_failure};

/// Largest `client_secrets` body (the session has a handful of fields).
const MAX_SECRET_BODY: u32 = 64 * 1024;

/// The session kind in the end-of-session log line.
const LOG_KIND: &str = "openai_translation";

/// Routes under `/v1/realtime/translations` (`rest` is what follows it).
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    rest: &[&str],
) -> Result<Response, ClientError> {
    let method = crate::request::method(req);
    match rest {
        [] => {
            allow(&method, &[Method::Get])?;
            connect(req, cx).await
        }
        ["client_secrets"] => {
            allow(&method, &[Method::Post])?;
            client_secrets(req, cx).await
        }
        ["calls"] => {
            allow(&method, &[Method::Post])?;
            create_call(req, cx).await
        }
        _ => Err(not_found(&method, req)),
    }
}

/// `POST /v1/realtime/translations/client_secrets`.
async fn client_secrets(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let key = cx.seal_keys()?;
    // Admitted once the session's cost is known.
    let mut caller = keys::identify(req, cx, false).await?;
    require_json(req)?;
    let body = read_body(req, config.max_body_bytes.min(MAX_SECRET_BODY)).await?;
    let request = SecretRequest::parse(&body)?;
    cx.log.borrow_mut().model = Some(request.model().to_owned());
    let policy = caller.policy()?;
    let group = request
        .authorize(&config, &policy)
        .map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot mint fails here, before anything is reserved.
    request.plan_for(first.deployment)?;
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    let served = upstream::send_from(cx, &mut route, first, |dep, _| request.plan_for(dep)).await?;
    let (mut response, deployment, served_group) = (served.value, served.deployment, served.group);
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let seal = SealWith {
        key: &key,
        key_hash: caller.hash,
        // A browser token mints nothing that outlives or outreaches it.
        minter: caller
            .token
            .as_ref()
            .map_or(Minter::Key, Minter::BrowserToken),
        nonce: random_bytes::<12>()?,
        now_secs: worker::Date::now().as_millis() / 1000,
    };
    let minted = finish_mint(&request, served_group, deployment, &body, &seal)
        .map_err(|e| upstream_failure(cx, e))?;
    pipeline::settle(cx, Outcome::Done(session_cost(deployment)));
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    // The body holds a credential: no cache may keep it.
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(minted.body.into_bytes()))
}

/// `GET /v1/realtime/translations?model=` with `Upgrade: websocket`.
async fn connect(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    relay::require_upgrade(req)?;
    let header = req.headers().get("sec-websocket-protocol").ok().flatten();
    let protocols = Subprotocols::parse(header.as_deref());
    match open(req, cx, &protocols).await {
        Ok(opened) => realtime_ws::start_relay(cx, opened, LOG_KIND, protocols.answer),
        Err(err) => relay::refuse(cx, &err, Dialect::OpenAi, protocols.answer),
    }
}

/// Authenticates, checks, meters and connects upstream.
async fn open(req: &Request, cx: &Ctx, protocols: &Subprotocols) -> Result<Opened, ClientError> {
    let config = cx.config()?;
    let url = req.url().or_internal("reading the request URL")?;
    let query = SocketQuery::parse(url.query().unwrap_or(""))?;
    let token = presented_token(req).or_else(|| {
        protocols
            .key
            .clone()
            .filter(|k| k.starts_with(TOKEN_PREFIX))
    });
    if let Some(token) = token {
        // A translation token: the deployment that minted it, its one session.
        let claims = open_token(cx, &token, TRANSLATION_KINDS)?;
        let (mut owner, dep) = token_session(cx, &config, &claims).await?;
        let plan = plan_translation_with_token(&claims, dep, &query, &owner.policy)?;
        let lifetime = realtime_ws::token_lifetime(cx, &owner, &claims, &claims.model).await?;
        admit_session(cx, &mut owner, &claims).await?;
        let opened = realtime_ws::dial(cx, dep, plan, lifetime).await?;
        // The session started: its use stays spent.
        pipeline::settle(cx, Outcome::Done(Cost::REQUEST));
        return Ok(opened);
    }

    // A virtual key (or a browser token): access check, routing, one
    // realtime session reserved with the request.
    let mut caller = realtime_ws::caller(req, cx, protocols).await?;
    let model = query.required_model()?.to_owned();
    cx.log.borrow_mut().model = Some(model.clone());
    let policy = caller.policy()?;
    let group = reelay_core::realtime::ws::authorize(&config, &policy, &model, "model")
        .map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot serve the socket fails here, before anything is reserved.
    plan_translation_with_key(&model, first.deployment, &policy)?;
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    let lifetime = Lifetime::of_caller(cx, &caller, &group.name).await?;
    // Dialing is new work: it moves on only after an upstream refused it.
    let served = upstream::with_failover(cx, &mut route, first, async |dep, _| {
        let plan = plan_translation_with_key(&model, dep, &policy)?;
        let (upstream, secret) = realtime_ws::dial_attempt(cx, dep, &plan).await?;
        Ok((upstream, secret, plan))
    })
    .await?;
    pipeline::settle(cx, Outcome::Done(session_cost(served.deployment)));
    let (upstream, secret, plan) = served.value;
    Ok(Opened {
        upstream,
        plan,
        dep: served.deployment.clone(),
        secret,
        lifetime,
    })
}

/// `POST /v1/realtime/translations/calls`: a browser's SDP offer with a
/// translation token, exchanged on the deployment that minted it.
async fn create_call(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let Some(token) = presented_token(req) else {
        // Only a token carries the upstream's ephemeral key the exchange needs.
        keys::identify(req, cx, false).await?;
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "POST /v1/realtime/translations/calls takes a translation token (ek_rl_…) from \
             POST /v1/realtime/translations/client_secrets, not a key",
        ));
    };
    let claims = open_token(cx, &token, TRANSLATION_KINDS)?;
    let (mut owner, dep) = token_session(cx, &config, &claims).await?;
    let sdp = match media_type(req).as_str() {
        // Browsers posting a string without a type send text/plain.
        "application/sdp" | "text/plain" | "" => {
            check_sdp(&read_body(req, MAX_SDP_BYTES as u32).await?)?
        }
        other => {
            return Err(ClientError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "content type {other:?} is not accepted; send the SDP offer as application/sdp"
                ),
            ))
        }
    };
    let plan = plan_call(&claims, dep, sdp)?;
    admit_session(cx, &mut owner, &claims).await?;
    let mut response = send_call(cx, dep, &plan)
        .await
        .map_err(|e| crate::fetch::scrub(e, claims.upstream_key.expose()))?;
    // The session started: its use stays spent.
    pipeline::settle(cx, Outcome::Done(Cost::REQUEST));
    let status = response.status_code();
    let sdp = response
        .bytes()
        .await
        .or_internal("reading the provider's SDP answer")?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/sdp");
    // The upstream's call id (in its `Location`) is not passed on: no
    // route of reelay controls a translation call.
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(sdp))
}
