// Upstream calls: executes a core `UpstreamRequest` plan with the
// deployment's credential, a deadline, and manual redirect handling; hands
// back the successful response with its body still streaming, or a
// classified error.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use reelay_core::config::Deployment;
use reelay_core::errors::{
    classify_http, classify_transport, ClientError, ErrorCode, Transport, UpstreamError,
};
use reelay_core::plan::{Auth, Method, UpstreamRequest};
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response,
};

use crate::context::Ctx;
use crate::credentials;

const MAX_REDIRECTS: usize = 5;

/// The secret value a deployment authenticates with.
pub(crate) fn credential(cx: &Ctx, dep: &Deployment) -> Result<String, ClientError> {
    match cx.env.secret(&dep.credential) {
        Ok(secret) => Ok(secret.to_string()),
        Err(_) => Err(ClientError::new(
            ErrorCode::ConfigInvalid,
            format!(
                "deployment {:?} names the secret {:?}, which is not set",
                dep.id, dep.credential
            ),
        )),
    }
}

/// Sends `plan` and returns the 2xx response, body unread.
pub(crate) async fn send(
    cx: &Ctx,
    dep: &Deployment,
    plan: &UpstreamRequest,
) -> Result<Response, ClientError> {
    let mut response = send_once(cx, dep, plan).await?;
    if plan.auth == Auth::GoogleServiceAccount && response.status_code() == 401 {
        // A cached token Google no longer accepts (revoked, clock skew):
        // mint a fresh one and try once more.
        credentials::forget_google_token(dep);
        response = send_once(cx, dep, plan).await?;
    }
    check(cx, response).await
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
        let response = send_once(cx, dep, &current).await?;
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
) -> Result<Response, ClientError> {
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

    fetch_with_deadline(cx, request, dep.timeout_ms, &dep.id).await
}

/// Sends `request`, giving up after `timeout_ms` (the abort also cancels
/// the connection); transport failures come back classified.
pub(crate) async fn fetch_with_deadline(
    cx: &Ctx,
    request: Request,
    timeout_ms: u32,
    what: &str,
) -> Result<Response, ClientError> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = pin!(fetch.send_with_signal(&signal));
    let deadline = pin!(Delay::from(Duration::from_millis(u64::from(timeout_ms))));
    match select(sending, deadline).await {
        Either::Left((Ok(response), _)) => {
            cx.log.borrow_mut().upstream_status = Some(response.status_code());
            Ok(response)
        }
        Either::Left((Err(e), _)) => {
            worker::console_warn!("upstream fetch failed for {what}: {e}");
            Err(upstream_failure(cx, classify_transport(Transport::Network)))
        }
        Either::Right(_) => {
            controller.abort();
            Err(upstream_failure(cx, classify_transport(Transport::Timeout)))
        }
    }
}

/// Passes 2xx through; classifies anything else.
pub(crate) async fn check(cx: &Ctx, mut response: Response) -> Result<Response, ClientError> {
    let status = response.status_code();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let header_names = ["retry-after", "retry-after-ms", "x-should-retry"];
    let values: Vec<(&str, String)> = header_names
        .iter()
        .filter_map(|name| {
            response
                .headers()
                .get(name)
                .ok()
                .flatten()
                .map(|v| (*name, v))
        })
        .collect();
    let headers: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let body = response.bytes().await.unwrap_or_default();
    Err(upstream_failure(
        cx,
        classify_http(status, &headers, &body, cx.now_ms),
    ))
}

/// Records the classified failure in the log line and converts it for the client.
pub(crate) fn upstream_failure(cx: &Ctx, err: UpstreamError) -> ClientError {
    cx.log.borrow_mut().upstream_error = Some(err.kind.as_str());
    err.to_client()
}

fn garbage(status: u16, message: &str) -> UpstreamError {
    UpstreamError {
        kind: reelay_core::errors::ErrorKind::Gateway,
        retry: reelay_core::errors::Retry::Backoff,
        scope: reelay_core::errors::Scope::Deployment,
        status: Some(status),
        upstream_code: None,
        message: message.to_owned(),
    }
}
