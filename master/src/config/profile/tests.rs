//! Tests of `profile`.
use super::*;

fn entries(text: &str) -> Result<Vec<(&'static str, String, usize)>, ProfileError> {
    let parsed = parse(Path::new("configs/x.conf"), text)?;
    Ok(parsed
        .into_iter()
        .map(|e| (e.key.name, e.value, e.line))
        .collect())
}

fn words(text: &str) -> Vec<String> {
    let path = Path::new("x.conf");
    let parsed = parse(path, text).expect("parses");
    file_words(path, &parsed)
        .expect("words")
        .into_iter()
        .map(|w| w.word)
        .collect()
}

fn err(text: &str) -> String {
    entries(text).expect_err("fails").to_string()
}

#[test]
fn both_separators_comments_quotes_and_blank_lines() {
    let text = "# header\n\n; also a comment\nusers = 10\nspawn-rate: 1.5\n  run-time=5m   # five minutes\nhost: \"http://h:8080/#a\"\ntoken = 'a b'\n";
    assert_eq!(
        entries(text).expect("parses"),
        [
            ("users", "10".to_owned(), 4),
            ("spawn-rate", "1.5".to_owned(), 5),
            ("run-time", "5m".to_owned(), 6),
            ("host", "http://h:8080/#a".to_owned(), 7),
            ("token", "a b".to_owned(), 8),
        ]
    );
}

#[test]
fn words_per_kind() {
    assert_eq!(
        words(
            "users = 10\nheadless = yes\ninsecure = FALSE\ntags = [health, \"chat\"]\nexclude-tags = slow,\nlocustfile = a.toml, b.toml\n"
        ),
        [
            "--users=10",
            "--headless=true",
            "--insecure=false",
            "--tags=health,chat",
            "--exclude-tags=slow",
            "--scenarios=a.toml,b.toml",
        ]
    );
    // An empty list is a list: it clears what a lower source set.
    assert_eq!(words("tags ="), ["--tags="]);
}

#[test]
fn unknown_key_names_file_line_and_closest_key() {
    assert_eq!(
        err("users = 1\n\n# c\nspawn_rate = 2\n"),
        r#"configs/x.conf:4: unknown key "spawn_rate" (did you mean "spawn-rate"?)"#
    );
    assert_eq!(
        err("qqqqqq = 1"),
        r#"configs/x.conf:1: unknown key "qqqqqq""#
    );
    // Locust keys lv has no flag for are refused too.
    assert!(err("class-picker = true").contains("unknown key \"class-picker\""));
}

#[test]
fn malformed_lines_are_errors_with_their_line() {
    assert_eq!(
        err("users = 1\nheadless\n"),
        r#"configs/x.conf:2: expected `key = value` or `key: value`, found "headless""#
    );
    assert!(err("= 3").starts_with("configs/x.conf:1: expected"));
    assert!(err("[locust]").starts_with("configs/x.conf:1: expected"));
    assert!(err("two words = 3").starts_with("configs/x.conf:1: expected"));
}

