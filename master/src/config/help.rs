//! The text `lv-master --help` ends with: where settings come from, and the other commands.

/// Printed after the options of `lv-master --help`.
pub(crate) const AFTER_HELP: &str =
    "Settings come from, lowest to highest precedence: built-in defaults, \
the --config profile (Locust's `key = value` format and key names), environment variables \
LV_<KEY> (LV_USERS, LV_SPAWN_RATE, LV_RUN_TIME, LV_TAGS, LV_TOKEN, LV_LOGLEVEL, ...; HOST or \
LV_HOST for --host), then these flags.

Other commands (see `lv-master compare --help`, `lv-master report --help`):
  lv-master compare BASE.json NEW.json   Compare two runs' JSON reports; exit 1 on a regression
  lv-master report --from FILE           Print a run's tables and write its reports again from
                                         its JSON report or checkpoint
  lv-master explain-exit CODE            Print what an exit code of lv-master means
  lv-master try [RUN OPTIONS] [--verbose] Run one user of each class once, every task in order,
                                         printing each exchange; exit 1 when a step failed";
