//! Gemini Omni video through the Interactions API, on the Gemini Developer
//! API ([`GEMINI`]) and on Vertex AI ([`VERTEX`]): the typed bodies reelay
//! sends ([`CreateInteraction`]), the answers it reads ([`Interaction`]) and
//! the OpenAI Videos API served on them.
//!
//! A `gemini` or `vertex_ai` deployment whose model starts with
//! `gemini-omni-` ([`crate::config::is_omni_model`]) is served here;
//! [`super::provider::api`] picks it.
//!
//! | step | Gemini API (`x-goog-api-key`) | Vertex AI (service-account bearer) |
//! |---|---|---|
//! | create | `POST {base}/v1beta/interactions` | `POST {base}/v1beta1/projects/{p}/locations/{l}/interactions` |
//! | status | `GET …/interactions/{id}` | same |
//! | cancel | `POST …/interactions/{id}/cancel` | same |
//! | delete | `DELETE …/interactions/{id}` | same |
//! | content | the video's file id → `GET {base}/v1beta/files/{id}:download?alt=media` | `gs://` → Cloud Storage download |
//!
//! Every create is a background interaction (`background: true`) that is
//! stored (`store: true`, so remixes can continue it), asks for a video
//! (`response_format.type: video`) with its duration, aspect ratio and
//! resolution spelled out, and for `uri` delivery — on Vertex into the
//! deployment's `storage_uri` (`gcs_uri`), or `inline` when it has none.
//!
//! | OpenAI Videos | Interactions API |
//! |---|---|
//! | `prompt` | `input` (a string), or the text block of a `user_input` step |
//! | `input_reference` | an `image` block beside the text; `video_config.task: image_to_video` (else `text_to_video`) |
//! | `seconds` | `response_format.duration` (`"8s"`); 3–10 unless the deployment's `video_seconds` says otherwise |
//! | `size` | `response_format.aspect_ratio` + `resolution` (360p, 720p, 1080p, 4k in 16:9 or 9:16); anything else is a 400 |
//! | `seed` | `generation_config.seed` |
//! | `negative_prompt`, `person_generation` | refused (Omni has neither) |
//! | remix | `previous_interaction_id` = the source interaction, the prompt as `input` |
//! | edit | the source video block + prompt, `task: edit` (sources up to 10 s) |
//! | extension | the source video block + prompt, `task: extend`, `duration` = the extension; source ≤ 30 s, total ≤ 40 s |
//!
//! Status: `queued` → queued; `in_progress`, `requires_continuation`,
//! `idle` → in progress; `completed` with a video in the last `model_output`
//! step → completed; `completed` without one → failed with
//! `content_policy_violation` (the reference's safety outcome, also what a
//! region-blocked edit gives); `failed` → failed, with
//! `content_policy_violation` when a code, finish reason or message names a
//! safety block, else classified; `cancelled`, `incomplete`,
//! `budget_exceeded`, `requires_action` → failed. Omni reports no progress.
//!
//! A video delivered inline (`data`, which Vertex gives without a bucket and
//! the Gemini API may give on `GET` even for `uri` delivery) is a file named
//! `inline:{n}`, decoded by [`inline_video`] from the status answer.

use alloc::borrow::{Cow, ToOwned};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::{
    Content, CreateVideo, Created, FollowUp, FollowUpKind, Size, Variant, VideoApi, VideoHandle,
};
use crate::config::{Deployment, VertexSettings};
use crate::errors::{ClientError, ErrorCode, ErrorKind, Retry, Scope, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

/// Sizes Omni renders, as (size, `aspect_ratio`, `resolution`).
pub const SIZES: &[(Size, &str, &str)] = &[
    (size(640, 360), "16:9", "360p"),
    (size(360, 640), "9:16", "360p"),
    (size(1280, 720), "16:9", "720p"),
    (size(720, 1280), "9:16", "720p"),
    (size(1920, 1080), "16:9", "1080p"),
    (size(1080, 1920), "9:16", "1080p"),
    (size(3840, 2160), "16:9", "4k"),
    (size(2160, 3840), "9:16", "4k"),
];

const fn size(width: u16, height: u16) -> Size {
    Size { width, height }
}

/// Omni's defaults: 720p landscape, and 8 seconds when the deployment allows it.
pub const DEFAULT_SIZE: Size = size(1280, 720);
const DEFAULT_SECONDS: u32 = 8;
/// Longest source an edit takes.
pub const MAX_EDIT_SOURCE_SECS: u32 = 10;
/// Longest source an extension takes.
pub const MAX_EXTEND_SOURCE_SECS: u32 = 30;
/// Longest video extensions may build.
pub const MAX_EXTENDED_SECS: u32 = 40;

/// Prefix of the file name of the `n`-th inline video of an interaction.
const INLINE: &str = "inline:";

// ---------------------------------------------------------------------------
// Wire: what reelay sends

/// `POST …/interactions`: a background video interaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateInteraction<'a> {
    /// The upstream model.
    pub model: &'a str,
    /// The prompt, and the media it works on.
    pub input: Input<'a>,
    /// The interaction this one continues (a remix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_interaction_id: Option<&'a str>,
    /// The video to produce.
    pub response_format: VideoFormat<'a>,
    /// Seed and task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// Run asynchronously: the create answers at once, status is polled.
    pub background: bool,
    /// Keep the interaction, so it can be polled and continued.
    pub store: bool,
}

/// `input`: a bare prompt, or one `user_input` step of content blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Input<'a> {
    /// Text only.
    Text(&'a str),
    /// `[{"type":"user_input","content":[…]}]`.
    Steps(Vec<InputStep<'a>>),
}

/// A step of `input`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputStep<'a> {
    /// What the user gives.
    UserInput {
        /// Text and media, in order.
        content: Vec<Block<'a>>,
    },
}

