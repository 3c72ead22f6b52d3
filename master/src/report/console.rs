//! The console tables: the live stats table and the final percentile table, in the
//! layout Locust users know. Pure functions from stats to text.

use std::fmt::Write as _;

use lv_common::stats::{EndpointKey, EndpointStats, Phase, PhaseStats, StatsSet};

use crate::aggregate::{PERCENTILES, ratio};
use crate::report::format::{decimal, ms, percent, truncate, utc_timestamp, verdict_value};
use crate::report::summary::resources::Gauge;
use crate::report::summary::{EndpointSummary, LAG_LIMIT_MS, StageSummary, Summary, limit_note};
use crate::slo::{Status, Verdict};

const NAME_WIDTH: usize = 42;

/// Requests and failures per second for one row.
pub type Rate = (f64, f64);

/// The stats table: one row per endpoint, then `Aggregated`.
pub fn stats_table(
    stats: &StatsSet,
    rate: impl Fn(&EndpointKey) -> Rate,
    total_rate: Rate,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>8} {:>14} | {:>8} {:>8} {:>8} {:>8} | {:>8} {:>10}",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    );
    let rule = format!(
        "{:-<8}|{:-<w$}|{:-<8}|{:-<15}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|{:-<11}\n",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        w = NAME_WIDTH + 1
    );
    out.push_str(&rule);
    for (key, endpoint) in &stats.endpoints {
        stats_row(&mut out, &key.method, &key.name, endpoint, rate(key));
    }
    out.push_str(&rule);
    stats_row(&mut out, "", "Aggregated", &stats.total(), total_rate);
    out
}

fn stats_row(out: &mut String, method: &str, name: &str, e: &EndpointStats, rate: Rate) {
    let fails = format!("{}({})", e.failures, percent(ratio(e.failures, e.requests)));
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>8} {:>14} | {:>8} {:>8} {:>8} {:>8} | {:>8.2} {:>10.2}",
        method,
        truncate(name, NAME_WIDTH),
        e.requests,
        fails,
        ms(e.avg_ms()),
        ms(e.min_ms()),
        ms(e.max_ms()),
        ms(e.percentile_ms(50.0)),
        rate.0,
        rate.1,
    );
}

/// The response-time percentile table.
pub fn percentile_table(stats: &StatsSet) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<8} {:<NAME_WIDTH$}", "Type", "Name");
    for p in PERCENTILES {
        let _ = write!(out, " {:>7}", format!("{p}%"));
    }
    let _ = writeln!(out, " {:>8}", "# reqs");
    let width = 8 + 1 + NAME_WIDTH + PERCENTILES.len() * 8 + 9;
    let rule = format!("{:-<width$}\n", "");
    out.push_str(&rule);
    let row = |out: &mut String, method: &str, name: &str, e: &EndpointStats| {
        let _ = write!(
            out,
            "{:<8} {:<NAME_WIDTH$}",
            method,
            truncate(name, NAME_WIDTH)
        );
        for p in PERCENTILES {
            let _ = write!(out, " {:>7}", ms(e.percentile_ms(p)));
        }
        let _ = writeln!(out, " {:>8}", e.requests);
    };
    for (key, endpoint) in &stats.endpoints {
        row(&mut out, &key.method, &key.name, endpoint);
    }
    out.push_str(&rule);
    row(&mut out, "", "Aggregated", &stats.total());
    out
}

/// The timing phase table: per endpoint, then Aggregated, p50 / p95 of each phase in ms,
/// and for connect and TLS how many requests opened a connection; empty when no request
/// had phases.
pub fn phase_table(stats: &StatsSet) -> String {
    if stats.phases.values().all(PhaseStats::is_empty) {
        return String::new();
    }
    let mut out = String::from(
        "\nTiming phases (ms, p50 / p95; connect and TLS count only the requests that opened a connection)\n",
    );
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>20} {:>20} {:>15} {:>15}",
        "Type", "Name", "Connect (n)", "TLS (n)", "TTFB", "Body"
    );
    let rule = format!(
        "{:-<width$}\n",
        "",
        width = 8 + 1 + NAME_WIDTH + 4 * 16 + 10
    );
    out.push_str(&rule);
    for (key, phases) in &stats.phases {
        phase_row(&mut out, &key.method, &key.name, phases);
    }
    out.push_str(&rule);
    phase_row(&mut out, "", "Aggregated", &stats.total_phases());
    out
}

