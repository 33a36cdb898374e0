// `GET /v1/realtime` (also `/realtime`, `/openai/v1/realtime`): the OpenAI
// and Azure Realtime WebSocket, relayed. Everything is decided before the
// client's socket is upgraded — who is calling (`Authorization: Bearer`,
// `api-key`, the browser subprotocol `openai-insecure-api-key.<key>`, or a
// reelay token `ek_rl_…` from `client_secrets`), whether the key may use
// `?model=`, the realtime-session quota, and the upstream socket itself —
// so a refusal never leaves a half-open session: the socket is accepted,
// sent one OpenAI `error` event and closed (1008 for refusals, 1011 for
// gateway and upstream failures; see `core::realtime::ws`).
//
// | caller | upstream | quota |
// |---|---|---|
// | virtual key, `?model=` | routed by model group, the deployment's own key | one realtime session (and its price) reserved before connecting, refunded if the upstream refuses |
// | reelay token | the deployment that minted it, `Bearer ek_…` (sealed in the token) | the token's one use (its session was charged at mint), given back if the upstream refuses |
// | `?call_id=rtc_…` (reelay's sealed call id), by the key that started the call or its token | the deployment holding the call, `?call_id=<upstream id>`, the deployment's key | none: the call was charged |
//
// The subprotocol `realtime` is answered when offered; the key subprotocol
// is never echoed. Revocation between mint and connect is seen here (the
// owning key is checked in its quota Durable Object on every connect), and
// after it the session's `relay::Lifetime` ends it: at the key's or the
// token's expiry, or when the key is deleted. Every client text frame,
// sidebands included, passes core's `SessionGuard`.

use std::rc::Rc;

use reelay_core::config::{Config, Deployment};
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::plan::Auth;
use reelay_core::quota::{Cost, Outcome};
use reelay_core::realtime::calls::{check_call_access, open_call_id};
use reelay_core::realtime::lifetime::Credential;
use reelay_core::realtime::ws::{
    authorize, plan_sideband, plan_with_key, plan_with_token, FrameGuard, Subprotocols,
    WsCredential, WsPlan, WsQuery,
};
use reelay_core::realtime::{TokenClaims, TOKEN_PREFIX};
use reelay_core::retry::Resend;
use worker::{Headers, Method, Request, RequestInit, Response, WebSocket};

use super::realtime::{
    admit_session, checked_owner, describe, open_token, presented_token, served, session_cost,
    token_session, TokenOwner,
};
use super::relay::{self, Lifetime, Session};
use crate::context::Ctx;
use crate::keys::{self, Caller};
use crate::pipeline;
use crate::respond::OrInternal;
use crate::upstream::{self, Failure};

/// An upstream socket ready to relay.
pub(super) struct Opened {
    pub(super) upstream: WebSocket,
    pub(super) plan: WsPlan,
    pub(super) dep: Deployment,
    pub(super) secret: String,
    pub(super) lifetime: Lifetime,
}

/// `GET /v1/realtime` with `Upgrade: websocket`.
pub(super) async fn connect(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    relay::require_upgrade(req)?;
    let header = req.headers().get("sec-websocket-protocol").ok().flatten();
    let protocols = Subprotocols::parse(header.as_deref());
    match open(req, cx, &protocols).await {
        Ok(opened) => start_relay(cx, opened, "openai_realtime", protocols.answer),
        Err(err) => relay::refuse(cx, &err, Dialect::OpenAi, protocols.answer),
    }
}

