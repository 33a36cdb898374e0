//! A mock upstream that follows the real provider wire formats.
//!
//! One server, one port, every provider reelay fronts: the Gemini Developer
//! API's Veo surface (create a long-running operation, poll it, download the
//! video through a signed redirect), the OpenAI Videos API (Sora) and Azure
//! OpenAI's copy of it, Veo on Vertex AI with Google's OAuth token endpoint
//! (service-account JWT-bearer grant, verified for real) and the Cloud
//! Storage download of `storageUri` outputs. It is stateful (jobs progress
//! over polls), records every request it receives, and takes injectable
//! [`Fault`]s so tests can exercise retries, timeouts and error
//! classification.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /v1beta/models/{model}:predictLongRunning` | Gemini: validates like Google, returns `{"name":"models/{model}/operations/{id}"}` |
//! | `GET /v1beta/models/{model}/operations/{id}` | Gemini: pending until [`MockOptions::polls_until_done`] polls, then done |
//! | `GET /v1beta/files/{id}:download?alt=media` | Gemini: `302` to `{base}/_mock/blob/{id}?sig=…` |
//! | `GET /_mock/blob/{id}?sig=…` | `video/mp4`, [`MockOptions::video_bytes`] bytes in 16 KiB chunks, no key needed |
//! | `/v1/videos…` | OpenAI Videos API, `Authorization: Bearer` [`MockOptions::openai_key`] (see `openai.rs`) |
//! | `/openai/v1/videos…` | Azure OpenAI, same handlers, `api-key:` [`MockOptions::azure_key`] |
//! | `/v1/responses…`, `/openai/v1/responses…` | OpenAI Responses API, orgs bound to [`MockOptions::responses_keys`] (see `responses.rs`) |
//! | `/v1/realtime/…`, `/openai/v1/realtime/…` | OpenAI / Azure Realtime GA: `client_secrets` (ephemeral `ek_` keys), WebRTC `calls` and call control; `GET /_mock/realtime` lists issued keys and calls (see `realtime.rs`) |
//! | `GET /v1/realtime`, `GET /openai/v1/realtime` (WebSocket) | OpenAI / Azure Realtime sessions and `?call_id=` sidebands; recorded under `"sockets"` in `GET /_mock/realtime` (see `realtime.rs`) |
//! | `GET /ws/…GenerativeService.BidiGenerateContent`, `GET /ws/…LlmBidiService/BidiGenerateContent` (WebSocket) | Gemini Live (API key) and Vertex Live (bearer token, full model resource); `GET /_mock/live` lists sessions (see `live.rs`) |
//! | `GET /{v1,v1beta,v1alpha}/interactions/live` (WebSocket) | Gemini Live Interactions: `interaction.connect` / `interaction.create`, input echoed as steps; `GET /_mock/live_interactions` lists interactions and sockets (see `live_interactions.rs`) |
//! | `POST /token` | OAuth JWT-bearer grant for the [`test_service_account_json`] account |
//! | `POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning` | Vertex AI Veo, bearer token from `/token` |
//! | `POST …/models/{m}:fetchPredictOperation` | Vertex AI poll, `{"operationName":…}` |
//! | `GET /storage/v1/b/{bucket}/o/{object}?alt=media` | Cloud Storage download of Vertex `storageUri` outputs, bearer token |
//! | `POST /{v1,v1beta,v1alpha}/interactions`, `GET`/`DELETE …/interactions/{id}`, `POST …/{id}/cancel` | Gemini Omni video interactions, API key; the same under `/v1beta1/projects/{p}/locations/{l}/` for Vertex, bearer token (see `omni.rs`) |
//! | `POST /_mock/faults` | queue a [`Fault`] (JSON, same shape as the Rust type) |
//! | `GET /_mock/requests` | recorded requests as JSON (body as lossy UTF-8) |
//! | `POST /_mock/reset` | clear requests, faults, jobs, operations, characters and files (not tokens) |
//! | `GET /_mock/service-account` | the test service-account JSON (`token_uri` = `{base}/token`) |
//! | `GET /_mock/tokens` | `{"issued":N}`: access tokens issued so far |
//!
//! Google prompts steer outcomes (Gemini and Vertex): `[[rai]]` → done with
//! the output safety-filtered (no samples), `[[unsafe]]` → done with a gRPC
//! code 3 error, `[[internal]]` → done with a gRPC code 13 error (Omni:
//! the same markers in its shapes, plus `[[blocked]]` and `[[inline-on-get]]`). OpenAI and
//! Azure: `[[moderation]]` → the job ends `failed` (`moderation_blocked`),
//! `[[blocked]]` → create answers 400 `moderation_blocked`.
//!
//! Models listed in [`MockOptions::retired_models`] get the provider's
//! retirement answer instead (Gemini and Vertex `404 NOT_FOUND`, OpenAI's
//! `404 model_not_found` "has been deprecated"; see `retired.rs`).
//!
//! Requests to the control routes (`/_mock/faults`, `/_mock/requests`,
//! `/_mock/reset`, …) are neither recorded nor subject to faults. Blob downloads
//! (`/_mock/blob/…`) are recorded (so tests can check what the gateway sent to
//! the redirect target) but never faulted.

