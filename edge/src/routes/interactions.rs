// The Interactions API door for Gemini Omni video, for google-genai 3.x's
// `client.interactions` (under `/gemini/{v}/`, `v` = v1, v1beta, v1alpha):
//   POST   interactions              create (body typed and checked by core, re-serialized)
//   GET    interactions/{id}         get
//   POST   interactions/{id}/cancel  cancel
//   DELETE interactions/{id}         delete
// Ids are `int_…`, sealed with the deployment and the owner
// (`seal_upstream_id`, payload = the upstream id); every follow-up runs on
// the deployment that holds the interaction, for its owner only (another
// key's or visitor's id is `404 interaction_not_found`). A create is a video
// job of the one pipeline (`videos::start_sealed`): authorized, its seconds
// metered from what it asks, sent with failover only while the upstream has
// refused it, and answered `424 create_outcome_unknown` (never a 5xx that
// the SDK would resend) once its outcome is unknown. Answers come through
// `core::video::interactions::client_view`: ids sealed, the video's URI
// turned into the caller's gateway file link (`/gemini/{v}/files/{token}`,
// served by `google::file`), diagnostics redacted. The Live Interactions
// socket and its auth tokens are routed elsewhere.

use futures_util::future::join;
use reelay_core::config::{Config, Deployment};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::plan::Method as UpstreamMethod;
use reelay_core::retry::{Resend, RoutePlan};
use reelay_core::seal::{Purpose, UpstreamId};
use reelay_core::video::interactions::{self, SourceRef};
use reelay_core::video::jobs::{record_name, JobRecord};
use reelay_core::video::{self, omni, VideoHandle};
use worker::{Method, Request, Response};

use super::videos::{finished_files, start_sealed, OpenedJob, Planned};
use crate::context::Ctx;
use crate::jobs;
use crate::keys::{self, Caller};
use crate::pipeline::{self, authorize_model};
use crate::quota;
use crate::redaction;
use crate::request::{allow, read_body};
use crate::respond::{self, OrInternal};
use crate::upstream::{self, upstream_failure};

/// `rest` is the path after `/gemini/{version}/interactions`.
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    version: &str,
    rest: &[&str],
) -> Result<Response, ClientError> {
    let method = crate::request::method(req);
    match rest {
        [] => {
            allow(&method, &[Method::Post])?;
            create(req, cx, version).await
        }
        [id] => {
            allow(&method, &[Method::Get, Method::Delete])?;
            let id = (*id).to_owned();
            if method == Method::Delete {
                delete(req, cx, &id).await
            } else {
                get(req, cx, version, &id).await
            }
        }
        [id, "cancel"] => {
            allow(&method, &[Method::Post])?;
            let id = (*id).to_owned();
            cancel(req, cx, version, &id).await
        }
        _ => Err(ClientError::new(
            ErrorCode::RouteNotFound,
            "no such interactions route on this gateway (supported: interactions, interactions/{id}, interactions/{id}/cancel)",
        )),
    }
}

/// An `int_…` id opened for its owner.
struct Opened<'c> {
    upstream: UpstreamId,
    job: OpenedJob<'c>,
}

/// Opens `id` for `caller`: its deployment and upstream id, and the job
/// record a create through this door stored under it. Forged, foreign and
/// unknown ids are all `404 interaction_not_found`.
fn open<'c>(
    cx: &Ctx,
    config: &'c Config,
    caller: &Caller,
    id: &str,
) -> Result<Opened<'c>, ClientError> {
    let keys = cx.seal_keys()?;
    let refuse = |e: reelay_core::seal::Error| {
        worker::console_log!("interaction id rejected: {e}");
        e.to_client(Purpose::Interaction)
    };
    let upstream = keys
        .open_upstream_id(Purpose::Interaction, id, &caller.owner())
        .map_err(refuse)?;
    let sealed = keys.open_id(Purpose::Interaction, id).map_err(refuse)?;
    let (group, deployment) = config
        .deployment(&upstream.deployment)
        .ok_or_else(|| Purpose::Interaction.refusal())?;
    interactions::omni_api(deployment)?;
    // Upstream text (an unknown-interaction error) would name it.
    cx.remember_secret(&upstream.id);
    {
        let mut log = cx.log.borrow_mut();
        log.deployment = Some(deployment.id.clone());
        log.model = Some(group.name.clone());
    }
    let record_name = record_name(&sealed.owner.key, sealed.created_at_ms, id);
    let handle = VideoHandle {
        operation: upstream.id.clone(),
        seconds: 0,
        size: omni::DEFAULT_SIZE,
        count: 1,
    };
    Ok(Opened {
        upstream,
        job: OpenedJob {
            record_name,
            sealed,
            handle,
            group: &group.name,
            deployment,
        },
    })
}

/// Interaction `id` as a video job of `caller`'s (for its file links).
pub(super) fn open_as_job<'c>(
    cx: &Ctx,
    config: &'c Config,
    caller: &Caller,
    id: &str,
) -> Result<OpenedJob<'c>, ClientError> {
    open(cx, config, caller, id).map(|o| o.job)
}

