//! The `--html` report: one self-contained HTML5 page built from the JSON [`Summary`], so it
//! can be rendered again from any saved run. It opens offline and anywhere a report is
//! archived: the style is inline, the charts are inline SVG drawn here, and there is no
//! script and no external reference (fonts, images, links). Every piece of text from the run
//! is HTML-escaped. Dates are UTC, computed without a date library.

use std::fmt::Write as _;

use crate::aggregate::{HistoryRow, PERCENTILES};
use crate::console::ms;
use crate::slo::{Status, Verdict};
use crate::summary::{EndpointSummary, Summary};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
max-width:1200px;margin:0 auto;padding:1rem 2rem;color:#1f2937;background:#fff}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;\
padding-bottom:.3rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}\
th,td{border:1px solid #e5e7eb;padding:.25rem .5rem;text-align:right;white-space:nowrap}\
th{background:#f3f4f6}td.t,th.t{text-align:left;white-space:normal}\
tr.total td{font-weight:bold;background:#f9fafb}\
.pass{color:#047857;font-weight:bold}.fail{color:#b91c1c;font-weight:bold}\
.na{color:#6b7280}.empty{color:#6b7280;font-style:italic}\
svg{max-width:100%;height:auto;border:1px solid #f3f4f6}svg text{font-size:11px;fill:#374151}";

/// Renders the whole report page for `summary`.
pub fn render_html(summary: &Summary) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>lv report {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>lv load test report: {id}</h1>\n",
        id = escape(&summary.run_id)
    );
    meta_section(&mut out, summary);
    stats_section(&mut out, summary);
    percentiles_section(&mut out, summary);
    failures_section(&mut out, summary);
    exceptions_section(&mut out, summary);
    charts_section(&mut out, &summary.history);
    workers_section(&mut out, summary);
    slo_section(&mut out, summary.slo.as_deref());
    out.push_str("</body>\n</html>\n");
    out
}

/// The report file name from a `--html` template: `{u}` becomes the user count, `{r}` the
/// spawn rate and `{t}` the run time, as Locust does.
pub fn report_name(template: &str, users: u32, spawn_rate: f64, run_time: &str) -> String {
    template
        .replace("{u}", &users.to_string())
        .replace("{r}", &number(spawn_rate))
        .replace("{t}", run_time)
}

/// `text` with `& < > " '` replaced by entities, safe in element content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time in milliseconds.
pub fn utc_timestamp(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(unix_ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Calendar date and time of day (UTC) of a Unix time in milliseconds.
fn utc_parts(unix_ms: i64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = unix_ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let day = secs.rem_euclid(86_400) as u32;
    (y, m, d, day / 3600, day / 60 % 60, day % 60)
}

/// Year, month (1..=12) and day (1..=31) of a count of days since 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn heading(out: &mut String, id: &str, title: &str) {
    let _ = writeln!(out, "<h2 id=\"{id}\">{title}</h2>");
}

/// A text cell (escaped, left-aligned).
fn text(value: &str) -> String {
    format!("<td class=\"t\">{}</td>", escape(value))
}

/// A numeric cell (right-aligned); `value` must not need escaping.
fn num(value: impl std::fmt::Display) -> String {
    format!("<td>{value}</td>")
}

/// A table row of rendered cells.
fn tr(class: &str, cells: &[String]) -> String {
    format!("<tr{class}>{}</tr>", cells.concat())
}

/// A table with `|`-separated `headers` (the first `text_columns` left-aligned) and rows,
/// or `empty` in a paragraph when there are no rows.
fn table(out: &mut String, headers: &str, text_columns: usize, rows: &[String], empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"empty\">{empty}</p>");
        return;
    }
    out.push_str("<table>\n<tr>");
    for (i, header) in headers.split('|').enumerate() {
        let class = if i < text_columns { " class=\"t\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(header));
    }
    out.push_str("</tr>\n");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out.push_str("</table>\n");
}

fn meta_section(out: &mut String, s: &Summary) {
    heading(out, "meta", "Run");
    let time = |ms: i64| {
        if ms > 0 {
            utc_timestamp(ms)
        } else {
            "-".to_owned()
        }
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let m = &s.meta;
    let configured = m
        .run_time_s
        .map_or_else(|| "until stopped".to_owned(), duration);
    let rows = [
        ("Run id", s.run_id.clone()),
        ("Start", time(s.started_unix_ms)),
        ("End", time(s.ended_unix_ms)),
        ("Duration", duration(s.run_time_s)),
        ("Configured run time", configured),
        ("Host", m.host.clone()),
        ("Profile", dash(&m.profile)),
        ("Users", s.users.to_string()),
        ("Spawn rate", format!("{} users/s", number(m.spawn_rate))),
        ("Workers", s.workers.len().to_string()),
        ("Scenario files", list(&m.scenarios)),
        ("User classes", list(&m.classes)),
        ("Tags", list(&m.tags)),
        ("Excluded tags", list(&m.exclude_tags)),
        ("SLO level", dash(&m.slo_level)),
        ("lv version", m.version.clone()),
        ("Requests cut off by the stop", s.cut_off.to_string()),
        (
            "Verdict",
            format!("{} (exit code {})", s.verdict, s.exit_code),
        ),
    ];
    out.push_str("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th class=\"t\">{name}</th>{}</tr>", text(&value));
    }
    out.push_str("</table>\n");
}

/// Rows of every endpoint, then the Aggregated row, made by `row`.
fn endpoint_rows(s: &Summary, row: impl Fn(&EndpointSummary) -> Vec<String>) -> Vec<String> {
    let mut rows: Vec<String> = s.endpoints.iter().map(|e| tr("", &row(e))).collect();
    rows.push(tr(" class=\"total\"", &row(&s.total)));
    rows
}

fn stats_section(out: &mut String, s: &Summary) {
    heading(out, "stats", "Request statistics");
    let rows = endpoint_rows(s, |e| {
        vec![
            text(&e.method),
            text(&e.name),
            num(e.requests),
            num(e.failures),
            num(ms(e.p50_ms)),
            num(ms(e.avg_ms)),
            num(ms(e.min_ms)),
            num(ms(e.max_ms)),
            num(format!("{:.0}", e.avg_content_bytes)),
            num(format!("{:.2}", e.rps)),
            num(format!("{:.2}", e.failures_per_s)),
        ]
    });
    let headers = "Type|Name|# requests|# fails|Median (ms)|Average (ms)|Min (ms)|Max (ms)|\
                   Average size (bytes)|req/s|failures/s";
    table(out, headers, 2, &rows, "None");
}

fn percentiles_section(out: &mut String, s: &Summary) {
    heading(out, "percentiles", "Response time percentiles (ms)");
    let rows = endpoint_rows(s, |e| {
        let mut cells = vec![text(&e.method), text(&e.name)];
        for i in 0..PERCENTILES.len() {
            cells.push(match e.percentiles_ms.get(i) {
                Some(&value) if e.requests > 0 => num(ms(value)),
                _ => num("N/A"),
            });
        }
        cells.push(num(e.requests));
        cells
    });
    let labels: Vec<String> = PERCENTILES.iter().map(|p| format!("{p}%")).collect();
    let headers = format!("Type|Name|{}|# requests", labels.join("|"));
    table(out, &headers, 2, &rows, "None");
}

fn failures_section(out: &mut String, s: &Summary) {
    heading(out, "failures", "Failures");
    let rows: Vec<String> = (s.failures.iter())
        .map(|f| {
            tr(
                "",
                &[text(&f.method), text(&f.name), text(&f.error), num(f.count)],
            )
        })
        .collect();
    table(out, "Method|Name|Error|Occurrences", 3, &rows, "None");
}

fn exceptions_section(out: &mut String, s: &Summary) {
    heading(out, "exceptions", "Exceptions");
    let rows: Vec<String> = (s.exceptions.iter())
        .map(|e| tr("", &[num(e.count), text(&e.message)]))
        .collect();
    table(out, "Count|Message", 0, &rows, "None");
}

fn workers_section(out: &mut String, s: &Summary) {
    heading(out, "workers", "Workers");
    let rows: Vec<String> = (s.workers.iter())
        .map(|w| {
            let (id, host, state) = (text(&w.id), text(&w.hostname), text(&w.state));
            tr(
                "",
                &[
                    id,
                    host,
                    state,
                    num(w.users),
                    num(w.requests),
                    num(w.failures),
                ],
            )
        })
        .collect();
    table(
        out,
        "Worker|Host name|State|Users|Requests|Failures",
        3,
        &rows,
        "None",
    );
}

fn slo_section(out: &mut String, verdicts: Option<&[Verdict]>) {
    heading(out, "slo", "SLO verdicts");
    let Some(verdicts) = verdicts else {
        let _ = writeln!(out, "<p class=\"empty\">SLO verdicts off</p>");
        return;
    };
    let rows: Vec<String> = verdicts
        .iter()
        .map(|v| {
            let (class, label, value) = match v.status {
                Status::Pass => ("pass", "PASS", measured(&v.metric, v.measured)),
                Status::Fail => ("fail", "FAIL", measured(&v.metric, v.measured)),
                Status::NotExercised => ("na", "NOT EXERCISED", "-".to_owned()),
            };
            let endpoint = if v.endpoint.is_empty() {
                "-"
            } else {
                &v.endpoint
            };
            let (kind, metric, target) = (text(v.kind.as_str()), text(&v.metric), text(&v.target));
            let result = format!("<td class=\"t {class}\">{label}</td>");
            tr(
                "",
                &[kind, metric, target, text(&value), text(endpoint), result],
            )
        })
        .collect();
    table(
        out,
        "Kind|Metric|Target|Measured|Worst endpoint|Result",
        6,
        &rows,
        "None",
    );
}

/// A verdict's measured value in its rule's unit.
fn measured(metric: &str, value: f64) -> String {
    match metric {
        "avg_ms" => format!("{} ms", ms(value)),
        "failure_ratio" => format!("{:.2}%", value * 100.0),
        m if m.ends_with("_over_avg") => format!("{value:.2}x avg"),
        _ => number(value),
    }
}

/// One line of a chart: label, colour and one value per history row.
struct Series<'a>(&'a str, &'a str, Vec<f64>);

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

fn charts_section(out: &mut String, history: &[HistoryRow]) {
    heading(out, "charts", "Charts");
    let first = history.first().map_or(0, |r| r.unix_ms);
    let xs: Vec<f64> = history
        .iter()
        .map(|r| (r.unix_ms.saturating_sub(first) as f64 / 1000.0).max(0.0))
        .collect();
    let column = |f: fn(&HistoryRow) -> f64| history.iter().map(f).collect::<Vec<f64>>();
    let ends = (first, history.last().map_or(0, |r| r.unix_ms));
    let rps = [
        Series("requests/s", "#059669", column(|r| r.rps)),
        Series("failures/s", "#dc2626", column(|r| r.fps)),
    ];
    chart(out, "Requests and failures per second", &xs, ends, &rps);
    let latency = [
        Series("p50 (ms)", "#2563eb", column(|r| r.p50_ms)),
        Series("p95 (ms)", "#d97706", column(|r| r.p95_ms)),
    ];
    chart(
        out,
        "Response time (ms, current window)",
        &xs,
        ends,
        &latency,
    );
    let users = [Series("users", "#7c3aed", column(|r| f64::from(r.users)))];
    chart(out, "Users", &xs, ends, &users);
}

/// An SVG line chart of `series` over `xs` (seconds since the first row, whose Unix ms
/// time is `ends.0`; the last row's is `ends.1`).
fn chart(out: &mut String, title: &str, xs: &[f64], ends: (i64, i64), series: &[Series]) {
    let _ = writeln!(out, "<h3>{}</h3>", escape(title));
    if xs.is_empty() {
        out.push_str("<p class=\"empty\">no data</p>\n");
        return;
    }
    let clean = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let x_max = xs.iter().copied().map(clean).fold(0.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.2.iter().copied().map(clean))
        .fold(0.0, f64::max);
    let x_span = if x_max > 0.0 { x_max } else { 1.0 };
    let y_span = if y_max > 0.0 { y_max } else { 1.0 };
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |x: f64| LEFT + clean(x) / x_span * plot_w;
    let py = |y: f64| TOP + (1.0 - clean(y) / y_span) * plot_h;
    let _ = writeln!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    for fraction in [0.0, 0.5, 1.0] {
        let y = py(y_span * fraction);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(y_max * fraction)
        );
    }
    let bottom = TOP + plot_h;
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#9ca3af\"/>\
         <line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#9ca3af\"/>",
        WIDTH - RIGHT
    );
    let ticks = [
        (0.0, "start", Some(ends.0)),
        (0.5, "middle", None),
        (1.0, "end", Some(ends.1)),
    ];
    for (fraction, anchor, clock) in ticks {
        let x = px(x_span * fraction);
        let mut label = format!("{} s", number((x_max * fraction).round()));
        if let Some(ms) = clock {
            let (_, _, _, h, m, s) = utc_parts(ms);
            let _ = write!(label, " ({h:02}:{m:02}:{s:02} UTC)");
        }
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>",
            bottom + 16.0
        );
    }
    for (i, Series(label, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = xs
            .iter()
            .zip(values)
            .map(|(&x, &y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            color,
            points.join(" ")
        );
        if let ([x], [y]) = (xs, values.as_slice()) {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                px(*x),
                py(*y),
                color
            );
        }
        let lx = LEFT + 8.0 + 140.0 * i as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{lx:.1}\" y=\"10\" width=\"14\" height=\"4\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"16\">{}</text>",
            color,
            lx + 18.0,
            escape(label)
        );
    }
    out.push_str("</svg>\n");
}

/// Seconds as `42.5 s`, `5m 03s` or `1h 02m 03s`.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 60.0 {
        return format!("{:.1} s", if seconds.is_finite() { seconds } else { 0.0 });
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// A number with up to two decimals and no trailing zeros (`12`, `2.5`, `0.33`).
fn number(value: f64) -> String {
    crate::console::decimal(value, 2)
}

#[cfg(test)]
mod tests;
