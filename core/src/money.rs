//! Money as the gateway writes it: USD amounts in JSON and config, kept as
//! integer micro-USD everywhere else.
//!
//! Part of the base layer: it imports nothing from the rest of the crate.

use alloc::format;
use alloc::string::String;

/// `1234567` micro-USD → `"1.234567"` (trailing zeros trimmed, at least 2 decimals).
pub fn micros_to_usd(micros: u64) -> String {
    let mut text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    while text.ends_with('0') && text.len() > text.find('.').map_or(0, |p| p + 3) {
        text.pop();
    }
    text
}

/// A non-negative USD amount from JSON → micro-USD, or `None` if negative,
/// not finite, or absurdly large.
pub fn usd_to_micros(usd: f64) -> Option<u64> {
    if !usd.is_finite() || !(0.0..=1e12).contains(&usd) {
        return None;
    }
    Some((usd * 1_000_000.0 + 0.5) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_and_micros() {
        assert_eq!(micros_to_usd(1_234_567), "1.234567");
        assert_eq!(micros_to_usd(400_000), "0.40");
        assert_eq!(usd_to_micros(2.5), Some(2_500_000));
        assert_eq!(usd_to_micros(-1.0), None);
    }
}
