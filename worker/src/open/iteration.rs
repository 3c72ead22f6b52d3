//! One open-model iteration: what a newly arrived client does.
//!
//! A class is picked by weight, then the client runs the class's `on_start` steps and one
//! task picked as closed users pick them (weights, tags already applied, variables it
//! extracted), with no wait, and leaves. The first request's planned instant is the
//! arrival's; each later step is planned for the end of the one before it, so only the
//! generator's lateness shows as schedule lag. Response time (lag + service) is what the
//! ordinary request stats record.

use std::sync::Arc;

use lv_common::load::RequestTiming;
use lv_common::plan::Plan;
use lv_common::template::UserVars;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::arrival::Arrival;
use crate::http::{CookieJar, HttpClient, Session, UserHttp};
use crate::recorder::Recorder;
use crate::user::{Step, UserEnv, exchange, pick_task, record_and_extract};

/// Multiplier spreading arrival indexes over the seed space (the golden ratio in 64 bits).
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// What every iteration of a run shares.
#[derive(Debug)]
pub struct IterationEnv {
    /// What a client of each class runs with.
    classes: Vec<UserEnv>,
    /// Base of each iteration's random choices.
    seed: u64,
}

impl IterationEnv {
    /// The environment of the iterations of `plan`.
    pub fn new(plan: &Plan, client: HttpClient, recorder: Recorder, seed: u64) -> IterationEnv {
        IterationEnv {
            classes: plan
                .classes
                .iter()
                .map(|class| {
                    UserEnv::new(
                        Arc::new(class.clone()),
                        client.clone(),
                        recorder.clone(),
                        plan.connection_per_user,
                    )
                })
                .collect(),
            seed,
        }
    }
}

/// Serves one arrival; true when no request of it failed.
pub async fn run_iteration(env: Arc<IterationEnv>, arrival: Arrival) -> bool {
    let mut rng = SmallRng::seed_from_u64(env.seed ^ arrival.k.wrapping_mul(SPREAD));
    let Some(user) = pick_class(&env.classes, &mut rng) else {
        return true;
    };
    let class = user.class();
    let mut http = UserHttp {
        session: user.own_connections.then(Session::default),
        cookies: class.cookies.then(CookieJar::default),
    };
    let mut vars = UserVars::new();
    let mut intended = arrival.intended;
    for step in user.on_start() {
        if !timed_step(user, step, &mut vars, &mut rng, &mut http, &mut intended).await {
            return false;
        }
    }
    let Some(task) = pick_task(&class.tasks, &vars, &mut rng) else {
        return true;
    };
    for step in user.task_steps(task) {
        if !timed_step(user, step, &mut vars, &mut rng, &mut http, &mut intended).await {
            return false;
        }
    }
    true
}

/// Runs one step planned for `intended`, records its three times, and plans the next step
/// for its end; false when the iteration should not go on.
async fn timed_step(
    user: &UserEnv,
    step: Step<'_>,
    vars: &mut UserVars,
    rng: &mut SmallRng,
    http: &mut UserHttp,
    intended: &mut Instant,
) -> bool {
    // Boxed: the exchange's state lives on the heap only while its request is in flight,
    // so arrivals queued for a slot (`max_in_flight`) stay small.
    let Some(exchanged) = Box::pin(exchange(user, step, vars, rng, http)).await else {
        return false;
    };
    let timing = RequestTiming::new(
        exchanged.sent.saturating_duration_since(*intended),
        exchanged.latency,
    );
    user.recorder
        .open_request(&step.plan.method, &step.plan.name, timing);
    *intended = Instant::now();
    record_and_extract(user, step.plan, exchanged, timing.response_us, vars)
}

/// Picks a class by weight; `None` when no class has weight.
fn pick_class<'a>(classes: &'a [UserEnv], rng: &mut impl Rng) -> Option<&'a UserEnv> {
    let total: u64 = classes.iter().map(|c| u64::from(c.class().weight)).sum();
    if total == 0 {
        return None;
    }
    let mut point = rng.random_range(0..total);
    for class in classes {
        let weight = u64::from(class.class().weight);
        if point < weight {
            return Some(class);
        }
        point -= weight;
    }
    None
}
