//! Per-key quota in memory: core's [`Ledger`] and its holds, behind one
//! mutex (the Worker keeps the same state in one Durable Object per key).

use std::collections::HashMap;
use std::sync::Mutex;

use reelay_core::config::Config;
use reelay_core::errors::ClientError;
use reelay_core::keys::KeyRecord;
use reelay_core::quota::{Clock, Cost, Decision, Hold, Ledger, Settlement};

/// One key's quota state.
#[derive(Debug, Clone, Default)]
pub struct KeyQuota {
    /// Counters, slots and lifetime totals.
    pub ledger: Ledger,
    /// Every hold reserved, by request id.
    pub holds: HashMap<String, Hold>,
}

#[derive(Default)]
pub(crate) struct Quota(Mutex<HashMap<String, KeyQuota>>);

impl Quota {
    /// Runs `f` on `record`'s state with its limits and the clock of `now_ms`.
    fn with<T>(
        &self,
        config: &Config,
        record: &KeyRecord,
        now_ms: u64,
        f: impl FnOnce(&mut KeyQuota, &reelay_core::quota::Limits, &Clock) -> T,
    ) -> T {
        let limits = record.limits(&config.quota.defaults);
        let clock = Clock {
            tz: config.quota.time_zone,
            now_ms,
        };
        let mut keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(
            keys.entry(record.token.clone()).or_default(),
            &limits,
            &clock,
        )
    }

    /// Reserves `cost` under `hold_id`, all or nothing.
    pub(crate) fn admit(
        &self,
        config: &Config,
        record: &KeyRecord,
        hold_id: &str,
        cost: Cost,
        now_ms: u64,
    ) -> Result<(), ClientError> {
        self.with(config, record, now_ms, |key, limits, clock| {
            let existing = key.holds.get(hold_id);
            let (decision, hold) = key.ledger.reserve(hold_id, existing, &cost, limits, clock);
            if let Some(hold) = hold {
                key.holds.insert(hold.id.clone(), hold);
            }
            match decision {
                Decision::Allowed(_) => Ok(()),
                Decision::Denied(denial, _) => Err(denial.to_client()),
            }
        })
    }

    /// Settles hold `hold_id` (nothing happens if no hold was made).
    pub(crate) fn settle(
        &self,
        config: &Config,
        record: &KeyRecord,
        hold_id: &str,
        settlement: Settlement,
        now_ms: u64,
    ) {
        self.with(config, record, now_ms, |key, limits, clock| {
            let Some(hold) = key.holds.get_mut(hold_id) else {
                return;
            };
            key.ledger.settle(hold, settlement, limits, clock);
        });
    }

    pub(crate) fn snapshot(&self, token: &str) -> Option<KeyQuota> {
        let keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(token).cloned()
    }
}
