//! Admin bodies and presented credentials must parse or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::keys::{parse_delete_request, GenerateRequest, KeyRef, UpdateRequest};

fuzz_target!(|data: &[u8]| {
    let groups = AccessGroups::new();
    let _ = GenerateRequest::parse(data, &groups);
    let _ = UpdateRequest::parse(data, &groups);
    let _ = parse_delete_request(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = KeyRef::parse(text);
        let rules: Vec<&str> = text.split(',').collect();
        if let Ok(policy) = AccessPolicy::compile(&rules, &groups) {
            let _ = policy.allows(text);
        }
    }
});
