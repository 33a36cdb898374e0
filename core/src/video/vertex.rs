//! Veo on Vertex AI.
//!
//! | step | upstream call |
//! |---|---|
//! | create | `POST {base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning` (Veo body as on the Gemini API, plus `storageUri` when configured) |
//! | status | `POST …/models/{m}:fetchPredictOperation` `{"operationName": name}` |
//! | result | `response.videos[]`: `{gcsUri}` (with `storageUri`) or `{bytesBase64Encoded}` |
//! | content | `gs://b/o` → `GET {storage}/storage/v1/b/{b}/o/{o, percent-encoded}?alt=media`; inline bytes are decoded by the gateway |
//!
//! Every call carries `Authorization: Bearer <token>` minted from the
//! deployment's service-account key ([`crate::google_auth`]). Safety
//! filtering is `response.raiMediaFilteredCount` (Vertex puts it at the
//! top of `response`, not under `generateVideoResponse`).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use super::veo::{lro_state, veo_body};
use super::{Content, CreateVideo, Operation, Size, VideoHandle};
use crate::config::{Deployment, VertexSettings};
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

fn settings(dep: &Deployment) -> Result<&VertexSettings, ClientError> {
    dep.vertex.as_ref().ok_or_else(|| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "a vertex_ai deployment has no project settings",
        )
    })
}

fn model_url(dep: &Deployment, v: &VertexSettings) -> String {
    format!(
        "{}/v1/projects/{}/locations/{}/publishers/google/models/{}",
        dep.api_base, v.project, v.location, dep.model
    )
}

/// The create call.
pub fn create_request(
    req: &CreateVideo,
    dep: &Deployment,
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    let v = settings(dep)?;
    let (mut body, seconds, size) = veo_body(req, dep)?;
    if let (Some(uri), Some(params)) = (
        &v.storage_uri,
        body.get_mut("parameters").and_then(Value::as_object_mut),
    ) {
        params.insert("storageUri".to_owned(), Value::from(uri.as_str()));
    }
    Ok((create_call(dep, body.to_string())?, seconds, size))
}

/// `predictLongRunning` on `dep` with a ready JSON body (also used for
/// Google-shaped requests passed through).
pub fn create_call(dep: &Deployment, json_body: String) -> Result<UpstreamRequest, ClientError> {
    let v = settings(dep)?;
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!("{}:predictLongRunning", model_url(dep, v)),
        auth: Auth::GoogleServiceAccount,
        json_body: Some(json_body),
    })
}

/// The upstream operation as a Vertex client should see it through the
/// gateway: only `name` changes, to the gateway's sealed one. Results are
/// passed as they are (inline bytes, or `gs://` URIs in the deployment's
/// bucket, which the client reads with its own Cloud Storage access).
pub fn native_operation(body: &[u8], name: &str) -> Result<Value, UpstreamError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("fetchPredictOperation answered with a non-JSON body"))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| garbage("fetchPredictOperation answered with a non-object"))?;
    obj.insert("name".to_owned(), Value::from(name));
    Ok(value)
}

/// Reads the operation name (`projects/…/operations/…`).
pub fn parse_create_response(body: &[u8]) -> Result<String, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("predictLongRunning answered with a non-JSON body"))?;
    match value.get("name").and_then(Value::as_str) {
        Some(name)
            if name.starts_with("projects/")
                && name.len() <= 512
                && name.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.')
                })
                && !name.split('/').any(|seg| seg.is_empty() || seg == "..") =>
        {
            Ok(name.to_owned())
        }
        _ => Err(garbage(
            "predictLongRunning answered without a valid operation name",
        )),
    }
}

/// The `fetchPredictOperation` call.
pub fn poll_request(
    dep: &Deployment,
    handle: &VideoHandle,
) -> Result<UpstreamRequest, ClientError> {
    let v = settings(dep)?;
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!("{}:fetchPredictOperation", model_url(dep, v)),
        auth: Auth::GoogleServiceAccount,
        json_body: Some(serde_json::json!({ "operationName": handle.operation }).to_string()),
    })
}

/// Prefix of the file id of the `i`-th inline (base64) video.
const INLINE: &str = "inline:";

