//! Binding a run's constants (what its setup steps extracted) into the plan before it is
//! shipped: every template of every class gets the values in place of the variables, and
//! tasks no longer wait for variables that are now constants. Workers need no change and
//! users hold no copy.

use crate::template::UserVars;

use super::{Body, ClassPlan, Plan, StepPlan, TaskPlan};

impl Plan {
    /// The plan with `consts` bound into every step of every class, and the names of
    /// `consts` dropped from the tasks' `requires`.
    pub fn bind(&self, consts: &UserVars) -> Plan {
        if consts.is_empty() {
            return self.clone();
        }
        Plan {
            classes: self.classes.iter().map(|c| c.bind(consts)).collect(),
            ..self.clone()
        }
    }
}

impl ClassPlan {
    fn bind(&self, consts: &UserVars) -> ClassPlan {
        ClassPlan {
            on_start: self.on_start.iter().map(|s| s.bind(consts)).collect(),
            tasks: self
                .tasks
                .iter()
                .map(|task| TaskPlan {
                    requires: task
                        .requires
                        .iter()
                        .filter(|name| !consts.contains_key(*name))
                        .cloned()
                        .collect(),
                    steps: task.steps.iter().map(|s| s.bind(consts)).collect(),
                    ..task.clone()
                })
                .collect(),
            ..self.clone()
        }
    }
}

impl StepPlan {
    /// The step with `consts` bound into its path, headers and body.
    pub fn bind(&self, consts: &UserVars) -> StepPlan {
        StepPlan {
            path: self.path.bind(consts),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.bind(consts)))
                .collect(),
            body: match &self.body {
                Body::Empty => Body::Empty,
                Body::Json(json) => Body::Json(json.bind(consts)),
                Body::Text(text) => Body::Text(text.bind(consts)),
            },
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::template::{JsonTemplate, Template};
    use crate::wait::WaitRule;

    fn tmpl(text: &str) -> Template {
        Template::compile(text, &BTreeMap::new()).expect("valid template")
    }

    fn step(path: &str) -> StepPlan {
        StepPlan {
            method: "GET".into(),
            base_url: "http://127.0.0.1:1".into(),
            path: tmpl(path),
            name: tmpl(path).display_pattern(),
            kind: None,
            headers: vec![("Authorization".into(), tmpl("Bearer {{ token }}"))],
            body: Body::Json(
                JsonTemplate::compile(&json!({"id": "{{ id }}"}), &BTreeMap::new()).expect("valid"),
            ),
            expect_status: Vec::new(),
            checks: Vec::new(),
            extract: Vec::new(),
            timeout_ms: 1000,
            follow_redirects: true,
        }
    }

    fn plan() -> Plan {
        Plan {
            classes: vec![ClassPlan {
                name: "C".into(),
                weight: 1,
                wait: WaitRule::default(),
                on_start: vec![step("/start/{{ token }}")],
                tasks: vec![TaskPlan {
                    name: "t".into(),
                    weight: 1,
                    tags: Vec::new(),
                    requires: vec!["token".into(), "mine".into()],
                    steps: vec![step("/me/{{ mine }}")],
                }],
                cookies: true,
                data: Vec::new(),
            }],
            connection_per_user: false,
            iterations: None,
        }
    }

    #[test]
    fn constants_reach_every_step_and_leave_requires() {
        let consts = UserVars::from([
            ("token".to_owned(), json!("T0k")),
            ("id".to_owned(), json!(42)),
        ]);
        let bound = plan().bind(&consts);
        let class = &bound.classes[0];
        assert_eq!(class.on_start[0].path.as_literal(), Some("/start/T0k"));
        let step = &class.tasks[0].steps[0];
        assert_eq!(step.headers[0].1.as_literal(), Some("Bearer T0k"));
        assert_eq!(
            step.body,
            Body::Json(JsonTemplate::Object(vec![(
                "id".into(),
                JsonTemplate::Literal(json!(42))
            )]))
        );
        assert_eq!(step.path.vars().collect::<Vec<_>>(), ["mine"]);
        assert_eq!(step.name, "/me/{mine}", "stats names keep their pattern");
        assert_eq!(class.tasks[0].requires, ["mine"]);
    }

    #[test]
    fn no_constants_leave_the_plan_as_it_was() {
        assert_eq!(plan().bind(&UserVars::new()), plan());
    }

    #[test]
    fn a_bound_plan_survives_the_wire() {
        let consts = UserVars::from([("token".to_owned(), json!("x"))]);
        let bound = plan().bind(&consts);
        assert_eq!(Plan::from_json(&bound.to_json()), Ok(bound));
    }
}
