//! Locust 2.x CSV files: `_stats.csv`, `_stats_history.csv`, `_failures.csv` and
//! `_exceptions.csv`, with Locust's headers, column meanings and row order, so tools that
//! read Locust's CSVs read lv's; and lv's own `_stages.csv` and `_phases.csv` in the same
//! dialect. Times are milliseconds. Unlike Locust, percentiles come from
//! the merged HdrHistograms with three significant digits (written with up to three
//! decimals), and the files are written once more at the very end so they agree with the
//! final table exactly.

use std::borrow::Cow;
use std::io;

use ::csv::{QuoteStyle, Terminator, Writer, WriterBuilder};
use lv_common::stats::{EndpointStats, Phase};

use crate::aggregate::{HistoryRow, PERCENTILES, RunStats, per_second, percentiles};
use crate::report::format::{decimal, ms_precise};
use crate::report::summary::{EndpointSummary, StageSummary};

/// Header of `_stats.csv`.
pub const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// Header of `_stats_history.csv`.
pub const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
/// Header of `_stages.csv`: a `Stage` column, then those of `_stats.csv`.
pub const STAGES_HEADER: &str = "Stage,Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// Header of `_phases.csv`: per endpoint and phase, its count and times.
pub const PHASES_HEADER: &str = "Type,Name,Phase,Count,Median,Average,Min,Max,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// Header of `_failures.csv`.
pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
/// Header of `_exceptions.csv`.
pub const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// `_stats.csv`: one row per (method, name) in sorted order, then `Aggregated`.
pub fn stats_csv(run: &RunStats, seconds: f64) -> String {
    document(STATS_HEADER, |out| {
        for (key, endpoint) in &run.totals.endpoints {
            let row = StatsRow::of_stats(&key.method, &key.name, endpoint, seconds);
            out.write_record(row.fields().0)?;
        }
        let total = StatsRow::of_stats("", "Aggregated", &run.totals.total(), seconds);
        out.write_record(total.fields().0)
    })
}

/// `_phases.csv` (lv's own, when requests had phases): for each endpoint in sorted order,
/// then `Aggregated`, one row per timing phase some request had (`connect`, `tls`, `ttfb`,
/// `body`, in that order): how many requests had it and its times in ms.
pub fn phases_csv(run: &RunStats) -> String {
    document(PHASES_HEADER, |out| {
        let total = run.totals.total_phases();
        let rows = run
            .totals
            .phases
            .iter()
            .map(|(k, p)| (&*k.method, &*k.name, p));
        for (method, name, phases) in rows.chain(std::iter::once(("", "Aggregated", &total))) {
            for phase in Phase::ALL {
                let e = phases.get(phase);
                if e.is_empty() {
                    continue;
                }
                let fields = Fields::default()
                    .text(method)
                    .text(name)
                    .text(phase.as_str())
                    .text(e.requests)
                    .ms(e.percentile_ms(50.0))
                    .ms(e.avg_ms())
                    .ms(e.min_ms())
                    .ms(e.max_ms())
                    .percentiles(&percentiles(e));
                out.write_record(fields.0)?;
            }
        }
        Ok(())
    })
}

/// `_stages.csv` (staged runs only): for each stage in order, its rows as in `_stats.csv`
/// (one per endpoint, then `Aggregated`; rates per second of the stage), each led by the
/// stage's name.
pub fn stages_csv(stages: &[StageSummary]) -> String {
    document(STAGES_HEADER, |out| {
        for stage in stages {
            for row in stage.endpoints.iter().chain(std::iter::once(&stage.total)) {
                let fields = StatsRow::of_summary(row).fields();
                out.write_record(std::iter::once(stage.name.clone()).chain(fields.0))?;
            }
        }
        Ok(())
    })
}

