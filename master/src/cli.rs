//! The command line, close to Locust's flag names and meanings. Parsing only: turning
//! these values into a checked [`crate::config::MasterConfig`] happens in `config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lv_common::duration::parse_duration;

/// Runs a distributed load test: loads scenarios, waits for workers, assigns them users,
/// merges their stats and reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master", version, about)]
pub struct Args {
    /// User classes to run (all classes of the scenarios when none is given).
    #[arg(value_name = "USER_CLASS")]
    pub classes: Vec<String>,

    /// Scenario files or folders of `*.toml` files.
    #[arg(short = 'f', long = "scenarios", value_name = "PATH", num_args = 1.., default_value = "configs/scenarios")]
    pub scenarios: Vec<PathBuf>,

    /// Peak number of concurrent users.
    #[arg(short = 'u', long, default_value_t = 1)]
    pub users: u32,

    /// Users started per second, over all workers.
    #[arg(short = 'r', long = "spawn-rate", default_value_t = 1.0)]
    pub spawn_rate: f64,

    /// Stop after this long (`30s`, `5m`, `1h30m`); run until Ctrl-C when absent.
    #[arg(short = 't', long = "run-time", value_parser = parse_duration)]
    pub run_time: Option<Duration>,

    /// Scheme and host agent ports are added to (`http://localhost`).
    #[arg(short = 'H', long, env = "HOST", default_value = "http://localhost")]
    pub host: String,

    /// Only run tasks with at least one of these tags (comma-separated).
    #[arg(short = 'T', long, value_delimiter = ',', num_args = 1..)]
    pub tags: Vec<String>,

    /// Do not run tasks with any of these tags (comma-separated).
    #[arg(short = 'E', long = "exclude-tags", value_delimiter = ',', num_args = 1..)]
    pub exclude_tags: Vec<String>,

    /// Run without the web UI and start at once.
    #[arg(long)]
    pub headless: bool,

    /// Wait for this many workers (local ones included) before starting.
    #[arg(long = "expect-workers", value_name = "N")]
    pub expect_workers: Option<usize>,

    /// Give up waiting for workers after this long (seconds, or `30s`, `2m`); waits forever when absent.
    #[arg(long = "expect-workers-max-wait", value_name = "SECONDS", value_parser = parse_duration)]
    pub expect_workers_max_wait: Option<Duration>,

    /// Address workers connect to.
    #[arg(long = "master-bind-host", default_value = "127.0.0.1")]
    pub master_bind_host: String,

    /// Port workers connect to.
    #[arg(long = "master-bind-port", default_value_t = 5557)]
    pub master_bind_port: u16,

    /// Fleet map: agent name to port or base URL.
    #[arg(long, default_value = "configs/fleet.toml")]
    pub fleet: PathBuf,

    /// In-process workers (same protocol over loopback); 1 when --expect-workers is not given.
    #[arg(long = "local-workers", value_name = "N")]
    pub local_workers: Option<usize>,

    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Exit code when requests failed (Locust's flag).
    #[arg(long = "exit-code-on-error", default_value_t = 1)]
    pub exit_code_on_error: u8,

    /// Timeout of requests whose step sets none.
    #[arg(long = "request-timeout", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Shared secret workers must present.
    #[arg(long, env = "LV_TOKEN", default_value = "", hide_env_values = true)]
    pub token: String,

    /// Allow binding a non-loopback address without a token.
    #[arg(long)]
    pub insecure: bool,

    /// A worker silent for longer than this is missing.
    #[arg(long = "heartbeat-timeout", default_value = "5s", value_parser = parse_duration)]
    pub heartbeat_timeout: Duration,

    /// How long to wait for the workers' final reports after the stop.
    #[arg(long = "stop-timeout", default_value = "10s", value_parser = parse_duration)]
    pub stop_timeout: Duration,

    /// How often the live stats table is printed.
    #[arg(long = "print-interval", default_value = "5s", value_parser = parse_duration)]
    pub print_interval: Duration,

    /// Print only the final summary, not the live table.
    #[arg(long = "only-summary")]
    pub only_summary: bool,

    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, default_value = "info", env = "LV_LOGLEVEL")]
    pub loglevel: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("lv-master").chain(args.iter().copied()))
    }

    #[test]
    fn locust_flags_parse() {
        let args = parse(&[
            "-u",
            "50",
            "-r",
            "5",
            "-t",
            "1h30m",
            "-T",
            "health,chat",
            "-E",
            "slow",
            "--expect-workers",
            "4",
            "--expect-workers-max-wait",
            "30",
            "HealthCheckUser",
            "AriaChatUser",
            "--headless",
        ])
        .expect("parses");
        assert_eq!(args.users, 50);
        assert_eq!(args.spawn_rate, 5.0);
        assert_eq!(args.run_time, Some(Duration::from_secs(5400)));
        assert_eq!(args.tags, ["health", "chat"]);
        assert_eq!(args.exclude_tags, ["slow"]);
        assert_eq!(args.expect_workers, Some(4));
        assert_eq!(args.expect_workers_max_wait, Some(Duration::from_secs(30)));
        assert_eq!(args.classes, ["HealthCheckUser", "AriaChatUser"]);
        assert!(args.headless);
    }

    #[test]
    fn bad_durations_and_numbers_are_rejected() {
        let err = parse(&["-t", "5x"]).expect_err("bad duration").to_string();
        assert!(err.contains("5x"), "{err}");
        assert!(parse(&["-u", "-3"]).is_err());
        assert!(parse(&["-u", "many"]).is_err());
    }
}
