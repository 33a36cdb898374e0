//! A preflight is granted to an origin only while some key lists it: the
//! record a key keeps of each origin pattern goes when an update drops the
//! pattern or the key is deleted, and another key's record of the same
//! pattern is untouched.

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Env, GEMINI_KEY};

const APP: &str = "https://app.example.com";
const OTHER: &str = "https://other.example.com";
const WILD: &str = "https://*.wild.example.com";
const UNDER_WILD: &str = "https://x.wild.example.com";

fn config(mock: &MockUpstream) -> Value {
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": mock.base_url()}]}
        ]
    })
}

/// Whether a preflight from `origin` is granted (else it must be the
/// refusal, without a grant).
async fn granted(env: &Env, origin: &str) -> bool {
    let answer = env
        .send(
            env.req(Method::OPTIONS, "/v1/videos")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization"),
        )
        .await;
    let grant = answer.header("access-control-allow-origin");
    if answer.status == 204 {
        assert_eq!(grant.as_deref(), Some(origin));
        true
    } else {
        answer.expect_error(403, "origin_not_allowed");
        assert_eq!(grant, None, "{origin}");
        false
    }
}

#[tokio::test]
async fn preflights_follow_the_keys_that_list_an_origin() {
    let env = Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(config(mock), &[("GEMINI_API_KEY", GEMINI_KEY)])
    })
    .await;
    let a = env
        .new_key(json!({"models": ["veo-3.1"], "allowed_origins": [APP]}))
        .await;
    let b = env
        .new_key(json!({"models": ["veo-3.1"], "allowed_origins": [APP, OTHER]}))
        .await;
    let c = env
        .new_key(json!({"models": ["veo-3.1"], "allowed_origins": [WILD]}))
        .await;
    for origin in [APP, OTHER, UNDER_WILD] {
        assert!(granted(&env, origin).await, "{origin}");
    }

    // B drops OTHER, which no other key lists; APP stays (A and B list it).
    env.admin("/key/update", json!({"key": b, "allowed_origins": [APP]}))
        .await;
    assert!(!granted(&env, OTHER).await);
    assert!(granted(&env, APP).await);
    // A wildcard pattern goes the same way.
    env.admin("/key/update", json!({"key": c, "allowed_origins": []}))
        .await;
    assert!(!granted(&env, UNDER_WILD).await);

    // Deleting A leaves B's record of APP; deleting B too ends it.
    env.admin("/key/delete", json!({"keys": [a]})).await;
    assert!(granted(&env, APP).await);
    env.admin("/key/delete", json!({"keys": [b]})).await;
    assert!(!granted(&env, APP).await);

    // Listed again: granted again.
    env.admin("/key/update", json!({"key": c, "allowed_origins": [OTHER]}))
        .await;
    assert!(granted(&env, OTHER).await);
    env.stop().await;
}
