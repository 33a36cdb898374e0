//! The OpenAI Realtime API (GA) and Azure OpenAI's GA copy of it: ephemeral
//! client secrets, the WebRTC SDP exchange and call control.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /v1/realtime/client_secrets` | OpenAI, `Authorization: Bearer` [`MockOptions::openai_key`](super::MockOptions): validates the GA body (`expires_after {anchor:"created_at", seconds 10..=7200}`, `session.type` `realtime` with `session.model`, or `transcription` with `session.audio.input.transcription.model`), answers `{"value":"ek_<32 hex>","expires_at","session":{…}}` and remembers the key, its model and expiry |
//! | `POST /openai/v1/realtime/client_secrets` | Azure GA, `api-key:` [`MockOptions::azure_key`](super::MockOptions), same body and answer |
//! | `POST /v1/realtime/calls` (Azure: `/openai/v1/realtime/calls`) | `Authorization: Bearer ek_…` (an unexpired key this mock issued, same provider) with raw `application/sdp` or multipart `sdp` (+ optional `session`, whose model must be the key's); or the server key with multipart `sdp` + `session` naming the model → `201 application/sdp` (an SDP answer) with `Location: /v1/realtime/calls/rtc_<32 hex>` (Azure: `/openai/v1/realtime/calls/…`) |
//! | `POST …/realtime/calls/{id}/accept\|hangup\|refer\|reject` | server key only (an `ek_` gets 401); `200` with an empty body; `404 call_not_found` for unknown ids, the other provider's calls, and calls already hung up; `accept` needs `type: "realtime"`, `refer` needs `target_uri` |
//! | `GET /_mock/realtime` | control: `{"ephemeral_keys":[{value,provider,kind,model,expires_at}…],"calls":[{id,provider,model,actions,ended}…]}` |
//!
//! Steering: `session.instructions` containing `[[expired]]` mints a key
//! whose `expires_at` is one second in the past (calls with it answer 401),
//! so tests can exercise expiry without waiting.
//!
//! WebSocket peers (`GET /v1/realtime`, Azure `GET /openai/v1/realtime`):
//!
//! | query | credential | what it is |
//! |---|---|---|
//! | `?model=m` (or `?intent=transcription`) | the server key, or an unexpired `ek_` this mock issued for that provider (its model must be `m` when given) | a session: sends `session.created` (text) on connect, answers `session.update` with `session.updated`, `response.create` with `response.created` + `response.output_text.delta` + `response.done`, `mock.close` (`{"code","reason"}`) by closing with that code and reason, `mock.error_echoing_credential` with an `error` event whose message repeats the credential the socket was opened with (an upstream that echoes it), any other event with `{"type":"mock.echo","event":…}`, and echoes binary frames back as binary |
//! | `?call_id=rtc_…` | the server key only | a sideband on an open call of this provider: `session.created` with the call's model, then as above |
//!
//! A refused handshake answers like the HTTP routes (401 `invalid_api_key`,
//! 404 `call_not_found`, 400 for a missing model). Every socket is recorded —
//! provider, credential kind, model, call id, the event types and
//! `session.update` models it received, binary frames, and how the client
//! closed — under `"sockets"` in `GET /_mock/realtime`.

// Handlers return `Result<Response, Response>` (an answer either way).
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::ordered::{obj, Json};
use super::video::{hex, mix};
use super::{unix_now, Shared};

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

    fn calls_path(self) -> &'static str {
        match self {
            Self::OpenAi => "/v1/realtime/calls",
            Self::Azure => "/openai/v1/realtime/calls",
        }
    }
}

/// An issued ephemeral key.
#[derive(Debug, Clone)]
pub(crate) struct Ephemeral {
    value: String,
    provider: Provider,
    kind: String,
    model: String,
    expires_at: u64,
}

/// A WebRTC call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    id: String,
    provider: Provider,
    model: String,
    actions: Vec<String>,
    ended: bool,
}

