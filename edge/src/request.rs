// Reading a client request: the method as the route table sees it (an
// unknown method is never read as another), bodies bounded while they
// stream, multipart forms held to their route's parts, and the media type.
// Used by every route.
//
// Bodies are counted as they arrive: a `Content-Length` over the limit is
// refused before any byte is read, and a chunked body the moment its count
// passes the limit; the reader is then cancelled, so the rest of the
// upload is never pulled in. A multipart form is read the same bounded way
// and only then parsed by the runtime (its per-part limits are the route's
// checks on the parsed parts); its part names are checked by core.

use reelay_core::errors::{ClientError, ErrorCode};
use worker::js_sys::{self, Array, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{FormData, Method, Request};

use crate::respond::OrInternal;

/// A request's method: one the `worker` crate names, or another token
/// (`PROPFIND`, …) that no route serves. (`worker::Method` reads every
/// method it does not know as `GET`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestMethod {
    Known(Method),
    Unknown(String),
}

impl PartialEq<Method> for RequestMethod {
    fn eq(&self, other: &Method) -> bool {
        matches!(self, Self::Known(m) if m == other)
    }
}

impl AsRef<str> for RequestMethod {
    fn as_ref(&self) -> &str {
        match self {
            Self::Known(m) => m.as_ref(),
            Self::Unknown(name) => name,
        }
    }
}

/// The request's method as it was sent.
pub(crate) fn method(req: &Request) -> RequestMethod {
    let raw = req.inner().method();
    let known = Method::from(raw.clone());
    if known.as_ref() == raw {
        RequestMethod::Known(known)
    } else {
        RequestMethod::Unknown(raw)
    }
}

/// Refuses `method` unless the route allows it: a 405 with `Allow`.
pub(crate) fn allow(method: &RequestMethod, allowed: &[Method]) -> Result<(), ClientError> {
    if allowed.iter().any(|m| method == m) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
    Err(ClientError::method_not_allowed(method.as_ref(), &names))
}

/// A request body read to its end within a limit, kept in JS memory until
/// a parser asks for it.
pub(crate) struct Body {
    chunks: Array,
    len: usize,
}

impl Body {
    /// The bytes, copied into wasm memory once.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len];
        let mut at = 0;
        for chunk in self.chunks.iter() {
            let chunk = Uint8Array::from(chunk);
            let n = chunk.length() as usize;
            if let Some(into) = out.get_mut(at..at + n) {
                chunk.copy_to(into);
            }
            at += n;
        }
        out
    }
}

/// Reads the whole body, counting it as it streams in: over `max` bytes
/// (declared, or counted so far) it is refused at once and not read further.
pub(crate) async fn read_bounded(req: &Request, max: u32) -> Result<Body, ClientError> {
    check_declared_length(req, max)?;
    let chunks = Array::new();
    let Some(stream) = req.inner().body() else {
        return Ok(Body { chunks, len: 0 });
    };
    let reader = web_sys::ReadableStreamDefaultReader::new(&stream)
        .map_err(worker::Error::from)
        .or_internal("reading the request body")?;
    let mut len: usize = 0;
    loop {
        let read: web_sys::ReadableStreamReadResult = JsFuture::from(reader.read())
            .await
            .map_err(worker::Error::from)
            .or_internal("reading the request body")?
            .unchecked_into();
        if read.get_done().unwrap_or(true) {
            break;
        }
        let value = read.get_value();
        let chunk = match value.dyn_into::<Uint8Array>() {
            Ok(chunk) => chunk,
            Err(other) => Uint8Array::new(&other),
        };
        len = len.saturating_add(chunk.length() as usize);
        if len > max as usize {
            // Stop here: the rest of the upload is never pulled in.
            let _ = reader.cancel();
            return Err(too_large(max));
        }
        chunks.push(&chunk);
    }
    Ok(Body { chunks, len })
}

/// Reads the whole body into wasm memory, bounded by `max` (see
/// [`read_bounded`]).
pub(crate) async fn read_body(req: &mut Request, max: u32) -> Result<Vec<u8>, ClientError> {
    Ok(read_bounded(req, max).await?.to_vec())
}

/// Reads a `multipart/form-data` body bounded by `max` (see
/// [`read_bounded`]), lets the runtime parse it, and refuses a part not in
/// `known` or sent twice (core's rule) before any value is looked at.
pub(crate) async fn read_form(
    req: &mut Request,
    max: u32,
    known: &[&str],
) -> Result<FormData, ClientError> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let body = read_bounded(req, max).await?;
    let form = parse_form(&body, &content_type).await.ok_or_else(|| {
        ClientError::new(
            ErrorCode::InvalidRequest,
            "the multipart/form-data body could not be parsed",
        )
    })?;
    let names: Vec<String> = js_sys::try_iter(&form.keys())
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|name| name.ok().and_then(|n| n.as_string()))
        .collect();
    reelay_core::form::check_part_names(names.iter().map(String::as_str), known)?;
    Ok(FormData::from(JsValue::from(form)))
}

/// The runtime's parse of `body` as a form of `content_type` (which names
/// the boundary); `None` when it is not one.
async fn parse_form(body: &Body, content_type: &str) -> Option<web_sys::FormData> {
    let blob = web_sys::Blob::new_with_u8_array_sequence(&body.chunks).ok()?;
    let headers = web_sys::Headers::new().ok()?;
    headers.set("content-type", content_type).ok()?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers);
    let parsed = web_sys::Response::new_with_opt_blob_and_init(Some(&blob), &init).ok()?;
    let form = JsFuture::from(parsed.form_data().ok()?).await.ok()?;
    form.dyn_into::<web_sys::FormData>().ok()
}

/// Refuses a body whose `Content-Length` is over `max` (or unreadable)
/// before any of it is read.
fn check_declared_length(req: &Request, max: u32) -> Result<(), ClientError> {
    let header = req.headers().get("content-length").ok().flatten();
    match (header, declared_length(req)) {
        (Some(_), None) => Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "the Content-Length header is not a number",
        )),
        (_, Some(n)) if n > u64::from(max) => Err(too_large(max)),
        _ => Ok(()),
    }
}

pub(crate) fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn too_large(max: u32) -> ClientError {
    ClientError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the {max}-byte limit"),
    )
}

/// The media type of the request body, lowercased, without parameters.
pub(crate) fn media_type(req: &Request) -> String {
    req.headers()
        .get("content-type")
        .ok()
        .flatten()
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Refuses a body that is not JSON (no content type counts as JSON):
/// `415 unsupported_media_type`.
pub(crate) fn require_json(req: &Request) -> Result<(), ClientError> {
    match media_type(req).as_str() {
        "application/json" | "" => Ok(()),
        other => Err(ClientError::new(
            ErrorCode::UnsupportedMediaType,
            format!("content type {other:?} is not accepted; send application/json"),
        )),
    }
}
