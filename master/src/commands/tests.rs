//! Tests of the `compare`, `report` and `explain-exit` commands on real files, of the ready
//! file, and of exit codes.

use std::path::Path;

use clap::Parser as _;
use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;

use super::*;
use crate::report::summary::{RunMeta, Summary, stats_rows, write_json};

/// A run of 10 s whose health endpoint took 1..=100 ms times `scale`.
fn summary(scale: u64) -> Summary {
    let mut stats = StatsSet::default();
    for ms in 1..=100u64 {
        let kind = Some(SloKind::Health);
        stats.record_request("GET", "ATLAS /health", kind, ms * scale * 1000, 10, None);
    }
    let (total, endpoints, failures, exceptions) = stats_rows(&stats, 10.0);
    Summary {
        run_id: format!("run-x{scale}"),
        users: 5,
        run_time_s: 10.0,
        exit_code: 0,
        verdict: "passed".into(),
        generator_limited: false,
        generator_warnings: Vec::new(),
        started_unix_ms: 1_700_000_000_000,
        ended_unix_ms: 1_700_000_010_000,
        workers: Vec::new(),
        total,
        endpoints,
        failures,
        exceptions,
        cut_off: 0,
        below_target: Vec::new(),
        checkpoint: false,
        open: None,
        stages: Vec::new(),
        master_outages: Vec::new(),
        resume: None,
        aborted: None,
        meta: RunMeta::default(),
        history: Vec::new(),
        slo: None,
    }
}

fn write(dir: &Path, name: &str, summary: &Summary) -> PathBuf {
    let path = dir.join(name);
    write_json(summary, &path).expect("write report");
    path
}

fn compare_args(base: &Path, new: &Path) -> CompareArgs {
    CompareArgs {
        base: base.to_owned(),
        new: new.to_owned(),
        max_regression: 10.0,
        record: None,
    }
}

fn report_args(from: &Path) -> ReportArgs {
    ReportArgs {
        from: from.to_owned(),
        json: None,
        csv: None,
        csv_full_history: false,
        html: None,
        record: None,
    }
}

#[test]
fn compare_exits_0_without_and_1_with_a_regression() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = write(dir.path(), "base.json", &summary(1));
    let slower = write(dir.path(), "slower.json", &summary(2));
    assert_eq!(compare(&compare_args(&base, &base)).expect("compares"), 0);
    assert_eq!(compare(&compare_args(&base, &slower)).expect("compares"), 1);
    let log = dir.path().join("benchmarks.md");
    let mut args = compare_args(&base, &slower);
    args.record = Some(log.clone());
    assert_eq!(compare(&args).expect("compares and records"), 1);
    let text = std::fs::read_to_string(&log).expect("benchmark log");
    assert_eq!(text.matches("run-x2").count(), 1, "{text}");
}

#[test]
fn compare_errors_name_the_file_and_map_to_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = write(dir.path(), "base.json", &summary(1));
    let missing = dir.path().join("missing.json");
    let err = compare(&compare_args(&base, &missing)).expect_err("missing NEW");
    assert!(matches!(
        err,
        CommandError::BadReport {
            command: "compare",
            ..
        }
    ));
    assert!(err.to_string().contains("missing.json"), "{err}");
    assert_eq!(err.exit_code(), EXIT_USAGE);
    let mut args = compare_args(&base, &base);
    args.record = Some(base.join("under-a-file.md"));
    let err = compare(&args).expect_err("unwritable log");
    assert!(matches!(err, CommandError::Record { .. }), "{err}");
    assert_eq!(err.exit_code(), EXIT_CANNOT_RUN);
}

#[test]
fn report_rewrites_the_json_and_refuses_a_corrupt_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = summary(1);
    let from = write(dir.path(), "run.json", &original);
    let again = dir.path().join("again.json");
    let mut args = report_args(&from);
    args.json = Some(again.clone());
    assert_eq!(report(&args).expect("writes the report"), 0);
    let rewritten = read_json(&again).expect("rewritten report");
    assert_eq!(rewritten.total.requests, 100);
    assert_eq!(rewritten.total.p99_ms, original.total.p99_ms);
    assert_eq!(rewritten.total.histogram, original.total.histogram);

    let mut corrupt = original;
    corrupt.endpoints[0].histogram = "AAAA".into();
    let corrupt = write(dir.path(), "corrupt.json", &corrupt);
    let err = report(&report_args(&corrupt)).expect_err("corrupt histogram");
    assert!(
        err.to_string().starts_with("report: GET ATLAS /health"),
        "{err}"
    );
    assert_eq!(err.exit_code(), EXIT_USAGE);

    let mut args = report_args(&from);
    args.json = Some(from.join("under-a-file.json"));
    let err = report(&args).expect_err("unwritable output");
    assert!(
        matches!(&err, CommandError::Outputs(errors) if errors.len() == 1),
        "{err}"
    );
    assert_eq!(err.exit_code(), EXIT_CANNOT_RUN);
}

#[test]
fn help_exits_0_and_usage_errors_exit_2() {
    let help = CommandError::from(LoadError::Clap(
        Args::try_parse_from(["lv-master", "--help"]).expect_err("help"),
    ));
    assert_eq!(help.exit_code(), EXIT_OK);
    let usage = CommandError::from(LoadError::Clap(
        Args::try_parse_from(["lv-master", "-u", "many"]).expect_err("bad number"),
    ));
    assert_eq!(usage.exit_code(), EXIT_USAGE);
}

#[test]
fn explain_exit_knows_every_code_of_the_table_and_refuses_others() {
    for &(code, meaning) in EXIT_CODES {
        assert_eq!(exit_meaning(code), Some(meaning));
        assert_eq!(explain_exit(&ExplainExitArgs { code }).expect("known"), 0);
    }
    let codes: Vec<u8> = EXIT_CODES.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, [EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANNOT_RUN]);
    let err = explain_exit(&ExplainExitArgs { code: 7 }).expect_err("unknown");
    assert_eq!(err.exit_code(), EXIT_USAGE);
    assert!(
        err.to_string()
            .starts_with("explain-exit: 7 is not one of lv-master's exit codes: 0 (passed), 1 ("),
        "{err}"
    );
}

#[test]
fn the_ready_file_is_one_line_of_json_written_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ready.json");
    write_ready_file(&path, "127.0.0.1:40001", None).expect("writes");
    let text = std::fs::read_to_string(&path).expect("ready file");
    let pid = std::process::id();
    assert_eq!(
        text,
        format!("{{\"workers\":\"127.0.0.1:40001\",\"web\":null,\"pid\":{pid}}}\n")
    );
    write_ready_file(&path, "[::1]:40002", Some("https://127.0.0.1:40003")).expect("rewrites");
    let ready: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("ready file")).expect("json");
    assert_eq!(ready["workers"], "[::1]:40002");
    assert_eq!(ready["web"], "https://127.0.0.1:40003");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, ["ready.json"], "no temporary file left");

    let err = write_ready_file(&path.join("under-a-file"), "127.0.0.1:1", None)
        .expect_err("a file is no folder");
    assert!(matches!(err, CommandError::ReadyFile { .. }), "{err}");
    assert_eq!(err.exit_code(), EXIT_USAGE);
}
