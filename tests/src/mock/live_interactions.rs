//! Gemini Live Interactions (experimental upstream, December 2026 reference
//! §6.3): the `/{v}/interactions/live` WebSocket.
//!
//! | Wire | Mock |
//! |---|---|
//! | `GET /{v1,v1beta,v1alpha}/interactions/live` (WebSocket) | `x-goog-api-key` (or `?key=`) must be [`MockOptions::api_key`](super::MockOptions), else HTTP 401 Google-shaped before the upgrade; the `api-revision` header is recorded |
//! | first frame `interaction.connect {id}` | a known id → `interaction.connected {id}`; unknown → `error {code:"not_found"}` and close 1008 |
//! | first frame `interaction.create {model}` | a `gemini-*live*` model → a new `v1_live_<n>` id and `interaction.created {interaction_id}` (a **binary** frame, as Google's Live servers send); another model → `error` and close 1008 |
//! | anything else first | `error {code:"invalid_request"}` and close 1007 |
//! | `input` | text content → one `{"events":[step.start, step.delta {type:"text", text:"echo: …"}, step.stop]}` batch; audio content → the same with `{type:"audio", mime_type:"audio/pcm;rate=24000", data}` echoed; the text `[[error-echo-key]]` → an `error` event whose message names the key the socket was opened with |
//! | `interaction.complete` | `interaction.completed {status:{code:0}, usage, created, updated}`, close 1000 |
//! | `interaction.cancel` | `interaction.cancelled {usage}`, close 1000 |
//! | `interaction.disconnect` | close 1000 (the interaction stays connectable) |
//! | other event types | `error {code:"invalid_request"}` |
//! | `GET /_mock/live_interactions` | control: `{"interactions":[{id, model}], "sessions":[{first, received, api_revision, auth}]}` |
//!
//! Client frames may be one event or an `{"events":[…]}` batch, text or
//! binary; every server event carries `event_type`.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::Shared;

/// One socket as the mock saw it.
#[derive(Debug, Clone, Default)]
struct SocketRecord {
    /// The first frame, as received (JSON).
    first: Value,
    /// Event types received after it.
    received: Vec<String>,
    api_revision: Option<String>,
    auth: &'static str,
}

/// Live interactions and sockets (cleared by a reset).
#[derive(Debug, Default)]
pub(crate) struct LiveInteractionsState {
    interactions: Vec<(String, String)>,
    sockets: Vec<SocketRecord>,
}

impl LiveInteractionsState {
    pub(crate) fn clear(&mut self) {
        self.interactions.clear();
        self.sockets.clear();
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new().route("/_mock/live_interactions", get(inspect));
    for v in ["v1", "v1beta", "v1alpha"] {
        router = router.route(&format!("/{v}/interactions/live"), get(socket));
    }
    router
}

async fn socket(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let header = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query_key = pairs
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone());
    let (auth, presented) = match (header, query_key) {
        (Some(k), _) => ("x-goog-api-key", k),
        (None, Some(k)) => ("key", k),
        (None, None) => ("none", String::new()),
    };
    if presented != shared.opts.api_key {
        let body = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
            "message": "API key not valid. Please pass a valid API key."}});
        return (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let api_revision = headers
        .get("api-revision")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let index = {
        let mut state = shared.lock();
        state.live_interactions.sockets.push(SocketRecord {
            api_revision,
            auth,
            ..SocketRecord::default()
        });
        state.live_interactions.sockets.len() - 1
    };
    upgrade.on_upgrade(move |ws| run(shared, index, presented, ws))
}

fn event(kind: &str, fields: Value) -> Value {
    let mut map = Map::new();
    map.insert("event_type".into(), Value::from(kind));
    if let Value::Object(fields) = fields {
        map.extend(fields);
    }
    Value::Object(map)
}

