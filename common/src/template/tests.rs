//! Tests of `template`.
use super::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;

fn no_consts() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(7)
}

#[test]
fn literal_text_stays_literal() {
    let t = Template::compile("/v1/chat", &no_consts()).expect("compiles");
    assert_eq!(t.as_literal(), Some("/v1/chat"));
    assert_eq!(
        t.render(&UserVars::new(), &mut rng()).expect("renders"),
        "/v1/chat"
    );
}

#[test]
fn constants_are_folded_at_compile_time() {
    let consts = BTreeMap::from([("agent".to_owned(), "ATLAS".to_owned())]);
    let t = Template::compile("GET {{ agent }} /health", &consts).expect("compiles");
    assert_eq!(t.as_literal(), Some("GET ATLAS /health"));
}

#[test]
fn variables_render_from_user_vars() {
    let t = Template::compile("/v1/events/{{event_id}}/ack", &no_consts()).expect("compiles");
    assert_eq!(t.vars().collect::<Vec<_>>(), ["event_id"]);
    let vars = UserVars::from([("event_id".to_owned(), Value::from("e-42"))]);
    assert_eq!(
        t.render(&vars, &mut rng()).expect("renders"),
        "/v1/events/e-42/ack"
    );
    assert_eq!(t.display_pattern(), "/v1/events/{event_id}/ack");
    assert_eq!(
        t.render(&UserVars::new(), &mut rng()),
        Err(RenderError::Undefined("event_id".into()))
    );
}

#[test]
fn rand_int_stays_in_range_and_is_typed() {
    let t = Template::compile("{{ rand_int(3, 5) }}", &no_consts()).expect("compiles");
    let mut r = rng();
    for _ in 0..200 {
        let v = t.render_value(&UserVars::new(), &mut r).expect("renders");
        let n = v.as_i64().expect("a number");
        assert!((3..=5).contains(&n), "{n}");
    }
}

