//! Request templates: `{{ uuid }}`, `{{ rand_int(1, 10) }}`, `{{ choice("a", "b") }}` and
//! `{{ name }}` (a value the same user extracted earlier, or a constant bound at load).
//!
//! Templates are compiled once, when the master loads the scenarios; the compiled form is
//! what travels in the plan, so a worker never parses template text on the hot path.
//! Constants (such as the agent of a task expanded over the fleet) are folded into literal
//! text at compile time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Values a user extracted from earlier responses, by variable name.
pub type UserVars = HashMap<String, Value>;

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Literal text.
    Lit(String),
    /// A fresh random UUID v4.
    Uuid,
    /// A random integer in `lo..=hi`.
    RandInt {
        /// Smallest value.
        lo: i64,
        /// Largest value.
        hi: i64,
    },
    /// One of the given strings, at random.
    Choice(Vec<String>),
    /// A user variable.
    Var(String),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template {
    segments: Vec<Segment>,
}

/// A template that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {source_text:?}: {detail}")]
pub struct TemplateError {
    /// The template text.
    pub source_text: String,
    /// What is wrong with it.
    pub detail: String,
}

/// A template that could not be rendered for one request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template uses a variable the user has not extracted (yet).
    #[error("variable `{0}` is not set (no earlier step extracted it)")]
    Undefined(String),
}

impl Template {
    /// Compiles `text`, folding the names in `consts` into literal text.
    pub fn compile(
        text: &str,
        consts: &BTreeMap<String, String>,
    ) -> Result<Template, TemplateError> {
        let err = |detail: String| TemplateError {
            source_text: text.to_owned(),
            detail,
        };
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            push_lit(&mut segments, &rest[..open]);
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| err("`{{` without a closing `}}`".into()))?;
            let expr = after[..close].trim();
            match parse_expr(expr).map_err(err)? {
                Segment::Var(name) => match consts.get(&name) {
                    Some(value) => push_lit(&mut segments, value),
                    None => segments.push(Segment::Var(name)),
                },
                other => segments.push(other),
            }
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(err("`}}` without an opening `{{`".into()));
        }
        push_lit(&mut segments, rest);
        Ok(Template { segments })
    }

    /// A template that is always `text`.
    pub fn literal(text: &str) -> Template {
        let mut segments = Vec::new();
        push_lit(&mut segments, text);
        Template { segments }
    }

    /// The text, when the template has no dynamic part.
    pub fn as_literal(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [] => Some(""),
            [Segment::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// Names of the user variables the template reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Renders the template as text, appending to `out`.
    pub fn render_into(
        &self,
        vars: &UserVars,
        rng: &mut impl Rng,
        out: &mut String,
    ) -> Result<(), RenderError> {
        for segment in &self.segments {
            match segment {
                Segment::Lit(text) => out.push_str(text),
                Segment::Uuid => {
                    let _ = write!(out, "{}", random_uuid(rng));
                }
                Segment::RandInt { lo, hi } => {
                    let _ = write!(out, "{}", rng.random_range(*lo..=*hi));
                }
                Segment::Choice(options) => out.push_str(pick(options, rng)),
                Segment::Var(name) => match vars.get(name) {
                    Some(Value::String(text)) => out.push_str(text),
                    Some(value) => {
                        let _ = write!(out, "{value}");
                    }
                    None => return Err(RenderError::Undefined(name.clone())),
                },
            }
        }
        Ok(())
    }

    /// Renders the template as text.
    pub fn render(&self, vars: &UserVars, rng: &mut impl Rng) -> Result<String, RenderError> {
        let mut out = String::new();
        self.render_into(vars, rng, &mut out)?;
        Ok(out)
    }

    /// Renders the template as a JSON value: a template that is one expression keeps
    /// the expression's type (a number for `rand_int`, an extracted value as it was);
    /// anything else is a string.
    pub fn render_value(&self, vars: &UserVars, rng: &mut impl Rng) -> Result<Value, RenderError> {
        match self.segments.as_slice() {
            [Segment::RandInt { lo, hi }] => Ok(Value::from(rng.random_range(*lo..=*hi))),
            [Segment::Var(name)] => vars
                .get(name)
                .cloned()
                .ok_or_else(|| RenderError::Undefined(name.clone())),
            _ => self.render(vars, rng).map(Value::String),
        }
    }

    /// The template's text with every dynamic part shown as `{what}`, for stats names.
    pub fn display_pattern(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Lit(text) => out.push_str(text),
                Segment::Uuid => out.push_str("{uuid}"),
                Segment::RandInt { .. } => out.push_str("{int}"),
                Segment::Choice(_) => out.push_str("{choice}"),
                Segment::Var(name) => {
                    let _ = write!(out, "{{{name}}}");
                }
            }
        }
        out
    }
}

fn push_lit(segments: &mut Vec<Segment>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Segment::Lit(last)) = segments.last_mut() {
        last.push_str(text);
    } else {
        segments.push(Segment::Lit(text.to_owned()));
    }
}

