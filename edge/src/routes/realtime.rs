// Realtime sessions on OpenAI and Azure OpenAI (GA): `POST
// /v1/realtime/client_secrets` mints an upstream ephemeral key and hands the
// browser a reelay token (`ek_rl_…`, AES-GCM, see `core::realtime::token`)
// instead; `POST /v1/realtime/calls` exchanges the WebRTC SDP on the exact
// deployment that minted the token (or, with a virtual key and a multipart
// `session`, on a routed one) and answers with a sealed call id in
// `Location`; `POST /v1/realtime/calls/{id}/accept|hangup|refer|reject`
// controls that call on its deployment with the deployment's own key.
//
// A token is checked on every use: tag, purpose and expiry (core), then the
// owning key *now* — deleted or revoked in its quota Durable Object, expired,
// or no longer allowed the model — so revocation is immediate. The upstream
// ephemeral key and provider keys never reach a response, an error message
// or a log line. The WebSocket relay (`GET /v1/realtime`) is in
// `realtime_ws.rs`; it shares the token and owner checks here.

use std::rc::Rc;

use reelay_core::access::AccessPolicy;
use reelay_core::browser_token::Minter;
use reelay_core::config::{Config, Deployment};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::plan::Auth;
use reelay_core::quota::{Cost, Outcome};
use reelay_core::realtime::calls::{
    call_id_from_location, check_call_access, check_sdp, location, open_call_id, plan_call_control,
    plan_call_with_token, seal_call_id, CallAction, CallBody, CallCredential, CallPlan, KeyCall,
    CALL_FORM_PARTS, CALL_KINDS, MAX_CALL_FORM_BYTES, MAX_SDP_BYTES, MAX_SESSION_BYTES,
};
use reelay_core::realtime::session::{finish_mint, ClientSecretRequest, SealWith};
use reelay_core::realtime::{SessionKind, TokenClaims, ALL_KINDS, TOKEN_PREFIX};
use reelay_core::retry::Resend;
use reelay_core::seal::{Keys, Owner, Purpose};
use worker::wasm_bindgen::JsValue;
use worker::{
    FormData, FormEntry, Headers, Method, Request, RequestInit, RequestRedirect, Response,
};

use crate::context::{random_bytes, Ctx};
use crate::keys::{self, Caller};
use crate::pipeline;
use crate::request::{allow, media_type, read_body, read_form, require_json, RequestMethod};
use crate::respond::OrInternal;
use crate::upstream::{self, upstream_failure, Failure};

/// Largest `client_secrets` body (a session configuration with tools).
const MAX_SECRET_BODY: u32 = 1024 * 1024;

/// Routes under `/v1/realtime` (also `/realtime`, `/openai/v1/realtime`).
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    rest: &[&str],
) -> Result<Response, ClientError> {
    let method = crate::request::method(req);
    match rest {
        ["client_secrets"] => {
            allow(&method, &[Method::Post])?;
            client_secrets(req, cx).await
        }
        ["calls"] => {
            allow(&method, &[Method::Post])?;
            create_call(req, cx).await
        }
        ["calls", id, action] => {
            let action = CallAction::parse(action).ok_or_else(|| not_found(&method, req))?;
            allow(&method, &[Method::Post])?;
            control(req, cx, id, action).await
        }
        _ => Err(not_found(&method, req)),
    }
}

pub(super) fn not_found(method: &RequestMethod, req: &Request) -> ClientError {
    ClientError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {} {}", method.as_ref(), req.path()),
    )
}

