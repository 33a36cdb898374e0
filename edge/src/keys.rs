// Who is calling: virtual keys (records in KV under
// `key:<hex sha256(key)>`, cached per isolate), the master key
// (`MASTER_KEY` secret, hashed once per isolate and compared by hash in
// constant time, never stored) and browser tokens (`bt_rl_…`, see
// `reelay_core::browser_token`), which act as their parent key narrowed to
// the token's models. Each authenticated request's `Origin` is checked
// against the key's allowed origins here, before any quota or upstream work.
//
// The isolate cache holds each key's record and its compiled access rules.
// A record read from KV is *unconfirmed* until the key's quota object has
// answered for it; `crate::quota` asks the object whenever the confirmation
// is older than [`CONFIRMED_FOR_MS`] (and, past [`REFRESH_AFTER_MS`], in the
// background after the response), and every answer may carry a newer record
// or the revocation. So a deleted key stops working within a second
// everywhere (at once in the isolate that deleted it), and a policy change
// applies to metered requests at once. A deletion also leaves a KV
// revocation marker ([`mark_revoked`]) that `crate::quota` reads whenever
// the key's object cannot vouch for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use reelay_core::access::AccessPolicy;
use reelay_core::browser_token::{is_browser_token, Claims};
use reelay_core::config::Config;
use reelay_core::encoding::{ct_eq, hex, sha256};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{
    key_hash, plausible_key, presented_key, revocation_name, storage_name, KeyRecord, Presented,
};
use reelay_core::seal::{Owner, Purpose};
use serde_json::Map;
use worker::Request;

use crate::context::{Ctx, KV_BINDING};
use crate::cors;
use crate::respond::OrInternal;

/// Records stay readable (for `/key/info`) one day past their expiry, then KV drops them.
const EXPIRED_RECORD_GRACE_SECS: u64 = 86_400;
/// How long a key's object's answer vouches for the key in this isolate.
pub(crate) const CONFIRMED_FOR_MS: u64 = 1_000;
/// Past this age the confirmation is renewed in the background.
pub(crate) const REFRESH_AFTER_MS: u64 = 500;
/// Keys remembered per isolate; the least recently used is dropped beyond.
const MAX_CACHED_KEYS: usize = 4_096;

thread_local! {
    // SHA-256 of MASTER_KEY (or None when unset), read once per isolate.
    static MASTER_HASH: RefCell<Option<Option<[u8; 32]>>> = const { RefCell::new(None) };
    static CACHE: RefCell<HashMap<[u8; 32], Entry>> = RefCell::new(HashMap::new());
}

/// What this isolate knows of one key.
struct Entry {
    record: Rc<KeyRecord>,
    /// The key's rules compiled under the config (an error if the config
    /// dropped an access group the key names).
    policy: Result<Rc<AccessPolicy>, ClientError>,
    /// When the key's object last vouched for the record.
    confirmed_ms: Option<u64>,
    /// A background confirmation is under way.
    refreshing: bool,
    /// Requests admitted without asking the object, not yet counted there.
    unreported: u64,
    used_ms: u64,
}

/// How recently the key's object vouched for a cached key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Confirmed within [`REFRESH_AFTER_MS`] (or a renewal is under way).
    Fresh,
    /// Still valid, but due for a background renewal.
    Aging,
    /// Never confirmed, or too long ago: ask the object on the request path.
    Stale,
}

fn compile(record: &KeyRecord, config: &Config) -> Result<Rc<AccessPolicy>, ClientError> {
    AccessPolicy::compile(&record.models, &config.access_groups)
        .map(Rc::new)
        .map_err(|e| {
            // Rules are validated when stored; this only happens if the
            // config dropped an access group a key still names.
            ClientError::new(
                ErrorCode::ModelAccessDenied,
                format!("this key's access rules are not valid under the current config: {e}"),
            )
        })
}

