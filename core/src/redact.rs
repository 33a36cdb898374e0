//! Redaction of secrets from text the gateway passes on from an upstream
//! (error messages, WebSocket error events and close reasons, SSE error
//! events, and the upstream's free text inside successful answers: a failed
//! job's message in a video object, a passed-on Google operation, a failed
//! Responses answer), whatever the secret's shape.
//!
//! Two layers, in this order:
//!
//! 1. **By value** ([`Redactor`]): the host knows every credential it holds
//!    (deployment API keys, service-account key files and the OAuth access
//!    tokens minted from them, `SEALING_KEY`, `MASTER_KEY`) and every
//!    upstream token behind a credential it minted (the ephemeral key inside
//!    an `ek_rl_` token). Each is removed wherever it appears, in its own
//!    form, percent-encoded and JSON-escaped; a key file contributes its
//!    secret fields and each line of its PEM body. A text that ends in the
//!    first [`MIN_SECRET_LEN`] or more bytes of a secret (an upstream or
//!    the gateway cut it short) loses that tail too.
//! 2. **By shape** ([`redact_shapes`]), for secrets the host does not know:
//!    an OpenAI-style key (`sk-…`), a Google API key (`AIza…`) or an OAuth
//!    access token (`ya29.…`), starting a word and long enough to be real.
//!
//! Each secret is replaced by [`REDACTED`]. Values shorter than
//! [`MIN_SECRET_LEN`] bytes are ignored (they would redact ordinary words).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";
/// Shortest value redacted by value.
pub const MIN_SECRET_LEN: usize = 8;
/// Fields of a JSON key file whose values are secrets of their own.
const SECRET_FIELDS: &[&str] = &[
    "private_key",
    "private_key_id",
    "client_secret",
    "refresh_token",
    "access_token",
];

