//! The two marker codecs of Responses API affinity: sealed ids
//! (`resp_…`, `rs_…`, `cmp_…`, `conv_…`) and wrapped `encrypted_content`
//! (`enc_<mac'd marker>.<original>`), plus the small caches that make
//! sealing the same value twice in one stream cost one lookup.
//!
//! Wire formats are documented in the parent module.

use alloc::string::String;
use alloc::vec::Vec;

use super::Rejection;
use crate::encoding::{ct_eq, hex, hex_decode, sha256};
use crate::seal::{Keys, Owner, Purpose, Sealed};

/// Separates the `enc_…` marker from the original content. It is in
/// neither base64 alphabet, and the marker (base64url) never contains it.
pub(crate) const CONTENT_SEP: char = '.';
/// Bytes of SHA-256(original content) bound into a content marker.
pub(crate) const BINDING_LEN: usize = 16;
/// Sealed ids and content markers carry no timestamp (see the module doc:
/// sealing is deterministic).
const CREATED_AT: u64 = 0;

/// Payload tag: the upstream id, verbatim (UTF-8).
const ID_VERBATIM: u8 = 0;
/// Payload tag: the upstream id is the purpose prefix + lowercase hex, and
/// the payload holds the decoded bytes (halves the size of OpenAI ids).
const ID_PREFIX_HEX: u8 = 1;

fn id_payload(purpose: Purpose, upstream: &str) -> Vec<u8> {
    let rest = upstream.strip_prefix(purpose.prefix()).unwrap_or("");
    let compact = !rest.is_empty()
        && rest.len() % 2 == 0
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match hex_decode(rest) {
        Some(bytes) if compact => {
            let mut payload = Vec::with_capacity(1 + bytes.len());
            payload.push(ID_PREFIX_HEX);
            payload.extend_from_slice(&bytes);
            payload
        }
        _ => {
            let mut payload = Vec::with_capacity(1 + upstream.len());
            payload.push(ID_VERBATIM);
            payload.extend_from_slice(upstream.as_bytes());
            payload
        }
    }
}

fn id_from_payload(purpose: Purpose, payload: &[u8]) -> Option<String> {
    let (&tag, rest) = payload.split_first()?;
    match tag {
        ID_VERBATIM => core::str::from_utf8(rest).ok().map(String::from),
        ID_PREFIX_HEX => {
            let mut id = String::from(purpose.prefix());
            id.push_str(&hex(rest));
            Some(id)
        }
        _ => None,
    }
}

/// Seals the upstream id `upstream` (which starts with `purpose`'s prefix);
/// `None` only if `purpose` is not an id purpose.
pub(crate) fn seal_id(
    sealer: &Keys,
    owner: &Owner,
    deployment: &str,
    purpose: Purpose,
    upstream: &str,
) -> Option<String> {
    sealer
        .seal_id(&Sealed {
            purpose,
            owner: *owner,
            created_at_ms: CREATED_AT,
            deployment: String::from(deployment),
            payload: id_payload(purpose, upstream),
        })
        .ok()
}

fn open_sealed(
    sealer: &Keys,
    owner: &Owner,
    purpose: Purpose,
    text: &str,
) -> Result<Sealed, Rejection> {
    let sealed = sealer.open_id(purpose, text).map_err(Rejection::from)?;
    if !owner.may_open(&sealed.owner) {
        return Err(Rejection::OtherOwner);
    }
    Ok(sealed)
}

/// Opens a sealed id of `purpose` issued to `owner`: (deployment, upstream id).
pub(crate) fn open_id(
    sealer: &Keys,
    owner: &Owner,
    purpose: Purpose,
    id: &str,
) -> Result<(String, String), Rejection> {
    let sealed = open_sealed(sealer, owner, purpose, id)?;
    let upstream = id_from_payload(purpose, &sealed.payload).ok_or(Rejection::Malformed)?;
    Ok((sealed.deployment, upstream))
}

