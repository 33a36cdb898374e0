// GPT-Live WebSockets (OpenAI and Azure), relayed; `core::realtime::gpt_live_ws`
// decides, this file does the IO.
//
// | socket | before the `101` | after it |
// |---|---|---|
// | `GET /v1/live/sessions` | the caller (virtual key as `Authorization: Bearer` / `api-key`, a browser token there or in the subprotocol `openai-insecure-api-key.<bt_rl_…>`) | wait ≤ 10 s for `session.start`; model and delegation model authorized; routed; one realtime session admitted; upstream dialled with failover; the checked `session.start` sent up with the deployment's model; relayed |
// | `GET /v1/live/sessions/{live_…}/attach[?graceful_close=true]` | the caller, the request admitted, the sealed id opened for the caller's owner (else `live_session_not_found`), the owning deployment dialled with its credential | relayed (no `session.start` ever) |
// | `GET /v1/live/sessions/{live_…}/fork` | the caller, the sealed id opened | wait ≤ 10 s for the fork's `session.start`; delegation model authorized; one realtime session admitted on the deployment holding the session; dialled there; relayed |
//
// Refusals before the `101` are an accepted socket with one OpenAI `error`
// event and a close (1008 refusals, 1011 failures); after it, the same
// event and close. Every relayed socket runs core's `LiveGuard` (client
// events typed and limited to the socket's kinds; sealed `live_…` ids and
// the model group in the server's session events; upstream errors
// redacted) and ends with its key or browser token (`relay::Lifetime`).
// Minutes: the session's hold is released when the upstream opens and, for
// a deployment with `realtime_per_minute`, committed when the socket ends
// with the session price plus every started minute the upstream reported
// (`session.usage.updated` / `session.closed`), or the relay's own duration
// if it reported none.

use std::rc::Rc;

use reelay_core::authorize;
use reelay_core::config::Deployment;
use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use reelay_core::plan::Auth;
use reelay_core::quota::{Outcome, Settlement};
use reelay_core::realtime::gpt_live_ws::{
    self, check_delegation, graceful_close, start_timed_out, LiveGuard, LivePlan, LiveSocket,
    SealFor, SessionStart, SocketKind, START_TIMEOUT_MS,
};
use reelay_core::realtime::ws::{error_event, FrameGuard, Subprotocols, Verdict};
use reelay_core::retry::Resend;
use reelay_core::seal::Purpose;
use worker::{Date, Request, Response, WebSocket};

use super::realtime::{describe, served, session_cost};
use super::realtime_ws::caller;
use super::relay::{self, First, Frame, Lifetime, Session};
use crate::context::Ctx;
use crate::keys::Caller;
use crate::pipeline;
use crate::quota;
use crate::respond::OrInternal;
use crate::upstream::{self, Failure};

/// What the socket's frames are checked with; shared with the session
/// task, which reads the usage the upstream reported when it ends.
struct SharedGuard(Rc<LiveGuard>);

impl FrameGuard for SharedGuard {
    fn client_text(&mut self, text: &str) -> Verdict {
        self.0.client_text(text)
    }
    fn client_binary(&mut self, bytes: &[u8]) -> Verdict {
        self.0.client_binary(bytes)
    }
    fn upstream_text(&mut self, text: &str) -> Verdict {
        self.0.upstream_text(text)
    }
    fn refusal(&self, err: &ClientError) -> Option<String> {
        Some(error_event(err))
    }
}

/// A session held upstream, as opened from its sealed id.
struct Held {
    deployment: String,
    upstream_id: String,
}

/// An upstream socket, ready to relay.
struct Opened {
    upstream: WebSocket,
    dep: Deployment,
    group: String,
    secret: String,
    lifetime: Lifetime,
    first_upstream: Option<String>,
    kind: SocketKind,
}

