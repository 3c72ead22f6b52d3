//! Tests of `cli`.
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("lv-master").chain(args.iter().copied()))
}

#[test]
fn locust_flags_parse() {
    let args = parse(&[
        "-u",
        "50",
        "-r",
        "5",
        "-t",
        "1h30m",
        "-T",
        "health,chat",
        "-E",
        "slow",
        "--expect-workers",
        "4",
        "--expect-workers-max-wait",
        "30",
        "HealthCheckUser",
        "AriaChatUser",
        "--headless",
    ])
    .expect("parses");
    assert_eq!(args.users, 50);
    assert_eq!(args.spawn_rate, 5.0);
    assert_eq!(args.run_time, Some(Duration::from_secs(5400)));
    assert_eq!(args.tags, ["health", "chat"]);
    assert_eq!(args.exclude_tags, ["slow"]);
    assert_eq!(args.expect_workers, Some(4));
    assert_eq!(args.expect_workers_max_wait, Some(Duration::from_secs(30)));
    assert_eq!(args.classes, ["HealthCheckUser", "AriaChatUser"]);
    assert!(args.headless);
}

#[test]
fn bad_durations_and_numbers_are_rejected() {
    let err = parse(&["-t", "5x"]).expect_err("bad duration").to_string();
    assert!(err.contains("5x"), "{err}");
    assert!(parse(&["-u", "-3"]).is_err());
    assert!(parse(&["-u", "many"]).is_err());
}

#[test]
fn a_shape_conflicts_with_explicit_users_or_spawn_rate() {
    for flag in ["-u", "-r"] {
        let err = parse(&[flag, "5", "--shape", "spike.toml"])
            .expect_err(flag)
            .to_string();
        assert!(err.contains("--shape"), "{err}");
        let named = if flag == "-u" {
            "--users"
        } else {
            "--spawn-rate"
        };
        assert!(err.contains(named), "{err}");
    }
    let args = parse(&["--shape", "spike.toml", "-t", "1m"]).expect("parses");
    assert_eq!(args.shape, Some(PathBuf::from("spike.toml")));
    // A profile's `users` is as explicit as the flag.
    let (_dir, path) = profile("users = 10\nshape = spike.toml\n");
    let err = load(&["--config", &path], &[])
        .expect_err("conflict")
        .to_string();
    assert!(err.contains("--users") && err.contains("--shape"), "{err}");
}

/// Writes `text` to a profile file in a temp dir.
fn profile(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("smoke.conf");
    std::fs::write(&path, text).expect("write profile");
    let path = path.to_str().expect("utf-8 path").to_owned();
    (dir, path)
}

fn load(words: &[&str], env: &[(&str, &str)]) -> Result<Args, LoadError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_args(
        std::iter::once("lv-master").chain(words.iter().copied()),
        move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
    )
}

#[test]
fn repeated_flags_keep_the_last_and_lists_are_replaced() {
    let args = parse(&[
        "-u", "2", "-u", "3", "-T", "a,b", "-T", "c", "--tags", "d", "e",
    ])
    .expect("parses");
    assert_eq!(args.users, 3);
    assert_eq!(args.tags, ["d", "e"]);
    let args = parse(&["-f", "x.toml", "--scenarios=y.toml,z.toml"]).expect("parses");
    assert_eq!(args.scenarios, [PathBuf::from("y.toml"), "z.toml".into()]);
    let args = parse(&["--headless", "--headless=false", "--insecure=yes"]).expect("parses");
    assert!(!args.headless && args.insecure);
    // A bare boolean flag does not swallow the user class after it.
    let args = parse(&["--headless", "HealthCheckUser"]).expect("parses");
    assert!(args.headless);
    assert_eq!(args.classes, ["HealthCheckUser"]);
}