/// A content block of the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block<'a> {
    /// Text.
    Text {
        /// The text.
        text: &'a str,
    },
    /// An image given inline.
    Image {
        /// Standard base64 of the bytes.
        data: &'a str,
        /// `image/png`, `image/jpeg`, `image/webp`.
        mime_type: &'a str,
    },
    /// A video given by reference (a Gemini file URI or `gs://`).
    Video {
        /// Where the video is.
        uri: Cow<'a, str>,
        /// `video/mp4`.
        mime_type: &'a str,
    },
}

/// `response_format` for a video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoFormat<'a> {
    /// Always `video`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `16:9` or `9:16`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<&'static str>,
    /// `360p`, `720p`, `1080p` or `4k`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'static str>,
    /// A protobuf Duration string, `"8s"` (a bare number is refused upstream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `uri` or `inline`.
    pub delivery: &'static str,
    /// Where Vertex writes a `uri`-delivered video (`gs://bucket/prefix/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcs_uri: Option<&'a str>,
}

/// `generation_config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationConfig {
    /// Deterministic seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// The video task.
    pub video_config: VideoConfig,
}

/// `generation_config.video_config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoConfig {
    /// `text_to_video`, `image_to_video`, `edit`, `extend`.
    pub task: &'static str,
}

// ---------------------------------------------------------------------------
// Wire: what reelay reads

/// An interaction (create, status and cancel answers). Unknown fields and
/// unknown step and block types are ignored. `D` is what a video's inline
/// `data` is read as: [`IgnoredAny`] to learn only that it is there, a
/// `String` to decode it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
pub struct Interaction<D = IgnoredAny> {
    /// `v1_…`.
    #[serde(default)]
    pub id: Option<String>,
    /// `queued`, `in_progress`, `completed`, `failed`, …
    #[serde(default)]
    pub status: Option<String>,
    /// The turns, the model's output last.
    #[serde(default = "Vec::new")]
    pub steps: Vec<Step<D>>,
    /// Diagnostics of a failure.
    #[serde(default)]
    pub errors: Vec<Diagnostic>,
    /// A failure, as some answers carry it.
    #[serde(default)]
    pub error: Option<Diagnostic>,
    /// Why generation stopped, as some answers carry it.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A step of an interaction; only the model's output matters here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
pub enum Step<D> {
    /// What the model produced.
    ModelOutput {
        /// Its content blocks.
        #[serde(default = "Vec::new")]
        content: Vec<OutputBlock<D>>,
        /// Why it failed.
        #[serde(default)]
        error: Option<Diagnostic>,
        /// Why it stopped.
        #[serde(default)]
        finish_reason: Option<String>,
    },
    /// User input, thoughts, tool calls, …
    #[serde(other)]
    Other,
}

/// A content block of the model's output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
pub enum OutputBlock<D> {
    /// A generated video: by `uri`, or inline as base64 `data`.
    Video {
        /// A Gemini file URI, or `gs://…` on Vertex.
        #[serde(default)]
        uri: Option<String>,
        /// The bytes, base64.
        #[serde(default = "none")]
        data: Option<D>,
        /// `video/mp4`.
        #[serde(default)]
        mime_type: Option<String>,
    },
    /// Text (a refusal says why here).
    Text {
        /// The text.
        #[serde(default)]
        text: Option<String>,
    },
    /// Images, audio, …
    #[serde(other)]
    Other,
}

fn none<D>() -> Option<D> {
    None
}

/// `{code, message}` of a failure (`errors[]`, `error`, `model_output.error`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Diagnostic {
    /// A string (`invalid_request`, `SAFETY`) or a number (a gRPC code).
    #[serde(default)]
    pub code: Option<Code>,
    /// Google's canonical status name, when given.
    #[serde(default)]
    pub status: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
}

/// An error code, as either kind of value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Code {
    /// A number.
    Number(i64),
    /// A name.
    Text(String),
}

// ---------------------------------------------------------------------------
// The API

/// Where an Interactions API lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// The Gemini Developer API.
    Gemini,
    /// Vertex AI.
    Vertex,
}

/// Gemini Omni on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    host: Host,
}

/// Omni on the Gemini Developer API.
pub static GEMINI: Api = Api { host: Host::Gemini };
/// Omni on Vertex AI.
pub static VERTEX: Api = Api { host: Host::Vertex };

