// The `QUOTA` Durable Object (one per virtual key, addressed by the key's
// token) and the edge's calls to it.
//
// The DO runs `core::quota` atomically: it parses the call first, then does
// every SQLite read-modify-write synchronously (no `await` in between), so
// concurrent requests for one key are serialised and no update is lost —
// unlike KV, where concurrent increments overwrite each other. It also holds
// the key's latest record and a revocation flag, so `/key/update` and
// `/key/delete` take effect at the next request, not after KV's ~60 s
// propagation. An alarm (at most once a minute) writes a usage snapshot to
// KV (`usage:<token>`) and drops old holds.
//
// Failure policy: when the DO cannot be reached, a plain request is let
// through (fail open, logged) but anything metered — a video job, a
// realtime session, spend — is refused with `503 quota_unavailable`
// (fail closed).

use std::cell::{Cell, RefCell};

use reelay_core::config::Config;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::KeyRecord;
use reelay_core::quota::policy::Policy;
use reelay_core::quota::tz::TimeZone;
use reelay_core::quota::{
    micros_to_usd, Clock, Cost, Decision, Denial, Hold, HoldState, Ledger, Meter, Standing,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{
    durable_object, Date, DurableObject, Env, Headers, Method, Request, RequestInit, Response,
    SqlStorage, SqlStorageValue, State,
};

use crate::context::Ctx;
use crate::keys::{Caller, KV_BINDING};

const BINDING: &str = "QUOTA";
/// Closed holds are kept this long for idempotency, then dropped.
const CLOSED_HOLD_TTL_MS: u64 = 2 * 86_400_000;
/// Open holds nobody settled (a video job never polled again) stay charged
/// at their reserved amounts and are closed after this long.
const OPEN_HOLD_TTL_MS: u64 = 7 * 86_400_000;

/// Exact per-key quota state.
#[durable_object]
pub struct QuotaCounter {
    state: State,
    env: Env,
    alarm_pending: Cell<bool>,
    token: RefCell<Option<String>>,
    /// The revocation flag, pushed record and ledger, read from SQLite once
    /// per object lifetime and written through on every change (the object
    /// is the only writer, so the copy never goes stale).
    cache: RefCell<Option<Cached>>,
}

struct Cached {
    revoked: bool,
    record: Option<KeyRecord>,
    ledger: Ledger,
}

/// What the edge asks the DO to do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
enum Op {
    /// Check revocation and reserve `cost` under `id`.
    Reserve { id: String, cost: Cost },
    /// Settle the hold `id`.
    Settle { id: String, settle: Settlement },
    /// Where the meters stand, and lifetime totals.
    Usage,
    /// Store the key's latest record and clear any revocation.
    Record,
    /// Revoke the key: every later call answers `revoked`.
    Revoke,
    /// Count one use of the gateway token `id` (a Gemini ephemeral token)
    /// if fewer than `max` were counted; the count is kept until `until_ms`.
    Use { id: String, max: u32, until_ms: u64 },
}

/// How a hold ends (or pauses).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum Settlement {
    /// The request is over; keep its reservation open (a submitted job).
    Release,
    /// Return everything.
    Refund,
    /// Charge these amounts instead of the reserved ones.
    Commit { actual: Cost },
}

#[derive(Serialize, Deserialize)]
struct Call {
    token: String,
    /// The edge's view of the key (from KV, possibly stale).
    record: Option<KeyRecord>,
    defaults: Policy,
    time_zone: String,
    /// Usage snapshots go to KV at most this often.
    snapshot_every_ms: u64,
    #[serde(flatten)]
    op: Op,
}

#[derive(Serialize, Deserialize, Default)]
struct Answer {
    #[serde(default)]
    revoked: bool,
    /// The DO's record when newer than the edge's: the edge must use it.
    #[serde(default)]
    record: Option<KeyRecord>,
    #[serde(default)]
    denial: Option<Denial>,
    #[serde(default)]
    standings: Vec<Standing>,
    #[serde(default)]
    held: bool,
    #[serde(default)]
    usage: Option<Value>,
    /// A `Use` found no use left.
    #[serde(default)]
    used_up: bool,
}

#[derive(Deserialize)]
struct TextRow {
    value: String,
}

