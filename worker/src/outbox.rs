//! Reports the master has not acknowledged yet, kept to send again after a reconnect.
//!
//! Bounded: when full, the oldest report is dropped and counted, so a master that stays
//! away for long costs memory proportional to the cap, not to the outage.

use std::collections::VecDeque;

use lv_common::pb;

/// Unacknowledged reports kept at most (at one report per 2 s, ten minutes).
pub const DEFAULT_CAPACITY: usize = 300;

/// The resend buffer and the sequence numbers of the current run.
#[derive(Debug)]
pub struct Outbox {
    run_id: Option<String>,
    next_seq: u64,
    pending: VecDeque<pb::StatsReport>,
    capacity: usize,
    dropped: u64,
}

impl Outbox {
    /// An empty outbox keeping at most `capacity` reports.
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            run_id: None,
            next_seq: 1,
            pending: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// The run whose reports this outbox numbers.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Switches to `run_id`; a different run starts again at sequence 1 with an empty buffer.
    /// Returns how many reports of the old run were discarded.
    pub fn start_run(&mut self, run_id: &str) -> usize {
        if self.run_id.as_deref() == Some(run_id) {
            return 0;
        }
        let discarded = self.pending.len();
        *self = Outbox {
            run_id: Some(run_id.to_owned()),
            ..Outbox::new(self.capacity)
        };
        discarded
    }

    /// The sequence number the next report gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Reports dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Numbers `report`, keeps it until acknowledged, and returns the numbered copy.
    pub fn push(&mut self, mut report: pb::StatsReport) -> pb::StatsReport {
        report.seq = self.next_seq;
        self.next_seq += 1;
        if self.pending.len() == self.capacity {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(report.clone());
        report
    }

    /// Forgets every report of `run_id` up to and including `seq`.
    pub fn ack(&mut self, run_id: &str, seq: u64) {
        if self.run_id.as_deref() != Some(run_id) {
            return;
        }
        while self.pending.front().is_some_and(|r| r.seq <= seq) {
            self.pending.pop_front();
        }
    }

    /// Reports still waiting for an acknowledgement, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &pb::StatsReport> {
        self.pending.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> pb::StatsReport {
        pb::StatsReport {
            run_id: "r1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn numbers_keeps_and_acks() {
        let mut outbox = Outbox::new(10);
        outbox.start_run("r1");
        let seqs: Vec<u64> = (0..4).map(|_| outbox.push(report()).seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        outbox.ack("r1", 2);
        assert_eq!(outbox.pending().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
        outbox.ack("other", 4);
        assert_eq!(outbox.pending().count(), 2);
    }

    #[test]
    fn drops_oldest_when_full_and_counts() {
        let mut outbox = Outbox::new(3);
        outbox.start_run("r1");
        for _ in 0..5 {
            outbox.push(report());
        }
        assert_eq!(
            outbox.pending().map(|r| r.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(outbox.dropped(), 2);
    }

    #[test]
    fn a_new_run_starts_over() {
        let mut outbox = Outbox::new(3);
        outbox.start_run("r1");
        outbox.push(report());
        assert_eq!(outbox.start_run("r1"), 0);
        assert_eq!(outbox.start_run("r2"), 1);
        assert_eq!(outbox.next_seq(), 1);
        assert_eq!(outbox.pending().count(), 0);
    }
}
