// `POST /v1/browser_tokens`: a server holding a full virtual key mints a
// short-lived browser token (`bt_rl_…`) narrowed to some of the key's
// models, optionally bound to one origin. The rules and the format are
// `reelay_core::browser_token`; the token is checked on every use by
// `keys::authenticate`.

use reelay_core::browser_token::{mint_response, MintRequest, Parent};
use reelay_core::errors::{ClientError, ErrorCode};
use reelay_core::seal::Purpose;
use worker::{Headers, Request, Response};

use crate::context::{random_bytes, Ctx};
use crate::cors;
use crate::keys;
use crate::pipeline;
use crate::request::{read_body, require_json};

/// Mint bodies are small.
const MAX_MINT_BODY: u32 = 16 * 1024;

pub(super) async fn mint(req: &mut Request, cx: &Ctx) -> Result<Response, ClientError> {
    let config = cx.config()?;
    if keys::presents_browser_token(req) {
        return Err(cors::token_refused(
            "/v1/browser_tokens (a token cannot mint tokens)",
        ));
    }
    let seal_keys = cx.seal_keys()?;
    let caller = pipeline::authenticate(req, cx, false).await?;
    if caller.is_master {
        return Err(ClientError::new(
            ErrorCode::InvalidRequest,
            "mint browser tokens with a virtual key (their usage counts against that key's quotas); \
             the master key has none",
        ));
    }
    require_json(req)?;
    let body = read_body(req, MAX_MINT_BODY).await?;
    let request = MintRequest::parse(&body, &config.access_groups)?;
    let policy = caller.policy()?;
    let parent = Parent {
        hash: caller.hash,
        record: &caller.record,
        policy: &policy,
    };
    let subject = request.subject.clone();
    let claims = request.authorize(parent, &config, cx.now_ms, random_bytes::<8>()?, &seal_keys)?;
    let token = claims
        .seal(&seal_keys)
        .map_err(|e| e.to_client(Purpose::BrowserToken))?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    // The body is a credential: no cache may keep it.
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(
            mint_response(&token, &claims, subject.as_deref())
                .to_string()
                .into_bytes(),
        ))
}