mod control;
mod gemini;
mod google;
mod live;
mod live_interactions;
mod oauth;
mod omni;
mod openai;
mod ordered;
mod realtime;
mod responses;
mod retired;
mod vertex;
mod video;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use oauth::{
    test_service_account_json, test_service_account_private_key_pem, CLOUD_PLATFORM_SCOPE,
    TEST_SA_CLIENT_ID, TEST_SA_EMAIL, TEST_SA_PRIVATE_KEY_ID, TEST_SA_PROJECT_ID,
};
pub use omni::omni_video_key;
pub use responses::{
    decode_encrypted_content, encode_encrypted_content, expected_responses_text, EncryptedContent,
    ResponsesCall,
};
pub use vertex::vertex_sample_key;
pub use video::{expected_image_bytes, expected_video_bytes, PLAYABLE_MP4};

/// Largest request body the mock accepts (Veo requests carry base64 images).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How the mock behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockOptions {
    /// The only Gemini API key the mock accepts (header `x-goog-api-key` or
    /// query `key`).
    pub api_key: String,
    /// Polls of an operation answered "pending" before it is done: the
    /// `polls_until_done`-th poll (1-based) is the first done answer; `0` makes
    /// the first poll done.
    pub polls_until_done: u32,
    /// Size of each served MP4 body in bytes (every provider); from
    /// `PLAYABLE_MP4.len() + 8` up (the default) it is a playable MP4: see
    /// [`expected_video_bytes`].
    pub video_bytes: usize,
    /// The only OpenAI API key the mock accepts (`Authorization: Bearer`) on
    /// `/v1/videos…`.
    pub openai_key: String,
    /// The only Azure OpenAI key the mock accepts (header `api-key`) on
    /// `/openai/v1/videos…`.
    pub azure_key: String,
    /// Lifetime of access tokens issued by `POST /token`: the `expires_in`
    /// answered and how long Vertex AI and Cloud Storage accept the token.
    pub token_lifetime_secs: u64,
    /// Keys the Responses API routes (`/v1/responses…`, `/openai/v1/responses…`)
    /// accept, each with the organization it belongs to, as `(key, org)`;
    /// see [`MockOptions::responses_org`] and `responses.rs`.
    pub responses_keys: Vec<(String, String)>,
    /// Sizes of the chunks a Responses SSE stream is written in, cycled; empty
    /// = pseudo-random sizes of 1..=64 bytes seeded by the response id.
    pub sse_chunk_sizes: Vec<usize>,
    /// Milliseconds to wait between SSE chunks (`0`: only yield).
    pub sse_chunk_delay_ms: u64,
    /// Upstream model ids the provider has retired: every request naming
    /// one (in its path or its body's `model`) gets the provider's
    /// retirement answer (see `retired.rs`). Default: none.
    pub retired_models: Vec<String>,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            api_key: "mock-gemini-key".to_owned(),
            polls_until_done: 2,
            video_bytes: 64 * 1024,
            openai_key: "mock-openai-key".to_owned(),
            azure_key: "mock-azure-key".to_owned(),
            token_lifetime_secs: 3599,
            responses_keys: vec![
                ("mock-openai-key".to_owned(), "org-alpha".to_owned()),
                ("mock-openai-key-2".to_owned(), "org-beta".to_owned()),
                ("mock-azure-key".to_owned(), "org-azure".to_owned()),
            ],
            sse_chunk_sizes: Vec::new(),
            sse_chunk_delay_ms: 0,
            retired_models: Vec::new(),
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query, percent-encoding as sent.
    pub path: String,
    /// Raw query string without `?`, if any.
    pub query: Option<String>,
    /// Headers in received order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A misbehaviour to inject into the next matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The fault applies to requests whose path (without the query) contains
    /// this string; `""` matches every non-`/_mock/` path.
    pub path_contains: String,
    /// How many matching requests the fault applies to (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// What to do instead of (or before) normal handling.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault for the next `times` requests whose path contains `path_contains`.
    pub fn new(path_contains: impl Into<String>, times: u32, action: FaultAction) -> Self {
        Self {
            path_contains: path_contains.into(),
            times,
            action,
        }
    }
}

