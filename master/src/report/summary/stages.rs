//! The per-stage part of a run's report: for each stage of the shape, its window, its target
//! and its tables (the same rows as the run's), and for the open model its arrivals, lags and
//! service times. Built from the per-stage totals the aggregator keeps, so the stages' counts
//! add up to the run's.

use lv_common::load::{LoadShape, Model, Schedule};
use serde::{Deserialize, Serialize};

use super::generator::GeneratorWarning;
use super::open::OpenSummary;
use super::rows::{EndpointSummary, FailureSummary, stats_rows};
use crate::aggregate::{RunStats, StageStats};

/// Relative slack when counting whole planned arrivals (as `Schedule::total` does).
const FLOOR_SLACK: f64 = 1e-9;

/// One stage of a staged run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageSummary {
    /// 1-based index in the shape.
    pub index: u32,
    /// Stage name (`stage-N` when the shape gives none).
    pub name: String,
    /// Offset of its start from the first stage's start, seconds.
    pub start_s: f64,
    /// Its planned length, seconds.
    pub duration_s: f64,
    /// The seconds of it the run covered (less than `duration_s` when the run ended early);
    /// the rates below are per second of this. The last stage also holds the requests that
    /// ended after its end, before the workers stopped.
    pub ran_s: f64,
    /// `users` (closed model) or `arrivals/s` (open model).
    pub target_unit: String,
    /// Target at its start.
    pub target_from: f64,
    /// Target at its end.
    pub target_to: f64,
    /// The stage's Aggregated row.
    pub total: EndpointSummary,
    /// One row per endpoint, sorted by method and name.
    pub endpoints: Vec<EndpointSummary>,
    /// Failures in the stage, grouped by method, name and error.
    pub failures: Vec<FailureSummary>,
    /// Requests cut off by a stop in the stage.
    pub cut_off: u64,
    /// Open model: the stage's arrivals, service times and schedule lags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenSummary>,
    /// Why the generator limited the stage: its open-model arrivals, and the workers
    /// overloaded during it; empty when it did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generator_warnings: Vec<GeneratorWarning>,
}

/// The summaries of every stage of `shape`, in order; `ran_ms` is how long the run lasted
/// from the first stage's start. A stage the run never reached has zero counts.
pub fn stage_summaries(shape: &LoadShape, stats: &RunStats, ran_ms: i64) -> Vec<StageSummary> {
    let schedule = shape.schedule();
    let ran_total_s = (ran_ms as f64 / 1000.0).max(0.0);
    let empty = StageStats::default();
    let mut from = shape.start;
    let mut start_s = 0.0;
    let mut summaries = Vec::with_capacity(shape.stages.len());
    for (i, stage) in shape.stages.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let duration_s = stage.duration.as_secs_f64();
        let end_s = start_s + duration_s;
        let last = i + 1 == shape.stages.len();
        // The last stage also holds what ended after its end (the stop's margin), but its
        // rates are per second of the stage itself, as every stage's.
        let ran_s = ran_total_s.clamp(start_s, end_s) - start_s;
        let stage_stats = stats.stages.get(&index).unwrap_or(&empty);
        let (total, endpoints, failures, _) = stats_rows(&stage_stats.totals, ran_s);
        let open = (shape.model == Model::Open).then(|| {
            let planned =
                planned_until(&schedule, end_s, last) - planned_until(&schedule, start_s, false);
            OpenSummary::from_parts(&stage_stats.open, planned, duration_s, ran_s)
        });
        summaries.push(StageSummary {
            index,
            name: stage.name.clone(),
            start_s,
            duration_s,
            ran_s,
            target_unit: match shape.model {
                Model::Open => "arrivals/s",
                Model::Closed => "users",
            }
            .to_owned(),
            target_from: from,
            target_to: stage.to,
            total,
            endpoints,
            failures,
            cut_off: stage_stats.cut_off,
            generator_warnings: open.as_ref().map(OpenSummary::warnings).unwrap_or_default(),
            open,
        });
        from = stage.to;
        start_s = end_s;
    }
    summaries
}