/// A GPT-Live socket (`socket` from the path).
pub(super) async fn connect(
    req: &mut Request,
    cx: &Ctx,
    socket: LiveSocket,
) -> Result<Response, ClientError> {
    relay::require_upgrade(req)?;
    let header = req.headers().get("sec-websocket-protocol").ok().flatten();
    let protocols = Subprotocols::parse(header.as_deref());
    let refuse = |err: ClientError| relay::refuse(cx, &err, Dialect::OpenAi, protocols.answer);
    let mut who = match caller(req, cx, &protocols).await {
        Ok(who) => who,
        Err(err) => return refuse(err),
    };
    match socket {
        LiveSocket::Attach { session_id } => {
            let url = req.url().or_internal("reading the request URL")?;
            let graceful = graceful_close(url.query().unwrap_or(""));
            match attach(cx, &mut who, &session_id, graceful).await {
                Ok(opened) => relay_now(cx, opened, &who, protocols.answer),
                Err(err) => refuse(err),
            }
        }
        LiveSocket::Primary => upgrade_then_start(req, cx, who, None, protocols.answer),
        LiveSocket::Fork { session_id } => match open_held(cx, &who, &session_id) {
            Ok(held) => upgrade_then_start(req, cx, who, Some(held), protocols.answer),
            Err(err) => refuse(err),
        },
    }
}

/// Opens a sealed `live_…` id for the caller: the deployment holding it,
/// and the upstream's id (one `live_session_not_found` for every failure).
fn open_held(cx: &Ctx, caller: &Caller, session_id: &str) -> Result<Held, ClientError> {
    let keys = cx.seal_keys()?;
    let opened = keys
        .open_upstream_id(Purpose::LiveSession, session_id, &caller.owner())
        .map_err(|e| e.to_client(Purpose::LiveSession))?;
    Ok(Held {
        deployment: opened.deployment,
        upstream_id: opened.id,
    })
}

/// The deployment holding `held` and its group's name, if the caller may
/// still use it.
fn held_deployment(
    cx: &Ctx,
    caller: &Caller,
    held: &Held,
) -> Result<(String, Deployment), ClientError> {
    let config = cx.config()?;
    let (group, dep) = config.deployment(&held.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::LiveSessionNotFound,
            "the deployment holding this live session is no longer configured",
        )
    })?;
    cx.log.borrow_mut().model = Some(group.name.clone());
    let policy = caller.policy()?;
    reelay_core::realtime::calls::check_call_access(group, &policy)
        .map_err(|e| describe(e, caller))?;
    served(cx, dep);
    Ok((group.name.clone(), dep.clone()))
}

/// A sideband: everything happens before the `101`.
async fn attach(
    cx: &Ctx,
    caller: &mut Caller,
    session_id: &str,
    graceful: bool,
) -> Result<Opened, ClientError> {
    let held = open_held(cx, caller, session_id)?;
    let (group, dep) = held_deployment(cx, caller, &held)?;
    let plan = gpt_live_ws::plan(
        &dep,
        SocketKind::Sideband,
        Some(&held.upstream_id),
        graceful,
    )?;
    pipeline::admit(cx, caller, reelay_core::quota::Cost::REQUEST).await?;
    let lifetime = Lifetime::of_caller(cx, caller, &group).await?;
    let (upstream, secret) = dial(cx, &dep, &plan).await.map_err(|f| f.into_client(cx))?;
    Ok(Opened {
        upstream,
        dep,
        group,
        secret,
        lifetime,
        first_upstream: None,
        kind: SocketKind::Sideband,
    })
}

/// Answers `101` and relays `opened` at once.
fn relay_now(
    cx: &Ctx,
    opened: Opened,
    caller: &Caller,
    protocol: Option<&'static str>,
) -> Result<Response, ClientError> {
    let guard = Rc::new(guard_for(cx, &opened, caller)?);
    let pair = relay::client_pair()?;
    let session = session_of(cx, opened, &guard);
    let server = pair.server;
    worker::wasm_bindgen_futures::spawn_local(async move {
        match server.events() {
            Ok(mut events) => relay::pump(&server, &mut events, session.0, session.1).await,
            Err(e) => worker::console_error!("listening to a client socket failed: {e}"),
        }
    });
    relay::upgrade_response(pair.client, protocol)
}

