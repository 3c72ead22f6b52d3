//! A protocol message that does not make sense, and how it is built.

/// A message that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {message}: {detail}")]
pub struct WireError {
    /// The message type.
    pub message: &'static str,
    /// What is wrong with it.
    pub detail: String,
}

impl From<WireError> for tonic::Status {
    fn from(err: WireError) -> Self {
        tonic::Status::invalid_argument(err.to_string())
    }
}

/// A [`WireError`] for `message` with `detail`.
pub(super) fn wire_err(message: &'static str, detail: impl Into<String>) -> WireError {
    WireError {
        message,
        detail: detail.into(),
    }
}
