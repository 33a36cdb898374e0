//! Google service-account authentication, sans IO: parsing the
//! service-account JSON, building the RS256 JWT of the JWT-bearer grant
//! (RFC 7523) up to the signature, and reading the token answer.
//!
//! The host signs `signing_input` with the account's PKCS#8 key
//! (WebCrypto `RSASSA-PKCS1-v1_5` + SHA-256 in the Worker), POSTs
//! [`token_request_body`] to `token_uri`, and caches the [`AccessToken`]
//! until [`AccessToken::is_fresh`] says to refresh (5 minutes early).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::encoding::b64url_encode;
use crate::errors::{ErrorKind, Retry, Scope, UpstreamError};

/// OAuth scope for Vertex AI and Cloud Storage.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Tokens are refreshed this long before they expire.
pub const REFRESH_MARGIN_MS: u64 = 5 * 60 * 1000;
/// Lifetime asked for in the JWT (Google's maximum).
const JWT_LIFETIME_SECS: u64 = 3600;

/// The parts of a service-account key file reelay uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceAccount {
    /// `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The account's email (JWT `iss`).
    pub client_email: String,
    /// PKCS#8 PEM private key.
    pub private_key: String,
    /// Key id (JWT `kid`).
    pub private_key_id: String,
    /// Where to exchange the JWT for a token.
    pub token_uri: String,
    /// The account's project.
    #[serde(default)]
    pub project_id: Option<String>,
}

impl ServiceAccount {
    /// Parses a key file; the error says which part is wrong, never echoing the key.
    pub fn parse(json: &str) -> Result<Self, String> {
        let sa: Self = serde_json::from_str(json).map_err(|e| {
            // serde's message can quote input; keep only its category and position.
            format!(
                "not a service-account JSON key file (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if sa.kind != "service_account" {
            return Err(format!(
                "`type` is {:?}, expected \"service_account\"",
                sa.kind
            ));
        }
        if !(sa.token_uri.starts_with("https://") || sa.token_uri.starts_with("http://")) {
            return Err(String::from("`token_uri` is not an http(s) URL"));
        }
        if pkcs8_der(&sa.private_key).is_none() {
            return Err(String::from(
                "`private_key` is not a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)",
            ));
        }
        Ok(sa)
    }

    /// `base64url(header).base64url(claims)` for a JWT issued at `now_secs`.
    pub fn signing_input(&self, now_secs: u64) -> String {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": CLOUD_PLATFORM_SCOPE,
            "aud": self.token_uri,
            "iat": now_secs,
            "exp": now_secs + JWT_LIFETIME_SECS,
        });
        format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes())
        )
    }

    /// The private key as PKCS#8 DER.
    pub fn private_key_der(&self) -> Option<Vec<u8>> {
        pkcs8_der(&self.private_key)
    }
}

/// The DER bytes inside a `-----BEGIN PRIVATE KEY-----` PEM block.
pub fn pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .trim_end()
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(b64.as_bytes())
        .ok()
        .filter(|der| !der.is_empty())
}

/// The complete JWT from its signing input and RS256 signature.
pub fn jwt(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", b64url_encode(signature))
}

/// The form body of the JWT-bearer grant.
pub fn token_request_body(jwt: &str) -> String {
    // A JWT is base64url and dots only: nothing to percent-encode.
    format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}")
}

/// An OAuth access token and when it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: u64,
}

impl core::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    /// Usable now without refreshing (more than [`REFRESH_MARGIN_MS`] left).
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms.saturating_add(REFRESH_MARGIN_MS) < self.expires_at_ms
    }
}

/// Reads `{"access_token","expires_in","token_type"}`.
pub fn parse_token_response(body: &[u8], now_ms: u64) -> Result<AccessToken, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| bad_token("the token endpoint answered with a non-JSON body"))?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| bad_token("the token endpoint answered without an access_token"))?;
    let expires_in = value
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(3600);
    Ok(AccessToken {
        token: token.to_owned(),
        expires_at_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
    })
}

fn bad_token(message: &str) -> UpstreamError {
    UpstreamError {
        kind: ErrorKind::Authentication,
        retry: Retry::Never,
        scope: Scope::Deployment,
        status: None,
        upstream_code: None,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64url_decode;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nAAEC\nAwQ=\n-----END PRIVATE KEY-----\n";

    fn sa() -> String {
        serde_json::json!({"type":"service_account","project_id":"p","private_key_id":"kid1","private_key":PEM,
            "client_email":"a@p.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token"})
        .to_string()
    }

    #[test]
    fn builds_the_jwt_bearer_grant() {
        let sa = ServiceAccount::parse(&sa()).unwrap();
        assert_eq!(sa.private_key_der(), Some(std::vec![0, 1, 2, 3, 4]));
        let input = sa.signing_input(1_000);
        let (header, claims) = input.split_once('.').unwrap();
        let header: Value = serde_json::from_slice(&b64url_decode(header).unwrap()).unwrap();
        let claims: Value = serde_json::from_slice(&b64url_decode(claims).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"RS256","typ":"JWT","kid":"kid1"})
        );
        assert_eq!(claims["iss"], "a@p.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(
            (claims["iat"].as_u64(), claims["exp"].as_u64()),
            (Some(1_000), Some(4_600))
        );
        assert_eq!(claims["scope"], CLOUD_PLATFORM_SCOPE);
        let token = jwt(&input, &[9, 9]);
        assert!(token.starts_with(&input) && token.ends_with(".CQk"));
        assert!(token_request_body(&token).starts_with(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
        ));
    }

    #[test]
    fn rejects_bad_key_files_without_echoing_them() {
        let err = ServiceAccount::parse("{\"private_key\": \"SECRET\"").unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
        let wrong_type = sa().replace("service_account", "authorized_user");
        assert!(ServiceAccount::parse(&wrong_type)
            .unwrap_err()
            .contains("type"));
        let bad_pem = sa().replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY");
        assert!(ServiceAccount::parse(&bad_pem)
            .unwrap_err()
            .contains("PKCS#8"));
    }

    #[test]
    fn tokens_refresh_five_minutes_early() {
        let t = parse_token_response(
            br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#,
            0,
        )
        .unwrap();
        assert_eq!(t.expires_at_ms, 3_599_000);
        assert!(t.is_fresh(3_599_000 - REFRESH_MARGIN_MS - 1));
        assert!(!t.is_fresh(3_599_000 - REFRESH_MARGIN_MS));
        assert!(!std::format!("{t:?}").contains("ya29"));
        assert!(parse_token_response(br#"{"error":"invalid_grant"}"#, 0).is_err());
    }
}
