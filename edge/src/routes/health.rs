// `/health/liveliness` (the isolate answers) and `/health/readiness` (the
// config is valid, required secrets exist, KV answers). Readiness names
// missing secrets but never shows a value.

use reelay_core::errors::ClientError;
use serde_json::{json, Value};
use worker::Response;

use crate::context::Ctx;
use crate::keys;
use crate::respond;

pub(super) fn liveliness() -> Response {
    respond::json(200, &json!({ "status": "alive" }))
}

pub(super) async fn readiness(cx: &Ctx) -> Result<Response, ClientError> {
    let mut ready = true;
    let mut checks = serde_json::Map::new();
    let mut record = |name: &str, result: Result<Value, String>, required: bool| {
        let entry = match result {
            Ok(extra) => {
                let mut ok = json!({ "ok": true });
                if let (Some(obj), Value::Object(more)) = (ok.as_object_mut(), extra) {
                    obj.extend(more);
                }
                ok
            }
            Err(error) => {
                if required {
                    ready = false;
                }
                json!({ "ok": false, "error": error })
            }
        };
        checks.insert(name.to_owned(), entry);
    };

    let config = cx.config();
    match &config {
        Ok(cfg) => {
            record(
                "config",
                Ok(json!({ "model_groups": cfg.model_groups.len() })),
                true,
            );
            let missing: Vec<&str> = cfg
                .credential_names()
                .into_iter()
                .filter(|name| cx.env.secret(name).is_err())
                .collect();
            let creds = if missing.is_empty() {
                Ok(Value::Null)
            } else {
                Err(format!("secrets not set: {}", missing.join(", ")))
            };
            record("credentials", creds, true);
        }
        Err(e) => record("config", Err(e.message.clone()), true),
    }
    record(
        "sealing_key",
        cx.seal_keys().map(|_| Value::Null).map_err(|e| e.message),
        true,
    );
    let master = cx
        .env
        .secret("MASTER_KEY")
        .map(|_| Value::Null)
        .map_err(|_| String::from("MASTER_KEY is not set; the admin API is disabled"));
    record("master_key", master, false);
    record(
        "kv",
        keys::ping(cx)
            .await
            .map(|()| Value::Null)
            .map_err(|e| e.message),
        true,
    );

    let status = if ready { "ready" } else { "not_ready" };
    Ok(respond::json(
        if ready { 200 } else { 503 },
        &json!({ "status": status, "checks": checks }),
    ))
}
