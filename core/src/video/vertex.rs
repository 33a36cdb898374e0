//! Veo on Vertex AI: its base URL and service-account auth, the typed
//! answers it gives ([`Operation`], [`Response`]) and the calls reelay makes
//! (the create body is [`veo::Request`], shared with the Gemini API; the
//! poll body is [`FetchOperation`]).
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

use alloc::borrow::{Cow, ToOwned};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::veo::{self, lro_state, RaiFilter};
use super::{
    Content, CreateVideo, Created, FollowUp, FollowUpKind, GoogleShape, Size, Variant, VideoApi,
    VideoHandle,
};
use crate::config::{Deployment, VertexSettings};
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

/// The `fetchPredictOperation` body (also what Vertex clients send the gateway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchOperation<'a> {
    /// The operation's full name.
    pub operation_name: Cow<'a, str>,
}

/// A Vertex operation (`fetchPredictOperation`'s answer).
pub type Operation = veo::Operation<Response>;

/// `response` of a finished operation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// One per video.
    #[serde(default)]
    pub videos: Vec<Video>,
    /// Safety filtering.
    #[serde(flatten)]
    pub rai: RaiFilter,
}

/// A generated video: in the bucket, or inline.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    /// `gs://bucket/object` (with `storageUri`).
    #[serde(default)]
    pub gcs_uri: Option<String>,
    /// The bytes, standard base64 (without `storageUri`).
    #[serde(default)]
    pub bytes_base64_encoded: Option<String>,
    /// `video/mp4`.
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// Veo on Vertex AI.
#[derive(Debug, Clone, Copy)]
pub struct Api;

impl VideoApi for Api {
    fn create(
        &self,
        req: &CreateVideo,
        dep: &Deployment,
        _characters: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        create_request(req, dep)
    }

    fn parse_created(&self, body: &[u8]) -> Result<Created, UpstreamError> {
        parse_create_response(body).map(|name| Created {
            upstream_id: name,
            seconds: None,
            size: None,
        })
    }

    fn poll(&self, dep: &Deployment, handle: &VideoHandle) -> Result<UpstreamRequest, ClientError> {
        poll_request(dep, handle)
    }

    fn parse_poll(&self, body: &[u8]) -> Result<super::Operation, UpstreamError> {
        parse_operation(body)
    }

    fn check_variant(&self, variant: Variant) -> Result<(), ClientError> {
        veo::check_variant(variant)
    }

    fn content(
        &self,
        dep: &Deployment,
        file: &str,
        _variant: Variant,
    ) -> Result<Content, ClientError> {
        content_source(dep, file)
    }

    fn check_follow_up(&self, kind: FollowUpKind) -> Result<(), ClientError> {
        match kind {
            FollowUpKind::Remix | FollowUpKind::Edit => Err(veo::no_remix()),
            FollowUpKind::Extend => Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                "extending a Vertex AI video is not supported by this gateway version",
            )),
        }
    }

    fn follow_up(
        &self,
        _dep: &Deployment,
        follow: &FollowUp,
        _source: &VideoHandle,
        _files: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        self.check_follow_up(follow.kind)?;
        Err(ClientError::from_code(ErrorCode::UnsupportedValue))
    }

    fn google_shape(&self) -> Option<GoogleShape> {
        Some(GoogleShape::Vertex)
    }

    fn veo_call(
        &self,
        dep: &Deployment,
        mut body: veo::Request<'_>,
    ) -> Result<UpstreamRequest, ClientError> {
        with_storage(settings(dep)?, &mut body);
        create_call(dep, super::to_json(&body)?)
    }

    fn video_input(
        &self,
        _dep: &Deployment,
        file: &str,
    ) -> Result<veo::VideoInput<'static>, ClientError> {
        if !file.starts_with("gs://") {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                "this video was returned inline (its deployment has no `storage_uri`), so it cannot be the input of another request; send its bytes",
            )
            .with_param("instances[0].video"));
        }
        Ok(veo::VideoInput {
            gcs_uri: Some(Cow::Owned(file.to_owned())),
            mime_type: Some(Cow::Borrowed("video/mp4")),
            ..veo::VideoInput::default()
        })
    }
}

