//! Classification of upstream failures: status, headers and body in, an
//! [`UpstreamError`] (kind, retry advice, scope) out.
//!
//! Three inputs are classified:
//! - an HTTP error response ([`classify_http`]), whose body may be
//!   OpenAI-shaped (`{"error":{"message","type","param","code"}}`, also Azure
//!   with `innererror`), Google-shaped
//!   (`{"error":{"code":<int>,"message","status":"CANONICAL","details":[…]}}`,
//!   also Vertex's legacy `"errors":[{"reason":…}]` and a top-level array
//!   `[{"error":{…}}]`), some other JSON, empty, or not JSON at all (an HTML
//!   page from a load balancer);
//! - a Veo long-running operation that finished with `error:{code,message}`,
//!   where `code` is a **gRPC** code, not an HTTP status
//!   ([`classify_operation_error`]);
//! - a failure with no response at all ([`classify_transport`]).
//!
//! Nothing is decided from a substring of the *whole* body (LiteLLM's "any
//! `403` in the text" and "any 429 is quota" mistakes): the status, the
//! upstream's own codes (`code`, `type`, ErrorInfo `reason`, QuotaFailure
//! `quotaId`) and a few precise message phrases decide.
//!
//! # Rules
//!
//! Checked top to bottom; the first row that matches wins. "retry" means
//! [`Retry::AfterMillis`] when a delay is known (see below), else
//! [`Retry::Backoff`].
//!
//! | Upstream says | Kind | Retry | Scope |
//! |---|---|---|---|
//! | status not 4xx/5xx (a 2xx/3xx passed in by mistake) | `Gateway` | never | request |
//! | 400/401/403 with OpenAI `invalid_api_key` or "Incorrect API key"; Google ErrorInfo `API_KEY_INVALID`/`API_KEY_EXPIRED`/`ACCESS_TOKEN_EXPIRED`/`CREDENTIALS_MISSING`…, legacy `keyInvalid`/`authError`, or "API key not valid"/"API key expired" | `Authentication` | never | deployment |
//! | 401, Google `UNAUTHENTICATED` | `Authentication` | never | deployment |
//! | 4xx with OpenAI `insufficient_quota` / `billing_hard_limit_reached`; 402 | `QuotaExhausted` | never | deployment |
//! | OpenAI 429 "You exceeded your current quota" | `QuotaExhausted` | never | deployment |
//! | Google 429 `RESOURCE_EXHAUSTED` whose QuotaFailure `quotaId`/`quotaMetric` is per day (`PerDay`, `per_day`, `daily`), or `quotaValue` 0, or legacy `dailyLimitExceeded`, or message "per day"/"limit: 0" | `QuotaExhausted` | never (a `RetryInfo` is ignored: it only points at the next probe, the daily quota will not be back) | deployment |
//! | 429 "Request too large" (the request alone exceeds this deployment's TPM) | `RateLimited` | never | deployment |
//! | any other 429 (OpenAI `rate_limit_exceeded` tokens/requests, Google per-minute, Vertex `rateLimitExceeded`, unknown body) | `RateLimited` | retry | deployment |
//! | 4xx (not 401/404/408/409/429) with `content_policy_violation`, `moderation_blocked`, Azure `content_filter`/`ResponsibleAIPolicyViolation`; 400/422 (Google: `INVALID_ARGUMENT`/`FAILED_PRECONDITION`/`OUT_OF_RANGE`) whose message says "safety system", "Responsible AI", "usage guidelines", "violat…polic…", "safety…block…" | `ContentPolicy` | never | request |
//! | 400 `FAILED_PRECONDITION` "User location is not supported", "not available in your country" | `BadRequest` | never | deployment |
//! | 403, Google `PERMISSION_DENIED` (`SERVICE_DISABLED`, `API_KEY_SERVICE_BLOCKED`, …) | `PermissionDenied` | never | deployment |
//! | 410 (any body); 4xx with OpenAI/Azure `model_deprecated`/`ModelDeprecated`/`model_retired`/`model_shutdown`; 404 whose message says the model or API is gone ("no longer available", "deprecated", "retired", "shut down"/"shutdown", "discontinued", "no longer supported"/"served", "sunset"), OpenAI's router 404 "Invalid URL (…)" (the gateway only calls documented paths: the API is gone); Google `NOT_FOUND` with those phrases, Gemini's "… is not found for API version …", Vertex's "Publisher Model … was not found" (its answer for retired versions) | `Retired` | never | deployment |
//! | 404, Google `NOT_FOUND` (incl. `model_not_found` "does not exist or you do not have access to it", unknown jobs and files) | `NotFound` | never | request |
//! | 408 | `Timeout` | retry | deployment |
//! | 409 (OpenAI: a conflict openai-python retries), Google `ABORTED` | `UpstreamUnavailable` | retry | request |
//! | 409 Google `ALREADY_EXISTS` | `BadRequest` | never | request |
//! | 499 Google `CANCELLED` | `Timeout` | retry | deployment |
//! | other 4xx (400, 413, 422, `INVALID_ARGUMENT`, `OUT_OF_RANGE`, `invalid_encrypted_content`, …) | `BadRequest` | never | request |
//! | 501 Google `UNIMPLEMENTED` | `UpstreamUnavailable` | never (this deployment cannot serve it; another may) | deployment |
//! | 504, Google `DEADLINE_EXCEEDED` | `Timeout` | retry | deployment |
//! | other 5xx (500 `INTERNAL`/`UNKNOWN`, 502, 503 `UNAVAILABLE`, HTML or empty bodies) | `UpstreamUnavailable` | retry | deployment |
//!
//! Then `x-should-retry: false` forces [`Retry::Never`] and
//! `x-should-retry: true` forces a retry (OpenAI's explicit override).
//!
//! For a Google-shaped body the canonical `status` refines the HTTP status
//! when both are of the same class (a 4xx status with a 4xx-class name, a
//! 5xx with a 5xx-class name); for an OpenAI-shaped or unknown body the HTTP
//! status decides.
//!
//! # Retry delay
//!
//! The first of these that parses is used, clamped to
//! [`MAX_RETRY_DELAY_MS`] (one hour); negative or garbage values are ignored:
//! 1. Google `google.rpc.RetryInfo.retryDelay` in the body (`"47s"`,
//!    `"0.5s"`, or `{"seconds":47,"nanos":0}`);
//! 2. `retry-after-ms` (milliseconds, may be fractional);
//! 3. `Retry-After`: seconds, or an HTTP-date (IMF-fixdate, RFC 850 or
//!    asctime) turned into a delay from `now_unix_ms` (a past date is 0);
//! 4. a hint in the message: "Please try again in 1.5s", "try again in
//!    7m12s", "Please retry in 37.73s", "retry after 7 seconds".
//!
//! Fractions are rounded up, so a client never retries early.
//!
//! # Operation errors (gRPC codes)
//!
//! | Code | Kind | Retry | Scope |
//! |---|---|---|---|
//! | 3 `INVALID_ARGUMENT`, 9 `FAILED_PRECONDITION`, 11 `OUT_OF_RANGE` | `ContentPolicy` if the message mentions Responsible AI, safety, "violate", "sensitive words", "blocked"; else `BadRequest` | never | request |
//! | 4 `DEADLINE_EXCEEDED`, 1 `CANCELLED` | `Timeout` | backoff | deployment |
//! | 5 `NOT_FOUND` | `Retired` (never, deployment) if the message says the model is gone, as for HTTP; else `NotFound` | never | request |
//! | 6 `ALREADY_EXISTS` | `BadRequest` | never | request |
//! | 7 `PERMISSION_DENIED` | `PermissionDenied` | never | deployment |
//! | 8 `RESOURCE_EXHAUSTED` | `QuotaExhausted` (never) if the message says per day / daily; else `RateLimited` (backoff) | | deployment |
//! | 10 `ABORTED` | `UpstreamUnavailable` | backoff | request |
//! | 2 `UNKNOWN`, 13 `INTERNAL`, 14 `UNAVAILABLE`, 15 `DATA_LOSS` | `UpstreamUnavailable` | backoff | deployment |
//! | 12 `UNIMPLEMENTED` | `UpstreamUnavailable` | never | deployment |
//! | 16 `UNAUTHENTICATED` | `Authentication` | never | deployment |
//! | anything else (0, negative, > 16) | `Gateway` | never | request |
//!
//! "backoff" becomes [`Retry::AfterMillis`] when the message carries a hint
//! ("Please retry in 30s"). Operation errors have `status: None`.
//!
//! # Messages
//!
//! `message` is the upstream's own message, trimmed of surrounding
//! whitespace and cut to at most [`MAX_MESSAGE_BYTES`] bytes on a character
//! boundary (ending in `…` when cut). Upstreams do not echo credentials
//! (OpenAI masks keys as `sk-proj-****abcd`), and as a second line of
//! defence anything that looks like a key (`sk-…`, `AIza…`, `ya29.…`;
//! [`crate::redact::find_shape`]) is replaced by `[redacted]`. The host
//! removes the credentials it knows by value ([`crate::redact::Redactor`],
//! [`UpstreamError::redacted`]). A body with no usable message (empty, HTML,
//! unknown JSON) gets a short description such as "upstream answered 502
//! with a non-JSON body", never the raw bytes.
//!
//! `upstream_code` is the OpenAI `code` (else `type`), or the Google
//! ErrorInfo `reason` (else the canonical `status`, else the first legacy
//! `errors[].reason`); for operation errors, the canonical gRPC name.