/// `_stats_history.csv`: one Aggregated row per interval, whose percentile columns are
/// cumulative, as in Locust; with `full`, first a row per endpoint, and then every row's
/// percentiles are those of the current window (Locust's `--csv-full-history`). `N/A` where
/// there was no request yet.
pub fn history_csv(history: &[HistoryRow], full: bool) -> String {
    document(HISTORY_HEADER, |out| {
        history
            .iter()
            .try_for_each(|row| history_rows(out, row, full))
    })
}

/// Writes `_stats_history.csv` from `rows` as they come, one row in memory at a time, in the
/// format of [`history_csv`].
pub fn write_history(
    out: &mut impl io::Write,
    rows: impl Iterator<Item = io::Result<HistoryRow>>,
    full: bool,
) -> io::Result<()> {
    let mut out = locust_writer(out);
    out.write_record(HISTORY_HEADER.split(','))?;
    for row in rows {
        history_rows(&mut out, &row?, full)?;
    }
    out.flush()
}

/// The rows of one history interval: with `full`, one per endpoint, then `Aggregated`.
fn history_rows<W: io::Write>(
    out: &mut Writer<W>,
    row: &HistoryRow,
    full: bool,
) -> ::csv::Result<()> {
    let timestamp = row.unix_ms.div_euclid(1000);
    if full {
        for e in &row.endpoints {
            let fields = Fields::default()
                .text(timestamp)
                .text(row.users)
                .text(&e.method)
                .text(&e.name)
                .rate(e.rps)
                .rate(e.fps)
                .percentiles(&e.percentiles_ms)
                .text(e.total_requests)
                .text(e.total_failures)
                .ms(e.total_median_ms)
                .ms(e.total_avg_ms)
                .ms(e.total_min_ms)
                .ms(e.total_max_ms)
                .rate(e.total_avg_content_bytes);
            out.write_record(fields.0)?;
        }
    }
    let percentiles = if full {
        &row.current_percentiles_ms
    } else {
        &row.total_percentiles_ms
    };
    let fields = Fields::default()
        .text(timestamp)
        .text(row.users)
        .text("")
        .text("Aggregated")
        .rate(row.rps)
        .rate(row.fps)
        .percentiles(percentiles)
        .text(row.total_requests)
        .text(row.total_failures)
        .ms(row.total_median_ms)
        .ms(row.total_avg_ms)
        .ms(row.total_min_ms)
        .ms(row.total_max_ms)
        .rate(row.total_avg_content_bytes);
    out.write_record(fields.0)
}

/// `_failures.csv`: one row per (method, name, error), with first and last time seen
/// (Unix seconds).
pub fn failures_csv(run: &RunStats) -> String {
    document(FAILURES_HEADER, |out| {
        for (key, count) in &run.totals.failures {
            let (first, last) = run.failure_times.get(key).copied().unwrap_or((0, 0));
            let fields = Fields::default()
                .text(&key.method)
                .text(&key.name)
                .text(&key.error)
                .text(count)
                .text(first.div_euclid(1000))
                .text(last.div_euclid(1000));
            out.write_record(fields.0)?;
        }
        Ok(())
    })
}

/// `_exceptions.csv`: errors in lv's own step handling, with the workers they happened on.
/// lv has no tracebacks: that column holds the message again, as the closest equivalent.
pub fn exceptions_csv(run: &RunStats) -> String {
    document(EXCEPTIONS_HEADER, |out| {
        for (message, count) in &run.totals.exceptions {
            let nodes = run
                .exception_nodes
                .get(message)
                .map(|n| n.iter().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            out.write_record([&count.to_string(), message, message, &nodes])?;
        }
        Ok(())
    })
}

/// One `_stats.csv` row: an endpoint (or `Aggregated`) over a run or over a stage.
struct StatsRow<'a> {
    method: &'a str,
    name: &'a str,
    requests: u64,
    failures: u64,
    median_ms: f64,
    avg_ms: f64,
    min_ms: f64,
    max_ms: f64,
    avg_content_bytes: f64,
    rps: f64,
    failures_per_s: f64,
    /// At each of [`PERCENTILES`]; empty when there was no request.
    percentiles_ms: Cow<'a, [f64]>,
}

