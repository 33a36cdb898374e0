//! OpenAI GPT-Live over HTTP (`/v1/live/sessions`, on OpenAI and Azure):
//! the typed session configuration, the WebRTC create and the REST fork,
//! the SIP controls (`accept`, `hangup`, `refer`, `reject`) and the
//! recording download, as plans on the deployment that holds the session.
//!
//! GPT-Live has no ephemeral client keys: a page posts its SDP offer as JSON
//! (`{session, transport:{type:"webrtc", sdp}}`) to a server holding the
//! project key — here the gateway, reached with a virtual key or a browser
//! token. What goes upstream is the typed value re-serialized, never the
//! client's bytes: every field of the configuration is known (an unknown
//! one is a `400` naming it by its full path), the model is the
//! deployment's, and tool definitions, history items, Decisions questions
//! and triggers are checked as JSON objects and passed on.
//!
//! Authorization covers every model a session can spend on: the session's
//! own (`session.model`, which picks the model group) and the Responses or
//! Decisions model it delegates to (`session.delegation.*.model`), which
//! the caller's rules must allow by name (it runs in the deployment's
//! project under that name; it is not routed).
//!
//! The upstream session id is sealed ([`Purpose::LiveSession`], `live_…`)
//! for its deployment and owner (a key, or a browser token's visitor), so
//! the follow-ups, which carry only the id, reach the deployment holding
//! the session with its own credential, and only for their owner.
//!
//! The WebSocket side (`gpt_live_ws`) reuses [`SessionConfig`] with
//! [`ConfigUse::WebSocket`].

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::calls::check_sdp;
use crate::access::AccessPolicy;
use crate::config::{Config, Deployment, ModelGroup};
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::json::type_name;
use crate::plan::{Method, UpstreamRequest};
use crate::provider;
use crate::seal::{Keys, Owner, Purpose, UpstreamId};

/// Largest create or fork body: an SDP offer and a configuration with tools.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Largest control body (`accept`, `refer`, `reject`).
pub const MAX_CONTROL_BYTES: usize = 256 * 1024;
/// Most `input` history items a session takes.
pub const MAX_INPUT_ITEMS: usize = 128;
/// Where reelay serves GPT-Live sessions.
pub const SESSIONS_PATH: &str = "/v1/live/sessions";

/// Where a session configuration is used: each transport takes its own
/// fields (the SDK's `MediaSessionConfig`, `SessionConfig` and the SIP
/// `accept` session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigUse {
    /// `POST /v1/live/sessions` with a WebRTC offer: `client`,
    /// `wake_policy` and `idle_timeout_s`; no `audio.format`.
    WebRtc,
    /// `session.start` on the primary WebSocket: `client` and
    /// `audio.format`; no standby settings.
    WebSocket,
    /// `POST …/{id}/accept` of an incoming SIP call: `type: "live"`
    /// required; no `client`, standby or `audio.format`.
    SipAccept,
}

/// A GPT-Live session configuration, typed (SDK `MediaSessionConfig` /
/// `SessionConfig` / accept `Session`). Serializes to the upstream's shape;
/// `null`s the client sent are left out (upstream they mean "omitted").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionConfig {
    /// `"live"`, on SIP accept only.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The Live model: the model group the client names, the deployment's
    /// model once planned.
    pub model: String,
    /// Frontend instructions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Voice (and, on the WebSocket, the audio format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioConfig>,
    /// Who handles delegated tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Delegation>,
    /// Text-only history items (each a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<Value>>,
    /// What an untrusted WebRTC frontend may send and receive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientConfig>,
    /// Whether the session is stored (for fork and the recording).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Decisions triggers (each a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<Value>>,
    /// A stable id of the end user, for abuse detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// Standby: what resumes inference after an idle pause (WebRTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_policy: Option<WakePolicy>,
    /// Standby: idle seconds before inference pauses (WebRTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<u32>,
}

/// `session.audio`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioConfig {
    /// Primary WebSocket only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<AudioFormat>,
    /// The output voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<AudioOutput>,
}

/// `session.audio.format`: `audio/pcm` at 16 or 24 kHz, `audio/pcmu` or
/// `audio/pcma` at 8 kHz.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioFormat {
    /// The encoding.
    #[serde(rename = "type")]
    pub kind: String,
    /// The sample rate.
    pub rate: u32,
}

/// `session.audio.output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioOutput {
    /// A built-in voice name, or a custom voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
}

/// A voice: a built-in name (`marin`, `cedar`, …) or `{id}` of a custom voice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Voice {
    /// A built-in voice.
    Named(String),
    /// A custom voice.
    Custom {
        /// Its id.
        id: String,
    },
}

/// `session.client`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConfig {
    /// The frontend data channel's permissions.
    pub data_channel: DataChannel,
}

