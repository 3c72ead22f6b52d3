//! The run report written by `--json`: a stable document later tools read, complete
//! enough to rebuild every other report from it and to compare runs exactly (each
//! endpoint carries its merged histogram). Field names and meanings are a contract (see
//! README); fields may be added.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::aggregate::HistoryRow;
use crate::slo::Verdict;
use crate::slo::abort::AbortRecord;

mod generator;
mod open;
mod phases;
pub mod resources;
mod rows;
mod stages;

pub use generator::{GENERATOR_LIMITED, GeneratorCause, GeneratorWarning, limit_note};
pub use open::{IntervalRate, LAG_LIMIT_MS, OpenSummary, interval_rates};
pub use phases::{PhaseSummary, PhasesSummary};
pub use rows::{EndpointSummary, ExceptionSummary, FailureSummary, stats_rows};
#[cfg(test)]
pub(crate) use stages::sample_stages;
pub use stages::{StageSummary, add_overloads, stage_stats_from, stage_summaries};

/// The whole summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Run id.
    pub run_id: String,
    /// Target user count.
    pub users: u32,
    /// Seconds from the first assignment to the stop.
    pub run_time_s: f64,
    /// The process exit code this run produced.
    pub exit_code: i32,
    /// Why the exit code is what it is (ending with the generator warning when
    /// `generator_limited`).
    pub verdict: String,
    /// lv itself limited the run (a worker overloaded, open-model arrivals it could not
    /// start or started late): its latencies include its own delay.
    #[serde(default)]
    pub generator_limited: bool,
    /// Why the generator limited the run, one entry per cause (and per overloaded worker
    /// and period); empty when it did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generator_warnings: Vec<GeneratorWarning>,
    /// Start of the run, Unix ms.
    pub started_unix_ms: i64,
    /// End of the run, Unix ms.
    pub ended_unix_ms: i64,
    /// Workers that took part.
    pub workers: Vec<WorkerSummary>,
    /// The Aggregated row.
    pub total: EndpointSummary,
    /// One row per endpoint, sorted by method and name.
    pub endpoints: Vec<EndpointSummary>,
    /// Failures grouped by method, name and error.
    pub failures: Vec<FailureSummary>,
    /// Errors in lv's own step handling.
    pub exceptions: Vec<ExceptionSummary>,
    /// Requests cut off by the stop (not counted as failures).
    pub cut_off: u64,
    /// How the run was configured.
    #[serde(default)]
    pub meta: RunMeta,
    /// One Aggregated row per report interval.
    #[serde(default)]
    pub history: Vec<HistoryRow>,
    /// SLO verdicts; absent with `--no-slo`.
    #[serde(default)]
    pub slo: Option<Vec<Verdict>>,
    /// Periods in which fewer users ran than the target because a worker was lost.
    #[serde(default)]
    pub below_target: Vec<BelowTarget>,
    /// True for a checkpoint of a run still going (or whose master died).
    #[serde(default)]
    pub checkpoint: bool,
    /// Open model: arrivals, service times and schedule lags; absent in a closed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenSummary>,
    /// One entry per stage of the run's shape, in order; absent when the run has no stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSummary>,
    /// Times the master died and a new one resumed the run (`--resume`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub master_outages: Vec<MasterOutage>,
    /// In a checkpoint: what a master started with `--resume` needs to continue the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeState>,
    /// The abort rule that stopped the run early, and why; absent when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<AbortRecord>,
}

/// The `worker_id` of the below-target period a master outage starts.
pub const OUTAGE_CAUSE: &str = "master (restarted)";

/// A master that died and the one that resumed its run from the last checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterOutage {
    /// When the last checkpoint before the outage was written, Unix ms.
    pub from_unix_ms: i64,
    /// When the new master resumed the run, Unix ms.
    pub to_unix_ms: i64,
    /// Workers of the checkpoint expected back.
    pub workers_expected: u32,
    /// Of those, the ones that came back (and resent what they held).
    pub workers_back: u32,
    /// Seconds of data that may be missing: 0 when every worker came back (each kept its
    /// reports since the checkpoint), else at most the outage's length.
    pub missing_s: f64,
}

impl MasterOutage {
    /// One sentence for the console and the HTML report.
    pub fn describe(&self) -> String {
        format!(
            "The master was down from {} (its last checkpoint) to {} ({:.1} s) and a new one \
             resumed the run; {} of {} workers came back; data possibly missing: {:.1} s",
            crate::report::format::utc_timestamp(self.from_unix_ms),
            crate::report::format::utc_timestamp(self.to_unix_ms),
            (self.to_unix_ms - self.from_unix_ms).max(0) as f64 / 1000.0,
            self.workers_back,
            self.workers_expected,
            self.missing_s
        )
    }
}

