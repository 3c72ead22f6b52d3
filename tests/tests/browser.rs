//! Browser tests of the web UI: headless Chromium, driven through chromedriver with
//! fantoccini, against a real UI-mode `lv-master` process with two `lv-worker` processes and
//! the fleet simulator, all on loopback.
//!
//! Without `chromium` and `chromedriver` on the PATH the tests say loudly that they skipped;
//! with `LV_REQUIRE_BROWSER=1` (set by `.ci/run`) they fail instead. Screenshots go to
//! `target/browser/`; the statistics one becomes the README's `docs/img/web-ui.png` when that
//! file is missing or `LV_UPDATE_SCREENSHOT=1` (so a plain test run leaves the tree clean).

use std::net::SocketAddr;

use lv_tests::harness::{self, Proc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

mod driver;

use driver::{Browser, SERIES_PIXELS, STATS_ROWS, WAIT, browser_or_skip};

/// A UI-mode `lv-master` process with two `lv-worker` processes attached.
struct Ui {
    /// The page's address, `http://127.0.0.1:PORT/`.
    url: String,
    _master: Proc,
    _workers: Vec<Proc>,
}

/// A temporary working folder for `lv-master`, with the repository's `configs/` linked in
/// (profiles, scenarios and SLO table) so its per-run `reports/` land there.
fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(
        lv_tests::workspace_root().join("configs"),
        dir.path().join("configs"),
    )
    .expect("link configs/");
    dir
}

