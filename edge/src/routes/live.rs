// Gemini Live and Vertex Live, relayed, and the Gemini ephemeral tokens
// reelay mints for them (`core::realtime::live` decides; this file does).
//
// Sockets: `/ws/google.ai.generativelanguage.{v1,v1beta,v1alpha}.GenerativeService.BidiGenerateContent[Constrained]`
// (also under `/gemini/`), `/vertex_ai/live` and
// `/ws/google.cloud.aiplatform.{v1,v1beta1}.LlmBidiService/BidiGenerateContent`.
// The caller is authenticated before the upgrade — a virtual key
// (`x-goog-api-key`, `?key=`, `Authorization: Bearer`) or a gateway-minted
// token (`Authorization: Token auth_tokens/…`, `?access_token=auth_tokens/…`,
// checked against its owning key *now*). The model arrives in the first
// frame, so the rest happens right after it: the setup (with a token's
// locked fields applied) names a model group the key must be allowed, it is
// routed, the socket is admitted in one call to the key's quota Durable
// Object (the request, one realtime session and a token's use together;
// the use given back if the session does not start), the upstream socket is opened
// with the deployment's credential (Gemini API key, or a Vertex bearer token
// minted from the service account), the setup goes up with its model
// rewritten, and frames are relayed both ways. Refusals close the socket
// like Google does: 1008 (policy) or 1007 (unreadable setup) for the
// caller's mistakes, 1011 for gateway and upstream failures, with
// `"<code>: <message>"` as the reason. A socket that sends no setup within
// `SETUP_TIMEOUT_MS` (10 s) is closed (1008). A relayed session ends with
// its key or token (`relay::Lifetime`): at the key's or the token's expiry,
// or when the key is deleted.
//
// `POST /gemini/{v1,v1beta,v1alpha}/auth_tokens` (google-genai `client.auth_tokens.create`)
// mints `auth_tokens/lt_rl_…` for the calling key: the locked setup's model is
// checked against the key's rules now, and again at every connect.

use std::rc::Rc;

use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::browser_token::Minter;
use reelay_core::config::Deployment;
use reelay_core::errors::{ClientError, Dialect, ErrorCode, ErrorKind};
use reelay_core::plan::Auth;
use reelay_core::quota::Outcome;
use reelay_core::realtime::lifetime::Credential;
use reelay_core::realtime::live::{
    auth_token_answer, plan_live, setup_timed_out, AuthTokenRequest, LivePlan, LiveRoute,
    LiveTokenClaims, Setup, AUTH_TOKEN_NAME_PREFIX, LIVE_TOKEN_PREFIX, MAX_AUTH_TOKEN_BODY,
    SETUP_TIMEOUT_MS,
};
use reelay_core::realtime::ws::{authorize, query_pairs};
use reelay_core::retry::Resend;
use reelay_core::seal::Purpose;
use worker::{Headers, Request, Response, WebSocket};

use super::realtime::TokenOwner;
use super::realtime::{describe, owner_refusal, session_cost, token_owner};
use super::relay::{self, First, Frame, Lifetime, Session};
use crate::context::{random_bytes, Ctx};
use crate::credentials;
use crate::keys::{self, Caller};
use crate::pipeline;
use crate::quota;
use crate::request::read_body;
use crate::respond::OrInternal;
use crate::upstream::{self, Failure};

/// A gateway token in `Authorization: Token|Bearer`, `?access_token=`,
/// `x-goog-api-key` or `?key=`, if one was sent.
pub(super) fn presented_token(req: &Request) -> Result<Option<String>, ClientError> {
    let is_token =
        |v: &str| v.starts_with(AUTH_TOKEN_NAME_PREFIX) || v.starts_with(LIVE_TOKEN_PREFIX);
    let headers = req.headers();
    let mut found: Vec<String> = Vec::new();
    if let Some(auth) = headers.get("authorization").ok().flatten() {
        if let Some((_, value)) = auth.trim().split_once(' ') {
            found.push(value.trim().to_owned());
        }
    }
    if let Some(key) = headers.get("x-goog-api-key").ok().flatten() {
        found.push(key.trim().to_owned());
    }
    let url = req.url().or_internal("reading the request URL")?;
    if let Some(pairs) = query_pairs(url.query().unwrap_or("")) {
        for (name, value) in pairs {
            if name == "access_token" || name == "key" {
                found.push(value);
            }
        }
    }
    Ok(found.into_iter().find(|v| is_token(v)))
}

/// Who opened a Live socket.
enum Who {
    /// A virtual key.
    Key(Box<Caller>),
    /// A gateway token and its owner as it stands.
    Token(Box<(LiveTokenClaims, TokenOwner)>),
}

