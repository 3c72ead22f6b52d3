//! The probe: one user of a class run once, in detail, for `lv-master try`.
//!
//! The user runs its class's `on_start` steps, then every task once in plan order (not by
//! weight), with the real user's semantics: one cookie jar for the whole user, templates
//! rendered with its variables (`user::render`), answers judged by the same rules
//! (`user::judge`) and values extracted the same way (`user::extracted`). A failed step ends its task
//! (the rest of the task is not run), a task whose `requires` are not set is skipped, and
//! every step leaves a [`StepTrace`]: the request as written, the response, each check and
//! extraction, and the verdict. Nothing is recorded in stats.

use std::time::Duration;

use bytes::Bytes;
use lv_common::plan::{ClassPlan, StepPlan};
use lv_common::template::UserVars;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;
use tokio::time::Instant;

use crate::http::{
    CookieJar, HttpClient, InResponse, RequestError, SentRequest, Transcript, UserHttp,
};
use crate::user::{check_failure, extracted, judge, render};

/// What one user of a class did: its `on_start` steps and each of its tasks, in order.
#[derive(Debug, Clone)]
pub struct ClassTrace {
    /// The class's name.
    pub class: String,
    /// The `on_start` steps, when the class has any.
    pub on_start: Option<TaskTrace>,
    /// Every task of the class, in plan order.
    pub tasks: Vec<TaskTrace>,
    /// The user's variables at the end.
    pub vars: UserVars,
}

/// One task (or the `on_start` steps): skipped, or the steps it ran.
#[derive(Debug, Clone)]
pub struct TaskTrace {
    /// The task's name (`on_start` for the class's `on_start` steps).
    pub name: String,
    /// Why the task was not run at all.
    pub skipped: Option<String>,
    /// The steps run, in order; the last one failed when the task stopped early.
    pub steps: Vec<StepTrace>,
    /// Names of the steps not run because an earlier step of the task failed.
    pub not_run: Vec<String>,
}

/// One step: what was sent, what came back, and the verdict.
#[derive(Debug, Clone)]
pub struct StepTrace {
    /// The step's stats name.
    pub name: String,
    /// The request as written (the first hop's); `None` when it could not be built.
    pub request: Option<SentRequest>,
    /// Redirects followed: each one's status and the URL it led to.
    pub redirects: Vec<(u16, String)>,
    /// What came back.
    pub answer: Answer,
    /// Time from sending to the end of the response (or of the error).
    pub elapsed: Duration,
    /// Each check of the step, evaluated on the answer's body.
    pub checks: Vec<CheckTrace>,
    /// Each variable extraction tried, in order (none unless the answer passed).
    pub extracted: Vec<Extraction>,
    /// Whether the step passed.
    pub verdict: Verdict,
}

/// What came back to a step's request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Nothing was sent (the request could not be built).
    NotSent,
    /// No complete response: why.
    Error(String),
    /// A response.
    Response(ResponseTrace),
}

/// A response as the probe saw it.
#[derive(Debug, Clone)]
pub struct ResponseTrace {
    /// Status code.
    pub status: u16,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body, up to [`crate::http::MAX_KEPT_BODY`] bytes.
    pub body: Bytes,
    /// The decoded body's whole size in bytes.
    pub size: u64,
}

/// One check of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckTrace {
    /// The JSON pointer checked.
    pub pointer: String,
    /// The value required; `None` when the pointer only has to exist.
    pub expected: Option<Value>,
    /// What the body holds there.
    pub found: Found,
    /// Whether the check passed.
    pub passed: bool,
}

/// What a check found in the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// This value.
    Value(Value),
    /// Nothing at the pointer.
    Missing,
    /// The body is not JSON.
    NotJson,
}

/// One variable extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// The variable.
    pub var: String,
    /// The JSON pointer it is read from.
    pub pointer: String,
    /// The value extracted, or why there is none.
    pub value: Result<Value, String>,
}

/// Whether a step passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The request succeeded and every check and extraction passed.
    Passed,
    /// The request failed as a run counts failures (no response, a status not expected, a
    /// failed check, a body that is not JSON): the failure's text.
    Failed(String),
    /// lv could not build the request or extract a value (a run's "exception"): why.
    Error(String),
}

impl Verdict {
    /// True for [`Verdict::Passed`].
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }
}

