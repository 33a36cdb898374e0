//! One full video flow through the native host against the in-process mock
//! upstream (Gemini Veo): create, poll to completion, download the MP4,
//! with access rules, sealed ids, error classification and quota checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Read;

use reelay_core::errors::ErrorCode;
use reelay_core::quota::HoldState;
use reelay_native_host::Host;
use reelay_tests::mock::{expected_video_bytes, Fault, FaultAction, MockOptions, MockUpstream};
use serde_json::json;

const KEY: &str = "sk-reelay-native-host-test-key-0001";
const OTHER_KEY: &str = "sk-reelay-native-host-test-key-0002";

fn tampered(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[test]
fn create_poll_and_download_a_video() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let opts = MockOptions::default();
    let mock = rt.block_on(MockUpstream::start(opts.clone())).unwrap();
    let base = mock.base_url();
    let config = json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base,
                 "prices": {"video_per_second": 0.5}}]},
            {"name": "veo-broken", "deployments": [
                {"id": "gemini-bad-key", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "WRONG_KEY", "api_base": base}]},
            {"name": "sora-2", "deployments": [
                {"id": "openai-sora", "provider": "openai", "model": "sora-2",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    });
    let secrets = HashMap::from([
        ("GEMINI_API_KEY".to_owned(), opts.api_key.clone()),
        ("WRONG_KEY".to_owned(), "not-the-key".to_owned()),
        ("OPENAI_API_KEY".to_owned(), opts.openai_key.clone()),
    ]);
    let mut host = Host::new(&config.to_string(), &[7u8; 32], secrets).unwrap();
    let record = host
        .add_key(
            KEY,
            br#"{"models":["veo-*"],"videos_per_day":5,"video_seconds_per_day":60,"max_parallel_requests":4}"#,
        )
        .unwrap();
    host.add_key(OTHER_KEY, b"{}").unwrap();
    let auth = format!("Bearer {KEY}");

    // A model the key may not use: refused before any quota or upstream work.
    let err = host
        .create_video(&auth, br#"{"model":"sora-2","prompt":"a cat"}"#)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ModelAccessDenied);
    assert!(host.quota(&record.token).is_none());
    assert!(mock.requests().is_empty());

    // Create: a sealed id in OpenAI shape, queued; the job reserved.
    let created = host
        .create_video(
            &auth,
            br#"{"model":"veo-3.1","prompt":"a lighthouse at dusk","seconds":"8","size":"1280x720"}"#,
        )
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("video_"), "{created}");
    assert_eq!(created["object"], "video");
    assert_eq!(created["status"], "queued");
    assert_eq!(created["model"], "veo-3.1");
    assert_eq!(created["seconds"], "8");
    assert_eq!(created["size"], "1280x720");
    assert_eq!(created["prompt"], "a lighthouse at dusk");
    let upstream_create = mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        upstream_create.header("x-goog-api-key"),
        Some(opts.api_key.as_str())
    );
    assert!(!id.contains("operations"), "the upstream id is sealed");
    let quota = host.quota(&record.token).unwrap();
    assert_eq!(quota.ledger.videos, 1);
    assert_eq!(quota.ledger.video_seconds, 8);
    assert_eq!(quota.ledger.spend_micros, 4_000_000);
    assert!(quota.ledger.leases.is_empty(), "the slot is freed");
    let job_hold = |host: &Host| {
        host.quota(&record.token)
            .unwrap()
            .holds
            .into_values()
            .find(|h| h.cost.videos == 1)
            .unwrap()
    };
    assert_eq!(job_hold(&host).state, HoldState::Open);

    // Tampered and foreign ids are not found; nothing reaches the upstream.
    let seen = mock.requests().len();
    let err = host.retrieve_video(&auth, &tampered(&id)).unwrap_err();
    assert_eq!(err.code, ErrorCode::VideoNotFound);
    let err = host.video_content(&auth, &tampered(&id)).err().unwrap();
    assert_eq!(err.code, ErrorCode::VideoNotFound);
    let err = host
        .retrieve_video(&format!("Bearer {OTHER_KEY}"), &id)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::VideoNotFound);
    assert_eq!(mock.requests().len(), seen);

    // Polls progress to completed; the job's hold is committed once. A
    // failed poll (503) is retried on the job's deployment, as core decides.
    mock.push_fault(Fault::new(
        "/operations/",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let polls_sent = || {
        mock.requests()
            .iter()
            .filter(|r| r.path.contains("/operations/"))
            .count()
    };
    let first = host.retrieve_video(&auth, &id).unwrap();
    assert_eq!(polls_sent(), 2, "the 503 and its retry");
    assert!(
        ["queued", "in_progress"].contains(&first["status"].as_str().unwrap()),
        "{first}"
    );
    let mut polls = 1;
    let done = loop {
        let view = host.retrieve_video(&auth, &id).unwrap();
        polls += 1;
        if view["status"] == "completed" || polls > 10 {
            break view;
        }
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["id"], id.as_str());
    assert_eq!(done["prompt"], "a lighthouse at dusk");
    let hold = job_hold(&host);
    assert_eq!(hold.state, HoldState::Committed);
    assert_eq!(hold.cost.video_seconds, 8);
    let quota = host.quota(&record.token).unwrap();
    assert_eq!((quota.ledger.videos, quota.ledger.video_seconds), (1, 8));
    assert_eq!(quota.ledger.totals.videos, 1);
    // The create, the two refused ids of this key (admitted before the id
    // is opened, as in the Worker) and the polls.
    assert_eq!(quota.ledger.totals.requests, 1 + 2 + polls);
    host.retrieve_video(&auth, &id).unwrap();
    assert_eq!(job_hold(&host).state, HoldState::Committed);

    // Content: the mock's MP4, streamed through; the key never follows the redirect.
    let mut download = host.video_content(&auth, &id).unwrap();
    assert_eq!(download.content_type, "video/mp4");
    let mut bytes = Vec::new();
    download.body.read_to_end(&mut bytes).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    let blob = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/_mock/blob/"))
        .unwrap();
    assert_eq!(blob.header("x-goog-api-key"), None);
    let file_id = blob.path.rsplit('/').next().unwrap();
    assert_eq!(bytes, expected_video_bytes(file_id, opts.video_bytes));

    // An upstream refusal is classified by core and the reservation refunded.
    let err = host
        .create_video(&auth, br#"{"model":"veo-broken","prompt":"a cat"}"#)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UpstreamAuthentication);
    let quota = host.quota(&record.token).unwrap();
    assert_eq!((quota.ledger.videos, quota.ledger.video_seconds), (1, 8));
    assert!(quota.holds.values().any(|h| h.state == HoldState::Refunded));

    rt.block_on(mock.shutdown());
}
