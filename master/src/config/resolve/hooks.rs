//! The steps the master runs itself once per run (`[[setup.step]]`, `[[teardown.step]]`),
//! resolved like a class's steps: the setup steps of every file in load order, then the
//! teardown steps. What setup extracts is a constant for every class; teardown may use it
//! too.

use std::collections::BTreeSet;

use lv_common::plan::StepPlan;

use crate::config::scenario::{
    HookDef, LoadedScenario, Place, ScenarioError, ScenarioFile, StepDef,
};

/// The steps the master runs itself, once per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    /// Setup steps of every file, in load order: run before any user starts.
    pub setup: Vec<StepPlan>,
    /// Teardown steps of every file, in load order: run after the last user stopped.
    pub teardown: Vec<StepPlan>,
}

impl Hooks {
    /// The names setup steps extract: constants for every user of the run.
    pub fn constants(&self) -> BTreeSet<String> {
        extracted(&self.setup)
    }
}

fn extracted(steps: &[StepPlan]) -> BTreeSet<String> {
    steps
        .iter()
        .flat_map(|s| s.extract.iter().map(|(name, _)| name.clone()))
        .collect()
}

/// How one hook step is resolved: the step, the variables its templates may use and
/// where it is (for errors).
pub(super) type ResolveStep<'a> =
    dyn Fn(&StepDef, &BTreeSet<String>, &Place<'_>) -> Result<StepPlan, ScenarioError> + 'a;

/// Resolves the setup and teardown steps of `scenarios` (load order) with `resolve`.
pub(super) fn resolve_hooks(
    scenarios: &[LoadedScenario],
    resolve: &ResolveStep,
) -> Result<Hooks, ScenarioError> {
    let names = |hook: fn(&ScenarioFile) -> &HookDef| -> BTreeSet<String> {
        scenarios
            .iter()
            .flat_map(|s| hook(&s.file).steps.iter())
            .flat_map(|step| step.extract.keys().cloned())
            .collect()
    };
    let setup_names = names(|f| &f.setup);
    let teardown_names: BTreeSet<String> = setup_names
        .union(&names(|f| &f.teardown))
        .cloned()
        .collect();
    Ok(Hooks {
        setup: resolve_steps(scenarios, resolve, "setup", &setup_names, |f| &f.setup)?,
        teardown: resolve_steps(scenarios, resolve, "teardown", &teardown_names, |f| {
            &f.teardown
        })?,
    })
}

/// One hook's steps of every file, each template checked against `known` variables.
fn resolve_steps(
    scenarios: &[LoadedScenario],
    resolve: &ResolveStep,
    which: &'static str,
    known: &BTreeSet<String>,
    hook: fn(&ScenarioFile) -> &HookDef,
) -> Result<Vec<StepPlan>, ScenarioError> {
    let mut steps = Vec::new();
    for scenario in scenarios {
        for (i, step) in hook(&scenario.file).steps.iter().enumerate() {
            steps.push(resolve(step, known, &Place::hook(scenario, which, i))?);
        }
    }
    Ok(steps)
}

/// A class may not extract a name setup extracts: its templates would get the setup's
/// value bound in, never its own.
pub(super) fn check_not_constants(
    at: &str,
    own: &BTreeSet<String>,
    constants: &BTreeSet<String>,
) -> Result<(), ScenarioError> {
    match own.intersection(constants).next() {
        Some(name) => Err(ScenarioError::Invalid {
            location: at.to_owned(),
            detail: format!(
                "extracts `{name}`, which [[setup.step]] extracts already (a constant for every user); give one of them another name"
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use lv_common::fleet::{FleetMap, HostBase};

    use super::*;
    use crate::config::resolve::{PlanOptions, Resolved, resolve};
    use crate::config::scenario::parse;

    const LOGIN: &str = r#"
[[setup.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/auth/login"
json = { username = "lv", password = "pw" }
extract = { token = "/token" }
"#;

    const USERS: &str = r#"
[[user]]
name = "Me"

[[user.task]]
requires = ["token"]

[[user.task.step]]
agent = "MUSE"
path = "/v1/me"
headers = { Authorization = "Bearer {{ token }}" }
"#;

    const TEARDOWN: &str = r#"
[[teardown.step]]
agent = "ATLAS"
method = "DELETE"
path = "/v1/sessions/{{ token }}"
"#;

    fn load(files: &[&str]) -> Result<Resolved, ScenarioError> {
        let scenarios = files
            .iter()
            .enumerate()
            .map(|(i, text)| parse(Path::new(&format!("f{i}.toml")), (*text).to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let options = PlanOptions {
            classes: Vec::new(),
            tags: Vec::new(),
            exclude_tags: Vec::new(),
            host: HostBase::parse("http://127.0.0.1").expect("host"),
            default_timeout: Duration::from_secs(30),
            connection_per_user: false,
        };
        resolve(&scenarios, &FleetMap::builtin(), &options)
    }

    fn error(files: &[&str]) -> String {
        load(files).expect_err("refused").to_string()
    }

    #[test]
    fn setup_values_are_constants_for_every_class_and_for_teardown() {
        let second = "[[setup.step]]\nurl = \"http://127.0.0.1:9\"\npath = \"/second\"\n";
        let resolved = load(&[&format!("{LOGIN}{TEARDOWN}{USERS}"), second]).expect("resolves");
        let hooks = &resolved.hooks;
        let paths: Vec<String> = hooks
            .setup
            .iter()
            .map(|s| s.path.display_pattern())
            .collect();
        assert_eq!(paths, ["/v1/auth/login", "/second"], "file load order");
        assert_eq!(
            hooks.teardown[0].path.display_pattern(),
            "/v1/sessions/{token}"
        );
        assert_eq!(hooks.setup[0].name, "ATLAS /v1/auth/login");
        assert_eq!(hooks.constants().into_iter().collect::<Vec<_>>(), ["token"]);
        let task = &resolved.plan.classes[0].tasks[0];
        assert_eq!(task.requires, ["token"], "bound when setup has run");
        assert_eq!(
            task.steps[0].headers[0].1.vars().collect::<Vec<_>>(),
            ["token"]
        );
    }

    #[test]
    fn a_file_may_hold_only_setup_or_teardown_steps() {
        assert!(load(&[LOGIN, USERS]).is_ok());
        let err = error(&["# nothing\n"]);
        assert!(err.contains("defines no [[user]] class"), "{err}");
    }

    #[test]
    fn hook_steps_are_checked_at_load_with_file_and_line() {
        let unknown = LOGIN.replace("\"ATLAS\"", "\"ATLASS\"");
        let err = error(&[&format!("{unknown}{USERS}")]);
        assert!(err.contains("f0.toml:3") && err.contains("ATLASS"), "{err}");
        let bad = LOGIN.replace("/v1/auth/login", "/v1/{{ nope(1) }}");
        let err = error(&[&format!("{bad}{USERS}")]);
        assert!(
            err.contains("f0.toml:5: setup step 1: `path`") && err.contains("nope"),
            "{err}"
        );
        let err = error(&[&format!("[[setup.step]]\npath = \"/x\"\n{USERS}")]);
        assert!(
            err.contains("setup step 1") && err.contains("needs `agent` or `url`"),
            "{err}"
        );
        let err = error(&[&format!(
            "[[setup.step]]\nagent = \"ATLAS\"\npth = \"/x\"\n{USERS}"
        )]);
        assert!(err.contains("f0.toml:3") && err.contains("pth"), "{err}");
    }

    #[test]
    fn templates_may_use_only_what_setup_or_the_steps_extract() {
        let err = error(&[&format!("{TEARDOWN}{USERS}")]);
        assert!(
            err.contains("f0.toml:5: teardown step 1: `path`") && err.contains("`token`"),
            "{err}"
        );
        let typo = USERS.replace("{{ token }}", "{{ tokn }}");
        let err = error(&[&format!("{LOGIN}{typo}")]);
        assert!(err.contains("`tokn`"), "{err}");
        let setup_uses_teardown = "[[setup.step]]\nagent = \"ATLAS\"\npath = \"/{{ later }}\"\n\
            [[teardown.step]]\nagent = \"ATLAS\"\nextract = { later = \"/x\" }\n";
        let err = error(&[&format!("{setup_uses_teardown}{USERS}{LOGIN}")]);
        assert!(
            err.contains("setup step 1") && err.contains("`later`"),
            "{err}"
        );
    }

    #[test]
    fn a_class_may_not_extract_a_setup_value_again() {
        let own = USERS.replace(
            "headers = {",
            "extract = { token = \"/user\" }\nheaders = {",
        );
        let err = error(&[&format!("{LOGIN}{own}")]);
        assert!(
            err.contains("user class \"Me\"") && err.contains("[[setup.step]] extracts already"),
            "{err}"
        );
    }
}
