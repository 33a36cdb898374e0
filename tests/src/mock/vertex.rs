//! Veo on Vertex AI (`{location}-aiplatform.googleapis.com`, API versions
//! `v1` and `v1beta1`) and the Cloud Storage JSON API download its
//! `storageUri` outputs go through.
//!
//! | Wire | Mock |
//! |---|---|
//! | `Authorization: Bearer <token>` | only tokens issued by `POST /token` and unexpired; else 401 `UNAUTHENTICATED` |
//! | `POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning` | validates like Gemini plus Vertex-only fields; `{"name":"projects/{p}/locations/{l}/publishers/google/models/{m}/operations/<uuid>"}` |
//! | GA fields | instance fields `prompt`, `image`, `lastFrame` (needs `image`), `video`, `referenceImages` (≤ 3, `asset`), `mask`; unknown names 400; `personGeneration`, `seed` (uint32), `generateAudio` checked; `-lite-` models refuse 4k, `lastFrame`, `referenceImages` |
//! | extension (`instances[0].video.gcsUri`) | the object must exist in the mock bucket; the operation's result is served like any other |
//! | model not `veo-*` | 404 "Publisher Model `…` was not found or your project does not have access to it. …" |
//! | `POST …/models/{m}:fetchPredictOperation` `{"operationName":"<name>"}` | `{"name"}` until [`MockOptions::polls_until_done`](super::MockOptions) polls, then `done` |
//! | done, no `storageUri` | `videos[i] = {"bytesBase64Encoded":…,"mimeType":"video/mp4"}` |
//! | done, `storageUri: gs://b/prefix/` | `videos[i] = {"gcsUri":"gs://b/prefix/<uuid>/sample_<i>.mp4","mimeType":"video/mp4"}`, object stored |
//! | `GET /storage/v1/b/{bucket}/o/{object}?alt=media` (also `/download/storage/v1/…`) | same bearer token; the bytes, `video/mp4`, streamed; without `alt=media` the object's metadata |
//!
//! Video bytes are [`expected_video_bytes`]`(`[`vertex_sample_key`]`(name, i),
//! video_bytes)` whichever way they are delivered. Prompt markers as in the
//! Gemini mock (`[[rai]]`, `[[unsafe]]`, `[[internal]]`), with Vertex shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::gemini::{self, Extra, Outcome};
use super::google::{self, GoogleError};
use super::oauth::{bearer_status, BearerStatus};
use super::ordered::{arr, obj, Json};
use super::video::{expected_video_bytes, mix, stream_body, uuid};
use super::Shared;

const RESPONSE_TYPE: &str =
    "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse";

/// Request fields Vertex accepts beyond the Gemini API's.
const VERTEX: Extra = Extra {
    top_level: &["labels"],
    parameters: &["addWatermark", "includeRaiReason", "outputOptions"],
};

/// A Vertex long-running video generation.
#[derive(Debug, Clone)]
pub(crate) struct VertexOp {
    model: String,
    polls: u32,
    sample_count: u32,
    outcome: Outcome,
    /// `(bucket, object prefix ending in '/' or empty)` from `storageUri`.
    storage: Option<(String, String)>,
}

/// A Cloud Storage object the mock serves.
#[derive(Debug, Clone)]
pub(crate) struct GcsObject {
    /// Seed of [`expected_video_bytes`].
    key: String,
    /// Unix seconds.
    created: u64,
}

impl GcsObject {
    /// An object whose bytes are [`expected_video_bytes`]`(key, …)`.
    pub(crate) fn new(key: String, created: u64) -> Self {
        Self { key, created }
    }
}

/// The key whose [`expected_video_bytes`] are sample `index` (0-based) of
/// the Vertex operation `operation_name` (full name or just its last
/// segment): `"<operation id>/sample_<index>.mp4"`.
pub fn vertex_sample_key(operation_name: &str, index: u32) -> String {
    let id = operation_name.rsplit('/').next().unwrap_or(operation_name);
    format!("{id}/sample_{index}.mp4")
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model_action}",
            post(model_action),
        )
        .route(
            "/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model_action}",
            post(model_action),
        )
        .route("/storage/v1/b/{bucket}/o/{object}", get(gcs_object))
        .route("/download/storage/v1/b/{bucket}/o/{object}", get(gcs_object))
}

