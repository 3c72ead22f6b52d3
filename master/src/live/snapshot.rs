//! What the web side shows: one immutable [`Snapshot`] of the master, published by the
//! coordinator on a `watch` channel once per merge interval and on each state change.
//! The builders here are pure: the coordinator passes its stats, workers and clock in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use lv_common::plan::Plan;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::aggregate::{RunStats, ratio};
use crate::config::MasterConfig;
use crate::report::conclude::{RunView, summarize, worker_core};
use crate::report::summary::resources::WorkerResources;
use crate::report::summary::{Summary, WorkerCore};
use crate::run::registry::Registry;
use crate::slo;
use crate::slo::abort::AbortRecord;

/// Where the master stands, in Locust's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// No run yet.
    Ready,
    /// Users are being started.
    Spawning,
    /// Every user is running.
    Running,
    /// Stop sent, waiting for the workers' last reports.
    Stopping,
    /// The last run is over.
    Stopped,
}

impl RunState {
    /// Locust's word for the state.
    pub fn label(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }

    /// True while a run is going (a `/swarm` is then an edit).
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Spawning | RunState::Running)
    }

    /// The value of the `lv_run_state` gauge: 0 ready, 1 spawning, 2 running, 3 stopping,
    /// 4 stopped.
    pub fn gauge(self) -> i64 {
        self as i64
    }
}

/// The small live view: the page header, workers, current window and start-form data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Live {
    /// State.
    pub state: RunState,
    /// Current (or last) run id; `None` before the first run.
    pub run_id: Option<String>,
    /// Scheme and host agents are reached at.
    pub host: String,
    /// Users running now.
    pub users: u32,
    /// Target users.
    pub user_count: u32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// Planned run time, seconds; `None` until stopped.
    pub run_time_s: Option<f64>,
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// Connected workers.
    pub worker_count: usize,
    /// State changes are refused.
    pub readonly: bool,
    /// Requests per second over the current window.
    pub rps: f64,
    /// Failed requests over all requests of the run.
    pub fail_ratio: f64,
    /// The verdict the run would end with now.
    pub verdict_now: String,
    /// The exit code the run would end with now.
    pub exit_code_now: i32,
    /// Every worker known.
    pub workers: Vec<WorkerLive>,
    /// Worker and run events of this run, oldest first.
    pub events: Vec<LiveEvent>,
    /// The current window, one row per endpoint plus `Aggregated` (last).
    pub current: Vec<CurrentRow>,
    /// `METHOD name` -> whether it passes its kind's SLO rules (absent: no rule).
    pub slo_marks: BTreeMap<String, bool>,
    /// Profiles for the start form.
    pub profiles: BTreeMap<String, ProfileDefaults>,
    /// Every user class of the scenarios.
    pub user_classes: Vec<String>,
    /// Every tag of the scenarios.
    pub tags: Vec<String>,
}

/// One worker as the page shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerLive {
    /// Who the worker is, the users it runs and what it reported.
    #[serde(flatten)]
    pub core: WorkerCore,
    /// Seconds since it was last heard from.
    pub heartbeat_age_s: f64,
    /// Seconds since its last report; `None` before the first.
    pub report_lag_s: Option<f64>,
    /// Its own load: latest, peak and mean of the run; absent before its first heartbeat
    /// that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<WorkerResources>,
}

/// Something that happened during a run, for the charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// When, Unix ms.
    pub unix_ms: i64,
    /// What happened: `worker_lost`, `worker_joined`, `worker_rejoined`, `edit`, `start`,
    /// `stop`, `reset`, `stage`, `iterations`, `abort` (an abort rule stopped the run), ...
    pub kind: String,
    /// What happened, in words.
    pub text: String,
}

/// One endpoint over the current window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentRow {
    /// HTTP method (empty for `Aggregated`).
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Requests per second.
    pub rps: f64,
    /// Failures per second.
    pub fail_per_s: f64,
    /// Percentiles over the window, ms; `None` when the window had no request or (per
    /// endpoint) when per-endpoint windows are not kept (they are with `--csv-full-history`).
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Slowest.
    pub max_ms: Option<f64>,
}

/// What a profile fills in the start form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileDefaults {
    /// Users.
    pub users: Option<u32>,
    /// Spawn rate.
    pub spawn_rate: Option<f64>,
    /// Run time as written (`5m`).
    pub run_time: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Excluded tags.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
}

