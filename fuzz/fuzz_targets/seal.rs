//! Every seal purpose: opening any text never panics, and what is sealed
//! opens to exactly what went in, under these keys only and for its own
//! purpose only. Covers the MAC and AEAD envelopes, sealed ids, Gemini file
//! tokens, browser tokens, realtime tokens and call ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::browser_token::Claims;
use reelay_core::realtime::calls::{open_call_id, seal_call_id};
use reelay_core::realtime::{SessionKind, TokenClaims, UpstreamKey};
use reelay_core::seal::{id_to_token, token_to_id, Error, Protection, Purpose, Sealed};
use reelay_fuzz::{foreign_keys, keys, Input, OWNER};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let purpose = Purpose::ALL[usize::from(input.byte()) % Purpose::ALL.len()];
    match input.byte() % 6 {
        0 => open_anything(purpose, &input.text()),
        1 => envelope_round_trip(purpose, &mut input),
        2 => id_round_trip(purpose, &mut input),
        3 => browser_token_round_trip(&mut input),
        4 => realtime_token_round_trip(&mut input),
        _ => call_id_round_trip(&mut input),
    }
});

/// Any text, with or without the purpose's prefix: no panic.
fn open_anything(purpose: Purpose, text: &str) {
    let prefixed = format!("{}{text}", purpose.prefix());
    for candidate in [text, prefixed.as_str()] {
        let _ = keys().open_mac(purpose, candidate);
        let _ = keys().open_aead(purpose, candidate);
        let _ = keys().open_id(purpose, candidate);
        let _ = Claims::open(keys(), candidate, 0);
        let _ = TokenClaims::open(keys(), candidate, 0, &[SessionKind::Realtime]);
        let _ = open_call_id(keys(), candidate, &OWNER);
        let _ = reelay_core::video::open_video(keys(), candidate, &OWNER);
        let _ = reelay_core::video::openai::open_character(keys(), candidate, &OWNER);
        if let Some(token) = id_to_token(purpose, candidate) {
            let _ = token_to_id(purpose, &token);
        }
        let _ = token_to_id(purpose, candidate);
        let _ = Purpose::of_responses_id(candidate);
    }
}

/// `text` with the byte at `at` replaced by `with` (kept UTF-8).
fn tampered(text: &str, at: usize, with: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len();
    let slot = bytes.get_mut(at % len.max(1))?;
    if *slot == with || !with.is_ascii() {
        return None;
    }
    *slot = with;
    String::from_utf8(bytes).ok()
}

fn envelope_round_trip(purpose: Purpose, input: &mut Input<'_>) {
    let nonce = input.array::<12>();
    let (at, with) = (usize::from(input.byte()), input.byte());
    let body = input.rest();
    let sealed = match purpose.protection() {
        Protection::Mac => keys().seal_mac(purpose, body),
        Protection::Aead => keys().seal_aead(purpose, &nonce, body),
    };
    let Ok(text) = sealed else {
        assert!(body.len() < purpose.min_body_len());
        return;
    };
    assert!(text.starts_with(purpose.prefix()));
    let opened = match purpose.protection() {
        Protection::Mac => keys().open_mac(purpose, &text),
        Protection::Aead => keys().open_aead(purpose, &text).map(|(n, b)| {
            assert_eq!(n, nonce);
            b
        }),
    };
    if text.len() > purpose.max_len() {
        assert_eq!(opened, Err(Error::Malformed));
        return;
    }
    assert_eq!(opened.as_deref(), Ok(body), "{purpose:?} round trip");
    // Under other keys, for other purposes, or altered: never the body.
    assert!(foreign_keys().open_mac(purpose, &text).is_err());
    assert!(foreign_keys().open_aead(purpose, &text).is_err());
    for other in Purpose::ALL.into_iter().filter(|p| *p != purpose) {
        assert!(
            keys().open_mac(other, &text).is_err(),
            "{purpose:?} as {other:?}"
        );
        assert!(
            keys().open_aead(other, &text).is_err(),
            "{purpose:?} as {other:?}"
        );
    }
    if let Some(changed) = tampered(&text, at, with) {
        let reopened = match purpose.protection() {
            Protection::Mac => keys().open_mac(purpose, &changed),
            Protection::Aead => keys().open_aead(purpose, &changed).map(|(_, b)| b),
        };
        // A non-canonical base64 tail may decode to the same bytes.
        if let Ok(bytes) = reopened {
            assert_eq!(
                bytes, body,
                "an altered {purpose:?} opened to something else"
            );
        }
    }
}

