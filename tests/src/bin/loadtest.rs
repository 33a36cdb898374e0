//! `reelay-loadtest`: latency percentiles and throughput of the built reelay
//! Worker (in workerd, through the Miniflare harness) against the in-process
//! mock upstream (Gemini video and the OpenAI Responses API), all on
//! 127.0.0.1; optionally the Worker of another checkout side by side.
//!
//! ```text
//! reelay-loadtest [--requests N] [--concurrency C[,C...]] [--creates N]
//!                 [--warmup N] [--scenario-secs S] [--max-secs S]
//!                 [--baseline DIR]
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
//! | `a mock poll (direct)` | `GET {mock}/v1beta/models/…/operations/{id}` | the poll floor: client + mock only |
//! | `b /health/liveliness` | gateway, no auth, no upstream | Worker dispatch |
//! | `c GET /v1/models` | gateway, auth (one KV read + quota DO admission) | + key lookup, quota, access rules |
//! | `m GET /v1/models (master key)` | gateway, master key: no KV read, no quota DO | c − m = KV read + DO round trip |
//! | `d GET /v1/videos/{id}` | gateway, auth + unseal + upstream poll + KV job read | poll overhead = d − a |
//! | `r POST /v1/responses (direct mock)` | `POST {mock}/v1/responses`, the mock's OpenAI key | the Responses floor |
//! | `f POST /v1/responses` | gateway, the same body, non-streaming | Responses overhead = f − r |
//! | `g POST predictLongRunning (direct mock)` | `POST {mock}/v1beta/models/…:predictLongRunning` | the create floor, bounded by `--creates` |
//! | `e POST /v1/videos` | gateway, auth + translate + upstream create + seal | create overhead = e − g, bounded by `--creates` |
//!
//! `--baseline DIR` names another checkout's root holding a built Worker
//! (`DIR/edge/build/index.js`, started by `DIR/tests/harness/serve.mjs`):
//! both gateways are started against the same mock, each gets its own key,
//! and every gateway scenario is measured on the baseline and then on the
//! current Worker back to back, so machine noise hits both alike; the
//! direct-mock floors are measured once per level and serve both.
//!
//! Prints markdown tables (latency in milliseconds): every measurement, the
//! current/baseline comparison with the throughput ratio (with
//! `--baseline`), and the overheads over the direct-mock floors at p50 and
//! p99 for each gateway. Every scenario is bounded in count (`--requests`,
//! `--creates`) and in time (`--scenario-secs` per scenario and gateway,
//! `--max-secs` in all); every server is stopped at the end. Results:
//! `docs/benchmarks.md`.
//!
//! Defaults: 2000 requests, concurrency 1, 300 creates, 100 warm-up
//! requests, 20 s per scenario, 230 s in all.

use std::error::Error;
use std::path::PathBuf;
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
                     [--warmup N] [--scenario-secs S] [--max-secs S] [--baseline DIR]";

/// The Gemini key the mock accepts and the gateway is given.
const GEMINI_KEY: &str = "mock-gemini-key";
/// The OpenAI key the mock's Responses API accepts and the gateway is given.
const OPENAI_KEY: &str = "mock-openai-key";
/// The upstream model the video load goes to.
const UPSTREAM_MODEL: &str = "veo-3.1-generate-preview";
/// The Responses model group the key asks for.
const RESPONSES_MODEL: &str = "gpt-5";
/// A realistic key rule list (the five-rule example of the access module,
/// its exact rule naming the Responses model).
const KEY_RULES: [&str; 5] = [
    "gemini/*",
    "veo-3.1-*",
    "!veo-3.1-lite*",
    "group:video",
    RESPONSES_MODEL,
];
const PROMPT: &str = "A calico cat playing a grand piano in a sunlit living room, slow dolly-in";

