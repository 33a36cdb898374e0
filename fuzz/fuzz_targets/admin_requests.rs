//! Admin bodies (`/key/generate`, `/key/update`, `/key/delete`), stored
//! key records, presented credentials and access rules: parse or fail
//! cleanly; a generated record survives its stored (JSON) form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::access::{validate_rule, AccessPolicy};
use reelay_core::keys::{
    masked, parse_delete_request, plausible_key, presented_key, GenerateRequest, KeyRecord, KeyRef,
    Presented, UpdateRequest,
};
use reelay_fuzz::{config, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let groups = &config().access_groups;
    match input.byte() % 3 {
        0 => {
            let now = input.u64() >> 8;
            let body = input.rest();
            if let Ok(generate) = GenerateRequest::parse(body, groups) {
                let mut record = generate.into_record("sk-reelay-fuzzing-key-0123456789", now);
                let stored = serde_json::to_string(&record).unwrap_or_else(|e| panic!("{e}"));
                let mut loaded: KeyRecord =
                    serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{e}: {stored}"));
                // Metadata floats may move by an ulp through serde_json's
                // fast float parser: compare its keys only.
                assert!(loaded.metadata.keys().eq(record.metadata.keys()));
                loaded.metadata.clone_from(&record.metadata);
                assert_eq!(loaded, record);
                let _ = AccessPolicy::compile(&record.models, groups)
                    .unwrap_or_else(|e| panic!("accepted rules do not compile: {e}"));
                let _ = record.check_usable(now);
                let _ = record.info();
                if let Ok(update) = UpdateRequest::parse(body, groups) {
                    update.apply(&mut record, now);
                }
            }
            let _ = UpdateRequest::parse(body, groups);
            let _ = parse_delete_request(body);
            let _ = serde_json::from_slice::<KeyRecord>(body);
        }
        1 => {
            let text = input.text();
            let _ = KeyRef::parse(&text);
            let _ = plausible_key(&text);
            let _ = masked(&text);
            let p = Presented {
                authorization: Some(&text),
                api_key: Some(&text),
                goog_api_key: None,
                query_key: Some(&text),
            };
            let _ = presented_key(&p, true);
            let _ = presented_key(&p, false);
        }
        _ => {
            let text = input.text();
            let name = input.text();
            let rules: Vec<&str> = text.split(',').collect();
            for rule in &rules {
                let _ = validate_rule(rule, groups);
            }
            if let Ok(policy) = AccessPolicy::compile(&rules, groups) {
                let _ = policy.allows(&name);
            }
        }
    }
});