fn id_round_trip(purpose: Purpose, input: &mut Input<'_>) {
    let key = input.array::<16>();
    let subject = Some(input.array::<16>()).filter(|s| s[0] & 1 == 1);
    let owner = reelay_core::seal::Owner { key, subject };
    let created_at_ms = input.u64();
    let deployment = input.text();
    let payload = input.rest().to_vec();
    let sealed = Sealed {
        purpose,
        owner,
        created_at_ms,
        deployment,
        payload,
    };
    let Ok(id) = keys().seal_id(&sealed) else {
        assert!(!purpose.is_id());
        return;
    };
    let opened = keys().open_id(purpose, &id);
    if id.len() > purpose.max_len() {
        assert_eq!(opened, Err(Error::Malformed));
        return;
    }
    if sealed.deployment.len() <= 255 {
        assert_eq!(opened.as_ref(), Ok(&sealed), "id round trip");
    }
    for other in Purpose::ALL.into_iter().filter(|p| *p != purpose) {
        assert!(keys().open_id(other, &id).is_err());
    }
    assert!(foreign_keys().open_id(purpose, &id).is_err());
    // Gemini file tokens carry the same bytes.
    let token = id_to_token(purpose, &id).unwrap_or_else(|| panic!("no token for {id}"));
    assert!(token
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')));
    if token.len() <= purpose.max_len() {
        assert_eq!(token_to_id(purpose, &token).as_deref(), Some(id.as_str()));
    }
}

fn browser_token_round_trip(input: &mut Input<'_>) {
    let parent_hash = input.array::<32>();
    let issued_at_secs = input.u64();
    let expires_at_secs = input.u64();
    let now = input.u64();
    let id = input.array::<8>();
    let origin = Some(input.text()).filter(|o| !o.is_empty());
    let models: Vec<String> = input
        .rest()
        .split(|b| *b == b',')
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    let claims = Claims {
        parent_hash,
        issued_at_secs,
        expires_at_secs,
        id,
        origin,
        models,
        subject: input.array::<16>(),
    };
    let Ok(token) = claims.seal(keys()) else {
        return;
    };
    let opened = Claims::open(keys(), &token, now);
    let fits = claims.origin.as_ref().is_none_or(|o| o.len() <= 255)
        && claims.models.len() <= 255
        && claims.models.iter().all(|m| m.len() <= 255)
        && token.len() <= Purpose::BrowserToken.max_len();
    if !fits {
        return;
    }
    if now >= expires_at_secs {
        assert_eq!(opened, Err(Error::Expired(expires_at_secs)));
    } else {
        assert_eq!(opened.as_ref(), Ok(&claims), "browser token round trip");
    }
    assert!(Claims::open(foreign_keys(), &token, now).is_err());
}

fn realtime_token_round_trip(input: &mut Input<'_>) {
    let kind = match input.byte() % 3 {
        0 => SessionKind::Realtime,
        1 => SessionKind::Transcription,
        _ => SessionKind::Translation,
    };
    let nonce = input.array::<12>();
    let expires_at = input.u64();
    let now = input.u64();
    let key_hash = input.array::<32>();
    let deployment = input.text();
    let model = input.text();
    let upstream = input.text();
    let claims = TokenClaims {
        kind,
        expires_at,
        key_hash,
        deployment,
        model,
        upstream_key: UpstreamKey::new(upstream),
        id: nonce,
        origin: None,
        subject: None,
    };
    let Ok(token) = claims.seal(keys()) else {
        return;
    };
    let opened = TokenClaims::open(
        keys(),
        &token,
        now,
        &[
            SessionKind::Realtime,
            SessionKind::Transcription,
            SessionKind::Translation,
        ],
    );
    if token.len() > Purpose::RealtimeToken.max_len() {
        assert_eq!(opened, Err(Error::Malformed));
        return;
    }
    if now >= expires_at {
        assert_eq!(opened, Err(Error::Expired(expires_at)));
    } else {
        assert_eq!(opened.as_ref(), Ok(&claims), "realtime token round trip");
        // A token never opens for another purpose (a translation token
        // never for a realtime or transcription session, nor theirs for it).
        let others = [
            SessionKind::Realtime,
            SessionKind::Transcription,
            SessionKind::Translation,
        ]
        .into_iter()
        .filter(|k| *k != kind)
        .collect::<Vec<_>>();
        assert_eq!(
            TokenClaims::open(keys(), &token, now, &others),
            Err(Error::WrongPurpose)
        );
    }
    assert!(TokenClaims::open(foreign_keys(), &token, 0, &[kind]).is_err());
}

fn call_id_round_trip(input: &mut Input<'_>) {
    let now = input.u64();
    let deployment = input.text();
    let call_id = input.text();
    let Ok(sealed) = seal_call_id(keys(), OWNER, &deployment, &call_id, now) else {
        return;
    };
    let opened = open_call_id(keys(), &sealed, &OWNER);
    let plausible =
        reelay_core::realtime::calls::call_id_from_location(&call_id) == Some(call_id.as_str());
    if plausible && deployment.len() <= 255 && sealed.len() <= Purpose::RealtimeCall.max_len() {
        let opened = opened.unwrap_or_else(|e| panic!("call id did not open: {e:?}"));
        assert_eq!(opened.call_id, call_id);
        assert_eq!(opened.deployment, deployment);
    } else if !plausible {
        assert!(opened.is_err());
    }
    assert!(open_call_id(keys(), &sealed, &reelay_core::seal::Owner::key([0x22; 16])).is_err());
}
