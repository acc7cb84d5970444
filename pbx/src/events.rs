//! Live events (registrations, calls, lockouts) broadcast to whoever listens: the admin
//! UI streams them to browsers. Sending never blocks; slow listeners miss events and
//! re-read the state.

use std::net::IpAddr;
use tokio::sync::broadcast;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbxEvent {
    /// An extension's registered contacts changed; `contacts` is the new count.
    Registration {
        extension: String,
        contacts: usize,
    },
    CallStarted {
        call_id: u64,
        caller: String,
        callee: String,
    },
    CallAnswered {
        call_id: u64,
    },
    CallEnded {
        call_id: u64,
    },
    /// An address was banned after too many failed authentications.
    Lockout {
        address: IpAddr,
    },
    /// A trunk's registration state changed.
    TrunkRegistration {
        trunk: String,
        registered: bool,
    },
}

#[derive(Debug)]
pub struct EventBus {
    tx: broadcast::Sender<PbxEvent>,
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx }
    }

    pub fn publish(&self, event: PbxEvent) {
        // No listener is fine: events are for live views only.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<PbxEvent> {
        self.tx.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}
