//! `lv-master`: read the settings (profile, environment, command line), start logging, bind,
//! run, exit with the run's code.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use lv_master::cli::{CompareArgs, ReportArgs};
use lv_master::summary::read_json;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use lv_master::cli::{LoadError, load_args};
use lv_master::config::MasterConfig;
use lv_master::{EXIT_CANNOT_RUN, EXIT_USAGE};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|word| word == "compare") {
        return compare(&argv[1..]);
    }
    if argv.get(1).is_some_and(|word| word == "report") {
        return report(&argv[1..]);
    }
    let args = match load_args(argv, |name| std::env::var(name).ok()) {
        Ok(args) => args,
        Err(LoadError::Clap(err)) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
        Err(err) => {
            eprintln!("lv-master: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.loglevel)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logfile = match &args.logfile {
        Some(path) => match open_log(path) {
            Ok(file) => Some(file),
            Err(err) => {
                eprintln!(
                    "lv-master: cannot open the log file {}: {err}",
                    path.display()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => None,
    };
    let stderr_log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let file_log = logfile.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(Arc::new(file))
            .with_ansi(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr_log)
        .with(file_log)
        .init();
    if let Some(path) = &args.config {
        let profile = args.profile_name.as_deref().unwrap_or_default();
        info!(profile, path = %path.display(), "profile loaded");
    }
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

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `lv-master report --from FILE`: 0 when every report was written, 2 bad input, 3 a
/// report could not be written.
fn report(argv: &[OsString]) -> ExitCode {
    let args = match ReportArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let rebuilt = read_json(&args.from).and_then(|summary| {
        let stats = lv_master::summary::run_stats_from(&summary)?;
        Ok((summary, stats))
    });
    let (summary, stats) = match rebuilt {
        Ok(rebuilt) => rebuilt,
        Err(err) => {
            eprintln!("lv-master report: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if summary.checkpoint {
        eprintln!(
            "lv-master report: {} is a checkpoint: the run's figures up to {} s after its start",
            args.from.display(),
            summary.run_time_s
        );
    }
    println!("{}", lv_master::final_report(&summary, &stats.totals));
    let paths = lv_master::outputs::OutputPaths {
        json: args.json,
        csv: args.csv,
        csv_full_history: args.csv_full_history,
        html: args.html,
        record: args.record,
    };
    let (_, errors) = lv_master::outputs::write_all(&paths, &summary, &stats);
    for err in &errors {
        eprintln!("lv-master report: {err}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CANNOT_RUN)
    }
}

/// `lv-master compare BASE.json NEW.json`: 0 no regression, 1 regression, 2 bad input.
fn compare(argv: &[OsString]) -> ExitCode {
    let args = match CompareArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let loaded = read_json(&args.base).and_then(|base| Ok((base, read_json(&args.new)?)));
    let (base, new) = match loaded {
        Ok(runs) => runs,
        Err(err) => {
            eprintln!("lv-master compare: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let comparison = match lv_master::compare::compare(&base, &new, args.max_regression) {
        Ok(comparison) => comparison,
        Err(err) => {
            eprintln!("lv-master compare: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    println!("{}", lv_master::compare::render_table(&comparison));
    if let Some(path) = &args.record
        && let Err(err) = lv_master::compare::append_benchmark(path, &new)
    {
        eprintln!(
            "lv-master compare: cannot append to {}: {err}",
            path.display()
        );
        return ExitCode::from(EXIT_CANNOT_RUN);
    }
    if comparison.regressions.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
