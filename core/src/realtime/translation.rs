//! OpenAI Realtime Translation: what reelay checks and sends for
//! `POST /v1/realtime/translations/client_secrets`, the translation
//! WebSocket's client events, and `POST /v1/realtime/translations/calls`.
//!
//! - [`SecretRequest`]: the typed `client_secrets` body — `session.model`,
//!   `session.audio.output.language`, `session.audio.input.{transcription,
//!   noise_reduction}`, `expires_after {anchor, seconds}` (clamped into
//!   10..=7200 like realtime mints); anything else is a `400` naming the
//!   field. The model is authorized by the name sent; a transcription model
//!   must be allowed by the caller's rules too. What goes upstream is the
//!   typed value re-serialized, the model rewritten to the deployment's.
//! - [`finish_mint`]: the upstream's `ek_…` is sealed into a realtime
//!   token of kind [`SessionKind::Translation`] (so it never opens a
//!   realtime or transcription session, and their tokens never open a
//!   translation one), with the same expiry and minter clamps as
//!   `/v1/realtime/client_secrets`.
//! - [`EventGuard`]: the client events a translation socket relays —
//!   `session.update` (audio settings only), `session.input_audio_buffer.append`
//!   and `session.close` — each parsed whole and re-serialized from what
//!   was checked; anything else (other types, non-JSON, binary frames) is
//!   refused and never relayed.
//! - [`SocketQuery`] (`?model=`; `intent` and `call_id` refused) and
//!   [`plan_call`]: the WebRTC SDP exchange with a translation token, on
//!   the deployment that minted it, without `?model=`.
//!
//! A translation token, like every realtime token, starts **one** session
//! (a socket or a call): the mint is charged one realtime session, and the
//! token's use is spent when its session is admitted (the upstream's secret
//! could start several; reelay's cannot, so each session is paid for once).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use serde_json::{Map, Value};

use super::calls::{CallBody, CallCredential, CallPlan};
use super::session::{authorize, clamp_expires_after, invalid, seal_answer, Minted, SealWith};
use super::token::TokenClaims;
use super::{check_provider, deployment_auth, realtime_base, SessionKind};
use crate::access::AccessPolicy;
use crate::config::{Config, Deployment, ModelGroup};
use crate::encoding::percent_decode;
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::json::type_name;
use crate::plan::{Method, UpstreamRequest};

/// The token kinds the translation routes accept.
pub const TRANSLATION_KINDS: &[SessionKind] = &[SessionKind::Translation];
/// Longest `audio.output.language` accepted (a BCP 47 tag).
pub const MAX_LANGUAGE_LEN: usize = 35;
/// Longest client event read (the Workers runtime receives at most 1 MiB
/// per message).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Longest `event_id` relayed.
pub const MAX_EVENT_ID_LEN: usize = 512;
/// The client events a translation socket relays.
pub const CLIENT_EVENTS: &[&str] = &[SESSION_UPDATE, APPEND, SESSION_CLOSE];

const SESSION_UPDATE: &str = "session.update";
const APPEND: &str = "session.input_audio_buffer.append";
const SESSION_CLOSE: &str = "session.close";

/// A setting that may be left as it is (absent), turned off (`null`) or set.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting<T> {
    /// Not in the request: left as it is.
    Keep,
    /// `null`: turned off.
    Off,
    /// Set to this value.
    On(T),
}

/// `audio.input.noise_reduction.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseReductionType {
    /// `near_field`: headsets and close-talking microphones.
    NearField,
    /// `far_field`: laptop and room microphones.
    FarField,
}

impl NoiseReductionType {
    const fn as_str(self) -> &'static str {
        match self {
            Self::NearField => "near_field",
            Self::FarField => "far_field",
        }
    }
}

/// `audio.input.noise_reduction`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseReduction {
    /// Microphone kind.
    pub kind: NoiseReductionType,
    /// Suppression strength (a non-negative number), if set.
    pub strength: Option<f64>,
}

/// `audio.input`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInput {
    /// `transcription.model`: source-language transcript deltas.
    pub transcription: Setting<String>,
    /// Input noise reduction.
    pub noise_reduction: Setting<NoiseReduction>,
}

/// A translation session's `audio` settings (the same in a mint and in a
/// `session.update`).
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// `input`, if sent.
    pub input: Option<AudioInput>,
    /// `output.language`, if sent (`output` without it is kept as `{}`).
    pub output: Option<Option<String>>,
}

