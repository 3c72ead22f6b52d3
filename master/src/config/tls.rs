//! TLS of the control plane: the PEM files the master serves workers with, and the CA its
//! in-process workers trust.

use std::path::PathBuf;

use super::error::ConfigError;
use crate::config::cli::Args;

/// PEM contents for serving workers over TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: Vec<u8>,
    /// Private key.
    pub key: Vec<u8>,
    /// CA the in-process workers trust.
    pub ca: Vec<u8>,
}

/// The control plane's PEM files (`--tls-cert`, `--tls-key`, `--tls-ca`), read and checked;
/// `None` without a certificate and key.
pub(super) fn tls_files(args: &Args) -> Result<Option<TlsFiles>, ConfigError> {
    let (Some(cert_path), Some(key_path)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |option: &'static str, path: &PathBuf| {
        std::fs::read(path).map_err(|err| ConfigError::InvalidOption {
            option,
            detail: format!("cannot read {}: {err}", path.display()),
        })
    };
    let cert = read("--tls-cert", cert_path)?;
    let key = read("--tls-key", key_path)?;
    let ca = match &args.tls_ca {
        Some(path) => read("--tls-ca", path)?,
        None => cert.clone(),
    };
    for (option, pem, what) in [
        ("--tls-cert", &cert, "CERTIFICATE"),
        ("--tls-ca", &ca, "CERTIFICATE"),
        ("--tls-key", &key, "PRIVATE KEY"),
    ] {
        if !String::from_utf8_lossy(pem).contains(&format!("{what}-----")) {
            return Err(ConfigError::InvalidOption {
                option,
                detail: format!("the file holds no PEM {what}"),
            });
        }
    }
    Ok(Some(TlsFiles { cert, key, ca }))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn files(extra: &[&str]) -> Result<Option<TlsFiles>, ConfigError> {
        let argv = std::iter::once("lv-master").chain(extra.iter().copied());
        tls_files(&Args::try_parse_from(argv).expect("valid flags"))
    }

    #[test]
    fn no_pair_means_no_tls() {
        assert!(files(&[]).expect("nothing to read").is_none());
    }

    #[test]
    fn unusable_files_name_their_option() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").expect("write");
        std::fs::write(&key, "junk").expect("write");
        let cert = format!("--tls-cert={}", cert.display());
        let err = files(&[&cert, "--tls-key=/no/key.pem"]).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("invalid value for --tls-key: cannot read")
        );
        let key = format!("--tls-key={}", key.display());
        let err = files(&[&cert, &key]).expect_err("no key");
        assert_eq!(
            err.to_string(),
            "invalid value for --tls-key: the file holds no PEM PRIVATE KEY"
        );
    }
}
