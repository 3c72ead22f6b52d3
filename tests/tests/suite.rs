//! The shipped scenario files (`configs/scenarios/*.toml`) against the simulated fleet:
//! a master and two in-process workers drive an in-process `lv-fleet-sim`, and lv's
//! numbers are compared with what the fleet says it received.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lv_fleet_sim::{Counts, SimConfig};
use lv_master::Outcome;
use lv_master::report::summary::Summary;
use lv_tests::{master_config, run_cluster, workspace_root};
use tokio_util::sync::CancellationToken;

/// How long each run lasts: the scenarios' waits are seconds long, so the tests use many
/// users rather than long runs.
const RUN_TIME: &str = "4s";

/// The creative agents of the fleet map.
const CREATIVE: [&str; 5] = ["MUSE", "CALLIOPE", "THALIA", "ERATO", "CLIO"];

/// Requests per agent and `"METHOD /route"`, as the simulator keys them.
type PerAgent = BTreeMap<String, BTreeMap<String, u64>>;

/// One finished run: lv's outcome, the simulator's counts, and the agents it served.
struct Run {
    outcome: Outcome,
    seen: Counts,
    agents: Vec<String>,
}

impl Run {
    fn summary(&self) -> &Summary {
        &self.outcome.summary
    }

    /// Requests lv recorded under the stats name `name` (any method).
    fn lv_requests(&self, name: &str) -> u64 {
        self.summary()
            .endpoints
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.requests)
            .sum()
    }

    /// Requests the simulator saw for `agent` under `key`.
    fn sim_requests(&self, agent: &str, key: &str) -> u64 {
        self.seen
            .agents
            .get(agent)
            .and_then(|keys| keys.get(key))
            .copied()
            .unwrap_or(0)
    }
}

/// Starts the simulator (ephemeral ports, `down` agents refused), runs a master with
/// `words` (before `-f`, e.g. class names and tags) on the `scenarios` (file names in
/// `configs/scenarios`; empty for the whole folder) with `users` users and two
/// in-process workers, and returns what both sides saw.
async fn run(scenarios: &[&str], users: u32, words: &[&str], down: &[&str]) -> Run {
    let stop = CancellationToken::new();
    let sim = lv_fleet_sim::start(
        SimConfig {
            port_offset: None,
            latency_scale: 0.01,
            admin_port: None,
            down: down.iter().map(|a| (*a).to_owned()).collect(),
            seed: Some(7),
            ..SimConfig::default()
        },
        stop.child_token(),
    )
    .await
    .expect("the simulator starts");
    let agents = sim.fleet().agents.iter().map(|a| a.name.clone()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");

    let folder = workspace_root().join("configs/scenarios");
    let paths: Vec<String> = if scenarios.is_empty() {
        vec![folder.display().to_string()]
    } else {
        scenarios
            .iter()
            .map(|f| folder.join(f).display().to_string())
            .collect()
    };
    let users = users.to_string();
    let mut all: Vec<&str> = words.to_vec();
    all.push("-f");
    all.extend(paths.iter().map(String::as_str));
    all.extend([
        "--fleet",
        fleet.to_str().expect("utf-8 path"),
        "-H",
        "http://127.0.0.1",
        "-u",
        &users,
        "-r",
        "1000",
        "-t",
        RUN_TIME,
        "--expect-workers",
        "2",
        "--expect-workers-max-wait",
        "20s",
        "--headless",
        "--only-summary",
    ]);
    let outcome = run_cluster(
        master_config(&all).expect("valid config"),
        2,
        &stop,
        Duration::from_secs(60),
    )
    .await;
    let seen = sim.counts();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), sim.wait())
        .await
        .expect("the simulator stops");
    Run {
        outcome,
        seen,
        agents,
    }
}

/// The simulator's key for one of lv's rows: the stats name is `AGENT /path[?query] [label]`;
/// the simulator drops the query and shows every templated segment as `{id}`.
fn sim_key(method: &str, name: &str) -> (String, String) {
    let mut words = name.split_whitespace();
    let agent = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let route: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    (agent, format!("{method} {}", route.join("/")))
}

