//! Browser tokens: short-lived, narrowed credentials a server holding a full
//! virtual key mints for a web page (`POST /v1/browser_tokens`), so the
//! page never sees the key.
//!
//! This module owns the mint request (validation and narrowing against the
//! parent key), the token format, and opening a presented token. The host
//! then loads the parent key's record by the hash the token carries, checks
//! it is still usable and not revoked, and intersects its access rules with
//! the token's ([`crate::access::AccessPolicy::narrowed`]).
//!
//! # What a token may be
//!
//! - **models**: a list of access rules (the same syntax as a key's
//!   `models`). Each *exact* model name must be allowed by the parent key;
//!   each wildcard pattern or group must match at least one configured
//!   model the parent may use. At every use the token's rules are
//!   **intersected** with the parent's *current* rules, so a wildcard in a
//!   token can only filter the parent's access, never widen it (a token for
//!   `veo-*` minted by a key allowed `veo-3.1` reaches `veo-3.1` only; if the
//!   key later loses `veo-3.1`, so does the token). Omitted: the parent's
//!   rules as they are.
//! - **expires_in**: seconds, [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`], default
//!   [`DEFAULT_TTL_SECS`]; never past the parent key's own expiry.
//! - **origin**: optionally one exact origin the token is bound to; it must
//!   be allowed by the parent's `allowed_origins` (or the config's). A
//!   request carrying another `Origin` is refused; requests without `Origin`
//!   (non-browser clients, which could send any `Origin` anyway) are not.
//!
//! - **subject**: optionally who the token is for (a visitor or user id of
//!   the minting server's choosing: 1..=[`MAX_SUBJECT_LEN`] bytes of
//!   `A-Z a-z 0-9 . _ : @ + = / -`); by default the token itself.
//!
//! Usage is counted against the parent key (its quota Durable Object), and
//! deleting the parent key revokes its tokens at the next request. State a
//! token creates — video jobs, characters, responses, realtime calls —
//! belongs to its **subject** ([`Claims::owner`]): tokens of the same
//! subject share it, another visitor's token of the same key can neither
//! list, read nor delete it, and the key itself sees all of it.
//!
//! A token may mint the gateway's realtime and Live tokens; what it mints
//! never exceeds it ([`Minter`]): no later expiry, the same origin binding,
//! the same model rules.
//!
//! # Format
//!
//! A MAC'd [`Purpose::BrowserToken`] value of [`crate::seal`] (`bt_rl_` +
//! base64url of `version ‖ body ‖ tag`, under its own derived key), whose
//! body is:
//!
//! ```text
//! bytes 0..32  SHA-256 of the parent key (its public `token`)
//! bytes 32..40 issued at, unix seconds, big endian
//! bytes 40..48 expires at, unix seconds, big endian
//! bytes 48..56 token id (random, for logs)
//! byte 56      origin length n (0 = unbound), then n bytes
//! next byte    number of model rules m, then m × (length byte + bytes)
//! 16 bytes     the subject's fingerprint ([`Keys::subject`]); absent in
//!              tokens minted before subjects, whose subject is themselves
//! ```
//!
//! Nothing in a token is secret (a page may read its own rules, origin and
//! expiry), so it is authenticated, not encrypted.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{json, Map, Value};

use crate::access::{validate_rule, AccessGroups, AccessPolicy, DENY_PREFIX, GROUP_PREFIX};
use crate::config::Config;
use crate::cors::AllowedOrigins;
use crate::encoding::hex;
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::keys::KeyRecord;
use crate::origin::Origin;
use crate::seal::{self, Keys, Owner, Purpose, SUBJECT_LEN};

