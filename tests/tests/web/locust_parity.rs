//! lv's Locust API against a real Locust 2.47 master's: `tests/scripts/locust_record.py`
//! runs Locust (a master, one worker and its web UI, all on loopback, as a library in one
//! Python process) against the test's target and records its answers to a fixed series of
//! calls; the test sends lv the same calls and compares every answer field by field: the
//! keys Locust gives must be there with the same JSON type, and every key lv adds must be
//! one of its documented extras (docs/web.md, "Where lv differs from Locust").
//!
//! Locust comes from PyPI (`locust==2.47.*`): `.ci/run` installs it into a cached venv and
//! points `LV_LOCUST_PYTHON` at that venv's Python. Without it the test is skipped loudly;
//! `LV_REQUIRE_LOCUST=1` (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::{Method, StatusCode};
use lv_tests::harness::spawn_worker_process;
use lv_tests::{spawn_target, workspace_root, write_file};
use serde_json::{Value, json};

use super::{Answer, Master, get, multipart, send, spawn_master};

/// Set to 1 (CI does) to make a missing Locust a failure instead of a skip.
const REQUIRE: &str = "LV_REQUIRE_LOCUST";
/// The Python that has Locust (default `python3`).
const PYTHON: &str = "LV_LOCUST_PYTHON";
/// The Locust the recording must come from.
const VERSION: &str = "2.47.";
/// Seconds of load before the running stats are read.
const LOAD_SECONDS: &str = "4";

/// Fields lv adds to Locust's answers (each documented in docs/web.md).
const EXTRAS: &[&str] = &[
    "/swarm.edit",
    "/swarm.run_id",
    // An edit without run_time keeps the running timer and says what is left of it.
    "/swarm.run_time",
    "/stats/requests.run_id",
    "/stats/requests.total_avg_response_time",
    "/stats/requests.stats[].safe_name",
    "/stats/requests.stats[].ninetieth_response_time",
    "/stats/requests.stats[].ninety_ninth_response_time",
    "/stats/requests.errors[].safe_name",
    "/stats/requests.errors[].safe_error",
];

/// Fields where Locust sends a whole number and lv a float: response times with their
/// microseconds, and rates or averages Locust sends as `0` when it has no request.
const FLOAT_FOR_INTEGER: &[&str] = &[
    "/stats/requests.stats[].min_response_time",
    "/stats/requests.stats[].max_response_time",
    "/stats/requests.stats[].median_response_time",
    "/stats/requests.stats[].response_time_percentile_0.95",
    "/stats/requests.stats[].response_time_percentile_0.99",
    "/stats/requests.stats[].avg_response_time",
    "/stats/requests.stats[].avg_content_length",
    "/stats/requests.stats[].current_rps",
    "/stats/requests.stats[].current_fail_per_sec",
    "/stats/requests.stats[].total_rps",
    "/stats/requests.stats[].total_fail_per_sec",
    "/stats/requests.current_response_time_percentiles.response_time_percentile_0.5",
    "/stats/requests.current_response_time_percentiles.response_time_percentile_0.95",
    "/stats/requests.current_rps",
    "/stats/requests.current_fail_per_sec",
    "/stats/requests.total_rps",
    "/stats/requests.total_fail_per_sec",
    "/stats/requests.fail_ratio",
    "/stats/requests.workers[].cpu_usage",
    "/stats/requests.workers[].memory_usage",
];

/// Fields lv leaves `null` where Locust has a number: the current window's percentiles
/// when the window had no request (Locust repeats its last ones).
const NULL_FOR_NUMBER: &[&str] = &[
    "/stats/requests.current_response_time_percentiles.response_time_percentile_0.5",
    "/stats/requests.current_response_time_percentiles.response_time_percentile_0.95",
];

/// Objects whose keys are names (classes, tasks): each entry is compared with Locust's first.
const NAME_MAPS: &[&str] = &[
    "/tasks.per_class",
    "/tasks.total",
    "/tasks.per_class.*.tasks",
    "/tasks.total.*.tasks",
];

/// Steps whose status differs on purpose: lv refuses a bad form with 400, Locust with 200.
const STATUS_DIFFERS: &[&str] = &["swarm_without_user_count"];

