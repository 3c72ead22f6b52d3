//! One virtual user: runs `on_start`, then picks tasks by weight, runs their steps and
//! waits by the class's wait rule, until it is retired (leaves at a task boundary),
//! stopped (finishes the request in flight, then leaves), killed (leaves at once; a
//! request in flight then counts as cut off, not as a failure) or, with an iteration
//! limit (`-i`), has run that many tasks (leaves without the pause after the last).

use std::num::NonZeroU32;
use std::time::Duration;

use lv_common::plan::{Check, StepPlan, TaskPlan};
use lv_common::stats::RequestPhases;
use lv_common::template::UserVars;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::http::{CookieJar, Outgoing, RequestError, Session, UserHttp};
use crate::recorder::Recorder;

mod env;
mod fixed;
mod render;
mod squad;

pub use env::UserEnv;
pub(crate) use fixed::Step;
pub(crate) use render::render;
pub use squad::{Departure, Member, Squad};

/// Shortest pause when no task can run yet (all need variables not extracted yet).
const IDLE_PAUSE: Duration = Duration::from_millis(100);

/// Runs one user until it is retired or stopped (or killed), or has run its iterations.
///
/// Memory per user, which tokio rounds to 128 bytes a task on x86_64: not an `async fn`,
/// which would copy its arguments from the future's captures into locals of their own; the
/// class, client, recorder and signals are the squad's, reached through `member`; the
/// requests of a task, with the kill watch around them, live in a box only while they run,
/// and a waiting user watches no signal at all (a retirement aborts its task). A waiting
/// user holds its pause, the seed of its random numbers (a generator is made from it for
/// each task) and, only when it has some, its variables, cookies and own connections
/// ([`Kept`]): its task fits in 256 bytes (`user_memory` and a unit test check the bound).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would copy its arguments into the future twice"
)]
pub fn run_user(member: Member, mut seed: u64) -> impl Future<Output = ()> + Send {
    async move {
        // `seed` stays where it was captured: a local of its own would cost 8 bytes more.
        let Some(mut kept) = Box::pin(start(&member, &mut seed)).await else {
            return;
        };
        let mut left = member.iterations();
        loop {
            if member.is_retired() {
                return;
            }
            // Only the pause outlives the box: what a task needs stays out of the future,
            // and the turn lives in a block so that none of it is kept across the pause.
            let pause = {
                let Some(turn) = Box::pin(next_task(&member, &mut kept, &mut seed)).await else {
                    return;
                };
                if turn.ran && count_down(&mut left) {
                    return;
                }
                (!turn.pause.is_zero()).then(|| tokio::time::sleep(turn.pause))
            };
            // Moved whole (a pattern on `pause` itself would move only its content, and the
            // future would keep room for both).
            let Some(pause) = std::convert::identity(pause) else {
                // Let other users and the reporter in if requests keep finishing without
                // waiting, once the task's budget is spent (a yield each time would cost a
                // trip through the scheduler per request).
                tokio::task::coop::consume_budget().await;
                continue;
            };
            // While it waits, a retirement may abort the task (dropping the pause).
            if !member.start_waiting() {
                return;
            }
            pause.await;
            if !member.stop_waiting() {
                return;
            }
        }
    }
}

/// What a user keeps from one task to the next: its variables (test data rows,
/// extractions), its cookies and its own connections. Boxed, and only once it holds
/// something: most users keep nothing, and a waiting user's task stays small.
#[derive(Debug)]
struct Kept {
    vars: UserVars,
    http: UserHttp,
}

impl Kept {
    /// Nothing yet: no variables, no cookies, no connection.
    fn new(env: &UserEnv) -> Kept {
        Kept {
            vars: UserVars::new(),
            http: UserHttp {
                session: env.own_connections.then(Session::default),
                cookies: env.class.cookies.then(CookieJar::default),
            },
        }
    }

    /// Whether it holds nothing a next task could use.
    fn is_empty(&self) -> bool {
        self.vars.is_empty()
            && self.http.session.as_ref().is_none_or(Session::is_empty)
            && self.http.cookies.as_ref().is_none_or(CookieJar::is_empty)
    }

    /// `self` boxed if it holds anything, else `None`.
    fn boxed(self) -> Option<Box<Kept>> {
        (!self.is_empty()).then(|| Box::new(self))
    }
}

/// Draws the user's test data rows and runs `on_start`, with random numbers from `seed`
/// (updated): what it keeps; `None` when it cannot go on (no row for it, or killed).
async fn start(member: &Member, seed: &mut u64) -> Option<Option<Box<Kept>>> {
    let env = member.env();
    let mut rng = SmallRng::seed_from_u64(*seed);
    let mut kept = Kept::new(env);
    if !env.class.data.is_empty() && !draw_rows(env, &mut kept.vars, &mut rng) {
        return None;
    }
    if !env.class.on_start.is_empty()
        && !on_start(member, &mut kept.vars, &mut rng, &mut kept.http).await
    {
        return None;
    }
    *seed = rng.next_u64();
    Some(kept.boxed())
}

