// Key administration, LiteLLM-compatible: `/key/generate`, `/key/info`,
// `/key/update`, `/key/delete`. Only the master key may create, change or
// delete keys; any key may read its own info.

use reelay_core::encoding::hex;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{
    generate_key, key_hash, parse_delete_request, GenerateRequest, KeyRef, UpdateRequest,
};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::context::{random_bytes, Ctx};
use crate::keys;
use crate::pipeline;
use crate::quota;
use crate::request::read_body;
use crate::respond;

/// Admin bodies are small; cap them well below the general limit.
const MAX_ADMIN_BODY: u32 = 64 * 1024;

pub(super) async fn generate(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    keys::require_master(req, cx).await?;
    let body = read_body(req, MAX_ADMIN_BODY).await?;
    let request = GenerateRequest::parse(&body, &config.access_groups)?;
    let key = match &request.custom_key {
        Some(key) => key.clone(),
        None => generate_key(&random_bytes::<24>()?),
    };
    let hash = key_hash(&key);
    if keys::is_master(cx, &hash) {
        return Err(
            ClientError::new(ErrorCode::InvalidRequest, "`key` may not be the master key")
                .with_param("key"),
        );
    }
    if request.custom_key.is_some() && keys::load(cx, &hash).await?.is_some() {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "a key with this value already exists",
        )
        .with_param("key"));
    }
    let custom = request.custom_key.is_some();
    let record = request.into_record(&key, cx.now_ms);
    // The quota store first: it clears a revocation of a re-created custom
    // key (the new record is newer than the deletion) and holds the policy
    // the moment the key exists.
    quota::push_record(cx, &record).await?;
    keys::store(cx, &hash, &record).await?;
    if custom {
        keys::clear_revoked(cx, &record.token).await;
    }
    // Preflights from the key's origins are granted from now on.
    crate::cors::remember_listed(cx, &record.token, &record.allowed_origins).await;
    let mut body = record.info();
    if let Value::Object(map) = &mut body {
        // The only time the key itself is ever returned.
        map.insert("key".to_owned(), Value::from(key));
    }
    Ok(respond::json(200, &body))
}

pub(super) async fn info(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    if keys::presents_browser_token(req) {
        return Err(crate::cors::token_refused("/key/info"));
    }
    let caller = pipeline::authenticate(req, cx, false).await?;
    let url = req
        .url()
        .map_err(|_| ClientError::from_code(ErrorCode::InvalidRequest))?;
    let target = url
        .query_pairs()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.into_owned());
    let (hash, record) = match target {
        Some(text) => {
            let target = KeyRef::parse(&text)?;
            if !caller.is_master && target.hash != caller.hash {
                return Err(ClientError::new(
                    ErrorCode::AdminKeyRequired,
                    "only the master key may read other keys' info",
                ));
            }
            if target.hash == caller.hash {
                (caller.hash, (*caller.record).clone())
            } else {
                let record = keys::load(cx, &target.hash)
                    .await?
                    .ok_or_else(|| ClientError::from_code(ErrorCode::KeyNotFound))?;
                (target.hash, record)
            }
        }
        None => (caller.hash, (*caller.record).clone()),
    };
    let mut info = record.info();
    let usage = quota::usage(cx, &record).await;
    if let Value::Object(map) = &mut info {
        map.insert("usage".to_owned(), usage);
    }
    Ok(respond::json(
        200,
        &json!({ "key": hex(&hash), "info": info }),
    ))
}

pub(super) async fn update(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    keys::require_master(req, cx).await?;
    let body = read_body(req, MAX_ADMIN_BODY).await?;
    let request = UpdateRequest::parse(&body, &config.access_groups)?;
    let hash = request.key.hash;
    let stored = keys::load(cx, &hash)
        .await?
        .ok_or_else(|| ClientError::from_code(ErrorCode::KeyNotFound))?;
    // KV may still serve an older record for a minute; the quota store
    // has the latest, so two quick updates do not undo each other.
    let mut record = quota::freshest(cx, stored).await?;
    let listed_before = record.allowed_origins.clone();
    request.apply(&mut record, cx.now_ms);
    quota::push_record(cx, &record).await?;
    keys::store(cx, &hash, &record).await?;
    // Preflights follow the key's new origins: the ones it dropped are no
    // longer granted on its account.
    crate::cors::remember_listed(cx, &record.token, &record.allowed_origins).await;
    let dropped: Vec<String> = listed_before
        .into_iter()
        .filter(|p| !record.allowed_origins.contains(p))
        .collect();
    crate::cors::forget_listed(cx, &record.token, &dropped).await;
    // In force at once in this isolate; elsewhere within a second (or at
    // the next metered request, whose admission returns it).
    keys::remember_newer(&hash, record.clone(), &config);
    keys::confirm(&hash, cx.now_ms);
    Ok(respond::json(200, &record.info()))
}

pub(super) async fn delete(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    keys::require_master(req, cx).await?;
    let body = read_body(req, MAX_ADMIN_BODY).await?;
    let targets = parse_delete_request(&body)?;
    let mut deleted = Vec::new();
    let mut not_found = Vec::new();
    let mut pending = Vec::new();
    for target in targets {
        let token = hex(&target.hash);
        let Some(record) = keys::load(cx, &target.hash).await? else {
            not_found.push(token);
            continue;
        };
        // The KV marker first: the deletion holds from here on, whether
        // or not the quota store can be told now.
        keys::mark_revoked(cx, &record, cx.now_ms).await?;
        keys::forget(&target.hash);
        // The quota store, the source of truth: effective at the next
        // request everywhere. If it cannot be reached, requests that cannot
        // reach it either read the marker, and it is told later.
        if let Err(detail) = quota::revoke(cx, &token, cx.now_ms).await {
            worker::console_error!("a deleted key's quota store is unreachable: {detail}");
            quota::revoke_later(cx, token.clone(), cx.now_ms);
            pending.push(token.clone());
        }
        keys::delete(cx, &target.hash).await?;
        // Its origins are no longer granted preflights on its account.
        crate::cors::forget_listed(cx, &record.token, &record.allowed_origins).await;
        deleted.push(token);
    }
    if deleted.is_empty() {
        return Err(ClientError::new(
            ErrorCode::KeyNotFound,
            "none of the given keys exist",
        ));
    }
    let mut answer = json!({ "deleted_keys": deleted, "not_found": not_found });
    if !pending.is_empty() {
        // Deleted, and refused wherever the marker is read; the quota store
        // learns it when it answers again.
        answer["revocation_pending"] = json!(pending);
    }
    Ok(respond::json(200, &answer))
}