#[test]
fn profile_then_env_then_command_line() {
    let (_dir, path) = profile(
        "users = 10\nspawn-rate = 1\nrun-time = 5m\nheadless = true\ntags = health, chat\nhost = http://file\n",
    );
    let args = load(&["--config", &path], &[]).expect("loads");
    assert_eq!(args.users, 10);
    assert_eq!(args.run_time, Some(Duration::from_secs(300)));
    assert!(args.headless);
    assert_eq!(args.tags, ["health", "chat"]);
    assert_eq!(args.host, "http://file");
    assert_eq!(args.profile_name.as_deref(), Some("smoke"));

    let env = [
        ("LV_USERS", "20"),
        ("LV_HEADLESS", "false"),
        ("LV_TAGS", "event-bus"),
        ("HOST", "http://env"),
    ];
    let args = load(&["--config", &path], &env).expect("loads");
    assert_eq!(args.users, 20);
    assert!(!args.headless);
    assert_eq!(args.tags, ["event-bus"]);
    assert_eq!(args.host, "http://env");
    assert_eq!(args.spawn_rate, 1.0, "untouched keys keep the file's value");

    let words = [
        "-u",
        "30",
        "--headless",
        "-T",
        "creative",
        "-H",
        "http://cli",
        "--profile-name",
        "mine",
        &format!("--config={path}"),
    ];
    let args = load(&words, &env).expect("loads");
    assert_eq!(args.users, 30);
    assert!(args.headless);
    assert_eq!(args.tags, ["creative"]);
    assert_eq!(args.host, "http://cli");
    assert_eq!(args.profile_name.as_deref(), Some("mine"));
}

#[test]
fn env_alone_token_and_loglevel() {
    let args = load(
        &[],
        &[
            ("LV_TOKEN", "s3cret"),
            ("LV_LOGLEVEL", "debug"),
            ("LV_HOST", "http://h"),
        ],
    )
    .expect("loads");
    assert_eq!(args.token, "s3cret");
    assert_eq!(args.loglevel, "debug");
    assert_eq!(args.host, "http://h");
    assert_eq!(args.profile_name, None);
    assert_eq!(args.users, 1, "built-in default");
}

#[test]
fn bad_values_name_their_file_line_or_variable() {
    let (_dir, path) = profile("users = 3\n\nrun-time = 10 minutes\n");
    let err = load(&["--config", &path], &[])
        .expect_err("bad duration")
        .to_string();
    assert!(
        err.starts_with(&format!("{path}:3: invalid value '10 minutes'")),
        "{err}"
    );
    let err = load(&[], &[("LV_USERS", "many")])
        .expect_err("bad number")
        .to_string();
    assert!(
        err.starts_with("environment variable LV_USERS: invalid value 'many'"),
        "{err}"
    );
    let (_dir, path) = profile("users = 3\nqqqqqq = 1\n");
    let err = load(&["--config", &path], &[])
        .expect_err("unknown")
        .to_string();
    assert_eq!(err, format!("{path}:2: unknown key \"qqqqqq\""));
    let err = load(&["--config", "/no/such.conf"], &[])
        .expect_err("missing")
        .to_string();
    assert!(
        err.starts_with("cannot read config file /no/such.conf: "),
        "{err}"
    );
    // The user's own mistakes stay clap's, with its usage text.
    assert!(matches!(load(&["-u", "x"], &[]), Err(LoadError::Clap(_))));
    assert!(matches!(load(&["--config"], &[]), Err(LoadError::Clap(_))));
}

#[test]
fn every_profile_key_is_a_flag_of_its_kind() {
    use clap::CommandFactory as _;
    let command = Args::command();
    for key in profile::KEYS {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(key.flag))
            .unwrap_or_else(|| panic!("{} names no flag", key.name));
        let takes_list = arg.get_value_delimiter() == Some(',');
        assert_eq!(takes_list, key.kind == profile::Kind::List, "{}", key.name);
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        assert_eq!(optional, key.kind == profile::Kind::Bool, "{}", key.name);
    }
}

#[test]
fn the_shipped_profiles_have_the_old_suite_values() {
    let configs = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");
    for (name, users, rate, minutes) in [
        ("light", 10, 1.0, 5),
        ("medium", 50, 5.0, 10),
        ("heavy", 200, 20.0, 15),
        ("stress", 500, 50.0, 5),
    ] {
        let path = format!("{configs}/{name}.conf");
        let args = load(&["--config", &path], &[]).expect("profile loads");
        assert_eq!(args.users, users, "{name}");
        assert_eq!(args.spawn_rate, rate, "{name}");
        assert_eq!(
            args.run_time,
            Some(Duration::from_secs(minutes * 60)),
            "{name}"
        );
        assert!(args.headless, "{name}");
        assert_eq!(args.profile_name.as_deref(), Some(name));
    }
}

