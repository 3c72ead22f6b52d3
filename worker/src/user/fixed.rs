//! Steps whose request is the same for every user and every time (no template in the URL,
//! the headers or the body): built, checked and encoded once per class, so that sending one
//! costs no rendering, URL parsing or encoding.

use lv_common::plan::{Body, ClassPlan, StepPlan};
use lv_common::template::{JsonTemplate, UserVars};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::render::render;
use crate::http::{FixedRequest, HttpClient};

/// A step's plan and, when it is fixed, its request encoded once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a> {
    /// What the step does.
    pub plan: &'a StepPlan,
    pub(super) fixed: Option<&'a FixedRequest>,
}

impl<'a> Step<'a> {
    /// A step whose request is rendered at every exchange.
    #[cfg(test)]
    pub(crate) fn rendered(plan: &'a StepPlan) -> Step<'a> {
        Step { plan, fixed: None }
    }
}

/// The steps of `plans`, each with its fixed request from `fixed` (same order).
pub(super) fn steps<'a>(
    plans: &'a [StepPlan],
    fixed: &'a [Option<FixedRequest>],
) -> impl Iterator<Item = Step<'a>> {
    plans.iter().enumerate().map(|(n, plan)| Step {
        plan,
        fixed: fixed.get(n).and_then(Option::as_ref),
    })
}

/// The requests of a class's fixed steps (no template in URL, headers or body), built,
/// checked and encoded once instead of at every request. `None` for a step that renders
/// per request, or whose request cannot be built (it then fails, and says why, each time).
#[derive(Debug, Default)]
pub(super) struct FixedSteps {
    pub on_start: Vec<Option<FixedRequest>>,
    pub tasks: Vec<Vec<Option<FixedRequest>>>,
}

impl FixedSteps {
    /// Encodes the fixed steps of `class` for `client`.
    pub fn new(class: &ClassPlan, client: &HttpClient) -> FixedSteps {
        let fix = |step: &StepPlan| {
            if !is_fixed(step) {
                return None;
            }
            let request = render(step, &UserVars::new(), &mut SmallRng::seed_from_u64(0)).ok()?;
            client.fix(request).ok()
        };
        FixedSteps {
            on_start: class.on_start.iter().map(fix).collect(),
            tasks: class
                .tasks
                .iter()
                .map(|task| task.steps.iter().map(fix).collect())
                .collect(),
        }
    }
}

/// True when a step's request is the same for every user and every time.
fn is_fixed(step: &StepPlan) -> bool {
    fn json_is_fixed(json: &JsonTemplate) -> bool {
        match json {
            JsonTemplate::Literal(_) => true,
            JsonTemplate::Template(_) => false,
            JsonTemplate::Array(items) => items.iter().all(json_is_fixed),
            JsonTemplate::Object(entries) => entries.iter().all(|(_, t)| json_is_fixed(t)),
        }
    }
    step.path.as_literal().is_some()
        && step.headers.iter().all(|(_, v)| v.as_literal().is_some())
        && match &step.body {
            Body::Empty => true,
            Body::Text(text) => text.as_literal().is_some(),
            Body::Json(json) => json_is_fixed(json),
        }
}
