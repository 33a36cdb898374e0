//! CORS: which browser origins may call the gateway with which key, and the
//! `Access-Control-*` headers that say so.
//!
//! This module owns matching a request's `Origin` against a key's allowed
//! list, the preflight answer, and the headers of actual responses; the
//! syntax of origins and patterns is [`crate::origin`]'s. The host reads
//! the headers and applies the result; nothing here does I/O.
//!
//! # What the gateway grants
//!
//! No response grants an origin that the caller's credential does not
//! allow, errors included: `Access-Control-Allow-Origin` never reflects an
//! arbitrary `Origin`.
//!
//! - **Preflight** (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`): browsers send no credentials, so the
//!   gateway cannot know which key will be used. It grants the standard
//!   methods and the headers the SDKs send only to an origin that the
//!   config's `cors.allowed_origins` or **some key's** `allowed_origins`
//!   matches ([`preflight`]; the host says whether a key lists it, see
//!   [`crate::origin::Origin::matching_patterns`]), and enforces the
//!   caller's own list on the actual request. Any other origin, `null` or a
//!   malformed one is refused (`403 origin_not_allowed`, no grant).
//! - **Actual requests** with an `Origin` other than the gateway's own: the
//!   key's `allowed_origins` (plus the config's `cors.allowed_origins`, for
//!   every key, and within a browser token's origin binding) must match,
//!   else `403 origin_not_allowed` before any quota or upstream work.
//! - **Which responses are granted** ([`grants`]): once the credential's
//!   check passed ([`OriginVerdict::Allowed`]), every response, errors
//!   (`429`, `403` for a model, …) included; once it failed
//!   ([`OriginVerdict::Denied`]), none — the page sees a CORS failure, which
//!   is what a denied page should see; before any credential was checked
//!   (`401` for a missing or unknown key, `404`, `405`, …), only an origin
//!   the config allows for every key. The grant is the origin echoed, never
//!   `*`, with `Access-Control-Expose-Headers`.
//! - Every response carries `Vary: Origin`. No
//!   `Access-Control-Allow-Credentials`: the gateway authenticates with
//!   headers, never cookies.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::DEFAULT_CORS_MAX_AGE_SECS;
use crate::errors::{ClientError, ErrorCode};
use crate::origin::{Origin, OriginPattern};
use crate::quota::Meter;

/// Methods granted to preflights.
pub const ALLOW_METHODS: &str = "GET, POST, DELETE";
/// Default `Access-Control-Max-Age`: the config's default, under the name
/// the edge uses.
pub const DEFAULT_MAX_AGE_SECS: u32 = DEFAULT_CORS_MAX_AGE_SECS;

/// Request headers a preflight may ask for, besides the `x-stainless-` and
/// `x-goog-` families ([`is_allowed_request_header`]).
const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "api-key",
    "x-goog-api-key",
    "openai-beta",
    "openai-organization",
    "openai-project",
    "idempotency-key",
    "x-request-id",
    "accept",
    "accept-language",
    "content-language",
    "cache-control",
    "user-agent",
    "x-client-request-id",
];

/// Request header families a preflight may ask for (the `openai` SDK's
/// `x-stainless-*`, Google's `x-goog-*`).
const ALLOWED_REQUEST_PREFIXES: &[&str] = &["x-stainless-", "x-goog-"];

/// Response headers a page may read (`Access-Control-Expose-Headers`):
/// the request id, retry advice, `Location`, the serving deployment and
/// attempts, and every `x-ratelimit-*` header the quota layer sets.
pub fn expose_headers() -> String {
    let mut out =
        String::from("x-request-id, retry-after, location, x-reelay-deployment, x-reelay-attempts");
    for meter in Meter::ALL {
        for kind in ["limit", "remaining", "reset"] {
            out.push_str(", x-ratelimit-");
            out.push_str(kind);
            out.push('-');
            out.push_str(meter.header_suffix());
        }
    }
    out
}

/// Whether a preflight may ask for request header `name` (case-insensitive).
pub fn is_allowed_request_header(name: &str) -> bool {
    let name = name.trim();
    ALLOWED_REQUEST_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || ALLOWED_REQUEST_PREFIXES.iter().any(|p| {
            name.len() > p.len()
                && name.is_char_boundary(p.len())
                && name[..p.len()].eq_ignore_ascii_case(p)
        })
}

/// A compiled set of patterns (a key's list plus the config's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins {
    patterns: Vec<OriginPattern>,
}

