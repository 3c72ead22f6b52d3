//! The open model's executor: fires this worker's stripe of the global arrivals at their
//! planned instants, whatever the answers do.
//!
//! Every arrival is planned for `start + A⁻¹(level of k)` on one absolute timeline (never
//! "after the last one finished"), so a slow target cannot slow the generator down. The
//! executor sleeps until the next planned instant, but wakes at most once a [`TICK`]: then
//! it fires every arrival whose instant has come, each timed from its own instant. Each
//! arrival runs one iteration, up to its first wait in the executor's turn and then in a
//! task of its own; the open model's client holds new connections back while the server
//! is slow to accept them (see the pool); `max_in_flight` either drops the arrivals
//! beyond it (counted) or queues them, their response time then including the wait. A new
//! stripe (a worker joined or left) applies from its first arrival index: the arrivals of
//! the old stripe before that index are still fired here. An executor that starts after
//! its schedule began (a worker that reconnected) skips arrivals more than [`CATCH_UP`]
//! overdue instead of firing them in a burst; the master's planned total shows the gap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lv_common::bounds::later;
use lv_common::load::{ArrivalKind, OnSaturation, Schedule, Stripe, StripeArrivals};
use lv_common::plan::Plan;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::http::HttpClient;
use crate::recorder::Recorder;
pub use arrival::Arrival;
use iteration::IterationEnv;

mod arrival;
pub mod iteration;
pub mod pacer;

pub use pacer::{Pacer, TICK};

/// Arrivals due longer than this before the executor started are skipped, not fired late.
pub const CATCH_UP: Duration = Duration::from_secs(1);
/// An executor behind its schedule yields to the runtime after firing arrivals for this long.
const CATCH_UP_SLICE: Duration = Duration::from_micros(200);

/// This worker's part of an open-model run.
#[derive(Debug, Clone)]
pub struct OpenSpec {
    /// The planned rate over time, shared by every worker.
    pub schedule: Arc<Schedule>,
    /// Uniform or Poisson instants.
    pub arrivals: ArrivalKind,
    /// Seed of Poisson instants (the master's, the same on every worker).
    pub seed: u64,
    /// The instant the schedule starts, the same on every worker.
    pub start: Instant,
    /// Iterations this worker may run at once; `None` for no cap.
    pub max_in_flight: Option<u32>,
    /// What an arrival does at the cap.
    pub on_saturation: OnSaturation,
    /// How the executor waits for each planned instant.
    pub pacer: Pacer,
}

/// How the executor ends.
#[derive(Debug, Clone)]
pub struct OpenSignals {
    /// Fire no more arrivals; let the iterations in flight finish.
    pub stop: CancellationToken,
    /// Drop the iterations in flight now.
    pub kill: CancellationToken,
}

