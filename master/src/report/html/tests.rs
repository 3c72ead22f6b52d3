//! Tests of the HTML report.

use super::*;
use crate::aggregate::HistoryRow;
use crate::report::summary::{RunMeta, WorkerCore, WorkerSummary, stats_rows};
use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;

const START_MS: i64 = 1_700_000_000_000;

fn history_row(second: i64, users: u32, rps: f64) -> HistoryRow {
    HistoryRow {
        unix_ms: START_MS + second * 1000,
        users,
        rps,
        fps: rps / 10.0,
        p50_ms: 12.0 + second as f64,
        p95_ms: 40.0 + second as f64,
        p99_ms: 80.0,
        total_requests: 100,
        total_failures: 1,
        total_avg_ms: 15.0,
        total_median_ms: 12.0,
        total_min_ms: 1.0,
        total_max_ms: 90.0,
        total_avg_content_bytes: 40.0,
        total_percentiles_ms: PERCENTILES.to_vec(),
        current_percentiles_ms: PERCENTILES.to_vec(),
        endpoints: Vec::new(),
        kinds: Default::default(),
    }
}

fn summary(history: Vec<HistoryRow>) -> Summary {
    let mut stats = StatsSet::default();
    for i in 1..=100u64 {
        let error = (i % 25 == 0).then_some("HTTP 500 <oops>");
        stats.record_request(
            "GET",
            "ATLAS /health",
            Some(SloKind::Health),
            i * 1000,
            40,
            error,
        );
    }
    stats.record_request("POST", "<b>&\"name'", None, 7_000, 2, None);
    stats.record_exception("extract id: /id not found");
    let (total, endpoints, failures, exceptions) = stats_rows(&stats, 10.0);
    Summary {
        run_id: "run-42".into(),
        users: 5,
        run_time_s: 10.0,
        exit_code: 1,
        verdict: "4 of 101 requests failed".into(),
        generator_limited: false,
        generator_warnings: Vec::new(),
        started_unix_ms: START_MS,
        ended_unix_ms: START_MS + 10_000,
        workers: vec![WorkerSummary {
            core: WorkerCore {
                id: "worker-1".into(),
                hostname: "box-a".into(),
                state: "active".into(),
                users: 5,
                requests: 101,
                failures: 4,
            },
            lost_unix_ms: None,
            unreported_s: None,
            resources: None,
        }],
        total,
        endpoints,
        failures,
        exceptions,
        cut_off: 0,
        below_target: Vec::new(),
        checkpoint: false,
        open: None,
        stages: Vec::new(),
        master_outages: Vec::new(),
        resume: None,
        aborted: None,
        meta: RunMeta {
            profile: Some("light".into()),
            host: "http://localhost".into(),
            scenarios: vec!["configs/scenarios".into()],
            classes: vec!["HealthUser".into()],
            spawn_rate: 2.5,
            run_time_s: Some(10.0),
            tags: vec!["health".into()],
            exclude_tags: Vec::new(),
            slo_level: Some("light".into()),
            version: "0.1.0".into(),
        },
        history,
        slo: None,
    }
}

fn polylines(html: &str) -> Vec<&str> {
    html.split("<polyline ")
        .skip(1)
        .map(|rest| {
            let start = rest.find("points=\"").map_or(0, |i| i + 8);
            let len = rest[start..].find('"').unwrap_or(0);
            &rest[start..start + len]
        })
        .collect()
}

#[test]
fn self_contained_without_scripts_or_external_references() {
    let html = render_html(&summary(vec![
        history_row(0, 1, 5.0),
        history_row(2, 3, 9.0),
    ]));
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"));
    // The only URL is the --host value, shown as text.
    let without_host = html.replace("<td class=\"t\">http://localhost</td>", "");
    assert!(!without_host.contains("http://"), "{without_host}");
    assert!(!without_host.contains("https://"));
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
}

