//! The second stage of the configuration: [`Settings`] and one run's parameters (from the
//! flags, the web form or `--autostart`) become that run's [`MasterConfig`]. The plan is
//! resolved here, for the run's user classes, tags and host.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lv_common::duration::format_duration;
use lv_common::fleet::HostBase;
use lv_common::load::{LoadShape, Model};
use lv_common::plan::Plan;

use super::resolve::{PlanOptions, Resolved, resolve};

use super::checks::{self, clean};
use super::error::ConfigError;
use super::master::MasterConfig;
use super::params::RunParams;
use super::resume::{self, Checkpoint};
use super::settings::{ReportPaths, Settings};
use crate::config::cli::Args;
use crate::report::format::report_name;

impl MasterConfig {
    /// The configuration of the run the command line asks for, checked, with remarks to
    /// log: [`Settings::from_args`], then [`flags_config`].
    pub fn from_args(args: &Args) -> Result<(MasterConfig, Vec<String>), ConfigError> {
        let settings = Settings::from_args(args)?;
        flags_config(&settings)
    }
}

/// The judged stage of every step of a capacity search.
pub const HOLD: &str = "hold";
/// The stage before it, not judged.
pub const SETTLE: &str = "settle";

/// The configuration of the run the flags ask for, with remarks to log.
pub fn flags_config(settings: &Settings) -> Result<(MasterConfig, Vec<String>), ConfigError> {
    configure(settings, &settings.flags, &settings.reports)
}

/// The checked configuration of a run of `params` writing its reports to `reports`, with
/// remarks to log (the plan's, the settings', the shape's).
///
/// In UI mode, SLO stage rules may also name a capacity search's stages ([`SETTLE`],
/// [`HOLD`]): a run without them leaves those rules out.
pub fn configure(
    settings: &Settings,
    params: &RunParams,
    reports: &ReportPaths,
) -> Result<(MasterConfig, Vec<String>), ConfigError> {
    checks::check_run_params(params)?;
    let resolved = resolve_plan(settings, params)?;
    let resume = match &settings.resume {
        Some(path) => Some(resume::load(
            path,
            &resolved.plan,
            settings.shape.is_open(),
        )?),
        None => None,
    };
    let (shape, shape_note) = match &params.shape {
        Some(shape) => (Some(shape.clone()), None),
        None => settings.shape.for_run(params.run_time)?,
    };
    let open = shape.as_ref().is_some_and(|s| s.model == Model::Open);
    check_data_run(&resolved, settings, open)?;
    let mut config = assemble(settings, params, reports, resolved.plan, shape, resume);
    config.data = resolved.tables;
    config.hooks = resolved.hooks;
    // Stage rules of the SLO table must name stages of this run's shape; in UI mode also
    // those of a capacity search's steps, which the page may start later.
    if let Some(setup) = &config.slo {
        let mut stages: Vec<&str> = config.stages().iter().map(|s| s.name.as_str()).collect();
        if !settings.web.headless && !settings.web.readonly {
            stages.extend([SETTLE, HOLD]);
        }
        setup.table.check_stages(&stages)?;
    }
    let mut notes = resolved.notes;
    notes.extend(settings.notes.iter().cloned());
    notes.extend(shape_note);
    Ok((config, notes))
}

/// The plan of `params`' user classes and tags on its host (the settings' when it names
/// none), with the settings' iteration limit, checked to fit in one message to the workers.
pub fn resolve_plan(settings: &Settings, params: &RunParams) -> Result<Resolved, ConfigError> {
    let host = HostBase::parse(run_host(settings, params))?;
    let mut resolved = resolve(
        &settings.scenarios,
        &settings.fleet,
        &PlanOptions {
            classes: params.classes.clone(),
            tags: clean(&params.tags),
            exclude_tags: clean(&params.exclude_tags),
            host,
            default_timeout: settings.request_timeout,
            connection_per_user: settings.connection_per_user,
        },
    )?;
    resolved.plan.iterations = settings.iterations;
    checks::check_plan_size(&resolved.plan)?;
    Ok(resolved)
}