impl VideoApi for Api {
    fn create(
        &self,
        req: &CreateVideo,
        dep: &Deployment,
        _characters: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        for (given, param, why) in [
            (
                req.negative_prompt.is_some(),
                "negative_prompt",
                "has no negative prompt; say what the video should show instead",
            ),
            (
                req.person_generation.is_some(),
                "person_generation",
                "has no person_generation setting",
            ),
        ] {
            if given {
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!(
                        "`{param}` is not supported: Gemini Omni ({}) {why}",
                        dep.model
                    ),
                )
                .with_param(param));
            }
        }
        let seconds = match req.seconds {
            Some(s) => check_seconds(dep, s, "seconds")?,
            None => default_seconds(dep),
        };
        let size = req.size.unwrap_or(DEFAULT_SIZE);
        let (aspect, resolution) = aspect_and_resolution(size)?;
        let (input, task) = match &req.input_reference {
            None => (Input::Text(&req.prompt), "text_to_video"),
            Some(image) => (
                Input::Steps(vec![InputStep::UserInput {
                    content: vec![
                        Block::Text { text: &req.prompt },
                        Block::Image {
                            data: &image.base64,
                            mime_type: image.mime_type,
                        },
                    ],
                }]),
                "image_to_video",
            ),
        };
        let mut format = self.format(dep)?;
        format.aspect_ratio = Some(aspect);
        format.resolution = Some(resolution);
        format.duration = Some(format!("{seconds}s"));
        let body = CreateInteraction {
            model: &dep.model,
            input,
            previous_interaction_id: None,
            response_format: format,
            generation_config: Some(GenerationConfig {
                seed: req.seed,
                video_config: VideoConfig { task },
            }),
            background: true,
            store: true,
        };
        Ok((self.create_call(dep, &body)?, seconds, size))
    }

    fn parse_created(&self, body: &[u8]) -> Result<Created, UpstreamError> {
        let interaction: Interaction = read(body, "the interaction create")?;
        match interaction.id {
            Some(id) if valid_id(&id) => Ok(Created {
                upstream_id: id,
                seconds: None,
                size: None,
            }),
            _ => Err(garbage(
                "the interaction create answered without a valid interaction id",
            )),
        }
    }

    fn poll(&self, dep: &Deployment, handle: &VideoHandle) -> Result<UpstreamRequest, ClientError> {
        self.call(dep, Method::Get, &handle.operation, "")
    }

    fn parse_poll(&self, body: &[u8]) -> Result<super::Operation, UpstreamError> {
        let interaction: Interaction = read(body, "the interaction poll")?;
        state(&interaction, self.host)
    }

    fn delete(&self, dep: &Deployment, handle: &VideoHandle) -> Option<UpstreamRequest> {
        self.call(dep, Method::Delete, &handle.operation, "").ok()
    }

    fn cancel(&self, dep: &Deployment, handle: &VideoHandle) -> Option<UpstreamRequest> {
        self.call(dep, Method::Post, &handle.operation, "/cancel")
            .ok()
    }

    fn check_variant(&self, variant: Variant) -> Result<(), ClientError> {
        match variant {
            Variant::Video => Ok(()),
            Variant::Thumbnail | Variant::Spritesheet => Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                "Gemini Omni produces only the video itself; `variant` thumbnail and spritesheet are not available for this video",
            )
            .with_param("variant")),
        }
    }

    fn content(
        &self,
        dep: &Deployment,
        file: &str,
        _variant: Variant,
    ) -> Result<Content, ClientError> {
        if let Some(index) = file.strip_prefix(INLINE) {
            let index = index
                .parse()
                .map_err(|_| ClientError::from_code(ErrorCode::BadUpstreamResponse))?;
            return Ok(Content::Inline { index });
        }
        match self.host {
            Host::Gemini => Ok(Content::Fetch(super::gemini::download_request(dep, file))),
            Host::Vertex => super::vertex::content_source(dep, file),
        }
    }

    fn check_follow_up(&self, _kind: FollowUpKind) -> Result<(), ClientError> {
        Ok(())
    }

    fn follow_up_needs_files(&self, kind: FollowUpKind) -> bool {
        matches!(kind, FollowUpKind::Edit | FollowUpKind::Extend)
    }

    fn follow_up(
        &self,
        dep: &Deployment,
        follow: &FollowUp,
        source: &VideoHandle,
        files: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError> {
        let prompt = follow.prompt.as_str();
        let mut format = self.format(dep)?;
        let (task, seconds) = match follow.kind {
            // A conversational edit of the stored source interaction.
            FollowUpKind::Remix => {
                let body = CreateInteraction {
                    model: &dep.model,
                    input: Input::Text(prompt),
                    previous_interaction_id: Some(&source.operation),
                    response_format: format,
                    generation_config: None,
                    background: true,
                    store: true,
                };
                return Ok((self.create_call(dep, &body)?, source.seconds, source.size));
            }
            FollowUpKind::Edit => {
                if source.seconds > MAX_EDIT_SOURCE_SECS {
                    return Err(ClientError::new(
                        ErrorCode::UnsupportedValue,
                        format!(
                            "Gemini Omni edits videos of at most {MAX_EDIT_SOURCE_SECS} seconds; this one is {} seconds",
                            source.seconds
                        ),
                    )
                    .with_param("video"));
                }
                ("edit", source.seconds)
            }
            FollowUpKind::Extend => {
                let more = follow.seconds.ok_or_else(|| {
                    super::invalid("seconds", "`seconds` is required for an extension")
                })?;
                check_seconds(dep, more, "seconds")?;
                if source.seconds > MAX_EXTEND_SOURCE_SECS {
                    return Err(ClientError::new(
                        ErrorCode::UnsupportedValue,
                        format!(
                            "Gemini Omni extends videos of at most {MAX_EXTEND_SOURCE_SECS} seconds; this one is {} seconds",
                            source.seconds
                        ),
                    )
                    .with_param("video"));
                }
                let total = source.seconds + more;
                if total > MAX_EXTENDED_SECS {
                    return Err(ClientError::new(
                        ErrorCode::UnsupportedValue,
                        format!(
                            "Gemini Omni builds videos of at most {MAX_EXTENDED_SECS} seconds by extension; {} + {more} is {total}",
                            source.seconds
                        ),
                    )
                    .with_param("seconds"));
                }
                format.duration = Some(format!("{more}s"));
                ("extend", total)
            }
        };
        let file = files
            .first()
            .ok_or_else(|| ClientError::from_code(ErrorCode::VideoNotReady))?;
        // The source by reference when it has one; an inline-only source is
        // continued through its stored interaction instead.
        let (input, previous) = match self.video_uri(dep, file) {
            Some(uri) => (
                Input::Steps(vec![InputStep::UserInput {
                    content: vec![
                        Block::Text { text: prompt },
                        Block::Video {
                            uri: Cow::Owned(uri),
                            mime_type: "video/mp4",
                        },
                    ],
                }]),
                None,
            ),
            None => (Input::Text(prompt), Some(source.operation.as_str())),
        };
        let body = CreateInteraction {
            model: &dep.model,
            input,
            previous_interaction_id: previous,
            response_format: format,
            generation_config: Some(GenerationConfig {
                seed: None,
                video_config: VideoConfig { task },
            }),
            background: true,
            store: true,
        };
        Ok((self.create_call(dep, &body)?, seconds, source.size))
    }

    fn omni(&self) -> Option<&Api> {
        Some(self)
    }

    /// An unknown interaction is a 400 "Invalid interaction name", not a 404.
    fn already_gone(&self, err: &ClientError) -> bool {
        err.code == ErrorCode::UpstreamNotFound
            || (err.code == ErrorCode::UpstreamBadRequest
                && err
                    .message
                    .to_ascii_lowercase()
                    .contains("invalid interaction name"))
    }
}