/// `session.client.data_channel`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataChannel {
    /// Client event types the frontend may send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_client_events: Option<Allowed>,
    /// Server events the frontend may receive (names, or selectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_server_events: Option<Allowed>,
}

/// `"all"`, or a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Allowed {
    /// Every event.
    All,
    /// Only these (strings, or selector objects for server events).
    Only(Vec<Value>),
}

impl Serialize for Allowed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("all"),
            Self::Only(list) => list.serialize(s),
        }
    }
}

/// `session.wake_policy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WakePolicy {
    /// Always `speech`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Speech threshold, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vad_threshold: Option<f64>,
}

/// `session.delegation`.
#[derive(Debug, Clone, PartialEq)]
pub enum Delegation {
    /// The application handles delegated tasks.
    Client {
        /// `acknowledgement_delay_ms`.
        ack_delay_ms: Option<u32>,
    },
    /// A Responses model handles them.
    Responses {
        /// The backend's settings.
        responses: ResponsesDelegation,
        /// `acknowledgement_delay_ms`.
        ack_delay_ms: Option<u32>,
    },
    /// The Decisions API handles them.
    Decisions {
        /// The model and questions.
        decisions: DecisionsDelegation,
        /// `acknowledgement_delay_ms`.
        ack_delay_ms: Option<u32>,
    },
}

impl Delegation {
    /// The model the session delegates to, with its request path.
    pub fn model(&self) -> Option<(&str, &'static str)> {
        match self {
            Self::Client { .. } => None,
            Self::Responses { responses, .. } => responses
                .model
                .as_deref()
                .map(|m| (m, "session.delegation.responses.model")),
            Self::Decisions { decisions, .. } => {
                Some((&decisions.model, "session.delegation.decisions.model"))
            }
        }
    }
}

impl Serialize for Delegation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let ack = match self {
            Self::Client { ack_delay_ms } => {
                map.serialize_entry("type", "client")?;
                ack_delay_ms
            }
            Self::Responses {
                responses,
                ack_delay_ms,
            } => {
                map.serialize_entry("type", "responses")?;
                map.serialize_entry("responses", responses)?;
                ack_delay_ms
            }
            Self::Decisions {
                decisions,
                ack_delay_ms,
            } => {
                map.serialize_entry("type", "decisions")?;
                map.serialize_entry("decisions", decisions)?;
                ack_delay_ms
            }
        };
        if let Some(ms) = ack {
            map.serialize_entry("acknowledgement_delay_ms", ms)?;
        }
        map.end()
    }
}

/// `delegation.responses`: the Responses backend (`model` required on a
/// create, optional in a fork's update).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponsesDelegation {
    /// The Responses model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The backend prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Output cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Parallel tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// `{effort, summary}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Service tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// `{verbosity}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextSettings>,
    /// A tool choice (string or object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Tool definitions (each a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
}

/// `delegation.responses.reasoning`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reasoning {
    /// Effort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `delegation.responses.text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextSettings {
    /// Verbosity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
}

/// `delegation.decisions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionsDelegation {
    /// The Decisions model.
    pub model: String,
    /// Questions (each a JSON object).
    pub questions: Vec<Value>,
}

/// `transport` of a create or fork: a WebRTC offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebRtcTransport {
    /// Always `webrtc`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The SDP offer (checked like realtime calls').
    pub sdp: String,
}

// ---- strict reading of JSON objects, with full paths in errors ----

fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    let message = message.into();
    ClientError::new(ErrorCode::InvalidRequest, format!("`{param}` {message}")).with_param(param)
}

/// One JSON object being read, and where it sits in the request.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn of(value: &'a Value, path: &str) -> Result<Self, ClientError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_owned(),
            }),
            other => Err(invalid(
                path,
                format!("must be a JSON object, got {}", type_name(other)),
            )),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Refuses any field not in `known`.
    fn only(&self, known: &[&str], what: &str) -> Result<(), ClientError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(invalid(
                &self.path(k),
                format!(
                    "is not a field of {what}; known fields: {}",
                    known.join(", ")
                ),
            )),
        }
    }

    /// The value of `key`; `null` reads as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, ClientError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(
                &self.path(key),
                format!("must be a string, got {}", type_name(other)),
            )),
        }
    }

    fn required_string(&self, key: &str, what: &str) -> Result<String, ClientError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(invalid(&self.path(key), "must not be empty")),
            None => Err(invalid(&self.path(key), format!("is required: {what}"))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ClientError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(invalid(
                &self.path(key),
                format!("must be a boolean, got {}", type_name(other)),
            )),
        }
    }

    fn uint(&self, key: &str, max: u64) -> Result<Option<u64>, ClientError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(invalid(
                    &self.path(key),
                    format!("must be a whole number from 0 to {max}, got {v}"),
                )),
            },
        }
    }

    fn u32(&self, key: &str) -> Result<Option<u32>, ClientError> {
        Ok(self
            .uint(key, u64::from(u32::MAX))?
            .and_then(|n| u32::try_from(n).ok()))
    }

    fn object(&self, key: &str) -> Result<Option<Obj<'a>>, ClientError> {
        self.get(key)
            .map(|v| Obj::of(v, &self.path(key)))
            .transpose()
    }

    /// A list of JSON objects (tools, history items, questions), at most `max`.
    fn objects(&self, key: &str, max: usize) -> Result<Option<Vec<Value>>, ClientError> {
        let path = self.path(key);
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(invalid(
                &path,
                format!("must be an array, got {}", type_name(value)),
            ));
        };
        if items.len() > max {
            return Err(invalid(&path, format!("takes at most {max} items")));
        }
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(invalid(
                    &format!("{path}[{i}]"),
                    format!("must be a JSON object, got {}", type_name(item)),
                ));
            }
        }
        Ok(Some(items.clone()))
    }

    /// One of `allowed` strings.
    fn choice(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, ClientError> {
        match self.string(key)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(invalid(
                &self.path(key),
                format!("must be one of {}, got {s:?}", allowed.join(", ")),
            )),
            other => Ok(other),
        }
    }
}

