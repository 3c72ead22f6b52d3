//! Profiles (`configs/light.conf`, ...) and `LV_*` environment variables, turned into
//! command-line words.
//!
//! The command line ([`crate::config::cli::Args`]) stays the one place option values are parsed. A
//! profile file and the environment do not fill a second struct: each setting becomes one
//! `--flag=value` word, and the final command line is the program name, the file's words, the
//! environment's words, then the user's words. clap keeps the last occurrence of a flag
//! (`args_override_self`), so the precedence defaults < file < environment < command line is
//! simply word order, and every value goes through the same value parser whatever its origin.
//!
//! Files use Locust's config-file format (ConfigArgParse): `key = value` or `key: value` lines,
//! `#` or `;` comment lines, blank lines, an inline ` # comment` after a value, optional
//! quotes, booleans `true`/`false`, lists comma-separated (optionally in `[...]`). Keys are
//! Locust's long flag names ([`KEYS`]); anything else is an error naming the file and line.
//!
//! This module is pure: it parses text and looks variables up through a closure.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// How a setting's text becomes a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value, passed as written (quotes removed).
    Value,
    /// `true`/`false` (also yes/no, on/off, 1/0), normalized to `true` or `false`.
    Bool,
    /// Comma-separated values, optionally in `[...]`, passed joined by commas.
    List,
}

/// A key of profile files and the flag it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key in files; the environment variable is `LV_` + this, upper-cased, `-` -> `_`.
    pub name: &'static str,
    /// The long flag of `lv-master` it sets.
    pub flag: &'static str,
    /// How its value is read.
    pub kind: Kind,
}

const fn key(name: &'static str, flag: &'static str, kind: Kind) -> Key {
    Key { name, flag, kind }
}

/// Every key a profile may set, in Locust's names. `locustfile` and `scenarios` both set
/// `--scenarios` (`-f`).
pub const KEYS: &[Key] = &[
    key("locustfile", "--scenarios", Kind::List),
    key("scenarios", "--scenarios", Kind::List),
    key("users", "--users", Kind::Value),
    key("spawn-rate", "--spawn-rate", Kind::Value),
    key("run-time", "--run-time", Kind::Value),
    key("iterations", "--iterations", Kind::Value),
    key("rate", "--rate", Kind::Value),
    key("shape", "--shape", Kind::Value),
    key("max-in-flight", "--max-in-flight", Kind::Value),
    key("host", "--host", Kind::Value),
    key("tags", "--tags", Kind::List),
    key("exclude-tags", "--exclude-tags", Kind::List),
    key("headless", "--headless", Kind::Bool),
    key("expect-workers", "--expect-workers", Kind::Value),
    key(
        "expect-workers-max-wait",
        "--expect-workers-max-wait",
        Kind::Value,
    ),
    key("master-bind-host", "--master-bind-host", Kind::Value),
    key("master-bind-port", "--master-bind-port", Kind::Value),
    key("fleet", "--fleet", Kind::Value),
    key("local-workers", "--local-workers", Kind::Value),
    key("json", "--json", Kind::Value),
    key("csv", "--csv", Kind::Value),
    key("csv-full-history", "--csv-full-history", Kind::Bool),
    key("html", "--html", Kind::Value),
    key("record", "--record", Kind::Value),
    key("logfile", "--logfile", Kind::Value),
    key("ready-file", "--ready-file", Kind::Value),
    key("slo", "--slo", Kind::Value),
    key("slo-level", "--slo-level", Kind::Value),
    key("no-slo", "--no-slo", Kind::Bool),
    key("abort-on-slo", "--abort-on-slo", Kind::Bool),
    key("checkpoint", "--checkpoint", Kind::Value),
    key("checkpoint-interval", "--checkpoint-interval", Kind::Value),
    key("resume-if-present", "--resume-if-present", Kind::Bool),
    key("fail-on-worker-loss", "--fail-on-worker-loss", Kind::Bool),
    key("exit-code-on-error", "--exit-code-on-error", Kind::Value),
    key("request-timeout", "--request-timeout", Kind::Value),
    key("connection-per-user", "--connection-per-user", Kind::Bool),
    key("token", "--token", Kind::Value),
    key("insecure", "--insecure", Kind::Bool),
    key("tls-cert", "--tls-cert", Kind::Value),
    key("tls-key", "--tls-key", Kind::Value),
    key("tls-ca", "--tls-ca", Kind::Value),
    key("heartbeat-timeout", "--heartbeat-timeout", Kind::Value),
    key("stop-timeout", "--stop-timeout", Kind::Value),
    key("print-interval", "--print-interval", Kind::Value),
    key("only-summary", "--only-summary", Kind::Bool),
    key("loglevel", "--loglevel", Kind::Value),
    key("web-host", "--web-host", Kind::Value),
    key("web-port", "--web-port", Kind::Value),
    key("autostart", "--autostart", Kind::Bool),
    key("autoquit", "--autoquit", Kind::Value),
    key("web-readonly", "--web-readonly", Kind::Bool),
    key("web-auth", "--web-auth", Kind::Value),
    key("reports-dir", "--reports-dir", Kind::Value),
    key("web-tls-cert", "--web-tls-cert", Kind::Value),
    key("web-tls-key", "--web-tls-key", Kind::Value),
];

