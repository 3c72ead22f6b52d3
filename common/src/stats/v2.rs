//! Guarding the HdrHistogram V2 decoder against hostile bytes from the network.

use super::{HISTOGRAM_MAX_US, SIGNIFICANT_DIGITS, StatsError};

/// V2 cookies and header size of the HdrHistogram encoding (see `hdrhistogram::serialization`).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
pub(super) const V2_HEADER_LEN: usize = 40;

/// Checks the V2 header before the decoder sees the bytes.
///
/// The decoder trusts the declared payload length and parameters: it allocates what the header
/// asks for (up to 4 GiB) before reading, and a deflated payload's inner header cannot be seen
/// until it is inflated. So only uncompressed V2 with exactly lv's parameters and a length that
/// matches the input gets through. It also refuses the one varint (a run of 2^63 zeros) that
/// overflows the decoder's negation in debug builds.
pub(super) fn check_v2_header(bytes: &[u8]) -> Result<(), StatsError> {
    let bad = |reason: String| Err(StatsError::BadHistogram { reason });
    let be_u32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let be_u64 = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    let (Some(cookie), Some(payload_len), Some(digits), Some(low), Some(high)) =
        (be_u32(0), be_u32(4), be_u32(12), be_u64(16), be_u64(24))
    else {
        return bad(format!("{} bytes is shorter than a V2 header", bytes.len()));
    };
    if cookie == V2_DEFLATE_COOKIE {
        return bad("compressed (V2 deflate) encoding is not accepted; send plain V2".into());
    }
    if cookie != V2_COOKIE {
        return bad(format!("cookie {cookie:#010x} is not HdrHistogram V2"));
    }
    if (digits, low, high) != (u32::from(SIGNIFICANT_DIGITS), 1, HISTOGRAM_MAX_US) {
        return bad(format!(
            "parameters (low {low}, high {high}, {digits} digits) differ from lv's \
             (low 1, high {HISTOGRAM_MAX_US}, {SIGNIFICANT_DIGITS} digits)"
        ));
    }
    let payload = &bytes[V2_HEADER_LEN.min(bytes.len())..];
    if payload.len() != payload_len as usize {
        return bad(format!(
            "header declares {payload_len} payload bytes but {} follow",
            payload.len()
        ));
    }
    // LEB128-64b9B varints: up to 8 bytes with the high bit set, then a whole ninth byte. Nine
    // 0xff bytes decode to i64::MIN.
    let (mut len, mut all_ff) = (0, true);
    for &byte in payload {
        len += 1;
        all_ff &= byte == 0xff;
        if len == 9 && all_ff {
            return bad("payload holds an impossible zero run".into());
        }
        if len == 9 || byte & 0x80 == 0 {
            (len, all_ff) = (0, true);
        }
    }
    Ok(())
}
