//! Whether lv itself held a run's numbers back: the warnings that say the generator limited
//! the run, whatever the cause (open-model arrivals it could not start or started late, a
//! worker out of CPU, a worker's runtime late to run its tasks), as data for tools and as
//! the one sentence the verdict and every report carry.

use serde::{Deserialize, Serialize};

/// The sentence a run the generator limited carries (the verdict, the console, the HTML
/// report and the web UI), followed by its causes.
pub const GENERATOR_LIMITED: &str =
    "the generator limited this run; its latencies include its own delay";

/// Causes named in the sentence at most; the rest are counted.
const NOTE_CAUSES: usize = 4;

/// Why the generator limited a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorCause {
    /// Open model: arrivals dropped at the in-flight cap.
    ArrivalsDropped,
    /// Open model: the schedule lag's p99 above its limit.
    ScheduleLag,
    /// A worker's CPU above its limit for a sustained period.
    WorkerCpu,
    /// A worker's scheduling delay above its limit for a sustained period.
    WorkerSchedDelay,
}

/// One reason the generator limited the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorWarning {
    /// What held the run back.
    pub cause: GeneratorCause,
    /// The worker it happened on (worker causes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// When it began, Unix ms (worker causes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_unix_ms: Option<i64>,
    /// When it was last seen, Unix ms (worker causes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_unix_ms: Option<i64>,
    /// What was measured, in words.
    pub detail: String,
}

impl GeneratorWarning {
    /// A warning of the whole run, with no worker or period.
    pub fn run_wide(cause: GeneratorCause, detail: String) -> GeneratorWarning {
        GeneratorWarning {
            cause,
            worker_id: None,
            from_unix_ms: None,
            to_unix_ms: None,
            detail,
        }
    }

    /// Whether it concerns the period from `from_ms` to `to_ms` (Unix ms): a run-wide one
    /// always does, a worker's when the two periods overlap.
    pub fn overlaps(&self, from_ms: i64, to_ms: i64) -> bool {
        match (self.from_unix_ms, self.to_unix_ms) {
            (Some(from), Some(to)) => from < to_ms && to > from_ms,
            _ => true,
        }
    }
}

/// The sentence saying the generator limited the run, with its causes; `None` without
/// warnings.
pub fn limit_note(warnings: &[GeneratorWarning]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let mut why: Vec<&str> = warnings
        .iter()
        .take(NOTE_CAUSES)
        .map(|w| w.detail.as_str())
        .collect();
    let more = warnings.len().saturating_sub(NOTE_CAUSES);
    let more_text = format!("and {more} more");
    if more > 0 {
        why.push(&more_text);
    }
    Some(format!("{GENERATOR_LIMITED} ({})", why.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, from: i64, to: i64) -> GeneratorWarning {
        GeneratorWarning {
            cause: GeneratorCause::WorkerCpu,
            worker_id: Some(id.into()),
            from_unix_ms: Some(from),
            to_unix_ms: Some(to),
            detail: format!("worker {id} above 90% CPU"),
        }
    }

    #[test]
    fn no_warning_no_note() {
        assert_eq!(limit_note(&[]), None);
    }

    #[test]
    fn the_note_names_the_causes_and_counts_the_rest() {
        let dropped = GeneratorWarning::run_wide(
            GeneratorCause::ArrivalsDropped,
            "7 arrivals dropped at the in-flight cap".into(),
        );
        let note = limit_note(&[dropped.clone(), worker("w1", 0, 10)]).expect("a note");
        assert_eq!(
            note,
            "the generator limited this run; its latencies include its own delay \
             (7 arrivals dropped at the in-flight cap; worker w1 above 90% CPU)"
        );
        let many: Vec<GeneratorWarning> = (0..6).map(|i| worker(&format!("w{i}"), 0, 1)).collect();
        let note = limit_note(&many).expect("a note");
        assert!(
            note.contains("worker w3 above") && !note.contains("w4"),
            "{note}"
        );
        assert!(note.ends_with("; and 2 more)"), "{note}");
    }

    #[test]
    fn worker_warnings_concern_the_periods_they_overlap() {
        let w = worker("w1", 1_000, 5_000);
        assert!(w.overlaps(0, 2_000) && w.overlaps(4_000, 9_000) && w.overlaps(0, 9_000));
        assert!(!w.overlaps(5_000, 9_000) && !w.overlaps(0, 1_000));
        let run = GeneratorWarning::run_wide(GeneratorCause::ScheduleLag, "lag".into());
        assert!(run.overlaps(7, 8));
    }

    #[test]
    fn causes_are_snake_case_in_json() {
        let json = serde_json::to_value(worker("w1", 1, 2)).expect("json");
        assert_eq!(json["cause"], "worker_cpu");
        assert_eq!(json["worker_id"], "w1");
        let run = GeneratorWarning::run_wide(GeneratorCause::ScheduleLag, "lag".into());
        let json = serde_json::to_value(run).expect("json");
        assert_eq!(json["cause"], "schedule_lag");
        assert!(json.get("worker_id").is_none());
    }
}
