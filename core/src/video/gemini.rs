//! Veo on the Gemini Developer API: request translation, operation parsing
//! and download URLs.
//!
//! | step | upstream call |
//! |---|---|
//! | create | `POST {base}/v1beta/models/{model}:predictLongRunning` → `{"name":"models/{m}/operations/{id}"}` |
//! | status | `GET {base}/v1beta/{name}` → `{"name",…}` until `"done":true` |
//! | content | `GET {base}/v1beta/files/{file}:download?alt=media` → 302 to the bytes |
//!
//! `input_reference` becomes `instances[0].image = {bytesBase64Encoded, mimeType}`
//! (image-to-video: the image is the first frame).
//!
//! All calls use `x-goog-api-key`. Download URLs are rebuilt from the file id
//! on the deployment's own base, never taken verbatim from the upstream, so
//! the gateway's key is only ever sent to the configured host.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::veo::{lro_state, veo_body, SIZES};
use super::{CreateVideo, FollowUp, Operation, Size, VideoHandle};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

/// The `predictLongRunning` call for `req` on `dep`, and the handle values
/// (duration and size actually requested) to seal into the id.
pub fn create_request(
    req: &CreateVideo,
    dep: &Deployment,
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    let (body, seconds, size) = veo_body(req, dep)?;
    let request = UpstreamRequest {
        method: Method::Post,
        url: format!(
            "{}/v1beta/models/{}:predictLongRunning",
            dep.api_base, dep.model
        ),
        auth: Auth::GoogleApiKey,
        json_body: Some(body.to_string()),
    };
    Ok((request, seconds, size))
}

/// Extends a finished Veo video: the new job's input is the source's first
/// generated file, by its Gemini file URI.
pub fn extend_request(
    dep: &Deployment,
    follow: &FollowUp,
    source: &VideoHandle,
    files: &[String],
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    let file = files
        .first()
        .ok_or_else(|| ClientError::from_code(ErrorCode::VideoNotReady))?;
    let mut parameters = Map::new();
    parameters.insert("sampleCount".to_owned(), Value::from(1));
    if let Some(seconds) = follow.seconds {
        if !dep.video_seconds.contains(&seconds) {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("`seconds` {seconds} is not available for this model"),
            )
            .with_param("seconds"));
        }
        parameters.insert("durationSeconds".to_owned(), Value::from(seconds));
    }
    let body = serde_json::json!({
        "instances": [{
            "prompt": follow.prompt,
            "video": { "uri": format!("{}/v1beta/files/{file}:download?alt=media", dep.api_base) },
        }],
        "parameters": parameters,
    });
    let request = UpstreamRequest {
        method: Method::Post,
        url: format!(
            "{}/v1beta/models/{}:predictLongRunning",
            dep.api_base, dep.model
        ),
        auth: Auth::GoogleApiKey,
        json_body: Some(body.to_string()),
    };
    Ok((
        request,
        source.seconds + follow.seconds.unwrap_or(0),
        source.size,
    ))
}

/// Reads the operation name from a `predictLongRunning` answer.
pub fn parse_create_response(body: &[u8]) -> Result<String, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("predictLongRunning answered with a non-JSON body"))?;
    match value.get("name").and_then(Value::as_str) {
        Some(name) if valid_operation_name(name) => Ok(name.to_owned()),
        _ => Err(garbage(
            "predictLongRunning answered without a valid operation name",
        )),
    }
}

/// An operation name is used to build a URL path: only plain path segments.
fn valid_operation_name(name: &str) -> bool {
    (name.starts_with("models/") || name.starts_with("operations/"))
        && name.len() <= 256
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
}

/// The poll call for `handle`.
pub fn poll_request(dep: &Deployment, handle: &VideoHandle) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Get,
        url: format!("{}/v1beta/{}", dep.api_base, handle.operation),
        auth: Auth::GoogleApiKey,
        json_body: None,
    }
}

/// Parses an operation (`GET /v1beta/{name}`).
pub fn parse_operation(body: &[u8]) -> Result<Operation, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("the operation poll answered with a non-JSON body"))?;
    if !value.is_object() {
        return Err(garbage("the operation poll answered with a non-object"));
    }
    if let Some(state) = lro_state(&value) {
        return Ok(state);
    }
    let result = value.pointer("/response/generateVideoResponse");
    let files: Vec<String> = result
        .and_then(|r| r.get("generatedSamples"))
        .and_then(Value::as_array)
        .map(|samples| {
            samples
                .iter()
                .filter_map(|s| s.pointer("/video/uri").and_then(Value::as_str))
                .filter_map(file_id)
                .collect()
        })
        .unwrap_or_default();
    if !files.is_empty() {
        return Ok(Operation::Succeeded(files));
    }
    if let Some(failure) = super::rai_failure(result) {
        return Ok(Operation::Failed(failure));
    }
    Err(garbage("the operation finished without videos or an error"))
}