/// The `method` of Vertex's ErrorInfo for `action`.
fn rpc_method(action: &str) -> String {
    let rpc = match action {
        "fetchPredictOperation" => "FetchPredictOperation",
        _ => "PredictLongRunning",
    };
    format!("google.cloud.aiplatform.v1.PredictionService.{rpc}")
}

/// Vertex's 401 for `status` (anything but [`BearerStatus::Valid`]).
fn unauthenticated(status: BearerStatus, action: &str) -> Response {
    let (message, reason) = match status {
        BearerStatus::Missing => (
            "Request is missing required authentication credential. Expected OAuth 2 access \
             token, login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "CREDENTIALS_MISSING",
        ),
        BearerStatus::Expired => (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "ACCESS_TOKEN_EXPIRED",
        ),
        BearerStatus::Valid | BearerStatus::Invalid => (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        ),
    };
    google::error(
        401,
        message,
        vec![google::error_info_with(
            reason,
            "aiplatform.googleapis.com",
            Some(&rpc_method(action)),
        )],
    )
}

/// `POST …/models/{model}:predictLongRunning` and `…:fetchPredictOperation`.
async fn model_action(
    State(shared): State<Arc<Shared>>,
    Path((project, location, model_action)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((model, action)) = model_action.split_once(':') else {
        return google::not_found_page(uri.path());
    };
    if action != "predictLongRunning" && action != "fetchPredictOperation" {
        return google::not_found_page(uri.path());
    }
    let status = bearer_status(&shared, &headers);
    if status != BearerStatus::Valid {
        return unauthenticated(status, action);
    }
    let resource =
        format!("projects/{project}/locations/{location}/publishers/google/models/{model}");
    if !model.starts_with("veo-") {
        return google::error(
            404,
            &format!(
                "Publisher Model `{resource}` was not found or your project does not have access \
                 to it. Please ensure you are using a valid model version. For more information, \
                 see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
            ),
            Vec::new(),
        );
    }
    if action == "predictLongRunning" {
        create(&shared, &resource, model, &body)
    } else {
        fetch(&shared, &resource, model, &body)
    }
}

/// Splits `gs://bucket/prefix` into `(bucket, "prefix/")`.
fn split_storage_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("gs://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut prefix = prefix.to_owned();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Some((bucket.to_owned(), prefix))
}

/// Instance fields Veo 3.1 on Vertex AI takes.
const INSTANCE_FIELDS: &[&str] = &[
    "prompt",
    "image",
    "lastFrame",
    "video",
    "referenceImages",
    "mask",
];

/// Models without 4k, last frame or subject images (Veo 3.1 Lite).
fn is_lite(model: &str) -> bool {
    model.contains("-lite-")
}

fn unknown_name(field: &str, at: &str) -> GoogleError {
    google::invalid_argument(format!(
        "Invalid JSON payload received. Unknown name \"{field}\" at '{at}': Cannot find field."
    ))
}

/// An image or video input: known fields only, exactly one source.
fn check_media(value: &Value, at: &str) -> Result<(), GoogleError> {
    let Value::Object(media) = value else {
        return Err(google::invalid_argument(format!(
            "Invalid value at '{at}': must be an object."
        )));
    };
    if let Some(k) = media
        .keys()
        .find(|k| !["bytesBase64Encoded", "gcsUri", "mimeType"].contains(&k.as_str()))
    {
        return Err(unknown_name(k, at));
    }
    if media.contains_key("bytesBase64Encoded") == media.contains_key("gcsUri") {
        return Err(google::invalid_argument(format!(
            "{at}: exactly one of bytesBase64Encoded or gcsUri must be set."
        )));
    }
    Ok(())
}

/// What Vertex checks beyond the shared Veo fields: the instance's fields
/// and inputs, the GA parameters' values, what `model` can do, and that
/// an extension's `video.gcsUri` is an object in the (mock) bucket.
fn check_ga(shared: &Shared, body: &[u8], model: &str) -> Result<(), GoogleError> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|_| google::invalid_argument("Invalid JSON payload received."))?;
    let instance = root
        .pointer("/instances/0")
        .and_then(Value::as_object)
        .ok_or_else(|| google::invalid_argument("instances[0] must be an object."))?;
    if let Some(k) = instance
        .keys()
        .find(|k| !INSTANCE_FIELDS.contains(&k.as_str()))
    {
        return Err(unknown_name(k, "instances[0]"));
    }
    for field in ["image", "lastFrame", "video"] {
        if let Some(v) = instance.get(field) {
            check_media(v, &format!("instances[0].{field}"))?;
        }
    }
    if instance.contains_key("lastFrame") {
        if is_lite(model) {
            return Err(google::invalid_argument(format!(
                "lastFrame is not supported by {model}."
            )));
        }
        if !instance.contains_key("image") {
            return Err(google::invalid_argument(
                "lastFrame requires instances[0].image (the first frame).",
            ));
        }
    }
    if let Some(refs) = instance.get("referenceImages") {
        let refs = refs.as_array().ok_or_else(|| {
            google::invalid_argument(
                "Invalid value at 'instances[0].referenceImages': must be a list.",
            )
        })?;
        if is_lite(model) && !refs.is_empty() {
            return Err(google::invalid_argument(format!(
                "referenceImages is not supported by {model}."
            )));
        }
        if refs.len() > 3 {
            return Err(google::invalid_argument(
                "At most 3 asset reference images are supported.",
            ));
        }
        for (i, r) in refs.iter().enumerate() {
            let at = format!("instances[0].referenceImages[{i}]");
            let r = r.as_object().ok_or_else(|| {
                google::invalid_argument(format!("Invalid value at '{at}': must be an object."))
            })?;
            if let Some(k) = r
                .keys()
                .find(|k| !["image", "referenceType"].contains(&k.as_str()))
            {
                return Err(unknown_name(k, &at));
            }
            check_media(
                r.get("image").unwrap_or(&Value::Null),
                &format!("{at}.image"),
            )?;
            match r.get("referenceType").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("asset") => {}
                _ => {
                    return Err(google::invalid_argument(format!(
                        "{at}.referenceType: only asset reference images are supported by {model}."
                    )))
                }
            }
        }
    }
    let params = root.get("parameters").and_then(Value::as_object);
    let param = |name: &str| params.and_then(|p| p.get(name));
    if param("resolution").and_then(Value::as_str) == Some("4k") && is_lite(model) {
        return Err(google::invalid_argument(format!(
            "Resolution 4k is not supported by {model}."
        )));
    }
    if let Some(v) = param("personGeneration") {
        if !matches!(
            v.as_str(),
            Some("allow_all" | "allow_adult" | "dont_allow" | "disallow")
        ) {
            return Err(google::invalid_argument(format!(
                "Unsupported value {v} for `personGeneration`."
            )));
        }
    }
    if let Some(v) = param("seed") {
        if v.as_u64().is_none_or(|n| u32::try_from(n).is_err()) {
            return Err(google::invalid_argument(format!(
                "Invalid value at 'parameters.seed' (TYPE_UINT32), {v}"
            )));
        }
    }
    for name in ["generateAudio", "enhancePrompt"] {
        if param(name).is_some_and(|v| !v.is_boolean()) {
            return Err(google::invalid_argument(format!(
                "Invalid value at 'parameters.{name}' (TYPE_BOOL)"
            )));
        }
    }
    if param("negativePrompt").is_some_and(|v| !v.is_string()) {
        return Err(google::invalid_argument(
            "Invalid value at 'parameters.negativePrompt' (TYPE_STRING)",
        ));
    }
    // An extension reads its source from the bucket.
    if let Some(uri) = instance.get("video").and_then(|v| v.get("gcsUri")) {
        {
            let found = uri
                .as_str()
                .and_then(|u| u.strip_prefix("gs://"))
                .and_then(|u| u.split_once('/'))
                .is_some_and(|(b, o)| {
                    shared
                        .lock()
                        .gcs
                        .contains_key(&(b.to_owned(), o.to_owned()))
                });
            if !found {
                return Err(google::invalid_argument(format!(
                    "The video {uri} could not be read from Cloud Storage."
                )));
            }
        }
    }
    Ok(())
}