/// The run control state a checkpoint carries beside the stats, for `--resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    /// Fingerprint of the resolved plan; a resumed run must have the same.
    pub plan_fingerprint: String,
    /// Generation of the last assignments.
    pub generation: u64,
    /// Highest report sequence merged into this checkpoint, per worker id.
    pub worker_seqs: std::collections::BTreeMap<String, u64>,
    /// Start of the stage clock (and open schedule), Unix ms, when the run has one.
    pub stages_start_unix_ms: Option<i64>,
}

/// A period with fewer users running than the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BelowTarget {
    /// Start, Unix ms (the loss that caused it).
    pub from_unix_ms: i64,
    /// End, Unix ms; `None` when the run ended first.
    pub to_unix_ms: Option<i64>,
    /// The worker whose loss started it.
    pub worker_id: String,
}

/// How a run was configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMeta {
    /// Profile name (`light`, ...), when run from a profile.
    pub profile: Option<String>,
    /// `--host`.
    pub host: String,
    /// Scenario files and folders.
    pub scenarios: Vec<String>,
    /// User classes run.
    pub classes: Vec<String>,
    /// Spawn rate, users per second.
    pub spawn_rate: f64,
    /// Configured run time, seconds (none: until stopped).
    pub run_time_s: Option<f64>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--exclude-tags`.
    pub exclude_tags: Vec<String>,
    /// Load level the SLO verdicts used.
    pub slo_level: Option<String>,
    /// lv version.
    pub version: String,
}

/// What every view of a worker shows: who it is, its state, its users and what it reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerCore {
    /// Worker id.
    pub id: String,
    /// Its host name.
    pub hostname: String,
    /// `active`, `missing` or `lost`.
    pub state: String,
    /// Users: in a report, those it had at the end (0 when lost); live, those it runs now.
    pub users: u32,
    /// Requests it reported this run.
    pub requests: u64,
    /// Failures among them.
    pub failures: u64,
}

/// One worker's part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSummary {
    /// Who the worker is and what it reported.
    #[serde(flatten)]
    pub core: WorkerCore,
    /// When it was declared lost, Unix ms.
    #[serde(default)]
    pub lost_unix_ms: Option<i64>,
    /// For a lost worker: seconds between its last report and its loss, whose requests
    /// were never reported (at most one report interval plus the heartbeat timeout).
    #[serde(default)]
    pub unreported_s: Option<f64>,
    /// Its own load (CPU, memory, connections, scheduling delay): peak and mean over the
    /// run; absent when its heartbeats carried none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<resources::WorkerResources>,
}

/// Rebuilds a run's merged stats from its report (or checkpoint), histograms included, so
/// every report can be written again from it.
pub fn run_stats_from(summary: &Summary) -> Result<crate::aggregate::RunStats, String> {
    use lv_common::stats::{EndpointKey, FailureKey};
    let mut run = crate::aggregate::RunStats::default();
    for endpoint in &summary.endpoints {
        let key = EndpointKey {
            method: endpoint.method.clone(),
            name: endpoint.name.clone(),
        };
        if let Some(phases) = endpoint.to_phase_stats()? {
            run.totals.phases.insert(key.clone(), phases);
        }
        run.totals.endpoints.insert(key, endpoint.to_stats()?);
    }
    for failure in &summary.failures {
        let key = FailureKey {
            method: failure.method.clone(),
            name: failure.name.clone(),
            error: failure.error.clone(),
        };
        run.failure_times.insert(
            key.clone(),
            (failure.first_seen_unix_ms, failure.last_seen_unix_ms),
        );
        run.totals.failures.insert(key, failure.count);
    }
    for exception in &summary.exceptions {
        run.totals
            .exceptions
            .insert(exception.message.clone(), exception.count);
        run.exception_nodes.insert(
            exception.message.clone(),
            exception.nodes.iter().cloned().collect(),
        );
    }
    run.grand_total = summary.total.to_stats()?;
    run.history = summary.history.clone();
    run.cut_off = summary.cut_off;
    for stage in &summary.stages {
        run.stages.insert(stage.index, stage_stats_from(stage)?);
    }
    for WorkerSummary { core, .. } in &summary.workers {
        let counts = run.workers.entry(core.id.clone()).or_default();
        counts.requests = core.requests;
        counts.failures = core.failures;
    }
    Ok(run)
}

/// Reads a JSON report written by `--json`.
pub fn read_json(path: &Path) -> Result<Summary, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not an lv JSON report: {e}", path.display()))
}

/// Writes `summary` as pretty JSON, atomically (temporary file, then rename).
pub fn write_json(summary: &Summary, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    write_atomically(path, &text)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
