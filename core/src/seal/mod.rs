//! Sealing: every id and token reelay hands a client, under one key
//! derivation, one list of purposes, one pair of envelopes and one error type.
//!
//! # Keys
//!
//! [`Keys::derive`] turns the `SEALING_KEY` secret (at least
//! [`MIN_SEALING_KEY_LEN`] bytes) into one subkey per key slot,
//! `HMAC-SHA-256(SEALING_KEY, label)`, so the secret itself is never used
//! and no two slots share a key:
//!
//! | slot | label | primitive | purposes |
//! |---|---|---|---|
//! | ids | `reelay/affinity/v1` | HMAC-SHA-256, 16-byte tag | every sealed id (a purpose byte tells them apart) |
//! | browser tokens | `reelay/browser-token/v1` | HMAC-SHA-256, 16-byte tag | [`Purpose::BrowserToken`] |
//! | realtime tokens | `reelay/realtime-token/v1` | AES-256-GCM | [`Purpose::RealtimeToken`] |
//! | Live tokens | `reelay/live-token/v1` | AES-256-GCM | [`Purpose::LiveToken`] |
//!
//! A host derives [`Keys`] once (the secret cannot change while it runs)
//! and passes them to every codec.
//!
//! # Envelopes
//!
//! Every sealed value is `<prefix>` + base64url (no padding) of raw bytes
//! starting with the purpose's format version:
//!
//! ```text
//! MAC'd (ids, browser tokens): version ‖ [purpose byte] ‖ body ‖ tag
//!   tag = HMAC-SHA-256(slot key, everything before)[..16]; the purpose
//!   byte is present for purposes sharing the ids key
//! AEAD (tokens carrying a secret): version ‖ nonce (12) ‖ AES-256-GCM(
//!   slot key, nonce, body, aad = prefix ‖ version) (ciphertext ‖ 16-byte tag)
//! ```
//!
//! A purpose is encrypted when what it carries is secret (an upstream
//! ephemeral key, a locked Live setup), and only authenticated otherwise.
//! Opening checks the length, the prefix, the encoding, then the tag in
//! constant time; only authenticated bytes are interpreted after that. The
//! layouts of the bodies belong to the codecs that use them: [`Sealed`] ids
//! here, `crate::browser_token::Claims`, `crate::realtime::TokenClaims` and
//! `crate::realtime::LiveTokenClaims`.
//!
//! # Errors
//!
//! [`Error`] is the one reason a value did not open (or seal), with a
//! stable [`Error::as_str`] for logs, and [`Error::to_client`] is the one
//! answer a client gets for each purpose. Token prefixes are reserved
//! ([`RESERVED_PREFIXES`]): no virtual key may start with one.

mod id;

pub use id::{
    id_to_token, owner_of, token_to_id, Owner, Sealed, UpstreamId, MAX_UPSTREAM_ID_LEN, OWNER_LEN,
    SUBJECT_LEN,
};

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};

use crate::encoding::{b64url_decode, b64url_encode, ct_eq, hmac_sha256};
use crate::errors::{ClientError, ErrorCode};
use crate::time::rfc3339;

/// Shortest `SEALING_KEY` accepted, in bytes.
pub const MIN_SEALING_KEY_LEN: usize = 32;
/// Length of the nonce an AEAD purpose is sealed with (fresh random bytes
/// from the host; a nonce must never repeat under one key).
pub const NONCE_LEN: usize = 12;
/// Length of the tag of both envelopes (truncated HMAC, GCM tag).
pub const TAG_LEN: usize = 16;

/// How a purpose is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Authenticated (HMAC), readable by whoever holds it: nothing secret inside.
    Mac,
    /// Encrypted and authenticated (AES-256-GCM): it carries a secret.
    Aead,
}

/// What a sealed value is for. Each purpose has its own prefix, and a value
/// sealed for one never opens as another: purposes sharing a key carry an
/// authenticated purpose byte, the others have keys of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// A GPT-Live session (`live_…`); the payload is the upstream session id.
    LiveSession,
    /// A Gemini interaction (`int_…`: Omni video, Live Interactions); the
    /// payload is the upstream interaction id.
    Interaction,
    /// A browser token (`bt_rl_…`): a narrowed, short-lived credential; see
    /// [`crate::browser_token`].
    BrowserToken,
    /// A realtime token (`ek_rl_…`) carrying the upstream ephemeral key;
    /// see [`crate::realtime::token`].
    RealtimeToken,
    /// A Gemini Live ephemeral token (`lt_rl_…`) carrying a locked setup;
    /// see [`crate::realtime::live`].
    LiveToken,
}

