//! Criterion benchmarks of reelay-core's per-request hot paths: access rules,
//! sealed ids, upstream error classification, config parsing and the Veo
//! translation. Inputs are realistic (the shapes the gateway and the mock
//! upstream actually exchange), and every fixture is checked once before it
//! is measured so a bench never times an error path by accident.
//!
//! Run: `cargo bench -p reelay-core --bench core -- --warm-up-time 1 --measurement-time 2`
//! (results: `docs/benchmarks.md`).

// Fixtures are built once outside the timed loops; failing loudly there is
// the right thing for a benchmark, so unwrap/expect/panic are allowed here
// (the workspace lints only permit them inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::config::Config;
use reelay_core::errors::{classify_http, ErrorKind, Retry};
use reelay_core::keys::key_hash;
use reelay_core::seal::{owner_of, Keys, Owner, Purpose, Sealed};
use reelay_core::video::gemini::{create_request, parse_operation};
use reelay_core::video::Operation;
use reelay_core::video::{CreateVideo, Size, VideoHandle};

/// A virtual key as `/key/generate` hands it out.
const KEY: &str = "sk-reelay-q3Jx0bX9mZ4vT1cK7pLw2HsYdE8fRg5N";

/// The 5-rule list from the access module docs.
const RULES: [&str; 5] = [
    "gemini/*",
    "veo-3.1-*",
    "!veo-3.1-lite*",
    "group:video",
    "sora-2",
];

/// Three model groups, four deployments, an access group and defaults, in
/// the shape `REELAY_CONFIG` arrives in.
const CONFIG: &str = r#"{
  "model_groups": [
    {"name": "veo-3.1", "deployments": [
      {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
       "credential": "GEMINI_API_KEY", "api_base": "http://127.0.0.1:9000"}]},
    {"name": "gemini/veo-3.1-fast", "deployments": [
      {"id": "gemini-veo31-fast", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
       "credential": "GEMINI_API_KEY", "timeout_ms": 1500},
      {"id": "gemini-veo31-fast-b", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
       "credential": "GEMINI_API_KEY_2", "weight": 3, "video_seconds": [8]}]},
    {"name": "veo-3.0", "deployments": [
      {"id": "gemini-veo30", "provider": "gemini", "model": "veo-3.0-generate-001",
       "credential": "GEMINI_API_KEY"}]}
  ],
  "access_groups": {"video": ["veo-*", "sora-2", "openai/sora-*"]},
  "max_body_bytes": 65536,
  "default_video_model": "veo-3.1"
}"#;

/// Google's per-minute quota 429, pretty-printed as the Gemini API (and the
/// mock upstream) sends it: Help, QuotaFailure and RetryInfo details.
const GOOGLE_429: &str = r#"{
  "error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_requests_per_model, limit: 2, model: veo-3.1-generate-preview\nPlease retry in 47.381204s.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [
          {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"
          }
        ]
      },
      {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
          {
            "quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
            "quotaDimensions": {
              "location": "global",
              "model": "veo-3.1-generate-preview"
            },
            "quotaValue": "2"
          }
        ]
      },
      {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "47s"
      }
    ]
  }
}
"#;

/// OpenAI's tokens-per-minute 429.
const OPENAI_429: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-abc123 on tokens per min (TPM): Limit 30000, Used 29614, Requested 1021. Please try again in 1.27s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;

/// Response headers that come with a Google 429.
const GOOGLE_HEADERS: [(&str, &str); 4] = [
    ("content-type", "application/json; charset=UTF-8"),
    ("vary", "Origin, X-Origin, Referer"),
    ("server", "scaffolding on HTTPServer2"),
    ("x-xss-protection", "0"),
];

/// Response headers that come with an OpenAI 429.
const OPENAI_HEADERS: [(&str, &str); 6] = [
    ("content-type", "application/json"),
    ("x-request-id", "req_4d1c9a2f0e7b4b8a9c3d2e1f0a9b8c7d"),
    ("x-ratelimit-limit-tokens", "30000"),
    ("x-ratelimit-remaining-tokens", "0"),
    ("x-ratelimit-reset-tokens", "1.27s"),
    ("retry-after", "2"),
];