/// Row label of the direct-mock floors.
const MOCK: &str = "mock";
/// Row label of the Worker of `--baseline DIR`.
const BASELINE: &str = "baseline";
/// Row label of this checkout's Worker.
const CURRENT: &str = "current";

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
    baseline: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        requests: 2000,
        concurrency: vec![1],
        creates: 300,
        warmup: 100,
        scenario_limit: Duration::from_secs(20),
        total_limit: Duration::from_secs(230),
        baseline: None,
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
            "--baseline" => {
                let dir = PathBuf::from(&value);
                for needed in ["edge/build/index.js", "tests/harness/serve.mjs"] {
                    if !dir.join(needed).is_file() {
                        return Err(format!(
                            "--baseline {value}: no {needed} there (a checkout root with a \
                             built worker)\n{USAGE}"
                        ));
                    }
                }
                args.baseline = Some(dir);
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// One kind of request, sent over and over.
#[derive(Clone)]
enum Target {
    /// A GET straight to the mock's Gemini API.
    GeminiGet { url: String },
    /// A JSON POST straight to the mock's Gemini API.
    GeminiPost { url: String, body: Arc<Value> },
    /// A GET, with a bearer key or none.
    Get { url: String, key: Option<String> },
    /// A JSON POST with a bearer key (the gateway's, or the mock's OpenAI key).
    Post {
        url: String,
        key: String,
        body: Arc<Value>,
    },
}

impl Target {
    fn request(&self, http: &Client) -> RequestBuilder {
        match self {
            Self::GeminiGet { url } => http.get(url).header("x-goog-api-key", GEMINI_KEY),
            Self::GeminiPost { url, body } => http
                .post(url)
                .header("x-goog-api-key", GEMINI_KEY)
                .json(&**body),
            Self::Get { url, key: None } => http.get(url),
            Self::Get {
                url,
                key: Some(key),
            } => http.get(url).bearer_auth(key),
            Self::Post { url, key, body } => http.post(url).bearer_auth(key).json(&**body),
        }
    }
}

struct Scenario {
    name: &'static str,
    /// What to send, per row label: the mock alone, or each gateway in
    /// measuring order (baseline first).
    targets: Vec<(&'static str, Target)>,
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
    /// [`MOCK`], [`BASELINE`] or [`CURRENT`].
    gateway: &'static str,
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
    fn new(
        scenario: &'static str,
        gateway: &'static str,
        concurrency: usize,
        mut outcome: Outcome,
    ) -> Self {
        outcome.latencies.sort_unstable();
        let l = &outcome.latencies;
        let secs = outcome.elapsed.as_secs_f64();
        Self {
            scenario,
            gateway,
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
                 "credential": "GEMINI_API_KEY", "api_base": mock_base}]},
            {"name": RESPONSES_MODEL, "deployments": [
                {"id": "openai-gpt5", "provider": "openai", "model": "gpt-5-2025-08-07",
                 "credential": "OPENAI_API_KEY", "api_base": mock_base}]}
        ],
        "access_groups": {"video": ["veo-*", "sora-2", "openai/sora-*"]},
        "max_body_bytes": 65536
    })
}

/// The non-streaming Responses request of scenarios `r` and `f`.
fn responses_body() -> Value {
    json!({"model": RESPONSES_MODEL, "input": "hi"})
}

/// The video create request of scenario `e`.
fn video_body() -> Value {
    json!({"model": "veo-3.1", "prompt": PROMPT, "seconds": "8", "size": "1280x720"})
}

/// The upstream create request of scenario `g`.
fn predict_body() -> Value {
    json!({"instances": [{"prompt": PROMPT}], "parameters": {"sampleCount": 1}})
}

/// One gateway under load, set up.
struct Side {
    /// [`BASELINE`] or [`CURRENT`].
    label: &'static str,
    url: String,
    /// A virtual key with [`KEY_RULES`].
    key: String,
    /// A video created through this gateway (never finishes).
    video_id: String,
}

/// Mints a key on one gateway, creates a video through it and checks a
/// Responses request goes through.
async fn set_up(http: &Client, label: &'static str, url: &str) -> Result<Side, BoxError> {
    let created = http
        .post(format!("{url}/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key_alias": "loadtest", "models": KEY_RULES}))
        .send()
        .await?;
    let what = format!("{label} /key/generate");
    let key = str_field(&expect_ok(created, &what).await?, "key", &what)?;

    let video = http
        .post(format!("{url}/v1/videos"))
        .bearer_auth(&key)
        .json(&video_body())
        .send()
        .await?;
    let what = format!("{label} POST /v1/videos");
    let video_id = str_field(&expect_ok(video, &what).await?, "id", &what)?;

    let response = http
        .post(format!("{url}/v1/responses"))
        .bearer_auth(&key)
        .json(&responses_body())
        .send()
        .await?;
    expect_ok(response, &format!("{label} POST /v1/responses")).await?;

    Ok(Side {
        label,
        url: url.to_owned(),
        key,
        video_id,
    })
}

