// Gemini Live Interactions, relayed, and the per-interaction auth tokens
// reelay mints for them (`core::realtime::live_interactions` decides; this
// file does). Paths (also under `/gemini/`, `{v}` = v1, v1beta, v1alpha):
//
//   GET    /{v}/interactions/live                       WebSocket
//   POST   /{v}/interactions/{int_id}/auth_tokens        mint a token
//   DELETE /{v}/interactions/{int_id}/auth_tokens/{tok}  revoke it
//
// The socket's caller is authenticated before the upgrade: a virtual key
// (`x-goog-api-key`, `?key=`, Bearer) or a gateway-minted interaction token
// (`auth_tokens/lt_rl_…`, checked against its owning key now). The first
// frame (within 10 s) opens the session: `interaction.connect` with a
// sealed `int_` id, opened for the caller (another key's or visitor's id is
// not found; a token opens only its own interaction) and pinned to the
// deployment holding it, or `interaction.create` (virtual keys only) whose
// model is authorized and routed like any new work. The session is then
// admitted once (one realtime session on the key, with its price; a token's
// use counted in the same call, where a revocation shows), the upstream
// socket opened with the deployment's key and the upstream id swapped in,
// and frames relayed through core's `InteractionGuard` (checked client
// events; sealed ids and redacted errors coming down). Refusals send one
// `error` event, then close (1008/1007 for the caller's mistakes, 1011 for
// gateway and upstream failures). The session ends with its key or token
// (`relay::Lifetime`).

use std::rc::Rc;

use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::browser_token::Minter;
use reelay_core::config::Deployment;
use reelay_core::encoding::ct_eq;
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::quota::Outcome;
use reelay_core::realtime::lifetime::Credential;
use reelay_core::realtime::live_interactions::{
    api_revision, error_event, token_answer, upstream_url, FirstFrame, InteractionGuard,
    InteractionTokenClaims, InteractionsRoute, Opening, Sealer, TokenRequest, API_REVISION_HEADER,
    FIRST_FRAME_TIMEOUT_MS, MAX_TOKEN_BODY, REVOKED_USES,
};
use reelay_core::realtime::ws::authorize;
use reelay_core::retry::{Resend, RoutePlan};
use reelay_core::seal::{self, Owner, Purpose};
use worker::{Headers, Method, Request, Response, WebSocket};

use super::live::presented_token;
use super::realtime::{describe, owner_refusal, session_cost, token_owner, TokenOwner};
use super::relay::{self, First, Frame, Lifetime, Session};
use crate::context::{random_bytes, Ctx};
use crate::keys::{self, Caller};
use crate::pipeline;
use crate::quota;
use crate::request::{allow, method, read_body};
use crate::upstream::{self, Failure};

/// Runs a Live Interactions route.
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    route: InteractionsRoute<'_>,
) -> Result<Response, ClientError> {
    let method = method(req);
    match route {
        InteractionsRoute::Socket => {
            allow(&method, &[Method::Get])?;
            connect(req, cx).await
        }
        InteractionsRoute::MintToken { id } => {
            allow(&method, &[Method::Post])?;
            mint(req, cx, id).await
        }
        InteractionsRoute::RevokeToken { id, token } => {
            allow(&method, &[Method::Delete])?;
            revoke(req, cx, id, token).await
        }
    }
}

/// Who opened the socket.
enum Who {
    /// A virtual key (or a browser token of one).
    Key(Box<Caller>),
    /// An interaction token and its owner as it stands.
    Token(Box<(InteractionTokenClaims, TokenOwner)>),
}

impl Who {
    fn owner(&self) -> Owner {
        match self {
            Self::Key(caller) => caller.owner(),
            Self::Token(token) => token.0.owner(),
        }
    }

    fn policy(&self, groups: &AccessGroups) -> Result<Rc<AccessPolicy>, ClientError> {
        match self {
            Self::Key(caller) => caller.policy(),
            Self::Token(token) => match token.0.narrowing(groups)? {
                Some(narrowing) => Ok(Rc::new((*token.1.policy).clone().narrowed(narrowing))),
                None => Ok(Rc::clone(&token.1.policy)),
            },
        }
    }

    fn describe(&self, err: ClientError) -> ClientError {
        match self {
            Self::Key(caller) => describe(err, caller),
            Self::Token(..) => err,
        }
    }
}

