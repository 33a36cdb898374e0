// The edge's client of the `QUOTA` Durable Object (`crate::quota_store`):
// admission of a request (revocation, the newest key record, its rate, its
// parallel slot, whatever metered work it reserves and the use of a
// gateway token it spends, all in one call), the settlement of its holds
// after the response (one call), and the admin calls (usage, record push,
// revocation).
//
// Round trips: a request pays at most one call on its path, and only when
// it must: when it reserves metered work, when its key has a rate or
// parallel limit, or when this isolate has not confirmed the key with its
// object within the last second (so a deletion anywhere stops unmetered
// requests within a second). Everything else is admitted from the isolate's
// cache (`crate::keys`) and counted into the key's totals with the next call.
//
// A relayed WebSocket session also holds a watch on its key's object
// ([`watch`]): one round trip when the session starts, none while it runs;
// the object ends the watch the moment the key is revoked.
//
// Failure policy: when the DO cannot be reached, a plain request is let
// through (fail open, logged) unless the key's KV revocation marker says it
// was deleted, but anything metered — a video job, a realtime session,
// spend — is refused with `503 quota_unavailable` (fail closed). Deleting a
// key never needs the DO: the marker is written first, the DO told when
// it answers (see `reelay_core::keys::revocation_name`); for five minutes
// after this isolate saw a store fail, a key its store vouches for is also
// checked against its marker, so a store that was down when the key was
// deleted does not bring it back.

use std::rc::Rc;

use futures_util::future::join;

use reelay_core::config::policy::Policy;
use reelay_core::config::Config;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{revocation_applies, revocation_name, KeyRecord};
use reelay_core::quota::{
    micros_to_usd, must_ask_store, Cost, Meter, Outcome, Settlement, Standing, TokenUse,
};
use serde_json::Value;
use worker::{Date, Env, Headers, Method, Request, RequestInit, WebSocket};

use crate::context::{Ctx, PendingSettlement, KV_BINDING};
use crate::keys::{self, Caller};
use crate::quota_store::{Answer, Call, Op, SettleItem, BINDING, WATCH_REFUSED};
pub(crate) use crate::quota_store::{WatchNotice, WATCH_REVOKED};

fn call_body(config: &Config, record: &KeyRecord, uncounted: u64, op: Op) -> String {
    call_text(config, &record.token, Some(record), uncounted, op)
}

fn call_text(
    config: &Config,
    token: &str,
    record: Option<&KeyRecord>,
    uncounted: u64,
    op: Op,
) -> String {
    call_with(
        config.quota.defaults.clone(),
        config,
        token,
        record,
        uncounted,
        op,
    )
}

fn call_with(
    defaults: Policy,
    config: &Config,
    token: &str,
    record: Option<&KeyRecord>,
    uncounted: u64,
    op: Op,
) -> String {
    let call = Call {
        token: token.to_owned(),
        record: record.cloned(),
        defaults,
        time_zone: config.quota.time_zone.name().to_owned(),
        snapshot_every_ms: u64::from(config.quota.snapshot_interval_secs) * 1000,
        uncounted,
        op,
    };
    serde_json::to_string(&call).unwrap_or_default()
}

/// After a quota store failed to answer, how long this isolate also reads a
/// key's revocation marker when its store vouches for it (a store that was
/// unreachable may not have been told of a deletion yet).
const OUTAGE_WATCH_MS: u64 = 5 * 60_000;