impl Who {
    /// The caller's rules: a key's (narrowed by a browser token's), or a
    /// token's key's now, narrowed by the rules of a browser token that
    /// minted it.
    fn policy(&self, groups: &AccessGroups) -> Result<Rc<AccessPolicy>, ClientError> {
        match self {
            Self::Key(caller) => caller.policy(),
            Self::Token(token) => match token.0.narrowing(groups)? {
                Some(narrowing) => Ok(Rc::new((*token.1.policy).clone().narrowed(narrowing))),
                None => Ok(Rc::clone(&token.1.policy)),
            },
        }
    }
}

/// A Live socket (`route` from the path).
pub(super) async fn connect(
    req: &mut Request,
    cx: &Ctx,
    route: LiveRoute,
) -> Result<Response, ClientError> {
    relay::require_upgrade(req)?;
    let kind = match route {
        LiveRoute::Gemini { .. } => "gemini_live",
        LiveRoute::Vertex => "vertex_live",
    };
    let who = match identify(req, cx).await {
        Ok(who) => who,
        Err(err) => return relay::refuse(cx, &err, Dialect::Google, None),
    };
    let pair = relay::client_pair()?;
    let task_cx = cx.fork(req);
    let server = pair.server;
    worker::wasm_bindgen_futures::spawn_local(async move {
        session(task_cx, server, who, kind).await;
    });
    relay::upgrade_response(pair.client, None)
}

async fn identify(req: &Request, cx: &Ctx) -> Result<Who, ClientError> {
    let config = cx.config()?;
    if let Some(token) = presented_token(req)? {
        let seal_keys = cx.seal_keys()?;
        let claims = LiveTokenClaims::open(&seal_keys, &token, cx.now_ms).map_err(|e| {
            worker::console_warn!("live token refused: {}", e.as_str());
            e.to_client(Purpose::LiveToken)
        })?;
        // A token minted with an origin-bound browser token works from there only.
        claims.check_origin(crate::cors::token_origin(cx))?;
        let owner = token_owner(cx, &config, &claims.key_hash, ErrorCode::InvalidLiveToken).await?;
        return Ok(Who::Token(Box::new((claims, owner))));
    }
    // Admitted with its session once the setup names the model: one call
    // to the key's quota object for the whole socket.
    Ok(Who::Key(Box::new(keys::identify(req, cx, true).await?)))
}

/// The session after the `101`: wait for the setup, check, connect, relay.
async fn session(cx: Ctx, server: WebSocket, mut who: Who, kind: &'static str) {
    let mut events = match server.events() {
        Ok(events) => events,
        Err(e) => {
            worker::console_error!("listening to a client socket failed: {e}");
            return;
        }
    };
    let started = match relay::first_frame(&mut events, SETUP_TIMEOUT_MS).await {
        First::Frame(frame) => start(&cx, &mut who, &frame).await,
        First::TimedOut => Err(setup_timed_out()),
        // The client left before its setup.
        First::Gone => return,
    };
    match started {
        Ok(started) => {
            let session = Session {
                request_id: cx.request_id.clone(),
                kind,
                dialect: Dialect::Google,
                guard: None,
                first_upstream: Some(started.plan.setup.clone()),
                lifetime: started.lifetime,
                secrets: [crate::redaction::values(&cx), vec![started.secret]].concat(),
                model: cx.log.borrow().model.clone(),
                deployment: Some(started.dep.id.clone()),
            };
            relay::pump(&server, &mut events, started.upstream, session).await;
        }
        Err(err) => {
            relay::close_with(&server, &err, Dialect::Google);
            let line = serde_json::json!({
                "ts": reelay_core::keys::rfc3339(cx.now_ms),
                "request_id": cx.request_id,
                "event": "websocket_refused",
                "kind": kind,
                "model": cx.log.borrow().model,
                "error_code": err.code.as_str(),
            });
            worker::console_log!("{line}");
        }
    }
}

struct Started {
    upstream: WebSocket,
    plan: LivePlan,
    dep: Deployment,
    secret: String,
    lifetime: Lifetime,
}

/// Checks the setup, meters the session and opens the upstream socket; the
/// session's hold is settled at once (committed if the upstream opened,
/// refunded otherwise).
async fn start(cx: &Ctx, who: &mut Who, frame: &Frame) -> Result<Started, ClientError> {
    let started = open(cx, who, frame).await;
    quota::flush(cx);
    started
}

