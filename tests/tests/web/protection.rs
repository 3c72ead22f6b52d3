//! Read-only mode, Basic auth, the public-bind rule and HTTPS.

use std::time::Duration;

use hyper::{Method, StatusCode};
use lv_tests::harness::{Proc, ping_run};
use lv_tests::{bin, workspace_root};

use super::{WEB_LINE, call, get, spawn_master};

/// Read-only mode refuses every state change with 403 (POST and GET alike); bad form input
/// gets 400 naming the field; wrong or missing credentials get 401 with a Basic challenge;
/// with `--web-cors`, a preflight needs no credentials and a 401 still carries the CORS
/// headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_auth_and_bad_input_are_refused() {
    let (stop, _target, dir, scenario, _) = ping_run(0.05).await;
    let reports = dir.path().join("reports");
    let readonly = spawn_master(&scenario, &reports, &["--web-readonly"]).await;
    for (method, path) in [
        (Method::POST, "/swarm"),
        (Method::GET, "/stop"),
        (Method::POST, "/stop"),
        (Method::GET, "/stats/reset"),
        (Method::POST, "/stats/reset"),
    ] {
        let form = (method == Method::POST).then_some("user_count=1&spawn_rate=1");
        let answer = call(method.clone(), &readonly.url(path), form, None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        let body = answer.json();
        assert_eq!(body["success"], false);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("read-only"))
        );
        // Every refusal of /swarm carries the host, as Locust's do.
        if path == "/swarm" {
            assert!(body["host"].is_string(), "{body}");
        }
    }
    assert_eq!(readonly.status().await["readonly"], true);
    assert_eq!(
        get(&readonly.url("/stats/requests")).await.status,
        StatusCode::OK
    );

    let flags = ["--web-auth=ann:s3cret", "--web-cors=http://example.test"];
    let secured = spawn_master(&scenario, &reports, &flags).await;
    use base64::Engine as _;
    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    for auth in [None, Some(basic("ann:wrong")), Some(basic("bob:s3cret"))] {
        for path in ["/", "/metrics", "/api/v1/status", "/stats/requests"] {
            let answer = call(Method::GET, &secured.url(path), None, auth.as_deref()).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path} {auth:?}");
            assert_eq!(answer.headers["www-authenticate"], "Basic realm=\"lv\"");
        }
    }
    let good = Some(basic("ann:s3cret"));
    let answer = call(
        Method::GET,
        &secured.url("/api/v1/status"),
        None,
        good.as_deref(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    check_cors_with_auth(&secured.url("/stats/requests"), good.as_deref()).await;
    for (form, message) in [
        ("user_count=abc", "user_count=abc: not a whole number"),
        ("spawn_rate=0", "spawn_rate=0: must be a number > 0"),
        ("user_count=1&run_time=soon", "run_time=soon: "),
        (
            "user_classes=Nobody",
            "user_classes=Nobody: unknown user class",
        ),
        ("tags=nope", "tags=nope: unknown tag"),
    ] {
        let answer = call(
            Method::POST,
            &secured.url("/swarm"),
            Some(form),
            good.as_deref(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{form}");
        let body = answer.json();
        assert_eq!(body["success"], false);
        let text = body["message"].as_str().unwrap_or_default();
        assert!(text.starts_with(message), "{form}: {text}");
    }
    drop((readonly, secured));
    stop.cancel();
}

/// `--web-cors` before `--web-auth`: the browser's preflight (sent without credentials)
/// gets 204, a call without credentials 401 that the page may read, one with them 200.
async fn check_cors_with_auth(url: &str, good: Option<&str>) {
    let origin = [("origin", "http://example.test")];
    let preflight = [
        ("origin", "http://example.test"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization"),
    ];
    let answer = super::send(Method::OPTIONS, url, &preflight, None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    assert_eq!(
        answer.headers["access-control-allow-headers"],
        "authorization"
    );
    let answer = super::send(Method::GET, url, &origin, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://example.test"
    );
    let mut with_auth = origin.to_vec();
    with_auth.push(("authorization", good.unwrap_or_default()));
    let answer = super::send(Method::GET, url, &with_auth, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://example.test"
    );
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
}

/// A public web address without credentials is refused with exit code 2 unless
/// `--insecure` is given (that master, having run nothing, exits 0 on SIGTERM).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_bind_without_auth_exits_2() {
    let (stop, _target, dir, scenario, _) = ping_run(0.05).await;
    let fleet = workspace_root().join("configs/fleet.toml");
    let scenario = scenario.display().to_string();
    let fleet = fleet.display().to_string();
    let args = [
        "-f",
        &scenario,
        "--fleet",
        &fleet,
        "--web-host=0.0.0.0",
        "--web-port=0",
        "--master-bind-port=0",
    ];
    let mut refused = Proc::start(&bin("lv-master"), &args, "public");
    assert_eq!(refused.exit_code(Duration::from_secs(30)).await, Some(2));
    assert!(
        refused.stderr.contains("without --web-auth"),
        "{}",
        refused.stderr.text()
    );
    let mut insecure = args.to_vec();
    insecure.push("--insecure");
    let reports = format!("--reports-dir={}", dir.path().display());
    insecure.push(&reports);
    let mut allowed = Proc::start(&bin("lv-master"), &insecure, "insecure");
    assert!(
        allowed
            .stderr
            .wait_for(WEB_LINE, Duration::from_secs(30))
            .await
            .is_some()
    );
    // A UI-mode master that ran nothing exits 0 on SIGTERM.
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &allowed.pid.to_string()])
        .status()
        .await;
    assert_eq!(allowed.exit_code(Duration::from_secs(30)).await, Some(0));
    stop.cancel();
}

/// Given `--tls-cert`/`--tls-key` (the control plane's pair), the UI is served over HTTPS
/// with that certificate: a client trusting the CA gets the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_is_served_over_https_with_the_tls_pair() {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let (stop, _target, dir, scenario, _) = ping_run(0.05).await;
    let pki = lv_tests::harness::write_test_pki(dir.path());
    let reports = dir.path().join("reports");
    let cert = format!("--tls-cert={}", pki.cert.display());
    let key = format!("--tls-key={}", pki.key.display());
    let master = spawn_master(&scenario, &reports, &[&cert, &key]).await;
    let addr = master
        .web
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("an https URL: {}", master.web))
        .to_owned();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca).expect("CA PEM"))
        .expect("CA certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let request = "GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    tls.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), tls.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"state\":\"ready\""), "{answer}");
    drop(master);
    stop.cancel();
}
