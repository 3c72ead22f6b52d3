//! Abort rules against `lv-fleet-sim`: a rule that fails for its grace stops a long run early
//! with exit code 1 and every report written and naming it; `--abort-on-slo` makes a plain
//! target of the table stop the run; a rule that holds lets the run end at its run time; and
//! a bad abort key is a configuration error naming the file, the line and the key.

use std::path::Path;
use std::time::{Duration, Instant};

use lv_master::report::summary::read_json;
use lv_tests::harness::master_args;
use lv_tests::{
    bin, command_without_lv_env, master_config, output_within, run_cluster, write_file,
};
use tokio_util::sync::CancellationToken;

/// Requests to two agents of the fleet, as fast as they answer (a 20 ms pause per user).
const SCENARIO: &str = "[[user]]\nname = \"Checker\"\nwait = { constant = 0.02 }\n\
    [[user.task]]\n[[user.task.step]]\nagent = \"ATLAS\"\npath = \"/health\"\nkind = \"health\"\n\
    [[user.task]]\n[[user.task.step]]\nagent = \"HADES\"\npath = \"/health\"\nkind = \"health\"\n";

/// An SLO table whose own targets a healthy simulated fleet passes by far; `failure` is its
/// `max_failure_ratio`.
fn table(failure: f64, tail: &str) -> String {
    format!(
        "max_failure_ratio = {failure}\np95_over_avg = 100.0\np99_over_avg = 100.0\n\
         ratio_floor_ms = 100.0\nratio_min_requests = 50\n\
         [avg_ms.health]\nlight = 1000\n{tail}"
    )
}

/// The issue's rule: failure ratio under 1%, stopping the run once it failed for 3 s.
const RULE: &str = "[[rules]]\nmax_failure_ratio = 0.01\nabort = true\nafter = \"3s\"\n";

/// A simulated fleet on ephemeral ports failing `error_rate` of its requests (seeded), its
/// map written to `fleet`.
async fn fleet(error_rate: f64, fleet: &Path, stop: CancellationToken) -> lv_fleet_sim::Sim {
    let config = lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.01,
        error_rate,
        seed: Some(22),
        ..lv_fleet_sim::SimConfig::default()
    };
    let sim = lv_fleet_sim::start(config, stop)
        .await
        .expect("the simulator starts");
    lv_fleet_sim::write_fleet_file(fleet, sim.fleet()).expect("write the fleet map");
    sim
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The Aggregated request count of a Locust-format `_stats.csv`.
fn csv_aggregated_requests(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let row = text
        .lines()
        .find(|line| line.contains(",Aggregated,"))
        .unwrap_or_else(|| panic!("no Aggregated row in {text}"));
    row.split(',')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a request count")
}

