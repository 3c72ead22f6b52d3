//! Tests of the probe: traces built from exchanges (pure), skip reasons, and one user
//! probed against a loopback target that sets a cookie and echoes what it received.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lv_common::plan::{Body, Check, TaskPlan};
use lv_common::template::Template;
use lv_common::wait::WaitRule;
use serde_json::json;
use tokio::net::TcpListener;

use super::*;
use crate::http::Hop;

fn step(name: &str) -> StepPlan {
    StepPlan {
        method: "GET".into(),
        base_url: "http://t.test".into(),
        path: Template::literal("/x"),
        name: name.into(),
        kind: None,
        headers: vec![],
        body: Body::Empty,
        expect_status: vec![],
        checks: vec![],
        extract: vec![],
        timeout_ms: 5_000,
        follow_redirects: true,
    }
}

fn sent(url: &str) -> SentRequest {
    SentRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("host".into(), "t.test".into())],
        body: Bytes::new(),
    }
}

fn answered(status: u16, body: &str) -> Exchange {
    let hop = Hop {
        request: sent("http://t.test/x"),
        response: Some((status, vec![("content-type".into(), "json".into())])),
    };
    Exchange {
        fallback: sent("http://t.test/fallback"),
        transcript: Transcript { hops: vec![hop] },
        result: Ok(InResponse {
            status,
            content_len: body.len() as u64,
            body: Bytes::from(body.to_owned()),
            elapsed: Duration::from_millis(12),
            redirects: 0,
            phases: Default::default(),
        }),
        elapsed: Duration::from_millis(13),
    }
}

fn checked_step() -> StepPlan {
    StepPlan {
        checks: vec![
            Check {
                pointer: "/reply".into(),
                equals: None,
            },
            Check {
                pointer: "/status".into(),
                equals: Some(json!("ok")),
            },
        ],
        extract: vec![("cid".into(), "/id".into())],
        ..step("s")
    }
}

#[test]
fn a_passing_step_shows_its_checks_and_extractions_and_sets_the_variable() {
    let mut vars = UserVars::new();
    let body = r#"{"reply":"hi","status":"ok","id":"c-1"}"#;
    let trace = trace_step(&checked_step(), answered(200, body), &mut vars);
    assert_eq!(trace.verdict, Verdict::Passed);
    assert_eq!(trace.request.expect("sent").url, "http://t.test/x");
    let Answer::Response(response) = &trace.answer else {
        panic!("a response: {:?}", trace.answer)
    };
    assert_eq!((response.status, response.size), (200, body.len() as u64));
    assert_eq!(response.headers, [("content-type".into(), "json".into())]);
    assert_eq!(trace.elapsed, Duration::from_millis(12));
    let found: Vec<(&str, &Found, bool)> = trace
        .checks
        .iter()
        .map(|c| (c.pointer.as_str(), &c.found, c.passed))
        .collect();
    assert_eq!(
        found,
        [
            ("/reply", &Found::Value(json!("hi")), true),
            ("/status", &Found::Value(json!("ok")), true)
        ]
    );
    assert_eq!(trace.extracted.len(), 1);
    assert_eq!(trace.extracted[0].value, Ok(json!("c-1")));
    assert_eq!(vars.get("cid"), Some(&json!("c-1")));
}

