//! Capacity searches started from the web UI's form: one at a time, driven through the UI
//! session's [`Control`] exactly as `lv-master capacity` drives its own. Each step is
//! published as it is judged, and the search's JSON, CSV and HTML are rewritten in the
//! reports folder after every step, so a search stopped (or a master shut down) mid-way
//! keeps everything it measured.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::chart::{self, Limit};
use super::driver::{self, SearchOutcome, SearchRun};
use super::form::{CapacityForm, CheckedSearch};
use super::judge::{HOLD, SETTLE};
use super::results::{CapacityReport, SearchSetup};
use super::search::Search;
use super::setup::{self, ResultPaths};
use super::steps::StepRecord;
use crate::config::run::configure;
use crate::config::{RunParams, Settings, SloSetup};
use crate::live::control::{CommandError, Control};
use crate::live::snapshot::Catalog;

/// How long a search waits for its workers when the master expects none in particular.
const WORKERS_WAIT: Duration = Duration::from_secs(60);

/// Where a search started from the web is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchState {
    /// No search yet.
    #[default]
    Idle,
    /// Steps are being held.
    Running,
    /// The search reached its answer.
    Done,
    /// Stopped from the page (or by the master's shutdown) before its answer.
    Stopped,
    /// It could not go on (workers missing, a step that did not end).
    Failed,
}

/// What `GET /api/v1/capacity` answers: the form's choices and the latest search.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchStatus {
    /// Where the latest search is.
    pub state: SearchState,
    /// Why no search can be started on this master; `None` when one can.
    pub unavailable: Option<String>,
    /// The SLO levels the form may pick.
    pub levels: Vec<String>,
    /// The level a form without one is judged at.
    pub level: Option<String>,
    /// The latest search: what was asked, its steps so far and, once over, its answer.
    pub capacity: Option<CapacityReport>,
    /// The latency-vs-throughput curve of its steps (inline SVG).
    pub curve_svg: Option<String>,
    /// File kind (`json`, `csv`, `html`) -> URL, once written.
    pub files: BTreeMap<String, String>,
    /// File kind -> path on disk (not shown).
    #[serde(skip)]
    pub paths: BTreeMap<String, PathBuf>,
    /// Why the search stopped short, and files that could not be written.
    pub errors: Vec<String>,
}

/// The web UI's capacity searches (cheap to clone).
#[derive(Clone)]
pub struct Searches {
    inner: Arc<Inner>,
}