/// A deleted interaction is gone for its owner too.
fn live(record: Option<JobRecord>) -> Result<Option<JobRecord>, ClientError> {
    match record {
        Some(r) if r.deleted => Err(Purpose::Interaction.refusal()),
        other => Ok(other),
    }
}

/// An upstream "no such interaction" is the client's `interaction_not_found`.
fn gone_as_not_found(dep: &Deployment, err: ClientError) -> ClientError {
    if video::already_gone(dep, &err) {
        Purpose::Interaction.refusal()
    } else {
        err
    }
}

/// `?stream=true` on a get is not served (see the create's `stream`).
fn refuse_stream(req: &Request) -> Result<(), ClientError> {
    let url = req.url().or_internal("reading the request URL")?;
    let streaming = url
        .query_pairs()
        .any(|(k, v)| k == "stream" && v != "false");
    if streaming {
        return Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            "streaming interactions are not served by this gateway; poll with stream=false",
        )
        .with_param("stream"));
    }
    Ok(())
}

async fn create(req: &mut Request, cx: &Ctx, version: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let sealer = cx.seal_keys()?;
    // Admitted once the job's cost is known (in `start_sealed`).
    let mut caller = keys::identify(req, cx, true).await?;
    let body = read_body(req, config.max_body_bytes).await?;
    let create = interactions::parse_create(&body)?;
    let group = authorize_model(cx, &config, &caller, &create.model)?;
    // Where the create must run: the deployment of the interaction it
    // continues, and of every video it names.
    let mut pin: Option<String> = None;
    let previous = match &create.previous_interaction_id {
        Some(id) => {
            let up = sealer
                .open_upstream_id(Purpose::Interaction, id, &caller.owner())
                .map_err(|e| {
                    e.to_client(Purpose::Interaction)
                        .with_param("previous_interaction_id")
                })?;
            cx.remember_secret(&up.id);
            pin = Some(up.deployment);
            Some(up.id)
        }
        None => None,
    };
    let mut files = Vec::with_capacity(create.sources.len());
    for source in &create.sources {
        let (deployment, file) = resolve_source(cx, &config, &caller, source).await?;
        if pin.as_ref().is_some_and(|p| *p != deployment) {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "`{}` names a video made on another deployment than the rest of the request",
                    source.param
                ),
            )
            .with_param(source.param.clone()));
        }
        pin = Some(deployment);
        files.push(file);
    }
    let route = match &pin {
        Some(dep_id) => {
            let deployment = group
                .deployments
                .iter()
                .find(|d| d.id == *dep_id)
                .ok_or_else(|| {
                    ClientError::new(
                        ErrorCode::InvalidRequest,
                        format!(
                            "the interaction or video this request continues was made by another model than {:?}; use that model",
                            create.model
                        ),
                    )
                })?;
            RoutePlan::pinned(
                deployment,
                group,
                config.router.retry,
                Resend::OnlyIfRejected,
                cx.now_ms,
            )
        }
        None => {
            let policy = caller.policy()?;
            upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected)
        }
    };
    let job = start_sealed(
        cx,
        &mut caller,
        &create.model,
        route,
        |dep| {
            let call = interactions::create_request(&create, dep, &files, previous.as_deref())?;
            Ok(Planned {
                request: call.request,
                seconds: call.seconds,
                size: call.size,
                count: 1,
                prompt: create.prompt.clone(),
            })
        },
        None,
        Purpose::Interaction,
    )
    .await?;
    // The upstream took the job: nothing below may be a 5xx the SDK resends.
    let accepted = |e| video::create_outcome_unknown(e, true);
    let (_, deployment) = config
        .deployment(&job.deployment)
        .ok_or_else(|| accepted(ClientError::from_code(ErrorCode::Internal)))?;
    let view = view(
        cx,
        req,
        version,
        &caller,
        deployment,
        &create.model,
        &job.id,
        &job.handle.operation,
        previous
            .as_deref()
            .zip(create.previous_interaction_id.as_deref()),
        &job.answer,
    )
    .map_err(accepted)?;
    Ok(respond::json(200, &view))
}

/// The deployment and upstream file of a video `source` names: one of
/// `caller`'s gateway file links (of a video job or of an interaction),
/// finished; anything else is `storage_not_allowed`.
async fn resolve_source(
    cx: &Ctx,
    config: &Config,
    caller: &Caller,
    source: &SourceRef,
) -> Result<(String, String), ClientError> {
    let refuse = || {
        video::veo::storage_not_allowed(
            &source.param,
            &format!(
                "`{}` does not name one of this key's videos on this gateway (only the gateway's own file links are accepted)",
                source.param
            ),
        )
    };
    let (video_id, index) = video::file_ref_in_uri(&source.uri).ok_or_else(refuse)?;
    let job = match super::videos::open_job(cx, config, caller, &video_id) {
        Ok(job) => job,
        Err(_) => {
            let id = interactions::interaction_of_file(&video_id).ok_or_else(refuse)?;
            open_as_job(cx, config, caller, &id).map_err(|_| refuse())?
        }
    };
    let files = finished_files(cx, &job).await?;
    let file = files.into_iter().nth(index).ok_or_else(refuse)?;
    Ok((job.deployment.id.clone(), file))
}

