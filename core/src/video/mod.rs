//! Video generation: the OpenAI Videos API surface (client requests, the
//! sealed [`VideoHandle`], the rendered `video` object), the [`VideoApi`]
//! contract every provider module implements, and the capability functions
//! hosts call (`create_request`, `follow_up_needs_files`,
//! `supports_characters`, `require_google_shape`, …) instead of looking at
//! the provider themselves.
//!
//! The provider layer is one module per upstream API, each owning its base
//! URL, its auth and typed serde structs for every body it sends or reads:
//! [`gemini`] and [`vertex`] (sharing Veo's [`veo::Request`] and
//! [`veo::Operation`]), [`omni`] (Gemini Omni through the Interactions API,
//! on either) and [`openai`] (Sora on OpenAI and Azure).
//! [`provider::api`] is the one place that picks a module for a deployment.
//!
//! | OpenAI Videos field | Gemini Veo (`predictLongRunning`) |
//! |---|---|
//! | `prompt` | `instances[0].prompt` |
//! | `seconds` (`"8"`) | `parameters.durationSeconds` (`8`); values the deployment cannot serve are a 400 `unsupported_value` |
//! | `size` (`"1280x720"`) | `parameters.aspectRatio` (`16:9`) + `parameters.resolution` (`720p`); unservable sizes are a 400, never a silent 16:9 |
//! | `negative_prompt` | `parameters.negativePrompt` |
//! | `person_generation` | `parameters.personGeneration` |
//! | `seed` | `parameters.seed` |
//! | `generate_audio` | `parameters.generateAudio` |
//! | `last_frame` (`{"image_url": "data:…"}`) | `instances[0].lastFrame` |
//! | `reference_images` (up to 3) | `instances[0].referenceImages[]` (`asset`) |
//! | status `queued/in_progress/completed/failed` | operation not done / done with samples / done with `error` or safety-filtered |
//!
//! The video id handed to the client is sealed ([`crate::seal`]) and
//! carries the deployment, the owning key and a [`VideoHandle`].

pub mod gemini;
pub mod interactions;
pub mod jobs;
pub mod omni;
pub mod openai;
pub mod provider;
pub mod veo;
pub mod vertex;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::config::Deployment;
use crate::errors::UpstreamError;
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::plan::UpstreamRequest;
use crate::redact::Redactor;

/// Longest prompt accepted (the OpenAI spec's limit).
pub const MAX_PROMPT_CHARS: usize = 32_000;
/// How long generated videos stay downloadable upstream (Gemini keeps
/// generated files for two days); reported as `expires_at`.
pub const RETENTION_SECS: u64 = 2 * 86_400;
/// Typical generation time, used only to estimate `progress` while running.
pub const TYPICAL_GENERATION_SECS: u64 = 60;

/// A frame size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
}

/// What a video job of `count` videos of `seconds` at `size` costs on
/// `deployment`: one request, a parallel slot, `count` videos, `count ×
/// seconds` of video and their price (by the short side of the frame).
/// Reserved when the job is submitted and committed, from the sealed
/// [`VideoHandle`], when it completes: what was asked is what is charged.
pub fn job_cost(
    deployment: &Deployment,
    seconds: u32,
    size: Size,
    count: u32,
) -> crate::quota::Cost {
    let short_side = u32::from(size.width.min(size.height));
    let one = deployment
        .prices
        .video_cost(u64::from(seconds), Some(short_side));
    let count = u64::from(count.max(1));
    crate::quota::Cost {
        videos: one.videos.saturating_mul(count),
        video_seconds: one.video_seconds.saturating_mul(count),
        spend_micros: one.spend_micros.saturating_mul(count),
        ..one
    }
}

impl Size {
    /// Parses `"1280x720"`.
    pub fn parse(text: &str) -> Option<Self> {
        let (w, h) = text.split_once('x')?;
        let width = w.parse().ok().filter(|w| *w > 0)?;
        let height = h.parse().ok().filter(|h| *h > 0)?;
        Some(Self { width, height })
    }

    /// `"1280x720"`.
    pub fn to_wire(self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

/// A validated `POST /v1/videos` request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateVideo {
    /// Requested model group, if given.
    pub model: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// Requested duration in seconds.
    pub seconds: Option<u32>,
    /// Requested frame size.
    pub size: Option<Size>,
    /// Things the video should not contain.
    pub negative_prompt: Option<String>,
    /// Veo `personGeneration` (`allow_all`, `allow_adult`, `dont_allow`).
    pub person_generation: Option<String>,
    /// Deterministic seed.
    pub seed: Option<u32>,
    /// First frame to animate (`input_reference`).
    pub input_reference: Option<ImageInput>,
    /// Last frame (`last_frame`, Veo 3.1: interpolation from the first).
    pub last_frame: Option<ImageInput>,
    /// Subject images (`reference_images`, Veo 3.1 `asset` references).
    pub reference_images: Vec<ImageInput>,
    /// Veo `generateAudio`.
    pub generate_audio: Option<bool>,
    /// Character ids (`characters: [{"id"}]`) as the client sent them (sealed).
    pub characters: Vec<String>,
}

/// Most `reference_images` a create may carry (Veo 3.1 takes up to 3
/// subject images).
pub const MAX_REFERENCE_IMAGES: usize = 3;

/// Largest reference image accepted, in bytes (before base64).
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// An image sent along with a request, validated by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput {
    /// `image/png`, `image/jpeg` or `image/webp`, from the bytes themselves.
    pub mime_type: &'static str,
    /// The image bytes, standard base64 (what Google's `bytesBase64Encoded` wants).
    pub base64: String,
}

impl ImageInput {
    /// Validates raw bytes (a multipart file part). The type is sniffed from
    /// the content, since clients often label files `application/octet-stream`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClientError> {
        Self::from_bytes_as(bytes, "input_reference")
    }

    /// [`Self::from_bytes`] for the field `param`.
    fn from_bytes_as(bytes: &[u8], param: &str) -> Result<Self, ClientError> {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(invalid(
                param,
                format!("`{param}` is larger than {MAX_IMAGE_BYTES} bytes"),
            ));
        }
        let mime_type = sniff_image(bytes).ok_or_else(|| {
            ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("`{param}` must be a PNG, JPEG or WebP image"),
            )
            .with_param(param)
        })?;
        Ok(Self {
            mime_type,
            base64: STANDARD.encode(bytes),
        })
    }

    /// Parses the JSON form `{"image_url": "data:image/png;base64,…"}`.
    /// Remote URLs and `file_id` are refused: the gateway does not fetch
    /// arbitrary URLs for clients and has no Files API.
    fn from_json(value: &Value, param: &str) -> Result<Self, ClientError> {
        let unsupported =
            |msg: &str| ClientError::new(ErrorCode::UnsupportedValue, msg).with_param(param);
        let Value::Object(obj) = value else {
            return Err(invalid(param, format!("`{param}` must be an object like {{\"image_url\": \"data:image/png;base64,…\"}} or a multipart file")));
        };
        if obj.contains_key("file_id") {
            return Err(unsupported(&format!("`{param}.file_id` is not supported; send the image as a data: URL or a multipart file")));
        }
        let Some(Value::String(url)) = obj.get("image_url") else {
            return Err(invalid(param, format!("`{param}.image_url` is required")));
        };
        let Some(rest) = url.strip_prefix("data:") else {
            return Err(unsupported(&format!(
                "`{param}.image_url` must be a data: URL; the gateway does not fetch remote images"
            )));
        };
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid(param, "the data: URL has no comma"))?;
        if !meta.ends_with(";base64") {
            return Err(invalid(param, "the data: URL must be base64-encoded"));
        }
        if data.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
            return Err(invalid(
                param,
                format!("`{param}` is larger than {MAX_IMAGE_BYTES} bytes"),
            ));
        }
        let bytes = STANDARD
            .decode(data.trim().as_bytes())
            .map_err(|_| invalid(param, "the data: URL's base64 is not valid"))?;
        Self::from_bytes_as(&bytes, param)
    }
}

/// The image type of `bytes` by magic number.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The create fields this gateway accepts (JSON keys, or multipart text parts).
pub const CREATE_FIELDS: &[&str] = &[
    "characters",
    "input_reference",
    "model",
    "prompt",
    "seconds",
    "size",
    "negative_prompt",
    "person_generation",
    "seed",
    "generate_audio",
    "last_frame",
    "reference_images",
    "user",
];

