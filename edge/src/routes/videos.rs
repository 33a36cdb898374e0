// The OpenAI Videos API on Veo, Gemini Omni and Sora: `POST /v1/videos`,
// `GET /v1/videos/{id}`, `GET /v1/videos/{id}/content`. Ids are sealed (deployment + owner +
// upstream operation); content bytes stream from the upstream to the client
// without being copied through wasm.

use futures_util::future::join;
use reelay_core::config::{Config, Deployment};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::plan::UpstreamRequest;
use reelay_core::seal::{Purpose, Sealed};
use reelay_core::video::jobs::{owner_prefix, record_name, select_page, JobRecord, ListQuery};
use reelay_core::video::{self as video, Content, FollowUp, FollowUpKind, Operation, Variant};
use reelay_core::video::{
    CreateVideo, ImageInput, Size, VideoHandle, VideoStatus, VideoView, CREATE_FORM_PARTS,
};
use serde_json::Value;
use worker::{FormEntry, Headers, Request, Response};

use crate::context::Ctx;
use crate::jobs;
use crate::keys::{self, Caller};
use crate::pipeline;
use crate::pipeline::authorize_model;
use crate::quota;
use crate::request::{media_type, read_body, read_form};
use crate::respond::{self, OrInternal};
use crate::upstream::{self, upstream_failure};
use reelay_core::quota::Outcome;
use reelay_core::retry::{Resend, RoutePlan};

/// Jobs polled live per list page (each poll is one upstream subrequest).
const LIVE_REFRESH_LIMIT: usize = 20;

pub(super) async fn create(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    cx.seal_keys()?;
    // Admitted once the job's cost is known (in `start`).
    let mut caller = keys::identify(req, cx, false).await?;
    let request = match media_type(req).as_str() {
        "application/json" | "" => CreateVideo::parse_json(&read_body(req, config.max_body_bytes).await?)?,
        "multipart/form-data" => parse_multipart(req, config.max_body_bytes).await?,
        other => {
            return Err(ClientError::new(
                ErrorCode::UnsupportedMediaType,
                format!("content type {other:?} is not accepted; send application/json or multipart/form-data"),
            ))
        }
    };
    let model = request
        .model
        .clone()
        .or_else(|| config.default_video_model.clone())
        .ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                "`model` is required (this gateway sets no default video model)",
            )
            .with_param("model")
        })?;
    let job = if request.characters.is_empty() {
        submit(cx, &config, &mut caller, &model, |dep| {
            let (request_plan, seconds, size) = video::create_request(&request, dep, &[])?;
            Ok(Planned {
                request: request_plan,
                seconds,
                size,
                count: 1,
                prompt: request.prompt.clone(),
            })
        })
        .await?
    } else {
        // Characters live on the deployment that created them: the job is
        // pinned there, never routed by weight.
        let (pinned, upstream_ids) = super::characters::open_all(cx, &caller, &request.characters)?;
        let group = authorize_model(cx, &config, &caller, &model)?;
        let deployment = group.deployments.iter().find(|d| d.id == pinned).ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                format!("the characters belong to deployment {pinned:?}, which does not serve model {model:?}"),
            )
            .with_param("characters")
        })?;
        let route = RoutePlan::pinned(
            deployment,
            group,
            config.router.retry,
            Resend::OnlyIfRejected,
            cx.now_ms,
        );
        start(
            cx,
            &mut caller,
            &model,
            route,
            |dep| {
                let (request_plan, seconds, size) =
                    video::create_request(&request, dep, &upstream_ids)?;
                Ok(Planned {
                    request: request_plan,
                    seconds,
                    size,
                    count: 1,
                    prompt: request.prompt.clone(),
                })
            },
            None,
        )
        .await?
    };
    let (id, handle, created_at) = (job.id, job.handle, job.created_at_ms / 1000);
    let status = VideoStatus::Queued;
    let view = VideoView {
        id: &id,
        model: &model,
        status: &status,
        created_at,
        now: created_at,
        prompt: Some(&request.prompt),
        handle: &handle,
        remixed_from: None,
    };
    Ok(respond::json(200, &view.to_json()))
}

