//! TLS to targets: which certificates lv trusts, the client certificate it shows, and
//! errors that name the cause.
//!
//! By default lv trusts the web's root certificates. `--target-ca FILE` adds a private CA
//! (PEM) to them, `--insecure-target` verifies nothing (as Locust's `verify=False` or k6's
//! `insecureSkipTLSVerify`), and `--target-cert FILE --target-key FILE` present a client
//! certificate (mTLS). A handshake failure is reported by its cause (unknown issuer,
//! expired, wrong host name, refused), not as rustls' enum.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

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

    /// The rustls configuration for connections to targets.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            for cert in &self.extra_roots {
                roots.add(cert.clone())?;
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match &self.client_auth {
            Some((certs, key)) => builder.with_client_auth_cert(certs.clone(), key.clone_key())?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Accepts any server certificate (signatures are still checked, so the handshake is
/// sound; only who signed the certificate and for which name is not).
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS failure in words, by cause.
pub(super) fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => "TLS: unknown issuer: the target's certificate is not signed by a CA lv trusts (add it with --target-ca, or use --insecure-target)".to_owned(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "TLS: the target's certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "TLS: the target's certificate is not valid yet".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "TLS: wrong host name: the target's certificate is not valid for the host in the URL".to_owned()
            }
            other => format!("TLS: invalid certificate: {other}"),
        },
        rustls::Error::AlertReceived(alert) => {
            let hint = match alert {
                rustls::AlertDescription::CertificateRequired
                | rustls::AlertDescription::BadCertificate
                | rustls::AlertDescription::UnknownCA => {
                    " (it wants a client certificate it trusts: --target-cert and --target-key)"
                }
                _ => "",
            };
            format!("TLS: handshake refused by the target: {alert:?}{hint}")
        }
        other => format!("TLS: {other}"),
    }
}

#[cfg(test)]
mod tests;
