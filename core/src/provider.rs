//! The provider layer's facts for the APIs other than video (video
//! dispatches in `video::provider`): where each provider serves the
//! OpenAI-shaped APIs (Realtime, Responses) and the Gemini Live API, which
//! credential header it takes, and how it names a model. This is the one
//! place outside `video::provider` (and config's per-provider defaults) that
//! tells providers apart; feature modules ask it instead of matching.

use alloc::format;
use alloc::string::String;

use crate::config::{Deployment, Provider};
use crate::errors::{ClientError, ErrorCode};
use crate::plan::Auth;

/// The Gemini API's Live method (WebSocket path under `/ws/`).
pub const GEMINI_LIVE_METHOD: &str =
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
/// Vertex AI's Live service and method (WebSocket path under `/ws/`).
pub const VERTEX_LIVE_METHOD: &str =
    "google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";

/// Where a deployment serves the OpenAI-shaped APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiApi {
    /// `{api_base}/v1` on OpenAI, `{api_base}/openai/v1` on Azure (GA, no
    /// `api-version`); the API's own path follows (`/realtime`, `/responses`).
    pub base: String,
    /// The deployment credential's header.
    pub auth: Auth,
    /// A transcription session names its model in the socket URL (Azure);
    /// OpenAI takes it from the session's config instead.
    pub transcription_model_in_url: bool,
}

/// The OpenAI-shaped APIs of `dep`, or `None` for a Google deployment.
pub fn openai_api(dep: &Deployment) -> Option<OpenAiApi> {
    match dep.provider {
        Provider::OpenAi => Some(OpenAiApi {
            base: format!("{}/v1", dep.api_base),
            auth: Auth::Bearer,
            transcription_model_in_url: false,
        }),
        Provider::Azure => Some(OpenAiApi {
            base: format!("{}/openai/v1", dep.api_base),
            auth: Auth::AzureApiKey,
            transcription_model_in_url: true,
        }),
        Provider::Gemini | Provider::VertexAi => None,
    }
}

/// Where a deployment serves OpenAI GPT-Live (`/live/sessions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptLiveApi {
    /// `{api_base}/v1/live/sessions` on OpenAI, `{api_base}/openai/v1/live/sessions`
    /// on Azure (the v1 path, no `api-version`); a session's own routes follow
    /// (`/{id}/fork`, `/{id}/hangup`, `/{id}/content`, …).
    pub sessions_url: String,
    /// The deployment credential's header: `Authorization: Bearer` on
    /// OpenAI, `api-key` on Azure (what Azure's other v1 APIs take; its
    /// GPT-Live docs show an Entra bearer token, and the `api-key` header is
    /// not confirmed there).
    pub auth: Auth,
}

/// The GPT-Live API of `dep`, or `None` for a Google deployment.
pub fn gpt_live_api(dep: &Deployment) -> Option<GptLiveApi> {
    openai_api(dep).map(|api| GptLiveApi {
        sessions_url: format!("{}/live/sessions", api.base),
        auth: api.auth,
    })
}

/// Where a deployment serves the Gemini Live API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveApi {
    /// The upstream socket URL.
    pub url: String,
    /// The credential it takes.
    pub auth: Auth,
    /// The model as the upstream names it (`models/…` on the Gemini API,
    /// the full publisher resource on Vertex).
    pub model: String,
}

/// Whether `dep` is a deployment of a provider with a Live API.
pub fn has_live_api(dep: &Deployment) -> bool {
    matches!(dep.provider, Provider::Gemini | Provider::VertexAi)
}

/// The Live API of `dep`; `param` names the request field that chose it.
pub fn live_api(dep: &Deployment, param: &str) -> Result<LiveApi, ClientError> {
    match (dep.provider, &dep.vertex) {
        (Provider::Gemini, _) => Ok(LiveApi {
            url: format!("{}/ws/{GEMINI_LIVE_METHOD}", dep.api_base),
            auth: Auth::GoogleApiKey,
            model: format!("models/{}", dep.model),
        }),
        (Provider::VertexAi, Some(v)) => Ok(LiveApi {
            url: format!("{}/ws/{VERTEX_LIVE_METHOD}", dep.api_base),
            auth: Auth::GoogleServiceAccount,
            model: format!(
                "projects/{}/locations/{}/publishers/google/models/{}",
                v.project, v.location, dep.model
            ),
        }),
        (Provider::VertexAi, None) => Err(ClientError::new(
            ErrorCode::ConfigInvalid,
            format!("Vertex deployment {:?} has no project and location", dep.id),
        )),
        (other, _) => Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            format!(
                "this model is served by a {} deployment, which has no Live API",
                other.as_str()
            ),
        )
        .with_param(param)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups": [
                {"name": "m", "deployments": [
                    {"id": "o", "provider": "openai", "model": "gpt-realtime", "credential": "K",
                     "api_base": "https://api.openai.com"},
                    {"id": "a", "provider": "azure", "model": "gpt-realtime", "credential": "K",
                     "api_base": "https://x.openai.azure.com"},
                    {"id": "g", "provider": "gemini", "model": "gemini-live", "credential": "K"}]}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn openai_shaped_apis_live_on_openai_and_azure_only() {
        let config = config();
        let dep = |id: &str| config.deployment(id).unwrap().1;
        let openai = openai_api(dep("o")).unwrap();
        assert_eq!(openai.base, "https://api.openai.com/v1");
        assert_eq!(openai.auth, Auth::Bearer);
        assert!(!openai.transcription_model_in_url);
        let azure = openai_api(dep("a")).unwrap();
        assert_eq!(azure.base, "https://x.openai.azure.com/openai/v1");
        assert_eq!(azure.auth, Auth::AzureApiKey);
        assert!(azure.transcription_model_in_url);
        assert_eq!(openai_api(dep("g")), None);
        let live = gpt_live_api(dep("a")).unwrap();
        assert_eq!(
            live.sessions_url,
            "https://x.openai.azure.com/openai/v1/live/sessions"
        );
        assert_eq!(live.auth, Auth::AzureApiKey);
        assert_eq!(
            gpt_live_api(dep("o")).unwrap().sessions_url,
            "https://api.openai.com/v1/live/sessions"
        );
        assert_eq!(gpt_live_api(dep("g")), None);
    }

    #[test]
    fn live_lives_on_google_deployments_only() {
        let config = config();
        let gemini = config.deployment("g").unwrap().1;
        assert!(has_live_api(gemini));
        let api = live_api(gemini, "setup.model").unwrap();
        assert_eq!(api.model, "models/gemini-live");
        assert_eq!(api.auth, Auth::GoogleApiKey);
        assert!(api.url.ends_with(GEMINI_LIVE_METHOD));
        let openai = config.deployment("o").unwrap().1;
        assert!(!has_live_api(openai));
        let err = live_api(openai, "setup.model").unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedValue);
        assert_eq!(err.param.as_deref(), Some("setup.model"));
    }
}
