// Video job records in KV (`KEYS`), one per job under the name core's
// `video::jobs::record_name` gives: the prompt, the last status seen, and
// the deleted mark, and the visitor's subject for a job a browser token
// created. The KV metadata repeats `deleted` and `subject` so a list can
// skip deleted jobs and other visitors' without reading their values.
//
// Each isolate keeps the records it wrote or read for [`RECENT_FOR_MS`]
// (KV's own propagation time): a status poll then reads no KV, a create
// answers before its record is written (the write finishes after the
// response), and this isolate lists a job it just created even before KV
// does. Other isolates see changes as KV propagates them, as before.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::join_all;
use reelay_core::errors::ClientError;
use reelay_core::video::jobs::{IndexEntry, JobRecord};
use reelay_core::video::RETENTION_SECS;
use serde_json::json;
use worker::{Date, Env};

use crate::context::{Ctx, KV_BINDING};
use crate::respond::OrInternal;

/// How long an isolate trusts a record it wrote or read (KV propagates
/// changes across locations within about this long).
const RECENT_FOR_MS: u64 = 60_000;
/// Records remembered per isolate.
const MAX_RECENT: usize = 4_096;

thread_local! {
    static RECENT: RefCell<HashMap<String, (JobRecord, u64)>> = RefCell::new(HashMap::new());
}

fn remember(name: &str, record: &JobRecord) {
    let now = Date::now().as_millis();
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        if recent.len() >= MAX_RECENT && !recent.contains_key(name) {
            recent.retain(|_, (_, at)| now.saturating_sub(*at) < RECENT_FOR_MS);
            if recent.len() >= MAX_RECENT {
                recent.clear();
            }
        }
        recent.insert(name.to_owned(), (record.clone(), now));
    });
}

fn recall(name: &str) -> Option<JobRecord> {
    let now = Date::now().as_millis();
    RECENT.with(|r| {
        r.borrow()
            .get(name)
            .filter(|(_, at)| now.saturating_sub(*at) < RECENT_FOR_MS)
            .map(|(record, _)| record.clone())
    })
}

/// Remembers `record` now and writes it to KV after the response.
pub(crate) fn store_after_response(cx: &Ctx, name: &str, record: &JobRecord) {
    remember(name, record);
    let (env, name, record) = (cx.env.clone(), name.to_owned(), record.clone());
    cx.after_response(async move {
        if let Err(e) = write(&env, &name, &record).await {
            worker::console_error!("storing a video job record failed: {}", e.message);
        }
    });
}

/// Records outlive the upstream files by a day, so a late poll still finds them.
const RECORD_TTL_SECS: u64 = RETENTION_SECS + 86_400;
/// Upper bound on one key's index scanned by a list (10 KV list pages).
pub(crate) const MAX_INDEX_ENTRIES: usize = 10_000;

/// Writes `record` to KV before answering (a delete must be durable).
pub(crate) async fn store(env: &Env, name: &str, record: &JobRecord) -> Result<(), ClientError> {
    remember(name, record);
    write(env, name, record).await
}

async fn write(env: &Env, name: &str, record: &JobRecord) -> Result<(), ClientError> {
    let kv = env.kv(KV_BINDING).or_storage("opening the job store")?;
    let text = serde_json::to_string(record).or_internal("encoding a job record")?;
    kv.put(name, text)
        .or_storage("writing a job record")?
        .expiration_ttl(RECORD_TTL_SECS)
        .metadata(json!({ "deleted": record.deleted, "subject": record.subject }))
        .or_storage("writing a job record")?
        .execute()
        .await
        .or_storage("writing a job record")
}

/// The record, or `None` when there is none (never written, expired, or not
/// yet visible in this location: KV is eventually consistent).
pub(crate) async fn load(env: &Env, name: &str) -> Result<Option<JobRecord>, ClientError> {
    if let Some(record) = recall(name) {
        return Ok(Some(record));
    }
    let kv = env.kv(KV_BINDING).or_storage("opening the job store")?;
    let text = kv
        .get(name)
        .text()
        .await
        .or_storage("reading a job record")?;
    let record: Option<JobRecord> = text.and_then(|t| serde_json::from_str(&t).ok());
    if let Some(record) = &record {
        remember(name, record);
    }
    Ok(record)
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
            let meta = key.metadata.as_ref();
            IndexEntry {
                deleted: meta
                    .and_then(|m| m.get("deleted"))
                    .and_then(|d| d.as_bool())
                    .unwrap_or(false),
                subject: meta
                    .and_then(|m| m.get("subject"))
                    .and_then(|s| s.as_str())
                    .map(str::to_owned),
                name: key.name,
            }
        }));
        match page.cursor {
            Some(next) if !page.list_complete && entries.len() < MAX_INDEX_ENTRIES => {
                cursor = Some(next)
            }
            _ => return Ok(with_recent(entries, prefix)),
        }
    }
}

/// Adds the records this isolate wrote under `prefix` that KV does not list
/// yet, and applies the deleted marks it knows, keeping storage order.
fn with_recent(mut entries: Vec<IndexEntry>, prefix: &str) -> Vec<IndexEntry> {
    let now = Date::now().as_millis();
    let mut added = false;
    RECENT.with(|r| {
        for (name, (record, at)) in r.borrow().iter() {
            if !name.starts_with(prefix) || now.saturating_sub(*at) >= RECENT_FOR_MS {
                continue;
            }
            match entries.iter_mut().find(|e| &e.name == name) {
                Some(entry) => entry.deleted = record.deleted,
                None => {
                    entries.push(IndexEntry {
                        name: name.clone(),
                        deleted: record.deleted,
                        subject: record.subject.clone(),
                    });
                    added = true;
                }
            }
        }
    });
    if added {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
    }
    entries
}
