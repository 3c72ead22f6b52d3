//! Running a test: the gRPC server workers attach to ([`server`]), the coordinator that owns
//! the run ([`coordinator`]) and what it knows of each worker ([`registry`]), and one run
//! from a bound listener to its outcome ([`runner`]).

pub mod coordinator;
pub mod registry;
pub mod runner;
pub mod server;
