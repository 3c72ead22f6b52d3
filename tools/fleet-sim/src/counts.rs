//! What the simulated fleet received, per agent and per endpoint.
//!
//! Tests compare these numbers with lv's own stats, so every request an agent server receives is
//! counted, whatever the answer (404s and injected failures included), before any simulated
//! latency. One `std::sync::Mutex` guards the table: the critical section is a map update and
//! is never held across an `.await`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// Distinct endpoint keys kept per agent; further unknown paths are counted under [`OTHER_KEY`].
pub const MAX_KEYS_PER_AGENT: usize = 1000;

/// The key that collects requests past [`MAX_KEYS_PER_AGENT`] distinct keys of one agent.
pub const OTHER_KEY: &str = "(other)";

/// A snapshot of the request counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Requests received by all agents together.
    pub total: u64,
    /// Agent name -> `"METHOD /path"` (route pattern, ids as `{id}`, no query) -> requests.
    pub agents: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The live counts, shared by every agent server and the admin server.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    counts: Mutex<Counts>,
}

impl Counter {
    /// Counts one request of `agent` under `key`.
    pub(crate) fn record(&self, agent: &str, key: String) {
        let mut counts = lock(&self.counts);
        counts.total += 1;
        let endpoints = match counts.agents.get_mut(agent) {
            Some(endpoints) => endpoints,
            None => counts.agents.entry(agent.to_string()).or_default(),
        };
        if let Some(n) = endpoints.get_mut(&key) {
            *n += 1;
        } else if endpoints.len() < MAX_KEYS_PER_AGENT {
            endpoints.insert(key, 1);
        } else {
            *endpoints.entry(OTHER_KEY.to_string()).or_default() += 1;
        }
    }

    /// A copy of the counts so far.
    pub(crate) fn snapshot(&self) -> Counts {
        lock(&self.counts).clone()
    }

    /// Forgets every count.
    pub(crate) fn reset(&self) {
        *lock(&self.counts) = Counts::default();
    }
}

/// Locks `mutex`, ignoring poisoning: the tables stay consistent even if a holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_snapshots_and_resets() {
        let counter = Counter::default();
        counter.record("ATLAS", "GET /health".into());
        counter.record("ATLAS", "GET /health".into());
        counter.record("CLIO", "GET /v1/assets".into());
        let counts = counter.snapshot();
        assert_eq!(counts.total, 3);
        assert_eq!(counts.agents["ATLAS"]["GET /health"], 2);
        assert_eq!(counts.agents["CLIO"]["GET /v1/assets"], 1);
        counter.reset();
        assert_eq!(counter.snapshot(), Counts::default());
    }

    #[test]
    fn distinct_keys_are_capped() {
        let counter = Counter::default();
        for i in 0..MAX_KEYS_PER_AGENT + 5 {
            counter.record("HADES", format!("GET /x{i}"));
        }
        let counts = counter.snapshot();
        assert_eq!(counts.total, (MAX_KEYS_PER_AGENT + 5) as u64);
        assert_eq!(counts.agents["HADES"].len(), MAX_KEYS_PER_AGENT + 1);
        assert_eq!(counts.agents["HADES"][OTHER_KEY], 5);
    }
}