fn parse_words(words: &[&str]) -> Result<Command, LoadError> {
    super::parse(
        std::iter::once("lv-master").chain(words.iter().copied()),
        |_| None,
    )
}

#[test]
fn parse_tells_the_commands_apart() {
    let run = parse_words(&["HealthCheckUser", "-f", "configs/scenarios", "-u", "2"]);
    let Ok(Command::Run(args)) = run else {
        panic!("a run: {run:?}");
    };
    assert_eq!(args.classes, ["HealthCheckUser"]);
    assert_eq!(args.users, 2);
    let compare = parse_words(&["compare", "a.json", "b.json", "--max-regression", "5"]);
    let Ok(Command::Compare(args)) = compare else {
        panic!("compare: {compare:?}");
    };
    assert_eq!(
        (args.base.to_str(), args.new.to_str(), args.max_regression),
        (Some("a.json"), Some("b.json"), 5.0)
    );
    let report = parse_words(&["report", "--from", "run.json", "--html", "r.html"]);
    let Ok(Command::Report(args)) = report else {
        panic!("report: {report:?}");
    };
    assert_eq!(args.from.to_str(), Some("run.json"));
    assert_eq!(
        args.html.as_deref().and_then(|p| p.to_str()),
        Some("r.html")
    );
    // A class named like a command after other words is still a class.
    let Ok(Command::Run(args)) = parse_words(&["-u", "1", "report"]) else {
        panic!("a run");
    };
    assert_eq!(args.classes, ["report"]);
    assert!(matches!(
        parse_words(&["compare", "a.json"]),
        Err(LoadError::Clap(_))
    ));
    assert!(matches!(parse_words(&["report"]), Err(LoadError::Clap(_))));
    let explain = parse_words(&["explain-exit", "3"]);
    let Ok(Command::ExplainExit(args)) = explain else {
        panic!("explain-exit: {explain:?}");
    };
    assert_eq!(args.code, 3);
    for bad in [
        &["explain-exit"][..],
        &["explain-exit", "256"],
        &["explain-exit", "x"],
    ] {
        let parsed = parse_words(bad);
        assert!(
            matches!(parsed, Err(LoadError::Clap(_))),
            "{bad:?}: {parsed:?}"
        );
    }
}

#[test]
fn the_ready_file_is_a_flag_and_a_profile_key() {
    let args = parse(&["--ready-file", "run/ready.json"]).expect("parses");
    assert_eq!(
        args.ready_file.as_deref().and_then(|p| p.to_str()),
        Some("run/ready.json")
    );
    let args = load(&[], &[("LV_READY_FILE", "env.json")]).expect("loads");
    assert_eq!(
        args.ready_file.as_deref().and_then(|p| p.to_str()),
        Some("env.json")
    );
    assert_eq!(parse(&[]).expect("parses").ready_file, None);
}

