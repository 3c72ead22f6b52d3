//! Each run's configuration: the checked command line plus what one run asks for (from
//! the web form, or the flags themselves for `--autostart`), with its reports named after
//! the run.

use std::path::{Path, PathBuf};

use super::{ConfigError, MasterConfig};
use crate::config::cli::Args;
use crate::live::form::RunParams;

/// The settings of the flags as start parameters (for `--autostart` and the form).
pub fn params_of(config: &MasterConfig) -> RunParams {
    RunParams {
        users: config.users,
        spawn_rate: config.spawn_rate,
        host: Some(config.host.clone()),
        run_time: config.run_time,
        classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
        tags: config.tags.clone(),
        exclude_tags: config.exclude_tags.clone(),
        profile: config.profile.clone(),
    }
}

/// The checked configuration of a run started with `params`, its reports named
/// `reports/web_<timestamp>_<runid8>` under `reports_dir`.
pub fn run_config(
    base: &Args,
    params: &RunParams,
    reports_prefix: &Path,
) -> Result<MasterConfig, ConfigError> {
    let mut args = base.clone();
    args.users = params.users;
    args.spawn_rate = params.spawn_rate;
    args.run_time = params.run_time;
    if let Some(host) = &params.host {
        args.host = host.clone();
    }
    args.classes = params.classes.clone();
    args.tags = params.tags.clone();
    args.exclude_tags = params.exclude_tags.clone();
    let prefix = reports_prefix.display().to_string();
    args.json = Some(PathBuf::from(format!("{prefix}.json")));
    args.html = Some(PathBuf::from(format!("{prefix}.html")));
    args.csv = Some(PathBuf::from(&prefix));
    args.checkpoint = None;
    let (config, _) = MasterConfig::from_args(&args)?;
    Ok(config)
}

/// `DIR/web_<UTC timestamp>_<first 8 of the run id>`.
pub fn reports_prefix(dir: &Path, started_unix_ms: i64, run_id: &str) -> PathBuf {
    let stamp = crate::report::format::utc_timestamp(started_unix_ms)
        .replace(" UTC", "")
        .replace(' ', "T")
        .replace([':', '-'], "");
    let short: String = run_id.chars().take(8).collect();
    dir.join(format!("web_{stamp}_{short}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_hold_the_time_and_run_id() {
        let path = reports_prefix(Path::new("reports"), 0, "0123456789abcdef");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("web_19700101T000000_"), "{name}");
        assert!(name.ends_with("_01234567"), "{name}");
        assert!(!name.contains([' ', ':']), "{name}");
    }
}
