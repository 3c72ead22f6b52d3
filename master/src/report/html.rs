//! The `--html` report: one self-contained HTML5 page built from the JSON [`Summary`], so it
//! can be rendered again from any saved run. It opens offline and anywhere a report is
//! archived: the style is inline, the charts are inline SVG drawn here, and there is no
//! script and no external reference (fonts, images, links). Every piece of text from the run
//! is HTML-escaped. Dates are UTC, computed without a date library.

use std::fmt::Write as _;

pub use markup::escape;
use markup::{heading, num, table, text, tr};

use crate::aggregate::PERCENTILES;
use crate::report::format::{decimal, duration, ms, utc_timestamp};
use crate::report::summary::resources::Gauge;
use crate::report::summary::{EndpointSummary, Summary, WorkerSummary};
use crate::slo::{Status, Verdict};

const STYLE: &str = ":root{color-scheme:light dark;--bg:#f7f8fa;--panel:#fff;--fg:#1f2937;\
--muted:#6b7280;--border:#e5e7eb;--head:#f1f3f6;--accent:#2563eb;--good:#047857;\
--good-bg:#d1fae5;--bad:#b91c1c;--bad-bg:#fee2e2;--run:#b45309;--run-bg:#fef3c7}\
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--panel:#171a21;--fg:#e5e7eb;\
--muted:#9ca3af;--border:#2a2f3a;--head:#1d2129;--accent:#60a5fa;--good:#34d399;\
--good-bg:#064e3b;--bad:#f87171;--bad-bg:#450a0a;--run:#fbbf24;--run-bg:#451a03}}\
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,\
sans-serif;max-width:1280px;margin:0 auto;padding:1rem 1.5rem 3rem;color:var(--fg);\
background:var(--bg)}header{display:flex;align-items:center;gap:1rem;padding:.3rem 0 .8rem}\
.brand{font-weight:800;font-size:1.7rem;color:var(--accent)}h1{font-size:1.3rem;margin:0}\
.sub{margin:.1rem 0 0;color:var(--muted);font-size:.85rem}\
h2{font-size:1.1rem;margin:2rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--border)}\
h3{font-size:.9rem;margin:.1rem 0 .4rem}h3.stage{margin-top:1.4rem}\
.verdict{padding:.8rem 1rem;border-radius:8px;font-size:1.05rem;border:1px solid}\
.verdict strong{margin-right:.7rem;letter-spacing:.05em}\
.verdict.pass{background:var(--good-bg)}.verdict.fail{background:var(--bad-bg)}\
.verdict.running{background:var(--run-bg);color:var(--run)}\
.note.outage{padding:.5rem 1rem;border-left:4px solid var(--run);background:var(--run-bg)}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:.6rem;margin:1rem 0}\
.card{background:var(--panel);border:1px solid var(--border);border-radius:8px;padding:.55rem .8rem}\
.label{font-size:.7rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}\
.value{font-size:1.25rem;font-weight:700;font-variant-numeric:tabular-nums}\
.card.bad .value{color:var(--bad)}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:.8rem}\
.charts.kinds{grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}\
h3#kind-charts{margin:1.2rem 0 .1rem}p.kinds{margin:0 0 .5rem;color:var(--muted);font-size:.85rem}\
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4rem 0;font-size:.82rem;\
background:var(--panel);font-variant-numeric:tabular-nums}\
th,td{border-bottom:1px solid var(--border);padding:.3rem .55rem;text-align:right;white-space:nowrap}\
th{background:var(--head)}td.t,th.t{text-align:left;white-space:normal}\
tr.total td{font-weight:700;background:var(--head)}\
.pass{color:var(--good);font-weight:700}.fail{color:var(--bad);font-weight:700}\
.na,.empty{color:var(--muted)}.empty{font-style:italic}\
svg{max-width:100%;height:auto}svg text{font-size:13px;fill:var(--muted)}\
svg .grid{stroke:var(--border)}svg .axis{stroke:var(--muted)}";

