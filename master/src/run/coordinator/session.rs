//! The coordinator's web side: it publishes a [`Snapshot`] on a `watch` channel (every
//! merge interval and on each state change) and, in UI mode, lives across runs, answering
//! the web's commands: start (a new run id, stats and reports), edit (a new desired-state
//! assignment and timer), stop and reset. Workers stay attached between runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lv_common::bounds::later;
use tokio::time::Instant;
use tracing::{info, warn};

use super::link::{Web, WebLink};
use super::{Coordinator, Phase};
use crate::aggregate::RunStats;
use crate::config::run;
use crate::live::control::{Command, CommandError, RunParams, Started};
use crate::live::form::SwarmForm;
use crate::live::snapshot::{self, RunRecord, RunState};

impl Coordinator {
    /// Publishes snapshots to the web; with a session, lives across runs (UI mode).
    pub fn with_web(mut self, link: WebLink) -> Coordinator {
        self.set_web(link);
        self
    }

    /// [`Coordinator::with_web`] in place.
    pub(crate) fn set_web(&mut self, link: WebLink) {
        let ui = link.session.is_some();
        let autostart = link.session.as_ref().is_some_and(|s| s.autostart);
        let mut web = Web::new(link, self.config.run_time.map(|t| t.as_secs_f64()));
        if ui && !autostart {
            self.phase = Phase::Idle;
        } else if let Some(session) = web.session.as_ref().filter(|_| autostart) {
            let prefix = run::reports_prefix(
                &session.reports_dir,
                self.clock.now_ms(),
                self.ledger.run_id(),
            );
            let params = run::params_of(&self.config);
            match run::run_config(&session.settings, &params, &prefix) {
                Ok(config) => self.set_config(config),
                Err(err) => warn!("the autostart run keeps the flags' report paths: {err}"),
            }
            web.run_open = true;
            web.event(
                self.clock.now_ms(),
                "start",
                "started from the command line".into(),
            );
        }
        self.web = Some(web);
        self.publish();
    }

    fn set_config(&mut self, config: crate::config::MasterConfig) {
        self.plan_json = config.plan.to_json();
        self.plan = Arc::new(config.plan.clone());
        self.config = Arc::new(config);
    }

    /// The state in Locust's words.
    pub(super) fn run_state(&self) -> RunState {
        match self.phase {
            Phase::Idle | Phase::Done if self.ledger.started().is_some() => RunState::Stopped,
            Phase::Idle | Phase::Done | Phase::Waiting { .. } => RunState::Ready,
            Phase::SettingUp => RunState::Spawning,
            Phase::Running { .. } if self.users_present() < self.users_target() => {
                RunState::Spawning
            }
            Phase::Running { .. } => RunState::Running,
            Phase::Stopping { .. } | Phase::TearingDown => RunState::Stopping,
        }
    }

    /// Publishes the current snapshot (no-op without a web link).
    pub(super) fn publish(&self) {
        let Some(web) = &self.web else {
            return;
        };
        let started_ms = self.ledger.started_ms();
        let snapshot = snapshot::build(&snapshot::SnapshotInput {
            config: &self.config,
            plan: &self.plan,
            catalog: &web.catalog,
            state: self.run_state(),
            run_id: self.ledger.started().map(|_| self.ledger.run_id()),
            stats: &self.stats,
            workers: self.workers.entries(),
            started_unix_ms: started_ms,
            now_unix_ms: self.clock.now_ms(),
            now: Instant::now(),
            run_time_s: web.run_time_s,
            events: &web.events,
            stopped_by: self.ledger.stopped_by(),
            runs: Arc::clone(&web.runs),
        });
        web.snapshots.send_replace(Arc::new(snapshot));
    }

