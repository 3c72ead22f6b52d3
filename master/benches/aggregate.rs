//! The master's cost per worker report, fed with real serialized reports: decode the
//! protobuf bytes a worker sends, check them into a [`Report`] and merge it into the run's
//! stats, as the gRPC server and the coordinator do for every report. Also the interval close
//! the coordinator runs once per report interval.
//!
//! `cargo bench -p lv-master --bench aggregate` runs criterion. For repeatable instruction
//! counts, `LV_BENCH_REPORTS=N` runs the whole per-report path N times without criterion:
//!
//! ```text
//! LV_BENCH_REPORTS=200 valgrind --tool=callgrind --toggle-collect='*merge_reports*' \
//!     target/release/deps/aggregate-HASH
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use lv_common::kind::SloKind;
use lv_common::pb::{self, worker_message::Kind as WorkerKind};
use lv_common::stats::StatsSet;
use lv_common::wire::Report;
use lv_master::aggregate::RunStats;
use prost::Message;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Endpoints in one report.
const ENDPOINTS: usize = 50;
/// Requests per endpoint in one report interval.
const SAMPLES: usize = 3_000;
/// Workers whose reports the run has merged before the measured one.
const WARM_WORKERS: u64 = 10;

/// A latency between 100 us and 5 s, bunched in the middle on a log scale.
fn latency(rng: &mut SmallRng) -> u64 {
    let u = (rng.random::<f64>() + rng.random::<f64>()) / 2.0;
    (100.0 * (5e6f64 / 100.0).powf(u)).round() as u64
}

/// One worker's report of one interval, as a worker builds it.
fn report(seed: u64) -> Report {
    let mut rng = SmallRng::seed_from_u64(seed);
    let kinds = [
        SloKind::Health,
        SloKind::Event,
        SloKind::Chat,
        SloKind::Creative,
    ];
    let mut stats = StatsSet::default();
    for i in 0..ENDPOINTS {
        let name = format!("AGENT{:02} /v1/endpoint/{i}", i % 17);
        for _ in 0..SAMPLES {
            let error = (rng.random_range(0..200) == 0).then_some("HTTP 503: Service Unavailable");
            let (latency_us, len) = (latency(&mut rng), rng.random_range(0..4_000));
            stats.record_request("POST", &name, Some(kinds[i % 4]), latency_us, len, error);
        }
    }
    stats.record_exception("extract $.id: no match");
    Report {
        run_id: "bench".into(),
        seq: 1,
        start_unix_ms: 0,
        end_unix_ms: 2_000,
        users_running: 100,
        stats,
        last: false,
        cut_off: 0,
        dropped_reports: 0,
        open: None,
        stage: 0,
    }
}

/// The bytes of a worker's report message, exactly as it goes on the wire.
fn encoded(report: &Report) -> Vec<u8> {
    let kind = WorkerKind::Report(pb::StatsReport::from(report));
    pb::WorkerMessage { kind: Some(kind) }.encode_to_vec()
}

/// What the server and the coordinator do with one report message.
fn merge_one(run: &mut RunStats, worker_id: &str, bytes: &[u8]) {
    let message = pb::WorkerMessage::decode(bytes).expect("the bytes decode");
    let Some(WorkerKind::Report(raw)) = message.kind else {
        panic!("not a report");
    };
    let report = Report::try_from(raw).expect("the report is valid");
    run.merge_report(worker_id, &report);
}

/// A run that has merged one report of each of [`WARM_WORKERS`] workers.
fn warm_run(reports: &[Vec<u8>]) -> RunStats {
    let mut run = RunStats::new(false);
    run.start(0);
    for (i, bytes) in reports.iter().enumerate() {
        merge_one(&mut run, &format!("w{i}"), bytes);
    }
    run
}

fn reports() -> Vec<Vec<u8>> {
    (0..WARM_WORKERS)
        .map(|seed| encoded(&report(seed)))
        .collect()
}

fn per_report(c: &mut Criterion) {
    let reports = reports();
    let bytes = &reports[0];
    println!(
        "one report: {} endpoints x {SAMPLES} requests, {} bytes",
        ENDPOINTS,
        bytes.len()
    );
    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("protobuf decode", |b| {
        b.iter(|| pb::WorkerMessage::decode(black_box(&bytes[..])).expect("decodes"));
    });
    group.bench_function("protobuf decode + Report::try_from", |b| {
        b.iter(|| {
            let message = pb::WorkerMessage::decode(black_box(&bytes[..])).expect("decodes");
            let Some(WorkerKind::Report(raw)) = message.kind else {
                panic!("not a report");
            };
            Report::try_from(raw).expect("valid")
        });
    });
    let mut run = warm_run(&reports);
    group.bench_function("decode + merge into RunStats", |b| {
        b.iter(|| merge_one(&mut run, "w0", black_box(bytes)));
    });
    group.finish();
}

fn close_interval(c: &mut Criterion) {
    let reports = reports();
    let mut group = c.benchmark_group("interval");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    let mut run = warm_run(&reports);
    let mut now = 0;
    for _ in 0..5 {
        now += 2_000;
        merge_one(&mut run, "w0", &reports[0]);
        run.close_interval(now, 100);
    }
    group.bench_function("close_interval (window of 5)", |b| {
        // Only the close is timed; merging the interval's report happens between closes.
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                merge_one(&mut run, "w0", &reports[0]);
                now += 2_000;
                let start = Instant::now();
                black_box(run.close_interval(now, 100));
                spent += start.elapsed();
            }
            spent
        });
    });
    group.finish();
}

/// The per-report path `n` times; the function callgrind is told to count.
#[inline(never)]
fn merge_reports(run: &mut RunStats, bytes: &[u8], n: usize) {
    for _ in 0..n {
        merge_one(run, "w0", black_box(bytes));
    }
}

fn main() {
    if let Some(n) = std::env::var("LV_BENCH_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let reports = reports();
        let mut run = warm_run(&reports);
        merge_reports(&mut run, &reports[0], n);
        println!("merged {n} reports");
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    per_report(&mut criterion);
    close_interval(&mut criterion);
    criterion.final_summary();
}
