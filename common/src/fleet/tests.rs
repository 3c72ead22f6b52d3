//! Tests of `fleet`.
use super::*;

const FILE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../configs/fleet.toml"
));

fn parse(text: &str) -> Result<FleetMap, FleetError> {
    FleetMap::parse(text, Path::new("fleet.toml"))
}

/// The error's line and message, or a panic naming what came back instead.
fn invalid(text: &str) -> (Option<usize>, String) {
    match parse(text) {
        Err(err @ (FleetError::Invalid { line, .. } | FleetError::Syntax { line, .. })) => {
            (line, err.to_string())
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn configs_file_equals_builtin() {
    let map = parse(FILE).expect("configs/fleet.toml parses");
    assert_eq!(map, FleetMap::builtin());
    assert_eq!(map.agents.len(), 20);
    assert_eq!(map.agents[0].name, "ATLAS");
    assert_eq!(map.agents[12].name, "EVENT-BUS");
    assert_eq!(map.agents[19].name, "CLIO");
    let support: Vec<&str> = map
        .agents
        .iter()
        .filter(|a| a.tags.iter().any(|t| t == "support"))
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(support, ["HERMES", "ALOY", "ARGUS", "CHIRON", "SENTINEL"]);
    let bus = map.get("event-bus").expect("event bus");
    assert_eq!(bus.all_tags(), ["core", "event-bus"]);
    assert_eq!(
        map.get("clio").expect("clio").all_tags(),
        ["creative", "clio"]
    );
}

#[test]
fn to_toml_string_round_trips() {
    let builtin = FleetMap::builtin();
    let text = builtin.to_toml_string().expect("written");
    assert!(
        text.starts_with(
            "[[agent]]\nname = \"ATLAS\"\nport = 8007\ncategory = \"core\"\ntags = []\n\n[[agent]]\n"
        ),
        "{text}"
    );
    assert_eq!(parse(&text).expect("builtin"), builtin);
    let odd = FleetMap {
        agents: vec![
            Agent {
                name: "WEIRD \"one\"\\\t".into(),
                port: None,
                category: "caté\u{1}gory".into(),
                tags: vec!["a".into(), "b c".into()],
                url: Some("https://weird.example/base/".into()),
            },
            Agent {
                name: "BOTH".into(),
                port: Some(1),
                category: "core".into(),
                tags: vec![],
                url: Some("http://both:9".into()),
            },
        ],
    };
    assert_eq!(
        parse(&odd.to_toml_string().expect("written")).expect("odd map"),
        odd
    );
}

#[test]
fn validation_errors_name_file_and_line() {
    let head = "[[agent]]\nname = \"A\"\nport = 1\ncategory = \"core\"\n";
    let cases: &[(String, Option<usize>, &str)] = &[
        (String::new(), None, "no agents"),
        ("# only a comment\n".into(), None, "no agents"),
        (
            format!("{head}\n[[agent]]\nname = \"a\"\nport = 2\ncategory = \"core\"\n"),
            Some(7),
            "duplicate agent name \"a\" (first on line 2)",
        ),
        (
            "[[agent]]\nname = \"  \"\nport = 1\ncategory = \"core\"\n".into(),
            Some(2),
            "name is empty",
        ),
        (
            "[[agent]]\nname = \"A\"\ncategory = \"core\"\n".into(),
            Some(1),
            "needs a `port` or a `url`",
        ),
        (
            format!("{head}url = \"ftp://a\"\n"),
            Some(5),
            "must start with http:// or https://",
        ),
        (format!("{head}url = \"http://\"\n"), Some(5), "has no host"),
        (
            "[[agent]]\nname = \"A\"\nport = 1\ncategory = \"\"\n".into(),
            Some(4),
            "category is empty",
        ),
        (
            "[[agent]]\nname = \"A\"\nport = 0\ncategory = \"x\"\n".into(),
            Some(3),
            "port 0",
        ),
        (
            format!("{head}tags = [\"ok\", \"\"]\n"),
            Some(5),
            "empty tag",
        ),
        (format!("{head}prot = 3\n"), Some(5), "unknown field `prot`"),
        (
            format!("{head}\n[[agent]]\nname = \"B\"\nport = 70000\ncategory = \"x\"\n"),
            Some(8),
            "",
        ),
        (
            "[[agent]]\nport = 1\ncategory = \"core\"\n".into(),
            Some(1),
            "missing field `name`",
        ),
        ("[[agent]]\nname = \"A\"\nport = \n".into(), Some(3), ""),
        ("agents = 1\n".into(), Some(1), "unknown field `agents`"),
    ];
    for (text, line, needle) in cases {
        let (got_line, message) = invalid(text);
        assert_eq!(got_line, *line, "line for {text:?}: {message}");
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        let prefix = match line {
            Some(line) => format!("fleet.toml:{line}: "),
            None => "fleet.toml: ".to_string(),
        };
        assert!(message.starts_with(&prefix), "{message:?} lacks {prefix:?}");
    }
}

#[test]
fn load_names_the_missing_path() {
    let err = FleetMap::load(Path::new("/nonexistent/fleet.toml")).expect_err("missing file");
    assert!(err.to_string().contains("/nonexistent/fleet.toml"), "{err}");
}

#[test]
fn host_base_accepts_scheme_and_host() {
    let ok = [
        ("http://localhost", "http", "localhost"),
        (
            "https://staging.example.com/",
            "https",
            "staging.example.com",
        ),
        ("HTTP://127.0.0.1", "http", "127.0.0.1"),
        ("http://[::1]", "http", "[::1]"),
        ("  http://my_host-1  ", "http", "my_host-1"),
    ];
    for (input, scheme, host) in ok {
        let base = HostBase::parse(input).expect(input);
        assert_eq!(
            (base.scheme.as_str(), base.host.as_str()),
            (scheme, host),
            "{input}"
        );
    }
    assert_eq!(
        HostBase::parse("http://[::1]/").expect("v6").to_string(),
        "http://[::1]"
    );
}

#[test]
fn host_base_rejects_with_the_value_quoted() {
    let bad = [
        ("localhost", "expected http://HOST"),
        ("ftp://h", "scheme \"ftp\""),
        ("http://h:80", "port comes from the fleet map"),
        ("http://[::1]:80", "port comes from the fleet map"),
        ("http://h/api", "path"),
        ("http://h?x=1", "path, query"),
        ("http://", "host is empty"),
        ("http:///", "host is empty"),
        ("http://::1", "brackets"),
        ("http://[::1", "unclosed"),
        ("http://[zz]", "IPv6"),
        ("http://us er@h", "letters, digits"),
    ];
    for (input, needle) in bad {
        let err = HostBase::parse(input).expect_err(input).to_string();
        assert!(err.contains(&format!("{input:?}")), "{err} lacks the value");
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }
}

#[test]
fn base_url_from_port_or_url() {
    let mut map = FleetMap::builtin();
    map.agents[1].url = Some("http://hades.leveredge.svc:8008/".into());
    let host = HostBase::parse("https://staging.example.com").expect("host");
    assert_eq!(
        map.base_url("atlas", &host).expect("atlas"),
        "https://staging.example.com:8007"
    );
    assert_eq!(
        map.base_url("HADES", &host).expect("hades"),
        "http://hades.leveredge.svc:8008"
    );
    let err = map
        .base_url("NOSUCH", &host)
        .expect_err("unknown")
        .to_string();
    assert!(
        err.contains("\"NOSUCH\"") && err.contains("ATLAS, HADES, CHRONOS"),
        "{err}"
    );
    map.agents[0].port = None;
    assert!(matches!(
        map.base_url("ATLAS", &host),
        Err(FleetError::NoAddress { .. })
    ));
}

#[test]
fn all_tags_puts_category_first_without_duplicates() {
    let agent = Agent {
        name: "X".into(),
        port: Some(1),
        category: "core".into(),
        tags: vec![
            "support".into(),
            "core".into(),
            "support".into(),
            "x".into(),
        ],
        url: None,
    };
    assert_eq!(agent.all_tags(), ["core", "support", "x"]);
}

/// Cases of each generated-input property below.
const HOSTILE_CASES: u32 = 4096;

mod hostile {
    use crate::duration::hostile::{edit, mutate, odd_text, re, toml_string, toml_value};
    use proptest::prelude::*;

    /// The value text of one field of an `[[agent]]` table, valid (if sometimes odd).
    fn field(key: &'static str) -> BoxedStrategy<String> {
        match key {
            "name" => prop_oneof![
                3 => re("[A-Z][A-Z-]{0,8}").prop_map(|n| toml_string(&n)),
                1 => odd_text().prop_map(|t| toml_string(&t)),
            ]
            .boxed(),
            "port" => (1u16..=u16::MAX).prop_map(|p| p.to_string()).boxed(),
            "category" => prop::sample::select(&["core", "security", "creative", "é𝔘"][..])
                .prop_map(toml_string)
                .boxed(),
            "tags" => prop::collection::vec(
                prop_oneof![
                    3 => re("[a-z-]{1,8}").prop_map(|t| toml_string(&t)),
                    1 => odd_text().prop_map(|t| toml_string(&t)),
                ],
                0..3,
            )
            .prop_map(|tags| format!("[{}]", tags.join(", ")))
            .boxed(),
            _ => prop_oneof![
                prop::sample::select(
                    &[
                        "http://a.svc:8007",
                        "https://b.example/base/",
                        "HTTP://C",
                        "http://",
                        "https:///",
                        "ftp://x",
                        "",
                    ][..]
                )
                .prop_map(toml_string),
                odd_text().prop_map(|t| toml_string(&format!("http://{t}"))),
            ]
            .boxed(),
        }
    }

    /// One `[[agent]]` table's fields, in order; `tags` and `url` often left out.
    fn agent() -> impl Strategy<Value = Vec<(&'static str, String)>> {
        let keys = ["name", "port", "category", "tags", "url"];
        let fields: Vec<_> = keys
            .iter()
            .map(|&key| {
                let required = key == "name" || key == "category";
                prop_oneof![
                    3 => field(key).prop_map(move |v| Some((key, v))),
                    if required { 0 } else { 1 } => Just(None),
                ]
            })
            .collect();
        fields.prop_map(|fields| fields.into_iter().flatten().collect())
    }

    /// What is done to a valid fleet map before it is parsed.
    #[derive(Debug, Clone)]
    enum Mutation {
        /// Nothing.
        None,
        /// One field's value replaced by a hostile one.
        Value(prop::sample::Index, prop::sample::Index, String),
        /// One field left out.
        Drop(prop::sample::Index, prop::sample::Index),
        /// A key added (unknown, repeated or in another case).
        Extra(prop::sample::Index, &'static str, String),
        /// Characters changed anywhere.
        Edits(Vec<(usize, u8, char)>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let index = any::<prop::sample::Index>;
        prop_oneof![
            2 => Just(Mutation::None),
            4 => (index(), index(), toml_value()).prop_map(|(a, f, v)| Mutation::Value(a, f, v)),
            1 => (index(), index()).prop_map(|(a, f)| Mutation::Drop(a, f)),
            1 => (
                index(),
                prop::sample::select(&["prot", "name", "port", "Name", "agent", "\"\""][..]),
                toml_value(),
            )
                .prop_map(|(a, k, v)| Mutation::Extra(a, k, v)),
            2 => prop::collection::vec(edit(), 1..4).prop_map(Mutation::Edits),
        ]
    }

    /// A fleet map of a few agents, with one thing (at most) wrong in it.
    pub(super) fn fleet_text() -> impl Strategy<Value = String> {
        (
            prop_oneof![1 => Just(Vec::new()), 12 => prop::collection::vec(agent(), 1..5)],
            mutation(),
        )
            .prop_map(|(mut agents, mutation)| {
                let count = agents.len();
                let mut edits = Vec::new();
                if !agents.is_empty() {
                    match mutation {
                        Mutation::None => {}
                        Mutation::Value(a, f, value) => {
                            let fields = &mut agents[a.index(count)];
                            let at = f.index(fields.len());
                            fields[at].1 = value;
                        }
                        Mutation::Drop(a, f) => {
                            let fields = &mut agents[a.index(count)];
                            let at = f.index(fields.len());
                            fields.remove(at);
                        }
                        Mutation::Extra(a, key, value) => agents[a.index(count)].push((key, value)),
                        Mutation::Edits(e) => edits = e,
                    }
                }
                let text: String = agents
                    .iter()
                    .map(|fields| {
                        let lines: Vec<String> =
                            fields.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
                        format!("[[agent]]\n{}\n", lines.concat())
                    })
                    .collect();
                mutate(&text, &edits)
            })
    }

    /// A `--host` value: a scheme, odd text, and a suffix.
    pub(super) fn host_text() -> impl Strategy<Value = String> {
        prop_oneof![
            odd_text(),
            (
                prop::sample::select(&["http://", "HTTPS://", "ftp://", "http:/", ""][..]),
                prop_oneof![odd_text(), re("[a-z0-9.:\\[\\]-]{0,20}")],
                prop::sample::select(&["", "/", ":80", "]", "[::1]", "/x", "?q"][..]),
            )
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ]
    }
}

/// No panic; a map that keeps the rules and writes itself back, or an error naming the
/// file and a line of the text.
fn check_fleet(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    let map = match parse(text) {
        Ok(map) => map,
        Err(err @ (FleetError::Syntax { line, .. } | FleetError::Invalid { line, .. })) => {
            let message = err.to_string();
            let lines = text.matches('\n').count() + 1;
            let prefix = match line {
                Some(line) => {
                    prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
                    format!("fleet.toml:{line}: ")
                }
                None => "fleet.toml: ".to_owned(),
            };
            prop_assert!(
                message.starts_with(&prefix),
                "{:?} lacks {:?}",
                message,
                prefix
            );
            prop_assert!(message.len() > prefix.len(), "{:?} says nothing", message);
            return Ok(());
        }
        Err(other) => {
            prop_assert!(false, "parse gave {:?}", other);
            unreachable!()
        }
    };
    prop_assert!(!map.agents.is_empty());
    let host = HostBase::parse("http://localhost").expect("host");
    for agent in &map.agents {
        prop_assert!(agent.port.is_some() || agent.url.is_some());
        prop_assert!(agent.port != Some(0));
        prop_assert!(!agent.name.trim().is_empty() && !agent.category.trim().is_empty());
        let found = map.get(&agent.name).map(|a| &a.name);
        prop_assert_eq!(found, Some(&agent.name), "names are unique ignoring case");
        prop_assert!(map.base_url(&agent.name, &host).is_ok());
    }
    prop_assert_eq!(
        parse(&map.to_toml_string().expect("written")).expect("written back"),
        map
    );
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(HOSTILE_CASES))]

    #[test]
    fn fleet_toml_never_panics_4096_cases(text in hostile::fleet_text()) {
        check_fleet(&text)?;
    }

    #[test]
    fn arbitrary_fleet_text_never_panics_4096_cases(
        text in crate::duration::hostile::odd_text(),
    ) {
        check_fleet(&text)?;
    }

    #[test]
    fn host_bases_never_panic_4096_cases(
        host in hostile::host_text(),
    ) {
        match HostBase::parse(&host) {
            Ok(base) => {
                proptest::prop_assert!(base.scheme == "http" || base.scheme == "https");
                proptest::prop_assert_eq!(HostBase::parse(&base.to_string()).ok(), Some(base));
            }
            Err(err) => {
                // Long values are quoted cut short, as every error message does.
                let quoted = format!("{:?}", crate::bounds::quote(&host));
                proptest::prop_assert!(err.to_string().contains(&quoted), "{}", err);
            }
        }
    }
}
