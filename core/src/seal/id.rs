//! Sealed ids: the ids reelay hands to clients for upstream-scoped state
//! (video jobs, characters, Responses API ids and `encrypted_content`
//! markers, realtime call ids), and their Gemini file-token spelling.
//!
//! An id carries the deployment that owns the state, the owning key and a
//! small payload, MAC'd under the ids key (see the parent module), so a
//! client can neither forge a route nor read another key's jobs. It is not
//! encrypted: the payload holds only non-secret values (deployment id,
//! upstream operation name).
//!
//! Body layout, inside the MAC envelope (`version ‖ purpose byte ‖ body ‖ tag`):
//!
//! ```text
//! version 1 (state created with a virtual key):
//! bytes 0..16  owner: the first 16 bytes of SHA-256(virtual key)
//! bytes 16..24 created_at, unix milliseconds, big endian
//! byte 24      length n of the deployment id, then n bytes
//! rest         payload (purpose-specific, opaque here)
//!
//! version 2 (state created with a browser token, for one visitor):
//! bytes 0..16  owner, as above
//! bytes 16..32 the visitor's subject fingerprint ([`Keys::subject`])
//! then         created_at, deployment and payload, as above
//! ```
//!
//! **Who may open an id** ([`Owner::may_open`]): the key, any id it owns
//! (its visitors' too); a browser token, only ids of its own subject.
//! Version 1 ids, sealed before subjects existed or by the key itself,
//! belong to the key alone.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, Keys, Purpose};
use crate::encoding::{b64url_decode, b64url_encode, ct_eq, hex, hmac_sha256};

/// Length of the owner fingerprint sealed into ids.
pub const OWNER_LEN: usize = 16;
/// Length of a visitor's subject fingerprint sealed into ids and tokens.
pub const SUBJECT_LEN: usize = 16;
/// Owner, creation time and deployment length.
pub(super) const FIXED_LEN: usize = OWNER_LEN + 8 + 1;
/// The id layout without a subject, and with one.
const KEY_VERSION: u8 = 1;
const SUBJECT_VERSION: u8 = 2;

/// The owner fingerprint of a virtual key: the first [`OWNER_LEN`] bytes of
/// its SHA-256 (the same hash the key record is stored under).
pub fn owner_of(key_hash: &[u8; 32]) -> [u8; OWNER_LEN] {
    let mut owner = [0u8; OWNER_LEN];
    owner.copy_from_slice(&key_hash[..OWNER_LEN]);
    owner
}

/// Who state belongs to: a virtual key and, for state a browser token
/// created, the visitor the token was minted for (its subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The key's fingerprint ([`owner_of`]).
    pub key: [u8; OWNER_LEN],
    /// The visitor's subject fingerprint ([`Keys::subject`]); `None` for
    /// the key itself.
    pub subject: Option<[u8; SUBJECT_LEN]>,
}

impl Owner {
    /// The key itself (it sees all of its state, its visitors' too).
    pub const fn key(key: [u8; OWNER_LEN]) -> Self {
        Self { key, subject: None }
    }

    /// The key with `key_hash`, acting for `subject` when a browser token
    /// (or a token one minted) acts.
    pub fn of(key_hash: &[u8; 32], subject: Option<[u8; SUBJECT_LEN]>) -> Self {
        Self {
            key: owner_of(key_hash),
            subject,
        }
    }

    /// Whether this caller may open state sealed for `state`: the same key
    /// (compared in constant time), and — unless the caller is the key
    /// itself — the same subject. State the key created (no subject) is
    /// the key's alone.
    pub fn may_open(&self, state: &Owner) -> bool {
        let same_key = ct_eq(&self.key, &state.key);
        let same_subject = match (&self.subject, &state.subject) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => ct_eq(mine, theirs),
            (Some(_), None) => false,
        };
        same_key & same_subject
    }

    /// The subject fingerprint as hex (job records), if any.
    pub fn subject_hex(&self) -> Option<String> {
        self.subject.map(|s| hex(&s))
    }
}

