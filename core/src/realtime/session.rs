//! `POST /v1/realtime/client_secrets`: minting an ephemeral realtime
//! session for a browser.
//!
//! Request (OpenAI GA; Azure GA takes the same body):
//! `{"expires_after":{"anchor":"created_at","seconds":600},
//!   "session":{"type":"realtime","model":"gpt-realtime",…}}` — for
//! `"type":"transcription"` the model sits at
//! `session.audio.input.transcription.model`. A top-level `model` (LiteLLM's
//! extension) is accepted when the session names none, and removed.
//!
//! [`plan_mint`] checks the model against the key's access rules **by the
//! name the client sent**, routes the model group to a deployment, rewrites
//! the model to the deployment's upstream model (on Azure: the deployment
//! name), clamps `expires_after.seconds` into 10..=7200, and plans the
//! upstream call (`{base}/v1/realtime/client_secrets` with `Authorization:
//! Bearer`, or `{base}/openai/v1/realtime/client_secrets` with `api-key`).
//! Everything else in the body passes through untouched.
//!
//! [`finish_mint`] reads the upstream's answer, seals its `value` (`ek_…`)
//! into a reelay token ([`super::token`]) and puts the token in `value` (and
//! in `session.client_secret.value` when present); `expires_at` stays the
//! upstream's — never extended — and the session's model reads as the
//! model group the client asked for. A session minted with a browser token
//! ([`SealWith::minter`]) never outlives it: `expires_at` is the sooner of
//! the upstream's and the browser token's, and the token carries the
//! browser token's origin binding.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use serde_json::{Map, Value};

use super::token::{TokenClaims, UpstreamKey, MAX_UPSTREAM_KEY_LEN, NONCE_LEN};
use super::{check_provider, deployment_auth, realtime_base, SessionKind};
use crate::access::AccessPolicy;
use crate::browser_token::Minter;
use crate::config::{Config, Deployment, ModelGroup};
use crate::errors::{ClientError, ErrorCode, UpstreamError};
use crate::json::type_name;
use crate::plan::{Method, UpstreamRequest};
use crate::route::pick_weighted;
use crate::seal::Keys;
use crate::video::upstream_garbage;

/// Shortest `expires_after.seconds` the upstream accepts; shorter asks are raised to it.
pub const MIN_EXPIRES_SECS: u64 = 10;
/// Longest `expires_after.seconds` the upstream accepts; longer asks are lowered to it.
pub const MAX_EXPIRES_SECS: u64 = 7200;
/// The upstream's default lifetime when the request sets none.
pub const DEFAULT_EXPIRES_SECS: u64 = 600;

/// A validated `client_secrets` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSecretRequest {
    body: Map<String, Value>,
    kind: SessionKind,
    model: String,
    expires_after_secs: u64,
}

impl ClientSecretRequest {
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
        let expires_after_secs = clamp_expires_after(&mut body)?;
        let top_model = match body.remove("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m),
            Some(other) => {
                return Err(invalid(
                    "model",
                    format!("must be a string, got {}", type_name(&other)),
                ))
            }
        };
        let session = body
            .entry("session")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(session) = session else {
            return Err(invalid(
                "session",
                format!("must be an object, got {}", type_name(session)),
            ));
        };
        let kind = session_kind(session)?;
        let model = match (model_at(session, kind)?, top_model) {
            (Some(model), _) => model.to_owned(),
            (None, Some(model)) => model,
            (None, None) => {
                let (_, param) = kind.model_path();
                return Err(invalid(param, "is required: the realtime model to use"));
            }
        };
        Ok(Self {
            body,
            kind,
            model,
            expires_after_secs,
        })
    }

    /// The model the client asked for (a model group name).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The session kind (the token's purpose).
    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// The lifetime asked of the upstream, after clamping (the default when
    /// the request sets none).
    pub fn expires_after_secs(&self) -> u64 {
        self.expires_after_secs
    }

    /// The model group the request names, if the key (`policy`) may use it:
    /// checked by the name the client sent, never the upstream model.
    pub fn authorize<'c>(
        &self,
        config: &'c Config,
        policy: &AccessPolicy,
    ) -> Result<&'c ModelGroup, ClientError> {
        let (_, param) = self.kind.model_path();
        authorize(config, policy, &self.model, param)
    }

    /// The upstream call on `deployment` (any deployment of the group or of
    /// a fallback group the host routes to): the model rewritten to the
    /// deployment's, a missing `session.type` filled in.
    pub fn plan_for(&self, deployment: &Deployment) -> Result<UpstreamRequest, ClientError> {
        let (_, param) = self.kind.model_path();
        check_provider(deployment, &self.model, param)?;
        let mut body = self.body.clone();
        if let Some(Value::Object(session)) = body.get_mut("session") {
            if !session.contains_key("type") {
                session.insert("type".into(), Value::from(self.kind.as_str()));
            }
            set_model(session, self.kind, &deployment.model);
        }
        Ok(UpstreamRequest {
            method: Method::Post,
            url: format!("{}/client_secrets", realtime_base(deployment)),
            auth: deployment_auth(deployment),
            json_body: Some(Value::Object(body).to_string()),
        })
    }
}

