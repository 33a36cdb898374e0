//! Incremental sealing of a Responses API SSE stream (`stream: true`).
//!
//! [`SseRewriter`] takes the upstream body in chunks split anywhere (mid
//! line, mid UTF-8 sequence, between `\r` and `\n`) and writes the client
//! body. It frames events as the SSE spec does (lines end in `\r\n`, `\n` or
//! `\r`; a blank line ends an event) and buffers only the event in progress,
//! never the stream.
//!
//! Each complete event is then either
//! - **copied byte for byte**, when its bytes contain none of `"resp_`,
//!   `"rs_`, `"cmp_`, `"conv_`, `"encrypted_content"` (the cheap pre-check
//!   that lets the many `response.output_text.delta` events through without
//!   parsing; it looks only at the bytes around each `_`), when it has no
//!   `data:` field, or when its data is not JSON (`[DONE]`); or
//! - **rewritten**: the `data:` lines are joined with `\n` (as a client
//!   would), sealed by the same rule as JSON bodies (see the parent
//!   module), and written back into the same lines. Field
//!   names, `event:`/`id:` lines, comments, the space after `data:` and the
//!   line endings are kept; only the sealed string values change.
//!
//! Output depends only on the bytes, never on how they were chunked.
//!
//! **Bound.** An event longer than the limit (default
//! [`DEFAULT_MAX_EVENT_BYTES`]) is handled per [`Overflow`]: by default the
//! rewriter fails with [`ResponsesError::EventTooLarge`] (nothing of that
//! event is written, so no unsealed id ever reaches the client; the host
//! should end the stream with [`sse_error_event`]); with
//! [`Overflow::PassThrough`] the event is streamed through unchanged and
//! counted in [`SseRewriter::passed_through`].

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::convert::Infallible;

use super::marker::Sealing;
use super::outbound::seal_value;
use super::scan::{self, find, has_byte};
use super::ResponsesError;
use crate::errors::ClientError;
use crate::redact::Redactor;
use crate::seal::{Keys, Owner};

/// Default limit on the size of one SSE event (8 MiB: a `response.completed`
/// that repeats a few generated images still fits).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 << 20;

/// What to do with an event longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Fail the stream with [`ResponsesError::EventTooLarge`].
    Error,
    /// Stream the event through unchanged (its ids stay unsealed, so
    /// follow-ups that use them are rejected) and count it.
    PassThrough,
}

/// The per-event half of the rewriter (separate from the buffer so events
/// can be written while the buffer is borrowed).
struct Events {
    sealing: Sealing,
    max_event: usize,
    overflow: Overflow,
    /// Streaming an oversize event through.
    passing: bool,
    passed_through: u32,
    /// What events carrying an `error` are cleaned of.
    redactor: Redactor,
}

/// Incremental SSE rewriter for one upstream stream; see the module doc.
pub struct SseRewriter {
    events: Events,
    /// The event in progress (its first bytes, up to what has arrived).
    buf: Vec<u8>,
    /// How much of `buf` has been scanned for line ends.
    scanned: usize,
    /// The line being scanned has no bytes yet.
    line_empty: bool,
    failed: Option<ResponsesError>,
}

impl core::fmt::Debug for SseRewriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SseRewriter")
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl SseRewriter {
    /// A rewriter sealing for the key `owner`, whose stream `deployment` serves.
    pub fn new(sealer: &Keys, owner: &Owner, deployment: &str) -> Self {
        Self {
            events: Events {
                sealing: Sealing::new(sealer, owner, deployment),
                max_event: DEFAULT_MAX_EVENT_BYTES,
                overflow: Overflow::Error,
                passing: false,
                passed_through: 0,
                redactor: Redactor::new(),
            },
            buf: Vec::new(),
            scanned: 0,
            line_empty: true,
            failed: None,
        }
    }

    /// Sets the event size limit and what to do beyond it.
    #[must_use]
    pub fn with_limit(mut self, max_event_bytes: usize, overflow: Overflow) -> Self {
        self.events.max_event = max_event_bytes.max(1);
        self.events.overflow = overflow;
        self
    }

    /// Removes the secrets `redactor` knows (and secret-shaped runs) from
    /// every event that carries an `error` (an `error` event, a
    /// `response.failed`) before it is written.
    #[must_use]
    pub fn redacting(mut self, redactor: Redactor) -> Self {
        self.events.redactor = redactor;
        self
    }

    /// How many oversize events went through unchanged ([`Overflow::PassThrough`]).
    pub fn passed_through(&self) -> u32 {
        self.events.passed_through
    }

    /// Bytes held for the event in progress.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds the next upstream chunk; appends what can be sent to `out`.
    ///
    /// # Errors
    /// [`ResponsesError::EventTooLarge`] (with [`Overflow::Error`]); the
    /// rewriter then stays failed and writes nothing more.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), ResponsesError> {
        self.run(chunk, out, false)
    }

    /// Ends the stream: writes the event in progress, if any (a stream that
    /// ends without a blank line still has its last event sealed).
    ///
    /// # Errors
    /// As [`SseRewriter::push`].
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), ResponsesError> {
        self.run(&[], out, true)?;
        let rest = core::mem::take(&mut self.buf);
        if !rest.is_empty() {
            let result = self.events.event(&rest, out);
            self.fail_on(result)?;
        }
        self.scanned = 0;
        self.line_empty = true;
        self.events.passing = false;
        Ok(())
    }

    fn fail_on(&mut self, result: Result<(), ResponsesError>) -> Result<(), ResponsesError> {
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.buf = Vec::new();
        }
        result
    }

    fn run(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        finishing: bool,
    ) -> Result<(), ResponsesError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = if self.buf.is_empty() {
            // Events wholly inside `chunk` are handled from it, uncopied.
            let mut pos = 0;
            let r = frame(
                &mut self.events,
                chunk,
                &mut pos,
                &mut self.line_empty,
                finishing,
                out,
            );
            if let Ok(start) = r {
                self.buf.extend_from_slice(&chunk[start..]);
                self.scanned = pos - start;
            }
            r.map(drop)
        } else {
            self.buf.extend_from_slice(chunk);
            let mut pos = self.scanned;
            let r = frame(
                &mut self.events,
                &self.buf,
                &mut pos,
                &mut self.line_empty,
                finishing,
                out,
            );
            if let Ok(start) = r {
                self.buf.drain(..start);
                self.scanned = pos - start;
            }
            r.map(drop)
        };
        self.fail_on(result)
    }
}

