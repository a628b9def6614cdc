//! What the workspace's integration tests share: temporary directories, bounded waits, raw HTTP/1.1
//! requests, the compiled examples and programs as processes, and a `redis-server` of a test's own.
//! Never published.

pub mod fs;
pub mod http;
pub mod process;
pub mod redis;
pub mod wait;
