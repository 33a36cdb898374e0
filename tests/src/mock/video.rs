//! Deterministic ids, signatures and video bytes (no randomness, so tests can
//! recompute what the mock served).

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

/// The exact bytes the mock serves for `file_id` when configured with
/// `video_bytes = len`.
///
/// Layout: a 32-byte MP4 `ftyp` box (major brand `isom`; brands `isom`,
/// `iso2`, `avc1`, `mp41`), then an `mdat` box header spanning the rest (when
/// at least 8 bytes remain and the size fits in 32 bits), then a pattern
/// derived from `file_id`. Shorter lengths truncate this sequence.
pub fn expected_video_bytes(file_id: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[0, 0, 0, 0x20]);
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&[0, 0, 2, 0]);
    out.extend_from_slice(b"isomiso2avc1mp41");
    let rest = len.saturating_sub(out.len());
    if rest >= 8 {
        if let Ok(size) = u32::try_from(rest) {
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(b"mdat");
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
}
