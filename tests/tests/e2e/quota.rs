//! Quotas end to end: the built Worker in workerd (Miniflare) with its
//! SQLite Durable Object, against the mock Gemini upstream. Exactness under
//! concurrency, refunds, commits, immediate revocation, persistence across
//! a restart, and the headers and bodies a client sees.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::Response;
use serde_json::{json, Value};

use crate::harness::{header, state_dir, unix_now, Env, GEMINI_KEY, MASTER_KEY};

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base,
                 "prices": {"video_per_second": 0.5,
                            "video_per_second_by_resolution": {"720p": 0.1, "1080p": 0.2}}}]}
        ]
    })
}

fn options(mock: &MockUpstream) -> GatewayOptions {
    GatewayOptions::new(config(mock), &[("GEMINI_API_KEY", GEMINI_KEY)])
}

async fn start_with(opts: MockOptions, persist: Option<std::path::PathBuf>) -> Env {
    Env::start(opts, |mock| GatewayOptions {
        persist,
        ..options(mock)
    })
    .await
}

async fn start() -> Env {
    start_with(
        MockOptions {
            polls_until_done: 0,
            ..MockOptions::default()
        },
        None,
    )
    .await
}

impl Env {
    async fn usage(&self, key: &str) -> Value {
        let info: Value = self.get(key, "/key/info").await.json().await.unwrap();
        info["info"]["usage"].clone()
    }
}

/// Asserts a 429 with `code` and OpenAI error `type`, and returns
/// `(Retry-After seconds, body)`.
async fn expect_429(resp: Response, code: &str, kind: &str) -> (u64, Value) {
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = header(&resp, "retry-after")
        .expect("a 429 says when to come back")
        .parse()
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    (retry_after, body)
}

fn secs_until_utc_midnight() -> u64 {
    86_400 - unix_now() % 86_400
}

#[tokio::test]
async fn requests_per_minute_are_exact_under_concurrency() {
    let env = start().await;
    let key = env.new_key(json!({"rpm": 20})).await;
    let responses = join_all((0..60).map(|_| env.get(&key, "/v1/models"))).await;
    let mut remaining = BTreeSet::new();
    let mut denied = Vec::new();
    for resp in responses {
        if resp.status() == 200 {
            assert_eq!(header(&resp, "x-ratelimit-limit-requests").unwrap(), "20");
            assert!(header(&resp, "x-ratelimit-reset-requests").is_some());
            let left: u64 = header(&resp, "x-ratelimit-remaining-requests")
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                remaining.insert(left),
                "two requests saw the same remaining {left}"
            );
        } else {
            denied.push(resp);
        }
    }
    assert_eq!(remaining.len(), 20, "exactly the limit is admitted");
    assert_eq!(
        remaining,
        (0..20).collect(),
        "each admitted request took one token"
    );
    assert_eq!(denied.len(), 40);
    for resp in denied {
        // One token every 3 s: the honest wait, not the 60 s window.
        let (retry_after, body) =
            expect_429(resp, "key_rate_limit_exceeded", "rate_limit_error").await;
        assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("20 requests per minute"),
            "{body}"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn daily_videos_are_exact_under_concurrency_and_failed_submits_are_refunded() {
    let env = start().await;
    let key = env.new_key(json!({"videos_per_day": 5})).await;
    let body = json!({"model": "veo-3.1", "prompt": "a lighthouse", "seconds": "8"});

    // A submit the upstream refuses (three times: every attempt) costs nothing.
    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        3,
        FaultAction::ServerError { status: 503 },
    ));
    assert_eq!(env.create_video(&key, body.clone()).await.status(), 503);

    let responses = join_all((0..50).map(|_| env.create_video(&key, body.clone()))).await;
    let mut remaining = BTreeSet::new();
    let mut denied = Vec::new();
    for resp in responses {
        if resp.status() == 200 {
            assert_eq!(header(&resp, "x-ratelimit-limit-videos").unwrap(), "5");
            remaining.insert(
                header(&resp, "x-ratelimit-remaining-videos")
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
        } else {
            denied.push(resp);
        }
    }
    assert_eq!(remaining, (0..5).collect(), "exactly 5 of 50 got through");
    assert_eq!(denied.len(), 45);
    let until_midnight = secs_until_utc_midnight();
    for resp in denied {
        // Exhausted until the day resets: the wait is until midnight (UTC by default).
        let (retry_after, body) =
            expect_429(resp, "video_quota_exceeded", "insufficient_quota").await;
        assert!(
            retry_after.abs_diff(until_midnight) <= 5,
            "Retry-After {retry_after}, midnight in {until_midnight}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("resets in"),
            "{body}"
        );
    }
    let usage = env.usage(&key).await;
    assert_eq!(usage["today"]["videos"], 5, "{usage}");
    assert_eq!(usage["totals"]["videos"], 5, "{usage}");
    assert_eq!(usage["limits"]["videos_per_day"]["remaining"], 0, "{usage}");
    env.stop().await;
}