fn phase_row(out: &mut String, method: &str, name: &str, phases: &PhaseStats) {
    let cell = |phase: Phase, counted: bool| {
        let e = phases.get(phase);
        if e.is_empty() {
            return "-".to_owned();
        }
        let times = format!(
            "{} / {}",
            ms(e.percentile_ms(50.0)),
            ms(e.percentile_ms(95.0))
        );
        if counted {
            format!("{times} ({})", e.requests)
        } else {
            times
        }
    };
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>20} {:>20} {:>15} {:>15}",
        method,
        truncate(name, NAME_WIDTH),
        cell(Phase::Connect, true),
        cell(Phase::Tls, true),
        cell(Phase::Ttfb, false),
        cell(Phase::Body, false),
    );
}

/// The failures table (error, occurrences), empty when there were none.
pub fn failures_table(stats: &StatsSet) -> String {
    if stats.failures.is_empty() {
        return String::new();
    }
    let mut out = String::from("Error report\n");
    out.push_str("# occurrences  Error\n");
    for (key, count) in &stats.failures {
        let _ = writeln!(
            out,
            "{count:>13}  {} {}: {}",
            key.method, key.name, key.error
        );
    }
    out
}

/// The SLO verdict table: kind, rule, target, measured value, worst endpoint, result; with
/// a Stage column first when stage rules were checked.
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    let staged = verdicts.iter().any(|v| v.stage.is_some());
    let stage_cell = |stage: &str| {
        if staged {
            format!("{:<14} ", truncate(stage, 14))
        } else {
            String::new()
        }
    };
    let mut out = format!(
        "{}{:<9} {:<17} {:<12} {:>10}  {:<14} {}\n",
        stage_cell("Stage"),
        "Kind",
        "Rule",
        "Target",
        "Measured",
        "Result",
        "Worst endpoint"
    );
    for v in verdicts {
        let measured = verdict_value(&v.metric, v.measured);
        let (measured, result) = match v.status {
            Status::Pass => (measured, "PASS"),
            Status::Fail => (measured, "FAIL"),
            Status::NotExercised => ("-".to_owned(), "not exercised"),
        };
        let _ = writeln!(
            out,
            "{}{:<9} {:<17} {:<12} {:>10}  {:<14} {}",
            stage_cell(v.stage.as_deref().unwrap_or("(run)")),
            v.kind.map_or("all", |k| k.as_str()),
            v.metric,
            v.target,
            measured,
            result,
            v.endpoint
        );
    }
    out
}

/// Stages with more endpoints than this show only their Aggregated row.
const STAGE_ENDPOINT_ROWS: usize = 12;
/// Name column of the stage tables (narrower than the main table's, to fit 120 columns).
const STAGE_NAME_WIDTH: usize = 36;