/// A WebSocket session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Socket {
    provider: &'static str,
    credential: &'static str,
    model: Option<String>,
    call_id: Option<String>,
    intent: Option<String>,
    events: Vec<String>,
    session_models: Vec<String>,
    binary_frames: u64,
    binary_bytes: u64,
    closed_by_client: Option<(u16, String)>,
}

/// Realtime state: issued keys, calls and sockets (cleared by a reset).
#[derive(Debug, Default)]
pub(crate) struct RealtimeState {
    keys: Vec<Ephemeral>,
    calls: Vec<Call>,
    sockets: Vec<Socket>,
}

impl RealtimeState {
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.calls.clear();
        self.sockets.clear();
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let api = |prefix: &str, provider: Provider| {
        Router::new()
            .route(&format!("{prefix}/client_secrets"), post(client_secrets))
            .route(&format!("{prefix}/calls"), post(create_call))
            .route(&format!("{prefix}/calls/{{id}}/{{action}}"), post(control))
            .route(prefix, get(socket))
            .layer(middleware::from_fn(stamp))
            .layer(Extension(provider))
    };
    api("/v1/realtime", Provider::OpenAi)
        .merge(api("/openai/v1/realtime", Provider::Azure))
        .route("/_mock/realtime", get(inspect))
}

/// Adds the request id OpenAI (and Azure) send with every answer.
async fn stamp(req: Request, next: Next) -> Response {
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&format!("req_{}", hex(mix(seq ^ 0x7EA1), 32))) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn either(r: Result<Response, Response>) -> Response {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// An OpenAI error answer.
fn error(status: u16, message: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let kind = if status == 401 {
        "invalid_request_error"
    } else if status >= 500 {
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

/// What authenticated a request.
#[derive(Debug)]
enum Credential {
    /// The provider's server key.
    Server,
    /// An ephemeral key (`Authorization: Bearer ek_…`), not yet checked.
    Ephemeral(String),
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(key.trim().to_owned())
}

fn credential(
    shared: &Shared,
    provider: Provider,
    headers: &HeaderMap,
) -> Result<Credential, Response> {
    let bearer = bearer(headers);
    if let Some(key) = bearer.as_deref().filter(|k| k.starts_with("ek_")) {
        return Ok(Credential::Ephemeral(key.to_owned()));
    }
    let ok = match provider {
        Provider::OpenAi => bearer.as_deref() == Some(shared.opts.openai_key.as_str()),
        Provider::Azure => {
            headers.get("api-key").map(HeaderValue::as_bytes)
                == Some(shared.opts.azure_key.as_bytes())
        }
    };
    if ok {
        Ok(Credential::Server)
    } else {
        Err(error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            None,
            Some("invalid_api_key"),
        ))
    }
}

fn server_only(shared: &Shared, provider: Provider, headers: &HeaderMap) -> Result<(), Response> {
    match credential(shared, provider, headers)? {
        Credential::Server => Ok(()),
        Credential::Ephemeral(_) => Err(error(
            401,
            "Ephemeral keys can only be used to start a Realtime session; use a standard API key.",
            None,
            Some("invalid_api_key"),
        )),
    }
}

fn model_of<'a>(session: &'a Map<String, Value>, kind: &str) -> Option<&'a str> {
    let at = if kind == "transcription" {
        session
            .get("audio")?
            .get("input")?
            .get("transcription")?
            .get("model")
    } else {
        session.get("model")
    };
    at?.as_str()
}