struct Inner {
    control: Control,
    settings: Arc<Settings>,
    catalog: Arc<Catalog>,
    reports_dir: PathBuf,
    status: watch::Sender<Arc<SearchStatus>>,
    running: Mutex<Option<CancellationToken>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// A search checked and ready to run.
struct WebSearch {
    checked: CheckedSearch,
    slo: SloSetup,
    base: RunParams,
    setup: SearchSetup,
    limits: Vec<Limit>,
    paths: ResultPaths,
    started_unix_ms: i64,
}

impl Searches {
    /// Searches of a UI session: `control` starts its runs, `settings` and `catalog` are the
    /// session's, results go to `reports_dir`; `shutdown` stops a search going.
    pub fn new(
        control: Control,
        settings: Arc<Settings>,
        catalog: Arc<Catalog>,
        reports_dir: PathBuf,
        shutdown: CancellationToken,
    ) -> Searches {
        let status = SearchStatus {
            unavailable: unavailable(&settings),
            levels: settings.slo.as_ref().map(levels).unwrap_or_default(),
            level: settings.slo.as_ref().map(|s| s.asked.clone()),
            ..SearchStatus::default()
        };
        Searches {
            inner: Arc::new(Inner {
                control,
                settings,
                catalog,
                reports_dir,
                status: watch::Sender::new(Arc::new(status)),
                running: Mutex::new(None),
                shutdown,
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The latest status.
    pub fn status(&self) -> Arc<SearchStatus> {
        Arc::clone(&self.inner.status.borrow())
    }

    /// True while a search is going.
    pub fn is_running(&self) -> bool {
        self.inner.running().is_some()
    }

    /// Starts the search `form` asks for: `Invalid` names a bad field, `Conflict` says what
    /// is in the way (a search or a run going, no SLO table).
    pub fn start(&self, form: &CapacityForm) -> Result<(), CommandError> {
        let inner = &self.inner;
        if let Some(why) = &inner.status.borrow().unavailable {
            return Err(CommandError::Conflict(why.clone()));
        }
        let search = inner.prepare(form)?;
        let mut running = inner.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.is_some() {
            return Err(CommandError::Conflict(
                "a capacity search is running: stop it before starting another".into(),
            ));
        }
        if inner.control.snapshot().live.state.is_active() {
            return Err(CommandError::Conflict(
                "a run is going: stop it before starting a capacity search".into(),
            ));
        }
        let token = inner.shutdown.child_token();
        *running = Some(token.clone());
        drop(running);
        info!(classes = ?search.setup.classes, level = %search.setup.slo_level, "capacity search started from the web");
        inner.publish(&search, Vec::new(), None, SearchState::Running);
        inner.tasks.spawn(drive(Arc::clone(inner), search, token));
        Ok(())
    }

    /// Stops the search going (its current step is stopped and shown, not judged);
    /// false when none is going.
    pub fn stop(&self) -> bool {
        match self.inner.running() {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Stops any search and waits (at most `grace`) for its results to be written.
    pub async fn close(&self, grace: Duration) {
        self.stop();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            warn!("the capacity search did not finish writing its results within {grace:?}");
        }
    }
}

impl Inner {
    fn running(&self) -> Option<CancellationToken> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Checks `form` against the session: its search, its SLO level, its classes and tags.
    fn prepare(&self, form: &CapacityForm) -> Result<WebSearch, CommandError> {
        let invalid = |err: &dyn std::fmt::Display| CommandError::Invalid(err.to_string());
        let checked = form.check().map_err(|e| invalid(&e))?;
        let slo = self.slo(form.slo_level.as_deref())?;
        let base = form
            .selection
            .resolve_selection(&self.catalog, &self.settings.flags)
            .map_err(|e| invalid(&e))?;
        let shape = checked.steps.shape(checked.search.start, false);
        let first = RunParams {
            run_time: Some(shape.duration()),
            shape: Some(shape),
            ..base.clone()
        };
        let (config, _) =
            configure(&self.settings, &first, &Default::default()).map_err(|e| invalid(&e))?;
        let started_unix_ms = lv_common::wire::unix_ms_now();
        let stamp = crate::report::format::utc_compact(started_unix_ms);
        let prefix = self.reports_dir.join(format!("web_{stamp}"));
        let with = |suffix: &str| {
            let mut path = prefix.as_os_str().to_owned();
            path.push(suffix);
            PathBuf::from(path)
        };
        let setup = SearchSetup {
            search: checked.search,
            steps: checked.steps,
            unit: checked.steps.unit().to_owned(),
            classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
            tags: config.tags.clone(),
            slo_level: slo.asked.clone(),
            require: checked.require,
        };
        Ok(WebSearch {
            limits: setup::limits(&slo, &config.plan),
            checked,
            slo,
            base,
            setup,
            paths: ResultPaths {
                json: Some(with("_capacity.json")),
                csv: Some(prefix.clone()),
                html: Some(with("_capacity.html")),
                record: None,
            },
            started_unix_ms,
        })
    }

    /// The session's SLO table at `level` (the session's level when `None`), checked to
    /// name no stage but the steps' own.
    fn slo(&self, level: Option<&str>) -> Result<SloSetup, CommandError> {
        let Some(base) = &self.settings.slo else {
            return Err(CommandError::Conflict(NO_SLO.into()));
        };
        let mut slo = base.clone();
        if let Some(asked) = level {
            slo.level = slo
                .table
                .resolve_level(asked, &slo.table.path)
                .map_err(|e| CommandError::Invalid(format!("slo_level={asked}: {e}")))?;
            asked.clone_into(&mut slo.asked);
        }
        slo.table
            .check_stages(&[SETTLE, HOLD])
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        Ok(slo)
    }

    /// Publishes the search's report of `steps` (and answer), rewriting its files.
    fn publish(
        &self,
        search: &WebSearch,
        steps: Vec<StepRecord>,
        outcome: Option<&SearchOutcome>,
        state: SearchState,
    ) {
        let conclusion = outcome.and_then(|o| o.conclusion);
        let report = CapacityReport::new(
            search.setup.clone(),
            steps,
            conclusion,
            search.started_unix_ms,
        );
        let mut errors: Vec<String> = outcome
            .and_then(|o| o.error.as_ref())
            .map(|e| vec![e.to_string()])
            .unwrap_or_default();
        let written = if report.steps.is_empty() {
            Vec::new()
        } else {
            let failed = setup::write_files(&report, &search.paths, &search.limits);
            errors.extend(failed);
            file_paths(&search.paths)
        };
        let curve_svg = Some(chart::curve(&report, &search.limits));
        self.status.send_modify(|status| {
            let mut next = SearchStatus {
                state,
                capacity: Some(report),
                curve_svg,
                errors,
                ..SearchStatus::clone(status)
            };
            next.paths = written.into_iter().collect();
            next.files = next
                .paths
                .keys()
                .map(|kind| (kind.clone(), format!("api/v1/capacity/{kind}")))
                .collect();
            *status = Arc::new(next);
        });
    }
}

/// The paths of the search's files, by kind.
fn file_paths(paths: &ResultPaths) -> Vec<(String, PathBuf)> {
    let mut csv = None;
    if let Some(prefix) = &paths.csv {
        let mut path = prefix.as_os_str().to_owned();
        path.push("_capacity.csv");
        csv = Some(PathBuf::from(path));
    }
    [
        ("json", paths.json.clone()),
        ("csv", csv),
        ("html", paths.html.clone()),
    ]
    .into_iter()
    .filter_map(|(kind, path)| path.map(|p| (kind.to_owned(), p)))
    .collect()
}

/// Runs `search` to its end, publishing each step, then its answer.
async fn drive(inner: Arc<Inner>, search: WebSearch, token: CancellationToken) {
    let steps = Mutex::new(Vec::new());
    let on_step = |step: &StepRecord| {
        let mut steps = steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.push(step.clone());
        inner.publish(&search, steps.clone(), None, SearchState::Running);
    };
    let want = inner.settings.expect_workers.max(1);
    let wait = inner
        .settings
        .expect_workers_max_wait
        .unwrap_or(WORKERS_WAIT);
    let run = SearchRun {
        slo: &search.slo,
        steps: search.checked.steps,
        base: search.base.clone(),
        workers: (want, Some(wait)),
        on_step: &on_step,
    };
    let plan = Search::new(search.checked.search);
    let outcome = driver::run_search(&inner.control, &run, plan, &token).await;
    let state = match (&outcome.conclusion, &outcome.error) {
        (_, Some(_)) => SearchState::Failed,
        (Some(_), None) => SearchState::Done,
        (None, None) => SearchState::Stopped,
    };
    info!(?state, steps = outcome.steps.len(), "capacity search over");
    inner.publish(&search, outcome.steps.clone(), Some(&outcome), state);
    *inner.running.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

const NO_SLO: &str = "capacity searches judge each step by an SLO level, and this master has none: start it with --slo-level LEVEL (and --slo FILE)";

/// Why `settings` cannot search at all, if they cannot.
fn unavailable(settings: &Settings) -> Option<String> {
    match &settings.slo {
        None => Some(NO_SLO.to_owned()),
        Some(slo) => slo
            .table
            .check_stages(&[SETTLE, HOLD])
            .err()
            .map(|e| format!("the SLO table cannot judge capacity steps: {e}")),
    }
}

/// The levels (and aliases) of the SLO table, sorted.
fn levels(slo: &SloSetup) -> Vec<String> {
    let mut levels: Vec<String> = slo
        .table
        .avg_ms
        .values()
        .flat_map(|by_level| by_level.keys().cloned())
        .chain(slo.table.aliases.keys().cloned())
        .collect();
    levels.sort();
    levels.dedup();
    levels
}