/// Gives a new user its rows of the class's test data, for its whole life; false (an
/// exception counted under the data's name) when it cannot have one.
fn draw_rows(env: &UserEnv, vars: &mut UserVars, rng: &mut SmallRng) -> bool {
    match env.data.draw(&env.class.data, rng) {
        Ok(values) => {
            vars.extend(values);
            true
        }
        Err(err) => {
            env.recorder.exception(&err.to_string());
            false
        }
    }
}

/// One turn of a user: whether a task ran, and the pause after it.
struct Turn {
    /// A task ran its steps (whether they passed or failed); false when none was ready.
    ran: bool,
    /// The pause before the next turn.
    pause: Duration,
}

/// Counts a task that ran against the tasks `left` to run (`None`: no limit); true when it
/// was the last one.
fn count_down(left: &mut Option<NonZeroU32>) -> bool {
    let Some(n) = *left else {
        return false;
    };
    *left = NonZeroU32::new(n.get() - 1);
    left.is_none()
}

/// Runs the next task, if one can run yet, with what the user `kept` and random numbers
/// from `seed` (both updated), and returns the turn; `None` when the user was killed
/// meanwhile.
async fn next_task(member: &Member, kept: &mut Option<Box<Kept>>, seed: &mut u64) -> Option<Turn> {
    let env = member.env();
    let mut rng = SmallRng::seed_from_u64(*seed);
    let mut fresh = None;
    let held = match kept {
        Some(held) => held,
        None => fresh.insert(Kept::new(env)),
    };
    let turn = take_turn(member, held, &mut rng).await;
    *seed = rng.next_u64();
    if let Some(fresh) = fresh {
        *kept = fresh.boxed();
    }
    turn
}

/// [`next_task`] with the user's state at hand.
async fn take_turn(member: &Member, kept: &mut Kept, rng: &mut SmallRng) -> Option<Turn> {
    let env = member.env();
    let Kept { vars, http } = kept;
    // The clock is read only for rules that need the task time (a read per request shows
    // in profiles of one core against a fast target).
    let started = env.class.wait.uses_task_time().then(Instant::now);
    let Some(index) = pick_task(&env.class.tasks, vars, rng) else {
        let pause = env
            .class
            .wait
            .next_wait(Duration::ZERO, rng)
            .max(IDLE_PAUSE);
        return Some(Turn { ran: false, pause });
    };
    tokio::select! {
        () = run_task(env, index, vars, rng, member.stop(), http) => {}
        () = member.kill().cancelled() => return None,
    }
    let task_time = started.map_or(Duration::ZERO, |started| started.elapsed());
    let pause = env.class.wait.next_wait(task_time, rng);
    Some(Turn { ran: true, pause })
}

/// Runs the class's `on_start` steps; false when the user was killed meanwhile.
async fn on_start(
    member: &Member,
    vars: &mut UserVars,
    rng: &mut SmallRng,
    http: &mut UserHttp,
) -> bool {
    let env = member.env();
    for step in env.on_start() {
        if member.stop().is_cancelled() {
            break;
        }
        tokio::select! {
            go_on = run_step(env, step, vars, rng, http) => if !go_on { break },
            () = member.kill().cancelled() => return false,
        }
    }
    true
}

