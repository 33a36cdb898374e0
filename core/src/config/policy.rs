//! Quota settings as people write them (key records, admin requests, the
//! config's `quota.defaults`) and deployment prices: the [`Policy`] and
//! [`Prices`] types, their field names and how they are parsed and shown.
//!
//! A key's [`Policy`] field that is unset falls back to the config default;
//! an unset default means unlimited. Money is written in USD and kept in
//! micro-USD integers. What the limits and prices *do* (the
//! [`crate::quota::Limits`] a policy becomes, the [`crate::quota::Cost`] of
//! a job) belongs to [`crate::quota`], which imports these settings.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::money::{micros_to_usd, usd_to_micros};
use crate::time::{duration_text, parse_duration};

/// Largest accepted `rpm` (keeps the quota's scaled bucket arithmetic in `u64`).
pub const MAX_RPM: u32 = 1_000_000;

/// Largest count accepted for a daily limit.
const MAX_DAILY: u64 = 1_000_000_000;

/// Per-key limits as stored (unset = the config default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u32>,
    /// Video jobs per local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub videos_per_day: Option<u64>,
    /// Seconds of video per local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_seconds_per_day: Option<u64>,
    /// Realtime sessions per local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_sessions_per_day: Option<u64>,
    /// Spend per budget period, micro-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget_micros: Option<u64>,
    /// Budget period, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration_ms: Option<u64>,
}

/// The field names a policy is written with (admin requests and config).
pub const POLICY_FIELDS: &[&str] = &[
    "rpm",
    "max_parallel_requests",
    "videos_per_day",
    "video_seconds_per_day",
    "realtime_sessions_per_day",
    "max_budget",
    "budget_duration",
];

/// Why a policy field was refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl Policy {
    /// Applies the policy fields present in `obj` (others are ignored):
    /// a value sets the field, `null` unsets it (back to the default).
    pub fn apply_fields(&mut self, obj: &Map<String, Value>) -> Result<(), PolicyError> {
        set_count(&mut self.rpm, obj, "rpm", u64::from(MAX_RPM))?;
        set_count(
            &mut self.max_parallel_requests,
            obj,
            "max_parallel_requests",
            1_000_000,
        )?;
        set_count(&mut self.videos_per_day, obj, "videos_per_day", MAX_DAILY)?;
        set_count(
            &mut self.video_seconds_per_day,
            obj,
            "video_seconds_per_day",
            MAX_DAILY,
        )?;
        set_count(
            &mut self.realtime_sessions_per_day,
            obj,
            "realtime_sessions_per_day",
            MAX_DAILY,
        )?;
        match obj.get("max_budget") {
            None => {}
            Some(Value::Null) => self.max_budget_micros = None,
            Some(v) => {
                self.max_budget_micros = Some(v.as_f64().and_then(usd_to_micros).ok_or_else(
                    || PolicyError {
                        field: "max_budget",
                        reason: String::from("must be a non-negative number of US dollars"),
                    },
                )?)
            }
        }
        match obj.get("budget_duration") {
            None => {}
            Some(Value::Null) => self.budget_duration_ms = None,
            Some(Value::String(s)) if parse_duration(s).is_some() => {
                self.budget_duration_ms = parse_duration(s);
            }
            Some(_) => {
                return Err(PolicyError {
                    field: "budget_duration",
                    reason: String::from(
                        "must be a duration such as \"1d\", \"30d\", \"12h\" or \"2w\"",
                    ),
                })
            }
        }
        Ok(())
    }

    /// This policy with unset fields taken from `defaults`.
    pub fn over(&self, defaults: &Policy) -> Policy {
        Policy {
            rpm: self.rpm.or(defaults.rpm),
            max_parallel_requests: self
                .max_parallel_requests
                .or(defaults.max_parallel_requests),
            videos_per_day: self.videos_per_day.or(defaults.videos_per_day),
            video_seconds_per_day: self
                .video_seconds_per_day
                .or(defaults.video_seconds_per_day),
            realtime_sessions_per_day: self
                .realtime_sessions_per_day
                .or(defaults.realtime_sessions_per_day),
            max_budget_micros: self.max_budget_micros.or(defaults.max_budget_micros),
            budget_duration_ms: self.budget_duration_ms.or(defaults.budget_duration_ms),
        }
    }

    /// The LiteLLM-style fields for `/key/info` (`null` = unlimited).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("rpm".into(), self.rpm.into());
        map.insert(
            "max_parallel_requests".into(),
            self.max_parallel_requests.into(),
        );
        map.insert("videos_per_day".into(), self.videos_per_day.into());
        map.insert(
            "video_seconds_per_day".into(),
            self.video_seconds_per_day.into(),
        );
        map.insert(
            "realtime_sessions_per_day".into(),
            self.realtime_sessions_per_day.into(),
        );
        map.insert(
            "max_budget".into(),
            self.max_budget_micros
                .map_or(Value::Null, |m| Value::String(micros_to_usd(m))),
        );
        map.insert(
            "budget_duration".into(),
            self.budget_duration_ms
                .map_or(Value::Null, |ms| Value::String(duration_text(ms))),
        );
        map
    }
}

