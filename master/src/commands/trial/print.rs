//! `lv-master try`'s output, for a terminal: per class, each task and step with the request
//! (`>` lines), the response (`<` lines), each check and extraction (`✓`/`✗`) and the
//! step's verdict (`=>`), then one summary line. Pure.

use std::fmt::Write as _;

use lv_worker::probe::{
    Answer, CheckTrace, ClassTrace, Extraction, Found, ResponseTrace, StepTrace, TaskTrace, Verdict,
};
use serde_json::Value;

/// Body bytes shown without `--verbose`.
pub(super) const EXCERPT_BYTES: usize = 512;
/// Characters of a checked or extracted value shown without `--verbose`.
const VALUE_CHARS: usize = 200;

/// The text of one class's trace (without a final newline); `verbose` shows whole bodies.
pub(super) fn class_text(trace: &ClassTrace, verbose: bool) -> String {
    let mut out = format!("== class {} ==", trace.class);
    if let Some(on_start) = &trace.on_start {
        task_text(&mut out, "on_start", on_start, verbose);
    }
    for task in &trace.tasks {
        task_text(&mut out, &format!("task \"{}\"", task.name), task, verbose);
    }
    out
}

fn task_text(out: &mut String, title: &str, task: &TaskTrace, verbose: bool) {
    if let Some(reason) = &task.skipped {
        let _ = write!(out, "\n{title}: skipped, {reason}");
        return;
    }
    let _ = write!(out, "\n{title}");
    for step in &task.steps {
        step_text(out, step, verbose);
    }
    for name in &task.not_run {
        let _ = write!(
            out,
            "\n  step {name}: not run (an earlier step of this task failed)"
        );
    }
}

fn step_text(out: &mut String, step: &StepTrace, verbose: bool) {
    let _ = write!(out, "\n  step {}", step.name);
    match &step.request {
        Some(request) => {
            let _ = write!(out, "\n    > {} {}", request.method, request.url);
            for (name, value) in &request.headers {
                let _ = write!(out, "\n    > {name}: {value}");
            }
            body_lines(
                out,
                "    > ",
                &request.body,
                request.body.len() as u64,
                verbose,
            );
        }
        None => out.push_str("\n    (no request: it could not be built)"),
    }
    for (status, url) in &step.redirects {
        let _ = write!(
            out,
            "\n    < {status}{}, redirected to {url}",
            reason(*status)
        );
    }
    let ms = step.elapsed.as_secs_f64() * 1e3;
    match &step.answer {
        Answer::NotSent => {}
        Answer::Error(error) => {
            let _ = write!(out, "\n    < no response: {error} ({ms:.1} ms)");
        }
        Answer::Response(response) => response_lines(out, response, ms, verbose),
    }
    for check in &step.checks {
        let _ = write!(out, "\n    {}", check_line(check, verbose));
    }
    for extraction in &step.extracted {
        let _ = write!(out, "\n    {}", extraction_line(extraction, verbose));
    }
    let _ = write!(out, "\n    => {}", verdict_text(&step.verdict));
}

fn response_lines(out: &mut String, response: &ResponseTrace, ms: f64, verbose: bool) {
    let _ = write!(
        out,
        "\n    < {}{} ({ms:.1} ms, {} bytes)",
        response.status,
        reason(response.status),
        response.size
    );
    for (name, value) in &response.headers {
        let _ = write!(out, "\n    < {name}: {value}");
    }
    body_lines(out, "    < ", &response.body, response.size, verbose);
}