impl Audio {
    /// Parses `value` found at `path` (`session.audio`).
    pub fn parse(value: &Value, path: &str) -> Result<Self, ClientError> {
        let audio = object(value, path)?;
        only(audio, path, &["input", "output"])?;
        let input = match audio.get("input") {
            None => None,
            Some(v) => Some(parse_input(v, &join(path, "input"))?),
        };
        let output = match audio.get("output") {
            None => None,
            Some(v) => {
                let at = join(path, "output");
                let output = object(v, &at)?;
                only(output, &at, &["language"])?;
                Some(match output.get("language") {
                    None => None,
                    Some(v) => Some(language(v, &join(&at, "language"))?),
                })
            }
        };
        Ok(Self { input, output })
    }

    /// The transcription model this sets, if any.
    pub fn transcription_model(&self) -> Option<&str> {
        match self.input.as_ref().map(|i| &i.transcription) {
            Some(Setting::On(model)) => Some(model),
            _ => None,
        }
    }

    /// Checks the transcription model (if set) against the caller's rules,
    /// by the name sent; `path` is where this `audio` sits.
    pub fn authorize(&self, policy: &AccessPolicy, path: &str) -> Result<(), ClientError> {
        match self.transcription_model() {
            Some(model) if !policy.allows(model) => Err(ClientError::new(
                ErrorCode::ModelAccessDenied,
                format!("this key may not use model {model:?}"),
            )
            .with_param(format!("{path}.input.transcription.model"))),
            _ => Ok(()),
        }
    }

    /// The JSON sent upstream.
    pub fn to_value(&self) -> Value {
        let mut audio = Map::new();
        if let Some(input) = &self.input {
            let mut map = Map::new();
            match &input.transcription {
                Setting::Keep => {}
                Setting::Off => {
                    map.insert("transcription".into(), Value::Null);
                }
                Setting::On(model) => {
                    let mut t = Map::new();
                    t.insert("model".into(), Value::from(model.as_str()));
                    map.insert("transcription".into(), Value::Object(t));
                }
            }
            match &input.noise_reduction {
                Setting::Keep => {}
                Setting::Off => {
                    map.insert("noise_reduction".into(), Value::Null);
                }
                Setting::On(nr) => {
                    let mut n = Map::new();
                    n.insert("type".into(), Value::from(nr.kind.as_str()));
                    if let Some(strength) = nr.strength {
                        n.insert("strength".into(), Value::from(strength));
                    }
                    map.insert("noise_reduction".into(), Value::Object(n));
                }
            }
            audio.insert("input".into(), Value::Object(map));
        }
        if let Some(output) = &self.output {
            let mut map = Map::new();
            if let Some(language) = output {
                map.insert("language".into(), Value::from(language.as_str()));
            }
            audio.insert("output".into(), Value::Object(map));
        }
        Value::Object(audio)
    }
}

fn parse_input(value: &Value, path: &str) -> Result<AudioInput, ClientError> {
    let input = object(value, path)?;
    only(input, path, &["transcription", "noise_reduction"])?;
    let transcription = match input.get("transcription") {
        None => Setting::Keep,
        Some(Value::Null) => Setting::Off,
        Some(v) => {
            let at = join(path, "transcription");
            let t = object(v, &at)?;
            only(t, &at, &["model"])?;
            let at = join(&at, "model");
            match t.get("model") {
                Some(Value::String(m)) if !m.is_empty() => Setting::On(m.clone()),
                Some(Value::String(_)) | None => {
                    return Err(invalid(&at, "is required: the transcription model to use"))
                }
                Some(other) => {
                    return Err(invalid(
                        &at,
                        format!("must be a string, got {}", type_name(other)),
                    ))
                }
            }
        }
    };
    let noise_reduction = match input.get("noise_reduction") {
        None => Setting::Keep,
        Some(Value::Null) => Setting::Off,
        Some(v) => {
            let at = join(path, "noise_reduction");
            let nr = object(v, &at)?;
            only(nr, &at, &["type", "strength"])?;
            let kind = match nr.get("type") {
                Some(Value::String(t)) if t == "near_field" => NoiseReductionType::NearField,
                Some(Value::String(t)) if t == "far_field" => NoiseReductionType::FarField,
                Some(other) => {
                    return Err(invalid(
                        &join(&at, "type"),
                        format!("must be \"near_field\" or \"far_field\", got {other}"),
                    ))
                }
                None => {
                    return Err(invalid(
                        &join(&at, "type"),
                        "is required: \"near_field\" or \"far_field\"",
                    ))
                }
            };
            let strength = match nr.get("strength") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_f64() {
                    Some(s) if s.is_finite() && s >= 0.0 => Some(s),
                    _ => {
                        return Err(invalid(
                            &join(&at, "strength"),
                            format!("must be a non-negative number, got {v}"),
                        ))
                    }
                },
            };
            Setting::On(NoiseReduction { kind, strength })
        }
    };
    Ok(AudioInput {
        transcription,
        noise_reduction,
    })
}

