//! Client create bodies and upstream operation bodies must parse or fail
//! cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::video::{gemini, CreateVideo, VideoHandle};

fuzz_target!(|data: &[u8]| {
    let _ = CreateVideo::parse_json(data);
    let _ = gemini::parse_create_response(data);
    let _ = gemini::parse_operation(data);
    let _ = VideoHandle::decode(data);
});
