//! Target TLS settings: the files behind `--target-ca`, `--insecure-target`,
//! `--target-cert` and `--target-key`, read and checked into certificates and a key.
//!
//! Both binaries read these flags; the worker builds its rustls client configuration from
//! the loaded [`TargetTls`], and a master hands it to its in-process workers.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How lv trusts HTTPS targets and identifies itself to them.
#[derive(Debug, Default)]
pub struct TargetTls {
    /// CA certificates trusted beside the web's roots (`--target-ca`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Verify nothing (`--insecure-target`).
    pub insecure: bool,
    /// Client certificate chain and key (`--target-cert`, `--target-key`).
    pub client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Clone for TargetTls {
    fn clone(&self) -> TargetTls {
        TargetTls {
            extra_roots: self.extra_roots.clone(),
            insecure: self.insecure,
            client_auth: self
                .client_auth
                .as_ref()
                .map(|(certs, key)| (certs.clone(), key.clone_key())),
        }
    }
}

/// Paths of the TLS files given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TargetTlsFiles {
    /// `--target-ca`: PEM certificates to trust.
    pub ca: Option<PathBuf>,
    /// `--insecure-target`.
    pub insecure: bool,
    /// `--target-cert`: the client's PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// `--target-key`: the client's PEM private key.
    pub key: Option<PathBuf>,
}

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    /// A file could not be read.
    #[error("cannot read {flag} {}: {source}", path.display())]
    Read {
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("{flag} {}: {detail}", path.display())]
    Pem {
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// `--target-cert` without `--target-key`, or the other way round.
    #[error("--target-cert and --target-key go together: give both or neither")]
    HalfPair,
}

impl TargetTlsFiles {
    /// Reads and parses the files.
    pub fn load(&self) -> Result<TargetTls, TlsFileError> {
        let extra_roots = match &self.ca {
            Some(path) => certificates("--target-ca", path)?,
            None => Vec::new(),
        };
        let client_auth = match (&self.cert, &self.key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((
                certificates("--target-cert", cert)?,
                private_key("--target-key", key)?,
            )),
            _ => return Err(TlsFileError::HalfPair),
        };
        Ok(TargetTls {
            extra_roots,
            insecure: self.insecure,
            client_auth,
        })
    }
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|source| TlsFileError::Read {
        flag,
        path: path.to_owned(),
        source,
    })
}

fn certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem_error = |detail: String| TlsFileError::Pem {
        flag,
        path: path.to_owned(),
        detail,
    };
    let certs = CertificateDer::pem_slice_iter(&read(flag, path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem_error(
            "holds no certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

fn private_key(flag: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    PrivateKeyDer::from_pem_slice(&read(flag, path)?).map_err(|e| TlsFileError::Pem {
        flag,
        path: path.to_owned(),
        detail: format!("holds no usable private key: {e}"),
    })
}

impl TargetTls {
    /// The warning to show once when certificates are not verified.
    pub fn warning(&self) -> Option<&'static str> {
        self.insecure.then_some(
            "--insecure-target: the certificates of HTTPS targets are NOT verified; use this only against test systems",
        )
    }
}

#[cfg(test)]
mod tests;
