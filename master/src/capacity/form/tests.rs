use std::time::Duration;

use lv_common::load::Model;

use super::*;

fn form(pairs: &[(&str, &str)]) -> Result<CapacityForm, FormError> {
    CapacityForm::from_pairs(pairs)
}

#[test]
fn an_empty_form_is_the_command_lines_defaults() {
    let parsed = form(&[]).expect("valid");
    assert_eq!(parsed.options, SearchOptions::default());
    let checked = parsed.check().expect("valid");
    assert_eq!(checked.steps.hold, Duration::from_secs(30));
    assert_eq!(checked.steps.confirm, Duration::from_secs(60));
    assert_eq!(checked.search.start, 10.0);
}

#[test]
fn fields_read_as_their_options_do() {
    let parsed = form(&[
        ("model", "closed"),
        ("start", "4"),
        ("max", "64"),
        ("factor", "2"),
        ("precision", "5%"),
        ("hold", "2s"),
        ("settle", "500ms"),
        ("confirm", ""),
        ("max_lag", "50ms"),
        ("require", "40/s"),
        ("slo_level", "light"),
        ("user_classes", "AriaChatUser"),
        ("tags", "chat,followup"),
        ("host", "http://127.0.0.1:9"),
    ])
    .expect("valid");
    let o = &parsed.options;
    assert_eq!(
        (o.model, o.start, o.max, o.factor),
        (Model::Closed, 4.0, 64.0, 2.0)
    );
    assert_eq!(
        (o.precision, o.require, o.confirm),
        (0.05, Some(40.0), None)
    );
    assert_eq!(
        (o.hold, o.settle),
        (Duration::from_secs(2), Duration::from_millis(500))
    );
    assert_eq!(parsed.slo_level.as_deref(), Some("light"));
    assert_eq!(parsed.selection.user_classes, ["AriaChatUser"]);
    assert_eq!(
        parsed.selection.tags.as_deref(),
        Some(&["chat".to_owned(), "followup".to_owned()][..])
    );
    let checked = parsed.check().expect("valid");
    assert!(checked.search.whole);
    assert_eq!(checked.steps.confirm, Duration::from_secs(4));
    assert_eq!(checked.require, Some(40.0));
}

#[test]
fn a_bad_value_names_its_field_and_value() {
    let err = form(&[("hold", "soon")]).expect_err("bad");
    assert_eq!(err.field, "hold");
    assert!(err.to_string().starts_with("hold=soon: "), "{err}");
    let err = form(&[("model", "half")]).expect_err("bad");
    assert_eq!(err.field, "model");
    let err = form(&[("max_in_flight", "-1")]).expect_err("bad");
    assert_eq!(err.field, "max_in_flight");
    let err = form(&[("start", "ten")]).expect_err("bad");
    assert_eq!(err.field, "start");
}

#[test]
fn an_unknown_field_is_refused_by_name() {
    let err = form(&[("hld", "2s")]).expect_err("typo");
    assert_eq!(err.field, "field");
    assert!(err.to_string().contains("hld"), "{err}");
    assert!(err.detail.contains("hold"), "{err}");
}

#[test]
fn range_checks_name_the_forms_field() {
    let check = |pairs: &[(&str, &str)]| form(pairs).expect("parses").check();
    let err = check(&[("hold", "50ms")]).expect_err("too short");
    assert_eq!(err.field, "hold");
    assert!(err.detail.contains("at least 100ms"), "{err}");
    let err = check(&[("start", "100"), ("max", "10")]).expect_err("unordered");
    assert_eq!(err.field, "max");
    assert!(err.to_string().starts_with("max=10: "), "{err}");
    let err = check(&[("factor", "1")]).expect_err("no climb");
    assert_eq!(err.field, "factor");
    let err = check(&[("model", "closed"), ("start", "2.5")]).expect_err("whole users");
    assert_eq!(err.field, "start");
    let err = check(&[("max_in_flight", "0")]).expect_err("zero");
    assert_eq!(err.field, "max_in_flight");
}