/// Renders the whole report page for `summary`.
pub fn render_html(summary: &Summary) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>lv report {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        id = escape(&summary.run_id)
    );
    // What a reader wants first: the verdict, the key figures and the charts; the long
    // tables follow, and the run's settings close the page.
    lead::header(&mut out, summary);
    lead::verdict(&mut out, summary);
    lead::figures(&mut out, summary);
    charts::charts_section(&mut out, &summary.history);
    slo_section(&mut out, summary.slo.as_deref());
    stats_section(&mut out, summary);
    percentiles_section(&mut out, summary);
    phases::phases_section(&mut out, summary);
    stages::stages_section(&mut out, summary);
    failures_section(&mut out, summary);
    exceptions_section(&mut out, summary);
    workers_section(&mut out, summary);
    meta_section(&mut out, summary);
    out.push_str("</body>\n</html>\n");
    out
}

fn meta_section(out: &mut String, s: &Summary) {
    heading(out, "meta", "Run details");
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
        (
            "Spawn rate",
            format!("{} users/s", decimal(m.spawn_rate, 2)),
        ),
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

/// The workers, with their own load over the run (peak / mean) from their heartbeats.
fn workers_section(out: &mut String, s: &Summary) {
    heading(out, "workers", "Workers");
    let pair = |g: Option<Gauge>, scale: f64, places: usize| {
        num(g.map_or_else(
            || "-".to_owned(),
            |g| {
                let (peak, mean) = (
                    decimal(g.peak / scale, places),
                    decimal(g.mean / scale, places),
                );
                format!("{peak} / {mean}")
            },
        ))
    };
    let rows: Vec<String> = (s.workers.iter())
        .map(
            |WorkerSummary {
                 core: w, resources, ..
             }| {
                let (id, host, state) = (text(&w.id), text(&w.hostname), text(&w.state));
                let r = resources.as_ref();
                tr(
                    "",
                    &[
                        id,
                        host,
                        state,
                        num(w.users),
                        num(w.requests),
                        num(w.failures),
                        pair(r.and_then(|r| r.cpu_percent), 1.0, 1),
                        pair(r.and_then(|r| r.memory_bytes), 1e6, 1),
                        pair(r.map(|r| r.connections), 1.0, 0),
                        pair(r.map(|r| r.sched_delay_ms), 1.0, 1),
                    ],
                )
            },
        )
        .collect();
    table(
        out,
        "Worker|Host name|State|Users|Requests|Failures|CPU % (peak / mean)|Memory MB (peak / mean)\
         |Connections (peak / mean)|Sched delay ms (peak / mean)",
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
    let staged = verdicts.iter().any(|v| v.stage.is_some());
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
            let kind = text(v.kind.map_or("all", |k| k.as_str()));
            let (metric, target) = (text(&v.metric), text(&v.target));
            let result = format!("<td class=\"t {class}\">{label}</td>");
            let mut cells = Vec::with_capacity(7);
            if staged {
                cells.push(text(v.stage.as_deref().unwrap_or("(run)")));
            }
            cells.extend([kind, metric, target, text(&value), text(endpoint), result]);
            tr("", &cells)
        })
        .collect();
    let (headers, columns) = if staged {
        ("Stage|Kind|Metric|Target|Measured|Worst endpoint|Result", 7)
    } else {
        ("Kind|Metric|Target|Measured|Worst endpoint|Result", 6)
    };
    table(out, headers, columns, &rows, "None");
}

/// A verdict's measured value in its rule's unit.
fn measured(metric: &str, value: f64) -> String {
    match metric {
        m if m.ends_with("_over_avg") => format!("{value:.2}x avg"),
        m => crate::report::format::verdict_value(m, value),
    }
}

mod charts;
mod lead;
mod markup;
mod phases;
mod stages;

#[cfg(test)]
mod tests;