use super::{ErrorKind, Retry, Scope, UpstreamError};
use crate::redact::{find_shape, REDACTED};
use crate::time::parse_http_date;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::Value;

/// The longest retry delay ever advised: longer upstream requests are clamped.
pub const MAX_RETRY_DELAY_MS: u64 = 60 * 60 * 1000;

/// The longest [`UpstreamError::message`] kept, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 512;

/// A failure with no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The upstream did not answer within the gateway's deadline.
    Timeout,
    /// The connection failed.
    Network,
}

/// Classifies an upstream HTTP error response.
///
/// `headers` are the response headers (names compared case-insensitively),
/// `body` the raw response body and `now_unix_ms` the current time, used only
/// to turn an HTTP-date `Retry-After` into a delay. See the [module
/// docs](self) for the rules.
///
/// ```
/// use reelay_core::errors::{classify_http, ErrorKind, Retry, Scope};
///
/// let body = br#"{"error":{"message":"Rate limit reached for gpt-4o on tokens per min (TPM). Please try again in 2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
/// let err = classify_http(429, &[("Retry-After", "3")], body, 0);
/// assert_eq!(err.kind, ErrorKind::RateLimited);
/// assert_eq!(err.retry, Retry::AfterMillis(3000));
/// assert_eq!(err.scope, Scope::Deployment);
/// assert_eq!(err.upstream_code.as_deref(), Some("rate_limit_exceeded"));
/// ```
pub fn classify_http(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    now_unix_ms: u64,
) -> UpstreamError {
    let parsed = parse_body(body);
    let facts = match &parsed {
        Parsed::Json(value) => Facts::from_json(value),
        Parsed::Empty => Facts::new(Shape::Empty),
        Parsed::NotJson => Facts::new(Shape::NotJson),
    };

    let verdict = if !(400..600).contains(&status) {
        Verdict::new(ErrorKind::Gateway, false, Scope::Request)
    } else if status == 410 {
        RETIRED
    } else if facts.shape == Shape::Google {
        let canon = facts
            .google_status
            .and_then(Canon::from_name)
            .filter(|c| c.is_server_class() == (status >= 500))
            .or_else(|| Canon::from_http(status));
        match canon {
            Some(canon) => google_rule(canon, &facts),
            None => openai_rule(status, &facts),
        }
    } else {
        openai_rule(status, &facts)
    };

    let mut retryable = verdict.retryable;
    match header(headers, "x-should-retry").map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("false") => retryable = false,
        Some(v) if v.eq_ignore_ascii_case("true") => retryable = true,
        _ => {}
    }
    let retry = if retryable {
        let delay = facts
            .retry_delay_ms
            .or_else(|| header_delay(headers, now_unix_ms))
            .or_else(|| facts.message.and_then(message_delay));
        match delay {
            Some(ms) => Retry::AfterMillis(ms.min(MAX_RETRY_DELAY_MS)),
            None => Retry::Backoff,
        }
    } else {
        Retry::Never
    };

    let message = match facts.message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => clean_message(m),
        None => describe_body(status, facts.shape),
    };

    UpstreamError {
        kind: verdict.kind,
        retry,
        scope: verdict.scope,
        status: Some(status),
        upstream_code: facts.upstream_code().map(String::from),
        message,
    }
}

