//! Pure quota arithmetic: what a key may still spend, and the bookkeeping
//! that makes every charge exact and idempotent.
//!
//! The host stores two kinds of state per key and hands them in:
//! - a [`Ledger`]: the request-rate bucket, in-flight slots and the usage of
//!   the current day and budget period (small, one row);
//! - one [`Hold`] per request id: what that request reserved and whether it
//!   was committed or refunded (so a retried reserve, commit or refund with
//!   the same id never charges twice).
//!
//! The flow is **reserve → commit | refund**. [`Ledger::reserve`] checks
//! every limit the cost touches and either charges all of them or none.
//! [`Ledger::commit`] replaces the reserved amounts by the actual ones (a
//! video reserved at 8 s that came out at 6 s is charged 6 s);
//! [`Ledger::refund`] returns them (a failed upstream submit costs nothing).
//! [`Ledger::release_slot`] ends the request's parallel slot while keeping
//! its reservation open (a submitted video job awaiting its real length).
//!
//! **Requests per minute** is a token bucket in its exact, integer GCRA
//! form: a burst of up to `rpm` requests, then one more every `60/rpm` s.
//! It is chosen over a sliding log (exact too, but O(rpm) state per key)
//! and over fixed windows (which admit 2×rpm across a window edge): the
//! state is one number, and `Retry-After` is the exact time until the next
//! token. A rate is not refunded: a request the gateway admitted used it.
//!
//! **Daily counters** (videos, video seconds, realtime sessions) reset at
//! local midnight in the configured [`TimeZone`] (DST-correct: a day
//! may be 23 or 25 hours). **Budgets** (micro-USD) run in periods of the
//! key's `budget_duration` counted from its budget anchor; periods of whole
//! days start at local midnight.

pub mod policy;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::errors::{ClientError, ErrorCode};
use crate::time::tz::TimeZone;

/// Old path of the money helpers (now [`crate::money`]), still used by
/// `edge/src/quota.rs`.
pub use crate::money::{micros_to_usd, usd_to_micros};

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;
/// How long an in-flight slot is held if its request never releases it
/// (the Worker was evicted mid-request): after this it frees itself.
pub const SLOT_LEASE_MS: u64 = 10 * MINUTE_MS;
/// How long a parallel-limit denial tells the client to wait: the gateway
/// cannot know when an in-flight request will finish.
pub const PARALLEL_RETRY_MS: u64 = 1_000;
/// A wait longer than this (a century) means "never": only a budget without
/// a duration gets one.
const NEVER_MS: u64 = 100 * 365 * DAY_MS;

/// The effective limits of a key (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Requests in flight at once.
    pub max_parallel_requests: Option<u32>,
    /// Video jobs per local day.
    pub videos_per_day: Option<u64>,
    /// Seconds of video per local day.
    pub video_seconds_per_day: Option<u64>,
    /// Realtime sessions per local day.
    pub realtime_sessions_per_day: Option<u64>,
    /// Spend per budget period, micro-USD.
    pub max_budget_micros: Option<u64>,
    /// Length of a budget period, milliseconds (required with a budget).
    pub budget_period_ms: Option<u64>,
    /// Where budget periods are counted from (unix ms).
    pub budget_anchor_ms: u64,
}

/// What one request costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Counts against `rpm`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request: bool,
    /// Takes a parallel slot until released.
    #[serde(default, skip_serializing_if = "is_false")]
    pub slot: bool,
    /// Video jobs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub videos: u64,
    /// Seconds of video.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub video_seconds: u64,
    /// Realtime sessions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub realtime_sessions: u64,
    /// Spend, micro-USD.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spend_micros: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Cost {
    /// A plain request: one token of the rate, one parallel slot.
    pub const REQUEST: Cost = Cost {
        request: true,
        slot: true,
        videos: 0,
        video_seconds: 0,
        realtime_sessions: 0,
        spend_micros: 0,
    };

    /// Whether it reserves anything that must later be committed or refunded.
    pub fn has_counters(&self) -> bool {
        self.videos > 0
            || self.video_seconds > 0
            || self.realtime_sessions > 0
            || self.spend_micros > 0
    }
}