#[test]
fn every_section_is_present() {
    let html = render_html(&summary(Vec::new()));
    for id in [
        "meta",
        "stats",
        "percentiles",
        "failures",
        "exceptions",
        "charts",
        "workers",
        "slo",
    ] {
        assert!(
            html.contains(&format!("<h2 id=\"{id}\">")),
            "section {id} missing"
        );
    }
    assert!(
        html.contains("2023-11-14 22:13:20 UTC"),
        "start time in UTC"
    );
    assert!(html.contains("<td class=\"t\">Aggregated</td>"));
    assert!(html.contains("4 of 101 requests failed (exit code 1)"));
    assert!(html.contains("SLO verdicts off"));
    assert!(html.contains("<td class=\"t\">box-a</td>"));
}

#[test]
fn charts_have_one_point_per_history_row() {
    let history: Vec<HistoryRow> = (0..7)
        .map(|i| history_row(i * 2, i as u32, 3.0 * i as f64))
        .collect();
    let html = render_html(&summary(history));
    assert_eq!(html.matches("<svg").count(), 3);
    let lines = polylines(&html);
    assert_eq!(lines.len(), 5, "rps, fps, p50, p95, users");
    for points in lines {
        assert_eq!(points.split(' ').count(), 7, "{points}");
        for pair in points.split(' ') {
            let (x, y) = pair.split_once(',').expect("x,y");
            assert!(
                x.parse::<f64>().is_ok() && y.parse::<f64>().is_ok(),
                "{pair}"
            );
        }
    }
    assert!(html.contains("12 s (22:13:32 UTC)"), "end tick");
    assert!(html.contains(">18</text>"), "the requests/s max tick");
}

#[test]
fn empty_and_single_point_history() {
    let html = render_html(&summary(Vec::new()));
    assert_eq!(html.matches("no data").count(), 3);
    assert!(!html.contains("<svg"));
    let html = render_html(&summary(vec![history_row(0, 4, 2.0)]));
    for points in polylines(&html) {
        assert_eq!(points.split(' ').count(), 1);
    }
    assert_eq!(
        html.matches("<circle").count(),
        5,
        "a single point is drawn as a dot"
    );
}

#[test]
fn user_text_is_escaped() {
    let html = render_html(&summary(Vec::new()));
    assert!(
        html.contains("&lt;b&gt;&amp;&quot;name&#39;"),
        "endpoint name escaped"
    );
    assert!(!html.contains("<b>"));
    assert!(html.contains("HTTP 500 &lt;oops&gt;"));
    assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
}

#[test]
fn slo_verdicts_table() {
    let mut s = summary(Vec::new());
    let verdict = |metric: &str, measured: f64, status: Status| Verdict {
        kind: Some(SloKind::Health),
        stage: None,
        metric: metric.into(),
        target: "< 50 ms".into(),
        measured,
        endpoint: "GET ATLAS /health".into(),
        status,
    };
    s.slo = Some(vec![
        verdict("avg_ms", 12.5, Status::Pass),
        verdict("failure_ratio", 0.04, Status::Fail),
        verdict("p95_over_avg", 1.8, Status::Pass),
        verdict("p99_over_avg", 0.0, Status::NotExercised),
    ]);
    let html = render_html(&s);
    assert!(html.contains("<td class=\"t\">12 ms</td>"), "{html}");
    assert!(html.contains("<td class=\"t\">4.00%</td>"));
    assert!(html.contains("<td class=\"t\">1.80x avg</td>"));
    assert!(html.contains("<td class=\"t pass\">PASS</td>"));
    assert!(html.contains("<td class=\"t fail\">FAIL</td>"));
    assert!(html.contains("<td class=\"t na\">NOT EXERCISED</td>"));
    assert!(!html.contains("SLO verdicts off"));
}

