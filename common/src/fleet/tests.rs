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
    assert_eq!(parse(&builtin.to_toml_string()).expect("builtin"), builtin);
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
    assert_eq!(parse(&odd.to_toml_string()).expect("odd map"), odd);
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
