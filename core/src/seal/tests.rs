//! Tests of the envelopes, the purposes and the error mapping, across every
//! purpose at once.

use super::*;
use proptest::prelude::*;
use std::format;
use std::string::ToString;
use std::vec;

const NONCE: [u8; NONCE_LEN] = [3u8; NONCE_LEN];

fn keys() -> Keys {
    Keys::derive(&[7u8; 32]).unwrap()
}

/// Long enough for every purpose's [`Purpose::min_body_len`].
fn body() -> Vec<u8> {
    b"\x01owner-and-claims\x00\xff deployment payload, and some more bytes".to_vec()
}

/// `body` sealed for `purpose` with the envelope the purpose uses.
fn seal(keys: &Keys, purpose: Purpose, body: &[u8]) -> String {
    match purpose.protection() {
        Protection::Mac => keys.seal_mac(purpose, body).unwrap(),
        Protection::Aead => keys.seal_aead(purpose, &NONCE, body).unwrap(),
    }
}

/// Opens `text` as `purpose` with the envelope the purpose uses.
fn open(keys: &Keys, purpose: Purpose, text: &str) -> Result<Vec<u8>, Error> {
    match purpose.protection() {
        Protection::Mac => keys.open_mac(purpose, text),
        Protection::Aead => keys.open_aead(purpose, text).map(|(_, body)| body),
    }
}

fn raw_of(purpose: Purpose, text: &str) -> Vec<u8> {
    b64url_decode(&text[purpose.prefix().len()..]).unwrap()
}

fn text_of(purpose: Purpose, raw: &[u8]) -> String {
    format!("{}{}", purpose.prefix(), b64url_encode(raw))
}

#[test]
fn every_purpose_round_trips_under_its_prefix() {
    for purpose in Purpose::ALL {
        let text = seal(&keys(), purpose, &body());
        assert!(text.starts_with(purpose.prefix()), "{purpose:?}");
        assert!(text[purpose.prefix().len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(open(&keys(), purpose, &text), Ok(body()), "{purpose:?}");
        let raw = raw_of(purpose, &text);
        assert_eq!(raw[0], purpose.version());
        if purpose.protection() == Protection::Aead {
            assert_eq!(keys().open_aead(purpose, &text).unwrap().0, NONCE);
            // Encrypted: the body is not in the clear.
            assert!(!raw.windows(8).any(|w| w == &body()[1..9]), "{purpose:?}");
        }
    }
}

#[test]
fn a_value_sealed_for_one_purpose_never_opens_as_another() {
    let k = keys();
    for sealed_as in Purpose::ALL {
        let text = seal(&k, sealed_as, &body());
        let raw = raw_of(sealed_as, &text);
        for opened_as in Purpose::ALL {
            if opened_as == sealed_as {
                continue;
            }
            // As presented, and with its bytes moved under the other prefix.
            assert!(
                open(&k, opened_as, &text).is_err(),
                "{sealed_as:?} opened as {opened_as:?}"
            );
            let moved = text_of(opened_as, &raw);
            let err = open(&k, opened_as, &moved).unwrap_err();
            let expected: &[Error] = if sealed_as.is_id() && opened_as.is_id() {
                // Same key: the authenticated purpose byte tells them apart.
                &[Error::WrongPurpose]
            } else {
                // Another key (or the other primitive): nothing verifies.
                &[Error::BadMac, Error::Malformed]
            };
            assert!(
                expected.contains(&err),
                "{sealed_as:?} moved to {opened_as:?}: {err:?}"
            );
        }
    }
}

#[test]
fn one_tampered_byte_anywhere_fails() {
    let k = keys();
    for purpose in Purpose::ALL {
        let text = seal(&k, purpose, &body());
        let raw = raw_of(purpose, &text);
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                let err = open(&k, purpose, &text_of(purpose, &bad)).unwrap_err();
                if i == 0 && purpose.protection() == Protection::Aead {
                    assert_eq!(err, Error::Version, "{purpose:?} version byte");
                } else {
                    assert_eq!(err, Error::BadMac, "{purpose:?} byte {i}");
                }
            }
        }
        // Every character of the text, the prefix included.
        for (i, c) in text.char_indices() {
            let other = if c == 'A' { 'B' } else { 'A' };
            let mut bad = String::from(&text[..i]);
            bad.push(other);
            bad.push_str(&text[i + 1..]);
            assert!(open(&k, purpose, &bad).is_err(), "{purpose:?} char {i}");
        }
        // Truncated or extended.
        for cut in 0..raw.len() {
            let short = text_of(purpose, &raw[..cut]);
            assert!(open(&k, purpose, &short).is_err(), "{purpose:?} cut {cut}");
        }
        let mut long = raw.clone();
        long.push(0);
        assert!(open(&k, purpose, &text_of(purpose, &long)).is_err());
    }
}