/// What a [`Fault`] does. JSON form (control API): `{"type":"status",...}`,
/// `{"type":"delay","ms":500}`, `{"type":"malformed"}`,
/// `{"type":"google_rate_limit","retry_delay_secs":47}`,
/// `{"type":"google_daily_quota"}`, `{"type":"server_error","status":503}`,
/// `{"type":"vertex_rate_limit"}`, `{"type":"openai_rate_limit","retry_after_secs":2}`,
/// `{"type":"openai_insufficient_quota"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with exactly this status, headers and body. When `headers` has
    /// no `content-type`, one is added: `application/json; charset=UTF-8` if
    /// the body starts with `{` or `[`, else `text/plain; charset=utf-8`.
    Status {
        /// HTTP status code.
        status: u16,
        /// Extra response headers, e.g. `[["retry-after","3"]]`.
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// Response body.
        #[serde(default)]
        body: String,
    },
    /// Wait this long, then serve the request normally.
    Delay {
        /// Milliseconds to wait.
        ms: u64,
    },
    /// `200` with `content-type: application/json` and body `not json{`.
    Malformed,
    /// Google's per-minute quota 429: `RESOURCE_EXHAUSTED` with `Help`,
    /// `QuotaFailure` (quotaId `GenerateRequestsPerMinutePerProjectPerModel`)
    /// and `RetryInfo {"retryDelay":"{retry_delay_secs}s"}` details. No
    /// `Retry-After` header (Google sends none).
    GoogleRateLimit {
        /// Seconds put in `RetryInfo.retryDelay`.
        retry_delay_secs: u64,
    },
    /// Vertex AI's 429: `RESOURCE_EXHAUSTED` in the older Google APIs shape
    /// with `"errors":[{…,"reason":"rateLimitExceeded"}]` and a "Quota exceeded
    /// for aiplatform.googleapis.com/online_prediction_requests_per_base_model"
    /// message. No `Retry-After`. On OpenAI/Azure paths: their rate limit, 1 s.
    VertexRateLimit,
    /// OpenAI's per-minute rate limit 429: type `requests`, code
    /// `rate_limit_exceeded`, "…Please try again in {n}s.", headers
    /// `retry-after`, `retry-after-ms`, `x-ratelimit-*`. On Azure paths:
    /// Azure's `{"error":{"code":"429",…}}` with `retry-after`. On Google
    /// paths: like [`FaultAction::GoogleRateLimit`].
    OpenaiRateLimit {
        /// Seconds in the message and `retry-after`.
        retry_after_secs: u64,
    },
    /// OpenAI's billing 429: type and code `insufficient_quota` (not
    /// retryable), no `retry-after`. On Google paths: like
    /// [`FaultAction::GoogleDailyQuota`].
    OpenaiInsufficientQuota,
    /// An error answer (`status`) whose message repeats the credential the
    /// request carried (`api-key`, `Authorization: Bearer`, `x-goog-api-key`
    /// or `?key=`), in the path's provider's shape — as an upstream that
    /// echoes what it was sent would answer (Azure has).
    EchoCredential {
        /// HTTP status code (a 400 keeps the message in the client's error).
        status: u16,
    },
    /// Google's per-day quota 429: like [`FaultAction::GoogleRateLimit`] but
    /// quotaId `GenerateRequestsPerDayPerProjectPerModel`. Like the real API it
    /// still carries a short `RetryInfo` (`"35s"`): tell daily from per-minute
    /// quota by the quotaId, not by the presence of `RetryInfo`.
    GoogleDailyQuota,
    /// A Google-shaped server error body for `status` (500 `INTERNAL`,
    /// 503 `UNAVAILABLE` "The model is overloaded…", 504 `DEADLINE_EXCEEDED`);
    /// on OpenAI/Azure paths OpenAI's `{"error":{…,"type":"server_error"}}`.
    /// With Google and OpenAI paths, the `GoogleRateLimit`/`GoogleDailyQuota`
    /// variants likewise answer in the path's provider's shape.
    ServerError {
        /// HTTP status code (usually 500 or 503).
        status: u16,
    },
}

