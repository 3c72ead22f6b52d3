use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::web::snapshot::ProfileDefaults;

fn catalog() -> Catalog {
    let mut profiles = BTreeMap::new();
    profiles.insert(
        "light".to_owned(),
        ProfileDefaults {
            users: Some(10),
            spawn_rate: Some(1.0),
            run_time: Some("5m".into()),
            tags: vec!["health".into()],
            exclude_tags: Vec::new(),
        },
    );
    Catalog {
        readonly: false,
        profiles,
        user_classes: vec!["Chat".into(), "Health".into()],
        tags: vec!["chat".into(), "health".into(), "burst".into()],
    }
}

fn current() -> RunParams {
    RunParams {
        users: 3,
        spawn_rate: 2.0,
        host: Some("http://localhost".into()),
        run_time: None,
        classes: Vec::new(),
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        profile: None,
    }
}

fn resolve(pairs: &[(&str, &str)]) -> Result<RunParams, FormError> {
    SwarmForm::from_pairs(pairs).resolve(&catalog(), &current())
}

fn message(pairs: &[(&str, &str)]) -> String {
    resolve(pairs).expect_err("must be refused").to_string()
}

#[test]
fn a_full_form_is_taken_as_given() {
    let params = resolve(&[
        ("user_count", "20"),
        ("spawn_rate", "2.5"),
        ("host", "http://127.0.0.1"),
        ("run_time", "1h30m"),
        ("user_classes", "Chat"),
        ("user_classes", "Health"),
        ("tags", "chat,health"),
        ("exclude_tags", "burst"),
        ("ignored", "x"),
    ])
    .expect("valid");
    assert_eq!(params.users, 20);
    assert_eq!(params.spawn_rate, 2.5);
    assert_eq!(params.host.as_deref(), Some("http://127.0.0.1"));
    assert_eq!(params.run_time, Some(Duration::from_secs(5400)));
    assert_eq!(params.classes, ["Chat", "Health"]);
    assert_eq!(params.tags, ["chat", "health"]);
    assert_eq!(params.exclude_tags, ["burst"]);
}

#[test]
fn missing_fields_come_from_the_profile_then_the_current_settings() {
    let params = resolve(&[("profile", "light"), ("spawn_rate", "4")]).expect("valid");
    assert_eq!(params.users, 10);
    assert_eq!(params.spawn_rate, 4.0);
    assert_eq!(params.run_time, Some(Duration::from_secs(300)));
    assert_eq!(params.tags, ["health"]);
    let params = resolve(&[]).expect("valid");
    assert_eq!((params.users, params.spawn_rate), (3, 2.0));
    assert_eq!(params.run_time, None);
}

#[test]
fn an_empty_run_time_runs_until_stopped() {
    let params = resolve(&[("profile", "light"), ("run_time", "")]).expect("valid");
    assert_eq!(params.run_time, None);
    assert_eq!(
        resolve(&[("run_time", "90")]).expect("valid").run_time,
        Some(Duration::from_secs(90))
    );
}

#[test]
fn every_bad_field_is_named_with_its_value() {
    assert_eq!(
        message(&[("user_count", "abc")]),
        "user_count=abc: not a whole number"
    );
    assert_eq!(
        message(&[("user_count", "-1")]),
        "user_count=-1: not a whole number"
    );
    assert_eq!(
        message(&[("spawn_rate", "0")]),
        "spawn_rate=0: must be a number > 0"
    );
    assert_eq!(
        message(&[("spawn_rate", "fast")]),
        "spawn_rate=fast: not a number"
    );
    assert!(message(&[("run_time", "soon")]).starts_with("run_time=soon: "));
    assert!(message(&[("run_time", "0s")]).starts_with("run_time=0s: "));
    assert!(message(&[("host", "<script>")]).starts_with("host=<script>: "));
    assert!(message(&[("host", "ftp//x")]).starts_with("host=ftp//x: "));
    assert!(
        message(&[("user_classes", "Nope")]).starts_with("user_classes=Nope: unknown user class")
    );
    assert!(message(&[("tags", "chat,nope")]).starts_with("tags=nope: unknown tag"));
    assert!(message(&[("exclude_tags", "zzz")]).starts_with("exclude_tags=zzz: unknown tag"));
    assert!(message(&[("profile", "extreme")]).starts_with("profile=extreme: unknown profile"));
}

#[test]
fn json_bodies_are_read_like_forms() {
    let body = serde_json::json!({
        "user_count": 7, "spawn_rate": 1.5, "run_time": "30s",
        "user_classes": ["Chat"], "tags": "chat, health", "host": null
    });
    let params = SwarmForm::from_json(&body)
        .expect("object")
        .resolve(&catalog(), &current())
        .expect("valid");
    assert_eq!((params.users, params.spawn_rate), (7, 1.5));
    assert_eq!(params.run_time, Some(Duration::from_secs(30)));
    assert_eq!(params.classes, ["Chat"]);
    assert_eq!(params.tags, ["chat", "health"]);
    assert_eq!(params.host.as_deref(), Some("http://localhost"));
    let err = SwarmForm::from_json(&serde_json::json!([1])).expect_err("not an object");
    assert_eq!(err.field, "body");
}
