//! Running a test: the gRPC server workers attach to ([`server`]), the coordinator that owns
//! the run ([`coordinator`]) and what it knows of each worker ([`registry`]).

pub mod coordinator;
pub mod registry;
pub mod server;