/// lv's request counts, keyed as the simulator keys its own.
fn lv_per_agent(summary: &Summary) -> PerAgent {
    let mut out = PerAgent::new();
    for endpoint in summary.endpoints.iter().filter(|e| e.requests > 0) {
        let (agent, key) = sim_key(&endpoint.method, &endpoint.name);
        *out.entry(agent).or_default().entry(key).or_default() += endpoint.requests;
    }
    out
}

/// lv counted exactly what the fleet received, per agent, per route and in total.
fn assert_counts_match(run: &Run) {
    let summary = run.summary();
    assert_eq!(
        lv_per_agent(summary),
        run.seen.agents,
        "lv's rows (left) against the simulator's counts (right)"
    );
    assert_eq!(summary.total.requests, run.seen.total);
    assert_eq!(summary.cut_off, 0, "requests in flight at the stop finish");
    assert!(
        run.seen.total < 20_000,
        "the run stays small: {} requests",
        run.seen.total
    );
}

/// No failed request and no step error.
fn assert_clean(run: &Run) {
    let summary = run.summary();
    assert_eq!(
        summary.total.failures, 0,
        "failures: {:?}",
        summary.failures
    );
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert!(summary.exceptions.is_empty(), "{:?}", summary.exceptions);
    assert_eq!(run.outcome.exit_code, 0, "{}", summary.verdict);
}

/// The routes each agent was sent, as a set.
fn routes(seen: &PerAgent) -> BTreeSet<(String, String)> {
    seen.iter()
        .flat_map(|(agent, keys)| keys.keys().map(move |k| (agent.clone(), k.clone())))
        .collect()
}

/// `health_checks.toml`: lv's per-agent counts equal the fleet's, all of them `GET /health`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_counts_match_the_fleet() {
    let run = run(&["health_checks.toml"], 60, &[], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    assert!(run.seen.total > 60, "only {} requests", run.seen.total);
    for (agent, route) in routes(&run.seen.agents) {
        assert!(run.agents.contains(&agent), "{agent}");
        assert_eq!(route, "GET /health", "{agent}");
    }
}

/// `aria_chat.toml`: lv's counts equal ATLAS's, and follow-ups ran without a single 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria_chat_counts_match_the_fleet() {
    let run = run(&["aria_chat.toml"], 60, &[], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    let want: BTreeSet<_> = [("ATLAS".to_owned(), "POST /v1/chat".to_owned())].into();
    assert_eq!(routes(&run.seen.agents), want);
    assert!(run.lv_requests("ATLAS /v1/chat [new]") > 0);
    assert!(run.lv_requests("ATLAS /v1/chat [followup]") > 0);
}

/// `event_bus.toml`: lv's counts equal the event bus's for publish, query, ack and batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_counts_match_the_fleet() {
    let run = run(&["event_bus.toml"], 40, &[], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    let allowed: BTreeSet<(String, String)> = [
        "POST /v1/events",
        "GET /v1/events",
        "POST /v1/events/{id}/ack",
        "POST /v1/events/batch",
    ]
    .into_iter()
    .map(|k| ("EVENT-BUS".to_owned(), k.to_owned()))
    .collect();
    let seen = routes(&run.seen.agents);
    assert!(seen.is_subset(&allowed), "{seen:?}");
    assert!(run.sim_requests("EVENT-BUS", "POST /v1/events") > 0);
    assert!(run.sim_requests("EVENT-BUS", "GET /v1/events") > 0);
    assert!(run.sim_requests("EVENT-BUS", "POST /v1/events/{id}/ack") > 0);
}