/// The marker (with its trailing separator) to put in front of `content`.
pub(crate) fn content_marker(
    sealer: &Keys,
    owner: &Owner,
    deployment: &str,
    content: &str,
) -> Option<String> {
    let mut marker = sealer
        .seal_id(&Sealed {
            purpose: Purpose::EncryptedContent,
            owner: *owner,
            created_at_ms: CREATED_AT,
            deployment: String::from(deployment),
            payload: sha256(content.as_bytes())[..BINDING_LEN].to_vec(),
        })
        .ok()?;
    marker.push(CONTENT_SEP);
    Some(marker)
}

/// Opens a wrapped `encrypted_content`: (deployment, length in bytes of the
/// marker and separator to drop; the rest is the original).
pub(crate) fn open_content(
    sealer: &Keys,
    owner: &Owner,
    wrapped: &str,
) -> Result<(String, usize), Rejection> {
    if !wrapped.starts_with(Purpose::EncryptedContent.prefix()) {
        return Err(Rejection::NotSealed);
    }
    let sep = wrapped.find(CONTENT_SEP).ok_or(Rejection::Malformed)?;
    let sealed = open_sealed(sealer, owner, Purpose::EncryptedContent, &wrapped[..sep])?;
    let original = &wrapped[sep + 1..];
    if !ct_eq(&sealed.payload, &sha256(original.as_bytes())[..BINDING_LEN]) {
        return Err(Rejection::Unbound);
    }
    Ok((sealed.deployment, sep + 1))
}

/// How many recent values each cache of [`Sealing`] keeps.
const CACHE: usize = 8;

/// Sealing for one upstream answer (one deployment, one owner), with small
/// caches: a stream repeats the same item id in every
/// `reasoning_summary_text.delta` and the same `encrypted_content` in
/// `output_item.done` and `response.completed`. Sealing is deterministic, so
/// a cache hit is exactly what sealing again would give.
#[derive(Clone)]
pub(crate) struct Sealing {
    sealer: Keys,
    owner: Owner,
    deployment: String,
    ids: Vec<(String, String)>,
    contents: Vec<(Vec<u8>, String)>,
}

impl Sealing {
    pub(crate) fn new(sealer: &Keys, owner: &Owner, deployment: &str) -> Self {
        Self {
            sealer: sealer.clone(),
            owner: *owner,
            deployment: String::from(deployment),
            ids: Vec::new(),
            contents: Vec::new(),
        }
    }

    /// The sealed form of `upstream` (which starts with `purpose`'s prefix);
    /// `None` only if `purpose` is not an id purpose.
    pub(crate) fn id(&mut self, purpose: Purpose, upstream: &str) -> Option<String> {
        if let Some((_, sealed)) = self.ids.iter().find(|(up, _)| up == upstream) {
            return Some(sealed.clone());
        }
        let sealed = seal_id(
            &self.sealer,
            &self.owner,
            &self.deployment,
            purpose,
            upstream,
        )?;
        remember(&mut self.ids, (String::from(upstream), sealed.clone()));
        Some(sealed)
    }

    /// The marker to prepend to an `encrypted_content` whose JSON literal
    /// contents are `raw` and whose text is `content`.
    pub(crate) fn content(&mut self, raw: &[u8], content: &str) -> Option<String> {
        if let Some((_, marker)) = self.contents.iter().find(|(r, _)| r == raw) {
            return Some(marker.clone());
        }
        let marker = content_marker(&self.sealer, &self.owner, &self.deployment, content)?;
        remember(&mut self.contents, (raw.to_vec(), marker.clone()));
        Some(marker)
    }
}

