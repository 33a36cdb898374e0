//! WebSocket relaying decisions shared by every realtime socket (OpenAI
//! Realtime, Gemini Live, Vertex Live), and the OpenAI / Azure
//! `GET /v1/realtime` plans.
//!
//! What a host needs before it upgrades a client socket:
//! - [`Subprotocols`]: the offered `Sec-WebSocket-Protocol` list — a browser
//!   key in `openai-insecure-api-key.<key>`, and whether to answer
//!   `realtime` (only a protocol the client offered is ever answered);
//! - [`WsQuery`]: `?model=`, `?intent=transcription` and the `?call_id=`
//!   sideband attach (reelay's sealed `rtc_…` id);
//! - [`plan_with_key`], [`plan_with_token`], [`plan_sideband`]: the upstream
//!   socket — URL (`{api_base}/v1/realtime?model=<deployment model>`, Azure
//!   GA `{api_base}/openai/v1/realtime?model=<deployment>`, or
//!   `?call_id=<upstream rtc id>`) and credential (the deployment's own key,
//!   or the ephemeral key sealed in a reelay token);
//! - [`SessionGuard`]: while relaying, `session.update` frames may only
//!   repeat the session's model (rewritten to the deployment's), and the
//!   upstream's `session.created` / `session.updated` show the model group,
//!   never the deployment's model;
//! - [`close_for`], [`error_event`], [`relayable_close`], [`close_reason`]:
//!   how refusals and closes look on the wire. A refused socket is accepted
//!   and closed at once — `1008` (policy) for every 4xx refusal, `1011` for
//!   gateway and upstream failures — with `"<code>: <message>"` as the
//!   reason (at most 123 bytes); OpenAI clients first get one `error` event
//!   carrying the same JSON error as the HTTP routes. Browsers cannot read
//!   an HTTP refusal of an upgrade, but they do see close codes and reasons.

use alloc::borrow::{Cow, ToOwned};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::calls::OpenedCall;
use super::session::{invalid, model_at, set_model};
use super::token::{TokenClaims, UpstreamKey};
use super::{check_provider, deployment_auth, realtime_base, SessionKind};
use crate::access::AccessPolicy;
#[cfg(test)]
use crate::config::Provider;
use crate::config::{Config, Deployment, ModelGroup};
use crate::encoding::percent_decode;
use crate::errors::{ClientError, Dialect, ErrorCode};
use crate::json::type_name;
use crate::plan::Auth;
use crate::provider;
use crate::redact::Redactor;

/// The browser subprotocol carrying a key: `openai-insecure-api-key.<key>`.
pub const INSECURE_KEY_PROTOCOL: &str = "openai-insecure-api-key.";
/// The subprotocol OpenAI's browser clients offer and expect back.
pub const REALTIME_PROTOCOL: &str = "realtime";
/// Longest close reason a WebSocket close frame carries (RFC 6455 §5.5).
pub const MAX_CLOSE_REASON: usize = 123;
/// Normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Policy violation: authentication, access, quota refusals.
pub const CLOSE_POLICY: u16 = 1008;
/// Invalid frame payload data (a setup frame that is not valid JSON).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Internal error: gateway and upstream failures.
pub const CLOSE_INTERNAL: u16 = 1011;
/// Longest client event the guard reads (the Workers runtime receives at
/// most 1 MiB per message); longer text frames are refused.
pub const MAX_GUARDED_FRAME: usize = 1024 * 1024;

/// What a client offered in `Sec-WebSocket-Protocol`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Subprotocols {
    /// The key from `openai-insecure-api-key.<key>`, if offered.
    pub key: Option<String>,
    /// The protocol to answer with (`realtime` when offered), else none.
    pub answer: Option<&'static str>,
}

impl core::fmt::Debug for Subprotocols {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Subprotocols")
            .field("key", &self.key.as_ref().map(|_| ".."))
            .field("answer", &self.answer)
            .finish()
    }
}

