// One structured JSON log line per request. Only non-secret fields: the path
// without its query (a `?key=` would otherwise land in logs), the key's
// public token prefix, never a key, credential or body.

use worker::Request;

#[derive(Default)]
pub(crate) struct LogLine {
    start_ms: u64,
    request_id: String,
    method: String,
    path: String,
    pub(crate) key_token: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) deployment: Option<String>,
    pub(crate) upstream_status: Option<u16>,
    pub(crate) upstream_error: Option<&'static str>,
    pub(crate) error_code: Option<&'static str>,
    /// The quota meter that refused the request, or `unavailable`.
    pub(crate) quota: Option<&'static str>,
    /// Round trip of the admission call to the quota Durable Object.
    pub(crate) quota_ms: Option<u64>,
}

impl LogLine {
    pub(crate) fn start(req: &Request, request_id: &str, now_ms: u64) -> Self {
        Self {
            start_ms: now_ms,
            request_id: request_id.to_owned(),
            method: req.inner().method(),
            path: req.path(),
            ..Self::default()
        }
    }

    pub(crate) fn emit(&self, status: u16, end_ms: u64) {
        let line = serde_json::json!({
            "ts": reelay_core::time::rfc3339(self.start_ms),
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "status": status,
            "duration_ms": end_ms.saturating_sub(self.start_ms),
            "key": self.key_token,
            "model": self.model,
            "deployment": self.deployment,
            "upstream_status": self.upstream_status,
            "upstream_error": self.upstream_error,
            "error_code": self.error_code,
            "quota": self.quota,
            "quota_ms": self.quota_ms,
        });
        worker::console_log!("{line}");
    }
}
