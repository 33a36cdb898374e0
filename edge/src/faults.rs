// Fault switches for the end-to-end tests, so a test can take a dependency
// away from a running Worker (its isolate caches intact) and give it back.
// They are honoured only when the `REELAY_TEST_FAULTS` binding is `"1"`,
// which the test harness sets and `wrangler.toml` never does (a test checks
// that); without it every switch reads as off and costs one binding lookup
// per isolate. A switch is a KV value the test writes through the harness:
//
// | KV name | value | effect |
// |---|---|---|
// | `test:fault:quota_store` | `down` | every call to a `QUOTA` Durable Object fails as unreachable |

use std::cell::Cell;

use worker::Env;

use crate::context::KV_BINDING;

/// The binding that enables the switches (tests only).
const ENABLING_BINDING: &str = "REELAY_TEST_FAULTS";

thread_local! {
    static ENABLED: Cell<Option<bool>> = const { Cell::new(None) };
}

fn enabled(env: &Env) -> bool {
    ENABLED.with(|cell| match cell.get() {
        Some(on) => on,
        None => {
            let on = env
                .var(ENABLING_BINDING)
                .is_ok_and(|v| v.to_string() == "1");
            cell.set(Some(on));
            on
        }
    })
}

/// Whether a test switched the quota store off.
pub(crate) async fn quota_store_down(env: &Env) -> bool {
    if !enabled(env) {
        return false;
    }
    let Ok(kv) = env.kv(KV_BINDING) else {
        return false;
    };
    matches!(
        kv.get("test:fault:quota_store").text().await,
        Ok(Some(v)) if v == "down"
    )
}