/// What a route plans for the chosen deployment.
pub(super) struct Planned {
    pub(super) request: UpstreamRequest,
    pub(super) seconds: u32,
    pub(super) size: Size,
    /// Videos the job makes (each charged `seconds`).
    pub(super) count: u32,
    pub(super) prompt: String,
}

/// A job the upstream accepted, sealed and recorded.
pub(super) struct Submitted {
    pub(super) id: String,
    pub(super) handle: VideoHandle,
    pub(super) created_at_ms: u64,
    /// The deployment that took the job, and its create answer.
    pub(super) deployment: String,
    pub(super) answer: Vec<u8>,
}

/// Starts a video job on `model` for `caller`: access check, routing, the
/// upstream call `build` plans for the chosen deployment, sealing, the job
/// record and usage counting. Shared by the OpenAI and Google-shaped routes.
pub(super) async fn submit(
    cx: &Ctx,
    config: &Config,
    caller: &mut Caller,
    model: &str,
    build: impl Fn(&Deployment) -> Result<Planned, ClientError>,
) -> Result<Submitted, ClientError> {
    let group = authorize_model(cx, config, caller, model)?;
    let policy = caller.policy()?;
    let route = upstream::new_work(cx, config, &policy, group, Resend::OnlyIfRejected);
    start(cx, caller, model, route, build, None).await
}

/// Sends a job planned by `build` along `route` (failing over as
/// `core::retry` allows: a create is resent only after the upstream refused
/// it), then seals, records and counts it. The job's cost (from the plan for
/// the first deployment) is admitted with the request in one quota call; the
/// upstream body is built once per attempt.
pub(super) async fn start<'c>(
    cx: &Ctx,
    caller: &mut Caller,
    model: &str,
    route: RoutePlan<'c>,
    build: impl Fn(&Deployment) -> Result<Planned, ClientError>,
    remixed_from: Option<String>,
) -> Result<Submitted, ClientError> {
    start_sealed(
        cx,
        caller,
        model,
        route,
        build,
        remixed_from,
        Purpose::Video,
    )
    .await
}

