// WebSocket plumbing shared by every realtime socket (OpenAI Realtime,
// Gemini Live, Vertex Live): opening the upstream socket with the
// deployment's credential (a `fetch` with `Upgrade: websocket`, the only way
// to send headers on an outbound socket), refusing a client socket (accept,
// one error event for OpenAI clients, close with a code and reason), and
// the relay itself — text and binary frames both ways, `session.update`
// guarded by core, closes propagated with their code and reason (close
// codes that may not be sent become 1000/1011), an optional deadline, and
// one log line when the session ends (counts and codes, never a payload or
// a reason).
//
// Binary frames: with this compatibility date the runtime delivers binary
// messages as Blob unless `binaryType` is `arraybuffer`, which every socket
// here sets before it is accepted; a Blob that arrives anyway is read
// through its `arrayBuffer()`.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use reelay_core::errors::{ClientError, Dialect, ErrorCode, UpstreamError};
use reelay_core::realtime::ws::{
    close_for, close_reason, error_event, relayable_close, scrub, SessionGuard, Verdict,
    CLOSE_INTERNAL, CLOSE_POLICY,
};
use worker::js_sys::{ArrayBuffer, Function, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{
    Date, Delay, EventStream, Headers, Method, Request, RequestInit, Response, WebSocket,
    WebSocketPair, WebsocketEvent,
};

use crate::context::Ctx;
use crate::fetch::{self, Failure};

/// The longest delay a runtime timer takes.
const MAX_TIMER_MS: u64 = i32::MAX as u64;

/// The client asked for a WebSocket (`Upgrade: websocket`).
pub(crate) fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get("upgrade")
        .ok()
        .flatten()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// Refuses a plain HTTP request on a WebSocket-only route.
pub(crate) fn require_upgrade(req: &Request) -> Result<(), ClientError> {
    if is_upgrade(req) {
        Ok(())
    } else {
        Err(ClientError::new(
            ErrorCode::WebSocketRequired,
            "this route only accepts WebSocket connections (send `Upgrade: websocket`)",
        ))
    }
}

/// Makes `ws` deliver binary frames as ArrayBuffer (call before `accept`).
pub(crate) fn binary_as_array_buffer(ws: &WebSocket) {
    ws.as_ref()
        .set_binary_type(web_sys::BinaryType::Arraybuffer);
}

/// A new client socket pair, the server end set up and accepted.
pub(crate) fn client_pair() -> Result<WebSocketPair, ClientError> {
    let pair = WebSocketPair::new().map_err(|e| internal("creating a WebSocket pair", e))?;
    binary_as_array_buffer(&pair.server);
    pair.server
        .accept()
        .map_err(|e| internal("accepting a WebSocket", e))?;
    Ok(pair)
}

fn internal(what: &str, e: impl std::fmt::Display) -> ClientError {
    worker::console_error!("internal error while {what}: {e}");
    ClientError::new(
        ErrorCode::Internal,
        format!("internal gateway error while {what}"),
    )
}

/// The `101` answer for a client socket, naming `protocol` when the client
/// offered it.
pub(crate) fn upgrade_response(
    client: WebSocket,
    protocol: Option<&str>,
) -> Result<Response, ClientError> {
    let headers = Headers::new();
    if let Some(protocol) = protocol {
        let _ = headers.set("sec-websocket-protocol", protocol);
    }
    Ok(Response::builder()
        .with_status(101)
        .with_headers(headers)
        .with_websocket(client)
        .empty())
}

/// Accepts the client socket only to refuse it: an OpenAI `error` event
/// (OpenAI dialect), then a close with `err`'s code and reason.
pub(crate) fn refuse(
    cx: &Ctx,
    err: &ClientError,
    dialect: Dialect,
    protocol: Option<&str>,
) -> Result<Response, ClientError> {
    cx.log.borrow_mut().error_code = Some(err.code.as_str());
    let pair = client_pair()?;
    if dialect == Dialect::OpenAi {
        let _ = pair.server.send_with_str(error_event(err));
    }
    let (code, reason) = close_for(err);
    let _ = pair.server.close(Some(code), Some(reason));
    upgrade_response(pair.client, protocol)
}

/// Closes a client socket that was already answered with `101`.
pub(crate) fn close_with(server: &WebSocket, err: &ClientError, dialect: Dialect) {
    if dialect == Dialect::OpenAi {
        let _ = server.send_with_str(error_event(err));
    }
    let (code, reason) = close_for(err);
    let _ = server.close(Some(code), Some(reason));
}

/// Opens the upstream socket at `url` (http or https) with `headers`
/// (credentials), within `timeout_ms`. The socket is not accepted yet:
/// [`pump`] registers its listeners first. A refusal is classified like any
/// upstream answer (callers scrub their credential from its message).
pub(crate) async fn connect_attempt(
    cx: &Ctx,
    url: &str,
    headers: &[(&str, &str)],
    timeout_ms: u32,
    what: &str,
) -> Result<WebSocket, Failure> {
    let h = Headers::new();
    let _ = h.set("upgrade", "websocket");
    for (name, value) in headers {
        h.set(name, value).map_err(|_| {
            ClientError::new(
                ErrorCode::ConfigInvalid,
                "the upstream credential is not a valid header value",
            )
        })?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(h);
    let request = Request::new_with_init(url, &init).map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            format!("{what} builds an invalid upstream URL"),
        )
    })?;
    let response = fetch::fetch_classified(cx, request, timeout_ms, what).await?;
    if response.status_code() == 101 {
        return response.websocket().ok_or_else(|| Failure::Upstream {
            error: garbage("the provider answered 101 without a WebSocket"),
            answered: true,
        });
    }
    // A refusal is classified like any upstream answer; a 2xx is no upgrade.
    let error = match fetch::classify_response(response).await {
        Err(error) => error,
        Ok(_) => garbage("the provider did not upgrade to a WebSocket"),
    };
    Err(Failure::Upstream {
        error,
        answered: true,
    })
}

