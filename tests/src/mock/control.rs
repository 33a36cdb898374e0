//! The control API that lets non-Rust tests steer the mock over HTTP.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `POST /_mock/faults` | a [`Fault`] as JSON | `200 {"ok":true}`, `400` if the body is not a fault |
//! | `GET /_mock/requests` | – | JSON array of `{method,path,query,headers:[[k,v]…],body}` |
//! | `POST /_mock/reset` | – | `200 {"ok":true}` |
//! | `GET /_mock/service-account` | – | the test service-account JSON, `token_uri` = `{base}/token` |
//! | `GET /_mock/tokens` | – | `{"issued":N}`, access tokens issued by `POST /token` |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use super::{Fault, RecordedRequest, Shared};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/faults", post(add_fault))
        .route("/_mock/requests", get(list_requests))
        .route("/_mock/reset", post(reset))
        .route("/_mock/service-account", get(service_account))
        .route("/_mock/tokens", get(tokens))
}

async fn service_account(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::test_service_account_json(&shared.base_url),
    )
        .into_response()
}

async fn tokens(State(shared): State<Arc<Shared>>) -> Response {
    let issued = shared.lock().tokens_issued;
    Json(json!({ "issued": issued })).into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            shared.lock().faults.push_back(fault);
            Json(json!({ "ok": true })).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "ok": false, "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// A recorded request with the body as (lossy) UTF-8.
#[derive(Serialize)]
struct RequestView {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
}

impl From<RecordedRequest> for RequestView {
    fn from(r: RecordedRequest) -> Self {
        Self {
            body: String::from_utf8_lossy(&r.body).into_owned(),
            method: r.method,
            path: r.path,
            query: r.query,
            headers: r.headers,
        }
    }
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    let requests = shared.lock().requests.clone();
    let views: Vec<RequestView> = requests.into_iter().map(RequestView::from).collect();
    Json(views).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().reset();
    Json(json!({ "ok": true })).into_response()
}
