//! Sora on OpenAI's Videos API and on Azure OpenAI: their base paths and
//! auth ([`OPENAI`], [`AZURE`]), the typed bodies reelay sends
//! ([`Request`], [`Remix`], [`Edit`], [`Extension`]) and the answers it
//! reads ([`Video`], [`Character`]). The gateway's surface *is* this API,
//! so translation is nearly the identity.
//!
//! | step | OpenAI | Azure |
//! |---|---|---|
//! | create | `POST {base}/v1/videos` | `POST {base}/openai/v1/videos` |
//! | status | `GET …/videos/{id}` | same |
//! | content | `GET …/videos/{id}/content?variant=` | same |
//! | auth | `Authorization: Bearer` | `api-key` |
//!
//! The upstream's `seconds`, `size`, `status` and `progress` are passed
//! through; only the id is replaced by the gateway's sealed one. Veo-only
//! fields (`negative_prompt`, `person_generation`, `seed`) are refused with
//! a precise error rather than dropped.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{
    Content, CreateVideo, Created, FollowUp, FollowUpKind, Size, Variant, VideoApi, VideoHandle,
};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode, ErrorKind, Retry, Scope, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

/// Sora's defaults (OpenAI's documented `seconds` "4" and `size` "720x1280").
const DEFAULT_SECONDS: u32 = 4;
const DEFAULT_SIZE: Size = Size {
    width: 720,
    height: 1280,
};

/// `POST /videos`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request<'a> {
    /// The upstream model.
    pub model: &'a str,
    /// The prompt.
    pub prompt: &'a str,
    /// `"4"`, `"8"`, `"12"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<String>,
    /// `"1280x720"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// First frame, as a data: URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_reference: Option<ImageReference<'a>>,
    /// Upstream character ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub characters: Vec<IdRef<'a>>,
}

/// `input_reference`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageReference<'a> {
    /// `data:{mime};base64,{bytes}`.
    pub image_url: DataUrl<'a>,
}

/// A `data:` URL serialized straight from the image it wraps (the base64
/// is written into the body once, never copied into a URL string first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataUrl<'a> {
    /// `image/png`, …
    pub mime_type: &'a str,
    /// Standard base64 of the bytes.
    pub base64: &'a str,
}

impl Serialize for DataUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!(
            "data:{};base64,{}",
            self.mime_type, self.base64
        ))
    }
}

/// `{"id": …}`, a reference to an upstream video or character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRef<'a> {
    /// The upstream id.
    pub id: &'a str,
}

/// `POST /videos/{id}/remix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remix<'a> {
    /// What to change.
    pub prompt: &'a str,
}

/// `POST /videos/edits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit<'a> {
    /// What to change.
    pub prompt: &'a str,
    /// The source video.
    #[serde(borrow)]
    pub video: IdRef<'a>,
}

/// `POST /videos/extensions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension<'a> {
    /// How to continue.
    pub prompt: &'a str,
    /// Extension length, `"4"`.
    pub seconds: Option<String>,
    /// The source video.
    #[serde(borrow)]
    pub video: IdRef<'a>,
}

/// A Video object, as the upstream answers create and status calls.
/// Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Video {
    /// Upstream id (`video_…`).
    pub id: String,
    /// `queued`, `in_progress`, `completed` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Percent done.
    #[serde(default)]
    pub progress: Option<u64>,
    /// `"4"`.
    #[serde(default)]
    pub seconds: Option<String>,
    /// `"720x1280"`.
    #[serde(default)]
    pub size: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<VideoError>,
}

/// A failed video's `error`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VideoError {
    /// `moderation_blocked`, …
    #[serde(default)]
    pub code: Option<String>,
    /// OpenAI's message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The parts a character create (`POST /v1/videos/characters`) may have,
/// each at most once: OpenAI's `name` and `video`, and reelay's own `model`
/// (the Sora group; dropped before the form goes upstream).
pub const CHARACTER_FORM_PARTS: &[&str] = &["name", "video", "model"];

/// A character as the upstream describes it. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Character {
    /// Upstream id (`char_…`).
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Creation time, unix seconds.
    #[serde(default)]
    pub created_at: u64,
}

/// Sora on one host family: where its Videos API lives and how it is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// Path of the Videos API under the deployment's base.
    videos_path: &'static str,
    /// Credential header.
    auth: Auth,
}

