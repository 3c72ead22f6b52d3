//! The open model's part of a run's report: arrival counters, planned against achieved
//! rate, service-time and schedule-lag tables, and whether the generator limited the run.

use std::time::Duration;

use lv_common::load::{OpenStats, Schedule};
use serde::{Deserialize, Serialize};

use super::generator::{GeneratorCause, GeneratorWarning};
use super::rows::EndpointSummary;
use crate::aggregate::{OpenInterval, RunStats};

/// Schedule lag p99 above this (ms) means the generator itself was late.
pub const LAG_LIMIT_MS: f64 = 10.0;
/// [`LAG_LIMIT_MS`] in microseconds: a request sent later than this is counted late.
const LAG_LIMIT_US: u64 = (LAG_LIMIT_MS * 1000.0) as u64;

/// What an open-model run planned, fired and measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenSummary {
    /// Arrivals the schedule planned.
    pub planned: u64,
    /// Arrivals whose instant came on a worker.
    pub scheduled: u64,
    /// Arrivals whose iteration began.
    pub started: u64,
    /// Arrivals not started because the in-flight cap was reached (drop mode).
    pub dropped: u64,
    /// Iterations that ended with every request successful.
    pub completed: u64,
    /// Iterations that ended with a failed request.
    pub failed: u64,
    /// Arrivals owed by lost workers that no worker fired.
    pub lost: u64,
    /// Planned arrivals per second over the schedule.
    pub planned_rate: f64,
    /// Started arrivals per second over the schedule.
    pub achieved_rate: f64,
    /// Median schedule lag over every request, ms.
    pub lag_p50_ms: f64,
    /// 99th percentile of the schedule lag over every request, ms.
    pub lag_p99_ms: f64,
    /// Requests sent more than [`LAG_LIMIT_MS`] after their planned instant (to the lag
    /// histogram's 0.1%); absent in reports written before lv counted them.
    #[serde(default)]
    pub late: u64,
    /// Service time (end − actual send) per endpoint.
    pub service: Vec<EndpointSummary>,
    /// Schedule lag (actual send − intended start) per endpoint.
    pub lag: Vec<EndpointSummary>,
    /// Arrivals were dropped or the lag's p99 exceeded [`LAG_LIMIT_MS`].
    pub generator_limited: bool,
    /// The run's report intervals: achieved against target arrival rate (absent in a
    /// stage's summary and in reports written before lv had it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<IntervalRate>,
}

/// One report interval of an open-model run: the rate the schedule asked for and the rate
/// achieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRate {
    /// Start of the interval, seconds from the schedule's start (negative before it).
    pub from_s: f64,
    /// End of the interval, seconds from the schedule's start.
    pub to_s: f64,
    /// Arrivals per second planned over the interval: (A(to) − A(from)) / (to − from).
    pub target_rate: f64,
    /// Arrivals started per second over the interval.
    pub achieved_rate: f64,
    /// Arrivals whose instant came in the interval.
    pub scheduled: u64,
    /// Arrivals started in the interval.
    pub started: u64,
    /// Arrivals dropped at the in-flight cap in the interval.
    pub dropped: u64,
}

/// Target and achieved rates of each interval; offsets are from `origin_unix_ms`, the
/// schedule's start.
pub fn interval_rates(
    intervals: &[OpenInterval],
    schedule: &Schedule,
    origin_unix_ms: i64,
) -> Vec<IntervalRate> {
    let level = |s: f64| schedule.level_at(Duration::from_secs_f64(s.max(0.0)));
    intervals
        .iter()
        .map(|i| {
            let from_s = (i.from_unix_ms - origin_unix_ms) as f64 / 1000.0;
            let to_s = (i.to_unix_ms - origin_unix_ms) as f64 / 1000.0;
            let span = to_s - from_s;
            let per_s = |n: f64| if span > 0.0 { n / span } else { 0.0 };
            IntervalRate {
                from_s,
                to_s,
                target_rate: per_s(level(to_s) - level(from_s)),
                achieved_rate: per_s(i.started as f64),
                scheduled: i.scheduled,
                started: i.started,
                dropped: i.dropped,
            }
        })
        .collect()
}

