//! The inbox on Redis Streams (being written).

use super::InboxError;

#[derive(Debug)]
pub(crate) struct RedisStore;

impl RedisStore {
    pub(crate) async fn connect(_url: &str, _prefix: &str) -> Result<RedisStore, InboxError> {
        Err(InboxError::msg("not yet"))
    }
}