impl Subprotocols {
    /// Parses a `Sec-WebSocket-Protocol` header (comma-separated tokens).
    pub fn parse(header: Option<&str>) -> Self {
        let mut out = Self::default();
        for token in header.unwrap_or("").split(',').map(str::trim) {
            if let Some(key) = token.strip_prefix(INSECURE_KEY_PROTOCOL) {
                if !key.is_empty() && out.key.is_none() {
                    out.key = Some(key.to_owned());
                }
            } else if token == REALTIME_PROTOCOL {
                out.answer = Some(REALTIME_PROTOCOL);
            }
        }
        out
    }
}

/// The query of `GET /v1/realtime`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WsQuery {
    /// `?model=` (a model group name).
    pub model: Option<String>,
    /// `?intent=transcription` makes a transcription session.
    pub kind: Option<SessionKind>,
    /// `?call_id=` (reelay's sealed call id): a sideband attach.
    pub call_id: Option<String>,
}

/// Splits a raw query string into decoded pairs (`+` is a space, as in
/// forms); `None` for malformed percent-encoding.
pub fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                percent_decode(&k.replace('+', " "))?,
                percent_decode(&v.replace('+', " "))?,
            ))
        })
        .collect()
}

impl WsQuery {
    /// Parses the raw query string (without `?`).
    pub fn parse(query: &str) -> Result<Self, ClientError> {
        let pairs = query_pairs(query).ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                "the query string is not valid percent-encoding",
            )
        })?;
        let mut out = Self::default();
        for (name, value) in pairs {
            match name.as_str() {
                "model" if !value.is_empty() => out.model = Some(value),
                "call_id" if !value.is_empty() => out.call_id = Some(value),
                "intent" => {
                    out.kind = match value.as_str() {
                        "transcription" => Some(SessionKind::Transcription),
                        "" | "realtime" | "conversation" => None,
                        other => {
                            return Err(ClientError::new(
                                ErrorCode::UnsupportedValue,
                                format!("must be \"transcription\" when set, got {other:?}"),
                            )
                            .with_param("intent"))
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The session kind asked for (`realtime` unless `intent=transcription`).
    pub fn session_kind(&self) -> SessionKind {
        self.kind.unwrap_or(SessionKind::Realtime)
    }

    /// The token purposes this socket accepts: a transcription intent
    /// needs a transcription token; without one the token's own kind is
    /// used.
    pub fn token_kinds(&self) -> &'static [SessionKind] {
        match self.kind {
            Some(SessionKind::Transcription) => &[SessionKind::Transcription],
            _ => super::ALL_KINDS,
        }
    }
}

/// How the upstream socket authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCredential {
    /// The deployment's own credential, sent as this header kind.
    Deployment(Auth),
    /// `Authorization: Bearer <ephemeral key>` from a reelay token.
    Ephemeral(UpstreamKey),
}

/// The upstream socket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsPlan {
    /// `http(s)://…` URL (the host upgrades it with `Upgrade: websocket`).
    pub url: String,
    /// Credential to attach.
    pub credential: WsCredential,
    /// What to enforce on frames.
    pub guard: Option<SessionGuard>,
}

/// Escapes a query value (everything but RFC 3986 unreserved characters).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn session_url(dep: &Deployment, kind: SessionKind) -> String {
    let base = realtime_base(dep);
    let model = query_escape(&dep.model);
    // OpenAI takes a transcription session's model from its config.
    let model_in_url = provider::openai_api(dep).is_none_or(|api| api.transcription_model_in_url);
    match kind {
        SessionKind::Transcription if !model_in_url => format!("{base}?intent=transcription"),
        SessionKind::Transcription => format!("{base}?intent=transcription&model={model}"),
        SessionKind::Realtime => format!("{base}?model={model}"),
    }
}

/// The socket for a virtual key asking for `group` (already authorized by
/// the name sent) on `dep`, with the deployment's own key.
pub fn plan_with_key(
    group: &str,
    dep: &Deployment,
    query: &WsQuery,
) -> Result<WsPlan, ClientError> {
    check_provider(dep, group, "model")?;
    let kind = query.session_kind();
    Ok(WsPlan {
        url: session_url(dep, kind),
        credential: WsCredential::Deployment(deployment_auth(dep)),
        guard: Some(SessionGuard::new(kind, group, &dep.model)),
    })
}

