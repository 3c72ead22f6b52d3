//! `lv-master capacity` against the fleet simulator with a known capacity (an agent serving
//! C requests at once, each in exactly S ms: its knee is C / S per second), on two
//! `lv-worker` processes, with short holds. The searches' answers are read from `--json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lv_tests::harness::{self, Proc};
use lv_tests::{bin, command_without_lv_env, output_within, workspace_root, write_file};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

mod web;

/// Averages far from the knees, and a p95 limit of twice the service time in the hold.
fn slo_table(kind: &str, p95_ms: u64) -> String {
    format!(
        "max_failure_ratio = 0.01\np95_over_avg = 2.0\np99_over_avg = 5.0\n\
         ratio_floor_ms = 10.0\nratio_min_requests = 50\n\
         [avg_ms.chat]\nlight = 5000\n[avg_ms.event]\nlight = 1000\n[avg_ms.health]\nlight = 500\n\
         [[rules]]\nstage = \"hold\"\nkind = \"{kind}\"\np95_ms = {p95_ms}\n"
    )
}

/// The simulator answering at once, but for `slow` agents (fixed extra ms) and agents with
/// a `capacity` (requests served at once).
fn sim(slow: &[(&str, u64)], capacity: &[(&str, u32)]) -> lv_fleet_sim::SimConfig {
    lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.0,
        slow: slow.iter().map(|(a, ms)| ((*a).to_owned(), *ms)).collect(),
        capacity: capacity
            .iter()
            .map(|(a, c)| ((*a).to_owned(), *c))
            .collect(),
        seed: Some(7),
        ..lv_fleet_sim::SimConfig::default()
    }
}

