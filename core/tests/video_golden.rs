//! Golden fixtures for every video translation, both directions.
//!
//! `tests/fixtures/video/` holds, per case, the input (hand-written, as a
//! client or an upstream really sends it) and the expected output beside it:
//!
//! | directory | input | output |
//! |---|---|---|
//! | `create/` | `{case}.client.json`: an OpenAI `POST /v1/videos` body | `{case}.upstream.txt`: the upstream call (method, URL, auth, sealed duration and size, exact body) |
//! | `follow_up/` | `{case}.client.json`: a remix, edit or extension body | `{case}.upstream.txt` |
//! | `native/` | `{case}.client.json`: a Google-shaped `predictLongRunning` body | `{case}.upstream.txt` |
//! | `created/` | `{case}.upstream.json`: a provider's answer to a create | `{case}.created.txt`: the upstream job id and the values it reports |
//! | `answers/` | `{case}.upstream.json`: a provider's status answer | `{case}.video.json`: the OpenAI video object reelay renders |
//!
//! The case name's prefix picks the deployment (`gemini_`, `vertex_inline_`,
//! `vertex_`, `openai_`, `azure_`, and Gemini Omni's `omni_` and
//! `vertex_omni_`); a follow-up's kind is the word after it
//! (`remix`, `edit`, `extend`). Every input must have its output and every
//! output its input. `UPDATE_GOLDENS=1 cargo test -p reelay-core --test
//! video_golden` rewrites the outputs; review the diff before committing.

// A test binary may fail loudly.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use reelay_core::config::{Config, Deployment};
use reelay_core::errors::ClientError;
use reelay_core::plan::UpstreamRequest;
use reelay_core::video::{self, CreateVideo, FollowUp, FollowUpKind, Size, VideoHandle, VideoView};

const CONFIG: &str = r#"{"model_groups":[
  {"name":"veo","deployments":[{"id":"gemini","provider":"gemini","model":"veo-3.1-generate-preview","credential":"K"}]},
  {"name":"veo-vertex","deployments":[
    {"id":"vertex","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"proj","location":"us-central1","storage_uri":"gs://out/veo/"},
    {"id":"vertex_inline","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"proj","location":"us-central1"}]},
  {"name":"sora","deployments":[
    {"id":"openai","provider":"openai","model":"sora-2","credential":"K"},
    {"id":"azure","provider":"azure","model":"sora-2","credential":"K","api_base":"https://res.openai.azure.com"}]},
  {"name":"gemini-omni","deployments":[
    {"id":"omni","provider":"gemini","model":"gemini-omni-1.1-flash","credential":"K"},
    {"id":"vertex_omni","provider":"vertex_ai","model":"gemini-omni-1.1-flash-preview","credential":"SA","project":"proj","location":"global","storage_uri":"gs://out/omni/"}]}]}"#;

fn deployment(config: &Config, case: &str) -> Deployment {
    let id = [
        "vertex_inline",
        "vertex_omni",
        "omni",
        "gemini",
        "vertex",
        "openai",
        "azure",
    ]
    .into_iter()
    .find(|id| case.starts_with(&format!("{id}_")))
    .unwrap_or_else(|| panic!("{case}: the name must start with a deployment id"));
    config.deployment(id).unwrap().1.clone()
}

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/video")
        .join(name)
}

/// Runs `render` on every `*{input}` file of `name` and compares with
/// `*{output}`; returns the cases that differ.
fn check(name: &str, input: &str, output: &str, render: impl Fn(&str, &[u8]) -> String) {
    let update = std::env::var_os("UPDATE_GOLDENS").is_some_and(|v| v == "1");
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    for entry in fs::read_dir(dir(name)).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        if let Some(case) = file.strip_suffix(input) {
            cases.push(case.to_owned());
        } else if let Some(case) = file.strip_suffix(output) {
            assert!(
                dir(name).join(format!("{case}{input}")).exists(),
                "{name}/{file} has no input {case}{input}"
            );
        } else {
            panic!("{name}/{file}: not a fixture of this directory");
        }
    }
    assert!(!cases.is_empty(), "{name}: no cases");
    cases.sort();
    for case in cases {
        let body = fs::read(dir(name).join(format!("{case}{input}"))).unwrap();
        let actual = render(&case, &body);
        let golden = dir(name).join(format!("{case}{output}"));
        if update {
            fs::write(&golden, &actual).unwrap();
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}/{case}{output} differs:\n--- expected\n{expected}\n--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!("{name}/{case}{output} is missing")),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(UPDATE_GOLDENS=1 rewrites the goldens)",
        failures.join("\n")
    );
}