/// The derived key a purpose is sealed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Ids,
    BrowserToken,
    RealtimeToken,
    LiveToken,
}

impl Slot {
    const ALL: [Self; 4] = [
        Self::Ids,
        Self::BrowserToken,
        Self::RealtimeToken,
        Self::LiveToken,
    ];

    /// The HMAC label the slot's key is derived under (part of the wire
    /// formats: changing one invalidates every value sealed under it).
    const fn label(self) -> &'static [u8] {
        match self {
            Self::Ids => b"reelay/affinity/v1",
            Self::BrowserToken => b"reelay/browser-token/v1",
            Self::RealtimeToken => b"reelay/realtime-token/v1",
            Self::LiveToken => b"reelay/live-token/v1",
        }
    }
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Self; 13] = [
        Self::Video,
        Self::Character,
        Self::Response,
        Self::ReasoningItem,
        Self::CompactionItem,
        Self::Conversation,
        Self::EncryptedContent,
        Self::RealtimeCall,
        Self::LiveSession,
        Self::Interaction,
        Self::BrowserToken,
        Self::RealtimeToken,
        Self::LiveToken,
    ];

    /// The prefix of values of this purpose.
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
            Self::LiveSession => "live_",
            Self::Interaction => "int_",
            Self::BrowserToken => "bt_rl_",
            Self::RealtimeToken => "ek_rl_",
            Self::LiveToken => "lt_rl_",
        }
    }

    /// Whether values of this purpose are encrypted or only authenticated.
    pub const fn protection(self) -> Protection {
        match self {
            Self::RealtimeToken | Self::LiveToken => Protection::Aead,
            _ => Protection::Mac,
        }
    }

    /// Whether values of this purpose are credentials a client presents in
    /// place of a virtual key (their prefixes are [`RESERVED_PREFIXES`]),
    /// rather than ids naming upstream state.
    pub const fn is_token(self) -> bool {
        matches!(
            self,
            Self::BrowserToken | Self::RealtimeToken | Self::LiveToken
        )
    }

    /// The format version values of this purpose are sealed with.
    pub const fn version(self) -> u8 {
        1
    }

    /// Longest text [`Keys`] opens for this purpose; longer input is
    /// malformed before any decoding.
    pub const fn max_len(self) -> usize {
        match self {
            Self::BrowserToken | Self::RealtimeToken => 4096,
            Self::LiveToken => 16 * 1024,
            _ => 1024,
        }
    }

    /// Shortest body the layout of this purpose allows (for ids, owner,
    /// time and deployment length; for tokens, their fixed claims): shorter
    /// input is malformed before the tag is checked, so a raw upstream id
    /// is logged as malformed, not as a forgery.
    pub const fn min_body_len(self) -> usize {
        match self {
            // Parent hash, two times, id, origin and rule counts.
            Self::BrowserToken => 32 + 8 + 8 + 8 + 1 + 1,
            // Kind, expiry, key hash and three length prefixes.
            Self::RealtimeToken => 1 + 8 + 32 + 1 + 1 + 2,
            // JSON claims: at least `{}`.
            Self::LiveToken => 2,
            // Owner, creation time and deployment length.
            _ => id::FIXED_LEN,
        }
    }

    const fn slot(self) -> Slot {
        match self {
            Self::BrowserToken => Slot::BrowserToken,
            Self::RealtimeToken => Slot::RealtimeToken,
            Self::LiveToken => Slot::LiveToken,
            _ => Slot::Ids,
        }
    }

    /// The authenticated byte telling apart purposes that share the ids
    /// key; `None` for purposes with a key of their own.
    const fn purpose_byte(self) -> Option<u8> {
        match self {
            Self::Video => Some(1),
            Self::Character => Some(2),
            Self::Response => Some(3),
            Self::ReasoningItem => Some(4),
            Self::CompactionItem => Some(5),
            Self::Conversation => Some(6),
            Self::EncryptedContent => Some(7),
            Self::RealtimeCall => Some(8),
            Self::LiveSession => Some(9),
            Self::Interaction => Some(10),
            Self::BrowserToken | Self::RealtimeToken | Self::LiveToken => None,
        }
    }

    /// Whether this purpose is a sealed id ([`Sealed`], opened with
    /// [`Keys::open_id`]).
    pub const fn is_id(self) -> bool {
        matches!(self.slot(), Slot::Ids)
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

    /// The header MAC'd values of this purpose start with, at `version`.
    fn mac_header(self, version: u8) -> ([u8; 2], usize) {
        match self.purpose_byte() {
            Some(byte) => ([version, byte], 2),
            None => ([version, 0], 1),
        }
    }

    /// The AEAD associated data: the prefix and the version.
    fn aad(self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.prefix().len() + 1);
        aad.extend_from_slice(self.prefix().as_bytes());
        aad.push(self.version());
        aad
    }
}

