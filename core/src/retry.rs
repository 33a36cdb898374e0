//! Retries, fallbacks and cooldowns: after an upstream failure, what to try
//! next — another deployment, the same one after a wait, or nothing.
//!
//! The decision follows the failure's classification ([`crate::errors`]):
//! - **Request-scoped** failures (bad request, content policy, not found)
//!   are returned at once: no deployment would answer differently.
//! - **Retryable** failures (rate limited, upstream unavailable, timeout,
//!   network) move to another healthy deployment of the group without
//!   waiting; only when none is left is the same deployment tried again,
//!   after the upstream's `Retry-After` / `retry-after-ms` / `RetryInfo`
//!   (if it is within [`RetrySettings::max_wait_ms`]) or an exponential
//!   backoff with jitter.
//! - **Deployment-scoped, not retryable** failures (the deployment's own
//!   credential rejected, its provider quota exhausted) are never sent to
//!   that deployment again, but another deployment — another key, another
//!   account — may serve the request, so the plan moves on to one.
//! - When a group has no deployment left, its `fallbacks` groups follow in
//!   order.
//! - **Retired** models (the provider says the model, or the API serving
//!   it, is gone: [`ErrorKind::Retired`]) are never retried on that
//!   deployment; it is left out of new work for
//!   [`RetrySettings::retired_cooldown_ms`] (default a day; a success of a
//!   pinned follow-up there does not clear it), and the plan moves to
//!   another deployment or a fallback group. When nothing is left the
//!   client gets [`ClientError::model_retired`] naming the model it asked
//!   for and the group's configured `successor`; while every deployment is
//!   marked retired, new requests get that answer without an upstream call.
//!
//! A failed deployment is **cooled down** (skipped by new requests) for the
//! upstream's retry delay or [`RetrySettings::cooldown_ms`]; the host keeps
//! [`Cooldowns`] per isolate, so each isolate learns on its own.
//!
//! **Non-idempotent calls** (a video submit, a Responses `POST`) are resent
//! only when the upstream answered with an error status — proof it did not
//! accept the work. A timeout or a dropped connection may have come after
//! the upstream accepted it, so those are returned to the client, never
//! resent: a duplicate job costs money and cannot be detected afterwards.
//!
//! Every plan is bounded by attempts and by a deadline.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::{Deployment, ModelGroup, RetrySettings};
use crate::encoding::{hex, sha256};
use crate::errors::{ClientError, ErrorCode, ErrorKind, Retry, Scope, UpstreamError};
use crate::route::pick_weighted_where;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Reads and deletes: resending is harmless.
    Always,
    /// Creates: only if the upstream answered with an error status.
    OnlyIfRejected,
}

/// Deployments to skip until a time (per isolate, host-held).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cooldowns {
    until: Vec<Cooling>,
}

/// One deployment left out of new work.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cooling {
    id: String,
    until: u64,
    /// Its provider said the model is retired.
    retired: bool,
}

impl Cooldowns {
    fn entry(&self, id: &str, now_ms: u64) -> Option<&Cooling> {
        self.until.iter().find(|c| c.id == id && c.until > now_ms)
    }

    /// When `id` may be used again, if it is cooling down now.
    pub fn cooling_until(&self, id: &str, now_ms: u64) -> Option<u64> {
        self.entry(id, now_ms).map(|c| c.until)
    }

    /// Whether `id` is left out because its provider retired its model.
    pub fn is_retired(&self, id: &str, now_ms: u64) -> bool {
        self.entry(id, now_ms).is_some_and(|c| c.retired)
    }

    /// Notes a failure of `id`: request-scoped failures say nothing about
    /// the deployment; a retirement leaves it out for
    /// [`RetrySettings::retired_cooldown_ms`]; others cool it down.
    pub fn record_failure(
        &mut self,
        id: &str,
        err: &UpstreamError,
        settings: &RetrySettings,
        now_ms: u64,
    ) {
        if err.scope == Scope::Request {
            return;
        }
        let retired = err.kind == ErrorKind::Retired;
        let ms = match err.retry {
            _ if retired => settings.retired_cooldown_ms,
            Retry::AfterMillis(ms) => ms.max(1_000),
            _ => settings.cooldown_ms,
        };
        let until = now_ms.saturating_add(ms);
        match self.until.iter_mut().find(|c| c.id == id) {
            Some(entry) => {
                entry.retired = retired || (entry.retired && entry.until > now_ms);
                entry.until = entry.until.max(until);
            }
            None => self.until.push(Cooling {
                id: String::from(id),
                until,
                retired,
            }),
        }
    }