/// What never changes while the master lives: the start form's choices and the flags.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// `--web-readonly` (or a headless run).
    pub readonly: bool,
    /// Profiles by name.
    pub profiles: BTreeMap<String, ProfileDefaults>,
    /// User classes of the scenarios.
    pub user_classes: Vec<String>,
    /// Tags of the scenarios.
    pub tags: Vec<String>,
}

/// A finished run of this master.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Start, Unix ms.
    pub started_unix_ms: i64,
    /// End, Unix ms.
    pub ended_unix_ms: i64,
    /// Target users at the end.
    pub users: u32,
    /// Verdict.
    pub verdict: String,
    /// Exit code.
    pub exit_code: i32,
    /// File kind (`json`, `html`, `stats_csv`, ...) -> URL.
    pub files: BTreeMap<String, String>,
    /// File kind -> path on disk (not shown).
    #[serde(skip)]
    pub paths: BTreeMap<String, PathBuf>,
}

/// Everything the web side reads, immutable once published.
#[derive(Debug)]
pub struct Snapshot {
    /// The live view.
    pub live: Live,
    /// The report of the current (or last) run in the `--json` schema, histograms included.
    pub report: Summary,
    /// Finished runs, newest first.
    pub runs: Arc<Vec<RunRecord>>,
    /// The run's resolved plan, for the presenters that show it (Locust's `/tasks`).
    pub plan: Arc<Plan>,
    /// The SSE presenter's rendering (the `live` object, the report without its history),
    /// made by the first client that needs it and shared.
    pub(crate) sse: OnceLock<(String, String)>,
    /// The `/stats/requests` answer, rendered by its first caller and shared (Locust caches
    /// it for 2 s too).
    pub(crate) request_stats: OnceLock<String>,
}

impl Snapshot {
    /// A snapshot from its parts.
    pub fn new(
        live: Live,
        report: Summary,
        runs: Arc<Vec<RunRecord>>,
        plan: Arc<Plan>,
    ) -> Snapshot {
        Snapshot {
            live,
            report,
            runs,
            plan,
            sse: OnceLock::new(),
            request_stats: OnceLock::new(),
        }
    }

    /// The snapshot of a master that has not run anything yet.
    pub fn idle(config: &MasterConfig, catalog: &Catalog) -> Snapshot {
        let stats = RunStats::default();
        let workers = Registry::new();
        let plan = Arc::new(config.plan.clone());
        let input = SnapshotInput {
            config,
            plan: &plan,
            catalog,
            state: RunState::Ready,
            run_id: None,
            stats: &stats,
            workers: &workers,
            started_unix_ms: 0,
            now_unix_ms: lv_common::wire::unix_ms_now(),
            now: Instant::now(),
            run_time_s: config.run_time.map(|t| t.as_secs_f64()),
            events: &[],
            stopped_by: None,
            runs: Arc::new(Vec::new()),
        };
        build(&input)
    }
}

/// What a snapshot is built from.
pub struct SnapshotInput<'a> {
    /// The run's configuration (target users, spawn rate, host, SLO table).
    pub config: &'a MasterConfig,
    /// The run's resolved plan (shared, not copied).
    pub plan: &'a Arc<Plan>,
    /// Form choices and flags.
    pub catalog: &'a Catalog,
    /// State.
    pub state: RunState,
    /// Run id, once a run started.
    pub run_id: Option<&'a str>,
    /// The run's merged stats.
    pub stats: &'a RunStats,
    /// The workers.
    pub workers: &'a Registry,
    /// Start of the run, Unix ms (0 before).
    pub started_unix_ms: i64,
    /// Now, Unix ms.
    pub now_unix_ms: i64,
    /// Now, on tokio's clock (for heartbeat ages).
    pub now: Instant,
    /// Planned run time, seconds.
    pub run_time_s: Option<f64>,
    /// Events of the run.
    pub events: &'a [LiveEvent],
    /// The abort rule that stopped the run early, if one did.
    pub stopped_by: Option<&'a AbortRecord>,
    /// Finished runs, newest first.
    pub runs: Arc<Vec<RunRecord>>,
}

/// Builds the snapshot: the report as `--json` would write it now (a checkpoint while the
/// run goes on) and the live view around it.
pub fn build(input: &SnapshotInput) -> Snapshot {
    let going = !matches!(input.state, RunState::Ready | RunState::Stopped);
    let ended = if input.started_unix_ms > 0 && going {
        input.now_unix_ms
    } else {
        input
            .stats
            .history
            .last()
            .map_or(input.now_unix_ms, |row| row.unix_ms)
    };
    let (exit_code, report) = summarize(
        input.config,
        &RunView {
            run_id: input.run_id.unwrap_or_default(),
            stats: input.stats,
            workers: input.workers,
            started_unix_ms: input.started_unix_ms,
            ended_unix_ms: ended,
            aborted: None,
            stopped_by: input.stopped_by,
            failed: None,
            below_target: &[],
            outages: &[],
            checkpoint: going,
        },
    );
    let live = live_view(input, &report, exit_code);
    Snapshot::new(
        live,
        report,
        Arc::clone(&input.runs),
        Arc::clone(input.plan),
    )
}