#[test]
fn choice_picks_every_option_eventually() {
    let t = Template::compile(r#"{{ choice("a", 'b, c', x) }}"#, &no_consts()).expect("ok");
    let mut seen = BTreeSet::new();
    let mut r = rng();
    for _ in 0..300 {
        seen.insert(t.render(&UserVars::new(), &mut r).expect("renders"));
    }
    assert_eq!(
        seen,
        BTreeSet::from(["a".into(), "b, c".into(), "x".into()])
    );
}

#[test]
fn uuids_are_fresh_v4() {
    let t = Template::compile("{{ uuid }}", &no_consts()).expect("compiles");
    let mut r = rng();
    let a = t.render(&UserVars::new(), &mut r).expect("renders");
    let b = t.render(&UserVars::new(), &mut r).expect("renders");
    assert_ne!(a, b);
    let parsed = uuid::Uuid::parse_str(&a).expect("a uuid");
    assert_eq!(parsed.get_version_num(), 4);
}

#[test]
fn bad_templates_say_what_is_wrong() {
    let cases = [
        ("{{ uuid", "closing"),
        ("x }}", "opening"),
        ("{{ }}", "empty"),
        ("{{ rand_int(1) }}", "two integers"),
        ("{{ rand_int(5, 1) }}", "larger"),
        ("{{ rand_int(a, 1) }}", "not an integer"),
        ("{{ nope(1) }}", "unknown function"),
        ("{{ choice() }}", "at least one"),
        ("{{ a b }}", "neither"),
        ("{{ choice(\"a) }}", "unterminated"),
    ];
    for (text, want) in cases {
        let err = Template::compile(text, &no_consts()).expect_err(text);
        assert!(err.to_string().contains(want), "{text}: {err}");
    }
}

#[test]
fn json_bodies_keep_types_and_order() {
    let body = serde_json::json!({
        "agent": "ARIA",
        "message": "hello {{ choice(\"a\") }}",
        "conversation_id": "{{ conversation_id }}",
        "n": "{{ rand_int(7, 7) }}",
        "list": [1, "{{ uuid }}"],
    });
    let t = JsonTemplate::compile(&body, &no_consts()).expect("compiles");
    let mut vars_used = BTreeSet::new();
    t.collect_vars(&mut vars_used);
    assert_eq!(vars_used, BTreeSet::from(["conversation_id".to_owned()]));
    let vars = UserVars::from([("conversation_id".to_owned(), Value::from(12))]);
    let out = t.render(&vars, &mut rng()).expect("renders");
    assert_eq!(out["agent"], "ARIA");
    assert_eq!(out["message"], "hello a");
    assert_eq!(out["conversation_id"], 12);
    assert_eq!(out["n"], 7);
    assert_eq!(out["list"][0], 1);
    assert!(out["list"][1].is_string());
}

#[test]
fn compiled_templates_survive_serialization() {
    let t = Template::compile("a{{x}}{{ rand_int(1,2) }}", &no_consts()).expect("compiles");
    let json = serde_json::to_string(&t).expect("serializes");
    let back: Template = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(t, back);
}

/// Cases of each generated-input property below.
const HOSTILE_CASES: u32 = 4096;

mod hostile {
    use super::*;
    use crate::duration::hostile::{NUMBERS, odd_text, re};
    use proptest::prelude::*;

    /// An integer as `rand_int` may be given it: every limit, any `i64`, or not a number.
    fn integer() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(NUMBERS).prop_map(str::to_owned),
            any::<i64>().prop_map(|n| n.to_string()),
            Just(i64::MIN.to_string()),
            Just(i64::MAX.to_string()),
            Just(" ".to_owned()),
            Just("\"1\"".to_owned()),
        ]
    }

    /// A quoted argument of `choice`, with escapes, the other quote and odd text inside.
    fn quoted() -> impl Strategy<Value = String> {
        (
            prop::sample::select(&['"', '\''][..]),
            prop_oneof![odd_text(), re("[a-z\\\\\"', ()]{0,12}")],
            any::<bool>(),
        )
            .prop_map(|(q, text, closed)| {
                let escaped = text.replace('\\', "\\\\").replace(q, &format!("\\{q}"));
                if closed {
                    format!("{q}{escaped}{q}")
                } else {
                    format!("{q}{escaped}")
                }
            })
    }

    /// What goes between `{{` and `}}`: every function, variables, and near misses.
    fn expression() -> impl Strategy<Value = String> {
        let space = || prop::sample::select(&["", " ", "  ", "\t", "\n", "\u{a0}"][..]);
        prop_oneof![
            (
                space(),
                prop::sample::select(&["uuid", "uuid()", "uuid( )", "UUID", "uuid(1)"][..]),
                space()
            )
                .prop_map(|(a, e, b)| format!("{a}{e}{b}")),
            (integer(), integer(), space(), space())
                .prop_map(|(lo, hi, a, b)| format!("rand_int({a}{lo},{b}{hi})")),
            prop::collection::vec(integer(), 0..4)
                .prop_map(|args| format!("rand_int({})", args.join(", "))),
            prop::collection::vec(prop_oneof![quoted(), re("[a-z0-9 ]{0,6}")], 0..5)
                .prop_map(|args| format!("choice({})", args.join(", "))),
            re("[a-zA-Z_][a-zA-Z0-9_-]{0,30}"),
            prop_oneof![odd_text(), re("[a-z_(),\"' \\\\]{0,20}")],
            Just("agent".to_owned()),
            (1usize..5_000).prop_map(|n| format!("v{}", "_".repeat(n))),
        ]
    }

    /// A template text: literals and expressions, braces sometimes left open or unopened.
    pub(super) fn template_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => prop_oneof![odd_text(), re("[a-z/?=&{} ]{0,10}")],
            4 => (expression(), prop::sample::select(&["{{", "{{", "{{{", "{"][..]), prop::sample::select(&["}}", "}}", "}}}", "}", ""][..]))
                .prop_map(|(e, open, close)| format!("{open}{e}{close}")),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
    }

    /// Constants to fold: none, or `agent` set to odd text.
    pub(super) fn consts() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::option::of(odd_text()).prop_map(|agent| {
            agent
                .map(|a| BTreeMap::from([("agent".to_owned(), a)]))
                .unwrap_or_default()
        })
    }

    /// A value a user may have extracted: any JSON type, numbers at their limits.
    pub(super) fn extracted() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            odd_text().prop_map(Value::from),
            Just(serde_json::json!({"a": [1, {"b": "}}"}], "": null})),
        ]
    }
}

