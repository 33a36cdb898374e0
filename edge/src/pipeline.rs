// The one request pipeline every route family follows:
//
//   1. authenticate  `keys::identify`: key, browser token or master key,
//                    from the isolate cache (KV on a miss); CORS origin.
//   2. authorize     [`authorize_model`] / core's `authorize`: the
//                    caller's compiled rules (once per request) and the group.
//   3. plan          core builds the upstream request for the chosen
//                    deployment and says what it costs.
//   4. admit/reserve [`admit`]: one quota-object call at most, only when the
//                    request is metered, its key rate- or slot-limited, or the
//                    isolate's confirmation of the key is over a second old.
//   5. send          `upstream::send*` with failover, cooldowns, deadline.
//   6. classify      core's `errors` on every upstream failure.
//   7. settle        [`settle`]: the route reports the outcome and core picks
//                    commit, release or refund; without a report (any error
//                    or an early return) the hold is refunded.
//   8. respond       `finish`: headers, then the settlements in one call after
//                    the response.
//
// Plain routes use [`authenticate`] (steps 1 and 4 with the cost of one
// request); metered routes identify first and admit once the cost is known.

use reelay_core::authorize;
use reelay_core::config::{Config, ModelGroup};
use reelay_core::errors::ClientError;
use reelay_core::quota::{Cost, Outcome, TokenUse};
use worker::Request;

use crate::context::Ctx;
use crate::keys::{self, Caller};
use crate::quota::{self, Unreachable};

/// Steps 1 and 4 for a request that reserves nothing but itself.
pub(crate) async fn authenticate(
    req: &Request,
    cx: &Ctx,
    google_shaped: bool,
) -> Result<Caller, ClientError> {
    let mut caller = keys::identify(req, cx, google_shaped).await?;
    admit(cx, &mut caller, Cost::REQUEST).await?;
    Ok(caller)
}

/// Step 4: admits the request with everything it reserves (`cost` includes
/// the request itself), all or nothing.
pub(crate) async fn admit(cx: &Ctx, caller: &mut Caller, cost: Cost) -> Result<(), ClientError> {
    quota::admit(cx, caller, cost, Unreachable::Admit)
        .await
        .map_err(|e| keys::token_parent_error(caller, e))
}

/// Step 4 for a request made with a token the gateway minted (realtime,
/// Live): its minting key must be vouched for, so an unreachable quota
/// store refuses it instead of letting it through.
pub(crate) async fn admit_minted(cx: &Ctx, caller: &mut Caller) -> Result<(), ClientError> {
    quota::admit(cx, caller, Cost::REQUEST, Unreachable::Refuse).await
}

/// Step 4 for a session started with a token the gateway minted (a
/// realtime call or socket, a Live session): `cost` and one use of the
/// token, in one call to the minting key's quota object (which also vouches
/// for the key), all or nothing; `used_up` when the token has none left.
/// Refunding the hold (the session did not start) gives the use back.
pub(crate) async fn admit_token_use(
    cx: &Ctx,
    caller: &mut Caller,
    cost: Cost,
    token_use: &TokenUse,
    used_up: ClientError,
) -> Result<(), ClientError> {
    quota::admit_use(cx, caller, cost, token_use, used_up).await
}

/// Step 7: how the request's reserved work ended.
pub(crate) fn settle(cx: &Ctx, outcome: Outcome) {
    quota::settle_own(cx, outcome);
}

/// Checks `caller` may use `model` and that it is configured.
pub(crate) fn authorize_model<'c>(
    cx: &Ctx,
    config: &'c Config,
    caller: &Caller,
    model: &str,
) -> Result<&'c ModelGroup, ClientError> {
    cx.log.borrow_mut().model = Some(model.to_owned());
    let policy = caller.policy()?;
    authorize::model_group(config, &policy, model, "model").map_err(|e| describe(e, caller))
}

/// Adds what `caller` may use to an access denial (a browser token's own
/// rules, never its key's).
pub(crate) fn describe(err: ClientError, caller: &Caller) -> ClientError {
    let token_rules = caller.token.as_ref().map(|t| t.models.as_slice());
    authorize::with_callers_rules(err, &caller.record.models, token_rules)
}
