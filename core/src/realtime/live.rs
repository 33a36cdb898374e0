//! Gemini Live and Vertex Live: what reelay decides about a
//! `BidiGenerateContent` socket, and the Gemini ephemeral tokens it mints.
//!
//! **Paths** ([`live_route`]): Gemini's
//! `/ws/google.ai.generativelanguage.{v1|v1beta|v1alpha}.GenerativeService.BidiGenerateContent`
//! (and `…BidiGenerateContentConstrained`, the ephemeral-token variant),
//! also under `/gemini/`; Vertex's `/vertex_ai/live` and
//! `/ws/google.cloud.aiplatform.{v1|v1beta1}.LlmBidiService/BidiGenerateContent`
//! (also under `/vertex_ai/`). Empty segments (`//ws/`, which the JS SDK
//! produces) are ignored.
//!
//! **The setup frame** ([`Setup`]): the first client message,
//! `{"setup":{"model":"models/gemini-live",…}}` (text or binary). Its model
//! names a model group by its last `models/` segment (`models/x`,
//! `publishers/google/models/x`, a full Vertex resource, or a bare name);
//! the host checks that name against the key's rules, routes it, and
//! [`plan_live`] rewrites it for the deployment — `models/{model}` on the
//! Gemini API, `projects/{p}/locations/{l}/publishers/google/models/{model}`
//! on Vertex — and plans the upstream socket (Gemini: `{api_base}/ws/…v1beta…BidiGenerateContent`
//! with the deployment's `x-goog-api-key`; Vertex: `{api_base}/ws/…v1beta1.LlmBidiService/BidiGenerateContent`
//! with a service-account bearer token; `api_base` of a `global` Vertex
//! deployment is `https://aiplatform.googleapis.com`). Nothing else in the
//! frame changes.
//!
//! **Ephemeral tokens** ([`AuthTokenRequest`], [`LiveTokenClaims`]):
//! `POST /gemini/v1alpha/auth_tokens` (google-genai's
//! `client.auth_tokens.create`) takes Google's body — `expireTime` (default
//! now + 30 min, at most 20 h), `newSessionExpireTime` (default now + 60 s,
//! never after `expireTime`), `uses` (default 1, `0` = unlimited),
//! `bidiGenerateContentSetup` (the locked setup; its `model` is checked
//! against the key's rules at mint), `fieldMask` (which setup fields are
//! locked; empty with a setup = all of it) — and answers
//! `{"name":"auth_tokens/lt_rl_…", …}`. The token is reelay's own: an
//! encrypted [`Purpose::LiveToken`] value of [`crate::seal`] (AES-256-GCM
//! under the key derived for Live tokens; the nonce is its id) holding JSON
//! claims: its id, the owning key's hash, both expiries, the uses, the model
//! group and the locked setup. No provider credential is inside; Google's
//! own ephemeral tokens are never minted (the real key stays in the gateway,
//! which swaps it in upstream). Counting uses needs state: the host counts
//! them under the token id in the owning key's quota store.
//!
//! A token minted with a browser token never exceeds it
//! ([`crate::browser_token::Minter`]): both expiries are capped at the
//! browser token's, and the token carries its origin binding
//! ([`LiveTokenClaims::check_origin`]) and its model rules
//! ([`LiveTokenClaims::narrowing`], applied on top of the key's rules at
//! every connect, so a setup the token leaves open cannot name a model the
//! browser token could not use).
//! [`LiveTokenClaims::effective_setup`] applies the lock to a client's setup.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::access::{AccessGroups, AccessPolicy};
use crate::browser_token::{check_bound_origin, Minter};
use crate::config::Deployment;
#[cfg(test)]
use crate::config::Provider;
use crate::encoding::hex;
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::plan::Auth;
use crate::provider;
use crate::quota::TokenUse;
use crate::seal::{self, Keys, Owner, Purpose, NONCE_LEN, SUBJECT_LEN};
use crate::time::days_from_civil;

/// Gemini's Live method (API key) and Vertex's Live service and method.
pub use crate::provider::{
    GEMINI_LIVE_METHOD as GEMINI_METHOD, VERTEX_LIVE_METHOD as VERTEX_METHOD,
};
/// What a gateway-minted token's `name` starts with.
pub const AUTH_TOKEN_NAME_PREFIX: &str = seal::TOKEN_NAME_PREFIX;
/// Prefix of reelay's Live tokens (after `auth_tokens/`).
pub const LIVE_TOKEN_PREFIX: &str = Purpose::LiveToken.prefix();
/// Largest setup frame accepted (a setup with tools and long instructions).
pub const MAX_SETUP_BYTES: usize = 1024 * 1024;
/// Largest locked setup a token carries (it travels in a header).
pub const MAX_LOCKED_SETUP_BYTES: usize = 8 * 1024;
/// Largest `auth_tokens` body.
pub const MAX_AUTH_TOKEN_BODY: usize = 64 * 1024;
/// Longest token text opened.
pub const MAX_LIVE_TOKEN_LEN: usize = Purpose::LiveToken.max_len();
/// Default token lifetime (Google's): 30 minutes.
pub const DEFAULT_EXPIRE_MS: u64 = 30 * 60 * 1000;
/// Longest token lifetime (Google's): 20 hours.
pub const MAX_EXPIRE_MS: u64 = 20 * 3600 * 1000;
/// Default window to start sessions (Google's): 60 seconds.
pub const DEFAULT_NEW_SESSION_MS: u64 = 60 * 1000;
/// How long a Live socket may stay open without sending its setup frame.
pub const SETUP_TIMEOUT_MS: u64 = 10 * 1000;

