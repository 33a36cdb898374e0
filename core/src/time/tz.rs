//! Local-day boundaries in IANA time zones, for quotas that reset at local
//! midnight ("videos per day").
//!
//! This module owns the mapping from a UTC instant to the local calendar
//! date of a [`TimeZone`] and back: which local day an instant falls in
//! ([`TimeZone::local_day_number`]) and the UTC instants where local days
//! begin ([`TimeZone::day_start`], [`TimeZone::next_day_start`],
//! [`TimeZone::start_of_local_day`]). It reads no clock: callers pass `now`.
//!
//! **Data.** Each zone is its *current* rule: the POSIX TZ string (e.g.
//! `PST8PDT,M3.2.0,M11.1.0`) from the footer of its TZif file in the IANA
//! tz database, as listed in the generated table `zones.rs` (see
//! `gen_zones.py` next to this file for the source and how to regenerate).
//! Every zone name is there, including backward-compatible links such as
//! `US/Pacific` or `Etc/UTC`.
//!
//! **Correctness.** Evaluation is DST-correct for the current rules: days
//! may be 23, 23.5, 24, 24.5 or 25 hours long (and 22/26 h in
//! `Antarctica/Troll`), and where local midnight does not exist (DST that
//! starts at 00:00 or 24:00, as in `America/Havana` or `America/Santiago`)
//! a day starts at its first local time that does exist. Historical
//! transitions are *not* modelled: instants before a zone adopted its
//! current rule are evaluated with that rule too, which is fine for quota
//! windows that only look at "now". Zones whose future is not a fixed rule
//! are approximated by their footer: `Africa/Casablanca` and
//! `Africa/El_Aaiun` (Ramadan DST) are off by an hour on some days, and
//! `Asia/Gaza`/`Asia/Hebron` from 2036 on.
//!
//! The rule grammar is RFC 8536 section 3.3 (POSIX TZ with its extensions):
//! `std offset [dst [offset] [,start[/time],end[/time]]]`, names plain or
//! `<quoted>`, dates `Mm.w.d`, `Jn` or `n`, times from -167 h to 167 h. A
//! DST zone without explicit rules gets the US rules `M3.2.0,M11.1.0`.
//!
//! Only whole seconds matter: offsets and transitions are whole seconds, so
//! a millisecond instant is in the same local day as its second.

use super::zones::ZONES;
use super::{civil_from_days, days_from_civil, days_in_month, is_leap};

const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_HOUR: i32 = 3_600;
/// Past this local day number the start of the day no longer fits `u64` ms.
const MAX_DAY: i64 = (u64::MAX / 1_000 / 86_400) as i64 + 2;
/// Before this local day number the start of the day is before 1970 anywhere.
const MIN_DAY: i64 = -2;

/// An IANA time zone with its current DST rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    name: &'static str,
    rule: Rule,
}

/// A parsed POSIX TZ rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    /// Standard time, seconds east of UTC.
    std_offset: i32,
    /// Daylight saving time, if the zone has it.
    dst: Option<Dst>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dst {
    /// DST offset, seconds east of UTC (may be *below* `std_offset`, as in
    /// `Europe/Dublin`'s "negative DST" in winter).
    offset: i32,
    /// When DST starts, in local standard time.
    start: Transition,
    /// When DST ends, in local DST time.
    end: Transition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    date: RuleDate,
    /// Seconds after local midnight of `date` (-167 h ..= 167 h).
    time: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u16),
    /// `n`: day 0..=365 of the year, February 29 counted.
    Julian0(u16),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay { month: u8, week: u8, weekday: u8 },
}

impl TimeZone {
    /// Coordinated Universal Time.
    pub const UTC: TimeZone = TimeZone {
        name: "UTC",
        rule: Rule {
            std_offset: 0,
            dst: None,
        },
    };

    /// The zone with this exact IANA name (`"America/Los_Angeles"`,
    /// `"US/Pacific"`, `"UTC"`), or `None` if there is none. Case matters.
    pub fn by_name(name: &str) -> Option<TimeZone> {
        let index = ZONES.binary_search_by(|(zone, _)| (*zone).cmp(name)).ok()?;
        let (name, rule) = ZONES.get(index)?;
        Self::from_posix(name, rule)
    }

    /// A zone from a POSIX TZ rule string (e.g. `"CET-1CEST,M3.5.0,M10.5.0/3"`)
    /// under the given name, or `None` if the rule does not parse.
    pub fn from_posix(name: &'static str, rule: &str) -> Option<TimeZone> {
        Some(TimeZone {
            name,
            rule: Rule::parse(rule)?,
        })
    }

    /// The zone's name (as looked up).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The UTC offset in force at `utc_ms` (unix ms), in seconds east of UTC.
    pub fn offset_seconds_at(&self, utc_ms: i64) -> i32 {
        self.rule.offset_at(utc_ms.div_euclid(1_000))
    }

    /// The local calendar date containing `utc_ms`, as days since 1970-01-01.
    pub fn local_day_number(&self, utc_ms: u64) -> i64 {
        let t = secs_of(utc_ms);
        (t + i64::from(self.rule.offset_at(t))).div_euclid(SECS_PER_DAY)
    }

    /// The first instant (unix ms) of the local date containing `utc_ms`.
    pub fn day_start(&self, utc_ms: u64) -> u64 {
        self.start_of_local_day(self.local_day_number(utc_ms))
    }

    /// The first instant (unix ms) of the local date after the one
    /// containing `utc_ms`: when a daily quota resets.
    pub fn next_day_start(&self, utc_ms: u64) -> u64 {
        self.start_of_local_day(self.local_day_number(utc_ms).saturating_add(1))
    }

