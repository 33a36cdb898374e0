//! Self test of the mock upstream's OpenAI Responses API surface with
//! organizations bound to keys (shared/reference/upstream-apis.md §6, §7;
//! the encrypted-content affinity incident).

use std::time::Duration;

use futures_util::StreamExt;
use reelay_tests::mock::{
    decode_encrypted_content, encode_encrypted_content, expected_responses_text, Fault,
    FaultAction, MockOptions, MockUpstream,
};
use serde_json::{json, Value};

use super::{client, start_with, status_json};
use crate::harness::{AZURE_KEY, OPENAI_KEY, OPENAI_KEY_BETA};

const MODEL: &str = "o4-mini";

async fn post(c: &reqwest::Client, base: &str, key: &str, body: Value) -> (u16, Value) {
    status_json(
        c.post(format!("{base}/v1/responses"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(c: &reqwest::Client, url: &str, key: &str) -> (u16, Value) {
    status_json(c.get(url).bearer_auth(key).send().await.unwrap()).await
}

fn output_text(v: &Value) -> &str {
    v["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "message")
        .unwrap()["content"][0]["text"]
        .as_str()
        .unwrap()
}

fn reasoning(v: &Value) -> &Value {
    v["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "reasoning")
        .unwrap()
}

/// A stateless follow-up: the previous output replayed, then a new question.
fn follow_up(first: &Value, question: &str) -> Value {
    let mut input = first["output"].as_array().unwrap().clone();
    input.push(json!({"role": "user", "content": question}));
    json!({
        "model": MODEL,
        "input": input,
        "store": false,
        "include": ["reasoning.encrypted_content"],
    })
}

fn first_request(text: &str) -> Value {
    json!({
        "model": MODEL,
        "input": text,
        "store": false,
        "include": ["reasoning.encrypted_content"],
    })
}

#[tokio::test]
async fn create_and_follow_up_with_encrypted_content_in_the_same_org() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();

    let resp = c
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .json(&first_request("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["openai-organization"], "org-alpha");
    assert_eq!(resp.headers()["x-mock-org"], "org-alpha");
    assert!(resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let (status, first) = status_json(resp).await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id.len() == 5 + 48, "{id}");
    assert_eq!(first["object"], "response");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["model"], MODEL);
    assert_eq!(first["store"], false);
    assert_eq!(first["previous_response_id"], Value::Null);
    assert!(first["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(first["usage"]["output_tokens_details"]["reasoning_tokens"].is_u64());
    assert_eq!(output_text(&first), "echo: hi (café 🎬)");
    assert_eq!(output_text(&first), expected_responses_text("hi"));

    let rs = reasoning(&first);
    let rs_id = rs["id"].as_str().unwrap();
    assert!(rs_id.starts_with("rs_") && rs_id.len() == 3 + 48);
    assert_eq!(rs["summary"][0]["type"], "summary_text");
    assert!(rs["summary"][0]["text"]
        .as_str()
        .unwrap()
        .contains("\"hi\""));
    let enc = rs["encrypted_content"].as_str().unwrap();
    assert!(enc.starts_with("gAAAAA"), "{enc}");
    let sealed = decode_encrypted_content(enc).unwrap();
    assert_eq!(sealed.org, "org-alpha");
    assert_eq!(sealed.item_id, rs_id);
    let msg = &first["output"][1];
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["status"], "completed");
    assert!(msg["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(msg["content"][0]["annotations"], json!([]));

    // No include → no encrypted_content.
    let (status, plain) = post(&c, &base, OPENAI_KEY, json!({"model": MODEL, "input": "x"})).await;
    assert_eq!(status, 200);
    assert!(
        reasoning(&plain).get("encrypted_content").is_none(),
        "{plain}"
    );

    // Same key (same org): the follow-up is accepted.
    let (status, second) = post(&c, &base, OPENAI_KEY, follow_up(&first, "and now?")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(output_text(&second), expected_responses_text("and now?"));
    let enc2 = reasoning(&second)["encrypted_content"].as_str().unwrap();
    assert_eq!(decode_encrypted_content(enc2).unwrap().org, "org-alpha");

    // A forged token for the right org is accepted too.
    let mut forged = follow_up(&first, "forged");
    forged["input"][0]["encrypted_content"] =
        json!(encode_encrypted_content("org-alpha", rs_id, 1));
    assert_eq!(post(&c, &base, OPENAI_KEY, forged).await.0, 200);
    mock.shutdown().await;
}

#[tokio::test]
async fn encrypted_content_of_another_org_is_rejected_exactly() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let (_, first) = post(&c, &base, OPENAI_KEY, first_request("hi")).await;
    let rs_id = reasoning(&first)["id"].as_str().unwrap().to_owned();

    for key in [OPENAI_KEY_BETA] {
        let (status, v) = post(&c, &base, key, follow_up(&first, "again")).await;
        assert_eq!(status, 400);
        assert_eq!(
            v,
            json!({"error": {
                "message": format!("The encrypted content for item {rs_id} could not be verified. Reason: Encrypted content organization_id did not match the target organization."),
                "type": "invalid_request_error",
                "param": null,
                "code": "invalid_encrypted_content",
            }})
        );
    }
    // Azure's org is another org as well.
    let resp = c
        .post(format!("{base}/openai/v1/responses"))
        .header("api-key", AZURE_KEY)
        .json(&follow_up(&first, "again"))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "invalid_encrypted_content");

    // Garbage (or a gateway's marker leaking upstream) does not decrypt.
    let mut garbage = follow_up(&first, "again");
    garbage["input"][0]["encrypted_content"] = json!("gAAAAAB/x+y==");
    let (status, v) = post(&c, &base, OPENAI_KEY, garbage).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "invalid_encrypted_content");
    assert_eq!(
        v["error"]["message"],
        format!(
            "The encrypted content for item {rs_id} could not be verified. Reason: Encrypted \
             content could not be decrypted."
        )
    );

    // A reasoning id that is not an rs_ id.
    let mut bad_id = follow_up(&first, "again");
    bad_id["input"][0]["id"] = json!("rlm_wrapped");
    let (status, v) = post(&c, &base, OPENAI_KEY, bad_id).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "input[0].id");
    assert_eq!(v["error"]["code"], "invalid_value");
    mock.shutdown().await;
}

#[tokio::test]
async fn previous_response_id_is_per_org() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let (status, first) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": "one"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(first["store"], true);
    let id = first["id"].as_str().unwrap();

    let (status, second) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": "two", "previous_response_id": id}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_response_id"], id);
    assert_eq!(output_text(&second), expected_responses_text("two"));
    // one input + two output items of the first, plus this input.
    let summary = reasoning(&second)["summary"][0]["text"].as_str().unwrap();
    assert!(summary.contains("4 items are in context"), "{summary}");

    let (status, v) = post(
        &c,
        &base,
        OPENAI_KEY_BETA,
        json!({"model": MODEL, "input": "two", "previous_response_id": id}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"error": {
            "message": format!("Previous response with id '{id}' not found."),
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }})
    );
    // store:false responses cannot be continued.
    let (_, unstored) = post(&c, &base, OPENAI_KEY, first_request("x")).await;
    let (status, v) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": "y", "previous_response_id": unstored["id"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "previous_response_not_found");
    mock.shutdown().await;
}

#[tokio::test]
async fn items_by_id_and_item_references_are_per_org() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();

    // store:false, replayed without encrypted_content → not found (404).
    let (_, first) = post(&c, &base, OPENAI_KEY, first_request("hi")).await;
    let rs_id = reasoning(&first)["id"].as_str().unwrap().to_owned();
    let mut by_id = follow_up(&first, "again");
    by_id["input"][0]
        .as_object_mut()
        .unwrap()
        .remove("encrypted_content");
    let (status, v) = post(&c, &base, OPENAI_KEY, by_id).await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"error": {
            "message": format!("Item with id '{rs_id}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."),
            "type": "invalid_request_error",
            "param": "input",
            "code": null,
        }})
    );

    // store:true: the same replay by id works in the org, not in another.
    let (_, stored) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": "hi"}),
    )
    .await;
    let rs = reasoning(&stored).clone();
    assert!(rs.get("encrypted_content").is_none());
    let body = json!({
        "model": MODEL,
        "input": [rs, {"role": "user", "content": "more"}],
    });
    assert_eq!(post(&c, &base, OPENAI_KEY, body.clone()).await.0, 200);
    let (status, v) = post(&c, &base, OPENAI_KEY_BETA, body).await;
    assert_eq!(status, 404);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!(
            "Item with id '{}' not found.",
            rs["id"].as_str().unwrap()
        )));

    // item_reference.
    let msg_id = stored["output"][1]["id"].as_str().unwrap();
    let body = json!({
        "model": MODEL,
        "input": [{"type": "item_reference", "id": msg_id}, {"role": "user", "content": "ref"}],
    });
    let (status, v) = post(&c, &base, OPENAI_KEY, body.clone()).await;
    assert_eq!(status, 200, "{v}");
    let (status, items) = get(
        &c,
        &format!(
            "{base}/v1/responses/{}/input_items?order=asc",
            v["id"].as_str().unwrap()
        ),
        OPENAI_KEY,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(items["data"][0]["id"], msg_id);
    assert_eq!(items["data"][0]["role"], "assistant");
    let (status, v) = post(&c, &base, OPENAI_KEY_BETA, body).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["param"], "input");
    mock.shutdown().await;
}

