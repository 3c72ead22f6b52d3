//! Open-model runs on the master: the shared schedule, each worker's stripe, and the
//! arrivals a lost worker owed.
//!
//! The schedule starts [`LEAD`] after the first assignment, so every worker has its stripe
//! before the first arrival. When the members change, every member gets a new stripe from
//! the first arrival due [`LEAD`] from now (k0): arrivals below k0 stay with the stripes that
//! owned them. A worker that is no longer a member owed every arrival of its stripes below
//! k0; those it never reported as scheduled are counted as `lost`.

use std::collections::BTreeMap;
use std::time::Duration;

use lv_common::load::{ArrivalKind, LoadShape, Schedule, Stripe, StripeArrivals};
use lv_common::wire::OpenLoad;
use tokio::time::Instant;

/// Time between sending stripes and the first arrival they cover.
pub(super) const LEAD: Duration = Duration::from_millis(500);
/// Time after the last planned arrival before the master stops the workers, so the last
/// arrivals fire before the Stop arrives.
pub(super) const END_MARGIN: Duration = Duration::from_secs(1);

/// One worker's stripes so far.
#[derive(Debug, Clone, Copy)]
struct Owed {
    /// Its current stripe.
    stripe: Stripe,
    /// Arrivals its earlier stripes owned.
    before: u64,
}

/// The master's view of an open-model run.
#[derive(Debug)]
pub(super) struct OpenRun {
    shape: LoadShape,
    schedule: Schedule,
    seed: u64,
    /// The schedule's start, on tokio's clock and in Unix ms.
    start: Instant,
    start_unix_ms: i64,
    stripes: BTreeMap<String, Owed>,
    /// Arrivals owed by lost workers that they never reported as scheduled.
    lost: u64,
}

impl OpenRun {
    /// A run of `shape` whose schedule starts at `start` (`start_unix_ms` on the wall clock).
    pub(super) fn new(shape: &LoadShape, start: Instant, start_unix_ms: i64) -> OpenRun {
        OpenRun {
            schedule: shape.schedule(),
            seed: shape.seed.unwrap_or(0),
            shape: shape.clone(),
            start,
            start_unix_ms,
            stripes: BTreeMap::new(),
            lost: 0,
        }
    }

    /// The schedule's start instant.
    pub(super) fn start(&self) -> Instant {
        self.start
    }

    /// The planned arrival rate at `now`, arrivals per second.
    pub(super) fn rate_at(&self, now: Instant) -> f64 {
        self.schedule
            .rate_at(now.saturating_duration_since(self.start))
    }

    /// Arrivals owed by lost workers that no worker fired.
    pub(super) fn lost(&self) -> u64 {
        self.lost
    }

    /// Arrivals planned over the whole schedule (uniform arrivals; a Poisson run's count
    /// is replayed from the seed).
    pub(super) fn planned(&self) -> u64 {
        match self.shape.arrivals {
            ArrivalKind::Uniform => self.schedule.total(),
            ArrivalKind::Poisson => self.arrivals().count() as u64,
        }
    }

    fn arrivals(&self) -> StripeArrivals<'_> {
        StripeArrivals::new(&self.schedule, self.shape.arrivals, self.seed, Stripe::ALL)
    }

    /// The first global arrival due at or after `at`.
    pub(super) fn first_due_at(&self, at: Instant) -> u64 {
        let offset = at.saturating_duration_since(self.start);
        match self.shape.arrivals {
            ArrivalKind::Uniform => {
                let level = self.schedule.level_at(offset).floor();
                // Saturating float-to-int conversion; the clamp keeps it within the run.
                (level as u64).min(self.schedule.total())
            }
            ArrivalKind::Poisson => {
                let mut count = 0;
                for (k, due) in self.arrivals() {
                    if due >= offset {
                        return k;
                    }
                    count = k + 1;
                }
                count
            }
        }
    }

    /// Gives each of `members` a stripe from `k0` (in their order); workers no longer
    /// members leave, their unreported arrivals below `k0` counted as lost.
    /// `scheduled(id)` is what a worker reported as scheduled so far.
    pub(super) fn restripe(
        &mut self,
        members: &[String],
        k0: u64,
        scheduled: impl Fn(&str) -> u64,
    ) {
        let gone: Vec<String> = self
            .stripes
            .keys()
            .filter(|id| !members.contains(id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(owed) = self.stripes.remove(&id) {
                let total = owed.before + owed.stripe.count_in(owed.stripe.from, k0);
                self.lost += total.saturating_sub(scheduled(&id));
            }
        }
        let workers = u32::try_from(members.len()).unwrap_or(u32::MAX).max(1);
        for (index, id) in (0..workers).zip(members) {
            let stripe = Stripe {
                workers,
                index,
                from: k0,
            };
            let before = self
                .stripes
                .get(id)
                .map_or(0, |o| o.before + o.stripe.count_in(o.stripe.from, k0));
            self.stripes.insert(id.clone(), Owed { stripe, before });
        }
    }

    /// Gives each of `members` a stripe from the first arrival due [`LEAD`] after `now`
    /// (from the first arrival before the schedule starts), as [`OpenRun::restripe`]
    /// does; returns that arrival.
    pub(super) fn restripe_now(
        &mut self,
        now: Instant,
        members: &[String],
        scheduled: impl Fn(&str) -> u64,
    ) -> u64 {
        let k0 = if now < self.start {
            0
        } else {
            self.first_due_at(now + LEAD)
        };
        self.restripe(members, k0, scheduled);
        k0
    }

    /// Why the in-flight cap cannot be kept over `workers` workers, if it cannot.
    pub(super) fn cap_note(&self, workers: usize) -> Option<String> {
        cap_note(self.shape.max_in_flight, workers)
    }

    /// What `worker_id` is sent, if it has a stripe.
    pub(super) fn load_for(&self, worker_id: &str) -> Option<OpenLoad> {
        let owed = self.stripes.get(worker_id)?;
        let stripe = owed.stripe;
        Some(OpenLoad {
            stages: self.shape.stages.clone(),
            start_rate: self.shape.start,
            start_unix_ms: self.start_unix_ms,
            stripe,
            arrivals: self.shape.arrivals,
            seed: self.seed,
            max_in_flight: self
                .shape
                .max_in_flight
                .map(|cap| share(cap, stripe.workers, stripe.index)),
            on_saturation: self.shape.on_saturation,
        })
    }
}

