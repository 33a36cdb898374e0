//! What the Gemini API and Vertex AI share about Veo: the sizes it
//! renders, the typed `predictLongRunning` body ([`Request`]) built from an
//! OpenAI-shaped request or parsed from a Google-shaped one, and the typed
//! long-running operation ([`Operation`]) both answer with.
//!
//! [`super::gemini`] and [`super::vertex`] both import this module and
//! neither imports the other, so the two providers stay independent.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::{CreateVideo, Size};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode, UpstreamError};

/// Sizes Veo can render, as (size, aspectRatio, resolution).
pub const SIZES: &[(Size, &str, &str)] = &[
    (
        Size {
            width: 1280,
            height: 720,
        },
        "16:9",
        "720p",
    ),
    (
        Size {
            width: 720,
            height: 1280,
        },
        "9:16",
        "720p",
    ),
    (
        Size {
            width: 1920,
            height: 1080,
        },
        "16:9",
        "1080p",
    ),
    (
        Size {
            width: 1080,
            height: 1920,
        },
        "9:16",
        "1080p",
    ),
    (
        Size {
            width: 3840,
            height: 2160,
        },
        "16:9",
        "4k",
    ),
    (
        Size {
            width: 2160,
            height: 3840,
        },
        "9:16",
        "4k",
    ),
];

/// Veo's defaults when a request names no size or duration.
pub const DEFAULT_SIZE: Size = Size {
    width: 1280,
    height: 720,
};

/// What one Veo model accepts beyond the common parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Renders `resolution: "4k"` (3840x2160, 2160x3840).
    pub four_k: bool,
    /// Takes `instances[0].lastFrame` (first-and-last-frame interpolation).
    pub last_frame: bool,
    /// Most subject (`asset`) reference images; 0 when none are taken.
    pub max_asset_images: usize,
}

/// Models the gateway does not know (previews on the Gemini API): every
/// parameter goes through, and the upstream decides.
pub const OPEN_CAPABILITIES: Capabilities = Capabilities {
    four_k: true,
    last_frame: true,
    max_asset_images: 3,
};

/// Veo 3.1 on Vertex AI, per model id. 4k on the GA `-001` ids is not
/// confirmed by Google's pages (they say "preview models only"); the SDK
/// sends it and the gateway allows it on the two full models (Vertex
/// answers a model that cannot with a 400, relayed as `upstream_bad_request`).
/// Lite is listed with extension only: no 4k, no last frame, no references.
pub const CAPABILITIES: &[(&str, Capabilities)] = &[
    ("veo-3.1-generate-001", OPEN_CAPABILITIES),
    ("veo-3.1-fast-generate-001", OPEN_CAPABILITIES),
    (
        "veo-3.1-lite-generate-001",
        Capabilities {
            four_k: false,
            last_frame: false,
            max_asset_images: 0,
        },
    ),
];

/// The capabilities of upstream model `model`.
pub fn capabilities(model: &str) -> Capabilities {
    CAPABILITIES
        .iter()
        .find(|(id, _)| *id == model)
        .map_or(OPEN_CAPABILITIES, |(_, caps)| *caps)
}

/// `personGeneration` values passed through (Cloud pages say `disallow`,
/// the SDK `dont_allow`: both are kept as sent).
pub const PERSON_GENERATION: &[&str] = &["allow_all", "allow_adult", "dont_allow", "disallow"];

/// `referenceType` of a subject image (the SDK sends `ASSET`, Cloud's
/// REST examples `asset`); `style` was Veo 2 only (retired).
const ASSET: &str = "asset";

/// Checks what `model` cannot render: a 4k `resolution`, a last frame,
/// more subject images than it takes. `fields` names the request's fields
/// in the caller's dialect: (resolution, lastFrame, referenceImages).
fn check_capabilities(
    model: &str,
    resolution: Option<&str>,
    last_frame: bool,
    asset_images: usize,
    fields: (&str, &str, &str),
) -> Result<(), ClientError> {
    let caps = capabilities(model);
    let refuse = |param: &str, what: &str| {
        Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            format!("{model} does not support {what}"),
        )
        .with_param(param))
    };
    if resolution == Some("4k") && !caps.four_k {
        return refuse(fields.0, "4k output; use 720p or 1080p");
    }
    if last_frame && !caps.last_frame {
        return refuse(fields.1, "a last frame");
    }
    if asset_images > caps.max_asset_images {
        return if caps.max_asset_images == 0 {
            refuse(fields.2, "reference images")
        } else {
            refuse(
                fields.2,
                &format!("more than {} reference images", caps.max_asset_images),
            )
        };
    }
    Ok(())
}

/// A `predictLongRunning` body, as reelay sends it and as it accepts it
/// from Google-shaped clients. Unknown and duplicate fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request<'a> {
    /// Exactly what to generate (reelay reads and sends the first one).
    pub instances: Vec<Instance<'a>>,
    /// Generation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters<'a>>,
}

/// One `instances[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instance<'a> {
    /// The text prompt (may be absent for image-to-video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Cow<'a, str>>,
    /// First frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image<'a>>,
    /// Last frame (interpolation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame: Option<Image<'a>>,
    /// A video to extend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoInput<'a>>,
    /// Reference images (asset or style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_images: Option<Vec<ReferenceImage<'a>>>,
    /// `config`, which some hand-written clients put here and the Veo API
    /// ignores: accepted, never sent upstream.
    #[serde(default, skip_serializing)]
    pub config: Option<IgnoredAny>,
}

