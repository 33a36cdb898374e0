//! Deterministic ids, signatures and video bytes (no randomness, so tests can
//! recompute what the mock served).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Size of each chunk of a streamed body.
const CHUNK: usize = 16 * 1024;

/// `200` with `bytes` streamed in 16 KiB chunks (yielding between chunks),
/// with `Content-Type: content_type` and a `Content-Length`.
pub(crate) fn stream_body(bytes: Bytes, content_type: &'static str) -> Response {
    let len = bytes.len();
    let stream = futures_util::stream::unfold(0usize, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            let end = (at + CHUNK).min(bytes.len());
            tokio::task::yield_now().await;
            Some((Ok::<_, Infallible>(bytes.slice(at..end)), end))
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `n` lowercase hex digits derived from `seed`.
pub(crate) fn hex(seed: u64, n: usize) -> String {
    let mut out = String::with_capacity(n + 16);
    let mut state = seed;
    while out.len() < n {
        state = mix(state);
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(n);
    out
}

/// A UUID-shaped (version 4 layout) id derived from `seed`.
pub(crate) fn uuid(seed: u64) -> String {
    let h = hex(seed, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// SplitMix64 step: a good 64-bit mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of `s`, then mixed.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// 12 lowercase alphanumerics derived from `seed` (the shape of Google's
/// operation and file ids).
pub(crate) fn id12(seed: u64) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = mix(seed);
    let mut out = String::with_capacity(12);
    for _ in 0..12 {
        let i = usize::try_from(n % 36).unwrap_or(0);
        out.push(char::from(ALPHABET[i]));
        n /= 36;
    }
    out
}

/// The `sig` query value of a blob URL for `file_id`.
pub(crate) fn signature(file_id: &str, salt: u64) -> String {
    format!("{:016x}", mix(hash_str(file_id) ^ salt))
}

/// A real, playable MP4 (2 s of H.264 test pattern, 320×180, `moov` first):
/// every served video long enough to hold it starts with it.
pub const PLAYABLE_MP4: &[u8] = include_bytes!("fixtures/tiny.mp4");

/// The exact bytes the mock serves for `file_id` when configured with
/// `video_bytes = len`.
///
/// When `len` leaves room (`len >= PLAYABLE_MP4.len() + 8`): [`PLAYABLE_MP4`]
/// (which begins with the 32-byte `ftyp` box below), then a `free` box
/// spanning the rest whose content is a pattern derived from `file_id` — a
/// valid, playable MP4 of exactly `len` bytes, different for every file.
///
/// Shorter lengths: a 32-byte MP4 `ftyp` box (major brand `isom`; brands
/// `isom`, `iso2`, `avc1`, `mp41`), then an `mdat` box header spanning the
/// rest (when at least 8 bytes remain and the size fits in 32 bits), then
/// the pattern; lengths below that truncate this sequence.
pub fn expected_video_bytes(file_id: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let playable = len >= PLAYABLE_MP4.len() + 8;
    if playable {
        out.extend_from_slice(PLAYABLE_MP4);
    } else {
        out.extend_from_slice(&[0, 0, 0, 0x20]);
        out.extend_from_slice(b"ftypisom");
        out.extend_from_slice(&[0, 0, 2, 0]);
        out.extend_from_slice(b"isomiso2avc1mp41");
    }
    let rest = len.saturating_sub(out.len());
    if rest >= 8 {
        if let Ok(size) = u32::try_from(rest) {
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(if playable { b"free" } else { b"mdat" });
        }
    }
    let mut state = hash_str(file_id);
    while out.len() < len {
        state = mix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The exact bytes the OpenAI Videos mock serves for `GET
/// /v1/videos/{video_id}/content?variant=thumbnail` (`image/webp`: a RIFF
/// `WEBP` container header, then a pattern) or `variant=spritesheet`
/// (`image/jpeg`: SOI + JFIF APP0, a pattern, EOI). Any other variant gives
/// an empty vector; `variant=video` is [`expected_video_bytes`]`(video_id,
/// video_bytes)`.
pub fn expected_image_bytes(video_id: &str, variant: &str) -> Vec<u8> {
    let (mut out, len, tail): (Vec<u8>, usize, &[u8]) = match variant {
        "thumbnail" => {
            let len = 2048usize;
            let mut v = Vec::with_capacity(len);
            v.extend_from_slice(b"RIFF");
            v.extend_from_slice(&u32::try_from(len - 8).unwrap_or(0).to_le_bytes());
            v.extend_from_slice(b"WEBPVP8 ");
            v.extend_from_slice(&u32::try_from(len - 20).unwrap_or(0).to_le_bytes());
            (v, len, &[])
        }
        "spritesheet" => {
            let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
            v.extend_from_slice(b"JFIF\0");
            v.extend_from_slice(&[0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
            (v, 8192, &[0xFF, 0xD9])
        }
        _ => return Vec::new(),
    };
    let mut state = hash_str(&format!("{video_id}#{variant}"));
    while out.len() < len - tail.len() {
        state = mix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len - tail.len());
    out.extend_from_slice(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_12_lowercase_alnum() {
        for seed in 0..1000 {
            let id = id12(seed);
            assert_eq!(id.len(), 12);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }
        assert_ne!(id12(1), id12(2));
    }

    #[test]
    fn hex_and_uuid_shapes() {
        assert_eq!(hex(7, 48).len(), 48);
        assert!(hex(7, 48).bytes().all(|b| b.is_ascii_hexdigit()));
        let u = uuid(9);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid(1), uuid(2));
    }

    #[test]
    fn images_have_magic_and_fixed_length() {
        let t = expected_image_bytes("video_1", "thumbnail");
        assert_eq!(t.len(), 2048);
        assert_eq!(&t[0..4], b"RIFF");
        assert_eq!(&t[8..12], b"WEBP");
        let s = expected_image_bytes("video_1", "spritesheet");
        assert_eq!(s.len(), 8192);
        assert_eq!(&s[0..2], &[0xFF, 0xD8]);
        assert_eq!(&s[s.len() - 2..], &[0xFF, 0xD9]);
        assert!(expected_image_bytes("video_1", "video").is_empty());
    }

    #[test]
    fn video_starts_with_ftyp_and_has_requested_length() {
        for len in [0, 5, 32, 39, 40, 41, 100, 65536] {
            let v = expected_video_bytes("abc", len);
            assert_eq!(v.len(), len);
        }
        let v = expected_video_bytes("abc", 100);
        assert_eq!(&v[4..8], b"ftyp");
        assert_eq!(&v[8..12], b"isom");
        assert_eq!(&v[36..40], b"mdat");
        assert_eq!(u32::from_be_bytes([v[32], v[33], v[34], v[35]]), 68);
        assert_ne!(
            expected_video_bytes("abc", 100),
            expected_video_bytes("abd", 100)
        );
    }

    #[test]
    fn long_videos_are_the_playable_mp4_plus_a_free_box() {
        assert_eq!(&PLAYABLE_MP4[4..8], b"ftyp");
        assert_eq!(&PLAYABLE_MP4[36..40], b"moov");
        let len = 64 * 1024;
        let v = expected_video_bytes("abc", len);
        assert_eq!(v.len(), len);
        assert_eq!(&v[..PLAYABLE_MP4.len()], PLAYABLE_MP4);
        let at = PLAYABLE_MP4.len();
        assert_eq!(&v[at + 4..at + 8], b"free");
        let size = u32::from_be_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]]);
        assert_eq!(size as usize, len - at);
        assert_ne!(v, expected_video_bytes("abd", len));
        // Top-level boxes tile the file exactly.
        let mut pos = 0;
        while pos < v.len() {
            let size = u32::from_be_bytes([v[pos], v[pos + 1], v[pos + 2], v[pos + 3]]) as usize;
            assert!(size >= 8, "box at {pos}");
            pos += size;
        }
        assert_eq!(pos, v.len());
    }
}