/// How a hold ends (or pauses): the host sends this to its quota store
/// once the request's outcome is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Settlement {
    /// The request is over but its work goes on (a submitted job): free the
    /// parallel slot, keep the reservation open until the work ends.
    Release,
    /// Return everything (the upstream refused or never saw the work).
    Refund,
    /// Charge these amounts instead of the reserved ones.
    Commit {
        /// What the work really cost.
        actual: Cost,
    },
}

/// Whether a host must ask the key's quota store before admitting a
/// request that costs `cost` under `limits`: when it reserves metered work,
/// when it spends a use of a gateway token (`token_use`: only the store
/// counts them), when the key has a rate or parallel limit (counted
/// exactly, one place), or when the host has not heard from the store about
/// the key recently (`confirmed` false), since only the store knows of a
/// revocation. Any other request is admitted by the host and counted with
/// its next call.
pub fn must_ask_store(
    cost: &Cost,
    limits: &Limits,
    confirmed: bool,
    token_use: Option<&TokenUse>,
) -> bool {
    cost.has_counters()
        || token_use.is_some()
        || limits.rpm.is_some()
        || limits.max_parallel_requests.is_some()
        || !confirmed
}

/// One use of a gateway-minted token (a realtime `ek_rl_` or Live `lt_rl_`
/// token): the session it starts spends it, in the same call to the key's
/// quota store that admits the session, so a token never starts more
/// sessions than it has uses, however many requests race. A use whose
/// session did not start (the hold was refunded) is given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUse {
    /// The token's id, where its uses are counted.
    pub id: String,
    /// Sessions the token may start; `0` = unlimited.
    pub max: u32,
    /// Until when the count must be kept (the token's expiry), unix ms.
    pub until_ms: u64,
}

impl TokenUse {
    /// Whether a token that already started `used` sessions may start one more.
    pub fn allows_another(&self, used: u64) -> bool {
        self.max == 0 || used < u64::from(self.max)
    }
}

/// What became of a request's reserved work, as the host saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It failed or was never accepted (any error, or the request dropped).
    Failed,
    /// The upstream accepted long-running work that is charged when it ends.
    Accepted,
    /// The work is done and cost `actual`.
    Done(Cost),
}

impl Settlement {
    /// Whether this settlement of a hold that reserved `reserved` (when the
    /// host knows it) and took a parallel slot or not leaves every counter
    /// as it is, so the host need not send it: a release without a slot, or
    /// a commit of exactly what was reserved (the hold stays open, charged
    /// as reserved, until the store drops it).
    pub fn changes_nothing(&self, reserved: Option<&Cost>, slot: bool) -> bool {
        if slot {
            return false;
        }
        let counters = |c: &Cost| Cost {
            request: false,
            slot: false,
            ..*c
        };
        match (self, reserved) {
            (Self::Release, _) => true,
            (Self::Commit { actual }, Some(reserved)) => counters(actual) == counters(reserved),
            _ => false,
        }
    }

    /// The settlement of a hold whose request ended with `outcome`.
    pub fn for_outcome(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Failed => Self::Refund,
            Outcome::Accepted => Self::Release,
            Outcome::Done(actual) => Self::Commit { actual },
        }
    }
}

/// One limited quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meter {
    /// Requests per minute (a rate).
    Requests,
    /// Requests in flight (a rate).
    ParallelRequests,
    /// Video jobs per day.
    Videos,
    /// Video seconds per day.
    VideoSeconds,
    /// Realtime sessions per day.
    RealtimeSessions,
    /// Spend per budget period, micro-USD.
    Budget,
}

