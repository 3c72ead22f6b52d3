//! lv at scale on one machine: fifty real `lv-worker` processes on one master for about 20 s,
//! none lost and every request counted (the CI-sized cut of issue 14's 200-worker run).
//! Also twenty workers in one `lv-worker --workers N` process, as `bench/workers.sh` runs 1,000.

use std::path::Path;
use std::time::Duration;

use lv_master::report::summary::read_json;
use lv_tests::harness::{Proc, master_args, ping_run, spawn_master_process, spawn_worker_process};

/// User CPU plus system CPU of process `pid` so far, in seconds (`/proc/PID/stat`, 100 ticks a
/// second, as on every Linux this runs on); `None` once it is gone.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn args(scenario: &Path, json: &Path, workers: usize) -> Vec<String> {
    let workers = workers.to_string();
    let json = json.display().to_string();
    master_args(
        scenario,
        0,
        &[
            "--no-slo",
            "--expect-workers",
            &workers,
            "--expect-workers-max-wait",
            "120s",
            "--json",
            &json,
            "-u",
            "100",
            "-r",
            "50",
            "-t",
            "20s",
        ],
    )
}

/// Fifty worker processes with 2 users each (a request every 0.5 s per user) run 20 s on one
/// master with the default 5 s heartbeat timeout: every worker stays active with its 2 users,
/// none is lost, the run is never below target, and lv's total equals the target's count,
/// also when summed per worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_worker_processes_run_without_a_loss_and_count_exactly() {
    const WORKERS: usize = 50;
    let (stop, target, _dir, scenario, json) = ping_run(0.5).await;
    let (mut master, addr) = spawn_master_process(&args(&scenario, &json, WORKERS)).await;
    let mut workers: Vec<Proc> = (0..WORKERS)
        .map(|i| spawn_worker_process(&addr.to_string(), &[], &format!("worker{i}")))
        .collect();
    // Sample the master just before it exits: its peak RSS and CPU time for the record.
    let mut footprint = (None, None);
    let done = tokio::time::timeout(Duration::from_secs(180), async {
        while master.running() {
            footprint = (master.peak_rss_kib(), cpu_seconds(master.pid));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(done.is_ok(), "the master ran past 180 s");
    assert_eq!(master.exit_code(Duration::from_secs(10)).await, Some(0));
    for worker in &mut workers {
        assert_eq!(worker.exit_code(Duration::from_secs(30)).await, Some(0));
    }
    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "50 workers: {} requests in {:.1} s; master peak RSS {:?} KiB, CPU {:?} s",
        summary.total.requests, summary.run_time_s, footprint.0, footprint.1
    );

    assert_eq!(summary.workers.len(), WORKERS);
    for worker in &summary.workers {
        assert_eq!(worker.core.state, "active", "{worker:?}");
        assert_eq!(worker.core.users, 2, "{worker:?}");
        assert!(worker.lost_unix_ms.is_none(), "{worker:?}");
        // 2 users, one request each per 0.5 s, for most of 20 s.
        assert!(worker.core.requests >= 40, "{worker:?}");
    }
    assert!(
        summary.below_target.is_empty(),
        "{:?}",
        summary.below_target
    );
    assert_eq!(summary.total.failures, 0);
    assert_eq!(
        summary.total.requests,
        target.total(),
        "lv's total against the target's"
    );
    let per_worker: u64 = summary.workers.iter().map(|w| w.core.requests).sum();
    assert_eq!(per_worker, summary.total.requests);
    assert!(
        summary.history.len() >= 8,
        "{} history rows",
        summary.history.len()
    );
    stop.cancel();
}

/// One `lv-worker --workers 20 --worker-id many` process is twenty workers to the master: each
/// attaches on its own stream under its own id (`many-1` to `many-20`), gets its share of the
/// users and reports it, none is lost, and lv's total equals the target's count; the process
/// exits 0 once the master says Shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_runs_many_workers_each_on_its_own_stream() {
    const WORKERS: usize = 20;
    let (stop, target, _dir, scenario, json) = ping_run(0.5).await;
    let mut master_args = args(&scenario, &json, WORKERS);
    for (flag, value) in [("-u", "40"), ("-r", "40"), ("-t", "8s")] {
        let at = master_args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("no {flag}"));
        master_args[at + 1] = value.to_owned();
    }
    let (mut master, addr) = spawn_master_process(&master_args).await;
    let mut process = spawn_worker_process(
        &addr.to_string(),
        &["--workers", "20", "--worker-id", "many"],
        "many",
    );
    assert_eq!(master.exit_code(Duration::from_secs(90)).await, Some(0));
    assert_eq!(process.exit_code(Duration::from_secs(30)).await, Some(0));
    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));

    let mut ids: Vec<String> = summary.workers.iter().map(|w| w.core.id.clone()).collect();
    ids.sort();
    let mut expected: Vec<String> = (1..=WORKERS).map(|i| format!("many-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    for worker in &summary.workers {
        assert_eq!(worker.core.state, "active", "{worker:?}");
        assert_eq!(worker.core.users, 2, "{worker:?}");
        assert!(worker.core.requests > 0, "{worker:?}");
    }
    assert!(
        summary.below_target.is_empty(),
        "{:?}",
        summary.below_target
    );
    assert_eq!(summary.total.failures, 0);
    assert_eq!(
        summary.total.requests,
        target.total(),
        "lv's total against the target's"
    );
    stop.cancel();
}
