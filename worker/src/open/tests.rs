//! Tests of the open-model executor: paused time with a fake iteration body, then one real
//! run against an in-process HTTP target.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lv_common::load::{OpenStats, RequestTiming};
use lv_common::plan::{Body, ClassPlan, StepPlan, TaskPlan};
use lv_common::template::Template;
use lv_common::wait::WaitRule;
use tokio::net::TcpListener;

use super::*;

const MS: Duration = Duration::from_millis(1);

/// One served arrival, as the fake body saw it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    k: u64,
    intended: Instant,
    sent: Instant,
    end: Instant,
}

type Log = Arc<Mutex<Vec<Sample>>>;

/// A body that "sends" at once, takes `service(sent)` and records like the real one.
fn fake_body(
    recorder: Recorder,
    log: Log,
    service: impl Fn(Instant) -> Duration + Clone + Send + 'static,
) -> impl Fn(Arrival) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Clone + Send + 'static
{
    move |arrival| {
        let (recorder, log, service) = (recorder.clone(), Arc::clone(&log), service.clone());
        Box::pin(async move {
            let sent = Instant::now();
            tokio::time::sleep(service(sent)).await;
            let end = Instant::now();
            let timing = RequestTiming::new(sent - arrival.intended, end - sent);
            recorder.open_request("GET", "fake", timing);
            recorder.request("GET", "fake", None, timing.response_us, 0, None, None);
            log.lock().expect("log").push(Sample {
                k: arrival.k,
                intended: arrival.intended,
                sent,
                end,
            });
            true
        })
    }
}

fn spec(start: Instant, rate: f64, secs: u64) -> OpenSpec {
    OpenSpec {
        schedule: Arc::new(Schedule::new(rate, &[(Duration::from_secs(secs), rate)])),
        arrivals: ArrivalKind::Uniform,
        seed: 0,
        start,
        max_in_flight: None,
        on_saturation: OnSaturation::Drop,
        pacer: Pacer::Tokio,
    }
}

fn signals() -> OpenSignals {
    OpenSignals {
        stop: CancellationToken::new(),
        kill: CancellationToken::new(),
    }
}

/// Runs one worker's executor with the fake body to the end; its counters and samples.
async fn run_fake(
    spec: OpenSpec,
    stripe: Stripe,
    service: impl Fn(Instant) -> Duration + Clone + Send + 'static,
) -> (OpenStats, Vec<Sample>, Recorder) {
    let (recorder, log) = (Recorder::default(), Log::default());
    let (_tx, stripes) = watch::channel(stripe);
    let body = fake_body(recorder.clone(), Arc::clone(&log), service);
    run_arrivals(spec, stripes, recorder.clone(), body, signals()).await;
    let open = recorder.take_open();
    let samples = log.lock().expect("log").clone();
    (open, samples, recorder)
}

/// Uniform 100/s for 10 s over 3 workers: exactly 1000, ±1 per worker, ±2 per second.
#[tokio::test(start_paused = true)]
async fn uniform_rate_over_three_workers_is_exact() {
    let start = Instant::now() + Duration::from_secs(1);
    let runs: Vec<_> = (0..3)
        .map(|w| {
            let stripe = Stripe {
                workers: 3,
                index: w,
                from: 0,
            };
            tokio::spawn(run_fake(spec(start, 100.0, 10), stripe, |_| 5 * MS))
        })
        .collect();
    let mut per_worker = Vec::new();
    let mut samples = Vec::new();
    for run in runs {
        let (open, mine, _) = run.await.expect("worker");
        let counts = open.counts;
        assert_eq!(counts.scheduled, mine.len() as u64);
        assert_eq!(counts.completed, counts.scheduled);
        per_worker.push(mine.len());
        samples.extend(mine);
    }
    let mut ks: Vec<u64> = samples.iter().map(|s| s.k).collect();
    ks.sort_unstable();
    assert_eq!(ks, (0..1000).collect::<Vec<u64>>(), "every arrival once");
    assert_eq!(per_worker, vec![334, 333, 333]);
    // Second i holds the sends in (i, i + 1] s after the start.
    let mut buckets = [0i64; 10];
    for s in &samples {
        assert!(s.sent - s.intended <= MS, "lag {:?}", s.sent - s.intended);
        let micros = (s.sent - start).as_micros();
        let second = usize::try_from(micros.saturating_sub(1) / 1_000_000).expect("small");
        buckets[second.min(9)] += 1;
    }
    assert!(buckets.iter().all(|&n| (n - 100).abs() <= 2), "{buckets:?}");
}

