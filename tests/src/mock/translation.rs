//! OpenAI Realtime Translation (and Azure's documented copy of its
//! client secrets), as openai 3.57 drives it.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /v1/realtime/translations/client_secrets` | `Authorization: Bearer` [`MockOptions::openai_key`](super::MockOptions) (Azure: `POST /openai/v1/realtime/translations/client_secrets`, `api-key:` [`MockOptions::azure_key`](super::MockOptions)); validates the body like the API (`session.model` required, no `session.type`, only `audio.output.language`, `audio.input.{transcription{model}, noise_reduction{type, strength}}`, `expires_after {anchor:"created_at", seconds 10..=7200}`; anything else `400 unknown_parameter`), answers `{"value":"ek_<32 hex>","expires_at","session":{"id","type":"translation","model","expires_at","audio"}}` and remembers the key |
//! | `GET /v1/realtime/translations?model=m` (WebSocket; Azure under `/openai`) | the server key (with `model`), or an unexpired translation `ek_` this mock issued for that provider (`model`, when given, must be its model); an `intent` is refused (400). Sends `session.created`; answers `session.update` with `session.updated` (the audio merged in), `session.input_audio_buffer.append` with `session.input_transcript.delta` (only with transcription configured), `session.output_transcript.delta` and `session.output_audio.delta`, `session.close` with `session.closed` and a 1000 close; any other event or a binary frame with an `error` event (`unknown_event`) |
//! | `POST /v1/realtime/translations/calls` | `Bearer ek_…` (a translation key of this provider) and `application/sdp`; `?model=` is refused (400) → `201 application/sdp` with `Location: /v1/realtime/translations/calls/rtc_<hex>` |
//! | `GET /_mock/translation` | control: `{"ephemeral_keys":[{value,provider,model,expires_at}…],"sockets":[{provider,credential,model,events,closed_by_client}…],"calls":[{provider,model,query}…]}` |

// Handlers return `Result<Response, Response>` (an answer either way).
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};

use super::video::{hex, mix};
use super::{unix_now, Shared};

/// The service a route belongs to.
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

/// What the mock remembers (per mock instance).
#[derive(Debug, Default)]
struct TranslationState {
    keys: Vec<Value>,
    sockets: Vec<Value>,
    calls: Vec<Value>,
    counter: u64,
}

type Held = Arc<Mutex<TranslationState>>;

fn lock(held: &Held) -> std::sync::MutexGuard<'_, TranslationState> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let held: Held = Arc::default();
    let api = |prefix: &str, provider: Provider| {
        Router::new()
            .route(
                &format!("{prefix}/translations/client_secrets"),
                post(client_secrets),
            )
            .route(&format!("{prefix}/translations/calls"), post(call))
            .route(&format!("{prefix}/translations"), get(socket))
            .layer(Extension(provider))
    };
    api("/v1/realtime", Provider::OpenAi)
        .merge(api("/openai/v1/realtime", Provider::Azure))
        .route("/_mock/translation", get(inspect))
        .layer(Extension(held))
}

fn either(r: Result<Response, Response>) -> Response {
    match r {
        Ok(r) | Err(r) => r,
    }
}

fn error(status: u16, message: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error",
                                "param": param, "code": code}});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn unknown(param: &str) -> Response {
    error(
        400,
        &format!("Unknown parameter: '{param}'."),
        Some(param),
        Some("unknown_parameter"),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().to_owned())
}

fn invalid_key() -> Response {
    error(
        401,
        "Incorrect API key provided.",
        None,
        Some("invalid_api_key"),
    )
}

/// The server key of `provider` was presented.
fn server_key(shared: &Shared, provider: Provider, headers: &HeaderMap) -> bool {
    match provider {
        Provider::OpenAi => bearer(headers).as_deref() == Some(shared.opts.openai_key.as_str()),
        Provider::Azure => {
            headers.get("api-key").and_then(|v| v.to_str().ok())
                == Some(shared.opts.azure_key.as_str())
        }
    }
}

/// The unexpired translation key presented as `Bearer ek_…`, if any.
fn ephemeral(held: &Held, provider: Provider, headers: &HeaderMap) -> Option<Value> {
    let value = bearer(headers).filter(|k| k.starts_with("ek_"))?;
    let now = unix_now();
    lock(held)
        .keys
        .iter()
        .find(|k| {
            k["value"] == value.as_str()
                && k["provider"] == provider.name()
                && k["expires_at"].as_u64().is_some_and(|at| at > now)
        })
        .cloned()
}

/// Checks `map` has only `known` fields (at `path`).
fn only(map: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), Response> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) if path.is_empty() => Err(unknown(k)),
        Some(k) => Err(unknown(&format!("{path}.{k}"))),
        None => Ok(()),
    }
}

