//! Self test of the mock upstream: it must speak the real Gemini Veo wire
//! format (shared/reference/upstream-apis.md §3, §6) and obey its controls.

use std::process::Stdio;
use std::time::Duration;

use reelay_tests::mock::{expected_video_bytes, Fault, FaultAction};
use serde_json::{json, Value};

use super::{assert_google_error, client, spawn_binary, start, status_json};
use crate::harness::GEMINI_KEY;

const MODEL: &str = "veo-3.1-generate-preview";

async fn create(c: &reqwest::Client, base: &str, body: Value) -> reqwest::Response {
    c.post(format!("{base}/v1beta/models/{MODEL}:predictLongRunning"))
        .header("x-goog-api-key", GEMINI_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn create_ok(c: &reqwest::Client, base: &str, prompt: &str) -> String {
    let resp = create(c, base, json!({"instances":[{"prompt": prompt}]})).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["name"].as_str().unwrap().to_owned()
}

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    status_json(
        c.get(url)
            .header("x-goog-api-key", GEMINI_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn create_poll_download() {
    let mock = start(2, 40_000).await;
    let base = mock.base_url();
    let c = client();

    let resp = create(
        &c,
        &base,
        json!({"instances":[{"prompt":"A cat"}],
               "parameters":{"sampleCount":2,"durationSeconds":8,"aspectRatio":"16:9","resolution":"1080p"}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    let name = v["name"].as_str().unwrap();
    let (prefix, op_id) = name.rsplit_once('/').unwrap();
    assert_eq!(prefix, format!("models/{MODEL}/operations"));
    assert_eq!(op_id.len(), 12);
    assert!(op_id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));

    // Poll 1: pending, no `done` at all.
    let (status, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["name"], name);
    assert!(v.get("done").is_none(), "{v}");
    assert_eq!(
        v["metadata"]["@type"],
        "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningMetadata"
    );

    // Poll 2: done, two samples.
    let (status, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["done"], true);
    assert_eq!(
        v["response"]["@type"],
        "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    );
    let samples = v["response"]["generateVideoResponse"]["generatedSamples"]
        .as_array()
        .unwrap();
    assert_eq!(samples.len(), 2);
    let uri = samples[0]["video"]["uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with(&format!("{base}/v1beta/files/")), "{uri}");
    assert!(uri.ends_with(":download?alt=media"), "{uri}");
    let file_id = uri
        .strip_prefix(&format!("{base}/v1beta/files/"))
        .unwrap()
        .strip_suffix(":download?alt=media")
        .unwrap()
        .to_owned();
    assert!(file_id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));

    // Later polls stay done with the same samples.
    let (_, again) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(again, v);

    // Without following redirects: a 302 to the signed blob URL.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .get(&uri)
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{base}/_mock/blob/{file_id}?sig=")));

    // The blob needs no key but does need the signature.
    let bad_sig = c
        .get(format!("{base}/_mock/blob/{file_id}?sig=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sig.status(), 403);

    // Following the redirect (reqwest's default) gives the bytes, in chunks.
    let resp = c
        .get(&uri)
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.headers()["content-length"], "40000");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[4..12], b"ftypisom");
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(&file_id, 40_000).as_slice()
    );

    // Download with a wrong key is Google's 400; unknown file is 404.
    let resp = c
        .get(&uri)
        .header("x-goog-api-key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = c
        .get(format!(
            "{base}/v1beta/files/zzzzzzzzzzzz:download?alt=media"
        ))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Unknown operation.
    let (status, v) = get_json(
        &c,
        &format!("{base}/v1beta/models/{MODEL}/operations/aaaaaaaaaaaa"),
    )
    .await;
    assert_eq!(status, 404);
    assert_google_error(&v, 404, "NOT_FOUND");

    // Everything was recorded, in order, including the blob fetches.
    let reqs = mock.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(
        reqs[0].path,
        format!("/v1beta/models/{MODEL}:predictLongRunning")
    );
    assert_eq!(reqs[0].header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(reqs[0].body_json().unwrap()["parameters"]["sampleCount"], 2);
    assert_eq!(reqs[1].path, format!("/v1beta/{name}"));
    assert!(reqs.iter().any(|r| r.path.starts_with("/_mock/blob/")));
    mock.shutdown().await;
}

#[tokio::test]
async fn auth_errors_are_googles() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1beta/models/{MODEL}:predictLongRunning");
    let body = json!({"instances":[{"prompt":"a"}]});

    let resp = c
        .post(&url)
        .header("x-goog-api-key", "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}})
    );

    let resp = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_google_error(&v, 403, "PERMISSION_DENIED");

    // ?key= works too.
    let resp = c
        .post(format!("{url}?key={GEMINI_KEY}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Unknown model.
    let resp = c
        .post(format!(
            "{base}/v1beta/models/gemini-2.5-pro:predictLongRunning"
        ))
        .header("x-goog-api-key", GEMINI_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_google_error(&v, 404, "NOT_FOUND");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("models/gemini-2.5-pro is not found for API version v1beta, or is not supported for predictLongRunning."));
    mock.shutdown().await;
}

#[tokio::test]
async fn body_validation() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let c = client();

    let resp = create(
        &c,
        &base,
        json!({"instances":[{"prompt":"a"}],"parameters":{"xyz":1}}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_google_error(&v, 400, "INVALID_ARGUMENT");
    assert_eq!(
        v["error"]["message"],
        "Invalid JSON payload received. Unknown name \"xyz\" at 'parameters': Cannot find field."
    );

    for bad in [
        json!({"instances":[]}),
        json!({"instances":[{"prompt":7}]}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"durationSeconds":12}}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"aspectRatio":"1:1"}}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"resolution":"8k"}}),
        json!({"instances":[{"prompt":"a"}],"parameters":{"sampleCount":5}}),
    ] {
        let resp = create(&c, &base, bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_google_error(&v, 400, "INVALID_ARGUMENT");
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn faults() {
    let mock = start(0, 100).await;
    let base = mock.base_url();
    let c = client();

    // Rate limit, twice; then normal.
    mock.push_fault(Fault::new(
        "predictLongRunning",
        2,
        FaultAction::GoogleRateLimit {
            retry_delay_secs: 47,
        },
    ));
    for _ in 0..2 {
        let resp = create(&c, &base, json!({"instances":[{"prompt":"a"}]})).await;
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().get("retry-after").is_none());
        let v: Value = resp.json().await.unwrap();
        assert_google_error(&v, 429, "RESOURCE_EXHAUSTED");
        let details = v["error"]["details"].as_array().unwrap();
        let retry = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
            .unwrap();
        assert_eq!(retry["retryDelay"], "47s");
        let quota = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure")
            .unwrap();
        assert!(quota["violations"][0]["quotaId"]
            .as_str()
            .unwrap()
            .contains("PerMinute"));
    }
    let name = create_ok(&c, &base, "a").await;

    // Daily quota, via the JSON control API.
    let resp = c
        .post(format!("{base}/_mock/faults"))
        .json(
            &json!({"path_contains":"operations","times":1,"action":{"type":"google_daily_quota"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 429);
    assert!(v["error"]["details"][1]["violations"][0]["quotaId"]
        .as_str()
        .unwrap()
        .contains("PerDay"));

    // Status with headers.
    c.post(format!("{base}/_mock/faults"))
        .json(&json!({"path_contains":"operations","action":{"type":"status","status":503,"headers":[["retry-after","3"]],"body":"{\"x\":1}"}}))
        .send()
        .await
        .unwrap();
    let resp = c
        .get(format!("{base}/v1beta/{name}"))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(resp.text().await.unwrap(), "{\"x\":1}");

    // Server error.
    mock.push_fault(Fault::new(
        "operations",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let (status, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 503);
    assert_google_error(&v, 503, "UNAVAILABLE");

    // Malformed.
    mock.push_fault(Fault::new("operations", 1, FaultAction::Malformed));
    let resp = c
        .get(format!("{base}/v1beta/{name}"))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "not json{");

    // Delay, then the normal answer; the client times out first if shorter.
    mock.push_fault(Fault::new("operations", 2, FaultAction::Delay { ms: 300 }));
    let fast = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = fast
        .get(format!("{base}/v1beta/{name}"))
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let (status, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["done"], true);

    // Exhausted: normal again. Control paths are never faulted.
    mock.push_fault(Fault::new("", 1, FaultAction::ServerError { status: 500 }));
    let list: Value = c
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert!(list
        .iter()
        .all(|r| !r["path"].as_str().unwrap().starts_with("/_mock/")));
    assert_eq!(list.len(), mock.requests().len());
    assert_eq!(list[0]["method"], "POST");
    assert_eq!(list[0]["body"], "{\"instances\":[{\"prompt\":\"a\"}]}");
    let (status, _) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 500);
    let (status, _) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 200);

    // Reset forgets operations and requests.
    let resp = c.post(format!("{base}/_mock/reset")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(mock.requests().is_empty());
    let (status, _) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(status, 404);
    mock.shutdown().await;
}

#[tokio::test]
async fn prompt_driven_outcomes() {
    let mock = start(1, 100).await;
    let base = mock.base_url();
    let c = client();

    let name = create_ok(&c, &base, "a cat [[rai]]").await;
    let (_, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(v["done"], true);
    let gvr = &v["response"]["generateVideoResponse"];
    assert!(gvr.get("generatedSamples").is_none());
    assert_eq!(gvr["raiMediaFilteredCount"], 1);
    assert!(gvr["raiMediaFilteredReasons"][0]
        .as_str()
        .unwrap()
        .contains("You have not been charged"));

    let name = create_ok(&c, &base, "[[unsafe]] thing").await;
    let (_, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(v["done"], true);
    assert!(v.get("response").is_none());
    assert_eq!(v["error"]["code"], 3);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Responsible AI practices"));

    let name = create_ok(&c, &base, "[[internal]]").await;
    let (_, v) = get_json(&c, &format!("{base}/v1beta/{name}")).await;
    assert_eq!(v["error"]["code"], 13);
    mock.shutdown().await;
}

#[tokio::test]
async fn binary_prints_ready_and_exits_on_stdin_eof() {
    let super::MockBinary {
        mut child,
        mut lines,
        base,
    } = spawn_binary(&["--api-key", "bin-key", "--polls", "1"], Stdio::piped()).await;

    let c = client();
    let resp = c
        .post(format!(
            "{base}/v1beta/models/{MODEL}:predictLongRunning?key=bin-key"
        ))
        .json(&json!({"instances":[{"prompt":"a"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list: Value = c
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(lines.next_line().await.unwrap().is_none());
}