/// The parts a multipart create may have: every create field (text;
/// `input_reference` also as an image file), and the members of
/// `input_reference`'s object form as the OpenAI SDK spells them in a form.
pub const CREATE_FORM_PARTS: &[&str] = &[
    "characters",
    "input_reference",
    "input_reference[image_url]",
    "input_reference[file_id]",
    "model",
    "prompt",
    "seconds",
    "size",
    "negative_prompt",
    "person_generation",
    "seed",
    "generate_audio",
    "last_frame",
    "reference_images",
    "user",
];

impl CreateVideo {
    /// Validates a multipart create from its text parts (the host checked
    /// their names against [`CREATE_FORM_PARTS`]) and the image of an
    /// `input_reference` file part. A text `input_reference` may hold the
    /// object form as JSON; `input_reference[image_url]` and
    /// `input_reference[file_id]` are its members; both at once are refused.
    pub fn from_form(
        text_parts: &[(&str, String)],
        image: Option<ImageInput>,
    ) -> Result<Self, ClientError> {
        let mut fields = Map::new();
        let mut members = Map::new();
        for (name, text) in text_parts {
            if let Some(member) = name
                .strip_prefix("input_reference[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                members.insert(member.into(), Value::from(text.as_str()));
            } else if ["input_reference", "last_frame", "reference_images"].contains(name) {
                let value =
                    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text.as_str()));
                fields.insert((*name).into(), value);
            } else {
                fields.insert((*name).into(), Value::from(text.as_str()));
            }
        }
        let given = usize::from(image.is_some())
            + usize::from(fields.contains_key("input_reference"))
            + usize::from(!members.is_empty());
        if given > 1 {
            return Err(invalid(
                "input_reference",
                "`input_reference` is given more than once (as a file, a text part or `input_reference[…]` parts): send one",
            ));
        }
        if !members.is_empty() {
            fields.insert("input_reference".into(), Value::Object(members));
        }
        let mut request = Self::from_fields(&fields)?;
        if image.is_some() {
            request.input_reference = image;
        }
        Ok(request)
    }

    /// Parses a JSON create body with precise errors.
    pub fn parse_json(body: &[u8]) -> Result<Self, ClientError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(obj) = value else {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("the body must be a JSON object, got {}", type_name(&value)),
            ));
        };
        Self::from_fields(&obj)
    }

    /// Validates already-parsed fields (JSON object, or multipart text parts
    /// collected into strings).
    pub fn from_fields(obj: &Map<String, Value>) -> Result<Self, ClientError> {
        if let Some(k) = obj.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                k,
                format!(
                    "unknown parameter `{k}` (supported: {})",
                    CREATE_FIELDS.join(", ")
                ),
            ));
        }
        let prompt = match obj.get("prompt") {
            Some(Value::String(p)) if !p.trim().is_empty() => p,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(invalid("prompt", "`prompt` is required"))
            }
            Some(other) => {
                return Err(invalid(
                    "prompt",
                    format!("`prompt` must be a string, got {}", type_name(other)),
                ))
            }
        };
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(invalid(
                "prompt",
                format!("`prompt` is longer than {MAX_PROMPT_CHARS} characters"),
            ));
        }
        let seconds = match obj.get("seconds") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_seconds(s)?),
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=600).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            "seconds",
                            "`seconds` must be a whole number of seconds such as \"8\"",
                        )
                    })?,
            ),
            Some(other) => {
                return Err(invalid(
                    "seconds",
                    format!(
                        "`seconds` must be a string such as \"8\", got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        let size = match obj.get("size") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Size::parse(s).ok_or_else(|| {
                invalid(
                    "size",
                    format!("`size` must look like \"1280x720\" (width x height), got {s:?}"),
                )
            })?),
            Some(other) => {
                return Err(invalid(
                    "size",
                    format!(
                        "`size` must be a string such as \"1280x720\", got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        let seed = match obj.get("seed") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        invalid("seed", "`seed` must be an integer in 0..=4294967295")
                    })?,
            ),
        };
        let model = optional_string(obj, "model")?;
        if let Some(m) = &model {
            if m.is_empty() {
                return Err(invalid("model", "`model` must not be empty"));
            }
        }
        let person_generation = optional_string(obj, "person_generation")?;
        if let Some(p) = &person_generation {
            if !["allow_all", "allow_adult", "dont_allow"].contains(&p.as_str()) {
                return Err(invalid(
                    "person_generation",
                    format!("`person_generation` must be one of allow_all, allow_adult, dont_allow; got {p:?}"),
                ));
            }
        }
        // `user` is accepted for OpenAI compatibility; providers here have no use for it.
        optional_string(obj, "user")?;
        let characters = match obj.get("characters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() <= 8 => items
                .iter()
                .map(|item| {
                    item.get("id")
                        .and_then(Value::as_str)
                        .map(ToOwned::to_owned)
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    invalid(
                        "characters",
                        "`characters` must be a list of {\"id\": \"char_…\"}",
                    )
                })?,
            Some(_) => {
                return Err(invalid(
                    "characters",
                    "`characters` must be a list of at most 8 {\"id\": \"char_…\"}",
                ))
            }
        };
        let input_reference = match obj.get("input_reference") {
            None | Some(Value::Null) => None,
            Some(value) => Some(ImageInput::from_json(value, "input_reference")?),
        };
        let last_frame = match obj.get("last_frame") {
            None | Some(Value::Null) => None,
            Some(value) => Some(ImageInput::from_json(value, "last_frame")?),
        };
        let reference_images = match obj.get("reference_images") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() <= MAX_REFERENCE_IMAGES => items
                .iter()
                .enumerate()
                .map(|(i, item)| ImageInput::from_json(item, &format!("reference_images[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(invalid(
                    "reference_images",
                    format!("`reference_images` must be a list of at most {MAX_REFERENCE_IMAGES} images like {{\"image_url\": \"data:image/png;base64,…\"}}"),
                ))
            }
        };
        let generate_audio = match obj.get("generate_audio") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            // Multipart text parts.
            Some(Value::String(s)) if s == "true" => Some(true),
            Some(Value::String(s)) if s == "false" => Some(false),
            Some(other) => {
                return Err(invalid(
                    "generate_audio",
                    format!(
                        "`generate_audio` must be true or false, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        Ok(Self {
            model,
            prompt: prompt.clone(),
            seconds,
            size,
            negative_prompt: optional_string(obj, "negative_prompt")?,
            person_generation,
            seed,
            input_reference,
            last_frame,
            reference_images,
            generate_audio,
            characters,
        })
    }
}

fn parse_seconds(text: &str) -> Result<u32, ClientError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=600).contains(n))
        .ok_or_else(|| {
            invalid(
                "seconds",
                format!("`seconds` must be a whole number of seconds such as \"8\", got {text:?}"),
            )
        })
}

fn optional_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ClientError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            name,
            format!("`{name}` must be a string, got {}", type_name(other)),
        )),
    }
}

pub(crate) fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param.to_owned())
}

/// What a video id carries besides deployment and owner: the upstream
/// operation and the values the status object reports and the job is
/// charged for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoHandle {
    /// Upstream operation name (`models/…/operations/…`).
    pub operation: String,
    /// Duration in seconds the job was submitted with.
    pub seconds: u32,
    /// Frame size the job was submitted with.
    pub size: Size,
    /// Videos the job was asked to make (Veo `parameters.sampleCount`; 1
    /// for everything else), at most [`veo::MAX_SAMPLES`].
    pub count: u32,
}

/// A video id opened for its owner: the sealed parts and the job's handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedVideo {
    /// Deployment, owner, creation time and payload, as sealed.
    pub sealed: crate::seal::Sealed,
    /// The upstream job.
    pub handle: VideoHandle,
}

/// The one answer for a video id that does not open for this key (the
/// seal module's refusal for video ids).
pub fn video_not_found() -> ClientError {
    crate::seal::Purpose::Video.refusal()
}

/// Opens video id `id` for the key whose owner fingerprint is `owner`.
/// Forged, tampered, foreign (another key's) and malformed ids all get the
/// same 404, so probing reveals nothing; the owner is compared in constant
/// time. The reason is returned for the log only.
pub fn open_video(
    sealer: &crate::seal::Keys,
    id: &str,
    owner: &crate::seal::Owner,
) -> Result<OpenedVideo, (ClientError, &'static str)> {
    let sealed = sealer
        .open_id(crate::seal::Purpose::Video, id)
        .map_err(|e| (e.to_client(crate::seal::Purpose::Video), e.as_str()))?;
    if !owner.may_open(&sealed.owner) {
        return Err((video_not_found(), "foreign"));
    }
    let handle = VideoHandle::decode(&sealed.payload).ok_or((video_not_found(), "bad_payload"))?;
    Ok(OpenedVideo { sealed, handle })
}

