//! lv-master: loads the scenarios, waits for workers, assigns them users, merges their
//! stats and reports.
//!
//! # Floor plan
//! Nine rooms, listed from the top: run control never imports a presenter, and no module
//! imports one that imports it back (`tests/scripts/module_cycles.py --relative`, in CI).
//! - [`commands`]: what `lv-master` does for each command (run, check, try, capacity,
//!   compare, report, explain-exit), the only place that touches logging, the runtime and
//!   the listeners;
//!   `runner` takes one run from a bound listener to its outcome, beside the web server (or,
//!   for `capacity`, a session driven in process).
//! - [`capacity`]: capacity testing: the search (pure), the verdict of a step (pure), the
//!   driver that runs each step through the coordinator's control, and the results.
//! - [`web`]: presentation only: the web UI, Locust's HTTP API, lv's API, SSE and
//!   `/metrics`, all reading [`live`].
//! - [`run`]: running a test: the gRPC server and the coordinator (the single owner of the
//!   workers, the phase and the merged stats), with its worker registry.
//! - [`live`]: what the coordinator publishes (the snapshot) and accepts (commands and the
//!   `/swarm` form they carry).
//! - [`report`]: every output of a run: its exit code and report (`conclude`, `summary`),
//!   the console tables, the CSV and HTML files, `compare`, writing them (`outputs`) and
//!   the formatting they share (`format`, pure).
//! - [`config`]: the command line (`cli`, Locust's flag names), profiles and `LV_*`
//!   variables (`profile`), the scenario files (`scenario`) and their resolution into the
//!   plan the workers run (`resolve`), and `--resume` checkpoints. Configuration comes in
//!   two stages: the command line is checked once into `Settings` (files loaded), then each
//!   run's parameters (flags, web form, `--autostart`) make its `MasterConfig` (`run`).
//! - [`slo`]: the SLO table, its verdicts and the judging of its abort rules (pure).
//! - [`aggregate`]: the merged stats of a run and their history (pure).
//!
//! Four arrows still point up the list, between files that do not import each other back:
//! the report and the live view read the worker registry (`run::registry`) to describe the
//! workers; the SLO table's targets are written with `report::format`; and `config` reads a
//! checkpoint as a report (`report::summary`) and names report files with `report::format`
//! and `report::outputs`.
//!
//! `docs/architecture.md` follows a request and a click on Start through these rooms.

pub mod aggregate;
pub mod capacity;
pub mod commands;
pub mod config;
pub mod live;
pub mod report;
pub mod run;
pub mod slo;
pub mod web;

pub use commands::runner::{MasterError, Outcome, UiRun, WebRun, run, run_with_web};
pub use report::conclude::{EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
