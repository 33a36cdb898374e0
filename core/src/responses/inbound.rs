//! Inbound restoring of Responses API requests: opens the markers a client
//! sends back (`previous_response_id`, `conversation`, reasoning and
//! compaction items in `input[]`, `item_reference`s to them, wrapped
//! `encrypted_content`), puts the upstream originals back and says which
//! deployment the request is pinned to. Also the path-id and cursor
//! openers, and the strip policy for when the pinned deployment is gone.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::marker::{open_content, open_id};
use super::scan::{self, Edit, Frame, Key, ScanError, Str};
use super::{Field, Rejection, ResponsesError};
use crate::seal::{Keys, Owner, Purpose};

/// A request body with every marker opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The body to send upstream: the client's bytes with upstream ids and
    /// `encrypted_content` restored, everything else unchanged.
    pub body: Vec<u8>,
    /// The deployment that owns the state the request continues, if it
    /// continues any: routing must send it there (or apply the strip policy).
    pub pin: Option<String>,
    /// The request's top-level `model`, if it is a string.
    pub model: Option<String>,
}

/// A sealed path id, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredId {
    /// The deployment that owns the response.
    pub deployment: String,
    /// The upstream's own id.
    pub upstream_id: String,
}

/// A request body after [`strip_pinned_reasoning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripped {
    /// The body without the removed items.
    pub body: Vec<u8>,
    /// How many `input[]` items were removed.
    pub removed: usize,
}

