//! The epoll backend: edge-triggered readiness registered once, then a `write` and a `read`
//! per request, as tokio's reactor (and so lv's worker) does.

use std::io::{self, Read, Write};
use std::net::TcpStream as StdStream;
use std::time::Instant;

use anyhow::Result;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::exchange::{Answer, GRACE, Progress};
use crate::tally::Tally;

/// A connection and the answer it is reading, if it has a request in flight.
struct Conn {
    stream: TcpStream,
    answer: Answer,
    busy: bool,
}

/// Sends on every connection until `until`, each answer's arrival sending the next request.
pub fn run(streams: Vec<StdStream>, request: &[u8], until: Instant) -> Result<Tally> {
    let mut poll = Poll::new()?;
    let mut tally = Tally::default();
    let mut conns = Vec::with_capacity(streams.len());
    for (i, stream) in streams.into_iter().enumerate() {
        let mut stream = TcpStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        conns.push(Conn {
            stream,
            answer: Answer::default(),
            busy: false,
        });
    }
    let mut busy = 0;
    for conn in &mut conns {
        match send(conn, request) {
            Ok(()) => busy += 1,
            Err(err) => tally.lost(err),
        }
    }
    let mut events = Events::with_capacity(1024);
    let give_up = until + GRACE;
    while busy > 0 {
        let Some(left) = give_up.checked_duration_since(Instant::now()) else {
            tally.lost(format!("{busy} answers still due {GRACE:?} after the end"));
            break;
        };
        match poll.poll(&mut events, Some(left)) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        let sending = Instant::now() < until;
        for event in &events {
            let conn = &mut conns[event.token().0];
            if !conn.busy {
                continue;
            }
            if let Err(err) = receive(conn, &mut tally, sending, request) {
                conn.busy = false;
                tally.lost(err);
            }
            if !conn.busy {
                busy -= 1;
            }
        }
    }
    Ok(tally)
}

/// Writes one request; a connection whose socket buffer is full has failed (one request
/// in flight never fills it).
fn send(conn: &mut Conn, request: &[u8]) -> io::Result<()> {
    let n = conn.stream.write(request)?;
    if n != request.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("wrote {n} of the request's {} bytes", request.len()),
        ));
    }
    conn.busy = true;
    Ok(())
}

/// Reads what the readiness brought: a whole answer is counted and, while `sending`, the
/// next request written at once.
fn receive(conn: &mut Conn, tally: &mut Tally, sending: bool, request: &[u8]) -> Result<()> {
    loop {
        let n = match conn.stream.read(conn.answer.spare()) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        if let Progress::Complete { status, .. } = conn.answer.read(n)? {
            tally.answered(status);
            conn.busy = false;
            if sending {
                send(conn, request)?;
            }
            // Edge-triggered: the next answer's bytes raise a new event of their own.
            return Ok(());
        }
    }
}
