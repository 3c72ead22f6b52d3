//! Tests of `scenario`.
use super::*;

fn parse_str(text: &str) -> Result<LoadedScenario, ScenarioError> {
    parse(Path::new("s.toml"), text.to_owned())
}

const MINIMAL: &str = r#"
[[user]]
name = "U"
wait = { between = [1, 2] }

[[user.task]]
tags = ["a"]

[[user.task.step]]
agent = "ATLAS"
path = "/health"
"#;

#[test]
fn minimal_file_parses_with_defaults() {
    let loaded = parse_str(MINIMAL).expect("parses");
    let class = &loaded.file.users[0];
    assert_eq!(class.weight, 1);
    assert_eq!(class.tasks[0].weight, 1);
    assert_eq!(class.tasks[0].steps[0].method, "GET");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let text = MINIMAL.replace("path = \"/health\"", "path = /health");
    let err = parse_str(&text).expect_err("bad toml").to_string();
    assert!(err.starts_with("s.toml:11:"), "{err}");
}

#[test]
fn unknown_keys_are_rejected_with_line() {
    let text = MINIMAL.replace("tags = [\"a\"]", "tagz = [\"a\"]");
    let err = parse_str(&text).expect_err("unknown key").to_string();
    assert!(
        err.starts_with("s.toml:7:") && err.contains("tagz"),
        "{err}"
    );
}

#[test]
fn semantic_errors_name_the_place() {
    let cases = [
        (
            MINIMAL.replace("path = \"/health\"", "path = \"health\""),
            "must start with '/'",
        ),
        (
            MINIMAL.replace("agent = \"ATLAS\"", "url = \"ftp://x\""),
            "s.toml:10",
        ),
        (MINIMAL.replace("[1, 2]", "[2, 1]"), "larger"),
        (
            MINIMAL.replace("path = \"/health\"", "method = \"BREW\""),
            "unknown HTTP method",
        ),
        (
            MINIMAL.replace("path = \"/health\"", "timeout = \"5x\""),
            "invalid duration",
        ),
    ];
    for (text, want) in cases {
        let err = parse_str(&text).expect_err(want).to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn errors_name_the_line_and_key_of_the_value() {
    let text = MINIMAL.replace("path = \"/health\"", "path = \"/health\"\ntimeout = \"5x\"");
    let err = parse_str(&text).expect_err("bad timeout").to_string();
    assert!(
        err.starts_with("s.toml:12: user class \"U\", task \"task 1\", step 1: `timeout`: "),
        "{err}"
    );
    // A check without its key points at its table.
    let text = MINIMAL.replace(
        "tags = [\"a\"]",
        "tags = [\"a\"]\nagent_categories = [\"x\"]",
    );
    let err = parse_str(&text).expect_err("categories").to_string();
    assert!(
        err.starts_with("s.toml:8: user class \"U\", task \"task 1\": `agent_categories`: "),
        "{err}"
    );
    let text = MINIMAL.replace("[[user.task]]\ntags = [\"a\"]\n\n[[user.task.step]]\nagent = \"ATLAS\"\npath = \"/health\"\n", "");
    let err = parse_str(&text).expect_err("no task").to_string();
    assert_eq!(err, "s.toml:2: user class \"U\": has no [[user.task]]");
    use lv_common::source::Key::{Index, Name};
    let keys = [Name("json"), Name("events"), Index(2), Name("type")];
    assert_eq!(key_label(&keys), "json.events[2].type");
    assert_eq!(key_label(&[Name("requires"), Index(1)]), "requires");
    assert_eq!(key_label(&[]), "");
}

#[test]
fn duplicate_classes_across_files_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.toml"), MINIMAL).expect("write");
    std::fs::write(dir.path().join("b.toml"), MINIMAL).expect("write");
    let err = load_paths(&[dir.path().to_owned()])
        .expect_err("dup")
        .to_string();
    assert!(
        err.contains("b.toml:3: user class \"U\" is also defined at "),
        "{err}"
    );
    assert!(err.contains("a.toml:3;"), "{err}");
}

#[test]
fn folders_load_their_toml_files_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("b.toml"), MINIMAL.replace("\"U\"", "\"B\"")).expect("w");
    std::fs::write(dir.path().join("a.toml"), MINIMAL.replace("\"U\"", "\"A\"")).expect("w");
    std::fs::write(dir.path().join("notes.txt"), "x").expect("w");
    let loaded = load_paths(&[dir.path().to_owned()]).expect("loads");
    let names: Vec<_> = loaded
        .iter()
        .map(|l| l.file.users[0].name.as_str())
        .collect();
    assert_eq!(names, ["A", "B"]);
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        load_paths(&[empty.path().to_owned()]),
        Err(ScenarioError::EmptyFolder(_))
    ));
}

