//! The run's test data on the master side: which workers got the tables, and which rows of
//! each `unique` source went to which worker.
//!
//! A user keeps its row for life and a row goes to one user only, so a worker is granted
//! one row for every user it is asked to add, and never gets back the rows of users that
//! left: its grants grow when its quota of the classes that use a source grows, and a lost
//! worker's rows are never handed out again (it may have used them). When fewer rows are
//! left than the workers ask for, the rows left are split in proportion to what they asked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use lv_common::data::{DataGrant, DataMode, DataTable};
use lv_common::pb;
use lv_common::plan::Plan;
use lv_common::quota::ClassUsers;
use lv_common::wire::chunk_to_pb;

/// The test data of one run.
#[derive(Debug, Default)]
pub(super) struct DataLedger {
    tables: Vec<Arc<DataTable>>,
    /// Per source: its mode and the classes that use it.
    uses: BTreeMap<String, (DataMode, Vec<String>)>,
    /// `unique` sources: the rows handed out.
    pools: HashMap<String, Pool>,
    /// `cycle` sources: where the next worker starts, and where each one started.
    cycles: HashMap<String, (u64, HashMap<String, u64>)>,
    /// Workers that were sent the tables in this run.
    sent: HashSet<String>,
}

/// The rows of a `unique` source handed out so far.
#[derive(Debug, Default)]
struct Pool {
    rows: u64,
    /// Rows below this one were handed out.
    next: u64,
    granted: HashMap<String, Granted>,
}

/// What one worker got of a `unique` source.
#[derive(Debug, Default, Clone)]
struct Granted {
    /// Users of the source's classes it was asked to run at its last grant.
    quota: u64,
    rows: Vec<Range<u64>>,
}

impl DataLedger {
    /// The data of a run of `plan` with `tables`; nothing handed out yet.
    pub(super) fn new(plan: &Plan, tables: &[Arc<DataTable>]) -> DataLedger {
        let mut uses: BTreeMap<String, (DataMode, Vec<String>)> = BTreeMap::new();
        for class in &plan.classes {
            for used in &class.data {
                let entry = uses
                    .entry(used.source.clone())
                    .or_insert((used.mode, Vec::new()));
                entry.1.push(class.name.clone());
            }
        }
        let pools = tables
            .iter()
            .filter(|t| uses.get(&t.name).is_some_and(|u| u.0 == DataMode::Unique))
            .map(|t| {
                let pool = Pool {
                    rows: t.rows() as u64,
                    ..Pool::default()
                };
                (t.name.clone(), pool)
            })
            .collect();
        DataLedger {
            tables: tables.to_vec(),
            uses,
            pools,
            cycles: HashMap::new(),
            sent: HashSet::new(),
        }
    }

    /// Grants rows for the workers' new quotas (`(worker id, users per class)`, in member
    /// order).
    pub(super) fn grant(&mut self, quotas: &[(String, ClassUsers)]) {
        for (source, (mode, classes)) in &self.uses {
            let wanted: Vec<(&str, u64)> = quotas
                .iter()
                .map(|(id, users)| {
                    let quota = classes
                        .iter()
                        .map(|c| u64::from(users.get(c).copied().unwrap_or(0)))
                        .sum();
                    (id.as_str(), quota)
                })
                .collect();
            match mode {
                DataMode::Unique => {
                    if let Some(pool) = self.pools.get_mut(source) {
                        pool.grant(&wanted);
                    }
                }
                DataMode::Cycle => {
                    let (next, starts) = self.cycles.entry(source.clone()).or_default();
                    for (id, quota) in wanted {
                        starts.entry(id.to_owned()).or_insert_with(|| {
                            let start = *next;
                            *next += quota;
                            start
                        });
                    }
                }
                DataMode::Random => {}
            }
        }
    }

    /// What `worker` may draw, per source.
    pub(super) fn grants_for(&self, worker: &str) -> Vec<pb::DataGrant> {
        self.uses
            .keys()
            .map(|source| {
                let rows = self
                    .pools
                    .get(source)
                    .and_then(|p| p.granted.get(worker))
                    .map(|g| g.rows.clone())
                    .unwrap_or_default();
                let cycle_start = self
                    .cycles
                    .get(source)
                    .and_then(|(_, starts)| starts.get(worker).copied())
                    .unwrap_or(0);
                pb::DataGrant::from(&DataGrant {
                    source: source.clone(),
                    rows,
                    cycle_start,
                })
            })
            .collect()
    }

    /// The tables' chunks for `worker` of run `run_id`, the first time only.
    pub(super) fn chunks_for(&mut self, worker: &str, run_id: &str) -> Vec<pb::DataChunk> {
        if self.tables.is_empty() || !self.sent.insert(worker.to_owned()) {
            return Vec::new();
        }
        self.tables
            .iter()
            .flat_map(|t| t.chunks())
            .map(|c| chunk_to_pb(run_id, c))
            .collect()
    }

    /// Sends `worker` the tables again before its next assignment (it reconnected).
    pub(super) fn forget(&mut self, worker: &str) {
        self.sent.remove(worker);
    }

    /// Rows of `source` handed out so far, over all workers.
    #[cfg(test)]
    fn handed_out(&self, source: &str) -> u64 {
        self.pools.get(source).map_or(0, |p| p.next)
    }
}

impl Pool {
    /// Grants each worker a row per user it gained since its last grant.
    fn grant(&mut self, wanted: &[(&str, u64)]) {
        let needs: Vec<u64> = wanted
            .iter()
            .map(|(id, quota)| {
                let had = self.granted.get(*id).map_or(0, |g| g.quota);
                quota.saturating_sub(had)
            })
            .collect();
        let shares = share(&needs, self.rows - self.next);
        for ((id, quota), count) in wanted.iter().zip(shares) {
            let granted = self.granted.entry((*id).to_owned()).or_default();
            granted.quota = *quota;
            if count == 0 {
                continue;
            }
            let range = self.next..self.next + count;
            self.next = range.end;
            match granted.rows.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => granted.rows.push(range),
            }
        }
    }
}

/// `needs` as asked when `available` covers them; else `available` split in proportion
/// to them (largest remainders first, earlier ones on ties).
fn share(needs: &[u64], available: u64) -> Vec<u64> {
    let total: u64 = needs.iter().sum();
    if total <= available {
        return needs.to_vec();
    }
    let exact: Vec<(u64, u64)> = needs
        .iter()
        .map(|&n| {
            let scaled = u128::from(n) * u128::from(available);
            let total = u128::from(total);
            // Below `n`, so it fits.
            ((scaled / total) as u64, (scaled % total) as u64)
        })
        .collect();
    let mut shares: Vec<u64> = exact.iter().map(|e| e.0).collect();
    let mut left = available - shares.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..needs.len()).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

#[cfg(test)]
mod tests;
