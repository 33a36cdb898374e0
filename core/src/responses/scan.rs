//! A strict, allocation-free JSON scanner that copies a document to an
//! output buffer and lets a visitor rewrite selected **string values** on the
//! way: the rest of the document (key order, whitespace, numbers, escapes)
//! is copied byte for byte.
//!
//! This is what keeps affinity rewriting cheap: no `serde_json::Value` tree
//! is built, nothing but the few rewritten strings is allocated, and a
//! document whose strings the visitor leaves alone comes out identical.
//!
//! The visitor is called only for string values that sit directly under an
//! object key this module names ([`Key`], anything else is [`Key::Other`]),
//! with the path of enclosing containers ([`Frame`]s) so it can tell
//! `input[3].id` from `metadata.id`. The grammar is RFC 8259's; nesting is
//! limited to [`MAX_DEPTH`] (serde_json's default), so hostile input costs
//! one linear pass and no recursion.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// Deepest nesting accepted (serde_json's default recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Object keys the Responses rewriting cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Any other key.
    Other,
    Id,
    ItemId,
    ResponseId,
    PreviousResponseId,
    FirstId,
    LastId,
    EncryptedContent,
    Conversation,
    Input,
    Model,
    /// Keys whose values are caller-defined data (`metadata`, prompt
    /// `variables`, JSON Schemas): never rewritten on the way out.
    Opaque,
}

impl Key {
    fn classify(raw: &[u8]) -> Self {
        match raw {
            b"id" => Self::Id,
            b"item_id" => Self::ItemId,
            b"response_id" => Self::ResponseId,
            b"previous_response_id" => Self::PreviousResponseId,
            b"first_id" => Self::FirstId,
            b"last_id" => Self::LastId,
            b"encrypted_content" => Self::EncryptedContent,
            b"conversation" => Self::Conversation,
            b"input" => Self::Input,
            b"model" => Self::Model,
            b"metadata" | b"variables" | b"parameters" | b"schema" | b"input_schema" => {
                Self::Opaque
            }
            _ => Self::Other,
        }
    }
}

/// One open container on the path to the visited value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    /// An object (else an array).
    pub(crate) obj: bool,
    /// For objects: the key of the member being read.
    pub(crate) key: Key,
    /// For arrays: the index of the element being read.
    pub(crate) index: u32,
}

const EMPTY: Frame = Frame {
    obj: false,
    key: Key::Other,
    index: 0,
};

/// A string value as it appears in the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Str<'a> {
    /// The literal including its quotes.
    quoted: &'a [u8],
    /// Whether it contains a backslash escape.
    escaped: bool,
}

impl<'a> Str<'a> {
    /// The bytes between the quotes, escapes not decoded.
    pub(crate) fn raw(&self) -> &'a [u8] {
        &self.quoted[1..self.quoted.len() - 1]
    }

    /// Whether the literal uses escapes (so [`Str::raw`] is not the text).
    pub(crate) fn escaped(&self) -> bool {
        self.escaped
    }

    /// The decoded text; `None` if it is not valid UTF-8 (or, with escapes,
    /// encodes a lone surrogate).
    pub(crate) fn text(&self) -> Option<Cow<'a, str>> {
        if self.escaped {
            serde_json::from_slice::<String>(self.quoted)
                .ok()
                .map(Cow::Owned)
        } else {
            core::str::from_utf8(self.raw()).ok().map(Cow::Borrowed)
        }
    }
}

/// What to do with a visited string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Replace the contents (between the quotes) with this JSON-escaped text.
    Replace(String),
    /// Insert this JSON-escaped text right after the opening quote.
    Prepend(String),
    /// Drop the first `n` raw bytes of the contents.
    DropRaw(usize),
}

/// Why a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError<E> {
    /// Not JSON.
    Syntax,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The visitor refused a value.
    Visit(E),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    ValueOrClose,
    AfterValue,
    KeyOrClose,
    Key,
}

