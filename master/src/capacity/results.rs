//! What a capacity search shows and writes: the console table of steps and the one-line
//! answer, the `capacity` JSON document, the CSV (one row per step) and the benchmark-log
//! row. Pure: each returns text; the command writes the files.

use serde::Serialize;

use super::search::{Conclusion, Outcome, SearchParams};
use super::steps::{StepRecord, StepSettings};
use crate::report::compare::cell;
use crate::report::format::{percent, utc_timestamp};
use crate::slo::Verdict;

/// What the search was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct SearchSetup {
    /// Climb, bisection and bounds.
    pub search: SearchParams,
    /// How each step was held.
    pub steps: StepSettings,
    /// The unit of a load: `arrivals/s` or `users`.
    pub unit: String,
    /// The user classes searched (all the scenarios' when empty).
    pub classes: Vec<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// The SLO level the steps were judged at.
    pub slo_level: String,
    /// `--require`.
    pub require: Option<f64>,
}

/// The whole search: the `capacity` object of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    /// What was asked.
    pub params: SearchSetup,
    /// Every step, in order.
    pub steps: Vec<StepRecord>,
    /// The answer; absent when the search was interrupted.
    pub result: Option<Conclusion>,
    /// The answer in one line.
    pub summary: String,
    /// The rule that failed first above the capacity.
    pub limit: Option<Verdict>,
    /// Started, Unix ms.
    pub started_unix_ms: i64,
}

impl CapacityReport {
    /// The report of `steps` and `result`, with its one-line answer.
    pub fn new(
        params: SearchSetup,
        steps: Vec<StepRecord>,
        result: Option<Conclusion>,
        started_unix_ms: i64,
    ) -> CapacityReport {
        let limit = result.and_then(|r| limit_rule(&steps, &r));
        let summary = answer_line(&params, &steps, result.as_ref(), limit.as_ref());
        CapacityReport {
            params,
            steps,
            result,
            summary,
            limit,
            started_unix_ms,
        }
    }

    /// The load the answer vouches for (0 when interrupted or none passed).
    pub fn capacity(&self) -> f64 {
        self.result.map_or(0.0, |r| r.load())
    }

    /// The `--json` document: `{"capacity": {...}}`.
    pub fn to_json(&self) -> String {
        let doc = serde_json::json!({ "capacity": self });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// The steps as CSV, one row per step.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "step,load,confirm,achieved_rate,requests,rps,p50_ms,p95_ms,p99_ms,failure_ratio,verdict,rule,run_id\n",
        );
        for s in &self.steps {
            let achieved = s
                .achieved_rate
                .map(|r| format!("{r:.3}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{achieved},{},{:.3},{:.3},{:.3},{:.3},{:.6},{},{},{}\n",
                s.index,
                s.load,
                s.confirm,
                s.requests,
                s.rps,
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.failure_ratio,
                csv_field(s.verdict_word()),
                csv_field(&s.rule_text()),
                s.run_id
            ));
        }
        out
    }

    /// The console output: the table of steps, then the answer.
    pub fn console(&self) -> String {
        let mut out = format!("\n{}\n", table_header(&self.params.unit));
        for step in &self.steps {
            out.push_str(&table_row(step));
            out.push('\n');
        }
        out.push_str(&format!("\n{}\n", self.summary));
        out
    }

    /// One row for the benchmark log (`--record`), in its columns: the step at the
    /// capacity stands for the run, the verdict is the answer.
    pub fn benchmark_row(&self) -> String {
        let at = self.capacity();
        let step = self
            .steps
            .iter()
            .rev()
            .find(|s| s.load == at && s.outcome == Outcome::Pass);
        let date = utc_timestamp(self.started_unix_ms);
        let fig = |f: fn(&StepRecord) -> String| step.map_or_else(|| "-".to_owned(), f);
        let cells = [
            date.get(..16).unwrap_or(&date).to_owned(),
            format!("capacity {}", self.params.classes.join(",")),
            fig(|s| format!("{}", s.load)),
            fig(|s| s.requests.to_string()),
            fig(|s| format!("{:.2}", s.rps)),
            fig(|s| format!("{:.0}", s.p50_ms)),
            fig(|s| format!("{:.0}", s.p95_ms)),
            fig(|s| format!("{:.0}", s.p99_ms)),
            fig(|s| percent(s.failure_ratio)),
            self.summary.clone(),
            fig(|s| s.run_id.clone()),
        ];
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        format!("| {} |", cells.join(" | "))
    }
}

