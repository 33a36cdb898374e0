//! `POST /v1/realtime/calls` (the WebRTC SDP exchange) and call control.
//!
//! Two ways in, two request forms:
//!
//! | caller | body | upstream |
//! |---|---|---|
//! | browser with a reelay token | raw `application/sdp`, or multipart `sdp` (+ optional `session`) | the **exact deployment that minted the token**, `Authorization: Bearer ek_…` (the upstream's ephemeral key), body form kept |
//! | server with a virtual key | multipart `sdp` + `session` naming the model | access check by that name, routed by model group, the deployment's own key |
//!
//! The upstream answers `201` with the SDP answer and `Location:
//! /v1/realtime/calls/rtc_…`; reelay answers with the SDP unchanged and its
//! own `Location` holding a **sealed call id** ([`Purpose::RealtimeCall`]:
//! deployment + owner + upstream call id, authenticated), so
//! `POST /v1/realtime/calls/{id}/accept|hangup|refer|reject` reaches the
//! deployment holding the call, with that deployment's real key, and only for
//! the key that started it.
//!
//! Multipart parsing and encoding are the host's (the Workers runtime has
//! its own `FormData`); this module sees the parts' text.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use serde_json::{Map, Value};

use super::session::{authorize, invalid, model_at, session_kind, set_model};
use super::token::{TokenClaims, UpstreamKey};
use super::{check_provider, deployment_auth, realtime_base, SessionKind};
use crate::access::AccessPolicy;
use crate::config::{Config, Deployment, ModelGroup};

use crate::errors::{ClientError, ErrorCode};
use crate::json::type_name;
use crate::plan::{Auth, Method, UpstreamRequest};
use crate::route::pick_weighted;
use crate::seal::{Keys, Owner, Purpose, Sealed};

/// Largest SDP offer accepted (real offers are a few KiB).
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Largest `session` part or call-control body accepted.
pub const MAX_SESSION_BYTES: usize = 64 * 1024;
/// The parts a multipart `calls` request may have (each at most once).
pub const CALL_FORM_PARTS: &[&str] = &["sdp", "session"];
/// Largest multipart `calls` body: both parts at their limits, plus room
/// for the boundaries and part headers.
pub const MAX_CALL_FORM_BYTES: usize = MAX_SDP_BYTES + MAX_SESSION_BYTES + 16 * 1024;
/// Longest upstream call id reelay seals.
pub const MAX_CALL_ID_LEN: usize = 128;
/// Where reelay's call ids live (the `Location` of a new call).
pub const CALLS_PATH: &str = "/v1/realtime/calls";

/// The body of an upstream `calls` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallBody {
    /// Raw `application/sdp`.
    Sdp(String),
    /// `multipart/form-data`: an `sdp` part and, when given, a `session`
    /// part (JSON text).
    Multipart {
        /// The SDP offer.
        sdp: String,
        /// The session configuration, as JSON text.
        session: Option<String>,
    },
}

/// How the upstream `calls` request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCredential {
    /// `Authorization: Bearer <the upstream ephemeral key>` from a token.
    Ephemeral(UpstreamKey),
    /// The deployment's own credential.
    Deployment(Auth),
}

/// An upstream `calls` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    /// Absolute URL.
    pub url: String,
    /// Credential to attach.
    pub credential: CallCredential,
    /// Body.
    pub body: CallBody,
}

/// Validates an SDP offer: UTF-8, at most [`MAX_SDP_BYTES`], starting with
/// the `v=0` line every SDP starts with.
pub fn check_sdp(bytes: &[u8]) -> Result<String, ClientError> {
    if bytes.len() > MAX_SDP_BYTES {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("the SDP offer is larger than {MAX_SDP_BYTES} bytes"),
        )
        .with_param("sdp"));
    }
    let text = core::str::from_utf8(bytes).map_err(|_| invalid("sdp", "is not UTF-8 text"))?;
    if !text.trim_start_matches('\u{feff}').starts_with("v=0") {
        return Err(invalid(
            "sdp",
            "is not an SDP offer (it must start with the line `v=0`)",
        ));
    }
    Ok(text.to_owned())
}

