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
//! | session kind (`realtime` / `transcription`) | the token's purpose; a token never opens for a use it was not minted for |
//! | expiry (unix seconds) | never later than the upstream's `expires_at` |
//! | SHA-256 of the owning virtual key | owner fingerprint ([`crate::affinity::owner_of`]) and the key's `token`, so the host can check revocation *now* |
//! | deployment id | the SDP offer goes to the deployment that minted the ephemeral key, never re-routed |
//! | model group | the access rules are re-checked against the name the key was allowed |
//! | upstream ephemeral key | sent upstream as `Authorization: Bearer ek_…`; never in the clear |
//!
//! Wire format: `ek_rl_` + base64url (no padding) of the bytes below. The
//! prefix starts like the upstream's own ephemeral keys on purpose: clients
//! recognise a browser-safe key by its `ek_` (openai-node enables
//! browser use for such keys; apps check `startsWith("ek_")`), and `rl_`
//! says it is reelay's.
//!
//! ```text
//! byte 0        version (1)
//! bytes 1..13   nonce: 12 random bytes from the host
//! rest          AES-256-GCM(key, nonce, plaintext, aad = "ek_rl_" ‖ version)
//!               = ciphertext ‖ 16-byte tag
//!
//! plaintext:
//! byte 0        kind (1 = realtime, 2 = transcription)
//! bytes 1..9    expires_at, unix seconds, big endian
//! bytes 9..41   SHA-256 of the owning virtual key
//! 1 + n bytes   deployment id (length byte, then bytes)
//! 1 + m bytes   model group name (length byte, then bytes)
//! 2 + k bytes   upstream ephemeral key (big-endian u16 length, then bytes)
//! ```
//!
//! The key is `HMAC-SHA-256(SEALING_KEY, "reelay/realtime-token/v1")`: the
//! sealing secret is never used directly, and this key differs from the
//! affinity MAC key derived from the same secret.
//!
//! Opening checks, in order: size and prefix, base64, version, the GCM tag
//! (constant time, by the AEAD), the plaintext layout, the purpose, then the
//! expiry against the `now` the host passes in. Only authenticated bytes are
//! interpreted, so every failure before the tag check is indistinguishable
//! from a forgery for a prober.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};

use super::SessionKind;
use crate::affinity::{owner_of, MIN_SEALING_KEY_LEN, OWNER_LEN};
use crate::encoding::{b64url_decode, b64url_encode, hex, hmac_sha256};
use crate::errors::{ClientError, ErrorCode};

/// Prefix of every realtime token.
pub const TOKEN_PREFIX: &str = "ek_rl_";
/// Length of the nonce the host passes to [`TokenKey::seal`].
pub const NONCE_LEN: usize = 12;
/// Longest token text [`TokenKey::open`] looks at; longer input is malformed.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest upstream ephemeral key a token can carry.
pub const MAX_UPSTREAM_KEY_LEN: usize = 1024;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const KEY_LABEL: &[u8] = b"reelay/realtime-token/v1";
/// kind + expiry + key hash + three length prefixes.
const MIN_PLAINTEXT: usize = 1 + 8 + 32 + 1 + 1 + 2;

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
}

impl TokenClaims {
    /// The owner fingerprint, as in sealed ids.
    pub fn owner(&self) -> [u8; OWNER_LEN] {
        owner_of(&self.key_hash)
    }

    /// The owning key's public `token` (hex SHA-256), as stored in KV.
    pub fn key_token(&self) -> String {
        hex(&self.key_hash)
    }
}

/// Why a token did not open. Clients see [`TokenError::to_client`]: one
/// `401 invalid_realtime_token` for everything but expiry, which is
/// `401 realtime_token_expired` (expiry is checked only after the tag, so
/// telling it apart reveals nothing to a forger, and it tells an honest
/// client to mint a new token). The variants exist for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Wrong prefix, bad base64, wrong size or unknown version.
    Malformed,
    /// The tag does not verify: forged, tampered, truncated past the
    /// header, or sealed under another `SEALING_KEY`.
    Forged,
    /// Authentic, but its expiry has passed.
    Expired,
    /// Authentic, but minted for another purpose.
    WrongPurpose,
}

