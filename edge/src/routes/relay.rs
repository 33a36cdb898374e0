// WebSocket plumbing shared by every realtime socket (OpenAI Realtime,
// Gemini Live, Vertex Live): opening the upstream socket with the
// deployment's credential (a `fetch` with `Upgrade: websocket`, the only way
// to send headers on an outbound socket), refusing a client socket (accept,
// one error event for OpenAI clients, close with a code and reason), and
// the relay itself — text and binary frames both ways, `session.update`
// guarded by core (every client text frame, and binary frames that read as
// events), closes propagated with their code and reason (close codes that
// may not be sent become 1000/1011), the session's lifetime (it ends with
// its key or token: expiry timer and a watch on the key's quota object, see
// [`Lifetime`]), and one log line when the session ends (counts and codes,
// never a payload or a reason).
//
// Binary frames: with this compatibility date the runtime delivers binary
// messages as Blob unless `binaryType` is `arraybuffer`, which every socket
// here sets before it is accepted; a Blob that arrives anyway is read
// through its `arrayBuffer()`.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use reelay_core::access::AccessGroups;
use reelay_core::errors::{ClientError, Dialect, ErrorCode, UpstreamError};
use reelay_core::keys::KeyRecord;
use reelay_core::realtime::lifetime::{self as limits, Credential};
use reelay_core::realtime::ws::{
    close_for, close_reason, error_event, relayable_close, scrub, FrameGuard, Verdict,
    CLOSE_INTERNAL,
};
use worker::js_sys::{ArrayBuffer, Function, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{
    Date, Delay, Env, EventStream, Headers, Method, Request, RequestInit, Response, WebSocket,
    WebSocketPair, WebsocketEvent,
};

use crate::context::Ctx;
use crate::fetch::{self, Failure};
use crate::keys::Caller;
use crate::quota::{self, WatchNotice, WATCH_REVOKED};

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

/// How waiting for a client's first message ended.
pub(crate) enum First {
    /// Its first frame.
    Frame(Frame),
    /// The client closed (or its socket failed) first.
    Gone,
    /// Nothing came within the time allowed.
    TimedOut,
}

/// The next message from a client socket before the relay starts (a Live
/// setup frame), within `within_ms`.
pub(crate) async fn first_frame(events: &mut EventStream<'_>, within_ms: u64) -> First {
    let mut timer = pin!(Delay::from(Duration::from_millis(
        within_ms.min(MAX_TIMER_MS)
    )));
    loop {
        let next = poll_fn(|task| {
            if timer.as_mut().poll(task).is_ready() {
                return Poll::Ready(None);
            }
            events.poll_next_unpin(task).map(Some)
        })
        .await;
        match next {
            None => return First::TimedOut,
            Some(Some(Ok(WebsocketEvent::Message(msg)))) => {
                if let Some(frame) = frame_of(&msg).await {
                    return First::Frame(frame);
                }
            }
            Some(Some(Ok(WebsocketEvent::Close(_)) | Err(_)) | None) => return First::Gone,
        }
    }
}

/// How to run one relayed session.
pub(crate) struct Session {
    /// The request id of the `101`, for the end-of-session log line.
    pub(crate) request_id: String,
    /// `openai_realtime`, `gemini_live`, `vertex_live`.
    pub(crate) kind: &'static str,
    /// OpenAI clients get `error` events for refused frames.
    pub(crate) dialect: Dialect,
    /// The protocol's frame guard, if any (OpenAI Realtime's, Live
    /// Interactions', GPT-Live's).
    pub(crate) guard: Option<Box<dyn FrameGuard>>,
    /// Frames to send upstream first (a rewritten Live setup).
    pub(crate) first_upstream: Option<String>,
    /// When the session must end: its credential's expiry, its key's
    /// deletion (see [`Lifetime`]).
    pub(crate) lifetime: Lifetime,
    /// Values that must never reach the client (scrubbed from close reasons).
    pub(crate) secrets: Vec<String>,
    /// Model group and deployment, for the log line.
    pub(crate) model: Option<String>,
    pub(crate) deployment: Option<String>,
}

/// How long a relayed session may live, kept by one mechanism for every
/// socket: a local timer at the earlier of its key's and its token's expiry
/// (core's [`limits::Lifetime`]), and a watch on its key's quota object,
/// which the object closes the moment the key is deleted — wherever the
/// deletion happened — and over which it pushes the key's record when it
/// changes (a new expiry; new rules, which end the session when core says
/// they no longer allow its model). No polling: one round trip when the session starts.
/// A watch lost for another reason is opened again (up to
/// [`REWATCH_DELAYS_MS`], within a second); if the object cannot be reached
/// the session is closed (fail closed, like every metered request).
pub(crate) struct Lifetime {
    limits: limits::Lifetime,
    /// The key's object (`None` for the master key, which cannot be
    /// deleted): environment and key token.
    key: Option<(Env, String)>,
    /// The config's access groups, which pushed rules are compiled with.
    groups: AccessGroups,
    /// The open watch, not yet accepted on this side.
    watch: Option<WebSocket>,
    /// Watches opened (quota-object round trips), for the log line.
    watches_opened: u32,
}

/// Waits before each attempt at opening a lost watch again.
const REWATCH_DELAYS_MS: [u64; 3] = [0, 200, 400];

impl Lifetime {
    /// The lifetime of a session on `model` (the name the key's rules were
    /// checked against) opened with `credential` for the key `record`
    /// (`None`: the master key), whose token (if any) expires at
    /// `token_expires_at_ms`. Opens the watch on the key's quota object: a
    /// deleted key, or an object that cannot be reached, refuses the session.
    pub(crate) async fn start(
        cx: &Ctx,
        model: &str,
        credential: Credential,
        record: Option<&KeyRecord>,
        token_expires_at_ms: Option<u64>,
    ) -> Result<Self, ClientError> {
        let limits = limits::Lifetime::new(
            credential,
            record.and_then(|r| r.expires_at_ms),
            token_expires_at_ms,
        )
        .for_model(model);
        if let Some(err) = limits.expired(Date::now().as_millis()) {
            return Err(err);
        }
        let mut lifetime = Self {
            limits,
            key: record.map(|r| (cx.env.clone(), r.token.clone())),
            groups: cx.config()?.access_groups.clone(),
            watch: None,
            watches_opened: 0,
        };
        if lifetime.key.is_some() {
            let watch = lifetime.open_watch().await?;
            lifetime.watch = Some(watch);
        }
        Ok(lifetime)
    }

    /// The lifetime of a session on `model` opened by `caller` with its own
    /// key (or a browser token of it; the master key is never revoked).
    pub(crate) async fn of_caller(
        cx: &Ctx,
        caller: &Caller,
        model: &str,
    ) -> Result<Self, ClientError> {
        if caller.is_master {
            return Self::start(cx, model, Credential::Key, None, None).await;
        }
        match &caller.token {
            Some(claims) => {
                let token_expires_at_ms = claims.expires_at_secs.saturating_mul(1000);
                let record = Some(&*caller.record);
                Self::start(
                    cx,
                    model,
                    Credential::BrowserToken,
                    record,
                    Some(token_expires_at_ms),
                )
                .await
            }
            None => Self::start(cx, model, Credential::Key, Some(&caller.record), None).await,
        }
    }

    /// One attempt at watching the key's object: the error ending the
    /// session when the key is revoked or its object cannot be reached.
    async fn open_watch(&mut self) -> Result<WebSocket, ClientError> {
        let Some((env, token)) = &self.key else {
            return Err(self.limits.unvouched());
        };
        self.watches_opened += 1;
        match quota::watch(env, token).await {
            quota::Watch::Watching(ws) => Ok(ws),
            quota::Watch::Revoked => Err(self.limits.revoked()),
            quota::Watch::Unreachable(detail) => {
                worker::console_error!("watching a key's quota store failed: {detail}");
                Err(self.limits.unvouched())
            }
        }
    }

    /// Opens a lost watch again, a few times within a second.
    async fn rewatch(&mut self) -> Result<WebSocket, ClientError> {
        let mut last = self.limits.unvouched();
        for wait in REWATCH_DELAYS_MS {
            if wait > 0 {
                Delay::from(Duration::from_millis(wait)).await;
            }
            match self.open_watch().await {
                Ok(ws) => return Ok(ws),
                Err(err) if err.code == ErrorCode::QuotaUnavailable => last = err,
                Err(err) => return Err(err),
            }
        }
        Err(last)
    }

    /// A timer firing when the clock ends the session.
    fn timer(&self) -> Delay {
        // Timers take at most 2^31 - 1 ms (a longer delay fires at once).
        let wait_ms = self
            .limits
            .ends_at_ms()
            .map_or(MAX_TIMER_MS, |at| {
                at.saturating_sub(Date::now().as_millis())
            })
            .min(MAX_TIMER_MS);
        Delay::from(Duration::from_millis(wait_ms))
    }
}

impl Drop for Lifetime {
    /// A session that never started relaying (its upstream refused) lets
    /// go of its watch, so the key's object does not keep it.
    fn drop(&mut self) {
        if let Some(ws) = self.watch.take() {
            let _ = ws.accept();
            let _ = ws.close(Some(1000), Some("session not started"));
        }
    }
}

/// Listens to a watch and accepts it (listeners first, as for the upstream).
fn listen(watch: &WebSocket) -> Option<EventStream<'_>> {
    let events = watch.events().ok()?;
    watch.accept().ok()?;
    Some(events)
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

/// What woke the relay.
enum Next {
    Watch(Option<worker::Result<WebsocketEvent>>),
    Deadline,
    Client(Option<worker::Result<WebsocketEvent>>),
    Upstream(Option<worker::Result<WebsocketEvent>>),
}

/// Ends a session for `err` (its key or token expired or was revoked):
/// the upstream is closed, the client gets `err` (an `error` event on
/// OpenAI sockets, then the close code and reason core picks).
fn end_for(client: &WebSocket, upstream: &WebSocket, err: &ClientError, dialect: Dialect) -> u16 {
    let _ = upstream.close(Some(1000), Some("session ended"));
    close_with(client, err, dialect);
    close_for(err).0
}

/// Relays between the accepted client socket (whose `events` are already
/// being listened to) and the upstream socket until either side closes or
/// the session's [`Lifetime`] ends it.
pub(crate) async fn pump(
    client: &WebSocket,
    client_events: &mut EventStream<'_>,
    upstream: WebSocket,
    mut session: Session,
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
    let mut lifetime = session.lifetime;
    let mut watch = lifetime.watch.take();
    let mut deadline = pin!(lifetime.timer());
    let dialect = session.dialect;
    let ended: (&str, u16) = 'session: loop {
        let mut watch_events = match &watch {
            Some(ws) => match listen(ws) {
                Some(events) => Some(events),
                None => {
                    let err = lifetime.limits.unvouched();
                    break 'session ("unvouched", end_for(client, &upstream, &err, dialect));
                }
            },
            None => None,
        };
        loop {
            // Ends first: a busy socket never delays its revocation.
            let next = poll_fn(|task| {
                if let Some(events) = watch_events.as_mut() {
                    if let Poll::Ready(event) = events.poll_next_unpin(task) {
                        return Poll::Ready(Next::Watch(event));
                    }
                }
                if deadline.as_mut().poll(task).is_ready() {
                    return Poll::Ready(Next::Deadline);
                }
                if let Poll::Ready(event) = client_events.poll_next_unpin(task) {
                    return Poll::Ready(Next::Client(event));
                }
                if let Poll::Ready(event) = upstream_events.poll_next_unpin(task) {
                    return Poll::Ready(Next::Upstream(event));
                }
                Poll::Pending
            })
            .await;
            match next {
                Next::Watch(Some(Ok(WebsocketEvent::Message(msg)))) => {
                    // The key's record changed: its expiry may have moved,
                    // its rules may no longer allow the session's model.
                    let notice = msg
                        .text()
                        .and_then(|t| serde_json::from_str::<WatchNotice>(&t).ok());
                    if let Some(notice) = notice {
                        let ended = lifetime.limits.key_changed(
                            notice.expires_at_ms,
                            notice.models.as_deref(),
                            &lifetime.groups,
                        );
                        if let Some(err) = ended {
                            break 'session ("narrowed", end_for(client, &upstream, &err, dialect));
                        }
                        deadline.set(lifetime.timer());
                    }
                }
                Next::Watch(Some(Ok(WebsocketEvent::Close(close))))
                    if close.code() == WATCH_REVOKED =>
                {
                    let err = lifetime.limits.revoked();
                    break 'session ("revoked", end_for(client, &upstream, &err, dialect));
                }
                // Lost for another reason: watched again below.
                Next::Watch(_) => break,
                Next::Deadline => match lifetime.limits.expired(Date::now().as_millis()) {
                    Some(err) => {
                        break 'session ("expired", end_for(client, &upstream, &err, dialect))
                    }
                    None => deadline.set(lifetime.timer()),
                },
                // From the client.
                Next::Client(event) => match event {
                    Some(Ok(WebsocketEvent::Message(msg))) => {
                        let Some(frame) = frame_of(&msg).await else {
                            continue;
                        };
                        let verdict = match (&frame, session.guard.as_mut()) {
                            (Frame::Text(text), Some(guard)) => guard.client_text(text),
                            (Frame::Binary(bytes), Some(guard)) => guard.client_binary(bytes),
                            _ => Verdict::Pass,
                        };
                        let frame = match verdict {
                            Verdict::Pass => frame,
                            Verdict::Rewrite(t) => Frame::Text(t),
                            Verdict::Refuse(err) => {
                                counts.refused += 1;
                                let event = match session.guard.as_ref() {
                                    Some(guard) => guard.refusal(&err),
                                    None => (dialect == Dialect::OpenAi).then(|| error_event(&err)),
                                };
                                if let Some(event) = event {
                                    let _ = client.send_with_str(event);
                                }
                                continue;
                            }
                        };
                        counts.frames_up += 1;
                        counts.bytes_up += frame.len() as u64;
                        if !send(&upstream, &frame) {
                            let _ = client
                                .close(Some(CLOSE_INTERNAL), Some("the provider's socket closed"));
                            break 'session ("upstream_gone", CLOSE_INTERNAL);
                        }
                    }
                    Some(Ok(WebsocketEvent::Close(close))) => {
                        let code = relayable_close(close.code(), close.was_clean());
                        let reason = close_reason(&scrub(&close.reason(), &secrets));
                        let _ = upstream.close(Some(code), Some(reason));
                        break 'session ("client", code);
                    }
                    Some(Err(_)) | None => {
                        let _ = upstream.close(Some(1000), Some("client gone"));
                        break 'session ("client_error", CLOSE_INTERNAL);
                    }
                },
                // From the upstream.
                Next::Upstream(event) => match event {
                    Some(Ok(WebsocketEvent::Message(msg))) => {
                        let Some(frame) = frame_of(&msg).await else {
                            continue;
                        };
                        let verdict = match (&frame, session.guard.as_mut()) {
                            (Frame::Text(text), Some(guard)) => guard.upstream_text(text),
                            (Frame::Binary(bytes), Some(guard)) => guard.upstream_binary(bytes),
                            _ => Verdict::Pass,
                        };
                        let frame = match verdict {
                            Verdict::Rewrite(t) => Frame::Text(t),
                            _ => frame,
                        };
                        counts.frames_down += 1;
                        counts.bytes_down += frame.len() as u64;
                        if !send(client, &frame) {
                            let _ = upstream.close(Some(1000), Some("client gone"));
                            break 'session ("client_gone", 1000);
                        }
                    }
                    Some(Ok(WebsocketEvent::Close(close))) => {
                        let code = relayable_close(close.code(), close.was_clean());
                        let reason = close_reason(&scrub(&close.reason(), &secrets));
                        let _ = client.close(Some(code), Some(reason));
                        break 'session ("upstream", code);
                    }
                    Some(Err(_)) | None => {
                        let _ = client
                            .close(Some(CLOSE_INTERNAL), Some("the provider's socket failed"));
                        break 'session ("upstream_error", CLOSE_INTERNAL);
                    }
                },
            }
        }
        // The watch was lost (the object restarted, the connection broke).
        drop(watch_events);
        watch = None;
        match lifetime.rewatch().await {
            Ok(ws) => watch = Some(ws),
            Err(err) => {
                let by = if err.code == ErrorCode::QuotaUnavailable {
                    "unvouched"
                } else {
                    "revoked"
                };
                break 'session (by, end_for(client, &upstream, &err, dialect));
            }
        }
    };
    if let Some(ws) = &watch {
        let _ = ws.close(Some(1000), Some("session ended"));
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
        "key_watches": lifetime.watches_opened,
    });
    worker::console_log!("{line}");
    drop(upstream_events);
}