/// Adds to each of `stages` (the first starting at `origin_ms`, Unix ms) the worker
/// warnings among `overloads` whose period overlaps its planned window.
pub fn add_overloads(stages: &mut [StageSummary], overloads: &[GeneratorWarning], origin_ms: i64) {
    for stage in stages {
        let from_ms = origin_ms + (stage.start_s * 1000.0).round() as i64;
        let to_ms = from_ms + (stage.duration_s * 1000.0).round() as i64;
        let during = overloads.iter().filter(|w| w.overlaps(from_ms, to_ms));
        stage.generator_warnings.extend(during.cloned());
    }
}

/// Whole arrivals planned from the start to `seconds` (the schedule's exact total at its
/// end), so the stages' planned counts add up to the run's.
fn planned_until(schedule: &Schedule, seconds: f64, end: bool) -> u64 {
    if end {
        return schedule.total();
    }
    let level = schedule.level_at(std::time::Duration::from_secs_f64(seconds.max(0.0)));
    (level + FLOOR_SLACK * level.max(1.0)).floor() as u64
}

/// Rebuilds the per-stage totals of a saved report (for `lv-master report`).
pub fn stage_stats_from(stage: &StageSummary) -> Result<StageStats, String> {
    use lv_common::stats::{EndpointKey, FailureKey};
    let mut stats = StageStats::default();
    for endpoint in &stage.endpoints {
        let key = EndpointKey {
            method: endpoint.method.clone(),
            name: endpoint.name.clone(),
        };
        let in_stage = |e| format!("stage {:?}: {e}", stage.name);
        if let Some(phases) = endpoint.to_phase_stats().map_err(in_stage)? {
            stats.totals.phases.insert(key.clone(), phases);
        }
        let rows = endpoint.to_stats().map_err(in_stage)?;
        stats.totals.endpoints.insert(key, rows);
    }
    for failure in &stage.failures {
        let key = FailureKey {
            method: failure.method.clone(),
            name: failure.name.clone(),
            error: failure.error.clone(),
        };
        stats.totals.failures.insert(key, failure.count);
    }
    stats.cut_off = stage.cut_off;
    Ok(stats)
}