/// A complete single-deployment plan ([`plan_mint`]), for hosts that do
/// not fail over.
#[derive(Debug, Clone, PartialEq)]
pub struct MintPlan<'c> {
    /// The validated request.
    pub request: ClientSecretRequest,
    /// The model group the client asked for.
    pub group: &'c ModelGroup,
    /// The deployment that will mint the ephemeral key (and serve every call made with it).
    pub deployment: &'c Deployment,
    /// The upstream call.
    pub upstream: UpstreamRequest,
}

/// Parses `body`, checks it against the key's `policy`, picks a deployment
/// of the group by weight (`random`: any uniform `u32`) and plans the call.
/// Hosts with failover use [`ClientSecretRequest::authorize`] and
/// [`ClientSecretRequest::plan_for`] per attempt instead.
pub fn plan_mint<'c>(
    config: &'c Config,
    policy: &AccessPolicy,
    body: &[u8],
    random: u32,
) -> Result<MintPlan<'c>, ClientError> {
    let request = ClientSecretRequest::parse(body)?;
    let group = request.authorize(config, policy)?;
    let deployment = pick_weighted(group, random)
        .ok_or_else(|| ClientError::from_code(ErrorCode::ModelNotFound))?;
    let upstream = request.plan_for(deployment)?;
    Ok(MintPlan {
        request,
        group,
        deployment,
        upstream,
    })
}

/// What seals the token: the key, the owner and the host's inputs.
#[derive(Debug, Clone)]
pub struct SealWith<'a> {
    /// The keys derived from `SEALING_KEY` ([`Keys::derive`]).
    pub key: &'a Keys,
    /// SHA-256 of the virtual key minting the token.
    pub key_hash: [u8; 32],
    /// Who mints it: the key itself, or a browser token the minted token
    /// may not exceed.
    pub minter: Minter<'a>,
    /// 12 fresh random bytes.
    pub nonce: [u8; NONCE_LEN],
    /// Now, unix seconds.
    pub now_secs: u64,
}

/// The client's answer to a successful mint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    /// The JSON body for the client: the upstream's, with the reelay token
    /// in place of the ephemeral key.
    pub body: String,
    /// The token's expiry, unix seconds (the upstream's `expires_at`).
    pub expires_at: u64,
}

/// Turns the upstream's `client_secrets` answer from `deployment` (of
/// `group`, the group that served the request) into the client's: seals the
/// ephemeral key into a reelay token and puts it where the key was. Fails
/// when the answer carries no usable key.
pub fn finish_mint(
    request: &ClientSecretRequest,
    group: &ModelGroup,
    deployment: &Deployment,
    upstream_body: &[u8],
    seal: &SealWith<'_>,
) -> Result<Minted, UpstreamError> {
    let asked = (request.kind, request.expires_after_secs);
    seal_answer(asked, group, deployment, upstream_body, seal)
}

