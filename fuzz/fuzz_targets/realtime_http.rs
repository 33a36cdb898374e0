//! Realtime HTTP doors: `client_secrets` bodies and the upstream's answer,
//! WebRTC call SDP and multipart `session` parts (with a key or a realtime
//! token), call `Location`s and call-control bodies. What is sent upstream
//! names the deployment's model, and the client's answer never carries the
//! upstream's ephemeral key. Realtime Translation mints too: the typed body
//! goes up re-serialized on the deployment's model, and the token opens only
//! translation sessions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::realtime::calls::{
    call_id_from_location, check_sdp, plan_call_control, plan_call_with_token, CallAction,
    CallBody, KeyCall, OpenedCall,
};
use reelay_core::realtime::session::{finish_mint, ClientSecretRequest, SealWith};
use reelay_core::realtime::{SessionKind, TokenClaims, UpstreamKey};
use reelay_fuzz::{allow_all, config, deployment, keys, model_group, Input};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 6 {
        0 => client_secret(&mut input),
        5 => translation_secret(&mut input),
        1 => key_call(&mut input),
        2 => token_call(&mut input),
        3 => call_control(&mut input),
        _ => {
            let text = input.text();
            if let Some(id) = call_id_from_location(&text) {
                assert!(id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            }
            if let Some(action) = CallAction::parse(&text) {
                assert_eq!(action.as_str(), text);
            }
            let _ = SessionKind::parse(&text);
            if let Ok(sdp) = check_sdp(text.as_bytes()) {
                assert_eq!(sdp, text);
            }
        }
    }
});

/// The model a session object names for `kind` (as a JSON parser reads it).
fn session_model(session: &Value, kind: SessionKind) -> Option<&str> {
    let path: &[&str] = match kind {
        SessionKind::Realtime | SessionKind::Translation => &["model"],
        SessionKind::Transcription => &["audio", "input", "transcription", "model"],
    };
    path.iter()
        .try_fold(session, |at, key| at.get(key))
        .and_then(Value::as_str)
}

/// Every string in `value`, keys included.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                strings(v, out);
            }
        }
        _ => {}
    }
}

fn client_secret(input: &mut Input<'_>) {
    let nonce = input.array::<12>();
    let now = input.u64() >> 30;
    let body = input.part();
    let answer = input.rest();
    let Ok(request) = ClientSecretRequest::parse(body) else {
        return;
    };
    let Ok(group) = request.authorize(config(), allow_all()) else {
        return;
    };
    let dep = &group.deployments[0];
    let Ok(call) = request.plan_for(dep) else {
        return;
    };
    let json = call.json_body.unwrap_or_else(|| panic!("no body"));
    let sent: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(
        session_model(&sent["session"], request.kind()),
        Some(dep.model.as_str()),
        "{json}"
    );

    let seal = SealWith {
        key: keys(),
        key_hash: [3; 32],
        minter: reelay_core::browser_token::Minter::Key,
        nonce,
        now_secs: now,
    };
    let Ok(minted) = finish_mint(&request, group, dep, answer, &seal) else {
        return;
    };
    let upstream: Value = serde_json::from_slice(answer).unwrap_or_else(|e| panic!("{e}"));
    let ephemeral = upstream["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no value"));
    let client: Value =
        serde_json::from_str(&minted.body).unwrap_or_else(|e| panic!("{e}: {}", minted.body));
    let mut seen = Vec::new();
    strings(&client, &mut seen);
    for s in seen.into_iter().filter(|_| ephemeral.len() >= 8) {
        assert!(
            !s.contains(ephemeral),
            "the ephemeral key reached the client: {}",
            minted.body
        );
    }
    let token = client["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no token"));
    if minted.expires_at > now {
        let claims = TokenClaims::open(keys(), token, now, &[request.kind()])
            .unwrap_or_else(|e| panic!("minted token does not open: {e:?}"));
        assert_eq!(claims.upstream_key.expose(), ephemeral);
        assert_eq!(claims.model, group.name);
        assert_eq!(claims.deployment, dep.id);
    }
}

