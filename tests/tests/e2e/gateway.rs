//! The gateway over HTTP: health and request ids, the key admin API,
//! expiry and credential sources, video jobs with sealed ids (Veo on Gemini
//! and Vertex AI, Sora on OpenAI and Azure, follow-ups and characters),
//! precise errors, upstream failures, invalid config, the Gemini-shaped
//! routes and structured, secret-free logs — the built Worker in workerd
//! against the mock upstream.

use std::time::Duration;

use reelay_tests::gateway::{Gateway, GatewayOptions};
use reelay_tests::mock::expected_video_bytes;
use reelay_tests::mock::{Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    client, expect_error, state_dir, Env, AZURE_KEY, GEMINI_KEY, MASTER_KEY, OPENAI_KEY,
    SEALING_KEY,
};

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "gemini/veo-3.1-fast", "deployments": [
                {"id": "gemini-veo31-fast", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base, "timeout_ms": 1500}]},
            {"name": "veo-broken-credential", "deployments": [
                {"id": "gemini-bad-key", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "WRONG_GEMINI_KEY", "api_base": base}]}
        ],
        "access_groups": {"video": ["veo-*"]},
        "max_body_bytes": 65536
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(
            config(mock),
            &[
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("WRONG_GEMINI_KEY", "not-the-key"),
            ],
        )
    })
    .await
}

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let env = start().await;
    let live = env
        .http
        .get(env.url("/health/liveliness"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let id = live.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_"));
    let ready = env
        .http
        .get(env.url("/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        ready.headers()["x-request-id"].to_str().unwrap(),
        id,
        "ids are per request"
    );
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["kv"]["ok"], true);
    expect_error(
        env.http.get(env.url("/nope")).send().await.unwrap(),
        404,
        "route_not_found",
    )
    .await;
    expect_error(
        env.http
            .delete(env.url("/health/liveliness"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    env.stop().await;
}

#[tokio::test]
async fn key_admin_lifecycle() {
    let env = start().await;
    // Only the master key administers keys.
    expect_error(
        env.http
            .post(env.url("/key/generate"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "missing_api_key",
    )
    .await;
    let resp = env
        .http
        .post(env.url("/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({
            "key_alias": "web", "models": ["veo-*"], "duration": "1h", "metadata": {"team": "video"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let created: Value = resp.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk-reelay-"));
    assert_eq!(created["key_alias"], "web");
    assert!(created["expires"].as_str().unwrap().ends_with('Z'));
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(!created["key_name"].as_str().unwrap().contains(&key[12..28]));

    expect_error(
        env.http
            .post(env.url("/key/generate"))
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        403,
        "admin_key_required",
    )
    .await;
    let bad = env
        .http
        .post(env.url("/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"models": ["group:nope"]}))
        .send()
        .await
        .unwrap();
    let body = expect_error(bad, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "models");
    let bad = env
        .http
        .post(env.url("/key/generate"))
        .bearer_auth(MASTER_KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "invalid_json").await;

    // A key reads its own info (with usage) but no one else's.
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    assert_eq!(info["key"], token.as_str());
    assert_eq!(info["info"]["models"], json!(["veo-*"]));
    assert_eq!(info["info"]["metadata"]["team"], "video");
    let other = env.new_key(json!({})).await;
    expect_error(
        env.get(&key, &format!("/key/info?key={other}")).await,
        403,
        "admin_key_required",
    )
    .await;
    let by_master: Value = env
        .get(MASTER_KEY, &format!("/key/info?key={token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_master["info"]["key_alias"], "web");

    // Update by token; then delete; the deleted key no longer authenticates.
    let updated = env
        .http
        .post(env.url("/key/update"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key": token, "models": ["gemini/*"], "key_alias": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["models"], json!(["gemini/*"]));
    assert_eq!(updated["key_alias"], Value::Null);
    let models: Value = env.get(&key, "/v1/models").await.json().await.unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 1);
    assert_eq!(models["data"][0]["id"], "gemini/veo-3.1-fast");

    let missing = env
        .http
        .post(env.url("/key/update"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key": "sk-reelay-doesnotexist0000000000000000"}))
        .send()
        .await
        .unwrap();
    expect_error(missing, 404, "key_not_found").await;
    let deleted = env
        .http
        .post(env.url("/key/delete"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"keys": [key]}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted["deleted_keys"], json!([token]));
    expect_error(env.get(&key, "/v1/models").await, 401, "invalid_api_key").await;
    env.stop().await;
}

#[tokio::test]
async fn expired_keys_and_credential_sources() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-3.1"]})).await;
    // `x-goog-api-key` and `api-key` work everywhere; `?key=` only on Google-shaped routes.
    let via_goog = env
        .http
        .get(env.url("/v1/models"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(via_goog.status(), 200);
    let via_azure = env
        .http
        .get(env.url("/v1/models"))
        .header("api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(via_azure.status(), 200);
    let via_query = env
        .http
        .get(env.url(&format!("/v1/models?key={key}")))
        .send()
        .await
        .unwrap();
    expect_error(via_query, 401, "missing_api_key").await;
    expect_error(
        env.get("sk-reelay-forged00000000000000000000000000", "/v1/models")
            .await,
        401,
        "invalid_api_key",
    )
    .await;

    // A custom key with a 1-second lifetime expires.
    let custom = "sk-custom-expiring-key-0123456789";
    let resp = env
        .http
        .post(env.url("/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key": custom, "duration": "1s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_error(env.get(custom, "/v1/models").await, 401, "key_expired").await;
    env.stop().await;
}

#[tokio::test]
async fn video_job_end_to_end_with_sealed_ids() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["group:video"]})).await;
    let resp = env.create_video(&key, json!({"model": "veo-3.1", "prompt": "a calico cat playing piano", "seconds": "6", "size": "720x1280"})).await;
    assert_eq!(resp.status(), 200);
    let video: Value = resp.json().await.unwrap();
    assert_eq!(video["object"], "video");
    assert_eq!(video["status"], "queued");
    assert_eq!(video["model"], "veo-3.1");
    assert_eq!(video["seconds"], "6");
    assert_eq!(video["size"], "720x1280");
    let id = video["id"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("video_")
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    );
    assert!(
        !id.contains("operations"),
        "the id must not expose the raw operation name unencoded"
    );

    // The upstream saw Veo's real shape, with the gateway's credential.
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(
        sent.header("authorization"),
        None,
        "the client's key never goes upstream"
    );
    assert_eq!(
        sent.body_json().unwrap(),
        json!({
            "instances": [{"prompt": "a calico cat playing piano"}],
            "parameters": {"durationSeconds": 6, "aspectRatio": "9:16", "resolution": "720p", "sampleCount": 1}
        })
    );

    // Content before completion is a clear 409.
    let early = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    // That poll counted as the first of two; the next status poll completes.
    expect_error(early, 409, "video_not_ready").await;
    let status: Value = env
        .get(&key, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["progress"], 100);
    assert_eq!(status["prompt"], "a calico cat playing piano");
    assert_eq!(status["id"], id.as_str());

    // Content streams through, following the upstream's redirect.
    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    assert!(content.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let bytes = content.bytes().await.unwrap();
    let blob = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/_mock/blob/"))
        .unwrap();
    let file_id = blob.path.rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(&file_id, MockOptions::default().video_bytes).as_slice()
    );
    assert_eq!(
        blob.header("x-goog-api-key"),
        None,
        "the credential is not sent to the redirect target"
    );

    // Another key cannot see it; a tampered id is just "not found".
    let other = env.new_key(json!({})).await;
    expect_error(
        env.get(&other, &format!("/v1/videos/{id}")).await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(
        env.get(&other, &format!("/v1/videos/{id}/content")).await,
        404,
        "video_not_found",
    )
    .await;
    let mut tampered = id.clone().into_bytes();
    let i = tampered.len() - 20;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    expect_error(
        env.get(&key, &format!("/v1/videos/{tampered}")).await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(
        env.get(&key, "/v1/videos/video_abc").await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(
        env.get(&key, "/v1/videos/models%2Fveo%2Foperations%2Fx")
            .await,
        404,
        "video_not_found",
    )
    .await;

    // Usage is counted exactly in the key's Durable Object.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    assert_eq!(info["info"]["usage"]["totals"]["videos"], 1, "{info}");
    env.stop().await;
}

#[tokio::test]
async fn multipart_create_like_openai_python() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let form = reqwest::multipart::Form::new()
        .text("model", "veo-3.1")
        .text("prompt", "waves at dusk")
        .text("seconds", "8")
        .text("size", "1280x720");
    let resp = env
        .http
        .post(env.url("/videos"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let video: Value = resp.json().await.unwrap();
    assert_eq!(video["seconds"], "8");
    assert_eq!(video["size"], "1280x720");
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        sent.body_json().unwrap()["parameters"]["aspectRatio"],
        "16:9"
    );

    // A reference image as a file part becomes Veo's first frame, typed by
    // its content rather than the client's label.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let with_file = reqwest::multipart::Form::new()
        .text("model", "veo-3.1")
        .text("prompt", "animate this")
        .part(
            "input_reference",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("a.png")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let resp = env
        .http
        .post(env.url("/v1/videos"))
        .bearer_auth(&key)
        .multipart(with_file)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    let image = &sent.body_json().unwrap()["instances"][0]["image"];
    assert_eq!(image["mimeType"], "image/png");
    use base64::Engine as _;
    assert_eq!(
        image["bytesBase64Encoded"],
        base64::engine::general_purpose::STANDARD.encode(&png)
    );

    let not_image = reqwest::multipart::Form::new()
        .text("model", "veo-3.1")
        .text("prompt", "x")
        .part(
            "input_reference",
            reqwest::multipart::Part::bytes(b"GIF89a".to_vec()).file_name("a.gif"),
        );
    let resp = env
        .http
        .post(env.url("/v1/videos"))
        .bearer_auth(&key)
        .multipart(not_image)
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "unsupported_value").await;
    assert_eq!(body["error"]["param"], "input_reference");
    env.stop().await;
}

#[tokio::test]
async fn bad_requests_get_precise_errors() {
    let env = start().await;
    let key = env
        .new_key(json!({"models": ["veo-*", "!veo-broken-*"]}))
        .await;
    let resp = env
        .http
        .post(env.url("/v1/videos"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"prompt\": ")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_json").await;
    let body = expect_error(
        env.create_video(&key, json!({"model": "veo-3.1"})).await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "prompt");
    let body = expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-3.1", "prompt": "x", "quality": "max"}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "quality");
    // Access rules: no match, and a deny rule beating an allow rule.
    let body = expect_error(
        env.create_video(&key, json!({"model": "gemini/veo-3.1-fast", "prompt": "x"}))
            .await,
        403,
        "key_model_access_denied",
    )
    .await;
    assert_eq!(body["error"]["type"], "permission_error");
    expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-broken-credential", "prompt": "x"}),
        )
        .await,
        403,
        "key_model_access_denied",
    )
    .await;
    // Allowed by pattern but not configured.
    expect_error(
        env.create_video(&key, json!({"model": "veo-9", "prompt": "x"}))
            .await,
        404,
        "model_not_found",
    )
    .await;
    // Values Veo cannot serve are errors, never a silent default.
    let body = expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-3.1", "prompt": "x", "size": "1792x1024"}),
        )
        .await,
        400,
        "unsupported_value",
    )
    .await;
    assert_eq!(body["error"]["param"], "size");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1280x720"));
    let body = expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-3.1", "prompt": "x", "seconds": "5"}),
        )
        .await,
        400,
        "unsupported_value",
    )
    .await;
    assert_eq!(body["error"]["param"], "seconds");
    // Oversized and mistyped bodies.
    let huge = json!({"model": "veo-3.1", "prompt": "x".repeat(70_000)});
    expect_error(env.create_video(&key, huge).await, 413, "payload_too_large").await;
    let resp = env
        .http
        .post(env.url("/v1/videos"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    expect_error(resp, 415, "unsupported_media_type").await;
    expect_error(
        env.http
            .post(env.url("/v1/videos"))
            .json(&json!({"prompt": "x"}))
            .send()
            .await
            .unwrap(),
        401,
        "missing_api_key",
    )
    .await;
    // None of that reached the upstream.
    assert!(env.mock.requests().is_empty(), "{:?}", env.mock.requests());
    env.stop().await;
}

#[tokio::test]
async fn upstream_failures_are_classified_and_never_charged() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let create =
        |model: &'static str| env.create_video(&key, json!({"model": model, "prompt": "a cat"}));

    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::GoogleRateLimit {
            retry_delay_secs: 47,
        },
    ));
    let resp = create("veo-3.1").await;
    assert_eq!(resp.headers()["retry-after"], "47");
    expect_error(resp, 429, "rate_limit_exceeded").await;

    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::GoogleDailyQuota,
    ));
    let resp = create("veo-3.1").await;
    assert!(
        !resp.headers().contains_key("retry-after"),
        "a daily quota is not retryable soon"
    );
    expect_error(resp, 429, "insufficient_quota").await;

    // A 503 is retried (a refusal, so resending cannot duplicate the job):
    // three in a row exhaust the attempts.
    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        3,
        FaultAction::ServerError { status: 503 },
    ));
    let resp = create("veo-3.1").await;
    assert_eq!(resp.headers()["x-reelay-attempts"], "3");
    expect_error(resp, 503, "upstream_unavailable").await;

    // Accepted with an unreadable answer: the job may exist, so not a 5xx
    // (SDKs resend those) but 424.
    env.mock
        .push_fault(Fault::new(":predictLongRunning", 1, FaultAction::Malformed));
    expect_error(create("veo-3.1").await, 424, "create_outcome_unknown").await;

    // The deployment's own credential is wrong: Google answers 400 API_KEY_INVALID.
    let body = expect_error(
        create("veo-broken-credential").await,
        502,
        "upstream_authentication_failed",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("not-the-key") && !message.contains("API key not valid"),
        "{message}"
    );

    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::Delay { ms: 3000 },
    ));
    expect_error(
        create("gemini/veo-3.1-fast").await,
        424,
        "create_outcome_unknown",
    )
    .await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    let info: Value = env.get(&key, "/key/info").await.json().await.unwrap();
    assert!(
        info["info"]["usage"]["totals"]["videos"] == 0,
        "failed submits are never counted: {info}"
    );

    // One 503 is retried on the same deployment and the job goes through once.
    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let resp = create("veo-3.1").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-reelay-attempts"], "2");
    assert_eq!(resp.headers()["x-reelay-deployment"].len(), 12);
    let creates = env
        .mock
        .requests()
        .iter()
        .filter(|r| r.path.contains(":predictLongRunning"))
        .count();
    assert!(creates >= 2);
    env.stop().await;
}

#[tokio::test]
async fn safety_outcomes_are_failed_jobs() {
    let env = Env::start(
        MockOptions {
            polls_until_done: 0,
            ..MockOptions::default()
        },
        |mock| GatewayOptions::new(config(mock), &[("GEMINI_API_KEY", GEMINI_KEY)]),
    )
    .await;
    let key = env.new_key(json!({})).await;
    for (prompt, needle) in [
        ("[[unsafe]] prompt", "Responsible AI"),
        ("[[rai]] prompt", "not been charged"),
    ] {
        let video: Value = env
            .create_video(&key, json!({"model": "veo-3.1", "prompt": prompt}))
            .await
            .json()
            .await
            .unwrap();
        let id = video["id"].as_str().unwrap();
        let status: Value = env
            .get(&key, &format!("/v1/videos/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(status["status"], "failed", "{status}");
        assert_eq!(status["error"]["code"], "content_policy_violation");
        assert!(
            status["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{status}"
        );
        expect_error(
            env.get(&key, &format!("/v1/videos/{id}/content")).await,
            409,
            "video_failed",
        )
        .await;
    }
    let video: Value = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "[[internal]]"}))
        .await
        .json()
        .await
        .unwrap();
    let status: Value = env
        .get(
            &key,
            &format!("/v1/videos/{}", video["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "upstream_unavailable");
    env.stop().await;
}

#[tokio::test]
async fn invalid_config_fails_every_request_clearly() {
    let bad = json!({"model_groups": [{"name": "veo", "deployments": [
        {"id": "a", "provider": "gemni", "model": "veo-3.1-generate-preview", "credential": "GEMINI_API_KEY"}]}]});
    let env = Env::start(MockOptions::default(), |_| {
        GatewayOptions::new(bad, &[("GEMINI_API_KEY", GEMINI_KEY)])
    })
    .await;
    let body = expect_error(
        env.get(MASTER_KEY, "/v1/models").await,
        500,
        "config_invalid",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("model_groups[0].deployments[0].provider") && message.contains("gemni"),
        "{message}"
    );
    expect_error(
        env.http
            .post(env.url("/key/generate"))
            .bearer_auth(MASTER_KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        500,
        "config_invalid",
    )
    .await;
    let ready = env
        .http
        .get(env.url("/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["config"]["ok"], false);
    assert_eq!(
        env.http
            .get(env.url("/health/liveliness"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    env.stop().await;

    // No config at all, and no sealing key.
    let env = Env::start(MockOptions::default(), |_| GatewayOptions {
        config: None,
        secrets: vec![],
        persist: None,
        without_quota_store: false,
    })
    .await;
    let body = expect_error(
        env.get(MASTER_KEY, "/v1/models").await,
        500,
        "config_invalid",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("REELAY_CONFIG"));
    let ready: Value = env
        .http
        .get(env.url("/health/readiness"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["sealing_key"]["ok"], false);
    env.stop().await;
}

/// The seed incident: a key with a provider wildcard must reach a model that
/// was added to config after the key was created — here across a redeploy
/// that keeps KV state, with nothing reloaded or re-saved.
#[tokio::test]
async fn wildcard_key_reaches_models_added_later() {
    let state = state_dir("wildcard");
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let group = |name: &str, id: &str, model: &str| {
        json!({"name": name, "deployments": [
        {"id": id, "provider": "gemini", "model": model, "credential": "GEMINI_API_KEY", "api_base": mock.base_url()}]})
    };
    let before = json!({"model_groups": [group("gemini/veo-3.1-fast", "d1", "veo-3.1-fast-generate-preview"), group("veo-3.1", "d0", "veo-3.1-generate-preview")]});
    let mut opts = GatewayOptions::new(before, &[("GEMINI_API_KEY", GEMINI_KEY)]);
    opts.persist = Some(state.clone());
    let gw = Gateway::start(opts.clone()).await.unwrap();
    let http = client();
    let key: Value = http
        .post(format!("{}/key/generate", gw.url()))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"models": ["gemini/*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    gw.stop().await;

    let after = json!({"model_groups": [
        group("gemini/veo-3.1-fast", "d1", "veo-3.1-fast-generate-preview"),
        group("gemini/veo-3.1-lite", "d2", "veo-3.1-lite-generate-preview"),
        group("veo-3.1", "d0", "veo-3.1-generate-preview")]});
    opts.config = Some(after);
    let gw = Gateway::start(opts).await.unwrap();
    let models: Value = http
        .get(format!("{}/v1/models", gw.url()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gemini/veo-3.1-fast", "gemini/veo-3.1-lite"]);
    let resp = http
        .post(format!("{}/v1/videos", gw.url()))
        .bearer_auth(&key)
        .json(&json!({"model": "gemini/veo-3.1-lite", "prompt": "new model"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = http
        .post(format!("{}/v1/videos", gw.url()))
        .bearer_auth(&key)
        .json(&json!({"model": "veo-3.1", "prompt": "not gemini/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    gw.stop().await;
    mock.shutdown().await;
    let _ = std::fs::remove_dir_all(&state);
}

/// One structured JSON line per request, with the request id the client saw,
/// and no secret anywhere in the logs (keys, credentials, sealing key).
#[tokio::test]
async fn logs_are_structured_and_free_of_secrets() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let video: Value = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "logging"}))
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap();
    let status = env.get(&key, &format!("/v1/videos/{id}?key={key}")).await;
    let request_id = status.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-broken-credential", "prompt": "x"}),
        )
        .await,
        502,
        "upstream_authentication_failed",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let lines = env.gateway.log_lines();
    let records: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("request_id").is_some())
        .collect();
    assert_eq!(records.len(), 4, "one line per request: {lines:#?}");
    let poll = records
        .iter()
        .find(|r| r["request_id"] == request_id.as_str())
        .expect("the poll's log line");
    assert_eq!(
        poll["path"],
        format!("/v1/videos/{id}"),
        "the query (which may hold a key) is not logged"
    );
    assert_eq!(poll["status"], 200);
    assert_eq!(poll["model"], "veo-3.1");
    assert_eq!(poll["deployment"], "gemini-veo31");
    assert_eq!(poll["upstream_status"], 200);
    let failed = records.last().unwrap();
    assert_eq!(failed["error_code"], "upstream_authentication_failed");
    assert_eq!(failed["upstream_error"], "authentication");
    for line in &lines {
        for secret in [
            key.as_str(),
            MASTER_KEY,
            GEMINI_KEY,
            "not-the-key",
            SEALING_KEY,
        ] {
            assert!(
                !line.contains(secret),
                "a secret leaked into the logs: {line}"
            );
        }
    }
    env.stop().await;
}

/// `GET /v1/videos` lists only the caller's jobs from the per-key index,
/// newest first, with `after`/`limit`/`order` paging; `DELETE` hides a job
/// from every route for good.
#[tokio::test]
async fn list_and_delete_cover_only_the_callers_videos() {
    let env = start().await;
    let a = env.new_key(json!({})).await;
    let b = env.new_key(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let video: Value = env
            .create_video(
                &a,
                json!({"model": "veo-3.1", "prompt": format!("job {i}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        ids.push(video["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let theirs: Value = env
        .create_video(&b, json!({"model": "veo-3.1", "prompt": "b's job"}))
        .await
        .json()
        .await
        .unwrap();
    let theirs = theirs["id"].as_str().unwrap().to_owned();

    let list = |key: &str, query: &str| {
        let (key, query) = (key.to_owned(), query.to_owned());
        let env = &env;
        async move {
            let resp = env.get(&key, &format!("/v1/videos{query}")).await;
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let ids_of = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let all = list(&a, "").await;
    assert_eq!(all["object"], "list");
    assert_eq!(ids_of(&all), newest_first);
    assert_eq!(all["has_more"], false);
    assert_eq!(all["first_id"], newest_first[0].as_str());
    assert_eq!(all["last_id"], ids[0].as_str());
    assert_eq!(all["data"][4]["prompt"], "job 0");
    assert_eq!(all["data"][0]["object"], "video");

    // Paging newest first, then oldest first.
    let p1 = list(&a, "?limit=2").await;
    assert_eq!(
        (ids_of(&p1), p1["has_more"].clone()),
        (newest_first[..2].to_vec(), json!(true))
    );
    let p2 = list(&a, &format!("?limit=2&after={}", newest_first[1])).await;
    assert_eq!(ids_of(&p2), newest_first[2..4].to_vec());
    let p3 = list(&a, &format!("?limit=2&after={}", newest_first[3])).await;
    assert_eq!(
        (ids_of(&p3), p3["has_more"].clone()),
        (newest_first[4..].to_vec(), json!(false))
    );
    let asc = list(&a, "?order=asc&limit=3").await;
    assert_eq!(
        (ids_of(&asc), asc["has_more"].clone()),
        (ids[..3].to_vec(), json!(true))
    );
    let asc2 = list(&a, &format!("?order=asc&after={}", ids[2])).await;
    assert_eq!(ids_of(&asc2), ids[3..].to_vec());

    // Keys are isolated, and bad queries are precise errors.
    assert_eq!(ids_of(&list(&b, "").await), vec![theirs.clone()]);
    let body = expect_error(
        env.get(&a, &format!("/v1/videos?after={theirs}")).await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "after");
    let body = expect_error(
        env.get(&a, "/v1/videos?limit=500").await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "limit");

    // Status seen by a poll shows in the list (the mock completes on the 2nd poll).
    for _ in 0..2 {
        env.get(&a, &format!("/v1/videos/{}", ids[0])).await;
    }
    let all = list(&a, "").await;
    assert_eq!(all["data"][4]["status"], "completed", "{all}");

    // Delete: not by another key; then gone everywhere, and not twice.
    let del = |key: &str, id: &str| {
        env.http
            .delete(env.url(&format!("/v1/videos/{id}")))
            .bearer_auth(key)
            .send()
    };
    expect_error(del(&b, &ids[1]).await.unwrap(), 404, "video_not_found").await;
    let resp = del(&a, &ids[1]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"id": ids[1], "object": "video.deleted", "deleted": true})
    );
    expect_error(
        env.get(&a, &format!("/v1/videos/{}", ids[1])).await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(
        env.get(&a, &format!("/v1/videos/{}/content", ids[1])).await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(del(&a, &ids[1]).await.unwrap(), 404, "video_not_found").await;
    let remaining: Vec<String> = newest_first
        .iter()
        .filter(|id| **id != ids[1])
        .cloned()
        .collect();
    assert_eq!(ids_of(&list(&a, "").await), remaining);
    env.stop().await;
}

/// Asserts a Google-shaped error with HTTP `status` and canonical `code` and returns its body.
async fn expect_google_error(resp: Response, status: u16, canonical: &str, reason: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], status, "{body}");
    assert_eq!(body["error"]["status"], canonical, "{body}");
    assert_eq!(body["error"]["details"][0]["reason"], reason, "{body}");
    body
}

/// Google's own shapes under `/gemini/`: the checked body is resent, the key
/// is swapped for the deployment's, operation names carry the sealed video
/// id, file URIs point back at the gateway, errors are Google-shaped.
#[tokio::test]
async fn gemini_shaped_routes_pass_through_with_sealed_names() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["veo-*"]})).await;
    let body = json!({"instances": [{"prompt": "a fox in snow"}],
                      "parameters": {"durationSeconds": 6, "aspectRatio": "9:16", "enhancePrompt": true}});
    let resp = env
        .http
        .post(env.url("/gemini/v1beta/models/veo-3.1:predictLongRunning"))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let created: Value = resp.json().await.unwrap();
    let name = created["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("models/veo-3.1/operations/video_"),
        "{name}"
    );
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(GEMINI_KEY));
    let mut checked = body.clone();
    checked["parameters"]["sampleCount"] = json!(1);
    assert_eq!(
        sent.body_json().unwrap(),
        checked,
        "the checked body, with the sample count charged for made explicit"
    );

    // Poll with `?key=` (allowed on Google-shaped routes), as the SDK would: GET /v1beta/{name}.
    let poll = |n: &str| {
        env.http
            .get(env.url(&format!("/gemini/v1beta/{n}?key={key}")))
            .send()
    };
    let first: Value = poll(&name).await.unwrap().json().await.unwrap();
    assert_eq!(first["name"], name.as_str());
    assert!(first.get("done").is_none(), "{first}");
    let done: Value = poll(&name).await.unwrap().json().await.unwrap();
    assert_eq!(done["done"], true, "{done}");
    let uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = env.url("/gemini/v1beta/files/");
    assert!(
        uri.starts_with(&prefix) && uri.ends_with(":download?alt=media"),
        "{uri}"
    );
    let file_id = &uri[prefix.len()..uri.len() - ":download?alt=media".len()];
    assert!(
        file_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "Google SDKs need [a-z0-9]+: {file_id}"
    );
    let video = env
        .http
        .get(&uri)
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(video.status(), 200);
    assert_eq!(video.headers()["content-type"], "video/mp4");
    let bytes = video.bytes().await.unwrap();
    let blob = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/_mock/blob/"))
        .unwrap();
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(
            blob.path.rsplit('/').next().unwrap(),
            MockOptions::default().video_bytes
        )
        .as_slice()
    );

    // The seed's client polls `…/operations/{full name}`; that works too.
    let seed_style = env
        .http
        .get(env.url(&format!("/gemini/v1beta/models/veo-3.1/operations/{name}")))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(seed_style.status(), 200);
    // The same job through the OpenAI surface.
    let listed: Value = env.get(&key, "/v1/videos").await.json().await.unwrap();
    assert_eq!(listed["data"][0]["prompt"], "a fox in snow");
    assert_eq!(listed["data"][0]["seconds"], "6");
    assert_eq!(listed["data"][0]["size"], "720x1280");

    // Google-shaped errors.
    let other = env.new_key(json!({})).await;
    expect_google_error(
        env.http
            .get(env.url(&format!("/gemini/v1beta/{name}")))
            .send()
            .await
            .unwrap(),
        401,
        "UNAUTHENTICATED",
        "MISSING_API_KEY",
    )
    .await;
    expect_google_error(
        env.http
            .get(env.url(&format!("/gemini/v1beta/{name}?key={other}")))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
        "VIDEO_NOT_FOUND",
    )
    .await;
    expect_google_error(
        env.http
            .get(format!("{uri}&key={other}"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
        "VIDEO_NOT_FOUND",
    )
    .await;
    let denied = env
        .http
        .post(env.url("/gemini/v1beta/models/gemini%2Fveo-3.1-fast:predictLongRunning"))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        denied.status() == 403 || denied.status() == 404,
        "{}",
        denied.status()
    );
    let bad = env
        .http
        .post(env.url("/gemini/v1beta/models/veo-3.1:predictLongRunning"))
        .header("x-goog-api-key", &key)
        .json(&json!({"instances": []}))
        .send()
        .await
        .unwrap();
    expect_google_error(bad, 400, "INVALID_ARGUMENT", "INVALID_REQUEST").await;
    let unknown = env
        .http
        .post(env.url("/gemini/v1beta/models/veo-3.1:generateContent"))
        .header("x-goog-api-key", &key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_google_error(unknown, 404, "NOT_FOUND", "ROUTE_NOT_FOUND").await;
    env.mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::GoogleRateLimit {
            retry_delay_secs: 47,
        },
    ));
    let limited = env
        .http
        .post(env.url("/gemini/v1beta/models/veo-3.1:predictLongRunning"))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.headers()["retry-after"], "47");
    let limited =
        expect_google_error(limited, 429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED").await;
    assert_eq!(limited["error"]["details"][1]["retryDelay"], "47s");
    env.stop().await;
}

/// Sora on OpenAI and on Azure behind the same `/v1/videos` surface: the
/// upstream's own id never reaches the client, progress and sizes pass
/// through, content (and its thumbnail) streams, auth headers differ.
#[tokio::test]
async fn sora_on_openai_and_azure() {
    let env = Env::start(MockOptions::default(), |mock| {
        let mut cfg = config(mock);
        let base = mock.base_url();
        let groups = cfg["model_groups"].as_array_mut().unwrap();
        groups.push(json!({"name": "sora-2", "deployments": [
            {"id": "openai-sora", "provider": "openai", "model": "sora-2", "credential": "OPENAI_API_KEY", "api_base": base}]}));
        groups.push(json!({"name": "sora-azure", "deployments": [
            {"id": "azure-sora", "provider": "azure", "model": "sora-2", "credential": "AZURE_API_KEY", "api_base": base}]}));
        GatewayOptions::new(cfg, &[("GEMINI_API_KEY", GEMINI_KEY), ("OPENAI_API_KEY", OPENAI_KEY), ("AZURE_API_KEY", AZURE_KEY)])
    })
    .await;
    let key = env.new_key(json!({"models": ["sora-*", "veo-*"]})).await;

    let video: Value = env
        .create_video(&key, json!({"model": "sora-2", "prompt": "a paper boat"}))
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            video["status"].clone(),
            video["seconds"].clone(),
            video["size"].clone()
        ),
        (json!("queued"), json!("4"), json!("720x1280")),
        "{video}"
    );
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/v1/videos")
        .unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer mock-openai-key"));
    assert_eq!(
        sent.body_json().unwrap(),
        json!({"model": "sora-2", "prompt": "a paper boat"})
    );

    let first: Value = env
        .get(&key, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (first["status"].clone(), first["progress"].clone()),
        (json!("in_progress"), json!(50)),
        "{first}"
    );
    let upstream_id = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1/videos/video_"))
        .unwrap()
        .path["/v1/videos/".len()..]
        .to_owned();
    assert_ne!(
        upstream_id, id,
        "the upstream id stays inside the sealed id"
    );
    let done: Value = env
        .get(&key, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "completed");

    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(
        content.bytes().await.unwrap().as_ref(),
        expected_video_bytes(&upstream_id, MockOptions::default().video_bytes).as_slice()
    );
    let thumb = env
        .get(&key, &format!("/v1/videos/{id}/content?variant=thumbnail"))
        .await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/webp");
    assert!(thumb.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".webp\""));
    assert_eq!(
        thumb.bytes().await.unwrap().as_ref(),
        reelay_tests::mock::expected_image_bytes(&upstream_id, "thumbnail").as_slice()
    );

    // Azure: its own path and `api-key` header.
    let azure: Value = env
        .create_video(
            &key,
            json!({"model": "sora-azure", "prompt": "a kite", "seconds": "8", "size": "1280x720"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (azure["seconds"].clone(), azure["size"].clone()),
        (json!("8"), json!("1280x720"))
    );
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/openai/v1/videos")
        .unwrap();
    assert_eq!(sent.header("api-key"), Some("mock-azure-key"));
    assert_eq!(sent.header("authorization"), None);

    // Veo-only options, unservable durations, moderation and rate limits.
    let body = expect_error(
        env.create_video(&key, json!({"model": "sora-2", "prompt": "x", "seed": 4}))
            .await,
        400,
        "unsupported_value",
    )
    .await;
    assert_eq!(body["error"]["param"], "seed");
    expect_error(
        env.create_video(
            &key,
            json!({"model": "sora-2", "prompt": "x", "seconds": "6"}),
        )
        .await,
        400,
        "unsupported_value",
    )
    .await;
    let blocked: Value = env
        .create_video(
            &key,
            json!({"model": "sora-2", "prompt": "[[moderation]] x"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let blocked_id = blocked["id"].as_str().unwrap();
    let mut status = Value::Null;
    for _ in 0..3 {
        status = env
            .get(&key, &format!("/v1/videos/{blocked_id}"))
            .await
            .json()
            .await
            .unwrap();
    }
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "content_policy_violation");
    // A rate-limited deployment is left for the other one at once…
    env.mock.push_fault(Fault::new(
        "/v1/videos",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 7,
        },
    ));
    let moved = env
        .create_video(&key, json!({"model": "sora-2", "prompt": "x"}))
        .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(moved.headers()["x-reelay-attempts"], "2");
    // …and skipped while it cools down; when the other one is limited too
    // for longer than the gateway waits, the client gets the real wait.
    env.mock.push_fault(Fault::new(
        "/v1/videos",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 30,
        },
    ));
    let limited = env
        .create_video(&key, json!({"model": "sora-2", "prompt": "x"}))
        .await;
    assert_eq!(limited.headers()["x-reelay-attempts"], "1");
    assert_eq!(limited.headers()["retry-after"], "30");
    expect_error(limited, 429, "rate_limit_exceeded").await;

    // A Veo job still refuses thumbnails; Sora jobs are not reachable through Google's shapes.
    let veo: Value = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "x"}))
        .await
        .json()
        .await
        .unwrap();
    let body = expect_error(
        env.get(
            &key,
            &format!(
                "/v1/videos/{}/content?variant=thumbnail",
                veo["id"].as_str().unwrap()
            ),
        )
        .await,
        400,
        "unsupported_value",
    )
    .await;
    assert_eq!(body["error"]["param"], "variant");
    let listed: Value = env.get(&key, "/v1/videos").await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 5);

    // Deleting a Sora job deletes it upstream too.
    let resp = env
        .http
        .delete(env.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(env
        .mock
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.path == format!("/v1/videos/{upstream_id}")));
    expect_error(
        env.get(&key, &format!("/v1/videos/{id}")).await,
        404,
        "video_not_found",
    )
    .await;
    env.stop().await;
}

/// Veo on Vertex AI: OAuth tokens minted from a service-account key by
/// WebCrypto RS256 (the mock verifies the JWT's signature and claims),
/// cached across calls and refreshed when refused; results as inline bytes
/// and as `gs://` objects streamed from Cloud Storage.
#[tokio::test]
async fn vertex_veo_with_service_account_tokens() {
    let env = Env::start(MockOptions::default(), |mock| {
        let mut cfg = config(mock);
        let base = mock.base_url();
        let vertex = |name: &str, id: &str, credential: &str, storage: Option<&str>| {
            let mut dep = json!({"id": id, "provider": "vertex_ai", "model": "veo-3.1-generate-001", "credential": credential,
                "project": "mock-project", "location": "us-central1", "api_base": base, "storage_api_base": base});
            if let Some(uri) = storage {
                dep["storage_uri"] = json!(uri);
            }
            json!({"name": name, "deployments": [dep]})
        };
        let groups = cfg["model_groups"].as_array_mut().unwrap();
        groups.push(vertex("veo-vertex", "vertex-inline", "VERTEX_SA", None));
        groups.push(vertex("veo-vertex-gcs", "vertex-gcs", "VERTEX_SA", Some("gs://reelay-out/veo/")));
        groups.push(vertex("veo-vertex-badkey", "vertex-badkey", "BAD_SA", None));
        let sa = reelay_tests::mock::test_service_account_json(&base);
        GatewayOptions::new(cfg, &[("GEMINI_API_KEY", GEMINI_KEY), ("VERTEX_SA", &sa), ("BAD_SA", r#"{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}"#)])
    })
    .await;
    let key = env.new_key(json!({})).await;

    // Inline bytes.
    let video: Value = env.create_video(&key, json!({"model": "veo-vertex", "prompt": "a glacier", "seconds": "8", "size": "1920x1080"})).await.json().await.unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(video["size"], "1920x1080", "{video}");
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(sent.path, "/v1/projects/mock-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning");
    assert!(
        sent.header("authorization")
            .unwrap()
            .starts_with("Bearer ya29."),
        "{:?}",
        sent.header("authorization")
    );
    assert_eq!(
        sent.body_json().unwrap()["parameters"]["resolution"],
        "1080p"
    );
    assert_eq!(env.mock.tokens_issued(), 1);
    for _ in 0..2 {
        env.get(&key, &format!("/v1/videos/{id}")).await;
    }
    let done: Value = env
        .get(&key, &format!("/v1/videos/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        env.mock.tokens_issued(),
        1,
        "the token is cached across calls"
    );
    let fetch = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":fetchPredictOperation"))
        .unwrap();
    let op_name = fetch.body_json().unwrap()["operationName"]
        .as_str()
        .unwrap()
        .to_owned();
    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    let expected = expected_video_bytes(
        &reelay_tests::mock::vertex_sample_key(&op_name, 0),
        MockOptions::default().video_bytes,
    );
    assert_eq!(content.bytes().await.unwrap().as_ref(), expected.as_slice());

    // A refused token is replaced once, transparently.
    env.mock.revoke_tokens();
    let again = env.get(&key, &format!("/v1/videos/{id}")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(env.mock.tokens_issued(), 2);

    // gs:// results stream from Cloud Storage with the same token.
    let gcs: Value = env
        .create_video(
            &key,
            json!({"model": "veo-vertex-gcs", "prompt": "a canyon"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let gcs_id = gcs["id"].as_str().unwrap().to_owned();
    let sent = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        sent.body_json().unwrap()["parameters"]["storageUri"],
        "gs://reelay-out/veo/"
    );
    for _ in 0..2 {
        env.get(&key, &format!("/v1/videos/{gcs_id}")).await;
    }
    let content = env.get(&key, &format!("/v1/videos/{gcs_id}/content")).await;
    assert_eq!(content.status(), 200);
    let bytes = content.bytes().await.unwrap();
    let download = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/storage/v1/b/reelay-out/o/"))
        .unwrap();
    assert!(download
        .header("authorization")
        .unwrap()
        .starts_with("Bearer ya29."));
    let gcs_op = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(":fetchPredictOperation"))
        .unwrap();
    let gcs_op = gcs_op.body_json().unwrap()["operationName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(
            &reelay_tests::mock::vertex_sample_key(&gcs_op, 0),
            MockOptions::default().video_bytes
        )
        .as_slice()
    );

    // A broken key file is the operator's problem, named without its contents.
    let body = expect_error(
        env.create_video(&key, json!({"model": "veo-vertex-badkey", "prompt": "x"}))
            .await,
        500,
        "config_invalid",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("BAD_SA") && !message.contains("AAAA"),
        "{message}"
    );
    env.stop().await;
}

/// Remix, edits and extensions start from one of the caller's videos and
/// always run on the deployment holding it, with the upstream's own id
/// swapped in; Veo can only extend.
#[tokio::test]
async fn follow_ups_run_on_the_source_deployment() {
    let env = Env::start(MockOptions::default(), |mock| {
        let mut cfg = config(mock);
        let base = mock.base_url();
        cfg["model_groups"].as_array_mut().unwrap().push(json!({"name": "sora-2", "deployments": [
            {"id": "openai-sora", "provider": "openai", "model": "sora-2", "credential": "OPENAI_API_KEY", "api_base": base}]}));
        GatewayOptions::new(cfg, &[("GEMINI_API_KEY", GEMINI_KEY), ("OPENAI_API_KEY", OPENAI_KEY)])
    })
    .await;
    let key = env.new_key(json!({})).await;
    let post = |path: &str, body: Value| {
        env.http
            .post(env.url(path))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    let source: Value = env
        .create_video(
            &key,
            json!({"model": "sora-2", "prompt": "a cat", "seconds": "8"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let source_id = source["id"].as_str().unwrap().to_owned();
    env.get(&key, &format!("/v1/videos/{source_id}")).await;
    let upstream_id = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1/videos/video_"))
        .unwrap()
        .path["/v1/videos/".len()..]
        .to_owned();

    let remix: Value = post(
        &format!("/v1/videos/{source_id}/remix"),
        json!({"prompt": "the cat, in winter"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        remix["remixed_from_video_id"],
        source_id.as_str(),
        "{remix}"
    );
    assert_ne!(remix["id"], source_id.as_str());
    assert!(env
        .mock
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path == format!("/v1/videos/{upstream_id}/remix")));
    let fetched: Value = env
        .get(
            &key,
            &format!("/v1/videos/{}", remix["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["remixed_from_video_id"], source_id.as_str());

    let edit = post(
        "/v1/videos/edits",
        json!({"prompt": "make it night", "video": {"id": source_id}}),
    )
    .await
    .unwrap();
    assert_eq!(edit.status(), 200);
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/videos/edits")
        .unwrap();
    assert_eq!(
        sent.body_json().unwrap()["video"]["id"],
        upstream_id.as_str(),
        "the upstream id is swapped in"
    );
    let ext: Value = post(
        "/v1/videos/extensions",
        json!({"prompt": "and then", "seconds": "4", "video": {"id": source_id}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(ext["status"], "queued", "{ext}");
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/videos/extensions")
        .unwrap();
    assert_eq!(
        sent.body_json().unwrap(),
        json!({"prompt": "and then", "seconds": "4", "video": {"id": upstream_id}})
    );
    let body = expect_error(
        post(
            "/v1/videos/extensions",
            json!({"prompt": "x", "video": {"id": source_id}}),
        )
        .await
        .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "seconds");

    // Not someone else's video.
    let other = env.new_key(json!({})).await;
    let resp = env
        .http
        .post(env.url(&format!("/v1/videos/{source_id}/remix")))
        .bearer_auth(&other)
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "video_not_found").await;

    // Veo: remix is refused, extension waits for the source, then extends its file.
    let veo: Value = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "a dog"}))
        .await
        .json()
        .await
        .unwrap();
    let veo_id = veo["id"].as_str().unwrap().to_owned();
    expect_error(
        post(
            &format!("/v1/videos/{veo_id}/remix"),
            json!({"prompt": "x"}),
        )
        .await
        .unwrap(),
        400,
        "unsupported_value",
    )
    .await;
    expect_error(
        post(
            "/v1/videos/extensions",
            json!({"prompt": "x", "seconds": "8", "video": {"id": veo_id}}),
        )
        .await
        .unwrap(),
        409,
        "video_not_ready",
    )
    .await;
    let ext = post(
        "/v1/videos/extensions",
        json!({"prompt": "keeps running", "seconds": "8", "video": {"id": veo_id}}),
    )
    .await
    .unwrap();
    assert_eq!(ext.status(), 200, "{}", ext.text().await.unwrap());
    let sent = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    let uri = sent.body_json().unwrap()["instances"][0]["video"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.starts_with(&format!("{}/v1beta/files/", env.mock.base_url()))
            && uri.ends_with(":download?alt=media"),
        "{uri}"
    );
    env.stop().await;
}

/// Sora characters: created from a multipart upload on a Sora deployment,
/// handed out sealed, readable only by their key, and a create that names
/// them is pinned to their deployment with the upstream ids swapped in.
#[tokio::test]
async fn sora_characters_are_sealed_and_pin_creates() {
    let env = Env::start(MockOptions::default(), |mock| {
        let mut cfg = config(mock);
        let base = mock.base_url();
        cfg["model_groups"].as_array_mut().unwrap().push(json!({"name": "sora-2", "deployments": [
            {"id": "openai-sora", "provider": "openai", "model": "sora-2", "credential": "OPENAI_API_KEY", "api_base": base}]}));
        GatewayOptions::new(cfg, &[("GEMINI_API_KEY", GEMINI_KEY), ("OPENAI_API_KEY", OPENAI_KEY)])
    })
    .await;
    let key = env.new_key(json!({})).await;
    let form = reqwest::multipart::Form::new()
        .text("name", "Mochi")
        .text("model", "sora-2")
        .part(
            "video",
            reqwest::multipart::Part::bytes(b"\0\0\0\x18ftypisom".to_vec())
                .file_name("mochi.mp4")
                .mime_str("video/mp4")
                .unwrap(),
        );
    let resp = env
        .http
        .post(env.url("/v1/videos/characters"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let character: Value = resp.json().await.unwrap();
    let char_id = character["id"].as_str().unwrap().to_owned();
    assert!(char_id.starts_with("char_"));
    assert_eq!(
        (character["object"].clone(), character["name"].clone()),
        (json!("character"), json!("Mochi"))
    );
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/videos/characters")
        .unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer mock-openai-key"));
    let sent_body = String::from_utf8_lossy(&sent.body).into_owned();
    assert!(
        sent_body.contains("name=\"name\"") && !sent_body.contains("name=\"model\""),
        "reelay's own field stays here"
    );

    let fetched: Value = env
        .get(&key, &format!("/v1/videos/characters/{char_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (fetched["id"].clone(), fetched["name"].clone()),
        (json!(char_id), json!("Mochi"))
    );
    let other = env.new_key(json!({})).await;
    expect_error(
        env.get(&other, &format!("/v1/videos/characters/{char_id}"))
            .await,
        404,
        "video_not_found",
    )
    .await;
    expect_error(
        env.get(&key, &format!("/v1/videos/{char_id}")).await,
        404,
        "video_not_found",
    )
    .await;

    let video = env
        .create_video(
            &key,
            json!({"model": "sora-2", "prompt": "Mochi dances", "characters": [{"id": char_id}]}),
        )
        .await;
    assert_eq!(video.status(), 200);
    let sent = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST" && r.path == "/v1/videos")
        .unwrap();
    let upstream_char = sent.body_json().unwrap()["characters"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        upstream_char.starts_with("char_") && upstream_char != char_id,
        "{upstream_char}"
    );
    let body = expect_error(
        env.create_video(
            &key,
            json!({"model": "veo-3.1", "prompt": "x", "characters": [{"id": char_id}]}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["param"], "characters");
    expect_error(
        env.create_video(
            &other,
            json!({"model": "sora-2", "prompt": "x", "characters": [{"id": char_id}]}),
        )
        .await,
        404,
        "video_not_found",
    )
    .await;
    env.stop().await;
}
