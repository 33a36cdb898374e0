//! Table-driven tests of upstream error classification over real error
//! bodies kept as fixtures in `tests/fixtures/errors/*.json`.
//!
//! Each fixture is
//! `{"name", "status", "headers": [[name, value]…], "now_unix_ms"?, "body", "expect"}`
//! where `body` is the upstream body as JSON, or a string for a raw
//! (non-JSON, empty, HTML) body, and `expect` holds `kind`
//! ([`ErrorKind::as_str`]), `retry` (`never` | `backoff` | `after:<ms>`),
//! `scope` (`request` | `deployment` | `key`), `upstream_code` (string or
//! null) and optionally `message`, `message_contains`, `message_excludes`.

// Helpers outside #[test] fns are not covered by clippy.toml's
// allow-*-in-tests; a test binary may fail loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use proptest::prelude::*;
use reelay_core::errors::classify::{MAX_MESSAGE_BYTES, MAX_RETRY_DELAY_MS};
use reelay_core::errors::{classify_http, Dialect, Retry, Scope, UpstreamError};
use serde_json::Value;

/// Default clock for fixtures that do not set `now_unix_ms`.
const NOW: u64 = 1_780_000_000_000;

struct Fixture {
    file: String,
    doc: Value,
}

fn fixtures() -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors");
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Fixture {
                file: p.file_name().unwrap().to_string_lossy().into_owned(),
                doc,
            }
        })
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn run(f: &Fixture) -> UpstreamError {
    let d = &f.doc;
    let status = u16::try_from(d["status"].as_u64().unwrap()).unwrap();
    let headers: Vec<(String, String)> = d["headers"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: headers must be an array", f.file))
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body: Vec<u8> = match &d["body"] {
        Value::String(raw) => raw.as_bytes().to_vec(),
        json => json.to_string().into_bytes(),
    };
    let now = d.get("now_unix_ms").and_then(Value::as_u64).unwrap_or(NOW);
    classify_http(status, &headers, &body, now)
}

fn retry_str(r: Retry) -> String {
    match r {
        Retry::Never => "never".to_owned(),
        Retry::Backoff => "backoff".to_owned(),
        Retry::AfterMillis(ms) => format!("after:{ms}"),
    }
}

fn scope_str(s: Scope) -> &'static str {
    match s {
        Scope::Request => "request",
        Scope::Deployment => "deployment",
        Scope::Key => "key",
    }
}

