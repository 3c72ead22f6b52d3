//! Runs a capacity search through a UI-mode coordinator's [`Control`]: waits for the
//! workers, then for each step the [`Search`] asks for, starts a run with the step's load
//! shape, watches its snapshots (stopping it early when its hold is plainly failing), reads
//! its report when it is over, judges the hold and tells the search. Ctrl-C stops the step
//! going and ends the search with what was measured.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::judge::{self, HOLD, StepVerdict};
use super::search::{Conclusion, Next, Search};
use super::steps::{StepRecord, StepSettings};
use crate::config::{RunParams, SloSetup};
use crate::live::control::{Command, CommandError, Control};
use crate::live::snapshot::Snapshot;
use crate::report::summary::{Summary, read_json};
use crate::slo::{Status, Verdict};

/// Extra time a step may take beyond its stages before it is given up.
const STEP_GRACE: Duration = Duration::from_secs(60);

/// Why a search could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Too few workers came in time.
    #[error("{have} of the {want} expected workers connected within {waited:?}")]
    Workers {
        /// Workers connected.
        have: usize,
        /// Workers expected.
        want: usize,
        /// How long the search waited.
        waited: Duration,
    },
    /// The coordinator refused a step or went away.
    #[error("step {step}: {source}")]
    Command {
        /// The step.
        step: u32,
        /// Why.
        source: CommandError,
    },
    /// A step did not end, or its report could not be read.
    #[error("step {step}: {detail}")]
    Step {
        /// The step.
        step: u32,
        /// What went wrong.
        detail: String,
    },
}

/// What a search needs besides the coordinator.
pub struct SearchRun<'a> {
    /// The SLO table and level the steps are judged by.
    pub slo: &'a SloSetup,
    /// How steps are held.
    pub steps: StepSettings,
    /// The run parameters every step starts from (classes, tags, host).
    pub base: RunParams,
    /// Workers to wait for, and for how long at most (`None`: forever).
    pub workers: (usize, Option<Duration>),
    /// Called with each step as it is judged (the console prints it).
    pub on_step: &'a (dyn Fn(&StepRecord) + Sync),
}

/// What a search ended with: every step taken (nothing measured is lost), the conclusion
/// (`None` when interrupted by `shutdown` or stopped by an error), and the error.
pub struct SearchOutcome {
    /// The steps, in order.
    pub steps: Vec<StepRecord>,
    /// The answer.
    pub conclusion: Option<Conclusion>,
    /// Why the search could not go on.
    pub error: Option<DriverError>,
}

/// Runs `search` to its end through `control`.
pub async fn run_search(
    control: &Control,
    run: &SearchRun<'_>,
    mut search: Search,
    shutdown: &CancellationToken,
) -> SearchOutcome {
    let mut outcome = SearchOutcome {
        steps: Vec::new(),
        conclusion: None,
        error: None,
    };
    if let Err(err) = wait_for_workers(control, run.workers, shutdown).await {
        outcome.error = Some(err);
        return outcome;
    }
    while !shutdown.is_cancelled() {
        let (load, confirm) = match search.next_step() {
            Next::Done(conclusion) => {
                outcome.conclusion = Some(conclusion);
                break;
            }
            Next::Hold { load, confirm } => (load, confirm),
        };
        let index = u32::try_from(outcome.steps.len() + 1).unwrap_or(u32::MAX);
        info!(step = index, load, confirm, "capacity step");
        let mut step = match run_step(control, run, index, (load, confirm), shutdown).await {
            Ok(step) => step,
            Err(err) => {
                outcome.error = Some(err);
                break;
            }
        };
        // A step cut short by Ctrl-C says nothing about the target: shown, not judged.
        if shutdown.is_cancelled() {
            step.interrupted = true;
            step.rule = None;
        } else {
            search.record(step.outcome);
        }
        (run.on_step)(&step);
        outcome.steps.push(step);
    }
    outcome
}

/// Waits until `want` workers are connected (or `max_wait` passes).
async fn wait_for_workers(
    control: &Control,
    (want, max_wait): (usize, Option<Duration>),
    shutdown: &CancellationToken,
) -> Result<(), DriverError> {
    let mut snapshots = control.subscribe();
    let enough = snapshots.wait_for(|s| s.live.worker_count >= want);
    let waited = max_wait.unwrap_or(Duration::MAX);
    let have = || control.snapshot().live.worker_count;
    tokio::select! {
        result = tokio::time::timeout(waited, enough) => match result {
            Ok(Ok(_)) => Ok(()),
            _ => Err(DriverError::Workers { have: have(), want, waited }),
        },
        () = shutdown.cancelled() => Ok(()),
    }
}