fn set_count<T: TryFrom<u64>>(
    slot: &mut Option<T>,
    obj: &Map<String, Value>,
    field: &'static str,
    max: u64,
) -> Result<(), PolicyError> {
    match obj.get(field) {
        None => Ok(()),
        Some(Value::Null) => {
            *slot = None;
            Ok(())
        }
        Some(v) => {
            let n = v
                .as_u64()
                .filter(|n| *n <= max)
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| PolicyError {
                    field,
                    reason: format!("must be an integer in 0..={max} or null"),
                })?;
            *slot = Some(n);
            Ok(())
        }
    }
}

/// What a deployment charges, in micro-USD (unset = free).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prices {
    /// Per second of video at any resolution without its own price.
    pub video_per_second: Option<u64>,
    /// Per second of video by resolution label (`"720p"`, `"1080p"`, …).
    pub video_per_second_by_resolution: Vec<(String, u64)>,
    /// Per realtime session started.
    pub realtime_per_session: Option<u64>,
    /// Per started minute of a realtime session.
    pub realtime_per_minute: Option<u64>,
}

/// The field names of a deployment's `prices` table.
pub const PRICE_FIELDS: &[&str] = &[
    "video_per_second",
    "video_per_second_by_resolution",
    "realtime_per_session",
    "realtime_per_minute",
];

impl Prices {
    /// Parses a `prices` object (USD amounts); errors name the field.
    pub fn parse(obj: &Map<String, Value>) -> Result<Self, PolicyError> {
        if let Some(k) = obj.keys().find(|k| !PRICE_FIELDS.contains(&k.as_str())) {
            return Err(PolicyError {
                field: "prices",
                reason: format!(
                    "unknown field `{k}` (expected one of: {})",
                    PRICE_FIELDS.join(", ")
                ),
            });
        }
        let usd = |field: &'static str| -> Result<Option<u64>, PolicyError> {
            match obj.get(field) {
                None => Ok(None),
                Some(v) => {
                    v.as_f64()
                        .and_then(usd_to_micros)
                        .map(Some)
                        .ok_or_else(|| PolicyError {
                            field,
                            reason: String::from("must be a non-negative number of US dollars"),
                        })
                }
            }
        };
        let mut by_resolution = Vec::new();
        match obj.get("video_per_second_by_resolution") {
            None => {}
            Some(Value::Object(table)) => {
                for (label, price) in table {
                    let micros =
                        price
                            .as_f64()
                            .and_then(usd_to_micros)
                            .ok_or_else(|| PolicyError {
                                field: "video_per_second_by_resolution",
                                reason: format!(
                                    "{label:?} must be a non-negative number of US dollars"
                                ),
                            })?;
                    if resolution_height(label).is_none() {
                        return Err(PolicyError {
                            field: "video_per_second_by_resolution",
                            reason: format!(
                                "{label:?} is not a resolution label such as \"720p\" or \"1080p\""
                            ),
                        });
                    }
                    by_resolution.push((label.to_string(), micros));
                }
            }
            Some(_) => {
                return Err(PolicyError {
                    field: "video_per_second_by_resolution",
                    reason: String::from("must be a table of resolution label → USD per second"),
                })
            }
        }
        Ok(Self {
            video_per_second: usd("video_per_second")?,
            video_per_second_by_resolution: by_resolution,
            realtime_per_session: usd("realtime_per_session")?,
            realtime_per_minute: usd("realtime_per_minute")?,
        })
    }

    /// The price of `seconds` of video whose shorter side is `height`
    /// pixels (`None` when unknown): the resolution's own price (`"4k"` is
    /// 2160), else the flat one, else the dearest resolution listed (a
    /// resolution without a price is never free when others have one).
    pub fn video(&self, seconds: u64, height: Option<u32>) -> u64 {
        let per_second = height
            .and_then(|h| {
                self.video_per_second_by_resolution
                    .iter()
                    .find(|(label, _)| resolution_height(label) == Some(h))
                    .map(|(_, p)| *p)
            })
            .or(self.video_per_second)
            .or_else(|| {
                self.video_per_second_by_resolution
                    .iter()
                    .map(|(_, p)| *p)
                    .max()
            })
            .unwrap_or(0);
        per_second.saturating_mul(seconds)
    }
}