/// The socket for an opened reelay token: always the deployment that minted
/// it (`dep`), with the token's ephemeral key. A `?model=` may only repeat
/// the token's model group.
pub fn plan_with_token(
    claims: &TokenClaims,
    dep: &Deployment,
    query: &WsQuery,
) -> Result<WsPlan, ClientError> {
    check_provider(dep, &claims.model, "model")?;
    if let Some(model) = &query.model {
        if model != &claims.model && model != &dep.model {
            return Err(invalid(
                "model",
                format!(
                    "names {model:?}, but the realtime token was minted for {:?}",
                    claims.model
                ),
            ));
        }
    }
    Ok(WsPlan {
        url: session_url(dep, claims.kind),
        credential: WsCredential::Ephemeral(claims.upstream_key.clone()),
        guard: Some(SessionGuard::new(claims.kind, &claims.model, &dep.model)),
    })
}

/// A sideband socket on the call `call` holds on `dep` (of the model group
/// `group`), with the deployment's own key (the only credential that may
/// attach). Its `session.update` frames are guarded like any socket's.
pub fn plan_sideband(
    group: &str,
    dep: &Deployment,
    call: &OpenedCall,
) -> Result<WsPlan, ClientError> {
    check_provider(dep, &call.call_id, "call_id")?;
    Ok(WsPlan {
        url: format!(
            "{}?call_id={}",
            realtime_base(dep),
            query_escape(&call.call_id)
        ),
        credential: WsCredential::Deployment(deployment_auth(dep)),
        guard: Some(SessionGuard::new(SessionKind::Realtime, group, &dep.model)),
    })
}

/// The model group `model` names, if the key (`policy`) may use it (by the
/// name sent); errors name `param`.
pub fn authorize<'c>(
    config: &'c Config,
    policy: &AccessPolicy,
    model: &str,
    param: &str,
) -> Result<&'c ModelGroup, ClientError> {
    super::session::authorize(config, policy, model, param)
}

/// What happens to one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it unchanged.
    Pass,
    /// Relay this text instead.
    Rewrite(String),
    /// Drop it; tell the client with this error (an `error` event).
    Refuse(ClientError),
}

/// How a relay judges the frames of one session: each protocol with a
/// guard (OpenAI Realtime's [`SessionGuard`], Live Interactions'
/// `InteractionGuard`) implements it; the relay asks it about every frame.
pub trait FrameGuard {
    /// A text frame from the client.
    fn client_text(&mut self, text: &str) -> Verdict;
    /// A binary frame from the client.
    fn client_binary(&mut self, bytes: &[u8]) -> Verdict;
    /// A text frame from the upstream (a refusal is relayed unchanged).
    fn upstream_text(&mut self, text: &str) -> Verdict;
    /// A binary frame from the upstream; a rewrite goes down as text.
    fn upstream_binary(&mut self, _bytes: &[u8]) -> Verdict {
        Verdict::Pass
    }
    /// The event telling the client a frame of its was refused, if its
    /// protocol has one.
    fn refusal(&self, _err: &ClientError) -> Option<String> {
        None
    }
}

impl FrameGuard for SessionGuard {
    fn client_text(&mut self, text: &str) -> Verdict {
        SessionGuard::client_text(self, text)
    }

    fn client_binary(&mut self, bytes: &[u8]) -> Verdict {
        SessionGuard::client_binary(self, bytes)
    }

    fn upstream_text(&mut self, text: &str) -> Verdict {
        SessionGuard::upstream_text(self, text)
    }

    fn refusal(&self, err: &ClientError) -> Option<String> {
        Some(error_event(err))
    }
}

/// Keeps a relayed OpenAI session on the model the key was allowed:
/// `session.update` may name the model group (rewritten to the deployment's
/// model) or the deployment's model, nothing else; the upstream's session
/// events show the model group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGuard {
    kind: SessionKind,
    group: String,
    upstream_model: String,
    /// What upstream error events are cleaned of.
    redactor: Redactor,
}

impl SessionGuard {
    /// A guard for a `kind` session of `group`, served as `upstream_model`.
    pub fn new(kind: SessionKind, group: &str, upstream_model: &str) -> Self {
        Self {
            kind,
            group: group.to_owned(),
            upstream_model: upstream_model.to_owned(),
            redactor: Redactor::new(),
        }
    }

