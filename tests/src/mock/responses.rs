//! The OpenAI Responses API (`api.openai.com/v1/responses`) and Azure
//! OpenAI's copy of it (`{resource}.openai.azure.com/openai/v1/responses`),
//! with **organizations bound to API keys**, so tests can reproduce what
//! happens when a follow-up lands on a deployment with another key (the seed
//! incident: "Encrypted content organization_id did not match the target
//! organization").
//!
//! | Wire | Mock |
//! |---|---|
//! | OpenAI: `Authorization: Bearer K` | `K` must be listed in [`MockOptions::responses_keys`] (or be [`MockOptions::openai_key`] / [`MockOptions::azure_key`], see [`MockOptions::responses_org`]); none → 401 "You didn't provide an API key…", unknown → 401 `invalid_api_key` |
//! | Azure: `api-key: K` | same key list; else Azure's 401 `{"error":{"code":"401","message":"Access denied …"}}` |
//! | `POST /responses` | JSON; `model` string (required), `input` string or array (required); `store` (default `true`), `stream`, `background` (needs `store`), `include`, `previous_response_id`, `instructions`, `reasoning`, `metadata`, `stream_options.include_obfuscation`; other known parameters accepted and ignored, unknown ones → 400 `unknown_parameter` |
//! | `GET /responses/{id}` | this org's stored response; a `background` one advances `queued` → `in_progress` → `completed` over [`MockOptions::polls_until_done`] polls |
//! | `DELETE /responses/{id}` | `{"id","object":"response","deleted":true}`; forgets its items too; then 404 |
//! | `GET /responses/{id}/input_items?limit=&order=&after=` | `{"object":"list","data","first_id","last_id","has_more"}`, `order` `desc` (default) or `asc`, `limit` 1..=100 (default 20) |
//! | `POST /responses/{id}/cancel` | `background` and not finished → `cancelled`; finished background → unchanged; not background → 400 "Cannot cancel a synchronous response." |
//! | `GET /_mock/responses/calls` | control route: every Responses call that reached a handler, `[{method,path,key,org,status,response_id}]` |
//!
//! What the model "says" is deterministic: the output text is
//! [`expected_responses_text`] of the text of the last `user` message (the
//! whole `input` when it is a string), e.g. `echo: hi (café 🎬)`. Every
//! response has a reasoning item (`rs_…`, with a one-part summary) and a
//! message item (`msg_…`). The reasoning item carries `encrypted_content`
//! only when `include` has `reasoning.encrypted_content`, like the real API.
//!
//! Organization binding:
//! - `encrypted_content` is a Fernet-shaped token (`gAAAAA…`, URL-safe
//!   base64) sealing the producing org and item id with a keyed tag (see
//!   [`encode_encrypted_content`], [`decode_encrypted_content`]). A replayed
//!   reasoning item whose content was sealed for another org → 400
//!   `invalid_encrypted_content` ("…organization_id did not match the target
//!   organization."); content that does not decode at all → the same code,
//!   reason "Encrypted content could not be decrypted.".
//! - Stored responses and items (`store` not `false`) belong to the org:
//!   `previous_response_id` of another org → 400 `previous_response_not_found`;
//!   a reasoning item without `encrypted_content`, or an `item_reference`,
//!   naming an item this org has not stored → 404 "Item with id '…' not
//!   found. Items are not persisted when `store` is set to false. …".
//!
//! Streaming (`"stream": true`) answers `text/event-stream` with the real
//! event sequence (`response.created` … `response.completed`, each
//! `event: T\ndata: {json}\n\n` with `sequence_number`), written in chunks cut
//! at arbitrary byte offsets (mid-line, mid-JSON, mid-UTF-8):
//! [`MockOptions::sse_chunk_sizes`] (cycled) or, when empty, pseudo-random
//! sizes of 1..=64 bytes seeded by the response id, with
//! [`MockOptions::sse_chunk_delay_ms`] between chunks.
//!
//! Faults apply like on every other route; on `/v1/responses…` paths the
//! OpenAI-shaped fault answers are built here ([`fault_response`]), on
//! `/openai/v1/responses…` Azure's. Answers carry `x-request-id` (Azure also
//! `apim-request-id`), OpenAI answers `openai-organization: <org>`, and both
//! `x-mock-org: <org>` when the key is known.
//!
//! [`MockOptions::responses_keys`]: super::MockOptions::responses_keys
//! [`MockOptions::openai_key`]: super::MockOptions::openai_key
//! [`MockOptions::azure_key`]: super::MockOptions::azure_key
//! [`MockOptions::responses_org`]: super::MockOptions::responses_org
//! [`MockOptions::polls_until_done`]: super::MockOptions::polls_until_done
//! [`MockOptions::sse_chunk_sizes`]: super::MockOptions::sse_chunk_sizes
//! [`MockOptions::sse_chunk_delay_ms`]: super::MockOptions::sse_chunk_delay_ms

// Handlers return `Result<_, Response>` (an answer either way) so `?` reads
// naturally; the size of the `Err` side does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

use super::openai::{json, ApiError};
use super::ordered::{arr, obj, Json};
use super::video::{hash_str, hex, mix, uuid};
use super::{unix_now, FaultAction, MockOptions, MockUpstream, RecordedRequest, Shared};

/// Organization of [`MockOptions::openai_key`](super::MockOptions) when that
/// key is not listed in `responses_keys`.
const FALLBACK_OPENAI_ORG: &str = "org-alpha";
/// Organization of [`MockOptions::azure_key`](super::MockOptions) when that
/// key is not listed in `responses_keys`.
const FALLBACK_AZURE_ORG: &str = "org-azure";

/// Largest pseudo-random SSE chunk.
const MAX_RANDOM_CHUNK: u64 = 64;

/// Key of the mock's `encrypted_content` seal (not a secret: tests may forge
/// content with [`encode_encrypted_content`]).
const SEAL: u64 = 0x5EA1_0F0E_C0DE_0BAD;
/// Fernet's version byte: why real encrypted content starts with `gAAAAA`.
const SEAL_VERSION: u8 = 0x80;
const SEAL_TAG_LEN: usize = 32;
const SEAL_HEAD_LEN: usize = 1 + 8 + 16;

const AZURE_401: &str = "Access denied due to invalid subscription key or wrong API endpoint. \
                         Make sure to provide a valid key for an active subscription and use a \
                         correct regional API endpoint for your resource.";

const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely \
                        means you aren't using your HTTP library correctly. The OpenAI API \
                        expects a JSON payload, but what was sent was not valid JSON. If you \
                        have trouble figuring out how to fix this, please contact us through our \
                        help center at help.openai.com.)";

