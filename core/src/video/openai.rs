//! Sora on OpenAI's Videos API and on Azure OpenAI: the gateway's surface
//! *is* this API, so translation is nearly the identity.
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
use serde_json::{Map, Value};

use super::{CreateVideo, Created, FollowUp, FollowUpKind, Operation, Size, Variant};
use crate::config::{Deployment, Provider};
use crate::errors::{ClientError, ErrorCode, ErrorKind, Retry, Scope, UpstreamError};
use crate::plan::{Auth, Method, UpstreamRequest};

fn videos_url(dep: &Deployment) -> String {
    match dep.provider {
        Provider::Azure => format!("{}/openai/v1/videos", dep.api_base),
        _ => format!("{}/v1/videos", dep.api_base),
    }
}

fn auth(dep: &Deployment) -> Auth {
    match dep.provider {
        Provider::Azure => Auth::AzureApiKey,
        _ => Auth::Bearer,
    }
}

/// The create call for `req` on a Sora deployment; `characters` are the
/// upstream ids of the request's (already unsealed) characters.
pub fn create_request(
    req: &CreateVideo,
    dep: &Deployment,
    characters: &[String],
) -> Result<UpstreamRequest, ClientError> {
    for (value, param) in [
        (req.negative_prompt.is_some(), "negative_prompt"),
        (req.person_generation.is_some(), "person_generation"),
        (req.seed.is_some(), "seed"),
    ] {
        if value {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("`{param}` is a Veo option; this model ({}) is served by Sora, which does not support it", dep.model),
            )
            .with_param(param));
        }
    }
    let mut body = Map::new();
    body.insert("model".to_owned(), Value::from(dep.model.as_str()));
    body.insert("prompt".to_owned(), Value::from(req.prompt.as_str()));
    if let Some(seconds) = req.seconds {
        if !dep.video_seconds.contains(&seconds) {
            let allowed: vec::Vec<String> = dep
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
        body.insert("seconds".to_owned(), Value::from(seconds.to_string()));
    }
    if let Some(size) = req.size {
        body.insert("size".to_owned(), Value::from(size.to_wire()));
    }
    if let Some(image) = &req.input_reference {
        let url = format!("data:{};base64,{}", image.mime_type, image.base64);
        body.insert(
            "input_reference".to_owned(),
            serde_json::json!({ "image_url": url }),
        );
    }
    if !characters.is_empty() {
        let list: vec::Vec<Value> = characters
            .iter()
            .map(|id| serde_json::json!({ "id": id }))
            .collect();
        body.insert("characters".to_owned(), Value::Array(list));
    }
    Ok(UpstreamRequest {
        method: Method::Post,
        url: videos_url(dep),
        auth: auth(dep),
        json_body: Some(Value::Object(body).to_string()),
    })
}