impl Api {
    /// `…/interactions` on `dep`.
    fn base(&self, dep: &Deployment) -> Result<String, ClientError> {
        Ok(match self.host {
            Host::Gemini => format!("{}/v1beta/interactions", dep.api_base),
            Host::Vertex => {
                let v = vertex_settings(dep)?;
                format!(
                    "{}/v1beta1/projects/{}/locations/{}/interactions",
                    dep.api_base, v.project, v.location
                )
            }
        })
    }

    const fn auth(&self) -> Auth {
        match self.host {
            Host::Gemini => Auth::GoogleApiKey,
            Host::Vertex => Auth::GoogleServiceAccount,
        }
    }

    /// The video format every call asks for: `uri` delivery (into the
    /// deployment's bucket on Vertex; `inline` on Vertex without one).
    pub(crate) fn format<'d>(&self, dep: &'d Deployment) -> Result<VideoFormat<'d>, ClientError> {
        let (delivery, gcs_uri) = match self.host {
            Host::Gemini => ("uri", None),
            Host::Vertex => match vertex_settings(dep)?.storage_uri.as_deref() {
                Some(bucket) => ("uri", Some(bucket)),
                None => ("inline", None),
            },
        };
        Ok(VideoFormat {
            kind: "video",
            aspect_ratio: None,
            resolution: None,
            duration: None,
            delivery,
            gcs_uri,
        })
    }

    pub(crate) fn create_call<T: Serialize>(
        &self,
        dep: &Deployment,
        body: &T,
    ) -> Result<UpstreamRequest, ClientError> {
        Ok(UpstreamRequest {
            method: Method::Post,
            url: self.base(dep)?,
            auth: self.auth(),
            json_body: Some(super::to_json(body)?),
        })
    }

    /// A call on interaction `id` (`suffix` is `""` or `/cancel`).
    pub(crate) fn call(
        &self,
        dep: &Deployment,
        method: Method,
        id: &str,
        suffix: &str,
    ) -> Result<UpstreamRequest, ClientError> {
        if !valid_id(id) {
            return Err(super::video_not_found());
        }
        Ok(UpstreamRequest {
            method,
            url: format!("{}/{id}{suffix}", self.base(dep)?),
            auth: self.auth(),
            json_body: None,
        })
    }

    /// How a generated file is named in a new request: a Gemini file URI on
    /// the deployment's own base, or the `gs://` object; `None` for a video
    /// that only came inline.
    pub(crate) fn video_uri(&self, dep: &Deployment, file: &str) -> Option<String> {
        match self.host {
            _ if file.starts_with(INLINE) => None,
            Host::Gemini => Some(format!("{}/v1beta/files/{file}", dep.api_base)),
            Host::Vertex => file.starts_with("gs://").then(|| file.to_owned()),
        }
    }
    /// The file name of a generated video's `uri` as this host serves it
    /// ([`file_name`]); `None` for a uri the gateway does not follow.
    pub(crate) fn output_file(&self, uri: &str) -> Option<String> {
        file_name(uri, self.host)
    }

    /// Whether this is Omni on Vertex AI.
    pub(crate) fn is_vertex(&self) -> bool {
        self.host == Host::Vertex
    }
}

fn vertex_settings(dep: &Deployment) -> Result<&VertexSettings, ClientError> {
    dep.vertex.as_ref().ok_or_else(|| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "a vertex_ai deployment has no project settings",
        )
    })
}

/// `seconds` if `dep` renders it, else a 400 naming `param` and the choices.
pub(crate) fn check_seconds(
    dep: &Deployment,
    seconds: u32,
    param: &str,
) -> Result<u32, ClientError> {
    if dep.video_seconds.contains(&seconds) {
        return Ok(seconds);
    }
    let allowed: Vec<String> = dep
        .video_seconds
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    Err(ClientError::new(
        ErrorCode::UnsupportedValue,
        format!(
            "`{param}` {seconds} is not available for Gemini Omni ({}); choose one of {}",
            dep.model,
            allowed.join(", ")
        ),
    )
    .with_param(param))
}

/// 8 seconds when `dep` renders it, else its longest duration.
pub(crate) fn default_seconds(dep: &Deployment) -> u32 {
    if dep.video_seconds.contains(&DEFAULT_SECONDS) {
        DEFAULT_SECONDS
    } else {
        dep.video_seconds
            .iter()
            .copied()
            .max()
            .unwrap_or(DEFAULT_SECONDS)
    }
}

/// The `aspect_ratio` and `resolution` of `size`, or a 400 listing the sizes Omni renders.
fn aspect_and_resolution(size: Size) -> Result<(&'static str, &'static str), ClientError> {
    SIZES
        .iter()
        .find(|(s, _, _)| *s == size)
        .map(|(_, aspect, resolution)| (*aspect, *resolution))
        .ok_or_else(|| {
            let allowed: Vec<String> = SIZES.iter().map(|(s, _, _)| s.to_wire()).collect();
            ClientError::new(
                ErrorCode::UnsupportedValue,
                format!(
                    "`size` {} cannot be rendered by Gemini Omni; choose one of {}",
                    size.to_wire(),
                    allowed.join(", ")
                ),
            )
            .with_param("size")
        })
}

