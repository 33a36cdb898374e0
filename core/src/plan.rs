//! Plans: the upstream calls core asks the host to make.
//!
//! A plan names the credential it needs by kind ([`Auth`]); the host looks up
//! the deployment's secret and adds the header, so core never handles
//! provider secrets.

use alloc::string::String;

/// HTTP method of an upstream call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// How the host must authenticate the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credential (e.g. a signed download URL).
    None,
    /// `x-goog-api-key: <deployment credential>`.
    GoogleApiKey,
}

/// One upstream HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Credential to attach.
    pub auth: Auth,
    /// JSON body, if any (sent as `application/json`).
    pub json_body: Option<String>,
}

/// The `scheme://host[:port]` part of an absolute http(s) URL, lowercased
/// scheme and host; `None` if `url` is not an absolute http(s) URL.
pub fn origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if end == 0 || rest[..end].contains('@') {
        return None;
    }
    Some(&url[..url.len() - rest.len() + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin("https://a.b/v1?x"), Some("https://a.b"));
        assert_eq!(origin("http://127.0.0.1:9/x"), Some("http://127.0.0.1:9"));
        assert_eq!(origin("https://evil@a.b/"), None);
        assert_eq!(origin("ftp://a"), None);
        assert_eq!(origin("https:///x"), None);
    }
}
