//! OpenAI GPT-Live WebSockets (§2 of the December 2026 reference) and
//! Azure's copy under `/openai/v1`: the primary socket, the sideband
//! `attach` and the WebSocket `fork`.
//!
//! | Route (WebSocket) | Credential | What it does |
//! |---|---|---|
//! | `GET /v1/live/sessions` | `Authorization: Bearer` [`MockOptions::openai_key`](super::MockOptions) (Azure: `api-key:` [`MockOptions::azure_key`](super::MockOptions)) | waits for `session.start` with `session.model` (anything else first: an `error` event and close 1008), answers `session.started {session:{id:"live_<hex>",model,status,expires_at,…config}}`, then relays the session below |
//! | `GET /v1/live/sessions/{id}/attach[?graceful_close=true]` | the same key the session was started with | a sideband on a session this mock started (else `404 session_not_found` at the handshake): sends `session.updated {session}` at once |
//! | `GET /v1/live/sessions/{id}/fork` | the same key | waits for a fork `session.start` (overrides, `{}` is fine; a `model` is refused), answers `session.started` with a new id and the source's model |
//!
//! In a session: `session.input_audio.append` → `session.input_transcript.delta`,
//! `session.output_audio.delta`, `session.output_transcript.delta` and
//! `session.usage.updated {usage:{seconds}}` (30 billable seconds per append);
//! `session.update` → `session.updated`; a second `session.start` → an
//! `error` (`session_already_started`); `session.close` → `session.closed
//! {reason:"close_requested",session,usage}` and close 1000; any other event →
//! `{"type":"mock.echo","event":…}`. Steering: `session.instructions`
//! containing `[[echo-credential]]` makes the mock send, right after
//! `session.started`, an `error` event repeating the credential the socket
//! was opened with (an upstream that echoes it).
//!
//! `GET /_mock/gpt_live` lists `{"sessions":[{id,provider,model},…],
//! "sockets":[{kind,provider,session_id,graceful_close,first,events,closed_by_client}…]}`
//! (`first`: the first frame as JSON; `events`: every later event's type).

// Handlers return `Result<Response, Response>` (an answer either way).
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::video::{hex, mix};
use super::Shared;

/// Which service a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    OpenAi,
    Azure,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
        }
    }
}

/// A session this mock started.
#[derive(Debug, Clone)]
pub(crate) struct LiveSession {
    id: String,
    provider: Provider,
    model: String,
    config: Map<String, Value>,
}

/// One socket, as recorded.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveSocketRecord {
    kind: &'static str,
    provider: &'static str,
    session_id: Option<String>,
    graceful_close: bool,
    first: Option<Value>,
    events: Vec<String>,
    closed_by_client: Option<(u16, String)>,
}

/// GPT-Live state (cleared by a reset).
#[derive(Debug, Default)]
pub(crate) struct GptLiveState {
    sessions: Vec<LiveSession>,
    sockets: Vec<LiveSocketRecord>,
}

impl GptLiveState {
    pub(crate) fn clear(&mut self) {
        self.sessions.clear();
        self.sockets.clear();
    }
}

static SEQ: AtomicU64 = AtomicU64::new(1);

fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let api = |prefix: &str, provider: Provider| {
        Router::new()
            .route(prefix, get(primary))
            .route(&format!("{prefix}/{{id}}/attach"), get(attach))
            .route(&format!("{prefix}/{{id}}/fork"), get(fork))
            .layer(Extension(provider))
    };
    api("/v1/live/sessions", Provider::OpenAi)
        .merge(api("/openai/v1/live/sessions", Provider::Azure))
        .route("/_mock/gpt_live", get(inspect))
}

fn either(r: Result<Response, Response>) -> Response {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// An OpenAI error answer.
fn error(status: u16, message: &str, code: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error",
        "param": null, "code": code}});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The credential the socket presented, if it is the provider's key.
fn authenticate(
    shared: &Shared,
    provider: Provider,
    headers: &HeaderMap,
) -> Result<String, Response> {
    let presented = match provider {
        Provider::OpenAi => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned),
        Provider::Azure => headers
            .get("api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let expected = match provider {
        Provider::OpenAi => &shared.opts.openai_key,
        Provider::Azure => &shared.opts.azure_key,
    };
    match presented {
        Some(key) if &key == expected => Ok(key),
        _ => Err(error(401, "Incorrect API key provided.", "invalid_api_key")),
    }
}

fn record(shared: &Shared, index: usize, f: impl FnOnce(&mut LiveSocketRecord)) {
    if let Some(s) = shared.lock().gpt_live.sockets.get_mut(index) {
        f(s);
    }
}