/// An upstream interaction answer as `caller` sees it (see
/// `core::video::interactions::client_view`).
#[allow(clippy::too_many_arguments)]
fn view(
    cx: &Ctx,
    req: &Request,
    version: &str,
    caller: &Caller,
    deployment: &Deployment,
    model: &str,
    id: &str,
    upstream_id: &str,
    previous: Option<(&str, &str)>,
    body: &[u8],
) -> Result<serde_json::Value, ClientError> {
    let keys = cx.seal_keys()?;
    let url = req.url().or_internal("reading the request URL")?;
    let base = format!("{}/gemini/{version}", url.origin().ascii_serialization());
    let owner = caller.owner();
    interactions::client_view(
        deployment,
        body,
        model,
        |upstream| {
            if upstream == upstream_id {
                return Some(id.to_owned());
            }
            if let Some((up, sealed)) = previous {
                if upstream == up {
                    return Some(sealed.to_owned());
                }
            }
            keys.seal_upstream_id(
                Purpose::Interaction,
                owner,
                &deployment.id,
                upstream,
                cx.now_ms,
            )
            .ok()
        },
        |index| {
            interactions::file_token(id, index)
                .map(|token| format!("{base}/files/{token}:download?alt=media"))
        },
        &redaction::redactor(cx),
    )
    .map_err(|e| upstream_failure(cx, e))
}

/// Records what a get or cancel answer says of the interaction; the first
/// time it is seen failed, its create's quota hold is refunded.
fn observe(cx: &Ctx, caller: &Caller, opened: &Opened<'_>, record: Option<JobRecord>, body: &[u8]) {
    let (Some(mut record), Ok(operation)) =
        (record, video::parse_poll(opened.job.deployment, body))
    else {
        return;
    };
    // Stored for `/v1/videos` lists: its failure's upstream text cleaned.
    let status = operation.status().redacted(&redaction::redactor(cx));
    let seen = interactions::observe(&mut record, &status);
    if let Some((hold, settlement)) = seen.settle {
        quota::settle_after(cx, &caller.record, &hold, settlement);
    }
    if seen.changed {
        jobs::store_after_response(cx, &opened.job.record_name, &record);
    }
}

async fn get(
    req: &mut Request,
    cx: &Ctx,
    version: &str,
    id: &str,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    refuse_stream(req)?;
    let opened = open(cx, &config, &caller, id)?;
    let dep = opened.job.deployment;
    let plan = interactions::call(dep, UpstreamMethod::Get, &opened.upstream.id, "")?;
    let (response, record) = join(
        upstream::send(cx, dep, &plan),
        jobs::load(&cx.env, &opened.job.record_name),
    )
    .await;
    let record = live(record?)?;
    let body = response
        .map_err(|e| gone_as_not_found(dep, e))?
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    observe(cx, &caller, &opened, record, &body);
    let view = view(
        cx,
        req,
        version,
        &caller,
        dep,
        opened.job.group,
        id,
        &opened.upstream.id,
        None,
        &body,
    )?;
    Ok(respond::json(200, &view))
}

async fn cancel(
    req: &mut Request,
    cx: &Ctx,
    version: &str,
    id: &str,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let opened = open(cx, &config, &caller, id)?;
    let dep = opened.job.deployment;
    let record = live(jobs::load(&cx.env, &opened.job.record_name).await?)?;
    let plan = interactions::call(dep, UpstreamMethod::Post, &opened.upstream.id, "/cancel")?;
    let body = upstream::send(cx, dep, &plan)
        .await
        .map_err(|e| gone_as_not_found(dep, e))?
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    observe(cx, &caller, &opened, record, &body);
    let view = view(
        cx,
        req,
        version,
        &caller,
        dep,
        opened.job.group,
        id,
        &opened.upstream.id,
        None,
        &body,
    )?;
    Ok(respond::json(200, &view))
}

/// Deletes the interaction upstream (already gone there is fine) and hides
/// it from its owner for good: get, cancel, its file links and a second
/// delete answer 404.
async fn delete(req: &mut Request, cx: &Ctx, id: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let opened = open(cx, &config, &caller, id)?;
    let dep = opened.job.deployment;
    let existing = live(jobs::load(&cx.env, &opened.job.record_name).await?)?;
    let plan = interactions::call(dep, UpstreamMethod::Delete, &opened.upstream.id, "")?;
    match upstream::send(cx, dep, &plan).await {
        Ok(_) => {}
        Err(e) if video::already_gone(dep, &e) => {}
        Err(e) => return Err(e),
    }
    let mut record = existing.unwrap_or_else(|| JobRecord {
        id: id.to_owned(),
        prompt: String::new(),
        model: opened.job.group.to_owned(),
        status: String::from("queued"),
        error: None,
        deleted: false,
        remixed_from: None,
        quota_hold: None,
        subject: opened.job.sealed.owner.subject_hex(),
    });
    record.deleted = true;
    jobs::store(&cx.env, &opened.job.record_name, &record).await?;
    Ok(respond::json(200, &serde_json::json!({})))
}
