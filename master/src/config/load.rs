//! The load-shape part of the configuration: `--rate`, `--shape FILE` and `--max-in-flight`
//! become one checked [`LoadShape`] of either model, with the seed of Poisson arrivals fixed
//! here so the run can be reproduced from its log.
//!
//! A closed shape decides the users and the run's length: `-u`/`-r` conflict with
//! `--shape` on the command line (clap names both), and `--max-in-flight` is refused.

use lv_common::load::{ArrivalKind, LoadShape, Model, parse_shape};

use super::error::ConfigError;
use crate::config::cli::Args;

/// The shape the arguments ask for (`None` for a plain `-u/-r/-t` run), and a note to log
/// when a seed was picked.
pub(super) fn shape_of(args: &Args) -> Result<(Option<LoadShape>, Option<String>), ConfigError> {
    let invalid =
        |option: &'static str, detail: String| ConfigError::InvalidOption { option, detail };
    let mut shape = match (&args.rate, &args.shape) {
        (Some(rate), _) => {
            let Some(run_time) = args.run_time else {
                return Err(invalid(
                    "--rate",
                    "needs --run-time (how long to keep the rate)".into(),
                ));
            };
            LoadShape::constant_rate(*rate, run_time)
        }
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
            shape
        }
        (None, None) if args.max_in_flight.is_some() => {
            return Err(invalid(
                "--max-in-flight",
                "only applies to an open-model run (--rate or --shape)".into(),
            ));
        }
        (None, None) => return Ok((None, None)),
    };
    if let Some(cap) = args.max_in_flight {
        if cap == 0 {
            return Err(invalid("--max-in-flight", "must be at least 1".into()));
        }
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["lv-master"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("valid flags")
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
