//! The worker's own load, sent with every heartbeat: process CPU, resident memory, open
//! connections and how late the users' runtime runs its tasks.
//!
//! - CPU is the process's user + system time (every thread, from `/proc/self/stat`) over
//!   the wall time since the previous heartbeat, divided by the cores the process may use
//!   ([`std::thread::available_parallelism`], which respects the affinity mask and a
//!   cgroup CPU quota): 100% means every core it may use was busy the whole interval.
//! - Memory is the resident set (`VmRSS` of `/proc/self/status`).
//! - Connections come from the HTTP client's own counter (no scan of `/proc/self/fd`).
//! - The scheduling delay comes from [`probe_delay`], a task on the users' runtime that
//!   sleeps [`DELAY_PROBE`] again and again and notes how late it wakes: the most it was
//!   late during the interval (or is late now, if it has not woken yet). A runtime whose
//!   threads are all busy wakes it late, and every request of the worker waits as long.
//!
//! Where `/proc` cannot be read (not Linux), CPU and memory are absent; nothing panics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lv_common::pb;
use tokio_util::sync::CancellationToken;

use crate::http::HttpClient;

#[cfg(test)]
mod tests;

/// How long the delay probe sleeps between two wake-ups.
pub const DELAY_PROBE: Duration = Duration::from_millis(100);

/// No deadline pending in [`DelayProbe`].
const NONE: u64 = u64::MAX;

/// What the heartbeat reads: the delay probe's findings, the CPU reading of the previous
/// heartbeat, and the client whose connections it counts.
#[derive(Debug)]
pub struct Resources {
    cores: usize,
    ticks_per_s: Option<u64>,
    client: HttpClient,
    delay: Arc<DelayProbe>,
    /// Process CPU ticks at the previous sample, and when.
    last_cpu: Mutex<Option<(u64, Instant)>>,
}

impl Resources {
    /// Resources of this process, whose connections `client` opens; CPU counts from now.
    pub fn new(client: HttpClient) -> Resources {
        let resources = Resources {
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ticks_per_s: clock_ticks_per_second(),
            client,
            delay: Arc::new(DelayProbe::new()),
            last_cpu: Mutex::new(None),
        };
        resources.cpu_percent();
        resources
    }

    /// The probe [`probe_delay`] runs with.
    pub fn delay_probe(&self) -> Arc<DelayProbe> {
        Arc::clone(&self.delay)
    }

    /// The load since the previous sample (or since [`Resources::new`]).
    pub fn sample(&self) -> pb::Resources {
        pb::Resources {
            cpu_percent: self.cpu_percent(),
            memory_bytes: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|status| parse_vm_rss(&status)),
            connections: u32::try_from(self.client.open_connections()).unwrap_or(u32::MAX),
            sched_delay_us: duration_us(self.delay.take_max(Instant::now())),
        }
    }

    /// Process CPU since the previous call, percent of the cores it may use.
    fn cpu_percent(&self) -> Option<f64> {
        let ticks_per_s = self.ticks_per_s?;
        let ticks = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| parse_stat_ticks(&stat))?;
        let now = Instant::now();
        let mut last = self.last_cpu.lock().unwrap_or_else(PoisonError::into_inner);
        let before = last.replace((ticks, now));
        let (then_ticks, then) = before?;
        Some(cpu_percent(
            ticks.saturating_sub(then_ticks),
            ticks_per_s,
            now.saturating_duration_since(then),
            self.cores,
        ))
    }
}

/// The scheduling delay seen by [`probe_delay`]: the most it woke late since the last
/// [`DelayProbe::take_max`], and the deadline it waits for now.
#[derive(Debug)]
pub struct DelayProbe {
    base: Instant,
    /// Most lateness seen, µs.
    max_us: AtomicU64,
    /// The deadline of the sleep under way, µs after `base` ([`NONE`] when none).
    deadline_us: AtomicU64,
}

impl DelayProbe {
    fn new() -> DelayProbe {
        DelayProbe {
            base: Instant::now(),
            max_us: AtomicU64::new(0),
            deadline_us: AtomicU64::new(NONE),
        }
    }

    fn offset_us(&self, at: Instant) -> u64 {
        duration_us(at.saturating_duration_since(self.base))
    }

    /// A sleep that should end at `deadline` begins.
    fn sleeping_until(&self, deadline: Instant) {
        self.deadline_us
            .store(self.offset_us(deadline), Ordering::Relaxed);
    }

    /// The sleep ended at `woke`.
    fn woke(&self, woke: Instant) {
        let deadline = self.deadline_us.swap(NONE, Ordering::Relaxed);
        let late = late_us(deadline, self.offset_us(woke));
        self.max_us.fetch_max(late, Ordering::Relaxed);
    }

    /// The most the probe was late since the previous call, counting a sleep still
    /// overdue at `now`; starts a new interval.
    pub fn take_max(&self, now: Instant) -> Duration {
        let seen = self.max_us.swap(0, Ordering::Relaxed);
        let pending = late_us(
            self.deadline_us.load(Ordering::Relaxed),
            self.offset_us(now),
        );
        Duration::from_micros(seen.max(pending))
    }
}

/// Sleeps [`DELAY_PROBE`] again and again on the runtime it is spawned on, noting in
/// `probe` how late each sleep ends, until `cancel`.
pub async fn probe_delay(probe: Arc<DelayProbe>, cancel: CancellationToken) {
    loop {
        let deadline = Instant::now() + DELAY_PROBE;
        probe.sleeping_until(deadline);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(DELAY_PROBE) => probe.woke(Instant::now()),
        }
    }
}

/// How far `now_us` is past `deadline_us` (0 before it, or with no deadline).
fn late_us(deadline_us: u64, now_us: u64) -> u64 {
    if deadline_us == NONE {
        return 0;
    }
    now_us.saturating_sub(deadline_us)
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// CPU time of `ticks` (at `ticks_per_s`) over `wall` on `cores` cores, in percent of all
/// of them (0 for an empty interval).
pub fn cpu_percent(ticks: u64, ticks_per_s: u64, wall: Duration, cores: usize) -> f64 {
    let capacity = wall.as_secs_f64() * cores.max(1) as f64;
    if capacity <= 0.0 || ticks_per_s == 0 {
        return 0.0;
    }
    ticks as f64 / ticks_per_s as f64 / capacity * 100.0
}

/// User + system CPU ticks (fields 14 and 15) of a `/proc/<pid>/stat` line.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses
    // itself: the fields that follow start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

/// The resident set in bytes, from the `VmRSS:  1234 kB` line of `/proc/<pid>/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let mut words = line.split_ascii_whitespace();
    let kb: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(kb.saturating_mul(1024)),
        _ => None,
    }
}

/// Clock ticks per second of `/proc`'s CPU times (`sysconf(_SC_CLK_TCK)`).
#[allow(unsafe_code)]
fn clock_ticks_per_second() -> Option<u64> {
    // SAFETY: sysconf reads a constant of the system; it takes no pointer.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}
