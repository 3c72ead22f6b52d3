//! The io_uring backend: each request a send linked to a receive; one `io_uring_enter` a
//! turn submits every new operation and reaps every completion there is.

#![allow(unsafe_code)]

mod buffers;
pub mod multishot;

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use io_uring::{IoUring, opcode, squeue, types};

use crate::exchange::{Answer, GRACE, Progress};
use crate::tally::Tally;

/// `IORING_RECVSEND_POLL_FIRST`: wait for data before trying to receive, since an answer
/// is never there the moment its request is sent.
const POLL_FIRST: u16 = 1;
/// The low bit of an operation's user data: a receive (1) or a send (0).
pub(super) const RECV: u64 = 1;

/// A connection, the answer it is reading, and its operations the kernel still holds.
struct Conn {
    stream: TcpStream,
    answer: Answer,
    pending: u32,
    failed: bool,
}

/// Sends on every connection until `until`, each answer's arrival sending the next request.
pub fn run(streams: Vec<TcpStream>, request: &[u8], until: Instant) -> Result<Tally> {
    // Declared before the ring, so dropped after it; and every operation is reaped before
    // returning `Ok`, so no buffer is freed while the kernel may still write to it. (On an
    // `Err` from io_uring_enter itself, the process ends with the error: see main.)
    let mut conns: Vec<Conn> = streams
        .into_iter()
        .map(|stream| Conn {
            stream,
            answer: Answer::default(),
            pending: 0,
            failed: false,
        })
        .collect();
    let mut ring = ring(conns.len())?;
    let mut tally = Tally::default();
    let mut pending = 0;
    for (i, conn) in conns.iter_mut().enumerate() {
        if let Err(err) = push_exchange(&mut ring, conn, i, request) {
            conn.failed = true;
            tally.lost(err);
        }
        pending += conn.pending;
    }
    let mut reaped = Vec::with_capacity(2 * conns.len());
    let give_up = until + GRACE;
    let mut gave_up = false;
    while pending > 0 {
        if !gave_up && Instant::now() >= give_up {
            // Answers that never come: shutting the sockets down completes their receives.
            gave_up = true;
            tally.lost(format!("answers still due {GRACE:?} after the end"));
            for conn in conns.iter().filter(|c| c.pending > 0) {
                let _ = conn.stream.shutdown(Shutdown::Both);
            }
        }
        turn(&mut ring, &mut reaped)?;
        let sending = Instant::now() < until && !gave_up;
        for &(data, result, _) in &reaped {
            let conn = &mut conns[(data >> 1) as usize];
            let before = conn.pending;
            step(&mut ring, conn, data, result, request, &mut tally, sending);
            pending = pending + conn.pending - before;
        }
    }
    Ok(tally)
}

/// Submits what is queued, waits up to 100 ms for a completion, and puts every completion
/// there is into `reaped` as (user data, result, flags).
pub(super) fn turn(ring: &mut IoUring, reaped: &mut Vec<(u64, i32, u32)>) -> Result<()> {
    let wait = types::Timespec::from(Duration::from_millis(100));
    let args = types::SubmitArgs::new().timespec(&wait);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => {}
        Err(err) if matches!(err.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
        Err(err) => return Err(err).context("io_uring_enter"),
    }
    reaped.clear();
    reaped.extend(
        ring.completion()
            .map(|c| (c.user_data(), c.result(), c.flags())),
    );
    Ok(())
}

/// Takes one completion of `conn`'s and queues what follows it; an error loses the
/// connection.
fn step(
    ring: &mut IoUring,
    conn: &mut Conn,
    data: u64,
    result: i32,
    request: &[u8],
    tally: &mut Tally,
    sending: bool,
) {
    let i = (data >> 1) as usize;
    conn.pending -= 1;
    let next =
        complete(conn, data & RECV == RECV, result, request, tally, sending).and_then(|next| {
            match next {
                Next::Exchange => push_exchange(ring, conn, i, request),
                Next::Receive => push_receive(ring, conn, i, 0),
                Next::Nothing => Ok(()),
            }
        });
    if let Err(err) = next {
        conn.failed = true;
        tally.lost(err);
    }
}

/// What a connection does after a completion.
enum Next {
    Exchange,
    Receive,
    Nothing,
}

/// Takes one completion of `conn`'s: a receive's bytes, or a send's count.
fn complete(
    conn: &mut Conn,
    receive: bool,
    result: i32,
    request: &[u8],
    tally: &mut Tally,
    sending: bool,
) -> Result<Next> {
    if conn.failed {
        return Ok(Next::Nothing);
    }
    if result < 0 {
        return Err(io::Error::from_raw_os_error(-result).into());
    }
    if !receive {
        if result as usize != request.len() {
            anyhow::bail!("sent {result} of the request's {} bytes", request.len());
        }
        return Ok(Next::Nothing);
    }
    match conn.answer.read(result as usize)? {
        Progress::Partial => Ok(Next::Receive),
        Progress::Complete { status, .. } => {
            tally.answered(status);
            Ok(if sending {
                Next::Exchange
            } else {
                Next::Nothing
            })
        }
    }
}

/// A ring with room for every connection's send and receive, set up for one thread that
/// reaps its own completions; plainer set-ups on kernels without those flags.
pub(super) fn ring(conns: usize) -> Result<IoUring> {
    let entries = (2 * conns).next_power_of_two().max(8) as u32;
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(entries)
        .or_else(|_| IoUring::builder().setup_coop_taskrun().build(entries))
        .or_else(|_| IoUring::new(entries))
        .context(
            "io_uring_setup failed: this kernel, or its seccomp filter, does not allow io_uring",
        )
}

/// Queues `conn`'s next request: a send, and linked to it the receive of its answer.
fn push_exchange(ring: &mut IoUring, conn: &mut Conn, i: usize, request: &[u8]) -> Result<()> {
    let send = opcode::Send::new(
        types::Fd(conn.stream.as_raw_fd()),
        request.as_ptr(),
        request.len() as u32,
    )
    .build()
    .flags(squeue::Flags::IO_LINK)
    .user_data((i as u64) << 1);
    push(ring, &send)?;
    conn.pending += 1;
    push_receive(ring, conn, i, POLL_FIRST)
}

/// Queues a receive into the free part of `conn`'s answer buffer.
fn push_receive(ring: &mut IoUring, conn: &mut Conn, i: usize, ioprio: u16) -> Result<()> {
    let spare = conn.answer.spare();
    let recv = opcode::Recv::new(
        types::Fd(conn.stream.as_raw_fd()),
        spare.as_mut_ptr(),
        spare.len() as u32,
    )
    .ioprio(ioprio)
    .build()
    .user_data(((i as u64) << 1) | RECV);
    push(ring, &recv)?;
    conn.pending += 1;
    Ok(())
}

/// Puts one entry on the submission queue, submitting what is there first if it is full.
pub(super) fn push(ring: &mut IoUring, entry: &squeue::Entry) -> Result<()> {
    // SAFETY: the buffers an entry points to live as long as the run: the request is
    // borrowed for all of `run`, each answer buffer is boxed in a connection that `run`
    // holds until every operation has completed, and an answer buffer is only touched
    // again once its receive has completed.
    unsafe {
        if ring.submission().push(entry).is_err() {
            ring.submit().context("io_uring_enter")?;
            ring.submission()
                .push(entry)
                .map_err(|_| anyhow::anyhow!("the submission queue is still full"))?;
        }
    }
    Ok(())
}