#[test]
fn bad_booleans_empty_values_and_duplicates_are_errors() {
    let path = Path::new("p.conf");
    let parsed = parse(path, "\nheadless = maybe").expect("parses");
    let e = file_words(path, &parsed).expect_err("bad bool").to_string();
    assert_eq!(
        e,
        r#"p.conf:2: "headless" must be true or false, found "maybe""#
    );
    let parsed = parse(path, "users =  # none").expect("parses");
    let e = file_words(path, &parsed).expect_err("empty").to_string();
    assert_eq!(e, r#"p.conf:1: "users" needs a value"#);
    assert_eq!(
        err("locustfile = a\nusers = 1\nscenarios = b"),
        r#"configs/x.conf:3: "scenarios" sets the same option as line 1"#
    );
}

#[test]
fn env_words_follow_the_key_table() {
    let env = |name: &str| {
        match name {
            "LV_USERS" => Some("20"),
            "LV_SPAWN_RATE" => Some("2"),
            "LV_EXCLUDE_TAGS" => Some("[slow, burst]"),
            "LV_HEADLESS" => Some("true"),
            "HOST" => Some("http://a"),
            "LV_HOST" => Some("http://b"),
            "LV_TOKEN" => Some("s3cret"),
            "LV_RUN_TIME" => Some("  "),
            _ => None,
        }
        .map(str::to_owned)
    };
    let words: Vec<_> = env_words(env)
        .expect("words")
        .into_iter()
        .map(|w| w.word)
        .collect();
    assert_eq!(
        words,
        [
            "--users=20",
            "--spawn-rate=2",
            "--host=http://a",
            "--host=http://b",
            "--exclude-tags=slow,burst",
            "--headless=true",
            "--token=s3cret",
        ]
    );
}

#[test]
fn env_errors_name_the_variable() {
    let env = |name: &str| (name == "LV_ONLY_SUMMARY").then(|| "sometimes".to_owned());
    assert_eq!(
        env_words(env).expect_err("bad bool").to_string(),
        r#"environment variable LV_ONLY_SUMMARY: "only-summary" must be true or false, found "sometimes""#
    );
}

#[test]
fn env_names_are_lv_plus_the_key() {
    let names = |name: &str| env_names(lookup(name).expect("known key"));
    assert_eq!(names("spawn-rate"), ["LV_SPAWN_RATE"]);
    assert_eq!(
        names("expect-workers-max-wait"),
        ["LV_EXPECT_WORKERS_MAX_WAIT"]
    );
    assert_eq!(names("host"), ["HOST", "LV_HOST"]);
}

#[test]
fn config_path_in_both_forms() {
    let find = |words: &[&str]| {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        config_path(&words)
    };
    assert_eq!(
        find(&["-u", "3", "--config", "a.conf"]),
        Some("a.conf".into())
    );
    assert_eq!(find(&["--config=b.conf", "-u", "3"]), Some("b.conf".into()));
    assert_eq!(
        find(&["--config=a.conf", "--config", "c.conf"]),
        Some("c.conf".into())
    );
    assert_eq!(find(&["--", "--config", "a.conf"]), None);
    assert_eq!(find(&["--config"]), None);
    assert_eq!(find(&["--config="]), None);
    assert_eq!(find(&["--configs", "a.conf"]), None);
}

#[test]
fn profile_name_is_the_stem() {
    assert_eq!(
        profile_name(Path::new("configs/light.conf")).as_deref(),
        Some("light")
    );
    assert_eq!(
        profile_name(Path::new("/x/my.profile.conf")).as_deref(),
        Some("my.profile")
    );
}

#[test]
fn suggestions_only_for_near_misses() {
    assert_eq!(closest("user"), Some("users"));
    assert_eq!(closest("Run-Time"), Some("run-time"));
    assert_eq!(closest("exclude_tag"), Some("exclude-tags"));
    assert_eq!(closest("banana"), None);
}

/// Cases of each generated-input property below.
const HOSTILE_CASES: u32 = 2048;

mod hostile {
    use super::KEYS;
    use proptest::prelude::*;

    /// Values at every limit, for any key: numbers, durations, rates, hosts, quotes.
    pub(super) const VALUES: &[&str] = &[
        "0",
        "-1",
        "1",
        "10",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999999999999",
        "1e308",
        "1e309",
        "-1e308",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "0.5",
        "1.",
        "30s",
        "5m",
        "0s",
        "18446744073709551615s",
        "18446744073709551615.999999999s",
        "5124095576030432h",
        "1h1h",
        "200/s",
        "1e308/s",
        "NaN/s",
        "12/m",
        "http://localhost",
        "https://[::1]",
        "http://a:80",
        "ftp://x",
        "true",
        "yes",
        "off",
        "maybe",
        "TRUE",
        "\"\"",
        "''",
        "\"",
        "'a\"",
        "[a, b]",
        "[\"a\", 'b']",
        "[",
        "]",
        "[]",
        ",,,",
        "a,,b, ,",
        "x # comment",
        "x;y",
        "x ;y",
        "http://x/#frag",
        "\u{0}",
        "\u{feff}",
        "\u{202e}",
        "é𝔘",
        "--users=5",
        "-u",
        "=",
        ":",
    ];

    /// A value: one of [`VALUES`], odd text, or a very long one.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => prop::sample::select(VALUES).prop_map(str::to_owned),
            2 => proptest::string::string_regex("\\PC{0,16}").expect("regex"),
            1 => (1usize..5_000).prop_map(|n| "9".repeat(n)),
            1 => (1usize..5_000).prop_map(|n| "é".repeat(n)),
        ]
    }

    /// A key: known (in any case, with `_` for `-`), near misses, long or not a key.
    fn key() -> impl Strategy<Value = String> {
        let known = prop::sample::select(KEYS).prop_map(|k| k.name.to_owned());
        prop_oneof![
            40 => known.clone(),
            1 => known.clone().prop_map(|k| k.replace('-', "_")),
            1 => known.prop_map(|k| k.to_ascii_uppercase()),
            1 => prop::sample::select(&["user", "class-picker", "", "two words", "[locust]", "é", "-"][..])
                .prop_map(str::to_owned),
            1 => (1usize..3_000).prop_map(|n| "a".repeat(n)),
        ]
    }

    /// One line of a profile, with its line end; now and then one that is not a setting.
    fn line() -> impl Strategy<Value = String> {
        let separator = prop_oneof![
            12 => prop::sample::select(&["=", ":", " = ", ": ", "\t=\t"][..]),
            1 => prop::sample::select(&["==", "=:", " ", ""][..]),
        ];
        let setting = (
            prop::sample::select(&["", "", " ", "\t"][..]),
            key(),
            separator,
            value(),
            prop::sample::select(&["", "", "", " # note", " ; note", "#x", "\t# x"][..]),
        )
            .prop_map(|(indent, key, sep, value, comment)| {
                format!("{indent}{key}{sep}{value}{comment}")
            });
        (
            prop_oneof![
                36 => setting,
                3 => prop::sample::select(&["", "   ", "# comment", "; comment = 1", "#"][..])
                    .prop_map(str::to_owned),
                1 => prop::sample::select(&["[locust]", "headless", "\u{feff}users = 1", "= 1"][..])
                    .prop_map(str::to_owned),
                1 => proptest::string::string_regex("\\PC{0,30}").expect("regex"),
            ],
            prop_oneof![
                12 => Just("\n"),
                1 => prop::sample::select(&["\r\n", "\r", ""][..]),
            ],
        )
            .prop_map(|(line, end)| format!("{line}{end}"))
    }

    /// A profile of a few lines.
    pub(super) fn profile() -> impl Strategy<Value = String> {
        prop::collection::vec(line(), 0..8).prop_map(|lines| lines.concat())
    }

    /// Environment variables: some `LV_<KEY>` (and `HOST`) set to hostile values.
    pub(super) fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop::sample::select(KEYS)
            .prop_flat_map(|k| prop::sample::select(super::env_names(&k)));
        prop::collection::vec((name, value()), 0..4)
    }
}