/// `POST /v1/realtime/client_secrets`: a virtual key mints a session.
async fn client_secrets(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let key = cx.seal_keys()?;
    // Admitted once the session's cost is known.
    let mut caller = keys::identify(req, cx, false).await?;
    require_json(req)?;
    let body = read_body(req, config.max_body_bytes.min(MAX_SECRET_BODY)).await?;
    let request = ClientSecretRequest::parse(&body)?;
    cx.log.borrow_mut().model = Some(request.model().to_owned());
    let policy = caller.policy()?;
    let group = request
        .authorize(&config, &policy)
        .map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot mint fails here, before anything is reserved.
    request.plan_for(first.deployment)?;

    // One realtime session (and its price), reserved with the request
    // before the upstream mints; refunded if it does not, committed once it did.
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    let (minted, deployment) = {
        let served =
            upstream::send_from(cx, &mut route, first, |dep, _| request.plan_for(dep)).await?;
        let (mut response, deployment, served_group) =
            (served.value, served.deployment, served.group);
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
            // The clock when the upstream's answer arrived, not when the
            // request did: its `expires_at` was set after the request began.
            now_secs: worker::Date::now().as_millis() / 1000,
        };
        let minted = finish_mint(&request, served_group, deployment, &body, &seal)
            .map_err(|e| upstream_failure(cx, e))?;
        (minted, deployment)
    };
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

/// One realtime session on `dep` with the request that opens it: what is
/// admitted, and what is committed once the upstream accepted it.
pub(super) fn session_cost(dep: &Deployment) -> Cost {
    dep.prices.realtime_session_cost()
}

pub(super) use crate::pipeline::describe;

/// A reelay token in `Authorization: Bearer` or `api-key`, if one was sent.
pub(super) fn presented_token(req: &Request) -> Option<String> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let bearer = authorization.as_deref().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
    });
    let api_key = headers.get("api-key").ok().flatten();
    let found = [bearer, api_key.as_deref().map(str::trim)]
        .into_iter()
        .flatten()
        .find(|k| k.starts_with(TOKEN_PREFIX))
        .map(str::to_owned);
    found
}

/// Opens a token for one of `kinds` (tag, purpose, expiry) and checks its
/// origin binding against the request.
pub(super) fn open_token(
    cx: &Ctx,
    token: &str,
    kinds: &[SessionKind],
) -> Result<TokenClaims, ClientError> {
    let seal_keys = cx.seal_keys()?;
    let claims = TokenClaims::open(&seal_keys, token, cx.now_secs(), kinds).map_err(|e| {
        worker::console_warn!("realtime token refused: {}", e.as_str());
        e.to_client(Purpose::RealtimeToken)
    })?;
    // The upstream ephemeral key inside is never passed on.
    cx.remember_secret(claims.upstream_key.expose());
    // A token minted with an origin-bound browser token works from there only.
    claims.check_origin(crate::cors::token_origin(cx))?;
    Ok(claims)
}

/// Checks the key that minted `claims` is still good *now*: not deleted or
/// revoked (its quota Durable Object says so at once), not expired, still
/// allowed the token's model. Returns its current access rules. For uses
/// that start no session (call control, sidebands).
pub(super) async fn check_owner(
    cx: &Ctx,
    config: &Config,
    claims: &TokenClaims,
) -> Result<Rc<AccessPolicy>, ClientError> {
    checked_owner(cx, config, claims).await.map(|o| o.policy)
}

/// [`check_owner`], returning the key as it stands (for a session's lifetime).
pub(super) async fn checked_owner(
    cx: &Ctx,
    config: &Config,
    claims: &TokenClaims,
) -> Result<TokenOwner, ClientError> {
    let mut owner = session_owner(cx, config, claims).await?;
    // Revocation (the key's object, at most a second old), the key's rate.
    pipeline::admit_minted(cx, &mut owner.caller)
        .await
        .map_err(|e| owner_refusal(ErrorCode::InvalidRealtimeToken, e))?;
    Ok(owner)
}

/// The key that minted `claims`, as this isolate knows it, still allowed
/// the token's model; admission (with the token's use) confirms the rest.
async fn session_owner(
    cx: &Ctx,
    config: &Config,
    claims: &TokenClaims,
) -> Result<TokenOwner, ClientError> {
    cx.log.borrow_mut().model = Some(claims.model.clone());
    let owner = token_owner(
        cx,
        config,
        &claims.key_hash,
        ErrorCode::InvalidRealtimeToken,
    )
    .await?;
    if !owner.policy.allows(&claims.model) {
        return Err(ClientError::new(
            ErrorCode::ModelAccessDenied,
            format!(
                "the key that minted this realtime token may no longer use model {:?}",
                claims.model
            ),
        ));
    }
    Ok(owner)
}