impl AllowedOrigins {
    /// Compiles stored lists. Entries were validated when stored; one that
    /// no longer parses is skipped (it can only narrow what is allowed).
    pub fn compile<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> Self {
        Self {
            patterns: lists
                .into_iter()
                .flatten()
                .filter_map(|p| OriginPattern::parse(p).ok())
                .collect(),
        }
    }

    /// Whether any pattern matches `origin`.
    pub fn allows(&self, origin: &Origin) -> bool {
        self.patterns.iter().any(|p| p.matches(origin))
    }

    /// Whether no origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// What the request's `Origin` means for an actual (non-preflight) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOrigin {
    /// No `Origin` header: not a cross-origin browser request (a server, curl,
    /// or a same-origin `GET`). No CORS headers are needed.
    Absent,
    /// The gateway's own origin (the playground page): no CORS needed.
    SameOrigin,
    /// A cross-origin browser request from this (valid) origin.
    Cross(Origin),
    /// An `Origin` that is `null` or malformed: never granted.
    Invalid,
}

impl RequestOrigin {
    /// Classifies the `Origin` header against the gateway's own origin
    /// (`self_origin`, serialized like `https://gw.example.com`).
    pub fn classify(header: Option<&str>, self_origin: &str) -> Self {
        let Some(text) = header.map(str::trim) else {
            return Self::Absent;
        };
        match Origin::parse(text) {
            Ok(origin) => {
                let own = Origin::parse(self_origin).ok();
                if own.as_ref() == Some(&origin) {
                    Self::SameOrigin
                } else {
                    Self::Cross(origin)
                }
            }
            Err(_) => Self::Invalid,
        }
    }

    /// Checks this origin against a key's `allowed` set: `Ok` when no CORS
    /// check applies or the origin is allowed, else `403 origin_not_allowed`.
    pub fn check(&self, allowed: &AllowedOrigins) -> Result<(), ClientError> {
        match self {
            Self::Absent | Self::SameOrigin => Ok(()),
            Self::Cross(origin) if allowed.allows(origin) => Ok(()),
            Self::Cross(origin) => Err(origin_not_allowed(&origin.serialize(), allowed)),
            Self::Invalid => Err(ClientError::new(
                ErrorCode::OriginNotAllowed,
                "the request's Origin is `null` or malformed, and such origins are never allowed",
            )),
        }
    }
}

fn origin_not_allowed(origin: &str, allowed: &AllowedOrigins) -> ClientError {
    let hint = if allowed.is_empty() {
        "this key allows no browser origins; add it to the key's `allowed_origins` (/key/update)"
    } else {
        "it is not in this key's `allowed_origins`"
    };
    ClientError::new(
        ErrorCode::OriginNotAllowed,
        format!("origin {origin} may not use this key: {hint}"),
    )
}

/// The headers of an actual response to a cross-origin request that is
/// granted: the echoed origin and the exposed headers. (`Vary: Origin` is
/// added to every response separately.)
pub fn grant_headers(origin: &Origin) -> [(&'static str, String); 2] {
    [
        ("access-control-allow-origin", origin.serialize()),
        ("access-control-expose-headers", expose_headers()),
    ]
}

/// Where the request's `Origin` stands with the caller's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OriginVerdict {
    /// No credential has been checked (yet): a missing or unknown key, an
    /// unknown route, a refused method.
    #[default]
    Unchecked,
    /// The credential's origins (key, config, token binding) allow it.
    Allowed,
    /// The credential's origins do not allow it.
    Denied,
}

/// Whether a response (of any status) is granted to `origin`: when the
/// caller's credential allowed it, or, before any credential was checked,
/// when `everyone` (the config's `cors.allowed_origins`) allows it. Never
/// after the credential refused it.
pub fn grants<'o>(
    origin: &'o RequestOrigin,
    verdict: OriginVerdict,
    everyone: &AllowedOrigins,
) -> Option<&'o Origin> {
    match (origin, verdict) {
        (RequestOrigin::Cross(o), OriginVerdict::Allowed) => Some(o),
        (RequestOrigin::Cross(o), OriginVerdict::Unchecked) if everyone.allows(o) => Some(o),
        _ => None,
    }
}

