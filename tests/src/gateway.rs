//! The reelay Worker, built by `worker-build` into `edge/build/`, hosted in
//! real workerd by Miniflare (`tests/harness/serve.mjs`) on a free loopback
//! port with local KV and a SQLite Durable Object.
//!
//! [`Gateway::start`] spawns Node in its own process group and waits for the
//! `READY <url>` line. [`Gateway::stop`] closes the harness's stdin (a clean
//! Miniflare shutdown) and waits; dropping a `Gateway` without `stop` (a
//! failed test) kills the whole process group, so no `workerd` survives.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Test master key.
pub const MASTER_KEY: &str = "sk-master-test-0123456789abcdef";
/// Test sealing key (≥ 32 bytes).
pub const SEALING_KEY: &str = "test-sealing-key-0123456789abcdef0123456789";

/// Options for a gateway instance.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// `REELAY_CONFIG` (object, or a string to test bad JSON); `None` leaves it unset.
    pub config: Option<Value>,
    /// Secret bindings (`MASTER_KEY`, `SEALING_KEY`, provider credentials).
    pub secrets: Vec<(String, String)>,
    /// Directory for KV and Durable Object state, shared between instances
    /// to simulate a redeploy; `None` keeps state in memory.
    pub persist: Option<PathBuf>,
    /// Leave the `QUOTA` Durable Object binding out, to test the gateway
    /// when its quota store cannot be reached.
    pub without_quota_store: bool,
}

impl GatewayOptions {
    /// A config plus the standard test secrets and the given provider credentials.
    pub fn new(config: Value, credentials: &[(&str, &str)]) -> Self {
        let mut secrets = vec![
            ("MASTER_KEY".to_owned(), MASTER_KEY.to_owned()),
            ("SEALING_KEY".to_owned(), SEALING_KEY.to_owned()),
        ];
        secrets.extend(
            credentials
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self {
            config: Some(config),
            secrets,
            persist: None,
            without_quota_store: false,
        }
    }
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    url: String,
    output: Arc<Mutex<Vec<String>>>,
    commands: usize,
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Gateway {
    /// Starts the built worker under Miniflare.
    pub async fn start(options: GatewayOptions) -> std::io::Result<Self> {
        Self::start_from(&repo_root(), options).await
    }

    /// Starts the worker built in another checkout, `root` (its
    /// `edge/build/index.js`, run by its `tests/harness/serve.mjs`).
    pub async fn start_from(root: &Path, options: GatewayOptions) -> std::io::Result<Self> {
        let script = root.join("edge/build/index.js");
        if !script.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} is missing: build the worker first (scripts/build-worker)",
                    script.display()
                ),
            ));
        }
        let mut harness = serde_json::Map::new();
        if let Some(config) = &options.config {
            harness.insert("config".into(), config.clone());
        }
        let secrets: serde_json::Map<String, Value> = options
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        harness.insert("secrets".into(), Value::Object(secrets));
        if options.without_quota_store {
            harness.insert("without_quota_store".into(), Value::Bool(true));
        }
        if let Some(dir) = &options.persist {
            harness.insert(
                "persist".into(),
                Value::from(dir.to_string_lossy().into_owned()),
            );
        }
        let mut child = Command::new("node")
            .arg(root.join("tests/harness/serve.mjs"))
            .env("REELAY_HARNESS_OPTIONS", Value::Object(harness).to_string())
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("READY ") {
                    return Ok(url.trim().to_owned());
                }
            }
            Err(std::io::Error::other(
                "the harness exited before it was ready",
            ))
        })
        .await
        .map_err(|_| std::io::Error::other("the harness did not become ready within 30 s"))??;
        // Keep draining stdout (the worker's log lines) so the pipe never
        // fills, and keep the lines for tests that inspect the logs.
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut sink) = sink.lock() {
                    sink.push(line);
                }
            }
        });
        Ok(Self {
            child,
            url: ready,
            output,
            commands: 0,
        })
    }

    /// Writes `value` under `key` in the gateway's KV namespace `KEYS`
    /// directly, bypassing the Worker (to play a stale KV edge cache).
    pub async fn kv_put(&mut self, key: &str, value: &str) -> std::io::Result<()> {
        self.command(serde_json::json!({"kv_put": {"key": key, "value": value}}))
            .await
            .map(|_| ())
    }

    /// Reads `key` from the gateway's KV namespace `KEYS` directly.
    pub async fn kv_get(&mut self, key: &str) -> std::io::Result<Option<String>> {
        let answer = self
            .command(serde_json::json!({"kv_get": {"key": key}}))
            .await?;
        Ok(answer.as_str().map(str::to_owned))
    }

    /// Sends one control command to the harness and waits for its answer.
    async fn command(&mut self, command: Value) -> std::io::Result<Value> {
        use tokio::io::AsyncWriteExt;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the harness's stdin is closed"))?;
        stdin.write_all(format!("{command}\n").as_bytes()).await?;
        stdin.flush().await?;
        self.commands += 1;
        let ack = format!("ACK {} ", self.commands);
        let nack = format!("NACK {} ", self.commands);
        for _ in 0..400 {
            let lines = self.log_lines();
            if let Some(l) = lines.iter().find_map(|l| l.strip_prefix(&ack)) {
                return serde_json::from_str(l).map_err(std::io::Error::other);
            }
            if let Some(l) = lines.iter().find(|l| l.starts_with(&nack)) {
                return Err(std::io::Error::other(l.clone()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(std::io::Error::other(
            "the harness did not answer a command",
        ))
    }

    /// Every line the worker logged so far (stdout of the harness).
    pub fn log_lines(&self) -> Vec<String> {
        self.output
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the gateway: closes its stdin so Miniflare disposes of workerd,
    /// waits up to 10 s, then kills the process group if anything is left.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        // Drop runs next and kills the group (a no-op once everything exited).
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Node and the workerd it spawned share the process group whose id is
        // Node's pid (`process_group(0)`); kill them all.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
