//! Google API error bodies, byte-for-byte in the shape Google sends them
//! (pretty-printed JSON, `application/json; charset=UTF-8`), and the canned
//! fault answers.
//!
//! Shape: `{"error":{"code":<http>,"message":"…","status":"<CANONICAL>","details":[…]}}`,
//! `details` omitted when empty.

use super::ordered::{arr, obj, Json};
use super::FaultAction;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Content type of every Google JSON answer.
pub(crate) const JSON: &str = "application/json; charset=UTF-8";

/// The model named in a Veo path, for quota error details.
fn model_in_path(path: &str) -> &str {
    path.strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|m| !m.is_empty())
        .unwrap_or("veo-3.1-generate-preview")
}

/// The canonical status name Google pairs with an HTTP status.
pub(crate) fn canonical(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// Pretty-printed JSON (two-space indent, trailing newline) with Google's
/// content type.
pub(crate) fn json_response(status: StatusCode, body: &Json) -> Response {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, JSON)], text).into_response()
}

/// A Google error answer.
pub(crate) fn error(code: u16, message: &str, details: Vec<Json>) -> Response {
    let mut err = obj([
        ("code", code.into()),
        ("message", message.into()),
        ("status", canonical(code).into()),
    ]);
    if !details.is_empty() {
        err.push("details", Json::Array(details));
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &obj([("error", err)]))
}

/// Google's `google.rpc.ErrorInfo` detail for the Generative Language API.
pub(crate) fn error_info(reason: &str) -> Json {
    error_info_with(reason, "generativelanguage.googleapis.com", None)
}

/// Google's `google.rpc.ErrorInfo` detail for `service`, with the RPC
/// `method` in the metadata when given (Vertex AI names it).
pub(crate) fn error_info_with(reason: &str, service: &str, method: Option<&str>) -> Json {
    let mut metadata = obj([]);
    if let Some(method) = method {
        metadata.push("method", method.into());
    }
    metadata.push("service", service.into());
    obj([
        ("@type", "type.googleapis.com/google.rpc.ErrorInfo".into()),
        ("reason", reason.into()),
        ("domain", "googleapis.com".into()),
        ("metadata", metadata),
    ])
}

/// Whether `path` is a Vertex AI path (`/v1/projects/…`, `/v1beta1/projects/…`).
fn is_vertex(path: &str) -> bool {
    path.starts_with("/v1/projects/") || path.starts_with("/v1beta1/projects/")
}

/// The Vertex model named in a path, for quota messages.
fn vertex_model_in_path(path: &str) -> &str {
    path.split_once("/models/")
        .and_then(|(_, rest)| rest.split([':', '/']).next())
        .filter(|m| !m.is_empty())
        .unwrap_or("veo-3.1-generate-001")
}

/// Vertex AI's 429 in the older Google APIs shape: `code`, `message`, an
/// `errors` list with reason `rateLimitExceeded`, then `status`.
fn vertex_rate_limit(path: &str) -> Response {
    let model = vertex_model_in_path(path);
    let base = model.trim_end_matches("-preview");
    let base = base
        .rsplit_once('-')
        .filter(|(_, v)| v.chars().all(|c| c.is_ascii_digit()))
        .map_or(base, |(b, _)| b);
    let message = format!(
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model \
         with base model: {base}. Please submit a quota increase request. \
         https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
    );
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &obj([(
            "error",
            obj([
                ("code", 429u16.into()),
                ("message", message.clone().into()),
                (
                    "errors",
                    arr([obj([
                        ("message", message.into()),
                        ("domain", "global".into()),
                        ("reason", "rateLimitExceeded".into()),
                    ])]),
                ),
                ("status", "RESOURCE_EXHAUSTED".into()),
            ]),
        )]),
    )
}

/// A Google error not yet rendered (small, so it can travel in a `Result`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GoogleError {
    pub(crate) code: u16,
    pub(crate) message: String,
    pub(crate) details: Vec<Json>,
}

impl GoogleError {
    pub(crate) fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub(crate) fn with_detail(mut self, detail: Json) -> Self {
        self.details.push(detail);
        self
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        error(self.code, &self.message, self.details)
    }
}

/// `400 INVALID_ARGUMENT` with a message and no details.
pub(crate) fn invalid_argument(message: impl Into<String>) -> GoogleError {
    GoogleError::new(400, message)
}

/// Google's answer to a wrong API key (a 400, not a 401).
pub(crate) fn api_key_invalid() -> GoogleError {
    GoogleError::new(400, "API key not valid. Please pass a valid API key.")
        .with_detail(error_info("API_KEY_INVALID"))
}

/// Google's answer when no API key was sent at all.
pub(crate) fn unregistered_caller() -> GoogleError {
    GoogleError::new(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). \
         Please use API Key or other form of API consumer identity to call this API.",
    )
}