/// Classifies a failed long-running operation (`{"done":true,"error":{code,message}}`).
///
/// `grpc_code` is the operation's `error.code`, a **gRPC** code (3
/// `INVALID_ARGUMENT`, 8 `RESOURCE_EXHAUSTED`, 13 `INTERNAL`, …), not an HTTP
/// status. The result has `status: None` and `upstream_code` set to the
/// canonical name. See the [module docs](self) for the table.
///
/// ```
/// use reelay_core::errors::{classify_operation_error, ErrorKind, Retry};
///
/// let err = classify_operation_error(
///     3,
///     "Your prompt contains sensitive words that violate Google's Responsible AI practices.",
/// );
/// assert_eq!(err.kind, ErrorKind::ContentPolicy);
/// assert_eq!(err.retry, Retry::Never);
/// assert_eq!(err.upstream_code.as_deref(), Some("INVALID_ARGUMENT"));
/// ```
pub fn classify_operation_error(grpc_code: i64, message: &str) -> UpstreamError {
    let trimmed = message.trim();
    let mut facts = Facts::new(Shape::Operation);
    facts.message = Some(trimmed);
    let (verdict, name) = match Canon::from_grpc(grpc_code) {
        Some(canon) => (google_rule(canon, &facts), String::from(canon.name())),
        None => (
            Verdict::new(ErrorKind::Gateway, false, Scope::Request),
            alloc::format!("{grpc_code}"),
        ),
    };
    let retry = if verdict.retryable {
        match message_delay(trimmed) {
            Some(ms) => Retry::AfterMillis(ms.min(MAX_RETRY_DELAY_MS)),
            None => Retry::Backoff,
        }
    } else {
        Retry::Never
    };
    let message = if trimmed.is_empty() {
        alloc::format!("the upstream operation failed with {name}")
    } else {
        clean_message(trimmed)
    };
    UpstreamError {
        kind: verdict.kind,
        retry,
        scope: verdict.scope,
        status: None,
        upstream_code: Some(name),
        message,
    }
}

/// Classifies a transport failure: both kinds are retryable with back-off
/// and about the deployment (another one may answer).
///
/// ```
/// use reelay_core::errors::{classify_transport, ErrorKind, Retry, Transport};
///
/// let err = classify_transport(Transport::Timeout);
/// assert_eq!(err.kind, ErrorKind::Timeout);
/// assert_eq!(err.retry, Retry::Backoff);
/// ```
pub fn classify_transport(t: Transport) -> UpstreamError {
    let (kind, message) = match t {
        Transport::Timeout => (ErrorKind::Timeout, "the upstream did not answer in time"),
        Transport::Network => (ErrorKind::Network, "the upstream could not be reached"),
    };
    UpstreamError {
        kind,
        retry: Retry::Backoff,
        scope: Scope::Deployment,
        status: None,
        upstream_code: None,
        message: String::from(message),
    }
}

// ---------------------------------------------------------------------------
// Verdicts

/// Kind, whether retrying can help, and scope; the delay is added later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    kind: ErrorKind,
    retryable: bool,
    scope: Scope,
}

impl Verdict {
    const fn new(kind: ErrorKind, retryable: bool, scope: Scope) -> Self {
        Self {
            kind,
            retryable,
            scope,
        }
    }
}

const AUTH: Verdict = Verdict::new(ErrorKind::Authentication, false, Scope::Deployment);
const PERMISSION: Verdict = Verdict::new(ErrorKind::PermissionDenied, false, Scope::Deployment);
const NOT_FOUND: Verdict = Verdict::new(ErrorKind::NotFound, false, Scope::Request);
const RETIRED: Verdict = Verdict::new(ErrorKind::Retired, false, Scope::Deployment);
const BAD_REQUEST: Verdict = Verdict::new(ErrorKind::BadRequest, false, Scope::Request);
const BAD_REQUEST_HERE: Verdict = Verdict::new(ErrorKind::BadRequest, false, Scope::Deployment);
const CONTENT_POLICY: Verdict = Verdict::new(ErrorKind::ContentPolicy, false, Scope::Request);
const RATE_LIMITED: Verdict = Verdict::new(ErrorKind::RateLimited, true, Scope::Deployment);
const TOO_LARGE_HERE: Verdict = Verdict::new(ErrorKind::RateLimited, false, Scope::Deployment);
const QUOTA: Verdict = Verdict::new(ErrorKind::QuotaExhausted, false, Scope::Deployment);
const UNAVAILABLE: Verdict = Verdict::new(ErrorKind::UpstreamUnavailable, true, Scope::Deployment);
const UNIMPLEMENTED: Verdict =
    Verdict::new(ErrorKind::UpstreamUnavailable, false, Scope::Deployment);
const CONFLICT: Verdict = Verdict::new(ErrorKind::UpstreamUnavailable, true, Scope::Request);
const TIMEOUT: Verdict = Verdict::new(ErrorKind::Timeout, true, Scope::Deployment);
const GATEWAY: Verdict = Verdict::new(ErrorKind::Gateway, false, Scope::Request);

/// Rules for OpenAI-shaped, unknown-JSON and non-JSON bodies: the HTTP
/// status decides, refined by the OpenAI `code`/`type` and a few phrases.
fn openai_rule(status: u16, f: &Facts<'_>) -> Verdict {
    if !(400..500).contains(&status) {
        return status_rule(status);
    }
    let msg = f.message.unwrap_or("");
    if matches!(status, 400 | 401 | 403)
        && (f.has_code("invalid_api_key") || contains_ci(msg, "incorrect api key"))
    {
        return AUTH;
    }
    if status == 401 {
        return AUTH;
    }
    if f.has_retirement_code()
        || (status == 404 && (mentions_retirement(msg) || is_openai_invalid_url(f)))
    {
        return RETIRED;
    }
    if f.has_code("insufficient_quota") || f.has_code("billing_hard_limit_reached") {
        return QUOTA;
    }
    if status == 429 {
        if f.shape == Shape::OpenAi && contains_ci(msg, "exceeded your current quota") {
            return QUOTA;
        }
        if contains_ci(msg, "request too large") {
            return TOO_LARGE_HERE;
        }
        return RATE_LIMITED;
    }
    if !matches!(status, 404 | 408 | 409) {
        let coded = [
            "content_policy_violation",
            "moderation_blocked",
            "content_filter",
            "responsibleaipolicyviolation",
        ]
        .iter()
        .any(|c| f.has_code(c));
        if coded || (matches!(status, 400 | 422) && mentions_content_policy(msg, false)) {
            return CONTENT_POLICY;
        }
    }
    status_rule(status)
}

/// The bare status table, used when nothing more precise is known.
fn status_rule(status: u16) -> Verdict {
    match status {
        401 => AUTH,
        402 => QUOTA,
        403 => PERMISSION,
        404 => NOT_FOUND,
        408 | 499 => TIMEOUT,
        409 => CONFLICT,
        429 => RATE_LIMITED,
        400..=499 => BAD_REQUEST,
        501 => UNIMPLEMENTED,
        504 => TIMEOUT,
        500..=599 => UNAVAILABLE,
        _ => GATEWAY,
    }
}

