//! Self test of the mock upstream's OpenAI, Azure OpenAI, OAuth token,
//! Vertex AI and Cloud Storage surfaces (shared/reference/upstream-apis.md
//! §1, §2, §4, §6).

use std::process::Stdio;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reelay_tests::mock::{
    expected_image_bytes, expected_video_bytes, test_service_account_private_key_pem,
    vertex_sample_key, Fault, FaultAction, MockOptions, MockUpstream, CLOUD_PLATFORM_SCOPE,
    TEST_SA_EMAIL, TEST_SA_PRIVATE_KEY_ID,
};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use super::{assert_google_error, client, spawn_binary, start, status_json};
use crate::harness::{unix_now, AZURE_KEY, OPENAI_KEY};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const VEO: &str = "veo-3.1-generate-001";

fn now() -> i64 {
    i64::try_from(unix_now()).unwrap()
}

// ---------------------------------------------------------------- OpenAI

fn openai_error(v: &Value, code: Option<&str>, param: Option<&str>) {
    let e = &v["error"];
    assert!(e["message"].is_string(), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert_eq!(e["code"].as_str(), code, "{v}");
    assert_eq!(e["param"].as_str(), param, "{v}");
    assert!(e.as_object().unwrap().contains_key("param"), "{v}");
}

async fn oa_get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    status_json(c.get(url).bearer_auth(OPENAI_KEY).send().await.unwrap()).await
}