/// Creates one operation on the mock and returns the scenarios, in
/// measuring order.
async fn scenarios(
    http: &Client,
    mock: &str,
    sides: &[Side],
    args: &Args,
) -> Result<Vec<Scenario>, BoxError> {
    let predict_url = format!("{mock}/v1beta/models/{UPSTREAM_MODEL}:predictLongRunning");
    let op = http
        .post(&predict_url)
        .header("x-goog-api-key", GEMINI_KEY)
        .json(&predict_body())
        .send()
        .await?;
    let op_name = str_field(
        &expect_ok(op, "predictLongRunning").await?,
        "name",
        "predictLongRunning",
    )?;

    let direct = |name, count, target| Scenario {
        name,
        targets: vec![(MOCK, target)],
        count,
    };
    let through = |name, count, target: &dyn Fn(&Side) -> Target| Scenario {
        name,
        targets: sides.iter().map(|s| (s.label, target(s))).collect(),
        count,
    };
    let creates = args.creates.min(args.requests);
    let responses = Arc::new(responses_body());
    Ok(vec![
        direct(
            "a mock poll (direct)",
            args.requests,
            Target::GeminiGet {
                url: format!("{mock}/v1beta/{op_name}"),
            },
        ),
        through("b GET /health/liveliness", args.requests, &|s| {
            Target::Get {
                url: format!("{}/health/liveliness", s.url),
                key: None,
            }
        }),
        through("c GET /v1/models", args.requests, &|s| Target::Get {
            url: format!("{}/v1/models", s.url),
            key: Some(s.key.clone()),
        }),
        through("m GET /v1/models (master key)", args.requests, &|s| {
            Target::Get {
                url: format!("{}/v1/models", s.url),
                key: Some(MASTER_KEY.to_owned()),
            }
        }),
        through("d GET /v1/videos/{id}", args.requests, &|s| Target::Get {
            url: format!("{}/v1/videos/{}", s.url, s.video_id),
            key: Some(s.key.clone()),
        }),
        direct(
            "r POST /v1/responses (direct mock)",
            args.requests,
            Target::Post {
                url: format!("{mock}/v1/responses"),
                key: OPENAI_KEY.to_owned(),
                body: responses.clone(),
            },
        ),
        through("f POST /v1/responses", args.requests, &|s| Target::Post {
            url: format!("{}/v1/responses", s.url),
            key: s.key.clone(),
            body: responses.clone(),
        }),
        direct(
            "g POST predictLongRunning (direct mock)",
            creates,
            Target::GeminiPost {
                url: predict_url.clone(),
                body: Arc::new(predict_body()),
            },
        ),
        through("e POST /v1/videos", creates, &|s| Target::Post {
            url: format!("{}/v1/videos", s.url),
            key: s.key.clone(),
            body: Arc::new(video_body()),
        }),
    ])
}

/// Runs every scenario at every concurrency level, each gateway's
/// measurement right after the other's.
async fn measure(http: &Client, scenarios: &[Scenario], args: &Args, overall: Instant) -> Vec<Row> {
    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        for s in scenarios {
            for (gateway, target) in &s.targets {
                if now() >= overall {
                    eprintln!(
                        "skipping {} ({gateway}) at c={concurrency}: --max-secs reached",
                        s.name
                    );
                    continue;
                }
                let deadline = (now() + args.scenario_limit).min(overall);
                let warmup = args.warmup.min(s.count);
                if warmup > 0 {
                    let w = run(http, target, warmup, concurrency, deadline).await;
                    if let Some(e) = &w.first_error {
                        eprintln!("warm-up of {} ({gateway}) saw errors: {e}", s.name);
                    }
                }
                let outcome = run(http, target, s.count, concurrency, deadline).await;
                if let Some(e) = &outcome.first_error {
                    eprintln!(
                        "{} ({gateway}) at c={concurrency}: {} errors, first: {e}",
                        s.name, outcome.errors
                    );
                }
                let row = Row::new(s.name, gateway, concurrency, outcome);
                eprintln!(
                    "{:<40} {:<8} c={:<3} n={:<5} p50 {:>7.3} ms  p99 {:>7.3} ms  {:>7.1} req/s",
                    row.scenario, row.gateway, row.concurrency, row.ok, row.p50, row.p99, row.rps
                );
                rows.push(row);
            }
        }
    }
    rows
}

