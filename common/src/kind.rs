//! SLO kinds of endpoints.
//!
//! Every request step in a scenario names the kind of endpoint it hits (a health check, an event
//! publish, a chat turn, a creative task), because the response-time target in `slo.toml` depends
//! on the kind, not on the agent. The kind travels with the stats so the master can judge each
//! endpoint against the right target.

use std::fmt;
use std::str::FromStr;

/// SLO kind of an endpoint; decides which response-time target applies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SloKind {
    /// Liveness probes such as `GET /health`.
    Health,
    /// Event-bus publishes, queries and acks.
    Event,
    /// Conversational requests to an agent.
    Chat,
    /// Long-running creative tasks.
    Creative,
}

impl SloKind {
    /// Every kind, in declaration order.
    pub const ALL: [SloKind; 4] = [
        SloKind::Health,
        SloKind::Event,
        SloKind::Chat,
        SloKind::Creative,
    ];

    /// The lowercase name used in files, reports and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SloKind::Health => "health",
            SloKind::Event => "event",
            SloKind::Chat => "chat",
            SloKind::Creative => "creative",
        }
    }
}

impl fmt::Display for SloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no SLO kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SLO kind {0:?}: expected one of health, event, chat, creative")]
pub struct UnknownKind(pub String);

impl FromStr for SloKind {
    type Err = UnknownKind;

    /// Parses a kind name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SloKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_from_str_round_trip() {
        for kind in SloKind::ALL {
            assert_eq!(kind.to_string().parse::<SloKind>(), Ok(kind));
        }
        assert_eq!("CHAT".parse::<SloKind>(), Ok(SloKind::Chat));
    }

    #[test]
    fn unknown_kind_lists_every_valid_kind() {
        let err = "batch".parse::<SloKind>().err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("\"batch\""), "{message}");
        for kind in SloKind::ALL {
            assert!(message.contains(kind.as_str()), "{message} lacks {kind}");
        }
    }

    #[test]
    fn serde_uses_lowercase_names() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&SloKind::Creative)?, "\"creative\"");
        let kind: SloKind = serde_json::from_str("\"event\"")?;
        assert_eq!(kind, SloKind::Event);
        assert!(serde_json::from_str::<SloKind>("\"Event\"").is_err());
        Ok(())
    }
}
