//! Goose peer for bench/compare.sh: one scenario, GET /health.
//! GOOSE_WAIT="MIN,MAX" (seconds) sets a random wait between requests (Locust's between);
//! without it users loop with no wait. Every other setting comes from Goose's own flags.
use goose::prelude::*;
use std::time::Duration;

async fn health(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/health").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let mut scenario = scenario!("Bench").register_transaction(transaction!(health).set_name("/health"));
    if let Ok(wait) = std::env::var("GOOSE_WAIT") {
        let (min, max) = wait.split_once(',').expect("GOOSE_WAIT=MIN,MAX");
        let secs = |s: &str| Duration::from_secs_f64(s.trim().parse().expect("seconds"));
        scenario = scenario.set_wait_time(secs(min), secs(max))?;
    }
    GooseAttack::initialize()?
        .register_scenario(scenario)
        .execute()
        .await?;
    Ok(())
}
