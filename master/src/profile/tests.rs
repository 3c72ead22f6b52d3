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