// long fn: the pacing loop, kept whole: as a cursor type its lag p99 at 50,000/s went from 0.03 to 0.7 ms
/// Fires the arrivals of the stripes `stripes` holds until the schedule ends or `stop`,
/// running `body` for each; returns when every iteration it started has ended (or `kill`).
/// `body` resolves to true when the iteration succeeded.
pub async fn run_arrivals<B, F>(
    spec: OpenSpec,
    mut stripes: watch::Receiver<Stripe>,
    recorder: Recorder,
    body: B,
    signals: OpenSignals,
) where
    B: Fn(Arrival) -> F + Clone + Send + 'static,
    F: Future<Output = bool> + Send + 'static,
{
    let cap = spec
        .max_in_flight
        .map(|n| Arc::new(Semaphore::new(n as usize)));
    let mut tasks = JoinSet::new();
    let mut watching = true;
    let stripe = *stripes.borrow_and_update();
    let mut current = StripeArrivals::new(&spec.schedule, spec.arrivals, spec.seed, stripe);
    // Arrivals from `limit` on belong to `next_stripe`.
    let (mut limit, mut next_stripe) = (u64::MAX, None);
    // An executor started late (a worker that reconnected mid-run) does not fire a burst
    // of long-past arrivals: they were fired before, or missed while it was away.
    let started = Instant::now();
    let mut pending = current.find(|&(_, at)| later(spec.start, at + CATCH_UP) >= started);
    // Since when the executor has fired arrivals without waiting (it is behind its schedule).
    let mut behind_since = None;
    // When the pacer last woke the executor.
    let mut woke = started;
    loop {
        if watching && matches!(stripes.has_changed(), Ok(true)) {
            let stripe = *stripes.borrow_and_update();
            (limit, next_stripe) = (stripe.from, Some(stripe));
        }
        let (k, offset) = match pending {
            Some(arrival) if arrival.0 < limit => arrival,
            _ => match next_stripe.take() {
                Some(stripe) => {
                    current = StripeArrivals::new(&spec.schedule, spec.arrivals, spec.seed, stripe);
                    limit = u64::MAX;
                    pending = current.next();
                    continue;
                }
                None => break,
            },
        };
        // The stages come over the wire: an offset no schedule has is clamped, not a panic.
        let intended = later(spec.start, offset);
        let now = Instant::now();
        if intended > now {
            // At most one wake a tick: arrivals closer together are released together.
            let wake = intended.max(woke + TICK);
            tokio::select! {
                biased;
                () = signals.stop.cancelled() => break,
                changed = stripes.changed(), if watching => {
                    watching = changed.is_ok();
                    if watching {
                        let stripe = *stripes.borrow_and_update();
                        (limit, next_stripe) = (stripe.from, Some(stripe));
                    }
                    continue;
                }
                () = spec.pacer.sleep_until(wake) => {}
            }
            woke = wake;
            behind_since = None;
        } else if signals.stop.is_cancelled() {
            break;
        } else {
            // Catching up on arrivals already due: let the runtime read the answers now and
            // then, so that their connections come back to serve the backlog instead of
            // new ones being opened for it. A slice of time, not of arrivals: an arrival
            // that opens a connection costs several that reuse one.
            let since = *behind_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= CATCH_UP_SLICE {
                tokio::task::yield_now().await;
                behind_since = Some(Instant::now());
            }
        }
        std::future::poll_fn(|cx| {
            fire(
                Arrival { k, intended },
                &body,
                cap.as_ref(),
                &spec,
                &recorder,
                &mut tasks,
                cx,
            );
            Poll::Ready(())
        })
        .await;
        pending = current.next();
        while tasks.try_join_next().is_some() {}
    }
    tokio::select! {
        () = async { while tasks.join_next().await.is_some() {} } => {}
        () = signals.kill.cancelled() => tasks.abort_all(),
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs an open-model run of `plan`: each arrival of the stripes is one iteration
/// ([`iteration::run_iteration`]) sent through `client` and recorded in `recorder`.
pub async fn run_open(
    spec: OpenSpec,
    stripes: watch::Receiver<Stripe>,
    plan: &Plan,
    client: HttpClient,
    recorder: Recorder,
    signals: OpenSignals,
) {
    let env = Arc::new(IterationEnv::new(
        plan,
        client.paced(),
        recorder.clone(),
        spec.seed,
    ));
    let body = move |arrival| iteration::run_iteration(Arc::clone(&env), arrival);
    run_arrivals(spec, stripes, recorder, body, signals).await;
}

/// Starts one arrival's iteration, or drops it at the cap.
fn fire<B, F>(
    arrival: Arrival,
    body: &B,
    cap: Option<&Arc<Semaphore>>,
    spec: &OpenSpec,
    recorder: &Recorder,
    tasks: &mut JoinSet<()>,
    cx: &mut Context<'_>,
) where
    B: Fn(Arrival) -> F + Clone + Send + 'static,
    F: Future<Output = bool> + Send + 'static,
{
    recorder.arrivals(|c| c.scheduled += 1);
    let started = |recorder: &Recorder| recorder.arrivals(|c| c.started += 1);
    let begin = {
        let body = body.clone();
        move || body(arrival)
    };
    let recorder = recorder.clone();
    match (cap, spec.on_saturation) {
        (None, _) => {
            started(&recorder);
            start(serve(begin, recorder, None), cx, tasks);
        }
        (Some(cap), OnSaturation::Drop) => match Arc::clone(cap).try_acquire_owned() {
            Ok(permit) => {
                started(&recorder);
                start(serve(begin, recorder, Some(permit)), cx, tasks);
            }
            Err(_) => recorder.arrivals(|c| c.dropped += 1),
        },
        (Some(cap), OnSaturation::Queue) => {
            let cap = Arc::clone(cap);
            tasks.spawn(async move {
                // The semaphore is never closed, so the wait only ends with a permit.
                let Ok(permit) = cap.acquire_owned().await else {
                    return;
                };
                started(&recorder);
                serve(begin, recorder, Some(permit)).await;
            });
        }
    }
}

/// Runs `iteration` up to its first wait right here, in the executor's turn, and spawns
/// the rest: a spawned task first runs behind every task already queued, and its request
/// would leave that much later than planned on a busy worker.
fn start<T>(iteration: T, cx: &mut Context<'_>, tasks: &mut JoinSet<()>)
where
    T: Future<Output = ()> + Send + 'static,
{
    let mut iteration = Box::pin(iteration);
    // Outside the executor's cooperative budget: a burst of arrivals would spend it, and
    // the rest of the burst would then send nothing until their tasks run.
    let first = Pin::new(&mut tokio::task::unconstrained(&mut iteration)).poll(cx);
    if first.is_pending() {
        // Its wakers are re-registered as the task's own on the task's first run.
        tasks.spawn(iteration);
    }
}

/// Runs the iteration `begin` starts, holding its slot, then counts how it ended.
///
/// The iteration is created here, not passed in: a future passed to an `async fn` is kept
/// twice in its state (as the argument and as what it awaits), and every arrival's task is
/// copied whole when it is spawned, run and finished.
async fn serve<F: Future<Output = bool>>(
    begin: impl FnOnce() -> F,
    recorder: Recorder,
    permit: Option<OwnedSemaphorePermit>,
) {
    let ok = begin().await;
    drop(permit);
    recorder.arrivals(|c| {
        if ok {
            c.completed += 1;
        } else {
            c.failed += 1;
        }
    });
}

#[cfg(test)]
mod tests;
