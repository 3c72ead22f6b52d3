//! The open model's executor: fires this worker's stripe of the global arrivals at their
//! planned instants, whatever the answers do.
//!
//! Every arrival sleeps until `start + A⁻¹(level of k)` on one absolute timeline (never
//! "after the last one finished"), so a slow target cannot slow the generator down. Each
//! arrival runs one iteration in its own task; `max_in_flight` either drops the arrivals
//! beyond it (counted) or queues them, their response time then including the wait. A new
//! stripe (a worker joined or left) applies from its first arrival index: the arrivals of
//! the old stripe before that index are still fired here. An executor that starts after
//! its schedule began (a worker that reconnected) skips arrivals more than [`CATCH_UP`]
//! overdue instead of firing them in a burst; the master's planned total shows the gap.

use std::future::Future;
use std::sync::Arc;
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

pub use pacer::Pacer;

/// Arrivals due longer than this before the executor started are skipped, not fired late.
pub const CATCH_UP: Duration = Duration::from_secs(1);
/// An executor behind its schedule yields to the runtime after this many arrivals in a row.
const CATCH_UP_BATCH: u32 = 64;

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

/// Fires the arrivals of the stripes `stripes` holds until the schedule ends or `stop`,
/// running `body` for each; returns when every iteration it started has ended (or `kill`).
/// `body` resolves to true when the iteration succeeded.
pub async fn run_arrivals<B, F>(
    spec: OpenSpec,
    stripes: watch::Receiver<Stripe>,
    recorder: Recorder,
    body: B,
    signals: OpenSignals,
) where
    B: Fn(Arrival) -> F,
    F: Future<Output = bool> + Send + 'static,
{
    let cap = spec
        .max_in_flight
        .map(|n| Arc::new(Semaphore::new(n as usize)));
    let mut tasks = JoinSet::new();
    // An executor started late (a worker that reconnected mid-run) does not fire a burst
    // of long-past arrivals: they were fired before, or missed while it was away.
    let started = Instant::now();
    let mut cursor = Cursor::new(&spec, stripes, started);
    // Arrivals fired in a row without waiting (the executor is behind its schedule).
    let mut behind = 0u32;
    loop {
        cursor.follow_stripes();
        let Some((k, offset)) = cursor.peek() else {
            break;
        };
        // The stages come over the wire: an offset no schedule has is clamped, not a panic.
        let intended = later(spec.start, offset);
        if intended > Instant::now() {
            tokio::select! {
                biased;
                () = signals.stop.cancelled() => break,
                () = cursor.stripe_changed() => continue,
                () = spec.pacer.sleep_until(intended) => {}
            }
            behind = 0;
        } else if signals.stop.is_cancelled() {
            break;
        } else {
            // Catching up on arrivals already due: let the iterations it started run now and
            // then, so that they do not wait for the whole backlog to be fired.
            behind = behind.wrapping_add(1);
            if behind.is_multiple_of(CATCH_UP_BATCH) {
                tokio::task::yield_now().await;
            }
        }
        fire(
            Arrival { k, intended },
            &body,
            cap.as_ref(),
            &spec,
            &recorder,
            &mut tasks,
        );
        cursor.advance();
        while tasks.try_join_next().is_some() {}
    }
    finish(tasks, &signals.kill).await;
}

/// Waits for the iterations in flight to end, or drops them at `kill`.
async fn finish(mut tasks: JoinSet<()>, kill: &CancellationToken) {
    tokio::select! {
        () = async { while tasks.join_next().await.is_some() {} } => {}
        () = kill.cancelled() => tasks.abort_all(),
    }
    while tasks.join_next().await.is_some() {}
}

/// The arrivals this worker fires, in order: those of its stripe, switching to a new
/// stripe from the arrival index the master gives with it.
struct Cursor<'a> {
    spec: &'a OpenSpec,
    /// Where the master's new stripes come from.
    stripes: watch::Receiver<Stripe>,
    /// False once the stripes' sender is gone: the last stripe stays.
    watching: bool,
    current: StripeArrivals<'a>,
    /// Arrivals from `limit` on belong to `next_stripe`.
    limit: u64,
    next_stripe: Option<Stripe>,
    /// The next arrival: its index and its offset from the run's start.
    pending: Option<(u64, Duration)>,
}

impl<'a> Cursor<'a> {
    /// Starts at the first arrival of the current stripe not long past at `started`.
    fn new(
        spec: &'a OpenSpec,
        mut stripes: watch::Receiver<Stripe>,
        started: Instant,
    ) -> Cursor<'a> {
        let stripe = *stripes.borrow_and_update();
        let mut current = StripeArrivals::new(&spec.schedule, spec.arrivals, spec.seed, stripe);
        let pending = current.find(|&(_, at)| later(spec.start, at + CATCH_UP) >= started);
        Cursor {
            spec,
            stripes,
            watching: true,
            current,
            limit: u64::MAX,
            next_stripe: None,
            pending,
        }
    }

    /// Takes a new stripe that has come, if one has.
    fn follow_stripes(&mut self) {
        if self.watching && matches!(self.stripes.has_changed(), Ok(true)) {
            let stripe = *self.stripes.borrow_and_update();
            self.restripe(stripe);
        }
    }

    /// Resolves when a new stripe comes, and takes it; never once the sender is gone.
    async fn stripe_changed(&mut self) {
        if !self.watching {
            return std::future::pending().await;
        }
        self.watching = self.stripes.changed().await.is_ok();
        if self.watching {
            let stripe = *self.stripes.borrow_and_update();
            self.restripe(stripe);
        }
    }

    /// The master moved this worker to `stripe`, from its `from` arrival on.
    fn restripe(&mut self, stripe: Stripe) {
        (self.limit, self.next_stripe) = (stripe.from, Some(stripe));
    }

    /// The next arrival to fire; `None` when the schedule has no more.
    fn peek(&mut self) -> Option<(u64, Duration)> {
        loop {
            match self.pending {
                Some(arrival) if arrival.0 < self.limit => return Some(arrival),
                _ => {
                    let stripe = self.next_stripe.take()?;
                    let spec = self.spec;
                    self.current =
                        StripeArrivals::new(&spec.schedule, spec.arrivals, spec.seed, stripe);
                    self.limit = u64::MAX;
                    self.pending = self.current.next();
                }
            }
        }
    }

    /// The arrival `peek` gave was fired.
    fn advance(&mut self) {
        self.pending = self.current.next();
    }
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
    let env = Arc::new(IterationEnv::new(plan, client, recorder.clone(), spec.seed));
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
) where
    B: Fn(Arrival) -> F,
    F: Future<Output = bool> + Send + 'static,
{
    recorder.arrivals(|c| c.scheduled += 1);
    let started = |recorder: &Recorder| recorder.arrivals(|c| c.started += 1);
    let iteration = body(arrival);
    let recorder = recorder.clone();
    match (cap, spec.on_saturation) {
        (None, _) => {
            started(&recorder);
            tasks.spawn(serve(iteration, recorder, None));
        }
        (Some(cap), OnSaturation::Drop) => match Arc::clone(cap).try_acquire_owned() {
            Ok(permit) => {
                started(&recorder);
                tasks.spawn(serve(iteration, recorder, Some(permit)));
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
                serve(iteration, recorder, Some(permit)).await;
            });
        }
    }
}

/// Runs one iteration holding its slot, then counts how it ended.
async fn serve(
    iteration: impl Future<Output = bool>,
    recorder: Recorder,
    permit: Option<OwnedSemaphorePermit>,
) {
    let ok = iteration.await;
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
