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
use crate::redact::Redactor;
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

/// A Responses JSON answer (sealed by [`seal_response_body`]) cleaned of
/// the secrets `redactor` knows (and secret-shaped runs) when its `error`
/// (a failed response's upstream message) holds one: then the whole text
/// is redacted, as the SSE rewriter does for an event carrying an error.
/// Any other answer is passed on byte for byte (model output is not the
/// upstream's own text).
pub fn redact_failed_answer(body: Vec<u8>, redactor: &Redactor) -> Vec<u8> {
    let Ok(text) = core::str::from_utf8(&body) else {
        return body;
    };
    let clean = redactor.redact(text);
    if clean == text {
        return body;
    }
    let error_had_one = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|mut v| v.get_mut("error").map(|e| redactor.redact_json(e, &[])))
        .unwrap_or(false);
    if error_had_one {
        clean.into_bytes()
    } else {
        body
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;
    use alloc::format;

    #[test]
    fn a_failed_answer_loses_the_secrets_in_its_error() {
        let key = "azure-0123456789abcdef";
        let r = Redactor::of([key]);
        let failed = format!(
            r#"{{"id":"resp_x","status":"failed","error":{{"code":"server_error","message":"key {key} refused"}}}}"#
        );
        let out = redact_failed_answer(failed.clone().into_bytes(), &r);
        let out = alloc::string::String::from_utf8(out).unwrap();
        assert!(!out.contains(key), "{out}");
        assert!(out.contains("key [redacted] refused"), "{out}");
        // No error, or a clean one: byte for byte.
        let ok = format!(r#"{{"id":"resp_x","error":null,"output_text":"{key}"}}"#);
        assert_eq!(
            redact_failed_answer(ok.clone().into_bytes(), &r),
            ok.as_bytes()
        );
        let clean = r#"{"error":{"message":"busy"}}"#;
        assert_eq!(redact_failed_answer(clean.into(), &r), clean.as_bytes());
    }
}
