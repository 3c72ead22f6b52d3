//! Workers' own load, from real `lv-worker` processes: a worker pinned to one core and
//! kept busy decoding gzip bodies shows its CPU in `/stats/requests`, `/metrics` and the
//! run's JSON report, and the run carries the generator warning; an idle worker shows a
//! small but non-zero CPU and its memory.

use std::path::Path;
use std::time::{Duration, Instant};

use lv_tests::harness::{Proc, spawn_worker_process};
use lv_tests::write_file;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::web::{Master, get, spawn_master};

/// Bytes of zeros each gzip answer decodes to: a few ms of inflating for the worker (more
/// in a debug build), 8 KiB on the wire for the target.
const DECODED: usize = 8 << 20;

/// A target answering every request with a gzip body of [`DECODED`] zeros, on keep-alive
/// connections; stops with `stop`.
async fn gzip_target(stop: CancellationToken) -> String {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; DECODED]).expect("gzip");
    let body = encoder.finish().expect("gzip");
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let answer: &'static [u8] = answer.leak();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        loop {
            let mut socket = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
            };
            tokio::spawn(async move {
                let (mut pending, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    url
}

/// One user class sending `GET /load` to `url`, waiting `wait_s` between requests.
fn scenario(dir: &Path, url: &str, wait_s: f64) -> std::path::PathBuf {
    let text = format!(
        "[[user]]\nname = \"Load\"\nwait = {{ constant = {wait_s} }}\n\
         [[user.task]]\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/load\"\n"
    );
    write_file(dir, "load.toml", &text)
}

/// Clock ticks per second of `/proc/PID/stat`.
fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf CLK_TCK");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a tick rate")
}

/// User + system CPU seconds of process `pid` so far.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let rest = &stat[stat.rfind(')').expect("a command name") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks_used: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks_used / ticks
}

