//! The load-shape part of the configuration: `--rate`, `--shape FILE` and `--max-in-flight`
//! become one checked [`LoadShape`] of either model, with the seed of Poisson arrivals fixed
//! for each run so the run can be reproduced from its log.
//!
//! The flags are read once into a [`ShapeSetting`]; each run then gets its shape from it
//! ([`ShapeSetting::for_run`]), since a `--rate` run lasts the run's own run time.
//!
//! A closed shape decides the users and the run's length: `-u`/`-r` conflict with
//! `--shape` on the command line (clap names both), and `--max-in-flight` is refused.

use std::time::Duration;

use lv_common::load::{ArrivalKind, LoadShape, Model, parse_shape};

use super::error::ConfigError;
use crate::config::cli::Args;

/// Where the load shape comes from, with `--max-in-flight`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ShapeSetting {
    source: Source,
    max_in_flight: Option<u32>,
}

/// The load shape the flags ask for.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// A plain `-u/-r/-t` run.
    Users,
    /// `--rate`: arrivals per second for the run time.
    Rate(f64),
    /// `--shape FILE`, read and parsed.
    File(LoadShape),
}

fn invalid(option: &'static str, detail: String) -> ConfigError {
    ConfigError::InvalidOption { option, detail }
}

impl ShapeSetting {
    /// Reads `--shape` and checks `--max-in-flight` against the model.
    pub(super) fn from_args(args: &Args) -> Result<ShapeSetting, ConfigError> {
        let source = match (&args.rate, &args.shape) {
            (Some(rate), _) => Source::Rate(*rate),
            (None, Some(path)) => {
                let file = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|err| invalid("--shape", format!("{file}: {err}")))?;
                let shape = parse_shape(&file, &text)
                    .map_err(|err| invalid("--shape", err.to_string()))?
                    .ok_or_else(|| invalid("--shape", format!("{file} has no [load] table")))?;
                if shape.model == Model::Closed && args.max_in_flight.is_some() {
                    return Err(invalid(
                        "--max-in-flight",
                        format!(
                            "only applies to an open-model shape, and {file} has load.model = \"closed\""
                        ),
                    ));
                }
                Source::File(shape)
            }
            (None, None) if args.max_in_flight.is_some() => {
                return Err(invalid(
                    "--max-in-flight",
                    "only applies to an open-model run (--rate or --shape)".into(),
                ));
            }
            (None, None) => Source::Users,
        };
        if args.max_in_flight == Some(0) {
            return Err(invalid("--max-in-flight", "must be at least 1".into()));
        }
        Ok(ShapeSetting {
            source,
            max_in_flight: args.max_in_flight,
        })
    }

    /// True for an open-model run (`--rate`, or a shape file of the open model).
    pub(super) fn is_open(&self) -> bool {
        match &self.source {
            Source::Users => false,
            Source::Rate(_) => true,
            Source::File(shape) => shape.model == Model::Open,
        }
    }

    /// The shape of a run lasting `run_time` (`None` for a plain `-u/-r/-t` run), and a
    /// note to log when a seed was picked.
    pub(super) fn for_run(
        &self,
        run_time: Option<Duration>,
    ) -> Result<(Option<LoadShape>, Option<String>), ConfigError> {
        let mut shape = match &self.source {
            Source::Users => return Ok((None, None)),
            Source::Rate(rate) => {
                let Some(run_time) = run_time else {
                    return Err(invalid(
                        "--rate",
                        "needs --run-time (how long to keep the rate)".into(),
                    ));
                };
                LoadShape::constant_rate(*rate, run_time)
            }
            Source::File(shape) => shape.clone(),
        };
        if let Some(cap) = self.max_in_flight {
            shape.max_in_flight = Some(cap);
        }
        let mut note = None;
        if shape.arrivals == ArrivalKind::Poisson && shape.seed.is_none() {
            // Any 64 random bits do; a v4 UUID already draws them from the OS.
            let seed = uuid::Uuid::new_v4().as_u64_pair().0;
            shape.seed = Some(seed);
            note = Some(format!(
                "Poisson arrivals drawn from seed {seed}; add `seed = {seed}` to the [load] table to repeat this run"
            ));
        }
        Ok((Some(shape), note))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["lv-master"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("valid flags")
    }

    /// The shape of the flags' own run.
    fn shape_of(args: &Args) -> Result<(Option<LoadShape>, Option<String>), ConfigError> {
        ShapeSetting::from_args(args)?.for_run(args.run_time)
    }

    #[test]
    fn rate_makes_a_constant_open_shape() {
        let (shape, note) = shape_of(&args(&["--rate", "120/m", "-t", "10s"])).expect("valid");
        let shape = shape.expect("open");
        assert_eq!(shape.schedule().total(), 20);
        assert_eq!(note, None);
        assert_eq!(shape_of(&args(&[])).expect("closed").0, None);
    }

    #[test]
    fn bad_open_options_are_refused() {
        let err = |extra: &[&str]| shape_of(&args(extra)).expect_err("refused").to_string();
        assert!(err(&["--rate", "5/s"]).contains("needs --run-time"));
        assert!(err(&["--max-in-flight", "3"]).contains("only applies"));
        assert!(err(&["--rate", "5", "-t", "1s", "--max-in-flight", "0"]).contains("at least 1"));
        assert!(err(&["--shape", "/nonexistent/shape.toml"]).contains("/nonexistent/shape.toml"));
    }

    #[test]
    fn the_model_is_known_before_the_run() {
        let open = |extra: &[&str]| ShapeSetting::from_args(&args(extra)).map(|s| s.is_open());
        assert!(!open(&[]).expect("valid"));
        assert!(open(&["--rate", "5/s"]).expect("valid"));
    }

    #[test]
    fn each_run_gets_the_rate_for_its_run_time() {
        let setting = ShapeSetting::from_args(&args(&["--rate", "2/s"])).expect("valid");
        let (shape, _) = setting
            .for_run(Some(Duration::from_secs(10)))
            .expect("a shape");
        assert_eq!(shape.expect("open").schedule().total(), 20);
        let err = setting.for_run(None).expect_err("no run time").to_string();
        assert!(
            err.starts_with("invalid value for --rate: needs --run-time"),
            "{err}"
        );
    }

    #[test]
    fn the_example_shapes_are_valid() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/shapes");
        for (name, planned) in [("capacity.toml", 21_000), ("soak.toml", 292_200)] {
            let path = format!("{root}/{name}");
            let (shape, _) = shape_of(&args(&["--shape", &path])).expect(name);
            let shape = shape.expect("open");
            assert_eq!(shape.schedule().total(), planned, "{name}");
        }
        let path = format!("{root}/spike.toml");
        let (shape, _) = shape_of(&args(&["--shape", &path])).expect("spike.toml");
        let shape = shape.expect("closed");
        assert_eq!(shape.model, Model::Closed);
        assert_eq!(shape.peak(), 500.0);
        assert_eq!(shape.duration(), std::time::Duration::from_secs(210));
    }

    #[test]
    fn shapes_come_from_files_and_poisson_gets_a_seed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shape.toml");
        std::fs::write(
            &path,
            "[load]\nmodel = \"open\"\narrivals = \"poisson\"\nstages = [{ duration = \"2s\", to = 10 }]\n",
        )
        .expect("write");
        let path = path.to_string_lossy().into_owned();
        let (shape, note) =
            shape_of(&args(&["--shape", &path, "--max-in-flight", "4"])).expect("valid");
        let shape = shape.expect("open");
        assert_eq!(shape.max_in_flight, Some(4));
        let seed = shape.seed.expect("picked");
        assert!(note.expect("noted").contains(&seed.to_string()));
        std::fs::write(
            &path,
            "[load]\nmodel = \"closed\"\nstages = [{ duration = 1, to = 1 }]\n",
        )
        .expect("write");
        let (shape, _) = shape_of(&args(&["--shape", &path])).expect("closed");
        assert_eq!(shape.map(|s| s.model), Some(Model::Closed));
        let err = shape_of(&args(&["--shape", &path, "--max-in-flight", "4"]))
            .expect_err("open only")
            .to_string();
        assert!(err.contains("--max-in-flight"), "{err}");
        assert!(
            err.contains(&format!("{path} has load.model = \"closed\"")),
            "{err}"
        );
    }
}