/// Against a fleet failing half its requests, `failure_ratio < 1%` with `abort = true` and
/// `after = "3s"` stops a 5-minute run within the grace plus a few seconds: exit 1, JSON,
/// HTML and CSV reports complete, and the console, the JSON and the HTML name the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_abort_rule_stops_a_five_minute_run_with_full_reports() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet_file = dir.path().join("fleet.toml");
    let sim = fleet(0.5, &fleet_file, stop.child_token()).await;
    let scenario = write_file(dir.path(), "checks.toml", SCENARIO);
    let slo = write_file(dir.path(), "slo.toml", &table(0.9, RULE));
    let (json, html, csv) = (
        dir.path().join("run.json"),
        dir.path().join("run.html"),
        dir.path().join("run"),
    );
    let args = master_args(
        &scenario,
        0,
        &[
            "--fleet",
            utf8(&fleet_file),
            "-H",
            "http://127.0.0.1",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "5m",
            "--slo",
            utf8(&slo),
            "--slo-level",
            "light",
            "--json",
            utf8(&json),
            "--html",
            utf8(&html),
            "--csv",
            utf8(&csv),
        ],
    );
    let mut command = command_without_lv_env(&bin("lv-master"));
    command.args(&args);
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(60), command.kill_on_drop(true).output())
        .await
        .expect("lv-master ends well before its 5-minute run time")
        .expect("lv-master runs");
    let wall = started.elapsed();
    let fleet_total = sim.counts().total;
    stop.cancel();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    // 3 s of grace, failing from the first report (2 s), judged once a second, then the
    // stop: well under 20 s for a run of 5 minutes.
    assert!(wall < Duration::from_secs(20), "exited after {wall:?}");

    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.exit_code, 1);
    let aborted = summary
        .aborted
        .as_ref()
        .expect("the JSON names the abort rule");
    assert_eq!(
        (aborted.rule.as_str(), aborted.metric.as_str()),
        ("rules[1]", "failure_ratio")
    );
    assert_eq!(aborted.target, "< 1%");
    assert_eq!(aborted.after_s, 3.0);
    assert!(
        aborted.failing_s >= 3.0 && aborted.failing_s < 5.0,
        "{aborted:?}"
    );
    assert!(aborted.at_s >= 3.0 && aborted.at_s < 15.0, "{aborted:?}");
    assert!(
        (0.3..0.7).contains(&aborted.measured),
        "half the requests fail: {aborted:?}"
    );
    assert!(summary.run_time_s < 16.0, "{}", summary.run_time_s);
    assert!(
        summary
            .verdict
            .starts_with("failed: abort rule rules[1] stopped the run"),
        "{}",
        summary.verdict
    );
    // Complete: every request the fleet saw is in the report, failures included, and the
    // rule's verdict is in the table too.
    assert!(summary.total.requests > 0);
    assert_eq!(summary.total.requests + summary.cut_off, fleet_total);
    let ratio = summary.total.failures as f64 / summary.total.requests as f64;
    assert!((0.3..0.7).contains(&ratio), "{ratio}");
    assert!(!summary.history.is_empty());
    let verdicts = summary.slo.as_ref().expect("SLO verdicts");
    assert!(verdicts.iter().any(|v| v.stage.is_none()
        && v.kind.is_none()
        && v.metric == "failure_ratio"
        && v.status == lv_master::slo::Status::Fail));

    assert_eq!(
        csv_aggregated_requests(&csv.with_file_name("run_stats.csv")),
        summary.total.requests
    );
    for suffix in ["_stats_history.csv", "_failures.csv", "_exceptions.csv"] {
        assert!(
            csv.with_file_name(format!("run{suffix}")).exists(),
            "{suffix}"
        );
    }
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(
        page.contains("abort rule rules[1] stopped the run"),
        "HTML names the rule"
    );
    assert!(
        stdout.contains("Result: failed: abort rule rules[1] stopped the run"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&aborted.reason),
        "the console says why: {stdout}"
    );
}

/// `--abort-on-slo` makes the table's own `max_failure_ratio` (no `abort` anywhere) stop the
/// run at the first judgment that sees it fail; without the flag the run goes to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_on_slo_turns_a_plain_target_into_an_abort_rule() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet_file = dir.path().join("fleet.toml");
    let _sim = fleet(0.5, &fleet_file, stop.child_token()).await;
    let scenario = write_file(dir.path(), "checks.toml", SCENARIO);
    let slo = write_file(dir.path(), "slo.toml", &table(0.01, ""));
    let run = |run_time: &'static str, abort: bool| {
        let mut words = vec![
            "-f",
            utf8(&scenario),
            "--fleet",
            utf8(&fleet_file),
            "-H",
            "http://127.0.0.1",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            run_time,
            "--headless",
            "--only-summary",
            "--slo",
            utf8(&slo),
            "--slo-level",
            "light",
        ];
        if abort {
            words.push("--abort-on-slo");
        }
        master_config(&words).expect("valid config")
    };
    let outcome = run_cluster(run("5m", true), 0, &stop, Duration::from_secs(40)).await;
    assert_eq!(outcome.exit_code, 1, "{}", outcome.summary.verdict);
    let aborted = outcome.summary.aborted.as_ref().expect("stopped by a rule");
    assert_eq!(aborted.rule, "max_failure_ratio");
    assert_eq!(aborted.kind, Some(lv_common::kind::SloKind::Health));
    assert_eq!((aborted.after_s, aborted.failing_s), (0.0, 0.0), "no grace");
    assert!(
        outcome.summary.run_time_s < 10.0,
        "{}",
        outcome.summary.run_time_s
    );
    assert!(outcome.summary.total.requests > 0);

    let outcome = run_cluster(run("4s", false), 0, &stop, Duration::from_secs(40)).await;
    assert_eq!(outcome.exit_code, 1, "the target fails at the end");
    assert!(outcome.summary.aborted.is_none());
    assert!(
        outcome.summary.run_time_s >= 4.0,
        "{}",
        outcome.summary.run_time_s
    );
    stop.cancel();
}