/// Accepts the client's socket and relays it to `opened` (an OpenAI-shaped
/// session of `kind`, for the log line), answering `protocol` if offered.
pub(super) fn start_relay(
    cx: &Ctx,
    opened: Opened,
    kind: &'static str,
    protocol: Option<&str>,
) -> Result<Response, ClientError> {
    let pair = relay::client_pair()?;
    let session = Session {
        request_id: cx.request_id.clone(),
        kind,
        dialect: Dialect::OpenAi,
        guard: (opened.plan.guard.clone())
            .map(|g| Box::new(g.redacting(crate::redaction::redactor(cx))) as Box<dyn FrameGuard>),
        first_upstream: None,
        lifetime: opened.lifetime,
        secrets: [crate::redaction::values(cx), vec![opened.secret]].concat(),
        model: cx.log.borrow().model.clone(),
        deployment: Some(opened.dep.id.clone()),
    };
    let server = pair.server;
    let upstream = opened.upstream;
    worker::wasm_bindgen_futures::spawn_local(async move {
        match server.events() {
            Ok(mut events) => relay::pump(&server, &mut events, upstream, session).await,
            Err(e) => {
                worker::console_error!("listening to a client socket failed: {e}");
                let _ = upstream.close(Some(1011), Some("internal_error"));
            }
        }
    });
    relay::upgrade_response(pair.client, protocol)
}

/// Authenticates, checks, meters and connects upstream.
async fn open(req: &Request, cx: &Ctx, protocols: &Subprotocols) -> Result<Opened, ClientError> {
    let config = cx.config()?;
    let url = req.url().or_internal("reading the request URL")?;
    let query = WsQuery::parse(url.query().unwrap_or(""))?;
    let token = presented_token(req).or_else(|| {
        protocols
            .key
            .clone()
            .filter(|k| k.starts_with(TOKEN_PREFIX))
    });
    if let Some(call_id) = &query.call_id {
        return sideband(req, cx, &config, protocols, token.as_deref(), call_id).await;
    }
    if let Some(token) = token {
        // A browser with a reelay token: always the deployment that minted
        // it, and the token's one session.
        let claims = open_token(cx, &token, query.token_kinds())?;
        let (mut owner, dep) = token_session(cx, &config, &claims).await?;
        let plan = plan_with_token(&claims, dep, &query)?;
        let lifetime = token_lifetime(cx, &owner, &claims, &claims.model).await?;
        admit_session(cx, &mut owner, &claims).await?;
        let opened = dial(cx, dep, plan, lifetime).await?;
        // The session started: its use stays spent.
        pipeline::settle(cx, Outcome::Done(Cost::REQUEST));
        return Ok(opened);
    }

    // A virtual key: access check, routing, one realtime session reserved
    // with the request (admitted once its cost is known).
    let mut caller = caller(req, cx, protocols).await?;
    let model = query.model.clone().ok_or_else(|| {
        ClientError::new(
            ErrorCode::InvalidRequest,
            "the `model` query parameter is required: GET /v1/realtime?model=<realtime model>",
        )
        .with_param("model")
    })?;
    cx.log.borrow_mut().model = Some(model.clone());
    let policy = caller.policy()?;
    let group = authorize(&config, &policy, &model, "model").map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot serve the socket fails here, before anything is reserved.
    plan_with_key(&model, first.deployment, &query)?;
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    let lifetime = Lifetime::of_caller(cx, &caller, &model).await?;
    // Dialing is new work: it moves on only after an upstream refused it.
    let served = upstream::with_failover(cx, &mut route, first, async |dep, _| {
        let plan = plan_with_key(&model, dep, &query)?;
        let (upstream, secret) = dial_attempt(cx, dep, &plan).await?;
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

/// The virtual key in the headers, or in the browser subprotocol.
pub(super) async fn caller(
    req: &Request,
    cx: &Ctx,
    protocols: &Subprotocols,
) -> Result<Caller, ClientError> {
    let headers = req.headers();
    let in_headers =
        headers.has("authorization").unwrap_or(false) || headers.has("api-key").unwrap_or(false);
    match (&protocols.key, in_headers) {
        (Some(key), false) => keys::identify(&with_bearer(req, key)?, cx, false).await,
        _ => keys::identify(req, cx, false).await,
    }
}

/// A copy of `req` whose `Authorization` carries `key` (a browser cannot set
/// headers on a WebSocket; its key arrives as a subprotocol).
fn with_bearer(req: &Request, key: &str) -> Result<Request, ClientError> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if name != "sec-websocket-protocol" {
            let _ = headers.set(&name, &value);
        }
    }
    headers
        .set("authorization", &format!("Bearer {key}"))
        .map_err(|_| ClientError::from_code(ErrorCode::InvalidApiKey))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let url = req.url().or_internal("reading the request URL")?;
    Request::new_with_init(url.as_str(), &init).or_internal("authenticating a WebSocket")
}

/// The credential a sideband socket was opened with.
enum By {
    /// A realtime token, and its owning key as it stands now.
    Token(TokenOwner, TokenClaims),
    /// A virtual key (or a browser token of one).
    Key(Caller),
}

/// `?call_id=`: a sideband socket on a WebRTC call, by the key that started
/// it (its virtual key, or a still-valid token it minted).
async fn sideband(
    req: &Request,
    cx: &Ctx,
    config: &Config,
    protocols: &Subprotocols,
    token: Option<&str>,
    call_id: &str,
) -> Result<Opened, ClientError> {
    let sealer = cx.seal_keys()?;
    // Who calls: a token's owning key as it stands now, or a virtual key.
    let (owner, policy, by) = match token {
        Some(token) => {
            let claims = open_token(cx, token, reelay_core::realtime::ALL_KINDS)?;
            let key = checked_owner(cx, config, &claims).await?;
            (
                claims.owner(),
                Rc::clone(&key.policy),
                By::Token(key, claims),
            )
        }
        None => {
            let caller = caller(req, cx, protocols).await?;
            let policy = caller.policy()?;
            (caller.owner(), policy, By::Key(caller))
        }
    };
    let call = open_call_id(&sealer, call_id, &owner)?;
    let (group, dep) = config.deployment(&call.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::RealtimeCallNotFound,
            "the deployment holding this realtime call is no longer configured",
        )
    })?;
    cx.log.borrow_mut().model = Some(group.name.clone());
    check_call_access(group, &policy)?;
    let lifetime = match by {
        By::Token(key, claims) => token_lifetime(cx, &key, &claims, &group.name).await?,
        By::Key(caller) => Lifetime::of_caller(cx, &caller, &group.name).await?,
    };
    served(cx, dep);
    let plan = plan_sideband(&group.name, dep, &call)?;
    dial(cx, dep, plan, lifetime).await
}