/// Marks the optional count byte of a handle payload (operation names
/// never start with NUL, so payloads without it read as one video).
const COUNT_MARK: u8 = 0;

impl VideoHandle {
    /// Serialises into the sealed payload: seconds, width and height (two
    /// bytes each, big-endian), then `0x00 count` when the job makes more
    /// than one video (or when the name itself starts with `0x00`, so it
    /// cannot be read as a count), then the operation name.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.operation.len());
        out.extend_from_slice(&(self.seconds.min(u32::from(u16::MAX)) as u16).to_be_bytes());
        out.extend_from_slice(&self.size.width.to_be_bytes());
        out.extend_from_slice(&self.size.height.to_be_bytes());
        if self.count != 1 || self.operation.as_bytes().first() == Some(&COUNT_MARK) {
            out.push(COUNT_MARK);
            out.push(self.count.clamp(1, u32::from(u8::MAX)) as u8);
        }
        out.extend_from_slice(self.operation.as_bytes());
        out
    }

    /// Parses a sealed payload; `None` if it is not one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < 7 {
            return None;
        }
        let be = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let (count, operation) = match bytes[6..] {
            [COUNT_MARK, count, ref operation @ ..] if count > 0 && !operation.is_empty() => {
                (u32::from(count), operation)
            }
            [COUNT_MARK, ..] => return None,
            ref operation => (1, operation),
        };
        Some(Self {
            seconds: u32::from(be(0)),
            size: Size {
                width: be(2),
                height: be(4),
            },
            operation: core::str::from_utf8(operation).ok()?.to_owned(),
            count,
        })
    }
}

/// Where an upstream job stands, whatever the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Accepted, not started.
    Queued,
    /// Running; `progress` when the upstream reports it (Sora does, Veo does not).
    Running {
        /// Percent done, if known.
        progress: Option<u8>,
    },
    /// Done; the ids of the generated files (at least one).
    Succeeded(Vec<String>),
    /// Done without videos.
    Failed(UpstreamError),
}

impl Operation {
    /// The OpenAI-style status of this state.
    pub fn status(self) -> VideoStatus {
        match self {
            Self::Queued => VideoStatus::Queued,
            Self::Running { progress } => VideoStatus::InProgress { progress },
            Self::Succeeded(_) => VideoStatus::Completed,
            Self::Failed(err) => VideoStatus::Failed(err.to_client()),
        }
    }
}

/// What an upstream create call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The upstream job id (Veo operation name, Sora video id).
    pub upstream_id: String,
    /// Duration the upstream reports, if it does.
    pub seconds: Option<u32>,
    /// Size the upstream reports, if it does.
    pub size: Option<Size>,
}

/// `variant` of a content download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The MP4.
    Video,
    /// A still image.
    Thumbnail,
    /// A sprite sheet of frames.
    Spritesheet,
}

impl Variant {
    /// Parses the query value (absent = video).
    pub fn parse(value: Option<&str>) -> Result<Self, ClientError> {
        match value {
            None | Some("video") => Ok(Self::Video),
            Some("thumbnail") => Ok(Self::Thumbnail),
            Some("spritesheet") => Ok(Self::Spritesheet),
            Some(other) => Err(invalid(
                "variant",
                format!("`variant` must be video, thumbnail or spritesheet, got {other:?}"),
            )),
        }
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Thumbnail => "thumbnail",
            Self::Spritesheet => "spritesheet",
        }
    }

    /// File extension for `Content-Disposition` when the upstream names none.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Video => "mp4",
            Self::Thumbnail => "webp",
            Self::Spritesheet => "jpg",
        }
    }
}

/// What every video provider module offers: one implementation per
/// upstream API ([`gemini::Api`], [`vertex::Api`], [`openai::OPENAI`] and
/// [`openai::AZURE`]), chosen for a deployment by [`provider::api`], the
/// one place that looks at [`crate::config::Provider`] for video.
pub trait VideoApi: Sync {
    /// The create call for `req`, with the duration and size to seal.
    /// `characters` are the upstream ids behind `req.characters`.
    fn create(
        &self,
        req: &CreateVideo,
        dep: &Deployment,
        characters: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError>;
    /// Reads a create answer.
    fn parse_created(&self, body: &[u8]) -> Result<Created, UpstreamError>;
    /// The status call for a job.
    fn poll(&self, dep: &Deployment, handle: &VideoHandle) -> Result<UpstreamRequest, ClientError>;
    /// Reads a status answer.
    fn parse_poll(&self, body: &[u8]) -> Result<Operation, UpstreamError>;
    /// The upstream delete call, if the API has one.
    fn delete(&self, _dep: &Deployment, _handle: &VideoHandle) -> Option<UpstreamRequest> {
        None
    }
    /// The call that stops a running job before it is deleted, if the API
    /// has one (its answer is a status answer).
    fn cancel(&self, _dep: &Deployment, _handle: &VideoHandle) -> Option<UpstreamRequest> {
        None
    }
    /// Whether `err`, answered to a delete, means the job is already gone upstream.
    fn already_gone(&self, err: &ClientError) -> bool {
        err.code == ErrorCode::UpstreamNotFound
    }
    /// Whether `variant` can be served (checked before any upstream call).
    fn check_variant(&self, _variant: Variant) -> Result<(), ClientError> {
        Ok(())
    }
    /// Where generated file `file` is read from.
    fn content(
        &self,
        dep: &Deployment,
        file: &str,
        variant: Variant,
    ) -> Result<Content, ClientError>;
    /// Whether a follow-up of `kind` is possible at all.
    fn check_follow_up(&self, kind: FollowUpKind) -> Result<(), ClientError>;
    /// Whether a follow-up of `kind` needs the source's generated files
    /// (the host polls the source for them first).
    fn follow_up_needs_files(&self, _kind: FollowUpKind) -> bool {
        false
    }
    /// The follow-up call on `source` (whose generated files are `files`),
    /// with the duration and size to seal.
    fn follow_up(
        &self,
        dep: &Deployment,
        follow: &FollowUp,
        source: &VideoHandle,
        files: &[String],
    ) -> Result<(UpstreamRequest, u32, Size), ClientError>;
    /// The Sora API, for the calls only it has (characters).
    fn sora(&self) -> Option<&openai::Api> {
        None
    }
    /// The Gemini Omni (Interactions) API, for what only it has.
    fn omni(&self) -> Option<&omni::Api> {
        None
    }
    /// Which Google request shape the API speaks natively, if any.
    fn google_shape(&self) -> Option<GoogleShape> {
        None
    }
    /// `predictLongRunning` with a checked Veo body (Veo APIs only); the
    /// API adds what the deployment decides (Vertex: its `storage_uri`).
    fn veo_call(
        &self,
        _dep: &Deployment,
        _body: veo::Request<'_>,
    ) -> Result<UpstreamRequest, ClientError> {
        Err(ClientError::from_code(ErrorCode::UnsupportedValue))
    }
    /// Generated file `file` of one of this deployment's jobs as the video
    /// input of a new Veo request (Veo APIs only).
    fn video_input(
        &self,
        _dep: &Deployment,
        _file: &str,
    ) -> Result<veo::VideoInput<'static>, ClientError> {
        Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            "this model's videos cannot be the input of a Veo request",
        ))
    }
}

/// Google's own request shapes, served under `/gemini/` and `/vertex_ai/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleShape {
    /// The Gemini API's (`models/{m}:predictLongRunning`, `GET operations/…`).
    Gemini,
    /// Vertex AI's (`publishers/google/models/{m}:predictLongRunning`, `:fetchPredictOperation`).
    Vertex,
}

impl GoogleShape {
    const fn name(self) -> &'static str {
        match self {
            Self::Gemini => "Gemini",
            Self::Vertex => "Vertex AI",
        }
    }
}

/// Serializes a wire struct.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|_| {
        ClientError::new(
            ErrorCode::Internal,
            "the upstream request could not be serialized",
        )
    })
}

/// The create call for `req` on `dep`, with the duration and size to seal
/// (the request's, or the provider's defaults). `characters` are the
/// upstream ids behind `req.characters` (Sora only).
pub fn create_request(
    req: &CreateVideo,
    dep: &Deployment,
    characters: &[String],
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    let api = provider::api(dep);
    if !req.characters.is_empty() && api.sora().is_none() {
        return Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            "`characters` are a Sora feature; this model is not served by Sora",
        )
        .with_param("characters"));
    }
    api.create(req, dep, characters)
}