fn pick<'a>(options: &'a [String], rng: &mut impl Rng) -> &'a str {
    // Compiling guarantees at least one option.
    let index = rng.random_range(0..options.len().max(1));
    options.get(index).map_or("", String::as_str)
}

fn random_uuid(rng: &mut impl Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// A variable name, or a test-data field (`accounts.email`).
fn is_identifier(text: &str) -> bool {
    match text.split_once('.') {
        Some((source, field)) => is_name(source) && is_name(field),
        None => is_name(text),
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_expr(expr: &str) -> Result<Segment, String> {
    if expr.is_empty() {
        return Err("empty `{{ }}`".into());
    }
    let (func, args) = match expr.find('(') {
        Some(open) => {
            let inner = expr[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| format!("`{expr}`: missing `)`"))?;
            (expr[..open].trim(), Some(split_args(inner)?))
        }
        None => (expr, None),
    };
    match (func, args) {
        ("uuid", None) => Ok(Segment::Uuid),
        ("uuid", Some(args)) if args.is_empty() => Ok(Segment::Uuid),
        ("rand_int", Some(args)) => {
            let [lo, hi] = args.as_slice() else {
                return Err("rand_int takes two integers: rand_int(lo, hi)".into());
            };
            let parse = |arg: &Arg| match arg {
                Arg::Bare(text) => text
                    .parse::<i64>()
                    .map_err(|_| format!("rand_int: `{text}` is not an integer")),
                Arg::Quoted(text) => Err(format!("rand_int: \"{text}\" is not an integer")),
            };
            let (lo, hi) = (parse(lo)?, parse(hi)?);
            if lo > hi {
                return Err(format!("rand_int({lo}, {hi}): lo is larger than hi"));
            }
            Ok(Segment::RandInt { lo, hi })
        }
        ("choice", Some(args)) => {
            if args.is_empty() {
                return Err("choice needs at least one option".into());
            }
            Ok(Segment::Choice(
                args.into_iter()
                    .map(|a| match a {
                        Arg::Bare(t) | Arg::Quoted(t) => t,
                    })
                    .collect(),
            ))
        }
        (name, None) if is_identifier(name) => Ok(Segment::Var(name.to_owned())),
        (name, Some(_)) => Err(format!(
            "unknown function `{name}` (known: uuid, rand_int(lo, hi), choice(\"a\", \"b\", ...))"
        )),
        (other, None) => Err(format!(
            "`{other}` is neither a variable name nor a function call"
        )),
    }
}

enum Arg {
    Bare(String),
    Quoted(String),
}

fn split_args(inner: &str) -> Result<Vec<Arg>, String> {
    let mut args = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        if first == '"' || first == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('\\') => text.extend(chars.next()),
                    Some(c) if c == first => break,
                    Some(c) => text.push(c),
                    None => return Err(format!("unterminated string in `({inner})`")),
                }
            }
            args.push(Arg::Quoted(text));
        } else {
            let mut text = String::new();
            while let Some(c) = chars.next_if(|&c| c != ',') {
                text.push(c);
            }
            let text = text.trim().to_owned();
            if text.is_empty() {
                return Err(format!("empty argument in `({inner})`"));
            }
            args.push(Arg::Bare(text));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            Some(',') | None => {}
            Some(c) => return Err(format!("unexpected `{c}` in `({inner})`")),
        }
    }
    Ok(args)
}

/// A JSON body whose strings may be templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonTemplate {
    /// A value with no template in it.
    Literal(Value),
    /// A string template (rendered typed when it is a single expression).
    Template(Template),
    /// An array of templates.
    Array(Vec<JsonTemplate>),
    /// An object, keys in order.
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Compiles every string in `value` as a template.
    pub fn compile(
        value: &Value,
        consts: &BTreeMap<String, String>,
    ) -> Result<JsonTemplate, TemplateError> {
        Ok(match value {
            Value::String(text) => {
                let template = Template::compile(text, consts)?;
                match template.as_literal() {
                    Some(text) => JsonTemplate::Literal(Value::String(text.to_owned())),
                    None => JsonTemplate::Template(template),
                }
            }
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(|v| JsonTemplate::compile(v, consts))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::compile(v, consts)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Renders the body for one request.
    pub fn render(&self, vars: &UserVars, rng: &mut impl Rng) -> Result<Value, RenderError> {
        Ok(match self {
            JsonTemplate::Literal(value) => value.clone(),
            JsonTemplate::Template(template) => template.render_value(vars, rng)?,
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|t| t.render(vars, rng))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, t)| Ok((k.clone(), t.render(vars, rng)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }

    /// Adds the names of the user variables the body reads to `out`.
    pub fn collect_vars(&self, out: &mut BTreeSet<String>) {
        match self {
            JsonTemplate::Literal(_) => {}
            JsonTemplate::Template(t) => out.extend(t.vars().map(str::to_owned)),
            JsonTemplate::Array(items) => items.iter().for_each(|t| t.collect_vars(out)),
            JsonTemplate::Object(entries) => entries.iter().for_each(|(_, t)| t.collect_vars(out)),
        }
    }
}

mod bind;

#[cfg(test)]
mod tests;
