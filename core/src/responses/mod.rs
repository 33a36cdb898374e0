//! OpenAI Responses API affinity: finds and rewrites the ids and
//! `encrypted_content` that tie a conversation to the deployment (and the
//! virtual key) that produced it, in JSON responses, SSE streams and
//! requests.
//!
//! # Why
//! Encrypted reasoning and stored responses can only be read by the
//! organisation / API key that produced them. Load balancing a follow-up to
//! another deployment fails with `400 invalid_encrypted_content …
//! organization_id did not match` (the incident this gateway was built
//! after). So every upstream-scoped value reelay hands out names its owner,
//! and every follow-up that carries one is pinned to that owner.
//!
//! # Flow
//! - **Out** ([`seal_response_body`], [`SseRewriter`]): response ids,
//!   reasoning and compaction item ids (in `output[]`, `item`, `item_id`,
//!   input-item lists and their `first_id`/`last_id`), `conversation.id`,
//!   `previous_response_id` and every `encrypted_content` are sealed for
//!   the deployment that served the call and the calling key. The rule is
//!   by key at any depth: strings under `id`, `item_id`, `response_id`,
//!   `previous_response_id`, `first_id`, `last_id`, `conversation` that
//!   start with `resp_`/`rs_`/`cmp_`/`conv_` are sealed (message and call
//!   ids are not), every `encrypted_content` is wrapped, and nothing under
//!   `metadata`, `variables`, `parameters`, `schema`, `input_schema` (the
//!   caller's own data) is touched.
//! - **In** ([`restore_request`], [`restore_id`], [`restore_cursor`]):
//!   markers are opened (they must verify *and* belong to the calling key),
//!   upstream originals are put back, and the request is pinned
//!   ([`Restored::pin`]); markers naming two deployments are a
//!   [`ResponsesError::Conflict`].
//! - **Pinned deployment gone** ([`strip_pinned_reasoning`]): drop the
//!   items only it can read and route normally — impossible (an error) when
//!   the request continues server-side state (`previous_response_id`,
//!   `conversation`).
//!
//! # Wire formats
//! **Sealed ids** keep the prefixes SDKs and clients expect: `resp_…`,
//! `rs_…`, `cmp_…`, `conv_…` followed by base64url of an
//! [`crate::seal::Sealed`] id (version 1, purpose byte 3/4/5/6, owner,
//! deployment, HMAC-SHA-256/128 tag). `created_at` is 0 and the payload is
//!
//! ```text
//! 0x00 ‖ upstream id (UTF-8)                   any upstream id
//! 0x01 ‖ hex-decoded tail                      upstream id = prefix + lowercase hex (OpenAI's
//!                                              own ids: halves the payload)
//! ```
//!
//! Sealing is **deterministic** (no timestamp, no nonce): the same upstream
//! id, deployment and key always give the same sealed id, so an item seen in
//! `output_item.added`, `output_item.done`, `response.completed`,
//! `GET /v1/responses/{id}` and `input_items` keeps one id, and `GET` answers
//! with the id the client asked for. (This is why no `now_ms` is taken.)
//! A typical OpenAI id (`resp_` + 48 hex) seals to the prefix + base64url
//! of 68 + (deployment id length) bytes: 116 characters for a 15-byte
//! deployment id.
//!
//! **Wrapped `encrypted_content`** is not sealed whole (it is KBs); a short
//! authenticated marker is put in front of the untouched original:
//!
//! ```text
//! enc_<base64url(sealed id v1, purpose 7, payload = SHA-256(original)[..16])>.<original>
//! ```
//!
//! `.` is in neither base64 alphabet nor in the base64url marker, so the
//! first `.` ends the marker whatever the original holds. The payload binds
//! the marker to that exact content: a marker cut from one item and put in
//! front of other content (say another key's) does not open. Overhead is
//! about 100 bytes per item; cost is one SHA-256 of the content.
//!
//! Markers are authenticated, not encrypted (like video ids): decoding one
//! shows the deployment id and the upstream id, never a secret. They carry
//! no expiry; the upstream's own retention decides how long state lives.
//!
//! # Strictness
//! Inbound, a value in a sealed position (`previous_response_id`,
//! `conversation`, an `input[]` id starting `rs_`/`cmp_`, any
//! `encrypted_content`) must be a marker issued to the calling key. A raw
//! upstream value is rejected like a forged one: the gateway never hands
//! raw values out, so one can only come from outside it, and routing it
//! anywhere would be a guess. Ids the gateway does not seal (`msg_…`,
//! `fc_…`, `call_…`) pass through untouched.
//!
//! # Errors
//! Everything that fails here is a [`ResponsesError`] (typed, with the
//! [`Rejection`] reason for logs); [`ResponsesError::to_client`] maps it to
//! the client answer. Rejected markers never route anywhere, and the client
//! message never says whether a marker was forged, foreign or another key's.