/// `POST …/realtime/client_secrets`
async fn client_secrets(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either((|| {
        server_only(&shared, provider, &headers)?;
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
            return Err(error(
                400,
                "We could not parse the JSON body of your request.",
                None,
                None,
            ));
        };
        if let Some(k) = body
            .keys()
            .find(|k| !["expires_after", "session"].contains(&k.as_str()))
        {
            return Err(error(
                400,
                &format!("Unknown parameter: '{k}'."),
                Some(k),
                Some("unknown_parameter"),
            ));
        }
        let mut seconds = 600u64;
        if let Some(after) = body.get("expires_after") {
            let anchor = after
                .get("anchor")
                .and_then(Value::as_str)
                .unwrap_or("created_at");
            if anchor != "created_at" {
                return Err(bad(
                    "Invalid 'expires_after.anchor': expected 'created_at'.",
                    "expires_after.anchor",
                ));
            }
            match after.get("seconds").map(Value::as_u64) {
                None => {}
                Some(Some(s @ 10..=7200)) => seconds = s,
                Some(_) => {
                    return Err(error(
                        400,
                        "Invalid 'expires_after.seconds': expected an integer between 10 and 7200.",
                        Some("expires_after.seconds"),
                        Some("integer_out_of_range"),
                    ))
                }
            }
        }
        let Some(Value::Object(session)) = body.get("session") else {
            return Err(bad("Missing required parameter: 'session'.", "session"));
        };
        let kind = match session.get("type").and_then(Value::as_str) {
            Some(k @ ("realtime" | "transcription")) => k.to_owned(),
            _ => {
                return Err(bad(
                    "Invalid 'session.type': expected one of 'realtime' or 'transcription'.",
                    "session.type",
                ))
            }
        };
        let Some(model) = model_of(session, &kind).map(str::to_owned) else {
            let param = if kind == "transcription" {
                "session.audio.input.transcription.model"
            } else {
                "session.model"
            };
            return Err(bad(
                &format!("Missing required parameter: '{param}'."),
                param,
            ));
        };
        let now = unix_now();
        let expired = session
            .get("instructions")
            .and_then(Value::as_str)
            .is_some_and(|i| i.contains("[[expired]]"));
        let expires_at = if expired { now - 1 } else { now + seconds };
        let (value, session_id) = {
            let mut state = shared.lock();
            state.counter += 1;
            let seed = mix(state.counter ^ shared.salt.rotate_left(32) ^ 0xEE_0000);
            let value = format!("ek_{}", hex(seed, 32));
            state.realtime.keys.push(Ephemeral {
                value: value.clone(),
                provider,
                kind: kind.clone(),
                model: model.clone(),
                expires_at,
            });
            (value, format!("sess_{}", hex(seed ^ 0x5E55, 24)))
        };
        // The session as configured, plus what the server fills in.
        let mut echoed = session.clone();
        echoed.remove("type");
        let object = if kind == "transcription" {
            "realtime.transcription_session"
        } else {
            "realtime.session"
        };
        let mut out = obj([
            ("type", kind.as_str().into()),
            ("object", object.into()),
            ("id", session_id.as_str().into()),
        ]);
        if kind == "realtime" {
            echoed.remove("model");
            out.push("model", model.as_str().into());
            for (k, default) in [
                ("output_modalities", json!(["audio"])),
                ("instructions", json!("You are a helpful assistant.")),
                ("tool_choice", json!("auto")),
                ("tools", json!([])),
                ("max_output_tokens", json!("inf")),
            ] {
                let v = echoed.remove(k).unwrap_or(default);
                out.push(k, Json::Plain(v));
            }
        }
        let audio = echoed.remove("audio").unwrap_or_else(|| json!({}));
        out.push("audio", Json::Plain(audio));
        for (k, v) in echoed {
            if let Some(k) = known_key(&k) {
                out.push(k, Json::Plain(v));
            }
        }
        out.push("expires_at", Json::Plain(json!(0)));
        let answer = obj([
            ("value", value.as_str().into()),
            ("expires_at", Json::Plain(json!(expires_at))),
            ("session", out),
        ]);
        let text = serde_json::to_string_pretty(&answer).unwrap_or_default();
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response())
    })())
}

/// The ordered-JSON writer takes `&'static str` keys; echo the session
/// fields the API knows (anything else was rejected by the real API anyway).
fn known_key(k: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &[
        "include",
        "prompt",
        "tracing",
        "truncation",
        "reasoning",
        "parallel_tool_calls",
    ];
    KNOWN.iter().copied().find(|known| *known == k)
}

