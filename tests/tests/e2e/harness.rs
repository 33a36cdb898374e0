//! The one environment every end-to-end module uses: a mock upstream and
//! the built Worker in workerd in front of it ([`Env`]), virtual keys from
//! the admin API, the common requests, the gateway's error and leak
//! assertions.
//!
//! Each test starts its own [`Env`] (its own mock and gateway on free
//! loopback ports) and stops it, so tests share no state and run in
//! parallel; what differs between modules is only the config (and the
//! provider credentials it names) handed to [`Env::start`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use reelay_tests::gateway::{Gateway, GatewayOptions};
pub(crate) use reelay_tests::gateway::{MASTER_KEY, SEALING_KEY};
use reelay_tests::mock::{MockOptions, MockUpstream, RecordedRequest};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};

/// The mock's Gemini API key (`MockOptions::default()`).
pub(crate) const GEMINI_KEY: &str = "mock-gemini-key";
/// The mock's OpenAI key, of the Responses organization `org-alpha`.
pub(crate) const OPENAI_KEY: &str = "mock-openai-key";
/// The mock's second OpenAI key, of the Responses organization `org-beta`.
pub(crate) const OPENAI_KEY_BETA: &str = "mock-openai-key-2";
/// The mock's Azure OpenAI key.
pub(crate) const AZURE_KEY: &str = "mock-azure-key";

/// A WebRTC SDP offer with one audio section, as a browser sends it.
pub(crate) const SDP_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
                                    s=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
                                    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
                                    a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n";

/// The HTTP client of the tests: redirects are not followed (a redirect
/// from the gateway is what a test sees, never where it leads), and up to
/// 64 idle connections per host are kept for the concurrency tests.
pub(crate) fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

/// A fresh directory path for persisted KV and Durable Object state, unique
/// within this test process (gateways started on it share that state, as
/// across a redeploy). The caller removes it.
pub(crate) fn state_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "reelay-e2e-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The host clock in Unix seconds (native test code: the wasm-only lint
/// against the wall clock does not apply).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A mock upstream and a gateway in front of it.
pub(crate) struct Env {
    pub(crate) mock: MockUpstream,
    pub(crate) gateway: Gateway,
    pub(crate) http: Client,
    /// Every header, body, frame and close reason the gateway sent back to
    /// a client (through [`Env::send`] or [`Env::record`]), for leak checks.
    seen: Mutex<Vec<String>>,
    /// The admin API's answers (they carry virtual keys by design), checked
    /// for provider secrets only.
    seen_by_admin: Mutex<Vec<String>>,
}

impl Env {
    /// Starts a mock with `mock` options, then a gateway with the options
    /// `gateway` makes for that mock (its config names the mock's URL).
    pub(crate) async fn start(
        mock: MockOptions,
        gateway: impl FnOnce(&MockUpstream) -> GatewayOptions,
    ) -> Self {
        let mock = MockUpstream::start(mock).await.expect("mock starts");
        let gateway = Gateway::start(gateway(&mock))
            .await
            .expect("gateway starts");
        Self {
            mock,
            gateway,
            http: client(),
            seen: Mutex::new(Vec::new()),
            seen_by_admin: Mutex::new(Vec::new()),
        }
    }

    /// Stops the gateway, then the mock.
    pub(crate) async fn stop(self) {
        self.gateway.stop().await;
        self.mock.shutdown().await;
    }