thread_local! {
    // When a quota store last failed to answer this isolate (Unix ms).
    static STORE_FAILED_AT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Whether a quota store failed to answer this isolate lately.
fn store_failed_lately(now_ms: u64) -> bool {
    STORE_FAILED_AT.with(|at| {
        at.get()
            .is_some_and(|at| now_ms.saturating_sub(at) < OUTAGE_WATCH_MS)
    })
}

async fn send(env: &Env, token: &str, body: String) -> Result<Answer, String> {
    let answer = send_once(env, token, body).await;
    if answer.is_err() {
        STORE_FAILED_AT.with(|at| at.set(Some(Date::now().as_millis())));
    }
    answer
}

async fn send_once(env: &Env, token: &str, body: String) -> Result<Answer, String> {
    if crate::faults::quota_store_down(env).await {
        return Err(String::from("the quota store is switched off (test fault)"));
    }
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

fn revoked() -> ClientError {
    ClientError::new(
        ErrorCode::InvalidApiKey,
        "the API key is not valid (it was deleted)",
    )
}

/// Admits `caller`'s request with `cost` (`Cost::REQUEST` for a plain
/// request; a metered one adds what it reserves, all or nothing). The
/// request's hold, if the store made one, is refunded after the response
/// unless the route settles it otherwise ([`settle_own`]).
pub(crate) async fn admit(
    cx: &Ctx,
    caller: &mut Caller,
    cost: Cost,
    unreachable: Unreachable,
) -> Result<(), ClientError> {
    admit_with(cx, caller, cost, unreachable, None).await
}

/// Admits a session started with a gateway token: `cost` and one use of
/// the token in the same call to the minting key's object, all or nothing
/// (`used_up` when the token has none left). The use is given back if the
/// request's hold is refunded (the session did not start). The master
/// key's tokens count their uses too, and nothing else.
pub(crate) async fn admit_use(
    cx: &Ctx,
    caller: &mut Caller,
    cost: Cost,
    token_use: &TokenUse,
    used_up: ClientError,
) -> Result<(), ClientError> {
    admit_with(
        cx,
        caller,
        cost,
        Unreachable::Refuse,
        Some((token_use, used_up)),
    )
    .await
}

async fn admit_with(
    cx: &Ctx,
    caller: &mut Caller,
    cost: Cost,
    unreachable: Unreachable,
    token_use: Option<(&TokenUse, ClientError)>,
) -> Result<(), ClientError> {
    if caller.is_master && token_use.is_none() {
        return Ok(());
    }
    let config = cx.config()?;
    // The master key is not metered: only its tokens' uses are counted.
    // What the route asked for still decides which settlements change
    // nothing (its commit does not; a refund gives the use back).
    let asked = cost;
    let (cost, defaults) = if caller.is_master {
        (Cost::default(), Policy::default())
    } else {
        (cost, config.quota.defaults.clone())
    };
    let limits = caller.record.limits(&defaults);
    let metered = cost.has_counters() || token_use.is_some();
    let freshness = keys::freshness(&caller.hash, cx.now_ms);
    let confirmed = freshness != keys::Freshness::Stale;
    let use_of = token_use.as_ref().map(|(u, _)| *u);
    if !must_ask_store(&cost, &limits, confirmed, use_of) {
        keys::count_unreported(&caller.hash);
        if freshness == keys::Freshness::Aging {
            refresh_later(cx, &config, caller);
        }
        return Ok(());
    }
    let uncounted = keys::take_unreported(&caller.hash);
    let body = call_with(
        defaults,
        &config,
        &caller.record.token,
        Some(&caller.record),
        uncounted,
        Op::Reserve {
            id: cx.hold_id.clone(),
            cost,
            token_use: use_of.cloned(),
        },
    );
    let started = Date::now().as_millis();
    // Lately after a store failed, it may have missed a deletion while it
    // was unreachable: the key's revocation marker is read alongside.
    let watching = store_failed_lately(cx.now_ms);
    let sending = send(&cx.env, &caller.record.token, body);
    let (sent, marker) = if watching {
        join(sending, revoked_in_kv(&cx.env, &caller.record)).await
    } else {
        (sending.await, None)
    };
    let answer = match sent {
        Ok(answer) => answer,
        Err(detail) if metered => return Err(unavailable("reserving quota", &detail)),
        Err(detail) if unreachable == Unreachable::Refuse => {
            return Err(unavailable("checking the key", &detail))
        }
        Err(detail) => {
            // The store cannot vouch for the key: its revocation marker can.
            let marker = match marker {
                Some(at_ms) => Some(at_ms),
                None if watching => None,
                None => revoked_in_kv(&cx.env, &caller.record).await,
            };
            if marker.is_some() {
                keys::forget(&caller.hash);
                return Err(revoked());
            }
            worker::console_error!("quota store unavailable, admitting unmetered: {detail}");
            cx.log.borrow_mut().quota = Some("unavailable");
            return Ok(());
        }
    };
    cx.log.borrow_mut().quota_ms = Some(Date::now().as_millis().saturating_sub(started));
    if answer.revoked {
        keys::forget(&caller.hash);
        return Err(revoked());
    }
    if let Some(at_ms) = marker {
        // The store vouched for a key deleted while it was unreachable: it
        // learns of the deletion now.
        keys::forget(&caller.hash);
        if let Err(detail) = revoke(cx, &caller.record.token, at_ms).await {
            worker::console_error!("a key revocation is still pending: {detail}");
        }
        return Err(revoked());
    }
    if let Some(record) = answer.record {
        record.check_usable(cx.now_ms)?;
        caller.record = keys::remember_newer(&caller.hash, record, &config);
        caller.refresh_policy(&config);
        // The object's record may narrow the origins KV still allowed.
        crate::cors::check(cx, &config, &caller.record.allowed_origins)?;
    }
    keys::confirm(&caller.hash, cx.now_ms);
    let mut quota = cx.quota.borrow_mut();
    if !caller.is_master {
        merge_standings(&mut quota.standings, answer.standings);
    }
    if let Some(denial) = answer.denial {
        cx.log.borrow_mut().quota = Some(denial.meter.as_str());
        return Err(denial.to_client());
    }
    if answer.used_up {
        return Err(token_use.map_or_else(
            || ClientError::from_code(ErrorCode::Internal),
            |(_, used_up)| used_up,
        ));
    }
    if answer.held || use_of.is_some() {
        // The hold guard: whatever happens next, the hold is settled after
        // the response — refunded (and the token's use given back) unless
        // the route reports another outcome.
        quota.settle.push(PendingSettlement {
            record: Rc::clone(&caller.record),
            hold: cx.hold_id.clone(),
            settlement: Settlement::Refund,
            slot: cost.slot && limits.max_parallel_requests.is_some(),
            reserved: Some(asked),
            token_use: use_of.map(|u| u.id.clone()),
        });
    }
    Ok(())
}

/// When the key was deleted, if its KV revocation marker ends `record`
/// (read when its store cannot vouch for it; a marker that cannot be read
/// ends nothing).
async fn revoked_in_kv(env: &Env, record: &KeyRecord) -> Option<u64> {
    let kv = env.kv(KV_BINDING).ok()?;
    match kv.get(&revocation_name(&record.token)).text().await {
        Ok(text) => text
            .and_then(|t| t.trim().parse().ok())
            .filter(|at_ms| revocation_applies(*at_ms, record.created_at_ms)),
        Err(e) => {
            worker::console_error!("reading a revocation marker failed: {e}");
            None
        }
    }
}

/// What a request that reserves nothing does when the quota store cannot be
/// reached (metered work is always refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// Let it through, logged (a plain request by its own key).
    Admit,
    /// Refuse it (a gateway token whose minting key must be vouched for).
    Refuse,
}

/// Confirms the key with its object after the response (the isolate's
/// confirmation is getting old), so a busy key never waits for it.
fn refresh_later(cx: &Ctx, config: &Rc<Config>, caller: &Caller) {
    let uncounted = keys::take_unreported(&caller.hash);
    let body = call_body(
        config,
        &caller.record,
        uncounted,
        Op::Reserve {
            id: String::new(),
            cost: Cost::default(),
            token_use: None,
        },
    );
    let (env, hash, token) = (cx.env.clone(), caller.hash, caller.record.token.clone());
    let record = Rc::clone(&caller.record);
    let config = Rc::clone(config);
    keys::mark_refreshing(&hash);
    cx.after_response(async move {
        match send(&env, &token, body).await {
            Ok(answer) if answer.revoked => keys::forget(&hash),
            // The store may have missed a deletion while it was unreachable.
            Ok(_)
                if store_failed_lately(Date::now().as_millis())
                    && revoked_in_kv(&env, &record).await.is_some() =>
            {
                keys::forget(&hash);
            }
            Ok(answer) => {
                if let Some(record) = answer.record {
                    keys::remember_newer(&hash, record, &config);
                }
                keys::confirm(&hash, Date::now().as_millis());
            }
            Err(detail) => {
                keys::refresh_failed(&hash, uncounted);
                worker::console_error!("confirming a key with its quota store failed: {detail}");
            }
        }
    });
}

fn merge_standings(into: &mut Vec<Standing>, new: Vec<Standing>) {
    for s in new {
        match into.iter_mut().find(|o| o.meter == s.meter) {
            Some(old) => *old = s,
            None => into.push(s),
        }
    }
}

/// Reports how the request's own hold ends (core decides the settlement
/// from the outcome); without a report it is refunded.
pub(crate) fn settle_own(cx: &Ctx, outcome: Outcome) {
    let settlement = Settlement::for_outcome(outcome);
    for pending in cx.quota.borrow_mut().settle.iter_mut() {
        if pending.hold == cx.hold_id {
            pending.settlement = settlement;
        }
    }
}

/// Whether this request holds a reservation (for job records: the hold
/// their end settles).
pub(crate) fn holds_own(cx: &Ctx) -> bool {
    cx.quota
        .borrow()
        .settle
        .iter()
        .any(|p| p.hold == cx.hold_id)
}

/// Settles another hold of `record`'s key (a video job seen finished)
/// after the response, with the request's own settlement.
pub(crate) fn settle_after(cx: &Ctx, record: &Rc<KeyRecord>, hold: &str, settlement: Settlement) {
    cx.quota.borrow_mut().settle.push(PendingSettlement {
        record: Rc::clone(record),
        hold: hold.to_owned(),
        settlement,
        slot: false,
        reserved: None,
        token_use: None,
    });
}

/// Adds the `x-ratelimit-*` headers and settles the request's holds after
/// the response is sent, one call per key (almost always one).
pub(crate) fn finish(cx: &Ctx, headers: &Headers) {
    let quota = cx.quota.borrow();
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
    drop(quota);
    flush(cx);
}

/// Sends the settlements this context collected (one call per key, almost
/// always one), after the response. `finish` does it for every request; a
/// session that outlives its request calls it itself.
pub(crate) fn flush(cx: &Ctx) {
    let mut pending = std::mem::take(&mut cx.quota.borrow_mut().settle);
    // Releasing a hold without a slot, or committing exactly what it
    // reserved, changes no counter: no call for it (the hold stays open,
    // charged as reserved, until the store drops it).
    pending.retain(|p| !p.settlement.changes_nothing(p.reserved.as_ref(), p.slot));
    if pending.is_empty() {
        return;
    }
    let Ok(config) = cx.config() else {
        return;
    };
    while let Some(first) = pending.first() {
        let token = first.record.token.clone();
        let (mine, rest): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| p.record.token == token);
        pending = rest;
        let record = Rc::clone(&mine[0].record);
        let items = mine
            .into_iter()
            .map(|p| SettleItem {
                id: p.hold,
                settle: p.settlement,
                token_use: p.token_use,
            })
            .collect();
        let body = call_body(&config, &record, 0, Op::Settle { items });
        let env = cx.env.clone();
        cx.after_response(async move {
            if let Err(detail) = send(&env, &token, body).await {
                // Open holds stay charged and slots free themselves when
                // their lease ends; a job's next poll settles it again.
                worker::console_error!("settling quota holds failed: {detail}");
            }
        });
    }
}