/// ` OK` for 200: the status's reason phrase with a space before it, when it has one.
fn reason(status: u16) -> String {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

/// An empty `prefix` line, then the body's lines (its first [`EXCERPT_BYTES`] unless
/// `verbose`) and a note of what was left out of its `size` bytes.
fn body_lines(out: &mut String, prefix: &str, body: &[u8], size: u64, verbose: bool) {
    if body.is_empty() {
        return;
    }
    let (text, shown) = excerpt(body, if verbose { body.len() } else { EXCERPT_BYTES });
    let _ = write!(out, "\n{}", prefix.trim_end());
    for line in text.lines() {
        let _ = write!(out, "\n{prefix}{line}");
    }
    if let Some(note) = cut_note(shown, size, verbose) {
        let _ = write!(out, "\n{prefix}{note}");
    }
}

/// The first `limit` bytes of `body` as text (ending on a whole character; control
/// characters other than newlines and tabs escaped), and how many bytes that is.
pub(super) fn excerpt(body: &[u8], limit: usize) -> (String, usize) {
    let mut end = limit.min(body.len());
    if let Err(err) = std::str::from_utf8(&body[..end])
        && err.error_len().is_none()
    {
        // A character cut by the limit: stop before it.
        end = err.valid_up_to();
    }
    let text = String::from_utf8_lossy(&body[..end]);
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    (shown, end)
}

/// What a body's excerpt of `shown` bytes leaves out of its `size`, if anything.
pub(super) fn cut_note(shown: usize, size: u64, verbose: bool) -> Option<String> {
    let shown = shown as u64;
    if shown >= size {
        None
    } else if verbose {
        Some(format!(
            "… only the first {shown} of {size} bytes were kept"
        ))
    } else {
        Some(format!(
            "… {shown} of {size} bytes shown (--verbose prints the whole body)"
        ))
    }
}

/// `✓ check /status == "ok"` or `✗ check /status: expected "ok", found "down"`.
pub(super) fn check_line(check: &CheckTrace, verbose: bool) -> String {
    let mark = if check.passed { '✓' } else { '✗' };
    let found = match &check.found {
        Found::Value(value) => value_text(value, verbose),
        Found::Missing => "nothing (missing)".to_owned(),
        Found::NotJson => "a body that is not JSON".to_owned(),
    };
    match (&check.expected, check.passed) {
        (Some(want), true) => format!(
            "{mark} check {} == {}",
            check.pointer,
            value_text(want, verbose)
        ),
        (None, true) => format!("{mark} check {} exists: {found}", check.pointer),
        (Some(want), false) => format!(
            "{mark} check {}: expected {}, found {found}",
            check.pointer,
            value_text(want, verbose)
        ),
        (None, false) => format!(
            "{mark} check {}: expected to exist, found {found}",
            check.pointer
        ),
    }
}

/// `✓ extract id = "c-1" (from /id)` or `✗ extract id: /id not found in the response`.
pub(super) fn extraction_line(extraction: &Extraction, verbose: bool) -> String {
    match &extraction.value {
        Ok(value) => format!(
            "✓ extract {} = {} (from {})",
            extraction.var,
            value_text(value, verbose),
            extraction.pointer
        ),
        Err(why) => format!("✗ {why}"),
    }
}

/// A JSON value on one line, cut to [`VALUE_CHARS`] characters unless `verbose`.
fn value_text(value: &Value, verbose: bool) -> String {
    let text = value.to_string();
    if verbose || text.chars().count() <= VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(VALUE_CHARS).collect();
    format!("{cut}… ({} characters)", text.chars().count())
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Passed => "passed".to_owned(),
        Verdict::Failed(why) => format!("FAILED: {why}"),
        Verdict::Error(why) => format!("FAILED (lv could not go on): {why}"),
    }
}

/// The last line: how many steps passed, or which failed (class, task, step and why).
pub(super) fn summary(traces: &[ClassTrace]) -> String {
    let steps: usize = traces
        .iter()
        .flat_map(ClassTrace::all_tasks)
        .map(|task| task.steps.len())
        .sum();
    let skipped = traces
        .iter()
        .flat_map(ClassTrace::all_tasks)
        .filter(|task| task.skipped.is_some())
        .count();
    let skipped = match skipped {
        0 => String::new(),
        n => format!(", {}", count(n, "task") + " skipped"),
    };
    let failures: Vec<String> = traces
        .iter()
        .flat_map(|trace| {
            trace.failures().into_iter().map(|(task, step)| {
                let why = match &step.verdict {
                    Verdict::Failed(why) | Verdict::Error(why) => why.as_str(),
                    Verdict::Passed => "",
                };
                format!("{} / {} / {}: {why}", trace.class, task.name, step.name)
            })
        })
        .collect();
    let classes = count(traces.len(), "class");
    if failures.is_empty() {
        let steps = count(steps, "step");
        format!("try: passed: {classes}, {steps}, every one passed{skipped}")
    } else {
        format!(
            "try: FAILED: {} of {} failed ({classes}{skipped}): {}",
            failures.len(),
            count(steps, "step"),
            failures.join("; ")
        )
    }
}

/// `1 class`, `2 classes`, `3 steps`.
fn count(n: usize, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        (_, false) => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests;
