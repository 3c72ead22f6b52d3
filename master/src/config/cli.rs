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

use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory as _, FromArgMatches as _, Parser};

use crate::config::profile::{self, ProfileError, Word};

mod args;
mod capacity;
mod others;
mod web;
pub use args::Args;
pub use capacity::{CapacityArgs, SearchOptions, parse_fraction, parse_model};
pub use others::{CompareArgs, ExplainExitArgs, LoadError, ReportArgs, parse_iterations};
pub use web::WebArgs;

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
    /// `lv-master capacity [run options] [search options]`.
    Capacity(Box<CapacityArgs>),
}

/// Reads `lv-master`'s command line (program name first): `check`, `try`, `capacity`, `compare`,
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
        Some("capacity") => Ok(Command::Capacity(Box::new(CapacityArgs::try_parse_from(
            merged_words(words("lv-master capacity"), env)?,
        )?))),
        _ => Ok(Command::Run(Box::new(load_args(argv, env)?))),
    }
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
