//! The OpenAI Videos API (Sora, `api.openai.com/v1/videos`) and Azure
//! OpenAI's copy of it (`{resource}.openai.azure.com/openai/v1/videos`).
//!
//! | Wire | Mock |
//! |---|---|
//! | OpenAI: `Authorization: Bearer K` | only [`MockOptions::openai_key`](super::MockOptions); none or wrong → 401 (`invalid_api_key` when wrong) |
//! | Azure: `api-key: K` | only [`MockOptions::azure_key`](super::MockOptions); else Azure's 401 `{"error":{"code":"401","message":"Access denied …"}}` |
//! | `POST /videos` | JSON or multipart; `prompt` 1..=32000 chars (required), `model` any string (default `sora-2`), `seconds` string `4`/`8`/`12` (default `4`), `size` `720x1280`/`1280x720`/`1024x1792`/`1792x1024` (default `720x1280`), `input_reference` (image file part, or JSON `{image_url}`/`{file_id}`), `characters` accepted; → Video, `queued` |
//! | `GET /videos/{id}` | each call is a poll: `in_progress` (progress 50) until [`MockOptions::polls_until_done`](super::MockOptions) polls, then `completed` (or `failed`) |
//! | `GET /videos?after=&limit=&order=` | `limit` 1..=100 (default 20), `order` `asc`/`desc` (default `desc`, newest first) |
//! | `DELETE /videos/{id}` | `{"id","object":"video.deleted","deleted":true}`; then 404 |
//! | `GET /videos/{id}/content?variant=` | `video` → `video/mp4` ([`expected_video_bytes`]`(id, video_bytes)`), `thumbnail` → `image/webp`, `spritesheet` → `image/jpeg` ([`expected_image_bytes`]); 404 `video_not_ready` before `completed` |
//! | `POST /videos/{id}/remix` `{prompt}` | new Video, `remixed_from_video_id` = id |
//! | `POST /videos/edits` `{prompt, video:{id}}` (or multipart with a `video` file) | new Video |
//! | `POST /videos/extensions` `{prompt, seconds, video:{id}}` | new Video, `seconds` `4`..`20` in steps of 4 |
//! | `POST /videos/characters` multipart `name` (1..=80 chars) + `video` file | `{"id":"char_…","object":"character","created_at","name"}` |
//! | `GET /videos/characters/{id}` | the character |
//!
//! Ids: `video_` + 48 hex digits, `char_` + 32. Every answer carries
//! `x-request-id` (Azure also `apim-request-id`). Prompt `[[moderation]]` →
//! the job ends `failed` with `error.code` `moderation_blocked`; `[[blocked]]`
//! → create answers 400 `moderation_blocked` at once. OpenAI and Azure keep
//! separate jobs and characters.

// Handlers return `Result<Response, Response>` (an answer either way) so `?`
// reads naturally; the size of the `Err` side does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::ordered::{arr, obj, Json};
use super::video::{expected_image_bytes, expected_video_bytes, hex, mix, stream_body, uuid};
use super::{unix_now, FaultAction, Shared};

/// Which service a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// `api.openai.com`, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI, `api-key`.
    Azure,
}

const SECONDS: &[&str] = &["4", "8", "12"];
const EXTENSION_SECONDS: &[&str] = &["4", "8", "12", "16", "20"];
const SIZES: &[&str] = &["720x1280", "1280x720", "1024x1792", "1792x1024"];
const VARIANTS: &[&str] = &["video", "thumbnail", "spritesheet"];
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
const MAX_PROMPT: usize = 32_000;
/// Seconds from creation until a finished video's assets expire.
const EXPIRY_SECS: u64 = 86_400;

const MODERATION_MESSAGE: &str = "Your request was blocked by our moderation system.";
const AZURE_401: &str = "Access denied due to invalid subscription key or wrong API endpoint. \
                         Make sure to provide a valid key for an active subscription and use a \
                         correct regional API endpoint for your resource.";

/// A video generation job.
#[derive(Debug, Clone)]
pub(crate) struct VideoJob {
    provider: Provider,
    id: String,
    model: String,
    prompt: String,
    seconds: String,
    size: String,
    created_at: u64,
    completed_at: Option<u64>,
    polls: u32,
    moderated: bool,
    remixed_from: Option<String>,
}

