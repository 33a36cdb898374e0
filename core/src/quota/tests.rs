//! Quota arithmetic on fake time: no sleeps, exact instants.

use super::*;
use alloc::format;

/// 2026-11-22T10:00:00Z.
const NOV22_10H: u64 = 1_795_341_600_000;
/// 2026-11-23T00:00:00Z.
const NOV23_UTC: u64 = 1_795_392_000_000;
/// 2026-03-08T00:00 America/Los_Angeles (PST, the 23-hour day).
const MAR08_LA: u64 = 1_772_956_800_000;
/// 2026-03-09T00:00 America/Los_Angeles (PDT).
const MAR09_LA: u64 = 1_773_039_600_000;
/// 2026-11-01T00:00 America/Los_Angeles (PDT, the 25-hour day).
const NOV01_LA: u64 = 1_793_516_400_000;
/// 2026-11-02T00:00 America/Los_Angeles (PST).
const NOV02_LA: u64 = 1_793_606_400_000;
const HOUR: u64 = 3_600_000;

fn utc(now_ms: u64) -> Clock {
    Clock {
        tz: TimeZone::UTC,
        now_ms,
    }
}

fn la(now_ms: u64) -> Clock {
    Clock {
        tz: TimeZone::by_name("America/Los_Angeles").unwrap(),
        now_ms,
    }
}

fn video(seconds: u64) -> Cost {
    Cost {
        videos: 1,
        video_seconds: seconds,
        ..Cost::REQUEST
    }
}

fn allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allowed(_))
}

fn denial(d: Decision) -> Denial {
    match d {
        Decision::Denied(d, _) => d,
        Decision::Allowed(s) => panic!("expected a denial, got {s:?}"),
    }
}

fn standing(d: &Decision, meter: Meter) -> Standing {
    match d {
        Decision::Allowed(s) => *s.iter().find(|s| s.meter == meter).unwrap(),
        Decision::Denied(d, _) => panic!("expected allowed, got {d:?}"),
    }
}