/// Maps a Vertex operation to a state. Generated files are `gs://…` URIs,
/// or `inline:{i}` for videos returned as bytes.
pub fn parse_operation(body: &[u8]) -> Result<Operation, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("fetchPredictOperation answered with a non-JSON body"))?;
    if let Some(state) = lro_state(&value) {
        return Ok(state);
    }
    let response = value.get("response");
    let files: Vec<String> = response
        .and_then(|r| r.get("videos"))
        .and_then(Value::as_array)
        .map(|videos| {
            videos
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    match (
                        v.get("gcsUri").and_then(Value::as_str),
                        v.get("bytesBase64Encoded"),
                    ) {
                        (Some(uri), _) if uri.starts_with("gs://") => Some(uri.to_owned()),
                        (None, Some(_)) => Some(format!("{INLINE}{i}")),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if !files.is_empty() {
        return Ok(Operation::Succeeded(files));
    }
    if let Some(failure) = super::rai_failure(response) {
        return Ok(Operation::Failed(failure));
    }
    Err(garbage("the operation finished without videos or an error"))
}

/// Where the bytes of generated file `file` come from.
pub fn content_source(dep: &Deployment, file: &str) -> Result<Content, ClientError> {
    if let Some(index) = file.strip_prefix(INLINE) {
        let index = index
            .parse()
            .map_err(|_| ClientError::from_code(ErrorCode::BadUpstreamResponse))?;
        return Ok(Content::Inline { index });
    }
    let v = settings(dep)?;
    let (bucket, object) = file
        .strip_prefix("gs://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, o)| !b.is_empty() && !o.is_empty())
        .ok_or_else(|| ClientError::from_code(ErrorCode::BadUpstreamResponse))?;
    Ok(Content::Fetch(UpstreamRequest {
        method: Method::Get,
        url: format!(
            "{}/storage/v1/b/{}/o/{}?alt=media",
            v.storage_api_base,
            encode_component(bucket),
            encode_component(object)
        ),
        auth: Auth::GoogleServiceAccount,
        json_body: None,
    }))
}

/// The `index`-th inline video of a finished operation, decoded.
pub fn inline_video(body: &[u8], index: usize) -> Result<(Vec<u8>, String), UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("fetchPredictOperation answered with a non-JSON body"))?;
    let video = value
        .pointer(&format!("/response/videos/{index}"))
        .ok_or_else(|| garbage("the operation has no such video"))?;
    let data = video
        .get("bytesBase64Encoded")
        .and_then(Value::as_str)
        .ok_or_else(|| garbage("the video has no bytes"))?;
    let bytes = STANDARD
        .decode(data.as_bytes())
        .map_err(|_| garbage("the video bytes are not valid base64"))?;
    let mime = video
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or("video/mp4")
        .to_owned();
    Ok((bytes, mime))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (GCS
/// object names go into one path segment, `/` included).
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn garbage(message: &str) -> UpstreamError {
    super::upstream_garbage(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn dep(storage: bool) -> Deployment {
        let storage = if storage {
            r#","storage_uri":"gs://out/veo/""#
        } else {
            ""
        };
        Config::parse(&std::format!(
            r#"{{"model_groups":[{{"name":"v","deployments":[{{"id":"v","provider":"vertex_ai","model":"veo-3.1-generate-001",
               "credential":"SA","project":"proj","location":"us-central1"{storage}}}]}}]}}"#
        ))
        .unwrap()
        .model_groups[0]
            .deployments[0]
            .clone()
    }

    #[test]
    fn creates_and_polls_on_the_publisher_model() {
        let req =
            CreateVideo::parse_json(br#"{"prompt":"a cat","seconds":"6","size":"1920x1080"}"#)
                .unwrap();
        let (call, seconds, size) = create_request(&req, &dep(true)).unwrap();
        assert_eq!(
            call.url,
            "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
        );
        assert_eq!(call.auth, Auth::GoogleServiceAccount);
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(body["parameters"]["storageUri"], "gs://out/veo/");
        assert_eq!(body["parameters"]["resolution"], "1080p");
        assert_eq!((seconds, size.width), (6, 1920));
        let handle = VideoHandle {
            operation:
                "projects/proj/locations/us-central1/publishers/google/models/m/operations/1".into(),
            seconds,
            size,
        };
        let poll = poll_request(&dep(false), &handle).unwrap();
        assert!(poll
            .url
            .ends_with("/models/veo-3.1-generate-001:fetchPredictOperation"));
        assert_eq!(
            poll.json_body.as_deref(),
            Some(
                r#"{"operationName":"projects/proj/locations/us-central1/publishers/google/models/m/operations/1"}"#
            )
        );
        assert!(parse_create_response(br#"{"name":"models/x/operations/1"}"#).is_err());
        assert!(parse_create_response(br#"{"name":"projects/p/../x"}"#).is_err());
    }

    #[test]
    fn reads_bytes_and_gcs_results() {
        let inline = br#"{"name":"n","done":true,"response":{"videos":[{"bytesBase64Encoded":"AAEC","mimeType":"video/mp4"}]}}"#;
        assert_eq!(
            parse_operation(inline).unwrap(),
            Operation::Succeeded(std::vec!["inline:0".into()])
        );
        assert_eq!(
            content_source(&dep(false), "inline:0").unwrap(),
            Content::Inline { index: 0 }
        );
        assert_eq!(
            inline_video(inline, 0).unwrap(),
            (std::vec![0, 1, 2], String::from("video/mp4"))
        );
        let gcs = br#"{"name":"n","done":true,"response":{"videos":[{"gcsUri":"gs://out/veo/1/sample 0.mp4"}]}}"#;
        let Operation::Succeeded(files) = parse_operation(gcs).unwrap() else {
            panic!()
        };
        let Content::Fetch(call) = content_source(&dep(true), &files[0]).unwrap() else {
            panic!()
        };
        assert_eq!(
            call.url,
            "https://storage.googleapis.com/storage/v1/b/out/o/veo%2F1%2Fsample%200.mp4?alt=media"
        );
        let rai = br#"{"name":"n","done":true,"response":{"raiMediaFilteredCount":1,"raiMediaFilteredReasons":["blocked"]}}"#;
        let Operation::Failed(err) = parse_operation(rai).unwrap() else {
            panic!()
        };
        assert_eq!(err.kind, crate::errors::ErrorKind::ContentPolicy);
        assert_eq!(
            parse_operation(br#"{"name":"n","done":false}"#).unwrap(),
            Operation::Running { progress: None }
        );
    }
}
