//! The HTML page of a capacity search (`--html`): the latency-vs-throughput curve (p50, p95
//! and p99 of each step's hold against its achieved rate, on a log scale), the SLO limits
//! as dashed lines, the knee marked, and the table of steps. Inline SVG, no script.

use std::fmt::Write as _;

use super::results::{CapacityReport, table_header, table_row};
use super::search::Outcome;
use super::steps::StepRecord;

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;

/// A horizontal line: label and milliseconds.
pub type Limit = (String, f64);

/// The whole page; `limits` are the response-time limits the steps were judged by.
pub fn page(report: &CapacityReport, limits: &[Limit]) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>lv capacity</title><style>body{font-family:system-ui,sans-serif;margin:2em;\
         color:#111}pre{background:#f3f4f6;padding:1em;overflow:auto}</style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>Capacity</h1>\n<p><strong>{}</strong></p>",
        escape(&report.summary)
    );
    out.push_str(&curve(report, limits));
    out.push_str("<h2>Steps</h2>\n<pre>");
    out.push_str(&escape(&table_header(&report.params.unit)));
    out.push('\n');
    for step in &report.steps {
        out.push_str(&escape(&table_row(step)));
        out.push('\n');
    }
    out.push_str("</pre>\n</body></html>\n");
    out
}

/// The SVG curve.
pub fn curve(report: &CapacityReport, limits: &[Limit]) -> String {
    let mut steps: Vec<&StepRecord> = report
        .steps
        .iter()
        .filter(|s| s.requests > 0 && !s.interrupted)
        .collect();
    steps.sort_by(|a, b| a.throughput().total_cmp(&b.throughput()));
    let x_max = steps.iter().map(|s| s.throughput()).fold(1.0, f64::max) * 1.1;
    let highest = steps.iter().map(|s| s.p99_ms).fold(1.0, f64::max);
    let highest = limits.iter().map(|l| l.1).fold(highest, f64::max);
    let lowest = steps.iter().map(|s| s.p50_ms).fold(highest, f64::min);
    let scale = Scale::new(x_max, lowest.max(0.1), highest);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"latency against throughput\">\n"
    );
    axes(&mut svg, &scale, &report.params.unit);
    for (label, ms) in limits {
        let y = scale.y(*ms);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#6b7280\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" fill=\"#374151\">{}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT + 6.0,
            y + 4.0,
            escape(label)
        );
    }
    knee(&mut svg, report, &scale);
    for (name, colour, pick) in [
        (
            "p50",
            "#2563eb",
            (|s: &StepRecord| s.p50_ms) as fn(&StepRecord) -> f64,
        ),
        ("p95", "#d97706", |s: &StepRecord| s.p95_ms),
        ("p99", "#dc2626", |s: &StepRecord| s.p99_ms),
    ] {
        series(&mut svg, &scale, &steps, (name, colour, pick));
    }
    svg.push_str("</svg>\n");
    svg
}

/// Maps throughput (linear) and milliseconds (log10) to the plot.
struct Scale {
    x_max: f64,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn new(x_max: f64, lowest_ms: f64, highest_ms: f64) -> Scale {
        let lo = lowest_ms.log10().floor();
        let hi = highest_ms.log10().ceil().max(lo + 1.0);
        Scale { x_max, lo, hi }
    }

    fn x(&self, value: f64) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * (value / self.x_max)
    }

    fn y(&self, ms: f64) -> f64 {
        let t = (ms.max(1e-3).log10() - self.lo) / (self.hi - self.lo);
        HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * t.clamp(0.0, 1.0)
    }
}

fn axes(svg: &mut String, scale: &Scale, unit: &str) {
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#111\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#111\"/>"
    );
    let mut decade = scale.lo;
    while decade <= scale.hi {
        let ms = 10f64.powf(decade);
        let y = scale.y(ms);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{ms} ms</text>",
            LEFT - 6.0,
            y + 4.0
        );
        decade += 1.0;
    }
    for i in 0..=5 {
        let value = scale.x_max * f64::from(i) / 5.0;
        let x = scale.x(value);
        let _ = writeln!(
            svg,
            "<text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{value:.0}</text>",
            bottom + 16.0
        );
    }
    let axis = if unit == "users" {
        "achieved requests/s"
    } else {
        "achieved arrivals/s"
    };
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{axis}</text>",
        (LEFT + right) / 2.0,
        HEIGHT - 10.0
    );
}

/// A vertical line at the capacity's throughput.
fn knee(svg: &mut String, report: &CapacityReport, scale: &Scale) {
    let at = report.capacity();
    let step = report
        .steps
        .iter()
        .rev()
        .find(|s| s.load == at && s.outcome == Outcome::Pass);
    let Some(step) = step else {
        return;
    };
    let x = scale.x(step.throughput());
    let _ = writeln!(
        svg,
        "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#059669\" stroke-width=\"2\"/>\
         <text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#059669\">knee: {:.1}/s</text>",
        HEIGHT - BOTTOM,
        x + 4.0,
        TOP + 12.0,
        step.throughput()
    );
}

/// One percentile's line and points (filled: passed; hollow: failed or limited).
fn series(
    svg: &mut String,
    scale: &Scale,
    steps: &[&StepRecord],
    (name, colour, pick): (&str, &str, fn(&StepRecord) -> f64),
) {
    let points: Vec<String> = steps
        .iter()
        .map(|s| format!("{:.1},{:.1}", scale.x(s.throughput()), scale.y(pick(s))))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    );
    for s in steps {
        let fill = if s.outcome == Outcome::Pass {
            colour
        } else {
            "#fff"
        };
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{fill}\" stroke=\"{colour}\"><title>{name} {:.0} ms at {:.1}/s: {}</title></circle>",
            scale.x(s.throughput()),
            scale.y(pick(s)),
            pick(s),
            s.throughput(),
            s.verdict_word()
        );
    }
    if let Some(last) = steps.last() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{colour}\">{name}</text>",
            scale.x(last.throughput()) + 8.0,
            scale.y(pick(last)) + 4.0
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
