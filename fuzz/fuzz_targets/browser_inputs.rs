//! Browser-facing input comes from anyone: browser tokens (`bt_rl_…`),
//! `Origin` headers, `allowed_origins` patterns, preflight header lists and
//! mint bodies. Nothing panics, origins and patterns survive their
//! canonical form, and a minted token never outlives its parent key nor
//! binds an origin the parent does not allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::access::AccessPolicy;
use reelay_core::browser_token::{Claims, MintRequest, Parent};
use reelay_core::cors::{self, AllowedOrigins, PreflightRequest, RequestOrigin};
use reelay_core::keys::GenerateRequest;
use reelay_core::origin::{validate_patterns, Origin, OriginPattern};
use reelay_fuzz::{config, keys, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => mint(&mut input),
        1 => {
            let text = input.text();
            let other = input.text();
            origins(&text, &other);
        }
        _ => {
            let text = input.text();
            let _ = Claims::open(keys(), &text, 0);
            let _ = Claims::open(keys(), &format!("bt_rl_{text}"), 0);
            let _ = cors::is_allowed_request_header(&text);
            let _ = cors::preflight(
                PreflightRequest {
                    origin: Some("https://app.example.com"),
                    request_method: Some("POST"),
                    request_headers: Some(&text),
                },
                600,
                &cors::AllowedOrigins::compile([config().cors.allowed_origins.as_slice()]),
                text.len() % 2 == 0,
            );
            let _ = cors::preflight(
                PreflightRequest {
                    origin: Some(&text),
                    request_method: Some(&text),
                    request_headers: None,
                },
                600,
                &cors::AllowedOrigins::compile([config().cors.allowed_origins.as_slice()]),
                true,
            );
        }
    }
});

fn origins(text: &str, other: &str) {
    if let Ok(origin) = Origin::parse(text) {
        let serialized = origin.serialize();
        assert_eq!(
            Origin::parse(&serialized).map(|o| o.serialize()),
            Ok(serialized.clone())
        );
        let exact = OriginPattern::parse(&serialized)
            .unwrap_or_else(|e| panic!("{serialized:?} is no pattern: {e:?}"));
        assert!(exact.matches(&origin), "{serialized} does not match itself");
    }
    if let Ok(pattern) = OriginPattern::parse(text) {
        let canonical = pattern.canonical();
        let again = OriginPattern::parse(&canonical)
            .unwrap_or_else(|e| panic!("canonical {canonical:?} does not parse: {e:?}"));
        assert_eq!(again.canonical(), canonical);
        if let Ok(origin) = Origin::parse(other) {
            assert_eq!(
                pattern.matches(&origin),
                again.matches(&origin),
                "{canonical}"
            );
            let allowed = AllowedOrigins::compile([[canonical.clone()].as_slice()]);
            assert_eq!(allowed.allows(&origin), pattern.matches(&origin));
        }
    }
    let _ = validate_patterns(&[text.to_owned(), other.to_owned()]);
    let classified = RequestOrigin::classify(Some(text), "https://gw.example.com");
    let _ = classified.check(&AllowedOrigins::compile([[other.to_owned()].as_slice()]));
}

fn mint(input: &mut Input<'_>) {
    let now_ms = input.u64() >> 8;
    let id = input.array::<8>();
    let parent_body = input.part();
    let mint_body = input.rest();
    let groups = &config().access_groups;
    let Ok(parent) = GenerateRequest::parse(parent_body, groups) else {
        return;
    };
    let record = parent.into_record("sk-reelay-parent-key-for-fuzzing", now_ms);
    let Ok(policy) = AccessPolicy::compile(&record.models, groups) else {
        return;
    };
    let Ok(request) = MintRequest::parse(mint_body, groups) else {
        return;
    };
    let parent = Parent {
        hash: [9; 32],
        record: &record,
        policy: &policy,
    };
    let Ok(claims) = request.authorize(parent, config(), now_ms, id, keys()) else {
        return;
    };
    if let Some(parent_exp) = record.expires_at_ms {
        assert!(
            claims.expires_at_secs <= parent_exp / 1000,
            "outlives its parent"
        );
    }
    if let Some(origin) = &claims.origin {
        let origin = Origin::parse(origin).unwrap_or_else(|e| panic!("{origin}: {e:?}"));
        let allowed = AllowedOrigins::compile([
            record.allowed_origins.as_slice(),
            config().cors.allowed_origins.as_slice(),
        ]);
        assert!(
            allowed.allows(&origin),
            "bound to an origin the parent may not use"
        );
    }
    let Ok(token) = claims.seal(keys()) else {
        return;
    };
    if claims.expires_at_secs > now_ms / 1000 && token.len() <= 4096 {
        let opened = Claims::open(keys(), &token, now_ms / 1000);
        assert_eq!(opened.as_ref(), Ok(&claims));
    }
}