/// Puts the deployment's `storage_uri` (when it has one) into a create
/// body, whatever door the request came in by: generated videos then land
/// in the gateway's bucket and stream from there, instead of coming back
/// inline through the gateway's memory. Clients never choose it
/// ([`veo::parse_native`] refuses theirs).
fn with_storage(v: &VertexSettings, body: &mut veo::Request<'_>) {
    if let Some(uri) = &v.storage_uri {
        body.parameters
            .get_or_insert_with(veo::Parameters::default)
            .storage_uri = Some(Cow::Owned(uri.clone()));
    }
}

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
    let (mut body, seconds, size) = veo::request(req, dep)?;
    with_storage(v, &mut body);
    Ok((create_call(dep, super::to_json(&body)?)?, seconds, size))
}

/// `predictLongRunning` on `dep` with a ready JSON body.
fn create_call(dep: &Deployment, json_body: String) -> Result<UpstreamRequest, ClientError> {
    let v = settings(dep)?;
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!("{}:predictLongRunning", model_url(dep, v)),
        auth: Auth::GoogleServiceAccount,
        json_body: Some(json_body),
    })
}

/// The upstream operation as a Vertex client should see it through the
/// gateway: `name` replaced by the gateway's sealed one, and every video in
/// Cloud Storage by `file_uri(index)`, a gateway download URL for the
/// `index`-th generated file (the bucket is the gateway's: clients read
/// their videos through the gateway, which checks they own them, and never
/// learn or need the object names). Inline bytes and everything else the
/// upstream said are relayed as they are.
pub fn native_operation(
    body: &[u8],
    name: &str,
    file_uri: impl Fn(usize) -> String,
) -> Result<Value, UpstreamError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("fetchPredictOperation answered with a non-JSON body"))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| garbage("fetchPredictOperation answered with a non-object"))?;
    obj.insert("name".to_owned(), Value::from(name));
    if let Some(videos) = value
        .pointer_mut("/response/videos")
        .and_then(Value::as_array_mut)
    {
        // Numbered as `parse_operation` numbers the generated files.
        let mut file = 0;
        for video in videos.iter_mut().filter_map(Value::as_object_mut) {
            let in_storage = video
                .get("gcsUri")
                .and_then(Value::as_str)
                .is_some_and(|uri| uri.starts_with("gs://"));
            if in_storage {
                video.insert("gcsUri".to_owned(), Value::from(file_uri(file)));
                file += 1;
            } else if video.get("gcsUri").is_none() && video.contains_key("bytesBase64Encoded") {
                file += 1;
            } else {
                video.remove("gcsUri");
            }
        }
    }
    Ok(value)
}

/// `@type` of a finished Gemini-API video operation's `response`.
const GEMINI_RESPONSE_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse";

/// The upstream operation as a Gemini-API client expects it (the Gemini
/// door served by Vertex): `{name}` while running; `{name, done, error}`
/// on failure; `{name, done, response: {generateVideoResponse:
/// {generatedSamples: [{video: {uri}}]}}}` once done, each video — in Cloud
/// Storage or inline — at `file_uri(index)` (numbered as
/// [`parse_operation`] numbers the files), and Vertex's safety-filter
/// count and reasons kept. Read through the typed [`Operation`]: nothing
/// else Vertex said (bucket paths, inline bytes) reaches the client.
pub fn gemini_operation(
    body: &[u8],
    name: &str,
    file_uri: impl Fn(usize) -> String,
) -> Result<Value, UpstreamError> {
    let op: Operation = veo::read_operation(body, "fetchPredictOperation")?;
    let mut out = serde_json::Map::new();
    out.insert("name".to_owned(), Value::from(name));
    if !op.done {
        return Ok(Value::Object(out));
    }
    out.insert("done".to_owned(), Value::Bool(true));
    if let Some(error) = op.error {
        let message = error
            .message
            .unwrap_or_else(|| "the video operation failed".to_owned());
        out.insert(
            "error".to_owned(),
            serde_json::json!({ "code": error.code, "message": message }),
        );
        return Ok(Value::Object(out));
    }
    let response = op.response.unwrap_or_default();
    let samples: Vec<Value> = response
        .videos
        .iter()
        .filter(|v| match (&v.gcs_uri, &v.bytes_base64_encoded) {
            (Some(uri), _) => uri.starts_with("gs://"),
            (None, bytes) => bytes.is_some(),
        })
        .enumerate()
        .map(|(index, _)| serde_json::json!({ "video": { "uri": file_uri(index) } }))
        .collect();
    let mut result = serde_json::Map::new();
    result.insert("generatedSamples".to_owned(), Value::Array(samples));
    if response.rai.rai_media_filtered_count > 0 {
        result.insert(
            "raiMediaFilteredCount".to_owned(),
            Value::from(response.rai.rai_media_filtered_count),
        );
        result.insert(
            "raiMediaFilteredReasons".to_owned(),
            Value::from(response.rai.rai_media_filtered_reasons),
        );
    }
    out.insert(
        "response".to_owned(),
        serde_json::json!({
            "@type": GEMINI_RESPONSE_TYPE,
            "generateVideoResponse": result,
        }),
    );
    Ok(Value::Object(out))
}