/// Parameters of `POST /responses` the mock accepts (most are ignored).
const KNOWN_PARAMS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "conversation",
    "store",
    "stream",
    "stream_options",
    "background",
    "include",
    "reasoning",
    "text",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "max_tool_calls",
    "temperature",
    "top_p",
    "top_logprobs",
    "truncation",
    "metadata",
    "user",
    "safety_identifier",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "context_management",
];

const INCLUDABLE: &[&str] = &[
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
    "file_search_call.results",
    "message.input_image.image_url",
    "message.output_text.logprobs",
    "reasoning.encrypted_content",
    "web_search_call.action.sources",
];

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

/// Which service a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    /// `api.openai.com`, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI, `api-key`.
    Azure,
}

// ------------------------------------------------------------------ public

impl MockOptions {
    /// The organization the Responses API routes bind `key` to: its entry in
    /// [`MockOptions::responses_keys`], else `org-alpha` for
    /// [`MockOptions::openai_key`] and `org-azure` for
    /// [`MockOptions::azure_key`] (so the binary's `--openai-key` and
    /// `--azure-key` also work on `/v1/responses`), else `None` (401).
    pub fn responses_org(&self, key: &str) -> Option<&str> {
        if let Some((_, org)) = self.responses_keys.iter().find(|(k, _)| k == key) {
            return Some(org.as_str());
        }
        if key == self.openai_key {
            Some(FALLBACK_OPENAI_ORG)
        } else if key == self.azure_key {
            Some(FALLBACK_AZURE_ORG)
        } else {
            None
        }
    }
}

impl RecordedRequest {
    /// The API key the request carried: `Authorization: Bearer K`, else
    /// `api-key: K`. Map it to an org with [`MockOptions::responses_org`].
    pub fn api_key(&self) -> Option<&str> {
        if let Some(v) = self.header("authorization") {
            let key = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or("")
                .trim();
            if !key.is_empty() {
                return Some(key);
            }
        }
        self.header("api-key")
    }
}

impl MockUpstream {
    /// Every Responses API call that reached a handler (authenticated or
    /// not; faulted requests never do), in arrival order. Cleared by
    /// [`MockUpstream::reset`]. Also `GET /_mock/responses/calls`.
    pub fn responses_calls(&self) -> Vec<ResponsesCall> {
        self.shared.lock().responses.calls.clone()
    }
}

/// One Responses API call as the mock served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponsesCall {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The key sent (`Authorization: Bearer` or `api-key`), if any.
    pub key: Option<String>,
    /// The org of that key ([`MockOptions::responses_org`]), if known.
    pub org: Option<String>,
    /// HTTP status of the answer (`200` for a stream).
    pub status: u16,
    /// The `resp_…` id created or addressed, when the call succeeded.
    pub response_id: Option<String>,
}

/// What a mock `encrypted_content` token seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedContent {
    /// The organization whose key produced it, e.g. `org-alpha`.
    pub org: String,
    /// The reasoning item it was produced for (`rs_…`).
    pub item_id: String,
    /// Unix seconds at production (the Fernet timestamp).
    pub created_at: u64,
}

/// The output text the mock answers for a last user message `user_text`:
/// `echo: {user_text} (café 🎬)` (non-ASCII on purpose, so streams split
/// inside UTF-8 sequences).
pub fn expected_responses_text(user_text: &str) -> String {
    format!("echo: {user_text} (café 🎬)")
}

/// A mock `encrypted_content` for reasoning item `item_id` produced under
/// `org` at `created_at`: Fernet-shaped (version byte `0x80`, 8-byte
/// big-endian timestamp, 16-byte IV, ciphertext, 32-byte tag), URL-safe
/// base64 with padding, so it starts with `gAAAAA` like the real thing. The
/// mock accepts it for `org` only.
pub fn encode_encrypted_content(org: &str, item_id: &str, created_at: u64) -> String {
    let iv_seed = mix(hash_str(item_id) ^ SEAL ^ created_at);
    let plain = serde_json::json!({
        "organization_id": org,
        "item_id": item_id,
        "padding": hex(iv_seed, 256),
    });
    let plain = serde_json::to_vec(&plain).unwrap_or_default();
    let mut out = Vec::with_capacity(SEAL_HEAD_LEN + plain.len() + SEAL_TAG_LEN);
    out.push(SEAL_VERSION);
    out.extend_from_slice(&created_at.to_be_bytes());
    let iv = [mix(iv_seed), mix(iv_seed ^ SEAL)];
    out.extend_from_slice(&iv[0].to_be_bytes());
    out.extend_from_slice(&iv[1].to_be_bytes());
    out.extend(xor_keystream(&plain, iv));
    let tag = seal_tag(&out);
    out.extend_from_slice(&tag);
    URL_SAFE.encode(out)
}

/// Opens a mock `encrypted_content` token: `None` unless it is exactly what
/// [`encode_encrypted_content`] produces (any altered byte breaks the tag).
/// Gateway tests use it to tell which org (deployment key) produced a given
/// `encrypted_content`.
pub fn decode_encrypted_content(token: &str) -> Option<EncryptedContent> {
    let raw = URL_SAFE.decode(token.as_bytes()).ok()?;
    if raw.len() < SEAL_HEAD_LEN + SEAL_TAG_LEN || raw.first() != Some(&SEAL_VERSION) {
        return None;
    }
    let (body, tag) = raw.split_at(raw.len() - SEAL_TAG_LEN);
    if seal_tag(body).as_slice() != tag {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = body.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_be_bytes(bytes))
    };
    let created_at = word(1)?;
    let iv = [word(9)?, word(17)?];
    let plain = xor_keystream(body.get(SEAL_HEAD_LEN..)?, iv);
    let v: Value = serde_json::from_slice(&plain).ok()?;
    Some(EncryptedContent {
        org: v.get("organization_id")?.as_str()?.to_owned(),
        item_id: v.get("item_id")?.as_str()?.to_owned(),
        created_at,
    })
}

fn xor_keystream(data: &[u8], iv: [u64; 2]) -> Vec<u8> {
    data.chunks(8)
        .enumerate()
        .flat_map(|(i, chunk)| {
            let k = mix(SEAL ^ iv[0] ^ iv[1].rotate_left(17) ^ (i as u64)).to_be_bytes();
            chunk.iter().zip(k).map(|(b, k)| b ^ k).collect::<Vec<u8>>()
        })
        .collect()
}

