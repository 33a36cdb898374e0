//! # reelay-core
//!
//! Every decision the reelay gateway makes, with no I/O: parsing and
//! validating the gateway config, matching virtual-key access rules, sealing
//! and opening the ids handed to clients, classifying upstream errors and
//! rendering client errors, and translating video requests between the
//! OpenAI Videos API and Google Veo.
//!
//! What this crate is *not*: it sends no requests, reads no clock, draws no
//! random numbers and knows nothing of Cloudflare Workers. The host (the
//! `reelay-edge` Worker, or any other) passes in `now`, random bytes, parsed
//! requests and stored state, and gets back plans and values to act on.
//!
//! # Modules, by layer
//!
//! Imports point down this table, never up: the base layer imports nothing
//! from the crate, config imports only the base layer and the two rule
//! syntaxes, and feature modules import config for their settings. Cycles
//! are caught by `tests/module_graph.rs`.
//!
//! | layer | module | owns |
//! |---|---|---|
//! | base | [`encoding`] | base64url, hex, SHA-256, HMAC-SHA-256, constant-time comparison |
//! | base | [`json`] | helpers over `serde_json` values (`type_name` for error messages) |
//! | base | [`money`] | USD amounts ↔ integer micro-USD |
//! | base | [`redact`] | removing secrets from upstream text: by value (the credentials and tokens the host knows), then by shape |
//! | base | [`time`] | the calendar (`days_from_civil`), RFC 3339, HTTP-date, durations; [`time::tz`]: local days in IANA time zones |
//! | rules | [`access`] | virtual-key model access rules and access groups: syntax, validation, matching |
//! | rules | [`origin`] | browser origin and `allowed_origins` pattern syntax and matching |
//! | settings | [`config`] | the gateway config: parsing and validating it into plain settings types; [`config::policy`]: quota policy and prices as written |
//! | features | [`errors`] | upstream error classification, client errors and their rendering |
//! | features | [`form`] | multipart forms: the parts a route accepts, each once |
//! | features | [`plan`] | the upstream calls core asks the host to make |
//! | features | [`provider`] | the provider layer's facts outside video: where each provider serves the OpenAI-shaped and Live APIs, its credential header, its model names |
//! | features | [`route`] | which deployment of a model group serves new work |
//! | features | [`retry`] | retries, fallbacks and cooldowns after an upstream failure |
//! | features | [`quota`] | quota arithmetic: limits, charges, refunds, settlements |
//! | features | [`cors`] | CORS answers: origin checks against a key, preflights, response headers |
//! | features | [`authorize`] | one model authorization for every door: rules → group, the groups new work may use, the resend rule |
//! | features | [`seal`] | every id and token a client holds: one key derivation from `SEALING_KEY`, the purposes and their prefixes, MAC and AEAD envelopes, one error type and its client answers; who owns sealed state (a key, or a browser token's visitor) and who may open it |
//! | features | [`keys`] | virtual keys: format, stored record, admin requests |
//! | features | [`browser_token`] | short-lived narrowed credentials for web pages |
//! | features | [`google_auth`] | Google service-account JWTs and token answers |
//! | features | [`video`] | the OpenAI Videos API and its translation to Sora, Veo and Gemini Omni (Gemini API, Vertex AI), the job index |
//! | features | [`responses`] | Responses API affinity: sealing and restoring ids in JSON, SSE and requests |
//! | features | [`realtime`] | OpenAI Realtime (and Realtime Translation), Gemini Live and Vertex Live sessions, calls, tokens and sockets |
//!
//! # Call order for a host
//!
//! Every request, whatever its door, takes the same steps; the host does the
//! I/O between them (the Worker in `edge/src/pipeline.rs`, a native host in
//! `examples/native-host`). For a video create:
//!
//! | step | the host calls | and gets |
//! |---|---|---|
//! | 1. authenticate | [`keys::presented_key`], [`keys::key_hash`]; then its stored [`keys::KeyRecord`] and [`keys::KeyRecord::check_usable`] | the key, or `missing_api_key` / `invalid_api_key` / `key_expired` |
//! | 2. authorize | [`access::AccessPolicy::compile`] once per key, [`authorize::model_group`] (+ [`authorize::with_rules`]) | the model group, or `key_model_access_denied` / `model_not_found` |
//! | 3. plan | [`authorize::new_work_groups`] → [`retry::RoutePlan::new`] → `first`; [`video::create_request`] for that deployment; [`video::job_cost`] | the attempt, the upstream request, what it costs |
//! | 4. admit / reserve | [`quota::Ledger::reserve`] (in its quota store, atomically) | allowed with the standings, or a [`quota::Denial`] |
//! | 5. send | the request; after a failure [`errors::classify_http`] and [`retry::RoutePlan::next`] | the next attempt (with its wait), or stop |
//! | 6. classify | [`errors::classify_http`] / [`errors::classify_transport`] → `to_client` | the client's error in its dialect |
//! | 7. settle | [`video::parse_create_response`], [`seal::Keys::seal_id`]; [`quota::Settlement::for_outcome`] → [`quota::Ledger::settle`] | the sealed id; commit, release or refund |
//! | 8. respond | [`video::VideoView`] | the OpenAI video object |
//!
//! Follow-ups open what they were handed with [`video::open_video`] (one 404
//! for forged, tampered and foreign ids), poll with [`video::poll_request`] /
//! [`video::parse_poll`], and settle a job seen finished with
//! [`video::jobs::JobRecord::observe_end`]. Responses follow-ups are placed
//! by [`responses::place`] and [`responses::recover`].
//!
//! The crate is `#![no_std]` with `alloc`: code here may not lean on the std
//! prelude, so it builds for `x86_64-unknown-none` and
//! `wasm32-unknown-unknown` alike.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

// Base layer.
pub mod encoding;
pub mod json;
pub mod money;
pub mod redact;
pub mod time;

// Rule syntaxes under config.
pub mod access;
pub mod origin;

// Plain settings.
pub mod config;

// Features.
pub mod authorize;
pub mod browser_token;
pub mod cors;
pub mod errors;
pub mod form;
pub mod google_auth;
pub mod keys;
pub mod plan;
pub mod provider;
pub mod quota;
pub mod realtime;
pub mod responses;
pub mod retry;
pub mod route;
pub mod seal;
pub mod video;
