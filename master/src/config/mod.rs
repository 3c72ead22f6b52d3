//! The checked configuration of a master: built from the command line, with every file
//! loaded and every value validated before anything binds or connects.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lv_common::bounds::{MAX_RUN_TIME, MAX_SPAWN_RATE, MAX_USERS};
use lv_common::duration::format_duration;
use lv_common::fleet::{FleetMap, HostBase};
use lv_common::plan::{Plan, PlanOptions, resolve};
use lv_common::scenario::load_paths;

use lv_common::load::{LoadShape, Model, Stage};

use crate::config::cli::Args;

pub mod cli;
mod error;
mod load;
pub mod profile;
pub mod resume;
pub mod run;

use crate::report::format::report_name;
use crate::slo::SloTable;
pub use error::ConfigError;

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// The resolved plan shipped to workers.
    pub plan: Plan,
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
    pub target_tls: lv_common::tls::TargetTls,
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

/// PEM contents for serving workers over TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: Vec<u8>,
    /// Private key.
    pub key: Vec<u8>,
    /// CA the in-process workers trust.
    pub ca: Vec<u8>,
}

/// The SLO table and the load level whose targets apply.
#[derive(Debug, Clone)]
pub struct SloSetup {
    /// The targets.
    pub table: SloTable,
    /// Level after aliases (`stress` -> `heavy`).
    pub level: String,
    /// Level as asked for (`stress`).
    pub asked: String,
}