/// A keyed 256-bit tag (four FNV-1a lanes, each mixed): not cryptography,
/// but any change to the token changes it.
fn seal_tag(data: &[u8]) -> [u8; SEAL_TAG_LEN] {
    let mut out = [0u8; SEAL_TAG_LEN];
    for (lane, slot) in out.chunks_mut(8).enumerate() {
        let mut h = mix(SEAL ^ (lane as u64 + 1));
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let word = mix(h ^ data.len() as u64).to_be_bytes();
        slot.copy_from_slice(&word);
    }
    out
}

// ------------------------------------------------------------------ state

/// Where a stored response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    InProgress,
    Completed,
    Cancelled,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A response as the mock keeps it.
#[derive(Debug, Clone)]
struct StoredResponse {
    org: String,
    id: String,
    created_at: u64,
    completed_at: Option<u64>,
    phase: Phase,
    background: bool,
    polls: u32,
    store: bool,
    model: String,
    instructions: Option<String>,
    previous_response_id: Option<String>,
    reasoning_effort: String,
    reasoning_summary: Option<String>,
    metadata: Value,
    /// Input items with ids, in request order.
    input: Vec<Value>,
    /// Output items (shown once `Completed`).
    output: Vec<Json>,
    usage: Json,
}

/// Responses API state (part of the mock's state; cleared on reset).
#[derive(Debug, Default)]
pub(crate) struct ResponsesState {
    /// Stored responses of every org, in creation order.
    responses: Vec<StoredResponse>,
    /// Stored items by `(org, item id)`.
    items: HashMap<(String, String), Value>,
    /// Calls that reached a handler.
    calls: Vec<ResponsesCall>,
}

impl ResponsesState {
    fn find(&self, org: &str, id: &str) -> Option<&StoredResponse> {
        self.responses.iter().find(|r| r.org == org && r.id == id)
    }

    fn find_mut(&mut self, org: &str, id: &str) -> Option<&mut StoredResponse> {
        self.responses
            .iter_mut()
            .find(|r| r.org == org && r.id == id)
    }

    fn has_item(&self, org: &str, id: &str) -> bool {
        self.items.contains_key(&(org.to_owned(), id.to_owned()))
    }
}

/// The `resp_…` id a handler answered about, for the calls log.
#[derive(Debug, Clone)]
struct ResponseId(String);

// ------------------------------------------------------------------ routes

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/responses/calls", get(list_calls))
        .merge(scoped("/v1/responses", Provider::OpenAi, shared.clone()))
        .merge(scoped("/openai/v1/responses", Provider::Azure, shared))
}

fn scoped(prefix: &str, provider: Provider, shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(prefix, post(create))
        .route(&format!("{prefix}/{{id}}"), get(retrieve).delete(delete))
        .route(&format!("{prefix}/{{id}}/input_items"), get(input_items))
        .route(&format!("{prefix}/{{id}}/cancel"), post(cancel))
        .layer(middleware::from_fn_with_state(shared, stamp))
        .layer(Extension(provider))
}

/// Whether `path` is on the Responses API surface (OpenAI or Azure).
pub(crate) fn is_responses_path(path: &str) -> bool {
    provider_of(path).is_some()
}

fn provider_of(path: &str) -> Option<Provider> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/v1/responses") {
        Some(Provider::OpenAi)
    } else if under("/openai/v1/responses") {
        Some(Provider::Azure)
    } else {
        None
    }
}

async fn list_calls(State(shared): State<Arc<Shared>>) -> Response {
    let calls = shared.lock().responses.calls.clone();
    let text = serde_json::to_string(&calls).unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// Adds the headers the provider sends with every answer.
fn add_headers(provider: Provider, org: Option<&str>, resp: &mut Response) {
    let seq = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    let seed = mix(seq ^ 0x5EED_0000_2E5F);
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    match provider {
        Provider::OpenAi => {
            put("x-request-id", format!("req_{}", hex(seed, 32)));
            put("openai-version", "2020-10-01".to_owned());
            put("openai-processing-ms", (seed % 900 + 100).to_string());
            if let Some(org) = org {
                put("openai-organization", org.to_owned());
            }
        }
        Provider::Azure => {
            let id = uuid(seed);
            put("x-request-id", id.clone());
            put("apim-request-id", id);
        }
    }
    if let Some(org) = org {
        put("x-mock-org", org.to_owned());
    }
}

/// The key a request carries for `provider`.
fn request_key(provider: Provider, headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let key = match provider {
        Provider::OpenAi => {
            let auth = value("authorization")?;
            auth.strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .unwrap_or("")
                .trim()
                .to_owned()
        }
        Provider::Azure => value("api-key")?,
    };
    (!key.is_empty()).then_some(key)
}

/// Stamps provider headers and logs the call.
async fn stamp(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let provider = req
        .extensions()
        .get::<Provider>()
        .copied()
        .unwrap_or(Provider::OpenAi);
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let key = request_key(provider, req.headers());
    let org = key
        .as_deref()
        .and_then(|k| shared.opts.responses_org(k))
        .map(str::to_owned);
    let mut resp = next.run(req).await;
    add_headers(provider, org.as_deref(), &mut resp);
    let call = ResponsesCall {
        method,
        path,
        key,
        org,
        status: resp.status().as_u16(),
        response_id: resp.extensions().get::<ResponseId>().map(|r| r.0.clone()),
    };
    shared.lock().responses.calls.push(call);
    resp
}

// ------------------------------------------------------------------ errors
// OpenAI error answers: `super::openai::ApiError`.

/// `200` with `body`, tagged with the response id for the calls log.
fn ok_with_id(body: &Json, id: &str) -> Response {
    let mut resp = json(StatusCode::OK, body);
    resp.extensions_mut().insert(ResponseId(id.to_owned()));
    resp
}

fn num(n: u64) -> Json {
    Json::Plain(Value::from(n))
}

fn null() -> Json {
    Json::Plain(Value::Null)
}

fn opt_text(v: Option<&str>) -> Json {
    v.map_or_else(null, Json::from)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_type(param: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::new(
        400,
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            kind_of(got)
        ),
    )
    .param(param)
    .code("invalid_type")
}

fn missing(param: &str) -> ApiError {
    ApiError::new(400, format!("Missing required parameter: '{param}'."))
        .param(param)
        .code("missing_required_parameter")
}

fn invalid_value(param: &str, got: &str, allowed: &[&str]) -> ApiError {
    let list: Vec<String> = allowed.iter().map(|s| format!("'{s}'")).collect();
    ApiError::new(
        400,
        format!(
            "Invalid value: '{got}'. Supported values are: {}.",
            list.join(", ")
        ),
    )
    .param(param)
    .code("invalid_value")
}

fn response_not_found(id: &str) -> ApiError {
    ApiError::new(404, format!("Response with id '{id}' not found."))
}

fn item_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        format!(
            "Item with id '{id}' not found. Items are not persisted when `store` is set to \
             false. Try again with `store` set to true, or remove this item from your input."
        ),
    )
    .param("input")
}