/// [`finish_mint`] for a token of `kind` whose mint asked for
/// `expires_after_secs` (shared with [`super::translation`]).
pub(super) fn seal_answer(
    (kind, expires_after_secs): (SessionKind, u64),
    group: &ModelGroup,
    deployment: &Deployment,
    upstream_body: &[u8],
    seal: &SealWith<'_>,
) -> Result<Minted, UpstreamError> {
    let now_secs = seal.now_secs;
    let mut answer = match serde_json::from_slice::<Value>(upstream_body) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(upstream_garbage(
                "the client secret answer is not a JSON object",
            ))
        }
    };
    let ephemeral = match answer.get("value") {
        Some(Value::String(v)) if plausible_upstream_key(v) => v.clone(),
        _ => {
            return Err(upstream_garbage(
                "the client secret answer holds no usable `value`",
            ))
        }
    };
    // Never later than the upstream's expiry (nor than the longest lifetime
    // it grants, should its clock run ahead); its own lifetime when unstated.
    let latest = now_secs.saturating_add(MAX_EXPIRES_SECS);
    let expires_at = match answer.get("expires_at") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| upstream_garbage("the client secret's `expires_at` is not a number"))?
            .min(latest),
        None => now_secs.saturating_add(expires_after_secs),
    };
    // Nor later than a browser token that minted it.
    let expires_at = seal.minter.clamp_expiry_ms(expires_at.saturating_mul(1000)) / 1000;
    let claims = TokenClaims {
        id: seal.nonce,
        kind,
        expires_at,
        key_hash: seal.key_hash,
        deployment: deployment.id.clone(),
        model: group.name.clone(),
        upstream_key: UpstreamKey::new(ephemeral.clone()),
        origin: seal.minter.origin().map(ToOwned::to_owned),
        subject: seal.minter.subject(),
    };
    let token = claims
        .seal(seal.key)
        .map_err(|_| upstream_garbage("the client secret could not be sealed"))?;

    answer.insert("value".into(), Value::from(token.as_str()));
    answer.insert("expires_at".into(), Value::from(expires_at));
    if let Some(Value::Object(session)) = answer.get_mut("session") {
        // The beta shape repeats the secret under `session.client_secret`.
        if let Some(Value::Object(secret)) = session.get_mut("client_secret") {
            if secret.contains_key("value") {
                secret.insert("value".into(), Value::from(token.as_str()));
            }
            if secret.contains_key("expires_at") {
                secret.insert("expires_at".into(), Value::from(expires_at));
            }
        }
        let kind = SessionKind::parse(session.get("type").and_then(Value::as_str).unwrap_or(""))
            .unwrap_or(kind);
        if model_at(session, kind).ok().flatten() == Some(deployment.model.as_str()) {
            set_model(session, kind, &group.name);
        }
    }
    let body = Value::Object(answer).to_string();
    // Defence in depth: the ephemeral key must not survive anywhere else in
    // the answer (an unknown field echoing it), as written in JSON: a key
    // holding `"` or `\` appears escaped.
    let quoted = Value::from(ephemeral.as_str()).to_string();
    let escaped = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted);
    if body.contains(ephemeral.as_str()) || body.contains(escaped) {
        return Err(upstream_garbage(
            "the client secret answer repeats the ephemeral key outside `value`",
        ));
    }
    Ok(Minted { body, expires_at })
}

/// A key the gateway is willing to seal and later send in a header:
/// 1..=[`MAX_UPSTREAM_KEY_LEN`] visible ASCII characters.
fn plausible_upstream_key(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_UPSTREAM_KEY_LEN
        && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Clamps `expires_after.seconds` into the upstream's range in place and
/// returns the lifetime asked for.
pub(super) fn clamp_expires_after(body: &mut Map<String, Value>) -> Result<u64, ClientError> {
    let Some(value) = body.get_mut("expires_after") else {
        return Ok(DEFAULT_EXPIRES_SECS);
    };
    let Value::Object(after) = value else {
        if value.is_null() {
            body.remove("expires_after");
            return Ok(DEFAULT_EXPIRES_SECS);
        }
        return Err(invalid(
            "expires_after",
            format!("must be an object, got {}", type_name(value)),
        ));
    };
    match after.get("anchor") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) if a == "created_at" => {}
        Some(other) => {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("must be \"created_at\", got {other}"),
            )
            .with_param("expires_after.anchor"))
        }
    }
    let seconds = match after.get("seconds") {
        None | Some(Value::Null) => return Ok(DEFAULT_EXPIRES_SECS),
        Some(v) => {
            // Integers only; negative and fractional values are mistakes,
            // out-of-range ones are brought into range.
            let n = v.as_u64().ok_or_else(|| {
                invalid(
                    "expires_after.seconds",
                    format!("must be a whole number of seconds, got {v}"),
                )
            })?;
            n.clamp(MIN_EXPIRES_SECS, MAX_EXPIRES_SECS)
        }
    };
    after.insert("seconds".into(), Value::from(seconds));
    Ok(seconds)
}

