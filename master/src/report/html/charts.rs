//! The HTML report's charts: inline SVG line charts of the run's history (requests and
//! failures per second, response times, users, and response times per SLO kind, each kind on
//! its own scale), drawn here so the page needs no script.
//! Times on the x axis are seconds from the first history row, with the master's UTC clock
//! at both ends.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use lv_common::kind::SloKind;

use super::markup::{escape, heading};
use crate::aggregate::{HistoryRow, KindHistory};
use crate::report::format::{decimal, utc_clock};
use crate::report::summary::IntervalRate;

/// One line of a chart: label, colour and one value per history row (`None`: a gap).
struct Series<'a>(&'a str, &'a str, Vec<Option<f64>>);

/// The viewBox of a chart, width and height.
type Size = (f64, f64);

/// A full-size chart.
const FULL: Size = (800.0, 260.0);
/// A chart of one SLO kind, four of which fit in two rows.
const SMALL: Size = (640.0, 220.0);
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

/// The charts of the run's history, side by side on wide screens.
pub(super) fn charts_section(out: &mut String, history: &[HistoryRow]) {
    heading(out, "charts", "Charts");
    out.push_str("<div class=\"charts\">\n");
    let first = history.first().map_or(0, |r| r.unix_ms);
    let xs: Vec<f64> = history
        .iter()
        .map(|r| (r.unix_ms.saturating_sub(first) as f64 / 1000.0).max(0.0))
        .collect();
    let column = |f: fn(&HistoryRow) -> f64| history.iter().map(|r| Some(f(r))).collect();
    let ends = Some((first, history.last().map_or(0, |r| r.unix_ms)));
    let rps = [
        Series("requests/s", "#059669", column(|r| r.rps)),
        Series("failures/s", "#dc2626", column(|r| r.fps)),
    ];
    chart(
        out,
        "Requests and failures per second",
        None,
        &xs,
        ends,
        &rps,
    );
    let latency = [
        Series("p50 (ms)", "#2563eb", column(|r| r.p50_ms)),
        Series("p95 (ms)", "#d97706", column(|r| r.p95_ms)),
    ];
    chart(
        out,
        "Response time, all endpoints (ms, current window)",
        None,
        &xs,
        ends,
        &latency,
    );
    let users = [Series("users", "#7c3aed", column(|r| f64::from(r.users)))];
    chart(out, "Users", None, &xs, ends, &users);
    out.push_str("</div>\n");
    kind_charts(out, history, &xs, ends);
}

/// One small response-time chart per SLO kind in the history, each on its own scale, so a
/// kind answering in 100 ms does not flatten one answering in 1 ms; nothing when the history
/// has no kind lines (endpoints without kinds, or a report written before lv kept them).
fn kind_charts(out: &mut String, history: &[HistoryRow], xs: &[f64], ends: Option<(i64, i64)>) {
    let kinds: BTreeSet<SloKind> = history
        .iter()
        .flat_map(|r| r.kinds.keys().copied())
        .collect();
    if kinds.is_empty() {
        return;
    }
    out.push_str(
        "<h3 id=\"kind-charts\">Response time per SLO kind (ms, current window)</h3>\n\
         <p class=\"kinds\">Each kind on its own scale; a gap is a window without a request \
         of that kind.</p>\n<div class=\"charts kinds\">\n",
    );
    for kind in kinds {
        let column = |f: fn(&KindHistory) -> Option<f64>| {
            let values = history.iter().map(|r| r.kinds.get(&kind).and_then(f));
            values.collect::<Vec<_>>()
        };
        let requests = history
            .iter()
            .rev()
            .find_map(|r| r.kinds.get(&kind))
            .map_or(0, |k| k.total_requests);
        let title = format!("{kind} ({requests} requests)");
        let series = [
            Series("p50 (ms)", "#2563eb", column(|k| k.p50_ms)),
            Series("p95 (ms)", "#d97706", column(|k| k.p95_ms)),
        ];
        let id = format!("rt-{kind}");
        sized_chart(out, &title, Some(&id), xs, ends, &series, SMALL);
    }
    out.push_str("</div>\n");
}

/// Open model: the arrival rate the schedule asked for and the one achieved, per report
/// interval (x: seconds from the first stage's start); nothing without intervals.
pub(super) fn arrivals_chart(out: &mut String, intervals: &[IntervalRate]) {
    if intervals.is_empty() {
        return;
    }
    out.push_str("<div class=\"charts\">\n");
    // Each rate is plotted at the middle of the interval it covers.
    let xs: Vec<f64> = intervals
        .iter()
        .map(|i| ((i.from_s + i.to_s) / 2.0).max(0.0))
        .collect();
    let column = |f: fn(&IntervalRate) -> f64| intervals.iter().map(|i| Some(f(i))).collect();
    let rates = [
        Series("target/s", "#6b7280", column(|i| i.target_rate)),
        Series("achieved/s", "#059669", column(|i| i.achieved_rate)),
    ];
    chart(
        out,
        "Arrivals per second: target and achieved, per interval",
        None,
        &xs,
        None,
        &rates,
    );
    out.push_str("</div>\n");
}

