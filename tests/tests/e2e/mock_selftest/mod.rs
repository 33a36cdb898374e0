//! Self-tests of the mock upstream (`reelay_tests::mock` and the
//! `reelay-mock-upstream` binary): it must speak the providers' real wire
//! formats and obey its controls, or the end-to-end tests prove nothing.
//! They talk to the mock directly; no gateway is started.

use std::process::Stdio;
use std::time::Duration;

use reelay_tests::mock::{MockOptions, MockUpstream};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

mod gemini;
mod omni;
mod providers;
mod responses;

/// The client of the self-tests: it follows the mock's redirects (to its
/// blobs) like a provider SDK, and gives up after 5 s.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A mock with `options`.
async fn start_with(options: MockOptions) -> MockUpstream {
    MockUpstream::start(options).await.unwrap()
}

/// A mock whose jobs are done on the `polls`-th poll, serving videos of
/// `video_bytes` bytes.
async fn start(polls: u32, video_bytes: usize) -> MockUpstream {
    start_with(MockOptions {
        polls_until_done: polls,
        video_bytes,
        ..MockOptions::default()
    })
    .await
}

/// The status and JSON body of `resp` (the text in the panic if not JSON).
async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, v)
}

/// Asserts a Google-shaped error with HTTP `code` and canonical `status`.
fn assert_google_error(v: &Value, code: u16, status: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["status"], status, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

/// The `reelay-mock-upstream` binary, started.
struct MockBinary {
    child: Child,
    /// Its stdout after the `READY` line.
    lines: Lines<BufReader<ChildStdout>>,
    /// The URL of its `READY <url>` line.
    base: String,
}

/// Starts the binary with `args` and `stdin` and waits (5 s at most) for
/// its `READY http://127.0.0.1:PORT` line.
async fn spawn_binary(args: &[&str], stdin: Stdio) -> MockBinary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reelay-mock-upstream"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("READY ").unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    MockBinary { child, lines, base }
}