/// A reusable character.
#[derive(Debug, Clone)]
pub(crate) struct Character {
    provider: Provider,
    id: String,
    name: String,
    created_at: u64,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    InProgress,
    Completed,
    Failed,
}

impl VideoJob {
    fn phase(&self, polls_until_done: u32) -> Phase {
        if self.polls == 0 {
            Phase::Queued
        } else if self.polls < polls_until_done {
            Phase::InProgress
        } else if self.moderated {
            Phase::Failed
        } else {
            Phase::Completed
        }
    }

    /// The Video object.
    fn to_json(&self, polls_until_done: u32) -> Json {
        let phase = self.phase(polls_until_done);
        let (status, progress) = match phase {
            Phase::Queued => ("queued", 0u32),
            Phase::InProgress => ("in_progress", 50),
            Phase::Completed => ("completed", 100),
            Phase::Failed => ("failed", 0),
        };
        let null = || Json::Plain(Value::Null);
        let num = |n: u64| Json::Plain(Value::from(n));
        let (completed_at, expires_at) = match (phase, self.completed_at) {
            (Phase::Completed, Some(t)) => (num(t), num(self.created_at + EXPIRY_SECS)),
            _ => (null(), null()),
        };
        let error = if phase == Phase::Failed {
            obj([
                ("code", "moderation_blocked".into()),
                ("message", MODERATION_MESSAGE.into()),
            ])
        } else {
            null()
        };
        obj([
            ("id", self.id.clone().into()),
            ("object", "video".into()),
            ("created_at", num(self.created_at)),
            ("status", status.into()),
            ("completed_at", completed_at),
            ("error", error),
            ("expires_at", expires_at),
            ("model", self.model.clone().into()),
            ("progress", progress.into()),
            ("prompt", self.prompt.clone().into()),
            (
                "remixed_from_video_id",
                self.remixed_from.clone().map_or_else(null, Json::from),
            ),
            ("seconds", self.seconds.clone().into()),
            ("size", self.size.clone().into()),
        ])
    }
}

impl Character {
    fn to_json(&self) -> Json {
        obj([
            ("id", self.id.clone().into()),
            ("object", "character".into()),
            ("created_at", Json::Plain(Value::from(self.created_at))),
            ("name", self.name.clone().into()),
        ])
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    videos_routes("/v1/videos", Provider::OpenAi)
        .merge(videos_routes("/openai/v1/videos", Provider::Azure))
}

fn videos_routes(prefix: &str, provider: Provider) -> Router<Arc<Shared>> {
    Router::new()
        .route(prefix, post(create).get(list))
        .route(&format!("{prefix}/edits"), post(edit))
        .route(&format!("{prefix}/extensions"), post(extend))
        .route(&format!("{prefix}/characters"), post(create_character))
        .route(&format!("{prefix}/characters/{{id}}"), get(get_character))
        .route(&format!("{prefix}/{{id}}"), get(retrieve).delete(delete))
        .route(&format!("{prefix}/{{id}}/content"), get(content))
        .route(&format!("{prefix}/{{id}}/remix"), post(remix))
        .layer(middleware::from_fn(stamp))
        .layer(Extension(provider))
}

/// Whether `path` belongs to the OpenAI or Azure videos surface.
pub(crate) fn is_openai_path(path: &str) -> bool {
    path == "/v1/videos" || path.starts_with("/v1/videos/") || path.starts_with("/openai/")
}

fn provider_of(path: &str) -> Provider {
    if path.starts_with("/openai/") {
        Provider::Azure
    } else {
        Provider::OpenAi
    }
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// Adds the request-id headers the provider sends.
fn add_request_ids(provider: Provider, resp: &mut Response) {
    let seq = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    let seed = mix(seq ^ 0x5EED_0000_1D1D);
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    match provider {
        Provider::OpenAi => put("x-request-id", format!("req_{}", hex(seed, 32))),
        Provider::Azure => {
            let id = uuid(seed);
            put("x-request-id", id.clone());
            put("apim-request-id", id);
        }
    }
}

async fn stamp(req: Request, next: Next) -> Response {
    let provider = req
        .extensions()
        .get::<Provider>()
        .copied()
        .unwrap_or(Provider::OpenAi);
    let mut resp = next.run(req).await;
    add_request_ids(provider, &mut resp);
    resp
}

/// An OpenAI error answer, not yet rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: u16,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    pub(crate) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn body(&self) -> Json {
        let opt = |v: Option<String>| v.map_or(Json::Plain(Value::Null), Json::from);
        obj([(
            "error",
            obj([
                ("message", self.message.clone().into()),
                ("type", self.kind.into()),
                ("param", opt(self.param.clone())),
                ("code", opt(self.code.map(str::to_owned))),
            ]),
        )])
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        json(status, &e.body())
    }
}