/// An image given inline (`bytesBase64Encoded`) or by Cloud Storage URI (Vertex).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image<'a> {
    /// Standard base64 of the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_base64_encoded: Option<Cow<'a, str>>,
    /// `gs://bucket/object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_uri: Option<Cow<'a, str>>,
    /// `image/png`, `image/jpeg`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Cow<'a, str>>,
}

/// A video input (the source of an extension).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VideoInput<'a> {
    /// A Gemini file URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<Cow<'a, str>>,
    /// `gs://bucket/object` (Vertex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_uri: Option<Cow<'a, str>>,
    /// Inline bytes, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_base64_encoded: Option<Cow<'a, str>>,
    /// `video/mp4`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Cow<'a, str>>,
}

/// A `referenceImages[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceImage<'a> {
    /// The image.
    pub image: Image<'a>,
    /// `asset` or `style`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_type: Option<Cow<'a, str>>,
}

/// `parameters`: every setting Veo documents on either API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parameters<'a> {
    /// Length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// `16:9` or `9:16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<Cow<'a, str>>,
    /// `720p`, `1080p` or `4k`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Cow<'a, str>>,
    /// What the video should not contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<Cow<'a, str>>,
    /// `allow_all`, `allow_adult` or `dont_allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_generation: Option<Cow<'a, str>>,
    /// Deterministic seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Number of videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<u32>,
    /// Let the model rewrite the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhance_prompt: Option<bool>,
    /// Generate sound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_audio: Option<bool>,
    /// Where Vertex writes the videos (`gs://bucket/prefix/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_uri: Option<Cow<'a, str>>,
    /// Frames per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    /// `optimized` or `lossless`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_quality: Option<Cow<'a, str>>,
    /// How an input image is fitted (`pad`, `crop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_mode: Option<Cow<'a, str>>,
}

/// A Google long-running operation whose result is `R` (the two APIs put
/// their videos in differently shaped results). Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Operation<R> {
    /// `models/…/operations/…` or `projects/…/operations/…`.
    #[serde(default)]
    pub name: Option<String>,
    /// Finished?
    #[serde(default)]
    pub done: bool,
    /// The result, once done without error.
    #[serde(default = "none")]
    pub response: Option<R>,
    /// The failure, once done with one.
    #[serde(default)]
    pub error: Option<Status>,
}

fn none<R>() -> Option<R> {
    None
}

/// A `google.rpc.Status`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Status {
    /// gRPC code (2, UNKNOWN, when absent).
    #[serde(default = "unknown_code")]
    pub code: i64,
    /// Google's message.
    #[serde(default)]
    pub message: Option<String>,
}

const fn unknown_code() -> i64 {
    2
}

/// What both APIs say about safety-filtered videos.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiFilter {
    /// How many videos the filter removed.
    #[serde(default)]
    pub rai_media_filtered_count: u32,
    /// Google's reason texts.
    #[serde(default)]
    pub rai_media_filtered_reasons: Vec<String>,
}

impl RaiFilter {
    /// Safety-filtered videos as the content-policy failure they are,
    /// with Google's reason text; `None` when nothing was filtered.
    pub fn failure(&self) -> Option<UpstreamError> {
        if self.rai_media_filtered_count == 0 {
            return None;
        }
        let message = if self.rai_media_filtered_reasons.is_empty() {
            String::from("the provider's safety filter blocked the generated video")
        } else {
            self.rai_media_filtered_reasons.join(" ")
        };
        Some(UpstreamError {
            kind: crate::errors::ErrorKind::ContentPolicy,
            retry: crate::errors::Retry::Never,
            scope: crate::errors::Scope::Request,
            status: None,
            upstream_code: Some(String::from("RAI_MEDIA_FILTERED")),
            message,
        })
    }
}

/// Reads an operation of either API.
pub fn read_operation<R: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<Operation<R>, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| {
        super::upstream_garbage(&if e.is_data() {
            format!("{what} answered with an unreadable operation: {e}")
        } else {
            format!("{what} answered with a non-JSON body")
        })
    })
}

/// The state of an operation that is not done yet or ended in `error`;
/// `None` once it is done without one (the caller reads the result).
pub(crate) fn lro_state<R>(operation: &Operation<R>) -> Option<super::Operation> {
    if !operation.done {
        return Some(super::Operation::Running { progress: None });
    }
    let err = operation.error.as_ref()?;
    let message = err
        .message
        .as_deref()
        .unwrap_or("the video operation failed");
    Some(super::Operation::Failed(
        crate::errors::classify_operation_error(err.code, message),
    ))
}

