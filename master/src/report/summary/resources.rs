//! A worker's own load over a run, from the figures its heartbeats carry: the latest of
//! each, its peak and its mean over the heartbeats of the run, and the periods in which
//! the worker was overloaded.
//!
//! The rule ([`sustained`]): a worker is overloaded while its CPU is above
//! [`CPU_LIMIT_PERCENT`] (of the cores it may use), or its scheduling delay above
//! [`DELAY_LIMIT_MS`], in at least [`SUSTAINED_BEATS`] heartbeats in a row that span at
//! least [`SUSTAINED_MS`] (a heartbeat's figures cover the interval since the previous
//! one, so the span starts at the heartbeat before the first one above). A moment's spike
//! is not a limit; a worker busy for seconds delays every request it times.

use lv_common::pb;
use serde::{Deserialize, Serialize};

use super::generator::{GeneratorCause, GeneratorWarning};

#[cfg(test)]
mod tests;

/// CPU above this, in percent of the cores a worker may use, is overload.
pub const CPU_LIMIT_PERCENT: f64 = 90.0;
/// A scheduling delay above this (the most a worker's runtime was late in a heartbeat
/// interval), ms, is overload.
pub const DELAY_LIMIT_MS: f64 = 50.0;
/// Heartbeats in a row above a limit, at least, for an overload.
pub const SUSTAINED_BEATS: u32 = 3;
/// Milliseconds above a limit, at least, for an overload.
pub const SUSTAINED_MS: i64 = 5_000;
/// Overload periods kept per worker (a worker that flaps for hours keeps its first ones).
const MAX_OVERLOADS: usize = 100;

/// One figure of a worker: its latest value, and its peak and mean over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    /// The latest heartbeat's value.
    pub last: f64,
    /// The highest value of the run's heartbeats.
    pub peak: f64,
    /// The mean of the run's heartbeats.
    pub mean: f64,
}

/// A period in which a worker was overloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overload {
    /// `worker_cpu` or `worker_sched_delay`.
    pub cause: GeneratorCause,
    /// Start (the heartbeat before the first one above the limit), Unix ms.
    pub from_unix_ms: i64,
    /// The last heartbeat above the limit, Unix ms.
    pub to_unix_ms: i64,
    /// The highest value in the period (percent, or ms).
    pub peak: f64,
}

/// What a worker's heartbeats said of its load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerResources {
    /// Heartbeats of the run that carried figures (peaks and means are over these).
    pub samples: u64,
    /// Process CPU, percent of the cores the worker may use (absent when it cannot
    /// measure it: no `/proc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Gauge>,
    /// Resident memory, bytes (absent when it cannot measure it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<Gauge>,
    /// Connections to targets open.
    pub connections: Gauge,
    /// How late, at most, its runtime woke a task in a heartbeat interval, ms.
    pub sched_delay_ms: Gauge,
    /// Periods it was overloaded, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overloads: Vec<Overload>,
}

impl WorkerResources {
    /// The generator warnings of worker `id`: one per overload period.
    pub fn warnings(&self, id: &str) -> Vec<GeneratorWarning> {
        self.overloads
            .iter()
            .map(|o| GeneratorWarning {
                cause: o.cause,
                worker_id: Some(id.to_owned()),
                from_unix_ms: Some(o.from_unix_ms),
                to_unix_ms: Some(o.to_unix_ms),
                detail: overload_text(id, o),
            })
            .collect()
    }
}

/// `worker w1 above 90% CPU for 6.0 s (peak 99%)`, or the same of its scheduling delay.
fn overload_text(id: &str, o: &Overload) -> String {
    let seconds = (o.to_unix_ms - o.from_unix_ms).max(0) as f64 / 1000.0;
    match o.cause {
        GeneratorCause::WorkerSchedDelay => format!(
            "worker {id}'s scheduling delay above {DELAY_LIMIT_MS} ms for {seconds:.1} s (peak {:.0} ms)",
            o.peak
        ),
        _ => format!(
            "worker {id} above {CPU_LIMIT_PERCENT}% CPU for {seconds:.1} s (peak {:.0}%)",
            o.peak
        ),
    }
}

/// Whether `beats` heartbeats in a row above a limit, spanning `span_ms`, are an overload.
pub fn sustained(beats: u32, span_ms: i64) -> bool {
    beats >= SUSTAINED_BEATS && span_ms >= SUSTAINED_MS
}

/// Running peak and sum of one figure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Acc {
    last: f64,
    peak: f64,
    sum: f64,
    count: u64,
}

impl Acc {
    fn see(&mut self, value: f64, measured: bool) {
        self.last = value;
        if measured {
            self.peak = self.peak.max(value);
            self.sum += value;
            self.count += 1;
        }
    }