const fn token_purposes() -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < Purpose::ALL.len() {
        if Purpose::ALL[i].is_token() {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Prefixes of the gateway's own tokens, derived from [`Purpose::ALL`]:
/// custom virtual keys may not start with them, or they would be read as
/// tokens.
pub const RESERVED_PREFIXES: [&str; token_purposes()] = {
    let mut out = [""; token_purposes()];
    let (mut i, mut n) = (0, 0);
    while i < Purpose::ALL.len() {
        if Purpose::ALL[i].is_token() {
            out[n] = Purpose::ALL[i].prefix();
            n += 1;
        }
        i += 1;
    }
    out
};

/// Google's resource-name form of a token (`auth_tokens/lt_rl_…`, how Live
/// clients present a Live token): a credential starting with it is read as
/// a token wherever one is accepted, so it is reserved like
/// [`RESERVED_PREFIXES`].
pub const TOKEN_NAME_PREFIX: &str = "auth_tokens/";

/// Why a value did not open (or seal). Clients see [`Error::to_client`],
/// which tells the variants apart only for an expired token (and a realtime
/// token minted for another kind of session); the variants exist for logs
/// and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Wrong prefix, too long, bad base64, too short, or authenticated
    /// bytes whose layout does not parse.
    Malformed,
    /// An unknown format version.
    Version,
    /// The tag does not verify: forged, altered, truncated, or sealed under
    /// another `SEALING_KEY`.
    BadMac,
    /// Authentic, but sealed for another purpose (another id kind, or a
    /// realtime token minted for another kind of session).
    WrongPurpose,
    /// Authentic, but expired at this unix second.
    Expired(u64),
    /// An authentic id of another key, or of another visitor of the key.
    NotOwner,
    /// The purpose is not sealed this way (a caller bug: an AEAD purpose
    /// asked of the MAC envelope, a token of the id codec, or a claim too
    /// long for its format).
    Unsupported,
}

impl Error {
    /// Stable name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Version => "version",
            Self::BadMac => "bad_mac",
            Self::WrongPurpose => "wrong_purpose",
            Self::Expired(_) => "expired",
            Self::NotOwner => "not_owner",
            Self::Unsupported => "unsupported",
        }
    }

    /// The error a client sees when a value of `purpose` did not open (or
    /// could not be sealed: [`Error::Unsupported`] is the gateway's fault).
    /// Ids answer [`Purpose::refusal`], "not found", so a prober learns
    /// nothing; tokens answer `401`, telling only an authentic but expired
    /// token apart.
    pub fn to_client(self, purpose: Purpose) -> ClientError {
        match (self, purpose) {
            (Self::Unsupported, _) => ClientError::new(
                ErrorCode::Internal,
                format!("the gateway could not seal a {} value", purpose.prefix()),
            ),
            (Self::Expired(at), Purpose::BrowserToken) => ClientError::new(
                ErrorCode::BrowserTokenExpired,
                format!(
                    "the browser token expired at {}; ask your server for a new one",
                    rfc3339(at.saturating_mul(1000))
                ),
            ),
            (Self::Expired(_), Purpose::RealtimeToken) => ClientError::new(
                ErrorCode::RealtimeTokenExpired,
                "the realtime token has expired; mint a new one with POST /v1/realtime/client_secrets",
            ),
            (Self::WrongPurpose, Purpose::RealtimeToken) => ClientError::new(
                ErrorCode::InvalidRealtimeToken,
                "the realtime token was minted for another kind of session",
            ),
            (Self::Expired(_), Purpose::LiveToken) => ClientError::new(
                ErrorCode::LiveTokenExpired,
                "the ephemeral token has expired or may no longer start sessions; mint a new one",
            ),
            _ => purpose.refusal(),
        }
    }
}