/// The cached record and compiled rules of `hash`, reading KV on a miss.
async fn lookup(
    cx: &Ctx,
    config: &Config,
    hash: &[u8; 32],
) -> Result<Option<(Rc<KeyRecord>, Result<Rc<AccessPolicy>, ClientError>)>, ClientError> {
    let hit = CACHE.with(|c| {
        c.borrow_mut().get_mut(hash).map(|e| {
            e.used_ms = cx.now_ms;
            (Rc::clone(&e.record), e.policy.clone())
        })
    });
    if hit.is_some() {
        return Ok(hit);
    }
    let Some(record) = load(cx, hash).await? else {
        return Ok(None);
    };
    let policy = compile(&record, config);
    let record = Rc::new(record);
    insert(
        *hash,
        Entry {
            record: Rc::clone(&record),
            policy: policy.clone(),
            confirmed_ms: None,
            refreshing: false,
            unreported: 0,
            used_ms: cx.now_ms,
        },
    );
    Ok(Some((record, policy)))
}

fn insert(hash: [u8; 32], entry: Entry) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= MAX_CACHED_KEYS && !cache.contains_key(&hash) {
            if let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.used_ms).map(|(h, _)| *h) {
                cache.remove(&oldest);
            }
        }
        cache.insert(hash, entry);
    });
}

/// How recently `hash` was confirmed by its object, as of `now_ms`.
pub(crate) fn freshness(hash: &[u8; 32], now_ms: u64) -> Freshness {
    CACHE.with(|c| match c.borrow().get(hash) {
        Some(Entry {
            confirmed_ms: Some(at),
            refreshing,
            ..
        }) => {
            let age = now_ms.saturating_sub(*at);
            if age >= CONFIRMED_FOR_MS {
                Freshness::Stale
            } else if age >= REFRESH_AFTER_MS && !refreshing {
                Freshness::Aging
            } else {
                Freshness::Fresh
            }
        }
        _ => Freshness::Stale,
    })
}

/// The key's object vouched for the cached record at `now_ms`.
pub(crate) fn confirm(hash: &[u8; 32], now_ms: u64) {
    CACHE.with(|c| {
        if let Some(e) = c.borrow_mut().get_mut(hash) {
            e.confirmed_ms = Some(e.confirmed_ms.map_or(now_ms, |at| at.max(now_ms)));
            e.refreshing = false;
        }
    });
}

/// A background confirmation started.
pub(crate) fn mark_refreshing(hash: &[u8; 32]) {
    CACHE.with(|c| {
        if let Some(e) = c.borrow_mut().get_mut(hash) {
            e.refreshing = true;
        }
    });
}

/// A background confirmation failed: count its requests with the next call.
pub(crate) fn refresh_failed(hash: &[u8; 32], uncounted: u64) {
    CACHE.with(|c| {
        if let Some(e) = c.borrow_mut().get_mut(hash) {
            e.refreshing = false;
            e.unreported = e.unreported.saturating_add(uncounted);
        }
    });
}

/// One more request admitted without asking the key's object.
pub(crate) fn count_unreported(hash: &[u8; 32]) {
    CACHE.with(|c| {
        if let Some(e) = c.borrow_mut().get_mut(hash) {
            e.unreported = e.unreported.saturating_add(1);
        }
    });
}

/// The requests admitted without asking, handed to the next call.
pub(crate) fn take_unreported(hash: &[u8; 32]) -> u64 {
    CACHE.with(|c| {
        c.borrow_mut()
            .get_mut(hash)
            .map_or(0, |e| std::mem::take(&mut e.unreported))
    })
}

/// The key was deleted (or its object said so): drop it from this isolate.
pub(crate) fn forget(hash: &[u8; 32]) {
    CACHE.with(|c| {
        c.borrow_mut().remove(hash);
    });
}

/// Takes `record` (from the key's object, or just written by the admin
/// API) in place of the cached one when it is at least as new; returns the
/// record now in force.
pub(crate) fn remember_newer(hash: &[u8; 32], record: KeyRecord, config: &Config) -> Rc<KeyRecord> {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        match cache.get_mut(hash) {
            Some(e) if e.record.updated_at_ms > record.updated_at_ms => Rc::clone(&e.record),
            Some(e) => {
                e.policy = compile(&record, config);
                e.record = Rc::new(record);
                Rc::clone(&e.record)
            }
            None => {
                let policy = compile(&record, config);
                let record = Rc::new(record);
                drop(cache);
                insert(
                    *hash,
                    Entry {
                        record: Rc::clone(&record),
                        policy,
                        confirmed_ms: None,
                        refreshing: false,
                        unreported: 0,
                        used_ms: 0,
                    },
                );
                record
            }
        }
    })
}

