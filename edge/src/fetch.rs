// One upstream fetch: the deployment's secret, a deadline (the abort also
// cancels the connection), and classification of what came back — a
// transport failure or a non-2xx answer becomes a core `UpstreamError`, and
// `upstream_failure` turns it into the client's error. Retries and failover
// are `crate::upstream`'s; Google token minting is `crate::credentials`'.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use reelay_core::config::Deployment;
use reelay_core::errors::{
    classify_http, classify_transport, ClientError, ErrorCode, Transport, UpstreamError,
};
use worker::{AbortController, Date, Delay, Fetch, Request, Response};

use crate::context::Ctx;

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

/// Why one upstream call failed.
pub(crate) enum Failure {
    /// The upstream (or the way to it) failed; `answered` is false for
    /// timeouts and network failures, after which it may have accepted work.
    Upstream {
        error: UpstreamError,
        answered: bool,
    },
    /// The gateway could not even send it (config, credential).
    Local(ClientError),
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        Self::Local(err)
    }
}

/// Drops `secret` from a client error's message, should an upstream have
/// echoed the credential it was sent.
pub(crate) fn scrub(mut err: ClientError, secret: &str) -> ClientError {
    if !secret.is_empty() && err.message.contains(secret) {
        err.message = String::from(err.code.spec().default_message);
    }
    err
}

impl Failure {
    /// Drops `secret` from the failure's message, should an upstream have
    /// echoed the credential it was sent.
    pub(crate) fn scrubbed(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        match self {
            Self::Upstream {
                mut error,
                answered,
            } => {
                if error.message.contains(secret) {
                    error.message = String::from("(the provider's message was withheld)");
                }
                Self::Upstream { error, answered }
            }
            Self::Local(err) => Self::Local(scrub(err, secret)),
        }
    }

    pub(crate) fn into_client(self, cx: &Ctx) -> ClientError {
        match self {
            Self::Upstream { error, .. } => upstream_failure(cx, error),
            Self::Local(err) => err,
        }
    }
}

/// Sends `request`, giving up after `timeout_ms` (the abort also cancels
/// the connection); transport failures come back classified.
pub(crate) async fn fetch_with_deadline(
    cx: &Ctx,
    request: Request,
    timeout_ms: u32,
    what: &str,
) -> Result<Response, ClientError> {
    fetch_classified(cx, request, timeout_ms, what)
        .await
        .map_err(|f| f.into_client(cx))
}

pub(crate) async fn fetch_classified(
    cx: &Ctx,
    request: Request,
    timeout_ms: u32,
    what: &str,
) -> Result<Response, Failure> {
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
            Err(Failure::Upstream {
                error: classify_transport(Transport::Network),
                answered: false,
            })
        }
        Either::Right(_) => {
            controller.abort();
            Err(Failure::Upstream {
                error: classify_transport(Transport::Timeout),
                answered: false,
            })
        }
    }
}

/// Passes 2xx through; classifies anything else.
pub(crate) async fn check(cx: &Ctx, response: Response) -> Result<Response, ClientError> {
    classify_response(response)
        .await
        .map_err(|error| upstream_failure(cx, error))
}

pub(crate) async fn classify_response(mut response: Response) -> Result<Response, UpstreamError> {
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
    Err(classify_http(
        status,
        &headers,
        &body,
        Date::now().as_millis(),
    ))
}

/// Records the classified failure in the log line and converts it for the
/// client, without any credential the Worker holds or used.
pub(crate) fn upstream_failure(cx: &Ctx, err: UpstreamError) -> ClientError {
    cx.log.borrow_mut().upstream_error = Some(err.kind.as_str());
    crate::redaction::clean_upstream(cx, err).to_client()
}

pub(crate) fn garbage(status: u16, message: &str) -> UpstreamError {
    UpstreamError::unreadable(Some(status), message)
}

/// Sends `request` and classifies the answer: the 2xx response, or why it
/// failed (for `upstream::with_failover` to decide what comes next).
pub(crate) async fn send_classified(
    cx: &Ctx,
    request: Request,
    timeout_ms: u32,
    what: &str,
) -> Result<Response, Failure> {
    let response = fetch_classified(cx, request, timeout_ms, what).await?;
    classify_response(response)
        .await
        .map_err(|error| Failure::Upstream {
            error,
            answered: true,
        })
}
