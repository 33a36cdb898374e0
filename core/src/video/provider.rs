//! The provider layer's one dispatch point: which [`VideoApi`] serves a
//! deployment. Nothing else in reelay matches on the provider for video;
//! callers ask capability questions of the API this returns.

use super::{gemini, openai, vertex, VideoApi};
use crate::config::{Deployment, Provider};

/// The video API of `dep`'s provider.
pub fn api(dep: &Deployment) -> &'static dyn VideoApi {
    match dep.provider {
        Provider::Gemini => &gemini::Api,
        Provider::VertexAi => &vertex::Api,
        Provider::OpenAi => &openai::OPENAI,
        Provider::Azure => &openai::AZURE,
    }
}
