//! Idle keep-alive connections per origin, and the worker's budget of open connections.
//!
//! A user takes a connection for one request and puts it back, so a worker keeps about as
//! many connections open as it has requests in flight, not one per user: thousands of
//! users that mostly wait need few file descriptors. The budget (from the open-file
//! limit) bounds the connections open at once; when it is spent, a user closes an idle
//! connection to another origin or waits for one to come back. With
//! `connection_per_user`, each user keeps its connections in its own [`Session`] instead
//! (they still count in the budget; the master checks that a share fits). Every open
//! [`Conn`], pooled or a user's own, counts in [`Pool::open`] while it lives.
//!
//! A new connection is on probation until its first answer ([`probation`]): the open
//! model's checkouts wait for a connection to come back rather than open one more to an
//! origin that is slow to accept them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use lv_common::plan::MAX_USER_ORIGINS;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::codec::READ_CHUNK;
use super::stream::{Origin, Stream};
use probation::{Probation, Unproven};
use waiters::Waiters;

mod probation;
mod waiters;

/// A read buffer grown past this (by a large response) is not kept with an idle connection.
const MAX_IDLE_BUFFER: usize = 64 * 1024;

/// An open connection, its read buffer, and its place in the budget.
#[derive(Debug)]
pub(super) struct Conn {
    /// The byte stream.
    pub stream: Stream,
    /// Bytes read and not yet used.
    pub buf: BytesMut,
    /// Released when the connection is dropped (closed).
    permit: Permit,
    /// Counts the connection as open until it is dropped.
    _open: OpenMark,
}

impl Conn {
    /// Wraps a newly opened stream that holds `permit`.
    pub fn new(stream: Stream, permit: Permit) -> Conn {
        Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            _open: OpenMark::new(Arc::clone(&permit.open)),
            permit,
        }
    }
}

/// Room in the budget for one connection, the counter it counts in once opened, and its
/// origin's probation, which it is on until its first answer.
#[derive(Debug)]
pub(super) struct Permit {
    _budget: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
    probation: Arc<Probation>,
    unproven: Option<Unproven>,
}

/// One open connection in its pool's counter: added when made, taken off when dropped.
#[derive(Debug)]
struct OpenMark(Arc<AtomicUsize>);

impl OpenMark {
    fn new(open: Arc<AtomicUsize>) -> OpenMark {
        open.fetch_add(1, Ordering::Relaxed);
        OpenMark(open)
    }
}

impl Drop for OpenMark {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One user's own connections (`connection_per_user`), most recently used last: at most
/// [`MAX_USER_ORIGINS`] origins, the least recently used closed beyond.
#[derive(Debug, Default)]
pub struct Session {
    conns: Vec<(Origin, Conn)>,
}

impl Session {
    /// Whether it holds no connection.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The user's connection to `origin`, unless there is none or the server closed it.
    pub(super) fn take(&mut self, origin: &Origin) -> Option<Conn> {
        let at = self.conns.iter().position(|(o, _)| o == origin)?;
        let (_, conn) = self.conns.remove(at);
        conn.stream.still_open().then_some(conn)
    }