/// The row of the scenario whose name starts with `letter` and a space.
fn find<'a>(rows: &'a [Row], c: usize, gateway: &str, letter: char) -> Option<&'a Row> {
    rows.iter().find(|r| {
        r.concurrency == c
            && r.gateway == gateway
            && r.scenario
                .strip_prefix(letter)
                .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// `x − floor` at p50 and p99 as two table cells, or dashes.
fn overhead(x: Option<&Row>, floor: Option<&Row>) -> String {
    match (x, floor) {
        (Some(x), Some(f)) => format!("{:.3} | {:.3}", x.p50 - f.p50, x.p99 - f.p99),
        _ => "– | –".to_owned(),
    }
}

fn print_report(rows: &[Row], gateways: &[&'static str], args: &Args, took: Duration) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "reelay-loadtest: {} requests ({} creates) per scenario after {} warm-up, \
         {cores} CPU cores, loopback, {} s in all{}\n",
        args.requests,
        args.creates.min(args.requests),
        args.warmup,
        took.as_secs(),
        match &args.baseline {
            Some(dir) => format!(", baseline {}", dir.display()),
            None => String::new(),
        }
    );
    println!(
        "| scenario | gateway | conc | ok | errors | p50 ms | p90 ms | p99 ms | max ms | req/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {}{} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
            r.scenario,
            if r.cut { " (cut by time limit)" } else { "" },
            r.gateway,
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

    if gateways.contains(&BASELINE) {
        println!("\nCurrent against baseline (ratio = current req/s ÷ baseline req/s):\n");
        println!(
            "| scenario | conc | p50 base | p50 cur | p99 base | p99 cur | req/s base | req/s cur | ratio |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for cur in rows.iter().filter(|r| r.gateway == CURRENT) {
            let Some(base) = rows.iter().find(|r| {
                r.gateway == BASELINE
                    && r.scenario == cur.scenario
                    && r.concurrency == cur.concurrency
            }) else {
                continue;
            };
            println!(
                "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | {:.2} |",
                cur.scenario,
                cur.concurrency,
                base.p50,
                cur.p50,
                base.p99,
                cur.p99,
                base.rps,
                cur.rps,
                cur.rps / base.rps
            );
        }
    }

    println!(
        "\nGateway overhead over the direct-mock floor, ms: poll = d − a, \
         Responses = f − r, create = e − g; key lookup + quota admission = c − m:\n"
    );
    println!(
        "| conc | gateway | poll p50 | poll p99 | Responses p50 | Responses p99 \
         | create p50 | create p99 | c − m p50 | c − m p99 |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &c in &args.concurrency {
        for &g in gateways {
            let mock = |letter| find(rows, c, MOCK, letter);
            let gw = |letter| find(rows, c, g, letter);
            println!(
                "| {c} | {g} | {} | {} | {} | {} |",
                overhead(gw('d'), mock('a')),
                overhead(gw('f'), mock('r')),
                overhead(gw('e'), mock('g')),
                overhead(gw('c'), gw('m')),
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

fn print_quota_round_trips(per_gateway: Vec<(&'static str, Vec<u64>)>) {
    if per_gateway.iter().all(|(_, ms)| ms.is_empty()) {
        return;
    }
    println!("\nQuota Durable Object admission round trip, as timed in the Worker:\n");
    println!("| gateway | requests | mean ms | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (gateway, mut ms) in per_gateway {
        if ms.is_empty() {
            continue;
        }
        ms.sort_unstable();
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        let mean = ms.iter().sum::<u64>() as f64 / ms.len() as f64;
        println!(
            "| {gateway} | {} | {mean:.2} | {} | {} | {} | {} |",
            ms.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            ms[ms.len() - 1]
        );
    }
}

/// Starts the baseline gateway (if any) and the current one.
async fn start_gateways(
    args: &Args,
    options: GatewayOptions,
    into: &mut Vec<(&'static str, Gateway)>,
) -> Result<(), BoxError> {
    if let Some(dir) = &args.baseline {
        let gateway = Gateway::start_from(dir, options.clone())
            .await
            .map_err(|e| format!("starting the baseline gateway in {}: {e}", dir.display()))?;
        into.push((BASELINE, gateway));
    }
    let gateway = Gateway::start(options)
        .await
        .map_err(|e| format!("starting the gateway: {e}"))?;
    into.push((CURRENT, gateway));
    Ok(())
}

async fn main_inner(args: Args) -> Result<bool, BoxError> {
    let started = now();
    let overall = started + args.total_limit;
    let mock = MockUpstream::start(MockOptions {
        api_key: GEMINI_KEY.to_owned(),
        // Operations never finish: every poll is a "running" answer.
        polls_until_done: u32::MAX,
        ..MockOptions::default()
    })
    .await?;
    let mock_url = mock.base_url();
    let options = GatewayOptions::new(
        config(&mock_url),
        &[
            ("GEMINI_API_KEY", GEMINI_KEY),
            ("OPENAI_API_KEY", OPENAI_KEY),
        ],
    );
    let mut gateways = Vec::new();
    let result = async {
        start_gateways(&args, options, &mut gateways).await?;
        for (label, g) in &gateways {
            eprintln!("mock {mock_url}, {label} gateway {}", g.url());
        }
        let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(max_conc)
            .tcp_nodelay(true)
            .build()?;
        let mut sides = Vec::with_capacity(gateways.len());
        for (label, g) in &gateways {
            sides.push(set_up(&http, label, g.url()).await?);
        }
        let scenarios = scenarios(&http, &mock_url, &sides, &args).await?;
        Ok::<_, BoxError>(measure(&http, &scenarios, &args, overall).await)
    }
    .await;
    let labels: Vec<&'static str> = gateways.iter().map(|(label, _)| *label).collect();
    let mut quota_ms = Vec::new();
    for (label, gateway) in gateways {
        quota_ms.push((label, quota_round_trips(&gateway.log_lines())));
        gateway.stop().await;
    }
    mock.shutdown().await;
    let rows = result?;
    print_report(&rows, &labels, &args, started.elapsed());
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