    /// The first instant (unix ms) of local date `day_number` (days since
    /// 1970-01-01): local midnight, or the first local time that exists that
    /// day if DST skips midnight. Saturates at 0 for days that begin before
    /// 1970 and at `u64::MAX` past the range of `u64` milliseconds.
    ///
    /// Precisely, it is the first instant whose local wall time is at or
    /// after that date's 00:00. That is the first instant of the date as long
    /// as no fall-back carries the wall clock back across midnight, which no
    /// zone in the table does (tested for every rule).
    pub fn start_of_local_day(&self, day_number: i64) -> u64 {
        if day_number < MIN_DAY {
            return 0;
        }
        if day_number > MAX_DAY {
            return u64::MAX;
        }
        let secs = self
            .rule
            .first_instant_at_or_after(day_number * SECS_PER_DAY);
        match u64::try_from(secs) {
            Ok(secs) => secs.saturating_mul(1_000),
            Err(_) => 0,
        }
    }
}

/// Whole seconds of a unix-ms instant (never overflows: `u64::MAX / 1000`
/// fits `i64`).
fn secs_of(utc_ms: u64) -> i64 {
    i64::try_from(utc_ms / 1_000).unwrap_or(i64::MAX)
}

impl Rule {
    /// Seconds east of UTC in force at `t` (unix seconds).
    fn offset_at(&self, t: i64) -> i32 {
        let Some(dst) = self.dst else {
            return self.std_offset;
        };
        let year = civil_from_days((t + i64::from(self.std_offset)).div_euclid(SECS_PER_DAY)).0;
        let events = dst.events(year, self.std_offset);
        let mut in_dst = !events[0].1;
        for (at, is_dst) in events {
            if at > t {
                break;
            }
            in_dst = is_dst;
        }
        if in_dst {
            dst.offset
        } else {
            self.std_offset
        }
    }

    /// The first instant `u` (unix seconds) whose local time `u + offset(u)`
    /// is at or after `local` (seconds on the local time line).
    fn first_instant_at_or_after(&self, local: i64) -> i64 {
        let Some(dst) = self.dst else {
            return local - i64::from(self.std_offset);
        };
        let year = civil_from_days(local.div_euclid(SECS_PER_DAY)).0;
        let events = dst.events(year, self.std_offset);
        let offset = |is_dst: bool| i64::from(if is_dst { dst.offset } else { self.std_offset });
        // Walk the stretches of constant offset in order; within each, local
        // time rises with `u`, so the first stretch that reaches `local`
        // holds the answer (its start, if `local` was jumped over).
        let mut from = i64::MIN;
        let mut current = offset(!events[0].1);
        for (at, is_dst) in events {
            let candidate = from.max(local - current);
            if candidate < at {
                return candidate;
            }
            from = at;
            current = offset(is_dst);
        }
        from.max(local - current)
    }

    /// Parses a POSIX TZ rule (RFC 8536 section 3.3).
    fn parse(text: &str) -> Option<Rule> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        p.name()?;
        let std_offset = p.offset()?;
        if p.done() {
            return Some(Rule {
                std_offset,
                dst: None,
            });
        }
        p.name()?;
        let offset = match p.peek() {
            Some(b'+' | b'-' | b'0'..=b'9') => p.offset()?,
            _ => std_offset + SECS_PER_HOUR,
        };
        let (start, end) = if p.done() {
            let us = |week| Transition {
                date: RuleDate::MonthWeekDay {
                    month: if week == 2 { 3 } else { 11 },
                    week,
                    weekday: 0,
                },
                time: 2 * SECS_PER_HOUR,
            };
            (us(2), us(1))
        } else {
            p.eat(b',').then_some(())?;
            let start = p.transition()?;
            p.eat(b',').then_some(())?;
            let end = p.transition()?;
            (start, end)
        };
        p.done().then_some(Rule {
            std_offset,
            dst: Some(Dst { offset, start, end }),
        })
    }
}

impl Dst {
    /// The transitions of years `year - 1 ..= year + 1` as (unix seconds,
    /// DST in force after it), in time order (an end before a start at the
    /// same instant, so DST all year round stays DST).
    fn events(&self, year: i64, std_offset: i32) -> [(i64, bool); 6] {
        let mut events = [(0, false); 6];
        for (slot, y) in events.chunks_exact_mut(2).zip(year - 1..=year + 1) {
            // Start: given in standard time; end: given in DST.
            slot[0] = (self.start.utc(y, std_offset), true);
            slot[1] = (self.end.utc(y, self.offset), false);
        }
        // Insertion sort: already in order but for rules whose transitions
        // spill across a year boundary.
        for i in 1..events.len() {
            let mut j = i;
            while j > 0 && events[j - 1] > events[j] {
                events.swap(j - 1, j);
                j -= 1;
            }
        }
        events
    }
}

impl Transition {
    /// Unix seconds of this transition in `year`, where local time before it
    /// is `offset` seconds east of UTC.
    fn utc(&self, year: i64, offset: i32) -> i64 {
        self.date.day(year) * SECS_PER_DAY + i64::from(self.time) - i64::from(offset)
    }
}

impl RuleDate {
    /// Days since 1970-01-01 of this date in `year`.
    fn day(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        match *self {
            RuleDate::Julian1(n) => {
                let leap_day = i64::from(is_leap(year) && n >= 60);
                jan1 + i64::from(n) - 1 + leap_day
            }
            RuleDate::Julian0(n) => jan1 + i64::from(n),
            RuleDate::MonthWeekDay {
                month,
                week,
                weekday,
            } => {
                let first = days_from_civil(year, i64::from(month), 1);
                let first_weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
                let mut day = first
                    + (i64::from(weekday) - first_weekday).rem_euclid(7)
                    + 7 * (i64::from(week) - 1);
                if day >= first + i64::from(days_in_month(year, u32::from(month))) {
                    day -= 7; // week 5 = the last such weekday
                }
                day
            }
        }
    }
}

