//! The command line, close to Locust's flag names and meanings. Parsing only: turning
//! these values into a checked [`crate::config::MasterConfig`] happens in `config`.
//!
//! [`load_args`] is how `lv-master` reads its settings: a `--config` profile and the `LV_*`
//! environment become words placed before the user's (see [`crate::config::profile`]), and clap keeps
//! the last occurrence of every flag (`args_override_self`). List flags (`--tags`, ...) use
//! `ArgAction::Set`, so a later occurrence replaces the earlier values instead of appending,
//! and booleans take an optional value (`--headless=false`) so a higher source can turn off
//! what a lower one turned on.

use std::ffi::OsString;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory as _, FromArgMatches as _, Parser};
use lv_common::duration::parse_duration;
use lv_common::load::parse_rate;

use crate::config::profile::{self, ProfileError, Word};

mod others;
pub use others::{CompareArgs, ExplainExitArgs, ReportArgs, parse_iterations};

/// Runs a distributed load test: loads scenarios, waits for workers, assigns them users,
/// merges their stats and reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master", version, about, after_help = super::help::AFTER_HELP, args_override_self = true)]
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

    /// Log level (error, warn, info, debug, trace) or a tracing filter [env: LV_LOGLEVEL].
    #[arg(long, default_value = "info")]
    pub loglevel: String,
}

/// What `lv-master` was asked to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Run a load test (the default: Locust's flags and positional user classes).
    Run(Box<Args>),
    /// `lv-master check [RUN OPTIONS] [--json]`.
    Check(Box<CheckArgs>),
    /// `lv-master compare BASE NEW`.
    Compare(CompareArgs),
    /// `lv-master report --from FILE`.
    Report(ReportArgs),
    /// `lv-master explain-exit CODE`.
    ExplainExit(ExplainExitArgs),
    /// `lv-master try [run options]`.
    Try(Box<TryArgs>),
}