/// Reads the operation name (`projects/…/operations/…`).
pub fn parse_create_response(body: &[u8]) -> Result<String, UpstreamError> {
    let op: veo::Operation<serde::de::IgnoredAny> =
        veo::read_operation(body, "predictLongRunning")?;
    match op.name {
        Some(name)
            if name.starts_with("projects/")
                && name.len() <= 512
                && name.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.')
                })
                && !name.split('/').any(|seg| seg.is_empty() || seg == "..") =>
        {
            Ok(name)
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
    let body = FetchOperation {
        operation_name: Cow::Borrowed(&handle.operation),
    };
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!("{}:fetchPredictOperation", model_url(dep, v)),
        auth: Auth::GoogleServiceAccount,
        json_body: Some(super::to_json(&body)?),
    })
}

/// Prefix of the file id of the `i`-th inline (base64) video.
const INLINE: &str = "inline:";

/// Maps a Vertex operation to a state. Generated files are `gs://…` URIs,
/// or `inline:{i}` for videos returned as bytes.
pub fn parse_operation(body: &[u8]) -> Result<super::Operation, UpstreamError> {
    let op: Operation = veo::read_operation(body, "fetchPredictOperation")?;
    if let Some(state) = lro_state(&op) {
        return Ok(state);
    }
    let response = op.response.unwrap_or_default();
    let files: Vec<String> = response
        .videos
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match (&v.gcs_uri, &v.bytes_base64_encoded) {
            (Some(uri), _) if uri.starts_with("gs://") => Some(uri.clone()),
            (None, Some(_)) => Some(format!("{INLINE}{i}")),
            _ => None,
        })
        .collect();
    if !files.is_empty() {
        return Ok(super::Operation::Succeeded(files));
    }
    if let Some(failure) = response.rai.failure() {
        return Ok(super::Operation::Failed(failure));
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
    let op: Operation = veo::read_operation(body, "fetchPredictOperation")?;
    let video = op
        .response
        .and_then(|r| r.videos.into_iter().nth(index))
        .ok_or_else(|| garbage("the operation has no such video"))?;
    let data = video
        .bytes_base64_encoded
        .ok_or_else(|| garbage("the video has no bytes"))?;
    let bytes = STANDARD
        .decode(data.as_bytes())
        .map_err(|_| garbage("the video bytes are not valid base64"))?;
    let mime = video.mime_type.unwrap_or_else(|| "video/mp4".to_owned());
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
    use crate::video::Operation;

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
            count: 1,
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
    fn the_deployment_decides_storage_on_every_door() {
        let native = crate::video::parse_native(
            br#"{"instances":[{"prompt":"a cat"}],"parameters":{"sampleCount":2}}"#,
        )
        .unwrap();
        for (storage, expected) in [(true, Some("gs://out/veo/")), (false, None)] {
            let call = crate::video::native_create_request(&native, &dep(storage), None).unwrap();
            let body: Value =
                serde_json::from_str(call.request.json_body.as_deref().unwrap()).unwrap();
            assert_eq!(body["parameters"]["storageUri"].as_str(), expected);
            assert_eq!(
                (body["parameters"]["sampleCount"].as_u64(), call.count),
                (Some(2), 2)
            );
        }
        // A finished video in the bucket is the input of a new request by
        // its object; one returned inline cannot be.
        assert_eq!(
            Api.video_input(&dep(true), "gs://out/veo/1/sample_0.mp4")
                .unwrap()
                .gcs_uri
                .as_deref(),
            Some("gs://out/veo/1/sample_0.mp4")
        );
        assert_eq!(
            Api.video_input(&dep(false), "inline:0").unwrap_err().code,
            ErrorCode::UnsupportedValue
        );
    }

    #[test]
    fn native_operations_hand_out_gateway_file_uris() {
        let done = br#"{"name":"projects/p/x","done":true,"response":{"@type":"t","videos":[
            {"gcsUri":"gs://out/veo/1/sample_0.mp4","mimeType":"video/mp4"},
            {"gcsUri":"gs://out/veo/1/sample_1.mp4","mimeType":"video/mp4"}]}}"#;
        let view = native_operation(done, "projects/gw/operations/video_x", |i| {
            std::format!("https://gw/vertex_ai/v1/files/t0{i}:download?alt=media")
        })
        .unwrap();
        assert_eq!(view["name"], "projects/gw/operations/video_x");
        assert_eq!(
            view["response"]["videos"],
            serde_json::json!([
                {"gcsUri": "https://gw/vertex_ai/v1/files/t00:download?alt=media", "mimeType": "video/mp4"},
                {"gcsUri": "https://gw/vertex_ai/v1/files/t01:download?alt=media", "mimeType": "video/mp4"}])
        );
        assert!(!std::string::ToString::to_string(&view).contains("gs://"));
        let inline = br#"{"name":"n","done":true,"response":{"videos":[{"bytesBase64Encoded":"AAEC","mimeType":"video/mp4"}]}}"#;
        let view = native_operation(inline, "n2", |_| String::from("unused")).unwrap();
        assert_eq!(view["response"]["videos"][0]["bytesBase64Encoded"], "AAEC");
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

    #[test]
    fn gemini_operation_translates_vertex_results() {
        let uri =
            |i: usize| std::format!("https://gw/gemini/v1beta/files/t0{i}:download?alt=media");
        let done = br#"{"name":"projects/p/x/operations/u","done":true,"response":{
            "@type":"type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
            "videos":[{"gcsUri":"gs://b/o/sample_0.mp4","mimeType":"video/mp4"},
                      {"gcsUri":"https://elsewhere/x.mp4"},
                      {"bytesBase64Encoded":"AAAA","mimeType":"video/mp4"}]}}"#;
        let view = gemini_operation(done, "models/m/operations/video_1", uri).unwrap();
        assert_eq!(
            view,
            serde_json::json!({"name": "models/m/operations/video_1", "done": true, "response": {
                "@type": GEMINI_RESPONSE_TYPE,
                "generateVideoResponse": {"generatedSamples": [
                    {"video": {"uri": uri(0)}}, {"video": {"uri": uri(1)}}]}}})
        );
        // The same numbering as the files the gateway records.
        assert_eq!(
            parse_operation(done).unwrap(),
            Operation::Succeeded(std::vec!["gs://b/o/sample_0.mp4".into(), "inline:2".into()])
        );
        let running = gemini_operation(br#"{"name":"n","done":false}"#, "g", uri).unwrap();
        assert_eq!(running, serde_json::json!({"name": "g"}));
        let failed = gemini_operation(
            br#"{"name":"n","done":true,"error":{"code":3,"message":"bad prompt"}}"#,
            "g",
            uri,
        )
        .unwrap();
        assert_eq!(
            failed,
            serde_json::json!({"name": "g", "done": true, "error": {"code": 3, "message": "bad prompt"}})
        );
        let filtered = gemini_operation(
            br#"{"done":true,"response":{"raiMediaFilteredCount":1,"raiMediaFilteredReasons":["blocked"]}}"#,
            "g",
            uri,
        )
        .unwrap();
        assert_eq!(
            filtered["response"]["generateVideoResponse"],
            serde_json::json!({"generatedSamples": [], "raiMediaFilteredCount": 1,
                               "raiMediaFilteredReasons": ["blocked"]})
        );
    }
}