/// Pretty-printed JSON with OpenAI's content type.
pub(crate) fn json(status: StatusCode, body: &Json) -> Response {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn ok(body: &Json) -> Result<Response, Response> {
    Ok(json(StatusCode::OK, body))
}

fn either(r: Result<Response, Response>) -> Response {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// `sk-abc***…wxyz`: how OpenAI echoes a wrong key.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

fn authenticate(shared: &Shared, provider: Provider, headers: &HeaderMap) -> Result<(), Response> {
    match provider {
        Provider::OpenAi => {
            let value = headers
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let key = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .unwrap_or("")
                .trim();
            if key.is_empty() {
                return Err(ApiError::new(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an \
                     Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), \
                     or as the password field (with blank username) if you're accessing the API \
                     from your browser and are prompted for a username and password. You can \
                     obtain an API key from https://platform.openai.com/account/api-keys.",
                )
                .into());
            }
            if key != shared.opts.openai_key {
                return Err(ApiError::new(
                    401,
                    format!(
                        "Incorrect API key provided: {}. You can find your API key at \
                         https://platform.openai.com/account/api-keys.",
                        mask(key)
                    ),
                )
                .code("invalid_api_key")
                .into());
            }
            Ok(())
        }
        Provider::Azure => {
            let key = headers.get("api-key").map(|v| v.as_bytes());
            if key == Some(shared.opts.azure_key.as_bytes()) {
                return Ok(());
            }
            Err(json(
                StatusCode::UNAUTHORIZED,
                &obj([(
                    "error",
                    obj([("code", "401".into()), ("message", AZURE_401.into())]),
                )]),
            ))
        }
    }
}

/// One field of a request body.
#[derive(Debug, Clone)]
enum Part {
    /// A JSON body's field.
    Json(Value),
    /// A multipart text part.
    Text(String),
    /// A multipart file part.
    File { content_type: Option<String> },
}

/// A request body as named fields, JSON or multipart alike.
#[derive(Debug, Default)]
struct Form {
    fields: Vec<(String, Part)>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&Part> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn reject_unknown(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .fields
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(ApiError::new(400, format!("Unknown parameter: '{k}'."))
                .param(k)
                .code("unknown_parameter")),
            None => Ok(()),
        }
    }
}

const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely \
                        means you aren't using your HTTP library correctly. The OpenAI API \
                        expects a JSON payload, but what was sent was not valid JSON. If you \
                        have trouble figuring out how to fix this, please contact us through our \
                        help center at help.openai.com.)";

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Parses a JSON or `multipart/form-data` body (multipart only when
/// `multipart_only`).
async fn read_form(
    headers: &HeaderMap,
    body: Bytes,
    multipart_only: bool,
) -> Result<Form, ApiError> {
    let ct = content_type(headers);
    if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return read_multipart(&ct, body).await;
    }
    if multipart_only {
        let shown = if ct.is_empty() { "none" } else { ct.as_str() };
        return Err(ApiError::new(
            400,
            format!(
                "Invalid Content-Type header ({shown}), expected multipart/form-data. (HINT: If \
                 you're using curl, you can pass -H 'Content-Type: multipart/form-data')"
            ),
        ));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(Form {
            fields: map.into_iter().map(|(k, v)| (k, Part::Json(v))).collect(),
        }),
        Ok(_) => Err(
            ApiError::new(400, "Invalid type for root: expected an object.").code("invalid_type"),
        ),
        Err(_) => Err(ApiError::new(400, BAD_JSON)),
    }
}