/// A `POST /v1/videos` JSON body.
const CREATE_BODY: &[u8] = br#"{"model":"veo-3.1","prompt":"A calico cat playing a grand piano in a sunlit living room, slow dolly-in, warm afternoon light, shallow depth of field","seconds":"6","size":"720x1280","negative_prompt":"blurry, low quality"}"#;

/// A done Veo operation with one generated sample, as the Gemini API sends it.
const DONE_OPERATION: &[u8] = br#"{
  "name": "models/veo-3.1-generate-preview/operations/vz341u0pmdlc",
  "done": true,
  "response": {
    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
    "generateVideoResponse": {
      "generatedSamples": [
        {
          "video": {
            "uri": "https://generativelanguage.googleapis.com/v1beta/files/3k9qz7w2m1xa:download?alt=media"
          }
        }
      ]
    }
  }
}
"#;

/// The upstream operation name sealed into a video id.
const OPERATION_NAME: &str = "models/veo-3.1-generate-preview/operations/vz341u0pmdlc";

fn groups() -> AccessGroups {
    let mut g = AccessGroups::new();
    g.insert(
        "video",
        vec![
            "veo-*".to_owned(),
            "sora-2".to_owned(),
            "openai/sora-*".to_owned(),
        ],
    )
    .unwrap();
    g
}

fn bench_access(c: &mut Criterion) {
    let groups = groups();
    let policy = AccessPolicy::compile(&RULES, &groups).unwrap();
    let hit = "gemini/veo-3.1-fast";
    let miss = "gpt-4o-realtime-preview";
    let deny = "veo-3.1-lite-generate-preview";
    assert!(policy.allows(hit));
    assert!(!policy.allows(miss));
    assert!(!policy.allows(deny));

    let mut g = c.benchmark_group("access");
    g.bench_function("compile_5_rules", |b| {
        b.iter(|| AccessPolicy::compile(black_box(&RULES), black_box(&groups)))
    });
    g.bench_function("allows_hit", |b| {
        b.iter(|| black_box(&policy).allows(black_box(hit)))
    });
    g.bench_function("allows_miss", |b| {
        b.iter(|| black_box(&policy).allows(black_box(miss)))
    });
    g.bench_function("allows_deny_hit", |b| {
        b.iter(|| black_box(&policy).allows(black_box(deny)))
    });
    g.finish();
}

fn bench_affinity(c: &mut Criterion) {
    let sealer = Keys::derive(b"test-sealing-key-0123456789abcdef0123456789").unwrap();
    let handle = VideoHandle {
        operation: OPERATION_NAME.to_owned(),
        seconds: 8,
        size: Size {
            width: 1280,
            height: 720,
        },
        count: 1,
    };
    let sealed = Sealed {
        purpose: Purpose::Video,
        owner: Owner::key(owner_of(&key_hash(KEY))),
        created_at_ms: 1_790_000_000_000,
        deployment: "gemini-veo31".to_owned(),
        payload: handle.encode(),
    };
    let id = sealer.seal_id(&sealed).unwrap();
    assert_eq!(sealer.open_id(Purpose::Video, &id).unwrap(), sealed);

    let mut g = c.benchmark_group("affinity");
    g.bench_function("seal_video_id", |b| {
        b.iter(|| black_box(&sealer).seal_id(black_box(&sealed)))
    });
    g.bench_function("open_video_id", |b| {
        b.iter(|| black_box(&sealer).open_id(Purpose::Video, black_box(&id)))
    });
    g.finish();
}

fn bench_classify(c: &mut Criterion) {
    let now = 1_790_000_000_000;
    let google = classify_http(429, &GOOGLE_HEADERS, GOOGLE_429.as_bytes(), now);
    assert_eq!(google.kind, ErrorKind::RateLimited);
    assert_eq!(google.retry, Retry::AfterMillis(47_000));
    let openai = classify_http(429, &OPENAI_HEADERS, OPENAI_429.as_bytes(), now);
    assert_eq!(openai.kind, ErrorKind::RateLimited);
    assert_eq!(openai.retry, Retry::AfterMillis(2_000));

    let mut g = c.benchmark_group("classify_http");
    g.bench_function("google_429_quota_retryinfo", |b| {
        b.iter(|| {
            classify_http(
                black_box(429),
                black_box(&GOOGLE_HEADERS),
                black_box(GOOGLE_429.as_bytes()),
                now,
            )
        })
    });
    g.bench_function("openai_429", |b| {
        b.iter(|| {
            classify_http(
                black_box(429),
                black_box(&OPENAI_HEADERS),
                black_box(OPENAI_429.as_bytes()),
                now,
            )
        })
    });
    // Reference point: the JSON parse alone, which every classification
    // starts with; the rest of classify_http is phrase scanning and copying.
    g.bench_function("baseline_serde_json_value_google_429", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(GOOGLE_429.as_bytes())))
    });
    g.finish();
}