/// Files the generated profiles' words start from, so that a run can be configured.
struct Base {
    _dir: tempfile::TempDir,
    words: Vec<String>,
}

fn base() -> &'static Base {
    static BASE: std::sync::OnceLock<Base> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = dir.path().join("fleet.toml");
        std::fs::write(&fleet, "[[agent]]\nname = \"ATLAS\"\nport = 8007\ncategory = \"core\"\n")
            .expect("fleet");
        let scenario = dir.path().join("s.toml");
        let text = "[[user]]\nname = \"U\"\n[[user.task]]\ntags = [\"a\"]\n[[user.task.step]]\nagent = \"ATLAS\"\npath = \"/health\"\n";
        std::fs::write(&scenario, text).expect("scenario");
        let words = vec![
            format!("--fleet={}", fleet.display()),
            format!("--scenarios={}", scenario.display()),
            "--no-slo".to_owned(),
        ];
        Base { _dir: dir, words }
    })
}

/// An error's origin: the file and a line of it, or the variable.
fn names_the_origin(
    err: &ProfileError,
    lines: usize,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    let message = err.to_string();
    prop_assert!(
        message.chars().count() < 1_000,
        "a long message: {:?}",
        message
    );
    let origin = match err {
        ProfileError::Read { .. } => {
            prop_assert!(false, "nothing was read: {}", message);
            unreachable!()
        }
        ProfileError::Malformed { origin, .. }
        | ProfileError::UnknownKey { origin, .. }
        | ProfileError::Duplicate { origin, .. }
        | ProfileError::Empty { origin, .. }
        | ProfileError::BadBool { origin, .. }
        | ProfileError::InvalidValue { origin, .. } => origin,
    };
    match origin {
        Origin::File { path, line } => {
            prop_assert_eq!(path.as_path(), Path::new("x.conf"));
            prop_assert!((1..=lines).contains(line), "line {} of {}", line, lines);
            let prefix = format!("x.conf:{line}: ");
            prop_assert!(message.starts_with(&prefix), "{:?}", message);
        }
        Origin::Env(name) => {
            let prefix = format!("environment variable {name}: ");
            prop_assert!(message.starts_with(&prefix), "{:?}", message);
        }
        Origin::ConfigName => prop_assert!(false, "no --config: {}", message),
    }
    Ok(())
}

