//! Client create bodies and upstream operation bodies must parse or fail
//! cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::video::{self, gemini, CreateVideo, VideoHandle};

fuzz_target!(|data: &[u8]| {
    let _ = CreateVideo::parse_json(data);
    let _ = gemini::parse_create_response(data);
    let _ = gemini::parse_operation(data);
    let _ = VideoHandle::decode(data);
    let _ = video::parse_native(data);
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = video::file_ref_in_uri(text);
    }
});