/// The kind a session object declares (`type`); `realtime` when it names none.
pub(super) fn session_kind(session: &Map<String, Value>) -> Result<SessionKind, ClientError> {
    match session.get("type") {
        None | Some(Value::Null) => Ok(SessionKind::Realtime),
        Some(Value::String(t)) => SessionKind::parse(t).ok_or_else(|| {
            ClientError::new(
                ErrorCode::UnsupportedValue,
                format!("must be \"realtime\" or \"transcription\", got {t:?}"),
            )
            .with_param("session.type")
        }),
        Some(other) => Err(invalid(
            "session.type",
            format!("must be a string, got {}", type_name(other)),
        )),
    }
}

/// The model a session object names for `kind`, if any.
pub(super) fn model_at(
    session: &Map<String, Value>,
    kind: SessionKind,
) -> Result<Option<&str>, ClientError> {
    let (path, param) = kind.model_path();
    let mut current = session;
    for (i, key) in path.iter().enumerate() {
        match current.get(*key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if i + 1 == path.len() => return Ok(Some(s)),
            Some(Value::Object(next)) if i + 1 < path.len() => current = next,
            Some(other) => {
                let expected = if i + 1 == path.len() {
                    "a string"
                } else {
                    "an object"
                };
                return Err(invalid(
                    param,
                    format!("expected {expected} at `{key}`, got {}", type_name(other)),
                ));
            }
        }
    }
    Ok(None)
}

/// Writes `model` where `kind` keeps it, creating objects on the way.
pub(super) fn set_model(session: &mut Map<String, Value>, kind: SessionKind, model: &str) {
    let (path, _) = kind.model_path();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = session;
    for key in parents {
        let slot = current
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        current = next;
    }
    current.insert((*last).to_owned(), Value::from(model));
}

/// The model group `model` names, if the key may use it.
pub(super) use crate::authorize::model_group as authorize;

