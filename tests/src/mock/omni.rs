//! Gemini Omni video through the Interactions API, on the Gemini Developer
//! API (`/{v1,v1beta,v1alpha}/interactions…`, API key) and on Vertex AI
//! (`/v1beta1/projects/{p}/locations/{l}/interactions…`, bearer token), as
//! the December 2026 reference describes it (google-genai 3.6.1).
//!
//! | Wire | Mock |
//! |---|---|
//! | `POST …/interactions` | snake_case JSON; `model` must be `gemini-omni-*` (else 404); `input` a string, a content block or a list of blocks/steps; `response_format` an object or array with a `video` entry: `aspect_ratio` 16:9/9:16, `resolution` 360p/720p/1080p/4k, `duration` a string `"3s"`…`"10s"` (a number is a 400), `delivery` `inline`/`uri` (on Vertex `uri` needs `gcs_uri`, elsewhere `gcs_uri` is refused); `generation_config` only `seed` and `video_config.task`; `system_instruction` refused; unknown fields refused. `background: true` answers `{"id","status":"in_progress","object":"interaction"}`; without it the answer is the finished interaction |
//! | `GET …/interactions/{id}` (`?stream=false` accepted) | `in_progress` until [`MockOptions::polls_until_done`](super::MockOptions) polls, then the finished interaction: `steps` = user input, a thought, and a `model_output` holding the video (`uri`, or `data` for inline delivery) |
//! | `POST …/interactions/{id}/cancel` | a running background interaction → `cancelled` (answered); a finished one → 400 |
//! | `DELETE …/interactions/{id}` | 200 `{}`; the interaction is gone |
//! | unknown id (any call) | 400 `invalid_request` "Invalid interaction name" (not 404) |
//!
//! Uri delivery on the Gemini API points at `{base}/v1beta/files/{id}:download?alt=media`
//! (the Veo mock's file route serves it); on Vertex at `{gcs_uri}{interaction id}/video_0.mp4`,
//! an object the mock's Cloud Storage route serves with the same bearer. The video's bytes are
//! [`expected_video_bytes`]`(`[`omni_video_key`]`(…), video_bytes)` whichever way they come.
//!
//! Prompt markers: `[[blocked]]` → the create answers 400 "blocked due to
//! safety reasons"; `[[rai]]` → completed with only a text refusal (no
//! video); `[[unsafe]]` → `failed`, `model_output.error` code 3 naming the
//! safety filters; `[[internal]]` → `failed`, code 13; `[[inline-on-get]]` →
//! the status answer carries the video as `data` even for uri delivery (the
//! preview-era behaviour the reference warns about). An extension or edit
//! must name a video the mock generated (a file URI or its `gs://` object),
//! and `previous_interaction_id` a stored interaction of the same project.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::gemini::{outcome_of, Outcome};
use super::google;
use super::oauth::{bearer_status, BearerStatus};
use super::ordered::{arr, obj, Json};
use super::video::{expected_video_bytes, id12, mix};
use super::{unix_now, Shared};

/// Top-level create fields the API knows.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "input",
    "response_format",
    "generation_config",
    "background",
    "store",
    "stream",
    "previous_interaction_id",
    "webhook_config",
    "safety_settings",
    "service_tier",
    "labels",
    "system_instruction",
    "tools",
    "response_modalities",
    "response_mime_type",
];

const TASKS: &[&str] = &[
    "text_to_video",
    "image_to_video",
    "reference_to_video",
    "edit",
    "extend",
    "upscale",
];

/// Where an interaction was created.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Gemini,
    /// Vertex AI, with the project and location of the path.
    Vertex(String, String),
}

/// A video interaction.
#[derive(Debug, Clone)]
pub(crate) struct OmniInteraction {
    host: Host,
    model: String,
    prompt: String,
    background: bool,
    stored: bool,
    polls: u32,
    cancelled: bool,
    outcome: Outcome,
    inline_on_get: bool,
    /// `inline` or `uri`.
    delivery: String,
    /// Vertex output prefix (`gs://b/p/`).
    gcs_uri: Option<String>,
    created: u64,
    /// Gemini file id of the video, once generated.
    file_id: Option<String>,
}

