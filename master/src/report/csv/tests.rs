//! Tests of the Locust-format CSVs.

use super::*;
use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;
use lv_common::wire::Report;

fn run() -> RunStats {
    let mut stats = StatsSet::default();
    for i in 1..=200u64 {
        let error = (i % 50 == 0).then_some("HTTP 500 Internal Server Error");
        stats.record_request(
            "GET",
            "ATLAS /health",
            Some(SloKind::Health),
            i * 100,
            40,
            error,
        );
    }
    stats.record_request("POST", "B, \"quoted\"", None, 7_000, 2, None);
    stats.record_exception("GET X: extract id: /id not found");
    let mut run = RunStats::default();
    run.start(1_000_000);
    run.close_interval(1_001_000, 0);
    run.merge_report(
        "worker-1",
        &Report {
            run_id: "r".into(),
            seq: 1,
            start_unix_ms: 1_001_000,
            end_unix_ms: 1_003_000,
            users_running: 3,
            stats,
            last: false,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage: 0,
        },
    );
    run.close_interval(1_003_000, 3);
    run
}

fn rows(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn stats_rows_are_sorted_then_aggregated() {
    let csv = stats_csv(&run(), 2.0);
    assert!(
        csv.ends_with("\r\n") && csv.matches("\r\n").count() == 4,
        "CRLF rows"
    );
    let lines = rows(&csv);
    assert_eq!(lines[0], STATS_HEADER);
    assert!(
        lines[1].starts_with("GET,ATLAS /health,200,4,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("POST,\"B, \"\"quoted\"\"\",1,0,7,7,7,7,2,0.5,0,"),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with(",Aggregated,201,4,"), "{}", lines[3]);
    assert_eq!(lines.len(), 4);
    // 22 columns in every row; the last (100%) is the exact max.
    let atlas: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(atlas.len(), 22);
    assert_eq!(atlas[7], "20", "max is 20 ms");
    assert_eq!(atlas[21], "20", "100% is the max");
    assert_eq!(atlas[9], "100", "200 requests over 2 s");
}

#[test]
fn history_has_na_before_the_first_request() {
    let csv = history_csv(&run().history, false);
    let lines = rows(&csv);
    assert_eq!(lines[0], HISTORY_HEADER);
    assert!(
        lines[1].starts_with("1001,0,,Aggregated,0,0,N/A,N/A"),
        "{}",
        lines[1]
    );
    let last: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(last.len(), 24);
    assert_eq!(&last[..4], ["1003", "3", "", "Aggregated"]);
    assert_eq!(last[17], "201", "total request count");
    assert_eq!(last[18], "4", "total failure count");
}

#[test]
fn failures_and_exceptions_rows() {
    let run = run();
    let csv = failures_csv(&run);
    assert_eq!(
        rows(&csv),
        [
            FAILURES_HEADER,
            "GET,ATLAS /health,HTTP 500 Internal Server Error,4,1001,1003"
        ]
    );
    let csv = exceptions_csv(&run);
    assert_eq!(
        rows(&csv),
        [
            EXCEPTIONS_HEADER,
            "1,GET X: extract id: /id not found,GET X: extract id: /id not found,worker-1"
        ]
    );
}

#[test]
fn full_history_has_a_row_per_endpoint_with_current_percentiles() {
    let mut stats = StatsSet::default();
    for i in 1..=10u64 {
        stats.record_request(
            "GET",
            "A /health",
            Some(SloKind::Health),
            i * 1000,
            10,
            None,
        );
        stats.record_request(
            "POST",
            "B /v1/events",
            Some(SloKind::Event),
            50_000,
            10,
            None,
        );
    }
    let report = |seq, stats| Report {
        run_id: "r".into(),
        seq,
        start_unix_ms: 0,
        end_unix_ms: 0,
        users_running: 2,
        stats,
        last: false,
        cut_off: 0,
        dropped_reports: 0,
        open: None,
        stage: 0,
    };
    let mut run = RunStats::new(true);
    run.start(0);
    run.merge_report("w", &report(1, stats));
    run.close_interval(2_000, 2);
    let csv = history_csv(&run.history, true);
    let lines = rows(&csv);
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].starts_with("2,2,GET,A /health,5,0,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("2,2,POST,B /v1/events,5,0,50,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("2,2,,Aggregated,10,0,"),
        "{}",
        lines[3]
    );
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), 24, "{line}");
    }
    // Without the flag, the same run keeps only the Aggregated rows.
    assert_eq!(rows(&history_csv(&run.history, false)).len(), 2);
}