/// The contents of a sealed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// What the id is for (one of the [`Purpose::is_id`] purposes).
    pub purpose: Purpose,
    /// Who the state belongs to.
    pub owner: Owner,
    /// When the state was created, unix milliseconds (orders a key's jobs).
    pub created_at_ms: u64,
    /// Id of the deployment that owns the upstream state.
    pub deployment: String,
    /// Purpose-specific bytes (for videos: see `video::VideoHandle`).
    pub payload: Vec<u8>,
}

impl Keys {
    /// Seals `sealed` into an id (`video_…`). Deployment ids longer than 255
    /// bytes are cut by config validation long before this point; here they
    /// are clamped. [`Error::Unsupported`] when its purpose is a token.
    pub fn seal_id(&self, sealed: &Sealed) -> Result<String, Error> {
        if !sealed.purpose.is_id() {
            return Err(Error::Unsupported);
        }
        let dep = sealed.deployment.as_bytes();
        let dep = &dep[..dep.len().min(255)];
        let mut body =
            Vec::with_capacity(FIXED_LEN + SUBJECT_LEN + dep.len() + sealed.payload.len());
        body.extend_from_slice(&sealed.owner.key);
        let version = match &sealed.owner.subject {
            Some(subject) => {
                body.extend_from_slice(subject);
                SUBJECT_VERSION
            }
            None => KEY_VERSION,
        };
        body.extend_from_slice(&sealed.created_at_ms.to_be_bytes());
        body.push(dep.len() as u8);
        body.extend_from_slice(dep);
        body.extend_from_slice(&sealed.payload);
        self.seal_mac_version(sealed.purpose, version, &body)
    }

    /// Opens an id sealed for `purpose` (either layout). Whether a caller
    /// may use it is [`Owner::may_open`]'s decision.
    pub fn open_id(&self, purpose: Purpose, id: &str) -> Result<Sealed, Error> {
        if !purpose.is_id() {
            return Err(Error::Unsupported);
        }
        let (version, body) =
            self.open_mac_versions(purpose, &[KEY_VERSION, SUBJECT_VERSION], id)?;
        if body.len() < FIXED_LEN {
            return Err(Error::Malformed);
        }
        let mut key = [0u8; OWNER_LEN];
        key.copy_from_slice(&body[..OWNER_LEN]);
        let (subject, body) = if version == SUBJECT_VERSION {
            let rest = &body[OWNER_LEN..];
            if rest.len() < SUBJECT_LEN + FIXED_LEN - OWNER_LEN {
                return Err(Error::Malformed);
            }
            let mut subject = [0u8; SUBJECT_LEN];
            subject.copy_from_slice(&rest[..SUBJECT_LEN]);
            // The rest reads as a version 1 body after the owner.
            let mut shifted = Vec::with_capacity(body.len() - SUBJECT_LEN);
            shifted.extend_from_slice(&body[..OWNER_LEN]);
            shifted.extend_from_slice(&rest[SUBJECT_LEN..]);
            (Some(subject), shifted)
        } else {
            (None, body)
        };
        let owner = Owner { key, subject };
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&body[OWNER_LEN..OWNER_LEN + 8]);
        let dep_len = usize::from(body[FIXED_LEN - 1]);
        let rest = &body[FIXED_LEN..];
        if rest.len() < dep_len {
            return Err(Error::Malformed);
        }
        let (dep, payload) = rest.split_at(dep_len);
        let deployment = core::str::from_utf8(dep).map_err(|_| Error::Malformed)?;
        Ok(Sealed {
            purpose,
            owner,
            created_at_ms: u64::from_be_bytes(ts),
            deployment: String::from(deployment),
            payload: payload.to_vec(),
        })
    }
}

/// An upstream id opened from its sealed form ([`Keys::open_upstream_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamId {
    /// The deployment holding the upstream state.
    pub deployment: String,
    /// The upstream's own id.
    pub id: String,
    /// Who the state belongs to.
    pub owner: Owner,
}