/// The lifetime of a session on `model` opened with the realtime token
/// `claims`, minted by `owner`'s key.
pub(super) async fn token_lifetime(
    cx: &Ctx,
    owner: &TokenOwner,
    claims: &TokenClaims,
    model: &str,
) -> Result<Lifetime, ClientError> {
    let record = (!owner.caller.is_master).then(|| &*owner.caller.record);
    let expires_at_ms = claims.expires_at.saturating_mul(1000);
    let credential = Credential::RealtimeToken;
    Lifetime::start(cx, model, credential, record, Some(expires_at_ms)).await
}

/// Opens the upstream socket of `plan`.
pub(super) async fn dial(
    cx: &Ctx,
    dep: &Deployment,
    plan: WsPlan,
    lifetime: Lifetime,
) -> Result<Opened, ClientError> {
    let (upstream, secret) = dial_attempt(cx, dep, &plan)
        .await
        .map_err(|f| f.into_client(cx))?;
    Ok(Opened {
        upstream,
        plan,
        dep: dep.clone(),
        secret,
        lifetime,
    })
}

/// One attempt of [`dial`], its failure (scrubbed of the credential) left
/// for failover to judge.
pub(super) async fn dial_attempt(
    cx: &Ctx,
    dep: &Deployment,
    plan: &WsPlan,
) -> Result<(WebSocket, String), Failure> {
    let (name, secret) = match &plan.credential {
        WsCredential::Ephemeral(key) => ("authorization", key.expose().to_owned()),
        WsCredential::Deployment(Auth::AzureApiKey) => ("api-key", upstream::credential(cx, dep)?),
        WsCredential::Deployment(_) => ("authorization", upstream::credential(cx, dep)?),
    };
    cx.remember_secret(&secret);
    let value = if name == "authorization" {
        format!("Bearer {secret}")
    } else {
        secret.clone()
    };
    let upstream = relay::connect_attempt(
        cx,
        &plan.url,
        &[(name, value.as_str())],
        dep.timeout_ms,
        &dep.id,
    )
    .await
    .map_err(|f| f.scrubbed(&secret))?;
    Ok((upstream, secret))
}
