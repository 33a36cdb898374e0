// Sora characters: `POST /v1/videos/characters` (multipart `name` + `video`,
// plus reelay's optional `model` to pick the Sora model group) and
// `GET /v1/videos/characters/{id}`. Character ids are sealed like video ids
// (`char_…`, purpose-bound, owner-bound), so a create that names characters
// is pinned to the deployment holding them.

use reelay_core::config::Deployment;
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::retry::Resend;
use reelay_core::seal::{Purpose, Sealed};
use reelay_core::video;
use reelay_core::video::openai::{self, Character, CHARACTER_FORM_PARTS};
use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::{FormEntry, Headers, Request, RequestInit};

use crate::context::Ctx;
use crate::keys::Caller;
use crate::pipeline::{self, authorize_model};
use crate::request::read_form;
use crate::respond::{self, OrInternal};
use crate::upstream::{self, upstream_failure, Failure};

/// Longest character name (OpenAI's bound).
const MAX_NAME_CHARS: usize = 80;

pub(super) async fn create(req: &mut Request, cx: &Ctx) -> Result<worker::Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    if crate::request::media_type(req) != "multipart/form-data" {
        return Err(ClientError::new(
            ErrorCode::UnsupportedMediaType,
            "characters are created with multipart/form-data (`name` and a `video` file)",
        ));
    }
    // Only the parts checked here go upstream: unknown or repeated ones are refused.
    let form = read_form(req, config.max_body_bytes, CHARACTER_FORM_PARTS).await?;
    match form.get("name") {
        Some(FormEntry::Field(name))
            if !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS => {}
        _ => {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("`name` is required (1..={MAX_NAME_CHARS} characters)"),
            )
            .with_param("name"))
        }
    }
    if !matches!(form.get("video"), Some(FormEntry::File(_))) {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "`video` (a file part) is required",
        )
        .with_param("video"));
    }
    let model = match form.get("model") {
        Some(FormEntry::Field(model)) => model,
        _ => config.default_video_model.clone().ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidRequest,
                "`model` is required: the Sora model group to create the character on",
            )
            .with_param("model")
        })?,
    };
    let group = authorize_model(cx, &config, &caller, &model)?;
    let policy = caller.policy()?;
    let mut route = upstream::new_work(cx, &config, &policy, group, Resend::OnlyIfRejected);
    let first = upstream::first_attempt(&mut route)?;
    if !video::supports_characters(first.deployment) {
        return Err(ClientError::new(
            ErrorCode::UnsupportedValue,
            format!("characters are a Sora feature; model {model:?} is served by Veo"),
        )
        .with_param("model"));
    }

    // The form goes upstream with only the parts checked above (unknown and
    // repeated ones were refused; the runtime re-encodes it), minus
    // reelay's own `model` field.
    form.delete("model");
    // One form object, sent again as it is if an attempt is refused.
    let form = JsValue::from(form);
    let served = upstream::with_failover(cx, &mut route, first, async |deployment, _| {
        send_character(cx, deployment, &form).await
    })
    .await?;
    let (mut response, deployment) = (served.value, served.deployment);
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let character = openai::parse_character(&body).map_err(|e| upstream_failure(cx, e))?;
    let id = cx
        .seal_keys()?
        .seal_id(&Sealed {
            purpose: Purpose::Character,
            owner: caller.owner(),
            created_at_ms: cx.now_ms,
            deployment: deployment.id.clone(),
            payload: character.id.clone().into_bytes(),
        })
        .map_err(|e| e.to_client(Purpose::Character))?;
    Ok(respond::json(200, &view(&id, &character)))
}

pub(super) async fn retrieve(
    req: &mut Request,
    cx: &Ctx,
    id: &str,
) -> Result<worker::Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let (deployment_id, upstream_id) = open(cx, &caller, id)?;
    let (_, deployment) = config.deployment(&deployment_id).ok_or_else(not_found)?;
    cx.log.borrow_mut().deployment = Some(deployment.id.clone());
    let mut response = upstream::send(
        cx,
        deployment,
        &video::characters_api(deployment)?.character_request(deployment, &upstream_id),
    )
    .await?;
    let body = response
        .bytes()
        .await
        .or_internal("reading the provider's answer")?;
    let character = openai::parse_character(&body).map_err(|e| upstream_failure(cx, e))?;
    Ok(respond::json(200, &view(id, &character)))
}

fn view(id: &str, character: &Character) -> serde_json::Value {
    json!({ "id": id, "object": "character", "name": character.name, "created_at": character.created_at })
}

use reelay_core::video::openai::character_not_found as not_found;

/// The deployment and upstream id behind one of `caller`'s character ids
/// (core decides: one 404 for forged, tampered and foreign ids).
fn open(cx: &Ctx, caller: &Caller, id: &str) -> Result<(String, String), ClientError> {
    openai::open_character(&*cx.seal_keys()?, id, &caller.owner())
}

/// Opens every character of a create request: they must all live on one
/// deployment, which the job is pinned to. Returns it and the upstream ids.
pub(super) fn open_all(
    cx: &Ctx,
    caller: &Caller,
    ids: &[String],
) -> Result<(String, Vec<String>), ClientError> {
    let mut pinned: Option<String> = None;
    let mut upstream_ids = Vec::with_capacity(ids.len());
    for id in ids {
        let (deployment, upstream) = open(cx, caller, id)?;
        match &pinned {
            Some(p) if *p != deployment => {
                return Err(ClientError::new(
                    ErrorCode::InvalidRequest,
                    "the characters were created on different deployments and cannot be combined",
                )
                .with_param("characters"))
            }
            _ => pinned = Some(deployment),
        }
        upstream_ids.push(upstream);
    }
    let pinned = pinned.ok_or_else(|| ClientError::from_code(ErrorCode::InvalidRequest))?;
    Ok((pinned, upstream_ids))
}

/// One attempt at creating a character on `deployment` (a Sora one).
async fn send_character(
    cx: &Ctx,
    deployment: &Deployment,
    form: &JsValue,
) -> Result<worker::Response, Failure> {
    let sora = video::characters_api(deployment)?;
    let headers = Headers::new();
    let credential = upstream::credential(cx, deployment)?;
    match sora.auth() {
        reelay_core::plan::Auth::AzureApiKey => headers.set("api-key", &credential),
        _ => headers.set("authorization", &format!("Bearer {credential}")),
    }
    .map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "the deployment's credential is not a valid header value",
        )
    })?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_headers(headers)
        .with_body(Some(form.clone()));
    let request = Request::new_with_init(&sora.characters_url(deployment), &init)
        .or_internal("building the character request")?;
    upstream::send_classified(cx, request, deployment.timeout_ms, &deployment.id).await
}