/// No panic anywhere from a profile's text (and the environment) to a run's settings:
/// each stage gives its value or an error naming the file and line, or the variable.
fn check_profile(
    text: &str,
    env: &[(String, String)],
) -> Result<(), proptest::test_runner::TestCaseError> {
    use clap::Parser;
    use proptest::prelude::*;
    let path = Path::new("x.conf");
    let lines = text.lines().count().max(1);
    let entries = match parse(path, text) {
        Ok(entries) => entries,
        Err(err) => return names_the_origin(&err, lines),
    };
    for entry in &entries {
        prop_assert!((1..=lines).contains(&entry.line));
    }
    let mut words = match file_words(path, &entries) {
        Ok(words) => words,
        Err(err) => return names_the_origin(&err, lines),
    };
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    match env_words(lookup) {
        Ok(env) => words.extend(env),
        Err(err) => return names_the_origin(&err, lines),
    }
    for word in &words {
        prop_assert!(word.word.starts_with("--"), "{:?}", word);
        // What `cli::load_args` does with each word: parsed alone, so that a bad value is
        // reported with its origin.
        let _ = crate::config::cli::Args::try_parse_from(["lv-master", word.word.as_str()]);
    }
    let argv = std::iter::once("lv-master".to_owned())
        .chain(base().words.iter().cloned())
        .chain(words.into_iter().map(|w| w.word));
    if let Ok(args) = crate::config::cli::Args::try_parse_from(argv) {
        let _ = crate::config::MasterConfig::from_args(&args);
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(HOSTILE_CASES))]

    #[test]
    fn profile_files_never_panic_2048_cases(
        text in hostile::profile(),
        env in hostile::environment(),
    ) {
        check_profile(&text, &env)?;
    }
}

/// A key of a million characters is refused at once, not after comparing it with every
/// known key character by character, and the message quotes it cut short.
#[test]
fn a_huge_unknown_key_is_refused_quickly() {
    let key = "a".repeat(1_000_000);
    let started = std::time::Instant::now();
    let message = err(&format!("{key} = 1"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        message.starts_with("configs/x.conf:1: unknown key"),
        "{message}"
    );
    assert!(message.ends_with("... (1000000 characters)\""), "{message}");
    let message = err(&format!("users{}", "é".repeat(100_000)));
    assert!(message.ends_with("... (100005 characters)\""), "{message}");
}
