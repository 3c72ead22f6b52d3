//! The HTML report's per-stage section: for each stage of a staged run, its window and
//! target, its request table (the run's columns plus p95 and p99), and for the open model
//! its arrivals; then the open model's target against achieved arrival rate per interval.

use std::fmt::Write as _;

use super::charts;
use super::markup::{escape, heading, num, table, text, tr};
use crate::report::format::{decimal, ms};
use crate::report::summary::{EndpointSummary, LAG_LIMIT_MS, OpenSummary, StageSummary, Summary};

/// The stages section; nothing when the run has no stages and no open-model intervals.
pub(super) fn stages_section(out: &mut String, s: &Summary) {
    let intervals = s.open.as_ref().map_or(&[][..], |o| &o.intervals);
    if s.stages.is_empty() && intervals.is_empty() {
        return;
    }
    heading(out, "stages", "Per stage");
    charts::arrivals_chart(out, intervals);
    for stage in &s.stages {
        stage_heading(out, stage, s.stages.len());
        stage_table(out, stage);
        if let Some(open) = &stage.open {
            stage_arrivals(out, open);
        }
    }
}

/// A stage's title (`Stage 2 of 3: ramp`), then its window and target.
fn stage_heading(out: &mut String, stage: &StageSummary, count: usize) {
    let _ = writeln!(
        out,
        "<h3 class=\"stage\" id=\"stage-{}\">Stage {} of {}: {}</h3>",
        stage.index,
        stage.index,
        count,
        escape(&stage.name)
    );
    let ran = if stage.ran_s + 1e-9 < stage.duration_s {
        format!(" (the run covered {} s of it)", decimal(stage.ran_s, 1))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<p class=\"sub\">{}–{} s, {} → {} {}{ran}</p>",
        decimal(stage.start_s, 1),
        decimal(stage.start_s + stage.duration_s, 1),
        decimal(stage.target_from, 3),
        decimal(stage.target_to, 3),
        escape(&stage.target_unit),
    );
}

/// A stage's request table: a row per endpoint, then its total.
fn stage_table(out: &mut String, stage: &StageSummary) {
    let row = |e: &EndpointSummary| {
        vec![
            text(&e.method),
            text(&e.name),
            num(e.requests),
            num(e.failures),
            num(ms(e.p50_ms)),
            num(ms(e.avg_ms)),
            num(ms(e.p95_ms)),
            num(ms(e.p99_ms)),
            num(ms(e.max_ms)),
            num(format!("{:.2}", e.rps)),
            num(format!("{:.2}", e.failures_per_s)),
        ]
    };
    let mut rows: Vec<String> = stage.endpoints.iter().map(|e| tr("", &row(e))).collect();
    rows.push(tr(" class=\"total\"", &row(&stage.total)));
    let headers = "Type|Name|# requests|# fails|Median (ms)|Average (ms)|95% (ms)|\
                   99% (ms)|Max (ms)|req/s|failures/s";
    table(out, headers, 2, &rows, "None");
}

/// An open-model stage's arrivals, iterations and schedule lag, in one line.
fn stage_arrivals(out: &mut String, open: &OpenSummary) {
    let _ = writeln!(
        out,
        "<p class=\"sub\">Arrivals: {} planned, {} scheduled, {} started ({}/s), \
         {} dropped; {} iterations completed, {} failed; schedule lag p50 {} ms, \
         p99 {} ms, {} requests sent more than {} ms late</p>",
        open.planned,
        open.scheduled,
        open.started,
        decimal(open.achieved_rate, 2),
        open.dropped,
        open.completed,
        open.failed,
        ms(open.lag_p50_ms),
        ms(open.lag_p99_ms),
        open.late,
        LAG_LIMIT_MS,
    );
}
