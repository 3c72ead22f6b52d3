//! The top of the HTML report, what a reader wants first: which run, the verdict, and the
//! key figures (requests, failures, RPS, p50/p95/p99) as cards.

use std::fmt::Write as _;

use super::markup::escape;
use crate::report::format::{decimal, duration, ms, percent, utc_timestamp};
use crate::report::summary::Summary;

/// The page header: the run id, when it started, how long it ran, and its profile (the host
/// is in the run details, the one place a URL appears as text).
pub(super) fn header(out: &mut String, s: &Summary) {
    let start = if s.started_unix_ms > 0 {
        utc_timestamp(s.started_unix_ms)
    } else {
        "not started".to_owned()
    };
    let profile = s
        .meta
        .profile
        .as_deref()
        .map_or_else(String::new, |p| format!(" · profile {p}"));
    let _ = writeln!(
        out,
        "<header><div class=\"brand\">lv</div><div><h1>Load test report</h1>\
         <p class=\"sub\">{} · {} · {}{}</p></div></header>",
        escape(&s.run_id),
        start,
        duration(s.run_time_s),
        escape(&profile)
    );
}

/// The banner's class and word for a run: a checkpoint is a run still going.
fn outcome(exit_code: i32, checkpoint: bool) -> (&'static str, &'static str) {
    match (checkpoint, exit_code) {
        (true, _) => ("running", "IN PROGRESS"),
        (false, 0) => ("pass", "PASSED"),
        (false, 1) => ("fail", "FAILED"),
        (false, _) => ("fail", "NOT CARRIED OUT"),
    }
}

/// The verdict banner: passed or failed, why, and the exit code.
pub(super) fn verdict(out: &mut String, s: &Summary) {
    let (class, word) = outcome(s.exit_code, s.checkpoint);
    let _ = writeln!(
        out,
        "<section id=\"verdict\" class=\"verdict {class}\"><strong>{word}</strong>\
         {} (exit code {})</section>",
        escape(&s.verdict),
        s.exit_code
    );
    for outage in &s.master_outages {
        let _ = writeln!(
            out,
            "<p class=\"note outage\">{}</p>",
            escape(&outage.describe())
        );
    }
}

/// The key figures of the whole run: `(label, value, bad)` per card.
fn cards(s: &Summary) -> Vec<(&'static str, String, bool)> {
    let t = &s.total;
    let ratio = if t.requests > 0 {
        t.failures as f64 / t.requests as f64
    } else {
        0.0
    };
    let latency = |value: f64| {
        if t.requests == 0 {
            "-".to_owned()
        } else {
            format!("{} ms", ms(value))
        }
    };
    vec![
        ("Requests", t.requests.to_string(), false),
        (
            "Failures",
            format!("{} ({})", t.failures, percent(ratio)),
            t.failures > 0,
        ),
        ("Requests/s", decimal(t.rps, 2), false),
        ("p50", latency(t.p50_ms), false),
        ("p95", latency(t.p95_ms), false),
        ("p99", latency(t.p99_ms), false),
        ("Average", latency(t.avg_ms), false),
        ("Max", latency(t.max_ms), false),
        // An open-model run has no users: its load is the planned arrival rate.
        match &s.open {
            Some(open) => ("Arrivals/s planned", decimal(open.planned_rate, 2), false),
            None => ("Users", s.users.to_string(), false),
        },
        ("Workers", s.workers.len().to_string(), false),
    ]
}

/// The key figures as a row of cards.
pub(super) fn figures(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"figures\" class=\"figures\">\n");
    for (label, value, bad) in cards(s) {
        let class = if bad { "card bad" } else { "card" };
        let _ = writeln!(
            out,
            "<div class=\"{class}\"><div class=\"label\">{label}</div>\
             <div class=\"value\">{}</div></div>",
            escape(&value)
        );
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::outcome;

    #[test]
    fn the_banner_follows_the_exit_code() {
        assert_eq!(outcome(0, false), ("pass", "PASSED"));
        assert_eq!(outcome(1, false), ("fail", "FAILED"));
        assert_eq!(outcome(3, false), ("fail", "NOT CARRIED OUT"));
        assert_eq!(outcome(0, true), ("running", "IN PROGRESS"));
    }
}
