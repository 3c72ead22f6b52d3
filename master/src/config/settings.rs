//! The first stage of the configuration: the command line (with its profile and `LV_*`
//! variables) checked once into [`Settings`], with every file it names loaded. What can
//! change from one run to the next (users, spawn rate, run time, host, classes, tags) is
//! kept as the flags' [`RunParams`]; the `run` stage turns settings and a run's parameters
//! into that run's `MasterConfig`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::scenario::{LoadedScenario, load_paths};
use lv_common::fleet::FleetMap;
use lv_common::tls::{TargetTls, TargetTlsFiles};

use super::checks;
use super::error::ConfigError;
use super::load::ShapeSetting;
use super::params::RunParams;
use super::slo_setup::{SloSetup, slo_setup};
use super::tls::{TlsFiles, tls_files};
use crate::config::cli::Args;

/// Everything the command line settles for every run of this master, checked and loaded.
#[derive(Debug)]
pub struct Settings {
    /// The run the flags ask for: `-u`, `-r`, `-t`, `-H`, user classes, tags, profile.
    pub flags: RunParams,
    /// Scheme and host of a run whose parameters do not name one.
    pub host: String,
    /// Scenario files and folders, as given.
    pub scenario_paths: Vec<PathBuf>,
    /// The scenarios, loaded.
    pub scenarios: Vec<LoadedScenario>,
    /// The fleet map, loaded.
    pub fleet: FleetMap,
    /// Timeout of requests whose step sets none.
    pub request_timeout: Duration,
    /// Each user keeps its own connections.
    pub connection_per_user: bool,
    /// `--rate`, `--shape` and `--max-in-flight`.
    pub(super) shape: ShapeSetting,
    /// `-i/--iterations`: tasks each user runs before it stops (`None`: no limit).
    pub iterations: Option<NonZeroU32>,
    /// Workers to wait for before starting (local ones included).
    pub expect_workers: usize,
    /// Longest wait for them.
    pub expect_workers_max_wait: Option<Duration>,
    /// In-process workers to start.
    pub local_workers: usize,
    /// Shared secret.
    pub token: String,
    /// Silence that makes a worker missing.
    pub heartbeat_timeout: Duration,
    /// Wait for final reports after the stop.
    pub stop_timeout: Duration,
    /// Live table period; `None` for no live table.
    pub print_interval: Option<Duration>,
    /// Where the flags' run writes its reports.
    pub reports: ReportPaths,
    /// A history row per endpoint in the CSV as well.
    pub csv_full_history: bool,
    /// Benchmark log to append a row to.
    pub record: Option<PathBuf>,
    /// SLO targets and their level; `None` when verdicts are off.
    pub slo: Option<SloSetup>,
    /// TLS for the control plane, when configured.
    pub tls: Option<TlsFiles>,
    /// How in-process workers trust HTTPS targets and identify themselves to them.
    pub target_tls: TargetTls,
    /// Stop the run (exit 3) when a worker is lost.
    pub fail_on_worker_loss: bool,
    /// How often the checkpoint is written.
    pub checkpoint_interval: Duration,
    /// The checkpoint the flags' run resumes from (`--resume`, `--resume-if-present`).
    pub resume: Option<PathBuf>,
    /// Profile the settings came from (`light`, ...).
    pub profile: Option<String>,
    /// Exit code when requests failed.
    pub exit_code_on_error: u8,
    /// The web server's options.
    pub web: WebConfig,
    /// Remarks to log with every run's own (why SLO verdicts are off, ...).
    pub notes: Vec<String>,
}

/// Where a run writes its reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportPaths {
    /// The JSON report.
    pub json: Option<PathBuf>,
    /// Prefix of the Locust-format CSV files.
    pub csv: Option<PathBuf>,
    /// The HTML report; `{u}`, `{r}` and `{t}` are filled in for each run.
    pub html: Option<PathBuf>,
    /// The checkpoint written while the run runs.
    pub checkpoint: Option<PathBuf>,
}

/// The web server's options as the command line gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    /// `--headless`: no web UI; the API is served read-only with `--web-port`.
    pub headless: bool,
    /// `--web-host`.
    pub host: String,
    /// `--web-port`.
    pub port: Option<u16>,
    /// `--web-auth` (`user:password`).
    pub auth: Option<String>,
    /// `--insecure`: serve publicly without credentials.
    pub insecure: bool,
    /// `--web-readonly`.
    pub readonly: bool,
    /// Certificate and key of the UI: `--web-tls-cert`/`--web-tls-key`, else the control
    /// plane's `--tls-cert`/`--tls-key`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--autostart`.
    pub autostart: bool,
    /// `--autoquit`.
    pub autoquit: Option<Duration>,
    /// `--reports-dir`: folder of the reports of runs started from the web.
    pub reports_dir: PathBuf,
    /// Folder of the profiles the start form offers: beside `--config`, else `configs/`.
    pub profiles_dir: PathBuf,
    /// `--web-cors`: origins that may call the API from a page.
    pub cors: Vec<String>,
}