/// The error closing a Live socket that sent no setup frame within
/// [`SETUP_TIMEOUT_MS`] (1008, as every caller mistake).
pub fn setup_timed_out() -> ClientError {
    setup_error(format!(
        "no `setup` message arrived within {} s of connecting; send it first",
        SETUP_TIMEOUT_MS / 1000
    ))
}

/// Which Live API a path serves (the client's dialect; any Live deployment
/// may serve either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveRoute {
    /// The Gemini API; `constrained` for the ephemeral-token method.
    Gemini {
        /// `…BidiGenerateContentConstrained`.
        constrained: bool,
    },
    /// Vertex AI.
    Vertex,
}

/// The Live route of a path's segments (empty segments already dropped),
/// if it is one.
pub fn live_route(segments: &[&str]) -> Option<LiveRoute> {
    let rest = match segments {
        ["gemini", rest @ ..] | ["vertex_ai", rest @ ..] => rest,
        all => all,
    };
    match (segments.first(), rest) {
        (Some(&"vertex_ai"), ["live"]) => Some(LiveRoute::Vertex),
        (_, ["ws", method]) => {
            let method = method.strip_prefix("google.ai.generativelanguage.")?;
            let (version, method) = method.split_once('.')?;
            if !matches!(version, "v1beta" | "v1alpha" | "v1") {
                return None;
            }
            match method {
                "GenerativeService.BidiGenerateContent" => {
                    Some(LiveRoute::Gemini { constrained: false })
                }
                "GenerativeService.BidiGenerateContentConstrained" => {
                    Some(LiveRoute::Gemini { constrained: true })
                }
                _ => None,
            }
        }
        (_, ["ws", service, "BidiGenerateContent"]) => {
            let version = service
                .strip_prefix("google.cloud.aiplatform.")?
                .strip_suffix(".LlmBidiService")?;
            matches!(version, "v1" | "v1beta1").then_some(LiveRoute::Vertex)
        }
        _ => None,
    }
}

/// The model group a Live model names: the part after the last `models/`.
pub fn short_model(model: &str) -> &str {
    match model.rfind("models/") {
        Some(at) => &model[at + "models/".len()..],
        None => model,
    }
}

/// A client's setup frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// The message (`{"setup":{…}, …}`) without its `setup`.
    message: Map<String, Value>,
    /// The setup object.
    setup: Map<String, Value>,
}

fn setup_error(message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param("setup")
}

impl Setup {
    /// Parses the first client message; it must be a JSON object holding a
    /// `setup` object.
    pub fn parse(frame: &[u8]) -> Result<Self, ClientError> {
        if frame.len() > MAX_SETUP_BYTES {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("the setup message is larger than {MAX_SETUP_BYTES} bytes"),
            ));
        }
        let value: Value = serde_json::from_slice(frame).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("the first message is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(mut message) = value else {
            return Err(setup_error(format!(
                "the first message must be a JSON object, got {}",
                type_name(&value)
            )));
        };
        match message.remove("setup") {
            Some(Value::Object(setup)) => Ok(Self { message, setup }),
            Some(other) => Err(setup_error(format!(
                "`setup` must be an object, got {}",
                type_name(&other)
            ))),
            None => Err(setup_error(
                "the first message of a Live session must be `setup`",
            )),
        }
    }

    /// A setup from a bare setup object (a token's locked setup).
    pub fn from_object(setup: Map<String, Value>) -> Self {
        Self {
            message: Map::new(),
            setup,
        }
    }

    /// `setup.model` as sent.
    pub fn model(&self) -> Option<&str> {
        self.setup.get("model").and_then(Value::as_str)
    }

    /// The model group the setup names, or an error naming `setup.model`.
    pub fn group_name(&self) -> Result<&str, ClientError> {
        let model = self.model().ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                "`setup.model` is required: the Live model to use",
            )
            .with_param("setup.model")
        })?;
        let name = short_model(model);
        if name.is_empty() {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("`setup.model` {model:?} names no model"),
            )
            .with_param("setup.model"));
        }
        Ok(name)
    }

    /// The setup object.
    pub fn object(&self) -> &Map<String, Value> {
        &self.setup
    }
}

/// The upstream Live socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePlan {
    /// `http(s)://…` URL (upgraded by the host).
    pub url: String,
    /// Credential to attach.
    pub auth: Auth,
    /// The setup message to send first (text).
    pub setup: String,
}

/// The upstream model resource for `dep`.
pub fn upstream_model(dep: &Deployment) -> Result<String, ClientError> {
    provider::live_api(dep, "setup.model").map(|api| api.model)
}

