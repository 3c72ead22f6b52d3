//! What the coordinator publishes and accepts while it runs: the [`snapshot::Snapshot`] of
//! the current (or last) run, and the [`control::Command`]s (with the `/swarm` form they
//! carry, [`form`]) that the web server, and anything else with a [`control::Control`]
//! handle, sends it. The coordinator depends on this, never on a presenter; the web UI,
//! Locust's API, the SSE stream and `/metrics` read the snapshot and render it.

pub mod control;
pub mod form;
pub mod snapshot;

pub use control::{Command, CommandError, Control, RunParams, Started};
pub use snapshot::{RunState, Snapshot};