/// Starts `lv-master` in UI mode (no run yet) in `dir` with `extra` flags, its gRPC and web
/// ports free ones, and two `lv-worker` processes.
async fn start_ui(dir: &std::path::Path, extra: &[&str]) -> Ui {
    let mut args = vec![
        "--master-bind-port",
        "0",
        "--web-port",
        "0",
        "--local-workers",
        "0",
    ];
    args.extend_from_slice(extra);
    let master = Proc::start_in(&lv_tests::bin("lv-master"), &args, "master", Some(dir));
    let grpc = master
        .stderr
        .wait_for(harness::LISTENING, WAIT)
        .await
        .and_then(|line| {
            line.split(harness::LISTENING)
                .nth(1)
                .map(|a| a.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no worker address; stderr:\n{}", master.stderr.text()));
    let url = web_url(&master).await;
    let workers = (1..=2)
        .map(|i| harness::spawn_worker_process(&grpc, &[], &format!("worker-{i}")))
        .collect();
    Ui {
        url,
        _master: master,
        _workers: workers,
    }
}

/// The UI address `lv-master` announces on stderr.
async fn web_url(master: &Proc) -> String {
    let line = master
        .stderr
        .wait_for("web UI on http://", WAIT)
        .await
        .unwrap_or_else(|| panic!("no web UI address; stderr:\n{}", master.stderr.text()));
    let start = line.find("http://").expect("an http:// address");
    let addr: SocketAddr = line[start + "http://".len()..]
        .trim()
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"));
    format!("http://{addr}/")
}

/// The whole page works in a real browser: start a run from the form, statistics rows and
/// drawn charts, an edit the workers follow, stop, and the stats CSV from the page's link
/// whose Aggregated count equals what the page and the simulated fleet counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_starts_edits_stops_and_downloads_a_run() {
    let Some((chromium, chromedriver)) =
        browser_or_skip("the_page_starts_edits_stops_and_downloads_a_run")
    else {
        return;
    };
    let stop = CancellationToken::new();
    let dir = work_dir();
    let fleet = dir.path().join("fleet.toml");
    let sim = lv_tests::spawn_fleet_sim(&[], &fleet, stop.clone()).await;
    let flags = [
        "--fleet",
        "fleet.toml",
        "-H",
        "http://127.0.0.1",
        "--slo-level",
        "light",
        // History rows with a line per endpoint: the endpoint drawer charts the whole run.
        "--csv-full-history",
    ];
    let cluster = start_ui(dir.path(), &flags).await;
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser
        .client
        .goto(&cluster.url)
        .await
        .expect("open the page");
    browser
        .wait_js(
            "two workers and the ready state",
            "return document.getElementById('h-state').textContent === 'ready' \
             && document.getElementById('h-workers').textContent.startsWith('2')",
        )
        .await;

    // Start 4 users from the form.
    browser.click("#b-new").await;
    browser.fill("#f-users", "4").await;
    browser.fill("#f-rate", "4").await;
    browser.fill("#f-time", "").await;
    browser.click("#f-submit").await;
    let rows = browser
        .wait_js(
            "statistics rows with requests",
            &format!("return {STATS_ROWS}.filter(r => r[1] > 0).length >= 3 ? 1 : 0"),
        )
        .await;
    assert_eq!(rows, json!(1));
    browser
        .wait_js(
            "4 users running",
            "return document.getElementById('h-users').textContent === '4 / 4'",
        )
        .await;

    // The charts draw their series, not just their axes.
    browser
        .client
        .goto(&format!("{}#charts", cluster.url))
        .await
        .expect("charts tab");
    for (chart, colour) in [("c-rps", "--c1"), ("c-users", "--c2"), ("c-rt", "--c1")] {
        let pixels = browser
            .wait_js(
                &format!("{chart} drawing its first series"),
                &format!(
                    "return (function() {{ {SERIES_PIXELS} }}).apply(null, ['{chart}', '{colour}']) > 50"
                ),
            )
            .await;
        assert_eq!(pixels, json!(true), "{chart}");
    }
    browser.screenshot("web-ui-charts").await;
    kind_charts_are_drawn(&browser).await;

    // Edit: 6 users, which the workers then run.
    browser.click("#b-edit").await;
    browser.fill("#f-users", "6").await;
    browser.click("#f-submit").await;
    browser
        .wait_js(
            "6 users running",
            "return document.getElementById('h-users').textContent === '6 / 6'",
        )
        .await;

    // A reload loses nothing: the first snapshot carries the whole history.
    let rows = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch('api/v1/report').then(r => r.json()).then(r => done(r.history.length))",
            vec![],
        )
        .await
        .expect("fetch the report");
    let rows = rows.as_u64().expect("a history length");
    assert!(rows >= 2, "history rows before the reload: {rows}");
    browser.client.refresh().await.expect("reload");
    browser
        .wait_js(
            &format!("the charts to hold at least {rows} rows after the reload"),
            &format!("return Number(document.getElementById('c-rps').dataset.points) >= {rows}"),
        )
        .await;
    // Some 20 s of the run, so the screenshots of the charts (here and in the HTML report
    // after the stop) show lines rather than a few points.
    kind_charts_screenshot(&browser, 10).await;

    events_table_has_a_header_per_column(&browser, &cluster.url).await;

    // A fuller table for the README's screenshot.
    browser
        .client
        .goto(&format!("{}#stats", cluster.url))
        .await
        .expect("stats tab");
    browser
        .wait_js(
            "eight statistics rows with requests",
            &format!("return {STATS_ROWS}.filter(r => r[1] > 0).length >= 8"),
        )
        .await;
    let stats = browser.screenshot("web-ui-stats").await;
    let readme = lv_tests::workspace_root().join("docs/img/web-ui.png");
    if !readme.exists() || std::env::var("LV_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        std::fs::create_dir_all(readme.parent().expect("docs/img")).expect("create docs/img");
        std::fs::copy(&stats, &readme).expect("copy the README screenshot");
    }

    // The busiest row opens its endpoint's drawer, whose charts draw its whole history.
    let key = browser
        .js(
            "const trs = [...document.querySelectorAll('#stats-body tr[data-key]')]; \
             const n = tr => Number(tr.children[3].textContent.replace(/,/g, '')); \
             const tr = trs.reduce((a, b) => (n(b) > n(a) ? b : a)); \
             tr.click(); return tr.dataset.key",
            vec![],
        )
        .await;
    let title = browser
        .js(
            "return document.getElementById('ep-title').textContent",
            vec![],
        )
        .await;
    assert_eq!(title, key, "the drawer names the clicked endpoint");
    browser
        .wait_js(
            "the endpoint's requests/s drawn from the history",
            &format!(
                "return document.getElementById('ep-note').textContent.startsWith('The whole run') \
                 && (function() {{ {SERIES_PIXELS} }}).apply(null, ['ep-rps', '--c1']) > 50"
            ),
        )
        .await;
    // Its timing phases: a stacked bar (at least connect and time to first byte) and a row
    // per phase.
    browser
        .wait_js(
            "the endpoint's timing phases",
            "const box = document.getElementById('ep-phases-box'); \
             return !box.hidden \
               && document.querySelectorAll('#ep-phases .phase-bar > span').length >= 2 \
               && document.querySelectorAll('#ep-phases tbody tr').length === 4",
        )
        .await;
    browser.screenshot("web-ui-endpoint").await;
    browser.click("#ep-close").await;

    // Stop, then the CSV behind the page's own link.
    browser.click("#b-stop").await;
    browser
        .wait_js(
            "the stopped state",
            "return document.getElementById('h-state').textContent === 'stopped'",
        )
        .await;
    let csv = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(document.getElementById('dl-stats-csv').href).then(r => r.text()).then(done)",
            vec![],
        )
        .await
        .expect("fetch the stats CSV");
    let csv = csv.as_str().expect("CSV text").to_owned();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
             Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,\
             50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
        ),
        "Locust's header row"
    );
    let aggregated: u64 = lines
        .find(|l| l.starts_with(",Aggregated,"))
        .and_then(|l| l.split(',').nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Aggregated row in\n{csv}"));
    assert!(aggregated > 0, "requests were made");
    // The page's Aggregated row reaches the same total (its last snapshot may lag the stop).
    browser
        .wait_js(
            &format!("the Aggregated row to show {aggregated} requests"),
            &format!(
                "const td = document.querySelector('#stats-foot td:nth-child(4)'); \
                 return td && Number(td.textContent.replace(/,/g, '')) === {aggregated}"
            ),
        )
        .await;
    assert_eq!(aggregated, sim.counts().total, "the fleet saw them all");

    browser.screenshot("web-ui-stopped").await;
    report_has_a_chart_per_kind(&browser, &cluster.url).await;
    browser.close().await;
    stop.cancel();
}

