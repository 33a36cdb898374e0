//! The Interactions API door for Gemini Omni video
//! (`/gemini/{v1,v1beta,v1alpha}/interactions…`, what google-genai 3.x's
//! `client.interactions` calls): the client's create body, parsed into
//! typed values and checked ([`parse_create`]), the upstream call built from
//! them for an Omni deployment ([`create_request`]), the answers shown to the
//! client ([`client_view`]), the gateway's file tokens for the videos of an
//! interaction, and how a poll settles the create's quota hold
//! ([`observe`]).
//!
//! | client sends | the gateway |
//! |---|---|
//! | `model` | checked against the key's rules; the deployment's model goes upstream |
//! | `input`: text, content blocks, `user_input` steps | re-serialized from the typed blocks (`text`, `image`, `video`); media by `uri` only when it is one of the caller's gateway file links (the upstream file goes in), else `400 storage_not_allowed` |
//! | `response_format` (object or array, one `video` entry) | `aspect_ratio` × `resolution` → the size, `duration` (`"8s"`) → the seconds, each checked for the deployment and sent explicitly; `gcs_uri` refused (the deployment's own `storage_uri` is used); `delivery` honoured on the Gemini API (default `uri`), decided by the deployment's bucket on Vertex |
//! | `generation_config` | `seed` and `video_config.task` only |
//! | `previous_interaction_id` | a sealed `int_…` id of the caller's: its upstream id goes in and the create runs on its deployment |
//! | `background` | must be `true` (a blocking create outlasts the upstream timeout) |
//! | `safety_settings`, `service_tier`, `labels` | passed on typed |
//! | `store: false` | refused: the gateway serves the video from the stored interaction |
//! | `stream: true` | refused (`unsupported_value`): create in the background and poll |
//! | `webhook_config`, `system_instruction`, `tools`, `response_modalities`, `response_mime_type`, anything else | refused, naming the field |
//!
//! Answers: `id` and `previous_interaction_id` are sealed `int_…` ids,
//! `model` is the name the client asked for, the video of the last
//! `model_output` step points at the gateway's file link (inline `data`
//! stays), other upstream URIs are left out, and diagnostic messages are
//! redacted.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jobs::{JobRecord, Observed};
use super::omni::{self, VideoFormat};
use super::{provider, Size, VideoStatus};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::plan::{Method, UpstreamRequest};
use crate::quota::{Outcome, Settlement};
use crate::redact::Redactor;
use crate::seal::{id_to_token, token_to_id, Purpose};

// ---------------------------------------------------------------------------
// What the client sends

/// `POST /{v}/interactions`, as google-genai 3.6.1 sends it (snake_case).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The model group the client asks for.
    pub model: String,
    /// The prompt and its media.
    #[serde(default)]
    pub input: Option<InputIn>,
    /// The video to make: an object, or an array holding one video entry.
    #[serde(default)]
    pub response_format: Option<FormatsIn>,
    /// Seed and task.
    #[serde(default)]
    pub generation_config: Option<GenerationIn>,
    /// Answer at once and run in the background.
    #[serde(default)]
    pub background: Option<bool>,
    /// Keep the interaction (must not be `false` here).
    #[serde(default)]
    pub store: Option<bool>,
    /// Server-sent events (not served here).
    #[serde(default)]
    pub stream: Option<bool>,
    /// A sealed `int_…` id of the caller's.
    #[serde(default)]
    pub previous_interaction_id: Option<String>,
    /// Safety thresholds.
    #[serde(default)]
    pub safety_settings: Option<Vec<SafetySetting>>,
    /// `flex`, `standard`, `priority`, `deferred`.
    #[serde(default)]
    pub service_tier: Option<ServiceTier>,
    /// Billing labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Refused: the gateway cannot vouch for a callback target.
    #[serde(default)]
    webhook_config: Option<IgnoredAny>,
    /// Refused: Omni has no system instructions.
    #[serde(default)]
    system_instruction: Option<IgnoredAny>,
    /// Refused: a video job calls no tools.
    #[serde(default)]
    tools: Option<IgnoredAny>,
    /// Refused: the door makes videos only.
    #[serde(default)]
    response_modalities: Option<IgnoredAny>,
    /// Refused: the door makes videos only.
    #[serde(default)]
    response_mime_type: Option<IgnoredAny>,
}

/// `input`: a string, one item, or a list of items.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InputIn {
    /// A bare prompt.
    Text(String),
    /// Several blocks or steps.
    Many(Vec<ItemIn>),
    /// One block or step.
    One(ItemIn),
}

/// A content block, or a `user_input` step of blocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItemIn {
    /// A turn of the user's.
    UserInput {
        /// Its blocks.
        content: Vec<ItemIn>,
    },
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image: inline `data` (a `uri` is refused).
    Image {
        /// Base64 bytes.
        #[serde(default)]
        data: Option<String>,
        /// Refused (images are given inline).
        #[serde(default)]
        uri: Option<String>,
        /// `image/png`, …
        mime_type: String,
    },
    /// A video: inline `data`, or a gateway file link as `uri`.
    Video {
        /// Base64 bytes.
        #[serde(default)]
        data: Option<String>,
        /// One of the caller's gateway file links.
        #[serde(default)]
        uri: Option<String>,
        /// `video/mp4`, …
        #[serde(default)]
        mime_type: Option<String>,
    },
}