/// One search: the simulator `config`, `lv-master capacity` with `args` and `workers`
/// worker processes (in-process workers when 0). Returns the exit code and the `capacity`
/// object of its JSON.
async fn search(
    dir: &Path,
    config: lv_fleet_sim::SimConfig,
    slo: &str,
    args: &[&str],
    workers: usize,
) -> (i32, Value) {
    let stop = CancellationToken::new();
    let sim = lv_fleet_sim::start(config, stop.clone())
        .await
        .expect("the simulator starts");
    let fleet = dir.join("fleet.toml");
    lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");
    let slo = write_file(dir, "slo.toml", slo);
    let json = dir.join("capacity.json");
    let scenarios = workspace_root().join("configs/scenarios");
    let mut words: Vec<String> = [
        "capacity",
        "-f",
        &scenarios.display().to_string(),
        "--fleet",
        &fleet.display().to_string(),
        "--slo",
        &slo.display().to_string(),
        "--slo-level",
        "light",
        "--master-bind-port",
        "0",
        "--hold",
        "2s",
        "--settle",
        "1s",
        "--max-lag",
        "50ms",
        "--reports-dir",
        &dir.join("steps").display().to_string(),
        "--json",
        &json.display().to_string(),
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .collect();
    words.extend(args.iter().map(|w| (*w).to_owned()));
    let expect = workers.to_string();
    if workers > 0 {
        words.extend(["--expect-workers".to_owned(), expect]);
    }
    let (mut master, addr) = harness::spawn_master_process(&words).await;
    let addr = addr.to_string();
    let _workers: Vec<Proc> = (0..workers)
        .map(|i| harness::spawn_worker_process(&addr, &[], &format!("worker{i}")))
        .collect();
    let code = master
        .exit_code(Duration::from_secs(300))
        .await
        .expect("an exit code");
    stop.cancel();
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON ({e}); stderr:\n{}", master.stderr.text()));
    let doc: Value = serde_json::from_str(&text).expect("the JSON parses");
    (code, doc["capacity"].clone())
}

/// The steps' loads, p95s and verdicts, for assertion messages.
fn steps(capacity: &Value) -> Vec<(f64, f64, String)> {
    capacity["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_f64().unwrap_or(-1.0);
            (
                f("load"),
                f("p95_ms"),
                s["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The search found `knee` within 15%, and p95 rose past it: every step well above the knee
/// has a p95 more than twice that of every passing step well below it.
fn assert_knee(capacity: &Value, knee: f64) {
    let steps = steps(capacity);
    eprintln!(
        "{}\nsteps (load, p95 ms, outcome): {steps:?}",
        capacity["summary"]
    );
    let found = capacity["result"]["load"].as_f64().expect("a capacity");
    assert_eq!(capacity["result"]["kind"], "capacity", "{steps:?}");
    assert!(
        (found - knee).abs() <= 0.15 * knee,
        "capacity {found} is not within 15% of the knee {knee}: {steps:?}"
    );
    let below = steps
        .iter()
        .filter(|s| s.0 < 0.9 * knee)
        .map(|s| s.1)
        .fold(0.0, f64::max);
    let above: Vec<f64> = steps
        .iter()
        .filter(|s| s.0 > 1.15 * knee)
        .map(|s| s.1)
        .collect();
    assert!(
        below > 0.0 && !above.is_empty(),
        "steps on both sides: {steps:?}"
    );
    assert!(
        above.iter().all(|&p| p > 2.0 * below),
        "p95 rises past the knee: {steps:?}"
    );
}

/// ATLAS serving 8 chats at once in 100 ms each (80/s): the search over AriaChatUser (one
/// ATLAS request per arrival: in the open model each arrival opens a conversation) answers
/// 80/s within 15%, on 2 worker processes; `--require` below it exits 0; the HTML curve is
/// written (and photographed when Chromium is installed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atlas_alone_is_found_at_its_knee() {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("capacity.html");
    let html_arg = html.display().to_string();
    let csv = dir.path().join("run");
    let csv_arg = csv.display().to_string();
    let args = [
        "AriaChatUser",
        "--start",
        "20",
        "--max",
        "200",
        "--require",
        "60",
        "--html",
        &html_arg,
        "--csv",
        &csv_arg,
    ];
    let fleet = sim(&[("ATLAS", 100)], &[("ATLAS", 8)]);
    let (code, capacity) = search(dir.path(), fleet, &slo_table("chat", 200), &args, 2).await;
    assert_knee(&capacity, 80.0);
    assert_eq!(code, 0, "--require 60 is below the capacity");
    let summary = capacity["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("arrivals/s of AriaChatUser (p95 limit, POST ATLAS /v1/chat"),
        "{summary}"
    );
    let rows = std::fs::read_to_string(dir.path().join("run_capacity.csv")).expect("the CSV");
    assert_eq!(
        rows.lines().count(),
        capacity["steps"].as_array().map_or(0, Vec::len) + 1
    );
    let page = std::fs::read_to_string(&html).expect("the HTML page");
    assert!(
        page.contains("<svg") && page.contains("knee:") && page.contains("chat p95 &lt; 200 ms")
    );
    screenshot(&html, "capacity-curve");
}

/// The event bus serving 6 requests at once in 100 ms each (60/s), with the publish and query
/// tasks (one request per arrival): found within 15%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_bus_is_found_at_its_knee() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "EventBusUser",
        "--tags",
        "publish,query",
        "--start",
        "15",
        "--max",
        "150",
    ];
    let fleet = sim(&[("EVENT-BUS", 100)], &[("EVENT-BUS", 6)]);
    let (code, capacity) = search(dir.path(), fleet, &slo_table("event", 200), &args, 2).await;
    assert_knee(&capacity, 60.0);
    assert_eq!(code, 0);
}

/// One worker allowed 2 iterations in flight against a 50 ms ATLAS with no capacity limit:
/// the worker drops arrivals long before ATLAS slows, so the answer is "generator-limited,
/// at least X" with X the last passing load, and `--require` above it exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_generator_is_reported_as_at_least() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "AriaChatUser",
        "--start",
        "10",
        "--max",
        "500",
        "--max-in-flight",
        "2",
        "--require",
        "400",
    ];
    let fleet = sim(&[("ATLAS", 50)], &[]);
    let (code, capacity) = search(dir.path(), fleet, &slo_table("chat", 200), &args, 1).await;
    let steps = steps(&capacity);
    assert_eq!(capacity["result"]["kind"], "generator_limited", "{steps:?}");
    let at_least = capacity["result"]["at_least"].as_f64().expect("at least");
    assert!((10.0..100.0).contains(&at_least), "{steps:?}");
    let last = capacity["steps"]
        .as_array()
        .and_then(|s| s.last())
        .expect("a step");
    assert!(
        last["note"]
            .as_str()
            .unwrap_or("")
            .contains("arrivals dropped"),
        "{last}"
    );
    let summary = capacity["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("generator-limited, at least"), "{summary}");
    assert!(summary.contains("add workers"), "{summary}");
    assert_eq!(code, 1, "--require 400 is above what was vouched for");
}

/// A target that never slows: the search stops at --max ("at least max"); `--require` above
/// it exits 1, at or below it 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_gates_the_exit_code() {
    for (require, want) in [("12", 1), ("8", 0)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = [
            "AriaChatUser",
            "--start",
            "5",
            "--max",
            "10",
            "--require",
            require,
        ];
        let fleet = sim(&[("ATLAS", 20)], &[]);
        let (code, capacity) = search(dir.path(), fleet, &slo_table("chat", 200), &args, 1).await;
        assert_eq!(
            capacity["result"]["kind"],
            "at_least_max",
            "{:?}",
            steps(&capacity)
        );
        assert_eq!(capacity["result"]["load"], 10.0);
        assert_eq!(code, want, "--require {require}");
    }
}

/// Half the requests fail: the first step is stopped early, long before its 30 s hold
/// ends (fewer requests than the hold would have held), judged failed, and the answer is
/// "below start".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plainly_failing_step_stops_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = lv_fleet_sim::SimConfig {
        error_rate: 0.5,
        ..sim(&[], &[])
    };
    let args = [
        "AriaChatUser",
        "--start",
        "40",
        "--max",
        "60",
        "--hold",
        "30s",
    ];
    let (code, capacity) = search(dir.path(), config, &slo_table("chat", 200), &args, 1).await;
    let step = &capacity["steps"][0];
    assert_eq!(step["stopped_early"], true, "{step}");
    assert_eq!(step["outcome"], "fail", "{step}");
    assert_eq!(step["rule"]["metric"], "failure_ratio", "{step}");
    let requests = step["requests"].as_u64().expect("requests");
    assert!(
        (50..40 * 30 / 2).contains(&requests),
        "stopped early: {requests} requests"
    );
    // Its achieved rate is over the seconds it ran, not the whole planned hold.
    let achieved = step["achieved_rate"].as_f64().expect("an achieved rate");
    assert!(
        (30.0..50.0).contains(&achieved),
        "achieved {achieved}/s of 40/s"
    );
    assert_eq!(capacity["steps"].as_array().map(Vec::len), Some(1));
    assert_eq!(capacity["result"]["kind"], "below_start");
    assert_eq!(code, 0, "no --require: the search concluded");
}

