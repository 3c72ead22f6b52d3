//! Test data on a worker: the tables of the current run as they arrive from the master
//! ([`DataInbox`]), and the rows its users draw ([`RunData`]) by the modes and grants of the
//! Assignment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lv_common::data::{DataChunk, DataGrant, DataMode, DataTable, DataUse, TableBuilder};
use lv_common::plan::Plan;
use rand::Rng;
use serde_json::Value;

/// The data tables of one run, assembled from the master's chunks.
#[derive(Debug, Default)]
pub struct DataInbox {
    run_id: String,
    building: HashMap<String, TableBuilder>,
    tables: HashMap<String, Arc<DataTable>>,
}

impl DataInbox {
    /// Adds a chunk of `run_id`'s data; a new run's first chunk drops the old run's tables.
    pub fn add(&mut self, run_id: String, chunk: DataChunk) -> Result<(), String> {
        if run_id != self.run_id {
            *self = DataInbox {
                run_id,
                ..DataInbox::default()
            };
        }
        let source = chunk.source.clone();
        if let Some(table) = self
            .building
            .entry(source.clone())
            .or_default()
            .add(chunk)?
        {
            self.building.remove(&source);
            self.tables.insert(source, Arc::new(table));
        }
        Ok(())
    }

    /// The tables `plan` uses, when every one of them arrived for `run_id`.
    pub fn tables_for(&self, run_id: &str, plan: &Plan) -> Result<Vec<Arc<DataTable>>, String> {
        let mut wanted: Vec<&str> = plan
            .classes
            .iter()
            .flat_map(|c| c.data.iter().map(|u| u.source.as_str()))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
            .into_iter()
            .map(|name| {
                self.tables
                    .get(name)
                    .filter(|_| self.run_id == run_id)
                    .cloned()
                    .ok_or_else(|| format!("test data {name} of run {run_id} did not arrive whole"))
            })
            .collect()
    }
}

/// Why a user could not get its row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// Every unique row this worker was given is taken.
    #[error(
        "test data {0}: no row left for a new user (unique mode gives every row to one user only)"
    )]
    Exhausted(String),
    /// The plan names a source the run has no table of.
    #[error("test data {0}: no such table in this run")]
    Missing(String),
}

/// The rows a run's users draw from, per source.
#[derive(Debug, Default)]
pub struct RunData {
    sources: HashMap<String, Source>,
}

#[derive(Debug)]
struct Source {
    table: Arc<DataTable>,
    draws: Mutex<Draws>,
}

/// Where the next draw of a source comes from.
#[derive(Debug, Default)]
struct Draws {
    /// Unique mode: the granted rows (increasing, disjoint ranges).
    granted: Vec<std::ops::Range<u64>>,
    /// Unique mode: the lowest row that may still be handed out.
    next_unique: u64,
    /// Cycle mode: the next row.
    next_cycle: u64,
    /// Cycle mode: whether a user drew already (a later grant does not move the cycle).
    started: bool,
}

impl RunData {
    /// The run's data: `tables` with the first `grants`.
    pub fn new(tables: &[Arc<DataTable>], grants: &[DataGrant]) -> RunData {
        let data = RunData {
            sources: tables
                .iter()
                .map(|t| {
                    let source = Source {
                        table: Arc::clone(t),
                        draws: Mutex::default(),
                    };
                    (t.name.clone(), source)
                })
                .collect(),
        };
        data.update(grants);
        data
    }

    /// Takes a later generation's grants: more unique rows (never fewer).
    pub fn update(&self, grants: &[DataGrant]) {
        for grant in grants {
            if let Some(source) = self.sources.get(&grant.source) {
                let mut draws = source.draws.lock().unwrap_or_else(PoisonError::into_inner);
                draws.granted.clone_from(&grant.rows);
                if !draws.started {
                    draws.next_cycle = grant.cycle_start;
                }
            }
        }
    }

    /// A row of every source in `uses` for a new user, as template variables
    /// (`accounts.email`).
    pub fn draw(
        &self,
        uses: &[DataUse],
        rng: &mut impl Rng,
    ) -> Result<Vec<(String, Value)>, DrawError> {
        let mut vars = Vec::new();
        for data in uses {
            let source = self
                .sources
                .get(&data.source)
                .ok_or_else(|| DrawError::Missing(data.source.clone()))?;
            let row = source.row(data.mode, rng)?;
            vars.extend(source.table.row_values(row));
        }
        Ok(vars)
    }
}

impl Source {
    fn row(&self, mode: DataMode, rng: &mut impl Rng) -> Result<usize, DrawError> {
        let rows = self.table.rows() as u64;
        let mut draws = self.draws.lock().unwrap_or_else(PoisonError::into_inner);
        let row = match mode {
            DataMode::Random => rng.random_range(0..rows.max(1)),
            DataMode::Cycle => {
                draws.started = true;
                let row = draws.next_cycle % rows.max(1);
                draws.next_cycle = row + 1;
                row
            }
            DataMode::Unique => {
                let next = draws.next_unique;
                let row = draws
                    .granted
                    .iter()
                    .find(|r| r.end > next && r.start < r.end)
                    .map(|r| r.start.max(next))
                    .filter(|&row| row < rows)
                    .ok_or_else(|| DrawError::Exhausted(self.table.name.clone()))?;
                draws.next_unique = row + 1;
                row
            }
        };
        Ok(usize::try_from(row).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests;