/// The SDP offer and session of a `calls` request.
struct Offer {
    sdp: String,
    session: Option<Map<String, Value>>,
}

async fn read_offer(headers: &HeaderMap, body: Bytes) -> Result<Offer, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (sdp, session) = if ct.starts_with("application/sdp") {
        (String::from_utf8_lossy(&body).into_owned(), None)
    } else if ct.starts_with("multipart/form-data") {
        let bad_form =
            |e: multer::Error| bad(&format!("Could not parse multipart form: {e}"), "sdp");
        let boundary = multer::parse_boundary(&ct).map_err(bad_form)?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut form = multer::Multipart::new(stream, boundary);
        let (mut sdp, mut session) = (None, None);
        while let Some(field) = form.next_field().await.map_err(bad_form)? {
            let name = field.name().unwrap_or_default().to_owned();
            let data = field.bytes().await.map_err(bad_form)?;
            match name.as_str() {
                "sdp" => sdp = Some(String::from_utf8_lossy(&data).into_owned()),
                "session" => match serde_json::from_slice::<Value>(&data) {
                    Ok(Value::Object(map)) => session = Some(map),
                    _ => return Err(bad("Invalid 'session': expected a JSON object.", "session")),
                },
                other => {
                    return Err(error(
                        400,
                        &format!("Unknown parameter: '{other}'."),
                        Some(other),
                        Some("unknown_parameter"),
                    ))
                }
            }
        }
        let sdp = sdp.ok_or_else(|| bad("Missing required parameter: 'sdp'.", "sdp"))?;
        (sdp, session)
    } else {
        return Err(bad(
            &format!(
                "Unsupported content type '{ct}': send application/sdp or multipart/form-data."
            ),
            "sdp",
        ));
    };
    if !sdp.starts_with("v=0") || !sdp.contains("\nm=") {
        return Err(bad("Invalid SDP offer.", "sdp"));
    }
    Ok(Offer { sdp, session })
}

/// A syntactically valid SDP answer to `offer` (audio, one Opus codec).
fn answer_sdp(seed: u64) -> String {
    let h = hex(seed, 64);
    let fingerprint: Vec<String> = (0..32)
        .map(|i| h[i * 2..i * 2 + 2].to_ascii_uppercase())
        .collect();
    [
        "v=0".to_owned(),
        format!("o=- {} 2 IN IP4 127.0.0.1", seed % 10_000_000_000),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        "a=group:BUNDLE 0".to_owned(),
        "a=msid-semantic: WMS".to_owned(),
        "m=audio 9 UDP/TLS/RTP/SAVPF 111".to_owned(),
        "c=IN IP4 0.0.0.0".to_owned(),
        "a=rtcp:9 IN IP4 0.0.0.0".to_owned(),
        format!("a=ice-ufrag:{}", &h[..8]),
        format!("a=ice-pwd:{}", &h[8..40]),
        format!("a=fingerprint:sha-256 {}", fingerprint.join(":")),
        "a=setup:active".to_owned(),
        "a=mid:0".to_owned(),
        "a=sendrecv".to_owned(),
        "a=rtcp-mux".to_owned(),
        "a=rtpmap:111 opus/48000/2".to_owned(),
        "a=fmtp:111 minptime=10;useinbandfec=1".to_owned(),
        "a=candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host".to_owned(),
        String::new(),
    ]
    .join("\r\n")
}