/// The known secret values, longest first; see the module docs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    values: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows no values yet (shapes only).
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor knowing each of `secrets` (as [`Redactor::add`]).
    pub fn of<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut r = Self::new();
        for s in secrets {
            r.add(s);
        }
        r
    }

    /// Learns a credential's value: the value itself, its percent-encoded
    /// and JSON-escaped forms, and — when it is a JSON key file — the values
    /// of its secret fields and the lines of any PEM body in them.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        self.push_forms(secret);
        if secret.starts_with('{') {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(secret) {
                for name in SECRET_FIELDS {
                    if let Some(value) = fields.get(*name).and_then(|v| v.as_str()) {
                        self.push_forms(value);
                        self.push_pem_lines(value);
                    }
                }
            }
        }
        self.push_pem_lines(secret);
    }

    /// How many values (forms included) are known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn push_forms(&mut self, value: &str) {
        self.push(value.to_owned());
        self.push(percent_encode(value));
        if let Ok(json) = serde_json::to_string(value) {
            // Without the quotes.
            self.push(json[1..json.len() - 1].to_owned());
        }
    }

    fn push_pem_lines(&mut self, value: &str) {
        if !value.contains("-----BEGIN") {
            return;
        }
        // Real newlines, or the `\n` escapes of a key file's JSON text.
        for line in value.split(['\n', '\r']).flat_map(|l| l.split("\\n")) {
            let line = line.trim();
            if !line.starts_with("-----") && line.len() >= 2 * MIN_SECRET_LEN {
                self.push(line.to_owned());
            }
        }
    }

    fn push(&mut self, value: String) {
        if value.len() < MIN_SECRET_LEN || self.values.contains(&value) {
            return;
        }
        // Longest first, so a value is removed before any part of it.
        let at = self
            .values
            .iter()
            .position(|v| v.len() < value.len())
            .unwrap_or(self.values.len());
        self.values.insert(at, value);
    }

    /// Whether `text` holds a known value (the shapes are not checked).
    pub fn knows_a_value_in(&self, text: &str) -> bool {
        self.values.iter().any(|v| text.contains(v.as_str()))
    }

    /// `text` with every known value, a trailing start of one, and every
    /// secret-shaped run replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = if self.knows_a_value_in(text) {
            let mut out = text.to_owned();
            for value in &self.values {
                if out.contains(value.as_str()) {
                    out = out.replace(value.as_str(), REDACTED);
                }
            }
            out
        } else {
            text.to_owned()
        };
        self.cut_trailing_start(&mut out);
        if find_shape(&out).is_some() {
            out = redact_shapes(&out);
        }
        out
    }

    /// Redacts every string in `value` (as [`Redactor::redact`]; object keys
    /// are kept), except the values of the fields named in `binary` (base64
    /// payloads, where a secret's shape could match by chance and the
    /// bytes would be broken). Whether anything changed.
    pub fn redact_json(&self, value: &mut serde_json::Value, binary: &[&str]) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                let clean = self.redact(text);
                let changed = clean != *text;
                if changed {
                    *text = clean;
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                self.redact_json(item, binary) | changed
            }),
            Value::Object(fields) => fields
                .iter_mut()
                .filter(|(name, _)| !binary.contains(&name.as_str()))
                .fold(false, |changed, (_, item)| {
                    self.redact_json(item, binary) | changed
                }),
            _ => false,
        }
    }

    /// Removes a tail of `text` (before a final `…`, if any) that is the
    /// first [`MIN_SECRET_LEN`] or more bytes of a known value.
    fn cut_trailing_start(&self, text: &mut String) {
        let body_len = text.strip_suffix('…').unwrap_or(text).len();
        let body = &text[..body_len];
        let mut cut: Option<usize> = None;
        for value in &self.values {
            let Some(head) = value.get(..MIN_SECRET_LEN) else {
                continue;
            };
            // Only the last `value.len()` bytes can hold its start.
            let mut from = body_len.saturating_sub(value.len());
            while !body.is_char_boundary(from) {
                from += 1;
            }
            let start = body[from..]
                .match_indices(head)
                .map(|(i, _)| from + i)
                .find(|&at| value.starts_with(&body[at..]));
            if let Some(at) = start {
                cut = Some(cut.map_or(at, |c| c.min(at)));
            }
        }
        if let Some(at) = cut {
            let ellipsis = text.ends_with('…');
            text.truncate(at);
            text.push_str(REDACTED);
            if ellipsis {
                text.push('…');
            }
        }
    }
}

