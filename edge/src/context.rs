// Per-request context, a plain record every module reads: environment,
// clock, request id, cached config and sealing keys, the request's CORS origin,
// what the quota store said and what is left to settle, the deployment that
// served, and the fields of the request's log line. It imports no feature
// module of the edge; `finish` completes every response from it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use reelay_core::config::{Config, ConfigError};
use reelay_core::cors::{OriginVerdict, RequestOrigin};
use reelay_core::encoding::hex;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::KeyRecord;
use reelay_core::quota::{Cost, Settlement, Standing};
use reelay_core::seal::{Keys, MIN_SEALING_KEY_LEN};
use worker::wasm_bindgen::JsValue;
use worker::{js_sys, Context, Date, Env, Request};

use crate::log::LogLine;

/// The KV namespace of key records, job records and usage snapshots.
pub(crate) const KV_BINDING: &str = "KEYS";

thread_local! {
    // The config and the sealing secret cannot change within an isolate (a
    // new deployment starts new isolates), so each is read and validated once.
    static CONFIG: RefCell<Option<Result<Rc<Config>, ConfigError>>> = const { RefCell::new(None) };
    static SEAL_KEYS: RefCell<Option<Option<Rc<Keys>>>> = const { RefCell::new(None) };
}

pub(crate) struct Ctx {
    pub(crate) env: Env,
    ctx: Context,
    pub(crate) request_id: String,
    /// The id of the quota hold this context reserves under: the request id,
    /// or a session's own id for work that outlives the request.
    pub(crate) hold_id: String,
    pub(crate) now_ms: u64,
    pub(crate) log: RefCell<LogLine>,
    /// What the quota store said about this request.
    pub(crate) quota: RefCell<RequestQuota>,
    /// The deployment that served the request and the upstream attempts it took.
    pub(crate) served: RefCell<Option<(String, u32)>>,
    /// The request's `Origin` and what the caller's credential said of it.
    pub(crate) cors: RequestCors,
    /// Credentials this request sent upstream beyond the configured ones
    /// (a minted Google access token, an upstream ephemeral key), for
    /// `crate::redaction`.
    secrets: RefCell<Vec<String>>,
}

/// What this request's `Origin` is and what the caller's credential said of it.
#[derive(Clone)]
pub(crate) struct RequestCors {
    /// The raw `Origin` header, if any (browser tokens check their binding against it).
    pub(crate) header: Option<String>,
    pub(crate) origin: RequestOrigin,
    pub(crate) verdict: Cell<OriginVerdict>,
}

impl RequestCors {
    fn read(req: &Request) -> Self {
        let header = req.headers().get("origin").ok().flatten();
        let own = req
            .url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let origin = RequestOrigin::classify(header.as_deref(), &own);
        Self {
            header,
            origin,
            verdict: Cell::new(OriginVerdict::Unchecked),
        }
    }
}

/// What this request learned from the quota store (for its response
/// headers) and the holds it must settle once the response is sent.
#[derive(Default)]
pub(crate) struct RequestQuota {
    pub(crate) standings: Vec<Standing>,
    /// Holds to settle after the response, each under its key's record: the
    /// request's own hold (refunded unless the route said otherwise) and any
    /// job holds a poll found finished.
    pub(crate) settle: Vec<PendingSettlement>,
}

/// A hold to settle after the response.
pub(crate) struct PendingSettlement {
    pub(crate) record: Rc<KeyRecord>,
    pub(crate) hold: String,
    pub(crate) settlement: Settlement,
    /// The hold took a parallel slot (else releasing it changes nothing
    /// and costs no call).
    pub(crate) slot: bool,
    /// What the hold reserved, when this request reserved it (a commit of
    /// exactly that, without a slot, changes nothing and costs no call).
    pub(crate) reserved: Option<Cost>,
    /// The gateway token whose use the request spent, given back if the
    /// hold is refunded.
    pub(crate) token_use: Option<String>,
}

