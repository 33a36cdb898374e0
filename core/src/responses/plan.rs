//! Upstream calls for the Responses API routes: where a deployment serves
//! `/v1/responses`, the request body with the deployment's own model, and
//! the affinity policy — where a follow-up must go (the deployment its
//! markers pin), what a pin outside the requested group means, and what
//! happens when the pinned deployment cannot serve (`router.affinity_unavailable`).

use alloc::format;
use alloc::string::{String, ToString};

use serde_json::Value;

use crate::config::{AffinityUnavailable, Config, Deployment, ModelGroup};
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::plan::{Auth, Method, UpstreamRequest};
use crate::provider;

/// What a `POST /v1/responses` body asks for, beyond its markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateShape {
    /// The model group requested (`model`).
    pub model: String,
    /// Whether the client asked for an SSE stream (`stream: true`).
    pub stream: bool,
}

/// Reads `model` and `stream` from a (restored) create body.
pub fn create_shape(body: &[u8]) -> Result<CreateShape, ClientError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ClientError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(obj) = &value else {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            format!("the body must be a JSON object, got {}", type_name(&value)),
        ));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(other) => {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "`model` must be a non-empty string, got {}",
                    type_name(other)
                ),
            )
            .with_param("model"))
        }
        None => {
            return Err(
                ClientError::new(ErrorCode::InvalidRequest, "`model` is required")
                    .with_param("model"),
            )
        }
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("`stream` must be a boolean, got {}", type_name(other)),
            )
            .with_param("stream"))
        }
    };
    Ok(CreateShape { model, stream })
}

/// The base URL of `/v1/responses` on `dep`, or why it has none.
fn base(dep: &Deployment) -> Result<String, ClientError> {
    match provider::openai_api(dep) {
        Some(api) => Ok(format!("{}/responses", api.base)),
        None => Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            format!(
                "deployment {:?} is a {} deployment, which does not serve the Responses API",
                dep.id,
                dep.provider.as_str()
            ),
        )
        .with_param("model")),
    }
}

fn auth(dep: &Deployment) -> Auth {
    provider::openai_api(dep).map_or(Auth::Bearer, |api| api.auth)
}

/// Where a create goes, from the pin its markers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'c> {
    /// The deployment holding the conversation's state: only there.
    Pinned(&'c Deployment),
    /// New work, routed by weight across the group and its fallbacks.
    New,
    /// The pinned deployment was removed from the config: its state is lost.
    PinLost,
}

/// Places a create on `group` whose markers pinned `pin` (if any). A pin to
/// a configured deployment of *another* group is a conflict: the
/// conversation must go on with the model it started on.
pub fn place<'c>(
    config: &'c Config,
    group: &'c ModelGroup,
    model: &str,
    pin: Option<&str>,
) -> Result<Placement<'c>, ClientError> {
    let Some(id) = pin else {
        return Ok(Placement::New);
    };
    if let Some(dep) = group.deployments.iter().find(|d| d.id == id) {
        return Ok(Placement::Pinned(dep));
    }
    if config.deployment(id).is_some() {
        return Err(ClientError::new(
            ErrorCode::AffinityConflict,
            format!(
                "this conversation's state lives on a deployment that does not serve model {model:?}; continue it with the model it started on"
            ),
        )
        .with_param("model"));
    }
    Ok(Placement::PinLost)
}

/// Whether a failure means the deployment itself cannot serve (as opposed
/// to the request being wrong).
pub fn deployment_unavailable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::UpstreamUnavailable
            | ErrorCode::UpstreamTimeout
            | ErrorCode::UpstreamNetwork
            | ErrorCode::UpstreamRateLimited
            | ErrorCode::UpstreamQuotaExhausted
            | ErrorCode::UpstreamAuthentication
            | ErrorCode::UpstreamPermissionDenied
            | ErrorCode::BadUpstreamResponse
    )
}

/// What to do when the pinned deployment cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Answer this error.
    Fail(ClientError),
    /// Drop the reasoning items only that deployment could read and route
    /// the rest as new work.
    Strip,
}

/// Why a [`Placement::PinLost`] create cannot reach its state.
pub fn pin_lost() -> ClientError {
    ClientError::new(
        ErrorCode::PinnedDeploymentUnavailable,
        "the deployment holding this conversation's state is no longer configured",
    )
}

/// The `affinity_unavailable` policy applied to a pinned deployment that
/// cannot serve because of `cause` (its failure, or [`pin_lost`]).
pub fn recover(policy: AffinityUnavailable, cause: &ClientError) -> Recovery {
    if policy == AffinityUnavailable::Strip {
        return Recovery::Strip;
    }
    let mut err = ClientError::new(
        ErrorCode::PinnedDeploymentUnavailable,
        format!(
            "the deployment holding this conversation's encrypted state is unavailable ({}); retry later, or start a new conversation",
            cause.message
        ),
    );
    err.retry_after_ms = cause.retry_after_ms;
    Recovery::Fail(err)
}

/// `POST /v1/responses` on `dep`: the body with `model` set to the
/// deployment's upstream model (other fields untouched).
pub fn create_request(body: &[u8], dep: &Deployment) -> Result<UpstreamRequest, ClientError> {
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        ClientError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    if let Value::Object(obj) = &mut value {
        obj.insert("model".to_string(), Value::String(dep.model.clone()));
    }
    Ok(UpstreamRequest {
        method: Method::Post,
        url: base(dep)?,
        auth: auth(dep),
        json_body: Some(value.to_string()),
    })
}

