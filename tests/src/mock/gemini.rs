//! The Gemini Developer API's Veo surface (`generativelanguage.googleapis.com`,
//! API version `v1beta`), as observed from google-genai 2.34.
//!
//! | Wire | Mock |
//! |---|---|
//! | `x-goog-api-key: K` or `?key=K` | only [`MockOptions::api_key`](super::MockOptions) passes; none → 403 `PERMISSION_DENIED`, wrong → 400 `API_KEY_INVALID` |
//! | model `veo-*` | known; anything else → 404 `NOT_FOUND` |
//! | `instances[0].prompt` | string (may be absent when `instances[0].image` is given) |
//! | `parameters.durationSeconds` | integer 4..=8 |
//! | `parameters.aspectRatio` | `16:9` or `9:16` |
//! | `parameters.resolution` | `720p`, `1080p` or `4k` |
//! | `parameters.sampleCount` | 1..=4, one video per sample |
//! | other `parameters.*` | known names pass unchecked, unknown → 400 "Unknown name" |

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::google::{self, GoogleError};
use super::ordered::{arr, obj, Json};
use super::video::{expected_video_bytes, id12, mix, signature, stream_body};
use super::Shared;

/// Parameter names Veo accepts.
const KNOWN_PARAMETERS: &[&str] = &[
    "sampleCount",
    "durationSeconds",
    "aspectRatio",
    "resolution",
    "personGeneration",
    "negativePrompt",
    "enhancePrompt",
    "seed",
    "generateAudio",
    "storageUri",
    "fps",
    "compressionQuality",
    "resizeMode",
];

/// Top-level request fields the API accepts.
const KNOWN_TOP_LEVEL: &[&str] = &["instances", "parameters", "webhookConfig"];

/// What a `predictLongRunning` body may hold beyond the Gemini API's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extra {
    /// More top-level fields.
    pub(crate) top_level: &'static [&'static str],
    /// More `parameters.*` names.
    pub(crate) parameters: &'static [&'static str],
}

/// The Gemini API itself: nothing extra.
const GEMINI: Extra = Extra {
    top_level: &[],
    parameters: &[],
};

const METADATA_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningMetadata";
const RESPONSE_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse";

pub(crate) const RAI_REASON: &str =
    "We encountered an issue with the audio for your prompt. You have not \
     been charged for this request. Please try a different prompt.";
pub(crate) const UNSAFE_MESSAGE: &str =
    "The prompt could not be submitted. This prompt contains words that \
     violate Google's Responsible AI practices. Try rephrasing the prompt. Support codes: 58061214";

/// How an operation ends, chosen by markers in the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `sample_count` videos.
    Videos,
    /// `[[rai]]`: output filtered, no samples.
    RaiFiltered,
    /// `[[unsafe]]`: operation error, gRPC code 3.
    Unsafe,
    /// `[[internal]]`: operation error, gRPC code 13.
    Internal,
}

/// A long-running video generation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    model: String,
    polls: u32,
    sample_count: u32,
    outcome: Outcome,
    /// Filled when the operation first reports done.
    file_ids: Vec<String>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1beta/models/{model_action}", post(create))
        .route("/v1beta/models/{model}/operations/{op_id}", get(poll))
        .route("/v1beta/files/{file_action}", get(download))
        .route("/_mock/blob/{file_id}", get(blob))
}

