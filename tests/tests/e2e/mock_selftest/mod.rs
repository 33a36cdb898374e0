//! Self-tests of the mock upstream (`reelay_tests::mock` and the
//! `reelay-mock-upstream` binary): it must speak the providers' real wire
//! formats and obey its controls, or the end-to-end tests prove nothing.

mod gemini;
mod providers;
mod responses;
