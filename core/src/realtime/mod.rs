//! Realtime sessions: everything reelay decides about OpenAI (and Azure
//! OpenAI) Realtime, Gemini Live and Vertex Live, as pure plans the host
//! executes.
//!
//! - [`token`]: the realtime token (`ek_rl_…`) handed to browsers in place
//!   of the upstream ephemeral key — AES-256-GCM, binding the ephemeral key,
//!   the deployment, the owning key, the session kind and the expiry.
//! - [`session`]: `POST /v1/realtime/client_secrets` — parse the GA body,
//!   check the model against the key's access rules, route it, rewrite the
//!   model and clamp `expires_after`; then swap the upstream's `ek_…` for a
//!   reelay token in the answer.
//! - [`calls`]: `POST /v1/realtime/calls` (WebRTC SDP exchange, raw
//!   `application/sdp` or multipart `sdp` + `session`) on the exact deployment
//!   that minted the token, the sealed call ids reelay puts in `Location`,
//!   and call control (`accept`, `hangup`, `refer`, `reject`).
//!
//! - [`ws`]: WebSocket relaying shared by every realtime socket (browser
//!   subprotocols, close codes and reasons, error events) and the OpenAI /
//!   Azure `GET /v1/realtime` plans (virtual key, reelay token, `?call_id=`
//!   sideband), with the guard that keeps `session.update` on the model the
//!   key was allowed.
//! - [`live`]: Gemini Live and Vertex Live (`BidiGenerateContent`): paths,
//!   the setup frame and its model rewrite, and the Gemini ephemeral tokens
//!   (`auth_tokens/lt_rl_…`) reelay mints itself.
//! - [`live_interactions`]: Gemini Live Interactions (`/{v}/interactions/live`):
//!   paths, the first frame (a sealed interaction id opened for the caller,
//!   or a create whose model is checked), the frame guard, and the
//!   per-interaction auth tokens reelay mints itself.
//! - [`lifetime`]: how long a relayed socket lives — until its key or token
//!   expires or its key is deleted — and the errors that close it.

pub mod calls;
pub mod lifetime;
pub mod live;
pub mod live_interactions;
pub mod session;
pub mod token;
pub mod ws;

use alloc::format;
use alloc::string::String;

use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode};
use crate::plan::Auth;
use crate::provider;

pub use token::{TokenClaims, UpstreamKey, TOKEN_PREFIX};

/// The kind of realtime session, and so the purpose of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A speech-to-speech session (`session.type = "realtime"`).
    Realtime,
    /// A transcription session (`session.type = "transcription"`).
    Transcription,
}

impl SessionKind {
    /// The `session.type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Realtime => "realtime",
            Self::Transcription => "transcription",
        }
    }

    /// Parses a `session.type` value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "realtime" => Some(Self::Realtime),
            "transcription" => Some(Self::Transcription),
            _ => None,
        }
    }

    const fn byte(self) -> u8 {
        match self {
            Self::Realtime => 1,
            Self::Transcription => 2,
        }
    }

    const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Realtime),
            2 => Some(Self::Transcription),
            _ => None,
        }
    }

    /// Where the model sits in a session object, as a JSON pointer, and as
    /// the `param` named in errors.
    const fn model_path(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Realtime => (&["model"], "session.model"),
            Self::Transcription => (
                &["audio", "input", "transcription", "model"],
                "session.audio.input.transcription.model",
            ),
        }
    }
}

/// Every session kind: what `/v1/realtime/calls` accepts a token for.
pub const ALL_KINDS: &[SessionKind] = &[SessionKind::Realtime, SessionKind::Transcription];

/// The Realtime API base of a deployment: `{api_base}/v1/realtime` on
/// OpenAI, `{api_base}/openai/v1/realtime` on Azure (GA, no `api-version`).
fn realtime_base(dep: &Deployment) -> String {
    match provider::openai_api(dep) {
        Some(api) => format!("{}/realtime", api.base),
        None => format!("{}/v1/realtime", dep.api_base),
    }
}

/// How the deployment's own credential is sent (server-side calls).
fn deployment_auth(dep: &Deployment) -> Auth {
    provider::openai_api(dep).map_or(Auth::Bearer, |api| api.auth)
}

/// Refuses deployments that cannot serve the OpenAI Realtime API.
fn check_provider(dep: &Deployment, model: &str, param: &str) -> Result<(), ClientError> {
    if provider::openai_api(dep).is_some() {
        return Ok(());
    }
    Err(ClientError::new(
        ErrorCode::UnsupportedValue,
        format!(
            "model {model:?} is served by a {} deployment, which has no OpenAI Realtime API",
            dep.provider.as_str()
        ),
    )
    .with_param(param))
}