/// A byte cursor over a POSIX TZ string.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Consumes bytes while `pred` holds; returns how many.
    fn skip_while(&mut self, pred: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A zone abbreviation: three or more letters, or `<` three or more
    /// letters, digits, `+` or `-` `>`.
    fn name(&mut self) -> Option<()> {
        if self.eat(b'<') {
            let n = self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-');
            (n >= 3 && self.eat(b'>')).then_some(())
        } else {
            (self.skip_while(|b| b.is_ascii_alphabetic()) >= 3).then_some(())
        }
    }

    /// An unsigned decimal of 1..=`max_digits` digits.
    fn number(&mut self, max_digits: usize) -> Option<u32> {
        let start = self.pos;
        let n = self.skip_while(|b| b.is_ascii_digit());
        if n == 0 || n > max_digits {
            return None;
        }
        let digits = self.s.get(start..self.pos)?;
        Some(
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    }

    /// `[+-]h[:mm[:ss]]` with hours up to `max_hours`, in seconds.
    fn signed_hms(&mut self, max_hours: u32) -> Option<i32> {
        let negative = if self.eat(b'-') {
            true
        } else {
            self.eat(b'+');
            false
        };
        let hours = self.number(3).filter(|h| *h <= max_hours)?;
        let mut secs = hours * 3_600;
        if self.eat(b':') {
            secs += self.number(2).filter(|m| *m < 60)? * 60;
            if self.eat(b':') {
                secs += self.number(2).filter(|s| *s < 60)?;
            }
        }
        let secs = i32::try_from(secs).ok()?;
        Some(if negative { -secs } else { secs })
    }

    /// A UTC offset, POSIX style (positive = west), as seconds east of UTC.
    fn offset(&mut self) -> Option<i32> {
        Some(-self.signed_hms(24)?)
    }

    /// `date[/time]`, time defaulting to 02:00.
    fn transition(&mut self) -> Option<Transition> {
        let date = if self.eat(b'J') {
            RuleDate::Julian1(self.number(3).filter(|n| (1..=365).contains(n))? as u16)
        } else if self.eat(b'M') {
            let month = self.number(2).filter(|m| (1..=12).contains(m))? as u8;
            self.eat(b'.').then_some(())?;
            let week = self.number(1).filter(|w| (1..=5).contains(w))? as u8;
            self.eat(b'.').then_some(())?;
            let weekday = self.number(1).filter(|d| *d <= 6)? as u8;
            RuleDate::MonthWeekDay {
                month,
                week,
                weekday,
            }
        } else {
            RuleDate::Julian0(self.number(3).filter(|n| *n <= 365)? as u16)
        };
        let time = if self.eat(b'/') {
            self.signed_hms(167)?
        } else {
            2 * SECS_PER_HOUR
        };
        Some(Transition { date, time })
    }
}

#[cfg(test)]
mod tests {
    //! Expected instants come from outside this code: the day tables from
    //! Python's `zoneinfo` over the same tzdata (2025b), found by scanning
    //! UTC minute by minute for the first instant of each local date; the
    //! custom-rule transitions from glibc (`TZ=... localtime`), except where
    //! noted as worked by hand.

    use super::*;
    use alloc::vec::Vec;

    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 86_400_000;
    /// 2026-01-01T00:00:00Z.
    const Y2026: u64 = 1_767_225_600_000;

    fn zone(name: &str) -> TimeZone {
        TimeZone::by_name(name).unwrap_or_else(|| panic!("{name} not in the table"))
    }

    /// (zone, local day number, its first instant, the next day's first
    /// instant, offset at the first instant, offset at the next one).
    type DayRow = (&'static str, i64, u64, u64, i32, i32);

    fn check_days(rows: &[DayRow]) {
        for &(name, day, start, next, start_offset, next_offset) in rows {
            let z = zone(name);
            let what = alloc::format!("{name} day {day}");
            assert_eq!(z.start_of_local_day(day), start, "{what}: start");
            assert_eq!(z.start_of_local_day(day + 1), next, "{what}: next start");
            assert_eq!(
                z.local_day_number(start - 1),
                day - 1,
                "{what}: just before"
            );
            assert_eq!(z.local_day_number(next), day + 1, "{what}: next day");
            for t in [start, start + 1, start + (next - start) / 2, next - 1] {
                assert_eq!(z.local_day_number(t), day, "{what}: day of {t}");
                assert_eq!(z.day_start(t), start, "{what}: day_start({t})");
                assert_eq!(z.next_day_start(t), next, "{what}: next_day_start({t})");
            }
            assert_eq!(
                z.offset_seconds_at(start as i64),
                start_offset,
                "{what}: offset at start"
            );
            assert_eq!(
                z.offset_seconds_at(next as i64),
                next_offset,
                "{what}: offset at next"
            );
        }
    }

    #[test]
    fn los_angeles_23_and_25_hour_days() {
        let la = zone("America/Los_Angeles");
        assert_eq!(la.name(), "America/Los_Angeles");
        // 2026-03-08: 00:00 PST = 08:00Z; 2026-03-09 00:00 PDT = 07:00Z.
        let t = 1_772_996_400_000; // 2026-03-08T19:00Z, noon PDT
        assert_eq!(la.local_day_number(t), 20_520);
        assert_eq!(la.day_start(t), 1_772_956_800_000);
        assert_eq!(la.next_day_start(t), 1_773_039_600_000);
        assert_eq!(la.next_day_start(t) - la.day_start(t), 23 * HOUR);
        // 2026-11-01: 00:00 PDT = 07:00Z; 2026-11-02 00:00 PST = 08:00Z.
        let t = 1_793_559_600_000; // 2026-11-01T19:00Z, 11:00 PST
        assert_eq!(la.local_day_number(t), 20_758);
        assert_eq!(la.day_start(t), 1_793_516_400_000);
        assert_eq!(la.next_day_start(t), 1_793_606_400_000);
        assert_eq!(la.next_day_start(t) - la.day_start(t), 25 * HOUR);
        // The switches themselves: 2026-03-08T10:00Z and 2026-11-01T09:00Z.
        assert_eq!(la.offset_seconds_at(1_772_963_999_999), -8 * 3600);
        assert_eq!(la.offset_seconds_at(1_772_964_000_000), -7 * 3600);
        assert_eq!(la.offset_seconds_at(1_793_523_599_999), -7 * 3600);
        assert_eq!(la.offset_seconds_at(1_793_523_600_000), -8 * 3600);
        check_days(&[
            (
                "America/Los_Angeles",
                20520,
                1772956800000,
                1773039600000,
                -28800,
                -25200,
            ), // 2026-03-08, 23 h, starts 00:00
            (
                "America/Los_Angeles",
                20758,
                1793516400000,
                1793606400000,
                -25200,
                -28800,
            ), // 2026-11-01, 25 h, starts 00:00
            (
                "America/Los_Angeles",
                20638,
                1783148400000,
                1783234800000,
                -25200,
                -25200,
            ), // 2026-07-04, 24 h, starts 00:00
            (
                "US/Pacific",
                20520,
                1772956800000,
                1773039600000,
                -28800,
                -25200,
            ), // 2026-03-08, 23 h, starts 00:00
        ]);
        // A link name is the same zone under another name.
        let pacific = zone("US/Pacific");
        assert_eq!(pacific.name(), "US/Pacific");
        assert_eq!(pacific.day_start(t), la.day_start(t));
    }

    #[test]
    fn sydney_southern_hemisphere() {
        // DST ends in April (25 h day) and starts in October (23 h day).
        check_days(&[
            (
                "Australia/Sydney",
                20548,
                1775307600000,
                1775397600000,
                39600,
                36000,
            ), // 2026-04-05, 25 h, starts 00:00
            (
                "Australia/Sydney",
                20730,
                1791036000000,
                1791118800000,
                36000,
                39600,
            ), // 2026-10-04, 23 h, starts 00:00
            (
                "Australia/Sydney",
                20468,
                1768395600000,
                1768482000000,
                39600,
                39600,
            ), // 2026-01-15, 24 h, starts 00:00
        ]);
    }

    #[test]
    fn half_and_quarter_hour_offsets() {
        check_days(&[
            (
                "Asia/Kolkata",
                20619,
                1781461800000,
                1781548200000,
                19800,
                19800,
            ), // 2026-06-15, 24 h, starts 00:00
            (
                "Asia/Kathmandu",
                20619,
                1781460900000,
                1781547300000,
                20700,
                20700,
            ), // 2026-06-15, 24 h, starts 00:00
        ]);
    }

    #[test]
    fn lord_howe_half_hour_dst() {
        // +10:30 standard, +11 in summer: 24.5 h and 23.5 h days.
        check_days(&[
            (
                "Australia/Lord_Howe",
                20548,
                1775307600000,
                1775395800000,
                39600,
                37800,
            ), // 2026-04-05, 24.5 h, starts 00:00
            (
                "Australia/Lord_Howe",
                20730,
                1791034200000,
                1791118800000,
                37800,
                39600,
            ), // 2026-10-04, 23.5 h, starts 00:00
        ]);
    }

    #[test]
    fn zones_without_dst() {
        check_days(&[
            (
                "Pacific/Honolulu",
                20520,
                1772964000000,
                1773050400000,
                -36000,
                -36000,
            ), // 2026-03-08, 24 h, starts 00:00
            (
                "Asia/Tokyo",
                20520,
                1772895600000,
                1772982000000,
                32400,
                32400,
            ), // 2026-03-08, 24 h, starts 00:00
        ]);
        for (name, offset) in [
            ("Asia/Tokyo", 9 * 3600),
            ("Pacific/Honolulu", -10 * 3600),
            ("Asia/Kolkata", 19_800),
        ] {
            let z = zone(name);
            for t in (0..4 * 365).map(|d| (Y2026 + d * DAY + 7 * HOUR) as i64) {
                assert_eq!(z.offset_seconds_at(t), offset, "{name} at {t}");
            }
        }
    }

    #[test]
    fn london_and_dublin() {
        // Dublin's rule is "negative DST" (IST-1GMT0,M10.5.0,M3.5.0/1): the
        // same instants as London, reached with the roles swapped.
        check_days(&[
            (
                "Europe/London",
                20541,
                1774742400000,
                1774825200000,
                0,
                3600,
            ), // 2026-03-29, 23 h, starts 00:00
            (
                "Europe/London",
                20751,
                1792882800000,
                1792972800000,
                3600,
                0,
            ), // 2026-10-25, 25 h, starts 00:00
            (
                "Europe/Dublin",
                20541,
                1774742400000,
                1774825200000,
                0,
                3600,
            ), // 2026-03-29, 23 h, starts 00:00
            (
                "Europe/Dublin",
                20751,
                1792882800000,
                1792972800000,
                3600,
                0,
            ), // 2026-10-25, 25 h, starts 00:00
        ]);
    }

    #[test]
    fn havana_midnight_skipped() {
        // CST5CDT,M3.2.0/0,M11.1.0/1: on 2026-03-08 clocks jump from 00:00
        // CST to 01:00 CDT, so that day starts at 01:00 local (05:00Z).
        check_days(&[
            (
                "America/Havana",
                20519,
                1772859600000,
                1772946000000,
                -18000,
                -14400,
            ), // 2026-03-07, 24 h, starts 00:00
            (
                "America/Havana",
                20520,
                1772946000000,
                1773028800000,
                -14400,
                -14400,
            ), // 2026-03-08, 23 h, starts 01:00
            (
                "America/Havana",
                20758,
                1793505600000,
                1793595600000,
                -14400,
                -18000,
            ), // 2026-11-01, 25 h, starts 00:00
        ]);
        let havana = zone("America/Havana");
        let start = havana.start_of_local_day(20_520);
        let local = start as i64 + i64::from(havana.offset_seconds_at(start as i64)) * 1_000;
        assert_eq!(
            local,
            20_520 * DAY as i64 + HOUR as i64,
            "starts at 01:00 local"
        );
    }

    #[test]
    fn other_skipped_midnights() {
        // DST starting at 24:00 (Santiago, M9.1.6/24) or 00:00 (Cairo,
        // Beirut, Azores): those days start at 01:00 local.
        check_days(&[
            (
                "America/Santiago",
                20702,
                1788667200000,
                1788750000000,
                -10800,
                -10800,
            ), // 2026-09-06, 23 h, starts 01:00
            (
                "America/Santiago",
                20547,
                1775271600000,
                1775361600000,
                -10800,
                -14400,
            ), // 2026-04-04, 25 h, starts 00:00
            (
                "Africa/Cairo",
                20567,
                1776981600000,
                1777064400000,
                10800,
                10800,
            ), // 2026-04-24, 23 h, starts 01:00
            (
                "Africa/Cairo",
                20755,
                1793221200000,
                1793311200000,
                10800,
                7200,
            ), // 2026-10-29, 25 h, starts 00:00
            (
                "Asia/Beirut",
                20541,
                1774735200000,
                1774818000000,
                10800,
                10800,
            ), // 2026-03-29, 23 h, starts 01:00
            (
                "Asia/Beirut",
                20750,
                1792789200000,
                1792879200000,
                10800,
                7200,
            ), // 2026-10-24, 25 h, starts 00:00
            ("Atlantic/Azores", 20541, 1774746000000, 1774828800000, 0, 0), // 2026-03-29, 23 h, starts 01:00
            (
                "Atlantic/Azores",
                20751,
                1792886400000,
                1792976400000,
                0,
                -3600,
            ), // 2026-10-25, 25 h, starts 00:00
        ]);
    }

    #[test]
    fn nuuk_negative_rule_time() {
        // <-02>2<-01>,M3.5.0/-1,M10.5.0/0: DST starts at "-1:00" on the last
        // Sunday of March, i.e. Saturday 23:00, making Saturday 23 h and the
        // Sunday start at 00:00 -01; it ends at Sunday 00:00 DST, which turns
        // back into Saturday 23:00, making that Saturday 25 h.
        check_days(&[
            (
                "America/Nuuk",
                20540,
                1774663200000,
                1774746000000,
                -7200,
                -3600,
            ), // 2026-03-28, 23 h, starts 00:00
            (
                "America/Nuuk",
                20541,
                1774746000000,
                1774832400000,
                -3600,
                -3600,
            ), // 2026-03-29, 24 h, starts 00:00
            (
                "America/Nuuk",
                20751,
                1792893600000,
                1792980000000,
                -7200,
                -7200,
            ), // 2026-10-25, 24 h, starts 00:00
            (
                "America/Godthab",
                20750,
                1792803600000,
                1792893600000,
                -3600,
                -7200,
            ), // 2026-10-24, 25 h, starts 00:00
        ]);
        let nuuk = zone("America/Nuuk");
        assert_eq!(nuuk.offset_seconds_at(1_774_745_999_999), -7_200);
        assert_eq!(nuuk.offset_seconds_at(1_774_746_000_000), -3_600);
    }

    #[test]
    fn more_unusual_rules() {
        // Jerusalem/Gaza transition times past 24 h (/26, /50), Chatham's
        // +12:45 with 2:45 switches, Troll's 2 h DST (22 h and 26 h days),
        // St John's -3:30, Easter Island's 22:00 switch, Kiritimati +14,
        // Etc/GMT+12.
        check_days(&[
            (
                "Asia/Jerusalem",
                20539,
                1774562400000,
                1774645200000,
                7200,
                10800,
            ), // 2026-03-27, 23 h, starts 00:00
            (
                "Asia/Gaza",
                20540,
                1774648800000,
                1774731600000,
                7200,
                10800,
            ), // 2026-03-28, 23 h, starts 00:00
            (
                "Asia/Gaza",
                20750,
                1792789200000,
                1792879200000,
                10800,
                7200,
            ), // 2026-10-24, 25 h, starts 00:00
            (
                "Pacific/Chatham",
                20723,
                1790421300000,
                1790504100000,
                45900,
                49500,
            ), // 2026-09-27, 23 h, starts 00:00
            (
                "Pacific/Chatham",
                20548,
                1775297700000,
                1775387700000,
                49500,
                45900,
            ), // 2026-04-05, 25 h, starts 00:00
            (
                "Antarctica/Troll",
                20541,
                1774742400000,
                1774821600000,
                0,
                7200,
            ), // 2026-03-29, 22 h, starts 00:00
            (
                "Antarctica/Troll",
                20751,
                1792879200000,
                1792972800000,
                7200,
                0,
            ), // 2026-10-25, 26 h, starts 00:00
            (
                "America/St_Johns",
                20520,
                1772940600000,
                1773023400000,
                -12600,
                -9000,
            ), // 2026-03-08, 23 h, starts 00:00
            (
                "Pacific/Easter",
                20701,
                1788588000000,
                1788670800000,
                -21600,
                -18000,
            ), // 2026-09-05, 23 h, starts 00:00
            (
                "Pacific/Kiritimati",
                20454,
                1767175200000,
                1767261600000,
                50400,
                50400,
            ), // 2026-01-01, 24 h, starts 00:00
            (
                "Etc/GMT+12",
                20454,
                1767268800000,
                1767355200000,
                -43200,
                -43200,
            ), // 2026-01-01, 24 h, starts 00:00
        ]);
    }

    #[test]
    fn utc() {
        let utc = TimeZone::UTC;
        assert_eq!(utc.name(), "UTC");
        assert_eq!(TimeZone::by_name("UTC"), Some(TimeZone::UTC));
        assert_eq!(TimeZone::from_posix("UTC", "UTC0"), Some(TimeZone::UTC));
        for name in [
            "Etc/UTC",
            "GMT",
            "Etc/GMT",
            "Zulu",
            "Universal",
            "UCT",
            "Etc/GMT-0",
        ] {
            let z = zone(name);
            assert_eq!(z.name(), name);
            assert_eq!(z.offset_seconds_at(1_800_000_000_000), 0);
            assert_eq!(
                z.day_start(1_800_000_000_123),
                1_800_000_000_123 / DAY * DAY
            );
        }
        check_days(&[
            ("UTC", 20574, 1777593600000, 1777680000000, 0, 0), // 2026-05-01, 24 h, starts 00:00
        ]);
        let t = 1_800_000_000_123;
        assert_eq!(utc.local_day_number(t), (t / DAY) as i64);
        assert_eq!(utc.day_start(t), t - t % DAY);
        assert_eq!(utc.next_day_start(t), t - t % DAY + DAY);
        assert_eq!(utc.start_of_local_day(0), 0);
        assert_eq!(utc.day_start(0), 0);
        assert_eq!(utc.next_day_start(0), DAY);
    }

    #[test]
    fn unknown_names() {
        for name in [
            "",
            "america/los_angeles",
            "America/Los_Angeles ",
            "America/Springfield",
            "Mars/Olympus_Mons",
            "US",
            "localtime",
            "posixrules",
            "Factory",
            "posix/UTC",
            "right/UTC",
            "PST8PDT,M3.2.0,M11.1.0",
        ] {
            assert_eq!(TimeZone::by_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn table_is_sorted_and_every_rule_parses() {
        assert!(ZONES.len() > 500, "{} zones", ZONES.len());
        for pair in ZONES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} !< {}", pair[0].0, pair[1].0);
        }
        for &(name, rule) in ZONES {
            assert!(Rule::parse(rule).is_some(), "{name}: {rule}");
            assert_eq!(TimeZone::by_name(name).map(|z| z.name()), Some(name));
        }
        for name in [
            "America/Los_Angeles",
            "US/Pacific",
            "UTC",
            "Etc/UTC",
            "GMT",
            "America/Godthab",
            "America/Nuuk",
        ] {
            assert!(TimeZone::by_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn parses_posix_rules() {
        let parse = Rule::parse;
        assert_eq!(
            parse("UTC0"),
            Some(Rule {
                std_offset: 0,
                dst: None
            })
        );
        assert_eq!(
            parse("<+0530>-5:30"),
            Some(Rule {
                std_offset: 19_800,
                dst: None
            })
        );
        assert_eq!(parse("<-0930>9:30").map(|r| r.std_offset), Some(-34_200));
        assert_eq!(parse("XXX+1:02:03").map(|r| r.std_offset), Some(-3_723));
        assert_eq!(parse("XXX-24").map(|r| r.std_offset), Some(86_400));
        let us = parse("EST5EDT4,M3.2.0/2,M11.1.0/02:00:00");
        assert!(us.is_some());
        assert_eq!(parse("EST5EDT"), us, "default offset and US rules");
        assert_eq!(parse("EST5EDT,M3.2.0,M11.1.0"), us);
        let jerusalem = parse("IST-2IDT,M3.4.4/26,M10.5.0").and_then(|r| r.dst);
        assert_eq!(
            jerusalem.map(|d| (d.offset, d.start.time, d.end.time)),
            Some((10_800, 26 * 3_600, 7_200))
        );
        let nuuk = parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0").and_then(|r| r.dst);
        assert_eq!(
            nuuk.map(|d| (d.offset, d.start.time, d.end.time)),
            Some((-3_600, -3_600, 0))
        );
        let julian = parse("XXX3YYY,J60/-167:59:59,0/167").and_then(|r| r.dst);
        assert_eq!(
            julian.map(|d| (d.start, d.end)),
            Some((
                Transition {
                    date: RuleDate::Julian1(60),
                    time: -(167 * 3_600 + 59 * 60 + 59)
                },
                Transition {
                    date: RuleDate::Julian0(0),
                    time: 167 * 3_600
                },
            ))
        );
        for bad in [
            "",
            "UTC",
            "UT0",
            "U0",
            "<+05",
            "<+05>",
            "<ab>0",
            "<+05>x",
            "EST",
            "EST+",
            "EST25",
            "EST5:60",
            "EST5:00:60",
            "EST5 ",
            "EST5EDT,",
            "EST5EDT,M3.2.0",
            "EST5EDT,M3.2.0,",
            "EST5EDT,M13.2.0,M11.1.0",
            "EST5EDT,M0.2.0,M11.1.0",
            "EST5EDT,M3.6.0,M11.1.0",
            "EST5EDT,M3.0.0,M11.1.0",
            "EST5EDT,M3.2.7,M11.1.0",
            "EST5EDT,M3.2,M11.1.0",
            "EST5EDT,J0,J365",
            "EST5EDT,J1,J366",
            "EST5EDT,0,366",
            "EST5EDT,M3.2.0/168,M11.1.0",
            "EST5EDT,M3.2.0/-168,M11.1.0",
            "EST5EDT,M3.2.0/1000,M11.1.0",
            "EST5EDT,M3.2.0,M11.1.0x",
            "EST5EDT,M3.2.0,M11.1.0/1:2:3:4",
            "EST5EDT,M3.2.0,M11.1.0,M12.1.0",
            "EST5EDT4EDT",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// (instant ms, offset in force from then on).
    fn check_transitions(rule: &str, transitions: &[(i64, i32)]) {
        let z = TimeZone::from_posix("test", rule).unwrap();
        let mut before = None;
        for &(at, offset) in transitions {
            if let Some(prev) = before {
                assert_eq!(z.offset_seconds_at(at - 1), prev, "{rule}: before {at}");
            }
            assert_eq!(z.offset_seconds_at(at), offset, "{rule}: at {at}");
            before = Some(offset);
        }
    }

    #[test]
    fn julian_and_out_of_range_rule_times() {
        // J60 is March 1 even in leap years; day 300 (zero-based) is Oct 28
        // in 2026 but Oct 27 in leap 2028 (glibc).
        check_transitions(
            "EST5EDT,J60/2,300",
            &[
                (1_772_348_400_000, -14_400),
                (1_793_167_200_000, -18_000),
                (1_803_884_400_000, -14_400),
                (1_824_703_200_000, -18_000),
                (1_835_506_800_000, -14_400),
                (1_856_239_200_000, -18_000),
            ],
        );
        // 24:00 and negative times (glibc).
        check_transitions(
            "XXX3YYY,M3.2.0/24,M10.5.0/-2",
            &[
                (1_773_025_200_000, -7_200),
                (1_792_886_400_000, -10_800),
                (1_805_079_600_000, -7_200),
                (1_824_940_800_000, -10_800),
            ],
        );
        // A -1:30:15 start and a +167 h end. The 2026 end, Saturday
        // 2026-12-26 + 167 h = 2027-01-01 23:00 +06:30 = 16:30Z, spills into
        // 2027 (worked by hand: glibc and Python both cut DST at the year
        // boundary instead); the others are glibc's.
        check_transitions(
            "<+0530>-5:30<+0630>,M1.1.0/-1:30:15,M12.5.6/167",
            &[
                (1_767_459_585_000, 23_400),
                (1_798_821_000_000, 19_800),
                (1_798_909_185_000, 23_400),
                (1_830_270_600_000, 19_800),
                (1_830_358_785_000, 23_400),
            ],
        );
    }

    #[test]
    fn dst_all_year() {
        // RFC 8536 section 3.3.1's example: DST from Jan 1 00:00 until
        // Dec 31 25:00, i.e. the next year's Jan 1 00:00 standard time.
        let z = TimeZone::from_posix("test", "EST5EDT4,0/0,J365/25").unwrap();
        for t in (0..3 * 365 * 24).map(|h| Y2026 + h * HOUR) {
            assert_eq!(z.offset_seconds_at(t as i64), -4 * 3_600, "at {t}");
            assert_eq!(z.next_day_start(t) - z.day_start(t), DAY, "at {t}");
            assert_eq!(z.day_start(t) % DAY, 4 * HOUR, "at {t}");
        }
    }

    #[test]
    fn every_day_of_every_rule_2026_to_2028() {
        let mut rules: Vec<(&str, &str)> = ZONES.to_vec();
        rules.sort_by_key(|(_, rule)| *rule);
        rules.dedup_by_key(|(_, rule)| *rule);
        for (name, _) in rules {
            let z = zone(name);
            let delta = z.rule.dst.map_or(0, |d| {
                (i64::from(d.offset) - i64::from(z.rule.std_offset)).unsigned_abs()
            });
            let lengths = [DAY, DAY - delta * 1_000, DAY + delta * 1_000];
            for day in 20_454..21_550 {
                let start = z.start_of_local_day(day);
                let next = z.start_of_local_day(day + 1);
                assert!(
                    lengths.contains(&(next - start)),
                    "{name} day {day}: {} ms",
                    next - start
                );
                let mut t = start;
                while t < next {
                    assert_eq!(z.local_day_number(t), day, "{name} at {t}");
                    t += 3 * HOUR;
                }
                assert_eq!(z.local_day_number(next - 1), day, "{name} day {day}");
                assert_eq!(z.local_day_number(start - 1), day - 1, "{name} day {day}");
            }
            // Local time only falls at transitions; the date must never.
            for year in 2026..=2028 {
                let events = z.rule.dst.map(|d| d.events(year, z.rule.std_offset));
                for (at, _) in events.into_iter().flatten() {
                    let at = at as u64 * 1_000;
                    let (before, after) = (z.local_day_number(at - 1), z.local_day_number(at));
                    assert!(after == before || after == before + 1, "{name} at {at}");
                }
            }
        }
    }

    #[test]
    fn day_boundaries_every_37_minutes_for_two_years() {
        let allowed = [
            23 * HOUR,
            23 * HOUR + 30 * MINUTE,
            DAY,
            DAY + 30 * MINUTE,
            25 * HOUR,
        ];
        for name in [
            "America/Los_Angeles",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "America/Havana",
            "America/Nuuk",
            "America/Santiago",
            "Pacific/Chatham",
            "UTC",
        ] {
            let z = zone(name);
            let mut prev_day = z.local_day_number(Y2026 - 1);
            let mut prev_next = z.next_day_start(Y2026 - 1);
            let mut t = Y2026;
            while t < Y2026 + 730 * DAY {
                let (start, next) = (z.day_start(t), z.next_day_start(t));
                assert!(start <= t && t < next, "{name} at {t}: {start} {next}");
                assert_eq!(z.day_start(next), next, "{name} at {t}");
                assert!(
                    allowed.contains(&(next - start)),
                    "{name} at {t}: {} ms",
                    next - start
                );
                let day = z.local_day_number(t);
                if day == prev_day {
                    assert_eq!(next, prev_next, "{name} at {t}");
                } else {
                    assert_eq!(day, prev_day + 1, "{name} at {t}");
                    assert_eq!(start, prev_next, "{name} at {t}");
                }
                assert_eq!(z.local_day_number(start - 1), day - 1, "{name} at {t}");
                assert_eq!(z.local_day_number(next), day + 1, "{name} at {t}");
                prev_next = next;
                prev_day = day;
                t += 37 * MINUTE;
            }
        }
    }

    /// 40 random (zone, instant) pairs in 2026-2028, from Python's zoneinfo
    /// (Africa/Casablanca and Africa/El_Aaiun excluded: their future is not
    /// their footer rule): (zone, instant ms, offset s, local day number,
    /// day start ms, next day start ms).
    const RANDOM: &[(&str, u64, i32, i64, u64, u64)] = &[
        (
            "America/Argentina/Buenos_Aires",
            1839700504021,
            -10800,
            21292,
            1839639600000,
            1839726000000,
        ),
        (
            "Europe/Rome",
            1819594865332,
            7200,
            21060,
            1819576800000,
            1819663200000,
        ),
        (
            "Europe/Nicosia",
            1859430329250,
            7200,
            21521,
            1859407200000,
            1859493600000,
        ),
        (
            "America/Goose_Bay",
            1853378390288,
            -10800,
            21451,
            1853377200000,
            1853463600000,
        ),
        (
            "Pacific/Gambier",
            1811106558458,
            -32400,
            20961,
            1811062800000,
            1811149200000,
        ),
        (
            "US/East-Indiana",
            1767287369709,
            -18000,
            20454,
            1767243600000,
            1767330000000,
        ),
        (
            "America/Indiana/Vevay",
            1804889629061,
            -18000,
            20889,
            1804827600000,
            1804914000000,
        ),
        (
            "Africa/Bangui",
            1816822548964,
            3600,
            21028,
            1816815600000,
            1816902000000,
        ),
        (
            "Pacific/Yap",
            1777253304239,
            36000,
            20570,
            1777212000000,
            1777298400000,
        ),
        (
            "Australia/Queensland",
            1817937428642,
            36000,
            21041,
            1817906400000,
            1817992800000,
        ),
        (
            "EET",
            1843401387624,
            10800,
            21335,
            1843333200000,
            1843419600000,
        ),
        (
            "HST",
            1769569288403,
            -36000,
            20480,
            1769508000000,
            1769594400000,
        ),
        (
            "Etc/GMT+11",
            1791786937057,
            -39600,
            20737,
            1791716400000,
            1791802800000,
        ),
        (
            "Etc/Greenwich",
            1827573352207,
            0,
            21152,
            1827532800000,
            1827619200000,
        ),
        (
            "Asia/Anadyr",
            1777264291483,
            43200,
            20570,
            1777204800000,
            1777291200000,
        ),
        (
            "Antarctica/Casey",
            1791266284768,
            28800,
            20732,
            1791216000000,
            1791302400000,
        ),
        (
            "Atlantic/Azores",
            1799893497395,
            -3600,
            20832,
            1799888400000,
            1799974800000,
        ),
        (
            "Africa/Tripoli",
            1799187987511,
            7200,
            20824,
            1799186400000,
            1799272800000,
        ),
        (
            "America/Creston",
            1823199278895,
            -25200,
            21101,
            1823151600000,
            1823238000000,
        ),
        (
            "America/Indiana/Petersburg",
            1781618434523,
            -14400,
            20620,
            1781582400000,
            1781668800000,
        ),
        (
            "Brazil/Acre",
            1808935375602,
            -18000,
            20936,
            1808888400000,
            1808974800000,
        ),
        (
            "Atlantic/Azores",
            1815225791976,
            0,
            21009,
            1815177600000,
            1815264000000,
        ),
        (
            "Africa/Cairo",
            1854731215981,
            10800,
            21466,
            1854651600000,
            1854738000000,
        ),
        (
            "Asia/Riyadh",
            1828588191289,
            10800,
            21164,
            1828558800000,
            1828645200000,
        ),
        (
            "Europe/Ulyanovsk",
            1803139008374,
            14400,
            20869,
            1803067200000,
            1803153600000,
        ),
        (
            "America/Porto_Acre",
            1791631645686,
            -18000,
            20736,
            1791608400000,
            1791694800000,
        ),
        (
            "America/La_Paz",
            1821245070194,
            -14400,
            21079,
            1821240000000,
            1821326400000,
        ),
        (
            "Africa/Dar_es_Salaam",
            1774035651231,
            10800,
            20532,
            1773954000000,
            1774040400000,
        ),
        (
            "Africa/Asmara",
            1792616132753,
            10800,
            20747,
            1792530000000,
            1792616400000,
        ),
        (
            "US/Mountain",
            1795911959775,
            -25200,
            20785,
            1795849200000,
            1795935600000,
        ),
        (
            "Asia/Chongqing",
            1815615664694,
            28800,
            21014,
            1815580800000,
            1815667200000,
        ),
        (
            "America/Fort_Nelson",
            1789136446669,
            -25200,
            20707,
            1789110000000,
            1789196400000,
        ),
        (
            "Pacific/Midway",
            1800971081743,
            -39600,
            20844,
            1800961200000,
            1801047600000,
        ),
        (
            "GMT+0",
            1781758886463,
            0,
            20622,
            1781740800000,
            1781827200000,
        ),
        (
            "America/Rio_Branco",
            1829721066827,
            -18000,
            21177,
            1829710800000,
            1829797200000,
        ),
        (
            "Asia/Istanbul",
            1783770917751,
            10800,
            20645,
            1783717200000,
            1783803600000,
        ),
        (
            "America/Manaus",
            1821233189993,
            -14400,
            21078,
            1821153600000,
            1821240000000,
        ),
        (
            "Europe/Tirane",
            1795022418637,
            3600,
            20775,
            1794956400000,
            1795042800000,
        ),
        (
            "Pacific/Yap",
            1795411769033,
            36000,
            20780,
            1795356000000,
            1795442400000,
        ),
        (
            "America/Phoenix",
            1841959120685,
            -25200,
            21318,
            1841900400000,
            1841986800000,
        ),
    ];

    #[test]
    fn random_instants_match_zoneinfo() {
        for &(name, t, offset, day, start, next) in RANDOM {
            let z = zone(name);
            assert_eq!(z.offset_seconds_at(t as i64), offset, "{name} at {t}");
            assert_eq!(z.local_day_number(t), day, "{name} at {t}");
            assert_eq!(z.day_start(t), start, "{name} at {t}");
            assert_eq!(z.next_day_start(t), next, "{name} at {t}");
            assert_eq!(z.start_of_local_day(day), start, "{name} at {t}");
        }
    }

    #[test]
    fn extremes_saturate_without_panicking() {
        let tokyo = zone("Asia/Tokyo");
        let la = zone("America/Los_Angeles");
        // 1970-01-01 began at 1969-12-31T15:00Z in Tokyo.
        assert_eq!(tokyo.local_day_number(0), 0);
        assert_eq!(tokyo.day_start(0), 0);
        assert_eq!(tokyo.next_day_start(0), 15 * HOUR);
        assert_eq!(la.local_day_number(0), -1);
        assert_eq!(la.day_start(0), 0);
        assert_eq!(la.next_day_start(0), 8 * HOUR);
        for z in [tokyo, la, TimeZone::UTC] {
            assert_eq!(z.start_of_local_day(i64::MIN), 0);
            assert_eq!(z.start_of_local_day(-1_000_000), 0);
            assert_eq!(z.start_of_local_day(i64::MAX), u64::MAX);
            let last = z.local_day_number(u64::MAX);
            assert!(last > 200_000_000_000);
            assert!(z.day_start(u64::MAX) > u64::MAX - 2 * DAY);
            assert_eq!(z.next_day_start(u64::MAX), u64::MAX);
            for t in [i64::MIN, -1, 0, i64::MAX] {
                let offset = z.offset_seconds_at(t);
                assert!(offset.abs() <= 14 * 3_600, "{offset}");
            }
        }
        // Pre-1970 instants use the current rule too (no history).
        assert_eq!(la.offset_seconds_at(-1_000), -8 * 3_600);
        assert_eq!(la.offset_seconds_at(-15_000_000_000), -7 * 3_600); // 1969-07-10
    }
}
