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
    /// `Authorization: Bearer <deployment credential>`.
    Bearer,
    /// `api-key: <deployment credential>` (Azure OpenAI).
    AzureApiKey,
    /// `Authorization: Bearer <OAuth token>` minted from the deployment's
    /// service-account key (see `google_auth`).
    GoogleServiceAccount,
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
