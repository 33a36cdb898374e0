//! Virtual keys: their format, their stored record, and the admin requests
//! that create, change and describe them (LiteLLM-compatible field names:
//! `key_alias`, `models`, `duration`, `metadata`, `key`, `keys`).
//!
//! A key is `sk-reelay-` followed by 32 base64url characters (24 random bytes
//! the host supplies). Only `SHA-256(key)` is ever stored: the record lives
//! under [`storage_name`] and its `token` field is the hex hash, which admin
//! calls accept in place of the key itself.
//!
//! A record may list `allowed_origins`: the browser origins (see
//! [`crate::cors`] for the pattern syntax) whose pages may use the key. No
//! list means no cross-origin browser may use it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::{validate_rule, AccessGroups};
use crate::config::policy::{Policy, POLICY_FIELDS};
use crate::encoding::{b64url_encode, hex, hex_decode, sha256};
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::origin::validate_patterns;
use crate::quota::Limits;
use crate::seal::{RESERVED_PREFIXES, TOKEN_NAME_PREFIX};
use crate::time::parse_duration;
/// Old path of [`crate::time::rfc3339`], still used by the edge routes.
pub use crate::time::rfc3339;

/// Prefix of every generated key.
pub const KEY_PREFIX: &str = "sk-reelay-";
/// Shortest custom key accepted by `/key/generate` with `key`.
pub const MIN_CUSTOM_KEY_LEN: usize = 20;
/// Longest key (generated or custom) accepted anywhere.
pub const MAX_KEY_LEN: usize = 256;
const MAX_ALIAS_LEN: usize = 128;
const MAX_METADATA_BYTES: usize = 4096;
const MAX_RULES: usize = 256;

/// A new key from 24 random bytes supplied by the host.
pub fn generate_key(random: &[u8; 24]) -> String {
    let mut key = String::from(KEY_PREFIX);
    key.push_str(&b64url_encode(random));
    key
}

/// `SHA-256(key)`.
pub fn key_hash(key: &str) -> [u8; 32] {
    sha256(key.as_bytes())
}

/// The storage (KV) name of the record of the key with this hash.
pub fn storage_name(hash: &[u8; 32]) -> String {
    format!("key:{}", hex(hash))
}

/// The storage (KV) name of the revocation marker of the key whose token
/// (hex hash) is `token`: its value is the deletion time in Unix ms.
///
/// # Revocation
///
/// A key is deleted by writing this marker first, then telling its quota
/// store (the source of truth for revocation) and removing its record. The
/// marker is what makes a deletion stick when the store cannot be reached:
/// a host that cannot ask the store reads it before letting the key
/// through, and the store adopts it when it starts and at its next usage
/// snapshot. A revocation applies to the records created before it
/// ([`revocation_applies`]), so re-creating a custom key with `/key/generate`
/// is not undone by a late revocation of the old one, and nothing else
/// (an update, a stale record) brings a deleted key back.
pub fn revocation_name(token: &str) -> String {
    format!("revoked:{token}")
}

/// Whether a revocation made at `revoked_at_ms` ends a key whose record was
/// created at `created_at_ms` (see [`revocation_name`]).
pub fn revocation_applies(revoked_at_ms: u64, created_at_ms: u64) -> bool {
    revoked_at_ms >= created_at_ms
}

/// The displayable, non-secret form of a key: `sk-reelay-Ab…wxyz`.
pub fn masked(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = key.chars().take(KEY_PREFIX.len() + 2).collect();
    format!("{head}…{tail}")
}

/// Whether a presented credential could be a key at all (cheap syntax check
/// before hashing and a storage lookup).
pub fn plausible_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The credentials a request presented, by where they came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// `api-key` header (Azure-shaped clients).
    pub api_key: Option<&'a str>,
    /// `x-goog-api-key` header (Google SDKs).
    pub goog_api_key: Option<&'a str>,
    /// `?key=` query parameter.
    pub query_key: Option<&'a str>,
}