/// Parses a JSON body into an object (`invalid_json` when it is not JSON).
fn parse_object(body: &[u8]) -> Result<Value, ClientError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
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

const SESSION_FIELDS: &[&str] = &[
    "type",
    "model",
    "instructions",
    "audio",
    "delegation",
    "input",
    "client",
    "store",
    "triggers",
    "safety_identifier",
    "wake_policy",
    "idle_timeout_s",
];

impl SessionConfig {
    /// Reads the configuration at `path` (`"session"`) for `usage`.
    pub fn parse(value: &Value, path: &str, usage: ConfigUse) -> Result<Self, ClientError> {
        let obj = Obj::of(value, path)?;
        obj.only(SESSION_FIELDS, "a GPT-Live session configuration")?;
        let only_on = |key: &str, transport: &str| -> Result<(), ClientError> {
            if obj.map.contains_key(key) {
                return Err(invalid(
                    &obj.path(key),
                    format!("is accepted only {transport}"),
                ));
            }
            Ok(())
        };
        let kind = match usage {
            ConfigUse::SipAccept => match obj.string("type")?.as_deref() {
                Some("live") => Some("live"),
                Some(other) => {
                    return Err(invalid(
                        &obj.path("type"),
                        format!("must be \"live\", got {other:?}"),
                    ))
                }
                None => return Err(invalid(&obj.path("type"), "is required: \"live\"")),
            },
            ConfigUse::WebRtc | ConfigUse::WebSocket => {
                only_on("type", "when accepting a SIP call")?;
                None
            }
        };
        match usage {
            ConfigUse::WebRtc => {}
            ConfigUse::WebSocket | ConfigUse::SipAccept => {
                only_on("wake_policy", "when creating a WebRTC session")?;
                only_on("idle_timeout_s", "when creating a WebRTC session")?;
            }
        }
        if usage == ConfigUse::SipAccept {
            only_on("client", "for WebRTC and WebSocket sessions")?;
        }
        let model = obj.required_string("model", "the Live model to use")?;
        let audio = obj
            .object("audio")?
            .map(|a| parse_audio(&a, usage))
            .transpose()?;
        let delegation = obj
            .object("delegation")?
            .map(|d| parse_delegation(&d))
            .transpose()?;
        let client = obj
            .object("client")?
            .map(|c| parse_client(&c))
            .transpose()?;
        let wake_policy = obj
            .object("wake_policy")?
            .map(|w| parse_wake_policy(&w))
            .transpose()?;
        Ok(Self {
            kind,
            model,
            instructions: obj.string("instructions")?,
            audio,
            delegation,
            input: obj.objects("input", MAX_INPUT_ITEMS)?,
            client,
            store: obj.bool("store")?,
            triggers: obj.objects("triggers", 16)?,
            safety_identifier: obj.string("safety_identifier")?,
            wake_policy,
            idle_timeout_s: obj.u32("idle_timeout_s")?,
        })
    }

    /// Checks `policy` allows every model the session would spend on: the
    /// session's own (returning its model group) and its delegation's.
    pub fn authorize<'c>(
        &self,
        config: &'c Config,
        policy: &AccessPolicy,
        path: &str,
    ) -> Result<&'c ModelGroup, ClientError> {
        let group =
            crate::authorize::model_group(config, policy, &self.model, &format!("{path}.model"))?;
        check_delegation(self.delegation.as_ref(), policy)?;
        Ok(group)
    }
}

