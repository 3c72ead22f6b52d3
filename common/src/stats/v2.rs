//! HdrHistogram's V2 encoding, read straight into nonzero buckets and written straight from
//! the counts; and its compressed form (cookie `0x1c849314`, the V2 bytes zlib-deflated, as
//! `V2DeflateSerializer` writes them), which report files use so that any HdrHistogram
//! library reads them. Workers and the master exchange plain V2.
//!
//! The bytes are checked and walked here rather than handed to `hdrhistogram`'s decoder, which
//! allocates and zeroes a full histogram (184 KiB with lv's bounds) for each one. The walk
//! accepts and refuses exactly what that decoder did behind the header checks below, and
//! yields the same counters; the writer gives the bytes `V2Serializer` gives (the tests
//! compare both with `hdrhistogram`, on real and on mangled bytes).

use std::borrow::Cow;
use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::counts::{BUCKETS, Bucket, Counts};
use super::error::StatsError;
use super::layout::{HISTOGRAM_MAX_US, SIGNIFICANT_DIGITS};

/// V2 cookies and header size of the HdrHistogram encoding (see `hdrhistogram::serialization`).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
pub(super) const V2_HEADER_LEN: usize = 40;
/// Header of the compressed form: cookie and the length of the zlib stream that follows.
const DEFLATE_HEADER_LEN: usize = 8;
/// The longest plain V2 encoding of an lv histogram (9 bytes a counter at most): the cap on
/// what a compressed histogram may inflate to.
const MAX_PLAIN_LEN: usize = V2_HEADER_LEN + BUCKETS * 9;

/// The counts held by V2 bytes.
#[derive(Debug)]
pub(super) struct Decoded {
    /// Nonzero counters, indexes rising.
    pub(super) buckets: Vec<Bucket>,
    /// Sum of the counts (saturating, as the decoder's).
    pub(super) total: u64,
}

fn bad<T>(reason: impl Into<String>) -> Result<T, StatsError> {
    Err(StatsError::BadHistogram {
        reason: reason.into(),
    })
}

/// Checks V2 bytes and returns their nonzero counters.
///
/// Only uncompressed V2 with exactly lv's parameters and a payload length that matches the
/// input is accepted: a deflated payload could not be checked before inflating it, and a
/// declared length is never trusted for an allocation.
pub(super) fn decode_v2(bytes: &[u8]) -> Result<Decoded, StatsError> {
    check_v2_header(bytes)?;
    let payload = &bytes[V2_HEADER_LEN..];
    // At most 9 bytes a counter: anything longer is not an lv histogram (and would make the
    // slots below needlessly large).
    if payload.len() > BUCKETS * 9 {
        return bad(format!(
            "{} payload bytes is more than any histogram of {BUCKETS} counters needs",
            payload.len()
        ));
    }
    // Each nonzero count takes at least one byte, so one slot per byte is always enough. A
    // slot is written for every number and kept only for a nonzero count: a branch there
    // would be mispredicted about every other number.
    let mut buckets = vec![Bucket { index: 0, count: 0 }; payload.len()];
    // `index` is the next counter; `last` the counter of the last nonzero count.
    let (mut kept, mut index, mut last, mut total) = (0, 0usize, 0usize, 0u64);
    let mut numbers = payload.iter();
    while let Some(&first) = numbers.next() {
        // Counts and zero runs below 64 take one byte: the common case.
        let zig_zag = if first < 0x80 {
            u64::from(first)
        } else {
            match read_varint_tail(first, &mut numbers) {
                Some(number) => number,
                None => return bad("the payload ends inside a number"),
            }
        };
        if zig_zag == u64::MAX {
            // Nine 0xff bytes: a run of 2^63 zeros, which the decoder could not negate.
            return bad("payload holds an impossible zero run");
        }
        // Zig-zag: an even number 2n is a count of n, an odd one 2n + 1 a run of n + 1 zeros.
        let (half, is_run) = (zig_zag >> 1, zig_zag & 1);
        let count = half & is_run.wrapping_sub(1);
        // Indexes only rise, so checking the last one (below) checks them all.
        buckets[kept] = Bucket {
            index: index as u32,
            count,
        };
        kept += usize::from(count != 0);
        last = if count != 0 { index } else { last };
        total = total.saturating_add(count);
        let step = usize::try_from(half * is_run + 1)
            .or_else(|_| bad("a zero run is too long for this machine"))?;
        let Some(next) = index.checked_add(step) else {
            return bad("zero runs overflow the counter index");
        };
        index = next;
    }
    buckets.truncate(kept);
    buckets.shrink_to_fit();
    if kept > 0 && last >= BUCKETS {
        return bad(format!(
            "a count for counter {last} lies beyond the {BUCKETS} of lv's histogram"
        ));
    }
    Ok(Decoded { buckets, total })
}

/// The V2 bytes of `counts`, as `hdrhistogram`'s `V2Serializer` writes them: the counters
/// from the first up to the last nonzero one (at least one), a run of two or more zeros as one
/// negative number. A count above `i64::MAX`, which that serializer refuses, is written as
/// `i64::MAX`.
pub(super) fn encode_v2(counts: &Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(V2_HEADER_LEN + 64);
    out.extend(V2_COOKIE.to_be_bytes());
    out.extend(0u32.to_be_bytes()); // payload length, set below
    out.extend(0u32.to_be_bytes()); // normalizing offset
    out.extend(u32::from(SIGNIFICANT_DIGITS).to_be_bytes());
    out.extend(1u64.to_be_bytes());
    out.extend(HISTOGRAM_MAX_US.to_be_bytes());
    out.extend(1f64.to_be_bytes());
    let mut next = 0;
    counts.for_each_nonzero(|index, count| {
        match index - next {
            0 => {}
            1 => out.push(0),
            zeros => write_varint(&mut out, zig_zag(-(zeros as i64))),
        }
        write_varint(&mut out, zig_zag(count.min(i64::MAX as u64) as i64));
        next = index + 1;
    });
    if next == 0 {
        out.push(0); // no sample: the first counter, 0
    }
    let payload_len = u32::try_from(out.len() - V2_HEADER_LEN).expect("at most 9 bytes a counter");
    out[4..8].copy_from_slice(&payload_len.to_be_bytes());
    out
}