impl TokenError {
    /// Stable name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Forged => "forged",
            Self::Expired => "expired",
            Self::WrongPurpose => "wrong_purpose",
        }
    }

    /// The error a client sees.
    pub fn to_client(self) -> ClientError {
        match self {
            Self::Expired => ClientError::new(
                ErrorCode::RealtimeTokenExpired,
                "the realtime token has expired; mint a new one with POST /v1/realtime/client_secrets",
            ),
            Self::Malformed | Self::Forged => ClientError::new(
                ErrorCode::InvalidRealtimeToken,
                "the realtime token is not valid (not issued by this gateway, or modified)",
            ),
            Self::WrongPurpose => ClientError::new(
                ErrorCode::InvalidRealtimeToken,
                "the realtime token was minted for another kind of session",
            ),
        }
    }
}

/// Seals and opens realtime tokens under the key derived from `SEALING_KEY`.
#[derive(Clone)]
pub struct TokenKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey { .. }")
    }
}

impl TokenKey {
    /// The token key for `sealing_key` (the `SEALING_KEY` secret); `None`
    /// when it is shorter than [`MIN_SEALING_KEY_LEN`] bytes.
    pub fn new(sealing_key: &[u8]) -> Option<Self> {
        if sealing_key.len() < MIN_SEALING_KEY_LEN {
            return None;
        }
        let key = hmac_sha256(sealing_key, &[KEY_LABEL]);
        let cipher = Aes256Gcm::new_from_slice(&key).ok()?;
        Some(Self { cipher })
    }

    /// Seals `claims` with `nonce` (12 fresh random bytes from the host; a
    /// nonce must never repeat under one key). `None` when a field is longer
    /// than the format allows (deployment or model over 255 bytes, upstream
    /// key over [`MAX_UPSTREAM_KEY_LEN`]); config validation and
    /// [`super::session`] keep them far shorter.
    pub fn seal(&self, claims: &TokenClaims, nonce: &[u8; NONCE_LEN]) -> Option<String> {
        let deployment = claims.deployment.as_bytes();
        let model = claims.model.as_bytes();
        let upstream = claims.upstream_key.expose().as_bytes();
        if upstream.is_empty() || upstream.len() > MAX_UPSTREAM_KEY_LEN {
            return None;
        }
        let mut plain =
            Vec::with_capacity(MIN_PLAINTEXT + deployment.len() + model.len() + upstream.len());
        plain.push(claims.kind.byte());
        plain.extend_from_slice(&claims.expires_at.to_be_bytes());
        plain.extend_from_slice(&claims.key_hash);
        plain.push(u8::try_from(deployment.len()).ok()?);
        plain.extend_from_slice(deployment);
        plain.push(u8::try_from(model.len()).ok()?);
        plain.extend_from_slice(model);
        plain.extend_from_slice(&u16::try_from(upstream.len()).ok()?.to_be_bytes());
        plain.extend_from_slice(upstream);

        let sealed = self
            .cipher
            .encrypt(
                &(*nonce).into(),
                Payload {
                    msg: &plain,
                    aad: &aad(),
                },
            )
            .ok()?;
        let mut raw = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        raw.push(VERSION);
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&sealed);
        let mut token = String::from(TOKEN_PREFIX);
        token.push_str(&b64url_encode(&raw));
        Some(token)
    }

    /// Opens `token` for one of the `allowed` purposes at `now` (unix
    /// seconds): a token is expired from its `expires_at` second on.
    pub fn open(
        &self,
        token: &str,
        now_secs: u64,
        allowed: &[SessionKind],
    ) -> Result<TokenClaims, TokenError> {
        let claims = self.decrypt(token)?;
        if !allowed.contains(&claims.kind) {
            return Err(TokenError::WrongPurpose);
        }
        if now_secs >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Authenticates and decodes `token` without the purpose and expiry
    /// checks (for [`TokenKey::open`] and tests).
    fn decrypt(&self, token: &str) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let body = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let raw = b64url_decode(body).ok_or(TokenError::Malformed)?;
        if raw.len() < 1 + NONCE_LEN + TAG_LEN + MIN_PLAINTEXT || raw[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[1..1 + NONCE_LEN]);
        let plain = self
            .cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &raw[1 + NONCE_LEN..],
                    aad: &aad(),
                },
            )
            .map_err(|_| TokenError::Forged)?;
        // Authentic from here on: a layout error means a bug or a future
        // format, never an attacker's choice.
        parse_plaintext(&plain).ok_or(TokenError::Malformed)
    }
}

