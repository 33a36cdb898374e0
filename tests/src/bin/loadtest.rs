//! `reelay-loadtest`: latency percentiles and throughput of the built reelay
//! Worker (in workerd, through the Miniflare harness) against the in-process
//! mock Gemini upstream, all on 127.0.0.1.
//!
//! ```text
//! reelay-loadtest [--requests N] [--concurrency C[,C...]] [--creates N]
//!                 [--warmup N] [--scenario-secs S] [--max-secs S]
//! ```
//!
//! Needs the built worker (`scripts/build-worker` → `edge/build/`) and Node
//! with the repository's `node_modules`. Starts the mock upstream in-process
//! (operations never finish) and the gateway (`tests/harness/serve.mjs`),
//! mints one virtual key, then for each concurrency level runs, after a
//! warm-up:
//!
//! | scenario | request | what it exercises |
//! |---|---|---|
//! | `a mock poll (direct)` | `GET {mock}/v1beta/models/…/operations/{id}` | the floor: client + mock only |
//! | `b /health/liveliness` | gateway, no auth, no upstream | Worker dispatch |
//! | `c GET /v1/models` | gateway, auth (one KV read + quota DO admission) | + key lookup, quota, access rules |
//! | `m GET /v1/models (master key)` | gateway, master key: no KV read, no quota DO | c − m = KV read + DO round trip |
//! | `d GET /v1/videos/{id}` | gateway, auth + unseal + upstream poll + KV job read | gateway overhead = d − a |
//! | `e POST /v1/videos` | gateway, auth + translate + upstream create + seal | bounded by `--creates` |
//!
//! and prints a markdown table (latency in milliseconds) plus the gateway
//! overhead. Every scenario is bounded in count (`--requests`, `--creates`)
//! and in time (`--scenario-secs` each, `--max-secs` in all); both servers
//! are stopped at the end. Results: `docs/benchmarks.md`.
//!
//! Defaults: 2000 requests, concurrency 1, 300 creates, 100 warm-up
//! requests, 20 s per scenario, 110 s in all.

use std::error::Error;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reelay_tests::gateway::{Gateway, GatewayOptions, MASTER_KEY};
use reelay_tests::mock::{MockOptions, MockUpstream};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};

type BoxError = Box<dyn Error + Send + Sync>;

const USAGE: &str = "usage: reelay-loadtest [--requests N] [--concurrency C[,C...]] [--creates N] \
                     [--warmup N] [--scenario-secs S] [--max-secs S]";

/// The Gemini key the mock accepts and the gateway is given.
const GEMINI_KEY: &str = "mock-gemini-key";
/// The upstream model the load goes to.
const UPSTREAM_MODEL: &str = "veo-3.1-generate-preview";
/// A realistic key rule list (the five-rule example of the access module).
const KEY_RULES: [&str; 5] = [
    "gemini/*",
    "veo-3.1-*",
    "!veo-3.1-lite*",
    "group:video",
    "sora-2",
];
const PROMPT: &str = "A calico cat playing a grand piano in a sunlit living room, slow dolly-in";

/// The monotonic clock. `Instant::now` is banned workspace-wide because it
/// panics on wasm32; this binary only ever runs natively.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

