//! Veo on the Gemini Developer API: its base URL and key, the typed
//! answers it gives ([`Operation`], [`Response`]) and the calls reelay
//! makes (the body is [`veo::Request`], shared with Vertex).
//!
//! | step | upstream call |
//! |---|---|
//! | create | `POST {base}/v1beta/models/{model}:predictLongRunning` → `{"name":"models/{m}/operations/{id}"}` |
//! | status | `GET {base}/v1beta/{name}` → `{"name",…}` until `"done":true` |
//! | content | `GET {base}/v1beta/files/{file}:download?alt=media` → 302 to the bytes |
//! | extend | `predictLongRunning` with `instances[0].video.uri` = the source's file |
//!
//! `input_reference` becomes `instances[0].image = {bytesBase64Encoded, mimeType}`
//! (image-to-video: the image is the first frame).
//!
//! All calls use `x-goog-api-key`. Download URLs are rebuilt from the file id
//! on the deployment's own base, never taken verbatim from the upstream, so
//! the gateway's key is only ever sent to the configured host.

use alloc::borrow::{Cow, ToOwned};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;
use serde_json::Value;

use super::veo::{self, lro_state, RaiFilter};
use super::{
    Content, CreateVideo, Created, FollowUp, FollowUpKind, GoogleShape, Size, Variant, VideoApi,
    VideoHandle,
};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

/// A Gemini API operation (`GET /v1beta/{name}`).
pub type Operation = veo::Operation<Response>;

/// `response` of a finished operation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Where the Gemini API puts the videos.
    #[serde(default)]
    pub generate_video_response: Option<GenerateVideoResponse>,
}

/// The videos, or why there are none.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateVideoResponse {
    /// One per video.
    #[serde(default)]
    pub generated_samples: Vec<Sample>,
    /// Safety filtering.
    #[serde(flatten)]
    pub rai: RaiFilter,
}

/// A `generatedSamples[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Sample {
    /// The generated file.
    #[serde(default)]
    pub video: Option<Video>,
}

/// A generated file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Video {
    /// `…/v1beta/files/{id}:download?alt=media`.
    #[serde(default)]
    pub uri: Option<String>,
}

/// Veo on the Gemini API.
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
        Ok(poll_request(dep, handle))
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
        Ok(Content::Fetch(download_request(dep, file)))
    }

    fn check_follow_up(&self, kind: FollowUpKind) -> Result<(), ClientError> {
        match kind {
            FollowUpKind::Extend => Ok(()),
            FollowUpKind::Remix | FollowUpKind::Edit => Err(veo::no_remix()),
        }
    }

    fn follow_up_needs_files(&self, kind: FollowUpKind) -> bool {
        kind == FollowUpKind::Extend
    }

    fn follow_up(
        &self,
        dep: &Deployment,
        follow: &FollowUp,
        source: &VideoHandle,
        files: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        self.check_follow_up(follow.kind)?;
        extend_request(dep, follow, source, files)
    }

    fn google_shape(&self) -> Option<GoogleShape> {
        Some(GoogleShape::Gemini)
    }

    fn veo_call(
        &self,
        dep: &Deployment,
        body: veo::Request<'_>,
    ) -> Result<UpstreamRequest, ClientError> {
        Ok(create_call(dep, super::to_json(&body)?))
    }

    fn video_input(
        &self,
        dep: &Deployment,
        file: &str,
    ) -> Result<veo::VideoInput<'static>, ClientError> {
        Ok(veo::VideoInput {
            uri: Some(Cow::Owned(file_uri(dep, file))),
            ..veo::VideoInput::default()
        })
    }
}

/// The Gemini file URI of generated file `file` of `dep`, on the
/// deployment's own base (what Veo takes as the video to extend).
fn file_uri(dep: &Deployment, file: &str) -> String {
    format!("{}/v1beta/files/{file}:download?alt=media", dep.api_base)
}

/// `predictLongRunning` on `dep` with a ready body.
fn create_call(dep: &Deployment, json_body: String) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Post,
        url: format!(
            "{}/v1beta/models/{}:predictLongRunning",
            dep.api_base, dep.model
        ),
        auth: Auth::GoogleApiKey,
        json_body: Some(json_body),
    }
}