    /// The guard, removing the secrets `redactor` knows (and secret-shaped
    /// runs) from the upstream's error events before they reach the client.
    #[must_use]
    pub fn redacting(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// A text frame from the client. Every one is read as an event: a JSON
    /// object of at most [`MAX_GUARDED_FRAME`] bytes with a string `type`
    /// (read with escapes decoded, a repeated `type` refused), else it is
    /// refused and never relayed. A `session.update` is parsed whole, its
    /// model checked, and relayed as re-serialized from what was checked
    /// (so a repeated key cannot show the upstream another value).
    pub fn client_text(&self, text: &str) -> Verdict {
        if text.len() > MAX_GUARDED_FRAME {
            return Verdict::Refuse(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("a client event is limited to {MAX_GUARDED_FRAME} bytes"),
            ));
        }
        if !is_object_text(text.as_bytes()) {
            return Verdict::Refuse(invalid("type", "a client event must be a JSON object"));
        }
        match serde_json::from_str::<EventType<'_>>(text) {
            Ok(event) if event.kind == SESSION_UPDATE => self.session_update(text),
            Ok(_) => Verdict::Pass,
            Err(e) if e.is_syntax() || e.is_eof() => Verdict::Refuse(ClientError::new(
                ErrorCode::InvalidJson,
                format!("a client event must be a JSON object: {e}"),
            )),
            Err(e) => Verdict::Refuse(invalid(
                "type",
                format!("a client event must be a JSON object with one string `type`: {e}"),
            )),
        }
    }

    /// A binary frame from the client: audio passes as it is, but a frame
    /// that reads as a JSON event (a server may parse binary frames as
    /// events too) is guarded like a text frame; a rewrite goes up as text.
    pub fn client_binary(&self, bytes: &[u8]) -> Verdict {
        if bytes.len() > MAX_GUARDED_FRAME || !is_object_text(bytes) {
            return Verdict::Pass;
        }
        match serde_json::from_slice::<EventType<'_>>(bytes) {
            Ok(event) if event.kind == SESSION_UPDATE => match core::str::from_utf8(bytes) {
                Ok(text) => self.session_update(text),
                Err(_) => Verdict::Pass,
            },
            _ => Verdict::Pass,
        }
    }

    fn session_update(&self, text: &str) -> Verdict {
        let mut event = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(event)) => event,
            _ => {
                return Verdict::Refuse(ClientError::new(
                    ErrorCode::InvalidJson,
                    "a session.update event must be a JSON object",
                ))
            }
        };
        let session = match event.get_mut("session") {
            None | Some(Value::Null) => None,
            Some(Value::Object(session)) => Some(session),
            Some(other) => {
                let got = type_name(other);
                return Verdict::Refuse(invalid(
                    "session",
                    format!("`session` must be an object, got {got}"),
                ));
            }
        };
        let (_, param) = self.kind.model_path();
        let param = format!("session.{}", param.trim_start_matches("session."));
        if let Some(session) = session {
            match model_at(session, self.kind) {
                Err(e) => return Verdict::Refuse(e),
                Ok(None) => {}
                Ok(Some(m)) if m == self.upstream_model => {}
                Ok(Some(m)) if m == self.group => {
                    set_model(session, self.kind, &self.upstream_model);
                }
                Ok(Some(m)) => {
                    return Verdict::Refuse(invalid(
                        &param,
                        format!(
                            "names {m:?}, but this session is {:?}; a realtime socket cannot change model",
                            self.group
                        ),
                    ))
                }
            }
        }
        Verdict::Rewrite(Value::Object(event).to_string())
    }

    /// A text frame from the upstream: an event carrying an `error` is
    /// redacted; session events show the model group.
    pub fn upstream_text(&self, text: &str) -> Verdict {
        if text.contains("\"error\"") {
            let clean = self.redactor.redact(text);
            if clean != text {
                return Verdict::Rewrite(clean);
            }
        }
        if !text.contains("\"session.") || self.group == self.upstream_model {
            return Verdict::Pass;
        }
        let Some(mut event) = event_of(text, &["session.created", "session.updated"]) else {
            return Verdict::Pass;
        };
        let Some(Value::Object(session)) = event.get_mut("session") else {
            return Verdict::Pass;
        };
        match model_at(session, self.kind) {
            Ok(Some(m)) if m == self.upstream_model => {
                set_model(session, self.kind, &self.group);
                Verdict::Rewrite(Value::Object(event).to_string())
            }
            _ => Verdict::Pass,
        }
    }
}

