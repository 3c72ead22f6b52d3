//! TLS to targets: the rustls client configuration built from the [`TargetTls`] settings
//! (see [`lv_common::tls`]), and handshake errors that name the cause.
//!
//! By default lv trusts the web's root certificates. `--target-ca FILE` adds a private CA
//! (PEM) to them, `--insecure-target` verifies nothing (as Locust's `verify=False` or k6's
//! `insecureSkipTLSVerify`), and `--target-cert FILE --target-key FILE` present a client
//! certificate (mTLS). A handshake failure is reported by its cause (unknown issuer,
//! expired, wrong host name, refused), not as rustls' enum.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

pub use lv_common::tls::{TargetTls, TargetTlsFiles, TlsFileError};

/// The rustls configuration for connections to targets.
pub fn client_config(tls: &TargetTls) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification {
                algorithms: provider.signature_verification_algorithms,
            }))
    } else {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in &tls.extra_roots {
            roots.add(cert.clone())?;
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match &tls.client_auth {
        Some((certs, key)) => builder.with_client_auth_cert(certs.clone(), key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
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
