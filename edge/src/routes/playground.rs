// The playground: a static page at `GET /` (HTML, CSS and JS embedded in
// the wasm from `edge/playground/`) for trying video generation and a
// realtime voice session against this gateway with a key or a browser
// token. It talks only to its own origin; the key stays in the page (memory
// or sessionStorage). Served with a strict CSP: no inline script or style,
// nothing from another origin, media from blob: URLs.

use reelay_core::errors::{ClientError, ErrorCode};
use worker::{Headers, Response};

const INDEX_HTML: &str = include_str!("../../playground/index.html");
const APP_JS: &str = include_str!("../../playground/app.js");
const STYLE_CSS: &str = include_str!("../../playground/style.css");

/// `default-src 'self'`, plus `blob:`/`data:` for the fetched video and
/// images. WebRTC media is not governed by CSP; signalling is same-origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`.
pub(super) fn page() -> Response {
    serve(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /playground/{app.js,style.css}`.
pub(super) fn asset(name: &str) -> Result<Response, ClientError> {
    match name {
        "app.js" => Ok(serve(APP_JS, "text/javascript; charset=utf-8")),
        "style.css" => Ok(serve(STYLE_CSS, "text/css; charset=utf-8")),
        other => Err(ClientError::new(
            ErrorCode::RouteNotFound,
            format!("no playground asset {other:?}"),
        )),
    }
}

fn serve(body: &str, content_type: &str) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", content_type);
    let _ = headers.set("content-security-policy", CSP);
    let _ = headers.set("x-content-type-options", "nosniff");
    let _ = headers.set("referrer-policy", "no-referrer");
    let _ = headers.set("x-frame-options", "DENY");
    // Small and versioned with the Worker: revalidate rather than pin.
    let _ = headers.set("cache-control", "no-cache");
    let _ = headers.set(
        "permissions-policy",
        "microphone=(self), camera=(), geolocation=()",
    );
    Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(body.as_bytes().to_vec())
}