/// Admits the one session a realtime token may start, on the key that
/// minted it (which the same call vouches for): one request and the
/// token's single use. The session was charged at mint; refunding the
/// hold (the session did not start) gives the use back.
pub(super) async fn admit_session(
    cx: &Ctx,
    owner: &mut TokenOwner,
    claims: &TokenClaims,
) -> Result<(), ClientError> {
    let used = ClientError::new(
        ErrorCode::RealtimeTokenUsed,
        "the realtime token has already started its session (each token starts one); mint a new one",
    );
    pipeline::admit_token_use(
        cx,
        &mut owner.caller,
        Cost::REQUEST,
        &claims.session_use(),
        used,
    )
    .await
    .map_err(|e| owner_refusal(ErrorCode::InvalidRealtimeToken, e))
}

/// Opens the session of a realtime token on its deployment: the owner
/// checked, the upstream deployment that minted it, the use admitted.
pub(super) async fn token_session<'c>(
    cx: &Ctx,
    config: &'c Config,
    claims: &TokenClaims,
) -> Result<(TokenOwner, &'c Deployment), ClientError> {
    let owner = session_owner(cx, config, claims).await?;
    let (_, dep) = config.deployment(&claims.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::InvalidRealtimeToken,
            "the realtime token is not valid: the deployment that minted it is no longer configured",
        )
    })?;
    served(cx, dep);
    Ok((owner, dep))
}

/// The key behind a token, as it stands now.
pub(super) struct TokenOwner {
    /// Its current access rules.
    pub(super) policy: Rc<AccessPolicy>,
    /// The key (for quota and token uses; the master key is not metered).
    pub(super) caller: Caller,
}

/// Why a token is refused when the key that minted it is gone: `invalid`
/// (the token kind's code) with the reason.
fn owner_gone(invalid: ErrorCode, why: &str) -> ClientError {
    let kind = if invalid == ErrorCode::InvalidRealtimeToken {
        "realtime token"
    } else {
        "ephemeral token"
    };
    ClientError::new(
        invalid,
        format!("the {kind} is not valid: the key that minted it {why}"),
    )
}

/// What the minting key's quota object refusing it means to a token's
/// holder: a deleted or expired key makes the token `invalid`.
pub(super) fn owner_refusal(invalid: ErrorCode, e: ClientError) -> ClientError {
    match e.code {
        ErrorCode::InvalidApiKey => owner_gone(invalid, "was deleted"),
        ErrorCode::KeyExpired => owner_gone(invalid, "has expired"),
        _ => e,
    }
}

/// Loads the key with `key_hash` that minted a token as this isolate knows
/// it and checks it is not deleted or expired; its quota object confirms
/// it (revocation at once) when the token's use is admitted. Refusals carry
/// `invalid` (the token kind's code).
pub(super) async fn token_owner(
    cx: &Ctx,
    config: &Config,
    key_hash: &[u8; 32],
    invalid: ErrorCode,
) -> Result<TokenOwner, ClientError> {
    let caller = keys::identify_minter(cx, config, key_hash)
        .await?
        .ok_or_else(|| owner_gone(invalid, "was deleted"))?;
    caller
        .record
        .check_usable(cx.now_ms)
        .map_err(|_| owner_gone(invalid, "has expired"))?;
    Ok(TokenOwner {
        policy: caller.policy()?,
        caller,
    })
}

/// The SDP offer and the optional session part of a `/calls` request.
struct Offer {
    sdp: String,
    session: Option<Vec<u8>>,
}

