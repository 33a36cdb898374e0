//! Gemini Omni serving the OpenAI `/v1/videos` surface: create (text and
//! image to video), status, content (streamed from the file URI, or decoded
//! when the upstream inlines it), delete (cancelling a running interaction
//! first), remix/edits/extensions, explicit size and seconds errors, safety
//! blocks as failed jobs, metering, and creates whose outcome is unknown —
//! the built Worker in workerd against the mock's Omni interactions, on the
//! Gemini API and on Vertex AI.

use std::time::Duration;

use base64::Engine as _;
use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{
    expected_video_bytes, omni_video_key, Fault, FaultAction, MockOptions, MockUpstream,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{expect_error, Env, GEMINI_KEY};

/// The group name the demo config and the live default use too.
const GROUP: &str = "gemini-omni-1.1-flash";

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": GROUP, "deployments": [
                {"id": "gemini-omni", "provider": "gemini", "model": "gemini-omni-1.1-flash",
                 "credential": "GEMINI_API_KEY", "api_base": base, "timeout_ms": 1500,
                 "prices": {"video_per_second": 0.1}}]},
            {"name": "omni-vertex", "deployments": [
                {"id": "vertex-omni", "provider": "vertex_ai", "model": "gemini-omni-1.1-flash-preview",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "global",
                 "api_base": base, "storage_api_base": base}]}
        ]
    })
}

async fn start(polls: u32) -> Env {
    Env::start(
        MockOptions {
            polls_until_done: polls,
            ..MockOptions::default()
        },
        |mock| {
            let sa = mock.service_account_json();
            GatewayOptions::new(
                config(mock),
                &[("GEMINI_API_KEY", GEMINI_KEY), ("VERTEX_SA", sa.as_str())],
            )
        },
    )
    .await
}

