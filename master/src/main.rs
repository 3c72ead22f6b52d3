//! `lv-master`: read the command line, do what it asks (run a test, check the scenarios, try
//! them with one user of each class, compare two reports, write a run's reports again, or
//! say what an exit code means) and exit with its code.
//! Everything else is in the library.

use std::process::ExitCode;

use lv_master::config::cli::{self, Command};
use lv_master::{EXIT_CANNOT_RUN, commands};
use tokio_util::sync::CancellationToken;
use tracing::warn;

fn main() -> ExitCode {
    let result = cli::parse(std::env::args_os(), |name| std::env::var(name).ok())
        .map_err(commands::CommandError::from)
        .and_then(|command| match command {
            Command::Run(args) => commands::run(*args, stop_on_signals),
            Command::Check(args) => commands::check(&args),
            Command::Compare(args) => commands::compare(&args),
            Command::Report(args) => commands::report(&args),
            Command::ExplainExit(args) => commands::explain_exit(&args),
            Command::Try(args) => commands::try_scenarios(&args),
            Command::Capacity(args) => commands::capacity(*args, stop_on_signals),
        });
    ExitCode::from(result.unwrap_or_else(|err| {
        err.print();
        err.exit_code()
    }))
}

/// A second signal this soon after the first is a copy of it, not a second request.
const REPEAT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// First Ctrl-C, SIGTERM or SIGHUP (a closed terminal or SSH session): stop gracefully and
/// write every report. Second: exit at once. The handlers are installed when this is
/// called, before anything is bound, so an early signal is never the default (killing)
/// action.
fn stop_on_signals(shutdown: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (|| {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        ))
    })();
    async move {
        let Ok((mut term, mut interrupt, mut hangup)) = handlers else {
            warn!("cannot listen for signals; Ctrl-C will not stop the run gracefully");
            return;
        };
        let mut first: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = term.recv() => {}
                _ = hangup.recv() => {}
            }
            // One request can arrive twice: `timeout` and `kill -- -PGID` signal the process
            // and its group. A repeat within REPEAT_GRACE is that same request.
            if first.is_some_and(|at| at.elapsed() < REPEAT_GRACE) {
                continue;
            }
            if first.is_none() {
                first = Some(std::time::Instant::now());
                warn!(
                    "stopping: waiting for the workers' final reports (signal again to exit at once)"
                );
                shutdown.cancel();
            } else {
                lv_common::errln!("lv-master: exiting at once");
                std::process::exit(i32::from(EXIT_CANNOT_RUN));
            }
        }
    }
}