/// Reads a create answer from `dep`'s provider.
pub fn parse_create_response(dep: &Deployment, body: &[u8]) -> Result<Created, UpstreamError> {
    provider::api(dep).parse_created(body)
}

/// The status call for a job.
pub fn poll_request(
    dep: &Deployment,
    handle: &VideoHandle,
) -> Result<UpstreamRequest, ClientError> {
    provider::api(dep).poll(dep, handle)
}

/// Reads a status answer from `dep`'s provider.
pub fn parse_poll(dep: &Deployment, body: &[u8]) -> Result<Operation, UpstreamError> {
    provider::api(dep).parse_poll(body)
}

/// The upstream delete call, for providers that have one (Sora, Omni). Veo
/// has none: its generated files expire after two days.
pub fn delete_request(dep: &Deployment, handle: &VideoHandle) -> Option<UpstreamRequest> {
    provider::api(dep).delete(dep, handle)
}

/// The call that stops a running job before its delete (Omni's interaction
/// cancel); its answer reads with [`parse_poll`]. A refusal (the job had
/// already finished) does not stop the delete.
pub fn cancel_request(dep: &Deployment, handle: &VideoHandle) -> Option<UpstreamRequest> {
    provider::api(dep).cancel(dep, handle)
}

/// Whether `err`, answered to [`delete_request`], means the job was already
/// gone upstream (a 404; on the Interactions API a 400 "Invalid interaction
/// name"), so the delete is done.
pub fn already_gone(dep: &Deployment, err: &ClientError) -> bool {
    provider::api(dep).already_gone(err)
}

/// The `index`-th inline video in a finished job's status answer
/// (`poll`, as [`Content::Inline`] points at), decoded, with its type.
pub fn inline_video(
    dep: &Deployment,
    poll: &[u8],
    index: usize,
) -> Result<(Vec<u8>, String), UpstreamError> {
    match provider::api(dep).omni() {
        Some(_) => omni::inline_video(poll, index),
        None => vertex::inline_video(poll, index),
    }
}

/// The answer for a create whose upstream call went out but whose outcome
/// is unknown: the upstream did not answer in time or could not be reached
/// (`err` is the classified failure), or it accepted the job and the
/// gateway then failed to read or record it. The job may be running, so
/// this is a `424 create_outcome_unknown` instead of a 5xx: the OpenAI and
/// Google SDKs resend creates on 5xx (and on 408/409/429), and a resend
/// would start a second, paid job. Failures that prove the upstream did not
/// take the job (an error status) and local failures pass through.
pub fn create_outcome_unknown(err: ClientError, answered_ok: bool) -> ClientError {
    let unknown = answered_ok
        || matches!(
            err.code,
            ErrorCode::UpstreamTimeout
                | ErrorCode::UpstreamNetwork
                | ErrorCode::BadUpstreamResponse
        );
    if !unknown || err.code == ErrorCode::CreateOutcomeUnknown {
        return err;
    }
    ClientError::new(
        ErrorCode::CreateOutcomeUnknown,
        format!(
            "the provider may have started this video job, but the gateway could not confirm it ({}); \
             it was not resent, and is answered without a 5xx so that clients do not resend it either. \
             Send it again only if a second job is acceptable",
            err.message
        ),
    )
}

/// Whether `dep`'s provider can serve `variant` (checked before any upstream call).
pub fn check_variant(dep: &Deployment, variant: Variant) -> Result<(), ClientError> {
    provider::api(dep).check_variant(variant)
}

/// Where generated content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An upstream download to stream through.
    Fetch(UpstreamRequest),
    /// Bytes inside the finished operation (Vertex without `storageUri`):
    /// the `index`-th video, decoded by [`vertex::inline_video`].
    Inline {
        /// Which video of the operation.
        index: usize,
    },
}

/// Where generated file `file` (from [`Operation::Succeeded`]) is read from.
pub fn content_source(
    dep: &Deployment,
    file: &str,
    variant: Variant,
) -> Result<Content, ClientError> {
    let api = provider::api(dep);
    api.check_variant(variant)?;
    api.content(dep, file, variant)
}

/// The Sora API behind `dep`, for characters; a precise 400 for Veo.
pub fn characters_api(dep: &Deployment) -> Result<&'static openai::Api, ClientError> {
    provider::api(dep).sora().ok_or_else(|| {
        ClientError::new(
            ErrorCode::UnsupportedValue,
            format!(
                "characters are a Sora feature; model {:?} is served by Veo",
                dep.model
            ),
        )
    })
}

/// Whether `dep` can hold characters (Sora).
pub fn supports_characters(dep: &Deployment) -> bool {
    provider::api(dep).sora().is_some()
}

/// Refuses a deployment whose jobs cannot be driven through Google request
/// `shape` (the client's door): jobs of non-Google providers are only
/// reachable through `/v1/videos`. The Gemini door is also served by
/// Vertex deployments, translated ([`gemini_operation`]): Veo left the
/// Gemini API (2026-10-22) and lives on on Vertex, and clients written for
/// the Gemini API's long-running operations (google-genai 2.x, the seed's
/// `VEO3VideoGenerator`) keep working when the config serves their model
/// there. The Vertex door is Vertex's only.
pub fn require_google_shape(dep: &Deployment, shape: GoogleShape) -> Result<(), ClientError> {
    let native = provider::api(dep).google_shape();
    let served = native == Some(shape)
        || (shape == GoogleShape::Gemini && native == Some(GoogleShape::Vertex));
    if served {
        return Ok(());
    }
    let other = match shape {
        GoogleShape::Gemini => "use the /v1/videos API for it",
        GoogleShape::Vertex => "use /v1/videos (or /gemini/ for Gemini models)",
    };
    let served_by = if dep.is_omni() {
        "Gemini Omni (the Interactions API)"
    } else {
        dep.provider.as_str()
    };
    Err(ClientError::new(
        ErrorCode::UnsupportedValue,
        format!(
            "this model is served by {served_by}, not {}; {other}",
            shape.name()
        ),
    ))
}

/// A job's upstream operation (`body`, the answer to [`poll_request`] on
/// `dep`) as a Gemini-API client sees it: its state, and the Gemini-shaped
/// operation to answer with — named `name` (the gateway's sealed name), every
/// generated video at `file_uri(index)` (a gateway download URL, numbered as
/// the state's files). A Gemini deployment's answer is relayed with those
/// two replaced; a Vertex deployment's is translated
/// ([`vertex::gemini_operation`]).
pub fn gemini_operation(
    dep: &Deployment,
    body: &[u8],
    name: &str,
    file_uri: impl Fn(usize) -> String,
) -> Result<(Operation, Value), UpstreamError> {
    match provider::api(dep).google_shape() {
        Some(GoogleShape::Gemini) => Ok((
            gemini::parse_operation(body)?,
            gemini::native_operation(body, name, file_uri)?,
        )),
        Some(GoogleShape::Vertex) => Ok((
            vertex::parse_operation(body)?,
            vertex::gemini_operation(body, name, file_uri)?,
        )),
        None => Err(upstream_garbage(
            "this deployment has no Gemini-shaped operations",
        )),
    }
}

/// Fields of a Google operation that carry inline video bytes (base64),
/// never redacted.
const INLINE_BYTES_FIELDS: &[&str] = &["bytesBase64Encoded", "encodedVideo", "data"];

/// A Google operation view ([`gemini_operation`], [`vertex::native_operation`])
/// with the secrets `redactor` knows (and secret-shaped runs) removed from
/// every upstream text it carries (`error.message`, details, filter
/// reasons), inline video bytes left as they are.
pub fn redact_operation(view: &mut Value, redactor: &Redactor) {
    redactor.redact_json(view, INLINE_BYTES_FIELDS);
}

/// A create request in Google's own shape (from a Google SDK), checked and
/// re-serialized for `dep`, with the values the gateway seals into the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCreate {
    /// The upstream call: the typed body that was checked, the deployment's
    /// model, key and storage.
    pub request: UpstreamRequest,
    /// `instances[0].prompt` (empty for image-only requests).
    pub prompt: String,
    /// `parameters.durationSeconds`, or the deployment's default.
    pub seconds: u32,
    /// From `parameters.aspectRatio` + `parameters.resolution`.
    pub size: Size,
    /// `parameters.sampleCount` (1 when absent): the videos charged for.
    pub count: u32,
}

