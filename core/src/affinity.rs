//! Sealed ids: the ids reelay hands to clients for upstream-scoped state
//! (video jobs, characters, Responses API ids and `encrypted_content`
//! markers, realtime call ids). Realtime tokens, which carry a secret, are
//! encrypted instead: see `crate::realtime::token`.
//!
//! A sealed id carries the deployment that owns the state, the owning key
//! and a small payload, and is **authenticated** with HMAC-SHA-256 under a
//! key derived from the `SEALING_KEY` secret, so a client can neither forge a
//! route nor read another key's jobs. It is not encrypted: the payload holds
//! only non-secret values (deployment id, upstream operation name).
//!
//! Wire format (all of it URL-safe: `<prefix>` + base64url without padding):
//!
//! ```text
//! byte 0      version (1)
//! byte 1      purpose (1 = video, 2 = character, 3 = response, 4 = reasoning
//!             item, 5 = compaction item, 6 = conversation, 7 = encrypted content,
//!             8 = realtime call)
//! bytes 2..18 owner: the first 16 bytes of SHA-256(virtual key)
//! bytes 18..26 created_at, unix milliseconds, big endian
//! byte 26     length n of the deployment id, then n bytes
//! rest - 16   payload (purpose-specific, opaque here)
//! last 16     HMAC-SHA-256(derived key, everything before), truncated
//! ```
//! The MAC key is `HMAC(SEALING_KEY, "reelay/affinity/v1")`, so the sealing
//! secret is never used directly and other uses can derive their own keys.

use alloc::string::String;
use alloc::vec::Vec;

use crate::encoding::{b64url_decode, b64url_encode, ct_eq, hmac_sha256};

/// Length of the owner fingerprint sealed into ids.
pub const OWNER_LEN: usize = 16;
const TAG_LEN: usize = 16;
const VERSION: u8 = 1;
const HEADER_LEN: usize = 2 + OWNER_LEN + 8 + 1;
/// Longest encoded id accepted by [`Sealer::open`]; longer input is rejected before decoding.
pub const MAX_SEALED_LEN: usize = 1024;
/// Shortest `SEALING_KEY` accepted, in bytes.
pub const MIN_SEALING_KEY_LEN: usize = 32;

/// What a sealed id is for; part of the authenticated data, so an id minted
/// for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A video job (`video_…`).
    Video,
    /// A Sora character (`char_…`).
    Character,
    /// A Responses API response (`resp_…`); see [`crate::responses`].
    Response,
    /// A reasoning output item (`rs_…`).
    ReasoningItem,
    /// A compaction output item (`cmp_…`).
    CompactionItem,
    /// A conversation (`conv_…`).
    Conversation,
    /// The marker in front of a wrapped `encrypted_content` (`enc_…`);
    /// its payload binds it to the content it precedes.
    EncryptedContent,
    /// A realtime WebRTC call (`rtc_…`); the payload is the upstream call id.
    RealtimeCall,
}

impl Purpose {
    const fn byte(self) -> u8 {
        match self {
            Self::Video => 1,
            Self::Character => 2,
            Self::Response => 3,
            Self::ReasoningItem => 4,
            Self::CompactionItem => 5,
            Self::Conversation => 6,
            Self::EncryptedContent => 7,
            Self::RealtimeCall => 8,
        }
    }

    /// The prefix of ids of this purpose.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Video => "video_",
            Self::Character => "char_",
            Self::Response => "resp_",
            Self::ReasoningItem => "rs_",
            Self::CompactionItem => "cmp_",
            Self::Conversation => "conv_",
            Self::EncryptedContent => "enc_",
            Self::RealtimeCall => "rtc_",
        }
    }

    /// The Responses API purpose whose prefix `id` starts with (`resp_`,
    /// `rs_`, `cmp_`, `conv_`); `None` for any other id.
    pub fn of_responses_id(id: &str) -> Option<Self> {
        [
            Self::Response,
            Self::ReasoningItem,
            Self::CompactionItem,
            Self::Conversation,
        ]
        .into_iter()
        .find(|p| id.starts_with(p.prefix()))
    }
}

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
    /// What the id is for.
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

/// Why an id did not open. Callers answer every variant with the same
/// "not found", so a prober learns nothing; the variants exist for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Wrong prefix, bad base64, too short or too long.
    Malformed,
    /// Unknown format version.
    Version,
    /// Minted for another purpose.
    Purpose,
    /// The MAC does not verify: forged, tampered or sealed under another key.
    Tampered,
}

impl OpenError {
    /// Stable name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Version => "version",
            Self::Purpose => "purpose",
            Self::Tampered => "tampered",
        }
    }
}

/// Seals and opens ids under one derived key.
#[derive(Clone)]
pub struct Sealer {
    mac_key: [u8; 32],
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sealer { .. }")
    }
}

impl Sealer {
    /// A sealer for `sealing_key` (the `SEALING_KEY` secret); `None` when it
    /// is shorter than [`MIN_SEALING_KEY_LEN`] bytes.
    pub fn new(sealing_key: &[u8]) -> Option<Self> {
        (sealing_key.len() >= MIN_SEALING_KEY_LEN).then(|| Self {
            mac_key: hmac_sha256(sealing_key, &[b"reelay/affinity/v1"]),
        })
    }

