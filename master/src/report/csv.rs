//! Locust 2.x CSV files: `_stats.csv`, `_stats_history.csv`, `_failures.csv` and
//! `_exceptions.csv`, with Locust's headers, column meanings and row order, so tools that
//! read Locust's CSVs read lv's. Times are milliseconds. Unlike Locust, percentiles come from
//! the merged HdrHistograms with three significant digits (written with up to three
//! decimals), and the files are written once more at the very end so they agree with the
//! final table exactly.

use std::fmt::Write as _;

use lv_common::stats::EndpointStats;

use crate::aggregate::{HistoryRow, PERCENTILES, RunStats};
use crate::report::format::{decimal, ms_precise};
use crate::report::summary::{EndpointSummary, StageSummary};

/// Line ending of every row: CRLF, as Python's `csv` module (and so Locust) writes.
const EOL: &str = "\r\n";

/// Header of `_stats.csv`.
pub const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// Header of `_stats_history.csv`.
pub const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
/// Header of `_stages.csv`: a `Stage` column, then those of `_stats.csv`.
pub const STAGES_HEADER: &str = "Stage,Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// Header of `_failures.csv`.
pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
/// Header of `_exceptions.csv`.
pub const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// `_stats.csv`: one row per (method, name) in sorted order, then `Aggregated`.
pub fn stats_csv(run: &RunStats, seconds: f64) -> String {
    let mut out = format!("{STATS_HEADER}{EOL}");
    for (key, endpoint) in &run.totals.endpoints {
        stats_row(&mut out, &key.method, &key.name, endpoint, seconds);
    }
    stats_row(&mut out, "", "Aggregated", &run.totals.total(), seconds);
    out
}

fn stats_row(out: &mut String, method: &str, name: &str, e: &EndpointStats, seconds: f64) {
    let rate = |n: u64| {
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{}",
        field(method),
        field(name),
        e.requests,
        e.failures,
        ms_precise(e.percentile_ms(50.0)),
        ms_precise(e.avg_ms()),
        ms_precise(e.min_ms()),
        ms_precise(e.max_ms()),
        decimal(e.avg_content_bytes(), 6),
        decimal(rate(e.requests), 6),
        decimal(rate(e.failures), 6),
    );
    for p in PERCENTILES {
        if e.is_empty() {
            out.push_str(",N/A");
        } else {
            let _ = write!(out, ",{}", ms_precise(e.percentile_ms(p)));
        }
    }
    out.push_str(EOL);
}

/// `_stages.csv` (staged runs only): for each stage in order, its rows as in `_stats.csv`
/// (one per endpoint, then `Aggregated`; rates per second of the stage), each led by the
/// stage's name.
pub fn stages_csv(stages: &[StageSummary]) -> String {
    let mut out = format!("{STAGES_HEADER}{EOL}");
    for stage in stages {
        for row in stage.endpoints.iter().chain(std::iter::once(&stage.total)) {
            out.push_str(&field(&stage.name));
            out.push(',');
            summary_row(&mut out, row);
        }
    }
    out
}

/// A `_stats.csv` row from a report's row: the same columns and formatting as [`stats_row`].
fn summary_row(out: &mut String, e: &EndpointSummary) {
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{}",
        field(&e.method),
        field(&e.name),
        e.requests,
        e.failures,
        ms_precise(e.p50_ms),
        ms_precise(e.avg_ms),
        ms_precise(e.min_ms),
        ms_precise(e.max_ms),
        decimal(e.avg_content_bytes, 6),
        decimal(e.rps, 6),
        decimal(e.failures_per_s, 6),
    );
    percentile_fields(out, &e.percentiles_ms);
    out.push_str(EOL);
}