impl Ctx {
    pub(crate) fn new(env: Env, ctx: Context, req: &Request) -> Self {
        let now_ms = Date::now().as_millis();
        // A request id needs uniqueness, not secrecy: if the CSPRNG were
        // unavailable, fall back to the clock rather than failing the request.
        let id_bytes = random_bytes::<12>().unwrap_or_else(|_| {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&now_ms.to_be_bytes());
            b
        });
        let request_id = format!("req_{}", hex(&id_bytes));
        let log = LogLine::start(req, &request_id, now_ms);
        Self {
            env,
            ctx,
            hold_id: request_id.clone(),
            request_id,
            now_ms,
            log: RefCell::new(log),
            quota: RefCell::new(RequestQuota::default()),
            served: RefCell::new(None),
            cors: RequestCors::read(req),
            secrets: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn now_secs(&self) -> u64 {
        self.now_ms / 1000
    }

    /// A context for work that outlives the handler (a relayed WebSocket
    /// session after its `101`): the same environment and execution context
    /// and request id, a fresh clock.
    pub(crate) fn fork(&self, req: &Request) -> Self {
        let inner: &JsValue = self.ctx.as_ref().as_ref();
        let inner = worker::wasm_bindgen::JsCast::unchecked_into(inner.clone());
        let mut forked = Self::new(self.env.clone(), Context::new(inner), req);
        forked.request_id = self.request_id.clone();
        forked.hold_id = format!("{}:session", self.request_id);
        forked
    }

    /// Remembers a credential this request sends upstream, so no upstream
    /// text passed on carries it.
    pub(crate) fn remember_secret(&self, secret: &str) {
        let mut secrets = self.secrets.borrow_mut();
        if !secret.is_empty() && !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_owned());
        }
    }

    /// The credentials [`Ctx::remember_secret`] collected.
    pub(crate) fn used_secrets(&self) -> std::cell::Ref<'_, Vec<String>> {
        self.secrets.borrow()
    }

    /// Runs `fut` after the response is sent (bounded by the platform to ~30 s).
    pub(crate) fn after_response(&self, fut: impl std::future::Future<Output = ()> + 'static) {
        self.ctx.wait_until(fut);
    }

    /// The validated config, or the error that makes every request fail.
    pub(crate) fn config(&self) -> Result<Rc<Config>, ClientError> {
        let loaded = CONFIG.with(|cell| {
            cell.borrow_mut()
                .get_or_insert_with(|| load_config(&self.env).map(Rc::new))
                .clone()
        });
        loaded.map_err(|e| {
            ClientError::new(
                ErrorCode::ConfigInvalid,
                format!("the gateway configuration is invalid: {e}"),
            )
        })
    }

    /// Every key derived from the `SEALING_KEY` secret (ids, browser,
    /// realtime and Live tokens), derived once per isolate: the secret
    /// cannot change within one.
    pub(crate) fn seal_keys(&self) -> Result<Rc<Keys>, ClientError> {
        let loaded = SEAL_KEYS.with(|cell| {
            cell.borrow_mut()
                .get_or_insert_with(|| {
                    let secret = self.env.secret("SEALING_KEY").map(|s| s.to_string()).ok();
                    secret.and_then(|s| Keys::derive(s.as_bytes())).map(Rc::new)
                })
                .clone()
        });
        loaded.ok_or_else(|| {
            ClientError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "the SEALING_KEY secret is missing or shorter than {MIN_SEALING_KEY_LEN} bytes"
                ),
            )
        })
    }
}

fn load_config(env: &Env) -> Result<Config, ConfigError> {
    let raw = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str("REELAY_CONFIG"))
        .map_err(|_| ConfigError::new("", "the REELAY_CONFIG variable could not be read"))?;
    let text = if raw.is_undefined() || raw.is_null() {
        return Err(ConfigError::new(
            "",
            "the REELAY_CONFIG variable is not set (see README: Configuration)",
        ));
    } else if let Some(text) = raw.as_string() {
        text
    } else {
        js_sys::JSON::stringify(&raw)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| {
                ConfigError::new("", "REELAY_CONFIG is neither a JSON string nor a table")
            })?
    };
    Config::parse(&text)
}

/// Random bytes from the platform CSPRNG (`crypto.getRandomValues`).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], ClientError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| {
        ClientError::new(
            ErrorCode::Internal,
            "the platform's random number generator failed",
        )
    })?;
    Ok(buf)
}
