//! Test data in scenarios: which fields a step may use, and the modes.

use lv_common::data::DataMode;
use lv_common::fleet::FleetMap;

use crate::config::resolve::resolve;
use crate::config::resolve::tests::options;
use crate::config::scenario::{ScenarioError, parse};

fn fleet() -> FleetMap {
    FleetMap::parse(
        "[[agent]]\nname = \"ATLAS\"\nport = 8007\ncategory = \"core\"\n",
        std::path::Path::new("fleet.toml"),
    )
    .expect("fleet")
}

/// Resolves `text` (as `DIR/s.toml`, beside an `accounts.csv` with email and password);
/// the error's text with the folder shown as `DIR`.
fn resolve_text(text: &str) -> Result<lv_common::plan::Plan, String> {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("accounts.csv"),
        "email,password\na@x,1\nb@x,2\n",
    )
    .expect("csv");
    let path = dir.path().join("s.toml");
    let show = |e: ScenarioError| {
        e.to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    };
    let loaded = parse(&path, text.to_owned()).map_err(show)?;
    resolve(&[loaded], &fleet(), &options())
        .map(|r| r.plan)
        .map_err(show)
}

const DATA: &str = "[[data]]\nname = \"accounts\"\nfile = \"accounts.csv\"\n";

fn class(data: &str, header: &str) -> String {
    format!(
        "{DATA}[[user]]\nname = \"A\"\n{data}\n[[user.task]]\n[[user.task.step]]\nagent = \"ATLAS\"\nheaders = {{ \"X\" = \"{header}\" }}\n"
    )
}

#[test]
fn a_class_that_names_its_data_may_use_its_fields() {
    let plan = resolve_text(&class(
        "data = { accounts = \"unique\" }",
        "{{ accounts.email }}",
    ))
    .expect("resolves");
    assert_eq!(plan.classes[0].data[0].source, "accounts");
    assert_eq!(plan.classes[0].data[0].mode, DataMode::Unique);
}

#[test]
fn a_field_the_header_lacks_names_the_data_file_s_header() {
    let err = resolve_text(&class(
        "data = { accounts = \"cycle\" }",
        "{{ accounts.phone }}",
    ))
    .expect_err("no such field");
    assert!(
        err.contains("DIR/accounts.csv:1:1, the header of data accounts, has no field \"phone\"; its fields: email, password"),
        "{err}"
    );
}

#[test]
fn data_the_class_does_not_name_cannot_be_used() {
    let err = resolve_text(&class("", "{{ accounts.email }}")).expect_err("not in scope");
    assert!(
        err.contains("neither the class nor the task uses data \"accounts\""),
        "{err}"
    );
}

#[test]
fn an_unknown_data_name_is_an_error_at_its_line() {
    let err = resolve_text(&class("data = { acounts = \"random\" }", "x")).expect_err("typo");
    assert!(
        err.starts_with("DIR/s.toml:6: data \"acounts\" is not defined"),
        "{err}"
    );
}

#[test]
fn a_task_may_name_data_for_its_own_steps() {
    let text = format!(
        "{DATA}[[user]]\nname = \"A\"\n[[user.task]]\ndata = {{ accounts = \"random\" }}\n[[user.task.step]]\nagent = \"ATLAS\"\npath = \"/{{{{ accounts.email }}}}\"\n"
    );
    let plan = resolve_text(&text).expect("resolves");
    assert_eq!(plan.classes[0].data[0].mode, DataMode::Random);
}

#[test]
fn one_source_with_two_modes_is_refused() {
    let text = format!(
        "{DATA}[[user]]\nname = \"A\"\ndata = {{ accounts = \"unique\" }}\n[[user.task]]\n[[user.task.step]]\nagent = \"ATLAS\"\n\
         [[user]]\nname = \"B\"\ndata = {{ accounts = \"cycle\" }}\n[[user.task]]\n[[user.task.step]]\nagent = \"ATLAS\"\n"
    );
    let err = resolve_text(&text).expect_err("two modes");
    assert!(err.contains("give it one mode"), "{err}");
}

#[test]
fn a_missing_data_file_is_named_with_the_scenario_line() {
    let err = resolve_text(
        "[[data]]\nname = \"x\"\nfile = \"missing.csv\"\n[[user]]\nname = \"A\"\n[[user.task]]\n[[user.task.step]]\nagent = \"ATLAS\"\n",
    )
    .expect_err("missing");
    assert!(
        err.starts_with("DIR/missing.csv: cannot read the data file"),
        "{err}"
    );
    assert!(err.contains("data x, DIR/s.toml:3"), "{err}");
}
