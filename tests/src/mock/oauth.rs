//! Google's OAuth 2.0 token endpoint (`oauth2.googleapis.com/token`) for the
//! service-account JWT-bearer grant, and the test service account it knows.
//!
//! | Wire | Mock |
//! |---|---|
//! | `POST /token`, form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>` | verifies the JWT for real (RS256 against the fixture key) |
//! | header | `alg` `RS256` (anything else is rejected), `typ` `JWT` if present, `kid` = [`TEST_SA_PRIVATE_KEY_ID`] if present |
//! | claims | `iss` = [`TEST_SA_EMAIL`], `aud` = `{base}/token`, `scope` (space-separated) contains [`CLOUD_PLATFORM_SCOPE`], `iat` ≤ now + 60 s, `exp` > now, `0 < exp - iat ≤ 3600` |
//! | success | `200 {"access_token":"ya29.mock-<n>","expires_in":<MockOptions::token_lifetime_secs>,"token_type":"Bearer"}` |
//! | failure | `400 {"error":"invalid_grant","error_description":"…"}` (or `invalid_request`, `unsupported_grant_type`, `invalid_scope`) |
//!
//! Issued tokens are remembered with their expiry; Vertex AI and Cloud
//! Storage accept only those (see [`bearer_status`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::Value;

use super::ordered::{obj, Json};
use super::{unix_now, Shared};

/// `client_email` of the test service account (the JWT `iss`).
pub const TEST_SA_EMAIL: &str = "reelay-mock@mock-project.iam.gserviceaccount.com";

/// `project_id` of the test service account.
pub const TEST_SA_PROJECT_ID: &str = "mock-project";

/// `private_key_id` of the test service account (the JWT header's `kid`).
pub const TEST_SA_PRIVATE_KEY_ID: &str = "5f0c3e1d9a7b4c2e8f6a1d3b5c7e9f0a2b4c6d8e";

/// `client_id` of the test service account.
pub const TEST_SA_CLIENT_ID: &str = "104857600000000000001";

/// The OAuth scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The JWT-bearer grant type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The fixture file: a short test-only notice, then the PKCS#8 PEM.
const KEY_FILE: &str = include_str!("fixtures/test-sa-key.pem");

/// The test service account's private key, PKCS#8 PEM (`-----BEGIN PRIVATE
/// KEY-----`). TEST ONLY: committed on purpose, guards nothing.
pub fn test_service_account_private_key_pem() -> &'static str {
    match KEY_FILE.find("-----BEGIN") {
        Some(at) => &KEY_FILE[at..],
        None => KEY_FILE,
    }
}

/// A complete service-account JSON key file for the test service account
/// whose `token_uri` is `{base_url}/token` (the mock's token endpoint).
pub fn test_service_account_json(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let sa = obj([
        ("type", "service_account".into()),
        ("project_id", TEST_SA_PROJECT_ID.into()),
        ("private_key_id", TEST_SA_PRIVATE_KEY_ID.into()),
        ("private_key", test_service_account_private_key_pem().into()),
        ("client_email", TEST_SA_EMAIL.into()),
        ("client_id", TEST_SA_CLIENT_ID.into()),
        (
            "auth_uri",
            "https://accounts.google.com/o/oauth2/auth".into(),
        ),
        ("token_uri", format!("{base}/token").into()),
        (
            "auth_provider_x509_cert_url",
            "https://www.googleapis.com/oauth2/v1/certs".into(),
        ),
        (
            "client_x509_cert_url",
            format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                TEST_SA_EMAIL.replace('@', "%40")
            )
            .into(),
        ),
        ("universe_domain", "googleapis.com".into()),
    ]);
    let mut text = serde_json::to_string_pretty(&sa).unwrap_or_default();
    text.push('\n');
    text
}

/// The public half of the fixture key, parsed once.
fn public_key() -> Option<&'static RsaPublicKey> {
    static KEY: OnceLock<Option<RsaPublicKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::from_pkcs8_pem(test_service_account_private_key_pem())
            .ok()
            .map(|k| RsaPublicKey::from(&k))
    })
    .as_ref()
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/token", post(token))
}

/// Google's token endpoint error: `{"error":…,"error_description":…}`.
fn oauth_error(error: &'static str, description: impl Into<String>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &obj([
            ("error", error.into()),
            ("error_description", description.into().into()),
        ]),
    )
}

/// Pretty-printed JSON the way the token endpoint sends it.
fn json(status: StatusCode, body: &Json) -> Response {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::CACHE_CONTROL,
                "no-cache, no-store, max-age=0, must-revalidate",
            ),
        ],
        text,
    )
        .into_response()
}

const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
const BAD_TIME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                        reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// Why an assertion was refused: `(error, error_description)`.
type Refusal = (&'static str, String);

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    (error, description.into())
}

/// One base64url JWT segment (padding tolerated).
fn segment(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .ok()
}