pub(super) fn invalid(param: &str, message: impl Into<String>) -> ClientError {
    let message = message.into();
    ClientError::new(ErrorCode::InvalidRequest, format!("`{param}` {message}")).with_param(param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessGroups;
    use crate::plan::Auth;
    use serde_json::json;
    use std::vec::Vec;

    const NOW: u64 = 1_790_000_000;
    const EK: &str = "ek_68af296e8e408191a1120ab6383263c2";

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[
              {"name":"gpt-realtime","deployments":[
                {"id":"openai-rt","provider":"openai","model":"gpt-realtime-2025-08-28","credential":"OPENAI_KEY","api_base":"https://api.example"}]},
              {"name":"azure-realtime","deployments":[
                {"id":"azure-rt","provider":"azure","model":"my-realtime-deployment","credential":"AZURE_KEY","api_base":"https://res.openai.azure.com"}]},
              {"name":"gpt-4o-transcribe","deployments":[
                {"id":"openai-tr","provider":"openai","model":"gpt-4o-transcribe","credential":"OPENAI_KEY"}]},
              {"name":"veo-3.1","deployments":[
                {"id":"gemini-veo","provider":"gemini","model":"veo-3.1-generate-preview","credential":"G"}]}]}"#,
        )
        .unwrap()
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &AccessGroups::new()).unwrap()
    }

    fn plan(body: Value) -> Result<MintPlan<'static>, ClientError> {
        let config: &'static Config = std::boxed::Box::leak(std::boxed::Box::new(config()));
        plan_mint(config, &policy(&["*"]), body.to_string().as_bytes(), 0)
    }

    fn sent(plan: &MintPlan<'_>) -> Value {
        serde_json::from_str(plan.upstream.json_body.as_deref().unwrap()).unwrap()
    }

    fn key() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    fn finish(p: &MintPlan<'_>, body: &[u8], key_hash: [u8; 32]) -> Result<Minted, UpstreamError> {
        finish_by(p, body, key_hash, Minter::Key)
    }

    fn finish_by(
        p: &MintPlan<'_>,
        body: &[u8],
        key_hash: [u8; 32],
        minter: Minter<'_>,
    ) -> Result<Minted, UpstreamError> {
        let key = key();
        let seal = SealWith {
            key: &key,
            key_hash,
            minter,
            nonce: [1; NONCE_LEN],
            now_secs: NOW,
        };
        finish_mint(&p.request, p.group, p.deployment, body, &seal)
    }

    #[test]
    fn a_browser_token_mints_nothing_that_outlives_it_or_leaves_its_origin() {
        let p =
            plan(json!({"expires_after": {"seconds": 7200}, "session": {"model": "gpt-realtime"}}))
                .unwrap();
        let bt = crate::browser_token::Claims {
            parent_hash: [0xab; 32],
            issued_at_secs: NOW,
            expires_at_secs: NOW + 10,
            id: [1; 8],
            origin: Some("https://app.example.com".into()),
            models: std::vec!["gpt-realtime".into()],
            subject: [6; crate::seal::SUBJECT_LEN],
        };
        let m = finish_by(
            &p,
            &upstream_answer(NOW + 7200),
            [0xab; 32],
            Minter::BrowserToken(&bt),
        )
        .unwrap();
        assert_eq!(m.expires_at, NOW + 10);
        let v: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["expires_at"], NOW + 10);
        let token = v["value"].as_str().unwrap();
        let claims = TokenClaims::open(&key(), token, NOW, &[SessionKind::Realtime]).unwrap();
        assert_eq!(claims.expires_at, NOW + 10);
        assert_eq!(claims.origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(claims.subject, Some([6; crate::seal::SUBJECT_LEN]));
        assert_eq!(claims.owner(), bt.owner(), "its calls are the visitor's");
        assert!(claims.check_origin(Some("https://app.example.com")).is_ok());
        assert!(claims.check_origin(None).is_ok());
        assert_eq!(
            claims
                .check_origin(Some("https://evil.example.com"))
                .unwrap_err()
                .code,
            ErrorCode::OriginNotAllowed
        );
        // A sooner upstream expiry stays; a key's token is unbound.
        let m = finish_by(
            &p,
            &upstream_answer(NOW + 5),
            [0xab; 32],
            Minter::BrowserToken(&bt),
        )
        .unwrap();
        assert_eq!(m.expires_at, NOW + 5);
        let m = finish(&p, &upstream_answer(NOW + 7200), [0xab; 32]).unwrap();
        assert_eq!(m.expires_at, NOW + 7200);
        let v: Value = serde_json::from_str(&m.body).unwrap();
        let claims = TokenClaims::open(
            &key(),
            v["value"].as_str().unwrap(),
            NOW,
            &[SessionKind::Realtime],
        )
        .unwrap();
        assert_eq!(claims.origin, None);
        assert_eq!(claims.subject, None);
    }

    #[test]
    fn openai_ga_request_is_routed_and_rewritten() {
        let p = plan(json!({
            "expires_after": {"anchor": "created_at", "seconds": 600},
            "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "be nice",
                        "audio": {"output": {"voice": "marin"}}}
        }))
        .unwrap();
        assert_eq!(p.deployment.id, "openai-rt");
        assert_eq!(p.group.name, "gpt-realtime");
        assert_eq!(p.request.kind(), SessionKind::Realtime);
        assert_eq!(p.upstream.method, Method::Post);
        assert_eq!(
            p.upstream.url,
            "https://api.example/v1/realtime/client_secrets"
        );
        assert_eq!(p.upstream.auth, Auth::Bearer);
        assert_eq!(p.request.expires_after_secs(), 600);
        assert_eq!(
            sent(&p),
            json!({
                "expires_after": {"anchor": "created_at", "seconds": 600},
                "session": {"type": "realtime", "model": "gpt-realtime-2025-08-28",
                            "instructions": "be nice", "audio": {"output": {"voice": "marin"}}}
            })
        );
    }

    #[test]
    fn azure_ga_shape() {
        let p = plan(json!({"session": {"type": "realtime", "model": "azure-realtime"}})).unwrap();
        assert_eq!(
            p.upstream.url,
            "https://res.openai.azure.com/openai/v1/realtime/client_secrets"
        );
        assert_eq!(p.upstream.auth, Auth::AzureApiKey);
        assert!(!p.upstream.url.contains("api-version"));
        assert_eq!(sent(&p)["session"]["model"], "my-realtime-deployment");
    }

    #[test]
    fn transcription_sessions_use_the_transcription_model() {
        let p = plan(json!({"session": {"type": "transcription",
            "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe", "language": "en"}}}}}))
        .unwrap();
        assert_eq!(p.request.kind(), SessionKind::Transcription);
        assert_eq!(p.deployment.id, "openai-tr");
        assert_eq!(
            sent(&p)["session"]["audio"]["input"]["transcription"],
            json!({"model": "gpt-4o-transcribe", "language": "en"})
        );
        assert_eq!(
            p.upstream.url,
            "https://api.openai.com/v1/realtime/client_secrets"
        );
        // No transcription model: named precisely.
        let err = plan(json!({"session": {"type": "transcription", "model": "gpt-realtime"}}))
            .unwrap_err();
        assert_eq!(
            err.param.as_deref(),
            Some("session.audio.input.transcription.model")
        );
    }

    #[test]
    fn expires_after_is_clamped() {
        for (asked, got) in [
            (0u64, 10u64),
            (5, 10),
            (10, 10),
            (600, 600),
            (7200, 7200),
            (7201, 7200),
            (999_999, 7200),
        ] {
            let p = plan(
                json!({"expires_after": {"anchor": "created_at", "seconds": asked},
                                "session": {"type": "realtime", "model": "gpt-realtime"}}),
            )
            .unwrap();
            assert_eq!(p.request.expires_after_secs(), got, "{asked}");
            assert_eq!(sent(&p)["expires_after"]["seconds"], got, "{asked}");
        }
        let p = plan(json!({"session": {"model": "gpt-realtime"}})).unwrap();
        assert_eq!(p.request.expires_after_secs(), DEFAULT_EXPIRES_SECS);
        assert!(sent(&p).get("expires_after").is_none());
        for bad in [json!(-1), json!(1.5), json!("600"), json!(true)] {
            let err = plan(json!({"expires_after": {"seconds": bad},
                                  "session": {"model": "gpt-realtime"}}))
            .unwrap_err();
            assert_eq!(err.param.as_deref(), Some("expires_after.seconds"), "{bad}");
            assert_eq!(err.status(), 400);
        }
        let err = plan(json!({"expires_after": {"anchor": "now", "seconds": 60},
                              "session": {"model": "gpt-realtime"}}))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedValue);
        assert_eq!(err.param.as_deref(), Some("expires_after.anchor"));
        let err =
            plan(json!({"expires_after": 60, "session": {"model": "gpt-realtime"}})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("expires_after"));
    }

    #[test]
    fn top_level_model_is_a_fallback_and_is_removed() {
        let p = plan(json!({"model": "gpt-realtime"})).unwrap();
        assert_eq!(
            sent(&p),
            json!({"session": {"type": "realtime", "model": "gpt-realtime-2025-08-28"}})
        );
        let p = plan(json!({"model": "azure-realtime", "session": {"type": "realtime", "model": "gpt-realtime"}})).unwrap();
        assert_eq!(p.deployment.id, "openai-rt", "the session's model wins");
        assert!(sent(&p).get("model").is_none());
    }

    #[test]
    fn access_rules_are_checked_by_the_requested_name() {
        let config = config();
        let body = json!({"session": {"type": "realtime", "model": "gpt-realtime"}}).to_string();
        let err = plan_mint(&config, &policy(&["veo-*"]), body.as_bytes(), 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert_eq!(err.status(), 403);
        assert_eq!(err.param.as_deref(), Some("session.model"));
        // The upstream model name is not what the rules see.
        let err = plan_mint(
            &config,
            &policy(&["gpt-realtime-2025-*"]),
            body.as_bytes(),
            0,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert!(plan_mint(&config, &policy(&["gpt-realtime"]), body.as_bytes(), 0).is_ok());
        assert!(plan_mint(&config, &policy(&["*", "!gpt-*"]), body.as_bytes(), 0).is_err());
        let tr = json!({"session": {"type": "transcription",
            "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}})
        .to_string();
        let err = plan_mint(&config, &policy(&["gpt-realtime"]), tr.as_bytes(), 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
    }

    #[test]
    fn bad_requests_are_precise() {
        let cases: Vec<(Value, ErrorCode, Option<&str>)> = std::vec![
            (json!({}), ErrorCode::InvalidRequest, Some("session.model")),
            (
                json!({"session": {"type": "realtime"}}),
                ErrorCode::InvalidRequest,
                Some("session.model")
            ),
            (
                json!({"session": "x"}),
                ErrorCode::InvalidRequest,
                Some("session")
            ),
            (
                json!({"session": {"type": "chat", "model": "gpt-realtime"}}),
                ErrorCode::UnsupportedValue,
                Some("session.type")
            ),
            (
                json!({"session": {"type": 3, "model": "gpt-realtime"}}),
                ErrorCode::InvalidRequest,
                Some("session.type")
            ),
            (
                json!({"session": {"model": 3}}),
                ErrorCode::InvalidRequest,
                Some("session.model")
            ),
            (
                json!({"model": 3}),
                ErrorCode::InvalidRequest,
                Some("model")
            ),
            (
                json!({"session": {"model": "nope"}}),
                ErrorCode::ModelNotFound,
                Some("session.model")
            ),
            (
                json!({"session": {"model": "veo-3.1"}}),
                ErrorCode::UnsupportedValue,
                Some("session.model")
            ),
            (
                json!({"session": {"type": "transcription", "audio": {"input": "x"}}}),
                ErrorCode::InvalidRequest,
                Some("session.audio.input.transcription.model")
            ),
            (json!([1]), ErrorCode::InvalidRequest, None),
        ];
        for (body, code, param) in cases {
            let err = plan(body.clone()).unwrap_err();
            assert_eq!(err.code, code, "{body}: {err}");
            assert_eq!(err.param.as_deref(), param, "{body}");
        }
        let config = config();
        let err = plan_mint(&config, &policy(&["*"]), b"{nope", 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidJson);
    }

    fn upstream_answer(expires_at: u64) -> Vec<u8> {
        json!({"value": EK, "expires_at": expires_at,
               "session": {"type": "realtime", "object": "realtime.session", "id": "sess_1",
                           "model": "gpt-realtime-2025-08-28", "instructions": "be nice"}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_answer_carries_a_token_instead_of_the_ephemeral_key() {
        let p = plan(json!({"session": {"type": "realtime", "model": "gpt-realtime"}})).unwrap();
        let minted = finish(&p, &upstream_answer(NOW + 600), [0xab; 32]).unwrap();
        assert!(!minted.body.contains(EK));
        assert!(!minted.body.contains("ek_68af"));
        let v: Value = serde_json::from_str(&minted.body).unwrap();
        let token = v["value"].as_str().unwrap();
        assert!(token.starts_with("ek_rl_"));
        assert_eq!(v["expires_at"], NOW + 600);
        assert_eq!(minted.expires_at, NOW + 600);
        assert_eq!(
            v["session"]["model"], "gpt-realtime",
            "the client sees its model group"
        );
        assert_eq!(v["session"]["id"], "sess_1");
        assert_eq!(v["session"]["instructions"], "be nice");
        let claims = TokenClaims::open(&key(), token, NOW, &[SessionKind::Realtime]).unwrap();
        assert_eq!(claims.upstream_key.expose(), EK);
        assert_eq!(claims.deployment, "openai-rt");
        assert_eq!(claims.model, "gpt-realtime");
        assert_eq!(claims.key_hash, [0xab; 32]);
        assert_eq!(claims.expires_at, NOW + 600);
    }

    #[test]
    fn expiry_is_never_extended() {
        let p =
            plan(json!({"expires_after": {"seconds": 7200}, "session": {"model": "gpt-realtime"}}))
                .unwrap();
        // The upstream's expiry is kept, even if shorter than asked.
        let m = finish(&p, &upstream_answer(NOW + 30), [0; 32]).unwrap();
        assert_eq!(m.expires_at, NOW + 30);
        // Already past: kept (the token is born expired, as the key is).
        let m = finish(&p, &upstream_answer(NOW - 1), [0; 32]).unwrap();
        assert_eq!(m.expires_at, NOW - 1);
        let v: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(
            TokenClaims::open(
                &key(),
                v["value"].as_str().unwrap(),
                NOW,
                &[SessionKind::Realtime]
            ),
            Err(crate::seal::Error::Expired(NOW - 1))
        );
        // Beyond the longest lifetime: capped.
        let m = finish(&p, &upstream_answer(NOW + 99_999), [0; 32]).unwrap();
        assert_eq!(m.expires_at, NOW + MAX_EXPIRES_SECS);
        // Unstated: what was asked.
        let body = json!({"value": EK}).to_string();
        let m = finish(&p, body.as_bytes(), [0; 32]).unwrap();
        assert_eq!(m.expires_at, NOW + 7200);
    }

    #[test]
    fn the_beta_client_secret_is_replaced_too() {
        let p = plan(json!({"session": {"model": "gpt-realtime"}})).unwrap();
        let body = json!({"value": EK, "expires_at": NOW + 60,
            "session": {"model": "gpt-realtime-2025-08-28",
                        "client_secret": {"value": EK, "expires_at": NOW + 60}}})
        .to_string();
        let m = finish(&p, body.as_bytes(), [0; 32]).unwrap();
        let v: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["session"]["client_secret"]["value"], v["value"]);
        assert!(!m.body.contains(EK));
    }

    #[test]
    fn a_stray_copy_of_the_key_is_refused() {
        let p = plan(json!({"session": {"model": "gpt-realtime"}})).unwrap();
        let body = json!({"value": EK, "expires_at": NOW + 60, "debug": {"key": EK}}).to_string();
        assert!(finish(&p, body.as_bytes(), [0; 32]).is_err());
    }

    #[test]
    fn unreadable_answers_are_gateway_errors() {
        let p = plan(json!({"session": {"model": "gpt-realtime"}})).unwrap();
        for body in [
            "not json",
            "[]",
            "{}",
            r#"{"value": ""}"#,
            r#"{"value": 5}"#,
            r#"{"value": "ek_has space"}"#,
            r#"{"value": "ek_1", "expires_at": "soon"}"#,
            r#"{"value": "ek_1", "expires_at": -5}"#,
        ] {
            let err = finish(&p, body.as_bytes(), [0; 32]).unwrap_err();
            assert_eq!(err.kind, crate::errors::ErrorKind::Gateway, "{body}");
            assert!(!err.message.contains("ek_1"));
        }
        let long = json!({"value": "k".repeat(MAX_UPSTREAM_KEY_LEN + 1)}).to_string();
        assert!(finish(&p, long.as_bytes(), [0; 32]).is_err());
    }

    #[test]
    fn transcription_answers_read_back_as_the_group() {
        let p = plan(json!({"session": {"type": "transcription",
            "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}}))
        .unwrap();
        let body = json!({"value": EK, "expires_at": NOW + 60,
            "session": {"type": "transcription", "object": "realtime.transcription_session",
                        "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}})
        .to_string();
        let m = finish(&p, body.as_bytes(), [0; 32]).unwrap();
        let v: Value = serde_json::from_str(&m.body).unwrap();
        let claims = TokenClaims::open(
            &key(),
            v["value"].as_str().unwrap(),
            NOW,
            &[SessionKind::Transcription],
        )
        .unwrap();
        assert_eq!(claims.kind, SessionKind::Transcription);
        assert_eq!(claims.model, "gpt-4o-transcribe");
    }

    #[test]
    fn an_echoed_ephemeral_key_never_reaches_the_client_even_escaped() {
        // Found by fuzzing: a key holding `"` or `\` is escaped in the JSON
        // answer, so the raw-text check missed an echo of it.
        let p = plan(json!({"session": {"type": "realtime", "model": "gpt-realtime"}})).unwrap();
        for ephemeral in [
            "ek_abc\"defghij",
            "ek_abc\\defghij",
            "ek_68af296e8e408191a1120ab6383263c2",
        ] {
            let answer = json!({"value": ephemeral, "echo": ephemeral, "expires_at": NOW + 60});
            let out = finish(&p, answer.to_string().as_bytes(), [3; 32]);
            assert!(out.is_err(), "{ephemeral}: {out:?}");
        }
    }
}