impl MasterConfig {
    /// Checks the arguments and loads the files they name. Also returns remarks to log.
    pub fn from_args(args: &Args) -> Result<(MasterConfig, Vec<String>), ConfigError> {
        let invalid =
            |option: &'static str, detail: String| ConfigError::InvalidOption { option, detail };
        if !(args.spawn_rate.is_finite() && args.spawn_rate > 0.0) {
            return Err(invalid(
                "--spawn-rate",
                format!("{} must be a number > 0", args.spawn_rate),
            ));
        }
        if args.spawn_rate > MAX_SPAWN_RATE {
            return Err(invalid(
                "--spawn-rate",
                format!("{} is more than {MAX_SPAWN_RATE} users/s", args.spawn_rate),
            ));
        }
        if args.users > MAX_USERS {
            return Err(invalid(
                "--users",
                format!("{} is more than {MAX_USERS}", args.users),
            ));
        }
        if args.run_time.is_some_and(|t| t.is_zero()) {
            return Err(invalid("--run-time", "must be longer than 0s".into()));
        }
        if args.run_time.is_some_and(|t| t > MAX_RUN_TIME) {
            return Err(invalid(
                "--run-time",
                format!("must be at most {}", format_duration(MAX_RUN_TIME)),
            ));
        }
        if args.expect_workers == Some(0) {
            return Err(invalid("--expect-workers", "must be at least 1".into()));
        }
        if args.request_timeout.is_zero() {
            return Err(invalid(
                "--request-timeout",
                "must be longer than 0s".into(),
            ));
        }
        if args.checkpoint_interval < Duration::from_millis(500) {
            return Err(invalid(
                "--checkpoint-interval",
                "must be at least 500ms".into(),
            ));
        }
        // Workers hold every report until a checkpoint has it (300 at most, see lv-worker's
        // outbox): 5 minutes is 150 reports at the default interval.
        if args.checkpoint_interval > MAX_CHECKPOINT_INTERVAL {
            return Err(invalid(
                "--checkpoint-interval",
                format!(
                    "must be at most {} (workers keep their reports until a checkpoint holds them)",
                    format_duration(MAX_CHECKPOINT_INTERVAL)
                ),
            ));
        }
        if args.heartbeat_timeout < Duration::from_secs(2) {
            return Err(invalid(
                "--heartbeat-timeout",
                "must be at least 2s (heartbeats go every second)".into(),
            ));
        }
        check_bind(args)?;
        let host = HostBase::parse(&args.host)?;
        let fleet = FleetMap::load(&args.fleet)?;
        let scenarios = load_paths(&args.scenarios)?;
        let resolved = resolve(
            &scenarios,
            &fleet,
            &PlanOptions {
                classes: args.classes.clone(),
                tags: clean(&args.tags),
                exclude_tags: clean(&args.exclude_tags),
                host,
                default_timeout: args.request_timeout,
                connection_per_user: args.connection_per_user,
            },
        )?;
        check_plan_size(&resolved.plan)?;
        let resume_path = match (&args.resume, args.resume_if_present, &args.checkpoint) {
            (Some(path), _, _) => Some(path),
            (None, true, None) => {
                return Err(invalid(
                    "--resume-if-present",
                    "needs --checkpoint FILE (the file to resume from)".into(),
                ));
            }
            (None, true, Some(path)) => resume::unfinished(path).then_some(path),
            (None, false, _) => None,
        };
        let resume = match resume_path {
            Some(_) if !args.headless => {
                return Err(invalid(
                    "--resume",
                    "needs --headless (a run started from the web UI cannot be resumed)".into(),
                ));
            }
            Some(path) => Some(resume::load(
                path,
                &resolved.plan,
                args.rate.is_some() || shape_is_open(args),
            )?),
            None => None,
        };
        // A resumed run keeps checkpointing, to the file it resumed from unless told.
        let checkpoint = args.checkpoint.clone().or_else(|| args.resume.clone());
        let tags = clean(&args.tags);
        let exclude_tags = clean(&args.exclude_tags);
        let (slo, slo_note) = slo_setup(args)?;
        let (shape, shape_note) = load::shape_of(args)?;
        let mut notes = resolved.notes;
        notes.extend(slo_note);
        notes.extend(shape_note);
        // A shaped run lasts as long as its stages, unless --run-time cuts it shorter.
        let run_time = match &shape {
            Some(shape) => Some(
                args.run_time
                    .map_or(shape.duration(), |t| t.min(shape.duration())),
            ),
            None => args.run_time,
        };
        // A closed shape decides the users: the peak, so the capacity checks see it.
        let users = match &shape {
            // Whole numbers up to 1e9 (checked when parsed) fit in a u32.
            Some(shape) if shape.model == Model::Closed => shape.peak() as u32,
            _ => args.users,
        };
        let run_time_text = args.run_time.map_or_else(
            || "unlimited".to_owned(),
            lv_common::duration::format_duration,
        );
        let html = args.html.as_ref().map(|path| {
            PathBuf::from(report_name(
                &path.to_string_lossy(),
                users,
                args.spawn_rate,
                &run_time_text,
            ))
        });
        let local_workers = args
            .local_workers
            .unwrap_or(if args.expect_workers.is_some() { 0 } else { 1 });
        let expect_workers = args.expect_workers.unwrap_or(local_workers).max(1);
        let config = MasterConfig {
            plan: resolved.plan,
            scenario_paths: args.scenarios.clone(),
            host: args.host.clone(),
            users,
            spawn_rate: args.spawn_rate,
            run_time,
            shape,
            expect_workers,
            expect_workers_max_wait: args.expect_workers_max_wait,
            local_workers,
            token: args.token.clone(),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: args.heartbeat_timeout,
            report_interval: Duration::from_secs(2),
            stop_timeout: args.stop_timeout,
            print_interval: (!args.only_summary).then_some(args.print_interval),
            json: args.json.clone(),
            csv: args.csv.clone(),
            csv_full_history: args.csv_full_history,
            html,
            record: args.record.clone(),
            slo,
            profile: args.profile_name.clone(),
            fail_on_worker_loss: args.fail_on_worker_loss,
            tls: tls_files(args)?,
            target_tls: lv_common::tls::TargetTlsFiles {
                ca: args.target_ca.clone(),
                insecure: args.insecure_target,
                cert: args.target_cert.clone(),
                key: args.target_key.clone(),
            }
            .load()?,
            checkpoint,
            checkpoint_interval: args.checkpoint_interval,
            resume,
            tags,
            exclude_tags,
            exit_code_on_error: args.exit_code_on_error,
        };
        // Stage rules of the SLO table must name stages of this run's shape.
        if let Some(setup) = &config.slo {
            let stages: Vec<&str> = config.stages().iter().map(|s| s.name.as_str()).collect();
            setup.table.check_stages(&stages)?;
        }
        Ok((config, notes))
    }
}

/// The SLO table used when `--slo` is not given.
pub const DEFAULT_SLO_FILE: &str = "configs/slo.toml";