fn parse_audio(obj: &Obj<'_>, usage: ConfigUse) -> Result<AudioConfig, ClientError> {
    obj.only(&["format", "output"], "`audio`")?;
    let format = match obj.object("format")? {
        None => None,
        Some(_) if usage != ConfigUse::WebSocket => {
            return Err(invalid(
                &obj.path("format"),
                "is accepted only on the primary WebSocket; WebRTC and SIP negotiate their audio format",
            ))
        }
        Some(f) => {
            f.only(&["type", "rate"], "an audio format")?;
            let kind = f.required_string("type", "the audio encoding")?;
            let rate = f.u32("rate")?;
            let allowed: &[u32] = match kind.as_str() {
                "audio/pcm" => &[16000, 24000],
                "audio/pcmu" | "audio/pcma" => &[8000],
                other => {
                    return Err(invalid(
                        &f.path("type"),
                        format!("must be audio/pcm, audio/pcmu or audio/pcma, got {other:?}"),
                    ))
                }
            };
            let rate = match rate {
                Some(r) if allowed.contains(&r) => r,
                _ => {
                    return Err(invalid(
                        &f.path("rate"),
                        format!("must be one of {allowed:?} for {kind}"),
                    ))
                }
            };
            Some(AudioFormat { kind, rate })
        }
    };
    let output = match obj.object("output")? {
        None => None,
        Some(o) => {
            o.only(&["voice"], "`audio.output`")?;
            let voice = match o.get("voice") {
                None => None,
                Some(Value::String(name)) if !name.is_empty() => Some(Voice::Named(name.clone())),
                Some(Value::Object(_)) => {
                    let v = o
                        .object("voice")?
                        .ok_or_else(|| invalid(&o.path("voice"), "is empty"))?;
                    v.only(&["id"], "a custom voice")?;
                    Some(Voice::Custom {
                        id: v.required_string("id", "the custom voice's id")?,
                    })
                }
                Some(other) => {
                    return Err(invalid(
                        &o.path("voice"),
                        format!(
                            "must be a voice name or {{\"id\": …}}, got {}",
                            type_name(other)
                        ),
                    ))
                }
            };
            Some(AudioOutput { voice })
        }
    };
    Ok(AudioConfig { format, output })
}

fn parse_ack(obj: &Obj<'_>) -> Result<Option<u32>, ClientError> {
    Ok(obj
        .uint("acknowledgement_delay_ms", 600_000)?
        .and_then(|n| u32::try_from(n).ok()))
}

fn parse_delegation(obj: &Obj<'_>) -> Result<Delegation, ClientError> {
    let kind = obj
        .choice("type", &["client", "responses", "decisions"])?
        .ok_or_else(|| {
            invalid(
                &obj.path("type"),
                "is required: client, responses or decisions",
            )
        })?;
    match kind.as_str() {
        "client" => {
            obj.only(&["type", "acknowledgement_delay_ms"], "a client delegation")?;
            Ok(Delegation::Client {
                ack_delay_ms: parse_ack(obj)?,
            })
        }
        "responses" => {
            obj.only(
                &["type", "responses", "acknowledgement_delay_ms"],
                "a responses delegation",
            )?;
            let responses = obj.object("responses")?.ok_or_else(|| {
                invalid(&obj.path("responses"), "is required: the Responses backend")
            })?;
            Ok(Delegation::Responses {
                responses: parse_responses(&responses, true)?,
                ack_delay_ms: parse_ack(obj)?,
            })
        }
        _ => {
            obj.only(
                &["type", "decisions", "acknowledgement_delay_ms"],
                "a decisions delegation",
            )?;
            let decisions = obj.object("decisions")?.ok_or_else(|| {
                invalid(
                    &obj.path("decisions"),
                    "is required: the Decisions model and questions",
                )
            })?;
            decisions.only(&["model", "questions"], "`decisions`")?;
            Ok(Delegation::Decisions {
                decisions: DecisionsDelegation {
                    model: decisions.required_string("model", "the Decisions model")?,
                    questions: decisions
                        .objects("questions", 64)?
                        .ok_or_else(|| invalid(&decisions.path("questions"), "is required"))?,
                },
                ack_delay_ms: parse_ack(obj)?,
            })
        }
    }
}

const RESPONSES_FIELDS: &[&str] = &[
    "model",
    "instructions",
    "max_output_tokens",
    "parallel_tool_calls",
    "reasoning",
    "service_tier",
    "text",
    "tool_choice",
    "tools",
];

