//! The Interactions API door for Gemini Omni (`/gemini/{v}/interactions…`,
//! what google-genai 3.x's `client.interactions` calls) meets the gateway's
//! rules: the model is checked, what is asked is metered, the body that goes
//! upstream is the typed one, client storage is refused, `int_` ids are the
//! owner's only (another key's or visitor's answer `404
//! interaction_not_found`), follow-ups stay on the deployment that holds the
//! interaction, a create whose outcome is unknown is a `424`, and upstream
//! text is redacted — the built Worker in workerd against the mock's Omni
//! interactions (and a second mock, for a second deployment).

use std::time::Duration;

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{
    expected_video_bytes, omni_video_key, Fault, FaultAction, MockOptions, MockUpstream,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Answer, Env, GEMINI_KEY};

const GROUP: &str = "gemini-omni-1.1-flash";

fn config(mock: &MockUpstream, second: Option<&MockUpstream>) -> Value {
    let mut omni = vec![json!({"id": "omni-a", "provider": "gemini",
        "model": "gemini-omni-1.1-flash", "credential": "GEMINI_API_KEY",
        "api_base": mock.base_url(), "timeout_ms": 1500,
        "prices": {"video_per_second": 0.1}})];
    if let Some(second) = second {
        omni.push(json!({"id": "omni-b", "provider": "gemini",
            "model": "gemini-omni-1.1-flash", "credential": "GEMINI_API_KEY",
            "api_base": second.base_url(), "timeout_ms": 1500}));
    }
    json!({
        "model_groups": [
            {"name": GROUP, "deployments": omni},
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": mock.base_url()}]},
            {"name": "omni-vertex", "deployments": [
                {"id": "vertex-omni", "provider": "vertex_ai", "model": "gemini-omni-1.1-flash-preview",
                 "credential": "VERTEX_SA", "project": "mock-project", "location": "global",
                 "api_base": mock.base_url(), "storage_api_base": mock.base_url(),
                 "storage_uri": "gs://reelay-out/omni/"}]}
        ]
    })
}

fn options(polls: u32) -> MockOptions {
    MockOptions {
        polls_until_done: polls,
        ..MockOptions::default()
    }
}

async fn start(polls: u32) -> Env {
    Env::start(options(polls), |mock| {
        let sa = mock.service_account_json();
        GatewayOptions::new(
            config(mock, None),
            &[("GEMINI_API_KEY", GEMINI_KEY), ("VERTEX_SA", sa.as_str())],
        )
    })
    .await
}

fn video_request(seconds: u32) -> Value {
    json!({"model": GROUP, "input": "a calico cat playing piano", "background": true,
           "store": true,
           "response_format": {"type": "video", "delivery": "uri", "duration": format!("{seconds}s"),
                               "resolution": "1080p", "aspect_ratio": "16:9"}})
}

impl Env {
    async fn ix_create(&self, key: &str, version: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.url(&format!("/gemini/{version}/interactions")))
                .header("x-goog-api-key", key)
                .json(body),
        )
        .await
    }

    async fn ix(&self, key: &str, method: Method, path: &str) -> Answer {
        self.send(
            self.req(method, &format!("/gemini/v1/interactions/{path}"))
                .header("x-goog-api-key", key),
        )
        .await
    }

    /// Gets interaction `id` until it is no longer running.
    async fn ix_done(&self, key: &str, id: &str) -> Value {
        for _ in 0..10 {
            let ix = self
                .ix(key, Method::GET, &format!("{id}?stream=false"))
                .await
                .ok();
            if ix["status"] != "in_progress" {
                return ix;
            }
        }
        panic!("interaction {id} never finished");
    }

    /// The bodies of the interaction creates the mock received.
    fn ix_creates(&self) -> Vec<Value> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/interactions"))
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    async fn usage_totals(&self, key: &str) -> Value {
        let info: Value = self.get(key, "/key/info").await.json().await.unwrap();
        info["info"]["usage"]["totals"].clone()
    }
}

/// Asserts a Google-shaped error with `status` whose reason is `code`.
fn expect_google(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["code"], status, "{body}");
    assert_eq!(
        body["error"]["details"][0]["reason"],
        code.to_ascii_uppercase(),
        "{body}"
    );
    body
}

