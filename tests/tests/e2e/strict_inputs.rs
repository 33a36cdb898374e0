//! Strict inputs end to end: bodies bounded while they stream (a refused
//! request, or one over the limit, is answered before the rest of its
//! upload is sent), unknown methods, unknown and repeated multipart parts,
//! the credential shapes reserved for the gateway's tokens, and the
//! `x-ratelimit-*` headers of a 429 — the built Worker in workerd against
//! the mock upstream.
//!
//! The streaming tests speak HTTP/1.1 over a raw socket: they send a
//! request head and part of a chunked body, never its end, and read the
//! answer. An answer that needed the rest of the body never comes (the
//! test then fails on its deadlock guard, not on a time measurement).

use std::collections::HashMap;
use std::time::Duration;

use reelay_tests::gateway::GatewayOptions;
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Env, GEMINI_KEY, OPENAI_KEY, SDP_OFFER};

/// The gateway's body limit in these tests.
const MAX_BODY: usize = 64 * 1024;

fn config(mock: &MockUpstream) -> Value {
    let base = mock.base_url();
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": "veo-3.1-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": base}]},
            {"name": "sora-2", "deployments": [
                {"id": "openai-sora", "provider": "openai", "model": "sora-2",
                 "credential": "OPENAI_API_KEY", "api_base": base}]},
            {"name": "gpt-realtime", "deployments": [
                {"id": "openai-rt", "provider": "openai", "model": "gpt-realtime-2025-08-28",
                 "credential": "OPENAI_API_KEY", "api_base": base}]}
        ],
        "max_body_bytes": MAX_BODY
    })
}

async fn start() -> Env {
    Env::start(
        MockOptions {
            polls_until_done: 0,
            ..MockOptions::default()
        },
        |mock| {
            GatewayOptions::new(
                config(mock),
                &[
                    ("GEMINI_API_KEY", GEMINI_KEY),
                    ("OPENAI_API_KEY", OPENAI_KEY),
                ],
            )
        },
    )
    .await
}

/// An answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl RawAnswer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One chunk of a chunked body, framed.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Sends `POST path` with `headers` and a chunked body of which only
/// `chunks` are sent (`end` adds the last, empty chunk), then reads the
/// answer without sending anything more. The deadlock guard is generous:
/// it only turns "the gateway waits for the rest" into a failure.
async fn post_chunked(
    env: &Env,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[Vec<u8>],
    end: bool,
) -> RawAnswer {
    let url = reqwest::Url::parse(&env.url(path)).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut socket = TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    for data in chunks {
        socket.write_all(&chunk(data)).await.unwrap();
    }
    if end {
        socket.write_all(b"0\r\n\r\n").await.unwrap();
    }
    socket.flush().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), read_answer(&mut socket))
        .await
        .unwrap_or_else(|_| {
            panic!("no answer to POST {path} while the rest of its body was held back")
        })
}

/// Reads one HTTP/1.1 answer (fixed-length or chunked body).
async fn read_answer(socket: &mut TcpStream) -> RawAnswer {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut piece).await.unwrap();
        assert!(
            n > 0,
            "the connection closed before an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let body = if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().unwrap();
        while rest.len() < len {
            let n = socket.read(&mut piece).await.unwrap();
            assert!(n > 0, "the connection closed inside the answer");
            rest.extend_from_slice(&piece[..n]);
        }
        rest.truncate(len);
        rest
    } else {
        // Chunked: read to the last chunk, then decode.
        while !rest.windows(5).any(|w| w == b"0\r\n\r\n") {
            let n = socket.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&piece[..n]);
        }
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(eol) = rest[at..].windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[at..at + eol]).trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            let start = at + eol + 2;
            out.extend_from_slice(&rest[start..start + size]);
            at = start + size + 2;
        }
        out
    };
    RawAnswer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The start of a JSON video create, padded to `len` bytes by a prompt that
/// the held-back rest would close.
fn json_start(len: usize) -> Vec<u8> {
    let mut out = br#"{"model":"veo-3.1","prompt":""#.to_vec();
    out.resize(len, b'a');
    out
}

fn assert_openai_error(answer: &RawAnswer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], code, "{}", answer.body);
    assert!(answer.headers.contains_key("x-request-id"));
}