/// [`start`], handing the client an id of `purpose`: a video id (the job's
/// handle sealed), or an upstream id sealed by `seal_upstream_id` (an
/// interaction's `int_…`, whose job record is named after it).
pub(super) async fn start_sealed<'c>(
    cx: &Ctx,
    caller: &mut Caller,
    model: &str,
    mut route: RoutePlan<'c>,
    build: impl Fn(&Deployment) -> Result<Planned, ClientError>,
    remixed_from: Option<String>,
    purpose: Purpose,
) -> Result<Submitted, ClientError> {
    let first = upstream::first_attempt(&mut route)?;
    let first_plan = build(first.deployment)?;
    // Reserved before the upstream sees the job, refunded if it refuses it
    // (the pipeline's default), committed at the real length when the job
    // completes.
    let cost = video::job_cost(
        first.deployment,
        first_plan.seconds,
        first_plan.size,
        first_plan.count,
    );
    pipeline::admit(cx, caller, cost).await?;
    let first_id = first.deployment.id.clone();
    let mut prebuilt = Some(first_plan);
    // What the attempt that was sent asked for (seconds, size, count, prompt).
    let mut sent: Option<(u32, Size, u32, String)> = None;
    // Once the create is out, a failure whose outcome is unknown (no answer,
    // or an answer the gateway cannot use) is never a 5xx: SDKs resend those.
    let served = upstream::send_from(cx, &mut route, first, |dep, _| {
        let planned = match prebuilt.take() {
            Some(p) if dep.id == first_id => p,
            _ => build(dep)?,
        };
        sent = Some((planned.seconds, planned.size, planned.count, planned.prompt));
        Ok(planned.request)
    })
    .await
    .map_err(|e| video::create_outcome_unknown(e, false))?;
    let accepted = |e| video::create_outcome_unknown(e, true);
    let (mut response, deployment) = (served.value, served.deployment);
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")
        .map_err(accepted)?;
    let created = video::parse_create_response(deployment, &body)
        .map_err(|e| accepted(upstream_failure(cx, e)))?;
    let (seconds, size, count, prompt) =
        sent.ok_or_else(|| accepted(ClientError::from_code(ErrorCode::Internal)))?;
    // The job runs on: free the request's slot, keep the job's reservation.
    pipeline::settle(cx, Outcome::Accepted);
    // What the upstream says it will render wins over what was asked.
    let handle = VideoHandle {
        operation: created.upstream_id,
        seconds: created.seconds.unwrap_or(seconds),
        size: created.size.unwrap_or(size),
        count,
    };
    let created_at_ms = cx.now_ms;
    let keys = cx.seal_keys().map_err(accepted)?;
    let sealed = match purpose {
        Purpose::Video => keys.seal_id(&Sealed {
            purpose,
            owner: caller.owner(),
            created_at_ms,
            deployment: deployment.id.clone(),
            payload: handle.encode(),
        }),
        _ => keys.seal_upstream_id(
            purpose,
            caller.owner(),
            &deployment.id,
            &handle.operation,
            created_at_ms,
        ),
    };
    let id = sealed.map_err(|e| accepted(e.to_client(purpose)))?;

    // Remembered by this isolate at once (so it lists and polls the job
    // right away) and written to KV after the response. A failed write must
    // not lose the job the upstream already started: the id still works for
    // status and content, it is only missing from other isolates' lists.
    let record = JobRecord {
        id: id.clone(),
        prompt,
        model: model.to_owned(),
        status: String::from("queued"),
        error: None,
        deleted: false,
        remixed_from,
        quota_hold: quota::holds_own(cx).then(|| cx.hold_id.clone()),
        // A browser token's job is its visitor's: lists by other visitors skip it.
        subject: caller.owner().subject_hex(),
    };
    jobs::store_after_response(
        cx,
        &record_name(&caller.owner().key, created_at_ms, &id),
        &record,
    );
    Ok(Submitted {
        id,
        handle,
        created_at_ms,
        deployment: deployment.id.clone(),
        answer: body,
    })
}

pub(super) async fn retrieve(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let job = open_job(cx, &config, &caller, id)?;
    let (operation, record) = join(
        poll(cx, job.deployment, &job.handle),
        jobs::load(&cx.env, &job.record_name),
    )
    .await;
    let record = live_record(record?)?;
    let status = status_of(cx, operation?);
    if let Some(mut record) = record.clone() {
        remember_status(cx, &caller, &job, &mut record, &status);
    }
    let view = VideoView {
        id,
        model: job.group,
        status: &status,
        created_at: job.sealed.created_at_ms / 1000,
        now: cx.now_secs(),
        prompt: record.as_ref().map(|r| r.prompt.as_str()),
        handle: &job.handle,
        remixed_from: record.as_ref().and_then(|r| r.remixed_from.as_deref()),
    };
    Ok(respond::json(200, &view.to_json()))
}

pub(super) async fn content(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let url = req.url().or_internal("reading the request URL")?;
    let variant = url
        .query_pairs()
        .find(|(k, _)| k == "variant")
        .map(|(_, v)| v.into_owned());
    let variant = Variant::parse(variant.as_deref())?;
    let job = open_job(cx, &config, &caller, id)?;
    download(cx, &job, id, 0, variant).await
}

