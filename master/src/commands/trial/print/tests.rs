//! Tests of `try`'s output: excerpts and their notes, check and extraction lines, a step's
//! lines and the summary.

use std::time::Duration;

use hyper::body::Bytes;
use lv_worker::http::SentRequest;
use serde_json::json;

use super::*;

#[test]
fn excerpts_stop_at_the_limit_on_a_whole_character() {
    assert_eq!(excerpt(b"hello", 512), ("hello".to_owned(), 5));
    assert_eq!(excerpt(b"hello", 3), ("hel".to_owned(), 3));
    // "é" is two bytes: a limit inside it stops before it.
    assert_eq!(excerpt("aé".as_bytes(), 2), ("a".to_owned(), 1));
    assert_eq!(excerpt("aé".as_bytes(), 3), ("aé".to_owned(), 3));
    // Control characters are escaped; newlines and tabs are kept.
    assert_eq!(excerpt(b"a\x1bb\n\tc", 512).0, "a\\u{1b}b\n\tc");
    // Bytes that are not UTF-8 become replacement characters.
    assert_eq!(
        excerpt(b"\xff\xfe", 512),
        ("\u{fffd}\u{fffd}".to_owned(), 2)
    );
}

#[test]
fn a_cut_body_says_how_much_was_shown() {
    assert_eq!(cut_note(10, 10, false), None);
    let note = cut_note(512, 2048, false).expect("cut");
    assert_eq!(
        note,
        "… 512 of 2048 bytes shown (--verbose prints the whole body)"
    );
    let note = cut_note(1 << 20, 5 << 20, true).expect("kept part only");
    assert!(note.contains("only the first 1048576 of 5242880"), "{note}");
}

fn check(pointer: &str, expected: Option<Value>, found: Found, passed: bool) -> CheckTrace {
    CheckTrace {
        pointer: pointer.into(),
        expected,
        found,
        passed,
    }
}

#[test]
fn check_lines_show_the_pointer_the_value_and_the_mark() {
    let ok = check(
        "/status",
        Some(json!("ok")),
        Found::Value(json!("ok")),
        true,
    );
    assert_eq!(check_line(&ok, false), r#"✓ check /status == "ok""#);
    let exists = check("/reply", None, Found::Value(json!("hi")), true);
    assert_eq!(check_line(&exists, false), r#"✓ check /reply exists: "hi""#);
    let wrong = check("/status", Some(json!("ok")), Found::Value(json!(3)), false);
    assert_eq!(
        check_line(&wrong, false),
        r#"✗ check /status: expected "ok", found 3"#
    );
    let missing = check("/reply", None, Found::Missing, false);
    assert_eq!(
        check_line(&missing, false),
        "✗ check /reply: expected to exist, found nothing (missing)"
    );
    let long = check("/a", None, Found::Value(json!("x".repeat(500))), true);
    assert!(check_line(&long, false).ends_with("… (502 characters)"));
    assert!(check_line(&long, true).ends_with(&format!("{}\"", "x".repeat(500))));
}

#[test]
fn extraction_lines_show_the_value_or_why_there_is_none() {
    let ok = Extraction {
        var: "id".into(),
        pointer: "/id".into(),
        value: Ok(json!("c-1")),
    };
    assert_eq!(
        extraction_line(&ok, false),
        r#"✓ extract id = "c-1" (from /id)"#
    );
    let failed = Extraction {
        value: Err("extract id: /id not found in the response".into()),
        ..ok
    };
    assert_eq!(
        extraction_line(&failed, false),
        "✗ extract id: /id not found in the response"
    );
}

fn step(name: &str, body: &str, verdict: Verdict) -> StepTrace {
    StepTrace {
        name: name.into(),
        request: Some(SentRequest {
            method: "POST".into(),
            url: "http://t.test/v1/chat".into(),
            headers: vec![("host".into(), "t.test".into())],
            body: Bytes::from_static(b"{\"q\":1}"),
        }),
        redirects: vec![(302, "http://t.test/v1/chat".into())],
        answer: Answer::Response(ResponseTrace {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_owned()),
            size: body.len() as u64,
        }),
        elapsed: Duration::from_micros(12_340),
        checks: vec![],
        extracted: vec![],
        verdict,
    }
}

fn class(tasks: Vec<TaskTrace>) -> ClassTrace {
    ClassTrace {
        class: "C".into(),
        on_start: None,
        tasks,
        vars: Default::default(),
    }
}

fn task(name: &str, steps: Vec<StepTrace>) -> TaskTrace {
    TaskTrace {
        name: name.into(),
        skipped: None,
        steps,
        not_run: vec![],
    }
}

#[test]
fn a_step_prints_its_request_response_and_verdict_with_long_bodies_cut() {
    let long = "y".repeat(2000);
    let trace = class(vec![task("t", vec![step("S", &long, Verdict::Passed)])]);
    let text = class_text(&trace, false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "== class C ==",
            "task \"t\"",
            "  step S",
            "    > POST http://t.test/v1/chat"
        ]
    );
    assert!(lines.contains(&"    > host: t.test"));
    assert!(lines.contains(&"    > {\"q\":1}"));
    assert!(lines.contains(&"    < 302 Found, redirected to http://t.test/v1/chat"));
    assert!(lines.contains(&"    < 200 OK (12.3 ms, 2000 bytes)"));
    assert!(lines.contains(&"    < content-type: application/json"));
    let shown = format!("    < {}", "y".repeat(EXCERPT_BYTES));
    assert!(lines.contains(&shown.as_str()), "{text}");
    assert!(lines.contains(&"    < … 512 of 2000 bytes shown (--verbose prints the whole body)"));
    assert_eq!(lines.last(), Some(&"    => passed"));
    let verbose = class_text(&trace, true);
    assert!(verbose.contains(&format!("    < {long}\n")), "{verbose}");
    assert!(!verbose.contains("bytes shown"));
}

#[test]
fn skipped_tasks_and_steps_not_run_say_why() {
    let mut failing = task("f", vec![step("A", "", Verdict::Failed("HTTP 500".into()))]);
    failing.not_run = vec!["B".into()];
    let skipped = TaskTrace {
        skipped: Some("requires cid, which no earlier step extracted".into()),
        ..task("followup", vec![])
    };
    let text = class_text(&class(vec![failing, skipped]), false);
    assert!(text.contains("\n    => FAILED: HTTP 500\n"), "{text}");
    assert!(text.contains("\n  step B: not run (an earlier step of this task failed)"));
    assert!(
        text.ends_with(
            "\ntask \"followup\": skipped, requires cid, which no earlier step extracted"
        )
    );
}

#[test]
fn the_summary_counts_steps_or_names_each_failure() {
    let passing = class(vec![task("t", vec![step("S", "{}", Verdict::Passed)])]);
    assert_eq!(
        summary(std::slice::from_ref(&passing)),
        "try: passed: 1 class, 1 step, every one passed"
    );
    let failing = class(vec![
        task("t", vec![step("S", "{}", Verdict::Passed)]),
        task(
            "u",
            vec![step(
                "POST /x",
                "",
                Verdict::Failed("HTTP 500 Internal Server Error".into()),
            )],
        ),
        TaskTrace {
            skipped: Some("weight 0".into()),
            ..task("w", vec![])
        },
    ]);
    assert_eq!(
        summary(&[passing, failing]),
        "try: FAILED: 1 of 3 steps failed (2 classes, 1 task skipped): C / u / POST /x: HTTP 500 Internal Server Error"
    );
}