#[test]
fn help_lists_the_other_commands() {
    let Err(LoadError::Clap(help)) = parse_words(&["--help"]) else {
        panic!("--help is clap's");
    };
    assert!(!help.use_stderr(), "help goes to stdout, exit 0");
    let text = help.render().to_string();
    for needle in [
        "lv-master compare BASE.json NEW.json",
        "lv-master report --from FILE",
        "lv-master explain-exit CODE",
        "lv-master check [RUN OPTIONS] [--json]",
        "USER_CLASS",
        "--expect-workers",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

#[test]
fn command_help_names_the_command() {
    for (command, usage) in [
        ("compare", "Usage: lv-master compare [OPTIONS] <BASE> <NEW>"),
        ("report", "Usage: lv-master report [OPTIONS] --from <FILE>"),
        ("explain-exit", "Usage: lv-master explain-exit <CODE>"),
        ("check", "Usage: lv-master check [OPTIONS] [USER_CLASS]..."),
    ] {
        let Err(LoadError::Clap(help)) = parse_words(&[command, "--help"]) else {
            panic!("{command} --help is clap's");
        };
        let text = help.render().to_string();
        assert!(text.contains(usage), "{usage} in\n{text}");
    }
}

#[test]
fn try_takes_a_runs_words_environment_and_verbose() {
    let env = |name: &str| (name == "LV_TAGS").then(|| "chat".to_owned());
    let words = [
        "lv-master",
        "try",
        "AriaChatUser",
        "-H",
        "http://t",
        "--verbose",
    ];
    let parsed = super::parse(words, env);
    let Ok(Command::Try(args)) = parsed else {
        panic!("try: {parsed:?}");
    };
    assert!(args.verbose);
    assert_eq!(args.run.classes, ["AriaChatUser"]);
    assert_eq!(args.run.host, "http://t");
    assert_eq!(args.run.tags, ["chat"], "LV_TAGS applies as to a run");
    let Ok(Command::Try(args)) = parse_words(&["try"]) else {
        panic!("a bare try");
    };
    assert!(!args.verbose && args.run.classes.is_empty());
    let bad = parse_words(&["try", "--users", "many"]);
    assert!(matches!(bad, Err(LoadError::Clap(_))), "{bad:?}");
}

#[test]
fn iterations_come_from_the_flag_a_profile_or_the_environment() {
    assert_eq!(
        parse(&["-i", "3"]).expect("-i").iterations.map(|n| n.get()),
        Some(3)
    );
    assert_eq!(parse(&[]).expect("none").iterations, None);
    for bad in ["0", "-1", "three", "1.5"] {
        let word = format!("--iterations={bad}");
        let err = parse(&[&word]).expect_err(bad).to_string();
        assert!(err.contains("a whole number >= 1"), "{err}");
    }
    let (_dir, path) = profile("iterations = 2\n");
    let args = load(&["--config", &path], &[]).expect("loads");
    assert_eq!(args.iterations.map(|n| n.get()), Some(2));
    let args = load(&["--config", &path], &[("LV_ITERATIONS", "5")]).expect("loads");
    assert_eq!(args.iterations.map(|n| n.get()), Some(5));
    let (_dir, path) = profile("users = 3\niterations = 0\n");
    let err = load(&["--config", &path], &[])
        .expect_err("zero")
        .to_string();
    assert!(
        err.starts_with(&format!("{path}:2: invalid value '0'")),
        "{err}"
    );
    let err = load(&[], &[("LV_ITERATIONS", "none")])
        .expect_err("garbage")
        .to_string();
    assert!(
        err.starts_with("environment variable LV_ITERATIONS: invalid value 'none'"),
        "{err}"
    );
}

#[test]
fn check_takes_a_runs_options_and_json() {
    let parsed = parse_words(&["check", "--json", "-u", "10", "EventBusUser", "-T", "a,b"]);
    let Ok(Command::Check(check)) = parsed else {
        panic!("check: {parsed:?}");
    };
    assert!(check.json);
    assert_eq!(check.run.users, 10);
    assert_eq!(check.run.classes, ["EventBusUser"]);
    assert_eq!(check.run.tags, ["a", "b"]);
    assert_eq!(check.run.json, None);
    let Ok(Command::Check(check)) = parse_words(&["check"]) else {
        panic!("check alone");
    };
    assert!(!check.json);
    assert_eq!(check.run.scenarios, [PathBuf::from("configs/scenarios")]);
    // The environment applies as to a run; `--json` after `--` is a class.
    let parsed = super::parse(["lv-master", "check", "--", "--json"], |name| {
        (name == "LV_USERS").then(|| "7".to_owned())
    });
    let Ok(Command::Check(check)) = parsed else {
        panic!("check: {parsed:?}");
    };
    assert_eq!((check.json, check.run.users), (false, 7));
    assert_eq!(check.run.classes, ["--json"]);
    let Err(LoadError::Clap(err)) = parse_words(&["check", "--json=plan.json"]) else {
        panic!("--json takes no value");
    };
    assert!(err.use_stderr());
    assert!(err.render().to_string().contains("--json without a value"));
    let Err(LoadError::Clap(help)) = parse_words(&["check", "--help"]) else {
        panic!("help");
    };
    let text = help.render().to_string();
    assert!(text.contains("sends no request"), "{text}");
    assert!(text.contains("--json    Print the plan"), "{text}");
}