/// `value` with every byte other than an unreserved one (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded, as in a query string.
fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// `text` with every secret-shaped run (see the module docs) replaced by
/// [`REDACTED`].
pub fn redact_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, end)) = find_shape(rest) {
        out.push_str(&rest[..start]);
        out.push_str(REDACTED);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The byte range of the first run that looks like a credential: an OpenAI
/// key (`sk-…`), a Google API key (`AIza…`) or an OAuth access token
/// (`ya29.…`), starting a word and long enough to be real.
pub fn find_shape(s: &str) -> Option<(usize, usize)> {
    const PREFIXES: [(&str, usize); 3] = [("sk-", 20), ("AIza", 30), ("ya29.", 20)];
    let bytes = s.as_bytes();
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    for start in 0..bytes.len() {
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        for (prefix, min_len) in PREFIXES {
            if bytes[start..].starts_with(prefix.as_bytes()) {
                let run = bytes[start..]
                    .iter()
                    .take_while(|b| is_key_byte(**b))
                    .count();
                let run = run
                    - bytes[start..start + run]
                        .iter()
                        .rev()
                        .take_while(|b| **b == b'.')
                        .count();
                if run >= min_len {
                    return Some((start, start + run));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    const AZURE: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn known_values_of_any_shape_are_removed() {
        let r = Redactor::of([AZURE, "short", "gemini-key-1234"]);
        let text = format!("Access denied: key {AZURE} is not valid for this resource");
        let out = r.redact(&text);
        assert_eq!(
            out,
            "Access denied: key [redacted] is not valid for this resource"
        );
        // Too short to be a secret: left alone.
        assert_eq!(r.redact("a short answer"), "a short answer");
        // Percent-encoded (in an echoed URL) and JSON-escaped forms too.
        let r = Redactor::of(["k/ey+with=odd\"chars"]);
        assert_eq!(
            r.redact("GET /v1?key=k%2Fey%2Bwith%3Dodd%22chars failed"),
            "GET /v1?key=[redacted] failed"
        );
        assert_eq!(
            r.redact(r#"{"message":"bad k/ey+with=odd\"chars"}"#),
            r#"{"message":"bad [redacted]"}"#
        );
    }

    #[test]
    fn a_trailing_start_of_a_value_is_removed() {
        let r = Redactor::of([AZURE]);
        let cut = format!("your key {}…", &AZURE[..12]);
        assert_eq!(r.redact(&cut), "your key [redacted]…");
        let cut = format!("your key {}", &AZURE[..9]);
        assert_eq!(r.redact(&cut), "your key [redacted]");
        // Fewer than MIN_SECRET_LEN bytes: ordinary text.
        assert_eq!(r.redact("ends in 0123"), "ends in 0123");
    }

    #[test]
    fn key_files_contribute_their_secret_fields_and_pem_lines() {
        let line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let key_file = format!(
            r#"{{"type":"service_account","private_key_id":"abcdef0123456789abcdef","private_key":"-----BEGIN PRIVATE KEY-----\n{line}\n-----END PRIVATE KEY-----\n","client_email":"a@b.iam.gserviceaccount.com"}}"#
        );
        let r = Redactor::of([key_file.as_str()]);
        assert_eq!(
            r.redact(&format!("bad key {line} here")),
            "bad key [redacted] here"
        );
        assert_eq!(
            r.redact("key abcdef0123456789abcdef unknown"),
            "key [redacted] unknown"
        );
        // Not a secret: kept.
        assert!(r
            .redact("account a@b.iam.gserviceaccount.com")
            .contains("a@b.iam"));
        assert!(!format!("{r:?}").contains("abcdef"));
    }

    #[test]
    fn json_strings_are_redacted_but_binary_fields_are_kept() {
        let r = Redactor::of([AZURE]);
        let bytes = "AIzaSyA0123456789abcdefghijklmnopqrstuvw";
        let mut value = serde_json::json!({
            "error": {"code": 3, "message": format!("key {AZURE} refused"),
                      "details": [{"reason": format!("{AZURE}")}]},
            "response": {"videos": [{"bytesBase64Encoded": bytes}]},
        });
        assert!(r.redact_json(&mut value, &["bytesBase64Encoded"]));
        assert_eq!(value["error"]["message"], "key [redacted] refused");
        assert_eq!(value["error"]["details"][0]["reason"], "[redacted]");
        assert_eq!(value["error"]["code"], 3);
        // A payload is never touched, even when it looks like a key.
        assert_eq!(value["response"]["videos"][0]["bytesBase64Encoded"], bytes);
        // Nothing to redact: unchanged, and said so.
        let mut clean = serde_json::json!({"message": "all good", "n": [1, "x"]});
        let before = clean.clone();
        assert!(!r.redact_json(&mut clean, &[]));
        assert_eq!(clean, before);
    }

    #[test]
    fn shapes_are_the_second_layer() {
        let r = Redactor::new();
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz";
        assert_eq!(r.redact(&format!("key={key}.")), "key=[redacted].");
        assert_eq!(
            redact_shapes("t ya29.a0AfH6SMBxxxxxxxxxxxxxxxx y"),
            "t [redacted] y"
        );
        assert_eq!(redact_shapes("task-12 sk-short"), "task-12 sk-short");
        assert_eq!(find_shape("ask-abcdefghijklmnopqrstuvwxyz"), None);
        assert_eq!(
            Redactor::of(["AIzaSyA-0123456789abcdefghijklmnopq"])
                .redact("k AIzaSyA-0123456789abcdefghijklmnopq")
                .to_string(),
            "k [redacted]"
        );
    }
}
