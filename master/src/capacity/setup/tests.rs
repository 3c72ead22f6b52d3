use clap::Parser as _;

use super::*;
use crate::capacity::search::Conclusion;

fn args(extra: &[&str]) -> CapacityArgs {
    let argv = ["lv-master capacity"]
        .into_iter()
        .chain(extra.iter().copied());
    CapacityArgs::try_parse_from(argv).expect("valid flags")
}

fn refused(extra: &[&str]) -> String {
    plan(&args(extra)).expect_err("refused").to_string()
}

#[test]
fn the_plan_takes_the_search_options_and_moves_max_in_flight_to_the_steps() {
    let plan = plan(&args(&[
        "--hold",
        "2s",
        "--max-in-flight",
        "4",
        "--max-lag",
        "50ms",
    ]))
    .expect("valid");
    assert_eq!(plan.steps.confirm, Duration::from_secs(4), "twice the hold");
    assert_eq!(plan.steps.max_in_flight, Some(4));
    assert_eq!(plan.run.max_in_flight, None, "not the settings' any more");
    assert_eq!(plan.steps.max_lag_ms, 50.0);
    assert!(
        plan.run.headless,
        "--web-port only serves the search read-only"
    );
    assert_eq!(plan.unit(), "arrivals/s");
    let closed = super::plan(&args(&["--model", "closed", "--start", "2"])).expect("valid");
    assert!(closed.search.whole);
    assert_eq!(closed.unit(), "users");
}

#[test]
fn bad_options_are_named() {
    assert!(refused(&["--factor", "1"]).contains("--factor"));
    assert!(refused(&["--start", "20", "--max", "10"]).contains("--max"));
    assert!(refused(&["--settle", "10ms"]).contains("--settle"));
    assert!(refused(&["--confirm", "0s"]).contains("--confirm"));
    assert!(refused(&["--model", "closed", "--max", "7.5"]).contains("--max"));
    assert!(refused(&["--max-in-flight", "0"]).contains("--max-in-flight"));
    for option in [
        "--rate=5",
        "--run-time=1m",
        "--checkpoint=c.json",
        "--no-slo",
        "--autostart",
    ] {
        let name = option.split('=').next().unwrap_or(option);
        assert!(refused(&[option]).contains(name), "{option}");
    }
}

fn report(result: Option<Conclusion>) -> CapacityReport {
    let plan = plan(&args(&[])).expect("valid");
    let setup = SearchSetup {
        search: plan.search,
        steps: plan.steps,
        unit: "arrivals/s".into(),
        classes: vec!["C".into()],
        tags: Vec::new(),
        slo_level: "light".into(),
        require: None,
    };
    CapacityReport::new(setup, Vec::new(), result, 0)
}

#[test]
fn the_exit_code_follows_require() {
    let found = report(Some(Conclusion::Capacity {
        load: 40.0,
        confirmed: true,
        failed_at: 44.0,
    }));
    assert_eq!(exit_code(&found, None, false), EXIT_OK);
    assert_eq!(exit_code(&found, Some(40.0), false), EXIT_OK);
    assert_eq!(exit_code(&found, Some(41.0), false), EXIT_FAILED);
    assert_eq!(exit_code(&found, Some(1.0), true), EXIT_CANNOT_RUN);
    let limited = report(Some(Conclusion::GeneratorLimited {
        at_least: 30.0,
        at: 45.0,
    }));
    assert_eq!(exit_code(&limited, Some(30.0), false), EXIT_OK);
    assert_eq!(exit_code(&limited, Some(31.0), false), EXIT_FAILED);
    let interrupted = report(None);
    assert_eq!(exit_code(&interrupted, None, false), EXIT_CANNOT_RUN);
    assert_eq!(exit_code(&interrupted, Some(1.0), false), EXIT_CANNOT_RUN);
}

#[test]
fn every_file_asked_for_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = ResultPaths {
        json: Some(dir.path().join("c.json")),
        csv: Some(dir.path().join("run")),
        html: Some(dir.path().join("c.html")),
        record: Some(dir.path().join("bench.md")),
    };
    let report = report(Some(Conclusion::AtLeastMax { load: 250.0 }));
    assert!(write_files(&report, &paths, &[("chat p95 < 200 ms".into(), 200.0)]).is_empty());
    let json = std::fs::read_to_string(dir.path().join("c.json")).expect("json");
    assert!(json.contains("\"at_least_max\""));
    assert!(dir.path().join("run_capacity.csv").is_file());
    let html = std::fs::read_to_string(dir.path().join("c.html")).expect("html");
    assert!(html.contains("chat p95 &lt; 200 ms"));
    let log = std::fs::read_to_string(dir.path().join("bench.md")).expect("log");
    assert!(
        log.lines()
            .last()
            .is_some_and(|l| l.contains("capacity: at least 250"))
    );
    let bad = ResultPaths {
        json: Some(dir.path().join("c.json").join("under-a-file")),
        ..ResultPaths::default()
    };
    let errors = write_files(&report, &bad, &[]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("under-a-file"), "{errors:?}");
}
