//! Peaks, means and the overload rule, heartbeat by heartbeat.

use super::*;

fn beat(cpu: f64, delay_ms: u64) -> pb::Resources {
    pb::Resources {
        cpu_percent: Some(cpu),
        memory_bytes: Some(10_000_000),
        connections: 4,
        sched_delay_us: delay_ms * 1000,
    }
}

/// Feeds `cpus` (with `delay_ms` each) one heartbeat a second from 1 s on, measured.
fn track(cpus: &[f64], delay_ms: u64) -> ResourceTrack {
    let mut track = ResourceTrack::default();
    for (i, cpu) in (1..).zip(cpus) {
        track.observe(&beat(*cpu, delay_ms), i * 1000, true);
    }
    track
}

#[test]
fn the_rule_needs_three_beats_over_five_seconds() {
    assert!(!sustained(2, 10_000), "two beats are a spike");
    assert!(!sustained(4, 4_999), "under five seconds");
    assert!(sustained(3, 5_000));
    assert!(sustained(10, 60_000));
}

#[test]
fn peak_and_mean_are_over_the_run_the_last_is_the_latest() {
    let mut track = ResourceTrack::default();
    assert_eq!(track.summary(), None, "nothing heard");
    track.observe(&beat(5.0, 1), 0, false);
    let idle = track.summary().expect("heard");
    assert_eq!(idle.samples, 0);
    assert_eq!(
        idle.cpu_percent.map(|g| (g.last, g.peak, g.mean)),
        Some((5.0, 0.0, 0.0))
    );
    for (at, cpu) in [(1_000, 20.0), (2_000, 60.0), (3_000, 10.0)] {
        track.observe(&beat(cpu, 2), at, true);
    }
    let s = track.summary().expect("heard");
    assert_eq!(s.samples, 3);
    let cpu = s.cpu_percent.expect("cpu");
    assert_eq!((cpu.last, cpu.peak), (10.0, 60.0));
    assert!((cpu.mean - 30.0).abs() < 1e-9, "{}", cpu.mean);
    assert_eq!(s.memory_bytes.map(|g| g.peak), Some(10_000_000.0));
    assert_eq!(s.connections.mean, 4.0);
    assert_eq!(s.sched_delay_ms.last, 2.0);
    assert!(s.overloads.is_empty());
    assert!(s.warnings("w1").is_empty());
}

#[test]
fn a_worker_that_cannot_measure_has_no_cpu_or_memory() {
    let mut track = ResourceTrack::default();
    let blind = pb::Resources {
        connections: 2,
        ..pb::Resources::default()
    };
    track.observe(&blind, 1_000, true);
    let s = track.summary().expect("heard");
    assert_eq!((s.cpu_percent, s.memory_bytes), (None, None));
    assert_eq!(s.connections.last, 2.0);
    let json = serde_json::to_value(&s).expect("json");
    assert!(json.get("cpu_percent").is_none(), "{json}");
}

#[test]
fn five_seconds_above_ninety_percent_cpu_is_an_overload() {
    // Four beats above 90% span 1 s (the beat before) .. 5 s = 4 s: not yet.
    let short = track(&[10.0, 95.0, 96.0, 97.0, 98.0], 1);
    assert!(short.summary().expect("heard").overloads.is_empty());
    // A fifth one makes 5 s; a sixth extends the same period.
    let long = track(&[10.0, 95.0, 96.0, 99.6, 98.0, 97.0, 96.0, 20.0], 1);
    let s = long.summary().expect("heard");
    assert_eq!(
        s.overloads,
        [Overload {
            cause: GeneratorCause::WorkerCpu,
            from_unix_ms: 1_000,
            to_unix_ms: 7_000,
            peak: 99.6,
        }]
    );
    let warnings = s.warnings("w1");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].worker_id.as_deref(), Some("w1"));
    assert_eq!(
        warnings[0].detail,
        "worker w1 above 90% CPU for 6.0 s (peak 100%)"
    );
}

#[test]
fn a_dip_below_the_limit_restarts_the_count() {
    let s = track(&[95.0, 95.0, 95.0, 80.0, 95.0, 95.0, 95.0, 95.0], 1)
        .summary()
        .expect("heard");
    assert!(s.overloads.is_empty(), "{:?}", s.overloads);
    // Two separate periods are two overloads.
    let cpus = [[95.0; 6].as_slice(), &[10.0], &[95.0; 6]].concat();
    let s = track(&cpus, 1).summary().expect("heard");
    assert_eq!(s.overloads.len(), 2, "{:?}", s.overloads);
    assert_eq!(s.overloads[1].from_unix_ms, 7_000);
}

#[test]
fn a_late_runtime_is_an_overload_too() {
    let s = track(&[30.0; 7], 120).summary().expect("heard");
    assert_eq!(s.overloads.len(), 1);
    let o = &s.overloads[0];
    assert_eq!(o.cause, GeneratorCause::WorkerSchedDelay);
    assert_eq!(
        (o.from_unix_ms, o.to_unix_ms, o.peak),
        (1_000, 7_000, 120.0)
    );
    assert_eq!(
        s.warnings("w2")[0].detail,
        "worker w2's scheduling delay above 50 ms for 6.0 s (peak 120 ms)"
    );
    assert!(
        track(&[30.0; 7], 50)
            .summary()
            .expect("heard")
            .overloads
            .is_empty(),
        "at the bound"
    );
}

#[test]
fn heartbeats_between_runs_count_in_no_overload() {
    let mut track = ResourceTrack::default();
    for i in 0..10 {
        track.observe(&beat(99.0, 200), i * 1000, false);
    }
    let s = track.summary().expect("heard");
    assert!(s.overloads.is_empty());
    assert_eq!(s.cpu_percent.map(|g| g.last), Some(99.0));
}

#[test]
fn a_restored_track_goes_on_from_the_checkpoint() {
    let before = track(&[95.0; 6], 1).summary().expect("heard");
    let mut again = ResourceTrack::restored(&before);
    again.observe(&beat(10.0, 1), 20_000, true);
    let s = again.summary().expect("heard");
    assert_eq!(s.samples, 7);
    let cpu = s.cpu_percent.expect("cpu");
    assert_eq!((cpu.last, cpu.peak), (10.0, 95.0));
    assert!((cpu.mean - (95.0 * 6.0 + 10.0) / 7.0).abs() < 1e-9);
    assert_eq!(s.overloads, before.overloads);
}
