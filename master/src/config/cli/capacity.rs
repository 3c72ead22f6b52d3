//! `lv-master capacity`'s arguments: a run's options ([`Args`]: scenarios, classes, tags,
//! host, fleet, workers, SLO table and level, report files) and the search's own.

use std::time::Duration;

use clap::Parser;
use lv_common::duration::parse_duration;
use lv_common::load::{Model, parse_rate};

use super::args::Args;

/// Finds the highest load the selected classes hold within the SLO level's rules: a climb,
/// a bisection and a confirmation, each step a run of a settle and a judged hold
/// (docs/capacity.md).
#[derive(Debug, Clone, Parser)]
#[command(name = "lv-master capacity", version, args_override_self = true)]
pub struct CapacityArgs {
    /// The run's options. --json, --csv, --html and --record write the search's results;
    /// each step's own reports go to --reports-dir.
    #[command(flatten)]
    pub run: Args,
    /// The search's own options.
    #[command(flatten)]
    pub search: SearchOptions,
}

/// A capacity search's own options (`lv-master capacity` flags, or the web UI's form).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SearchOptions {
    /// `open`: search arrivals per second of the classes' task mix; `closed`: users.
    #[arg(long, value_name = "MODEL", default_value = "open", value_parser = parse_model)]
    pub model: Model,
    /// The first load held (arrivals/s, e.g. `10/s`, or users).
    #[arg(long, value_name = "LOAD", default_value = "10", value_parser = parse_rate)]
    pub start: f64,
    /// Each climbing step holds the last passing load times this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Bisect until (fail - pass) / pass is at most this (`10%` or `0.1`).
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_fraction)]
    pub precision: f64,
    /// No step holds more than this load.
    #[arg(long, value_name = "LOAD", default_value = "250", value_parser = parse_rate)]
    pub max: f64,
    /// How long each step's load is held and judged.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub hold: Duration,
    /// How long each step runs at its load before the hold (not judged).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,
    /// How long the answer is held again to confirm it [default: twice --hold].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub confirm: Option<Duration>,
    /// Open model: a step whose schedule lag p99 is above this is generator-limited (lv's
    /// workers were late to send); dropped arrivals always are.
    #[arg(long = "max-lag", value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    pub max_lag: Duration,
    /// Exit 1 unless the capacity is at least this load (for CI).
    #[arg(long, value_name = "LOAD", value_parser = parse_rate)]
    pub require: Option<f64>,
}

impl Default for SearchOptions {
    /// The documented defaults, as the command line has them.
    fn default() -> Self {
        SearchOptions {
            model: Model::Open,
            start: 10.0,
            factor: 1.5,
            precision: 0.1,
            max: 250.0,
            hold: Duration::from_secs(30),
            settle: Duration::from_secs(5),
            confirm: None,
            max_lag: Duration::from_millis(10),
            require: None,
        }
    }
}

/// Parses `--model`: `open` or `closed`.
pub fn parse_model(s: &str) -> Result<Model, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "open" => Ok(Model::Open),
        "closed" => Ok(Model::Closed),
        _ => Err(format!("{s:?} is not a model: use open or closed")),
    }
}

/// Parses a fraction: `10%` or `0.1`, above 0 and at most 1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let value = match text.strip_suffix('%') {
        Some(number) => number.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a fraction (`10%` or `0.1`)"))?;
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(format!("{s:?} must be above 0 and at most 100%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_fractions_parse() {
        assert_eq!(parse_model("Closed"), Ok(Model::Closed));
        assert!(parse_model("half").is_err());
        assert_eq!(parse_fraction("10%"), Ok(0.1));
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert!(parse_fraction("0").is_err());
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("ten").is_err());
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let args = CapacityArgs::try_parse_from(["lv-master capacity"]).expect("valid");
        let search = &args.search;
        assert_eq!(
            (search.start, search.factor, search.precision, search.max),
            (10.0, 1.5, 0.1, 250.0)
        );
        assert_eq!(
            (search.hold, search.settle),
            (Duration::from_secs(30), Duration::from_secs(5))
        );
        assert_eq!(
            (search.model, search.confirm, search.require),
            (Model::Open, None, None)
        );
        // The web form starts from the same defaults.
        assert_eq!(search, &SearchOptions::default());
        let args = CapacityArgs::try_parse_from(["c", "--start", "2/s", "--require", "40"])
            .expect("valid");
        assert_eq!((args.search.start, args.search.require), (2.0, Some(40.0)));
    }
}
