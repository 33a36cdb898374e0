//! The Gemini Omni interactions door and Live Interactions, as merged from
//! issues 14 and 15: `interactions` create bodies (and the upstream call
//! built for every deployment), file references, the Live Interactions
//! first frame, its auth-token bodies, and its frame guard in both
//! directions. Parse or fail cleanly; the guard never panics on any frame
//! sequence, and an upstream rewrite never carries a credential the
//! guard knows inside an `error`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::realtime::live_interactions::{
    FirstFrame, InteractionGuard, Sealer, TokenRequest,
};
use reelay_core::realtime::ws::{FrameGuard, Verdict};
use reelay_core::redact::Redactor;
use reelay_core::video::interactions;
use reelay_fuzz::{deployments, keys, Input, OWNER};

/// A credential the guard knows by value.
const SECRET: &str = "omni0123456789secret";
/// 2027-01-15T08:00:00Z.
const NOW_MS: u64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 4 {
        0 => {
            if let Ok(create) = interactions::parse_create(input.rest()) {
                for dep in deployments() {
                    let _ = interactions::create_request(&create, dep, &[], None);
                }
            }
        }
        1 => {
            let text = input.text();
            let _ = interactions::interaction_of_file(&text);
            let _ = interactions::file_token(&text, usize::from(input.byte()));
        }
        2 => {
            let bytes = input.rest();
            let _ = FirstFrame::parse(bytes);
            let _ = TokenRequest::parse(bytes, NOW_MS);
        }
        _ => guard(&mut input),
    }
});

/// A session's frames, each from the client or the upstream.
fn guard(input: &mut Input<'_>) {
    let sealer = Sealer {
        keys: keys().clone(),
        owner: OWNER,
        deployment: "gemini-live".to_owned(),
        now_ms: NOW_MS,
    };
    let mut guard = InteractionGuard::new(sealer, None, Redactor::of([SECRET]));
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        let from_upstream = input.byte() & 1 == 1;
        let frame = input.part();
        let text = String::from_utf8_lossy(frame);
        let verdict = if from_upstream {
            let verdict = guard.upstream_text(&text);
            let _ = guard.upstream_binary(frame);
            verdict
        } else {
            let verdict = guard.client_text(&text);
            let _ = guard.client_binary(frame);
            verdict
        };
        if let (true, Verdict::Rewrite(sent)) = (from_upstream, &verdict) {
            if sent.contains("\"error\"") && text.contains("\"error\"") {
                assert!(!sent.contains(SECRET), "an error kept a secret: {sent}");
            }
        }
        if let Verdict::Refuse(err) = &verdict {
            let _ = guard.refusal(err);
        }
    }
}
