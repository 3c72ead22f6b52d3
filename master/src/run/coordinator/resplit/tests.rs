//! The coalescing of re-splits, on paused time.

use std::time::Duration;

use tokio::time::Instant;

use super::Resplit;

/// The first change splits at once; changes within the next 100 ms wait for the tick, and
/// one 100 ms or more after the last split goes out at once again.
#[tokio::test(start_paused = true)]
async fn changes_within_a_tick_of_a_split_wait_for_the_tick() {
    let t0 = Instant::now();
    let mut resplit = Resplit::default();
    assert!(resplit.changed(t0), "nothing split yet");
    resplit.split(t0);
    assert!(!resplit.due());
    assert!(!resplit.changed(t0 + Duration::from_millis(1)));
    assert!(!resplit.changed(t0 + Duration::from_millis(99)));
    assert!(resplit.due());
    resplit.split(t0 + Duration::from_millis(100));
    assert!(!resplit.due());
    assert!(resplit.changed(t0 + Duration::from_millis(200)));
    assert!(!resplit.due());
}
