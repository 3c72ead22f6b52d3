//! A master and workers in one process, against an in-process target that counts.

use std::collections::BTreeMap;
use std::time::Duration;

use lv_tests::{Target, master_config, run_cluster, spawn_target, write_file};
use tokio_util::sync::CancellationToken;

/// Three tasks with distinct tags and paths; `/c` is the one the target fails.
fn scenario(target: &Target) -> String {
    let url = target.url();
    format!(
        r#"
[[user]]
name = "Mixed"

[[user.task]]
name = "a"
weight = 3
tags = ["alpha"]
[[user.task.step]]
url = "{url}"
path = "/a"

[[user.task]]
name = "b"
tags = ["beta"]
[[user.task.step]]
url = "{url}"
method = "POST"
path = "/b?x=1"
name = "POST /b"
json = {{ id = "{{{{ uuid }}}}", n = "{{{{ rand_int(1, 9) }}}}" }}

[[user.task]]
name = "c"
tags = ["gamma"]
[[user.task.step]]
url = "{url}"
path = "/c"
"#
    )
}

/// Runs master + 2 in-process workers for `seconds` with extra flags; returns the
/// summary and what the target saw.
async fn run(extra: &[&str]) -> (lv_master::Outcome, BTreeMap<String, u64>, u64) {
    let stop = CancellationToken::new();
    let target = spawn_target(&["/c"], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "mixed.toml", &scenario(&target));
    let file = file.to_str().expect("utf-8 path");
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    let mut words = vec![
        "-f",
        file,
        "--fleet",
        fleet.to_str().expect("utf-8"),
        "-u",
        "6",
        "-r",
        "100",
        "-t",
        "3s",
        "--expect-workers",
        "2",
        "--expect-workers-max-wait",
        "20s",
        "--headless",
        "--only-summary",
    ];
    words.extend_from_slice(extra);
    let outcome = run_cluster(
        master_config(&words).expect("valid config"),
        2,
        &stop,
        Duration::from_secs(40),
    )
    .await;
    let counts = target.counts();
    let total = target.total();
    stop.cancel();
    (outcome, counts, total)
}

fn lv_counts(outcome: &lv_master::Outcome) -> BTreeMap<String, u64> {
    outcome
        .summary
        .endpoints
        .iter()
        .map(|e| {
            (
                format!("{} {}", e.method, e.name.replace("POST ", "")),
                e.requests,
            )
        })
        .collect()
}

/// The master's counts equal what the target received, per endpoint and in total, and
/// only the failing path shows failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_match_the_target_and_failures_stay_on_their_endpoint() {
    let (outcome, seen, total) = run(&[]).await;
    let summary = &outcome.summary;
    assert!(total > 50, "the target saw only {total} requests");
    assert_eq!(summary.total.requests, total);
    assert_eq!(
        summary.cut_off, 0,
        "requests in flight at the stop finish and count"
    );
    let expected: BTreeMap<String, u64> = [
        ("GET /a".to_owned(), seen["GET /a"]),
        ("POST /b".to_owned(), seen["POST /b"]),
        ("GET /c".to_owned(), seen["GET /c"]),
    ]
    .into();
    assert_eq!(lv_counts(&outcome), expected);
    for endpoint in &summary.endpoints {
        let want = if endpoint.name == "/c" {
            endpoint.requests
        } else {
            0
        };
        assert_eq!(endpoint.failures, want, "{}", endpoint.name);
    }
    assert_eq!(summary.failures.len(), 1);
    assert_eq!(summary.failures[0].error, "HTTP 500 Internal Server Error");
    assert_eq!(summary.failures[0].count, seen["GET /c"]);
    assert_eq!(outcome.exit_code, 1, "failed requests make exit code 1");
    assert_eq!(summary.workers.len(), 2);
    let users: u32 = summary.workers.iter().map(|w| w.core.users).sum();
    assert_eq!(users, 6);
    assert_eq!(
        summary.workers.iter().map(|w| w.core.requests).sum::<u64>(),
        total
    );
    // Weights 3:1:1 over many tasks: /a gets clearly more than /b.
    assert!(seen["GET /a"] > seen["POST /b"], "{seen:?}");
}

/// `-T` keeps only tasks with one of the tags, `-E` drops tasks with any: the target
/// sees exactly the paths that pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_exclude_tags_change_what_the_target_sees() {
    let (outcome, seen, _) = run(&["-T", "alpha,gamma"]).await;
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["GET /a", "GET /c"]);
    assert_eq!(outcome.summary.total.requests, seen.values().sum::<u64>());

    let (outcome, seen, _) = run(&["-E", "gamma"]).await;
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["GET /a", "POST /b"]);
    assert_eq!(outcome.exit_code, 0, "no failing path, exit code 0");
    assert_eq!(outcome.summary.total.failures, 0);
}