/// The file id in a Gemini file URI (`…/files/{id}:download?alt=media` or `…/files/{id}`).
fn file_id(uri: &str) -> Option<String> {
    let after = &uri[uri.find("/files/")? + "/files/".len()..];
    let end = after
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(after.len());
    let id = &after[..end];
    (!id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    .then(|| id.to_owned())
}

/// The download call for a generated file of `dep`.
pub fn download_request(dep: &Deployment, file_id: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Get,
        url: format!("{}/v1beta/files/{file_id}:download?alt=media", dep.api_base),
        auth: Auth::GoogleApiKey,
        json_body: None,
    }
}

/// A create request in Google's own shape (from a Google SDK), passed
/// through to `dep` unchanged, with the values the gateway seals into the
/// id read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCreate {
    /// The upstream call (the client's body, the deployment's model and key).
    pub request: UpstreamRequest,
    /// `instances[0].prompt` (empty for image-only requests).
    pub prompt: String,
    /// `parameters.durationSeconds`, or the deployment's default.
    pub seconds: u32,
    /// From `parameters.aspectRatio` + `parameters.resolution`.
    pub size: Size,
}

/// Validates a Google-shaped `predictLongRunning` body for `dep`. The body
/// goes upstream byte for byte; only what reelay must know is checked here,
/// with errors Google's clients can read.
pub fn native_create_request(body: &[u8], dep: &Deployment) -> Result<NativeCreate, ClientError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ClientError::new(
            ErrorCode::InvalidJson,
            format!("Invalid JSON payload received. {e}"),
        )
    })?;
    let instance = value
        .get("instances")
        .and_then(Value::as_array)
        .and_then(|list| list.first())
        .and_then(Value::as_object)
        .ok_or_else(|| {
            native_invalid(
                "instances",
                "`instances` must be a non-empty array of objects",
            )
        })?;
    let prompt = match instance.get("prompt") {
        Some(Value::String(p)) => p.clone(),
        None if instance.contains_key("image") => String::new(),
        _ => {
            return Err(native_invalid(
                "instances[0].prompt",
                "`instances[0].prompt` must be a string",
            ))
        }
    };
    let params = match value.get("parameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err(native_invalid(
                "parameters",
                "`parameters` must be an object",
            ))
        }
    };
    let param = |name: &str| params.and_then(|p| p.get(name)).filter(|v| !v.is_null());
    let seconds = match param("durationSeconds") {
        None => dep.video_seconds.iter().copied().max().unwrap_or(8),
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(s) if dep.video_seconds.contains(&s) => s,
            _ => {
                let allowed: Vec<String> =
                    dep.video_seconds.iter().map(|s| format!("{s}")).collect();
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!(
                        "`parameters.durationSeconds` must be one of {} for this model",
                        allowed.join(", ")
                    ),
                )
                .with_param("parameters.durationSeconds"));
            }
        },
    };
    let aspect = match param("aspectRatio") {
        None => "16:9",
        Some(Value::String(a)) => a.as_str(),
        Some(_) => {
            return Err(native_invalid(
                "parameters.aspectRatio",
                "`parameters.aspectRatio` must be a string",
            ))
        }
    };
    let resolution = match param("resolution") {
        None => "720p",
        Some(Value::String(r)) => r.as_str(),
        Some(_) => {
            return Err(native_invalid(
                "parameters.resolution",
                "`parameters.resolution` must be a string",
            ))
        }
    };
    let size = SIZES
        .iter()
        .find(|(_, a, r)| *a == aspect && *r == resolution)
        .map(|(size, _, _)| *size)
        .ok_or_else(|| {
            ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("aspectRatio {aspect:?} with resolution {resolution:?} is not available; use 16:9 or 9:16 with 720p, 1080p or 4k"),
            )
            .with_param("parameters.aspectRatio")
        })?;
    let text =
        core::str::from_utf8(body).map_err(|_| ClientError::from_code(ErrorCode::InvalidJson))?;
    let request = match dep.provider {
        // Vertex takes the same Veo body on its publisher-model URL.
        crate::config::Provider::VertexAi => super::vertex::create_call(dep, text.to_owned())?,
        _ => UpstreamRequest {
            method: Method::Post,
            url: format!(
                "{}/v1beta/models/{}:predictLongRunning",
                dep.api_base, dep.model
            ),
            auth: Auth::GoogleApiKey,
            json_body: Some(text.to_owned()),
        },
    };
    Ok(NativeCreate {
        request,
        prompt,
        seconds,
        size,
    })
}

