//! Comparing two runs, and the benchmark log. Two JSON reports (BASE and NEW) are compared
//! endpoint by endpoint from their stored histograms, so percentiles are exact rather than
//! rounded copies; a regression is a p95, p99 or failure-ratio increase beyond a tolerance,
//! with absolute floors so noise on fast or healthy endpoints is not reported. The benchmark
//! log (`benchmarks.md`) is the old suite's "compare baselines" habit: one markdown row per
//! recorded run. Pure apart from [`append_benchmark`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::aggregate::ratio;
use crate::report::format::{decimal, ms, percent, truncate, utc_timestamp};
use crate::report::summary::{EndpointSummary, Summary};

/// Latency increases smaller than this (ms) are never regressions: the same floor as the
/// SLO ratio rules, so scheduling noise on millisecond endpoints does not fail a gate.
pub const LATENCY_FLOOR_MS: f64 = 10.0;
/// Failure-ratio increases up to this (0.1 percentage point) are never regressions.
pub const FAILURE_RATIO_FLOOR: f64 = 0.001;

/// A figure compared between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Requests per second over the run.
    Rps,
    /// Median response time, ms.
    P50,
    /// 95th percentile, ms.
    P95,
    /// 99th percentile, ms.
    P99,
    /// Failed requests over requests.
    FailureRatio,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 5] = [
        Metric::Rps,
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::FailureRatio,
    ];

    /// Short name used in regression messages.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rps => "req/s",
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::FailureRatio => "failure ratio",
        }
    }

    /// `value` formatted in the metric's unit.
    pub fn show(self, value: f64) -> String {
        match self {
            Metric::Rps => format!("{value:.2}"),
            Metric::P50 | Metric::P95 | Metric::P99 => ms(value),
            Metric::FailureRatio => percent(value),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::Rps => "req/s",
            Metric::P50 => "p50 (ms)",
            Metric::P95 => "p95 (ms)",
            Metric::P99 => "p99 (ms)",
            Metric::FailureRatio => "failures",
        }
    }
}

/// One run's figures for one endpoint, rebuilt from its histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Failures over requests (0 without requests).
    pub failure_ratio: f64,
}

impl Figures {
    /// The value of `metric`.
    pub fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Rps => self.rps,
            Metric::P50 => self.p50_ms,
            Metric::P95 => self.p95_ms,
            Metric::P99 => self.p99_ms,
            Metric::FailureRatio => self.failure_ratio,
        }
    }

    fn of(endpoint: &EndpointSummary, seconds: f64, run: &str) -> Result<Figures, String> {
        let stats = endpoint
            .to_stats()
            .map_err(|e| format!("{run} report: {}", e.trim_start()))?;
        Ok(Figures {
            requests: stats.requests,
            rps: if seconds > 0.0 {
                stats.requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: stats.percentile_ms(50.0),
            p95_ms: stats.percentile_ms(95.0),
            p99_ms: stats.percentile_ms(99.0),
            failure_ratio: ratio(stats.failures, stats.requests),
        })
    }
}

/// How one metric moved from BASE to NEW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// NEW minus BASE, in the metric's unit.
    pub absolute: f64,
    /// The same relative to BASE, percent; `None` when BASE is 0 and NEW is not.
    pub percent: Option<f64>,
}

/// One endpoint (or the Aggregated total) in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    /// HTTP method (empty for the total).
    pub method: String,
    /// Stats name (`Aggregated` for the total).
    pub name: String,
    /// Figures in BASE; `None` when the endpoint was added in NEW.
    pub base: Option<Figures>,
    /// Figures in NEW; `None` when the endpoint was removed.
    pub new: Option<Figures>,
    /// Metrics that regressed (only for endpoints in both runs).
    pub regressed: Vec<Metric>,
}

impl ComparisonRow {
    /// `METHOD name`, or just the name for the total.
    pub fn label(&self) -> String {
        if self.method.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.method, self.name)
        }
    }

    /// The change of `metric`, when the endpoint is in both runs.
    pub fn change(&self, metric: Metric) -> Option<Change> {
        let (base, new) = (self.base?.get(metric), self.new?.get(metric));
        let percent = if new == base {
            Some(0.0)
        } else if base == 0.0 {
            None
        } else {
            Some((new - base) / base * 100.0)
        };
        Some(Change {
            absolute: new - base,
            percent,
        })
    }
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Endpoints of either run sorted by method and name, then the Aggregated total.
    pub rows: Vec<ComparisonRow>,
    /// One message per regressed metric, naming the endpoint and the metric.
    pub regressions: Vec<String>,
    /// The tolerance used, percent.
    pub max_regression_percent: f64,
}