/// `"720p"` → 720; `"4k"` (Veo's name for 3840x2160) → 2160.
fn resolution_height(label: &str) -> Option<u32> {
    if label.eq_ignore_ascii_case("4k") {
        return Some(2160);
    }
    label
        .strip_suffix('p')
        .and_then(|n| n.parse().ok())
        .filter(|h| (144..=4320).contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fields_set_clear_and_reject() {
        let mut p = Policy::default();
        p.apply_fields(&obj(
            json!({"rpm": 10, "videos_per_day": 3, "max_budget": 2.5, "budget_duration": "30d"}),
        ))
        .unwrap();
        assert_eq!(p.rpm, Some(10));
        assert_eq!(p.videos_per_day, Some(3));
        assert_eq!(p.max_budget_micros, Some(2_500_000));
        assert_eq!(p.budget_duration_ms, Some(30 * 86_400_000));
        p.apply_fields(&obj(json!({"rpm": null}))).unwrap();
        assert_eq!(p.rpm, None);
        assert_eq!(p.videos_per_day, Some(3), "absent fields are left alone");
        let err = p.apply_fields(&obj(json!({"rpm": -1}))).unwrap_err();
        assert_eq!(err.field, "rpm");
        let err = p.apply_fields(&obj(json!({"rpm": "10"}))).unwrap_err();
        assert_eq!(err.field, "rpm");
        assert_eq!(
            p.apply_fields(&obj(json!({"max_budget": -2})))
                .unwrap_err()
                .field,
            "max_budget"
        );
        assert_eq!(
            p.apply_fields(&obj(json!({"budget_duration": "1 month"})))
                .unwrap_err()
                .field,
            "budget_duration"
        );
        assert_eq!(
            p.apply_fields(&obj(json!({"rpm": 2_000_000})))
                .unwrap_err()
                .field,
            "rpm"
        );
    }

    #[test]
    fn json_view_uses_people_units() {
        let p = Policy {
            max_budget_micros: Some(2_500_000),
            budget_duration_ms: Some(30 * 86_400_000),
            ..Policy::default()
        };
        let j = p.to_json();
        assert_eq!(j["max_budget"], "2.50");
        assert_eq!(j["budget_duration"], "30d");
        assert_eq!(j["rpm"], Value::Null);
    }

    #[test]
    fn prices_by_resolution_then_flat() {
        let prices = Prices::parse(&obj(json!({
            "video_per_second": 0.5,
            "video_per_second_by_resolution": {"720p": 0.4, "1080p": 0.6},
            "realtime_per_session": 0.01
        })))
        .unwrap();
        assert_eq!(prices.video(8, Some(720)), 3_200_000);
        assert_eq!(prices.video(8, Some(1080)), 4_800_000);
        assert_eq!(prices.video(8, Some(480)), 4_000_000);
        assert_eq!(prices.video(8, None), 4_000_000);
        assert_eq!(Prices::default().video(8, Some(720)), 0);
        assert!(Prices::parse(&obj(json!({"video_per_second_by_resolution": {"hd": 1}}))).is_err());
        assert!(Prices::parse(&obj(json!({"per_token": 1}))).is_err());
        assert!(Prices::parse(&obj(json!({"video_per_second": "1"}))).is_err());
    }

    #[test]
    fn four_k_has_its_own_price_and_is_never_free() {
        let prices = Prices::parse(&obj(json!({
            "video_per_second_by_resolution": {"720p": 0.4, "1080p": 0.6, "4k": 0.8}
        })))
        .unwrap();
        // A 3840x2160 job's short side is 2160: the "4k" price.
        assert_eq!(prices.video(8, Some(2160)), 6_400_000);
        // Without its own price or a flat one, the dearest listed.
        let prices = Prices::parse(&obj(json!({
            "video_per_second_by_resolution": {"720p": 0.4, "1080p": 0.6}
        })))
        .unwrap();
        assert_eq!(prices.video(8, Some(2160)), 4_800_000);
    }
}