/// Reads the upstream's Video object from a create answer.
pub fn parse_create_response(body: &[u8]) -> Result<Created, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("the create call answered with a non-JSON body"))?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| valid_id(id))
        .ok_or_else(|| garbage("the create call answered without a valid video id"))?;
    Ok(Created {
        upstream_id: id.to_owned(),
        seconds: value
            .get("seconds")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        size: value
            .get("size")
            .and_then(Value::as_str)
            .and_then(Size::parse),
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

/// The status call.
pub fn poll_request(dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Get,
        url: format!("{}/{upstream_id}", videos_url(dep)),
        auth: auth(dep),
        json_body: None,
    }
}

/// Maps the upstream's Video object to an operation state.
pub fn parse_video(body: &[u8]) -> Result<Operation, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("the status call answered with a non-JSON body"))?;
    let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
    let progress = value
        .get("progress")
        .and_then(Value::as_u64)
        .map(|p| p.min(100) as u8);
    match value.get("status").and_then(Value::as_str) {
        Some("queued") => Ok(Operation::Queued),
        Some("in_progress") => Ok(Operation::Running { progress }),
        Some("completed") => Ok(Operation::Succeeded(vec![id.to_owned()])),
        Some("failed") => {
            let error = value.get("error");
            let code = error
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("video_failed");
            let message = error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("the video job failed");
            let policy = ["moderation", "content_policy", "safety"]
                .iter()
                .any(|w| code.contains(w));
            Ok(Operation::Failed(UpstreamError {
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

/// A remix, edit or extension of upstream video `source`.
pub fn follow_up_request(dep: &Deployment, follow: &FollowUp, source: &str) -> UpstreamRequest {
    let (url, body) = match follow.kind {
        FollowUpKind::Remix => (
            format!("{}/{source}/remix", videos_url(dep)),
            serde_json::json!({ "prompt": follow.prompt }),
        ),
        FollowUpKind::Edit => (
            format!("{}/edits", videos_url(dep)),
            serde_json::json!({ "prompt": follow.prompt, "video": { "id": source } }),
        ),
        FollowUpKind::Extend => (
            format!("{}/extensions", videos_url(dep)),
            serde_json::json!({
                "prompt": follow.prompt,
                "seconds": follow.seconds.map(|s| s.to_string()),
                "video": { "id": source },
            }),
        ),
    };
    UpstreamRequest {
        method: Method::Post,
        url,
        auth: auth(dep),
        json_body: Some(body.to_string()),
    }
}

/// Where characters are created (multipart `name` + `video`).
pub fn characters_url(dep: &Deployment) -> String {
    format!("{}/characters", videos_url(dep))
}

/// The upstream auth of `dep` (for calls the host builds itself, like multipart).
pub fn auth_of(dep: &Deployment) -> Auth {
    auth(dep)
}

/// The character lookup call.
pub fn character_request(dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Get,
        url: format!("{}/{upstream_id}", characters_url(dep)),
        auth: auth(dep),
        json_body: None,
    }
}

/// A character as the upstream describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Character {
    /// Upstream id (`char_…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation time, unix seconds.
    pub created_at: u64,
}

/// Reads a character object.
pub fn parse_character(body: &[u8]) -> Result<Character, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| garbage("the character call answered with a non-JSON body"))?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| valid_id(id))
        .ok_or_else(|| garbage("the character has no valid id"))?;
    Ok(Character {
        id: id.to_owned(),
        name: value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        created_at: value.get("created_at").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// The delete call.
pub fn delete_request(dep: &Deployment, upstream_id: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Delete,
        url: format!("{}/{upstream_id}", videos_url(dep)),
        auth: auth(dep),
        json_body: None,
    }
}

/// The content call for `variant`.
pub fn content_request(dep: &Deployment, upstream_id: &str, variant: Variant) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::Get,
        url: format!(
            "{}/{upstream_id}/content?variant={}",
            videos_url(dep),
            variant.as_str()
        ),
        auth: auth(dep),
        json_body: None,
    }
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
    owner: &[u8; crate::seal::OWNER_LEN],
) -> Result<(String, String), ClientError> {
    let sealed = sealer
        .open_id(crate::seal::Purpose::Character, id)
        .map_err(|e| e.to_client(crate::seal::Purpose::Character))?;
    if !crate::encoding::ct_eq(&sealed.owner, owner) {
        return Err(character_not_found());
    }
    let upstream = String::from_utf8(sealed.payload).map_err(|_| character_not_found())?;
    Ok((sealed.deployment, upstream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
        let call = create_request(&req, &dep("openai"), &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), call.auth),
            ("https://res.example/v1/videos", Auth::Bearer)
        );
        let body: Value = serde_json::from_str(call.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model":"sora-2","prompt":"a cat","seconds":"8","size":"1280x720"})
        );
        let call = create_request(&req, &dep("azure"), &[]).unwrap();
        assert_eq!(
            (call.url.as_str(), call.auth),
            ("https://res.example/openai/v1/videos", Auth::AzureApiKey)
        );
        let veo_only = CreateVideo::parse_json(br#"{"prompt":"x","seed":1}"#).unwrap();
        assert_eq!(
            create_request(&veo_only, &dep("openai"), &[])
                .unwrap_err()
                .param
                .as_deref(),
            Some("seed")
        );
        let bad_seconds = CreateVideo::parse_json(br#"{"prompt":"x","seconds":"6"}"#).unwrap();
        assert_eq!(
            create_request(&bad_seconds, &dep("openai"), &[])
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
            content_request(&dep("openai"), "v", Variant::Thumbnail).url,
            "https://res.example/v1/videos/v/content?variant=thumbnail"
        );
    }
}
