//! lv-master: loads the scenarios, waits for workers, assigns them users, merges their
//! stats and reports.
//!
//! # Layout
//! - [`cli`]: the command line (Locust's flag names) and which command it asks for.
//! - [`commands`]: what `lv-master` does for each command (run, compare, report).
//! - [`runner`]: one run from a bound listener to its outcome ([`run`]).
//! - [`profile`]: `--config` profiles and `LV_*` variables, as command-line words.
//! - [`config`]: the checked configuration built from them.
//! - [`server`]: the gRPC Control service (Hello checks, forwarding).
//! - [`coordinator`]: run control, the single owner of workers and stats.
//! - [`registry`]: what the master knows of each worker.
//! - [`aggregate`]: merged stats of a run (pure).
//! - [`slo`]: the SLO table and its verdicts (pure).
//! - [`conclude`]: the run's exit code and report, at the end and for checkpoints.
//! - [`summary`]: the JSON report (with the serialized histograms), read and written.
//! - [`console`]: the console tables and the final console report (pure).
//! - [`report`]: the Locust-format CSV files and the HTML page.
//! - [`compare`]: two runs compared from their histograms, and the benchmark log.
//! - [`outputs`]: writing every report file a run asked for.
//! - [`format`]: numbers, durations, timestamps and report names (pure); the other output
//!   modules import it and never each other.
//! - [`live`]: what the coordinator publishes (the snapshot) and accepts (commands, the
//!   `/swarm` form); the presenters read it, the coordinator imports no presenter.
//! - [`web`]: the web UI, Locust's HTTP API, lv's API and `/metrics` (presentation only).

pub mod aggregate;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod conclude;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod format;
pub mod live;
pub mod outputs;
pub mod profile;
pub mod registry;
pub mod report;
pub mod runner;
pub mod server;
pub mod slo;
pub mod summary;
pub mod web;

pub use conclude::{EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
pub use runner::{MasterError, Outcome, UiRun, WebRun, run, run_with_web};