async fn read_offer(req: &mut Request) -> Result<Offer, ClientError> {
    match media_type(req).as_str() {
        // Browsers posting a string without a type send text/plain.
        "application/sdp" | "text/plain" | "" => {
            let body = read_body(req, MAX_SDP_BYTES as u32).await?;
            Ok(Offer {
                sdp: check_sdp(&body)?,
                session: None,
            })
        }
        "multipart/form-data" => {
            let form = read_form(req, MAX_CALL_FORM_BYTES as u32, CALL_FORM_PARTS).await?;
            let sdp = part(&form, "sdp").await?.ok_or_else(|| {
                ClientError::new(ErrorCode::InvalidRequest, "the `sdp` part is required")
                    .with_param("sdp")
            })?;
            Ok(Offer {
                sdp: check_sdp(&sdp)?,
                session: part(&form, "session").await?,
            })
        }
        other => Err(ClientError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "content type {other:?} is not accepted; send the SDP offer as application/sdp, \
                 or multipart/form-data with `sdp` and `session`"
            ),
        )),
    }
}

/// A form part's bytes, whether sent as a field or as a file.
async fn part(form: &FormData, name: &str) -> Result<Option<Vec<u8>>, ClientError> {
    match form.get(name) {
        None => Ok(None),
        Some(FormEntry::Field(text)) => Ok(Some(text.into_bytes())),
        Some(FormEntry::File(file)) => file
            .bytes()
            .await
            .map(Some)
            .or_internal("reading a multipart part"),
    }
}

/// `POST /v1/realtime/calls`.
async fn create_call(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    if let Some(token) = presented_token(req) {
        // A browser with a reelay token: always the deployment that minted
        // it, and the token's one session.
        let claims = open_token(cx, &token, CALL_KINDS)?;
        let (mut owner, dep) = token_session(cx, &config, &claims).await?;
        let offer = read_offer(req).await?;
        let plan = plan_call_with_token(&claims, dep, offer.sdp, offer.session.as_deref())?;
        admit_session(cx, &mut owner, &claims).await?;
        let response = send_call(cx, dep, &plan)
            .await
            .map_err(|e| crate::fetch::scrub(e, claims.upstream_key.expose()))?;
        // The session started: its use stays spent.
        pipeline::settle(cx, Outcome::Done(Cost::REQUEST));
        return answer_call(cx, response, &sealer, claims.owner(), &dep.id).await;
    }

    // A server with a virtual key: multipart with a session naming the model.
    // Admitted once the session's cost is known.
    let mut caller = keys::identify(req, cx, false).await?;
    let offer = read_offer(req).await?;
    let call = KeyCall::parse(offer.sdp, offer.session.as_deref())?;
    cx.log.borrow_mut().model = Some(call.model().to_owned());
    let policy = caller.policy()?;
    let group = call
        .authorize(&config, &policy)
        .map_err(|e| describe(e, &caller))?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    // A deployment that cannot take the call fails here, before anything is reserved.
    call.plan_for(first.deployment)?;
    pipeline::admit(cx, &mut caller, session_cost(first.deployment)).await?;
    // The exchange is new work: it moves on only after an upstream refused it.
    let served = upstream::with_failover(cx, &mut route, first, async |dep, _| {
        let plan = call.plan_for(dep)?;
        send_call_attempt(cx, dep, &plan).await
    })
    .await?;
    let dep = served.deployment;
    pipeline::settle(cx, Outcome::Done(session_cost(dep)));
    answer_call(cx, served.value, &sealer, caller.owner(), &dep.id).await
}

/// Records the deployment for the log line and the `x-reelay-deployment` header.
pub(super) fn served(cx: &Ctx, dep: &Deployment) {
    cx.log.borrow_mut().deployment = Some(dep.id.clone());
    cx.served.borrow_mut().replace((dep.id.clone(), 1));
}

/// Sends an upstream `calls` request (raw SDP or multipart), redirects not
/// followed: the ephemeral key goes to the deployment's own URL only.
pub(super) async fn send_call(
    cx: &Ctx,
    dep: &Deployment,
    plan: &CallPlan,
) -> Result<Response, ClientError> {
    send_call_attempt(cx, dep, plan)
        .await
        .map_err(|f| f.into_client(cx))
}

