//! The command line becomes settings once: files loaded, web and report options kept.

use clap::Parser as _;

use super::*;

fn args(extra: &[&str]) -> Args {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let scenarios = format!("--scenarios={root}/configs/scenarios");
    let fleet = format!("--fleet={root}/configs/fleet.toml");
    let argv = ["lv-master", scenarios.as_str(), fleet.as_str(), "--no-slo"];
    Args::try_parse_from(argv.iter().chain(extra)).expect("valid flags")
}

#[test]
fn the_flags_run_and_the_files_are_kept() {
    let settings =
        Settings::from_args(&args(&["-u", "7", "-H", "http://example.test", "A"])).expect("valid");
    assert_eq!(settings.flags.users, 7);
    assert_eq!(settings.flags.classes, ["A"]);
    assert_eq!(settings.flags.host.as_deref(), Some("http://example.test"));
    assert_eq!(settings.host, "http://example.test");
    assert!(!settings.scenarios.is_empty());
    assert_eq!((settings.local_workers, settings.expect_workers), (1, 1));
    assert!(settings.notes.is_empty());
}

#[test]
fn expected_workers_replace_the_local_one() {
    let settings = Settings::from_args(&args(&["--expect-workers=3"])).expect("valid");
    assert_eq!((settings.local_workers, settings.expect_workers), (0, 3));
}

#[test]
fn bad_flags_are_refused_before_files_are_read() {
    let err = Settings::from_args(&args(&["--expect-workers=0", "--fleet=/no/fleet.toml"]))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("--expect-workers"), "{err}");
}

#[test]
fn a_resumed_run_checkpoints_to_its_file_unless_told() {
    let resumed = args(&["--resume=old.json"]);
    assert_eq!(
        ReportPaths::from_args(&resumed).checkpoint,
        Some(PathBuf::from("old.json"))
    );
    let told = args(&["--resume=old.json", "--checkpoint=new.json"]);
    assert_eq!(
        ReportPaths::from_args(&told).checkpoint,
        Some(PathBuf::from("new.json"))
    );
}

#[test]
fn the_web_uses_its_own_certificate_else_the_control_planes() {
    let shared = WebConfig::from_args(&args(&["--tls-cert=c.pem", "--tls-key=k.pem"]));
    assert_eq!(
        shared.tls,
        Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
    );
    let own = WebConfig::from_args(&args(&[
        "--tls-cert=c.pem",
        "--tls-key=k.pem",
        "--web-tls-cert=w.pem",
        "--web-tls-key=wk.pem",
    ]));
    assert_eq!(
        own.tls,
        Some((PathBuf::from("w.pem"), PathBuf::from("wk.pem")))
    );
}

#[test]
fn profiles_are_looked_for_beside_the_config_file() {
    assert_eq!(
        WebConfig::from_args(&args(&[])).profiles_dir,
        Path::new("configs")
    );
    let mut with_config = args(&[]);
    with_config.config = Some(PathBuf::from("/etc/lv/light.conf"));
    assert_eq!(
        WebConfig::from_args(&with_config).profiles_dir,
        Path::new("/etc/lv")
    );
}
