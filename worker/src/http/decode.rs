//! Response bodies as checks see them: `Content-Encoding` gzip, deflate and br decoded
//! while the body arrives, the decoded bytes counted in full and kept up to
//! [`MAX_KEPT_BODY`], and a decoded size above a cap (a decompression bomb) turned into an
//! error for that request alone (the rest of the body is still read, so the connection
//! stays usable). A body without a known encoding goes through untouched, at the cost of
//! one copy into the kept bytes, as before decoding existed.

use std::io::{self, Write};

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::request::MAX_KEPT_BODY;

/// Most decoded bytes accepted from one compressed body.
pub const MAX_DECODED_BODY: u64 = 64 << 20;

/// The `Content-Encoding` lv decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Encoding {
    /// None, or one lv does not decode (the body is passed through as it came).
    #[default]
    Identity,
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate`: zlib-wrapped as RFC 9110 says, or raw as some servers send it.
    Deflate,
    /// `br`.
    Brotli,
}

impl Encoding {
    /// The encoding a `Content-Encoding` value names; a list of several (`gzip, br`) or an
    /// unknown one is passed through undecoded.
    pub fn from_header(value: &[u8]) -> Encoding {
        let token = value.trim_ascii();
        if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
            Encoding::Gzip
        } else if token.eq_ignore_ascii_case(b"deflate") {
            Encoding::Deflate
        } else if token.eq_ignore_ascii_case(b"br") {
            Encoding::Brotli
        } else {
            Encoding::Identity
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Brotli => "br",
        }
    }
}

/// Decoded bytes: all counted, the first [`MAX_KEPT_BODY`] kept when asked, more than
/// `cap` refused.
#[derive(Debug)]
pub(super) struct Decoded {
    /// Keep bytes for checks.
    keep: bool,
    /// Bytes seen.
    pub total: u64,
    /// The kept bytes.
    pub kept: Vec<u8>,
    /// Most bytes accepted.
    cap: u64,
    /// The cap was passed.
    over: bool,
}

impl Write for Decoded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.total += data.len() as u64;
        if self.total > self.cap {
            self.over = true;
            return Err(io::Error::other("decoded body too large"));
        }
        if self.keep {
            let room = MAX_KEPT_BODY.saturating_sub(self.kept.len());
            self.kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a response body goes as it arrives.
pub(super) enum Sink {
    /// Not encoded: bytes are counted and kept as they are.
    Plain(Decoded),
    /// `deflate` until its first two bytes tell zlib from raw.
    Sniffing(Vec<u8>, Decoded),
    /// gzip.
    Gzip(GzDecoder<Decoded>),
    /// zlib-wrapped deflate.
    Zlib(ZlibDecoder<Decoded>),
    /// Raw deflate.
    Raw(DeflateDecoder<Decoded>),
    /// br (boxed: its state is large).
    Brotli(Box<brotli::DecompressorWriter<Decoded>>),
    /// Decoding failed: the rest of the body is read and dropped.
    Failed(String),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// Size of brotli's output buffer.
const BROTLI_BUFFER: usize = 8 * 1024;

impl Sink {
    /// A sink for a body in `encoding`, keeping decoded bytes when `keep`, refusing more
    /// than `cap` decoded bytes.
    pub fn new(encoding: Encoding, keep: bool, cap: u64) -> Sink {
        let out = |cap| Decoded {
            keep,
            total: 0,
            kept: Vec::new(),
            cap,
            over: false,
        };
        match encoding {
            Encoding::Identity => Sink::Plain(out(u64::MAX)),
            Encoding::Gzip => Sink::Gzip(GzDecoder::new(out(cap))),
            Encoding::Deflate => Sink::Sniffing(Vec::new(), out(cap)),
            Encoding::Brotli => Sink::Brotli(Box::new(brotli::DecompressorWriter::new(
                out(cap),
                BROTLI_BUFFER,
            ))),
        }
    }

    /// Takes the next body bytes.
    pub fn push(&mut self, data: &[u8]) {
        let written = match self {
            Sink::Plain(out) => out.write_all(data),
            Sink::Failed(_) => Ok(()),
            Sink::Sniffing(pending, _) => {
                pending.extend_from_slice(data);
                if pending.len() < 2 {
                    return;
                }
                let Sink::Sniffing(pending, out) =
                    std::mem::replace(self, Sink::Failed(String::new()))
                else {
                    return;
                };
                *self = if is_zlib(pending[0], pending[1]) {
                    Sink::Zlib(ZlibDecoder::new(out))
                } else {
                    Sink::Raw(DeflateDecoder::new(out))
                };
                return self.push(&pending);
            }
            Sink::Gzip(d) => d.write_all(data),
            Sink::Zlib(d) => d.write_all(data),
            Sink::Raw(d) => d.write_all(data),
            Sink::Brotli(d) => d.write_all(data),
        };
        if let Err(err) = written {
            *self = Sink::Failed(self.explain(&err));
        }
    }

    /// The decoded body, or why it could not be decoded.
    pub fn finish(self) -> Result<Decoded, String> {
        let encoding = self.encoding();
        let finished = match self {
            Sink::Plain(out) => return Ok(out),
            Sink::Failed(message) => return Err(message),
            Sink::Sniffing(pending, out) if pending.is_empty() => return Ok(out),
            Sink::Sniffing(..) => Err(io::Error::other("body ends after one byte")),
            Sink::Gzip(d) => d.finish(),
            Sink::Zlib(d) => d.finish(),
            Sink::Raw(d) => d.finish(),
            Sink::Brotli(d) => d
                .into_inner()
                .map_err(|_| io::Error::other("truncated or corrupt")),
        };
        finished.map_err(|e| format!("cannot decode the {} body: {e}", encoding.name()))
    }

    fn encoding(&self) -> Encoding {
        match self {
            Sink::Plain(_) | Sink::Failed(_) => Encoding::Identity,
            Sink::Gzip(_) => Encoding::Gzip,
            Sink::Sniffing(..) | Sink::Zlib(_) | Sink::Raw(_) => Encoding::Deflate,
            Sink::Brotli(_) => Encoding::Brotli,
        }
    }

    fn out(&self) -> Option<&Decoded> {
        match self {
            Sink::Plain(out) | Sink::Sniffing(_, out) => Some(out),
            Sink::Gzip(d) => Some(d.get_ref()),
            Sink::Zlib(d) => Some(d.get_ref()),
            Sink::Raw(d) => Some(d.get_ref()),
            Sink::Brotli(d) => Some(d.get_ref()),
            Sink::Failed(_) => None,
        }
    }

    fn explain(&self, err: &io::Error) -> String {
        let encoding = self.encoding().name();
        match self.out() {
            Some(out) if out.over => format!(
                "the {encoding} body decodes to more than {} MiB (a decompression bomb?); lv stops decoding there",
                out.cap >> 20
            ),
            _ => format!("cannot decode the {encoding} body: {err}"),
        }
    }
}

/// True when two bytes open a zlib stream (RFC 1950: deflate method, checksum of 31).
fn is_zlib(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

#[cfg(test)]
mod tests;