#[test]
fn rpm_admits_exactly_the_limit_in_a_burst_then_one_per_interval() {
    let limits = Limits {
        rpm: Some(6),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    for i in 0..6u64 {
        let (d, hold) = ledger.reserve(
            &format!("r{i}"),
            None,
            &Cost::REQUEST,
            &limits,
            &utc(NOV22_10H),
        );
        assert!(hold.is_none(), "a rate alone needs no hold");
        let s = standing(&d, Meter::Requests);
        assert_eq!((s.limit, s.remaining), (6, 5 - i));
    }
    let d = denial(
        ledger
            .reserve("r6", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::Requests);
    // One token every 10 s: the honest wait is 10 s, not the 60 s window.
    assert_eq!(d.retry_after_ms, 10_000);
    assert_eq!(d.reset_at_ms, NOV22_10H + 60_000);
    assert_eq!(d.to_client().code, ErrorCode::KeyRateLimitExceeded);
    assert_eq!(d.to_client().retry_after_secs(), Some(10));
    // 1 ms early is still too early; on time is fine, and only once.
    let early = denial(
        ledger
            .reserve("r7", None, &Cost::REQUEST, &limits, &utc(NOV22_10H + 9_999))
            .0,
    );
    assert_eq!(early.retry_after_ms, 1);
    assert!(allowed(
        &ledger
            .reserve(
                "r8",
                None,
                &Cost::REQUEST,
                &limits,
                &utc(NOV22_10H + 10_000)
            )
            .0
    ));
    assert!(!allowed(
        &ledger
            .reserve(
                "r9",
                None,
                &Cost::REQUEST,
                &limits,
                &utc(NOV22_10H + 10_000)
            )
            .0
    ));
    assert_eq!(ledger.totals.requests, 7);
    assert_eq!(ledger.totals.denied, 3);
}

#[test]
fn rpm_with_an_interval_that_is_not_whole_milliseconds_is_exact() {
    // 7 per minute: one token every 8571.43 ms.
    let limits = Limits {
        rpm: Some(7),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let t0 = NOV22_10H;
    for i in 0..7 {
        assert!(allowed(
            &ledger
                .reserve(&format!("a{i}"), None, &Cost::REQUEST, &limits, &utc(t0))
                .0
        ));
    }
    let d = denial(
        ledger
            .reserve("x", None, &Cost::REQUEST, &limits, &utc(t0))
            .0,
    );
    assert_eq!(d.retry_after_ms, 8_572);
    assert!(!allowed(
        &ledger
            .reserve("y", None, &Cost::REQUEST, &limits, &utc(t0 + 8_571))
            .0
    ));
    assert!(allowed(
        &ledger
            .reserve("z", None, &Cost::REQUEST, &limits, &utc(t0 + 8_572))
            .0
    ));
    // Over ten minutes from a full bucket: the burst of 7, then exactly one
    // per 60/7 s (the 69th token arrives at 591.43 s, the 70th at 600 s).
    let mut fresh = Ledger::default();
    let mut admitted = 0;
    for ms in (0..600_000).step_by(100) {
        let id = format!("s{ms}");
        if allowed(
            &fresh
                .reserve(&id, None, &Cost::REQUEST, &limits, &utc(t0 + ms))
                .0,
        ) {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 7 + 69);
}

#[test]
fn changing_rpm_keeps_the_debt_in_real_time() {
    let mut limits = Limits {
        rpm: Some(2),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    assert!(allowed(
        &ledger
            .reserve("a", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0
    ));
    assert!(allowed(
        &ledger
            .reserve("b", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0
    ));
    limits.rpm = Some(4);
    // The debt carries over in real time: the bucket is still empty, and
    // refills at the new rate (a token every 15 s instead of 30 s).
    let d = denial(
        ledger
            .reserve("c", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.retry_after_ms, 15_000);
    assert!(allowed(
        &ledger
            .reserve("c", None, &Cost::REQUEST, &limits, &utc(NOV22_10H + 15_000))
            .0
    ));
}

#[test]
fn parallel_slots_are_held_until_released_or_their_lease_ends() {
    let limits = Limits {
        max_parallel_requests: Some(2),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (d1, h1) = ledger.reserve("one", None, &Cost::REQUEST, &limits, &utc(NOV22_10H));
    assert_eq!(standing(&d1, Meter::ParallelRequests).remaining, 1);
    let (_, h2) = ledger.reserve("two", None, &Cost::REQUEST, &limits, &utc(NOV22_10H));
    let d = denial(
        ledger
            .reserve("three", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::ParallelRequests);
    assert_eq!(d.retry_after_ms, PARALLEL_RETRY_MS);
    let mut h1 = h1.unwrap();
    assert!(ledger.release_slot(&mut h1));
    assert!(
        !ledger.release_slot(&mut h1),
        "releasing twice frees one slot"
    );
    assert!(allowed(
        &ledger
            .reserve("three", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0
    ));
    assert!(!allowed(
        &ledger
            .reserve("four", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0
    ));
    // A request that never released (evicted Worker) frees its slot at lease end.
    let later = NOV22_10H + SLOT_LEASE_MS;
    assert!(allowed(
        &ledger
            .reserve("five", None, &Cost::REQUEST, &limits, &utc(later))
            .0
    ));
    drop(h2);
}

#[test]
fn daily_videos_are_exhausted_until_midnight_then_reset() {
    let limits = Limits {
        videos_per_day: Some(2),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (d, hold) = ledger.reserve("v1", None, &video(8), &limits, &utc(NOV22_10H));
    assert!(
        hold.is_some(),
        "a video reservation is held for commit or refund"
    );
    let s = standing(&d, Meter::Videos);
    assert_eq!((s.remaining, s.reset_at_ms), (1, NOV23_UTC));
    assert!(allowed(
        &ledger
            .reserve("v2", None, &video(8), &limits, &utc(NOV22_10H))
            .0
    ));
    let d = denial(
        ledger
            .reserve("v3", None, &video(8), &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::Videos);
    assert_eq!(d.retry_after_ms, NOV23_UTC - NOV22_10H);
    let err = d.to_client();
    assert_eq!(err.code, ErrorCode::VideoQuotaExceeded);
    assert_eq!(err.code.spec().openai_type, "insufficient_quota");
    assert!(err.message.contains("resets in 14h0m0s"), "{}", err.message);
    // One millisecond before midnight: still out. At midnight: back.
    assert!(!allowed(
        &ledger
            .reserve("v3", None, &video(8), &limits, &utc(NOV23_UTC - 1))
            .0
    ));
    assert!(allowed(
        &ledger
            .reserve("v3", None, &video(8), &limits, &utc(NOV23_UTC))
            .0
    ));
    assert_eq!(ledger.videos, 1);
    assert_eq!(ledger.totals.videos, 3);
}

#[test]
fn the_day_follows_the_time_zone_across_dst_changes() {
    let limits = Limits {
        videos_per_day: Some(1),
        ..Limits::default()
    };
    // The 23-hour day: reset is at the next local midnight, PDT.
    let mut ledger = Ledger::default();
    let noonish = MAR08_LA + 12 * HOUR;
    let (d, _) = ledger.reserve("a", None, &video(4), &limits, &la(noonish));
    assert_eq!(standing(&d, Meter::Videos).reset_at_ms, MAR09_LA);
    assert_eq!(MAR09_LA - MAR08_LA, 23 * HOUR);
    let d = denial(
        ledger
            .reserve("b", None, &video(4), &limits, &la(MAR09_LA - 1))
            .0,
    );
    assert_eq!(d.retry_after_ms, 1);
    assert!(allowed(
        &ledger
            .reserve("b", None, &video(4), &limits, &la(MAR09_LA))
            .0
    ));
    // The 25-hour day.
    let mut ledger = Ledger::default();
    let (d, _) = ledger.reserve("c", None, &video(4), &limits, &la(NOV01_LA + HOUR));
    assert_eq!(standing(&d, Meter::Videos).reset_at_ms, NOV02_LA);
    assert_eq!(NOV02_LA - NOV01_LA, 25 * HOUR);
    // 24 h after the start of the day it is still the same local day.
    assert!(!allowed(
        &ledger
            .reserve("d", None, &video(4), &limits, &la(NOV01_LA + 24 * HOUR))
            .0
    ));
    assert!(allowed(
        &ledger
            .reserve("d", None, &video(4), &limits, &la(NOV02_LA))
            .0
    ));
}

#[test]
fn reserve_is_all_or_nothing() {
    let limits = Limits {
        videos_per_day: Some(5),
        video_seconds_per_day: Some(10),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    assert!(allowed(
        &ledger
            .reserve("a", None, &video(8), &limits, &utc(NOV22_10H))
            .0
    ));
    let d = denial(
        ledger
            .reserve("b", None, &video(4), &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::VideoSeconds);
    assert_eq!((d.remaining, d.requested), (2, 4));
    assert_eq!(
        (ledger.videos, ledger.video_seconds),
        (1, 8),
        "the denied video charged nothing"
    );
    assert!(allowed(
        &ledger
            .reserve("c", None, &video(2), &limits, &utc(NOV22_10H))
            .0
    ));
}

#[test]
fn a_repeated_reserve_charges_once() {
    let limits = Limits {
        videos_per_day: Some(5),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (_, hold) = ledger.reserve("same", None, &video(8), &limits, &utc(NOV22_10H));
    let hold = hold.unwrap();
    let (d, again) = ledger.reserve("same", Some(&hold), &video(8), &limits, &utc(NOV22_10H));
    assert!(again.is_none());
    assert_eq!(standing(&d, Meter::Videos).remaining, 4);
    assert_eq!(ledger.videos, 1);
}

#[test]
fn commit_charges_the_actual_amount_once() {
    let limits = Limits {
        video_seconds_per_day: Some(100),
        max_budget_micros: Some(50_000_000),
        budget_period_ms: Some(DAY_MS),
        budget_anchor_ms: NOV22_10H - 5 * DAY_MS,
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let cost = Cost {
        spend_micros: 4_000_000,
        ..video(8)
    };
    let (_, hold) = ledger.reserve("job", None, &cost, &limits, &utc(NOV22_10H));
    let mut hold = hold.unwrap();
    assert_eq!((ledger.video_seconds, ledger.spend_micros), (8, 4_000_000));
    let actual = Cost {
        spend_micros: 3_000_000,
        ..video(6)
    };
    assert!(ledger.commit(&mut hold, &actual, &limits, &utc(NOV22_10H + 60_000)));
    assert_eq!((ledger.video_seconds, ledger.spend_micros), (6, 3_000_000));
    assert_eq!(hold.state, HoldState::Committed);
    // A second commit and a late refund change nothing.
    assert!(!ledger.commit(&mut hold, &video(60), &limits, &utc(NOV22_10H + 60_000)));
    assert!(!ledger.refund(&mut hold, &limits, &utc(NOV22_10H + 60_000)));
    assert_eq!((ledger.video_seconds, ledger.spend_micros), (6, 3_000_000));
    assert_eq!(ledger.totals.video_seconds, 6);
}

#[test]
fn refund_returns_everything_once() {
    let limits = Limits {
        videos_per_day: Some(1),
        max_parallel_requests: Some(1),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (_, hold) = ledger.reserve("failed-submit", None, &video(8), &limits, &utc(NOV22_10H));
    let mut hold = hold.unwrap();
    assert!(hold.slot);
    assert!(ledger.refund(&mut hold, &limits, &utc(NOV22_10H)));
    assert!(!hold.slot, "a refund frees the slot too");
    assert!(!ledger.refund(&mut hold, &limits, &utc(NOV22_10H)));
    assert_eq!((ledger.videos, ledger.totals.videos), (0, 0));
    assert!(ledger.leases.is_empty());
    assert!(allowed(
        &ledger
            .reserve("next", None, &video(8), &limits, &utc(NOV22_10H))
            .0
    ));
}

#[test]
fn a_slot_can_be_released_while_the_reservation_stays_open() {
    let limits = Limits {
        videos_per_day: Some(3),
        max_parallel_requests: Some(1),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (_, hold) = ledger.reserve("job", None, &video(8), &limits, &utc(NOV22_10H));
    let mut hold = hold.unwrap();
    assert!(ledger.release_slot(&mut hold));
    assert_eq!(hold.state, HoldState::Open);
    assert!(allowed(
        &ledger
            .reserve("poll", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0
    ));
    assert!(ledger.commit(&mut hold, &video(8), &limits, &utc(NOV22_10H)));
    assert_eq!(ledger.videos, 1);
}

#[test]
fn settling_a_hold_from_an_earlier_day_leaves_today_alone() {
    let limits = Limits {
        videos_per_day: Some(1),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (_, hold) = ledger.reserve("late", None, &video(8), &limits, &utc(NOV23_UTC - 1_000));
    let mut hold = hold.unwrap();
    assert!(allowed(
        &ledger
            .reserve("today", None, &video(8), &limits, &utc(NOV23_UTC + 1_000))
            .0
    ));
    assert!(ledger.refund(&mut hold, &limits, &utc(NOV23_UTC + 2_000)));
    assert_eq!(
        ledger.videos, 1,
        "yesterday's refund does not free today's quota"
    );
    assert_eq!(ledger.totals.videos, 1);
}

#[test]
fn budget_periods_of_days_start_at_local_midnight_from_the_anchor() {
    let limits = Limits {
        max_budget_micros: Some(1_000_000),
        budget_period_ms: Some(30 * DAY_MS),
        budget_anchor_ms: NOV22_10H,
        ..Limits::default()
    };
    let spend = |micros| Cost {
        spend_micros: micros,
        ..Cost::REQUEST
    };
    let mut ledger = Ledger::default();
    let (d, _) = ledger.reserve("a", None, &spend(600_000), &limits, &utc(NOV22_10H));
    let s = standing(&d, Meter::Budget);
    // Anchored at the local day of the anchor: 30 days after Nov 22 00:00.
    assert_eq!(s.reset_at_ms, NOV23_UTC - DAY_MS + 30 * DAY_MS);
    assert_eq!(s.remaining, 400_000);
    let d = denial(
        ledger
            .reserve("b", None, &spend(500_000), &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::Budget);
    let err = d.to_client();
    assert_eq!(err.code, ErrorCode::BudgetExceeded);
    assert!(err.message.contains("$1.00"), "{}", err.message);
    assert!(err.message.contains("$0.40 left"), "{}", err.message);
    assert!(allowed(
        &ledger
            .reserve("b", None, &spend(500_000), &limits, &utc(s.reset_at_ms))
            .0
    ));
}

#[test]
fn budget_periods_shorter_than_a_day_count_from_the_anchor() {
    let limits = Limits {
        max_budget_micros: Some(10),
        budget_period_ms: Some(12 * HOUR),
        budget_anchor_ms: NOV22_10H - HOUR,
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let cost = Cost {
        spend_micros: 10,
        ..Cost::default()
    };
    let (d, _) = ledger.reserve("a", None, &cost, &limits, &utc(NOV22_10H));
    assert_eq!(
        standing(&d, Meter::Budget).reset_at_ms,
        NOV22_10H + 11 * HOUR
    );
}

#[test]
fn the_denial_reported_is_the_one_that_lasts_longest() {
    let limits = Limits {
        rpm: Some(1),
        videos_per_day: Some(1),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    assert!(allowed(
        &ledger
            .reserve("a", None, &video(4), &limits, &utc(NOV22_10H))
            .0
    ));
    let d = denial(
        ledger
            .reserve("b", None, &video(4), &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(
        d.meter,
        Meter::Videos,
        "waiting out the rate would not help"
    );
    // A plain request is only rate limited.
    let d = denial(
        ledger
            .reserve("c", None, &Cost::REQUEST, &limits, &utc(NOV22_10H))
            .0,
    );
    assert_eq!(d.meter, Meter::Requests);
}

#[test]
fn unlimited_keys_still_count_usage() {
    let mut ledger = Ledger::default();
    let (d, hold) = ledger.reserve("a", None, &video(8), &Limits::default(), &utc(NOV22_10H));
    assert_eq!(d, Decision::Allowed(alloc::vec![]));
    assert!(hold.is_some());
    assert_eq!(
        (
            ledger.totals.requests,
            ledger.totals.videos,
            ledger.totals.video_seconds
        ),
        (1, 1, 8)
    );
}

#[test]
fn the_ledger_round_trips_through_json() {
    let limits = Limits {
        rpm: Some(3),
        max_parallel_requests: Some(3),
        videos_per_day: Some(3),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let (_, hold) = ledger.reserve("a", None, &video(8), &limits, &utc(NOV22_10H));
    let text = serde_json::to_string(&ledger).unwrap();
    assert_eq!(serde_json::from_str::<Ledger>(&text).unwrap(), ledger);
    let hold = hold.unwrap();
    let text = serde_json::to_string(&hold).unwrap();
    assert_eq!(serde_json::from_str::<Hold>(&text).unwrap(), hold);
    assert_eq!(
        serde_json::from_str::<Ledger>("{}").unwrap(),
        Ledger::default()
    );
}

#[test]
fn money_and_durations_format_for_people() {
    assert_eq!(micros_to_usd(1_000_000), "1.00");
    assert_eq!(micros_to_usd(1_234_567), "1.234567");
    assert_eq!(micros_to_usd(400_000), "0.40");
    assert_eq!(micros_to_usd(0), "0.00");
    assert_eq!(usd_to_micros(0.1), Some(100_000));
    assert_eq!(usd_to_micros(2.5), Some(2_500_000));
    assert_eq!(usd_to_micros(-1.0), None);
    assert_eq!(usd_to_micros(f64::NAN), None);
    assert_eq!(human_duration(400), "400ms");
    assert_eq!(human_duration(10_000), "10s");
    assert_eq!(human_duration(125_000), "2m5s");
    assert_eq!(human_duration(50_400_000), "14h0m0s");
}

#[test]
fn a_lifetime_budget_says_it_never_resets() {
    let limits = crate::config::policy::Policy {
        max_budget_micros: Some(1_000),
        ..Default::default()
    }
    .limits(NOV22_10H);
    let spend = Cost {
        spend_micros: 1_000,
        ..Cost::REQUEST
    };
    let mut ledger = Ledger::default();
    assert!(allowed(
        &ledger
            .reserve("a", None, &spend, &limits, &utc(NOV22_10H))
            .0
    ));
    let d = denial(
        ledger
            .reserve(
                "b",
                None,
                &spend,
                &limits,
                &utc(NOV22_10H + 5 * 365 * DAY_MS),
            )
            .0,
    );
    assert!(d.never_resets());
    let err = d.to_client();
    assert_eq!(err.retry_after_ms, None);
    assert!(err.message.contains("does not reset"), "{}", err.message);
}

#[test]
fn the_store_is_asked_only_when_exactness_or_revocation_needs_it() {
    let none = Limits::default();
    let rpm = Limits {
        rpm: Some(10),
        ..Limits::default()
    };
    let parallel = Limits {
        max_parallel_requests: Some(2),
        ..Limits::default()
    };
    assert!(!must_ask_store(&Cost::REQUEST, &none, true, None));
    assert!(
        must_ask_store(&Cost::REQUEST, &none, false, None),
        "unconfirmed key"
    );
    assert!(
        must_ask_store(&Cost::REQUEST, &rpm, true, None),
        "rate counted exactly"
    );
    assert!(
        must_ask_store(&Cost::REQUEST, &parallel, true, None),
        "slots counted exactly"
    );
    assert!(
        must_ask_store(&video(8), &none, true, None),
        "metered work reserved"
    );
    let single = TokenUse {
        id: "t".into(),
        max: 1,
        until_ms: 0,
    };
    assert!(
        must_ask_store(&Cost::REQUEST, &none, true, Some(&single)),
        "token uses are counted by the store"
    );
}

#[test]
fn token_uses_are_bounded_unless_unlimited() {
    let use_of = |max| TokenUse {
        id: "t".into(),
        max,
        until_ms: 0,
    };
    assert!(use_of(1).allows_another(0));
    assert!(!use_of(1).allows_another(1));
    assert!(use_of(3).allows_another(2));
    assert!(!use_of(3).allows_another(7));
    assert!(use_of(0).allows_another(u64::MAX));
}

#[test]
fn settlements_that_change_no_counter_are_recognised() {
    let reserved = video(8);
    let release = Settlement::Release;
    assert!(release.changes_nothing(Some(&reserved), false));
    assert!(
        !release.changes_nothing(Some(&reserved), true),
        "frees a slot"
    );
    let same = Settlement::Commit {
        actual: Cost {
            request: false,
            slot: false,
            ..reserved
        },
    };
    assert!(same.changes_nothing(Some(&reserved), false));
    assert!(!same.changes_nothing(None, false), "reservation unknown");
    let less = Settlement::Commit { actual: video(4) };
    assert!(!less.changes_nothing(Some(&reserved), false));
    assert!(!Settlement::Refund.changes_nothing(Some(&reserved), false));
}

#[test]
fn a_denial_reports_where_every_limited_meter_stands() {
    // The 429 carries the same `x-ratelimit-*` as a success: the refused
    // meter at 0, the others as they are, nothing charged by the refusal.
    let limits = Limits {
        rpm: Some(2),
        max_parallel_requests: Some(5),
        videos_per_day: Some(3),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    let now = utc(NOV22_10H);
    for id in ["a", "b"] {
        assert!(allowed(
            &ledger.reserve(id, None, &video(8), &limits, &now).0
        ));
    }
    let (d, hold) = ledger.reserve("c", None, &video(8), &limits, &now);
    assert!(hold.is_none());
    let Decision::Denied(denial, standings) = d else {
        panic!("expected a denial, got {d:?}");
    };
    assert_eq!(denial.meter, Meter::Requests);
    let of = |meter: Meter| *standings.iter().find(|s| s.meter == meter).unwrap();
    let rate = of(Meter::Requests);
    assert_eq!((rate.limit, rate.remaining), (2, 0));
    assert_eq!(rate.reset_at_ms, denial.reset_at_ms);
    assert_eq!(
        (
            of(Meter::ParallelRequests).limit,
            of(Meter::ParallelRequests).remaining
        ),
        (5, 3)
    );
    assert_eq!(
        (of(Meter::Videos).limit, of(Meter::Videos).remaining),
        (3, 1)
    );
    assert_eq!(standings.len(), 3, "only limited meters: {standings:?}");

    // A parallel limit reached: its meter stands at 0.
    let limits = Limits {
        max_parallel_requests: Some(1),
        ..Limits::default()
    };
    let mut ledger = Ledger::default();
    assert!(allowed(
        &ledger.reserve("x", None, &Cost::REQUEST, &limits, &now).0
    ));
    let Decision::Denied(denial, standings) =
        ledger.reserve("y", None, &Cost::REQUEST, &limits, &now).0
    else {
        panic!("expected a denial");
    };
    assert_eq!(denial.meter, Meter::ParallelRequests);
    assert_eq!(standings.len(), 1);
    assert_eq!((standings[0].limit, standings[0].remaining), (1, 0));
}