/// Picks the key a request authenticates with: `Authorization: Bearer`,
/// then `api-key`, then `x-goog-api-key`, then `?key=` — the query form only
/// on Google-shaped routes (`google_shaped`), because keys in URLs end up in
/// logs and browser history and only Google's clients need it.
pub fn presented_key<'a>(p: &Presented<'a>, google_shaped: bool) -> Option<&'a str> {
    let bearer = p.authorization.and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let query = if google_shaped { p.query_key } else { None };
    [
        bearer,
        p.api_key.map(str::trim),
        p.goog_api_key.map(str::trim),
        query,
    ]
    .into_iter()
    .flatten()
    .find(|k| !k.is_empty())
}

/// Every start a presented credential is read as a gateway token by: the
/// token prefixes ([`RESERVED_PREFIXES`], one per token purpose) and
/// Google's `auth_tokens/` name form ([`TOKEN_NAME_PREFIX`]).
fn token_starts() -> impl Iterator<Item = &'static str> {
    RESERVED_PREFIXES
        .iter()
        .copied()
        .chain(core::iter::once(TOKEN_NAME_PREFIX))
}

/// The reserved start `key` has, if any: a custom virtual key may not look
/// like a token the gateway mints, or it would be read as one.
pub fn reserved_prefix(key: &str) -> Option<&'static str> {
    token_starts().find(|p| key.starts_with(p))
}

/// A reference to a key in an admin request: the key itself or its `token`
/// (hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The key's hash.
    pub hash: [u8; 32],
}

impl KeyRef {
    /// Parses a key or a 64-hex-digit token.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        if text.len() == 64 && !text.starts_with(KEY_PREFIX) {
            if let Some(bytes) = hex_decode(text) {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(&bytes);
                return Ok(Self { hash });
            }
        }
        if !plausible_key(text) {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                "`key` must be a key or its 64-hex-digit token",
            )
            .with_param("key"));
        }
        Ok(Self {
            hash: key_hash(text),
        })
    }
}

/// What is stored for each key (as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Hex SHA-256 of the key: its public identifier.
    pub token: String,
    /// Masked key for display.
    pub key_name: String,
    /// Optional human name.
    pub key_alias: Option<String>,
    /// Access rules (see `access`). Empty = every model.
    pub models: Vec<String>,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: Option<u64>,
    /// Free-form caller metadata.
    pub metadata: Map<String, Value>,
    /// Creation time, unix milliseconds.
    pub created_at_ms: u64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: u64,
    /// Quota limits of this key (unset fields use the config defaults).
    #[serde(default)]
    pub policy: Policy,
    /// When the current budget was set: budget periods count from here.
    #[serde(default)]
    pub budget_anchor_ms: Option<u64>,
    /// Browser origins (patterns, canonical form) whose pages may use this
    /// key; empty = none (see [`crate::cors`]).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl KeyRecord {
    /// `Err(key_expired)` once the expiry has passed.
    pub fn check_usable(&self, now_ms: u64) -> Result<(), ClientError> {
        match self.expires_at_ms {
            Some(exp) if now_ms >= exp => Err(ClientError::from_code(ErrorCode::KeyExpired)),
            _ => Ok(()),
        }
    }

    /// The limits to enforce under the config `defaults`.
    pub fn limits(&self, defaults: &Policy) -> Limits {
        self.policy
            .over(defaults)
            .limits(self.budget_anchor_ms.unwrap_or(self.created_at_ms))
    }

    /// The LiteLLM-style `info` object for `/key/info` and admin responses.
    pub fn info(&self) -> Value {
        let mut info = serde_json::json!({
            "token": self.token,
            "key_name": self.key_name,
            "key_alias": self.key_alias,
            "models": self.models,
            "allowed_origins": self.allowed_origins,
            "expires": self.expires_at_ms.map(rfc3339),
            "metadata": self.metadata,
            "created_at": rfc3339(self.created_at_ms),
            "updated_at": rfc3339(self.updated_at_ms),
        });
        if let Value::Object(map) = &mut info {
            map.extend(self.policy.to_json());
        }
        info
    }
}

