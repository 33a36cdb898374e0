//! GPT-Live WebSockets (OpenAI and Azure `/v1/live/sessions`): what reelay
//! decides about the three sockets of a GPT-Live session, as plans and
//! verdicts the host carries out.
//!
//! | socket | path | first frame | counted |
//! |---|---|---|---|
//! | primary | `GET /v1/live/sessions` | `session.start` naming the model (within [`START_TIMEOUT_MS`]) | one realtime session |
//! | sideband | `GET /v1/live/sessions/{live_…}/attach[?graceful_close=true]` | none (a `session.start` is refused) | no: the session was counted |
//! | fork | `GET /v1/live/sessions/{live_…}/fork` | `session.start` with fork overrides (`{}` is fine) | one realtime session |
//!
//! - [`socket_route`]: which socket a path names (with or without `/v1`).
//! - [`SessionStart`]: the first frame parsed into typed fields (unknown
//!   fields refused, naming them), its model and delegation model, and the
//!   re-serialized event sent upstream with the deployment's model — what
//!   goes up is what was checked.
//! - [`check_delegation`]: a delegation model must be allowed by the key's
//!   rules (it runs on the same upstream project, so it is not routed).
//! - [`plan`]: the upstream socket URL (`{base}/live/sessions…`, Azure
//!   `{api_base}/openai/v1/live/sessions…`) and its credential header.
//! - [`LiveGuard`]: every client frame is a JSON event of the types §2.3
//!   allows on that socket (`session.start` never after the first frame;
//!   `session.update` may change only `delegation` and `triggers`, typed and
//!   re-serialized, its delegation model authorized); server
//!   `session.started` / `session.updated` / `session.closed` get the
//!   session id sealed (`live_…`, for this deployment and owner) and the
//!   model group for the deployment's model; `error` events are redacted;
//!   `session.usage.updated` / `session.closed` usage seconds are kept for
//!   settling minutes ([`session_cost`]).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::ws::{Verdict, MAX_GUARDED_FRAME};
use crate::access::AccessPolicy;
use crate::config::policy::Prices;
use crate::config::Deployment;
use crate::errors::{ClientError, ErrorCode};
use crate::plan::Auth;
use crate::provider;
use crate::quota::Cost;
use crate::redact::Redactor;
use crate::seal::{Keys, Owner, Purpose};

/// How long a primary or fork socket may wait before its `session.start`.
pub const START_TIMEOUT_MS: u64 = 10 * 1000;

/// Which GPT-Live socket a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveSocket {
    /// `GET /v1/live/sessions`: a new session.
    Primary,
    /// `GET /v1/live/sessions/{id}/attach`: a sideband on a session.
    Attach {
        /// The session id as the client sent it (reelay's sealed `live_…`).
        session_id: String,
    },
    /// `GET /v1/live/sessions/{id}/fork`: a new session forked from one.
    Fork {
        /// The session id as the client sent it (reelay's sealed `live_…`).
        session_id: String,
    },
}

impl LiveSocket {
    /// What the socket's frames may be.
    pub fn kind(&self) -> SocketKind {
        match self {
            Self::Primary => SocketKind::Primary,
            Self::Attach { .. } => SocketKind::Sideband,
            Self::Fork { .. } => SocketKind::Fork,
        }
    }

    /// Whether this path also serves a plain POST (the REST create and
    /// fork): only an upgrade is a socket there.
    pub fn shares_a_post(&self) -> bool {
        !matches!(self, Self::Attach { .. })
    }
}

/// The three kinds of GPT-Live socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Starts a session with `session.start {session:{model,…}}`.
    Primary,
    /// Attaches to a running session; never sends `session.start`.
    Sideband,
    /// Starts a forked session with `session.start {session:{…overrides}}`.
    Fork,
}

/// The GPT-Live socket `segments` (the path split on `/`, empty segments
/// dropped) names: `live/sessions`, `live/sessions/{id}/attach`,
/// `live/sessions/{id}/fork`, each with or without a leading `v1`.
pub fn socket_route(segments: &[&str]) -> Option<LiveSocket> {
    let rest = match segments {
        ["v1", rest @ ..] => rest,
        all => all,
    };
    match rest {
        ["live", "sessions"] => Some(LiveSocket::Primary),
        ["live", "sessions", id, "attach"] => Some(LiveSocket::Attach {
            session_id: (*id).into(),
        }),
        ["live", "sessions", id, "fork"] => Some(LiveSocket::Fork {
            session_id: (*id).into(),
        }),
        _ => None,
    }
}