/// The SDP answer to `offer`: [`answer_sdp`] for an offer of one audio
/// section; otherwise one answer section per offer section, in the offer's
/// order and with its `mid`s (audio: Opus; `application`: the WebRTC data
/// channel; anything else rejected with port 0), as browsers require.
pub(crate) fn answer_for(seed: u64, offer: &str) -> String {
    let sections: Vec<(&str, Option<&str>)> = offer
        .split("\nm=")
        .skip(1)
        .map(|section| {
            let kind = section.split(' ').next().unwrap_or("");
            let mid = section
                .lines()
                .find_map(|l| l.trim_end().strip_prefix("a=mid:"));
            (kind, mid)
        })
        .collect();
    if sections.len() == 1 && sections[0].0 == "audio" && sections[0].1.is_none_or(|m| m == "0") {
        return answer_sdp(seed);
    }
    let h = hex(seed, 64);
    let fingerprint: Vec<String> = (0..32)
        .map(|i| h[i * 2..i * 2 + 2].to_ascii_uppercase())
        .collect();
    let mids: Vec<String> = sections
        .iter()
        .enumerate()
        .map(|(i, (_, mid))| mid.map_or_else(|| i.to_string(), str::to_owned))
        .collect();
    let accepted: Vec<&str> = sections
        .iter()
        .zip(&mids)
        .filter(|((kind, _), _)| *kind == "audio" || *kind == "application")
        .map(|(_, mid)| mid.as_str())
        .collect();
    let mut lines = vec![
        "v=0".to_owned(),
        format!("o=- {} 2 IN IP4 127.0.0.1", seed % 10_000_000_000),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        format!("a=group:BUNDLE {}", accepted.join(" ")),
        "a=msid-semantic: WMS".to_owned(),
    ];
    let transport = |lines: &mut Vec<String>, mid: &str| {
        lines.push("c=IN IP4 0.0.0.0".to_owned());
        lines.push(format!("a=ice-ufrag:{}", &h[..8]));
        lines.push(format!("a=ice-pwd:{}", &h[8..40]));
        lines.push(format!("a=fingerprint:sha-256 {}", fingerprint.join(":")));
        lines.push("a=setup:active".to_owned());
        lines.push(format!("a=mid:{mid}"));
    };
    for ((kind, _), mid) in sections.iter().zip(&mids) {
        match *kind {
            "audio" => {
                lines.push("m=audio 9 UDP/TLS/RTP/SAVPF 111".to_owned());
                transport(&mut lines, mid);
                lines.push("a=sendrecv".to_owned());
                lines.push("a=rtcp-mux".to_owned());
                lines.push("a=rtpmap:111 opus/48000/2".to_owned());
                lines.push("a=fmtp:111 minptime=10;useinbandfec=1".to_owned());
            }
            "application" => {
                lines.push("m=application 9 UDP/DTLS/SCTP webrtc-datachannel".to_owned());
                transport(&mut lines, mid);
                lines.push("a=sctp-port:5000".to_owned());
                lines.push("a=max-message-size:262144".to_owned());
            }
            other => {
                lines.push(format!("m={other} 0 UDP/TLS/RTP/SAVPF 96"));
                lines.push("c=IN IP4 0.0.0.0".to_owned());
                lines.push(format!("a=mid:{mid}"));
                lines.push("a=inactive".to_owned());
                lines.push("a=rtpmap:96 VP8/90000".to_owned());
            }
        }
    }
    lines.push("a=candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host".to_owned());
    lines.push(String::new());
    lines.join("\r\n")
}

