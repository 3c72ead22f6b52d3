//! lv's integration tests: whole clusters on loopback, one module per area.

mod authoring;
mod bad_input;
mod browser;
mod cluster;
mod failover;
mod faults;
mod hdrh;
mod http;
mod load;
mod open;
mod processes;
mod profiles;
mod readme;
mod ready;
mod rejection;
mod reports;
mod scale;
mod scripts;
mod stage_reports;
mod stages;
mod suite;
mod survival;
mod trust;
mod web;