/// OpenAI's own API.
pub static OPENAI: Api = Api {
    videos_path: "/v1/videos",
    auth: Auth::Bearer,
};

/// Azure OpenAI.
pub static AZURE: Api = Api {
    videos_path: "/openai/v1/videos",
    auth: Auth::AzureApiKey,
};

impl VideoApi for Api {
    fn create(
        &self,
        req: &CreateVideo,
        dep: &Deployment,
        characters: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        let call = self.create_request(req, dep, characters)?;
        let seconds = req.seconds.unwrap_or(DEFAULT_SECONDS);
        Ok((call, seconds, req.size.unwrap_or(DEFAULT_SIZE)))
    }

    fn parse_created(&self, body: &[u8]) -> Result<Created, UpstreamError> {
        parse_create_response(body)
    }

    fn poll(&self, dep: &Deployment, handle: &VideoHandle) -> Result<UpstreamRequest, ClientError> {
        Ok(self.poll_request(dep, &handle.operation))
    }

    fn parse_poll(&self, body: &[u8]) -> Result<super::Operation, UpstreamError> {
        parse_video(body)
    }

    fn delete(&self, dep: &Deployment, handle: &VideoHandle) -> Option<UpstreamRequest> {
        Some(self.delete_request(dep, &handle.operation))
    }

    fn content(
        &self,
        dep: &Deployment,
        file: &str,
        variant: Variant,
    ) -> Result<Content, ClientError> {
        Ok(Content::Fetch(self.content_request(dep, file, variant)))
    }

    fn check_follow_up(&self, _kind: FollowUpKind) -> Result<(), ClientError> {
        Ok(())
    }

    fn follow_up(
        &self,
        dep: &Deployment,
        follow: &FollowUp,
        source: &VideoHandle,
        _files: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        let call = self.follow_up_request(dep, follow, &source.operation)?;
        let seconds = match follow.kind {
            FollowUpKind::Extend => source.seconds + follow.seconds.unwrap_or(0),
            _ => source.seconds,
        };
        Ok((call, seconds, source.size))
    }

    fn sora(&self) -> Option<&Api> {
        Some(self)
    }
}

impl Api {
    fn videos_url(&self, dep: &Deployment) -> String {
        format!("{}{}", dep.api_base, self.videos_path)
    }