fn create(shared: &Shared, resource: &str, model: &str, body: &[u8]) -> Response {
    let req = match gemini::validate_with(body, VERTEX) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_ga(shared, body, model) {
        return e.into_response();
    }
    let name = {
        let mut state = shared.lock();
        state.counter += 1;
        let op_id = uuid(mix(shared.salt ^ 0x0000_7E27_E000).wrapping_add(state.counter));
        let name = format!("{resource}/operations/{op_id}");
        state.vertex_ops.insert(
            name.clone(),
            VertexOp {
                model: model.to_owned(),
                polls: 0,
                sample_count: req.sample_count,
                outcome: gemini::outcome_of(&req.prompt),
                storage: req.storage_uri.as_deref().and_then(split_storage_uri),
            },
        );
        name
    };
    google::json_response(StatusCode::OK, &obj([("name", name.into())]))
}

fn fetch(shared: &Shared, resource: &str, model: &str, body: &[u8]) -> Response {
    let name = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => match o.get("operationName") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return GoogleError::new(400, "Invalid operation name: operationName is required.")
                    .into_response()
            }
        },
        _ => {
            return google::invalid_argument("Invalid JSON payload received. Unexpected token.")
                .into_response()
        }
    };
    if !name.starts_with(&format!("{resource}/operations/")) {
        return google::invalid_argument(format!(
            "Operation name {name} does not belong to model {resource}."
        ))
        .into_response();
    }
    let now = super::unix_now();
    let mut guard = shared.lock();
    let state = &mut *guard;
    let Some(op) = state
        .vertex_ops
        .get_mut(&name)
        .filter(|op| op.model == model)
    else {
        return google::entity_not_found();
    };
    op.polls = op.polls.saturating_add(1);
    if op.polls < shared.opts.polls_until_done {
        return google::json_response(StatusCode::OK, &obj([("name", name.into())]));
    }
    let outcome = match op.outcome {
        Outcome::Videos => {
            let videos = (0..op.sample_count).map(|i| {
                let key = vertex_sample_key(&name, i);
                match &op.storage {
                    Some((bucket, prefix)) => {
                        let object = format!("{prefix}{key}");
                        let gcs_uri = format!("gs://{bucket}/{object}");
                        state
                            .gcs
                            .entry((bucket.clone(), object))
                            .or_insert_with(|| GcsObject {
                                key: key.clone(),
                                created: now,
                            });
                        obj([("gcsUri", gcs_uri.into()), ("mimeType", "video/mp4".into())])
                    }
                    None => {
                        let bytes = expected_video_bytes(&key, shared.opts.video_bytes);
                        obj([
                            ("bytesBase64Encoded", STANDARD.encode(bytes).into()),
                            ("mimeType", "video/mp4".into()),
                        ])
                    }
                }
            });
            let videos: Vec<Json> = videos.collect();
            (
                "response",
                obj([
                    ("@type", RESPONSE_TYPE.into()),
                    ("raiMediaFilteredCount", 0u32.into()),
                    ("videos", Json::Array(videos)),
                ]),
            )
        }
        Outcome::RaiFiltered => (
            "response",
            obj([
                ("@type", RESPONSE_TYPE.into()),
                ("raiMediaFilteredCount", 1u32.into()),
                ("raiMediaFilteredReasons", arr([gemini::RAI_REASON.into()])),
            ]),
        ),
        Outcome::Unsafe => (
            "error",
            obj([
                ("code", 3u32.into()),
                ("message", gemini::UNSAFE_MESSAGE.into()),
            ]),
        ),
        Outcome::Internal => (
            "error",
            obj([
                ("code", 13u32.into()),
                ("message", "Internal error encountered.".into()),
            ]),
        ),
    };
    drop(guard);
    google::json_response(
        StatusCode::OK,
        &obj([("name", name.into()), ("done", true.into()), outcome]),
    )
}