fn parse_session(bytes: &[u8]) -> Result<Map<String, Value>, ClientError> {
    if bytes.len() > MAX_SESSION_BYTES {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("the session part is larger than {MAX_SESSION_BYTES} bytes"),
        )
        .with_param("session"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(
            "session",
            format!("must be a JSON object, got {}", type_name(&other)),
        )),
        Err(e) => Err(invalid("session", format!("is not valid JSON: {e}"))),
    }
}

/// Plans a call made with an opened realtime token: always on the token's
/// deployment `dep`, with the token's ephemeral key. A `session` part may
/// repeat the token's model group (rewritten to the upstream model) and
/// kind, but never name another.
pub fn plan_call_with_token(
    claims: &TokenClaims,
    dep: &Deployment,
    sdp: String,
    session: Option<&[u8]>,
) -> Result<CallPlan, ClientError> {
    check_provider(dep, &claims.model, "session.model")?;
    let body = match session {
        None => CallBody::Sdp(sdp),
        Some(bytes) => {
            let mut session = parse_session(bytes)?;
            if session.contains_key("type") && session_kind(&session)? != claims.kind {
                return Err(invalid(
                    "session.type",
                    format!(
                        "must be {:?}: the realtime token was minted for a {} session",
                        claims.kind.as_str(),
                        claims.kind.as_str()
                    ),
                ));
            }
            let (_, param) = claims.kind.model_path();
            match model_at(&session, claims.kind)? {
                None => {}
                Some(m) if m == claims.model => set_model(&mut session, claims.kind, &dep.model),
                Some(m) => {
                    return Err(invalid(
                        param,
                        format!(
                            "names {m:?}, but the realtime token was minted for {:?}",
                            claims.model
                        ),
                    ))
                }
            }
            CallBody::Multipart {
                sdp,
                session: Some(Value::Object(session).to_string()),
            }
        }
    };
    Ok(CallPlan {
        url: format!("{}/calls", realtime_base(dep)),
        credential: CallCredential::Ephemeral(claims.upstream_key.clone()),
        body,
    })
}

/// A call made with a virtual key: multipart `sdp` + `session`, whose
/// model picks the model group.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCall {
    sdp: String,
    session: Map<String, Value>,
    kind: SessionKind,
    model: String,
}

impl KeyCall {
    /// Validates the parts: `session` is required and must name the model.
    pub fn parse(sdp: String, session: Option<&[u8]>) -> Result<Self, ClientError> {
        let Some(bytes) = session else {
            return Err(invalid(
                "session",
                "is required with a virtual key: send multipart/form-data with `sdp` and a \
                 `session` naming the model (a browser sends the raw SDP with a token from \
                 POST /v1/realtime/client_secrets)",
            ));
        };
        let session = parse_session(bytes)?;
        let kind = session_kind(&session)?;
        let (_, param) = kind.model_path();
        let model = model_at(&session, kind)?
            .ok_or_else(|| invalid(param, "is required: the realtime model to use"))?
            .to_owned();
        Ok(Self {
            sdp,
            session,
            kind,
            model,
        })
    }

    /// The model the session names.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The session kind.
    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// The model group, if the key (`policy`) may use it (by the requested name).
    pub fn authorize<'c>(
        &self,
        config: &'c Config,
        policy: &AccessPolicy,
    ) -> Result<&'c ModelGroup, ClientError> {
        let (_, param) = self.kind.model_path();
        authorize(config, policy, &self.model, param)
    }

    /// The upstream call on `deployment`, with its own key and the model rewritten.
    pub fn plan_for(&self, deployment: &Deployment) -> Result<CallPlan, ClientError> {
        let (_, param) = self.kind.model_path();
        check_provider(deployment, &self.model, param)?;
        let mut session = self.session.clone();
        set_model(&mut session, self.kind, &deployment.model);
        Ok(CallPlan {
            url: format!("{}/calls", realtime_base(deployment)),
            credential: CallCredential::Deployment(deployment_auth(deployment)),
            body: CallBody::Multipart {
                sdp: self.sdp.clone(),
                session: Some(Value::Object(session).to_string()),
            },
        })
    }
}

/// What [`plan_call_with_key`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCallPlan<'c> {
    /// The model group the session named.
    pub group: &'c ModelGroup,
    /// The chosen deployment.
    pub deployment: &'c Deployment,
    /// The upstream call.
    pub call: CallPlan,
}