/// The Python with Locust 2.47, or `None` (skipped) when there is none and [`REQUIRE`] is
/// not set.
fn locust_python() -> Option<PathBuf> {
    let python = std::env::var_os(PYTHON).map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let probe = std::process::Command::new(&python)
        .args(["-c", "import locust; print(locust.__version__)"])
        .output();
    let reason = match probe {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if version.starts_with(VERSION) {
                return Some(python);
            }
            format!("it has Locust {version}, not {VERSION}*")
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("no message")
            .to_owned(),
        Err(err) => format!("{} cannot start: {err}", python.display()),
    };
    assert!(
        std::env::var(REQUIRE).as_deref() != Ok("1"),
        "{REQUIRE}=1 but {} has no Locust {VERSION}* ({reason}); \
         pip install 'locust=={VERSION}*' and set {PYTHON}",
        python.display()
    );
    eprintln!(
        "\n*** SKIPPED web::locust_parity: {} has no Locust {VERSION}* ({reason}); pip install \
         'locust=={VERSION}*' into a venv and set {PYTHON} to its python, or set {REQUIRE}=1 \
         to fail ***\n",
        python.display()
    );
    None
}

/// Runs the recorder against `target` and returns its steps.
async fn record_locust(python: &Path, target: &str, dir: &Path) -> Vec<Value> {
    let out = dir.join("locust.json");
    let script = workspace_root().join("tests/scripts/locust_record.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(&script)
        .arg(target)
        .arg(&out)
        .arg(LOAD_SECONDS)
        .current_dir(dir)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the Locust recording ends within 120 s")
        .expect("the recorder starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("locust_record: 12 steps, Locust 2.47."),
        "{stdout}"
    );
    let recording: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("recording")).expect("JSON");
    recording["steps"].as_array().cloned().unwrap_or_default()
}

/// lv's class like the recorder's: `/a` three times as often as `/fail` (500), and a task
/// whose step cannot extract what it asks for (an exception, as the recorder's raises).
fn scenario(url: &str) -> String {
    format!(
        "[[user]]\nname = \"Paths\"\nwait = {{ constant = 0.05 }}\n\
         [[user.task]]\nname = \"ok\"\nweight = 3\n\
         [[user.task.step]]\nurl = \"{url}\"\npath = \"/a\"\nname = \"/a\"\n\
         [[user.task]]\nname = \"failing\"\n\
         [[user.task.step]]\nurl = \"{url}\"\npath = \"/fail\"\nname = \"/fail\"\n\
         [[user.task]]\nname = \"broken\"\n\
         [[user.task.step]]\nurl = \"{url}\"\npath = \"/broken\"\nname = \"/broken\"\n\
         extract = {{ id = \"/id\" }}\n"
    )
}

/// One answer of lv as a recorded step.
fn step(name: &str, method: &Method, path: &str, answer: &Answer) -> Value {
    let header = |h: &str| answer.headers.get(h).and_then(|v| v.to_str().ok());
    let body = if path.contains("download=1") {
        json!(format!("<{} characters of HTML>", answer.body.len()))
    } else {
        serde_json::from_str(&answer.body).unwrap_or_else(|_| json!(answer.body))
    };
    json!({
        "step": name, "method": method.as_str(), "path": path,
        "status": answer.status.as_u16(),
        "content_type": header("content-type").unwrap_or(""),
        "content_disposition": header("content-disposition"),
        "body": body,
    })
}

/// Waits until lv's stats have a request, an error and an exception (at most 30 s).
async fn wait_for_load(master: &Master) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = get(&master.url("/stats/requests")).await.json();
        let exceptions = get(&master.url("/exceptions")).await.json();
        let has = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
        if has(&stats["errors"])
            && has(&exceptions["exceptions"])
            && stats["current_rps"].as_f64().is_some_and(|r| r > 0.0)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lv has load, an error and an exception: {stats}\n{exceptions}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One call: its step name, method, path and body (content type and text).
type Call = (&'static str, Method, &'static str, Option<(String, String)>);

