//! The fleet map: which agents exist, where they listen, and how they are grouped.
//!
//! Scenarios name agents (`agent = "ATLAS"`), never addresses. This map turns a name into a base
//! URL: the agent's own `url` when it has one (Kubernetes services), otherwise the scheme and host
//! of `--host` / `HOST` plus the agent's port. The map comes from `configs/fleet.toml` (or
//! [`FleetMap::builtin`], the same content) and is checked whole when it is loaded, so a typo stops
//! a run before anything connects, with a message naming the file and line.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::source::{line_col, toml_error_line};

/// One agent of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Unique name (ASCII case-insensitive), e.g. `ATLAS`.
    pub name: String,
    /// Port added to the host base; not used when `url` is set.
    pub port: Option<u16>,
    /// Group of the agent (`core`, `security`, `creative`); also its first tag.
    pub category: String,
    /// Extra tags beyond the category, e.g. `support`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Full base URL (`http://` or `https://`); wins over host + port.
    pub url: Option<String>,
}

/// The whole fleet, in file order (reports list agents in this order).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetMap {
    /// The agents, one per `[[agent]]` table.
    #[serde(rename = "agent", default)]
    pub agents: Vec<Agent>,
}

/// Scheme + host that agent ports are added to, e.g. parsed from "http://localhost" or
/// "https://staging.example.com".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBase {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or address; IPv6 addresses keep their brackets (`[::1]`).
    pub host: String,
}

/// Why a fleet map or a host could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The fleet file could not be read.
    #[error("cannot read fleet map {}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or not in the fleet map's shape (unknown key, wrong type).
    #[error("{}: {detail}", location(file, *line))]
    Syntax {
        /// The file (or a name standing for the text's origin).
        file: PathBuf,
        /// 1-based line, when the parser knew it.
        line: Option<usize>,
        /// What was wrong.
        detail: String,
    },
    /// The file parsed but breaks a rule of the fleet map (duplicate name, no address...).
    #[error("{}: {detail}", location(file, *line))]
    Invalid {
        /// The file (or a name standing for the text's origin).
        file: PathBuf,
        /// 1-based line of the offending value, when there is one.
        line: Option<usize>,
        /// What was wrong and what was expected.
        detail: String,
    },
    /// A `--host` / `HOST` value that is not `http://HOST` or `https://HOST`.
    #[error("invalid host {value:?}: {detail}")]
    InvalidHost {
        /// The value as given.
        value: String,
        /// What was wrong and what was expected.
        detail: String,
    },
    /// An agent name that is not in the map.
    #[error("unknown agent {name:?}; the fleet map has: {known}")]
    UnknownAgent {
        /// The name asked for.
        name: String,
        /// The map's agent names, comma-separated.
        known: String,
    },
    /// The map could not be written as TOML.
    #[error("cannot write the fleet map as TOML: {0}")]
    Write(#[from] toml::ser::Error),
    /// An agent with neither a port nor a url (only possible for maps built in code).
    #[error("agent {name:?} has neither a port nor a url")]
    NoAddress {
        /// The agent's name.
        name: String,
    },
}

fn location(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

impl HostBase {
    /// Parses `http://HOST` or `https://HOST` (trailing `/` allowed, IPv6 as `[::1]`).
    pub fn parse(s: &str) -> Result<HostBase, FleetError> {
        let bad = |detail: String| FleetError::InvalidHost {
            value: crate::bounds::quote(s),
            detail,
        };
        let (scheme, rest) = s
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("expected http://HOST or https://HOST".to_string()))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad(format!(
                "scheme {scheme:?} is not supported, use http:// or https://"
            )));
        }
        let host = rest.trim_end_matches('/');
        check_host(host).map_err(bad)?;
        Ok(HostBase {
            scheme,
            host: host.to_string(),
        })
    }
}