impl Purpose {
    /// What a client is told when a value of this purpose does not open for
    /// it — forged, tampered, malformed, sealed for another purpose or (for
    /// ids) another key's all alike: ids are not found, tokens are invalid.
    /// [`Error::to_client`] adds the few answers that differ (an expired
    /// token).
    pub fn refusal(self) -> ClientError {
        match self {
            Purpose::Video => ClientError::new(
                ErrorCode::VideoNotFound,
                "no video with this id exists for this key",
            )
            .with_param("video_id"),
            Purpose::Character => ClientError::new(
                ErrorCode::VideoNotFound,
                "no character with this id exists for this key",
            )
            .with_param("characters"),
            Purpose::Response => ClientError::from_code(ErrorCode::ResponseNotFound),
            Purpose::Conversation => ClientError::from_code(ErrorCode::ConversationNotFound),
            Purpose::ReasoningItem | Purpose::CompactionItem | Purpose::EncryptedContent => {
                ClientError::from_code(ErrorCode::InvalidEncryptedContent)
            }
            Purpose::RealtimeCall => ClientError::new(
                ErrorCode::RealtimeCallNotFound,
                "no realtime call with this id exists for this key",
            ),
            Purpose::LiveSession => ClientError::new(
                ErrorCode::LiveSessionNotFound,
                "no live session with this id exists for this key",
            ),
            Purpose::Interaction => ClientError::new(
                ErrorCode::InteractionNotFound,
                "no interaction with this id exists for this key",
            ),
            Purpose::BrowserToken => ClientError::from_code(ErrorCode::InvalidBrowserToken),
            Purpose::RealtimeToken => ClientError::new(
                ErrorCode::InvalidRealtimeToken,
                "the realtime token is not valid (not issued by this gateway, or modified)",
            ),
            Purpose::LiveToken => ClientError::new(
                ErrorCode::InvalidLiveToken,
                "the ephemeral token is not valid (not issued by this gateway, or modified)",
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for Error {}

/// Every key derived from the `SEALING_KEY` secret. Its `Debug` shows none.
#[derive(Clone)]
pub struct Keys {
    ids: [u8; 32],
    browser_token: [u8; 32],
    realtime_token: Aes256Gcm,
    live_token: Aes256Gcm,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys { .. }")
    }
}

impl Keys {
    /// Derives every subkey from `sealing_key` (the `SEALING_KEY` secret);
    /// `None` when it is shorter than [`MIN_SEALING_KEY_LEN`] bytes.
    pub fn derive(sealing_key: &[u8]) -> Option<Self> {
        if sealing_key.len() < MIN_SEALING_KEY_LEN {
            return None;
        }
        let [ids, browser_token, realtime_token, live_token] =
            Slot::ALL.map(|slot| hmac_sha256(sealing_key, &[slot.label()]));
        Some(Self {
            ids,
            browser_token,
            realtime_token: Aes256Gcm::new_from_slice(&realtime_token).ok()?,
            live_token: Aes256Gcm::new_from_slice(&live_token).ok()?,
        })
    }

    fn mac_key(&self, purpose: Purpose) -> Result<&[u8; 32], Error> {
        match purpose.slot() {
            Slot::Ids => Ok(&self.ids),
            Slot::BrowserToken => Ok(&self.browser_token),
            Slot::RealtimeToken | Slot::LiveToken => Err(Error::Unsupported),
        }
    }

    fn cipher(&self, purpose: Purpose) -> Result<&Aes256Gcm, Error> {
        match purpose.slot() {
            Slot::RealtimeToken => Ok(&self.realtime_token),
            Slot::LiveToken => Ok(&self.live_token),
            Slot::Ids | Slot::BrowserToken => Err(Error::Unsupported),
        }
    }

    /// Seals `body` for a MAC'd `purpose`: readable, but not forgeable.
    /// [`Error::Unsupported`] for an encrypted purpose, or a body shorter
    /// than [`Purpose::min_body_len`] (it could never open).
    pub fn seal_mac(&self, purpose: Purpose, body: &[u8]) -> Result<String, Error> {
        self.seal_mac_version(purpose, purpose.version(), body)
    }

    /// [`Keys::seal_mac`] at an explicit format `version` (ids with a
    /// visitor's subject are a later version of the id layout).
    fn seal_mac_version(
        &self,
        purpose: Purpose,
        version: u8,
        body: &[u8],
    ) -> Result<String, Error> {
        let key = self.mac_key(purpose)?;
        if body.len() < purpose.min_body_len() {
            return Err(Error::Unsupported);
        }
        let (header, header_len) = purpose.mac_header(version);
        let mut raw = Vec::with_capacity(header_len + body.len() + TAG_LEN);
        raw.extend_from_slice(&header[..header_len]);
        raw.extend_from_slice(body);
        let tag = hmac_sha256(key, &[&raw]);
        raw.extend_from_slice(&tag[..TAG_LEN]);
        Ok(encode(purpose, &raw))
    }

    /// Opens a MAC'd value of `purpose`, verifying the tag in constant time
    /// before anything else is read; returns the body.
    pub fn open_mac(&self, purpose: Purpose, text: &str) -> Result<Vec<u8>, Error> {
        self.open_mac_versions(purpose, &[purpose.version()], text)
            .map(|(_, body)| body)
    }

    /// [`Keys::open_mac`] accepting any of `versions`; returns the version
    /// the value was sealed at and its body.
    fn open_mac_versions(
        &self,
        purpose: Purpose,
        versions: &[u8],
        text: &str,
    ) -> Result<(u8, Vec<u8>), Error> {
        let key = self.mac_key(purpose)?;
        let raw = decode(purpose, text)?;
        let (header, header_len) = purpose.mac_header(raw.first().copied().unwrap_or(0));
        if raw.len() < header_len + purpose.min_body_len() + TAG_LEN {
            return Err(Error::Malformed);
        }
        let (signed, tag) = raw.split_at(raw.len() - TAG_LEN);
        let expected = hmac_sha256(key, &[signed]);
        if !ct_eq(&expected[..TAG_LEN], tag) {
            return Err(Error::BadMac);
        }
        // Only authenticated bytes are interpreted from here on.
        if !versions.contains(&signed[0]) {
            return Err(Error::Version);
        }
        if signed[..header_len] != header[..header_len] {
            return Err(Error::WrongPurpose);
        }
        Ok((signed[0], signed[header_len..].to_vec()))
    }

    /// Encrypts `body` for an encrypted `purpose` with `nonce` (12 fresh
    /// random bytes from the host). [`Error::Unsupported`] for a MAC'd
    /// purpose, or a body shorter than [`Purpose::min_body_len`].
    pub fn seal_aead(
        &self,
        purpose: Purpose,
        nonce: &[u8; NONCE_LEN],
        body: &[u8],
    ) -> Result<String, Error> {
        let cipher = self.cipher(purpose)?;
        if body.len() < purpose.min_body_len() {
            return Err(Error::Unsupported);
        }
        let sealed = cipher
            .encrypt(
                &(*nonce).into(),
                Payload {
                    msg: body,
                    aad: &purpose.aad(),
                },
            )
            .map_err(|_| Error::Unsupported)?;
        let mut raw = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        raw.push(purpose.version());
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&sealed);
        Ok(encode(purpose, &raw))
    }

    /// Opens an encrypted value of `purpose` (the tag is checked by the
    /// AEAD, in constant time); returns the nonce it was sealed with and
    /// the body.
    pub fn open_aead(
        &self,
        purpose: Purpose,
        text: &str,
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), Error> {
        let cipher = self.cipher(purpose)?;
        let raw = decode(purpose, text)?;
        if raw.len() < 1 + NONCE_LEN + purpose.min_body_len() + TAG_LEN {
            return Err(Error::Malformed);
        }
        // The version is also in the associated data, so a changed one
        // would fail the tag anyway.
        if raw[0] != purpose.version() {
            return Err(Error::Version);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[1..1 + NONCE_LEN]);
        let body = cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &raw[1 + NONCE_LEN..],
                    aad: &purpose.aad(),
                },
            )
            .map_err(|_| Error::BadMac)?;
        Ok((nonce, body))
    }
}

fn encode(purpose: Purpose, raw: &[u8]) -> String {
    let mut text = String::from(purpose.prefix());
    text.push_str(&b64url_encode(raw));
    text
}

fn decode(purpose: Purpose, text: &str) -> Result<Vec<u8>, Error> {
    if text.len() > purpose.max_len() {
        return Err(Error::Malformed);
    }
    let body = text
        .strip_prefix(purpose.prefix())
        .ok_or(Error::Malformed)?;
    b64url_decode(body).ok_or(Error::Malformed)
}

#[cfg(test)]
mod tests;