/// Plans the upstream socket on `dep` for `setup` (its model rewritten).
pub fn plan_live(dep: &Deployment, setup: &Setup) -> Result<LivePlan, ClientError> {
    let provider::LiveApi { url, auth, model } = provider::live_api(dep, "setup.model")?;
    let mut inner = setup.setup.clone();
    inner.insert("model".into(), Value::from(model));
    let mut message = setup.message.clone();
    message.insert("setup".into(), Value::Object(inner));
    Ok(LivePlan {
        url,
        auth,
        setup: Value::Object(message).to_string(),
    })
}

// ---- ephemeral tokens ----

/// A validated `POST /v1alpha/auth_tokens` body.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthTokenRequest {
    /// When the token stops working, unix ms.
    pub expires_at_ms: u64,
    /// Until when it may start sessions, unix ms.
    pub new_sessions_until_ms: u64,
    /// Sessions it may start; `0` = unlimited.
    pub uses: u32,
    /// The locked setup, if any (its model a model group name).
    pub setup: Option<Map<String, Value>>,
    /// Locked fields (dotted paths); empty with a setup = all of it.
    pub field_mask: Vec<String>,
}

/// The JSON object of an auth-token request body of at most `max` bytes
/// (an empty body is `{}`), or the Google-shaped error for it.
pub(crate) fn token_body(body: &[u8], max: usize) -> Result<Map<String, Value>, ClientError> {
    if body.len() > max {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {max} bytes"),
        ));
    }
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("Invalid JSON payload received. {e}"),
            )
        })?
    };
    match value {
        Value::Object(body) => Ok(body),
        other => Err(ClientError::new(
            ErrorCode::InvalidRequest,
            format!("the body must be a JSON object, got {}", type_name(&other)),
        )),
    }
}

fn token_field(param: &str, message: impl Into<String>) -> ClientError {
    let message = message.into();
    ClientError::new(ErrorCode::InvalidRequest, format!("`{param}` {message}")).with_param(param)
}

impl AuthTokenRequest {
    /// Parses Google's body at `now_ms`.
    pub fn parse(body: &[u8], now_ms: u64) -> Result<Self, ClientError> {
        let mut body = token_body(body, MAX_AUTH_TOKEN_BODY)?;
        let time = |name: &str, body: &Map<String, Value>| -> Result<Option<u64>, ClientError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_rfc3339_ms(s)
                    .map(Some)
                    .ok_or_else(|| token_field(name, format!("is not an RFC 3339 time: {s:?}"))),
                Some(other) => Err(token_field(
                    name,
                    format!("must be an RFC 3339 string, got {}", type_name(other)),
                )),
            }
        };
        let expires_at_ms =
            time("expireTime", &body)?.unwrap_or(now_ms.saturating_add(DEFAULT_EXPIRE_MS));
        if expires_at_ms <= now_ms {
            return Err(token_field("expireTime", "must be in the future"));
        }
        if expires_at_ms > now_ms.saturating_add(MAX_EXPIRE_MS) {
            return Err(token_field("expireTime", "must be at most 20 hours ahead"));
        }
        let new_sessions_until_ms = time("newSessionExpireTime", &body)?
            .unwrap_or(now_ms.saturating_add(DEFAULT_NEW_SESSION_MS))
            .min(expires_at_ms);
        if new_sessions_until_ms <= now_ms {
            return Err(token_field("newSessionExpireTime", "must be in the future"));
        }
        let uses = match body.get("uses") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| token_field("uses", format!("must be a whole number, got {v}")))?,
        };
        let setup = match body.remove("bidiGenerateContentSetup") {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut setup)) => {
                // The SDK may send `{"setup": {…}}` (BidiGenerateContent's shape).
                if setup.len() == 1 {
                    if let Some(Value::Object(inner)) = setup.get("setup") {
                        setup = inner.clone();
                    }
                }
                if let Some(model) = setup.get("model") {
                    let model = model.as_str().ok_or_else(|| {
                        token_field("bidiGenerateContentSetup.model", "must be a string")
                    })?;
                    let short = short_model(model).to_owned();
                    setup.insert("model".into(), Value::from(short));
                }
                let size = Value::Object(setup.clone()).to_string().len();
                if size > MAX_LOCKED_SETUP_BYTES {
                    return Err(token_field(
                        "bidiGenerateContentSetup",
                        format!(
                            "is {size} bytes; a gateway token carries at most {MAX_LOCKED_SETUP_BYTES}"
                        ),
                    ));
                }
                Some(setup)
            }
            Some(other) => {
                return Err(token_field(
                    "bidiGenerateContentSetup",
                    format!("must be an object, got {}", type_name(&other)),
                ))
            }
        };
        let field_mask = match body.get("fieldMask") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_mask(s.split(',')),
            Some(Value::Array(items)) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                split_mask(
                    texts
                        .ok_or_else(|| token_field("fieldMask", "must hold strings"))?
                        .into_iter(),
                )
            }
            Some(other) => {
                return Err(token_field(
                    "fieldMask",
                    format!("must be a string, got {}", type_name(other)),
                ))
            }
        };
        Ok(Self {
            expires_at_ms,
            new_sessions_until_ms,
            uses,
            setup,
            field_mask,
        })
    }

    /// The model group the locked setup names, if it names one.
    pub fn model(&self) -> Option<&str> {
        self.setup
            .as_ref()
            .and_then(|s| s.get("model"))
            .and_then(Value::as_str)
    }
}

