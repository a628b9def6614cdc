//! What the integration tests share: temporary directories, bounded waits, the compiled examples as
//! processes, a `redis-server` of a test's own, and the inbox tests' app.
//!
//! Each test is a crate of its own that includes this module (`mod support;`) and uses part of it.
#![allow(dead_code)]

pub mod fs;
pub mod http;
pub mod inbox;
pub mod process;
pub mod redis;
pub mod wait;