/// The `session.update` client event's type.
const SESSION_UPDATE: &str = "session.update";

/// A client event's `type`, read without building the event (the other
/// fields are skipped, not kept; a repeated `type` is an error).
#[derive(Deserialize)]
struct EventType<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

/// Whether `bytes` start like a JSON object (an event is never an array,
/// which a derived struct would also accept).
fn is_object_text(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The event object if `text` is a JSON object whose `type` is one of `types`.
fn event_of(text: &str, types: &[&str]) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(event))
            if event
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| types.contains(&t)) =>
        {
            Some(event)
        }
        _ => None,
    }
}

/// An OpenAI Realtime `error` server event carrying `err` (the same
/// `error` object as the HTTP routes' JSON errors).
pub fn error_event(err: &ClientError) -> String {
    let rendered: Value = serde_json::from_str(&err.render(Dialect::OpenAi)).unwrap_or(Value::Null);
    let mut event = Map::new();
    event.insert("type".into(), Value::from("error"));
    event.insert(
        "error".into(),
        rendered.get("error").cloned().unwrap_or(Value::Null),
    );
    Value::Object(event).to_string()
}

/// The close code and reason refusing a socket with `err`: `1008` for
/// refusals (4xx), `1007` for an unreadable first frame, `1011` for gateway
/// and upstream failures (5xx).
pub fn close_for(err: &ClientError) -> (u16, String) {
    let code = match err.code {
        ErrorCode::InvalidJson => CLOSE_INVALID_DATA,
        _ if err.status() >= 500 => CLOSE_INTERNAL,
        _ => CLOSE_POLICY,
    };
    (
        code,
        close_reason(&format!("{}: {}", err.code, err.message)),
    )
}

