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
