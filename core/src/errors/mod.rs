//! Errors: what went wrong, what the caller should be told, and whether to
//! try again.
//!
//! Two halves live here:
//! - [`classify`] turns an upstream failure (HTTP status, headers and an
//!   OpenAI- or Google-shaped body, or a transport failure) into an
//!   [`UpstreamError`]: a small [`ErrorKind`], retry advice and a scope.
//! - [`ClientError`] is the one error type the gateway answers with. It
//!   carries a stable [`ErrorCode`] (whose string never changes once
//!   released), the HTTP status, a human message and an optional `param`, and
//!   renders itself in the caller's [`Dialect`]: OpenAI's
//!   `{"error":{"message","type","param","code"}}` or Google's
//!   `{"error":{"code","message","status","details"}}`.
//!
//! Status, OpenAI `type` and Google canonical status for every code are in
//! one table: [`ErrorCode::spec`].

pub mod classify;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::redact::Redactor;

pub use classify::{classify_http, classify_operation_error, classify_transport, Transport};

/// The small set of failure kinds every upstream error is sorted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credential was rejected (bad, revoked or expired key).
    Authentication,
    /// The credential is valid but may not do this.
    PermissionDenied,
    /// The model, job or resource does not exist (or is not visible).
    NotFound,
    /// The provider retired or shut down the deployment's model (or the
    /// API serving it): this deployment will not serve it again.
    Retired,
    /// The request itself is wrong; retrying it unchanged cannot help.
    BadRequest,
    /// Safety/moderation blocked the prompt or the output.
    ContentPolicy,
    /// Short-term rate limit; retry after a delay.
    RateLimited,
    /// Billing or daily quota is exhausted; retrying soon will not help.
    QuotaExhausted,
    /// The upstream is failing or overloaded (5xx).
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    Timeout,
    /// The connection failed (DNS, reset, refused, TLS).
    Network,
    /// The gateway itself failed or got an answer it cannot understand.
    Gateway,
}

impl ErrorKind {
    /// A stable lowercase name, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Retired => "retired",
            Self::BadRequest => "bad_request",
            Self::ContentPolicy => "content_policy",
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Gateway => "gateway",
        }
    }
}

/// Whether and when a failed upstream call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Trying again cannot succeed (bad request, auth, content policy, quota).
    Never,
    /// Retryable; the upstream did not say when, so back off exponentially.
    Backoff,
    /// Retryable after this many milliseconds, as the upstream asked
    /// (`retry-after-ms`, `Retry-After`, Google `RetryInfo.retryDelay`).
    AfterMillis(u64),
}

impl Retry {
    /// True unless [`Retry::Never`].
    pub const fn is_retryable(self) -> bool {
        !matches!(self, Self::Never)
    }
}

/// Who the failure is about: decides whether to retry elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only this request is affected (bad input, content policy): do not
    /// retry it elsewhere.
    Request,
    /// The deployment is unhealthy or its credential/quota is spent: another
    /// deployment may serve the same request.
    Deployment,
    /// The caller's own key is the problem.
    Key,
}

/// Which error shape a client expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error":{"message","type","param","code"}}`
    OpenAi,
    /// `{"error":{"code","message","status","details"}}`
    Google,
}

/// An upstream failure after classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// Retry advice.
    pub retry: Retry,
    /// Who the failure is about.
    pub scope: Scope,
    /// The upstream HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The upstream's own code (`rate_limit_exceeded`, `RESOURCE_EXHAUSTED`,
    /// `API_KEY_INVALID`, …) when it sent one.
    pub upstream_code: Option<String>,
    /// The upstream's message, trimmed to a safe length. Never contains the
    /// gateway's credentials (upstreams do not echo them; see classify docs).
    pub message: String,
}