fn check_audio(audio: &Value, path: &str) -> Result<(), Response> {
    let audio = audio.as_object().ok_or_else(|| unknown(path))?;
    only(audio, path, &["input", "output"])?;
    if let Some(output) = audio.get("output") {
        let output = output.as_object().ok_or_else(|| unknown(path))?;
        only(output, &format!("{path}.output"), &["language"])?;
    }
    if let Some(input) = audio.get("input") {
        let input = input.as_object().ok_or_else(|| unknown(path))?;
        only(
            input,
            &format!("{path}.input"),
            &["transcription", "noise_reduction"],
        )?;
        if let Some(Value::Object(t)) = input.get("transcription") {
            only(t, &format!("{path}.input.transcription"), &["model"])?;
        }
        if let Some(Value::Object(n)) = input.get("noise_reduction") {
            only(
                n,
                &format!("{path}.input.noise_reduction"),
                &["type", "strength"],
            )?;
            if !matches!(
                n.get("type").and_then(Value::as_str),
                Some("near_field" | "far_field")
            ) {
                return Err(error(
                    400,
                    "Invalid 'noise_reduction.type'.",
                    Some("session.audio.input.noise_reduction.type"),
                    Some("invalid_value"),
                ));
            }
        }
    }
    Ok(())
}

/// `POST …/realtime/translations/client_secrets`
async fn client_secrets(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Extension(held): Extension<Held>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either((|| {
        if !server_key(&shared, provider, &headers) {
            return Err(invalid_key());
        }
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
            return Err(error(
                400,
                "We could not parse the JSON body of your request.",
                None,
                None,
            ));
        };
        only(&body, "", &["session", "expires_after"])?;
        let mut seconds = 600;
        if let Some(after) = body.get("expires_after") {
            let after = after.as_object().ok_or_else(|| unknown("expires_after"))?;
            only(after, "expires_after", &["anchor", "seconds"])?;
            match after.get("seconds").map(Value::as_u64) {
                None => {}
                Some(Some(s @ 10..=7200)) => seconds = s,
                Some(_) => {
                    return Err(error(
                        400,
                        "Invalid 'expires_after.seconds'.",
                        Some("expires_after.seconds"),
                        Some("integer_out_of_range"),
                    ))
                }
            }
        }
        let Some(Value::Object(session)) = body.get("session") else {
            return Err(error(
                400,
                "Missing required parameter: 'session'.",
                Some("session"),
                None,
            ));
        };
        only(session, "session", &["model", "audio"])?;
        let Some(model) = session.get("model").and_then(Value::as_str) else {
            return Err(error(
                400,
                "Missing required parameter: 'session.model'.",
                Some("session.model"),
                None,
            ));
        };
        if let Some(audio) = session.get("audio") {
            check_audio(audio, "session.audio")?;
        }
        let now = unix_now();
        let audio = session.get("audio").cloned().unwrap_or_else(|| json!({}));
        let (value, id) = {
            let mut state = lock(&held);
            state.counter += 1;
            let seed = mix(state.counter ^ shared.salt.rotate_left(16) ^ 0x7A_0000);
            let value = format!("ek_{}", hex(seed, 32));
            state
                .keys
                .push(json!({"value": value, "provider": provider.name(),
                                   "model": model, "expires_at": now + seconds, "audio": audio}));
            (value, format!("sess_{}", hex(seed ^ 0x5E55, 24)))
        };
        let answer = json!({"value": value, "expires_at": now + seconds,
            "session": {"id": id, "type": "translation", "model": model,
                        "expires_at": now + seconds + 3600, "audio": audio}});
        Ok(Json(answer).into_response())
    })())
}

/// `POST …/realtime/translations/calls`
async fn call(
    Extension(provider): Extension<Provider>,
    Extension(held): Extension<Held>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either((|| {
        let key = ephemeral(&held, provider, &headers).ok_or_else(invalid_key)?;
        if query.as_deref().is_some_and(|q| q.contains("model=")) {
            return Err(unknown("model"));
        }
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let offer = String::from_utf8_lossy(&body);
        if !ct.starts_with("application/sdp") || !offer.starts_with("v=0") {
            return Err(error(
                400,
                "Expected an SDP offer (application/sdp).",
                None,
                None,
            ));
        }
        let mut state = lock(&held);
        state.counter += 1;
        let id = format!("rtc_{}", hex(mix(state.counter ^ 0xCA11), 24));
        state
            .calls
            .push(json!({"provider": provider.name(), "model": key["model"], "query": query}));
        let answer = "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                      m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
                      a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n";
        Ok((
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_owned()),
                (
                    header::LOCATION,
                    format!("/v1/realtime/translations/calls/{id}"),
                ),
            ],
            answer,
        )
            .into_response())
    })())
}

/// `GET /_mock/translation`
async fn inspect(Extension(held): Extension<Held>) -> Response {
    let state = lock(&held);
    Json(json!({"ephemeral_keys": state.keys, "sockets": state.sockets, "calls": state.calls}))
        .into_response()
}

