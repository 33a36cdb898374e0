//! Upstream error bodies and headers, operation errors and Google token
//! endpoint answers are untrusted: classification is total, client errors
//! render as JSON in every dialect, and service-account files parse or
//! fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::errors::{classify_http, classify_operation_error, Dialect};
use reelay_core::google_auth::{parse_token_response, pkcs8_der, ServiceAccount};
use reelay_fuzz::Input;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let status = u16::from_be_bytes(input.array::<2>());
    let code = input.u64() as i64;
    let now = input.u64() >> 8;
    let mut headers = Vec::new();
    for _ in 0..(input.byte() % 4) {
        headers.push((input.text(), input.text()));
    }
    let body = input.rest();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let err = classify_http(status, &headers, body, now);
    let client = err.to_client();
    for dialect in [Dialect::OpenAi, Dialect::Google] {
        let rendered = client.render(dialect);
        let _: Value =
            serde_json::from_str(&rendered).unwrap_or_else(|e| panic!("{e}: {rendered}"));
    }
    let text = String::from_utf8_lossy(body);
    let _ = classify_operation_error(code, &text).to_client();
    let _ = parse_token_response(body, now);
    let _ = ServiceAccount::parse(&text).map(|sa| (sa.signing_input(now), sa.private_key_der()));
    let _ = pkcs8_der(&text);
});