/// An interaction id goes into a URL path: one plain segment.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| {
        garbage(&if e.is_data() {
            format!("{what} answered with an unreadable interaction: {e}")
        } else {
            format!("{what} answered with a non-JSON body")
        })
    })
}

fn garbage(message: &str) -> UpstreamError {
    super::upstream_garbage(message)
}

/// The last `model_output` step (where the SDKs, too, look for the video).
fn last_output<D>(interaction: &Interaction<D>) -> Option<&Step<D>> {
    interaction
        .steps
        .iter()
        .rev()
        .find(|step| matches!(step, Step::ModelOutput { .. }))
}

/// The content blocks of the last `model_output` step (none without one).
fn output_blocks<D>(interaction: &Interaction<D>) -> &[OutputBlock<D>] {
    match last_output(interaction) {
        Some(Step::ModelOutput { content, .. }) => content,
        _ => &[],
    }
}

/// The `(uri, data)` of each video block, in order (inline videos are
/// named by their position here).
fn videos<D>(blocks: &[OutputBlock<D>]) -> impl Iterator<Item = (Option<&str>, Option<&D>)> {
    blocks.iter().filter_map(|b| match b {
        OutputBlock::Video { uri, data, .. } => Some((uri.as_deref(), data.as_ref())),
        _ => None,
    })
}

/// Where an interaction stands, in the provider-neutral terms.
fn state(interaction: &Interaction, host: Host) -> Result<super::Operation, UpstreamError> {
    use super::Operation;
    let status = interaction
        .status
        .as_deref()
        .ok_or_else(|| garbage("the interaction poll answered without a status"))?;
    let failed = |kind, code: &str, message: &str| {
        Ok(Operation::Failed(UpstreamError {
            kind,
            retry: Retry::Never,
            scope: Scope::Request,
            status: None,
            upstream_code: Some(code.to_owned()),
            message: message.to_owned(),
        }))
    };
    match status {
        "queued" => Ok(Operation::Queued),
        "completed" => {
            let blocks = output_blocks(interaction);
            let mut files = Vec::new();
            for (index, (uri, data)) in videos(blocks).enumerate() {
                match (uri.and_then(|uri| file_name(uri, host)), data) {
                    (Some(name), _) => files.push(name),
                    (None, Some(_)) => files.push(format!("{INLINE}{index}")),
                    (None, None) => {}
                }
            }
            if files.is_empty() {
                Ok(Operation::Failed(withheld(blocks)))
            } else {
                Ok(Operation::Succeeded(files))
            }
        }
        "failed" => Ok(Operation::Failed(failure(interaction))),
        "cancelled" => failed(
            ErrorKind::BadRequest,
            "cancelled",
            "the video job was cancelled",
        ),
        "incomplete" => failed(
            ErrorKind::UpstreamUnavailable,
            "incomplete",
            "the provider stopped the interaction before it produced a video",
        ),
        "budget_exceeded" => failed(
            ErrorKind::QuotaExhausted,
            "budget_exceeded",
            "the provider stopped the interaction: its budget was exceeded",
        ),
        "requires_action" => failed(
            ErrorKind::Gateway,
            "requires_action",
            "the interaction waits for a tool result, which a video job never gives",
        ),
        // `in_progress`, `requires_continuation`, `idle`, and states added later.
        _ => Ok(Operation::Running { progress: None }),
    }
}

/// The file name of a generated video's `uri`: on the Gemini API a file id
/// (`…/files/{id}` or `…/files/{id}:download?alt=media`, downloaded from
/// the deployment's own base), on Vertex a `gs://` object; anything else is
/// not followed.
fn file_name(uri: &str, host: Host) -> Option<String> {
    if host == Host::Vertex {
        let object = uri.strip_prefix("gs://")?;
        let ok = object
            .split_once('/')
            .is_some_and(|(bucket, name)| !bucket.is_empty() && !name.is_empty());
        return ok.then(|| uri.to_owned());
    }
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

/// A completed interaction without a video: its safety filters (or a
/// regional restriction on edits) withheld it. The model's own text, when
/// it gave some, says why.
fn withheld<D>(blocks: &[OutputBlock<D>]) -> UpstreamError {
    let said: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            OutputBlock::Text { text } => text.as_deref().map(str::trim).filter(|t| !t.is_empty()),
            _ => None,
        })
        .collect();
    let mut message = String::from(
        "the provider finished without a video: its safety filters (or a regional restriction) withheld it",
    );
    if !said.is_empty() {
        message.push_str(": ");
        message.push_str(&said.join(" "));
    }
    content_policy(Some("completed_without_video"), message)
}