async fn connect(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    relay::require_upgrade(req)?;
    let who = match identify(req, cx).await {
        Ok(who) => who,
        Err(err) => return relay::refuse(cx, &err, Dialect::Google, None),
    };
    let revision = req
        .headers()
        .get(API_REVISION_HEADER)
        .ok()
        .flatten()
        .and_then(|v| api_revision(v.trim()).map(str::to_owned));
    let pair = relay::client_pair()?;
    let task_cx = cx.fork(req);
    let server = pair.server;
    worker::wasm_bindgen_futures::spawn_local(async move {
        session(task_cx, server, who, revision).await;
    });
    relay::upgrade_response(pair.client, None)
}

async fn identify(req: &Request, cx: &Ctx) -> Result<Who, ClientError> {
    let config = cx.config()?;
    if let Some(token) = presented_token(req)? {
        let seal_keys = cx.seal_keys()?;
        let claims = InteractionTokenClaims::open(&seal_keys, &token, cx.now_ms).map_err(|e| {
            worker::console_warn!("interaction token refused: {}", e.as_str());
            e.to_client(Purpose::LiveToken)
        })?;
        claims.check_origin(crate::cors::token_origin(cx))?;
        let owner = token_owner(cx, &config, &claims.key_hash, ErrorCode::InvalidLiveToken).await?;
        return Ok(Who::Token(Box::new((claims, owner))));
    }
    // Admitted with its session once the first frame names the interaction.
    Ok(Who::Key(Box::new(keys::identify(req, cx, true).await?)))
}

/// The session after the `101`: wait for the first frame, check, connect, relay.
async fn session(cx: Ctx, server: WebSocket, mut who: Who, revision: Option<String>) {
    let mut events = match server.events() {
        Ok(events) => events,
        Err(e) => {
            worker::console_error!("listening to a client socket failed: {e}");
            return;
        }
    };
    let started = match relay::first_frame(&mut events, FIRST_FRAME_TIMEOUT_MS).await {
        First::Frame(frame) => {
            let started = open(&cx, &mut who, &frame, revision.as_deref()).await;
            quota::flush(&cx);
            started
        }
        First::TimedOut => Err(ClientError::new(
            ErrorCode::InvalidRequest,
            format!(
                "no `interaction.connect` or `interaction.create` arrived within {} s of connecting; send it first",
                FIRST_FRAME_TIMEOUT_MS / 1000
            ),
        )
        .with_param("event_type")),
        First::Gone => return,
    };
    match started {
        Ok(started) => {
            let session = Session {
                request_id: cx.request_id.clone(),
                kind: "gemini_live_interactions",
                dialect: Dialect::Google,
                guard: Some(Box::new(started.guard)),
                first_upstream: Some(started.first_upstream),
                lifetime: started.lifetime,
                secrets: [crate::redaction::values(&cx), vec![started.secret]].concat(),
                model: cx.log.borrow().model.clone(),
                deployment: Some(started.deployment),
            };
            relay::pump(&server, &mut events, started.upstream, session).await;
        }
        Err(err) => {
            let err = crate::redaction::clean(&cx, err);
            let _ = server.send_with_str(error_event(&err));
            relay::close_with(&server, &err, Dialect::Google);
            let line = serde_json::json!({
                "ts": reelay_core::keys::rfc3339(cx.now_ms),
                "request_id": cx.request_id,
                "event": "websocket_refused",
                "kind": "gemini_live_interactions",
                "model": cx.log.borrow().model,
                "error_code": err.code.as_str(),
            });
            worker::console_log!("{line}");
        }
    }
}

struct Started {
    upstream: WebSocket,
    first_upstream: String,
    guard: InteractionGuard,
    deployment: String,
    secret: String,
    lifetime: Lifetime,
}

fn not_found() -> ClientError {
    Purpose::Interaction.refusal()
}