/// Reads `lv-master`'s command line (program name first): `check`, `try`, `compare`,
/// `report` and `explain-exit` are those commands, anything else a run ([`load_args`]).
pub fn parse(
    argv: impl IntoIterator<Item = impl Into<OsString>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, LoadError> {
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    // The command's words, named `lv-master compare` (or `report`) in its usage text.
    let words = |name: &str| std::iter::once(OsString::from(name)).chain(argv[2..].iter().cloned());
    match argv.get(1).and_then(|word| word.to_str()) {
        Some("check") => Ok(Command::Check(Box::new(check_args(&argv[2..], env)?))),
        Some("compare") => Ok(Command::Compare(CompareArgs::try_parse_from(words(
            "lv-master compare",
        ))?)),
        Some("report") => Ok(Command::Report(ReportArgs::try_parse_from(words(
            "lv-master report",
        ))?)),
        Some("explain-exit") => Ok(Command::ExplainExit(ExplainExitArgs::try_parse_from(
            words("lv-master explain-exit"),
        )?)),
        Some("try") => Ok(Command::Try(Box::new(TryArgs::try_parse_from(
            merged_words(words("lv-master try"), env)?,
        )?))),
        _ => Ok(Command::Run(Box::new(load_args(argv, env)?))),
    }
}

/// Why [`load_args`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The profile or the environment is wrong (exit code 2).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The user's own words are wrong, or help or the version was asked for: print it
    /// clap's way (`clap::Error::print`, exit code by `use_stderr`).
    #[error(transparent)]
    Clap(#[from] clap::Error),
}

/// Reads `lv-master`'s settings from `argv` (program name first), the `--config` profile it
/// names and the environment (`env` looks a variable up), with the precedence
/// defaults < profile < environment < command line. Fills `profile_name` from the profile's
/// file name unless the command line sets it.
pub fn load_args(
    argv: impl IntoIterator<Item = impl Into<OsString>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Args, LoadError> {
    load_with(Args::command(), argv, env)
}

/// [`load_args`] with `command` (the run's, or `check`'s with its own name and help).
fn load_with(
    command: clap::Command,
    argv: impl IntoIterator<Item = impl Into<OsString>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Args, LoadError> {
    let matches = command.try_get_matches_from(merged_words(argv, env)?)?;
    Ok(Args::from_arg_matches(&matches)?)
}

/// `argv` (program name first) with the words of the `--config` profile it names and of the
/// environment placed before the user's, each checked alone ([`load_args`]).
fn merged_words(
    argv: impl IntoIterator<Item = impl Into<OsString>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, LoadError> {
    let mut argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if argv.is_empty() {
        argv.push("lv-master".into());
    }
    let user = argv.split_off(1);
    let mut words = Vec::new();
    if let Some(path) = profile::config_path(&user) {
        let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
            path: path.clone(),
            source,
        })?;
        let entries = profile::parse(&path, &text)?;
        if let Some(name) = profile::profile_name(&path) {
            words.push(Word {
                word: format!("--profile-name={name}"),
                origin: profile::Origin::ConfigName,
            });
        }
        words.extend(profile::file_words(&path, &entries)?);
    }
    words.extend(profile::env_words(env)?);
    for word in &words {
        check_word(&argv[0], word)?;
    }
    argv.extend(words.into_iter().map(|w| OsString::from(w.word)));
    argv.extend(user);
    Ok(argv)
}

/// `lv-master check`: the settings of a run, and how to print its plan.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// The run to check: every run option, profile and `LV_*` variable applies.
    pub run: Args,
    /// Print the plan as one JSON document instead of text.
    pub json: bool,
}

/// The `check` command: the run's options under the name `lv-master check`.
fn check_command() -> clap::Command {
    Args::command()
        .name("lv-master check")
        .bin_name("lv-master check")
        .about(super::help::CHECK_ABOUT)
        .long_about(None)
        .after_help(super::help::CHECK_AFTER_HELP)
        .mut_arg("json", |arg| arg.hide(true))
}

/// Reads `check`'s words (those after `check`): a bare `--json` asks for JSON output, the
/// rest are a run's, read as [`load_args`] reads them.
fn check_args(
    words: &[OsString],
    env: impl Fn(&str) -> Option<String>,
) -> Result<CheckArgs, LoadError> {
    let mut json = false;
    let mut rest = vec![OsString::from("lv-master check")];
    let mut options = true;
    for word in words {
        if options && word == "--" {
            options = false;
        } else if options && word == "--json" {
            json = true;
            continue;
        } else if options && word.to_str().is_some_and(|w| w.starts_with("--json=")) {
            return Err(check_command()
                .error(
                    ErrorKind::UnknownArgument,
                    "check takes --json without a value: it prints the plan as JSON on stdout",
                )
                .into());
        }
        rest.push(word.clone());
    }
    let run = load_with(check_command(), rest, env)?;
    Ok(CheckArgs { run, json })
}

/// Parses one generated word alone, so a bad value is reported with its file and line (or
/// variable) rather than as a flag the user never typed.
fn check_word(program: &OsString, word: &Word) -> Result<(), ProfileError> {
    match Args::try_parse_from([program.clone(), OsString::from(&word.word)]) {
        Ok(_) => Ok(()),
        Err(err) => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            Err(ProfileError::InvalidValue {
                origin: word.origin.clone(),
                detail: first.trim_start_matches("error: ").to_owned(),
            })
        }
    }
}

/// `lv-master try`: a run's options, and whether to print whole bodies.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master try", version, args_override_self = true)]
pub struct TryArgs {
    /// The run's options: profile, environment, scenarios, classes, tags, fleet, host.
    #[command(flatten)]
    pub run: Args,
    /// Print whole bodies (up to the 1 MiB lv keeps) instead of their first 512 bytes.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub verbose: bool,
}

#[cfg(test)]
mod tests;