fn new_socket(shared: &Shared, socket: LiveSocketRecord) -> usize {
    let mut state = shared.lock();
    state.gpt_live.sockets.push(socket);
    state.gpt_live.sockets.len() - 1
}

/// A session this mock started, on `provider`.
fn find_session(shared: &Shared, provider: Provider, id: &str) -> Result<LiveSession, Response> {
    shared
        .lock()
        .gpt_live
        .sessions
        .iter()
        .find(|s| s.id == id && s.provider == provider)
        .cloned()
        .ok_or_else(|| {
            error(
                404,
                &format!("Session '{id}' not found."),
                "session_not_found",
            )
        })
}

/// `GET …/live/sessions`
async fn primary(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    either((|| {
        let credential = authenticate(&shared, provider, &headers)?;
        let index = new_socket(
            &shared,
            LiveSocketRecord {
                kind: "primary",
                provider: provider.name(),
                ..LiveSocketRecord::default()
            },
        );
        Ok(upgrade.on_upgrade(move |ws| run(shared, provider, index, None, credential, ws)))
    })())
}

/// `GET …/live/sessions/{id}/attach`
async fn attach(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    either((|| {
        let credential = authenticate(&shared, provider, &headers)?;
        let session = find_session(&shared, provider, &id)?;
        let graceful = query.as_deref() == Some("graceful_close=true");
        let index = new_socket(
            &shared,
            LiveSocketRecord {
                kind: "attach",
                provider: provider.name(),
                session_id: Some(id),
                graceful_close: graceful,
                ..LiveSocketRecord::default()
            },
        );
        Ok(upgrade.on_upgrade(move |ws| run_sideband(shared, index, session, credential, ws)))
    })())
}

/// `GET …/live/sessions/{id}/fork`
async fn fork(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    either((|| {
        let credential = authenticate(&shared, provider, &headers)?;
        let source = find_session(&shared, provider, &id)?;
        let index = new_socket(
            &shared,
            LiveSocketRecord {
                kind: "fork",
                provider: provider.name(),
                session_id: Some(id),
                ..LiveSocketRecord::default()
            },
        );
        Ok(
            upgrade
                .on_upgrade(move |ws| run(shared, provider, index, Some(source), credential, ws)),
        )
    })())
}

