//! [`MasterConfig`]: everything one run needs, checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lv_common::data::DataTable;
use lv_common::load::{LoadShape, Model, Stage};
use lv_common::plan::Plan;
use lv_common::tls::TargetTls;

use super::resolve::Hooks;
use super::resume;
use super::slo_setup::SloSetup;
use super::tls::TlsFiles;

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// The resolved plan shipped to workers.
    pub plan: Plan,
    /// The test data the plan's classes use, streamed to every worker once per run.
    pub data: Vec<Arc<DataTable>>,
    /// The setup and teardown steps the master runs itself, once per run.
    pub hooks: Hooks,
    /// Scenario files and folders it came from.
    pub scenario_paths: Vec<PathBuf>,
    /// Scheme and host agents are reached at.
    pub host: String,
    /// Target users.
    pub users: u32,
    /// Users started per second over all workers.
    pub spawn_rate: f64,
    /// Run length; until stopped when `None`.
    pub run_time: Option<Duration>,
    /// The `[load]` shape: open-model arrival stages, or closed-model user stages (`None`
    /// for a plain `-u/-r/-t` run). `shape.model` tells which.
    pub shape: Option<LoadShape>,
    /// Workers to wait for before starting (local ones included).
    pub expect_workers: usize,
    /// Longest wait for them.
    pub expect_workers_max_wait: Option<Duration>,
    /// In-process workers to start.
    pub local_workers: usize,
    /// Shared secret.
    pub token: String,
    /// Heartbeat period, both ways.
    pub heartbeat_interval: Duration,
    /// Silence that makes a worker missing.
    pub heartbeat_timeout: Duration,
    /// Report period asked of workers.
    pub report_interval: Duration,
    /// Wait for final reports after the stop.
    pub stop_timeout: Duration,
    /// Live table period; `None` for no live table.
    pub print_interval: Option<Duration>,
    /// Where to write the JSON report.
    pub json: Option<PathBuf>,
    /// Prefix of the Locust-format CSV files.
    pub csv: Option<PathBuf>,
    /// A history row per endpoint as well.
    pub csv_full_history: bool,
    /// Where to write the HTML report (name templates already filled in).
    pub html: Option<PathBuf>,
    /// Benchmark log to append a row to.
    pub record: Option<PathBuf>,
    /// SLO targets and the level they are checked at; `None` when verdicts are off.
    pub slo: Option<SloSetup>,
    /// TLS for the control plane, when configured.
    pub tls: Option<TlsFiles>,
    /// How in-process workers trust HTTPS targets and identify themselves to them.
    pub target_tls: TargetTls,
    /// Stop the run (exit 3) when a worker is lost, instead of reassigning its users.
    pub fail_on_worker_loss: bool,
    /// Where to write the run's report every few seconds while it runs.
    pub checkpoint: Option<PathBuf>,
    /// How often the checkpoint is written.
    pub checkpoint_interval: Duration,
    /// `--resume`: the checkpoint of the run this master continues.
    pub resume: Option<Arc<resume::Checkpoint>>,
    /// Profile the run came from (`light`, ...).
    pub profile: Option<String>,
    /// `--tags`, for the report.
    pub tags: Vec<String>,
    /// `--exclude-tags`, for the report.
    pub exclude_tags: Vec<String>,
    /// Exit code when requests failed.
    pub exit_code_on_error: u8,
}

impl MasterConfig {
    /// The open-model shape, when the run is open-model.
    pub fn open(&self) -> Option<&LoadShape> {
        self.shape.as_ref().filter(|s| s.model == Model::Open)
    }

    /// The run's load stages in order (empty for a plain `-u/-r/-t` run).
    pub fn stages(&self) -> &[Stage] {
        self.shape.as_ref().map_or(&[], |s| s.stages.as_slice())
    }

    /// Where the run's reports go.
    pub fn output_paths(&self) -> crate::report::outputs::OutputPaths {
        crate::report::outputs::OutputPaths {
            json: self.json.clone(),
            csv: self.csv.clone(),
            csv_full_history: self.csv_full_history,
            html: self.html.clone(),
            record: self.record.clone(),
        }
    }
}