    /// Notes a success of `id`: it is healthy again — unless its model is
    /// marked retired (a pinned poll of an older job may still succeed
    /// there; new work may not).
    pub fn record_success(&mut self, id: &str) {
        self.until.retain(|c| c.id != id || c.retired);
    }

    /// Drops entries that have expired (keeps the list short).
    pub fn prune(&mut self, now_ms: u64) {
        self.until.retain(|c| c.until > now_ms);
    }
}

/// One upstream call to make.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'c> {
    /// Where.
    pub deployment: &'c Deployment,
    /// The group it serves (the requested one or a fallback).
    pub group: &'c ModelGroup,
    /// How long to wait before sending.
    pub wait_ms: u64,
}

/// The attempts of one client request.
#[derive(Debug, Clone)]
pub struct RoutePlan<'c> {
    groups: Vec<&'c ModelGroup>,
    pinned: bool,
    /// `first` found nothing but deployments marked retired.
    all_retired: bool,
    tried: Vec<&'c str>,
    attempts: u32,
    started_ms: u64,
    settings: RetrySettings,
    resend: Resend,
}

impl<'c> RoutePlan<'c> {
    /// New work for `groups` (the requested group, then its fallbacks the
    /// caller may use), spread by weight.
    pub fn new(
        groups: Vec<&'c ModelGroup>,
        settings: RetrySettings,
        resend: Resend,
        started_ms: u64,
    ) -> Self {
        Self {
            groups,
            pinned: false,
            all_retired: false,
            tried: Vec::new(),
            attempts: 0,
            started_ms,
            settings,
            resend,
        }
    }

    /// Work that must run on one deployment (its state lives there): only
    /// that deployment is ever tried, waiting between attempts.
    pub fn pinned(
        deployment: &'c Deployment,
        group: &'c ModelGroup,
        settings: RetrySettings,
        resend: Resend,
        started_ms: u64,
    ) -> Self {
        let mut plan = Self::new(alloc::vec![group], settings, resend, started_ms);
        plan.pinned = true;
        plan.tried.push(&deployment.id);
        plan
    }