impl Settings {
    /// Checks the command line and loads the files it names.
    pub fn from_args(args: &Args) -> Result<Settings, ConfigError> {
        check_flags(args)?;
        let fleet = FleetMap::load(&args.fleet)?;
        let scenarios = load_paths(&args.scenarios)?;
        let resume = checks::resume_setting(
            args.resume.as_deref(),
            args.resume_if_present,
            args.checkpoint.as_deref(),
            args.headless,
        )?;
        let (slo, slo_note) = slo_setup(args)?;
        let shape = ShapeSetting::from_args(args)?;
        let iterations = checks::check_iterations(args.iterations, shape.is_open())?;
        let tls = tls_files(args)?;
        let target_tls = TargetTlsFiles {
            ca: args.target_ca.clone(),
            insecure: args.insecure_target,
            cert: args.target_cert.clone(),
            key: args.target_key.clone(),
        }
        .load()?;
        let local_workers = args
            .local_workers
            .unwrap_or(if args.expect_workers.is_some() { 0 } else { 1 });
        Ok(Settings {
            flags: flag_params(args),
            host: args.host.clone(),
            scenario_paths: args.scenarios.clone(),
            scenarios,
            fleet,
            request_timeout: args.request_timeout,
            connection_per_user: args.connection_per_user,
            shape,
            iterations,
            expect_workers: args.expect_workers.unwrap_or(local_workers).max(1),
            expect_workers_max_wait: args.expect_workers_max_wait,
            local_workers,
            token: args.token.clone(),
            heartbeat_timeout: args.heartbeat_timeout,
            stop_timeout: args.stop_timeout,
            print_interval: (!args.only_summary).then_some(args.print_interval),
            reports: ReportPaths::from_args(args),
            csv_full_history: args.csv_full_history,
            record: args.record.clone(),
            slo,
            tls,
            target_tls,
            fail_on_worker_loss: args.fail_on_worker_loss,
            checkpoint_interval: args.checkpoint_interval,
            resume,
            profile: args.profile_name.clone(),
            exit_code_on_error: args.exit_code_on_error,
            web: WebConfig::from_args(args),
            notes: slo_note.into_iter().collect(),
        })
    }
}

/// The checks of options that need no file.
fn check_flags(args: &Args) -> Result<(), ConfigError> {
    checks::check_expect_workers(args.expect_workers)?;
    checks::check_request_timeout(args.request_timeout)?;
    checks::check_checkpoint_interval(args.checkpoint_interval)?;
    checks::check_heartbeat_timeout(args.heartbeat_timeout)?;
    checks::check_bind(&args.master_bind_host, &args.token, args.insecure)
}

/// The run the flags ask for.
fn flag_params(args: &Args) -> RunParams {
    RunParams {
        users: args.users,
        spawn_rate: args.spawn_rate,
        host: Some(args.host.clone()),
        run_time: args.run_time,
        classes: args.classes.clone(),
        tags: args.tags.clone(),
        exclude_tags: args.exclude_tags.clone(),
        profile: args.profile_name.clone(),
        shape: None,
    }
}

impl ReportPaths {
    /// `--json`, `--csv`, `--html`, and `--checkpoint` (else the `--resume` file: a resumed
    /// run keeps checkpointing to the file it resumed from).
    pub fn from_args(args: &Args) -> ReportPaths {
        ReportPaths {
            json: args.json.clone(),
            csv: args.csv.clone(),
            html: args.html.clone(),
            checkpoint: args.checkpoint.clone().or_else(|| args.resume.clone()),
        }
    }
}

impl WebConfig {
    /// The web options of `args`.
    pub fn from_args(args: &Args) -> WebConfig {
        let tls = match (&args.web.web_tls_cert, &args.web.web_tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            _ => args.tls_cert.clone().zip(args.tls_key.clone()),
        };
        let profiles_dir = args
            .config
            .as_ref()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("configs"), Path::to_path_buf);
        WebConfig {
            headless: args.headless,
            host: args.web.web_host.clone(),
            port: args.web.web_port,
            auth: args.web.web_auth.clone(),
            insecure: args.insecure,
            readonly: args.web.web_readonly,
            tls,
            autostart: args.web.autostart,
            autoquit: args.web.autoquit,
            reports_dir: args.web.reports_dir.clone(),
            profiles_dir,
            cors: args.web.web_cors.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
