//! A TCP proxy that delays every byte by a fixed time in each direction, for testing lv's
//! control plane under latency where the kernel has no `netem` (tests/netns/partition.sh).
//!
//! Each chunk read from one side is stamped with its arrival and written to the other side
//! once the delay has passed since then, in order; reading goes on meanwhile, so the delay adds
//! latency without cutting throughput. A connection's errors close that connection only.
//!
//! Usage: `lv-delay-proxy --listen ADDR --upstream ADDR [--delay-ms MS]`; prints
//! `lv-delay-proxy: listening on ADDR` on stdout once bound, then serves until killed.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Chunks in flight per direction before reading waits for writing.
const QUEUE: usize = 1024;

/// Forwards TCP connections to an upstream address, each byte delayed.
#[derive(Debug, Parser)]
#[command(name = "lv-delay-proxy")]
struct Cli {
    /// Address to accept connections on.
    #[arg(long)]
    listen: SocketAddr,
    /// Address to forward them to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Delay added in each direction, milliseconds.
    #[arg(long, default_value_t = 100)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot bind {}", cli.listen))?;
    println!("lv-delay-proxy: listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let delay = Duration::from_millis(cli.delay_ms);
    loop {
        let (client, _) = listener.accept().await.context("accept")?;
        let upstream = cli.upstream;
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream).await {
                proxy(client, server, delay).await;
            }
        });
    }
}

/// Copies both ways, delayed, until both directions have ended.
async fn proxy(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        delayed_copy(client_read, server_write, delay),
        delayed_copy(server_read, client_write, delay),
    );
}

/// Reads chunks from `from` and writes each to `to` `delay` after it arrived.
async fn delayed_copy(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
