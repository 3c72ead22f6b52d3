//! From `lv-master capacity`'s arguments to a checked search, and from its report to the
//! files it writes and its exit code. Every bad option is a [`ConfigError`] naming it
//! (exit 2) before anything binds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lv_common::kind::SloKind;
use lv_common::load::{MAX_RATE, Model};
use lv_common::plan::Plan;

use super::chart::{self, Limit};
use super::driver::SearchOutcome;
use super::judge::{HOLD, SETTLE};
use super::results::{CapacityReport, SearchSetup};
use super::search::{Search, SearchParams};
use super::steps::StepSettings;
use crate::config::cli::{Args, CapacityArgs, SearchOptions};
use crate::config::run::configure;
use crate::config::{ConfigError, MasterConfig, Settings, SloSetup};
use crate::report::conclude::{EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK};

/// A checked capacity search.
#[derive(Debug, Clone)]
pub struct CapacityPlan {
    /// Climb, bisection and bounds.
    pub search: SearchParams,
    /// How steps are held.
    pub steps: StepSettings,
    /// `--require`.
    pub require: Option<f64>,
    /// The run options the settings are made from (`--max-in-flight` moved to the steps).
    pub run: Args,
}

impl CapacityPlan {
    /// A fresh search of this plan.
    pub fn new_search(&self) -> Search {
        Search::new(self.search)
    }

    /// `arrivals/s` or `users`.
    pub fn unit(&self) -> &'static str {
        self.steps.unit()
    }
}

fn invalid(option: &'static str, detail: impl Into<String>) -> ConfigError {
    ConfigError::InvalidOption {
        option,
        detail: detail.into(),
    }
}

/// Checks the search options and refuses the run options a search decides itself.
pub fn plan(args: &CapacityArgs) -> Result<CapacityPlan, ConfigError> {
    refuse_run_options(&args.run)?;
    let mut run = args.run.clone();
    // No web UI to start runs from: --web-port serves the search read-only.
    run.headless = true;
    let max_in_flight = run.max_in_flight.take();
    let (search, steps) = search_plan(&args.search, max_in_flight)?;
    Ok(CapacityPlan {
        search,
        steps,
        require: args.search.require,
        run,
    })
}

/// The climb and the steps of `options` (and `--max-in-flight`), checked: every bad value
/// is a [`ConfigError`] naming its option. Pure; the web UI's form goes through it too.
pub fn search_plan(
    options: &SearchOptions,
    max_in_flight: Option<u32>,
) -> Result<(SearchParams, StepSettings), ConfigError> {
    check_loads(options)?;
    if !(options.factor.is_finite() && options.factor > 1.0 && options.factor <= 10.0) {
        return Err(invalid(
            "--factor",
            format!("{} must be above 1 and at most 10", options.factor),
        ));
    }
    let confirm = options.confirm.unwrap_or(options.hold * 2);
    for (option, value) in [
        ("--hold", options.hold),
        ("--settle", options.settle),
        ("--confirm", confirm),
    ] {
        if value < Duration::from_millis(100) {
            return Err(invalid(
                option,
                format!("{value:?} is too short (at least 100ms)"),
            ));
        }
    }
    if max_in_flight == Some(0) {
        return Err(invalid("--max-in-flight", "must be at least 1"));
    }
    let search = SearchParams {
        start: options.start,
        factor: options.factor,
        precision: options.precision,
        max: options.max,
        whole: options.model == Model::Closed,
    };
    let steps = StepSettings {
        model: options.model,
        settle: options.settle,
        hold: options.hold,
        confirm,
        max_in_flight,
        max_lag_ms: options.max_lag.as_secs_f64() * 1000.0,
    };
    Ok((search, steps))
}

/// `--start` and `--max`: above 0, ordered, whole numbers of users in the closed model.
fn check_loads(args: &SearchOptions) -> Result<(), ConfigError> {
    let whole = args.model == Model::Closed;
    for (option, value) in [("--start", args.start), ("--max", args.max)] {
        if !(value.is_finite() && value > 0.0 && value <= MAX_RATE) {
            return Err(invalid(
                option,
                format!("{value} must be above 0 and at most {MAX_RATE}"),
            ));
        }
        if whole && value.fract() != 0.0 {
            return Err(invalid(
                option,
                format!("{value} users: the closed model needs a whole number"),
            ));
        }
    }
    if args.max < args.start {
        return Err(invalid(
            "--max",
            format!("{} is below --start {}", args.max, args.start),
        ));
    }
    Ok(())
}

