//! CORS: which browser origins may call the gateway with which key, and the
//! `Access-Control-*` headers that say so.
//!
//! This module owns origin syntax (the `Origin` a browser sends and the
//! patterns a key's `allowed_origins` may hold), matching one against the
//! other, the preflight answer, and the headers of actual responses. The
//! host reads the headers and applies the result; nothing here does I/O.
//!
//! # Origin patterns
//!
//! | pattern | matches |
//! |---|---|
//! | `https://app.example.com` | exactly that origin (`https://app.example.com:443` is the same origin) |
//! | `https://app.example.com:8443` | that host on port 8443 only |
//! | `https://*.example.com` | any subdomain, at any depth (`a.example.com`, `a.b.example.com`), on the default port — **not** `example.com` itself (list it too) |
//! | `http://localhost:*` | any port (including the default) of that host; `:*` may follow any host or subdomain pattern |
//!
//! Scheme and host are case-insensitive and stored lowercase; the scheme is
//! `http` or `https`; no path, query, fragment or user info; a wildcard is
//! only a whole leftmost label (`*.`) over at least two labels
//! (`https://*.com` is refused), never in an IP address. `*` alone and the
//! `null` origin (sandboxed frames, `file:` pages) are never accepted: a key
//! names the sites that may use it. Hosts are ASCII (browsers send IDNs as
//! punycode: write `xn--…`).
//!
//! # What the gateway grants
//!
//! - **Preflight** (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`): browsers send no credentials, so the
//!   gateway cannot know which key will be used. It grants the standard
//!   methods and the headers the SDKs send to **any syntactically valid
//!   origin** ([`preflight`]) and enforces the key's list on the actual
//!   request. A preflight from `null` or a malformed origin is refused.
//! - **Actual requests** with an `Origin` other than the gateway's own: the
//!   key's `allowed_origins` (plus the config's `cors.allowed_origins`, for
//!   every key) must match, else `403 origin_not_allowed` before any quota or
//!   upstream work. Allowed requests get `Access-Control-Allow-Origin`
//!   (the origin echoed, never `*`) and `Access-Control-Expose-Headers`.
//! - **Errors** (status ≥ 400, `origin_not_allowed` included) carry the grant
//!   for any valid origin, so a page can show the JSON error instead of an
//!   opaque network failure. An error body never holds anything the caller's
//!   credential could not already read.
//! - Every response carries `Vary: Origin`. No
//!   `Access-Control-Allow-Credentials`: the gateway authenticates with
//!   headers, never cookies.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::errors::{ClientError, ErrorCode};
use crate::quota::Meter;