impl Meter {
    /// Every meter, in the order limits are checked and reported.
    pub const ALL: [Meter; 6] = [
        Meter::ParallelRequests,
        Meter::Requests,
        Meter::Videos,
        Meter::VideoSeconds,
        Meter::RealtimeSessions,
        Meter::Budget,
    ];

    /// Suffix of the `x-ratelimit-*-<suffix>` response headers.
    pub const fn header_suffix(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::ParallelRequests => "parallel-requests",
            Self::Videos => "videos",
            Self::VideoSeconds => "video-seconds",
            Self::RealtimeSessions => "realtime-sessions",
            Self::Budget => "budget",
        }
    }

    /// Stable name in JSON (`/key/info`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests_per_minute",
            Self::ParallelRequests => "parallel_requests",
            Self::Videos => "videos_per_day",
            Self::VideoSeconds => "video_seconds_per_day",
            Self::RealtimeSessions => "realtime_sessions_per_day",
            Self::Budget => "budget",
        }
    }

    /// A rate says "try again shortly"; the others are exhausted until reset.
    pub const fn is_rate(self) -> bool {
        matches!(self, Self::Requests | Self::ParallelRequests)
    }

    /// The error code a denial by this meter answers with.
    pub const fn error_code(self) -> ErrorCode {
        match self {
            Self::Requests => ErrorCode::KeyRateLimitExceeded,
            Self::ParallelRequests => ErrorCode::ParallelRequestLimitExceeded,
            Self::Videos => ErrorCode::VideoQuotaExceeded,
            Self::VideoSeconds => ErrorCode::VideoSecondsQuotaExceeded,
            Self::RealtimeSessions => ErrorCode::RealtimeQuotaExceeded,
            Self::Budget => ErrorCode::BudgetExceeded,
        }
    }

    fn limit(self, limits: &Limits) -> Option<u64> {
        match self {
            Self::Requests => limits.rpm.map(u64::from),
            Self::ParallelRequests => limits.max_parallel_requests.map(u64::from),
            Self::Videos => limits.videos_per_day,
            Self::VideoSeconds => limits.video_seconds_per_day,
            Self::RealtimeSessions => limits.realtime_sessions_per_day,
            Self::Budget => limits.budget_period_ms.and(limits.max_budget_micros),
        }
    }

    fn amount(self, cost: &Cost) -> u64 {
        match self {
            Self::Requests => u64::from(cost.request),
            Self::ParallelRequests => u64::from(cost.slot),
            Self::Videos => cost.videos,
            Self::VideoSeconds => cost.video_seconds,
            Self::RealtimeSessions => cost.realtime_sessions,
            Self::Budget => cost.spend_micros,
        }
    }
}

/// Where a limited meter stands: for `x-ratelimit-*` headers and `/key/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// Which meter.
    pub meter: Meter,
    /// The limit.
    pub limit: u64,
    /// What is left now.
    pub remaining: u64,
    /// When the meter is fully available again (unix ms).
    pub reset_at_ms: u64,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The meter that refused (the one that frees up last, when several do).
    pub meter: Meter,
    /// Its limit.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// What the request asked for.
    pub requested: u64,
    /// When it is fully available again (unix ms).
    pub reset_at_ms: u64,
    /// How long until this request could succeed: the real time until
    /// capacity returns, not the window length.
    pub retry_after_ms: u64,
}