/// Prefix of every browser token.
pub const TOKEN_PREFIX: &str = Purpose::BrowserToken.prefix();
/// Lifetime when the request names none, in seconds.
pub const DEFAULT_TTL_SECS: u64 = 900;
/// Longest lifetime, in seconds.
pub const MAX_TTL_SECS: u64 = 3600;
/// Shortest lifetime, in seconds.
pub const MIN_TTL_SECS: u64 = 10;
/// Most model rules one token may carry.
pub const MAX_TOKEN_MODELS: usize = 16;
/// Longest model rule in a token, in bytes.
pub const MAX_TOKEN_RULE_LEN: usize = 128;
/// Longest token accepted by [`Claims::open`].
pub const MAX_TOKEN_LEN: usize = Purpose::BrowserToken.max_len();
/// Longest `subject`, in bytes.
pub const MAX_SUBJECT_LEN: usize = 128;

/// Parent hash, issue and expiry times, id.
const FIXED_LEN: usize = 32 + 8 + 8 + 8;

/// Whether a presented credential is a browser token (by its prefix).
pub fn is_browser_token(credential: &str) -> bool {
    credential.starts_with(TOKEN_PREFIX)
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// SHA-256 of the parent key: its record's storage name and quota address.
    pub parent_hash: [u8; 32],
    /// Mint time, unix seconds.
    pub issued_at_secs: u64,
    /// Expiry, unix seconds (exclusive: unusable from this second on).
    pub expires_at_secs: u64,
    /// Random id, for logs.
    pub id: [u8; 8],
    /// The one origin the token is bound to, serialized; `None` = unbound.
    pub origin: Option<String>,
    /// Access rules narrowing the parent's; empty = the parent's as they are.
    pub models: Vec<String>,
    /// The fingerprint of the visitor the token is for ([`subject_of`]).
    pub subject: [u8; SUBJECT_LEN],
}

/// The fingerprint of a browser token's subject: the one the minting
/// server named, or else the token itself (its id), so that tokens minted
/// without a subject share nothing with each other.
pub fn subject_of(
    keys: &Keys,
    parent_hash: &[u8; 32],
    subject: Option<&str>,
    id: &[u8; 8],
) -> [u8; SUBJECT_LEN] {
    match subject {
        Some(subject) => keys.subject(parent_hash, &[b"s:", subject.as_bytes()].concat()),
        None => keys.subject(parent_hash, &[b"t:".as_slice(), id].concat()),
    }
}

impl Claims {
    /// Who state the token creates belongs to: its key, for its subject.
    pub fn owner(&self) -> Owner {
        Owner::of(&self.parent_hash, Some(self.subject))
    }

    /// The token's own access rules compiled under `groups`, or `None` when
    /// it does not narrow (no rules).
    pub fn narrowing(&self, groups: &AccessGroups) -> Result<Option<AccessPolicy>, ClientError> {
        if self.models.is_empty() {
            return Ok(None);
        }
        AccessPolicy::compile(&self.models, groups)
            .map(Some)
            .map_err(|e| {
                ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!("this browser token's model rules are not valid under the current config: {e}"),
                )
            })
    }

    /// Checks the token's origin binding against the request's `Origin`
    /// (`None` when the request carries none: see the module docs).
    pub fn check_origin(&self, request_origin: Option<&str>) -> Result<(), ClientError> {
        check_bound_origin(self.origin.as_deref(), request_origin, "browser token")
    }

    /// The token id as hex, for logs.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }
}

impl Claims {
    /// Seals the claims into a token. Origins and rules longer than 255
    /// bytes, and rules past 255, are cut (mint validation keeps far below
    /// that).
    pub fn seal(&self, keys: &Keys) -> Result<String, seal::Error> {
        let mut body = Vec::with_capacity(FIXED_LEN + 64 + self.models.len() * 16);
        body.extend_from_slice(&self.parent_hash);
        body.extend_from_slice(&self.issued_at_secs.to_be_bytes());
        body.extend_from_slice(&self.expires_at_secs.to_be_bytes());
        body.extend_from_slice(&self.id);
        push_short(&mut body, self.origin.as_deref().unwrap_or(""));
        let models = &self.models[..self.models.len().min(255)];
        body.push(models.len() as u8);
        for rule in models {
            push_short(&mut body, rule);
        }
        body.extend_from_slice(&self.subject);
        keys.seal_mac(Purpose::BrowserToken, &body)
    }