fn parse_responses(
    obj: &Obj<'_>,
    model_required: bool,
) -> Result<ResponsesDelegation, ClientError> {
    obj.only(RESPONSES_FIELDS, "the Responses backend")?;
    let model = if model_required {
        Some(obj.required_string("model", "the Responses model")?)
    } else {
        match obj.string("model")? {
            Some(m) if m.trim().is_empty() => {
                return Err(invalid(&obj.path("model"), "must not be empty"))
            }
            other => other,
        }
    };
    let reasoning = match obj.object("reasoning")? {
        None => None,
        Some(r) => {
            r.only(&["effort", "summary"], "`reasoning`")?;
            Some(Reasoning {
                effort: r.choice(
                    "effort",
                    &["none", "minimal", "low", "medium", "high", "xhigh"],
                )?,
                summary: r.choice("summary", &["concise", "detailed", "auto"])?,
            })
        }
    };
    let text = match obj.object("text")? {
        None => None,
        Some(t) => {
            t.only(&["verbosity"], "`text`")?;
            Some(TextSettings {
                verbosity: t.choice("verbosity", &["low", "medium", "high"])?,
            })
        }
    };
    let tool_choice = match obj.get("tool_choice") {
        None => None,
        Some(v @ (Value::String(_) | Value::Object(_))) => Some(v.clone()),
        Some(other) => {
            return Err(invalid(
                &obj.path("tool_choice"),
                format!("must be a string or an object, got {}", type_name(other)),
            ))
        }
    };
    Ok(ResponsesDelegation {
        model,
        instructions: obj.string("instructions")?,
        max_output_tokens: obj.uint("max_output_tokens", 1 << 32)?,
        parallel_tool_calls: obj.bool("parallel_tool_calls")?,
        reasoning,
        service_tier: obj.string("service_tier")?,
        text,
        tool_choice,
        tools: obj.objects("tools", 128)?,
    })
}

fn parse_allowed(
    obj: &Obj<'_>,
    key: &str,
    strings_only: bool,
) -> Result<Option<Allowed>, ClientError> {
    let path = obj.path(key);
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s == "all" => Ok(Some(Allowed::All)),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let ok = item.is_string() || (!strings_only && item.is_object());
                if !ok {
                    return Err(invalid(
                        &format!("{path}[{i}]"),
                        format!("must be an event type, got {}", type_name(item)),
                    ));
                }
            }
            Ok(Some(Allowed::Only(items.clone())))
        }
        Some(other) => Err(invalid(
            &path,
            format!("must be \"all\" or a list, got {other}"),
        )),
    }
}

fn parse_client(obj: &Obj<'_>) -> Result<ClientConfig, ClientError> {
    obj.only(&["data_channel"], "`client`")?;
    let channel = obj
        .object("data_channel")?
        .ok_or_else(|| invalid(&obj.path("data_channel"), "is required"))?;
    channel.only(
        &["allowed_client_events", "allowed_server_events"],
        "`data_channel`",
    )?;
    Ok(ClientConfig {
        data_channel: DataChannel {
            allowed_client_events: parse_allowed(&channel, "allowed_client_events", true)?,
            allowed_server_events: parse_allowed(&channel, "allowed_server_events", false)?,
        },
    })
}

fn parse_wake_policy(obj: &Obj<'_>) -> Result<WakePolicy, ClientError> {
    obj.only(&["type", "vad_threshold"], "`wake_policy`")?;
    obj.choice("type", &["speech"])?
        .ok_or_else(|| invalid(&obj.path("type"), "is required: \"speech\""))?;
    let vad_threshold = match obj.get("vad_threshold") {
        None => None,
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Some(t),
            _ => {
                return Err(invalid(
                    &obj.path("vad_threshold"),
                    format!("must be a number from 0 to 1, got {v}"),
                ))
            }
        },
    };
    Ok(WakePolicy {
        kind: "speech",
        vad_threshold,
    })
}

fn parse_transport(value: Option<&Value>) -> Result<WebRtcTransport, ClientError> {
    let value = value.ok_or_else(|| {
        invalid(
            "transport",
            "is required: {\"type\": \"webrtc\", \"sdp\": <the SDP offer>}",
        )
    })?;
    let obj = Obj::of(value, "transport")?;
    obj.only(&["type", "sdp"], "`transport`")?;
    match obj.string("type")?.as_deref() {
        Some("webrtc") => {}
        Some(other) => {
            return Err(invalid(
                "transport.type",
                format!(
                    "must be \"webrtc\", got {other:?} (the WebSocket transport is GET {SESSIONS_PATH} with an upgrade)"
                ),
            ))
        }
        None => return Err(invalid("transport.type", "is required: \"webrtc\"")),
    }
    let sdp = obj
        .string("sdp")?
        .ok_or_else(|| invalid("transport.sdp", "is required: the SDP offer"))?;
    let sdp = check_sdp(sdp.as_bytes()).map_err(|e| match e.code {
        ErrorCode::InvalidRequest => invalid(
            "transport.sdp",
            "is not an SDP offer (it must start with the line `v=0`)",
        ),
        _ => e.with_param("transport.sdp"),
    })?;
    Ok(WebRtcTransport {
        kind: "webrtc",
        sdp,
    })
}

/// Checks `policy` allows the model a delegation runs on.
fn check_delegation(
    delegation: Option<&Delegation>,
    policy: &AccessPolicy,
) -> Result<(), ClientError> {
    match delegation.and_then(Delegation::model) {
        Some((model, param)) if !policy.allows(model) => Err(delegation_denied(model, param)),
        _ => Ok(()),
    }
}