/// A table per stage: its window and target, then its rows (one per endpoint and
/// `Aggregated`, or `Aggregated` alone when it has many endpoints); empty without stages.
pub fn stage_tables(stages: &[StageSummary]) -> String {
    let mut out = String::new();
    for stage in stages {
        let _ = writeln!(
            out,
            "\nStage {}/{} {:?}: {:.1}-{:.1} s, {} -> {} {}{}",
            stage.index,
            stages.len(),
            stage.name,
            stage.start_s,
            stage.start_s + stage.duration_s,
            decimal(stage.target_from, 3),
            decimal(stage.target_to, 3),
            stage.target_unit,
            if stage.ran_s + 1e-9 < stage.duration_s {
                format!(" (ran {:.1} s)", stage.ran_s)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "{:<8} {:<STAGE_NAME_WIDTH$} {:>8} {:>14} | {:>8} {:>8} {:>8} {:>8} | {:>8}",
            "Type", "Name", "# reqs", "# fails", "Avg", "Med", "95%", "99%", "req/s"
        );
        let rule = format!("{:-<width$}\n", "", width = 8 + STAGE_NAME_WIDTH + 74);
        out.push_str(&rule);
        if stage.endpoints.len() <= STAGE_ENDPOINT_ROWS {
            for row in &stage.endpoints {
                stage_row(&mut out, row);
            }
            out.push_str(&rule);
        }
        stage_row(&mut out, &stage.total);
        if let Some(open) = &stage.open {
            let _ = writeln!(
                out,
                "Arrivals: {} planned, {} scheduled, {} started ({:.1}/s), {} dropped; schedule lag p99 {:.1} ms, {} late (over {LAG_LIMIT_MS} ms)",
                open.planned,
                open.scheduled,
                open.started,
                open.achieved_rate,
                open.dropped,
                open.lag_p99_ms,
                open.late
            );
        }
    }
    out
}

fn stage_row(out: &mut String, e: &EndpointSummary) {
    let fails = format!("{}({})", e.failures, percent(ratio(e.failures, e.requests)));
    let _ = writeln!(
        out,
        "{:<8} {:<STAGE_NAME_WIDTH$} {:>8} {:>14} | {:>8} {:>8} {:>8} {:>8} | {:>8.2}",
        e.method,
        truncate(&e.name, STAGE_NAME_WIDTH),
        e.requests,
        fails,
        ms(e.avg_ms),
        ms(e.p50_ms),
        ms(e.p95_ms),
        ms(e.p99_ms),
        e.rps,
    );
}

/// Lost workers and the periods below the user target, empty when no worker was lost.
pub fn losses(summary: &Summary) -> String {
    let mut out = String::new();
    for worker in &summary.workers {
        let Some(lost) = worker.lost_unix_ms else {
            continue;
        };
        let _ = writeln!(
            out,
            "\nWorker {} ({}) was lost at {}; up to {:.1} s of its requests before that were never reported",
            worker.core.id,
            worker.core.hostname,
            utc_timestamp(lost),
            worker.unreported_s.unwrap_or(0.0)
        );
    }
    for outage in &summary.master_outages {
        let _ = writeln!(out, "\n{}", outage.describe());
    }
    for period in &summary.below_target {
        let end = period
            .to_unix_ms
            .map_or_else(|| "the end of the run".to_owned(), utc_timestamp);
        let cause = if period.worker_id == crate::report::summary::OUTAGE_CAUSE {
            "the master was restarted".to_owned()
        } else {
            format!("worker {} lost", period.worker_id)
        };
        let _ = writeln!(
            out,
            "Fewer users than the target ran from {} to {end} ({cause})",
            utc_timestamp(period.from_unix_ms),
        );
    }
    out
}

/// One line per worker with its load over the run (peak / mean); empty when no worker
/// said.
pub fn worker_load(summary: &Summary) -> String {
    let mut out = String::new();
    let pair = |g: Option<Gauge>, scale: f64, places: usize| {
        g.map_or_else(
            || "-".to_owned(),
            |g| {
                let (peak, mean) = (g.peak / scale, g.mean / scale);
                format!("{} / {}", decimal(peak, places), decimal(mean, places))
            },
        )
    };
    for worker in &summary.workers {
        let Some(r) = &worker.resources else {
            continue;
        };
        if out.is_empty() {
            out.push_str("\nWorker load over the run (peak / mean)\n");
            let _ = writeln!(
                out,
                "{:<30} {:>15} {:>17} {:>13} {:>17}",
                "Worker", "CPU %", "Memory MB", "Connections", "Sched delay ms"
            );
        }
        let _ = writeln!(
            out,
            "{:<30} {:>15} {:>17} {:>13} {:>17}",
            truncate(&worker.core.id, 30),
            pair(r.cpu_percent, 1.0, 1),
            pair(r.memory_bytes, 1e6, 1),
            pair(Some(r.connections), 1.0, 0),
            pair(Some(r.sched_delay_ms), 1.0, 1),
        );
    }
    out
}

/// The final console output: stats table, percentiles, failures and the verdict.
pub fn final_report(summary: &Summary, totals: &StatsSet) -> String {
    let seconds = summary.run_time_s;
    let rate = |e: &lv_common::stats::EndpointStats| {
        if seconds > 0.0 {
            (e.requests as f64 / seconds, e.failures as f64 / seconds)
        } else {
            (0.0, 0.0)
        }
    };
    let table = stats_table(
        totals,
        |key| totals.endpoints.get(key).map_or((0.0, 0.0), rate),
        rate(&totals.total()),
    );
    let mut out = format!(
        "\nRun {} finished after {:.1} s\n\n{table}\nResponse time percentiles (ms)\n{}",
        summary.run_id,
        seconds,
        percentile_table(totals)
    );
    out.push_str(&phase_table(totals));
    if !summary.stages.is_empty() {
        out.push_str("\nPer stage (rates per second of the stage)");
        out.push_str(&stage_tables(&summary.stages));
    }
    if let Some(verdicts) = &summary.slo {
        let level = summary.meta.slo_level.as_deref().unwrap_or("?");
        out.push_str(&format!(
            "\nSLO verdicts (load level {level})\n{}",
            verdict_table(verdicts)
        ));
    }
    let failures = failures_table(totals);
    if !failures.is_empty() {
        out.push('\n');
        out.push_str(&failures);
    }
    if summary.cut_off > 0 {
        out.push_str(&format!(
            "\n{} requests were cut off by the stop (not counted as failures)\n",
            summary.cut_off
        ));
    }
    if let Some(open) = &summary.open {
        out.push_str(&open.console());
    }
    out.push_str(&losses(summary));
    out.push_str(&worker_load(summary));
    if let Some(note) = limit_note(&summary.generator_warnings) {
        out.push_str(&format!("\nWarning: {note}\n"));
    }
    out.push_str(&format!(
        "\nResult: {} (exit code {})\n",
        summary.verdict, summary.exit_code
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatsSet {
        let mut stats = StatsSet::default();
        for i in 1..=100u64 {
            let error = (i % 4 == 0).then_some("HTTP 500 Internal Server Error");
            stats.record_request("GET", "ATLAS /health", None, i * 1000, 10, error);
        }
        stats.record_request("POST", "EVENT-BUS /v1/events", None, 2500, 10, None);
        stats
    }

    #[test]
    fn stats_table_has_rows_and_aggregate() {
        let table = stats_table(&sample(), |_| (1.0, 0.25), (2.0, 0.5));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(lines[2].starts_with("GET") && lines[2].contains("ATLAS /health"));
        assert!(lines[2].contains("25(25.00%)"), "{}", lines[2]);
        assert!(
            lines[5].contains("Aggregated") && lines[5].contains(" 101 "),
            "{}",
            lines[5]
        );
    }

    #[test]
    fn phase_table_shows_p50_and_p95_and_connections_opened() {
        use lv_common::stats::RequestPhases;
        let mut stats = sample();
        assert_eq!(phase_table(&stats), "", "no phases, no table");
        for i in 0..20u64 {
            let phases = RequestPhases {
                connect_us: (i == 0).then_some(400),
                tls_us: None,
                ttfb_us: 50_000,
                body_us: 100_000 + i,
            };
            stats.record_phases("GET", "ATLAS /health", &phases);
        }
        let table = phase_table(&stats);
        let row = table
            .lines()
            .find(|l| l.contains("ATLAS /health"))
            .expect("row");
        assert!(row.contains("0.40 / 0.40 (1)"), "{row}");
        assert!(row.contains("50 / 50"), "{row}");
        assert!(row.contains("100 / 100"), "{row}");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(cells.contains(&"-"), "no TLS: {row}");
        assert!(table.lines().last().expect("total").contains("Aggregated"));
    }

    #[test]
    fn percentile_table_is_monotonic() {
        let table = percentile_table(&sample());
        let row = table.lines().nth(2).expect("row");
        let numbers: Vec<f64> = row
            .split_whitespace()
            .skip(3)
            .take(PERCENTILES.len())
            .map(|v| v.parse().expect("number"))
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{row}");
        assert_eq!(numbers.last(), Some(&100.0));
    }

    #[test]
    fn lost_workers_and_below_target_periods_are_named() {
        let endpoint = serde_json::json!({
            "method": "", "name": "Aggregated", "kind": null, "requests": 0, "failures": 0,
            "avg_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0,
            "p99_ms": 0.0, "rps": 0.0, "avg_content_bytes": 0.0
        });
        let summary: Summary = serde_json::from_value(serde_json::json!({
            "run_id": "r", "users": 6, "run_time_s": 10.0, "exit_code": 0, "verdict": "passed",
            "started_unix_ms": 0, "ended_unix_ms": 10_000, "cut_off": 0,
            "workers": [
                {"id": "w1", "hostname": "h1", "state": "lost", "users": 0, "requests": 5,
                 "failures": 0, "lost_unix_ms": 4_000, "unreported_s": 2.5},
                {"id": "w2", "hostname": "h2", "state": "active", "users": 6, "requests": 9,
                 "failures": 0}
            ],
            "total": endpoint, "endpoints": [], "failures": [], "exceptions": [],
            "below_target": [
                {"from_unix_ms": 2_000, "to_unix_ms": 5_000, "worker_id": "w1"},
                {"from_unix_ms": 6_000, "to_unix_ms": 8_000, "worker_id": "master (restarted)"}
            ],
            "master_outages": [{"from_unix_ms": 6_000, "to_unix_ms": 7_500,
                "workers_expected": 2, "workers_back": 1, "missing_s": 1.5}]
        }))
        .expect("a summary");
        let text = losses(&summary);
        assert!(
            text.contains("Worker w1 (h1) was lost at 1970-01-01 00:00:04 UTC"),
            "{text}"
        );
        assert!(text.contains("up to 2.5 s"), "{text}");
        assert!(
            text.contains("from 1970-01-01 00:00:02 UTC to 1970-01-01 00:00:05 UTC"),
            "{text}"
        );
        assert!(!text.contains("w2"), "{text}");
        assert!(
            text.contains(
                "The master was down from 1970-01-01 00:00:06 UTC (its last checkpoint) to \
                 1970-01-01 00:00:07 UTC (1.5 s) and a new one resumed the run; 1 of 2 workers \
                 came back; data possibly missing: 1.5 s"
            ),
            "{text}"
        );
        assert!(
            text.contains("00:00:08 UTC (the master was restarted)"),
            "{text}"
        );
    }

    #[test]
    fn each_worker_gets_a_load_line_and_the_generator_warning_is_printed() {
        let endpoint = serde_json::json!({
            "method": "", "name": "Aggregated", "kind": null, "requests": 0, "failures": 0,
            "avg_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0,
            "p99_ms": 0.0, "rps": 0.0, "avg_content_bytes": 0.0
        });
        let gauge = |last: f64, peak: f64, mean: f64| serde_json::json!({"last": last, "peak": peak, "mean": mean});
        let summary: Summary = serde_json::from_value(serde_json::json!({
            "run_id": "r", "users": 6, "run_time_s": 10.0, "exit_code": 0,
            "verdict": "passed", "generator_limited": true,
            "generator_warnings": [{"cause": "worker_cpu", "worker_id": "w1",
                "from_unix_ms": 1000, "to_unix_ms": 7000,
                "detail": "worker w1 above 90% CPU for 6.0 s (peak 99%)"}],
            "started_unix_ms": 0, "ended_unix_ms": 10_000, "cut_off": 0,
            "workers": [
                {"id": "w1", "hostname": "h1", "state": "active", "users": 6, "requests": 5,
                 "failures": 0, "resources": {"samples": 9,
                    "cpu_percent": gauge(97.0, 99.3, 95.5),
                    "memory_bytes": gauge(2e7, 2.5e7, 2.25e7),
                    "connections": gauge(50.0, 60.0, 55.0),
                    "sched_delay_ms": gauge(80.0, 120.0, 75.5)}},
                {"id": "w2", "hostname": "h2", "state": "active", "users": 0, "requests": 0,
                 "failures": 0}
            ],
            "total": endpoint, "endpoints": [], "failures": [], "exceptions": []
        }))
        .expect("a summary");
        let text = worker_load(&summary);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "a title, a header and one worker: {text}");
        assert!(lines[2].contains("CPU %") && lines[2].contains("Sched delay ms"));
        let numbers: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            numbers,
            [
                "w1", "99.3", "/", "95.5", "25", "/", "22.5", "60", "/", "55", "120", "/", "75.5"
            ],
            "{text}"
        );
        let all = final_report(&summary, &StatsSet::default());
        assert!(
            all.contains(
                "Warning: the generator limited this run; its latencies include its own delay \
                 (worker w1 above 90% CPU for 6.0 s (peak 99%))"
            ),
            "{all}"
        );
        assert!(
            worker_load(
                &serde_json::from_value::<Summary>(serde_json::json!({
                    "run_id": "r", "users": 0, "run_time_s": 0.0, "exit_code": 0, "verdict": "",
                    "started_unix_ms": 0, "ended_unix_ms": 0, "cut_off": 0, "workers": [],
                    "total": summary.total, "endpoints": [], "failures": [], "exceptions": []
                }))
                .expect("a summary")
            )
            .is_empty()
        );
    }

    #[test]
    fn failures_are_listed() {
        let table = failures_table(&sample());
        assert!(table.contains("25  GET ATLAS /health: HTTP 500"), "{table}");
        assert!(failures_table(&StatsSet::default()).is_empty());
    }

    #[test]
    fn each_stage_gets_a_table_within_120_columns() {
        let stages = crate::report::summary::sample_stages();
        let text = stage_tables(&stages);
        assert_eq!(text.matches("Aggregated").count(), 3, "{text}");
        assert!(
            text.contains("Stage 2/3 \"ramp\": 2.0-4.0 s, 50 -> 100 arrivals/s"),
            "{text}"
        );
        assert!(text.contains("Arrivals: 150 planned"), "{text}");
        let aggregated: Vec<&str> = text.lines().filter(|l| l.contains("Aggregated")).collect();
        let counts: Vec<&str> = aggregated
            .iter()
            .map(|l| l.split_whitespace().nth(1).expect("count"))
            .collect();
        assert_eq!(counts, ["10", "20", "30"], "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 120), "{text}");
        assert!(stage_tables(&[]).is_empty());
    }

    #[test]
    fn stage_verdicts_get_a_stage_column() {
        use lv_common::kind::SloKind;
        let verdict = |stage: Option<&str>, kind, metric: &str, status| Verdict {
            kind,
            stage: stage.map(str::to_owned),
            metric: metric.into(),
            target: "< 500 ms".into(),
            measured: 612.0,
            endpoint: "GET /x".into(),
            status,
        };
        let run_wide = verdict(None, Some(SloKind::Chat), "avg_ms", Status::Pass);
        assert!(!verdict_table(std::slice::from_ref(&run_wide)).contains("Stage"));
        let table = verdict_table(&[
            run_wide,
            verdict(Some("plateau"), None, "p95_ms", Status::Fail),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("Stage"), "{table}");
        assert!(
            lines[1].starts_with("(run)") && lines[1].contains("chat"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("plateau") && lines[2].contains(" all "),
            "{table}"
        );
        assert!(
            lines[2].contains("612 ms") && lines[2].contains("FAIL"),
            "{table}"
        );
    }
}