impl OpenSummary {
    /// The summary of the run `stats` for `schedule` (started at `origin_unix_ms`) and a run
    /// of `seconds`, with its intervals' rates.
    pub fn new(
        stats: &RunStats,
        schedule: &Schedule,
        origin_unix_ms: i64,
        seconds: f64,
    ) -> OpenSummary {
        let c = &stats.open.counts;
        let planned = stats.planned_arrivals.unwrap_or(c.scheduled + c.lost);
        let schedule_s = schedule.duration().as_secs_f64();
        OpenSummary {
            intervals: interval_rates(&stats.open_intervals, schedule, origin_unix_ms),
            ..OpenSummary::from_parts(&stats.open, planned, schedule_s, seconds)
        }
    }

    /// The summary of `open` (a run's or a stage's) with `planned` arrivals over `schedule_s`
    /// seconds of schedule and `seconds` of run; no interval rows.
    pub fn from_parts(
        open: &OpenStats,
        planned: u64,
        schedule_s: f64,
        seconds: f64,
    ) -> OpenSummary {
        let c = &open.counts;
        let lag = open.total_lag();
        let (lag_p50_ms, lag_p99_ms) = (lag.percentile_ms(50.0), lag.percentile_ms(99.0));
        let per_s = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        let rows =
            |pick: fn(&lv_common::load::OpenEndpoint) -> &lv_common::stats::EndpointStats| {
                open.endpoints
                    .iter()
                    .map(|(key, e)| EndpointSummary::new(&key.method, &key.name, pick(e), seconds))
                    .collect()
            };
        OpenSummary {
            planned,
            scheduled: c.scheduled,
            started: c.started,
            dropped: c.dropped,
            completed: c.completed,
            failed: c.failed,
            lost: c.lost,
            planned_rate: per_s(planned, schedule_s),
            achieved_rate: per_s(c.started, schedule_s),
            lag_p50_ms,
            lag_p99_ms,
            late: lag.count_above_us(LAG_LIMIT_US),
            service: rows(|e| &e.service),
            lag: rows(|e| &e.lag),
            generator_limited: c.dropped > 0 || lag_p99_ms > LAG_LIMIT_MS,
            intervals: Vec::new(),
        }
    }

    /// Why the generator limited the run, if it did: arrivals dropped, a late schedule.
    pub fn warnings(&self) -> Vec<GeneratorWarning> {
        let mut warnings = Vec::new();
        if self.dropped > 0 {
            warnings.push(GeneratorWarning::run_wide(
                GeneratorCause::ArrivalsDropped,
                format!("{} arrivals dropped at the in-flight cap", self.dropped),
            ));
        }
        if self.lag_p99_ms > LAG_LIMIT_MS {
            warnings.push(GeneratorWarning::run_wide(
                GeneratorCause::ScheduleLag,
                format!(
                    "schedule lag p99 {:.1} ms above {LAG_LIMIT_MS} ms; {} requests sent more than {LAG_LIMIT_MS} ms late",
                    self.lag_p99_ms, self.late
                ),
            ));
        }
        warnings
    }

    /// The console lines of the open model (the generator warning is the run's, printed
    /// once for every cause).
    pub fn console(&self) -> String {
        format!(
            "\nOpen model: {} arrivals planned ({:.1}/s), {} scheduled, {} started ({:.1}/s), {} dropped, {} lost; {} iterations completed, {} failed\nSchedule lag p50 {:.1} ms, p99 {:.1} ms, {} requests sent more than {LAG_LIMIT_MS} ms late (response times above are measured from the planned instants)\n",
            self.planned,
            self.planned_rate,
            self.scheduled,
            self.started,
            self.achieved_rate,
            self.dropped,
            self.lost,
            self.completed,
            self.failed,
            self.lag_p50_ms,
            self.lag_p99_ms,
            self.late,
        )
    }
}

#[cfg(test)]
mod tests {
    use lv_common::load::{ArrivalCounts, RequestTiming};

    use super::*;

    /// 10 arrivals per second for `seconds`.
    fn flat(seconds: f64) -> Schedule {
        Schedule::new(10.0, &[(Duration::from_secs_f64(seconds), 10.0)])
    }