/// Parses a Google-shaped `predictLongRunning` body into [`veo::Native`]
/// and checks everything that does not depend on the deployment: unknown,
/// duplicate or mistyped fields, the sample count, and that it names no
/// storage of its own (see [`veo::parse_native`]).
pub fn parse_native(body: &[u8]) -> Result<veo::Native, ClientError> {
    veo::parse_native(body)
}

/// The call for a parsed Google-shaped body on `dep`: checked for the
/// deployment, with the source video the body names (`source_file`: the
/// upstream file of [`veo::Native::source`], which the host resolved for
/// the caller) and the deployment's own storage put in, and built from the
/// typed value: what is sent is what was checked.
pub fn native_create_request(
    native: &veo::Native,
    dep: &Deployment,
    source_file: Option<&str>,
) -> Result<NativeCreate, ClientError> {
    let (seconds, size) = native.check_for(dep)?;
    let api = provider::api(dep);
    let mut request = native.request.clone();
    match (&native.source, source_file) {
        (None, _) => {}
        (Some(_), None) => {
            return Err(ClientError::new(
                ErrorCode::Internal,
                "the source video of the request was not resolved",
            ))
        }
        (Some(_), Some(file)) => {
            if let Some(instance) = request.instances.first_mut() {
                let mime_type = instance.video.as_mut().and_then(|v| v.mime_type.take());
                let mut input = api.video_input(dep, file)?;
                input.mime_type = mime_type.or(input.mime_type);
                instance.video = Some(input);
            }
        }
    }
    let request = api.veo_call(dep, request)?;
    Ok(NativeCreate {
        request,
        prompt: native.prompt.clone(),
        seconds,
        size,
        count: native.count,
    })
}

/// A generated file of one of the gateway's video jobs, as a client names
/// it in a request: the sealed video id and the file's index in the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The sealed video id (still to be opened for the caller).
    pub video_id: String,
    /// Which of the job's videos.
    pub index: usize,
    /// The request field that named it, for errors.
    pub param: String,
}

/// The file token of generated video `index` of job `id`: the sealed id in
/// lowercase base32 (Google's SDKs accept only `files/[a-z0-9]+`), then `0`
/// (never a base32 digit), then the index. `None` if `id` is not a video id.
pub fn file_token(id: &str, index: usize) -> Option<String> {
    let token = crate::seal::id_to_token(crate::seal::Purpose::Video, id)?;
    Some(format!("{token}0{index}"))
}

/// The video id and index behind a [`file_token`]; `None` for anything
/// else. The id is not opened yet (its MAC and owner are checked by
/// [`open_video`]).
pub fn open_file_token(token: &str) -> Option<(String, usize)> {
    let (sealed, index) = token.split_once('0')?;
    if index.is_empty() || index.len() > 3 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id = crate::seal::token_to_id(crate::seal::Purpose::Video, sealed)?;
    Some((id, index.parse().ok()?))
}

/// The gateway file a URI names, whatever its scheme and host: the token
/// after its last `/files/` (or a leading `files/`), as the gateway's file
/// URIs (`…/files/{token}:download?alt=media`) and Google's file names
/// (`files/{token}`) carry it. `None` when the URI names no gateway file.
pub fn file_ref_in_uri(uri: &str) -> Option<(String, usize)> {
    let tail = match uri.rfind("/files/") {
        Some(at) => &uri[at + "/files/".len()..],
        None => uri.strip_prefix("files/")?,
    };
    let end = tail
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .unwrap_or(tail.len());
    let (token, rest) = tail.split_at(end);
    if !(rest.is_empty() || rest.starts_with(':') || rest.starts_with('?')) {
        return None;
    }
    open_file_token(token)
}

/// What a follow-up call asks of an existing video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    /// `POST /v1/videos/{id}/remix`: a new video from the source and a prompt.
    Remix,
    /// `POST /v1/videos/edits`: the source changed as the prompt says.
    Edit,
    /// `POST /v1/videos/extensions`: the source continued.
    Extend,
}

/// A validated remix, edit or extension request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// Which operation.
    pub kind: FollowUpKind,
    /// The prompt.
    pub prompt: String,
    /// Extension length (extensions only).
    pub seconds: Option<u32>,
    /// The source video's id as the client sent it (`video.id`, or the path id for remix).
    pub source_id: String,
}

/// The parts an edit or extension form may carry (`multipart/form-data`,
/// as the openai SDK's `videos.edit` / `videos.extend` send them): the
/// JSON body's fields, the source video as the text part `video[id]` (how
/// a form encodes `{"video": {"id": …}}`) or as a `video` part (the SDK's
/// upload, which [`FollowUp::from_form`] refuses precisely). A remix takes
/// no form.
pub fn follow_up_form_parts(kind: FollowUpKind) -> &'static [&'static str] {
    match kind {
        FollowUpKind::Remix => &["prompt"],
        FollowUpKind::Edit => &["prompt", "video[id]", "video"],
        FollowUpKind::Extend => &["prompt", "seconds", "video[id]", "video"],
    }
}

impl FollowUp {
    /// Reads an edit or extension form: its text parts by name (each
    /// once, every name one of [`follow_up_form_parts`], as the host's form
    /// check ensures), and whether a `video` part was a file. The parts are
    /// read as the JSON body's fields, and checked the same way.
    ///
    /// reelay edits and extends the videos it made for the caller (their
    /// deployment, owner and cost are sealed in the id), so an uploaded
    /// source video is refused (`unsupported_value`, naming `video`), and a
    /// `video` text part must be `video[id]`.
    pub fn from_form(
        kind: FollowUpKind,
        parts: &[(&str, &str)],
        video_file: bool,
    ) -> Result<Self, ClientError> {
        if video_file {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                "uploading a source video is not supported: reelay edits and extends the \
                 videos it made; name one of yours as the text part `video[id]`",
            )
            .with_param("video"));
        }
        let known = follow_up_form_parts(kind);
        let mut fields = Map::new();
        for (name, value) in parts {
            match *name {
                "video" => {
                    return Err(invalid(
                        "video",
                        "name the source video as the text part `video[id]`",
                    ))
                }
                "video[id]" => {
                    let mut video = Map::new();
                    video.insert("id".to_owned(), Value::from(*value));
                    fields.insert("video".to_owned(), Value::Object(video));
                }
                name if known.contains(&name) => {
                    fields.insert(name.to_owned(), Value::from(*value));
                }
                name => {
                    return Err(invalid(
                        name,
                        format!(
                            "unknown multipart field `{name}` (supported: {})",
                            known.join(", ")
                        ),
                    ))
                }
            }
        }
        if kind != FollowUpKind::Remix && !fields.contains_key("video") {
            return Err(invalid(
                "video[id]",
                "`video[id]` is required: the id of one of your videos",
            ));
        }
        let body = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
        Self::parse(kind, &body, None)
    }

    /// Parses the JSON body. `path_id` is the `{id}` of a remix route.
    pub fn parse(
        kind: FollowUpKind,
        body: &[u8],
        path_id: Option<&str>,
    ) -> Result<Self, ClientError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(obj) = value else {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                "the body must be a JSON object",
            ));
        };
        let known: &[&str] = match kind {
            FollowUpKind::Remix => &["prompt"],
            FollowUpKind::Edit => &["prompt", "video"],
            FollowUpKind::Extend => &["prompt", "video", "seconds"],
        };
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(
                k,
                format!("unknown parameter `{k}` (supported: {})", known.join(", ")),
            ));
        }
        let prompt = match obj.get("prompt") {
            Some(Value::String(p))
                if !p.trim().is_empty() && p.chars().count() <= MAX_PROMPT_CHARS =>
            {
                p.clone()
            }
            _ => {
                return Err(invalid(
                    "prompt",
                    "`prompt` is required (a non-empty string)",
                ))
            }
        };
        let source_id = match (path_id, obj.get("video")) {
            (Some(id), _) => id.to_owned(),
            (None, Some(video)) => video
                .get("id")
                .and_then(Value::as_str)
                .map(ToOwned::to_owned)
                .ok_or_else(|| invalid("video", "`video` must be {\"id\": \"<video id>\"}"))?,
            (None, None) => {
                return Err(invalid(
                    "video",
                    "`video` is required: {\"id\": \"<video id>\"}",
                ))
            }
        };
        let seconds = match obj.get("seconds") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_seconds(s)?),
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=600).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            "seconds",
                            "`seconds` must be a whole number of seconds such as \"8\"",
                        )
                    })?,
            ),
        };
        if kind == FollowUpKind::Extend && seconds.is_none() {
            return Err(invalid("seconds", "`seconds` is required for an extension"));
        }
        Ok(Self {
            kind,
            prompt,
            seconds,
            source_id,
        })
    }
}