/// The Charts tab (open) draws one response-time chart per SLO kind, for the kinds of the
/// report's latest history row, each with its lines drawn and its title.
async fn kind_charts_are_drawn(browser: &Browser) {
    const PAGE_KINDS: &str = "[...document.querySelectorAll('#c-kinds .chart[data-kind]')]\
        .map(b => b.dataset.kind)";
    browser
        .wait_js(
            "charts of at least two SLO kinds",
            &format!("return !document.getElementById('kinds').hidden && {PAGE_KINDS}.length >= 2"),
        )
        .await;
    let kinds = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch('api/v1/report').then(r => r.json())\
               .then(r => done(Object.keys(r.history[r.history.length - 1].kinds || {})))",
            vec![],
        )
        .await
        .expect("fetch the report");
    let kinds: Vec<String> = serde_json::from_value(kinds).expect("kind names");
    assert!(kinds.len() >= 2, "kinds in the history: {kinds:?}");
    browser
        .wait_js(
            &format!("a chart for each of the kinds {kinds:?}, in that order"),
            &format!(
                "return JSON.stringify({PAGE_KINDS}) === {:?}",
                json!(kinds).to_string()
            ),
        )
        .await;
    for kind in &kinds {
        // p50, p95 and p99 may overlap: count the pixels of all three colours.
        let chart = format!("c-kind-{kind}");
        let pixels = browser
            .wait_js(
                &format!("the {kind} chart drawing its lines"),
                &format!(
                    "const count = (v) => (function() {{ {SERIES_PIXELS} }}).apply(null, ['{chart}', v]); \
                     const n = count('--c1') + count('--c2') + count('--c3'); return n > 50 ? n : 0"
                ),
            )
            .await;
        assert!(pixels.as_u64().is_some_and(|n| n > 50), "{kind}: {pixels}");
        let title = browser
            .js(
                &format!(
                    "return document.getElementById('{chart}').parentElement\
                       .querySelector('h3').textContent"
                ),
                vec![],
            )
            .await;
        assert_eq!(
            title,
            json!(format!("{kind} response times (ms, current window)"))
        );
    }
}