/// Test data is drawn by users when they start: open-model runs (`open`: no users) and resumed
/// runs (whose rows already handed out are not known) cannot use it.
fn check_data_run(resolved: &Resolved, settings: &Settings, open: bool) -> Result<(), ConfigError> {
    let Some(table) = resolved.tables.first() else {
        return Ok(());
    };
    let refuse = |option: &'static str| ConfigError::InvalidOption {
        option,
        detail: format!(
            "the selected classes use test data ({}), which users draw when they start; \
             run them in the closed model (users), without --resume",
            table.name
        ),
    };
    if open {
        return Err(refuse("--rate/--shape (open model)"));
    }
    if settings.resume.is_some() {
        return Err(refuse("--resume"));
    }
    Ok(())
}

fn run_host<'a>(settings: &'a Settings, params: &'a RunParams) -> &'a str {
    params.host.as_deref().unwrap_or(&settings.host)
}

/// The configuration of a run from its checked parts.
fn assemble(
    settings: &Settings,
    params: &RunParams,
    reports: &ReportPaths,
    plan: Plan,
    shape: Option<LoadShape>,
    resume: Option<Arc<Checkpoint>>,
) -> MasterConfig {
    let users = shaped_users(shape.as_ref(), params.users);
    MasterConfig {
        plan,
        hooks: Default::default(),
        scenario_paths: settings.scenario_paths.clone(),
        host: run_host(settings, params).to_owned(),
        users,
        spawn_rate: params.spawn_rate,
        run_time: shaped_run_time(shape.as_ref(), params.run_time),
        shape,
        expect_workers: settings.expect_workers,
        expect_workers_max_wait: settings.expect_workers_max_wait,
        local_workers: settings.local_workers,
        token: settings.token.clone(),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: settings.heartbeat_timeout,
        report_interval: Duration::from_secs(2),
        stop_timeout: settings.stop_timeout,
        print_interval: settings.print_interval,
        json: reports.json.clone(),
        csv: reports.csv.clone(),
        csv_full_history: settings.csv_full_history,
        html: reports
            .html
            .as_deref()
            .map(|path| html_name(path, users, params.spawn_rate, params.run_time)),
        record: settings.record.clone(),
        slo: settings.slo.clone(),
        tls: settings.tls.clone(),
        target_tls: settings.target_tls.clone(),
        fail_on_worker_loss: settings.fail_on_worker_loss,
        checkpoint: reports.checkpoint.clone(),
        checkpoint_interval: settings.checkpoint_interval,
        resume,
        profile: settings.profile.clone(),
        tags: clean(&params.tags),
        exclude_tags: clean(&params.exclude_tags),
        exit_code_on_error: settings.exit_code_on_error,
        data: Vec::new(),
    }
}

/// A shaped run lasts as long as its stages, unless the run time cuts it shorter.
fn shaped_run_time(shape: Option<&LoadShape>, run_time: Option<Duration>) -> Option<Duration> {
    match shape {
        Some(shape) => Some(run_time.map_or(shape.duration(), |t| t.min(shape.duration()))),
        None => run_time,
    }
}

/// A closed shape decides the users: its peak, so the capacity checks see it.
fn shaped_users(shape: Option<&LoadShape>, users: u32) -> u32 {
    match shape {
        // Whole numbers up to 1e9 (checked when parsed) fit in a u32.
        Some(shape) if shape.model == Model::Closed => shape.peak() as u32,
        _ => users,
    }
}

/// The HTML report's path with `{u}`, `{r}` and `{t}` filled in (the run time as asked,
/// `unlimited` without one).
fn html_name(template: &Path, users: u32, spawn_rate: f64, run_time: Option<Duration>) -> PathBuf {
    let run_time = run_time.map_or_else(|| "unlimited".to_owned(), format_duration);
    PathBuf::from(report_name(
        &template.to_string_lossy(),
        users,
        spawn_rate,
        &run_time,
    ))
}

/// The settings of the flags as start parameters (for `--autostart` and the form).
pub fn params_of(config: &MasterConfig) -> RunParams {
    RunParams {
        users: config.users,
        spawn_rate: config.spawn_rate,
        host: Some(config.host.clone()),
        run_time: config.run_time,
        classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
        tags: config.tags.clone(),
        exclude_tags: config.exclude_tags.clone(),
        profile: config.profile.clone(),
        shape: None,
    }
}

