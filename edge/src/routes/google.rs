// Google's own Veo shapes, for clients that speak Gemini (google-genai,
// @google/genai, hand-written clients like the seed's): under `/gemini/`
//   POST v1beta/models/{model}:predictLongRunning   create (body passed through)
//   GET  v1beta/…/operations/{id}                   poll
//   GET  v1beta/files/{token}:download              generated video bytes
// The virtual key comes as `x-goog-api-key`, `?key=` or Bearer; the real
// credential replaces it upstream. Operation names carry the same sealed
// video id as `/v1/videos` (so both APIs see the same jobs), and file URIs
// point back at the gateway with a lowercase token Google's SDKs accept.
// Errors are Google-shaped (`respond::error` with the Google dialect).

use reelay_core::config::Deployment;
use reelay_core::encoding::percent_decode;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::seal::{id_to_token, token_to_id, Purpose};
use reelay_core::video::{self, gemini, GoogleShape, Variant};
use worker::{Method, Request, Response};

use super::videos::{
    download, live_record, open_job, remember_status, status_of, submit, Planned, Submitted,
};
use crate::context::Ctx;
use crate::jobs;
use crate::keys;
use crate::pipeline;
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
            file(req, cx, &token).await
        }
        [version, .., "operations", id] if is_version(version) => {
            crate::request::allow(&method, &[Method::Get])?;
            let name = rest[1..].join("/");
            let id = (*id).to_owned();
            operation(req, cx, version, &name, &id).await
        }
        _ => Err(ClientError::new(
            ErrorCode::RouteNotFound,
            "no such Gemini route on this gateway (supported: models/{model}:predictLongRunning, operations, files/{id}:download)",
        )),
    }
}

fn is_version(segment: &str) -> bool {
    matches!(segment, "v1beta" | "v1alpha")
}

async fn create(req: &mut Request, cx: &Ctx, model: &str) -> Result<Response, ClientError> {
    let job = submit_native(req, cx, model, require_gemini).await?;
    Ok(respond::json(
        200,
        &serde_json::json!({ "name": format!("models/{model}/operations/{}", job.id) }),
    ))
}

/// Starts a job from a Google-shaped `predictLongRunning` body (Gemini or
/// Vertex routes): the body is parsed into the typed Veo request, checked,
/// and that typed value is sent to a deployment `require` accepts.
pub(super) async fn submit_native(
    req: &mut Request,
    cx: &Ctx,
    model: &str,
    require: fn(&Deployment) -> Result<(), ClientError>,
) -> Result<Submitted, ClientError> {
    let config = cx.config()?;
    // Admitted once the job's cost is known (in `submit`).
    let mut caller = keys::identify(req, cx, true).await?;
    // The model is in the path: a key that may not use it is refused
    // before its body is read.
    pipeline::authorize_model(cx, &config, &caller, model)?;
    let body = read_body(req, config.max_body_bytes).await?;
    submit(cx, &config, &mut caller, model, |dep| {
        require(dep)?;
        let native = video::native_create_request(&body, dep)?;
        Ok(Planned {
            request: native.request,
            seconds: native.seconds,
            size: native.size,
            prompt: native.prompt,
        })
    })
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
    require_gemini(job.deployment)?;
    let plan = gemini::poll_request(job.deployment, &job.handle);
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
    let state = gemini::parse_operation(&body).map_err(|e| upstream_failure(cx, e))?;
    if let Some(record) = record.as_mut() {
        remember_status(cx, &caller, &job, record, &status_of(state));
    }
    let origin = origin_of(req)?;
    let token = id_to_token(Purpose::Video, id)
        .ok_or_else(|| ClientError::from_code(ErrorCode::VideoNotFound))?;
    let view = gemini::native_operation(&body, name, |index| {
        format!("{origin}/gemini/{version}/files/{token}0{index}:download?alt=media")
    })
    .map_err(|e| upstream_failure(cx, e))?;
    Ok(respond::json(200, &view))
}

async fn file(req: &mut Request, cx: &Ctx, token: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let not_found = || {
        ClientError::new(
            ErrorCode::VideoNotFound,
            "no file with this id exists for this key",
        )
    };
    // Base32 never contains '0': the first one separates the sealed id from the sample index.
    let (sealed, index) = token.split_once('0').ok_or_else(not_found)?;
    let index: usize = index.parse().map_err(|_| not_found())?;
    let id = token_to_id(Purpose::Video, sealed).ok_or_else(not_found)?;
    let job = open_job(cx, &config, &caller, &id)?;
    require_gemini(job.deployment)?;
    download(cx, &job, &id, index, Variant::Video).await
}

/// Google's shapes are Veo-on-Gemini's own; other providers' jobs are only
/// reachable through `/v1/videos`.
fn require_gemini(dep: &Deployment) -> Result<(), ClientError> {
    video::require_google_shape(dep, GoogleShape::Gemini)
}

/// `scheme://host[:port]` of the request, for URLs that point back here.
fn origin_of(req: &Request) -> Result<String, ClientError> {
    let url = req.url().or_internal("reading the request URL")?;
    Ok(url.origin().ascii_serialization())
}