/// The run options a capacity search decides itself, refused by name.
fn refuse_run_options(run: &Args) -> Result<(), ConfigError> {
    let decided = "each step of a capacity search has its own load shape";
    let refused: [(&'static str, bool, &str); 8] = [
        ("--rate", run.rate.is_some(), decided),
        ("--shape", run.shape.is_some(), decided),
        ("--run-time", run.run_time.is_some(), decided),
        ("--iterations", run.iterations.is_some(), decided),
        (
            "--checkpoint",
            run.checkpoint.is_some(),
            "a search cannot be resumed",
        ),
        (
            "--resume",
            run.resume.is_some() || run.resume_if_present,
            "a search cannot be resumed",
        ),
        (
            "--no-slo",
            run.no_slo,
            "the steps are judged by the SLO rules",
        ),
        (
            "--autostart",
            run.web.autostart || run.web.autoquit.is_some(),
            "a search has no web UI",
        ),
    ];
    match refused.iter().find(|(_, given, _)| *given) {
        Some((option, _, why)) => Err(invalid(option, format!("not taken by `capacity`: {why}"))),
        None => Ok(()),
    }
}

/// The settings of the search's runs: no live table, and an SLO table whose stage rules
/// name `settle` or `hold` only.
pub fn settings(plan: &CapacityPlan) -> Result<(Settings, SloSetup), ConfigError> {
    let mut settings = Settings::from_args(&plan.run)?;
    settings.print_interval = None;
    // --record is the search's row, not one per step.
    settings.record = None;
    let Some(slo) = settings.slo.clone() else {
        return Err(invalid(
            "--slo-level",
            "a capacity search judges each step by the SLO rules of a load level: give --slo-level (and --slo FILE)",
        ));
    };
    slo.table.check_stages(&[SETTLE, HOLD])?;
    Ok((settings, slo))
}

/// Everything a search needs before it binds: the checked plan, the settings of its runs,
/// the SLO setup, the configuration of its session, the chart's limits and what it was
/// asked (for the results).
pub struct Prepared {
    /// The checked search.
    pub plan: CapacityPlan,
    /// The settings every step's run is made from.
    pub settings: Arc<Settings>,
    /// The SLO table and level.
    pub slo: SloSetup,
    /// The session's configuration (workers, TLS, the first step's plan).
    pub config: MasterConfig,
    /// Response-time limits for the chart.
    pub limits: Vec<Limit>,
    /// What was asked, for the results.
    pub setup: SearchSetup,
}

/// Checks everything a search needs (exit 2 for any problem) before anything binds.
pub fn prepare(args: &CapacityArgs) -> Result<Prepared, ConfigError> {
    let plan = plan(args)?;
    let (settings, slo) = settings(&plan)?;
    let mut params = settings.flags.clone();
    params.shape = Some(plan.steps.shape(plan.search.start, false));
    let (config, _) = configure(&settings, &params, &Default::default())?;
    let setup = SearchSetup {
        search: plan.search,
        steps: plan.steps,
        unit: plan.unit().to_owned(),
        classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
        tags: config.tags.clone(),
        slo_level: slo.asked.clone(),
        require: plan.require,
    };
    Ok(Prepared {
        limits: limits(&slo, &config.plan),
        plan,
        settings: Arc::new(settings),
        slo,
        config,
        setup,
    })
}

/// Prints the answer (the steps were printed as they were judged), writes the files and
/// returns the exit code ([`exit_code`]).
pub fn conclude(
    prepared: Prepared,
    outcome: SearchOutcome,
    started_unix_ms: i64,
    paths: &ResultPaths,
) -> u8 {
    let report = CapacityReport::new(
        prepared.setup,
        outcome.steps,
        outcome.conclusion,
        started_unix_ms,
    );
    lv_common::outln!("\n{}", report.summary);
    if let Some(err) = &outcome.error {
        lv_common::errln!("lv-master capacity: {err}");
    }
    let errors = write_files(&report, paths, &prepared.limits);
    for err in &errors {
        lv_common::errln!("lv-master capacity: {err}");
    }
    let failed = outcome.error.is_some() || !errors.is_empty();
    exit_code(&report, prepared.plan.require, failed)
}

/// The response-time limits the plan's endpoints are held to, for the chart: each kind's
/// average at the level and the hold's stage rules, labelled.
pub fn limits(slo: &SloSetup, plan: &Plan) -> Vec<Limit> {
    let mut kinds: Vec<SloKind> = plan
        .classes
        .iter()
        .flat_map(|c| {
            c.tasks
                .iter()
                .flat_map(|t| t.steps.iter().filter_map(|s| s.kind))
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let name = |kind: Option<SloKind>| {
        kind.map_or("every".to_owned(), |k| format!("{k:?}").to_lowercase())
    };
    let mut limits: Vec<Limit> = Vec::new();
    for &kind in &kinds {
        if let Some(ms) = slo.table.avg_ms.get(&kind).and_then(|l| l.get(&slo.level)) {
            limits.push((format!("{} avg < {ms} ms", name(Some(kind))), *ms));
        }
    }
    for rule in slo
        .table
        .rules
        .iter()
        .filter(|r| r.stage.as_deref() == Some(HOLD))
    {
        if rule.kind.is_some_and(|k| !kinds.contains(&k)) {
            continue;
        }
        for (metric, ms) in [
            ("avg", rule.avg_ms),
            ("p95", rule.p95_ms),
            ("p99", rule.p99_ms),
        ] {
            if let Some(ms) = ms {
                limits.push((format!("{} {metric} < {ms} ms", name(rule.kind)), ms));
            }
        }
    }
    limits
}

/// Where the search's results go.
#[derive(Debug, Clone, Default)]
pub struct ResultPaths {
    /// `--json`.
    pub json: Option<PathBuf>,
    /// `--csv` prefix (`PREFIX_capacity.csv`).
    pub csv: Option<PathBuf>,
    /// `--html`.
    pub html: Option<PathBuf>,
    /// `--record`.
    pub record: Option<PathBuf>,
}

impl ResultPaths {
    /// The paths of the run options.
    pub fn of(run: &Args) -> ResultPaths {
        ResultPaths {
            json: run.json.clone(),
            csv: run.csv.clone(),
            html: run.html.clone(),
            record: run.record.clone(),
        }
    }
}

/// Writes every file asked for; returns the errors, each naming its file.
pub fn write_files(report: &CapacityReport, paths: &ResultPaths, limits: &[Limit]) -> Vec<String> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if let Some(path) = &paths.json {
        files.push((path.clone(), report.to_json()));
    }
    if let Some(prefix) = &paths.csv {
        let mut path = prefix.as_os_str().to_owned();
        path.push("_capacity.csv");
        files.push((PathBuf::from(path), report.to_csv()));
    }
    if let Some(path) = &paths.html {
        files.push((path.clone(), chart::page(report, limits)));
    }
    let mut errors = Vec::new();
    for (path, text) in files {
        if let Err(err) = crate::report::summary::write_atomically(&path, text.as_bytes()) {
            errors.push(format!("cannot write {}: {err}", path.display()));
        }
    }
    if let Some(path) = &paths.record
        && let Err(err) = crate::report::compare::append_row(path, &report.benchmark_row())
    {
        errors.push(format!("cannot append to {}: {err}", path.display()));
    }
    errors
}

/// 3 when the search could not be carried out (or was interrupted); else, with
/// `--require`, 0 when the capacity is at least that and 1 when not; without it, 0.
pub fn exit_code(report: &CapacityReport, require: Option<f64>, failed: bool) -> u8 {
    match require {
        _ if failed || report.result.is_none() => EXIT_CANNOT_RUN,
        Some(need) if report.capacity() < need => EXIT_FAILED,
        _ => EXIT_OK,
    }
}

#[cfg(test)]
mod tests;