/// The body for `req` (borrowing its prompt and image, nothing copied),
/// with the duration and size it asks for.
pub fn request<'a>(
    req: &'a CreateVideo,
    dep: &Deployment,
) -> Result<(Request<'a>, u32, Size), ClientError> {
    let mut parameters = Parameters {
        sample_count: Some(1),
        ..Parameters::default()
    };
    let seconds = match req.seconds {
        Some(s) if dep.video_seconds.contains(&s) => {
            parameters.duration_seconds = Some(s);
            s
        }
        Some(s) => {
            let allowed: Vec<String> = dep
                .video_seconds
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect();
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!(
                    "`seconds` {s} is not available for this model; choose one of {}",
                    allowed.join(", ")
                ),
            )
            .with_param("seconds"));
        }
        None => default_seconds(dep),
    };
    let size = match req.size {
        Some(size) => {
            let Some((_, aspect, resolution)) = SIZES.iter().find(|(s, _, _)| *s == size) else {
                let allowed: Vec<String> = SIZES.iter().map(|(s, _, _)| s.to_wire()).collect();
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!(
                        "`size` {} cannot be rendered by Veo; choose one of {}",
                        size.to_wire(),
                        allowed.join(", ")
                    ),
                )
                .with_param("size"));
            };
            parameters.aspect_ratio = Some(Cow::Borrowed(aspect));
            parameters.resolution = Some(Cow::Borrowed(resolution));
            size
        }
        None => DEFAULT_SIZE,
    };
    if req.last_frame.is_some() && req.input_reference.is_none() {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "`last_frame` needs the first frame too: send `input_reference`",
        )
        .with_param("last_frame"));
    }
    check_capabilities(
        &dep.model,
        parameters.resolution.as_deref(),
        req.last_frame.is_some(),
        req.reference_images.len(),
        ("size", "last_frame", "reference_images"),
    )?;
    parameters.negative_prompt = req.negative_prompt.as_deref().map(Cow::Borrowed);
    parameters.person_generation = req.person_generation.as_deref().map(Cow::Borrowed);
    parameters.seed = req.seed;
    parameters.generate_audio = req.generate_audio;
    let image = |image: &'a super::ImageInput| Image {
        bytes_base64_encoded: Some(Cow::Borrowed(&image.base64)),
        gcs_uri: None,
        mime_type: Some(Cow::Borrowed(image.mime_type)),
    };
    let instance = Instance {
        prompt: Some(Cow::Borrowed(&req.prompt)),
        image: req.input_reference.as_ref().map(image),
        last_frame: req.last_frame.as_ref().map(image),
        reference_images: (!req.reference_images.is_empty()).then(|| {
            req.reference_images
                .iter()
                .map(|reference| ReferenceImage {
                    image: image(reference),
                    reference_type: Some(Cow::Borrowed(ASSET)),
                })
                .collect()
        }),
        ..Instance::default()
    };
    let body = Request {
        instances: vec![instance],
        parameters: Some(parameters),
    };
    Ok((body, seconds, size))
}

/// The extension of a finished video, given by its URI (a Gemini file).
pub fn extend<'a>(
    dep: &Deployment,
    prompt: &'a str,
    seconds: Option<u32>,
    video_uri: String,
) -> Result<Request<'a>, ClientError> {
    if let Some(seconds) = seconds {
        if !dep.video_seconds.contains(&seconds) {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("`seconds` {seconds} is not available for this model"),
            )
            .with_param("seconds"));
        }
    }
    Ok(Request {
        instances: vec![Instance {
            prompt: Some(Cow::Borrowed(prompt)),
            video: Some(VideoInput {
                uri: Some(Cow::Owned(video_uri)),
                ..VideoInput::default()
            }),
            ..Instance::default()
        }],
        parameters: Some(Parameters {
            sample_count: Some(1),
            duration_seconds: seconds,
            ..Parameters::default()
        }),
    })
}

/// The longest duration `dep` renders (Veo's default), or 8.
fn default_seconds(dep: &Deployment) -> u32 {
    dep.video_seconds.iter().copied().max().unwrap_or(8)
}

/// Most videos one request may ask for (`parameters.sampleCount`): Veo
/// 3.1 on Vertex AI takes 1 to 4.
pub const MAX_SAMPLES: u32 = 4;

/// A Google-shaped body, parsed and checked for everything that does not
/// depend on the deployment ([`parse_native`]); [`Native::check_for`]
/// checks the rest for a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Native {
    /// What goes upstream (serialized from this value, never the client's
    /// bytes), with `parameters.sampleCount` always set.
    pub request: Request<'static>,
    /// `instances[0].prompt` (empty for image-only requests).
    pub prompt: String,
    /// `parameters.sampleCount`, 1 when absent: the videos charged for.
    pub count: u32,
    /// The gateway video named as `instances[0].video`, to be opened for
    /// the caller and replaced by its upstream file.
    pub source: Option<super::FileRef>,
}