#[tokio::test]
async fn finished_jobs_settle_their_reservation() {
    let env = start().await;
    let key = env
        .new_key(json!({"max_budget": 1.0, "budget_duration": "1d", "videos_per_day": 10}))
        .await;
    let hd = json!({"model": "veo-3.1", "prompt": "a fox", "seconds": "8", "size": "1280x720"});

    // 8 s at 720p is $0.80 of the $1.00 budget.
    let resp = env.create_video(&key, hd.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-ratelimit-limit-budget").unwrap(), "1.00");
    assert_eq!(
        header(&resp, "x-ratelimit-remaining-budget").unwrap(),
        "0.20"
    );
    let video: Value = resp.json().await.unwrap();
    let id = video["id"].as_str().unwrap();
    let status: Value = env
        .get(&key, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed");

    // Another $0.80 does not fit: exhausted until the budget period resets.
    let (_, body) = expect_429(
        env.create_video(&key, hd.clone()).await,
        "budget_exceeded",
        "insufficient_quota",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("$0.20 left"),
        "{body}"
    );

    // A job that fails (safety filter) is refunded when its end is seen.
    let key2 = env.new_key(json!({"videos_per_day": 1})).await;
    let unsafe_job = json!({"model": "veo-3.1", "prompt": "[[unsafe]] scene"});
    let video: Value = env
        .create_video(&key2, unsafe_job.clone())
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap();
    expect_429(
        env.create_video(&key2, unsafe_job.clone()).await,
        "video_quota_exceeded",
        "insufficient_quota",
    )
    .await;
    let status: Value = env
        .get(&key2, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "failed");
    // The refund runs after the status response; give it a moment.
    let mut refunded = false;
    for _ in 0..40 {
        if env.usage(&key2).await["today"]["videos"] == 0 {
            refunded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refunded, "a failed job gives its video back");
    // Polling the failed job again does not refund twice.
    env.get(&key2, &format!("/v1/videos/{id}")).await;
    assert_eq!(
        env.create_video(&key2, unsafe_job.clone()).await.status(),
        200
    );
    expect_429(
        env.create_video(&key2, unsafe_job).await,
        "video_quota_exceeded",
        "insufficient_quota",
    )
    .await;
    env.stop().await;
}

#[tokio::test]
async fn revocation_and_policy_changes_apply_before_kv_catches_up() {
    let mut env = start().await;
    let (key, token) = env.new_key_and_token(json!({})).await;
    assert_eq!(env.get(&key, "/v1/models").await.status(), 200);
    let stale = env
        .gateway
        .kv_get(&format!("key:{token}"))
        .await
        .unwrap()
        .unwrap();

    env.admin("/key/delete", json!({"keys": [key]})).await;
    // Play KV's edge cache still serving the deleted record.
    env.gateway
        .kv_put(&format!("key:{token}"), &stale)
        .await
        .unwrap();
    let resp = env.get(&key, "/v1/models").await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");

    // A narrowed policy applies at once too, though KV still has the old record.
    let (key, token) = env.new_key_and_token(json!({"models": ["veo-*"]})).await;
    let stale = env
        .gateway
        .kv_get(&format!("key:{token}"))
        .await
        .unwrap()
        .unwrap();
    env.admin(
        "/key/update",
        json!({"key": key, "models": ["sora-*"], "rpm": 1}),
    )
    .await;
    env.gateway
        .kv_put(&format!("key:{token}"), &stale)
        .await
        .unwrap();
    let resp = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "a cat"}))
        .await;
    assert_eq!(resp.status(), 403);
    // Authorization comes before admission, so the refused create took no
    // token of the new rate: the first request does, the second is limited.
    assert_eq!(env.get(&key, "/v1/models").await.status(), 200);
    let resp = env.get(&key, "/v1/models").await;
    expect_429(resp, "key_rate_limit_exceeded", "rate_limit_error").await;

    // Re-creating a deleted custom key clears its revocation.
    let custom = "sk-custom-revocation-test-0001";
    env.new_key(json!({"key": custom})).await;
    env.admin("/key/delete", json!({"keys": [custom]})).await;
    assert_eq!(env.get(custom, "/v1/models").await.status(), 401);
    env.new_key(json!({"key": custom})).await;
    assert_eq!(env.get(custom, "/v1/models").await.status(), 200);
    env.stop().await;
}

