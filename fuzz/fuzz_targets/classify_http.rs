//! Upstream error bodies and headers are untrusted: classification must be
//! total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::errors::{classify_http, classify_operation_error};

fuzz_target!(|input: (u16, Vec<(String, String)>, Vec<u8>, i64)| {
    let (status, headers, body, code) = input;
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let err = classify_http(status, &headers, &body, 1_790_000_000_000);
    let _ = err.to_client();
    let _ = classify_operation_error(code, &String::from_utf8_lossy(&body));
});
