//! The keys of stats rows (endpoint; endpoint and error), the caps on how many distinct
//! keys and how long a message is kept, and map updates that search by borrowed parts so
//! that a row already present costs no allocation.

use std::borrow::Borrow;
use std::collections::BTreeMap;

/// Distinct (method, name) keys kept, overflow rows included; further ones are recorded under
/// [`OVERFLOW_NAME`].
pub const MAX_ENDPOINTS: usize = 1_000;
/// Endpoint name that collects requests beyond [`MAX_ENDPOINTS`].
pub const OVERFLOW_NAME: &str = "(other endpoints)";
/// Distinct (method, name, error) keys kept, overflow rows included; further ones are recorded
/// under [`OVERFLOW_ERROR`].
pub const MAX_FAILURE_KINDS: usize = 500;
/// Error (and exception) text that collects kinds beyond the caps.
pub const OVERFLOW_ERROR: &str = "(other errors)";
/// Distinct exception messages kept; further ones are counted under [`OVERFLOW_ERROR`].
pub const MAX_EXCEPTION_KINDS: usize = 200;
/// Longest error or exception message kept, in bytes, including the trailing "…" of a cut one.
pub const MAX_MESSAGE_LEN: usize = 300;

const ELLIPSIS: &str = "…";

/// Key of one endpoint row: HTTP method and stats name.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct EndpointKey {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Stats name of the request (not necessarily its path).
    pub name: String,
}

/// Key of one failures row: an endpoint plus the error text.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct FailureKey {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Stats name of the request.
    pub name: String,
    /// Error text, at most [`MAX_MESSAGE_LEN`] bytes.
    pub error: String,
}

/// The name a request is filed under: its own, or [`OVERFLOW_NAME`] (and `true`) past the cap.
pub(super) fn endpoint_name<'n, V>(
    map: &BTreeMap<EndpointKey, V>,
    method: &str,
    name: &'n str,
) -> (&'n str, bool) {
    if map.len() < MAX_ENDPOINTS || map.contains_key(&(method, name) as &dyn EndpointRef) {
        (name, false)
    } else {
        (OVERFLOW_NAME, true)
    }
}

/// Adds `count` to a failure kind, truncating the error and applying [`MAX_FAILURE_KINDS`].
pub(super) fn add_failure(
    map: &mut BTreeMap<FailureKey, u64>,
    method: &str,
    name: &str,
    error: &str,
    count: u64,
) {
    let mut buf = [0; MAX_MESSAGE_LEN];
    let mut error = truncate_message(error, &mut buf);
    if map.len() >= MAX_FAILURE_KINDS
        && !map.contains_key(&(method, name, error) as &dyn FailureRef)
    {
        error = OVERFLOW_ERROR;
    }
    upsert(
        map,
        &(method, name, error) as &dyn FailureRef,
        || FailureKey {
            method: method.to_owned(),
            name: name.to_owned(),
            error: error.to_owned(),
        },
        || 0,
        |n| *n = n.saturating_add(count),
    );
}

/// Adds `count` to an exception message, truncating it and applying [`MAX_EXCEPTION_KINDS`].
pub(super) fn add_exception(map: &mut BTreeMap<String, u64>, message: &str, count: u64) {
    let mut buf = [0; MAX_MESSAGE_LEN];
    let mut message = truncate_message(message, &mut buf);
    if map.len() >= MAX_EXCEPTION_KINDS && !map.contains_key(message) {
        message = OVERFLOW_ERROR;
    }
    upsert(
        map,
        message,
        || message.to_owned(),
        || 0,
        |n| *n = n.saturating_add(count),
    );
}

/// Applies `apply` to the value under `lookup`, inserting `make()` under `make_key()` if missing.
pub(super) fn upsert<K, V, Q>(
    map: &mut BTreeMap<K, V>,
    lookup: &Q,
    make_key: impl FnOnce() -> K,
    make: impl FnOnce() -> V,
    apply: impl FnOnce(&mut V),
) where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    if let Some(value) = map.get_mut(lookup) {
        apply(value);
    } else {
        apply(map.entry(make_key()).or_insert_with(make));
    }
}

pub(super) fn endpoint_key(method: &str, name: &str) -> EndpointKey {
    EndpointKey {
        method: method.to_owned(),
        name: name.to_owned(),
    }
}

/// `message`, or its longest prefix (cut on a char boundary) plus "…" built in `buf`, within
/// [`MAX_MESSAGE_LEN`] bytes. The buffer lives on the caller's stack, so nothing is allocated.
pub(super) fn truncate_message<'a>(
    message: &'a str,
    buf: &'a mut [u8; MAX_MESSAGE_LEN],
) -> &'a str {
    if message.len() <= MAX_MESSAGE_LEN {
        return message;
    }
    let mut cut = MAX_MESSAGE_LEN - ELLIPSIS.len();
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let end = cut + ELLIPSIS.len();
    buf[..cut].copy_from_slice(&message.as_bytes()[..cut]);
    buf[cut..end].copy_from_slice(ELLIPSIS.as_bytes());
    // A char-boundary prefix followed by a whole char is valid UTF-8; the fallback is unreachable.
    std::str::from_utf8(&buf[..end]).unwrap_or(ELLIPSIS)
}

/// Borrowed view of an [`EndpointKey`], so maps can be searched with `(&str, &str)`.
pub(super) trait EndpointRef {
    fn parts(&self) -> (&str, &str);
}

impl EndpointRef for EndpointKey {
    fn parts(&self) -> (&str, &str) {
        (&self.method, &self.name)
    }
}

impl EndpointRef for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

/// Borrowed view of a [`FailureKey`], so maps can be searched with `(&str, &str, &str)`.
pub(super) trait FailureRef {
    fn parts(&self) -> (&str, &str, &str);
}

impl FailureRef for FailureKey {
    fn parts(&self) -> (&str, &str, &str) {
        (&self.method, &self.name, &self.error)
    }
}

impl FailureRef for (&str, &str, &str) {
    fn parts(&self) -> (&str, &str, &str) {
        (self.0, self.1, self.2)
    }
}

/// Orders a key view by its parts, which matches the derived order of the owned key (fields
/// compared in declaration order), as `Borrow` requires.
macro_rules! ordered_by_parts {
    ($view:ident, $key:ty) => {
        impl<'a> Borrow<dyn $view + 'a> for $key {
            fn borrow(&self) -> &(dyn $view + 'a) {
                self
            }
        }
        impl PartialEq for dyn $view + '_ {
            fn eq(&self, other: &Self) -> bool {
                self.parts() == other.parts()
            }
        }
        impl Eq for dyn $view + '_ {}
        impl PartialOrd for dyn $view + '_ {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for dyn $view + '_ {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.parts().cmp(&other.parts())
            }
        }
    };
}

ordered_by_parts!(EndpointRef, EndpointKey);
ordered_by_parts!(FailureRef, FailureKey);