/// No panic; a template that renders whenever its variables are set, or an error quoting
/// the template text.
fn check_template(
    text: &str,
    consts: &BTreeMap<String, String>,
    value: &Value,
    seed: u64,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    let template = match Template::compile(text, consts) {
        Ok(template) => template,
        Err(err) => {
            let prefix = format!("template {text:?}: ");
            prop_assert!(err.to_string().starts_with(&prefix), "{}", err);
            prop_assert!(!err.detail.is_empty());
            return Ok(());
        }
    };
    let mut r = SmallRng::seed_from_u64(seed);
    let vars: UserVars = template
        .vars()
        .map(|name| (name.to_owned(), value.clone()))
        .collect();
    prop_assert!(vars.keys().all(|name| !consts.contains_key(name)));
    let rendered = template.render(&vars, &mut r);
    prop_assert!(rendered.is_ok(), "{:?}: {:?}", text, rendered);
    prop_assert!(template.render_value(&vars, &mut r).is_ok());
    let unset = template.render(&UserVars::new(), &mut r);
    prop_assert_eq!(unset.is_err(), template.vars().next().is_some());
    if !text.contains("{{") {
        prop_assert_eq!(template.as_literal(), Some(text));
    }
    let _ = template.display_pattern();
    let json = serde_json::to_string(&template).expect("a template serializes");
    let back: Template = serde_json::from_str(&json).expect("and reads back");
    prop_assert_eq!(&back, &template);
    let body = serde_json::json!({ "t": text, "list": [text, 1, null], text: [text] });
    match JsonTemplate::compile(&body, consts) {
        Ok(json) => {
            prop_assert!(json.render(&vars, &mut r).is_ok());
            let mut used = BTreeSet::new();
            json.collect_vars(&mut used);
            prop_assert!(used.iter().all(|v| vars.contains_key(v)));
        }
        Err(err) => prop_assert!(false, "compiled alone but not in a body: {}", err),
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(HOSTILE_CASES))]

    #[test]
    fn structured_templates_never_panic_4096_cases(
        text in hostile::template_text(),
        consts in hostile::consts(),
        value in hostile::extracted(),
        seed in proptest::prelude::any::<u64>(),
    ) {
        check_template(&text, &consts, &value, seed)?;
    }

    #[test]
    fn arbitrary_templates_never_panic_4096_cases(
        text in crate::duration::hostile::odd_text(),
        seed in proptest::prelude::any::<u64>(),
    ) {
        check_template(&text, &no_consts(), &Value::from("x"), seed)?;
    }
}

#[test]
fn rand_int_over_the_whole_i64_range() {
    let text = format!("{{{{ rand_int({}, {}) }}}}", i64::MIN, i64::MAX);
    let t = Template::compile(&text, &no_consts()).expect("compiles");
    let mut r = rng();
    for _ in 0..100 {
        let v = t.render_value(&UserVars::new(), &mut r).expect("renders");
        assert!(v.is_i64(), "{v}");
    }
    let err = Template::compile("{{ rand_int(0, 9223372036854775808) }}", &no_consts())
        .expect_err("beyond i64");
    assert!(err.to_string().contains("not an integer"), "{err}");
}