/// The SLO setup: off with `--no-slo`; the level from `--slo-level`, else the profile name.
/// Verdicts are off, with a note saying how to turn them on, when there is no level, or when
/// the level only comes from the profile's name and the default table is absent or does not
/// know it (a custom profile). An explicit `--slo` or `--slo-level` that does not work is an
/// error.
fn slo_setup(args: &Args) -> Result<(Option<SloSetup>, Option<String>), ConfigError> {
    if args.no_slo {
        return Ok((None, None));
    }
    let explicit = args.slo_level.is_some() || args.slo_file.is_some();
    let path = args
        .slo_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SLO_FILE));
    let asked = match (&args.slo_level, &args.profile_name) {
        (Some(level), _) => level.clone(),
        (None, Some(profile)) => profile.clone(),
        (None, None) => {
            let note = "SLO verdicts are off: no load level (use a profile, or --slo-level light|medium|heavy|stress)";
            return Ok((None, Some(note.into())));
        }
    };
    let off = |why: String| Ok((None, Some(format!("SLO verdicts are off: {why}"))));
    let table = match SloTable::load(&path) {
        Ok(table) => table,
        Err(err) if explicit => return Err(err.into()),
        Err(err) => return off(format!("{err} (use --slo FILE)")),
    };
    match table.resolve_level(&asked, &path) {
        Ok(level) => Ok((
            Some(SloSetup {
                table,
                level,
                asked,
            }),
            None,
        )),
        Err(err) if args.slo_level.is_some() => Err(err.into()),
        Err(_) => off(format!(
            "profile {asked:?} is not a load level of {} (use --slo-level)",
            path.display()
        )),
    }
}

fn tls_files(args: &Args) -> Result<Option<TlsFiles>, ConfigError> {
    let (Some(cert_path), Some(key_path)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |option: &'static str, path: &PathBuf| {
        std::fs::read(path).map_err(|err| ConfigError::InvalidOption {
            option,
            detail: format!("cannot read {}: {err}", path.display()),
        })
    };
    let cert = read("--tls-cert", cert_path)?;
    let key = read("--tls-key", key_path)?;
    let ca = match &args.tls_ca {
        Some(path) => read("--tls-ca", path)?,
        None => cert.clone(),
    };
    for (option, pem, what) in [
        ("--tls-cert", &cert, "CERTIFICATE"),
        ("--tls-ca", &ca, "CERTIFICATE"),
        ("--tls-key", &key, "PRIVATE KEY"),
    ] {
        if !String::from_utf8_lossy(pem).contains(&format!("{what}-----")) {
            return Err(ConfigError::InvalidOption {
                option,
                detail: format!("the file holds no PEM {what}"),
            });
        }
    }
    Ok(Some(TlsFiles { cert, key, ca }))
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

/// True when `--shape` names a file whose shape is open-model (read again by
/// [`load::shape_of`], which reports its errors).
fn shape_is_open(args: &Args) -> bool {
    load::shape_of(args)
        .ok()
        .and_then(|(shape, _)| shape)
        .is_some_and(|shape| shape.model == Model::Open)
}

/// Longest `--checkpoint-interval`.
const MAX_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

/// Room an Assignment needs beside its plan (ids, users per class, the open-model load).
const ASSIGNMENT_ROOM: usize = 64 * 1024;

/// Refuses a plan too large to reach the workers in one gRPC message.
fn check_plan_size(plan: &Plan) -> Result<(), ConfigError> {
    let size = plan.to_json().len();
    let limit = lv_common::MAX_MESSAGE_BYTES - ASSIGNMENT_ROOM;
    if size > limit {
        return Err(ConfigError::InvalidOption {
            option: "--scenarios",
            detail: format!(
                "the resolved plan is {size} bytes; the workers take at most {limit} \
                 (fewer scenarios, tasks or steps, or smaller bodies)"
            ),
        });
    }
    Ok(())
}

fn clean(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn check_bind(args: &Args) -> Result<(), ConfigError> {
    let host = args.master_bind_host.trim_matches(|c| c == '[' || c == ']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && args.token.is_empty() && !args.insecure {
        return Err(ConfigError::Unprotected(args.master_bind_host.clone()));
    }
    Ok(())
}