#[test]
fn another_sealing_key_opens_nothing() {
    let other = Keys::derive(&[8u8; 32]).unwrap();
    for purpose in Purpose::ALL {
        let text = seal(&keys(), purpose, &body());
        assert_eq!(
            open(&other, purpose, &text),
            Err(Error::BadMac),
            "{purpose:?}"
        );
    }
}

#[test]
fn bodies_too_short_to_open_are_not_sealed() {
    let k = keys();
    for purpose in Purpose::ALL {
        let short = vec![0u8; purpose.min_body_len() - 1];
        let sealed = match purpose.protection() {
            Protection::Mac => k.seal_mac(purpose, &short),
            Protection::Aead => k.seal_aead(purpose, &NONCE, &short),
        };
        assert_eq!(sealed, Err(Error::Unsupported), "{purpose:?}");
        let shortest = vec![0u8; purpose.min_body_len()];
        let text = seal(&k, purpose, &shortest);
        assert_eq!(open(&k, purpose, &text), Ok(shortest), "{purpose:?}");
    }
}

#[test]
fn keys_need_a_long_enough_secret_and_show_nothing() {
    assert!(Keys::derive(&[1u8; MIN_SEALING_KEY_LEN - 1]).is_none());
    assert!(Keys::derive(&[1u8; MIN_SEALING_KEY_LEN]).is_some());
    assert_eq!(format!("{:?}", keys()), "Keys { .. }");
}

#[test]
fn every_slot_has_its_own_key() {
    let derived: Vec<[u8; 32]> = Slot::ALL
        .iter()
        .map(|slot| hmac_sha256(&[7u8; 32], &[slot.label()]))
        .collect();
    for (i, a) in derived.iter().enumerate() {
        for b in &derived[i + 1..] {
            assert_ne!(a, b);
        }
        assert_ne!(a, &[7u8; 32], "the secret is never used directly");
    }
    let k = keys();
    assert_eq!(k.ids, derived[0]);
    assert_eq!(k.browser_token, derived[1]);
}

#[test]
fn the_envelope_must_match_the_purpose() {
    let k = keys();
    for purpose in Purpose::ALL {
        match purpose.protection() {
            Protection::Mac => {
                assert_eq!(k.seal_aead(purpose, &NONCE, b"x"), Err(Error::Unsupported));
                assert_eq!(
                    k.open_aead(purpose, purpose.prefix()),
                    Err(Error::Unsupported)
                );
            }
            Protection::Aead => {
                assert_eq!(k.seal_mac(purpose, b"x"), Err(Error::Unsupported));
                assert_eq!(
                    k.open_mac(purpose, purpose.prefix()),
                    Err(Error::Unsupported)
                );
            }
        }
    }
}

#[test]
fn secrets_are_encrypted_and_everything_else_only_mac_d() {
    for purpose in Purpose::ALL {
        let expected = match purpose {
            Purpose::RealtimeToken | Purpose::LiveToken => Protection::Aead,
            _ => Protection::Mac,
        };
        assert_eq!(purpose.protection(), expected, "{purpose:?}");
    }
}

