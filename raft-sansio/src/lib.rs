//! A deterministic, sans-IO Raft consensus core (under construction: the
//! core arrives with its own issue; this crate re-exports the wire types).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub use raft_sansio_proto as proto;
