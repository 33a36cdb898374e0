//! Google-shaped `predictLongRunning` bodies from clients (the native
//! Gemini and Vertex doors): parse or fail with a 400, and what is sent
//! upstream is the typed value that was checked. A body that parses
//! re-serializes to JSON that parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::video::{self, veo};
use reelay_fuzz::deployment;

fuzz_target!(|data: &[u8]| {
    let Ok(checked) = video::parse_native(data) else {
        return;
    };
    // Parse → serialize → parse is the identity (`config` is accepted and
    // never sent).
    let json = serde_json::to_string(&checked.request).unwrap_or_else(|e| panic!("serialize: {e}"));
    let reparsed: veo::Request<'_> =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("reparse {e}: {json}"));
    let mut expected = checked.request.clone();
    for instance in &mut expected.instances {
        instance.config = None;
    }
    assert_eq!(reparsed, expected, "{json}");
    assert!((1..=4).contains(&checked.count));
    let again = video::parse_native(json.as_bytes())
        .unwrap_or_else(|e| panic!("re-serialized body refused: {e:?}: {json}"));
    assert_eq!(again.prompt, checked.prompt);

    for group in ["veo-3.1", "veo-vertex", "veo-vertex-inline"] {
        let dep = deployment(group);
        // A named source video is resolved by the host; stand one in.
        let source = checked
            .source
            .as_ref()
            .map(|_| "gs://out/veo/op/sample_0.mp4");
        let Ok(native) = video::native_create_request(&checked, dep, source) else {
            continue;
        };
        // The native door sends a body built from the checked value.
        assert_eq!(native.prompt, checked.prompt);
        assert_eq!(native.count, checked.count);
        assert!(dep.video_seconds.contains(&native.seconds));
        assert!(veo::SIZES.iter().any(|(size, _, _)| *size == native.size));
        let sent = native
            .request
            .json_body
            .unwrap_or_else(|| panic!("no body"));
        let sent: veo::Request<'_> =
            serde_json::from_str(&sent).unwrap_or_else(|e| panic!("sent body {e}: {sent}"));
        assert_eq!(sent.instances.len(), expected.instances.len());
        assert_eq!(sent.instances[0].prompt, expected.instances[0].prompt);
    }
});