/// Environment variables read besides `LV_<KEY>`, each before it (so `LV_HOST` wins).
const EXTRA_ENV: &[(&str, &str)] = &[("host", "HOST")];

/// Where a word came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a profile file (1-based).
    File {
        /// The file, as given.
        path: PathBuf,
        /// Its line.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// Derived from the `--config` file's name.
    ConfigName,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::ConfigName => f.write_str("--config file name"),
        }
    }
}

/// One command-line word and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// `--flag=value`.
    pub word: String,
    /// Its origin.
    pub origin: Origin,
}

/// One setting of a profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key it sets.
    pub key: &'static Key,
    /// The value as written, without quotes or inline comment.
    pub value: String,
    /// Its line (1-based).
    pub line: usize,
}

/// A profile or environment problem: always exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line that is neither a setting, a comment nor blank.
    #[error("{origin}: expected `key = value` or `key: value`, found {:?}", quote(.text))]
    Malformed {
        /// Where.
        origin: Origin,
        /// The line.
        text: String,
    },
    /// A key lv does not know.
    #[error("{origin}: unknown key {:?}{}", quote(.key), did_you_mean(*.suggestion))]
    UnknownKey {
        /// Where.
        origin: Origin,
        /// The key as written.
        key: String,
        /// The closest known key, when one is close.
        suggestion: Option<&'static str>,
    },
    /// A setting given twice in one file.
    #[error("{origin}: {key:?} sets the same option as line {first}")]
    Duplicate {
        /// Where (the second one).
        origin: Origin,
        /// The key.
        key: &'static str,
        /// The line of the first one.
        first: usize,
    },
    /// A key without a value.
    #[error("{origin}: {key:?} needs a value")]
    Empty {
        /// Where.
        origin: Origin,
        /// The key.
        key: &'static str,
    },
    /// Not a boolean.
    #[error("{origin}: {key:?} must be true or false, found {:?}", quote(.value))]
    BadBool {
        /// Where.
        origin: Origin,
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
    },
    /// A value the command-line parser rejected (a bad number or duration, ...).
    #[error("{origin}: {detail}")]
    InvalidValue {
        /// Where.
        origin: Origin,
        /// The parser's message.
        detail: String,
    },
}

/// A value as error messages quote it: cut short when it is long.
fn quote(value: &str) -> String {
    lv_common::bounds::quote(value)
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean {s:?}?)"))
}

/// Parses a profile file's text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, ProfileError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let origin = || Origin::File {
            path: path.to_owned(),
            line,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let malformed = || ProfileError::Malformed {
            origin: origin(),
            text: trimmed.to_owned(),
        };
        let split = trimmed.find(['=', ':']).ok_or_else(malformed)?;
        let name = trimmed[..split].trim();
        let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || !name.chars().all(valid_name) {
            return Err(malformed());
        }
        let key = lookup(name).ok_or_else(|| ProfileError::UnknownKey {
            origin: origin(),
            key: name.to_owned(),
            suggestion: closest(name),
        })?;
        if let Some(first) = entries.iter().find(|e| e.key.flag == key.flag) {
            return Err(ProfileError::Duplicate {
                origin: origin(),
                key: key.name,
                first: first.line,
            });
        }
        let value = unquote(strip_comment(&trimmed[split + 1..]).trim()).to_owned();
        entries.push(Entry { key, value, line });
    }
    Ok(entries)
}