impl DurableObject for QuotaCounter {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for ddl in [
            "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS holds (id TEXT PRIMARY KEY, value TEXT NOT NULL, \
             open INTEGER NOT NULL, updated_ms INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS token_uses (id TEXT PRIMARY KEY, used INTEGER NOT NULL, \
             until_ms INTEGER NOT NULL)",
        ] {
            if let Err(e) = sql.exec(ddl, None) {
                worker::console_error!("QuotaCounter: creating tables failed: {e}");
            }
        }
        Self {
            state,
            env,
            alarm_pending: Cell::new(false),
            token: RefCell::new(None),
            cache: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.method() != Method::Post {
            return Response::error("method not allowed", 405);
        }
        // Read the whole call before touching state: after this point the
        // handler does not await until its writes are done, so calls for
        // this key cannot interleave.
        let call: Call = match req.json().await {
            Ok(call) => call,
            Err(e) => return Response::error(format!("bad quota call: {e}"), 400),
        };
        let now_ms = Date::now().as_millis();
        let snapshot_every_ms = call.snapshot_every_ms.max(60_000);
        let answer = match self.execute(call, now_ms) {
            Ok(answer) => answer,
            Err(e) => {
                worker::console_error!("QuotaCounter: {e}");
                // Reload from SQLite next time rather than trust a copy
                // that may be ahead of what was written.
                *self.cache.borrow_mut() = None;
                return Response::error("quota store failure", 500);
            }
        };
        self.schedule_snapshot(snapshot_every_ms).await;
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_pending.set(false);
        let sql = self.state.storage().sql();
        let now_ms = Date::now().as_millis();
        let closed_before = now_ms.saturating_sub(CLOSED_HOLD_TTL_MS) as i64;
        let open_before = now_ms.saturating_sub(OPEN_HOLD_TTL_MS) as i64;
        sql.exec(
            "DELETE FROM holds WHERE (open = 0 AND updated_ms < ?) OR (open = 1 AND updated_ms < ?)",
            vec![closed_before.into(), open_before.into()],
        )?;
        sql.exec(
            "DELETE FROM token_uses WHERE until_ms < ?",
            vec![(now_ms as i64).into()],
        )?;
        let token = meta(&sql, "token");
        let ledger = meta(&sql, "ledger");
        if let (Some(token), Some(ledger)) = (token, ledger) {
            let snapshot = serde_json::json!({
                "ledger": serde_json::from_str::<Value>(&ledger).unwrap_or(Value::Null),
                "at_ms": now_ms,
            });
            let kv = self.env.kv(KV_BINDING)?;
            kv.put(&format!("usage:{token}"), snapshot.to_string())?
                .execute()
                .await?;
        }
        Response::ok("")
    }
}

fn meta(sql: &SqlStorage, name: &str) -> Option<String> {
    sql.exec(
        "SELECT value FROM meta WHERE name = ?",
        vec![SqlStorageValue::from(name.to_owned())],
    )
    .and_then(|c| c.to_array::<TextRow>())
    .ok()
    .and_then(|rows| rows.into_iter().next())
    .map(|r| r.value)
}

fn set_meta(sql: &SqlStorage, name: &str, value: &str) -> worker::Result<()> {
    sql.exec(
        "INSERT INTO meta (name, value) VALUES (?, ?) \
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        vec![name.to_owned().into(), value.to_owned().into()],
    )?;
    Ok(())
}

fn load_hold(sql: &SqlStorage, id: &str) -> worker::Result<Option<Hold>> {
    let rows: Vec<TextRow> = sql
        .exec(
            "SELECT value FROM holds WHERE id = ?",
            vec![SqlStorageValue::from(id.to_owned())],
        )?
        .to_array()?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| serde_json::from_str(&r.value).ok()))
}