async fn read_multipart(ct: &str, body: Bytes) -> Result<Form, ApiError> {
    let bad = |e: multer::Error| ApiError::new(400, format!("Could not parse multipart form: {e}"));
    let boundary = multer::parse_boundary(ct).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let content_type = field.content_type().map(ToString::to_string);
        let data = field.bytes().await.map_err(bad)?;
        let part = if is_file {
            Part::File { content_type }
        } else {
            Part::Text(String::from_utf8_lossy(&data).into_owned())
        };
        form.fields.push((name, part));
    }
    Ok(form)
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

/// `'a', 'b', and 'c'` (or `'a' and 'b'`).
fn quoted_list(items: &[&str], conj: &str) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    match q.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} {conj} {b}"),
        [init @ .., last] => format!("{}, {conj} {last}", init.join(", ")),
    }
}

/// A string field, if present.
fn text(form: &Form, name: &str, expected: &str) -> Result<Option<String>, ApiError> {
    let got = match form.get(name) {
        None | Some(Part::Json(Value::Null)) => return Ok(None),
        Some(Part::Json(Value::String(s))) | Some(Part::Text(s)) => return Ok(Some(s.clone())),
        Some(Part::Json(v)) => kind_of(v),
        Some(Part::File { .. }) => "a file",
    };
    Err(ApiError::new(
        400,
        format!("Invalid type for '{name}': expected {expected}, but got {got} instead."),
    )
    .param(name)
    .code("invalid_type"))
}

/// A string field that must be one of `allowed`.
fn enum_text(form: &Form, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    let expected = format!("one of {}", quoted_list(allowed, "or"));
    let Some(v) = text(form, name, &expected)? else {
        return Ok(None);
    };
    if allowed.contains(&v.as_str()) {
        return Ok(Some(v));
    }
    Err(ApiError::new(
        400,
        format!(
            "Invalid value: '{v}'. Supported values are: {}.",
            quoted_list(allowed, "and")
        ),
    )
    .param(name)
    .code("invalid_value"))
}

fn missing(name: &str) -> ApiError {
    ApiError::new(400, format!("Missing required parameter: '{name}'."))
        .param(name)
        .code("missing_required_parameter")
}

/// A required string of `lo..=hi` characters.
fn bounded_text(form: &Form, name: &str, lo: usize, hi: usize) -> Result<String, ApiError> {
    let v = text(form, name, "a string")?.ok_or_else(|| missing(name))?;
    let n = v.chars().count();
    if n < lo {
        return Err(ApiError::new(
            400,
            format!(
                "Invalid '{name}': string too short. Expected a string with minimum length {lo}, \
                 but got an empty string instead."
            ),
        )
        .param(name)
        .code("string_below_min_length"));
    }
    if n > hi {
        return Err(ApiError::new(
            400,
            format!(
                "Invalid '{name}': string too long. Expected a string with maximum length {hi}, \
                 but got a string with length {n} instead."
            ),
        )
        .param(name)
        .code("string_above_max_length"));
    }
    Ok(v)
}

fn check_input_reference(form: &Form) -> Result<(), ApiError> {
    let invalid_type = |got: &str| {
        ApiError::new(
            400,
            format!(
                "Invalid type for 'input_reference': expected a file or an object with \
                 'image_url' or 'file_id', but got {got} instead."
            ),
        )
        .param("input_reference")
        .code("invalid_type")
    };
    match form.get("input_reference") {
        None | Some(Part::Json(Value::Null)) => Ok(()),
        Some(Part::File { content_type }) => {
            let ct = content_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            if IMAGE_TYPES.contains(&ct) {
                Ok(())
            } else {
                Err(ApiError::new(
                    400,
                    format!(
                        "Invalid file 'input_reference': unsupported mimetype ('{ct}'). Supported \
                         file formats are {}.",
                        quoted_list(IMAGE_TYPES, "and")
                    ),
                )
                .param("input_reference")
                .code("invalid_value"))
            }
        }
        Some(Part::Json(Value::Object(o))) => {
            let has = |k: &str| o.get(k).is_some_and(Value::is_string);
            if (has("image_url") || has("file_id")) && o.len() == 1 {
                Ok(())
            } else {
                Err(invalid_type("an object without 'image_url' or 'file_id'"))
            }
        }
        Some(Part::Json(v)) => Err(invalid_type(kind_of(v))),
        Some(Part::Text(_)) => Err(invalid_type("a string")),
    }
}