/// The upstream call for a follow-up on `source` (a finished job of `dep`
/// whose generated files are `files`), with the duration and size to seal.
/// Sora does all three natively; Veo on the Gemini API can extend its own
/// output (`instances[0].video.uri`); the rest is refused precisely.
pub fn follow_up_request(
    dep: &Deployment,
    follow: &FollowUp,
    source: &VideoHandle,
    files: &[String],
) -> Result<(UpstreamRequest, u32, Size), ClientError> {
    provider::api(dep).follow_up(dep, follow, source, files)
}

/// Whether `dep`'s provider can do `kind` at all (checked before polling
/// the source): Sora does everything, Veo on the Gemini API only extends.
pub fn check_follow_up(dep: &Deployment, kind: FollowUpKind) -> Result<(), ClientError> {
    provider::api(dep).check_follow_up(kind)
}

/// Whether a follow-up of `kind` on `dep` needs the source's generated
/// files (Veo extends a file; Sora takes its own id).
pub fn follow_up_needs_files(dep: &Deployment, kind: FollowUpKind) -> bool {
    provider::api(dep).follow_up_needs_files(kind)
}

/// An upstream answer the gateway cannot read: the deployment's fault, retryable.
pub(crate) fn upstream_garbage(message: &str) -> UpstreamError {
    UpstreamError::unreadable(None, message)
}

/// Status of a video job in OpenAI's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoStatus {
    /// Accepted, not started.
    Queued,
    /// Running.
    InProgress {
        /// Percent done as the upstream reports it; `None` means estimate.
        progress: Option<u8>,
    },
    /// Finished with content.
    Completed,
    /// Finished without content.
    Failed(ClientError),
}

impl VideoStatus {
    /// This status with the secrets `redactor` knows (and secret-shaped
    /// runs) removed from a failure's upstream message, before it is shown
    /// in a `200` video object or stored for lists.
    #[must_use]
    pub fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            Self::Failed(err) => Self::Failed(err.redacted(redactor)),
            other => other,
        }
    }

    /// The OpenAI `status` string.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress { .. } => "in_progress",
            Self::Completed => "completed",
            Self::Failed(_) => "failed",
        }
    }
}

/// Everything needed to render an OpenAI `video` object.
#[derive(Debug, Clone)]
pub struct VideoView<'a> {
    /// Sealed id.
    pub id: &'a str,
    /// Model group name.
    pub model: &'a str,
    /// Current status.
    pub status: &'a VideoStatus,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// Now, unix seconds (for the progress estimate).
    pub now: u64,
    /// Prompt, when known.
    pub prompt: Option<&'a str>,
    /// Submitted values.
    pub handle: &'a VideoHandle,
    /// The sealed id of the video this one remixes, if any.
    pub remixed_from: Option<&'a str>,
}