    /// The create call for `req`; `characters` are the upstream ids of the
    /// request's (already unsealed) characters.
    pub fn create_request(
        &self,
        req: &CreateVideo,
        dep: &Deployment,
        characters: &[String],
    ) -> Result<UpstreamRequest, ClientError> {
        for (value, param) in [
            (req.negative_prompt.is_some(), "negative_prompt"),
            (req.person_generation.is_some(), "person_generation"),
            (req.seed.is_some(), "seed"),
            (req.generate_audio.is_some(), "generate_audio"),
            (req.last_frame.is_some(), "last_frame"),
            (!req.reference_images.is_empty(), "reference_images"),
        ] {
            if value {
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!("`{param}` is a Veo option; this model ({}) is served by Sora, which does not support it", dep.model),
                )
                .with_param(param));
            }
        }
        if let Some(seconds) = req.seconds {
            if !dep.video_seconds.contains(&seconds) {
                let allowed: Vec<String> = dep
                    .video_seconds
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect();
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!(
                        "`seconds` {seconds} is not available for this model; choose one of {}",
                        allowed.join(", ")
                    ),
                )
                .with_param("seconds"));
            }
        }
        let body = Request {
            model: &dep.model,
            prompt: &req.prompt,
            seconds: req.seconds.map(|s| s.to_string()),
            size: req.size.map(Size::to_wire),
            input_reference: req.input_reference.as_ref().map(|image| ImageReference {
                image_url: DataUrl {
                    mime_type: image.mime_type,
                    base64: &image.base64,
                },
            }),
            characters: characters.iter().map(|id| IdRef { id }).collect(),
        };
        Ok(UpstreamRequest {
            method: Method::Post,
            url: self.videos_url(dep),
            auth: self.auth,
            json_body: Some(super::to_json(&body)?),
        })
    }

    /// The status call.
    pub fn poll_request(&self, dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
        self.get(format!("{}/{upstream_id}", self.videos_url(dep)))
    }

    /// A remix, edit or extension of upstream video `source`.
    pub fn follow_up_request(
        &self,
        dep: &Deployment,
        follow: &FollowUp,
        source: &str,
    ) -> Result<UpstreamRequest, ClientError> {
        let prompt = follow.prompt.as_str();
        let (url, body) = match follow.kind {
            FollowUpKind::Remix => (
                format!("{}/{source}/remix", self.videos_url(dep)),
                super::to_json(&Remix { prompt })?,
            ),
            FollowUpKind::Edit => (
                format!("{}/edits", self.videos_url(dep)),
                super::to_json(&Edit {
                    prompt,
                    video: IdRef { id: source },
                })?,
            ),
            FollowUpKind::Extend => (
                format!("{}/extensions", self.videos_url(dep)),
                super::to_json(&Extension {
                    prompt,
                    seconds: follow.seconds.map(|s| s.to_string()),
                    video: IdRef { id: source },
                })?,
            ),
        };
        Ok(UpstreamRequest {
            method: Method::Post,
            url,
            auth: self.auth,
            json_body: Some(body),
        })
    }

    /// Where characters are created (multipart `name` + `video`).
    pub fn characters_url(&self, dep: &Deployment) -> String {
        format!("{}/characters", self.videos_url(dep))
    }

    /// The upstream auth (for calls the host builds itself, like multipart).
    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// The character lookup call.
    pub fn character_request(&self, dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
        self.get(format!("{}/{upstream_id}", self.characters_url(dep)))
    }

    /// The delete call.
    pub fn delete_request(&self, dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::Delete,
            url: format!("{}/{upstream_id}", self.videos_url(dep)),
            auth: self.auth,
            json_body: None,
        }
    }

    /// The content call for `variant`.
    pub fn content_request(
        &self,
        dep: &Deployment,
        upstream_id: &str,
        variant: Variant,
    ) -> UpstreamRequest {
        self.get(format!(
            "{}/{upstream_id}/content?variant={}",
            self.videos_url(dep),
            variant.as_str()
        ))
    }

    fn get(&self, url: String) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::Get,
            url,
            auth: self.auth,
            json_body: None,
        }
    }
}

fn read_video(body: &[u8], what: &str) -> Result<Video, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| {
        garbage(&if e.is_data() {
            format!("{what} answered without a readable video object: {e}")
        } else {
            format!("{what} answered with a non-JSON body")
        })
    })
}

/// Reads the upstream's Video object from a create answer.
pub fn parse_create_response(body: &[u8]) -> Result<Created, UpstreamError> {
    let video = read_video(body, "the create call")?;
    if !valid_id(&video.id) {
        return Err(garbage("the create call answered without a valid video id"));
    }
    Ok(Created {
        seconds: video.seconds.as_deref().and_then(|s| s.parse().ok()),
        size: video.size.as_deref().and_then(Size::parse),
        upstream_id: video.id,
    })
}

/// Upstream ids go into URL paths: plain characters only.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Maps the upstream's Video object to an operation state.
pub fn parse_video(body: &[u8]) -> Result<super::Operation, UpstreamError> {
    let video = read_video(body, "the status call")?;
    let progress = video.progress.map(|p| p.min(100) as u8);
    match video.status.as_deref() {
        Some("queued") => Ok(super::Operation::Queued),
        Some("in_progress") => Ok(super::Operation::Running { progress }),
        Some("completed") => Ok(super::Operation::Succeeded(vec![video.id])),
        Some("failed") => {
            let error = video.error.as_ref();
            let code = error
                .and_then(|e| e.code.as_deref())
                .unwrap_or("video_failed");
            let message = error
                .and_then(|e| e.message.as_deref())
                .unwrap_or("the video job failed");
            let policy = ["moderation", "content_policy", "safety"]
                .iter()
                .any(|w| code.contains(w));
            Ok(super::Operation::Failed(UpstreamError {
                kind: if policy {
                    ErrorKind::ContentPolicy
                } else {
                    ErrorKind::UpstreamUnavailable
                },
                retry: Retry::Never,
                scope: Scope::Request,
                status: None,
                upstream_code: Some(code.to_owned()),
                message: message.to_owned(),
            }))
        }
        _ => Err(garbage("the status call answered without a known status")),
    }
}

