//! Retirement answers: what each provider sends once it has retired or shut
//! down a model ([`super::MockOptions::retired_models`]), before any other
//! handling (faults still come first).
//!
//! | Request naming a retired model | Answer |
//! |---|---|
//! | Gemini `/{v}/models/{m}:…` (any version), or a Gemini JSON body's `model` (`/{v}/interactions`) | `404 NOT_FOUND` "This model models/{m} is no longer available. …" (Google's envelope) |
//! | Vertex `…/publishers/google/models/{m}:…` | `404 NOT_FOUND` "Publisher Model `projects/…/models/{m}` was not found or your project does not have access to it. …" (Vertex's answer for retired versions) |
//! | OpenAI / Azure paths whose JSON body names it in `model` or `session.model`, or a multipart `model` part | `404` `model_not_found` "The model `{m}` has been deprecated, learn more here: …" (OpenAI's answer for shut-down models; the exact answer of the shut-down Videos API is unconfirmed) |

use axum::response::Response;
use serde_json::Value;

use super::google;
use super::openai::ApiError;

/// The retirement answer for this request, if it names a retired model.
pub(crate) fn answer(retired: &[String], path: &str, body: &[u8]) -> Option<Response> {
    if retired.is_empty() {
        return None;
    }
    let is_retired = |m: &str| retired.iter().any(|r| r == m);
    if let Some(resource) = vertex_resource(path) {
        let model = resource.rsplit('/').next()?;
        return is_retired(model).then(|| {
            google::error(
                404,
                &format!(
                    "Publisher Model `{resource}` was not found or your project does not have \
                     access to it. Please ensure you are using a valid model version. For more \
                     information, see: \
                     https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
                ),
                Vec::new(),
            )
        });
    }
    if is_google_path(path) {
        let model = gemini_path_model(path).or_else(|| body_models(body).into_iter().next())?;
        let model = model.trim_start_matches("models/").to_owned();
        return is_retired(&model).then(|| {
            google::error(
                404,
                &format!(
                    "This model models/{model} is no longer available. Please update your code \
                     to use a newer model for the latest features and improvements."
                ),
                Vec::new(),
            )
        });
    }
    let model = body_models(body).into_iter().find(|m| is_retired(m))?;
    Some(
        ApiError::new(
            404,
            format!(
                "The model `{model}` has been deprecated, learn more here: \
                 https://platform.openai.com/docs/deprecations"
            ),
        )
        .param("model")
        .code("model_not_found")
        .into(),
    )
}

/// `projects/{p}/locations/{l}/publishers/google/models/{m}` of a Vertex path.
fn vertex_resource(path: &str) -> Option<String> {
    let start = path.find("/projects/")? + 1;
    let rest = &path[start..];
    if !rest.contains("/publishers/google/models/") {
        return None;
    }
    let resource = rest.split(':').next()?;
    let resource = match resource.find("/operations/") {
        Some(at) => &resource[..at],
        None => resource,
    };
    Some(resource.to_owned())
}

/// Gemini API paths: `/{v1,v1beta,v1alpha}/models/…` and `/{v}/interactions…`.
fn is_google_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let version = parts.next().unwrap_or("");
    let family = parts.next().unwrap_or("");
    matches!(version, "v1" | "v1beta" | "v1alpha")
        && (family == "models" || family.starts_with("interactions"))
}

/// `{m}` of `/{v}/models/{m}:{action}`.
fn gemini_path_model(path: &str) -> Option<String> {
    let (_, rest) = path.split_once("/models/")?;
    let model = rest.split([':', '/']).next()?;
    (!model.is_empty()).then(|| model.to_owned())
}

/// The models a request body names: JSON `model` and `session.model`, or a
/// multipart `model` part.
fn body_models(body: &[u8]) -> Vec<String> {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        return [json.get("model"), json.pointer("/session/model")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    let text = String::from_utf8_lossy(body);
    let marker = "name=\"model\"";
    let Some(at) = text.find(marker) else {
        return Vec::new();
    };
    let after = &text[at + marker.len()..];
    let Some(start) = after.find("\r\n\r\n") else {
        return Vec::new();
    };
    let value = &after[start + 4..];
    let end = value.find("\r\n").unwrap_or(value.len());
    vec![value[..end].trim().to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_bodies_name_their_models() {
        assert_eq!(
            vertex_resource("/v1beta1/projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001:predictLongRunning").as_deref(),
            Some("projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001")
        );
        assert!(is_google_path("/v1/models/veo-3.0:predictLongRunning"));
        assert!(is_google_path("/v1beta/interactions"));
        assert!(!is_google_path("/v1/videos"));
        assert_eq!(
            gemini_path_model("/v1beta/models/veo-3.0-generate-preview:predictLongRunning")
                .as_deref(),
            Some("veo-3.0-generate-preview")
        );
        assert_eq!(
            body_models(br#"{"session":{"type":"realtime","model":"gpt-realtime"}}"#),
            vec!["gpt-realtime".to_owned()]
        );
        assert_eq!(
            body_models(
                b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsora-2\r\n--b--\r\n"
            ),
            vec!["sora-2".to_owned()]
        );
    }
}