/// Why `cap` iterations in flight cannot be kept over `workers`, if they cannot: each
/// worker keeps at least one in flight, so with fewer than one each, up to `workers` run.
fn cap_note(cap: Option<u32>, workers: usize) -> Option<String> {
    let cap = cap?;
    (usize::try_from(cap).is_ok_and(|cap| cap < workers)).then(|| {
        format!(
            "max_in_flight {cap} is below the {workers} workers: each keeps at least one \
             iteration in flight, so up to {workers} run at once"
        )
    })
}

/// Worker `index`'s part of a cap of `cap` over `workers` (exact, each at least 1).
fn share(cap: u32, workers: u32, index: u32) -> u32 {
    let workers = workers.max(1);
    (cap / workers + u32::from(index < cap % workers)).max(1)
}

#[cfg(test)]
mod tests {
    use lv_common::load::LoadShape;

    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn caps_split_exactly() {
        let shares: Vec<u32> = (0..3).map(|i| share(20, 3, i)).collect();
        assert_eq!(shares, vec![7, 7, 6]);
        assert_eq!(share(2, 3, 2), 1, "never 0");
    }

    #[test]
    fn a_cap_below_the_workers_is_named() {
        assert_eq!(
            cap_note(Some(1), 2).as_deref(),
            Some(
                "max_in_flight 1 is below the 2 workers: each keeps at least one iteration \
                 in flight, so up to 2 run at once"
            )
        );
        assert_eq!(cap_note(Some(2), 2), None);
        assert_eq!(cap_note(None, 5), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_worker_owes_its_unreported_arrivals() {
        let shape = LoadShape::constant_rate(100.0, Duration::from_secs(4));
        let start = Instant::now();
        let mut run = OpenRun::new(&shape, start, 0);
        assert_eq!(run.planned(), 400);
        run.restripe(&ids(&["a", "b", "c"]), 0, |_| 0);
        let c = run.load_for("c").expect("striped");
        assert_eq!((c.stripe.workers, c.stripe.index, c.stripe.from), (3, 2, 0));
        // At 1.5 s the next arrival due is 150 (due at 1.51 s).
        let k0 = run.first_due_at(start + Duration::from_millis(1505));
        assert_eq!(k0, 150);
        // c reported 30 of the 50 arrivals of its stripe below 150.
        run.restripe(&ids(&["a", "b"]), k0, |id| if id == "c" { 30 } else { 50 });
        assert_eq!(run.lost(), 20);
        assert!(run.load_for("c").is_none());
        let b = run.load_for("b").expect("striped");
        assert_eq!(
            (b.stripe.workers, b.stripe.index, b.stripe.from),
            (2, 1, 150)
        );
        // A later loss counts both of b's stripes: 50 below 150, then 10 of 150..170.
        run.restripe(&ids(&["a"]), 170, |id| if id == "b" { 55 } else { 0 });
        assert_eq!(run.lost(), 20 + 5);
        assert_eq!(run.first_due_at(start + Duration::from_secs(9)), 400);
    }

    #[tokio::test(start_paused = true)]
    async fn poisson_k0_is_replayed_from_the_seed() {
        let mut shape = LoadShape::constant_rate(50.0, Duration::from_secs(2));
        shape.arrivals = ArrivalKind::Poisson;
        shape.seed = Some(5);
        let start = Instant::now();
        let run = OpenRun::new(&shape, start, 0);
        let planned = run.planned();
        assert!((50..=150).contains(&planned), "{planned}");
        assert_eq!(run.first_due_at(start), 0);
        assert_eq!(run.first_due_at(start + Duration::from_secs(3)), planned);
        let mid = run.first_due_at(start + Duration::from_secs(1));
        assert!(mid > 0 && mid < planned, "{mid} of {planned}");
    }
}