/// Copies `json` to `out`, applying the visitor's edits; returns whether
/// anything changed. On error `out` is left as it was.
pub(crate) fn rewrite<E, F>(
    json: &[u8],
    out: &mut Vec<u8>,
    mut visit: F,
) -> Result<bool, ScanError<E>>
where
    F: FnMut(&[Frame], Str<'_>) -> Result<Option<Edit>, E>,
{
    let start_len = out.len();
    match scan(json, out, &mut visit) {
        Ok(changed) => Ok(changed),
        Err(e) => {
            out.truncate(start_len);
            Err(e)
        }
    }
}

fn scan<E, F>(json: &[u8], out: &mut Vec<u8>, visit: &mut F) -> Result<bool, ScanError<E>>
where
    F: FnMut(&[Frame], Str<'_>) -> Result<Option<Edit>, E>,
{
    let mut frames = [EMPTY; MAX_DEPTH];
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut copied = 0usize;
    let mut changed = false;
    let mut expect = Expect::Value;
    loop {
        i = skip_ws(json, i);
        match expect {
            Expect::Value | Expect::ValueOrClose => {
                let b = *json.get(i).ok_or(ScanError::Syntax)?;
                if b == b']' && expect == Expect::ValueOrClose {
                    depth -= 1;
                    i += 1;
                    expect = Expect::AfterValue;
                    continue;
                }
                match b {
                    b'{' | b'[' => {
                        if depth == MAX_DEPTH {
                            return Err(ScanError::TooDeep);
                        }
                        frames[depth] = Frame {
                            obj: b == b'{',
                            ..EMPTY
                        };
                        depth += 1;
                        i += 1;
                        expect = if b == b'{' {
                            Expect::KeyOrClose
                        } else {
                            Expect::ValueOrClose
                        };
                        continue;
                    }
                    b'"' => {
                        let (end, escaped) = scan_string(json, i)?;
                        let under = depth.checked_sub(1).map(|d| frames[d]);
                        if let Some(Frame { obj: true, key, .. }) = under {
                            if key != Key::Other {
                                let s = Str {
                                    quoted: &json[i..end],
                                    escaped,
                                };
                                if let Some(edit) =
                                    visit(&frames[..depth], s).map_err(ScanError::Visit)?
                                {
                                    out.extend_from_slice(&json[copied..=i]);
                                    copied = match edit {
                                        Edit::Replace(text) => {
                                            out.extend_from_slice(text.as_bytes());
                                            end - 1
                                        }
                                        Edit::Prepend(text) => {
                                            out.extend_from_slice(text.as_bytes());
                                            i + 1
                                        }
                                        Edit::DropRaw(n) => (i + 1 + n).min(end - 1),
                                    };
                                    changed = true;
                                }
                            }
                        }
                        i = end;
                    }
                    b'-' | b'0'..=b'9' => i = scan_number(json, i)?,
                    b't' => i = literal(json, i, b"true")?,
                    b'f' => i = literal(json, i, b"false")?,
                    b'n' => i = literal(json, i, b"null")?,
                    _ => return Err(ScanError::Syntax),
                }
                expect = Expect::AfterValue;
            }
            Expect::AfterValue => {
                let Some(top) = depth.checked_sub(1) else {
                    if i == json.len() {
                        break;
                    }
                    return Err(ScanError::Syntax);
                };
                let frame = &mut frames[top];
                match (json.get(i), frame.obj) {
                    (Some(b','), true) => expect = Expect::Key,
                    (Some(b','), false) => {
                        frame.index += 1;
                        expect = Expect::Value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => depth -= 1,
                    _ => return Err(ScanError::Syntax),
                }
                i += 1;
            }
            Expect::KeyOrClose | Expect::Key => {
                let b = *json.get(i).ok_or(ScanError::Syntax)?;
                if b == b'}' && expect == Expect::KeyOrClose {
                    depth -= 1;
                    i += 1;
                    expect = Expect::AfterValue;
                    continue;
                }
                if b != b'"' {
                    return Err(ScanError::Syntax);
                }
                let (end, escaped) = scan_string(json, i)?;
                let key = if escaped {
                    let s = Str {
                        quoted: &json[i..end],
                        escaped,
                    };
                    s.text().map_or(Key::Other, |t| Key::classify(t.as_bytes()))
                } else {
                    Key::classify(&json[i + 1..end - 1])
                };
                frames[depth - 1].key = key;
                i = skip_ws(json, end);
                if json.get(i) != Some(&b':') {
                    return Err(ScanError::Syntax);
                }
                i += 1;
                expect = Expect::Value;
            }
        }
    }
    out.extend_from_slice(&json[copied..]);
    Ok(changed)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// SWAR: high bit set in each byte of `word` equal to `b` (exact for the
/// lowest such byte, which is all [`find`] uses).
#[inline]
pub(crate) const fn has_byte(word: u64, b: u8) -> u64 {
    has_less(word ^ (LO * b as u64), 1)
}

/// SWAR: high bit set in each byte of `word` below `n` (`n` ≤ 128; exact
/// for the lowest such byte).
#[inline]
pub(crate) const fn has_less(word: u64, n: u8) -> u64 {
    word.wrapping_sub(LO * n as u64) & !word & HI
}

/// Index of the first 8-byte word at or after `from` in which `mask`
/// flags a byte, or of that byte itself: the position of the first flagged
/// byte, or where whole words run out (callers finish byte by byte).
#[inline]
pub(crate) fn find(data: &[u8], from: usize, mask: impl Fn(u64) -> u64) -> usize {
    let rest = data.get(from..).unwrap_or(&[]);
    for (k, chunk) in rest.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = mask(u64::from_le_bytes(word));
        if m != 0 {
            return from + k * 8 + (m.trailing_zeros() / 8) as usize;
        }
    }
    from + rest.len() - rest.len() % 8
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = json.get(i) {
        i += 1;
    }
    i
}

/// `json[start]` is `"`; returns the index after the closing quote and
/// whether the string has escapes.
fn scan_string<E>(json: &[u8], start: usize) -> Result<(usize, bool), ScanError<E>> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        // Hot loop: most bytes are plain text.
        i = find(json, i, |w| {
            has_byte(w, b'"') | has_byte(w, b'\\') | has_less(w, 0x20)
        });
        while let Some(&b) = json.get(i) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            i += 1;
        }
        match json.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                match json.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        let hex = json.get(i + 2..i + 6).ok_or(ScanError::Syntax)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(ScanError::Syntax);
                        }
                        i += 6;
                    }
                    _ => return Err(ScanError::Syntax),
                }
            }
            _ => return Err(ScanError::Syntax),
        }
    }
}

