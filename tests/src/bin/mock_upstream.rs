//! `reelay-mock-upstream`: the mock upstream as a process, for Node/Python
//! end-to-end tests.
//!
//! ```text
//! reelay-mock-upstream [--port N] [--api-key K] [--openai-key K] [--azure-key K]
//!                      [--token-lifetime SECS] [--polls N] [--video-bytes N]
//!                      [--retired-model M]… [--ignore-stdin]
//! ```
//!
//! `--api-key` is the Gemini API key, `--openai-key` the OpenAI key
//! (`Authorization: Bearer`), `--azure-key` the Azure OpenAI key (`api-key`),
//! `--token-lifetime` the `expires_in` of access tokens from `POST /token`
//! (Vertex AI and Cloud Storage; fetch the service-account JSON from
//! `GET /_mock/service-account`), `--retired-model` (repeatable) an upstream
//! model id answered as retired (`MockOptions::retired_models`).
//!
//! Binds `127.0.0.1` (port 0, the default, picks a free port), prints exactly
//! one line `READY http://127.0.0.1:PORT` to stdout, then serves until
//! SIGTERM/SIGINT or until stdin reaches EOF, so a parent that dies takes the
//! mock down with it. Start it with stdin piped (not `/dev/null`, which is at
//! EOF at once), or pass `--ignore-stdin`. Steer it over HTTP with the
//! `/_mock/*` control routes (see `reelay_tests::mock`).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use reelay_tests::mock::{MockOptions, MockUpstream};
use tokio::sync::oneshot;

const USAGE: &str = "usage: reelay-mock-upstream [--port N] [--api-key K] [--openai-key K] \
                     [--azure-key K] [--token-lifetime SECS] [--polls N] [--video-bytes N] \
                     [--retired-model M]... [--ignore-stdin]";

struct Args {
    port: u16,
    ignore_stdin: bool,
    opts: MockOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        ignore_stdin: false,
        opts: MockOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--ignore-stdin" {
            args.ignore_stdin = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_| format!("bad value for {flag}: {value:?}\n{USAGE}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(bad)?,
            "--polls" => args.opts.polls_until_done = value.parse().map_err(bad)?,
            "--video-bytes" => args.opts.video_bytes = value.parse().map_err(bad)?,
            "--api-key" => args.opts.api_key = value,
            "--openai-key" => args.opts.openai_key = value,
            "--azure-key" => args.opts.azure_key = value,
            "--token-lifetime" => args.opts.token_lifetime_secs = value.parse().map_err(bad)?,
            "--retired-model" => args.opts.retired_models.push(value),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Resolves when stdin reaches EOF (or fails). Reads on a plain thread: a
/// tokio stdin read would keep the runtime from shutting down.
fn stdin_closed() -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut stdin = std::io::stdin();
        loop {
            match std::io::Read::read(&mut stdin, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = tx.send(());
    });
    rx
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminated() {
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let mock = match MockUpstream::start_on(addr, args.opts).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("reelay-mock-upstream: cannot bind {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "READY {}", mock.base_url())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    if args.ignore_stdin {
        terminated().await;
    } else {
        let closed = stdin_closed();
        tokio::select! {
            _ = terminated() => {}
            _ = closed => {}
        }
    }
    mock.shutdown().await;
    ExitCode::SUCCESS
}
