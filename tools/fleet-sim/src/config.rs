//! The simulator's configuration, its validation, and the parsers for its command-line values.
//!
//! [`SimConfig`] is what the binary builds from its flags and what tests build in code. It is
//! checked whole by [`SimConfig::validate`] before anything binds, so a bad value (an unknown
//! agent in `down`, an error rate of 2) is a usage error, distinct from a runtime failure such
//! as a port already in use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use lv_common::fleet::{Agent, FleetMap};

/// Everything the simulator needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Address every server binds.
    pub bind: IpAddr,
    /// Added to every agent port; `None` binds port 0 (an ephemeral port) for every agent.
    pub port_offset: Option<u16>,
    /// The agents to simulate.
    pub fleet: FleetMap,
    /// Multiplies every simulated latency; 0 never sleeps.
    pub latency_scale: f64,
    /// Share (0..=1) of requests answered 500 `{"error":"injected failure"}`.
    pub error_rate: f64,
    /// Agents whose ports are not bound at all, so connections are refused.
    pub down: Vec<String>,
    /// Agents with a fixed extra delay in milliseconds on every response (not scaled).
    pub slow: Vec<(String, u64)>,
    /// Endpoints answered 500 `{"error":"injected failure"}` on every request.
    pub fail_endpoints: Vec<FailEndpoint>,
    /// Agents that serve at most C requests at once (`AGENT`, C); the rest wait in a FIFO
    /// queue, so the agent's throughput is at most C / service time.
    pub capacity: Vec<(String, u32)>,
    /// Port of the admin server (counts, reset); `Some(0)` is ephemeral, `None` is no server.
    pub admin_port: Option<u16>,
    /// Seed for latency and failure draws; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Answer with exactly the fields DESIGN.md's "The HTTP API" documents (`{}` where it
    /// documents no body), as a real fleet that keeps only the contract would.
    pub contract_only: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_offset: Some(0),
            fleet: FleetMap::builtin(),
            latency_scale: 1.0,
            error_rate: 0.0,
            down: Vec::new(),
            slow: Vec::new(),
            fail_endpoints: Vec::new(),
            capacity: Vec::new(),
            admin_port: None,
            seed: None,
            contract_only: false,
        }
    }
}

/// One endpoint of one agent that fails every request (`--fail-endpoint "ATLAS POST /v1/chat"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailEndpoint {
    /// The agent's name (any case).
    pub agent: String,
    /// The method, in upper case.
    pub method: String,
    /// The route's pattern (`/v1/events/{id}/ack`) or a request's exact path.
    pub path: String,
}

/// Why the simulator could not start (or write its map).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An agent name in `down`, `slow`, `fail_endpoint` or `capacity` that the fleet map does not have.
    #[error("unknown agent {name:?} among the {list} agents; the fleet map has: {known}")]
    UnknownAgent {
        /// Which list named it: `down`, `slow`, `fail_endpoint` or `capacity`.
        list: &'static str,
        /// The name as given.
        name: String,
        /// The map's agent names, comma-separated.
        known: String,
    },
    /// A configuration value out of its range.
    #[error("invalid {option}: {detail}")]
    InvalidOption {
        /// The option (a [`SimConfig`] field).
        option: &'static str,
        /// What was wrong and what was expected.
        detail: String,
    },
    /// A listener could not be bound.
    #[error("cannot bind {what} on {addr}")]
    Bind {
        /// The agent name, or `admin`.
        what: String,
        /// The address tried.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The bound fleet map could not be written.
    #[error("cannot write fleet map {}", path.display())]
    WriteFleet {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The ready file could not be written.
    #[error("cannot write the ready file {}", path.display())]
    WriteReady {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    /// True for bad configuration (exit code 2), false for runtime failures.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SimError::UnknownAgent { .. } | SimError::InvalidOption { .. }
        )
    }
}

