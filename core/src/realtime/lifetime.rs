//! How long a relayed realtime socket may live, and how it is told it is
//! over: every session ends with the credential that opened it.
//!
//! A socket is opened by a virtual key, or by a credential a key minted (a
//! browser token `bt_rl_…`, a realtime token `ek_rl_…`, a Live token
//! `lt_rl_…`). It is relayed until the first of:
//! - the key's expiry (as its quota store last reported it: a
//!   `/key/update` that moves the expiry moves the end);
//! - the token's own expiry;
//! - the key's deletion, which its quota store reports to every session
//!   watching it;
//! - a `/key/update` whose new rules no longer allow the session's model
//!   (the quota store pushes the new rules to every session watching the
//!   key; [`Lifetime::key_changed`] decides);
//! - the loss of the quota store that vouches for the key (fail closed).
//!
//! [`Lifetime`] holds the two expiries and names the error each end is
//! closed with; the host runs the timer and the watch, and closes with
//! [`super::ws::close_for`] (1008 for the revocations and expiries, 1011
//! for a lost store), after an OpenAI `error` event on OpenAI sockets.

use alloc::format;
use alloc::string::String;

use crate::access::{AccessGroups, AccessPolicy};
use crate::errors::{ClientError, ErrorCode};

/// What opened the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A virtual key.
    Key,
    /// A browser token (`bt_rl_…`) acting for its parent key.
    BrowserToken,
    /// A realtime token (`ek_rl_…`) minted by a key.
    RealtimeToken,
    /// A Gemini Live token (`auth_tokens/lt_rl_…`) minted by a key.
    LiveToken,
}

impl Credential {
    /// The code refusing this credential, and how it names itself.
    const fn invalid(self) -> (ErrorCode, &'static str) {
        match self {
            Self::Key => (ErrorCode::InvalidApiKey, "API key"),
            Self::BrowserToken => (ErrorCode::InvalidBrowserToken, "browser token"),
            Self::RealtimeToken => (ErrorCode::InvalidRealtimeToken, "realtime token"),
            Self::LiveToken => (ErrorCode::InvalidLiveToken, "ephemeral token"),
        }
    }

    /// The code of this credential's own expiry.
    const fn expired(self) -> ErrorCode {
        match self {
            Self::Key => ErrorCode::KeyExpired,
            Self::BrowserToken => ErrorCode::BrowserTokenExpired,
            Self::RealtimeToken => ErrorCode::RealtimeTokenExpired,
            Self::LiveToken => ErrorCode::LiveTokenExpired,
        }
    }
}

/// When a session ends by the clock, and what ends it otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetime {
    credential: Credential,
    /// The key's expiry, Unix ms (`None`: it never expires).
    key_expires_at_ms: Option<u64>,
    /// The token's expiry, Unix ms (`None` for a key).
    token_expires_at_ms: Option<u64>,
    /// The model the session was authorized for (the name matched against
    /// the key's rules), if its key's rules can change under it.
    model: Option<String>,
}

impl Lifetime {
    /// A session opened with `credential`, whose key expires at
    /// `key_expires_at_ms` and token at `token_expires_at_ms`.
    pub fn new(
        credential: Credential,
        key_expires_at_ms: Option<u64>,
        token_expires_at_ms: Option<u64>,
    ) -> Self {
        Self {
            credential,
            key_expires_at_ms,
            token_expires_at_ms: token_expires_at_ms.filter(|_| credential != Credential::Key),
            model: None,
        }
    }

    /// The lifetime of a session on `model` (the name the key's rules were
    /// matched against when it opened): it ends when they stop allowing it.
    #[must_use]
    pub fn for_model(mut self, model: &str) -> Self {
        self.model = Some(model.into());
        self
    }

    /// What opened the session.
    pub fn credential(&self) -> Credential {
        self.credential
    }