/// Three open-model stages (`warm`, `ramp`, `plateau`) with 10, 20 and 30 requests, for
/// the reports' tests.
#[cfg(test)]
pub(crate) fn sample_stages() -> Vec<StageSummary> {
    let mut run = RunStats::default();
    for (stage, requests) in [(1, 10), (2, 20), (3, 30)] {
        run.merge_report("w1", &tests::report(stage, requests));
    }
    stage_summaries(&tests::shape(Model::Open), &run, 6_000)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lv_common::load::{ArrivalKind, OnSaturation, Stage};
    use lv_common::stats::StatsSet;
    use lv_common::wire::Report;

    use super::*;

    pub(super) fn shape(model: Model) -> LoadShape {
        let stage = |name: &str, secs, to| Stage {
            name: name.to_owned(),
            duration: Duration::from_secs(secs),
            to,
        };
        LoadShape {
            model,
            start: 50.0,
            stages: vec![
                stage("warm", 2, 50.0),
                stage("ramp", 2, 100.0),
                stage("plateau", 2, 100.0),
            ],
            arrivals: ArrivalKind::Uniform,
            seed: None,
            max_in_flight: None,
            on_saturation: OnSaturation::Drop,
        }
    }

    pub(super) fn report(stage: u32, requests: u64) -> Report {
        let mut stats = StatsSet::default();
        for i in 0..requests {
            let error = (i % 5 == 0).then_some("HTTP 500");
            stats.record_request("GET", "/x", None, 1000 + i, 10, error);
        }
        Report {
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
        }
    }

    #[test]
    fn each_stage_has_its_window_target_and_counts() {
        let mut run = RunStats::default();
        run.merge_report("w1", &report(1, 10));
        run.merge_report("w1", &report(2, 20));
        run.merge_report("w2", &report(3, 30));
        let stages = stage_summaries(&shape(Model::Open), &run, 6_500);
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["warm", "ramp", "plateau"]);
        assert_eq!(
            stages.iter().map(|s| s.total.requests).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        assert_eq!(
            stages.iter().map(|s| s.total.requests).sum::<u64>(),
            run.totals.request_count()
        );
        assert_eq!((stages[1].start_s, stages[1].duration_s), (2.0, 2.0));
        assert_eq!((stages[1].target_from, stages[1].target_to), (50.0, 100.0));
        assert_eq!(stages[1].target_unit, "arrivals/s");
        assert_eq!(stages[2].ran_s, 2.0, "the stop's margin is not the stage's");
        assert_eq!(stages[0].total.rps, 5.0);
        assert_eq!(stages[0].failures[0].count, 2);
        let planned: Vec<u64> = stages
            .iter()
            .map(|s| s.open.as_ref().expect("open").planned)
            .collect();
        assert_eq!(planned, [100, 150, 200]);
    }

    #[test]
    fn a_stage_carries_the_worker_overloads_of_its_window() {
        use crate::report::summary::GeneratorCause;

        let overload = |from, to| GeneratorWarning {
            cause: GeneratorCause::WorkerCpu,
            worker_id: Some("w1".into()),
            from_unix_ms: Some(from),
            to_unix_ms: Some(to),
            detail: format!("{from}..{to}"),
        };
        // Stages at 10 s: warm 10-12 s, ramp 12-14 s, plateau 14-16 s.
        let mut stages = sample_stages();
        add_overloads(
            &mut stages,
            &[overload(10_500, 12_500), overload(15_000, 20_000)],
            10_000,
        );
        let details = |i: usize| -> Vec<&str> {
            stages[i]
                .generator_warnings
                .iter()
                .map(|w| w.detail.as_str())
                .collect()
        };
        assert_eq!(details(0), ["10500..12500"]);
        assert_eq!(details(1), ["10500..12500"]);
        assert_eq!(details(2), ["15000..20000"]);
        let json = serde_json::to_value(&stages).expect("json");
        assert_eq!(json[2]["generator_warnings"][0]["cause"], "worker_cpu");
        assert!(sample_stages()[0].generator_warnings.is_empty());
    }

    #[test]
    fn a_run_cut_short_leaves_later_stages_empty() {
        let run = RunStats::default();
        let stages = stage_summaries(&shape(Model::Closed), &run, 3_000);
        assert_eq!(
            stages.iter().map(|s| s.ran_s).collect::<Vec<_>>(),
            [2.0, 1.0, 0.0]
        );
        assert!(stages.iter().all(|s| s.open.is_none()));
        assert_eq!(stages[0].target_unit, "users");
        assert_eq!(stages[2].total.requests, 0);
    }

    #[test]
    fn saved_stages_rebuild_their_stats() {
        let mut run = RunStats::default();
        run.merge_report("w1", &report(2, 20));
        let stages = stage_summaries(&shape(Model::Closed), &run, 6_000);
        let rebuilt = stage_stats_from(&stages[1]).expect("rebuilds");
        assert_eq!(rebuilt.totals.request_count(), 20);
        assert_eq!(rebuilt.totals.failure_count(), 4);
        assert_eq!(rebuilt.totals.failures.values().sum::<u64>(), 4);
    }

    #[test]
    fn the_json_has_one_table_per_stage() {
        let json = serde_json::to_value(sample_stages()).expect("json");
        let stages = json.as_array().expect("an array");
        assert_eq!(stages.len(), 3);
        for (i, stage) in stages.iter().enumerate() {
            assert_eq!(stage["index"], i + 1);
            assert_eq!(stage["total"]["name"], "Aggregated");
            assert_eq!(stage["total"]["requests"], 10 * (i + 1));
            assert_eq!(stage["endpoints"][0]["name"], "/x");
            assert!(stage["endpoints"][0]["histogram"].as_str().is_some());
            assert_eq!(stage["open"]["started"], 0);
            assert!(stage["open"].get("intervals").is_none(), "runs only");
        }
        assert_eq!(stages[2]["name"], "plateau");
        assert_eq!(stages[2]["target_unit"], "arrivals/s");
        let back: Vec<StageSummary> = serde_json::from_value(json).expect("reads back");
        assert_eq!(back[1].total.requests, 20);
    }
}