#[test]
fn leads_with_the_verdict_and_key_figures_then_charts_then_the_tables() {
    let html = render_html(&summary(vec![
        history_row(0, 1, 5.0),
        history_row(2, 3, 9.0),
    ]));
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let order = [
        at("id=\"verdict\""),
        at("id=\"figures\""),
        at("<h2 id=\"charts\">"),
        at("<h2 id=\"slo\">"),
        at("<h2 id=\"stats\">"),
        at("<h2 id=\"failures\">"),
        at("<h2 id=\"meta\">"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(html.contains(
        "<section id=\"verdict\" class=\"verdict fail\"><strong>FAILED</strong>\
         4 of 101 requests failed (exit code 1)</section>"
    ));
    assert!(html.contains(
        "<div class=\"card\"><div class=\"label\">Requests</div><div class=\"value\">101</div>"
    ));
    assert!(html.contains(
        "<div class=\"card bad\"><div class=\"label\">Failures</div>\
         <div class=\"value\">4 (3.96%)</div>"
    ));
}

#[test]
fn a_staged_run_has_a_table_per_stage_and_the_arrival_rate_chart() {
    let mut s = summary(Vec::new());
    s.stages = crate::report::summary::sample_stages();
    let mut run = crate::aggregate::RunStats::default();
    run.open_intervals = vec![
        crate::aggregate::OpenInterval {
            from_unix_ms: 0,
            to_unix_ms: 2_000,
            scheduled: 100,
            started: 90,
            dropped: 10,
        },
        crate::aggregate::OpenInterval {
            from_unix_ms: 2_000,
            to_unix_ms: 4_000,
            scheduled: 150,
            started: 150,
            dropped: 0,
        },
    ];
    run.planned_arrivals = Some(300);
    let schedule =
        lv_common::load::Schedule::new(50.0, &[(std::time::Duration::from_secs(4), 100.0)]);
    s.open = Some(crate::report::summary::OpenSummary::new(
        &run, &schedule, 0, 4.0,
    ));
    let html = render_html(&s);
    assert!(html.contains("<h2 id=\"stages\">Per stage</h2>"));
    for (i, name) in ["warm", "ramp", "plateau"].iter().enumerate() {
        let title = format!(
            "<h3 class=\"stage\" id=\"stage-{}\">Stage {} of 3: {name}</h3>",
            i + 1,
            i + 1
        );
        assert!(html.contains(&title), "{title}");
    }
    let section = &html[html.find("id=\"stages\"").expect("section")..];
    let section = &section[..section.find("id=\"failures\"").expect("next section")];
    assert_eq!(section.matches("<table>").count(), 3, "{section}");
    assert_eq!(section.matches("<tr class=\"total\">").count(), 3);
    assert!(section.contains("2–4 s, 50 → 100 arrivals/s"), "{section}");
    assert!(section.contains("<td>20</td>"), "{section}");
    assert!(section.contains("Arrivals: 150 planned"), "{section}");
    assert!(section.contains("target and achieved"));
    let lines = polylines(section);
    assert_eq!(lines.len(), 2, "target and achieved");
    assert_eq!(lines[0].split(' ').count(), 2, "one point per interval");
    // An open run's card shows its planned rate, not users it does not have.
    assert!(
        html.contains("<div class=\"label\">Arrivals/s planned</div><div class=\"value\">75</div>")
    );
    assert!(!html.contains("<div class=\"label\">Users</div>"));
    // A run without stages has no such section, and a closed run shows its users.
    let closed = render_html(&summary(Vec::new()));
    assert!(!closed.contains("id=\"stages\""));
    assert!(closed.contains("<div class=\"label\">Users</div>"));
}

/// A history row with a health line answering in about 1 ms (none in the window at
/// `health_gap`) and a chat line in about 100 ms.
fn kinded_row(second: i64, health_gap: bool) -> HistoryRow {
    use crate::aggregate::KindHistory;
    let line = |ms: f64, requests: u64| KindHistory {
        rps: 5.0,
        p50_ms: Some(ms),
        p95_ms: Some(ms * 1.2),
        p99_ms: Some(ms * 1.5),
        total_requests: requests,
    };
    let mut row = history_row(second, 2, 10.0);
    let health = if health_gap {
        KindHistory {
            rps: 0.0,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            ..line(1.0, 40)
        }
    } else {
        line(1.0 + second as f64 / 100.0, 40)
    };
    row.kinds.insert(SloKind::Health, health);
    row.kinds
        .insert(SloKind::Chat, line(100.0 + second as f64, 1_234));
    row
}

/// The part of `html` from the card with id `id` to the end of that card.
fn card<'a>(html: &'a str, id: &str) -> &'a str {
    let from = html
        .find(&format!("<div class=\"card\" id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no card {id}"));
    let rest = &html[from..];
    &rest[..rest.find("</svg></div>").unwrap_or(rest.len())]
}