/// The `predictLongRunning` call for `req` on `dep`, and the handle values
/// (duration and size actually requested) to seal into the id.
pub fn create_request(
    req: &CreateVideo,
    dep: &Deployment,
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    let (body, seconds, size) = veo::request(req, dep)?;
    Ok((create_call(dep, super::to_json(&body)?), seconds, size))
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
    let body = veo::extend(dep, &follow.prompt, follow.seconds, file_uri(dep, file))?;
    Ok((
        create_call(dep, super::to_json(&body)?),
        source.seconds + follow.seconds.unwrap_or(0),
        source.size,
    ))
}

/// Reads the operation name from a `predictLongRunning` answer.
pub fn parse_create_response(body: &[u8]) -> Result<String, UpstreamError> {
    let op: veo::Operation<serde::de::IgnoredAny> =
        veo::read_operation(body, "predictLongRunning")?;
    match op.name {
        Some(name) if valid_operation_name(&name) => Ok(name),
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
pub fn parse_operation(body: &[u8]) -> Result<super::Operation, UpstreamError> {
    let op: Operation = veo::read_operation(body, "the operation poll")?;
    if let Some(state) = lro_state(&op) {
        return Ok(state);
    }
    let result = op.response.and_then(|r| r.generate_video_response);
    let files: Vec<String> = result
        .iter()
        .flat_map(|r| r.generated_samples.iter())
        .filter_map(|s| s.video.as_ref()?.uri.as_deref())
        .filter_map(file_id)
        .collect();
    if !files.is_empty() {
        return Ok(super::Operation::Succeeded(files));
    }
    if let Some(failure) = result.and_then(|r| r.rai.failure()) {
        return Ok(super::Operation::Failed(failure));
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

/// The upstream operation as a Google client should see it through the
/// gateway: `name` replaced by the gateway's own (sealed) name and every
/// generated video's `uri` by `file_uri(index)`, a gateway download URL.
/// Everything else the upstream said is relayed as it is.
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
    use crate::video::{native_create_request, parse_native, Operation};

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

    fn checked(body: &[u8]) -> Result<crate::video::NativeCreate, ClientError> {
        native_create_request(&parse_native(body)?, &dep(), None)
    }

    #[test]
    fn native_requests_are_checked_and_read() {
        let body = br#"{"instances":[{"prompt":"a cat"}],"parameters":{"durationSeconds":6,"aspectRatio":"9:16","resolution":"1080p","enhancePrompt":true,"sampleCount":3}}"#;
        let native = checked(body).unwrap();
        let sent: Value =
            serde_json::from_str(native.request.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(sent, serde_json::from_slice::<Value>(body).unwrap());
        assert_eq!(
            native.request.url,
            "http://127.0.0.1:9/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
        );
        assert_eq!(
            (
                native.prompt.as_str(),
                native.seconds,
                native.size,
                native.count
            ),
            (
                "a cat",
                6,
                Size {
                    width: 1080,
                    height: 1920
                },
                3
            )
        );
        let defaults = checked(br#"{"instances":[{"prompt":"x"}]}"#).unwrap();
        assert_eq!(
            (defaults.seconds, defaults.size, defaults.count),
            (8, DEFAULT_SIZE, 1)
        );
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
                checked(bad).unwrap_err().code.as_str(),
                code,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_named_source_video_becomes_the_deployments_file() {
        let id = crate::seal::Keys::derive(&[9u8; 32])
            .unwrap()
            .seal_id(&crate::seal::Sealed {
                purpose: crate::seal::Purpose::Video,
                owner: crate::seal::Owner::key([1; 16]),
                created_at_ms: 1,
                deployment: String::from("g"),
                payload: std::vec![0, 8, 5, 0, 2, 208, b'o'],
            })
            .unwrap();
        let token = crate::video::file_token(&id, 0).unwrap();
        let body = std::format!(
            r#"{{"instances":[{{"prompt":"more","video":{{"uri":"http://gw/gemini/v1beta/files/{token}:download?alt=media","mimeType":"video/mp4"}}}}]}}"#
        );
        let parsed = parse_native(body.as_bytes()).unwrap();
        assert!(native_create_request(&parsed, &dep(), None).is_err());
        let call = native_create_request(&parsed, &dep(), Some("upfile1")).unwrap();
        let sent: Value = serde_json::from_str(call.request.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            sent["instances"][0]["video"],
            serde_json::json!({"uri": "http://127.0.0.1:9/v1beta/files/upfile1:download?alt=media", "mimeType": "video/mp4"})
        );
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
