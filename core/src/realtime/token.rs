//! The realtime token: what reelay hands a browser in place of the
//! upstream's ephemeral key (`ek_…`).
//!
//! The token is **encrypted and authenticated** (AES-256-GCM), because it
//! carries a secret — the upstream ephemeral key — that the browser must
//! never see, and it binds everything a later `/v1/realtime/calls` needs to
//! reach the exact resource that minted it:
//!
//! | claim | why |
//! |---|---|
//! | session kind (`realtime` / `transcription` / `translation`) | the token's purpose; a token never opens for a use it was not minted for |
//! | expiry (unix seconds) | never later than the upstream's `expires_at` |
//! | SHA-256 of the owning virtual key | owner fingerprint ([`crate::seal::owner_of`]) and the key's `token`, so the host can check revocation *now* |
//! | deployment id | the SDP offer goes to the deployment that minted the ephemeral key, never re-routed |
//! | model group | the access rules are re-checked against the name the key was allowed |
//! | upstream ephemeral key | sent upstream as `Authorization: Bearer ek_…`; never in the clear |
//! | origin binding (optional) | a token minted with an origin-bound browser token works only from that origin |
//! | subject (optional) | the visitor a browser token that minted it acts for: the calls it starts are theirs |
//!
//! Wire format: an encrypted [`Purpose::RealtimeToken`] value of
//! [`crate::seal`] (`ek_rl_` + base64url of `version ‖ nonce ‖ AES-256-GCM
//! ciphertext and tag`, the prefix and version as associated data, under the
//! key derived for realtime tokens). The prefix starts like the upstream's
//! own ephemeral keys on purpose: clients recognise a browser-safe key by
//! its `ek_` (openai-node enables browser use for such keys; apps check
//! `startsWith("ek_")`), and `rl_` says it is reelay's.
//!
//! ```text
//! plaintext:
//! byte 0        kind (1 = realtime, 2 = transcription, 3 = translation)
//! bytes 1..9    expires_at, unix seconds, big endian
//! bytes 9..41   SHA-256 of the owning virtual key
//! 1 + n bytes   deployment id (length byte, then bytes)
//! 1 + m bytes   model group name (length byte, then bytes)
//! 2 + k bytes   upstream ephemeral key (big-endian u16 length, then bytes)
//! optional, only in tokens minted with a browser token:
//! 1 + o bytes   origin binding (length byte, then bytes; 0 = unbound)
//! 16 bytes      the browser token's subject fingerprint
//! ```
//!
//! A token minted with a browser token never exceeds it
//! ([`crate::browser_token::Minter`]): its expiry is the sooner of the
//! upstream's and the browser token's, and it carries the browser token's
//! origin binding, checked at every use ([`TokenClaims::check_origin`]).
//!
//! Opening checks, in order: size and prefix, base64, version, the GCM tag
//! (constant time, by the AEAD), the plaintext layout, the session kind
//! ([`seal::Error::WrongPurpose`]), then the expiry against the `now` the
//! host passes in ([`seal::Error::Expired`]). Only authenticated bytes are
//! interpreted, so every failure before the tag check is indistinguishable
//! from a forgery for a prober.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::SessionKind;
use crate::browser_token::check_bound_origin;
use crate::encoding::hex;
use crate::errors::ClientError;
use crate::quota::TokenUse;
use crate::seal::{self, Keys, Owner, Purpose, SUBJECT_LEN};

pub use crate::seal::NONCE_LEN;

/// Prefix of every realtime token.
pub const TOKEN_PREFIX: &str = Purpose::RealtimeToken.prefix();
/// Longest token text [`TokenClaims::open`] looks at; longer input is malformed.
pub const MAX_TOKEN_LEN: usize = Purpose::RealtimeToken.max_len();
/// Longest upstream ephemeral key a token can carry.
pub const MAX_UPSTREAM_KEY_LEN: usize = 1024;

/// kind + expiry + key hash + three length prefixes.
const MIN_PLAINTEXT: usize = Purpose::RealtimeToken.min_body_len();

/// The upstream's ephemeral key. Its `Debug` never shows it; read it with
/// [`UpstreamKey::expose`] only to build the upstream request.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamKey(String);

impl UpstreamKey {
    /// Wraps an upstream ephemeral key.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself, for the upstream `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UpstreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamKey(..)")
    }
}

