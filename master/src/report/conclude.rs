//! Turning a run's state into its report and exit code: at the end of the run, and every
//! few seconds for a checkpoint (the same report, marked as a checkpoint).

use crate::aggregate::RunStats;
use crate::config::MasterConfig;
use crate::report::summary::{
    self, BelowTarget, EndpointSummary, ExceptionSummary, FailureSummary, GeneratorCause,
    GeneratorWarning, MasterOutage, OpenSummary, RunMeta, StageSummary, Summary, WorkerCore,
    WorkerSummary,
};
use crate::run::registry::{Registry, WorkerEntry};
use crate::slo;
use crate::slo::abort::AbortRecord;

/// Exit code: every check passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run finished but its checks failed (or `compare` found a regression).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the run could not be carried out.
pub const EXIT_CANNOT_RUN: u8 = 3;

/// Every exit code of `lv-master` with its one-line meaning: the one table, which
/// `lv-master explain-exit CODE` prints from (and `run_tests.sh` reads through it).
/// `--exit-code-on-error` can make a failed run exit with another code.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (EXIT_OK, "passed"),
    (EXIT_FAILED, "the run's checks failed"),
    (EXIT_USAGE, "bad usage or configuration"),
    (EXIT_CANNOT_RUN, "the run could not be carried out"),
];

/// The meaning of an exit code of `lv-master`, from [`EXIT_CODES`].
pub fn exit_meaning(code: u8) -> Option<&'static str> {
    EXIT_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, meaning)| *meaning)
}

/// What a report is made from.
pub struct RunView<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Merged stats.
    pub stats: &'a RunStats,
    /// The workers.
    pub workers: &'a Registry,
    /// Start, Unix ms (0 when the run never started).
    pub started_unix_ms: i64,
    /// End (or now, for a checkpoint), Unix ms.
    pub ended_unix_ms: i64,
    /// Why the run could not be carried out, if so.
    pub aborted: Option<&'a str>,
    /// The abort rule that stopped the run early, if one did.
    pub stopped_by: Option<&'a AbortRecord>,
    /// The setup or teardown step that failed the run, and why.
    pub failed: Option<&'a str>,
    /// Periods below the user target.
    pub below_target: &'a [BelowTarget],
    /// Times a master died and this one resumed the run.
    pub outages: &'a [MasterOutage],
    /// True for a checkpoint.
    pub checkpoint: bool,
}

/// The report of a run and the exit code it earns.
pub fn summarize(config: &MasterConfig, view: &RunView) -> (u8, Summary) {
    let seconds = if view.started_unix_ms > 0 {
        (view.ended_unix_ms - view.started_unix_ms) as f64 / 1000.0
    } else {
        0.0
    };
    let verdicts = slo_verdicts(config, view);
    let (open, stages) = shape_parts(config, view, seconds);
    let workers = worker_summaries(view);
    let capped = config
        .open()
        .is_some_and(|shape| shape.max_in_flight.is_some());
    let generator_warnings = generator_warnings(open.as_ref(), &workers, capped);
    let (exit_code, mut verdict) = judge(config, view, verdicts.as_deref());
    if let Some(note) = summary::limit_note(&generator_warnings) {
        verdict = format!("{verdict}; {note}");
    }
    let (total, endpoints, failures, exceptions) = report_rows(view.stats, seconds);
    let summary = Summary {
        run_id: view.run_id.to_owned(),
        users: config.users,
        run_time_s: seconds,
        exit_code: i32::from(exit_code),
        verdict,
        generator_limited: !generator_warnings.is_empty(),
        generator_warnings,
        started_unix_ms: view.started_unix_ms,
        ended_unix_ms: view.ended_unix_ms,
        workers,
        total,
        endpoints,
        failures,
        exceptions,
        cut_off: view.stats.cut_off,
        meta: meta(config),
        history: view.stats.history.clone(),
        slo: verdicts,
        below_target: view.below_target.to_vec(),
        checkpoint: view.checkpoint,
        open,
        stages,
        master_outages: view.outages.to_vec(),
        resume: None,
        aborted: view.stopped_by.cloned(),
    };
    (exit_code, summary)
}