#[test]
fn each_kind_has_its_own_response_time_chart_on_its_own_scale() {
    let history: Vec<HistoryRow> = (0..6).map(|i| kinded_row(i * 2, i == 3)).collect();
    let html = render_html(&summary(history));
    assert!(html.contains("<h3 id=\"kind-charts\">Response time per SLO kind"));
    assert_eq!(html.matches("<svg").count(), 5, "3 run charts and 2 kinds");
    assert!(!html.contains("id=\"rt-event\"") && !html.contains("id=\"rt-creative\""));
    let health = card(&html, "rt-health");
    let chat = card(&html, "rt-chat");
    assert!(health.contains("<h3>health (40 requests)</h3>"), "{health}");
    assert!(chat.contains("<h3>chat (1234 requests)</h3>"), "{chat}");
    // Each kind's top tick is its own highest p95: 1.2 x 1.1 ms and 1.2 x 110 ms.
    assert!(health.contains(">1.32</text>"), "{health}");
    assert!(chat.contains(">132</text>"), "{chat}");
    // Health's lines break at the window without a health check: two runs each (3 + 2
    // points); chat's are whole.
    let lines = polylines(health);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let counts: Vec<usize> = lines.iter().map(|l| l.split(' ').count()).collect();
    assert_eq!(counts, [3, 2, 3, 2]);
    let lines = polylines(chat);
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.split(' ').count() == 6));
    // The fast kind fills its chart: its highest p95 is drawn at the top of the plot.
    let ys = |points: &str| -> Vec<f64> {
        points
            .split(' ')
            .filter_map(|p| p.split_once(',').and_then(|(_, y)| y.parse().ok()))
            .collect()
    };
    let top = ys(lines[1]).into_iter().fold(f64::MAX, f64::min);
    assert_eq!(top, 30.0, "chat p95 reaches the top");
    let health_p95 = polylines(health)[3];
    let top = ys(health_p95).into_iter().fold(f64::MAX, f64::min);
    assert_eq!(top, 30.0, "health p95 reaches the top of its own chart");
    // The overall chart is still there, and a history without kind lines has no kind charts.
    assert!(html.contains("Response time, all endpoints (ms, current window)"));
    let plain = render_html(&summary(vec![
        history_row(0, 1, 5.0),
        history_row(2, 1, 5.0),
    ]));
    assert!(!plain.contains("id=\"kind-charts\""));
    assert_eq!(plain.matches("<svg").count(), 3);
}

#[test]
fn a_report_without_kind_lines_still_renders_from_its_json() {
    // The JSON of a report written before per-kind lines: no `kinds` in its history rows.
    let mut json = serde_json::to_value(summary(vec![kinded_row(0, false)])).expect("json");
    let row = &mut json["history"][0];
    row.as_object_mut().expect("a row").remove("kinds");
    let old: Summary = serde_json::from_value(json).expect("an old report reads");
    assert!(old.history[0].kinds.is_empty());
    let html = render_html(&old);
    assert!(!html.contains("id=\"kind-charts\""));
    // And one written now keeps them through JSON.
    let json = serde_json::to_string(&summary(vec![kinded_row(0, false)])).expect("json");
    assert!(
        json.contains("\"kinds\":{\"health\":{\"rps\":5.0,\"p50_ms\":1.0,"),
        "{json}"
    );
    let new: Summary = serde_json::from_str(&json).expect("reads back");
    assert!(render_html(&new).contains("id=\"rt-chat\""));
}