fn event_id() -> String {
    format!("event_{}", hex(mix(next_seq() ^ 0x11FE), 20))
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

fn resource(session: &LiveSession) -> Value {
    let mut out = session.config.clone();
    out.insert("id".into(), json!(session.id));
    out.insert("model".into(), json!(session.model));
    out.insert("status".into(), json!("active"));
    out.insert("expires_at".into(), json!(super::unix_now() + 3600));
    Value::Object(out)
}

fn error_event(code: &str, message: &str) -> Message {
    text(json!({"type": "error", "event_id": event_id(), "error": {
        "type": "invalid_request_error", "code": code, "message": message, "param": null}}))
}

/// The next text frame as JSON (binary frames are read as text too);
/// `None` when the client closed.
async fn next_event(shared: &Shared, index: usize, ws: &mut WebSocket) -> Option<Value> {
    loop {
        match ws.recv().await? {
            Ok(Message::Text(t)) => {
                return Some(serde_json::from_str(t.as_str()).unwrap_or(Value::Null))
            }
            Ok(Message::Binary(b)) => {
                return Some(serde_json::from_slice(&b).unwrap_or(Value::Null))
            }
            Ok(Message::Close(frame)) => {
                let closed = frame
                    .map(|f| (f.code, f.reason.as_str().to_owned()))
                    .unwrap_or((1005, String::new()));
                record(shared, index, |s| s.closed_by_client = Some(closed));
                return None;
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

async fn close(ws: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
}

/// A primary or fork socket: `session.start` first, then the session.
async fn run(
    shared: Arc<Shared>,
    provider: Provider,
    index: usize,
    source: Option<LiveSession>,
    credential: String,
    mut ws: WebSocket,
) {
    let Some(first) = next_event(&shared, index, &mut ws).await else {
        return;
    };
    record(&shared, index, |s| s.first = Some(first.clone()));
    let config = first.get("session").and_then(Value::as_object).cloned();
    let (Some("session.start"), Some(config)) = (first.get("type").and_then(Value::as_str), config)
    else {
        let _ = ws
            .send(error_event("invalid_event", "Send session.start first."))
            .await;
        close(&mut ws, 1008, "session.start expected").await;
        return;
    };
    let model = match (&source, config.get("model").and_then(Value::as_str)) {
        (None, Some(model)) => model.to_owned(),
        (Some(source), None) => source.model.clone(),
        (None, None) => {
            let _ = ws
                .send(error_event(
                    "missing_required_parameter",
                    "Missing required parameter: 'session.model'.",
                ))
                .await;
            close(&mut ws, 1008, "session.model required").await;
            return;
        }
        (Some(_), Some(_)) => {
            let _ = ws
                .send(error_event(
                    "unknown_parameter",
                    "Unknown parameter: 'session.model'.",
                ))
                .await;
            close(&mut ws, 1008, "model not allowed on a fork").await;
            return;
        }
    };
    let mut merged = source
        .as_ref()
        .map(|s| s.config.clone())
        .unwrap_or_default();
    for (k, v) in &config {
        if k != "model" {
            merged.insert(k.clone(), v.clone());
        }
    }
    let session = LiveSession {
        id: format!("live_{}", hex(mix(next_seq() ^ 0x5E55 ^ shared.salt), 24)),
        provider,
        model,
        config: merged,
    };
    shared.lock().gpt_live.sessions.push(session.clone());
    let started =
        json!({"type": "session.started", "event_id": event_id(), "session": resource(&session)});
    if ws.send(text(started)).await.is_err() {
        return;
    }
    let echo = config
        .get("instructions")
        .and_then(Value::as_str)
        .is_some_and(|i| i.contains("[[echo-credential]]"));
    if echo {
        let message = format!("The credential {credential} may not do this.");
        if ws
            .send(error_event("invalid_api_key", &message))
            .await
            .is_err()
        {
            return;
        }
    }
    relay_session(&shared, index, session, &mut ws).await;
}

/// A sideband: the session's state at once, then the session.
async fn run_sideband(
    shared: Arc<Shared>,
    index: usize,
    session: LiveSession,
    _credential: String,
    mut ws: WebSocket,
) {
    let updated =
        json!({"type": "session.updated", "event_id": event_id(), "session": resource(&session)});
    if ws.send(text(updated)).await.is_err() {
        return;
    }
    relay_session(&shared, index, session, &mut ws).await;
}

/// A started session's events until it closes.
async fn relay_session(
    shared: &Shared,
    index: usize,
    mut session: LiveSession,
    ws: &mut WebSocket,
) {
    let mut seconds = 0u64;
    while let Some(event) = next_event(shared, index, ws).await {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        record(shared, index, |s| s.events.push(kind.clone()));
        let replies: Vec<Message> = match kind.as_str() {
            "session.start" => vec![error_event(
                "session_already_started",
                "The session has already started.",
            )],
            "session.input_audio.append" => {
                seconds += 30;
                vec![
                    text(
                        json!({"type": "session.input_transcript.delta", "event_id": event_id(),
                        "delta": "hello", "start_ms": 0, "end_ms": 400}),
                    ),
                    text(
                        json!({"type": "session.output_audio.delta", "event_id": event_id(),
                        "delta": "AAAAAAAA"}),
                    ),
                    text(
                        json!({"type": "session.output_transcript.delta", "event_id": event_id(),
                        "delta": "hi there", "start_ms": 0, "end_ms": 500}),
                    ),
                    text(
                        json!({"type": "session.usage.updated", "event_id": event_id(),
                        "usage": {"seconds": seconds}}),
                    ),
                ]
            }
            "session.update" => {
                if let Some(update) = event.get("session").and_then(Value::as_object) {
                    for (k, v) in update {
                        session.config.insert(k.clone(), v.clone());
                    }
                }
                vec![text(
                    json!({"type": "session.updated", "event_id": event_id(),
                    "session": resource(&session)}),
                )]
            }
            "session.close" => {
                let closed = json!({"type": "session.closed", "event_id": event_id(),
                    "reason": "close_requested", "session": resource(&session),
                    "usage": {"seconds": seconds}});
                let _ = ws.send(text(closed)).await;
                close(ws, 1000, "session closed").await;
                return;
            }
            _ => vec![text(
                json!({"type": "mock.echo", "event_id": event_id(), "event": event}),
            )],
        };
        for reply in replies {
            if ws.send(reply).await.is_err() {
                return;
            }
        }
    }
}

/// `GET /_mock/gpt_live`
async fn inspect(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let sessions: Vec<Value> = state
        .gpt_live
        .sessions
        .iter()
        .map(|s| json!({"id": s.id, "provider": s.provider.name(), "model": s.model}))
        .collect();
    let sockets: Vec<Value> = state
        .gpt_live
        .sockets
        .iter()
        .map(|s| {
            json!({"kind": s.kind, "provider": s.provider, "session_id": s.session_id,
                   "graceful_close": s.graceful_close, "first": s.first, "events": s.events,
                   "closed_by_client": s.closed_by_client.as_ref().map(|(c, r)| json!({"code": c, "reason": r}))})
        })
        .collect();
    axum::Json(json!({"sessions": sessions, "sockets": sockets})).into_response()
}
