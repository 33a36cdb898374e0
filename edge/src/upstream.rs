// Upstream calls: executes a core `UpstreamRequest` plan with the
// deployment's credential (`crate::fetch` does one fetch with its deadline
// and classification) and manual redirect handling; hands back the
// successful response with its body still streaming, or a classified error.
// Retries, failover and cooldowns follow `core::retry`: reads and deletes
// are retried on their deployment ([`send`]); new work moves across a group
// and its fallbacks ([`send_routed`]).

use std::cell::RefCell;
use std::time::Duration;

use reelay_core::access::AccessPolicy;
use reelay_core::config::Config;
use reelay_core::config::{Deployment, ModelGroup};
use reelay_core::errors::{ClientError, ErrorCode, ErrorKind};
use reelay_core::plan::{Auth, Method, UpstreamRequest};
use reelay_core::retry::{Attempt, Cooldowns, Resend, RoutePlan};
use worker::wasm_bindgen::JsValue;
use worker::{Date, Delay, Headers, Request, RequestInit, RequestRedirect, Response};

use crate::context::{random_bytes, Ctx};
use crate::credentials;
pub(crate) use crate::fetch::Failure;
pub(crate) use crate::fetch::{check, credential, send_classified, upstream_failure};
use crate::fetch::{classify_response, fetch_classified, garbage};

const MAX_REDIRECTS: usize = 5;

thread_local! {
    // Deployments to skip, learned by this isolate (see `core::retry`).
    static COOLDOWNS: RefCell<Cooldowns> = RefCell::new(Cooldowns::default());
}

/// Sends `plan` to `dep` and returns the 2xx response, body unread. Reads
/// and deletes are retried on the same deployment (their state lives
/// there) when the failure is retryable, within the router's limits.
pub(crate) async fn send(
    cx: &Ctx,
    dep: &Deployment,
    plan: &UpstreamRequest,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let resend = reelay_core::authorize::resend_for(plan.method);
    let Some((group, dep)) = config.deployment(&dep.id) else {
        return try_send(cx, dep, plan).await.map_err(|f| f.into_client(cx));
    };
    let mut route = RoutePlan::pinned(dep, group, config.router.retry, resend, cx.now_ms);
    send_routed(cx, &mut route, |_, _| Ok(plan.clone()))
        .await
        .map(|(response, _)| response)
}

/// Sends the plan `plan_for` builds for each deployment `route` chooses,
/// moving on after failures as `core::retry` decides. Returns the 2xx
/// response and the deployment that served it; records which one and how
/// many attempts it took for the response headers.
pub(crate) async fn send_routed<'c>(
    cx: &Ctx,
    route: &mut RoutePlan<'c>,
    plan_for: impl FnMut(&'c Deployment, &'c ModelGroup) -> Result<UpstreamRequest, ClientError>,
) -> Result<(Response, &'c Deployment), ClientError> {
    let first = first_attempt(route)?;
    let served = send_from(cx, route, first, plan_for).await?;
    Ok((served.value, served.deployment))
}

fn random_u32() -> u32 {
    random_bytes::<4>().map(u32::from_le_bytes).unwrap_or(0)
}

/// The deployment `route` starts with (skipping those this isolate saw
/// fail); when only deployments marked retired are left, their `410
/// model_retired` without an upstream call.
pub(crate) fn first_attempt<'c>(route: &mut RoutePlan<'c>) -> Result<Attempt<'c>, ClientError> {
    let first = COOLDOWNS.with(|c| route.first(&c.borrow(), Date::now().as_millis(), random_u32()));
    first.ok_or_else(|| route.nothing_to_try())
}

/// New work on `group` (and its fallback groups `policy` allows), spread by
/// weight, moving on after failures.
pub(crate) fn new_work<'c>(
    cx: &Ctx,
    config: &'c Config,
    policy: &AccessPolicy,
    group: &'c ModelGroup,
    resend: Resend,
) -> RoutePlan<'c> {
    let groups = reelay_core::authorize::new_work_groups(config, policy, group);
    RoutePlan::new(groups, config.router.retry, resend, cx.now_ms)
}

/// [`send_routed`] from an attempt already chosen with [`first_attempt`].
pub(crate) async fn send_from<'c>(
    cx: &Ctx,
    route: &mut RoutePlan<'c>,
    first: Attempt<'c>,
    mut plan_for: impl FnMut(&'c Deployment, &'c ModelGroup) -> Result<UpstreamRequest, ClientError>,
) -> Result<Served<'c, Response>, ClientError> {
    with_failover(cx, route, first, async |dep, group| {
        let plan = plan_for(dep, group)?;
        try_send(cx, dep, &plan).await
    })
    .await
}

/// What an attempt produced, and the deployment and group that produced it
/// (so nothing looks the group up again).
pub(crate) struct Served<'c, T> {
    pub(crate) value: T,
    pub(crate) deployment: &'c Deployment,
    pub(crate) group: &'c ModelGroup,
}

