//! The provider layer's one dispatch point: which [`VideoApi`] serves a
//! deployment. Nothing else in reelay matches on the provider for video;
//! callers ask capability questions of the API this returns.

use super::{gemini, omni, openai, vertex, VideoApi};
use crate::config::{Deployment, Provider};

/// The video API of `dep`'s provider: Gemini Omni's Interactions API for a
/// `gemini` or `vertex_ai` deployment of a `gemini-omni-*` model, Veo for
/// their other models.
pub fn api(dep: &Deployment) -> &'static dyn VideoApi {
    match dep.provider {
        Provider::Gemini if dep.is_omni() => &omni::GEMINI,
        Provider::VertexAi if dep.is_omni() => &omni::VERTEX,
        Provider::Gemini => &gemini::Api,
        Provider::VertexAi => &vertex::Api,
        Provider::OpenAi => &openai::OPENAI,
        Provider::Azure => &openai::AZURE,
    }
}