/// A run longer than an hour: the in-memory history is coarse for its first minutes, yet the
/// streamed `_stats_history.csv` has every interval, each with its exact cumulative count.
#[test]
fn streamed_history_is_complete_after_rows_are_coarsened() {
    let mut run = RunStats::new(false);
    run.start(0);
    let intervals = 3_600 / 2 + 300;
    for i in 1..=intervals {
        let mut stats = StatsSet::default();
        stats.record_request("GET", "A /health", Some(SloKind::Health), 900, 1, None);
        let report = Report {
            run_id: "r".into(),
            seq: i,
            start_unix_ms: 0,
            end_unix_ms: 0,
            users_running: 1,
            stats,
            last: false,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage: 0,
        };
        run.merge_report("w", &report);
        run.close_interval(i as i64 * 2_000, 1);
    }
    assert!(
        run.history.len() < intervals as usize,
        "coarsened in memory"
    );
    assert_eq!(run.spilled_rows(), 300);

    let mut streamed = Vec::new();
    write_history(&mut streamed, run.complete_history().expect("spill"), false).expect("write");
    let streamed = String::from_utf8(streamed).expect("utf-8");
    let lines = rows(&streamed);
    assert_eq!(lines[0], HISTORY_HEADER);
    assert_eq!(lines.len(), intervals as usize + 1);
    for (i, line) in lines[1..].iter().enumerate() {
        let columns: Vec<&str> = line.split(',').collect();
        assert_eq!(
            columns[0],
            (2 * (i + 1)).to_string(),
            "timestamp of row {i}"
        );
        assert_eq!(
            columns[17],
            (i + 1).to_string(),
            "total requests of row {i}"
        );
    }
    // The rows still in memory are formatted exactly as history_csv formats them.
    let recent = history_csv(&run.history[run.history.len() - 10..], false);
    assert!(
        streamed.ends_with(
            recent
                .trim_start_matches(HISTORY_HEADER)
                .trim_start_matches("\r\n")
        )
    );
}

/// `write_csv_files` writes the streamed history beside the other three files.
#[test]
fn csv_files_include_the_streamed_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("run");
    let run = run();
    let written = crate::report::write_csv_files(&prefix, &run, 2.0, false, &[]).expect("written");
    assert_eq!(written.len(), 4);
    let history = std::fs::read_to_string(dir.path().join("run_stats_history.csv")).expect("read");
    assert_eq!(history, history_csv(&run.history, false));
}

fn staged_shape(names: &[&str]) -> lv_common::load::LoadShape {
    let mut shape = lv_common::load::LoadShape::constant_rate(10.0, std::time::Duration::ZERO);
    shape.model = lv_common::load::Model::Closed;
    shape.stages = names
        .iter()
        .map(|name| lv_common::load::Stage {
            name: (*name).to_owned(),
            duration: std::time::Duration::from_secs(2),
            to: 5.0,
        })
        .collect();
    shape
}

/// A stage's rows are `_stats.csv`'s rows led by the stage name: one stage holding the whole
/// run gives the run's rows exactly.
#[test]
fn a_stage_holding_the_whole_run_has_the_runs_rows() {
    let mut run = run();
    let all = run.totals.clone();
    run.stages.insert(
        1,
        crate::aggregate::StageStats {
            totals: all,
            ..Default::default()
        },
    );
    let stages = crate::report::summary::stage_summaries(&staged_shape(&["only"]), &run, 2_000);
    let csv = stages_csv(&stages);
    let lines = rows(&csv);
    assert_eq!(lines[0], STAGES_HEADER);
    assert_eq!(
        STAGES_HEADER.strip_prefix("Stage,"),
        Some(STATS_HEADER),
        "same columns after Stage"
    );
    let expected: Vec<String> = rows(&stats_csv(&run, 2.0))[1..]
        .iter()
        .map(|row| format!("only,{row}"))
        .collect();
    assert_eq!(lines[1..], expected);
}