/// Methods granted to preflights.
pub const ALLOW_METHODS: &str = "GET, POST, DELETE";
/// Default `Access-Control-Max-Age` (Chromium caps it at 7200).
pub const DEFAULT_MAX_AGE_SECS: u32 = 600;
/// Most patterns one key (or the config) may list.
pub const MAX_ORIGINS: usize = 64;
/// Longest origin or pattern accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 253;

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

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http` (default port 80).
    Http,
    /// `https` (default port 443).
    Https,
}

impl Scheme {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// Why an origin or pattern was refused; the text is for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginError {
    /// What is wrong, in words.
    pub reason: String,
}

impl OriginError {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A browser origin (`scheme://host[:port]`), normalised: lowercase, the
/// port always explicit inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses an `Origin` header value (or an origin in a request body).
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let parts = split(text)?;
        if parts.host.starts_with("*.") {
            return Err(OriginError::new(
                "a wildcard is a pattern, not an origin (name one exact origin)",
            ));
        }
        let port = match parts.port {
            PortText::Default => parts.scheme.default_port(),
            PortText::Number(p) => p,
            PortText::Any => {
                return Err(OriginError::new(
                    "`:*` is a pattern, not an origin (name one port)",
                ))
            }
        };
        Ok(Self {
            scheme: parts.scheme,
            host: parts.host,
            port,
        })
    }

    /// The serialized origin, with the default port left out
    /// (`https://app.example.com`, `http://localhost:5173`).
    pub fn serialize(&self) -> String {
        if self.port == self.scheme.default_port() {
            format!("{}://{}", self.scheme.as_str(), self.host)
        } else {
            format!("{}://{}:{}", self.scheme.as_str(), self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.suffix`: one or more labels in front of `suffix`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Exact(u16),
    Any,
}

/// One compiled entry of an `allowed_origins` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Scheme,
    host: HostPattern,
    port: PortPattern,
}

impl OriginPattern {
    /// Parses and validates a pattern (see the module docs).
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let parts = split(text)?;
        let host = match parts.host.strip_prefix("*.") {
            Some(suffix) => {
                if suffix.contains('*') {
                    return Err(OriginError::new(
                        "only one wildcard, as the whole leftmost label (`https://*.example.com`)",
                    ));
                }
                let numeric_tld = suffix
                    .rsplit('.')
                    .next()
                    .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
                if is_ip_literal(suffix) || numeric_tld {
                    return Err(OriginError::new("a wildcard cannot cover an IP address"));
                }
                if suffix.split('.').count() < 2 {
                    return Err(OriginError::new(format!(
                        "`*.{suffix}` is too broad: a wildcard needs at least two labels after it (`*.example.com`)"
                    )));
                }
                HostPattern::Subdomains(suffix.to_owned())
            }
            None => HostPattern::Exact(parts.host),
        };
        let port = match parts.port {
            PortText::Default => PortPattern::Exact(parts.scheme.default_port()),
            PortText::Number(p) => PortPattern::Exact(p),
            PortText::Any => PortPattern::Any,
        };
        Ok(Self {
            scheme: parts.scheme,
            host,
            port,
        })
    }

    /// Whether `origin` matches this pattern.
    pub fn matches(&self, origin: &Origin) -> bool {
        if self.scheme != origin.scheme {
            return false;
        }
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == origin.port,
        };
        let host_ok = match &self.host {
            HostPattern::Exact(h) => *h == origin.host,
            HostPattern::Subdomains(suffix) => {
                origin.host.len() > suffix.len() + 1
                    && origin.host.ends_with(suffix.as_str())
                    && origin.host.as_bytes()[origin.host.len() - suffix.len() - 1] == b'.'
                    && !is_ip_literal(&origin.host)
            }
        };
        port_ok && host_ok
    }

    /// The canonical text of this pattern (lowercase, default port left out).
    pub fn canonical(&self) -> String {
        let host = match &self.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Subdomains(s) => format!("*.{s}"),
        };
        match self.port {
            PortPattern::Any => format!("{}://{host}:*", self.scheme.as_str()),
            PortPattern::Exact(p) if p == self.scheme.default_port() => {
                format!("{}://{host}", self.scheme.as_str())
            }
            PortPattern::Exact(p) => format!("{}://{host}:{p}", self.scheme.as_str()),
        }
    }

    /// Whether this pattern is one exact origin (no wildcard).
    pub fn is_exact(&self) -> bool {
        matches!(
            (&self.host, self.port),
            (HostPattern::Exact(_), PortPattern::Exact(_))
        )
    }
}

enum PortText {
    Default,
    Number(u16),
    Any,
}

struct Parts {
    scheme: Scheme,
    host: String,
    port: PortText,
}

