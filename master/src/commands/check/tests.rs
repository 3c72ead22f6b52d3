//! Tests of `check`'s numbers and text.

use std::collections::BTreeMap;

use lv_common::kind::SloKind;
use lv_common::plan::{Body, ClassPlan, Plan, StepPlan, TaskPlan};
use lv_common::template::{JsonTemplate, Template};
use lv_common::wait::WaitRule;

use super::inspect::{self, Context, class_ratios, class_users, locust_ratios, shares, view};
use super::render;

fn step(name: &str, path: &str, extract: &[&str], body_var: Option<&str>) -> StepPlan {
    let consts = BTreeMap::new();
    StepPlan {
        method: "POST".into(),
        base_url: "http://h:8007".into(),
        path: Template::compile(path, &consts).expect("template"),
        name: name.into(),
        kind: Some(SloKind::Chat),
        headers: vec![],
        body: match body_var {
            Some(var) => Body::Json(
                JsonTemplate::compile(
                    &serde_json::json!({ "id": format!("{{{{ {var} }}}}") }),
                    &consts,
                )
                .expect("json"),
            ),
            None => Body::Empty,
        },
        expect_status: vec![],
        checks: vec![],
        extract: extract
            .iter()
            .map(|v| ((*v).to_owned(), format!("/{v}")))
            .collect(),
        timeout_ms: 1000,
        follow_redirects: true,
    }
}

fn task(name: &str, weight: u32, requires: &[&str], steps: Vec<StepPlan>) -> TaskPlan {
    TaskPlan {
        name: name.into(),
        weight,
        tags: vec![name.into(), "all".into()],
        requires: requires.iter().map(|v| (*v).to_owned()).collect(),
        steps,
    }
}

fn class(name: &str, weight: u32, tasks: Vec<TaskPlan>) -> ClassPlan {
    ClassPlan {
        name: name.into(),
        weight,
        wait: WaitRule::Between(1.0, 2.0),
        on_start: vec![],
        tasks,
        cookies: true,
        data: Vec::new(),
    }
}

/// Chat (weight 3: `new` 1 extracting `cid`, `followup` 3 requiring it) and Health (1).
fn plan() -> Plan {
    Plan {
        classes: vec![
            class(
                "Chat",
                3,
                vec![
                    task("new", 1, &[], vec![step("new", "/v1/chat", &["cid"], None)]),
                    task(
                        "followup",
                        3,
                        &["cid"],
                        vec![step("up", "/v1/chat/{{ cid }}", &[], Some("cid"))],
                    ),
                ],
            ),
            class(
                "Health",
                1,
                vec![task(
                    "health",
                    1,
                    &[],
                    vec![step("h", "/health", &[], None)],
                )],
            ),
        ],
        connection_per_user: false,
        iterations: None,
    }
}