impl Denial {
    /// The 429 the client gets, with `retry_after_ms` set.
    pub fn to_client(&self) -> ClientError {
        let wait = human_duration(self.retry_after_ms);
        let message = match self.meter {
            Meter::Requests => alloc::format!(
                "this key is limited to {} requests per minute; try again in {wait}",
                self.limit
            ),
            Meter::ParallelRequests => alloc::format!(
                "this key may have {} requests in flight at once and has that many; try again when one finishes",
                self.limit
            ),
            Meter::Budget if self.never_resets() => alloc::format!(
                "this key's lifetime budget of ${} is spent (${} left, this request needs up to ${}); it does not reset",
                micros_to_usd(self.limit),
                micros_to_usd(self.remaining),
                micros_to_usd(self.requested)
            ),
            Meter::Budget => alloc::format!(
                "this key's budget of ${} for the period is spent (${} left, this request needs up to ${}); it resets in {wait}",
                micros_to_usd(self.limit),
                micros_to_usd(self.remaining),
                micros_to_usd(self.requested)
            ),
            meter => alloc::format!(
                "this key's {} quota of {} is used up ({} left, this request needs {}); it resets in {wait}",
                meter.as_str(),
                self.limit,
                self.remaining,
                self.requested
            ),
        };
        let mut err = ClientError::new(self.meter.error_code(), message);
        // A budget without a period never comes back: no Retry-After.
        err.retry_after_ms = (!self.never_resets()).then_some(self.retry_after_ms.max(1));
        err
    }

    /// Whether the quota never comes back (a budget without a duration).
    pub fn never_resets(&self) -> bool {
        self.retry_after_ms > NEVER_MS
    }
}

/// The outcome of [`Ledger::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Charged; here is where every limited meter now stands.
    Allowed(Vec<Standing>),
    /// Nothing was charged; here is why, and where every limited meter
    /// stands (the refused one included), for the 429's `x-ratelimit-*`.
    Denied(Denial, Vec<Standing>),
}

/// State of a [`Hold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    /// Reserved; awaiting commit or refund.
    Open,
    /// Charged its final amounts.
    Committed,
    /// Returned.
    Refunded,
}

/// What one request id reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The request id (idempotency key).
    pub id: String,
    /// When it was reserved (unix ms).
    pub created_ms: u64,
    /// Local day number the daily counters were charged in.
    pub day: i64,
    /// Budget period index the spend was charged in.
    pub period: i64,
    /// The amounts charged (reserved, then actual after commit).
    pub cost: Cost,
    /// Whether it still holds a parallel slot.
    pub slot: bool,
    /// Where it is in its life.
    pub state: HoldState,
}

/// A parallel slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Request id holding it.
    pub id: String,
    /// When it frees itself if never released (unix ms).
    pub until_ms: u64,
}

/// Lifetime totals (never reset), for `/key/info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests admitted.
    pub requests: u64,
    /// Requests refused by a limit.
    pub denied: u64,
    /// Video jobs charged.
    pub videos: u64,
    /// Video seconds charged.
    pub video_seconds: u64,
    /// Realtime sessions charged.
    pub realtime_sessions: u64,
    /// Spend charged, micro-USD.
    pub spend_micros: u64,
}

/// The per-key quota state the host stores (serde: compact JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// GCRA theoretical arrival time, in ms × `bucket_rpm` (exact integers).
    #[serde(default)]
    pub bucket_tat: u64,
    /// The `rpm` `bucket_tat` is scaled by.
    #[serde(default)]
    pub bucket_rpm: u32,
    /// In-flight slots.
    #[serde(default)]
    pub leases: Vec<Lease>,
    /// Local day number of the daily counters.
    #[serde(default)]
    pub day: i64,
    /// Videos charged today.
    #[serde(default)]
    pub videos: u64,
    /// Video seconds charged today.
    #[serde(default)]
    pub video_seconds: u64,
    /// Realtime sessions charged today.
    #[serde(default)]
    pub realtime_sessions: u64,
    /// Budget period index of `spend_micros`.
    #[serde(default)]
    pub period: i64,
    /// Spend charged this period, micro-USD.
    #[serde(default)]
    pub spend_micros: u64,
    /// Lifetime totals.
    #[serde(default)]
    pub totals: Totals,
}

/// The calendar a ledger is kept on: a time zone and `now`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Where days start.
    pub tz: TimeZone,
    /// Now, unix ms.
    pub now_ms: u64,
}

impl Clock {
    fn day(&self) -> i64 {
        self.tz.local_day_number(self.now_ms)
    }