fn split_mask<'a>(parts: impl Iterator<Item = &'a str>) -> Vec<String> {
    parts
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a Live token binds.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTokenClaims {
    /// Unique id (the nonce it was sealed with): where its uses are counted.
    pub id: [u8; NONCE_LEN],
    /// SHA-256 of the owning virtual key.
    pub key_hash: [u8; 32],
    /// Unix ms after which the token is dead.
    pub expires_at_ms: u64,
    /// Unix ms after which it starts no new session.
    pub new_sessions_until_ms: u64,
    /// Sessions it may start; `0` = unlimited.
    pub uses: u32,
    /// The locked setup (model as a group name).
    pub setup: Option<Map<String, Value>>,
    /// Locked fields; empty with a setup = all of it.
    pub field_mask: Vec<String>,
    /// The one origin the token works from (a minting browser token's
    /// binding); `None` = unbound.
    pub origin: Option<String>,
    /// Model rules narrowing the key's at every connect (a minting browser
    /// token's); empty = none.
    pub models: Vec<String>,
    /// The visitor it acts for (a minting browser token's subject).
    pub subject: Option<[u8; SUBJECT_LEN]>,
}

impl LiveTokenClaims {
    /// The claims a mint of `request` by `key_hash` seals (`nonce`: 12 fresh
    /// random bytes, also the token's id), within what `minter` may grant:
    /// a browser token's expiry, origin binding and model rules.
    pub fn mint(
        request: &AuthTokenRequest,
        key_hash: [u8; 32],
        nonce: [u8; NONCE_LEN],
        minter: Minter<'_>,
    ) -> Self {
        let expires_at_ms = minter.clamp_expiry_ms(request.expires_at_ms);
        Self {
            id: nonce,
            key_hash,
            expires_at_ms,
            new_sessions_until_ms: request.new_sessions_until_ms.min(expires_at_ms),
            uses: request.uses,
            setup: request.setup.clone(),
            field_mask: request.field_mask.clone(),
            origin: minter.origin().map(str::to_owned),
            models: minter.models().to_vec(),
            subject: minter.subject(),
        }
    }

    /// The token's own model rules compiled under `groups`, or `None` when
    /// it carries none (it then reaches what its key may use).
    pub fn narrowing(&self, groups: &AccessGroups) -> Result<Option<AccessPolicy>, ClientError> {
        if self.models.is_empty() {
            return Ok(None);
        }
        AccessPolicy::compile(&self.models, groups)
            .map(Some)
            .map_err(|e| {
                ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!("this ephemeral token's model rules are not valid under the current config: {e}"),
                )
            })
    }

    /// Checks the token's origin binding against the request's `Origin`
    /// (requests without one pass, as for browser tokens).
    pub fn check_origin(&self, request_origin: Option<&str>) -> Result<(), ClientError> {
        check_bound_origin(self.origin.as_deref(), request_origin, "ephemeral token")
    }

    /// The token id as text (where its uses are counted).
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// One session started with the token: one of its `uses`, counted
    /// under its id until it expires (each session is also metered on the
    /// key that minted it).
    pub fn session_use(&self) -> TokenUse {
        TokenUse {
            id: self.id_hex(),
            max: self.uses,
            until_ms: self.expires_at_ms,
        }
    }

    /// Who the sessions it starts belong to: its key, for the visitor a
    /// minting browser token acted for.
    pub fn owner(&self) -> Owner {
        Owner::of(&self.key_hash, self.subject)
    }

    /// The setup a session runs with: the client's, with the locked fields
    /// overwritten (all of it when the mask is empty; a locked field the
    /// token leaves unset is removed).
    pub fn effective_setup(&self, client: &Setup) -> Setup {
        let Some(locked) = &self.setup else {
            return client.clone();
        };
        if self.field_mask.is_empty() {
            return Setup {
                message: client.message.clone(),
                setup: locked.clone(),
            };
        }
        let mut setup = client.setup.clone();
        for path in &self.field_mask {
            let parts: Vec<&str> = path.split('.').collect();
            match get_path(locked, &parts) {
                Some(value) => set_path(&mut setup, &parts, value.clone()),
                None => remove_path(&mut setup, &parts),
            }
        }
        if let Some(model) = locked.get("model") {
            setup.insert("model".into(), model.clone());
        }
        Setup {
            message: client.message.clone(),
            setup,
        }
    }
}

fn get_path<'a>(map: &'a Map<String, Value>, parts: &[&str]) -> Option<&'a Value> {
    let (first, rest) = parts.split_first()?;
    let value = map.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    get_path(value.as_object()?, rest)
}

fn set_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert((*first).to_owned(), value);
        return;
    }
    let slot = map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(next) = slot {
        set_path(next, rest, value);
    }
}