/// The CPU percent of core 0 a busy loop pinned to it gets now, over `span`: what this
/// machine lets a one-core process have (100 when nothing else wants the core; less when
/// other processes, or other cgroups with equal weight, share it).
async fn pinned_busy_share(span: Duration, ticks: f64) -> f64 {
    let mut busy = Proc::start(
        Path::new("taskset"),
        &["-c", "0", "sh", "-c", "while :; do :; done"],
        "busy-loop",
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (start, at) = (cpu_seconds(busy.pid, ticks), Instant::now());
    tokio::time::sleep(span).await;
    let used = cpu_seconds(busy.pid, ticks) - start;
    let share = used / at.elapsed().as_secs_f64() * 100.0;
    busy.kill9().await;
    share
}

/// The first worker row of `/stats/requests`.
async fn worker_row(master: &Master) -> Value {
    let stats = get(&master.url("/stats/requests")).await.json();
    stats["workers"][0].clone()
}

/// Waits until the run is over and returns its JSON report.
async fn finished_report(master: &Master, run_id: &str) -> Value {
    master
        .wait_status("the run to end", |s| s["state"] == "stopped")
        .await;
    get(&master.url(&format!("/api/v1/runs/{run_id}/json")))
        .await
        .json()
}

/// A worker pinned to one core (`taskset -c 0`, so 100% is that core) with 20 users that
/// never wait, each decoding 8 MiB of gzip per request, is CPU-bound: it reports the CPU
/// it gets, which matches what the test measures of its process from outside and is at
/// least 80% of what a busy loop gets on that core just before and just after the run (on
/// an idle machine that is > 80% CPU; on a machine shared with other busy cgroups their
/// fair share caps every process of ours alike, busy loop included). Its runtime falls
/// behind, so the run carries the generator warning naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_bound_worker_shows_its_cpu_and_limits_the_run() {
    let stop = CancellationToken::new();
    let url = gzip_target(stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let master = spawn_master(&scenario(dir.path(), &url, 0.0), &reports, &[]).await;
    let ticks = clock_ticks();
    let before = pinned_busy_share(Duration::from_secs(2), ticks).await;
    let mut worker = Proc::start(
        Path::new("taskset"),
        &[
            "-c",
            "0",
            lv_tests::bin("lv-worker").to_str().expect("utf-8 path"),
            "--master",
            &master.workers,
            "--worker-id",
            "busy",
        ],
        "worker",
    );
    master
        .wait_status("the worker", |s| s["worker_count"] == 1)
        .await;
    let run_id = master
        .swarm("user_count=20&spawn_rate=100&run_time=9s")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (outside_from, from) = (cpu_seconds(worker.pid, ticks), Instant::now());
    let mut live_cpu: f64 = 0.0;
    let mut live_memory = 0;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let row = worker_row(&master).await;
        live_cpu = live_cpu.max(row["cpu_usage"].as_f64().unwrap_or(0.0));
        live_memory = live_memory.max(row["memory_usage"].as_u64().unwrap_or(0));
    }
    let outside =
        (cpu_seconds(worker.pid, ticks) - outside_from) / from.elapsed().as_secs_f64() * 100.0;
    let metrics = get(&master.url("/metrics")).await.body;
    let report = finished_report(&master, &run_id).await;
    worker.kill9().await;
    stop.cancel();
    let after = pinned_busy_share(Duration::from_secs(2), ticks).await;
    // What the machine let a one-core process have, at its most crowded of the two.
    let reference = before.min(after);
    let floor = 0.8 * reference.min(100.0);

    eprintln!(
        "busy loop on core 0: {reference:.1}%, worker from outside: {outside:.1}%, live: {live_cpu:.1}%"
    );
    let load = &report["workers"][0]["resources"];
    let (peak, mean) = (
        load["cpu_percent"]["peak"].as_f64().unwrap_or(0.0),
        load["cpu_percent"]["mean"].as_f64().unwrap_or(0.0),
    );
    assert!(
        outside > floor,
        "the worker is CPU-bound: {outside:.1}% from outside, {reference:.1}% for a busy loop"
    );
    assert!(
        live_cpu > floor,
        "/stats/requests cpu_usage {live_cpu:.1}% (floor {floor:.1}%)"
    );
    assert!(
        peak > floor && peak <= 105.0,
        "JSON peak {peak:.1}% (floor {floor:.1}%): {load}"
    );
    assert!(
        (mean - outside).abs() < 20.0,
        "the worker's mean {mean:.1}% is what its process used, {outside:.1}%: {load}"
    );
    assert!(live_memory > 1_000_000, "memory_usage {live_memory}");
    assert!(
        load["memory_bytes"]["peak"].as_f64().unwrap_or(0.0) > 1e6,
        "{load}"
    );
    assert!(
        load["connections"]["peak"].as_f64().unwrap_or(0.0) >= 1.0,
        "{load}"
    );
    assert!(
        metrics.contains("lv_worker_cpu_percent{worker=\"busy\"}"),
        "{metrics}"
    );
    assert_eq!(report["generator_limited"], true, "{}", report["verdict"]);
    let warnings = report["generator_warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        warnings.iter().any(|w| w["worker_id"] == "busy"
            && (w["cause"] == "worker_cpu" || w["cause"] == "worker_sched_delay")),
        "{warnings:?}"
    );
    let verdict = report["verdict"].as_str().unwrap_or_default();
    assert!(
        verdict.contains(
            "the generator limited this run; its latencies include its own delay (worker busy"
        ),
        "{verdict}"
    );
}

/// A worker with one user that waits 1 s between requests uses a little CPU, never none
/// over a run, far from the limit, and shows its resident memory; nothing warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_shows_a_little_cpu_and_its_memory() {
    let stop = CancellationToken::new();
    let target = lv_tests::spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let master = spawn_master(&scenario(dir.path(), &target.url(), 1.0), &reports, &[]).await;
    let mut worker = spawn_worker_process(&master.workers, &["--worker-id", "idle"], "worker");
    master
        .wait_status("the worker", |s| s["worker_count"] == 1)
        .await;
    let run_id = master.swarm("user_count=1&spawn_rate=10&run_time=6s").await;
    let mut live_memory = 0;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        live_memory = live_memory.max(
            worker_row(&master).await["memory_usage"]
                .as_u64()
                .unwrap_or(0),
        );
    }
    let report = finished_report(&master, &run_id).await;
    worker.kill9().await;
    stop.cancel();

    let load = &report["workers"][0]["resources"];
    assert!(load["samples"].as_u64().unwrap_or(0) >= 3, "{load}");
    let (peak, mean) = (
        load["cpu_percent"]["peak"].as_f64().unwrap_or(-1.0),
        load["cpu_percent"]["mean"].as_f64().unwrap_or(-1.0),
    );
    assert!(
        mean > 0.0 && peak < 30.0,
        "a little CPU: peak {peak}%, mean {mean}%: {load}"
    );
    assert!(live_memory > 1_000_000, "memory_usage {live_memory}");
    let rss = load["memory_bytes"]["mean"].as_f64().unwrap_or(0.0);
    assert!(rss > 1e6 && rss < 1e9, "{load}");
    assert_eq!(report["generator_limited"], false, "{}", report["verdict"]);
    assert!(report.get("generator_warnings").is_none(), "{report}");
}