/// Once the Charts tab (open) holds `rows` history rows, saves it scrolled to the response
/// times, all endpoints then per kind, as `web-ui-kind-charts.png`.
async fn kind_charts_screenshot(browser: &Browser, rows: u32) {
    browser
        .wait_js(
            &format!("{rows} history rows on the charts"),
            &format!("return Number(document.getElementById('c-rps').dataset.points) >= {rows}"),
        )
        .await;
    browser
        .js(
            "document.getElementById('c-rt').parentElement.scrollIntoView(); return 1",
            vec![],
        )
        .await;
    browser.screenshot("web-ui-kind-charts").await;
    browser.js("window.scrollTo(0, 0); return 1", vec![]).await;
}

/// Every table on the Workers tab, the run's events included, has a non-empty header over
/// each of its columns; saves `web-ui-workers.png`.
async fn events_table_has_a_header_per_column(browser: &Browser, url: &str) {
    browser
        .client
        .goto(&format!("{url}#workers"))
        .await
        .expect("workers tab");
    let columns = browser
        .wait_js(
            "the events of the run with their details",
            "const rows = document.querySelectorAll('#events-log tbody tr'); \
             return rows.length >= 1 && rows[0].children.length > 1 \
               ? rows[0].children.length : 0",
        )
        .await;
    assert_eq!(columns, json!(3), "time, event, details");
    let tables = browser
        .js(
            "return [...document.querySelectorAll('#tab-workers table')].map(t => ({ \
               id: t.id, \
               heads: [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()), \
               cells: Math.max(...[...t.querySelectorAll('tbody tr')] \
                 .map(tr => [...tr.children].reduce((n, td) => n + td.colSpan, 0))) }))",
            vec![],
        )
        .await;
    let tables = tables.as_array().expect("tables");
    assert_eq!(tables.len(), 2, "workers and events: {tables:?}");
    for table in tables {
        let heads = table["heads"].as_array().expect("headers");
        assert_eq!(json!(heads.len()), table["cells"], "{table}");
        assert!(
            heads
                .iter()
                .all(|h| h.as_str().is_some_and(|h| !h.is_empty())),
            "a column without a header: {table}"
        );
    }
    let events = &tables[1];
    assert_eq!(events["id"], "events-log");
    assert_eq!(events["heads"], json!(["Time", "Event", "Details"]));
    browser.screenshot("web-ui-workers").await;
}

/// The run's HTML report has its response-time chart per SLO kind, each with its p50 and p95
/// lines; saves `report-charts.png` and `report-kind-charts.png`.
async fn report_has_a_chart_per_kind(browser: &Browser, url: &str) {
    browser
        .client
        .goto(&format!("{url}stats/report"))
        .await
        .expect("the HTML report");
    let cards = browser
        .wait_js(
            "the report's per-kind charts",
            "const cards = [...document.querySelectorAll('.charts.kinds .card[id^=rt-]')]; \
             return cards.length >= 2 && document.getElementById('kind-charts') \
               ? cards.map(c => [c.id, c.querySelectorAll('polyline').length, \
                   c.querySelector('h3').textContent]) : null",
        )
        .await;
    for card in cards.as_array().expect("cards") {
        let lines = card[1].as_u64().unwrap_or(0);
        assert!(lines >= 2, "p50 and p95 lines in {card}");
        let kind = card[0]
            .as_str()
            .and_then(|id| id.strip_prefix("rt-"))
            .unwrap_or("");
        let title = card[2].as_str().unwrap_or("");
        assert!(title.starts_with(&format!("{kind} (")), "{card}");
    }
    browser
        .js(
            "document.getElementById('charts').scrollIntoView(); return 1",
            vec![],
        )
        .await;
    browser.screenshot("report-charts").await;
    browser
        .js(
            "document.getElementById('kind-charts').scrollIntoView(); return 1",
            vec![],
        )
        .await;
    browser.screenshot("report-kind-charts").await;
}