fn delegation_denied(model: &str, param: &str) -> ClientError {
    ClientError::new(
        ErrorCode::ModelAccessDenied,
        format!("this key may not use model {model:?}, which the session delegates to"),
    )
    .with_param(param)
}

// ---- the upstream ----

/// Where `dep` serves GPT-Live sessions, or a `400` naming `param` for a
/// deployment of a provider without it.
fn sessions_url(dep: &Deployment, param: &str) -> Result<(String, crate::plan::Auth), ClientError> {
    provider::gpt_live_api(dep)
        .map(|api| (api.sessions_url, api.auth))
        .ok_or_else(|| {
            ClientError::new(
                ErrorCode::UnsupportedValue,
                format!(
                    "this model is served by a {} deployment, which has no GPT-Live API",
                    dep.provider.as_str()
                ),
            )
            .with_param(param)
        })
}

/// `POST /v1/live/sessions`: a WebRTC session.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// The session configuration (its model is the client's).
    pub session: SessionConfig,
    /// The offer.
    pub transport: WebRtcTransport,
}

#[derive(Serialize)]
struct Outgoing<'a, S: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a S>,
    transport: &'a WebRtcTransport,
}

impl CreateRequest {
    /// Reads a create body: `{session, transport:{type:"webrtc", sdp}}`.
    pub fn parse(body: &[u8]) -> Result<Self, ClientError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        let value = parse_object(body)?;
        let obj = Obj::of(&value, "")?;
        obj.only(&["session", "transport"], "a GPT-Live session create")?;
        let session = obj.get("session").ok_or_else(|| {
            invalid(
                "session",
                "is required: the session configuration with its model",
            )
        })?;
        Ok(Self {
            session: SessionConfig::parse(session, "session", ConfigUse::WebRtc)?,
            transport: parse_transport(obj.get("transport"))?,
        })
    }

    /// The model the session names.
    pub fn model(&self) -> &str {
        &self.session.model
    }

    /// The model group, when `policy` allows it and the delegation's model.
    pub fn authorize<'c>(
        &self,
        config: &'c Config,
        policy: &AccessPolicy,
    ) -> Result<&'c ModelGroup, ClientError> {
        self.session.authorize(config, policy, "session")
    }

    /// The upstream create on `dep`: its URL and credential, the model
    /// swapped for the deployment's.
    pub fn plan_for(&self, dep: &Deployment) -> Result<UpstreamRequest, ClientError> {
        let (url, auth) = sessions_url(dep, "session.model")?;
        let mut session = self.session.clone();
        session.model = dep.model.clone();
        Ok(UpstreamRequest {
            method: Method::Post,
            url,
            auth,
            json_body: Some(to_json(&Outgoing {
                session: Some(&session),
                transport: &self.transport,
            })?),
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|_| ClientError::from_code(ErrorCode::Internal))
}

/// `session` of a REST fork: overrides of the stored session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkConfig {
    /// Frontend permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientConfig>,
    /// An update of the Responses backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<ForkDelegation>,
    /// Whether the fork is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
}

/// `session.delegation` of a fork: an update of the Responses backend,
/// which keeps the stored session's delegation owner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkDelegation {
    /// Always `responses`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The settings to change (a new `model` among them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<ResponsesDelegation>,
    /// Acknowledgement delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledgement_delay_ms: Option<u32>,
}

/// `POST /v1/live/sessions/{id}/fork`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkRequest {
    /// Overrides, if any.
    pub session: Option<ForkConfig>,
    /// The new connection's offer.
    pub transport: WebRtcTransport,
}