/// Runs `attempt` on each deployment `route` chooses, from `first`, moving
/// on after upstream failures as `core::retry` decides (cooldowns, backoff,
/// deadline, resend rules); a local failure ends it at once. Every route
/// family's upstream work goes through here: HTTP calls, SDP exchanges and
/// WebSocket dials alike. Records the serving deployment and the attempts
/// for the response headers.
pub(crate) async fn with_failover<'c, T>(
    cx: &Ctx,
    route: &mut RoutePlan<'c>,
    first: Attempt<'c>,
    mut attempt: impl AsyncFnMut(&'c Deployment, &'c ModelGroup) -> Result<T, Failure>,
) -> Result<Served<'c, T>, ClientError> {
    let random = random_u32;
    let mut current = first;
    loop {
        if current.wait_ms > 0 {
            Delay::from(Duration::from_millis(current.wait_ms)).await;
        }
        let (dep, group) = (current.deployment, current.group);
        cx.log.borrow_mut().deployment = Some(dep.id.clone());
        cx.served
            .borrow_mut()
            .replace((dep.id.clone(), route.attempts()));
        match attempt(dep, group).await {
            Ok(value) => {
                COOLDOWNS.with(|c| c.borrow_mut().record_success(&dep.id));
                return Ok(Served {
                    value,
                    deployment: dep,
                    group,
                });
            }
            Err(Failure::Local(err)) => return Err(err),
            Err(Failure::Upstream { error, answered }) => {
                let now = Date::now().as_millis();
                let next = COOLDOWNS.with(|c| {
                    let mut cooldowns = c.borrow_mut();
                    cooldowns.prune(now);
                    route.next(dep, &error, answered, &mut cooldowns, now, random())
                });
                match next {
                    Some(next) => {
                        worker::console_warn!(
                            "upstream {} failed ({}); attempt {} on {} in {} ms",
                            dep.id,
                            error.kind.as_str(),
                            route.attempts(),
                            next.deployment.id,
                            next.wait_ms
                        );
                        current = next;
                    }
                    None => {
                        if error.kind == ErrorKind::Retired {
                            worker::console_warn!(
                                "upstream {} retired its model: {}",
                                dep.id,
                                error.message
                            );
                        }
                        cx.log.borrow_mut().upstream_error = Some(error.kind.as_str());
                        return Err(route.final_error(group, &error));
                    }
                }
            }
        }
    }
}

/// One call (plus one re-mint of a refused Google token), classified.
async fn try_send(cx: &Ctx, dep: &Deployment, plan: &UpstreamRequest) -> Result<Response, Failure> {
    let mut response = send_once(cx, dep, plan).await?;
    if plan.auth == Auth::GoogleServiceAccount && response.status_code() == 401 {
        // A cached token Google no longer accepts (revoked, clock skew):
        // mint a fresh one and try once more.
        credentials::forget_google_token(dep);
        response = send_once(cx, dep, plan).await?;
    }
    classify_response(response)
        .await
        .map_err(|error| Failure::Upstream {
            error,
            answered: true,
        })
}

/// Like [`send`] but follows redirects (GET only). The credential goes only
/// to the first URL, which core built on the deployment's own base; redirect
/// targets are signed URLs (Google's file download answers 302 to storage)
/// and never receive it.
pub(crate) async fn send_following_redirects(
    cx: &Ctx,
    dep: &Deployment,
    plan: &UpstreamRequest,
) -> Result<Response, ClientError> {
    let mut current = plan.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response = send_once(cx, dep, &current)
            .await
            .map_err(|f| f.into_client(cx))?;
        let status = response.status_code();
        if !(300..400).contains(&status) || status == 304 {
            return check(cx, response).await;
        }
        let location = response
            .headers()
            .get("location")
            .ok()
            .flatten()
            .ok_or_else(|| {
                upstream_failure(
                    cx,
                    garbage(status, "the provider redirected without a Location"),
                )
            })?;
        let base = worker::Url::parse(&current.url)
            .map_err(|_| upstream_failure(cx, garbage(status, "bad redirect base")))?;
        let next = base.join(&location).map_err(|_| {
            upstream_failure(
                cx,
                garbage(status, "the provider redirected to an invalid URL"),
            )
        })?;
        if next.scheme() != "https" && next.scheme() != "http" {
            return Err(upstream_failure(
                cx,
                garbage(status, "the provider redirected to a non-HTTP URL"),
            ));
        }
        current = UpstreamRequest {
            method: Method::Get,
            auth: Auth::None,
            url: next.to_string(),
            json_body: None,
        };
    }
    Err(upstream_failure(
        cx,
        garbage(302, "the provider redirected too many times"),
    ))
}

async fn send_once(
    cx: &Ctx,
    dep: &Deployment,
    plan: &UpstreamRequest,
) -> Result<Response, Failure> {
    let headers = Headers::new();
    let header = match plan.auth {
        Auth::None => None,
        Auth::GoogleApiKey => Some(("x-goog-api-key", credential(cx, dep)?)),
        Auth::AzureApiKey => Some(("api-key", credential(cx, dep)?)),
        Auth::Bearer => Some(("authorization", format!("Bearer {}", credential(cx, dep)?))),
        Auth::GoogleServiceAccount => Some((
            "authorization",
            format!("Bearer {}", credentials::google_token(cx, dep).await?),
        )),
    };
    if let Some((name, value)) = header {
        headers.set(name, &value).map_err(|_| {
            ClientError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "the secret {:?} is not a valid header value",
                    dep.credential
                ),
            )
        })?;
    }
    let mut init = RequestInit::new();
    init.with_method(match plan.method {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
        Method::Delete => worker::Method::Delete,
    });
    init.with_redirect(RequestRedirect::Manual);
    if let Some(body) = &plan.json_body {
        let _ = headers.set("content-type", "application/json");
        init.with_body(Some(JsValue::from_str(body)));
    }
    init.with_headers(headers);
    let request = Request::new_with_init(&plan.url, &init).map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            format!("deployment {:?} builds an invalid upstream URL", dep.id),
        )
    })?;

    fetch_classified(cx, request, dep.timeout_ms, &dep.id).await
}
