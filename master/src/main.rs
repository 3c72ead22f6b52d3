//! `lv-master`: parse the command line, start logging, bind, run, exit with the run's code.

use std::process::ExitCode;

use clap::Parser;
use lv_master::cli::Args;
use lv_master::config::MasterConfig;
use lv_master::{EXIT_CANNOT_RUN, EXIT_USAGE};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.loglevel)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let (config, notes) = match MasterConfig::from_args(&args) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("lv-master: {err:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for note in notes {
        info!("{note}");
    }
    if !args.headless {
        info!("the web UI is not part of this build; running headless");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lv-master: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    runtime.block_on(async {
        let bind = format!("{}:{}", args.master_bind_host, args.master_bind_port);
        let listener = match tokio::net::TcpListener::bind(&bind).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("lv-master: cannot listen on {bind}: {err}");
                return ExitCode::from(EXIT_CANNOT_RUN);
            }
        };
        if let Ok(addr) = listener.local_addr() {
            eprintln!("lv-master: listening for workers on {addr}");
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signals(shutdown.clone()));
        match lv_master::run(config, listener, shutdown).await {
            Ok(outcome) => ExitCode::from(outcome.exit_code),
            Err(err) => {
                eprintln!("lv-master: {err:#}");
                ExitCode::from(EXIT_CANNOT_RUN)
            }
        }
    })
}

/// First Ctrl-C or SIGTERM: stop gracefully. Second: exit at once.
async fn stop_on_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    let mut signals = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        signals += 1;
        if signals == 1 {
            warn!(
                "stopping: waiting for the workers' final reports (signal again to exit at once)"
            );
            shutdown.cancel();
        } else {
            eprintln!("lv-master: exiting at once");
            std::process::exit(i32::from(EXIT_CANNOT_RUN));
        }
    }
}
