// Virtual-key records in KV (`KEYS`), stored under `key:<hex sha256(key)>`,
// and request authentication: virtual keys, the master key (`MASTER_KEY`
// secret, compared by hash in constant time and never stored) and browser
// tokens (`bt_rl_…`, see `reelay_core::browser_token`), which act as their
// parent key narrowed to the token's models. Each authenticated request's
// `Origin` is checked against the key's allowed origins here, before any
// quota or upstream work.

use std::cell::RefCell;
use std::rc::Rc;

use reelay_core::access::AccessPolicy;
use reelay_core::affinity::{owner_of, OWNER_LEN};
use reelay_core::browser_token::{is_browser_token, Claims, TokenKey};
use reelay_core::config::Config;
use reelay_core::encoding::{ct_eq, hex, sha256};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{
    key_hash, plausible_key, presented_key, storage_name, KeyRecord, Presented,
};
use serde_json::Map;
use worker::Request;

use crate::context::Ctx;
use crate::cors;
use crate::quota;
use crate::respond::OrInternal;

pub(crate) const KV_BINDING: &str = "KEYS";
/// Records stay readable (for `/key/info`) one day past their expiry, then KV drops them.
const EXPIRED_RECORD_GRACE_SECS: u64 = 86_400;

thread_local! {
    // Derived once per isolate from SEALING_KEY (which cannot change within one).
    static TOKEN_KEY: RefCell<Option<Rc<Option<TokenKey>>>> = const { RefCell::new(None) };
}

/// The authenticated caller. For a browser token, `hash` and `record` are
/// the parent key's (jobs, quotas and revocation are the parent's) and
/// `token` holds the narrowing.
pub(crate) struct Caller {
    pub(crate) hash: [u8; 32],
    pub(crate) record: KeyRecord,
    pub(crate) is_master: bool,
    /// The browser token the request presented, if it was one.
    pub(crate) token: Option<Claims>,
}

impl Caller {
    pub(crate) fn owner(&self) -> [u8; OWNER_LEN] {
        owner_of(&self.hash)
    }

    /// The caller's compiled access rules under the current config: the
    /// key's, intersected with a browser token's own rules.
    pub(crate) fn policy(&self, config: &Config) -> Result<AccessPolicy, ClientError> {
        let key =
            AccessPolicy::compile(&self.record.models, &config.access_groups).map_err(|e| {
                // Rules are validated when stored; this only happens if the
                // config dropped an access group a key still names.
                ClientError::new(
                    ErrorCode::ModelAccessDenied,
                    format!("this key's access rules are not valid under the current config: {e}"),
                )
            })?;
        match self
            .token
            .as_ref()
            .map(|t| t.narrowing(&config.access_groups))
        {
            Some(Err(e)) => Err(e),
            Some(Ok(Some(narrowing))) => Ok(key.narrowed(narrowing)),
            _ => Ok(key),
        }
    }
}

/// The browser-token key derived from `SEALING_KEY`.
pub(crate) fn token_key(cx: &Ctx) -> Result<TokenKey, ClientError> {
    cx.sealing_derived(&TOKEN_KEY, TokenKey::new)
}

/// Whether the request presents a browser token (for routes that refuse
/// them before doing anything else).
pub(crate) fn presents_browser_token(req: &Request) -> bool {
    let headers = req.headers();
    ["authorization", "api-key", "x-goog-api-key"]
        .into_iter()
        .filter_map(|h| headers.get(h).ok().flatten())
        .any(|v| {
            let v = v.trim();
            let v = v
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map_or(v, |(_, rest)| rest.trim());
            is_browser_token(v)
        })
}

/// Authenticates a request by its virtual key (or the master key).
pub(crate) async fn authenticate(
    req: &Request,
    cx: &Ctx,
    google_shaped: bool,
) -> Result<Caller, ClientError> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let api_key = headers.get("api-key").ok().flatten();
    let goog_api_key = headers.get("x-goog-api-key").ok().flatten();
    let url = req.url().or_internal("reading the request URL")?;
    let query_key = url
        .query_pairs()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.into_owned());
    let presented = Presented {
        authorization: authorization.as_deref(),
        api_key: api_key.as_deref(),
        goog_api_key: goog_api_key.as_deref(),
        query_key: query_key.as_deref(),
    };
    let Some(key) = presented_key(&presented, google_shaped) else {
        let hint = if google_shaped {
            "send your reelay key as `x-goog-api-key`, `?key=` or `Authorization: Bearer`"
        } else {
            "send your reelay key as `Authorization: Bearer <key>`"
        };
        return Err(ClientError::new(
            ErrorCode::MissingApiKey,
            format!("no API key was provided; {hint}"),
        ));
    };
    if is_browser_token(key) {
        return authenticate_token(cx, key).await;
    }
    if !plausible_key(key) {
        return Err(ClientError::from_code(ErrorCode::InvalidApiKey));
    }
    let config = cx.config()?;
    let hash = key_hash(key);
    if is_master_hash(cx, &hash) {
        cx.log.borrow_mut().key_token = Some(String::from("master"));
        // The master key has no origins of its own: only the config's.
        cors::check(cx, &config, &[])?;
        return Ok(Caller {
            hash,
            record: master_record(&hash, cx.now_ms),
            is_master: true,
            token: None,
        });
    }
    let record = load(cx, &hash)
        .await?
        .ok_or_else(|| ClientError::from_code(ErrorCode::InvalidApiKey))?;
    record.check_usable(cx.now_ms)?;
    cx.log.borrow_mut().key_token = Some(record.token[..12].to_owned());
    // Before any quota or upstream work: a page on a foreign origin costs nothing.
    cors::check(cx, &config, &record.allowed_origins)?;
    let mut caller = Caller {
        hash,
        record,
        is_master: false,
        token: None,
    };
    // Revocation, the newest policy, the request rate and a parallel slot.
    quota::admit(cx, &mut caller).await?;
    // The quota store may hold a newer record than KV (a list just narrowed).
    cors::check(cx, &config, &caller.record.allowed_origins)?;
    Ok(caller)
}

