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
//! A new connection is on probation until its first answer. An open-model arrival that
//! finds no idle connection opens a new one, and a server that accepts connections slower
//! than it answers (nginx accepts one an event-loop turn) then gets a storm of them: each
//! waits longer to be accepted, so more arrivals find no idle connection. A paced checkout
//! (the open model's) therefore waits for a connection to come back instead of opening
//! another while [`MAX_UNPROVEN`] are on probation and first answers take much longer than
//! answers on reused connections. A server slow to answer, whose first answers are no
//! slower than the others, gets every connection it needs at once.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use lv_common::plan::MAX_USER_ORIGINS;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::codec::READ_CHUNK;
use super::stream::{Origin, Stream};

/// A read buffer grown past this (by a large response) is not kept with an idle connection.
const MAX_IDLE_BUFFER: usize = 64 * 1024;
/// New connections a paced checkout lets wait for their first answer at once while first
/// answers are slow ([`Turnover::accepts_lag`]).
const MAX_UNPROVEN: usize = 8;
/// First answers count as slow above this many times the answers on reused connections...
const SLOW_FIRST_RATIO: u64 = 4;
/// ...plus this margin, so that a fast server's jitter does not hold new connections back.
const SLOW_FIRST_MARGIN_US: u64 = 500;

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
/// place on probation until its first answer.
#[derive(Debug)]
pub(super) struct Permit {
    _budget: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
    probation: Option<Unproven>,
}

/// One new connection on probation: counted in [`Turnover::unproven`] until its first
/// answer or its end, which may let a waiting checkout open another.
#[derive(Debug)]
struct Unproven(Arc<Turnover>);

impl Unproven {
    fn new(turnover: Arc<Turnover>) -> Unproven {
        turnover.unproven.fetch_add(1, Ordering::SeqCst);
        Unproven(turnover)
    }
}

impl Drop for Unproven {
    fn drop(&mut self) {
        self.0.unproven.fetch_sub(1, Ordering::SeqCst);
        self.0.wake_one();
    }
}

/// What checkouts waiting for a connection wait on, and what tells a server slow to
/// accept new connections.
#[derive(Debug, Default)]
struct Turnover {
    /// Checkouts waiting, woken when a connection comes back idle or leaves probation.
    waiting: AtomicUsize,
    returned: Notify,
    /// New connections waiting for their first answer.
    unproven: AtomicUsize,
    /// Moving averages (weight 1/8) of the time to first byte, in microseconds, of a new
    /// connection's first answer and of an answer on a reused connection.
    first_us: AtomicU64,
    reused_us: AtomicU64,
}

impl Turnover {
    /// Wakes one waiting checkout, if any.
    fn wake_one(&self) {
        // One connection back serves one waiting user (with its origin's, or by evicting
        // it): waking every waiting user for each would cost them all a look per
        // response, a herd that took all the CPU when thousands waited. tokio hands the
        // wake-up on if the woken user is gone meanwhile.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.returned.notify_one();
        }
    }

    /// Whether [`MAX_UNPROVEN`] new connections wait for a first answer while first
    /// answers come much later than answers on reused connections: the server is slow to
    /// accept, and another new connection would only queue behind them.
    fn accepts_lag(&self) -> bool {
        self.unproven.load(Ordering::SeqCst) >= MAX_UNPROVEN
            && first_answers_lag(
                self.first_us.load(Ordering::Relaxed),
                self.reused_us.load(Ordering::Relaxed),
            )
    }

    /// Counts one answer's time to first byte, on a new connection (`first`) or a reused one.
    fn answered(&self, first: bool, ttfb: Duration) {
        let average = if first {
            &self.first_us
        } else {
            &self.reused_us
        };
        let sample = u64::try_from(ttfb.as_micros()).unwrap_or(u64::MAX);
        // Racing updates may lose one sample: an average needs no exact count.
        let old = average.load(Ordering::Relaxed);
        average.store(moving_average(old, sample), Ordering::Relaxed);
    }
}

/// `old` moved an eighth of the way to `sample` (`sample` itself when `old` is 0).
fn moving_average(old: u64, sample: u64) -> u64 {
    if old == 0 {
        return sample;
    }
    let (old, sample) = (i128::from(old), i128::from(sample));
    u64::try_from(old + (sample - old) / 8).unwrap_or(u64::MAX)
}

