//! lv's integration tests: whole clusters on loopback, one module per area.

mod bad_input;
mod cluster;
mod faults;
mod load;
mod processes;
mod profiles;
mod reports;
mod suite;
mod trust;