/// A validated `/key/generate` request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// Caller-chosen key (`key`), else one is generated.
    pub custom_key: Option<String>,
    /// `key_alias`.
    pub key_alias: Option<String>,
    /// `models` rules.
    pub models: Vec<String>,
    /// Lifetime from `duration`, milliseconds.
    pub duration_ms: Option<u64>,
    /// `metadata`.
    pub metadata: Map<String, Value>,
    /// Quota limits (`rpm`, `videos_per_day`, `max_budget`, …).
    pub policy: Policy,
    /// `allowed_origins` (canonical patterns).
    pub allowed_origins: Vec<String>,
}

impl GenerateRequest {
    /// Parses and validates the JSON body (an empty body means all defaults).
    pub fn parse(body: &[u8], groups: &AccessGroups) -> Result<Self, ClientError> {
        let obj = parse_object(body)?;
        deny_unknown(&obj, &[KEY_FIELDS, POLICY_FIELDS].concat())?;
        let custom_key = match obj.get("key") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) if reserved_prefix(k).is_some() => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "`key` may not start with {} (reserved for the gateway's tokens)",
                        token_starts().collect::<Vec<_>>().join(" or ")
                    ),
                )
                .with_param("key"))
            }
            Some(Value::String(k)) if k.len() >= MIN_CUSTOM_KEY_LEN && plausible_key(k) && k.len() != 64 => {
                Some(k.clone())
            }
            Some(_) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    format!("`key` must be {MIN_CUSTOM_KEY_LEN}..{MAX_KEY_LEN} printable ASCII characters (and not 64 characters, which is reserved for tokens)"),
                )
                .with_param("key"))
            }
        };
        Ok(Self {
            custom_key,
            key_alias: alias(obj.get("key_alias"))?.flatten(),
            models: models(obj.get("models"), groups)?.unwrap_or_default(),
            duration_ms: duration(obj.get("duration"))?.flatten(),
            metadata: metadata(obj.get("metadata"))?.unwrap_or_default(),
            policy: policy(&obj, Policy::default())?,
            allowed_origins: origins(obj.get("allowed_origins"))?.unwrap_or_default(),
        })
    }

    /// The record for `key`, created at `now_ms`.
    pub fn into_record(self, key: &str, now_ms: u64) -> KeyRecord {
        KeyRecord {
            token: hex(&key_hash(key)),
            key_name: masked(key),
            key_alias: self.key_alias,
            models: self.models,
            expires_at_ms: self.duration_ms.map(|d| now_ms.saturating_add(d)),
            metadata: self.metadata,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            policy: self.policy,
            budget_anchor_ms: None,
            allowed_origins: self.allowed_origins,
        }
    }
}

/// A validated `/key/update` request: `key` plus the fields to change.
/// `null` clears an optional field; an absent field is left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    /// Which key.
    pub key: KeyRef,
    key_alias: Option<Option<String>>,
    models: Option<Vec<String>>,
    duration_ms: Option<Option<u64>>,
    metadata: Option<Map<String, Value>>,
    allowed_origins: Option<Vec<String>>,
    policy_fields: Map<String, Value>,
}

impl UpdateRequest {
    /// Parses and validates the JSON body.
    pub fn parse(body: &[u8], groups: &AccessGroups) -> Result<Self, ClientError> {
        let obj = parse_object(body)?;
        deny_unknown(&obj, &[KEY_FIELDS, POLICY_FIELDS].concat())?;
        // Validated now, applied to the stored policy by `apply`.
        policy(&obj, Policy::default())?;
        let key = match obj.get("key") {
            Some(Value::String(k)) => KeyRef::parse(k)?,
            _ => {
                return Err(
                    ClientError::new(ErrorCode::InvalidRequest, "`key` is required")
                        .with_param("key"),
                )
            }
        };
        Ok(Self {
            key,
            key_alias: alias(obj.get("key_alias"))?,
            models: models(obj.get("models"), groups)?,
            duration_ms: duration(obj.get("duration"))?,
            metadata: metadata(obj.get("metadata"))?,
            allowed_origins: origins(obj.get("allowed_origins"))?,
            policy_fields: obj
                .into_iter()
                .filter(|(k, _)| POLICY_FIELDS.contains(&k.as_str()))
                .collect(),
        })
    }

