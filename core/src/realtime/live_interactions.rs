//! Gemini Live Interactions (experimental upstream): what reelay decides
//! about the `/{v}/interactions/live` socket and the per-interaction auth
//! tokens it mints in place of Google's.
//!
//! **Paths** ([`interactions_route`]): `/{v}/interactions/live` (WebSocket),
//! `POST /{v}/interactions/{id}/auth_tokens` and
//! `DELETE /{v}/interactions/{id}/auth_tokens/{token}`, with `{v}` one of
//! `v1`, `v1beta`, `v1alpha`, also under `/gemini/`.
//!
//! **The first client frame** ([`FirstFrame`]) opens the session: either
//! `{"event_type":"interaction.connect","id":"int_…"}` — a sealed
//! interaction id ([`Purpose::Interaction`]) the host opens for the caller
//! (so another key's or visitor's id is not found) and replaces with the
//! upstream id, the session then pinned to the deployment holding it — or
//! `{"event_type":"interaction.create","model":…}` (`previous_interaction_id`,
//! if any, a sealed id of the caller's too), whose model the host checks
//! against the caller's rules and replaces with the deployment's. A batch
//! `{"events":[…]}` may carry it as its first event. Nothing else may come
//! first.
//!
//! **Later frames** ([`InteractionGuard`]): every client frame must be a
//! JSON object, one event or a non-empty `events` batch, each event of a
//! type §6.3 lists (`input`, `interaction.complete`, `interaction.cancel`,
//! `interaction.disconnect`, `world_setup`, `user_action`); a second
//! `interaction.connect` or `interaction.create` is refused (it would leave
//! the interaction the caller was allowed). What goes up is re-serialized
//! from what was checked. From the upstream, every interaction id
//! (`interaction.created`'s `interaction_id`, and any `interaction_id`,
//! `interaction.id` or `interaction.*` event's `id`) reaches the client
//! sealed, and `error` events lose every secret the host knows.
//!
//! **Auth tokens** ([`InteractionTokenClaims`]): `POST …/{id}/auth_tokens
//! {"expire_time"}` mints `auth_tokens/lt_rl_…` — reelay's own, never the
//! upstream's — sealed like the Live tokens of [`crate::realtime::live`]
//! (the same AEAD purpose, [`Purpose::LiveToken`], with claims of their own
//! that a Live setup token never parses as, and the reverse): the owning
//! key's hash, the expiry (default 30 min, at most 20 h, never past a
//! minting browser token's, whose origin and model rules it also carries),
//! the deployment and the upstream interaction id. It opens only that
//! interaction's socket, any number of times until it expires or is
//! revoked. Revocation (`DELETE`) is counted where its uses are: the token
//! id's use count in the owning key's quota store is set to
//! [`REVOKED_USES`], so the next connect finds none left — in the same
//! call that admits the session, exact at once everywhere.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::access::{AccessGroups, AccessPolicy};
use crate::browser_token::{check_bound_origin, Minter};
use crate::config::{Deployment, Provider};
use crate::encoding::{hex, hex_decode};
use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::quota::TokenUse;
use crate::redact::Redactor;
use crate::seal::{self, Keys, Owner, Purpose, NONCE_LEN, SUBJECT_LEN};

use super::live::{parse_rfc3339_ms, DEFAULT_EXPIRE_MS, MAX_EXPIRE_MS};
use super::ws::{FrameGuard, Verdict};

/// How long the socket may stay open without its first frame.
pub const FIRST_FRAME_TIMEOUT_MS: u64 = 10 * 1000;
/// Largest client frame relayed (audio, images, a batch of them).
pub const MAX_CLIENT_FRAME: usize = 4 * 1024 * 1024;
/// Largest `auth_tokens` body.
pub const MAX_TOKEN_BODY: usize = 16 * 1024;
/// The use count that marks a token revoked: above any count a token of
/// [`TOKEN_MAX_USES`] allows, even after refunded sessions give some back,
/// and within what the quota store's SQLite binds exactly (2^53).
pub const REVOKED_USES: u64 = 1 << 40;
/// The uses an interaction token has (its connects are limited by time).
pub const TOKEN_MAX_USES: u32 = u32::MAX;
/// The handshake header naming the protocol revision the client speaks,
/// passed on when it is a date (`2026-05-20`).
pub const API_REVISION_HEADER: &str = "api-revision";
/// The claims' kind marker (a Live setup token has none).
const TOKEN_KIND: &str = "interaction";