#[test]
fn every_fixture_classifies_as_expected() {
    let all = fixtures();
    assert!(all.len() >= 25, "only {} fixtures", all.len());
    let mut failures = Vec::new();
    for f in &all {
        let got = run(f);
        let exp = &f.doc["expect"];
        let name = f.doc["name"].as_str().unwrap_or("?");
        let mut check = |what: &str, got: String, want: String| {
            if got != want {
                failures.push(format!(
                    "{} ({name}): {what}: got {got:?}, want {want:?}",
                    f.file
                ));
            }
        };
        check(
            "kind",
            got.kind.as_str().to_owned(),
            exp["kind"].as_str().unwrap().to_owned(),
        );
        check(
            "retry",
            retry_str(got.retry),
            exp["retry"].as_str().unwrap().to_owned(),
        );
        check(
            "scope",
            scope_str(got.scope).to_owned(),
            exp["scope"].as_str().unwrap().to_owned(),
        );
        check(
            "upstream_code",
            format!("{:?}", got.upstream_code),
            format!("{:?}", exp["upstream_code"].as_str()),
        );
        check(
            "status",
            format!("{:?}", got.status),
            format!("{:?}", f.doc["status"].as_u64()),
        );
        if let Some(want) = exp.get("message").and_then(Value::as_str) {
            check("message", got.message.clone(), want.to_owned());
        }
        if let Some(part) = exp.get("message_contains").and_then(Value::as_str) {
            if !got.message.contains(part) {
                failures.push(format!(
                    "{}: message {:?} lacks {part:?}",
                    f.file, got.message
                ));
            }
        }
        if let Some(part) = exp.get("message_excludes").and_then(Value::as_str) {
            if got.message.contains(part) {
                failures.push(format!(
                    "{}: message {:?} contains {part:?}",
                    f.file, got.message
                ));
            }
        }
        if got.message.is_empty() || got.message.len() > MAX_MESSAGE_BYTES {
            failures.push(format!(
                "{}: bad message length {}",
                f.file,
                got.message.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_renders_a_client_error() {
    for f in &fixtures() {
        let up = run(f);
        let client = up.to_client();
        let status = client.status();
        assert!((400..600).contains(&status), "{}: status {status}", f.file);
        assert_eq!(
            client.retry_after_ms,
            match up.retry {
                Retry::AfterMillis(ms) => Some(ms),
                _ => None,
            }
        );
        let openai: Value = serde_json::from_str(&client.render(Dialect::OpenAi)).unwrap();
        assert_eq!(openai["error"]["code"], client.code.as_str(), "{}", f.file);
        assert!(
            openai["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            f.file
        );
        let google: Value = serde_json::from_str(&client.render(Dialect::Google)).unwrap();
        assert_eq!(
            google["error"]["code"].as_u64(),
            Some(u64::from(status)),
            "{}",
            f.file
        );
        assert!(google["error"]["status"].is_string(), "{}", f.file);
        // Caller faults keep the upstream's words; credential faults never
        // leak them to the caller.
        if up.kind.as_str() == "authentication" {
            assert!(
                !client.message.contains("API key"),
                "{}: {}",
                f.file,
                client.message
            );
        }
    }
}

#[test]
fn fixture_names_are_unique() {
    let all = fixtures();
    let mut names: Vec<&str> = all
        .iter()
        .map(|f| f.doc["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate fixture names");
}

fn check_invariants(status: u16, e: &UpstreamError) {
    assert_eq!(e.status, Some(status));
    assert!(!e.message.is_empty());
    assert!(
        e.message.len() <= MAX_MESSAGE_BYTES,
        "message of {} bytes",
        e.message.len()
    );
    if let Retry::AfterMillis(ms) = e.retry {
        assert!(ms <= MAX_RETRY_DELAY_MS);
    }
    if !(400..600).contains(&status) {
        assert_eq!(e.kind.as_str(), "gateway");
    }
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("retry-after".to_owned()),
        Just("Retry-After-Ms".to_owned()),
        Just("x-should-retry".to_owned()),
        "[a-zA-Z-]{0,12}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9.]{0,25}",
        Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        "[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        any::<String>(),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((header_name(), header_value()), 0..4)
}

/// Google-shaped bodies with arbitrary strings in every field the
/// classifier reads.
fn google_body() -> impl Strategy<Value = Vec<u8>> {
    let delay = prop_oneof![
        any::<String>().prop_map(Value::from),
        "[0-9.-]{0,24}s?".prop_map(Value::from),
        (any::<i64>(), any::<i64>())
            .prop_map(|(s, n)| serde_json::json!({"seconds": s, "nanos": n})),
        any::<f64>().prop_map(|f| serde_json::json!({"seconds": f.to_string()})),
    ];
    (any::<i64>(), any::<String>(), any::<String>(), any::<String>(), any::<String>(), delay, any::<bool>()).prop_map(
        |(code, message, status, reason, quota_id, delay, wrap)| {
            let error = serde_json::json!({
                "code": code,
                "message": message,
                "status": status,
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason},
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id, "quotaValue": "0"}]},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
                ],
                "errors": [{"reason": "rateLimitExceeded"}],
            });
            let body = if wrap { serde_json::json!([{ "error": error }]) } else { serde_json::json!({ "error": error }) };
            body.to_string().into_bytes()
        },
    )
}

/// OpenAI-shaped bodies with arbitrary strings.
fn openai_body() -> impl Strategy<Value = Vec<u8>> {
    (any::<String>(), any::<String>(), any::<String>()).prop_map(|(message, ty, code)| {
        serde_json::json!({"error": {"message": message, "type": ty, "param": null, "code": code}})
            .to_string()
            .into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(
        status in any::<u16>(),
        headers in headers(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        now in any::<u64>(),
    ) {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = classify_http(status, &h, &body, now);
        check_invariants(status, &e);
    }

    #[test]
    fn never_panics_on_google_shaped_bodies(
        status in prop_oneof![400u16..600, any::<u16>()],
        headers in headers(),
        body in google_body(),
        now in any::<u64>(),
    ) {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = classify_http(status, &h, &body, now);
        check_invariants(status, &e);
    }

    #[test]
    fn never_panics_on_openai_shaped_bodies(
        status in prop_oneof![400u16..600, any::<u16>()],
        headers in headers(),
        body in openai_body(),
        now in any::<u64>(),
    ) {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = classify_http(status, &h, &body, now);
        check_invariants(status, &e);
    }

    #[test]
    fn operation_errors_never_panic(code in any::<i64>(), message in any::<String>()) {
        let e = reelay_core::errors::classify_operation_error(code, &message);
        prop_assert!(e.status.is_none());
        prop_assert!(e.upstream_code.is_some());
        prop_assert!(e.message.len() <= MAX_MESSAGE_BYTES);
    }
}