    /// Upstream calls started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The first attempt: a healthy deployment of the requested group by
    /// weight, else of the first fallback group with one; if every
    /// deployment is cooling down, the requested group's that recovers first
    /// (else a fallback group's). Deployments marked retired are never
    /// picked: with nothing else left this is `None`, and
    /// [`RoutePlan::nothing_to_try`] says why.
    pub fn first(
        &mut self,
        cooldowns: &Cooldowns,
        now_ms: u64,
        random: u32,
    ) -> Option<Attempt<'c>> {
        let requested = *self.groups.first()?;
        if self.pinned {
            let id = *self.tried.first()?;
            let deployment = requested.deployments.iter().find(|d| d.id == id)?;
            return self.start(deployment, requested, 0);
        }
        for group in self.groups.clone() {
            if let Some(deployment) = pick_healthy(group, &[], cooldowns, now_ms, random) {
                return self.start(deployment, group, 0);
            }
        }
        for group in self.groups.clone() {
            let recovering_first = group
                .deployments
                .iter()
                .filter(|d| !cooldowns.is_retired(&d.id, now_ms))
                .min_by_key(|d| cooldowns.cooling_until(&d.id, now_ms).unwrap_or(0));
            if let Some(deployment) = recovering_first {
                return self.start(deployment, group, 0);
            }
        }
        self.all_retired = true;
        None
    }

    /// The client's error when [`RoutePlan::first`] found nothing: the
    /// requested model's retirement if every deployment left is marked
    /// retired, else `model_not_found`.
    pub fn nothing_to_try(&self) -> ClientError {
        match self.groups.first() {
            Some(requested) if self.all_retired => {
                ClientError::model_retired(&requested.name, requested.successor.as_deref())
            }
            _ => ClientError::from_code(ErrorCode::ModelNotFound),
        }
    }

    /// The client's error when `err`, answered by a deployment of `group`,
    /// ends the plan: a retirement names that group (the model the client
    /// asked for, or the fallback that was tried last) and its successor;
    /// anything else is [`UpstreamError::to_client`].
    pub fn final_error(&self, group: &ModelGroup, err: &UpstreamError) -> ClientError {
        if err.kind != ErrorKind::Retired {
            return err.to_client();
        }
        let mut client = ClientError::model_retired(&group.name, group.successor.as_deref());
        match self.groups.first() {
            Some(requested) if requested.name != group.name => {
                client.message = format!(
                    "{} (it was tried as a fallback for {:?})",
                    client.message, requested.name
                );
            }
            _ => {}
        }
        client
    }

    fn start(
        &mut self,
        deployment: &'c Deployment,
        group: &'c ModelGroup,
        wait_ms: u64,
    ) -> Option<Attempt<'c>> {
        self.attempts += 1;
        if !self.tried.contains(&deployment.id.as_str()) {
            self.tried.push(&deployment.id);
        }
        Some(Attempt {
            deployment,
            group,
            wait_ms,
        })
    }

    /// What to do after `failed` answered `err`. `answered` is whether the
    /// upstream sent an HTTP response (false for timeouts and network
    /// failures, after which a create may already have been accepted).
    pub fn next(
        &mut self,
        failed: &'c Deployment,
        err: &UpstreamError,
        answered: bool,
        cooldowns: &mut Cooldowns,
        now_ms: u64,
        random: u32,
    ) -> Option<Attempt<'c>> {
        cooldowns.record_failure(&failed.id, err, &self.settings, now_ms);
        if self.attempts >= self.settings.max_attempts
            || err.scope == Scope::Request
            || (self.resend == Resend::OnlyIfRejected && !answered)
        {
            return None;
        }
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed >= self.settings.deadline_ms {
            return None;
        }
        // Prefer another healthy deployment over waiting: the requested
        // group first, then its fallbacks in order.
        if !self.pinned {
            for group in self.groups.clone() {
                if let Some(dep) = pick_healthy(group, &self.tried, cooldowns, now_ms, random) {
                    return self.start(dep, group, 0);
                }
            }
        }
        // Only the same deployment is left: worth it only if waiting helps.
        let wait_ms = match err.retry {
            Retry::Never => return None,
            Retry::AfterMillis(ms) if ms > self.settings.max_wait_ms => return None,
            Retry::AfterMillis(ms) => ms,
            Retry::Backoff => backoff(&self.settings, self.attempts, random),
        };
        if elapsed.saturating_add(wait_ms) >= self.settings.deadline_ms {
            return None;
        }
        let group = self
            .groups
            .iter()
            .copied()
            .find(|g| g.deployments.iter().any(|d| d.id == failed.id))?;
        self.start(failed, group, wait_ms)
    }
}

/// A deployment of `group` not yet tried and not cooling down, by weight.
fn pick_healthy<'c>(
    group: &'c ModelGroup,
    tried: &[&str],
    cooldowns: &Cooldowns,
    now_ms: u64,
    random: u32,
) -> Option<&'c Deployment> {
    pick_weighted_where(group, random, |d| {
        !tried.contains(&d.id.as_str()) && cooldowns.cooling_until(&d.id, now_ms).is_none()
    })
}

/// `base × 2^(attempt−1)` plus up to one `base` of jitter, capped.
fn backoff(settings: &RetrySettings, attempt: u32, random: u32) -> u64 {
    let exp = settings
        .backoff_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    let jitter = if settings.backoff_base_ms == 0 {
        0
    } else {
        u64::from(random) % settings.backoff_base_ms
    };
    exp.saturating_add(jitter).min(settings.backoff_max_ms)
}