async fn send(ws: &mut WebSocket, value: &Value) -> bool {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn close(ws: &mut WebSocket, code: u16, reason: &str) {
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
    while let Some(Ok(m)) = ws.recv().await {
        if matches!(m, Message::Close(_)) {
            break;
        }
    }
}

fn events_of(frame: Value) -> Vec<Value> {
    match frame {
        Value::Object(mut map) => match map.remove("events") {
            Some(Value::Array(items)) => items,
            _ => vec![Value::Object(map)],
        },
        other => vec![other],
    }
}

fn usage() -> Value {
    json!({"total_input_tokens": 12, "total_output_tokens": 34, "total_tokens": 46})
}

async fn run(shared: Arc<Shared>, index: usize, presented: String, mut ws: WebSocket) {
    let record = |f: &mut dyn FnMut(&mut SocketRecord)| {
        if let Some(s) = shared.lock().live_interactions.sockets.get_mut(index) {
            f(s);
        }
    };
    let mut opened = false;
    let mut step = 0u64;
    while let Some(Ok(message)) = ws.recv().await {
        let bytes: Vec<u8> = match message {
            Message::Text(t) => t.as_str().as_bytes().to_vec(),
            Message::Binary(b) => b.to_vec(),
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let Ok(frame) = serde_json::from_slice::<Value>(&bytes) else {
            let error = event(
                "error",
                json!({"error": {"code": "invalid_request",
                "message": "Invalid JSON payload received."}}),
            );
            let _ = send(&mut ws, &error).await;
            close(&mut ws, 1007, "Invalid JSON payload received.").await;
            return;
        };
        if !opened {
            record(&mut |s| s.first = frame.clone());
        }
        for incoming in events_of(frame) {
            let kind = incoming["event_type"].as_str().unwrap_or("").to_owned();
            if !opened {
                opened = true;
                let answer = match kind.as_str() {
                    "interaction.connect" => {
                        let id = incoming["id"].as_str().unwrap_or("").to_owned();
                        let known = shared
                            .lock()
                            .live_interactions
                            .interactions
                            .iter()
                            .any(|(i, _)| *i == id);
                        if known {
                            Ok(event("interaction.connected", json!({"id": id})))
                        } else {
                            Err((1008, "not_found", format!("Invalid interaction name: {id}")))
                        }
                    }
                    "interaction.create" => {
                        let model = incoming["model"].as_str().unwrap_or("").to_owned();
                        if model.starts_with("gemini-") && model.contains("live") {
                            let id = {
                                let mut state = shared.lock();
                                let list = &mut state.live_interactions.interactions;
                                let id = format!("v1_live_{}", list.len() + 1);
                                list.push((id.clone(), model));
                                id
                            };
                            Ok(event("interaction.created", json!({"interaction_id": id})))
                        } else {
                            Err((
                                1008,
                                "not_found",
                                format!("Model {model} is not a live model."),
                            ))
                        }
                    }
                    _ => Err((
                        1007,
                        "invalid_request",
                        "The first event must be interaction.connect or interaction.create."
                            .to_owned(),
                    )),
                };
                match answer {
                    Ok(answer) => {
                        // Google's Live servers send binary frames.
                        let bytes = answer.to_string().into_bytes();
                        if ws.send(Message::Binary(bytes.into())).await.is_err() {
                            return;
                        }
                    }
                    Err((code, name, message)) => {
                        let error = event(
                            "error",
                            json!({"error": {"code": name, "message": message}}),
                        );
                        let _ = send(&mut ws, &error).await;
                        close(&mut ws, code, &message).await;
                        return;
                    }
                }
                continue;
            }
            record(&mut |s| s.received.push(kind.clone()));
            match kind.as_str() {
                "input" => {
                    let content = incoming["content"].get(0).cloned().unwrap_or(Value::Null);
                    let delta = match content["type"].as_str() {
                        Some("audio") => json!({"type": "audio",
                            "mime_type": "audio/pcm;rate=24000", "data": content["data"]}),
                        _ => {
                            let text = content["text"].as_str().unwrap_or("");
                            if text == "[[error-echo-key]]" {
                                let error = event(
                                    "error",
                                    json!({"error": {"code": "internal",
                                    "message": format!("upstream failure for key {presented}")}}),
                                );
                                if !send(&mut ws, &error).await {
                                    return;
                                }
                                continue;
                            }
                            json!({"type": "text", "text": format!("echo: {text}")})
                        }
                    };
                    step += 1;
                    let batch = json!({"events": [
                        event("step.start", json!({"index": step, "step": {"type": "model_output"}})),
                        event("step.delta", json!({"index": step, "delta": delta})),
                        event("step.stop", json!({"index": step})),
                    ]});
                    if !send(&mut ws, &batch).await {
                        return;
                    }
                }
                "interaction.complete" => {
                    let done = event(
                        "interaction.completed",
                        json!({"status": {"code": 0}, "usage": usage(),
                               "created": "2026-12-03T10:00:00Z", "updated": "2026-12-03T10:00:09Z"}),
                    );
                    let _ = send(&mut ws, &done).await;
                    close(&mut ws, 1000, "").await;
                    return;
                }
                "interaction.cancel" => {
                    let done = event("interaction.cancelled", json!({"usage": usage()}));
                    let _ = send(&mut ws, &done).await;
                    close(&mut ws, 1000, "").await;
                    return;
                }
                "interaction.disconnect" => {
                    close(&mut ws, 1000, "").await;
                    return;
                }
                other => {
                    let error = event(
                        "error",
                        json!({"error": {"code": "invalid_request",
                        "message": format!("Unknown event type {other:?}.")}}),
                    );
                    if !send(&mut ws, &error).await {
                        return;
                    }
                }
            }
        }
    }
}

/// `GET /_mock/live_interactions`
async fn inspect(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let s = &state.live_interactions;
    let interactions: Vec<Value> = s
        .interactions
        .iter()
        .map(|(id, model)| json!({"id": id, "model": model}))
        .collect();
    let sockets: Vec<Value> = s
        .sockets
        .iter()
        .map(|r| {
            json!({"first": r.first, "received": r.received,
                   "api_revision": r.api_revision, "auth": r.auth})
        })
        .collect();
    axum::Json(json!({"interactions": interactions, "sockets": sockets})).into_response()
}