/// The upstream id behind the gateway's interaction ids, from the polls
/// the mock received.
fn upstream_ids(env: &Env) -> Vec<String> {
    let mut ids: Vec<String> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/interactions/"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn create_get_download_cancel_and_delete_over_every_version() {
    let env = start(2).await;
    let key = env.new_key(json!({"models": ["gemini-omni-*"]})).await;
    let created = env.ix_create(&key, "v1", &video_request(6)).await.ok();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("int_"), "{created}");
    assert_eq!(created["status"], "in_progress");
    // What went upstream is the typed body, with the deployment's model
    // and key, every value spelled out.
    let [sent] = env.ix_creates().try_into().unwrap();
    assert_eq!(
        sent,
        json!({"model": "gemini-omni-1.1-flash", "input": "a calico cat playing piano",
               "response_format": {"type": "video", "aspect_ratio": "16:9", "resolution": "1080p",
                                   "duration": "6s", "delivery": "uri"},
               "background": true, "store": true})
    );
    let create_call = env.upstream("/v1beta/interactions").remove(0);
    assert_eq!(create_call.header("x-goog-api-key"), Some(GEMINI_KEY));

    // Get on another version; done on the second poll.
    let first = env
        .send(
            env.req(Method::GET, &format!("/gemini/v1beta/interactions/{id}"))
                .header("x-goog-api-key", &key),
        )
        .await
        .ok();
    assert_eq!(
        (first["id"].as_str(), &first["status"]),
        (Some(id.as_str()), &json!("in_progress"))
    );
    let done = env.ix_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["model"], GROUP);
    let [upstream_id] = upstream_ids(&env).try_into().unwrap();
    let text = done.to_string();
    assert!(
        !text.contains(&upstream_id),
        "the upstream id is sealed: {text}"
    );
    assert!(
        !text.contains(&env.mock.base_url()),
        "no upstream URI: {text}"
    );
    let uri = done["steps"][2]["content"][0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.starts_with(&env.url("/gemini/v1/files/")) && uri.ends_with(":download?alt=media"),
        "{uri}"
    );

    // The link serves the bytes to the owner only.
    let link = uri.trim_start_matches(env.gateway.url()).to_owned();
    let other = env.new_key(json!({})).await;
    let foreign = env
        .send(env.req(Method::GET, &link).header("x-goog-api-key", &other))
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    let resp = env
        .http
        .get(env.url(&link))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let file = env
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1beta/files/"))
        .unwrap()
        .path;
    let file = file["/v1beta/files/".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        bytes.to_vec(),
        expected_video_bytes(
            &omni_video_key(&upstream_id, Some(&file)),
            MockOptions::default().video_bytes
        )
    );

    // A finished interaction cannot be cancelled (the upstream's 400, passed
    // on without the upstream id); then delete, after which it is gone.
    let refused = env.ix(&key, Method::POST, &format!("{id}/cancel")).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(!refused.text.contains(&upstream_id), "{}", refused.text);
    env.ix(&key, Method::DELETE, &id).await.ok();
    assert_eq!(
        env.upstream(&format!("/interactions/{upstream_id}"))
            .iter()
            .filter(|r| r.method == "DELETE")
            .count(),
        1
    );
    for (method, path) in [
        (Method::GET, id.clone()),
        (Method::DELETE, id.clone()),
        (Method::POST, format!("{id}/cancel")),
    ] {
        expect_google(
            &env.ix(&key, method, &path).await,
            404,
            "interaction_not_found",
        );
    }
    let gone = env
        .send(env.req(Method::GET, &link).header("x-goog-api-key", &key))
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);

    // A running one is cancelled upstream; its hold is refunded.
    let running = env.ix_create(&key, "v1alpha", &video_request(4)).await.ok();
    let running_id = running["id"].as_str().unwrap();
    let cancelled = env
        .ix(&key, Method::POST, &format!("{running_id}/cancel"))
        .await
        .ok();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["id"], running_id);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let totals = env.usage_totals(&key).await;
    assert_eq!(
        (totals["videos"].as_u64(), totals["video_seconds"].as_u64()),
        (Some(1), Some(6)),
        "{totals}"
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn the_model_is_checked_and_what_is_asked_is_metered() {
    let env = start(2).await;
    // A key that may not use Omni, and a model the door does not serve.
    let veo_only = env.new_key(json!({"models": ["veo-*"]})).await;
    let denied = env.ix_create(&veo_only, "v1", &video_request(6)).await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    let all = env.new_key(json!({"video_seconds_per_day": 18})).await;
    let veo = env
        .ix_create(
            &all,
            "v1",
            &json!({"model": "veo-3.1", "input": "x", "background": true}),
        )
        .await;
    expect_google(&veo, 400, "unsupported_value");
    assert_eq!(
        veo.json()["error"]["details"][0]["metadata"]["param"],
        "model"
    );
    let unknown = env
        .ix_create(
            &all,
            "v1",
            &json!({"model": "nope", "input": "x", "background": true}),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    // Unservable values are refused before anything goes upstream.
    for (body, code, param) in [
        (
            json!({"model": GROUP, "input": "x", "background": true,
                   "response_format": {"type": "video", "duration": "12s"}}),
            "unsupported_value",
            "response_format.duration",
        ),
        (
            json!({"model": GROUP, "input": "x", "response_format": {"type": "video", "duration": 8}}),
            "invalid_request",
            "response_format.duration",
        ),
        (
            json!({"model": GROUP, "input": "x"}),
            "unsupported_value",
            "background",
        ),
        (
            json!({"model": GROUP, "input": "x", "stream": true}),
            "unsupported_value",
            "stream",
        ),
        (
            json!({"model": GROUP, "input": "x", "store": false}),
            "unsupported_value",
            "store",
        ),
        (
            json!({"model": GROUP, "input": "x", "system_instruction": "be nice"}),
            "unsupported_value",
            "system_instruction",
        ),
        (
            json!({"model": GROUP, "input": "x", "generation_config": {"temperature": 1}}),
            "invalid_request",
            "temperature",
        ),
    ] {
        let answer = env.ix_create(&all, "v1", &body).await;
        let err = expect_google(&answer, 400, code);
        assert_eq!(
            err["error"]["details"][0]["metadata"]["param"], param,
            "{err}"
        );
    }
    assert!(env.ix_creates().is_empty());

    // Seconds asked are metered (a default is 8 seconds, spelled out
    // upstream); the next create past the day's limit is refused.
    env.ix_create(&all, "v1", &video_request(10)).await.ok();
    env.ix_create(
        &all,
        "v1",
        &json!({"model": GROUP, "input": "x", "background": true}),
    )
    .await
    .ok();
    assert_eq!(env.ix_creates()[1]["response_format"]["duration"], "8s");
    let over = env.ix_create(&all, "v1", &video_request(4)).await;
    expect_google(&over, 429, "video_seconds_quota_exceeded");
    let totals = env.usage_totals(&all).await;
    assert_eq!(totals["video_seconds"], 18, "{totals}");
    assert_eq!(env.ix_creates().len(), 2);
    env.stop().await;
}

#[tokio::test]
async fn client_storage_is_refused_and_gateway_files_are_resolved() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let other = env.new_key(json!({})).await;
    let made = env.ix_create(&key, "v1", &video_request(4)).await.ok();
    let done = env.ix_done(&key, made["id"].as_str().unwrap()).await;
    let link = done["steps"][2]["content"][0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let extend = |uri: &str| {
        json!({"model": GROUP, "background": true,
               "input": [{"type": "user_input", "content": [
                   {"type": "text", "text": "continue"},
                   {"type": "video", "uri": uri, "mime_type": "video/mp4"}]}],
               "generation_config": {"video_config": {"task": "extend"}},
               "response_format": {"type": "video", "duration": "4s"}})
    };
    let before = env.ix_creates().len();
    for (who, body, param) in [
        (
            &key,
            json!({"model": GROUP, "input": "x", "response_format": {"type": "video", "gcs_uri": "gs://mine/"}}),
            "response_format.gcs_uri",
        ),
        (
            &key,
            json!({"model": GROUP, "input": [{"type": "image", "uri": "gs://mine/a.png", "mime_type": "image/png"}]}),
            "input[0].uri",
        ),
        (&key, extend("gs://mine/a.mp4"), "input[0].content[1].uri"),
        (
            &key,
            extend(&format!("{}/v1beta/files/abc123", env.mock.base_url())),
            "input[0].content[1].uri",
        ),
        // Another key's gateway file is no better than a stranger's.
        (&other, extend(&link), "input[0].content[1].uri"),
    ] {
        let answer = env.ix_create(who, "v1", &body).await;
        let err = expect_google(&answer, 400, "storage_not_allowed");
        assert_eq!(
            err["error"]["details"][0]["metadata"]["param"], param,
            "{err}"
        );
    }
    assert_eq!(env.ix_creates().len(), before);
    // The owner's link becomes the upstream file.
    env.ix_create(&key, "v1", &extend(&link)).await.ok();
    let sent = env.ix_creates().pop().unwrap();
    let uri = sent["input"][0]["content"][1]["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("{}/v1beta/files/", env.mock.base_url())),
        "{sent}"
    );
    assert_eq!(sent["generation_config"]["video_config"]["task"], "extend");
    env.stop().await;
}

#[tokio::test]
async fn ids_belong_to_their_key_and_visitor() {
    let env = start(2).await;
    let key = env.new_key(json!({})).await;
    let other = env.new_key(json!({})).await;
    let id = env.ix_create(&key, "v1", &video_request(4)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = id.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let polls = upstream_ids(&env).len();
    for (who, id) in [
        (&other, id.as_str()),
        (&key, tampered.as_str()),
        (&key, "v1_raw"),
    ] {
        for (method, path) in [
            (Method::GET, id.to_owned()),
            (Method::POST, format!("{id}/cancel")),
            (Method::DELETE, id.to_owned()),
        ] {
            expect_google(
                &env.ix(who, method, &path).await,
                404,
                "interaction_not_found",
            );
        }
        let follow = env
            .ix_create(
                who,
                "v1",
                &json!({"model": GROUP, "input": "at night", "background": true,
                               "previous_interaction_id": id}),
            )
            .await;
        expect_google(&follow, 404, "interaction_not_found");
    }
    assert_eq!(upstream_ids(&env).len(), polls, "nothing reached upstream");
    assert_eq!(env.ix_creates().len(), 1);

    // A browser token's interaction is its visitor's; the key sees it too.
    let token = |subject: &str| {
        let env = &env;
        let key = key.clone();
        let subject = subject.to_owned();
        async move {
            env.send(
                env.req(Method::POST, "/v1/browser_tokens")
                    .bearer_auth(&key)
                    .json(&json!({"subject": subject})),
            )
            .await
            .ok()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let alice = token("alice").await;
    let bob = token("bob").await;
    let hers = env.ix_create(&alice, "v1", &video_request(4)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_google(
        &env.ix(&bob, Method::GET, &hers).await,
        404,
        "interaction_not_found",
    );
    env.ix(&alice, Method::GET, &hers).await.ok();
    env.ix(&key, Method::GET, &hers).await.ok();
    env.stop().await;
}

#[tokio::test]
async fn follow_ups_stay_on_the_deployment_holding_the_interaction() {
    let second = MockUpstream::start(options(1)).await.unwrap();
    let env = Env::start(options(1), |mock| {
        GatewayOptions::new(
            config(mock, Some(&second)),
            &[("GEMINI_API_KEY", GEMINI_KEY)],
        )
    })
    .await;
    let key = env.new_key(json!({})).await;
    // Weighted routing spreads creates over both deployments.
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(
            env.ix_create(&key, "v1", &video_request(4)).await.ok()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let on_first = env.ix_creates().len();
    let on_second = second
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(on_first + on_second, 12);
    assert!(on_first > 0 && on_second > 0, "{on_first} / {on_second}");
    // Every get, edit and delete reaches the mock that holds the
    // interaction (the other one would answer 400 "Invalid interaction name").
    for id in &ids {
        let done = env.ix_done(&key, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        let edited = env
            .ix_create(
                &key,
                "v1",
                &json!({"model": GROUP, "input": "at night", "background": true,
                                            "previous_interaction_id": id}),
            )
            .await
            .ok();
        assert!(edited["id"].as_str().unwrap().starts_with("int_"));
        env.ix(&key, Method::DELETE, id).await.ok();
    }
    let creates_first = env.ix_creates();
    let edits_first = creates_first
        .iter()
        .filter(|b| b.get("previous_interaction_id").is_some())
        .count();
    let edits_second = second
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/interactions"))
        .filter(|r| {
            r.body_json()
                .unwrap()
                .get("previous_interaction_id")
                .is_some()
        })
        .count();
    assert_eq!((edits_first, edits_second), (on_first, on_second));
    for sent in creates_first
        .iter()
        .filter_map(|b| b["previous_interaction_id"].as_str())
    {
        assert!(
            sent.starts_with("v1_"),
            "the upstream id goes upstream: {sent}"
        );
    }
    env.stop().await;
    second.shutdown().await;
}

#[tokio::test]
async fn unknown_outcomes_are_424_and_upstream_text_is_redacted() {
    let env = start(2).await;
    let key = env.new_key(json!({})).await;
    // No answer in time: one attempt, and a 424 the SDK does not resend.
    env.mock.push_fault(Fault::new(
        "/v1beta/interactions",
        1,
        FaultAction::Delay { ms: 3000 },
    ));
    expect_google(
        &env.ix_create(&key, "v1", &video_request(4)).await,
        424,
        "create_outcome_unknown",
    );
    assert_eq!(env.ix_creates().len(), 1);
    // Accepted with an answer the gateway cannot read: also 424.
    env.mock.push_fault(Fault::new(
        "/v1beta/interactions",
        1,
        FaultAction::Malformed,
    ));
    expect_google(
        &env.ix_create(&key, "v1", &video_request(4)).await,
        424,
        "create_outcome_unknown",
    );
    assert_eq!(env.ix_creates().len(), 2);

    // An upstream error naming the provider key and the upstream id.
    let id = env.ix_create(&key, "v1", &video_request(4)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ix(&key, Method::GET, &id).await.ok();
    let upstream_id = upstream_ids(&env).pop().unwrap();
    env.mock.push_fault(Fault::new(
        format!("/interactions/{upstream_id}"),
        1,
        FaultAction::Status {
            status: 400,
            headers: vec![],
            body: json!({"error": {"code": "invalid_request",
                "message": format!("API key {GEMINI_KEY} may not read interactions/{upstream_id}")}})
                .to_string(),
        },
    ));
    let answer = env.ix(&key, Method::GET, &id).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(!answer.text.contains(GEMINI_KEY), "{}", answer.text);
    assert!(!answer.text.contains(&upstream_id), "{}", answer.text);
    // A safety refusal at create passes on as the client's 400.
    let blocked = env
        .ix_create(
            &key,
            "v1",
            &json!({"model": GROUP, "input": "[[blocked]] x", "background": true}),
        )
        .await;
    assert_eq!(blocked.status, 400, "{}", blocked.text);
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn vertex_omni_serves_its_bucket_through_gateway_links() {
    let env = start(1).await;
    let key = env.new_key(json!({})).await;
    let created = env
        .ix_create(
            &key,
            "v1",
            &json!({"model": "omni-vertex", "input": "a cat", "background": true,
                                        "response_format": {"type": "video", "duration": "4s"}}),
        )
        .await
        .ok();
    let sent = env.ix_creates().pop().unwrap();
    assert_eq!(sent["response_format"]["gcs_uri"], "gs://reelay-out/omni/");
    let done = env.ix_done(&key, created["id"].as_str().unwrap()).await;
    let uri = done["steps"][2]["content"][0]["uri"].as_str().unwrap();
    assert!(!done.to_string().contains("gs://"), "{done}");
    let link = uri.trim_start_matches(env.gateway.url()).to_owned();
    let resp = env
        .http
        .get(env.url(&link))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let upstream_id = upstream_ids(&env).pop().unwrap();
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        expected_video_bytes(
            &omni_video_key(&upstream_id, None),
            MockOptions::default().video_bytes
        )
    );
    env.stop().await;
}
