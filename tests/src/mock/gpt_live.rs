//! OpenAI GPT-Live over HTTP (and Azure's copy on the v1 path): WebRTC
//! session creates, REST forks, SIP controls and the recording download,
//! as reference §2.1 documents them.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /v1/live/sessions` | OpenAI, `Authorization: Bearer` [`MockOptions::openai_key`](super::MockOptions): JSON `{session:{model,…}, transport:{type:"webrtc", sdp}}` → `200 {session:{id:"live_<32 hex>"}, transport:{type:"webrtc", sdp:<SDP answer>}}` |
//! | `POST /openai/v1/live/sessions` | Azure, `api-key:` [`MockOptions::azure_key`](super::MockOptions), same body and answer |
//! | `POST …/live/sessions/{id}/fork` | `{transport, session?}` of a stored session (`store: true`) → a new session, same answer shape |
//! | `POST …/{id}/accept\|hangup\|refer\|reject` | `200`, empty body; `accept` needs `session.type:"live"` and `session.model`, `refer` a `target_uri`, `reject` a `status_code` 300..=699; `404 session_not_found` for unknown or ended sessions |
//! | `GET …/{id}/content` | a stored session's recording: a 16-bit stereo WAV (input left, output right), `audio/wav`, sent in small chunks with no length |
//! | `GET /_mock/gpt_live_http` | control: `{"sessions":[{id,provider,model,store,forked_from,actions,ended,recordings}…]}` |
//!
//! Every route checks the provider's credential (401 `invalid_api_key`).
//! Unknown top-level or `session` fields of a create are answered like
//! OpenAI does (400 `unknown_parameter`), so what the gateway sends must
//! be exactly what the API takes.

// Handlers return `Result<Response, Response>` (an answer either way).
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};

use super::realtime::answer_for;
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

/// A Live session the mock started.
#[derive(Debug, Clone)]
pub(crate) struct LiveSession {
    id: String,
    provider: Provider,
    model: String,
    store: bool,
    forked_from: Option<String>,
    actions: Vec<String>,
    ended: bool,
    recordings: u32,
}

/// GPT-Live state (cleared by a reset).
#[derive(Debug, Default)]
pub(crate) struct GptLiveState {
    sessions: Vec<LiveSession>,
}

impl GptLiveState {
    pub(crate) fn clear(&mut self) {
        self.sessions.clear();
    }
}

/// Channels in the recording: the caller on the left, the model on the right.
pub(crate) const RECORDING_CHANNELS: u16 = 2;
/// The recording's sample rate.
pub(crate) const RECORDING_RATE: u32 = 24_000;
/// Sample frames in a recording (a quarter of a second).
pub(crate) const RECORDING_FRAMES: u32 = 6_000;
/// Bytes per chunk the recording is sent in.
const RECORDING_CHUNK: usize = 4_096;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let api = |prefix: &str, provider: Provider| {
        let mut router = Router::new().route(prefix, post(create));
        for action in ["fork", "accept", "hangup", "refer", "reject"] {
            router = router.route(&format!("{prefix}/{{id}}/{action}"), post(session_action));
        }
        router
            .route(&format!("{prefix}/{{id}}/content"), get(content))
            .layer(Extension(provider))
    };
    api("/v1/live/sessions", Provider::OpenAi)
        .merge(api("/openai/v1/live/sessions", Provider::Azure))
        .route("/_mock/gpt_live_http", get(inspect))
}

fn either(r: Result<Response, Response>) -> Response {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// An OpenAI error answer.
fn error(status: u16, message: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let kind = if status >= 500 {
        "server_error"
    } else {
        "invalid_request_error"
    };
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body:#}\n"),
    )
        .into_response()
}

fn bad(message: &str, param: &str) -> Response {
    error(400, message, Some(param), None)
}

fn unknown(param: &str) -> Response {
    error(
        400,
        &format!("Unknown parameter: '{param}'."),
        Some(param),
        Some("unknown_parameter"),
    )
}

fn check_key(shared: &Shared, provider: Provider, headers: &HeaderMap) -> Result<(), Response> {
    let ok = match provider {
        Provider::OpenAi => {
            headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes)
                == Some(format!("Bearer {}", shared.opts.openai_key).as_bytes())
        }
        Provider::Azure => {
            headers.get("api-key").map(HeaderValue::as_bytes)
                == Some(shared.opts.azure_key.as_bytes())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            None,
            Some("invalid_api_key"),
        ))
    }
}

