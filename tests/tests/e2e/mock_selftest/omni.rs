//! Self test of the mock upstream's Gemini Omni interactions: the wire
//! format of shared/reference/upstream-apis-2026-12.md §1 (create, get,
//! cancel, delete, errors, safety outcomes, uri and inline delivery) on the
//! Gemini API and on Vertex AI.

use reelay_tests::mock::{expected_video_bytes, omni_video_key};
use serde_json::{json, Value};

use super::providers::access_token;
use super::{client, start, status_json};
use crate::harness::GEMINI_KEY;

const MODEL: &str = "gemini-omni-1.1-flash";

fn video_request(prompt: &str) -> Value {
    json!({"model": MODEL, "input": prompt, "background": true, "store": true,
           "response_format": {"type": "video", "aspect_ratio": "16:9", "resolution": "720p",
                               "duration": "8s", "delivery": "uri"}})
}

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, url).header("x-goog-api-key", GEMINI_KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    status_json(req.send().await.unwrap()).await
}

fn assert_ix_error(status: u16, v: &Value, want: u16, code: &str) {
    assert_eq!(status, want, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

/// The last model_output step's video block.
fn video_of(v: &Value) -> Value {
    let steps = v["steps"].as_array().unwrap();
    let output = steps
        .iter()
        .rev()
        .find(|s| s["type"] == "model_output")
        .unwrap();
    output["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "video")
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn create_get_download_cancel_delete() {
    let mock = start(2, 40_000).await;
    let base = mock.base_url();
    let c = client();
    use reqwest::Method;

    // google-genai 3.6.1 sends v1; the docs use v1beta: both are served.
    let (status, created) = call(
        &c,
        Method::POST,
        &format!("{base}/v1/interactions"),
        Some(video_request("a calico cat playing piano")),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["object"], "interaction");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("v1_"), "{id}");

    let url = format!("{base}/v1beta/interactions/{id}");
    let (_, first) = call(&c, Method::GET, &format!("{url}?stream=false"), None).await;
    assert_eq!(first["status"], "in_progress", "{first}");
    assert!(first.get("steps").is_none());
    let (_, done) = call(&c, Method::GET, &url, None).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["steps"][0]["type"], "user_input");
    assert_eq!(
        done["usage"]["output_tokens_by_modality"][0]["modality"],
        "video"
    );
    let video = video_of(&done);
    assert_eq!(video["mime_type"], "video/mp4");
    let uri = video["uri"].as_str().unwrap();
    let file = uri
        .split("/files/")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        uri,
        format!("{base}/v1beta/files/{file}:download?alt=media")
    );
    let bytes = c
        .get(uri)
        .header("x-goog-api-key", GEMINI_KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        bytes.as_ref(),
        expected_video_bytes(&omni_video_key(&id, Some(&file)), 40_000).as_slice()
    );

    // A finished interaction cannot be cancelled; deleting it makes it unknown (a 400, not 404).
    let (status, v) = call(&c, Method::POST, &format!("{url}/cancel"), None).await;
    assert_ix_error(status, &v, 400, "invalid_request");
    let (status, v) = call(&c, Method::DELETE, &url, None).await;
    assert_eq!((status, v), (200, json!({})));
    let (status, v) = call(&c, Method::GET, &url, None).await;
    assert_ix_error(status, &v, 400, "invalid_request");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid interaction name"));

    // A running one is cancelled.
    let (_, created) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(video_request("a dog")),
    )
    .await;
    let url = format!(
        "{base}/v1beta/interactions/{}",
        created["id"].as_str().unwrap()
    );
    let (status, v) = call(&c, Method::POST, &format!("{url}/cancel"), None).await;
    assert_eq!((status, &v["status"]), (200, &json!("cancelled")), "{v}");
    let (_, v) = call(&c, Method::GET, &url, None).await;
    assert_eq!(v["status"], "cancelled");

    // Continuing a stored interaction, and extending its video by URI.
    let (status, v) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(json!({"model": MODEL, "previous_interaction_id": id, "input": "at night"})),
    )
    .await;
    assert_ix_error(status, &v, 400, "invalid_request");
    let (_, created) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(video_request("a fox")),
    )
    .await;
    let fox = created["id"].as_str().unwrap().to_owned();
    let (status, v) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(
            json!({"model": MODEL, "previous_interaction_id": fox, "input": "at night",
                    "background": true, "response_format": {"type": "video", "delivery": "uri"}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let extend = |uri: String| {
        json!({"model": MODEL, "background": true,
               "input": [{"type": "user_input", "content": [
                   {"type": "text", "text": "continue"},
                   {"type": "video", "uri": uri, "mime_type": "video/mp4"}]}],
               "generation_config": {"video_config": {"task": "extend"}},
               "response_format": {"type": "video", "duration": "6s", "delivery": "uri"}})
    };
    let (status, v) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(extend(format!("{base}/v1beta/files/{file}"))),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = call(
        &c,
        Method::POST,
        &format!("{base}/v1beta/interactions"),
        Some(extend(format!("{base}/v1beta/files/nosuchfile"))),
    )
    .await;
    assert_ix_error(status, &v, 400, "invalid_request");
}

#[tokio::test]
async fn validation_follows_the_reference() {
    let mock = start(1, 1000).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1beta/interactions");
    let post = |body: Value| {
        let (c, url) = (c.clone(), url.clone());
        async move { call(&c, reqwest::Method::POST, &url, Some(body)).await }
    };
    let with = |patch: Value| {
        let mut body = video_request("a cat");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let format = |patch: Value| {
        let mut f = video_request("x")["response_format"].clone();
        for (k, v) in patch.as_object().unwrap() {
            f[k] = v.clone();
        }
        with(json!({ "response_format": f }))
    };
    for body in [
        format(json!({"duration": 8})),
        format(json!({"duration": "12s"})),
        format(json!({"duration": "2s"})),
        format(json!({"resolution": "480p"})),
        format(json!({"aspect_ratio": "1:1"})),
        format(json!({"delivery": "email"})),
        format(json!({"gcs_uri": "gs://b/p/"})),
        with(json!({"system_instruction": "be nice"})),
        with(json!({"generation_config": {"temperature": 0.5}})),
        with(json!({"generation_config": {"video_config": {"task": "dance"}}})),
        with(json!({"negativePrompt": "dogs"})),
        with(json!({"input": [{"type": "image", "data": "!!", "mime_type": "image/png"}]})),
        json!({"input": "no model"}),
    ] {
        let (status, v) = post(body.clone()).await;
        assert_ix_error(status, &v, 400, "invalid_request");
    }
    let (status, v) = post(with(json!({"model": "veo-3.1-generate-preview"}))).await;
    assert_ix_error(status, &v, 404, "not_found");
    // The array form of response_format (Cloud docs) and a content-list input with an image.
    let (status, v) = post(with(json!({
        "response_format": [{"type": "video", "duration": "4s", "delivery": "uri"}],
        "input": [{"type": "user_input", "content": [
            {"type": "text", "text": "animate"},
            {"type": "image", "data": "iVBORw0KGgo=", "mime_type": "image/png"}]}],
        "generation_config": {"seed": 7, "video_config": {"task": "image_to_video"}}})))
    .await;
    assert_eq!(status, 200, "{v}");
    // Keys.
    let resp = c
        .get(format!("{url}/v1_x"))
        .header("x-goog-api-key", "wrong")
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(
        (status, &v["error"]["status"]),
        (400, &json!("INVALID_ARGUMENT")),
        "{v}"
    );
}

#[tokio::test]
async fn safety_outcomes_and_inline_answers() {
    let mock = start(1, 1000).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1beta/interactions");
    let run = |prompt: &'static str| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let (status, created) =
                call(&c, reqwest::Method::POST, &url, Some(video_request(prompt))).await;
            assert_eq!(status, 200, "{created}");
            let id = created["id"].as_str().unwrap().to_owned();
            let (_, v) = call(&c, reqwest::Method::GET, &format!("{url}/{id}"), None).await;
            (id, v)
        }
    };
    let (status, v) = call(
        &c,
        reqwest::Method::POST,
        &url,
        Some(video_request("[[blocked]] x")),
    )
    .await;
    assert_ix_error(status, &v, 400, "invalid_request");
    assert!(v["error"]["message"].as_str().unwrap().contains("safety"));

    let (_, v) = run("[[rai]] x").await;
    assert_eq!(v["status"], "completed");
    assert_eq!(video_of(&v), Value::Null, "{v}");
    assert_eq!(v["usage"]["output_tokens_by_modality"], json!([]));

    let (_, v) = run("[[unsafe]] x").await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["steps"][2]["error"]["code"], 3, "{v}");

    let (_, v) = run("[[internal]] x").await;
    assert_eq!(v["steps"][2]["error"]["code"], 13, "{v}");

    // Uri delivery asked, the bytes inline in the status answer anyway.
    let (_, v) = run("[[inline-on-get]] x").await;
    let video = video_of(&v);
    assert!(video.get("uri").is_none(), "{v}");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(video["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data.len(), 1000);
    assert_eq!(&data[4..8], b"ftyp");
}

#[tokio::test]
async fn vertex_interactions_take_bearer_tokens_and_a_bucket() {
    let mock = start(1, 1000).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/v1beta1/projects/p/locations/global/interactions");
    let resp = c.post(&url).json(&video_request("x")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(
        (status, &v["error"]["status"]),
        (401, &json!("UNAUTHENTICATED")),
        "{v}"
    );
    let token = access_token(&c, &mock).await;
    let post = |body: Value| c.post(&url).bearer_auth(&token).json(&body).send();
    // uri delivery needs gcs_uri on Vertex.
    let (status, v) = status_json(post(video_request("x")).await.unwrap()).await;
    assert_ix_error(status, &v, 400, "invalid_request");
    let mut body = video_request("x");
    body["response_format"]["gcs_uri"] = json!("gs://out/omni/");
    let (status, created) = status_json(post(body).await.unwrap()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    let get = |id: String| c.get(format!("{url}/{id}")).bearer_auth(&token).send();
    let (_, v) = status_json(get(id.to_owned()).await.unwrap()).await;
    assert_eq!(
        video_of(&v)["uri"],
        format!("gs://out/omni/{id}/video_0.mp4"),
        "{v}"
    );
    // Inline delivery: the bytes in the answer.
    let mut body = video_request("y");
    body["response_format"]["delivery"] = json!("inline");
    let (_, created) = status_json(post(body).await.unwrap()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, v) = status_json(get(id.clone()).await.unwrap()).await;
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(video_of(&v)["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, expected_video_bytes(&omni_video_key(&id, None), 1000));
    // Another project does not see it.
    let other = format!("{base}/v1beta1/projects/q/locations/global/interactions/{id}");
    let (status, v) = status_json(c.get(other).bearer_auth(&token).send().await.unwrap()).await;
    assert_ix_error(status, &v, 400, "invalid_request");
}