/// A target language: a BCP 47-shaped tag (`es`, `pt-BR`).
fn language(value: &Value, path: &str) -> Result<String, ClientError> {
    let Value::String(tag) = value else {
        return Err(invalid(
            path,
            format!("must be a string, got {}", type_name(value)),
        ));
    };
    let plausible = !tag.is_empty()
        && tag.len() <= MAX_LANGUAGE_LEN
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plausible {
        return Err(invalid(
            path,
            format!("must be a language code such as \"es\", got {tag:?}"),
        ));
    }
    Ok(tag.clone())
}

/// A validated `POST /v1/realtime/translations/client_secrets` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretRequest {
    model: String,
    audio: Option<Audio>,
    /// `expires_after` was sent: the upstream gets the clamped lifetime.
    expires_after_sent: bool,
    expires_after_secs: u64,
}

impl SecretRequest {
    /// Parses and validates the JSON body; errors name the field.
    pub fn parse(body: &[u8]) -> Result<Self, ClientError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(mut body) = value else {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("the body must be a JSON object, got {}", type_name(&value)),
            ));
        };
        only(&body, "", &["session", "expires_after"])?;
        if let Some(Value::Object(after)) = body.get("expires_after") {
            only(after, "expires_after", &["anchor", "seconds"])?;
        }
        let expires_after_sent = body.get("expires_after").is_some_and(|v| !v.is_null());
        let expires_after_secs = clamp_expires_after(&mut body)?;
        let session = body
            .get("session")
            .ok_or_else(|| invalid("session", "is required: the translation session"))?;
        let session = object(session, "session")?;
        if session.contains_key("type") {
            return Err(invalid(
                "session.type",
                "is not accepted: a translation session has no type in the request",
            ));
        }
        only(session, "session", &["model", "audio"])?;
        let model = match session.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            Some(Value::String(_)) | None => {
                return Err(invalid(
                    "session.model",
                    "is required: the translation model to use",
                ))
            }
            Some(other) => {
                return Err(invalid(
                    "session.model",
                    format!("must be a string, got {}", type_name(other)),
                ))
            }
        };
        let audio = match session.get("audio") {
            None => None,
            Some(v) => Some(Audio::parse(v, "session.audio")?),
        };
        Ok(Self {
            model,
            audio,
            expires_after_sent,
            expires_after_secs,
        })
    }

    /// The model the client asked for (a model group name).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The lifetime asked of the upstream, after clamping.
    pub fn expires_after_secs(&self) -> u64 {
        self.expires_after_secs
    }

    /// The model group, if the caller (`policy`) may use it and any
    /// transcription model it names (both by the names sent).
    pub fn authorize<'c>(
        &self,
        config: &'c Config,
        policy: &AccessPolicy,
    ) -> Result<&'c ModelGroup, ClientError> {
        let group = authorize(config, policy, &self.model, "session.model")?;
        if let Some(audio) = &self.audio {
            audio.authorize(policy, "session.audio")?;
        }
        Ok(group)
    }

    /// The upstream call on `deployment`: the typed body re-serialized,
    /// the model rewritten to the deployment's.
    pub fn plan_for(&self, deployment: &Deployment) -> Result<UpstreamRequest, ClientError> {
        check_provider(deployment, &self.model, "session.model")?;
        let mut session = Map::new();
        session.insert("model".into(), Value::from(deployment.model.as_str()));
        if let Some(audio) = &self.audio {
            session.insert("audio".into(), audio.to_value());
        }
        let mut body = Map::new();
        body.insert("session".into(), Value::Object(session));
        if self.expires_after_sent {
            let mut after = Map::new();
            after.insert("anchor".into(), Value::from("created_at"));
            after.insert("seconds".into(), Value::from(self.expires_after_secs));
            body.insert("expires_after".into(), Value::Object(after));
        }
        Ok(UpstreamRequest {
            method: Method::Post,
            url: format!("{}/translations/client_secrets", realtime_base(deployment)),
            auth: deployment_auth(deployment),
            json_body: Some(Value::Object(body).to_string()),
        })
    }
}