    fn next_day_ms(&self) -> u64 {
        self.tz.next_day_start(self.now_ms)
    }

    /// Budget period index of now, and when it ends.
    fn period(&self, limits: &Limits) -> (i64, u64) {
        let Some(len) = limits.budget_period_ms.filter(|l| *l > 0) else {
            return (0, u64::MAX);
        };
        let anchor = limits.budget_anchor_ms.min(self.now_ms);
        if len % DAY_MS == 0 {
            let days = (len / DAY_MS) as i64;
            let first = self.tz.local_day_number(anchor);
            let index = (self.day() - first).div_euclid(days);
            let end = self.tz.start_of_local_day(first + (index + 1) * days);
            (index, end)
        } else {
            let index = (self.now_ms - anchor) / len;
            (index as i64, anchor + (index + 1) * len)
        }
    }
}

impl Ledger {
    /// Starts new days and budget periods, and frees expired slots.
    fn roll(&mut self, limits: &Limits, clock: &Clock) {
        let day = clock.day();
        if day != self.day {
            self.day = day;
            self.videos = 0;
            self.video_seconds = 0;
            self.realtime_sessions = 0;
        }
        let (period, _) = clock.period(limits);
        if period != self.period {
            self.period = period;
            self.spend_micros = 0;
        }
        self.leases.retain(|l| l.until_ms > clock.now_ms);
        match limits.rpm {
            Some(rpm) if rpm != self.bucket_rpm => {
                // Keep the same real-time debt under the new scale.
                let debt_ms = if self.bucket_rpm == 0 {
                    0
                } else {
                    (self.bucket_tat / u64::from(self.bucket_rpm)).saturating_sub(clock.now_ms)
                };
                self.bucket_rpm = rpm;
                self.bucket_tat = clock
                    .now_ms
                    .saturating_add(debt_ms)
                    .saturating_mul(u64::from(rpm));
            }
            _ => {}
        }
    }

    /// Used and remaining of one meter, and when it resets (for a limit).
    fn standing(&self, meter: Meter, limit: u64, limits: &Limits, clock: &Clock) -> Standing {
        let now = clock.now_ms;
        let (remaining, reset_at_ms) = match meter {
            Meter::Requests => {
                let rpm = limit.max(1);
                let scaled_now = now.saturating_mul(rpm);
                let debt = self.bucket_tat.saturating_sub(scaled_now);
                let window = MINUTE_MS * rpm;
                let remaining = window.saturating_sub(debt) / MINUTE_MS;
                (remaining.min(limit), now + debt.div_ceil(rpm))
            }
            Meter::ParallelRequests => {
                let in_flight = self.leases.len() as u64;
                let reset = self.leases.iter().map(|l| l.until_ms).max().unwrap_or(now);
                (limit.saturating_sub(in_flight), reset)
            }
            Meter::Videos => (limit.saturating_sub(self.videos), clock.next_day_ms()),
            Meter::VideoSeconds => (
                limit.saturating_sub(self.video_seconds),
                clock.next_day_ms(),
            ),
            Meter::RealtimeSessions => (
                limit.saturating_sub(self.realtime_sessions),
                clock.next_day_ms(),
            ),
            Meter::Budget => (
                limit.saturating_sub(self.spend_micros),
                clock.period(limits).1,
            ),
        };
        Standing {
            meter,
            limit,
            remaining,
            reset_at_ms,
        }
    }

    /// Where every limited meter stands now.
    pub fn standings(&mut self, limits: &Limits, clock: &Clock) -> Vec<Standing> {
        self.roll(limits, clock);
        Meter::ALL
            .iter()
            .filter_map(|m| m.limit(limits).map(|l| self.standing(*m, l, limits, clock)))
            .collect()
    }