/// The recorder's calls, in its order, sent to lv.
async fn drive_lv(master: &Master) -> Vec<Value> {
    let mut steps = Vec::new();
    let form = "application/x-www-form-urlencoded";
    let calls: [Call; 12] = [
        ("worker_count", Method::GET, "/worker-count", None),
        ("tasks", Method::GET, "/tasks", None),
        (
            "swarm_without_user_count",
            Method::POST,
            "/swarm",
            Some((form.into(), "spawn_rate=5".into())),
        ),
        ("swarm_multipart", Method::POST, "/swarm", {
            let (body, kind) = multipart(&[
                ("user_count", "2"),
                ("spawn_rate", "20"),
                ("run_time", "30s"),
            ]);
            Some((kind, body))
        }),
        ("stats_running", Method::GET, "/stats/requests", None),
        ("exceptions", Method::GET, "/exceptions", None),
        (
            "swarm_edit",
            Method::POST,
            "/swarm",
            Some((form.into(), "user_count=1&spawn_rate=20".into())),
        ),
        ("stop", Method::POST, "/stop", None),
        ("stats_stopped", Method::GET, "/stats/requests", None),
        (
            "report_download",
            Method::GET,
            "/stats/report?download=1",
            None,
        ),
        ("reset", Method::POST, "/stats/reset", None),
        ("stats_reset", Method::GET, "/stats/requests", None),
    ];
    for (name, method, path, body) in calls {
        match name {
            "stats_running" => wait_for_load(master).await,
            "stats_stopped" => {
                master
                    .wait_status("stopped", |s| s["state"] == "stopped")
                    .await;
            }
            _ => {}
        }
        let body = body
            .as_ref()
            .map(|(kind, body)| (kind.as_str(), body.clone()));
        let answer = send(method.clone(), &master.url(path), &[], body).await;
        steps.push(step(name, &method, path, &answer));
    }
    steps
}

/// A JSON value's type, telling whole numbers from floats.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What a comparison found: the differences, and how many values it compared.
#[derive(Default)]
struct Found {
    differences: Vec<String>,
    compared: usize,
}

impl Found {
    fn differ(&mut self, text: String) {
        self.differences.push(text);
    }
}

/// Every difference between Locust's `theirs` and lv's `ours` at `path` that is not one of
/// lv's documented ones.
fn compare(theirs: &Value, ours: &Value, path: &str, found: &mut Found) {
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) if NAME_MAPS.contains(&path) => {
            let Some(first) = t.values().next() else {
                return;
            };
            if o.is_empty() {
                found.differ(format!("{path}: Locust has entries, lv none"));
            }
            for value in o.values() {
                compare(first, value, &format!("{path}.*"), found);
            }
        }
        (Value::Object(t), Value::Object(o)) => {
            for (key, value) in t {
                match o.get(key) {
                    Some(ours) => compare(value, ours, &format!("{path}.{key}"), found),
                    None => found.differ(format!("{path}.{key}: Locust has it ({value}), lv not")),
                }
            }
            for key in o.keys().filter(|k| !t.contains_key(*k)) {
                let at = format!("{path}.{key}");
                if !EXTRAS.contains(&at.as_str()) {
                    found.differ(format!(
                        "{at}: lv adds it, and it is not a documented extra"
                    ));
                }
            }
        }
        (Value::Array(t), Value::Array(o)) => {
            if let Some(first) = t.first() {
                for value in o {
                    compare(first, value, &format!("{path}[]"), found);
                }
            }
        }
        _ => {
            found.compared += 1;
            let (t, o) = (kind(theirs), kind(ours));
            let allowed = t == o
                || (t == "float" && o == "integer")
                || (t == "integer" && o == "float" && FLOAT_FOR_INTEGER.contains(&path))
                || (o == "null" && NULL_FOR_NUMBER.contains(&path));
            if !allowed {
                found.differ(format!(
                    "{path}: Locust gives {t} ({theirs}), lv {o} ({ours})"
                ));
            }
        }
    }
}

/// The differences between two recordings of the same steps.
fn compare_steps(locust: &[Value], lv: &[Value]) -> Found {
    let mut found = Found::default();
    assert_eq!(locust.len(), lv.len(), "the same steps");
    for (theirs, ours) in locust.iter().zip(lv) {
        let name = theirs["step"].as_str().unwrap_or("?");
        assert_eq!(ours["step"], name, "the same order");
        let path = theirs["path"].as_str().unwrap_or("");
        let path = path.split('?').next().unwrap_or(path);
        if theirs["status"] != ours["status"] && !STATUS_DIFFERS.contains(&name) {
            found.differ(format!(
                "{name}: status {} in Locust, {} in lv",
                theirs["status"], ours["status"]
            ));
        }
        let json = |step: &Value| {
            step["content_type"]
                .as_str()
                .is_some_and(|t| t.starts_with("application/json"))
        };
        if json(theirs) != json(ours) {
            found.differ(format!(
                "{name}: content type {} in Locust, {} in lv",
                theirs["content_type"], ours["content_type"]
            ));
        }
        let attachment = |step: &Value| {
            step["content_disposition"]
                .as_str()
                .is_some_and(|d| d.starts_with("attachment;filename=") && d.ends_with(".html"))
        };
        if attachment(theirs) != attachment(ours) {
            found.differ(format!(
                "{name}: Content-Disposition {} in Locust, {} in lv",
                theirs["content_disposition"], ours["content_disposition"]
            ));
        }
        if json(theirs) {
            compare(&theirs["body"], &ours["body"], path, &mut found);
        } else if name == "reset" && theirs["body"] != ours["body"] {
            found.differ(format!(
                "{name}: body {} in Locust, {} in lv",
                theirs["body"], ours["body"]
            ));
        }
    }
    found
}

