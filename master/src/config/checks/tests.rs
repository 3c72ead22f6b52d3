//! Every check refuses what it should, and its error names the option.

use std::path::Path;
use std::time::Duration;

use super::*;

/// The message of `result`'s error.
fn message(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
    result.expect_err("refused").to_string()
}

#[test]
fn spawn_rate_is_positive_and_bounded() {
    assert!(check_spawn_rate(0.5).is_ok());
    assert_eq!(
        message(check_spawn_rate(0.0)),
        "invalid value for --spawn-rate: 0 must be a number > 0"
    );
    assert!(message(check_spawn_rate(f64::NAN)).starts_with("invalid value for --spawn-rate: "));
    let err = message(check_spawn_rate(MAX_SPAWN_RATE * 2.0));
    assert!(err.starts_with("invalid value for --spawn-rate: "), "{err}");
    assert!(err.ends_with(" users/s"), "{err}");
}

#[test]
fn users_are_bounded() {
    assert!(check_users(MAX_USERS).is_ok());
    let err = message(check_users(MAX_USERS + 1));
    assert!(err.starts_with("invalid value for --users: "), "{err}");
}

#[test]
fn run_time_is_positive_and_bounded() {
    assert!(check_run_time(None).is_ok());
    assert!(check_run_time(Some(Duration::from_secs(1))).is_ok());
    assert_eq!(
        message(check_run_time(Some(Duration::ZERO))),
        "invalid value for --run-time: must be longer than 0s"
    );
    let err = message(check_run_time(Some(MAX_RUN_TIME * 2)));
    assert!(
        err.starts_with("invalid value for --run-time: must be at most "),
        "{err}"
    );
}

#[test]
fn run_params_are_checked_together() {
    let params = RunParams {
        users: 1,
        spawn_rate: -1.0,
        host: None,
        run_time: None,
        classes: Vec::new(),
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        profile: None,
        shape: None,
    };
    assert!(message(check_run_params(&params)).contains("--spawn-rate"));
}

#[test]
fn expect_workers_is_at_least_one() {
    assert!(check_expect_workers(None).is_ok() && check_expect_workers(Some(1)).is_ok());
    assert_eq!(
        message(check_expect_workers(Some(0))),
        "invalid value for --expect-workers: must be at least 1"
    );
}

#[test]
fn request_timeout_is_positive() {
    assert!(check_request_timeout(Duration::from_millis(1)).is_ok());
    assert!(message(check_request_timeout(Duration::ZERO)).contains("--request-timeout"));
}

#[test]
fn checkpoint_interval_is_bounded_both_ways() {
    assert!(check_checkpoint_interval(Duration::from_secs(5)).is_ok());
    assert_eq!(
        message(check_checkpoint_interval(Duration::from_millis(100))),
        "invalid value for --checkpoint-interval: must be at least 500ms"
    );
    let err = message(check_checkpoint_interval(Duration::from_secs(301)));
    assert!(err.starts_with("invalid value for --checkpoint-interval: must be at most "));
}

#[test]
fn heartbeat_timeout_is_at_least_two_seconds() {
    assert!(check_heartbeat_timeout(Duration::from_secs(2)).is_ok());
    assert!(
        message(check_heartbeat_timeout(Duration::from_secs(1))).contains("--heartbeat-timeout")
    );
}

#[test]
fn a_public_bind_needs_a_token_or_insecure() {
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        assert!(check_bind(host, "", false).is_ok(), "{host}");
    }
    assert!(check_bind("0.0.0.0", "secret", false).is_ok());
    assert!(check_bind("0.0.0.0", "", true).is_ok());
    let err = message(check_bind("0.0.0.0", "", false));
    assert!(
        err.starts_with("refusing to accept workers on 0.0.0.0 without a token"),
        "{err}"
    );
    assert!(err.contains("--token"), "{err}");
}

#[test]
fn resuming_needs_a_checkpoint_and_headless() {
    let file = Path::new("/no/such/checkpoint.json");
    assert_eq!(
        resume_setting(Some(file), false, None, true).expect("resumes"),
        Some(file.to_path_buf())
    );
    assert_eq!(
        message(resume_setting(Some(file), false, None, false)),
        "invalid value for --resume: needs --headless (a run started from the web UI cannot be resumed)"
    );
    assert_eq!(
        message(resume_setting(None, true, None, true)),
        "invalid value for --resume-if-present: needs --checkpoint FILE (the file to resume from)"
    );
    assert_eq!(
        resume_setting(None, true, Some(file), false).expect("nothing there"),
        None
    );
    assert_eq!(
        resume_setting(None, false, Some(file), true).expect("no resume"),
        None
    );
}

#[test]
fn tags_are_trimmed_and_empty_ones_dropped() {
    let tags = [" a ".to_owned(), String::new(), "b".to_owned()];
    assert_eq!(clean(&tags), ["a", "b"]);
}

#[test]
fn iterations_are_for_the_closed_model_only() {
    let three = NonZeroU32::new(3);
    assert_eq!(check_iterations(None, true).expect("no limit"), None);
    assert_eq!(check_iterations(three, false).expect("valid"), three);
    let err = message(check_iterations(three, true));
    assert!(err.starts_with("invalid value for --iterations: "), "{err}");
    assert!(err.contains("--rate"), "{err}");
}