/// A rule with `abort = true` that holds (a healthy fleet), with `--abort-on-slo` on top,
/// lets the run end at its run time with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_holds_does_not_stop_the_run() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet_file = dir.path().join("fleet.toml");
    let _sim = fleet(0.0, &fleet_file, stop.child_token()).await;
    let scenario = write_file(dir.path(), "checks.toml", SCENARIO);
    let slo = write_file(dir.path(), "slo.toml", &table(0.01, RULE));
    let words = [
        "-f",
        utf8(&scenario),
        "--fleet",
        utf8(&fleet_file),
        "-H",
        "http://127.0.0.1",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "4s",
        "--headless",
        "--only-summary",
        "--slo",
        utf8(&slo),
        "--slo-level",
        "light",
        "--abort-on-slo",
    ];
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, 0, &stop, Duration::from_secs(40)).await;
    assert_eq!(outcome.exit_code, 0, "{}", outcome.summary.verdict);
    assert!(outcome.summary.aborted.is_none());
    assert!(
        outcome.summary.run_time_s >= 4.0,
        "{}",
        outcome.summary.run_time_s
    );
    assert!(outcome.summary.total.requests > 0);
    assert_eq!(outcome.summary.total.failures, 0);
    stop.cancel();
}

/// `abort = "yes"`, `after = "soon"` and an unknown key of `[abort]` are configuration
/// errors (exit 2) naming the file, the line and the key; so is `--abort-on-slo` with the
/// verdicts off.
#[test]
fn bad_abort_keys_are_configuration_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write_file(
        dir.path(),
        "ping.toml",
        "[[user]]\nname = \"Pinger\"\n[[user.task]]\n[[user.task.step]]\n\
         url = \"http://127.0.0.1:9\"\npath = \"/ping\"\n",
    );
    // The table's eighth line is the first of `tail`.
    let cases = [
        (
            "[[rules]]\nmax_failure_ratio = 0.01\nabort = \"yes\"\n",
            "slo.toml:10: abort: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[[rules]]\nmax_failure_ratio = 0.01\nafter = \"soon\"\n",
            "slo.toml:10: after: invalid duration \"soon\"",
        ),
        (
            "[abort]\ntargets = [\"max_failure_ratio\"]\ngrace = \"3s\"\n",
            "slo.toml:10: unknown field `grace`",
        ),
    ];
    for (tail, expected) in cases {
        let slo = write_file(dir.path(), "slo.toml", &table(0.01, tail));
        let mut command = command_without_lv_env(&bin("lv-master"));
        command.args(master_args(
            &scenario,
            0,
            &["-t", "1s", "--slo", utf8(&slo), "--slo-level", "light"],
        ));
        let output = output_within(&mut command, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{tail}: {stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
    let mut command = command_without_lv_env(&bin("lv-master"));
    command.args(master_args(
        &scenario,
        0,
        &["-t", "1s", "--no-slo", "--abort-on-slo"],
    ));
    let output = output_within(&mut command, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--abort-on-slo") && stderr.contains("--no-slo"),
        "{stderr}"
    );
}
