//! The io_uring backend with multishot receives: each connection's receive is armed once and
//! answers every request; each request is one send whose success leaves no completion; the
//! answers' bytes land in provided buffers.

use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::buffers::Buffers;
use super::{RECV, push, ring, turn};
use crate::exchange::{Answer, GRACE, Progress};
use crate::tally::Tally;

/// The provided buffers' group.
const GROUP: u16 = 0;
/// Bytes in each provided buffer.
const BUFFER_SIZE: usize = 4096;

/// A connection, the answer it is reading, and whether its receive is still armed.
struct Conn {
    stream: TcpStream,
    answer: Answer,
    armed: bool,
    finished: bool,
}

/// Sends on every connection until `until`, each answer's arrival sending the next request.
pub fn run(streams: Vec<TcpStream>, request: &[u8], until: Instant) -> Result<Tally> {
    // Dropped after the ring (declared before it); see `super::run`.
    let mut conns: Vec<Conn> = streams
        .into_iter()
        .map(|stream| Conn {
            stream,
            answer: Answer::default(),
            armed: false,
            finished: false,
        })
        .collect();
    let count = (2 * conns.len()).next_power_of_two().clamp(8, 32_768) as u16;
    let mut buffers = Buffers::new(count, BUFFER_SIZE)?;
    let mut ring = ring(conns.len())?;
    buffers
        .register(&ring.submitter(), GROUP)
        .context("registering provided buffers (io_uring on Linux 5.19 or later)")?;
    let mut tally = Tally::default();
    for (i, conn) in conns.iter_mut().enumerate() {
        if let Err(err) = arm(&mut ring, conn, i).and_then(|()| send(&mut ring, conn, i, request)) {
            finish(conn);
            tally.lost(err);
        }
    }
    let give_up = until + GRACE;
    let mut reaped = Vec::with_capacity(2 * conns.len());
    while conns.iter().any(|c| c.armed) {
        if Instant::now() >= give_up && conns.iter().any(|c| !c.finished) {
            tally.lost(format!("answers still due {GRACE:?} after the end"));
            conns.iter_mut().for_each(finish);
        }
        turn(&mut ring, &mut reaped)?;
        let sending = Instant::now() < until;
        for &(data, result, flags) in &reaped {
            let i = (data >> 1) as usize;
            let conn = &mut conns[i];
            let outcome = if data & RECV == RECV {
                received(conn, result, flags, &mut buffers, &mut tally)
            } else {
                Err(anyhow!(
                    "send: {}",
                    std::io::Error::from_raw_os_error(-result)
                ))
            };
            if let Err(err) =
                outcome.and_then(|answered| next(&mut ring, conn, i, answered, sending, request))
            {
                if !conn.finished {
                    tally.lost(err);
                }
                finish(conn);
            }
        }
    }
    Ok(tally)
}

/// What follows a completion: the next request once an answer is whole (or the end of the
/// connection, once the run is over), and the receive armed again if it has ended.
fn next(
    ring: &mut IoUring,
    conn: &mut Conn,
    i: usize,
    answered: bool,
    sending: bool,
    request: &[u8],
) -> Result<()> {
    match answered {
        true if sending && !conn.finished => send(ring, conn, i, request),
        true => {
            finish(conn);
            Ok(())
        }
        false if !conn.armed && !conn.finished => arm(ring, conn, i),
        false => Ok(()),
    }
}

/// Takes a receive's completion: the bytes into the answer, the buffer lent again.
/// Returns whether an answer is now whole.
fn received(
    conn: &mut Conn,
    result: i32,
    flags: u32,
    buffers: &mut Buffers,
    tally: &mut Tally,
) -> Result<bool> {
    conn.armed = cqueue::more(flags);
    if conn.finished {
        if let Some(bid) = cqueue::buffer_select(flags) {
            buffers.lend(bid);
        }
        return Ok(false);
    }
    if result == -libc::ENOBUFS {
        // Every buffer was in use: the receive ended, and is armed again.
        return Ok(false);
    }
    if result < 0 {
        return Err(anyhow!(
            "receive: {}",
            std::io::Error::from_raw_os_error(-result)
        ));
    }
    let bid = cqueue::buffer_select(flags).context("a receive completed without its buffer")?;
    let len = result as usize;
    let bytes = buffers.filled(bid, len);
    let spare = conn.answer.spare();
    let fits = bytes.len() <= spare.len();
    if fits {
        spare[..bytes.len()].copy_from_slice(bytes);
    }
    buffers.lend(bid);
    if !fits {
        return Err(crate::exchange::AnswerError::TooLong.into());
    }
    match conn.answer.read(len)? {
        Progress::Partial => Ok(false),
        Progress::Complete { status, .. } => {
            tally.answered(status);
            Ok(true)
        }
    }
}

/// Arms `conn`'s multishot receive.
fn arm(ring: &mut IoUring, conn: &mut Conn, i: usize) -> Result<()> {
    let recv = opcode::RecvMulti::new(types::Fd(conn.stream.as_raw_fd()), GROUP)
        .build()
        .user_data(((i as u64) << 1) | RECV);
    push(ring, &recv)?;
    conn.armed = true;
    Ok(())
}

/// Queues one request; only a failed send completes.
fn send(ring: &mut IoUring, conn: &Conn, i: usize, request: &[u8]) -> Result<()> {
    let send = opcode::Send::new(
        types::Fd(conn.stream.as_raw_fd()),
        request.as_ptr(),
        request.len() as u32,
    )
    .build()
    .flags(squeue::Flags::SKIP_SUCCESS)
    .user_data((i as u64) << 1);
    push(ring, &send)
}

/// Ends `conn`: shutting the socket down ends its armed receive with a last completion.
fn finish(conn: &mut Conn) {
    if !conn.finished {
        conn.finished = true;
        let _ = conn.stream.shutdown(Shutdown::Both);
    }
}