/// Whether an attach asked for `?graceful_close=true` (the only query a
/// GPT-Live socket takes; anything else is ignored and never sent up).
pub fn graceful_close(query: &str) -> bool {
    super::ws::query_pairs(query)
        .unwrap_or_default()
        .iter()
        .any(|(k, v)| k == "graceful_close" && v == "true")
}

/// The refusal of a socket whose `session.start` did not come in time.
pub fn start_timed_out() -> ClientError {
    ClientError::new(
        ErrorCode::InvalidRequest,
        format!(
            "no `session.start` event arrived within {} s of connecting; send it first",
            START_TIMEOUT_MS / 1000
        ),
    )
    .with_param("type")
}

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    ClientError::new(ErrorCode::InvalidRequest, message.into()).with_param(param)
}

/// Reads a present field (even `null`) as `Some`: with `#[serde(default)]`
/// an absent field stays `None`, so `Option<Option<T>>` tells "absent"
/// from "null".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Who handles tasks the Live model delegates (`client`, `responses`,
/// `decisions`); only the model it names matters to reelay, the rest is
/// passed on as parsed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    #[serde(rename = "type")]
    kind: DelegationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledgement_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    responses: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decisions: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum DelegationKind {
    Client,
    Responses,
    Decisions,
}

impl Delegation {
    /// The backend models it names, with their `param` under `at`.
    fn models(&self, at: &str) -> Result<Vec<(String, String)>, ClientError> {
        let mut out = Vec::new();
        for (name, config) in [
            ("responses", &self.responses),
            ("decisions", &self.decisions),
        ] {
            let Some(config) = config else { continue };
            let param = format!("{at}.delegation.{name}.model");
            match config.get("model") {
                None | Some(Value::Null) => {}
                Some(Value::String(model)) => out.push((param, model.clone())),
                Some(other) => {
                    let got = crate::json::type_name(other);
                    return Err(invalid(
                        &param,
                        format!("`{param}` must be a string, got {got}"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The `session` of a `session.start` (§2.2 fields a WebSocket takes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StartSession {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audio: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<Map<String, Value>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    delegation: Option<Option<Delegation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    triggers: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    safety_identifier: Option<String>,
}

/// The `session.start` event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StartEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    session: StartSession,
}

/// The `session` of a `session.update`: only these two may change.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UpdateSession {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    delegation: Option<Option<Delegation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    triggers: Option<Vec<Value>>,
}

/// The `session.update` event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UpdateEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    session: UpdateSession,
}

const SESSION_START: &str = "session.start";
const SESSION_UPDATE: &str = "session.update";

/// Fields a fork's `session.start` may not carry (they belong to the
/// stored session).
const NOT_ON_A_FORK: &[&str] = &[
    "model",
    "instructions",
    "input",
    "triggers",
    "safety_identifier",
];

/// A checked `session.start` (the first frame of a primary or fork socket).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStart {
    event: StartEvent,
}

impl SessionStart {
    /// Parses the first frame of a `kind` socket: a JSON `session.start`
    /// whose `session` holds only the fields that socket takes (a primary
    /// needs `model`; a fork takes `audio`, `client`, `delegation`, `store`).
    pub fn parse(frame: &[u8], kind: SocketKind) -> Result<Self, ClientError> {
        if frame.len() > MAX_GUARDED_FRAME {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("a client event is limited to {MAX_GUARDED_FRAME} bytes"),
            ));
        }
        let kind_of = event_type(frame)?;
        if kind_of != SESSION_START {
            return Err(invalid(
                "type",
                format!("the first event must be `session.start`, got {kind_of:?}"),
            ));
        }
        let event: StartEvent = serde_json::from_slice(frame)
            .map_err(|e| invalid("session", format!("`session.start` is not valid: {e}")))?;
        match kind {
            SocketKind::Primary => match event.session.model.as_deref() {
                Some(m) if !m.trim().is_empty() => {}
                _ => {
                    return Err(invalid(
                        "session.model",
                        "`session.model` is required: it names the Live model",
                    ))
                }
            },
            SocketKind::Fork => {
                let fields = serde_json::to_value(&event.session).unwrap_or(Value::Null);
                if let Some(field) = NOT_ON_A_FORK.iter().find(|f| fields.get(**f).is_some()) {
                    let param = format!("session.{field}");
                    return Err(invalid(
                        &param,
                        format!("`{param}` cannot be set on a fork: it keeps the stored session's"),
                    ));
                }
            }
            SocketKind::Sideband => {
                return Err(invalid(
                    "type",
                    "a sideband attaches to a running session: it never sends `session.start`",
                ))
            }
        }
        Ok(Self { event })
    }

    /// The model group the session names (primary sockets).
    pub fn model(&self) -> Option<&str> {
        self.event.session.model.as_deref()
    }

    /// The delegation models it names, as `(param, model)`.
    pub fn delegation_models(&self) -> Result<Vec<(String, String)>, ClientError> {
        match &self.event.session.delegation {
            Some(Some(d)) => d.models("session"),
            _ => Ok(Vec::new()),
        }
    }

    /// The event to send upstream, as checked, with the deployment's model
    /// in place of the group's (primary sockets).
    pub fn to_upstream(&self, upstream_model: &str) -> String {
        let mut event = self.event.clone();
        if event.session.model.is_some() {
            event.session.model = Some(upstream_model.into());
        }
        serde_json::to_string(&event).unwrap_or_default()
    }
}

/// Refuses a delegation model the key (`policy`) may not use.
pub fn check_delegation(
    policy: &AccessPolicy,
    models: &[(String, String)],
) -> Result<(), ClientError> {
    for (param, model) in models {
        if !policy.allows(model) {
            return Err(ClientError::new(
                ErrorCode::ModelAccessDenied,
                format!("this key may not use model {model:?} (named by `{param}`)"),
            )
            .with_param(param));
        }
    }
    Ok(())
}

/// A client event's `type`, read with escapes decoded (a repeated `type`
/// is an error).
#[derive(Deserialize)]
struct EventType<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

/// The `type` of a client frame, which must be a JSON object.
fn event_type(frame: &[u8]) -> Result<String, ClientError> {
    if frame.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("type", "a client event must be a JSON object"));
    }
    match serde_json::from_slice::<EventType<'_>>(frame) {
        Ok(event) => Ok(event.kind.into_owned()),
        Err(e) if e.is_syntax() || e.is_eof() => Err(ClientError::new(
            ErrorCode::InvalidJson,
            format!("a client event must be a JSON object: {e}"),
        )),
        Err(e) => Err(invalid(
            "type",
            format!("a client event must be a JSON object with one string `type`: {e}"),
        )),
    }
}