impl ForkRequest {
    /// Reads a fork body: `{transport, session?:{client?, delegation?, store?}}`.
    pub fn parse(body: &[u8]) -> Result<Self, ClientError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        let value = parse_object(body)?;
        let obj = Obj::of(&value, "")?;
        obj.only(&["session", "transport"], "a GPT-Live fork")?;
        let session = match obj.object("session")? {
            None => None,
            Some(s) => {
                s.only(
                    &["client", "delegation", "store"],
                    "a fork's overrides (the model, voice and instructions come from the stored session)",
                )?;
                let delegation = match s.object("delegation")? {
                    None => None,
                    Some(d) => {
                        d.only(
                            &["type", "responses", "acknowledgement_delay_ms"],
                            "a fork's delegation update",
                        )?;
                        d.choice("type", &["responses"])?.ok_or_else(|| {
                            invalid(&d.path("type"), "is required: \"responses\"")
                        })?;
                        Some(ForkDelegation {
                            kind: "responses",
                            responses: d
                                .object("responses")?
                                .map(|r| parse_responses(&r, false))
                                .transpose()?,
                            acknowledgement_delay_ms: parse_ack(&d)?,
                        })
                    }
                };
                Some(ForkConfig {
                    client: s.object("client")?.map(|c| parse_client(&c)).transpose()?,
                    delegation,
                    store: s.bool("store")?,
                })
            }
        };
        Ok(Self {
            session,
            transport: parse_transport(obj.get("transport"))?,
        })
    }

    /// Checks `policy` may use the stored session's model group and any
    /// model the fork delegates to.
    pub fn authorize(&self, group: &ModelGroup, policy: &AccessPolicy) -> Result<(), ClientError> {
        check_session_access(group, policy)?;
        let model = self
            .session
            .as_ref()
            .and_then(|s| s.delegation.as_ref())
            .and_then(|d| d.responses.as_ref())
            .and_then(|r| r.model.as_deref());
        match model {
            Some(model) if !policy.allows(model) => Err(delegation_denied(
                model,
                "session.delegation.responses.model",
            )),
            _ => Ok(()),
        }
    }

    /// The upstream fork of `session` on its deployment `dep`.
    pub fn plan(
        &self,
        dep: &Deployment,
        session: &UpstreamId,
    ) -> Result<UpstreamRequest, ClientError> {
        let (base, auth) = sessions_url(dep, "session_id")?;
        Ok(UpstreamRequest {
            method: Method::Post,
            url: format!("{base}/{}/fork", session.id),
            auth,
            json_body: Some(to_json(&Outgoing {
                session: self.session.as_ref(),
                transport: &self.transport,
            })?),
        })
    }
}

/// Whether a key with `policy` may still use the model group `group` of a
/// session it holds.
pub fn check_session_access(group: &ModelGroup, policy: &AccessPolicy) -> Result<(), ClientError> {
    if policy.allows(&group.name) {
        Ok(())
    } else {
        Err(ClientError::new(
            ErrorCode::ModelAccessDenied,
            format!("this key may no longer use model {:?}", group.name),
        ))
    }
}

/// A control of a session (SIP calls; `hangup` ends any session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Answer an incoming SIP call with a session configuration.
    Accept,
    /// End the session.
    Hangup,
    /// Transfer a SIP call (`target_uri`: `tel:` or `sip:`).
    Refer,
    /// Decline an incoming SIP call (`status_code` 300..=699).
    Reject,
}

impl Control {
    /// Parses a path segment.
    pub fn parse(segment: &str) -> Option<Self> {
        match segment {
            "accept" => Some(Self::Accept),
            "hangup" => Some(Self::Hangup),
            "refer" => Some(Self::Refer),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }

    /// The path segment.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Hangup => "hangup",
            Self::Refer => "refer",
            Self::Reject => "reject",
        }
    }
}

/// Plans `control` of `session` on its deployment `dep` (of `group`), with
/// the deployment's own credential. `body` is the client's JSON: `accept`
/// takes `{session:{type:"live", model, …}}` — the model must be the
/// session's own group (rewritten to the deployment's model) and the
/// caller's rules must allow it and any delegation; `refer` takes
/// `{target_uri}` (`tel:` or `sip:`); `reject` `{status_code}` (300..=699);
/// `hangup` no body.
pub fn plan_control(
    group: &ModelGroup,
    dep: &Deployment,
    policy: &AccessPolicy,
    session: &UpstreamId,
    control: Control,
    body: &[u8],
) -> Result<UpstreamRequest, ClientError> {
    if body.len() > MAX_CONTROL_BYTES {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {MAX_CONTROL_BYTES} bytes"),
        ));
    }
    check_session_access(group, policy)?;
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let value = if blank {
        Value::Object(Map::new())
    } else {
        parse_object(body)?
    };
    let obj = Obj::of(&value, "")?;
    let json_body = match control {
        Control::Hangup => {
            obj.only(&[], "a hangup (it takes no body)")?;
            None
        }
        Control::Accept => {
            obj.only(&["session"], "an accept")?;
            let raw = obj.get("session").ok_or_else(|| {
                invalid("session", "is required: {\"type\": \"live\", \"model\": …}")
            })?;
            let mut config = SessionConfig::parse(raw, "session", ConfigUse::SipAccept)?;
            if !policy.allows(&config.model) {
                return Err(ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!("this key may not use model {:?}", config.model),
                )
                .with_param("session.model"));
            }
            if config.model != group.name {
                return Err(invalid(
                    "session.model",
                    format!("must be {:?}, the model of this session", group.name),
                ));
            }
            check_delegation(config.delegation.as_ref(), policy)?;
            config.model = dep.model.clone();
            let mut out = Map::new();
            out.insert(
                "session".into(),
                serde_json::to_value(&config)
                    .map_err(|_| ClientError::from_code(ErrorCode::Internal))?,
            );
            Some(Value::Object(out).to_string())
        }
        Control::Refer => {
            obj.only(&["target_uri"], "a refer")?;
            let uri =
                obj.required_string("target_uri", "the tel: or sip: URI to transfer the call to")?;
            let scheme_ok = ["tel:", "sip:", "sips:"].iter().any(|s| {
                uri.len() > s.len()
                    && uri
                        .get(..s.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(s))
            });
            if !scheme_ok || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(invalid(
                    "target_uri",
                    format!("must be a tel: or sip: URI, got {uri:?}"),
                ));
            }
            let mut out = Map::new();
            out.insert("target_uri".into(), Value::String(uri));
            Some(Value::Object(out).to_string())
        }
        Control::Reject => {
            obj.only(&["status_code"], "a reject")?;
            let code = match obj.get("status_code") {
                None => {
                    return Err(invalid(
                        "status_code",
                        "is required: a SIP status from 300 to 699",
                    ))
                }
                Some(v) => match v.as_u64() {
                    Some(c) if (300..=699).contains(&c) => c,
                    _ => {
                        return Err(invalid(
                            "status_code",
                            format!("must be a SIP status from 300 to 699, got {v}"),
                        ))
                    }
                },
            };
            let mut out = Map::new();
            out.insert("status_code".into(), Value::from(code));
            Some(Value::Object(out).to_string())
        }
    };
    let (base, auth) = sessions_url(dep, "session_id")?;
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!("{base}/{}/{}", session.id, control.as_str()),
        auth,
        json_body,
    })
}