/// A JSON object segment.
fn json_segment(s: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice(&segment(s)?) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// An integer claim (`1.7e9`-style floats with no fraction count).
fn int_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<i64> {
    let n = claims.get(name)?.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// Verifies a JWT-bearer assertion as Google does, at unix time `now`.
pub(crate) fn verify_assertion(jwt: &str, token_url: &str, now: i64) -> Result<(), Refusal> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse("invalid_grant", BAD_SIGNATURE));
    };
    let (Some(head), Some(claims), Some(sig)) = (json_segment(h), json_segment(c), segment(s))
    else {
        return Err(refuse("invalid_grant", BAD_SIGNATURE));
    };
    if head.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(refuse("invalid_grant", BAD_SIGNATURE));
    }
    if let Some(typ) = head.get("typ") {
        if typ.as_str() != Some("JWT") {
            return Err(refuse("invalid_grant", BAD_SIGNATURE));
        }
    }
    if let Some(kid) = head.get("kid") {
        if kid.as_str() != Some(TEST_SA_PRIVATE_KEY_ID) {
            return Err(refuse("invalid_grant", BAD_SIGNATURE));
        }
    }
    match claims.get("iss").and_then(Value::as_str) {
        Some(TEST_SA_EMAIL) => {}
        Some(_) => return Err(refuse("invalid_grant", "Invalid grant: account not found")),
        None => return Err(refuse("invalid_request", "Invalid JWT: missing issuer.")),
    }
    let key = public_key().ok_or_else(|| refuse("server_error", "mock key did not load"))?;
    let signature =
        Signature::try_from(sig.as_slice()).map_err(|_| refuse("invalid_grant", BAD_SIGNATURE))?;
    let signed = &jwt[..h.len() + 1 + c.len()];
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| refuse("invalid_grant", BAD_SIGNATURE))?;
    if claims.get("aud").and_then(Value::as_str) != Some(token_url) {
        return Err(refuse(
            "invalid_grant",
            format!("Invalid JWT: Failed audience check. The right audience is {token_url}"),
        ));
    }
    let (Some(iat), Some(exp)) = (int_claim(&claims, "iat"), int_claim(&claims, "exp")) else {
        return Err(refuse("invalid_grant", BAD_TIME));
    };
    if iat > now + 60 || exp <= now || exp <= iat || exp - iat > 3600 {
        return Err(refuse("invalid_grant", BAD_TIME));
    }
    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if scopes.trim().is_empty() {
        return Err(refuse(
            "invalid_scope",
            "Empty or missing scope not allowed.",
        ));
    }
    if !scopes.split(' ').any(|s| s == CLOUD_PLATFORM_SCOPE) {
        return Err(refuse(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok(())
}

/// `POST /token`
async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return oauth_error("invalid_request", "Invalid request body."),
    };
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {}
        Some(other) => {
            return oauth_error(
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            )
        }
        None => {
            return oauth_error("unsupported_grant_type", "Invalid grant_type: ");
        }
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    let token_url = format!("{}/token", shared.base_url);
    if let Err((error, description)) = verify_assertion(assertion, &token_url, now) {
        return oauth_error(error, description);
    }
    let lifetime = shared.opts.token_lifetime_secs;
    let access_token = {
        let mut state = shared.lock();
        state.tokens_issued += 1;
        let token = format!("ya29.mock-{}", state.tokens_issued);
        let expires_at = unix_now().saturating_add(lifetime);
        state.tokens.insert(token.clone(), expires_at);
        token
    };
    json(
        StatusCode::OK,
        &obj([
            ("access_token", access_token.into()),
            ("expires_in", Json::Plain(Value::from(lifetime))),
            ("token_type", "Bearer".into()),
        ]),
    )
}

/// What a request's `Authorization` header amounts to for Google APIs that
/// take OAuth access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerStatus {
    /// A token this mock issued, not yet expired.
    Valid,
    /// No `Authorization` header (or not `Bearer`).
    Missing,
    /// A token this mock issued that has expired (or was revoked).
    Expired,
    /// Anything else.
    Invalid,
}

/// Checks `Authorization: Bearer <token>` against the issued tokens.
pub(crate) fn bearer_status(shared: &Shared, headers: &HeaderMap) -> BearerStatus {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return BearerStatus::Missing;
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return BearerStatus::Missing;
    };
    match shared.lock().tokens.get(token.trim()) {
        Some(&expires_at) if expires_at > unix_now() => BearerStatus::Valid,
        Some(_) => BearerStatus::Expired,
        None => BearerStatus::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_key_loads_and_sa_json_is_complete() {
        assert!(public_key().is_some());
        let sa: Value = serde_json::from_str(&test_service_account_json("http://x:1/")).unwrap();
        assert_eq!(sa["type"], "service_account");
        assert_eq!(sa["token_uri"], "http://x:1/token");
        assert_eq!(sa["client_email"], TEST_SA_EMAIL);
        assert!(sa["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }

    #[test]
    fn malformed_assertions_are_invalid_grants() {
        for jwt in ["", "a.b", "a.b.c", "a.b.c.d", "e30.e30.AAAA"] {
            let err = verify_assertion(jwt, "http://x/token", 0).unwrap_err();
            assert_eq!(err.0, "invalid_grant", "{jwt}");
        }
    }
}