async fn oa_post(c: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    status_json(
        c.post(url)
            .bearer_auth(OPENAI_KEY)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Polls until the video is no longer queued/in progress.
async fn poll_done(c: &reqwest::Client, base: &str, id: &str) -> Value {
    for _ in 0..10 {
        let (status, v) = oa_get(c, &format!("{base}/v1/videos/{id}")).await;
        assert_eq!(status, 200, "{v}");
        if v["status"] == "completed" || v["status"] == "failed" {
            return v;
        }
    }
    panic!("video {id} never finished");
}

fn assert_video_shape(v: &Value) {
    let id = v["id"].as_str().unwrap();
    let hex = id.strip_prefix("video_").unwrap();
    assert_eq!(hex.len(), 48, "{id}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(v["object"], "video");
    for key in [
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "prompt",
        "size",
        "seconds",
        "remixed_from_video_id",
        "error",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!(v["created_at"].is_u64());
    assert!(v["seconds"].is_string());
}

#[tokio::test]
async fn openai_create_poll_content_list_delete() {
    let mock = start(2, 30_000).await;
    let base = mock.base_url();
    let c = client();

    // JSON create: defaults filled in, queued.
    let resp = c
        .post(format!("{base}/v1/videos"))
        .bearer_auth(OPENAI_KEY)
        .json(&json!({"prompt":"A calico cat playing a piano"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_video_shape(&v);
    assert_eq!(v["status"], "queued");
    assert_eq!(v["progress"], 0);
    assert_eq!(v["model"], "sora-2");
    assert_eq!(v["seconds"], "4");
    assert_eq!(v["size"], "720x1280");
    assert_eq!(v["completed_at"], Value::Null);
    assert_eq!(v["error"], Value::Null);
    let first = v["id"].as_str().unwrap().to_owned();

    // Multipart create with an input_reference file, as openai-python 2.30+ sends it.
    let form = reqwest::multipart::Form::new()
        .text("prompt", "A dog surfing")
        .text("model", "sora-2-pro")
        .text("seconds", "8")
        .text("size", "1280x720")
        .part(
            "input_reference",
            reqwest::multipart::Part::bytes(vec![0x89, b'P', b'N', b'G'])
                .file_name("ref.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let resp = c
        .post(format!("{base}/v1/videos"))
        .bearer_auth(OPENAI_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_video_shape(&v);
    assert_eq!(v["model"], "sora-2-pro");
    assert_eq!(v["seconds"], "8");
    assert_eq!(v["size"], "1280x720");
    let second = v["id"].as_str().unwrap().to_owned();

    // Content before completion: 404 video_not_ready.
    let (status, v) = oa_get(&c, &format!("{base}/v1/videos/{second}/content")).await;
    assert_eq!(status, 404);
    openai_error(&v, Some("video_not_ready"), None);

    // Poll 1: in progress; poll 2: completed.
    let (_, v) = oa_get(&c, &format!("{base}/v1/videos/{second}")).await;
    assert_eq!(v["status"], "in_progress");
    assert_eq!(v["progress"], 50);
    let (_, v) = oa_get(&c, &format!("{base}/v1/videos/{second}")).await;
    assert_eq!(v["status"], "completed");
    assert_eq!(v["progress"], 100);
    let completed_at = v["completed_at"].as_u64().unwrap();
    assert!(completed_at >= v["created_at"].as_u64().unwrap());
    assert_eq!(
        v["expires_at"].as_u64().unwrap(),
        v["created_at"].as_u64().unwrap() + 86_400
    );
    // Stays completed with the same completed_at.
    let (_, again) = oa_get(&c, &format!("{base}/v1/videos/{second}")).await;
    assert_eq!(again["completed_at"], completed_at);

    // Content: video (default), thumbnail, spritesheet.
    let resp = c
        .get(format!("{base}/v1/videos/{second}/content"))
        .bearer_auth(OPENAI_KEY)
        .header("accept", "application/binary")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.headers()["content-length"], "30000");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(&second, 30_000).as_slice()
    );
    for (variant, ct) in [("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")] {
        let resp = c
            .get(format!(
                "{base}/v1/videos/{second}/content?variant={variant}"
            ))
            .bearer_auth(OPENAI_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], ct);
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(
            bytes.as_ref(),
            expected_image_bytes(&second, variant).as_slice()
        );
    }
    let (status, v) = oa_get(
        &c,
        &format!("{base}/v1/videos/{second}/content?variant=gif"),
    )
    .await;
    assert_eq!(status, 400);
    openai_error(&v, Some("invalid_value"), Some("variant"));

    // Two more, then page through the list.
    let (_, v) = oa_post(&c, &format!("{base}/v1/videos"), json!({"prompt":"three"})).await;
    let third = v["id"].as_str().unwrap().to_owned();
    let (_, v) = oa_post(&c, &format!("{base}/v1/videos"), json!({"prompt":"four"})).await;
    let fourth = v["id"].as_str().unwrap().to_owned();

    let (status, page) = oa_get(&c, &format!("{base}/v1/videos?limit=3")).await;
    assert_eq!(status, 200);
    assert_eq!(page["object"], "list");
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [fourth.as_str(), third.as_str(), second.as_str()]);
    assert_eq!(page["first_id"], fourth);
    assert_eq!(page["last_id"], second);
    assert_eq!(page["has_more"], true);
    let (_, page) = oa_get(&c, &format!("{base}/v1/videos?limit=3&after={second}")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], first);
    assert_eq!(page["has_more"], false);
    // Listing is not polling: the first video is still queued.
    assert_eq!(page["data"][0]["status"], "queued");

    let (_, page) = oa_get(&c, &format!("{base}/v1/videos?order=asc&limit=2")).await;
    assert_eq!(page["first_id"], first);
    assert_eq!(page["last_id"], second);
    assert_eq!(page["has_more"], true);
    let (_, page) = oa_get(&c, &format!("{base}/v1/videos")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    assert_eq!(page["has_more"], false);

    for (query, code, param) in [
        ("limit=101", "integer_above_max_value", "limit"),
        ("limit=0", "integer_below_min_value", "limit"),
        ("limit=x", "invalid_type", "limit"),
        ("order=up", "invalid_value", "order"),
    ] {
        let (status, v) = oa_get(&c, &format!("{base}/v1/videos?{query}")).await;
        assert_eq!(status, 400, "{query}");
        openai_error(&v, Some(code), Some(param));
    }

    // Delete, then it is gone.
    let resp = c
        .delete(format!("{base}/v1/videos/{first}"))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"id": first, "object": "video.deleted", "deleted": true})
    );
    let (status, v) = oa_get(&c, &format!("{base}/v1/videos/{first}")).await;
    assert_eq!(status, 404);
    openai_error(&v, Some("not_found"), None);
    let resp = c
        .delete(format!("{base}/v1/videos/{first}"))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Recorded like the Gemini requests.
    let reqs = mock.requests();
    assert_eq!(reqs[0].path, "/v1/videos");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(reqs[1]
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    mock.shutdown().await;
}

#[tokio::test]
async fn openai_remix_edit_extend_characters() {
    let mock = start(1, 1000).await;
    let base = mock.base_url();
    let c = client();

    let (_, v) = oa_post(
        &c,
        &format!("{base}/v1/videos"),
        json!({"prompt":"A fox","model":"sora-2-pro","seconds":"12","size":"1792x1024"}),
    )
    .await;
    let src = v["id"].as_str().unwrap().to_owned();
    assert_eq!(poll_done(&c, &base, &src).await["status"], "completed");

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/{src}/remix"),
        json!({"prompt":"A fox at night"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_video_shape(&v);
    assert_eq!(v["remixed_from_video_id"], src);
    assert_eq!(v["status"], "queued");
    assert_eq!(v["model"], "sora-2-pro");
    assert_eq!(v["seconds"], "12");
    assert_eq!(v["size"], "1792x1024");
    assert_eq!(v["prompt"], "A fox at night");
    let remix = v["id"].as_str().unwrap().to_owned();
    assert_ne!(remix, src);
    assert_eq!(poll_done(&c, &base, &remix).await["status"], "completed");

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/video_nope/remix"),
        json!({"prompt":"x"}),
    )
    .await;
    assert_eq!(status, 404);
    openai_error(&v, Some("not_found"), None);

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/edits"),
        json!({"prompt":"Make it blue","video":{"id": src}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_video_shape(&v);
    assert_eq!(v["prompt"], "Make it blue");
    assert_eq!(v["size"], "1792x1024");

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/extensions"),
        json!({"prompt":"Keep going","seconds":"16","video":{"id": src}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_video_shape(&v);
    assert_eq!(v["seconds"], "16");

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/extensions"),
        json!({"prompt":"Keep going","seconds":"5","video":{"id": src}}),
    )
    .await;
    assert_eq!(status, 400);
    openai_error(&v, Some("invalid_value"), Some("seconds"));
    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/edits"),
        json!({"prompt":"x"}),
    )
    .await;
    assert_eq!(status, 400);
    openai_error(&v, Some("missing_required_parameter"), Some("video"));
    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/edits"),
        json!({"prompt":"x","video":{"id":"video_missing"}}),
    )
    .await;
    assert_eq!(status, 404);
    openai_error(&v, Some("not_found"), Some("video"));

    // Characters: multipart only.
    let form = reqwest::multipart::Form::new().text("name", "Mossy").part(
        "video",
        reqwest::multipart::Part::bytes(expected_video_bytes("c", 100))
            .file_name("mossy.mp4")
            .mime_str("video/mp4")
            .unwrap(),
    );
    let resp = c
        .post(format!("{base}/v1/videos/characters"))
        .bearer_auth(OPENAI_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, ch) = status_json(resp).await;
    assert_eq!(status, 200, "{ch}");
    assert!(ch["id"].as_str().unwrap().starts_with("char_"));
    assert_eq!(ch["object"], "character");
    assert_eq!(ch["name"], "Mossy");
    assert!(ch["created_at"].is_u64());
    let (status, got) = oa_get(
        &c,
        &format!("{base}/v1/videos/characters/{}", ch["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, ch);
    let (status, _) = oa_get(&c, &format!("{base}/v1/videos/characters/char_nope")).await;
    assert_eq!(status, 404);

    let (status, v) = oa_post(
        &c,
        &format!("{base}/v1/videos/characters"),
        json!({"name":"Mossy"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("multipart/form-data"));
    let long = "x".repeat(81);
    for (form, param, code) in [
        (
            reqwest::multipart::Form::new().text("name", long),
            "name",
            "string_above_max_length",
        ),
        (
            reqwest::multipart::Form::new().text("name", ""),
            "name",
            "string_below_min_length",
        ),
        (
            reqwest::multipart::Form::new().text("name", "ok"),
            "video",
            "missing_required_parameter",
        ),
    ] {
        let resp = c
            .post(format!("{base}/v1/videos/characters"))
            .bearer_auth(OPENAI_KEY)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let (status, v) = status_json(resp).await;
        assert_eq!(status, 400, "{v}");
        openai_error(&v, Some(code), Some(param));
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn openai_validation_auth_and_moderation() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1/videos");

    for (body, code, param) in [
        (json!({}), "missing_required_parameter", "prompt"),
        (json!({"prompt":""}), "string_below_min_length", "prompt"),
        (
            json!({"prompt":"a","seconds":"5"}),
            "invalid_value",
            "seconds",
        ),
        (json!({"prompt":"a","seconds":8}), "invalid_type", "seconds"),
        (
            json!({"prompt":"a","size":"640x480"}),
            "invalid_value",
            "size",
        ),
        (json!({"prompt":"a","foo":1}), "unknown_parameter", "foo"),
        (
            json!({"prompt":"a","input_reference":{"nope":1}}),
            "invalid_type",
            "input_reference",
        ),
    ] {
        let (status, v) = oa_post(&c, &url, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        openai_error(&v, Some(code), Some(param));
    }
    let (_, v) = oa_post(&c, &url, json!({"prompt":"a","seconds":"5"})).await;
    assert_eq!(
        v["error"]["message"],
        "Invalid value: '5'. Supported values are: '4', '8', and '12'."
    );
    let (status, _) = oa_post(
        &c,
        &url,
        json!({"prompt":"a","input_reference":{"image_url":"https://x/y.png"},"characters":[{"id":"char_1"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let resp = c
        .post(&url)
        .bearer_auth(OPENAI_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 400);
    openai_error(&v, None, None);
    let form = reqwest::multipart::Form::new().text("prompt", "a").part(
        "input_reference",
        reqwest::multipart::Part::bytes(b"hello".to_vec())
            .file_name("a.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let resp = c
        .post(&url)
        .bearer_auth(OPENAI_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 400);
    openai_error(&v, Some("invalid_value"), Some("input_reference"));

    // Auth.
    let (status, v) = status_json(
        c.post(&url)
            .json(&json!({"prompt":"a"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    openai_error(&v, None, None);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You didn't provide an API key."));
    let (status, v) = status_json(
        c.get(&url)
            .bearer_auth("sk-wrong-key-0123456789")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"error":{
            "message":"Incorrect API key provided: sk-****************6789. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type":"invalid_request_error","param":null,"code":"invalid_api_key"}})
    );
    // The Azure key is no OpenAI key.
    let resp = c
        .get(&url)
        .header("api-key", AZURE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Moderation: fails after polling; [[blocked]] is refused at once.
    let (_, v) = oa_post(&c, &url, json!({"prompt":"[[moderation]] a cat"})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let done = poll_done(&c, &base, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "moderation_blocked");
    assert!(done["error"]["message"].is_string());
    assert_eq!(done["completed_at"], Value::Null);
    let (status, _) = oa_get(&c, &format!("{base}/v1/videos/{id}/content")).await;
    assert_eq!(status, 400);
    let (status, v) = oa_post(&c, &url, json!({"prompt":"[[blocked]]"})).await;
    assert_eq!(status, 400);
    openai_error(&v, Some("moderation_blocked"), None);

    // Unknown URL under the OpenAI prefix: OpenAI's JSON 404.
    let (status, v) = oa_get(&c, &format!("{base}/v1/videos/{id}/nothing")).await;
    assert_eq!(status, 404);
    assert_eq!(
        v["error"]["message"],
        format!("Invalid URL (GET /v1/videos/{id}/nothing)")
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn openai_faults_use_openai_shapes() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1/videos");

    mock.push_fault(Fault::new(
        "/v1/videos",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 2,
        },
    ));
    let resp = c
        .post(&url)
        .bearer_auth(OPENAI_KEY)
        .json(&json!({"prompt":"a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(resp.headers()["retry-after-ms"], "2000");
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "requests");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Please try again in 2s."));

    mock.push_fault(Fault::new(
        "/v1/videos",
        1,
        FaultAction::OpenaiInsufficientQuota,
    ));
    let (status, v) = oa_get(&c, &url).await;
    assert_eq!(status, 429);
    openai_error(&v, Some("insufficient_quota"), None);
    assert_eq!(v["error"]["type"], "insufficient_quota");

    mock.push_fault(Fault::new(
        "/v1/videos",
        1,
        FaultAction::ServerError { status: 500 },
    ));
    let (status, v) = oa_get(&c, &url).await;
    assert_eq!(status, 500);
    assert_eq!(v["error"]["type"], "server_error");

    // Azure's rate limit has Azure's shape.
    mock.push_fault(Fault::new(
        "/openai/v1/videos",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 7,
        },
    ));
    let resp = c
        .get(format!("{base}/openai/v1/videos"))
        .header("api-key", AZURE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "429");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Please retry after 7 seconds."));
    mock.shutdown().await;
}

// ---------------------------------------------------------------- Azure

#[tokio::test]
async fn azure_serves_the_same_api_with_its_own_auth() {
    let mock = start(1, 5000).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/openai/v1/videos");

    let resp = c
        .post(&url)
        .header("api-key", AZURE_KEY)
        .json(&json!({"prompt":"A cat","model":"sora-2","seconds":"8"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("apim-request-id"));
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_video_shape(&v);
    let id = v["id"].as_str().unwrap().to_owned();

    let (status, v) = status_json(
        c.get(format!("{url}/{id}"))
            .header("api-key", AZURE_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "completed");
    let resp = c
        .get(format!("{url}/{id}/content"))
        .header("api-key", AZURE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        expected_video_bytes(&id, 5000).as_slice()
    );

    // Azure jobs are not OpenAI's.
    let (status, _) = oa_get(&c, &format!("{base}/v1/videos/{id}")).await;
    assert_eq!(status, 404);

    let azure_401 = json!({"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}});
    for req in [
        c.get(&url),
        c.get(&url).header("api-key", "wrong"),
        c.get(&url).bearer_auth(OPENAI_KEY),
    ] {
        let (status, v) = status_json(req.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(v, azure_401);
    }
    mock.shutdown().await;
}

// ---------------------------------------------------------------- OAuth

/// A JWT signed with the fixture key (RS256).
fn sign_jwt(header: &Value, claims: &Value) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(test_service_account_private_key_pem()).unwrap();
    let signer = SigningKey::<Sha256>::new(key);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn jwt_header() -> Value {
    json!({"alg":"RS256","typ":"JWT","kid":TEST_SA_PRIVATE_KEY_ID})
}

fn claims(aud: &str) -> Value {
    let iat = now();
    json!({"iss":TEST_SA_EMAIL,"scope":CLOUD_PLATFORM_SCOPE,"aud":aud,"iat":iat,"exp":iat + 3600})
}

async fn exchange(c: &reqwest::Client, token_uri: &str, assertion: &str) -> (u16, Value) {
    let resp = c
        .post(token_uri)
        .form(&[("grant_type", JWT_BEARER), ("assertion", assertion)])
        .send()
        .await
        .unwrap();
    status_json(resp).await
}

pub(super) async fn access_token(c: &reqwest::Client, mock: &MockUpstream) -> String {
    let jwt = sign_jwt(&jwt_header(), &claims(&mock.token_uri()));
    let (status, v) = exchange(c, &mock.token_uri(), &jwt).await;
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

fn assert_grant_error(status: u16, v: &Value, error: &str) {
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], error, "{v}");
    assert!(v["error_description"].is_string(), "{v}");
}

#[tokio::test]
async fn token_endpoint_verifies_jwt_bearer_assertions() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let token_uri = mock.token_uri();
    assert_eq!(token_uri, format!("{base}/token"));
    let c = client();

    // The SA JSON over the control API matches the Rust helper.
    let sa: Value = c
        .get(format!("{base}/_mock/service-account"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sa,
        serde_json::from_str::<Value>(&mock.service_account_json()).unwrap()
    );
    assert_eq!(sa["type"], "service_account");
    assert_eq!(sa["project_id"], "mock-project");
    assert_eq!(sa["private_key_id"], TEST_SA_PRIVATE_KEY_ID);
    assert_eq!(sa["client_email"], TEST_SA_EMAIL);
    assert_eq!(sa["token_uri"], token_uri);
    assert!(sa["client_id"].is_string());
    let key_pem = sa["private_key"].as_str().unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(key_pem.trim_end().ends_with("-----END PRIVATE KEY-----"));

    let jwt = sign_jwt(&jwt_header(), &claims(&token_uri));
    let resp = c
        .post(&token_uri)
        .form(&[("grant_type", JWT_BEARER), ("assertion", jwt.as_str())])
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"access_token":"ya29.mock-1","expires_in":3599,"token_type":"Bearer"})
    );
    assert_eq!(mock.tokens_issued(), 1);
    // The same assertion again gets a fresh token.
    let (_, v) = exchange(&c, &token_uri, &jwt).await;
    assert_eq!(v["access_token"], "ya29.mock-2");
    let issued: Value = c
        .get(format!("{base}/_mock/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issued, json!({"issued": 2}));

    // Tampered claims (signature no longer matches).
    let (h, rest) = jwt.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut evil = claims(&token_uri);
    evil["scope"] = json!(format!("{CLOUD_PLATFORM_SCOPE} https://evil"));
    let tampered = format!("{h}.{}.{sig}", URL_SAFE_NO_PAD.encode(evil.to_string()));
    let (status, v) = exchange(&c, &token_uri, &tampered).await;
    assert_eq!(
        v,
        json!({"error":"invalid_grant","error_description":"Invalid JWT Signature."})
    );
    assert_eq!(status, 400);
    // Flipped signature byte.
    let mut sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig_bytes[10] ^= 1;
    let bad_sig = format!(
        "{h}.{}.{}",
        rest.split_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(sig_bytes)
    );
    let (status, v) = exchange(&c, &token_uri, &bad_sig).await;
    assert_grant_error(status, &v, "invalid_grant");
    assert_eq!(v["error_description"], "Invalid JWT Signature.");

    // Wrong audience (Google's real token URL is not this mock's).
    let wrong_aud = sign_jwt(
        &jwt_header(),
        &claims("https://oauth2.googleapis.com/token"),
    );
    let (status, v) = exchange(&c, &token_uri, &wrong_aud).await;
    assert_grant_error(status, &v, "invalid_grant");
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains("audience"));

    // Time window, alg, kid, issuer, scope, grant type.
    let t = now();
    let mut too_long = claims(&token_uri);
    too_long["exp"] = json!(t + 3601);
    let mut expired = claims(&token_uri);
    expired["iat"] = json!(t - 4000);
    expired["exp"] = json!(t - 400);
    let mut future = claims(&token_uri);
    future["iat"] = json!(t + 600);
    future["exp"] = json!(t + 1200);
    for c2 in [too_long, expired, future] {
        let (status, v) = exchange(&c, &token_uri, &sign_jwt(&jwt_header(), &c2)).await;
        assert_grant_error(status, &v, "invalid_grant");
        assert!(v["error_description"]
            .as_str()
            .unwrap()
            .contains("iat and exp"));
    }
    for header in [
        json!({"alg":"HS256","typ":"JWT"}),
        json!({"alg":"RS256","typ":"JWT","kid":"0000"}),
    ] {
        let (status, v) = exchange(&c, &token_uri, &sign_jwt(&header, &claims(&token_uri))).await;
        assert_grant_error(status, &v, "invalid_grant");
    }
    // No kid is fine.
    let (status, _) = exchange(
        &c,
        &token_uri,
        &sign_jwt(&json!({"alg":"RS256","typ":"JWT"}), &claims(&token_uri)),
    )
    .await;
    assert_eq!(status, 200);
    let mut other_iss = claims(&token_uri);
    other_iss["iss"] = json!("someone@else.iam.gserviceaccount.com");
    let (status, v) = exchange(&c, &token_uri, &sign_jwt(&jwt_header(), &other_iss)).await;
    assert_grant_error(status, &v, "invalid_grant");
    let mut no_scope = claims(&token_uri);
    no_scope["scope"] = json!("https://www.googleapis.com/auth/devstorage.read_only");
    let (status, v) = exchange(&c, &token_uri, &sign_jwt(&jwt_header(), &no_scope)).await;
    assert_grant_error(status, &v, "invalid_scope");
    let (status, v) = exchange(&c, &token_uri, "not-a-jwt").await;
    assert_grant_error(status, &v, "invalid_grant");
    let resp = c
        .post(&token_uri)
        .form(&[("grant_type", "client_credentials"), ("assertion", &jwt)])
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_grant_error(status, &v, "unsupported_grant_type");

    assert_eq!(mock.tokens_issued(), 3);
    mock.shutdown().await;
}

// ---------------------------------------------------------------- Vertex

fn vertex_url(base: &str, version: &str, model_action: &str) -> String {
    format!(
        "{base}/{version}/projects/mock-project/locations/us-central1/publishers/google/models/{model_action}"
    )
}

async fn vertex_post(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = c.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    status_json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn vertex_create_fetch_bytes_and_gcs() {
    let mock = start(2, 20_000).await;
    let base = mock.base_url();
    let c = client();
    let token = access_token(&c, &mock).await;

    // Inline bytes (no storageUri), through v1beta1 like the SDK.
    let (status, v) = vertex_post(
        &c,
        &vertex_url(&base, "v1beta1", &format!("{VEO}:predictLongRunning")),
        Some(&token),
        &json!({"instances":[{"prompt":"A cat","image":{"gcsUri":"gs://in/cat.png","mimeType":"image/png"}}],
                "parameters":{"sampleCount":1,"durationSeconds":8,"aspectRatio":"16:9","seed":7,
                              "generateAudio":true,"fps":24,"compressionQuality":"optimized",
                              "resizeMode":"pad","personGeneration":"allow_adult"},
                "labels":{"team":"x"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let name = v["name"].as_str().unwrap().to_owned();
    let prefix = format!(
        "projects/mock-project/locations/us-central1/publishers/google/models/{VEO}/operations/"
    );
    let op_id = name.strip_prefix(&prefix).unwrap();
    assert_eq!(op_id.len(), 36, "{op_id}");
    assert_eq!(op_id.matches('-').count(), 4, "{op_id}");

    let fetch_url = vertex_url(&base, "v1beta1", &format!("{VEO}:fetchPredictOperation"));
    let (status, v) = vertex_post(
        &c,
        &fetch_url,
        Some(&token),
        &json!({"operationName": name}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"name": name}));
    let (_, v) = vertex_post(
        &c,
        &fetch_url,
        Some(&token),
        &json!({"operationName": name}),
    )
    .await;
    assert_eq!(v["done"], true);
    let response = &v["response"];
    assert_eq!(
        response["@type"],
        "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
    );
    assert_eq!(response["raiMediaFilteredCount"], 0);
    let videos = response["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0]["mimeType"], "video/mp4");
    let bytes = STANDARD
        .decode(videos[0]["bytesBase64Encoded"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        bytes,
        expected_video_bytes(&vertex_sample_key(&name, 0), 20_000)
    );

    // storageUri: gcsUri results, downloadable from the JSON API (v1 path).
    let (status, v) = vertex_post(
        &c,
        &vertex_url(&base, "v1", &format!("{VEO}:predictLongRunning")),
        Some(&token),
        &json!({"instances":[{"prompt":"A dog"}],
                "parameters":{"sampleCount":2,"storageUri":"gs://out-bucket/veo/runs/"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let name = v["name"].as_str().unwrap().to_owned();
    let op_id = name.rsplit('/').next().unwrap().to_owned();
    let fetch_v1 = vertex_url(&base, "v1", &format!("{VEO}:fetchPredictOperation"));
    let mut done = Value::Null;
    for _ in 0..2 {
        (_, done) = vertex_post(&c, &fetch_v1, Some(&token), &json!({"operationName": name})).await;
    }
    assert_eq!(done["done"], true, "{done}");
    let videos = done["response"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2);
    for (i, video) in videos.iter().enumerate() {
        let gcs_uri = video["gcsUri"].as_str().unwrap();
        assert_eq!(
            gcs_uri,
            format!("gs://out-bucket/veo/runs/{op_id}/sample_{i}.mp4")
        );
        assert_eq!(video["mimeType"], "video/mp4");
        assert!(video.get("bytesBase64Encoded").is_none());
        let object = gcs_uri.strip_prefix("gs://out-bucket/").unwrap();
        let url = format!(
            "{base}/storage/v1/b/out-bucket/o/{}?alt=media",
            object.replace('/', "%2F")
        );
        let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "video/mp4");
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            expected_video_bytes(&vertex_sample_key(&name, i as u32), 20_000).as_slice()
        );
        // No token / bad token: GCS's 401.
        let (status, v) = status_json(c.get(&url).send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(v["error"]["code"], 401);
        assert_eq!(v["error"]["errors"][0]["reason"], "required");
        let (status, v) =
            status_json(c.get(&url).bearer_auth("ya29.forged").send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(v["error"]["message"], "Invalid Credentials");
    }
    // Metadata without alt=media.
    let object = format!("veo/runs/{op_id}/sample_0.mp4");
    let (status, meta) = status_json(
        c.get(format!(
            "{base}/storage/v1/b/out-bucket/o/{}",
            object.replace('/', "%2F")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(meta["kind"], "storage#object");
    assert_eq!(meta["name"], object);
    assert_eq!(meta["bucket"], "out-bucket");
    assert_eq!(meta["size"], "20000");
    assert_eq!(meta["contentType"], "video/mp4");
    let media = meta["mediaLink"].as_str().unwrap();
    let resp = c.get(media).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 20_000);
    // Unknown object: GCS's 404.
    let (status, v) = status_json(
        c.get(format!(
            "{base}/storage/v1/b/out-bucket/o/nope.mp4?alt=media"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["errors"][0]["reason"], "notFound");
    assert_eq!(v["error"]["message"], "No such object: out-bucket/nope.mp4");

    // Recorded with the bearer token.
    let reqs = mock.requests();
    let create = reqs
        .iter()
        .find(|r| r.path.ends_with(":predictLongRunning"))
        .unwrap();
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(reqs.iter().any(|r| r.path == "/token"));
    mock.shutdown().await;
}

#[tokio::test]
async fn vertex_auth_outcomes_and_faults() {
    let mock = MockUpstream::start(MockOptions {
        polls_until_done: 0,
        video_bytes: 100,
        token_lifetime_secs: 120,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let c = client();
    let create_url = vertex_url(&base, "v1", &format!("{VEO}:predictLongRunning"));
    let fetch_url = vertex_url(&base, "v1", &format!("{VEO}:fetchPredictOperation"));
    let body = json!({"instances":[{"prompt":"a"}]});

    let (status, v) = vertex_post(&c, &create_url, None, &body).await;
    assert_eq!(status, 401);
    assert_google_error(&v, 401, "UNAUTHENTICATED");
    assert_eq!(v["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
    let (status, v) = vertex_post(&c, &create_url, Some("ya29.not-issued"), &body).await;
    assert_eq!(status, 401);
    assert!(v["error"]["message"].as_str().unwrap().starts_with(
        "Request had invalid authentication credentials. Expected OAuth 2 access token"
    ));
    // The Gemini API key is no Vertex credential.
    let resp = c
        .post(&create_url)
        .header("x-goog-api-key", "mock-gemini-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Token lifetime is configurable.
    let jwt = sign_jwt(&jwt_header(), &claims(&mock.token_uri()));
    let (_, v) = exchange(&c, &mock.token_uri(), &jwt).await;
    assert_eq!(v["expires_in"], 120);
    let token = v["access_token"].as_str().unwrap().to_owned();
    let (status, _) = vertex_post(&c, &create_url, Some(&token), &body).await;
    assert_eq!(status, 200);

    // Unknown model.
    let (status, v) = vertex_post(
        &c,
        &vertex_url(&base, "v1", "gemini-2.5-pro:predictLongRunning"),
        Some(&token),
        &body,
    )
    .await;
    assert_eq!(status, 404);
    assert_google_error(&v, 404, "NOT_FOUND");
    assert!(v["error"]["message"].as_str().unwrap().starts_with(
        "Publisher Model `projects/mock-project/locations/us-central1/publishers/google/models/gemini-2.5-pro` was not found or your project does not have access to it."
    ));

    // Validation as Gemini, with Vertex-only fields.
    for bad in [
        json!({"instances":[]}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"durationSeconds":30}}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"storageUri":"s3://x"}}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"bogus":1}}),
    ] {
        let (status, v) = vertex_post(&c, &create_url, Some(&token), &bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_google_error(&v, 400, "INVALID_ARGUMENT");
    }

    // Prompt-driven outcomes, Vertex shapes.
    let (_, v) = vertex_post(
        &c,
        &create_url,
        Some(&token),
        &json!({"instances":[{"prompt":"x [[rai]]"}]}),
    )
    .await;
    let name = v["name"].as_str().unwrap().to_owned();
    let (_, v) = vertex_post(
        &c,
        &fetch_url,
        Some(&token),
        &json!({"operationName": name}),
    )
    .await;
    assert_eq!(v["done"], true);
    assert_eq!(v["response"]["raiMediaFilteredCount"], 1);
    assert!(v["response"]["raiMediaFilteredReasons"][0].is_string());
    assert!(v["response"].get("videos").is_none());
    let (_, v) = vertex_post(
        &c,
        &create_url,
        Some(&token),
        &json!({"instances":[{"prompt":"[[unsafe]]"}]}),
    )
    .await;
    let name = v["name"].as_str().unwrap().to_owned();
    let (_, v) = vertex_post(
        &c,
        &fetch_url,
        Some(&token),
        &json!({"operationName": name}),
    )
    .await;
    assert_eq!(v["error"]["code"], 3);
    assert!(v.get("response").is_none());

    // Unknown operation; operation of another model.
    let (status, _) = vertex_post(
        &c,
        &fetch_url,
        Some(&token),
        &json!({"operationName": format!("projects/mock-project/locations/us-central1/publishers/google/models/{VEO}/operations/00000000-0000-4000-a000-000000000000")}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = vertex_post(
        &c,
        &vertex_url(&base, "v1", "veo-3.0-generate-001:fetchPredictOperation"),
        Some(&token),
        &json!({"operationName": name}),
    )
    .await;
    assert_eq!(status, 400);

    // Vertex 429 fault.
    mock.push_fault(Fault::new(
        ":predictLongRunning",
        1,
        FaultAction::VertexRateLimit,
    ));
    let (status, v) = vertex_post(&c, &create_url, Some(&token), &body).await;
    assert_eq!(status, 429);
    assert_google_error(&v, 429, "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("base model: veo-3.1-generate"));

    // Revoked tokens are expired tokens; a new one works. Reset keeps tokens.
    mock.revoke_tokens();
    let (status, v) = vertex_post(&c, &create_url, Some(&token), &body).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["details"][0]["reason"], "ACCESS_TOKEN_EXPIRED");
    let token = access_token(&c, &mock).await;
    mock.reset();
    let (status, _) = vertex_post(&c, &create_url, Some(&token), &body).await;
    assert_eq!(status, 200);
    assert_eq!(mock.tokens_issued(), 2);
    mock.shutdown().await;
}

#[tokio::test]
async fn binary_takes_provider_keys() {
    let super::MockBinary {
        mut child,
        mut lines,
        base,
    } = spawn_binary(
        &[
            "--openai-key",
            "oa-bin",
            "--azure-key",
            "az-bin",
            "--polls",
            "1",
            "--ignore-stdin",
        ],
        Stdio::null(),
    )
    .await;
    let c = client();
    let resp = c
        .post(format!("{base}/v1/videos"))
        .bearer_auth("oa-bin")
        .json(&json!({"prompt":"a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = c
        .get(format!("{base}/openai/v1/videos"))
        .header("api-key", "az-bin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sa: Value = c
        .get(format!("{base}/_mock/service-account"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sa["token_uri"], format!("{base}/token"));
    child.start_kill().unwrap();
    let _ = child.wait().await;
    // Nothing beyond the READY line was printed.
    assert!(lines.next_line().await.unwrap().is_none());
}
