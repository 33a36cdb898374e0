// Video job records in KV (`KEYS`), one per job under the name core's
// `video::jobs::record_name` gives: the prompt, the last status seen, and
// the deleted mark. The KV metadata repeats `deleted` so a list can skip
// deleted jobs without reading their values.

use futures_util::future::join_all;
use reelay_core::errors::ClientError;
use reelay_core::video::jobs::{IndexEntry, JobRecord};
use reelay_core::video::RETENTION_SECS;
use serde_json::json;
use worker::Env;

use crate::context::KV_BINDING;
use crate::respond::OrInternal;

/// Records outlive the upstream files by a day, so a late poll still finds them.
const RECORD_TTL_SECS: u64 = RETENTION_SECS + 86_400;
/// Upper bound on one key's index scanned by a list (10 KV list pages).
pub(crate) const MAX_INDEX_ENTRIES: usize = 10_000;

pub(crate) async fn store(env: &Env, name: &str, record: &JobRecord) -> Result<(), ClientError> {
    let kv = env.kv(KV_BINDING).or_storage("opening the job store")?;
    let text = serde_json::to_string(record).or_internal("encoding a job record")?;
    kv.put(name, text)
        .or_storage("writing a job record")?
        .expiration_ttl(RECORD_TTL_SECS)
        .metadata(json!({ "deleted": record.deleted }))
        .or_storage("writing a job record")?
        .execute()
        .await
        .or_storage("writing a job record")
}

/// The record, or `None` when there is none (never written, expired, or not
/// yet visible in this location: KV is eventually consistent).
pub(crate) async fn load(env: &Env, name: &str) -> Result<Option<JobRecord>, ClientError> {
    let kv = env.kv(KV_BINDING).or_storage("opening the job store")?;
    let text = kv
        .get(name)
        .text()
        .await
        .or_storage("reading a job record")?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Loads several records concurrently, in order.
pub(crate) async fn load_many(
    env: &Env,
    names: &[&str],
) -> Result<Vec<Option<JobRecord>>, ClientError> {
    join_all(names.iter().map(|name| load(env, name)))
        .await
        .into_iter()
        .collect()
}

/// Every index entry under `prefix`, in storage order (newest first).
pub(crate) async fn index(env: &Env, prefix: &str) -> Result<Vec<IndexEntry>, ClientError> {
    let kv = env.kv(KV_BINDING).or_storage("opening the job store")?;
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(prefix.to_owned());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await.or_storage("listing job records")?;
        entries.extend(page.keys.into_iter().map(|key| {
            IndexEntry {
                deleted: key
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("deleted"))
                    .and_then(|d| d.as_bool())
                    .unwrap_or(false),
                name: key.name,
            }
        }));
        match page.cursor {
            Some(next) if !page.list_complete && entries.len() < MAX_INDEX_ENTRIES => {
                cursor = Some(next)
            }
            _ => return Ok(entries),
        }
    }
}