/// The key's usage and what is left, for `/key/info`; falls back to the
/// last KV snapshot when the store is unreachable.
pub(crate) async fn usage(cx: &Ctx, record: &KeyRecord) -> Value {
    let Ok(config) = cx.config() else {
        return Value::Null;
    };
    let body = call_body(&config, record, 0, Op::Usage);
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
    let body = call_body(&config, &record, 0, Op::Usage);
    let answer = send(&cx.env, &record.token, body)
        .await
        .map_err(|detail| unavailable("reading the key's record", &detail))?;
    if answer.revoked {
        return Err(ClientError::from_code(ErrorCode::KeyNotFound));
    }
    Ok(answer.record.unwrap_or(record))
}

/// Stores the key's new record in its DO (generate/update) so it applies
/// at once; a record created after the key's revocation (a re-created
/// custom key) clears it, and any other record of a revoked key is
/// `key_not_found`.
pub(crate) async fn push_record(cx: &Ctx, record: &KeyRecord) -> Result<(), ClientError> {
    let config = cx.config()?;
    let body = call_body(&config, record, 0, Op::Record);
    let answer = send(&cx.env, &record.token, body)
        .await
        .map_err(|detail| unavailable("updating the key's quota record", &detail))?;
    if answer.revoked {
        return Err(ClientError::from_code(ErrorCode::KeyNotFound));
    }
    Ok(())
}