/// Rules for Google-shaped errors and operation errors, by canonical code.
fn google_rule(canon: Canon, f: &Facts<'_>) -> Verdict {
    let msg = f.message.unwrap_or("");
    match canon {
        Canon::InvalidArgument | Canon::FailedPrecondition | Canon::OutOfRange => {
            if f.google_auth_failure() {
                AUTH
            } else if mentions_content_policy(msg, f.shape == Shape::Operation) {
                CONTENT_POLICY
            } else if mentions_location(msg) {
                BAD_REQUEST_HERE
            } else {
                BAD_REQUEST
            }
        }
        Canon::Unauthenticated => AUTH,
        Canon::PermissionDenied => {
            if f.google_auth_failure() {
                AUTH
            } else {
                PERMISSION
            }
        }
        Canon::NotFound => {
            if mentions_retirement(msg) || mentions_google_model_gone(msg) {
                RETIRED
            } else {
                NOT_FOUND
            }
        }
        Canon::AlreadyExists => BAD_REQUEST,
        Canon::ResourceExhausted => {
            if f.google_quota_is_daily() {
                QUOTA
            } else {
                RATE_LIMITED
            }
        }
        Canon::Aborted => CONFLICT,
        Canon::Cancelled | Canon::DeadlineExceeded => TIMEOUT,
        Canon::Unimplemented => UNIMPLEMENTED,
        Canon::Unknown | Canon::Internal | Canon::Unavailable | Canon::DataLoss => UNAVAILABLE,
    }
}

/// Google's canonical error codes (`google.rpc.Code`), minus `OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canon {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

impl Canon {
    const ALL: [(i64, Canon, &'static str); 16] = [
        (1, Canon::Cancelled, "CANCELLED"),
        (2, Canon::Unknown, "UNKNOWN"),
        (3, Canon::InvalidArgument, "INVALID_ARGUMENT"),
        (4, Canon::DeadlineExceeded, "DEADLINE_EXCEEDED"),
        (5, Canon::NotFound, "NOT_FOUND"),
        (6, Canon::AlreadyExists, "ALREADY_EXISTS"),
        (7, Canon::PermissionDenied, "PERMISSION_DENIED"),
        (8, Canon::ResourceExhausted, "RESOURCE_EXHAUSTED"),
        (9, Canon::FailedPrecondition, "FAILED_PRECONDITION"),
        (10, Canon::Aborted, "ABORTED"),
        (11, Canon::OutOfRange, "OUT_OF_RANGE"),
        (12, Canon::Unimplemented, "UNIMPLEMENTED"),
        (13, Canon::Internal, "INTERNAL"),
        (14, Canon::Unavailable, "UNAVAILABLE"),
        (15, Canon::DataLoss, "DATA_LOSS"),
        (16, Canon::Unauthenticated, "UNAUTHENTICATED"),
    ];

    fn from_grpc(code: i64) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _, _)| *n == code)
            .map(|(_, c, _)| *c)
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, _, s)| s.eq_ignore_ascii_case(name.trim()))
            .map(|(_, c, _)| *c)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c, _)| *c == self)
            .map_or("UNKNOWN", |(_, _, s)| s)
    }

    /// The HTTP status Google maps this code to is 5xx.
    fn is_server_class(self) -> bool {
        matches!(
            self,
            Self::Unknown
                | Self::DeadlineExceeded
                | Self::Unimplemented
                | Self::Internal
                | Self::Unavailable
                | Self::DataLoss
        )
    }

    /// The canonical code a bare HTTP status stands for, when there is one.
    fn from_http(status: u16) -> Option<Self> {
        Some(match status {
            400 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            408 => Self::DeadlineExceeded,
            409 => Self::Aborted,
            429 => Self::ResourceExhausted,
            499 => Self::Cancelled,
            500 => Self::Internal,
            501 => Self::Unimplemented,
            504 => Self::DeadlineExceeded,
            502 | 503 | 505..=599 => Self::Unavailable,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------
// Body facts

enum Parsed {
    Empty,
    NotJson,
    Json(Value),
}

fn parse_body(body: &[u8]) -> Parsed {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Parsed::Empty;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Parsed::Json(v),
        Err(_) => Parsed::NotJson,
    }
}

/// Which error format the body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Empty or whitespace-only body.
    Empty,
    /// Not JSON (HTML, plain text, truncated).
    NotJson,
    /// JSON, but neither OpenAI- nor Google-shaped.
    OtherJson,
    /// `{"error":{"message","type","param","code"}}`
    OpenAi,
    /// `{"error":{"code":<int>,"message","status","details"}}`
    Google,
    /// A long-running operation's `error` (only a message is known).
    Operation,
}

/// What the body says, borrowed from the parsed JSON.
struct Facts<'a> {
    shape: Shape,
    message: Option<&'a str>,
    /// OpenAI `code` (when a string).
    openai_code: Option<&'a str>,
    /// OpenAI `type`.
    openai_type: Option<&'a str>,
    /// Azure `innererror.code`.
    inner_code: Option<&'a str>,
    /// Google canonical `status`.
    google_status: Option<&'a str>,
    /// Google ErrorInfo `reason` (the first one).
    reason: Option<&'a str>,
    /// Vertex/legacy `errors[].reason`.
    legacy_reasons: Vec<&'a str>,
    /// QuotaFailure `violations[].quotaId` and `quotaMetric`.
    quota_ids: Vec<&'a str>,
    /// A QuotaFailure violation with `quotaValue` 0 (no quota at all).
    quota_zero: bool,
    /// RetryInfo `retryDelay`, in milliseconds.
    retry_delay_ms: Option<u64>,
}

impl<'a> Facts<'a> {
    fn new(shape: Shape) -> Self {
        Self {
            shape,
            message: None,
            openai_code: None,
            openai_type: None,
            inner_code: None,
            google_status: None,
            reason: None,
            legacy_reasons: Vec::new(),
            quota_ids: Vec::new(),
            quota_zero: false,
            retry_delay_ms: None,
        }
    }

    fn from_json(value: &'a Value) -> Self {
        // Some Google endpoints wrap the error in a one-element array.
        let root = match value {
            Value::Array(items) => items
                .iter()
                .find(|v| v.get("error").is_some())
                .or_else(|| items.first()),
            other => Some(other),
        };
        let Some(root) = root else {
            return Self::new(Shape::OtherJson);
        };
        match root.get("error") {
            Some(Value::Object(e)) if is_google(e) => Self::google(e),
            Some(Value::Object(e)) if is_openai(e) => Self::openai(e),
            Some(Value::Object(e)) => {
                let mut f = Self::new(Shape::OtherJson);
                f.message = str_field(e.get("message")).or_else(|| root_message(root));
                f
            }
            Some(Value::String(s)) => {
                let mut f = Self::new(Shape::OtherJson);
                f.message = Some(s.as_str());
                f
            }
            _ => {
                let mut f = Self::new(Shape::OtherJson);
                f.message = root_message(root);
                f
            }
        }
    }

    fn openai(e: &'a serde_json::Map<String, Value>) -> Self {
        let mut f = Self::new(Shape::OpenAi);
        f.message = str_field(e.get("message"));
        f.openai_code = str_field(e.get("code"));
        f.openai_type = str_field(e.get("type"));
        f.inner_code = e.get("innererror").and_then(|i| str_field(i.get("code")));
        f
    }