/// Parses a Google-shaped `predictLongRunning` body with errors Google's
/// clients can read: invalid JSON, unknown or duplicate fields and wrong
/// types are a 400 naming the field; more than one instance or a
/// `sampleCount` outside 1..=[`MAX_SAMPLES`] a 400 `invalid_request`.
///
/// Storage is the gateway's: `parameters.storageUri` and every `gcsUri` or
/// `uri` input are a 400 `storage_not_allowed`, except a URI naming one of
/// the gateway's own generated files (`…/files/{token}…`, as the gateway
/// hands them out) as `instances[0].video`, which becomes [`Native::source`].
pub fn parse_native(body: &[u8]) -> Result<Native, ClientError> {
    let mut request: Request<'static> = serde_json::from_slice(body).map_err(|e| {
        let err = native_error(e);
        match (err.param.is_none(), mistyped_parameter(body)) {
            (true, Some(param)) => err.with_param(param),
            _ => err,
        }
    })?;
    let instance = match request.instances.as_slice() {
        [instance] => instance,
        [] => {
            return Err(native_invalid(
                "instances",
                "`instances` must be a non-empty array of objects",
            ))
        }
        _ => {
            return Err(native_invalid(
                "instances",
                "`instances` must hold exactly one instance; ask for several videos with `parameters.sampleCount`",
            ))
        }
    };
    let prompt = match (&instance.prompt, &instance.image) {
        (Some(p), _) => String::from(p.as_ref()),
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(native_invalid(
                "instances[0].prompt",
                "`instances[0].prompt` must be a string",
            ))
        }
    };
    refuse_image_storage(instance.image.as_ref(), "instances[0].image")?;
    refuse_image_storage(instance.last_frame.as_ref(), "instances[0].lastFrame")?;
    for (i, reference) in instance.reference_images.iter().flatten().enumerate() {
        refuse_image_storage(
            Some(&reference.image),
            &format!("instances[0].referenceImages[{i}].image"),
        )?;
    }
    check_native_instance(instance)?;
    let source = match &instance.video {
        Some(video) => video_source(video)?,
        None => None,
    };
    let params = request.parameters.get_or_insert_with(Parameters::default);
    check_native_parameters(params)?;
    if params.storage_uri.is_some() {
        return Err(storage_not_allowed(
            "parameters.storageUri",
            "`parameters.storageUri` is not accepted: the gateway's deployment decides where videos are written, and the gateway serves them back to their owner",
        ));
    }
    let count = match params.sample_count {
        None => 1,
        Some(n) if (1..=MAX_SAMPLES).contains(&n) => n,
        Some(n) => {
            return Err(native_invalid(
                "parameters.sampleCount",
                &format!("`parameters.sampleCount` must be between 1 and {MAX_SAMPLES}, got {n}"),
            ))
        }
    };
    // Sent explicitly, so the upstream makes exactly what is charged.
    params.sample_count = Some(count);
    Ok(Native {
        request,
        prompt,
        count,
        source,
    })
}

impl Native {
    /// Checks the body for `dep`: the duration it can render and the size
    /// (`aspectRatio` + `resolution`); returns them as sealed into the id.
    /// Values the deployment cannot render are a 400 `unsupported_value`.
    pub fn check_for(&self, dep: &Deployment) -> Result<(u32, Size), ClientError> {
        let params = self.request.parameters.as_ref();
        if let Some(instance) = self.request.instances.first() {
            check_capabilities(
                &dep.model,
                params.and_then(|p| p.resolution.as_deref()),
                instance.last_frame.is_some(),
                instance.reference_images.as_ref().map_or(0, Vec::len),
                (
                    "parameters.resolution",
                    "instances[0].lastFrame",
                    "instances[0].referenceImages",
                ),
            )?;
        }
        let seconds = match params.and_then(|p| p.duration_seconds) {
            None => default_seconds(dep),
            Some(s) if dep.video_seconds.contains(&s) => s,
            Some(_) => {
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
        };
        let aspect = params
            .and_then(|p| p.aspect_ratio.as_deref())
            .unwrap_or("16:9");
        let resolution = params
            .and_then(|p| p.resolution.as_deref())
            .unwrap_or("720p");
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
        Ok((seconds, size))
    }
}

/// `instances[0]` rules that hold for every model: a last frame needs a
/// first one, at most 3 reference images, each a subject (`asset`) image.
fn check_native_instance(instance: &Instance<'_>) -> Result<(), ClientError> {
    if instance.last_frame.is_some() && instance.image.is_none() {
        return Err(native_invalid(
            "instances[0].lastFrame",
            "`instances[0].lastFrame` needs the first frame too: send `instances[0].image`",
        ));
    }
    let references = instance.reference_images.as_deref().unwrap_or_default();
    if references.len() > super::MAX_REFERENCE_IMAGES {
        return Err(native_invalid(
            "instances[0].referenceImages",
            &format!(
                "`instances[0].referenceImages` holds at most {} images",
                super::MAX_REFERENCE_IMAGES
            ),
        ));
    }
    for (i, reference) in references.iter().enumerate() {
        match reference.reference_type.as_deref() {
            Some(kind) if kind.eq_ignore_ascii_case(ASSET) => {}
            other => {
                return Err(ClientError::new(
                    ErrorCode::UnsupportedValue,
                    format!("`instances[0].referenceImages[{i}].referenceType` must be \"asset\" (Veo 3.1 takes subject images; style images were Veo 2 only), got {other:?}"),
                )
                .with_param(format!("instances[0].referenceImages[{i}].referenceType")))
            }
        }
    }
    Ok(())
}

/// `parameters` values every Veo 3.1 model must see in their documented
/// sets (checked here so the answer names the field).
fn check_native_parameters(params: &Parameters<'_>) -> Result<(), ClientError> {
    let one_of = |name: &str, value: Option<&str>, allowed: &[&str], exact: bool| match value {
        Some(v)
            if !allowed.iter().any(|a| {
                if exact {
                    *a == v
                } else {
                    a.eq_ignore_ascii_case(v)
                }
            }) =>
        {
            Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!(
                    "`parameters.{name}` must be one of {}; got {v:?}",
                    allowed.join(", ")
                ),
            )
            .with_param(format!("parameters.{name}")))
        }
        _ => Ok(()),
    };
    one_of(
        "resolution",
        params.resolution.as_deref(),
        &["720p", "1080p", "4k"],
        true,
    )?;
    one_of(
        "personGeneration",
        params.person_generation.as_deref(),
        PERSON_GENERATION,
        true,
    )?;
    one_of(
        "compressionQuality",
        params.compression_quality.as_deref(),
        &["OPTIMIZED", "LOSSLESS"],
        false,
    )?;
    one_of(
        "resizeMode",
        params.resize_mode.as_deref(),
        &["CROP", "PAD"],
        false,
    )
}