/// The SLO verdicts of a started run, its rules' of their own included; `None` with
/// `--no-slo`.
fn slo_verdicts(config: &MasterConfig, view: &RunView) -> Option<Vec<slo::Verdict>> {
    let setup = config.slo.as_ref().filter(|_| view.started_unix_ms > 0)?;
    let mut verdicts = slo::evaluate(&setup.table, &setup.level, &view.stats.totals);
    let stages: Vec<&str> = config.stages().iter().map(|s| s.name.as_str()).collect();
    verdicts.extend(slo::evaluate_rules(
        &setup.table,
        &stages,
        &view.stats.stages,
        &view.stats.totals,
    ));
    Some(verdicts)
}

/// Every reason the generator limited the run: the open model's (with what bounds the
/// connections of a run without `max_in_flight`), then each worker's overloads in id order.
fn generator_warnings(
    open: Option<&OpenSummary>,
    workers: &[WorkerSummary],
    capped: bool,
) -> Vec<GeneratorWarning> {
    let mut warnings = open.map(OpenSummary::warnings).unwrap_or_default();
    if !capped {
        let peak = workers
            .iter()
            .filter_map(|w| Some(w.resources.as_ref()?.connections.peak))
            .reduce(f64::max);
        hint_the_cap(&mut warnings, peak);
    }
    for worker in workers {
        if let Some(resources) = &worker.resources {
            warnings.extend(resources.warnings(&worker.core.id));
        }
    }
    warnings
}

/// Adds to the schedule-lag warning of a run without `max_in_flight` what bounds its
/// connections, and how many a worker held at most: with no cap, an arrival that finds no
/// idle connection opens one, and a worker behind its schedule can open thousands that a
/// server accepts one at a time (docs/load-shapes.md).
fn hint_the_cap(warnings: &mut [GeneratorWarning], connections_peak: Option<f64>) {
    let bounded = match connections_peak {
        Some(peak) => {
            format!(", and a worker held up to {peak:.0} connections: --max-in-flight bounds them")
        }
        None => {
            ": --max-in-flight bounds the connections a worker behind its schedule opens".to_owned()
        }
    };
    let hint = format!("; no max_in_flight{bounded} (arrivals beyond it dropped and counted)");
    for warning in warnings {
        if warning.cause == GeneratorCause::ScheduleLag {
            warning.detail.push_str(&hint);
        }
    }
}

/// The open model's summary and the stages' of a started run, both measured from the stage
/// clock's origin; each stage carries the worker overloads of its window.
fn shape_parts(
    config: &MasterConfig,
    view: &RunView,
    seconds: f64,
) -> (Option<OpenSummary>, Vec<StageSummary>) {
    let started = view.started_unix_ms > 0;
    let origin_ms = view
        .stats
        .stages_start_unix_ms
        .unwrap_or(view.started_unix_ms);
    let open = config
        .open()
        .filter(|_| started)
        .map(|shape| OpenSummary::new(view.stats, &shape.schedule(), origin_ms, seconds));
    let mut stages = match &config.shape {
        Some(shape) if started => {
            summary::stage_summaries(shape, view.stats, view.ended_unix_ms - origin_ms)
        }
        _ => Vec::new(),
    };
    let overloads: Vec<GeneratorWarning> = view
        .workers
        .values()
        .filter_map(|w| Some(w.resources.summary()?.warnings(&w.id)))
        .flatten()
        .collect();
    summary::add_overloads(&mut stages, &overloads, origin_ms);
    (open, stages)
}

/// The Aggregated, endpoint, failure and exception rows of the run, failures with the times
/// they were first and last seen and exceptions with the workers they happened on.
fn report_rows(
    stats: &RunStats,
    seconds: f64,
) -> (
    EndpointSummary,
    Vec<EndpointSummary>,
    Vec<FailureSummary>,
    Vec<ExceptionSummary>,
) {
    let (total, endpoints, mut failures, mut exceptions) =
        summary::stats_rows(&stats.totals, seconds);
    for failure in &mut failures {
        let key = lv_common::stats::FailureKey {
            method: failure.method.clone(),
            name: failure.name.clone(),
            error: failure.error.clone(),
        };
        if let Some(&(first, last)) = stats.failure_times.get(&key) {
            (failure.first_seen_unix_ms, failure.last_seen_unix_ms) = (first, last);
        }
    }
    for exception in &mut exceptions {
        if let Some(nodes) = stats.exception_nodes.get(&exception.message) {
            exception.nodes = nodes.iter().cloned().collect();
        }
    }
    (total, endpoints, failures, exceptions)
}

