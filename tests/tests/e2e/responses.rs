//! The Responses API through the built Worker (workerd via Miniflare)
//! against the mock with two OpenAI "orgs" and an Azure one: the seed
//! incident (encrypted reasoning load-balanced to another org) reproduced
//! against the mock directly and fixed through reelay; tampered markers;
//! the pinned deployment down under both policies; retries, fallbacks and
//! cooldowns with the attempts header.

use std::collections::BTreeSet;

use reelay_core::retry::deployment_tag;
use reelay_tests::gateway::{Gateway, GatewayOptions};
use reelay_tests::mock::{decode_encrypted_content, Fault, FaultAction, MockOptions, MockUpstream};
use reqwest::Response;
use serde_json::{json, Value};

use crate::harness::{client, Env, AZURE_KEY, MASTER_KEY, OPENAI_KEY, OPENAI_KEY_BETA};

fn deployment(id: &str, provider: &str, credential: &str, base: &str) -> Value {
    json!({"id": id, "provider": provider, "model": "gpt-5-2025-08-07", "credential": credential,
           "api_base": base, "timeout_ms": 2000})
}

fn config(base: &str, router: Value) -> Value {
    json!({
        "model_groups": [
            {"name": "gpt-5", "deployments": [
                deployment("oa-alpha", "openai", "OPENAI_KEY_ALPHA", base),
                deployment("oa-beta", "openai", "OPENAI_KEY_BETA", base),
                deployment("az-east", "azure", "AZURE_KEY", base)]},
            {"name": "solo", "deployments": [deployment("solo-1", "openai", "OPENAI_KEY_ALPHA", base)]},
            {"name": "primary", "fallbacks": ["backup"], "deployments": [
                deployment("primary-1", "openai", "OPENAI_KEY_ALPHA", base)]},
            {"name": "backup", "deployments": [deployment("backup-1", "openai", "OPENAI_KEY_BETA", base)]}
        ],
        "router": router
    })
}

const SECRETS: [(&str, &str); 3] = [
    ("OPENAI_KEY_ALPHA", OPENAI_KEY),
    ("OPENAI_KEY_BETA", OPENAI_KEY_BETA),
    ("AZURE_KEY", AZURE_KEY),
];

async fn start_with(router: Value) -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(config(&mock.base_url(), router), &SECRETS)
    })
    .await
}

