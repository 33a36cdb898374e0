//! Authorization, done once per request for every door (OpenAI and Google
//! shapes, realtime HTTP and sockets, Live, minting): the caller's compiled
//! access rules and the model name the client sent give the model group, or
//! the one error for "not allowed" and the one for "not configured"; the
//! groups new work may be routed to; whether a call may be sent again.
//!
//! A rule is matched against the name the client sent, never the upstream
//! model, and before the group is looked up, so a key learns nothing about
//! models it may not use.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::access::AccessPolicy;
use crate::config::{Config, ModelGroup};
use crate::errors::{ClientError, ErrorCode};
use crate::plan::Method;
use crate::retry::Resend;

/// The model group `model` names, if `policy` allows it; `param` is the
/// request field that named it (`model`, `setup.model`, `session.model`).
pub fn model_group<'c>(
    config: &'c Config,
    policy: &AccessPolicy,
    model: &str,
    param: &str,
) -> Result<&'c ModelGroup, ClientError> {
    if !policy.allows(model) {
        return Err(ClientError::new(
            ErrorCode::ModelAccessDenied,
            format!("this key may not use model {model:?}"),
        )
        .with_param(param));
    }
    config.group(model).ok_or_else(|| {
        ClientError::new(
            ErrorCode::ModelNotFound,
            format!("model {model:?} is not configured on this gateway"),
        )
        .with_param(param)
    })
}

/// Adds what the key may use (its rules as written; empty = every model)
/// to an access denial; other errors pass unchanged.
pub fn with_rules(err: ClientError, rules: &[String]) -> ClientError {
    if err.code != ErrorCode::ModelAccessDenied {
        return err;
    }
    let allowed = if rules.is_empty() {
        String::from("all models")
    } else {
        rules.join(", ")
    };
    let message = format!("{}; it may use: {allowed}", err.message);
    ClientError { message, ..err }
}

/// Adds what the caller may use to an access denial: a key's rules as
/// written ([`with_rules`]); for a browser token (`token_rules`), only the
/// token's own rules, or nothing when it has none — a token's holder never
/// learns its parent key's rules.
pub fn with_callers_rules(
    err: ClientError,
    key_rules: &[String],
    token_rules: Option<&[String]>,
) -> ClientError {
    match token_rules {
        None => with_rules(err, key_rules),
        Some([]) => err,
        Some(own) => with_rules(err, own),
    }
}

/// The groups new work on `group` may be routed to, in order: the group,
/// then those of its fallbacks the caller may also use (and that exist).
pub fn new_work_groups<'c>(
    config: &'c Config,
    policy: &AccessPolicy,
    group: &'c ModelGroup,
) -> Vec<&'c ModelGroup> {
    let mut groups = alloc::vec![group];
    groups.extend(
        group
            .fallbacks
            .iter()
            .filter(|name| policy.allows(name))
            .filter_map(|name| config.group(name)),
    );
    groups
}

/// When a call with `method` may be sent again after a failure: reads and
/// deletes always (they change nothing twice), creates only after the
/// upstream refused them (a timeout may hide an accepted, billed job).
pub fn resend_for(method: Method) -> Resend {
    match method {
        Method::Get | Method::Delete => Resend::Always,
        Method::Post => Resend::OnlyIfRejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessGroups;

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups": [
                {"name": "veo-3.1", "fallbacks": ["veo-3.0", "sora-2"], "deployments": [
                    {"id": "a", "provider": "gemini", "model": "veo-3.1-generate-preview", "credential": "K"}]},
                {"name": "veo-3.0", "deployments": [
                    {"id": "b", "provider": "gemini", "model": "veo-3.0-generate-001", "credential": "K"}]},
                {"name": "sora-2", "deployments": [
                    {"id": "c", "provider": "openai", "model": "sora-2", "credential": "O"}]}
            ]}"#,
        )
        .unwrap()
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &AccessGroups::default()).unwrap()
    }

    #[test]
    fn denial_comes_before_the_lookup_and_names_the_field() {
        let config = config();
        let veo = policy(&["veo-*"]);
        assert_eq!(
            model_group(&config, &veo, "veo-3.1", "model").unwrap().name,
            "veo-3.1"
        );
        let err = model_group(&config, &veo, "sora-9", "setup.model").unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::ModelAccessDenied,
            "unknown and forbidden look alike"
        );
        assert_eq!(err.param.as_deref(), Some("setup.model"));
        let err = model_group(&config, &veo, "veo-9", "model").unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelNotFound);
    }

    #[test]
    fn rules_are_added_to_denials_only() {
        let config = config();
        let err = model_group(&config, &policy(&["veo-*"]), "sora-2", "model").unwrap_err();
        let rules = [String::from("veo-*"), String::from("!veo-3.0")];
        let err = with_rules(err, &rules);
        assert_eq!(
            err.message,
            "this key may not use model \"sora-2\"; it may use: veo-*, !veo-3.0"
        );
        let missing = ClientError::from_code(ErrorCode::ModelNotFound);
        assert_eq!(with_rules(missing.clone(), &rules), missing);
    }

    #[test]
    fn a_browser_tokens_denial_lists_only_its_own_rules() {
        let config = config();
        let err = model_group(&config, &policy(&["veo-3.1"]), "sora-2", "model").unwrap_err();
        let key = [String::from("veo-*"), String::from("secret-model-*")];
        let token = [String::from("veo-3.1")];
        let by_key = with_callers_rules(err.clone(), &key, None);
        assert!(
            by_key.message.contains("secret-model-*"),
            "{}",
            by_key.message
        );
        let by_token = with_callers_rules(err.clone(), &key, Some(&token));
        assert_eq!(
            by_token.message,
            "this key may not use model \"sora-2\"; it may use: veo-3.1"
        );
        let unnarrowed = with_callers_rules(err.clone(), &key, Some(&[]));
        assert_eq!(unnarrowed, err);
        assert!(!unnarrowed.message.contains("veo-*"));
    }

    #[test]
    fn fallbacks_are_filtered_by_the_callers_rules() {
        let config = config();
        let group = config.group("veo-3.1").unwrap();
        let names = |p: &AccessPolicy| -> Vec<String> {
            new_work_groups(&config, p, group)
                .iter()
                .map(|g| g.name.clone())
                .collect()
        };
        assert_eq!(names(&policy(&["*"])), ["veo-3.1", "veo-3.0", "sora-2"]);
        assert_eq!(names(&policy(&["veo-*"])), ["veo-3.1", "veo-3.0"]);
    }

    #[test]
    fn only_reads_and_deletes_are_always_resent() {
        assert_eq!(resend_for(Method::Get), Resend::Always);
        assert_eq!(resend_for(Method::Delete), Resend::Always);
        assert_eq!(resend_for(Method::Post), Resend::OnlyIfRejected);
    }
}