/// The key whose [`expected_video_bytes`] are the video of an interaction:
/// its Gemini file id (`file` when known), else `"{interaction id}/video_0.mp4"`.
pub fn omni_video_key(interaction_id: &str, file: Option<&str>) -> String {
    match file {
        Some(f) => f.to_owned(),
        None => format!("{interaction_id}/video_0.mp4"),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for v in ["v1", "v1beta", "v1alpha"] {
        router = router
            .route(&format!("/{v}/interactions"), post(gemini_create))
            .route(
                &format!("/{v}/interactions/{{id}}"),
                get(gemini_get).delete(gemini_delete),
            )
            .route(
                &format!("/{v}/interactions/{{id}}/cancel"),
                post(gemini_cancel),
            );
    }
    let vertex = "/v1beta1/projects/{project}/locations/{location}/interactions";
    router
        .route(vertex, post(vertex_create))
        .route(
            &format!("{vertex}/{{id}}"),
            get(vertex_get).delete(vertex_delete),
        )
        .route(&format!("{vertex}/{{id}}/cancel"), post(vertex_cancel))
}

/// An Interactions API error: `{"error":{"code":"<name>","message":…}}`.
#[derive(Debug)]
struct IxError {
    status: u16,
    code: &'static str,
    message: String,
}

impl IntoResponse for IxError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        google::json_response(
            status,
            &obj([(
                "error",
                obj([
                    ("code", self.code.into()),
                    ("message", self.message.as_str().into()),
                ]),
            )]),
        )
    }
}

fn invalid(message: &str) -> IxError {
    IxError {
        status: 400,
        code: "invalid_request",
        message: message.to_owned(),
    }
}

fn unknown_interaction(id: &str) -> Response {
    invalid(&format!("Invalid interaction name: interactions/{id}")).into_response()
}

/// The Gemini API key, header first, then `?key=` (Google front-end errors).
fn gemini_auth(
    shared: &Shared,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Box<Response>> {
    let key = match headers.get("x-goog-api-key") {
        Some(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        None => query.get("key").cloned(),
    };
    match key {
        Some(k) if k == shared.opts.api_key => Ok(()),
        Some(_) => Err(Box::new(google::api_key_invalid().into_response())),
        None => Err(Box::new(google::unregistered_caller().into_response())),
    }
}

/// A Vertex bearer token this mock issued.
fn vertex_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match bearer_status(shared, headers) {
        BearerStatus::Valid => Ok(()),
        _ => Err(Box::new(google::error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
            vec![google::error_info_with(
                "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                "aiplatform.googleapis.com",
                None,
            )],
        ))),
    }
}

async fn gemini_create(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = gemini_auth(&shared, &headers, &query) {
        return *e;
    }
    create(&shared, Host::Gemini, &body)
}