impl Env {
    /// `POST /v1/responses` with `body` and `key` as Bearer.
    async fn create_response(&self, key: &str, body: &Value) -> Response {
        self.http
            .post(self.url("/v1/responses"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// The `response.completed` response of an SSE body, checking every event parses.
fn completed_from_sse(text: &str) -> Value {
    let mut completed = None;
    for event in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let data: String = event
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect::<Vec<_>>()
            .join("\n");
        let value: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {event}"));
        assert_ne!(value["type"], "error", "{value}");
        if value["type"] == "response.completed" {
            completed = Some(value["response"].clone());
        }
    }
    completed.expect("a response.completed event")
}

async fn answer(resp: Response, stream: bool) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    if stream {
        completed_from_sse(&text)
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

fn reasoning_items(response: &Value) -> Vec<Value> {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_encrypted_reasoning_incident_is_reproduced_directly_and_fixed_through_reelay() {
    let env = start_with(json!({})).await;
    let http = &env.http;
    let base = env.mock.base_url();

    // Without affinity: a follow-up load-balanced to the other key fails.
    let first: Value = http
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY)
        .json(&json!({"model": "gpt-5", "input": "hi", "store": false,
                      "include": ["reasoning.encrypted_content"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut input = vec![json!({"role": "user", "content": "hi"})];
    input.extend(first["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"role": "user", "content": "and then?"}));
    let crossed = http
        .post(format!("{base}/v1/responses"))
        .bearer_auth(OPENAI_KEY_BETA)
        .json(&json!({"model": "gpt-5", "input": input, "store": false,
                      "include": ["reasoning.encrypted_content"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(crossed.status(), 400);
    let err: Value = crossed.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_encrypted_content");

    // Through reelay: 200 follow-ups over a 3-org group, half streamed, half
    // stateless with replayed encrypted reasoning, half stateful with
    // previous_response_id: never a cross-org error.
    let mut orgs_used = BTreeSet::new();
    for conversation in 0..20 {
        let stateless = conversation % 2 == 0;
        let mut history: Vec<Value> = Vec::new();
        let mut previous: Option<String> = None;
        let mut pinned_org: Option<String> = None;
        for turn in 0..11 {
            let stream = (conversation + turn) % 2 == 1;
            let user = json!({"role": "user", "content": format!("turn {turn} of {conversation}")});
            let mut body = json!({"model": "gpt-5", "stream": stream,
                                  "include": ["reasoning.encrypted_content"]});
            if stateless {
                history.push(user);
                body["input"] = Value::Array(history.clone());
                body["store"] = json!(false);
            } else {
                body["input"] = json!([user]);
                if let Some(prev) = &previous {
                    body["previous_response_id"] = json!(prev);
                }
            }
            let response = answer(env.create_response(MASTER_KEY, &body).await, stream).await;
            let id = response["id"].as_str().unwrap();
            assert!(id.starts_with("resp_") && id.len() > 60, "sealed id: {id}");
            let items = reasoning_items(&response);
            assert!(!items.is_empty());
            for item in &items {
                let content = item["encrypted_content"].as_str().unwrap();
                assert!(content.starts_with("enc_"), "wrapped: {}", &content[..20]);
                let (_, original) = content.split_once('.').unwrap();
                let org = decode_encrypted_content(original).unwrap().org;
                match &pinned_org {
                    None => pinned_org = Some(org),
                    Some(o) => assert_eq!(o, &org, "one conversation, one org"),
                }
            }
            if stateless {
                history.extend(response["output"].as_array().unwrap().iter().cloned());
            }
            previous = Some(id.to_owned());
        }
        orgs_used.insert(pinned_org.unwrap());
    }
    // 20 conversations × 10 follow-ups = 200 follow-ups, all served in place.
    // The first two calls were the direct reproduction (one 400).
    let calls = env.mock.responses_calls();
    let through_reelay = &calls[2..];
    assert_eq!(through_reelay.len(), 220);
    let failed: Vec<_> = through_reelay.iter().filter(|c| c.status != 200).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        orgs_used.len() >= 2,
        "new conversations are still spread: {orgs_used:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn markers_are_authenticated_and_bound_to_the_key() {
    let env = start_with(json!({})).await;
    let other_key = env.new_key(json!({})).await;
    let first = answer(
        env.create_response(
            MASTER_KEY,
            &json!({"model": "gpt-5", "input": "hi", "include": ["reasoning.encrypted_content"]}),
        )
        .await,
        false,
    )
    .await;
    let id = first["id"].as_str().unwrap();

    // A flipped character in the response id.
    let mut tampered = id.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let resp = env
        .create_response(
            MASTER_KEY,
            &json!({"model": "gpt-5", "input": "x", "previous_response_id": tampered}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "previous_response_not_found");

    // Another key cannot continue (or read) this key's conversation.
    let resp = env
        .create_response(
            &other_key,
            &json!({"model": "gpt-5", "input": "x", "previous_response_id": id}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = env
        .http
        .get(format!("{}/v1/responses/{id}", env.gateway.url()))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // A reasoning item whose encrypted content was altered.
    let mut item = reasoning_items(&first)[0].clone();
    let content = item["encrypted_content"].as_str().unwrap().to_owned();
    let (marker, original) = content.split_once('.').unwrap();
    item["encrypted_content"] = json!(format!("{marker}.{}x", original));
    let resp = env
        .create_response(
            MASTER_KEY,
            &json!({"model": "gpt-5", "input": [item, {"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_encrypted_content");
    // Nothing tampered ever reached an upstream.
    assert_eq!(env.mock.responses_calls().len(), 1);

    // Stored response: retrieve, input items, delete — by the sealed id.
    let got: Value = env
        .http
        .get(format!("{}/v1/responses/{id}", env.gateway.url()))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id);
    let items: Value = env
        .http
        .get(format!(
            "{}/v1/responses/{id}/input_items",
            env.gateway.url()
        ))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["object"], "list", "{items}");
    let deleted = env
        .http
        .delete(format!("{}/v1/responses/{id}", env.gateway.url()))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let body: Value = deleted.json().await.unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["deleted"], true);
    env.stop().await;
}

/// A gateway where `gpt-5` is only `oa-alpha` (to create a conversation
/// there), then one where `oa-alpha` is unreachable next to `oa-beta`.
async fn pinned_deployment_down(policy: &str) -> (u16, Value, MockUpstream) {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let only_alpha = json!({"model_groups": [{"name": "gpt-5", "deployments": [
        deployment("oa-alpha", "openai", "OPENAI_KEY_ALPHA", &base)]}]});
    let gateway = Gateway::start(GatewayOptions::new(only_alpha, &SECRETS))
        .await
        .unwrap();
    let http = client();
    let first: Value = http
        .post(format!("{}/v1/responses", gateway.url()))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"model": "gpt-5", "input": "hi", "store": false,
                      "include": ["reasoning.encrypted_content"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    gateway.stop().await;

    let alpha_down = json!({
        "model_groups": [{"name": "gpt-5", "deployments": [
            deployment("oa-alpha", "openai", "OPENAI_KEY_ALPHA", "http://127.0.0.1:9"),
            deployment("oa-beta", "openai", "OPENAI_KEY_BETA", &base)]}],
        "router": {"affinity_unavailable": policy, "max_attempts": 2, "backoff_base_ms": 10}
    });
    let gateway = Gateway::start(GatewayOptions::new(alpha_down, &SECRETS))
        .await
        .unwrap();
    let mut input = vec![json!({"role": "user", "content": "hi"})];
    input.extend(first["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"role": "user", "content": "more"}));
    let resp = http
        .post(format!("{}/v1/responses", gateway.url()))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"model": "gpt-5", "input": input, "store": false}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    gateway.stop().await;
    (status, body, mock)
}

#[tokio::test]
async fn pinned_deployment_down_fails_clearly_by_default() {
    let (status, body, mock) = pinned_deployment_down("fail").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "pinned_deployment_unavailable");
    assert_eq!(mock.responses_calls().len(), 1, "never sent to another org");
    mock.shutdown().await;
}

#[tokio::test]
async fn pinned_deployment_down_can_strip_reasoning_and_reroute() {
    let (status, body, mock) = pinned_deployment_down("strip").await;
    assert_eq!(status, 200, "{body}");
    let calls = mock.responses_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].org.as_deref(), Some("org-beta"));
    let sent = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v1/responses")
        .unwrap();
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(
        sent["input"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] != "reasoning"),
        "the undecryptable reasoning was dropped: {sent}"
    );
    mock.shutdown().await;
}

fn attempts(resp: &Response) -> String {
    resp.headers()["x-reelay-attempts"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn served_by(resp: &Response) -> String {
    resp.headers()["x-reelay-deployment"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn retries_fallbacks_and_cooldowns_follow_the_classification() {
    let env = start_with(json!({"backoff_base_ms": 50})).await;
    let body = |model: &str| json!({"model": model, "input": "hi"});

    // 429 with a short retry-after, one deployment: waited out in place.
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::Status {
            status: 429,
            headers: vec![("retry-after-ms".into(), "300".into())],
            body: r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#.into(),
        },
    ));
    let resp = env.create_response(MASTER_KEY, &body("solo")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(attempts(&resp), "2");
    assert_eq!(served_by(&resp), deployment_tag("solo-1"));

    // 503 twice, then success: backoff in place.
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        2,
        FaultAction::ServerError { status: 503 },
    ));
    let resp = env.create_response(MASTER_KEY, &body("solo")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(attempts(&resp), "3");

    // A timeout after sending: a create is never resent.
    let before = env.mock.requests().len();
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::Delay { ms: 3000 },
    ));
    let resp = env.create_response(MASTER_KEY, &body("solo")).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(attempts(&resp), "1");
    assert_eq!(env.mock.requests().len(), before + 1);

    // Bad requests are never retried.
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::Status {
            status: 400,
            headers: vec![],
            body: r#"{"error":{"message":"bad input","type":"invalid_request_error","param":"input","code":null}}"#.into(),
        },
    ));
    let resp = env.create_response(MASTER_KEY, &body("solo")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(attempts(&resp), "1");

    // The group's only deployment fails: the fallback group serves, at once.
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::ServerError { status: 503 },
    ));
    let resp = env.create_response(MASTER_KEY, &body("primary")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(attempts(&resp), "2");
    assert_eq!(served_by(&resp), deployment_tag("backup-1"));
    // …and while primary-1 cools down, new requests go straight to backup.
    let resp = env.create_response(MASTER_KEY, &body("primary")).await;
    assert_eq!(attempts(&resp), "1");
    assert_eq!(served_by(&resp), deployment_tag("backup-1"));

    // In a group, a failed deployment is left for another without waiting,
    // and skipped by the following requests.
    env.mock.push_fault(Fault::new(
        "/v1/responses",
        1,
        FaultAction::ServerError { status: 500 },
    ));
    let resp = env.create_response(MASTER_KEY, &body("gpt-5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(attempts(&resp), "2");
    let failed_first = env
        .mock
        .requests()
        .into_iter()
        .rev()
        .nth(1)
        .and_then(|r| r.api_key().map(str::to_owned))
        .unwrap();
    let healthy = served_by(&resp);
    for _ in 0..6 {
        let resp = env.create_response(MASTER_KEY, &body("gpt-5")).await;
        assert_eq!(attempts(&resp), "1");
        let key = env
            .mock
            .requests()
            .last()
            .and_then(|r| r.api_key().map(str::to_owned))
            .unwrap();
        assert_ne!(key, failed_first, "the cooling deployment is skipped");
    }
    assert_eq!(healthy.len(), 12);
    env.stop().await;
}
