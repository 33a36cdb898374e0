//! Gemini Live and Vertex Live WebSocket peers (`BidiGenerateContent`).
//!
//! | Route | What it does |
//! |---|---|
//! | `GET /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent` | Gemini Live: the key is `x-goog-api-key` or `?key=` ([`MockOptions::api_key`](super::MockOptions)); a wrong key is accepted and closed with `1007` "API key not valid…" like Google. The first message must be `setup` with `model` = `models/{m}` (else close `1007`) |
//! | `GET /ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent` | Vertex Live: `Authorization: Bearer` must be an unexpired token from `POST /token` (else HTTP 401, Google-shaped); `setup.model` must be `projects/{p}/locations/{l}/publishers/google/models/{m}` (else close `1007`) |
//! | `GET /_mock/live` | control: `{"sessions":[{api, auth, model, setup, received, closed_by_client}…], "bearer_tokens":[…every access token issued…]}` |
//!
//! After the setup both answer `{"setupComplete":{}}` as a **binary** frame
//! (as the real servers do), then: `clientContent` / `client_content` →
//! `serverContent` with the first text part echoed (`"echo: …"`) and
//! `turnComplete`; `realtimeInput` / `realtime_input` audio → `serverContent`
//! whose `modelTurn` carries the same `inlineData` back; `{"mock":{"close":
//! {"code","reason"}}}` → the peer closes with that code and reason;
//! `{"mock":{"close_echoing_credential":{"code","pad"}}}` → it closes with a
//! reason that names the credential the socket was opened with, after `pad`
//! filler bytes and cut at 123 bytes (an upstream that echoes it). Every
//! server message is a binary frame holding JSON; client messages are read
//! from text or binary frames alike.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Value};

use super::oauth::{bearer_status, BearerStatus};
use super::Shared;

/// Which Live API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Gemini,
    Vertex,
}

/// One Live session as the mock saw it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveSession {
    api: &'static str,
    auth: &'static str,
    model: Option<String>,
    setup: Value,
    received: Vec<String>,
    closed_by_client: Option<(u16, String)>,
}

/// Live sessions (cleared by a reset).
#[derive(Debug, Default)]
pub(crate) struct LiveState {
    sessions: Vec<LiveSession>,
}

impl LiveState {
    pub(crate) fn clear(&mut self) {
        self.sessions.clear();
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
            get(socket).layer(Extension(Api::Gemini)),
        )
        .route(
            "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
            get(socket).layer(Extension(Api::Vertex)),
        )
        .route("/_mock/live", get(inspect))
}