/// Checks the first frame, meters the session and opens the upstream
/// socket; the session's hold is settled at once (committed if the
/// upstream opened, refunded otherwise).
async fn open(
    cx: &Ctx,
    who: &mut Who,
    frame: &Frame,
    revision: Option<&str>,
) -> Result<Started, ClientError> {
    let config = cx.config()?;
    let seal_keys = cx.seal_keys()?;
    let first = FirstFrame::parse(frame.bytes())?;
    let owner = who.owner();
    let policy = who.policy(&config.access_groups)?;
    let open_id = |id: &str| {
        seal_keys
            .open_upstream_id(Purpose::Interaction, id, &owner)
            .map_err(|e| e.to_client(Purpose::Interaction).with_param("id"))
    };
    // The deployment (pinned) or group (new work) the session goes to, the
    // upstream id it names, and the interaction the client connected to.
    let (mut route, upstream_id, connected) = match first.opening() {
        Opening::Connect { id } => {
            let up = open_id(id)?;
            if let Who::Token(token) = &*who {
                token.0.check_interaction(&up.deployment, &up.id)?;
            }
            let (group, dep) = config.deployment(&up.deployment).ok_or_else(not_found)?;
            cx.log.borrow_mut().model = Some(group.name.clone());
            authorize(&config, &policy, &group.name, "id").map_err(|e| who.describe(e))?;
            let route = RoutePlan::pinned(
                dep,
                group,
                config.router.retry,
                Resend::OnlyIfRejected,
                cx.now_ms,
            );
            (route, Some(up.id.clone()), Some((up.id, id.clone())))
        }
        Opening::Create { previous, .. } => {
            if matches!(who, Who::Token(..)) {
                return Err(ClientError::new(
                    ErrorCode::InvalidLiveToken,
                    "an interaction auth token opens only its own interaction; it cannot create one",
                )
                .with_param("event_type"));
            }
            let name = first.group_name().unwrap_or_default().to_owned();
            cx.log.borrow_mut().model = Some(name.clone());
            let group = authorize(&config, &policy, &name, "model").map_err(|e| who.describe(e))?;
            match previous {
                // A follow-up runs where the earlier interaction lives.
                Some(previous) => {
                    let up = open_id(previous)?;
                    let dep = group
                        .deployments
                        .iter()
                        .find(|d| d.id == up.deployment)
                        .ok_or_else(|| {
                            ClientError::new(
                                ErrorCode::InvalidRequest,
                                format!("`previous_interaction_id` is not an interaction of model {name:?}"),
                            )
                            .with_param("previous_interaction_id")
                        })?;
                    let route = RoutePlan::pinned(
                        dep,
                        group,
                        config.router.retry,
                        Resend::OnlyIfRejected,
                        cx.now_ms,
                    );
                    (route, Some(up.id), None)
                }
                None => (
                    upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected),
                    None,
                    None,
                ),
            }
        }
    };
    let attempt = upstream::first_attempt(&mut route)?;
    // A deployment that cannot serve it fails here, before anything is reserved.
    upstream_url(attempt.deployment)?;
    let cost = session_cost(attempt.deployment);
    match who {
        Who::Key(caller) => pipeline::admit(cx, caller, cost).await?,
        Who::Token(token) => {
            let (claims, owner) = &mut **token;
            let revoked =
                ClientError::new(ErrorCode::InvalidLiveToken, "the auth token was revoked");
            pipeline::admit_token_use(cx, &mut owner.caller, cost, &claims.session_use(), revoked)
                .await
                .map_err(|e| owner_refusal(ErrorCode::InvalidLiveToken, e))?;
        }
    }
    // The session ends when its key may no longer use the model it was
    // authorized for (named in the log above, on either opening).
    let model = cx.log.borrow().model.clone().unwrap_or_default();
    let lifetime = match &*who {
        Who::Key(caller) => Lifetime::of_caller(cx, caller, &model).await?,
        Who::Token(token) => {
            let (claims, owner) = &**token;
            let record = (!owner.caller.is_master).then(|| &*owner.caller.record);
            Lifetime::start(
                cx,
                &model,
                Credential::LiveToken,
                record,
                Some(claims.expires_at_ms),
            )
            .await?
        }
    };
    let served = upstream::with_failover(cx, &mut route, attempt, async |dep, _| {
        let url = upstream_url(dep)?;
        dial(cx, dep, &url, revision).await
    })
    .await?;
    let (upstream, secret) = served.value;
    let dep = served.deployment;
    pipeline::settle(cx, Outcome::Done(session_cost(dep)));
    let sealer = Sealer {
        keys: (*seal_keys).clone(),
        owner,
        deployment: dep.id.clone(),
        now_ms: cx.now_ms,
    };
    Ok(Started {
        upstream,
        first_upstream: first.upstream_text(dep, upstream_id.as_deref()),
        guard: InteractionGuard::new(sealer, connected, crate::redaction::redactor(cx)),
        deployment: dep.id.clone(),
        secret,
        lifetime,
    })
}