async fn open(cx: &Ctx, who: &mut Who, frame: &Frame) -> Result<Started, ClientError> {
    let config = cx.config()?;
    let setup = Setup::parse(frame.bytes())?;
    let setup = match &*who {
        Who::Token(token) => token.0.effective_setup(&setup),
        Who::Key(_) => setup,
    };
    let name = setup.group_name()?.to_owned();
    cx.log.borrow_mut().model = Some(name.clone());
    let policy = who.policy(&config.access_groups)?;
    let group = authorize(&config, &policy, &name, "setup.model").map_err(|e| match &*who {
        Who::Key(caller) => describe(e, caller),
        Who::Token(..) => e,
    })?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot serve the setup fails here, before anything is reserved.
    plan_live(first.deployment, &setup)?;
    let dep = first.deployment;

    // The socket's one admission: the request, one realtime session (and
    // its price) on the key, and one use of a token (the master key's
    // tokens count their uses too), in one call to the key's quota object;
    // refunded (and the use given back) unless the upstream session starts.
    match who {
        Who::Key(caller) => pipeline::admit(cx, caller, session_cost(dep)).await?,
        Who::Token(token) => {
            let (claims, owner) = &mut **token;
            let used = ClientError::from_code(ErrorCode::LiveTokenUsedUp);
            pipeline::admit_token_use(
                cx,
                &mut owner.caller,
                session_cost(dep),
                &claims.session_use(),
                used,
            )
            .await
            .map_err(|e| owner_refusal(ErrorCode::InvalidLiveToken, e))?;
        }
    }
    // The session lives until its key or token expires or the key is deleted.
    let lifetime = match &*who {
        Who::Key(caller) => Lifetime::of_caller(cx, caller, &name).await?,
        Who::Token(token) => {
            let (claims, owner) = &**token;
            let record = (!owner.caller.is_master).then(|| &*owner.caller.record);
            let until = Some(claims.expires_at_ms);
            Lifetime::start(cx, &name, Credential::LiveToken, record, until).await?
        }
    };
    // Dialing is new work: it moves on only after an upstream refused it.
    let served = upstream::with_failover(cx, &mut route, first, async |dep, _| {
        let plan = plan_live(dep, &setup)?;
        let (upstream, secret) = dial(cx, dep, &plan).await?;
        Ok((upstream, secret, plan))
    })
    .await?;
    let (upstream, secret, plan) = served.value;
    pipeline::settle(cx, Outcome::Done(session_cost(served.deployment)));
    Ok(Started {
        upstream,
        plan,
        dep: served.deployment.clone(),
        secret,
        lifetime,
    })
}

/// Opens the upstream Live socket with the deployment's credential (a
/// refused cached Vertex token is re-minted once).
/// One attempt at opening the upstream Live socket, its failure (scrubbed
/// of the credential) left for failover to judge. A Google access token the
/// upstream refuses is minted afresh once.
async fn dial(cx: &Ctx, dep: &Deployment, plan: &LivePlan) -> Result<(WebSocket, String), Failure> {
    match plan.auth {
        Auth::GoogleServiceAccount => {
            let mut refused = None;
            for _ in 0..2 {
                let token = credentials::google_token(cx, dep).await?;
                cx.remember_secret(&token);
                let bearer = format!("Bearer {token}");
                let headers = [("authorization", bearer.as_str())];
                match relay::connect_attempt(cx, &plan.url, &headers, dep.timeout_ms, &dep.id).await
                {
                    Ok(ws) => return Ok((ws, token)),
                    Err(Failure::Upstream { error, answered })
                        if error.kind == ErrorKind::Authentication =>
                    {
                        credentials::forget_google_token(dep);
                        refused = Some(Failure::Upstream { error, answered }.scrubbed(&token));
                    }
                    Err(failure) => return Err(failure.scrubbed(&token)),
                }
            }
            Err(refused.unwrap_or_else(|| {
                ClientError::from_code(ErrorCode::UpstreamAuthentication).into()
            }))
        }
        _ => {
            let key = upstream::credential(cx, dep)?;
            let headers = [("x-goog-api-key", key.as_str())];
            let ws = relay::connect_attempt(cx, &plan.url, &headers, dep.timeout_ms, &dep.id)
                .await
                .map_err(|f| f.scrubbed(&key))?;
            Ok((ws, key))
        }
    }
}

/// `POST /gemini/v1alpha/auth_tokens`: a virtual key mints a Live token.
pub(super) async fn mint(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let key = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let body = read_body(req, MAX_AUTH_TOKEN_BODY as u32).await?;
    let request = AuthTokenRequest::parse(&body, cx.now_ms)?;
    if let Some(model) = request.model() {
        cx.log.borrow_mut().model = Some(model.to_owned());
        let policy = caller.policy()?;
        let group = authorize(&config, &policy, model, "bidiGenerateContentSetup.model")
            .map_err(|e| describe(e, &caller))?;
        let live = group
            .deployments
            .iter()
            .any(reelay_core::provider::has_live_api);
        if !live {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("model {model:?} has no Gemini or Vertex deployment, so no Live API"),
            )
            .with_param("bidiGenerateContentSetup.model"));
        }
    }
    // A browser token mints nothing that outlives or outreaches it.
    let minter = caller
        .token
        .as_ref()
        .map_or(Minter::Key, Minter::BrowserToken);
    let claims = LiveTokenClaims::mint(&request, caller.hash, random_bytes::<12>()?, minter);
    let token = claims.seal(&key).map_err(|e| {
        worker::console_warn!("live token not sealed: {}", e.as_str());
        ClientError::new(
            ErrorCode::Internal,
            "the ephemeral token could not be sealed",
        )
    })?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(auth_token_answer(&token, &claims).to_string().into_bytes()))
}
