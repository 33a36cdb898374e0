//! Responses API affinity over untrusted bytes: client request bodies,
//! path ids and cursors (opened), upstream JSON answers and SSE streams
//! (sealed). Every id sealed in an answer opens back to the upstream's
//! original for this key, and an SSE stream is rewritten the same however
//! it is chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::responses::{
    create_shape, restore_cursor, restore_id, restore_request, seal_response_body,
    strip_pinned_reasoning, Overflow, SseRewriter,
};
use reelay_core::seal::Purpose;
use reelay_fuzz::{keys, Input, OWNER};
use serde_json::Value;

const DEPLOYMENT: &str = "openai-resp";

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 4 {
        0 => {
            let body = input.rest();
            if let Ok(restored) = restore_request(body, keys(), &OWNER) {
                if serde_json::from_slice::<Value>(body).is_ok() {
                    assert!(serde_json::from_slice::<Value>(&restored.body).is_ok());
                }
            }
            if let Ok(stripped) = strip_pinned_reasoning(body) {
                assert!(serde_json::from_slice::<Value>(&stripped.body).is_ok());
            }
            let _ = create_shape(body);
        }
        1 => {
            let text = input.text();
            let _ = restore_id(&text, keys(), &OWNER);
            let _ = restore_cursor("after", &text, keys(), &OWNER);
        }
        2 => sealed_body(input.rest()),
        _ => {
            let cuts: Vec<usize> = input.part().iter().map(|b| usize::from(*b)).collect();
            let limit = usize::from(input.byte()) * 16 + 1;
            let stream = input.rest();
            for overflow in [Overflow::Error, Overflow::PassThrough] {
                let whole = rewrite(stream, &[], limit, overflow);
                let chunked = rewrite(stream, &cuts, limit, overflow);
                assert_eq!(whole, chunked, "chunking changed the output ({overflow:?})");
            }
        }
    }
});

/// The SSE rewrite of `stream`, fed in chunks of the lengths in `cuts`.
fn rewrite(stream: &[u8], cuts: &[usize], limit: usize, overflow: Overflow) -> (Vec<u8>, bool) {
    let mut rewriter = SseRewriter::new(keys(), &OWNER, DEPLOYMENT).with_limit(limit, overflow);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut failed = false;
    for &cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
        let (chunk, tail) = rest.split_at(cut.min(rest.len()));
        rest = tail;
        failed |= rewriter.push(chunk, &mut out).is_err();
        if rest.is_empty() {
            break;
        }
    }
    failed |= rewriter.finish(&mut out).is_err();
    (out, failed)
}

/// Upstream JSON, sealed: same shape, and every changed string is a
/// sealed id that opens to the original (or a wrapped `encrypted_content`).
fn sealed_body(body: &[u8]) {
    let Ok(sealed) = seal_response_body(body, keys(), &OWNER, DEPLOYMENT) else {
        return;
    };
    let Ok(before) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let after: Value =
        serde_json::from_slice(&sealed).unwrap_or_else(|e| panic!("sealed body is not JSON: {e}"));
    same_shape(&before, &after);
}

fn same_shape(before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.len(), b.len());
            for (k, v) in a {
                same_shape(v, b.get(k).unwrap_or_else(|| panic!("key {k:?} lost")));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).for_each(|(x, y)| same_shape(x, y));
        }
        (Value::String(a), Value::String(b)) if a != b => {
            if Purpose::of_responses_id(b).is_some() {
                let (dep, upstream) = restore_cursor("id", b, keys(), &OWNER)
                    .unwrap_or_else(|e| panic!("sealed {a:?} does not open: {e:?}"));
                assert_eq!(dep.as_deref(), Some(DEPLOYMENT));
                assert_eq!(&upstream, a);
            } else {
                assert!(b.starts_with("enc_"), "{a:?} changed into {b:?}");
            }
        }
        (a, b) => assert_eq!(a, b),
    }
}