/// Picks a task by weight among those whose required variables are set: its index.
pub fn pick_task(tasks: &[TaskPlan], vars: &UserVars, rng: &mut impl Rng) -> Option<usize> {
    let ready = |t: &&TaskPlan| t.weight > 0 && t.requires.iter().all(|v| vars.contains_key(v));
    let total: u64 = tasks
        .iter()
        .filter(ready)
        .map(|t| u64::from(t.weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut point = rng.random_range(0..total);
    for (index, task) in tasks.iter().enumerate().filter(|(_, t)| ready(t)) {
        let weight = u64::from(task.weight);
        if point < weight {
            return Some(index);
        }
        point -= weight;
    }
    None
}

async fn run_task(
    env: &UserEnv,
    task: usize,
    vars: &mut UserVars,
    rng: &mut SmallRng,
    stop: &CancellationToken,
    http: &mut UserHttp,
) {
    for step in env.task_steps(task) {
        if stop.is_cancelled() || !run_step(env, step, vars, rng, http).await {
            return;
        }
    }
}

/// Sends one step's request and records it; false when the task should not go on
/// (the request failed, or lv could not build or read it).
async fn run_step(
    env: &UserEnv,
    step: Step<'_>,
    vars: &mut UserVars,
    rng: &mut SmallRng,
    http: &mut UserHttp,
) -> bool {
    let Some(exchanged) = exchange(env, step, vars, rng, http).await else {
        return false;
    };
    let micros = u64::try_from(exchanged.latency.as_micros()).unwrap_or(u64::MAX);
    record_and_extract(env, step.plan, exchanged, micros, vars)
}

/// What one step's exchange gave.
pub(crate) struct Exchanged {
    /// When the request was handed to the client.
    pub sent: Instant,
    /// From the send to the end of the response (or of the error).
    pub latency: Duration,
    /// Decoded body size.
    pub content_len: u64,
    /// Success (with the JSON that checks or extraction need) or the failure's text.
    pub outcome: Result<Option<Value>, String>,
    /// Where the time went, when a response came (an HTTP error status included).
    pub phases: Option<RequestPhases>,
}

/// Renders (unless it is fixed) and sends one step's request and judges the answer;
/// `None` when lv could not build or read it (recorded as an exception).
pub(crate) async fn exchange(
    env: &UserEnv,
    step: Step<'_>,
    vars: &UserVars,
    rng: &mut SmallRng,
    http: &mut UserHttp,
) -> Option<Exchanged> {
    let Step { plan: step, fixed } = step;
    let outgoing = match fixed {
        Some(fixed) => Outgoing::Fixed(fixed),
        None => match render(step, vars, rng) {
            Ok(request) => Outgoing::Rendered(request),
            Err(message) => {
                env.recorder
                    .exception(&format!("{} {}: {message}", step.method, step.name));
                return None;
            }
        },
    };
    // If a kill drops this future while the request is in flight, the guard counts
    // the request as cut off.
    let guard = CutOffGuard(Some(&env.recorder));
    let sent = Instant::now();
    // Not boxed on its own: a closed user's task is boxed while it runs (`next_task`) and
    // an open arrival's exchange is boxed by its caller, so waiting users stay small.
    let result = env.client.send_from(outgoing, http, sent).await;
    guard.disarm();
    if let Some(notice) = env.client.take_connection_wait_notice() {
        tracing::warn!("{notice}");
        env.recorder.exception(&notice);
    }
    let (latency, content_len, outcome, phases) = match result {
        Ok(response) => {
            let outcome = judge(step, response.status, &response.body);
            let phases = Some(response.phases);
            (response.elapsed, response.content_len, outcome, phases)
        }
        Err(RequestError::Invalid(message)) => {
            env.recorder
                .exception(&format!("{} {}: {message}", step.method, step.name));
            return None;
        }
        Err(err) => (sent.elapsed(), 0, Err(err.to_string()), None),
    };
    Some(Exchanged {
        sent,
        latency,
        content_len,
        outcome,
        phases,
    })
}

/// Records an exchange with `response_us` as its response time, then runs the step's
/// extractions; false when the task should not go on.
pub(crate) fn record_and_extract(
    env: &UserEnv,
    step: &StepPlan,
    exchanged: Exchanged,
    response_us: u64,
    vars: &mut UserVars,
) -> bool {
    let error = exchanged.outcome.as_ref().err().map(String::as_str);
    env.recorder.request(
        &step.method,
        &step.name,
        step.kind,
        response_us,
        exchanged.content_len,
        error,
        exchanged.phases.as_ref(),
    );
    match exchanged.outcome {
        Ok(json) => extract(env, step, json.as_ref(), vars),
        Err(_) => false,
    }
}

struct CutOffGuard<'a>(Option<&'a Recorder>);

impl CutOffGuard<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CutOffGuard<'_> {
    fn drop(&mut self) {
        if let Some(recorder) = self.0 {
            recorder.cut_off();
        }
    }
}

/// Decides success from the status and checks; on success returns the parsed JSON when
/// checks or extraction need it.
pub(crate) fn judge(step: &StepPlan, status: u16, body: &[u8]) -> Result<Option<Value>, String> {
    let status_ok = if step.expect_status.is_empty() {
        status < 400
    } else {
        step.expect_status.contains(&status)
    };
    if !status_ok {
        return Err(format!("HTTP {status}{}", reason(status)));
    }
    if step.checks.is_empty() && step.extract.is_empty() {
        return Ok(None);
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| "response is not JSON (checks and extraction need JSON)".to_owned())?;
    if let Some(failure) = step.checks.iter().find_map(|c| check_failure(c, &json)) {
        return Err(failure);
    }
    Ok(Some(json))
}

/// Why `check` fails on `json`; `None` when it passes.
pub(crate) fn check_failure(check: &Check, json: &Value) -> Option<String> {
    match (json.pointer(&check.pointer), &check.equals) {
        (None, _) => Some(format!("check failed: {} is missing", check.pointer)),
        (Some(found), Some(want)) if found != want => Some(format!(
            "check failed: {} is {found}, expected {want}",
            check.pointer
        )),
        _ => None,
    }
}

fn reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn extract(env: &UserEnv, step: &StepPlan, json: Option<&Value>, vars: &mut UserVars) -> bool {
    let Some(json) = json else { return true };
    for (var, pointer) in &step.extract {
        match extracted(json, var, pointer) {
            Err(why) => {
                env.recorder
                    .exception(&format!("{} {}: {why}", step.method, step.name));
                return false;
            }
            Ok(value) => {
                vars.insert(var.clone(), value.clone());
            }
        }
    }
    true
}

/// The value `pointer` gives variable `var` in `json`, or why there is none (missing or null).
pub(crate) fn extracted<'a>(
    json: &'a Value,
    var: &str,
    pointer: &str,
) -> Result<&'a Value, String> {
    match json.pointer(pointer) {
        Some(Value::Null) | None => Err(format!(
            "extract {var}: {pointer} not found in the response"
        )),
        Some(value) => Ok(value),
    }
}

#[cfg(test)]
mod tests;