/// Splits `scheme://host[:port]`, validating each part.
fn split(text: &str) -> Result<Parts, OriginError> {
    if text.is_empty() || text.len() > MAX_ORIGIN_LEN {
        return Err(OriginError::new(format!(
            "must be 1..={MAX_ORIGIN_LEN} characters"
        )));
    }
    if text == "null" {
        return Err(OriginError::new(
            "the `null` origin (sandboxed frames, file: pages) can never be allowed",
        ));
    }
    if text == "*" {
        return Err(OriginError::new(
            "`*` is not accepted: list the origins (`https://app.example.com`, `https://*.example.com`)",
        ));
    }
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| OriginError::new("must look like `https://app.example.com`"))?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else {
        return Err(OriginError::new(format!(
            "scheme `{scheme}` is not http or https"
        )));
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err(OriginError::new(
            "an origin has no path, query, fragment or user info (write `https://app.example.com`, without a trailing `/`)",
        ));
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| OriginError::new("an IPv6 host needs its closing `]`"))?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(OriginError::new(format!("`[{v6}]` is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| OriginError::new("only `:port` may follow an IPv6 host"))?,
            ),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        (host.to_ascii_lowercase(), port)
    };
    if !host.starts_with('[') {
        check_host(&host)?;
    }
    let port = match port {
        None => PortText::Default,
        Some("*") => PortText::Any,
        Some(p) => {
            let n: u16 = p
                .parse()
                .ok()
                .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| OriginError::new(format!("port `{p}` is not 1..=65535 or `*`")))?;
            if n == scheme.default_port() {
                PortText::Default
            } else {
                PortText::Number(n)
            }
        }
    };
    Ok(Parts { scheme, host, port })
}

/// A DNS name or IPv4 address, optionally with a leading `*.`.
fn check_host(host: &str) -> Result<(), OriginError> {
    if host.is_empty() {
        return Err(OriginError::new("the host is missing"));
    }
    let body = host.strip_prefix("*.").unwrap_or(host);
    for label in body.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(OriginError::new(format!(
                "host `{host}` is not a valid host name (ASCII letters, digits and `-` in dot-separated labels; write IDNs as punycode)"
            )));
        }
    }
    Ok(())
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[')
        || (host.split('.').count() == 4
            && host
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())))
}