    fn google(e: &'a serde_json::Map<String, Value>) -> Self {
        let mut f = Self::new(Shape::Google);
        f.message = str_field(e.get("message"));
        f.google_status = str_field(e.get("status"));
        if let Some(Value::Array(details)) = e.get("details") {
            for d in details {
                let Some(ty) = str_field(d.get("@type")) else {
                    continue;
                };
                if ty.ends_with("google.rpc.ErrorInfo") {
                    if f.reason.is_none() {
                        f.reason = str_field(d.get("reason"));
                    }
                } else if ty.ends_with("google.rpc.QuotaFailure") {
                    if let Some(Value::Array(violations)) = d.get("violations") {
                        for v in violations {
                            f.quota_ids.extend(str_field(v.get("quotaId")));
                            f.quota_ids.extend(str_field(v.get("quotaMetric")));
                            let zero = match v.get("quotaValue") {
                                Some(Value::String(s)) => s.trim() == "0",
                                Some(Value::Number(n)) => n.as_u64() == Some(0),
                                _ => false,
                            };
                            f.quota_zero |= zero;
                        }
                    }
                } else if ty.ends_with("google.rpc.RetryInfo") && f.retry_delay_ms.is_none() {
                    f.retry_delay_ms = d.get("retryDelay").and_then(proto_duration_ms);
                }
            }
        }
        if let Some(Value::Array(errors)) = e.get("errors") {
            f.legacy_reasons
                .extend(errors.iter().filter_map(|x| str_field(x.get("reason"))));
        }
        f
    }

    fn has_code(&self, code: &str) -> bool {
        [self.openai_code, self.openai_type, self.inner_code]
            .iter()
            .flatten()
            .any(|c| c.eq_ignore_ascii_case(code))
    }

    /// An OpenAI/Azure code that says the model itself was retired.
    fn has_retirement_code(&self) -> bool {
        [
            "model_deprecated",
            "modeldeprecated",
            "model_retired",
            "model_shutdown",
            "model_shut_down",
        ]
        .iter()
        .any(|c| self.has_code(c))
    }

    fn upstream_code(&self) -> Option<&'a str> {
        match self.shape {
            Shape::OpenAi => self.openai_code.or(self.openai_type),
            Shape::Google => self
                .reason
                .or(self.google_status)
                .or_else(|| self.legacy_reasons.first().copied()),
            _ => None,
        }
    }

    /// The gateway's Google credential was rejected.
    fn google_auth_failure(&self) -> bool {
        const REASONS: [&str; 8] = [
            "API_KEY_INVALID",
            "API_KEY_EXPIRED",
            "ACCESS_TOKEN_EXPIRED",
            "ACCESS_TOKEN_INVALID",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            "CREDENTIALS_MISSING",
            "keyInvalid",
            "authError",
        ];
        let by_reason = self
            .reason
            .iter()
            .chain(self.legacy_reasons.iter())
            .any(|r| REASONS.iter().any(|x| x.eq_ignore_ascii_case(r)));
        let msg = self.message.unwrap_or("");
        by_reason || contains_ci(msg, "api key not valid") || contains_ci(msg, "api key expired")
    }

    /// A Google `RESOURCE_EXHAUSTED` is a daily (or zero) quota, which a
    /// retry within the hour cannot fix.
    fn google_quota_is_daily(&self) -> bool {
        let daily = |s: &str| {
            ["perday", "per_day", "per day", "daily"]
                .iter()
                .any(|p| contains_ci(s, p))
        };
        let msg = self.message.unwrap_or("");
        self.quota_zero
            || self.quota_ids.iter().any(|q| daily(q))
            || self
                .legacy_reasons
                .iter()
                .any(|r| r.eq_ignore_ascii_case("dailyLimitExceeded"))
            || daily(msg)
            || says_limit_zero(msg)
    }
}

fn is_google(e: &serde_json::Map<String, Value>) -> bool {
    matches!(e.get("status"), Some(Value::String(_)))
        || matches!(e.get("details"), Some(Value::Array(_)))
        || matches!(e.get("errors"), Some(Value::Array(_)))
        || (matches!(e.get("code"), Some(Value::Number(_))) && e.get("type").is_none())
}

fn is_openai(e: &serde_json::Map<String, Value>) -> bool {
    ["message", "type", "code"]
        .iter()
        .any(|k| matches!(e.get(*k), Some(Value::String(_))))
}