/// The checked configuration of a run started with `params`, its reports named
/// `reports/web_<timestamp>_<runid8>` under `reports_dir`, without a checkpoint.
pub fn run_config(
    settings: &Settings,
    params: &RunParams,
    reports_prefix: &Path,
) -> Result<MasterConfig, ConfigError> {
    let prefix = reports_prefix.display().to_string();
    let reports = ReportPaths {
        json: Some(PathBuf::from(format!("{prefix}.json"))),
        csv: Some(PathBuf::from(&prefix)),
        html: Some(PathBuf::from(format!("{prefix}.html"))),
        checkpoint: None,
    };
    let (config, _) = configure(settings, params, &reports)?;
    Ok(config)
}

/// `DIR/web_<UTC timestamp>_<first 8 of the run id>`.
pub fn reports_prefix(dir: &Path, started_unix_ms: i64, run_id: &str) -> PathBuf {
    let stamp = crate::report::format::utc_compact(started_unix_ms);
    let short: String = run_id.chars().take(8).collect();
    dir.join(format!("web_{stamp}_{short}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn settings(extra: &[&str]) -> Settings {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let scenarios = format!("--scenarios={root}/configs/scenarios");
        let fleet = format!("--fleet={root}/configs/fleet.toml");
        let argv = ["lv-master", scenarios.as_str(), fleet.as_str(), "--no-slo"];
        let args = Args::try_parse_from(argv.iter().chain(extra)).expect("valid flags");
        Settings::from_args(&args).expect("valid settings")
    }

    #[test]
    fn a_web_run_takes_its_parameters_and_report_names() {
        let settings = settings(&["--html=flags.html", "--checkpoint=c.json", "-u", "3"]);
        let (flags, _) = flags_config(&settings).expect("valid");
        assert_eq!(flags.users, 3);
        assert_eq!(flags.checkpoint, Some(PathBuf::from("c.json")));
        let mut params = params_of(&flags);
        params.users = 9;
        params.host = Some("http://web.test".into());
        let config = run_config(&settings, &params, Path::new("reports/web_x")).expect("valid");
        assert_eq!((config.users, config.host.as_str()), (9, "http://web.test"));
        assert_eq!(config.json, Some(PathBuf::from("reports/web_x.json")));
        assert_eq!(config.html, Some(PathBuf::from("reports/web_x.html")));
        assert_eq!(config.csv, Some(PathBuf::from("reports/web_x")));
        assert_eq!(config.checkpoint, None);
        assert_eq!(config.plan.classes.len(), flags.plan.classes.len());
    }

    #[test]
    fn each_run_is_checked_and_resolved_for_its_own_parameters() {
        let settings = settings(&[]);
        let mut params = settings.flags.clone();
        params.spawn_rate = 0.0;
        let err = run_config(&settings, &params, Path::new("r")).expect_err("bad rate");
        assert!(err.to_string().contains("--spawn-rate"), "{err}");
        let mut params = settings.flags.clone();
        params.classes = vec!["NoSuchClass".into()];
        let err = run_config(&settings, &params, Path::new("r")).expect_err("unknown");
        assert!(err.to_string().contains("NoSuchClass"), "{err}");
    }

    #[test]
    fn html_names_are_filled_with_the_runs_values() {
        let name = html_name(Path::new("r_{u}_{r}_{t}.html"), 5, 2.0, None);
        assert_eq!(name, Path::new("r_5_2_unlimited.html"));
        let name = html_name(Path::new("{t}.html"), 5, 2.0, Some(Duration::from_secs(90)));
        assert_eq!(name, Path::new("1m30s.html"));
    }

    #[test]
    fn without_a_shape_users_and_run_time_are_the_runs() {
        assert_eq!(shaped_users(None, 4), 4);
        let time = Some(Duration::from_secs(3));
        assert_eq!(shaped_run_time(None, time), time);
    }

    #[test]
    fn report_names_hold_the_time_and_run_id() {
        let path = reports_prefix(Path::new("reports"), 0, "0123456789abcdef");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("web_19700101T000000_"), "{name}");
        assert!(name.ends_with("_01234567"), "{name}");
        assert!(!name.contains([' ', ':']), "{name}");
    }
}
