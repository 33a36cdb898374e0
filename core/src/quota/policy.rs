//! What quota settings do: the [`Limits`] a key's [`Policy`] enforces and
//! the [`Cost`] of a job under a deployment's [`Prices`]. The settings
//! types themselves are plain config ([`crate::config::policy`]).

use super::{Cost, Limits};
use crate::config::policy::{Policy, Prices};

/// The "period" of a budget without a duration: longer than any key lives.
const LIFETIME_MS: u64 = 1000 * 365 * 86_400_000;

impl Policy {
    /// The limits to enforce; budget periods count from `budget_anchor_ms`.
    /// A budget without a duration is a lifetime budget (one period).
    pub fn limits(&self, budget_anchor_ms: u64) -> Limits {
        Limits {
            rpm: self.rpm,
            max_parallel_requests: self.max_parallel_requests,
            videos_per_day: self.videos_per_day,
            video_seconds_per_day: self.video_seconds_per_day,
            realtime_sessions_per_day: self.realtime_sessions_per_day,
            max_budget_micros: self.max_budget_micros,
            budget_period_ms: self
                .max_budget_micros
                .map(|_| self.budget_duration_ms.unwrap_or(LIFETIME_MS)),
            budget_anchor_ms,
        }
    }
}

impl Prices {
    /// The cost of one video job: counts and price.
    pub fn video_cost(&self, seconds: u64, height: Option<u32>) -> Cost {
        Cost {
            request: true,
            slot: true,
            videos: 1,
            video_seconds: seconds,
            realtime_sessions: 0,
            spend_micros: self.video(seconds, height),
        }
    }

    /// The cost of starting one realtime session (minutes are charged as
    /// they are used, by the realtime routes).
    pub fn realtime_session_cost(&self) -> Cost {
        Cost {
            request: true,
            slot: true,
            videos: 0,
            video_seconds: 0,
            realtime_sessions: 1,
            spend_micros: self.realtime_per_session.unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use serde_json::{json, Map, Value};

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_fields_override_defaults() {
        let defaults = Policy {
            rpm: Some(60),
            videos_per_day: Some(10),
            ..Policy::default()
        };
        let key = Policy {
            videos_per_day: Some(2),
            ..Policy::default()
        };
        let limits = key.over(&defaults).limits(0);
        assert_eq!(limits.rpm, Some(60));
        assert_eq!(limits.videos_per_day, Some(2));
        assert_eq!(limits.max_budget_micros, None);
        assert_eq!(limits.budget_period_ms, None);
    }

    #[test]
    fn a_budget_without_duration_never_resets() {
        let p = Policy {
            max_budget_micros: Some(5),
            ..Policy::default()
        };
        assert_eq!(p.limits(7).budget_period_ms, Some(LIFETIME_MS));
    }

    #[test]
    fn prices_give_job_costs() {
        let prices = Prices::parse(&obj(json!({
            "video_per_second": 0.5,
            "video_per_second_by_resolution": {"720p": 0.4, "1080p": 0.6},
            "realtime_per_session": 0.01
        })))
        .unwrap();
        let cost = prices.video_cost(8, Some(720));
        assert_eq!(
            (cost.videos, cost.video_seconds, cost.spend_micros),
            (1, 8, 3_200_000)
        );
        assert_eq!(prices.realtime_session_cost().spend_micros, 10_000);
    }
}
