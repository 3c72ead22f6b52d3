//! What the faults and trust tests need beyond the in-process helpers: real `lv-master`
//! and `lv-worker` processes with their stderr collected (and their peak memory), a TCP
//! proxy that can cut every connection and refuse new ones for a while, test certificates
//! (a CA, a server certificate signed by it, an unrelated CA), and a target whose answers a
//! test chooses. Everything binds 127.0.0.1:0.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The line `lv-master` prints once it is bound; the address follows it.
pub const LISTENING: &str = "lv-master: listening for workers on ";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lines a child wrote to stderr, collected as they arrive.
#[derive(Clone)]
pub struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    seen: watch::Receiver<usize>,
    /// True once the stream ended (every line is in `lines`).
    closed: watch::Receiver<bool>,
}

impl Lines {
    /// Everything so far, one line each.
    pub fn text(&self) -> String {
        lock(&self.lines).join("\n")
    }

    /// True when some line contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        lock(&self.lines).iter().any(|l| l.contains(needle))
    }

    fn find(&self, needle: &str) -> Option<String> {
        lock(&self.lines)
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }

    /// Waits at most `limit` for a line containing `needle`; `None` when the stream
    /// ended or the time ran out without one.
    pub async fn wait_for(&self, needle: &str, limit: Duration) -> Option<String> {
        let mut seen = self.seen.clone();
        let _ = tokio::time::timeout(limit, seen.wait_for(|_| self.find(needle).is_some())).await;
        self.find(needle)
    }
}

/// A real process started by a test, killed when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Its stderr.
    pub stderr: Lines,
    /// Its pid (for `/proc`).
    pub pid: u32,
}

impl Proc {
    /// Starts `program` with `args`, stdout discarded, stderr collected and echoed to the
    /// test's stderr prefixed with `[tag]`. `HOST` and `LV_*` (settings of lv's binaries)
    /// are not inherited.
    pub fn start<S: AsRef<OsStr>>(program: &Path, args: &[S], tag: &str) -> Proc {
        Proc::start_in(program, args, tag, None)
    }

    /// [`Proc::start`] in the working directory `dir` (the test's own when `None`).
    pub fn start_in<S: AsRef<OsStr>>(
        program: &Path,
        args: &[S],
        tag: &str,
        dir: Option<&Path>,
    ) -> Proc {
        let mut command = Command::new(program);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        for (key, _) in std::env::vars_os() {
            if key == "HOST" || key.to_string_lossy().starts_with("LV_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let pid = child.id().expect("a running child has a pid");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, seen) = watch::channel(0_usize);
        let (closed_tx, closed) = watch::channel(false);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let tag = tag.to_owned();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("[{tag}] {line}");
                lock(&sink).push(line);
                tx.send_modify(|n| *n += 1);
            }
            let _ = closed_tx.send(true);
        });
        Proc {
            child,
            stderr: Lines {
                lines,
                seen,
                closed,
            },
            pid,
        }
    }

    /// Waits at most `limit` for the exit and returns its code (`None`: killed by a
    /// signal). Panics, showing stderr, when the process is still running.
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => {
                // The exit can overtake the last lines: read stderr to its end first.
                let mut closed = self.stderr.closed.clone();
                let _ = tokio::time::timeout(Duration::from_secs(5), closed.wait_for(|c| *c)).await;
                status.expect("wait for the child").code()
            }
            Err(_) => panic!(
                "pid {} still running after {limit:?}; stderr:\n{}",
                self.pid,
                self.stderr.text()
            ),
        }
    }

    /// `kill -9`, then reaps the process.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Peak resident memory so far (`VmHWM` in `/proc/PID/status`), KiB; `None` once
    /// the process is gone.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

/// Where most process tests start: `(stop, target, dir, scenario, json)`, a counting target
/// (stopped by `stop`), the temporary folder (removed when dropped) holding `ping.toml`, a
/// [`crate::ping_scenario`] against it whose users wait `wait_s` s between requests, and
/// `summary.json` in that folder for `--json`.
pub async fn ping_run(
    wait_s: f64,
) -> (
    CancellationToken,
    crate::Target,
    tempfile::TempDir,
    PathBuf,
    PathBuf,
) {
    let stop = CancellationToken::new();
    let target = crate::spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = crate::ping_scenario(dir.path(), &target, wait_s);
    let json = dir.path().join("summary.json");
    (stop, target, dir, scenario, json)
}

/// `lv-master` words: `scenario`, the repository's fleet map, headless with only the
/// summary, bound to 127.0.0.1:`port` (0 picks one), then `extra`.
pub fn master_args(scenario: &Path, port: u16, extra: &[&str]) -> Vec<String> {
    let fleet = crate::workspace_root().join("configs/fleet.toml");
    let mut args: Vec<String> = vec![
        "-f".into(),
        scenario.display().to_string(),
        "--fleet".into(),
        fleet.display().to_string(),
        "--headless".into(),
        "--only-summary".into(),
        "--master-bind-port".into(),
        port.to_string(),
    ];
    args.extend(extra.iter().map(|w| (*w).to_owned()));
    args
}

