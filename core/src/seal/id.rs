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
//! bytes 0..16  owner: the first 16 bytes of SHA-256(virtual key)
//! bytes 16..24 created_at, unix milliseconds, big endian
//! byte 24      length n of the deployment id, then n bytes
//! rest         payload (purpose-specific, opaque here)
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, Keys, Purpose};
use crate::encoding::{b64url_decode, b64url_encode};

/// Length of the owner fingerprint sealed into ids.
pub const OWNER_LEN: usize = 16;
/// Owner, creation time and deployment length.
pub(super) const FIXED_LEN: usize = OWNER_LEN + 8 + 1;

/// The owner fingerprint of a virtual key: the first [`OWNER_LEN`] bytes of
/// its SHA-256 (the same hash the key record is stored under).
pub fn owner_of(key_hash: &[u8; 32]) -> [u8; OWNER_LEN] {
    let mut owner = [0u8; OWNER_LEN];
    owner.copy_from_slice(&key_hash[..OWNER_LEN]);
    owner
}

/// The contents of a sealed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// What the id is for (one of the [`Purpose::is_id`] purposes).
    pub purpose: Purpose,
    /// Owner fingerprint ([`owner_of`]).
    pub owner: [u8; OWNER_LEN],
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
        let mut body = Vec::with_capacity(FIXED_LEN + dep.len() + sealed.payload.len());
        body.extend_from_slice(&sealed.owner);
        body.extend_from_slice(&sealed.created_at_ms.to_be_bytes());
        body.push(dep.len() as u8);
        body.extend_from_slice(dep);
        body.extend_from_slice(&sealed.payload);
        self.seal_mac(sealed.purpose, &body)
    }

    /// Opens an id sealed for `purpose`.
    pub fn open_id(&self, purpose: Purpose, id: &str) -> Result<Sealed, Error> {
        if !purpose.is_id() {
            return Err(Error::Unsupported);
        }
        let body = self.open_mac(purpose, id)?;
        if body.len() < FIXED_LEN {
            return Err(Error::Malformed);
        }
        let mut owner = [0u8; OWNER_LEN];
        owner.copy_from_slice(&body[..OWNER_LEN]);
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
            owner: [9u8; OWNER_LEN],
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
}