/// Frames and handles the events in `data[*pos..]`; returns where the
/// unfinished event starts (everything before it has been written).
fn frame(
    events: &mut Events,
    data: &[u8],
    pos: &mut usize,
    line_empty: &mut bool,
    finishing: bool,
    out: &mut Vec<u8>,
) -> Result<usize, ResponsesError> {
    let mut start = 0;
    while let Some(end) = next_event_end(data, pos, line_empty, finishing) {
        if events.passing {
            out.extend_from_slice(&data[start..end]);
            events.passing = false;
        } else {
            events.event(&data[start..end], out)?;
        }
        start = end;
    }
    if events.passing {
        // Stream the oversize event on as it arrives.
        out.extend_from_slice(&data[start..*pos]);
        start = *pos;
    } else if data.len() - start > events.max_event {
        events.overflowed(&data[start..*pos], out)?;
        start = *pos;
        events.passing = true;
    }
    Ok(start)
}

/// Advances `*pos` to the end of the next event (just past the terminator
/// of its blank line) and returns it; `None` when `data` ends first. A `\r`
/// at the very end is left unscanned until the next byte shows whether it
/// is half of `\r\n` (or `finishing` says no byte will come).
fn next_event_end(
    data: &[u8],
    pos: &mut usize,
    line_empty: &mut bool,
    finishing: bool,
) -> Option<usize> {
    let mut i = *pos;
    while i < data.len() {
        let b = data[i];
        if b != b'\n' && b != b'\r' {
            *line_empty = false;
            i = find(data, i + 1, |w| has_byte(w, b'\n') | has_byte(w, b'\r'));
            while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
                i += 1;
            }
            continue;
        }
        let terminator = match (b, data.get(i + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r', None) if !finishing => {
                *pos = i;
                return None;
            }
            _ => 1,
        };
        i += terminator;
        if *line_empty {
            *pos = i;
            return Some(i);
        }
        *line_empty = true;
    }
    *pos = i;
    None
}

impl Events {
    /// Writes one event (complete, or the unterminated last one), sealed,
    /// then redacted if it carries an error.
    fn event(&mut self, event: &[u8], out: &mut Vec<u8>) -> Result<(), ResponsesError> {
        let mark = out.len();
        self.sealed_event(event, out)?;
        let written = &out[mark..];
        if written.windows(7).any(|w| w == b"\"error\"") {
            if let Ok(text) = core::str::from_utf8(written) {
                let clean = self.redactor.redact(text);
                if clean != text {
                    out.truncate(mark);
                    out.extend_from_slice(clean.as_bytes());
                }
            }
        }
        Ok(())
    }

    fn sealed_event(&mut self, event: &[u8], out: &mut Vec<u8>) -> Result<(), ResponsesError> {
        if event.len() > self.max_event {
            return self.overflowed(event, out);
        }
        if !needs_rewrite(event) {
            out.extend_from_slice(event);
            return Ok(());
        }
        let ranges = data_ranges(event);
        let mark = out.len();
        let rewritten = match ranges.as_slice() {
            [] => false,
            [(from, to)] => {
                out.extend_from_slice(&event[..*from]);
                let ok = self.seal_json(&event[*from..*to], out);
                out.extend_from_slice(&event[*to..]);
                ok
            }
            _ => self.multi_line(event, &ranges, out),
        };
        if !rewritten {
            out.truncate(mark);
            out.extend_from_slice(event);
        }
        Ok(())
    }

    fn seal_json(&mut self, json: &[u8], out: &mut Vec<u8>) -> bool {
        let sealing = &mut self.sealing;
        scan::rewrite(json, out, |frames, s| {
            Ok::<_, Infallible>(seal_value(sealing, frames, s))
        })
        .is_ok()
    }