/// `_stats_history.csv`: one Aggregated row per interval, whose percentile columns are
/// cumulative, as in Locust; with `full`, first a row per endpoint, and then every row's
/// percentiles are those of the current window (Locust's `--csv-full-history`). `N/A` where
/// there was no request yet.
pub fn history_csv(history: &[HistoryRow], full: bool) -> String {
    let mut out = format!("{HISTORY_HEADER}{EOL}");
    for row in history {
        let timestamp = row.unix_ms.div_euclid(1000);
        if full {
            for e in &row.endpoints {
                let _ = write!(
                    out,
                    "{timestamp},{},{},{},{},{}",
                    row.users,
                    field(&e.method),
                    field(&e.name),
                    decimal(e.rps, 6),
                    decimal(e.fps, 6)
                );
                percentile_fields(&mut out, &e.percentiles_ms);
                let _ = write!(
                    out,
                    ",{},{},{},{},{},{},{}{EOL}",
                    e.total_requests,
                    e.total_failures,
                    ms_precise(e.total_median_ms),
                    ms_precise(e.total_avg_ms),
                    ms_precise(e.total_min_ms),
                    ms_precise(e.total_max_ms),
                    decimal(e.total_avg_content_bytes, 6),
                );
            }
        }
        let _ = write!(
            out,
            "{timestamp},{},,Aggregated,{},{}",
            row.users,
            decimal(row.rps, 6),
            decimal(row.fps, 6)
        );
        let percentiles = if full {
            &row.current_percentiles_ms
        } else {
            &row.total_percentiles_ms
        };
        percentile_fields(&mut out, percentiles);
        let _ = write!(
            out,
            ",{},{},{},{},{},{},{}{EOL}",
            row.total_requests,
            row.total_failures,
            ms_precise(row.total_median_ms),
            ms_precise(row.total_avg_ms),
            ms_precise(row.total_min_ms),
            ms_precise(row.total_max_ms),
            decimal(row.total_avg_content_bytes, 6),
        );
    }
    out
}

/// Writes `_stats_history.csv` from `rows` as they come, one row in memory at a time, in the
/// format of [`history_csv`] (each row is formatted by it, so the two cannot drift apart).
pub fn write_history(
    out: &mut impl std::io::Write,
    rows: impl Iterator<Item = std::io::Result<HistoryRow>>,
    full: bool,
) -> std::io::Result<()> {
    write!(out, "{HISTORY_HEADER}{EOL}")?;
    for row in rows {
        let text = history_csv(std::slice::from_ref(&row?), full);
        let body = text
            .strip_prefix(HISTORY_HEADER)
            .and_then(|t| t.strip_prefix(EOL))
            .unwrap_or(&text);
        out.write_all(body.as_bytes())?;
    }
    Ok(())
}

fn percentile_fields(out: &mut String, values: &[f64]) {
    if values.is_empty() {
        out.push_str(&",N/A".repeat(PERCENTILES.len()));
    } else {
        for value in values {
            let _ = write!(out, ",{}", ms_precise(*value));
        }
    }
}

/// `_failures.csv`: one row per (method, name, error), with first and last time seen
/// (Unix seconds).
pub fn failures_csv(run: &RunStats) -> String {
    let mut out = format!("{FAILURES_HEADER}{EOL}");
    for (key, count) in &run.totals.failures {
        let (first, last) = run.failure_times.get(key).copied().unwrap_or((0, 0));
        let _ = write!(
            out,
            "{},{},{},{count},{},{}{EOL}",
            field(&key.method),
            field(&key.name),
            field(&key.error),
            first.div_euclid(1000),
            last.div_euclid(1000),
        );
    }
    out
}

/// `_exceptions.csv`: errors in lv's own step handling, with the workers they happened on.
/// lv has no tracebacks: that column holds the message again, as the closest equivalent.
pub fn exceptions_csv(run: &RunStats) -> String {
    let mut out = format!("{EXCEPTIONS_HEADER}{EOL}");
    for (message, count) in &run.totals.exceptions {
        let nodes = run
            .exception_nodes
            .get(message)
            .map(|n| n.iter().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let _ = write!(
            out,
            "{count},{},{},{}{EOL}",
            field(message),
            field(message),
            field(&nodes)
        );
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests;