/// One attempt of [`send_call`], its failure left for failover to judge.
async fn send_call_attempt(
    cx: &Ctx,
    dep: &Deployment,
    plan: &CallPlan,
) -> Result<Response, Failure> {
    let headers = Headers::new();
    let (name, value) = match &plan.credential {
        CallCredential::Ephemeral(key) => ("authorization", format!("Bearer {}", key.expose())),
        CallCredential::Deployment(Auth::AzureApiKey) => {
            ("api-key", upstream::credential(cx, dep)?)
        }
        CallCredential::Deployment(_) => (
            "authorization",
            format!("Bearer {}", upstream::credential(cx, dep)?),
        ),
    };
    headers.set(name, &value).map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "the upstream credential is not a valid header value",
        )
    })?;
    let _ = headers.set("accept", "application/sdp");
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_redirect(RequestRedirect::Manual);
    match &plan.body {
        CallBody::Sdp(sdp) => {
            let _ = headers.set("content-type", "application/sdp");
            init.with_body(Some(JsValue::from_str(sdp)));
        }
        CallBody::Multipart { sdp, session } => {
            // The runtime encodes the form and sets the boundary.
            let form = FormData::new();
            form.append("sdp", sdp)
                .or_internal("building the call form")?;
            if let Some(session) = session {
                form.append("session", session)
                    .or_internal("building the call form")?;
            }
            init.with_body(Some(form.into()));
        }
    }
    init.with_headers(headers);
    let request = Request::new_with_init(&plan.url, &init).map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            format!("deployment {:?} builds an invalid upstream URL", dep.id),
        )
    })?;
    upstream::send_classified(cx, request, dep.timeout_ms, &dep.id).await
}

/// The client's answer: the upstream's status and SDP, and reelay's own
/// `Location` with the sealed call id (never the upstream's).
async fn answer_call(
    cx: &Ctx,
    mut response: Response,
    sealer: &Keys,
    owner: Owner,
    deployment: &str,
) -> Result<Response, ClientError> {
    let status = response.status_code();
    let upstream_location = response.headers().get("location").ok().flatten();
    let sdp = response
        .bytes()
        .await
        .or_internal("reading the provider's SDP answer")?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/sdp");
    match upstream_location.as_deref().map(call_id_from_location) {
        Some(Some(call_id)) => {
            let id = seal_call_id(sealer, owner, deployment, call_id, cx.now_ms)?;
            let _ = headers.set("location", &location(&id));
        }
        Some(None) => worker::console_warn!("the provider's call Location is not a call id"),
        None => worker::console_warn!("the provider answered a call without a Location"),
    }
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(sdp))
}

/// `POST /v1/realtime/calls/{id}/{action}`: by the key that started the
/// call (its virtual key, or a still-valid token it minted).
async fn control(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
    action: CallAction,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    let (owner, policy) = match presented_token(req) {
        Some(token) => {
            let claims = open_token(cx, &token, ALL_KINDS)?;
            let policy = check_owner(cx, &config, &claims).await?;
            (claims.owner(), policy)
        }
        None => {
            let caller = pipeline::authenticate(req, cx, false).await?;
            let policy = caller.policy()?;
            (caller.owner(), policy)
        }
    };
    let call = open_call_id(&sealer, id, &owner)?;
    let (group, dep) = config.deployment(&call.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::RealtimeCallNotFound,
            "the deployment holding this realtime call is no longer configured",
        )
    })?;
    cx.log.borrow_mut().model = Some(group.name.clone());
    check_call_access(group, &policy)?;
    let body = read_body(req, MAX_SESSION_BYTES as u32).await?;
    let plan = plan_call_control(group, dep, &policy, &call, action, &body)?;
    let mut response = upstream::send(cx, dep, &plan).await?;
    let status = response.status_code();
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = response.bytes().await.unwrap_or_default();
    // The provider's text is passed on without any secret the Worker holds.
    let body = match String::from_utf8(body) {
        Ok(text) => crate::redaction::redactor(cx).redact(&text).into_bytes(),
        Err(raw) => raw.into_bytes(),
    };
    let headers = Headers::new();
    if let Some(ct) = content_type.filter(|_| !body.is_empty()) {
        let _ = headers.set("content-type", &ct);
    }
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body))
}