/// How one agent is to be served, after validation.
#[derive(Debug, Clone)]
pub(crate) struct AgentPlan {
    /// The agent as in the fleet map.
    pub(crate) agent: Agent,
    /// Port to bind (or, for a down agent, to report); 0 = ephemeral.
    pub(crate) port: u16,
    /// Whether nothing is to listen for this agent.
    pub(crate) down: bool,
    /// Fixed extra delay on every response.
    pub(crate) slow: Duration,
    /// `METHOD /path` of each endpoint that fails every request.
    pub(crate) fail: Vec<String>,
    /// Requests served at once; the rest queue (`None`: no limit).
    pub(crate) capacity: Option<u32>,
}

impl SimConfig {
    /// Checks every value and resolves agent names, before anything is bound.
    pub fn validate(&self) -> Result<(), SimError> {
        self.plan().map(|_| ())
    }

    /// The validated per-agent plan, in fleet order.
    pub(crate) fn plan(&self) -> Result<Vec<AgentPlan>, SimError> {
        check_scale(self.latency_scale)?;
        check_rate(self.error_rate)?;
        if self.fleet.agents.is_empty() {
            return Err(SimError::InvalidOption {
                option: "fleet",
                detail: "the fleet map has no agents".into(),
            });
        }
        let unknown = |list, name: &str| SimError::UnknownAgent {
            list,
            name: name.to_string(),
            known: self.known(),
        };
        if let Some(name) = self.down.iter().find(|n| self.fleet.get(n).is_none()) {
            return Err(unknown("down", name));
        }
        if let Some((name, _)) = self.slow.iter().find(|(n, _)| self.fleet.get(n).is_none()) {
            return Err(unknown("slow", name));
        }
        let capacities = self.capacity.iter();
        if let Some((name, _)) = capacities
            .clone()
            .find(|(n, _)| self.fleet.get(n).is_none())
        {
            return Err(unknown("capacity", name));
        }
        if let Some((name, _)) = capacities.clone().find(|(_, c)| *c == 0) {
            return Err(SimError::InvalidOption {
                option: "capacity",
                detail: format!("{name}=0 would serve nothing; give at least 1"),
            });
        }
        let failing = self.fail_endpoints.iter();
        if let Some(endpoint) = failing.clone().find(|e| self.fleet.get(&e.agent).is_none()) {
            return Err(unknown("fail_endpoint", &endpoint.agent));
        }
        if let Some(endpoint) = failing
            .clone()
            .find(|e| parse_fail_endpoint(&e.to_string()).is_err())
        {
            return Err(SimError::InvalidOption {
                option: "fail_endpoints",
                detail: format!("{endpoint:?} is not AGENT METHOD /PATH"),
            });
        }
        self.fleet
            .agents
            .iter()
            .map(|agent| self.agent_plan(agent))
            .collect()
    }

    fn agent_plan(&self, agent: &Agent) -> Result<AgentPlan, SimError> {
        let same = |name: &String| name.eq_ignore_ascii_case(&agent.name);
        let port = match (self.port_offset, agent.port) {
            (Some(offset), Some(port)) => {
                port.checked_add(offset)
                    .ok_or_else(|| SimError::InvalidOption {
                        option: "port_offset",
                        detail: format!("{} + {offset} is past 65535 for {}", port, agent.name),
                    })?
            }
            _ => 0,
        };
        let slow_ms: u64 = self
            .slow
            .iter()
            .filter(|(name, _)| same(name))
            .map(|(_, ms)| *ms)
            .sum();
        Ok(AgentPlan {
            agent: agent.clone(),
            port,
            down: self.down.iter().any(same),
            slow: Duration::from_millis(slow_ms),
            fail: self
                .fail_endpoints
                .iter()
                .filter(|e| same(&e.agent))
                .map(|e| format!("{} {}", e.method, e.path))
                .collect(),
            // The last value given for an agent wins.
            capacity: self
                .capacity
                .iter()
                .rev()
                .find(|(name, _)| same(name))
                .map(|(_, c)| *c),
        })
    }