/// A running mock upstream. Stops on [`MockUpstream::shutdown`] or when dropped.
#[derive(Debug)]
pub struct MockUpstream {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Binds `127.0.0.1` on a free port and serves on the current tokio runtime.
    pub async fn start(opts: MockOptions) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts).await
    }

    /// Binds `addr` (port `0` picks a free port) and serves on the current
    /// tokio runtime.
    pub async fn start_on(addr: SocketAddr, opts: MockOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            salt: u64::from(addr.port()),
            opts,
            state: Mutex::new(MockState::default()),
        });
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            // An accept loop error has nowhere useful to go; tests notice
            // the mock is gone.
            let _ = serve.await;
        });
        Ok(Self {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every recorded request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Queue a fault; faults are checked in the order they were pushed.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Forget requests, faults, jobs, operations, characters and files (like
    /// `POST /_mock/reset`). Issued access tokens stay valid.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }

    /// Access tokens issued by `POST /token` so far (never reset).
    pub fn tokens_issued(&self) -> u64 {
        self.shared.lock().tokens_issued
    }

    /// Expires every issued access token now: Vertex AI and Cloud Storage
    /// answer 401 to them until a new one is fetched.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.values_mut().for_each(|e| *e = 0);
    }

    /// `{base}/token`: the token endpoint (`token_uri`, JWT `aud`).
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.shared.base_url)
    }

    /// The test service-account JSON pointing at this mock's token endpoint
    /// ([`test_service_account_json`] of [`MockUpstream::base_url`]).
    pub fn service_account_json(&self) -> String {
        test_service_account_json(&self.shared.base_url)
    }

    /// Stops serving: stops accepting, lets in-flight requests finish for up
    /// to two seconds, then aborts what is left.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// State shared by every handler.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) opts: MockOptions,
    pub(crate) base_url: String,
    /// Mixed into generated ids so two mocks do not hand out the same ids.
    pub(crate) salt: u64,
    state: Mutex<MockState>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, MockState> {
        // A handler that panicked mid-update leaves state that is still fine
        // for a mock; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything mutable.
#[derive(Debug, Default)]
pub(crate) struct MockState {
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: VecDeque<Fault>,
    /// Operations by operation id.
    pub(crate) ops: HashMap<String, gemini::Operation>,
    /// File ids that can be downloaded.
    pub(crate) files: HashSet<String>,
    /// OpenAI and Azure video jobs, in creation order.
    pub(crate) videos: Vec<openai::VideoJob>,
    /// OpenAI and Azure characters, in creation order.
    pub(crate) characters: Vec<openai::Character>,
    /// Gemini Omni interactions (Gemini API and Vertex) by id.
    pub(crate) omni: HashMap<String, omni::OmniInteraction>,
    /// Vertex operations by full operation name.
    pub(crate) vertex_ops: HashMap<String, vertex::VertexOp>,
    /// Cloud Storage objects by `(bucket, object name)`.
    pub(crate) gcs: HashMap<(String, String), vertex::GcsObject>,
    /// Responses API responses, items and calls.
    pub(crate) responses: responses::ResponsesState,
    /// Realtime ephemeral keys, WebRTC calls and sockets.
    pub(crate) realtime: realtime::RealtimeState,
    /// Gemini Live and Vertex Live sessions.
    pub(crate) live: live::LiveState,
    pub(crate) live_interactions: live_interactions::LiveInteractionsState,
    /// Issued access tokens → unix expiry; survives resets.
    pub(crate) tokens: HashMap<String, u64>,
    /// Access tokens issued so far; survives resets.
    pub(crate) tokens_issued: u64,
    /// Ever-increasing; survives resets so ids stay unique.
    pub(crate) counter: u64,
}

impl MockState {
    fn reset(&mut self) {
        self.requests.clear();
        self.faults.clear();
        self.ops.clear();
        self.files.clear();
        self.videos.clear();
        self.characters.clear();
        self.vertex_ops.clear();
        self.omni.clear();
        self.gcs.clear();
        self.responses = responses::ResponsesState::default();
        self.realtime.clear();
        self.live.clear();
        self.live_interactions.clear();
    }

    /// Takes one use of the first fault matching `path`.
    fn take_fault(&mut self, path: &str) -> Option<FaultAction> {
        let idx = self
            .faults
            .iter()
            .position(|f| f.times > 0 && path.contains(f.path_contains.as_str()))?;
        let fault = self.faults.get_mut(idx)?;
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(idx);
        }
        Some(action)
    }
}