/// One attempt at opening the upstream socket with the deployment's key,
/// its failure (scrubbed of the key) left for failover to judge.
async fn dial(
    cx: &Ctx,
    dep: &Deployment,
    url: &str,
    revision: Option<&str>,
) -> Result<(WebSocket, String), Failure> {
    let key = upstream::credential(cx, dep)?;
    let mut headers = vec![("x-goog-api-key", key.as_str())];
    if let Some(revision) = revision {
        headers.push((API_REVISION_HEADER, revision));
    }
    let ws = relay::connect_attempt(cx, url, &headers, dep.timeout_ms, &dep.id)
        .await
        .map_err(|f| f.scrubbed(&key))?;
    Ok((ws, key))
}

/// The caller's interaction `id`, opened: its deployment (a Gemini one the
/// caller may still use) and upstream id.
fn caller_interaction(
    cx: &Ctx,
    caller: &Caller,
    id: &str,
) -> Result<seal::UpstreamId, ClientError> {
    let config = cx.config()?;
    let seal_keys = cx.seal_keys()?;
    let up = seal_keys
        .open_upstream_id(Purpose::Interaction, id, &caller.owner())
        .map_err(|e| e.to_client(Purpose::Interaction))?;
    let (group, dep) = config.deployment(&up.deployment).ok_or_else(not_found)?;
    cx.log.borrow_mut().model = Some(group.name.clone());
    let policy = caller.policy()?;
    authorize(&config, &policy, &group.name, "interaction").map_err(|e| describe(e, caller))?;
    upstream_url(dep)?;
    Ok(up)
}

fn json_answer(value: &serde_json::Value) -> Result<Response, ClientError> {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(value.to_string().into_bytes()))
}

/// `POST /{v}/interactions/{id}/auth_tokens`: a token for that interaction.
async fn mint(req: &mut Request, cx: &Ctx, id: &str) -> Result<Response, ClientError> {
    let seal_keys = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let body = read_body(req, MAX_TOKEN_BODY as u32).await?;
    let request = TokenRequest::parse(&body, cx.now_ms)?;
    let up = caller_interaction(cx, &caller, id)?;
    // A browser token mints nothing that outlives or outreaches it.
    let minter = caller
        .token
        .as_ref()
        .map_or(Minter::Key, Minter::BrowserToken);
    let claims = InteractionTokenClaims::mint(
        &request,
        caller.hash,
        random_bytes::<12>()?,
        &up.deployment,
        &up.id,
        minter,
    );
    let token = claims.seal(&seal_keys).map_err(|e| {
        worker::console_warn!("interaction token not sealed: {}", e.as_str());
        e.to_client(Purpose::LiveToken)
    })?;
    json_answer(&token_answer(&token, &claims))
}

/// `DELETE /{v}/interactions/{id}/auth_tokens/{token}`: revokes a token the
/// caller minted for that interaction (an expired one is already dead).
async fn revoke(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
    token: &str,
) -> Result<Response, ClientError> {
    let seal_keys = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let up = caller_interaction(cx, &caller, id)?;
    let claims = match InteractionTokenClaims::open(&seal_keys, token, cx.now_ms) {
        Ok(claims) => claims,
        Err(seal::Error::Expired(_)) => return json_answer(&serde_json::json!({})),
        Err(e) => return Err(e.to_client(Purpose::LiveToken).with_param("auth_token")),
    };
    let mine = ct_eq(&claims.key_hash, &caller.hash) && caller.owner().may_open(&claims.owner());
    if !mine {
        return Err(Purpose::LiveToken.refusal().with_param("auth_token"));
    }
    claims.check_interaction(&up.deployment, &up.id)?;
    quota::revoke_token_use(
        cx,
        &caller.record,
        claims.id_hex(),
        REVOKED_USES,
        claims.expires_at_ms,
    )
    .await?;
    json_answer(&serde_json::json!({}))
}
