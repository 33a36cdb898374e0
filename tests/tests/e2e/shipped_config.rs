//! The configs `wrangler.toml` ships (the default environment, which
//! `wrangler deploy` uses against live upstreams, and `demo`, which
//! `scripts/dev` runs against the mock) are valid gateway configs, serve the
//! same group names, and name only models upstreams serve today.

use reelay_core::config::Config;
use serde_json::Value;

use reelay_tests::gateway::repo_root;

fn shipped() -> Value {
    let text = std::fs::read_to_string(repo_root().join("wrangler.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn group_names(config: &Config) -> Vec<String> {
    config.model_groups.iter().map(|g| g.name.clone()).collect()
}

#[test]
fn the_default_and_demo_configs_parse_and_serve_the_same_groups() {
    let wrangler = shipped();
    let default = Config::from_value(&wrangler["vars"]["REELAY_CONFIG"]).unwrap();
    let demo = Config::from_value(&wrangler["env"]["demo"]["vars"]["REELAY_CONFIG"]).unwrap();
    assert_eq!(group_names(&default), group_names(&demo));
    for name in [
        "veo-3.1",
        "veo-3.1-fast",
        "gemini-omni-1.1-flash",
        // Voice, December 2026.
        "gpt-realtime-2",
        "gpt-live-1.1",
        "gpt-realtime-translate",
        "gemini-3.8-live",
        "gemini-3.8-live-vertex",
    ] {
        assert!(group_names(&default).iter().any(|g| g == name), "{name}");
    }
}

#[test]
fn the_default_config_names_no_retired_upstream_model() {
    let wrangler = shipped();
    let default = Config::from_value(&wrangler["vars"]["REELAY_CONFIG"]).unwrap();
    for dep in default.model_groups.iter().flat_map(|g| &g.deployments) {
        // Veo on the Gemini API (retired 2026-10-22), Vertex preview and
        // 2.0/3.0 ids (retired 2026-06-30), OpenAI Sora (shut down
        // 2026-09-24), Vertex's native-audio Live model (retires
        // 2026-12-13) and the dated realtime snapshots of 2025.
        let retired = dep.model.ends_with("-preview")
            || dep.model.starts_with("veo-2.0")
            || dep.model.starts_with("veo-3.0")
            || dep.model.starts_with("sora")
            || (dep.model.starts_with("veo-") && dep.provider.as_str() == "gemini")
            || dep.model.starts_with("gemini-live-2.5")
            || dep.model.contains("native-audio")
            || dep.model.starts_with("gpt-realtime-2025");
        assert!(!retired, "{} serves the retired {}", dep.id, dep.model);
        assert!(
            dep.api_base.starts_with("https://")
                && (dep.api_base.ends_with("googleapis.com")
                    || dep.api_base == "https://api.openai.com"),
            "{} points at {}, not a live upstream",
            dep.id,
            dep.api_base
        );
    }
}
