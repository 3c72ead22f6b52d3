//! TLS to targets on loopback: a private CA, `--insecure-target`, mTLS, and errors named by
//! their cause; and the files behind the flags.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::http::{HttpClient, OutRequest, UserHttp};

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// A private CA and what it signs.
struct Ca {
    cert: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("ca");
    Ca {
        cert: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `names` signed by `ca`, expired when `expired`, with its key.
fn leaf(ca: &Ca, names: &[&str], expired: bool) -> (CertificateDer<'static>, String, KeyPair) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.issuer).expect("leaf");
    (cert.der().clone(), cert.pem(), key)
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::try_from(key.serialize_der()).expect("key der")
}

/// An HTTPS server answering `OK`; it demands a client certificate signed by
/// `client_ca` when given.
async fn https_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<CertificateDer<'static>>,
) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).expect("client ca");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut pending = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if tls.write_all(OK.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    port
}

async fn get(tls: &TargetTls, url: String) -> Result<u16, String> {
    let client = HttpClient::with_tls(Duration::from_secs(2), 10, tls).expect("client");
    let request = OutRequest {
        method: http::Method::GET,
        url,
        headers: Vec::new(),
        body: bytes::Bytes::new(),
        timeout: Duration::from_secs(5),
        keep_body: false,
        follow_redirects: true,
    };
    client
        .send(request, &mut UserHttp::default())
        .await
        .map(|r| r.status)
        .map_err(|e| e.to_string())
}

fn trusting(ca: &Ca) -> TargetTls {
    TargetTls {
        extra_roots: vec![ca.cert.clone()],
        ..TargetTls::default()
    }
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let ca = ca();
    let (cert, _, key) = leaf(&ca, &["localhost"], false);
    let port = https_server(cert, key_der(&key), None).await;
    let url = format!("https://localhost:{port}/");
    assert_eq!(get(&trusting(&ca), url.clone()).await, Ok(200));
    let err = get(&TargetTls::default(), url)
        .await
        .expect_err("untrusted");
    assert!(err.starts_with("TLS: unknown issuer"), "{err}");
}

#[tokio::test]
async fn insecure_targets_pass_and_warn() {
    let ca = ca();
    let (cert, _, key) = leaf(&ca, &["other.test"], true);
    let port = https_server(cert, key_der(&key), None).await;
    let insecure = TargetTls {
        insecure: true,
        ..TargetTls::default()
    };
    assert_eq!(
        get(&insecure, format!("https://localhost:{port}/")).await,
        Ok(200),
        "an expired certificate for another name passes"
    );
    let warning = insecure.warning().expect("a warning");
    assert!(warning.contains("NOT verified"), "{warning}");
    assert_eq!(TargetTls::default().warning(), None);
}

#[tokio::test]
async fn expired_and_wrong_name_certificates_are_named() {
    let ca = ca();
    let (cert, _, key) = leaf(&ca, &["localhost"], true);
    let port = https_server(cert, key_der(&key), None).await;
    let err = get(&trusting(&ca), format!("https://localhost:{port}/"))
        .await
        .expect_err("expired");
    assert_eq!(err, "TLS: the target's certificate has expired");

    let (cert, _, key) = leaf(&ca, &["other.test"], false);
    let port = https_server(cert, key_der(&key), None).await;
    let err = get(&trusting(&ca), format!("https://localhost:{port}/"))
        .await
        .expect_err("wrong name");
    assert!(err.starts_with("TLS: wrong host name"), "{err}");
}

#[tokio::test]
async fn mtls_passes_with_a_client_certificate_and_fails_without() {
    let ca = ca();
    let (cert, _, key) = leaf(&ca, &["localhost"], false);
    let port = https_server(cert, key_der(&key), Some(ca.cert.clone())).await;
    let url = format!("https://localhost:{port}/");
    let (client_cert, _, client_key) = leaf(&ca, &["lv-client"], false);
    let with_cert = TargetTls {
        client_auth: Some((vec![client_cert], key_der(&client_key))),
        ..trusting(&ca)
    };
    assert_eq!(get(&with_cert, url.clone()).await, Ok(200));
    let err = get(&trusting(&ca), url)
        .await
        .expect_err("no client certificate");
    assert!(
        err.starts_with("TLS: handshake refused by the target"),
        "{err}"
    );
    assert!(err.contains("--target-cert"), "{err}");
}

#[test]
fn files_load_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca();
    let (_, cert_pem, key) = leaf(&ca, &["lv-client"], false);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let files = TargetTlsFiles {
        ca: Some(write("ca.pem", &ca.pem)),
        insecure: false,
        cert: Some(write("client.pem", &cert_pem)),
        key: Some(write("client.key", &key.serialize_pem())),
    };
    let loaded = files.load().expect("good files");
    assert_eq!(loaded.extra_roots, vec![ca.cert.clone()]);
    assert!(loaded.client_auth.is_some());
    client_config(&loaded).expect("a usable config");

    let missing = TargetTlsFiles {
        ca: Some(dir.path().join("nope.pem")),
        ..TargetTlsFiles::default()
    };
    let err = missing.load().expect_err("missing").to_string();
    assert!(err.starts_with("cannot read --target-ca "), "{err}");
    assert!(err.contains("nope.pem"), "{err}");

    let junk = TargetTlsFiles {
        ca: Some(write("junk.pem", "not a certificate")),
        ..TargetTlsFiles::default()
    };
    let err = junk.load().expect_err("junk").to_string();
    assert!(err.contains("junk.pem: holds no certificate"), "{err}");

    let no_key = TargetTlsFiles {
        cert: files.cert.clone(),
        key: Some(write("empty.key", "")),
        ..TargetTlsFiles::default()
    };
    let err = no_key.load().expect_err("no key").to_string();
    assert!(err.starts_with("--target-key "), "{err}");
    assert!(err.contains("no usable private key"), "{err}");

    let half = TargetTlsFiles {
        cert: files.cert.clone(),
        ..TargetTlsFiles::default()
    };
    assert!(matches!(half.load(), Err(TlsFileError::HalfPair)));
}
