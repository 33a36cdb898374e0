//! What the Gemini API and Vertex AI share about Veo: the sizes it
//! renders, the request body built from an OpenAI-shaped request, and the
//! one reader of its long-running operations' state.
//!
//! [`super::gemini`] and [`super::vertex`] both import this module and
//! neither imports the other's Veo pieces, so the two providers stay
//! independent (the Gemini module only names Vertex's create call for
//! Google-shaped bodies sent to a Vertex deployment).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::{CreateVideo, Operation, Size};
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode};

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

/// The Veo request body (`instances` + `parameters`) for `req`, shared by
/// the Gemini API and Vertex AI, with the duration and size it asks for.
pub fn veo_body(req: &CreateVideo, dep: &Deployment) -> Result<(Value, u32, Size), ClientError> {
    let mut parameters = Map::new();
    let seconds = match req.seconds {
        Some(s) if dep.video_seconds.contains(&s) => {
            parameters.insert("durationSeconds".to_owned(), Value::from(s));
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
        None => dep.video_seconds.iter().copied().max().unwrap_or(8),
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
            parameters.insert("aspectRatio".to_owned(), Value::from(*aspect));
            parameters.insert("resolution".to_owned(), Value::from(*resolution));
            size
        }
        None => DEFAULT_SIZE,
    };
    if let Some(neg) = &req.negative_prompt {
        parameters.insert("negativePrompt".to_owned(), Value::from(neg.as_str()));
    }
    if let Some(p) = &req.person_generation {
        parameters.insert("personGeneration".to_owned(), Value::from(p.as_str()));
    }
    if let Some(seed) = req.seed {
        parameters.insert("seed".to_owned(), Value::from(seed));
    }
    parameters.insert("sampleCount".to_owned(), Value::from(1));
    let mut instance = Map::new();
    instance.insert("prompt".to_owned(), Value::from(req.prompt.as_str()));
    if let Some(image) = &req.input_reference {
        instance.insert(
            "image".to_owned(),
            serde_json::json!({"bytesBase64Encoded": image.base64, "mimeType": image.mime_type}),
        );
    }
    let body = serde_json::json!({
        "instances": [instance],
        "parameters": parameters,
    });
    Ok((body, seconds, size))
}

/// The state of a Google long-running operation that is not done yet or
/// ended in `error`; `None` once it is done without one (the caller reads
/// the provider-specific result).
pub(crate) fn lro_state(operation: &Value) -> Option<Operation> {
    if !operation
        .get("done")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Some(Operation::Running { progress: None });
    }
    let err = operation.get("error")?;
    let code = err.get("code").and_then(Value::as_i64).unwrap_or(2);
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the video operation failed");
    Some(Operation::Failed(crate::errors::classify_operation_error(
        code, message,
    )))
}