/// Parses SSE text into `(event, data)` pairs.
fn parse_sse(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"));
    text.trim_end_matches('\n')
        .split("\n\n")
        .map(|block| {
            let mut lines = block.lines();
            let event = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert!(lines.next().is_none(), "{block}");
            (event.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

async fn stream_chunks(c: &reqwest::Client, base: &str, body: Value) -> Vec<Vec<u8>> {
    let resp = c
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let mut chunks = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap().to_vec());
    }
    chunks
}

#[tokio::test]
async fn streaming_sends_real_events_in_arbitrary_chunks() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let mut body = first_request("stream me");
    body["stream"] = json!(true);
    body["store"] = json!(true);
    let chunks = stream_chunks(&c, &base, body).await;
    assert!(chunks.len() > 20, "{} chunks", chunks.len());
    assert!(
        chunks.iter().any(|ch| !ch.ends_with(b"\n")),
        "no chunk ended mid-line"
    );
    let all = chunks.concat();
    let text = String::from_utf8(all).unwrap();
    let events = parse_sse(&text);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
    ];
    let n_summary = kinds
        .iter()
        .filter(|k| **k == "response.reasoning_summary_text.delta")
        .count();
    assert!(n_summary > 1);
    expected.extend(std::iter::repeat_n(
        "response.reasoning_summary_text.delta",
        n_summary,
    ));
    expected.extend([
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ]);
    let n_text = kinds
        .iter()
        .filter(|k| **k == "response.output_text.delta")
        .count();
    assert!(n_text > 2);
    expected.extend(std::iter::repeat_n("response.output_text.delta", n_text));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(kinds, expected);
    for (i, (kind, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], kind.as_str());
        assert_eq!(data["sequence_number"], i as u64);
    }
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    let text_out = expected_responses_text("stream me");
    assert_eq!(output_text(done), text_out);
    let deltas: String = events
        .iter()
        .filter(|(k, _)| k == "response.output_text.delta")
        .map(|(_, d)| {
            assert_eq!(d["output_index"], 1);
            assert_eq!(d["content_index"], 0);
            assert_eq!(d["item_id"], done["output"][1]["id"]);
            d["delta"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(deltas, text_out);
    // The reasoning item's encrypted content arrives with output_item.done.
    let rs_done = &events
        .iter()
        .find(|(k, d)| k == "response.output_item.done" && d["output_index"] == 0)
        .unwrap()
        .1["item"];
    let enc = rs_done["encrypted_content"].as_str().unwrap();
    assert_eq!(decode_encrypted_content(enc).unwrap().org, "org-alpha");
    assert!(events[2].1["item"].get("encrypted_content").is_none());

    // Stored like a JSON answer.
    let id = done["id"].as_str().unwrap();
    let (status, got) = get(&c, &format!("{base}/v1/responses/{id}"), OPENAI_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(output_text(&got), text_out);
    mock.shutdown().await;

    // Fixed chunk sizes cut inside UTF-8 sequences.
    let mock = MockUpstream::start(MockOptions {
        sse_chunk_sizes: vec![5, 3],
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let mut body = first_request("ü");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_obfuscation": false});
    let chunks = stream_chunks(&c, &base, body).await;
    assert!(chunks.iter().all(|ch| ch.len() <= 5));
    assert!(chunks.iter().any(|ch| std::str::from_utf8(ch).is_err()));
    let events = parse_sse(&String::from_utf8(chunks.concat()).unwrap());
    let delta = events
        .iter()
        .find(|(k, _)| k == "response.output_text.delta")
        .unwrap();
    assert!(delta.1.get("obfuscation").is_none());
    assert_eq!(
        output_text(&events.last().unwrap().1["response"]),
        "echo: ü (café 🎬)"
    );
    mock.shutdown().await;

    // A delay between chunks stretches the stream out.
    let mock = MockUpstream::start(MockOptions {
        sse_chunk_delay_ms: 2,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let mut body = first_request("slow");
    body["stream"] = json!(true);
    let started = tokio::time::Instant::now();
    let chunks = stream_chunks(&c, &mock.base_url(), body).await;
    assert!(started.elapsed() >= Duration::from_millis(2 * (chunks.len() as u64 - 1)));
    mock.shutdown().await;
}

#[tokio::test]
async fn get_delete_input_items_and_cancel() {
    let mock = MockUpstream::start(MockOptions {
        polls_until_done: 2,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let c = client();
    let input = json!([
        {"role": "developer", "content": "be brief"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q1"}]},
        {"role": "user", "content": "q2"},
    ]);
    let (status, created) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": input}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(output_text(&created), expected_responses_text("q2"));
    let id = created["id"].as_str().unwrap().to_owned();
    let url = format!("{base}/v1/responses/{id}");

    let (status, got) = get(&c, &url, OPENAI_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["output"], created["output"]);
    let (status, v) = get(&c, &url, OPENAI_KEY_BETA).await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"error": {
            "message": format!("Response with id '{id}' not found."),
            "type": "invalid_request_error",
            "param": null,
            "code": null,
        }})
    );

    let (status, items) = get(&c, &format!("{url}/input_items"), OPENAI_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(items["object"], "list");
    assert_eq!(items["has_more"], false);
    let data = items["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    // Newest first by default; messages normalized with ids.
    assert_eq!(
        data[0]["content"],
        json!([{"type": "input_text", "text": "q2"}])
    );
    assert_eq!(data[2]["role"], "developer");
    for item in data {
        assert!(item["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(item["type"], "message");
        assert_eq!(item["status"], "completed");
    }
    assert_eq!(items["first_id"], data[0]["id"]);
    assert_eq!(items["last_id"], data[2]["id"]);
    let (_, asc) = get(
        &c,
        &format!("{url}/input_items?order=asc&limit=2"),
        OPENAI_KEY,
    )
    .await;
    assert_eq!(asc["data"].as_array().unwrap().len(), 2);
    assert_eq!(asc["data"][0]["role"], "developer");
    assert_eq!(asc["has_more"], true);
    let (_, rest) = get(
        &c,
        &format!(
            "{url}/input_items?order=asc&after={}",
            asc["last_id"].as_str().unwrap()
        ),
        OPENAI_KEY,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["id"], data[0]["id"]);

    // A synchronous response cannot be cancelled.
    let resp = c
        .post(format!("{url}/cancel"))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "Cannot cancel a synchronous response."
    );

    let resp = c.delete(&url).bearer_auth(OPENAI_KEY).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"id": id, "object": "response", "deleted": true}));
    assert_eq!(get(&c, &url, OPENAI_KEY).await.0, 404);
    let resp = c.delete(&url).bearer_auth(OPENAI_KEY).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // Its items are gone too.
    let body = json!({
        "model": MODEL,
        "input": [{"type": "item_reference", "id": created["output"][1]["id"]}],
    });
    assert_eq!(post(&c, &base, OPENAI_KEY, body).await.0, 404);

    // Background: queued → in_progress → completed over polls.
    let bg = json!({"model": MODEL, "input": "later", "background": true});
    let (status, queued) = post(&c, &base, OPENAI_KEY, bg.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["background"], true);
    assert_eq!(queued["output"], json!([]));
    assert_eq!(queued["usage"], Value::Null);
    let bg_url = format!("{base}/v1/responses/{}", queued["id"].as_str().unwrap());
    assert_eq!(
        get(&c, &bg_url, OPENAI_KEY).await.1["status"],
        "in_progress"
    );
    let (_, done) = get(&c, &bg_url, OPENAI_KEY).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(output_text(&done), expected_responses_text("later"));
    // Cancelling a finished background response changes nothing.
    let resp = c
        .post(format!("{bg_url}/cancel"))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(resp).await.1["status"], "completed");

    // Cancelling a queued one.
    let (_, queued) = post(&c, &base, OPENAI_KEY, bg).await;
    let bg_url = format!("{base}/v1/responses/{}", queued["id"].as_str().unwrap());
    let resp = c
        .post(format!("{bg_url}/cancel"))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "cancelled");
    assert_eq!(get(&c, &bg_url, OPENAI_KEY).await.1["status"], "cancelled");

    // background needs store.
    let (status, v) = post(
        &c,
        &base,
        OPENAI_KEY,
        json!({"model": MODEL, "input": "x", "background": true, "store": false}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "background");
    mock.shutdown().await;
}

#[tokio::test]
async fn azure_path_auth_and_validation() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let url = format!("{base}/openai/v1/responses");

    let resp = c
        .post(&url)
        .header("api-key", AZURE_KEY)
        .json(
            &json!({"model": MODEL, "input": "azure", "include": ["reasoning.encrypted_content"]}),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("apim-request-id"));
    assert_eq!(resp.headers()["x-mock-org"], "org-azure");
    assert!(!resp.headers().contains_key("openai-organization"));
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200);
    let enc = reasoning(&v)["encrypted_content"].as_str().unwrap();
    assert_eq!(decode_encrypted_content(enc).unwrap().org, "org-azure");
    let resp = c
        .get(format!("{url}/{}", v["id"].as_str().unwrap()))
        .header("api-key", AZURE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Stored under org-azure only.
    let (status, _) = get(
        &c,
        &format!("{base}/v1/responses/{}", v["id"].as_str().unwrap()),
        OPENAI_KEY,
    )
    .await;
    assert_eq!(status, 404);

    let resp = c
        .post(&url)
        .header("api-key", "nope")
        .json(&first_request("azure"))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], "401");

    // OpenAI: unknown key → invalid_api_key; no key → its own message.
    let (status, v) = post(&c, &base, "sk-unknown-key-123456", first_request("x")).await;
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"error": {
            "message": "Incorrect API key provided: sk-**************3456. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": null,
            "code": "invalid_api_key",
        }})
    );
    let resp = c
        .post(format!("{base}/v1/responses"))
        .json(&first_request("x"))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 401);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You didn't provide an API key."));

    // Validation.
    for (body, param, code) in [
        (json!({"input": "x"}), "model", "missing_required_parameter"),
        (json!({"model": 1, "input": "x"}), "model", "invalid_type"),
        (
            json!({"model": MODEL}),
            "input",
            "missing_required_parameter",
        ),
        (json!({"model": MODEL, "input": 3}), "input", "invalid_type"),
        (
            json!({"model": MODEL, "input": ["x"]}),
            "input[0]",
            "invalid_type",
        ),
        (
            json!({"model": MODEL, "input": "x", "bogus": 1}),
            "bogus",
            "unknown_parameter",
        ),
        (
            json!({"model": MODEL, "input": "x", "store": "no"}),
            "store",
            "invalid_type",
        ),
        (
            json!({"model": MODEL, "input": "x", "include": ["nope"]}),
            "include[0]",
            "invalid_value",
        ),
        (
            json!({"model": MODEL, "input": [{"role": "robot", "content": "x"}]}),
            "input[0].role",
            "invalid_value",
        ),
    ] {
        let (status, v) = post(&c, &base, OPENAI_KEY, body.clone()).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["param"], param, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }
    let resp = c
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Unknown sub-routes answer OpenAI's invalid URL.
    let (status, v) = get(&c, &format!("{base}/v1/responses/x/y/z"), OPENAI_KEY).await;
    assert_eq!(status, 404);
    assert_eq!(
        v["error"]["message"],
        "Invalid URL (GET /v1/responses/x/y/z)"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn scripted_fault_sequences() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let body = json!({"model": MODEL, "input": "hi"});

    // 429 then success.
    mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 2,
        },
    ));
    let resp = c
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .json(&body)
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
    assert_eq!(post(&c, &base, OPENAI_KEY, body.clone()).await.0, 200);

    // 503 twice then success.
    mock.push_fault(Fault::new(
        "/v1/responses",
        2,
        FaultAction::ServerError { status: 503 },
    ));
    for _ in 0..2 {
        let (status, v) = post(&c, &base, OPENAI_KEY, body.clone()).await;
        assert_eq!(status, 503);
        assert_eq!(v["error"]["type"], "server_error");
    }
    assert_eq!(post(&c, &base, OPENAI_KEY, body.clone()).await.0, 200);

    // A plain Status fault, twice.
    mock.push_fault(Fault::new(
        "/v1/responses",
        2,
        FaultAction::Status {
            status: 503,
            headers: vec![],
            body: String::new(),
        },
    ));
    for _ in 0..2 {
        let resp = c
            .post(format!("{base}/v1/responses"))
            .bearer_auth(OPENAI_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
    }
    assert_eq!(post(&c, &base, OPENAI_KEY, body.clone()).await.0, 200);

    // Timeout: the delay outlasts the client's deadline; then all is well.
    mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::Delay { ms: 1500 },
    ));
    let err = c
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .timeout(Duration::from_millis(300))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(post(&c, &base, OPENAI_KEY, body.clone()).await.0, 200);

    // Faults on a by-id route; the Azure path has Azure's shape.
    mock.push_fault(Fault::new(
        "/openai/v1/responses",
        1,
        FaultAction::OpenaiRateLimit {
            retry_after_secs: 7,
        },
    ));
    let resp = c
        .post(format!("{base}/openai/v1/responses"))
        .header("api-key", AZURE_KEY)
        .json(&body)
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

    // Over the control API, too.
    let resp = c
        .post(format!("{base}/_mock/faults"))
        .json(&json!({"path_contains": "/v1/responses", "times": 1,
                      "action": {"type": "openai_insufficient_quota"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, v) = post(&c, &base, OPENAI_KEY, body).await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["code"], "insufficient_quota");
    mock.shutdown().await;
}

#[tokio::test]
async fn request_log_tells_which_key_and_org_served() {
    let mock = start_with(MockOptions::default()).await;
    let base = mock.base_url();
    let c = client();
    let (_, a) = post(&c, &base, OPENAI_KEY, json!({"model": MODEL, "input": "a"})).await;
    let (_, b) = post(
        &c,
        &base,
        OPENAI_KEY_BETA,
        json!({"model": MODEL, "input": "b"}),
    )
    .await;
    mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::ServerError { status: 500 },
    ));
    assert_eq!(
        post(
            &c,
            &base,
            OPENAI_KEY_BETA,
            json!({"model": MODEL, "input": "c"})
        )
        .await
        .0,
        500
    );

    let opts = MockOptions::default();
    let log = mock.requests();
    assert_eq!(log.len(), 3);
    let orgs: Vec<&str> = log
        .iter()
        .map(|r| opts.responses_org(r.api_key().unwrap()).unwrap())
        .collect();
    assert_eq!(orgs, ["org-alpha", "org-beta", "org-beta"]);
    assert_eq!(log[1].path, "/v1/responses");
    assert_eq!(log[1].body_json().unwrap()["input"], "b");

    // Calls that reached the handlers, with org and response id.
    let calls = mock.responses_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].org.as_deref(), Some("org-alpha"));
    assert_eq!(calls[0].key.as_deref(), Some(OPENAI_KEY));
    assert_eq!(calls[0].response_id.as_deref(), a["id"].as_str());
    assert_eq!(calls[1].org.as_deref(), Some("org-beta"));
    assert_eq!(calls[1].response_id.as_deref(), b["id"].as_str());
    assert_eq!(calls[1].status, 200);

    let (status, v) = status_json(
        c.get(format!("{base}/_mock/responses/calls"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v[1]["org"], "org-beta");
    assert_eq!(v[1]["path"], "/v1/responses");
    let (_, reqs) = status_json(
        c.get(format!("{base}/_mock/requests"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reqs.as_array().unwrap().len(), 3);
    assert!(reqs[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "authorization" && h[1] == format!("Bearer {OPENAI_KEY}")));

    mock.reset();
    assert!(mock.responses_calls().is_empty());
    assert_eq!(
        get(
            &c,
            &format!("{base}/v1/responses/{}", a["id"].as_str().unwrap()),
            OPENAI_KEY
        )
        .await
        .0,
        404
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn options_configure_keys_and_orgs() {
    let mock = MockUpstream::start(MockOptions {
        responses_keys: vec![
            ("k-east".to_owned(), "org-east".to_owned()),
            ("k-west".to_owned(), "org-west".to_owned()),
        ],
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let c = client();
    let (status, first) = post(&c, &base, "k-east", first_request("hi")).await;
    assert_eq!(status, 200);
    let enc = reasoning(&first)["encrypted_content"].as_str().unwrap();
    assert_eq!(decode_encrypted_content(enc).unwrap().org, "org-east");
    assert_eq!(
        post(&c, &base, "k-west", follow_up(&first, "x")).await.0,
        400
    );
    assert_eq!(
        post(&c, &base, "k-east", follow_up(&first, "x")).await.0,
        200
    );
    // The videos key still works here (org-alpha); the second default key does not.
    assert_eq!(post(&c, &base, OPENAI_KEY, first_request("x")).await.0, 200);
    assert_eq!(
        post(&c, &base, OPENAI_KEY_BETA, first_request("x")).await.0,
        401
    );
    mock.shutdown().await;
}