/// What a realtime token binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The token's id: the nonce it is sealed with (12 fresh random bytes
    /// from the host; a nonce must never repeat under one key), where its
    /// one use is counted.
    pub id: [u8; NONCE_LEN],
    /// The token's purpose: the session kind it was minted for.
    pub kind: SessionKind,
    /// Expiry, unix seconds (never later than the upstream's).
    pub expires_at: u64,
    /// SHA-256 of the virtual key that minted the token.
    pub key_hash: [u8; 32],
    /// The deployment that issued the upstream ephemeral key.
    pub deployment: String,
    /// The model group the key asked for (and was allowed) at mint.
    pub model: String,
    /// The upstream ephemeral key.
    pub upstream_key: UpstreamKey,
    /// The one origin the token works from (inherited from the browser
    /// token that minted it); `None` = unbound.
    pub origin: Option<String>,
    /// The visitor it acts for (a minting browser token's subject); `None`
    /// for a key's token.
    pub subject: Option<[u8; SUBJECT_LEN]>,
}

impl TokenClaims {
    /// Who the calls the token starts belong to: its key, for the visitor
    /// a minting browser token acted for.
    pub fn owner(&self) -> Owner {
        Owner::of(&self.key_hash, self.subject)
    }

    /// The one session this token may start, counted under its id until
    /// it expires: a realtime token is single-use (its session was charged
    /// when it was minted, so each mint pays for exactly one session).
    pub fn session_use(&self) -> TokenUse {
        TokenUse {
            id: hex(&self.id),
            max: 1,
            until_ms: self.expires_at.saturating_mul(1000),
        }
    }

    /// The owning key's public `token` (hex SHA-256), as stored in KV.
    pub fn key_token(&self) -> String {
        hex(&self.key_hash)
    }

    /// Checks the token's origin binding against the request's `Origin`
    /// (requests without one pass, as for browser tokens).
    pub fn check_origin(&self, request_origin: Option<&str>) -> Result<(), ClientError> {
        check_bound_origin(self.origin.as_deref(), request_origin, "realtime token")
    }
}

impl TokenClaims {
    /// Seals the claims with their `id` as the nonce. [`seal::Error::Unsupported`]
    /// when a field is longer than the format allows (deployment or model
    /// over 255 bytes, upstream key empty or over [`MAX_UPSTREAM_KEY_LEN`]);
    /// config validation and [`super::session`] keep them far shorter.
    pub fn seal(&self, keys: &Keys) -> Result<String, seal::Error> {
        let deployment = self.deployment.as_bytes();
        let model = self.model.as_bytes();
        let upstream = self.upstream_key.expose().as_bytes();
        if upstream.is_empty() || upstream.len() > MAX_UPSTREAM_KEY_LEN {
            return Err(seal::Error::Unsupported);
        }
        let too_long = |_| seal::Error::Unsupported;
        let mut plain =
            Vec::with_capacity(MIN_PLAINTEXT + deployment.len() + model.len() + upstream.len());
        plain.push(self.kind.byte());
        plain.extend_from_slice(&self.expires_at.to_be_bytes());
        plain.extend_from_slice(&self.key_hash);
        plain.push(u8::try_from(deployment.len()).map_err(too_long)?);
        plain.extend_from_slice(deployment);
        plain.push(u8::try_from(model.len()).map_err(too_long)?);
        plain.extend_from_slice(model);
        plain.extend_from_slice(
            &u16::try_from(upstream.len())
                .map_err(too_long)?
                .to_be_bytes(),
        );
        plain.extend_from_slice(upstream);
        if self.origin.is_some() || self.subject.is_some() {
            let origin = self.origin.as_deref().unwrap_or("");
            plain.push(u8::try_from(origin.len()).map_err(too_long)?);
            plain.extend_from_slice(origin.as_bytes());
        }
        if let Some(subject) = &self.subject {
            plain.extend_from_slice(subject);
        }
        keys.seal_aead(Purpose::RealtimeToken, &self.id, &plain)
    }

    /// Opens `token` for one of the `allowed` session kinds at `now` (unix
    /// seconds): a token is expired from its `expires_at` second on. Clients
    /// see [`seal::Error::to_client`] of [`Purpose::RealtimeToken`]: one
    /// `401 invalid_realtime_token` for everything but expiry, which is
    /// `401 realtime_token_expired` (expiry is checked only after the tag,
    /// so telling it apart reveals nothing to a forger, and it tells an
    /// honest client to mint a new token).
    pub fn open(
        keys: &Keys,
        token: &str,
        now_secs: u64,
        allowed: &[SessionKind],
    ) -> Result<Self, seal::Error> {
        let (id, plain) = keys.open_aead(Purpose::RealtimeToken, token)?;
        // Authentic from here on: a layout error means a bug or a future
        // format, never an attacker's choice.
        let claims = parse_plaintext(id, &plain).ok_or(seal::Error::Malformed)?;
        if !allowed.contains(&claims.kind) {
            return Err(seal::Error::WrongPurpose);
        }
        if now_secs >= claims.expires_at {
            return Err(seal::Error::Expired(claims.expires_at));
        }
        Ok(claims)
    }
}