    /// Applies the changes to `record` at `now_ms` (a new `duration` counts from now).
    pub fn apply(self, record: &mut KeyRecord, now_ms: u64) {
        if let Some(alias) = self.key_alias {
            record.key_alias = alias;
        }
        if let Some(models) = self.models {
            record.models = models;
        }
        if let Some(duration) = self.duration_ms {
            record.expires_at_ms = duration.map(|d| now_ms.saturating_add(d));
        }
        if let Some(metadata) = self.metadata {
            record.metadata = metadata;
        }
        if let Some(origins) = self.allowed_origins {
            record.allowed_origins = origins;
        }
        if !self.policy_fields.is_empty() {
            let before = (
                record.policy.max_budget_micros,
                record.policy.budget_duration_ms,
            );
            // Validated in `parse`, so this cannot fail.
            let _ = record.policy.apply_fields(&self.policy_fields);
            if (
                record.policy.max_budget_micros,
                record.policy.budget_duration_ms,
            ) != before
            {
                // A new budget starts its periods now.
                record.budget_anchor_ms = Some(now_ms);
            }
        }
        record.updated_at_ms = now_ms;
    }
}

/// The non-policy fields of `/key/generate` and `/key/update`.
const KEY_FIELDS: &[&str] = &[
    "key",
    "key_alias",
    "models",
    "duration",
    "metadata",
    "allowed_origins",
];

fn policy(obj: &Map<String, Value>, mut base: Policy) -> Result<Policy, ClientError> {
    base.apply_fields(obj)
        .map_err(|e| invalid(e.field, alloc::format!("`{}` {}", e.field, e.reason)))?;
    Ok(base)
}

/// Parses `/key/delete`'s `{"keys": [...]}`.
pub fn parse_delete_request(body: &[u8]) -> Result<Vec<KeyRef>, ClientError> {
    let obj = parse_object(body)?;
    deny_unknown(&obj, &["keys"])?;
    let Some(Value::Array(items)) = obj.get("keys") else {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "`keys` must be a non-empty array of keys or tokens",
        )
        .with_param("keys"));
    };
    if items.is_empty() || items.len() > 100 {
        return Err(
            ClientError::new(ErrorCode::InvalidRequest, "`keys` must list 1..=100 keys")
                .with_param("keys"),
        );
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(k) => KeyRef::parse(k),
            _ => Err(
                ClientError::new(ErrorCode::InvalidRequest, "`keys` must contain strings")
                    .with_param("keys"),
            ),
        })
        .collect()
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

fn deny_unknown(obj: &Map<String, Value>, known: &[&str]) -> Result<(), ClientError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ClientError::new(
            ErrorCode::InvalidRequest,
            format!(
                "unknown field `{k}` (expected one of: {})",
                known.join(", ")
            ),
        )
        .with_param(k.clone())),
        None => Ok(()),
    }
}

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

fn alias(value: Option<&Value>) -> Result<Option<Option<String>>, ClientError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= MAX_ALIAS_LEN && !s.chars().any(char::is_control) =>
        {
            Ok(Some(Some(s.clone())))
        }
        Some(_) => Err(invalid(
            "key_alias",
            format!("`key_alias` must be a string of 1..={MAX_ALIAS_LEN} characters or null"),
        )),
    }
}

fn models(
    value: Option<&Value>,
    groups: &AccessGroups,
) -> Result<Option<Vec<String>>, ClientError> {
    let items = match value {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(Vec::new())),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(
                "models",
                format!(
                    "`models` must be an array of rule strings, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    if items.len() > MAX_RULES {
        return Err(invalid(
            "models",
            format!("`models` may hold at most {MAX_RULES} rules"),
        ));
    }
    let mut rules = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(rule) = item else {
            return Err(invalid("models", "`models` must contain only strings"));
        };
        validate_rule(rule, groups)
            .map_err(|e| invalid("models", format!("invalid rule in `models`: {e}")))?;
        rules.push(rule.clone());
    }
    Ok(Some(rules))
}

