//! lv's integration tests: whole clusters on loopback, one module per area.

mod bad_input;
mod cluster;
mod processes;
mod profiles;
mod suite;
