//! The capacity search as a pure state machine: [`Search::next_step`] says which load to hold
//! next, [`Search::record`] takes how that step ended. No clock, no I/O, so every path is
//! unit-tested.
//!
//! A geometric climb from `start` by `factor` (never above `max`); after the first failing
//! step, bisection between the highest passing and the lowest failing load (arithmetic
//! midpoint) until (fail − pass) / pass ≤ `precision`; then the answer is held once more to
//! confirm it. A failed confirmation makes it the lowest failing load and the bisection
//! goes on below it; the next answer is then reported unconfirmed. A step the generator
//! limited ends the search at once: its load says nothing about the target.

use serde::Serialize;

/// How the search climbs and when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchParams {
    /// The first load held.
    pub start: f64,
    /// Each climbing step holds the last passing load times this (> 1).
    pub factor: f64,
    /// Bisection stops once (fail − pass) / pass is at most this (> 0).
    pub precision: f64,
    /// No step holds more than this.
    pub max: f64,
    /// Loads are whole numbers (users, in the closed model).
    pub whole: bool,
}

impl SearchParams {
    /// The most steps a search can take when its confirmation passes: the climb, the
    /// bisection when every bisecting step fails, and the confirmation.
    pub fn worst_case_steps(&self) -> u32 {
        self.climb_steps() + self.bisect_steps() + 1
    }

    /// Climbing steps at most: `start`, then ×`factor` up to `max`:
    /// ceil(log_factor(max / start)) + 1.
    pub fn climb_steps(&self) -> u32 {
        let ratio = (self.max / self.start).max(1.0);
        // A hair of slack so an exact power (max = start × factor^n) counts n, not n + 1.
        let climbs = (ratio.ln() / self.factor.ln() - 1e-9).ceil().max(0.0);
        climbs as u32 + 1
    }

    /// Bisecting steps at most, when each fails: ceil(log2((factor − 1) / precision)).
    pub fn bisect_steps(&self) -> u32 {
        ((self.factor - 1.0) / self.precision)
            .log2()
            .ceil()
            .max(0.0) as u32
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every SLO rule held.
    Pass,
    /// A rule failed (or the step was stopped early, plainly failing).
    Fail,
    /// lv's workers, not the target, were the bottleneck.
    GeneratorLimited,
}

/// What the search asks for next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Hold this load; `confirm` marks the confirmation of the answer.
    Hold {
        /// Arrivals per second (open model) or users (closed).
        load: f64,
        /// The step confirms the answer (held for `--confirm`).
        confirm: bool,
    },
    /// The search is over.
    Done(Conclusion),
}

/// The answer of a finished search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conclusion {
    /// The highest load that passed; `failed_at` is the lowest that failed.
    Capacity {
        /// The capacity.
        load: f64,
        /// Held once more, and it passed again.
        confirmed: bool,
        /// The lowest failing load.
        failed_at: f64,
    },
    /// `max` passed: the capacity is at least that.
    AtLeastMax {
        /// `--max`.
        load: f64,
    },
    /// The generator limited the step at `at`; the target held `at_least` (the highest
    /// passing load, 0 when none passed).
    GeneratorLimited {
        /// The highest passing load.
        at_least: f64,
        /// The load the generator could not deliver.
        at: f64,
    },
    /// Even `start` failed.
    BelowStart {
        /// `--start`.
        start: f64,
    },
}

impl Conclusion {
    /// The load the conclusion vouches for (0 when none passed): what `--require` checks.
    pub fn load(&self) -> f64 {
        match *self {
            Conclusion::Capacity { load, .. } | Conclusion::AtLeastMax { load } => load,
            Conclusion::GeneratorLimited { at_least, .. } => at_least,
            Conclusion::BelowStart { .. } => 0.0,
        }
    }
}

/// The search's state.
#[derive(Debug, Clone)]
pub struct Search {
    params: SearchParams,
    /// Loads that passed and were not disproved by a failed confirmation, ascending.
    passes: Vec<f64>,
    /// The lowest failing load.
    fail: Option<f64>,
    /// A confirmation failed already: the next answer is reported unconfirmed.
    confirm_failed: bool,
    /// The step asked for and not yet recorded.
    pending: Option<Next>,
    done: Option<Conclusion>,
}

impl Search {
    /// A search with checked `params` (start > 0, factor > 1, precision > 0, max ≥ start).
    pub fn new(params: SearchParams) -> Search {
        Search {
            params,
            passes: Vec::new(),
            fail: None,
            confirm_failed: false,
            pending: None,
            done: None,
        }
    }

    /// The next step, or the conclusion. Asking again before [`Search::record`] repeats it.
    pub fn next_step(&mut self) -> Next {
        if let Some(done) = self.done {
            return Next::Done(done);
        }
        if let Some(pending) = self.pending {
            return pending;
        }
        let next = self.decide();
        match next {
            Next::Done(done) => self.done = Some(done),
            Next::Hold { .. } => self.pending = Some(next),
        }
        next
    }

    /// How the step [`Search::next_step`] asked for ended (ignored when none is pending).
    pub fn record(&mut self, outcome: Outcome) {
        let Some(Next::Hold { load, confirm }) = self.pending.take() else {
            return;
        };
        match outcome {
            Outcome::GeneratorLimited => {
                self.done = Some(Conclusion::GeneratorLimited {
                    at_least: self.pass().unwrap_or(0.0),
                    at: load,
                });
            }
            Outcome::Pass if confirm => {
                self.done = Some(Conclusion::Capacity {
                    load,
                    confirmed: true,
                    failed_at: self.fail.unwrap_or(load),
                });
            }
            Outcome::Pass => {
                self.passes.push(load);
                self.passes.sort_by(f64::total_cmp);
            }
            Outcome::Fail => {
                if confirm {
                    self.confirm_failed = true;
                    self.passes.retain(|&p| p < load);
                }
                self.fail = Some(self.fail.map_or(load, |f| f.min(load)));
            }
        }
    }

    /// The highest load that passed (and was not disproved).
    fn pass(&self) -> Option<f64> {
        self.passes.last().copied()
    }

    fn decide(&self) -> Next {
        let p = &self.params;
        let hold = |load| Next::Hold {
            load,
            confirm: false,
        };
        let (pass, fail) = match (self.pass(), self.fail) {
            (None, None) => return hold(p.start),
            (Some(pass), None) if pass >= p.max => {
                return Next::Done(Conclusion::AtLeastMax { load: pass });
            }
            (Some(pass), None) => return hold(self.climb(pass)),
            (None, Some(_)) => return Next::Done(Conclusion::BelowStart { start: p.start }),
            (Some(pass), Some(fail)) => (pass, fail),
        };
        let mid = self.round((pass + fail) / 2.0);
        let narrow = (fail - pass) / pass <= p.precision || mid <= pass || mid >= fail;
        if !narrow {
            return hold(mid);
        }
        if self.confirm_failed {
            return Next::Done(Conclusion::Capacity {
                load: pass,
                confirmed: false,
                failed_at: fail,
            });
        }
        Next::Hold {
            load: pass,
            confirm: true,
        }
    }

    /// The climbing step after `pass`: × factor, at least one more when whole, at most max.
    fn climb(&self, pass: f64) -> f64 {
        let p = &self.params;
        let up = pass * p.factor;
        let up = if p.whole {
            up.ceil().max(pass + 1.0)
        } else {
            up
        };
        up.min(p.max)
    }

    fn round(&self, load: f64) -> f64 {
        if self.params.whole {
            load.floor()
        } else {
            load
        }
    }
}

#[cfg(test)]
mod tests;
