//! Per-conversation ordering: a turn holds its conversation's lock from loading the state
//! to committing, so two messages to one conversation are handled one after the other
//! while other conversations proceed in parallel. Locks live only while someone holds or
//! waits for them. (One process; several nodes will add a database-level lock.)

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct ConversationLocks {
    locks: Arc<DashMap<Uuid, Arc<Mutex<()>>>>,
}

/// Held for the length of a turn; dropping it lets the next turn of the conversation in.
pub struct ConversationGuard {
    id: Uuid,
    guard: Option<OwnedMutexGuard<()>>,
    locks: Arc<DashMap<Uuid, Arc<Mutex<()>>>>,
}

impl ConversationLocks {
    pub async fn lock(&self, id: Uuid) -> ConversationGuard {
        let mutex = self.locks.entry(id).or_default().clone();
        let guard = mutex.lock_owned().await;
        ConversationGuard {
            id,
            guard: Some(guard),
            locks: self.locks.clone(),
        }
    }

    /// Conversations with a lock held or awaited right now.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }
}

impl Drop for ConversationGuard {
    fn drop(&mut self) {
        // Release first, then forget the lock if nobody else holds a handle to it.
        drop(self.guard.take());
        self.locks
            .remove_if(&self.id, |_, m| Arc::strong_count(m) == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_conversation_is_serialized_and_locks_are_forgotten() {
        let locks = Arc::new(ConversationLocks::default());
        let id = Uuid::now_v7();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (locks, log) = (locks.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock(id).await;
                log.lock().unwrap().push(("start", i));
                tokio::time::sleep(Duration::from_millis(5)).await;
                log.lock().unwrap().push(("end", i));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap();
        for pair in log.chunks(2) {
            assert_eq!(pair[0].0, "start");
            assert_eq!(pair[1], ("end", pair[0].1));
        }
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn different_conversations_do_not_wait_for_each_other() {
        let locks = ConversationLocks::default();
        let _a = locks.lock(Uuid::now_v7()).await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock(Uuid::now_v7())).await;
        assert!(b.is_ok());
    }
}