/// The prompt, refusing `[[blocked]]` prompts at once.
fn prompt(form: &Form) -> Result<String, ApiError> {
    let prompt = bounded_text(form, "prompt", 1, MAX_PROMPT)?;
    if prompt.contains("[[blocked]]") {
        return Err(ApiError::new(400, MODERATION_MESSAGE).code("moderation_blocked"));
    }
    Ok(prompt)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, format!("Video with id '{id}' not found.")).code("not_found")
}

/// What a new job is made of.
struct NewJob {
    model: String,
    prompt: String,
    seconds: String,
    size: String,
    remixed_from: Option<String>,
}

/// Stores a new job and answers with it.
fn insert_job(shared: &Shared, provider: Provider, new: NewJob) -> Result<Response, Response> {
    let moderated = new.prompt.contains("[[moderation]]");
    let mut state = shared.lock();
    state.counter += 1;
    let id = format!(
        "video_{}",
        hex(
            mix(shared.salt ^ 0x0000_50BA).wrapping_add(state.counter),
            48
        )
    );
    let job = VideoJob {
        provider,
        id,
        model: new.model,
        prompt: new.prompt,
        seconds: new.seconds,
        size: new.size,
        created_at: unix_now(),
        completed_at: None,
        polls: 0,
        moderated,
        remixed_from: new.remixed_from,
    };
    let body = job.to_json(shared.opts.polls_until_done);
    state.videos.push(job);
    drop(state);
    ok(&body)
}

/// A clone of job `id` of `provider`.
fn find_job(shared: &Shared, provider: Provider, id: &str) -> Result<VideoJob, ApiError> {
    shared
        .lock()
        .videos
        .iter()
        .find(|j| j.provider == provider && j.id == id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// The source video of an edit or extension: `video: {id}` or a file part.
fn source_video(
    shared: &Shared,
    provider: Provider,
    form: &Form,
) -> Result<Option<VideoJob>, ApiError> {
    match form.get("video") {
        None | Some(Part::Json(Value::Null)) => Err(missing("video")),
        Some(Part::File { .. }) => Ok(None),
        Some(Part::Json(Value::Object(o))) => match o.get("id") {
            Some(Value::String(id)) => find_job(shared, provider, id)
                .map(Some)
                .map_err(|e| e.param("video")),
            _ => Err(missing("video.id")),
        },
        Some(Part::Json(v)) => Err(ApiError::new(
            400,
            format!(
                "Invalid type for 'video': expected an object with 'id' or a file, but got {} \
                 instead.",
                kind_of(v)
            ),
        )
        .param("video")
        .code("invalid_type")),
        Some(Part::Text(_)) => Err(ApiError::new(
            400,
            "Invalid type for 'video': expected an object with 'id' or a file, but got a string \
             instead.",
        )
        .param("video")
        .code("invalid_type")),
    }
}

/// `POST /v1/videos`
async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either(
        async {
            authenticate(&shared, provider, &headers)?;
            let form = read_form(&headers, body, false).await?;
            form.reject_unknown(&[
                "prompt",
                "model",
                "seconds",
                "size",
                "input_reference",
                "characters",
            ])?;
            let prompt = prompt(&form)?;
            let model = text(&form, "model", "a string")?.unwrap_or_else(|| "sora-2".to_owned());
            let seconds = enum_text(&form, "seconds", SECONDS)?.unwrap_or_else(|| "4".to_owned());
            let size = enum_text(&form, "size", SIZES)?.unwrap_or_else(|| "720x1280".to_owned());
            check_input_reference(&form)?;
            let new = NewJob {
                model,
                prompt,
                seconds,
                size,
                remixed_from: None,
            };
            insert_job(&shared, provider, new)
        }
        .await,
    )
}

/// `GET /v1/videos/{id}`: one poll.
async fn retrieve(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    either(retrieve_sync(&shared, provider, &id, &headers))
}

fn retrieve_sync(
    shared: &Shared,
    provider: Provider,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    authenticate(shared, provider, headers)?;
    let until = shared.opts.polls_until_done;
    let mut state = shared.lock();
    let job = state
        .videos
        .iter_mut()
        .find(|j| j.provider == provider && j.id == id)
        .ok_or_else(|| not_found(id))?;
    job.polls = job.polls.saturating_add(1);
    if job.phase(until) == Phase::Completed && job.completed_at.is_none() {
        job.completed_at = Some(unix_now().max(job.created_at));
    }
    let body = job.to_json(until);
    drop(state);
    ok(&body)
}

fn query_limit(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    let Some(raw) = query.get("limit") else {
        return Ok(20);
    };
    let n: i64 = raw.parse().map_err(|_| {
        ApiError::new(
            400,
            format!("Invalid 'limit': expected an integer, but got '{raw}' instead."),
        )
        .param("limit")
        .code("invalid_type")
    })?;
    if n < 1 {
        return Err(ApiError::new(
            400,
            format!(
                "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got \
                 {n} instead."
            ),
        )
        .param("limit")
        .code("integer_below_min_value"));
    }
    if n > 100 {
        return Err(ApiError::new(
            400,
            format!(
                "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got \
                 {n} instead."
            ),
        )
        .param("limit")
        .code("integer_above_max_value"));
    }
    Ok(usize::try_from(n).unwrap_or(20))
}

/// `GET /v1/videos?after=&limit=&order=`
async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    either(list_sync(&shared, provider, &query, &headers))
}

