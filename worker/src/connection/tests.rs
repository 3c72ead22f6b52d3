//! The worker's liveness check on paused time: the watchdog stops the users once no
//! master has been heard from for longer than the heartbeat timeout, and not before.

use std::time::Duration;

use super::*;
use crate::http::HttpClient;
use crate::swarm::{spawn_with, tests::assignment};
use crate::user::Member;

/// With a 5 s timeout and checks every 250 ms, users touched at 3 s still run at 8 s
/// (silent exactly 5 s) and are stopped at the 8.25 s check; a touch defers the stop.
#[tokio::test(start_paused = true)]
async fn the_watchdog_stops_users_after_the_timeout_of_silence() {
    let t0 = Instant::now();
    let shutdown = CancellationToken::new();
    let client = HttpClient::new(Duration::from_secs(1), 16).expect("an HTTP client");
    let (swarm, swarm_task) = spawn_with(
        client,
        Recorder::default(),
        shutdown.clone(),
        |member: Member, _seed: u64| async move {
            member.stop().cancelled().await;
        },
    );
    swarm.apply(assignment(&["A"], 1, &[("A", 3)], 100.0)).await;
    let contact = Arc::new(LastContact::new());
    let dog = tokio::spawn(watchdog(
        swarm.clone(),
        Arc::clone(&contact),
        Duration::from_secs(5),
        shutdown.child_token(),
    ));
    let at = |ms: u64| tokio::time::sleep_until(t0 + Duration::from_millis(ms));
    at(3_000).await;
    contact.touch();
    at(8_100).await;
    assert_eq!(swarm.status().users_running(), 3);
    assert_eq!(contact.silence(), Duration::from_millis(5_100));
    at(8_300).await;
    assert_eq!(swarm.status().users_running(), 0);
    shutdown.cancel();
    dog.await.expect("the watchdog ends");
    swarm_task.await.expect("the swarm ends");
}

/// An open-model run has no users, yet sends load: the watchdog stops it all the same.
#[tokio::test(start_paused = true)]
async fn the_watchdog_stops_an_open_model_run_too() {
    use lv_common::load::{ArrivalKind, OnSaturation, Stage, Stripe};
    use lv_common::wire::OpenLoad;

    let t0 = Instant::now();
    let shutdown = CancellationToken::new();
    let client = HttpClient::new(Duration::from_secs(1), 16).expect("an HTTP client");
    let (swarm, swarm_task) = spawn_with(
        client,
        Recorder::default(),
        shutdown.clone(),
        |member: Member, _seed: u64| async move {
            member.stop().cancelled().await;
        },
    );
    // A rate of 0 fires nothing (no target needed), but the run is on until stopped.
    let mut open = assignment(&["A"], 1, &[], 1.0);
    open.open = Some(OpenLoad {
        stages: vec![Stage {
            name: "idle".into(),
            duration: Duration::from_secs(60),
            to: 0.0,
        }],
        start_rate: 0.0,
        start_unix_ms: unix_ms_now(),
        stripe: Stripe {
            workers: 1,
            index: 0,
            from: 0,
        },
        arrivals: ArrivalKind::Uniform,
        seed: 1,
        max_in_flight: None,
        on_saturation: OnSaturation::Drop,
    });
    swarm.apply(open).await;
    let contact = Arc::new(LastContact::new());
    let dog = tokio::spawn(watchdog(
        swarm.clone(),
        Arc::clone(&contact),
        Duration::from_secs(5),
        shutdown.child_token(),
    ));
    let at = |ms: u64| tokio::time::sleep_until(t0 + Duration::from_millis(ms));
    at(5_000).await;
    assert_eq!(swarm.status().users_running(), 0);
    assert!(swarm.status().has_run(), "the open run is on");
    at(5_300).await;
    assert!(
        !swarm.status().has_run(),
        "the watchdog stopped the open run"
    );
    shutdown.cancel();
    dog.await.expect("the watchdog ends");
    swarm_task.await.expect("the swarm ends");
}
