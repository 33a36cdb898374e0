// Virtual-key records in KV (`KEYS`), stored under `key:<hex sha256(key)>`,
// and request authentication. The master key (`MASTER_KEY` secret) is
// compared by hash in constant time and never stored.

use reelay_core::access::AccessPolicy;
use reelay_core::affinity::{owner_of, OWNER_LEN};
use reelay_core::config::Config;
use reelay_core::encoding::{ct_eq, hex, sha256};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{
    key_hash, plausible_key, presented_key, storage_name, KeyRecord, Presented,
};
use serde_json::Map;
use worker::Request;

use crate::context::Ctx;
use crate::quota;
use crate::respond::OrInternal;

pub(crate) const KV_BINDING: &str = "KEYS";
/// Records stay readable (for `/key/info`) one day past their expiry, then KV drops them.
const EXPIRED_RECORD_GRACE_SECS: u64 = 86_400;

/// The authenticated caller.
pub(crate) struct Caller {
    pub(crate) hash: [u8; 32],
    pub(crate) record: KeyRecord,
    pub(crate) is_master: bool,
}

impl Caller {
    pub(crate) fn owner(&self) -> [u8; OWNER_LEN] {
        owner_of(&self.hash)
    }

    /// The caller's compiled access rules under the current config.
    pub(crate) fn policy(&self, config: &Config) -> Result<AccessPolicy, ClientError> {
        AccessPolicy::compile(&self.record.models, &config.access_groups).map_err(|e| {
            // Rules are validated when stored; this only happens if the
            // config dropped an access group a key still names.
            ClientError::new(
                ErrorCode::ModelAccessDenied,
                format!("this key's access rules are not valid under the current config: {e}"),
            )
        })
    }
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
    if !plausible_key(key) {
        return Err(ClientError::from_code(ErrorCode::InvalidApiKey));
    }
    let hash = key_hash(key);
    if is_master_hash(cx, &hash) {
        cx.log.borrow_mut().key_token = Some(String::from("master"));
        return Ok(Caller {
            hash,
            record: master_record(&hash, cx.now_ms),
            is_master: true,
        });
    }
    let record = load(cx, &hash)
        .await?
        .ok_or_else(|| ClientError::from_code(ErrorCode::InvalidApiKey))?;
    record.check_usable(cx.now_ms)?;
    cx.log.borrow_mut().key_token = Some(record.token[..12].to_owned());
    let mut caller = Caller {
        hash,
        record,
        is_master: false,
    };
    // Revocation, the newest policy, the request rate and a parallel slot.
    quota::admit(cx, &mut caller).await?;
    Ok(caller)
}

/// Authenticates and requires the master key.
pub(crate) async fn require_master(req: &Request, cx: &Ctx) -> Result<Caller, ClientError> {
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