fn garbage(message: &str) -> UpstreamError {
    UpstreamError::unreadable(None, message)
}

/// One frame's payload.
pub(crate) enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// The payload bytes (a setup frame may come either way).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }
}

/// A message event's payload: a string, an ArrayBuffer, or (should the
/// binary type not have applied) a Blob read through `arrayBuffer()`.
pub(crate) async fn frame_of(event: &worker::MessageEvent) -> Option<Frame> {
    let data = event.as_ref().data();
    if let Some(text) = data.as_string() {
        return Some(Frame::Text(text));
    }
    if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        return Some(Frame::Binary(Uint8Array::new(buffer).to_vec()));
    }
    if data.is_object() {
        if let Some(buffer) = read_blob(&data).await {
            return Some(Frame::Binary(Uint8Array::new(&buffer).to_vec()));
        }
        if data.is_instance_of::<Uint8Array>() {
            return Some(Frame::Binary(Uint8Array::new(&data).to_vec()));
        }
    }
    None
}

async fn read_blob(data: &JsValue) -> Option<JsValue> {
    let method = Reflect::get(data, &JsValue::from_str("arrayBuffer")).ok()?;
    let method: Function = method.dyn_into().ok()?;
    let promise: Promise = method.call0(data).ok()?.dyn_into().ok()?;
    let buffer = JsFuture::from(promise).await.ok()?;
    buffer.is_instance_of::<ArrayBuffer>().then_some(buffer)
}

fn send(ws: &WebSocket, frame: &Frame) -> bool {
    match frame {
        Frame::Text(t) => ws.send_with_str(t).is_ok(),
        Frame::Binary(b) => ws.send_with_bytes(b).is_ok(),
    }
}

/// The next message from a client socket before the relay starts (a Live
/// setup frame): `Ok(None)` when the client closed first.
pub(crate) async fn first_frame(events: &mut EventStream<'_>) -> Result<Option<Frame>, ()> {
    while let Some(event) = events.next().await {
        match event {
            Ok(WebsocketEvent::Message(msg)) => {
                if let Some(frame) = frame_of(&msg).await {
                    return Ok(Some(frame));
                }
            }
            Ok(WebsocketEvent::Close(_)) => return Ok(None),
            Err(_) => return Err(()),
        }
    }
    Ok(None)
}

/// How to run one relayed session.
pub(crate) struct Session {
    /// The request id of the `101`, for the end-of-session log line.
    pub(crate) request_id: String,
    /// `openai_realtime`, `gemini_live`, `vertex_live`.
    pub(crate) kind: &'static str,
    /// OpenAI clients get `error` events for refused frames.
    pub(crate) dialect: Dialect,
    /// The OpenAI frame guard, if any.
    pub(crate) guard: Option<SessionGuard>,
    /// Frames to send upstream first (a rewritten Live setup).
    pub(crate) first_upstream: Option<String>,
    /// Unix ms at which the session is closed (a Live token's `expireTime`).
    pub(crate) deadline_ms: Option<u64>,
    /// Values that must never reach the client (scrubbed from close reasons).
    pub(crate) secrets: Vec<String>,
    /// Model group and deployment, for the log line.
    pub(crate) model: Option<String>,
    pub(crate) deployment: Option<String>,
}

/// Where a relayed session stands, for its log line.
#[derive(Default)]
struct Counts {
    frames_up: u64,
    frames_down: u64,
    bytes_up: u64,
    bytes_down: u64,
    refused: u64,
}