/// A call on one stored response: `GET`/`DELETE /v1/responses/{id}`,
/// `GET …/input_items?{query}`, `POST …/cancel`.
pub fn id_request(
    dep: &Deployment,
    method: Method,
    upstream_id: &str,
    suffix: &str,
    query: &str,
) -> Result<UpstreamRequest, ClientError> {
    let mut url = format!("{}/{upstream_id}{suffix}", base(dep)?);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    Ok(UpstreamRequest {
        method,
        url,
        auth: auth(dep),
        json_body: (method == Method::Post).then(|| String::from("{}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[{"name":"gpt","deployments":[
              {"id":"o","provider":"openai","model":"gpt-5-2025","credential":"K"},
              {"id":"z","provider":"azure","model":"gpt5-deploy","credential":"K","api_base":"https://r.openai.azure.com"},
              {"id":"g","provider":"gemini","model":"veo","credential":"K"}]}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn create_sets_the_deployment_model_and_url() {
        let cfg = config();
        let deps = &cfg.group("gpt").unwrap().deployments;
        let body = br#"{"model":"gpt","input":"hi","stream":true}"#;
        assert_eq!(
            create_shape(body).unwrap(),
            CreateShape {
                model: "gpt".into(),
                stream: true
            }
        );
        let req = create_request(body, &deps[0]).unwrap();
        assert_eq!(req.url, "https://api.openai.com/v1/responses");
        assert_eq!(req.auth, Auth::Bearer);
        let sent: Value = serde_json::from_str(req.json_body.as_deref().unwrap()).unwrap();
        assert_eq!(sent["model"], "gpt-5-2025");
        assert_eq!(sent["input"], "hi");
        let req = create_request(body, &deps[1]).unwrap();
        assert_eq!(req.url, "https://r.openai.azure.com/openai/v1/responses");
        assert_eq!(req.auth, Auth::AzureApiKey);
        assert_eq!(
            create_request(body, &deps[2]).unwrap_err().code,
            ErrorCode::UnsupportedValue
        );
    }

    #[test]
    fn shapes_are_validated() {
        assert_eq!(create_shape(b"{").unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(
            create_shape(b"[]").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            create_shape(br#"{"input":"x"}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("model")
        );
        assert_eq!(
            create_shape(br#"{"model":"m","stream":"yes"}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("stream")
        );
        assert!(!create_shape(br#"{"model":"m"}"#).unwrap().stream);
    }

    #[test]
    fn id_calls() {
        let cfg = config();
        let dep = &cfg.group("gpt").unwrap().deployments[0];
        let req = id_request(dep, Method::Get, "resp_1", "/input_items", "limit=5").unwrap();
        assert_eq!(
            req.url,
            "https://api.openai.com/v1/responses/resp_1/input_items?limit=5"
        );
        let req = id_request(dep, Method::Post, "resp_1", "/cancel", "").unwrap();
        assert_eq!(req.json_body.as_deref(), Some("{}"));
    }

    fn two_groups() -> Config {
        Config::parse(
            r#"{"model_groups": [
                {"name": "gpt-5", "deployments": [
                    {"id": "east", "provider": "openai", "model": "gpt-5", "credential": "K"},
                    {"id": "west", "provider": "azure", "model": "gpt-5", "credential": "K",
                     "api_base": "https://west.openai.azure.com"}]},
                {"name": "gpt-4.1", "deployments": [
                    {"id": "old", "provider": "openai", "model": "gpt-4.1", "credential": "K"}]}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_pin_places_the_work_or_conflicts() {
        let config = two_groups();
        let group = config.group("gpt-5").unwrap();
        assert_eq!(
            place(&config, group, "gpt-5", None).unwrap(),
            Placement::New
        );
        match place(&config, group, "gpt-5", Some("west")).unwrap() {
            Placement::Pinned(dep) => assert_eq!(dep.id, "west"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            place(&config, group, "gpt-5", Some("removed")).unwrap(),
            Placement::PinLost
        );
        let err = place(&config, group, "gpt-5", Some("old")).unwrap_err();
        assert_eq!(err.code, ErrorCode::AffinityConflict);
        assert_eq!(err.param.as_deref(), Some("model"));
    }

    #[test]
    fn the_policy_fails_with_the_cause_or_strips() {
        let mut cause = ClientError::new(ErrorCode::UpstreamRateLimited, "slow down");
        cause.retry_after_ms = Some(2_000);
        match recover(AffinityUnavailable::Fail, &cause) {
            Recovery::Fail(err) => {
                assert_eq!(err.code, ErrorCode::PinnedDeploymentUnavailable);
                assert!(err.message.contains("slow down"), "{}", err.message);
                assert_eq!(err.retry_after_ms, Some(2_000));
            }
            Recovery::Strip => panic!("the fail policy strips nothing"),
        }
        assert_eq!(recover(AffinityUnavailable::Strip, &cause), Recovery::Strip);
        assert!(deployment_unavailable(ErrorCode::UpstreamTimeout));
        assert!(!deployment_unavailable(ErrorCode::UpstreamBadRequest));
    }
}