fn encrypted_content_error(item_id: &str, reason: &str) -> ApiError {
    ApiError::new(
        400,
        format!("The encrypted content for item {item_id} could not be verified. Reason: {reason}"),
    )
    .code("invalid_encrypted_content")
}

fn bad_id_prefix(param: &str, id: &str, prefix: &str) -> ApiError {
    ApiError::new(
        400,
        format!("Invalid '{param}': '{id}'. Expected an ID that begins with '{prefix}'."),
    )
    .param(param)
    .code("invalid_value")
}

/// `sk-abc***…wxyz`: how OpenAI echoes a wrong key.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The org of the caller, or the provider's 401.
fn authenticate(
    shared: &Shared,
    provider: Provider,
    headers: &HeaderMap,
) -> Result<String, Response> {
    let key = request_key(provider, headers);
    if let Some(org) = key.as_deref().and_then(|k| shared.opts.responses_org(k)) {
        return Ok(org.to_owned());
    }
    match (provider, key) {
        (Provider::OpenAi, None) => Err(ApiError::new(
            401,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as \
             the password field (with blank username) if you're accessing the API from your \
             browser and are prompted for a username and password. You can obtain an API key \
             from https://platform.openai.com/account/api-keys.",
        )
        .into()),
        (Provider::OpenAi, Some(key)) => Err(ApiError::new(
            401,
            format!(
                "Incorrect API key provided: {}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                mask(&key)
            ),
        )
        .code("invalid_api_key")
        .into()),
        (Provider::Azure, _) => Err(json(
            StatusCode::UNAUTHORIZED,
            &obj([(
                "error",
                obj([("code", "401".into()), ("message", AZURE_401.into())]),
            )]),
        )),
    }
}

// ------------------------------------------------------------------ create

/// A validated `POST /responses` body.
#[derive(Debug)]
struct CreateRequest {
    model: String,
    input: Vec<Value>,
    instructions: Option<String>,
    previous_response_id: Option<String>,
    store: bool,
    stream: bool,
    background: bool,
    include_encrypted: bool,
    obfuscation: bool,
    reasoning_effort: String,
    reasoning_summary: Option<String>,
    metadata: Value,
}

fn opt_bool(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid_type(name, "a boolean", v)),
    }
}

fn opt_string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid_type(name, "a string", v)),
    }
}

fn parse_create(body: &[u8]) -> Result<CreateRequest, ApiError> {
    let map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(
                ApiError::new(400, "Invalid type for root: expected an object.")
                    .code("invalid_type"),
            )
        }
        Err(_) => return Err(ApiError::new(400, BAD_JSON)),
    };
    if let Some(k) = map.keys().find(|k| !KNOWN_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::new(400, format!("Unknown parameter: '{k}'."))
            .param(k)
            .code("unknown_parameter"));
    }
    let model = opt_string(&map, "model")?.ok_or_else(|| missing("model"))?;
    let input = match map.get("input") {
        None | Some(Value::Null) => return Err(missing("input")),
        Some(Value::String(s)) => vec![serde_json::json!({"role": "user", "content": s})],
        Some(Value::Array(items)) => items.clone(),
        Some(v) => return Err(invalid_type("input", "a string or an array", v)),
    };
    let store = opt_bool(&map, "store")?.unwrap_or(true);
    let background = opt_bool(&map, "background")?.unwrap_or(false);
    if background && !store {
        return Err(ApiError::new(
            400,
            "Background responses require `store` to be true. Set `store` to true or remove \
             `background`.",
        )
        .param("background"));
    }
    let include = match map.get("include") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(v) => return Err(invalid_type("include", "an array", v)),
    };
    let mut include_encrypted = false;
    for (i, v) in include.iter().enumerate() {
        let param = format!("include[{i}]");
        let Value::String(s) = v else {
            return Err(invalid_type(&param, "a string", v));
        };
        if !INCLUDABLE.contains(&s.as_str()) {
            return Err(invalid_value(&param, s, INCLUDABLE));
        }
        include_encrypted |= s == "reasoning.encrypted_content";
    }
    let (reasoning_effort, reasoning_summary) = match map.get("reasoning") {
        None | Some(Value::Null) => ("medium".to_owned(), None),
        Some(Value::Object(r)) => (
            opt_string(r, "effort")?.unwrap_or_else(|| "medium".to_owned()),
            opt_string(r, "summary")?,
        ),
        Some(v) => return Err(invalid_type("reasoning", "an object", v)),
    };
    let obfuscation = match map.get("stream_options") {
        Some(Value::Object(o)) => opt_bool(o, "include_obfuscation")?.unwrap_or(true),
        _ => true,
    };
    let metadata = match map.get("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(v) => return Err(invalid_type("metadata", "an object", v)),
    };
    Ok(CreateRequest {
        model,
        input,
        instructions: opt_string(&map, "instructions")?,
        previous_response_id: opt_string(&map, "previous_response_id")?,
        store,
        stream: opt_bool(&map, "stream")?.unwrap_or(false),
        background,
        include_encrypted,
        obfuscation,
        reasoning_effort,
        reasoning_summary,
        metadata,
    })
}

/// Hands out ids for one request.
struct Ids {
    seed: u64,
    n: u64,
}

impl Ids {
    fn next(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!(
            "{prefix}{}",
            hex(mix(self.seed ^ self.n.wrapping_mul(0x9E37_79B9)), 48)
        )
    }
}

