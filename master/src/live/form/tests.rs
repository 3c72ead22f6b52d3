use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::live::snapshot::ProfileDefaults;

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
        shape: None,
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
    let params = resolve(&[("user_count", "1"), ("spawn_rate", "1")]).expect("valid");
    assert_eq!(params.host.as_deref(), Some("http://localhost"));
}

/// Locust refuses a `/swarm` without `user_count` or `spawn_rate`; so does lv, naming the
/// field, unless a profile sets it.
#[test]
fn users_and_spawn_rate_are_required() {
    let text = message(&[]);
    assert!(text.starts_with("user_count=: missing"), "{text}");
    assert!(
        message(&[("spawn_rate", "1")]).starts_with("user_count=: missing"),
        "{text}"
    );
    let text = message(&[("user_count", "5")]);
    assert!(text.starts_with("spawn_rate=: missing"), "{text}");
    assert!(text.contains("needs user_count and spawn_rate"), "{text}");
    // A bad value given is named before a missing one.
    assert!(message(&[("host", "<x>")]).starts_with("host=<x>: "));
    assert!(
        resolve(&[("profile", "light")]).is_ok(),
        "the profile sets both"
    );
}

#[test]
fn an_empty_or_absent_run_time_runs_until_stopped() {
    let params = resolve(&[("profile", "light"), ("run_time", "")]).expect("valid");
    assert_eq!(params.run_time, None);
    let both = [("user_count", "1"), ("spawn_rate", "1")];
    assert_eq!(
        resolve(&[both[0], both[1], ("run_time", "90")])
            .expect("valid")
            .run_time,
        Some(Duration::from_secs(90))
    );
    // The current settings' run time is not carried over.
    let mut current = current();
    current.run_time = Some(Duration::from_millis(20_760));
    let params = SwarmForm::from_pairs(&both)
        .resolve(&catalog(), &current)
        .expect("valid");
    assert_eq!(params.run_time, None);
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
        "spawn_rate=0: must be a number > 0 and at most 1000000"
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

/// Values at and past every bound: refused with the field named, the message short.
#[test]
fn values_past_the_bounds_are_refused() {
    assert_eq!(
        message(&[("user_count", "4294967295")]),
        "user_count=4294967295: at most 10000000 users"
    );
    assert_eq!(
        resolve(&[("user_count", "10000000"), ("spawn_rate", "1")])
            .expect("the bound")
            .users,
        10_000_000
    );
    for rate in ["1e308", "inf", "NaN", "-1", "1000001"] {
        let text = message(&[("spawn_rate", rate)]);
        assert!(text.starts_with(&format!("spawn_rate={rate}: ")), "{text}");
    }
    assert_eq!(
        message(&[("run_time", "18446744073709551615s")]),
        "run_time=18446744073709551615s: at most 720h"
    );
    assert_eq!(
        resolve(&[
            ("user_count", "1"),
            ("spawn_rate", "1"),
            ("run_time", "720h")
        ])
        .expect("the bound")
        .run_time,
        Some(lv_common::bounds::MAX_RUN_TIME)
    );
    let host = format!("http://{}", "a".repeat(100_000));
    let text = message(&[("host", &host)]);
    assert!(text.starts_with("host=http://aaa"), "{text}");
    assert!(text.contains("at most 253"), "{text}");
    assert!(
        text.len() < 400,
        "the message quotes a bounded part: {text}"
    );
    let class = "C".repeat(1_000_000);
    let text = message(&[("user_classes", &class)]);
    assert!(text.contains("(1000000 characters)"), "{}", &text[..200]);
    assert!(text.len() < 400, "{}", &text[..200]);
}

/// A profile's own values are held to the same bounds as the form's.
#[test]
fn a_profile_past_the_bounds_is_refused() {
    let mut catalog = catalog();
    if let Some(light) = catalog.profiles.get_mut("light") {
        light.users = Some(u32::MAX);
    }
    let form = SwarmForm::from_pairs(&[("profile", "light")]);
    let err = form
        .resolve(&catalog, &current())
        .expect_err("past the bound");
    assert_eq!(err.field, "user_count");
    assert!(err.detail.ends_with("(from profile light)"), "{err}");
}

mod generated {
    //! The `/swarm` form and JSON body under generated input: no panic, and either
    //! parameters within every bound or an error naming one of the form's fields.

    use super::*;
    use lv_common::bounds::{MAX_RUN_TIME, MAX_SPAWN_RATE, MAX_USERS};
    use proptest::prelude::*;

    /// Cases of each property.
    const CASES: u32 = 4096;

    const FIELDS: &[&str] = &[
        "user_count",
        "spawn_rate",
        "host",
        "run_time",
        "user_classes",
        "tags",
        "exclude_tags",
        "profile",
        "other",
    ];

    const NAMED: &[&str] = &[
        "user_count",
        "spawn_rate",
        "host",
        "run_time",
        "user_classes",
        "tags",
        "exclude_tags",
        "profile",
        "body",
    ];

    /// Values people and fuzzers send: numbers at every limit, durations, hosts, names.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "0",
                "1",
                "-1",
                "10000000",
                "10000001",
                "4294967295",
                "4294967296",
                "18446744073709551615",
                "1e308",
                "-1e308",
                "inf",
                "NaN",
                "0.0000001",
                "1e-320",
                "18446744073709551615s",
                "720h",
                "721h",
                "5m",
                "1h30m",
                "",
                "http://localhost",
                "https://[::1]",
                "http://",
                "ftp://x",
                "light",
                "Chat",
                "health",
                "chat,health",
                ",,,",
                "\u{0}",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,40}",
            "\\PC{0,20}",
            (1usize..5_000).prop_map(|n| "9".repeat(n)),
            (1usize..5_000).prop_map(|n| format!("http://{}", "h".repeat(n))),
        ]
    }

    fn check(result: &Result<RunParams, FormError>) -> Result<(), TestCaseError> {
        match result {
            Ok(params) => {
                prop_assert!(params.users <= MAX_USERS);
                prop_assert!(params.spawn_rate.is_finite());
                prop_assert!(params.spawn_rate > 0.0 && params.spawn_rate <= MAX_SPAWN_RATE);
                prop_assert!(
                    params
                        .run_time
                        .is_none_or(|t| !t.is_zero() && t <= MAX_RUN_TIME)
                );
            }
            Err(err) => {
                prop_assert!(NAMED.contains(&err.field), "{}", err);
                prop_assert!(err.value.chars().count() <= 140, "{}", err);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        #[test]
        fn generated_forms_never_panic_4096_cases(
            pairs in prop::collection::vec((prop::sample::select(FIELDS), value()), 0..8)
        ) {
            let form = SwarmForm::from_pairs(&pairs);
            check(&form.resolve(&catalog(), &current()))?;
        }

        #[test]
        fn generated_json_bodies_never_panic_4096_cases(
            pairs in prop::collection::vec((prop::sample::select(FIELDS), value(), 0u8..5), 0..8),
            top_level in 0u8..4,
        ) {
            let object: serde_json::Map<String, serde_json::Value> = pairs
                .into_iter()
                .map(|(key, text, kind)| {
                    let value = match kind {
                        0 => serde_json::Value::String(text),
                        1 => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
                            .map_or(serde_json::Value::Null, serde_json::Value::Number),
                        2 => serde_json::json!([text, text]),
                        3 => serde_json::json!({ "nested": text }),
                        _ => serde_json::Value::Bool(text.is_empty()),
                    };
                    (key.to_owned(), value)
                })
                .collect();
            let body = match top_level {
                0 => serde_json::json!([object]),
                1 => serde_json::Value::Null,
                _ => serde_json::Value::Object(object),
            };
            match SwarmForm::from_json(&body) {
                Ok(form) => check(&form.resolve(&catalog(), &current()))?,
                Err(err) => prop_assert_eq!(err.field, "body"),
            }
        }
    }
}