/// Whether first answers (`first_us`, averaged) are slow against reused connections'.
fn first_answers_lag(first_us: u64, reused_us: u64) -> bool {
    reused_us > 0
        && first_us
            > reused_us
                .saturating_mul(SLOW_FIRST_RATIO)
                .saturating_add(SLOW_FIRST_MARGIN_US)
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
    /// Checkouts waiting, connections on probation, and how fast first answers come.
    turnover: Arc<Turnover>,
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
            turnover: Arc::default(),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Connections open now: idle ones, those in use and the users' own.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// `budget` as a [`Permit`] of this pool.
    fn permit(&self, budget: OwnedSemaphorePermit) -> Permit {
        Permit {
            _budget: budget,
            open: Arc::clone(&self.open),
            probation: Some(Unproven::new(Arc::clone(&self.turnover))),
        }
    }

    /// Counts the answer `conn` just brought: its first ends its probation. Only a
    /// `paced` client (whose checkouts compare them) averages the answers on reused
    /// connections: the closed model would pay for it on every request.
    pub fn answered(&self, conn: &mut Conn, ttfb: Duration, paced: bool) {
        let first = conn.permit.probation.take().is_some();
        if first || paced {
            self.turnover.answered(first, ttfb);
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
        self.turnover.wake_one();
    }

    /// True once, after the first time a user had to wait for the budget.
    pub fn take_wait_notice(&self) -> bool {
        self.waited.load(Ordering::Relaxed) && !self.announced.swap(true, Ordering::Relaxed)
    }

    /// A connection for one request to `origin`: an idle one (unless `fresh`), or room to
    /// open a new one. When the budget is spent it closes the longest-idle connection to
    /// any origin, or waits until a connection closes or comes back idle. A `paced`
    /// checkout also waits for a connection to come back while the server is slow to
    /// accept new ones ([`Turnover::accepts_lag`]).
    pub async fn checkout(&self, origin: &Origin, fresh: bool, paced: bool) -> Slot {
        let turnover = &*self.turnover;
        loop {
            let held = paced && !fresh && turnover.accepts_lag();
            if let Some(slot) = self.try_checkout(origin, fresh, held) {
                return slot;
            }
            if !held && self.evict_one() {
                continue;
            }
            let returned = turnover.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            turnover.waiting.fetch_add(1, Ordering::SeqCst);
            // Registered: look once more, a connection may have come back meanwhile.
            if let Some(slot) = self.try_checkout(origin, fresh, held) {
                turnover.waiting.fetch_sub(1, Ordering::SeqCst);
                return slot;
            }
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
            turnover.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(permit) = permit {
                return Slot::Open(self.permit(permit));
            }
        }
    }

    /// An idle connection (unless `fresh`) or room for a new one (unless `held`), without
    /// waiting.
    fn try_checkout(&self, origin: &Origin, fresh: bool, held: bool) -> Option<Slot> {
        if !fresh && let Some(conn) = self.take_idle(origin) {
            return Some(Slot::Idle(conn));
        }
        if held {
            return None;
        }
        Arc::clone(&self.budget)
            .try_acquire_owned()
            .ok()
            .map(|budget| Slot::Open(self.permit(budget)))
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

    #[test]
    fn first_answers_lag_only_well_behind_reused_ones() {
        assert_eq!(
            moving_average(0, 800),
            800,
            "the first sample is the average"
        );
        assert_eq!(moving_average(800, 0), 700);
        assert_eq!(moving_average(100, 900), 200);
        assert!(
            !first_answers_lag(5_000, 0),
            "nothing reused yet: no comparison"
        );
        assert!(!first_answers_lag(900, 100), "within 4x + 500 us");
        assert!(first_answers_lag(901, 100));
        assert!(
            !first_answers_lag(200_000, 200_000),
            "a slow server's first answers are as slow as its others"
        );
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
        pool.turnover.answered(false, Duration::from_micros(100));
        pool.turnover.answered(true, Duration::from_millis(5));
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
        assert_eq!(pool.turnover.unproven.load(Ordering::SeqCst), MAX_UNPROVEN);
    }
}