/// The text of a message's `content` (a string, or the `text` of its parts).
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Checks input items against the org's state and gives each an id:
/// messages are normalized like the real API lists them, `item_reference`s
/// are replaced by the items they name.
fn resolve_input(
    st: &ResponsesState,
    org: &str,
    input: Vec<Value>,
    ids: &mut Ids,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::with_capacity(input.len());
    for (i, item) in input.into_iter().enumerate() {
        let param = format!("input[{i}]");
        let Value::Object(mut m) = item else {
            return Err(invalid_type(&param, "an object", &item));
        };
        let kind = match m.get("type") {
            Some(Value::String(t)) => t.clone(),
            None | Some(Value::Null) if m.contains_key("role") => "message".to_owned(),
            None | Some(Value::Null) => return Err(missing(&format!("{param}.type"))),
            Some(v) => return Err(invalid_type(&format!("{param}.type"), "a string", v)),
        };
        let id = match m.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(invalid_type(&format!("{param}.id"), "a string", v)),
        };
        match kind.as_str() {
            "message" => {
                let role = match m.get("role") {
                    Some(Value::String(r)) if ROLES.contains(&r.as_str()) => r.clone(),
                    Some(Value::String(r)) => {
                        return Err(invalid_value(&format!("{param}.role"), r, ROLES))
                    }
                    Some(v) => return Err(invalid_type(&format!("{param}.role"), "a string", v)),
                    None => return Err(missing(&format!("{param}.role"))),
                };
                let part_type = if role == "assistant" {
                    "output_text"
                } else {
                    "input_text"
                };
                match m.get("content") {
                    Some(Value::String(s)) => {
                        let mut part = serde_json::json!({"type": part_type, "text": s});
                        if role == "assistant" {
                            part["annotations"] = Value::Array(Vec::new());
                        }
                        m.insert("content".to_owned(), Value::Array(vec![part]));
                    }
                    Some(Value::Array(_)) => {}
                    Some(v) => {
                        return Err(invalid_type(
                            &format!("{param}.content"),
                            "a string or an array",
                            v,
                        ))
                    }
                    None => return Err(missing(&format!("{param}.content"))),
                }
                match id {
                    Some(id) if !id.starts_with("msg") => {
                        return Err(bad_id_prefix(&format!("{param}.id"), &id, "msg"))
                    }
                    Some(_) => {}
                    None => {
                        m.insert("id".to_owned(), Value::from(ids.next("msg_")));
                    }
                }
                m.insert("type".to_owned(), Value::from("message"));
                m.entry("status")
                    .or_insert_with(|| Value::from("completed"));
                out.push(Value::Object(m));
            }
            "reasoning" => {
                let id = id.ok_or_else(|| missing(&format!("{param}.id")))?;
                if !id.starts_with("rs") {
                    return Err(bad_id_prefix(&format!("{param}.id"), &id, "rs"));
                }
                if !m.contains_key("summary") {
                    return Err(missing(&format!("{param}.summary")));
                }
                match m.get("encrypted_content") {
                    None | Some(Value::Null) => {
                        if !st.has_item(org, &id) {
                            return Err(item_not_found(&id));
                        }
                    }
                    Some(Value::String(token)) => match decode_encrypted_content(token) {
                        Some(sealed) if sealed.org == org => {}
                        Some(_) => {
                            return Err(encrypted_content_error(
                                &id,
                                "Encrypted content organization_id did not match the target \
                                 organization.",
                            ))
                        }
                        None => {
                            return Err(encrypted_content_error(
                                &id,
                                "Encrypted content could not be decrypted.",
                            ))
                        }
                    },
                    Some(v) => {
                        return Err(invalid_type(
                            &format!("{param}.encrypted_content"),
                            "a string",
                            v,
                        ))
                    }
                }
                out.push(Value::Object(m));
            }
            "item_reference" => {
                let id = id.ok_or_else(|| missing(&format!("{param}.id")))?;
                let stored = st
                    .items
                    .get(&(org.to_owned(), id.clone()))
                    .ok_or_else(|| item_not_found(&id))?;
                out.push(stored.clone());
            }
            _ => {
                if id.is_none() {
                    m.insert("id".to_owned(), Value::from(ids.next("item_")));
                }
                out.push(Value::Object(m));
            }
        }
    }
    Ok(out)
}

/// Items the model sees before this request's input: every input and output
/// item along the `previous_response_id` chain.
fn prior_items<'a>(st: &'a ResponsesState, org: &str, mut prev: Option<&'a str>) -> usize {
    let mut n = 0;
    for _ in 0..10_000 {
        let Some(r) = prev.and_then(|id| st.find(org, id)) else {
            break;
        };
        n += r.input.len() + r.output.len();
        prev = r.previous_response_id.as_deref();
    }
    n
}

fn last_user_text(input: &[Value]) -> String {
    input
        .iter()
        .rev()
        .find(|m| {
            m.get("type").and_then(Value::as_str) == Some("message")
                && m.get("role").and_then(Value::as_str) == Some("user")
        })
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default()
}

/// Rough token count: one per four bytes, at least one.
fn tokens(s: &str) -> u64 {
    (s.len() as u64).div_ceil(4).max(1)
}

/// What the model produced for one request.
#[derive(Debug, Clone)]
struct Generated {
    reasoning_id: String,
    message_id: String,
    summary: String,
    encrypted: Option<String>,
    text: String,
}

impl Generated {
    fn reasoning_item(&self, with_summary: bool, with_encrypted: bool) -> Json {
        let summary = if with_summary {
            arr([obj([
                ("type", "summary_text".into()),
                ("text", self.summary.clone().into()),
            ])])
        } else {
            arr([])
        };
        let mut item = obj([
            ("id", self.reasoning_id.clone().into()),
            ("type", "reasoning".into()),
            ("summary", summary),
        ]);
        if with_encrypted {
            if let Some(e) = &self.encrypted {
                item.push("encrypted_content", e.clone().into());
            }
        }
        item
    }

    fn text_part(&self, text: &str) -> Json {
        obj([
            ("type", "output_text".into()),
            ("annotations", arr([])),
            ("logprobs", arr([])),
            ("text", text.into()),
        ])
    }

    fn message_item(&self, done: bool) -> Json {
        let (status, content) = if done {
            ("completed", arr([self.text_part(&self.text)]))
        } else {
            ("in_progress", arr([]))
        };
        obj([
            ("id", self.message_id.clone().into()),
            ("type", "message".into()),
            ("status", status.into()),
            ("content", content),
            ("role", "assistant".into()),
        ])
    }
}

