// Vertex AI's own Veo shapes, for clients that speak Vertex (google-genai
// with `vertexai=True`, REST callers): under `/vertex_ai/`
//   POST {v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning
//   POST {v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:fetchPredictOperation
//   GET  {v1|v1beta1}/files/{token}:download          a generated video in the gateway's bucket
// The virtual key is the Bearer token (the SDK's `Credentials(token=…)`);
// the deployment's own project, location, storage and service-account
// token replace the client's upstream. Operation names end in the sealed
// video id (the same jobs `/v1/videos` sees); videos in Cloud Storage are
// handed out as gateway file URIs. Errors are Google-shaped.

use reelay_core::config::Deployment;
use reelay_core::encoding::percent_decode;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::video::{self, vertex, GoogleShape};
use worker::{Method, Request, Response};

use super::videos::{live_record, open_job, remember_status, status_of};
use crate::context::Ctx;
use crate::jobs;
use crate::pipeline;
use crate::request::read_body;
use crate::respond::{self, OrInternal};
use crate::upstream::{self, upstream_failure};

/// `rest` is the path after `/vertex_ai/`, split on `/`.
pub(super) async fn dispatch(
    req: &mut Request,
    cx: &Ctx,
    rest: &[&str],
) -> Result<Response, ClientError> {
    match rest {
        [version, "projects", project, "locations", location, "publishers", "google", "models", action]
            if matches!(*version, "v1" | "v1beta1") =>
        {
            crate::request::allow(&crate::request::method(req), &[Method::Post])?;
            let (model, verb) = action.rsplit_once(':').ok_or_else(route_not_found)?;
            let model = percent_decode(model).ok_or_else(|| {
                ClientError::new(
                    ErrorCode::InvalidRequest,
                    "the model in the path is not valid percent-encoding",
                )
            })?;
            let prefix =
                format!("projects/{project}/locations/{location}/publishers/google/models/{model}");
            match verb {
                "predictLongRunning" => create(req, cx, &model, &prefix).await,
                "fetchPredictOperation" => fetch(req, cx, version).await,
                _ => Err(route_not_found()),
            }
        }
        [version, "files", action]
            if matches!(*version, "v1" | "v1beta1") && action.ends_with(":download") =>
        {
            crate::request::allow(&crate::request::method(req), &[Method::Get])?;
            let token = action.trim_end_matches(":download").to_owned();
            super::google::file(req, cx, &token, GoogleShape::Vertex).await
        }
        _ => Err(route_not_found()),
    }
}

fn route_not_found() -> ClientError {
    ClientError::new(
        ErrorCode::RouteNotFound,
        "no such Vertex AI route on this gateway (supported: publishers/google/models/{model}:predictLongRunning and :fetchPredictOperation, files/{id}:download)",
    )
}

fn require_vertex(dep: &Deployment) -> Result<(), ClientError> {
    video::require_google_shape(dep, GoogleShape::Vertex)
}

async fn create(
    req: &mut Request,
    cx: &Ctx,
    model: &str,
    prefix: &str,
) -> Result<Response, ClientError> {
    let job = super::google::submit_native(req, cx, model, GoogleShape::Vertex).await?;
    Ok(respond::json(
        200,
        &serde_json::json!({ "name": format!("{prefix}/operations/{}", job.id) }),
    ))
}

async fn fetch(req: &mut Request, cx: &Ctx, version: &str) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, true).await?;
    let body = read_body(req, 64 * 1024).await?;
    let fetch: vertex::FetchOperation<'_> = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ClientError::new(
                ErrorCode::InvalidRequest,
                format!("`operationName` (a string) is required and the only field: {e}"),
            )
            .with_param("operationName")
        } else {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("Invalid JSON payload received. {e}"),
            )
        }
    })?;
    let name = fetch.operation_name.as_ref();
    let id = name.rsplit('/').next().unwrap_or_default();
    let job = open_job(cx, &config, &caller, id)?;
    require_vertex(job.deployment)?;
    let plan = vertex::poll_request(job.deployment, &job.handle)?;
    let (response, record) = futures_util::future::join(
        upstream::send(cx, job.deployment, &plan),
        jobs::load(&cx.env, &job.record_name),
    )
    .await;
    let mut record = live_record(record?)?;
    let upstream_body = response?
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let state = vertex::parse_operation(&upstream_body).map_err(|e| upstream_failure(cx, e))?;
    if let Some(record) = record.as_mut() {
        remember_status(cx, &caller, &job, record, &status_of(cx, state));
    }
    let base = format!("{}/vertex_ai/{version}", super::google::origin_of(req)?);
    let mut view = vertex::native_operation(&upstream_body, name, |index| {
        super::google::file_uri(&base, id, index)
    })
    .map_err(|e| upstream_failure(cx, e))?;
    video::redact_operation(&mut view, &crate::redaction::redactor(cx));
    Ok(respond::json(200, &view))
}