/// `POST …/realtime/calls`
async fn create_call(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result: Result<Response, Response> = async {
        let credential = credential(&shared, provider, &headers)?;
        let offer = read_offer(&headers, body).await?;
        let model = match credential {
            Credential::Ephemeral(key) => {
                let found = shared
                    .lock()
                    .realtime
                    .keys
                    .iter()
                    .find(|k| k.value == key && k.provider == provider)
                    .cloned();
                let Some(ek) = found else {
                    return Err(error(
                        401,
                        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                        None,
                        Some("invalid_api_key"),
                    ));
                };
                if unix_now() >= ek.expires_at {
                    return Err(error(
                        401,
                        "The ephemeral key has expired.",
                        None,
                        Some("ephemeral_key_expired"),
                    ));
                }
                if let Some(session) = &offer.session {
                    if let Some(m) = model_of(session, &ek.kind) {
                        if m != ek.model {
                            return Err(bad(
                                &format!("Invalid 'session.model': the client secret was created for '{}'.", ek.model),
                                "session.model",
                            ));
                        }
                    }
                }
                ek.model
            }
            Credential::Server => {
                let Some(session) = &offer.session else {
                    return Err(bad(
                        "Missing required parameter: 'session' (required with a standard API key).",
                        "session",
                    ));
                };
                let kind = session.get("type").and_then(Value::as_str).unwrap_or("realtime");
                model_of(session, kind)
                    .map(str::to_owned)
                    .ok_or_else(|| bad("Missing required parameter: 'session.model'.", "session.model"))?
            }
        };
        let (id, seed) = {
            let mut state = shared.lock();
            state.counter += 1;
            let seed = mix(state.counter ^ shared.salt.rotate_left(40) ^ 0xCA11);
            let id = format!("rtc_{}", hex(seed, 32));
            state.realtime.calls.push(Call {
                id: id.clone(),
                provider,
                model,
                actions: Vec::new(),
                ended: false,
            });
            (id, seed)
        };
        Ok((
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_owned()),
                (header::LOCATION, format!("{}/{id}", provider.calls_path())),
            ],
            answer_for(seed, &offer.sdp),
        )
            .into_response())
    }
    .await;
    either(result)
}

/// `POST …/realtime/calls/{id}/{action}`
async fn control(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    either((|| {
        if !["accept", "hangup", "refer", "reject"].contains(&action.as_str()) {
            return Err(error(
                404,
                &format!("Invalid URL (POST {}/{id}/{action})", provider.calls_path()),
                None,
                None,
            ));
        }
        server_only(&shared, provider, &headers)?;
        let object = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(error(
                        400,
                        "We could not parse the JSON body of your request.",
                        None,
                        None,
                    ))
                }
            }
        };
        match action.as_str() {
            "accept" if object.get("type").and_then(Value::as_str) != Some("realtime") => {
                return Err(bad("Missing required parameter: 'type'.", "type"))
            }
            "refer" if !object.get("target_uri").is_some_and(Value::is_string) => {
                return Err(bad(
                    "Missing required parameter: 'target_uri'.",
                    "target_uri",
                ))
            }
            _ => {}
        }
        let mut state = shared.lock();
        let Some(call) = state
            .realtime
            .calls
            .iter_mut()
            .find(|c| c.id == id && c.provider == provider && !c.ended)
        else {
            return Err(error(
                404,
                &format!("Call '{id}' not found."),
                None,
                Some("call_not_found"),
            ));
        };
        call.actions.push(action.clone());
        if action == "hangup" || action == "reject" {
            call.ended = true;
        }
        Ok(StatusCode::OK.into_response())
    })())
}

/// `GET /_mock/realtime`
async fn inspect(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let keys: Vec<Value> = state
        .realtime
        .keys
        .iter()
        .map(|k| {
            json!({"value": k.value, "provider": k.provider.name(), "kind": k.kind,
                   "model": k.model, "expires_at": k.expires_at})
        })
        .collect();
    let calls: Vec<Value> = state
        .realtime
        .calls
        .iter()
        .map(|c| {
            json!({"id": c.id, "provider": c.provider.name(), "model": c.model,
                   "actions": c.actions, "ended": c.ended})
        })
        .collect();
    let sockets: Vec<Value> = state
        .realtime
        .sockets
        .iter()
        .map(|s| {
            json!({"provider": s.provider, "credential": s.credential, "model": s.model,
                   "call_id": s.call_id, "intent": s.intent, "events": s.events,
                   "session_models": s.session_models, "binary_frames": s.binary_frames,
                   "binary_bytes": s.binary_bytes,
                   "closed_by_client": s.closed_by_client.as_ref().map(|(c, r)| json!({"code": c, "reason": r}))})
        })
        .collect();
    axum::Json(json!({"ephemeral_keys": keys, "calls": calls, "sockets": sockets})).into_response()
}