/// Compares NEW with BASE; a p95, p99 or failure ratio more than `max_regression_percent`
/// percent worse (and beyond [`LATENCY_FLOOR_MS`] / [`FAILURE_RATIO_FLOOR`]) is a
/// regression. Fails when a stored histogram does not decode.
pub fn compare(
    base: &Summary,
    new: &Summary,
    max_regression_percent: f64,
) -> Result<Comparison, String> {
    if !max_regression_percent.is_finite() || max_regression_percent < 0.0 {
        return Err(format!(
            "the regression tolerance must be a percentage >= 0, not {max_regression_percent}"
        ));
    }
    let base_rows = by_endpoint(base, "BASE")?;
    let new_rows = by_endpoint(new, "NEW")?;
    let keys: BTreeSet<&(String, String)> = base_rows.keys().chain(new_rows.keys()).collect();
    let pct = max_regression_percent;
    let mut rows: Vec<ComparisonRow> = keys
        .into_iter()
        .map(|key| {
            row(
                &key.0,
                &key.1,
                base_rows.get(key).copied(),
                new_rows.get(key).copied(),
                pct,
            )
        })
        .collect();
    let base_total = Figures::of(&base.total, base.run_time_s, "BASE")?;
    let new_total = Figures::of(&new.total, new.run_time_s, "NEW")?;
    rows.push(row(
        "",
        "Aggregated",
        Some(base_total),
        Some(new_total),
        pct,
    ));
    let regressions = rows
        .iter()
        .flat_map(|r| {
            r.regressed
                .iter()
                .map(move |&m| regression_message(r, m, pct))
        })
        .collect();
    Ok(Comparison {
        rows,
        regressions,
        max_regression_percent,
    })
}

type Keyed = BTreeMap<(String, String), Figures>;

fn by_endpoint(summary: &Summary, run: &str) -> Result<Keyed, String> {
    let mut map = BTreeMap::new();
    for e in &summary.endpoints {
        let figures = Figures::of(e, summary.run_time_s, run)?;
        map.insert((e.method.clone(), e.name.clone()), figures);
    }
    Ok(map)
}

fn row(
    method: &str,
    name: &str,
    base: Option<Figures>,
    new: Option<Figures>,
    pct: f64,
) -> ComparisonRow {
    let regressed = match (base, new) {
        (Some(b), Some(n)) => Metric::ALL
            .into_iter()
            .filter(|&m| regressed(m, &b, &n, pct))
            .collect(),
        _ => Vec::new(),
    };
    ComparisonRow {
        method: method.to_owned(),
        name: name.to_owned(),
        base,
        new,
        regressed,
    }
}

/// Whether `metric` got worse beyond the tolerance and the metric's absolute floor.
fn regressed(metric: Metric, base: &Figures, new: &Figures, pct: f64) -> bool {
    let (b, n) = (base.get(metric), new.get(metric));
    let beyond = n > b * (1.0 + pct / 100.0);
    match metric {
        // Latencies of a side without requests are no measurement.
        Metric::P95 | Metric::P99 => {
            base.requests > 0 && new.requests > 0 && beyond && n - b >= LATENCY_FLOOR_MS
        }
        Metric::FailureRatio => beyond && n - b > FAILURE_RATIO_FLOOR,
        Metric::Rps | Metric::P50 => false,
    }
}

fn regression_message(row: &ComparisonRow, metric: Metric, pct: f64) -> String {
    let (base, new) = (
        row.base.map_or(0.0, |f| f.get(metric)),
        row.new.map_or(0.0, |f| f.get(metric)),
    );
    let unit = if metric == Metric::FailureRatio {
        ""
    } else {
        " ms"
    };
    format!(
        "{}: {} {}{unit} -> {}{unit} ({}, limit +{}%)",
        row.label(),
        metric.name(),
        metric.show(base),
        metric.show(new),
        change_text(row.change(metric)),
        decimal(pct, 2)
    )
}

fn change_text(change: Option<Change>) -> String {
    match change {
        Some(Change {
            percent: Some(p), ..
        }) => format!("{:+.1}%", if p == 0.0 { 0.0 } else { p }),
        Some(Change { percent: None, .. }) => "from 0".to_owned(),
        None => "-".to_owned(),
    }
}

const NAME_WIDTH: usize = 42;

