//! In-process fan-out of committed outbox events to live listeners (SSE clients). Events
//! are published only after their transaction commits, and a listener that falls behind
//! re-reads the outbox from its last event id, so nothing is lost to a slow consumer.

use std::sync::Arc;

use parley_store::Event;
use tokio::sync::broadcast;
use uuid::Uuid;

const CAPACITY: usize = 1024;

/// A committed event and the workspace it belongs to.
#[derive(Debug, Clone)]
pub struct Published {
    pub workspace_id: Uuid,
    pub event: Arc<Event>,
}

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Published>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus { tx }
    }
}

impl EventBus {
    pub fn publish(&self, workspace_id: Uuid, events: Vec<Event>) {
        for event in events {
            // No listener is not an error: the outbox keeps the event.
            let _ = self.tx.send(Published {
                workspace_id,
                event: Arc::new(event),
            });
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }
}