/// Tells the key with this token's store it was deleted at `at_ms`
/// (effective at its next request everywhere); `Err` with why when the
/// store cannot be reached (the KV marker already holds the deletion).
pub(crate) async fn revoke(cx: &Ctx, token: &str, at_ms: u64) -> Result<(), String> {
    let config = cx.config().map_err(|e| e.message)?;
    let body = call_text(&config, token, None, 0, Op::Revoke { at_ms });
    send(&cx.env, token, body).await.map(|_| ())
}

/// Revokes the gateway token `id` minted by `record`'s key: its use count
/// in the key's object becomes `used` (more than it allows) until
/// `until_ms`, so its next session is refused in the call that would admit it.
pub(crate) async fn revoke_token_use(
    cx: &Ctx,
    record: &KeyRecord,
    id: String,
    used: u64,
    until_ms: u64,
) -> Result<(), ClientError> {
    let config = cx.config()?;
    let op = Op::RevokeTokenUse { id, used, until_ms };
    let answer = send(&cx.env, &record.token, call_body(&config, record, 0, op))
        .await
        .map_err(|detail| unavailable("revoking a token", &detail))?;
    if answer.revoked {
        return Err(revoked());
    }
    Ok(())
}

/// Delays between the attempts [`revoke_later`] makes (within the ~30 s the
/// platform gives work after a response).
const REVOKE_RETRY_MS: [u64; 4] = [1_000, 2_000, 4_000, 8_000];