fn json_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(
            400,
            "We could not parse the JSON body of your request.",
            None,
            None,
        )),
    }
}

/// The SDP offer of `transport`.
fn offer(body: &serde_json::Map<String, Value>) -> Result<String, Response> {
    let transport = body
        .get("transport")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Missing required parameter: 'transport'.", "transport"))?;
    if let Some(k) = transport.keys().find(|k| *k != "type" && *k != "sdp") {
        return Err(unknown(&format!("transport.{k}")));
    }
    if transport.get("type").and_then(Value::as_str) != Some("webrtc") {
        return Err(bad(
            "Invalid 'transport.type': expected 'webrtc'.",
            "transport.type",
        ));
    }
    let sdp = transport
        .get("sdp")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("v=0") && s.contains("\nm="))
        .ok_or_else(|| bad("Invalid SDP offer.", "transport.sdp"))?;
    Ok(sdp.to_owned())
}

const SESSION_FIELDS: &[&str] = &[
    "model",
    "instructions",
    "audio",
    "delegation",
    "input",
    "client",
    "store",
    "triggers",
    "safety_identifier",
    "wake_policy",
    "idle_timeout_s",
];

/// Starts a session and answers its id and SDP.
fn start(
    shared: &Shared,
    provider: Provider,
    model: String,
    store: bool,
    forked_from: Option<String>,
    sdp: &str,
) -> Response {
    let (id, seed) = {
        let mut state = shared.lock();
        state.counter += 1;
        let seed = mix(state.counter ^ shared.salt.rotate_left(36) ^ 0x11FE);
        let id = format!("live_{}", hex(seed, 32));
        state.gpt_live_http.sessions.push(LiveSession {
            id: id.clone(),
            provider,
            model,
            store,
            forked_from,
            actions: Vec::new(),
            ended: false,
            recordings: 0,
        });
        (id, seed)
    };
    let body = json!({"session": {"id": id}, "transport": {"type": "webrtc", "sdp": answer_for(seed, sdp)}});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `POST …/live/sessions`
async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either((|| {
        check_key(&shared, provider, &headers)?;
        let body = json_body(&body)?;
        if let Some(k) = body.keys().find(|k| *k != "session" && *k != "transport") {
            return Err(unknown(k));
        }
        let session = body
            .get("session")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("Missing required parameter: 'session'.", "session"))?;
        if let Some(k) = session
            .keys()
            .find(|k| !SESSION_FIELDS.contains(&k.as_str()))
        {
            return Err(unknown(&format!("session.{k}")));
        }
        let model = session
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(
                    "Missing required parameter: 'session.model'.",
                    "session.model",
                )
            })?
            .to_owned();
        let store = session
            .get("store")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let sdp = offer(&body)?;
        Ok(start(&shared, provider, model, store, None, &sdp))
    })())
}

fn not_found(id: &str) -> Response {
    error(
        404,
        &format!("Live session '{id}' not found."),
        None,
        Some("session_not_found"),
    )
}

