use super::*;

/// Real time, not paused: each wait ends at or after its instant, and the precise pacer
/// ends far closer to it than tokio's millisecond timer could promise. The bound is loose
/// (a loaded CI machine), the exactness is what the benchmark measures.
#[tokio::test]
async fn precise_waits_never_end_early() {
    let pacer = Pacer::precise();
    #[cfg(target_os = "linux")]
    assert!(matches!(pacer, Pacer::Precise(_)));
    let mut lates = Vec::new();
    for step in 0..200u64 {
        // Waits of 0 to 4.975 ms.
        let at = Instant::now() + Duration::from_micros(step * 25);
        pacer.sleep_until(at).await;
        let now = Instant::now();
        assert!(now >= at, "woke {:?} early", at - now);
        lates.push(now - at);
    }
    lates.sort();
    let median = lates[lates.len() / 2];
    assert!(
        median < Duration::from_millis(5),
        "median lateness {median:?}"
    );
}

/// Abandoned waits (a stop, a new stripe) leave the timer serving the next ones, even when
/// an abandoned one expired unread meanwhile: the next wait still lasts until its instant.
#[tokio::test]
async fn abandoned_waits_do_not_disturb_later_ones() {
    let pacer = Pacer::precise();
    for _ in 0..10 {
        let far = Instant::now() + Duration::from_secs(60);
        let _ = tokio::time::timeout(Duration::from_millis(3), pacer.sleep_until(far)).await;
    }
    // Abandoned 1 ms before its instant, so its expiry is left unread.
    let soon = Instant::now() + Duration::from_millis(2);
    let _ = tokio::time::timeout(Duration::from_millis(1), pacer.sleep_until(soon)).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let at = Instant::now() + Duration::from_millis(20);
    pacer.sleep_until(at).await;
    assert!(
        Instant::now() >= at,
        "the stale expiry ended the wait early"
    );
}