/// `404 NOT_FOUND` "Requested entity was not found."
pub(crate) fn entity_not_found() -> Response {
    error(404, "Requested entity was not found.", Vec::new())
}

/// The HTML 404 page for `path`: Google's front end answers unknown URLs
/// with an HTML page, not JSON.
pub(crate) fn not_found_page(path: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  \
         <p><b>404.</b> <ins>That\u{2019}s an error.</ins>\n  <p>The requested URL <code>{}</code> was not found on this server.  \
         <ins>That\u{2019}s all we know.</ins>\n",
        path
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// A 429 `RESOURCE_EXHAUSTED` quota error as the Gemini API sends it.
fn quota_exhausted(path: &str, quota_id: &str, limit: u32, retry_secs: u64) -> Response {
    let model = model_in_path(path);
    let message = format!(
        "You exceeded your current quota, please check your plan and billing details. For more \
         information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. \
         To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n\
         * Quota exceeded for metric: generativelanguage.googleapis.com/generate_requests_per_model, \
         limit: {limit}, model: {model}\nPlease retry in {retry_secs}.{frac}s.",
        frac = "381204"
    );
    error(
        429,
        &message,
        vec![
            obj([
                ("@type", "type.googleapis.com/google.rpc.Help".into()),
                (
                    "links",
                    arr([obj([
                        ("description", "Learn more about Gemini API quotas".into()),
                        (
                            "url",
                            "https://ai.google.dev/gemini-api/docs/rate-limits".into(),
                        ),
                    ])]),
                ),
            ]),
            obj([
                (
                    "@type",
                    "type.googleapis.com/google.rpc.QuotaFailure".into(),
                ),
                (
                    "violations",
                    arr([obj([
                        (
                            "quotaMetric",
                            "generativelanguage.googleapis.com/generate_requests_per_model".into(),
                        ),
                        ("quotaId", quota_id.into()),
                        (
                            "quotaDimensions",
                            obj([("location", "global".into()), ("model", model.into())]),
                        ),
                        ("quotaValue", limit.to_string().into()),
                    ])]),
                ),
            ]),
            obj([
                ("@type", "type.googleapis.com/google.rpc.RetryInfo".into()),
                ("retryDelay", format!("{retry_secs}s").into()),
            ]),
        ],
    )
}

/// A Google-shaped server error for `status`.
fn server_error(status: u16, path: &str) -> Response {
    if is_vertex(path) {
        let message = match status {
            503 => "The service is currently unavailable.",
            504 => "The request timed out. Please try again.",
            _ => "Internal error encountered.",
        };
        return error(status, message, Vec::new());
    }
    let message = match status {
        500 => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        503 => "The model is overloaded. Please try again later.",
        504 => "The request timed out. Please try again.",
        _ => "Internal error encountered.",
    };
    error(status, message, Vec::new())
}

/// The answer for a fault that replaces normal handling (everything but
/// [`FaultAction::Delay`], which the caller handles).
pub(crate) fn fault_response(action: &FaultAction, path: &str) -> Response {
    if let Some(resp) = super::openai::fault_response(action, path) {
        return resp;
    }
    match action {
        FaultAction::Status {
            status,
            headers,
            body,
        } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (code, body.clone()).into_response();
            let map = resp.headers_mut();
            map.remove(header::CONTENT_TYPE);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    map.append(k, v);
                }
            }
            if !map.contains_key(header::CONTENT_TYPE) {
                let ct = if body.starts_with('{') || body.starts_with('[') {
                    JSON
                } else {
                    "text/plain; charset=utf-8"
                };
                map.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            resp
        }
        FaultAction::Malformed => {
            (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], "not json{").into_response()
        }
        FaultAction::GoogleRateLimit { retry_delay_secs } => quota_exhausted(
            path,
            "GenerateRequestsPerMinutePerProjectPerModel",
            2,
            *retry_delay_secs,
        ),
        FaultAction::GoogleDailyQuota => {
            quota_exhausted(path, "GenerateRequestsPerDayPerProjectPerModel", 10, 35)
        }
        FaultAction::ServerError { status } => server_error(*status, path),
        FaultAction::VertexRateLimit => vertex_rate_limit(path),
        // OpenAI shapes on a Google path: the nearest Google answer.
        FaultAction::OpenaiRateLimit { retry_after_secs } => quota_exhausted(
            path,
            "GenerateRequestsPerMinutePerProjectPerModel",
            2,
            *retry_after_secs,
        ),
        FaultAction::OpenaiInsufficientQuota => {
            quota_exhausted(path, "GenerateRequestsPerDayPerProjectPerModel", 10, 35)
        }
        // Handled by the caller; answering normally would need the handler.
        FaultAction::Delay { .. } | FaultAction::EchoCredential { .. } => server_error(500, path),
    }
}
