//! Test fixtures: a configuration from the repository's scenarios and snapshots of runs.

use std::sync::Arc;

use clap::Parser as _;
use lv_common::kind::SloKind;
use lv_common::stats::{RequestPhases, StatsSet};
use lv_common::wire::Report;
use tokio::time::Instant;

use crate::aggregate::RunStats;
use crate::config::MasterConfig;
use crate::config::cli::Args;
use crate::live::snapshot::{Catalog, RunState, Snapshot, SnapshotInput, build};
use crate::run::registry::Registry;

/// A configuration over the repository's scenarios, with `extra` flags.
pub fn config(extra: &[&str]) -> MasterConfig {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let scenarios = format!("--scenarios={root}/configs/scenarios");
    let fleet = format!("--fleet={root}/configs/fleet.toml");
    let slo = format!("--slo={root}/configs/slo.toml");
    let mut argv = vec!["lv-master", &scenarios, &fleet, &slo, "--users=4"];
    argv.extend_from_slice(extra);
    let args = Args::try_parse_from(argv).expect("valid flags");
    MasterConfig::from_args(&args).expect("valid config").0
}

/// A report of `samples` (µs, error) on one endpoint; each answered sample has phases
/// (first byte at half its time, body a quarter), the first of report 1 a connect.
pub fn report(seq: u64, name: &str, kind: SloKind, samples: &[(u64, Option<&str>)]) -> Report {
    let mut stats = StatsSet::default();
    for (i, &(us, error)) in samples.iter().enumerate() {
        stats.record_request("GET", name, Some(kind), us, 100, error);
        let phases = RequestPhases {
            connect_us: (seq == 1 && i == 0).then_some(300),
            tls_us: None,
            ttfb_us: us / 2,
            body_us: us / 4,
        };
        if error.is_none() {
            stats.record_phases("GET", name, &phases);
        }
    }
    Report {
        run_id: "run-1".into(),
        seq,
        start_unix_ms: 1_000,
        end_unix_ms: 3_000,
        users_running: 2,
        stats,
        last: false,
        cut_off: 0,
        dropped_reports: 0,
        open: None,
        stage: 0,
    }
}

/// Stats of a run with two endpoints (one slow, one failing) over `intervals` intervals.
pub fn stats(intervals: usize) -> RunStats {
    let mut run = RunStats::new(false);
    run.start(1_000);
    for i in 0..intervals {
        let seq = i as u64 + 1;
        run.merge_report(
            "w1",
            &report(seq, "ATLAS /health", SloKind::Health, &[(2_000, None); 10]),
        );
        run.merge_report(
            "w1",
            &report(
                seq,
                "HERMES /health",
                SloKind::Health,
                &[(900_000, Some("HTTP 500")), (1_000, None)],
            ),
        );
        run.close_interval(3_000 + 2_000 * i as i64, 2);
    }
    run
}

/// A snapshot of `run` in `state`.
pub fn snapshot(config: &MasterConfig, run: &RunStats, run_id: &str, state: RunState) -> Snapshot {
    let catalog = Catalog {
        readonly: false,
        profiles: Default::default(),
        user_classes: config.plan.classes.iter().map(|c| c.name.clone()).collect(),
        tags: vec!["health".into()],
    };
    let workers = Registry::new();
    let plan = Arc::new(config.plan.clone());
    build(&SnapshotInput {
        config,
        plan: &plan,
        catalog: &catalog,
        state,
        run_id: Some(run_id),
        stats: run,
        workers: &workers,
        started_unix_ms: 1_000,
        now_unix_ms: 20_000,
        now: Instant::now(),
        run_time_s: None,
        events: &[],
        stopped_by: None,
        runs: Arc::new(Vec::new()),
    })
}