/// The Response object.
fn response_json(r: &StoredResponse, phase: Phase) -> Json {
    let done = phase == Phase::Completed;
    let output = if done {
        Json::Array(r.output.clone())
    } else {
        arr([])
    };
    let completed_at = match (done, r.completed_at) {
        (true, Some(t)) => num(t),
        _ => null(),
    };
    obj([
        ("id", r.id.clone().into()),
        ("object", "response".into()),
        ("created_at", num(r.created_at)),
        ("status", phase.as_str().into()),
        ("background", r.background.into()),
        ("completed_at", completed_at),
        ("error", null()),
        ("incomplete_details", null()),
        ("instructions", opt_text(r.instructions.as_deref())),
        ("max_output_tokens", null()),
        ("max_tool_calls", null()),
        ("model", r.model.clone().into()),
        ("output", output),
        ("parallel_tool_calls", true.into()),
        (
            "previous_response_id",
            opt_text(r.previous_response_id.as_deref()),
        ),
        ("prompt_cache_key", null()),
        (
            "reasoning",
            obj([
                ("effort", r.reasoning_effort.clone().into()),
                ("summary", opt_text(r.reasoning_summary.as_deref())),
            ]),
        ),
        ("safety_identifier", null()),
        ("service_tier", "default".into()),
        ("store", r.store.into()),
        ("temperature", Json::Plain(Value::from(1.0))),
        (
            "text",
            obj([
                ("format", obj([("type", "text".into())])),
                ("verbosity", "medium".into()),
            ]),
        ),
        ("tool_choice", "auto".into()),
        ("tools", arr([])),
        ("top_logprobs", 0u32.into()),
        ("top_p", Json::Plain(Value::from(1.0))),
        ("truncation", "disabled".into()),
        ("usage", if done { r.usage.clone() } else { null() }),
        ("user", null()),
        ("metadata", Json::Plain(r.metadata.clone())),
    ])
}

/// What `POST /responses` answers.
enum Created {
    Json(Response),
    Stream {
        body: Vec<u8>,
        seed: u64,
        id: String,
    },
}

/// `POST /v1/responses`
async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match create_sync(&shared, provider, &headers, &body) {
        Ok(Created::Json(resp)) | Err(resp) => resp,
        Ok(Created::Stream { body, seed, id }) => sse_response(&shared.opts, body, seed, &id),
    }
}

fn create_sync(
    shared: &Shared,
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Created, Response> {
    let org = authenticate(shared, provider, headers)?;
    let req = parse_create(body)?;
    let now = unix_now();
    let mut state = shared.lock();
    state.counter += 1;
    let mut ids = Ids {
        seed: mix(shared.salt ^ 0x0000_2E5F).wrapping_add(state.counter << 8),
        n: 0,
    };
    let st = &mut state.responses;
    if let Some(prev) = &req.previous_response_id {
        if st.find(&org, prev).is_none() {
            return Err(ApiError::new(
                400,
                format!("Previous response with id '{prev}' not found."),
            )
            .param("previous_response_id")
            .code("previous_response_not_found")
            .into());
        }
    }
    let input = resolve_input(st, &org, req.input, &mut ids)?;
    let context = prior_items(st, &org, req.previous_response_id.as_deref()) + input.len();
    let user_text = last_user_text(&input);
    let id = ids.next("resp_");
    let reasoning_id = ids.next("rs_");
    let generated = Generated {
        encrypted: req
            .include_encrypted
            .then(|| encode_encrypted_content(&org, &reasoning_id, now)),
        reasoning_id,
        message_id: ids.next("msg_"),
        summary: format!(
            "**Echoing the user**\n\nThe last user message is \"{user_text}\"; {context} {} \
             in context. I answer with an echo.",
            if context == 1 { "item is" } else { "items are" }
        ),
        text: expected_responses_text(&user_text),
    };
    let input_tokens: u64 = 8 + input
        .iter()
        .map(|m| tokens(&content_text(m.get("content"))))
        .sum::<u64>();
    let reasoning_tokens = 2 * tokens(&generated.summary);
    let output_tokens = reasoning_tokens + tokens(&generated.text);
    let usage = obj([
        ("input_tokens", num(input_tokens)),
        (
            "input_tokens_details",
            obj([("cached_tokens", 0u32.into())]),
        ),
        ("output_tokens", num(output_tokens)),
        (
            "output_tokens_details",
            obj([("reasoning_tokens", num(reasoning_tokens))]),
        ),
        ("total_tokens", num(input_tokens + output_tokens)),
    ]);
    let queued = req.background && !req.stream;
    let stored = StoredResponse {
        org: org.clone(),
        id: id.clone(),
        created_at: now,
        completed_at: (!queued).then_some(now),
        phase: if queued {
            Phase::Queued
        } else {
            Phase::Completed
        },
        background: req.background,
        polls: 0,
        store: req.store,
        model: req.model,
        instructions: req.instructions,
        previous_response_id: req.previous_response_id,
        reasoning_effort: req.reasoning_effort,
        reasoning_summary: req.reasoning_summary,
        metadata: req.metadata,
        input,
        output: vec![
            generated.reasoning_item(true, true),
            generated.message_item(true),
        ],
        usage,
    };
    if stored.store {
        for item in &stored.input {
            if let Some(item_id) = item.get("id").and_then(Value::as_str) {
                st.items
                    .insert((org.clone(), item_id.to_owned()), item.clone());
            }
        }
        for (item_id, item) in [
            (&generated.reasoning_id, &stored.output[0]),
            (&generated.message_id, &stored.output[1]),
        ] {
            if let Ok(v) = serde_json::to_value(item) {
                st.items.insert((org.clone(), item_id.clone()), v);
            }
        }
        st.responses.push(stored.clone());
    }
    drop(state);
    if req.stream {
        let body = sse_events(&stored, &generated, req.obfuscation);
        return Ok(Created::Stream {
            body,
            seed: hash_str(&id),
            id,
        });
    }
    Ok(Created::Json(ok_with_id(
        &response_json(&stored, stored.phase),
        &id,
    )))
}

// ------------------------------------------------------------------ streaming

/// Splits `text` into delta pieces (at spaces, like tokens).
fn deltas(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// The SSE bytes of a streamed response, event by event.
fn sse_events(r: &StoredResponse, g: &Generated, obfuscation: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq: u64 = 0;
    let mut emit = |kind: &'static str, fields: Vec<(&'static str, Json)>| {
        let mut all = vec![("type", Json::from(kind)), ("sequence_number", num(seq))];
        all.extend(fields);
        let data = serde_json::to_string(&Json::Object(all)).unwrap_or_default();
        out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
        seq += 1;
    };
    let obfuscate = |delta: &str, n: u64| -> Vec<(&'static str, Json)> {
        if obfuscation {
            let len = 16 - delta.len() % 16;
            vec![("obfuscation", hex(hash_str(delta) ^ n, len).into())]
        } else {
            Vec::new()
        }
    };
    let rs = || Json::from(g.reasoning_id.as_str());
    let msg = || Json::from(g.message_id.as_str());
    emit(
        "response.created",
        vec![("response", response_json(r, Phase::InProgress))],
    );
    emit(
        "response.in_progress",
        vec![("response", response_json(r, Phase::InProgress))],
    );
    emit(
        "response.output_item.added",
        vec![
            ("output_index", num(0)),
            ("item", g.reasoning_item(false, false)),
        ],
    );
    let summary_part = |text: &str| obj([("type", "summary_text".into()), ("text", text.into())]);
    emit(
        "response.reasoning_summary_part.added",
        vec![
            ("item_id", rs()),
            ("output_index", num(0)),
            ("summary_index", num(0)),
            ("part", summary_part("")),
        ],
    );
    for (n, d) in deltas(&g.summary).iter().enumerate() {
        let mut fields = vec![
            ("item_id", rs()),
            ("output_index", num(0)),
            ("summary_index", num(0)),
            ("delta", d.as_str().into()),
        ];
        fields.extend(obfuscate(d, n as u64));
        emit("response.reasoning_summary_text.delta", fields);
    }
    emit(
        "response.reasoning_summary_text.done",
        vec![
            ("item_id", rs()),
            ("output_index", num(0)),
            ("summary_index", num(0)),
            ("text", g.summary.as_str().into()),
        ],
    );
    emit(
        "response.reasoning_summary_part.done",
        vec![
            ("item_id", rs()),
            ("output_index", num(0)),
            ("summary_index", num(0)),
            ("part", summary_part(&g.summary)),
        ],
    );
    emit(
        "response.output_item.done",
        vec![
            ("output_index", num(0)),
            ("item", g.reasoning_item(true, true)),
        ],
    );
    emit(
        "response.output_item.added",
        vec![("output_index", num(1)), ("item", g.message_item(false))],
    );
    emit(
        "response.content_part.added",
        vec![
            ("item_id", msg()),
            ("output_index", num(1)),
            ("content_index", num(0)),
            ("part", g.text_part("")),
        ],
    );
    for (n, d) in deltas(&g.text).iter().enumerate() {
        let mut fields = vec![
            ("item_id", msg()),
            ("output_index", num(1)),
            ("content_index", num(0)),
            ("delta", d.as_str().into()),
            ("logprobs", arr([])),
        ];
        fields.extend(obfuscate(d, n as u64));
        emit("response.output_text.delta", fields);
    }
    emit(
        "response.output_text.done",
        vec![
            ("item_id", msg()),
            ("output_index", num(1)),
            ("content_index", num(0)),
            ("text", g.text.as_str().into()),
            ("logprobs", arr([])),
        ],
    );
    emit(
        "response.content_part.done",
        vec![
            ("item_id", msg()),
            ("output_index", num(1)),
            ("content_index", num(0)),
            ("part", g.text_part(&g.text)),
        ],
    );
    emit(
        "response.output_item.done",
        vec![("output_index", num(1)), ("item", g.message_item(true))],
    );
    emit(
        "response.completed",
        vec![("response", response_json(r, Phase::Completed))],
    );
    out
}

/// Cuts `body` into chunks: `sizes` cycled (a `0` counts as `1`), or, when
/// `sizes` is empty, pseudo-random sizes of `1..=64` drawn from `seed`.
fn split_chunks(body: &[u8], sizes: &[usize], seed: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut state = seed;
    let mut i = 0;
    while at < body.len() {
        let size = if sizes.is_empty() {
            state = mix(state);
            usize::try_from(state % MAX_RANDOM_CHUNK + 1).unwrap_or(1)
        } else {
            sizes.get(i % sizes.len()).copied().unwrap_or(1).max(1)
        };
        i += 1;
        let end = (at + size).min(body.len());
        out.push(Bytes::copy_from_slice(
            body.get(at..end).unwrap_or_default(),
        ));
        at = end;
    }
    out
}

/// `200 text/event-stream` with `body` written chunk by chunk.
fn sse_response(opts: &MockOptions, body: Vec<u8>, seed: u64, id: &str) -> Response {
    let chunks = split_chunks(&body, &opts.sse_chunk_sizes, seed);
    let delay = Duration::from_millis(opts.sse_chunk_delay_ms);
    let stream = futures_util::stream::unfold(
        (chunks.into_iter(), true),
        move |(mut it, first)| async move {
            let chunk = it.next()?;
            if !first {
                if delay.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(delay).await;
                }
            }
            Some((Ok::<_, Infallible>(chunk), (it, false)))
        },
    );
    let mut resp = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    resp.extensions_mut().insert(ResponseId(id.to_owned()));
    resp
}