/// Streams generated file `index` of an opened job: polls the operation,
/// answers 409 while it runs or after it failed, else follows the upstream
/// download (and its redirect) and passes the bytes through unbuffered.
pub(super) async fn download(
    cx: &Ctx,
    job: &OpenedJob<'_>,
    id: &str,
    index: usize,
    variant: Variant,
) -> Result<Response, ClientError> {
    let deployment = job.deployment;
    video::check_variant(deployment, variant)?;
    let (polled, record) = join(
        poll_with_body(cx, deployment, &job.handle),
        jobs::load(&cx.env, &job.record_name),
    )
    .await;
    live_record(record?)?;
    let (operation, poll_body) = polled?;
    let file = match operation {
        Operation::Queued | Operation::Running { .. } => {
            return Err(ClientError::new(
                ErrorCode::VideoNotReady,
                "the video is still being generated; poll its status until it is completed",
            ))
        }
        Operation::Failed(err) => {
            return Err(ClientError::new(
                ErrorCode::VideoFailed,
                format!(
                    "the video job failed, so there is no content: {}",
                    err.to_client().message
                ),
            ))
        }
        Operation::Succeeded(files) => files.into_iter().nth(index).ok_or_else(|| {
            ClientError::new(
                ErrorCode::VideoNotFound,
                format!("this video job has no file number {index}"),
            )
        })?,
    };
    let disposition = format!("attachment; filename=\"{id}.{}\"", variant.extension());
    let plan = match video::content_source(deployment, &file, variant)? {
        Content::Fetch(plan) => plan,
        Content::Inline { index } => {
            // Vertex without `storageUri` (Veo or Omni), or an Omni answer
            // that inlines the video, carries it in the status answer: the
            // one case where bytes pass through wasm.
            let (bytes, mime) = video::inline_video(deployment, &poll_body, index)
                .map_err(|e| upstream_failure(cx, e))?;
            let headers = Headers::new();
            let _ = headers.set("content-type", &mime);
            let _ = headers.set("content-disposition", &disposition);
            return Ok(Response::builder()
                .with_status(200)
                .with_headers(headers)
                .fixed(bytes));
        }
    };
    let upstream = upstream::send_following_redirects(cx, deployment, &plan).await?;

    let headers = Headers::new();
    let content_type = upstream
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            String::from(if variant == Variant::Video {
                "video/mp4"
            } else {
                "application/octet-stream"
            })
        });
    let _ = headers.set("content-type", &content_type);
    if let Some(len) = upstream.headers().get("content-length").ok().flatten() {
        let _ = headers.set("content-length", &len);
    }
    let _ = headers.set("content-disposition", &disposition);
    let (_, body) = upstream.into_parts();
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .body(body))
}

/// The generated files of one of the caller's jobs that is to be the
/// input of a new one: 409 while it runs or after it failed.
pub(super) async fn finished_files(
    cx: &Ctx,
    source: &OpenedJob<'_>,
) -> Result<Vec<String>, ClientError> {
    let (operation, record) = join(
        poll(cx, source.deployment, &source.handle),
        jobs::load(&cx.env, &source.record_name),
    )
    .await;
    live_record(record?)?;
    match operation? {
        Operation::Succeeded(files) => Ok(files),
        Operation::Failed(_) => Err(ClientError::new(
            ErrorCode::VideoFailed,
            "the source video failed, so it cannot be the input of a new video",
        )),
        _ => Err(ClientError::new(
            ErrorCode::VideoNotReady,
            "the source video is still being generated",
        )),
    }
}

pub(super) struct OpenedJob<'c> {
    pub(super) record_name: String,
    pub(super) sealed: Sealed,
    pub(super) handle: VideoHandle,
    pub(super) group: &'c str,
    pub(super) deployment: &'c Deployment,
}

/// Opens a video id for `caller` and finds the deployment that owns it.
/// Forged, tampered, foreign and malformed ids all get the same 404, so
/// probing reveals nothing.
pub(super) fn open_job<'c>(
    cx: &Ctx,
    config: &'c Config,
    caller: &Caller,
    id: &str,
) -> Result<OpenedJob<'c>, ClientError> {
    let video::OpenedVideo { sealed, handle } =
        video::open_video(&*cx.seal_keys()?, id, &caller.owner()).map_err(|(err, why)| {
            worker::console_log!("video id rejected: {why}");
            err
        })?;
    let (group, deployment) = config.deployment(&sealed.deployment).ok_or_else(|| {
        ClientError::new(
            ErrorCode::VideoNotFound,
            format!(
                "deployment {:?}, which ran this video, is no longer configured on this gateway",
                sealed.deployment
            ),
        )
    })?;
    let mut log = cx.log.borrow_mut();
    log.deployment = Some(deployment.id.clone());
    log.model = Some(group.name.clone());
    // Named under the key: the subject is checked when the id is opened.
    let record_name = record_name(&sealed.owner.key, sealed.created_at_ms, id);
    Ok(OpenedJob {
        record_name,
        sealed,
        handle,
        group: &group.name,
        deployment,
    })
}