/// Checks the API key like Google: header first, then `?key=`.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), GoogleError> {
    let key = match headers.get("x-goog-api-key") {
        Some(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        None => query.get("key").cloned(),
    };
    match key {
        Some(k) if k == shared.opts.api_key => Ok(()),
        Some(_) => Err(google::api_key_invalid()),
        None if headers.contains_key(header::AUTHORIZATION) => Err(GoogleError::new(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .with_detail(google::error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED"))),
        None => Err(google::unregistered_caller()),
    }
}

/// What the mock needs from a valid create request.
pub(crate) struct CreateRequest {
    pub(crate) prompt: String,
    pub(crate) sample_count: u32,
    /// `parameters.storageUri`, checked to be `gs://bucket[/prefix]`.
    pub(crate) storage_uri: Option<String>,
}

/// The outcome the markers in `prompt` ask for.
pub(crate) fn outcome_of(prompt: &str) -> Outcome {
    if prompt.contains("[[rai]]") {
        Outcome::RaiFiltered
    } else if prompt.contains("[[unsafe]]") {
        Outcome::Unsafe
    } else if prompt.contains("[[internal]]") {
        Outcome::Internal
    } else {
        Outcome::Videos
    }
}

fn out_of_bound(name: &str, lo: i64, hi: i64) -> GoogleError {
    google::invalid_argument(format!(
        "The number value for `{name}` is out of bound. Please provide a value between {lo} \
         and {hi}, inclusive."
    ))
}

/// An integer parameter within `lo..=hi`; `8.0` counts as an integer.
fn int_param(
    params: &Map<String, Value>,
    name: &str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, GoogleError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    let Some(n) = n else {
        return Err(google::invalid_argument(format!(
            "Invalid value at 'parameters.{name}' (TYPE_INT32), {v}"
        )));
    };
    if n < lo || n > hi {
        return Err(out_of_bound(name, lo, hi));
    }
    Ok(Some(n))
}

fn enum_param(
    params: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<(), GoogleError> {
    match params.get(name) {
        None => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(v) => Err(google::invalid_argument(format!(
            "Unsupported value {v} for `{name}`. Supported values are: {}.",
            allowed.join(", ")
        ))),
    }
}

/// Validates a `predictLongRunning` body like the Gemini API does.
fn validate(body: &[u8]) -> Result<CreateRequest, GoogleError> {
    validate_with(body, GEMINI)
}

/// Validates a `predictLongRunning` body, also accepting the `extra` fields.
pub(crate) fn validate_with(body: &[u8], extra: Extra) -> Result<CreateRequest, GoogleError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| {
            google::invalid_argument("Invalid JSON payload received. Unexpected token.")
        })?
    };
    let Value::Object(root) = value else {
        return Err(google::invalid_argument(
            "Invalid JSON payload received. Unknown name \"\": Root element must be a message.",
        ));
    };
    if let Some(unknown) = root
        .keys()
        .find(|k| !KNOWN_TOP_LEVEL.contains(&k.as_str()) && !extra.top_level.contains(&k.as_str()))
    {
        return Err(google::invalid_argument(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        )));
    }
    let instance = match root.get("instances") {
        None => {
            return Err(google::invalid_argument(
                "* PredictLongRunningRequest.instances: instances is not specified\n",
            ))
        }
        Some(Value::Array(a)) => match a.first() {
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(google::invalid_argument(
                    "Invalid value at 'instances[0]': each instance must be an object.",
                ))
            }
            None => {
                return Err(google::invalid_argument(
                    "* PredictLongRunningRequest.instances: instances is not specified\n",
                ))
            }
        },
        Some(v) => {
            return Err(google::invalid_argument(format!(
                "Invalid value at 'instances' (type.googleapis.com/google.protobuf.ListValue), {v}"
            )))
        }
    };
    let prompt = match instance.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        None if instance.contains_key("image") => String::new(),
        None => {
            return Err(google::invalid_argument(
                "A text prompt is required: instances[0].prompt is missing.",
            ))
        }
        Some(v) => {
            return Err(google::invalid_argument(format!(
                "Invalid value at 'instances[0].prompt' (TYPE_STRING), {v}"
            )))
        }
    };
    let mut sample_count = 1;
    let mut storage_uri = None;
    match root.get("parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(params)) => {
            if let Some(unknown) = params.keys().find(|k| {
                !KNOWN_PARAMETERS.contains(&k.as_str()) && !extra.parameters.contains(&k.as_str())
            }) {
                return Err(google::invalid_argument(format!(
                    "Invalid JSON payload received. Unknown name \"{unknown}\" at 'parameters': \
                     Cannot find field."
                )));
            }
            int_param(params, "durationSeconds", 4, 8)?;
            enum_param(params, "aspectRatio", &["16:9", "9:16"])?;
            enum_param(params, "resolution", &["720p", "1080p", "4k"])?;
            if let Some(n) = int_param(params, "sampleCount", 1, 4)? {
                sample_count = u32::try_from(n).unwrap_or(1);
            }
            match params.get("storageUri") {
                None | Some(Value::Null) => {}
                Some(Value::String(uri))
                    if uri
                        .strip_prefix("gs://")
                        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) =>
                {
                    storage_uri = Some(uri.clone());
                }
                Some(v) => {
                    return Err(google::invalid_argument(format!(
                        "Invalid value {v} for `storageUri`. It must be a Cloud Storage URI of \
                         the form gs://bucket/path/."
                    )))
                }
            }
        }
        Some(v) => {
            return Err(google::invalid_argument(format!(
                "Invalid value at 'parameters' (type.googleapis.com/google.protobuf.Struct), {v}"
            )))
        }
    }
    Ok(CreateRequest {
        prompt,
        sample_count,
        storage_uri,
    })
}