/// The parts of a recording the comparison needs filled: rows, errors, workers and
/// exceptions while running (else an empty list would compare as anything).
fn assert_filled(steps: &[Value], who: &str) {
    let body = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .map(|s| s["body"].clone())
            .unwrap_or_default()
    };
    let stats = body("stats_running");
    for field in ["stats", "errors", "workers"] {
        let filled = stats[field].as_array().is_some_and(|a| !a.is_empty());
        assert!(filled, "{who}: stats_running.{field} is empty: {stats}");
    }
    let exceptions = body("exceptions");
    assert!(
        exceptions["exceptions"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{who}: no exception: {exceptions}"
    );
    let tasks = body("tasks");
    assert!(
        tasks["per_class"]
            .as_object()
            .is_some_and(|c| !c.is_empty()),
        "{who}: {tasks}"
    );
}

/// A real Locust 2.47 master and lv answer the same calls (`/worker-count`, `/tasks`,
/// `/swarm` refused, from `curl -F` and as an edit, `/stats/requests` running, stopped and
/// reset, `/exceptions`, `/stop`, `/stats/reset`, the report download) with the same keys
/// and JSON types, but for lv's documented extras and differences. The same comparison
/// then finds a missing field, a float count and an undocumented extra in a tampered copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lv_answers_locusts_api_as_a_real_locust_master_does() {
    let Some(python) = locust_python() else {
        return;
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let target = spawn_target(&["/fail"], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let locust = record_locust(&python, &target.url(), dir.path()).await;
    assert_filled(&locust, "Locust");

    let file = write_file(dir.path(), "paths.toml", &scenario(&target.url()));
    let mut master = spawn_master(&file, &dir.path().join("reports"), &[]).await;
    let _worker = spawn_worker_process(&master.workers, &[], "worker");
    master
        .wait_status("a worker", |s| {
            s["worker_count"] == 1 && s["state"] == "ready"
        })
        .await;
    let lv = drive_lv(&master).await;
    master.process.child.start_kill().expect("stop the master");
    stop.cancel();
    assert_filled(&lv, "lv");
    let recorded = |steps: &[Value]| serde_json::to_string_pretty(steps).unwrap_or_default();
    let found = compare_steps(&locust, &lv);
    assert!(
        found.differences.is_empty(),
        "{} differences from Locust:\n{}\n\nLocust:\n{}\n\nlv:\n{}",
        found.differences.len(),
        found.differences.join("\n"),
        recorded(&locust),
        recorded(&lv)
    );
    // Rows, errors, workers and exceptions of three stats answers: well over 100 values.
    assert!(
        found.compared > 100,
        "only {} values compared",
        found.compared
    );
    eprintln!(
        "web::locust_parity: {} steps, {} values compared with Locust's, no undocumented difference",
        lv.len(),
        found.compared
    );
    assert_eq!(lv[2]["status"], StatusCode::BAD_REQUEST.as_u16());

    // The comparison can fail: a tampered copy of lv's answers is caught on every count.
    let mut tampered = lv.clone();
    let row = &mut tampered[4]["body"]["stats"][0];
    row.as_object_mut().map(|r| r.remove("current_rps"));
    row["num_requests"] = json!(1.5);
    tampered[4]["body"]["bogus"] = json!(1);
    let caught = compare_steps(&locust, &tampered).differences;
    let expected = [
        "/stats/requests.stats[].current_rps: Locust has it",
        "/stats/requests.stats[].num_requests: Locust gives integer",
        "/stats/requests.bogus: lv adds it",
    ];
    for text in expected {
        assert!(
            caught.iter().any(|c| c.starts_with(text)),
            "{text} in {caught:?}"
        );
    }
    assert_eq!(caught.len(), expected.len(), "{caught:?}");
}
