//! Binding constants into compiled templates: the values a run's setup extracted replace
//! the variables of that name, so every user sends them without holding a copy.

use serde_json::Value;

use super::{JsonTemplate, Segment, Template, UserVars, push_lit};

impl Template {
    /// The template with every variable named in `consts` replaced by its value (a string
    /// as it is, any other JSON value as JSON text, as rendering would give it).
    pub fn bind(&self, consts: &UserVars) -> Template {
        let mut segments = Vec::with_capacity(self.segments.len());
        for segment in &self.segments {
            match segment {
                Segment::Var(name) => match consts.get(name) {
                    Some(Value::String(text)) => push_lit(&mut segments, text),
                    Some(value) => push_lit(&mut segments, &value.to_string()),
                    None => segments.push(segment.clone()),
                },
                Segment::Lit(text) => push_lit(&mut segments, text),
                other => segments.push(other.clone()),
            }
        }
        Template { segments }
    }
}

impl JsonTemplate {
    /// The body with the variables named in `consts` replaced by their values: a string
    /// that is exactly one such variable takes the value with its JSON type.
    pub fn bind(&self, consts: &UserVars) -> JsonTemplate {
        match self {
            JsonTemplate::Literal(value) => JsonTemplate::Literal(value.clone()),
            JsonTemplate::Template(template) => {
                if let [Segment::Var(name)] = template.segments.as_slice()
                    && let Some(value) = consts.get(name)
                {
                    return JsonTemplate::Literal(value.clone());
                }
                let bound = template.bind(consts);
                match bound.as_literal() {
                    Some(text) => JsonTemplate::Literal(Value::String(text.to_owned())),
                    None => JsonTemplate::Template(bound),
                }
            }
            JsonTemplate::Array(items) => {
                JsonTemplate::Array(items.iter().map(|t| t.bind(consts)).collect())
            }
            JsonTemplate::Object(entries) => JsonTemplate::Object(
                entries
                    .iter()
                    .map(|(k, t)| (k.clone(), t.bind(consts)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn consts() -> UserVars {
        UserVars::from([
            ("token".to_owned(), json!("abc")),
            ("count".to_owned(), json!(3)),
        ])
    }

    fn compile(text: &str) -> Template {
        Template::compile(text, &BTreeMap::new()).expect("valid template")
    }

    #[test]
    fn bound_variables_become_literal_text() {
        let bound = compile("Bearer {{ token }}").bind(&consts());
        assert_eq!(bound.as_literal(), Some("Bearer abc"));
        let bound = compile("/items/{{ count }}/x").bind(&consts());
        assert_eq!(bound.as_literal(), Some("/items/3/x"));
    }

    #[test]
    fn other_parts_and_unknown_variables_stay() {
        let bound = compile("{{ token }}-{{ uuid }}-{{ other }}").bind(&consts());
        assert_eq!(bound.as_literal(), None);
        assert_eq!(bound.vars().collect::<Vec<_>>(), ["other"]);
        assert_eq!(bound.display_pattern(), "abc-{uuid}-{other}");
    }

    #[test]
    fn a_whole_value_variable_keeps_its_json_type() {
        let body = json!({"n": "{{ count }}", "s": "n={{ count }}", "list": ["{{ token }}", "{{ later }}"]});
        let template = JsonTemplate::compile(&body, &BTreeMap::new()).expect("valid");
        let bound = template.bind(&consts());
        let mut vars = std::collections::BTreeSet::new();
        bound.collect_vars(&mut vars);
        assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["later"]);
        let rendered = bound
            .render(
                &UserVars::from([("later".to_owned(), json!(true))]),
                &mut rand::rng(),
            )
            .expect("renders");
        assert_eq!(rendered, json!({"n": 3, "s": "n=3", "list": ["abc", true]}));
    }

    #[test]
    fn binding_nothing_changes_nothing() {
        let template = compile("/a/{{ x }}");
        assert_eq!(template.bind(&UserVars::new()), template);
    }
}