/// Cases of the generated-file property below (a file resolves into a plan: slower).
const HOSTILE_CASES: u32 = 2048;

/// Cases of the arbitrary-text property below.
const ARBITRARY_CASES: u32 = 4096;

mod hostile {
    use lv_common::duration::hostile::{
        DURATIONS, edit, mutate, odd_text, re, toml_string, toml_value,
    };
    use proptest::prelude::*;

    /// One TOML table of a scenario file: its header and `(key, value)` lines.
    #[derive(Debug, Clone)]
    pub(super) struct Table {
        header: &'static str,
        fields: Vec<(&'static str, String)>,
    }

    type Field = Option<(&'static str, String)>;

    /// A field that is set with probability `p`.
    fn maybe(
        p: f64,
        key: &'static str,
        value: impl Strategy<Value = String> + 'static,
    ) -> BoxedStrategy<Field> {
        prop::option::weighted(p, value.prop_map(move |v| (key, v))).boxed()
    }

    /// One of `values`, as written.
    fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(values).prop_map(str::to_owned)
    }

    /// One of `values`, as a TOML string.
    fn quoted(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(values).prop_map(toml_string)
    }

    fn tags() -> impl Strategy<Value = String> {
        prop::collection::vec(
            quoted(&["chat", "health", "core", "support", "creative", "x"]),
            0..3,
        )
        .prop_map(|t| format!("[{}]", t.join(", ")))
    }

    fn table(
        header: &'static str,
        fields: Vec<BoxedStrategy<Field>>,
    ) -> impl Strategy<Value = Table> {
        fields.prop_map(move |fields| Table {
            header,
            fields: fields.into_iter().flatten().collect(),
        })
    }

    fn user() -> impl Strategy<Value = Table> {
        let name = prop_oneof![
            6 => re("[A-Z][a-z]{0,6}User").prop_map(|n| toml_string(&n)),
            1 => odd_text().prop_map(|n| toml_string(&n)),
        ];
        table(
            "[[user]]",
            vec![
                name.prop_map(|name| Some(("name", name))).boxed(),
                maybe(
                    0.5,
                    "weight",
                    prop_oneof![4 => 1u32..4, 1 => Just(0)].prop_map(|w| w.to_string()),
                ),
                maybe(
                    0.7,
                    "wait",
                    pick(&[
                        "{ between = [1, 5] }",
                        "{ between = [0.5, 0.5] }",
                        "{ constant = 2 }",
                        "{ constant = 0 }",
                        "{ constant_pacing = 10 }",
                        "{ constant_throughput = 0.5 }",
                        "{ between = [0, 1.7976931348623157e308] }",
                        "{ constant = 1e308 }",
                        "{ constant_pacing = 1.7976931348623157e308 }",
                        "{ constant_throughput = 4.9e-324 }",
                        "{ constant_throughput = 1.7976931348623157e308 }",
                    ]),
                ),
                maybe(0.5, "tags", tags()),
                maybe(0.2, "cookies", pick(&["true", "false"])),
            ],
        )
    }

    fn task() -> impl Strategy<Value = Table> {
        let expansion = prop_oneof![
            6 => Just(Vec::new()),
            2 => Just(vec![("for_each_agent", "true".to_owned())]),
            1 => quoted(&["core", "creative", "security"]).prop_map(|c| vec![
                ("for_each_agent", "true".to_owned()),
                ("agent_categories", format!("[{c}]")),
            ]),
        ];
        (
            table(
                "[[user.task]]",
                vec![
                    maybe(0.6, "name", quoted(&["new", "followup", "health", "é𝔘"])),
                    maybe(
                        0.5,
                        "weight",
                        prop_oneof![4 => 1u32..4, 1 => Just(0)].prop_map(|w| w.to_string()),
                    ),
                    maybe(0.6, "tags", tags()),
                    maybe(0.1, "requires", pick(&["[\"conversation_id\"]", "[]"])),
                ],
            ),
            expansion,
        )
            .prop_map(|(mut table, expansion)| {
                table.fields.extend(expansion);
                table
            })
    }