/// A 2 s stall of the target at 100/s: sends stay on time, response times show the stall.
#[tokio::test(start_paused = true)]
async fn a_stalled_target_shows_in_response_time_not_in_lag() {
    let start = Instant::now();
    let (stall_from, stall_to) = (
        start + Duration::from_secs(2),
        start + Duration::from_secs(4),
    );
    let service = move |sent: Instant| {
        if (stall_from..stall_to).contains(&sent) {
            stall_to - sent + 5 * MS
        } else {
            5 * MS
        }
    };
    let (open, samples, recorder) = run_fake(spec(start, 100.0, 6), Stripe::ALL, service).await;
    let counts = open.counts;
    assert_eq!(counts.scheduled, 600);
    let stalled: Vec<&Sample> = samples
        .iter()
        .filter(|s| (stall_from..stall_to).contains(&s.sent))
        .collect();
    assert!((199..=201).contains(&stalled.len()), "{}", stalled.len());
    assert!(stalled.iter().all(|s| s.end >= stall_to));
    let slow = samples
        .iter()
        .filter(|s| s.end - s.intended >= Duration::from_secs(1))
        .count();
    assert!((99..=102).contains(&slow), "{slow} waited 1 s or more");
    assert!(
        samples.iter().all(|s| s.sent - s.intended <= MS),
        "sent on time"
    );
    let (stats, _) = recorder.take();
    let total = stats.total();
    assert_eq!(total.requests, 600);
    assert!(
        total.max_us >= 1_990_000,
        "max response {} us",
        total.max_us
    );
}

/// At max_in_flight = 20 in drop mode, scheduled = started + dropped exactly.
#[tokio::test(start_paused = true)]
async fn drop_mode_accounts_for_every_arrival() {
    let start = Instant::now();
    let mut spec = spec(start, 100.0, 5);
    spec.max_in_flight = Some(20);
    let (open, samples, _) = run_fake(spec, Stripe::ALL, |_| 500 * MS).await;
    let counts = open.counts;
    assert_eq!(counts.scheduled, 500);
    assert_eq!(counts.scheduled, counts.started + counts.dropped);
    assert!(counts.dropped >= 250, "{counts:?}");
    assert_eq!(counts.completed, counts.started);
    assert_eq!(samples.len() as u64, counts.started);
    assert!(
        samples.iter().all(|s| s.sent - s.intended <= MS),
        "never queued"
    );
}

/// In queue mode response − service = lag per sample, and service stays the target's.
#[tokio::test(start_paused = true)]
async fn queue_mode_moves_the_wait_into_response_time_only() {
    let start = Instant::now();
    let mut spec = spec(start, 100.0, 3);
    spec.max_in_flight = Some(20);
    spec.on_saturation = OnSaturation::Queue;
    let (open, samples, recorder) = run_fake(spec, Stripe::ALL, |_| 300 * MS).await;
    let counts = open.counts;
    assert_eq!(counts.scheduled, 300);
    assert_eq!(
        (counts.started, counts.dropped, counts.completed),
        (300, 0, 300)
    );
    for s in &samples {
        let (response, service, lag) = (s.end - s.intended, s.end - s.sent, s.sent - s.intended);
        assert!(response.abs_diff(service + lag) <= MS);
        assert!(service.abs_diff(300 * MS) <= MS, "service {service:?}");
    }
    let row = open.endpoints.values().next().expect("one endpoint");
    assert_eq!(row.lag.requests, 300);
    assert!(
        row.lag.max_us >= 1_000_000,
        "queued for {} us",
        row.lag.max_us
    );
    assert!(
        row.service.max_us <= 301_000,
        "service {} us",
        row.service.max_us
    );
    let (stats, _) = recorder.take();
    assert!(stats.total().max_us >= row.lag.max_us + 299_000);
}

/// Poisson arrivals from one seed give the same count twice, as the pure core plans.
#[tokio::test(start_paused = true)]
async fn poisson_with_a_fixed_seed_repeats() {
    let mut counts = Vec::new();
    for _ in 0..2 {
        let mut spec = spec(Instant::now(), 100.0, 5);
        spec.arrivals = ArrivalKind::Poisson;
        spec.seed = 42;
        let (open, samples, _) = run_fake(spec, Stripe::ALL, |_| MS).await;
        let c = open.counts;
        assert_eq!(c.scheduled, samples.len() as u64);
        counts.push(c.scheduled);
    }
    let schedule = Schedule::new(100.0, &[(Duration::from_secs(5), 100.0)]);
    let planned = StripeArrivals::new(&schedule, ArrivalKind::Poisson, 42, Stripe::ALL).count();
    assert_eq!(counts, vec![planned as u64; 2]);
    assert_ne!(planned, 500, "Poisson, not uniform");
}