    /// Keeps `conn` for the user's next request to `origin`, without its read buffer (a
    /// user may wait long; the buffer comes back with the next response).
    pub(super) fn keep(&mut self, origin: &Origin, mut conn: Conn) {
        conn.buf = BytesMut::new();
        if self.conns.len() >= MAX_USER_ORIGINS {
            self.conns.remove(0);
        }
        self.conns.push((origin.clone(), conn));
    }
}

/// The worker's connections.
#[derive(Debug)]
pub(super) struct Pool {
    idle: Mutex<Vec<(Origin, Vec<Conn>)>>,
    budget: Arc<Semaphore>,
    limit: usize,
    waited: AtomicBool,
    announced: AtomicBool,
    /// Checkouts waiting for a connection.
    waiters: Arc<Waiters>,
    /// Each origin's connections on probation, and how fast its first answers come.
    probations: Mutex<Vec<(Origin, Arc<Probation>)>>,
    /// Connections open now (idle, in use, or a user's own).
    open: Arc<AtomicUsize>,
}

impl Pool {
    /// An empty pool that opens at most `limit` connections at once.
    pub fn new(limit: usize) -> Pool {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Pool {
            idle: Mutex::new(Vec::new()),
            budget: Arc::new(Semaphore::new(limit)),
            limit,
            waited: AtomicBool::new(false),
            announced: AtomicBool::new(false),
            waiters: Arc::default(),
            probations: Mutex::new(Vec::new()),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Connections open now: idle ones, those in use and the users' own.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// `budget` as a [`Permit`] of this pool for a new connection to `origin`.
    fn permit(&self, budget: OwnedSemaphorePermit, origin: &Origin) -> Permit {
        let probation = self.probation(origin);
        Permit {
            _budget: budget,
            open: Arc::clone(&self.open),
            unproven: Some(Unproven::new(
                Arc::clone(&probation),
                Arc::clone(&self.waiters),
            )),
            probation,
        }
    }

    /// `origin`'s probation (its first new connection starts it).
    fn probation(&self, origin: &Origin) -> Arc<Probation> {
        // Each critical section is one lookup or push: a panic cannot leave it half done.
        let mut all = self
            .probations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, probation)) = all.iter().find(|(o, _)| o == origin) {
            return Arc::clone(probation);
        }
        let probation = Arc::new(Probation::default());
        all.push((origin.clone(), Arc::clone(&probation)));
        probation
    }

    /// Counts the answer `conn` just brought: its first ends its probation. Only a
    /// `paced` client (whose checkouts compare them) averages the answers on reused
    /// connections: the closed model would pay for it on every request.
    pub fn answered(&self, conn: &mut Conn, ttfb: Duration, paced: bool) {
        let first = conn.permit.unproven.take().is_some();
        if first || paced {
            conn.permit.probation.answered(first, ttfb);
        }
    }

