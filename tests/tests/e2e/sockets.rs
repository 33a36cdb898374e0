//! The WebSocket side of the end-to-end environment: opening a socket to
//! the gateway with headers, reading its next frame or its close, sending
//! text and JSON — shared by every module that drives a relayed socket.
//!
//! Everything the gateway sends back over a socket (each data frame, each
//! close reason and, through [`open_recorded`], the handshake's headers)
//! is recorded with [`Env::record`] for [`Env::assert_no_leaks`]. Waits are
//! bounded (a test fails, never hangs), never timed for speed.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::Env;

/// A client socket to the gateway.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The default bound on a handshake and on the wait for one frame.
pub(crate) const FRAME_WITHIN: Duration = Duration::from_secs(15);

/// How a socket ended: the close frame's code and reason; 1005 for a close
/// without a frame, 1006 (with the error, if any) for a dropped connection.
#[derive(Debug)]
pub(crate) struct Closed {
    pub(crate) code: u16,
    pub(crate) reason: String,
}

/// The handshake of a socket to the gateway's `path` with `headers`.
async fn connect(env: &Env, path: &str, headers: &[(&str, &str)]) -> (Socket, Response) {
    let mut request = env.ws_url(path).into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    tokio::time::timeout(FRAME_WITHIN, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake finishes")
        .expect("the gateway upgrades")
}

/// Opens a socket to `path` with `headers` (the handshake's headers are not
/// recorded).
pub(crate) async fn open(env: &Env, path: &str, headers: &[(&str, &str)]) -> Socket {
    connect(env, path, headers).await.0
}

/// Opens a socket to `path` with `headers`, recording the handshake's
/// headers; returns it and the subprotocol the gateway chose.
pub(crate) async fn open_recorded(
    env: &Env,
    path: &str,
    headers: &[(&str, &str)],
) -> (Socket, Option<String>) {
    let (socket, response) = connect(env, path, headers).await;
    for (name, value) in response.headers() {
        env.record(format!("{name}: {}", value.to_str().unwrap_or("")));
    }
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    (socket, protocol)
}

/// The next data frame (text or binary, recorded), or how the socket ended
/// (its close reason recorded), within `within`; pings and pongs skipped.
pub(crate) async fn next_frame(
    env: &Env,
    ws: &mut Socket,
    within: Duration,
) -> Result<Message, Closed> {
    loop {
        let message = tokio::time::timeout(within, ws.next())
            .await
            .unwrap_or_else(|_| panic!("nothing arrived within {within:?}"));
        match message {
            Some(Ok(Message::Text(t))) => {
                env.record(t.as_str().to_owned());
                return Ok(Message::Text(t));
            }
            Some(Ok(Message::Binary(b))) => {
                env.record(String::from_utf8_lossy(&b).into_owned());
                return Ok(Message::Binary(b));
            }
            Some(Ok(Message::Close(frame))) => {
                let closed = frame.map_or(
                    Closed {
                        code: 1005,
                        reason: String::new(),
                    },
                    |f| Closed {
                        code: u16::from(f.code),
                        reason: f.reason.as_str().to_owned(),
                    },
                );
                env.record(closed.reason.clone());
                return Err(closed);
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                return Err(Closed {
                    code: 1006,
                    reason: e.to_string(),
                })
            }
            None => {
                return Err(Closed {
                    code: 1006,
                    reason: String::new(),
                })
            }
        }
    }
}

/// A data frame (as JSON), or how the socket ended.
#[derive(Debug)]
pub(crate) enum Got {
    /// A text or binary frame as JSON, `null` if it is not JSON.
    Data(Value),
    /// The close code and reason (see [`Closed`]).
    Closed(u16, String),
}

/// The next data frame (as JSON, `null` if it is not) or the close, within
/// `within`.
pub(crate) async fn next(env: &Env, ws: &mut Socket, within: Duration) -> Got {
    match next_frame(env, ws, within).await {
        Ok(Message::Text(t)) => Got::Data(serde_json::from_str(t.as_str()).unwrap_or(Value::Null)),
        Ok(Message::Binary(b)) => Got::Data(serde_json::from_slice(&b).unwrap_or(Value::Null)),
        Ok(other) => panic!("unexpected frame {other:?}"),
        Err(Closed { code, reason }) => Got::Closed(code, reason),
    }
}

/// The next data frame as JSON (`null` if it is not), within
/// [`FRAME_WITHIN`]; panics if the socket ended.
pub(crate) async fn json(env: &Env, ws: &mut Socket) -> Value {
    match next(env, ws, FRAME_WITHIN).await {
        Got::Data(v) => v,
        Got::Closed(code, reason) => panic!("closed {code}: {reason}"),
    }
}

/// Waits (at most `within`) for the gateway to close the socket with 1008
/// and a reason starting with `code`, skipping other data frames; every
/// `error` event before the close must carry `code`. Returns those events
/// and the close reason.
pub(crate) async fn error_events_then_1008(
    env: &Env,
    ws: &mut Socket,
    code: &str,
    within: Duration,
) -> (Vec<Value>, String) {
    let mut errors = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(env, ws, left.max(Duration::from_millis(1))).await {
            Got::Data(event) => {
                if event["type"] == "error" {
                    assert_eq!(event["error"]["code"], code, "{event}");
                    errors.push(event);
                }
            }
            Got::Closed(close, reason) => {
                assert_eq!(close, 1008, "{reason}");
                assert!(reason.starts_with(code), "{code}: {reason}");
                return (errors, reason);
            }
        }
    }
}

/// Sends `text` as a text frame.
pub(crate) async fn send_text(ws: &mut Socket, text: &str) {
    ws.send(Message::Text(text.to_owned().into()))
        .await
        .unwrap();
}

/// Sends `value` as a JSON text frame.
pub(crate) async fn send_json(ws: &mut Socket, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}