/// Validates an `allowed_origins` list from a request body and returns the
/// canonical patterns (deduplicated, in order). `Err` names the first bad
/// entry's index and why.
pub fn validate_patterns(items: &[String]) -> Result<Vec<String>, (usize, OriginError)> {
    if items.len() > MAX_ORIGINS {
        return Err((
            MAX_ORIGINS,
            OriginError::new(format!("at most {MAX_ORIGINS} origins may be listed")),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let canonical = OriginPattern::parse(item).map_err(|e| (i, e))?.canonical();
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out)
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

/// Whether an actual response is granted to `origin`: `allowed` is whether
/// the authenticated key's list (or the config's) allowed it; errors are
/// always readable by a valid origin (see the module docs).
pub fn grants(origin: &RequestOrigin, allowed: bool, status: u16) -> Option<&Origin> {
    match origin {
        RequestOrigin::Cross(o) if allowed || status >= 400 => Some(o),
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
    /// The origin can never be granted (`null`, malformed): the error.
    Refused(ClientError),
}

/// Decides a preflight: any valid origin is granted the standard methods
/// and those of the requested headers the gateway accepts (requested
/// headers it does not accept are left out, so the browser refuses the
/// request and names the header in its console).
pub fn preflight(req: PreflightRequest<'_>, max_age_secs: u32) -> PreflightAnswer {
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

    fn p(text: &str) -> OriginPattern {
        OriginPattern::parse(text).unwrap()
    }

    #[test]
    fn origins_parse_and_normalise() {
        assert_eq!(
            o("https://App.Example.com").serialize(),
            "https://app.example.com"
        );
        assert_eq!(
            o("https://a.example.com:443").serialize(),
            "https://a.example.com"
        );
        assert_eq!(
            o("http://localhost:5173").serialize(),
            "http://localhost:5173"
        );
        assert_eq!(
            o("http://127.0.0.1:8787").serialize(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(o("http://[::1]:3000").serialize(), "http://[::1]:3000");
        for bad in [
            "",
            "null",
            "*",
            "app.example.com",
            "ftp://x.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://app.example.com:*",
            "https://*.example.com",
            "https://-bad.example.com",
            "https://a..b",
            "https://bücher.de",
            "https://[::1",
            "https://[zz]",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exact_patterns_match_one_origin() {
        let pat = p("https://app.example.com");
        assert!(pat.is_exact());
        assert!(pat.matches(&o("https://app.example.com")));
        assert!(pat.matches(&o("https://app.example.com:443")));
        assert!(!pat.matches(&o("http://app.example.com")));
        assert!(!pat.matches(&o("https://app.example.com:8443")));
        assert!(!pat.matches(&o("https://evil-app.example.com")));
        assert!(!pat.matches(&o("https://app.example.com.evil.net")));
    }

    #[test]
    fn wildcard_subdomains_need_a_label_and_a_real_suffix() {
        let pat = p("https://*.Example.com");
        assert_eq!(pat.canonical(), "https://*.example.com");
        assert!(!pat.is_exact());
        assert!(pat.matches(&o("https://a.example.com")));
        assert!(pat.matches(&o("https://a.b.example.com")));
        assert!(!pat.matches(&o("https://example.com")));
        assert!(!pat.matches(&o("https://badexample.com")));
        assert!(!pat.matches(&o("https://a.example.com:8443")));
        assert!(!pat.matches(&o("http://a.example.com")));
        for bad in [
            "https://*.com",
            "https://*",
            "https://*.*.example.com",
            "https://a.*.example.com",
            "https://*.1.2.3",
            "https://*.[::1]",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn any_port_patterns() {
        let pat = p("http://localhost:*");
        assert_eq!(pat.canonical(), "http://localhost:*");
        assert!(pat.matches(&o("http://localhost:5173")));
        assert!(pat.matches(&o("http://localhost")));
        assert!(!pat.matches(&o("https://localhost:5173")));
        assert!(!pat.matches(&o("http://localhost.evil.net:5173")));
        assert!(p("https://*.example.com:*").matches(&o("https://a.example.com:8443")));
        assert_eq!(
            p("https://a.example.com:443").canonical(),
            "https://a.example.com"
        );
        assert_eq!(
            p("http://a.example.com:8080").canonical(),
            "http://a.example.com:8080"
        );
    }

    #[test]
    fn validation_canonicalises_and_reports_the_bad_entry() {
        let list = vec![
            "https://App.example.com".to_string(),
            "https://app.example.com:443".to_string(),
            "http://localhost:*".to_string(),
        ];
        assert_eq!(
            validate_patterns(&list).unwrap(),
            vec!["https://app.example.com", "http://localhost:*"]
        );
        let bad = vec![
            "https://ok.example.com".to_string(),
            "https://x.example.com/".to_string(),
        ];
        let (i, e) = validate_patterns(&bad).unwrap_err();
        assert_eq!(i, 1);
        assert!(e.reason.contains("trailing"), "{e}");
        let many: Vec<String> = (0..65)
            .map(|i| std::format!("https://a{i}.example.com"))
            .collect();
        assert!(validate_patterns(&many).is_err());
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
    fn grants_follow_the_verdict_and_errors_are_readable() {
        let cross = RequestOrigin::Cross(o("https://app.example.com"));
        assert!(grants(&cross, true, 200).is_some());
        assert!(grants(&cross, false, 200).is_none());
        assert!(grants(&cross, false, 403).is_some());
        assert!(grants(&RequestOrigin::Invalid, true, 403).is_none());
        assert!(grants(&RequestOrigin::SameOrigin, true, 200).is_none());
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
    fn preflights_grant_valid_origins_and_known_headers() {
        let answer = preflight(
            PreflightRequest {
                origin: Some("https://app.example.com"),
                request_method: Some("POST"),
                request_headers: Some(
                    "Authorization, content-type, x-stainless-os, X-Goog-Api-Key, x-evil, authorization",
                ),
            },
            600,
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
            preflight(PreflightRequest::default(), 600),
            PreflightAnswer::Plain
        );
        assert_eq!(
            preflight(
                PreflightRequest {
                    origin: Some("https://app.example.com"),
                    ..PreflightRequest::default()
                },
                600
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
            );
            assert!(
                matches!(&answer, PreflightAnswer::Refused(e) if e.code == ErrorCode::OriginNotAllowed),
                "{bad}: {answer:?}"
            );
        }
        assert!(is_allowed_request_header("x-stainless-retry-count"));
        assert!(!is_allowed_request_header("x-stainless-"));
        assert!(!is_allowed_request_header("cookie"));
    }
}