/// A worker lost mid-run: the others re-stripe from k0 and its owed arrivals are counted.
#[tokio::test(start_paused = true)]
async fn restriping_after_a_loss_accounts_for_every_arrival() {
    let start = Instant::now();
    let mut senders = Vec::new();
    let mut runs = Vec::new();
    let lost_signals = signals();
    for w in 0..3 {
        let stripe = Stripe {
            workers: 3,
            index: w,
            from: 0,
        };
        let (tx, stripes) = watch::channel(stripe);
        let (recorder, log) = (Recorder::default(), Log::default());
        let body = fake_body(recorder.clone(), Arc::clone(&log), |_| 5 * MS);
        let sig = if w == 2 {
            lost_signals.clone()
        } else {
            signals()
        };
        let run = run_arrivals(spec(start, 100.0, 4), stripes, recorder.clone(), body, sig);
        runs.push(tokio::spawn(async move {
            run.await;
            recorder.take_open().counts.scheduled
        }));
        senders.push(tx);
    }
    // Worker 2 vanishes at 1.005 s (after arrival 99); the master re-stripes from 150.
    tokio::time::sleep_until(start + Duration::from_millis(1005)).await;
    lost_signals.stop.cancel();
    let k0 = 150;
    for (w, tx) in senders.iter().take(2).enumerate() {
        let index = u32::try_from(w).expect("small");
        tx.send(Stripe {
            workers: 2,
            index,
            from: k0,
        })
        .expect("running");
    }
    let mut fired = Vec::new();
    for run in runs {
        fired.push(run.await.expect("worker"));
    }
    let lost_stripe = Stripe {
        workers: 3,
        index: 2,
        from: 0,
    };
    // The master's count: owed before k0 less what the lost worker reported.
    let lost = lost_stripe.count_in(0, k0) - fired[2];
    assert_eq!(fired[2], 33, "arrivals 2, 5, ..., 98");
    assert_eq!(lost, 17, "arrivals 101, 104, ..., 149");
    assert_eq!(fired.iter().sum::<u64>() + lost, 400);
    assert_eq!(fired[0].abs_diff(fired[1]), 0);
}

async fn counting_target() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from("ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), hits)
}

fn plan_for(base_url: &str) -> Plan {
    let step = StepPlan {
        method: "GET".into(),
        base_url: base_url.into(),
        path: Template::literal("/health"),
        name: "/health".into(),
        kind: None,
        headers: vec![],
        body: Body::Empty,
        expect_status: vec![],
        checks: vec![],
        extract: vec![],
        timeout_ms: 5_000,
        follow_redirects: true,
    };
    let class = ClassPlan {
        name: "Open".into(),
        weight: 1,
        wait: WaitRule::Constant(1.0),
        on_start: vec![],
        tasks: vec![TaskPlan {
            name: "health".into(),
            weight: 1,
            tags: vec![],
            requires: vec![],
            steps: vec![step],
        }],
        cookies: false,
        data: Vec::new(),
    };
    Plan {
        classes: vec![class],
        connection_per_user: false,
        iterations: None,
    }
}

/// Real HTTP on loopback: 50/s for 1 s reaches the target exactly 50 times, all recorded.
#[tokio::test]
async fn real_iterations_hit_the_target_exactly() {
    let (base_url, hits) = counting_target().await;
    let client = HttpClient::new(Duration::from_secs(5), 64).expect("client");
    let recorder = Recorder::default();
    let (_tx, stripes) = watch::channel(Stripe::ALL);
    let spec = spec(Instant::now(), 50.0, 1);
    let plan = plan_for(&base_url);
    let run = run_open(spec, stripes, &plan, client, recorder.clone(), signals());
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("ends");
    assert_eq!(hits.load(Ordering::Relaxed), 50);
    let open = recorder.take_open();
    assert_eq!(open.counts.scheduled, 50);
    assert_eq!(open.counts.completed, 50);
    let row = open.endpoints.values().next().expect("one endpoint");
    assert_eq!((row.service.requests, row.lag.requests), (50, 50));
    let (stats, _) = recorder.take();
    let total = stats.total();
    assert_eq!((total.requests, total.failures), (50, 0));
    assert!(total.max_us >= row.service.max_us, "response ≥ service");
}
