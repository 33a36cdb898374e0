//! Upstream calls with a blocking std HTTP client: executes core's
//! [`UpstreamRequest`] plans with the deployment's secret, classifies every
//! failure with core's `errors`, and retries and fails over as core's
//! `retry` decides (the same loop as the Worker's `upstream.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reelay_core::authorize;
use reelay_core::config::{Config, Deployment};
use reelay_core::errors::{
    classify_http, classify_transport, ClientError, ErrorCode, Transport, UpstreamError,
};
use reelay_core::plan::{Auth, Method, UpstreamRequest};
use reelay_core::retry::{Attempt, Cooldowns, RoutePlan};
use reqwest::blocking::{Client, Response};
use reqwest::Url;

use crate::{now_ms, random_u32};

const MAX_REDIRECTS: usize = 5;

/// Why one call failed: the upstream (`answered` is false for timeouts and
/// network failures), or the host before sending.
enum Failure {
    Upstream {
        error: UpstreamError,
        answered: bool,
    },
    Local(ClientError),
}

pub(crate) struct Upstream {
    http: Client,
    secrets: HashMap<String, String>,
    cooldowns: Mutex<Cooldowns>,
}

impl Upstream {
    pub(crate) fn new(secrets: HashMap<String, String>) -> Result<Self, String> {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Self {
            http,
            secrets,
            cooldowns: Mutex::new(Cooldowns::default()),
        })
    }

    fn cooldowns(&self) -> std::sync::MutexGuard<'_, Cooldowns> {
        self.cooldowns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The deployment `route` starts with, skipping those seen failing.
    pub(crate) fn first_attempt<'c>(
        &self,
        route: &mut RoutePlan<'c>,
    ) -> Result<Attempt<'c>, ClientError> {
        let first = route.first(&self.cooldowns(), now_ms(), random_u32());
        first.ok_or_else(|| route.nothing_to_try())
    }

    /// A read on the deployment that holds the state, retried there when
    /// the failure is retryable.
    pub(crate) fn send(
        &self,
        config: &Config,
        dep: &Deployment,
        plan: &UpstreamRequest,
    ) -> Result<Response, ClientError> {
        let resend = authorize::resend_for(plan.method);
        let (group, dep) = config
            .deployment(&dep.id)
            .ok_or_else(|| ClientError::from_code(ErrorCode::ModelNotFound))?;
        let mut route = RoutePlan::pinned(dep, group, config.router.retry, resend, now_ms());
        let first = self.first_attempt(&mut route)?;
        self.send_from(&mut route, first, |_| Ok(plan.clone()))
            .map(|(response, _)| response)
    }

    /// Sends the plan `plan_for` builds for each deployment `route` picks,
    /// from `first` on, until one answers 2xx or core says stop.
    pub(crate) fn send_from<'c>(
        &self,
        route: &mut RoutePlan<'c>,
        first: Attempt<'c>,
        mut plan_for: impl FnMut(&'c Deployment) -> Result<UpstreamRequest, ClientError>,
    ) -> Result<(Response, &'c Deployment), ClientError> {
        let mut attempt = first;
        loop {
            if attempt.wait_ms > 0 {
                std::thread::sleep(Duration::from_millis(attempt.wait_ms));
            }
            let dep = attempt.deployment;
            let plan = plan_for(dep)?;
            let (error, answered) = match self.send_once(dep, &plan) {
                Ok(response) => match classify(response) {
                    Ok(response) => {
                        self.cooldowns().record_success(&dep.id);
                        return Ok((response, dep));
                    }
                    Err(error) => (error, true),
                },
                Err(Failure::Local(err)) => return Err(err),
                Err(Failure::Upstream { error, answered }) => (error, answered),
            };
            let now = now_ms();
            let mut cooldowns = self.cooldowns();
            cooldowns.prune(now);
            match route.next(dep, &error, answered, &mut cooldowns, now, random_u32()) {
                Some(next) => attempt = next,
                None => return Err(route.final_error(attempt.group, &error)),
            }
        }
    }

    /// GET `plan` following redirects; the credential goes only to the
    /// first URL (core built it on the deployment's base), never to a
    /// redirect target.
    pub(crate) fn send_following_redirects(
        &self,
        dep: &Deployment,
        plan: &UpstreamRequest,
    ) -> Result<Response, ClientError> {
        let mut current = plan.clone();
        for _ in 0..=MAX_REDIRECTS {
            let response = self.send_once(dep, &current).map_err(|f| match f {
                Failure::Upstream { error, .. } => error.to_client(),
                Failure::Local(err) => err,
            })?;
            let status = response.status().as_u16();
            if !(300..400).contains(&status) || status == 304 {
                return classify(response).map_err(|e| e.to_client());
            }
            let garbage = |why| UpstreamError::unreadable(Some(status), why).to_client();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| garbage("the provider redirected without a Location"))?;
            let next = Url::parse(&current.url)
                .and_then(|base| base.join(location))
                .map_err(|_| garbage("the provider redirected to an invalid URL"))?;
            if next.scheme() != "https" && next.scheme() != "http" {
                return Err(garbage("the provider redirected to a non-HTTP URL"));
            }
            current = UpstreamRequest {
                method: Method::Get,
                auth: Auth::None,
                url: next.to_string(),
                json_body: None,
            };
        }
        Err(
            UpstreamError::unreadable(Some(302), "the provider redirected too many times")
                .to_client(),
        )
    }

    /// One call with the deployment's credential and deadline; transport
    /// failures come back classified.
    fn send_once(&self, dep: &Deployment, plan: &UpstreamRequest) -> Result<Response, Failure> {
        let method = match plan.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self
            .http
            .request(method, &plan.url)
            .timeout(Duration::from_millis(u64::from(dep.timeout_ms)));
        request = match plan.auth {
            Auth::None => request,
            Auth::GoogleApiKey => request.header("x-goog-api-key", self.credential(dep)?),
            Auth::AzureApiKey => request.header("api-key", self.credential(dep)?),
            Auth::Bearer => request.bearer_auth(self.credential(dep)?),
            Auth::GoogleServiceAccount => {
                return Err(Failure::Local(ClientError::new(
                    ErrorCode::ConfigInvalid,
                    "this host does not mint Google service-account tokens",
                )))
            }
        };
        if let Some(body) = &plan.json_body {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        request.send().map_err(|e| Failure::Upstream {
            error: classify_transport(if e.is_timeout() {
                Transport::Timeout
            } else {
                Transport::Network
            }),
            answered: false,
        })
    }

    fn credential(&self, dep: &Deployment) -> Result<String, Failure> {
        self.secrets.get(&dep.credential).cloned().ok_or_else(|| {
            Failure::Local(ClientError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "deployment {:?} names the secret {:?}, which is not set",
                    dep.id, dep.credential
                ),
            ))
        })
    }
}

/// Passes 2xx through; classifies anything else with core.
fn classify(response: Response) -> Result<Response, UpstreamError> {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let values: Vec<(&str, String)> = ["retry-after", "retry-after-ms", "x-should-retry"]
        .into_iter()
        .filter_map(|name| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some((name, value.to_owned()))
        })
        .collect();
    let headers: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let body = response.bytes().unwrap_or_default();
    Err(classify_http(status, &headers, &body, now_ms()))
}
