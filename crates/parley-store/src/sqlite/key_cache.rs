//! API keys as recently looked up, so an authenticated request does not cost a database
//! read. Keys are only ever created and deleted (never changed); every delete in this
//! store empties the cache before it answers, so a deleted key stops working at once. A
//! lookup that raced with a delete (read the key before the delete, came back after it)
//! does not put it back: the cache has a generation, bumped by every delete, and a lookup
//! stores its answer only if the generation is the one it started under. Entries also
//! expire after [`TTL`], a bound for changes made to the database by anything else.
//! Unknown keys are never cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parley_core::ApiKey;

const TTL: Duration = Duration::from_secs(30);
/// More entries than this and the cache starts over (keys are few; this bounds memory).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct KeyCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    keys: HashMap<Vec<u8>, (ApiKey, Instant)>,
}

impl KeyCache {
    /// The cached key for `hash`, if fresh; else the generation to pass to [`Self::put`].
    pub(super) fn get(&self, hash: &[u8]) -> Result<ApiKey, u64> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.keys.get(hash) {
            Some((key, at)) if at.elapsed() < TTL => Ok(key.clone()),
            _ => Err(inner.generation),
        }
    }

    /// Remembers `key`, unless a delete happened since `generation` was handed out.
    pub(super) fn put(&self, hash: &[u8], key: &ApiKey, generation: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.generation != generation {
            return;
        }
        if inner.keys.len() >= MAX_ENTRIES {
            inner.keys.clear();
        }
        inner
            .keys
            .insert(hash.to_vec(), (key.clone(), Instant::now()));
    }

    /// Forgets every key (after a delete has committed).
    pub(super) fn invalidate(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.keys.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::Role;
    use uuid::Uuid;

    fn key() -> ApiKey {
        ApiKey {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            name: "k".into(),
            prefix: "pk_x".into(),
            role: Role::Admin,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_lookup_that_raced_a_delete_is_not_cached() {
        let cache = KeyCache::default();
        let generation = cache.get(b"h").unwrap_err();
        // The delete lands while the lookup reads the database.
        cache.invalidate();
        cache.put(b"h", &key(), generation);
        assert!(cache.get(b"h").is_err());
        // A lookup started after the delete is cached.
        let generation = cache.get(b"h").unwrap_err();
        let k = key();
        cache.put(b"h", &k, generation);
        assert_eq!(cache.get(b"h").unwrap(), k);
        cache.invalidate();
        assert!(cache.get(b"h").is_err());
    }
}