/// The guard of a relayed socket, sealing ids for the caller's owner.
fn guard_for(cx: &Ctx, opened: &Opened, caller: &Caller) -> Result<LiveGuard, ClientError> {
    let keys = cx.seal_keys()?;
    let policy = caller.policy()?;
    let seal = SealFor {
        keys: (*keys).clone(),
        owner: caller.owner(),
        deployment: opened.dep.id.clone(),
        now_ms: Date::now().as_millis(),
    };
    Ok(LiveGuard::new(
        opened.kind,
        &opened.group,
        &opened.dep.model,
        (*policy).clone(),
        seal,
    )
    .redacting(crate::redaction::redactor(cx)))
}

/// The relay's session for `opened` (the upstream socket and how to run it).
fn session_of(cx: &Ctx, opened: Opened, guard: &Rc<LiveGuard>) -> (WebSocket, Session) {
    let kind = match opened.kind {
        SocketKind::Primary => "gpt_live",
        SocketKind::Sideband => "gpt_live_sideband",
        SocketKind::Fork => "gpt_live_fork",
    };
    let session = Session {
        request_id: cx.request_id.clone(),
        kind,
        dialect: Dialect::OpenAi,
        guard: Some(Box::new(SharedGuard(Rc::clone(guard)))),
        first_upstream: opened.first_upstream,
        lifetime: opened.lifetime,
        secrets: [crate::redaction::values(cx), vec![opened.secret]].concat(),
        model: Some(opened.group),
        deployment: Some(opened.dep.id),
    };
    (opened.upstream, session)
}

/// Primary and fork sockets: `101` first, then the `session.start`.
fn upgrade_then_start(
    req: &Request,
    cx: &Ctx,
    caller: Caller,
    held: Option<Held>,
    protocol: Option<&'static str>,
) -> Result<Response, ClientError> {
    let pair = relay::client_pair()?;
    let task_cx = cx.fork(req);
    let server = pair.server;
    worker::wasm_bindgen_futures::spawn_local(async move {
        started_session(task_cx, server, caller, held).await;
    });
    relay::upgrade_response(pair.client, protocol)
}

/// The session after the `101`: wait for `session.start`, check, meter,
/// connect, relay, then settle its minutes.
async fn started_session(cx: Ctx, server: WebSocket, mut caller: Caller, held: Option<Held>) {
    let mut events = match server.events() {
        Ok(events) => events,
        Err(e) => {
            worker::console_error!("listening to a client socket failed: {e}");
            return;
        }
    };
    let opened = match relay::first_frame(&mut events, START_TIMEOUT_MS).await {
        First::Frame(frame) => {
            let opened = start(&cx, &mut caller, held.as_ref(), &frame).await;
            quota::flush(&cx);
            opened
        }
        First::TimedOut => Err(start_timed_out()),
        // The client left before its `session.start`.
        First::Gone => return,
    };
    let opened = match opened.and_then(|o| guard_for(&cx, &o, &caller).map(|g| (o, g))) {
        Ok(opened) => opened,
        Err(err) => {
            relay::close_with(&server, &err, Dialect::OpenAi);
            let line = serde_json::json!({
                "ts": reelay_core::keys::rfc3339(cx.now_ms),
                "request_id": cx.request_id,
                "event": "websocket_refused",
                "kind": "gpt_live",
                "model": cx.log.borrow().model,
                "error_code": err.code.as_str(),
            });
            worker::console_log!("{line}");
            return;
        }
    };
    let (opened, guard) = opened;
    let guard = Rc::new(guard);
    let prices = opened.dep.prices.clone();
    let deployment = opened.dep.id.clone();
    let began = Date::now().as_millis();
    let (upstream, session) = session_of(&cx, opened, &guard);
    relay::pump(&server, &mut events, upstream, session).await;
    let relayed = Date::now().as_millis().saturating_sub(began).div_ceil(1000);
    let (seconds, source) = match guard.usage_seconds() {
        Some(s) => (s, "upstream"),
        None => (relayed, "relay"),
    };
    let cost = gpt_live_ws::session_cost(&prices, seconds);
    // Minutes are settled only where they are priced (no call otherwise).
    let priced = prices.realtime_per_minute.is_some_and(|p| p > 0);
    if priced && !caller.is_master {
        quota::settle_after(
            &cx,
            &caller.record,
            &cx.hold_id,
            Settlement::Commit { actual: cost },
        );
        quota::flush(&cx);
    }
    let line = serde_json::json!({
        "ts": reelay_core::keys::rfc3339(began),
        "request_id": cx.request_id,
        "event": "gpt_live_usage",
        "deployment": deployment,
        "seconds": seconds,
        "seconds_from": source,
        "spend_micros": cost.spend_micros,
        "settled": priced && !caller.is_master,
    });
    worker::console_log!("{line}");
}