/// One table per stage, each ending with its Aggregated row; a stage without requests has an
/// Aggregated row of zeros and `N/A` percentiles.
#[test]
fn every_stage_gets_its_rows() {
    let mut run = RunStats::default();
    for (stage, requests) in [(1u32, 3u64), (2, 5)] {
        let mut stats = StatsSet::default();
        for i in 0..requests {
            stats.record_request("GET", "/a", None, 1000 * (i + 1), 10, None);
        }
        run.merge_report(
            "w",
            &Report {
                run_id: "r".into(),
                seq: u64::from(stage),
                start_unix_ms: 0,
                end_unix_ms: 0,
                users_running: 1,
                stats,
                last: false,
                cut_off: 0,
                dropped_reports: 0,
                open: None,
                stage,
            },
        );
    }
    let stages = crate::report::summary::stage_summaries(
        &staged_shape(&["warm", "peak, hot", "cool"]),
        &run,
        6_000,
    );
    let csv = stages_csv(&stages);
    let lines = rows(&csv);
    assert_eq!(lines.len(), 1 + 2 + 2 + 1, "{csv}");
    assert!(lines[1].starts_with("warm,GET,/a,3,0,"), "{}", lines[1]);
    assert!(
        lines[2].starts_with("warm,,Aggregated,3,0,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("\"peak, hot\",GET,/a,5,0,"),
        "{}",
        lines[3]
    );
    assert!(lines[4].starts_with("\"peak, hot\",,Aggregated,5,0,"));
    assert!(
        lines[5].starts_with("cool,,Aggregated,0,0,"),
        "{}",
        lines[5]
    );
    assert!(lines[5].ends_with(",N/A"), "{}", lines[5]);
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("run");
    let written =
        crate::report::write_csv_files(&prefix, &run, 6.0, false, &stages).expect("written");
    assert_eq!(written.len(), 5);
    let file = std::fs::read_to_string(dir.path().join("run_stages.csv")).expect("read");
    assert_eq!(file, csv);
}

/// Fields are quoted as Python's `csv` module (and so Locust) quotes them: only those holding
/// a comma, a quote or a line break, quotes doubled; every row ends in CRLF.
#[test]
fn fields_are_quoted_only_when_they_must_be() {
    let mut stats = StatsSet::default();
    for name in ["a,b", "q\"x", "n\nl", "c\rr", " sp ", "", "#'t\tab'"] {
        stats.record_request("GET", name, None, 1_000, 0, Some("e, \"f\""));
    }
    let mut run = RunStats::default();
    run.merge_report(
        "w",
        &Report {
            run_id: "r".into(),
            seq: 1,
            start_unix_ms: 0,
            end_unix_ms: 0,
            users_running: 1,
            stats,
            last: false,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage: 0,
        },
    );
    let rows = failures_csv(&run);
    let expected = [
        "Method,Name,Error,Occurrences,First Seen,Last Seen",
        "GET,,\"e, \"\"f\"\"\",1,0,0",
        "GET, sp ,\"e, \"\"f\"\"\",1,0,0",
        "GET,#'t\tab',\"e, \"\"f\"\"\",1,0,0",
        "GET,\"a,b\",\"e, \"\"f\"\"\",1,0,0",
        "GET,\"c\rr\",\"e, \"\"f\"\"\",1,0,0",
        "GET,\"n\nl\",\"e, \"\"f\"\"\",1,0,0",
        "GET,\"q\"\"x\",\"e, \"\"f\"\"\",1,0,0",
    ];
    assert_eq!(rows, format!("{}\r\n", expected.join("\r\n")));
}

/// `_phases.csv`: per endpoint, then Aggregated, a row per phase some request had, with
/// its count and times in ms; a phase no request had has no row.
#[test]
fn phases_csv_has_a_row_per_phase_a_request_had() {
    use lv_common::stats::RequestPhases;
    let mut run = RunStats::default();
    for i in 0..4u64 {
        let phases = RequestPhases {
            connect_us: (i == 0).then_some(250),
            tls_us: None,
            ttfb_us: 50_000,
            body_us: 100_000,
        };
        run.totals.record_phases("GET", "/slow", &phases);
    }
    run.totals
        .record_phases("GET", "/fast", &RequestPhases::default());
    let text = phases_csv(&run);
    let lines = rows(&text);
    assert_eq!(lines[0], PHASES_HEADER);
    let firsts: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        firsts,
        [
            "GET,/fast,ttfb,1",
            "GET,/fast,body,1",
            "GET,/slow,connect,1",
            "GET,/slow,ttfb,4",
            "GET,/slow,body,4",
            ",Aggregated,connect,1",
            ",Aggregated,ttfb,5",
            ",Aggregated,body,5",
        ]
    );
    assert!(lines[3].starts_with("GET,/slow,connect,1,0.25,0.25,0.25,0.25,0.25,"));
    assert!(
        lines[4].starts_with("GET,/slow,ttfb,4,50,50,50,50,50,"),
        "{}",
        lines[4]
    );
    let columns = PHASES_HEADER.split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
    assert!(text.ends_with("\r\n"), "CRLF rows, as the other CSVs");
}
