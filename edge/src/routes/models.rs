// `GET /v1/models`: the model groups the calling key may use, in OpenAI's
// list shape. Matching is by the key's patterns against the current config,
// so a model added to config later shows up without touching the key.

use reelay_core::errors::ClientError;
use serde_json::json;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::pipeline;
use crate::respond;

pub(super) async fn list(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    let policy = caller.policy()?;
    let data: Vec<_> = config
        .model_groups
        .iter()
        .filter(|g| policy.allows(&g.name))
        .map(|g| json!({ "id": g.name, "object": "model", "created": 0, "owned_by": "reelay" }))
        .collect();
    Ok(respond::json(
        200,
        &json!({ "object": "list", "data": data }),
    ))
}