/// A preflight's inputs: its `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreflightRequest<'a> {
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`.
    pub request_method: Option<&'a str>,
    /// `Access-Control-Request-Headers` (comma-separated).
    pub request_headers: Option<&'a str>,
}

/// The answer to an `OPTIONS` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightAnswer {
    /// Not a CORS preflight (no `Origin` or no request method): `204` with
    /// an `Allow` header.
    Plain,
    /// `204` with these headers.
    Granted(Vec<(&'static str, String)>),
    /// The origin is not granted (`null`, malformed, or allowed by neither
    /// the config nor any key): the error, answered without a grant.
    Refused(ClientError),
}

/// The origin of a CORS preflight, when it is one and the origin is valid:
/// the host looks up whether some key lists it before calling [`preflight`].
pub fn preflight_origin(req: &PreflightRequest<'_>) -> Option<Origin> {
    match (req.origin, req.request_method) {
        (Some(origin), Some(_)) => Origin::parse(origin.trim()).ok(),
        _ => None,
    }
}

/// Decides a preflight: an origin that `everyone` (the config's list)
/// allows, or that some key lists (`listed_by_a_key`, the host's lookup of
/// [`preflight_origin`]), is granted the standard methods and those of the
/// requested headers the gateway accepts (requested headers it does not
/// accept are left out, so the browser refuses the request and names the
/// header in its console). Any other origin is refused.
pub fn preflight(
    req: PreflightRequest<'_>,
    max_age_secs: u32,
    everyone: &AllowedOrigins,
    listed_by_a_key: bool,
) -> PreflightAnswer {
    let (Some(origin), Some(_method)) = (req.origin, req.request_method) else {
        return PreflightAnswer::Plain;
    };
    let origin = match Origin::parse(origin.trim()) {
        Ok(o) => o,
        Err(e) => {
            return PreflightAnswer::Refused(ClientError::new(
                ErrorCode::OriginNotAllowed,
                format!("CORS preflight refused: the Origin is not allowed ({e})"),
            ))
        }
    };
    if !listed_by_a_key && !everyone.allows(&origin) {
        return PreflightAnswer::Refused(ClientError::new(
            ErrorCode::OriginNotAllowed,
            format!(
                "CORS preflight refused: no key (and not the gateway's config) allows origin {}",
                origin.serialize()
            ),
        ));
    }
    let mut allowed_headers: Vec<String> = Vec::new();
    for name in req
        .request_headers
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(64)
    {
        let lower = name.to_ascii_lowercase();
        if is_allowed_request_header(&lower) && !allowed_headers.contains(&lower) {
            allowed_headers.push(lower);
        }
    }
    let mut headers = Vec::with_capacity(6);
    headers.push(("access-control-allow-origin", origin.serialize()));
    headers.push(("access-control-allow-methods", ALLOW_METHODS.to_owned()));
    if !allowed_headers.is_empty() {
        headers.push(("access-control-allow-headers", allowed_headers.join(", ")));
    }
    headers.push(("access-control-max-age", format!("{max_age_secs}")));
    headers.push((
        "vary",
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".to_owned(),
    ));
    PreflightAnswer::Granted(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn o(text: &str) -> Origin {
        Origin::parse(text).unwrap()
    }

    #[test]
    fn request_origins_are_classified_and_checked() {
        let own = "http://127.0.0.1:8787";
        assert_eq!(RequestOrigin::classify(None, own), RequestOrigin::Absent);
        assert_eq!(
            RequestOrigin::classify(Some("http://127.0.0.1:8787"), own),
            RequestOrigin::SameOrigin
        );
        assert_eq!(
            RequestOrigin::classify(Some("null"), own),
            RequestOrigin::Invalid
        );
        let cross = RequestOrigin::classify(Some("https://app.example.com"), own);
        assert_eq!(cross, RequestOrigin::Cross(o("https://app.example.com")));

        let none = AllowedOrigins::default();
        let key = vec!["https://*.example.com".to_string()];
        let config = vec!["https://admin.example.org".to_string()];
        let both = AllowedOrigins::compile([key.as_slice(), config.as_slice()]);
        assert!(RequestOrigin::Absent.check(&none).is_ok());
        assert!(RequestOrigin::SameOrigin.check(&none).is_ok());
        assert!(cross.check(&both).is_ok());
        assert!(RequestOrigin::Cross(o("https://admin.example.org"))
            .check(&both)
            .is_ok());
        let err = cross.check(&none).unwrap_err();
        assert_eq!(err.code, ErrorCode::OriginNotAllowed);
        assert_eq!(err.status(), 403);
        assert!(
            err.message.contains("https://app.example.com"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("allows no browser origins"),
            "{}",
            err.message
        );
        let err = RequestOrigin::Cross(o("https://evil.net"))
            .check(&both)
            .unwrap_err();
        assert!(err.message.contains("not in this key"), "{}", err.message);
        assert_eq!(
            RequestOrigin::Invalid.check(&both).unwrap_err().code,
            ErrorCode::OriginNotAllowed
        );
    }

    #[test]
    fn grants_follow_the_verdict_errors_included() {
        use OriginVerdict::{Allowed, Denied, Unchecked};
        let cross = RequestOrigin::Cross(o("https://app.example.com"));
        let none = AllowedOrigins::default();
        let config = vec!["https://app.example.com".to_string()];
        let everyone = AllowedOrigins::compile([config.as_slice()]);
        assert!(grants(&cross, Allowed, &none).is_some());
        // A credential's refusal is never granted, even to a config origin.
        assert!(grants(&cross, Denied, &none).is_none());
        assert!(grants(&cross, Denied, &everyone).is_none());
        // Before any credential (401, 404, 405): only the config's origins.
        assert!(grants(&cross, Unchecked, &none).is_none());
        assert!(grants(&cross, Unchecked, &everyone).is_some());
        let evil = RequestOrigin::Cross(o("https://evil.net"));
        assert!(grants(&evil, Unchecked, &everyone).is_none());
        assert!(grants(&RequestOrigin::Invalid, Allowed, &everyone).is_none());
        assert!(grants(&RequestOrigin::SameOrigin, Allowed, &everyone).is_none());
        let [acao, expose] = grant_headers(&o("https://app.example.com"));
        assert_eq!(acao.1, "https://app.example.com");
        for h in [
            "x-request-id",
            "retry-after",
            "location",
            "x-reelay-deployment",
            "x-reelay-attempts",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-video-seconds",
            "x-ratelimit-limit-budget",
        ] {
            assert!(expose.1.split(", ").any(|e| e == h), "{h}");
        }
    }

    #[test]
    fn preflights_grant_listed_origins_and_known_headers() {
        let none = AllowedOrigins::default();
        let answer = preflight(
            PreflightRequest {
                origin: Some("https://app.example.com"),
                request_method: Some("POST"),
                request_headers: Some(
                    "Authorization, content-type, x-stainless-os, X-Goog-Api-Key, x-evil, authorization",
                ),
            },
            600,
            &none,
            true,
        );
        let PreflightAnswer::Granted(headers) = answer else {
            panic!("not granted: {answer:?}");
        };
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            get("access-control-allow-methods"),
            Some("GET, POST, DELETE")
        );
        assert_eq!(
            get("access-control-allow-headers"),
            Some("authorization, content-type, x-stainless-os, x-goog-api-key")
        );
        assert_eq!(get("access-control-max-age"), Some("600"));
        assert!(get("vary").unwrap().starts_with("Origin"));
        assert!(get("access-control-allow-credentials").is_none());

        assert_eq!(
            preflight(PreflightRequest::default(), 600, &none, false),
            PreflightAnswer::Plain
        );
        assert_eq!(
            preflight(
                PreflightRequest {
                    origin: Some("https://app.example.com"),
                    ..PreflightRequest::default()
                },
                600,
                &none,
                false,
            ),
            PreflightAnswer::Plain
        );
        for bad in ["null", "https://x.example.com/", "*"] {
            let answer = preflight(
                PreflightRequest {
                    origin: Some(bad),
                    request_method: Some("GET"),
                    request_headers: None,
                },
                600,
                &none,
                true,
            );
            assert!(
                matches!(&answer, PreflightAnswer::Refused(e) if e.code == ErrorCode::OriginNotAllowed),
                "{bad}: {answer:?}"
            );
        }
        // An origin neither the config nor any key lists is not granted.
        let request = PreflightRequest {
            origin: Some("https://evil.net"),
            request_method: Some("POST"),
            request_headers: Some("authorization"),
        };
        assert_eq!(preflight_origin(&request), Some(o("https://evil.net")));
        let answer = preflight(request, 600, &none, false);
        assert!(
            matches!(&answer, PreflightAnswer::Refused(e) if e.code == ErrorCode::OriginNotAllowed),
            "{answer:?}"
        );
        let config = vec![
            "https://*.evil.net".to_string(),
            "https://evil.net".to_string(),
        ];
        let everyone = AllowedOrigins::compile([config.as_slice()]);
        assert!(matches!(
            preflight(request, 600, &everyone, false),
            PreflightAnswer::Granted(_)
        ));
        assert_eq!(preflight_origin(&PreflightRequest::default()), None);
        assert!(is_allowed_request_header("x-stainless-retry-count"));
        assert!(!is_allowed_request_header("x-stainless-"));
        assert!(!is_allowed_request_header("cookie"));
    }
}