/// A Live Interactions path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionsRoute<'a> {
    /// `/{v}/interactions/live`.
    Socket,
    /// `POST /{v}/interactions/{id}/auth_tokens`.
    MintToken {
        /// The interaction id as sent.
        id: &'a str,
    },
    /// `DELETE /{v}/interactions/{id}/auth_tokens/{token}`.
    RevokeToken {
        /// The interaction id as sent.
        id: &'a str,
        /// The token (without `auth_tokens/`).
        token: &'a str,
    },
}

/// The Live Interactions route of a path's segments (empty segments
/// dropped), if it is one.
pub fn interactions_route<'a>(segments: &[&'a str]) -> Option<InteractionsRoute<'a>> {
    let rest = match segments {
        ["gemini", rest @ ..] => rest,
        all => all,
    };
    let [version, "interactions", tail @ ..] = rest else {
        return None;
    };
    if !matches!(*version, "v1" | "v1beta" | "v1alpha") {
        return None;
    }
    match tail {
        ["live"] => Some(InteractionsRoute::Socket),
        [id, "auth_tokens"] => Some(InteractionsRoute::MintToken { id }),
        [id, "auth_tokens", token] => Some(InteractionsRoute::RevokeToken { id, token }),
        _ => None,
    }
}

/// The client's `api-revision` header if it is a plain date.
pub fn api_revision(value: &str) -> Option<&str> {
    let b = value.as_bytes();
    let date = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    date.then_some(value)
}

/// The upstream socket of `dep`: `{api_base}/v1beta/interactions/live`
/// with its API key (Live Interactions is Gemini API only).
pub fn upstream_url(dep: &Deployment) -> Result<String, ClientError> {
    if dep.provider != Provider::Gemini {
        return Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            format!(
                "this model is served by a {} deployment; Live Interactions is Gemini API only",
                dep.provider.as_str()
            ),
        )
        .with_param("model"));
    }
    Ok(format!("{}/v1beta/interactions/live", dep.api_base))
}

// ---- client frames ----

/// The client event types that may follow the first frame.
const LATER_EVENTS: [&str; 6] = [
    "input",
    "interaction.complete",
    "interaction.cancel",
    "interaction.disconnect",
    "world_setup",
    "user_action",
];
const CONNECT: &str = "interaction.connect";
const CREATE: &str = "interaction.create";

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

/// A client frame's events (one, or a batch), each an object with a
/// string `event_type`.
fn events_of(bytes: &[u8]) -> Result<(Vec<Map<String, Value>>, bool), ClientError> {
    if bytes.len() > MAX_CLIENT_FRAME {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("a client frame is limited to {MAX_CLIENT_FRAME} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ClientError::new(
            ErrorCode::InvalidJson,
            format!("a client frame must be a JSON event: {e}"),
        )
    })?;
    let Value::Object(mut frame) = value else {
        return Err(invalid(
            "event_type",
            format!(
                "a client frame must be a JSON object, got {}",
                type_name(&value)
            ),
        ));
    };
    let (events, batched) = match frame.remove("events") {
        Some(Value::Array(items)) => {
            if let Some(other) = frame.keys().next() {
                return Err(invalid(
                    other,
                    format!("a batch holds only `events`, not `{other}`"),
                ));
            }
            if items.is_empty() {
                return Err(invalid("events", "an event batch may not be empty"));
            }
            let mut events = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(event) => events.push(event),
                    other => {
                        return Err(invalid(
                            "events",
                            format!(
                                "every batched event must be an object, got {}",
                                type_name(&other)
                            ),
                        ))
                    }
                }
            }
            (events, true)
        }
        Some(other) => {
            return Err(invalid(
                "events",
                format!("`events` must be an array, got {}", type_name(&other)),
            ))
        }
        None => (alloc::vec![frame], false),
    };
    for event in &events {
        match event.get("event_type") {
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(invalid(
                    "event_type",
                    format!("`event_type` must be a string, got {}", type_name(other)),
                ))
            }
            None => {
                return Err(invalid(
                    "event_type",
                    "every client event needs an `event_type`",
                ))
            }
        }
    }
    Ok((events, batched))
}