struct Args {
    requests: usize,
    concurrency: Vec<usize>,
    creates: usize,
    warmup: usize,
    scenario_limit: Duration,
    total_limit: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        requests: 2000,
        concurrency: vec![1],
        creates: 300,
        warmup: 100,
        scenario_limit: Duration::from_secs(20),
        total_limit: Duration::from_secs(110),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value for {flag}: {value:?}\n{USAGE}");
        let count = |v: &str| v.parse::<usize>().ok().filter(|n| *n > 0);
        match flag.as_str() {
            "--requests" => args.requests = count(&value).ok_or_else(bad)?,
            "--creates" => args.creates = count(&value).ok_or_else(bad)?,
            "--warmup" => args.warmup = value.parse().map_err(|_| bad())?,
            "--concurrency" => {
                args.concurrency = value
                    .split(',')
                    .map(|c| count(c.trim()).filter(|c| *c <= 256))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
            }
            "--scenario-secs" => {
                args.scenario_limit = Duration::from_secs(count(&value).ok_or_else(bad)? as u64);
            }
            "--max-secs" => {
                args.total_limit = Duration::from_secs(count(&value).ok_or_else(bad)? as u64);
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// One kind of request, sent over and over.
#[derive(Clone)]
enum Target {
    /// Poll an operation on the mock directly.
    MockPoll { url: String },
    /// Gateway liveliness.
    Health { url: String },
    /// Gateway model list.
    Models { url: String, key: String },
    /// Gateway video status.
    VideoGet { url: String, key: String },
    /// Gateway video create.
    VideoCreate {
        url: String,
        key: String,
        body: Arc<Value>,
    },
}

impl Target {
    fn request(&self, http: &Client) -> RequestBuilder {
        match self {
            Self::MockPoll { url } => http.get(url).header("x-goog-api-key", GEMINI_KEY),
            Self::Health { url } => http.get(url),
            Self::Models { url, key } | Self::VideoGet { url, key } => {
                http.get(url).bearer_auth(key)
            }
            Self::VideoCreate { url, key, body } => http.post(url).bearer_auth(key).json(&**body),
        }
    }
}

struct Scenario {
    name: &'static str,
    target: Target,
    /// Measured requests at each concurrency level.
    count: usize,
}

/// What one measured run produced.
struct Outcome {
    /// Latency of every successful request.
    latencies: Vec<Duration>,
    /// Requests that failed (transport error or a status other than 200).
    errors: usize,
    /// The first failure, for the log.
    first_error: Option<String>,
    /// Wall time of the run.
    elapsed: Duration,
    /// Stopped by the time limit before `count` requests.
    cut: bool,
}

/// Sends `count` requests with `concurrency` in flight, stopping early at
/// `deadline`. Each response body is read in full.
async fn run(
    http: &Client,
    target: &Target,
    count: usize,
    concurrency: usize,
    deadline: Instant,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.min(count) {
        let (http, target, next) = (http.clone(), target.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count / concurrency + 1);
            let (mut errors, mut first_error, mut cut) = (0usize, None, false);
            while next.fetch_add(1, Ordering::Relaxed) < count {
                if now() >= deadline {
                    cut = true;
                    break;
                }
                let t0 = now();
                let result = match target.request(&http).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(_) if status == StatusCode::OK => Ok(()),
                            Ok(body) => Err(format!(
                                "status {status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            )),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("sending: {e}")),
                };
                let took = t0.elapsed();
                match result {
                    Ok(()) => latencies.push(took),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, errors, first_error, cut)
        }));
    }
    let mut outcome = Outcome {
        latencies: Vec::with_capacity(count),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        cut: false,
    };
    for worker in workers {
        match worker.await {
            Ok((latencies, errors, first_error, cut)) => {
                outcome.latencies.extend(latencies);
                outcome.errors += errors;
                outcome.cut |= cut;
                if outcome.first_error.is_none() {
                    outcome.first_error = first_error;
                }
            }
            Err(e) => {
                outcome.errors += 1;
                outcome
                    .first_error
                    .get_or_insert_with(|| format!("worker task failed: {e}"));
            }
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// One row of the results table.
struct Row {
    scenario: &'static str,
    concurrency: usize,
    ok: usize,
    errors: usize,
    cut: bool,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    rps: f64,
}

impl Row {
    fn new(scenario: &'static str, concurrency: usize, mut outcome: Outcome) -> Self {
        outcome.latencies.sort_unstable();
        let l = &outcome.latencies;
        let secs = outcome.elapsed.as_secs_f64();
        Self {
            scenario,
            concurrency,
            ok: l.len(),
            errors: outcome.errors,
            cut: outcome.cut,
            p50: percentile_ms(l, 0.50),
            p90: percentile_ms(l, 0.90),
            p99: percentile_ms(l, 0.99),
            max: percentile_ms(l, 1.0),
            rps: if secs > 0.0 {
                l.len() as f64 / secs
            } else {
                f64::NAN
            },
        }
    }
}

/// Checks a setup response and returns its JSON.
async fn expect_ok(resp: reqwest::Response, what: &str) -> Result<Value, BoxError> {
    let status = resp.status();
    let text = resp.text().await?;
    if status != StatusCode::OK {
        return Err(format!("{what}: status {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

fn str_field(v: &Value, field: &str, what: &str) -> Result<String, BoxError> {
    v[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no {field:?} in {v}").into())
}

fn config(mock_base: &str) -> Value {
    json!({
        "model_groups": [
            {"name": "veo-3.1", "deployments": [
                {"id": "gemini-veo31", "provider": "gemini", "model": UPSTREAM_MODEL,
                 "credential": "GEMINI_API_KEY", "api_base": mock_base}]},
            {"name": "gemini/veo-3.1-fast", "deployments": [
                {"id": "gemini-veo31-fast", "provider": "gemini", "model": "veo-3.1-fast-generate-preview",
                 "credential": "GEMINI_API_KEY", "api_base": mock_base}]},
            {"name": "veo-3.0", "deployments": [
                {"id": "gemini-veo30", "provider": "gemini", "model": "veo-3.0-generate-001",
                 "credential": "GEMINI_API_KEY", "api_base": mock_base}]}
        ],
        "access_groups": {"video": ["veo-*", "sora-2", "openai/sora-*"]},
        "max_body_bytes": 65536
    })
}

/// Mints a key, creates one operation on the mock and one video through the
/// gateway, and returns the scenarios.
async fn scenarios(
    http: &Client,
    mock: &str,
    gateway: &str,
    args: &Args,
) -> Result<Vec<Scenario>, BoxError> {
    let created = http
        .post(format!("{gateway}/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key_alias": "loadtest", "models": KEY_RULES}))
        .send()
        .await?;
    let key = str_field(
        &expect_ok(created, "/key/generate").await?,
        "key",
        "/key/generate",
    )?;

    let op = http
        .post(format!(
            "{mock}/v1beta/models/{UPSTREAM_MODEL}:predictLongRunning"
        ))
        .header("x-goog-api-key", GEMINI_KEY)
        .json(&json!({"instances": [{"prompt": PROMPT}], "parameters": {"sampleCount": 1}}))
        .send()
        .await?;
    let op_name = str_field(
        &expect_ok(op, "predictLongRunning").await?,
        "name",
        "predictLongRunning",
    )?;

    let body = Arc::new(json!({
        "model": "veo-3.1", "prompt": PROMPT, "seconds": "8", "size": "1280x720"
    }));
    let video = http
        .post(format!("{gateway}/v1/videos"))
        .bearer_auth(&key)
        .json(&*body)
        .send()
        .await?;
    let video_id = str_field(&expect_ok(video, "POST /v1/videos").await?, "id", "video")?;

    Ok(vec![
        Scenario {
            name: "a mock poll (direct)",
            target: Target::MockPoll {
                url: format!("{mock}/v1beta/{op_name}"),
            },
            count: args.requests,
        },
        Scenario {
            name: "b GET /health/liveliness",
            target: Target::Health {
                url: format!("{gateway}/health/liveliness"),
            },
            count: args.requests,
        },
        Scenario {
            name: "c GET /v1/models",
            target: Target::Models {
                url: format!("{gateway}/v1/models"),
                key: key.clone(),
            },
            count: args.requests,
        },
        Scenario {
            name: "m GET /v1/models (master key)",
            target: Target::Models {
                url: format!("{gateway}/v1/models"),
                key: MASTER_KEY.to_owned(),
            },
            count: args.requests,
        },
        Scenario {
            name: "d GET /v1/videos/{id}",
            target: Target::VideoGet {
                url: format!("{gateway}/v1/videos/{video_id}"),
                key: key.clone(),
            },
            count: args.requests,
        },
        Scenario {
            name: "e POST /v1/videos",
            target: Target::VideoCreate {
                url: format!("{gateway}/v1/videos"),
                key,
                body,
            },
            count: args.creates.min(args.requests),
        },
    ])
}

/// Runs every scenario at every concurrency level.
async fn measure(http: &Client, scenarios: &[Scenario], args: &Args, overall: Instant) -> Vec<Row> {
    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        for s in scenarios {
            if now() >= overall {
                eprintln!("skipping {} at c={concurrency}: --max-secs reached", s.name);
                continue;
            }
            let deadline = (now() + args.scenario_limit).min(overall);
            let warmup = args.warmup.min(s.count);
            if warmup > 0 {
                let w = run(http, &s.target, warmup, concurrency, deadline).await;
                if let Some(e) = &w.first_error {
                    eprintln!("warm-up of {} saw errors: {e}", s.name);
                }
            }
            let outcome = run(http, &s.target, s.count, concurrency, deadline).await;
            if let Some(e) = &outcome.first_error {
                eprintln!(
                    "{} at c={concurrency}: {} errors, first: {e}",
                    s.name, outcome.errors
                );
            }
            let row = Row::new(s.name, concurrency, outcome);
            eprintln!(
                "{:<26} c={:<3} n={:<5} p50 {:>7.3} ms  p99 {:>7.3} ms  {:>7.1} req/s",
                row.scenario, row.concurrency, row.ok, row.p50, row.p99, row.rps
            );
            rows.push(row);
        }
    }
    rows
}

fn print_report(rows: &[Row], args: &Args) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "reelay-loadtest: {} requests ({} creates) per scenario after {} warm-up, \
         {cores} CPU cores, loopback\n",
        args.requests,
        args.creates.min(args.requests),
        args.warmup
    );
    println!("| scenario | conc | ok | errors | p50 ms | p90 ms | p99 ms | max ms | req/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {}{} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
            r.scenario,
            if r.cut { " (cut by time limit)" } else { "" },
            r.concurrency,
            r.ok,
            r.errors,
            r.p50,
            r.p90,
            r.p99,
            r.max,
            r.rps
        );
    }
    println!("\nKey lookup + quota admission (c − m):\n");
    println!("| conc | p50 ms | p90 ms | p99 ms |");
    println!("|---:|---:|---:|---:|");
    for &c in &args.concurrency {
        let find = |prefix: &str| {
            rows.iter()
                .find(|r| r.concurrency == c && r.scenario.starts_with(prefix))
        };
        if let (Some(m), Some(k)) = (find("m "), find("c ")) {
            println!(
                "| {c} | {:.3} | {:.3} | {:.3} |",
                k.p50 - m.p50,
                k.p90 - m.p90,
                k.p99 - m.p99
            );
        }
    }
    println!("\nGateway overhead on a status poll (d − a):\n");
    println!("| conc | p50 ms | p90 ms | p99 ms |");
    println!("|---:|---:|---:|---:|");
    for &c in &args.concurrency {
        let find = |prefix: &str| {
            rows.iter()
                .find(|r| r.concurrency == c && r.scenario.starts_with(prefix))
        };
        if let (Some(a), Some(d)) = (find("a "), find("d ")) {
            println!(
                "| {c} | {:.3} | {:.3} | {:.3} |",
                d.p50 - a.p50,
                d.p90 - a.p90,
                d.p99 - a.p99
            );
        }
    }
}

/// The `quota_ms` of every request's log line: the admission round trip to
/// the key's quota Durable Object, as the Worker timed it (ms resolution).
fn quota_round_trips(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("quota_ms").and_then(Value::as_u64))
        .collect()
}

fn print_quota_round_trips(mut ms: Vec<u64>) {
    if ms.is_empty() {
        return;
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let mean = ms.iter().sum::<u64>() as f64 / ms.len() as f64;
    println!(
        "\nQuota Durable Object admission round trip, as timed in the Worker ({} requests):\n",
        ms.len()
    );
    println!("| mean ms | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {mean:.2} | {} | {} | {} | {} |",
        at(0.5),
        at(0.9),
        at(0.99),
        ms[ms.len() - 1]
    );
}

async fn main_inner(args: Args) -> Result<bool, BoxError> {
    let overall = now() + args.total_limit;
    let mock = MockUpstream::start(MockOptions {
        api_key: GEMINI_KEY.to_owned(),
        // Operations never finish: every poll is a "running" answer.
        polls_until_done: u32::MAX,
        ..MockOptions::default()
    })
    .await?;
    let mock_url = mock.base_url();
    let gateway = match Gateway::start(GatewayOptions::new(
        config(&mock_url),
        &[("GEMINI_API_KEY", GEMINI_KEY)],
    ))
    .await
    {
        Ok(g) => g,
        Err(e) => {
            mock.shutdown().await;
            return Err(e.into());
        }
    };
    eprintln!("mock {mock_url}, gateway {}", gateway.url());
    let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
    let result = async {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(max_conc)
            .tcp_nodelay(true)
            .build()?;
        let scenarios = scenarios(&http, &mock_url, gateway.url(), &args).await?;
        Ok::<_, BoxError>(measure(&http, &scenarios, &args, overall).await)
    }
    .await;
    let quota_ms = quota_round_trips(&gateway.log_lines());
    gateway.stop().await;
    mock.shutdown().await;
    let rows = result?;
    print_report(&rows, &args);
    print_quota_round_trips(quota_ms);
    Ok(rows.iter().all(|r| r.errors == 0 && r.ok > 0))
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
    match main_inner(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("some requests failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("reelay-loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}