    /// The gateway's URL for `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    /// The gateway's WebSocket URL for `path`.
    pub(crate) fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url().replacen("http", "ws", 1))
    }

    /// A request to the gateway.
    pub(crate) fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends `request` and reads the answer whole, recording its headers
    /// and body for [`Env::assert_no_leaks`].
    pub(crate) async fn send(&self, request: RequestBuilder) -> Answer {
        let answer = Answer::read(request.send().await.unwrap()).await;
        let mut seen = self.seen.lock().unwrap();
        seen.extend(answer.lines());
        answer
    }

    /// Records something the gateway sent to a client (a handshake header,
    /// a frame, a close reason) for [`Env::assert_no_leaks`].
    pub(crate) fn record(&self, text: impl Into<String>) {
        self.seen.lock().unwrap().push(text.into());
    }

    /// Everything recorded as sent to clients, admin answers excepted.
    pub(crate) fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// POSTs `body` to the admin route `path` with the master key; asserts
    /// a 200 and returns its JSON.
    pub(crate) async fn admin(&self, path: &str, body: Value) -> Value {
        let answer = Answer::read(
            self.http
                .post(self.url(path))
                .bearer_auth(MASTER_KEY)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        self.seen_by_admin.lock().unwrap().extend(answer.lines());
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        answer.json()
    }

    /// A new virtual key (`/key/generate` with `body`).
    pub(crate) async fn new_key(&self, body: Value) -> String {
        self.new_key_and_token(body).await.0
    }

    /// A new virtual key and its token (the hash admin routes also accept).
    pub(crate) async fn new_key_and_token(&self, body: Value) -> (String, String) {
        let info = self.admin("/key/generate", body).await;
        (
            info["key"].as_str().unwrap().to_owned(),
            info["token"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET path` with `key` as Bearer.
    pub(crate) async fn get(&self, key: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/videos` with a JSON `body` and `key` as Bearer.
    pub(crate) async fn create_video(&self, key: &str, body: Value) -> Response {
        self.http
            .post(self.url("/v1/videos"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/realtime/client_secrets` with `body` and `key` as Bearer.
    pub(crate) async fn mint_realtime(&self, key: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(self.url("/v1/realtime/client_secrets"))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    /// Mints a realtime session on `model` and returns the reelay token.
    pub(crate) async fn realtime_token(&self, key: &str, model: &str) -> String {
        let answer = self
            .mint_realtime(
                key,
                json!({"expires_after": {"anchor": "created_at", "seconds": 600},
                       "session": {"type": "realtime", "model": model, "instructions": "be brief"}}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["value"].as_str().unwrap().to_owned()
    }

    /// What the mock recorded for paths ending in `suffix`.
    pub(crate) fn upstream(&self, suffix: &str) -> Vec<RecordedRequest> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    /// The mock's realtime state (`GET /_mock/realtime`): issued ephemeral
    /// keys, calls, sockets.
    pub(crate) async fn realtime_state(&self) -> Value {
        self.http
            .get(format!("{}/_mock/realtime", self.mock.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The mock's Live state (`GET /_mock/live`): sessions and the OAuth
    /// tokens it issued; `null` if unreadable.
    pub(crate) async fn live_state(&self) -> Value {
        let resp = self
            .http
            .get(format!("{}/_mock/live", self.mock.base_url()))
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap_or(Value::Null)
    }

    /// The ephemeral keys the mock issued.
    pub(crate) async fn issued_keys(&self) -> Vec<String> {
        self.realtime_state().await["ephemeral_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["value"].as_str().unwrap().to_owned())
            .collect()
    }

    /// No provider key, service-account key, upstream ephemeral key or OAuth
    /// token in anything the gateway answered, sent over a socket or
    /// logged; every `ek_` seen is a reelay token.
    pub(crate) async fn assert_no_leaks(&self) {
        let issued = self.issued_keys().await;
        let tokens: Vec<String> = self.live_state().await["bearer_tokens"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let seen = self.seen();
        let admin = self.seen_by_admin.lock().unwrap().clone();
        let logs = self.gateway.log_lines();
        for text in seen.iter().chain(admin.iter()).chain(logs.iter()) {
            for secret in [OPENAI_KEY, AZURE_KEY, GEMINI_KEY, "BEGIN PRIVATE KEY"] {
                assert!(!text.contains(secret), "a provider secret leaked: {text}");
            }
            for credential in issued.iter().chain(tokens.iter()) {
                assert!(
                    !text.contains(credential.as_str()),
                    "an upstream credential leaked: {text}"
                );
            }
            // The mock's keys are `ek_` + 32 hex digits; a reelay token
            // (`ek_rl_` + base64url) never looks like that.
            for (at, _) in text.match_indices("ek_") {
                let tail = &text.as_bytes()[at + 3..];
                let hexlike = tail.len() >= 32
                    && tail[..32]
                        .iter()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
                assert!(!hexlike, "an upstream-shaped ephemeral key: {text}");
            }
        }
    }
}

/// An answer of the gateway, read whole.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    /// Reads `resp` whole.
    pub(crate) async fn read(resp: Response) -> Self {
        Self {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
        }
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// Asserts a 200 and returns the JSON body.
    pub(crate) fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }

    /// Asserts reelay's OpenAI-shaped error: `status`, a request id, a JSON
    /// body with `code`, a message and a type; returns the body.
    pub(crate) fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(self.header("x-request-id").is_some());
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json")
        );
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(body["error"]["type"].is_string());
        body
    }

    /// Headers (`name: value`) and body, as recorded for leak checks.
    fn lines(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("")))
            .chain([self.text.clone()])
            .collect()
    }
}

/// Asserts reelay's OpenAI-shaped error (see [`Answer::expect_error`]) on
/// `resp` and returns its body.
pub(crate) async fn expect_error(resp: Response, status: u16, code: &str) -> Value {
    Answer::read(resp).await.expect_error(status, code)
}

/// A header of `resp`.
pub(crate) fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}