fn live_view(input: &SnapshotInput, report: &Summary, exit_code: u8) -> Live {
    let totals = &input.stats.totals;
    let requests = totals.request_count();
    let workers: Vec<WorkerLive> = input
        .workers
        .values()
        .map(|w| WorkerLive {
            core: worker_core(w, input.stats, w.users_running),
            heartbeat_age_s: input
                .now
                .saturating_duration_since(w.last_seen)
                .as_secs_f64(),
            report_lag_s: w
                .last_report_unix_ms
                .map(|ms| ((input.now_unix_ms - ms) as f64 / 1000.0).max(0.0)),
            resources: w.resources.summary(),
        })
        .collect();
    let users = input
        .workers
        .values()
        .filter(|w| w.is_member())
        .map(|w| w.users_running)
        .sum();
    let elapsed_s = if input.started_unix_ms > 0 {
        report.run_time_s
    } else {
        0.0
    };
    Live {
        state: input.state,
        run_id: input.run_id.map(str::to_owned),
        host: input.config.host.clone(),
        users,
        user_count: input.config.users,
        spawn_rate: input.config.spawn_rate,
        run_time_s: input.run_time_s,
        elapsed_s,
        worker_count: workers.iter().filter(|w| w.core.state == "active").count(),
        readonly: input.catalog.readonly,
        rps: input.stats.history.last().map_or(0.0, |row| row.rps),
        fail_ratio: ratio(totals.failure_count(), requests),
        verdict_now: report.verdict.clone(),
        exit_code_now: i32::from(exit_code),
        workers,
        events: input.events.to_vec(),
        current: current_rows(input.stats),
        slo_marks: slo_marks(input.config, input.stats),
        profiles: input.catalog.profiles.clone(),
        user_classes: input.catalog.user_classes.clone(),
        tags: input.catalog.tags.clone(),
    }
}

/// One row per endpoint over the current window, then `Aggregated`.
pub fn current_rows(stats: &RunStats) -> Vec<CurrentRow> {
    let mut rows: Vec<CurrentRow> = stats
        .totals
        .endpoints
        .keys()
        .map(|key| {
            let (rps, fail_per_s) = stats.current_rate(key);
            let window = stats.current_endpoint(key);
            CurrentRow {
                method: key.method.clone(),
                name: key.name.clone(),
                rps,
                fail_per_s,
                ..percentile_fields(window.as_ref())
            }
        })
        .collect();
    let total = stats.current_total();
    let (rps, fail_per_s) = stats
        .history
        .last()
        .map_or((0.0, 0.0), |row| (row.rps, row.fps));
    rows.push(CurrentRow {
        method: String::new(),
        name: "Aggregated".into(),
        rps,
        fail_per_s,
        ..percentile_fields(Some(&total))
    });
    rows
}

fn percentile_fields(stats: Option<&lv_common::stats::EndpointStats>) -> CurrentRow {
    let at = |p: f64| stats.filter(|s| !s.is_empty()).map(|s| s.percentile_ms(p));
    CurrentRow {
        method: String::new(),
        name: String::new(),
        rps: 0.0,
        fail_per_s: 0.0,
        p50_ms: at(50.0),
        p90_ms: at(90.0),
        p95_ms: at(95.0),
        p99_ms: at(99.0),
        p999_ms: at(99.9),
        max_ms: stats.filter(|s| !s.is_empty()).map(|s| s.max_ms()),
    }
}

/// `METHOD name` -> whether the endpoint passes its kind's SLO rules so far.
pub fn slo_marks(config: &MasterConfig, stats: &RunStats) -> BTreeMap<String, bool> {
    let Some(setup) = &config.slo else {
        return BTreeMap::new();
    };
    stats
        .totals
        .endpoints
        .iter()
        .filter_map(|(key, e)| {
            slo::endpoint_passes(&setup.table, &setup.level, e)
                .map(|pass| (format!("{} {}", key.method, key.name), pass))
        })
        .collect()
}

#[cfg(test)]
mod tests;