/// Runs one step and judges it.
async fn run_step(
    control: &Control,
    run: &SearchRun<'_>,
    index: u32,
    (load, confirm): (f64, bool),
    shutdown: &CancellationToken,
) -> Result<StepRecord, DriverError> {
    let shape = run.steps.shape(load, confirm);
    let limit = shape.duration() + STEP_GRACE;
    // A closed shape decides the users itself; an open one has none.
    let params = RunParams {
        run_time: Some(shape.duration()),
        shape: Some(shape),
        ..run.base.clone()
    };
    let mut snapshots = control.subscribe();
    let started = control
        .ask(|reply| Command::Start(params, reply))
        .await
        .map_err(|source| DriverError::Command {
            step: index,
            source,
        })?;
    let watched = watch_step(control, &mut snapshots, run.slo, &started.run_id, shutdown);
    let (snapshot, early) =
        tokio::time::timeout(limit, watched)
            .await
            .map_err(|_| DriverError::Step {
                step: index,
                detail: format!("the run did not end within {limit:?}"),
            })?;
    let summary = step_summary(&snapshot, &started.run_id);
    let Some(hold) = summary.stages.iter().find(|s| s.name == HOLD) else {
        return Err(DriverError::Step {
            step: index,
            detail: "the report has no hold stage".into(),
        });
    };
    let detail = |detail| DriverError::Step {
        step: index,
        detail,
    };
    let verdict = match (
        judge::judge(run.slo, hold, run.steps.max_lag_ms).map_err(detail)?,
        &early,
    ) {
        (StepVerdict::Pass, Some(why)) => StepVerdict::Fail(stopped_rule(why)),
        (verdict, _) => verdict,
    };
    Ok(StepRecord::new(
        index,
        (load, confirm),
        hold,
        verdict,
        early,
        &started.run_id,
    ))
}

/// Follows the run `run_id` until its record heads the finished runs; stops it early when
/// its hold is plainly failing (returning why) or when `shutdown` fires. Returns the
/// snapshot that shows it over.
async fn watch_step(
    control: &Control,
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    slo: &SloSetup,
    run_id: &str,
    shutdown: &CancellationToken,
) -> (Arc<Snapshot>, Option<String>) {
    let mut early = None;
    let mut stop_sent = false;
    loop {
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        if snapshot.runs.first().is_some_and(|r| r.run_id == run_id) {
            return (snapshot, early);
        }
        let ours = snapshot.live.run_id.as_deref() == Some(run_id);
        if ours && !stop_sent {
            let hold = snapshot.report.stages.iter().find(|s| s.name == HOLD);
            if let Some(why) = hold.and_then(|h| judge::plainly_failing(slo, h)) {
                info!(run_id, "stopping the step early: {why}");
                early = Some(why);
            }
            if early.is_some() || shutdown.is_cancelled() {
                stop_sent = true;
                if let Err(err) = control.ask(Command::Stop).await {
                    warn!("cannot stop the step: {err}");
                }
                continue;
            }
        }
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    // The coordinator is gone: this is the last snapshot there will be.
                    return (snapshot, early);
                }
            }
            () = shutdown.cancelled(), if !stop_sent => {}
        }
    }
}

/// The finished step's report: its JSON file, else the snapshot's report of it.
fn step_summary(snapshot: &Snapshot, run_id: &str) -> Summary {
    let path = snapshot
        .runs
        .first()
        .filter(|r| r.run_id == run_id)
        .and_then(|r| r.paths.get("json"));
    match path.map(|p| read_json(p)) {
        Some(Ok(summary)) => summary,
        Some(Err(err)) => {
            warn!("cannot read the step's report ({err}); judging its last snapshot");
            snapshot.report.clone()
        }
        None => snapshot.report.clone(),
    }
}

/// The rule of a step stopped early whose figures so far passed every rule.
fn stopped_rule(why: &str) -> Verdict {
    Verdict {
        kind: None,
        stage: Some(HOLD.to_owned()),
        metric: "stopped early".to_owned(),
        target: why.to_owned(),
        measured: 0.0,
        endpoint: String::new(),
        status: Status::Fail,
    }
}
