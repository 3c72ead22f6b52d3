//! A configuration problem: always exit code 2.

use crate::slo::SloError;

/// A configuration problem: always exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `--target-*` TLS file cannot be used.
    #[error(transparent)]
    TargetTls(#[from] lv_common::tls::TlsFileError),
    /// A value out of range.
    #[error("invalid value for {option}: {detail}")]
    InvalidOption {
        /// The option, as on the command line.
        option: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The fleet map could not be used.
    #[error(transparent)]
    Fleet(#[from] lv_common::fleet::FleetError),
    /// The scenarios could not be used.
    #[error(transparent)]
    Scenario(#[from] super::scenario::ScenarioError),
    /// The SLO table could not be used.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// Binding publicly without a token.
    #[error(
        "refusing to accept workers on {0} without a token: anyone who can reach it could direct the load. Set --token (or LV_TOKEN), bind 127.0.0.1, or pass --insecure"
    )]
    Unprotected(String),
}