fn list_sync(
    shared: &Shared,
    provider: Provider,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    authenticate(shared, provider, headers)?;
    let limit = query_limit(query)?;
    let desc = match query.get("order").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::new(
                400,
                format!("Invalid value: '{other}'. Supported values are: 'asc' and 'desc'."),
            )
            .param("order")
            .code("invalid_value")
            .into())
        }
    };
    let until = shared.opts.polls_until_done;
    let state = shared.lock();
    let mut jobs: Vec<&VideoJob> = state
        .videos
        .iter()
        .filter(|j| j.provider == provider)
        .collect();
    if desc {
        jobs.reverse();
    }
    let start = match query.get("after") {
        Some(after) => jobs
            .iter()
            .position(|j| &j.id == after)
            .map_or(jobs.len(), |i| i + 1),
        None => 0,
    };
    let rest = &jobs[start..];
    let page = &rest[..rest.len().min(limit)];
    let has_more = rest.len() > page.len();
    let id_or_null =
        |j: Option<&&VideoJob>| j.map_or(Json::Plain(Value::Null), |j| j.id.clone().into());
    let body = obj([
        ("object", "list".into()),
        ("data", arr(page.iter().map(|j| j.to_json(until)))),
        ("first_id", id_or_null(page.first())),
        ("last_id", id_or_null(page.last())),
        ("has_more", has_more.into()),
    ]);
    drop(state);
    ok(&body)
}

/// `DELETE /v1/videos/{id}`
async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    either(delete_sync(&shared, provider, &id, &headers))
}

fn delete_sync(
    shared: &Shared,
    provider: Provider,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    authenticate(shared, provider, headers)?;
    let mut state = shared.lock();
    let at = state
        .videos
        .iter()
        .position(|j| j.provider == provider && j.id == id)
        .ok_or_else(|| not_found(id))?;
    state.videos.remove(at);
    drop(state);
    ok(&obj([
        ("id", id.into()),
        ("object", "video.deleted".into()),
        ("deleted", true.into()),
    ]))
}

/// `GET /v1/videos/{id}/content?variant=`
async fn content(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    either(content_sync(&shared, provider, &id, &query, &headers))
}