#[test]
fn a_failing_status_is_judged_as_a_run_judges_it_and_checks_still_show() {
    let mut vars = UserVars::new();
    let exchange = answered(500, r#"{"error":"injected failure"}"#);
    let trace = trace_step(&checked_step(), exchange, &mut vars);
    assert_eq!(
        trace.verdict,
        Verdict::Failed("HTTP 500 Internal Server Error".into())
    );
    assert!(
        trace
            .checks
            .iter()
            .all(|c| c.found == Found::Missing && !c.passed)
    );
    assert!(trace.extracted.is_empty() && vars.is_empty());
}

#[test]
fn a_wrong_value_and_a_body_that_is_not_json_fail_their_checks() {
    let mut vars = UserVars::new();
    let body = r#"{"reply":"hi","status":"down","id":"c-1"}"#;
    let trace = trace_step(&checked_step(), answered(200, body), &mut vars);
    assert_eq!(
        trace.verdict,
        Verdict::Failed(r#"check failed: /status is "down", expected "ok""#.into())
    );
    assert_eq!(
        (trace.checks[0].passed, trace.checks[1].passed),
        (true, false)
    );
    let trace = trace_step(&checked_step(), answered(200, "<html>"), &mut vars);
    assert!(trace.checks.iter().all(|c| c.found == Found::NotJson));
    assert!(matches!(&trace.verdict, Verdict::Failed(m) if m.contains("not JSON")));
}

#[test]
fn a_null_extraction_is_an_error_and_sets_nothing() {
    let mut vars = UserVars::new();
    let body = r#"{"reply":"hi","status":"ok","id":null}"#;
    let trace = trace_step(&checked_step(), answered(200, body), &mut vars);
    assert_eq!(
        trace.verdict,
        Verdict::Error("extract cid: /id not found in the response".into())
    );
    assert!(trace.extracted[0].value.is_err());
    assert!(vars.is_empty());
}

#[test]
fn transport_errors_and_invalid_requests_are_told_apart() {
    let mut vars = UserVars::new();
    let mut exchange = answered(200, "");
    exchange.result = Err(RequestError::Refused);
    exchange.transcript.hops[0].response = None;
    let trace = trace_step(&step("s"), exchange, &mut vars);
    assert_eq!(trace.verdict, Verdict::Failed("connection refused".into()));
    assert!(matches!(&trace.answer, Answer::Error(e) if e == "connection refused"));
    assert_eq!(trace.elapsed, Duration::from_millis(13));
    let mut exchange = answered(200, "");
    exchange.result = Err(RequestError::Invalid("bad url".into()));
    exchange.transcript.hops.clear();
    let trace = trace_step(&step("s"), exchange, &mut vars);
    assert_eq!(trace.verdict, Verdict::Error("bad url".into()));
    assert!(matches!(trace.answer, Answer::NotSent));
    let request = trace.request.expect("the rendered request");
    assert_eq!(request.url, "http://t.test/fallback");
}

#[test]
fn redirects_list_each_status_and_where_it_led() {
    let mut exchange = answered(200, "{}");
    let first = Hop {
        request: sent("http://t.test/old"),
        response: Some((302, vec![("location".into(), "/x".into())])),
    };
    exchange.transcript.hops.insert(0, first);
    let trace = trace_step(&step("s"), exchange, &mut UserVars::new());
    assert_eq!(trace.redirects, [(302, "http://t.test/x".to_owned())]);
    assert_eq!(trace.request.expect("sent").url, "http://t.test/old");
}

fn task(name: &str, weight: u32, requires: &[&str], extracts: &[&str]) -> TaskPlan {
    let extract = extracts
        .iter()
        .map(|v| ((*v).to_owned(), "/v".to_owned()))
        .collect();
    TaskPlan {
        name: name.into(),
        weight,
        tags: vec![],
        requires: requires.iter().map(|s| (*s).to_owned()).collect(),
        steps: vec![StepPlan {
            extract,
            ..step(name)
        }],
    }
}

fn class(tasks: Vec<TaskPlan>) -> ClassPlan {
    ClassPlan {
        name: "C".into(),
        weight: 1,
        wait: WaitRule::Constant(0.0),
        on_start: vec![],
        tasks,
        cookies: true,
        data: Vec::new(),
    }
}

#[test]
fn skip_reasons_name_the_variable_and_who_extracts_it() {
    let class = class(vec![
        task("followup", 1, &["cid", "token"], &[]),
        task("never", 0, &[], &[]),
        task("open", 1, &[], &["cid"]),
    ]);
    let mut vars = UserVars::new();
    let reason = skip_reason(&class, 0, &vars).expect("skipped");
    assert_eq!(
        reason,
        "requires cid, which no earlier step extracted (task \"open\" extracts it, later in this order); token, which no earlier step extracted"
    );
    assert_eq!(
        skip_reason(&class, 1, &vars).as_deref(),
        Some("weight 0: a run never picks it")
    );
    assert_eq!(skip_reason(&class, 2, &vars), None);
    vars.insert("cid".into(), json!(1));
    vars.insert("token".into(), json!("t"));
    assert_eq!(skip_reason(&class, 0, &vars), None);
}

/// A target that sets a cookie on `/login`, answers `/echo` with the Cookie header it got
/// and the variable in the path, and 500 on `/fail`.
async fn target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let path = req.uri().path().to_owned();
                let cookie = req
                    .headers()
                    .get("cookie")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut response = hyper::Response::builder().header("x-seen", "yes");
                let body = match path.as_str() {
                    "/login" => {
                        response = response.header("set-cookie", "session=abc; Path=/");
                        r#"{"id":"u-7"}"#.to_owned()
                    }
                    "/fail" => {
                        response = response.status(500);
                        "boom".to_owned()
                    }
                    _ => format!(r#"{{"cookie":"{cookie}","path":"{path}"}}"#),
                };
                Ok::<_, Infallible>(
                    response
                        .body(Full::new(Bytes::from(body)))
                        .expect("a response"),
                )
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn get(addr: SocketAddr, path: &str) -> StepPlan {
    StepPlan {
        base_url: format!("http://{addr}"),
        path: Template::compile(path, &Default::default()).expect("template"),
        ..step(path)
    }
}

/// One user: on_start logs in (cookie and id), tasks run in plan order whatever their
/// weight, a follow-up sees the cookie and the id, a failing step stops its task, and a
/// task whose variable nobody set is skipped.
#[tokio::test]
async fn one_user_runs_every_task_once_in_order_with_its_cookies() {
    let addr = target().await;
    let login = StepPlan {
        extract: vec![("uid".into(), "/id".into())],
        ..get(addr, "/login")
    };
    let echo = StepPlan {
        checks: vec![Check {
            pointer: "/cookie".into(),
            equals: Some(json!("session=abc")),
        }],
        ..get(addr, "/echo/{{ uid }}")
    };
    let mut class = class(vec![
        TaskPlan {
            steps: vec![echo],
            ..task("echo", 1, &["uid"], &[])
        },
        TaskPlan {
            steps: vec![get(addr, "/fail"), get(addr, "/echo/after")],
            ..task("failing", 9, &[], &[])
        },
        task("needs-x", 1, &["x"], &[]),
    ]);
    class.on_start = vec![login];
    let client = HttpClient::new(Duration::from_secs(5), 8).expect("client");
    let trace = probe_class(&class, &client, UserVars::new()).await;
    let on_start = trace.on_start.as_ref().expect("on_start ran");
    assert_eq!(on_start.steps[0].verdict, Verdict::Passed);
    assert_eq!(trace.vars.get("uid"), Some(&json!("u-7")));
    let echo = &trace.tasks[0].steps[0];
    assert_eq!(echo.verdict, Verdict::Passed, "{echo:?}");
    let request = echo.request.as_ref().expect("sent");
    assert_eq!(request.url, format!("http://{addr}/echo/u-7"));
    assert!(
        request
            .headers
            .contains(&("cookie".into(), "session=abc".into()))
    );
    assert!(request.headers.iter().any(|(n, _)| n == "user-agent"));
    let Answer::Response(response) = &echo.answer else {
        panic!("{:?}", echo.answer)
    };
    assert!(response.headers.contains(&("x-seen".into(), "yes".into())));
    let failing = &trace.tasks[1];
    assert_eq!(failing.steps.len(), 1);
    assert_eq!(failing.not_run, ["/echo/after"]);
    let failures = trace.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0.name, "failing");
    assert!(matches!(&failures[0].1.verdict, Verdict::Failed(m) if m.starts_with("HTTP 500")));
    let skipped = trace.tasks[2].skipped.as_deref().expect("skipped");
    assert_eq!(skipped, "requires x, which no earlier step extracted");
}