impl ClassTrace {
    /// The tasks in order, the `on_start` steps first.
    pub fn all_tasks(&self) -> impl Iterator<Item = &TaskTrace> {
        self.on_start.iter().chain(&self.tasks)
    }

    /// Every step that did not pass, with its task.
    pub fn failures(&self) -> Vec<(&TaskTrace, &StepTrace)> {
        self.all_tasks()
            .flat_map(|task| task.steps.iter().map(move |step| (task, step)))
            .filter(|(_, step)| !step.verdict.passed())
            .collect()
    }
}

/// Runs one user of `class` once, starting with the variables `vars`: its `on_start`
/// steps, then every task in plan order, through `client`.
pub async fn probe_class(class: &ClassPlan, client: &HttpClient, vars: UserVars) -> ClassTrace {
    let mut user = Prober {
        client,
        vars,
        rng: SmallRng::from_os_rng(),
        http: UserHttp {
            session: None,
            cookies: class.cookies.then(CookieJar::default),
        },
    };
    let on_start = if class.on_start.is_empty() {
        None
    } else {
        Some(user.run("on_start", &class.on_start).await)
    };
    let mut tasks = Vec::with_capacity(class.tasks.len());
    for (index, task) in class.tasks.iter().enumerate() {
        tasks.push(match skip_reason(class, index, &user.vars) {
            Some(reason) => TaskTrace {
                name: task.name.clone(),
                skipped: Some(reason),
                steps: Vec::new(),
                not_run: Vec::new(),
            },
            None => user.run(&task.name, &task.steps).await,
        });
    }
    ClassTrace {
        class: class.name.clone(),
        on_start,
        tasks,
        vars: user.vars,
    }
}

/// The one user a probe runs.
struct Prober<'a> {
    client: &'a HttpClient,
    vars: UserVars,
    rng: SmallRng,
    http: UserHttp,
}

impl Prober<'_> {
    /// Runs `steps` in order until one does not pass.
    async fn run(&mut self, name: &str, steps: &[StepPlan]) -> TaskTrace {
        let mut trace = TaskTrace {
            name: name.to_owned(),
            skipped: None,
            steps: Vec::with_capacity(steps.len()),
            not_run: Vec::new(),
        };
        for (index, step) in steps.iter().enumerate() {
            let step_trace = self.step(step).await;
            let passed = step_trace.verdict.passed();
            trace.steps.push(step_trace);
            if !passed {
                trace.not_run = steps[index + 1..].iter().map(|s| s.name.clone()).collect();
                break;
            }
        }
        trace
    }

    /// Renders and sends one step's request, and judges the answer.
    async fn step(&mut self, step: &StepPlan) -> StepTrace {
        let mut request = match render(step, &self.vars, &mut self.rng) {
            Ok(request) => request,
            Err(message) => return unsent(step, None, Verdict::Error(message)),
        };
        // The probe shows every body, not only those that checks need.
        request.keep_body = true;
        let fallback = SentRequest::of(&request);
        let mut transcript = Transcript::default();
        let started = Instant::now();
        let result = self
            .client
            .send_traced(request, &mut self.http, &mut transcript)
            .await;
        let exchange = Exchange {
            fallback,
            transcript,
            result,
            elapsed: started.elapsed(),
        };
        trace_step(step, exchange, &mut self.vars)
    }
}

/// What one step's exchange gave the probe.
pub(crate) struct Exchange {
    /// The request as rendered, for when none was written.
    pub fallback: SentRequest,
    /// Every hop written and answered.
    pub transcript: Transcript,
    /// The client's answer.
    pub result: Result<InResponse, RequestError>,
    /// Time until the answer or the error.
    pub elapsed: Duration,
}

/// The trace of a step that sent nothing.
fn unsent(step: &StepPlan, request: Option<SentRequest>, verdict: Verdict) -> StepTrace {
    StepTrace {
        name: step.name.clone(),
        request,
        redirects: Vec::new(),
        answer: Answer::NotSent,
        elapsed: Duration::ZERO,
        checks: Vec::new(),
        extracted: Vec::new(),
        verdict,
    }
}