/// The comparison as a console table: per endpoint one line per metric with BASE, NEW and
/// the change; regressed changes end in `!`. The regressions follow the table.
pub fn render_table(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:<10} {:>12} {:>12} {:>11}",
        "Type", "Name", "Metric", "BASE", "NEW", "Change"
    );
    let rule = format!("{:-<w$}\n", "", w = 8 + NAME_WIDTH + 10 + 12 + 12 + 11 + 5);
    out.push_str(&rule);
    for row in &comparison.rows {
        if row.method.is_empty() && row.name == "Aggregated" {
            out.push_str(&rule);
        }
        for (i, metric) in Metric::ALL.into_iter().enumerate() {
            let (method, name) = if i == 0 {
                (row.method.as_str(), truncate(&row.name, NAME_WIDTH))
            } else {
                ("", String::new())
            };
            let value =
                |f: Option<Figures>| f.map_or("-".to_owned(), |f| metric.show(f.get(metric)));
            let change = match (row.base, row.new) {
                (None, _) => "added".to_owned(),
                (_, None) => "removed".to_owned(),
                _ if row.regressed.contains(&metric) => {
                    format!("{} !", change_text(row.change(metric)))
                }
                _ => change_text(row.change(metric)),
            };
            let _ = writeln!(
                out,
                "{method:<8} {name:<NAME_WIDTH$} {:<10} {:>12} {:>12} {change:>11}",
                metric.label(),
                value(row.base),
                value(row.new),
            );
        }
    }
    let limit = decimal(comparison.max_regression_percent, 2);
    if comparison.regressions.is_empty() {
        let _ = writeln!(
            out,
            "\nNo regressions (p95, p99 or failure ratio worse than +{limit}%)."
        );
    } else {
        let _ = writeln!(
            out,
            "\n{} regression(s) beyond +{limit}%:",
            comparison.regressions.len()
        );
        for message in &comparison.regressions {
            let _ = writeln!(out, "  ! {message}");
        }
    }
    out
}

/// The header and introduction `benchmarks.md` is created with (the repository's copy is
/// the same text).
pub const BENCHMARKS_TEMPLATE: &str = r#"# Benchmarks

The benchmark log of lv runs against the fleet: one row per recorded run, oldest first. It
keeps the old suite's best practice "Compare baselines: record benchmarks after each major
change". After each major change (to the agents, their deployment, the scenarios or lv
itself), run the same profile again and record it here, so a slowdown shows up as a jump
between two rows instead of as a surprise in production.

## Adding a row

- Compare a run with the last good one and record it:
  `lv-master compare BASE.json NEW.json --record benchmarks.md`. The comparison table is
  printed, every p95, p99 or failure-ratio regression is listed, and the NEW run's row is
  appended to this file. Both files are `--json` reports; they hold the merged histograms,
  so the comparison is exact.
- Or record a run as it ends: add `--record benchmarks.md` to the run's flags.

Rows are only ever appended below the header; the file is created with this text when
missing. Keep the JSON reports of recorded runs (`reports/`) so they can be compared again.

## Reading it

- Compare rows of the same profile only: users and run time set the load.
- req/s is the throughput of the whole run; p50, p95 and p99 are response times in ms over
  every request of the run (merged histograms, three significant digits).
- Failures is the share of failed requests; Verdict is the run's result (`passed`, or why
  not); Run id names the run's JSON report for a later `lv-master compare`.
- A row whose p95 or p99 rose by more than the tolerance (10% unless told otherwise) over
  the previous row of the same profile deserves a look before the next change.

| Date (UTC) | Profile | Users | Requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | Failures | Verdict | Run id |
|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|
"#;

/// One row of the benchmark log for `summary`: date (UTC), profile, users, requests, req/s,
/// p50, p95, p99, failure %, verdict and run id, without a line break.
pub fn benchmark_row(summary: &Summary) -> String {
    let t = &summary.total;
    let date = utc_timestamp(summary.started_unix_ms);
    let date = date.get(..16).unwrap_or(&date);
    let cells = [
        date.to_owned(),
        summary
            .meta
            .profile
            .clone()
            .unwrap_or_else(|| "-".to_owned()),
        summary.users.to_string(),
        t.requests.to_string(),
        format!("{:.2}", t.rps),
        ms(t.p50_ms),
        ms(t.p95_ms),
        ms(t.p99_ms),
        percent(ratio(t.failures, t.requests)),
        summary.verdict.clone(),
        summary.run_id.clone(),
    ];
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    format!("| {} |", cells.join(" | "))
}

/// Appends [`benchmark_row`] to the log at `path`, creating it from
/// [`BENCHMARKS_TEMPLATE`] when missing.
pub fn append_benchmark(path: &Path, summary: &Summary) -> std::io::Result<()> {
    append_row(path, &benchmark_row(summary))
}

/// Appends one table `row` to the benchmark log at `path`, creating it from
/// [`BENCHMARKS_TEMPLATE`] when missing.
pub fn append_row(path: &Path, row: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => file.write_all(BENCHMARKS_TEMPLATE.as_bytes())?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let ends_with_newline = std::fs::read(path)?.last().is_none_or(|&b| b == b'\n');
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    let newline = if ends_with_newline { "" } else { "\n" };
    writeln!(file, "{newline}{row}")
}

/// A markdown table cell: one line, `|` escaped.
pub fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests;