mod inbound;
mod marker;
mod outbound;
mod plan;
mod scan;
mod sse;

#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::String;

pub use inbound::{
    restore_cursor, restore_id, restore_request, strip_pinned_reasoning, Restored, RestoredId,
    Stripped,
};
pub use outbound::{redact_failed_answer, seal_response_body};
pub use plan::{
    create_request, create_shape, deployment_unavailable, id_request, pin_lost, place, recover,
    CreateShape, Placement, Recovery,
};
pub use sse::{sse_error_event, Overflow, SseRewriter, DEFAULT_MAX_EVENT_BYTES};

use crate::errors::{ClientError, ErrorCode};
use crate::seal;

/// Which kind of request value held a marker that did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `previous_response_id`.
    PreviousResponseId,
    /// `conversation` or `conversation.id`.
    Conversation,
    /// The `id` of an `input[]` item (reasoning, compaction, `item_reference`).
    InputItemId,
    /// The `encrypted_content` of an `input[]` item.
    EncryptedContent,
    /// A pagination cursor (`after`, `before`).
    Cursor,
}

impl Field {
    /// The request parameter name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PreviousResponseId => "previous_response_id",
            Self::Conversation => "conversation",
            Self::InputItemId => "input.id",
            Self::EncryptedContent => "input.encrypted_content",
            Self::Cursor => "after",
        }
    }
}

/// Why a marker did not open. Logged, never shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a marker at all (a raw upstream value, or the wrong prefix).
    NotSealed,
    /// Bad base64, too short, too long, bad payload.
    Malformed,
    /// Unknown marker version.
    Version,
    /// Minted for another purpose (an `rs_` id presented as `cmp_`).
    Purpose,
    /// The MAC does not verify: forged, altered, or another `SEALING_KEY`.
    Tampered,
    /// Genuine, but issued to another virtual key.
    OtherOwner,
    /// An `encrypted_content` marker in front of content it was not made for.
    Unbound,
}

impl Rejection {
    /// Stable name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotSealed => "not_sealed",
            Self::Malformed => "malformed",
            Self::Version => "version",
            Self::Purpose => "purpose",
            Self::Tampered => "tampered",
            Self::OtherOwner => "other_owner",
            Self::Unbound => "unbound",
        }
    }
}

impl From<seal::Error> for Rejection {
    fn from(e: seal::Error) -> Self {
        match e {
            seal::Error::Version => Self::Version,
            seal::Error::WrongPurpose => Self::Purpose,
            seal::Error::BadMac => Self::Tampered,
            seal::Error::NotOwner => Self::OtherOwner,
            // Ids do not expire, and every id purpose is sealed this way.
            seal::Error::Malformed | seal::Error::Expired(_) | seal::Error::Unsupported => {
                Self::Malformed
            }
        }
    }
}

