//! Browser-facing input comes from anyone: browser tokens (`bt_rl_…`),
//! `Origin` headers, `allowed_origins` patterns, preflight header lists and
//! mint bodies must never panic, and only tokens this key sealed may open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::access::AccessGroups;
use reelay_core::browser_token::{Claims, MintRequest};
use reelay_core::cors::{self, PreflightRequest, RequestOrigin};
use reelay_core::origin::{Origin, OriginPattern};
use reelay_core::seal::Keys;

fuzz_target!(|data: &[u8]| {
    let _ = MintRequest::parse(data, &AccessGroups::new());
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(keys) = Keys::derive(&[42u8; 32]) {
        let _ = Claims::open(&keys, text, 0);
        let _ = Claims::open(&keys, &format!("bt_rl_{text}"), 0);
    }
    let origin = Origin::parse(text);
    if let Ok(pattern) = OriginPattern::parse(text) {
        let _ = pattern.canonical();
        if let Ok(origin) = &origin {
            let _ = pattern.matches(origin);
        }
    }
    let _ = RequestOrigin::classify(Some(text), "https://gw.example.com");
    let _ = cors::preflight(
        PreflightRequest {
            origin: Some("https://app.example.com"),
            request_method: Some("POST"),
            request_headers: Some(text),
        },
        600,
    );
});
