//! lv-exchange-probe: keep-alive GETs on a few loopback connections through epoll or
//! io_uring, and the CPU time they cost. bench/compare.sh runs it beside lv and wrk to
//! measure what the kernel interface alone changes in the CPU time of a request.

mod epoll;
mod exchange;
mod tally;
mod target;
mod uring;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};

use crate::tally::cpu_time;
use crate::target::Target;

/// How the probe waits for and moves its bytes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    /// Edge-triggered epoll, a `write` and a `read` per request (as tokio's reactor does).
    Epoll,
    /// io_uring: each request a linked send and receive, all submitted and reaped in one
    /// `io_uring_enter` per turn.
    Uring,
    /// io_uring with one multishot receive armed per connection, answers read into
    /// provided buffers, and sends that complete silently when they succeed.
    UringMultishot,
}

impl Backend {
    /// The name `--backend` takes.
    fn name(self) -> &'static str {
        match self {
            Backend::Epoll => "epoll",
            Backend::Uring => "uring",
            Backend::UringMultishot => "uring-multishot",
        }
    }
}

/// Command line of lv-exchange-probe.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Keep-alive GETs through epoll or io_uring, and their CPU time"
)]
struct Args {
    /// The target, http://HOST:PORT/PATH on a loopback address.
    #[arg(long)]
    url: String,
    /// Connections, each with one request in flight at a time.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Seconds to send for; requests in flight are then answered and counted.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The kernel interface.
    #[arg(long, value_enum)]
    backend: Backend,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let target = match check(&args) {
        Ok(target) => target,
        Err(err) => return fail(&err, 2),
    };
    match run(&args, &target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err, 1),
    }
}

/// The target of valid arguments; an error names the argument that is wrong.
fn check(args: &Args) -> Result<Target> {
    if args.connections == 0 || args.connections > 4096 {
        bail!("--connections {}: expected 1 to 4096", args.connections);
    }
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!(
            "--seconds {}: expected more than 0 and at most 3600",
            args.seconds
        );
    }
    Target::parse(&args.url)
}

/// Connects, sends until the run's end and prints the JSON line; an error when no request
/// was answered.
fn run(args: &Args, target: &Target) -> Result<()> {
    let streams = target.connect(args.connections)?;
    let request = exchange::request(&target.authority, &target.path);
    let before = cpu_time()?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    // An error here ends the process (the io_uring backends rely on it: see uring::run).
    let tally = match args.backend {
        Backend::Epoll => epoll::run(streams, &request, until)?,
        Backend::Uring => uring::run(streams, &request, until)?,
        Backend::UringMultishot => uring::multishot::run(streams, &request, until)?,
    };
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_time()?.since(&before);
    println!("{}", tally.report(args.backend.name(), elapsed, &cpu));
    if tally.requests == 0 {
        bail!(
            "no request was answered: {}",
            tally.first_error.as_deref().unwrap_or("no error either")
        );
    }
    Ok(())
}

/// Says `err` (with its causes) on stderr and exits with `code`.
fn fail(err: &anyhow::Error, code: u8) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "lv-exchange-probe: error: {err:#}");
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_reports_the_name_it_is_asked_for_by() {
        for backend in Backend::value_variants() {
            let parsed = Backend::from_str(backend.name(), false);
            assert_eq!(parsed.map(Backend::name), Ok(backend.name()));
        }
    }
}
