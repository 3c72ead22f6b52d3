//! Real-world HTTP through a whole cluster: the shipped scenarios against a fleet that
//! answers only its documented contract, redirects and cookies from scenario keys, and the
//! TLS flags' files checked before anything runs.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lv_fleet_sim::SimConfig;
use lv_tests::{bin, master_config, run_cluster, workspace_root, write_file};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// lv's request counts per agent: the first word of a stats name is the agent.
fn lv_per_agent(summary: &lv_master::report::summary::Summary) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for endpoint in summary.endpoints.iter().filter(|e| e.requests > 0) {
        let agent = endpoint.name.split_whitespace().next().unwrap_or_default();
        *out.entry(agent.to_owned()).or_default() += endpoint.requests;
    }
    out
}

/// Every shipped scenario against a fleet that answers exactly the documented fields: no
/// failure, and lv counted what the fleet received, agent by agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_scenarios_pass_against_a_contract_only_fleet() {
    let stop = CancellationToken::new();
    let sim = lv_fleet_sim::start(
        SimConfig {
            port_offset: None,
            latency_scale: 0.01,
            seed: Some(13),
            contract_only: true,
            ..SimConfig::default()
        },
        stop.child_token(),
    )
    .await
    .expect("the simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");
    let scenarios = workspace_root().join("configs/scenarios");
    let words = [
        "-f",
        scenarios.to_str().expect("utf-8 path"),
        "--fleet",
        fleet.to_str().expect("utf-8 path"),
        "-H",
        "http://127.0.0.1",
        "-u",
        "80",
        "-r",
        "1000",
        "-t",
        "4s",
        "--expect-workers",
        "2",
        "--expect-workers-max-wait",
        "20s",
        "--headless",
        "--only-summary",
    ];
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, 2, &stop, Duration::from_secs(60)).await;
    let seen = sim.counts();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), sim.wait())
        .await
        .expect("the simulator stops");

    let summary = &outcome.summary;
    assert_eq!(summary.total.failures, 0, "{:?}", summary.failures);
    assert!(summary.exceptions.is_empty(), "{:?}", summary.exceptions);
    assert_eq!(summary.total.requests, seen.total);
    let fleet_per_agent: BTreeMap<String, u64> = seen
        .agents
        .iter()
        .map(|(agent, routes)| (agent.clone(), routes.values().sum()))
        .collect();
    assert_eq!(lv_per_agent(summary), fleet_per_agent);
    for (agent, route) in [
        ("ATLAS", "POST /v1/chat"),
        ("EVENT-BUS", "POST /v1/events"),
        ("EVENT-BUS", "POST /v1/events/{id}/ack"),
    ] {
        let n = seen.agents.get(agent).and_then(|r| r.get(route)).copied();
        assert!(n.unwrap_or(0) > 0, "{agent} {route}: {:?}", seen.agents);
    }
    // Health checks and creative tasks pick one agent at random each time: one agent may
    // get none in 4 s on a busy machine (MUSE once got no `POST /v1/tasks`), but the
    // creative agents as a group get both.
    let creative = |route: &str| -> u64 {
        ["MUSE", "CALLIOPE", "THALIA", "ERATO", "CLIO"]
            .iter()
            .filter_map(|agent| seen.agents.get(*agent)?.get(route))
            .sum()
    };
    assert!(creative("GET /health") > 0, "{:?}", seen.agents);
    assert!(creative("POST /v1/tasks") > 0, "{:?}", seen.agents);
}