/// The `response` field of a done operation.
fn done_response(generate_video_response: Json) -> (&'static str, Json) {
    (
        "response",
        obj([
            ("@type", RESPONSE_TYPE.into()),
            ("generateVideoResponse", generate_video_response),
        ]),
    )
}

/// The `error` field of a failed operation; `code` is a gRPC code.
fn done_error(code: u32, message: &str) -> (&'static str, Json) {
    (
        "error",
        obj([("code", code.into()), ("message", message.into())]),
    )
}

/// `POST /v1beta/models/{model}:predictLongRunning`
async fn create(
    State(shared): State<Arc<Shared>>,
    Path(model_action): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((model, action)) = model_action.split_once(':') else {
        return google::not_found_page(&format!("/v1beta/models/{model_action}"));
    };
    if let Err(e) = authenticate(&shared, &headers, &query) {
        return e.into_response();
    }
    if action != "predictLongRunning" || !model.starts_with("veo-") {
        return google::error(
            404,
            &format!(
                "models/{model} is not found for API version v1beta, or is not supported for \
                 {action}. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
            Vec::new(),
        );
    }
    let req = match validate(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let outcome = outcome_of(&req.prompt);
    let name = {
        let mut state = shared.lock();
        state.counter += 1;
        let op_id = id12(mix(shared.salt).wrapping_add(state.counter));
        state.ops.insert(
            op_id.clone(),
            Operation {
                model: model.to_owned(),
                polls: 0,
                sample_count: req.sample_count,
                outcome,
                file_ids: Vec::new(),
            },
        );
        format!("models/{model}/operations/{op_id}")
    };
    google::json_response(StatusCode::OK, &obj([("name", name.into())]))
}

/// `GET /v1beta/models/{model}/operations/{op_id}`
async fn poll(
    State(shared): State<Arc<Shared>>,
    Path((model, op_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&shared, &headers, &query) {
        return e.into_response();
    }
    let name = format!("models/{model}/operations/{op_id}");
    let mut guard = shared.lock();
    let state = &mut *guard;
    state.counter += 1;
    let counter = state.counter;
    let Some(op) = state.ops.get_mut(&op_id).filter(|op| op.model == model) else {
        return google::entity_not_found();
    };
    op.polls = op.polls.saturating_add(1);
    if op.polls < shared.opts.polls_until_done {
        return google::json_response(
            StatusCode::OK,
            &obj([
                ("name", name.into()),
                ("metadata", obj([("@type", METADATA_TYPE.into())])),
            ]),
        );
    }
    let outcome = match op.outcome {
        Outcome::Videos => {
            if op.file_ids.is_empty() {
                for i in 0..op.sample_count {
                    let seed =
                        mix(shared.salt ^ 0x000F_11E5).wrapping_add(counter << 3 | u64::from(i));
                    let id = id12(seed);
                    state.files.insert(id.clone());
                    op.file_ids.push(id);
                }
            }
            let samples = op.file_ids.iter().map(|id| {
                let uri = format!("{}/v1beta/files/{id}:download?alt=media", shared.base_url);
                obj([("video", obj([("uri", uri.into())]))])
            });
            done_response(obj([("generatedSamples", arr(samples))]))
        }
        Outcome::RaiFiltered => done_response(obj([
            ("raiMediaFilteredCount", 1u32.into()),
            ("raiMediaFilteredReasons", arr([RAI_REASON.into()])),
        ])),
        Outcome::Unsafe => done_error(3, UNSAFE_MESSAGE),
        Outcome::Internal => done_error(13, "Internal error encountered."),
    };
    let body = obj([("name", name.into()), ("done", true.into()), outcome]);
    drop(guard);
    google::json_response(StatusCode::OK, &body)
}

/// `GET /v1beta/files/{file_id}:download?alt=media` → 302 to the signed blob URL.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path(file_action): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&shared, &headers, &query) {
        return e.into_response();
    }
    let Some((file_id, "download")) = file_action.split_once(':') else {
        return google::entity_not_found();
    };
    if query.get("alt").map(String::as_str) != Some("media") {
        return google::invalid_argument(
            "Download requests must set the query parameter alt=media.",
        )
        .into_response();
    }
    if !shared.lock().files.contains(file_id) {
        return google::entity_not_found();
    }
    let location = format!(
        "{}/_mock/blob/{file_id}?sig={}",
        shared.base_url,
        signature(file_id, shared.salt)
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `GET /_mock/blob/{file_id}?sig=…`: the redirect target; no API key, like a
/// signed storage URL.
async fn blob(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !shared.lock().files.contains(&file_id) {
        return (StatusCode::NOT_FOUND, "No such object.").into_response();
    }
    if query.get("sig") != Some(&signature(&file_id, shared.salt)) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch</Code>\
             <Message>The request signature we calculated does not match the signature you \
             provided.</Message></Error>",
        )
            .into_response();
    }
    let bytes = expected_video_bytes(&file_id, shared.opts.video_bytes);
    stream_body(Bytes::from(bytes), "video/mp4")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(body: &str) -> u16 {
        match validate(body.as_bytes()) {
            Ok(_) => 200,
            Err(e) => e.code,
        }
    }

    #[test]
    fn validation_follows_the_documented_table() {
        assert_eq!(status_of(r#"{"instances":[{"prompt":"a cat"}]}"#), 200);
        assert_eq!(
            status_of(
                r#"{"instances":[{"prompt":"a"}],"parameters":{"durationSeconds":8,"aspectRatio":"9:16","resolution":"4k","sampleCount":4,"seed":1}}"#
            ),
            200
        );
        assert_eq!(
            status_of(r#"{"instances":[{"prompt":"a"}],"parameters":{"durationSeconds":8.0}}"#),
            200
        );
        assert_eq!(status_of(r#"{"instances":[{"image":{}}]}"#), 200);
        assert_eq!(status_of(r#"{"instances":[]}"#), 400);
        assert_eq!(status_of(r#"{}"#), 400);
        assert_eq!(status_of(r#"[]"#), 400);
        assert_eq!(status_of(r#"not json"#), 400);
        assert_eq!(status_of(r#"{"instances":[{"prompt":1}]}"#), 400);
        assert_eq!(
            status_of(r#"{"instances":[{"prompt":"a"}],"bogus":1}"#),
            400
        );
        for p in [
            r#"{"durationSeconds":9}"#,
            r#"{"durationSeconds":3}"#,
            r#"{"durationSeconds":"8"}"#,
            r#"{"durationSeconds":5.5}"#,
            r#"{"aspectRatio":"1:1"}"#,
            r#"{"resolution":"480p"}"#,
            r#"{"sampleCount":0}"#,
            r#"{"sampleCount":5}"#,
            r#"{"xyz":1}"#,
        ] {
            let body = format!(r#"{{"instances":[{{"prompt":"a"}}],"parameters":{p}}}"#);
            assert_eq!(status_of(&body), 400, "{p}");
        }
    }
}
