//! Report files built from a run: the Locust-format CSVs ([`csv`]) and the self-contained
//! HTML page ([`html`]). The JSON report is [`crate::report::summary`]; [`crate::report::outputs`] decides
//! which files a run writes.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::aggregate::RunStats;
use crate::report::summary::{StageSummary, write_atomically};

pub mod compare;
pub mod conclude;
pub mod console;
pub mod csv;
pub mod format;
pub mod html;
pub mod outputs;
pub mod summary;

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
/// `PREFIX_exceptions.csv`, for a staged run `PREFIX_stages.csv` from `stages`, and when
/// requests had timing phases `PREFIX_phases.csv`; returns
/// the paths written. The history is written from the run's
/// complete history (spilled rows included), streamed, so a day-long run's file is complete
/// without being held in memory.
pub fn write_csv_files(
    prefix: &Path,
    run: &RunStats,
    seconds: f64,
    full_history: bool,
    stages: &[StageSummary],
) -> std::io::Result<Vec<PathBuf>> {
    let mut files = vec![
        ("_stats.csv", Some(csv::stats_csv(run, seconds))),
        ("_stats_history.csv", None),
        ("_failures.csv", Some(csv::failures_csv(run))),
        ("_exceptions.csv", Some(csv::exceptions_csv(run))),
    ];
    if !stages.is_empty() {
        files.push(("_stages.csv", Some(csv::stages_csv(stages))));
    }
    if !run.totals.phases.is_empty() {
        files.push(("_phases.csv", Some(csv::phases_csv(run))));
    }
    let mut written = Vec::new();
    for (suffix, text) in files {
        let mut path = prefix.as_os_str().to_owned();
        path.push(suffix);
        let path = PathBuf::from(path);
        match text {
            Some(text) => write_atomically(&path, text.as_bytes())?,
            None => write_history_file(&path, run, full_history)?,
        }
        written.push(path);
    }
    Ok(written)
}

/// Streams the complete history into `path` (through a `.tmp` file renamed at the end, as
/// [`write_atomically`] does).
fn write_history_file(path: &Path, run: &RunStats, full: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut out = BufWriter::new(File::create(&tmp)?);
    csv::write_history(&mut out, run.complete_history()?, full)?;
    out.into_inner().map_err(|e| e.into_error())?;
    std::fs::rename(&tmp, path)
}