fn call(result: Result<(UpstreamRequest, u32, Size), ClientError>) -> String {
    match result {
        Ok((call, seconds, size)) => format!(
            "{:?} {}\nauth: {:?}\nsealed: {seconds} seconds, {}\n\n{}\n",
            call.method,
            call.url,
            call.auth,
            size.to_wire(),
            call.json_body.as_deref().unwrap_or("(no body)")
        ),
        Err(e) => error(&e),
    }
}

fn error(e: &ClientError) -> String {
    format!(
        "error {} (param {}): {}\n",
        e.code.as_str(),
        e.param.as_deref().unwrap_or("-"),
        e.message
    )
}

#[test]
fn openai_creates_translate_to_each_provider() {
    let config = Config::parse(CONFIG).unwrap();
    check("create", ".client.json", ".upstream.txt", |case, body| {
        let dep = deployment(&config, case);
        let req = CreateVideo::parse_json(body).unwrap();
        call(video::create_request(&req, &dep, &[]))
    });
}

#[test]
fn follow_ups_translate_to_each_provider() {
    let config = Config::parse(CONFIG).unwrap();
    let source = VideoHandle {
        operation: "video_source_upstream".into(),
        seconds: 8,
        size: Size {
            width: 1280,
            height: 720,
        },
        count: 1,
    };
    check(
        "follow_up",
        ".client.json",
        ".upstream.txt",
        |case, body| {
            let dep = deployment(&config, case);
            let (kind, path_id) = if case.ends_with("_remix") {
                (FollowUpKind::Remix, Some("video_source"))
            } else if case.ends_with("_edit") {
                (FollowUpKind::Edit, None)
            } else if case.ends_with("_extend") {
                (FollowUpKind::Extend, None)
            } else {
                panic!("{case}: end the name in _remix, _edit or _extend");
            };
            let follow = FollowUp::parse(kind, body, path_id).unwrap();
            let files = if video::follow_up_needs_files(&dep, kind) {
                // A Vertex source's video is a Cloud Storage object.
                let file = if case.starts_with("vertex_") {
                    "gs://out/omni/video_source_upstream/video_0.mp4"
                } else {
                    "abc123def"
                };
                vec![file.to_owned()]
            } else {
                Vec::new()
            };
            call(video::follow_up_request(&dep, &follow, &source, &files))
        },
    );
}

#[test]
fn google_shaped_creates_are_checked_and_resent() {
    let config = Config::parse(CONFIG).unwrap();
    check("native", ".client.json", ".upstream.txt", |case, body| {
        let dep = deployment(&config, case);
        match video::parse_native(body)
            .and_then(|native| video::native_create_request(&native, &dep, None))
        {
            Ok(native) => format!(
                "{}sealed count: {}\n",
                call(Ok((native.request, native.seconds, native.size))),
                native.count
            ),
            Err(e) => error(&e),
        }
    });
}

#[test]
fn create_answers_are_read_per_provider() {
    let config = Config::parse(CONFIG).unwrap();
    check("created", ".upstream.json", ".created.txt", |case, body| {
        let dep = deployment(&config, case);
        match video::parse_create_response(&dep, body) {
            Ok(created) => format!(
                "upstream id: {}\nseconds: {:?}\nsize: {:?}\n",
                created.upstream_id,
                created.seconds,
                created.size.map(Size::to_wire)
            ),
            Err(e) => error(&e.to_client()),
        }
    });
}

#[test]
fn upstream_answers_render_as_openai_video_objects() {
    let config = Config::parse(CONFIG).unwrap();
    check("answers", ".upstream.json", ".video.json", |case, body| {
        let dep = deployment(&config, case);
        let value = match video::parse_poll(&dep, body) {
            Ok(operation) => {
                let status = operation.status();
                let handle = VideoHandle {
                    operation: "upstream".into(),
                    seconds: 8,
                    size: Size {
                        width: 1280,
                        height: 720,
                    },
                    count: 1,
                };
                VideoView {
                    id: "video_golden",
                    model: "group",
                    status: &status,
                    created_at: 1_700_000_000,
                    now: 1_700_000_030,
                    prompt: Some("a calico cat playing piano"),
                    handle: &handle,
                    remixed_from: None,
                }
                .to_json()
            }
            Err(e) => {
                let e = e.to_client();
                serde_json::json!({"unreadable": {"code": e.code.as_str(), "message": e.message}})
            }
        };
        format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
    });
}