    /// Seals `sealed` into an id (`video_…`). Deployment ids longer than 255
    /// bytes are truncated by config validation long before this point; here
    /// they are clamped so the function stays total.
    pub fn seal(&self, sealed: &Sealed) -> String {
        let dep = sealed.deployment.as_bytes();
        let dep = &dep[..dep.len().min(255)];
        let mut raw = Vec::with_capacity(HEADER_LEN + dep.len() + sealed.payload.len() + TAG_LEN);
        raw.push(VERSION);
        raw.push(sealed.purpose.byte());
        raw.extend_from_slice(&sealed.owner);
        raw.extend_from_slice(&sealed.created_at_ms.to_be_bytes());
        raw.push(dep.len() as u8);
        raw.extend_from_slice(dep);
        raw.extend_from_slice(&sealed.payload);
        let tag = hmac_sha256(&self.mac_key, &[&raw]);
        raw.extend_from_slice(&tag[..TAG_LEN]);
        let mut id = String::from(sealed.purpose.prefix());
        id.push_str(&b64url_encode(&raw));
        id
    }

    /// Opens an id minted for `purpose`, verifying its MAC in constant time.
    pub fn open(&self, purpose: Purpose, id: &str) -> Result<Sealed, OpenError> {
        if id.len() > MAX_SEALED_LEN {
            return Err(OpenError::Malformed);
        }
        let body = id
            .strip_prefix(purpose.prefix())
            .ok_or(OpenError::Malformed)?;
        let raw = b64url_decode(body).ok_or(OpenError::Malformed)?;
        if raw.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (signed, tag) = raw.split_at(raw.len() - TAG_LEN);
        let expected = hmac_sha256(&self.mac_key, &[signed]);
        if !ct_eq(&expected[..TAG_LEN], tag) {
            return Err(OpenError::Tampered);
        }
        // Only authenticated bytes are interpreted from here on.
        if signed[0] != VERSION {
            return Err(OpenError::Version);
        }
        if signed[1] != purpose.byte() {
            return Err(OpenError::Purpose);
        }
        let mut owner = [0u8; OWNER_LEN];
        owner.copy_from_slice(&signed[2..2 + OWNER_LEN]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&signed[2 + OWNER_LEN..2 + OWNER_LEN + 8]);
        let dep_len = usize::from(signed[HEADER_LEN - 1]);
        let rest = &signed[HEADER_LEN..];
        if rest.len() < dep_len {
            return Err(OpenError::Malformed);
        }
        let (dep, payload) = rest.split_at(dep_len);
        let deployment = core::str::from_utf8(dep).map_err(|_| OpenError::Malformed)?;
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
/// and [`Sealer::open`] still verifies the MAC.
pub fn id_to_token(purpose: Purpose, id: &str) -> Option<String> {
    let raw = b64url_decode(id.strip_prefix(purpose.prefix())?)?;
    Some(base32_encode(&raw))
}

/// The sealed id behind a file token; `None` if the token is not base32.
pub fn token_to_id(purpose: Purpose, token: &str) -> Option<String> {
    if token.len() > MAX_SEALED_LEN {
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

    fn sealer() -> Sealer {
        Sealer::new(&[7u8; 32]).unwrap()
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
        let id = sealer().seal(&sample());
        assert!(id.starts_with("video_"));
        assert!(id[6..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(sealer().open(Purpose::Video, &id).unwrap(), sample());
    }

    #[test]
    fn rejects_short_sealing_keys() {
        assert!(Sealer::new(&[1u8; 31]).is_none());
    }

    #[test]
    fn an_id_never_opens_as_another_purpose() {
        let id = sealer().seal(&Sealed {
            purpose: Purpose::Character,
            ..sample()
        });
        assert!(id.starts_with("char_"));
        let as_video = std::format!("video_{}", &id["char_".len()..]);
        assert_eq!(
            sealer().open(Purpose::Video, &as_video),
            Err(OpenError::Purpose)
        );
        assert!(sealer().open(Purpose::Character, &id).is_ok());
    }

    #[test]
    fn responses_purposes_round_trip_with_the_prefixes_sdks_expect() {
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
        let mut bytes = std::collections::HashSet::new();
        for (purpose, prefix) in all {
            assert_eq!(purpose.prefix(), prefix);
            assert!(bytes.insert(purpose.byte()), "purpose bytes are unique");
            let id = sealer().seal(&Sealed {
                purpose,
                ..sample()
            });
            assert!(id.starts_with(prefix));
            assert_eq!(sealer().open(purpose, &id).unwrap().purpose, purpose);
        }
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
            "",
            "rs",
        ] {
            assert_eq!(Purpose::of_responses_id(other), None, "{other}");
        }
    }

    #[test]
    fn another_sealing_key_cannot_open() {
        let id = sealer().seal(&sample());
        let other = Sealer::new(&[8u8; 32]).unwrap();
        assert_eq!(other.open(Purpose::Video, &id), Err(OpenError::Tampered));
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let s = sealer();
        for id in [
            "",
            "video_",
            "video_!!!",
            "vid_abc",
            "video_AAAA",
            &"video_".repeat(300),
        ] {
            assert!(s.open(Purpose::Video, id).is_err(), "{id}");
        }
    }

    #[test]
    fn file_tokens_round_trip_and_stay_lowercase_alphanumeric() {
        let s = sealer();
        let id = s.seal(&sample());
        let token = id_to_token(Purpose::Video, &id).unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{token}"
        );
        let back = token_to_id(Purpose::Video, &token).unwrap();
        assert_eq!(back, id);
        assert_eq!(s.open(Purpose::Video, &back).unwrap(), sample());
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
            let s = sealer();
            let id = s.seal(&sample());
            let mut raw = b64url_decode(&id[6..]).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let forged = std::format!("video_{}", b64url_encode(&raw));
            prop_assert!(s.open(Purpose::Video, &forged).is_err());
        }

        #[test]
        fn open_never_panics(text in ".{0,300}") {
            let _ = sealer().open(Purpose::Video, &text);
            let _ = sealer().open(Purpose::Video, &std::format!("video_{text}"));
        }
    }
}