/// Writes `dir/many.toml`: one user class waiting 10 ms between tasks, whose `names` tasks send
/// `GET /p/N` to `target` under a stats name of their own.
fn many_names_scenario(dir: &std::path::Path, target: &lv_tests::Target, names: usize) {
    let mut text = String::from("[[user]]\nname = \"Many\"\nwait = { constant = 0.01 }\n");
    for i in 0..names {
        text.push_str(&format!(
            "[[user.task]]\n[[user.task.step]]\nurl = \"{}\"\npath = \"/p/{i}\"\nname = \"item {i:04}\"\n",
            target.url()
        ));
    }
    lv_tests::write_file(dir, "many.toml", &text);
}

/// With hundreds of endpoint names the statistics table renders 200 rows, says how many it
/// hides, and the filter finds a hidden one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_names_are_capped_with_a_banner_and_a_filter() {
    let Some((chromium, chromedriver)) =
        browser_or_skip("many_names_are_capped_with_a_banner_and_a_filter")
    else {
        return;
    };
    let stop = CancellationToken::new();
    let target = lv_tests::spawn_target(&[], stop.clone()).await;
    let dir = work_dir();
    many_names_scenario(dir.path(), &target, 400);
    let ui = start_ui(dir.path(), &["-f", "many.toml", "--no-slo"]).await;
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.client.goto(&ui.url).await.expect("open the page");
    browser
        .wait_js(
            "two workers",
            "return document.getElementById('h-workers').textContent.startsWith('2')",
        )
        .await;
    browser.click("#b-new").await;
    browser.fill("#f-users", "8").await;
    browser.fill("#f-rate", "8").await;
    browser.fill("#f-time", "").await;
    browser.click("#f-submit").await;
    browser
        .wait_js(
            "more than 300 names",
            "const b = document.getElementById('hidden-banner'); \
             return !b.hidden && parseInt(b.textContent.replace(/,/g, '')) > 100",
        )
        .await;
    browser.click("#b-stop").await;
    browser
        .wait_js(
            "the stopped state",
            "return document.getElementById('h-state').textContent === 'stopped'",
        )
        .await;
    let names = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch('api/v1/report').then(r => r.json()).then(r => done(r.endpoints.length))",
            vec![],
        )
        .await
        .expect("fetch the report");
    let names = names.as_u64().expect("an endpoint count");
    assert!(names > 300 && names <= 400, "{names} names");
    let banner = format!("{} rows hidden; filter to see them", names - 200);
    browser
        .wait_js(
            &format!("the banner {banner:?}"),
            &format!(
                "return document.getElementById('hidden-banner').textContent === {banner:?} \
                 && {STATS_ROWS}.length === 200"
            ),
        )
        .await;
    browser.screenshot("web-ui-many-names").await;

    // The last name in sort order is hidden; the filter shows it.
    let rows = browser.js(&format!("return {STATS_ROWS}"), vec![]).await;
    let last = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch('api/v1/report').then(r => r.json())\
               .then(r => done(r.endpoints.map(e => e.name).sort().pop()))",
            vec![],
        )
        .await
        .expect("fetch the report");
    let last = last.as_str().expect("a name").to_owned();
    let shown = rows.as_array().expect("rows");
    assert!(
        !shown.iter().any(|r| r[0] == json!(format!("GET {last}"))),
        "{last} hidden"
    );
    browser.fill("#filter", &last).await;
    let found = browser
        .wait_js(
            &format!("{last} after filtering"),
            &format!("const r = {STATS_ROWS}; return r.length === 1 && r[0][0]"),
        )
        .await;
    assert_eq!(found, json!(format!("GET {last}")));
    browser
        .wait_js(
            "no banner",
            "return document.getElementById('hidden-banner').hidden",
        )
        .await;
    browser.close().await;
    stop.cancel();
}