    fn known(&self) -> String {
        let names: Vec<&str> = self.fleet.agents.iter().map(|a| a.name.as_str()).collect();
        names.join(", ")
    }
}

fn check_scale(scale: f64) -> Result<f64, SimError> {
    if scale.is_finite() && scale >= 0.0 {
        Ok(scale)
    } else {
        Err(SimError::InvalidOption {
            option: "latency_scale",
            detail: format!("{scale} is not a number >= 0"),
        })
    }
}

fn check_rate(rate: f64) -> Result<f64, SimError> {
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(SimError::InvalidOption {
            option: "error_rate",
            detail: format!("{rate} is not between 0 and 1"),
        })
    }
}

/// Parses a latency scale: a number >= 0 (`--latency-scale`).
pub fn parse_latency_scale(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    check_scale(value).map_err(|_| format!("{s:?} must be a number >= 0"))
}

/// Parses an error rate: a share between 0 and 1 (`--error-rate`).
pub fn parse_error_rate(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    check_rate(value).map_err(|_| format!("{s:?} must be between 0 and 1 (e.g. 0.05 for 5%)"))
}

/// Parses one `AGENT=MS` pair (`--slow`).
pub fn parse_slow(s: &str) -> Result<(String, u64), String> {
    let (name, ms) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not AGENT=MS"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?} has no agent name, expected AGENT=MS"));
    }
    let ms = ms
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: {ms:?} is not a whole number of milliseconds"))?;
    Ok((name.to_string(), ms))
}

/// Parses one `AGENT=C` pair (`--capacity`): C requests served at once, C >= 1.
pub fn parse_capacity(s: &str) -> Result<(String, u32), String> {
    let (name, count) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not AGENT=C"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?} has no agent name, expected AGENT=C"));
    }
    match count.trim().parse::<u32>() {
        Ok(0) => Err(format!(
            "{s:?}: a capacity of 0 would serve nothing; give at least 1"
        )),
        Ok(count) => Ok((name.to_string(), count)),
        Err(_) => Err(format!(
            "{s:?}: {count:?} is not a whole number of requests"
        )),
    }
}

impl std::fmt::Display for FailEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.agent, self.method, self.path)
    }
}

