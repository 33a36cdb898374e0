//! Criterion benchmarks of Responses API affinity (`reelay_core::responses`):
//! SSE rewrite throughput on a realistic streamed turn fed in 1–4 KB
//! chunks, and the per-request cost of sealing a JSON response and
//! restoring the follow-up that replays it. Fixtures are built once and
//! checked (sealed output restores to the upstream originals) before they
//! are measured.
//!
//! Run: `cargo bench -p reelay-core --bench responses -- --warm-up-time 1 --measurement-time 3`

// Fixtures are built once outside the timed loops; failing loudly there is
// the right thing for a benchmark (the workspace lints only permit
// unwrap/expect/panic inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use reelay_core::keys::key_hash;
use reelay_core::responses::{restore_id, restore_request, seal_response_body, SseRewriter};
use reelay_core::seal::{Keys, Owner};
use serde_json::{json, Value};

const KEY: &str = "sk-reelay-q3Jx0bX9mZ4vT1cK7pLw2HsYdE8fRg5N";
const DEP: &str = "azure-eastus-o4";
const RESP: &str = "resp_68af4030592c8190aa0c8dd5e3c1e8e40c8b3f6c58c8a8ed";
const PREV: &str = "resp_68af3ff1c2d48190b7a0e1c2d3e4f5a60c8b3f6c58c8a8ed";
const MSG: &str = "msg_68af4036f1a08190a9b8c7d6e5f4a3b20c8b3f6c58c8a8ed";

/// Fernet-like base64 of `n` characters, as OpenAI's `encrypted_content`.
fn blob(seed: u64, n: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed;
    let mut s = String::from("gAAAAABor");
    while s.len() < n - 2 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push(char::from(B64[(x >> 58) as usize]));
    }
    s.push_str("==");
    s
}

fn rs_id(i: usize) -> String {
    format!("rs_68af4031a3b08190b2c9d8e7f6a5b4c{i}0c8b3f6c58c8a8ed")
}

fn reasoning(i: usize) -> Value {
    json!({"id": rs_id(i), "type": "reasoning", "encrypted_content": blob(i as u64, 4096),
           "summary": [{"type": "summary_text", "text": "**Planning the answer**\n\nThe user asks for a summary; outline first."}]})
}