    /// Opens a token: MAC (constant time), version, layout, then expiry at
    /// `now_secs` ([`seal::Error::Expired`]). Clients see
    /// [`seal::Error::to_client`] of [`Purpose::BrowserToken`]: every
    /// failure but expiry answers the same `invalid_browser_token`.
    pub fn open(keys: &Keys, token: &str, now_secs: u64) -> Result<Self, seal::Error> {
        let body = keys.open_mac(Purpose::BrowserToken, token)?;
        // Only authenticated bytes are read from here on.
        let mut r = Reader {
            bytes: &body,
            at: 0,
        };
        let mut parent_hash = [0u8; 32];
        parent_hash.copy_from_slice(r.take(32)?);
        let issued_at_secs = r.u64()?;
        let expires_at_secs = r.u64()?;
        let mut id = [0u8; 8];
        id.copy_from_slice(r.take(8)?);
        let origin = r.short()?;
        let count = r.byte()?;
        let mut models = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            models.push(r.short()?);
        }
        let subject = match body.len() - r.at {
            // Minted before subjects: the token is its own subject.
            0 => subject_of(keys, &parent_hash, None, &id),
            SUBJECT_LEN => {
                let mut subject = [0u8; SUBJECT_LEN];
                subject.copy_from_slice(r.take(SUBJECT_LEN)?);
                subject
            }
            _ => return Err(seal::Error::Malformed),
        };
        if now_secs >= expires_at_secs {
            return Err(seal::Error::Expired(expires_at_secs));
        }
        Ok(Self {
            parent_hash,
            issued_at_secs,
            expires_at_secs,
            id,
            origin: (!origin.is_empty()).then_some(origin),
            models,
            subject,
        })
    }
}

/// Checks a credential's origin binding (`bound`, serialized) against the
/// request's `Origin` header (`sent`): a request carrying another origin is
/// refused; one carrying none is not (see the module docs). `credential`
/// names the credential in the refusal ("browser token", "realtime token").
pub fn check_bound_origin(
    bound: Option<&str>,
    sent: Option<&str>,
    credential: &str,
) -> Result<(), ClientError> {
    let (Some(bound), Some(sent)) = (bound, sent) else {
        return Ok(());
    };
    let same = Origin::parse(sent.trim()).is_ok_and(|o| o.serialize() == bound);
    if same {
        Ok(())
    } else {
        Err(ClientError::new(
            ErrorCode::OriginNotAllowed,
            format!(
                "this {credential} is bound to origin {bound}; a page on {} may not use it",
                sent.trim()
            ),
        ))
    }
}

/// Who mints a gateway token (a realtime `ek_rl_…` or a Live `lt_rl_…`),
/// and so what that token may not exceed.
///
/// A token minted with a virtual key (or the master key) has the limits it
/// was asked for. A token minted with a browser token never exceeds the
/// browser token: it expires no later, is bound to the same origin, is
/// narrowed by the same model rules (on top of the key's current rules, at
/// every use) and belongs to the same visitor. Uses are not a browser
/// token's limit (it has none besides its lifetime), and every session a
/// minted token starts is metered on the key.
#[derive(Debug, Clone, Copy)]
pub enum Minter<'a> {
    /// A virtual key or the master key.
    Key,
    /// A browser token, by its claims.
    BrowserToken(&'a Claims),
}

impl Minter<'_> {
    /// The expiry (unix ms) of a token asked to expire at `asked_ms`: no
    /// later than the minter's own.
    pub fn clamp_expiry_ms(&self, asked_ms: u64) -> u64 {
        match self {
            Self::Key => asked_ms,
            Self::BrowserToken(claims) => asked_ms.min(claims.expires_at_secs.saturating_mul(1000)),
        }
    }

    /// The origin a minted token is bound to: the minter's binding.
    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Key => None,
            Self::BrowserToken(claims) => claims.origin.as_deref(),
        }
    }

    /// The model rules a minted token is narrowed by (empty: none).
    pub fn models(&self) -> &[String] {
        match self {
            Self::Key => &[],
            Self::BrowserToken(claims) => &claims.models,
        }
    }

    /// The visitor a minted token acts for (calls it starts are theirs).
    pub fn subject(&self) -> Option<[u8; SUBJECT_LEN]> {
        match self {
            Self::Key => None,
            Self::BrowserToken(claims) => Some(claims.subject),
        }
    }
}

