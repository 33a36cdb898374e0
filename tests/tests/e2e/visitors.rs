//! Visitors of one key, end to end: every browser token acts for a subject
//! (the minting server's `subject`, or the token itself), and what it
//! creates — video jobs, responses, realtime calls (through the realtime
//! tokens it mints too) — is that subject's. Another visitor's token of the
//! same key can neither list, read, continue, control nor delete it, on the
//! OpenAI and the Google shapes alike; tokens of the same subject share it;
//! the key itself sees everything, its own state too, which its visitors
//! do not.

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Answer, Env, GEMINI_KEY, OPENAI_KEY, SDP_OFFER};

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "gpt-5", "deployments": [
                {"id": "oa-gpt5", "provider": "openai", "model": "gpt-5-2025-08-07",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ]
    })
}

async fn start() -> Env {
    let mock = MockOptions {
        polls_until_done: 0,
        ..MockOptions::default()
    };
    Env::start(mock, |mock| {
        GatewayOptions::new(
            config(mock),
            &[
                ("GEMINI_API_KEY", GEMINI_KEY),
                ("OPENAI_API_KEY", OPENAI_KEY),
            ],
        )
    })
    .await
}

impl Env {
    /// A browser token of `key` for `subject` (`None`: the token itself).
    async fn visitor(&self, key: &str, subject: Option<&str>) -> String {
        let body = match subject {
            Some(subject) => json!({"subject": subject}),
            None => json!({}),
        };
        let answer = self
            .send(
                self.req(Method::POST, "/v1/browser_tokens")
                    .bearer_auth(key)
                    .json(&body),
            )
            .await
            .ok();
        assert_eq!(answer["subject"], json!(subject));
        answer["token"].as_str().unwrap().to_owned()
    }

    /// A video job created with `credential`; its id.
    async fn video(&self, credential: &str) -> String {
        let answer = Answer::read(
            self.create_video(
                credential,
                json!({"model": "veo-3.1", "prompt": "a cat", "seconds": "4"}),
            )
            .await,
        )
        .await;
        answer.ok()["id"].as_str().unwrap().to_owned()
    }

    /// `method path` with `credential` as Bearer.
    async fn call_as(&self, credential: &str, method: Method, path: &str) -> Answer {
        self.send(self.req(method, path).bearer_auth(credential))
            .await
    }