/// Checks the `session.start`, meters the session and opens the upstream
/// socket (the session's hold is released once it opened; refunded if not).
async fn start(
    cx: &Ctx,
    caller: &mut Caller,
    held: Option<&Held>,
    frame: &Frame,
) -> Result<Opened, ClientError> {
    let config = cx.config()?;
    let kind = if held.is_some() {
        SocketKind::Fork
    } else {
        SocketKind::Primary
    };
    let start = SessionStart::parse(frame.bytes(), kind)?;
    let policy = caller.policy()?;
    check_delegation(&policy, &start.delegation_models()?).map_err(|e| describe(e, caller))?;
    let opened = match held {
        Some(held) => {
            let (group, dep) = held_deployment(cx, caller, held)?;
            let plan = gpt_live_ws::plan(&dep, kind, Some(&held.upstream_id), false)?;
            pipeline::admit(cx, caller, session_cost(&dep)).await?;
            let lifetime = Lifetime::of_caller(cx, caller, &group).await?;
            let (upstream, secret) = dial(cx, &dep, &plan).await.map_err(|f| f.into_client(cx))?;
            Opened {
                first_upstream: Some(start.to_upstream(&dep.model)),
                upstream,
                dep,
                group,
                secret,
                lifetime,
                kind,
            }
        }
        None => {
            let name = start.model().unwrap_or_default().to_owned();
            cx.log.borrow_mut().model = Some(name.clone());
            let group = authorize::model_group(&config, &policy, &name, "session.model")
                .map_err(|e| describe(e, caller))?;
            let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
            let first = upstream::first_attempt(&mut route)?;
            // A deployment that cannot serve GPT-Live fails here, before anything is reserved.
            gpt_live_ws::plan(first.deployment, kind, None, false)?;
            pipeline::admit(cx, caller, session_cost(first.deployment)).await?;
            let lifetime = Lifetime::of_caller(cx, caller, &group.name).await?;
            // Dialing is new work: it moves on only after an upstream refused it.
            let served = upstream::with_failover(cx, &mut route, first, async |dep, _| {
                let plan = gpt_live_ws::plan(dep, kind, None, false)?;
                dial(cx, dep, &plan).await
            })
            .await?;
            let (upstream, secret) = served.value;
            Opened {
                first_upstream: Some(start.to_upstream(&served.deployment.model)),
                upstream,
                dep: served.deployment.clone(),
                group: name,
                secret,
                lifetime,
                kind,
            }
        }
    };
    // Counted: the session started (its minutes, if priced, are committed
    // when it ends; until then the hold stays charged the session).
    pipeline::settle(cx, Outcome::Accepted);
    Ok(opened)
}

/// One attempt at opening the upstream socket with the deployment's
/// credential, its failure (scrubbed of the credential) left for failover
/// to judge.
async fn dial(cx: &Ctx, dep: &Deployment, plan: &LivePlan) -> Result<(WebSocket, String), Failure> {
    let secret = upstream::credential(cx, dep)?;
    cx.remember_secret(&secret);
    let (name, value) = match plan.auth {
        Auth::AzureApiKey => ("api-key", secret.clone()),
        _ => ("authorization", format!("Bearer {secret}")),
    };
    let ws = relay::connect_attempt(
        cx,
        &plan.url,
        &[(name, value.as_str())],
        dep.timeout_ms,
        &dep.id,
    )
    .await
    .map_err(|f| f.scrubbed(&secret))?;
    Ok((ws, secret))
}
