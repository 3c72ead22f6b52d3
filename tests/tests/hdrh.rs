//! The JSON report's histograms read by another HdrHistogram library: Python's `hdrh`
//! (PyPI `hdrhistogram`), through `tests/scripts/hdrh_check.py`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use lv_tests::{Target, master_config, run_cluster, spawn_target, workspace_root, write_file};
use tokio_util::sync::CancellationToken;

/// Set to 1 (CI does) to make a missing python3 or `hdrh` a failure instead of a skip.
const REQUIRE: &str = "LV_REQUIRE_PYTHON_HDRH";

/// Two endpoints, so the aggregated percentiles come from adding histograms.
fn scenario(target: &Target) -> String {
    let url = target.url();
    format!(
        "[[user]]\nname = \"Two\"\nwait = {{ constant = 0.01 }}\n\
         [[user.task]]\nweight = 3\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/a\"\n\
         [[user.task]]\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/b\"\n"
    )
}

/// True when `python3 -c "import hdrh"` works; otherwise fails under [`REQUIRE`] or says
/// loudly that the test is skipped.
fn python_hdrh_available() -> bool {
    let probe = Command::new("python3").args(["-c", "import hdrh"]).output();
    let reason = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("no message")
            .to_owned(),
        Err(err) => format!("python3 cannot start: {err}"),
    };
    assert!(
        std::env::var(REQUIRE).as_deref() != Ok("1"),
        "{REQUIRE}=1 but python3 with hdrh is not available ({reason}); \
         pip install hdrhistogram"
    );
    eprintln!(
        "\n*** SKIPPED hdrh::python_hdrh_reads_the_json_histograms: python3 with hdrh is not \
         available ({reason}); pip install hdrhistogram, or set {REQUIRE}=1 to fail ***\n"
    );
    false
}

fn hdrh_check(report: &Path) -> Output {
    Command::new("python3")
        .arg(workspace_root().join("tests/scripts/hdrh_check.py"))
        .arg(report)
        .output()
        .expect("python3 runs")
}

/// A real two-worker run's `--json` histograms decode with Python's `hdrh`: per endpoint the
/// count equals `requests`, and the endpoints added give the report's total p50/p95/p99. The
/// same report with one count changed is refused, so the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_hdrh_reads_the_json_histograms() {
    if !python_hdrh_available() {
        return;
    }
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "two.toml", &scenario(&target));
    let json = dir.path().join("report.json");
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
        "2",
        "--expect-workers-max-wait",
        "20s",
        "--headless",
        "--only-summary",
        "--json",
        json.to_str().expect("utf-8 path"),
    ];
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, 2, &stop, Duration::from_secs(40)).await;
    stop.cancel();
    let summary = &outcome.summary;
    assert_eq!(summary.endpoints.len(), 2, "{:?}", summary.endpoints);
    assert!(summary.endpoints.iter().all(|e| e.requests > 10));
    assert_eq!(summary.total.requests, target.total());

    let checked = hdrh_check(&json);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{stdout}\n{stderr}");
    for e in summary.endpoints.iter().chain([&summary.total]) {
        let label = format!("{} {}", e.method, e.name);
        let line = format!(
            "{}: {n} samples, report says {n} requests",
            label.trim(),
            n = e.requests
        );
        assert!(stdout.contains(&line), "{line} in\n{stdout}");
    }
    assert!(
        stdout.contains("2 endpoints and the total agree with hdrh"),
        "{stdout}"
    );

    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("JSON");
    report["endpoints"][0]["requests"] = (summary.endpoints[0].requests + 1).into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, report.to_string()).expect("write");
    let refused = hdrh_check(&tampered);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
}
