// The `QUOTA` Durable Object (one per virtual key, addressed by the key's
// token) and the calls it answers; the edge's client is `crate::quota`.
//
// The DO runs `core::quota` atomically: it parses the call first, then does
// every SQLite read-modify-write synchronously (no `await` in between), so
// concurrent requests for one key are serialised and no update is lost —
// unlike KV, where concurrent increments overwrite each other. It also holds
// the key's latest record and its revocation (with the time of the
// deletion), so `/key/update` and `/key/delete` take effect at the next
// request, not after KV's ~60 s propagation. A deletion made while the
// object could not be reached left a marker in KV (`revoked:<token>`, see
// `reelay_core::keys::revocation_name`): the object adopts it on its first
// call after it starts and at every alarm, so a key deleted during an
// outage does not come back with the object. An alarm (at most once a
// minute) writes a usage snapshot to KV (`usage:<token>`) and drops old
// holds.
//
// Watches: a relayed WebSocket session holds a watch on its key's object
// (`GET` with `Upgrade: websocket`, accepted with the hibernation API, so an
// idle watch costs the object no memory or duration). A revoked key's object
// refuses the watch (`410`); a revocation closes every watch with
// [`WATCH_REVOKED`]; a pushed record sends each watch its expiry and access
// rules ([`WatchNotice`]), so a narrowing ends the sessions it no longer
// allows. The relay needs no polling: one round trip per session.
//
// Failure policy: when the DO cannot be reached, a plain request is let
// through (fail open, logged) but anything metered — a video job, a
// realtime session, spend — is refused with `503 quota_unavailable`
// (fail closed).

use std::cell::{Cell, RefCell};

use reelay_core::config::policy::Policy;
use reelay_core::keys::{revocation_applies, revocation_name, KeyRecord};
use reelay_core::money::micros_to_usd;
use reelay_core::quota::{
    Clock, Cost, Decision, Denial, Hold, HoldState, Ledger, Meter, Settlement, Standing, TokenUse,
};
use reelay_core::time::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, SqlStorage,
    SqlStorageValue, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use crate::context::KV_BINDING;

/// The Durable Object namespace binding.
pub(crate) const BINDING: &str = "QUOTA";
/// Closed holds are kept this long for idempotency, then dropped.
const CLOSED_HOLD_TTL_MS: u64 = 2 * 86_400_000;
/// Open holds nobody settled (a video job never polled again) stay charged
/// at their reserved amounts and are closed after this long.
const OPEN_HOLD_TTL_MS: u64 = 7 * 86_400_000;

/// The close code with which a key's object ends its watches when the key
/// is revoked (any other end of a watch is a lost connection).
pub(crate) const WATCH_REVOKED: u16 = 4001;
/// The status with which a revoked key's object refuses a watch.
pub(crate) const WATCH_REFUSED: u16 = 410;

/// What a key's object tells its watches when the key's record changes.
#[derive(Serialize, Deserialize)]
pub(crate) struct WatchNotice {
    /// The key's expiry, Unix ms (`None`: it never expires).
    pub(crate) expires_at_ms: Option<u64>,
    /// The key's access rules as stored (empty: every model).
    #[serde(default)]
    pub(crate) models: Option<Vec<String>>,
}

impl WatchNotice {
    fn of(record: &KeyRecord) -> Self {
        Self {
            expires_at_ms: record.expires_at_ms,
            models: Some(record.models.clone()),
        }
    }
}

/// Exact per-key quota state.
#[durable_object]
pub struct QuotaCounter {
    state: State,
    env: Env,
    alarm_pending: Cell<bool>,
    token: RefCell<Option<String>>,
    /// The KV revocation marker was read in this object's lifetime.
    marker_checked: Cell<bool>,
    /// The revocation, pushed record and ledger, read from SQLite once
    /// per object lifetime and written through on every change (the object
    /// is the only writer, so the copy never goes stale).
    cache: RefCell<Option<Cached>>,
}

struct Cached {
    /// When the key was deleted (Unix ms), if it was.
    revoked_at: Option<u64>,
    record: Option<KeyRecord>,
    ledger: Ledger,
    /// The ledger as last written, so a call that changed nothing writes
    /// nothing (and its answer waits for no storage commit).
    written: String,
}