/// Turns the upstream's answer from `deployment` (of `group`) into the
/// client's: its `value` sealed into a translation token, `expires_at` no
/// later than the upstream's nor the minter's, `session.model` read back as
/// the model group; an answer repeating the `ek_…` elsewhere is refused.
pub fn finish_mint(
    request: &SecretRequest,
    group: &ModelGroup,
    deployment: &Deployment,
    upstream_body: &[u8],
    seal: &SealWith<'_>,
) -> Result<Minted, UpstreamError> {
    let asked = (SessionKind::Translation, request.expires_after_secs);
    seal_answer(asked, group, deployment, upstream_body, seal)
}

/// The query of `GET /v1/realtime/translations`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocketQuery {
    /// `?model=` (a model group name).
    pub model: Option<String>,
}

impl SocketQuery {
    /// Parses the raw query string (without `?`): `model`; `intent` and
    /// `call_id` belong to other sockets and are refused; other
    /// parameters are ignored.
    pub fn parse(query: &str) -> Result<Self, ClientError> {
        let mut out = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            let (Some(name), Some(value)) = (decode(name), decode(value)) else {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    "the query string is not valid percent-encoding",
                ));
            };
            match name.as_str() {
                "model" if !value.is_empty() => out.model = Some(value),
                "intent" | "call_id" => {
                    return Err(ClientError::new(
                        ErrorCode::UnsupportedValue,
                        format!("a translation socket takes no `{name}`; send only `model`"),
                    )
                    .with_param(&name))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The model a key's socket asks for (required).
    pub fn required_model(&self) -> Result<&str, ClientError> {
        self.model.as_deref().ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                "the `model` query parameter is required: \
                 GET /v1/realtime/translations?model=<translation model>",
            )
            .with_param("model")
        })
    }

    /// Checks a token's socket: `?model=` may only repeat the token's
    /// model group (or the deployment's model).
    pub fn check_token(&self, claims: &TokenClaims, dep: &Deployment) -> Result<(), ClientError> {
        match &self.model {
            Some(m) if m != &claims.model && m != &dep.model => Err(invalid(
                "model",
                format!(
                    "names {m:?}, but the translation token was minted for {:?}",
                    claims.model
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The upstream socket of a translation session on `dep`:
/// `{realtime base}/translations?model=<escaped deployment model>`.
pub fn socket_url(dep: &Deployment, escaped_model: &str) -> String {
    format!("{}/translations?model={escaped_model}", realtime_base(dep))
}

/// The WebRTC SDP exchange with an opened translation token: always on the
/// deployment that minted it (`dep`), with its ephemeral key, raw SDP, no
/// `?model=`.
pub fn plan_call(
    claims: &TokenClaims,
    dep: &Deployment,
    sdp: String,
) -> Result<CallPlan, ClientError> {
    check_provider(dep, &claims.model, "model")?;
    Ok(CallPlan {
        url: format!("{}/translations/calls", realtime_base(dep)),
        credential: CallCredential::Ephemeral(claims.upstream_key.clone()),
        body: CallBody::Sdp(sdp),
    })
}

/// Keeps a translation socket to the events of the Translation API: every
/// client event is parsed whole, checked and relayed as re-serialized from
/// what was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGuard {
    /// The caller's rules, for a transcription model a `session.update` names.
    policy: AccessPolicy,
}

impl EventGuard {
    /// A guard checking transcription models against `policy`.
    pub fn new(policy: AccessPolicy) -> Self {
        Self { policy }
    }

    /// A text frame from the client: the event to relay, or why not.
    pub fn client_text(&self, text: &str) -> Result<String, ClientError> {
        if text.len() > MAX_EVENT_BYTES {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("a client event is limited to {MAX_EVENT_BYTES} bytes"),
            ));
        }
        let event = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(event)) => event,
            Ok(other) => {
                return Err(invalid(
                    "type",
                    format!(
                        "a client event must be a JSON object, got {}",
                        type_name(&other)
                    ),
                ))
            }
            Err(e) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidJson,
                    format!("a client event must be a JSON object: {e}"),
                ))
            }
        };
        let kind = match event.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(invalid(
                    "type",
                    format!("must be a string, got {}", type_name(other)),
                ))
            }
            None => return Err(invalid("type", "is required in every client event")),
        };
        let mut out = Map::new();
        out.insert("type".into(), Value::from(kind));
        match kind {
            APPEND => {
                only(&event, "", &["type", "event_id", "audio"])?;
                let audio = match event.get("audio") {
                    Some(Value::String(a)) if is_base64(a) => a,
                    Some(Value::String(_)) => {
                        return Err(invalid("audio", "must be base64-encoded PCM16 audio"))
                    }
                    Some(other) => {
                        return Err(invalid(
                            "audio",
                            format!("must be a string, got {}", type_name(other)),
                        ))
                    }
                    None => return Err(invalid("audio", "is required")),
                };
                out.insert("audio".into(), Value::from(audio.as_str()));
            }
            SESSION_UPDATE => {
                only(&event, "", &["type", "event_id", "session"])?;
                let session = event
                    .get("session")
                    .ok_or_else(|| invalid("session", "is required"))?;
                let session = object(session, "session")?;
                if let Some(field) = ["model", "type"].iter().find(|f| session.contains_key(**f)) {
                    return Err(invalid(
                        &join("session", field),
                        "is set when the session is created and cannot be changed by session.update",
                    ));
                }
                only(session, "session", &["audio"])?;
                let mut checked = Map::new();
                if let Some(audio) = session.get("audio") {
                    let audio = Audio::parse(audio, "session.audio")?;
                    audio.authorize(&self.policy, "session.audio")?;
                    checked.insert("audio".into(), audio.to_value());
                }
                out.insert("session".into(), Value::Object(checked));
            }
            SESSION_CLOSE => only(&event, "", &["type", "event_id"])?,
            other => {
                return Err(invalid(
                    "type",
                    format!(
                    "{other:?} is not a Realtime Translation client event (expected one of: {})",
                    CLIENT_EVENTS.join(", ")
                ),
                ))
            }
        }
        match event.get("event_id") {
            None => {}
            Some(Value::String(id)) if id.len() <= MAX_EVENT_ID_LEN => {
                out.insert("event_id".into(), Value::from(id.as_str()));
            }
            Some(other) => {
                return Err(invalid(
                    "event_id",
                    format!(
                        "must be a string of at most {MAX_EVENT_ID_LEN} bytes, got {}",
                        type_name(other)
                    ),
                ))
            }
        }
        Ok(Value::Object(out).to_string())
    }

    /// A binary frame from the client: never relayed (translation events
    /// are JSON text; audio travels base64 in `session.input_audio_buffer.append`).
    pub fn client_binary(&self) -> ClientError {
        invalid(
            "type",
            "a translation socket takes JSON text events only; send audio base64-encoded in \
             session.input_audio_buffer.append",
        )
    }
}