/// Every worker's part of the run: its users assigned at the end, and for a lost one when
/// it was lost and how long before that it last reported.
fn worker_summaries(view: &RunView) -> Vec<WorkerSummary> {
    view.workers
        .values()
        .map(|w| WorkerSummary {
            core: worker_core(w, view.stats, w.assigned()),
            lost_unix_ms: w.lost_unix_ms,
            unreported_s: w.lost_unix_ms.map(|lost| {
                let last = w.last_report_unix_ms.unwrap_or(view.started_unix_ms);
                ((lost - last) as f64 / 1000.0).max(0.0)
            }),
            resources: w.resources.summary(),
        })
        .collect()
}

/// What the report and the live view both show of `worker`, with `users` as the view counts
/// them.
pub fn worker_core(worker: &WorkerEntry, stats: &RunStats, users: u32) -> WorkerCore {
    let counts = stats.workers.get(&worker.id).cloned().unwrap_or_default();
    WorkerCore {
        id: worker.id.clone(),
        hostname: worker.hostname.clone(),
        state: worker.state.label().to_owned(),
        users,
        requests: counts.requests,
        failures: counts.failures,
    }
}

fn meta(config: &MasterConfig) -> RunMeta {
    RunMeta {
        profile: config.profile.clone(),
        host: config.host.clone(),
        scenarios: config
            .scenario_paths
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
        spawn_rate: config.spawn_rate,
        run_time_s: config.run_time.map(|t| t.as_secs_f64()),
        tags: config.tags.clone(),
        exclude_tags: config.exclude_tags.clone(),
        slo_level: config.slo.as_ref().map(|s| s.asked.clone()),
        version: lv_common::VERSION.to_owned(),
    }
}

/// The exit code and its reason: could not run (3); an abort rule stopped the run (1); a
/// setup or teardown step failed (1); no request at all (failed); with SLO verdicts,
/// whether they all passed; without, whether any request failed (Locust's rule).
fn judge(config: &MasterConfig, view: &RunView, verdicts: Option<&[slo::Verdict]>) -> (u8, String) {
    let totals = &view.stats.totals;
    let (requests, failures) = (totals.request_count(), totals.failure_count());
    if let Some(reason) = view.aborted {
        return (EXIT_CANNOT_RUN, format!("could not run: {reason}"));
    }
    if let Some(stop) = view.stopped_by {
        return (EXIT_FAILED, stop.verdict());
    }
    if let Some(reason) = view.failed {
        return (EXIT_FAILED, format!("failed: {reason}"));
    }
    if requests == 0 {
        return (
            config.exit_code_on_error,
            "failed: no request was made".to_owned(),
        );
    }
    match verdicts {
        Some(verdicts) => {
            let failed = verdicts
                .iter()
                .filter(|v| v.status == slo::Status::Fail)
                .count();
            if failed == 0 {
                (EXIT_OK, "passed: every SLO check passed".to_owned())
            } else {
                (EXIT_FAILED, format!("failed: {failed} SLO checks failed"))
            }
        }
        None if failures > 0 => (
            config.exit_code_on_error,
            format!("failed: {failures} of {requests} requests failed"),
        ),
        None => (EXIT_OK, "passed: no request failed".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_schedule_lag_warning_names_the_cap() {
        let mut warnings = vec![
            GeneratorWarning::run_wide(GeneratorCause::ArrivalsDropped, "7 dropped".into()),
            GeneratorWarning::run_wide(GeneratorCause::ScheduleLag, "lag p99 50.0 ms".into()),
        ];
        hint_the_cap(&mut warnings, Some(7201.0));
        assert_eq!(warnings[0].detail, "7 dropped");
        assert_eq!(
            warnings[1].detail,
            "lag p99 50.0 ms; no max_in_flight, and a worker held up to 7201 connections: \
             --max-in-flight bounds them (arrivals beyond it dropped and counted)"
        );
        let mut unknown = vec![GeneratorWarning::run_wide(
            GeneratorCause::ScheduleLag,
            "lag".into(),
        )];
        hint_the_cap(&mut unknown, None);
        assert_eq!(
            unknown[0].detail,
            "lag; no max_in_flight: --max-in-flight bounds the connections a worker behind its \
             schedule opens (arrivals beyond it dropped and counted)"
        );
    }
}