async fn json_of(env: &Env, key: &str, path: &str) -> Value {
    let resp = env.get(key, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

async fn post_json(env: &Env, key: &str, path: &str, body: Value) -> reqwest::Response {
    env.http
        .post(env.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Polls video `id` until it is no longer queued or in progress.
async fn finished(env: &Env, key: &str, id: &str) -> Value {
    for _ in 0..10 {
        let v = json_of(env, key, &format!("/v1/videos/{id}")).await;
        if v["status"] != "queued" && v["status"] != "in_progress" {
            return v;
        }
    }
    panic!("video {id} never finished");
}

/// The interaction creates the mock received.
fn interaction_creates(env: &Env) -> Vec<Value> {
    env.mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/interactions"))
        .map(|r| r.body_json().unwrap())
        .collect()
}

async fn usage(env: &Env, key: &str) -> Value {
    let info = json_of(env, key, "/key/info").await;
    info["info"]["usage"].clone()
}

/// The Gemini file id the gateway downloaded.
fn downloaded_file(env: &Env) -> String {
    let path = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1beta/files/"))
        .unwrap()
        .path;
    path["/v1beta/files/".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn create_poll_stream_and_delete() {
    // Done on the third poll: a status and a content call see it running.
    let env = start(3).await;
    let key = env.new_key(json!({})).await;
    let resp = env
        .create_video(
            &key,
            json!({"model": GROUP, "prompt": "a calico cat playing piano", "seconds": "6",
                   "size": "720x1280", "seed": 7}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let video: Value = resp.json().await.unwrap();
    assert_eq!(video["status"], "queued", "{video}");
    assert_eq!(
        (&video["seconds"], &video["size"]),
        (&json!("6"), &json!("720x1280"))
    );
    assert_eq!(video["model"], GROUP);
    let id = video["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("video_"), "{id}");
    // The sealed id carries nothing of the upstream's.
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1beta/interactions")
        .unwrap();
    assert_eq!(sent.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(
        sent.body_json().unwrap(),
        json!({"model": "gemini-omni-1.1-flash", "input": "a calico cat playing piano",
               "response_format": {"type": "video", "aspect_ratio": "9:16", "resolution": "720p",
                                   "duration": "6s", "delivery": "uri"},
               "generation_config": {"seed": 7, "video_config": {"task": "text_to_video"}},
               "background": true, "store": true})
    );

    // Not ready yet: no content.
    let first = json_of(&env, &key, &format!("/v1/videos/{id}")).await;
    assert_eq!(first["status"], "in_progress", "{first}");
    expect_error(
        env.get(&key, &format!("/v1/videos/{id}/content")).await,
        409,
        "video_not_ready",
    )
    .await;
    let done = finished(&env, &key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    let polled = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v1beta/interactions/"))
        .count();
    assert!(polled >= 2);

    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    let bytes = content.bytes().await.unwrap();
    let file = downloaded_file(&env);
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(&file, MockOptions::default().video_bytes).as_slice()
    );
    expect_error(
        env.get(&key, &format!("/v1/videos/{id}/content?variant=thumbnail"))
            .await,
        400,
        "unsupported_value",
    )
    .await;

    // Metered at the seconds rendered, priced per second.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = usage(&env, &key).await;
    assert_eq!(usage["totals"]["videos"], 1, "{usage}");
    assert_eq!(usage["totals"]["video_seconds"], 6, "{usage}");

    // Delete: a finished interaction is not cancelled, only deleted upstream.
    let resp = env
        .http
        .delete(env.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let deletes: Vec<_> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" || r.path.ends_with("/cancel"))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].method, "DELETE");
    assert!(deletes[0].path.starts_with("/v1beta/interactions/v1_"));
    expect_error(
        env.get(&key, &format!("/v1/videos/{id}")).await,
        404,
        "video_not_found",
    )
    .await;
    env.stop().await;
}

#[tokio::test]
async fn image_to_video_and_explicit_errors() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ";
    let resp = env
        .create_video(
            &key,
            json!({"model": GROUP, "prompt": "the cat starts to dance",
                   "input_reference": {"image_url": format!("data:image/png;base64,{png}")}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = &interaction_creates(&env)[0];
    assert_eq!(
        sent["generation_config"]["video_config"]["task"],
        "image_to_video"
    );
    assert_eq!(
        sent["input"],
        json!([{"type": "user_input", "content": [
            {"type": "text", "text": "the cat starts to dance"},
            {"type": "image", "data": png, "mime_type": "image/png"}]}])
    );
    // Defaults are spelled out: 8 s of 720p landscape.
    assert_eq!(sent["response_format"]["duration"], "8s");
    assert_eq!(sent["response_format"]["resolution"], "720p");

    env.mock.reset();
    for (body, param) in [
        (
            json!({"model": GROUP, "prompt": "x", "size": "1024x1024"}),
            "size",
        ),
        (
            json!({"model": GROUP, "prompt": "x", "size": "1792x1024"}),
            "size",
        ),
        (
            json!({"model": GROUP, "prompt": "x", "seconds": "12"}),
            "seconds",
        ),
        (
            json!({"model": GROUP, "prompt": "x", "seconds": "2"}),
            "seconds",
        ),
        (
            json!({"model": GROUP, "prompt": "x", "negative_prompt": "dogs"}),
            "negative_prompt",
        ),
        (
            json!({"model": GROUP, "prompt": "x", "person_generation": "allow_all"}),
            "person_generation",
        ),
    ] {
        let err = expect_error(env.create_video(&key, body).await, 400, "unsupported_value").await;
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    assert!(
        env.mock.requests().is_empty(),
        "nothing unservable reaches the upstream"
    );
    env.stop().await;
}

#[tokio::test]
async fn safety_blocks_are_failed_jobs_or_refused_creates() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    // Blocked at create: a 400 in the caller's dialect, nothing charged.
    let err = expect_error(
        env.create_video(&key, json!({"model": GROUP, "prompt": "[[blocked]] x"}))
            .await,
        400,
        "content_policy_violation",
    )
    .await;
    assert!(err["error"]["message"].as_str().unwrap().contains("safety"));
    // Failed with a safety error, or completed without a video: failed jobs.
    for prompt in ["[[unsafe]] x", "[[rai]] x"] {
        let video: Value = env
            .create_video(&key, json!({"model": GROUP, "prompt": prompt}))
            .await
            .json()
            .await
            .unwrap();
        let id = video["id"].as_str().unwrap().to_owned();
        let done = finished(&env, &key, &id).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["code"], "content_policy_violation", "{done}");
        expect_error(
            env.get(&key, &format!("/v1/videos/{id}/content")).await,
            409,
            "video_failed",
        )
        .await;
    }
    let video: Value = env
        .create_video(&key, json!({"model": GROUP, "prompt": "[[internal]] x"}))
        .await
        .json()
        .await
        .unwrap();
    let done = finished(&env, &key, video["id"].as_str().unwrap()).await;
    assert_eq!(done["error"]["code"], "upstream_unavailable", "{done}");
    // Failed jobs are refunded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = usage(&env, &key).await;
    assert_eq!(usage["totals"]["videos"], 0, "{usage}");
    env.stop().await;
}

#[tokio::test]
async fn deleting_a_running_job_cancels_it_and_refunds_it() {
    let env = start(5).await;
    let key = env.new_key(json!({})).await;
    let video: Value = env
        .create_video(
            &key,
            json!({"model": GROUP, "prompt": "a long take", "seconds": "10"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(
        json_of(&env, &key, &format!("/v1/videos/{id}")).await["status"],
        "in_progress"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(usage(&env, &key).await["totals"]["video_seconds"], 10);
    let resp = env
        .http
        .delete(env.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": id, "object": "video.deleted", "deleted": true})
    );
    let calls: Vec<(String, String)> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls[1].0 == "POST" && calls[1].1.ends_with("/cancel"),
        "{calls:?}"
    );
    assert_eq!(calls[2].0, "DELETE", "{calls:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = usage(&env, &key).await;
    assert_eq!(
        usage["totals"]["video_seconds"], 0,
        "cancelled is refunded: {usage}"
    );
    assert_eq!(usage["totals"]["videos"], 0, "{usage}");
    env.stop().await;
}

#[tokio::test]
async fn an_inlined_video_is_decoded_and_served() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let video: Value = env
        .create_video(
            &key,
            json!({"model": GROUP, "prompt": "[[inline-on-get]] a fox"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&env, &key, &id).await["status"], "completed");
    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    let bytes = content.bytes().await.unwrap();
    // What the upstream inlined, read back from it directly.
    let poll = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1beta/interactions/"))
        .unwrap();
    let upstream: Value = env
        .http
        .get(format!("{}{}", env.mock.base_url(), poll.path))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = upstream["steps"][2]["content"][0]["data"].as_str().unwrap();
    assert_eq!(
        bytes.as_ref(),
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap()
            .as_slice()
    );
    assert!(
        !env.mock
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/v1beta/files/")),
        "nothing to download"
    );
    env.stop().await;
}

#[tokio::test]
async fn remix_edits_and_extensions() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let source: Value = env
        .create_video(
            &key,
            json!({"model": GROUP, "prompt": "a cat", "seconds": "8"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let source_id = source["id"].as_str().unwrap().to_owned();
    assert_eq!(
        finished(&env, &key, &source_id).await["status"],
        "completed"
    );
    let upstream_id = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1beta/interactions/"))
        .unwrap()
        .path["/v1beta/interactions/".len()..]
        .to_owned();

    let ext: Value = post_json(
        &env,
        &key,
        "/v1/videos/extensions",
        json!({"prompt": "the cat takes a bow", "seconds": "4", "video": {"id": source_id}}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ext["status"], "queued", "{ext}");
    assert_eq!(ext["seconds"], "12", "{ext}");
    let sent = interaction_creates(&env).pop().unwrap();
    assert_eq!(sent["generation_config"]["video_config"]["task"], "extend");
    assert_eq!(sent["response_format"]["duration"], "4s");
    let uri = sent["input"][0]["content"][1]["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("{}/v1beta/files/", env.mock.base_url())),
        "{uri}"
    );
    assert_eq!(
        finished(&env, &key, ext["id"].as_str().unwrap()).await["status"],
        "completed"
    );

    let remix: Value = post_json(
        &env,
        &key,
        &format!("/v1/videos/{source_id}/remix"),
        json!({"prompt": "at night"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        remix["remixed_from_video_id"],
        source_id.as_str(),
        "{remix}"
    );
    let sent = interaction_creates(&env).pop().unwrap();
    assert_eq!(sent["previous_interaction_id"], upstream_id.as_str());
    assert_eq!(sent["input"], "at night");

    let edit: Value = post_json(
        &env,
        &key,
        "/v1/videos/edits",
        json!({"prompt": "give it a red hat", "video": {"id": source_id}}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(edit["seconds"], "8", "{edit}");
    let sent = interaction_creates(&env).pop().unwrap();
    assert_eq!(sent["generation_config"]["video_config"]["task"], "edit");

    // Longer than Omni builds by extension.
    let err = expect_error(
        post_json(
            &env,
            &key,
            "/v1/videos/extensions",
            json!({"prompt": "more", "seconds": "12", "video": {"id": source_id}}),
        )
        .await,
        400,
        "unsupported_value",
    )
    .await;
    assert_eq!(err["error"]["param"], "seconds");
    env.stop().await;
}

#[tokio::test]
async fn creates_whose_outcome_is_unknown_are_not_5xx() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let create = || env.create_video(&key, json!({"model": GROUP, "prompt": "a cat"}));

    // No answer in time: the job may be running upstream. One attempt, and
    // a 424 the SDKs do not resend (they resend 408, 409, 429 and 5xx).
    env.mock.push_fault(Fault::new(
        "/v1beta/interactions",
        1,
        FaultAction::Delay { ms: 3000 },
    ));
    let err = expect_error(create().await, 424, "create_outcome_unknown").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{err}"
    );
    assert_eq!(interaction_creates(&env).len(), 1);

    // Accepted (200) with an answer the gateway cannot read.
    env.mock.push_fault(Fault::new(
        "/v1beta/interactions",
        1,
        FaultAction::Malformed,
    ));
    expect_error(create().await, 424, "create_outcome_unknown").await;

    // An error status proves the upstream took nothing: resent, then a 503.
    env.mock.reset();
    env.mock.push_fault(Fault::new(
        "/v1beta/interactions",
        3,
        FaultAction::ServerError { status: 503 },
    ));
    let resp = create().await;
    assert_eq!(resp.headers()["x-reelay-attempts"], "3");
    expect_error(resp, 503, "upstream_unavailable").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(usage(&env, &key).await["totals"]["videos"], 0);
    env.stop().await;
}

#[tokio::test]
async fn vertex_omni_returns_inline_bytes_without_a_bucket() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let video: Value = env
        .create_video(
            &key,
            json!({"model": "omni-vertex", "prompt": "a glacier", "size": "1920x1080"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    let sent = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/interactions"))
        .unwrap();
    assert_eq!(
        sent.path,
        "/v1beta1/projects/mock-project/locations/global/interactions"
    );
    assert!(sent
        .header("authorization")
        .unwrap()
        .starts_with("Bearer ya29."));
    let body = sent.body_json().unwrap();
    assert_eq!(body["response_format"]["delivery"], "inline");
    assert_eq!(body["model"], "gemini-omni-1.1-flash-preview");
    assert_eq!(finished(&env, &key, &id).await["status"], "completed");
    let content = env.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(content.status(), 200);
    let poll = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.contains("/interactions/"))
        .unwrap();
    let interaction = poll.path.rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        content.bytes().await.unwrap().as_ref(),
        expected_video_bytes(
            &omni_video_key(&interaction, None),
            MockOptions::default().video_bytes
        )
        .as_slice()
    );
    // Unknown to another key.
    let other = env.new_key(json!({})).await;
    expect_error(
        env.http
            .request(Method::GET, env.url(&format!("/v1/videos/{id}")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap(),
        404,
        "video_not_found",
    )
    .await;
    env.stop().await;
}

#[tokio::test]
async fn a_job_already_gone_upstream_deletes_cleanly() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let video: Value = env
        .create_video(&key, json!({"model": GROUP, "prompt": "a heron"}))
        .await
        .json()
        .await
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&env, &key, &id).await["status"], "completed");
    // Deleted upstream behind the gateway's back (or by an earlier delete
    // whose record write failed): the Interactions API answers 400
    // "Invalid interaction name" for it, which is "already gone".
    let poll = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1beta/interactions/"))
        .unwrap();
    let gone = env
        .http
        .delete(format!("{}{}", env.mock.base_url(), poll.path))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);
    let resp = env
        .http
        .delete(env.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_error(
        env.get(&key, &format!("/v1/videos/{id}")).await,
        404,
        "video_not_found",
    )
    .await;
    env.stop().await;
}
