//! Video edits and extensions sent as `multipart/form-data` (how the openai
//! SDK 3.57's `videos.edit` / `videos.extend` send them): the typed parts
//! `prompt`, `seconds` and `video[id]` are read like the JSON body's fields
//! and go upstream as the same checked JSON; an unknown or repeated part is
//! refused naming it, and an uploaded `video` file gets a precise `400`
//! (reelay edits only the videos it made).

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::{Answer, Env, OPENAI_KEY};

fn config(mock: &MockUpstream) -> Value {
    json!({
        "model_groups": [
            {"name": "sora-2", "deployments": [
                {"id": "openai-sora", "provider": "openai", "model": "sora-2",
                 "credential": "OPENAI_API_KEY", "api_base": mock.base_url()}]}
        ]
    })
}

async fn start() -> Env {
    Env::start(MockOptions::default(), |mock| {
        GatewayOptions::new(config(mock), &[("OPENAI_API_KEY", OPENAI_KEY)])
    })
    .await
}

/// `POST path` with `form` and `key`.
async fn post_form(env: &Env, key: &str, path: &str, form: Form) -> Answer {
    env.send(
        env.http
            .post(env.url(path))
            .bearer_auth(key)
            .multipart(form),
    )
    .await
}

/// A form of text parts.
fn text_form(parts: &[(&str, &str)]) -> Form {
    parts.iter().fold(Form::new(), |form, (name, value)| {
        form.text(name.to_string(), value.to_string())
    })
}

/// The JSON body of the last upstream request to `path`.
fn last_sent(env: &Env, path: &str) -> Value {
    env.mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == path)
        .unwrap_or_else(|| panic!("nothing sent to {path}"))
        .body_json()
        .unwrap()
}

#[tokio::test]
async fn edits_and_extensions_are_accepted_as_forms() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["sora-2"]})).await;
    let source = env
        .send(
            env.http
                .post(env.url("/v1/videos"))
                .bearer_auth(&key)
                .json(&json!({"model": "sora-2", "prompt": "a cat", "seconds": "4"})),
        )
        .await
        .ok();
    let source_id = source["id"].as_str().unwrap().to_owned();

    // An edit: prompt and the source by id.
    let edit = post_form(
        &env,
        &key,
        "/v1/videos/edits",
        text_form(&[("prompt", "make it night"), ("video[id]", &source_id)]),
    )
    .await
    .ok();
    assert_eq!(edit["status"], "queued", "{edit}");
    assert!(edit["id"].as_str().unwrap().starts_with("video_"));
    let sent = last_sent(&env, "/v1/videos/edits");
    assert_eq!(sent["prompt"], "make it night");
    let upstream_source = sent["video"]["id"].as_str().unwrap().to_owned();
    assert!(!upstream_source.is_empty() && upstream_source != source_id);
    assert_eq!(sent.as_object().unwrap().len(), 2, "{sent}");

    // An extension: the same, plus seconds; the checked JSON goes upstream.
    let ext = post_form(
        &env,
        &key,
        "/v1/videos/extensions",
        text_form(&[
            ("prompt", "and then"),
            ("seconds", "4"),
            ("video[id]", &source_id),
        ]),
    )
    .await
    .ok();
    assert_eq!(ext["status"], "queued", "{ext}");
    assert_eq!(
        last_sent(&env, "/v1/videos/extensions"),
        json!({"prompt": "and then", "seconds": "4", "video": {"id": upstream_source}})
    );
    env.assert_no_leaks().await;
    env.stop().await;
}

#[tokio::test]
async fn odd_forms_are_refused_naming_the_part() {
    let env = start().await;
    let key = env.new_key(json!({"models": ["sora-2"]})).await;
    let before = env.mock.requests().len();
    let cases: Vec<(&str, Form, u16, &str, &str)> = vec![
        // The SDK's upload of a source video.
        (
            "/v1/videos/edits",
            Form::new().text("prompt", "night").part(
                "video",
                Part::bytes(b"\0\0\0\x18ftypmp42".to_vec())
                    .file_name("clip.mp4")
                    .mime_str("video/mp4")
                    .unwrap(),
            ),
            400,
            "unsupported_value",
            "video",
        ),
        // An unknown part, as with JSON.
        (
            "/v1/videos/extensions",
            text_form(&[
                ("prompt", "x"),
                ("seconds", "4"),
                ("video[id]", "video_x"),
                ("callback_url", "https://evil.example"),
            ]),
            400,
            "invalid_request",
            "callback_url",
        ),
        // A part of the other kind, a repeated one, a missing source.
        (
            "/v1/videos/edits",
            text_form(&[("prompt", "x"), ("seconds", "4"), ("video[id]", "video_x")]),
            400,
            "invalid_request",
            "seconds",
        ),
        (
            "/v1/videos/edits",
            text_form(&[("prompt", "x"), ("prompt", "y"), ("video[id]", "video_x")]),
            400,
            "invalid_request",
            "prompt",
        ),
        (
            "/v1/videos/extensions",
            text_form(&[("prompt", "x"), ("seconds", "4")]),
            400,
            "invalid_request",
            "video[id]",
        ),
        // The id of nobody's video.
        (
            "/v1/videos/edits",
            text_form(&[("prompt", "x"), ("video[id]", "video_forged")]),
            404,
            "video_not_found",
            "",
        ),
    ];
    for (path, form, status, code, param) in cases {
        let answer = post_form(&env, &key, path, form).await;
        let body = answer.expect_error(status, code);
        if !param.is_empty() {
            assert_eq!(body["error"]["param"], param, "{path}: {body}");
        }
    }
    // Nothing reached the upstream.
    assert_eq!(env.mock.requests().len(), before);
    env.stop().await;
}
