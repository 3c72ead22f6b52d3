//! Capacity testing (`lv-master capacity`): find the highest load the selected classes hold
//! within their SLO rules. Each step is one run of a UI-mode session whose workers stay
//! attached: a `settle` stage (not judged) and a `hold` stage at the step's load. The
//! search ([`search`]) and the verdict of a step ([`judge`]) are pure; [`driver`] runs the
//! steps through the coordinator's [`crate::live::control::Control`]; [`results`] and
//! [`chart`] present them; [`setup`] checks the options and writes the files.

pub mod chart;
pub mod driver;
pub mod form;
pub mod judge;
pub mod results;
pub mod search;
pub mod service;
pub mod setup;
pub mod steps;