/// Relays between the accepted client socket (whose `events` are already
/// being listened to) and the upstream socket until either side closes.
pub(crate) async fn pump(
    client: &WebSocket,
    client_events: &mut EventStream<'_>,
    upstream: WebSocket,
    session: Session,
) {
    let started = Date::now().as_millis();
    binary_as_array_buffer(&upstream);
    let mut upstream_events = match upstream.events() {
        Ok(events) => events,
        Err(e) => {
            worker::console_error!("listening to the upstream socket failed: {e}");
            let _ = client.close(Some(CLOSE_INTERNAL), Some("internal_error"));
            return;
        }
    };
    if let Err(e) = upstream.accept() {
        worker::console_error!("accepting the upstream socket failed: {e}");
        let _ = client.close(Some(CLOSE_INTERNAL), Some("internal_error"));
        return;
    }
    let secrets: Vec<&str> = session.secrets.iter().map(String::as_str).collect();
    let mut counts = Counts::default();
    if let Some(first) = &session.first_upstream {
        if upstream.send_with_str(first).is_err() {
            let _ = client.close(Some(CLOSE_INTERNAL), Some("the provider's socket closed"));
            return;
        }
    }
    // Timers take at most 2^31 - 1 ms (a longer delay fires at once).
    let wait_ms = session
        .deadline_ms
        .map_or(MAX_TIMER_MS, |at| {
            at.saturating_sub(Date::now().as_millis())
        })
        .min(MAX_TIMER_MS);
    let mut deadline = pin!(Delay::from(Duration::from_millis(wait_ms)));
    let ended: (&str, u16);
    loop {
        let both = select(client_events.next(), upstream_events.next());
        let next = match select(both, deadline.as_mut()).await {
            Either::Left((inner, _)) => inner,
            Either::Right(_) => {
                let err = ClientError::from_code(ErrorCode::LiveTokenExpired);
                let (_, reason) = close_for(&err);
                let _ = upstream.close(Some(1000), Some("session deadline"));
                let _ = client.close(Some(CLOSE_POLICY), Some(reason));
                ended = ("deadline", CLOSE_POLICY);
                break;
            }
        };
        match next {
            // From the client.
            Either::Left((event, _)) => match event {
                Some(Ok(WebsocketEvent::Message(msg))) => {
                    let Some(frame) = frame_of(&msg).await else {
                        continue;
                    };
                    let frame = match (&frame, &session.guard) {
                        (Frame::Text(text), Some(guard)) => match guard.client_text(text) {
                            Verdict::Pass => frame,
                            Verdict::Rewrite(t) => Frame::Text(t),
                            Verdict::Refuse(err) => {
                                counts.refused += 1;
                                if session.dialect == Dialect::OpenAi {
                                    let _ = client.send_with_str(error_event(&err));
                                }
                                continue;
                            }
                        },
                        _ => frame,
                    };
                    counts.frames_up += 1;
                    counts.bytes_up += frame.len() as u64;
                    if !send(&upstream, &frame) {
                        let _ = client
                            .close(Some(CLOSE_INTERNAL), Some("the provider's socket closed"));
                        ended = ("upstream_gone", CLOSE_INTERNAL);
                        break;
                    }
                }
                Some(Ok(WebsocketEvent::Close(close))) => {
                    let code = relayable_close(close.code(), close.was_clean());
                    let reason = close_reason(&scrub(&close.reason(), &secrets));
                    let _ = upstream.close(Some(code), Some(reason));
                    ended = ("client", code);
                    break;
                }
                Some(Err(_)) | None => {
                    let _ = upstream.close(Some(1000), Some("client gone"));
                    ended = ("client_error", CLOSE_INTERNAL);
                    break;
                }
            },
            // From the upstream.
            Either::Right((event, _)) => match event {
                Some(Ok(WebsocketEvent::Message(msg))) => {
                    let Some(frame) = frame_of(&msg).await else {
                        continue;
                    };
                    let frame = match (&frame, &session.guard) {
                        (Frame::Text(text), Some(guard)) => match guard.upstream_text(text) {
                            Verdict::Rewrite(t) => Frame::Text(t),
                            _ => frame,
                        },
                        _ => frame,
                    };
                    counts.frames_down += 1;
                    counts.bytes_down += frame.len() as u64;
                    if !send(client, &frame) {
                        let _ = upstream.close(Some(1000), Some("client gone"));
                        ended = ("client_gone", 1000);
                        break;
                    }
                }
                Some(Ok(WebsocketEvent::Close(close))) => {
                    let code = relayable_close(close.code(), close.was_clean());
                    let reason = close_reason(&scrub(&close.reason(), &secrets));
                    let _ = client.close(Some(code), Some(reason));
                    ended = ("upstream", code);
                    break;
                }
                Some(Err(_)) | None => {
                    let _ =
                        client.close(Some(CLOSE_INTERNAL), Some("the provider's socket failed"));
                    ended = ("upstream_error", CLOSE_INTERNAL);
                    break;
                }
            },
        }
    }
    let line = serde_json::json!({
        "ts": reelay_core::keys::rfc3339(started),
        "request_id": session.request_id,
        "event": "websocket_closed",
        "kind": session.kind,
        "model": session.model,
        "deployment": session.deployment,
        "closed_by": ended.0,
        "close_code": ended.1,
        "duration_ms": Date::now().as_millis().saturating_sub(started),
        "frames_up": counts.frames_up,
        "frames_down": counts.frames_down,
        "bytes_up": counts.bytes_up,
        "bytes_down": counts.bytes_down,
        "frames_refused": counts.refused,
    });
    worker::console_log!("{line}");
    drop(upstream_events);
}