#[tokio::test]
async fn parallel_requests_are_limited_and_released() {
    let env = start().await;
    let key = env.new_key(json!({"max_parallel_requests": 2})).await;
    for _ in 0..8 {
        env.mock.push_fault(Fault::new(
            ":predictLongRunning",
            1,
            FaultAction::Delay { ms: 1500 },
        ));
    }
    let body = json!({"model": "veo-3.1", "prompt": "slow"});
    let responses = join_all((0..8).map(|_| env.create_video(&key, body.clone()))).await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 2, "two in flight at once");
    for resp in responses.into_iter().filter(|r| r.status() != 200) {
        let (retry_after, _) =
            expect_429(resp, "parallel_request_limit_exceeded", "rate_limit_error").await;
        assert_eq!(retry_after, 1);
    }
    // Slots are released after each response: only the info request itself is in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let usage = env.usage(&key).await;
    assert_eq!(usage["in_flight"], 1, "{usage}");
    assert_eq!(usage["totals"]["denied"], 6, "{usage}");
    env.stop().await;
}

#[tokio::test]
async fn usage_survives_a_restart() {
    let dir = state_dir("quota-restart");
    let opts = MockOptions {
        polls_until_done: 0,
        ..MockOptions::default()
    };
    let env = start_with(opts.clone(), Some(dir.clone())).await;
    let key = env.new_key(json!({"videos_per_day": 2})).await;
    let body = json!({"model": "veo-3.1", "prompt": "persist"});
    for _ in 0..2 {
        assert_eq!(env.create_video(&key, body.clone()).await.status(), 200);
    }
    env.stop().await;

    let env = start_with(opts, Some(dir.clone())).await;
    expect_429(
        env.create_video(&key, body).await,
        "video_quota_exceeded",
        "insufficient_quota",
    )
    .await;
    let usage = env.usage(&key).await;
    assert_eq!(usage["totals"]["videos"], 2, "{usage}");
    env.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_policies_are_refused_and_info_shows_limits() {
    let env = start().await;
    for (body, param) in [
        (json!({"rpm": -5}), "rpm"),
        (json!({"videos_per_day": "ten"}), "videos_per_day"),
        (json!({"max_budget": -1}), "max_budget"),
        (json!({"budget_duration": "a month"}), "budget_duration"),
    ] {
        let resp = env
            .http
            .post(env.url("/key/generate"))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    let key = env
        .new_key(json!({"rpm": 100, "video_seconds_per_day": 60, "max_budget": 5, "budget_duration": "30d"}))
        .await;
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    let info = &info["info"];
    assert_eq!(info["rpm"], 100);
    assert_eq!(info["video_seconds_per_day"], 60);
    assert_eq!(info["max_budget"], "5.00");
    assert_eq!(info["budget_duration"], "30d");
    assert_eq!(info["videos_per_day"], Value::Null);
    let limits = &info["usage"]["limits"];
    assert_eq!(limits["requests_per_minute"]["limit"], 100);
    assert_eq!(limits["video_seconds_per_day"]["remaining"], 60);
    assert_eq!(limits["budget"]["remaining"], "5.00");
    assert!(limits["budget"]["resets_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // The master key is never metered.
    let resp = env.get(MASTER_KEY, "/v1/models").await;
    assert!(header(&resp, "x-ratelimit-limit-requests").is_none());
    env.stop().await;
}

#[tokio::test]
async fn without_the_quota_store_metered_work_fails_closed() {
    let dir = state_dir("quota-no-quota-store");
    let opts = MockOptions {
        polls_until_done: 0,
        ..MockOptions::default()
    };
    let env = start_with(opts.clone(), Some(dir.clone())).await;
    let key = env.new_key(json!({"rpm": 100})).await;
    env.stop().await;

    // Same keys (persisted KV), but the Durable Object cannot be reached.
    let env = Env::start(opts, |mock| GatewayOptions {
        persist: Some(dir.clone()),
        without_quota_store: true,
        ..options(mock)
    })
    .await;
    // A plain read fails open (and is logged)…
    let resp = env.get(&key, "/v1/models").await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "x-ratelimit-limit-requests").is_none());
    // …but a video job is metered: refused, and never sent upstream.
    let resp = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "closed"}))
        .await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_unavailable", "{body}");
    assert!(env
        .mock
        .requests()
        .iter()
        .all(|r| !r.path.contains(":predictLongRunning")));
    assert!(env
        .gateway
        .log_lines()
        .iter()
        .any(|l| l.contains(r#""quota":"unavailable""#)));
    env.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