    /// Why `cost` cannot be charged now, if it cannot.
    fn check(
        &self,
        meter: Meter,
        limit: u64,
        cost: &Cost,
        limits: &Limits,
        clock: &Clock,
    ) -> Option<Denial> {
        let requested = meter.amount(cost);
        if requested == 0 {
            return None;
        }
        let standing = self.standing(meter, limit, limits, clock);
        if standing.remaining >= requested {
            return None;
        }
        let retry_after_ms = match meter {
            Meter::Requests => {
                // The next token arrives when the debt falls to one window
                // minus one emission interval.
                let rpm = limit.max(1);
                let debt = self
                    .bucket_tat
                    .saturating_sub(clock.now_ms.saturating_mul(rpm));
                let allowed_debt = MINUTE_MS * rpm - MINUTE_MS;
                debt.saturating_sub(allowed_debt).div_ceil(rpm)
            }
            Meter::ParallelRequests => PARALLEL_RETRY_MS,
            // A day or period quota only comes back at its reset, and only
            // if the request fits an empty quota at all.
            _ => standing.reset_at_ms.saturating_sub(clock.now_ms),
        };
        Some(Denial {
            meter,
            limit,
            remaining: standing.remaining,
            requested,
            reset_at_ms: standing.reset_at_ms,
            retry_after_ms,
        })
    }

    /// Reserves `cost` for request `id`, all or nothing.
    ///
    /// `existing` is the stored hold with this id, if any: a repeated
    /// reserve is answered as allowed and charges nothing again (a denied
    /// reserve stores no hold, so it may simply be retried). On success the
    /// returned hold (if any) must be stored with the ledger.
    pub fn reserve(
        &mut self,
        id: &str,
        existing: Option<&Hold>,
        cost: &Cost,
        limits: &Limits,
        clock: &Clock,
    ) -> (Decision, Option<Hold>) {
        self.roll(limits, clock);
        if existing.is_some() {
            // Already reserved under this id (a retried call): charge nothing again.
            return (Decision::Allowed(self.standings(limits, clock)), None);
        }
        if let Some(denial) = self.first_denial(cost, limits, clock) {
            self.totals.denied += 1;
            return (
                Decision::Denied(denial, self.standings(limits, clock)),
                None,
            );
        }
        let now = clock.now_ms;
        if cost.request {
            self.totals.requests += 1;
            if let Some(rpm) = limits.rpm {
                let rpm = u64::from(rpm);
                let base = self.bucket_tat.max(now.saturating_mul(rpm));
                self.bucket_tat = base.saturating_add(MINUTE_MS);
            }
        }
        let slot = cost.slot && limits.max_parallel_requests.is_some();
        if slot {
            self.leases.push(Lease {
                id: String::from(id),
                until_ms: now + SLOT_LEASE_MS,
            });
        }
        self.add(cost);
        let hold = (slot || cost.has_counters()).then(|| Hold {
            id: String::from(id),
            created_ms: now,
            day: self.day,
            period: self.period,
            cost: Cost {
                request: false,
                slot: false,
                ..*cost
            },
            slot,
            state: HoldState::Open,
        });
        let standings = Meter::ALL
            .iter()
            .filter_map(|m| m.limit(limits).map(|l| self.standing(*m, l, limits, clock)))
            .collect();
        (Decision::Allowed(standings), hold)
    }

    /// The denial that keeps the request out longest, if any meter refuses.
    fn first_denial(&self, cost: &Cost, limits: &Limits, clock: &Clock) -> Option<Denial> {
        Meter::ALL
            .iter()
            .filter_map(|m| {
                m.limit(limits)
                    .and_then(|l| self.check(*m, l, cost, limits, clock))
            })
            .max_by_key(|d| d.retry_after_ms)
    }

    /// Charges `cost` now (today, this period).
    fn add(&mut self, cost: &Cost) {
        self.apply(cost, true, true, u64::saturating_add);
    }

