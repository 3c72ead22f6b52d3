//! The text `lv-master --help` ends with: where settings come from, and the other commands.

/// Printed after the options of `lv-master --help`.
pub(crate) const AFTER_HELP: &str =
    "Settings come from, lowest to highest precedence: built-in defaults, \
the --config profile (Locust's `key = value` format and key names), environment variables \
LV_<KEY> (LV_USERS, LV_SPAWN_RATE, LV_RUN_TIME, LV_TAGS, LV_TOKEN, LV_LOGLEVEL, ...; HOST or \
LV_HOST for --host), then these flags.

Other commands (see `lv-master check --help`, `lv-master compare --help`, ...):
  lv-master capacity [RUN OPTIONS] [--start L --max L --hold D --require L ...]
                                         Find the highest load the classes hold within the
                                         SLO level's rules (docs/capacity.md); exit 1 below
                                         --require
  lv-master check [RUN OPTIONS] [--json] Load the scenarios as this run would and print the
                                         plan (classes, users, task ratios, endpoints, tags,
                                         variables); send nothing, exit 2 on a problem
  lv-master compare BASE.json NEW.json   Compare two runs' JSON reports; exit 1 on a regression
  lv-master report --from FILE           Print a run's tables and write its reports again from
                                         its JSON report or checkpoint
  lv-master explain-exit CODE            Print what an exit code of lv-master means
  lv-master try [RUN OPTIONS] [--verbose] Run one user of each class once, every task in order,
                                         printing each exchange; exit 1 when a step failed";

/// What `lv-master check --help` says it does.
pub(crate) const CHECK_ABOUT: &str = "Loads and resolves the scenarios exactly as a run with these options would (profile and LV_* variables included), then prints the plan: each user class with its weight and users, each task's ratio within its class and of all task runs (Locust's --show-task-ratio), its tags, the variables it needs and the steps that extract them, and every step's method, stats name, URL and SLO kind. Binds nothing and sends no request. Exit 0 when everything loads; 2 on a problem, named with its file, line and key.";

/// Printed after the options of `lv-master check --help`.
pub(crate) const CHECK_AFTER_HELP: &str =
    "  --json    Print the plan as one JSON document instead of text (a run's --json FILE does not
            apply to check; see \"Checking a scenario\" in docs/scenarios.md)

Every option of a run is accepted (see `lv-master --help`); those that only matter while
running (ports, reports, workers) are checked as a run checks them and otherwise ignored.";
