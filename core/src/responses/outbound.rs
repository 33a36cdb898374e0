//! Outbound sealing of Responses API JSON: which string values of an
//! upstream answer are replaced by sealed ids or wrapped, shared by
//! [`seal_response_body`] (whole JSON bodies) and the SSE rewriter.
//!
//! The rule is by key, at any depth, outside caller-defined data:
//! - a string under `id`, `item_id`, `response_id`, `previous_response_id`,
//!   `first_id`, `last_id` or `conversation` that starts with `resp_`,
//!   `rs_`, `cmp_` or `conv_` becomes the sealed id of that purpose
//!   (message, function-call and other ids are left alone);
//! - a string under `encrypted_content` gets an `enc_…` marker prepended;
//! - nothing under `metadata`, `variables`, `parameters`, `schema` or
//!   `input_schema` is touched (those hold the caller's own data).
//!
//! Keying on names rather than on event types covers every response object
//! (`response.*` events, `GET`, `DELETE`, `cancel`, `compact`), every output
//! item (`output[]`, `item`, input-item lists) and every `item_id`
//! reference (`reasoning_summary_*` events) with one rule, including event
//! types added later.

use alloc::vec::Vec;
use core::convert::Infallible;

use super::marker::Sealing;
use super::scan::{self, Edit, Frame, Key, Str};
use super::ResponsesError;
use crate::seal::{Keys, Owner, Purpose};

/// The edit sealing applies to one visited string, if any.
pub(crate) fn seal_value(sealing: &mut Sealing, frames: &[Frame], s: Str<'_>) -> Option<Edit> {
    let (last, outer) = frames.split_last()?;
    let content = match last.key {
        Key::EncryptedContent => true,
        Key::Id
        | Key::ItemId
        | Key::ResponseId
        | Key::PreviousResponseId
        | Key::FirstId
        | Key::LastId
        | Key::Conversation => false,
        _ => return None,
    };
    if outer.iter().any(|f| f.obj && f.key == Key::Opaque) {
        return None;
    }
    let text = s.text()?;
    if content {
        Some(Edit::Prepend(sealing.content(s.raw(), &text)?))
    } else {
        let purpose = Purpose::of_responses_id(&text)?;
        Some(Edit::Replace(sealing.id(purpose, &text)?))
    }
}

/// Seals an upstream Responses API JSON body (a response object from
/// `POST /v1/responses`, `GET`/`cancel`/`compact`, a `DELETE` answer, or an
/// `input_items` list) for the key `owner`, served by `deployment`.
///
/// Everything but the sealed values is copied byte for byte. Sealing is
/// deterministic, so `GET /v1/responses/{id}` answers with the very `id` the
/// client asked for, and `first_id`/`last_id` equal the ids in `data`.
///
/// # Errors
/// [`ResponsesError::BadUpstream`] if the body is not JSON.
pub fn seal_response_body(
    body: &[u8],
    sealer: &Keys,
    owner: &Owner,
    deployment: &str,
) -> Result<Vec<u8>, ResponsesError> {
    let mut sealing = Sealing::new(sealer, owner, deployment);
    let mut out = Vec::with_capacity(body.len() + body.len() / 16 + 256);
    scan::rewrite(body, &mut out, |frames, s| {
        Ok::<_, Infallible>(seal_value(&mut sealing, frames, s))
    })
    .map_err(|_| ResponsesError::BadUpstream)?;
    Ok(out)
}
