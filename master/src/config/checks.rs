//! The checks of single options, each a pure function whose error names the option as on
//! the command line (`invalid value for --spawn-rate: ...`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lv_common::bounds::{MAX_RUN_TIME, MAX_SPAWN_RATE, MAX_USERS};
use lv_common::duration::format_duration;
use lv_common::plan::Plan;

use super::error::ConfigError;
use super::params::RunParams;
use super::resume;

/// Shortest `--checkpoint-interval`.
const MIN_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Longest `--checkpoint-interval`.
const MAX_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

/// Shortest `--heartbeat-timeout`.
const MIN_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// Room an Assignment needs beside its plan (ids, users per class, the open-model load).
const ASSIGNMENT_ROOM: usize = 64 * 1024;

fn invalid(option: &'static str, detail: impl Into<String>) -> ConfigError {
    ConfigError::InvalidOption {
        option,
        detail: detail.into(),
    }
}

/// Checks a run's users, spawn rate and run time.
pub(super) fn check_run_params(params: &RunParams) -> Result<(), ConfigError> {
    check_spawn_rate(params.spawn_rate)?;
    check_users(params.users)?;
    check_run_time(params.run_time)
}

/// `--spawn-rate`: a number > 0 and at most [`MAX_SPAWN_RATE`].
pub(super) fn check_spawn_rate(rate: f64) -> Result<(), ConfigError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(invalid(
            "--spawn-rate",
            format!("{rate} must be a number > 0"),
        ));
    }
    if rate > MAX_SPAWN_RATE {
        return Err(invalid(
            "--spawn-rate",
            format!("{rate} is more than {MAX_SPAWN_RATE} users/s"),
        ));
    }
    Ok(())
}

/// `--users`: at most [`MAX_USERS`].
pub(super) fn check_users(users: u32) -> Result<(), ConfigError> {
    if users > MAX_USERS {
        return Err(invalid(
            "--users",
            format!("{users} is more than {MAX_USERS}"),
        ));
    }
    Ok(())
}

/// `--run-time`: longer than 0s and at most [`MAX_RUN_TIME`].
pub(super) fn check_run_time(run_time: Option<Duration>) -> Result<(), ConfigError> {
    match run_time {
        Some(time) if time.is_zero() => Err(invalid("--run-time", "must be longer than 0s")),
        Some(time) if time > MAX_RUN_TIME => Err(invalid(
            "--run-time",
            format!("must be at most {}", format_duration(MAX_RUN_TIME)),
        )),
        _ => Ok(()),
    }
}

/// `--expect-workers`: at least 1 when given.
pub(super) fn check_expect_workers(expect: Option<usize>) -> Result<(), ConfigError> {
    if expect == Some(0) {
        return Err(invalid("--expect-workers", "must be at least 1"));
    }
    Ok(())
}

/// `--iterations`: only for the closed model (`open`: `--rate` or an open `--shape`),
/// whose users run tasks; open-model arrivals are not users.
pub(super) fn check_iterations(
    iterations: Option<NonZeroU32>,
    open: bool,
) -> Result<Option<NonZeroU32>, ConfigError> {
    if iterations.is_some() && open {
        return Err(invalid(
            "--iterations",
            "counts the tasks of each user, so it needs the closed model (-u, or a closed \
             --shape); an open-model run (--rate, or an open --shape) has arrivals, not users",
        ));
    }
    Ok(iterations)
}

/// `--request-timeout`: longer than 0s.
pub(super) fn check_request_timeout(timeout: Duration) -> Result<(), ConfigError> {
    if timeout.is_zero() {
        return Err(invalid("--request-timeout", "must be longer than 0s"));
    }
    Ok(())
}

/// `--checkpoint-interval`: from 500ms to 5 minutes. Workers hold every report until a
/// checkpoint has it (300 at most, see lv-worker's outbox): 5 minutes is 150 reports at
/// the default report interval.
pub(super) fn check_checkpoint_interval(interval: Duration) -> Result<(), ConfigError> {
    if interval < MIN_CHECKPOINT_INTERVAL {
        return Err(invalid("--checkpoint-interval", "must be at least 500ms"));
    }
    if interval > MAX_CHECKPOINT_INTERVAL {
        return Err(invalid(
            "--checkpoint-interval",
            format!(
                "must be at most {} (workers keep their reports until a checkpoint holds them)",
                format_duration(MAX_CHECKPOINT_INTERVAL)
            ),
        ));
    }
    Ok(())
}

/// `--heartbeat-timeout`: at least 2s, as heartbeats go every second.
pub(super) fn check_heartbeat_timeout(timeout: Duration) -> Result<(), ConfigError> {
    if timeout < MIN_HEARTBEAT_TIMEOUT {
        return Err(invalid(
            "--heartbeat-timeout",
            "must be at least 2s (heartbeats go every second)",
        ));
    }
    Ok(())
}

/// `--master-bind-host`: a public address needs `--token` or `--insecure`.
pub(super) fn check_bind(bind_host: &str, token: &str, insecure: bool) -> Result<(), ConfigError> {
    let host = bind_host.trim_matches(|c| c == '[' || c == ']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && token.is_empty() && !insecure {
        return Err(ConfigError::Unprotected(bind_host.to_owned()));
    }
    Ok(())
}

/// What `--resume`, `--resume-if-present` and `--checkpoint` ask for: the checkpoint to
/// resume from, if any. Resuming needs `--headless`.
pub(super) fn resume_setting(
    resume: Option<&Path>,
    resume_if_present: bool,
    checkpoint: Option<&Path>,
    headless: bool,
) -> Result<Option<PathBuf>, ConfigError> {
    let path = match (resume, resume_if_present, checkpoint) {
        (Some(path), _, _) => Some(path),
        (None, true, None) => {
            return Err(invalid(
                "--resume-if-present",
                "needs --checkpoint FILE (the file to resume from)",
            ));
        }
        (None, true, Some(path)) => resume::unfinished(path).then_some(path),
        (None, false, _) => None,
    };
    if path.is_some() && !headless {
        return Err(invalid(
            "--resume",
            "needs --headless (a run started from the web UI cannot be resumed)",
        ));
    }
    Ok(path.map(Path::to_path_buf))
}

/// Refuses a plan too large to reach the workers in one gRPC message.
pub(super) fn check_plan_size(plan: &Plan) -> Result<(), ConfigError> {
    let size = plan.to_json().len();
    let limit = lv_common::MAX_MESSAGE_BYTES - ASSIGNMENT_ROOM;
    if size > limit {
        return Err(invalid(
            "--scenarios",
            format!(
                "the resolved plan is {size} bytes; the workers take at most {limit} \
                 (fewer scenarios, tasks or steps, or smaller bodies)"
            ),
        ));
    }
    Ok(())
}

/// Tags without surrounding blanks, empty ones dropped.
pub(super) fn clean(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
