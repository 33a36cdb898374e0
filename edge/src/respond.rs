// The one place a core `ClientError` becomes an HTTP response, plus small
// JSON response helpers.

use reelay_core::errors::{ClientError, Dialect, ErrorCode};
use worker::{Headers, Response};

/// The error response in the caller's dialect, with `Retry-After` when the
/// error says when to retry and `Allow` on a 405.
pub(crate) fn error(err: &ClientError, dialect: Dialect) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    if let Some(secs) = err.retry_after_secs() {
        let _ = headers.set("retry-after", &secs.to_string());
    }
    if let Some(methods) = &err.allow {
        let _ = headers.set("allow", methods);
    }
    Response::builder()
        .with_status(err.status())
        .with_headers(headers)
        .fixed(err.render(dialect).into_bytes())
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(value.to_string().into_bytes())
}

/// Maps a `worker::Error` (a runtime failure, not a client mistake) to an
/// internal error, logging the detail instead of returning it.
pub(crate) trait OrInternal<T> {
    fn or_internal(self, what: &str) -> Result<T, ClientError>;
    fn or_storage(self, what: &str) -> Result<T, ClientError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self, what: &str) -> Result<T, ClientError> {
        self.map_err(|e| {
            worker::console_error!("internal error while {what}: {e}");
            ClientError::new(
                ErrorCode::Internal,
                format!("internal gateway error while {what}"),
            )
        })
    }

    fn or_storage(self, what: &str) -> Result<T, ClientError> {
        self.map_err(|e| {
            worker::console_error!("storage error while {what}: {e}");
            ClientError::new(
                ErrorCode::StorageUnavailable,
                format!("gateway storage is unavailable while {what}; retry later"),
            )
        })
    }
}