fn message(words: usize) -> Value {
    json!({"id": MSG, "type": "message", "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "token ".repeat(words)}]})
}

fn response(status: &str, output: Value) -> Value {
    json!({"id": RESP, "object": "response", "created_at": 1_756_315_696, "status": status,
           "model": "o4-mini-2025-04-16", "output": output, "previous_response_id": PREV,
           "parallel_tool_calls": true, "reasoning": {"effort": "medium", "summary": "auto"},
           "store": false, "text": {"format": {"type": "text"}, "verbosity": "medium"},
           "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
           "usage": {"input_tokens": 1275, "input_tokens_details": {"cached_tokens": 1024},
                     "output_tokens": 2186, "output_tokens_details": {"reasoning_tokens": 1088},
                     "total_tokens": 3461},
           "metadata": {}})
}

/// A streamed turn: 3 reasoning items (20 summary deltas and ~4 KB of
/// encrypted content each), then a message of `deltas` text deltas, then
/// `response.completed` repeating the whole output.
fn stream(deltas: usize) -> String {
    let mut s = String::new();
    let mut seq = 0;
    let mut ev = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        s.push_str(&format!("event: {kind}\ndata: {data}\n\n"));
    };
    ev(
        "response.created",
        json!({"response": response("in_progress", json!([]))}),
    );
    ev(
        "response.in_progress",
        json!({"response": response("in_progress", json!([]))}),
    );
    for i in 0..3 {
        ev(
            "response.output_item.added",
            json!({"output_index": i, "item": {"id": rs_id(i), "type": "reasoning", "summary": []}}),
        );
        for _ in 0..20 {
            ev(
                "response.reasoning_summary_text.delta",
                json!({"item_id": rs_id(i), "output_index": i, "summary_index": 0, "delta": " outline", "obfuscation": "Zk3q"}),
            );
        }
        ev(
            "response.output_item.done",
            json!({"output_index": i, "item": reasoning(i)}),
        );
    }
    ev(
        "response.output_item.added",
        json!({"output_index": 3, "item": {"id": MSG, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
    );
    for i in 0..deltas {
        ev(
            "response.output_text.delta",
            json!({"item_id": MSG, "output_index": 3, "content_index": 0, "delta": "token ", "logprobs": [], "obfuscation": format!("{i:08x}")}),
        );
    }
    ev(
        "response.output_item.done",
        json!({"output_index": 3, "item": message(deltas)}),
    );
    let output = json!([reasoning(0), reasoning(1), reasoning(2), message(deltas)]);
    ev(
        "response.completed",
        json!({"response": response("completed", output)}),
    );
    s
}

/// 1–4 KB chunk sizes, in a fixed irregular pattern.
const CHUNKS: [usize; 6] = [1024, 2731, 4096, 1500, 3333, 2048];

fn rewrite(sealer: &Keys, owner: &Owner, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut rw = SseRewriter::new(sealer, owner, DEP);
    let mut at = 0;
    let mut k = 0;
    while at < input.len() {
        let end = (at + CHUNKS[k % CHUNKS.len()]).min(input.len());
        rw.push(&input[at..end], out).unwrap();
        at = end;
        k += 1;
    }
    rw.finish(out).unwrap();
}

fn bench_sse(c: &mut Criterion) {
    let sealer = Keys::derive(b"test-sealing-key-0123456789abcdef0123456789").unwrap();
    let owner = Owner::of(&key_hash(KEY), None);
    let input = stream(2000);
    let mut out = Vec::with_capacity(input.len() * 2);
    rewrite(&sealer, &owner, input.as_bytes(), &mut out);
    // Check once: the completed event restores to the upstream output.
    let text = String::from_utf8(out.clone()).unwrap();
    let completed = text.rsplit("data: ").next().unwrap().trim();
    let completed: Value = serde_json::from_str(completed).unwrap();
    let follow = json!({"model": "o4-mini", "previous_response_id": completed["response"]["id"],
                        "input": completed["response"]["output"]})
    .to_string();
    let restored = restore_request(follow.as_bytes(), &sealer, &owner).unwrap();
    assert_eq!(restored.pin.as_deref(), Some(DEP));
    let restored: Value = serde_json::from_slice(&restored.body).unwrap();
    assert_eq!(restored["input"][1], reasoning(1));
    assert_eq!(restored["previous_response_id"], RESP);

    let mut g = c.benchmark_group("responses_sse");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function(
        format!(
            "rewrite_stream_{}KB_2000_deltas_3x4KB_reasoning",
            input.len() / 1024
        ),
        |b| b.iter(|| rewrite(&sealer, &owner, black_box(input.as_bytes()), &mut out)),
    );
    // Only text deltas: the pre-check path (what most of a stream is).
    let deltas: String = input
        .split_inclusive("\n\n")
        .filter(|e| e.starts_with("event: response.output_text.delta"))
        .collect();
    g.throughput(Throughput::Bytes(deltas.len() as u64));
    g.bench_function("rewrite_text_deltas_only", |b| {
        b.iter(|| rewrite(&sealer, &owner, black_box(deltas.as_bytes()), &mut out))
    });
    g.finish();
}

fn bench_json(c: &mut Criterion) {
    let sealer = Keys::derive(b"test-sealing-key-0123456789abcdef0123456789").unwrap();
    let owner = Owner::of(&key_hash(KEY), None);
    let output = json!([reasoning(0), reasoning(1), reasoning(2), message(300)]);
    let body = serde_json::to_vec(&response("completed", output)).unwrap();
    let sealed = seal_response_body(&body, &sealer, &owner, DEP).unwrap();
    let v: Value = serde_json::from_slice(&sealed).unwrap();
    let follow = serde_json::to_vec(&json!({
        "model": "o4-mini", "previous_response_id": v["id"], "store": false,
        "include": ["reasoning.encrypted_content"],
        "input": v["output"],
    }))
    .unwrap();
    let restored = restore_request(&follow, &sealer, &owner).unwrap();
    assert_eq!(restored.pin.as_deref(), Some(DEP));
    let back: Value = serde_json::from_slice(&restored.body).unwrap();
    let upstream: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(back["input"], upstream["output"]);
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(restore_id(&id, &sealer, &owner).unwrap().upstream_id, RESP);

    let mut g = c.benchmark_group("responses_json");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function(format!("seal_response_{}KB", body.len() / 1024), |b| {
        b.iter(|| seal_response_body(black_box(&body), &sealer, &owner, DEP))
    });
    g.throughput(Throughput::Bytes(follow.len() as u64));
    g.bench_function(
        format!("restore_follow_up_{}KB", follow.len() / 1024),
        |b| b.iter(|| restore_request(black_box(&follow), &sealer, &owner)),
    );
    g.throughput(Throughput::Bytes((body.len() + follow.len()) as u64));
    g.bench_function("seal_then_restore_turn", |b| {
        b.iter(|| {
            let s = seal_response_body(black_box(&body), &sealer, &owner, DEP).unwrap();
            let r = restore_request(black_box(&follow), &sealer, &owner).unwrap();
            (s, r)
        })
    });
    // Reference point: a serde_json::Value round trip of the same body, the
    // floor of any Value-based rewrite (before it touches a single id).
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("baseline_serde_json_value_round_trip", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&body)).unwrap();
            serde_json::to_vec(&v).unwrap()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("responses_ids");
    g.bench_function("restore_path_id", |b| {
        b.iter(|| restore_id(black_box(&id), &sealer, &owner))
    });
    g.finish();
}

/// Every group, with criterion's command-line options applied.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_sse(&mut c);
    bench_json(&mut c);
}

criterion_main!(benches);