    /// Takes `cost` back off the counters it was charged to (only those
    /// still in the day / period `hold` was charged in) and the totals.
    fn subtract(&mut self, hold: &Hold, cost: &Cost) {
        let (today, this_period) = (hold.day == self.day, hold.period == self.period);
        self.apply(cost, today, this_period, u64::saturating_sub);
    }

    /// Adds to the counters of the day / period `hold` was charged in.
    fn add_in(&mut self, hold: &Hold, cost: &Cost) {
        let (today, this_period) = (hold.day == self.day, hold.period == self.period);
        self.apply(cost, today, this_period, u64::saturating_add);
    }

    /// Applies `op` with `cost` to the daily counters (if `today`), the
    /// period's spend (if `this_period`) and always the lifetime totals.
    fn apply(&mut self, cost: &Cost, today: bool, this_period: bool, op: fn(u64, u64) -> u64) {
        if today {
            self.videos = op(self.videos, cost.videos);
            self.video_seconds = op(self.video_seconds, cost.video_seconds);
            self.realtime_sessions = op(self.realtime_sessions, cost.realtime_sessions);
        }
        if this_period {
            self.spend_micros = op(self.spend_micros, cost.spend_micros);
        }
        let t = &mut self.totals;
        t.videos = op(t.videos, cost.videos);
        t.video_seconds = op(t.video_seconds, cost.video_seconds);
        t.realtime_sessions = op(t.realtime_sessions, cost.realtime_sessions);
        t.spend_micros = op(t.spend_micros, cost.spend_micros);
    }

    /// Ends (or pauses) `hold` as `settlement` says; idempotent like the
    /// calls it makes. Returns whether the hold changed (and must be stored).
    pub fn settle(
        &mut self,
        hold: &mut Hold,
        settlement: Settlement,
        limits: &Limits,
        clock: &Clock,
    ) -> bool {
        match settlement {
            Settlement::Release => self.release_slot(hold),
            Settlement::Refund => self.refund(hold, limits, clock),
            Settlement::Commit { actual } => self.commit(hold, &actual, limits, clock),
        }
    }

    /// Frees the hold's parallel slot (idempotent).
    pub fn release_slot(&mut self, hold: &mut Hold) -> bool {
        if !hold.slot {
            return false;
        }
        hold.slot = false;
        self.leases.retain(|l| l.id != hold.id);
        true
    }

    /// Charges the actual amounts in place of the reserved ones and closes
    /// the hold. Returns false (and changes nothing) if it was already closed.
    pub fn commit(
        &mut self,
        hold: &mut Hold,
        actual: &Cost,
        limits: &Limits,
        clock: &Clock,
    ) -> bool {
        self.roll(limits, clock);
        self.release_slot(hold);
        if hold.state != HoldState::Open {
            return false;
        }
        let reserved = hold.cost;
        self.subtract(hold, &reserved);
        let actual = Cost {
            request: false,
            slot: false,
            ..*actual
        };
        self.add_in(hold, &actual);
        hold.cost = actual;
        hold.state = HoldState::Committed;
        true
    }

    /// Returns everything the hold reserved and closes it. Returns false
    /// (and changes nothing) if it was already closed.
    pub fn refund(&mut self, hold: &mut Hold, limits: &Limits, clock: &Clock) -> bool {
        self.roll(limits, clock);
        self.release_slot(hold);
        if hold.state != HoldState::Open {
            return false;
        }
        let reserved = hold.cost;
        self.subtract(hold, &reserved);
        hold.cost = Cost::default();
        hold.state = HoldState::Refunded;
        true
    }
}

/// `125_000` ms → `"2m5s"`, `400` → `"400ms"` (the OpenAI header style).
pub fn human_duration(ms: u64) -> String {
    if ms < 1_000 {
        return alloc::format!("{ms}ms");
    }
    let secs = ms.div_ceil(1_000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => alloc::format!("{s}s"),
        (0, m, s) => alloc::format!("{m}m{s}s"),
        (h, m, s) => alloc::format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests;
