use std::io::Write;

use super::*;

const TEXT: &[u8] =
    br#"{"status":"healthy","agent":"ATLAS","padding":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("zlib");
    e.finish().expect("zlib")
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = ::brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        e.write_all(data).expect("br");
    }
    out
}

/// Decodes `encoded` pushed in pieces of `step` bytes.
fn decode(encoding: Encoding, encoded: &[u8], step: usize, cap: u64) -> Result<Decoded, String> {
    let mut sink = Sink::new(encoding, true, cap);
    for piece in encoded.chunks(step.max(1)) {
        sink.push(piece);
    }
    sink.finish()
}

#[test]
fn content_encoding_names() {
    assert_eq!(Encoding::from_header(b"gzip"), Encoding::Gzip);
    assert_eq!(Encoding::from_header(b" X-GZIP "), Encoding::Gzip);
    assert_eq!(Encoding::from_header(b"deflate"), Encoding::Deflate);
    assert_eq!(Encoding::from_header(b"br"), Encoding::Brotli);
    assert_eq!(Encoding::from_header(b"identity"), Encoding::Identity);
    assert_eq!(Encoding::from_header(b"gzip, br"), Encoding::Identity);
    assert_eq!(Encoding::from_header(b"zstd"), Encoding::Identity);
}

#[test]
fn every_encoding_decodes_in_any_piece_size() {
    let cases = [
        (Encoding::Gzip, gzip(TEXT)),
        (Encoding::Deflate, zlib(TEXT)),
        (Encoding::Deflate, raw_deflate(TEXT)),
        (Encoding::Brotli, brotli(TEXT)),
        (Encoding::Identity, TEXT.to_vec()),
    ];
    for (encoding, encoded) in &cases {
        for step in [1, 2, 3, 7, 64, encoded.len()] {
            let decoded = decode(*encoding, encoded, step, MAX_DECODED_BODY)
                .unwrap_or_else(|e| panic!("{encoding:?} in pieces of {step}: {e}"));
            assert_eq!(decoded.kept, TEXT, "{encoding:?} in pieces of {step}");
            assert_eq!(decoded.total, TEXT.len() as u64);
        }
    }
}

#[test]
fn a_bomb_stops_at_the_cap_with_a_clear_error() {
    let bomb = gzip(&vec![0u8; 3 << 20]);
    assert!(bomb.len() < 10_000, "{} bytes", bomb.len());
    let err = decode(Encoding::Gzip, &bomb, 4096, 1 << 20).expect_err("over the cap");
    assert_eq!(
        err,
        "the gzip body decodes to more than 1 MiB (a decompression bomb?); lv stops decoding there"
    );
    let fits = decode(Encoding::Gzip, &bomb, 4096, 4 << 20).expect("under the cap");
    assert_eq!(fits.total, 3 << 20);
    assert_eq!(fits.kept.len(), MAX_KEPT_BODY);
}

#[test]
fn corrupt_and_truncated_bodies_are_named() {
    let err = decode(Encoding::Gzip, b"not gzip at all", 4, MAX_DECODED_BODY).expect_err("corrupt");
    assert!(err.starts_with("cannot decode the gzip body"), "{err}");
    let encoded = brotli(TEXT);
    let err = decode(
        Encoding::Brotli,
        &encoded[..encoded.len() / 2],
        5,
        MAX_DECODED_BODY,
    )
    .expect_err("truncated");
    assert!(err.starts_with("cannot decode the br body"), "{err}");
    let empty = decode(Encoding::Deflate, b"", 1, MAX_DECODED_BODY).expect("empty body");
    assert_eq!(empty.total, 0);
}

#[test]
fn zlib_headers_are_told_from_raw_deflate() {
    let z = zlib(TEXT);
    assert!(is_zlib(z[0], z[1]));
    let r = raw_deflate(TEXT);
    assert!(!is_zlib(r[0], r[1]));
}