#[test]
fn every_token_prefix_is_reserved_and_no_id_prefix_is() {
    for purpose in Purpose::ALL {
        assert_eq!(
            RESERVED_PREFIXES.contains(&purpose.prefix()),
            purpose.is_token(),
            "{purpose:?}"
        );
        assert_eq!(purpose.is_token(), !purpose.is_id(), "{purpose:?}");
    }
    assert_eq!(
        RESERVED_PREFIXES.len(),
        Purpose::ALL.iter().filter(|p| p.is_token()).count()
    );
    for prefix in ["bt_rl_", "ek_rl_", "lt_rl_"] {
        assert!(RESERVED_PREFIXES.contains(&prefix), "{prefix}");
    }
}

#[test]
fn prefixes_are_unambiguous() {
    for (i, a) in Purpose::ALL.iter().enumerate() {
        for b in &Purpose::ALL[i + 1..] {
            assert!(
                !a.prefix().starts_with(b.prefix()) && !b.prefix().starts_with(a.prefix()),
                "{a:?} / {b:?}"
            );
            if let (Some(x), Some(y)) = (a.purpose_byte(), b.purpose_byte()) {
                assert_ne!(x, y, "{a:?} / {b:?}");
            }
        }
    }
}

#[test]
fn overlong_input_is_malformed_before_decoding() {
    let k = keys();
    for purpose in Purpose::ALL {
        let text = format!("{}{}", purpose.prefix(), "A".repeat(purpose.max_len()));
        assert_eq!(
            open(&k, purpose, &text),
            Err(Error::Malformed),
            "{purpose:?}"
        );
        for bad in ["", "!!!", "AAAA"] {
            let text = format!("{}{bad}", purpose.prefix());
            assert_eq!(
                open(&k, purpose, &text),
                Err(Error::Malformed),
                "{purpose:?}"
            );
        }
        assert_eq!(open(&k, purpose, "sk-reelay-x"), Err(Error::Malformed));
    }
}

#[test]
fn errors_have_stable_codes() {
    let all = [
        (Error::Malformed, "malformed"),
        (Error::Version, "version"),
        (Error::BadMac, "bad_mac"),
        (Error::WrongPurpose, "wrong_purpose"),
        (Error::Expired(5), "expired"),
        (Error::Unsupported, "unsupported"),
    ];
    for (error, code) in all {
        assert_eq!(error.as_str(), code);
        assert_eq!(error.to_string(), code);
    }
}