/// A forward-only reader over the plaintext.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn text(&mut self, len: usize) -> Option<String> {
        self.take(len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .map(String::from)
    }
}

fn parse_plaintext(id: [u8; NONCE_LEN], plain: &[u8]) -> Option<TokenClaims> {
    let mut r = Reader(plain);
    let kind = SessionKind::from_byte(r.byte()?)?;
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(r.take(8)?);
    let mut key_hash = [0u8; 32];
    key_hash.copy_from_slice(r.take(32)?);
    let dep_len = usize::from(r.byte()?);
    let deployment = r.text(dep_len)?;
    let model_len = usize::from(r.byte()?);
    let model = r.text(model_len)?;
    let mut len = [0u8; 2];
    len.copy_from_slice(r.take(2)?);
    let upstream = r.text(usize::from(u16::from_be_bytes(len)))?;
    if upstream.is_empty() {
        return None;
    }
    // Tokens minted with a browser token carry its origin binding and subject.
    let origin = if r.0.is_empty() {
        None
    } else {
        let n = usize::from(r.byte()?);
        Some(r.text(n)?).filter(|o| !o.is_empty())
    };
    let subject = match r.0.len() {
        0 => None,
        SUBJECT_LEN => {
            let mut subject = [0u8; SUBJECT_LEN];
            subject.copy_from_slice(r.take(SUBJECT_LEN)?);
            Some(subject)
        }
        _ => return None,
    };
    Some(TokenClaims {
        id,
        kind,
        expires_at: u64::from_be_bytes(expiry),
        key_hash,
        deployment,
        model,
        upstream_key: UpstreamKey(upstream),
        origin,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{b64url_decode, b64url_encode};
    use proptest::prelude::*;
    use std::format;
    use std::string::ToString;

    const NOW: u64 = 1_790_000_000;
    const EK: &str = "ek_68af296e8e408191a1120ab6383263c2";

    fn key() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    /// A token sealed by the previous `TokenKey` (same key label, same
    /// layout) under the key [7; 32], for [`claims`] with the nonce [3; 12].
    const ISSUED_BEFORE_SEAL: &str = "ek_rl_AQMDAwMDAwMDAwMDA03CGomT61z8xyzzJqdjry2TF7BPllOkjnFVbyTwJ_ZBt-_EfzKJMaYkJw9EFJgMQYU1JhaKqt3YEYG6l0vUlXBOenRRtOpqdOzmYKlTR9iA8Vi3xtApY5hlGoQb6ThZNitoPQXsbU5EeOq7bOLwkRaW52OxPGcnoC_MLw";

    fn claims() -> TokenClaims {
        TokenClaims {
            id: [3; NONCE_LEN],
            kind: SessionKind::Realtime,
            expires_at: NOW + 600,
            key_hash: [0xab; 32],
            deployment: "openai-realtime".into(),
            model: "gpt-realtime".into(),
            upstream_key: UpstreamKey::new(EK),
            origin: None,
            subject: None,
        }
    }

    fn token() -> String {
        claims().seal(&key()).unwrap()
    }

    const BOTH: &[SessionKind] = &[SessionKind::Realtime, SessionKind::Transcription];

    #[test]
    fn round_trips_and_is_url_safe() {
        let t = token();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert!(t[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let opened = TokenClaims::open(&key(), &t, NOW, BOTH).unwrap();
        assert_eq!(opened, claims());
        assert_eq!(opened.owner(), Owner::key([0xab; crate::seal::OWNER_LEN]));
        assert_eq!(opened.key_token(), "ab".repeat(32));
    }

    #[test]
    fn never_shows_the_upstream_key() {
        let t = token();
        assert!(!t.contains(EK));
        assert!(!t.contains("ek_68af"));
        let debug = format!("{:?}", claims());
        assert!(!debug.contains(EK), "{debug}");
        assert!(!format!("{:?}", key()).contains('7'));
        // Nothing of the key in the raw bytes either (it is encrypted).
        let raw = b64url_decode(&t[TOKEN_PREFIX.len()..]).unwrap();
        assert!(!raw.windows(EK.len()).any(|w| w == EK.as_bytes()));
    }

    #[test]
    fn nonces_make_tokens_differ() {
        let with_id = |id| TokenClaims { id, ..claims() };
        let a = with_id([1u8; NONCE_LEN]).seal(&key()).unwrap();
        let b = with_id([2u8; NONCE_LEN]).seal(&key()).unwrap();
        assert_ne!(a, b);
        let (a, b) = (
            TokenClaims::open(&key(), &a, NOW, BOTH).unwrap(),
            TokenClaims::open(&key(), &b, NOW, BOTH).unwrap(),
        );
        assert_eq!((a.id, b.id), ([1; NONCE_LEN], [2; NONCE_LEN]));
        assert_eq!(
            TokenClaims {
                id: b.id,
                ..a.clone()
            },
            b
        );
        assert_ne!(a.session_use().id, b.session_use().id);
        assert_eq!(a.session_use().max, 1);
    }

    #[test]
    fn expiry_edges() {
        let t = token();
        let exp = NOW + 600;
        assert!(TokenClaims::open(&key(), &t, exp - 1, BOTH).is_ok());
        let expired = Err(seal::Error::Expired(exp));
        assert_eq!(TokenClaims::open(&key(), &t, exp, BOTH), expired);
        assert_eq!(TokenClaims::open(&key(), &t, exp + 1, BOTH), expired);
        assert_eq!(TokenClaims::open(&key(), &t, u64::MAX, BOTH), expired);
        assert!(TokenClaims::open(&key(), &t, 0, BOTH).is_ok());
        let zero = TokenClaims {
            expires_at: 0,
            ..claims()
        }
        .seal(&key())
        .unwrap();
        assert_eq!(
            TokenClaims::open(&key(), &zero, 0, BOTH),
            Err(seal::Error::Expired(0))
        );
    }

    #[test]
    fn purpose_is_checked() {
        let t = token();
        assert_eq!(
            TokenClaims::open(&key(), &t, NOW, &[SessionKind::Transcription]),
            Err(seal::Error::WrongPurpose)
        );
        assert_eq!(
            TokenClaims::open(&key(), &t, NOW, &[]),
            Err(seal::Error::WrongPurpose)
        );
        let tr = TokenClaims {
            kind: SessionKind::Transcription,
            ..claims()
        }
        .seal(&key())
        .unwrap();
        assert_eq!(
            TokenClaims::open(&key(), &tr, NOW, &[SessionKind::Realtime]),
            Err(seal::Error::WrongPurpose)
        );
        assert_eq!(
            TokenClaims::open(&key(), &tr, NOW, &[SessionKind::Transcription])
                .unwrap()
                .kind,
            SessionKind::Transcription
        );
        // Wrong purpose wins over expiry: both are authentic facts.
        assert_eq!(
            TokenClaims::open(&key(), &tr, u64::MAX, &[SessionKind::Realtime]),
            Err(seal::Error::WrongPurpose)
        );
    }

    #[test]
    fn a_foreign_sealing_key_cannot_open() {
        let other = Keys::derive(&[8u8; 32]).unwrap();
        assert_eq!(
            TokenClaims::open(&other, &token(), NOW, BOTH),
            Err(seal::Error::BadMac)
        );
    }

    #[test]
    fn tokens_issued_before_the_seal_module_still_open() {
        assert_eq!(token(), ISSUED_BEFORE_SEAL);
        assert_eq!(
            TokenClaims::open(&key(), ISSUED_BEFORE_SEAL, NOW, BOTH),
            Ok(claims())
        );
    }

    #[test]
    fn tampering_with_any_byte_is_detected() {
        let t = token();
        let raw = b64url_decode(&t[TOKEN_PREFIX.len()..]).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                let forged = format!("{TOKEN_PREFIX}{}", b64url_encode(&bad));
                let err = TokenClaims::open(&key(), &forged, NOW, BOTH).unwrap_err();
                if i == 0 {
                    assert_eq!(err, seal::Error::Version, "version byte");
                } else {
                    assert_eq!(err, seal::Error::BadMac, "byte {i}");
                }
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let t = token();
        for cut in 0..t.len() {
            assert!(
                TokenClaims::open(&key(), &t[..cut], NOW, BOTH).is_err(),
                "cut {cut}"
            );
        }
        let raw = b64url_decode(&t[TOKEN_PREFIX.len()..]).unwrap();
        for cut in 1..raw.len() {
            let short = format!("{TOKEN_PREFIX}{}", b64url_encode(&raw[..cut]));
            assert!(
                TokenClaims::open(&key(), &short, NOW, BOTH).is_err(),
                "raw cut {cut}"
            );
        }
        let mut long = raw.clone();
        long.push(0);
        let long = format!("{TOKEN_PREFIX}{}", b64url_encode(&long));
        assert_eq!(
            TokenClaims::open(&key(), &long, NOW, BOTH),
            Err(seal::Error::BadMac)
        );
        assert!(TokenClaims::open(&key(), &format!("{t}A"), NOW, BOTH).is_err());
        assert!(TokenClaims::open(&key(), &format!("{t}AA"), NOW, BOTH).is_err());
    }

    #[test]
    fn malformed_inputs() {
        for text in [
            "",
            "ek_rl_",
            "ek_rl_!!!",
            "ek_abc",
            "sk-reelay-abc",
            "EK_RL_AAAA",
            "ek_rl_AAAA",
        ] {
            assert_eq!(
                TokenClaims::open(&key(), text, NOW, BOTH),
                Err(seal::Error::Malformed),
                "{text}"
            );
        }
        let huge = format!("{TOKEN_PREFIX}{}", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(
            TokenClaims::open(&key(), &huge, NOW, BOTH),
            Err(seal::Error::Malformed)
        );
    }

    #[test]
    fn the_prefix_is_authenticated() {
        // Same bytes under another prefix never open; the version is in the AAD.
        let t = token();
        let moved = t.replacen(TOKEN_PREFIX, "ek_xx_", 1);
        assert!(TokenClaims::open(&key(), &moved, NOW, BOTH).is_err());
    }

    #[test]
    fn oversized_fields_are_refused_not_truncated() {
        let long = TokenClaims {
            deployment: "d".repeat(256),
            ..claims()
        };
        assert_eq!(long.seal(&key()), Err(seal::Error::Unsupported));
        let long = TokenClaims {
            upstream_key: UpstreamKey::new("k".repeat(MAX_UPSTREAM_KEY_LEN + 1)),
            ..claims()
        };
        assert_eq!(long.seal(&key()), Err(seal::Error::Unsupported));
        let empty = TokenClaims {
            upstream_key: UpstreamKey::new(""),
            ..claims()
        };
        assert_eq!(empty.seal(&key()), Err(seal::Error::Unsupported));
        let max = TokenClaims {
            deployment: "d".repeat(255),
            model: "m".repeat(255),
            upstream_key: UpstreamKey::new("k".repeat(MAX_UPSTREAM_KEY_LEN)),
            ..claims()
        };
        let t = max.seal(&key()).unwrap();
        assert!(t.len() <= MAX_TOKEN_LEN, "{}", t.len());
        assert_eq!(TokenClaims::open(&key(), &t, NOW, BOTH).unwrap(), max);
    }

    #[test]
    fn errors_map_to_401s_with_stable_codes() {
        for e in [
            seal::Error::Malformed,
            seal::Error::BadMac,
            seal::Error::WrongPurpose,
        ] {
            let c = e.to_client(Purpose::RealtimeToken);
            assert_eq!(c.code.as_str(), "invalid_realtime_token");
            assert_eq!(c.status(), 401);
        }
        let c = seal::Error::Expired(NOW).to_client(Purpose::RealtimeToken);
        assert_eq!(c.code.as_str(), "realtime_token_expired");
        assert_eq!(c.status(), 401);
        assert!(!seal::Error::BadMac
            .to_client(Purpose::RealtimeToken)
            .to_string()
            .contains("ek_"));
    }

    proptest! {
        #[test]
        fn open_never_panics(text in ".{0,400}") {
            let _ = TokenClaims::open(&key(), &text, NOW, BOTH);
            let _ = TokenClaims::open(&key(), &format!("{TOKEN_PREFIX}{text}"), NOW, BOTH);
        }

        #[test]
        fn any_claims_round_trip(
            kind in prop_oneof![Just(SessionKind::Realtime), Just(SessionKind::Transcription), Just(SessionKind::Translation)],
            expires_at in 1u64..,
            hash in proptest::array::uniform32(any::<u8>()),
            deployment in "[a-z0-9._-]{1,64}",
            model in "[ -~]{0,128}",
            ek in "[!-~]{1,200}",
            nonce in proptest::array::uniform12(any::<u8>()),
        ) {
            let c = TokenClaims {
                id: nonce, kind, expires_at, key_hash: hash, deployment, model,
                upstream_key: UpstreamKey::new(ek),
            origin: None,
            subject: None,
            };
            let t = c.seal(&key()).unwrap();
            let kinds = [SessionKind::Realtime, SessionKind::Transcription, SessionKind::Translation];
            prop_assert_eq!(TokenClaims::open(&key(), &t, expires_at - 1, &kinds), Ok(c));
        }

        #[test]
        fn random_bytes_under_the_prefix_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = format!("{TOKEN_PREFIX}{}", b64url_encode(&bytes));
            prop_assert!(TokenClaims::open(&key(), &text, NOW, BOTH).is_err());
        }
    }
}
