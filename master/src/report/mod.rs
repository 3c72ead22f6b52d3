//! Report files written at the end of a run: Locust-format CSVs (and, with the reports
//! work, HTML and the full JSON).

use std::path::{Path, PathBuf};

use crate::aggregate::RunStats;
use crate::summary::write_atomically;

pub mod csv;
pub mod html;

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
/// `PREFIX_exceptions.csv`; returns the paths written.
pub fn write_csv_files(
    prefix: &Path,
    run: &RunStats,
    seconds: f64,
    full_history: bool,
) -> std::io::Result<Vec<PathBuf>> {
    let files = [
        ("_stats.csv", csv::stats_csv(run, seconds)),
        (
            "_stats_history.csv",
            csv::history_csv(&run.history, full_history),
        ),
        ("_failures.csv", csv::failures_csv(run)),
        ("_exceptions.csv", csv::exceptions_csv(run)),
    ];
    let mut written = Vec::new();
    for (suffix, text) in files {
        let mut path = prefix.as_os_str().to_owned();
        path.push(suffix);
        let path = PathBuf::from(path);
        write_atomically(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
