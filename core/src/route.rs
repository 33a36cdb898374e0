//! Routing: which deployment of a model group serves a request.
//!
//! New work is spread by weight using a random number the host supplies.
//! Follow-up calls never route: the deployment sealed into the id (see
//! [`crate::seal`]) always wins, because the upstream state lives there.

use crate::config::{Deployment, ModelGroup};

/// Picks a deployment of `group` with probability proportional to its
/// weight, using `random` (any uniformly distributed `u32`).
pub fn pick_weighted(group: &ModelGroup, random: u32) -> Option<&Deployment> {
    pick_weighted_where(group, random, |_| true)
}

/// Like [`pick_weighted`], among the deployments `eligible` accepts.
pub fn pick_weighted_where(
    group: &ModelGroup,
    random: u32,
    eligible: impl Fn(&Deployment) -> bool,
) -> Option<&Deployment> {
    let candidates = || group.deployments.iter().filter(|d| eligible(d));
    let total: u64 = candidates().map(|d| u64::from(d.weight)).sum();
    if total == 0 {
        return candidates().next();
    }
    let mut point = (u64::from(random) * total) >> 32;
    for dep in candidates() {
        let w = u64::from(dep.weight);
        if point < w {
            return Some(dep);
        }
        point -= w;
    }
    candidates().last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn spreads_by_weight() {
        let cfg = Config::parse(
            r#"{"model_groups":[{"name":"g","deployments":[
              {"id":"a","provider":"gemini","model":"m","credential":"K","weight":1},
              {"id":"b","provider":"gemini","model":"m","credential":"K","weight":3}]}]}"#,
        )
        .unwrap();
        let group = cfg.group("g").unwrap();
        let mut counts = [0u32; 2];
        for i in 0..4096u32 {
            let dep = pick_weighted(group, i.wrapping_mul(1_048_573)).unwrap();
            counts[usize::from(dep.id == "b")] += 1;
        }
        assert_eq!(counts[0] + counts[1], 4096);
        assert!((900..1150).contains(&counts[0]), "{counts:?}");
        assert_eq!(pick_weighted(group, 0).unwrap().id, "a");
        assert_eq!(pick_weighted(group, u32::MAX).unwrap().id, "b");
    }
}