fn scan_number<E>(json: &[u8], start: usize) -> Result<usize, ScanError<E>> {
    let digits = |mut i: usize| {
        let from = i;
        while json.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, i > from)
    };
    let mut i = start;
    if json.get(i) == Some(&b'-') {
        i += 1;
    }
    match json.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i).0,
        _ => return Err(ScanError::Syntax),
    }
    if json.get(i) == Some(&b'.') {
        let (next, any) = digits(i + 1);
        if !any {
            return Err(ScanError::Syntax);
        }
        i = next;
    }
    if let Some(b'e' | b'E') = json.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = json.get(i) {
            i += 1;
        }
        let (next, any) = digits(i);
        if !any {
            return Err(ScanError::Syntax);
        }
        i = next;
    }
    Ok(i)
}

fn literal<E>(json: &[u8], start: usize, word: &[u8]) -> Result<usize, ScanError<E>> {
    if json.get(start..start + word.len()) == Some(word) {
        Ok(start + word.len())
    } else {
        Err(ScanError::Syntax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use core::convert::Infallible;

    fn copy(json: &str) -> Result<String, ScanError<Infallible>> {
        let mut out = Vec::new();
        rewrite(json.as_bytes(), &mut out, |_, _| Ok(None))?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn copies_valid_documents_byte_for_byte() {
        for doc in [
            "{}",
            " [ ] ",
            "0",
            "-1.5e+10",
            "\"a\\u00e9\\n\"",
            "{\"a\" : [1, 2.0, -0, true, false, null, {\"b\":{}}], \"c\":\"\\\"\"}\n",
            "{\"id\":\"resp_1\",\"metadata\":{\"id\":\"resp_2\"}}",
        ] {
            assert_eq!(copy(doc).unwrap(), doc);
        }
    }

    #[test]
    fn rejects_invalid_documents() {
        for doc in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1,]",
            "[1 2]",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}\"",
            "{} {}",
            "{'a':1}",
            "{\"a\":1]",
            "[1}",
        ] {
            assert!(copy(doc).is_err(), "{doc:?}");
        }
    }

    #[test]
    fn limits_depth() {
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(copy(&deep).unwrap(), deep);
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(copy(&deeper), Err(ScanError::TooDeep));
    }

    #[test]
    fn visits_named_keys_with_their_path_and_applies_edits() {
        let doc = r#"{"input":[{"id":"a"},{"type":"x","id":"b","encrypted_content":"E\/F"}],"model":"m","other":"o","\u0069d":"c"}"#;
        let mut seen = vec![];
        let mut out = Vec::new();
        let changed = rewrite(doc.as_bytes(), &mut out, |frames, s| {
            let path: Vec<_> = frames.iter().map(|f| (f.obj, f.key, f.index)).collect();
            let text = s.text().unwrap().to_string();
            seen.push((path, text.clone()));
            Ok::<_, Infallible>(match text.as_str() {
                "a" => Some(Edit::Replace("A1".into())),
                "b" => Some(Edit::Prepend("p.".into())),
                "E/F" => Some(Edit::DropRaw(1)),
                _ => None,
            })
        })
        .unwrap();
        assert!(changed);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"input":[{"id":"A1"},{"type":"x","id":"p.b","encrypted_content":"\/F"}],"model":"m","other":"o","\u0069d":"c"}"#
        );
        assert_eq!(seen.len(), 5);
        assert_eq!(
            seen[1].0,
            vec![
                (true, Key::Input, 0),
                (false, Key::Other, 1),
                (true, Key::Id, 0)
            ]
        );
        assert_eq!(seen[2].1, "E/F");
        assert_eq!(seen[3].0, vec![(true, Key::Model, 0)]);
        assert_eq!(
            seen[4].0,
            vec![(true, Key::Id, 0)],
            "escaped keys are decoded"
        );
    }

    proptest::proptest! {
        #[test]
        fn swar_find_agrees_with_a_byte_loop(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            from in 0usize..70,
        ) {
            let flagged = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
            let mut i = find(&data, from, |w| {
                has_byte(w, b'"') | has_byte(w, b'\\') | has_less(w, 0x20)
            });
            while i < data.len() && !flagged(data[i]) {
                i += 1;
            }
            let naive = (from..data.len())
                .find(|&k| flagged(data[k]))
                .unwrap_or(data.len().max(from));
            proptest::prop_assert_eq!(i, naive);
        }
    }

    #[test]
    fn errors_leave_output_untouched() {
        let mut out = b"keep".to_vec();
        let r = rewrite(br#"{"id":"x"}"#, &mut out, |_, _| Err::<Option<Edit>, _>(7));
        assert_eq!(r, Err(ScanError::Visit(7)));
        assert_eq!(out, b"keep");
    }
}