/// Keeps telling the key's store of its deletion after the response, while
/// it cannot be reached; past these attempts the store adopts the KV marker
/// itself (when it starts, and at its next usage snapshot).
pub(crate) fn revoke_later(cx: &Ctx, token: String, at_ms: u64) {
    let Ok(config) = cx.config() else {
        return;
    };
    let env = cx.env.clone();
    cx.after_response(async move {
        for wait_ms in REVOKE_RETRY_MS {
            worker::Delay::from(std::time::Duration::from_millis(wait_ms)).await;
            let body = call_text(&config, &token, None, 0, Op::Revoke { at_ms });
            match send(&env, &token, body).await {
                Ok(_) => {
                    worker::console_log!("a pending key revocation reached its quota store");
                    return;
                }
                Err(detail) => {
                    worker::console_error!("a key revocation is still pending: {detail}");
                }
            }
        }
    });
}

/// How opening a watch on a key's object went.
pub(crate) enum Watch {
    /// The object accepted it: the socket (not accepted yet on this side,
    /// so its listeners can be registered first).
    Watching(WebSocket),
    /// The key is revoked.
    Revoked,
    /// The object could not be reached.
    Unreachable(String),
}

/// Opens a watch on the object of the key with this token: one round trip.
/// The object closes it with [`WATCH_REVOKED`] when the key is revoked and
/// sends a [`WatchNotice`] when its record changes.
pub(crate) async fn watch(env: &Env, token: &str) -> Watch {
    if crate::faults::quota_store_down(env).await {
        return Watch::Unreachable("the quota store is switched off (test fault)".to_owned());
    }
    let stub = match env
        .durable_object(BINDING)
        .and_then(|ns| ns.get_by_name(token))
    {
        Ok(stub) => stub,
        Err(e) => return Watch::Unreachable(format!("addressing the quota store: {e}")),
    };
    let headers = Headers::new();
    let _ = headers.set("upgrade", "websocket");
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let req = match Request::new_with_init("https://quota/watch", &init) {
        Ok(req) => req,
        Err(e) => return Watch::Unreachable(format!("building a quota watch: {e}")),
    };
    match stub.fetch_with_request(req).await {
        Ok(resp) if resp.status_code() == WATCH_REFUSED => Watch::Revoked,
        Ok(resp) => {
            let status = resp.status_code();
            match resp.websocket() {
                Some(ws) if status == 101 => Watch::Watching(ws),
                _ => Watch::Unreachable(format!("the quota store answered a watch with {status}")),
            }
        }
        Err(e) => Watch::Unreachable(format!("watching the quota store: {e}")),
    }
}