fn content_policy(code: Option<&str>, message: String) -> UpstreamError {
    let mut message = message;
    truncate(&mut message, 512);
    UpstreamError {
        kind: ErrorKind::ContentPolicy,
        retry: Retry::Never,
        scope: Scope::Request,
        status: None,
        upstream_code: code.map(ToOwned::to_owned),
        message,
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
}

/// Why a `failed` interaction failed: a safety block when any diagnostic,
/// finish reason or message says so (Google's safety codes are not
/// documented, so names and phrases decide), else the first diagnostic,
/// classified by its code.
fn failure(interaction: &Interaction) -> UpstreamError {
    let (output_error, output_reason) = match last_output(interaction) {
        Some(Step::ModelOutput {
            error,
            finish_reason,
            ..
        }) => (error.as_ref(), finish_reason.as_deref()),
        _ => (None, None),
    };
    let diagnostics: Vec<&Diagnostic> = interaction
        .errors
        .iter()
        .chain(interaction.error.iter())
        .chain(output_error)
        .collect();
    let reasons = interaction
        .finish_reason
        .iter()
        .map(String::as_str)
        .chain(output_reason);
    let message_of = |d: &Diagnostic| {
        d.message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or("the video interaction failed")
            .to_owned()
    };
    for reason in reasons {
        if is_safety_code(reason) {
            let message = diagnostics.first().map_or_else(
                || String::from("the provider's safety filters blocked the video"),
                |d| message_of(d),
            );
            return content_policy(Some(reason), message);
        }
    }
    for d in &diagnostics {
        let named = match &d.code {
            Some(Code::Text(code)) => is_safety_code(code),
            _ => false,
        } || d.status.as_deref().is_some_and(is_safety_code);
        if named || d.message.as_deref().is_some_and(mentions_safety) {
            let code = match &d.code {
                Some(Code::Text(code)) => Some(code.as_str()),
                _ => d.status.as_deref(),
            };
            return content_policy(code, message_of(d));
        }
    }
    let Some(first) = diagnostics.first() else {
        return UpstreamError {
            kind: ErrorKind::UpstreamUnavailable,
            retry: Retry::Backoff,
            scope: Scope::Request,
            status: None,
            upstream_code: None,
            message: String::from("the video interaction failed without saying why"),
        };
    };
    let grpc = match (&first.code, first.status.as_deref()) {
        (Some(Code::Number(n)), _) if (1..=16).contains(n) => *n,
        (Some(Code::Number(n)), _) => grpc_of_http(*n),
        (Some(Code::Text(name)), _) => grpc_of_name(name),
        (None, Some(name)) => grpc_of_name(name),
        (None, None) => 2,
    };
    crate::errors::classify_operation_error(grpc, &message_of(first))
}

/// A code or finish reason naming a safety block.
fn is_safety_code(code: &str) -> bool {
    const NAMES: [&str; 9] = [
        "safety",
        "blocklist",
        "prohibited",
        "spii",
        "content_policy",
        "content_filter",
        "moderation",
        "responsible_ai",
        "blocked",
    ];
    let lower = code.to_ascii_lowercase();
    NAMES.iter().any(|n| lower.contains(n)) || lower.starts_with("rai_")
}

/// A failure message naming a safety block.
fn mentions_safety(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "safety",
        "responsible ai",
        "prohibited content",
        "blocked",
        "content policy",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || (lower.contains("violat") && (lower.contains("polic") || lower.contains("guideline")))
}

/// The gRPC code of an error name (`invalid_request`, `RESOURCE_EXHAUSTED`, …).
fn grpc_of_name(name: &str) -> i64 {
    let lower = name.to_ascii_lowercase();
    let has = |p: &str| lower.contains(p);
    if has("unauthenticated") {
        16
    } else if has("permission") {
        7
    } else if has("not_found") || has("notfound") {
        5
    } else if has("exhausted") || has("quota") || has("rate_limit") {
        8
    } else if has("deadline") || has("timeout") {
        4
    } else if has("precondition") {
        9
    } else if has("invalid") || has("argument") || has("range") {
        3
    } else if has("unimplemented") || has("unsupported") {
        12
    } else if has("cancel") {
        1
    } else {
        13
    }
}

/// The gRPC code of an HTTP status a diagnostic carries instead.
fn grpc_of_http(status: i64) -> i64 {
    match status {
        400 | 422 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        408 | 504 => 4,
        409 => 10,
        429 => 8,
        501 => 12,
        _ => 13,
    }
}

/// The `index`-th inline video of a finished interaction (its status
/// answer), decoded, with its content type.
pub fn inline_video(body: &[u8], index: usize) -> Result<(Vec<u8>, String), UpstreamError> {
    let interaction: Interaction<String> = read(body, "the interaction poll")?;
    let blocks = output_blocks(&interaction);
    let (data, mime) = blocks
        .iter()
        .filter_map(|b| match b {
            OutputBlock::Video {
                data, mime_type, ..
            } => Some((data.as_deref(), mime_type.as_deref())),
            _ => None,
        })
        .nth(index)
        .ok_or_else(|| garbage("the interaction has no such video"))?;
    let data = data.ok_or_else(|| garbage("the video has no inline bytes"))?;
    let bytes = STANDARD
        .decode(data.as_bytes())
        .or_else(|_| URL_SAFE.decode(data.as_bytes()))
        .map_err(|_| garbage("the video bytes are not valid base64"))?;
    Ok((bytes, mime.unwrap_or("video/mp4").to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::video::{follow_up_request, Operation};
    use serde_json::Value;

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[{"name":"omni","deployments":[
              {"id":"g","provider":"gemini","model":"gemini-omni-1.1-flash","credential":"K","api_base":"http://127.0.0.1:9"},
              {"id":"v","provider":"vertex_ai","model":"gemini-omni-1.1-flash-preview","credential":"SA","project":"p","location":"global","storage_uri":"gs://out/omni/"},
              {"id":"vi","provider":"vertex_ai","model":"gemini-omni-1.1-flash-preview","credential":"SA","project":"p","location":"global"}]}]}"#,
        )
        .unwrap()
    }

    fn dep(id: &str) -> Deployment {
        config().deployment(id).unwrap().1.clone()
    }

    fn body(call: &UpstreamRequest) -> Value {
        serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn omni_deployments_are_served_here_with_omni_durations() {
        let g = dep("g");
        assert!(g.is_omni());
        assert_eq!(g.video_seconds, std::vec![3, 4, 5, 6, 7, 8, 9, 10]);
        // Dispatched here for both hosts.
        let req = CreateVideo::parse_json(br#"{"prompt":"x"}"#).unwrap();
        for id in ["g", "v"] {
            let (call, _, _) = crate::video::create_request(&req, &dep(id), &[]).unwrap();
            assert!(call.url.ends_with("/interactions"), "{}", call.url);
        }
    }

    #[test]
    fn creates_a_background_video_interaction() {
        let req = CreateVideo::parse_json(
            br#"{"prompt":"a cat","seconds":"5","size":"1080x1920","seed":7}"#,
        )
        .unwrap();
        let (call, seconds, size) = GEMINI.create(&req, &dep("g"), &[]).unwrap();
        assert_eq!(call.url, "http://127.0.0.1:9/v1beta/interactions");
        assert_eq!(call.auth, Auth::GoogleApiKey);
        assert_eq!(
            body(&call),
            serde_json::json!({"model":"gemini-omni-1.1-flash","input":"a cat",
                "response_format":{"type":"video","aspect_ratio":"9:16","resolution":"1080p","duration":"5s","delivery":"uri"},
                "generation_config":{"seed":7,"video_config":{"task":"text_to_video"}},
                "background":true,"store":true})
        );
        assert_eq!((seconds, size), (5, size_of(1080, 1920)));
        let (call, seconds, size) = VERTEX
            .create(
                &CreateVideo::parse_json(br#"{"prompt":"x"}"#).unwrap(),
                &dep("v"),
                &[],
            )
            .unwrap();
        assert_eq!(
            call.url,
            "https://aiplatform.googleapis.com/v1beta1/projects/p/locations/global/interactions"
        );
        assert_eq!(call.auth, Auth::GoogleServiceAccount);
        let sent = body(&call);
        assert_eq!(sent["response_format"]["gcs_uri"], "gs://out/omni/");
        assert_eq!(sent["response_format"]["delivery"], "uri");
        assert_eq!((seconds, size), (8, DEFAULT_SIZE));
        let (call, _, _) = VERTEX
            .create(
                &CreateVideo::parse_json(br#"{"prompt":"x"}"#).unwrap(),
                &dep("vi"),
                &[],
            )
            .unwrap();
        assert_eq!(body(&call)["response_format"]["delivery"], "inline");
    }

    fn size_of(width: u16, height: u16) -> Size {
        Size { width, height }
    }

    #[test]
    fn unservable_values_are_explicit_errors() {
        for (json, param) in [
            (&br#"{"prompt":"x","seconds":"2"}"#[..], "seconds"),
            (br#"{"prompt":"x","seconds":"12"}"#, "seconds"),
            (br#"{"prompt":"x","size":"1024x1024"}"#, "size"),
            (br#"{"prompt":"x","size":"1792x1024"}"#, "size"),
            (
                br#"{"prompt":"x","negative_prompt":"dogs"}"#,
                "negative_prompt",
            ),
            (
                br#"{"prompt":"x","person_generation":"allow_all"}"#,
                "person_generation",
            ),
        ] {
            let err = GEMINI
                .create(&CreateVideo::parse_json(json).unwrap(), &dep("g"), &[])
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedValue);
            assert_eq!(err.param.as_deref(), Some(param));
        }
    }

    #[test]
    fn reads_interaction_states() {
        let poll = |json: &str| GEMINI.parse_poll(json.as_bytes()).unwrap();
        assert_eq!(
            poll(r#"{"id":"v1_a","status":"queued"}"#),
            Operation::Queued
        );
        assert_eq!(
            poll(r#"{"id":"v1_a","status":"in_progress","object":"interaction"}"#),
            Operation::Running { progress: None }
        );
        let done = r#"{"id":"v1_a","status":"completed","steps":[
            {"type":"user_input","content":[{"type":"text","text":"a cat"}]},
            {"type":"thought","summary":[{"type":"text","text":"hm"}]},
            {"type":"model_output","content":[{"type":"video","mime_type":"video/mp4",
              "uri":"https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"}]}]}"#;
        assert_eq!(poll(done), Operation::Succeeded(std::vec!["abc123".into()]));
        let inline = r#"{"status":"completed","steps":[{"type":"model_output","content":[
            {"type":"text","text":"here"},{"type":"video","mime_type":"video/mp4","data":"AAEC"}]}]}"#;
        assert_eq!(
            poll(inline),
            Operation::Succeeded(std::vec!["inline:0".into()])
        );
        assert_eq!(
            inline_video(inline.as_bytes(), 0).unwrap(),
            (std::vec![0, 1, 2], String::from("video/mp4"))
        );
        let gcs = r#"{"status":"completed","steps":[{"type":"model_output","content":[
            {"type":"video","uri":"gs://out/omni/v1_a/video.mp4"}]}]}"#;
        assert_eq!(
            VERTEX.parse_poll(gcs.as_bytes()).unwrap(),
            Operation::Succeeded(std::vec!["gs://out/omni/v1_a/video.mp4".into()])
        );
        // Each host follows only its own kind of file.
        assert!(matches!(poll(gcs), Operation::Failed(_)));
        assert!(matches!(
            VERTEX.parse_poll(done.as_bytes()).unwrap(),
            Operation::Failed(_)
        ));
        // A uri the gateway would not follow is no file.
        let foreign = r#"{"status":"completed","steps":[{"type":"model_output","content":[
            {"type":"video","uri":"https://evil.example/x.mp4"}]}]}"#;
        assert!(matches!(poll(foreign), Operation::Failed(_)));
    }

    #[test]
    fn safety_outcomes_are_content_policy_failures() {
        let kind = |json: &str| match GEMINI.parse_poll(json.as_bytes()).unwrap() {
            Operation::Failed(err) => (err.kind, err.to_client().code),
            other => panic!("{other:?}"),
        };
        let policy = (ErrorKind::ContentPolicy, ErrorCode::ContentPolicyViolation);
        assert_eq!(
            kind(
                r#"{"status":"completed","steps":[{"type":"model_output","content":[{"type":"text","text":"I can't make that."}]}]}"#
            ),
            policy
        );
        assert_eq!(kind(r#"{"status":"completed"}"#), policy);
        assert_eq!(
            kind(r#"{"status":"failed","errors":[{"code":"SAFETY","message":"Output blocked."}]}"#),
            policy
        );
        assert_eq!(
            kind(
                r#"{"status":"failed","steps":[{"type":"model_output","content":[],"error":{"code":3,"message":"The request was blocked by the safety filter."}}]}"#
            ),
            policy
        );
        assert_eq!(
            kind(
                r#"{"status":"failed","steps":[{"type":"model_output","finish_reason":"PROHIBITED_CONTENT"}]}"#
            ),
            policy
        );
        assert_eq!(
            kind(
                r#"{"status":"failed","errors":[{"code":"internal","message":"Internal error encountered."}]}"#
            ),
            (
                ErrorKind::UpstreamUnavailable,
                ErrorCode::UpstreamUnavailable
            )
        );
        assert_eq!(
            kind(
                r#"{"status":"failed","error":{"code":"invalid_request","message":"bad duration"}}"#
            ),
            (ErrorKind::BadRequest, ErrorCode::UpstreamBadRequest)
        );
        assert_eq!(kind(r#"{"status":"cancelled"}"#).0, ErrorKind::BadRequest);
        assert_eq!(
            kind(r#"{"status":"budget_exceeded"}"#).0,
            ErrorKind::QuotaExhausted
        );
    }

    #[test]
    fn create_answers_need_a_plain_id() {
        assert_eq!(
            GEMINI
                .parse_created(
                    br#"{"id":"v1_ChdBQkNE","status":"in_progress","object":"interaction"}"#
                )
                .unwrap()
                .upstream_id,
            "v1_ChdBQkNE"
        );
        for bad in [
            &b"{}"[..],
            b"nope",
            br#"{"id":"../x"}"#,
            br#"{"id":"a/b"}"#,
            br#"{"id":""}"#,
        ] {
            assert!(
                GEMINI.parse_created(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn follow_ups_continue_or_reference_the_source() {
        let g = dep("g");
        let source = VideoHandle {
            operation: "v1_src".into(),
            seconds: 8,
            size: DEFAULT_SIZE,
            count: 1,
        };
        let follow = |kind, json: &[u8]| {
            FollowUp::parse(
                kind,
                json,
                (kind == FollowUpKind::Remix).then_some("video_x"),
            )
            .unwrap()
        };
        let remix = follow(FollowUpKind::Remix, br#"{"prompt":"at night"}"#);
        let (call, seconds, _) = follow_up_request(&g, &remix, &source, &[]).unwrap();
        let sent = body(&call);
        assert_eq!(sent["previous_interaction_id"], "v1_src");
        assert_eq!(sent["input"], "at night");
        assert_eq!(seconds, 8);
        let extend = follow(
            FollowUpKind::Extend,
            br#"{"prompt":"more","seconds":"6","video":{"id":"video_x"}}"#,
        );
        let (call, seconds, _) =
            follow_up_request(&g, &extend, &source, &["abc123".into()]).unwrap();
        let sent = body(&call);
        assert_eq!(
            sent["input"][0]["content"][1],
            serde_json::json!({"type":"video","uri":"http://127.0.0.1:9/v1beta/files/abc123","mime_type":"video/mp4"})
        );
        assert_eq!(sent["generation_config"]["video_config"]["task"], "extend");
        assert_eq!(sent["response_format"]["duration"], "6s");
        assert_eq!(seconds, 14);
        // An inline-only source is continued through its interaction.
        let (call, _, _) = follow_up_request(&g, &extend, &source, &["inline:0".into()]).unwrap();
        assert_eq!(body(&call)["previous_interaction_id"], "v1_src");
        let long = VideoHandle {
            seconds: 36,
            ..source.clone()
        };
        let err = follow_up_request(&g, &extend, &long, &["abc123".into()]).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedValue);
        let edit = follow(
            FollowUpKind::Edit,
            br#"{"prompt":"red hat","video":{"id":"video_x"}}"#,
        );
        let (call, seconds, _) = follow_up_request(&g, &edit, &source, &["abc123".into()]).unwrap();
        assert_eq!(
            body(&call)["generation_config"]["video_config"]["task"],
            "edit"
        );
        assert_eq!(seconds, 8);
        let twelve = VideoHandle {
            seconds: 12,
            ..source
        };
        assert_eq!(
            follow_up_request(&g, &edit, &twelve, &["abc123".into()])
                .unwrap_err()
                .param
                .as_deref(),
            Some("video")
        );
    }

    #[test]
    fn content_streams_files_and_decodes_inline_videos() {
        let g = dep("g");
        let Content::Fetch(call) = GEMINI.content(&g, "abc123", Variant::Video).unwrap() else {
            panic!()
        };
        assert_eq!(
            call.url,
            "http://127.0.0.1:9/v1beta/files/abc123:download?alt=media"
        );
        assert_eq!(
            GEMINI.content(&g, "inline:1", Variant::Video).unwrap(),
            Content::Inline { index: 1 }
        );
        let Content::Fetch(call) = VERTEX
            .content(&dep("v"), "gs://out/omni/v1_a/video.mp4", Variant::Video)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            call.url,
            "https://storage.googleapis.com/storage/v1/b/out/o/omni%2Fv1_a%2Fvideo.mp4?alt=media"
        );
        assert!(GEMINI.check_variant(Variant::Thumbnail).is_err());
        let gone = ClientError::new(
            ErrorCode::UpstreamBadRequest,
            "Invalid interaction name: interactions/v1_a",
        );
        assert!(GEMINI.already_gone(&gone));
        assert!(!GEMINI.already_gone(&ClientError::new(ErrorCode::UpstreamBadRequest, "bad")));
        let cancel = GEMINI
            .cancel(
                &g,
                &VideoHandle {
                    operation: "v1_a".into(),
                    seconds: 8,
                    size: DEFAULT_SIZE,
                    count: 1,
                },
            )
            .unwrap();
        assert_eq!(
            (cancel.method, cancel.url.as_str()),
            (
                Method::Post,
                "http://127.0.0.1:9/v1beta/interactions/v1_a/cancel"
            )
        );
    }
}