impl<'a> StatsRow<'a> {
    /// The row of merged stats over `seconds`.
    fn of_stats(method: &'a str, name: &'a str, e: &EndpointStats, seconds: f64) -> Self {
        StatsRow {
            method,
            name,
            requests: e.requests,
            failures: e.failures,
            median_ms: e.percentile_ms(50.0),
            avg_ms: e.avg_ms(),
            min_ms: e.min_ms(),
            max_ms: e.max_ms(),
            avg_content_bytes: e.avg_content_bytes(),
            rps: per_second(e.requests, seconds),
            failures_per_s: per_second(e.failures, seconds),
            percentiles_ms: Cow::Owned(percentiles(e)),
        }
    }

    /// The row of a report's endpoint (or total).
    fn of_summary(e: &'a EndpointSummary) -> Self {
        StatsRow {
            method: &e.method,
            name: &e.name,
            requests: e.requests,
            failures: e.failures,
            median_ms: e.p50_ms,
            avg_ms: e.avg_ms,
            min_ms: e.min_ms,
            max_ms: e.max_ms,
            avg_content_bytes: e.avg_content_bytes,
            rps: e.rps,
            failures_per_s: e.failures_per_s,
            percentiles_ms: Cow::Borrowed(&e.percentiles_ms),
        }
    }

    /// The row's fields in `_stats.csv`'s column order.
    fn fields(&self) -> Fields {
        Fields::default()
            .text(self.method)
            .text(self.name)
            .text(self.requests)
            .text(self.failures)
            .ms(self.median_ms)
            .ms(self.avg_ms)
            .ms(self.min_ms)
            .ms(self.max_ms)
            .rate(self.avg_content_bytes)
            .rate(self.rps)
            .rate(self.failures_per_s)
            .percentiles(&self.percentiles_ms)
    }
}

/// The fields of one row, each formatted as Locust's files have it.
#[derive(Default)]
struct Fields(Vec<String>);

impl Fields {
    /// A field as it displays (a name, a count).
    fn text(mut self, value: impl ToString) -> Self {
        self.0.push(value.to_string());
        self
    }

    /// Milliseconds, with up to three decimals.
    fn ms(self, value: f64) -> Self {
        self.text(ms_precise(value))
    }

    /// A rate or an average, with up to six decimals.
    fn rate(self, value: f64) -> Self {
        self.text(decimal(value, 6))
    }

    /// One column per percentile, `N/A` in each when `values` is empty (no request yet).
    fn percentiles(self, values: &[f64]) -> Self {
        if values.is_empty() {
            return (0..PERCENTILES.len()).fold(self, |fields, _| fields.text("N/A"));
        }
        values.iter().fold(self, |fields, &value| fields.ms(value))
    }
}

/// A writer of Locust's dialect, that of Python's `csv` module: CRLF after every row, a
/// field quoted only when it holds a comma, a quote or a line break (quotes doubled).
fn locust_writer<W: io::Write>(out: W) -> Writer<W> {
    WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .quote_style(QuoteStyle::Necessary)
        .flexible(true)
        .from_writer(out)
}

/// A whole CSV file in memory: `header`'s columns, then the rows `rows` writes.
fn document(header: &str, rows: impl FnOnce(&mut Writer<Vec<u8>>) -> ::csv::Result<()>) -> String {
    let mut out = locust_writer(Vec::new());
    let written = out
        .write_record(header.split(','))
        .and_then(|()| rows(&mut out));
    if let Err(error) = written {
        tracing::error!(%error, "cannot write a CSV file in memory");
    }
    let bytes = out
        .into_inner()
        .unwrap_or_else(|error| error.into_inner().get_ref().clone());
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests;