impl UpstreamError {
    /// This failure with every secret `redactor` knows (and every
    /// secret-shaped run) removed from the upstream's text.
    #[must_use]
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        self.message = redactor.redact(&self.message);
        self.upstream_code = self.upstream_code.map(|c| redactor.redact(&c));
        self
    }

    /// The upstream answered with something the gateway cannot read (not
    /// JSON, a missing field, a redirect without a target, a refused
    /// upgrade): a gateway-kind failure of that deployment, worth another try.
    pub fn unreadable(status: Option<u16>, message: &str) -> Self {
        Self {
            kind: ErrorKind::Gateway,
            retry: Retry::Backoff,
            scope: Scope::Deployment,
            status,
            upstream_code: None,
            message: String::from(message),
        }
    }

    /// The client-facing error for this upstream failure. Caller faults
    /// (bad request, content policy) keep the upstream's message; gateway
    /// faults (upstream credential rejected) do not blame the caller.
    pub fn to_client(&self) -> ClientError {
        let code = match self.kind {
            ErrorKind::Authentication => ErrorCode::UpstreamAuthentication,
            ErrorKind::PermissionDenied => ErrorCode::UpstreamPermissionDenied,
            ErrorKind::NotFound => ErrorCode::UpstreamNotFound,
            ErrorKind::Retired => ErrorCode::ModelRetired,
            ErrorKind::BadRequest => ErrorCode::UpstreamBadRequest,
            ErrorKind::ContentPolicy => ErrorCode::ContentPolicyViolation,
            ErrorKind::RateLimited => ErrorCode::UpstreamRateLimited,
            ErrorKind::QuotaExhausted => ErrorCode::UpstreamQuotaExhausted,
            ErrorKind::UpstreamUnavailable => ErrorCode::UpstreamUnavailable,
            ErrorKind::Timeout => ErrorCode::UpstreamTimeout,
            ErrorKind::Network => ErrorCode::UpstreamNetwork,
            ErrorKind::Gateway => ErrorCode::BadUpstreamResponse,
        };
        let message = match self.kind {
            ErrorKind::Authentication | ErrorKind::PermissionDenied => String::from(
                "the provider rejected the gateway's credential for this deployment; \
                 ask the gateway operator to check it",
            ),
            // The provider's words name its own model ids and projects;
            // the route names the client's model (`ClientError::model_retired`).
            ErrorKind::Retired => String::from(code.spec().default_message),
            _ if self.message.is_empty() => String::from(code.spec().default_message),
            _ => self.message.clone(),
        };
        let mut err = ClientError::new(code, message);
        if let Retry::AfterMillis(ms) = self.retry {
            err.retry_after_ms = Some(ms);
        }
        err
    }
}

/// The spec row of an [`ErrorCode`]: status and the names each dialect uses.
#[derive(Debug, Clone, Copy)]
pub struct CodeSpec {
    /// HTTP status sent to the client.
    pub status: u16,
    /// OpenAI `error.type`.
    pub openai_type: &'static str,
    /// Google canonical `error.status`.
    pub google_status: &'static str,
    /// Message used when nothing more precise is known.
    pub default_message: &'static str,
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, $otype:literal, $gstatus:literal, $msg:literal; )*) => {
        /// Every error the gateway can answer with. The string of each code
        /// ([`ErrorCode::as_str`]) is part of the public API and never changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode { $( $(#[$doc])* $variant, )* }

        impl ErrorCode {
            /// All codes, for docs and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The stable wire string of this code.
            pub const fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $code, )* }
            }

            /// Status and dialect names: the one table for all codes.
            pub const fn spec(self) -> CodeSpec {
                match self { $( Self::$variant => CodeSpec {
                    status: $status, openai_type: $otype, google_status: $gstatus, default_message: $msg,
                }, )* }
            }
        }
    };
}