// ------------------------------------------------------------------ by id

/// `GET /v1/responses/{id}`: a background response advances one poll.
async fn retrieve(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let org = authenticate(&shared, provider, &headers)?;
        let until = shared.opts.polls_until_done;
        let now = unix_now();
        let mut state = shared.lock();
        let r = state
            .responses
            .find_mut(&org, &id)
            .ok_or_else(|| response_not_found(&id))?;
        if r.background && matches!(r.phase, Phase::Queued | Phase::InProgress) {
            r.polls = r.polls.saturating_add(1);
            if r.polls >= until {
                r.phase = Phase::Completed;
                r.completed_at = Some(now);
            } else {
                r.phase = Phase::InProgress;
            }
        }
        Ok::<_, Response>(ok_with_id(&response_json(r, r.phase), &id))
    })();
    result.unwrap_or_else(|e| e)
}

/// `DELETE /v1/responses/{id}`
async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let org = authenticate(&shared, provider, &headers)?;
        let mut state = shared.lock();
        let st = &mut state.responses;
        let idx = st
            .responses
            .iter()
            .position(|r| r.org == org && r.id == id)
            .ok_or_else(|| response_not_found(&id))?;
        let gone = st.responses.remove(idx);
        let item_ids = gone
            .input
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
            .chain(gone.output.iter().filter_map(|o| {
                serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            }));
        for item_id in item_ids.collect::<Vec<_>>() {
            st.items.remove(&(org.clone(), item_id));
        }
        let body = obj([
            ("id", id.clone().into()),
            ("object", "response".into()),
            ("deleted", true.into()),
        ]);
        Ok::<_, Response>(ok_with_id(&body, &id))
    })();
    result.unwrap_or_else(|e| e)
}