/// Client events every GPT-Live socket relays (§2.3), `session.start`
/// aside (the first frame only) and `session.update` (checked).
const COMMON_EVENTS: &[&str] = &[
    "session.input_audio.mute",
    "session.input_audio.unmute",
    "session.output_audio.fixture.play",
    "session.instructions.append",
    "session.thinking.append",
    "session.commentary.append",
    "decision.create",
    "decision.item.create",
    "decision.item.delete",
    "response.item.create",
    "response.create",
    "session.close",
];

/// Whether a `kind` socket relays client events of type `kind_of`.
fn allowed(kind: SocketKind, kind_of: &str) -> bool {
    COMMON_EVENTS.contains(&kind_of)
        || match kind {
            SocketKind::Primary | SocketKind::Fork => kind_of == "session.input_audio.append",
            SocketKind::Sideband => kind_of == "transport.dtmf.send",
        }
}

/// The upstream socket of a GPT-Live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePlan {
    /// `http(s)://…` URL (the host upgrades it).
    pub url: String,
    /// How the deployment's credential is sent.
    pub auth: Auth,
}

/// Where `socket` opens upstream on `dep`, for the upstream session id
/// `upstream_id` (attach and fork) and `graceful_close` (attach).
pub fn plan(
    dep: &Deployment,
    kind: SocketKind,
    upstream_id: Option<&str>,
    graceful_close: bool,
) -> Result<LivePlan, ClientError> {
    let api = provider::openai_api(dep).ok_or_else(|| {
        ClientError::new(
            ErrorCode::UnsupportedValue,
            format!(
                "a {} deployment has no GPT-Live API (only OpenAI and Azure serve it)",
                dep.provider.as_str()
            ),
        )
        .with_param("session.model")
    })?;
    let base = format!("{}/live/sessions", api.base);
    let id = || super::ws::query_escape(upstream_id.unwrap_or_default());
    let url = match kind {
        SocketKind::Primary => base,
        SocketKind::Sideband if graceful_close => {
            format!("{base}/{}/attach?graceful_close=true", id())
        }
        SocketKind::Sideband => format!("{base}/{}/attach", id()),
        SocketKind::Fork => format!("{base}/{}/fork", id()),
    };
    Ok(LivePlan {
        url,
        auth: api.auth,
    })
}