error_codes! {
    /// No key in `Authorization`, `x-goog-api-key`, `?key=` or `api-key`.
    MissingApiKey = "missing_api_key", 401, "authentication_error", "UNAUTHENTICATED", "no API key was provided";
    /// The key is unknown or malformed.
    InvalidApiKey = "invalid_api_key", 401, "authentication_error", "UNAUTHENTICATED", "the API key is not valid";
    /// The key existed but its expiry has passed.
    KeyExpired = "key_expired", 401, "authentication_error", "UNAUTHENTICATED", "the API key has expired";
    /// The key's access rules do not allow the requested model.
    ModelAccessDenied = "key_model_access_denied", 403, "permission_error", "PERMISSION_DENIED", "this key may not use the requested model";
    /// An admin route was called without the master key.
    AdminKeyRequired = "admin_key_required", 403, "permission_error", "PERMISSION_DENIED", "this route needs the gateway's master key";
    /// The requested model is not configured.
    ModelNotFound = "model_not_found", 404, "invalid_request_error", "NOT_FOUND", "the model does not exist on this gateway";
    /// The path matches no route.
    RouteNotFound = "route_not_found", 404, "invalid_request_error", "NOT_FOUND", "no such route";
    /// The video id is unknown, tampered with, or belongs to another key.
    VideoNotFound = "video_not_found", 404, "invalid_request_error", "NOT_FOUND", "no video with this id";
    /// The key to look up or change does not exist.
    KeyNotFound = "key_not_found", 404, "invalid_request_error", "NOT_FOUND", "no key matches";
    /// The route exists but not for this method.
    MethodNotAllowed = "method_not_allowed", 405, "invalid_request_error", "INVALID_ARGUMENT", "method not allowed on this route";
    /// The body is not valid JSON.
    InvalidJson = "invalid_json", 400, "invalid_request_error", "INVALID_ARGUMENT", "the request body is not valid JSON";
    /// A field is missing, of the wrong type, or out of range.
    InvalidRequest = "invalid_request", 400, "invalid_request_error", "INVALID_ARGUMENT", "the request is not valid";
    /// A value is valid in general but this deployment's provider cannot serve it.
    UnsupportedValue = "unsupported_value", 400, "invalid_request_error", "INVALID_ARGUMENT", "the provider cannot serve this value";
    /// The request names a Cloud Storage location (`storageUri`, `gcsUri`) or a file URI the gateway did not issue to this key: storage is the gateway's.
    StorageNotAllowed = "storage_not_allowed", 400, "invalid_request_error", "INVALID_ARGUMENT", "the gateway decides where videos are stored and reads only files it issued to this key";
    /// The body's content type is not one this route accepts.
    UnsupportedMediaType = "unsupported_media_type", 415, "invalid_request_error", "INVALID_ARGUMENT", "unsupported content type";
    /// The body is larger than the route accepts.
    PayloadTooLarge = "payload_too_large", 413, "invalid_request_error", "INVALID_ARGUMENT", "the request body is too large";
    /// The key's requests-per-minute rate is used up; retry after `Retry-After`.
    KeyRateLimitExceeded = "key_rate_limit_exceeded", 429, "rate_limit_error", "RESOURCE_EXHAUSTED", "this key's request rate limit is reached; retry later";
    /// The key already has its maximum number of requests in flight.
    ParallelRequestLimitExceeded = "parallel_request_limit_exceeded", 429, "rate_limit_error", "RESOURCE_EXHAUSTED", "this key has too many requests in flight";
    /// The key's video jobs for today are used up until the day resets.
    VideoQuotaExceeded = "video_quota_exceeded", 429, "insufficient_quota", "RESOURCE_EXHAUSTED", "this key's daily video quota is used up";
    /// The key's seconds of video for today are used up until the day resets.
    VideoSecondsQuotaExceeded = "video_seconds_quota_exceeded", 429, "insufficient_quota", "RESOURCE_EXHAUSTED", "this key's daily video-seconds quota is used up";
    /// The key's realtime sessions for today are used up until the day resets.
    RealtimeQuotaExceeded = "realtime_quota_exceeded", 429, "insufficient_quota", "RESOURCE_EXHAUSTED", "this key's daily realtime-session quota is used up";
    /// The key's spend budget for this period is used up until it resets.
    BudgetExceeded = "budget_exceeded", 429, "insufficient_quota", "RESOURCE_EXHAUSTED", "this key's budget is used up";
    /// The quota store could not be reached, and this request is metered (fail closed).
    QuotaUnavailable = "quota_unavailable", 503, "server_error", "UNAVAILABLE", "the quota store is unavailable, so metered requests are refused; retry later";
    /// A realtime token (`ek_rl_…`) that is malformed, forged, truncated, sealed under another `SEALING_KEY`, minted for another purpose, or whose key was deleted or expired: all look the same.
    InvalidRealtimeToken = "invalid_realtime_token", 401, "authentication_error", "UNAUTHENTICATED", "the realtime token is not valid";
    /// An authentic realtime token past its expiry (never later than the upstream ephemeral key's); mint a new one.
    RealtimeTokenExpired = "realtime_token_expired", 401, "authentication_error", "UNAUTHENTICATED", "the realtime token has expired";
    /// A realtime token whose one session (call or socket) has started: each token starts one session.
    RealtimeTokenUsed = "realtime_token_used", 401, "authentication_error", "UNAUTHENTICATED", "the realtime token has already started its session";
    /// A realtime call id that this gateway did not issue to this key (tampered, foreign or another key's: all look the same).
    RealtimeCallNotFound = "realtime_call_not_found", 404, "invalid_request_error", "NOT_FOUND", "no realtime call with this id";
    /// A GPT-Live session id did not open for this caller.
    LiveSessionNotFound = "live_session_not_found", 404, "invalid_request_error", "NOT_FOUND", "no live session with this id";
    /// A Gemini interaction id did not open for this caller.
    InteractionNotFound = "interaction_not_found", 404, "invalid_request_error", "NOT_FOUND", "no interaction with this id";
    /// A cross-origin browser request from an origin the key's `allowed_origins` (and the config's `cors.allowed_origins`) do not list, or a `null`/malformed `Origin`, or an origin other than the one a browser token is bound to.
    OriginNotAllowed = "origin_not_allowed", 403, "permission_error", "PERMISSION_DENIED", "this origin may not use this key";
    /// A browser token (`bt_rl_…`) that is malformed, forged, sealed under another `SEALING_KEY`, or whose parent key was deleted or has expired: all look the same.
    InvalidBrowserToken = "invalid_browser_token", 401, "authentication_error", "UNAUTHENTICATED", "the browser token is not valid";
    /// An authentic browser token past its expiry; the page should ask its server for a new one.
    BrowserTokenExpired = "browser_token_expired", 401, "authentication_error", "UNAUTHENTICATED", "the browser token has expired";
    /// A browser token on a route that needs a full key (the admin API, minting browser tokens).
    BrowserTokenNotAllowed = "browser_token_not_allowed", 403, "permission_error", "PERMISSION_DENIED", "browser tokens cannot be used on this route";
    /// A plain HTTP request to a WebSocket-only route (realtime, Live): connect with `Upgrade: websocket`.
    WebSocketRequired = "websocket_upgrade_required", 426, "invalid_request_error", "FAILED_PRECONDITION", "this route only accepts WebSocket connections";
    /// A gateway-minted Gemini ephemeral token (`auth_tokens/lt_rl_…`) that is malformed, forged, sealed under another `SEALING_KEY`, or whose key was deleted or expired: all look the same.
    InvalidLiveToken = "invalid_live_token", 401, "authentication_error", "UNAUTHENTICATED", "the ephemeral token is not valid";
    /// An authentic Gemini ephemeral token past its `expireTime`, or past its `newSessionExpireTime` for a new session.
    LiveTokenExpired = "live_token_expired", 401, "authentication_error", "UNAUTHENTICATED", "the ephemeral token has expired";
    /// A Gemini ephemeral token whose `uses` (sessions it may start) are all spent.
    LiveTokenUsedUp = "live_token_used_up", 401, "authentication_error", "UNAUTHENTICATED", "the ephemeral token has no uses left";
    /// The video job has not finished, so there is no content yet.
    VideoNotReady = "video_not_ready", 409, "invalid_request_error", "FAILED_PRECONDITION", "the video is not ready yet";
    /// The video job failed, so there is no content.
    VideoFailed = "video_failed", 409, "invalid_request_error", "FAILED_PRECONDITION", "the video job failed and has no content";
    /// A Responses API id in the path is not one this gateway issued to this key (raw upstream, tampered, foreign or another key's: all look the same).
    ResponseNotFound = "response_not_found", 404, "invalid_request_error", "NOT_FOUND", "no response with this id";
    /// `previous_response_id` is not a response id this gateway issued to this key.
    PreviousResponseNotFound = "previous_response_not_found", 400, "invalid_request_error", "INVALID_ARGUMENT", "the previous response was not found";
    /// `conversation` is not a conversation id this gateway issued to this key.
    ConversationNotFound = "conversation_not_found", 400, "invalid_request_error", "INVALID_ARGUMENT", "the conversation was not found";
    /// A reasoning/compaction input item (its id or `encrypted_content`) was not issued by this gateway to this key, or was modified.
    InvalidEncryptedContent = "invalid_encrypted_content", 400, "invalid_request_error", "INVALID_ARGUMENT", "an input item's encrypted content could not be verified";
    /// The request continues state produced by two different deployments.
    AffinityConflict = "affinity_conflict", 400, "invalid_request_error", "INVALID_ARGUMENT", "the request refers to state held by two different deployments";
    /// The deployment that holds the request's state is unavailable and the state cannot be moved.
    PinnedDeploymentUnavailable = "pinned_deployment_unavailable", 503, "server_error", "UNAVAILABLE", "the deployment holding this state is unavailable; retry later";
    /// The prompt or the output was blocked by the provider's safety system.
    ContentPolicyViolation = "content_policy_violation", 400, "invalid_request_error", "INVALID_ARGUMENT", "the request was blocked by the provider's safety system";
    /// The upstream rejected the request as invalid.
    UpstreamBadRequest = "upstream_bad_request", 400, "invalid_request_error", "INVALID_ARGUMENT", "the provider rejected the request";
    /// The provider retired or shut down the model (or its API) and no fallback could serve the request; the message names the model and, when configured, its successor.
    ModelRetired = "model_retired", 410, "invalid_request_error", "NOT_FOUND", "the model has been retired by its provider";
    /// The upstream says the model or resource does not exist.
    UpstreamNotFound = "upstream_not_found", 404, "invalid_request_error", "NOT_FOUND", "the provider does not know this resource";
    /// The upstream is rate limiting this deployment; retry later.
    UpstreamRateLimited = "rate_limit_exceeded", 429, "rate_limit_error", "RESOURCE_EXHAUSTED", "the provider is rate limiting requests; retry later";
    /// The deployment's provider quota or billing is exhausted.
    UpstreamQuotaExhausted = "insufficient_quota", 429, "insufficient_quota", "RESOURCE_EXHAUSTED", "the provider quota for this deployment is exhausted";
    /// The provider rejected the gateway's own credential.
    UpstreamAuthentication = "upstream_authentication_failed", 502, "api_error", "UNAVAILABLE", "the provider rejected the gateway's credential";
    /// The provider refused the gateway's credential permission.
    UpstreamPermissionDenied = "upstream_permission_denied", 502, "api_error", "UNAVAILABLE", "the provider denied the gateway's credential";
    /// The upstream failed (5xx).
    UpstreamUnavailable = "upstream_unavailable", 503, "server_error", "UNAVAILABLE", "the provider is unavailable; retry later";
    /// The upstream did not answer in time.
    UpstreamTimeout = "upstream_timeout", 504, "server_error", "DEADLINE_EXCEEDED", "the provider did not answer in time";
    /// The upstream could not be reached.
    UpstreamNetwork = "upstream_network_error", 502, "server_error", "UNAVAILABLE", "the provider could not be reached";
    /// The upstream answered with something the gateway cannot understand.
    BadUpstreamResponse = "bad_upstream_response", 502, "server_error", "INTERNAL", "the provider sent a response the gateway cannot read";
    /// A create was sent upstream but its outcome is unknown (no answer in time, or an answer the gateway could not use): the job may be running. Deliberately not a 5xx, so SDKs do not resend it and start a second job.
    CreateOutcomeUnknown = "create_outcome_unknown", 424, "api_error", "UNKNOWN", "the provider may have started this job, but the gateway could not confirm it";
    /// The gateway config is invalid; every request fails until it is fixed.
    ConfigInvalid = "config_invalid", 500, "server_error", "INTERNAL", "the gateway configuration is invalid";
    /// Key or job storage could not be read or written.
    StorageUnavailable = "storage_unavailable", 503, "server_error", "UNAVAILABLE", "gateway storage is unavailable; retry later";
    /// Anything else that went wrong inside the gateway.
    Internal = "internal_error", 500, "server_error", "INTERNAL", "internal gateway error";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the gateway answers a client with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable, precise message. Never contains secrets.
    pub message: String,
    /// The request field at fault, when there is one (`model`, `seconds`, …).
    pub param: Option<String>,
    /// How long the client should wait before retrying, when known.
    pub retry_after_ms: Option<u64>,
    /// The methods the route allows (the `Allow` header of a 405).
    pub allow: Option<String>,
}

