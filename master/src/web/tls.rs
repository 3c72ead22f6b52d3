//! HTTPS for the web server: a rustls server configuration from PEM files. The UI uses the
//! same `--tls-cert`/`--tls-key` pair as the workers' control plane unless
//! `--web-tls-cert`/`--web-tls-key` name another.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS setup failed (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate chain holds no usable certificate.
    #[error("invalid web TLS certificate: {0}")]
    Certificate(String),
    /// The key is unusable.
    #[error("invalid web TLS key: {0}")]
    Key(String),
    /// rustls refused the pair.
    #[error("cannot use the web TLS certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// A server configuration (HTTP/1.1 over TLS) from a PEM chain and key.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|err| TlsError::Certificate(err.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no PEM CERTIFICATE found".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| TlsError::Key(err.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_without_pem_blocks() {
        assert!(matches!(
            server_config(b"nothing", b"nothing"),
            Err(TlsError::Certificate(_))
        ));
    }
}
