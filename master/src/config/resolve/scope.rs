//! Which test data (`[[data]]`) a step may use: the sources its class and its task name,
//! with their modes, and the fields a template may read (`{{ accounts.email }}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use lv_common::data::{DataMode, DataTable, DataUse};
use lv_common::plan::ClassPlan;
use toml::Spanned;

use crate::config::scenario::{LoadedScenario, ScenarioError};

/// Every `[[data]]` source of the loaded files, by name, with where it was defined.
pub(super) struct DataSources<'a> {
    by_name: BTreeMap<&'a str, Source<'a>>,
}

struct Source<'a> {
    table: &'a Arc<DataTable>,
    /// The data file, as the error should name it.
    file: String,
}

/// The data sources in scope of a step, by name: the mode and the table.
#[derive(Clone, Default)]
pub(super) struct DataScope<'a> {
    uses: BTreeMap<String, (DataMode, &'a Arc<DataTable>, String)>,
}

impl<'a> DataSources<'a> {
    /// The sources of `scenarios`.
    pub(super) fn of(scenarios: &'a [LoadedScenario]) -> DataSources<'a> {
        let by_name = scenarios
            .iter()
            .flat_map(|s| {
                s.file.data.iter().zip(&s.tables).map(|(def, table)| {
                    let source = Source {
                        table,
                        file: def.path(&s.path).display().to_string(),
                    };
                    (def.name.get_ref().as_str(), source)
                })
            })
            .collect();
        DataSources { by_name }
    }

    /// The scope a class's or task's `data = { ... }` gives; an unknown name is an error
    /// at its key.
    pub(super) fn scope(
        &self,
        scenario: &LoadedScenario,
        named: &BTreeMap<Spanned<String>, DataMode>,
    ) -> Result<DataScope<'a>, ScenarioError> {
        let mut scope = DataScope::default();
        for (name, mode) in named {
            let at = scenario.locate(name.span().start);
            let source = self.by_name.get(name.get_ref().as_str()).ok_or_else(|| {
                ScenarioError::invalid(
                    &at,
                    format!(
                        "data {:?} is not defined; the scenarios define: {}",
                        name.get_ref(),
                        self.known()
                    ),
                )
            })?;
            scope.uses.insert(
                name.get_ref().clone(),
                (*mode, source.table, source.file.clone()),
            );
        }
        Ok(scope)
    }

    fn known(&self) -> String {
        if self.by_name.is_empty() {
            return "none (add a [[data]] table)".to_owned();
        }
        self.by_name.keys().copied().collect::<Vec<_>>().join(", ")
    }

    /// The tables `classes` use, once each, in name order; a source two classes use with
    /// different modes is an error (a row can go to one user only, or to any).
    pub(super) fn used_by(
        &self,
        classes: &[ClassPlan],
    ) -> Result<Vec<Arc<DataTable>>, ScenarioError> {
        for (i, class) in classes.iter().enumerate() {
            for used in &class.data {
                let other = classes[..i].iter().find_map(|c| {
                    c.data
                        .iter()
                        .find(|u| u.source == used.source && u.mode != used.mode)
                        .map(|u| (c, u.mode))
                });
                if let Some((other, mode)) = other {
                    let defined = self
                        .by_name
                        .get(used.source.as_str())
                        .map_or("", |s| s.file.as_str());
                    return Err(ScenarioError::invalid(
                        defined,
                        format!(
                            "data {} is used as {:?} by user class {} and as {:?} by user class {}; give it one mode",
                            used.source,
                            mode.as_str(),
                            other.name,
                            used.mode.as_str(),
                            class.name
                        ),
                    ));
                }
            }
        }
        Ok(self.used(classes))
    }

    fn used(&self, classes: &[ClassPlan]) -> Vec<Arc<DataTable>> {
        self.by_name
            .iter()
            .filter(|(name, _)| {
                classes
                    .iter()
                    .any(|c| c.data.iter().any(|u| u.source == **name))
            })
            .map(|(_, source)| Arc::clone(source.table))
            .collect()
    }
}

impl<'a> DataScope<'a> {
    /// This scope and `other` together; one source named with two modes is an error.
    pub(super) fn with(
        &self,
        other: &DataScope<'a>,
        at: &str,
    ) -> Result<DataScope<'a>, ScenarioError> {
        let mut joined = self.clone();
        for (name, used) in &other.uses {
            match joined.uses.get(name) {
                Some((mode, ..)) if *mode != used.0 => {
                    return Err(ScenarioError::invalid(
                        at,
                        format!(
                            "data {name} is used as {:?} here and as {:?} by its class or another task; a user draws one row of it, so give it one mode",
                            used.0.as_str(),
                            mode.as_str()
                        ),
                    ));
                }
                _ => {
                    joined.uses.insert(name.clone(), used.clone());
                }
            }
        }
        Ok(joined)
    }

    /// The uses, for the class's plan.
    pub(super) fn uses(&self) -> Vec<DataUse> {
        self.uses
            .iter()
            .map(|(source, (mode, ..))| DataUse {
                source: source.clone(),
                mode: *mode,
            })
            .collect()
    }

    /// Whether `var` is a field of a source in scope.
    pub(super) fn provides(&self, var: &str) -> bool {
        var.split_once('.').is_some_and(|(source, field)| {
            self.uses
                .get(source)
                .is_some_and(|(_, table, _)| table.fields.iter().any(|f| f == field))
        })
    }

    /// A `source.field` variable must name a source in scope and a field it has; else why
    /// not.
    pub(super) fn check_field(&self, var: &str) -> Result<(), String> {
        let Some((source, field)) = var.split_once('.') else {
            return Ok(());
        };
        let Some((_, table, file)) = self.uses.get(source) else {
            return Err(format!(
                "template uses `{var}`, but neither the class nor the task uses data {source:?}; add data = {{ {source} = \"unique\" }} (or \"cycle\", \"random\") to one of them"
            ));
        };
        if table.fields.iter().any(|f| f == field) {
            return Ok(());
        }
        Err(format!(
            "template uses `{var}`, but {file}:1:1, the header of data {source}, has no field {field:?}; its fields: {}",
            table.fields.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests;
