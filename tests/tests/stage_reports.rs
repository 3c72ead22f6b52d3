//! Per-stage reports with real processes: an open-model shape of three short stages over two
//! worker processes against a counting target. The stages' counts add up to the run's and to
//! what the target received, `_stages.csv` agrees with the JSON, and a stage SLO rule that
//! cannot pass fails the run. A stage rule naming no stage of the run is a configuration
//! error.

use std::time::Duration;

use lv_master::report::summary::read_json;
use lv_master::slo::Status;
use lv_tests::harness::{master_args, ping_run, spawn_master_process, spawn_worker_process};
use lv_tests::{bin, write_file};

/// 50/s for 2 s, a ramp to 100/s over 2 s, 100/s for 2 s: 100 + 150 + 200 arrivals.
const SHAPE: &str = "[load]\nmodel = \"open\"\nstart = 50\nstages = [\n  \
    { name = \"warm\", duration = \"2s\", to = 50 },\n  \
    { name = \"ramp\", duration = \"2s\", to = 100 },\n  \
    { name = \"plateau\", duration = \"2s\", to = 100 },\n]\n";
const PLANNED: [u64; 3] = [100, 150, 200];

/// The shipped SLO table with `rules` appended.
fn slo_with(dir: &std::path::Path, rules: &str) -> std::path::PathBuf {
    let shipped = lv_tests::workspace_root().join("configs/slo.toml");
    let text = std::fs::read_to_string(shipped).expect("read configs/slo.toml");
    write_file(dir, "slo.toml", &format!("{text}\n{rules}"))
}

/// The Aggregated rows of `_stages.csv`: (stage, request count, failure count).
fn csv_aggregated(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|cells| cells.get(2) == Some(&"Aggregated"))
        .map(|cells| {
            let number = |i: usize| cells[i].parse::<u64>().expect("a count");
            (cells[0].to_owned(), number(3), number(4))
        })
        .collect()
}