pub(super) async fn poll(
    cx: &Ctx,
    deployment: &Deployment,
    handle: &VideoHandle,
) -> Result<Operation, ClientError> {
    poll_with_body(cx, deployment, handle)
        .await
        .map(|(operation, _)| operation)
}

/// Polls the job and also returns the raw answer (Vertex's inline videos live in it).
async fn poll_with_body(
    cx: &Ctx,
    deployment: &Deployment,
    handle: &VideoHandle,
) -> Result<(Operation, Vec<u8>), ClientError> {
    let plan = video::poll_request(deployment, handle)?;
    let mut response = upstream::send(cx, deployment, &plan).await?;
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let operation = video::parse_poll(deployment, &body).map_err(|e| upstream_failure(cx, e))?;
    Ok((operation, body))
}

/// A multipart create: read bounded like a JSON body, its parts the JSON
/// fields (an unknown or repeated part is refused, naming it; core reads
/// the text parts and the image).
async fn parse_multipart(req: &mut Request, max: u32) -> Result<CreateVideo, ClientError> {
    let form = read_form(req, max, CREATE_FORM_PARTS).await?;
    let mut text_parts = Vec::new();
    let mut image = None;
    for name in CREATE_FORM_PARTS {
        match (*name, form.get(name)) {
            (_, None) => {}
            ("input_reference", Some(FormEntry::File(file))) => {
                let bytes = file
                    .bytes()
                    .await
                    .or_internal("reading the input_reference file")?;
                image = Some(ImageInput::from_bytes(&bytes)?);
            }
            (_, Some(FormEntry::Field(text))) => text_parts.push((*name, text)),
            (_, Some(FormEntry::File(_))) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    format!("`{name}` must be a text field, not a file"),
                )
                .with_param(name.to_string()))
            }
        }
    }
    CreateVideo::from_form(&text_parts, image)
}

/// An edit or extension sent as `multipart/form-data` (the openai SDK's
/// `videos.edit` / `videos.extend`): read bounded like a JSON body, its
/// parts checked by name (an unknown or repeated one is refused), then
/// read by core as the JSON body's fields.
async fn follow_up_form(
    req: &mut Request,
    kind: FollowUpKind,
    max: u32,
) -> Result<FollowUp, ClientError> {
    let known = video::follow_up_form_parts(kind);
    let form = read_form(req, max, known).await?;
    let mut text_parts = Vec::new();
    let mut video_file = false;
    for name in known {
        match (*name, form.get(name)) {
            (_, None) => {}
            (_, Some(FormEntry::Field(text))) => text_parts.push((*name, text)),
            ("video", Some(FormEntry::File(_))) => video_file = true,
            (_, Some(FormEntry::File(_))) => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    format!("`{name}` must be a text field, not a file"),
                )
                .with_param(name.to_string()))
            }
        }
    }
    let parts: Vec<(&str, &str)> = text_parts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    FollowUp::from_form(kind, &parts, video_file)
}

/// The status of a polled job, its failure's upstream message cleaned of
/// every secret the Worker holds (it is shown in a `200` and stored).
pub(super) fn status_of(cx: &Ctx, operation: Operation) -> VideoStatus {
    operation.status().redacted(&crate::redaction::redactor(cx))
}

fn not_found() -> ClientError {
    video::video_not_found()
}

/// A deleted job is gone for its owner too.
pub(super) fn live_record(record: Option<JobRecord>) -> Result<Option<JobRecord>, ClientError> {
    match record {
        Some(r) if r.deleted => Err(not_found()),
        other => Ok(other),
    }
}