    /// The ids `GET /v1/videos` lists for `credential`.
    async fn listed(&self, credential: &str) -> Vec<String> {
        let list = self
            .call_as(credential, Method::GET, "/v1/videos?limit=100")
            .await
            .ok();
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn video_jobs_belong_to_their_visitor() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["*"]})).await;

    // Tokens minted without a subject are each their own visitor.
    let anon = env.visitor(&key, None).await;
    let other_anon = env.visitor(&key, None).await;
    let anon_video = env.video(&anon).await;
    env.call_as(
        &other_anon,
        Method::GET,
        &format!("/v1/videos/{anon_video}"),
    )
    .await
    .expect_error(404, "video_not_found");
    env.call_as(&anon, Method::GET, &format!("/v1/videos/{anon_video}"))
        .await
        .ok();

    // Named subjects: two tokens of alice share her jobs; bob sees none of them.
    let alice = env.visitor(&key, Some("user:alice@example.com")).await;
    let alice_again = env.visitor(&key, Some("user:alice@example.com")).await;
    let bob = env.visitor(&key, Some("user:bob")).await;
    let alices = env.video(&alice).await;
    let bobs = env.video(&bob).await;
    let keys_own = env.video(&key).await;

    let video = format!("/v1/videos/{alices}");
    assert_eq!(
        env.call_as(&alice_again, Method::GET, &video).await.ok()["id"],
        json!(alices)
    );
    env.call_as(&key, Method::GET, &video).await.ok();
    for path in [video.clone(), format!("{video}/content")] {
        env.call_as(&bob, Method::GET, &path)
            .await
            .expect_error(404, "video_not_found");
    }
    // The Google shape opens the same sealed id under the same rule.
    let operation = format!("/gemini/v1beta/models/veo-3.1/operations/{alices}");
    let as_google = |who: &str| {
        env.send(
            env.req(Method::GET, &operation)
                .header("x-goog-api-key", who),
        )
    };
    assert_eq!(as_google(&bob).await.status, 404);
    assert_eq!(as_google(&alice_again).await.status, 200);
    // The key's own jobs are not its visitors'.
    env.call_as(&alice, Method::GET, &format!("/v1/videos/{keys_own}"))
        .await
        .expect_error(404, "video_not_found");

    // Lists: each visitor its own, the key everything.
    assert_eq!(
        env.listed(&alice_again).await,
        std::slice::from_ref(&alices)
    );
    assert_eq!(env.listed(&bob).await, std::slice::from_ref(&bobs));
    assert_eq!(env.listed(&other_anon).await, Vec::<String>::new());
    let all = env.listed(&key).await;
    for id in [&anon_video, &alices, &bobs, &keys_own] {
        assert!(all.contains(id), "the key lists {id}: {all:?}");
    }
    // `after` must be one of the visitor's own jobs.
    env.call_as(&bob, Method::GET, &format!("/v1/videos?after={alices}"))
        .await
        .expect_error(400, "invalid_request");

    // Delete: not by another visitor; by the owner's other token, yes.
    env.call_as(&bob, Method::DELETE, &video)
        .await
        .expect_error(404, "video_not_found");
    env.call_as(&alice_again, Method::DELETE, &video).await.ok();
    env.call_as(&key, Method::GET, &video)
        .await
        .expect_error(404, "video_not_found");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn responses_and_realtime_calls_belong_to_their_visitor() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["*"]})).await;
    // Two visitors, each with a token of its own.
    let alice = env.visitor(&key, None).await;
    let bob = env.visitor(&key, None).await;

    // A stored response.
    let created = env
        .send(
            env.req(Method::POST, "/v1/responses")
                .bearer_auth(&alice)
                .json(&json!({"model": "gpt-5", "input": "hello"})),
        )
        .await
        .ok();
    let id = created["id"].as_str().unwrap().to_owned();
    let response = format!("/v1/responses/{id}");
    env.call_as(&bob, Method::GET, &response)
        .await
        .expect_error(404, "response_not_found");
    env.send(
        env.req(Method::POST, "/v1/responses")
            .bearer_auth(&bob)
            .json(&json!({"model": "gpt-5", "input": "go on", "previous_response_id": id})),
    )
    .await
    .expect_error(400, "previous_response_not_found");
    env.call_as(&alice, Method::GET, &response).await.ok();
    env.call_as(&key, Method::GET, &response).await.ok();
    env.call_as(&bob, Method::DELETE, &response)
        .await
        .expect_error(404, "response_not_found");

    // A realtime call, started with a realtime token alice's browser token minted.
    let client = &env;
    let call_with = |ek: String| async move {
        let answer = client
            .send(
                client
                    .req(Method::POST, "/v1/realtime/calls")
                    .bearer_auth(&ek)
                    .header("content-type", "application/sdp")
                    .body(SDP_OFFER),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.header("location").unwrap()
    };
    let first = call_with(env.realtime_token(&alice, "gpt-realtime").await).await;
    let second = call_with(env.realtime_token(&alice, "gpt-realtime").await).await;
    let hangup = |who: &str, location: &str| {
        env.send(
            env.req(Method::POST, &format!("{location}/hangup"))
                .bearer_auth(who),
        )
    };
    hangup(&bob, &first)
        .await
        .expect_error(404, "realtime_call_not_found");
    // Nor with a realtime token bob's browser token minted.
    let bobs_ek = env.realtime_token(&bob, "gpt-realtime").await;
    hangup(&bobs_ek, &first)
        .await
        .expect_error(404, "realtime_call_not_found");
    assert_eq!(hangup(&alice, &first).await.status, 200);
    assert_eq!(hangup(&key, &second).await.status, 200);
    assert_eq!(env.upstream("/hangup").len(), 2);

    // Two tokens of one named subject share its responses.
    let carol = env.visitor(&key, Some("carol")).await;
    let carol_again = env.visitor(&key, Some("carol")).await;
    let created = env
        .send(
            env.req(Method::POST, "/v1/responses")
                .bearer_auth(&carol)
                .json(&json!({"model": "gpt-5", "input": "hello"})),
        )
        .await
        .ok();
    let response = format!("/v1/responses/{}", created["id"].as_str().unwrap());
    env.call_as(&carol_again, Method::GET, &response).await.ok();
    env.call_as(&alice, Method::GET, &response)
        .await
        .expect_error(404, "response_not_found");
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn subjects_are_validated() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["*"]})).await;
    // A subject the server names is accepted and echoed.
    env.visitor(&key, Some("user:42/site=a.example+b@x")).await;
    for bad in [
        json!(""),
        json!("has space"),
        json!("a".repeat(129)),
        json!(7),
    ] {
        let answer = env
            .send(
                env.req(Method::POST, "/v1/browser_tokens")
                    .bearer_auth(&key)
                    .json(&json!({"subject": bad})),
            )
            .await;
        let body = answer.expect_error(400, "invalid_request");
        assert_eq!(body["error"]["param"], "subject", "{bad}");
    }
    env.stop().await;
}
