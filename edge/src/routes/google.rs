// Google's own Veo shapes, for clients that speak Gemini (google-genai,
// @google/genai, hand-written clients like the seed's): under `/gemini/`
//   POST {v}/models/{model}:predictLongRunning   create (body checked, re-serialized)
//   GET  {v}/…/operations/{id}                   poll
//   GET  {v}/files/{token}:download              generated video bytes
// where {v} is `v1beta`, `v1alpha` or `v1` (google-genai 3.x's default):
// the gateway answers the same on all three.
// The virtual key comes as `x-goog-api-key`, `?key=` or Bearer; the real
// credential replaces it upstream. Operation names carry the same sealed
// video id as `/v1/videos` (so both APIs see the same jobs), and file URIs
// point back at the gateway with a lowercase token Google's SDKs accept.
// A model group served by Vertex answers here too: core translates the
// Gemini API's operations to and from Vertex's (`video::gemini_operation`),
// and its videos (in the gateway's bucket or inline) are served through
// the same file URIs.
// A create may name one of the caller's videos (by the file URI the
// gateway handed out) as its input; it then runs on the deployment holding
// that video. Errors are Google-shaped (`respond::error` with the Google
// dialect).

use reelay_core::config::Deployment;
use reelay_core::encoding::percent_decode;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::retry::{Resend, RoutePlan};
use reelay_core::video::{self, GoogleShape, Variant};
use worker::{Method, Request, Response};

use super::videos::{
    download, finished_files, live_record, open_job, remember_status, start, status_of, submit,
    Planned, Submitted,
};
use crate::context::Ctx;
use crate::jobs;
use crate::keys;
use crate::pipeline;
use crate::pipeline::authorize_model;
use crate::request::read_body;
use crate::respond::{self, OrInternal};
use crate::upstream::{self, upstream_failure};

/// `rest` is the path after `/gemini/`, split on `/`.
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    rest: &[&str],
) -> Result<Response, ClientError> {
    let method = crate::request::method(req);
    match rest {
        [version, "models", action] if is_version(version) && action.ends_with(":predictLongRunning") => {
            crate::request::allow(&method, &[Method::Post])?;
            let model = percent_decode(action.trim_end_matches(":predictLongRunning")).ok_or_else(|| {
                ClientError::new(ErrorCode::InvalidRequest, "the model in the path is not valid percent-encoding")
            })?;
            create(req, cx, &model).await
        }
        [version, "files", action] if is_version(version) && action.ends_with(":download") => {
            crate::request::allow(&method, &[Method::Get])?;
            let token = action.trim_end_matches(":download").to_owned();
            file(req, cx, &token, GoogleShape::Gemini).await
        }
        // google-genai's `files.download` takes the file id out of `https://`
        // URIs only; handed the gateway's `http://…/files/{token}:download?alt=media`
        // (scripts/dev, tests) it asks for `files/http://…/files/{token}:download`
        // instead: the same token, served the same way.
        [version, "files", scheme, "", .., "files", action]
            if is_version(version)
                && matches!(*scheme, "http:" | "https:")
                && action.ends_with(":download") =>
        {
            crate::request::allow(&method, &[Method::Get])?;
            let token = action.trim_end_matches(":download").to_owned();
            file(req, cx, &token, GoogleShape::Gemini).await
        }
        [version, .., "operations", id] if is_version(version) => {
            crate::request::allow(&method, &[Method::Get])?;
            let name = rest[1..].join("/");
            let id = (*id).to_owned();
            operation(req, cx, version, &name, &id).await
        }
        // Omni video through the Interactions API (the Live Interactions
        // socket and its auth tokens are routed elsewhere).
        [version, "interactions", tail @ ..]
            if is_version(version)
                && tail.first() != Some(&"live")
                && !tail.contains(&"auth_tokens") =>
        {
            let version = (*version).to_owned();
            super::interactions::dispatch(req, cx, &version, tail).await
        }
        _ => Err(ClientError::new(
            ErrorCode::RouteNotFound,
            "no such Gemini route on this gateway (supported: models/{model}:predictLongRunning, operations, files/{id}:download, interactions)",
        )),
    }
}

/// The Gemini API versions the gateway answers on (all alike).
pub(super) fn is_version(segment: &str) -> bool {
    matches!(segment, "v1" | "v1beta" | "v1alpha")
}

async fn create(req: &mut Request, cx: &Ctx, model: &str) -> Result<Response, ClientError> {
    let job = submit_native(req, cx, model, GoogleShape::Gemini).await?;
    Ok(respond::json(
        200,
        &serde_json::json!({ "name": format!("models/{model}/operations/{}", job.id) }),
    ))
}