/// `POST /login` sets a session cookie and redirects (302) to `/home`; `/home` answers
/// `{"user":"in"}` with the cookie and 401 without; `/old` is a 301 to `/home`.
async fn spawn_site(shutdown: CancellationToken) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(site_answer(&req))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn site_answer(req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let logged_in = req
        .headers()
        .get(hyper::header::COOKIE)
        .is_some_and(|c| c.as_bytes() == b"sid=s3cret");
    let (status, headers, body): (u16, &[(&str, &str)], &str) = match req.uri().path() {
        "/login" => (
            302,
            &[("set-cookie", "sid=s3cret; Path=/"), ("location", "/home")],
            "",
        ),
        "/old" => (301, &[("location", "/home")], ""),
        "/home" if logged_in => (200, &[], r#"{"user":"in"}"#),
        _ => (401, &[], r#"{"error":"log in first"}"#),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// Scenario keys reach the users: a login redirect sets the class's cookie, later tasks
/// carry it, a class with `cookies = false` does not, `follow_redirects = false` records
/// the redirect itself, and every row keeps its step's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_cookies_from_scenario_keys() {
    let stop = CancellationToken::new();
    let site = spawn_site(stop.child_token()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = format!(
        r#"
[[user]]
name = "Member"
wait = {{ constant = 0.05 }}
on_start = [{{ url = "http://{site}", method = "POST", path = "/login", name = "login", check = [{{ pointer = "/user", equals = "in" }}] }}]

[[user.task]]
[[user.task.step]]
url = "http://{site}"
path = "/old"
name = "old home"
check = [{{ pointer = "/user", equals = "in" }}]

[[user.task.step]]
url = "http://{site}"
path = "/old"
name = "old home, not followed"
follow_redirects = false
expect_status = [301]

[[user]]
name = "Forgetful"
cookies = false
wait = {{ constant = 0.05 }}
on_start = [{{ url = "http://{site}", method = "POST", path = "/login", name = "forgetful login", expect_status = [401] }}]

[[user.task]]
[[user.task.step]]
url = "http://{site}"
path = "/home"
name = "forgetful home"
expect_status = [401]
"#
    );
    let file = write_file(dir.path(), "site.toml", &scenario);
    let fleet = workspace_root().join("configs/fleet.toml");
    let words = [
        "-f",
        file.to_str().expect("utf-8 path"),
        "--fleet",
        fleet.to_str().expect("utf-8 path"),
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        "2s",
        "--expect-workers",
        "1",
        "--headless",
        "--only-summary",
        "--no-slo",
    ];
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, 1, &stop, Duration::from_secs(30)).await;
    stop.cancel();
    let summary = &outcome.summary;
    assert_eq!(summary.total.failures, 0, "{:?}", summary.failures);
    assert!(summary.exceptions.is_empty(), "{:?}", summary.exceptions);
    let requests = |name: &str| {
        summary
            .endpoints
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.requests)
            .sum::<u64>()
    };
    assert_eq!(requests("login"), 2, "two members logged in once each");
    assert_eq!(requests("forgetful login"), 2);
    assert!(requests("old home") > 0 && requests("old home, not followed") > 0);
    assert!(requests("forgetful home") > 0);
    let names: Vec<&str> = summary.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert!(
        !names.iter().any(|n| n.contains("/home")),
        "redirect targets get no rows of their own: {names:?}"
    );
}

/// A TLS flag naming a file that cannot be used stops lv-worker with exit 2 and a message
/// naming the flag and the file; lv-master refuses the same before anything connects.
#[test]
fn unusable_target_tls_files_are_refused_with_their_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = write_file(dir.path(), "junk.pem", "not a certificate\n");
    let output = Command::new(bin("lv-worker"))
        .args(["--master", "127.0.0.1:1", "--target-ca"])
        .arg(&junk)
        .output()
        .expect("run lv-worker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--target-ca"), "{stderr}");
    assert!(
        stderr.contains("junk.pem: holds no certificate"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.key");
    let output = Command::new(bin("lv-worker"))
        .args(["--master", "127.0.0.1:1", "--target-cert"])
        .arg(&junk)
        .arg("--target-key")
        .arg(&missing)
        .output()
        .expect("run lv-worker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("junk.pem"),
        "the certificate is read first: {stderr}"
    );

    let scenario = workspace_root().join("configs/scenarios/health_checks.toml");
    let fleet = workspace_root().join("configs/fleet.toml");
    let err = master_config(&[
        "-f",
        scenario.to_str().expect("utf-8"),
        "--fleet",
        fleet.to_str().expect("utf-8"),
        "--headless",
        "--target-ca",
        missing.to_str().expect("utf-8"),
    ])
    .expect_err("a missing CA file");
    let text = err.to_string();
    assert!(text.starts_with("cannot read --target-ca "), "{text}");
    assert!(text.contains("missing.key"), "{text}");
}