/// Parses one `AGENT METHOD /PATH` (`--fail-endpoint "ATLAS POST /v1/chat"`); the method
/// is taken in upper case.
pub fn parse_fail_endpoint(s: &str) -> Result<FailEndpoint, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let [agent, method, path] = words[..] else {
        return Err(format!(
            "{s:?} is not AGENT METHOD /PATH (e.g. \"ATLAS POST /v1/chat\")"
        ));
    };
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("{s:?}: {method:?} is not an HTTP method"));
    }
    if !path.starts_with('/') {
        return Err(format!("{s:?}: the path {path:?} does not start with /"));
    }
    Ok(FailEndpoint {
        agent: agent.to_owned(),
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(parse_latency_scale("0"), Ok(0.0));
        assert_eq!(parse_latency_scale(" 2.5 "), Ok(2.5));
        assert!(parse_latency_scale("-1").is_err());
        assert!(parse_latency_scale("NaN").is_err());
        assert!(parse_latency_scale("inf").is_err());
        assert!(parse_latency_scale("fast").is_err());
        assert_eq!(parse_error_rate("0.05"), Ok(0.05));
        assert_eq!(parse_error_rate("1"), Ok(1.0));
        assert!(parse_error_rate("1.5").is_err());
        assert!(parse_error_rate("NaN").is_err());
        assert_eq!(parse_slow("ATLAS=250"), Ok(("ATLAS".into(), 250)));
        assert!(parse_slow("ATLAS").is_err());
        assert!(parse_slow("=5").is_err());
        let err = parse_slow("ATLAS=-5").expect_err("negative");
        assert!(err.contains("ATLAS=-5"), "{err}");
        let endpoint = parse_fail_endpoint(" atlas  post /v1/chat ").expect("valid");
        assert_eq!(
            (
                endpoint.agent.as_str(),
                endpoint.method.as_str(),
                endpoint.path.as_str()
            ),
            ("atlas", "POST", "/v1/chat")
        );
        for bad in [
            "ATLAS POST",
            "ATLAS POST v1/chat",
            "ATLAS P0ST /x",
            "A B /c d",
        ] {
            let err = parse_fail_endpoint(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn capacities_parse_as_agent_equals_count() {
        assert_eq!(parse_capacity("ATLAS=8"), Ok(("ATLAS".into(), 8)));
        assert_eq!(
            parse_capacity(" EVENT-BUS = 20 "),
            Ok(("EVENT-BUS".into(), 20))
        );
        for bad in [
            "ATLAS",
            "=3",
            "ATLAS=0",
            "ATLAS=-1",
            "ATLAS=1.5",
            "ATLAS=many",
        ] {
            let err = parse_capacity(bad).expect_err(bad);
            assert!(err.contains(bad.split('=').next().unwrap_or(bad)), "{err}");
        }
    }

    #[test]
    fn plan_resolves_names_ports_and_faults() {
        let config = SimConfig {
            port_offset: Some(100),
            down: vec!["hades".into()],
            slow: vec![("Atlas".into(), 30), ("ATLAS".into(), 20)],
            ..SimConfig::default()
        };
        let config = SimConfig {
            fail_endpoints: vec![parse_fail_endpoint("atlas POST /v1/chat").expect("valid")],
            ..config
        };
        let plan = config.plan().expect("valid");
        assert_eq!(plan.len(), 20);
        assert_eq!(
            (plan[0].fail.as_slice(), plan[1].fail.len()),
            (&["POST /v1/chat".to_owned()][..], 0)
        );
        assert_eq!(
            (plan[0].port, plan[0].slow),
            (8107, Duration::from_millis(50))
        );
        assert!(plan[1].down && !plan[0].down);
        let queued = SimConfig {
            capacity: vec![("atlas".into(), 4), ("ATLAS".into(), 8)],
            ..SimConfig::default()
        };
        let plan = queued.plan().expect("valid");
        assert_eq!((plan[0].capacity, plan[1].capacity), (Some(8), None));
        let ephemeral = SimConfig {
            port_offset: None,
            ..SimConfig::default()
        };
        assert!(ephemeral.plan().expect("valid").iter().all(|p| p.port == 0));
    }

    #[test]
    fn validation_errors_are_usage_errors() {
        let bad = [
            SimConfig {
                down: vec!["NOSUCH".into()],
                ..SimConfig::default()
            },
            SimConfig {
                slow: vec![("NOSUCH".into(), 5)],
                ..SimConfig::default()
            },
            SimConfig {
                error_rate: 2.0,
                ..SimConfig::default()
            },
            SimConfig {
                capacity: vec![("NOSUCH".into(), 5)],
                ..SimConfig::default()
            },
            SimConfig {
                capacity: vec![("ATLAS".into(), 0)],
                ..SimConfig::default()
            },
            SimConfig {
                latency_scale: f64::NAN,
                ..SimConfig::default()
            },
            SimConfig {
                port_offset: Some(60000),
                ..SimConfig::default()
            },
            SimConfig {
                fleet: FleetMap::default(),
                ..SimConfig::default()
            },
            SimConfig {
                fail_endpoints: vec![parse_fail_endpoint("NOSUCH GET /health").expect("parses")],
                ..SimConfig::default()
            },
            SimConfig {
                fail_endpoints: vec![FailEndpoint {
                    agent: "ATLAS".into(),
                    method: "GET".into(),
                    path: "health".into(),
                }],
                ..SimConfig::default()
            },
        ];
        for config in bad {
            let err = config.validate().expect_err("invalid");
            assert!(err.is_usage(), "{err}");
        }
        let err = SimConfig {
            down: vec!["NOSUCH".into()],
            ..SimConfig::default()
        }
        .validate()
        .expect_err("unknown");
        assert!(err.to_string().contains("\"NOSUCH\""), "{err}");
    }
}
