//! Tests of task picking, judging responses and the user loop's schedule (paused time).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lv_common::plan::{Check, TaskPlan};
use lv_common::template::{JsonTemplate, Template};
use lv_common::wait::WaitRule;
use rand::SeedableRng;
use tokio::net::TcpListener;

use super::*;
use crate::http::HttpClient;
use lv_common::plan::{Body, ClassPlan};

fn task(name: &str, weight: u32, requires: &[&str]) -> TaskPlan {
    TaskPlan {
        name: name.into(),
        weight,
        tags: vec![],
        requires: requires.iter().map(|s| (*s).to_owned()).collect(),
        steps: vec![],
    }
}

fn step(base_url: &str) -> StepPlan {
    StepPlan {
        method: "GET".into(),
        base_url: base_url.into(),
        path: Template::literal("/health"),
        name: "T /health".into(),
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

#[test]
fn tasks_are_picked_by_weight() {
    let tasks = [task("a", 3, &[]), task("b", 1, &[]), task("never", 0, &[])];
    let mut rng = SmallRng::seed_from_u64(3);
    let mut counts = BTreeMap::new();
    for _ in 0..4000 {
        let picked = pick_task(&tasks, &UserVars::new(), &mut rng).expect("a task");
        *counts.entry(tasks[picked].name.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts.get("never"), None);
    let a = counts["a"];
    assert!((2800..3200).contains(&a), "a picked {a} of 4000");
}

#[test]
fn tasks_wait_for_their_variables() {
    let tasks = [task("followup", 1, &["conversation_id"])];
    let mut rng = SmallRng::seed_from_u64(3);
    assert!(pick_task(&tasks, &UserVars::new(), &mut rng).is_none());
    let vars = UserVars::from([("conversation_id".to_owned(), Value::from("c1"))]);
    assert_eq!(
        pick_task(&tasks, &vars, &mut rng).map(|t| tasks[t].name.as_str()),
        Some("followup")
    );
}

#[test]
fn judging_uses_status_and_checks() {
    let mut s = step("http://x");
    assert!(judge(&s, 200, b"").is_ok());
    assert_eq!(
        judge(&s, 500, b"").expect_err("500"),
        "HTTP 500 Internal Server Error"
    );
    s.expect_status = vec![201];
    assert!(judge(&s, 200, b"").is_err());
    s.expect_status = vec![];
    s.checks = vec![Check {
        pointer: "/status".into(),
        equals: Some(Value::from("healthy")),
    }];
    assert!(judge(&s, 200, br#"{"status":"healthy"}"#).is_ok());
    let err = judge(&s, 200, br#"{"status":"sick"}"#).expect_err("check");
    assert!(err.contains("/status") && err.contains("sick"), "{err}");
    assert!(
        judge(&s, 200, b"<html>")
            .expect_err("not json")
            .contains("not JSON")
    );
    assert!(
        judge(&s, 200, b"{}")
            .expect_err("missing")
            .contains("missing")
    );
}

/// A target answering 200 `{"id": n}` to everything, counting requests.
async fn counting_target() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(format!(
                            "{{\"id\": {n}}}"
                        )))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, count)
}

fn env_for(addr: SocketAddr, wait: WaitRule) -> (UserEnv, Recorder) {
    env_with_steps(wait, vec![step(&format!("http://{addr}"))])
}

/// A user's environment whose class has one task of `steps`.
fn env_with_steps(wait: WaitRule, steps: Vec<StepPlan>) -> (UserEnv, Recorder) {
    let class = ClassPlan {
        name: "U".into(),
        weight: 1,
        wait,
        on_start: vec![],
        tasks: vec![TaskPlan {
            steps,
            ..task("t", 1, &[])
        }],
        cookies: true,
        data: Vec::new(),
    };
    let recorder = Recorder::default();
    let env = UserEnv::new(
        Arc::new(class),
        HttpClient::new(Duration::from_secs(5), 1000).expect("client"),
        recorder.clone(),
        false,
    );
    (env, recorder)
}

/// constant_pacing(1 s): one task per second of (virtual) time, whatever the task took.
#[tokio::test(start_paused = true)]
async fn constant_pacing_runs_one_task_per_period() {
    let (addr, count) = counting_target().await;
    let (env, recorder) = env_for(addr, WaitRule::ConstantPacing(1.0));
    let squad = Squad::new(env, CancellationToken::new(), CancellationToken::new());
    let user = tokio::spawn(run_user(squad.enlist(), 1));
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let mut waiting = Vec::new();
    squad.retire_from(0, |ordinal| waiting.push(ordinal));
    assert_eq!(waiting, [0], "the user waits out its period");
    user.abort();
    let ended = user.await;
    assert!(
        ended.is_err_and(|e| e.is_cancelled()),
        "the pause is dropped"
    );
    assert_eq!(count.load(Ordering::SeqCst), 11);
    let (stats, cut_off) = recorder.take();
    assert_eq!(stats.request_count(), 11);
    assert_eq!(stats.failure_count(), 0);
    assert_eq!(cut_off, 0);
}

/// between(2, 4): 10 virtual seconds hold 3 to 6 tasks.
#[tokio::test(start_paused = true)]
async fn between_waits_within_its_bounds() {
    let (addr, count) = counting_target().await;
    let (env, _) = env_for(addr, WaitRule::Between(2.0, 4.0));
    let stop = CancellationToken::new();
    let squad = Squad::new(env, stop.clone(), CancellationToken::new());
    let user = tokio::spawn(run_user(squad.enlist(), 9));
    tokio::time::sleep(Duration::from_millis(10_000)).await;
    stop.cancel();
    user.await.expect("user ends");
    let n = count.load(Ordering::SeqCst);
    assert!((3..=6).contains(&n), "{n} tasks in 10 s");
}

/// Extracted values feed later templates of the same user.
#[tokio::test]
async fn extraction_feeds_later_steps() {
    let (addr, _) = counting_target().await;
    let mut first = step(&format!("http://{addr}"));
    first.extract = vec![("id".into(), "/id".into())];
    let mut second = step(&format!("http://{addr}"));
    second.path = Template::compile("/items/{{ id }}", &BTreeMap::new()).expect("compiles");
    second.name = "T /items/{id}".into();
    let mut missing = step(&format!("http://{addr}"));
    missing.name = "T missing".into();
    missing.extract = vec![("nope".into(), "/nope".into())];
    let (env, recorder) = env_with_steps(WaitRule::Constant(0.0), vec![first, second, missing]);
    let mut vars = UserVars::new();
    let mut rng = SmallRng::seed_from_u64(1);
    run_task(
        &env,
        0,
        &mut vars,
        &mut rng,
        &CancellationToken::new(),
        &mut UserHttp::default(),
    )
    .await;
    assert_eq!(vars.get("id"), Some(&Value::from(1)));
    let (stats, _) = recorder.take();
    assert_eq!(stats.request_count(), 3);
    let exceptions: Vec<&String> = stats.exceptions.keys().collect();
    assert_eq!(exceptions.len(), 1);
    assert!(exceptions[0].contains("extract nope"), "{exceptions:?}");
}

/// A gzipped answer is checked and extracted from after decoding, and its content size is
/// the decoded length (as Locust's).
#[tokio::test]
async fn checks_and_content_size_see_the_decoded_body() {
    use std::io::Write;
    const JSON: &[u8] =
        br#"{"status":"healthy","id":7,"padding":"pppppppppppppppppppppppppppppppp"}"#;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    let mut gzip =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    gzip.write_all(JSON).expect("gzip");
                    let body = gzip.finish().expect("gzip");
                    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
                    response.headers_mut().insert(
                        hyper::header::CONTENT_ENCODING,
                        hyper::header::HeaderValue::from_static("gzip"),
                    );
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let (env, recorder) = env_for(addr, WaitRule::Constant(0.0));
    let mut checked = step(&format!("http://{addr}"));
    checked.checks = vec![Check {
        pointer: "/status".into(),
        equals: Some(Value::from("healthy")),
    }];
    checked.extract = vec![("id".into(), "/id".into())];
    let mut vars = UserVars::new();
    let ok = run_step(
        &env,
        Step::rendered(&checked),
        &mut vars,
        &mut SmallRng::seed_from_u64(1),
        &mut UserHttp::default(),
    )
    .await;
    assert!(ok);
    assert_eq!(vars.get("id"), Some(&Value::from(7)));
    let (stats, _) = recorder.take();
    let endpoint = stats.endpoints.values().next().expect("one endpoint");
    assert_eq!((endpoint.requests, endpoint.failures), (1, 0));
    assert_eq!(endpoint.content_bytes, JSON.len() as u64);
}

/// Steps with no template anywhere are encoded once; any template in the URL, a header or
/// the body makes a step render at every request.
#[test]
fn only_steps_without_templates_are_fixed() {
    let consts = BTreeMap::new();
    let literal = step("http://127.0.0.1:9");
    let mut path = literal.clone();
    path.path = Template::compile("/items/{{ id }}", &consts).expect("compiles");
    let mut header = literal.clone();
    header.headers = vec![(
        "x-run".into(),
        Template::compile("{{ rand_int(1, 9) }}", &consts).expect("compiles"),
    )];
    let mut json = literal.clone();
    json.method = "POST".into();
    json.body = Body::Json(
        JsonTemplate::compile(&serde_json::json!({"a": [1, "two"]}), &consts).expect("compiles"),
    );
    let mut templated_json = json.clone();
    templated_json.body = Body::Json(
        JsonTemplate::compile(&serde_json::json!({"a": ["{{ id }}"]}), &consts).expect("compiles"),
    );
    let mut bad_url = literal.clone();
    bad_url.base_url = "ftp://127.0.0.1:9".into();
    let steps = vec![literal, path, header, json, templated_json, bad_url];
    let (env, _) = env_with_steps(WaitRule::Constant(0.0), steps);
    let fixed: Vec<bool> = env.task_steps(0).map(|s| s.fixed.is_some()).collect();
    assert_eq!(fixed, [true, false, false, true, false, false]);
    assert_eq!(env.task_steps(1).count(), 0, "no such task");
}

/// A target that sets a cookie on `/login`, redirects `/old` to `/new`, and logs each
/// request's path and `Cookie` header.
async fn cookie_target() -> (
    SocketAddr,
    Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let cookie = req
                        .headers()
                        .get(hyper::header::COOKIE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let path = req.uri().path().to_owned();
                    seen.lock().expect("log").push((path.clone(), cookie));
                    async move {
                        let mut response = hyper::Response::new(Full::new(Bytes::from("{}")));
                        match path.as_str() {
                            "/login" => {
                                response.headers_mut().insert(
                                    hyper::header::SET_COOKIE,
                                    hyper::header::HeaderValue::from_static("sid=abc; Path=/"),
                                );
                            }
                            "/old" => {
                                *response.status_mut() = hyper::StatusCode::FOUND;
                                response.headers_mut().insert(
                                    hyper::header::LOCATION,
                                    hyper::header::HeaderValue::from_static("/new"),
                                );
                            }
                            _ => {}
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, log)
}

/// A fixed request still carries the user's cookies and follows redirects: its bytes are
/// encoded anew when the user holds a cookie for it, and the redirect's request is built.
#[tokio::test]
async fn fixed_steps_send_cookies_and_follow_redirects() {
    let (addr, log) = cookie_target().await;
    let base = format!("http://{addr}");
    let mut login = step(&base);
    login.path = Template::literal("/login");
    let mut me = step(&base);
    me.path = Template::literal("/me");
    let mut old = step(&base);
    old.path = Template::literal("/old");
    let (env, recorder) = env_with_steps(WaitRule::Constant(0.0), vec![old, me, login]);
    assert!(env.task_steps(0).all(|s| s.fixed.is_some()));
    let mut http = UserHttp {
        session: None,
        cookies: Some(CookieJar::default()),
    };
    let mut vars = UserVars::new();
    let mut rng = SmallRng::seed_from_u64(1);
    let stop = CancellationToken::new();
    for _ in 0..2 {
        run_task(&env, 0, &mut vars, &mut rng, &stop, &mut http).await;
    }
    let sid = Some("sid=abc".to_owned());
    let seen = log.lock().expect("log").clone();
    let expected = [
        ("/old", None),
        ("/new", None),
        ("/me", None),
        ("/login", None),
        ("/old", sid.clone()),
        ("/new", sid.clone()),
        ("/me", sid.clone()),
        ("/login", sid.clone()),
    ]
    .map(|(path, cookie)| (path.to_owned(), cookie));
    assert_eq!(seen, expected);
    let (stats, _) = recorder.take();
    assert_eq!((stats.request_count(), stats.failure_count()), (6, 0));
    // Another user of the same class starts without the first one's cookie.
    let mut other = UserHttp {
        session: None,
        cookies: Some(CookieJar::default()),
    };
    run_task(&env, 0, &mut vars, &mut rng, &stop, &mut other).await;
    let seen = log.lock().expect("log").clone();
    assert_eq!(seen[8], ("/old".to_owned(), None));
}

#[test]
fn counting_down_ends_at_the_last_task_and_never_without_a_limit() {
    let mut left = NonZeroU32::new(2);
    assert!(!count_down(&mut left));
    assert!(count_down(&mut left));
    let mut unlimited = None;
    assert!((0..1000).all(|_| !count_down(&mut unlimited)));
}

/// With an iteration limit a user runs that many tasks, failed ones included, then leaves
/// by itself, without the pause after the last one (paused time: 2 pauses of 10 s).
#[tokio::test(start_paused = true)]
async fn a_user_leaves_after_its_iterations() {
    let (addr, count) = counting_target().await;
    let mut failing = step(&format!("http://{addr}"));
    failing.expect_status = vec![201];
    let (env, recorder) = env_with_steps(WaitRule::Constant(10.0), vec![failing]);
    let (stop, kill) = (CancellationToken::new(), CancellationToken::new());
    let squad = Squad::with_iterations(env, stop, kill, NonZeroU32::new(3));
    let started = Instant::now();
    let user = run_user(squad.enlist(), 1);
    tokio::time::timeout(Duration::from_secs(3600), user)
        .await
        .expect("the user leaves by itself");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let (stats, cut_off) = recorder.take();
    assert_eq!((stats.request_count(), stats.failure_count()), (3, 3));
    assert_eq!(cut_off, 0);
}

/// Idle pauses, while no task is ready yet, are not iterations: a user whose only task
/// waits for a variable nobody extracts never leaves on its own.
#[tokio::test(start_paused = true)]
async fn idle_pauses_are_not_iterations() {
    let class = ClassPlan {
        name: "U".into(),
        weight: 1,
        wait: WaitRule::Constant(1.0),
        on_start: vec![],
        tasks: vec![TaskPlan {
            steps: vec![step("http://127.0.0.1:9")],
            ..task("t", 1, &["never"])
        }],
        cookies: true,
        data: Vec::new(),
    };
    let recorder = Recorder::default();
    let client = HttpClient::new(Duration::from_secs(5), 10).expect("client");
    let env = UserEnv::new(Arc::new(class), client, recorder.clone(), false);
    let stop = CancellationToken::new();
    let squad = Squad::with_iterations(
        env,
        stop.clone(),
        CancellationToken::new(),
        NonZeroU32::new(1),
    );
    let user = tokio::spawn(run_user(squad.enlist(), 1));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!user.is_finished(), "60 idle pauses are not one iteration");
    stop.cancel();
    user.await.expect("a stopped user leaves");
    assert_eq!(recorder.take().0.request_count(), 0);
}

/// A waiting user's future stays within the 152 bytes that, with tokio's 104 bytes of
/// header, scheduler, id and trailer, fit a task in 256 bytes (tokio rounds a task to 128
/// bytes on x86_64): 152 bytes measured (the pause 112, the member 16, the seed 8, what it
/// kept 8, its iterations left and the state). One more field would cost 128 bytes a user,
/// 128 MB a million users (bench/NOTES.md).
#[test]
fn a_waiting_users_future_fits_a_256_byte_task() {
    let (env, _) = env_with_steps(WaitRule::Between(60.0, 120.0), vec![step("http://x")]);
    let squad = Squad::new(env, CancellationToken::new(), CancellationToken::new());
    let user = run_user(squad.enlist(), 1);
    let bytes = std::mem::size_of_val(&user);
    println!("a user's future: {bytes} bytes");
    assert!(bytes <= 152, "a user's future is {bytes} bytes");
}