#[test]
fn clients_see_the_same_answers_as_before() {
    let failures = [
        Error::Malformed,
        Error::Version,
        Error::BadMac,
        Error::WrongPurpose,
    ];
    // (purpose, status, code, message, param) for every non-expiry failure.
    let expected = [
        (
            Purpose::Video,
            404,
            "video_not_found",
            "no video with this id exists for this key",
            Some("video_id"),
        ),
        (
            Purpose::Character,
            404,
            "video_not_found",
            "no character with this id exists for this key",
            Some("characters"),
        ),
        (
            Purpose::RealtimeCall,
            404,
            "realtime_call_not_found",
            "no realtime call with this id exists for this key",
            None,
        ),
        (
            Purpose::LiveSession,
            404,
            "live_session_not_found",
            "no live session with this id exists for this key",
            None,
        ),
        (
            Purpose::Interaction,
            404,
            "interaction_not_found",
            "no interaction with this id exists for this key",
            None,
        ),
        (
            Purpose::LiveToken,
            401,
            "invalid_live_token",
            "the ephemeral token is not valid (not issued by this gateway, or modified)",
            None,
        ),
    ];
    for (purpose, status, code, message, param) in expected {
        for e in failures {
            let c = e.to_client(purpose);
            assert_eq!(c.status(), status, "{purpose:?} {e:?}");
            assert_eq!(c.code.as_str(), code, "{purpose:?} {e:?}");
            assert_eq!(c.message, message, "{purpose:?} {e:?}");
            assert_eq!(c.param.as_deref(), param, "{purpose:?} {e:?}");
        }
    }
    for e in failures {
        let c = e.to_client(Purpose::BrowserToken);
        assert_eq!(
            (c.status(), c.code.as_str()),
            (401, "invalid_browser_token")
        );
        assert_eq!(
            e.to_client(Purpose::Response).code,
            ErrorCode::ResponseNotFound
        );
        assert_eq!(
            e.to_client(Purpose::Conversation).code,
            ErrorCode::ConversationNotFound
        );
        for p in [
            Purpose::ReasoningItem,
            Purpose::CompactionItem,
            Purpose::EncryptedContent,
        ] {
            assert_eq!(e.to_client(p).code, ErrorCode::InvalidEncryptedContent);
        }
        let c = e.to_client(Purpose::RealtimeToken);
        assert_eq!(
            (c.status(), c.code.as_str()),
            (401, "invalid_realtime_token")
        );
        let message = if e == Error::WrongPurpose {
            "the realtime token was minted for another kind of session"
        } else {
            "the realtime token is not valid (not issued by this gateway, or modified)"
        };
        assert_eq!(c.message, message);
    }
    let c = Error::Expired(1_790_000_900).to_client(Purpose::BrowserToken);
    assert_eq!(
        (c.status(), c.code.as_str()),
        (401, "browser_token_expired")
    );
    assert_eq!(
        c.message,
        "the browser token expired at 2026-09-21T14:28:20Z; ask your server for a new one"
    );
    let c = Error::Expired(0).to_client(Purpose::RealtimeToken);
    assert_eq!(
        (c.status(), c.code.as_str()),
        (401, "realtime_token_expired")
    );
    assert_eq!(
        c.message,
        "the realtime token has expired; mint a new one with POST /v1/realtime/client_secrets"
    );
    let c = Error::Expired(0).to_client(Purpose::LiveToken);
    assert_eq!((c.status(), c.code.as_str()), (401, "live_token_expired"));
    assert_eq!(
        c.message,
        "the ephemeral token has expired or may no longer start sessions; mint a new one"
    );
    // Ids: every failure is the purpose's one refusal (owner checks use it too).
    for purpose in Purpose::ALL.into_iter().filter(|p| p.is_id()) {
        for e in failures.into_iter().chain([Error::Expired(1)]) {
            assert_eq!(e.to_client(purpose), purpose.refusal(), "{purpose:?} {e:?}");
        }
    }
    for purpose in Purpose::ALL {
        let c = Error::Unsupported.to_client(purpose);
        assert_eq!(c.code, ErrorCode::Internal);
        assert!(!c.message.contains("SEALING_KEY"));
    }
}

proptest! {
    #[test]
    fn open_never_panics(text in ".{0,400}", which in 0usize..11) {
        let purpose = Purpose::ALL[which];
        let _ = open(&keys(), purpose, &text);
        let _ = open(&keys(), purpose, &format!("{}{text}", purpose.prefix()));
    }

    #[test]
    fn random_bytes_under_a_prefix_never_open(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        which in 0usize..11,
    ) {
        let purpose = Purpose::ALL[which];
        prop_assert!(open(&keys(), purpose, &text_of(purpose, &bytes)).is_err());
    }

    #[test]
    fn any_body_round_trips(
        tail in proptest::collection::vec(any::<u8>(), 0..300),
        which in 0usize..11,
    ) {
        let purpose = Purpose::ALL[which];
        let mut body = vec![0u8; purpose.min_body_len()];
        body.extend_from_slice(&tail);
        let text = seal(&keys(), purpose, &body);
        prop_assert_eq!(open(&keys(), purpose, &text), Ok(body));
    }
}