/// The cost of a GPT-Live session on a deployment priced `prices` that
/// lasted `seconds` upstream: the session, and every started minute at
/// `realtime_per_minute`.
pub fn session_cost(prices: &Prices, seconds: u64) -> Cost {
    let mut cost = prices.realtime_session_cost();
    let minutes = seconds.div_ceil(60);
    let per_minute = prices.realtime_per_minute.unwrap_or(0);
    cost.spend_micros = cost
        .spend_micros
        .saturating_add(minutes.saturating_mul(per_minute));
    cost
}

/// Keeps a relayed GPT-Live socket to what its caller was allowed, and
/// hands the client reelay's sealed session ids.
#[derive(Debug)]
pub struct LiveGuard {
    kind: SocketKind,
    group: String,
    upstream_model: String,
    policy: AccessPolicy,
    keys: Keys,
    owner: Owner,
    deployment: String,
    now_ms: u64,
    redactor: Redactor,
    /// The most usage seconds the upstream reported.
    seconds: Cell<Option<u64>>,
}

/// What a [`LiveGuard`] seals ids for.
#[derive(Debug, Clone)]
pub struct SealFor {
    /// The sealing keys.
    pub keys: Keys,
    /// Who the session belongs to.
    pub owner: Owner,
    /// The deployment holding it.
    pub deployment: String,
    /// Now, Unix ms (the sealed id's creation time).
    pub now_ms: u64,
}

impl LiveGuard {
    /// A guard for a `kind` socket of `group` served as `upstream_model`,
    /// for a caller with `policy`, sealing ids with `seal`.
    pub fn new(
        kind: SocketKind,
        group: &str,
        upstream_model: &str,
        policy: AccessPolicy,
        seal: SealFor,
    ) -> Self {
        Self {
            kind,
            group: group.into(),
            upstream_model: upstream_model.into(),
            policy,
            keys: seal.keys,
            owner: seal.owner,
            deployment: seal.deployment,
            now_ms: seal.now_ms,
            redactor: Redactor::new(),
            seconds: Cell::new(None),
        }
    }

    /// The guard, removing what `redactor` knows from upstream errors.
    #[must_use]
    pub fn redacting(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The most usage seconds the upstream reported, if it did.
    pub fn usage_seconds(&self) -> Option<u64> {
        self.seconds.get()
    }

    /// A text frame from the client: a JSON event of an allowed type, else
    /// refused and never relayed. `session.update` goes up re-serialized
    /// from its typed, checked form.
    pub fn client_text(&self, text: &str) -> Verdict {
        self.client_frame(text.as_bytes())
    }

    /// A binary frame from the client: GPT-Live events are JSON (audio is
    /// base64 inside them), so a binary frame is read as an event too and
    /// goes up as text.
    pub fn client_binary(&self, bytes: &[u8]) -> Verdict {
        match self.client_frame(bytes) {
            Verdict::Pass => match core::str::from_utf8(bytes) {
                Ok(text) => Verdict::Rewrite(text.into()),
                Err(_) => Verdict::Refuse(invalid("type", "a client event must be UTF-8 JSON")),
            },
            other => other,
        }
    }

    fn client_frame(&self, frame: &[u8]) -> Verdict {
        if frame.len() > MAX_GUARDED_FRAME {
            return Verdict::Refuse(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("a client event is limited to {MAX_GUARDED_FRAME} bytes"),
            ));
        }
        let kind_of = match event_type(frame) {
            Ok(kind_of) => kind_of,
            Err(e) => return Verdict::Refuse(e),
        };
        match kind_of.as_str() {
            SESSION_UPDATE => self.session_update(frame),
            SESSION_START => Verdict::Refuse(invalid(
                "type",
                match self.kind {
                    SocketKind::Sideband => {
                        "a sideband attaches to a running session: it never sends `session.start`"
                    }
                    _ => "`session.start` is sent once, as the first event",
                },
            )),
            other if allowed(self.kind, other) => Verdict::Pass,
            other => Verdict::Refuse(invalid(
                "type",
                format!("{other:?} is not a client event this GPT-Live socket relays"),
            )),
        }
    }