fn push_short(raw: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut end = bytes.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    raw.push(end as u8);
    raw.extend_from_slice(&bytes[..end]);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], seal::Error> {
        let end = self.at.checked_add(n).ok_or(seal::Error::Malformed)?;
        let slice = self.bytes.get(self.at..end).ok_or(seal::Error::Malformed)?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, seal::Error> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, seal::Error> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn short(&mut self) -> Result<String, seal::Error> {
        let n = usize::from(self.byte()?);
        let bytes = self.take(n)?;
        core::str::from_utf8(bytes)
            .map(ToOwned::to_owned)
            .map_err(|_| seal::Error::Malformed)
    }
}

/// A validated `POST /v1/browser_tokens` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    /// Narrowing rules; `None` = the parent's as they are.
    pub models: Option<Vec<String>>,
    /// Requested lifetime, seconds.
    pub expires_in_secs: u64,
    /// Requested origin binding, serialized.
    pub origin: Option<String>,
    /// Who the token is for; `None` = the token itself.
    pub subject: Option<String>,
}

const MINT_FIELDS: &[&str] = &["models", "expires_in", "origin", "subject"];

/// The key minting a token, as the host authenticated it.
#[derive(Debug, Clone, Copy)]
pub struct Parent<'a> {
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// Its current record.
    pub record: &'a KeyRecord,
    /// Its compiled access rules.
    pub policy: &'a AccessPolicy,
}