    /// Most connections open at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Origin, Vec<Conn>)>> {
        // Every critical section is one push or pop: a panic cannot leave it half done.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection to `origin`, if any.
    /// Connections the server has closed meanwhile are dropped on the way.
    fn take_idle(&self, origin: &Origin) -> Option<Conn> {
        loop {
            let conn = self
                .lock()
                .iter_mut()
                .find(|(o, _)| o == origin)
                .and_then(|(_, conns)| conns.pop())?;
            if conn.stream.still_open() {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for the next request to `origin`.
    pub fn put_back(&self, origin: &Origin, mut conn: Conn) {
        if conn.buf.capacity() > MAX_IDLE_BUFFER {
            conn.buf = BytesMut::with_capacity(READ_CHUNK);
        }
        let mut idle = self.lock();
        match idle.iter_mut().find(|(o, _)| o == origin) {
            Some((_, conns)) => conns.push(conn),
            None => idle.push((origin.clone(), vec![conn])),
        }
        drop(idle);
        self.waiters.wake_one();
    }

    /// True once, after the first time a user had to wait for the budget.
    pub fn take_wait_notice(&self) -> bool {
        self.waited.load(Ordering::Relaxed) && !self.announced.swap(true, Ordering::Relaxed)
    }

    /// A connection for one request to `origin`: an idle one (unless `fresh`), or room to
    /// open a new one. When the budget is spent it closes the longest-idle connection to
    /// any origin, or waits until a connection closes or comes back idle. A `paced`
    /// checkout also waits for a connection to come back while the server is slow to
    /// accept new ones ([`Probation::accepts_lag`]).
    pub async fn checkout(&self, origin: &Origin, fresh: bool, paced: bool) -> Slot {
        let waiters = &*self.waiters;
        loop {
            let held = match self.try_checkout(origin, fresh, paced) {
                Ok(slot) => return slot,
                Err(held) => held,
            };
            if !held && self.evict_one() {
                continue;
            }
            let returned = waiters.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            waiters.waiting.fetch_add(1, Ordering::SeqCst);
            // Registered: look once more, a connection may have come back meanwhile.
            let held = match self.try_checkout(origin, fresh, paced) {
                Ok(slot) => {
                    waiters.waiting.fetch_sub(1, Ordering::SeqCst);
                    return slot;
                }
                Err(held) => held,
            };
            let permit = if held {
                returned.await;
                None
            } else {
                self.waited.store(true, Ordering::Relaxed);
                tokio::select! {
                    permit = Arc::clone(&self.budget).acquire_owned() => permit.ok(),
                    () = returned => None,
                }
            };
            waiters.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(permit) = permit {
                return Slot::Open(self.permit(permit, origin));
            }
        }
    }

    /// An idle connection (unless `fresh`) or room for a new one, without waiting; else
    /// whether a `paced` checkout is held back by the origin's probation (true) or the
    /// budget is spent (false).
    fn try_checkout(&self, origin: &Origin, fresh: bool, paced: bool) -> Result<Slot, bool> {
        if !fresh && let Some(conn) = self.take_idle(origin) {
            return Ok(Slot::Idle(conn));
        }
        if paced && !fresh && self.probation(origin).accepts_lag() {
            return Err(true);
        }
        Arc::clone(&self.budget)
            .try_acquire_owned()
            .map(|budget| Slot::Open(self.permit(budget, origin)))
            .map_err(|_| false)
    }

    /// Closes the longest-idle connection to any origin; false when none is idle.
    fn evict_one(&self) -> bool {
        let evicted = self
            .lock()
            .iter_mut()
            .find(|(_, conns)| !conns.is_empty())
            .map(|(_, conns)| conns.remove(0));
        evicted.is_some()
    }
}

/// What [`Pool::checkout`] gives.
#[derive(Debug)]
pub(super) enum Slot {
    /// An idle keep-alive connection to the origin.
    Idle(Conn),
    /// Room in the budget to open a new connection.
    Open(Permit),
}

#[cfg(test)]
mod tests {
    use super::probation::MAX_UNPROVEN;
    use super::*;

    /// An origin nothing connects to: the tests take slots, they open no connection.
    fn local_origin() -> Origin {
        Origin {
            tls: false,
            host: "127.0.0.1".into(),
            port: 1,
        }
    }

    #[tokio::test]
    async fn permits_are_bounded_and_come_back() {
        let origin = local_origin();
        let pool = Arc::new(Pool::new(2));
        let a = pool.checkout(&origin, false, false).await;
        let _b = pool.checkout(&origin, false, false).await;
        assert!(matches!(a, Slot::Open(_)));
        assert!(!pool.take_wait_notice(), "no one waited yet");
        let third = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { matches!(pool.checkout(&origin, false, false).await, Slot::Open(_)) }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !third.is_finished(),
            "a third connection waits for the budget"
        );
        drop(a);
        assert!(third.await.expect("task"), "room after the first closed");
        assert!(pool.take_wait_notice(), "the wait is announced");
        assert!(!pool.take_wait_notice(), "once");
    }

    #[tokio::test]
    async fn a_paced_checkout_waits_while_new_connections_queue_to_be_accepted() {
        let origin = local_origin();
        let pool = Arc::new(Pool::new(100));
        let mut unproven = Vec::new();
        for _ in 0..MAX_UNPROVEN {
            unproven.push(pool.checkout(&origin, false, true).await);
        }
        // Answers on reused connections in 100 us, first answers in 5 ms.
        let probation = pool.probation(&origin);
        probation.answered(false, Duration::from_micros(100));
        probation.answered(true, Duration::from_millis(5));
        assert!(
            matches!(pool.checkout(&origin, false, false).await, Slot::Open(_)),
            "an unpaced checkout (the closed model) still opens one"
        );
        let paced = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.checkout(&origin, false, true).await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!paced.is_finished(), "{MAX_UNPROVEN} wait to be accepted");
        assert!(!pool.take_wait_notice(), "not a wait for the budget");
        drop(unproven.pop());
        let opened = paced.await.expect("task");
        assert!(
            matches!(opened, Slot::Open(_)),
            "one left probation: room for one"
        );
        assert_eq!(probation.unproven(), MAX_UNPROVEN);
        let other = Origin {
            port: 2,
            ..local_origin()
        };
        let elsewhere =
            tokio::time::timeout(Duration::from_secs(5), pool.checkout(&other, false, true));
        assert!(
            matches!(elsewhere.await, Ok(Slot::Open(_))),
            "another origin is not held back"
        );
    }
}
