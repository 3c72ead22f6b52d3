//! Unusable target TLS files are refused with the flag and the file they came from.

use super::*;

#[test]
fn no_files_trust_the_web_roots_only() {
    let tls = TargetTlsFiles::default().load().expect("nothing to read");
    assert!(tls.extra_roots.is_empty() && tls.client_auth.is_none() && !tls.insecure);
    assert_eq!(tls.warning(), None);
}

#[test]
fn insecure_targets_warn() {
    let files = TargetTlsFiles {
        insecure: true,
        ..TargetTlsFiles::default()
    };
    let warning = files.load().expect("loaded").warning().expect("a warning");
    assert!(warning.starts_with("--insecure-target: "), "{warning}");
}

#[test]
fn bad_files_name_their_flag_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = TargetTlsFiles {
        ca: Some(dir.path().join("nope.pem")),
        ..TargetTlsFiles::default()
    };
    let err = missing.load().expect_err("missing").to_string();
    assert!(err.starts_with("cannot read --target-ca "), "{err}");
    assert!(err.contains("nope.pem"), "{err}");

    let junk_path = dir.path().join("junk.pem");
    std::fs::write(&junk_path, "not a certificate").expect("write");
    let junk = TargetTlsFiles {
        ca: Some(junk_path.clone()),
        ..TargetTlsFiles::default()
    };
    let err = junk.load().expect_err("junk").to_string();
    assert!(err.contains("junk.pem: holds no certificate"), "{err}");

    let half = TargetTlsFiles {
        key: Some(junk_path),
        ..TargetTlsFiles::default()
    };
    assert!(matches!(half.load(), Err(TlsFileError::HalfPair)));
}