/// Longest upstream id [`Keys::seal_upstream_id`] seals.
pub const MAX_UPSTREAM_ID_LEN: usize = 256;

impl Keys {
    /// Seals the upstream id `upstream_id` (a GPT-Live session, a Gemini
    /// interaction, …) held by `deployment` for `owner`: the payload is the
    /// id's bytes. Empty, over-long or non-printable ids are refused as
    /// [`Error::Unsupported`] (an upstream answer reelay will not hand on).
    pub fn seal_upstream_id(
        &self,
        purpose: Purpose,
        owner: Owner,
        deployment: &str,
        upstream_id: &str,
        now_ms: u64,
    ) -> Result<String, Error> {
        if !plausible_upstream_id(upstream_id) {
            return Err(Error::Unsupported);
        }
        self.seal_id(&Sealed {
            purpose,
            owner,
            created_at_ms: now_ms,
            deployment: String::from(deployment),
            payload: upstream_id.as_bytes().to_vec(),
        })
    }

    /// Opens an id sealed by [`Keys::seal_upstream_id`] for `caller`: its
    /// deployment and upstream id, when the caller may open it
    /// ([`Owner::may_open`]); [`Error::NotOwner`] for another key's or
    /// visitor's id. Every failure maps to [`Purpose::refusal`] through
    /// [`Error::to_client`], so a prober cannot tell them apart.
    pub fn open_upstream_id(
        &self,
        purpose: Purpose,
        id: &str,
        caller: &Owner,
    ) -> Result<UpstreamId, Error> {
        let sealed = self.open_id(purpose, id)?;
        if !caller.may_open(&sealed.owner) {
            return Err(Error::NotOwner);
        }
        let upstream = String::from_utf8(sealed.payload).map_err(|_| Error::Malformed)?;
        if !plausible_upstream_id(&upstream) {
            return Err(Error::Malformed);
        }
        Ok(UpstreamId {
            deployment: sealed.deployment,
            id: upstream,
            owner: sealed.owner,
        })
    }
}

/// Whether `id` is an upstream id reelay seals: 1..=[`MAX_UPSTREAM_ID_LEN`]
/// bytes of visible ASCII other than `/`, `?` and `#` (it goes into paths).
fn plausible_upstream_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_UPSTREAM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'))
}

impl Keys {
    /// The fingerprint of visitor `subject` of the key with `key_hash`:
    /// keyed (HMAC under the ids key, domain-separated), so an id's reader
    /// cannot test guesses of who another visitor is, and bound to the key,
    /// so equal subjects of two keys never match.
    pub fn subject(&self, key_hash: &[u8; 32], subject: &[u8]) -> [u8; SUBJECT_LEN] {
        let mac = hmac_sha256(&self.ids, &[b"reelay/subject/v1\0", key_hash, subject]);
        let mut out = [0u8; SUBJECT_LEN];
        out.copy_from_slice(&mac[..SUBJECT_LEN]);
        out
    }
}

/// Re-encodes a sealed id as a Gemini-style file token: lowercase base32
/// (`[a-z2-7]`), because Google's SDKs only accept `files/[a-z0-9]+`. The
/// token carries the same authenticated bytes; [`token_to_id`] reverses it
/// and [`Keys::open_id`] still verifies the MAC.
pub fn id_to_token(purpose: Purpose, id: &str) -> Option<String> {
    let raw = b64url_decode(id.strip_prefix(purpose.prefix())?)?;
    Some(base32_encode(&raw))
}

