//! The web UI's and API's flags (flattened into [`super::Args`]): where it listens, how it
//! is protected, UI mode, and which other origins may call it.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};
use lv_common::duration::parse_duration;

/// `--web-*`, `--autostart`, `--autoquit` and `--reports-dir`.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Address the web UI and API listen on (without --headless; with it only when
    /// --web-port is given).
    #[arg(long = "web-host", default_value = "127.0.0.1")]
    pub web_host: String,

    /// Port of the web UI and API [default: 8089]; with --headless, serves the read-only API
    /// and /metrics during the run.
    #[arg(long = "web-port", value_name = "PORT")]
    pub web_port: Option<u16>,

    /// Web UI mode: start a run at once from the flags, and keep the UI up after it.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub autostart: bool,

    /// Web UI mode: exit this long after a run ends, with the run's exit code.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub autoquit: Option<Duration>,

    /// Refuse every state change through the web (403).
    #[arg(long = "web-readonly", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub web_readonly: bool,

    /// HTTP Basic credentials (`user:pass`) every web path needs [env: LV_WEB_AUTH].
    #[arg(long = "web-auth", value_name = "USER:PASS")]
    pub web_auth: Option<String>,

    /// Web UI mode: folder of each run's reports (`web_<timestamp>_<runid8>...`).
    #[arg(long = "reports-dir", value_name = "DIR", default_value = "reports")]
    pub reports_dir: PathBuf,

    /// Serve the web UI over HTTPS with this certificate chain (PEM); defaults to --tls-cert.
    #[arg(long = "web-tls-cert", value_name = "FILE", requires = "web_tls_key")]
    pub web_tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --web-tls-cert; defaults to --tls-key.
    #[arg(long = "web-tls-key", value_name = "FILE", requires = "web_tls_cert")]
    pub web_tls_key: Option<PathBuf>,

    /// Let pages from this origin (`https://dash.example`, or `*` for any) call the API:
    /// CORS headers and preflight answers; repeatable or comma-separated [default: off].
    #[arg(long = "web-cors", value_name = "ORIGIN", value_delimiter = ',', action = ArgAction::Append)]
    pub web_cors: Vec<String>,
}