async fn vertex_create(
    State(shared): State<Arc<Shared>>,
    Path((project, location)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = vertex_auth(&shared, &headers) {
        return *e;
    }
    create(&shared, Host::Vertex(project, location), &body)
}

async fn gemini_get(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = gemini_auth(&shared, &headers, &query) {
        return *e;
    }
    poll(&shared, &Host::Gemini, &id)
}

async fn vertex_get(
    State(shared): State<Arc<Shared>>,
    Path((project, location, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = vertex_auth(&shared, &headers) {
        return *e;
    }
    poll(&shared, &Host::Vertex(project, location), &id)
}

async fn gemini_cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = gemini_auth(&shared, &headers, &query) {
        return *e;
    }
    cancel(&shared, &Host::Gemini, &id)
}

async fn vertex_cancel(
    State(shared): State<Arc<Shared>>,
    Path((project, location, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = vertex_auth(&shared, &headers) {
        return *e;
    }
    cancel(&shared, &Host::Vertex(project, location), &id)
}

async fn gemini_delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = gemini_auth(&shared, &headers, &query) {
        return *e;
    }
    delete(&shared, &Host::Gemini, &id)
}

async fn vertex_delete(
    State(shared): State<Arc<Shared>>,
    Path((project, location, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = vertex_auth(&shared, &headers) {
        return *e;
    }
    delete(&shared, &Host::Vertex(project, location), &id)
}

/// What a valid create asks for.
struct Checked {
    model: String,
    prompt: String,
    background: bool,
    stored: bool,
    delivery: String,
    gcs_uri: Option<String>,
}

/// The text of a content block or list of blocks/steps; media are checked.
fn read_input(
    shared: &Shared,
    host: &Host,
    input: &Value,
    prompt: &mut String,
) -> Result<(), IxError> {
    match input {
        Value::String(text) => {
            prompt.push_str(text);
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| read_input(shared, host, item, prompt)),
        Value::Object(block) => {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            match kind {
                "user_input" => match block.get("content") {
                    Some(content) => read_input(shared, host, content, prompt),
                    None => Err(invalid("A user_input step needs `content`.")),
                },
                "text" => match block.get("text").and_then(Value::as_str) {
                    Some(text) => {
                        if !prompt.is_empty() {
                            prompt.push(' ');
                        }
                        prompt.push_str(text);
                        Ok(())
                    }
                    None => Err(invalid("A text block needs a string `text`.")),
                },
                "image" => {
                    let mime = block.get("mime_type").and_then(Value::as_str).unwrap_or("");
                    if !mime.starts_with("image/") {
                        return Err(invalid(&format!("Unsupported image mime_type {mime:?}.")));
                    }
                    match (block.get("data"), block.get("uri")) {
                        (Some(Value::String(data)), None) if STANDARD.decode(data).is_ok() => {
                            Ok(())
                        }
                        (None, Some(Value::String(_))) => Ok(()),
                        _ => Err(invalid(
                            "An image block needs base64 `data` or a `uri`, not both.",
                        )),
                    }
                }
                "video" => {
                    let Some(uri) = block.get("uri").and_then(Value::as_str) else {
                        return Err(invalid("A video block needs a `uri` here."));
                    };
                    if known_video(shared, host, uri) {
                        Ok(())
                    } else {
                        Err(invalid(&format!("The video {uri} was not found.")))
                    }
                }
                other => Err(invalid(&format!("Unsupported content type {other:?}."))),
            }
        }
        other => Err(invalid(&format!("Invalid value for `input`: {other}"))),
    }
}

/// A video this mock generated: a Gemini file URI (`…/files/{id}`) or, on
/// Vertex, the `gs://` object of one of the project's interactions.
fn known_video(shared: &Shared, host: &Host, uri: &str) -> bool {
    let state = shared.lock();
    match host {
        Host::Gemini => uri
            .split_once("/files/")
            .map(|(_, rest)| rest.split([':', '?']).next().unwrap_or(""))
            .is_some_and(|id| state.files.contains(id)),
        Host::Vertex(..) => state.omni.iter().any(|(id, ix)| {
            ix.host == *host
                && ix
                    .gcs_uri
                    .as_deref()
                    .is_some_and(|prefix| uri == format!("{prefix}{id}/video_0.mp4"))
        }),
    }
}

fn check(shared: &Shared, host: &Host, body: &[u8]) -> Result<Checked, IxError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid JSON payload received."))?;
    let Value::Object(root) = value else {
        return Err(invalid("The request body must be a JSON object."));
    };
    if let Some(unknown) = root.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(invalid(&format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        )));
    }
    let model = match root.get("model") {
        Some(Value::String(m)) => m.clone(),
        _ => return Err(invalid("`model` is required.")),
    };
    if !model.starts_with("gemini-omni-") {
        return Err(IxError {
            status: 404,
            code: "not_found",
            message: format!("Model {model} was not found or does not support interactions."),
        });
    }
    if root.contains_key("system_instruction") {
        return Err(invalid(
            "System instructions are not supported for this model.",
        ));
    }
    let flag = |name: &str| -> Result<bool, IxError> {
        match root.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(invalid(&format!("Invalid value for `{name}`: {other}"))),
        }
    };
    let background = flag("background")?;
    let stored = match root.get("store") {
        None | Some(Value::Null) => true,
        _ => flag("store")?,
    };
    let continues = match root.get("previous_interaction_id") {
        None | Some(Value::Null) => false,
        Some(Value::String(id)) => {
            let state = shared.lock();
            match state.omni.get(id) {
                Some(ix) if ix.host == *host && ix.stored => true,
                _ => {
                    return Err(invalid(&format!(
                        "Previous interaction {id} was not found or was not stored."
                    )))
                }
            }
        }
        Some(other) => {
            return Err(invalid(&format!(
                "Invalid value for `previous_interaction_id`: {other}"
            )))
        }
    };
    let mut prompt = String::new();
    match root.get("input") {
        Some(input) => read_input(shared, host, input, &mut prompt)?,
        None if continues => {}
        None => return Err(invalid("`input` is required.")),
    }
    if let Some(config) = root.get("generation_config") {
        let Value::Object(config) = config else {
            return Err(invalid("`generation_config` must be an object."));
        };
        for (name, value) in config {
            match (name.as_str(), value) {
                ("seed", Value::Number(n)) if n.is_u64() || n.is_i64() => {}
                ("video_config", Value::Object(video)) => {
                    for (k, v) in video {
                        match (k.as_str(), v.as_str()) {
                            ("task", Some(task)) if TASKS.contains(&task) => {}
                            _ => {
                                return Err(invalid(&format!(
                                    "Invalid value at 'generation_config.video_config.{k}': {v}"
                                )))
                            }
                        }
                    }
                }
                ("temperature" | "top_p" | "top_k" | "stop_sequences", _) => {
                    return Err(invalid(&format!(
                        "`generation_config.{name}` is not supported for video generation."
                    )))
                }
                _ => {
                    return Err(invalid(&format!(
                        "Invalid value at 'generation_config.{name}': {value}"
                    )))
                }
            }
        }
    }
    let format = match root.get("response_format") {
        Some(Value::Object(f)) => Some(f.clone()),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .find(|f| f.get("type").and_then(Value::as_str) == Some("video"))
            .cloned(),
        None => None,
        Some(other) => return Err(invalid(&format!("Invalid `response_format`: {other}"))),
    };
    let (delivery, gcs_uri) = match format {
        Some(f) => check_format(&f, host)?,
        None => (String::from("inline"), None),
    };
    Ok(Checked {
        model,
        prompt,
        background,
        stored,
        delivery,
        gcs_uri,
    })
}

fn check_format(f: &Map<String, Value>, host: &Host) -> Result<(String, Option<String>), IxError> {
    let text = |name: &str| f.get(name).and_then(Value::as_str);
    if text("type") != Some("video") {
        return Err(invalid(
            "`response_format.type` must be \"video\" for this model.",
        ));
    }
    for (name, allowed) in [
        ("aspect_ratio", &["16:9", "9:16"][..]),
        ("resolution", &["360p", "720p", "1080p", "4k"][..]),
        ("delivery", &["inline", "uri"][..]),
    ] {
        match f.get(name) {
            None => {}
            Some(Value::String(v)) if allowed.contains(&v.as_str()) => {}
            Some(v) => {
                return Err(invalid(&format!(
                    "Invalid value at 'response_format.{name}': {v}; supported: {}",
                    allowed.join(", ")
                )))
            }
        }
    }
    match f.get("duration") {
        None => {}
        Some(Value::String(d)) => {
            let secs = d.strip_suffix('s').and_then(|n| n.parse::<u32>().ok());
            if !secs.is_some_and(|s| (3..=10).contains(&s)) {
                return Err(invalid(&format!(
                    "`response_format.duration` must be between 3s and 10s, got {d:?}."
                )));
            }
        }
        Some(v) => {
            return Err(invalid(&format!(
                "Invalid value at 'response_format.duration' \
                 (type.googleapis.com/google.protobuf.Duration), {v}"
            )))
        }
    }
    let delivery = text("delivery").unwrap_or("inline").to_owned();
    let gcs_uri = text("gcs_uri").map(str::to_owned);
    match (host, delivery.as_str(), &gcs_uri) {
        (Host::Gemini, _, Some(_)) => Err(invalid(
            "`response_format.gcs_uri` is only supported on Vertex AI.",
        )),
        (Host::Vertex(..), "uri", None) => Err(invalid(
            "`response_format.gcs_uri` is required for uri delivery.",
        )),
        (_, _, Some(uri)) if !uri.starts_with("gs://") || !uri.ends_with('/') => Err(invalid(
            "`response_format.gcs_uri` must be a gs://bucket/prefix/ URI.",
        )),
        _ => Ok((delivery, gcs_uri)),
    }
}

fn create(shared: &Shared, host: Host, body: &[u8]) -> Response {
    let checked = match check(shared, &host, body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if checked.prompt.contains("[[blocked]]") {
        return invalid(
            "The request was blocked due to safety reasons. Please try a different prompt.",
        )
        .into_response();
    }
    let id = {
        let mut state = shared.lock();
        state.counter += 1;
        let seed = mix(shared.salt ^ 0x0000_0147).wrapping_add(state.counter);
        let id = format!("v1_{}{}", id12(seed), id12(seed ^ 0x5a5a));
        let mut ix = OmniInteraction {
            host,
            model: checked.model,
            outcome: outcome_of(&checked.prompt),
            inline_on_get: checked.prompt.contains("[[inline-on-get]]"),
            prompt: checked.prompt,
            background: checked.background,
            stored: checked.stored,
            polls: 0,
            cancelled: false,
            delivery: checked.delivery,
            gcs_uri: checked.gcs_uri,
            created: unix_now(),
            file_id: None,
        };
        if !ix.background {
            // Without `background` the call blocks for the whole generation.
            ix.polls = u32::MAX;
        }
        state.omni.insert(id.clone(), ix);
        id
    };
    if checked.background {
        return google::json_response(
            StatusCode::OK,
            &obj([
                ("id", id.as_str().into()),
                ("status", "in_progress".into()),
                ("object", "interaction".into()),
            ]),
        );
    }
    let mut state = shared.lock();
    let body = render(shared, &mut state, &id);
    google::json_response(StatusCode::OK, &body)
}

fn poll(shared: &Shared, host: &Host, id: &str) -> Response {
    let mut state = shared.lock();
    match state.omni.get_mut(id) {
        Some(ix) if ix.host == *host => ix.polls = ix.polls.saturating_add(1),
        _ => return unknown_interaction(id),
    }
    let body = render(shared, &mut state, id);
    google::json_response(StatusCode::OK, &body)
}

fn cancel(shared: &Shared, host: &Host, id: &str) -> Response {
    let mut state = shared.lock();
    let polls_until_done = shared.opts.polls_until_done;
    match state.omni.get_mut(id) {
        Some(ix) if ix.host == *host => {
            if !ix.background {
                return invalid("Only background interactions can be cancelled.").into_response();
            }
            if ix.cancelled || ix.polls >= polls_until_done {
                return invalid(&format!(
                    "Interaction {id} is not running and cannot be cancelled."
                ))
                .into_response();
            }
            ix.cancelled = true;
        }
        _ => return unknown_interaction(id),
    }
    let body = render(shared, &mut state, id);
    google::json_response(StatusCode::OK, &body)
}

fn delete(shared: &Shared, host: &Host, id: &str) -> Response {
    let mut state = shared.lock();
    match state.omni.get(id) {
        Some(ix) if ix.host == *host => {
            state.omni.remove(id);
            google::json_response(StatusCode::OK, &obj([]))
        }
        _ => unknown_interaction(id),
    }
}

fn rfc3339(t: u64) -> String {
    let days = i64::try_from(t / 86_400).unwrap_or(0);
    let secs = t % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The interaction `id` as the API shows it now (generating its video the
/// first time it is seen finished).
fn render(shared: &Shared, state: &mut super::MockState, id: &str) -> Json {
    state.counter += 1;
    let counter = state.counter;
    let polls_until_done = shared.opts.polls_until_done;
    let Some(ix) = state.omni.get(id).cloned() else {
        return obj([]);
    };
    let finished = !ix.cancelled && ix.polls >= polls_until_done;
    let status = if ix.cancelled {
        "cancelled"
    } else if !finished {
        "in_progress"
    } else {
        match ix.outcome {
            Outcome::Videos | Outcome::RaiFiltered => "completed",
            Outcome::Unsafe | Outcome::Internal => "failed",
        }
    };
    let mut body = obj([
        ("id", id.into()),
        ("object", "interaction".into()),
        ("model", ix.model.as_str().into()),
        ("status", status.into()),
        ("created", rfc3339(ix.created).as_str().into()),
        ("updated", rfc3339(unix_now()).as_str().into()),
        ("role", "model".into()),
    ]);
    if !finished {
        return body;
    }
    let user = obj([
        ("type", "user_input".into()),
        (
            "content",
            arr([obj([
                ("type", "text".into()),
                ("text", ix.prompt.as_str().into()),
            ])]),
        ),
    ]);
    let thought = obj([
        ("type", "thought".into()),
        (
            "summary",
            arr([obj([
                ("type", "text".into()),
                ("text", "Planning the shot and the soundtrack.".into()),
            ])]),
        ),
    ]);
    let (output, video_tokens) = match ix.outcome {
        Outcome::Videos => {
            let video = video_block(shared, state, id, &ix, counter);
            (
                obj([("type", "model_output".into()), ("content", arr([video]))]),
                28_832u32,
            )
        }
        Outcome::RaiFiltered => (
            obj([
                ("type", "model_output".into()),
                (
                    "content",
                    arr([obj([
                        ("type", "text".into()),
                        (
                            "text",
                            "I can't create that video because it may violate the usage policy."
                                .into(),
                        ),
                    ])]),
                ),
            ]),
            0,
        ),
        Outcome::Unsafe => (
            failed_output(
                3,
                "The generated video was blocked by the safety filters. You have not been charged.",
            ),
            0,
        ),
        Outcome::Internal => (failed_output(13, "Internal error encountered."), 0),
    };
    body.push("steps", arr([user, thought, output]));
    let mut by_modality = Vec::new();
    if video_tokens > 0 {
        by_modality.push(obj([
            ("modality", "video".into()),
            ("tokens", video_tokens.into()),
        ]));
    }
    body.push(
        "usage",
        obj([
            ("total_input_tokens", 26u32.into()),
            ("total_output_tokens", video_tokens.into()),
            ("total_thought_tokens", 453u32.into()),
            ("total_tokens", (26 + 453 + video_tokens).into()),
            (
                "input_tokens_by_modality",
                arr([obj([("modality", "text".into()), ("tokens", 26u32.into())])]),
            ),
            ("output_tokens_by_modality", Json::Array(by_modality)),
        ]),
    );
    body
}

fn failed_output(code: u32, message: &str) -> Json {
    obj([
        ("type", "model_output".into()),
        ("content", arr([])),
        (
            "error",
            obj([
                ("code", code.into()),
                ("message", message.into()),
                ("details", arr([])),
            ]),
        ),
    ])
}

/// The video block of a finished interaction, generating its file once.
fn video_block(
    shared: &Shared,
    state: &mut super::MockState,
    id: &str,
    ix: &OmniInteraction,
    counter: u64,
) -> Json {
    let len = shared.opts.video_bytes;
    let mut block = obj([("type", "video".into()), ("mime_type", "video/mp4".into())]);
    match (&ix.host, ix.delivery.as_str()) {
        (Host::Gemini, "uri") => {
            let file_id = match &ix.file_id {
                Some(f) => f.clone(),
                None => {
                    let f = id12(mix(shared.salt ^ 0x000F_11E5).wrapping_add(counter << 3));
                    state.files.insert(f.clone());
                    if let Some(stored) = state.omni.get_mut(id) {
                        stored.file_id = Some(f.clone());
                    }
                    f
                }
            };
            if ix.inline_on_get {
                let bytes = expected_video_bytes(&omni_video_key(id, Some(&file_id)), len);
                block.push("data", STANDARD.encode(bytes).as_str().into());
            } else {
                let uri = format!(
                    "{}/v1beta/files/{file_id}:download?alt=media",
                    shared.base_url
                );
                block.push("uri", uri.as_str().into());
            }
        }
        (Host::Vertex(..), "uri") => {
            let prefix = ix.gcs_uri.clone().unwrap_or_default();
            let uri = format!("{prefix}{id}/video_0.mp4");
            // Stored like Veo's outputs, so the Cloud Storage route serves it.
            if let Some((bucket, object)) = uri
                .strip_prefix("gs://")
                .and_then(|rest| rest.split_once('/'))
            {
                state
                    .gcs
                    .entry((bucket.to_owned(), object.to_owned()))
                    .or_insert_with(|| {
                        super::vertex::GcsObject::new(omni_video_key(id, None), ix.created)
                    });
            }
            block.push("uri", uri.as_str().into());
        }
        _ => {
            let bytes = expected_video_bytes(&omni_video_key(id, None), len);
            block.push("data", STANDARD.encode(bytes).as_str().into());
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_292_000), "2026-12-03T10:00:00Z");
    }
}