/// Images are sent as bytes: a Cloud Storage image would be read with the
/// gateway's service account.
fn refuse_image_storage(image: Option<&Image<'_>>, field: &str) -> Result<(), ClientError> {
    match image {
        Some(image) if image.gcs_uri.is_some() => Err(storage_not_allowed(
            &format!("{field}.gcsUri"),
            &format!("`{field}.gcsUri` is not accepted: the gateway does not read Cloud Storage for clients; send the image as `bytesBase64Encoded`"),
        )),
        _ => Ok(()),
    }
}

/// A video input is bytes, or one of the gateway's generated files by the
/// URI the gateway handed out (in `uri`, or in `gcsUri` where google-genai
/// puts a video's URI in Vertex mode); any other URI is refused.
fn video_source(video: &VideoInput<'_>) -> Result<Option<super::FileRef>, ClientError> {
    let given = [
        ("instances[0].video.uri", video.uri.as_deref()),
        ("instances[0].video.gcsUri", video.gcs_uri.as_deref()),
        (
            "instances[0].video.bytesBase64Encoded",
            video.bytes_base64_encoded.as_deref(),
        ),
    ];
    let mut set = given.iter().filter(|(_, value)| value.is_some());
    let (Some((field, value)), None) = (set.next(), set.next()) else {
        return Err(native_invalid(
            "instances[0].video",
            "`instances[0].video` must have exactly one of `uri`, `gcsUri` or `bytesBase64Encoded`",
        ));
    };
    if field.ends_with("bytesBase64Encoded") {
        return Ok(None);
    }
    let uri = value.unwrap_or_default();
    let (video_id, index) = super::file_ref_in_uri(uri).ok_or_else(|| {
        storage_not_allowed(
            field,
            &format!("`{field}` must be the URI of one of your videos on this gateway (as it returned it) or the bytes; other files and Cloud Storage are not accepted"),
        )
    })?;
    Ok(Some(super::FileRef {
        video_id,
        index,
        param: String::from(*field),
    }))
}

/// The refusal of a storage location or file the gateway did not issue.
pub fn storage_not_allowed(param: &str, message: &str) -> ClientError {
    ClientError::new(ErrorCode::StorageNotAllowed, message).with_param(param)
}

/// serde's error on a Google-shaped body, as a 400: syntax errors are
/// `invalid_json`; unknown, duplicate or mistyped fields `invalid_request`
/// with the field serde names as `param`.
fn native_error(e: serde_json::Error) -> ClientError {
    if !e.is_data() {
        return ClientError::new(
            ErrorCode::InvalidJson,
            format!("Invalid JSON payload received. {e}"),
        );
    }
    let text = format!("{e}");
    let err = ClientError::new(
        ErrorCode::InvalidRequest,
        format!("Invalid JSON payload received. {text}"),
    );
    // "unknown field `x`, …" / "duplicate field `x`" / "missing field `x`".
    let field = ["unknown field `", "duplicate field `", "missing field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match field {
        Some(name) => err.with_param(name),
        None => err,
    }
}

/// The `parameters.*` field holding a value of the wrong type or range
/// (serde names no field for those): `parameters.seed` for `-1`, …
fn mistyped_parameter(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let params = value.get("parameters")?.as_object()?;
    let u32_field = |v: &serde_json::Value| v.as_u64().is_some_and(|n| u32::try_from(n).is_ok());
    params
        .iter()
        .find(|(name, v)| match name.as_str() {
            "durationSeconds" | "seed" | "sampleCount" | "fps" => !u32_field(v),
            "enhancePrompt" | "generateAudio" => !v.is_boolean(),
            _ => !v.is_string(),
        })
        .map(|(name, _)| format!("parameters.{name}"))
}

fn native_invalid(param: &str, message: &str) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

/// Veo renders only the video itself.
pub(crate) fn check_variant(variant: super::Variant) -> Result<(), ClientError> {
    match variant {
        super::Variant::Video => Ok(()),
        super::Variant::Thumbnail | super::Variant::Spritesheet => Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            "Veo produces only the video itself; `variant` thumbnail and spritesheet are not available for this video",
        )
        .with_param("variant")),
    }
}

