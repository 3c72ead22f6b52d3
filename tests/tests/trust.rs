//! The control plane trusts only who it should: wrong tokens, a public bind without a
//! token, another protocol version, a certificate from the wrong CA and garbage reports
//! are each refused with a message that says why, and none of them generates load.

use std::path::Path;
use std::time::{Duration, Instant};

use lv_common::pb::control_client::ControlClient;
use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};
use lv_master::report::summary::{Summary, read_json};
use lv_tests::bin;
use lv_tests::harness::{
    LISTENING, Proc, master_args, ping_run, spawn_master_process, spawn_worker_process, wait_until,
    write_test_pki,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn summary(path: &Path) -> Summary {
    read_json(path).unwrap_or_else(|e| panic!("{e}"))
}

fn wrap(kind: WorkerKind) -> pb::WorkerMessage {
    pb::WorkerMessage { kind: Some(kind) }
}

fn hello(worker_id: &str, protocol_version: u32) -> pb::Hello {
    pb::Hello {
        worker_id: worker_id.to_owned(),
        hostname: "test".to_owned(),
        version: lv_common::VERSION.to_owned(),
        protocol_version,
        cores: 1,
        token: String::new(),
        fd_limit: 0,
    }
}

/// A hand-made worker: its outbound queue and the master's answer to the Attach call.
struct RawWorker {
    tx: mpsc::Sender<pb::WorkerMessage>,
    answer: Result<tonic::Streaming<pb::MasterMessage>, tonic::Status>,
}

/// Opens a Control stream to `addr` and sends `first`.
async fn raw_attach(addr: std::net::SocketAddr, first: pb::Hello) -> RawWorker {
    let mut client = ControlClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the master");
    let (tx, rx) = mpsc::channel(16);
    tx.send(wrap(WorkerKind::Hello(first)))
        .await
        .expect("queue Hello");
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        client.attach(ReceiverStream::new(rx)),
    )
    .await
    .expect("the master answered the Attach call")
    .map(tonic::Response::into_inner);
    RawWorker { tx, answer }
}

/// The status that ends `stream`, skipping the master's messages before it (at most 10 s).
async fn ending_status(stream: &mut tonic::Streaming<pb::MasterMessage>) -> tonic::Status {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("the stream ended in time");
        match next {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => return status,
        }
    }
}

/// A wrong token: the worker exits non-zero saying so, the master exits 3, no request is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_generates_no_load() {
    let (stop, target, _dir, scenario, _) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--token",
            "right",
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "5s",
            "-t",
            "3s",
        ],
    ))
    .await;
    let started = Instant::now();
    let mut worker = spawn_worker_process(&addr.to_string(), &["--token", "wrong"], "worker");
    let code = worker.exit_code(Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert!(
        matches!(code, Some(c) if c != 0),
        "worker exit code {code:?}"
    );
    assert!(took < Duration::from_secs(5), "the worker took {took:?}");
    assert!(
        worker.stderr.contains("wrong token"),
        "{}",
        worker.stderr.text()
    );
    assert_eq!(master.exit_code(Duration::from_secs(20)).await, Some(3));
    assert!(master.stderr.contains("refused a worker"));
    assert!(!master.stderr.contains("starting the run"));
    assert_eq!(target.total(), 0);
    stop.cancel();
}

/// Binding 0.0.0.0 without a token: exit 2 before binding, naming the token and --insecure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_bind_without_a_token_is_refused_before_binding() {
    let (stop, target, _dir, scenario, _) = ping_run(0.05).await;
    let mut args = master_args(
        &scenario,
        0,
        &["-t", "1s", "--expect-workers-max-wait", "1s"],
    );
    args.extend(["--master-bind-host".into(), "0.0.0.0".into()]);
    let mut master = Proc::start(&bin("lv-master"), &args, "master");
    assert_eq!(master.exit_code(Duration::from_secs(20)).await, Some(2));
    let stderr = master.stderr.text();
    for needle in ["0.0.0.0", "token", "--insecure"] {
        assert!(stderr.contains(needle), "no {needle:?} in:\n{stderr}");
    }
    assert!(!stderr.contains(LISTENING), "it bound:\n{stderr}");
    assert_eq!(target.total(), 0);
    stop.cancel();
}

/// Protocol version 99 is refused naming both versions; the master then runs a correct worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_version_is_refused_naming_both_versions() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "2",
            "-t",
            "3s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let mut old = raw_attach(addr, hello("time-traveller", 99)).await;
    let status = match &mut old.answer {
        Err(status) => status.clone(),
        Ok(stream) => ending_status(stream).await,
    };
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    let ours = format!("version {}", lv_common::PROTOCOL_VERSION);
    assert!(
        status.message().contains("version 99") && status.message().contains(&ours),
        "{}",
        status.message()
    );
    drop(old);

    assert!(master.running(), "the master died");
    let mut worker = spawn_worker_process(&addr.to_string(), &[], "worker");
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(0));
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let report = summary(&json);
    assert_eq!(report.workers.len(), 1);
    assert!(target.total() > 0);
    assert_eq!(report.total.requests, target.total());
    stop.cancel();
}