fn event_type(event: &Map<String, Value>) -> &str {
    event
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Checks events that follow the opening: the §6.3 types, no second opening.
fn check_later(events: &[Map<String, Value>]) -> Result<(), ClientError> {
    for event in events {
        let kind = event_type(event);
        if kind == CONNECT || kind == CREATE {
            return Err(invalid(
                "event_type",
                format!("`{kind}` may only be the first event of a session; open a new socket for another interaction"),
            ));
        }
        if !LATER_EVENTS.contains(&kind) {
            return Err(invalid(
                "event_type",
                format!(
                    "unknown client event type {kind:?} (expected one of: {})",
                    LATER_EVENTS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn render(events: Vec<Map<String, Value>>, batched: bool) -> String {
    if batched {
        let mut frame = Map::new();
        frame.insert(
            "events".into(),
            Value::Array(events.into_iter().map(Value::Object).collect()),
        );
        Value::Object(frame).to_string()
    } else {
        events
            .into_iter()
            .next()
            .map(|e| Value::Object(e).to_string())
            .unwrap_or_default()
    }
}

/// What the first frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// `interaction.connect`: the sealed id as sent.
    Connect {
        /// `id`.
        id: String,
    },
    /// `interaction.create`.
    Create {
        /// `model` as sent.
        model: String,
        /// `previous_interaction_id` (sealed) as sent.
        previous: Option<String>,
    },
}

/// The first client frame, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstFrame {
    events: Vec<Map<String, Value>>,
    batched: bool,
    opening: Opening,
}

fn string_field(event: &Map<String, Value>, name: &str) -> Result<Option<String>, ClientError> {
    match event.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            name,
            format!(
                "`{name}` must be a non-empty string, got {}",
                type_name(other)
            ),
        )),
    }
}

impl FirstFrame {
    /// Parses the first frame: an `interaction.connect` with an `id`, or an
    /// `interaction.create` with a `model` (alone, or first in a batch whose
    /// other events are later events).
    pub fn parse(bytes: &[u8]) -> Result<Self, ClientError> {
        let (events, batched) = events_of(bytes)?;
        let (first, later) = events
            .split_first()
            .ok_or_else(|| invalid("events", "the first frame must open the interaction"))?;
        let opening = match event_type(first) {
            CONNECT => Opening::Connect {
                id: string_field(first, "id")?.ok_or_else(|| {
                    invalid("id", "`interaction.connect` needs the interaction `id`")
                })?,
            },
            CREATE => Opening::Create {
                model: string_field(first, "model")?
                    .ok_or_else(|| invalid("model", "`interaction.create` needs a `model`"))?,
                previous: string_field(first, "previous_interaction_id")?,
            },
            other => {
                return Err(invalid(
                    "event_type",
                    format!("the first event must be `{CONNECT}` or `{CREATE}`, got {other:?}"),
                ))
            }
        };
        if let Some(Value::Bool(_)) | None = first.get("background") {
        } else {
            return Err(invalid("background", "`background` must be a boolean"));
        }
        check_later(later)?;
        Ok(Self {
            events,
            batched,
            opening,
        })
    }

    /// What it asks for.
    pub fn opening(&self) -> &Opening {
        &self.opening
    }

    /// The model group a create names (after its last `models/`).
    pub fn group_name(&self) -> Option<&str> {
        match &self.opening {
            Opening::Create { model, .. } => Some(super::live::short_model(model)),
            Opening::Connect { .. } => None,
        }
    }

    /// The frame to send upstream: a connect's `id` (or a create's
    /// `previous_interaction_id`) replaced by `upstream_id`, a create's
    /// `model` by the deployment's.
    pub fn upstream_text(&self, dep: &Deployment, upstream_id: Option<&str>) -> String {
        let mut events = self.events.clone();
        if let Some(first) = events.first_mut() {
            match &self.opening {
                Opening::Connect { .. } => {
                    if let Some(id) = upstream_id {
                        first.insert("id".into(), Value::from(id));
                    }
                }
                Opening::Create { .. } => {
                    first.insert("model".into(), Value::from(dep.model.as_str()));
                    if let Some(id) = upstream_id {
                        first.insert("previous_interaction_id".into(), Value::from(id));
                    }
                }
            }
        }
        render(events, self.batched)
    }
}

/// What the gateway seals new upstream interaction ids with.
#[derive(Clone)]
pub struct Sealer {
    /// The gateway's keys.
    pub keys: Keys,
    /// Who the session's interactions belong to.
    pub owner: Owner,
    /// The deployment serving the session.
    pub deployment: String,
    /// When the session started (the ids' creation time).
    pub now_ms: u64,
}

/// Guards a relayed Live Interactions session after its first frame (see
/// the module docs).
pub struct InteractionGuard {
    sealer: Sealer,
    /// Upstream ids already shown to the client, and how.
    known: Vec<(String, String)>,
    redactor: Redactor,
}

impl core::fmt::Debug for InteractionGuard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InteractionGuard")
            .field("deployment", &self.sealer.deployment)
            .finish_non_exhaustive()
    }
}