/// `POST …/live/sessions/{id}/{action}`
async fn session_action(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = uri.path().rsplit('/').next().unwrap_or("").to_owned();
    either((|| {
        check_key(&shared, provider, &headers)?;
        let body = json_body(&body)?;
        let source = {
            let state = shared.lock();
            state
                .gpt_live_http
                .sessions
                .iter()
                .find(|s| s.id == id && s.provider == provider)
                .cloned()
        };
        let Some(source) = source else {
            return Err(not_found(&id));
        };
        match action.as_str() {
            "fork" => {
                if !source.store {
                    return Err(bad(
                        "Only stored sessions (store: true) can be forked.",
                        "session_id",
                    ));
                }
                let overrides = body.get("session").and_then(Value::as_object);
                if let Some(k) = overrides.and_then(|o| {
                    o.keys()
                        .find(|k| !["client", "delegation", "store"].contains(&k.as_str()))
                }) {
                    return Err(unknown(&format!("session.{k}")));
                }
                let store = overrides
                    .and_then(|o| o.get("store"))
                    .and_then(Value::as_bool)
                    .unwrap_or(source.store);
                let sdp = offer(&body)?;
                return Ok(start(
                    &shared,
                    provider,
                    source.model.clone(),
                    store,
                    Some(source.id.clone()),
                    &sdp,
                ));
            }
            "accept" => {
                let session = body.get("session").and_then(Value::as_object);
                if session.and_then(|s| s.get("type")).and_then(Value::as_str) != Some("live") {
                    return Err(bad(
                        "Missing required parameter: 'session.type'.",
                        "session.type",
                    ));
                }
                if !session.is_some_and(|s| s.get("model").is_some_and(Value::is_string)) {
                    return Err(bad(
                        "Missing required parameter: 'session.model'.",
                        "session.model",
                    ));
                }
            }
            "refer" => {
                let uri = body.get("target_uri").and_then(Value::as_str).unwrap_or("");
                if !(uri.starts_with("tel:") || uri.starts_with("sip:")) {
                    return Err(bad("Invalid 'target_uri'.", "target_uri"));
                }
            }
            "reject" => {
                let code = body.get("status_code").and_then(Value::as_u64).unwrap_or(0);
                if !(300..=699).contains(&code) {
                    return Err(bad("Invalid 'status_code'.", "status_code"));
                }
            }
            _ => {}
        }
        if source.ended {
            return Err(not_found(&id));
        }
        let mut state = shared.lock();
        if let Some(s) = state
            .gpt_live_http
            .sessions
            .iter_mut()
            .find(|s| s.id == id && s.provider == provider)
        {
            s.actions.push(action.clone());
            if action == "hangup" || action == "reject" {
                s.ended = true;
            }
        }
        Ok(StatusCode::OK.into_response())
    })())
}

/// The recording of the session seeded `seed`: a WAV header, then
/// [`RECORDING_FRAMES`] frames of 16-bit stereo.
pub fn recording_bytes(seed: u64) -> Vec<u8> {
    let data_len = RECORDING_FRAMES * u32::from(RECORDING_CHANNELS) * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RECORDING_CHANNELS.to_le_bytes());
    out.extend_from_slice(&RECORDING_RATE.to_le_bytes());
    out.extend_from_slice(&(RECORDING_RATE * u32::from(RECORDING_CHANNELS) * 2).to_le_bytes());
    out.extend_from_slice(&(RECORDING_CHANNELS * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let mut z = seed;
    for _ in 0..RECORDING_FRAMES {
        z = mix(z);
        out.extend_from_slice(&((z & 0x0FFF) as i16 - 0x0800).to_le_bytes());
        out.extend_from_slice(&(((z >> 16) & 0x0FFF) as i16 - 0x0800).to_le_bytes());
    }
    out
}

/// The seed of a session's recording (from its id).
pub fn recording_seed(upstream_id: &str) -> u64 {
    upstream_id
        .bytes()
        .fold(0x5EED_u64, |acc, b| mix(acc ^ u64::from(b)))
}

/// `GET …/live/sessions/{id}/content`
async fn content(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_key(&shared, provider, &headers) {
        return r;
    }
    {
        let mut state = shared.lock();
        let Some(session) = state
            .gpt_live_http
            .sessions
            .iter_mut()
            .find(|s| s.id == id && s.provider == provider)
        else {
            return not_found(&id);
        };
        if !session.store {
            return bad(
                "This session was not stored (store: true); it has no recording.",
                "session_id",
            );
        }
        session.recordings += 1;
    }
    let bytes = recording_bytes(recording_seed(&id));
    let chunks: Vec<Bytes> = bytes
        .chunks(RECORDING_CHUNK)
        .map(Bytes::copy_from_slice)
        .collect();
    // Chunked, with a pause between chunks: a gateway that buffered would
    // still work, but nothing here sends a length.
    let stream = futures_util::stream::unfold(chunks.into_iter(), |mut rest| async move {
        let chunk = rest.next()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        Some((Ok::<Bytes, std::io::Error>(chunk), rest))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "audio/wav")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `GET /_mock/gpt_live_http`
async fn inspect(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let sessions: Vec<Value> = state
        .gpt_live_http
        .sessions
        .iter()
        .map(|s| {
            json!({"id": s.id, "provider": s.provider.name(), "model": s.model, "store": s.store,
                   "forked_from": s.forked_from, "actions": s.actions, "ended": s.ended,
                   "recordings": s.recordings})
        })
        .collect();
    axum::Json(json!({"sessions": sessions})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_is_a_stereo_wav() {
        let wav = recording_bytes(7);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2);
        assert_eq!(wav.len(), 44 + RECORDING_FRAMES as usize * 4);
        assert_ne!(recording_bytes(8), wav);
    }
}