/// The trace of a step from its exchange; extracted values go into `vars`, as a user's.
pub(crate) fn trace_step(step: &StepPlan, exchange: Exchange, vars: &mut UserVars) -> StepTrace {
    let Exchange {
        fallback,
        transcript,
        result,
        elapsed,
    } = exchange;
    let request = transcript
        .hops
        .first()
        .map_or(fallback, |hop| hop.request.clone());
    let response = match result {
        Err(RequestError::Invalid(message)) => {
            return unsent(step, Some(request), Verdict::Error(message));
        }
        Err(err) => {
            let mut trace = unsent(step, Some(request), Verdict::Failed(err.to_string()));
            trace.answer = Answer::Error(err.to_string());
            trace.redirects = redirects(&transcript);
            trace.elapsed = elapsed;
            return trace;
        }
        Ok(response) => response,
    };
    let checks = trace_checks(step, &response.body);
    let (extracted, verdict) = match judge(step, response.status, &response.body) {
        Ok(json) => trace_extraction(step, json.as_ref(), vars),
        Err(failure) => (Vec::new(), Verdict::Failed(failure)),
    };
    let headers = transcript
        .hops
        .last()
        .and_then(|hop| hop.response.as_ref())
        .map(|(_, headers)| headers.clone())
        .unwrap_or_default();
    StepTrace {
        name: step.name.clone(),
        request: Some(request),
        redirects: redirects(&transcript),
        answer: Answer::Response(ResponseTrace {
            status: response.status,
            headers,
            body: response.body,
            size: response.content_len,
        }),
        elapsed: response.elapsed,
        checks,
        extracted,
        verdict,
    }
}

/// Each redirect of a transcript: the status that redirected and the URL it led to.
fn redirects(transcript: &Transcript) -> Vec<(u16, String)> {
    transcript
        .hops
        .windows(2)
        .map(|pair| {
            let status = pair[0].response.as_ref().map_or(0, |(status, _)| *status);
            (status, pair[1].request.url.clone())
        })
        .collect()
}

/// Every check of `step` on `body`, whatever the status (a run stops at the first failure).
pub(crate) fn trace_checks(step: &StepPlan, body: &[u8]) -> Vec<CheckTrace> {
    if step.checks.is_empty() {
        return Vec::new();
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    step.checks
        .iter()
        .map(|check| {
            let (found, passed) = match &json {
                None => (Found::NotJson, false),
                Some(json) => (
                    json.pointer(&check.pointer)
                        .map_or(Found::Missing, |v| Found::Value(v.clone())),
                    check_failure(check, json).is_none(),
                ),
            };
            CheckTrace {
                pointer: check.pointer.clone(),
                expected: check.equals.clone(),
                found,
                passed,
            }
        })
        .collect()
}

/// The extractions of `step` from `json` (none without JSON) into `vars`, up to the first
/// that fails, as a user's; the verdict is an error when one failed.
pub(crate) fn trace_extraction(
    step: &StepPlan,
    json: Option<&Value>,
    vars: &mut UserVars,
) -> (Vec<Extraction>, Verdict) {
    let mut done = Vec::new();
    let Some(json) = json else {
        return (done, Verdict::Passed);
    };
    for (var, pointer) in &step.extract {
        let value = extracted(json, var, pointer).cloned();
        let failed = value.as_ref().err().cloned();
        if let Ok(value) = &value {
            vars.insert(var.clone(), value.clone());
        }
        done.push(Extraction {
            var: var.clone(),
            pointer: pointer.clone(),
            value,
        });
        if let Some(why) = failed {
            return (done, Verdict::Error(why));
        }
    }
    (done, Verdict::Passed)
}

/// Why task number `index` of `class` is not run with `vars`: a weight of 0 (a run never
/// picks it), or required variables that are not set; `None` when it runs.
pub fn skip_reason(class: &ClassPlan, index: usize, vars: &UserVars) -> Option<String> {
    let task = class.tasks.get(index)?;
    if task.weight == 0 {
        return Some("weight 0: a run never picks it".to_owned());
    }
    let missing: Vec<String> = task
        .requires
        .iter()
        .filter(|var| !vars.contains_key(*var))
        .map(|var| {
            let later = class.tasks[index + 1..].iter().find(|t| {
                t.steps
                    .iter()
                    .any(|s| s.extract.iter().any(|(v, _)| v == var))
            });
            match later {
                Some(t) => format!(
                    "{var}, which no earlier step extracted (task \"{}\" extracts it, later in this order)",
                    t.name
                ),
                None => format!("{var}, which no earlier step extracted"),
            }
        })
        .collect();
    (!missing.is_empty()).then(|| format!("requires {}", missing.join("; ")))
}

#[cfg(test)]
mod tests;
