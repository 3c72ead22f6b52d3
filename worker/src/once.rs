//! Steps run once, as one user, outside any swarm: the master runs a scenario's setup and
//! teardown steps this way, with the same rendering, client, judging and extraction as a
//! worker's users, and records them in stats of their own.

use lv_common::plan::StepPlan;
use lv_common::stats::StatsSet;
use lv_common::template::UserVars;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;

use crate::http::{CookieJar, HttpClient, UserHttp};
use crate::user::{judge, render};

/// What running steps once gave.
#[derive(Debug, Default)]
pub struct OnceOutcome {
    /// The requests, under their steps' names with the prefix; no SLO kind.
    pub stats: StatsSet,
    /// The variables as the steps left them (those given, plus what the steps extracted).
    pub vars: UserVars,
    /// The step that failed and why; the steps after it did not run.
    pub failure: Option<String>,
}

/// Runs `steps` in order as one user starting with `vars` (and a cookie jar of its own),
/// recording each request as `"{prefix}: {step name}"`; stops at the first step whose
/// request fails (no answer, an unexpected status, a failed check, a value it cannot
/// extract) or cannot be built.
pub async fn run_once(
    client: &HttpClient,
    steps: &[StepPlan],
    vars: UserVars,
    prefix: &str,
) -> OnceOutcome {
    let mut outcome = OnceOutcome {
        vars,
        ..OnceOutcome::default()
    };
    let mut rng = SmallRng::from_os_rng();
    let mut http = UserHttp {
        session: None,
        cookies: Some(CookieJar::default()),
    };
    for step in steps {
        let name = format!("{prefix}: {}", step.name);
        let request = match render(step, &outcome.vars, &mut rng) {
            Ok(request) => request,
            Err(why) => {
                let failure = format!(
                    "{prefix} step {:?} ({} {}): {why}",
                    step.name, step.method, step.base_url
                );
                outcome.stats.record_exception(&failure);
                outcome.failure = Some(failure);
                break;
            }
        };
        let url = request.url.clone();
        let sent = tokio::time::Instant::now();
        let (latency, content_len, result) = match client.send(request, &mut http).await {
            Ok(response) => (
                response.elapsed,
                response.content_len,
                judge(step, response.status, &response.body)
                    .and_then(|json| extract(step, json.as_ref(), &mut outcome.vars)),
            ),
            Err(err) => (sent.elapsed(), 0, Err(err.to_string())),
        };
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let error = result.as_ref().err().map(String::as_str);
        outcome
            .stats
            .record_request(&step.method, &name, None, micros, content_len, error);
        if let Err(why) = result {
            outcome.failure = Some(format!(
                "{prefix} step {:?} ({} {url}): {why}",
                step.name, step.method
            ));
            break;
        }
    }
    outcome
}

/// Stores the values the step extracts from `json` in `vars`; an error names a value
/// that is missing (or null).
fn extract(step: &StepPlan, json: Option<&Value>, vars: &mut UserVars) -> Result<(), String> {
    let Some(json) = json else { return Ok(()) };
    for (var, pointer) in &step.extract {
        match json.pointer(pointer) {
            Some(Value::Null) | None => {
                return Err(format!(
                    "extract {var}: {pointer} not found in the response"
                ));
            }
            Some(value) => {
                vars.insert(var.clone(), value.clone());
            }
        }
    }
    Ok(())
}