/// TLS with the CA that signed the master's certificate: a short test runs and counts match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_runs_a_test() {
    let (stop, target, dir, scenario, json) = ping_run(0.05).await;
    let pki = write_test_pki(dir.path());
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--tls-cert",
            path_str(&pki.cert),
            "--tls-key",
            path_str(&pki.key),
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "2",
            "-t",
            "3s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let mut worker = spawn_worker_process(
        &addr.to_string(),
        &["--tls-ca", path_str(&pki.ca), "--tls-domain", "localhost"],
        "worker",
    );
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(0));
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let report = summary(&json);
    assert!(target.total() > 0);
    assert_eq!(report.total.requests, target.total());
    assert_eq!(report.workers.len(), 1);
    stop.cancel();
}

/// TLS with the wrong CA: the worker exits on a certificate error, the master exits 3, no load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_wrong_ca_is_refused_and_generates_no_load() {
    let (stop, target, dir, scenario, _) = ping_run(0.05).await;
    let pki = write_test_pki(dir.path());
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--tls-cert",
            path_str(&pki.cert),
            "--tls-key",
            path_str(&pki.key),
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "5s",
            "-t",
            "3s",
        ],
    ))
    .await;
    let started = Instant::now();
    let mut worker = spawn_worker_process(
        &addr.to_string(),
        &[
            "--tls-ca",
            path_str(&pki.other_ca),
            "--tls-domain",
            "localhost",
        ],
        "worker",
    );
    let code = worker.exit_code(Duration::from_secs(15)).await;
    assert!(
        matches!(code, Some(c) if c != 0),
        "worker exit code {code:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        worker.stderr.contains("certificate"),
        "{}",
        worker.stderr.text()
    );
    assert_eq!(master.exit_code(Duration::from_secs(20)).await, Some(3));
    assert!(!master.stderr.contains("worker attached"));
    assert_eq!(target.total(), 0);
    stop.cancel();
}

/// Garbage stats end the sender's stream with InvalidArgument; the master completes the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sending_garbage_is_cut_off_and_the_run_completes() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "9s",
            "--heartbeat-timeout",
            "2s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let mut worker =
        spawn_worker_process(&addr.to_string(), &["--heartbeat-timeout", "2s"], "good");
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut rogue = raw_attach(addr, hello("rogue", lv_common::PROTOCOL_VERSION)).await;
    let stream = rogue.answer.as_mut().expect("the rogue was welcomed");
    let first = stream
        .message()
        .await
        .expect("first message")
        .expect("Welcome");
    let Some(MasterKind::Welcome(welcome)) = first.kind else {
        panic!("the first message was not Welcome: {first:?}");
    };
    assert!(!welcome.run_id.is_empty(), "the run has started");
    let garbage = pb::StatsReport {
        run_id: welcome.run_id.clone(),
        seq: 1,
        start_unix_ms: 1,
        end_unix_ms: 2,
        users_running: 1,
        endpoints: vec![pb::EndpointDelta {
            method: "GET".into(),
            name: "/ping".into(),
            requests: 1_000_000,
            histogram: vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
            min_us: 1,
            max_us: 2,
            total_us: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    rogue
        .tx
        .send(wrap(WorkerKind::Report(garbage)))
        .await
        .expect("send the report");
    let status = ending_status(stream).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("histogram"),
        "{}",
        status.message()
    );
    drop(rogue);
    assert!(master.running(), "the master died");

    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let report = summary(&json);
    assert_eq!(report.total.requests, target.total());
    let rogue = report
        .workers
        .iter()
        .find(|w| w.core.id == "rogue")
        .expect("the rogue is listed");
    assert_eq!((rogue.core.requests, rogue.core.users), (0, 0), "{rogue:?}");
    assert_eq!(rogue.core.state, "lost");
    let good: Vec<_> = report
        .workers
        .iter()
        .filter(|w| w.core.id != "rogue")
        .collect();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].core.users, 4);
    assert_eq!(good[0].core.requests, report.total.requests);
    stop.cancel();
}

/// A worker whose open-file limit cannot hold its share: with `--connection-per-user`
/// (one connection kept per user) the master refuses the run, naming the worker, its limit
/// and the way out, and no load starts; with shared connections it only warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_over_the_open_file_limit_is_refused_per_user_and_warned_about_shared() {
    let (stop, target, _dir, scenario, _) = ping_run(0.05).await;
    let small = pb::Hello {
        fd_limit: 120,
        ..hello("small-limit", lv_common::PROTOCOL_VERSION)
    };
    let words = [
        "--expect-workers",
        "1",
        "-u",
        "100",
        "-r",
        "100",
        "-t",
        "2s",
    ];

    let per_user: Vec<&str> = words
        .iter()
        .copied()
        .chain(["--connection-per-user"])
        .collect();
    let (mut master, addr) = spawn_master_process(&master_args(&scenario, 0, &per_user)).await;
    let worker = raw_attach(addr, small.clone()).await;
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(3));
    let log = master.stderr.text();
    assert!(
        log.contains("may open 120 files")
            && log.contains("keep 100 connections")
            && log.contains("drop --connection-per-user"),
        "{log}"
    );
    drop(worker);
    assert_eq!(target.total(), 0, "no load started");

    let (master, addr) = spawn_master_process(&master_args(&scenario, 0, &words)).await;
    let _worker = raw_attach(addr, small).await;
    let warning = master
        .stderr
        .wait_for("so at most 56 connections at once", Duration::from_secs(20))
        .await;
    assert!(warning.is_some(), "{}", master.stderr.text());
    stop.cancel();
}