/// The header of the steps table.
pub fn table_header(unit: &str) -> String {
    let load = format!("load ({unit})");
    format!(
        "{:>4} {:>20} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7}  {:<20} {}",
        "step",
        load,
        "achieved/s",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "fail%",
        "verdict",
        "rule"
    )
}

/// One step as a row of the table.
pub fn table_row(s: &StepRecord) -> String {
    let achieved = s
        .achieved_rate
        .map_or("-".to_owned(), |r| format!("{r:.1}"));
    let load = if s.confirm {
        format!("{} (confirm)", trim(s.load))
    } else {
        trim(s.load)
    };
    format!(
        "{:>4} {:>20} {:>12} {:>9.1} {:>9.0} {:>9.0} {:>9.0} {:>7.2}  {:<20} {}",
        s.index,
        load,
        achieved,
        s.rps,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.failure_ratio * 100.0,
        s.verdict_word(),
        s.rule_text()
    )
}

/// A load with at most one decimal.
fn trim(load: f64) -> String {
    let text = format!("{load:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

/// The rule that failed at the lowest failing load of the answer.
fn limit_rule(steps: &[StepRecord], result: &Conclusion) -> Option<Verdict> {
    let failed_at = match *result {
        Conclusion::Capacity { failed_at, .. } => failed_at,
        Conclusion::BelowStart { start } => start,
        _ => return None,
    };
    steps
        .iter()
        .find(|s| s.outcome == Outcome::Fail && s.load == failed_at && s.rule.is_some())
        .or_else(|| steps.iter().find(|s| s.outcome == Outcome::Fail))
        .and_then(|s| s.rule.clone())
}

/// `capacity: 76 arrivals/s of AriaChatUser (p95_ms limit, POST /v1/chat), confirmed`.
fn answer_line(
    params: &SearchSetup,
    steps: &[StepRecord],
    result: Option<&Conclusion>,
    limit: Option<&Verdict>,
) -> String {
    let of = if params.classes.is_empty() {
        format!("{} of the scenarios' classes", params.unit)
    } else {
        format!("{} of {}", params.unit, params.classes.join(", "))
    };
    let why = limit.map_or_else(String::new, |r| {
        format!(
            " ({} limit, {})",
            r.metric.trim_end_matches("_ms"),
            r.endpoint
        )
        .replace(", )", ")")
    });
    let Some(result) = result else {
        let best = steps
            .iter()
            .filter(|s| s.outcome == Outcome::Pass)
            .map(|s| s.load)
            .fold(0.0, f64::max);
        return format!(
            "capacity: search interrupted after {} steps; the highest load that passed was {} {of}",
            steps.len(),
            trim(best)
        );
    };
    conclusion_line(result, &of, &why)
}

/// The answer line of a search that concluded: `of` names the load's unit and classes,
/// `why` the rule that failed first above the capacity.
fn conclusion_line(result: &Conclusion, of: &str, why: &str) -> String {
    match result {
        Conclusion::Capacity {
            load, confirmed, ..
        } => format!(
            "capacity: {} {of}{why}, {}",
            trim(*load),
            if *confirmed {
                "confirmed"
            } else {
                "not confirmed (it failed when held again)"
            }
        ),
        Conclusion::AtLeastMax { load } => format!(
            "capacity: at least {} {of} (--max; every step passed)",
            trim(*load)
        ),
        Conclusion::GeneratorLimited { at_least, at } if *at_least <= 0.0 => format!(
            "capacity: not measured: lv's workers could not deliver the first step, {} {of}; add workers (generator-limited)",
            trim(*at)
        ),
        Conclusion::GeneratorLimited { at_least, at } => format!(
            "capacity: generator-limited, at least {} {of}; add workers (lv's workers could not deliver {})",
            trim(*at_least),
            trim(*at)
        ),
        Conclusion::BelowStart { start } => {
            format!(
                "capacity: below {} {of}{why} (--start failed)",
                trim(*start)
            )
        }
    }
}

/// A CSV field, quoted when it needs to be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests;