/// Plans the recording download of `session` on its deployment `dep`.
pub fn plan_content(
    group: &ModelGroup,
    dep: &Deployment,
    policy: &AccessPolicy,
    session: &UpstreamId,
) -> Result<UpstreamRequest, ClientError> {
    check_session_access(group, policy)?;
    let (base, auth) = sessions_url(dep, "session_id")?;
    Ok(UpstreamRequest {
        method: Method::Get,
        url: format!("{base}/{}/content", session.id),
        auth,
        json_body: None,
    })
}

/// What the upstream answered to a create or fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The upstream session id.
    pub id: String,
    /// The SDP answer.
    pub sdp: String,
}

/// Reads the upstream's `{session:{id}, transport:{type:"webrtc", sdp}}`.
pub fn parse_created(body: &[u8]) -> Result<Created, UpstreamError> {
    let bad = |why: &str| UpstreamError::unreadable(None, why);
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| bad("the provider's GPT-Live answer is not JSON"))?;
    let id = value
        .pointer("/session/id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("the provider's GPT-Live answer has no session.id"))?;
    let sdp = value
        .pointer("/transport/sdp")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("v=0"))
        .ok_or_else(|| bad("the provider's GPT-Live answer has no SDP answer"))?;
    Ok(Created {
        id: id.to_owned(),
        sdp: sdp.to_owned(),
    })
}

/// Seals the upstream session id for `owner` on `deployment`: the id
/// clients use with reelay (`live_…`).
pub fn seal_session_id(
    keys: &Keys,
    owner: Owner,
    deployment: &str,
    upstream_id: &str,
    now_ms: u64,
) -> Result<String, ClientError> {
    keys.seal_upstream_id(Purpose::LiveSession, owner, deployment, upstream_id, now_ms)
        .map_err(|e| e.to_client(Purpose::LiveSession))
}

/// Opens a sealed session id for `caller`: forged, tampered and other
/// owners' ids all answer `404 live_session_not_found`.
pub fn open_session_id(keys: &Keys, id: &str, caller: &Owner) -> Result<UpstreamId, ClientError> {
    keys.open_upstream_id(Purpose::LiveSession, id, caller)
        .map_err(|e| e.to_client(Purpose::LiveSession))
}

/// reelay's answer to a create or fork: the sealed id and the SDP answer.
pub fn answer(sealed_id: &str, sdp: &str) -> String {
    serde_json::json!({
        "session": {"id": sealed_id},
        "transport": {"type": "webrtc", "sdp": sdp},
    })
    .to_string()
}

/// The answer for a create (or fork) whose upstream call went out but
/// whose outcome is unknown — no answer in time, the connection lost, or
/// an accepted session the gateway could not read (`answered_ok`): the
/// session may be running, so this is `424 create_outcome_unknown`, never a
/// 5xx the SDKs would resend (a second session). Refusals (an error status)
/// and local failures pass through.
pub fn create_outcome_unknown(err: ClientError, answered_ok: bool) -> ClientError {
    let unknown = answered_ok
        || matches!(
            err.code,
            ErrorCode::UpstreamTimeout
                | ErrorCode::UpstreamNetwork
                | ErrorCode::BadUpstreamResponse
        );
    if !unknown || err.code == ErrorCode::CreateOutcomeUnknown {
        return err;
    }
    ClientError::new(
        ErrorCode::CreateOutcomeUnknown,
        format!(
            "the provider may have started this live session, but the gateway could not confirm it ({}); \
             it was not resent, and is answered without a 5xx so that clients do not resend it either",
            err.message
        ),
    )
}

#[cfg(test)]
mod tests;