/// `plain` V2 bytes in HdrHistogram's compressed form, byte for byte what
/// `V2DeflateSerializer` writes: the cookie `0x1c849314`, the length of the zlib stream, then
/// the zlib stream (default level) of the plain bytes.
pub fn deflate_v2(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DEFLATE_HEADER_LEN + plain.len() / 2);
    out.extend(V2_DEFLATE_COOKIE.to_be_bytes());
    out.extend(0u32.to_be_bytes()); // stream length, set below
    let mut encoder = ZlibEncoder::new(out, Compression::default());
    // Writing into a Vec cannot fail.
    let written = encoder.write_all(plain).and_then(|()| encoder.finish());
    let mut out = written.expect("zlib into a Vec cannot fail");
    let stream_len = u32::try_from(out.len() - DEFLATE_HEADER_LEN)
        .expect("a histogram's zlib stream is far below 4 GiB");
    out[4..8].copy_from_slice(&stream_len.to_be_bytes());
    out
}

/// The plain V2 bytes of a histogram in either form: plain V2 as it is, compressed V2
/// inflated. The declared stream length must match the input and the inflated bytes may not
/// exceed what any lv histogram needs, so a hostile header cannot make this allocate more
/// than that. The result is checked in full when it is decoded.
pub fn inflate_v2(bytes: &[u8]) -> Result<Cow<'_, [u8]>, StatsError> {
    let be_u32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    if be_u32(0) != Some(V2_DEFLATE_COOKIE) {
        return Ok(Cow::Borrowed(bytes));
    }
    let Some(declared) = be_u32(4) else {
        return bad(format!(
            "{} bytes is shorter than a compressed V2 header",
            bytes.len()
        ));
    };
    let stream = &bytes[DEFLATE_HEADER_LEN..];
    if stream.len() != declared as usize {
        return bad(format!(
            "header declares a {declared}-byte compressed stream but {} bytes follow",
            stream.len()
        ));
    }
    let mut plain = Vec::new();
    ZlibDecoder::new(stream)
        .take(MAX_PLAIN_LEN as u64 + 1)
        .read_to_end(&mut plain)
        .or_else(|err| bad(format!("the compressed stream does not inflate: {err}")))?;
    if plain.len() > MAX_PLAIN_LEN {
        return bad(format!(
            "the compressed stream inflates to more than the {MAX_PLAIN_LEN} bytes any lv \
             histogram needs"
        ));
    }
    Ok(Cow::Owned(plain))
}

fn zig_zag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Writes `value` as LEB128-64b9B (see [`read_varint_tail`]).
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    for _ in 0..8 {
        if value < 0x80 {
            out.push(value as u8);
            return;
        }
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The rest of a LEB128-64b9B number whose first byte, `first`, has its high bit set: up to 8
/// bytes of 7 bits with the high bit set, then a whole ninth byte. `None` when the bytes end
/// first.
fn read_varint_tail(first: u8, rest: &mut std::slice::Iter<'_, u8>) -> Option<u64> {
    let mut value = u64::from(first & 0x7f);
    for shift in (7..57).step_by(7) {
        let byte = *rest.next()?;
        if shift == 56 {
            return Some(value | u64::from(byte) << 56);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    unreachable!("the ninth byte returns")
}

/// Checks the V2 header: cookie, lv's parameters, no unsupported feature, and a declared
/// payload length equal to what follows.
fn check_v2_header(bytes: &[u8]) -> Result<(), StatsError> {
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
    let cookie = be_u32(0);
    if cookie == Some(V2_DEFLATE_COOKIE) {
        return bad("compressed V2 is for files; the wire carries plain V2 (inflate it first)");
    }
    let (Some(cookie), Some(payload_len), Some(offset), Some(digits), Some(low), Some(high)) = (
        cookie,
        be_u32(4),
        be_u32(8),
        be_u32(12),
        be_u64(16),
        be_u64(24),
    ) else {
        return bad(format!("{} bytes is shorter than a V2 header", bytes.len()));
    };
    let Some(ratio) = be_u64(32).map(f64::from_bits) else {
        return bad(format!("{} bytes is shorter than a V2 header", bytes.len()));
    };
    if cookie != V2_COOKIE {
        return bad(format!("cookie {cookie:#010x} is not HdrHistogram V2"));
    }
    if (digits, low, high) != (u32::from(SIGNIFICANT_DIGITS), 1, HISTOGRAM_MAX_US) {
        return bad(format!(
            "parameters (low {low}, high {high}, {digits} digits) differ from lv's \
             (low 1, high {HISTOGRAM_MAX_US}, {SIGNIFICANT_DIGITS} digits)"
        ));
    }
    if offset != 0 || ratio != 1.0 {
        return bad(format!(
            "normalizing offset {offset} and integer-to-double ratio {ratio} are not \
             supported (0 and 1 are)"
        ));
    }
    let payload = &bytes[V2_HEADER_LEN..];
    if payload.len() != payload_len as usize {
        return bad(format!(
            "header declares {payload_len} payload bytes but {} follow",
            payload.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
