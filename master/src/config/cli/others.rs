//! The arguments of `lv-master`'s other commands: `report`, `compare`, `explain-exit`
//! (`check` takes a run's, see [`super::CheckArgs`]); and why reading a command line failed.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Parser;

use crate::config::profile::ProfileError;

/// Why [`super::load_args`] failed.
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
    /// With --csv: a row per endpoint in the history too (when the run recorded them).
    #[arg(long = "csv-full-history")]
    pub csv_full_history: bool,
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

/// `lv-master explain-exit CODE`: prints the one-line meaning of an exit code of
/// `lv-master` (exit 2 for a code not in its table).
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master explain-exit", version, about)]
pub struct ExplainExitArgs {
    /// The exit code (0 to 255).
    pub code: u8,
}

/// Parses `-i/--iterations`: a whole number of at least 1.
pub fn parse_iterations(s: &str) -> Result<NonZeroU32, String> {
    s.trim()
        .parse::<NonZeroU32>()
        .map_err(|_| format!("{s:?} is not a number of tasks per user (a whole number >= 1)"))
}
