//! Shared pieces of lv: everything the master and the workers must agree on.
//!
//! # Layout
//! - [`pb`]: generated protocol types and gRPC stubs (`proto/lv.proto`, package `lv.v1`).
//! - [`wire`]: conversions between protocol messages and the domain types below.
//! - [`fleet`]: the fleet map (agent name to port or base URL, categories, tags).
//! - [`plan`]: the resolved plan a master ships to its workers (the master loads and
//!   resolves scenario files into it).
//! - [`template`]: request templates, compiled once at load.
//! - [`data`]: test data (`[[data]]`): compact tables, draw modes, chunks and grants.
//! - [`wait`]: wait rules between tasks.
//! - [`stats`]: per-endpoint HdrHistogram stats and their exact merge.
//! - [`kind`]: SLO kinds of endpoints.
//! - [`quota`]: splitting users across classes and workers.
//! - [`duration`]: Locust-style durations (`30s`, `5m`, `1h30m`).
//! - [`source`]: locating errors in source text (file and line).
//! - [`bounds`]: the largest values a run accepts, and deadlines that cannot overflow.
//! - [`limits`]: the open-file limit, raised at start by both binaries.
//! - [`load`]: load shapes (stages, closed and open models), arrival schedules, striping.
//! - [`stdio`]: stdout and stderr lines that a closed pipe cannot turn into a crash.
//! - [`tls`]: target TLS settings (`--target-ca`, `--target-cert`, ...), read and checked.

/// Generated protocol types and gRPC stubs (package `lv.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb;

pub mod bounds;
pub mod data;
pub mod duration;
pub mod fleet;
pub mod kind;
pub mod limits;
pub mod load;
pub mod plan;
pub mod quota;
pub mod source;
pub mod stats;
pub mod stdio;
pub mod template;
pub mod tls;
pub mod wait;
pub mod wire;

/// Version of the master <-> worker protocol; peers must agree exactly. 2: a worker
/// answers an Assignment it cannot carry out with a Rejection. 3: the plan may limit each
/// user's tasks (`iterations`), and a worker's heartbeat counts the users that finished them;
/// test data travels in DataChunks ahead of the Assignment, which grants rows (DataGrant).
pub const PROTOCOL_VERSION: u32 = 3;

/// Largest gRPC message either side decodes (tonic's default); the master refuses a plan
/// whose Assignment would be larger.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Version of lv (the crate version of every binary).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Open files a worker keeps free of HTTP connections (the master link, logs, DNS); the
/// rest of its open-file limit bounds its connections, and the master counts with it.
pub const FD_RESERVE: u64 = 64;