    /// Data split over several `data:` lines: seal the joined payload, then
    /// put its lines back where the original ones were.
    fn multi_line(&mut self, event: &[u8], ranges: &[(usize, usize)], out: &mut Vec<u8>) -> bool {
        let mut joined = Vec::new();
        for (n, (from, to)) in ranges.iter().enumerate() {
            if n > 0 {
                joined.push(b'\n');
            }
            joined.extend_from_slice(&event[*from..*to]);
        }
        let mut sealed = Vec::with_capacity(joined.len() + 256);
        if !self.seal_json(&joined, &mut sealed) {
            return false;
        }
        // Sealing never adds or removes a raw newline (JSON strings cannot
        // hold one), so the line count is unchanged.
        let lines: Vec<&[u8]> = sealed.split(|&b| b == b'\n').collect();
        if lines.len() != ranges.len() {
            return false;
        }
        let mut copied = 0;
        for ((from, to), line) in ranges.iter().zip(lines) {
            out.extend_from_slice(&event[copied..*from]);
            out.extend_from_slice(line);
            copied = *to;
        }
        out.extend_from_slice(&event[copied..]);
        true
    }

    fn overflowed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ResponsesError> {
        match self.overflow {
            Overflow::Error => Err(ResponsesError::EventTooLarge {
                limit: self.max_event,
            }),
            Overflow::PassThrough => {
                self.passed_through += 1;
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

/// The pre-check: could this event hold something to seal? Every needle
/// (`"resp_`, `"rs_`, `"cmp_`, `"conv_`, `"encrypted_content"`) has an
/// `_`, which is rarer than `"` in a delta event, so candidates are the
/// underscores, checked backwards from the byte before them.
fn needs_rewrite(event: &[u8]) -> bool {
    let ends_with = |j: usize, tail: &[u8]| j >= tail.len() && &event[j - tail.len()..j] == tail;
    let mut j = 0;
    loop {
        j = find(event, j, |w| has_byte(w, b'_'));
        while j < event.len() && event[j] != b'_' {
            j += 1;
        }
        if j >= event.len() {
            return false;
        }
        let hit = match j.checked_sub(1).map(|k| event[k]) {
            Some(b'p') => ends_with(j, b"\"resp") || ends_with(j, b"\"cmp"),
            Some(b's') => ends_with(j, b"\"rs"),
            Some(b'v') => ends_with(j, b"\"conv"),
            Some(b'd') => ends_with(j, b"\"encrypted") && event[j + 1..].starts_with(b"content\""),
            _ => false,
        };
        if hit {
            return true;
        }
        j += 1;
    }
}

/// The value ranges of the event's `data` fields (after `data:` and one
/// optional space, up to the line end).
fn data_ranges(event: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < event.len() {
        let end = event[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(event.len(), |off| start + off);
        let line = &event[start..end];
        if let Some(rest) = line.strip_prefix(b"data") {
            match rest {
                [] => ranges.push((end, end)),
                [b':', b' ', ..] => ranges.push((start + 6, end)),
                [b':', ..] => ranges.push((start + 5, end)),
                _ => {}
            }
        }
        start = match (event.get(end), event.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => end + 2,
            _ => end + 1,
        };
    }
    ranges
}

/// An SSE `error` event for `err`, in the Responses API's streaming shape
/// (`{"type":"error","code","message","param"}`), to end a stream the
/// rewriter failed on.
pub fn sse_error_event(err: &ClientError) -> Vec<u8> {
    let data = serde_json::json!({
        "type": "error",
        "code": err.code.as_str(),
        "message": err.message,
        "param": err.param,
    });
    let mut event = String::from("event: error\ndata: ");
    event.push_str(&data.to_string());
    event.push_str("\n\n");
    event.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_check_finds_every_needle_and_nothing_else() {
        for hit in [
            &br#"{"id":"resp_1"}"#[..],
            br#"{"item_id":"rs_1"}"#,
            br#"{"id":"cmp_1"}"#,
            br#"{"id":"conv_1"}"#,
            br#"{"encrypted_content":null}"#,
            br#"x"rs_"#,
        ] {
            assert!(needs_rewrite(hit), "{}", String::from_utf8_lossy(hit));
        }
        for miss in [
            &br#"{"item_id":"msg_1","output_index":1,"delta":"users_ and resp_ and xrs_"}"#[..],
            br#"{"include":["reasoning.encrypted_content"]}"#,
            br#"{"encrypted_contents":1}"#,
            b"_",
            b"",
            br#""resp"#,
        ] {
            assert!(!needs_rewrite(miss), "{}", String::from_utf8_lossy(miss));
        }
    }

    #[test]
    fn data_fields_are_found_with_and_without_the_space() {
        let event = b"event: x\r\ndata: a\ndata:b\rdata\r\ndatum: c\n\n";
        let ranges = data_ranges(event);
        let values: Vec<&[u8]> = ranges.iter().map(|&(a, b)| &event[a..b]).collect();
        assert_eq!(values, [&b"a"[..], b"b", b""]);
    }
}