/// Authenticates a browser token: MAC and expiry, origin binding, then the
/// parent key as it is now (deleted, expired or revoked ends the token), its
/// allowed origins, and admission against the parent's quotas.
async fn authenticate_token(cx: &Ctx, token: &str) -> Result<Caller, ClientError> {
    let config = cx.config()?;
    let claims = token_key(cx)?.open(token, cx.now_secs()).map_err(|e| {
        worker::console_warn!("browser token refused: {}", e.as_str());
        e.to_client()
    })?;
    claims.check_origin(cors::token_origin(cx))?;
    let parent_gone = |why: &str| {
        ClientError::new(
            ErrorCode::InvalidBrowserToken,
            format!("the browser token is not valid: the key that minted it {why}"),
        )
    };
    let record = load(cx, &claims.parent_hash)
        .await?
        .ok_or_else(|| parent_gone("was deleted"))?;
    record
        .check_usable(cx.now_ms)
        .map_err(|_| parent_gone("has expired"))?;
    cx.log.borrow_mut().key_token = Some(format!(
        "{}/bt:{}",
        &record.token[..12],
        &claims.id_hex()[..8]
    ));
    cors::check(cx, &config, &record.allowed_origins)?;
    let mut caller = Caller {
        hash: claims.parent_hash,
        record,
        is_master: false,
        token: Some(claims),
    };
    quota::admit(cx, &mut caller)
        .await
        .map_err(|e| match e.code {
            ErrorCode::InvalidApiKey => parent_gone("was deleted"),
            ErrorCode::KeyExpired => parent_gone("has expired"),
            _ => e,
        })?;
    // The quota store may hold a newer record than KV (a list just narrowed).
    cors::check(cx, &config, &caller.record.allowed_origins)?;
    Ok(caller)
}

/// Authenticates and requires the master key.
pub(crate) async fn require_master(req: &Request, cx: &Ctx) -> Result<Caller, ClientError> {
    if presents_browser_token(req) {
        return Err(cors::token_refused(&req.path()));
    }
    master_hash(cx)?;
    let caller = authenticate(req, cx, false).await?;
    if !caller.is_master {
        return Err(ClientError::from_code(ErrorCode::AdminKeyRequired));
    }
    Ok(caller)
}

fn master_hash(cx: &Ctx) -> Result<[u8; 32], ClientError> {
    match cx.env.secret("MASTER_KEY") {
        Ok(secret) if !secret.to_string().is_empty() => Ok(sha256(secret.to_string().as_bytes())),
        _ => Err(ClientError::new(
            ErrorCode::ConfigInvalid,
            "the MASTER_KEY secret is not set, so the admin API is disabled",
        )),
    }
}

fn is_master_hash(cx: &Ctx, hash: &[u8; 32]) -> bool {
    // Both sides are SHA-256 digests, so the comparison is fixed-length and
    // constant-time; the master key itself is never compared byte by byte.
    master_hash(cx).is_ok_and(|m| ct_eq(&m, hash))
}

fn master_record(hash: &[u8; 32], now_ms: u64) -> KeyRecord {
    KeyRecord {
        token: hex(hash),
        key_name: String::from("master key"),
        key_alias: Some(String::from("master")),
        models: Vec::new(),
        expires_at_ms: None,
        metadata: Map::new(),
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        policy: Default::default(),
        budget_anchor_ms: None,
        allowed_origins: Vec::new(),
    }
}

/// Whether `hash` is the master key's hash (admin routes refuse to store it).
pub(crate) fn is_master(cx: &Ctx, hash: &[u8; 32]) -> bool {
    is_master_hash(cx, hash)
}

pub(crate) async fn load(cx: &Ctx, hash: &[u8; 32]) -> Result<Option<KeyRecord>, ClientError> {
    let kv = cx.env.kv(KV_BINDING).or_storage("opening the key store")?;
    let text = kv
        .get(&storage_name(hash))
        .text()
        .await
        .or_storage("reading a key record")?;
    match text {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .or_internal("decoding a key record"),
    }
}

pub(crate) async fn store(
    cx: &Ctx,
    hash: &[u8; 32],
    record: &KeyRecord,
) -> Result<(), ClientError> {
    let kv = cx.env.kv(KV_BINDING).or_storage("opening the key store")?;
    let text = serde_json::to_string(record).or_internal("encoding a key record")?;
    let mut put = kv
        .put(&storage_name(hash), text)
        .or_storage("writing a key record")?;
    if let Some(expires_ms) = record.expires_at_ms {
        // KV requires an expiration at least 60 s ahead.
        let at = (expires_ms / 1000 + EXPIRED_RECORD_GRACE_SECS).max(cx.now_secs() + 120);
        put = put.expiration(at);
    }
    put.execute().await.or_storage("writing a key record")
}

pub(crate) async fn delete(cx: &Ctx, hash: &[u8; 32]) -> Result<(), ClientError> {
    let kv = cx.env.kv(KV_BINDING).or_storage("opening the key store")?;
    kv.delete(&storage_name(hash))
        .await
        .or_storage("deleting a key record")
}

/// Checks KV is reachable (for readiness).
pub(crate) async fn ping(cx: &Ctx) -> Result<(), ClientError> {
    let kv = cx.env.kv(KV_BINDING).or_storage("opening the key store")?;
    kv.get("health:ping")
        .text()
        .await
        .or_storage("reading the key store")
        .map(|_| ())
}