/// The opaque, stable tag of a deployment for the `x-reelay-deployment`
/// header: says which deployment served without naming it.
pub fn deployment_tag(id: &str) -> String {
    let digest = sha256(format!("reelay/deployment/v1:{id}").as_bytes());
    hex(&digest[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::errors::{classify_http, classify_transport, Transport};

    fn config() -> Config {
        Config::parse(
            r#"{"model_groups":[
              {"name":"g","fallbacks":["f"],"deployments":[
                {"id":"a","provider":"openai","model":"m","credential":"K"},
                {"id":"b","provider":"openai","model":"m","credential":"K2"}]},
              {"name":"f","deployments":[{"id":"c","provider":"openai","model":"m2","credential":"K"}]}]}"#,
        )
        .unwrap()
    }

    fn rate_limited(after_ms: Option<u64>) -> UpstreamError {
        let ms = after_ms.map(|m| alloc::format!("{m}"));
        let headers: Vec<(&str, &str)> =
            ms.iter().map(|m| ("retry-after-ms", m.as_str())).collect();
        classify_http(
            429,
            &headers,
            br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            0,
        )
    }

    fn unavailable() -> UpstreamError {
        classify_http(
            503,
            &[],
            br#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#,
            0,
        )
    }

    fn bad_request() -> UpstreamError {
        classify_http(400, &[], br#"{"error":{"message":"bad","type":"invalid_request_error","param":"input","code":null}}"#, 0)
    }

    fn quota() -> UpstreamError {
        classify_http(
            429,
            &[],
            br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            0,
        )
    }

    /// Gemini's answer for a model it shut down.
    fn retired() -> UpstreamError {
        classify_http(
            404,
            &[],
            br#"{"error":{"code":404,"message":"This model models/veo-3.0-generate-preview is no longer available. Please use a newer model.","status":"NOT_FOUND"}}"#,
            0,
        )
    }

    fn plan<'c>(config: &'c Config, resend: Resend) -> RoutePlan<'c> {
        let groups = alloc::vec![config.group("g").unwrap(), config.group("f").unwrap()];
        RoutePlan::new(groups, RetrySettings::default(), resend, 1_000)
    }

    #[test]
    fn a_retryable_failure_moves_to_another_deployment_without_waiting() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        let mut plan = plan(&config, Resend::Always);
        let first = plan.first(&cooldowns, 1_000, 0).unwrap();
        assert_eq!(first.deployment.id, "a");
        let next = plan
            .next(
                first.deployment,
                &rate_limited(Some(2_000)),
                true,
                &mut cooldowns,
                1_100,
                0,
            )
            .unwrap();
        assert_eq!((next.deployment.id.as_str(), next.wait_ms), ("b", 0));
        assert_eq!(cooldowns.cooling_until("a", 1_100), Some(3_100));
        // New requests skip the cooling deployment.
        let mut other = self::plan(&config, Resend::Always);
        assert_eq!(
            other.first(&cooldowns, 1_200, 0).unwrap().deployment.id,
            "b"
        );
        assert_eq!(plan.attempts(), 2);
    }

    #[test]
    fn fallback_groups_follow_the_requested_group() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        let mut plan = plan(&config, Resend::Always);
        let a = plan.first(&cooldowns, 1_000, 0).unwrap();
        let b = plan
            .next(a.deployment, &unavailable(), true, &mut cooldowns, 1_000, 0)
            .unwrap();
        let c = plan
            .next(b.deployment, &unavailable(), true, &mut cooldowns, 1_000, 0)
            .unwrap();
        assert_eq!(
            (c.deployment.id.as_str(), c.group.name.as_str()),
            ("c", "f")
        );
        assert!(
            plan.next(c.deployment, &unavailable(), true, &mut cooldowns, 1_000, 0)
                .is_none(),
            "three attempts"
        );
    }

    #[test]
    fn new_work_starts_on_a_healthy_fallback_while_the_group_cools_down() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        for id in ["a", "b"] {
            cooldowns.record_failure(id, &unavailable(), &RetrySettings::default(), 0);
        }
        let mut plan = plan(&config, Resend::Always);
        let first = plan.first(&cooldowns, 10, 0).unwrap();
        assert_eq!(
            (first.deployment.id.as_str(), first.group.name.as_str()),
            ("c", "f")
        );
    }

    #[test]
    fn request_faults_are_never_retried() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        let mut plan = plan(&config, Resend::Always);
        let a = plan.first(&cooldowns, 1_000, 0).unwrap();
        assert!(plan
            .next(a.deployment, &bad_request(), true, &mut cooldowns, 1_000, 0)
            .is_none());
        assert_eq!(
            cooldowns.cooling_until("a", 1_000),
            None,
            "a bad request says nothing about the deployment"
        );
    }

    #[test]
    fn an_exhausted_deployment_is_left_for_another_but_never_retried() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        let mut plan = RoutePlan::new(
            alloc::vec![config.group("g").unwrap()],
            RetrySettings::default(),
            Resend::Always,
            0,
        );
        let a = plan.first(&cooldowns, 0, 0).unwrap();
        let b = plan
            .next(a.deployment, &quota(), true, &mut cooldowns, 0, 0)
            .unwrap();
        assert_eq!(b.deployment.id, "b");
        assert!(
            plan.next(b.deployment, &quota(), true, &mut cooldowns, 0, 0)
                .is_none(),
            "no waiting out a spent quota"
        );
    }

    #[test]
    fn the_same_deployment_is_retried_after_the_upstream_delay_or_backoff() {
        let config = config();
        let group = config.group("g").unwrap();
        let a = &group.deployments[0];
        let mut cooldowns = Cooldowns::default();
        let mut plan = RoutePlan::pinned(a, group, RetrySettings::default(), Resend::Always, 0);
        assert_eq!(plan.first(&cooldowns, 0, 7).unwrap().deployment.id, "a");
        let again = plan
            .next(a, &rate_limited(Some(1_500)), true, &mut cooldowns, 10, 7)
            .unwrap();
        assert_eq!((again.deployment.id.as_str(), again.wait_ms), ("a", 1_500));
        let again = plan
            .next(
                a,
                &classify_transport(Transport::Network),
                false,
                &mut cooldowns,
                20,
                7,
            )
            .unwrap();
        // After the second failure: 250 × 2 + jitter (7 % 250).
        assert_eq!(again.wait_ms, 507);
        assert!(plan
            .next(a, &unavailable(), true, &mut cooldowns, 30, 7)
            .is_none());
    }

    #[test]
    fn long_upstream_delays_and_the_deadline_end_the_plan() {
        let config = config();
        let group = config.group("g").unwrap();
        let a = &group.deployments[0];
        let mut cooldowns = Cooldowns::default();
        let mut plan = RoutePlan::pinned(a, group, RetrySettings::default(), Resend::Always, 0);
        plan.first(&cooldowns, 0, 0);
        assert!(plan
            .next(a, &rate_limited(Some(30_000)), true, &mut cooldowns, 0, 0)
            .is_none());
        let mut plan = RoutePlan::pinned(a, group, RetrySettings::default(), Resend::Always, 0);
        plan.first(&cooldowns, 0, 0);
        assert!(plan
            .next(
                a,
                &rate_limited(Some(2_000)),
                true,
                &mut cooldowns,
                59_000,
                0
            )
            .is_none());
    }

    #[test]
    fn creates_are_not_resent_after_a_timeout() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        let mut plan = plan(&config, Resend::OnlyIfRejected);
        let a = plan.first(&cooldowns, 0, 0).unwrap();
        assert!(plan
            .next(
                a.deployment,
                &classify_transport(Transport::Timeout),
                false,
                &mut cooldowns,
                0,
                0
            )
            .is_none());
        let mut plan = self::plan(&config, Resend::OnlyIfRejected);
        let a = plan.first(&Cooldowns::default(), 0, 0).unwrap();
        assert!(
            plan.next(
                a.deployment,
                &unavailable(),
                true,
                &mut Cooldowns::default(),
                0,
                0
            )
            .is_some(),
            "a 503 is a refusal: resend"
        );
    }

    #[test]
    fn all_cooling_still_tries_the_first_to_recover_and_success_clears() {
        let config = config();
        let mut cooldowns = Cooldowns::default();
        cooldowns.record_failure("a", &unavailable(), &RetrySettings::default(), 0);
        cooldowns.record_failure(
            "b",
            &rate_limited(Some(5_000)),
            &RetrySettings::default(),
            0,
        );
        // No fallback group: the deployment that recovers first.
        let mut plan = RoutePlan::new(
            alloc::vec![config.group("g").unwrap()],
            RetrySettings::default(),
            Resend::Always,
            0,
        );
        assert_eq!(plan.first(&cooldowns, 100, 0).unwrap().deployment.id, "b");
        cooldowns.record_success("a");
        assert_eq!(cooldowns.cooling_until("a", 100), None);
        cooldowns.prune(40_000);
        assert_eq!(cooldowns, Cooldowns::default());
    }

    #[test]
    fn a_retired_deployment_gives_way_to_the_fallback_and_stays_out_of_new_work() {
        let config = config();
        let settings = RetrySettings::default();
        let mut cooldowns = Cooldowns::default();
        let mut plan = RoutePlan::new(
            alloc::vec![config.group("g").unwrap(), config.group("f").unwrap()],
            settings,
            Resend::OnlyIfRejected,
            0,
        );
        let a = plan.first(&cooldowns, 0, 0).unwrap();
        let b = plan
            .next(a.deployment, &retired(), true, &mut cooldowns, 10, 0)
            .unwrap();
        assert_eq!((b.deployment.id.as_str(), b.wait_ms), ("b", 0));
        let c = plan
            .next(b.deployment, &retired(), true, &mut cooldowns, 20, 0)
            .unwrap();
        assert_eq!(
            (c.deployment.id.as_str(), c.group.name.as_str()),
            ("c", "f")
        );
        cooldowns.record_success("c");
        // Marked for the long cooldown, not the short one; a success of a
        // pinned follow-up there does not clear it.
        assert_eq!(
            cooldowns.cooling_until("a", 10),
            Some(10 + settings.retired_cooldown_ms)
        );
        cooldowns.record_success("a");
        assert!(cooldowns.is_retired("a", 60_000) && cooldowns.is_retired("b", 60_000));
        // The next request starts on the fallback without touching them.
        let mut next = self::plan(&config, Resend::OnlyIfRejected);
        let first = next.first(&cooldowns, 60_000, 0).unwrap();
        assert_eq!(first.deployment.id, "c");
        // After the long cooldown they are tried again.
        let later = 20 + settings.retired_cooldown_ms;
        let mut again = self::plan(&config, Resend::OnlyIfRejected);
        assert_eq!(
            again.first(&cooldowns, later, 0).unwrap().deployment.id,
            "a"
        );
    }

    #[test]
    fn a_retired_only_group_ends_with_its_model_and_successor() {
        let config = Config::parse(
            r#"{"model_groups":[
              {"name":"old","successor":"new","deployments":[
                {"id":"a","provider":"gemini","model":"veo-3.0-generate-preview","credential":"K"}]},
              {"name":"new","deployments":[{"id":"v","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"p"}]}]}"#,
        )
        .unwrap();
        let old = config.group("old").unwrap();
        let mut cooldowns = Cooldowns::default();
        let mut plan = RoutePlan::new(
            alloc::vec![old],
            RetrySettings::default(),
            Resend::OnlyIfRejected,
            0,
        );
        let a = plan.first(&cooldowns, 0, 0).unwrap();
        let err = retired();
        assert!(plan
            .next(a.deployment, &err, true, &mut cooldowns, 0, 0)
            .is_none());
        let client = plan.final_error(a.group, &err);
        assert_eq!(
            (client.status(), client.code),
            (410, ErrorCode::ModelRetired)
        );
        assert!(client.message.contains("\"old\""), "{}", client.message);
        assert!(client.message.contains("use \"new\""), "{}", client.message);
        assert!(
            !client.message.contains("veo-3.0-generate-preview"),
            "the upstream model id stays private: {}",
            client.message
        );
        // The next request is answered without an upstream call.
        let mut next = RoutePlan::new(
            alloc::vec![old],
            RetrySettings::default(),
            Resend::OnlyIfRejected,
            0,
        );
        assert!(next.first(&cooldowns, 5, 0).is_none());
        assert_eq!(next.nothing_to_try(), client);
        // Other failures end as before.
        let mut other = RoutePlan::new(
            alloc::vec![old],
            RetrySettings::default(),
            Resend::OnlyIfRejected,
            0,
        );
        assert_eq!(other.nothing_to_try().code, ErrorCode::ModelNotFound);
        let _ = other.first(&Cooldowns::default(), 0, 0).unwrap();
        assert_eq!(
            other.final_error(old, &unavailable()).code,
            ErrorCode::UpstreamUnavailable
        );
    }

    #[test]
    fn a_retired_fallback_names_itself_and_the_requested_model() {
        let config = config();
        let plan = self::plan(&config, Resend::Always);
        let client = plan.final_error(config.group("f").unwrap(), &retired());
        assert!(
            client.message.contains("\"f\"") && client.message.contains("fallback for \"g\""),
            "{}",
            client.message
        );
        assert!(
            client.message.contains("no successor"),
            "{}",
            client.message
        );
    }

    #[test]
    fn deployment_tags_are_stable_and_opaque() {
        assert_eq!(deployment_tag("a"), deployment_tag("a"));
        assert_ne!(deployment_tag("a"), deployment_tag("b"));
        assert_eq!(deployment_tag("openai-east").len(), 12);
        assert!(!deployment_tag("openai-east").contains("openai"));
    }
}