    fn session_update(&self, frame: &[u8]) -> Verdict {
        let event: UpdateEvent = match serde_json::from_slice(frame) {
            Ok(event) => event,
            Err(e) => {
                return Verdict::Refuse(invalid(
                    "session",
                    format!("`session.update` may change only `delegation` and `triggers`: {e}"),
                ))
            }
        };
        if let Some(Some(delegation)) = &event.session.delegation {
            let checked = delegation
                .models("session")
                .and_then(|models| check_delegation(&self.policy, &models));
            if let Err(e) = checked {
                return Verdict::Refuse(e);
            }
        }
        match serde_json::to_string(&event) {
            Ok(text) => Verdict::Rewrite(text),
            Err(_) => Verdict::Refuse(invalid("session", "`session.update` is not valid")),
        }
    }

    /// A text frame from the upstream: session events get the sealed
    /// session id and the model group; usage seconds are noted; then any
    /// event carrying an `error` is redacted (whatever else it is).
    pub fn upstream_text(&self, text: &str) -> Verdict {
        let rewritten = self.session_event(text);
        let out = rewritten.as_deref().unwrap_or(text);
        if out.contains("\"error\"") {
            let clean = self.redactor.redact(out);
            if clean != out {
                return Verdict::Rewrite(clean);
            }
        }
        match rewritten {
            Some(text) => Verdict::Rewrite(text),
            None => Verdict::Pass,
        }
    }

    /// The session event with its id sealed and the model group, if `text`
    /// is one (usage noted on the way).
    fn session_event(&self, text: &str) -> Option<String> {
        if !text.contains("\"session.") {
            return None;
        }
        let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let kind_of = event.get("type").and_then(Value::as_str).unwrap_or("");
        if matches!(kind_of, "session.usage.updated" | "session.closed") {
            self.note_usage(&event);
        }
        if !matches!(
            kind_of,
            "session.started" | "session.updated" | "session.closed"
        ) {
            return None;
        }
        let Some(Value::Object(session)) = event.get_mut("session") else {
            return None;
        };
        self.rewrite_session(session);
        Some(Value::Object(event).to_string())
    }