/// The authenticated caller. For a browser token, `hash` and `record` are
/// the parent key's (jobs, quotas and revocation are the parent's) and
/// `token` holds the narrowing.
pub(crate) struct Caller {
    pub(crate) hash: [u8; 32],
    pub(crate) record: Rc<KeyRecord>,
    pub(crate) is_master: bool,
    /// The browser token the request presented, if it was one.
    pub(crate) token: Option<Claims>,
    /// The caller's compiled access rules, computed once per request: the
    /// key's (cached per isolate), intersected with a browser token's own.
    policy: Result<Rc<AccessPolicy>, ClientError>,
}

impl Caller {
    /// Who state this caller creates belongs to, and what it may open: the
    /// key, for a browser token's subject when a token calls.
    pub(crate) fn owner(&self) -> Owner {
        match &self.token {
            Some(claims) => claims.owner(),
            None => Owner::of(&self.hash, None),
        }
    }

    /// The caller's compiled access rules under the current config: the
    /// key's, intersected with a browser token's own rules.
    pub(crate) fn policy(&self) -> Result<Rc<AccessPolicy>, ClientError> {
        self.policy.clone()
    }

    /// Recomputes the rules after the record changed.
    pub(crate) fn refresh_policy(&mut self, config: &Config) {
        self.policy = narrow(compile(&self.record, config), self.token.as_ref(), config);
    }
}

/// The key's rules narrowed by a browser token's.
fn narrow(
    key: Result<Rc<AccessPolicy>, ClientError>,
    token: Option<&Claims>,
    config: &Config,
) -> Result<Rc<AccessPolicy>, ClientError> {
    let key = key?;
    match token.map(|t| t.narrowing(&config.access_groups)) {
        Some(Err(e)) => Err(e),
        Some(Ok(Some(narrowing))) => Ok(Rc::new((*key).clone().narrowed(narrowing))),
        _ => Ok(key),
    }
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

/// Identifies the caller by its virtual key, browser token or the master
/// key, from the isolate's cache (KV on a miss): no quota object call. The
/// pipeline admits the request next (`crate::quota::admit`).
pub(crate) async fn identify(
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
        return identify_token(cx, key).await;
    }
    if !plausible_key(key) {
        return Err(ClientError::from_code(ErrorCode::InvalidApiKey));
    }
    let config = cx.config()?;
    let hash = key_hash(key);
    if is_master_hash(cx, &hash) {
        return master_caller(cx, &config, hash);
    }
    let (record, policy) = lookup(cx, &config, &hash)
        .await?
        .ok_or_else(|| ClientError::from_code(ErrorCode::InvalidApiKey))?;
    record.check_usable(cx.now_ms)?;
    cx.log.borrow_mut().key_token = Some(record.token[..12].to_owned());
    // Before any quota or upstream work: a page on a foreign origin costs nothing.
    cors::check(cx, &config, &record.allowed_origins)?;
    Ok(Caller {
        hash,
        record,
        is_master: false,
        token: None,
        policy,
    })
}

/// The master key as a caller: every model, no origins of its own (only
/// the config's), never metered.
fn master_caller(cx: &Ctx, config: &Config, hash: [u8; 32]) -> Result<Caller, ClientError> {
    cx.log.borrow_mut().key_token = Some(String::from("master"));
    cors::check(cx, config, &[])?;
    Ok(Caller {
        hash,
        record: Rc::new(master_record(&hash, cx.now_ms)),
        is_master: true,
        token: None,
        // The master key may use every model (no rules: all of them).
        policy: AccessPolicy::compile::<&str>(&[], &config.access_groups)
            .map(Rc::new)
            .map_err(|_| ClientError::from_code(ErrorCode::Internal)),
    })
}

/// Identifies the key with `hash` that minted a gateway token (realtime,
/// Live), as this isolate knows it: `None` when it no longer exists (the
/// master key is always there). Checks the request's origin against the
/// key's; admission confirms the rest.
pub(crate) async fn identify_minter(
    cx: &Ctx,
    config: &Config,
    hash: &[u8; 32],
) -> Result<Option<Caller>, ClientError> {
    if is_master_hash(cx, hash) {
        return master_caller(cx, config, *hash).map(Some);
    }
    let Some((record, policy)) = lookup(cx, config, hash).await? else {
        return Ok(None);
    };
    cx.log.borrow_mut().key_token = record.token.get(..12).map(str::to_owned);
    // A page using the token must be on one of the key's origins (CORS).
    cors::check(cx, config, &record.allowed_origins)?;
    Ok(Some(Caller {
        hash: *hash,
        record,
        is_master: false,
        token: None,
        policy,
    }))
}