    fn gauge(&self) -> Gauge {
        Gauge {
            last: self.last,
            peak: self.peak,
            mean: if self.count > 0 {
                self.sum / self.count as f64
            } else {
                0.0
            },
        }
    }

    fn from_gauge(g: Gauge, count: u64) -> Acc {
        Acc {
            last: g.last,
            peak: g.peak,
            sum: g.mean * count as f64,
            count,
        }
    }
}

/// Heartbeats in a row above one limit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Streak {
    from_ms: i64,
    beats: u32,
    peak: f64,
    /// Its entry in the overloads, once sustained.
    overload: Option<usize>,
}

/// A worker's load as its heartbeats tell it: the latest figures always, peaks, means and
/// overloads over the heartbeats of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceTrack {
    heard: bool,
    last_beat_ms: Option<i64>,
    samples: u64,
    cpu: Option<Acc>,
    memory: Option<Acc>,
    connections: Acc,
    delay: Acc,
    cpu_streak: Option<Streak>,
    delay_streak: Option<Streak>,
    overloads: Vec<Overload>,
}

impl ResourceTrack {
    /// A heartbeat's figures at `at_ms` (Unix ms); `measured` when the run is going (its
    /// peaks, means and overloads count only those).
    pub fn observe(&mut self, r: &pb::Resources, at_ms: i64, measured: bool) {
        let from_ms = self.last_beat_ms.unwrap_or(at_ms).min(at_ms);
        self.last_beat_ms = Some(at_ms);
        self.heard = true;
        self.samples += u64::from(measured);
        match r.cpu_percent {
            Some(cpu) => self.cpu.get_or_insert_default().see(cpu, measured),
            None => self.cpu = None,
        }
        match r.memory_bytes {
            Some(bytes) => self
                .memory
                .get_or_insert_default()
                .see(bytes as f64, measured),
            None => self.memory = None,
        }
        self.connections.see(f64::from(r.connections), measured);
        let delay_ms = r.sched_delay_us as f64 / 1000.0;
        self.delay.see(delay_ms, measured);
        if !measured {
            (self.cpu_streak, self.delay_streak) = (None, None);
            return;
        }
        let cpu = r.cpu_percent.filter(|&c| c > CPU_LIMIT_PERCENT);
        let delay = Some(delay_ms).filter(|&d| d > DELAY_LIMIT_MS);
        let span = (from_ms, at_ms);
        self.cpu_streak = self.step(self.cpu_streak, cpu, span, GeneratorCause::WorkerCpu);
        self.delay_streak = self.step(
            self.delay_streak,
            delay,
            span,
            GeneratorCause::WorkerSchedDelay,
        );
    }

    /// The streak after a heartbeat covering `(from, at)` ms that is `above` the limit (its
    /// value) or not, recording the overload it makes.
    fn step(
        &mut self,
        streak: Option<Streak>,
        above: Option<f64>,
        (from_ms, at_ms): (i64, i64),
        cause: GeneratorCause,
    ) -> Option<Streak> {
        let value = above?;
        let mut streak = streak.unwrap_or(Streak {
            from_ms,
            beats: 0,
            peak: value,
            overload: None,
        });
        streak.beats += 1;
        streak.peak = streak.peak.max(value);
        if !sustained(streak.beats, at_ms - streak.from_ms) {
            return Some(streak);
        }
        let overload = Overload {
            cause,
            from_unix_ms: streak.from_ms,
            to_unix_ms: at_ms,
            peak: streak.peak,
        };
        if let Some(open) = streak.overload.and_then(|i| self.overloads.get_mut(i)) {
            *open = overload;
        } else if self.overloads.len() < MAX_OVERLOADS {
            streak.overload = Some(self.overloads.len());
            self.overloads.push(overload);
        }
        Some(streak)
    }

    /// What the heartbeats said; `None` before the first with figures.
    pub fn summary(&self) -> Option<WorkerResources> {
        self.heard.then(|| WorkerResources {
            samples: self.samples,
            cpu_percent: self.cpu.map(|a| a.gauge()),
            memory_bytes: self.memory.map(|a| a.gauge()),
            connections: self.connections.gauge(),
            sched_delay_ms: self.delay.gauge(),
            overloads: self.overloads.clone(),
        })
    }

    /// The track a checkpoint's `summary` left, to go on from after `--resume`.
    pub fn restored(summary: &WorkerResources) -> ResourceTrack {
        let count = summary.samples;
        ResourceTrack {
            heard: true,
            samples: count,
            cpu: summary.cpu_percent.map(|g| Acc::from_gauge(g, count)),
            memory: summary.memory_bytes.map(|g| Acc::from_gauge(g, count)),
            connections: Acc::from_gauge(summary.connections, count),
            delay: Acc::from_gauge(summary.sched_delay_ms, count),
            overloads: summary.overloads.clone(),
            ..ResourceTrack::default()
        }
    }
}