/// Runs `command` to its end, within 30 s.
async fn finished(command: &mut tokio::process::Command) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("lv-master ended within 30 s")
        .expect("lv-master runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_tables_add_up_and_a_failing_stage_rule_fails_the_run() {
    let (stop, target, dir, scenario, json) = ping_run(0.0).await;
    let shape = write_file(dir.path(), "shape.toml", SHAPE);
    // No request is served in a microsecond: the plateau rule must fail; the warm one passes.
    let slo = slo_with(
        dir.path(),
        "[[rules]]\nstage = \"plateau\"\navg_ms = 0.001\n\n\
         [[rules]]\nstage = \"warm\"\nmax_failure_ratio = 0.5\n",
    );
    let csv = dir.path().join("run");
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30s",
            "--shape",
            shape.to_str().expect("utf-8 path"),
            "--slo",
            slo.to_str().expect("utf-8 path"),
            "--slo-level",
            "light",
            "--json",
            json.to_str().expect("utf-8 path"),
            "--csv",
            csv.to_str().expect("utf-8 path"),
        ],
    ))
    .await;
    let addr = addr.to_string();
    let mut workers: Vec<_> = (0..2)
        .map(|i| spawn_worker_process(&addr, &[], &format!("w{i}")))
        .collect();
    let code = master.exit_code(Duration::from_secs(60)).await;
    for worker in &mut workers {
        assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    }
    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        code,
        Some(i32::from(lv_master::EXIT_FAILED)),
        "{}\n{}",
        summary.verdict,
        master.stderr.text()
    );

    // Every arrival was sent once and counted once, in exactly one stage.
    let planned: u64 = PLANNED.iter().sum();
    assert_eq!(target.total(), planned, "the target's count");
    assert_eq!(summary.total.requests, planned);
    let names: Vec<&str> = summary.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["warm", "ramp", "plateau"]);
    let per_stage: Vec<u64> = summary.stages.iter().map(|s| s.total.requests).collect();
    assert_eq!(per_stage.iter().sum::<u64>(), planned, "{per_stage:?}");
    // The stage windows close on the workers at the boundaries. An arrival counts as started
    // in the stage it began in and its request in the stage it ended in, so each stage holds
    // its planned arrivals give or take the few in flight at a boundary.
    let mut started = 0;
    for (stage, (&got, &want)) in summary.stages.iter().zip(per_stage.iter().zip(&PLANNED)) {
        let open = stage.open.as_ref().expect("open-model stage");
        assert_eq!(open.planned, want, "{}", stage.name);
        assert!(
            got.abs_diff(want) <= 4,
            "{}: {got} requests of {want}",
            stage.name
        );
        assert!(
            open.started.abs_diff(want) <= 4,
            "{}: {} started of {want}",
            stage.name,
            open.started
        );
        assert_eq!(stage.total.failures, 0);
        started += open.started;
    }
    assert_eq!(started, planned, "started arrivals over the stages");
    let ramp = &summary.stages[1];
    assert_eq!((ramp.index, ramp.start_s, ramp.duration_s), (2, 2.0, 2.0));
    assert_eq!((ramp.target_from, ramp.target_to), (50.0, 100.0));
    assert_eq!(ramp.target_unit, "arrivals/s");
    let open = summary.open.as_ref().expect("open-model run");
    assert_eq!(open.started, planned);
    let interval_starts: u64 = open.intervals.iter().map(|i| i.started).sum();
    assert_eq!(interval_starts, planned, "{:?}", open.intervals);

    // _stages.csv agrees with the JSON.
    let text = std::fs::read_to_string(dir.path().join("run_stages.csv")).expect("_stages.csv");
    let rows = csv_aggregated(&text);
    let expected: Vec<(String, u64, u64)> = summary
        .stages
        .iter()
        .map(|s| (s.name.clone(), s.total.requests, s.total.failures))
        .collect();
    assert_eq!(rows, expected, "{text}");

    // The stage rules are in the verdicts: plateau failed, warm passed, nothing else failed.
    let verdicts = summary.slo.as_ref().expect("SLO verdicts on");
    let stage_verdict = |name: &str| {
        verdicts
            .iter()
            .find(|v| v.stage.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("a verdict for stage {name}: {verdicts:?}"))
    };
    assert_eq!(stage_verdict("plateau").status, Status::Fail);
    assert_eq!(stage_verdict("warm").status, Status::Pass);
    let failed: Vec<_> = verdicts
        .iter()
        .filter(|v| v.status == Status::Fail)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        summary.verdict.starts_with("failed: 1 SLO checks failed"),
        "{}",
        summary.verdict
    );

    // `lv-master report` rebuilds the same per-stage tables from the JSON, and `compare`
    // reads the new report.
    let again = dir.path().join("again");
    let mut command = lv_tests::command_without_lv_env(&bin("lv-master"));
    command
        .arg("report")
        .arg("--from")
        .arg(&json)
        .arg("--csv")
        .arg(&again);
    let output = finished(&mut command).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Stage 3/3 \"plateau\""), "{stdout}");
    let rebuilt = std::fs::read_to_string(dir.path().join("again_stages.csv")).expect("rebuilt");
    assert_eq!(rebuilt, text);
    let mut command = lv_tests::command_without_lv_env(&bin("lv-master"));
    command.arg("compare").arg(&json).arg(&json);
    let output = finished(&mut command).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stop.cancel();
}

#[test]
fn a_stage_rule_for_a_stage_the_run_lacks_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write_file(
        dir.path(),
        "ping.toml",
        "[[user]]\nname = \"Pinger\"\n[[user.task]]\n[[user.task.step]]\n\
         url = \"http://127.0.0.1:9\"\npath = \"/ping\"\n",
    );
    let shape = write_file(dir.path(), "shape.toml", SHAPE);
    let slo = slo_with(dir.path(), "[[rules]]\nstage = \"peak\"\np95_ms = 500\n");
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    let shape_arg = shape.to_str().expect("utf-8 path");
    // With the shape: an unknown stage; without one (a plain timed run): no stages at all.
    for extra in [&["--shape", shape_arg][..], &["-t", "1s"][..]] {
        let mut command = lv_tests::command_without_lv_env(&bin("lv-master"));
        command
            .arg("-f")
            .arg(&scenario)
            .arg("--fleet")
            .arg(&fleet)
            .args(["--headless", "--slo-level", "light", "--slo"])
            .arg(&slo)
            .args(extra);
        let output = lv_tests::output_within(&mut command, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("slo.toml"), "{stderr}");
        assert!(stderr.contains("rules[1]"), "{stderr}");
        assert!(stderr.contains("\"peak\""), "{stderr}");
        if extra[0] == "--shape" {
            assert!(stderr.contains("warm, ramp, plateau"), "{stderr}");
        } else {
            assert!(stderr.contains("the run has no stages"), "{stderr}");
        }
    }
}