/// Why `host`, what follows `scheme://` in a `--host`, is not a bare host name or address.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".to_string());
    }
    if host.len() > crate::bounds::MAX_HOSTNAME_LEN {
        return Err(format!(
            "the host is {} characters long; a host name has at most {}",
            host.len(),
            crate::bounds::MAX_HOSTNAME_LEN
        ));
    }
    if host.contains(['/', '?', '#']) {
        return Err(
            "a host cannot have a path, query or fragment; paths come from the scenarios"
                .to_string(),
        );
    }
    let port_error = || {
        "the port comes from the fleet map; give the host without a port, \
         or set an agent's `url` to override it"
            .to_string()
    };
    if let Some(inner) = host.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in an IPv6 address".to_string())?;
        if after.starts_with(':') {
            return Err(port_error());
        }
        if !after.is_empty() || addr.parse::<Ipv6Addr>().is_err() {
            return Err("not a valid IPv6 address, expected e.g. http://[::1]".to_string());
        }
    } else if let Some((_, after)) = host.split_once(':') {
        if after.contains(':') {
            return Err("write IPv6 addresses in brackets, e.g. http://[::1]".to_string());
        }
        return Err(port_error());
    } else if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("a host name may only hold letters, digits, '-', '.' and '_'".to_string());
    }
    Ok(())
}

impl std::fmt::Display for HostBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)
    }
}

impl Agent {
    /// The agent's tags for filtering: its category first, then its tags, without duplicates.
    pub fn all_tags(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(1 + self.tags.len());
        for tag in std::iter::once(&self.category).chain(&self.tags) {
            if !out.contains(tag) {
                out.push(tag.clone());
            }
        }
        out
    }
}

/// The file as written, with spans so validation errors can name their line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(rename = "agent", default)]
    agents: Vec<Spanned<RawAgent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: Spanned<String>,
    port: Option<Spanned<u16>>,
    category: Spanned<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    url: Option<Spanned<String>>,
}

/// The built-in fleet: name, port, category, tags (kept equal to `configs/fleet.toml` by a test).
const BUILTIN: &[(&str, u16, &str, &[&str])] = &[
    ("ATLAS", 8007, "core", &[]),
    ("HADES", 8008, "core", &[]),
    ("CHRONOS", 8010, "core", &[]),
    ("HEPHAESTUS", 8011, "core", &[]),
    ("AEGIS", 8012, "core", &[]),
    ("ATHENA", 8013, "core", &[]),
    ("HERMES", 8014, "core", &["support"]),
    ("ALOY", 8015, "core", &["support"]),
    ("ARGUS", 8016, "core", &["support"]),
    ("CHIRON", 8017, "core", &["support"]),
    ("SCHOLAR", 8018, "core", &[]),
    ("SENTINEL", 8019, "core", &["support"]),
    ("EVENT-BUS", 8099, "core", &["event-bus"]),
    ("CERBERUS", 8020, "security", &[]),
    ("PORT-MANAGER", 8021, "security", &[]),
    ("MUSE", 8030, "creative", &["muse"]),
    ("CALLIOPE", 8031, "creative", &["calliope"]),
    ("THALIA", 8032, "creative", &["thalia"]),
    ("ERATO", 8033, "creative", &["erato"]),
    ("CLIO", 8034, "creative", &["clio"]),
];

impl FleetMap {
    /// The Leveredge fleet, the same content as `configs/fleet.toml`.
    pub fn builtin() -> FleetMap {
        let agents = BUILTIN
            .iter()
            .map(|&(name, port, category, tags)| Agent {
                name: name.to_string(),
                port: Some(port),
                category: category.to_string(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                url: None,
            })
            .collect();
        FleetMap { agents }
    }

    /// Parses and validates a fleet map; `origin` names the text's file in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<FleetMap, FleetError> {
        let raw: RawMap = toml::from_str(text).map_err(|err| FleetError::Syntax {
            file: origin.to_path_buf(),
            line: toml_error_line(text, &err),
            detail: err.message().to_string(),
        })?;
        Validator { text, origin }.check(raw)
    }