fn remove_path(map: &mut Map<String, Value>, parts: &[&str]) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.remove(*first);
    } else if let Some(Value::Object(next)) = map.get_mut(*first) {
        remove_path(next, rest);
    }
}

impl LiveTokenClaims {
    /// Seals the claims (their id is the nonce) into `lt_rl_…`: encrypted,
    /// since the locked setup may hold instructions the page must not read.
    pub fn seal(&self, keys: &Keys) -> Result<String, seal::Error> {
        let mut plain = serde_json::json!({
            "k": hex(&self.key_hash),
            "e": self.expires_at_ms,
            "n": self.new_sessions_until_ms,
            "u": self.uses,
            "m": self.field_mask,
        });
        if let Value::Object(map) = &mut plain {
            if let Some(setup) = &self.setup {
                map.insert("s".into(), Value::Object(setup.clone()));
            }
            if let Some(origin) = &self.origin {
                map.insert("o".into(), Value::from(origin.as_str()));
            }
            if !self.models.is_empty() {
                map.insert("r".into(), Value::from(self.models.clone()));
            }
            if let Some(subject) = &self.subject {
                map.insert("j".into(), Value::from(hex(subject)));
            }
        }
        keys.seal_aead(Purpose::LiveToken, &self.id, plain.to_string().as_bytes())
    }

    /// Opens a token (with or without `auth_tokens/`) to start a session at
    /// `now_ms`: [`seal::Error::Expired`] past `expireTime`, or past
    /// `newSessionExpireTime`. Clients see [`seal::Error::to_client`] of
    /// [`Purpose::LiveToken`].
    pub fn open(keys: &Keys, token: &str, now_ms: u64) -> Result<Self, seal::Error> {
        let token = token.strip_prefix(AUTH_TOKEN_NAME_PREFIX).unwrap_or(token);
        let (id, plain) = keys.open_aead(Purpose::LiveToken, token)?;
        let claims = parse_claims(id, &plain).ok_or(seal::Error::Malformed)?;
        let until = claims.expires_at_ms.min(claims.new_sessions_until_ms);
        if now_ms >= until {
            return Err(seal::Error::Expired(until / 1000));
        }
        Ok(claims)
    }
}