    /// Answers one web command.
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Start(params, reply) => {
                let _ = reply.send(self.start_from_web(&params));
            }
            Command::Edit(params, reply) => {
                let _ = reply.send(self.edit(&params));
            }
            Command::Swarm(form, reply) => {
                let _ = reply.send(self.swarm(&form));
            }
            Command::Stop(reply) => {
                if matches!(self.phase, Phase::Running { .. }) {
                    info!("stop requested from the web");
                    self.web_event("stop", "stopped from the web".into());
                    self.begin_stop();
                } else if matches!(self.phase, Phase::SettingUp) {
                    self.abort("stopped from the web during the setup steps".into());
                }
                let _ = reply.send(Ok(()));
            }
            Command::Reset(reply) => {
                if self.ledger.started().is_some() {
                    let now = self.clock.now_ms();
                    self.stats = RunStats::new(self.config.csv_full_history);
                    self.stats.start(now);
                    self.web_event("reset", "stats reset".into());
                }
                let _ = reply.send(Ok(()));
            }
        }
        self.publish();
    }

    /// Records a run event for the charts (no-op without a web link).
    pub(super) fn web_event(&mut self, kind: &str, text: String) {
        let now = self.clock.now_ms();
        if let Some(web) = &mut self.web {
            web.event(now, kind, text);
        }
    }

    /// A `/swarm` form: checked against the current settings, then a start when no run is
    /// going (without a run time it runs until stopped), else an edit (which keeps the
    /// running timer when the form gives no run time).
    fn swarm(&mut self, form: &SwarmForm) -> Result<Started, CommandError> {
        let Some(web) = &self.web else {
            return Err(CommandError::Conflict("read-only".into()));
        };
        let mut params = form
            .resolve(&web.catalog, &self.current_params())
            .map_err(|err| CommandError::Invalid(err.to_string()))?;
        if !self.run_state().is_active() {
            return self.start_from_web(&params);
        }
        if form.run_time.is_none() {
            params.run_time = match self.phase {
                Phase::Running { ends: Some(end) } => Some(
                    end.saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                ),
                _ => None,
            };
        }
        self.edit(&params)
    }

    /// The settings a `/swarm` form starts from: the current (or last) run's.
    fn current_params(&self) -> RunParams {
        let config = &self.config;
        RunParams {
            users: config.users,
            spawn_rate: config.spawn_rate,
            host: Some(config.host.clone()),
            run_time: config.run_time,
            classes: Vec::new(),
            tags: config.tags.clone(),
            exclude_tags: config.exclude_tags.clone(),
            profile: config.profile.clone(),
            shape: None,
        }
    }

    fn start_from_web(&mut self, params: &RunParams) -> Result<Started, CommandError> {
        if !matches!(self.phase, Phase::Idle) {
            return Err(CommandError::Conflict(format!(
                "cannot start: the master is {}",
                self.run_state().label()
            )));
        }
        let active = self.workers.active();
        if active == 0 {
            return Err(CommandError::Conflict("no worker is connected".into()));
        }
        let Some(session) = self.web.as_ref().and_then(|w| w.session.as_ref()) else {
            return Err(CommandError::Conflict("read-only".into()));
        };
        let run_id = uuid::Uuid::new_v4().to_string();
        let prefix = run::reports_prefix(&session.reports_dir, self.clock.now_ms(), &run_id);
        let config = run::run_config(&session.settings, params, &prefix)
            .map_err(|err| CommandError::Invalid(err.to_string()))?;
        self.set_config(config);
        self.ledger.restart(run_id);
        self.stats = RunStats::new(self.config.csv_full_history);
        self.workers.reset_for_run();
        let now_ms = self.clock.now_ms();
        if let Some(web) = &mut self.web {
            let text = format!("{} users at {}/s", params.users, params.spawn_rate);
            web.run_started(now_ms, params.run_time.map(|t| t.as_secs_f64()), text);
        }
        info!(run_id = %self.ledger.run_id(), users = params.users, "run started from the web");
        self.start();
        Ok(Started {
            run_id: self.ledger.run_id().to_owned(),
            host: self.config.host.clone(),
            edit: false,
            run_time: params.run_time,
        })
    }

    /// Changes users, spawn rate and the remaining run time of the running test.
    fn edit(&mut self, params: &RunParams) -> Result<Started, CommandError> {
        if !matches!(self.phase, Phase::Running { .. }) {
            return Err(CommandError::Conflict("no run is going".into()));
        }
        if self.config.shape.is_some() {
            return Err(CommandError::Conflict(
                "this run follows a load shape (--shape), which decides its users and length; stop it and start another to change them".into(),
            ));
        }
        let now = Instant::now();
        let elapsed = self
            .ledger
            .started()
            .map_or(Duration::ZERO, |(at, _)| now - at);
        let mut config = (*self.config).clone();
        config.users = params.users;
        config.spawn_rate = params.spawn_rate;
        config.run_time = params.run_time.map(|t| elapsed.saturating_add(t));
        self.config = Arc::new(config);
        self.phase = Phase::Running {
            ends: params.run_time.map(|t| later(now, t)),
        };
        let now_ms = self.clock.now_ms();
        if let Some(web) = &mut self.web {
            let text = format!("{} users at {}/s", params.users, params.spawn_rate);
            web.run_edited(now_ms, self.config.run_time.map(|t| t.as_secs_f64()), text);
        }
        info!(users = params.users, "run edited from the web");
        self.assign();
        Ok(Started {
            run_id: self.ledger.run_id().to_owned(),
            host: self.config.host.clone(),
            edit: true,
            run_time: params.run_time,
        })
    }

    /// UI mode, after each step: a finished run writes its reports and the master waits
    /// for the next (or quits when asked to).
    pub(super) fn after_step(&mut self, quitting: bool) {
        let ui = self.web.as_ref().is_some_and(Web::is_ui);
        if !ui || !matches!(self.phase, Phase::Done) {
            return;
        }
        if self.web.as_ref().is_some_and(|w| w.run_open) {
            if self.ledger.started().is_some() {
                self.end_run();
            } else if let Some(web) = &mut self.web {
                // The autostart run never started (its workers did not come): with
                // --autoquit, exit now with the reason (exit code 3).
                web.run_abandoned(Instant::now());
            }
        }
        self.phase = if quitting { Phase::Done } else { Phase::Idle };
        self.publish();
    }

    fn end_run(&mut self) {
        let ended = self.clock.now_ms();
        let users = self.users_running();
        self.stats.close_interval(ended, users);
        let started_ms = self.ledger.started_ms();
        let (exit_code, summary) = crate::report::conclude::summarize(
            &self.config,
            &crate::report::conclude::RunView {
                run_id: self.ledger.run_id(),
                stats: &self.stats,
                workers: self.workers.entries(),
                started_unix_ms: started_ms,
                ended_unix_ms: ended,
                aborted: self.ledger.aborted(),
                stopped_by: self.ledger.stopped_by(),
                failed: self.hooks.failure(),
                below_target: self.ledger.below_target(),
                outages: self.ledger.outages(),
                checkpoint: false,
            },
        );
        let quiet = self
            .web
            .as_ref()
            .and_then(|w| w.session.as_ref())
            .is_some_and(|s| s.quiet);
        if !quiet {
            lv_common::outln!(
                "{}",
                crate::report::console::final_report(&summary, &self.stats.totals)
            );
        }
        let paths = self.config.output_paths();
        crate::report::outputs::write_all(&paths, &summary, &self.stats);
        let record = run_record(self.ledger.run_id(), &summary, &paths);
        self.workers.leave_run();
        let Some(web) = &mut self.web else {
            return;
        };
        web.run_over(record, ended, &summary.verdict, Instant::now());
        info!(run_id = %self.ledger.run_id(), exit_code, "run over; waiting for the next");
    }
}

