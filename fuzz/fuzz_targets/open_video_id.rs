//! Video ids come from clients: opening any string must never panic, and
//! only ids these keys sealed may open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::seal::{Keys, Purpose};

fuzz_target!(|data: &[u8]| {
    let Some(keys) = Keys::derive(&[42u8; 32]) else { return };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = keys.open_id(Purpose::Video, text);
        let _ = keys.open_id(Purpose::Video, &format!("video_{text}"));
    }
});
