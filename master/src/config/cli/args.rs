//! `lv-master`'s run options ([`Args`]): every other command that runs or checks a run
//! (`check`, `try`, `capacity`) takes them too.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use lv_common::duration::parse_duration;
use lv_common::load::parse_rate;

use super::others::parse_iterations;
use super::web::WebArgs;

/// Runs a distributed load test: loads scenarios, waits for workers, assigns them users,
/// merges their stats and reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master", version, about, after_help = crate::config::help::AFTER_HELP, args_override_self = true)]
pub struct Args {
    /// Locust-style profile to read settings from (`configs/light.conf`); the environment and
    /// flags win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Profile name used in report names (`[profile]_[timestamp]`); defaults to the stem of
    /// the --config file.
    #[arg(long = "profile-name", value_name = "NAME")]
    pub profile_name: Option<String>,

    /// User classes to run (all classes of the scenarios when none is given).
    #[arg(value_name = "USER_CLASS")]
    pub classes: Vec<String>,

    /// Scenario files or folders of `*.toml` files.
    #[arg(short = 'f', long = "scenarios", value_name = "PATH", num_args = 1.., value_delimiter = ',', action = ArgAction::Set, default_value = "configs/scenarios")]
    pub scenarios: Vec<PathBuf>,

    /// Peak number of concurrent users (a --shape decides them instead).
    #[arg(short = 'u', long, default_value_t = 1, conflicts_with = "shape")]
    pub users: u32,