/// `response_format`: one entry, or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FormatsIn {
    /// Several entries (one must be the video).
    Many(Vec<FormatIn>),
    /// One entry.
    One(FormatIn),
}

/// A `response_format` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatIn {
    /// Must be `video`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `16:9` (default) or `9:16`.
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    /// `360p`, `720p` (default), `1080p`, `4k`.
    #[serde(default)]
    pub resolution: Option<String>,
    /// A Duration string, `"8s"`.
    #[serde(default)]
    pub duration: Option<Value>,
    /// `inline` or `uri`.
    #[serde(default)]
    pub delivery: Option<String>,
    /// Refused: client storage.
    #[serde(default)]
    pub gcs_uri: Option<String>,
}

/// `generation_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationIn {
    /// Deterministic seed.
    #[serde(default)]
    pub seed: Option<u32>,
    /// The task.
    #[serde(default)]
    pub video_config: Option<VideoConfigIn>,
}

/// `generation_config.video_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoConfigIn {
    /// What to do with the input.
    #[serde(default)]
    pub task: Option<Task>,
}

/// `video_config.task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// From the prompt.
    TextToVideo,
    /// From an image.
    ImageToVideo,
    /// From reference images.
    ReferenceToVideo,
    /// An edit of the input video.
    Edit,
    /// An extension of the input video.
    Extend,
    /// A higher resolution of the input video.
    Upscale,
}

/// A `safety_settings` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetySetting {
    /// The harm category.
    #[serde(rename = "type")]
    pub category: String,
    /// How much to block.
    pub threshold: Threshold,
    /// `severity` or `probability`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// A safety threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Block low probability and above.
    BlockLowAndAbove,
    /// Block medium and above.
    BlockMediumAndAbove,
    /// Block only high.
    BlockOnlyHigh,
    /// Block none.
    BlockNone,
    /// Filter off.
    Off,
}

/// `service_tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// Cheaper, slower.
    Flex,
    /// The default.
    Standard,
    /// Faster.
    Priority,
    /// Whenever.
    Deferred,
}

/// A media `uri` in the input, which must be one of the caller's gateway
/// file links; the host resolves it to the upstream file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Where it is in the body (`input[0].content[1].uri`), for errors.
    pub param: String,
    /// The uri as given.
    pub uri: String,
}

/// A create body, checked for any deployment: what it asks, in typed form.
#[derive(Debug, Clone)]
pub struct Create {
    /// The model group.
    pub model: String,
    /// The input turns (each a list of blocks); empty with only a
    /// `previous_interaction_id`.
    turns: Vec<Vec<Block>>,
    /// The input was a bare string.
    bare_text: bool,
    /// `aspect_ratio` asked (`16:9` when absent).
    aspect_ratio: &'static str,
    /// `resolution` asked (`720p` when absent).
    resolution: &'static str,
    /// Seconds asked; the deployment's default when absent.
    seconds: Option<u32>,
    /// `delivery` asked.
    delivery: Option<&'static str>,
    seed: Option<u32>,
    task: Option<Task>,
    /// Run in the background.
    pub background: bool,
    /// The sealed id of the interaction this one continues.
    pub previous_interaction_id: Option<String>,
    safety_settings: Option<Vec<SafetySetting>>,
    service_tier: Option<ServiceTier>,
    labels: Option<BTreeMap<String, String>>,
    /// The media given by uri, in order.
    pub sources: Vec<SourceRef>,
    /// The prompt text (for the job record).
    pub prompt: String,
}

/// A checked input block.
#[derive(Debug, Clone)]
enum Block {
    Text(String),
    Image {
        data: String,
        mime_type: String,
    },
    VideoData {
        data: String,
        mime_type: String,
    },
    /// The `n`-th source of [`Create::sources`].
    VideoSource {
        source: usize,
        mime_type: String,
    },
}

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

fn unsupported(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::UnsupportedValue, message).with_param(param)
}

/// Longest text the door passes on in one block.
const MAX_TEXT: usize = 32 * 1024;
/// Most blocks in an input.
const MAX_BLOCKS: usize = 16;
/// Most labels.
const MAX_LABELS: usize = 64;