impl InteractionGuard {
    /// A guard sealing ids with `sealer`; `connected` is the interaction
    /// the client connected to (upstream id, the sealed id it sent).
    pub fn new(sealer: Sealer, connected: Option<(String, String)>, redactor: Redactor) -> Self {
        Self {
            sealer,
            known: connected.into_iter().collect(),
            redactor,
        }
    }

    fn sealed(&mut self, upstream: &str) -> Option<String> {
        if let Some((_, sealed)) = self.known.iter().find(|(u, _)| u == upstream) {
            return Some(sealed.clone());
        }
        let s = &self.sealer;
        let sealed = s
            .keys
            .seal_upstream_id(
                Purpose::Interaction,
                s.owner,
                &s.deployment,
                upstream,
                s.now_ms,
            )
            .ok()?;
        self.known.push((upstream.to_owned(), sealed.clone()));
        Some(sealed)
    }

    /// Seals every interaction id in one server event; `true` if it changed.
    fn seal_event(&mut self, event: &mut Map<String, Value>) -> bool {
        let is_interaction_event = event_type(event).starts_with("interaction.");
        let mut changed = false;
        let mut seal_at = |guard: &mut Self, slot: Option<&mut Value>| {
            if let Some(value) = slot {
                if let Some(upstream) = value.as_str() {
                    // An id reelay cannot seal is not handed on.
                    *value = guard.sealed(upstream).map_or(Value::Null, Value::from);
                    changed = true;
                }
            }
        };
        seal_at(self, event.get_mut("interaction_id"));
        seal_at(self, event.get_mut("previous_interaction_id"));
        if is_interaction_event {
            seal_at(self, event.get_mut("id"));
        }
        if let Some(Value::Object(inner)) = event.get_mut("interaction") {
            seal_at(self, inner.get_mut("id"));
            seal_at(self, inner.get_mut("previous_interaction_id"));
        }
        changed
    }

    fn server_text(&mut self, text: &str) -> Verdict {
        let has_error = text.contains("\"error\"");
        if !text.contains("interaction") && !has_error {
            return Verdict::Pass;
        }
        let Ok(Value::Object(mut frame)) = serde_json::from_str::<Value>(text) else {
            return self.redacted(text);
        };
        let mut changed = false;
        if let Some(Value::Array(items)) = frame.get_mut("events") {
            for item in items.iter_mut() {
                if let Value::Object(event) = item {
                    changed |= self.seal_event(event);
                }
            }
        } else {
            changed |= self.seal_event(&mut frame);
        }
        let text = if changed {
            Value::Object(frame).to_string()
        } else {
            text.to_owned()
        };
        match self.redacted(&text) {
            Verdict::Pass if changed => Verdict::Rewrite(text),
            verdict => verdict,
        }
    }

    fn redacted(&self, text: &str) -> Verdict {
        if text.contains("\"error\"") {
            let clean = self.redactor.redact(text);
            if clean != text {
                return Verdict::Rewrite(clean);
            }
        }
        Verdict::Pass
    }

    fn client_bytes(bytes: &[u8]) -> Verdict {
        match events_of(bytes).and_then(|(events, batched)| {
            check_later(&events)?;
            Ok(render(events, batched))
        }) {
            Ok(text) => Verdict::Rewrite(text),
            Err(err) => Verdict::Refuse(err),
        }
    }
}

