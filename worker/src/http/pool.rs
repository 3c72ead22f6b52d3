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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::BytesMut;
use lv_common::plan::MAX_USER_ORIGINS;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::codec::READ_CHUNK;
use super::stream::{Origin, Stream};

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
    _permit: Permit,
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
            _permit: permit,
        }
    }
}

/// Room in the budget for one connection, and the counter it counts in once opened.
#[derive(Debug)]
pub(super) struct Permit {
    _budget: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
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
    /// Users waiting in [`Pool::checkout`], woken when a connection comes back idle.
    waiting: AtomicUsize,
    returned: Notify,
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
            waiting: AtomicUsize::new(0),
            returned: Notify::new(),
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
        // One connection back serves one waiting user (with its origin's, or by evicting it):
        // waking every waiting user for each would cost them all a look per response, a
        // herd that took all the CPU when thousands waited. tokio hands the wake-up on if
        // the woken user is gone meanwhile.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.returned.notify_one();
        }
    }

    /// True once, after the first time a user had to wait for the budget.
    pub fn take_wait_notice(&self) -> bool {
        self.waited.load(Ordering::Relaxed) && !self.announced.swap(true, Ordering::Relaxed)
    }

    /// A connection for one request to `origin`: an idle one (unless `fresh`), or room to
    /// open a new one. When the budget is spent it closes the longest-idle connection to
    /// any origin, or waits until a connection closes or comes back idle.
    pub async fn checkout(&self, origin: &Origin, fresh: bool) -> Slot {
        loop {
            if let Some(slot) = self.try_checkout(origin, fresh) {
                return slot;
            }
            if self.evict_one() {
                continue;
            }
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            // Registered: look once more, a connection may have come back meanwhile.
            if let Some(slot) = self.try_checkout(origin, fresh) {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return slot;
            }
            self.waited.store(true, Ordering::Relaxed);
            let permit = tokio::select! {
                permit = Arc::clone(&self.budget).acquire_owned() => permit.ok(),
                () = returned => None,
            };
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(permit) = permit {
                return Slot::Open(self.permit(permit));
            }
        }
    }

    /// An idle connection (unless `fresh`) or room for a new one, without waiting.
    fn try_checkout(&self, origin: &Origin, fresh: bool) -> Option<Slot> {
        if !fresh && let Some(conn) = self.take_idle(origin) {
            return Some(Slot::Idle(conn));
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

    #[tokio::test]
    async fn permits_are_bounded_and_come_back() {
        let origin = Origin {
            tls: false,
            host: "127.0.0.1".into(),
            port: 1,
        };
        let pool = Arc::new(Pool::new(2));
        let a = pool.checkout(&origin, false).await;
        let _b = pool.checkout(&origin, false).await;
        assert!(matches!(a, Slot::Open(_)));
        assert!(!pool.take_wait_notice(), "no one waited yet");
        let third = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { matches!(pool.checkout(&origin, false).await, Slot::Open(_)) }
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
}