/// With `--web-port` the search is served read-only: its steps appear in `/api/v1/runs`
/// while it goes, and a start from the web is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_steps_appear_live_on_a_read_only_web_ui() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready.json");
    let ready_arg = ready.display().to_string();
    let args = [
        "AriaChatUser",
        "--start",
        "20",
        "--max",
        "40",
        "--web-port",
        "0",
        "--ready-file",
        &ready_arg,
    ];
    let watcher = tokio::spawn(watch_runs(ready.clone()));
    let fleet = sim(&[("ATLAS", 20)], &[]);
    let (code, capacity) = search(dir.path(), fleet, &slo_table("chat", 200), &args, 1).await;
    let (seen, swarm) = watcher.await.expect("the watcher");
    assert_eq!(
        (code, &capacity["result"]["kind"]),
        (0, &Value::from("at_least_max"))
    );
    assert!(
        seen >= 2,
        "{seen} of the 3 steps were seen as finished runs while the search went on"
    );
    assert!(
        swarm.is_client_error(),
        "a start from the web is refused: {swarm}"
    );
}

/// Reads the web address from the ready file at `path`, tries a start (returning its
/// status), then polls `/api/v1/runs` until the server goes away; returns the most runs seen.
async fn watch_runs(path: PathBuf) -> (usize, hyper::StatusCode) {
    let read = || {
        let text = std::fs::read_to_string(&path).ok()?;
        let ready: Value = serde_json::from_str(&text).ok()?;
        ready["web"].as_str().map(str::to_owned)
    };
    assert!(
        harness::wait_until(Duration::from_secs(60), || read().is_some()).await,
        "no web address"
    );
    let url = read().unwrap_or_default();
    let swarm = crate::web::post(&format!("{url}/swarm"), "user_count=1&spawn_rate=1").await;
    let mut seen = 0;
    let runs: hyper::Uri = format!("{url}/api/v1/runs").parse().expect("a URI");
    for _ in 0..600 {
        let Ok(Ok(response)) = tokio::time::timeout(
            Duration::from_secs(5),
            crate::web::client().get(runs.clone()),
        )
        .await
        else {
            break;
        };
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await;
        let Ok(bytes) = bytes.map(|b| b.to_bytes()) else {
            break;
        };
        let list: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        seen = seen.max(list.as_array().map_or(0, Vec::len));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (seen, swarm.status)
}

/// Bad options exit 2 naming the option, before anything binds.
#[test]
fn bad_options_exit_2_naming_the_option() {
    let scenarios = workspace_root()
        .join("configs/scenarios")
        .display()
        .to_string();
    let fleet = workspace_root()
        .join("configs/fleet.toml")
        .display()
        .to_string();
    let slo = workspace_root()
        .join("configs/slo.toml")
        .display()
        .to_string();
    for (extra, named) in [
        (&["--factor", "1"][..], "--factor"),
        (&["--start", "50", "--max", "10"][..], "--max"),
        (&["--rate", "5/s"][..], "--rate"),
        (&["--precision", "0"][..], "--precision"),
        (&["--hold", "0s"][..], "--hold"),
        (&["--model", "half"][..], "--model"),
        (&["--model", "closed", "--start", "2.5"][..], "--start"),
        (&["--no-slo"][..], "--no-slo"),
    ] {
        let mut words = vec![
            "capacity", "-f", &scenarios, "--fleet", &fleet, "--slo", &slo,
        ];
        if !extra.contains(&"--no-slo") {
            words.extend(["--slo-level", "light"]);
        }
        words.extend(extra);
        words.extend(["--master-bind-port", "0"]);
        let mut command = command_without_lv_env(&bin("lv-master"));
        command.args(&words);
        let out = output_within(&mut command, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(named), "{extra:?} names {named}: {stderr}");
    }
    // Without a level there is nothing to judge the steps by.
    let mut command = command_without_lv_env(&bin("lv-master"));
    command.args(["capacity", "-f", &scenarios, "--fleet", &fleet]);
    let out = output_within(&mut command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--slo-level"), "{stderr}");
}

/// Photographs `html` with headless Chromium into `target/browser/NAME.png` when Chromium is
/// installed (`LV_REQUIRE_BROWSER=1` makes its absence a failure), and checks the picture
/// is not blank.
fn screenshot(html: &Path, name: &str) {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| which(p).is_some())
        .and_then(|p| which(&p))
    else {
        assert!(
            std::env::var("LV_REQUIRE_BROWSER").is_err(),
            "LV_REQUIRE_BROWSER is set but chromium is not on the PATH"
        );
        eprintln!("SKIPPED the capacity curve's screenshot: no chromium on the PATH");
        return;
    };
    let dir = workspace_root().join("target/browser");
    std::fs::create_dir_all(&dir).expect("create target/browser");
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let mut command = tokio::process::Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1000,800",
        &format!("--screenshot={}", png.display()),
        &format!("file://{}", html.display()),
    ]);
    let out = std::thread::scope(|s| {
        s.spawn(|| output_within(&mut command, Duration::from_secs(90)))
            .join()
            .expect("the screenshot thread")
    });
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a {size}-byte screenshot of {}: {}",
        html.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `program` on the PATH.
fn which(program: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