fn key_call(input: &mut Input<'_>) {
    let sdp = input.text();
    let session = input.rest();
    let Ok(call) = KeyCall::parse(sdp, Some(session)) else {
        return;
    };
    let Ok(group) = call.authorize(config(), allow_all()) else {
        return;
    };
    let dep = &group.deployments[0];
    let Ok(plan) = call.plan_for(dep) else {
        return;
    };
    let CallBody::Multipart {
        session: Some(sent),
        ..
    } = plan.body
    else {
        panic!("a key call sends its session");
    };
    let sent: Value = serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}: {sent}"));
    assert_eq!(
        session_model(&sent, call.kind()),
        Some(dep.model.as_str()),
        "{sent}"
    );
}

fn token_call(input: &mut Input<'_>) {
    let kind = if input.byte() & 1 == 0 {
        SessionKind::Realtime
    } else {
        SessionKind::Transcription
    };
    let group = model_group("gpt-realtime");
    let dep = deployment("gpt-realtime");
    let claims = TokenClaims {
        kind,
        expires_at: u64::MAX,
        key_hash: [3; 32],
        deployment: dep.id.clone(),
        model: group.name.clone(),
        upstream_key: UpstreamKey::new("ek_fuzz"),
        id: [0; 12],
        origin: None,
        subject: None,
    };
    let sdp = input.text();
    let session = input.rest();
    let Ok(plan) = plan_call_with_token(&claims, dep, sdp, Some(session)) else {
        return;
    };
    if let CallBody::Multipart {
        session: Some(sent),
        ..
    } = plan.body
    {
        let sent: Value = serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}: {sent}"));
        let model = session_model(&sent, kind);
        assert!(
            model.is_none() || model == Some(dep.model.as_str()),
            "{sent}"
        );
    }
}

fn call_control(input: &mut Input<'_>) {
    let action = CallAction::ALL[usize::from(input.byte()) % CallAction::ALL.len()];
    let group = model_group("gpt-realtime");
    let dep = deployment("gpt-realtime");
    let call = OpenedCall {
        deployment: dep.id.clone(),
        call_id: "rtc_abc".into(),
    };
    let body = input.rest();
    let Ok(request) = plan_call_control(group, dep, allow_all(), &call, action, body) else {
        return;
    };
    if let Some(json) = request.json_body {
        let sent: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        if action == CallAction::Accept {
            let model = sent.get("model").and_then(Value::as_str);
            assert!(
                model.is_none() || model == Some(dep.model.as_str()),
                "{json}"
            );
        }
    }
}

fn translation_secret(input: &mut Input<'_>) {
    use reelay_core::realtime::translation::{self, SecretRequest, TRANSLATION_KINDS};
    let nonce = input.array::<12>();
    let now = input.u64() >> 30;
    let body = input.part();
    let answer = input.rest();
    let Ok(request) = SecretRequest::parse(body) else {
        return;
    };
    let Ok(group) = request.authorize(config(), allow_all()) else {
        return;
    };
    let dep = &group.deployments[0];
    let Ok(call) = request.plan_for(dep) else {
        return;
    };
    let json = call.json_body.unwrap_or_else(|| panic!("no body"));
    let sent: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(
        sent["session"]["model"].as_str(),
        Some(dep.model.as_str()),
        "{json}"
    );
    // What goes up parses again, to the same body.
    let again = SecretRequest::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"));
    let again = again
        .plan_for(dep)
        .unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(again.json_body.as_deref(), Some(json.as_str()));
    let seal = SealWith {
        key: keys(),
        key_hash: [3; 32],
        minter: reelay_core::browser_token::Minter::Key,
        nonce,
        now_secs: now,
    };
    let Ok(minted) = translation::finish_mint(&request, group, dep, answer, &seal) else {
        return;
    };
    let upstream: Value = serde_json::from_slice(answer).unwrap_or_else(|e| panic!("{e}"));
    let ephemeral = upstream["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no value"));
    if ephemeral.len() >= 8 {
        assert!(!minted.body.contains(ephemeral), "{}", minted.body);
    }
    let client: Value =
        serde_json::from_str(&minted.body).unwrap_or_else(|e| panic!("{e}: {}", minted.body));
    let token = client["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no token"));
    if minted.expires_at > now {
        let claims = TokenClaims::open(keys(), token, now, TRANSLATION_KINDS)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(claims.kind, SessionKind::Translation);
        assert!(TokenClaims::open(keys(), token, now, reelay_core::realtime::ALL_KINDS).is_err());
    }
}
