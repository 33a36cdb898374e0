//! Origin syntax: the `Origin` a browser sends ([`Origin`]) and the
//! patterns a key's or the config's `allowed_origins` may hold
//! ([`OriginPattern`], [`validate_patterns`]), and matching one against the
//! other. [`crate::cors`] builds the CORS answers on top of this; config and
//! key records validate their lists with it.
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

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Most patterns one key (or the config) may list.
pub const MAX_ORIGINS: usize = 64;
/// Longest origin or pattern accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 253;

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

impl Origin {
    /// The canonical text ([`OriginPattern::canonical`]) of every pattern
    /// that matches this origin: the exact origin, its host on any port, and
    /// `*.suffix` (on this port or any) for each suffix of at least two
    /// labels, the [`MAX_WILDCARD_SUFFIX_LABELS`] shortest. A host with
    /// only this origin in hand (a CORS preflight) looks these up to learn
    /// whether some stored list allows it.
    pub fn matching_patterns(&self) -> Vec<String> {
        let scheme = self.scheme.as_str();
        let port = if self.port == self.scheme.default_port() {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let mut out = alloc::vec![
            format!("{scheme}://{}{port}", self.host),
            format!("{scheme}://{}:*", self.host),
        ];
        if is_ip_literal(&self.host) {
            return out;
        }
        let labels: Vec<&str> = self.host.split('.').collect();
        // `*.suffix` needs at least one label in front and two in the suffix.
        let longest = labels
            .len()
            .saturating_sub(1)
            .min(MAX_WILDCARD_SUFFIX_LABELS);
        for count in 2..=longest {
            let suffix = labels[labels.len() - count..].join(".");
            if OriginPattern::parse(&format!("{scheme}://*.{suffix}")).is_err() {
                continue;
            }
            out.push(format!("{scheme}://*.{suffix}{port}"));
            out.push(format!("{scheme}://*.{suffix}:*"));
        }
        out
    }
}

/// The deepest wildcard suffix [`Origin::matching_patterns`] names
/// (`*.a.b.c.d.e.f.g.example.com` has 9 labels after `*.`).
pub const MAX_WILDCARD_SUFFIX_LABELS: usize = 9;

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
    fn matching_patterns_are_exactly_the_patterns_that_match() {
        let origin = o("https://a.b.example.com");
        let names = origin.matching_patterns();
        assert_eq!(
            names,
            [
                "https://a.b.example.com",
                "https://a.b.example.com:*",
                "https://*.example.com",
                "https://*.example.com:*",
                "https://*.b.example.com",
                "https://*.b.example.com:*",
            ]
        );
        for name in &names {
            assert!(p(name).matches(&origin), "{name}");
            assert_eq!(p(name).canonical(), *name);
        }
        let port = o("http://app.example.com:8080").matching_patterns();
        assert!(port.contains(&"http://app.example.com:8080".to_string()));
        assert!(port.contains(&"http://*.example.com:8080".to_string()));
        for name in &port {
            assert!(p(name).matches(&o("http://app.example.com:8080")), "{name}");
        }
        assert_eq!(
            o("http://127.0.0.1:5173").matching_patterns(),
            ["http://127.0.0.1:5173", "http://127.0.0.1:*"]
        );
        assert_eq!(
            o("http://localhost").matching_patterns(),
            ["http://localhost", "http://localhost:*"]
        );
        // Patterns that do not match are not named.
        assert!(!names.contains(&"https://*.com".to_string()));
        assert!(!names.contains(&"http://a.b.example.com".to_string()));
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
}