impl VideoView<'_> {
    /// The OpenAI `video` object.
    ///
    /// `progress` is exact for finished jobs (100 / 0) and otherwise an
    /// estimate from elapsed time against [`TYPICAL_GENERATION_SECS`],
    /// capped at 95, because Veo reports no progress. `completed_at` is null:
    /// Veo operations carry no completion time and reelay does not invent one.
    pub fn to_json(&self) -> Value {
        let progress = match self.status {
            VideoStatus::Completed => 100,
            VideoStatus::Queued | VideoStatus::Failed(_) => 0,
            VideoStatus::InProgress { progress: Some(p) } => u64::from(*p),
            VideoStatus::InProgress { progress: None } => {
                let elapsed = self.now.saturating_sub(self.created_at);
                (elapsed * 100 / TYPICAL_GENERATION_SECS).clamp(1, 95)
            }
        };
        let error = match self.status {
            VideoStatus::Failed(err) => {
                serde_json::json!({"code": err.code.as_str(), "message": err.message})
            }
            _ => Value::Null,
        };
        let expires_at = match self.status {
            VideoStatus::Completed => Value::from(self.created_at + RETENTION_SECS),
            _ => Value::Null,
        };
        serde_json::json!({
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": self.status.as_str(),
            "progress": progress,
            "created_at": self.created_at,
            "completed_at": Value::Null,
            "expires_at": expires_at,
            "prompt": self.prompt,
            "size": self.handle.size.to_wire(),
            "seconds": format!("{}", self.handle.seconds),
            "remixed_from_video_id": self.remixed_from,
            "error": error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_request() {
        let req = CreateVideo::parse_json(
            br#"{"model":"veo","prompt":"a cat","seconds":"8","size":"1280x720","negative_prompt":"dogs","person_generation":"dont_allow","seed":7,"user":"u1"}"#,
        )
        .unwrap();
        assert_eq!(req.seconds, Some(8));
        assert_eq!(
            req.size,
            Some(Size {
                width: 1280,
                height: 720
            })
        );
        assert_eq!(req.seed, Some(7));
        assert_eq!(
            CreateVideo::parse_json(br#"{"prompt":"x","seconds":4}"#)
                .unwrap()
                .seconds,
            Some(4)
        );
    }

    #[test]
    fn rejects_bad_fields_precisely() {
        let cases: [(&[u8], &str, Option<&str>); 10] = [
            (b"not json", "invalid_json", None),
            (b"[1]", "invalid_request", None),
            (br#"{}"#, "invalid_request", Some("prompt")),
            (br#"{"prompt":"  "}"#, "invalid_request", Some("prompt")),
            (br#"{"prompt":5}"#, "invalid_request", Some("prompt")),
            (
                br#"{"prompt":"x","seconds":"eight"}"#,
                "invalid_request",
                Some("seconds"),
            ),
            (
                br#"{"prompt":"x","seconds":[8]}"#,
                "invalid_request",
                Some("seconds"),
            ),
            (
                br#"{"prompt":"x","size":"big"}"#,
                "invalid_request",
                Some("size"),
            ),
            (
                br#"{"prompt":"x","person_generation":"everyone"}"#,
                "invalid_request",
                Some("person_generation"),
            ),
            (
                br#"{"prompt":"x","colour":"red"}"#,
                "invalid_request",
                Some("colour"),
            ),
        ];
        for (body, code, param) in cases {
            let err = CreateVideo::parse_json(body).unwrap_err();
            assert_eq!(err.code.as_str(), code, "{}", String::from_utf8_lossy(body));
            assert_eq!(
                err.param.as_deref(),
                param,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    use std::string::ToString;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn multipart_creates_read_the_json_fields_and_the_sdks_object_form() {
        for name in CREATE_FIELDS {
            assert!(CREATE_FORM_PARTS.contains(name), "{name}");
        }
        let text = |parts: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            parts.iter().map(|(n, v)| (*n, (*v).to_string())).collect()
        };
        let url = std::format!("data:image/png;base64,{}", STANDARD.encode(PNG));
        let img = ImageInput::from_bytes(PNG).unwrap();
        // The OpenAI SDK sends `input_reference={"image_url": …}` as a
        // bracketed part; a text part may hold the object as JSON.
        let object = std::format!(r#"{{"image_url":"{url}"}}"#);
        for parts in [
            text(&[
                ("prompt", "a cat"),
                ("seconds", "8"),
                ("input_reference[image_url]", &url),
            ]),
            text(&[
                ("prompt", "a cat"),
                ("seconds", "8"),
                ("input_reference", &object),
            ]),
        ] {
            let req = CreateVideo::from_form(&parts, None).unwrap();
            assert_eq!(req.input_reference, Some(img.clone()));
            assert_eq!(req.seconds, Some(8));
        }
        let req = CreateVideo::from_form(&text(&[("prompt", "a cat")]), Some(img.clone())).unwrap();
        assert_eq!(req.input_reference, Some(img.clone()));
        let err = CreateVideo::from_form(
            &text(&[("prompt", "x"), ("input_reference[file_id]", "file_1")]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedValue);
        // One reference, given one way.
        for (parts, image) in [
            (
                text(&[("prompt", "x"), ("input_reference[image_url]", &url)]),
                Some(img.clone()),
            ),
            (
                text(&[
                    ("prompt", "x"),
                    ("input_reference", &object),
                    ("input_reference[image_url]", &url),
                ]),
                None,
            ),
        ] {
            let err = CreateVideo::from_form(&parts, image).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("input_reference"));
        }
    }

    #[test]
    fn reference_images_are_validated_by_content() {
        let img = ImageInput::from_bytes(PNG).unwrap();
        assert_eq!(img.mime_type, "image/png");
        assert_eq!(STANDARD.decode(&img.base64).unwrap(), PNG);
        assert_eq!(
            ImageInput::from_bytes(&[0xff, 0xd8, 0xff, 0xe0])
                .unwrap()
                .mime_type,
            "image/jpeg"
        );
        assert_eq!(
            ImageInput::from_bytes(b"RIFF\0\0\0\0WEBPVP8 ")
                .unwrap()
                .mime_type,
            "image/webp"
        );
        assert_eq!(
            ImageInput::from_bytes(b"GIF89a").unwrap_err().code,
            ErrorCode::UnsupportedValue
        );

        let url = std::format!("data:image/png;base64,{}", STANDARD.encode(PNG));
        let body =
            serde_json::json!({"prompt": "x", "input_reference": {"image_url": url}}).to_string();
        assert_eq!(
            CreateVideo::parse_json(body.as_bytes())
                .unwrap()
                .input_reference,
            Some(img)
        );
        for (reference, code) in [
            (
                serde_json::json!({"image_url": "https://example.com/a.png"}),
                "unsupported_value",
            ),
            (
                serde_json::json!({"file_id": "file_123"}),
                "unsupported_value",
            ),
            (
                serde_json::json!({"image_url": "data:image/png,abc"}),
                "invalid_request",
            ),
            (
                serde_json::json!({"image_url": "data:image/png;base64,!!!"}),
                "invalid_request",
            ),
            (
                serde_json::json!("data:image/png;base64,AAAA"),
                "invalid_request",
            ),
        ] {
            let body = serde_json::json!({"prompt": "x", "input_reference": reference}).to_string();
            let err = CreateVideo::parse_json(body.as_bytes()).unwrap_err();
            assert_eq!(
                (err.code.as_str(), err.param.as_deref()),
                (code, Some("input_reference")),
                "{reference}"
            );
        }
    }

    #[test]
    fn follow_ups_parse_and_map_per_provider() {
        let remix = FollowUp::parse(
            FollowUpKind::Remix,
            br#"{"prompt":"in winter"}"#,
            Some("video_src"),
        )
        .unwrap();
        assert_eq!(remix.source_id, "video_src");
        let ext = FollowUp::parse(
            FollowUpKind::Extend,
            br#"{"prompt":"more","seconds":"4","video":{"id":"video_a"}}"#,
            None,
        )
        .unwrap();
        assert_eq!((ext.seconds, ext.source_id.as_str()), (Some(4), "video_a"));
        for (kind, body, param) in [
            (
                FollowUpKind::Extend,
                &br#"{"prompt":"x","video":{"id":"v"}}"#[..],
                "seconds",
            ),
            (FollowUpKind::Edit, br#"{"prompt":"x"}"#, "video"),
            (
                FollowUpKind::Edit,
                br#"{"prompt":"x","video":"v"}"#,
                "video",
            ),
            (FollowUpKind::Remix, br#"{"prompt":""}"#, "prompt"),
            (
                FollowUpKind::Remix,
                br#"{"prompt":"x","size":"1x1"}"#,
                "size",
            ),
        ] {
            let path = if kind == FollowUpKind::Remix {
                Some("v")
            } else {
                None
            };
            assert_eq!(
                FollowUp::parse(kind, body, path)
                    .unwrap_err()
                    .param
                    .as_deref(),
                Some(param)
            );
        }
        let cfg = crate::config::Config::parse(
            r#"{"model_groups":[{"name":"g","deployments":[
              {"id":"s","provider":"openai","model":"sora-2","credential":"K","api_base":"https://o"},
              {"id":"v","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K","api_base":"https://g"}]}]}"#,
        )
        .unwrap();
        let (sora, veo) = (
            &cfg.model_groups[0].deployments[0],
            &cfg.model_groups[0].deployments[1],
        );
        let source = VideoHandle {
            operation: "video_up".into(),
            seconds: 8,
            size: Size {
                width: 1280,
                height: 720,
            },
            count: 1,
        };
        let (call, seconds, _) = follow_up_request(sora, &remix, &source, &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), seconds),
            ("https://o/v1/videos/video_up/remix", 8)
        );
        let (call, seconds, _) = follow_up_request(sora, &ext, &source, &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), seconds),
            ("https://o/v1/videos/extensions", 12)
        );
        assert_eq!(
            follow_up_request(veo, &remix, &source, &[])
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedValue
        );
        let (call, _, _) = follow_up_request(veo, &ext, &source, &["f1".into()]).unwrap();
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["instances"][0]["video"]["uri"],
            "https://g/v1beta/files/f1:download?alt=media"
        );
    }

    #[test]
    fn creates_whose_outcome_is_unknown_are_not_5xx() {
        // No answer in time, or no connection: the job may exist.
        for code in [
            ErrorCode::UpstreamTimeout,
            ErrorCode::UpstreamNetwork,
            ErrorCode::BadUpstreamResponse,
        ] {
            let err = create_outcome_unknown(ClientError::from_code(code), false);
            assert_eq!(err.code, ErrorCode::CreateOutcomeUnknown);
            assert_eq!(err.status(), 424);
        }
        // Accepted upstream, then a gateway failure.
        let after = create_outcome_unknown(ClientError::from_code(ErrorCode::Internal), true);
        assert_eq!(after.code, ErrorCode::CreateOutcomeUnknown);
        // An error status proves the upstream did not take it; local errors are the caller's.
        for code in [
            ErrorCode::UpstreamUnavailable,
            ErrorCode::UpstreamRateLimited,
            ErrorCode::UnsupportedValue,
            ErrorCode::QuotaUnavailable,
        ] {
            assert_eq!(
                create_outcome_unknown(ClientError::from_code(code), false).code,
                code
            );
        }
    }

    #[test]
    fn a_handle_whose_name_starts_with_the_count_mark_round_trips() {
        // Found by fuzzing: without the mark written, `0x00 0x03 y` read back
        // as three videos of `y`.
        let h = VideoHandle {
            operation: String::from("\u{0}\u{3}y"),
            seconds: 8,
            size: Size {
                width: 1280,
                height: 720,
            },
            count: 1,
        };
        assert_eq!(VideoHandle::decode(&h.encode()), Some(h));
    }

    #[test]
    fn handle_round_trips() {
        let h = VideoHandle {
            operation: "models/veo-3.1-generate-preview/operations/vz341u0pmdlc".into(),
            seconds: 8,
            size: Size {
                width: 1280,
                height: 720,
            },
            count: 1,
        };
        let one = h.encode();
        assert_eq!(VideoHandle::decode(&one), Some(h.clone()));
        assert_eq!(VideoHandle::decode(b"abc"), None);
        // A job of several videos carries its count; one video encodes as
        // before, so ids sealed before counts existed still open as one.
        let four = VideoHandle {
            count: 4,
            ..h.clone()
        };
        let encoded = four.encode();
        assert_eq!(encoded.len(), one.len() + 2);
        assert_eq!(VideoHandle::decode(&encoded), Some(four));
        for bad in [
            &[0, 8, 5, 0, 2, 208, 0, 0, b'o'][..],
            &[0, 8, 5, 0, 2, 208, 0, 3],
        ] {
            assert_eq!(VideoHandle::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_job_costs_what_it_asks_for() {
        let cfg = crate::config::Config::parse(
            r#"{"model_groups":[{"name":"g","deployments":[
              {"id":"v","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K",
               "prices":{"video_per_second":0.5}}]}]}"#,
        )
        .unwrap();
        let dep = &cfg.model_groups[0].deployments[0];
        let hd = Size {
            width: 1280,
            height: 720,
        };
        let one = job_cost(dep, 8, hd, 1);
        let four = job_cost(dep, 8, hd, 4);
        assert_eq!(
            (one.videos, one.video_seconds, one.spend_micros),
            (1, 8, 4_000_000)
        );
        assert_eq!(
            (four.videos, four.video_seconds, four.spend_micros),
            (4, 32, 16_000_000)
        );
        assert_eq!((four.request, four.slot), (true, true));
    }

    #[test]
    fn file_tokens_name_a_video_and_an_index() {
        let id = crate::seal::Keys::derive(&[3u8; 32])
            .unwrap()
            .seal_id(&crate::seal::Sealed {
                purpose: crate::seal::Purpose::Video,
                owner: crate::seal::Owner::key([2; 16]),
                created_at_ms: 5,
                deployment: String::from("d"),
                payload: alloc::vec![0, 8, 5, 0, 2, 208, b'o'],
            })
            .unwrap();
        for index in [0, 3, 10] {
            let token = file_token(&id, index).unwrap();
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
            assert_eq!(open_file_token(&token), Some((id.clone(), index)));
            assert_eq!(
                file_ref_in_uri(&format!(
                    "http://h:1/gemini/v1beta/files/{token}:download?alt=media"
                )),
                Some((id.clone(), index))
            );
        }
        assert_eq!(file_token("not_a_video_id", 0), None);
        for bad in [
            "abc",
            "abc0",
            "abc0x",
            "files/ABC01",
            "files/abc01/x",
            "gs://b/files/o",
            "",
        ] {
            assert_eq!(file_ref_in_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn renders_the_openai_video_object() {
        let handle = VideoHandle {
            operation: "op".into(),
            seconds: 8,
            size: Size {
                width: 720,
                height: 1280,
            },
            count: 1,
        };
        let status = VideoStatus::InProgress { progress: None };
        let view = VideoView {
            id: "video_x",
            model: "veo",
            status: &status,
            created_at: 100,
            now: 130,
            prompt: Some("p"),
            handle: &handle,
            remixed_from: None,
        };
        let v = view.to_json();
        assert_eq!(v["status"], "in_progress");
        assert_eq!(v["progress"], 50);
        assert_eq!(v["seconds"], "8");
        assert_eq!(v["size"], "720x1280");
        assert_eq!(v["expires_at"], Value::Null);
        let failed = VideoStatus::Failed(ClientError::new(
            ErrorCode::ContentPolicyViolation,
            "blocked",
        ));
        let v = VideoView {
            status: &failed,
            ..view
        }
        .to_json();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"]["code"], "content_policy_violation");
    }

    #[test]
    fn edit_and_extension_forms_read_like_their_json() {
        let ext = FollowUp::from_form(
            FollowUpKind::Extend,
            &[
                ("prompt", "a bow"),
                ("seconds", "4"),
                ("video[id]", "video_abc"),
            ],
            false,
        )
        .unwrap();
        let json = FollowUp::parse(
            FollowUpKind::Extend,
            br#"{"prompt":"a bow","seconds":"4","video":{"id":"video_abc"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(ext, json);
        let edit = FollowUp::from_form(
            FollowUpKind::Edit,
            &[("video[id]", "video_abc"), ("prompt", "blue")],
            false,
        )
        .unwrap();
        assert_eq!((edit.source_id.as_str(), edit.seconds), ("video_abc", None));
        // The SDK's upload: refused, naming `video`.
        let err = FollowUp::from_form(FollowUpKind::Edit, &[("prompt", "blue")], true).unwrap_err();
        assert_eq!(
            (err.code, err.param.as_deref()),
            (ErrorCode::UnsupportedValue, Some("video"))
        );
        // A text `video`, a missing source, a field of the other kind, a
        // bad value: each named.
        for (kind, parts, param) in [
            (
                FollowUpKind::Edit,
                &[("prompt", "x"), ("video", "video_abc")][..],
                "video",
            ),
            (FollowUpKind::Edit, &[("prompt", "x")][..], "video[id]"),
            (
                FollowUpKind::Edit,
                &[("prompt", "x"), ("seconds", "4"), ("video[id]", "v")][..],
                "seconds",
            ),
            (
                FollowUpKind::Extend,
                &[("prompt", "x"), ("seconds", "soon"), ("video[id]", "v")][..],
                "seconds",
            ),
            (
                FollowUpKind::Extend,
                &[("prompt", " "), ("video[id]", "v")][..],
                "prompt",
            ),
        ] {
            let err = FollowUp::from_form(kind, parts, false).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{parts:?}: {err:?}");
        }
        assert_eq!(
            follow_up_form_parts(FollowUpKind::Extend),
            &["prompt", "seconds", "video[id]", "video"]
        );
    }

    #[test]
    fn upstream_text_in_successful_answers_is_redacted() {
        let key = "azure-0123456789abcdef";
        let redactor = Redactor::of([key]);
        let failed = VideoStatus::Failed(ClientError::new(
            ErrorCode::UpstreamBadRequest,
            format!("the request with key {key} was refused"),
        ));
        let VideoStatus::Failed(err) = failed.redacted(&redactor) else {
            panic!("still failed");
        };
        assert_eq!(err.message, "the request with key [redacted] was refused");
        assert_eq!(err.code, ErrorCode::UpstreamBadRequest);
        assert_eq!(
            VideoStatus::Completed.redacted(&redactor),
            VideoStatus::Completed
        );

        let bytes = format!("AAAA{key}");
        let mut view = serde_json::json!({
            "name": "models/veo/operations/video_x", "done": true,
            "error": {"code": 7, "message": format!("API key {key} not valid"),
                      "details": [{"reason": key}]},
            "response": {"videos": [{"bytesBase64Encoded": bytes}]},
        });
        redact_operation(&mut view, &redactor);
        assert_eq!(view["error"]["message"], "API key [redacted] not valid");
        assert_eq!(view["error"]["details"][0]["reason"], "[redacted]");
        assert_eq!(view["response"]["videos"][0]["bytesBase64Encoded"], bytes);
        assert_eq!(view["name"], "models/veo/operations/video_x");
    }
}

#[cfg(test)]
mod open_tests {
    use super::*;
    use crate::seal::{Keys, Owner, Purpose, Sealed};

    fn sealed_video(sealer: &Keys, owner: Owner) -> String {
        let handle = VideoHandle {
            operation: String::from("models/veo/operations/op1"),
            seconds: 8,
            size: Size {
                width: 1280,
                height: 720,
            },
            count: 1,
        };
        sealer
            .seal_id(&Sealed {
                purpose: Purpose::Video,
                owner,
                created_at_ms: 1,
                deployment: String::from("gemini-a"),
                payload: handle.encode(),
            })
            .unwrap()
    }

    #[test]
    fn only_the_owner_opens_a_video_and_every_refusal_looks_alike() {
        let sealer = Keys::derive(&[7u8; 32]).unwrap();
        let mine = Owner::of(&[1u8; 32], None);
        let theirs = Owner::of(&[2u8; 32], None);
        let id = sealed_video(&sealer, mine);
        let opened = open_video(&sealer, &id, &mine).unwrap();
        assert_eq!(opened.sealed.deployment, "gemini-a");
        assert_eq!(opened.handle.seconds, 8);

        let foreign = open_video(&sealer, &id, &theirs).unwrap_err();
        let mut tampered = id.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered =
            open_video(&sealer, core::str::from_utf8(&tampered).unwrap(), &mine).unwrap_err();
        let garbage = open_video(&sealer, "video_nope", &mine).unwrap_err();
        let character_id = sealer
            .seal_id(&Sealed {
                purpose: Purpose::Character,
                owner: mine,
                created_at_ms: 1,
                deployment: String::from("sora"),
                payload: b"char_1".to_vec(),
            })
            .unwrap();
        let other_purpose = open_video(&sealer, &character_id, &mine).unwrap_err();
        for (err, _) in [&foreign, &tampered, &garbage, &other_purpose] {
            assert_eq!(*err, video_not_found());
        }
        assert_eq!(foreign.1, "foreign");
    }

    #[test]
    fn a_visitors_video_opens_for_that_visitor_and_the_key_only() {
        let sealer = Keys::derive(&[7u8; 32]).unwrap();
        let key = Owner::of(&[1u8; 32], None);
        let alice = Owner::of(&[1u8; 32], Some(sealer.subject(&[1u8; 32], b"alice")));
        let bob = Owner::of(&[1u8; 32], Some(sealer.subject(&[1u8; 32], b"bob")));
        let id = sealed_video(&sealer, alice);
        assert_eq!(
            open_video(&sealer, &id, &alice).unwrap().sealed.owner,
            alice
        );
        assert!(open_video(&sealer, &id, &key).is_ok());
        let (err, why) = open_video(&sealer, &id, &bob).unwrap_err();
        assert_eq!((err, why), (video_not_found(), "foreign"));
        // The key's own videos are not its visitors'.
        let own = sealed_video(&sealer, key);
        assert!(open_video(&sealer, &own, &alice).is_err());
        assert!(open_video(&sealer, &own, &key).is_ok());
    }
}