fn content_sync(
    shared: &Shared,
    provider: Provider,
    id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    authenticate(shared, provider, headers)?;
    let variant = match query.get("variant").map(String::as_str) {
        None => "video",
        Some(v) if VARIANTS.contains(&v) => v,
        Some(v) => {
            return Err(ApiError::new(
                400,
                format!(
                    "Invalid value: '{v}'. Supported values are: {}.",
                    quoted_list(VARIANTS, "and")
                ),
            )
            .param("variant")
            .code("invalid_value")
            .into())
        }
    };
    let job = find_job(shared, provider, id)?;
    match job.phase(shared.opts.polls_until_done) {
        Phase::Completed => {}
        Phase::Failed => {
            return Err(ApiError::new(
                400,
                format!("Video '{id}' failed to generate, so it has no content."),
            )
            .code("video_failed")
            .into())
        }
        Phase::Queued | Phase::InProgress => {
            return Err(ApiError::new(
                404,
                format!("Video is not ready yet, use GET /v1/videos/{id} to check status."),
            )
            .code("video_not_ready")
            .into())
        }
    }
    Ok(match variant {
        "thumbnail" => stream_body(
            Bytes::from(expected_image_bytes(id, "thumbnail")),
            "image/webp",
        ),
        "spritesheet" => stream_body(
            Bytes::from(expected_image_bytes(id, "spritesheet")),
            "image/jpeg",
        ),
        _ => stream_body(
            Bytes::from(expected_video_bytes(id, shared.opts.video_bytes)),
            "video/mp4",
        ),
    })
}

/// `POST /v1/videos/{id}/remix`
async fn remix(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either(
        async {
            authenticate(&shared, provider, &headers)?;
            let form = read_form(&headers, body, false).await?;
            form.reject_unknown(&["prompt"])?;
            let prompt = prompt(&form)?;
            let source = find_job(&shared, provider, &id)?;
            let new = NewJob {
                model: source.model,
                prompt,
                seconds: source.seconds,
                size: source.size,
                remixed_from: Some(source.id),
            };
            insert_job(&shared, provider, new)
        }
        .await,
    )
}

/// `POST /v1/videos/edits`
async fn edit(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either(
        async {
            authenticate(&shared, provider, &headers)?;
            let form = read_form(&headers, body, false).await?;
            form.reject_unknown(&["prompt", "video", "model"])?;
            let prompt = prompt(&form)?;
            let source = source_video(&shared, provider, &form)?;
            let model = text(&form, "model", "a string")?;
            let new = NewJob {
                model: model
                    .or_else(|| source.as_ref().map(|s| s.model.clone()))
                    .unwrap_or_else(|| "sora-2".to_owned()),
                prompt,
                seconds: source
                    .as_ref()
                    .map_or_else(|| "4".to_owned(), |s| s.seconds.clone()),
                size: source
                    .as_ref()
                    .map_or_else(|| "720x1280".to_owned(), |s| s.size.clone()),
                remixed_from: None,
            };
            insert_job(&shared, provider, new)
        }
        .await,
    )
}

/// `POST /v1/videos/extensions`
async fn extend(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either(
        async {
            authenticate(&shared, provider, &headers)?;
            let form = read_form(&headers, body, false).await?;
            form.reject_unknown(&["prompt", "video", "seconds", "model"])?;
            let prompt = prompt(&form)?;
            let seconds =
                enum_text(&form, "seconds", EXTENSION_SECONDS)?.unwrap_or_else(|| "8".to_owned());
            let source = source_video(&shared, provider, &form)?;
            let model = text(&form, "model", "a string")?;
            let new = NewJob {
                model: model
                    .or_else(|| source.as_ref().map(|s| s.model.clone()))
                    .unwrap_or_else(|| "sora-2".to_owned()),
                prompt,
                seconds,
                size: source
                    .as_ref()
                    .map_or_else(|| "720x1280".to_owned(), |s| s.size.clone()),
                remixed_from: None,
            };
            insert_job(&shared, provider, new)
        }
        .await,
    )
}