/// `allowed_origins`: an array of origin patterns (canonicalised), or
/// `null` for none.
fn origins(value: Option<&Value>) -> Result<Option<Vec<String>>, ClientError> {
    let items = match value {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(Vec::new())),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(
                "allowed_origins",
                format!(
                    "`allowed_origins` must be an array of origins like \"https://app.example.com\", got {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(text) = item else {
            return Err(invalid(
                "allowed_origins",
                "`allowed_origins` must contain only strings",
            ));
        };
        texts.push(text.clone());
    }
    validate_patterns(&texts).map(Some).map_err(|(i, e)| {
        let shown = texts.get(i).map_or("", String::as_str);
        invalid(
            "allowed_origins",
            format!("`allowed_origins[{i}]` {shown:?}: {e}"),
        )
    })
}

fn duration(value: Option<&Value>) -> Result<Option<Option<u64>>, ClientError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => parse_duration(s).map(|ms| Some(Some(ms))).ok_or_else(|| {
            invalid("duration", format!("`duration` {s:?} is not a duration like \"30s\", \"15m\", \"12h\", \"30d\" or \"2w\""))
        }),
        Some(_) => Err(invalid("duration", "`duration` must be a string like \"30d\" or null")),
    }
}

fn metadata(value: Option<&Value>) -> Result<Option<Map<String, Value>>, ClientError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Map::new())),
        Some(Value::Object(map)) => {
            let size = serde_json::to_string(map)
                .map(|s| s.len())
                .unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                return Err(invalid(
                    "metadata",
                    format!("`metadata` must be at most {MAX_METADATA_BYTES} bytes of JSON"),
                ));
            }
            Ok(Some(map.clone()))
        }
        Some(_) => Err(invalid("metadata", "`metadata` must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> AccessGroups {
        let mut g = AccessGroups::new();
        g.insert("video", std::vec!["veo-*".into()]).unwrap();
        g
    }

    #[test]
    fn generated_keys_have_prefix_and_stable_hash() {
        let key = generate_key(&[1u8; 24]);
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + 32);
        assert_eq!(
            storage_name(&key_hash(&key)),
            std::format!("key:{}", hex(&sha256(key.as_bytes())))
        );
        assert!(!masked(&key).contains(&key[12..28]));
    }

    #[test]
    fn generate_request_validates_fields() {
        let req = GenerateRequest::parse(br#"{"key_alias":"web","models":["gemini/*","group:video"],"duration":"1h","metadata":{"team":"a"}}"#, &groups()).unwrap();
        assert_eq!(req.duration_ms, Some(3_600_000));
        let rec = req.into_record("sk-reelay-abcdefghijklmnopqrstuvwxyz012345", 1_000);
        assert_eq!(rec.expires_at_ms, Some(3_601_000));
        assert!(rec.check_usable(3_600_999).is_ok());
        assert_eq!(
            rec.check_usable(3_601_000).unwrap_err().code,
            ErrorCode::KeyExpired
        );

        let cases: [(&[u8], &str); 8] = [
            (b"{", "invalid_json"),
            (b"[]", "invalid_request"),
            (br#"{"modles":[]}"#, "invalid_request"),
            (br#"{"models":"gemini/*"}"#, "invalid_request"),
            (br#"{"models":["group:nope"]}"#, "invalid_request"),
            (br#"{"duration":"3 days"}"#, "invalid_request"),
            (br#"{"key":"short"}"#, "invalid_request"),
            (br#"{"metadata":[1]}"#, "invalid_request"),
        ];
        for (body, code) in cases {
            let err = GenerateRequest::parse(body, &groups()).unwrap_err();
            assert_eq!(err.code.as_str(), code, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(
            GenerateRequest::parse(b"", &groups()).unwrap().models.len(),
            0
        );
    }

    #[test]
    fn update_changes_only_given_fields() {
        let mut rec = GenerateRequest::parse(br#"{"key_alias":"a","models":["x"]}"#, &groups())
            .unwrap()
            .into_record("sk-reelay-abcdefghijklmnopqrstuvwxyz012345", 5);
        let upd = UpdateRequest::parse(
            br#"{"key":"sk-reelay-abcdefghijklmnopqrstuvwxyz012345","models":["veo-*"],"key_alias":null}"#,
            &groups(),
        )
        .unwrap();
        assert_eq!(hex(&upd.key.hash), rec.token);
        upd.apply(&mut rec, 9);
        assert_eq!(rec.models, std::vec![String::from("veo-*")]);
        assert_eq!(rec.key_alias, None);
        assert!(rec.allowed_origins.is_empty());
        assert_eq!(rec.updated_at_ms, 9);
        assert_eq!(rec.created_at_ms, 5);
    }

    #[test]
    fn allowed_origins_are_validated_canonicalised_and_shown() {
        let mut rec = GenerateRequest::parse(
            br#"{"allowed_origins":["https://App.example.com:443","http://localhost:*"]}"#,
            &groups(),
        )
        .unwrap()
        .into_record("sk-reelay-abcdefghijklmnopqrstuvwxyz012345", 5);
        assert_eq!(
            rec.allowed_origins,
            std::vec!["https://app.example.com", "http://localhost:*"]
        );
        assert_eq!(rec.info()["allowed_origins"][1], "http://localhost:*");
        for body in [
            &br#"{"allowed_origins":"https://a.example.com"}"#[..],
            br#"{"allowed_origins":["https://a.example.com/"]}"#,
            br#"{"allowed_origins":["*"]}"#,
            br#"{"allowed_origins":[5]}"#,
            br#"{"key":"bt_rl_abcdefghijklmnopqrstuvwxyz"}"#,
            br#"{"key":"ek_rl_abcdefghijklmnopqrstuvwxyz"}"#,
        ] {
            let err = GenerateRequest::parse(body, &groups()).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::InvalidRequest,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let err = GenerateRequest::parse(
            br#"{"allowed_origins":["https://ok.example.com","null"]}"#,
            &groups(),
        )
        .unwrap_err();
        assert!(
            err.message.contains("allowed_origins[1]"),
            "{}",
            err.message
        );
        let key = "sk-reelay-abcdefghijklmnopqrstuvwxyz012345";
        let upd = UpdateRequest::parse(
            std::format!(r#"{{"key":"{key}","allowed_origins":["https://*.example.com"]}}"#)
                .as_bytes(),
            &groups(),
        )
        .unwrap();
        upd.apply(&mut rec, 9);
        assert_eq!(rec.allowed_origins, std::vec!["https://*.example.com"]);
        let upd = UpdateRequest::parse(
            std::format!(r#"{{"key":"{key}","allowed_origins":null}}"#).as_bytes(),
            &groups(),
        )
        .unwrap();
        upd.apply(&mut rec, 10);
        assert!(rec.allowed_origins.is_empty());
        // Records stored before the field existed still load.
        let old = r#"{"token":"t","key_name":"k","key_alias":null,"models":[],"expires_at_ms":null,"metadata":{},"created_at_ms":1,"updated_at_ms":1}"#;
        let rec: KeyRecord = serde_json::from_str(old).unwrap();
        assert!(rec.allowed_origins.is_empty());
    }

    #[test]
    fn custom_keys_may_not_start_like_any_gateway_token() {
        for purpose in crate::seal::Purpose::ALL {
            let body = std::format!(
                r#"{{"key":"{}abcdefghijklmnopqrstuvwxyz"}}"#,
                purpose.prefix()
            );
            let parsed = GenerateRequest::parse(body.as_bytes(), &groups());
            if purpose.is_token() {
                let err = parsed.unwrap_err();
                assert_eq!(err.code, ErrorCode::InvalidRequest, "{body}");
                assert_eq!(err.param.as_deref(), Some("key"));
                assert!(err.message.contains(purpose.prefix()), "{}", err.message);
            } else {
                assert!(parsed.is_ok(), "{body}");
            }
        }
        assert!(GenerateRequest::parse(
            br#"{"key":"lt_rl_abcdefghijklmnopqrstuvwxyz"}"#,
            &groups()
        )
        .is_err());
    }

    #[test]
    fn custom_keys_may_not_take_any_form_a_token_is_presented_in() {
        // Live clients present a Live token as `auth_tokens/lt_rl_…`, and
        // every door that takes one reads anything starting `auth_tokens/`
        // as a token: a key of that shape would never work there.
        for key in [
            "auth_tokens/lt_rl_abcdefghijklmnopqrstuvwxyz",
            "auth_tokens/abcdefghijklmnopqrstuvwxyz",
            "bt_rl_abcdefghijklmnopqrstuvwxyz",
            "ek_rl_abcdefghijklmnopqrstuvwxyz",
        ] {
            let body = std::format!(r#"{{"key":"{key}"}}"#);
            let err = GenerateRequest::parse(body.as_bytes(), &groups()).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("key"), "{key}");
            for start in ["bt_rl_", "ek_rl_", "lt_rl_", "auth_tokens/"] {
                assert!(err.message.contains(start), "{}", err.message);
            }
            assert!(reserved_prefix(key).is_some(), "{key}");
        }
        for purpose in crate::seal::Purpose::ALL {
            let key = std::format!("{}abcdefghijklmnop", purpose.prefix());
            assert_eq!(reserved_prefix(&key).is_some(), purpose.is_token(), "{key}");
        }
        // Look-alikes that no door reads as a token stay usable.
        for key in [
            "sk-auth_tokens/abcdefghij",
            "AUTH_TOKENS/abcdefghijklmn",
            "BT_RL_abcdefghijklmnop",
        ] {
            assert_eq!(reserved_prefix(key), None, "{key}");
            let body = std::format!(r#"{{"key":"{key}"}}"#);
            assert!(
                GenerateRequest::parse(body.as_bytes(), &groups()).is_ok(),
                "{key}"
            );
        }
    }

    #[test]
    fn presented_key_prefers_bearer_and_limits_query_keys() {
        let p = Presented {
            authorization: Some("Bearer  sk-a "),
            api_key: Some("sk-b"),
            goog_api_key: None,
            query_key: Some("sk-q"),
        };
        assert_eq!(presented_key(&p, false), Some("sk-a"));
        let p = Presented {
            authorization: Some("Basic xyz"),
            goog_api_key: Some("sk-g"),
            ..Presented::default()
        };
        assert_eq!(presented_key(&p, false), Some("sk-g"));
        let p = Presented {
            query_key: Some("sk-q"),
            ..Presented::default()
        };
        assert_eq!(presented_key(&p, false), None);
        assert_eq!(presented_key(&p, true), Some("sk-q"));
        let p = Presented {
            authorization: Some("Bearer "),
            api_key: Some(""),
            ..Presented::default()
        };
        assert_eq!(presented_key(&p, true), None);
    }

    #[test]
    fn key_refs_accept_tokens() {
        let token = hex(&key_hash("sk-reelay-x"));
        assert_eq!(KeyRef::parse(&token).unwrap().hash, key_hash("sk-reelay-x"));
        assert!(parse_delete_request(br#"{"keys":[]}"#).is_err());
        assert_eq!(
            parse_delete_request(br#"{"keys":["sk-reelay-x"]}"#)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn durations_and_dates() {
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("2w"), Some(1_209_600_000));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_835_045_000), "2026-11-28T03:04:05Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
    #[test]
    fn revocations_end_older_records_only() {
        let token = hex(&key_hash("sk-reelay-x"));
        assert_eq!(revocation_name(&token), format!("revoked:{token}"));
        assert_ne!(
            revocation_name(&token),
            storage_name(&key_hash("sk-reelay-x"))
        );
        // Deleted after (or when) it was created: ended.
        assert!(revocation_applies(2_000, 1_000));
        assert!(revocation_applies(1_000, 1_000));
        // A custom key re-created after the deletion is a new key.
        assert!(!revocation_applies(1_000, 2_000));
    }
}