/// Reads a character object.
pub fn parse_character(body: &[u8]) -> Result<Character, UpstreamError> {
    let character: Character = serde_json::from_slice(body)
        .map_err(|_| garbage("the character call answered without a readable character"))?;
    if !valid_id(&character.id) {
        return Err(garbage("the character has no valid id"));
    }
    Ok(character)
}

fn garbage(message: &str) -> UpstreamError {
    super::upstream_garbage(message)
}

/// The one answer for a character id that does not open for this key (the
/// seal module's refusal for character ids).
pub fn character_not_found() -> ClientError {
    crate::seal::Purpose::Character.refusal()
}

/// Opens character id `id` for the key whose owner fingerprint is `owner`:
/// the deployment that holds it and the upstream character id. Forged,
/// tampered, foreign and malformed ids all get the same 404 (owner compared
/// in constant time).
pub fn open_character(
    sealer: &crate::seal::Keys,
    id: &str,
    owner: &crate::seal::Owner,
) -> Result<(String, String), ClientError> {
    let sealed = sealer
        .open_id(crate::seal::Purpose::Character, id)
        .map_err(|e| e.to_client(crate::seal::Purpose::Character))?;
    if !owner.may_open(&sealed.owner) {
        return Err(character_not_found());
    }
    let upstream = String::from_utf8(sealed.payload).map_err(|_| character_not_found())?;
    Ok((sealed.deployment, upstream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::video::Operation;
    use serde_json::Value;

    fn dep(provider: &str) -> Deployment {
        Config::parse(&std::format!(
            r#"{{"model_groups":[{{"name":"sora","deployments":[{{"id":"s","provider":"{provider}","model":"sora-2","credential":"K","api_base":"https://res.example"}}]}}]}}"#
        ))
        .unwrap()
        .model_groups[0]
            .deployments[0]
            .clone()
    }

    #[test]
    fn creates_on_openai_and_azure_paths() {
        let req = CreateVideo::parse_json(br#"{"prompt":"a cat","seconds":"8","size":"1280x720"}"#)
            .unwrap();
        let call = OPENAI.create_request(&req, &dep("openai"), &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), call.auth),
            ("https://res.example/v1/videos", Auth::Bearer)
        );
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model":"sora-2","prompt":"a cat","seconds":"8","size":"1280x720"})
        );
        let call = AZURE.create_request(&req, &dep("azure"), &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), call.auth),
            ("https://res.example/openai/v1/videos", Auth::AzureApiKey)
        );
        let veo_only = CreateVideo::parse_json(br#"{"prompt":"x","seed":1}"#).unwrap();
        assert_eq!(
            OPENAI
                .create_request(&veo_only, &dep("openai"), &[])
                .unwrap_err()
                .param
                .as_deref(),
            Some("seed")
        );
        let bad_seconds = CreateVideo::parse_json(br#"{"prompt":"x","seconds":"6"}"#).unwrap();
        assert_eq!(
            OPENAI
                .create_request(&bad_seconds, &dep("openai"), &[])
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedValue
        );
    }

    #[test]
    fn maps_video_states() {
        let created = parse_create_response(
            br#"{"id":"video_abc","status":"queued","seconds":"4","size":"720x1280"}"#,
        )
        .unwrap();
        assert_eq!(created.upstream_id, "video_abc");
        assert_eq!(
            (created.seconds, created.size),
            (
                Some(4),
                Some(Size {
                    width: 720,
                    height: 1280
                })
            )
        );
        assert!(parse_create_response(br#"{"id":"../x"}"#).is_err());
        assert_eq!(
            parse_video(br#"{"id":"v","status":"queued"}"#).unwrap(),
            Operation::Queued
        );
        assert_eq!(
            parse_video(br#"{"id":"v","status":"in_progress","progress":40}"#).unwrap(),
            Operation::Running { progress: Some(40) }
        );
        assert_eq!(
            parse_video(br#"{"id":"v","status":"completed"}"#).unwrap(),
            Operation::Succeeded(vec!["v".into()])
        );
        let Operation::Failed(err) = parse_video(
            br#"{"id":"v","status":"failed","error":{"code":"moderation_blocked","message":"no"}}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(err.kind, ErrorKind::ContentPolicy);
        assert!(parse_video(b"<html>").is_err());
        assert_eq!(
            OPENAI
                .content_request(&dep("openai"), "v", Variant::Thumbnail)
                .url,
            "https://res.example/v1/videos/v/content?variant=thumbnail"
        );
    }
}
