//! The checked configuration of a master, built in two stages before anything binds or
//! connects. [`Settings::from_args`] checks the command line once and loads every file it
//! names; [`run::configure`] turns the settings and one run's parameters ([`RunParams`]: the
//! flags', the web form's, `--autostart`'s) into that run's [`MasterConfig`], resolving its
//! plan.

mod checks;
pub mod cli;
pub mod data;
mod error;
mod help;
mod load;
mod master;
mod params;
pub mod profile;
pub mod resolve;
pub mod resume;
pub mod run;
pub mod scenario;
mod settings;
mod slo_setup;
mod tls;

pub use error::ConfigError;
pub use master::MasterConfig;
pub use params::RunParams;
pub use settings::{ReportPaths, Settings, WebConfig};
pub use slo_setup::{DEFAULT_SLO_FILE, SloSetup};
pub use tls::TlsFiles;