fn str_field(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A message at the top level of a non-standard body (`{"message":…}`,
/// `{"detail":…}`, `{"error_description":…}`).
fn root_message(root: &Value) -> Option<&str> {
    ["message", "detail", "error_description"]
        .iter()
        .find_map(|k| str_field(root.get(*k)))
}

// ---------------------------------------------------------------------------
// Phrases

/// Case-insensitive ASCII substring search; `needle` must be lowercase.
fn contains_ci(haystack: &str, needle: &str) -> bool {
    find_ci(haystack, needle).is_some()
}

/// Byte offset of the first case-insensitive match of lowercase `needle`.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len())
        .position(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// The message says a safety or usage policy blocked the content. `broad`
/// (operation errors, where an `INVALID_ARGUMENT` is nearly always a safety
/// block) also accepts bare "blocked", "sensitive", "safety" and "violate".
fn mentions_content_policy(msg: &str, broad: bool) -> bool {
    const STRONG: [&str; 13] = [
        "responsible ai",
        "safety system",
        "safety filter",
        "safety polic",
        "safety reasons",
        "content polic",
        "content management policy",
        "usage polic",
        "usage guideline",
        "sensitive words",
        "moderation system",
        "prohibited content",
        "rejected by the safety",
    ];
    if STRONG.iter().any(|p| contains_ci(msg, p)) {
        return true;
    }
    if contains_ci(msg, "violat")
        && ["polic", "guideline", "practice", "terms"]
            .iter()
            .any(|p| contains_ci(msg, p))
    {
        return true;
    }
    if contains_ci(msg, "safety") && contains_ci(msg, "block") {
        return true;
    }
    broad
        && ["blocked", "sensitive", "safety", "violate"]
            .iter()
            .any(|p| contains_ci(msg, p))
}

/// A not-found message that says the model (or the API serving it) is gone
/// for good: Gemini's "This model models/… is no longer available", OpenAI's
/// "The model `…` has been deprecated", "… has been shut down", "retired".
fn mentions_retirement(msg: &str) -> bool {
    [
        "no longer available",
        "no longer supported",
        "no longer served",
        "deprecated",
        "retired",
        "shut down",
        "shutdown",
        "discontinued",
        "sunset",
    ]
    .iter()
    .any(|p| contains_ci(msg, p))
}

/// Google's not-found answers for a model this API does not serve (any
/// more): Gemini's "models/… is not found for API version v1beta, or is
/// not supported for predictLongRunning" and Vertex's "Publisher Model `…`
/// was not found or your project does not have access to it" (what Vertex
/// answers for retired model versions). The gateway put the deployment's
/// own model in the path, so no request to this deployment can succeed.
fn mentions_google_model_gone(msg: &str) -> bool {
    contains_ci(msg, "is not found for api version")
        || (contains_ci(msg, "publisher model") && contains_ci(msg, "was not found"))
}

/// OpenAI's router answer for a path it does not serve, `Invalid URL (POST
/// /v1/videos)`: the gateway only calls documented paths, so the API was
/// removed (as the Videos API was on 2026-09-24).
fn is_openai_invalid_url(f: &Facts<'_>) -> bool {
    f.shape == Shape::OpenAi
        && f.message
            .is_some_and(|m| m.trim_start().starts_with("Invalid URL ("))
}

/// The deployment's region or country cannot use the API (another deployment may).
fn mentions_location(msg: &str) -> bool {
    contains_ci(msg, "location is not supported")
        || contains_ci(msg, "not available in your country")
}

/// Gemini's "Quota exceeded for metric: …, limit: 0": the model has no quota
/// at all on this tier, so no delay will help.
fn says_limit_zero(msg: &str) -> bool {
    let mut rest = msg;
    while let Some(at) = find_ci(rest, "limit: 0") {
        let after = &rest[at + "limit: 0".len()..];
        if !after.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return true;
        }
        rest = after;
    }
    false
}

// ---------------------------------------------------------------------------
// Messages

fn describe_body(status: u16, shape: Shape) -> String {
    match shape {
        Shape::Empty => alloc::format!("upstream answered {status} with an empty body"),
        Shape::NotJson => alloc::format!("upstream answered {status} with a non-JSON body"),
        _ => alloc::format!("upstream answered {status} with an error body that has no message"),
    }
}

/// Redacts key-like runs, then cuts to [`MAX_MESSAGE_BYTES`].
fn clean_message(msg: &str) -> String {
    // Only the head can survive the cut; do not scan a megabyte of it.
    let mut head = msg.len().min(4 * MAX_MESSAGE_BYTES);
    while !msg.is_char_boundary(head) {
        head -= 1;
    }
    let mut out = String::with_capacity(head.min(MAX_MESSAGE_BYTES + 16));
    let mut rest = &msg[..head];
    while !rest.is_empty() && out.len() <= MAX_MESSAGE_BYTES {
        match find_shape(rest) {
            Some((start, end)) => {
                out.push_str(&rest[..start]);
                out.push_str(REDACTED);
                rest = &rest[end..];
            }
            None => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    truncate_message(&mut out);
    out
}

fn truncate_message(s: &mut String) {
    const ELLIPSIS: &str = "…";
    if s.len() <= MAX_MESSAGE_BYTES {
        return;
    }
    let mut cut = MAX_MESSAGE_BYTES - ELLIPSIS.len();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    let kept = s.trim_end().len();
    s.truncate(kept);
    s.push_str(ELLIPSIS);
}

// ---------------------------------------------------------------------------
// Retry delays

fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// `retry-after-ms` (wins), else `Retry-After` seconds or HTTP-date.
fn header_delay(headers: &[(&str, &str)], now_unix_ms: u64) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| parse_decimal(v, 0)) {
        return Some(ms);
    }
    let value = header(headers, "retry-after")?;
    if let Some(ms) = parse_decimal(value, 3) {
        return Some(ms);
    }
    let at = parse_http_date(value)?;
    let now = i64::try_from(now_unix_ms).unwrap_or(i64::MAX);
    Some(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
}

/// Parses a non-negative decimal (`"20"`, `"1.5"`, `".5"`) and scales it by
/// `10^scale`, rounding any remaining fraction up. No sign, no exponent.
fn parse_decimal(s: &str, scale: u32) -> Option<u64> {
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: u64 = 0;
    for b in int.bytes() {
        value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    let mut frac_digits = frac.bytes();
    for _ in 0..scale {
        let d = frac_digits.next().map_or(0, |b| u64::from(b - b'0'));
        value = value.saturating_mul(10).saturating_add(d);
    }
    if frac_digits.any(|b| b != b'0') {
        value = value.saturating_add(1);
    }
    Some(value)
}

/// A protobuf `Duration` in JSON: `"47s"`, `"0.5s"`, or the object form
/// `{"seconds": 47, "nanos": 500000000}` (seconds as number or string).
fn proto_duration_ms(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => parse_decimal(s.trim().strip_suffix('s')?, 3),
        Value::Object(o) => {
            let secs = match o.get("seconds") {
                Some(Value::Number(n)) => n.as_u64()?,
                Some(Value::String(s)) => parse_decimal(s, 0).filter(|_| !s.contains('.'))?,
                None => 0,
                _ => return None,
            };
            let nanos = match o.get("nanos") {
                Some(Value::Number(n)) => n.as_u64().filter(|n| *n < 1_000_000_000)?,
                None => 0,
                _ => return None,
            };
            Some(
                secs.saturating_mul(1000)
                    .saturating_add(nanos.div_ceil(1_000_000)),
            )
        }
        _ => None,
    }
}

/// A delay hinted in the message: "Please try again in 2s", "try again in
/// 20ms", "try again in 7m12s", "Please retry in 37.73s", "retry after 7
/// seconds".
fn message_delay(msg: &str) -> Option<u64> {
    ["try again in ", "retry in ", "retry after "]
        .iter()
        .find_map(|marker| {
            let at = find_ci(msg, marker)?;
            parse_text_duration(&msg[at + marker.len()..])
        })
}

/// Parses a leading `1h2m3.5s`-style or `7 seconds`-style duration.
fn parse_text_duration(s: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 16] = [
        ("milliseconds", 1),
        ("millisecond", 1),
        ("ms", 1),
        ("seconds", 1000),
        ("second", 1000),
        ("secs", 1000),
        ("sec", 1000),
        ("s", 1000),
        ("minutes", 60_000),
        ("minute", 60_000),
        ("mins", 60_000),
        ("min", 60_000),
        ("m", 60_000),
        ("hours", 3_600_000),
        ("hour", 3_600_000),
        ("h", 3_600_000),
    ];
    let mut rest = s;
    let mut total: u64 = 0;
    let mut any = false;
    loop {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if num_len == 0 {
            break;
        }
        let Some(thousandths) = parse_decimal(&rest[..num_len], 3) else {
            break;
        };
        let after = &rest[num_len..];
        let after_space = after.strip_prefix(' ').unwrap_or(after);
        let unit = UNITS.iter().find(|(name, _)| {
            after_space.len() >= name.len()
                && after_space.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && !after_space
                    .as_bytes()
                    .get(name.len())
                    .is_some_and(u8::is_ascii_alphabetic)
        });
        let Some((name, unit_ms)) = unit else { break };
        let ms = thousandths.saturating_mul(*unit_ms).div_ceil(1000);
        total = total.saturating_add(ms);
        any = true;
        rest = &after_space[name.len()..];
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn retry_after_header_forms() {
        let now = 784_111_777_000;
        let h = |v| header_delay(&[("Retry-After", v)], now);
        assert_eq!(h("20"), Some(20_000));
        assert_eq!(h("1.5"), Some(1_500));
        assert_eq!(h("0"), Some(0));
        assert_eq!(h("Sun, 06 Nov 1994 08:50:07 GMT"), Some(30_000));
        assert_eq!(h("Sun, 06 Nov 1994 08:00:00 GMT"), Some(0));
        assert_eq!(h("-5"), None);
        assert_eq!(h("soon"), None);
        assert_eq!(h("1e3"), None);
        // retry-after-ms wins, and is fractional milliseconds.
        let both = [("retry-after", "20"), ("RETRY-AFTER-MS", "1500.2")];
        assert_eq!(header_delay(&both, now), Some(1501));
        // garbage retry-after-ms falls back to retry-after.
        let bad_ms = [("retry-after-ms", "NaN"), ("retry-after", "3")];
        assert_eq!(header_delay(&bad_ms, now), Some(3000));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("47", 3), Some(47_000));
        assert_eq!(parse_decimal("0.5", 3), Some(500));
        assert_eq!(parse_decimal(".5", 3), Some(500));
        assert_eq!(parse_decimal("5.", 3), Some(5000));
        assert_eq!(parse_decimal("1.0001", 3), Some(1001));
        assert_eq!(parse_decimal("1.0000", 3), Some(1000));
        assert_eq!(parse_decimal("99999999999999999999999", 3), Some(u64::MAX));
        for bad in ["", ".", "-1", "+1", "1.2.3", "1e3", "inf", "NaN", "1 2"] {
            assert_eq!(parse_decimal(bad, 3), None, "{bad:?}");
        }
    }

    #[test]
    fn proto_durations() {
        let d = |v: Value| proto_duration_ms(&v);
        assert_eq!(d(Value::from("47s")), Some(47_000));
        assert_eq!(d(Value::from("0.5s")), Some(500));
        assert_eq!(d(Value::from("1.5s")), Some(1_500));
        assert_eq!(d(Value::from("37.739625s")), Some(37_740));
        assert_eq!(d(Value::from("0s")), Some(0));
        assert_eq!(
            d(serde_json::json!({"seconds": 47, "nanos": 500_000_000})),
            Some(47_500)
        );
        assert_eq!(d(serde_json::json!({"seconds": "12"})), Some(12_000));
        assert_eq!(d(serde_json::json!({"nanos": 1})), Some(1));
        for bad in [
            Value::from("47"),
            Value::from("-1s"),
            Value::from("s"),
            Value::from(47),
            serde_json::json!({"seconds": -1}),
            serde_json::json!({"seconds": 1, "nanos": 2_000_000_000_u64}),
            serde_json::json!({"seconds": "1.5"}),
        ] {
            assert_eq!(d(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn message_hints() {
        assert_eq!(
            message_delay("Rate limit reached. Please try again in 2s. Visit …"),
            Some(2000)
        );
        assert_eq!(message_delay("Please try again in 20ms."), Some(20));
        assert_eq!(message_delay("Please try again in 1.898s."), Some(1898));
        assert_eq!(message_delay("Please try again in 7m12s."), Some(432_000));
        assert_eq!(message_delay("Please try again in 1h2m."), Some(3_720_000));
        assert_eq!(message_delay("Please retry in 37.739625s."), Some(37_740));
        assert_eq!(message_delay("Please retry after 7 seconds."), Some(7000));
        assert_eq!(
            message_delay("Try again in 86400 seconds."),
            Some(86_400_000)
        );
        assert_eq!(message_delay("Please try again later."), None);
        assert_eq!(message_delay("try again in 5 moments"), None);
        assert_eq!(message_delay("no hint here"), None);
    }

    #[test]
    fn operation_errors() {
        let op = classify_operation_error;
        let rai = op(3, "Your prompt contains sensitive words that violate Google's Responsible AI practices. Try rephrasing the prompt. Support codes: 58061214");
        assert_eq!(
            (rai.kind, rai.retry, rai.scope),
            (ErrorKind::ContentPolicy, Retry::Never, Scope::Request)
        );
        assert_eq!(rai.upstream_code.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(rai.status, None);
        assert!(rai.message.contains("Support codes: 58061214"));

        let blocked = op(3, "The input image was blocked. Support codes: 17301594");
        assert_eq!(blocked.kind, ErrorKind::ContentPolicy);

        let bad = op(
            3,
            "Unsupported duration: 5 seconds. Supported values are 4, 6, 8.",
        );
        assert_eq!(
            (bad.kind, bad.retry, bad.scope),
            (ErrorKind::BadRequest, Retry::Never, Scope::Request)
        );

        let cases: [(i64, ErrorKind, Retry, Scope, &str); 15] = [
            (
                1,
                ErrorKind::Timeout,
                Retry::Backoff,
                Scope::Deployment,
                "CANCELLED",
            ),
            (
                2,
                ErrorKind::UpstreamUnavailable,
                Retry::Backoff,
                Scope::Deployment,
                "UNKNOWN",
            ),
            (
                4,
                ErrorKind::Timeout,
                Retry::Backoff,
                Scope::Deployment,
                "DEADLINE_EXCEEDED",
            ),
            (
                5,
                ErrorKind::NotFound,
                Retry::Never,
                Scope::Request,
                "NOT_FOUND",
            ),
            (
                6,
                ErrorKind::BadRequest,
                Retry::Never,
                Scope::Request,
                "ALREADY_EXISTS",
            ),
            (
                7,
                ErrorKind::PermissionDenied,
                Retry::Never,
                Scope::Deployment,
                "PERMISSION_DENIED",
            ),
            (
                8,
                ErrorKind::RateLimited,
                Retry::Backoff,
                Scope::Deployment,
                "RESOURCE_EXHAUSTED",
            ),
            (
                9,
                ErrorKind::BadRequest,
                Retry::Never,
                Scope::Request,
                "FAILED_PRECONDITION",
            ),
            (
                10,
                ErrorKind::UpstreamUnavailable,
                Retry::Backoff,
                Scope::Request,
                "ABORTED",
            ),
            (
                11,
                ErrorKind::BadRequest,
                Retry::Never,
                Scope::Request,
                "OUT_OF_RANGE",
            ),
            (
                12,
                ErrorKind::UpstreamUnavailable,
                Retry::Never,
                Scope::Deployment,
                "UNIMPLEMENTED",
            ),
            (
                13,
                ErrorKind::UpstreamUnavailable,
                Retry::Backoff,
                Scope::Deployment,
                "INTERNAL",
            ),
            (
                14,
                ErrorKind::UpstreamUnavailable,
                Retry::Backoff,
                Scope::Deployment,
                "UNAVAILABLE",
            ),
            (
                15,
                ErrorKind::UpstreamUnavailable,
                Retry::Backoff,
                Scope::Deployment,
                "DATA_LOSS",
            ),
            (
                16,
                ErrorKind::Authentication,
                Retry::Never,
                Scope::Deployment,
                "UNAUTHENTICATED",
            ),
        ];
        for (code, kind, retry, scope, name) in cases {
            let e = op(code, "Something went wrong. Support codes: 1234");
            assert_eq!(
                (e.kind, e.retry, e.scope),
                (kind, retry, scope),
                "code {code}"
            );
            assert_eq!(e.upstream_code.as_deref(), Some(name));
            assert_eq!(e.status, None);
        }

        let daily = op(8, "Quota exceeded for quota metric 'Video generations' and limit 'Video generations per day' of service");
        assert_eq!(
            (daily.kind, daily.retry),
            (ErrorKind::QuotaExhausted, Retry::Never)
        );
        let hinted = op(8, "Too many requests. Please retry in 30s.");
        assert_eq!(
            (hinted.kind, hinted.retry),
            (ErrorKind::RateLimited, Retry::AfterMillis(30_000))
        );

        for code in [0, -1, 17, i64::MAX, i64::MIN] {
            let e = op(code, "");
            assert_eq!(
                (e.kind, e.retry, e.scope),
                (ErrorKind::Gateway, Retry::Never, Scope::Request)
            );
            assert_eq!(e.upstream_code, Some(alloc::format!("{code}")));
            assert!(!e.message.is_empty());
        }
        let empty = op(13, "   ");
        assert_eq!(empty.message, "the upstream operation failed with INTERNAL");
    }

    #[test]
    fn retirement_is_read_from_not_found_answers_only() {
        let kind = |status: u16, body: &str| classify_http(status, &[], body.as_bytes(), 0).kind;
        // A deprecated parameter is the caller's bad request, not a retired model.
        assert_eq!(
            kind(
                400,
                r#"{"error":{"message":"The parameter `size_hint` has been deprecated.","type":"invalid_request_error","param":"size_hint","code":null}}"#
            ),
            ErrorKind::BadRequest
        );
        // Unknown jobs stay not-found for this request.
        assert_eq!(
            kind(
                404,
                r#"{"error":{"message":"Video with id 'video_1' not found.","type":"invalid_request_error","param":"video_id","code":null}}"#
            ),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(
                404,
                r#"{"error":{"message":"The model `gpt-x` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#
            ),
            ErrorKind::NotFound
        );
        // "Invalid URL" is OpenAI's router, not a message inside another shape.
        assert_eq!(
            kind(
                404,
                r#"{"error":{"code":404,"message":"Invalid URL (POST /v1/videos)","status":"NOT_FOUND"}}"#
            ),
            ErrorKind::NotFound
        );
        let gone = classify_http(
            404,
            &[("retry-after", "5")],
            br#"{"error":{"message":"The model `sora-2` has been shut down.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#,
            0,
        );
        assert_eq!(
            (gone.kind, gone.retry, gone.scope),
            (ErrorKind::Retired, Retry::Never, Scope::Deployment)
        );
        // A Google 410 is gone whatever its canonical status says.
        assert_eq!(
            kind(
                410,
                r#"{"error":{"code":410,"message":"gone","status":"NOT_FOUND"}}"#
            ),
            ErrorKind::Retired
        );
        // Operations: gRPC 5 with the same words.
        let op = classify_operation_error(5, "models/veo-3.0-generate-001 is no longer available.");
        assert_eq!((op.kind, op.scope), (ErrorKind::Retired, Scope::Deployment));
        assert_eq!(
            classify_operation_error(5, "Operation not found.").kind,
            ErrorKind::NotFound
        );
    }

    #[test]
    fn transport() {
        let t = classify_transport(Transport::Timeout);
        assert_eq!(
            (t.kind, t.retry, t.scope, t.status),
            (ErrorKind::Timeout, Retry::Backoff, Scope::Deployment, None)
        );
        let n = classify_transport(Transport::Network);
        assert_eq!(
            (n.kind, n.retry, n.scope),
            (ErrorKind::Network, Retry::Backoff, Scope::Deployment)
        );
        assert!(!n.message.is_empty() && !t.message.is_empty());
    }

    #[test]
    fn messages_are_trimmed_on_char_boundaries() {
        let long = "é".repeat(400); // 800 bytes
        let body = serde_json::json!({"error": {"message": long, "type": "invalid_request_error"}})
            .to_string();
        let e = classify_http(400, &[], body.as_bytes(), 0);
        assert!(e.message.len() <= MAX_MESSAGE_BYTES, "{}", e.message.len());
        assert!(e.message.ends_with('…'));
        assert!(e.message.starts_with("éé"));
    }

    #[test]
    fn key_like_words_are_redacted() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let e = classify_http(401, &[], body, 0);
        assert!(!e.message.contains("sk-proj-abc"), "{}", e.message);
        assert!(e.message.contains("[redacted]. You can find"));
        let g = clean_message("key=AIzaSyA1234567890abcdefghijklmnopqrstu is bad\nnext");
        assert_eq!(g, "key=[redacted] is bad\nnext");
    }

    #[test]
    fn non_error_statuses_are_gateway_faults() {
        for status in [0, 100, 200, 204, 302, 600, u16::MAX] {
            let e = classify_http(status, &[], b"{}", 0);
            assert_eq!(
                (e.kind, e.retry, e.scope),
                (ErrorKind::Gateway, Retry::Never, Scope::Request),
                "{status}"
            );
        }
    }

    #[test]
    fn should_retry_header_overrides() {
        let e = classify_http(500, &[("X-Should-Retry", "false")], b"", 0);
        assert_eq!(e.retry, Retry::Never);
        let e = classify_http(400, &[("x-should-retry", "true")], b"", 0);
        assert_eq!(e.retry, Retry::Backoff);
        let e = classify_http(
            400,
            &[("x-should-retry", "true"), ("retry-after", "2")],
            b"",
            0,
        );
        assert_eq!(e.retry, Retry::AfterMillis(2000));
    }

    #[test]
    fn delays_are_clamped() {
        let e = classify_http(503, &[("retry-after", "86400")], b"", 0);
        assert_eq!(e.retry, Retry::AfterMillis(MAX_RETRY_DELAY_MS));
    }
}