    fn stats(dropped: u64, lag: Duration) -> RunStats {
        let mut stats = RunStats::default();
        stats.open.counts.scheduled = 100;
        stats.open.counts.started = 100 - dropped;
        stats.open.counts.dropped = dropped;
        stats.open.counts.completed = 100 - dropped;
        for _ in 0..100 - dropped {
            stats.open.record(
                "GET",
                "/x",
                RequestTiming::new(lag, Duration::from_millis(3)),
            );
        }
        stats.planned_arrivals = Some(100);
        stats
    }

    #[test]
    fn a_clean_run_is_not_limited() {
        let summary = OpenSummary::new(&stats(0, Duration::from_micros(200)), &flat(10.0), 0, 11.0);
        assert_eq!((summary.planned, summary.started), (100, 100));
        assert!((summary.planned_rate - 10.0).abs() < 1e-9);
        assert!(!summary.generator_limited);
        assert_eq!(summary.warnings(), []);
        assert_eq!(summary.service[0].requests, 100);
        assert!(summary.lag_p99_ms < 1.0);
    }

    #[test]
    fn drops_and_lag_say_the_generator_limited_the_run() {
        let dropped = OpenSummary::new(&stats(7, Duration::ZERO), &flat(10.0), 0, 10.0);
        assert!(dropped.generator_limited);
        let warnings = dropped.warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].cause, GeneratorCause::ArrivalsDropped);
        assert_eq!(
            warnings[0].detail,
            "7 arrivals dropped at the in-flight cap"
        );
        let late = OpenSummary::new(&stats(0, Duration::from_millis(50)), &flat(10.0), 0, 10.0);
        let warnings = late.warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].cause, GeneratorCause::ScheduleLag);
        assert!(
            warnings[0].detail.contains("lag p99"),
            "{}",
            warnings[0].detail
        );
        assert_eq!(late.late, 100);
        assert!(
            warnings[0]
                .detail
                .ends_with("ms above 10 ms; 100 requests sent more than 10 ms late")
        );
        assert!(
            late.console()
                .contains(", 100 requests sent more than 10 ms late")
        );
    }

    #[test]
    fn only_requests_sent_past_the_limit_count_late() {
        let on_time = OpenSummary::new(
            &stats(0, Duration::from_micros(9_900)),
            &flat(10.0),
            0,
            10.0,
        );
        assert_eq!(on_time.late, 0);
        // One request of 101 sent 11 ms late: counted, though the p99 stays at 1 ms.
        let mut mixed = stats(0, Duration::from_millis(1));
        let timing = RequestTiming::new(Duration::from_millis(11), Duration::from_millis(3));
        mixed.open.record("GET", "/y", timing);
        let mixed = OpenSummary::new(&mixed, &flat(10.0), 0, 10.0);
        assert_eq!(mixed.late, 1);
        assert!(!mixed.generator_limited, "a p99 under the limit");
    }

    #[test]
    fn intervals_compare_the_achieved_rate_with_the_schedule() {
        // 50/s for 2 s, then a ramp to 100/s over 2 s.
        let schedule = Schedule::new(
            50.0,
            &[
                (Duration::from_secs(2), 50.0),
                (Duration::from_secs(2), 100.0),
            ],
        );
        let counts = |started| ArrivalCounts {
            scheduled: started,
            started,
            ..ArrivalCounts::default()
        };
        let mut run = stats(0, Duration::ZERO);
        run.open_intervals = vec![
            OpenInterval::new(1_000, 3_000, &counts(100)),
            OpenInterval::new(3_000, 5_000, &counts(150)),
            OpenInterval::new(5_000, 6_000, &counts(0)),
        ];
        let summary = OpenSummary::new(&run, &schedule, 1_000, 6.0);
        let rates: Vec<(f64, f64, f64)> = summary
            .intervals
            .iter()
            .map(|i| (i.from_s, i.target_rate, i.achieved_rate))
            .collect();
        assert_eq!(
            rates,
            [(0.0, 50.0, 50.0), (2.0, 75.0, 75.0), (4.0, 0.0, 0.0)]
        );
        assert_eq!(summary.intervals[1].started, 150);
        let json = serde_json::to_value(&summary).expect("json");
        assert_eq!(json["intervals"][1]["target_rate"], 75.0);
    }
}
