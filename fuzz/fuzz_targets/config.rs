//! The config is operator input, but a bad one must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text);
    }
});