fn store_hold(sql: &SqlStorage, hold: &Hold, now_ms: u64) -> worker::Result<()> {
    let value = serde_json::to_string(hold)?;
    let open = i64::from(hold.state == HoldState::Open);
    sql.exec(
        "INSERT INTO holds (id, value, open, updated_ms) VALUES (?, ?, ?, ?) \
         ON CONFLICT(id) DO UPDATE SET value = excluded.value, open = excluded.open, \
         updated_ms = excluded.updated_ms",
        vec![
            hold.id.clone().into(),
            value.into(),
            open.into(),
            (now_ms as i64).into(),
        ],
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct UsedRow {
    used: i64,
}

/// Counts one use of a gateway token, atomically (synchronous SQLite).
fn count_token_use(sql: &SqlStorage, id: &str, max: u32, until_ms: u64) -> worker::Result<Answer> {
    let used = sql
        .exec(
            "SELECT used FROM token_uses WHERE id = ?",
            vec![SqlStorageValue::from(id.to_owned())],
        )?
        .to_array::<UsedRow>()?
        .into_iter()
        .next()
        .map_or(0, |r| r.used);
    if max > 0 && used >= i64::from(max) {
        return Ok(Answer {
            used_up: true,
            ..Answer::default()
        });
    }
    sql.exec(
        "INSERT INTO token_uses (id, used, until_ms) VALUES (?, 1, ?) \
         ON CONFLICT(id) DO UPDATE SET used = used + 1",
        vec![id.to_owned().into(), (until_ms as i64).into()],
    )?;
    Ok(Answer::default())
}

impl QuotaCounter {
    /// Runs one call: synchronous SQLite only, so it is atomic.
    fn execute(&self, call: Call, now_ms: u64) -> worker::Result<Answer> {
        let sql = self.state.storage().sql();
        if self.token.borrow().as_deref() != Some(call.token.as_str()) {
            set_meta(&sql, "token", &call.token)?;
            *self.token.borrow_mut() = Some(call.token.clone());
        }
        let mut cache = self.cache.borrow_mut();
        let cached = cache.get_or_insert_with(|| Cached {
            revoked: meta(&sql, "revoked").is_some(),
            record: meta(&sql, "record").and_then(|text| serde_json::from_str(&text).ok()),
            ledger: meta(&sql, "ledger")
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default(),
        });
        match call.op {
            Op::Record => {
                if let Some(record) = call.record {
                    set_meta(&sql, "record", &serde_json::to_string(&record)?)?;
                    cached.record = Some(record);
                }
                sql.exec("DELETE FROM meta WHERE name = 'revoked'", None)?;
                cached.revoked = false;
                return Ok(Answer::default());
            }
            Op::Revoke => {
                set_meta(&sql, "revoked", "1")?;
                cached.revoked = true;
                return Ok(Answer {
                    revoked: true,
                    ..Answer::default()
                });
            }
            _ => {}
        }
        if cached.revoked {
            return Ok(Answer {
                revoked: true,
                ..Answer::default()
            });
        }
        if let Op::Use { id, max, until_ms } = &call.op {
            return count_token_use(&sql, id, *max, *until_ms);
        }
        // The newer of the edge's record (KV) and the one pushed by the
        // admin API wins, so policy changes apply at once.
        let newer = match (&call.record, &cached.record) {
            (Some(edge), Some(stored)) if stored.updated_at_ms > edge.updated_at_ms => {
                Some(stored.clone())
            }
            (None, Some(stored)) => Some(stored.clone()),
            _ => None,
        };
        let limits = newer
            .as_ref()
            .or(call.record.as_ref())
            .map(|r| r.limits(&call.defaults))
            .unwrap_or_default();
        let clock = Clock {
            tz: TimeZone::by_name(&call.time_zone).unwrap_or(TimeZone::UTC),
            now_ms,
        };
        let ledger = &mut cached.ledger;
        let mut answer = Answer {
            record: newer,
            ..Answer::default()
        };
        match call.op {
            Op::Reserve { id, cost } => {
                // Only calls that may create a hold look one up.
                let existing = if cost.slot || cost.has_counters() {
                    load_hold(&sql, &id)?
                } else {
                    None
                };
                let (decision, hold) =
                    ledger.reserve(&id, existing.as_ref(), &cost, &limits, &clock);
                match decision {
                    Decision::Allowed(standings) => answer.standings = standings,
                    Decision::Denied(denial) => answer.denial = Some(denial),
                }
                if let Some(hold) = hold {
                    store_hold(&sql, &hold, now_ms)?;
                    answer.held = true;
                }
            }
            Op::Settle { id, settle } => {
                if let Some(mut hold) = load_hold(&sql, &id)? {
                    let changed = match settle {
                        Settlement::Release => ledger.release_slot(&mut hold),
                        Settlement::Refund => ledger.refund(&mut hold, &limits, &clock),
                        Settlement::Commit { actual } => {
                            ledger.commit(&mut hold, &actual, &limits, &clock)
                        }
                    };
                    if changed {
                        store_hold(&sql, &hold, now_ms)?;
                    }
                }
                answer.standings = ledger.standings(&limits, &clock);
            }
            Op::Usage => {
                answer.standings = ledger.standings(&limits, &clock);
                answer.usage = Some(usage_json(ledger, &answer.standings));
            }
            Op::Record | Op::Revoke | Op::Use { .. } => {}
        }
        set_meta(&sql, "ledger", &serde_json::to_string(&*ledger)?)?;
        Ok(answer)
    }

    async fn schedule_snapshot(&self, every_ms: u64) {
        if self.alarm_pending.get() {
            return;
        }
        let storage = self.state.storage();
        let due = match storage.get_alarm().await {
            Ok(Some(_)) => true,
            _ => storage
                .set_alarm((Date::now().as_millis() + every_ms) as i64)
                .await
                .is_ok(),
        };
        self.alarm_pending.set(due);
    }
}

/// The `usage` object of `/key/info`: what was used and what is left.
fn usage_json(ledger: &Ledger, standings: &[Standing]) -> Value {
    let limits: serde_json::Map<String, Value> = standings
        .iter()
        .map(|s| {
            let (limit, remaining) = if s.meter == Meter::Budget {
                (
                    Value::String(micros_to_usd(s.limit)),
                    Value::String(micros_to_usd(s.remaining)),
                )
            } else {
                (s.limit.into(), s.remaining.into())
            };
            (
                s.meter.as_str().to_owned(),
                serde_json::json!({
                    "limit": limit,
                    "remaining": remaining,
                    "resets_at": reelay_core::keys::rfc3339(s.reset_at_ms),
                }),
            )
        })
        .collect();
    let t = &ledger.totals;
    serde_json::json!({
        "today": {
            "videos": ledger.videos,
            "video_seconds": ledger.video_seconds,
            "realtime_sessions": ledger.realtime_sessions,
        },
        "in_flight": ledger.leases.len(),
        "spend": micros_to_usd(ledger.spend_micros),
        "limits": limits,
        "totals": {
            "requests": t.requests,
            "denied": t.denied,
            "videos": t.videos,
            "video_seconds": t.video_seconds,
            "realtime_sessions": t.realtime_sessions,
            "spend": micros_to_usd(t.spend_micros),
        },
    })
}

// ---- the edge side ----

/// What this request learned from the quota store, for its response headers
/// and for releasing its slot when it ends.
#[derive(Default)]
pub(crate) struct RequestQuota {
    standings: Vec<Standing>,
    /// The key's token and record, when the request holds a parallel slot.
    slot: Option<(String, KeyRecord)>,
}

fn call_body(config: &Config, token: &str, record: Option<&KeyRecord>, op: Op) -> String {
    let call = Call {
        token: token.to_owned(),
        record: record.cloned(),
        defaults: config.quota.defaults.clone(),
        time_zone: config.quota.time_zone.name().to_owned(),
        snapshot_every_ms: u64::from(config.quota.snapshot_interval_secs) * 1000,
        op,
    };
    serde_json::to_string(&call).unwrap_or_default()
}

async fn send(env: &Env, token: &str, body: String) -> Result<Answer, String> {
    let stub = env
        .durable_object(BINDING)
        .and_then(|ns| ns.get_by_name(token))
        .map_err(|e| format!("addressing the quota store: {e}"))?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let req = Request::new_with_init("https://quota/", &init)
        .map_err(|e| format!("building a quota call: {e}"))?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| format!("calling the quota store: {e}"))?;
    if resp.status_code() != 200 {
        return Err(format!("the quota store answered {}", resp.status_code()));
    }
    resp.json::<Answer>()
        .await
        .map_err(|e| format!("reading the quota store's answer: {e}"))
}

fn unavailable(what: &str, detail: &str) -> ClientError {
    worker::console_error!("quota store unavailable while {what}: {detail}");
    ClientError::new(
        ErrorCode::QuotaUnavailable,
        format!("the quota store is unavailable while {what}, so this metered request is refused; retry later"),
    )
}

/// Admits a request by a virtual key: revocation, the newest record,
/// requests per minute and a parallel slot. Fails open (logged) when the
/// store is unreachable: only metered work fails closed.
pub(crate) async fn admit(cx: &Ctx, caller: &mut Caller) -> Result<(), ClientError> {
    let config = cx.config()?;
    let token = caller.record.token.clone();
    let body = call_body(
        &config,
        &token,
        Some(&caller.record),
        Op::Reserve {
            id: cx.request_id.clone(),
            cost: Cost::REQUEST,
        },
    );
    let started = Date::now().as_millis();
    let answer = match send(&cx.env, &token, body).await {
        Ok(answer) => answer,
        Err(detail) => {
            worker::console_error!("quota store unavailable, admitting unmetered: {detail}");
            cx.log.borrow_mut().quota = Some("unavailable");
            return Ok(());
        }
    };
    cx.log.borrow_mut().quota_ms = Some(Date::now().as_millis().saturating_sub(started));
    let (newer, held) = apply_answer(cx, answer)?;
    if let Some(record) = newer {
        caller.record = record;
    }
    if held {
        cx.quota.borrow_mut().slot = Some((token, caller.record.clone()));
    }
    Ok(())
}

/// Applies an answer: revocation, denial, headers. Returns the newer
/// record the store holds (if any) and whether the answer holds something
/// to settle.
fn apply_answer(cx: &Ctx, answer: Answer) -> Result<(Option<KeyRecord>, bool), ClientError> {
    if answer.revoked {
        return Err(ClientError::new(
            ErrorCode::InvalidApiKey,
            "the API key is not valid (it was deleted)",
        ));
    }
    if let Some(record) = &answer.record {
        record.check_usable(cx.now_ms)?;
    }
    merge_standings(&mut cx.quota.borrow_mut().standings, answer.standings);
    if let Some(denial) = answer.denial {
        cx.log.borrow_mut().quota = Some(denial.meter.as_str());
        return Err(denial.to_client());
    }
    Ok((answer.record, answer.held))
}

fn merge_standings(into: &mut Vec<Standing>, new: Vec<Standing>) {
    for s in new {
        match into.iter_mut().find(|o| o.meter == s.meter) {
            Some(old) => *old = s,
            None => into.push(s),
        }
    }
}

/// Reserves metered work (a video job, a realtime session) under `id`,
/// all or nothing. Fails closed when the store is unreachable.
pub(crate) async fn reserve(
    cx: &Ctx,
    caller: &Caller,
    id: &str,
    cost: Cost,
) -> Result<(), ClientError> {
    if caller.is_master {
        return Ok(());
    }
    let config = cx.config()?;
    let token = caller.record.token.clone();
    let body = call_body(
        &config,
        &token,
        Some(&caller.record),
        Op::Reserve {
            id: id.to_owned(),
            cost,
        },
    );
    let answer = send(&cx.env, &token, body)
        .await
        .map_err(|detail| unavailable("reserving quota", &detail))?;
    // The record was refreshed at admission; this answer only adds meters.
    apply_answer(cx, answer).map(|_| ())
}

/// Settles the hold `id` of `caller`'s key (idempotent: settling twice, or
/// a hold that does not exist, changes nothing).
pub(crate) async fn settle(
    cx: &Ctx,
    record: &KeyRecord,
    id: &str,
    settle: Settlement,
) -> Result<(), ClientError> {
    let config = cx.config()?;
    let body = call_body(
        &config,
        &record.token,
        Some(record),
        Op::Settle {
            id: id.to_owned(),
            settle,
        },
    );
    send(&cx.env, &record.token, body)
        .await
        .map(|_| ())
        .map_err(|detail| unavailable("settling quota", &detail))
}

/// Settles a hold after the response is sent (a video job seen finished).
pub(crate) fn settle_later(cx: &Ctx, record: &KeyRecord, id: &str, settlement: Settlement) {
    let Ok(config) = cx.config() else {
        return;
    };
    let body = call_body(
        &config,
        &record.token,
        Some(record),
        Op::Settle {
            id: id.to_owned(),
            settle: settlement,
        },
    );
    let (env, token) = (cx.env.clone(), record.token.clone());
    cx.after_response(async move {
        if let Err(detail) = send(&env, &token, body).await {
            // The next poll of the job settles it again (settling is idempotent).
            worker::console_error!("settling a quota hold failed: {detail}");
        }
    });
}

/// The key's usage and what is left, for `/key/info`; falls back to the
/// last KV snapshot when the store is unreachable.
pub(crate) async fn usage(cx: &Ctx, record: &KeyRecord) -> Value {
    let Ok(config) = cx.config() else {
        return Value::Null;
    };
    let body = call_body(&config, &record.token, Some(record), Op::Usage);
    match send(&cx.env, &record.token, body).await {
        Ok(answer) => answer.usage.unwrap_or(Value::Null),
        Err(detail) => {
            worker::console_error!("quota store unavailable for usage: {detail}");
            let snapshot = match cx.env.kv(KV_BINDING) {
                Ok(kv) => kv
                    .get(&format!("usage:{}", record.token))
                    .json::<Value>()
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            serde_json::json!({ "stale_snapshot": snapshot })
        }
    }
}

/// The newer of `record` (from KV) and the one the quota store holds.
pub(crate) async fn freshest(cx: &Ctx, record: KeyRecord) -> Result<KeyRecord, ClientError> {
    let config = cx.config()?;
    let body = call_body(&config, &record.token, Some(&record), Op::Usage);
    let answer = send(&cx.env, &record.token, body)
        .await
        .map_err(|detail| unavailable("reading the key's record", &detail))?;
    if answer.revoked {
        return Err(ClientError::from_code(ErrorCode::KeyNotFound));
    }
    Ok(answer.record.unwrap_or(record))
}

/// Stores the key's new record in its DO (generate/update) so it applies
/// at once; clears a revocation.
pub(crate) async fn push_record(cx: &Ctx, record: &KeyRecord) -> Result<(), ClientError> {
    let config = cx.config()?;
    let body = call_body(&config, &record.token, Some(record), Op::Record);
    send(&cx.env, &record.token, body)
        .await
        .map(|_| ())
        .map_err(|detail| unavailable("updating the key's quota record", &detail))
}

/// Counts one use of the gateway token `id` minted by `record`'s key:
/// `Ok(false)` when its `max` uses (0 = unlimited) are spent or the key was
/// revoked. Fails closed when the store is unreachable.
pub(crate) async fn count_use(
    cx: &Ctx,
    record: &KeyRecord,
    id: &str,
    max: u32,
    until_ms: u64,
) -> Result<bool, ClientError> {
    let config = cx.config()?;
    let op = Op::Use {
        id: id.to_owned(),
        max,
        until_ms,
    };
    let body = call_body(&config, &record.token, Some(record), op);
    let answer = send(&cx.env, &record.token, body)
        .await
        .map_err(|detail| unavailable("counting a token use", &detail))?;
    Ok(!answer.revoked && !answer.used_up)
}

/// Revokes the key with this token at once (delete).
pub(crate) async fn revoke(cx: &Ctx, token: &str) -> Result<(), ClientError> {
    let config = cx.config()?;
    let body = call_body(&config, token, None, Op::Revoke);
    send(&cx.env, token, body)
        .await
        .map(|_| ())
        .map_err(|detail| unavailable("revoking the key", &detail))
}

/// Adds the `x-ratelimit-*` headers and releases the request's parallel
/// slot after the response is sent.
pub(crate) fn finish(cx: &Ctx, headers: &Headers) {
    let mut quota = cx.quota.borrow_mut();
    for s in &quota.standings {
        let suffix = s.meter.header_suffix();
        let (limit, remaining) = if s.meter == Meter::Budget {
            (micros_to_usd(s.limit), micros_to_usd(s.remaining))
        } else {
            (s.limit.to_string(), s.remaining.to_string())
        };
        let reset = reelay_core::quota::human_duration(s.reset_at_ms.saturating_sub(cx.now_ms));
        let _ = headers.set(&format!("x-ratelimit-limit-{suffix}"), &limit);
        let _ = headers.set(&format!("x-ratelimit-remaining-{suffix}"), &remaining);
        let _ = headers.set(&format!("x-ratelimit-reset-{suffix}"), &reset);
    }
    if let Some((token, record)) = quota.slot.take() {
        let Ok(config) = cx.config() else {
            return;
        };
        let body = call_body(
            &config,
            &token,
            Some(&record),
            Op::Settle {
                id: cx.request_id.clone(),
                settle: Settlement::Release,
            },
        );
        let env = cx.env.clone();
        cx.after_response(async move {
            if let Err(detail) = send(&env, &token, body).await {
                // The slot frees itself when its lease ends.
                worker::console_error!("releasing a parallel slot failed: {detail}");
            }
        });
    }
}