/// Starts a job from a Google-shaped `predictLongRunning` body (Gemini or
/// Vertex routes, `shape`): the body is parsed into the typed Veo request,
/// checked, and that typed value is sent to a deployment that speaks
/// `shape`. A body naming one of the caller's videos as its input runs on
/// the deployment holding that video, with its upstream file put in.
pub(super) async fn submit_native(
    req: &mut Request,
    cx: &Ctx,
    model: &str,
    shape: GoogleShape,
) -> Result<Submitted, ClientError> {
    let config = cx.config()?;
    // Admitted once the job's cost is known (in `submit` / `start`).
    let mut caller = keys::identify(req, cx, true).await?;
    // The model is in the path: a key that may not use it is refused
    // before its body is read.
    pipeline::authorize_model(cx, &config, &caller, model)?;
    let body = read_body(req, config.max_body_bytes).await?;
    let native = video::parse_native(&body)?;
    let plan = |dep: &Deployment, source_file: Option<&str>| -> Result<Planned, ClientError> {
        video::require_google_shape(dep, shape)?;
        let call = video::native_create_request(&native, dep, source_file)?;
        Ok(Planned {
            request: call.request,
            seconds: call.seconds,
            size: call.size,
            count: call.count,
            prompt: call.prompt,
        })
    };
    let Some(source) = &native.source else {
        return submit(cx, &config, &mut caller, model, |dep| plan(dep, None)).await;
    };
    let group = authorize_model(cx, &config, &caller, model)?;
    // Another key's, forged or tampered: the same refusal as any URI the
    // gateway did not issue to this key.
    let job = open_job(cx, &config, &caller, &source.video_id).map_err(|_| {
        video::veo::storage_not_allowed(
            &source.param,
            &format!("`{}` does not name one of this key's videos", source.param),
        )
    })?;
    video::require_google_shape(job.deployment, shape)?;
    let deployment = group
        .deployments
        .iter()
        .find(|d| d.id == job.deployment.id)
        .ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "the video in `{}` was made by model {:?}; use that model to continue it",
                    source.param, job.group
                ),
            )
            .with_param(source.param.clone())
        })?;
    let files = finished_files(cx, &job).await?;
    let file = files.get(source.index).ok_or_else(|| {
        ClientError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the video in `{}` has no file number {}",
                source.param, source.index
            ),
        )
        .with_param(source.param.clone())
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
        model,
        route,
        |dep| plan(dep, Some(file)),
        None,
    )
    .await
}

async fn operation(
    req: &mut Request,
    cx: &Ctx,
    version: &str,
    name: &str,
    id: &str,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let job = open_job(cx, &config, &caller, id)?;
    video::require_google_shape(job.deployment, GoogleShape::Gemini)?;
    let plan = video::poll_request(job.deployment, &job.handle)?;
    let (response, record) = futures_util::future::join(
        upstream::send(cx, job.deployment, &plan),
        jobs::load(&cx.env, &job.record_name),
    )
    .await;
    let mut record = live_record(record?)?;
    let body = response?
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let base = format!("{}/gemini/{version}", origin_of(req)?);
    let (state, mut view) = video::gemini_operation(job.deployment, &body, name, |index| {
        file_uri(&base, id, index)
    })
    .map_err(|e| upstream_failure(cx, e))?;
    video::redact_operation(&mut view, &crate::redaction::redactor(cx));
    if let Some(record) = record.as_mut() {
        remember_status(cx, &caller, &job, record, &status_of(cx, state));
    }
    Ok(respond::json(200, &view))
}

/// The gateway URI of generated file `index` of video `id`, under `base`
/// (`{origin}/gemini/{version}` or `{origin}/vertex_ai/{version}`).
pub(super) fn file_uri(base: &str, id: &str, index: usize) -> String {
    let token = video::file_token(id, index).unwrap_or_default();
    format!("{base}/files/{token}:download?alt=media")
}

/// Streams a generated file by its token, for the key that owns the job,
/// if the job's deployment speaks `shape`.
pub(super) async fn file(
    req: &mut Request,
    cx: &Ctx,
    token: &str,
    shape: GoogleShape,
) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let (id, index) = video::open_file_token(token).ok_or_else(|| {
        ClientError::new(
            ErrorCode::VideoNotFound,
            "no file with this id exists for this key",
        )
    })?;
    let job = match open_job(cx, &config, &caller, &id) {
        Ok(job) => job,
        // Not a video's: perhaps an interaction's (made through the
        // interactions door, whose file links use its `int_` id).
        Err(err) => {
            let Some(interaction) = reelay_core::video::interactions::interaction_of_file(&id)
            else {
                return Err(err);
            };
            let Ok(job) = super::interactions::open_as_job(cx, &config, &caller, &interaction)
            else {
                return Err(err);
            };
            return download(cx, &job, &interaction, index, Variant::Video).await;
        }
    };
    video::require_google_shape(job.deployment, shape)?;
    download(cx, &job, &id, index, Variant::Video).await
}

/// `scheme://host[:port]` of the request, for URLs that point back here.
pub(super) fn origin_of(req: &Request) -> Result<String, ClientError> {
    let url = req.url().or_internal("reading the request URL")?;
    Ok(url.origin().ascii_serialization())
}