/// `text` cut to at most [`MAX_CLOSE_REASON`] bytes on a character boundary.
pub fn close_reason(text: &str) -> String {
    if text.len() <= MAX_CLOSE_REASON {
        return text.to_owned();
    }
    let mut end = MAX_CLOSE_REASON;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The close code to pass on when the other side closed with `code`: codes
/// that may not be sent in a close frame (1005 "no status", 1006
/// "abnormal", 1015 "TLS") and out-of-range ones become `1000` when the
/// close was clean, else `1011`.
pub fn relayable_close(code: u16, clean: bool) -> u16 {
    let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    match (sendable, clean) {
        (true, _) => code,
        (false, true) => CLOSE_NORMAL,
        (false, false) => CLOSE_INTERNAL,
    }
}

/// Drops every one of `secrets` (and every secret-shaped run) from a close
/// reason or message should it appear in it ([`Redactor::redact`]).
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    Redactor::of(secrets.iter().copied()).redact(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policy::Prices;

    fn dep(provider: Provider) -> Deployment {
        Deployment {
            id: "d1".into(),
            provider,
            model: "gpt-realtime-2025-08-28".into(),
            api_base: "http://127.0.0.1:9".into(),
            credential: "K".into(),
            weight: 1,
            video_seconds: Vec::new(),
            timeout_ms: 1000,
            vertex: None,
            prices: Prices::default(),
        }
    }

    #[test]
    fn subprotocols_find_the_key_and_the_answer() {
        let p = Subprotocols::parse(Some("realtime, openai-insecure-api-key.sk-abc"));
        assert_eq!(p.key.as_deref(), Some("sk-abc"));
        assert_eq!(p.answer, Some("realtime"));
        assert!(!format!("{p:?}").contains("sk-abc"));
        let p = Subprotocols::parse(Some("openai-insecure-api-key."));
        assert_eq!(p, Subprotocols::default());
        assert_eq!(Subprotocols::parse(None), Subprotocols::default());
    }

    #[test]
    fn queries_parse() {
        let q = WsQuery::parse("model=gpt-realtime&x=1").unwrap();
        assert_eq!(q.model.as_deref(), Some("gpt-realtime"));
        assert_eq!(q.session_kind(), SessionKind::Realtime);
        let q = WsQuery::parse("intent=transcription&call_id=rtc_x").unwrap();
        assert_eq!(q.kind, Some(SessionKind::Transcription));
        assert_eq!(q.call_id.as_deref(), Some("rtc_x"));
        assert_eq!(q.token_kinds(), &[SessionKind::Transcription]);
        assert!(WsQuery::parse("intent=bogus").is_err());
        assert!(WsQuery::parse("model=%zz").is_err());
        assert_eq!(WsQuery::parse("").unwrap(), WsQuery::default());
    }

    #[test]
    fn plans_use_the_deployment_model() {
        let q = WsQuery::parse("model=gpt-realtime").unwrap();
        let p = plan_with_key("gpt-realtime", &dep(Provider::OpenAi), &q).unwrap();
        assert_eq!(
            p.url,
            "http://127.0.0.1:9/v1/realtime?model=gpt-realtime-2025-08-28"
        );
        assert_eq!(p.credential, WsCredential::Deployment(Auth::Bearer));
        let p = plan_with_key("gpt-realtime", &dep(Provider::Azure), &q).unwrap();
        assert!(p
            .url
            .starts_with("http://127.0.0.1:9/openai/v1/realtime?model="));
        assert_eq!(p.credential, WsCredential::Deployment(Auth::AzureApiKey));
        assert!(plan_with_key("gpt-realtime", &dep(Provider::Gemini), &q).is_err());
        let t = WsQuery::parse("intent=transcription").unwrap();
        let p = plan_with_key("tr", &dep(Provider::OpenAi), &t).unwrap();
        assert_eq!(p.url, "http://127.0.0.1:9/v1/realtime?intent=transcription");
    }

    #[test]
    fn token_plans_refuse_another_model() {
        let claims = TokenClaims {
            id: [0; 12],
            kind: SessionKind::Realtime,
            expires_at: 10,
            key_hash: [1; 32],
            deployment: "d1".into(),
            model: "gpt-realtime".into(),
            upstream_key: UpstreamKey::new("ek_123"),
            origin: None,
            subject: None,
        };
        let d = dep(Provider::OpenAi);
        let ok = WsQuery::parse("model=gpt-realtime").unwrap();
        let p = plan_with_token(&claims, &d, &ok).unwrap();
        assert_eq!(
            p.credential,
            WsCredential::Ephemeral(UpstreamKey::new("ek_123"))
        );
        let other = WsQuery::parse("model=gpt-4o").unwrap();
        assert_eq!(
            plan_with_token(&claims, &d, &other).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let call = OpenedCall {
            deployment: "d1".into(),
            call_id: "rtc_a b".into(),
        };
        assert_eq!(
            plan_sideband("gpt-realtime", &d, &call).unwrap().url,
            "http://127.0.0.1:9/v1/realtime?call_id=rtc_a%20b"
        );
    }

    #[test]
    fn the_guard_rewrites_and_refuses() {
        let g = SessionGuard::new(SessionKind::Realtime, "gpt-realtime", "gpt-rt-up");
        assert_eq!(
            g.client_text(r#"{"type":"response.create"}"#),
            Verdict::Pass
        );
        // A session.update without a model goes up as it was checked.
        let Verdict::Rewrite(t) =
            g.client_text(r#"{"type":"session.update","session":{"instructions":"x"}}"#)
        else {
            panic!("expected the checked event")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["session"]["instructions"], "x");
        let Verdict::Rewrite(t) =
            g.client_text(r#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#)
        else {
            panic!("expected a rewrite")
        };
        assert!(t.contains("gpt-rt-up"));
        let Verdict::Refuse(e) =
            g.client_text(r#"{"type":"session.update","session":{"model":"gpt-5"}}"#)
        else {
            panic!("expected a refusal")
        };
        assert_eq!(e.param.as_deref(), Some("session.model"));
        let Verdict::Rewrite(t) = g.upstream_text(
            r#"{"type":"session.created","session":{"model":"gpt-rt-up","id":"s"}}"#,
        ) else {
            panic!("expected a rewrite")
        };
        assert!(t.contains("\"gpt-realtime\"") && !t.contains("gpt-rt-up"));
        assert_eq!(g.upstream_text("not json \"session."), Verdict::Pass);
        let tr = SessionGuard::new(SessionKind::Transcription, "whisper", "whisper-up");
        let Verdict::Rewrite(t) = tr.client_text(
            r#"{"type":"session.update","session":{"audio":{"input":{"transcription":{"model":"whisper"}}}}}"#,
        ) else {
            panic!("expected a rewrite")
        };
        assert!(t.contains("whisper-up"));
    }

    fn refused(v: Verdict) -> ClientError {
        match v {
            Verdict::Refuse(e) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_guard_reads_escaped_types_and_keys() {
        let g = SessionGuard::new(SessionKind::Realtime, "gpt-realtime", "gpt-rt-up");
        // However `type` or its key is spelt, a session.update naming
        // another model is refused.
        for text in [
            r#"{"type":"session\u002eupdate","session":{"model":"gpt-5"}}"#,
            r#"{"type":"\u0073ession.update","session":{"model":"gpt-5"}}"#,
            r#"{"\u0074ype":"session.update","session":{"model":"gpt-5"}}"#,
            r#" {"session":{"model":"gpt-5"},"type":"session.update"}"#,
            r#"{"type":"session.update","session":{"\u006dodel":"gpt-5"}}"#,
        ] {
            let e = refused(g.client_text(text));
            assert_eq!(e.param.as_deref(), Some("session.model"), "{text}");
        }
        // An escaped group name is rewritten, the escape gone.
        let Verdict::Rewrite(t) = g.client_text(
            r#"{"type":"session\u002eupdate","session":{"model":"gpt\u002drealtime"}}"#,
        ) else {
            panic!("expected a rewrite")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["type"], "session.update");
        assert_eq!(v["session"]["model"], "gpt-rt-up");
        // A repeated key: a repeated `type` is refused; a repeated
        // `session` goes up once, as checked.
        let e = refused(g.client_text(
            r#"{"type":"response.create","type":"session.update","session":{"model":"gpt-5"}}"#,
        ));
        assert_eq!(e.param.as_deref(), Some("type"));
        let e = refused(g.client_text(
            r#"{"type":"session.update","session":{"model":"gpt-realtime"},"session":{"model":"gpt-5"}}"#,
        ));
        assert_eq!(e.param.as_deref(), Some("session.model"));
        let Verdict::Rewrite(t) = g.client_text(
            r#"{"type":"session.update","session":{"model":"gpt-5"},"session":{"instructions":"x"}}"#,
        ) else {
            panic!("expected the checked event")
        };
        assert!(!t.contains("gpt-5"), "{t}");
        assert_eq!(t.matches("\"session\"").count(), 1, "{t}");
    }

    #[test]
    fn the_guard_refuses_what_is_not_an_event() {
        let g = SessionGuard::new(SessionKind::Realtime, "gpt-realtime", "gpt-rt-up");
        assert_eq!(
            refused(g.client_text("{not json")).code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            refused(g.client_text(r#"{"type":"session.update""#)).code,
            ErrorCode::InvalidJson
        );
        for text in [
            r#"["session.update",{"model":"gpt-5"}]"#,
            r#""session.update""#,
            r#"{"session":{"model":"gpt-5"}}"#,
            r#"{"type":7}"#,
            "",
        ] {
            let e = refused(g.client_text(text));
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{text}");
            assert_eq!(e.param.as_deref(), Some("type"), "{text}");
        }
        let e = refused(g.client_text(r#"{"type":"session.update","session":"gpt-5"}"#));
        assert_eq!(e.param.as_deref(), Some("session"));
        // Other events pass unchanged, whatever else they hold.
        let append = format!(
            r#"{{"type":"input_audio_buffer.append","audio":"{}","note":"session.update"}}"#,
            "A".repeat(64 * 1024)
        );
        assert_eq!(g.client_text(&append), Verdict::Pass);
        // Oversize frames are refused before they are read.
        let big = format!(
            r#"{{"type":"response.create","x":"{}"}}"#,
            "a".repeat(MAX_GUARDED_FRAME)
        );
        assert_eq!(
            refused(g.client_text(&big)).code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn binary_frames_that_are_events_are_guarded() {
        let g = SessionGuard::new(SessionKind::Realtime, "gpt-realtime", "gpt-rt-up");
        let audio: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(g.client_binary(&audio), Verdict::Pass);
        assert_eq!(g.client_binary(b"{ not json"), Verdict::Pass);
        assert_eq!(
            g.client_binary(br#"{"type":"response.create"}"#),
            Verdict::Pass
        );
        let e = refused(
            g.client_binary(br#"{"type":"session\u002eupdate","session":{"model":"gpt-5"}}"#),
        );
        assert_eq!(e.param.as_deref(), Some("session.model"));
        let Verdict::Rewrite(t) =
            g.client_binary(br#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#)
        else {
            panic!("expected a rewrite")
        };
        assert!(t.contains("gpt-rt-up"));
    }

    #[test]
    fn sidebands_are_guarded() {
        let call = OpenedCall {
            deployment: "d1".into(),
            call_id: "rtc_1".into(),
        };
        let plan = plan_sideband("gpt-realtime", &dep(Provider::OpenAi), &call).unwrap();
        let guard = plan.guard.expect("a sideband is guarded");
        let e =
            refused(guard.client_text(r#"{"type":"session.update","session":{"model":"gpt-5"}}"#));
        assert_eq!(e.param.as_deref(), Some("session.model"));
        let Verdict::Rewrite(t) =
            guard.client_text(r#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#)
        else {
            panic!("expected a rewrite")
        };
        assert!(t.contains("gpt-realtime-2025-08-28"));
    }

    #[test]
    fn upstream_error_events_lose_every_known_secret() {
        let azure = "0123456789abcdef0123456789abcdef";
        let g = SessionGuard::new(SessionKind::Realtime, "gpt-realtime", "gpt-realtime")
            .redacting(Redactor::of([azure]));
        let event = alloc::format!(
            r#"{{"type":"error","error":{{"message":"key {azure} is not valid","code":"invalid_api_key"}}}}"#
        );
        let Verdict::Rewrite(t) = g.upstream_text(&event) else {
            panic!("expected a rewrite")
        };
        assert!(!t.contains(azure), "{t}");
        let parsed: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(parsed["error"]["message"], "key [redacted] is not valid");
        // Other events, and errors holding no secret, pass untouched.
        assert_eq!(
            g.upstream_text(r#"{"type":"error","error":{"message":"slow down"}}"#),
            Verdict::Pass
        );
        assert_eq!(
            g.upstream_text(r#"{"type":"response.audio.delta","delta":"AAAA"}"#),
            Verdict::Pass
        );
        // Close reasons: known values of any shape, and shapes.
        assert_eq!(
            scrub(&alloc::format!("bad key {azure}"), &[azure]),
            "bad key [redacted]"
        );
        assert_eq!(
            scrub("bad sk-abcdefghijklmnopqrstuvwxyz", &[]),
            "bad [redacted]"
        );
    }

    #[test]
    fn closes_and_reasons() {
        let (code, reason) = close_for(&ClientError::from_code(ErrorCode::InvalidApiKey));
        assert_eq!(code, CLOSE_POLICY);
        assert!(reason.starts_with("invalid_api_key: "));
        let (code, _) = close_for(&ClientError::from_code(ErrorCode::UpstreamUnavailable));
        assert_eq!(code, CLOSE_INTERNAL);
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.chars().all(|c| c == 'é'));
        assert_eq!(relayable_close(1005, true), 1000);
        assert_eq!(relayable_close(1006, false), 1011);
        assert_eq!(relayable_close(4001, false), 4001);
        assert_eq!(relayable_close(999, true), 1000);
        let ev: Value = serde_json::from_str(&error_event(&ClientError::from_code(
            ErrorCode::ModelAccessDenied,
        )))
        .unwrap();
        assert_eq!(ev["type"], "error");
        assert_eq!(ev["error"]["code"], "key_model_access_denied");
        assert_eq!(
            scrub("x sk-secret-123 y", &["sk-secret-123"]),
            "x [redacted] y"
        );
    }
}
