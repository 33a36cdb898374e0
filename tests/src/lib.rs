//! # reelay-tests
//!
//! Test support for the reelay gateway: a mock upstream that speaks the real
//! wire formats of the providers reelay fronts (see
//! `shared/reference/upstream-apis.md`), used both in-process by Rust tests
//! ([`mock::MockUpstream`]) and as the `reelay-mock-upstream` binary that
//! Node/Python end-to-end tests steer over HTTP.
//!
//! What this crate is *not*: part of the gateway. Nothing here is shipped.

#![forbid(unsafe_code)]

pub mod gateway;
pub mod mock;
