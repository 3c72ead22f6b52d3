//! The command line, close to Locust's flag names and meanings. Parsing only: turning
//! these values into a checked [`crate::config::MasterConfig`] happens in `config`.
//!
//! [`load_args`] is how `lv-master` reads its settings: a `--config` profile and the `LV_*`
//! environment become words placed before the user's (see [`crate::profile`]), and clap keeps
//! the last occurrence of every flag (`args_override_self`). List flags (`--tags`, ...) use
//! `ArgAction::Set`, so a later occurrence replaces the earlier values instead of appending,
//! and booleans take an optional value (`--headless=false`) so a higher source can turn off
//! what a lower one turned on.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use lv_common::duration::parse_duration;

use crate::profile::{self, ProfileError, Word};

const PRECEDENCE: &str = "Settings come from, lowest to highest precedence: built-in defaults, \
the --config profile (Locust's `key = value` format and key names), environment variables \
LV_<KEY> (LV_USERS, LV_SPAWN_RATE, LV_RUN_TIME, LV_TAGS, LV_TOKEN, LV_LOGLEVEL, ...; HOST or \
LV_HOST for --host), then these flags.";

/// Runs a distributed load test: loads scenarios, waits for workers, assigns them users,
/// merges their stats and reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master", version, about, after_help = PRECEDENCE, args_override_self = true)]
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

    /// Peak number of concurrent users.
    #[arg(short = 'u', long, default_value_t = 1)]
    pub users: u32,

    /// Users started per second, over all workers.
    #[arg(short = 'r', long = "spawn-rate", default_value_t = 1.0)]
    pub spawn_rate: f64,

    /// Stop after this long (`30s`, `5m`, `1h30m`); run until Ctrl-C when absent.
    #[arg(short = 't', long = "run-time", value_parser = parse_duration)]
    pub run_time: Option<Duration>,

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
    /// PREFIX_failures.csv and PREFIX_exceptions.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,

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

    /// Stop the run (exit code 3) when a worker is lost, instead of giving its users to the others.
    #[arg(long = "fail-on-worker-loss", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_name = "BOOL", value_parser = BoolishValueParser::new(), hide_default_value = true, hide_possible_values = true)]
    pub fail_on_worker_loss: bool,

    /// Also write the log to this file.
    #[arg(long, value_name = "FILE")]
    pub logfile: Option<PathBuf>,

    /// The SLO table checked at the end [default: configs/slo.toml].
    #[arg(long = "slo", value_name = "FILE")]
    pub slo_file: Option<PathBuf>,

    /// Load level whose SLO targets apply (light, medium, heavy, stress); defaults to the
    /// profile name.
    #[arg(long = "slo-level", value_name = "LEVEL")]
    pub slo_level: Option<String>,

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

    /// Log level (error, warn, info, debug, trace) or a tracing filter [env: LV_LOGLEVEL].
    #[arg(long, default_value = "info")]
    pub loglevel: String,
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
    Ok(Args::try_parse_from(argv)?)
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

    /// Writes `text` to a profile file in a temp dir.
    fn profile(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smoke.conf");
        std::fs::write(&path, text).expect("write profile");
        let path = path.to_str().expect("utf-8 path").to_owned();
        (dir, path)
    }

    fn load(words: &[&str], env: &[(&str, &str)]) -> Result<Args, LoadError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load_args(
            std::iter::once("lv-master").chain(words.iter().copied()),
            move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn repeated_flags_keep_the_last_and_lists_are_replaced() {
        let args = parse(&[
            "-u", "2", "-u", "3", "-T", "a,b", "-T", "c", "--tags", "d", "e",
        ])
        .expect("parses");
        assert_eq!(args.users, 3);
        assert_eq!(args.tags, ["d", "e"]);
        let args = parse(&["-f", "x.toml", "--scenarios=y.toml,z.toml"]).expect("parses");
        assert_eq!(args.scenarios, [PathBuf::from("y.toml"), "z.toml".into()]);
        let args = parse(&["--headless", "--headless=false", "--insecure=yes"]).expect("parses");
        assert!(!args.headless && args.insecure);
        // A bare boolean flag does not swallow the user class after it.
        let args = parse(&["--headless", "HealthCheckUser"]).expect("parses");
        assert!(args.headless);
        assert_eq!(args.classes, ["HealthCheckUser"]);
    }

    #[test]
    fn profile_then_env_then_command_line() {
        let (_dir, path) = profile(
            "users = 10\nspawn-rate = 1\nrun-time = 5m\nheadless = true\ntags = health, chat\nhost = http://file\n",
        );
        let args = load(&["--config", &path], &[]).expect("loads");
        assert_eq!(args.users, 10);
        assert_eq!(args.run_time, Some(Duration::from_secs(300)));
        assert!(args.headless);
        assert_eq!(args.tags, ["health", "chat"]);
        assert_eq!(args.host, "http://file");
        assert_eq!(args.profile_name.as_deref(), Some("smoke"));

        let env = [
            ("LV_USERS", "20"),
            ("LV_HEADLESS", "false"),
            ("LV_TAGS", "event-bus"),
            ("HOST", "http://env"),
        ];
        let args = load(&["--config", &path], &env).expect("loads");
        assert_eq!(args.users, 20);
        assert!(!args.headless);
        assert_eq!(args.tags, ["event-bus"]);
        assert_eq!(args.host, "http://env");
        assert_eq!(args.spawn_rate, 1.0, "untouched keys keep the file's value");

        let words = [
            "-u",
            "30",
            "--headless",
            "-T",
            "creative",
            "-H",
            "http://cli",
            "--profile-name",
            "mine",
            &format!("--config={path}"),
        ];
        let args = load(&words, &env).expect("loads");
        assert_eq!(args.users, 30);
        assert!(args.headless);
        assert_eq!(args.tags, ["creative"]);
        assert_eq!(args.host, "http://cli");
        assert_eq!(args.profile_name.as_deref(), Some("mine"));
    }

    #[test]
    fn env_alone_token_and_loglevel() {
        let args = load(
            &[],
            &[
                ("LV_TOKEN", "s3cret"),
                ("LV_LOGLEVEL", "debug"),
                ("LV_HOST", "http://h"),
            ],
        )
        .expect("loads");
        assert_eq!(args.token, "s3cret");
        assert_eq!(args.loglevel, "debug");
        assert_eq!(args.host, "http://h");
        assert_eq!(args.profile_name, None);
        assert_eq!(args.users, 1, "built-in default");
    }

    #[test]
    fn bad_values_name_their_file_line_or_variable() {
        let (_dir, path) = profile("users = 3\n\nrun-time = 10 minutes\n");
        let err = load(&["--config", &path], &[])
            .expect_err("bad duration")
            .to_string();
        assert!(
            err.starts_with(&format!("{path}:3: invalid value '10 minutes'")),
            "{err}"
        );
        let err = load(&[], &[("LV_USERS", "many")])
            .expect_err("bad number")
            .to_string();
        assert!(
            err.starts_with("environment variable LV_USERS: invalid value 'many'"),
            "{err}"
        );
        let (_dir, path) = profile("users = 3\nqqqqqq = 1\n");
        let err = load(&["--config", &path], &[])
            .expect_err("unknown")
            .to_string();
        assert_eq!(err, format!("{path}:2: unknown key \"qqqqqq\""));
        let err = load(&["--config", "/no/such.conf"], &[])
            .expect_err("missing")
            .to_string();
        assert!(
            err.starts_with("cannot read config file /no/such.conf: "),
            "{err}"
        );
        // The user's own mistakes stay clap's, with its usage text.
        assert!(matches!(load(&["-u", "x"], &[]), Err(LoadError::Clap(_))));
        assert!(matches!(load(&["--config"], &[]), Err(LoadError::Clap(_))));
    }

    #[test]
    fn every_profile_key_is_a_flag_of_its_kind() {
        use clap::CommandFactory as _;
        let command = Args::command();
        for key in profile::KEYS {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(key.flag))
                .unwrap_or_else(|| panic!("{} names no flag", key.name));
            let takes_list = arg.get_value_delimiter() == Some(',');
            assert_eq!(takes_list, key.kind == profile::Kind::List, "{}", key.name);
            let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            assert_eq!(optional, key.kind == profile::Kind::Bool, "{}", key.name);
        }
    }

    #[test]
    fn the_shipped_profiles_have_the_old_suite_values() {
        let configs = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");
        for (name, users, rate, minutes) in [
            ("light", 10, 1.0, 5),
            ("medium", 50, 5.0, 10),
            ("heavy", 200, 20.0, 15),
            ("stress", 500, 50.0, 5),
        ] {
            let path = format!("{configs}/{name}.conf");
            let args = load(&["--config", &path], &[]).expect("profile loads");
            assert_eq!(args.users, users, "{name}");
            assert_eq!(args.spawn_rate, rate, "{name}");
            assert_eq!(
                args.run_time,
                Some(Duration::from_secs(minutes * 60)),
                "{name}"
            );
            assert!(args.headless, "{name}");
            assert_eq!(args.profile_name.as_deref(), Some(name));
        }
    }
}

/// `lv-master report --from FILE`: writes the reports of a run again from its JSON report
/// or checkpoint, and prints its final tables.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master report", version, about)]
pub struct ReportArgs {
    /// The run's JSON report or `--checkpoint` file.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the Locust-format CSVs with this prefix.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Append a row to this benchmark log.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// `lv-master compare BASE.json NEW.json`: compares two runs' JSON reports endpoint by
/// endpoint, from their stored histograms.
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master compare", version, about)]
pub struct CompareArgs {
    /// The baseline run's JSON report (`--json`).
    pub base: PathBuf,
    /// The run to judge.
    pub new: PathBuf,
    /// Largest tolerated worsening of p95, p99 or the failure ratio, in percent.
    #[arg(
        long = "max-regression",
        value_name = "PERCENT",
        default_value_t = 10.0
    )]
    pub max_regression: f64,
    /// Append a row for NEW to this benchmark log (`benchmarks.md`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}