fn remember<T>(cache: &mut Vec<T>, entry: T) {
    if cache.len() == CACHE {
        cache.remove(0);
    }
    cache.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{b64url_decode, b64url_encode};
    use crate::seal::OWNER_LEN;

    const OWNER: Owner = Owner::key([3; OWNER_LEN]);

    fn sealer() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    #[test]
    fn ids_round_trip_compact_and_verbatim() {
        let s = sealer();
        for (purpose, up) in [
            (
                Purpose::Response,
                "resp_68af4030592c8190aa0c8dd5e3c1e8e40c8b3f6c58c8a8ed",
            ),
            (Purpose::ReasoningItem, "rs_0123abcd"),
            (Purpose::ReasoningItem, "rs_ABC-not-hex"),
            (Purpose::ReasoningItem, "rs_abc"),
            (Purpose::CompactionItem, "cmp_"),
            (Purpose::Conversation, "conv_ff00"),
        ] {
            let id = seal_id(&s, &OWNER, "dep-a", purpose, up).unwrap();
            assert!(id.starts_with(purpose.prefix()), "{id}");
            assert_eq!(
                open_id(&s, &OWNER, purpose, &id).unwrap(),
                ("dep-a".into(), up.into())
            );
            assert_eq!(
                id,
                seal_id(&s, &OWNER, "dep-a", purpose, up).unwrap(),
                "deterministic"
            );
        }
        let long = seal_id(
            &s,
            &OWNER,
            "dep-a",
            Purpose::Response,
            "resp_68af4030592c8190aa0c8dd5e3c1e8e40c8b3f6c58c8a8ed",
        )
        .unwrap();
        assert!(long.len() < 110, "hex ids are stored compactly: {long}");
    }

    #[test]
    fn ids_reject_other_owner_key_and_purpose() {
        let s = sealer();
        let id = seal_id(&s, &OWNER, "d", Purpose::ReasoningItem, "rs_00").unwrap();
        assert_eq!(
            open_id(&s, &Owner::key([4; OWNER_LEN]), Purpose::ReasoningItem, &id),
            Err(Rejection::OtherOwner)
        );
        let other = Keys::derive(&[8u8; 32]).unwrap();
        assert_eq!(
            open_id(&other, &OWNER, Purpose::ReasoningItem, &id),
            Err(Rejection::Tampered)
        );
        let as_cmp = alloc::format!("cmp_{}", &id[3..]);
        assert_eq!(
            open_id(&s, &OWNER, Purpose::CompactionItem, &as_cmp),
            Err(Rejection::Purpose)
        );
        assert_eq!(
            open_id(&s, &OWNER, Purpose::ReasoningItem, "rs_68af40305"),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn content_markers_bind_to_their_content() {
        let s = sealer();
        let original = "gAAAAABoqT3+/abc==";
        let marker = content_marker(&s, &OWNER, "dep-b", original).unwrap();
        assert!(marker.starts_with("enc_") && marker.ends_with('.'));
        let wrapped = alloc::format!("{marker}{original}");
        let (dep, cut) = open_content(&s, &OWNER, &wrapped).unwrap();
        assert_eq!((dep.as_str(), &wrapped[cut..]), ("dep-b", original));

        let swapped = alloc::format!("{marker}gAAAAABother");
        assert_eq!(open_content(&s, &OWNER, &swapped), Err(Rejection::Unbound));
        assert_eq!(
            open_content(&s, &Owner::key([0; OWNER_LEN]), &wrapped),
            Err(Rejection::OtherOwner)
        );
        assert_eq!(
            open_content(&s, &OWNER, original),
            Err(Rejection::NotSealed)
        );
        assert_eq!(
            open_content(&s, &OWNER, "enc_abc"),
            Err(Rejection::Malformed)
        );
        // Flip one bit of the marker.
        let sep = marker.len() - 1;
        let mut raw = b64url_decode(&marker[4..sep]).unwrap();
        raw[30] ^= 1;
        let forged = alloc::format!("enc_{}.{original}", b64url_encode(&raw));
        assert_eq!(open_content(&s, &OWNER, &forged), Err(Rejection::Tampered));
    }

    #[test]
    fn sealing_cache_agrees_with_uncached_sealing() {
        let s = sealer();
        let mut sealing = Sealing::new(&s, &OWNER, "dep");
        for round in 0..3 {
            for i in 0..(CACHE + 3) {
                let up = alloc::format!("rs_{i:04x}");
                assert_eq!(
                    sealing.id(Purpose::ReasoningItem, &up),
                    seal_id(&s, &OWNER, "dep", Purpose::ReasoningItem, &up),
                    "round {round}"
                );
                let c = alloc::format!("content{i}");
                assert_eq!(
                    sealing.content(c.as_bytes(), &c),
                    content_marker(&s, &OWNER, "dep", &c)
                );
            }
        }
    }
}
