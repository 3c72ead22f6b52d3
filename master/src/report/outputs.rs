//! Everything a finished run writes: the JSON report, the Locust-format CSVs, the HTML
//! report and the benchmark log row. A file that cannot be written is reported and the
//! others are still written: nothing measured is lost because one path was bad.

use std::path::{Path, PathBuf};

use tracing::{error, info};

use crate::aggregate::RunStats;
use crate::report::summary::Summary;
use crate::report::{self, compare, summary};

/// Where a run's reports go; `None` skips that report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputPaths {
    /// The JSON report.
    pub json: Option<PathBuf>,
    /// Prefix of the Locust-format CSVs.
    pub csv: Option<PathBuf>,
    /// A history row per endpoint as well.
    pub csv_full_history: bool,
    /// The HTML report.
    pub html: Option<PathBuf>,
    /// The benchmark log to append a row to.
    pub record: Option<PathBuf>,
}

/// Writes every output the configuration asks for; returns the files written and the
/// errors met (each naming its file).
pub fn write_all(
    paths: &OutputPaths,
    summary: &Summary,
    run: &RunStats,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut results: Vec<(PathBuf, std::io::Result<()>)> = Vec::new();
    if let Some(path) = &paths.json {
        results.push((path.clone(), summary::write_json(summary, path)));
    }
    if let Some(prefix) = &paths.csv {
        match report::write_csv_files(
            prefix,
            run,
            summary.run_time_s,
            paths.csv_full_history,
            &summary.stages,
        ) {
            Ok(paths) => results.extend(paths.into_iter().map(|p| (p, Ok(())))),
            Err(err) => results.push((csv_pattern(prefix), Err(err))),
        }
    }
    if let Some(path) = &paths.html {
        let html = report::html::render_html(summary);
        results.push((
            path.clone(),
            summary::write_atomically(path, html.as_bytes()),
        ));
    }
    if let Some(path) = &paths.record {
        results.push((path.clone(), compare::append_benchmark(path, summary)));
    }
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for (path, result) in results {
        match result {
            Ok(()) => written.push(path),
            Err(err) => {
                let message = format!("cannot write {}: {err}", path.display());
                error!("{message}");
                errors.push(message);
            }
        }
    }
    if !written.is_empty() {
        let list: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        info!("reports written: {}", list.join(", "));
    }
    (written, errors)
}

fn csv_pattern(prefix: &Path) -> PathBuf {
    let mut pattern = prefix.as_os_str().to_owned();
    pattern.push("_*.csv");
    PathBuf::from(pattern)
}