/// Everything that can go wrong in Responses API affinity.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponsesError {
    /// The request body is not JSON, or not a JSON object.
    InvalidJson,
    /// A request value that must be a marker issued to this key is not.
    Rejected {
        /// What kind of value.
        field: Field,
        /// Where, as the client would name it (`input[3].encrypted_content`).
        param: String,
        /// Why (for logs only).
        reason: Rejection,
    },
    /// Two markers in one request name different deployments.
    Conflict {
        /// The value that disagreed.
        param: String,
        /// The earlier value it disagreed with.
        earlier: String,
        /// (deployment of `earlier`, deployment of `param`), for logs.
        deployments: (String, String),
    },
    /// The strip policy cannot apply: the request continues server-side state.
    CannotStrip {
        /// `previous_response_id` or `conversation`.
        param: &'static str,
    },
    /// A path id (`/v1/responses/{id}`) is not a response id issued to this key.
    NotFound {
        /// Why (for logs only).
        reason: Rejection,
    },
    /// The upstream body is not JSON.
    BadUpstream,
    /// An upstream SSE event exceeded the rewriter's limit.
    EventTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl ResponsesError {
    /// The error to answer the client with.
    pub fn to_client(&self) -> ClientError {
        match self {
            Self::InvalidJson => ClientError::new(
                ErrorCode::InvalidJson,
                "the request body must be a JSON object",
            ),
            Self::Rejected { field, param, .. } => {
                let (code, message) = match field {
                    Field::PreviousResponseId => (
                        ErrorCode::PreviousResponseNotFound,
                        String::from(
                            "previous_response_id is not a response id this gateway issued to \
                             this API key",
                        ),
                    ),
                    Field::Conversation => (
                        ErrorCode::ConversationNotFound,
                        format!(
                            "{param} is not a conversation id this gateway issued to this API key"
                        ),
                    ),
                    Field::InputItemId | Field::EncryptedContent => (
                        ErrorCode::InvalidEncryptedContent,
                        format!(
                            "{param} was not issued by this gateway to this API key, or was \
                             modified; send reasoning and compaction items back exactly as \
                             they were returned"
                        ),
                    ),
                    Field::Cursor => (
                        ErrorCode::InvalidRequest,
                        format!("{param} is not an id this gateway issued to this API key"),
                    ),
                };
                ClientError::new(code, message).with_param(param.as_str())
            }
            Self::Conflict { param, earlier, .. } => ClientError::new(
                ErrorCode::AffinityConflict,
                format!(
                    "{param} comes from a different deployment than {earlier}; one request can \
                     only continue state produced by one deployment"
                ),
            )
            .with_param(param.as_str()),
            Self::CannotStrip { param } => ClientError::new(
                ErrorCode::PinnedDeploymentUnavailable,
                format!(
                    "the deployment that holds the state named by {param} is unavailable, and \
                     that state cannot be moved to another deployment; retry later or start a \
                     new conversation"
                ),
            )
            .with_param(*param),
            Self::NotFound { .. } => ClientError::from_code(ErrorCode::ResponseNotFound),
            Self::BadUpstream => ClientError::new(
                ErrorCode::BadUpstreamResponse,
                "the provider sent a Responses API body that is not JSON",
            ),
            Self::EventTooLarge { limit } => ClientError::new(
                ErrorCode::BadUpstreamResponse,
                format!("the provider sent a stream event larger than {limit} bytes"),
            ),
        }
    }
}

impl core::fmt::Display for ResponsesError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Rejected { param, reason, .. } => {
                write!(f, "{param}: marker rejected ({})", reason.as_str())
            }
            Self::Conflict {
                param,
                earlier,
                deployments: (a, b),
            } => write!(f, "{param} pins to {b} but {earlier} pins to {a}"),
            Self::NotFound { reason } => write!(f, "response id rejected ({})", reason.as_str()),
            other => f.write_str(&other.to_client().message),
        }
    }
}

impl core::error::Error for ResponsesError {}