/// Opens every marker in a `POST /v1/responses` body (also fits
/// `POST /v1/responses/compact` and `/input_tokens`, which take the same
/// `input`) for the key `owner`.
///
/// Looked at: top-level `previous_response_id` (`resp_…`), `conversation`
/// (`"conv_…"` or `{"id":"conv_…"}`), and in each `input[]` item its `id`
/// when it is a reasoning or compaction id (`rs_…`, `cmp_…`: reasoning and
/// compaction items and `item_reference`s to them) and its
/// `encrypted_content`. Each must be a marker this gateway issued to this
/// key: raw upstream values, tampered, foreign (other `SEALING_KEY`) and
/// other keys' markers are all rejected the same way (the
/// [`Rejection`] inside says which, for logs). Other ids (`msg_…`, `fc_…`,
/// `call_…`) are not sealed and pass through.
///
/// # Errors
/// [`ResponsesError::InvalidJson`] if the body is not a JSON object,
/// [`ResponsesError::Rejected`] for a marker that does not open,
/// [`ResponsesError::Conflict`] when markers name two deployments.
pub fn restore_request(
    body: &[u8],
    sealer: &Keys,
    owner: &Owner,
) -> Result<Restored, ResponsesError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ResponsesError::InvalidJson);
    }
    let mut pin: Option<(String, String)> = None;
    let mut model = None;
    let mut out = Vec::with_capacity(body.len());
    let result = scan::rewrite(body, &mut out, |frames, s| {
        let target = match frames {
            [top] => match top.key {
                Key::Model => {
                    model = s.text().map(Cow::into_owned);
                    return Ok(None);
                }
                Key::PreviousResponseId => Target::Id(Field::PreviousResponseId, Purpose::Response),
                Key::Conversation => Target::Id(Field::Conversation, Purpose::Conversation),
                _ => return Ok(None),
            },
            [top, last] if top.key == Key::Conversation && last.key == Key::Id => {
                Target::Id(Field::Conversation, Purpose::Conversation)
            }
            [top, list, item] if top.key == Key::Input && !list.obj => match item.key {
                Key::Id => Target::Id(Field::InputItemId, Purpose::ReasoningItem),
                Key::EncryptedContent => Target::Content,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        restore_value(sealer, owner, &mut pin, frames, s, target)
    });
    match result {
        Ok(_) => Ok(Restored {
            body: out,
            pin: pin.map(|(deployment, _)| deployment),
            model,
        }),
        Err(ScanError::Visit(e)) => Err(e),
        Err(ScanError::Syntax | ScanError::TooDeep) => Err(ResponsesError::InvalidJson),
    }
}

enum Target {
    /// A sealed id; for input items the purpose is taken from the prefix.
    Id(Field, Purpose),
    /// A wrapped `encrypted_content`.
    Content,
}

fn restore_value(
    sealer: &Keys,
    owner: &Owner,
    pin: &mut Option<(String, String)>,
    frames: &[Frame],
    s: Str<'_>,
    target: Target,
) -> Result<Option<Edit>, ResponsesError> {
    let field = match target {
        Target::Id(field, _) => field,
        Target::Content => Field::EncryptedContent,
    };
    let param = || param_of(field, frames);
    let reject = |reason| ResponsesError::Rejected {
        field,
        param: param(),
        reason,
    };
    let text = s.text().ok_or_else(|| reject(Rejection::Malformed))?;
    let (deployment, edit) = match target {
        Target::Id(field, purpose) => {
            let purpose = if field == Field::InputItemId {
                // Only reasoning and compaction items are sealed.
                match Purpose::of_responses_id(&text) {
                    Some(p @ (Purpose::ReasoningItem | Purpose::CompactionItem)) => p,
                    _ => return Ok(None),
                }
            } else {
                purpose
            };
            if !text.starts_with(purpose.prefix()) {
                return Err(reject(Rejection::NotSealed));
            }
            let (deployment, upstream) = open_id(sealer, owner, purpose, &text).map_err(reject)?;
            (deployment, Edit::Replace(json_escape(&upstream)))
        }
        Target::Content => {
            let (deployment, cut) = open_content(sealer, owner, &text).map_err(reject)?;
            let edit = if s.escaped() {
                Edit::Replace(json_escape(&text[cut..]))
            } else {
                Edit::DropRaw(cut)
            };
            (deployment, edit)
        }
    };
    match pin {
        None => *pin = Some((deployment, param())),
        Some((pinned, _)) if *pinned == deployment => {}
        Some((pinned, earlier)) => {
            return Err(ResponsesError::Conflict {
                param: param(),
                earlier: earlier.clone(),
                deployments: (pinned.clone(), deployment),
            })
        }
    }
    Ok(Some(edit))
}

/// The request parameter a visited value sits at, for error messages.
fn param_of(field: Field, frames: &[Frame]) -> String {
    match (field, frames) {
        (Field::InputItemId | Field::EncryptedContent, [_, list, _]) => {
            let key = if field == Field::InputItemId {
                "id"
            } else {
                "encrypted_content"
            };
            format!("input[{}].{key}", list.index)
        }
        (Field::Conversation, [_, _]) => String::from("conversation.id"),
        _ => String::from(field.as_str()),
    }
}

/// JSON string contents for `text` (no quotes).
fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Opens a response id from a path (`GET`/`DELETE /v1/responses/{id}`,
/// `…/input_items`, `…/cancel`) for the key `owner`.
///
/// # Errors
/// [`ResponsesError::NotFound`] for anything that is not a response id this
/// gateway issued to this key: a raw upstream id, a tampered or foreign one
/// and another key's all get the same answer.
pub fn restore_id(
    path_id: &str,
    sealer: &Keys,
    owner: &Owner,
) -> Result<RestoredId, ResponsesError> {
    if !path_id.starts_with(Purpose::Response.prefix()) {
        return Err(ResponsesError::NotFound {
            reason: Rejection::NotSealed,
        });
    }
    let (deployment, upstream_id) = open_id(sealer, owner, Purpose::Response, path_id)
        .map_err(|reason| ResponsesError::NotFound { reason })?;
    Ok(RestoredId {
        deployment,
        upstream_id,
    })
}

/// Opens a pagination cursor (`after`/`before` of `…/input_items`, named
/// `param`): a sealed `resp_`/`rs_`/`cmp_`/`conv_` id opens to
/// `(Some(deployment), upstream id)`; any other id (`msg_…`) is not sealed
/// and comes back as `(None, id)`.
///
/// # Errors
/// [`ResponsesError::Rejected`] (field [`Field::Cursor`]) when a sealed-looking
/// id does not open for this key.
pub fn restore_cursor(
    param: &str,
    id: &str,
    sealer: &Keys,
    owner: &Owner,
) -> Result<(Option<String>, String), ResponsesError> {
    let Some(purpose) = Purpose::of_responses_id(id) else {
        return Ok((None, String::from(id)));
    };
    let (deployment, upstream) =
        open_id(sealer, owner, purpose, id).map_err(|reason| ResponsesError::Rejected {
            field: Field::Cursor,
            param: String::from(param),
            reason,
        })?;
    Ok((Some(deployment), upstream))
}

/// The "pinned deployment unavailable" policy: removes from `input[]` every
/// item that only the pinned deployment can read — reasoning and compaction
/// items, any item carrying `encrypted_content`, and `item_reference`s to
/// reasoning/compaction ids — so the request can be routed like a new one.
/// Works on the client's body or on [`Restored::body`] alike.
///
/// A body without such items comes back byte for byte; otherwise it is
/// re-serialised (this path is rare; key order may change).
///
/// # Errors
/// [`ResponsesError::InvalidJson`] if the body is not a JSON object, and
/// [`ResponsesError::CannotStrip`] when it continues server-side state
/// (`previous_response_id` or `conversation`): that state lives only on the
/// pinned deployment, and dropping it would silently change the meaning of
/// the request.
pub fn strip_pinned_reasoning(body: &[u8]) -> Result<Stripped, ResponsesError> {
    use serde_json::Value;
    let mut value: Value = serde_json::from_slice(body).map_err(|_| ResponsesError::InvalidJson)?;
    let obj = value.as_object_mut().ok_or(ResponsesError::InvalidJson)?;
    for param in ["previous_response_id", "conversation"] {
        if obj.get(param).is_some_and(|v| !v.is_null()) {
            return Err(ResponsesError::CannotStrip { param });
        }
    }
    let removed = match obj.get_mut("input") {
        Some(Value::Array(items)) => {
            let before = items.len();
            items.retain(|item| !holds_pinned_state(item));
            before - items.len()
        }
        _ => 0,
    };
    if removed == 0 {
        return Ok(Stripped {
            body: body.to_vec(),
            removed,
        });
    }
    let body = serde_json::to_vec(&value).map_err(|_| ResponsesError::InvalidJson)?;
    Ok(Stripped { body, removed })
}

fn holds_pinned_state(item: &serde_json::Value) -> bool {
    let kind = item.get("type").and_then(|t| t.as_str());
    let id = item.get("id").and_then(|t| t.as_str()).unwrap_or("");
    matches!(kind, Some("reasoning" | "compaction"))
        || item.get("encrypted_content").is_some_and(|c| !c.is_null())
        || matches!(
            Purpose::of_responses_id(id),
            Some(Purpose::ReasoningItem | Purpose::CompactionItem)
        )
}
