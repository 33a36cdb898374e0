//! Video ids come from clients: opening any string must never panic, and
//! only ids this sealer minted may open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::affinity::{Purpose, Sealer};

fuzz_target!(|data: &[u8]| {
    let Some(sealer) = Sealer::new(&[42u8; 32]) else { return };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sealer.open(Purpose::Video, text);
        let _ = sealer.open(Purpose::Video, &format!("video_{text}"));
    }
});