    /// Users started per second, over all workers (a --shape decides it instead).
    #[arg(
        short = 'r',
        long = "spawn-rate",
        default_value_t = 1.0,
        conflicts_with = "shape"
    )]
    pub spawn_rate: f64,

    /// Stop after this long (`30s`, `5m`, `1h30m`); run until Ctrl-C when absent.
    #[arg(short = 't', long = "run-time", value_parser = parse_duration)]
    pub run_time: Option<Duration>,

    /// Each user runs this many tasks, then stops; the run ends when every user is done (or
    /// at --run-time, whichever comes first). Closed model only.
    #[arg(short = 'i', long, value_name = "N", value_parser = parse_iterations)]
    pub iterations: Option<NonZeroU32>,

    /// Open model: arrivals per second over all workers for the run time (`200/s`, `12/m`),
    /// instead of users; see docs/load-shapes.md.
    #[arg(long, value_name = "RATE", value_parser = parse_rate, conflicts_with = "shape")]
    pub rate: Option<f64>,

    /// The stages of a `[load]` table in this TOML file: users over time (`model =
    /// "closed"`) or arrivals per second (`"open"`); the run lasts as long as its stages
    /// unless --run-time cuts it shorter. See docs/load-shapes.md.
    #[arg(long, value_name = "FILE")]
    pub shape: Option<PathBuf>,

    /// Open model: iterations in flight at most, over all workers (arrivals beyond are
    /// dropped, or queued with the shape's `on_saturation = "queue"`); refused with a
    /// closed shape.
    #[arg(long = "max-in-flight", value_name = "N")]
    pub max_in_flight: Option<u32>,

    /// Scheme and host agent ports are added to (`http://localhost`) [env: HOST, LV_HOST].
    #[arg(short = 'H', long, default_value = "http://localhost")]
    pub host: String,

    /// Only run tasks with at least one of these tags (comma-separated).
    #[arg(short = 'T', long, value_delimiter = ',', num_args = 1.., action = ArgAction::Set)]
    pub tags: Vec<String>,

    /// Do not run tasks with any of these tags (comma-separated).
    #[arg(short = 'E', long = "exclude-tags", value_delimiter = ',', num_args = 1.., action = ArgAction::Set)]
    pub exclude_tags: Vec<String>,

    /// Run without the web UI and start at once.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
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

    /// Write the full run report as JSON (with the merged histograms) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write Locust-format CSVs: PREFIX_stats.csv, PREFIX_stats_history.csv,
    /// PREFIX_failures.csv and PREFIX_exceptions.csv (and PREFIX_stages.csv for a run with a
    /// load shape, PREFIX_phases.csv when requests had timing phases).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,

    /// With --csv: a row per endpoint in `_stats_history.csv` too, with the current
    /// window's percentiles (Locust's flag; keeps a window of histograms per endpoint).
    #[arg(long = "csv-full-history", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub csv_full_history: bool,

    /// Write a self-contained HTML report; `{u}`, `{r}` and `{t}` are replaced by the users,
    /// spawn rate and run time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Append one row for this run to a benchmark log (`benchmarks.md`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Write the run's report (the `--json` format, marked as a checkpoint) to this file
    /// every few seconds, atomically; `lv-master report --from FILE` rebuilds the reports.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// How often the checkpoint is written.
    #[arg(long = "checkpoint-interval", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub checkpoint_interval: Duration,

    /// Continue the run of this checkpoint (a master that died, e.g. an evicted pod): same
    /// run id, stats, start and plan; workers that reconnect are adopted and resend what
    /// they held. Give the flags the run started with; checkpoints keep going to this file
    /// unless --checkpoint says otherwise. Headless, closed-model runs.
    #[arg(long, value_name = "FILE", conflicts_with = "resume_if_present")]
    pub resume: Option<PathBuf>,

    /// With --checkpoint FILE: resume the run FILE holds when it is unfinished, else start
    /// a new run. For a master that is started again after its pod was lost (Kubernetes).
    #[arg(long = "resume-if-present", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub resume_if_present: bool,

    /// Stop the run (exit code 3) when a worker is lost, instead of giving its users to the others.
    #[arg(long = "fail-on-worker-loss", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub fail_on_worker_loss: bool,

    /// Also write the log to this file.
    #[arg(long, value_name = "FILE")]
    pub logfile: Option<PathBuf>,

    /// Once the worker port (and the web port, when there is one) is bound, write one line
    /// of JSON to this file: `{"workers":"HOST:PORT","web":"http://HOST:PORT" or null,
    /// "pid":N}`, atomically (a temporary file beside it, then a rename), so scripts can
    /// wait for it and read the bound addresses (--master-bind-port 0, --web-port 0).
    #[arg(long = "ready-file", value_name = "FILE")]
    pub ready_file: Option<PathBuf>,

    /// The SLO table checked at the end [default: configs/slo.toml].
    #[arg(long = "slo", value_name = "FILE")]
    pub slo_file: Option<PathBuf>,

    /// Load level whose SLO targets apply (light, medium, heavy, stress); defaults to the
    /// profile name.
    #[arg(long = "slo-level", value_name = "LEVEL")]
    pub slo_level: Option<String>,

    /// Give every user connections of its own, kept while it waits (as Locust's sessions and
    /// k6's VUs), instead of sharing the worker's: one open connection per user and origin.
    #[arg(long = "connection-per-user", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub connection_per_user: bool,

    /// Turn the SLO verdicts off: the exit code then says whether any request failed.
    #[arg(long = "no-slo", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub no_slo: bool,

    /// Make every SLO rule an abort rule (for CI): the run stops once one has failed for its
    /// `after` grace (none by default), and exits 1 with every report written.
    #[arg(long = "abort-on-slo", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub abort_on_slo: bool,

    /// Exit code when requests failed (Locust's flag).
    #[arg(long = "exit-code-on-error", default_value_t = 1)]
    pub exit_code_on_error: u8,

    /// Timeout of requests whose step sets none.
    #[arg(long = "request-timeout", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Shared secret workers must present [env: LV_TOKEN].
    #[arg(long, default_value = "")]
    pub token: String,

    /// Serve workers over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// CA (PEM) the in-process workers trust; defaults to --tls-cert itself (self-signed).
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Trust this CA (PEM) for HTTPS targets, beside the web's roots (in-process workers).
    #[arg(long = "target-ca", value_name = "FILE")]
    pub target_ca: Option<PathBuf>,

    /// Do not verify the certificates of HTTPS targets (in-process workers; test systems only).
    #[arg(long = "insecure-target")]
    pub insecure_target: bool,

    /// Client certificate (PEM) in-process workers show to HTTPS targets (mTLS).
    #[arg(long = "target-cert", value_name = "FILE", requires = "target_key")]
    pub target_cert: Option<PathBuf>,

    /// Private key (PEM) of --target-cert.
    #[arg(long = "target-key", value_name = "FILE", requires = "target_cert")]
    pub target_key: Option<PathBuf>,

    /// Allow binding a non-loopback address without a token.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
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
    #[arg(long = "only-summary", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub only_summary: bool,

    /// The web UI's and API's flags.
    #[command(flatten)]
    pub web: WebArgs,

    /// Log level (error, warn, info, debug, trace) or a tracing filter [env: LV_LOGLEVEL].
    #[arg(long, default_value = "info")]
    pub loglevel: String,
}