/// Plans a call made with a virtual key on one deployment picked by weight
/// (`random`: any uniform `u32`). Hosts with failover or cooldowns use
/// [`KeyCall`] directly.
pub fn plan_call_with_key<'c>(
    config: &'c Config,
    policy: &AccessPolicy,
    sdp: String,
    session: Option<&[u8]>,
    random: u32,
) -> Result<KeyCallPlan<'c>, ClientError> {
    let call = KeyCall::parse(sdp, session)?;
    let group = call.authorize(config, policy)?;
    let deployment = pick_weighted(group, random)
        .ok_or_else(|| ClientError::from_code(ErrorCode::ModelNotFound))?;
    Ok(KeyCallPlan {
        group,
        deployment,
        call: call.plan_for(deployment)?,
    })
}

/// The upstream call id in a `calls` answer's `Location`
/// (`/v1/realtime/calls/rtc_abc`, absolute or relative, query ignored):
/// its last path segment, when it is 1..=[`MAX_CALL_ID_LEN`] characters of
/// `[A-Za-z0-9_-]`.
pub fn call_id_from_location(location: &str) -> Option<&str> {
    let path = location.split(['?', '#']).next()?;
    let id = path.trim_end_matches('/').rsplit('/').next()?;
    let plausible = !id.is_empty()
        && id.len() <= MAX_CALL_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    plausible.then_some(id)
}

/// Seals an upstream call id for `owner` on `deployment`; the result is the
/// call id clients use with reelay.
pub fn seal_call_id(
    keys: &Keys,
    owner: Owner,
    deployment: &str,
    call_id: &str,
    now_ms: u64,
) -> Result<String, ClientError> {
    keys.seal_id(&Sealed {
        purpose: Purpose::RealtimeCall,
        owner,
        created_at_ms: now_ms,
        deployment: deployment.to_owned(),
        payload: call_id.as_bytes().to_vec(),
    })
    .map_err(|e| e.to_client(Purpose::RealtimeCall))
}

/// reelay's `Location` for a sealed call id.
pub fn location(sealed_id: &str) -> String {
    format!("{CALLS_PATH}/{sealed_id}")
}

/// An opened call id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCall {
    /// The deployment holding the call.
    pub deployment: String,
    /// The upstream call id (`rtc_…`).
    pub call_id: String,
}

/// Opens a sealed call id for `owner`. Malformed, tampered, foreign and
/// other keys' ids all answer the same `404 realtime_call_not_found`.
pub fn open_call_id(keys: &Keys, id: &str, owner: &Owner) -> Result<OpenedCall, ClientError> {
    let not_found = || Purpose::RealtimeCall.refusal();
    let sealed = keys
        .open_id(Purpose::RealtimeCall, id)
        .map_err(|e| e.to_client(Purpose::RealtimeCall))?;
    if !owner.may_open(&sealed.owner) {
        return Err(not_found());
    }
    let call_id = String::from_utf8(sealed.payload).map_err(|_| not_found())?;
    if call_id_from_location(&call_id) != Some(call_id.as_str()) {
        return Err(not_found());
    }
    Ok(OpenedCall {
        deployment: sealed.deployment,
        call_id,
    })
}

/// A call-control action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    /// Accept an incoming (SIP) call, configuring its session.
    Accept,
    /// End the call.
    Hangup,
    /// Transfer a SIP call (`target_uri`).
    Refer,
    /// Decline an incoming call (optional `status_code`).
    Reject,
}

impl CallAction {
    /// Every action.
    pub const ALL: &'static [CallAction] = &[
        CallAction::Accept,
        CallAction::Hangup,
        CallAction::Refer,
        CallAction::Reject,
    ];

    /// The path segment.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Hangup => "hangup",
            Self::Refer => "refer",
            Self::Reject => "reject",
        }
    }

    /// Parses a path segment.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == text)
    }
}