fn native_invalid(param: &str, message: &str) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

/// The upstream operation as a Google client should see it through the
/// gateway: `name` replaced by the gateway's own (sealed) name and every
/// generated video's `uri` by `file_uri(index)`, a gateway download URL.
pub fn native_operation(
    body: &[u8],
    name: &str,
    file_uri: impl Fn(usize) -> String,
) -> Result<Value, UpstreamError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("the operation poll answered with a non-JSON body"))?;
    let Some(obj) = value.as_object_mut() else {
        return Err(garbage("the operation poll answered with a non-object"));
    };
    obj.insert("name".to_owned(), Value::from(name));
    if let Some(samples) = value
        .pointer_mut("/response/generateVideoResponse/generatedSamples")
        .and_then(Value::as_array_mut)
    {
        for (index, sample) in samples.iter_mut().enumerate() {
            if let Some(video) = sample.get_mut("video").and_then(Value::as_object_mut) {
                video.insert("uri".to_owned(), Value::from(file_uri(index)));
            }
        }
    }
    Ok(value)
}

fn garbage(message: &str) -> UpstreamError {
    super::upstream_garbage(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::video::veo::DEFAULT_SIZE;

    fn dep() -> Deployment {
        Config::parse(
            r#"{"model_groups":[{"name":"veo","deployments":[{"id":"g","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K","api_base":"http://127.0.0.1:9"}]}]}"#,
        )
        .unwrap()
        .model_groups[0]
            .deployments[0]
            .clone()
    }

    #[test]
    fn translates_create_to_predict_long_running() {
        let req = CreateVideo::parse_json(br#"{"prompt":"a cat","seconds":"6","size":"720x1280","negative_prompt":"dogs","seed":3}"#).unwrap();
        let (call, seconds, size) = create_request(&req, &dep()).unwrap();
        assert_eq!(
            call.url,
            "http://127.0.0.1:9/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
        );
        assert_eq!(call.auth, Auth::GoogleApiKey);
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"instances":[{"prompt":"a cat"}],"parameters":{
                "durationSeconds":6,"aspectRatio":"9:16","resolution":"720p","negativePrompt":"dogs","seed":3,"sampleCount":1}})
        );
        assert_eq!(
            (seconds, size),
            (
                6,
                Size {
                    width: 720,
                    height: 1280
                }
            )
        );
    }

    #[test]
    fn defaults_are_reported_not_sent() {
        let req = CreateVideo::parse_json(br#"{"prompt":"a cat"}"#).unwrap();
        let (call, seconds, size) = create_request(&req, &dep()).unwrap();
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(body["parameters"], serde_json::json!({"sampleCount":1}));
        assert_eq!((seconds, size), (8, DEFAULT_SIZE));
    }

    #[test]
    fn unservable_values_are_explicit_errors() {
        for (body, param) in [
            (&br#"{"prompt":"x","size":"1024x1792"}"#[..], "size"),
            (br#"{"prompt":"x","size":"1280x721"}"#, "size"),
            (br#"{"prompt":"x","seconds":"5"}"#, "seconds"),
            (br#"{"prompt":"x","seconds":"12"}"#, "seconds"),
        ] {
            let err = create_request(&CreateVideo::parse_json(body).unwrap(), &dep()).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedValue);
            assert_eq!(err.param.as_deref(), Some(param));
        }
    }

    #[test]
    fn reads_operation_names_safely() {
        assert_eq!(
            parse_create_response(
                br#"{"name":"models/veo-3.1-generate-preview/operations/vz341u0pmdlc"}"#
            )
            .unwrap(),
            "models/veo-3.1-generate-preview/operations/vz341u0pmdlc"
        );
        for bad in [
            &b"{}"[..],
            b"nope",
            br#"{"name":"models/../../x"}"#,
            br#"{"name":"https://evil/x"}"#,
            br#"{"name":"models/a?b"}"#,
        ] {
            assert!(
                parse_create_response(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn maps_operation_states() {
        assert_eq!(
            parse_operation(br#"{"name":"x"}"#).unwrap(),
            Operation::Running { progress: None }
        );
        assert_eq!(
            parse_operation(br#"{"name":"x","done":false}"#).unwrap(),
            Operation::Running { progress: None }
        );
        let done = br#"{"name":"x","done":true,"response":{"@type":"t","generateVideoResponse":{"generatedSamples":[
            {"video":{"uri":"https://generativelanguage.googleapis.com/v1beta/files/abc123def:download?alt=media"}}]}}}"#;
        assert_eq!(
            parse_operation(done).unwrap(),
            Operation::Succeeded(std::vec!["abc123def".into()])
        );
        let rai = br#"{"name":"x","done":true,"response":{"generateVideoResponse":{"raiMediaFilteredCount":1,
            "raiMediaFilteredReasons":["We could not create your video. You have not been charged."]}}}"#;
        let Operation::Failed(err) = parse_operation(rai).unwrap() else {
            panic!()
        };
        assert_eq!(err.kind, crate::errors::ErrorKind::ContentPolicy);
        assert!(err.message.contains("not been charged"));
        let failed = br#"{"name":"x","done":true,"error":{"code":3,"message":"This prompt contains words that violate Google's Responsible AI practices."}}"#;
        assert!(matches!(
            parse_operation(failed).unwrap(),
            Operation::Failed(_)
        ));
        assert!(parse_operation(br#"{"name":"x","done":true,"response":{}}"#).is_err());
        assert!(parse_operation(b"<html>").is_err());
    }

    #[test]
    fn native_requests_pass_through_and_are_read() {
        let body = br#"{"instances":[{"prompt":"a cat"}],"parameters":{"durationSeconds":6,"aspectRatio":"9:16","resolution":"1080p","enhancePrompt":true}}"#;
        let native = native_create_request(body, &dep()).unwrap();
        assert_eq!(
            native.request.json_body.as_deref(),
            Some(core::str::from_utf8(body).unwrap())
        );
        assert_eq!(
            native.request.url,
            "http://127.0.0.1:9/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
        );
        assert_eq!(
            (native.prompt.as_str(), native.seconds, native.size),
            (
                "a cat",
                6,
                Size {
                    width: 1080,
                    height: 1920
                }
            )
        );
        let defaults = native_create_request(br#"{"instances":[{"prompt":"x"}]}"#, &dep()).unwrap();
        assert_eq!((defaults.seconds, defaults.size), (8, DEFAULT_SIZE));
        for (bad, code) in [
            (&b"{"[..], "invalid_json"),
            (br#"{"instances":[]}"#, "invalid_request"),
            (br#"{"instances":[{"prompt":3}]}"#, "invalid_request"),
            (
                br#"{"instances":[{"prompt":"x"}],"parameters":{"durationSeconds":5}}"#,
                "unsupported_value",
            ),
            (
                br#"{"instances":[{"prompt":"x"}],"parameters":{"aspectRatio":"4:3"}}"#,
                "unsupported_value",
            ),
        ] {
            assert_eq!(
                native_create_request(bad, &dep())
                    .unwrap_err()
                    .code
                    .as_str(),
                code,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn native_operations_get_gateway_names_and_uris() {
        let done = br#"{"name":"models/m/operations/abc","done":true,"response":{"generateVideoResponse":{"generatedSamples":[
            {"video":{"uri":"https://up/v1beta/files/f1:download?alt=media"}},{"video":{"uri":"https://up/v1beta/files/f2:download?alt=media"}}]}}}"#;
        let view = native_operation(done, "models/veo/operations/video_x", |i| {
            std::format!("https://gw/files/t{i}")
        })
        .unwrap();
        assert_eq!(view["name"], "models/veo/operations/video_x");
        assert_eq!(view["done"], true);
        assert_eq!(
            view["response"]["generateVideoResponse"]["generatedSamples"][1]["video"]["uri"],
            "https://gw/files/t1"
        );
        assert!(native_operation(b"[1]", "n", |_| String::new()).is_err());
    }

    #[test]
    fn download_urls_are_rebuilt_on_the_deployment_base() {
        assert_eq!(
            file_id("https://evil.example/v1beta/files/abc:download?alt=media").as_deref(),
            Some("abc")
        );
        assert_eq!(file_id("https://x/v1beta/files/ABC"), None);
        assert_eq!(file_id("https://x/v1beta/nofiles"), None);
        assert_eq!(
            download_request(&dep(), "abc").url,
            "http://127.0.0.1:9/v1beta/files/abc:download?alt=media"
        );
    }
}