/// `creative_fleet.toml`: lv's counts equal each creative agent's tasks, batches and assets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creative_fleet_counts_match_the_fleet() {
    let run = run(&["creative_fleet.toml"], 80, &[], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    for (agent, route) in routes(&run.seen.agents) {
        assert!(CREATIVE.contains(&agent.as_str()), "{agent} {route}");
        let allowed = match agent.as_str() {
            "CLIO" => ["POST /v1/tasks", "GET /v1/assets"].contains(&route.as_str()),
            "MUSE" => ["POST /v1/tasks", "POST /v1/tasks/batch"].contains(&route.as_str()),
            _ => route == "POST /v1/tasks",
        };
        assert!(allowed, "{agent} {route}");
    }
    assert!(run.seen.agents.len() >= 4, "{:?}", run.seen.agents);
}

/// `--tags creative` over every scenario file reaches only the creative agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_creative_reaches_only_creative_agents() {
    let run = run(&[], 80, &["--tags", "creative"], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    let agents: Vec<&str> = run.seen.agents.keys().map(String::as_str).collect();
    assert!(
        agents.iter().all(|a| CREATIVE.contains(a)),
        "non-creative agents were reached: {agents:?}"
    );
    let seen = routes(&run.seen.agents);
    assert!(seen.iter().any(|(_, r)| r == "GET /health"), "{seen:?}");
    assert!(seen.iter().any(|(_, r)| r == "POST /v1/tasks"), "{seen:?}");
}

/// `HealthCheckUser` named alone reaches every agent's `GET /health` and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_user_alone_reaches_every_health_endpoint() {
    let run = run(&[], 100, &["HealthCheckUser"], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    assert_eq!(run.agents.len(), 20);
    let want: BTreeSet<(String, String)> = run
        .agents
        .iter()
        .map(|a| (a.clone(), "GET /health".to_owned()))
        .collect();
    assert_eq!(routes(&run.seen.agents), want);
}

/// Chat follow-ups and event acks only use ids the fleet handed out: zero failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followups_and_acks_never_404() {
    let run = run(&["aria_chat.toml", "event_bus.toml"], 120, &[], &[]).await;
    assert_counts_match(&run);
    assert_clean(&run);
    let followups = run.lv_requests("ATLAS /v1/chat [followup]");
    assert!(followups > 0, "no follow-up chat ran");
    let acks = run.sim_requests("EVENT-BUS", "POST /v1/events/{id}/ack");
    assert!(acks > 0, "the event bus saw no ack");
    assert_eq!(acks, run.lv_requests("EVENT-BUS /v1/events/{event_id}/ack"));
}

/// With MUSE down, MUSE's endpoints fail with "connection refused" and nothing else fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_agent_fails_only_its_own_endpoints() {
    let run = run(&[], 120, &[], &["MUSE"]).await;
    let summary = run.summary();
    assert!(!run.seen.agents.contains_key("MUSE"), "MUSE is down");
    let mut muse_requests = 0;
    for endpoint in &summary.endpoints {
        if endpoint.name.starts_with("MUSE ") {
            assert_eq!(endpoint.failures, endpoint.requests, "{}", endpoint.name);
            muse_requests += endpoint.requests;
        } else {
            assert_eq!(endpoint.failures, 0, "{}", endpoint.name);
        }
    }
    assert!(muse_requests > 0, "no request was sent to MUSE");
    assert!(!summary.failures.is_empty());
    for failure in &summary.failures {
        assert!(failure.name.starts_with("MUSE "), "{failure:?}");
        assert!(
            failure.error.contains("connection refused"),
            "{}: {}",
            failure.name,
            failure.error
        );
    }
    assert_eq!(summary.total.failures, muse_requests);
    assert!(summary.exceptions.is_empty(), "{:?}", summary.exceptions);
    assert_eq!(run.outcome.exit_code, 1, "failed requests make exit code 1");
    // Everything that reached the fleet is counted the same on both sides.
    let mut sent = lv_per_agent(summary);
    sent.remove("MUSE");
    assert_eq!(sent, run.seen.agents);
    assert_eq!(summary.total.requests - muse_requests, run.seen.total);
}
