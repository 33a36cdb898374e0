//! End-to-end tests of reelay, in one test binary (one link step): the
//! built Worker (`edge/build/`, from `scripts/build-worker`) in real workerd
//! (Miniflare, local KV and SQLite Durable Objects) against the mock
//! upstream, driven over HTTP and WebSocket — one module per surface — and
//! the self-tests of the mock upstream itself (`mock_selftest`).
//!
//! Every test starts its own mock and, for the end-to-end modules, its own
//! gateway; libtest runs them on as many threads as there are cores.
//! Filters name modules: `cargo test -p reelay-tests --test e2e quota::`
//! runs the quota tests, `… mock_selftest::` only the mock's self-tests,
//! `… -- --skip mock_selftest::` everything but them. The shared
//! environment is in `harness`, its WebSocket side in
//! `sockets`.

// Test code unwraps and panics freely, helpers outside `#[test]` fns too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod sockets;

mod answer_redaction;
mod browser_auth;
mod cors_markers;
mod follow_up_forms;
mod gateway;
mod gemini_on_vertex;
mod gemini_v1;
mod google_doors;
mod gpt_live;
mod gpt_live_ws;
mod interactions;
mod key_narrowing;
mod keys_cors;
mod live_interactions;
mod minting;
mod mock_selftest;
mod omni;
mod quota;
mod realtime;
mod realtime_ws;
mod responses;
mod retired;
mod shipped_config;
mod socket_lifetime;
mod strict_inputs;
mod translation;
mod vertex_ga;
mod visitors;
