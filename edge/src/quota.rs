// The `QUOTA` Durable Object: one per virtual key (addressed by the key's
// token), holding exact usage counters in SQLite. Counting lives here, not
// in KV, because KV loses concurrent increments (last write wins); a DO is
// single-threaded and `sql.exec` is synchronous, so an upsert is atomic.
//
// For now it counts usage (video jobs created) shown by `/key/info`;
// limits, reservations and refunds build on it.

use serde::Deserialize;
use serde_json::{Map, Value};
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, SqlStorageValue,
    State,
};

use crate::context::Ctx;
use crate::respond::OrInternal;
use reelay_core::errors::ClientError;

const BINDING: &str = "QUOTA";

/// Exact per-key usage counters.
#[durable_object]
pub struct QuotaCounter {
    state: State,
}

#[derive(Deserialize)]
struct CountRequest {
    counter: String,
    by: i64,
}

#[derive(Deserialize)]
struct CounterRow {
    name: String,
    value: i64,
}

impl DurableObject for QuotaCounter {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(
            "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            None,
        ) {
            worker::console_error!("QuotaCounter: creating the counters table failed: {e}");
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let sql = self.state.storage().sql();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/count") => {
                let body: CountRequest = match req.json().await {
                    Ok(body) => body,
                    Err(_) => return Response::error("bad count request", 400),
                };
                let rows: Vec<CounterRow> = sql
                    .exec(
                        "INSERT INTO counters (name, value) VALUES (?, ?) \
                         ON CONFLICT(name) DO UPDATE SET value = value + excluded.value \
                         RETURNING name, value",
                        vec![
                            SqlStorageValue::from(body.counter),
                            SqlStorageValue::from(body.by),
                        ],
                    )?
                    .to_array()?;
                let value = rows.first().map_or(0, |r| r.value);
                Response::from_json(&serde_json::json!({ "value": value }))
            }
            (Method::Get, "/usage") => {
                let rows: Vec<CounterRow> = sql
                    .exec("SELECT name, value FROM counters ORDER BY name", None)?
                    .to_array()?;
                let usage: Map<String, Value> = rows
                    .into_iter()
                    .map(|r| (r.name, Value::from(r.value)))
                    .collect();
                Response::from_json(&Value::Object(usage))
            }
            _ => Response::error("not found", 404),
        }
    }
}

/// Adds `by` to the caller's `counter`.
pub(crate) async fn count(
    env: &Env,
    token: &str,
    counter: &str,
    by: i64,
) -> Result<(), ClientError> {
    let stub = env
        .durable_object(BINDING)
        .or_storage("opening the quota store")?
        .get_by_name(token)
        .or_storage("addressing the quota store")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post);
    init.with_body(Some(
        serde_json::json!({ "counter": counter, "by": by })
            .to_string()
            .into(),
    ));
    let req = Request::new_with_init("https://quota/count", &init)
        .or_internal("building a quota request")?;
    let resp = stub
        .fetch_with_request(req)
        .await
        .or_storage("updating usage")?;
    if resp.status_code() != 200 {
        return Err(ClientError::new(
            reelay_core::errors::ErrorCode::StorageUnavailable,
            "the usage counter rejected an update",
        ));
    }
    Ok(())
}

/// The caller's counters.
pub(crate) async fn usage(cx: &Ctx, token: &str) -> Result<Value, ClientError> {
    let stub = cx
        .env
        .durable_object(BINDING)
        .or_storage("opening the quota store")?
        .get_by_name(token)
        .or_storage("addressing the quota store")?;
    let mut resp = stub
        .fetch_with_str("https://quota/usage")
        .await
        .or_storage("reading usage")?;
    resp.json::<Value>().await.or_storage("reading usage")
}
