//! Benchmarks of the stats hot paths: recording one request on a worker, merging two
//! endpoints, and the V2 histogram bytes a report carries (encode on the worker, decode on the
//! master). Run with `cargo bench -p lv-common --bench stats`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lv_common::kind::SloKind;
use lv_common::stats::{EndpointStats, RequestPhases, StatsSet};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Samples per endpoint in one report interval.
const SAMPLES: usize = 3_000;

/// A latency between 100 us and 5 s, bunched in the middle on a log scale.
fn latency(rng: &mut SmallRng) -> u64 {
    let u = (rng.random::<f64>() + rng.random::<f64>()) / 2.0;
    (100.0 * (5e6f64 / 100.0).powf(u)).round() as u64
}

/// One endpoint's stats for one report interval.
fn endpoint(seed: u64) -> EndpointStats {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut stats = EndpointStats::new(Some(SloKind::Chat));
    for _ in 0..SAMPLES {
        let failed = rng.random_range(0..100) == 0;
        stats.record(latency(&mut rng), rng.random_range(0..5_000), failed);
    }
    stats
}

fn decode(stats: &EndpointStats, bytes: &[u8]) -> EndpointStats {
    EndpointStats::from_parts(
        stats.kind,
        stats.requests,
        stats.failures,
        stats.content_bytes,
        stats.min_us,
        stats.max_us,
        stats.total_us,
        bytes,
    )
    .expect("bytes of a real histogram decode")
}

fn record(c: &mut Criterion) {
    let mut set = StatsSet::default();
    set.record_request("GET", "ATLAS /health", Some(SloKind::Health), 250, 20, None);
    let mut latency_us = 0;
    c.bench_function("stats/record_request (existing endpoint)", |b| {
        b.iter(|| {
            latency_us = (latency_us + 7_919) % 2_000_000;
            set.record_request(
                black_box("GET"),
                black_box("ATLAS /health"),
                Some(SloKind::Health),
                latency_us,
                20,
                None,
            );
        });
    });
    let phases = RequestPhases {
        connect_us: None,
        tls_us: None,
        ttfb_us: 180,
        body_us: 3,
    };
    set.record_phases("GET", "ATLAS /health", &phases);
    c.bench_function(
        "stats/record_phases (existing endpoint, reused connection)",
        |b| {
            b.iter(|| {
                latency_us = (latency_us + 7_919) % 2_000_000;
                let phases = RequestPhases {
                    ttfb_us: latency_us,
                    ..phases
                };
                set.record_phases(black_box("GET"), black_box("ATLAS /health"), &phases);
            });
        },
    );
}

fn merge(c: &mut Criterion) {
    let (a, b) = (endpoint(1), endpoint(2));
    c.bench_function("stats/merge two EndpointStats", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |mine| mine.merge(black_box(&b)),
            BatchSize::LargeInput,
        );
    });
    let decoded = decode(&b, &b.histogram_bytes());
    c.bench_function("stats/merge a decoded EndpointStats", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |mine| mine.merge(black_box(&decoded)),
            BatchSize::LargeInput,
        );
    });
}

fn v2_bytes(c: &mut Criterion) {
    let stats = endpoint(3);
    c.bench_function("stats/histogram to V2 bytes", |b| {
        b.iter(|| black_box(&stats).histogram_bytes());
    });
    let bytes = stats.histogram_bytes();
    c.bench_function("stats/from_parts (decode V2 bytes)", |b| {
        b.iter(|| decode(&stats, black_box(&bytes)));
    });
}

fn interval(c: &mut Criterion) {
    // What a worker pays per endpoint per report interval: take the set, then the first
    // request of the next interval makes a new endpoint (and its histogram).
    let mut set = StatsSet::default();
    c.bench_function("stats/take + first record of the next interval", |b| {
        b.iter(|| {
            set.record_request("GET", "ATLAS /health", Some(SloKind::Health), 250, 20, None);
            black_box(set.take())
        });
    });
}

criterion_group!(benches, record, merge, v2_bytes, interval);
criterion_main!(benches);