    /// When the clock ends the session (the earlier expiry), if ever.
    pub fn ends_at_ms(&self) -> Option<u64> {
        match (self.key_expires_at_ms, self.token_expires_at_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The key's quota store reported its current expiry (a `/key/update`
    /// may have moved it either way).
    pub fn key_expiry_changed(&mut self, key_expires_at_ms: Option<u64>) {
        self.key_expires_at_ms = key_expires_at_ms;
    }

    /// The key's quota store pushed its record anew (a `/key/update`): its
    /// expiry (moved either way) and, when the notice carries them, its
    /// access `rules`, compiled against the config's `groups`. The error
    /// ending the session when those rules no longer allow its model (or
    /// no longer compile: fail closed); `None` leaves it open.
    pub fn key_changed(
        &mut self,
        key_expires_at_ms: Option<u64>,
        rules: Option<&[String]>,
        groups: &AccessGroups,
    ) -> Option<ClientError> {
        self.key_expires_at_ms = key_expires_at_ms;
        let (Some(rules), Some(model)) = (rules, &self.model) else {
            return None;
        };
        let allowed = AccessPolicy::compile(rules, groups).is_ok_and(|p| p.allows(model));
        if allowed {
            return None;
        }
        let whose = match self.credential {
            Credential::Key => "this key",
            _ => "the key that minted this token",
        };
        Some(
            ClientError::new(
                ErrorCode::ModelAccessDenied,
                format!("{whose} may no longer use model {model:?}, so the session is closed"),
            )
            .with_param("model"),
        )
    }

    /// The error ending the session at `now_ms`, if an expiry has passed
    /// (the token's own first, as it is the narrower credential).
    pub fn expired(&self, now_ms: u64) -> Option<ClientError> {
        let passed = |at: Option<u64>| at.is_some_and(|at| now_ms >= at);
        let (code, name) = self.credential.invalid();
        if passed(self.token_expires_at_ms) {
            let code = self.credential.expired();
            return Some(ClientError::new(
                code,
                format!("the {name} has expired, so the session is closed"),
            ));
        }
        if !passed(self.key_expires_at_ms) {
            return None;
        }
        Some(match self.credential {
            Credential::Key => ClientError::new(
                ErrorCode::KeyExpired,
                "the API key has expired, so the session is closed",
            ),
            _ => ClientError::new(
                code,
                format!("the {name} is not valid: the key that minted it has expired"),
            ),
        })
    }

    /// The error ending the session because its key was deleted.
    pub fn revoked(&self) -> ClientError {
        let (code, name) = self.credential.invalid();
        match self.credential {
            Credential::Key => ClientError::new(
                code,
                "the API key is not valid (it was deleted), so the session is closed",
            ),
            _ => ClientError::new(
                code,
                format!("the {name} is not valid: the key that minted it was deleted"),
            ),
        }
    }

    /// The error ending the session because the quota store vouching for
    /// its key can no longer be reached (so a deletion could not be seen).
    pub fn unvouched(&self) -> ClientError {
        ClientError::new(
            ErrorCode::QuotaUnavailable,
            "the quota store vouching for this session's key cannot be reached; reconnect later",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::ws::{close_for, CLOSE_INTERNAL, CLOSE_POLICY, MAX_CLOSE_REASON};

    #[test]
    fn the_earlier_expiry_ends_the_session() {
        let key = Lifetime::new(Credential::Key, Some(5_000), Some(1_000));
        // A key has no token expiry, whatever was passed.
        assert_eq!(key.ends_at_ms(), Some(5_000));
        assert_eq!(key.expired(4_999), None);
        assert_eq!(key.expired(5_000).unwrap().code, ErrorCode::KeyExpired);

        let token = Lifetime::new(Credential::RealtimeToken, Some(5_000), Some(1_000));
        assert_eq!(token.ends_at_ms(), Some(1_000));
        assert_eq!(
            token.expired(1_000).unwrap().code,
            ErrorCode::RealtimeTokenExpired
        );
        let key_first = Lifetime::new(Credential::LiveToken, Some(1_000), Some(5_000));
        let err = key_first.expired(2_000).unwrap();
        assert_eq!(err.code, ErrorCode::InvalidLiveToken);
        assert!(err.message.contains("has expired"));
        assert_eq!(
            Lifetime::new(Credential::BrowserToken, None, Some(7))
                .expired(7)
                .unwrap()
                .code,
            ErrorCode::BrowserTokenExpired
        );
        assert_eq!(
            Lifetime::new(Credential::Key, None, None).ends_at_ms(),
            None
        );
    }

    #[test]
    fn an_update_moves_the_key_expiry() {
        let mut l = Lifetime::new(Credential::Key, None, None);
        l.key_expiry_changed(Some(10));
        assert_eq!(l.ends_at_ms(), Some(10));
        assert!(l.expired(10).is_some());
        l.key_expiry_changed(None);
        assert_eq!(l.expired(10), None);
    }

    #[test]
    fn narrowed_rules_end_a_session_whose_model_they_no_longer_allow() {
        let groups = AccessGroups::new();
        let rules = |r: &[&str]| {
            r.iter()
                .map(|s| String::from(*s))
                .collect::<alloc::vec::Vec<_>>()
        };
        let mut l = Lifetime::new(Credential::Key, None, None).for_model("gpt-realtime");
        // Still allowed: by name, by pattern, by "every model".
        for still in [&["gpt-realtime", "veo-3.1"][..], &["gpt-*"], &[]] {
            assert_eq!(l.key_changed(None, Some(&rules(still)), &groups), None);
        }
        // A notice without rules (an older store) only moves the expiry.
        assert_eq!(l.key_changed(Some(9), None, &groups), None);
        assert_eq!(l.ends_at_ms(), Some(9));
        let err = l
            .key_changed(None, Some(&rules(&["veo-3.1"])), &groups)
            .unwrap();
        assert_eq!(err.code, ErrorCode::ModelAccessDenied);
        assert!(err.message.contains("\"gpt-realtime\""), "{}", err.message);
        assert_eq!(close_for(&err).0, CLOSE_POLICY);
        let denied = rules(&["*", "!gpt-realtime"]);
        let mut token =
            Lifetime::new(Credential::LiveToken, None, Some(5)).for_model("gpt-realtime");
        let err = token.key_changed(None, Some(&denied), &groups).unwrap();
        assert!(err.message.starts_with("the key that minted this token"));
        // Rules that no longer compile (a dropped access group): fail closed.
        let dangling = rules(&["group:gone"]);
        assert!(l.key_changed(None, Some(&dangling), &groups).is_some());
        // A session with no model to watch only follows the expiry.
        let mut plain = Lifetime::new(Credential::Key, None, None);
        assert_eq!(
            plain.key_changed(None, Some(&rules(&["veo-3.1"])), &groups),
            None
        );
    }

    #[test]
    fn ends_close_with_policy_or_internal_codes() {
        for credential in [
            Credential::Key,
            Credential::BrowserToken,
            Credential::RealtimeToken,
            Credential::LiveToken,
        ] {
            let l = Lifetime::new(credential, Some(1), Some(1));
            for err in [l.revoked(), l.expired(1).unwrap()] {
                let (code, reason) = close_for(&err);
                assert_eq!(code, CLOSE_POLICY, "{err:?}");
                assert!(reason.starts_with(err.code.as_str()));
                // The whole message fits in a close reason.
                assert!(reason.len() < MAX_CLOSE_REASON, "{reason}");
            }
            assert_eq!(close_for(&l.unvouched()).0, CLOSE_INTERNAL);
        }
        assert_eq!(
            Lifetime::new(Credential::BrowserToken, None, None)
                .revoked()
                .code,
            ErrorCode::InvalidBrowserToken
        );
    }
}