/// Veo has no remix or edit.
pub(crate) fn no_remix() -> ClientError {
    ClientError::new(
        ErrorCode::UnsupportedValue,
        "Veo cannot remix or edit an existing video; create a new one, or extend this one with POST /v1/videos/extensions",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn dep() -> Deployment {
        Config::parse(
            r#"{"model_groups":[{"name":"veo","deployments":[{"id":"g","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K","api_base":"http://127.0.0.1:9"}]}]}"#,
        )
        .unwrap()
        .model_groups[0]
            .deployments[0]
            .clone()
    }

    fn refused(body: &str) -> ClientError {
        parse_native(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        for (body, field) in [
            (r#"{"instances":[{"prompt":"x"}],"extra":1}"#, "extra"),
            (r#"{"instances":[{"prompt":"x","colour":"red"}]}"#, "colour"),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"numberOfVideos":2}}"#,
                "numberOfVideos",
            ),
            (
                r#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA","url":"u"}}]}"#,
                "url",
            ),
        ] {
            let err = refused(body);
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{body}");
            assert_eq!(err.param.as_deref(), Some(field), "{body}");
            assert!(err.message.contains(field), "{}", err.message);
        }
    }

    #[test]
    fn duplicate_fields_are_refused_by_name() {
        for (body, field) in [
            (
                r#"{"instances":[{"prompt":"a cat","prompt":"a dog"}]}"#,
                "prompt",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"seed":1,"seed":2}}"#,
                "seed",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"instances":[{"prompt":"y"}]}"#,
                "instances",
            ),
        ] {
            let err = refused(body);
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{body}");
            assert_eq!(err.param.as_deref(), Some(field), "{body}");
            assert!(err.message.contains("duplicate field"), "{}", err.message);
        }
    }

    #[test]
    fn mistyped_values_and_bad_json_are_distinguished() {
        assert_eq!(refused("{").code, ErrorCode::InvalidJson);
        assert_eq!(
            refused(r#"{"instances":[{"prompt":"x"}],"parameters":{"seed":"one"}}"#).code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            refused(r#"{"instances":[{}]}"#).param.as_deref(),
            Some("instances[0].prompt")
        );
    }

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        // serde's derived structs refuse a repeated key wherever it is, so
        // no second value can hide behind the checked one.
        for (body, field) in [
            (
                r#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA","bytesBase64Encoded":"BB"}}]}"#,
                "bytesBase64Encoded",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":1,"sampleCount":4}}"#,
                "sampleCount",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"storageUri":"gs://a/","storageUri":"gs://b/"}}"#,
                "storageUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"},"referenceType":"asset","referenceType":"style"}]}]}"#,
                "referenceType",
            ),
            (
                r#"{"instances":[{"prompt":"x","video":{"uri":"files/a","uri":"files/b"}}]}"#,
                "uri",
            ),
            (
                r#"{"parameters":{},"instances":[{"prompt":"x"}],"parameters":{}}"#,
                "parameters",
            ),
        ] {
            let err = refused(body);
            assert_eq!(
                (err.code, err.param.as_deref()),
                (ErrorCode::InvalidRequest, Some(field)),
                "{body}"
            );
            assert!(err.message.contains("duplicate field"), "{}", err.message);
        }
    }

    #[test]
    fn what_is_sent_is_what_was_checked() {
        // The seed client's ignored `config` is accepted and never sent;
        // everything else is serialized from the checked value, with the
        // sample count charged for made explicit.
        let body = r#"{"instances":[{"prompt":"a lighthouse","config":{"duration":"8s"}}],"parameters":{"durationSeconds":6}}"#;
        let native = parse_native(body.as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_string(&native.request).unwrap(),
            r#"{"instances":[{"prompt":"a lighthouse"}],"parameters":{"durationSeconds":6,"sampleCount":1}}"#
        );
        assert_eq!(
            (
                native.prompt.as_str(),
                native.count,
                native.check_for(&dep()).unwrap().0
            ),
            ("a lighthouse", 1, 6)
        );
    }

    #[test]
    fn sample_counts_are_bounded_and_kept() {
        for n in 1..=MAX_SAMPLES {
            let body = std::format!(
                r#"{{"instances":[{{"prompt":"x"}}],"parameters":{{"sampleCount":{n}}}}}"#
            );
            assert_eq!(parse_native(body.as_bytes()).unwrap().count, n);
        }
        for bad in ["0", "5", "100"] {
            let err = refused(&std::format!(
                r#"{{"instances":[{{"prompt":"x"}}],"parameters":{{"sampleCount":{bad}}}}}"#
            ));
            assert_eq!(
                (err.code, err.param.as_deref()),
                (ErrorCode::InvalidRequest, Some("parameters.sampleCount")),
                "{bad}"
            );
        }
        let err = refused(r#"{"instances":[{"prompt":"x"},{"prompt":"y"}]}"#);
        assert_eq!(
            (err.code, err.param.as_deref()),
            (ErrorCode::InvalidRequest, Some("instances"))
        );
    }

    #[test]
    fn client_storage_is_refused_by_field() {
        for (body, field) in [
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"storageUri":"gs://theirs/out/"}}"#,
                "parameters.storageUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","image":{"gcsUri":"gs://b/i.png","mimeType":"image/png"}}]}"#,
                "instances[0].image.gcsUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","lastFrame":{"gcsUri":"gs://b/l.png"}}]}"#,
                "instances[0].lastFrame.gcsUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"}},{"image":{"gcsUri":"gs://b/r.png"}}]}]}"#,
                "instances[0].referenceImages[1].image.gcsUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","video":{"gcsUri":"gs://b/v.mp4"}}]}"#,
                "instances[0].video.gcsUri",
            ),
            (
                r#"{"instances":[{"prompt":"x","video":{"uri":"https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"}}]}"#,
                "instances[0].video.uri",
            ),
            (
                r#"{"instances":[{"prompt":"x","video":{"uri":"files/notasealedtoken"}}]}"#,
                "instances[0].video.uri",
            ),
        ] {
            let err = refused(body);
            assert_eq!(
                (err.code, err.param.as_deref()),
                (ErrorCode::StorageNotAllowed, Some(field)),
                "{body}"
            );
        }
        let err = refused(
            r#"{"instances":[{"prompt":"x","video":{"uri":"files/a","bytesBase64Encoded":"AA"}}]}"#,
        );
        assert_eq!(err.param.as_deref(), Some("instances[0].video"));
        // Inline bytes are the caller's own.
        let native = parse_native(
            br#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA","mimeType":"image/png"},"video":{"bytesBase64Encoded":"AA"}}]}"#,
        )
        .unwrap();
        assert_eq!(native.source, None);
    }

    #[test]
    fn gateway_file_uris_name_their_video() {
        let id = crate::seal::Keys::derive(&[9u8; 32])
            .unwrap()
            .seal_id(&crate::seal::Sealed {
                purpose: crate::seal::Purpose::Video,
                owner: crate::seal::Owner::key([1; 16]),
                created_at_ms: 1,
                deployment: String::from("g"),
                payload: alloc::vec![0, 8, 5, 0, 2, 208, b'o'],
            })
            .unwrap();
        let token = super::super::file_token(&id, 2).unwrap();
        for (field, uri) in [
            (
                "uri",
                std::format!("https://gw.example/gemini/v1beta/files/{token}:download?alt=media"),
            ),
            (
                "uri",
                std::format!("http://127.0.0.1:8787/gemini/v1alpha/files/{token}"),
            ),
            ("gcsUri", std::format!("files/{token}")),
        ] {
            let body = std::format!(
                r#"{{"instances":[{{"prompt":"more","video":{{"{field}":"{uri}"}}}}]}}"#
            );
            let source = parse_native(body.as_bytes()).unwrap().source.unwrap();
            assert_eq!(
                (source.video_id.as_str(), source.index),
                (id.as_str(), 2),
                "{uri}"
            );
            assert_eq!(source.param, std::format!("instances[0].video.{field}"));
        }
    }

    #[test]
    fn the_openai_body_borrows_the_image() {
        let mut req = CreateVideo::parse_json(br#"{"prompt":"x"}"#).unwrap();
        req.input_reference = Some(super::super::ImageInput {
            mime_type: "image/png",
            base64: String::from("iVBORw0KGgo="),
        });
        let (body, _, _) = request(&req, &dep()).unwrap();
        let image = body.instances[0].image.as_ref().unwrap();
        assert!(matches!(
            image.bytes_base64_encoded,
            Some(Cow::Borrowed(b)) if core::ptr::eq(b, req.input_reference.as_ref().unwrap().base64.as_str())
        ));
    }

    fn vertex(model: &str) -> Deployment {
        Config::parse(&std::format!(
            r#"{{"model_groups":[{{"name":"v","deployments":[{{"id":"v","provider":"vertex_ai","model":"{model}","credential":"SA","project":"p"}}]}}]}}"#
        ))
        .unwrap()
        .model_groups[0]
            .deployments[0]
            .clone()
    }

    const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==";

    #[test]
    fn every_ga_parameter_maps_from_the_openai_fields() {
        let body = std::format!(
            r#"{{"prompt":"a fox","seconds":"6","size":"2160x3840","negative_prompt":"blur","seed":42,
                "person_generation":"allow_adult","generate_audio":false,
                "input_reference":{{"image_url":"{PNG}"}},"last_frame":{{"image_url":"{PNG}"}},
                "reference_images":[{{"image_url":"{PNG}"}},{{"image_url":"{PNG}"}}]}}"#
        );
        let req = CreateVideo::parse_json(body.as_bytes()).unwrap();
        let (body, seconds, size) = request(&req, &vertex("veo-3.1-generate-001")).unwrap();
        assert_eq!((seconds, size.to_wire()), (6, String::from("2160x3840")));
        let json: serde_json::Value = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json["parameters"],
            serde_json::json!({"durationSeconds":6,"aspectRatio":"9:16","resolution":"4k",
                "negativePrompt":"blur","personGeneration":"allow_adult","seed":42,
                "sampleCount":1,"generateAudio":false})
        );
        let instance = &json["instances"][0];
        assert_eq!(instance["lastFrame"]["mimeType"], "image/png");
        assert_eq!(instance["referenceImages"].as_array().unwrap().len(), 2);
        assert_eq!(instance["referenceImages"][1]["referenceType"], "asset");
    }

    #[test]
    fn openai_fields_a_model_cannot_take_are_refused_by_name() {
        let one = |body: &str, model: &str| {
            let req = CreateVideo::parse_json(body.as_bytes())?;
            request(&req, &vertex(model)).map(|_| ())
        };
        let input = std::format!(r#""input_reference":{{"image_url":"{PNG}"}}"#);
        for (body, model, code, param) in [
            (
                String::from(r#"{"prompt":"x","size":"3840x2160"}"#),
                "veo-3.1-lite-generate-001",
                ErrorCode::UnsupportedValue,
                "size",
            ),
            (
                std::format!(r#"{{"prompt":"x",{input},"last_frame":{{"image_url":"{PNG}"}}}}"#),
                "veo-3.1-lite-generate-001",
                ErrorCode::UnsupportedValue,
                "last_frame",
            ),
            (
                std::format!(r#"{{"prompt":"x","last_frame":{{"image_url":"{PNG}"}}}}"#),
                "veo-3.1-generate-001",
                ErrorCode::InvalidRequest,
                "last_frame",
            ),
            (
                std::format!(r#"{{"prompt":"x","reference_images":[{{"image_url":"{PNG}"}}]}}"#),
                "veo-3.1-lite-generate-001",
                ErrorCode::UnsupportedValue,
                "reference_images",
            ),
            (
                std::format!(
                    r#"{{"prompt":"x","reference_images":[{{"image_url":"{PNG}"}},{{"image_url":"{PNG}"}},{{"image_url":"{PNG}"}},{{"image_url":"{PNG}"}}]}}"#
                ),
                "veo-3.1-generate-001",
                ErrorCode::InvalidRequest,
                "reference_images",
            ),
            (
                String::from(
                    r#"{"prompt":"x","reference_images":[{"image_url":"https://x/y.png"}]}"#,
                ),
                "veo-3.1-generate-001",
                ErrorCode::UnsupportedValue,
                "reference_images[0]",
            ),
            (
                String::from(r#"{"prompt":"x","generate_audio":"yes"}"#),
                "veo-3.1-generate-001",
                ErrorCode::InvalidRequest,
                "generate_audio",
            ),
            (
                String::from(r#"{"prompt":"x","seed":-1}"#),
                "veo-3.1-generate-001",
                ErrorCode::InvalidRequest,
                "seed",
            ),
        ] {
            let err = one(&body, model).unwrap_err();
            assert_eq!(
                (err.code, err.param.as_deref()),
                (code, Some(param)),
                "{body}"
            );
        }
        // 4k on the full GA models (unconfirmed upstream, allowed here).
        for model in ["veo-3.1-generate-001", "veo-3.1-fast-generate-001"] {
            one(r#"{"prompt":"x","size":"3840x2160"}"#, model).unwrap();
        }
    }

    #[test]
    fn native_ga_parameters_are_checked_by_field() {
        for (body, code, param) in [
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"resolution":"8k"}}"#,
                ErrorCode::UnsupportedValue,
                "parameters.resolution",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"personGeneration":"everyone"}}"#,
                ErrorCode::UnsupportedValue,
                "parameters.personGeneration",
            ),
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"compressionQuality":"tiny"}}"#,
                ErrorCode::UnsupportedValue,
                "parameters.compressionQuality",
            ),
            (
                r#"{"instances":[{"prompt":"x","lastFrame":{"bytesBase64Encoded":"AA"}}]}"#,
                ErrorCode::InvalidRequest,
                "instances[0].lastFrame",
            ),
            (
                r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"},"referenceType":"style"}]}]}"#,
                ErrorCode::UnsupportedValue,
                "instances[0].referenceImages[0].referenceType",
            ),
            (
                r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"}},{"image":{"bytesBase64Encoded":"AA"}},{"image":{"bytesBase64Encoded":"AA"}},{"image":{"bytesBase64Encoded":"AA"}}]}]}"#,
                ErrorCode::InvalidRequest,
                "instances[0].referenceImages",
            ),
        ] {
            let err = refused(body);
            assert_eq!(
                (err.code, err.param.as_deref()),
                (code, Some(param)),
                "{body}"
            );
        }
        // Per model: 4k, last frame and references on lite.
        let lite = vertex("veo-3.1-lite-generate-001");
        for (body, param) in [
            (
                r#"{"instances":[{"prompt":"x"}],"parameters":{"resolution":"4k"}}"#,
                "parameters.resolution",
            ),
            (
                r#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA"},"lastFrame":{"bytesBase64Encoded":"AA"}}]}"#,
                "instances[0].lastFrame",
            ),
            (
                r#"{"instances":[{"prompt":"x","referenceImages":[{"image":{"bytesBase64Encoded":"AA"},"referenceType":"ASSET"}]}]}"#,
                "instances[0].referenceImages",
            ),
        ] {
            let native = parse_native(body.as_bytes()).unwrap();
            native.check_for(&vertex("veo-3.1-generate-001")).unwrap();
            let err = native.check_for(&lite).unwrap_err();
            assert_eq!(
                (err.code, err.param.as_deref()),
                (ErrorCode::UnsupportedValue, Some(param)),
                "{body}"
            );
        }
        // Every GA parameter at once passes unchanged (SDK's upper-case enums too).
        let all = r#"{"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AA","mimeType":"image/png"},"lastFrame":{"bytesBase64Encoded":"AA","mimeType":"image/png"},"referenceImages":[{"image":{"bytesBase64Encoded":"AA"},"referenceType":"ASSET"}]}],"parameters":{"durationSeconds":8,"aspectRatio":"16:9","resolution":"4k","negativePrompt":"n","personGeneration":"disallow","seed":4294967295,"sampleCount":4,"generateAudio":true,"compressionQuality":"OPTIMIZED","resizeMode":"PAD","fps":24,"enhancePrompt":true}}"#;
        let native = parse_native(all.as_bytes()).unwrap();
        assert_eq!(
            native
                .check_for(&vertex("veo-3.1-generate-001"))
                .unwrap()
                .1
                .width,
            3840
        );
        let sent: serde_json::Value = serde_json::to_value(&native.request).unwrap();
        let given: serde_json::Value = serde_json::from_str(all).unwrap();
        assert_eq!(sent, given);
    }
}