    /// Paths, names and header values as templates, every function at its limits.
    const TEMPLATES: &[&str] = &[
        "/health",
        "/v1/chat",
        "/x?n={{ rand_int(1, 10) }}&id={{ uuid }}",
        "/{{ choice(\"a\", 'b') }}",
        "/{{ rand_int(-9223372036854775808, 9223372036854775807) }}",
        "/{{ rand_int(9223372036854775807, 9223372036854775807) }}",
        "/é𝔘/\u{202e}",
    ];

    /// Numbers TOML reads, at the limits of its integers and floats.
    const TOML_NUMBERS: &[&str] = &[
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1e308",
        "-1e308",
        "4.9e-324",
        "1.5",
        "nan",
        "inf",
        "-inf",
    ];

    /// Timeouts that parse, up to the longest a `Duration` holds.
    const TIMEOUTS: &[&str] = &[
        "30s",
        "500ms",
        "1.5s",
        "0s",
        "1h30m",
        "18446744073709551615s",
        "18446744073709551615.999999999s",
        "5124095576030431h",
    ];

    /// Values that are the right type but wrong for some key, for a mutation to put anywhere.
    const NEAR_MISSES: &[&str] = &[
        "\"HEALTH\"",
        "\"BREW\"",
        "\"health\"",
        "\"NOPE\"",
        "\"ftp://x\"",
        "\"HTTP://X\"",
        "\"http://\"",
        "\"/{{ nope }}\"",
        "\"/{{ agent }}\"",
        "\"/{{ conversation_id }}\"",
        "\"/{{\"",
        "\"/}}\"",
        "\"/{{ choice() }}\"",
        "\"/{{ rand_int(9223372036854775807, -9223372036854775808) }}\"",
        "\"/{{ rand_int(0, 18446744073709551615) }}\"",
        "[600]",
        "[0]",
        "[65536]",
        "[\"nope\"]",
        "[\"none\"]",
        "{ x = \"no-slash\" }",
        "[{ pointer = \"x\" }]",
        "[{ pointer = \"/x\", equals = \"{{ uuid }}\" }]",
        "{ between = [5, 1] }",
        "{ between = [-1, 1] }",
        "{ between = [nan, 1] }",
        "{ constant = inf }",
        "{ constant = -0.0 }",
        "{ constant_throughput = 0 }",
        "{ constant_pacing = -1e308 }",
        "{ sometimes = 1 }",
        "{ constant = 1, between = [1, 2] }",
    ];

    fn step(header: &'static str) -> impl Strategy<Value = Table> {
        let target = prop_oneof![
            16 => quoted(&["ATLAS", "atlas", "HERMES", "EVENT-BUS", "clio"]).prop_map(|a| Some(("agent", a))),
            1 => quoted(&["https://example.com/", "http://x:1", "https://é𝔘"]).prop_map(|u| Some(("url", u))),
            1 => Just(None),
        ];
        let body = prop_oneof![
            4 => Just(None),
            2 => (quoted(TEMPLATES), pick(TOML_NUMBERS)).prop_map(|(t, n)| {
                Some(("json", format!("{{ message = {t}, list = [{t}, true], n = {n}, deep = {{ a = [[{t}]] }} }}")))
            }),
            1 => quoted(TEMPLATES).prop_map(|t| Some(("body", t))),
        ];
        table(
            header,
            vec![
                target.boxed(),
                maybe(
                    0.5,
                    "method",
                    quoted(&["GET", "post", "PUT", "HEAD", "Delete"]),
                ),
                maybe(0.9, "path", quoted(TEMPLATES)),
                maybe(0.2, "name", quoted(TEMPLATES)),
                maybe(
                    0.3,
                    "kind",
                    quoted(&["health", "chat", "event", "creative"]),
                ),
                maybe(
                    0.2,
                    "headers",
                    quoted(TEMPLATES).prop_map(|v| format!("{{ x-h = {v}, \"\" = \"\" }}")),
                ),
                body.boxed(),
                maybe(0.2, "expect_status", pick(&["[200]", "[100, 599]", "[]"])),
                maybe(
                    0.2,
                    "check",
                    pick(&[
                        "[{ pointer = \"/status\" }]",
                        "[{ pointer = \"\", equals = \"ok\" }]",
                        "[{ pointer = \"/n\", equals = 1e308 }]",
                        "[{ pointer = \"/n\", equals = nan }]",
                        "[{ pointer = \"/n\", equals = -9223372036854775808 }]",
                        "[{ pointer = \"\", equals = [1, { a = inf }] }]",
                        "[{ pointer = \"/d\", equals = 1979-05-27T07:32:00Z }]",
                    ]),
                ),
                maybe(
                    0.3,
                    "extract",
                    pick(&[
                        "{ conversation_id = \"/conversation_id\" }",
                        "{ conversation_id = \"\" }",
                        "{ \"\" = \"/x\" }",
                    ]),
                ),
                maybe(0.3, "timeout", quoted(TIMEOUTS)),
                maybe(0.1, "follow_redirects", pick(&["true", "false"])),
            ],
        )
    }