/// Starts `lv-master` with `args` and waits for the address it announces.
pub async fn spawn_master_process<S: AsRef<OsStr>>(args: &[S]) -> (Proc, SocketAddr) {
    let master = Proc::start(&crate::bin("lv-master"), args, "master");
    let Some(line) = master
        .stderr
        .wait_for(LISTENING, Duration::from_secs(30))
        .await
    else {
        panic!(
            "lv-master announced no address; stderr:\n{}",
            master.stderr.text()
        );
    };
    let addr = line
        .split(LISTENING)
        .nth(1)
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (master, addr)
}

/// Waits at most `limit` for the ready file `path` that `proc` (`lv-master` or
/// `lv-fleet-sim`, given `--ready-file`) writes once bound, and returns its JSON; panics,
/// showing the process's stderr, when none with `proc`'s pid appears.
pub async fn wait_for_ready_file(path: &Path, proc: &Proc, limit: Duration) -> serde_json::Value {
    let read = || {
        let text = std::fs::read_to_string(path).ok()?;
        let ready: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the ready file is written whole: {text:?}: {e}"));
        (ready["pid"] == proc.pid).then_some(ready)
    };
    if !wait_until(limit, || read().is_some()).await {
        panic!(
            "no ready file {} of pid {} within {limit:?}; stderr:\n{}",
            path.display(),
            proc.pid,
            proc.stderr.text()
        );
    }
    read().expect("the ready file stays")
}

/// Starts `lv-worker --master MASTER --connect-timeout 20s` plus `extra`.
pub fn spawn_worker_process(master: &str, extra: &[&str], tag: &str) -> Proc {
    let mut args = vec!["--master", master, "--connect-timeout", "20s"];
    args.extend_from_slice(extra);
    Proc::start(&crate::bin("lv-worker"), &args, tag)
}

/// Polls `ready` every 50 ms for at most `limit`; true when it held.
pub async fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    lv_common::wire::unix_ms_now()
}

/// A TCP proxy on 127.0.0.1:0 in front of one upstream address.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    cut: Arc<Mutex<CancellationToken>>,
    refuse_until: Arc<Mutex<Option<Instant>>>,
    forwarded: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Proxy {
    /// Closes every open connection now and closes new ones at once for `outage`.
    pub fn cut_for(&self, outage: Duration) {
        *lock(&self.refuse_until) = Some(Instant::now() + outage);
        let old = std::mem::replace(&mut *lock(&self.cut), CancellationToken::new());
        old.cancel();
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// Connections closed at once because of an outage.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

/// Starts a proxy forwarding to `upstream` until `shutdown` is cancelled.
pub async fn spawn_proxy(upstream: SocketAddr, shutdown: CancellationToken) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let proxy = Proxy {
        addr: listener.local_addr().expect("proxy address"),
        cut: Arc::new(Mutex::new(CancellationToken::new())),
        refuse_until: Arc::default(),
        forwarded: Arc::default(),
        refused: Arc::default(),
    };
    let (cut, refuse_until) = (Arc::clone(&proxy.cut), Arc::clone(&proxy.refuse_until));
    let (forwarded, refused) = (Arc::clone(&proxy.forwarded), Arc::clone(&proxy.refused));
    tokio::spawn(async move {
        loop {
            let mut downstream = tokio::select! {
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            if lock(&refuse_until).is_some_and(|until| Instant::now() < until) {
                refused.fetch_add(1, Ordering::SeqCst);
                drop(downstream);
                continue;
            }
            forwarded.fetch_add(1, Ordering::SeqCst);
            let cut = lock(&cut).clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let Ok(mut upstream) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = (downstream.set_nodelay(true), upstream.set_nodelay(true));
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream) => {}
                    () = cut.cancelled() => {}
                    () = shutdown.cancelled() => {}
                }
            });
        }
    });
    proxy
}

/// PEM files for TLS tests: a CA, a server certificate for `localhost` and
/// 127.0.0.1 signed by it with its key, and a second CA that signed nothing.
pub struct TestPki {
    /// The CA that signed `cert`.
    pub ca: PathBuf,
    /// An unrelated CA.
    pub other_ca: PathBuf,
    /// Server certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

fn test_ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert, rcgen::Issuer::new(params, key))
}

/// Writes a [`TestPki`] into `dir`.
pub fn write_test_pki(dir: &Path) -> TestPki {
    let (ca, issuer) = test_ca("lv test CA");
    let (other_ca, _) = test_ca("lv unrelated test CA");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server certificate params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    TestPki {
        ca: crate::write_file(dir, "ca.pem", &ca.pem()),
        other_ca: crate::write_file(dir, "other-ca.pem", &other_ca.pem()),
        cert: crate::write_file(dir, "server.pem", &cert.pem()),
        key: crate::write_file(dir, "server.key", &key.serialize_pem()),
    }
}

/// A target that answers every request 200 with the JSON body `answer(n)`, `n` counting
/// requests from 0, and counts requests like [`crate::spawn_target`].
pub async fn spawn_answering_target(
    answer: fn(u64) -> String,
    shutdown: CancellationToken,
) -> crate::Target {
    crate::spawn_responding_target(
        move |_, n| (hyper::StatusCode::OK, bytes::Bytes::from(answer(n))),
        shutdown,
    )
    .await
}
