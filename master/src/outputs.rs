//! Everything a finished run writes: the JSON report, the Locust-format CSVs, the HTML
//! report and the benchmark log row. A file that cannot be written is reported and the
//! others are still written: nothing measured is lost because one path was bad.

use std::path::{Path, PathBuf};

use tracing::{error, info};

use crate::Outcome;
use crate::aggregate::RunStats;
use crate::config::MasterConfig;
use crate::{compare, report, summary};

/// Writes every output the configuration asks for; returns the files written and the
/// errors met (each naming its file).
pub fn write_all(
    config: &MasterConfig,
    outcome: &Outcome,
    run: &RunStats,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut results: Vec<(PathBuf, std::io::Result<()>)> = Vec::new();
    if let Some(path) = &config.json {
        results.push((path.clone(), summary::write_json(&outcome.summary, path)));
    }
    if let Some(prefix) = &config.csv {
        match report::write_csv_files(prefix, run, outcome.summary.run_time_s) {
            Ok(paths) => results.extend(paths.into_iter().map(|p| (p, Ok(())))),
            Err(err) => results.push((csv_pattern(prefix), Err(err))),
        }
    }
    if let Some(path) = &config.html {
        let html = report::html::render_html(&outcome.summary);
        results.push((
            path.clone(),
            summary::write_atomically(path, html.as_bytes()),
        ));
    }
    if let Some(path) = &config.record {
        results.push((
            path.clone(),
            compare::append_benchmark(path, &outcome.summary),
        ));
    }
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for (path, result) in results {
        match result {
            Ok(()) => {
                info!(path = %path.display(), "report written");
                written.push(path);
            }
            Err(err) => {
                let message = format!("cannot write {}: {err}", path.display());
                error!("{message}");
                errors.push(message);
            }
        }
    }
    (written, errors)
}

fn csv_pattern(prefix: &Path) -> PathBuf {
    let mut pattern = prefix.as_os_str().to_owned();
    pattern.push("_*.csv");
    PathBuf::from(pattern)
}
