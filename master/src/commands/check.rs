//! `lv-master check`: loads the scenarios with the settings of a run (the same flags,
//! `--config` profile and `LV_*` variables, through [`Settings::from_args`] and
//! [`flags_config`]), and prints the plan that run would ship to its workers instead of
//! running it. It binds nothing and sends no request. Any problem is a configuration error
//! (exit 2) naming the file, line and key; so is a `--tags` or `--exclude-tags` tag that no
//! task carries, which a run only notes.

pub mod inspect;
pub mod render;

use lv_common::load::Model;

use crate::config::cli::CheckArgs;
use crate::config::run::{flags_config, resolve_plan};
use crate::config::scenario::class_locations;
use crate::config::{ConfigError, Settings};
use inspect::Context;

/// The text `lv-master check` prints: the plan as text, or one JSON document for `--json`.
pub fn output(args: &CheckArgs) -> Result<String, ConfigError> {
    let view = plan_view(args)?;
    Ok(if args.json {
        // The view holds only strings, numbers and JSON values: serializing cannot fail.
        serde_json::to_string_pretty(&view).unwrap_or_default()
    } else {
        render::text(&view).trim_end().to_owned()
    })
}

/// The plan of the run `args` describe, checked as the run would check it.
pub fn plan_view(args: &CheckArgs) -> Result<inspect::PlanView, ConfigError> {
    let settings = Settings::from_args(&args.run)?;
    let (config, _) = flags_config(&settings)?;
    let resolved = resolve_plan(&settings, &settings.flags)?;
    if let Some((flag, tag)) = resolved.unknown_tags.first() {
        let known: Vec<&str> = resolved.tags.iter().map(String::as_str).collect();
        return Err(ConfigError::InvalidOption {
            option: flag,
            detail: format!(
                "no task of the chosen user classes carries the tag {tag:?}; their tags are: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        });
    }
    let open = config
        .shape
        .as_ref()
        .is_some_and(|s| s.model == Model::Open);
    let mut notes = resolved.notes;
    notes.extend(settings.notes.iter().cloned());
    let context = Context {
        users: (!open).then_some(config.users),
        host: config.host.clone(),
        tags: config.tags.clone(),
        exclude_tags: config.exclude_tags.clone(),
        defined_at: class_locations(&settings.scenarios)
            .into_iter()
            .map(|(name, at)| (name.to_owned(), at))
            .collect(),
        notes,
        data: config.data.clone(),
        hooks: config.hooks.clone(),
    };
    Ok(inspect::view(&config.plan, &context))
}

#[cfg(test)]
mod tests;