/// Stores a changed status after the response, so lists show it; a job
/// first seen finished settles its quota hold (core decides how).
pub(super) fn remember_status(
    cx: &Ctx,
    caller: &Caller,
    job: &OpenedJob<'_>,
    record: &mut JobRecord,
    status: &VideoStatus,
) {
    let cost = video::job_cost(
        job.deployment,
        job.handle.seconds,
        job.handle.size,
        job.handle.count,
    );
    let seen = record.observe_end(status, cost);
    if !seen.changed {
        return;
    }
    if let Some((hold, settlement)) = seen.settle {
        quota::settle_after(cx, &caller.record, &hold, settlement);
    }
    jobs::store_after_response(cx, &job.record_name, record);
}

/// `GET /v1/videos`: the caller's jobs, from the per-key index in KV.
/// Jobs whose last seen status is not final are polled live (at most
/// [`LIVE_REFRESH_LIMIT`] per page, to stay within the platform's
/// subrequest budget); the rest show their last seen status.
pub(super) async fn list(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let url = req.url().or_internal("reading the request URL")?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let after_name = match &query.after {
        Some(after) => {
            let job = open_job(cx, &config, &caller, after).map_err(|_| {
                ClientError::new(
                    ErrorCode::InvalidRequest,
                    "`after` is not the id of one of this key's videos",
                )
                .with_param("after")
            })?;
            Some(job.record_name)
        }
        None => None,
    };
    let owner = caller.owner();
    let index = jobs::index(&cx.env, &owner_prefix(&owner.key)).await?;
    // A browser token lists its visitor's jobs only; the key lists all.
    let page = select_page(
        &index,
        &owner,
        after_name.as_deref(),
        query.limit,
        query.order,
    );
    let records = jobs::load_many(&cx.env, &page.names).await?;

    let mut items = Vec::with_capacity(records.len());
    let mut live_polls = 0;
    let redactor = crate::redaction::redactor(cx);
    for record in records {
        // A record listed but not readable yet (KV propagation) or deleted
        // meanwhile is skipped rather than shown half-known.
        let Some(mut record) = record.filter(|r| !r.deleted) else {
            continue;
        };
        let Ok(job) = open_job(cx, &config, &caller, &record.id) else {
            continue;
        };
        let status = if !record.is_final() && live_polls < LIVE_REFRESH_LIMIT {
            live_polls += 1;
            match poll(cx, job.deployment, &job.handle).await {
                Ok(op) => {
                    let status = status_of(cx, op);
                    remember_status(cx, &caller, &job, &mut record, &status);
                    status
                }
                Err(_) => record.last_status(),
            }
        } else {
            record.last_status()
        };
        // A status stored before failures were cleaned is cleaned here.
        let status = status.redacted(&redactor);
        let view = VideoView {
            id: &record.id,
            model: job.group,
            status: &status,
            created_at: job.sealed.created_at_ms / 1000,
            now: cx.now_secs(),
            prompt: Some(&record.prompt),
            handle: &job.handle,
            remixed_from: record.remixed_from.as_deref(),
        };
        items.push(view.to_json());
    }
    let first_id = items
        .first()
        .and_then(|v| v.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    let last_id = items
        .last()
        .and_then(|v| v.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(respond::json(
        200,
        &serde_json::json!({
            "object": "list",
            "data": items,
            "first_id": first_id,
            "last_id": last_id,
            "has_more": page.has_more,
        }),
    ))
}

/// `DELETE /v1/videos/{id}`: deletes the job upstream where the provider
/// can (Sora) and hides it from its owner for good (lists skip it; status,
/// content and a second delete answer 404). Veo has no delete for generated
/// files; they expire upstream after two days.
pub(super) async fn delete(req: &mut Request, cx: &Ctx, id: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let job = open_job(cx, &config, &caller, id)?;
    let existing = live_record(jobs::load(&cx.env, &job.record_name).await?)?;
    let mut record = existing.unwrap_or_else(|| JobRecord {
        id: id.to_owned(),
        prompt: String::new(),
        model: job.group.to_owned(),
        status: String::from("queued"),
        error: None,
        deleted: false,
        remixed_from: None,
        quota_hold: None,
        subject: job.sealed.owner.subject_hex(),
    });
    // A running job is stopped first where the provider can (Omni): the
    // answer says how it ended, which settles its quota hold. A refusal
    // means it had already finished.
    if let Some(plan) =
        video::cancel_request(job.deployment, &job.handle).filter(|_| !record.is_final())
    {
        match upstream::send(cx, job.deployment, &plan).await {
            Ok(mut response) => {
                let body = response
                    .bytes()
                    .await
                    .or_internal("reading the provider's answer")?;
                if let Ok(operation) = video::parse_poll(job.deployment, &body) {
                    let cost = video::job_cost(
                        job.deployment,
                        job.handle.seconds,
                        job.handle.size,
                        job.handle.count,
                    );
                    if let Some((hold, settlement)) =
                        record.observe_end(&status_of(cx, operation), cost).settle
                    {
                        quota::settle_after(cx, &caller.record, &hold, settlement);
                    }
                }
            }
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::UpstreamBadRequest | ErrorCode::UpstreamNotFound
                ) => {}
            Err(e) => return Err(e),
        }
    }
    // Delete upstream first where the provider can: if that fails, the job
    // stays visible and the client can retry; an upstream "not found" means
    // it is already gone there.
    if let Some(plan) = video::delete_request(job.deployment, &job.handle) {
        match upstream::send(cx, job.deployment, &plan).await {
            Ok(_) => {}
            Err(e) if video::already_gone(job.deployment, &e) => {}
            Err(e) => return Err(e),
        }
    }
    record.deleted = true;
    jobs::store(&cx.env, &job.record_name, &record).await?;
    Ok(respond::json(
        200,
        &serde_json::json!({ "id": id, "object": "video.deleted", "deleted": true }),
    ))
}

/// `POST /v1/videos/{id}/remix`, `POST /v1/videos/edits`,
/// `POST /v1/videos/extensions`: a new job from one of the caller's videos,
/// always on the deployment that holds the source (its upstream state lives
/// there), never re-routed.
pub(super) async fn follow_up(
    req: &mut Request,
    cx: &Ctx,
    kind: FollowUpKind,
    path_id: Option<&str>,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    // Admitted once the job's cost is known (in `start`).
    let mut caller = keys::identify(req, cx, false).await?;
    let follow = if kind != FollowUpKind::Remix && media_type(req) == "multipart/form-data" {
        follow_up_form(req, kind, config.max_body_bytes).await?
    } else {
        FollowUp::parse(kind, &read_body(req, config.max_body_bytes).await?, path_id)?
    };
    let source = open_job(cx, &config, &caller, &follow.source_id)?;
    authorize_model(cx, &config, &caller, source.group)?;
    video::check_follow_up(source.deployment, kind)?;
    // Veo extends a finished video's file; Sora takes its own id.
    let files = if video::follow_up_needs_files(source.deployment, kind) {
        finished_files(cx, &source).await?
    } else {
        live_record(jobs::load(&cx.env, &source.record_name).await?)?;
        Vec::new()
    };
    let remixed_from = (kind == FollowUpKind::Remix).then(|| follow.source_id.clone());
    let group = config
        .group(source.group)
        .ok_or_else(|| ClientError::from_code(ErrorCode::ModelNotFound))?;
    let route = RoutePlan::pinned(
        source.deployment,
        group,
        config.router.retry,
        Resend::OnlyIfRejected,
        cx.now_ms,
    );
    let job = start(
        cx,
        &mut caller,
        source.group,
        route,
        |dep| {
            let (request, seconds, size) =
                video::follow_up_request(dep, &follow, &source.handle, &files)?;
            Ok(Planned {
                request,
                seconds,
                size,
                count: 1,
                prompt: follow.prompt.clone(),
            })
        },
        remixed_from.clone(),
    )
    .await?;
    let created_at = job.created_at_ms / 1000;
    let status = VideoStatus::Queued;
    let view = VideoView {
        id: &job.id,
        model: source.group,
        status: &status,
        created_at,
        now: created_at,
        prompt: Some(&follow.prompt),
        handle: &job.handle,
        remixed_from: remixed_from.as_deref(),
    };
    Ok(respond::json(200, &view.to_json()))
}
