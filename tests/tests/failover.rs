//! Master failover: a master killed with SIGKILL mid-run and started again with
//! `--resume CHECKPOINT` on the same port continues the same run. Its workers reconnect,
//! resend what they held, and the final report counts exactly what the target received.

use std::time::Duration;

use lv_tests::harness::{master_args, ping_run, spawn_master_process, spawn_worker_process};
use lv_tests::script::summary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_resumes_its_run_and_loses_nothing() {
    let (stop, target, dir, scenario, json) = ping_run(0.02).await;
    let checkpoint = dir.path().join("checkpoint.json");
    let checkpoint_flag = checkpoint.display().to_string();
    let json_flag = json.display().to_string();
    let html = dir.path().join("report.html");
    let html_flag = html.display().to_string();
    let run = [
        "-u",
        "6",
        "-r",
        "100",
        "-t",
        "14s",
        "--expect-workers",
        "3",
        "--checkpoint",
        &checkpoint_flag,
        "--checkpoint-interval",
        "1s",
        "--json",
        &json_flag,
        "--html",
        &html_flag,
    ];
    let (mut first, addr) = spawn_master_process(&master_args(&scenario, 0, &run)).await;
    let workers: Vec<_> = (1..=3)
        .map(|i| spawn_worker_process(&addr.to_string(), &[], &format!("worker-{i}")))
        .collect();
    // Let the run get under way and a few checkpoints be written, then kill the master.
    let checkpointed = lv_tests::harness::wait_until(Duration::from_secs(30), || {
        std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|c| c["total"]["requests"].as_u64())
            .is_some_and(|requests| requests > 100)
    })
    .await;
    assert!(checkpointed, "a checkpoint with requests was written");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    first.kill9().await;
    let before = summary(&checkpoint);
    let unfinished = dir.path().join("unfinished.json");
    std::fs::copy(&checkpoint, &unfinished).expect("keep the unfinished checkpoint");
    let received_at_kill = target.total();
    assert!(
        before["total"]["requests"].as_u64().unwrap_or(0) < received_at_kill,
        "the target received more than the last checkpoint holds"
    );

    // A pod restart takes a while; the workers keep what they record meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut resume = run.to_vec();
    resume.extend(["--resume", &checkpoint_flag]);
    let mut second = lv_tests::harness::Proc::start(
        &lv_tests::bin("lv-master"),
        &master_args(&scenario, addr.port(), &resume),
        "master-2",
    );
    let code = second.exit_code(Duration::from_secs(60)).await;
    let report = summary(&json);
    assert_eq!(report["run_id"], before["run_id"], "the same run");
    assert_eq!(
        report["started_unix_ms"], before["started_unix_ms"],
        "the same start"
    );
    let requests = report["total"]["requests"].as_u64().unwrap_or(0);
    assert_eq!(
        requests,
        target.total(),
        "the resumed run counts exactly what the target received"
    );
    assert!(
        requests > received_at_kill,
        "the run went on after the resume"
    );
    let outages = report["master_outages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert_eq!(outages[0]["workers_expected"], 3);
    assert_eq!(outages[0]["workers_back"], 3);
    assert_eq!(outages[0]["missing_s"], 0.0, "no data missing");
    let below: Vec<_> = report["below_target"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b["worker_id"] == "master (restarted)")
        .collect();
    assert_eq!(below.len(), 1, "the outage is a below-target period");
    assert_eq!(report["checkpoint"], false);
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(
        page.contains("The master was down from"),
        "the HTML report names the outage"
    );
    let outage_s = (outages[0]["to_unix_ms"].as_i64().unwrap_or(0)
        - outages[0]["from_unix_ms"].as_i64().unwrap_or(0)) as f64
        / 1000.0;
    assert!(
        outage_s >= 2.0,
        "from the last checkpoint to the resume: {outage_s}"
    );
    assert_eq!(code, Some(0), "{}", second.stderr.text());
    let run_s = report["run_time_s"].as_f64().unwrap_or(0.0);
    assert!(
        (13.0..18.0).contains(&run_s),
        "the run time counts from the original start: {run_s}"
    );

    // The checkpoint is now the final report: a master restarted with
    // --resume-if-present (as the Kubernetes failover component runs it) starts a new run;
    // with the unfinished checkpoint it resumes; without a file it starts a new run.
    assert_eq!(summary(&checkpoint)["checkpoint"], false, "the run is over");
    let resumes = |file: &std::path::Path| {
        let words = master_args(&scenario, 0, &["-u", "6", "-r", "100", "-t", "14s"]);
        let file = file.display().to_string();
        let env = move |name: &str| match name {
            "LV_CHECKPOINT" => Some(file.clone()),
            "LV_RESUME_IF_PRESENT" => Some("true".to_owned()),
            _ => None,
        };
        let argv = std::iter::once("lv-master".to_owned()).chain(words);
        let args = lv_master::config::cli::load_args(argv, env).expect("valid settings");
        let (config, _) = lv_master::config::MasterConfig::from_args(&args).expect("valid config");
        config.resume.map(|c| c.summary.run_id.clone())
    };
    assert_eq!(resumes(&checkpoint), None, "a finished run is not resumed");
    assert_eq!(resumes(&unfinished).as_deref(), before["run_id"].as_str());
    assert_eq!(
        resumes(&dir.path().join("absent.json")),
        None,
        "no file: a new run"
    );
    drop(workers);
    stop.cancel();
}