/// The workers table shows each worker's load (peak / mean), a dash where it said none,
/// and the verdict carries the generator warning.
#[test]
fn workers_show_their_load_and_the_verdict_the_generator_warning() {
    use crate::report::summary::resources::{Gauge, WorkerResources};

    let mut s = summary(Vec::new());
    let gauge = |peak, mean| Gauge {
        last: mean,
        peak,
        mean,
    };
    s.workers[0].resources = Some(WorkerResources {
        samples: 10,
        cpu_percent: Some(gauge(99.5, 93.25)),
        memory_bytes: None,
        connections: gauge(120.0, 100.0),
        sched_delay_ms: gauge(210.0, 80.5),
        overloads: Vec::new(),
    });
    s.verdict = "passed; the generator limited this run; its latencies include its own delay \
                 (worker worker-1 above 90% CPU for 6.0 s (peak 100%))"
        .into();
    let html = render_html(&s);
    assert!(html.contains("<th>CPU % (peak / mean)</th>"), "{html}");
    assert!(
        html.contains("<td>99.5 / 93.2</td><td>-</td><td>120 / 100</td><td>210 / 80.5</td>"),
        "{html}"
    );
    assert!(html.contains("the generator limited this run; its latencies include its own delay"));
}

/// The phases section: a stacked bar per endpoint with phases and for the total, each
/// segment as long as its share of the mean answered request, and the p50/p95 table;
/// absent when no request had phases.
#[test]
fn phases_are_a_stacked_bar_per_endpoint_and_a_table() {
    use lv_common::stats::RequestPhases;
    let plain = render_html(&summary(Vec::new()));
    assert!(!plain.contains("id=\"phases\""), "no phases, no section");

    let mut stats = StatsSet::default();
    for i in 0..10u64 {
        stats.record_request("GET", "/slow", None, 160_000, 5, None);
        let phases = RequestPhases {
            connect_us: (i == 0).then_some(10_000),
            tls_us: (i == 0).then_some(20_000),
            ttfb_us: 50_000,
            body_us: 100_000,
        };
        stats.record_phases("GET", "/slow", &phases);
    }
    let (total, endpoints, _, _) = stats_rows(&stats, 10.0);
    let shares = super::phases::mean_shares(endpoints[0].phases.as_ref().expect("phases"));
    assert_eq!(
        shares,
        [1.0, 2.0, 50.0, 100.0],
        "connect and TLS spread over 10 requests"
    );
    let mut s = summary(Vec::new());
    (s.total, s.endpoints) = (total, endpoints);
    let html = render_html(&s);
    let section = &html[html.find("id=\"phases\"").expect("phases section")..];
    let svg = &section[..section.find("</svg>").expect("bar chart")];
    let titles: Vec<&str> = svg
        .split("<title>")
        .skip(1)
        .map(|t| &t[..t.find('<').unwrap_or(0)])
        .collect();
    assert_eq!(
        titles,
        [
            "connect: 1.00 ms",
            "TLS: 2.00 ms",
            "time to first byte: 50 ms",
            "body read: 100 ms",
        ]
        .repeat(2),
        "the endpoint's bar, then the Aggregated one"
    );
    assert!(svg.contains("153 ms"), "each bar ends with its total");
    assert!(
        section.contains("<td>1</td><td>10</td><td>10</td>"),
        "one connect"
    );
    assert!(
        section.contains("<td>10</td><td>50</td><td>50</td>"),
        "ten first bytes"
    );
}