/// The runs-page entry of a finished run and where its files are.
fn run_record(
    run_id: &str,
    summary: &crate::report::summary::Summary,
    paths: &crate::report::outputs::OutputPaths,
) -> RunRecord {
    let mut files = std::collections::BTreeMap::new();
    if let Some(json) = &paths.json {
        files.insert("json".to_owned(), json.clone());
    }
    if let Some(html) = &paths.html {
        files.insert("html".to_owned(), html.clone());
    }
    if let Some(prefix) = &paths.csv {
        for (kind, suffix) in [
            ("stats_csv", "_stats.csv"),
            ("history_csv", "_stats_history.csv"),
            ("failures_csv", "_failures.csv"),
            ("exceptions_csv", "_exceptions.csv"),
        ] {
            let mut path = prefix.as_os_str().to_owned();
            path.push(suffix);
            files.insert(kind.to_owned(), PathBuf::from(path));
        }
        if !summary.stages.is_empty() {
            let mut path = prefix.as_os_str().to_owned();
            path.push("_stages.csv");
            files.insert("stages_csv".to_owned(), PathBuf::from(path));
        }
        if summary.total.phases.is_some() {
            let mut path = prefix.as_os_str().to_owned();
            path.push("_phases.csv");
            files.insert("phases_csv".to_owned(), PathBuf::from(path));
        }
    }
    RunRecord {
        run_id: run_id.to_owned(),
        started_unix_ms: summary.started_unix_ms,
        ended_unix_ms: summary.ended_unix_ms,
        users: summary.users,
        verdict: summary.verdict.clone(),
        exit_code: summary.exit_code,
        files: files
            .keys()
            .map(|kind| (kind.clone(), format!("/api/v1/runs/{run_id}/{kind}")))
            .collect(),
        paths: files,
    }
}

#[cfg(test)]
mod tests;