/// With `--web-readonly` the page shows the run but no control that changes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_master_shows_no_controls() {
    let Some((chromium, chromedriver)) = browser_or_skip("a_read_only_master_shows_no_controls")
    else {
        return;
    };
    let dir = work_dir();
    let ui = start_ui(dir.path(), &["--web-readonly"]).await;
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.client.goto(&ui.url).await.expect("open the page");
    browser
        .wait_js(
            "the ready state",
            "return document.getElementById('h-state').textContent === 'ready'",
        )
        .await;
    let shown = browser
        .js(
            "return ['b-new', 'b-edit', 'b-stop', 'b-reset']\
               .filter(id => document.getElementById(id).offsetParent !== null)",
            vec![],
        )
        .await;
    assert_eq!(shown, json!([]), "controls shown to a read-only page");
    let theme = browser
        .js(
            "return document.getElementById('b-theme').offsetParent !== null",
            vec![],
        )
        .await;
    assert_eq!(theme, json!(true), "the theme button is not a control");
    browser.close().await;
}

/// A run an abort rule stopped says so on the page: a banner naming the rule and why, the
/// verdict, and the stopped state, while the master waits for the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_an_abort_rule_names_the_rule() {
    let Some((chromium, chromedriver)) =
        browser_or_skip("a_run_stopped_by_an_abort_rule_names_the_rule")
    else {
        return;
    };
    let stop = CancellationToken::new();
    let dir = work_dir();
    let fleet = dir.path().join("fleet.toml");
    // A fleet failing half its requests, against a rule allowing 1%.
    let config = lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.01,
        error_rate: 0.5,
        seed: Some(22),
        ..lv_fleet_sim::SimConfig::default()
    };
    let sim = lv_fleet_sim::start(config, stop.clone())
        .await
        .expect("the simulator starts");
    lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");
    let shipped = std::fs::read_to_string(lv_tests::workspace_root().join("configs/slo.toml"))
        .expect("read configs/slo.toml");
    let rule = "[[rules]]\nmax_failure_ratio = 0.01\nabort = true\nafter = \"2s\"\n";
    lv_tests::write_file(dir.path(), "slo.toml", &format!("{shipped}\n{rule}"));
    let flags = [
        "--fleet",
        "fleet.toml",
        "-H",
        "http://127.0.0.1",
        "--slo",
        "slo.toml",
        "--slo-level",
        "light",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "5m",
        "--expect-workers",
        "2",
        "--autostart",
    ];
    let ui = start_ui(dir.path(), &flags).await;
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.client.goto(&ui.url).await.expect("open the page");
    let banner = browser
        .wait_js(
            "the abort banner",
            "const b = document.getElementById('abort-banner');\
             return b.offsetParent !== null ? b.textContent : ''",
        )
        .await;
    let banner = banner.as_str().unwrap_or_default().to_owned();
    assert!(
        banner.starts_with("Stopped early by abort rule rules[1] at "),
        "{banner}"
    );
    assert!(
        banner.contains("failure_ratio") && banner.contains("target < 1%"),
        "{banner}"
    );
    browser
        .wait_js(
            "the stopped state",
            "return document.getElementById('h-state').textContent === 'stopped'",
        )
        .await;
    let verdict = browser
        .js(
            "return document.getElementById('h-verdict').textContent",
            vec![],
        )
        .await;
    let verdict = verdict.as_str().unwrap_or_default();
    assert!(
        verdict.starts_with("failed: abort rule rules[1] stopped the run"),
        "{verdict}"
    );
    browser.close().await;
    stop.cancel();
}

