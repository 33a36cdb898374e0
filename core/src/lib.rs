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
//! The crate is `#![no_std]` with `alloc`: code here may not lean on the std
//! prelude, so it builds for `x86_64-unknown-none` and
//! `wasm32-unknown-unknown` alike.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod access;
pub mod browser_token;
pub mod config;
pub mod cors;
pub mod encoding;
pub mod errors;
pub mod google_auth;
pub mod keys;
pub mod plan;
pub mod quota;
pub mod realtime;
pub mod responses;
pub mod retry;
pub mod route;
pub mod seal;
pub mod video;