/// Plans a call-control request on the deployment `dep` (of `group`)
/// holding `call`, with the deployment's own key. `body` is the client's
/// JSON (may be empty): `accept` may name the model — only the call's own
/// model group, which `policy` must allow, rewritten to the upstream model;
/// `refer` needs `target_uri`; `reject` takes an optional `status_code`;
/// `hangup` sends no body.
pub fn plan_call_control(
    group: &ModelGroup,
    dep: &Deployment,
    policy: &AccessPolicy,
    call: &OpenedCall,
    action: CallAction,
    body: &[u8],
) -> Result<UpstreamRequest, ClientError> {
    if body.len() > MAX_SESSION_BYTES {
        return Err(ClientError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {MAX_SESSION_BYTES} bytes"),
        ));
    }
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let mut object = if blank {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    format!("the body must be a JSON object, got {}", type_name(&other)),
                ))
            }
            Err(e) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidJson,
                    format!("the request body is not valid JSON: {e}"),
                ))
            }
        }
    };
    let json_body = match action {
        CallAction::Hangup => None,
        CallAction::Accept => {
            match object.get("model") {
                None | Some(Value::Null) => {}
                Some(Value::String(m)) => {
                    if !policy.allows(m) {
                        return Err(ClientError::new(
                            ErrorCode::ModelAccessDenied,
                            format!("this key may not use model {m:?}"),
                        )
                        .with_param("model"));
                    }
                    if *m != group.name {
                        return Err(invalid(
                            "model",
                            format!("must be {:?}, the model of this call", group.name),
                        ));
                    }
                    object.insert("model".into(), Value::from(dep.model.as_str()));
                }
                Some(other) => {
                    return Err(invalid(
                        "model",
                        format!("must be a string, got {}", type_name(other)),
                    ))
                }
            }
            Some(Value::Object(object).to_string())
        }
        CallAction::Refer => {
            match object.get("target_uri") {
                Some(Value::String(uri)) if !uri.is_empty() => {}
                _ => {
                    return Err(invalid(
                        "target_uri",
                        "is required: the SIP URI to transfer the call to",
                    ))
                }
            }
            Some(Value::Object(object).to_string())
        }
        CallAction::Reject => {
            match object.get("status_code") {
                None | Some(Value::Null) => {}
                Some(v) if v.as_u64().is_some_and(|c| (100..700).contains(&c)) => {}
                Some(v) => {
                    return Err(invalid(
                        "status_code",
                        format!("must be a SIP status code (100..=699), got {v}"),
                    ))
                }
            }
            Some(Value::Object(object).to_string())
        }
    };
    Ok(UpstreamRequest {
        method: Method::Post,
        url: format!(
            "{}/calls/{}/{}",
            realtime_base(dep),
            call.call_id,
            action.as_str()
        ),
        auth: deployment_auth(dep),
        json_body,
    })
}

/// Whether a call on `dep` (under `group`) may be controlled by a key with
/// `policy`: the key must still be allowed the call's model group.
pub fn check_call_access(group: &ModelGroup, policy: &AccessPolicy) -> Result<(), ClientError> {
    if policy.allows(&group.name) {
        Ok(())
    } else {
        Err(ClientError::new(
            ErrorCode::ModelAccessDenied,
            format!("this key may no longer use model {:?}", group.name),
        ))
    }
}

