//! Regression test for the wildcard incident (seeds/004; LiteLLM, Feb 2026):
//! a key allowed `anthropic/*` was denied a model added to the model cost map
//! after startup, because the wildcard was checked against a provider model
//! set cached at startup. reelay matches rules by pattern against the name
//! the client asks for, so a compiled policy allows a model that did not
//! exist in config when the key (or the policy) was created.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] unwrap too

use reelay_core::access::AccessPolicy;
use reelay_core::config::Config;

fn config(groups: &[&str]) -> Config {
    let groups: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                r#"{{"name":"{name}","deployments":[{{"id":"d{i}","provider":"gemini","model":"veo-x","credential":"K"}}]}}"#
            )
        })
        .collect();
    Config::parse(&format!(
        r#"{{"model_groups":[{}],"access_groups":{{"video":["veo-*"]}}}}"#,
        groups.join(",")
    ))
    .unwrap()
}

#[test]
fn wildcard_rules_allow_models_added_after_the_key() {
    let before = config(&["gemini/veo-3.1-generate-preview", "openai/sora-2"]);
    // The key's policy is compiled once, against the old config.
    let gemini_key = AccessPolicy::compile(&["gemini/*"], &before.access_groups).unwrap();
    let openai_key = AccessPolicy::compile(&["openai/*"], &before.access_groups).unwrap();
    assert!(before.group("gemini/veo-4-generate-preview").is_none());

    // Config gains new models later; nothing is reloaded or recompiled.
    let after = config(&[
        "gemini/veo-3.1-generate-preview",
        "gemini/veo-4-generate-preview",
        "openai/sora-2",
        "openai/sora-3",
    ]);
    let allowed = |policy: &AccessPolicy| -> Vec<&str> {
        after
            .model_groups
            .iter()
            .map(|g| g.name.as_str())
            .filter(|name| policy.allows(name))
            .collect()
    };
    assert_eq!(
        allowed(&gemini_key),
        [
            "gemini/veo-3.1-generate-preview",
            "gemini/veo-4-generate-preview"
        ]
    );
    assert_eq!(allowed(&openai_key), ["openai/sora-2", "openai/sora-3"]);
    // And the pattern is not a prefix test on the provider name.
    assert!(!gemini_key.allows("geminiz/veo-4-generate-preview"));
    assert!(!gemini_key.allows("gemini"));
}

#[test]
fn access_groups_are_patterns_too() {
    let cfg = config(&["veo-3.1"]);
    let key = AccessPolicy::compile(&["group:video"], &cfg.access_groups).unwrap();
    assert!(key.allows("veo-3.1"));
    assert!(key.allows("veo-5-added-next-year"));
    assert!(!key.allows("sora-2"));
}
