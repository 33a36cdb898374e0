// Reading a client request: the method check, bodies bounded by their
// declared and actual length, and the media type. Used by every route.

use reelay_core::errors::{ClientError, ErrorCode};
use worker::{Method, Request};

use crate::respond::OrInternal;

pub(crate) fn allow(method: &Method, allowed: &[Method]) -> Result<(), ClientError> {
    if allowed.contains(method) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
    Err(ClientError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed here; use {}",
            method.as_ref(),
            names.join(" or ")
        ),
    ))
}

/// Reads the whole body, refusing bodies over `max` bytes (by
/// `Content-Length` before reading, and by size after, for chunked bodies).
pub(crate) async fn read_body(req: &mut Request, max: u32) -> Result<Vec<u8>, ClientError> {
    check_declared_length(req, max)?;
    let body = req.bytes().await.or_internal("reading the request body")?;
    if body.len() > max as usize {
        return Err(too_large(max));
    }
    Ok(body)
}

/// Refuses a body whose `Content-Length` is over `max` (or unreadable)
/// before any of it is read.
pub(crate) fn check_declared_length(req: &Request, max: u32) -> Result<(), ClientError> {
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