/// The words a file's entries stand for, in file order.
pub fn file_words(path: &Path, entries: &[Entry]) -> Result<Vec<Word>, ProfileError> {
    entries
        .iter()
        .map(|entry| {
            let origin = Origin::File {
                path: path.to_owned(),
                line: entry.line,
            };
            word(entry.key, &entry.value, origin)
        })
        .collect()
}

/// The words the environment stands for: `LV_<KEY>` for every key (`LV_USERS`,
/// `LV_SPAWN_RATE`, ...), and `HOST` for the host. Empty variables count as unset.
pub fn env_words(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<Word>, ProfileError> {
    let mut words = Vec::new();
    for key in KEYS {
        for name in env_names(key) {
            if let Some(value) = lookup(&name).filter(|v| !v.trim().is_empty()) {
                words.push(word(key, value.trim(), Origin::Env(name))?);
            }
        }
    }
    Ok(words)
}

/// The environment variables of a key, lowest precedence first.
pub fn env_names(key: &Key) -> Vec<String> {
    let mut names: Vec<String> = EXTRA_ENV
        .iter()
        .filter(|(name, _)| *name == key.name)
        .map(|(_, var)| (*var).to_owned())
        .collect();
    names.push(format!(
        "LV_{}",
        key.name.to_ascii_uppercase().replace('-', "_")
    ));
    names
}

/// The `--config FILE` or `--config=FILE` among the user's words (the last one; none after
/// `--`). `None` also when the flag has no value, so that clap reports it.
pub fn config_path(user_words: &[OsString]) -> Option<PathBuf> {
    let mut found = None;
    let mut words = user_words.iter();
    while let Some(word) = words.next() {
        match word.to_str() {
            Some("--") => break,
            Some("--config") => found = words.next().map(PathBuf::from),
            Some(w) => {
                if let Some(path) = w.strip_prefix("--config=") {
                    found = Some(PathBuf::from(path));
                }
            }
            None => {}
        }
    }
    found.filter(|p| !p.as_os_str().is_empty())
}

/// The profile name of a config file: its stem (`configs/light.conf` -> `light`).
pub fn profile_name(path: &Path) -> Option<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn lookup(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

fn word(key: &Key, value: &str, origin: Origin) -> Result<Word, ProfileError> {
    let value = match key.kind {
        Kind::Value if value.is_empty() => {
            return Err(ProfileError::Empty {
                origin,
                key: key.name,
            });
        }
        Kind::Value => value.to_owned(),
        Kind::Bool => match parse_bool(value) {
            Some(b) => b.to_string(),
            None => {
                return Err(ProfileError::BadBool {
                    origin,
                    key: key.name,
                    value: value.to_owned(),
                });
            }
        },
        Kind::List => list(value).join(","),
    };
    Ok(Word {
        word: format!("{}={value}", key.flag),
        origin,
    })
}

/// The boolean spellings clap's `BoolishValueParser` accepts, so files and flags agree.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "t" | "y" => Some(true),
        "false" | "no" | "off" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// `a, b`, `[a, b]` or `["a", 'b']` -> `[a, b]`; empty items are dropped.
fn list(value: &str) -> Vec<&str> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    inner
        .split(',')
        .map(|item| unquote(item.trim()))
        .filter(|item| !item.is_empty())
        .collect()
}

/// Drops an inline comment: `#` or `;` after whitespace (so `http://x/#a` keeps its `#`).
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    let end = (1..bytes.len())
        .find(|&i| matches!(bytes[i], b'#' | b';') && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &value[..end]
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The known key closest to `name`, when it is a plausible typo.
fn closest(name: &str) -> Option<&'static str> {
    let wanted = name.to_ascii_lowercase().replace('_', "-");
    let close = |d: usize, k: &str| d <= 2.max(k.len() / 4);
    // The distance is at least the difference in length: a name too long (or short) to be a
    // typo of a key is not compared with it, so a huge key costs no quadratic work.
    let len = wanted.chars().count();
    KEYS.iter()
        .filter(|k| close(len.abs_diff(k.name.len()), k.name))
        .map(|k| (edit_distance(&wanted, k.name), k.name))
        .filter(|(d, k)| close(*d, k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