/// `POST /v1/videos/characters` (multipart only)
async fn create_character(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either(
        async {
            authenticate(&shared, provider, &headers)?;
            let form = read_form(&headers, body, true).await?;
            form.reject_unknown(&["name", "video"])?;
            let name = bounded_text(&form, "name", 1, 80)?;
            match form.get("video") {
                Some(Part::File { .. }) => {}
                None => return Err(missing("video").into()),
                Some(_) => {
                    return Err(ApiError::new(
                        400,
                        "Invalid type for 'video': expected a file, but got a string instead.",
                    )
                    .param("video")
                    .code("invalid_type")
                    .into())
                }
            }
            let mut state = shared.lock();
            state.counter += 1;
            let character = Character {
                provider,
                id: format!(
                    "char_{}",
                    hex(
                        mix(shared.salt ^ 0x000C_4A12).wrapping_add(state.counter),
                        32
                    )
                ),
                name,
                created_at: unix_now(),
            };
            let body = character.to_json();
            state.characters.push(character);
            drop(state);
            ok(&body)
        }
        .await,
    )
}

/// `GET /v1/videos/characters/{id}`
async fn get_character(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    either(get_character_sync(&shared, provider, &id, &headers))
}

fn get_character_sync(
    shared: &Shared,
    provider: Provider,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    authenticate(shared, provider, headers)?;
    let body = shared
        .lock()
        .characters
        .iter()
        .find(|c| c.provider == provider && c.id == id)
        .map(Character::to_json)
        .ok_or_else(|| {
            ApiError::new(404, format!("Character with id '{id}' not found.")).code("not_found")
        })?;
    ok(&body)
}

/// OpenAI's answer to an unknown URL.
pub(crate) fn invalid_url(method: &str, path: &str) -> Response {
    let mut resp: Response = ApiError::new(404, format!("Invalid URL ({method} {path})")).into();
    add_request_ids(provider_of(path), &mut resp);
    resp
}

/// The 429 the provider sends when a rate limit is hit.
fn rate_limited(provider: Provider, retry_after_secs: u64) -> Response {
    let mut resp = match provider {
        Provider::OpenAi => ApiError::new(
            429,
            format!(
                "Rate limit reached for sora-2 in organization org-mock on requests per min \
                 (RPM): Limit 2, Used 2, Requested 1. Please try again in {retry_after_secs}s. \
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
                            "Requests to the Videos Operation under Azure OpenAI API version v1 \
                             have exceeded call rate limit of your current AIServices S0 pricing \
                             tier. Please retry after {retry_after_secs} seconds. Please contact \
                             Azure support service if you would like to further increase the \
                             default rate limit."
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
        put("x-ratelimit-limit-requests", "2".to_owned());
        put("x-ratelimit-remaining-requests", "0".to_owned());
        put("x-ratelimit-reset-requests", format!("{retry_after_secs}s"));
    }
    resp
}

/// Fault answers in OpenAI's shapes for OpenAI/Azure paths; `None` for
/// other paths and for faults whose answer does not depend on the provider.
pub(crate) fn fault_response(action: &FaultAction, path: &str) -> Option<Response> {
    if !is_openai_path(path) {
        return None;
    }
    let provider = provider_of(path);
    let mut resp = match action {
        FaultAction::Status { .. }
        | FaultAction::Malformed
        | FaultAction::Delay { .. }
        | FaultAction::EchoCredential { .. } => return None,
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
    };
    add_request_ids(provider, &mut resp);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keys_like_openai() {
        assert_eq!(mask("short"), "*****");
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk-************mnop");
    }

    #[test]
    fn lists_read_like_english() {
        assert_eq!(quoted_list(SECONDS, "and"), "'4', '8', and '12'");
        assert_eq!(quoted_list(&["asc", "desc"], "or"), "'asc' or 'desc'");
    }

    #[test]
    fn phases_follow_polls() {
        let mut job = VideoJob {
            provider: Provider::OpenAi,
            id: "video_x".to_owned(),
            model: "sora-2".to_owned(),
            prompt: "p".to_owned(),
            seconds: "4".to_owned(),
            size: "720x1280".to_owned(),
            created_at: 10,
            completed_at: None,
            polls: 0,
            moderated: false,
            remixed_from: None,
        };
        assert_eq!(job.phase(2), Phase::Queued);
        job.polls = 1;
        assert_eq!(job.phase(2), Phase::InProgress);
        assert_eq!(job.phase(0), Phase::Completed);
        job.polls = 2;
        assert_eq!(job.phase(2), Phase::Completed);
        job.moderated = true;
        assert_eq!(job.phase(2), Phase::Failed);
    }
}