/// Identifies a browser token: MAC and expiry, origin binding, then the
/// parent key as this isolate knows it (deleted, expired or revoked ends the
/// token; admission confirms it with the key's object) and its allowed origins.
async fn identify_token(cx: &Ctx, token: &str) -> Result<Caller, ClientError> {
    let config = cx.config()?;
    let seal_keys = cx.seal_keys()?;
    let claims = Claims::open(&seal_keys, token, cx.now_secs()).map_err(|e| {
        worker::console_warn!("browser token refused: {}", e.as_str());
        e.to_client(Purpose::BrowserToken)
    })?;
    claims
        .check_origin(cors::token_origin(cx))
        .map_err(|e| cors::deny(cx, e))?;
    let parent_gone = |why: &str| {
        ClientError::new(
            ErrorCode::InvalidBrowserToken,
            format!("the browser token is not valid: the key that minted it {why}"),
        )
    };
    let (record, policy) = lookup(cx, &config, &claims.parent_hash)
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
    let policy = narrow(policy, Some(&claims), &config);
    Ok(Caller {
        hash: claims.parent_hash,
        record,
        is_master: false,
        token: Some(claims),
        policy,
    })
}

/// What a browser token's parent key failing admission means to its holder.
pub(crate) fn token_parent_error(caller: &Caller, e: ClientError) -> ClientError {
    if caller.token.is_none() {
        return e;
    }
    let parent_gone = |why: &str| {
        ClientError::new(
            ErrorCode::InvalidBrowserToken,
            format!("the browser token is not valid: the key that minted it {why}"),
        )
    };
    match e.code {
        ErrorCode::InvalidApiKey => parent_gone("was deleted"),
        ErrorCode::KeyExpired => parent_gone("has expired"),
        _ => e,
    }
}

/// Authenticates and requires the master key.
pub(crate) async fn require_master(req: &Request, cx: &Ctx) -> Result<Caller, ClientError> {
    if presents_browser_token(req) {
        return Err(cors::token_refused(&req.path()));
    }
    master_hash(cx)?;
    let caller = identify(req, cx, false).await?;
    if !caller.is_master {
        return Err(ClientError::from_code(ErrorCode::AdminKeyRequired));
    }
    Ok(caller)
}

fn master_hash(cx: &Ctx) -> Result<[u8; 32], ClientError> {
    // Secrets cannot change within an isolate: hashed once.
    let hash = MASTER_HASH.with(|cell| {
        *cell
            .borrow_mut()
            .get_or_insert_with(|| match cx.env.secret("MASTER_KEY") {
                Ok(secret) if !secret.to_string().is_empty() => {
                    Some(sha256(secret.to_string().as_bytes()))
                }
                _ => None,
            })
    });
    hash.ok_or_else(|| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "the MASTER_KEY secret is not set, so the admin API is disabled",
        )
    })
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

/// Writes the KV revocation marker of `record`'s key, deleted at `at_ms`
/// (`reelay_core::keys::revocation_name`): what makes the deletion stick
/// while its quota store cannot be reached. It lives as long as the record
/// would have.
pub(crate) async fn mark_revoked(
    cx: &Ctx,
    record: &KeyRecord,
    at_ms: u64,
) -> Result<(), ClientError> {
    let kv = cx.env.kv(KV_BINDING).or_storage("opening the key store")?;
    let mut put = kv
        .put(&revocation_name(&record.token), at_ms.to_string())
        .or_storage("writing a key revocation")?;
    if let Some(expires_ms) = record.expires_at_ms {
        let at = (expires_ms / 1000 + EXPIRED_RECORD_GRACE_SECS).max(cx.now_secs() + 120);
        put = put.expiration(at);
    }
    put.execute().await.or_storage("writing a key revocation")
}

/// Removes the revocation marker of a re-created custom key (it no longer
/// applies to the new record; removing it spares later reads).
pub(crate) async fn clear_revoked(cx: &Ctx, token: &str) {
    if let Ok(kv) = cx.env.kv(KV_BINDING) {
        if let Err(e) = kv.delete(&revocation_name(token)).await {
            worker::console_error!("removing a revocation marker failed: {e}");
        }
    }
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