/// `GET /v1/responses/{id}/input_items`
async fn input_items(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let org = authenticate(&shared, provider, &headers)?;
        let limit = match query.get("limit") {
            None => 20,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::new(
                        400,
                        format!("Invalid 'limit': integer must be between 1 and 100, got '{s}'."),
                    )
                    .param("limit")
                    .code("invalid_value")
                    .into())
                }
            },
        };
        let desc = match query.get("order").map(String::as_str) {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(other) => return Err(invalid_value("order", other, &["asc", "desc"]).into()),
        };
        let state = shared.lock();
        let r = state
            .responses
            .find(&org, &id)
            .ok_or_else(|| response_not_found(&id))?;
        let mut items = r.input.clone();
        drop(state);
        if desc {
            items.reverse();
        }
        if let Some(after) = query.get("after") {
            let pos = items
                .iter()
                .position(|i| i.get("id").and_then(Value::as_str) == Some(after.as_str()));
            items = match pos {
                Some(p) => items.split_off(p + 1),
                None => Vec::new(),
            };
        }
        let has_more = items.len() > limit;
        items.truncate(limit);
        let id_of =
            |v: Option<&Value>| opt_text(v.and_then(|i| i.get("id")).and_then(Value::as_str));
        let body = obj([
            ("object", "list".into()),
            ("data", Json::Plain(Value::Array(items.clone()))),
            ("first_id", id_of(items.first())),
            ("last_id", id_of(items.last())),
            ("has_more", has_more.into()),
        ]);
        Ok::<_, Response>(ok_with_id(&body, &id))
    })();
    result.unwrap_or_else(|e| e)
}

/// `POST /v1/responses/{id}/cancel`
async fn cancel(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let org = authenticate(&shared, provider, &headers)?;
        let mut state = shared.lock();
        let r = state
            .responses
            .find_mut(&org, &id)
            .ok_or_else(|| response_not_found(&id))?;
        if !r.background {
            return Err(ApiError::new(400, "Cannot cancel a synchronous response.").into());
        }
        if matches!(r.phase, Phase::Queued | Phase::InProgress) {
            r.phase = Phase::Cancelled;
        }
        Ok::<_, Response>(ok_with_id(&response_json(r, r.phase), &id))
    })();
    result.unwrap_or_else(|e| e)
}

// ------------------------------------------------------------------ faults

/// The 429 the provider sends when a rate limit is hit.
fn rate_limited(provider: Provider, retry_after_secs: u64) -> Response {
    let mut resp = match provider {
        Provider::OpenAi => ApiError::new(
            429,
            format!(
                "Rate limit reached for o4-mini in organization org-mock on requests per min \
                 (RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_after_secs}s. \
                 Visit https://platform.openai.com/account/rate-limits to learn more."
            ),
        )
        .kind("requests")
        .code("rate_limit_exceeded")
        .into(),
        Provider::Azure => json(
            StatusCode::TOO_MANY_REQUESTS,
            &obj([(
                "error",
                obj([
                    ("code", "429".into()),
                    (
                        "message",
                        format!(
                            "Requests to the Responses Operation under Azure OpenAI API version \
                             v1 have exceeded token rate limit of your current AIServices S0 \
                             pricing tier. Please retry after {retry_after_secs} seconds. Please \
                             contact Azure support service if you would like to further increase \
                             the default rate limit."
                        )
                        .into(),
                    ),
                ]),
            )]),
        ),
    };
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put("retry-after", retry_after_secs.to_string());
    if provider == Provider::OpenAi {
        put("retry-after-ms", (retry_after_secs * 1000).to_string());
        put("x-ratelimit-limit-requests", "3".to_owned());
        put("x-ratelimit-remaining-requests", "0".to_owned());
        put("x-ratelimit-reset-requests", format!("{retry_after_secs}s"));
    }
    resp
}

/// Fault answers in OpenAI's (or Azure's) shapes on Responses API paths;
/// `None` for other paths and for faults answered generically (`Status`,
/// `Malformed`, `Delay`, and any the mock adds later).
pub(crate) fn fault_response(action: &FaultAction, path: &str) -> Option<Response> {
    let provider = provider_of(path)?;
    let mut resp = match action {
        FaultAction::OpenaiRateLimit { retry_after_secs } => {
            rate_limited(provider, *retry_after_secs)
        }
        FaultAction::GoogleRateLimit { retry_delay_secs } => {
            rate_limited(provider, *retry_delay_secs)
        }
        FaultAction::VertexRateLimit => rate_limited(provider, 1),
        FaultAction::OpenaiInsufficientQuota | FaultAction::GoogleDailyQuota => ApiError::new(
            429,
            "You exceeded your current quota, please check your plan and billing details. For \
             more information on this error, read the docs: \
             https://platform.openai.com/docs/guides/error-codes/api-errors.",
        )
        .kind("insufficient_quota")
        .code("insufficient_quota")
        .into(),
        FaultAction::ServerError { status } => {
            let message = match status {
                503 => "The server is overloaded or not ready yet.",
                _ => "The server had an error while processing your request. Sorry about that!",
            };
            ApiError::new(*status, message).kind("server_error").into()
        }
        _ => return None,
    };
    add_headers(provider, None, &mut resp);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_content_round_trips_and_rejects_tampering() {
        let token = encode_encrypted_content("org-alpha", "rs_abc", 1_760_000_000);
        assert!(token.starts_with("gAAAAA"), "{token}");
        let opened = decode_encrypted_content(&token).unwrap();
        assert_eq!(opened.org, "org-alpha");
        assert_eq!(opened.item_id, "rs_abc");
        assert_eq!(opened.created_at, 1_760_000_000);
        let mut raw = URL_SAFE.decode(&token).unwrap();
        let mid = raw.len() / 2;
        raw[mid] ^= 1;
        assert_eq!(decode_encrypted_content(&URL_SAFE.encode(raw)), None);
        assert_eq!(decode_encrypted_content("gAAAAAB/x+y=="), None);
        assert_eq!(decode_encrypted_content(""), None);
    }

    #[test]
    fn chunks_cover_the_body() {
        let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for sizes in [vec![], vec![1], vec![3, 0, 7]] {
            let chunks = split_chunks(&body, &sizes, 42);
            assert_eq!(chunks.concat(), body);
            assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 64));
        }
        assert_eq!(split_chunks(&body, &[], 7), split_chunks(&body, &[], 7));
    }

    #[test]
    fn paths_and_masks() {
        assert!(is_responses_path("/v1/responses"));
        assert!(is_responses_path("/v1/responses/resp_1/cancel"));
        assert!(is_responses_path("/openai/v1/responses/resp_1"));
        assert!(!is_responses_path("/v1/responsesx"));
        assert!(!is_responses_path("/v1/videos"));
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk-************mnop");
    }
}