fn aad() -> [u8; TOKEN_PREFIX.len() + 1] {
    let mut aad = [0u8; TOKEN_PREFIX.len() + 1];
    aad[..TOKEN_PREFIX.len()].copy_from_slice(TOKEN_PREFIX.as_bytes());
    aad[TOKEN_PREFIX.len()] = VERSION;
    aad
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

fn parse_plaintext(plain: &[u8]) -> Option<TokenClaims> {
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
    if !r.0.is_empty() || upstream.is_empty() {
        return None;
    }
    Some(TokenClaims {
        kind,
        expires_at: u64::from_be_bytes(expiry),
        key_hash,
        deployment,
        model,
        upstream_key: UpstreamKey(upstream),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::ToString;

    const NOW: u64 = 1_790_000_000;
    const EK: &str = "ek_68af296e8e408191a1120ab6383263c2";

    fn key() -> TokenKey {
        TokenKey::new(&[7u8; 32]).unwrap()
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            kind: SessionKind::Realtime,
            expires_at: NOW + 600,
            key_hash: [0xab; 32],
            deployment: "openai-realtime".into(),
            model: "gpt-realtime".into(),
            upstream_key: UpstreamKey::new(EK),
        }
    }

    fn token() -> String {
        key().seal(&claims(), &[3u8; NONCE_LEN]).unwrap()
    }

    const BOTH: &[SessionKind] = &[SessionKind::Realtime, SessionKind::Transcription];

    #[test]
    fn round_trips_and_is_url_safe() {
        let t = token();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert!(t[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let opened = key().open(&t, NOW, BOTH).unwrap();
        assert_eq!(opened, claims());
        assert_eq!(opened.owner(), [0xab; OWNER_LEN]);
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
        let a = key().seal(&claims(), &[1u8; NONCE_LEN]).unwrap();
        let b = key().seal(&claims(), &[2u8; NONCE_LEN]).unwrap();
        assert_ne!(a, b);
        assert_eq!(key().open(&a, NOW, BOTH), key().open(&b, NOW, BOTH));
    }

    #[test]
    fn expiry_edges() {
        let t = token();
        let exp = NOW + 600;
        assert!(key().open(&t, exp - 1, BOTH).is_ok());
        assert_eq!(key().open(&t, exp, BOTH), Err(TokenError::Expired));
        assert_eq!(key().open(&t, exp + 1, BOTH), Err(TokenError::Expired));
        assert_eq!(key().open(&t, u64::MAX, BOTH), Err(TokenError::Expired));
        assert!(key().open(&t, 0, BOTH).is_ok());
        let zero = key()
            .seal(
                &TokenClaims {
                    expires_at: 0,
                    ..claims()
                },
                &[0; NONCE_LEN],
            )
            .unwrap();
        assert_eq!(key().open(&zero, 0, BOTH), Err(TokenError::Expired));
    }

    #[test]
    fn purpose_is_checked() {
        let t = token();
        assert_eq!(
            key().open(&t, NOW, &[SessionKind::Transcription]),
            Err(TokenError::WrongPurpose)
        );
        assert_eq!(key().open(&t, NOW, &[]), Err(TokenError::WrongPurpose));
        let tr = key()
            .seal(
                &TokenClaims {
                    kind: SessionKind::Transcription,
                    ..claims()
                },
                &[5; NONCE_LEN],
            )
            .unwrap();
        assert_eq!(
            key().open(&tr, NOW, &[SessionKind::Realtime]),
            Err(TokenError::WrongPurpose)
        );
        assert_eq!(
            key()
                .open(&tr, NOW, &[SessionKind::Transcription])
                .unwrap()
                .kind,
            SessionKind::Transcription
        );
        // Wrong purpose wins over expiry: both are authentic facts.
        assert_eq!(
            key().open(&tr, u64::MAX, &[SessionKind::Realtime]),
            Err(TokenError::WrongPurpose)
        );
    }

    #[test]
    fn a_foreign_sealing_key_cannot_open() {
        let other = TokenKey::new(&[8u8; 32]).unwrap();
        assert_eq!(other.open(&token(), NOW, BOTH), Err(TokenError::Forged));
        assert!(TokenKey::new(&[1u8; 31]).is_none());
    }

    #[test]
    fn the_token_key_differs_from_the_affinity_key() {
        // The same secret seals ids (HMAC, "reelay/affinity/v1"); the token
        // key is derived under its own label.
        assert_ne!(
            hmac_sha256(&[7u8; 32], &[KEY_LABEL]),
            hmac_sha256(&[7u8; 32], &[b"reelay/affinity/v1"])
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
                let err = key().open(&forged, NOW, BOTH).unwrap_err();
                if i == 0 {
                    assert_eq!(err, TokenError::Malformed, "version byte");
                } else {
                    assert_eq!(err, TokenError::Forged, "byte {i}");
                }
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let t = token();
        for cut in 0..t.len() {
            assert!(key().open(&t[..cut], NOW, BOTH).is_err(), "cut {cut}");
        }
        let raw = b64url_decode(&t[TOKEN_PREFIX.len()..]).unwrap();
        for cut in 1..raw.len() {
            let short = format!("{TOKEN_PREFIX}{}", b64url_encode(&raw[..cut]));
            assert!(key().open(&short, NOW, BOTH).is_err(), "raw cut {cut}");
        }
        let mut long = raw.clone();
        long.push(0);
        let long = format!("{TOKEN_PREFIX}{}", b64url_encode(&long));
        assert_eq!(key().open(&long, NOW, BOTH), Err(TokenError::Forged));
        assert!(key().open(&format!("{t}A"), NOW, BOTH).is_err());
        assert!(key().open(&format!("{t}AA"), NOW, BOTH).is_err());
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
                key().open(text, NOW, BOTH),
                Err(TokenError::Malformed),
                "{text}"
            );
        }
        let huge = format!("{TOKEN_PREFIX}{}", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(key().open(&huge, NOW, BOTH), Err(TokenError::Malformed));
    }

    #[test]
    fn the_prefix_is_authenticated() {
        // Same bytes under another prefix never open; the version is in the AAD.
        let t = token();
        let moved = t.replacen(TOKEN_PREFIX, "ek_xx_", 1);
        assert!(key().open(&moved, NOW, BOTH).is_err());
    }

    #[test]
    fn oversized_fields_are_refused_not_truncated() {
        let long = TokenClaims {
            deployment: "d".repeat(256),
            ..claims()
        };
        assert_eq!(key().seal(&long, &[0; NONCE_LEN]), None);
        let long = TokenClaims {
            upstream_key: UpstreamKey::new("k".repeat(MAX_UPSTREAM_KEY_LEN + 1)),
            ..claims()
        };
        assert_eq!(key().seal(&long, &[0; NONCE_LEN]), None);
        let empty = TokenClaims {
            upstream_key: UpstreamKey::new(""),
            ..claims()
        };
        assert_eq!(key().seal(&empty, &[0; NONCE_LEN]), None);
        let max = TokenClaims {
            deployment: "d".repeat(255),
            model: "m".repeat(255),
            upstream_key: UpstreamKey::new("k".repeat(MAX_UPSTREAM_KEY_LEN)),
            ..claims()
        };
        let t = key().seal(&max, &[0; NONCE_LEN]).unwrap();
        assert!(t.len() <= MAX_TOKEN_LEN, "{}", t.len());
        assert_eq!(key().open(&t, NOW, BOTH).unwrap(), max);
    }

    #[test]
    fn errors_map_to_401s_with_stable_codes() {
        for e in [
            TokenError::Malformed,
            TokenError::Forged,
            TokenError::WrongPurpose,
        ] {
            let c = e.to_client();
            assert_eq!(c.code.as_str(), "invalid_realtime_token");
            assert_eq!(c.status(), 401);
        }
        let c = TokenError::Expired.to_client();
        assert_eq!(c.code.as_str(), "realtime_token_expired");
        assert_eq!(c.status(), 401);
        assert_eq!(TokenError::Forged.as_str(), "forged");
        assert!(!TokenError::Forged.to_client().to_string().contains("ek_"));
    }

    proptest! {
        #[test]
        fn open_never_panics(text in ".{0,400}") {
            let _ = key().open(&text, NOW, BOTH);
            let _ = key().open(&format!("{TOKEN_PREFIX}{text}"), NOW, BOTH);
        }

        #[test]
        fn any_claims_round_trip(
            kind in prop_oneof![Just(SessionKind::Realtime), Just(SessionKind::Transcription)],
            expires_at in 1u64..,
            hash in proptest::array::uniform32(any::<u8>()),
            deployment in "[a-z0-9._-]{1,64}",
            model in "[ -~]{0,128}",
            ek in "[!-~]{1,200}",
            nonce in proptest::array::uniform12(any::<u8>()),
        ) {
            let c = TokenClaims {
                kind, expires_at, key_hash: hash, deployment, model,
                upstream_key: UpstreamKey::new(ek),
            };
            let t = key().seal(&c, &nonce).unwrap();
            prop_assert_eq!(key().open(&t, expires_at - 1, BOTH), Ok(c));
        }

        #[test]
        fn random_bytes_under_the_prefix_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = format!("{TOKEN_PREFIX}{}", b64url_encode(&bytes));
            prop_assert!(key().open(&text, NOW, BOTH).is_err());
        }
    }
}
