//! Change events for subscriptions (API.md `supportCaseUpdated`, `contractChanged`).
//!
//! Mutations publish after their transaction commits. Subscribers of this process hear an
//! event at once. In production the bus also shares events through Redis pub/sub, so a
//! subscriber hears the changes made through every API process, not only the one its
//! websocket is connected to. Events are notices, not records: one published while Redis is
//! away reaches only this process's subscribers, and a client that must not miss a change
//! reads the contract again after reconnecting.

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Something changed on a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    CaseUpdated {
        contract_id: i64,
        case_pk: i64,
    },
    ContractChanged {
        contract_id: i64,
        /// What changed, as `contractChanged` reports it (`members`, `renewed`, ...).
        kind: String,
    },
}

/// An event as it travels between processes.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The publishing process, which has told its own subscribers already.
    origin: u64,
    event: Event,
}

/// Publishes and subscribes to [`Event`]s.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Event>,
    /// Hands events to the Redis publisher, when events are shared.
    shared: Option<mpsc::UnboundedSender<Event>>,
}

impl EventBus {
    /// A bus for this process alone (embedded mode: one process).
    pub fn new() -> Self {
        Self {
            local: broadcast::channel(1024).0,
            shared: None,
        }
    }

    /// A bus shared by every API process on this Redis, through pub/sub channel `channel`.
    /// Its tasks reconnect by themselves when Redis goes away and comes back.
    pub fn shared(client: redis::Client, channel: String) -> Self {
        let bus = Self::new();
        let origin: u64 = rand::random();
        let (relay_client, relay_channel, local) =
            (client.clone(), channel.clone(), bus.local.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        // The publisher ends when the last clone of the bus is dropped; the relay with it.
        let (publisher_done, bus_dropped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            publish_to_redis(&client, &channel, origin, rx).await;
            drop(publisher_done);
        });
        tokio::spawn(async move {
            tokio::select! {
                _ = relay_from_redis(&relay_client, &relay_channel, origin, local) => {}
                _ = bus_dropped => {}
            }
        });
        Self {
            shared: Some(tx),
            ..bus
        }
    }

    pub fn publish(&self, event: Event) {
        if let Some(shared) = &self.shared {
            let _ = shared.send(event.clone());
        }
        // No subscriber is fine.
        let _ = self.local.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

/// How long the Redis tasks wait before trying again after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Publishes this process's events until the bus is dropped.
async fn publish_to_redis(
    client: &redis::Client,
    channel: &str,
    origin: u64,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let mut conn = None;
    while let Some(event) = events.recv().await {
        let payload =
            serde_json::to_string(&Wire { origin, event }).expect("an event serialises to JSON");
        if conn.is_none() {
            conn = client.get_multiplexed_async_connection().await.ok();
        }
        let Some(c) = conn.as_mut() else {
            tracing::warn!("Redis is away: an event reached this process's subscribers only");
            continue;
        };
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(c)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "an event reached this process's subscribers only");
            conn = None;
        }
    }
}

/// Hands other processes' events to this process's subscribers, reconnecting as needed.
async fn relay_from_redis(
    client: &redis::Client,
    channel: &str,
    origin: u64,
    local: broadcast::Sender<Event>,
) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(channel).await {
                Ok(()) => {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let wire = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|p| serde_json::from_str::<Wire>(&p).ok());
                        match wire {
                            Some(wire) if wire.origin == origin => {}
                            Some(wire) => {
                                let _ = local.send(wire.event);
                            }
                            None => tracing::warn!("an event from Redis was not understood"),
                        }
                    }
                    tracing::warn!("lost the Redis event subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to events in Redis"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot reach Redis for events"),
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_cross_the_wire_unchanged() {
        for event in [
            Event::ContractChanged {
                contract_id: 7,
                kind: "members".into(),
            },
            Event::CaseUpdated {
                contract_id: 7,
                case_pk: 3,
            },
        ] {
            let json = serde_json::to_string(&Wire {
                origin: 1,
                event: event.clone(),
            })
            .unwrap();
            let back: Wire = serde_json::from_str(&json).unwrap();
            assert_eq!((back.origin, back.event), (1, event), "{json}");
        }
        let unknown = r#"{"origin":1,"event":{"TableDropped":{"contract_id":7}}}"#;
        assert!(serde_json::from_str::<Wire>(unknown).is_err());
    }
}