/// Parses and checks a create body (nothing here depends on the deployment).
pub fn parse_create(body: &[u8]) -> Result<Create, ClientError> {
    let parsed: CreateBody = serde_json::from_slice(body).map_err(body_error)?;
    for (given, param, why) in [
        (
            parsed.webhook_config.is_some(),
            "webhook_config",
            "webhooks are not relayed by this gateway; poll the interaction with get",
        ),
        (
            parsed.system_instruction.is_some(),
            "system_instruction",
            "Gemini Omni does not take system instructions",
        ),
        (
            parsed.tools.is_some(),
            "tools",
            "this door makes videos; a video interaction calls no tools",
        ),
        (
            parsed.response_modalities.is_some(),
            "response_modalities",
            "this door makes videos; say so with response_format {\"type\":\"video\"}",
        ),
        (
            parsed.response_mime_type.is_some(),
            "response_mime_type",
            "this door makes videos; say so with response_format {\"type\":\"video\"}",
        ),
    ] {
        if given {
            return Err(unsupported(
                param,
                format!("`{param}` is not supported: {why}"),
            ));
        }
    }
    if parsed.stream == Some(true) {
        return Err(unsupported(
            "stream",
            "streaming interactions are not served by this gateway; create with \
             `background: true` and poll with get",
        ));
    }
    if parsed.store == Some(false) {
        return Err(unsupported(
            "store",
            "`store: false` is not supported: the gateway serves the video through its own \
             file link, which reads the stored interaction; leave `store` unset or true",
        ));
    }
    if parsed.model.is_empty() {
        return Err(invalid("model", "`model` is required"));
    }
    if let Some(labels) = &parsed.labels {
        if labels.len() > MAX_LABELS {
            return Err(invalid(
                "labels",
                format!("at most {MAX_LABELS} labels are accepted"),
            ));
        }
    }
    let mut sources = Vec::new();
    let mut prompt = String::new();
    let (turns, bare_text) = match parsed.input {
        None => {
            if parsed.previous_interaction_id.is_none() {
                return Err(invalid("input", "`input` is required"));
            }
            (Vec::new(), false)
        }
        Some(InputIn::Text(text)) => {
            check_text(&text, "input")?;
            prompt.push_str(&text);
            (alloc::vec![alloc::vec![Block::Text(text)]], true)
        }
        Some(InputIn::One(item)) => (
            turns_of(alloc::vec![item], &mut sources, &mut prompt)?,
            false,
        ),
        Some(InputIn::Many(items)) => (turns_of(items, &mut sources, &mut prompt)?, false),
    };
    let format = match parsed.response_format {
        None => None,
        Some(FormatsIn::One(f)) => Some(f),
        Some(FormatsIn::Many(list)) => {
            let mut list = list;
            if list.len() != 1 {
                return Err(unsupported(
                    "response_format",
                    "`response_format` must hold exactly one entry, of type \"video\"",
                ));
            }
            list.pop()
        }
    };
    let (mut aspect_ratio, mut resolution, mut seconds, mut delivery) =
        ("16:9", "720p", None, None);
    if let Some(f) = format {
        if f.kind != "video" {
            return Err(unsupported(
                "response_format.type",
                format!(
                    "`response_format.type` {:?} is not served here; only \"video\"",
                    f.kind
                ),
            ));
        }
        if f.gcs_uri.is_some() {
            return Err(ClientError::new(
                ErrorCode::StorageNotAllowed,
                "`response_format.gcs_uri` is not accepted: videos go to the deployment's own \
                 storage and are served through the gateway's file links",
            )
            .with_param("response_format.gcs_uri"));
        }
        if let Some(a) = &f.aspect_ratio {
            aspect_ratio = pick(a, &["16:9", "9:16"], "response_format.aspect_ratio")?;
        }
        if let Some(r) = &f.resolution {
            resolution = pick(
                r,
                &["360p", "720p", "1080p", "4k"],
                "response_format.resolution",
            )?;
        }
        if let Some(d) = &f.delivery {
            delivery = Some(pick(d, &["inline", "uri"], "response_format.delivery")?);
        }
        seconds = match &f.duration {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(parse_duration(text)?),
            Some(other) => {
                return Err(invalid(
                    "response_format.duration",
                    format!(
                    "`response_format.duration` must be a Duration string such as \"8s\", not {}",
                    crate::json::type_name(other)
                ),
                ))
            }
        };
    }
    let (seed, task) = match parsed.generation_config {
        None => (None, None),
        Some(g) => (g.seed, g.video_config.and_then(|v| v.task)),
    };
    if let Some(settings) = &parsed.safety_settings {
        for (i, s) in settings.iter().enumerate() {
            let plain = |t: &str| {
                !t.is_empty()
                    && t.len() <= 64
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if !plain(&s.category) || !s.method.as_deref().is_none_or(plain) {
                return Err(invalid(
                    &format!("safety_settings[{i}]"),
                    "a safety setting's `type` and `method` are plain names",
                ));
            }
        }
    }
    // Without `background` the upstream answers only when the video is
    // done (minutes): longer than a create may wait here, and a create cut
    // off after forwarding is a job that runs unseen.
    if parsed.background != Some(true) {
        return Err(unsupported(
            "background",
            "video interactions run in the background here: set `background: true`, then poll \
             with get (a blocking create outlasts the gateway's upstream timeout)",
        ));
    }
    Ok(Create {
        model: parsed.model,
        turns,
        bare_text,
        aspect_ratio,
        resolution,
        seconds,
        delivery,
        seed,
        task,
        background: true,
        previous_interaction_id: parsed.previous_interaction_id,
        safety_settings: parsed.safety_settings,
        service_tier: parsed.service_tier,
        labels: parsed.labels,
        sources,
        prompt,
    })
}

fn body_error(e: serde_json::Error) -> ClientError {
    if !e.is_data() {
        return ClientError::new(
            ErrorCode::InvalidJson,
            format!("Invalid JSON payload received. {e}"),
        );
    }
    let text = format!("{e}");
    let mut err = ClientError::new(
        ErrorCode::InvalidRequest,
        format!("Invalid JSON payload received. {text}"),
    );
    for marker in ["unknown field `", "duplicate field `", "missing field `"] {
        if let Some(at) = text.find(marker) {
            let rest = &text[at + marker.len()..];
            if let Some(end) = rest.find('`') {
                err = err.with_param(rest[..end].to_owned());
            }
            break;
        }
    }
    err
}

fn pick(value: &str, allowed: &[&'static str], param: &str) -> Result<&'static str, ClientError> {
    allowed
        .iter()
        .find(|a| **a == value)
        .copied()
        .ok_or_else(|| {
            unsupported(
                param,
                format!(
                    "`{param}` {value:?} is not available for Gemini Omni; choose one of {}",
                    allowed.join(", ")
                ),
            )
        })
}

/// `"8s"` → 8 (whole seconds only).
fn parse_duration(text: &str) -> Result<u32, ClientError> {
    text.strip_suffix('s')
        .filter(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            invalid(
                "response_format.duration",
                format!("`response_format.duration` {text:?} is not a whole number of seconds such as \"8s\""),
            )
        })
}

fn check_text(text: &str, param: &str) -> Result<(), ClientError> {
    if text.len() > MAX_TEXT {
        return Err(invalid(
            param,
            format!("text blocks are limited to {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

/// The turns of a list input: `user_input` steps as they are, loose
/// blocks together as one turn (not both).
fn turns_of(
    items: Vec<ItemIn>,
    sources: &mut Vec<SourceRef>,
    prompt: &mut String,
) -> Result<Vec<Vec<Block>>, ClientError> {
    let steps = items
        .iter()
        .filter(|i| matches!(i, ItemIn::UserInput { .. }))
        .count();
    if steps != 0 && steps != items.len() {
        return Err(invalid(
            "input",
            "`input` is either content blocks or user_input steps, not both",
        ));
    }
    let mut count = 0;
    if steps == 0 {
        let turn = blocks_of(items, "input", sources, prompt, &mut count)?;
        return Ok(alloc::vec![turn]);
    }
    let mut turns = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if let ItemIn::UserInput { content } = item {
            turns.push(blocks_of(
                content,
                &format!("input[{i}].content"),
                sources,
                prompt,
                &mut count,
            )?);
        }
    }
    Ok(turns)
}

fn blocks_of(
    items: Vec<ItemIn>,
    at: &str,
    sources: &mut Vec<SourceRef>,
    prompt: &mut String,
    count: &mut usize,
) -> Result<Vec<Block>, ClientError> {
    let mut blocks = Vec::new();
    for (j, item) in items.into_iter().enumerate() {
        *count += 1;
        if *count > MAX_BLOCKS {
            return Err(invalid(
                "input",
                format!("at most {MAX_BLOCKS} content blocks are accepted"),
            ));
        }
        let param = format!("{at}[{j}]");
        blocks.push(match item {
            ItemIn::UserInput { .. } => {
                return Err(invalid(
                    &param,
                    "a user_input step cannot hold another step",
                ))
            }
            ItemIn::Text { text } => {
                check_text(&text, &param)?;
                if !prompt.is_empty() {
                    prompt.push(' ');
                }
                prompt.push_str(&text);
                Block::Text(text)
            }
            ItemIn::Image { uri: Some(_), .. } => {
                return Err(ClientError::new(
                    ErrorCode::StorageNotAllowed,
                    format!(
                        "`{param}.uri` is not accepted: give images inline as base64 `data` \
                         (the gateway serves by URI only the videos it made for this key)"
                    ),
                )
                .with_param(format!("{param}.uri")))
            }
            ItemIn::Image {
                data: Some(data),
                mime_type,
                ..
            } => {
                check_media(&data, &mime_type, "image/", &param)?;
                Block::Image { data, mime_type }
            }
            ItemIn::Image { data: None, .. } => {
                return Err(invalid(&param, format!("`{param}` needs base64 `data`")))
            }
            ItemIn::Video {
                data: Some(_),
                uri: Some(_),
                ..
            } => {
                return Err(invalid(
                    &param,
                    format!("`{param}` takes `data` or `uri`, not both"),
                ))
            }
            ItemIn::Video {
                data: Some(data),
                mime_type,
                ..
            } => {
                let mime_type = mime_type.unwrap_or_else(|| String::from("video/mp4"));
                check_media(&data, &mime_type, "video/", &param)?;
                Block::VideoData { data, mime_type }
            }
            ItemIn::Video {
                uri: Some(uri),
                mime_type,
                ..
            } => {
                let mime_type = mime_type.unwrap_or_else(|| String::from("video/mp4"));
                check_media("", &mime_type, "video/", &param)?;
                sources.push(SourceRef {
                    param: format!("{param}.uri"),
                    uri,
                });
                Block::VideoSource {
                    source: sources.len() - 1,
                    mime_type,
                }
            }
            ItemIn::Video { .. } => {
                return Err(invalid(
                    &param,
                    format!("`{param}` needs base64 `data` or a gateway file `uri`"),
                ))
            }
        });
    }
    Ok(blocks)
}

fn check_media(data: &str, mime: &str, family: &str, param: &str) -> Result<(), ClientError> {
    let plain_mime = mime.len() <= 64
        && mime.starts_with(family)
        && mime[family.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'+'))
        && mime.len() > family.len();
    if !plain_mime {
        return Err(unsupported(
            &format!("{param}.mime_type"),
            format!("`{param}.mime_type` must be a {family}* type"),
        ));
    }
    let b64 = data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if !b64 {
        return Err(invalid(
            &format!("{param}.data"),
            format!("`{param}.data` must be base64"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// What reelay sends

#[derive(Serialize)]
struct Outbound<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<OutInput<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_interaction_id: Option<&'a str>,
    response_format: VideoFormat<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<OutGeneration>,
    background: bool,
    store: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    safety_settings: Option<&'a [SafetySetting]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<ServiceTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutInput<'a> {
    Text(&'a str),
    Steps(Vec<OutStep<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutStep<'a> {
    UserInput { content: Vec<OutBlock<'a>> },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutBlock<'a> {
    Text {
        text: &'a str,
    },
    Image {
        data: &'a str,
        mime_type: &'a str,
    },
    Video {
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uri: Option<String>,
        mime_type: &'a str,
    },
}

#[derive(Serialize)]
struct OutGeneration {
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    video_config: Option<OutVideoConfig>,
}

#[derive(Serialize)]
struct OutVideoConfig {
    task: Task,
}

/// The upstream create for `dep`, with what it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// The call: the typed body that was checked.
    pub request: UpstreamRequest,
    /// Seconds asked (metered).
    pub seconds: u32,
    /// Frame size asked (priced).
    pub size: Size,
}

/// The Omni API of `dep`, or a 400 for a deployment this door cannot serve.
pub fn omni_api(dep: &Deployment) -> Result<&'static omni::Api, ClientError> {
    provider::api(dep).omni().ok_or_else(|| {
        unsupported(
            "model",
            "this model is not served by Gemini Omni; the interactions door serves Omni video \
             only (use /v1/videos or predictLongRunning for Veo)",
        )
    })
}

/// The call for `create` on `dep`: `files` are the upstream files of
/// [`Create::sources`] on `dep` (resolved by the host for the caller),
/// `previous` the upstream id of `previous_interaction_id`.
pub fn create_request(
    create: &Create,
    dep: &Deployment,
    files: &[String],
    previous: Option<&str>,
) -> Result<CreateCall, ClientError> {
    let api = omni_api(dep)?;
    let seconds = match create.seconds {
        Some(s) => omni::check_seconds(dep, s, "response_format.duration")?,
        None => omni::default_seconds(dep),
    };
    let size = omni::SIZES
        .iter()
        .find(|(_, a, r)| *a == create.aspect_ratio && *r == create.resolution)
        .map(|(s, _, _)| *s)
        .ok_or_else(|| ClientError::from_code(ErrorCode::Internal))?;
    let mut format = api.format(dep)?;
    if !api.is_vertex() {
        format.delivery = create.delivery.unwrap_or("uri");
    }
    format.aspect_ratio = Some(create.aspect_ratio);
    format.resolution = Some(create.resolution);
    format.duration = Some(format!("{seconds}s"));
    let mut uris = Vec::with_capacity(files.len());
    for (source, file) in create.sources.iter().zip(files) {
        let uri = api.video_uri(dep, file).ok_or_else(|| {
            unsupported(
                &source.param,
                format!(
                    "the video in `{}` was delivered inline and has no upstream file; continue \
                     it with `previous_interaction_id` instead",
                    source.param
                ),
            )
        })?;
        uris.push(uri);
    }
    if uris.len() != create.sources.len() {
        return Err(ClientError::new(
            ErrorCode::Internal,
            "the source videos of the request were not resolved",
        ));
    }
    let input = if create.turns.is_empty() {
        None
    } else if create.bare_text {
        match create.turns.first().and_then(|t| t.first()) {
            Some(Block::Text(text)) => Some(OutInput::Text(text)),
            _ => None,
        }
    } else {
        let steps = create
            .turns
            .iter()
            .map(|turn| OutStep::UserInput {
                content: turn
                    .iter()
                    .map(|block| match block {
                        Block::Text(text) => OutBlock::Text { text },
                        Block::Image { data, mime_type } => OutBlock::Image { data, mime_type },
                        Block::VideoData { data, mime_type } => OutBlock::Video {
                            data: Some(data),
                            uri: None,
                            mime_type,
                        },
                        Block::VideoSource { source, mime_type } => OutBlock::Video {
                            data: None,
                            uri: uris.get(*source).cloned(),
                            mime_type,
                        },
                    })
                    .collect(),
            })
            .collect();
        Some(OutInput::Steps(steps))
    };
    let generation_config =
        (create.seed.is_some() || create.task.is_some()).then(|| OutGeneration {
            seed: create.seed,
            video_config: create.task.map(|task| OutVideoConfig { task }),
        });
    let body = Outbound {
        model: &dep.model,
        input,
        previous_interaction_id: previous,
        response_format: format,
        generation_config,
        background: create.background,
        store: true,
        safety_settings: create.safety_settings.as_deref(),
        service_tier: create.service_tier,
        labels: create.labels.as_ref(),
    };
    Ok(CreateCall {
        request: api.create_call(dep, &body)?,
        seconds,
        size,
    })
}

/// `GET`, `DELETE` or `POST …/cancel` (`suffix` `""` or `"/cancel"`) of
/// upstream interaction `id` on `dep`.
pub fn call(
    dep: &Deployment,
    method: Method,
    id: &str,
    suffix: &str,
) -> Result<UpstreamRequest, ClientError> {
    omni_api(dep)?.call(dep, method, id, suffix)
}

// ---------------------------------------------------------------------------
// What the client sees

/// An interaction answer (`body`, from `dep`) as the client sees it:
/// `model` is `model`, `seal` turns an upstream interaction id into the
/// client's `int_…` id (`None` drops it), `file_link(n)` is the gateway
/// link of the `n`-th video file (as [`super::parse_poll`] numbers them),
/// and diagnostics pass `redactor`.
pub fn client_view(
    dep: &Deployment,
    body: &[u8],
    model: &str,
    mut seal: impl FnMut(&str) -> Option<String>,
    file_link: impl Fn(usize) -> Option<String>,
    redactor: &Redactor,
) -> Result<Value, UpstreamError> {
    let api = omni_api(dep).map_err(|_| super::upstream_garbage("not an Omni deployment"))?;
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|_| super::upstream_garbage("the interaction answer is not JSON"))?;
    let Some(root) = value.as_object_mut() else {
        return Err(super::upstream_garbage(
            "the interaction answer is not a JSON object",
        ));
    };
    let id = root
        .get("id")
        .and_then(Value::as_str)
        .and_then(&mut seal)
        .ok_or_else(|| super::upstream_garbage("the interaction answer has no valid id"))?;
    root.insert("id".into(), Value::String(id));
    if let Some(previous) = root.remove("previous_interaction_id") {
        if let Some(sealed) = previous.as_str().and_then(&mut seal) {
            root.insert("previous_interaction_id".into(), Value::String(sealed));
        }
    }
    if root.contains_key("model") {
        root.insert("model".into(), Value::String(model.to_owned()));
    }
    if let Some(Value::Array(steps)) = root.get_mut("steps") {
        let last_output = steps
            .iter()
            .rposition(|s| s.get("type").and_then(Value::as_str) == Some("model_output"));
        for (i, step) in steps.iter_mut().enumerate() {
            let Some(step) = step.as_object_mut() else {
                continue;
            };
            if let Some(error) = step.get_mut("error") {
                clean_diagnostic(error, redactor);
            }
            let Some(Value::Array(blocks)) = step.get_mut("content") else {
                continue;
            };
            let mut files = 0usize;
            for block in blocks.iter_mut() {
                let Some(block) = block.as_object_mut() else {
                    continue;
                };
                let is_video = block.get("type").and_then(Value::as_str) == Some("video");
                // A block's `uri` and `name` are upstream resources
                // (`files/…`, `gs://…`): only the gateway's link goes out.
                let uri = block.remove("uri");
                block.remove("name");
                if Some(i) != last_output || !is_video {
                    continue;
                }
                let file = uri
                    .as_ref()
                    .and_then(Value::as_str)
                    .and_then(|u| api.output_file(u));
                if file.is_some() {
                    if let Some(link) = file_link(files) {
                        block.insert("uri".into(), Value::String(link));
                    }
                    files += 1;
                } else if block.contains_key("data") {
                    files += 1;
                }
            }
        }
    }
    for key in ["errors", "error"] {
        match root.get_mut(key) {
            Some(Value::Array(list)) => list.iter_mut().for_each(|d| clean_diagnostic(d, redactor)),
            Some(d) => clean_diagnostic(d, redactor),
            None => {}
        }
    }
    Ok(value)
}

fn clean_diagnostic(diagnostic: &mut Value, redactor: &Redactor) {
    if let Some(Value::String(message)) = diagnostic.get_mut("message") {
        *message = redactor.redact(message);
    }
    if let Some(Value::Array(details)) = diagnostic.get_mut("details") {
        details.clear();
    }
}

// ---------------------------------------------------------------------------
// Files and settlement

/// The gateway file token of video `index` of interaction `int_id`:
/// lowercase (`[a-z2-7]`, then `0` and the index), like a video's
/// ([`super::file_token`]), so Google's SDKs take it as a file id.
pub fn file_token(int_id: &str, index: usize) -> Option<String> {
    let token = id_to_token(Purpose::Interaction, int_id)?;
    Some(format!("{token}0{index}"))
}

/// The interaction id behind a file reference that did not open as a
/// video's: [`super::open_file_token`] reads every token as a video id, so
/// the same bytes are read again as an interaction id (the MAC then says
/// which it is).
pub fn interaction_of_file(video_id: &str) -> Option<String> {
    let token = id_to_token(Purpose::Video, video_id)?;
    token_to_id(Purpose::Interaction, &token)
}

/// Records `status` of an interaction created through the door and says
/// how its quota hold ends, the first time it is seen finished: a failed
/// (or cancelled) one is refunded; a completed one stays charged as
/// reserved (what was asked), so nothing is sent.
pub fn observe(record: &mut JobRecord, status: &VideoStatus) -> Observed {
    let was_final = record.is_final();
    let changed = record.observe(status);
    let settle = match (
        &record.quota_hold,
        changed && !was_final && record.is_final(),
    ) {
        (Some(hold), true) if !matches!(status, VideoStatus::Completed) => {
            Some((hold.clone(), Settlement::for_outcome(Outcome::Failed)))
        }
        _ => None,
    };
    Observed { changed, settle }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::seal::{Keys, Owner};
    use alloc::string::ToString;

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[{"name":"omni","deployments":[
              {"id":"g","provider":"gemini","model":"gemini-omni-1.1-flash","credential":"K","api_base":"http://127.0.0.1:9"},
              {"id":"v","provider":"vertex_ai","model":"gemini-omni-1.1-flash-preview","credential":"SA","project":"p","location":"global","storage_uri":"gs://out/omni/"},
              {"id":"veo","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K"}]}]}"#,
        )
        .unwrap()
    }

    fn dep(id: &str) -> Deployment {
        config().deployment(id).unwrap().1.clone()
    }

    fn sent(call: &CreateCall) -> Value {
        serde_json::from_str(call.request.json_body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn the_sdk_create_is_checked_and_re_serialized() {
        let body = br#"{"model":"omni","background":true,"input":"A calico cat playing piano",
            "response_format":{"aspect_ratio":"9:16","delivery":"uri","duration":"6s","resolution":"1080p","type":"video"},
            "store":true,"generation_config":{"seed":7,"video_config":{"task":"text_to_video"}},
            "safety_settings":[{"type":"harm_category_violence","threshold":"block_only_high"}],
            "service_tier":"flex","labels":{"team":"x"}}"#;
        let create = parse_create(body).unwrap();
        assert_eq!(create.model, "omni");
        let call = create_request(&create, &dep("g"), &[], None).unwrap();
        assert_eq!(call.request.url, "http://127.0.0.1:9/v1beta/interactions");
        assert_eq!(
            (call.seconds, call.size),
            (
                6,
                Size {
                    width: 1080,
                    height: 1920
                }
            )
        );
        assert_eq!(
            sent(&call),
            serde_json::json!({"model":"gemini-omni-1.1-flash","input":"A calico cat playing piano",
                "response_format":{"type":"video","aspect_ratio":"9:16","resolution":"1080p","duration":"6s","delivery":"uri"},
                "generation_config":{"seed":7,"video_config":{"task":"text_to_video"}},
                "background":true,"store":true,
                "safety_settings":[{"type":"harm_category_violence","threshold":"block_only_high"}],
                "service_tier":"flex","labels":{"team":"x"}})
        );
        // Defaults are spelled out (what is metered is what is sent); Vertex
        // writes into the deployment's bucket.
        let create = parse_create(
            br#"{"model":"omni","background":true,"input":[{"type":"text","text":"a"},
            {"type":"image","data":"iVBOR","mime_type":"image/png"}]}"#,
        )
        .unwrap();
        let call = create_request(&create, &dep("v"), &[], None).unwrap();
        let body = sent(&call);
        assert_eq!(body["response_format"]["duration"], "8s");
        assert_eq!(body["response_format"]["gcs_uri"], "gs://out/omni/");
        assert_eq!(body["background"], true);
        assert_eq!(
            body["input"],
            serde_json::json!([{"type":"user_input","content":[{"type":"text","text":"a"},
                {"type":"image","data":"iVBOR","mime_type":"image/png"}]}])
        );
        assert_eq!(create.prompt, "a");
    }

    #[test]
    fn unservable_and_unsafe_bodies_are_precise_errors() {
        for (body, code, param) in [
            (&br#"{"model":"omni","input":"x","stream":true}"#[..], ErrorCode::UnsupportedValue, "stream"),
            (br#"{"model":"omni","input":"x","store":false}"#, ErrorCode::UnsupportedValue, "store"),
            (br#"{"model":"omni","input":"x","system_instruction":"be"}"#, ErrorCode::UnsupportedValue, "system_instruction"),
            (br#"{"model":"omni","input":"x","webhook_config":{"uris":["https://x"]}}"#, ErrorCode::UnsupportedValue, "webhook_config"),
            (br#"{"model":"omni","input":"x","temperature":1}"#, ErrorCode::InvalidRequest, "temperature"),
            (br#"{"model":"omni","input":"x","response_format":{"type":"video","gcs_uri":"gs://mine/"}}"#, ErrorCode::StorageNotAllowed, "response_format.gcs_uri"),
            (br#"{"model":"omni","input":"x","response_format":{"type":"video","duration":8}}"#, ErrorCode::InvalidRequest, "response_format.duration"),
            (br#"{"model":"omni","input":"x","response_format":{"type":"video","resolution":"8k"}}"#, ErrorCode::UnsupportedValue, "response_format.resolution"),
            (br#"{"model":"omni","input":[{"type":"image","uri":"gs://b/x.png","mime_type":"image/png"}]}"#, ErrorCode::StorageNotAllowed, "input[0].uri"),
            (br#"{"model":"omni"}"#, ErrorCode::InvalidRequest, "input"),
            (br#"{"model":"omni","input":"x"}"#, ErrorCode::UnsupportedValue, "background"),
            (br#"{"model":"omni","input":"x","background":false}"#, ErrorCode::UnsupportedValue, "background"),
        ] {
            let err = parse_create(body).unwrap_err();
            assert_eq!((err.code, err.param.as_deref()), (code, Some(param)), "{}", String::from_utf8_lossy(body));
        }
        // Seconds are checked per deployment; Veo is not served here.
        let create = parse_create(
            br#"{"model":"omni","background":true,"input":"x","response_format":{"type":"video","duration":"12s"}}"#,
        )
        .unwrap();
        assert_eq!(
            create_request(&create, &dep("g"), &[], None)
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedValue
        );
        let create = parse_create(br#"{"model":"omni","background":true,"input":"x"}"#).unwrap();
        assert_eq!(
            create_request(&create, &dep("veo"), &[], None)
                .unwrap_err()
                .param
                .as_deref(),
            Some("model")
        );
    }

    #[test]
    fn sources_and_previous_interactions_are_substituted() {
        let create = parse_create(
            br#"{"model":"omni","background":true,"previous_interaction_id":"int_x",
            "input":[{"type":"user_input","content":[{"type":"text","text":"continue"},
              {"type":"video","uri":"https://gw/gemini/v1/files/abc:download?alt=media"}]}],
            "generation_config":{"video_config":{"task":"extend"}}}"#,
        )
        .unwrap();
        assert_eq!(create.sources.len(), 1);
        assert_eq!(create.sources[0].param, "input[0].content[1].uri");
        let call = create_request(&create, &dep("g"), &["f1".into()], Some("v1_up")).unwrap();
        let body = sent(&call);
        assert_eq!(body["previous_interaction_id"], "v1_up");
        assert_eq!(
            body["input"][0]["content"][1],
            serde_json::json!({"type":"video","uri":"http://127.0.0.1:9/v1beta/files/f1","mime_type":"video/mp4"})
        );
        assert_eq!(
            body["generation_config"],
            serde_json::json!({"video_config":{"task":"extend"}})
        );
        // A source only ever delivered inline has no upstream file.
        let err = create_request(&create, &dep("g"), &["inline:0".into()], None).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0].content[1].uri"));
    }

    #[test]
    fn answers_show_sealed_ids_gateway_links_and_redacted_text() {
        let upstream = br#"{"id":"v1_a","object":"interaction","model":"gemini-omni-1.1-flash",
            "status":"completed","previous_interaction_id":"v1_p",
            "steps":[{"type":"user_input","content":[{"type":"video","uri":"https://generativelanguage.googleapis.com/v1beta/files/src1"}]},
              {"type":"model_output","content":[{"type":"text","text":"ok"},
                {"type":"video","mime_type":"video/mp4","name":"files/abc123","uri":"https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"}]}],
            "errors":[{"code":"x","message":"key AIzaSECRETSECRET leaked"}]}"#;
        let redactor = Redactor::of(["AIzaSECRETSECRET"]);
        let view = client_view(
            &dep("g"),
            upstream,
            "omni",
            |up| Some(format!("int_{up}")),
            |n| Some(format!("https://gw/files/t0{n}")),
            &redactor,
        )
        .unwrap();
        assert_eq!(view["id"], "int_v1_a");
        assert_eq!(view["previous_interaction_id"], "int_v1_p");
        assert_eq!(view["model"], "omni");
        assert_eq!(
            view["steps"][1]["content"][1]["uri"],
            "https://gw/files/t00"
        );
        assert!(view["steps"][0]["content"][0].get("uri").is_none());
        assert!(view["steps"][1]["content"][1].get("name").is_none());
        let text = view.to_string();
        assert!(
            !text.contains("AIzaSECRET") && !text.contains("googleapis"),
            "{text}"
        );
        // No id, no answer.
        assert!(client_view(
            &dep("g"),
            br#"{"status":"x"}"#,
            "omni",
            |_| None,
            |_| None,
            &redactor
        )
        .is_err());
    }

    #[test]
    fn file_tokens_carry_the_interaction_id() {
        let keys = Keys::derive(&[7u8; 32]).unwrap();
        let owner = Owner::of(&[1u8; 32], None);
        let id = keys
            .seal_upstream_id(Purpose::Interaction, owner, "g", "v1_a", 5)
            .unwrap();
        let token = file_token(&id, 2).unwrap();
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let (as_video, index) = crate::video::open_file_token(&token).unwrap();
        assert_eq!(index, 2);
        assert!(keys.open_id(Purpose::Video, &as_video).is_err());
        assert_eq!(interaction_of_file(&as_video).as_deref(), Some(id.as_str()));
        assert_eq!(
            keys.open_upstream_id(Purpose::Interaction, &id, &owner)
                .unwrap()
                .id,
            "v1_a"
        );
    }

    #[test]
    fn failures_refund_and_completions_stay_charged() {
        let mut record = JobRecord {
            id: "int_x".into(),
            prompt: String::new(),
            model: "omni".into(),
            status: "queued".into(),
            error: None,
            deleted: false,
            remixed_from: None,
            quota_hold: Some("h".into()),
            subject: None,
        };
        let mut done = record.clone();
        assert_eq!(observe(&mut done, &VideoStatus::Completed).settle, None);
        let failed = VideoStatus::Failed(ClientError::from_code(ErrorCode::ContentPolicyViolation));
        assert_eq!(
            observe(&mut record, &failed).settle,
            Some(("h".into(), Settlement::Refund))
        );
        assert_eq!(observe(&mut record, &failed).settle, None);
    }
}
