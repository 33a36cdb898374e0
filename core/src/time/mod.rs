//! Calendar arithmetic and the time formats the gateway reads and writes.
//!
//! This module owns the proleptic Gregorian calendar (one
//! [`days_from_civil`] and one [`civil_from_days`] for the whole crate),
//! RFC 3339 output ([`rfc3339`]), HTTP-date input ([`parse_http_date`],
//! for `Retry-After`), LiteLLM-style durations ([`parse_duration`],
//! [`duration_text`]) and,
//! in [`tz`], local days in IANA time zones. It is part of the base layer:
//! it imports nothing from the rest of the crate, and reads no clock.

pub mod tz;
mod zones;

use alloc::format;
use alloc::string::String;

/// Whether `year` is a leap year of the proleptic Gregorian calendar.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1–12) of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, `month` 1–12 and
/// `day` 1–31 (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Formats unix milliseconds as RFC 3339 UTC (`2026-11-22T03:04:05Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses a LiteLLM-style duration into milliseconds: `30s`, `15m`, `12h`,
/// `30d`, `2w` (more than zero, at most 100 years).
pub fn parse_duration(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit_ms: u64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
        .filter(|ms| *ms > 0 && *ms <= 100 * 365 * 86_400_000)
}

/// `2_592_000_000` → `"30d"`: the largest whole unit of days, hours or
/// minutes (budgets are written in days, so weeks stay days).
pub fn duration_text(ms: u64) -> String {
    for (unit, len) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms >= len && ms % len == 0 {
            return format!("{}{unit}", ms / len);
        }
    }
    format!("{}s", ms.div_ceil(1_000))
}

// ---------------------------------------------------------------------------
// HTTP-date (RFC 7231 §7.1.1.1)

/// Parses an HTTP-date into Unix milliseconds (negative before 1970).
/// Accepts the preferred IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and,
/// as RFC 7231 asks of recipients, the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37
/// 1994`) forms. The weekday name is checked for spelling, not against the
/// date.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let mut tokens = s.split_ascii_whitespace();
    let first = tokens.next()?;
    let (year, month, day, time) = if let Some(wkday) = first.strip_suffix(',') {
        let second = tokens.next()?;
        if second.contains('-') {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            if !is_weekday(wkday, true) {
                return None;
            }
            let mut parts = second.split('-');
            let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || y.len() != 2 {
                return None;
            }
            let yy = parse_digits(y)?;
            // Two-digit years: RFC 7231 says a year more than 50 years in the
            // future is in the past; with no clock here, 70..99 => 19xx.
            let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
            (year, month_number(m)?, parse_digits(d)?, tokens.next()?)
        } else {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            if !is_weekday(wkday, false) {
                return None;
            }
            let month = month_number(tokens.next()?)?;
            let year = tokens.next()?;
            if year.len() != 4 {
                return None;
            }
            (
                parse_digits(year)?,
                month,
                parse_digits(second)?,
                tokens.next()?,
            )
        }
    } else {
        // asctime: Sun Nov  6 08:49:37 1994
        if !is_weekday(first, false) {
            return None;
        }
        let month = month_number(tokens.next()?)?;
        let day = parse_digits(tokens.next()?)?;
        let time = tokens.next()?;
        let year = tokens.next()?;
        if year.len() != 4 {
            return None;
        }
        (parse_digits(year)?, month, day, time)
    };
    let zone_ok = match tokens.next() {
        Some(z) => z.eq_ignore_ascii_case("GMT") || z.eq_ignore_ascii_case("UTC"),
        None => !first.ends_with(','), // only asctime has no zone
    };
    if !zone_ok || tokens.next().is_some() {
        return None;
    }
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (parse_digits(h)?, parse_digits(m)?, parse_digits(sec)?);
    if h > 23 || m > 59 || sec > 60 || day == 0 || day > days_in_month(i64::from(year), month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec);
    Some(secs * 1000)
}

/// At most four ASCII digits as a number.
fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

fn is_weekday(s: &str, long: bool) -> bool {
    const SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const LONG: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let names: &[&str] = if long { &LONG } else { &SHORT };
    names.iter().any(|n| n.eq_ignore_ascii_case(s))
}

fn month_number(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let i = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s))?;
    u32::try_from(i + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_written() {
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("2w"), Some(1_209_600_000));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(duration_text(12 * 3_600_000), "12h");
        assert_eq!(duration_text(14 * 86_400_000), "14d");
        assert_eq!(duration_text(90_000), "90s");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-719_468, -1, 0, 1, 11_016, 18_321, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn imf_fixdate() {
        // RFC 7231's example: 784111777 s since the epoch.
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT"),
            Some(-1000)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400_000)
        );
        assert_eq!(
            parse_http_date("  sun, 06 nov 1994 08:49:37 gmt  "),
            Some(784_111_777_000)
        );
    }

    #[test]
    fn obsolete_date_forms() {
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("Monday, 01-Jan-30 00:00:00 GMT"),
            Some(1_893_456_000_000)
        );
    }

    #[test]
    fn bad_dates() {
        for s in [
            "",
            "Sun,",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 29 Feb 2100 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994 GMT x",
            "Sun, 06 Nov 1994 08:4a:37 GMT",
            "2024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_http_date(s), None, "{s:?}");
        }
    }
}
