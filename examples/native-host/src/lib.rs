//! # reelay-native-host
//!
//! A second host for `reelay-core`, in plain std Rust with a blocking HTTP
//! client and no Cloudflare Workers types: the OpenAI Videos flow
//! (`POST /v1/videos`, `GET /v1/videos/{id}`, `GET /v1/videos/{id}/content`)
//! driven only through core's public API, mirroring what the Worker's
//! `routes/videos.rs` does. Keys, quota ledgers and job records live in
//! memory; the clock and random bytes come from the OS.
//!
//! Not served here (the Worker does them): multipart bodies, `characters`,
//! browser tokens, the master key, CORS, Vertex service-account tokens and
//! the list / delete / remix routes.

mod ids;
mod quota;
mod upstream;

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use reelay_core::access::AccessPolicy;
use reelay_core::authorize;
use reelay_core::config::{Config, Deployment, ModelGroup};
use reelay_core::encoding::{ct_eq, hex};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::keys::{
    key_hash, plausible_key, presented_key, GenerateRequest, KeyRecord, Presented,
};
use reelay_core::quota::{Cost, Outcome, Settlement};
use reelay_core::retry::{Resend, RoutePlan};
use reelay_core::video::jobs::{record_name, JobRecord};
use reelay_core::video::{self, vertex, Content, CreateVideo, Operation, Variant, VideoHandle};
use reelay_core::video::{VideoStatus, VideoView};
use serde_json::Value;

use ids::{Ids, VideoId};
pub use quota::KeyQuota;
use upstream::Upstream;

/// Now, unix milliseconds. This host is native only, where the std clock
/// works (the lint guards the wasm crates).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // A failing CSPRNG only makes ids and routing draws less random.
    let _ = getrandom::fill(&mut buf);
    buf
}

pub(crate) fn random_u32() -> u32 {
    u32::from_le_bytes(random_bytes())
}

/// A video's bytes, streamed from the upstream.
pub struct Download {
    /// `Content-Type` to answer with.
    pub content_type: String,
    /// `Content-Disposition` to answer with.
    pub disposition: String,
    /// The bytes, read as they arrive.
    pub body: Box<dyn Read + Send>,
}

/// The gateway: config, keys, sealing, upstream client and in-memory state.
pub struct Host {
    config: Config,
    ids: Ids,
    upstream: Upstream,
    keys: HashMap<[u8; 32], KeyRecord>,
    quota: quota::Quota,
    /// Job records by record name (the Worker keeps them in KV).
    jobs: Mutex<HashMap<String, JobRecord>>,
}

struct Caller {
    hash: [u8; 32],
    record: KeyRecord,
    policy: AccessPolicy,
}

/// An opened video id and the deployment that runs it.
struct Job<'c> {
    id: VideoId,
    record_name: String,
    group: &'c ModelGroup,
    deployment: &'c Deployment,
}

impl Host {
    /// A host for `config_json` (the Worker's `REELAY_CONFIG`), sealing ids
    /// with `sealing_key`; `secrets` holds the deployments' credentials.
    pub fn new(
        config_json: &str,
        sealing_key: &[u8],
        secrets: HashMap<String, String>,
    ) -> Result<Self, String> {
        Ok(Self {
            config: Config::parse(config_json).map_err(|e| e.to_string())?,
            ids: Ids::new(sealing_key).ok_or("the sealing key is too short")?,
            upstream: Upstream::new(secrets)?,
            keys: HashMap::new(),
            quota: quota::Quota::default(),
            jobs: Mutex::new(HashMap::new()),
        })
    }

    /// Adds virtual key `key` from a `/key/generate` body (`models`,
    /// `videos_per_day`, …) and returns its record.
    pub fn add_key(&mut self, key: &str, generate_body: &[u8]) -> Result<KeyRecord, ClientError> {
        let record = GenerateRequest::parse(generate_body, &self.config.access_groups)?
            .into_record(key, now_ms());
        self.keys.insert(key_hash(key), record.clone());
        Ok(record)
    }

    /// The quota state of the key with this `token` (hex SHA-256).
    pub fn quota(&self, token: &str) -> Option<KeyQuota> {
        self.quota.snapshot(token)
    }

