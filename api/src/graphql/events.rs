//! Change events for subscriptions (API.md `supportCaseUpdated`, `contractChanged`).
//!
//! Mutations publish after their transaction commits. The bus is per process: a subscriber
//! hears the changes made through the API process it is connected to.

use tokio::sync::broadcast;

/// Something changed on a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    CaseUpdated {
        contract_id: i64,
        case_pk: i64,
    },
    ContractChanged {
        contract_id: i64,
        kind: &'static str,
    },
}

/// Publishes and subscribes to [`Event`]s.
#[derive(Clone)]
pub struct EventBus(broadcast::Sender<Event>);

impl EventBus {
    pub fn new() -> Self {
        Self(broadcast::channel(1024).0)
    }

    pub fn publish(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}