    fn note_usage(&self, event: &Map<String, Value>) {
        let seconds = event
            .get("usage")
            .and_then(|u| u.get("seconds"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0);
        if let Some(seconds) = seconds {
            // Whole seconds, rounded up (a started second is used).
            let floor = seconds as u64;
            let whole = floor.saturating_add(u64::from((floor as f64) < seconds));
            let most = self.seconds.get().map_or(whole, |s| s.max(whole));
            self.seconds.set(Some(most));
        }
    }

    fn rewrite_session(&self, session: &mut Map<String, Value>) {
        if let Some(Value::String(id)) = session.get("id") {
            let sealed = self
                .keys
                .seal_upstream_id(
                    Purpose::LiveSession,
                    self.owner,
                    &self.deployment,
                    id,
                    self.now_ms,
                )
                .map_or(Value::Null, Value::String);
            session.insert("id".into(), sealed);
        }
        if session.get("model").and_then(Value::as_str) == Some(self.upstream_model.as_str()) {
            session.insert("model".into(), Value::String(self.group.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessGroups;
    use crate::config::Provider;
    use crate::seal::OWNER_LEN;
    use serde_json::json;

    fn dep(provider: Provider) -> Deployment {
        Deployment {
            id: "live-1".into(),
            provider,
            model: "gpt-live-1.1-2026".into(),
            api_base: "http://127.0.0.1:9".into(),
            credential: "K".into(),
            weight: 1,
            video_seconds: Vec::new(),
            timeout_ms: 1000,
            vertex: None,
            prices: Prices::default(),
        }
    }

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &AccessGroups::default()).unwrap()
    }

    fn owner() -> Owner {
        Owner::key([3u8; OWNER_LEN])
    }

    fn guard(kind: SocketKind, rules: &[&str]) -> LiveGuard {
        LiveGuard::new(
            kind,
            "gpt-live",
            "gpt-live-1.1-2026",
            policy(rules),
            SealFor {
                keys: keys(),
                owner: owner(),
                deployment: "live-1".into(),
                now_ms: 5,
            },
        )
    }

    fn refused(v: Verdict) -> ClientError {
        match v {
            Verdict::Refuse(e) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn routes() {
        assert_eq!(
            socket_route(&["v1", "live", "sessions"]),
            Some(LiveSocket::Primary)
        );
        assert_eq!(
            socket_route(&["live", "sessions", "live_x", "attach"]),
            Some(LiveSocket::Attach {
                session_id: "live_x".into()
            })
        );
        assert_eq!(
            socket_route(&["v1", "live", "sessions", "live_x", "fork"]),
            Some(LiveSocket::Fork {
                session_id: "live_x".into()
            })
        );
        assert_eq!(socket_route(&["v1", "live", "sessions", "live_x"]), None);
        assert_eq!(socket_route(&["v1", "realtime"]), None);
        assert!(graceful_close("graceful_close=true"));
        assert!(!graceful_close("graceful_close=1&x=true"));
    }

    #[test]
    fn session_start_is_typed_and_rewritten() {
        let frame = br#"{"type":"session.start","event_id":"e1","session":{"model":"gpt-live",
            "instructions":"brief","audio":{"format":{"type":"audio/pcm","rate":24000}},
            "delegation":{"type":"responses","responses":{"model":"gpt-5.6"}},"store":true}}"#;
        let start = SessionStart::parse(frame, SocketKind::Primary).unwrap();
        assert_eq!(start.model(), Some("gpt-live"));
        assert_eq!(
            start.delegation_models().unwrap(),
            [(
                "session.delegation.responses.model".to_string(),
                "gpt-5.6".to_string()
            )]
        );
        let up: Value = serde_json::from_str(&start.to_upstream("gpt-live-1.1-2026")).unwrap();
        assert_eq!(up["session"]["model"], "gpt-live-1.1-2026");
        assert_eq!(up["session"]["store"], true);
        assert_eq!(up["event_id"], "e1");
        // Unknown fields, WebRTC-only fields, a missing model, another type.
        for (frame, param) in [
            (
                r#"{"type":"session.start","session":{"model":"m","wake_policy":{}}}"#,
                "session",
            ),
            (r#"{"type":"session.start","session":{}}"#, "session.model"),
            (r#"{"type":"session.update","session":{}}"#, "type"),
            (
                r#"{"type":"session.start","session":{"model":"m"},"x":1}"#,
                "session",
            ),
        ] {
            let e = SessionStart::parse(frame.as_bytes(), SocketKind::Primary).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{frame}");
        }
        assert_eq!(
            SessionStart::parse(b"{nope", SocketKind::Primary)
                .unwrap_err()
                .code,
            ErrorCode::InvalidJson
        );
        // An escaped type is read as what it says.
        assert!(SessionStart::parse(
            br#"{"type":"session\u002estart","session":{"model":"m"}}"#,
            SocketKind::Primary
        )
        .is_ok());
    }

    #[test]
    fn fork_starts_take_overrides_only() {
        let fork = SessionStart::parse(
            br#"{"type":"session.start","session":{}}"#,
            SocketKind::Fork,
        )
        .unwrap();
        assert_eq!(fork.model(), None);
        let up: Value = serde_json::from_str(&fork.to_upstream("x")).unwrap();
        assert_eq!(up, json!({"type": "session.start", "session": {}}));
        let e = SessionStart::parse(
            br#"{"type":"session.start","session":{"model":"gpt-5"}}"#,
            SocketKind::Fork,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("session.model"));
        assert!(SessionStart::parse(
            br#"{"type":"session.start","session":{"model":"m"}}"#,
            SocketKind::Sideband
        )
        .is_err());
    }

    #[test]
    fn delegation_models_are_authorized() {
        let p = policy(&["gpt-live", "gpt-5.6"]);
        let ok = [("p".to_string(), "gpt-5.6".to_string())];
        assert!(check_delegation(&p, &ok).is_ok());
        let no = [("p".to_string(), "o9".to_string())];
        let e = check_delegation(&p, &no).unwrap_err();
        assert_eq!(e.code, ErrorCode::ModelAccessDenied);
        assert_eq!(e.param.as_deref(), Some("p"));
    }

    #[test]
    fn the_guard_relays_only_the_events_of_its_socket() {
        let g = guard(SocketKind::Primary, &["gpt-live"]);
        assert_eq!(
            g.client_text(r#"{"type":"session.input_audio.append","audio":"AAAA"}"#),
            Verdict::Pass
        );
        assert_eq!(g.client_text(r#"{"type":"session.close"}"#), Verdict::Pass);
        for (text, code) in [
            ("not json", ErrorCode::InvalidRequest),
            ("{not json", ErrorCode::InvalidJson),
            (r#"{"type":"response.cancel"}"#, ErrorCode::InvalidRequest),
            (
                r#"{"type":"transport.dtmf.send","event":"1"}"#,
                ErrorCode::InvalidRequest,
            ),
            (
                r#"{"type":"session.start","session":{"model":"m"}}"#,
                ErrorCode::InvalidRequest,
            ),
            (
                r#"{"type":"session\u002estart","session":{"model":"m"}}"#,
                ErrorCode::InvalidRequest,
            ),
            (
                r#"{"type":"session.close","type":"session.start"}"#,
                ErrorCode::InvalidRequest,
            ),
            (r#"["session.close"]"#, ErrorCode::InvalidRequest),
        ] {
            assert_eq!(refused(g.client_text(text)).code, code, "{text}");
        }
        let side = guard(SocketKind::Sideband, &["gpt-live"]);
        assert_eq!(
            side.client_text(r#"{"type":"transport.dtmf.send","event":"1"}"#),
            Verdict::Pass
        );
        refused(side.client_text(r#"{"type":"session.input_audio.append","audio":"AA"}"#));
        // Binary frames are events too.
        assert_eq!(
            g.client_binary(br#"{"type":"session.close"}"#),
            Verdict::Rewrite(r#"{"type":"session.close"}"#.into())
        );
        refused(g.client_binary(&[0, 159, 146, 150]));
    }

    #[test]
    fn session_updates_change_delegation_and_triggers_only() {
        let g = guard(SocketKind::Primary, &["gpt-live", "gpt-5.6"]);
        let Verdict::Rewrite(t) = g.client_text(
            r#"{"type":"session\u002eupdate","session":{"delegation":{"type":"responses","responses":{"model":"gpt-5.6"}},"triggers":[]}}"#,
        ) else {
            panic!("expected the checked event")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["type"], "session.update");
        assert_eq!(v["session"]["delegation"]["responses"]["model"], "gpt-5.6");
        let Verdict::Rewrite(t) =
            g.client_text(r#"{"type":"session.update","session":{"delegation":null}}"#)
        else {
            panic!("expected the checked event")
        };
        assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap()["session"],
            json!({"delegation": null})
        );
        let e = refused(g.client_text(
            r#"{"type":"session.update","session":{"delegation":{"type":"decisions","decisions":{"model":"o9"}}}}"#,
        ));
        assert_eq!(e.code, ErrorCode::ModelAccessDenied);
        for text in [
            r#"{"type":"session.update","session":{"model":"gpt-5"}}"#,
            r#"{"type":"session.update","session":{"instructions":"x"}}"#,
            r#"{"type":"session.update","session":{"\u006dodel":"gpt-5"}}"#,
            r#"{"type":"session.update"}"#,
        ] {
            assert_eq!(
                refused(g.client_text(text)).param.as_deref(),
                Some("session"),
                "{text}"
            );
        }
    }

    #[test]
    fn server_session_events_carry_sealed_ids() {
        let g = guard(SocketKind::Primary, &["gpt-live"]);
        let Verdict::Rewrite(t) = g.upstream_text(
            r#"{"type":"session.started","event_id":"ev","session":{"id":"live_up_1","model":"gpt-live-1.1-2026","status":"active"}}"#,
        ) else {
            panic!("expected a rewrite")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        let id = v["session"]["id"].as_str().unwrap();
        assert!(id.starts_with("live_") && id != "live_up_1", "{id}");
        assert_eq!(v["session"]["model"], "gpt-live");
        let opened = keys()
            .open_upstream_id(Purpose::LiveSession, id, &owner())
            .unwrap();
        assert_eq!(
            (opened.deployment.as_str(), opened.id.as_str()),
            ("live-1", "live_up_1")
        );
        assert!(!v.to_string().contains("live_up_1"));
        // Usage: the most seconds reported, rounded up.
        assert_eq!(g.usage_seconds(), None);
        assert_eq!(
            g.upstream_text(r#"{"type":"session.usage.updated","usage":{"seconds":61.5}}"#),
            Verdict::Pass
        );
        assert_eq!(g.usage_seconds(), Some(62));
        let Verdict::Rewrite(_) = g.upstream_text(
            r#"{"type":"session.closed","reason":"close_requested","session":{"id":"live_up_1"},"usage":{"seconds":90}}"#,
        ) else {
            panic!("expected a rewrite")
        };
        assert_eq!(g.usage_seconds(), Some(90));
        assert_eq!(
            g.upstream_text(r#"{"type":"session.output_audio.delta","delta":"AAAA"}"#),
            Verdict::Pass
        );
    }

    #[test]
    fn upstream_errors_are_redacted() {
        let secret = "0123456789abcdef0123456789abcdef";
        let g = guard(SocketKind::Primary, &[]).redacting(Redactor::of([secret]));
        let Verdict::Rewrite(t) = g.upstream_text(&format!(
            r#"{{"type":"error","error":{{"message":"bad key {secret}"}}}}"#
        )) else {
            panic!("expected a rewrite")
        };
        assert!(!t.contains(secret));
        // A session event that also carries an error: sealed and redacted.
        let Verdict::Rewrite(t) = g.upstream_text(&format!(
            r#"{{"type":"session.updated","session":{{"id":"live_up_9"}},"error":"{secret}"}}"#
        )) else {
            panic!("expected a rewrite")
        };
        assert!(!t.contains(secret) && !t.contains("live_up_9"), "{t}");
    }

    #[test]
    fn plans_and_costs() {
        let p = plan(&dep(Provider::OpenAi), SocketKind::Primary, None, false).unwrap();
        assert_eq!(p.url, "http://127.0.0.1:9/v1/live/sessions");
        assert_eq!(p.auth, Auth::Bearer);
        let p = plan(
            &dep(Provider::Azure),
            SocketKind::Sideband,
            Some("live_1"),
            true,
        )
        .unwrap();
        assert_eq!(
            p.url,
            "http://127.0.0.1:9/openai/v1/live/sessions/live_1/attach?graceful_close=true"
        );
        assert_eq!(p.auth, Auth::AzureApiKey);
        let p = plan(
            &dep(Provider::OpenAi),
            SocketKind::Fork,
            Some("live_1"),
            false,
        )
        .unwrap();
        assert!(p.url.ends_with("/v1/live/sessions/live_1/fork"));
        assert!(plan(&dep(Provider::Gemini), SocketKind::Primary, None, false).is_err());
        let prices = Prices {
            realtime_per_session: Some(10_000),
            realtime_per_minute: Some(60_000),
            ..Prices::default()
        };
        assert_eq!(session_cost(&prices, 0).spend_micros, 10_000);
        assert_eq!(session_cost(&prices, 61).spend_micros, 130_000);
        assert_eq!(session_cost(&prices, 61).realtime_sessions, 1);
        assert_eq!(session_cost(&Prices::default(), 600).spend_micros, 0);
    }
}