    /// `POST /v1/videos` (JSON body) for the `Authorization` header value.
    pub fn create_video(&self, authorization: &str, body: &[u8]) -> Result<Value, ClientError> {
        let now = now_ms();
        let caller = self.identify(authorization, now)?;
        let max = self.config.max_body_bytes;
        if body.len() > max as usize {
            return Err(ClientError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the {max}-byte limit"),
            ));
        }
        let request = CreateVideo::parse_json(body)?;
        if !request.characters.is_empty() {
            return Err(ClientError::new(
                ErrorCode::UnsupportedValue,
                "this host does not serve `characters`",
            )
            .with_param("characters"));
        }
        let model = request
            .model
            .clone()
            .or_else(|| self.config.default_video_model.clone())
            .ok_or_else(|| {
                ClientError::new(ErrorCode::InvalidRequest, "`model` is required")
                    .with_param("model")
            })?;
        let group = self.authorize_model(&caller, &model)?;
        let groups = authorize::new_work_groups(&self.config, &caller.policy, group);
        let mut route = RoutePlan::new(
            groups,
            self.config.router.retry,
            Resend::OnlyIfRejected,
            now,
        );
        let first = self.upstream.first_attempt(&mut route)?;
        let (_, seconds, size) = video::create_request(&request, first.deployment, &[])?;
        let hold = format!("req_{}", hex(&random_bytes::<12>()));
        let cost = video::job_cost(first.deployment, seconds, size, 1);
        self.quota
            .admit(&self.config, &caller.record, &hold, cost, now)?;
        // Reserved before the upstream sees the job; refunded if it refuses.
        let mut sent = (seconds, size);
        let submitted = self
            .upstream
            .send_from(&mut route, first, |dep| {
                let (plan, seconds, size) = video::create_request(&request, dep, &[])?;
                sent = (seconds, size);
                Ok(plan)
            })
            .and_then(|(response, dep)| {
                let body = response.bytes().map_err(|_| {
                    ClientError::new(ErrorCode::Internal, "reading the provider's answer failed")
                })?;
                let created =
                    video::parse_create_response(dep, &body).map_err(|e| e.to_client())?;
                Ok((dep, created))
            });
        let outcome = if submitted.is_ok() {
            Outcome::Accepted
        } else {
            Outcome::Failed
        };
        let settlement = Settlement::for_outcome(outcome);
        self.quota
            .settle(&self.config, &caller.record, &hold, settlement, now);
        let (dep, created) = submitted?;
        let id = VideoId {
            owner: Ids::owner(&caller.hash),
            created_at_ms: now,
            deployment: dep.id.clone(),
            handle: VideoHandle {
                operation: created.upstream_id,
                seconds: created.seconds.unwrap_or(sent.0),
                size: created.size.unwrap_or(sent.1),
                count: 1,
            },
        };
        let sealed = self.ids.seal(&id)?;
        let record = JobRecord {
            id: sealed.clone(),
            prompt: request.prompt.clone(),
            model: model.clone(),
            status: String::from("queued"),
            error: None,
            deleted: false,
            remixed_from: None,
            quota_hold: Some(hold),
            subject: None,
        };
        self.jobs()
            .insert(record_name(&id.owner, now, &sealed), record);
        let view = VideoView {
            id: &sealed,
            model: &model,
            status: &VideoStatus::Queued,
            created_at: now / 1000,
            now: now / 1000,
            prompt: Some(&request.prompt),
            handle: &id.handle,
            remixed_from: None,
        };
        Ok(view.to_json())
    }

    /// `GET /v1/videos/{id}`: polls the upstream, records a status change
    /// and settles the job's quota hold the first time it is seen finished.
    pub fn retrieve_video(&self, authorization: &str, id: &str) -> Result<Value, ClientError> {
        self.plain(authorization, |caller, now| {
            let job = self.open_job(caller, id)?;
            let status = self.poll(&job)?.0.status();
            let mut jobs = self.jobs();
            let prompt = live(jobs.get_mut(&job.record_name))?.map(|record| {
                let cost = video::job_cost(
                    job.deployment,
                    job.id.handle.seconds,
                    job.id.handle.size,
                    job.id.handle.count,
                );
                if let Some((hold, settlement)) = record.observe_end(&status, cost).settle {
                    self.quota
                        .settle(&self.config, &caller.record, &hold, settlement, now);
                }
                record.prompt.clone()
            });
            drop(jobs);
            let view = VideoView {
                id,
                model: &job.group.name,
                status: &status,
                created_at: job.id.created_at_ms / 1000,
                now: now / 1000,
                prompt: prompt.as_deref(),
                handle: &job.id.handle,
                remixed_from: None,
            };
            Ok(view.to_json())
        })
    }

    /// `GET /v1/videos/{id}/content`: the MP4, streamed from the upstream
    /// once the job is done.
    pub fn video_content(&self, authorization: &str, id: &str) -> Result<Download, ClientError> {
        self.plain(authorization, |caller, _| {
            let job = self.open_job(caller, id)?;
            video::check_variant(job.deployment, Variant::Video)?;
            let (operation, poll_body) = self.poll(&job)?;
            live(self.jobs().get_mut(&job.record_name))?;
            let file = match operation {
                Operation::Queued | Operation::Running { .. } => {
                    return Err(ClientError::new(
                        ErrorCode::VideoNotReady,
                        "the video is still being generated; poll its status until it is completed",
                    ))
                }
                Operation::Failed(err) => {
                    let why = err.to_client().message;
                    return Err(ClientError::new(
                        ErrorCode::VideoFailed,
                        format!("the video job failed, so there is no content: {why}"),
                    ));
                }
                Operation::Succeeded(files) => files.into_iter().next().ok_or_else(not_found)?,
            };
            let disposition = format!("attachment; filename=\"{id}.mp4\"");
            let plan = match video::content_source(job.deployment, &file, Variant::Video)? {
                Content::Fetch(plan) => plan,
                Content::Inline { index } => {
                    let (bytes, mime) =
                        vertex::inline_video(&poll_body, index).map_err(|e| e.to_client())?;
                    return Ok(Download {
                        content_type: mime,
                        disposition,
                        body: Box::new(Cursor::new(bytes)),
                    });
                }
            };
            let response = self
                .upstream
                .send_following_redirects(job.deployment, &plan)?;
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("video/mp4")
                .to_owned();
            Ok(Download {
                content_type,
                disposition,
                body: Box::new(response),
            })
        })
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobRecord>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key the `Authorization` header presents, its record and rules.
    fn identify(&self, authorization: &str, now: u64) -> Result<Caller, ClientError> {
        let presented = Presented {
            authorization: Some(authorization),
            ..Presented::default()
        };
        let key = presented_key(&presented, false)
            .ok_or_else(|| ClientError::from_code(ErrorCode::MissingApiKey))?;
        if !plausible_key(key) {
            return Err(ClientError::from_code(ErrorCode::InvalidApiKey));
        }
        let hash = key_hash(key);
        let record = self
            .keys
            .get(&hash)
            .cloned()
            .ok_or_else(|| ClientError::from_code(ErrorCode::InvalidApiKey))?;
        record.check_usable(now)?;
        let policy = AccessPolicy::compile(&record.models, &self.config.access_groups)
            .map_err(|e| ClientError::new(ErrorCode::ModelAccessDenied, e.to_string()))?;
        Ok(Caller {
            hash,
            record,
            policy,
        })
    }

    /// A request that reserves only itself: admitted with one request's
    /// cost, its hold (a parallel slot, if limited) returned when it ends.
    fn plain<T>(
        &self,
        authorization: &str,
        f: impl FnOnce(&Caller, u64) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let now = now_ms();
        let caller = self.identify(authorization, now)?;
        let hold = format!("req_{}", hex(&random_bytes::<12>()));
        self.quota
            .admit(&self.config, &caller.record, &hold, Cost::REQUEST, now)?;
        let result = f(&caller, now);
        self.quota.settle(
            &self.config,
            &caller.record,
            &hold,
            Settlement::Refund,
            now_ms(),
        );
        result
    }

    fn authorize_model(&self, caller: &Caller, model: &str) -> Result<&ModelGroup, ClientError> {
        authorize::model_group(&self.config, &caller.policy, model, "model")
    }

    /// Opens `id` for `caller`: forged, tampered, foreign and malformed ids
    /// all get the same 404.
    fn open_job(&self, caller: &Caller, id: &str) -> Result<Job<'_>, ClientError> {
        let opened = self.ids.open(id).ok_or_else(not_found)?;
        if !ct_eq(&opened.owner, &Ids::owner(&caller.hash)) {
            return Err(not_found());
        }
        let (group, deployment) = self
            .config
            .deployment(&opened.deployment)
            .ok_or_else(not_found)?;
        Ok(Job {
            record_name: record_name(&opened.owner, opened.created_at_ms, id),
            id: opened,
            group,
            deployment,
        })
    }

    /// Polls the job; also returns the raw answer (Vertex inline videos).
    fn poll(&self, job: &Job<'_>) -> Result<(Operation, Vec<u8>), ClientError> {
        let plan = video::poll_request(job.deployment, &job.id.handle)?;
        let body = self
            .upstream
            .send(&self.config, job.deployment, &plan)?
            .bytes()
            .map_err(|_| {
                ClientError::new(ErrorCode::Internal, "reading the provider's answer failed")
            })?;
        let operation = video::parse_poll(job.deployment, &body).map_err(|e| e.to_client())?;
        Ok((operation, body.to_vec()))
    }
}

/// A deleted job is gone for its owner too.
fn live(record: Option<&mut JobRecord>) -> Result<Option<&mut JobRecord>, ClientError> {
    match record {
        Some(r) if r.deleted => Err(not_found()),
        other => Ok(other),
    }
}

fn not_found() -> ClientError {
    ClientError::new(
        ErrorCode::VideoNotFound,
        "no video with this id exists for this key",
    )
    .with_param("video_id")
}
