//! Multipart forms as the gateway accepts them: a form is held to the same
//! rule as a JSON object. Every part must be one the route names (an
//! unknown part is a `400` naming it, like an unknown JSON field) and may
//! come once (a repeated part is a `400` too: which copy counts would be a
//! guess, and a form passed on upstream would carry both).
//!
//! The host reads the body bounded by the route's limit, lets its runtime
//! parse the form, and hands the part names here before it looks at any
//! value; whether each part is text or a file is the route's own check.

use alloc::format;

use crate::errors::{ClientError, ErrorCode};

/// Checks the names of a form's parts, in the order they came, against the
/// parts the route accepts.
pub fn check_part_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    known: &[&str],
) -> Result<(), ClientError> {
    let mut seen: alloc::vec::Vec<&str> = alloc::vec::Vec::new();
    for name in names {
        if !known.contains(&name) {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "unknown multipart field `{name}` (supported: {})",
                    known.join(", ")
                ),
            )
            .with_param(name));
        }
        if seen.contains(&name) {
            return Err(ClientError::new(
                ErrorCode::InvalidRequest,
                format!("the multipart field `{name}` is sent more than once"),
            )
            .with_param(name));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "video", "model"];

    #[test]
    fn known_parts_once_each_pass() {
        assert!(check_part_names(["name", "video"], KNOWN).is_ok());
        assert!(check_part_names(["model", "video", "name"], KNOWN).is_ok());
        assert!(check_part_names([], KNOWN).is_ok());
    }

    #[test]
    fn an_unknown_part_is_named() {
        let err = check_part_names(["name", "callback_url", "video"], KNOWN).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert_eq!(err.status(), 400);
        assert_eq!(err.param.as_deref(), Some("callback_url"));
        assert!(err.message.contains("`callback_url`"), "{}", err.message);
        assert!(
            err.message.contains("name, video, model"),
            "{}",
            err.message
        );
    }

    #[test]
    fn names_are_exact() {
        for odd in ["Name", "name ", "", "video[]"] {
            let err = check_part_names([odd], KNOWN).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(odd));
        }
    }

    #[test]
    fn a_repeated_part_is_refused() {
        let err = check_part_names(["name", "video", "name"], KNOWN).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert_eq!(err.param.as_deref(), Some("name"));
        assert!(err.message.contains("more than once"), "{}", err.message);
    }
}