/// A request refused before or at authentication — no key, a wrong one, a
/// deleted one, a model the key may not use named in the path — is
/// answered while its chunked body is still being sent (the gateway never
/// reads, or drains, an upload it will refuse).
#[tokio::test]
async fn refused_requests_are_answered_without_reading_the_upload() {
    let env = start().await;
    let first = vec![json_start(16 * 1024)];
    let json = ("content-type", "application/json");

    let answer = post_chunked(&env, "/v1/videos", &[json], &first, false).await;
    assert_openai_error(&answer, 401, "missing_api_key");

    let wrong = (
        "authorization",
        "Bearer sk-reelay-not-a-key-0000000000000000",
    );
    let answer = post_chunked(&env, "/v1/videos", &[json, wrong], &first, false).await;
    assert_openai_error(&answer, 401, "invalid_api_key");

    let deleted = env.new_key(json!({})).await;
    env.admin("/key/delete", json!({"keys": [deleted]})).await;
    let bearer = format!("Bearer {deleted}");
    let answer = post_chunked(
        &env,
        "/v1/videos",
        &[json, ("authorization", &bearer)],
        &first,
        false,
    )
    .await;
    assert_openai_error(&answer, 401, "invalid_api_key");

    // Google's shape names the model in the path: a key without it is
    // refused before its body is read, in Google's dialect.
    let sora_only = env.new_key(json!({"models": ["sora-*"]})).await;
    let answer = post_chunked(
        &env,
        "/gemini/v1beta/models/veo-3.1:predictLongRunning",
        &[json, ("x-goog-api-key", &sora_only)],
        &first,
        false,
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.json()["error"]["status"], "PERMISSION_DENIED");

    // Multipart uploads too.
    let answer = post_chunked(
        &env,
        "/v1/videos/characters",
        &[("content-type", "multipart/form-data; boundary=b0undary")],
        &[
            b"--b0undary\r\ncontent-disposition: form-data; name=\"name\"\r\n\r\nMochi\r\n"
                .to_vec(),
        ],
        false,
    )
    .await;
    assert_openai_error(&answer, 401, "missing_api_key");
    assert!(env.upstream("").is_empty(), "nothing reached a provider");
    env.stop().await;
}

/// A chunked body (no `Content-Length`) over `max_body_bytes` is refused
/// with a 413 as soon as the count passes the limit, before the rest is
/// sent — JSON and multipart, in each door's dialect; under the limit a
/// chunked body is read whole as before.
#[tokio::test]
async fn chunked_bodies_over_the_limit_are_refused_while_they_stream() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let bearer = format!("Bearer {key}");
    let auth = ("authorization", bearer.as_str());
    let over: Vec<Vec<u8>> = vec![json_start(40 * 1024), vec![b'a'; 40 * 1024]];

    let answer = post_chunked(
        &env,
        "/v1/videos",
        &[auth, ("content-type", "application/json")],
        &over,
        false,
    )
    .await;
    assert_openai_error(&answer, 413, "payload_too_large");
    assert!(answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&MAX_BODY.to_string()));

    let answer = post_chunked(
        &env,
        "/gemini/v1beta/models/veo-3.1:predictLongRunning",
        &[
            ("x-goog-api-key", &key),
            ("content-type", "application/json"),
        ],
        &over,
        false,
    )
    .await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], 413);

    let mut form =
        b"--b0undary\r\ncontent-disposition: form-data; name=\"prompt\"\r\n\r\n".to_vec();
    form.resize(40 * 1024, b'a');
    let multipart = ("content-type", "multipart/form-data; boundary=b0undary");
    for path in ["/v1/videos", "/v1/videos/characters"] {
        let answer = post_chunked(
            &env,
            path,
            &[auth, multipart],
            &[form.clone(), vec![b'a'; 40 * 1024]],
            false,
        )
        .await;
        assert_openai_error(&answer, 413, "payload_too_large");
    }
    // A realtime call's form has its own bound (both parts at their limits).
    let answer = post_chunked(
        &env,
        "/v1/realtime/calls",
        &[auth, multipart],
        &[form.clone(), vec![b'a'; 64 * 1024], vec![b'a'; 64 * 1024]],
        false,
    )
    .await;
    assert_openai_error(&answer, 413, "payload_too_large");
    assert!(env.upstream("").is_empty(), "nothing reached a provider");

    // Under the limit, a chunked create is read to its end and served.
    let body = br#"{"model":"veo-3.1","prompt":"a chunked cat"}"#;
    let answer = post_chunked(
        &env,
        "/v1/videos",
        &[auth, ("content-type", "application/json")],
        &[body[..10].to_vec(), body[10..].to_vec()],
        true,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["prompt"], "a chunked cat");
    env.stop().await;
}