/// A capacity search started from the page's Capacity tab: the form is filled and
/// submitted in Chromium, the steps table fills while the search runs, and the answer, the
/// curve and the file links appear when it is over (ATLAS serving 8 chats at once in
/// 100 ms: a knee of 80/s). The tab is photographed as `target/browser/capacity-tab.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_search_runs_from_the_page() {
    let Some((chromium, chromedriver)) = browser_or_skip("a_capacity_search_runs_from_the_page")
    else {
        return;
    };
    let stop = CancellationToken::new();
    let dir = work_dir();
    let fleet = dir.path().join("fleet.toml");
    let config = lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.0,
        slow: [("ATLAS".to_owned(), 100)].into(),
        capacity: [("ATLAS".to_owned(), 8)].into(),
        seed: Some(23),
        ..lv_fleet_sim::SimConfig::default()
    };
    let sim = lv_fleet_sim::start(config, stop.clone())
        .await
        .expect("the simulator starts");
    lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");
    let flags = [
        "--fleet",
        "fleet.toml",
        "-H",
        "http://127.0.0.1",
        "--slo",
        "configs/slo-capacity-demo.toml",
        "--slo-level",
        "light",
        "--expect-workers",
        "2",
    ];
    let ui = start_ui(dir.path(), &flags).await;
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser
        .client
        .goto(&format!("{}#capacity", ui.url))
        .await
        .expect("open the page");
    browser
        .wait_js(
            "the form's classes",
            "return document.querySelectorAll('#cap-classes option').length > 0",
        )
        .await;
    browser
        .js(
            "const o = [...document.querySelectorAll('#cap-classes option')]\
               .find((o) => o.value === 'AriaChatUser'); o.selected = true; return true",
            vec![],
        )
        .await;
    for (name, value) in [
        ("start", "20"),
        ("max", "200"),
        ("hold", "2s"),
        ("settle", "1s"),
        ("max_lag", "50ms"),
    ] {
        browser
            .fill(&format!("#cap-form input[name={name}]"), value)
            .await;
    }
    browser.click("#cap-start").await;
    let live = browser
        .wait_js(
            "a step judged while the search runs",
            "const rows = document.querySelectorAll('#cap-steps tbody tr td:first-child');\
             const line = document.getElementById('cap-summary').textContent;\
             return line.startsWith('Searching') && rows.length >= 1 && rows[0].textContent === '1'\
               ? line : ''",
        )
        .await;
    assert!(
        live.as_str()
            .is_some_and(|l| l.contains("step(s) judged so far")),
        "{live}"
    );
    // A whole search takes about a minute here: longer than one `wait_js`.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(240);
    let summary = loop {
        let line = browser
            .js(
                "return document.getElementById('cap-summary').textContent",
                vec![],
            )
            .await;
        let line = line.as_str().unwrap_or_default().to_owned();
        if line.starts_with("capacity:") {
            break line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer within 240 s; the line says {line:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(summary.contains("arrivals/s of AriaChatUser"), "{summary}");
    let found: f64 = summary
        .trim_start_matches("capacity: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number in {summary:?}"));
    assert!((found - 80.0).abs() <= 12.0, "{summary}");
    let page = browser
        .js(
            "return [document.querySelectorAll('#cap-curve svg polyline, #cap-curve svg path').length,\
                     document.querySelectorAll('#cap-steps tbody tr').length,\
                     [...document.querySelectorAll('#cap-files a')].map((a) => a.textContent).join(','),\
                     document.getElementById('cap-stop').hidden,\
                     document.getElementById('cap-start').disabled]",
            vec![],
        )
        .await;
    assert!(
        page[0].as_u64().is_some_and(|n| n >= 3),
        "the curve's series: {page}"
    );
    assert!(
        page[1].as_u64().is_some_and(|n| n >= 5),
        "the steps: {page}"
    );
    assert_eq!(page[2], "CSV,HTML,JSON", "{page}");
    assert_eq!(
        (&page[3], &page[4]),
        (&json!(true), &json!(false)),
        "{page}"
    );
    browser
        .js(
            "document.getElementById('cap-summary').scrollIntoView(); window.scrollBy(0, -90); return true",
            vec![],
        )
        .await;
    browser.screenshot("capacity-tab").await;
    browser.close().await;
    stop.cancel();
}
