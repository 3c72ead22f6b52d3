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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use lv_common::plan::Body;
    use lv_common::template::Template;
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::*;

    /// A server answering every request with `{"token": "t-<n>"}`, n counting from 1.
    async fn token_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = std::sync::Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        let body = format!("{{\"token\": \"t-{n}\"}}");
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        format!("http://{addr}")
    }

    fn step(base_url: &str, path: &str, extract: &[(&str, &str)]) -> StepPlan {
        let path = Template::compile(path, &BTreeMap::new()).expect("valid");
        StepPlan {
            method: "GET".into(),
            base_url: base_url.into(),
            name: path.display_pattern(),
            path,
            kind: None,
            headers: Vec::new(),
            body: Body::Empty,
            expect_status: vec![200],
            checks: Vec::new(),
            extract: extract
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            timeout_ms: 5000,
            follow_redirects: true,
        }
    }

    fn client() -> HttpClient {
        HttpClient::new(Duration::from_secs(2), 8).expect("client")
    }

    #[tokio::test]
    async fn steps_run_in_order_with_what_earlier_ones_extracted() {
        let base = token_server().await;
        let steps = [
            step(&base, "/login", &[("token", "/token")]),
            step(&base, "/use/{{ token }}", &[]),
        ];
        let outcome = run_once(&client(), &steps, UserVars::new(), "setup").await;
        assert_eq!(outcome.failure, None);
        assert_eq!(outcome.vars.get("token"), Some(&json!("t-1")));
        let names: Vec<(String, u64, u64)> = outcome
            .stats
            .endpoints
            .iter()
            .map(|(k, e)| (k.name.clone(), e.requests, e.failures))
            .collect();
        assert_eq!(
            names,
            [
                ("setup: /login".to_owned(), 1, 0),
                ("setup: /use/{token}".to_owned(), 1, 0)
            ]
        );
        assert!(outcome.stats.endpoints.values().all(|e| e.kind.is_none()));
    }

    #[tokio::test]
    async fn the_first_failing_step_stops_the_rest_and_is_named() {
        let base = token_server().await;
        let steps = [
            step(&base, "/login", &[("token", "/missing")]),
            step(&base, "/never", &[]),
        ];
        let outcome = run_once(&client(), &steps, UserVars::new(), "teardown").await;
        let failure = outcome.failure.expect("fails");
        assert!(
            failure.starts_with(&format!("teardown step \"/login\" (GET {base}/login): "))
                && failure.contains("extract token: /missing not found"),
            "{failure}"
        );
        assert_eq!(outcome.stats.request_count(), 1);
        assert_eq!(outcome.stats.failure_count(), 1);

        let refused = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            format!("http://{}", listener.local_addr().expect("addr"))
        };
        let outcome = run_once(
            &client(),
            &[step(&refused, "/x", &[])],
            UserVars::new(),
            "setup",
        )
        .await;
        assert!(
            outcome
                .failure
                .is_some_and(|f| f.contains(&format!("(GET {refused}/x)")))
        );
        assert_eq!(outcome.stats.failure_count(), 1);

        let unset = [step(&base, "/use/{{ token }}", &[])];
        let outcome = run_once(&client(), &unset, UserVars::new(), "setup").await;
        assert!(
            outcome
                .failure
                .is_some_and(|f| f.contains("`token` is not set"))
        );
        assert_eq!(outcome.stats.request_count(), 0);
    }
}
