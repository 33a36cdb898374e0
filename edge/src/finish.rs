// The last step of every request, errors included: the headers every
// response carries (request id, CORS, rate limits, serving deployment), the
// quota settlement scheduled after the response, and the log line.

use worker::{Date, Response};

use crate::context::Ctx;
use crate::{cors, quota};

/// Adds the headers every response carries, settles the request's holds
/// after the response is sent, and writes the log line.
pub(crate) fn finish(cx: &Ctx, mut response: Response) -> Response {
    let status = response.status_code();
    let headers = response.headers_mut();
    cors::finish(cx, headers);
    let _ = headers.set("x-request-id", &cx.request_id);
    quota::finish(cx, headers);
    if let Some((deployment, attempts)) = cx.served.borrow().as_ref() {
        let _ = headers.set(
            "x-reelay-deployment",
            &reelay_core::retry::deployment_tag(deployment),
        );
        let _ = headers.set("x-reelay-attempts", &attempts.to_string());
    }
    cx.log.borrow_mut().emit(status, Date::now().as_millis());
    response
}