/// A full-size chart: see [`sized_chart`].
fn chart(
    out: &mut String,
    title: &str,
    id: Option<&str>,
    xs: &[f64],
    ends: Option<(i64, i64)>,
    series: &[Series],
) {
    sized_chart(out, title, id, xs, ends, series, FULL);
}

/// An SVG line chart of `series` over `xs` (seconds since the first row, whose Unix ms
/// time is `ends.0`; the last row's is `ends.1`; no clock labels when `None`), in a card
/// with the element id `id` if given, `size` its viewBox.
fn sized_chart(
    out: &mut String,
    title: &str,
    id: Option<&str>,
    xs: &[f64],
    ends: Option<(i64, i64)>,
    series: &[Series],
    size: Size,
) {
    let id = id.map_or_else(String::new, |id| format!(" id=\"{}\"", escape(id)));
    let _ = writeln!(out, "<div class=\"card\"{id}><h3>{}</h3>", escape(title));
    if xs.is_empty() {
        out.push_str("<p class=\"empty\">no data</p></div>\n");
        return;
    }
    let plot = Plot::new(xs, series, size);
    let _ = writeln!(
        out,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(title),
        width = plot.width,
        height = plot.height,
    );
    grid(out, &plot);
    axes(out, &plot, ends);
    for (i, line) in series.iter().enumerate() {
        series_lines(out, &plot, xs, line);
        legend(out, i, line);
    }
    out.push_str("</svg></div>\n");
}

/// Where values land in a chart's viewBox: x from 0 to the largest x, y from 0 to the
/// largest value (each axis spanning 1 when its largest is 0).
struct Plot {
    width: f64,
    height: f64,
    x_max: f64,
    y_max: f64,
    x_span: f64,
    y_span: f64,
}

impl Plot {
    fn new(xs: &[f64], series: &[Series], (width, height): Size) -> Plot {
        let x_max = xs.iter().copied().map(clean).fold(0.0, f64::max);
        let y_max = series
            .iter()
            .flat_map(|s| s.2.iter().flatten().copied().map(clean))
            .fold(0.0, f64::max);
        Plot {
            width,
            height,
            x_max,
            y_max,
            x_span: if x_max > 0.0 { x_max } else { 1.0 },
            y_span: if y_max > 0.0 { y_max } else { 1.0 },
        }
    }

    /// The y of the x axis.
    fn bottom(&self) -> f64 {
        TOP + (self.height - TOP - BOTTOM)
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + clean(x) / self.x_span * (self.width - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        TOP + (1.0 - clean(y) / self.y_span) * (self.height - TOP - BOTTOM)
    }
}

/// A value as plotted: negative and non-finite values at 0.
fn clean(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

/// Horizontal grid lines at 0, half and all of the y span, labelled with their values.
fn grid(out: &mut String, plot: &Plot) {
    for fraction in [0.0, 0.5, 1.0] {
        let y = plot.py(plot.y_span * fraction);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"grid\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            plot.width - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            decimal(plot.y_max * fraction, 2)
        );
    }
}

/// The two axes, and the x axis's labels at its start, middle and end: seconds, with the
/// UTC clock at both ends when `ends` is given.
fn axes(out: &mut String, plot: &Plot, ends: Option<(i64, i64)>) {
    let bottom = plot.bottom();
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#9ca3af\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#9ca3af\"/>",
        plot.width - RIGHT
    );
    let ticks = [
        (0.0, "start", ends.map(|e| e.0)),
        (0.5, "middle", None),
        (1.0, "end", ends.map(|e| e.1)),
    ];
    for (fraction, anchor, clock) in ticks {
        let x = plot.px(plot.x_span * fraction);
        let mut label = format!("{} s", decimal((plot.x_max * fraction).round(), 2));
        if let Some(ms) = clock {
            let _ = write!(label, " ({})", utc_clock(ms));
        }
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>",
            bottom + 16.0
        );
    }
}

/// One series: a polyline per run of values without a gap, a dot for a lone value.
fn series_lines(out: &mut String, plot: &Plot, xs: &[f64], Series(_, color, values): &Series) {
    let points = xs
        .iter()
        .zip(values)
        .map(|(&x, y)| y.map(|y| (plot.px(x), plot.py(y))));
    for run in runs(points) {
        let text: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            color,
            text.join(" ")
        );
        if let [(x, y)] = run.as_slice() {
            let _ = writeln!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{color}\"/>"
            );
        }
    }
}

/// The legend entry of the `index`th series: a swatch of its colour and its label.
fn legend(out: &mut String, index: usize, Series(label, color, _): &Series) {
    let lx = LEFT + 8.0 + 140.0 * index as f64;
    let _ = writeln!(
        out,
        "<rect x=\"{lx:.1}\" y=\"10\" width=\"14\" height=\"4\" fill=\"{}\"/>\
         <text x=\"{:.1}\" y=\"16\">{}</text>",
        color,
        lx + 18.0,
        escape(label)
    );
}

/// The runs of consecutive `Some` points, gaps dropped.
fn runs(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut gap = true;
    for point in points {
        match (point, runs.last_mut()) {
            (Some(point), Some(run)) if !gap => run.push(point),
            (Some(point), _) => runs.push(vec![point]),
            (None, _) => {}
        }
        gap = point.is_none();
    }
    runs
}