/// The session kinds a `/calls` request accepts a token for.
pub const CALL_KINDS: &[SessionKind] = super::ALL_KINDS;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessGroups;
    use crate::realtime::token::TokenClaims;
    use crate::seal::OWNER_LEN;
    use serde_json::json;

    const SDP: &str =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[
              {"name":"gpt-realtime","deployments":[
                {"id":"openai-a","provider":"openai","model":"gpt-realtime-2025-08-28","credential":"K1","api_base":"https://a.example"},
                {"id":"azure-b","provider":"azure","model":"rt-deploy","credential":"K2","api_base":"https://b.openai.azure.com"}]},
              {"name":"gpt-4o-transcribe","deployments":[
                {"id":"openai-tr","provider":"openai","model":"gpt-4o-transcribe","credential":"K1"}]},
              {"name":"veo","deployments":[
                {"id":"g","provider":"gemini","model":"veo-3.1-generate-preview","credential":"G"}]}]}"#,
        )
        .unwrap()
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &AccessGroups::new()).unwrap()
    }

    fn claims(dep: &str) -> TokenClaims {
        TokenClaims {
            id: [0; 12],
            kind: SessionKind::Realtime,
            expires_at: u64::MAX,
            key_hash: [1; 32],
            deployment: dep.into(),
            model: "gpt-realtime".into(),
            upstream_key: UpstreamKey::new("ek_abc"),
            origin: None,
            subject: None,
        }
    }

    fn sealer() -> Keys {
        Keys::derive(&[9u8; 32]).unwrap()
    }

    #[test]
    fn sdp_is_checked() {
        assert_eq!(check_sdp(SDP.as_bytes()).unwrap(), SDP);
        assert!(check_sdp(b"\xef\xbb\xbfv=0\r\n").is_ok());
        for bad in [&b""[..], b"hello", b"\xff\xfe", b"o=- 1 2\r\nv=0"] {
            let err = check_sdp(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert_eq!(err.param.as_deref(), Some("sdp"));
        }
        let big = std::format!("v=0\r\n{}", "a".repeat(MAX_SDP_BYTES));
        assert_eq!(
            check_sdp(big.as_bytes()).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn raw_sdp_with_a_token_goes_to_the_minting_deployment_with_the_ek() {
        let config = config();
        for (dep_id, url) in [
            ("openai-a", "https://a.example/v1/realtime/calls"),
            (
                "azure-b",
                "https://b.openai.azure.com/openai/v1/realtime/calls",
            ),
        ] {
            let (_, dep) = config.deployment(dep_id).unwrap();
            let plan = plan_call_with_token(&claims(dep_id), dep, SDP.into(), None).unwrap();
            assert_eq!(plan.url, url);
            assert_eq!(
                plan.credential,
                CallCredential::Ephemeral(UpstreamKey::new("ek_abc"))
            );
            assert_eq!(plan.body, CallBody::Sdp(SDP.into()));
        }
    }

    #[test]
    fn multipart_with_a_token_keeps_its_model_and_kind() {
        let config = config();
        let (_, dep) = config.deployment("azure-b").unwrap();
        let session = json!({"type": "realtime", "model": "gpt-realtime", "instructions": "hi"});
        let plan = plan_call_with_token(
            &claims("azure-b"),
            dep,
            SDP.into(),
            Some(session.to_string().as_bytes()),
        )
        .unwrap();
        let CallBody::Multipart { sdp, session } = plan.body else {
            panic!("multipart expected")
        };
        assert_eq!(sdp, SDP);
        let session: Value = serde_json::from_str(&session.unwrap()).unwrap();
        assert_eq!(
            session,
            json!({"type": "realtime", "model": "rt-deploy", "instructions": "hi"})
        );
        // No model: left out (the ephemeral key's session has it).
        let plan = plan_call_with_token(&claims("azure-b"), dep, SDP.into(), Some(b"{}")).unwrap();
        assert_eq!(
            plan.body,
            CallBody::Multipart {
                sdp: SDP.into(),
                session: Some("{}".into())
            }
        );
        // Another model or kind: refused.
        let err = plan_call_with_token(
            &claims("azure-b"),
            dep,
            SDP.into(),
            Some(br#"{"model":"gpt-4o-transcribe"}"#),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("session.model"));
        let err = plan_call_with_token(
            &claims("azure-b"),
            dep,
            SDP.into(),
            Some(br#"{"type":"transcription"}"#),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("session.type"));
        for bad in [&b"[1]"[..], b"nope"] {
            let err =
                plan_call_with_token(&claims("azure-b"), dep, SDP.into(), Some(bad)).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("session"));
        }
    }

    #[test]
    fn multipart_with_a_key_is_checked_and_routed() {
        let config = config();
        let session = json!({"type": "realtime", "model": "gpt-realtime"}).to_string();
        let plan = plan_call_with_key(
            &config,
            &policy(&["gpt-*"]),
            SDP.into(),
            Some(session.as_bytes()),
            0,
        )
        .unwrap();
        assert_eq!(plan.deployment.id, "openai-a");
        assert_eq!(plan.group.name, "gpt-realtime");
        assert_eq!(plan.call.url, "https://a.example/v1/realtime/calls");
        assert_eq!(
            plan.call.credential,
            CallCredential::Deployment(Auth::Bearer)
        );
        let CallBody::Multipart {
            session: Some(s), ..
        } = &plan.call.body
        else {
            panic!("multipart expected")
        };
        assert_eq!(
            serde_json::from_str::<Value>(s).unwrap()["model"],
            "gpt-realtime-2025-08-28"
        );
        let plan = plan_call_with_key(
            &config,
            &policy(&["*"]),
            SDP.into(),
            Some(session.as_bytes()),
            u32::MAX,
        )
        .unwrap();
        assert_eq!(plan.deployment.id, "azure-b");
        assert_eq!(
            plan.call.credential,
            CallCredential::Deployment(Auth::AzureApiKey)
        );
        assert_eq!(
            plan.call.url,
            "https://b.openai.azure.com/openai/v1/realtime/calls"
        );

        let err = plan_call_with_key(
            &config,
            &policy(&["veo"]),
            SDP.into(),
            Some(session.as_bytes()),
            0,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert_eq!(err.status(), 403);
        let err = plan_call_with_key(&config, &policy(&["*"]), SDP.into(), None, 0).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("session"));
        let err =
            plan_call_with_key(&config, &policy(&["*"]), SDP.into(), Some(b"{}"), 0).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("session.model"));
        let err = plan_call_with_key(
            &config,
            &policy(&["*"]),
            SDP.into(),
            Some(br#"{"model":"veo"}"#),
            0,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedValue);
        let tr = json!({"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}).to_string();
        let plan = plan_call_with_key(&config, &policy(&["*"]), SDP.into(), Some(tr.as_bytes()), 0)
            .unwrap();
        assert_eq!(plan.deployment.id, "openai-tr");
    }

    #[test]
    fn call_ids_from_locations() {
        for (loc, id) in [
            ("/v1/realtime/calls/rtc_abc123", Some("rtc_abc123")),
            (
                "https://api.openai.com/v1/realtime/calls/rtc_ABC-9",
                Some("rtc_ABC-9"),
            ),
            ("/v1/realtime/calls/rtc_abc?x=1", Some("rtc_abc")),
            ("/v1/realtime/calls/rtc_abc/", Some("rtc_abc")),
            ("rtc_x", Some("rtc_x")),
            ("", None),
            ("/v1/realtime/calls/rtc abc", None),
            ("/v1/realtime/calls/rtc_%2F", None),
            ("/v1/realtime/calls/../x.y", None),
        ] {
            assert_eq!(call_id_from_location(loc), id, "{loc}");
        }
        let long = std::format!("/c/{}", "a".repeat(MAX_CALL_ID_LEN + 1));
        assert_eq!(call_id_from_location(&long), None);
    }

    #[test]
    fn sealed_call_ids_round_trip_for_their_owner_only() {
        let s = sealer();
        let id = seal_call_id(&s, Owner::key([4; OWNER_LEN]), "openai-a", "rtc_abc", 1).unwrap();
        assert!(id.starts_with("rtc_"));
        assert!(!id.contains("rtc_abc"));
        assert_eq!(location(&id), std::format!("/v1/realtime/calls/{id}"));
        let opened = open_call_id(&s, &id, &Owner::key([4; OWNER_LEN])).unwrap();
        assert_eq!(opened.deployment, "openai-a");
        assert_eq!(opened.call_id, "rtc_abc");
        for err in [
            open_call_id(&s, &id, &Owner::key([5; OWNER_LEN])).unwrap_err(),
            open_call_id(
                &Keys::derive(&[1; 32]).unwrap(),
                &id,
                &Owner::key([4; OWNER_LEN]),
            )
            .unwrap_err(),
            open_call_id(&s, "rtc_abc", &Owner::key([4; OWNER_LEN])).unwrap_err(),
            open_call_id(&s, &std::format!("{id}x"), &Owner::key([4; OWNER_LEN])).unwrap_err(),
            open_call_id(&s, &id[..id.len() - 2], &Owner::key([4; OWNER_LEN])).unwrap_err(),
        ] {
            assert_eq!(err.code, ErrorCode::RealtimeCallNotFound);
            assert_eq!(err.status(), 404);
            assert_eq!(
                err.message,
                "no realtime call with this id exists for this key"
            );
        }
        // A video id never opens as a call id.
        let video = s
            .seal_id(&Sealed {
                purpose: Purpose::Video,
                owner: Owner::key([4; OWNER_LEN]),
                created_at_ms: 1,
                deployment: "openai-a".into(),
                payload: b"rtc_abc".to_vec(),
            })
            .unwrap();
        let as_call = std::format!("rtc_{}", &video["video_".len()..]);
        assert!(open_call_id(&s, &as_call, &Owner::key([4; OWNER_LEN])).is_err());
    }

    fn opened() -> OpenedCall {
        OpenedCall {
            deployment: "azure-b".into(),
            call_id: "rtc_abc".into(),
        }
    }

    #[test]
    fn call_control_uses_the_deployments_own_key() {
        let config = config();
        let (group, dep) = config.deployment("azure-b").unwrap();
        let all = policy(&["*"]);
        let hangup =
            plan_call_control(group, dep, &all, &opened(), CallAction::Hangup, b"").unwrap();
        assert_eq!(
            hangup.url,
            "https://b.openai.azure.com/openai/v1/realtime/calls/rtc_abc/hangup"
        );
        assert_eq!(hangup.auth, Auth::AzureApiKey);
        assert_eq!(hangup.json_body, None);
        let (group, dep) = config.deployment("openai-a").unwrap();
        let accept = plan_call_control(
            group,
            dep,
            &all,
            &opened(),
            CallAction::Accept,
            br#"{"type":"realtime","model":"gpt-realtime","instructions":"hi"}"#,
        )
        .unwrap();
        assert_eq!(
            accept.url,
            "https://a.example/v1/realtime/calls/rtc_abc/accept"
        );
        assert_eq!(accept.auth, Auth::Bearer);
        assert_eq!(
            serde_json::from_str::<Value>(accept.json_body.as_deref().unwrap()).unwrap(),
            json!({"type": "realtime", "model": "gpt-realtime-2025-08-28", "instructions": "hi"})
        );
        let refer = plan_call_control(
            group,
            dep,
            &all,
            &opened(),
            CallAction::Refer,
            br#"{"target_uri":"tel:+14155550123"}"#,
        )
        .unwrap();
        assert_eq!(
            refer.json_body.as_deref(),
            Some(r#"{"target_uri":"tel:+14155550123"}"#)
        );
        let reject =
            plan_call_control(group, dep, &all, &opened(), CallAction::Reject, b"").unwrap();
        assert_eq!(reject.json_body.as_deref(), Some("{}"));
        assert!(plan_call_control(
            group,
            dep,
            &all,
            &opened(),
            CallAction::Reject,
            br#"{"status_code":486}"#
        )
        .is_ok());
    }

    #[test]
    fn call_control_bodies_are_checked() {
        let config = config();
        let (group, dep) = config.deployment("openai-a").unwrap();
        let all = policy(&["*"]);
        let cases: &[(CallAction, &[u8], ErrorCode, Option<&str>)] = &[
            (
                CallAction::Refer,
                b"",
                ErrorCode::InvalidRequest,
                Some("target_uri"),
            ),
            (
                CallAction::Refer,
                br#"{"target_uri":""}"#,
                ErrorCode::InvalidRequest,
                Some("target_uri"),
            ),
            (
                CallAction::Reject,
                br#"{"status_code":"busy"}"#,
                ErrorCode::InvalidRequest,
                Some("status_code"),
            ),
            (
                CallAction::Reject,
                br#"{"status_code":99}"#,
                ErrorCode::InvalidRequest,
                Some("status_code"),
            ),
            (
                CallAction::Accept,
                br#"{"model":"gpt-4o-transcribe"}"#,
                ErrorCode::InvalidRequest,
                Some("model"),
            ),
            (
                CallAction::Accept,
                br#"{"model":5}"#,
                ErrorCode::InvalidRequest,
                Some("model"),
            ),
            (CallAction::Accept, b"[1]", ErrorCode::InvalidRequest, None),
            (CallAction::Accept, b"{nope", ErrorCode::InvalidJson, None),
        ];
        for (action, body, code, param) in cases {
            let err = plan_call_control(group, dep, &all, &opened(), *action, body).unwrap_err();
            assert_eq!(
                err.code,
                *code,
                "{action:?} {}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(err.param.as_deref(), *param);
        }
        let err = plan_call_control(
            group,
            dep,
            &policy(&["veo"]),
            &opened(),
            CallAction::Accept,
            br#"{"model":"gpt-realtime"}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert!(check_call_access(group, &policy(&["veo"])).is_err());
        assert!(check_call_access(group, &policy(&["gpt-realtime"])).is_ok());
        for a in CallAction::ALL {
            assert_eq!(CallAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(CallAction::parse("delete"), None);
    }
}
