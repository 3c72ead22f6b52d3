//! The HTML report's timing phases: per endpoint (and for all), a horizontal stacked bar
//! of where the mean answered request's time went (connect, TLS, time to first byte, body
//! read), drawn as inline SVG, and a table of each phase's p50 and p95 with how many
//! requests had it. Nothing when no request had phases (a report from before lv had them).

use std::fmt::Write as _;

use lv_common::stats::Phase;

use super::markup::{escape, heading, num, table, text, tr};
use crate::report::format::{ms, truncate};
use crate::report::summary::{EndpointSummary, PhasesSummary, Summary};

/// The colour of each phase, in [`Phase::ALL`] order.
const COLORS: [&str; 4] = ["#7c3aed", "#d97706", "#2563eb", "#059669"];
/// The label of each phase, in [`Phase::ALL`] order.
const LABELS: [&str; 4] = ["connect", "TLS", "time to first byte", "body read"];
const WIDTH: f64 = 900.0;
/// Room for the endpoint's name left of its bar.
const NAME_W: f64 = 260.0;
/// Room right of a bar for its total.
const RIGHT: f64 = 90.0;
const ROW: f64 = 24.0;
const TOP: f64 = 30.0;

/// Each phase's share of the mean answered request, ms: its summed time over the requests
/// that had a first byte (connect and TLS spread over every request, as they happened only
/// on new connections), so the segments add up to about the mean response time.
pub(super) fn mean_shares(phases: &PhasesSummary) -> [f64; 4] {
    let answered = phases.ttfb.as_ref().map_or(0, |t| t.count);
    Phase::ALL.map(|phase| match phases.get(phase) {
        Some(p) if answered > 0 => p.total_us as f64 / answered as f64 / 1000.0,
        _ => 0.0,
    })
}

/// The endpoints with phases, then the total (when it has them).
fn rows(s: &Summary) -> Vec<(&EndpointSummary, &PhasesSummary)> {
    let all = s.endpoints.iter().chain(std::iter::once(&s.total));
    all.filter_map(|e| e.phases.as_ref().map(|p| (e, p)))
        .collect()
}

/// The phases section.
pub(super) fn phases_section(out: &mut String, s: &Summary) {
    let rows = rows(s);
    if rows.is_empty() {
        return;
    }
    heading(out, "phases", "Timing phases");
    out.push_str(
        "<p class=\"sub\">Where the mean answered request's time went: connect and TLS \
         (only on requests that opened a connection, spread over all), time to first byte \
         (request written to first response byte) and body read (end of the head to the \
         last body byte). Together about the mean response time; the rest is waiting for a \
         free connection and lv's own work.</p>\n",
    );
    stacked_bars(out, &rows);
    phase_table(out, &rows);
}

/// One horizontal stacked bar per row, on one scale.
fn stacked_bars(out: &mut String, rows: &[(&EndpointSummary, &PhasesSummary)]) {
    let shares: Vec<[f64; 4]> = rows.iter().map(|(_, p)| mean_shares(p)).collect();
    let longest = shares
        .iter()
        .map(|s| s.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let scale = if longest > 0.0 {
        (WIDTH - NAME_W - RIGHT) / longest
    } else {
        0.0
    };
    let height = TOP + ROW * rows.len() as f64 + 8.0;
    let _ = writeln!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" role=\"img\" \
         aria-label=\"Mean time per phase, per endpoint (ms)\">"
    );
    legend(out);
    for (row, ((e, _), share)) in rows.iter().zip(&shares).enumerate() {
        let y = TOP + ROW * row as f64;
        let name = if e.method.is_empty() {
            e.name.clone()
        } else {
            format!("{} {}", e.method, e.name)
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            NAME_W - 8.0,
            y + 15.0,
            escape(&truncate(&name, 34))
        );
        let mut x = NAME_W;
        for ((value, color), label) in share.iter().zip(COLORS).zip(LABELS) {
            let w = value * scale;
            if w > 0.0 {
                let _ = writeln!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{color}\">\
                     <title>{label}: {} ms</title></rect>",
                    y + 3.0,
                    ms(*value)
                );
            }
            x += w;
        }
        let total: f64 = share.iter().sum();
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{} ms</text>",
            x + 6.0,
            y + 15.0,
            ms(total)
        );
    }
    out.push_str("</svg>\n");
}

/// A swatch and the name of each phase, above the bars.
fn legend(out: &mut String) {
    for (i, (label, color)) in LABELS.iter().zip(COLORS).enumerate() {
        let x = NAME_W + 150.0 * i as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"8\" width=\"14\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"17\">{label}</text>",
            x + 18.0
        );
    }
}

/// p50 / p95 of each phase, and how many requests had connect and TLS.
fn phase_table(out: &mut String, rows: &[(&EndpointSummary, &PhasesSummary)]) {
    let cells = |p: &PhasesSummary| -> Vec<String> {
        Phase::ALL
            .into_iter()
            .flat_map(|phase| match p.get(phase) {
                Some(s) => [num(s.count), num(ms(s.p50_ms)), num(ms(s.p95_ms))],
                None => [num(0), num("-"), num("-")],
            })
            .collect()
    };
    let rendered: Vec<String> = rows
        .iter()
        .map(|(e, p)| {
            let mut row = vec![text(&e.method), text(&e.name)];
            row.extend(cells(p));
            let class = if e.method.is_empty() && e.name == "Aggregated" {
                " class=\"total\""
            } else {
                ""
            };
            tr(class, &row)
        })
        .collect();
    let headers = "Type|Name|Connects|Connect p50 (ms)|Connect p95 (ms)|TLS handshakes|TLS p50 (ms)|TLS p95 (ms)|\
                   Answered|TTFB p50 (ms)|TTFB p95 (ms)|Bodies|Body p50 (ms)|Body p95 (ms)";
    table(out, headers, 2, &rendered, "None");
}