/// `GET …/realtime/translations` (WebSocket)
async fn socket(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Extension(held): Extension<Held>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    either((|| {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
        if pairs.iter().any(|(k, _)| k == "intent") {
            return Err(unknown("intent"));
        }
        let asked = pairs
            .iter()
            .find(|(k, _)| k == "model")
            .map(|(_, v)| v.clone());
        let mut audio = json!({"output": {"language": "en"}});
        let (credential, model) = if server_key(&shared, provider, &headers) {
            let model = asked.ok_or_else(|| {
                error(
                    400,
                    "Missing required parameter: 'model'.",
                    Some("model"),
                    None,
                )
            })?;
            ("server", model)
        } else {
            let key = ephemeral(&held, provider, &headers).ok_or_else(invalid_key)?;
            let model = key["model"].as_str().unwrap_or("").to_owned();
            // The session as the client secret configured it.
            audio = key["audio"].clone();
            if asked.is_some_and(|m| m != model) {
                return Err(error(
                    400,
                    "The model does not match the client secret.",
                    Some("model"),
                    None,
                ));
            }
            ("ephemeral", model)
        };
        let index = {
            let mut state = lock(&held);
            state.sockets.push(
                json!({"provider": provider.name(), "credential": credential,
                "model": model, "events": [], "closed_by_client": null}),
            );
            state.sockets.len() - 1
        };
        Ok(upgrade.on_upgrade(move |ws| run(held, index, model, audio, ws)))
    })())
}

async fn run(held: Held, index: usize, model: String, audio: Value, mut ws: WebSocket) {
    let mut session = json!({"id": format!("sess_{}", hex(mix(index as u64 ^ 0x7E55), 24)),
        "type": "translation", "model": model, "audio": audio});
    // Every server event carries an `event_id`, as the API's do.
    let seq = std::sync::atomic::AtomicU64::new(0);
    let send = |mut v: Value| {
        let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        v["event_id"] = json!(format!("event_{}", hex(mix(n ^ (index as u64) << 20), 20)));
        Message::Text(v.to_string().into())
    };
    if ws
        .send(send(json!({"type": "session.created", "session": session})))
        .await
        .is_err()
    {
        return;
    }
    let record = |f: &mut dyn FnMut(&mut Value)| {
        if let Some(s) = lock(&held).sockets.get_mut(index) {
            f(s);
        }
    };
    while let Some(Ok(message)) = ws.recv().await {
        let replies: Vec<Message> = match message {
            Message::Text(text) => {
                let event: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let kind = event["type"].as_str().unwrap_or("").to_owned();
                record(&mut |s| {
                    if let Some(events) = s["events"].as_array_mut() {
                        events.push(event.clone());
                    }
                });
                match kind.as_str() {
                    "session.update" => {
                        if let Some(audio) =
                            event.pointer("/session/audio").and_then(Value::as_object)
                        {
                            for (k, v) in audio {
                                session["audio"][k] = v.clone();
                            }
                        }
                        vec![send(json!({"type": "session.updated", "session": session}))]
                    }
                    "session.input_audio_buffer.append" => {
                        let mut out = Vec::new();
                        if session
                            .pointer("/audio/input/transcription/model")
                            .is_some()
                        {
                            out.push(send(json!({"type": "session.input_transcript.delta",
                                "delta": "hello", "elapsed_ms": 200})));
                        }
                        out.push(send(json!({"type": "session.output_transcript.delta",
                            "delta": "hola", "elapsed_ms": 200})));
                        out.push(send(json!({"type": "session.output_audio.delta",
                            "delta": "AAAAAAAA", "format": "pcm16", "sample_rate": 24000,
                            "channels": 1, "elapsed_ms": 200})));
                        out
                    }
                    "session.close" => {
                        let _ = ws.send(send(json!({"type": "session.closed"}))).await;
                        let frame = CloseFrame {
                            code: 1000,
                            reason: "session closed".into(),
                        };
                        let _ = ws.send(Message::Close(Some(frame))).await;
                        while let Some(Ok(m)) = ws.recv().await {
                            if let Message::Close(frame) = m {
                                let closed = frame.map(|f| f.code).unwrap_or(1005);
                                record(&mut |s| {
                                    s["closed_by_client"] = json!([closed, "after close"])
                                });
                                break;
                            }
                        }
                        return;
                    }
                    other => vec![send(json!({"type": "error", "error": {
                        "type": "invalid_request_error", "code": "unknown_event",
                        "message": format!("Unknown event type '{other}'."), "param": "type"}}))],
                }
            }
            Message::Binary(_) => vec![send(json!({"type": "error", "error": {
                "type": "invalid_request_error", "code": "unknown_event",
                "message": "Binary frames are not supported.", "param": null}}))],
            Message::Close(frame) => {
                let closed = frame
                    .map(|f| (f.code, f.reason.as_str().to_owned()))
                    .unwrap_or((1005, String::new()));
                record(&mut |s| s["closed_by_client"] = json!([closed.0, closed.1]));
                return;
            }
            Message::Ping(_) | Message::Pong(_) => Vec::new(),
        };
        for m in replies {
            if ws.send(m).await.is_err() {
                return;
            }
        }
    }
}