impl FrameGuard for InteractionGuard {
    fn client_text(&mut self, text: &str) -> Verdict {
        Self::client_bytes(text.as_bytes())
    }

    fn client_binary(&mut self, bytes: &[u8]) -> Verdict {
        Self::client_bytes(bytes)
    }

    fn upstream_text(&mut self, text: &str) -> Verdict {
        self.server_text(text)
    }

    fn upstream_binary(&mut self, bytes: &[u8]) -> Verdict {
        match core::str::from_utf8(bytes) {
            Ok(text) => match self.server_text(text) {
                Verdict::Pass => Verdict::Pass,
                verdict => verdict,
            },
            Err(_) => Verdict::Pass,
        }
    }

    fn refusal(&self, err: &ClientError) -> Option<String> {
        Some(error_event(err))
    }
}

/// A Live Interactions `error` server event carrying `err`.
pub fn error_event(err: &ClientError) -> String {
    serde_json::json!({
        "event_type": "error",
        "error": {"code": err.code.as_str(), "message": err.message},
    })
    .to_string()
}

// ---- auth tokens ----

/// A validated `POST …/auth_tokens` body: when the token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequest {
    /// Unix ms.
    pub expires_at_ms: u64,
}

impl TokenRequest {
    /// Parses `{"expire_time": RFC 3339}` (optional; every other field is
    /// refused) at `now_ms`.
    pub fn parse(body: &[u8], now_ms: u64) -> Result<Self, ClientError> {
        let body = super::live::token_body(body, MAX_TOKEN_BODY)?;
        if let Some(other) = body.keys().find(|k| *k != "expire_time") {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "unknown field `{other}` (an interaction auth token takes only `expire_time`)"
                ),
            )
            .with_param(other));
        }
        let expires_at_ms = match body.get("expire_time") {
            None | Some(Value::Null) => now_ms.saturating_add(DEFAULT_EXPIRE_MS),
            Some(Value::String(s)) => parse_rfc3339_ms(s).ok_or_else(|| {
                invalid(
                    "expire_time",
                    format!("`expire_time` is not an RFC 3339 time: {s:?}"),
                )
            })?,
            Some(other) => {
                return Err(invalid(
                    "expire_time",
                    format!(
                        "`expire_time` must be an RFC 3339 string, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        if expires_at_ms <= now_ms {
            return Err(invalid(
                "expire_time",
                "`expire_time` must be in the future",
            ));
        }
        if expires_at_ms > now_ms.saturating_add(MAX_EXPIRE_MS) {
            return Err(invalid(
                "expire_time",
                "`expire_time` must be at most 20 hours ahead",
            ));
        }
        Ok(Self { expires_at_ms })
    }
}

/// What an interaction auth token binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionTokenClaims {
    /// Unique id (the nonce it was sealed with): where its uses and its
    /// revocation are counted.
    pub id: [u8; NONCE_LEN],
    /// SHA-256 of the owning virtual key.
    pub key_hash: [u8; 32],
    /// Unix ms after which the token is dead.
    pub expires_at_ms: u64,
    /// The deployment holding the interaction.
    pub deployment: String,
    /// The upstream interaction id.
    pub interaction: String,
    /// The one origin the token works from (a minting browser token's).
    pub origin: Option<String>,
    /// Model rules narrowing the key's (a minting browser token's).
    pub models: Vec<String>,
    /// The visitor it acts for (a minting browser token's subject).
    pub subject: Option<[u8; SUBJECT_LEN]>,
}

impl InteractionTokenClaims {
    /// The claims of a token for the interaction `upstream` on
    /// `deployment`, minted by `key_hash` within what `minter` may grant.
    pub fn mint(
        request: &TokenRequest,
        key_hash: [u8; 32],
        nonce: [u8; NONCE_LEN],
        deployment: &str,
        upstream: &str,
        minter: Minter<'_>,
    ) -> Self {
        Self {
            id: nonce,
            key_hash,
            expires_at_ms: minter.clamp_expiry_ms(request.expires_at_ms),
            deployment: deployment.to_owned(),
            interaction: upstream.to_owned(),
            origin: minter.origin().map(str::to_owned),
            models: minter.models().to_vec(),
            subject: minter.subject(),
        }
    }

    /// Seals the claims into `lt_rl_…` (the Live token envelope).
    pub fn seal(&self, keys: &Keys) -> Result<String, seal::Error> {
        let mut plain = serde_json::json!({
            "t": TOKEN_KIND,
            "k": hex(&self.key_hash),
            "e": self.expires_at_ms,
            "d": self.deployment,
            "i": self.interaction,
        });
        if let Value::Object(map) = &mut plain {
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

    /// Opens a token (with or without `auth_tokens/`) at `now_ms`.
    pub fn open(keys: &Keys, token: &str, now_ms: u64) -> Result<Self, seal::Error> {
        let token = token.strip_prefix(seal::TOKEN_NAME_PREFIX).unwrap_or(token);
        let (id, plain) = keys.open_aead(Purpose::LiveToken, token)?;
        let claims = parse_claims(id, &plain).ok_or(seal::Error::Malformed)?;
        if now_ms >= claims.expires_at_ms {
            return Err(seal::Error::Expired(claims.expires_at_ms / 1000));
        }
        Ok(claims)
    }

    /// Who the interaction belongs to, as the token acts.
    pub fn owner(&self) -> Owner {
        Owner::of(&self.key_hash, self.subject)
    }

    /// The token's own model rules, if it carries any.
    pub fn narrowing(&self, groups: &AccessGroups) -> Result<Option<AccessPolicy>, ClientError> {
        if self.models.is_empty() {
            return Ok(None);
        }
        AccessPolicy::compile(&self.models, groups)
            .map(Some)
            .map_err(|e| {
                ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!(
                        "this auth token's model rules are not valid under the current config: {e}"
                    ),
                )
            })
    }

    /// Checks the origin binding against the request's `Origin`.
    pub fn check_origin(&self, request_origin: Option<&str>) -> Result<(), ClientError> {
        check_bound_origin(self.origin.as_deref(), request_origin, "auth token")
    }

    /// Checks the token was minted for `interaction` on `deployment`.
    pub fn check_interaction(
        &self,
        deployment: &str,
        interaction: &str,
    ) -> Result<(), ClientError> {
        if self.deployment == deployment && self.interaction == interaction {
            Ok(())
        } else {
            Err(ClientError::new(
                ErrorCode::InvalidLiveToken,
                "this auth token was minted for another interaction",
            )
            .with_param("id"))
        }
    }

    /// The token id as text (where its uses are counted).
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// One session started with the token.
    pub fn session_use(&self) -> TokenUse {
        TokenUse {
            id: self.id_hex(),
            max: TOKEN_MAX_USES,
            until_ms: self.expires_at_ms,
        }
    }
}

fn parse_claims(id: [u8; NONCE_LEN], plain: &[u8]) -> Option<InteractionTokenClaims> {
    let Value::Object(map) = serde_json::from_slice::<Value>(plain).ok()? else {
        return None;
    };
    if map.get("t")?.as_str()? != TOKEN_KIND {
        return None;
    }
    let key_hash: [u8; 32] = hex_decode(map.get("k")?.as_str()?)?.try_into().ok()?;
    let origin = match map.get("o") {
        None => None,
        Some(o) => Some(o.as_str()?.to_owned()),
    };
    let subject = match map.get("j") {
        None => None,
        Some(j) => Some(hex_decode(j.as_str()?)?.try_into().ok()?),
    };
    let models = match map.get("r") {
        None => Vec::new(),
        Some(r) => r
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
    };
    Some(InteractionTokenClaims {
        id,
        key_hash,
        expires_at_ms: map.get("e")?.as_u64()?,
        deployment: map.get("d")?.as_str()?.to_owned(),
        interaction: map.get("i")?.as_str()?.to_owned(),
        origin,
        models,
        subject,
    })
}

/// The `auth_tokens` answer: `{"auth_token":"auth_tokens/<token>","expires_at"}`.
pub fn token_answer(token: &str, claims: &InteractionTokenClaims) -> Value {
    serde_json::json!({
        "auth_token": format!("{}{token}", seal::TOKEN_NAME_PREFIX),
        "expires_at": crate::time::rfc3339(claims.expires_at_ms),
    })
}

#[cfg(test)]
mod tests;
