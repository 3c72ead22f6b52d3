//! `lv-master try`, the scenario author's debugger, once the plan is resolved as a run's:
//! one user of each class runs once, in process, with the worker's own HTTP client and step
//! code ([`lv_worker::probe`]), against the real target, and what every step sent and got
//! back is printed (`print`).

mod print;

use std::sync::Arc;
use std::time::Duration;

use lv_common::data::{DataGrant, DataTable};
use lv_common::plan::{ClassPlan, StepPlan};
use lv_common::template::UserVars;
use lv_common::tls::TargetTls;
use lv_common::wait::WaitRule;
use lv_worker::data::RunData;
use lv_worker::http::{ClientError, HttpClient};
use lv_worker::probe::{ClassTrace, probe_class};
use rand::SeedableRng as _;

use crate::config::MasterConfig;
use crate::report::conclude::{EXIT_FAILED, EXIT_OK};

/// Connect timeout of the probe's requests (a worker's default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the probe may open at once (its one user sends one request at a time).
const MAX_CONNECTIONS: usize = 16;

/// The tables drawn in order from their first row, whatever the mode.
fn first_rows(tables: &[Arc<DataTable>]) -> RunData {
    let grants: Vec<DataGrant> = tables
        .iter()
        .map(|t| DataGrant {
            source: t.name.clone(),
            rows: std::iter::once(0..t.rows() as u64).collect(),
            cycle_start: 0,
        })
        .collect();
    RunData::new(tables, &grants)
}

/// Why `try` could not probe the target.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// The HTTP client could not be built (its TLS setup).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The async runtime did not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Probes one user of each class of `config`'s plan, trusting HTTPS targets as `tls` says,
/// and prints each class's trace (whole bodies when `verbose`) and a summary line: 0 when
/// every step passed, 1 when one did not. The setup steps run first, as a user named
/// `setup` whose extracted values every class then gets as constants, and the teardown
/// steps last; a failing setup ends the try, as it ends a run. A class that uses test data
/// gets the first row of each of its tables.
pub fn try_plan(config: &MasterConfig, tls: &TargetTls, verbose: bool) -> Result<u8, TryError> {
    let client = HttpClient::with_tls(CONNECT_TIMEOUT, MAX_CONNECTIONS, tls)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let traces = runtime.block_on(probe_all(config, &client, verbose));
    lv_common::outln!("{}", print::summary(&traces));
    let failed = traces.iter().any(|trace| !trace.failures().is_empty());
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

/// Setup, one user of each class, then teardown: each one's trace, printed as it ends.
async fn probe_all(config: &MasterConfig, client: &HttpClient, verbose: bool) -> Vec<ClassTrace> {
    let show = |trace: &ClassTrace| lv_common::outln!("{}\n", print::class_text(trace, verbose));
    let mut traces = Vec::with_capacity(config.plan.classes.len() + 2);
    let mut constants = UserVars::new();
    if !config.hooks.setup.is_empty() {
        let trace = probe_class(
            &hook_class("setup", &config.hooks.setup),
            client,
            UserVars::new(),
        )
        .await;
        show(&trace);
        constants.clone_from(&trace.vars);
        let failed = !trace.failures().is_empty();
        traces.push(trace);
        if failed {
            return traces;
        }
    }
    let plan = config.plan.bind(&constants);
    let data = first_rows(&config.data);
    for class in &plan.classes {
        let mut vars = UserVars::new();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
        if let Ok(rows) = data.draw(&class.data, &mut rng) {
            vars.extend(rows);
        }
        let trace = probe_class(class, client, vars).await;
        show(&trace);
        traces.push(trace);
    }
    if !config.hooks.teardown.is_empty() {
        let trace = probe_class(
            &hook_class("teardown", &config.hooks.teardown),
            client,
            constants,
        )
        .await;
        show(&trace);
        traces.push(trace);
    }
    traces
}

/// Setup or teardown steps as a class whose one user runs them as its `on_start`.
fn hook_class(name: &str, steps: &[StepPlan]) -> ClassPlan {
    ClassPlan {
        name: name.to_owned(),
        weight: 1,
        wait: WaitRule::Constant(0.0),
        on_start: steps.to_vec(),
        tasks: Vec::new(),
        cookies: true,
        data: Vec::new(),
    }
}