/// A method no route serves is a 405 with `Allow`, in the caller's
/// dialect — never served as another method (`PROPFIND` was a `GET`).
#[tokio::test]
async fn unknown_methods_are_refused_with_allow() {
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    for (method, path, allow) in [
        (propfind.clone(), "/v1/models", "GET"),
        (propfind.clone(), "/v1/videos", "POST, GET"),
        (Method::from_bytes(b"PURGE").unwrap(), "/key/info", "GET"),
        (Method::PUT, "/v1/videos", "POST, GET"),
        (Method::PATCH, "/v1/responses", "POST"),
    ] {
        let answer = env
            .send(env.req(method.clone(), path).bearer_auth(&key))
            .await;
        let body = answer.expect_error(405, "method_not_allowed");
        assert_eq!(
            answer.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{method} is not allowed")),
            "{body}"
        );
    }
    let answer = env
        .send(
            env.req(
                propfind.clone(),
                "/gemini/v1beta/models/veo-3.1:predictLongRunning",
            )
            .header("x-goog-api-key", &key),
        )
        .await;
    assert_eq!(answer.status, 405, "{}", answer.text);
    assert_eq!(answer.header("allow").as_deref(), Some("POST"));
    assert_eq!(answer.json()["error"]["status"], "INVALID_ARGUMENT");
    // An unknown path stays a 404, whatever the method.
    let answer = env
        .send(env.req(propfind, "/v1/nowhere").bearer_auth(&key))
        .await;
    answer.expect_error(404, "route_not_found");
    env.stop().await;
}

