// Google service-account credentials for Vertex AI deployments: the key file
// is the deployment's secret; an OAuth access token is minted with the
// JWT-bearer grant (RS256 signature by WebCrypto, the runtime's own RSA,
// rather than a Rust RSA crate with a known timing advisory), then cached
// per isolate until five minutes before it expires. Core builds the JWT and
// reads the answer; this file only signs and sends.

use std::cell::RefCell;
use std::collections::HashMap;

use reelay_core::config::Deployment;
use reelay_core::errors::{classify_http, ClientError, ErrorCode};
use reelay_core::google_auth::{
    jwt, parse_token_response, token_request_body, AccessToken, ServiceAccount,
};
use worker::js_sys::{self, Array, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Headers, Method, Request, RequestInit};

use crate::context::Ctx;
use crate::fetch::{credential, fetch_with_deadline, upstream_failure};

thread_local! {
    // Keyed by secret name: deployments sharing a key file share its token.
    static TOKENS: RefCell<HashMap<String, AccessToken>> = RefCell::new(HashMap::new());
}

/// A valid access token for `dep`'s service account.
pub(crate) async fn google_token(cx: &Ctx, dep: &Deployment) -> Result<String, ClientError> {
    let cached = TOKENS.with(|t| {
        t.borrow()
            .get(&dep.credential)
            .filter(|tok| tok.is_fresh(cx.now_ms))
            .cloned()
    });
    if let Some(token) = cached {
        cx.remember_secret(&token.token);
        return Ok(token.token);
    }
    let token = mint(cx, dep).await?;
    let value = token.token.clone();
    cx.remember_secret(&value);
    TOKENS.with(|t| t.borrow_mut().insert(dep.credential.clone(), token));
    Ok(value)
}

/// Drops a cached token the upstream refused.
pub(crate) fn forget_google_token(dep: &Deployment) {
    TOKENS.with(|t| t.borrow_mut().remove(&dep.credential));
}

async fn mint(cx: &Ctx, dep: &Deployment) -> Result<AccessToken, ClientError> {
    let key_file = credential(cx, dep)?;
    let account = ServiceAccount::parse(&key_file).map_err(|reason| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            format!(
                "the secret {:?} is not a usable service-account key: {reason}",
                dep.credential
            ),
        )
    })?;
    let der = account
        .private_key_der()
        .ok_or_else(|| ClientError::from_code(ErrorCode::ConfigInvalid))?;
    let input = account.signing_input(cx.now_ms / 1000);
    let signature = sign_rs256(&der, input.as_bytes()).await.map_err(|e| {
        worker::console_error!("signing the service-account JWT failed: {e:?}");
        ClientError::new(
            ErrorCode::ConfigInvalid,
            format!(
                "the service-account key in {:?} could not sign a token request",
                dep.credential
            ),
        )
    })?;

    let headers = Headers::new();
    let _ = headers.set("content-type", "application/x-www-form-urlencoded");
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&token_request_body(&jwt(
            &input, &signature,
        )))));
    let request = Request::new_with_init(&account.token_uri, &init).map_err(|_| {
        ClientError::new(
            ErrorCode::ConfigInvalid,
            "the service account's token_uri is not a valid URL",
        )
    })?;
    let mut response =
        fetch_with_deadline(cx, request, dep.timeout_ms, "the token endpoint").await?;
    let status = response.status_code();
    let body = response.bytes().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        // The token endpoint refusing the key is the gateway's credential
        // problem (`invalid_grant` → authentication), never the caller's.
        let mut err = classify_http(status, &[], &body, cx.now_ms);
        if status == 400 || status == 401 {
            err.kind = reelay_core::errors::ErrorKind::Authentication;
        }
        return Err(upstream_failure(cx, err));
    }
    parse_token_response(&body, cx.now_ms).map_err(|e| upstream_failure(cx, e))
}

/// RSASSA-PKCS1-v1_5 + SHA-256 over `data` with a PKCS#8 key, by WebCrypto.
async fn sign_rs256(pkcs8: &[u8], data: &[u8]) -> Result<Vec<u8>, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let subtle: web_sys::SubtleCrypto =
        Reflect::get(&crypto, &JsValue::from_str("subtle"))?.unchecked_into();
    let algorithm = Object::new();
    Reflect::set(
        &algorithm,
        &JsValue::from_str("name"),
        &JsValue::from_str("RSASSA-PKCS1-v1_5"),
    )?;
    Reflect::set(
        &algorithm,
        &JsValue::from_str("hash"),
        &JsValue::from_str("SHA-256"),
    )?;
    let usages = Array::of1(&JsValue::from_str("sign"));
    let key_data: Object = Uint8Array::from(pkcs8).into();
    let key = JsFuture::from(
        subtle.import_key_with_object("pkcs8", &key_data, &algorithm, false, &usages)?,
    )
    .await?;
    let key: web_sys::CryptoKey = key.unchecked_into();
    let signature =
        JsFuture::from(subtle.sign_with_str_and_u8_array("RSASSA-PKCS1-v1_5", &key, data)?).await?;
    Ok(Uint8Array::new(&signature).to_vec())
}