/// The sealed id behind a file token; `None` if the token is not base32.
pub fn token_to_id(purpose: Purpose, token: &str) -> Option<String> {
    if token.len() > purpose.max_len() {
        return None;
    }
    let raw = base32_decode(token)?;
    let mut id = String::from(purpose.prefix());
    id.push_str(&b64url_encode(&raw));
    Some(id)
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    fn sample() -> Sealed {
        Sealed {
            purpose: Purpose::Video,
            owner: Owner::key([9u8; OWNER_LEN]),
            created_at_ms: 1_790_000_000_123,
            deployment: "gemini-veo-fast".into(),
            payload: b"models/veo-3.1-generate-preview/operations/vz341u0pmdlc".to_vec(),
        }
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        let id = keys().seal_id(&sample()).unwrap();
        assert!(id.starts_with("video_"));
        assert!(id[6..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(keys().open_id(Purpose::Video, &id).unwrap(), sample());
    }

    #[test]
    fn ids_issued_before_the_seal_module_still_open() {
        // Sealed by the previous `affinity::Sealer` (same key label, same
        // layout) under the 32-byte key [7; 32].
        let id = "video_AQEJCQkJCQkJCQkJCQkJCQkJAAABoMRQbHsPZ2VtaW5pLXZlby1mYXN0bW9kZWxzL3Zlby0zLjEtZ2VuZXJhdGUtcHJldmlldy9vcGVyYXRpb25zL3Z6MzQxdTBwbWRsYy1t2uFdzKLAvF7BU1t7ms4";
        assert_eq!(keys().open_id(Purpose::Video, id).unwrap(), sample());
    }

    #[test]
    fn ids_of_a_visitor_carry_its_subject_and_open_for_it_and_the_key() {
        let k = keys();
        let alice = k.subject(&[9u8; 32], b"alice");
        let bob = k.subject(&[9u8; 32], b"bob");
        assert_ne!(alice, bob);
        assert_ne!(alice, k.subject(&[8u8; 32], b"alice"), "bound to the key");
        assert_ne!(
            alice,
            Keys::derive(&[6u8; 32])
                .unwrap()
                .subject(&[9u8; 32], b"alice"),
            "keyed"
        );
        let key = Owner::key([9u8; OWNER_LEN]);
        let as_alice = Owner {
            subject: Some(alice),
            ..key
        };
        let as_bob = Owner {
            subject: Some(bob),
            ..key
        };
        let sealed = Sealed {
            owner: as_alice,
            ..sample()
        };
        let id = k.seal_id(&sealed).unwrap();
        let raw = b64url_decode(&id["video_".len()..]).unwrap();
        assert_eq!(raw[0], SUBJECT_VERSION);
        let opened = k.open_id(Purpose::Video, &id).unwrap();
        assert_eq!(opened, sealed);
        assert!(as_alice.may_open(&opened.owner));
        assert!(
            key.may_open(&opened.owner),
            "the key sees its visitors' state"
        );
        assert!(!as_bob.may_open(&opened.owner));
        let other_key = Owner {
            key: [8u8; OWNER_LEN],
            subject: None,
        };
        assert!(!other_key.may_open(&opened.owner));
        // The key's own state (version 1, as before subjects) is the key's alone.
        let own = k
            .open_id(Purpose::Video, &k.seal_id(&sample()).unwrap())
            .unwrap();
        assert!(key.may_open(&own.owner));
        assert!(!as_alice.may_open(&own.owner));
        // A subject id cut short is malformed, not misread.
        let mut body = std::vec![0u8; OWNER_LEN + SUBJECT_LEN];
        body.extend_from_slice(&[0u8; 4]);
        let short = k
            .seal_mac_version(Purpose::Video, SUBJECT_VERSION, &body)
            .unwrap();
        assert_eq!(k.open_id(Purpose::Video, &short), Err(Error::Malformed));
        // Unknown versions do not open.
        let v3 = k
            .seal_mac_version(Purpose::Video, 3, &std::vec![0u8; 64])
            .unwrap();
        assert_eq!(k.open_id(Purpose::Video, &v3), Err(Error::Version));
    }

    #[test]
    fn an_id_never_opens_as_another_purpose() {
        let id = keys()
            .seal_id(&Sealed {
                purpose: Purpose::Character,
                ..sample()
            })
            .unwrap();
        assert!(id.starts_with("char_"));
        let as_video = std::format!("video_{}", &id["char_".len()..]);
        assert_eq!(
            keys().open_id(Purpose::Video, &as_video),
            Err(Error::WrongPurpose)
        );
        assert!(keys().open_id(Purpose::Character, &id).is_ok());
    }

    #[test]
    fn id_purposes_round_trip_with_the_prefixes_sdks_expect() {
        let all = [
            (Purpose::Video, "video_"),
            (Purpose::Character, "char_"),
            (Purpose::Response, "resp_"),
            (Purpose::ReasoningItem, "rs_"),
            (Purpose::CompactionItem, "cmp_"),
            (Purpose::Conversation, "conv_"),
            (Purpose::EncryptedContent, "enc_"),
            (Purpose::RealtimeCall, "rtc_"),
            (Purpose::LiveSession, "live_"),
            (Purpose::Interaction, "int_"),
        ];
        for (purpose, prefix) in all {
            assert!(purpose.is_id());
            assert_eq!(purpose.prefix(), prefix);
            let id = keys()
                .seal_id(&Sealed {
                    purpose,
                    ..sample()
                })
                .unwrap();
            assert!(id.starts_with(prefix));
            assert_eq!(keys().open_id(purpose, &id).unwrap().purpose, purpose);
        }
        assert_eq!(all.len(), Purpose::ALL.iter().filter(|p| p.is_id()).count());
        assert_eq!(
            Purpose::of_responses_id("resp_abc"),
            Some(Purpose::Response)
        );
        assert_eq!(
            Purpose::of_responses_id("rs_abc"),
            Some(Purpose::ReasoningItem)
        );
        assert_eq!(
            Purpose::of_responses_id("cmp_abc"),
            Some(Purpose::CompactionItem)
        );
        assert_eq!(
            Purpose::of_responses_id("conv_abc"),
            Some(Purpose::Conversation)
        );
        for other in [
            "msg_abc",
            "fc_abc",
            "video_abc",
            "enc_abc",
            "rtc_abc",
            "bt_rl_abc",
            "",
            "rs",
        ] {
            assert_eq!(Purpose::of_responses_id(other), None, "{other}");
        }
    }

    #[test]
    fn tokens_are_not_ids() {
        for purpose in Purpose::ALL.into_iter().filter(|p| p.is_token()) {
            assert!(!purpose.is_id());
            assert_eq!(
                keys().seal_id(&Sealed {
                    purpose,
                    ..sample()
                }),
                Err(Error::Unsupported)
            );
            assert_eq!(
                keys().open_id(purpose, purpose.prefix()),
                Err(Error::Unsupported)
            );
        }
    }

    #[test]
    fn another_sealing_key_cannot_open() {
        let id = keys().seal_id(&sample()).unwrap();
        let other = Keys::derive(&[8u8; 32]).unwrap();
        assert_eq!(other.open_id(Purpose::Video, &id), Err(Error::BadMac));
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let k = keys();
        for id in [
            "",
            "video_",
            "video_!!!",
            "vid_abc",
            "video_AAAA",
            &"video_".repeat(300),
        ] {
            assert!(k.open_id(Purpose::Video, id).is_err(), "{id}");
        }
        // Too short for the id layout: not sealed, and malformed to open.
        assert_eq!(
            k.seal_mac(Purpose::Video, &[0u8; FIXED_LEN - 1]),
            Err(Error::Unsupported)
        );
        let mut raw = std::vec![1u8, 1];
        raw.extend_from_slice(&[0u8; FIXED_LEN - 1 + 16]);
        let short = std::format!("video_{}", b64url_encode(&raw));
        assert_eq!(k.open_id(Purpose::Video, &short), Err(Error::Malformed));
        // Authentic, but the deployment length runs past the end.
        let mut body = std::vec![0u8; FIXED_LEN];
        body[FIXED_LEN - 1] = 5;
        let long = k.seal_mac(Purpose::Video, &body).unwrap();
        assert_eq!(k.open_id(Purpose::Video, &long), Err(Error::Malformed));
    }

    #[test]
    fn file_tokens_round_trip_and_stay_lowercase_alphanumeric() {
        let k = keys();
        let id = k.seal_id(&sample()).unwrap();
        let token = id_to_token(Purpose::Video, &id).unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{token}"
        );
        let back = token_to_id(Purpose::Video, &token).unwrap();
        assert_eq!(back, id);
        assert_eq!(k.open_id(Purpose::Video, &back).unwrap(), sample());
        assert_eq!(token_to_id(Purpose::Video, "ABC"), None);
        assert_eq!(id_to_token(Purpose::Video, "nope"), None);
    }

    proptest! {
        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)), Some(bytes));
        }

        #[test]
        fn any_single_bit_flip_is_detected(byte in 0usize..200, bit in 0u8..8) {
            let k = keys();
            let id = k.seal_id(&sample()).unwrap();
            let mut raw = b64url_decode(&id[6..]).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let forged = std::format!("video_{}", b64url_encode(&raw));
            prop_assert!(k.open_id(Purpose::Video, &forged).is_err());
        }

        #[test]
        fn open_never_panics(text in ".{0,300}") {
            let _ = keys().open_id(Purpose::Video, &text);
            let _ = keys().open_id(Purpose::Video, &std::format!("video_{text}"));
        }
    }

    #[test]
    fn upstream_ids_open_only_for_their_owner_and_purpose() {
        let key = Owner::key([9u8; OWNER_LEN]);
        let visitor = Owner {
            key: [9u8; OWNER_LEN],
            subject: Some([3u8; SUBJECT_LEN]),
        };
        let other_visitor = Owner {
            subject: Some([4u8; SUBJECT_LEN]),
            ..visitor
        };
        let id = keys()
            .seal_upstream_id(Purpose::LiveSession, visitor, "openai-live", "live_123", 5)
            .unwrap();
        assert!(id.starts_with("live_"));
        let opened = keys()
            .open_upstream_id(Purpose::LiveSession, &id, &visitor)
            .unwrap();
        assert_eq!(opened.deployment, "openai-live");
        assert_eq!(opened.id, "live_123");
        assert_eq!(opened.owner, visitor);
        // The key sees its visitors' state; another visitor and another key do not.
        assert!(keys()
            .open_upstream_id(Purpose::LiveSession, &id, &key)
            .is_ok());
        assert_eq!(
            keys().open_upstream_id(Purpose::LiveSession, &id, &other_visitor),
            Err(Error::NotOwner)
        );
        assert_eq!(
            keys().open_upstream_id(Purpose::LiveSession, &id, &Owner::key([8u8; OWNER_LEN])),
            Err(Error::NotOwner)
        );
        // Sealed for one purpose, never opened as another.
        assert!(keys()
            .open_upstream_id(Purpose::Interaction, &id, &visitor)
            .is_err());
        assert_eq!(
            Error::NotOwner.to_client(Purpose::LiveSession).code,
            crate::errors::ErrorCode::LiveSessionNotFound
        );
    }

    #[test]
    fn upstream_ids_that_could_change_a_path_are_not_sealed() {
        let owner = Owner::key([9u8; OWNER_LEN]);
        for bad in [
            "",
            "a/b",
            "a?b",
            "a#b",
            "a%2f",
            "a b",
            "é",
            &"x".repeat(MAX_UPSTREAM_ID_LEN + 1),
        ] {
            assert_eq!(
                keys().seal_upstream_id(Purpose::Interaction, owner, "d", bad, 0),
                Err(Error::Unsupported),
                "{bad:?}"
            );
        }
        let fine = keys()
            .seal_upstream_id(Purpose::Interaction, owner, "d", "v1_AbC-9.x", 0)
            .unwrap();
        assert!(fine.starts_with("int_"));
    }
}