    /// A whole file: classes, their `on_start` steps, tasks and steps, in file order.
    fn document() -> impl Strategy<Value = Vec<Table>> {
        let class = (
            user(),
            prop::collection::vec(step("[[user.on_start]]"), 0..2),
            prop::collection::vec(
                (
                    task(),
                    prop::collection::vec(step("[[user.task.step]]"), 1..3),
                ),
                1..3,
            ),
        )
            .prop_map(|(user, on_start, tasks)| {
                let mut tables = vec![user];
                tables.extend(on_start);
                for (task, steps) in tasks {
                    tables.push(task);
                    tables.extend(steps);
                }
                tables
            });
        prop::collection::vec(class, 1..3).prop_map(|classes| classes.concat())
    }

    /// What is done to a generated file before it is parsed.
    #[derive(Debug, Clone)]
    enum Mutation {
        None,
        /// One value replaced by a hostile one.
        Value(prop::sample::Index, prop::sample::Index, String),
        /// One key left out.
        Drop(prop::sample::Index, prop::sample::Index),
        /// A key added to a table.
        Extra(prop::sample::Index, &'static str, String),
        /// Characters changed anywhere.
        Edits(Vec<(usize, u8, char)>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let index = any::<prop::sample::Index>;
        let key = prop::sample::select(
            &[
                "name",
                "weight",
                "wait",
                "tagz",
                "step",
                "task",
                "user",
                "path",
                "json",
                "url",
                "agent",
                "body",
                "agent_categories",
                "requires",
                "",
            ][..],
        );
        let value = || {
            prop_oneof![
                1 => toml_value(),
                1 => prop::sample::select(NEAR_MISSES).prop_map(str::to_owned),
                1 => prop::sample::select(DURATIONS).prop_map(toml_string),
            ]
        };
        prop_oneof![
            3 => Just(Mutation::None),
            4 => (index(), index(), value()).prop_map(|(t, f, v)| Mutation::Value(t, f, v)),
            1 => (index(), index()).prop_map(|(t, f)| Mutation::Drop(t, f)),
            2 => (index(), key, value()).prop_map(|(t, k, v)| Mutation::Extra(t, k, v)),
            2 => prop::collection::vec(edit(), 1..4).prop_map(Mutation::Edits),
        ]
    }

    /// Odd text, alone or after the start of a valid file.
    pub(super) fn odd_file() -> impl Strategy<Value = String> {
        prop_oneof![
            odd_text(),
            odd_text().prop_map(|t| format!("[[user]]\nname = \"U\"\n{t}")),
        ]
    }

    /// A scenario file, one thing (at most) wrong in it.
    pub(super) fn scenario_text() -> impl Strategy<Value = String> {
        (document(), mutation()).prop_map(|(mut tables, mutation)| {
            let mut edits = Vec::new();
            let count = tables.len();
            match mutation {
                Mutation::None => {}
                Mutation::Value(t, f, value) => {
                    let fields = &mut tables[t.index(count)].fields;
                    if !fields.is_empty() {
                        let at = f.index(fields.len());
                        fields[at].1 = value;
                    }
                }
                Mutation::Drop(t, f) => {
                    let fields = &mut tables[t.index(count)].fields;
                    if !fields.is_empty() {
                        fields.remove(f.index(fields.len()));
                    }
                }
                Mutation::Extra(t, key, value) => tables[t.index(count)].fields.push((key, value)),
                Mutation::Edits(e) => edits = e,
            }
            let mut text = String::new();
            for table in &tables {
                text.push_str(table.header);
                text.push('\n');
                for (key, value) in &table.fields {
                    text.push_str(&format!("{key} = {value}\n"));
                }
                text.push('\n');
            }
            mutate(&text, &edits)
        })
    }
}

/// An error's message names the file `s.toml`, and the line when there is one.
fn names_the_file(
    err: &ScenarioError,
    text: &str,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    let message = err.to_string();
    match err {
        ScenarioError::Syntax { location, .. } | ScenarioError::Invalid { location, .. } => {
            prop_assert!(location.starts_with("s.toml"), "{:?}", message);
            let rest = &location["s.toml".len()..];
            // `s.toml:LINE`, or `s.toml: user class ...` when no line is known.
            let digits: String = rest
                .strip_prefix(':')
                .unwrap_or_default()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(line) = digits.parse::<usize>() {
                let lines = text.matches('\n').count() + 1;
                prop_assert!(
                    (1..=lines).contains(&line),
                    "{:?}: {} lines",
                    message,
                    lines
                );
            }
            prop_assert!(
                message.len() > location.len() + 2,
                "{:?} says nothing",
                message
            );
        }
        ScenarioError::UnknownClass { .. } | ScenarioError::EmptyPlan(_) => {}
        ScenarioError::Read { .. } | ScenarioError::EmptyFolder(_) => {
            prop_assert!(false, "no file was read: {}", message);
        }
    }
    Ok(())
}

/// No panic; a file that resolves into a plan a worker accepts and can run (its wait
/// rules and templates), or an error naming the file.
fn check_scenario(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    use crate::config::resolve::{PlanOptions, resolve};
    use lv_common::fleet::{FleetMap, HostBase};
    use lv_common::plan::{Body, Plan};
    use lv_common::template::UserVars;
    use proptest::prelude::*;
    use rand::SeedableRng;

    let loaded = match parse(Path::new("s.toml"), text.to_owned()) {
        Ok(loaded) => loaded,
        Err(err) => return names_the_file(&err, text),
    };
    let options = PlanOptions {
        classes: vec![],
        tags: vec![],
        exclude_tags: vec![],
        host: HostBase::parse("http://127.0.0.1").expect("host"),
        default_timeout: std::time::Duration::from_secs(30),
        connection_per_user: false,
    };
    let resolved = match resolve(&[loaded], &FleetMap::builtin(), &options) {
        Ok(resolved) => resolved,
        Err(err) => return names_the_file(&err, text),
    };
    let plan = Plan::from_json(&resolved.plan.to_json());
    prop_assert!(plan.is_ok(), "a worker refuses the plan: {:?}", plan);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
    let value = serde_json::Value::from("v");
    for class in &resolved.plan.classes {
        for task_time in [std::time::Duration::ZERO, std::time::Duration::MAX] {
            let _ = class.wait.next_wait(task_time, &mut rng);
        }
        let steps = class
            .on_start
            .iter()
            .chain(class.tasks.iter().flat_map(|t| &t.steps));
        for step in steps {
            prop_assert!(step.timeout_ms >= 1);
            let mut vars: UserVars = UserVars::new();
            vars.extend(step.path.vars().map(|v| (v.to_owned(), value.clone())));
            for (_, header) in &step.headers {
                vars.extend(header.vars().map(|v| (v.to_owned(), value.clone())));
            }
            if let Body::Json(json) = &step.body {
                let mut names = std::collections::BTreeSet::new();
                json.collect_vars(&mut names);
                vars.extend(names.into_iter().map(|v| (v, value.clone())));
            }
            if let Body::Text(t) = &step.body {
                vars.extend(t.vars().map(|v| (v.to_owned(), value.clone())));
            }
            prop_assert!(step.path.render(&vars, &mut rng).is_ok());
            for (_, header) in &step.headers {
                prop_assert!(header.render(&vars, &mut rng).is_ok());
            }
            match &step.body {
                Body::Json(json) => prop_assert!(json.render(&vars, &mut rng).is_ok()),
                Body::Text(t) => prop_assert!(t.render(&vars, &mut rng).is_ok()),
                Body::Empty => {}
            }
        }
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(HOSTILE_CASES))]

    #[test]
    fn scenario_toml_never_panics_2048_cases(text in hostile::scenario_text()) {
        check_scenario(&text)?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(ARBITRARY_CASES))]

    #[test]
    fn arbitrary_scenario_text_never_panics_4096_cases(
        text in hostile::odd_file(),
    ) {
        check_scenario(&text)?;
    }
}