/// Standard base64 (the alphabet, `=` padding), as audio is sent.
fn is_base64(text: &str) -> bool {
    text.len() % 4 == 0
        && text
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && text.len() - text.trim_end_matches('=').len() <= 2
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ClientError> {
    value
        .as_object()
        .ok_or_else(|| invalid(path, format!("must be an object, got {}", type_name(value))))
}

/// Refuses a field of `map` (at `path`) that is not in `known`.
fn only(map: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), ClientError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(field) => {
            let param = join(path, field);
            Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "unknown field `{param}` (expected one of: {})",
                    known.join(", ")
                ),
            )
            .with_param(&param))
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessGroups;
    use crate::browser_token::Minter;
    use crate::plan::Auth;
    use crate::realtime::ALL_KINDS;
    use crate::seal::{self, Keys};
    use serde_json::json;

    const NOW: u64 = 1_790_000_000;
    const EK: &str = "ek_68af296e8e408191a1120ab6383263c2";

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[
              {"name":"gpt-realtime-translate","deployments":[
                {"id":"openai-tr","provider":"openai","model":"gpt-realtime-translate-2026-11","credential":"OPENAI_KEY","api_base":"https://api.example"}]},
              {"name":"azure-translate","deployments":[
                {"id":"azure-tr","provider":"azure","model":"my-translate","credential":"AZURE_KEY","api_base":"https://res.openai.azure.com"}]},
              {"name":"veo-3.1","deployments":[
                {"id":"gemini-veo","provider":"gemini","model":"veo-3.1-generate-preview","credential":"G"}]}]}"#,
        )
        .unwrap()
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &AccessGroups::new()).unwrap()
    }

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    fn full_body() -> Value {
        json!({"session": {"model": "gpt-realtime-translate",
            "audio": {"output": {"language": "es"},
                      "input": {"transcription": {"model": "gpt-live-transcribe"},
                                "noise_reduction": {"type": "near_field"}}}},
            "expires_after": {"anchor": "created_at", "seconds": 600}})
    }

    fn parse(body: &Value) -> Result<SecretRequest, ClientError> {
        SecretRequest::parse(body.to_string().as_bytes())
    }

    fn sent(plan: &UpstreamRequest) -> Value {
        serde_json::from_str(plan.json_body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn the_documented_request_is_typed_and_re_serialized() {
        let config = config();
        let request = parse(&full_body()).unwrap();
        let group = request.authorize(&config, &policy(&["*"])).unwrap();
        let dep = &group.deployments[0];
        let plan = request.plan_for(dep).unwrap();
        assert_eq!(
            plan.url,
            "https://api.example/v1/realtime/translations/client_secrets"
        );
        assert_eq!(plan.auth, Auth::Bearer);
        let mut expected = full_body();
        expected["session"]["model"] = json!("gpt-realtime-translate-2026-11");
        assert_eq!(sent(&plan), expected);
        // Null turns a setting off and stays null; absent stays absent.
        let off = json!({"session": {"model": "gpt-realtime-translate",
            "audio": {"input": {"noise_reduction": null, "transcription": null}, "output": {}}}});
        let plan = parse(&off).unwrap().plan_for(dep).unwrap();
        assert_eq!(
            sent(&plan),
            off.as_object()
                .map(|_| {
                    let mut v = off.clone();
                    v["session"]["model"] = json!("gpt-realtime-translate-2026-11");
                    v
                })
                .unwrap()
        );
    }

    #[test]
    fn azure_mints_on_its_documented_path() {
        let config = config();
        let request = parse(&json!({"session": {"model": "azure-translate"}})).unwrap();
        let group = request.authorize(&config, &policy(&["*"])).unwrap();
        let plan = request.plan_for(&group.deployments[0]).unwrap();
        assert_eq!(
            plan.url,
            "https://res.openai.azure.com/openai/v1/realtime/translations/client_secrets"
        );
        assert_eq!(plan.auth, Auth::AzureApiKey);
        assert_eq!(sent(&plan), json!({"session": {"model": "my-translate"}}));
    }

    #[test]
    fn expires_after_is_clamped() {
        let config = config();
        for (asked, got) in [(1u64, 10u64), (600, 600), (99_999, 7200)] {
            let body = json!({"session": {"model": "gpt-realtime-translate"},
                              "expires_after": {"seconds": asked}});
            let request = parse(&body).unwrap();
            assert_eq!(request.expires_after_secs(), got);
            let group = request.authorize(&config, &policy(&["*"])).unwrap();
            let plan = request.plan_for(&group.deployments[0]).unwrap();
            assert_eq!(
                sent(&plan)["expires_after"],
                json!({"anchor": "created_at", "seconds": got})
            );
        }
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases = [
            (json!({}), "session"),
            (json!({"session": {}}), "session.model"),
            (json!({"session": {"model": 3}}), "session.model"),
            (
                json!({"session": {"model": "m", "type": "translation"}}),
                "session.type",
            ),
            (
                json!({"session": {"model": "m", "voice": "x"}}),
                "session.voice",
            ),
            (json!({"session": {"model": "m"}, "extra": 1}), "extra"),
            (
                json!({"session": {"model": "m", "audio": {"output": {"language": "e s"}}}}),
                "session.audio.output.language",
            ),
            (
                json!({"session": {"model": "m", "audio": {"output": {"voice": "x"}}}}),
                "session.audio.output.voice",
            ),
            (
                json!({"session": {"model": "m", "audio": {"input": {"format": "pcm16"}}}}),
                "session.audio.input.format",
            ),
            (
                json!({"session": {"model": "m", "audio": {"input": {"noise_reduction": {"type": "room"}}}}}),
                "session.audio.input.noise_reduction.type",
            ),
            (
                json!({"session": {"model": "m", "audio": {"input": {"noise_reduction": {"type": "far_field", "strength": -1}}}}}),
                "session.audio.input.noise_reduction.strength",
            ),
            (
                json!({"session": {"model": "m", "audio": {"input": {"transcription": {}}}}}),
                "session.audio.input.transcription.model",
            ),
            (
                json!({"session": {"model": "m"}, "expires_after": {"seconds": 60, "x": 1}}),
                "expires_after.x",
            ),
            (
                json!({"session": {"model": "m"}, "expires_after": {"anchor": "now"}}),
                "expires_after.anchor",
            ),
        ];
        for (body, param) in cases {
            let err = parse(&body).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
            assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
        }
        assert_eq!(
            SecretRequest::parse(b"{nope").unwrap_err().code,
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn models_are_authorized_by_the_names_sent() {
        let config = config();
        let request = parse(&full_body()).unwrap();
        let err = request
            .authorize(&config, &policy(&["gpt-realtime-translate"]))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert_eq!(
            err.param.as_deref(),
            Some("session.audio.input.transcription.model")
        );
        let err = request
            .authorize(&config, &policy(&["gpt-live-*"]))
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("session.model"));
        assert!(request
            .authorize(&config, &policy(&["gpt-realtime-translate", "gpt-live-*"]))
            .is_ok());
        let veo = parse(&json!({"session": {"model": "veo-3.1"}})).unwrap();
        let group = veo.authorize(&config, &policy(&["*"])).unwrap();
        assert_eq!(
            veo.plan_for(&group.deployments[0]).unwrap_err().code,
            ErrorCode::UnsupportedValue
        );
    }

    fn minted(minter: Minter<'_>) -> (Minted, TokenClaims) {
        let config = config();
        let request = parse(&full_body()).unwrap();
        let group = request.authorize(&config, &policy(&["*"])).unwrap();
        let dep = &group.deployments[0];
        let answer = json!({"value": EK, "expires_at": NOW + 600,
            "session": {"id": "sess_1", "type": "translation", "model": "gpt-realtime-translate-2026-11",
                        "expires_at": NOW + 3600, "audio": {"output": {"language": "es"}}}});
        let seal = SealWith {
            key: &keys(),
            key_hash: [0xab; 32],
            minter,
            nonce: [5; 12],
            now_secs: NOW,
        };
        let m = finish_mint(&request, group, dep, answer.to_string().as_bytes(), &seal).unwrap();
        let v: Value = serde_json::from_str(&m.body).unwrap();
        let claims = TokenClaims::open(
            &keys(),
            v["value"].as_str().unwrap(),
            NOW,
            TRANSLATION_KINDS,
        )
        .unwrap();
        (m, claims)
    }

    #[test]
    fn the_answer_carries_a_translation_token_that_opens_nothing_else() {
        let (m, claims) = minted(Minter::Key);
        assert!(!m.body.contains(EK));
        let v: Value = serde_json::from_str(&m.body).unwrap();
        let token = v["value"].as_str().unwrap();
        assert!(token.starts_with("ek_rl_"));
        assert_eq!(v["session"]["model"], "gpt-realtime-translate");
        assert_eq!(v["session"]["type"], "translation");
        assert_eq!(claims.kind, SessionKind::Translation);
        assert_eq!(claims.upstream_key.expose(), EK);
        assert_eq!(claims.deployment, "openai-tr");
        assert_eq!(claims.session_use().max, 1);
        // Not for a realtime session, call or socket.
        assert_eq!(
            TokenClaims::open(&keys(), token, NOW, ALL_KINDS),
            Err(seal::Error::WrongPurpose)
        );
        // Nor a realtime token for a translation session.
        let realtime = TokenClaims {
            kind: SessionKind::Realtime,
            ..claims
        }
        .seal(&keys())
        .unwrap();
        assert_eq!(
            TokenClaims::open(&keys(), &realtime, NOW, TRANSLATION_KINDS),
            Err(seal::Error::WrongPurpose)
        );
    }

    #[test]
    fn a_browser_token_bounds_what_it_mints() {
        let bt = crate::browser_token::Claims {
            parent_hash: [0xab; 32],
            issued_at_secs: NOW,
            expires_at_secs: NOW + 30,
            id: [1; 8],
            origin: Some("https://app.example".into()),
            models: std::vec!["gpt-realtime-translate".into()],
            subject: [9; crate::seal::SUBJECT_LEN],
        };
        let (m, claims) = minted(Minter::BrowserToken(&bt));
        assert_eq!(m.expires_at, NOW + 30);
        assert_eq!(claims.expires_at, NOW + 30);
        assert_eq!(claims.origin.as_deref(), Some("https://app.example"));
        assert_eq!(claims.subject, Some([9; crate::seal::SUBJECT_LEN]));
    }

    #[test]
    fn calls_go_to_the_minting_deployment_without_a_model() {
        let config = config();
        let (_, dep) = config.deployment("openai-tr").unwrap();
        let (_, claims) = minted(Minter::Key);
        let call = plan_call(&claims, dep, "v=0\r\n".into()).unwrap();
        assert_eq!(
            call.url,
            "https://api.example/v1/realtime/translations/calls"
        );
        assert_eq!(
            call.credential,
            CallCredential::Ephemeral(claims.upstream_key.clone())
        );
        assert_eq!(call.body, CallBody::Sdp("v=0\r\n".into()));
        let q = SocketQuery::parse("model=gpt-realtime-translate").unwrap();
        assert!(q.check_token(&claims, dep).is_ok());
        let q = SocketQuery::parse("model=other").unwrap();
        assert!(q.check_token(&claims, dep).is_err());
        assert_eq!(
            SocketQuery::parse("model=m&intent=transcription")
                .unwrap_err()
                .param
                .as_deref(),
            Some("intent")
        );
        assert!(SocketQuery::parse("call_id=rtc_1").is_err());
        assert!(SocketQuery::default().required_model().is_err());
    }

    fn guard() -> EventGuard {
        EventGuard::new(policy(&["gpt-realtime-translate", "gpt-live-transcribe"]))
    }

    fn relayed(text: &str) -> Value {
        serde_json::from_str(&guard().client_text(text).unwrap()).unwrap()
    }

    fn refused(text: &str) -> ClientError {
        guard().client_text(text).unwrap_err()
    }

    #[test]
    fn the_guard_relays_the_translation_events_as_checked() {
        assert_eq!(
            relayed(
                r#"{"type":"session.input_audio_buffer.append","audio":"AAAA","event_id":"e1"}"#
            ),
            json!({"type": "session.input_audio_buffer.append", "audio": "AAAA", "event_id": "e1"})
        );
        assert_eq!(
            relayed(r#"{"type":"session.close"}"#),
            json!({"type": "session.close"})
        );
        let update = json!({"type": "session.update", "session": {"audio": {
            "output": {"language": "fr"},
            "input": {"transcription": {"model": "gpt-live-transcribe"}, "noise_reduction": null}}}});
        assert_eq!(relayed(&update.to_string()), update);
        // A repeated key: what goes up is what was checked.
        let twice = r#"{"type":"session.close","type":"session.close"}"#;
        assert_eq!(relayed(twice), json!({"type": "session.close"}));
    }

    #[test]
    fn the_guard_refuses_everything_else() {
        for (text, param) in [
            (r#"{"type":"response.create"}"#, Some("type")),
            (
                r#"{"type":"session.update","session":{"model":"gpt-realtime"}}"#,
                Some("session.model"),
            ),
            (
                r#"{"type":"session.update","session":{"type":"realtime"}}"#,
                Some("session.type"),
            ),
            (
                r#"{"type":"session.update","session":{"instructions":"x"}}"#,
                Some("session.instructions"),
            ),
            (
                r#"{"type":"session.update","session":{"audio":{"input":{"transcription":{"model":"whisper-1"}}}}}"#,
                Some("session.audio.input.transcription.model"),
            ),
            (
                r#"{"type":"session.input_audio_buffer.append","audio":"not base64!"}"#,
                Some("audio"),
            ),
            (
                r#"{"type":"session.input_audio_buffer.append"}"#,
                Some("audio"),
            ),
            (
                r#"{"type":"session.input_audio_buffer.append","audio":"AAAA","commit":true}"#,
                Some("commit"),
            ),
            (r#"{"type":"session.close","event_id":5}"#, Some("event_id")),
            (r#"{"type":"\u0073ession.close","x":1}"#, Some("x")),
            (r#"{"type":3}"#, Some("type")),
            (r#"[{"type":"session.close"}]"#, Some("type")),
            (r#"{}"#, Some("type")),
        ] {
            let err = refused(text);
            assert!(matches!(err.status(), 400 | 403), "{text}");
            assert_eq!(err.param.as_deref(), param, "{text}: {err}");
        }
        assert_eq!(refused("not json").code, ErrorCode::InvalidJson);
        assert_eq!(guard().client_binary().status(), 400);
        let huge = format!(
            r#"{{"type":"session.input_audio_buffer.append","audio":"{}"}}"#,
            "A".repeat(MAX_EVENT_BYTES)
        );
        assert_eq!(refused(&huge).code, ErrorCode::PayloadTooLarge);
    }
}
