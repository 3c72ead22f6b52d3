//! Sending to the master with a bound: when the master stops reading (its host vanished
//! without a reset, a stalled network), a send must end the session after a while, so the
//! worker notices the loss and a shutdown gets through, instead of waiting forever for room
//! in the stream.

use std::time::Duration;

use tokio::sync::mpsc;

/// Why a message did not go out.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum SendError {
    /// The stream is gone.
    #[error("stream closed")]
    Closed,
    /// The stream had no room for this long: the master is not reading.
    #[error("the master read nothing for {} ms", .0.as_millis())]
    Stalled(Duration),
}

/// Sends `message` on `tx`, waiting at most `limit` for room in the stream.
pub(super) async fn send_within<T>(
    tx: &mpsc::Sender<T>,
    message: T,
    limit: Duration,
) -> Result<(), SendError> {
    match tokio::time::timeout(limit, tx.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(SendError::Closed),
        Err(_) => Err(SendError::Stalled(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream nobody drains ends the send after the limit, not before; one with room, or
    /// one whose reader is gone, answers at once.
    #[tokio::test(start_paused = true)]
    async fn a_send_waits_for_room_at_most_the_limit() {
        let (tx, mut rx) = mpsc::channel(1);
        let limit = Duration::from_secs(5);
        assert_eq!(send_within(&tx, 1, limit).await, Ok(()));
        let started = tokio::time::Instant::now();
        assert_eq!(
            send_within(&tx, 2, limit).await,
            Err(SendError::Stalled(limit))
        );
        assert_eq!(started.elapsed(), limit);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(send_within(&tx, 3, limit).await, Ok(()));
        drop(rx);
        assert_eq!(send_within(&tx, 4, limit).await, Err(SendError::Closed));
    }
}