impl MintRequest {
    /// Parses the JSON body (an empty body means all defaults).
    pub fn parse(body: &[u8], groups: &AccessGroups) -> Result<Self, ClientError> {
        let obj = parse_object(body)?;
        if let Some(k) = obj.keys().find(|k| !MINT_FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                k,
                format!(
                    "unknown field `{k}` (expected one of: {})",
                    MINT_FIELDS.join(", ")
                ),
            ));
        }
        let models = match obj.get("models") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    return Err(invalid(
                        "models",
                        "`models` must list at least one model (omit it to allow the key's models)",
                    ));
                }
                if items.len() > MAX_TOKEN_MODELS {
                    return Err(invalid(
                        "models",
                        format!("`models` may hold at most {MAX_TOKEN_MODELS} rules"),
                    ));
                }
                let mut rules = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(rule) = item else {
                        return Err(invalid("models", "`models` must contain only strings"));
                    };
                    if rule.len() > MAX_TOKEN_RULE_LEN {
                        return Err(invalid(
                            "models",
                            format!("each rule in `models` is at most {MAX_TOKEN_RULE_LEN} bytes"),
                        ));
                    }
                    validate_rule(rule, groups)
                        .map_err(|e| invalid("models", format!("invalid rule in `models`: {e}")))?;
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
                Some(rules)
            }
            Some(other) => {
                return Err(invalid(
                    "models",
                    format!(
                        "`models` must be an array of model names or rules, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        let expires_in_secs = match obj.get("expires_in") {
            None | Some(Value::Null) => DEFAULT_TTL_SECS,
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|s| (MIN_TTL_SECS..=MAX_TTL_SECS).contains(s))
                .ok_or_else(|| {
                    invalid(
                        "expires_in",
                        format!(
                            "`expires_in` must be whole seconds, {MIN_TTL_SECS}..={MAX_TTL_SECS}"
                        ),
                    )
                })?,
            Some(other) => {
                return Err(invalid(
                    "expires_in",
                    format!(
                        "`expires_in` must be a number of seconds, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        let origin = match obj.get("origin") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                Origin::parse(text)
                    .map_err(|e| invalid("origin", format!("`origin` {text:?}: {e}")))?
                    .serialize(),
            ),
            Some(other) => {
                return Err(invalid(
                    "origin",
                    format!(
                        "`origin` must be a string like \"https://app.example.com\", got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        let subject = match obj.get("subject") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let allowed = |c: char| c.is_ascii_alphanumeric() || "._:@+=/-".contains(c);
                if text.is_empty() || text.len() > MAX_SUBJECT_LEN || !text.chars().all(allowed) {
                    return Err(invalid(
                        "subject",
                        format!(
                            "`subject` must be 1..={MAX_SUBJECT_LEN} characters of A-Z, a-z, 0-9 and . _ : @ + = / -"
                        ),
                    ));
                }
                Some(text.clone())
            }
            Some(other) => {
                return Err(invalid(
                    "subject",
                    format!(
                        "`subject` must be a string naming who the token is for, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        Ok(Self {
            models,
            expires_in_secs,
            origin,
            subject,
        })
    }

    /// Checks the request against the parent key and builds the claims:
    /// every exact model allowed by `parent_policy`, every pattern matching
    /// some configured model the parent may use, the origin within the
    /// parent's (or the config's) origins, the expiry capped at the parent's;
    /// the subject's fingerprint under `keys`.
    pub fn authorize(
        self,
        parent: Parent<'_>,
        config: &Config,
        now_ms: u64,
        id: [u8; 8],
        keys: &Keys,
    ) -> Result<Claims, ClientError> {
        let (parent_hash, parent_policy) = (parent.hash, parent.policy);
        let config_origins = config.cors.allowed_origins.as_slice();
        let parent = parent.record;
        let groups = &config.access_groups;
        let models = self.models.unwrap_or_default();
        for rule in &models {
            if rule.starts_with(DENY_PREFIX) {
                continue;
            }
            let is_pattern =
                rule.contains('*') || rule.starts_with(GROUP_PREFIX) || groups.contains(rule);
            if !is_pattern {
                if !parent_policy.allows(rule) {
                    return Err(ClientError::new(
                        ErrorCode::ModelAccessDenied,
                        format!("this key may not use model {rule:?}, so its browser tokens cannot either"),
                    )
                    .with_param("models"));
                }
                continue;
            }
            let single = AccessPolicy::compile(&[rule.as_str()], groups)
                .map_err(|e| invalid("models", format!("invalid rule in `models`: {e}")))?;
            let reaches = config
                .model_groups
                .iter()
                .any(|g| single.allows(&g.name) && parent_policy.allows(&g.name));
            if !reaches {
                return Err(ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!("rule {rule:?} matches no configured model this key may use"),
                )
                .with_param("models"));
            }
        }
        if let Some(origin) = &self.origin {
            let allowed =
                AllowedOrigins::compile([parent.allowed_origins.as_slice(), config_origins]);
            let parsed =
                Origin::parse(origin).map_err(|e| invalid("origin", format!("`origin`: {e}")))?;
            if !allowed.allows(&parsed) {
                return Err(ClientError::new(
                    ErrorCode::OriginNotAllowed,
                    format!(
                        "origin {origin} is not in this key's `allowed_origins`, so a token cannot be bound to it"
                    ),
                )
                .with_param("origin"));
            }
        }
        let now_secs = now_ms / 1000;
        let mut expires_at_secs = now_secs.saturating_add(self.expires_in_secs);
        if let Some(parent_exp) = parent.expires_at_ms {
            expires_at_secs = expires_at_secs.min(parent_exp / 1000);
        }
        let subject = subject_of(keys, &parent_hash, self.subject.as_deref(), &id);
        Ok(Claims {
            parent_hash,
            issued_at_secs: now_secs,
            expires_at_secs,
            id,
            origin: self.origin,
            models,
            subject,
        })
    }
}

/// The JSON answer to a mint (`subject`: as the request named it).
pub fn mint_response(token: &str, claims: &Claims, subject: Option<&str>) -> Value {
    let models: Value = if claims.models.is_empty() {
        Value::Null
    } else {
        json!(claims.models)
    };
    json!({
        "object": "browser_token",
        "token": token,
        "expires_at": claims.expires_at_secs,
        "expires_in": claims.expires_at_secs.saturating_sub(claims.issued_at_secs),
        "models": models,
        "origin": claims.origin,
        "subject": subject,
    })
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ClientError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ClientError::new(
            ErrorCode::InvalidRequest,
            format!("the body must be a JSON object, got {}", type_name(&other)),
        )),
        Err(e) => Err(ClientError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )),
    }
}

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{b64url_decode, b64url_encode};
    use crate::keys::GenerateRequest;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    fn key() -> Keys {
        Keys::derive(&[3u8; 32]).unwrap()
    }

    /// A token sealed by the previous `TokenKey` (same key label, same
    /// layout) under the key [3; 32], for [`claims`].
    const ISSUED_BEFORE_SEAL: &str = "bt_rl_AQcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHAAAAAGqxO4AAAAAAarE_BAECAwQFBgcIF2h0dHBzOi8vYXBwLmV4YW1wbGUuY29tAgd2ZW8tMy4xBXZlby0qzep5GpsHL8y2lUeA0pNfFw";

    fn claims() -> Claims {
        Claims {
            parent_hash: [7u8; 32],
            issued_at_secs: 1_790_000_000,
            expires_at_secs: 1_790_000_900,
            id: [1, 2, 3, 4, 5, 6, 7, 8],
            origin: Some("https://app.example.com".into()),
            models: vec!["veo-3.1".into(), "veo-*".into()],
            subject: [5u8; SUBJECT_LEN],
        }
    }

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups": [
                {"name": "veo-3.1", "deployments": [{"id": "a", "provider": "gemini", "model": "m", "credential": "K"}]},
                {"name": "veo-3.1-fast", "deployments": [{"id": "b", "provider": "gemini", "model": "m", "credential": "K"}]},
                {"name": "sora-2", "deployments": [{"id": "c", "provider": "openai", "model": "sora-2", "credential": "K"}]}],
               "access_groups": {"video": ["veo-*"]}}"#,
        )
        .unwrap()
    }

    fn parent(body: &str) -> KeyRecord {
        GenerateRequest::parse(body.as_bytes(), &config().access_groups)
            .unwrap()
            .into_record(
                "sk-reelay-abcdefghijklmnopqrstuvwxyz012345",
                1_790_000_000_000,
            )
    }

    fn mint(body: &str, parent: &KeyRecord) -> Result<Claims, ClientError> {
        let config = config();
        let policy = AccessPolicy::compile(&parent.models, &config.access_groups).unwrap();
        let parent = Parent {
            hash: [9u8; 32],
            record: parent,
            policy: &policy,
        };
        MintRequest::parse(body.as_bytes(), &config.access_groups)?.authorize(
            parent,
            &config,
            1_790_000_000_000,
            [0u8; 8],
            &key(),
        )
    }

    fn token() -> String {
        claims().seal(&key()).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let token = token();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(is_browser_token(&token));
        assert!(token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            Claims::open(&key(), &token, 1_790_000_899).unwrap(),
            claims()
        );
        let err = Claims::open(&key(), &token, 1_790_000_900).unwrap_err();
        assert_eq!(err, seal::Error::Expired(1_790_000_900));
        let client = err.to_client(Purpose::BrowserToken);
        assert_eq!(client.code, ErrorCode::BrowserTokenExpired);
        assert!(client.message.contains("2026-09-21T"), "{}", client.message);
        let unbound = Claims {
            origin: None,
            models: Vec::new(),
            ..claims()
        };
        let sealed = unbound.seal(&key()).unwrap();
        assert_eq!(Claims::open(&key(), &sealed, 0).unwrap(), unbound);
    }

    #[test]
    fn tokens_issued_before_subjects_still_open_as_their_own_subject() {
        let opened = Claims::open(&key(), ISSUED_BEFORE_SEAL, 1_790_000_000).unwrap();
        let own = subject_of(&key(), &[7u8; 32], None, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            opened,
            Claims {
                subject: own,
                ..claims()
            }
        );
        assert_eq!(opened.owner(), Owner::of(&[7u8; 32], Some(own)));
    }

    #[test]
    fn subjects_are_the_servers_or_the_tokens_own() {
        let p = parent(r#"{"models": ["veo-*"]}"#);
        let alice = mint(r#"{"subject": "user:alice@example.com"}"#, &p).unwrap();
        let again = mint(r#"{"subject": "user:alice@example.com"}"#, &p).unwrap();
        let bob = mint(r#"{"subject": "user:bob"}"#, &p).unwrap();
        assert_eq!(alice.subject, again.subject);
        assert_ne!(alice.subject, bob.subject);
        assert_eq!(
            alice.subject,
            subject_of(&key(), &[9u8; 32], Some("user:alice@example.com"), &[0; 8])
        );
        // Without one, the token is its own subject (by its random id).
        let anon = mint("{}", &p).unwrap();
        assert_eq!(anon.subject, subject_of(&key(), &[9u8; 32], None, &[0; 8]));
        assert_ne!(anon.subject, alice.subject);
        // A server cannot name a subject that collides with a token's own.
        assert_ne!(
            subject_of(&key(), &[9u8; 32], Some("t:"), &[0; 8]),
            anon.subject
        );
        let sealed = alice.seal(&key()).unwrap();
        assert_eq!(Claims::open(&key(), &sealed, 0).unwrap(), alice);
        let v = mint_response("bt_rl_x", &alice, Some("user:alice@example.com"));
        assert_eq!(v["subject"], "user:alice@example.com");
        for bad in [
            r#"{"subject": ""}"#,
            r#"{"subject": "has space"}"#,
            r#"{"subject": "é"}"#,
            r#"{"subject": 5}"#,
        ] {
            let err = mint(bad, &p).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad}");
            assert_eq!(err.param.as_deref(), Some("subject"), "{bad}");
        }
        let long = std::format!(r#"{{"subject": "{}"}}"#, "a".repeat(MAX_SUBJECT_LEN + 1));
        assert!(mint(&long, &p).is_err());
        let max = std::format!(r#"{{"subject": "{}"}}"#, "a".repeat(MAX_SUBJECT_LEN));
        assert!(mint(&max, &p).is_ok());
    }

    #[test]
    fn forged_or_foreign_tokens_do_not_open() {
        let token = token();
        let other = Keys::derive(&[4u8; 32]).unwrap();
        assert_eq!(Claims::open(&other, &token, 0), Err(seal::Error::BadMac));
        for bad in ["", "bt_rl_", "bt_rl_!!!", "sk-reelay-x", "bt_rl_AAAA"] {
            assert_eq!(
                Claims::open(&key(), bad, 0),
                Err(seal::Error::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            Claims::open(&key(), &"bt_rl_A".repeat(1000), 0),
            Err(seal::Error::Malformed)
        );
        assert_eq!(
            seal::Error::BadMac.to_client(Purpose::BrowserToken).code,
            ErrorCode::InvalidBrowserToken
        );
        // Authentic bytes that are not a browser token's layout.
        let mut one_rule_missing = [0u8; 58];
        one_rule_missing[57] = 1;
        for body in [&one_rule_missing[..], &[0u8; 70]] {
            let sealed = key().seal_mac(Purpose::BrowserToken, body).unwrap();
            assert_eq!(
                Claims::open(&key(), &sealed, 0),
                Err(seal::Error::Malformed),
                "{}",
                body.len()
            );
        }
    }

    #[test]
    fn origin_binding() {
        let c = claims();
        assert!(c.check_origin(None).is_ok());
        assert!(c.check_origin(Some("https://app.example.com")).is_ok());
        assert!(c.check_origin(Some("https://app.example.com:443")).is_ok());
        let err = c
            .check_origin(Some("https://evil.example.com"))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::OriginNotAllowed);
        assert!(err
            .message
            .contains("bound to origin https://app.example.com"));
        assert!(c.check_origin(Some("null")).is_err());
        let unbound = Claims {
            origin: None,
            ..claims()
        };
        assert!(unbound
            .check_origin(Some("https://any.example.net"))
            .is_ok());
    }

    #[test]
    fn mint_narrows_within_the_parent() {
        let p = parent(
            r#"{"models": ["veo-*"], "allowed_origins": ["https://*.example.com"], "duration": "10m"}"#,
        );
        let c = mint(
            r#"{"models": ["veo-3.1", "veo-3.1-*"], "expires_in": 300, "origin": "https://App.example.com"}"#,
            &p,
        )
        .unwrap();
        assert_eq!(c.models, vec!["veo-3.1", "veo-3.1-*"]);
        assert_eq!(c.origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(c.expires_at_secs, 1_790_000_300);
        assert_eq!(c.parent_hash, [9u8; 32]);
        // Capped at the parent's expiry (10 minutes).
        let c = mint(r#"{"expires_in": 3600}"#, &p).unwrap();
        assert_eq!(c.expires_at_secs, 1_790_000_600);
        assert!(c.models.is_empty());
        let v = mint_response("bt_rl_x", &c, None);
        assert_eq!(v["expires_in"], 600);
        assert_eq!(v["models"], Value::Null);
        // Groups and deny rules narrow too.
        assert!(mint(r#"{"models": ["group:video", "!veo-3.1-fast"]}"#, &p).is_ok());

        let cases = [
            (r#"{"models": ["sora-2"]}"#, "key_model_access_denied"),
            (r#"{"models": ["sora-*"]}"#, "key_model_access_denied"),
            (r#"{"models": []}"#, "invalid_request"),
            (r#"{"models": "veo-3.1"}"#, "invalid_request"),
            (r#"{"models": ["bad rule"]}"#, "invalid_request"),
            (r#"{"models": ["group:nope"]}"#, "invalid_request"),
            (r#"{"expires_in": 3601}"#, "invalid_request"),
            (r#"{"expires_in": 5}"#, "invalid_request"),
            (r#"{"expires_in": "60"}"#, "invalid_request"),
            (r#"{"origin": "https://other.org"}"#, "origin_not_allowed"),
            (r#"{"origin": "https://*.example.com"}"#, "invalid_request"),
            (r#"{"origin": 5}"#, "invalid_request"),
            (r#"{"ttl": 5}"#, "invalid_request"),
            (r#"[1]"#, "invalid_request"),
            (r#"{"#, "invalid_json"),
        ];
        for (body, code) in cases {
            let err = mint(body, &p).unwrap_err();
            assert_eq!(err.code.as_str(), code, "{body}: {}", err.message);
        }
        // A parent without origins cannot bind a token to one.
        let bare = parent(r#"{"models": ["veo-3.1"]}"#);
        let err = mint(r#"{"origin": "https://app.example.com"}"#, &bare).unwrap_err();
        assert_eq!(err.code, ErrorCode::OriginNotAllowed);
        assert!(mint("", &bare).is_ok());
    }

    #[test]
    fn narrowing_intersects_with_the_parent() {
        let groups = config().access_groups;
        let parent = AccessPolicy::compile(&["veo-3.1".to_string()], &groups).unwrap();
        let c = Claims {
            models: vec!["veo-*".into()],
            ..claims()
        };
        let narrowed = parent.narrowed(c.narrowing(&groups).unwrap().unwrap());
        assert!(narrowed.allows("veo-3.1"));
        assert!(!narrowed.allows("veo-3.1-fast"));
        let none = Claims {
            models: Vec::new(),
            ..claims()
        };
        assert!(none.narrowing(&groups).unwrap().is_none());
    }

    proptest! {
        #[test]
        fn open_never_panics(text in ".{0,400}") {
            let _ = Claims::open(&key(), &text, 0);
            let _ = Claims::open(&key(), &std::format!("bt_rl_{text}"), 0);
        }

        #[test]
        fn any_bit_flip_is_detected(byte in 0usize..400, bit in 0u8..8) {
            let token = token();
            let mut raw = b64url_decode(&token[TOKEN_PREFIX.len()..]).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let forged = std::format!("{TOKEN_PREFIX}{}", b64url_encode(&raw));
            prop_assert!(Claims::open(&key(), &forged, 0).is_err());
        }
    }
}
