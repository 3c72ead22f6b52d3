//! Tests of plan resolution: selection, tag filtering, expansion, variables.

use super::*;
use crate::config::scenario::parse;
use lv_common::fleet::HostBase;
use std::path::Path;
use std::time::Duration;

const SCENARIO: &str = r#"
[[user]]
name = "Health"
weight = 2

[[user.task]]
name = "health"
tags = ["health"]
for_each_agent = true

[[user.task.step]]
path = "/health"
kind = "health"
check = [{ pointer = "/agent", equals = "{{ agent }}" }]

[[user]]
name = "Chat"
wait = { constant = 1 }

[[user.task]]
name = "new"
tags = ["chat", "new-conversation"]

[[user.task.step]]
agent = "atlas"
method = "post"
path = "/v1/chat"
json = { message = "hi {{ uuid }}", conversation_id = "{{ conversation_id }}" }
extract = { conversation_id = "/conversation_id" }

[[user.task]]
name = "followup"
tags = ["chat", "followup"]
requires = ["conversation_id"]

[[user.task.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/chat"
name = "POST ATLAS /v1/chat [followup]"
json = { message = "more", conversation_id = "{{ conversation_id }}" }
"#;

/// Resolving options with no filter, on 127.0.0.1 (shared with the child modules' tests).
pub(super) fn options() -> PlanOptions {
    PlanOptions {
        classes: vec![],
        tags: vec![],
        exclude_tags: vec![],
        host: HostBase::parse("http://127.0.0.1").expect("host"),
        default_timeout: Duration::from_secs(30),
        connection_per_user: false,
    }
}

fn scenarios(text: &str) -> Vec<LoadedScenario> {
    vec![parse(Path::new("t.toml"), text.to_owned()).expect("parses")]
}

fn resolve_with(opts: &PlanOptions) -> Result<Resolved, ScenarioError> {
    resolve(&scenarios(SCENARIO), &FleetMap::builtin(), opts)
}

#[test]
fn expands_over_the_fleet_with_agent_tags() {
    let plan = resolve_with(&options()).expect("resolves").plan;
    let health = &plan.classes[0];
    assert_eq!(health.tasks.len(), FleetMap::builtin().agents.len());
    let atlas = &health.tasks[0];
    assert_eq!(atlas.steps[0].base_url, "http://127.0.0.1:8007");
    assert_eq!(atlas.steps[0].name, "ATLAS /health");
    assert_eq!(
        atlas.steps[0].checks[0].equals,
        Some(serde_json::json!("ATLAS"))
    );
    assert!(atlas.tags.contains(&"health".to_owned()) && atlas.tags.contains(&"core".to_owned()));
    let muse = health
        .tasks
        .iter()
        .find(|t| t.name.contains("MUSE"))
        .expect("muse task");
    assert!(muse.tags.contains(&"creative".to_owned()));
}

#[test]
fn tags_and_exclude_tags_filter_like_locust() {
    let mut opts = options();
    opts.tags = vec![
        "creative".into(),
        "followup".into(),
        "new-conversation".into(),
    ];
    let plan = resolve_with(&opts).expect("resolves").plan;
    assert!(
        plan.classes[0]
            .tasks
            .iter()
            .all(|t| t.tags.contains(&"creative".into()))
    );
    assert_eq!(plan.classes[0].tasks.len(), 5);
    let chat: Vec<&str> = plan.classes[1]
        .tasks
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(chat, ["new", "followup"]);

    let mut opts = options();
    opts.exclude_tags = vec!["chat".into()];
    let resolved = resolve_with(&opts).expect("resolves");
    assert_eq!(resolved.plan.classes.len(), 1);
    assert!(resolved.notes[0].contains("Chat"), "{:?}", resolved.notes);

    let mut opts = options();
    opts.tags = vec!["nothing-has-this".into()];
    let err = resolve_with(&opts).expect_err("empty plan").to_string();
    assert!(
        err.contains("nothing to run") && err.contains("--tags"),
        "{err}"
    );
}

#[test]
fn user_classes_are_picked_by_name() {
    let mut opts = options();
    opts.classes = vec!["Chat".into()];
    let plan = resolve_with(&opts).expect("resolves").plan;
    assert_eq!(plan.class_weights(), [("Chat".to_owned(), 1)]);
    opts.classes = vec!["Nope".into()];
    let err = resolve_with(&opts).expect_err("unknown").to_string();
    assert!(
        err.contains("Nope") && err.contains("Health (t.toml:3), Chat (t.toml:17)"),
        "{err}"
    );
}

#[test]
fn agent_names_resolve_case_insensitively_and_unknown_ones_fail_with_line() {
    let plan = resolve_with(&options()).expect("resolves").plan;
    assert_eq!(plan.classes[1].tasks[0].steps[0].name, "ATLAS /v1/chat");
    assert_eq!(plan.classes[1].tasks[0].steps[0].method, "POST");
    let text = SCENARIO.replace("agent = \"atlas\"", "agent = \"ATLASS\"");
    let err = resolve(&scenarios(&text), &FleetMap::builtin(), &options())
        .expect_err("unknown agent")
        .to_string();
    assert!(err.contains("t.toml:25") && err.contains("ATLASS"), "{err}");
}

#[test]
fn undefined_template_variables_fail_at_load() {
    let text = SCENARIO.replace(
        "\"{{ conversation_id }}\" }\nextract",
        "\"{{ conv }}\" }\nextract",
    );
    let err = resolve(&scenarios(&text), &FleetMap::builtin(), &options())
        .expect_err("undefined var")
        .to_string();
    assert!(err.contains("`conv`") && err.contains("step 1"), "{err}");
    let text = SCENARIO.replace("requires = [\"conversation_id\"]", "requires = [\"nope\"]");
    let err = resolve(&scenarios(&text), &FleetMap::builtin(), &options())
        .expect_err("unknown requirement")
        .to_string();
    assert!(err.contains("requires `nope`"), "{err}");
}

#[test]
fn plans_round_trip_through_json() {
    let plan = resolve_with(&options()).expect("resolves").plan;
    let back = Plan::from_json(&plan.to_json()).expect("decodes");
    assert_eq!(plan, back);
    assert!(Plan::from_json(b"{\"classes\": 5}").is_err());
}

#[test]
fn a_tag_filter_may_not_strand_a_required_variable() {
    let mut opts = options();
    opts.tags = vec!["followup".into()];
    let err = resolve_with(&opts)
        .expect_err("followup alone cannot run")
        .to_string();
    assert!(
        err.contains("requires `conversation_id`") && err.contains("new-conversation"),
        "{err}"
    );
    opts.tags = vec!["followup".into(), "new-conversation".into()];
    assert!(resolve_with(&opts).is_ok());
}

#[test]
fn cookies_and_redirects_are_on_unless_turned_off() {
    let text = r#"
[[user]]
name = "Browser"

[[user.task]]
[[user.task.step]]
url = "http://127.0.0.1:9"
path = "/"

[[user]]
name = "Api"
cookies = false

[[user.task]]
[[user.task.step]]
url = "http://127.0.0.1:9"
path = "/login"
follow_redirects = false
"#;
    let plan = resolve(&scenarios(text), &FleetMap::builtin(), &options())
        .expect("resolves")
        .plan;
    let (browser, api) = (&plan.classes[0], &plan.classes[1]);
    assert!(browser.cookies && browser.tasks[0].steps[0].follow_redirects);
    assert!(!api.cookies && !api.tasks[0].steps[0].follow_redirects);

    // A plan from a master that predates the keys runs with both on.
    let mut json: serde_json::Value = serde_json::from_slice(&plan.to_json()).expect("json");
    let class = &mut json["classes"][1];
    class.as_object_mut().expect("class").remove("cookies");
    class["tasks"][0]["steps"][0]
        .as_object_mut()
        .expect("step")
        .remove("follow_redirects");
    let old = Plan::from_json(&serde_json::to_vec(&json).expect("bytes")).expect("plan");
    assert!(old.classes[1].cookies && old.classes[1].tasks[0].steps[0].follow_redirects);
}