/// What the edge asks the DO to do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub(crate) enum Op {
    /// Check revocation and reserve `cost` under `id` (a zero cost only
    /// checks revocation and returns the newest record); with `token_use`,
    /// also spend one use of that gateway token, all or nothing (a token
    /// with no use left reserves nothing and answers `used_up`).
    Reserve {
        id: String,
        cost: Cost,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_use: Option<TokenUse>,
    },
    /// Settle these holds, in order.
    Settle { items: Vec<SettleItem> },
    /// Where the meters stand, and lifetime totals.
    Usage,
    /// Store the key's latest record; a record created after the key's
    /// revocation (a re-created custom key) clears it, any other is
    /// refused (`revoked`).
    Record,
    /// Revoke the key, deleted at `at_ms` (0: now): every later call
    /// answers `revoked`, until a record created after the deletion (a
    /// re-created custom key) is stored.
    Revoke {
        #[serde(default)]
        at_ms: u64,
    },
    /// Revoke the gateway token `id` (a Live Interactions auth token): its
    /// use count becomes `used`, more than it allows, kept until `until_ms`.
    RevokeTokenUse {
        id: String,
        used: u64,
        until_ms: u64,
    },
}

/// One hold to settle.
#[derive(Serialize, Deserialize)]
pub(crate) struct SettleItem {
    pub(crate) id: String,
    pub(crate) settle: Settlement,
    /// The gateway token whose use the hold's request spent: given back
    /// when the hold is refunded (the session never started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_use: Option<String>,
}

/// One call to the key's object.
#[derive(Serialize, Deserialize)]
pub(crate) struct Call {
    pub(crate) token: String,
    /// The edge's view of the key (from KV, possibly stale).
    pub(crate) record: Option<KeyRecord>,
    pub(crate) defaults: Policy,
    pub(crate) time_zone: String,
    /// Usage snapshots go to KV at most this often.
    pub(crate) snapshot_every_ms: u64,
    /// Requests the edge let through without asking (unlimited keys, a
    /// fresh isolate cache), counted into the lifetime totals now.
    #[serde(default)]
    pub(crate) uncounted: u64,
    #[serde(flatten)]
    pub(crate) op: Op,
}