fn bench_config(c: &mut Criterion) {
    let config = Config::parse(CONFIG).unwrap();
    assert_eq!(config.model_groups.len(), 3);

    let mut g = c.benchmark_group("config");
    g.bench_function("parse_3_groups", |b| {
        b.iter(|| Config::parse(black_box(CONFIG)))
    });
    g.finish();
}

fn bench_video(c: &mut Criterion) {
    let config = Config::parse(CONFIG).unwrap();
    let dep = &config.group("veo-3.1").unwrap().deployments[0];
    let req = CreateVideo::parse_json(CREATE_BODY).unwrap();
    let (upstream, seconds, _) = create_request(&req, dep).unwrap();
    assert_eq!(seconds, 6);
    assert!(upstream.json_body.is_some());
    match parse_operation(DONE_OPERATION).unwrap() {
        Operation::Succeeded(files) => assert_eq!(files, ["3k9qz7w2m1xa"]),
        other => panic!("done body parsed as {other:?}"),
    }

    let mut g = c.benchmark_group("video");
    g.bench_function("parse_json_and_create_request", |b| {
        b.iter(|| {
            let req = CreateVideo::parse_json(black_box(CREATE_BODY)).unwrap();
            create_request(&req, black_box(dep))
        })
    });
    g.bench_function("parse_operation_done", |b| {
        b.iter(|| parse_operation(black_box(DONE_OPERATION)))
    });
    g.finish();
}

fn bench_keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("keys");
    g.bench_function("key_hash", |b| b.iter(|| key_hash(black_box(KEY))));
    g.finish();
}

fn bench_quota(c: &mut Criterion) {
    use reelay_core::quota::{Clock, Cost, Decision, Ledger, Limits};
    use reelay_core::time::tz::TimeZone;
    let limits = Limits {
        rpm: Some(1_000_000),
        max_parallel_requests: Some(64),
        videos_per_day: Some(1_000_000),
        video_seconds_per_day: Some(100_000_000),
        ..Limits::default()
    };
    let tz = TimeZone::by_name("America/Los_Angeles").unwrap();
    let now = 1_795_341_600_000;
    let video = Cost {
        videos: 1,
        video_seconds: 8,
        ..Cost::REQUEST
    };
    let mut ledger = Ledger::default();
    let (decision, _) = ledger.reserve("check", None, &video, &limits, &Clock { tz, now_ms: now });
    assert!(matches!(decision, Decision::Allowed(_)));
    let mut g = c.benchmark_group("quota");
    g.bench_function("time_zone_by_name_and_next_midnight", |b| {
        b.iter(|| {
            TimeZone::by_name(black_box("America/Los_Angeles"))
                .unwrap()
                .next_day_start(black_box(now))
        })
    });
    g.bench_function("reserve_video_4_limits", |b| {
        let mut ledger = ledger.clone();
        let mut t = now;
        b.iter(|| {
            t += 1;
            let clock = Clock { tz, now_ms: t };
            let (decision, hold) = ledger.reserve("req", None, black_box(&video), &limits, &clock);
            if let Some(mut hold) = hold {
                ledger.release_slot(&mut hold);
            }
            decision
        })
    });
    g.bench_function("ledger_json_round_trip", |b| {
        b.iter(|| {
            let text = serde_json::to_string(black_box(&ledger)).unwrap();
            serde_json::from_str::<Ledger>(&text).unwrap()
        })
    });
    g.finish();
}

/// Every group, with criterion's command-line options applied (what
/// `criterion_group!` would generate, written out so it is a private,
/// documented function).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_access(&mut c);
    bench_affinity(&mut c);
    bench_classify(&mut c);
    bench_config(&mut c);
    bench_video(&mut c);
    bench_keys(&mut c);
    bench_quota(&mut c);
}

criterion_main!(benches);