/// [`FaultAction::EchoCredential`]: an error naming the credential `req` carried.
fn echo_credential(req: &Request, path: &str, status: u16) -> Response {
    let headers = req.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let query_key = req.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v)
    });
    let credential = header("api-key")
        .or_else(|| header("x-goog-api-key"))
        .or_else(|| header("authorization").map(|v| v.trim_start_matches("Bearer ").to_owned()))
        .or(query_key)
        .unwrap_or_default();
    let body = if path.starts_with("/openai/") {
        serde_json::json!({"error": {"code": "BadRequest",
            "message": format!("The api-key {credential} is not valid for this resource.")}})
    } else if path.starts_with("/v1/") && !path.starts_with("/v1/projects/") {
        serde_json::json!({"error": {"message": format!("Invalid credential provided: {credential}."),
            "type": "invalid_request_error", "param": null, "code": null}})
    } else {
        serde_json::json!({"error": {"code": status, "status": "INVALID_ARGUMENT",
            "message": format!("API key {credential} is not valid for this request.")}})
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Control routes: not recorded, never faulted.
fn is_control(path: &str) -> bool {
    path.starts_with("/_mock/") && !path.starts_with("/_mock/blob/")
}

/// Seconds since the Unix epoch by the system clock (the mock is native
/// test infrastructure, never part of the wasm gateway).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unknown URLs: OpenAI's JSON 404 on OpenAI/Azure paths, Google's HTML page
/// elsewhere.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if openai::is_openai_path(uri.path()) || responses::is_responses_path(uri.path()) {
        openai::invalid_url(method.as_str(), uri.path())
    } else {
        google::not_found_page(uri.path())
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(gemini::routes())
        .merge(openai::routes())
        .merge(responses::routes(shared.clone()))
        .merge(realtime::routes())
        .merge(live::routes())
        .merge(live_interactions::routes())
        .merge(vertex::routes())
        .merge(omni::routes())
        .merge(oauth::routes())
        .merge(control::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            record_and_fault,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Records the request, then applies the first matching fault, if any.
async fn record_and_fault(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let path = parts.uri.path().to_owned();
    if !is_control(&path) {
        let recorded = RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: bytes.to_vec(),
        };
        shared.lock().requests.push(recorded);
    }
    let retired = retired::answer(&shared.opts.retired_models, &path, &bytes);
    let req = Request::from_parts(parts, Body::from(bytes));
    if path.starts_with("/_mock/") {
        return next.run(req).await;
    }
    let action = shared.lock().take_fault(&path);
    match action {
        None => match retired {
            Some(answer) => answer,
            None => next.run(req).await,
        },
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(FaultAction::EchoCredential { status }) => echo_credential(&req, &path, status),
        Some(action) => responses::fault_response(&action, &path)
            .unwrap_or_else(|| google::fault_response(&action, &path)),
    }
}