fn context(users: Option<u32>) -> Context {
    Context {
        users,
        host: "http://h".into(),
        defined_at: BTreeMap::from([("Chat".to_owned(), "s.toml:2".to_owned())]),
        ..Context::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn users_are_split_as_the_master_splits_them() {
    let plan = plan();
    assert_eq!(class_users(&plan, Some(10)), Some(vec![8, 2]));
    assert_eq!(class_users(&plan, Some(1)), Some(vec![1, 0]));
    assert_eq!(class_users(&plan, None), None);
    assert_eq!(class_ratios(&plan, Some(10)), [0.8, 0.2]);
    // No users, or the open model: by weight, as Locust counts when no user is given.
    assert_eq!(class_ratios(&plan, Some(0)), [0.75, 0.25]);
    assert_eq!(class_ratios(&plan, None), [0.75, 0.25]);
    assert_eq!(shares([0, 0].into_iter()), [0.0, 0.0]);
}

#[test]
fn task_ratios_are_within_the_class_and_of_all_runs() {
    let view = view(&plan(), &context(Some(4)));
    let chat = &view.classes[0];
    assert_eq!((chat.users, chat.ratio), (Some(3), 0.75));
    let ratios: Vec<(f64, f64)> = chat
        .tasks
        .iter()
        .map(|t| (t.ratio, t.total_ratio))
        .collect();
    assert_eq!(ratios, [(0.25, 0.1875), (0.75, 0.5625)]);
    let all: f64 = view
        .classes
        .iter()
        .flat_map(|c| c.tasks.iter().map(|t| t.total_ratio))
        .sum();
    assert!(close(all, 1.0), "{all}");
    assert_eq!(chat.defined_at, "s.toml:2");
    assert_eq!(view.model, "closed");
    assert_eq!(inspect::view(&plan(), &context(None)).model, "open");
}

#[test]
fn variables_name_the_steps_that_extract_them() {
    let view = view(&plan(), &context(Some(4)));
    let followup = &view.classes[0].tasks[1];
    assert_eq!(followup.requires.len(), 1);
    assert_eq!(followup.requires[0].name, "cid");
    assert_eq!(
        followup.requires[0].extracted_by,
        ["Chat / new / step 1 (new)"]
    );
    assert_eq!(followup.uses, followup.requires);
    let step = &followup.steps[0];
    assert_eq!(step.url, "http://h:8007/v1/chat/{cid}");
    assert_eq!(step.kind, Some(SloKind::Chat));
    assert_eq!(view.classes[0].tasks[0].steps[0].extracts, ["cid"]);
}

#[test]
fn the_locust_document_has_per_class_and_total_ratios() {
    let view = view(&plan(), &context(Some(4)));
    let doc = locust_ratios(&view.classes);
    assert_eq!(doc["per_class"]["Chat"]["ratio"], 0.75);
    assert_eq!(doc["per_class"]["Chat"]["tasks"]["followup"]["ratio"], 0.75);
    assert_eq!(doc["total"]["Chat"]["tasks"]["followup"]["ratio"], 0.5625);
    assert_eq!(doc["total"]["Health"]["tasks"]["health"]["ratio"], 0.25);
    assert_eq!(doc, view.task_ratio);
    // Tasks of one name add up, as Locust counts a task listed twice.
    let mut twice = plan();
    twice.classes[1].tasks.push(task("health", 1, &[], vec![]));
    let view = inspect::view(&twice, &context(Some(4)));
    assert_eq!(
        view.task_ratio["per_class"]["Health"]["tasks"]["health"]["ratio"],
        1.0
    );
}

#[test]
fn the_text_shows_ratios_classes_tasks_and_endpoints() {
    let text = render::text(&view(&plan(), &context(Some(4))));
    for want in [
        "Plan: 2 user classes, 3 tasks; closed model, 4 users; host http://h\n",
        "Tags: -; excluded tags: -\n",
        " Task ratio per User class\n",
        " 75.0       Chat\n",
        "   75.0       followup\n",
        " Total task ratio\n",
        "   56.2       followup\n",
        "Chat (s.toml:2)\n  weight 3, 3 users (75.0%), wait: between 1 and 2 s\n",
        "  task \"followup\": weight 3, 75.0% of the class's tasks, 56.2% of all\n",
        "    tags: followup, all\n",
        "    requires cid, extracted by Chat / new / step 1 (new)\n",
        "    POST up -> http://h:8007/v1/chat/{cid} [chat]\n",
        "    POST new -> http://h:8007/v1/chat [chat] extracts cid\n",
        "  weight 1, 1 user (25.0%)",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    assert!(!text.contains("Notes"), "{text}");
    // `cid` is required and used: listed once.
    assert!(!text.contains("uses cid"), "{text}");
    let mut two = plan();
    two.classes[0].tasks[1].steps[0].extract = vec![("cid".into(), "/cid".into())];
    let text = render::text(&view(&two, &context(Some(4))));
    let want = "    requires cid, extracted by:\n      Chat / new / step 1 (new)\n      Chat / followup / step 1 (up)\n";
    assert!(text.contains(want), "{text}");
}

#[test]
fn extra_sections_and_notes_are_printed_after_the_classes() {
    let mut view = view(&plan(), &context(None));
    assert!(inspect::extra_sections(&plan(), &context(None)).is_empty());
    view.sections.push(inspect::Section {
        key: "data",
        title: "Data sources",
        lines: vec!["users.csv (3 rows)".into()],
        items: vec![serde_json::json!({ "file": "users.csv" })],
    });
    view.notes
        .push("user class X has weight 0; it is not run".into());
    let text = render::text(&view);
    let data = text
        .find("Data sources\n  users.csv (3 rows)\n")
        .expect(&text);
    let notes = text.find("Notes\n  user class X").expect(&text);
    assert!(
        text.find("Health (").expect(&text) < data && data < notes,
        "{text}"
    );
    assert!(text.contains("open model"), "{text}");
    let json = serde_json::to_value(&view).expect("json");
    assert_eq!(json["sections"][0]["key"], "data");
    assert_eq!(json["classes"][0]["users"], serde_json::Value::Null);
    assert_eq!(json["classes"][0]["wait"]["between"][1], 2.0);
}