    /// Reads and parses a fleet map file.
    pub fn load(path: &Path) -> Result<FleetMap, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        FleetMap::parse(&text, path)
    }

    /// The map in `configs/fleet.toml` format; [`FleetMap::parse`] reads it back unchanged.
    pub fn to_toml_string(&self) -> Result<String, FleetError> {
        Ok(toml::to_string(self)?)
    }

    /// The agent with this name, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Agent> {
        self.agents
            .iter()
            .find(|agent| agent.name.eq_ignore_ascii_case(name))
    }

    /// The agent's base URL: its `url` without trailing `/`, or `scheme://host:port`.
    pub fn base_url(&self, name: &str, host: &HostBase) -> Result<String, FleetError> {
        let agent = self.get(name).ok_or_else(|| FleetError::UnknownAgent {
            name: name.to_string(),
            known: self.names().join(", "),
        })?;
        match (&agent.url, agent.port) {
            (Some(url), _) => Ok(url.trim_end_matches('/').to_string()),
            (None, Some(port)) => Ok(format!("{}://{}:{port}", host.scheme, host.host)),
            (None, None) => Err(FleetError::NoAddress {
                name: agent.name.clone(),
            }),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.agents
            .iter()
            .map(|agent| agent.name.as_str())
            .collect()
    }
}

/// Checks the rules that TOML's shape cannot express, pointing at the offending line.
struct Validator<'a> {
    text: &'a str,
    origin: &'a Path,
}

impl Validator<'_> {
    fn error(&self, span: Option<Range<usize>>, detail: String) -> FleetError {
        FleetError::Invalid {
            file: self.origin.to_path_buf(),
            line: span.map(|span| line_col(self.text, span.start).0),
            detail,
        }
    }

    fn check(&self, raw: RawMap) -> Result<FleetMap, FleetError> {
        if raw.agents.is_empty() {
            return Err(self.error(None, "no agents: add at least one [[agent]] table".into()));
        }
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        let mut agents = Vec::with_capacity(raw.agents.len());
        for table in raw.agents {
            let table_span = table.span();
            let raw = table.into_inner();
            let name_span = raw.name.span();
            let name = raw.name.into_inner();
            if name.trim().is_empty() {
                return Err(self.error(Some(name_span), "agent name is empty".into()));
            }
            let name_line = line_col(self.text, name_span.start).0;
            if let Some(first) = first_seen.insert(name.to_ascii_lowercase(), name_line) {
                let detail = format!("duplicate agent name {name:?} (first on line {first})");
                return Err(self.error(Some(name_span), detail));
            }
            if raw.category.get_ref().trim().is_empty() {
                let detail = format!("agent {name:?}: category is empty");
                return Err(self.error(Some(raw.category.span()), detail));
            }
            if let Some(port) = &raw.port
                && *port.get_ref() == 0
            {
                let detail = format!("agent {name:?}: port 0 is not a port an agent can listen on");
                return Err(self.error(Some(port.span()), detail));
            }
            if let Some(tag) = raw.tags.iter().find(|t| t.get_ref().trim().is_empty()) {
                let detail = format!("agent {name:?}: empty tag");
                return Err(self.error(Some(tag.span()), detail));
            }
            if let Some(url) = &raw.url {
                self.check_url(&name, url)?;
            }
            if raw.port.is_none() && raw.url.is_none() {
                let detail = format!("agent {name:?} needs a `port` or a `url`");
                return Err(self.error(Some(table_span), detail));
            }
            agents.push(Agent {
                name,
                port: raw.port.map(Spanned::into_inner),
                category: raw.category.into_inner(),
                tags: raw.tags.into_iter().map(Spanned::into_inner).collect(),
                url: raw.url.map(Spanned::into_inner),
            });
        }
        Ok(FleetMap { agents })
    }

    fn check_url(&self, name: &str, url: &Spanned<String>) -> Result<(), FleetError> {
        let value = url.get_ref();
        let lower = value.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.trim_start_matches('/').is_empty() => Ok(()),
            Some(_) => {
                let detail = format!("agent {name:?}: url {value:?} has no host");
                Err(self.error(Some(url.span()), detail))
            }
            None => {
                let detail =
                    format!("agent {name:?}: url {value:?} must start with http:// or https://");
                Err(self.error(Some(url.span()), detail))
            }
        }
    }
}

#[cfg(test)]
mod tests;