/// The Cloud Storage JSON API's error shape (no `status`, an `errors` list).
fn gcs_error(code: u16, message: &str, reason: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut item = obj([
        ("message", message.into()),
        ("domain", "global".into()),
        ("reason", reason.into()),
    ]);
    if code == 401 {
        item.push("locationType", "header".into());
        item.push("location", "Authorization".into());
    }
    google::json_response(
        status,
        &obj([(
            "error",
            obj([
                ("code", code.into()),
                ("message", message.into()),
                ("errors", arr([item])),
            ]),
        )]),
    )
}

/// `GET /storage/v1/b/{bucket}/o/{object}[?alt=media]`
async fn gcs_object(
    State(shared): State<Arc<Shared>>,
    Path((bucket, object)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match bearer_status(&shared, &headers) {
        BearerStatus::Valid => {}
        BearerStatus::Missing => {
            return gcs_error(
                401,
                "Anonymous caller does not have storage.objects.get access to the Google \
                 Cloud Storage object. Permission 'storage.objects.get' denied on resource (or \
                 it may not exist).",
                "required",
            )
        }
        BearerStatus::Expired | BearerStatus::Invalid => {
            return gcs_error(401, "Invalid Credentials", "authError")
        }
    }
    let found = shared
        .lock()
        .gcs
        .get(&(bucket.clone(), object.clone()))
        .cloned();
    let Some(found) = found else {
        return gcs_error(
            404,
            &format!("No such object: {bucket}/{object}"),
            "notFound",
        );
    };
    let len = shared.opts.video_bytes;
    if query.get("alt").map(String::as_str) == Some("media") {
        return stream_body(
            Bytes::from(expected_video_bytes(&found.key, len)),
            "video/mp4",
        );
    }
    let generation = (found.created * 1_000_000).to_string();
    let encoded = object.replace('/', "%2F");
    let base = &shared.base_url;
    let created = rfc3339(found.created);
    google::json_response(
        StatusCode::OK,
        &obj([
            ("kind", "storage#object".into()),
            ("id", format!("{bucket}/{object}/{generation}").into()),
            (
                "selfLink",
                format!("{base}/storage/v1/b/{bucket}/o/{encoded}").into(),
            ),
            (
                "mediaLink",
                format!(
                    "{base}/download/storage/v1/b/{bucket}/o/{encoded}?generation={generation}&alt=media"
                )
                .into(),
            ),
            ("name", object.into()),
            ("bucket", bucket.into()),
            ("generation", generation.into()),
            ("metageneration", "1".into()),
            ("contentType", "video/mp4".into()),
            ("storageClass", "STANDARD".into()),
            ("size", len.to_string().into()),
            ("timeCreated", created.clone().into()),
            ("updated", created.into()),
        ]),
    )
}

/// `2026-01-02T03:04:05.000Z` for unix seconds `t`.
fn rfc3339(t: u64) -> String {
    let days = t / 86_400;
    let secs = t % 86_400;
    // Civil from days (Howard Hinnant's algorithm), days since 1970-01-01.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_uris_split_into_bucket_and_prefix() {
        assert_eq!(
            split_storage_uri("gs://b/out/"),
            Some(("b".to_owned(), "out/".to_owned()))
        );
        assert_eq!(
            split_storage_uri("gs://b/a/b"),
            Some(("b".to_owned(), "a/b/".to_owned()))
        );
        assert_eq!(
            split_storage_uri("gs://b"),
            Some(("b".to_owned(), String::new()))
        );
        assert_eq!(split_storage_uri("s3://b"), None);
    }

    #[test]
    fn sample_keys_use_the_last_name_segment() {
        assert_eq!(
            vertex_sample_key(
                "projects/p/locations/l/publishers/google/models/m/operations/abc",
                1
            ),
            "abc/sample_1.mp4"
        );
        assert_eq!(vertex_sample_key("abc", 0), "abc/sample_0.mp4");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_712_697_600), "2024-04-09T21:20:00.000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
    }
}