fn parse_claims(id: [u8; NONCE_LEN], plain: &[u8]) -> Option<LiveTokenClaims> {
    let Value::Object(map) = serde_json::from_slice::<Value>(plain).ok()? else {
        return None;
    };
    // An interaction auth token (`live_interactions`) shares the envelope.
    if map.contains_key("t") {
        return None;
    }
    let key = crate::encoding::hex_decode(map.get("k")?.as_str()?)?;
    let key_hash: [u8; 32] = key.try_into().ok()?;
    let field_mask = map
        .get("m")?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    let setup = match map.get("s") {
        None => None,
        Some(Value::Object(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let origin = match map.get("o") {
        None => None,
        Some(o) => Some(o.as_str()?.to_owned()),
    };
    let subject = match map.get("j") {
        None => None,
        Some(j) => Some(crate::encoding::hex_decode(j.as_str()?)?.try_into().ok()?),
    };
    let models = match map.get("r") {
        None => Vec::new(),
        Some(r) => r
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
    };
    Some(LiveTokenClaims {
        id,
        key_hash,
        expires_at_ms: map.get("e")?.as_u64()?,
        new_sessions_until_ms: map.get("n")?.as_u64()?,
        uses: u32::try_from(map.get("u")?.as_u64()?).ok()?,
        setup,
        field_mask,
        origin,
        models,
        subject,
    })
}

/// The `auth_tokens` answer: Google's `AuthToken` with the token's name
/// and the times and uses it was minted with (`claims`: as sealed, after
/// any clamp by its minter).
pub fn auth_token_answer(token: &str, claims: &LiveTokenClaims) -> Value {
    let mut answer = Map::new();
    answer.insert(
        "name".into(),
        Value::from(format!("{AUTH_TOKEN_NAME_PREFIX}{token}")),
    );
    answer.insert(
        "expireTime".into(),
        Value::from(crate::time::rfc3339(claims.expires_at_ms)),
    );
    answer.insert(
        "newSessionExpireTime".into(),
        Value::from(crate::time::rfc3339(claims.new_sessions_until_ms)),
    );
    answer.insert("uses".into(), Value::from(claims.uses));
    Value::Object(answer)
}

/// Parses an RFC 3339 timestamp (`2026-12-01T00:30:00Z`,
/// `…T00:30:00.123+01:00`; no offset = UTC) into unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    // RFC 3339 years have four digits; larger ones would overflow below.
    if !(0..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Split off the offset.
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        let h: i64 = h.parse().ok()?;
        let m: i64 = m.parse().ok()?;
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
            return None;
        }
        (c, sign * (h * 3600 + m * 60))
    } else {
        (time, 0)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let second: i64 = t.next().unwrap_or("0").parse().ok()?;
    if !(0..=23).contains(&hour)
        || !(0..=59).contains(&minute)
        || !(0..=60).contains(&second)
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let ms = secs.checked_mul(1000)?.checked_add(millis)?;
    u64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policy::Prices;
    use crate::config::VertexSettings;
    use serde_json::json;

    const NOW: u64 = 1_790_000_000_000;

    fn dep(provider: Provider) -> Deployment {
        Deployment {
            id: "d".into(),
            provider,
            model: "gemini-live-2.5-flash".into(),
            api_base: "https://aiplatform.googleapis.com".into(),
            credential: "K".into(),
            weight: 1,
            video_seconds: Vec::new(),
            timeout_ms: 1000,
            vertex: (provider == Provider::VertexAi).then(|| VertexSettings {
                project: "p1".into(),
                location: "global".into(),
                storage_uri: None,
                storage_api_base: String::new(),
            }),
            prices: Prices::default(),
        }
    }

    #[test]
    fn a_missing_setup_closes_as_a_policy_violation() {
        let e = setup_timed_out();
        assert_eq!(e.param.as_deref(), Some("setup"));
        let (code, reason) = crate::realtime::ws::close_for(&e);
        assert_eq!(code, crate::realtime::ws::CLOSE_POLICY);
        assert!(reason.starts_with("invalid_request: no `setup` message arrived within 10 s"));
    }

    #[test]
    fn routes() {
        assert_eq!(
            live_route(&[
                "ws",
                "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
            ]),
            Some(LiveRoute::Gemini { constrained: false })
        );
        assert_eq!(
            live_route(&["gemini", "ws", "google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"]),
            Some(LiveRoute::Gemini { constrained: true })
        );
        assert_eq!(live_route(&["vertex_ai", "live"]), Some(LiveRoute::Vertex));
        assert_eq!(
            live_route(&[
                "ws",
                "google.cloud.aiplatform.v1beta1.LlmBidiService",
                "BidiGenerateContent"
            ]),
            Some(LiveRoute::Vertex)
        );
        assert_eq!(
            live_route(&[
                "ws",
                "google.ai.generativelanguage.v9.GenerativeService.BidiGenerateContent"
            ]),
            None
        );
        assert_eq!(live_route(&["live"]), None);
        assert_eq!(live_route(&[]), None);
    }

    #[test]
    fn setup_model_is_rewritten() {
        let s = Setup::parse(br#"{"setup":{"model":"models/gemini-live","generationConfig":{"responseModalities":["AUDIO"]}}}"#).unwrap();
        assert_eq!(s.group_name().unwrap(), "gemini-live");
        let p = plan_live(&dep(Provider::Gemini), &s).unwrap();
        assert!(p.url.ends_with(&format!("/ws/{GEMINI_METHOD}")));
        assert_eq!(p.auth, Auth::GoogleApiKey);
        let sent: Value = serde_json::from_str(&p.setup).unwrap();
        assert_eq!(sent["setup"]["model"], "models/gemini-live-2.5-flash");
        assert_eq!(
            sent["setup"]["generationConfig"]["responseModalities"][0],
            "AUDIO"
        );
        let p = plan_live(&dep(Provider::VertexAi), &s).unwrap();
        assert_eq!(
            p.url,
            format!("https://aiplatform.googleapis.com/ws/{VERTEX_METHOD}")
        );
        assert_eq!(p.auth, Auth::GoogleServiceAccount);
        let sent: Value = serde_json::from_str(&p.setup).unwrap();
        assert_eq!(
            sent["setup"]["model"],
            "projects/p1/locations/global/publishers/google/models/gemini-live-2.5-flash"
        );
        assert!(plan_live(&dep(Provider::OpenAi), &s).is_err());
        assert_eq!(
            short_model("projects/p/locations/l/publishers/google/models/x"),
            "x"
        );
        assert_eq!(short_model("x"), "x");
    }

    #[test]
    fn bad_setups_are_refused() {
        assert_eq!(
            Setup::parse(b"nope").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            Setup::parse(b"[]").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            Setup::parse(br#"{"clientContent":{}}"#).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let s = Setup::parse(br#"{"setup":{}}"#).unwrap();
        assert_eq!(
            s.group_name().unwrap_err().param.as_deref(),
            Some("setup.model")
        );
        let s = Setup::parse(br#"{"setup":{"model":"models/"}}"#).unwrap();
        assert!(s.group_name().is_err());
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5"), Some(1500));
        assert_eq!(
            parse_rfc3339_ms("2026-12-01T00:30:00+00:00"),
            Some(1_796_085_000_000)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("garbage"), None);
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn times_out_of_range_are_refused_not_overflowed() {
        // Found by fuzzing (fuzz/seeds/live/rfc3339_huge_year): a huge
        // year overflowed the seconds arithmetic.
        assert_eq!(parse_rfc3339_ms("2026202633333333-12-10T00:02-05:30"), None);
        assert_eq!(
            parse_rfc3339_ms("-9223372036854775808-01-01T00:00:00Z"),
            None
        );
        assert_eq!(parse_rfc3339_ms("10000-01-01T00:00:00Z"), None);
        assert_eq!(
            parse_rfc3339_ms("9999-12-31T23:59:59Z"),
            Some(253_402_300_799_000)
        );
        // Signed fields are not numbers of hours, minutes or seconds.
        assert_eq!(parse_rfc3339_ms("2026-01-01T-5:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-01-01T00:-1:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-01-01T00:00:00+-1:00"), None);
    }

    fn request(body: Value) -> Result<AuthTokenRequest, ClientError> {
        AuthTokenRequest::parse(body.to_string().as_bytes(), NOW)
    }

    #[test]
    fn token_requests_default_and_validate() {
        let r = AuthTokenRequest::parse(b"", NOW).unwrap();
        assert_eq!(r.expires_at_ms, NOW + DEFAULT_EXPIRE_MS);
        assert_eq!(r.new_sessions_until_ms, NOW + DEFAULT_NEW_SESSION_MS);
        assert_eq!(r.uses, 1);
        assert_eq!(r.model(), None);
        let r = request(json!({"uses": 0, "bidiGenerateContentSetup": {"setup": {"model": "models/gemini-live"}},
                               "fieldMask": "model,generationConfig.temperature"}))
        .unwrap();
        assert_eq!(r.uses, 0);
        assert_eq!(r.model(), Some("gemini-live"));
        assert_eq!(r.field_mask, ["model", "generationConfig.temperature"]);
        assert!(request(json!({"expireTime": "2001-01-01T00:00:00Z"})).is_err());
        assert!(request(json!({"expireTime": keys_time(NOW + MAX_EXPIRE_MS + 1000)})).is_err());
        assert!(request(json!({"uses": -1})).is_err());
        assert!(request(json!({"bidiGenerateContentSetup": 3})).is_err());
        let big = "x".repeat(MAX_LOCKED_SETUP_BYTES);
        assert_eq!(
            request(json!({"bidiGenerateContentSetup": {"systemInstruction": big}}))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let r = request(json!({"expireTime": keys_time(NOW + 10_000), "newSessionExpireTime": keys_time(NOW + 99_000)})).unwrap();
        assert_eq!(r.new_sessions_until_ms, NOW + 10_000);
    }

    fn keys_time(ms: u64) -> String {
        crate::time::rfc3339(ms)
    }

    /// A token sealed by the previous `LiveTokenKey` (same key label, same
    /// layout) under the key [9; 32].
    const ISSUED_BEFORE_SEAL: &str = "lt_rl_AQUFBQUFBQUFBQUFBd3dy8Y2BXhbTeB3Go8AzLHeYuSBvbxOfKH24ll_rTOCe-5nP2G2bkZsRt56v3xE-Pb9ql99bxe0kUpJax-9DJY8m0HwEeojG6iJnMR0keKbWG0E2jWTD5hIFowfqt_XRetPqq6vSunakgSp8YAlmbVB1QvTyA5P1yjNKscNmLxUlRDmYmltmNS7Pq8jkXyCUV8WF9FGESyYXPXP_gFBhMZN3qDbn_wdMe7r2sFoWPmOTzTxIftqqIVotB8uJmphCh9ujufTvNcPDt90RNOg6oRbcoNCbtYC5eR0yOGgHHd1nmrjPiOVoDOV-Q";

    #[test]
    fn tokens_issued_before_the_seal_module_still_open() {
        let key = Keys::derive(&[9u8; 32]).unwrap();
        let opened = LiveTokenClaims::open(&key, ISSUED_BEFORE_SEAL, NOW).unwrap();
        assert_eq!(opened.id, [5; 12]);
        assert_eq!(opened.key_hash, [4; 32]);
        assert_eq!(opened.uses, 2);
        assert_eq!(
            (opened.expires_at_ms, opened.new_sessions_until_ms),
            (1_790_001_800_000, 1_790_000_060_000)
        );
        assert_eq!(opened.field_mask, ["generationConfig.temperature"]);
        assert_eq!(
            opened.setup.map(Value::Object),
            Some(json!({"model": "gemini-live", "generationConfig": {"temperature": 0.1}}))
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_forgeries() {
        let key = Keys::derive(&[9u8; 32]).unwrap();
        let r = request(json!({"uses": 2, "bidiGenerateContentSetup": {"model": "models/gemini-live",
            "generationConfig": {"temperature": 0.1}}, "fieldMask": ["generationConfig.temperature"]})).unwrap();
        let claims = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::Key);
        let token = claims.seal(&key).unwrap();
        assert!(token.starts_with(LIVE_TOKEN_PREFIX));
        let opened = LiveTokenClaims::open(&key, &format!("auth_tokens/{token}"), NOW).unwrap();
        assert_eq!(opened, claims);
        assert_eq!(opened.id_hex(), "05".repeat(12));
        let err = LiveTokenClaims::open(&key, &token, r.new_sessions_until_ms).unwrap_err();
        assert_eq!(err, seal::Error::Expired(r.new_sessions_until_ms / 1000));
        assert_eq!(
            err.to_client(Purpose::LiveToken).code,
            ErrorCode::LiveTokenExpired
        );
        let other = Keys::derive(&[8u8; 32]).unwrap();
        assert_eq!(
            LiveTokenClaims::open(&other, &token, NOW).unwrap_err(),
            seal::Error::BadMac
        );
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(LiveTokenClaims::open(&key, &tampered, NOW).is_err());
        for bad in ["ek_rl_x", "lt_rl_!!", "lt_rl_", "auth_tokens/"] {
            assert_eq!(
                LiveTokenClaims::open(&key, bad, NOW).unwrap_err(),
                seal::Error::Malformed,
                "{bad}"
            );
        }
        // Authentic bytes that are not a Live token's claims.
        let odd = key.seal_aead(Purpose::LiveToken, &[1; 12], b"[1]").unwrap();
        assert_eq!(
            LiveTokenClaims::open(&key, &odd, NOW).unwrap_err(),
            seal::Error::Malformed
        );
        let answer = auth_token_answer(&token, &claims);
        assert_eq!(answer["name"], format!("auth_tokens/{token}"));
        assert_eq!(answer["uses"], 2);
    }

    #[test]
    fn a_browser_token_mints_nothing_that_outlives_it_or_reaches_further() {
        let key = Keys::derive(&[9u8; 32]).unwrap();
        let bt = crate::browser_token::Claims {
            parent_hash: [4; 32],
            issued_at_secs: NOW / 1000,
            expires_at_secs: NOW / 1000 + 10,
            id: [1; 8],
            origin: Some("https://app.example.com".into()),
            models: std::vec!["gemini-live".into()],
            subject: [6; SUBJECT_LEN],
        };
        // Asked: 20 hours, 1 hour of new sessions, unlimited uses.
        let r = request(json!({"expireTime": keys_time(NOW + MAX_EXPIRE_MS),
            "newSessionExpireTime": keys_time(NOW + 3_600_000), "uses": 0}))
        .unwrap();
        let claims = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::BrowserToken(&bt));
        assert_eq!(claims.expires_at_ms, NOW + 10_000);
        assert_eq!(claims.new_sessions_until_ms, NOW + 10_000);
        assert_eq!(claims.origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(claims.models, ["gemini-live"]);
        assert_eq!(claims.owner(), bt.owner());
        let answer = auth_token_answer("lt_rl_x", &claims);
        assert_eq!(answer["expireTime"], keys_time(NOW + 10_000));
        assert_eq!(answer["newSessionExpireTime"], keys_time(NOW + 10_000));
        // Sealed and opened with its bounds; dead once the browser token is.
        let token = claims.seal(&key).unwrap();
        let opened = LiveTokenClaims::open(&key, &token, NOW).unwrap();
        assert_eq!(opened, claims);
        assert_eq!(
            LiveTokenClaims::open(&key, &token, NOW + 10_000).unwrap_err(),
            seal::Error::Expired((NOW + 10_000) / 1000)
        );
        assert!(opened.check_origin(Some("https://app.example.com")).is_ok());
        assert_eq!(
            opened
                .check_origin(Some("https://evil.example.com"))
                .unwrap_err()
                .code,
            ErrorCode::OriginNotAllowed
        );
        let groups = AccessGroups::new();
        let everything = AccessPolicy::compile::<&str>(&[], &groups).unwrap();
        let narrowed = everything.narrowed(opened.narrowing(&groups).unwrap().unwrap());
        assert!(narrowed.allows("gemini-live"));
        assert!(!narrowed.allows("vertex-live"));
        // A key's token keeps what it asked for and narrows nothing.
        let claims = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::Key);
        assert_eq!(claims.expires_at_ms, NOW + MAX_EXPIRE_MS);
        assert_eq!(claims.origin, None);
        assert!(claims.narrowing(&groups).unwrap().is_none());
    }

    #[test]
    fn locked_fields_overwrite_the_client_setup() {
        let client = Setup::parse(br#"{"setup":{"model":"models/other","generationConfig":{"temperature":0.9,"topK":3},"systemInstruction":{"parts":[{"text":"hi"}]}}}"#).unwrap();
        let r = request(json!({"bidiGenerateContentSetup": {"model": "models/gemini-live",
            "generationConfig": {"temperature": 0.1}}, "fieldMask": "generationConfig.temperature,systemInstruction"})).unwrap();
        let claims = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::Key);
        let s = claims.effective_setup(&client);
        assert_eq!(s.group_name().unwrap(), "gemini-live");
        assert_eq!(s.object()["generationConfig"]["temperature"], 0.1);
        assert_eq!(s.object()["generationConfig"]["topK"], 3);
        assert!(s.object().get("systemInstruction").is_none());
        // No mask: the token's setup replaces the client's.
        let r = request(json!({"bidiGenerateContentSetup": {"model": "gemini-live"}})).unwrap();
        let s = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::Key).effective_setup(&client);
        assert_eq!(
            Value::Object(s.object().clone()),
            json!({"model": "gemini-live"})
        );
        // No setup: the client's.
        let r = request(json!({})).unwrap();
        let s = LiveTokenClaims::mint(&r, [4; 32], [5; 12], Minter::Key).effective_setup(&client);
        assert_eq!(s.group_name().unwrap(), "other");
    }
}