// ---- WebSocket peers ----

/// `GET …/realtime` with `Upgrade: websocket`.
async fn socket(
    State(shared): State<Arc<Shared>>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    either((|| {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (model, call_id, intent) = (get("model"), get("call_id"), get("intent"));
        let credential = credential(&shared, provider, &headers)?;
        let mut socket = Socket {
            provider: provider.name(),
            call_id: call_id.clone(),
            intent: intent.clone(),
            ..Socket::default()
        };
        let now = unix_now();
        let mut state = shared.lock();
        match (&credential, &call_id) {
            (Credential::Server, Some(id)) => {
                let call = state
                    .realtime
                    .calls
                    .iter()
                    .find(|c| &c.id == id && c.provider == provider && !c.ended)
                    .ok_or_else(|| {
                        error(
                            404,
                            &format!("Call '{id}' not found."),
                            None,
                            Some("call_not_found"),
                        )
                    })?;
                socket.credential = "server";
                socket.model = Some(call.model.clone());
            }
            (Credential::Ephemeral(_), Some(_)) => {
                return Err(error(
                    401,
                    "Ephemeral keys cannot attach to a call; use a standard API key.",
                    None,
                    Some("invalid_api_key"),
                ))
            }
            (Credential::Server, None) => {
                if model.is_none() && intent.as_deref() != Some("transcription") {
                    return Err(bad("Missing required parameter: 'model'.", "model"));
                }
                socket.credential = "server";
                socket.model = model.clone();
            }
            (Credential::Ephemeral(value), None) => {
                let key = state
                    .realtime
                    .keys
                    .iter()
                    .find(|k| &k.value == value && k.provider == provider && k.expires_at > now)
                    .ok_or_else(|| {
                        error(
                            401,
                            "Invalid ephemeral key provided.",
                            None,
                            Some("invalid_api_key"),
                        )
                    })?;
                if model.as_ref().is_some_and(|m| m != &key.model) {
                    return Err(bad(
                        "The model does not match the ephemeral key's session.",
                        "model",
                    ));
                }
                socket.credential = "ephemeral";
                socket.model = Some(key.model.clone());
            }
        }
        state.realtime.sockets.push(socket.clone());
        let index = state.realtime.sockets.len() - 1;
        drop(state);
        let shared = shared.clone();
        // What the socket was opened with, for `mock.error_echoing_credential`.
        let presented = bearer(&headers)
            .or_else(|| {
                headers
                    .get("api-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Ok(upgrade.on_upgrade(move |ws| run_socket(shared, index, socket, presented, ws)))
    })())
}

fn event_id(seq: u64) -> String {
    format!("event_{}", hex(mix(seq ^ 0xE7E7), 20))
}

async fn run_socket(
    shared: Arc<Shared>,
    index: usize,
    socket: Socket,
    presented: String,
    mut ws: WebSocket,
) {
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let kind = if socket.intent.as_deref() == Some("transcription") {
        "transcription"
    } else {
        "realtime"
    };
    let mut session = json!({"type": kind, "object": "realtime.session",
        "id": format!("sess_{}", hex(mix(seq ^ 0x5E55), 24)), "model": socket.model,
        "output_modalities": ["audio"], "instructions": ""});
    let created = json!({"type": "session.created", "event_id": event_id(seq), "session": session});
    if ws
        .send(Message::Text(created.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let record = |f: &mut dyn FnMut(&mut Socket)| {
        if let Some(s) = shared.lock().realtime.sockets.get_mut(index) {
            f(s);
        }
    };
    let mut n = 0u64;
    while let Some(Ok(message)) = ws.recv().await {
        n += 1;
        let reply: Vec<Message> = match message {
            Message::Binary(bytes) => {
                record(&mut |s| {
                    s.binary_frames += 1;
                    s.binary_bytes += bytes.len() as u64;
                });
                vec![Message::Binary(bytes)]
            }
            Message::Text(text) => {
                let event: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let kind = event
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let model = event
                    .pointer("/session/model")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                record(&mut |s| {
                    s.events.push(kind.clone());
                    if let Some(m) = &model {
                        s.session_models.push(m.clone());
                    }
                });
                let id = event_id(seq.wrapping_add(n));
                match kind.as_str() {
                    "session.update" => {
                        if let (Some(Value::Object(update)), Value::Object(current)) =
                            (event.get("session"), &mut session)
                        {
                            for (k, v) in update {
                                current.insert(k.clone(), v.clone());
                            }
                        }
                        let updated =
                            json!({"type": "session.updated", "event_id": id, "session": session});
                        vec![Message::Text(updated.to_string().into())]
                    }
                    "response.create" => {
                        let rid = format!("resp_{}", hex(mix(seq ^ n), 20));
                        vec![
                            Message::Text(json!({"type": "response.created", "event_id": id,
                                "response": {"id": rid, "object": "realtime.response", "status": "in_progress"}}).to_string().into()),
                            Message::Text(json!({"type": "response.output_text.delta", "event_id": id,
                                "response_id": rid, "item_id": "item_1", "output_index": 0, "content_index": 0,
                                "delta": "hello from the mock"}).to_string().into()),
                            Message::Text(json!({"type": "response.done", "event_id": id,
                                "response": {"id": rid, "object": "realtime.response", "status": "completed"}}).to_string().into()),
                        ]
                    }
                    "mock.error_echoing_credential" => {
                        let error = json!({"type": "error", "event_id": id, "error": {
                            "type": "invalid_request_error", "code": "invalid_api_key",
                            "message": format!("The credential {presented} may not do this."),
                            "param": null, "event_id": null}});
                        vec![Message::Text(error.to_string().into())]
                    }
                    "mock.close" => {
                        let code = event.get("code").and_then(Value::as_u64).unwrap_or(1000);
                        let reason = event
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                        let frame = CloseFrame {
                            code: u16::try_from(code).unwrap_or(1000),
                            reason: reason.into(),
                        };
                        let _ = ws.send(Message::Close(Some(frame))).await;
                        // Wait for the peer's close reply, then stop.
                        while let Some(Ok(m)) = ws.recv().await {
                            if matches!(m, Message::Close(_)) {
                                break;
                            }
                        }
                        return;
                    }
                    _ => vec![Message::Text(
                        json!({"type": "mock.echo", "event_id": id, "event": event})
                            .to_string()
                            .into(),
                    )],
                }
            }
            Message::Close(frame) => {
                let closed = frame
                    .map(|f| (f.code, f.reason.as_str().to_owned()))
                    .unwrap_or((1005, String::new()));
                record(&mut |s| s.closed_by_client = Some(closed.clone()));
                return;
            }
            Message::Ping(_) | Message::Pong(_) => Vec::new(),
        };
        for m in reply {
            if ws.send(m).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mirror_browser_offers() {
        let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
                     m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:0\r\n\
                     m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n";
        let sdp = answer_for(7, offer);
        assert!(sdp.contains("a=group:BUNDLE 0 1\r\n"), "{sdp}");
        let audio = sdp.find("m=audio").unwrap();
        let data = sdp
            .find("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
            .unwrap();
        assert!(audio < data);
        assert!(sdp.contains("a=mid:1\r\na=sctp-port:5000"), "{sdp}");
        assert_eq!(
            answer_for(42, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"),
            answer_sdp(42)
        );
    }

    #[test]
    fn answers_are_sdp() {
        let sdp = answer_sdp(42);
        assert!(sdp.starts_with("v=0\r\n"));
        assert!(sdp.contains("\r\nm=audio "));
        assert!(sdp.ends_with("\r\n"));
        assert!(sdp.lines().all(|l| l.is_empty() || l.as_bytes()[1] == b'='));
    }
}
