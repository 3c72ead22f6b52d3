//! The SLO part of the configuration: which table the verdicts use and at which load
//! level, or why verdicts are off.

use std::path::PathBuf;

use super::error::ConfigError;
use crate::config::cli::Args;
use crate::slo::SloTable;

/// The SLO table and the load level whose targets apply.
#[derive(Debug, Clone)]
pub struct SloSetup {
    /// The targets.
    pub table: SloTable,
    /// Level after aliases (`stress` -> `heavy`).
    pub level: String,
    /// Level as asked for (`stress`).
    pub asked: String,
    /// `--abort-on-slo`: every rule of the table stops the run when it fails.
    pub abort_on_slo: bool,
}

/// The SLO table used when `--slo` is not given.
pub const DEFAULT_SLO_FILE: &str = "configs/slo.toml";

/// The SLO setup: off with `--no-slo`; the level from `--slo-level`, else the profile name.
/// Verdicts are off, with a note saying how to turn them on, when there is no level, or when
/// the level only comes from the profile's name and the default table is absent or does not
/// know it (a custom profile). An explicit `--slo` or `--slo-level` that does not work is an
/// error, and so is `--abort-on-slo` when verdicts are off (it would stop nothing).
pub(super) fn slo_setup(args: &Args) -> Result<(Option<SloSetup>, Option<String>), ConfigError> {
    let (setup, note) = verdicts(args)?;
    match setup {
        None if args.abort_on_slo => {
            let why = if args.no_slo {
                "--no-slo turns the SLO verdicts off".to_owned()
            } else {
                note.unwrap_or_default()
            };
            Err(ConfigError::InvalidOption {
                option: "--abort-on-slo",
                detail: format!("it needs SLO verdicts, but {why}"),
            })
        }
        setup => Ok((setup, note)),
    }
}

/// The SLO setup the verdicts' flags make, before `--abort-on-slo` is checked against it.
fn verdicts(args: &Args) -> Result<(Option<SloSetup>, Option<String>), ConfigError> {
    if args.no_slo {
        return Ok((None, None));
    }
    let explicit = args.slo_level.is_some() || args.slo_file.is_some();
    let path = args
        .slo_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SLO_FILE));
    let asked = match (&args.slo_level, &args.profile_name) {
        (Some(level), _) => level.clone(),
        (None, Some(profile)) => profile.clone(),
        (None, None) => {
            let note = "SLO verdicts are off: no load level (use a profile, or --slo-level light|medium|heavy|stress)";
            return Ok((None, Some(note.into())));
        }
    };
    let off = |why: String| Ok((None, Some(format!("SLO verdicts are off: {why}"))));
    let table = match SloTable::load(&path) {
        Ok(table) => table,
        Err(err) if explicit => return Err(err.into()),
        Err(err) => return off(format!("{err} (use --slo FILE)")),
    };
    match table.resolve_level(&asked, &path) {
        Ok(level) => Ok((
            Some(SloSetup {
                table,
                level,
                asked,
                abort_on_slo: args.abort_on_slo,
            }),
            None,
        )),
        Err(err) if args.slo_level.is_some() => Err(err.into()),
        Err(_) => off(format!(
            "profile {asked:?} is not a load level of {} (use --slo-level)",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn setup(extra: &[&str]) -> Result<(Option<SloSetup>, Option<String>), ConfigError> {
        let argv = std::iter::once("lv-master").chain(extra.iter().copied());
        slo_setup(&Args::try_parse_from(argv).expect("valid flags"))
    }

    #[test]
    fn verdicts_are_off_without_a_level_or_with_no_slo() {
        let (slo, note) = setup(&[]).expect("off");
        assert!(slo.is_none());
        assert!(note.expect("a note").contains("no load level"));
        assert!(matches!(setup(&["--no-slo"]), Ok((None, None))));
    }

    #[test]
    fn an_explicit_table_that_does_not_work_is_an_error() {
        let err = setup(&["--slo=/no/slo.toml", "--slo-level=light"]).expect_err("missing");
        assert!(err.to_string().contains("/no/slo.toml"), "{err}");
    }

    #[test]
    fn abort_on_slo_needs_verdicts() {
        let err = setup(&["--abort-on-slo"]).expect_err("no level");
        let text = err.to_string();
        assert!(text.contains("--abort-on-slo"), "{text}");
        assert!(text.contains("no load level"), "{text}");
        let err = setup(&["--abort-on-slo", "--no-slo", "--slo-level=light"]).expect_err("off");
        assert!(err.to_string().contains("--no-slo turns"), "{err}");
        let table = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml");
        let slo = format!("--slo={table}");
        let (slo, _) = setup(&[&slo, "--slo-level=light", "--abort-on-slo"]).expect("on");
        assert!(slo.expect("verdicts on").abort_on_slo);
    }

    #[test]
    fn abort_on_slo_comes_from_the_environment_too() {
        let table = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml");
        let argv = ["lv-master", "--slo-level=light", "--slo", table];
        let env = |name: &str| (name == "LV_ABORT_ON_SLO").then(|| "1".to_owned());
        let args = crate::config::cli::load_args(argv, env).expect("valid");
        let (slo, _) = slo_setup(&args).expect("verdicts on");
        assert!(slo.expect("verdicts on").abort_on_slo);
        // The command line wins over the environment.
        let argv = [
            "lv-master",
            "--slo-level=light",
            "--slo",
            table,
            "--abort-on-slo=false",
        ];
        let args = crate::config::cli::load_args(argv, env).expect("valid");
        assert!(!slo_setup(&args).expect("on").0.expect("on").abort_on_slo);
    }

    #[test]
    fn the_level_comes_from_the_flag() {
        let table = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml");
        let slo = format!("--slo={table}");
        let (slo, note) = setup(&[&slo, "--slo-level=stress"]).expect("a level");
        let slo = slo.expect("verdicts on");
        assert_eq!(
            (slo.level.as_str(), slo.asked.as_str()),
            ("heavy", "stress")
        );
        assert_eq!(note, None);
    }
}
