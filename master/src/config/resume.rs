//! `--resume FILE`: the checkpoint a new master continues a run from, read and checked
//! before anything connects. The run must be the same one: a headless closed-model run of
//! the same resolved plan (scenarios, classes, tags, host and `-i`). Anything else is refused
//! with the reason (exit code 2).

use std::path::Path;
use std::sync::Arc;

use lv_common::plan::Plan;

use super::error::ConfigError;
use crate::aggregate::RunStats;
use crate::report::summary::{ResumeState, Summary, read_json, run_stats_from};

/// A checkpoint to resume: its report and its run control state.
pub struct Checkpoint {
    /// The report as of the checkpoint (stats, history, workers, below-target periods).
    pub summary: Summary,
    /// Run control state (sequence numbers, generation, stage clock).
    pub state: ResumeState,
}

impl Checkpoint {
    /// The merged stats of the checkpoint (checked when it was loaded).
    pub fn stats(&self) -> Result<RunStats, String> {
        run_stats_from(&self.summary)
    }
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("run_id", &self.summary.run_id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A stable fingerprint of a resolved plan's JSON ([`Plan::to_json`]): FNV-1a in hex,
/// equal for equal plans.
pub fn fingerprint(plan_json: &[u8]) -> String {
    let hash = plan_json
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{hash:016x}")
}

/// True when `path` may hold a run to resume: it exists and is not a finished run's report
/// (a file that cannot be read as a report counts, so that [`load`] says what is wrong).
pub(crate) fn unfinished(path: &Path) -> bool {
    match read_json(path) {
        Ok(summary) => summary.checkpoint,
        Err(_) => path.exists(),
    }
}

/// Reads the checkpoint at `path` and checks that it continues a run of `plan`.
pub(crate) fn load(path: &Path, plan: &Plan, open: bool) -> Result<Arc<Checkpoint>, ConfigError> {
    let invalid = |detail: String| ConfigError::InvalidOption {
        option: "--resume",
        detail: format!("{}: {detail}", path.display()),
    };
    if open {
        return Err(invalid(
            "an open-model run (--rate or an open --shape) cannot be resumed; \
             resume works for closed-model runs"
                .into(),
        ));
    }
    let mut summary = read_json(path).map_err(&invalid)?;
    if !summary.checkpoint {
        return Err(invalid(
            "is the report of a finished run, not a checkpoint; there is nothing to resume".into(),
        ));
    }
    if summary.open.is_some() {
        return Err(invalid(
            "is the checkpoint of an open-model run, which cannot be resumed".into(),
        ));
    }
    let state = summary.resume.take().ok_or_else(|| {
        invalid("has no resume state (written by an older lv-master); it cannot be resumed".into())
    })?;
    let expected = fingerprint(&plan.to_json());
    if state.plan_fingerprint != expected {
        return Err(invalid(format!(
            "was written for another plan (fingerprint {}, this one {expected}): resume with \
             the flags the run started with (scenarios, user classes, tags, host, -i)",
            state.plan_fingerprint
        )));
    }
    run_stats_from(&summary).map_err(&invalid)?;
    Ok(Arc::new(Checkpoint { summary, state }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str]) -> Plan {
        Plan {
            classes: names
                .iter()
                .map(|name| lv_common::plan::ClassPlan {
                    name: (*name).to_owned(),
                    weight: 1,
                    wait: lv_common::wait::WaitRule::Constant(1.0),
                    on_start: Vec::new(),
                    tasks: Vec::new(),
                    cookies: true,
                    data: Vec::new(),
                })
                .collect(),
            connection_per_user: false,
            iterations: None,
        }
    }

    #[test]
    fn fingerprints_tell_plans_apart() {
        let of = |names: &[&str]| fingerprint(&plan(names).to_json());
        assert_eq!(of(&["A"]), of(&["A"]));
        assert_ne!(of(&["A"]), of(&["B"]));
        assert_eq!(of(&["A"]).len(), 16);
    }

    #[test]
    fn what_cannot_be_resumed_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.json");
        let err = load(&missing, &plan(&["A"]), false).expect_err("missing");
        assert!(err.to_string().contains("none.json: cannot read"), "{err}");
        let err = load(&missing, &plan(&["A"]), true).expect_err("open");
        assert!(err.to_string().contains("open-model"), "{err}");
        let junk = dir.path().join("junk.json");
        std::fs::write(&junk, "{").expect("write");
        let err = load(&junk, &plan(&["A"]), false).expect_err("junk");
        assert!(
            err.to_string().contains("is not an lv JSON report"),
            "{err}"
        );
    }
}