/// Unknown or repeated multipart parts are a 400 naming the part, like
/// unknown JSON fields; nothing reaches the provider.
#[tokio::test]
async fn unknown_and_repeated_multipart_parts_are_refused() {
    use reqwest::multipart::{Form, Part};
    let env = start().await;
    let key = env.new_key(json!({})).await;
    let video = || {
        Part::bytes(b"\0\0\0\x18ftypisom".to_vec())
            .file_name("mochi.mp4")
            .mime_str("video/mp4")
            .unwrap()
    };
    let cases: Vec<(&str, Form, &str)> = vec![
        (
            "/v1/videos",
            Form::new()
                .text("model", "veo-3.1")
                .text("prompt", "a cat")
                .text("callback_url", "https://example.com/hook"),
            "callback_url",
        ),
        (
            "/v1/videos",
            Form::new()
                .text("model", "veo-3.1")
                .text("prompt", "a cat")
                .text("prompt", "a dog"),
            "prompt",
        ),
        (
            "/v1/videos",
            Form::new()
                .text("model", "veo-3.1")
                .text("prompt", "a cat")
                .part("thumbnail", video()),
            "thumbnail",
        ),
        (
            "/v1/videos/characters",
            Form::new()
                .text("name", "Mochi")
                .text("model", "sora-2")
                .text("voice", "alloy")
                .part("video", video()),
            "voice",
        ),
        (
            "/v1/videos/characters",
            Form::new()
                .text("name", "Mochi")
                .text("model", "sora-2")
                .part("video", video())
                .part("video", video()),
            "video",
        ),
        (
            "/v1/realtime/calls",
            Form::new()
                .text("sdp", SDP_OFFER)
                .text("session", r#"{"type":"realtime","model":"gpt-realtime"}"#)
                .text("extra", "x"),
            "extra",
        ),
    ];
    for (path, form, field) in cases {
        let answer = env
            .send(
                env.http
                    .post(env.url(path))
                    .bearer_auth(&key)
                    .multipart(form),
            )
            .await;
        let body = answer.expect_error(400, "invalid_request");
        assert_eq!(body["error"]["param"], field, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`")),
            "{body}"
        );
    }
    assert!(env.upstream("").is_empty(), "nothing reached a provider");

    // The parts the routes name still work.
    let answer = env
        .send(
            env.http
                .post(env.url("/v1/videos/characters"))
                .bearer_auth(&key)
                .multipart(
                    Form::new()
                        .text("name", "Mochi")
                        .text("model", "sora-2")
                        .part("video", video()),
                ),
        )
        .await;
    assert_eq!(answer.json()["name"], "Mochi", "{}", answer.text);
    // The OpenAI SDK spells `input_reference={"image_url": …}` as a
    // bracketed part: it is read as that object (it used to be dropped).
    use base64::Engine as _;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let png_b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let answer = env
        .send(
            env.http
                .post(env.url("/v1/videos"))
                .bearer_auth(&key)
                .multipart(
                    Form::new()
                        .text("model", "veo-3.1")
                        .text("prompt", "a cat")
                        .text("seconds", "8")
                        .text(
                            "input_reference[image_url]",
                            format!("data:image/png;base64,{png_b64}"),
                        ),
                ),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let sent = env.upstream(":predictLongRunning");
    assert_eq!(sent.len(), 1);
    let image = &sent[0].body_json().unwrap()["instances"][0]["image"];
    assert_eq!(image["bytesBase64Encoded"], png_b64.as_str(), "{image}");
    env.stop().await;
}

/// A custom key may not take any shape the gateway reads as one of its
/// tokens: every minted prefix, and Google's `auth_tokens/` name form.
#[tokio::test]
async fn custom_keys_may_not_look_like_gateway_tokens() {
    let env = start().await;
    for key in [
        "bt_rl_customkey0123456789",
        "ek_rl_customkey0123456789",
        "lt_rl_customkey0123456789",
        "auth_tokens/customkey0123456789",
        "auth_tokens/lt_rl_customkey0123456789",
    ] {
        let answer = env
            .send(
                env.http
                    .post(env.url("/key/generate"))
                    .bearer_auth(crate::harness::MASTER_KEY)
                    .json(&json!({"key": key})),
            )
            .await;
        let body = answer.expect_error(400, "invalid_request");
        assert_eq!(body["error"]["param"], "key", "{key}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("auth_tokens/"),
            "{body}"
        );
    }
    env.new_key(json!({"key": "sk-custom-auth_tokens-0001"}))
        .await;
    env.stop().await;
}

/// A 429 from a key's limit carries the `x-ratelimit-*` headers a success
/// does, the refused meter at `remaining: 0`.
#[tokio::test]
async fn key_limit_429s_carry_rate_limit_headers() {
    let env = start().await;
    let key = env.new_key(json!({"rpm": 1})).await;
    let ok = env
        .send(env.req(Method::GET, "/v1/models").bearer_auth(&key))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.header("x-ratelimit-limit-requests").as_deref(),
        Some("1")
    );
    let limited = env
        .send(env.req(Method::GET, "/v1/models").bearer_auth(&key))
        .await;
    limited.expect_error(429, "key_rate_limit_exceeded");
    assert_eq!(
        limited.header("x-ratelimit-limit-requests").as_deref(),
        Some("1")
    );
    assert_eq!(
        limited.header("x-ratelimit-remaining-requests").as_deref(),
        Some("0")
    );
    assert!(limited.header("x-ratelimit-reset-requests").is_some());
    assert!(limited.header("retry-after").is_some());

    // A daily quota: the refused meter at 0, the others as they stand.
    let key = env.new_key(json!({"videos_per_day": 1, "rpm": 100})).await;
    let first = env
        .create_video(&key, json!({"model": "veo-3.1", "prompt": "one"}))
        .await;
    assert_eq!(first.status(), 200);
    let limited = env
        .send(
            env.http
                .post(env.url("/v1/videos"))
                .bearer_auth(&key)
                .json(&json!({"model": "veo-3.1", "prompt": "two"})),
        )
        .await;
    limited.expect_error(429, "video_quota_exceeded");
    assert_eq!(
        limited.header("x-ratelimit-limit-videos").as_deref(),
        Some("1")
    );
    assert_eq!(
        limited.header("x-ratelimit-remaining-videos").as_deref(),
        Some("0")
    );
    assert!(limited.header("x-ratelimit-reset-videos").is_some());
    assert_eq!(
        limited.header("x-ratelimit-limit-requests").as_deref(),
        Some("100")
    );
    env.stop().await;
}
