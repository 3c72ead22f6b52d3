//! A benchmark target that answers every request after exactly the given delay.
//!
//! One thread per connection, each sleeping until the request's arrival plus the delay, so
//! answers are late only by the operating system's wake-up time (tens of microseconds), not
//! by a timer wheel's tick or a scheduler's queue. For measuring what a load generator adds to
//! response times (bench/compare.sh latency). Loopback only.
//!
//! Usage: lv-delay-target [--delay-ms MS] [--port PORT]; prints `listening on ADDR`, then
//! serves until killed. Requests must not have bodies (GET, HEAD).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const BODY: &str = r#"{"status":"healthy","agent":"DELAY"}"#;

fn main() -> anyhow::Result<()> {
    let mut delay_ms = 20u64;
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--delay-ms" => {
                let v = value("--delay-ms")?;
                delay_ms = v
                    .parse()
                    .with_context(|| format!("--delay-ms {v}: not a number"))?;
            }
            "--port" => {
                let v = value("--port")?;
                port = v
                    .parse()
                    .with_context(|| format!("--port {v}: not a port"))?;
            }
            other => bail!("unknown argument {other} (use --delay-ms MS, --port PORT)"),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).context("cannot bind 127.0.0.1")?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let delay = Duration::from_millis(delay_ms);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            // A connection's errors end that connection only.
            let _ = serve(stream, delay);
        });
    }
    Ok(())
}

/// Answers the requests of one keep-alive connection, each `delay` after its first byte.
fn serve(stream: TcpStream, delay: Duration) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let arrived = Instant::now();
        // The rest of the head, up to the empty line.
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
        }
        let due = arrived + delay;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        writer.write_all(response.as_bytes())?;
    }
}
