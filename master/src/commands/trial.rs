//! `lv-master try`, the scenario author's debugger, once the plan is resolved as a run's:
//! one user of each class runs once, in process, with the worker's own HTTP client and step
//! code ([`lv_worker::probe`]), against the real target, and what every step sent and got
//! back is printed (`print`).

mod print;

use std::sync::Arc;
use std::time::Duration;

use lv_common::data::{DataGrant, DataTable};
use lv_common::plan::Plan;
use lv_common::template::UserVars;
use lv_common::tls::TargetTls;
use lv_worker::data::RunData;
use lv_worker::http::{ClientError, HttpClient};
use lv_worker::probe::{ClassTrace, probe_class};
use rand::SeedableRng as _;

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

/// Probes one user of each class of `plan`, trusting HTTPS targets as `tls` says, and
/// prints each class's trace (whole bodies when `verbose`) and a summary line: 0 when every
/// step passed, 1 when one did not. A class that uses test data gets the first row of each
/// of its `tables`.
pub fn try_plan(
    plan: &Plan,
    tables: &[Arc<DataTable>],
    tls: &TargetTls,
    verbose: bool,
) -> Result<u8, TryError> {
    let data = first_rows(tables);
    let client = HttpClient::with_tls(CONNECT_TIMEOUT, MAX_CONNECTIONS, tls)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let traces: Vec<ClassTrace> = runtime.block_on(async {
        let mut traces = Vec::with_capacity(plan.classes.len());
        for class in &plan.classes {
            let mut vars = UserVars::new();
            let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
            if let Ok(rows) = data.draw(&class.data, &mut rng) {
                vars.extend(rows);
            }
            let trace = probe_class(class, &client, vars).await;
            lv_common::outln!("{}\n", print::class_text(&trace, verbose));
            traces.push(trace);
        }
        traces
    });
    lv_common::outln!("{}", print::summary(&traces));
    let failed = traces.iter().any(|trace| !trace.failures().is_empty());
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}