/// The object's answer.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct Answer {
    #[serde(default)]
    pub(crate) revoked: bool,
    /// The DO's record when newer than the edge's: the edge must use it.
    #[serde(default)]
    pub(crate) record: Option<KeyRecord>,
    #[serde(default)]
    pub(crate) denial: Option<Denial>,
    #[serde(default)]
    pub(crate) standings: Vec<Standing>,
    #[serde(default)]
    pub(crate) held: bool,
    #[serde(default)]
    pub(crate) usage: Option<Value>,
    /// A reservation's token use found no use left.
    #[serde(default)]
    pub(crate) used_up: bool,
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
            marker_checked: Cell::new(false),
            cache: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.method() == Method::Get && is_upgrade(&req) {
            return self.watch().await;
        }
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
        // Once per lifetime, before the first answer: a deletion made while
        // this object could not be reached.
        let marker = if self.marker_checked.replace(true) {
            None
        } else {
            self.revocation_marker(&call.token).await
        };
        let now_ms = Date::now().as_millis();
        let snapshot_every_ms = call.snapshot_every_ms.max(60_000);
        let answer = match self.execute(call, marker, now_ms) {
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
        if let Some(token) = &token {
            if let Some(at_ms) = self.revocation_marker(token).await {
                if let Err(e) = self.adopt_revocation(at_ms, None) {
                    worker::console_error!("QuotaCounter: adopting a revocation failed: {e}");
                }
            }
        }
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

    async fn websocket_message(
        &self,
        _ws: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        // Watches only listen.
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        // The session ended: finish the closing handshake (it may already be).
        let _ = ws.close(Some(1000), Some("session ended"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        Ok(())
    }
}

fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get("upgrade")
        .ok()
        .flatten()
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The object's state as stored (a legacy revocation flag `1` reads as a
/// deletion at 1 ms, before every record).
fn load_cached(sql: &SqlStorage) -> Cached {
    let written = meta(sql, "ledger").unwrap_or_default();
    Cached {
        revoked_at: meta(sql, "revoked").map(|v| v.trim().parse().unwrap_or(1)),
        record: meta(sql, "record").and_then(|text| serde_json::from_str(&text).ok()),
        ledger: serde_json::from_str(&written).unwrap_or_default(),
        written,
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

/// The uses of a gateway token counted so far.
fn token_uses(sql: &SqlStorage, id: &str) -> worker::Result<u64> {
    Ok(sql
        .exec(
            "SELECT used FROM token_uses WHERE id = ?",
            vec![SqlStorageValue::from(id.to_owned())],
        )?
        .to_array::<UsedRow>()?
        .into_iter()
        .next()
        .map_or(0, |r| u64::try_from(r.used).unwrap_or(0)))
}

/// Counts one use of a gateway token (synchronous SQLite, in the call that
/// checked a use was left).
fn count_token_use(sql: &SqlStorage, token_use: &TokenUse) -> worker::Result<()> {
    sql.exec(
        "INSERT INTO token_uses (id, used, until_ms) VALUES (?, 1, ?) \
         ON CONFLICT(id) DO UPDATE SET used = used + 1",
        vec![
            token_use.id.clone().into(),
            (token_use.until_ms as i64).into(),
        ],
    )?;
    Ok(())
}

/// Gives back one use of a gateway token whose session did not start.
fn give_back_token_use(sql: &SqlStorage, id: &str) -> worker::Result<()> {
    sql.exec(
        "UPDATE token_uses SET used = MAX(used - 1, 0) WHERE id = ?",
        vec![SqlStorageValue::from(id.to_owned())],
    )?;
    Ok(())
}

impl QuotaCounter {
    /// Accepts a watch on the key, unless it is revoked (a KV revocation
    /// marker is adopted first, once per lifetime, as for a call); sends it
    /// the expiry and rules of the record the admin API last pushed, if any.
    async fn watch(&self) -> worker::Result<Response> {
        let sql = self.state.storage().sql();
        if !self.marker_checked.replace(true) {
            if let Some(token) = meta(&sql, "token") {
                if let Some(at_ms) = self.revocation_marker(&token).await {
                    self.adopt_revocation(at_ms, None)?;
                }
            }
        }
        let (revoked, notice) = {
            let mut cache = self.cache.borrow_mut();
            let cached = cache.get_or_insert_with(|| load_cached(&sql));
            (
                cached.revoked_at.is_some(),
                cached.record.as_ref().map(WatchNotice::of),
            )
        };
        if revoked {
            return Response::error("revoked", WATCH_REFUSED);
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        if let Some(notice) = notice {
            let _ = pair.server.send_with_str(serde_json::to_string(&notice)?);
        }
        Response::from_websocket(pair.client)
    }

    /// Tells every watch the key's current expiry and rules.
    fn notify(&self, record: &KeyRecord) {
        let Ok(notice) = serde_json::to_string(&WatchNotice::of(record)) else {
            return;
        };
        for ws in self.state.get_websockets() {
            let _ = ws.send_with_str(&notice);
        }
    }

    /// Ends every watch: the key is revoked.
    fn close_watches(&self) {
        for ws in self.state.get_websockets() {
            let _ = ws.close(Some(WATCH_REVOKED), Some("revoked"));
        }
    }

    /// The deletion time in the key's KV revocation marker, if there is one.
    async fn revocation_marker(&self, token: &str) -> Option<u64> {
        let kv = self.env.kv(KV_BINDING).ok()?;
        match kv.get(&revocation_name(token)).text().await {
            Ok(text) => text.and_then(|t| t.trim().parse().ok()),
            Err(e) => {
                worker::console_error!("QuotaCounter: reading a revocation marker failed: {e}");
                None
            }
        }
    }

    /// Revokes the key as deleted at `at_ms` if that deletion ends the
    /// record in force (the stored one, else `edge`'s): synchronous SQLite.
    fn adopt_revocation(&self, at_ms: u64, edge: Option<&KeyRecord>) -> worker::Result<()> {
        let sql = self.state.storage().sql();
        let mut cache = self.cache.borrow_mut();
        let cached = cache.get_or_insert_with(|| load_cached(&sql));
        let created = cached
            .record
            .as_ref()
            .or(edge)
            .map_or(0, |r| r.created_at_ms);
        if revocation_applies(at_ms, created) && cached.revoked_at.is_none_or(|r| r < at_ms) {
            set_meta(&sql, "revoked", &at_ms.to_string())?;
            cached.revoked_at = Some(at_ms);
            self.close_watches();
        }
        Ok(())
    }

    /// Runs one call: synchronous SQLite only, so it is atomic. `marker` is
    /// a KV revocation marker read before it, to adopt first.
    fn execute(&self, call: Call, marker: Option<u64>, now_ms: u64) -> worker::Result<Answer> {
        let sql = self.state.storage().sql();
        if self.token.borrow().as_deref() != Some(call.token.as_str()) {
            set_meta(&sql, "token", &call.token)?;
            *self.token.borrow_mut() = Some(call.token.clone());
        }
        if let Some(at_ms) = marker {
            self.adopt_revocation(at_ms, call.record.as_ref())?;
        }
        let mut cache = self.cache.borrow_mut();
        let cached = cache.get_or_insert_with(|| load_cached(&sql));
        match call.op {
            Op::Record => {
                if let Some(record) = call.record {
                    if let Some(at_ms) = cached.revoked_at {
                        if revocation_applies(at_ms, record.created_at_ms) {
                            // An update racing a deletion, or a stale record:
                            // a deleted key stays deleted.
                            return Ok(Answer {
                                revoked: true,
                                ..Answer::default()
                            });
                        }
                    }
                    set_meta(&sql, "record", &serde_json::to_string(&record)?)?;
                    self.notify(&record);
                    cached.record = Some(record);
                }
                sql.exec("DELETE FROM meta WHERE name = 'revoked'", None)?;
                cached.revoked_at = None;
                return Ok(Answer::default());
            }
            Op::Revoke { at_ms } => {
                let at_ms = if at_ms == 0 { now_ms } else { at_ms };
                if let Some(record) = &cached.record {
                    if !revocation_applies(at_ms, record.created_at_ms) {
                        // A late deletion of the key's previous life (a
                        // custom key created again since): nothing to end.
                        return Ok(Answer::default());
                    }
                }
                let at_ms = cached.revoked_at.map_or(at_ms, |r| r.max(at_ms));
                set_meta(&sql, "revoked", &at_ms.to_string())?;
                cached.revoked_at = Some(at_ms);
                self.close_watches();
                return Ok(Answer {
                    revoked: true,
                    ..Answer::default()
                });
            }
            _ => {}
        }
        if cached.revoked_at.is_some() {
            return Ok(Answer {
                revoked: true,
                ..Answer::default()
            });
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
        ledger.totals.requests = ledger.totals.requests.saturating_add(call.uncounted);
        let mut answer = Answer {
            record: newer,
            ..Answer::default()
        };
        match call.op {
            Op::Reserve {
                id,
                cost,
                token_use,
            } => {
                let spent = match &token_use {
                    Some(token_use) => !token_use.allows_another(token_uses(&sql, &token_use.id)?),
                    None => false,
                };
                if spent {
                    answer.used_up = true;
                    answer.standings = ledger.standings(&limits, &clock);
                } else {
                    // Only calls that may create a hold look one up.
                    let existing = if cost.slot || cost.has_counters() {
                        load_hold(&sql, &id)?
                    } else {
                        None
                    };
                    let (decision, hold) =
                        ledger.reserve(&id, existing.as_ref(), &cost, &limits, &clock);
                    match decision {
                        Decision::Allowed(standings) => {
                            answer.standings = standings;
                            if let Some(token_use) = &token_use {
                                count_token_use(&sql, token_use)?;
                            }
                        }
                        Decision::Denied(denial, standings) => {
                            answer.denial = Some(denial);
                            answer.standings = standings;
                        }
                    }
                    if let Some(hold) = hold {
                        store_hold(&sql, &hold, now_ms)?;
                        answer.held = true;
                    }
                }
            }
            Op::Settle { items } => {
                for SettleItem {
                    id,
                    settle,
                    token_use,
                } in items
                {
                    if let (Settlement::Refund, Some(token)) = (settle, &token_use) {
                        give_back_token_use(&sql, token)?;
                    }
                    let Some(mut hold) = load_hold(&sql, &id)? else {
                        continue;
                    };
                    if ledger.settle(&mut hold, settle, &limits, &clock) {
                        store_hold(&sql, &hold, now_ms)?;
                    }
                }
                answer.standings = ledger.standings(&limits, &clock);
            }
            Op::Usage => {
                answer.standings = ledger.standings(&limits, &clock);
                answer.usage = Some(usage_json(ledger, &answer.standings));
            }
            Op::RevokeTokenUse { id, used, until_ms } => {
                sql.exec(
                    "INSERT INTO token_uses (id, used, until_ms) VALUES (?, ?, ?) \
                     ON CONFLICT(id) DO UPDATE SET used = MAX(used, excluded.used)",
                    vec![
                        id.into(),
                        (used.min(i64::MAX as u64) as i64).into(),
                        (until_ms as i64).into(),
                    ],
                )?;
            }
            Op::Record | Op::Revoke { .. } => {}
        }
        let text = serde_json::to_string(&*ledger)?;
        if text != cached.written {
            set_meta(&sql, "ledger", &text)?;
            cached.written = text;
        }
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
                    "resets_at": reelay_core::time::rfc3339(s.reset_at_ms),
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