async fn socket(
    State(shared): State<Arc<Shared>>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let (auth, ok) = match api {
        Api::Gemini => {
            let header = headers
                .get("x-goog-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let query_key = pairs
                .iter()
                .find(|(k, _)| k == "key")
                .map(|(_, v)| v.clone());
            match (header, query_key) {
                (Some(k), _) => ("x-goog-api-key", k == shared.opts.api_key),
                (None, Some(k)) => ("key", k == shared.opts.api_key),
                (None, None) => ("none", false),
            }
        }
        Api::Vertex => match bearer_status(&shared, &headers) {
            BearerStatus::Valid => ("bearer", true),
            status => {
                let body = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
                    "message": format!("Request had invalid authentication credentials ({status:?}).")}});
                return (
                    StatusCode::UNAUTHORIZED,
                    [("content-type", "application/json")],
                    body.to_string(),
                )
                    .into_response();
            }
        },
    };
    // What the socket was opened with, for `close_echoing_credential`.
    let presented = headers
        .get("x-goog-api-key")
        .or_else(|| headers.get("authorization"))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").to_owned())
        .or_else(|| {
            pairs
                .iter()
                .find(|(k, _)| k == "key")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_default();
    upgrade.on_upgrade(move |ws| run(shared, api, auth, ok, presented, ws))
}

fn server_message(value: &Value) -> Message {
    Message::Binary(value.to_string().into_bytes().into())
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

fn vertex_resource(model: &str) -> bool {
    let parts: Vec<&str> = model.split('/').collect();
    matches!(
        parts.as_slice(),
        ["projects", p, "locations", l, "publishers", "google", "models", m]
            if !p.is_empty() && !l.is_empty() && !m.is_empty()
    )
}

async fn run(
    shared: Arc<Shared>,
    api: Api,
    auth: &'static str,
    ok: bool,
    presented: String,
    mut ws: WebSocket,
) {
    let index = {
        let mut state = shared.lock();
        state.live.sessions.push(LiveSession {
            api: match api {
                Api::Gemini => "gemini",
                Api::Vertex => "vertex",
            },
            auth,
            ..LiveSession::default()
        });
        state.live.sessions.len() - 1
    };
    let record = |f: &mut dyn FnMut(&mut LiveSession)| {
        if let Some(s) = shared.lock().live.sessions.get_mut(index) {
            f(s);
        }
    };
    if !ok {
        close(
            &mut ws,
            1007,
            "API key not valid. Please pass a valid API key.",
        )
        .await;
        return;
    }
    let mut set_up = false;
    while let Some(Ok(message)) = ws.recv().await {
        let bytes: Vec<u8> = match message {
            Message::Text(t) => t.as_str().as_bytes().to_vec(),
            Message::Binary(b) => b.to_vec(),
            Message::Close(frame) => {
                let closed = frame
                    .map(|f| (f.code, f.reason.as_str().to_owned()))
                    .unwrap_or((1005, String::new()));
                record(&mut |s| s.closed_by_client = Some(closed.clone()));
                return;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let Ok(Value::Object(msg)) = serde_json::from_slice::<Value>(&bytes) else {
            close(&mut ws, 1007, "Invalid JSON payload received.").await;
            return;
        };
        let kind = msg.keys().next().cloned().unwrap_or_default();
        record(&mut |s| s.received.push(kind.clone()));
        if !set_up {
            let Some(setup) = msg.get("setup") else {
                close(&mut ws, 1007, "The first message must be setup.").await;
                return;
            };
            let model = setup.get("model").and_then(Value::as_str).unwrap_or("");
            let valid = match api {
                Api::Gemini => model.starts_with("models/") && model.len() > 7,
                Api::Vertex => vertex_resource(model),
            };
            let (model, setup) = (model.to_owned(), setup.clone());
            record(&mut |s| {
                s.model = Some(model.clone());
                s.setup = setup.clone();
            });
            if !valid {
                close(&mut ws, 1007, &format!("Invalid model name: {model}.")).await;
                return;
            }
            set_up = true;
            if ws
                .send(server_message(&json!({"setupComplete": {}})))
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let reply = match kind.as_str() {
            "clientContent" | "client_content" => {
                let text = msg[&kind]
                    .pointer("/turns/0/parts/0/text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                json!({"serverContent": {"modelTurn": {"parts": [{"text": format!("echo: {text}")}]},
                                         "turnComplete": true}})
            }
            "realtimeInput" | "realtime_input" => {
                let input = &msg[&kind];
                let data = input
                    .pointer("/audio/data")
                    .or_else(|| input.pointer("/mediaChunks/0/data"))
                    .or_else(|| input.pointer("/media_chunks/0/data"))
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({"serverContent": {"modelTurn": {"parts": [
                    {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}}})
            }
            "mock" if msg["mock"].get("close_echoing_credential").is_some() => {
                // Like an upstream that names the key in its close reason,
                // cut (as every reason is) at 123 bytes: `pad` bytes first.
                let how = &msg["mock"]["close_echoing_credential"];
                let code = how.get("code").and_then(Value::as_u64).unwrap_or(1008);
                let pad = how.get("pad").and_then(Value::as_u64).unwrap_or(0);
                let pad = "x".repeat(usize::try_from(pad).unwrap_or(0));
                let mut reason = format!("{pad}API key not valid: {presented}");
                reason.truncate(123);
                close(&mut ws, u16::try_from(code).unwrap_or(1008), &reason).await;
                return;
            }
            "mock" => {
                let code = msg["mock"]
                    .pointer("/close/code")
                    .and_then(Value::as_u64)
                    .unwrap_or(1000);
                let reason = msg["mock"]
                    .pointer("/close/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                close(&mut ws, u16::try_from(code).unwrap_or(1000), &reason).await;
                return;
            }
            _ => json!({"serverContent": {"turnComplete": true}}),
        };
        if ws.send(server_message(&reply)).await.is_err() {
            return;
        }
    }
}

/// `GET /_mock/live`
async fn inspect(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let sessions: Vec<Value> = state
        .live
        .sessions
        .iter()
        .map(|s| {
            json!({"api": s.api, "auth": s.auth, "model": s.model, "setup": s.setup,
                   "received": s.received,
                   "closed_by_client": s.closed_by_client.as_ref().map(|(c, r)| json!({"code": c, "reason": r}))})
        })
        .collect();
    let tokens: Vec<&String> = state.tokens.keys().collect();
    axum::Json(json!({"sessions": sessions, "bearer_tokens": tokens})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_resources() {
        assert!(vertex_resource(
            "projects/p/locations/global/publishers/google/models/gemini-live-2.5-flash"
        ));
        assert!(!vertex_resource("models/gemini-live-2.5-flash"));
        assert!(!vertex_resource(
            "projects//locations/l/publishers/google/models/m"
        ));
    }
}