impl ClientError {
    /// This error with every secret `redactor` knows (and every
    /// secret-shaped run) removed from its message and param.
    #[must_use]
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        self.message = redactor.redact(&self.message);
        self.param = self.param.map(|p| redactor.redact(&p));
        self
    }

    /// An error with `code` and a precise message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            retry_after_ms: None,
            allow: None,
        }
    }

    /// The 405 for `method` on a route that allows only `allowed`, with
    /// its `Allow` header. Unknown methods (WebDAV's `PROPFIND`, …) get it
    /// too: a route never serves one as another.
    pub fn method_not_allowed(method: &str, allowed: &[&str]) -> Self {
        let mut err = Self::new(
            ErrorCode::MethodNotAllowed,
            alloc::format!("{method} is not allowed here; use {}", allowed.join(" or ")),
        );
        err.allow = Some(allowed.join(", "));
        err
    }

    /// The `410 model_retired` for `model` (the group name the client
    /// sent), naming `successor` (a configured group) when there is one.
    pub fn model_retired(model: &str, successor: Option<&str>) -> Self {
        let advice = match successor {
            Some(next) => alloc::format!("use {next:?} instead"),
            None => String::from("no successor is configured on this gateway"),
        };
        Self::new(
            ErrorCode::ModelRetired,
            alloc::format!(
                "the model {model:?} has been retired by its provider and no fallback \
                 could serve it; {advice}"
            ),
        )
        .with_param("model")
    }

    /// An error with the code's default message.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.spec().default_message)
    }

    /// Names the request field at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.code.spec().status
    }

    /// The `Retry-After` header value in whole seconds (rounded up), if any.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_ms.map(|ms| ms.div_ceil(1000))
    }

    /// The JSON body in `dialect`.
    pub fn render(&self, dialect: Dialect) -> String {
        let spec = self.code.spec();
        let body = match dialect {
            Dialect::OpenAi => serde_json::json!({
                "error": {
                    "message": self.message,
                    "type": spec.openai_type,
                    "param": self.param,
                    "code": self.code.as_str(),
                }
            }),
            Dialect::Google => {
                let mut details: Vec<serde_json::Value> = Vec::new();
                let mut metadata = serde_json::Map::new();
                if let Some(param) = &self.param {
                    metadata.insert("param".to_string(), serde_json::Value::from(param.as_str()));
                }
                details.push(serde_json::json!({
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.code.as_str().to_ascii_uppercase(),
                    "domain": "reelay",
                    "metadata": metadata,
                }));
                if let Some(ms) = self.retry_after_ms {
                    details.push(serde_json::json!({
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": format_duration_secs(ms),
                    }));
                }
                serde_json::json!({
                    "error": {
                        "code": spec.status,
                        "message": self.message,
                        "status": spec.google_status,
                        "details": details,
                    }
                })
            }
        };
        body.to_string()
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl core::error::Error for ClientError {}

/// Google's protobuf `Duration` JSON form: `"47s"`, `"1.500s"`.
fn format_duration_secs(ms: u64) -> String {
    let (secs, rem) = (ms / 1000, ms % 1000);
    if rem == 0 {
        alloc::format!("{secs}s")
    } else {
        alloc::format!("{secs}.{rem:03}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(
                seen.insert(code.as_str()),
                "duplicate code {}",
                code.as_str()
            );
            assert!(code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!((400..600).contains(&code.spec().status));
        }
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let err = ClientError::method_not_allowed("PROPFIND", &["GET", "POST"]);
        assert_eq!(err.status(), 405);
        assert_eq!(err.code, ErrorCode::MethodNotAllowed);
        assert_eq!(err.allow.as_deref(), Some("GET, POST"));
        assert!(
            err.message.starts_with("PROPFIND is not allowed"),
            "{}",
            err.message
        );
        assert!(err.message.contains("GET or POST"), "{}", err.message);
        assert_eq!(ClientError::from_code(ErrorCode::Internal).allow, None);
    }

    #[test]
    fn renders_openai_dialect() {
        let err = ClientError::new(ErrorCode::ModelAccessDenied, "no").with_param("model");
        let v: serde_json::Value = serde_json::from_str(&err.render(Dialect::OpenAi)).unwrap();
        assert_eq!(v["error"]["code"], "key_model_access_denied");
        assert_eq!(v["error"]["type"], "permission_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["message"], "no");
        assert_eq!(err.status(), 403);
    }

    #[test]
    fn renders_google_dialect_with_retry_info() {
        let mut err = ClientError::from_code(ErrorCode::UpstreamRateLimited);
        err.retry_after_ms = Some(1500);
        let v: serde_json::Value = serde_json::from_str(&err.render(Dialect::Google)).unwrap();
        assert_eq!(v["error"]["code"], 429);
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(v["error"]["details"][0]["reason"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(v["error"]["details"][1]["retryDelay"], "1.500s");
        assert_eq!(err.retry_after_secs(), Some(2));
    }

    #[test]
    fn model_retired_names_the_model_and_its_successor() {
        let err = ClientError::model_retired("veo-3.0", Some("veo-3.1"));
        assert_eq!((err.status(), err.code.as_str()), (410, "model_retired"));
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("\"veo-3.0\""), "{}", err.message);
        assert!(err.message.contains("use \"veo-3.1\""), "{}", err.message);
        let none = ClientError::model_retired("sora-2", None);
        assert!(none.message.contains("no successor"), "{}", none.message);
        let google: serde_json::Value = serde_json::from_str(&err.render(Dialect::Google)).unwrap();
        assert_eq!(google["error"]["code"], 410);
        assert_eq!(google["error"]["status"], "NOT_FOUND");
        assert_eq!(google["error"]["details"][0]["reason"], "MODEL_RETIRED");
    }

    #[test]
    fn upstream_auth_failure_does_not_blame_caller() {
        let up = UpstreamError {
            kind: ErrorKind::Authentication,
            retry: Retry::Never,
            scope: Scope::Deployment,
            status: Some(400),
            upstream_code: Some("API_KEY_INVALID".into()),
            message: "API key not valid. Please pass a valid API key.".into(),
        };
        let client = up.to_client();
        assert_eq!(client.status(), 502);
        assert!(!client.message.contains("API key not valid"));
    }
}
