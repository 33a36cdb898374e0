//! Gemini/Vertex Live: the client's first (setup) frame, the Live routes,
//! `auth_tokens` mint bodies and the Live tokens minted from them. The
//! setup sent upstream names the deployment's model; a minted token opens
//! to exactly the claims it was minted with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::realtime::live::{
    live_route, parse_rfc3339_ms, plan_live, upstream_model, AuthTokenRequest, LiveTokenClaims,
    Setup,
};
use reelay_core::seal::{Error, Purpose};
use reelay_fuzz::{config, deployment, keys, Input};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => setup_frame(input.rest()),
        1 => mint(&mut input),
        _ => {
            let text = input.text();
            let segments: Vec<&str> = text.split('/').filter(|s| !s.is_empty()).collect();
            let _ = live_route(&segments);
            if let Some(ms) = parse_rfc3339_ms(&text) {
                let again = reelay_core::time::rfc3339(ms);
                assert_eq!(
                    parse_rfc3339_ms(&again),
                    Some(ms - ms % 1000),
                    "{text} → {again}"
                );
            }
        }
    }
});

fn setup_frame(frame: &[u8]) {
    let Ok(setup) = Setup::parse(frame) else {
        return;
    };
    let Ok(name) = setup.group_name() else {
        return;
    };
    let Some(group) = config().group(name) else {
        return;
    };
    for dep in &group.deployments {
        let Ok(plan) = plan_live(dep, &setup) else {
            continue;
        };
        let sent: Value =
            serde_json::from_str(&plan.setup).unwrap_or_else(|e| panic!("{e}: {}", plan.setup));
        let model = upstream_model(dep).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            sent["setup"]["model"].as_str(),
            Some(model.as_str()),
            "{}",
            plan.setup
        );
        // What the upstream reads first is the setup, and only one.
        assert_eq!(
            Setup::parse(plan.setup.as_bytes()).map(|s| s.model().map(str::to_owned)),
            Ok(Some(model))
        );
    }
}

/// Parse → serialize → parse, as the token's JSON claims go.
fn normalized(value: &Option<serde_json::Map<String, Value>>) -> Option<Value> {
    value.as_ref().map(|map| {
        let text = Value::Object(map.clone()).to_string();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    })
}

fn mint(input: &mut Input<'_>) {
    let now = input.u64() >> 8;
    let later = input.u64() >> 8;
    let nonce = input.array::<12>();
    let body = input.part();
    let client = input.rest();
    let Ok(request) = AuthTokenRequest::parse(body, now) else {
        return;
    };
    let claims = LiveTokenClaims::mint(
        &request,
        [5; 32],
        nonce,
        reelay_core::browser_token::Minter::Key,
    );
    let Ok(token) = claims.seal(keys()) else {
        return;
    };
    let until = claims.expires_at_ms.min(claims.new_sessions_until_ms);
    let opened = LiveTokenClaims::open(keys(), &token, later);
    let named = format!("auth_tokens/{token}");
    if token.len() > Purpose::LiveToken.max_len() {
        assert_eq!(opened, Err(Error::Malformed));
        return;
    }
    assert_eq!(opened, LiveTokenClaims::open(keys(), &named, later));
    if later >= until {
        assert_eq!(opened, Err(Error::Expired(until / 1000)));
        return;
    }
    let opened = opened.unwrap_or_else(|e| panic!("minted Live token does not open: {e:?}"));
    assert_eq!(opened.id, claims.id);
    assert_eq!(opened.key_hash, claims.key_hash);
    assert_eq!(opened.expires_at_ms, claims.expires_at_ms);
    assert_eq!(opened.new_sessions_until_ms, claims.new_sessions_until_ms);
    assert_eq!(opened.uses, claims.uses);
    assert_eq!(opened.field_mask, claims.field_mask);
    assert_eq!(
        opened.setup.map(Value::Object),
        normalized(&claims.setup),
        "locked setup changed"
    );
    // The session runs with the locked model when the token locks one.
    if let Ok(setup) = Setup::parse(client) {
        let effective = claims.effective_setup(&setup);
        if let Some(model) = request.model() {
            assert_eq!(effective.model(), Some(model));
        }
        if let Ok(plan) = plan_live(deployment("gemini-live"), &effective) {
            let _: Value = serde_json::from_str(&plan.setup).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
