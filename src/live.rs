//! The admin UI's view of the running PBX: registrations, calls in progress, trunk
//! states and the live event stream. The UI crate defines what it needs (`LiveView`);
//! this adapter is the only place that knows both sides.

use admin_ui::{LiveCall, LiveEvent, LiveRegistration, LiveView};
use pbx::PbxContext;
use pbx::events::PbxEvent;
use sip_core::message::serialize::WriteWire;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

#[derive(Debug)]
pub struct PbxLiveView {
    ctx: Arc<PbxContext>,
    events: broadcast::Sender<LiveEvent>,
    /// Whether a task forwards the PBX's events to `events`. It runs only while some
    /// page listens: the PBX publishes an event per REGISTER, and a forwarder that
    /// always listened woke a task on the UI's runtime for every one of them.
    forwarding: Arc<Mutex<bool>>,
}

impl PbxLiveView {
    pub fn new(ctx: Arc<PbxContext>) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(PbxLiveView {
            ctx,
            events,
            forwarding: Arc::new(Mutex::new(false)),
        })
    }

    /// Starts the forwarder unless it runs. Called with the `forwarding` lock held and
    /// after the caller's receiver exists, so the forwarder cannot miss it.
    fn ensure_forwarder(&self, forwarding: &mut bool) {
        if *forwarding {
            return;
        }
        *forwarding = true;
        let mut rx = self.ctx.events.subscribe();
        let tx = self.events.clone();
        let flag = self.forwarding.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        if tx.send(convert(ev)).is_err() {
                            // Nobody listens any more: stop, unless a page subscribed
                            // since (it did so under this lock).
                            let mut on = lock(&flag);
                            if tx.receiver_count() == 0 {
                                *on = false;
                                return;
                            }
                        }
                    }
                    // A slow UI missed events; live pages re-read state on the next one.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => {
                        *lock(&flag) = false;
                        return;
                    }
                }
            }
        });
    }
}

fn lock(m: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn convert(ev: PbxEvent) -> LiveEvent {
    match ev {
        PbxEvent::Registration {
            extension,
            contacts,
        } => LiveEvent::Registration {
            extension,
            contacts,
        },
        PbxEvent::CallStarted {
            call_id,
            caller,
            callee,
        } => LiveEvent::CallStarted {
            call_id,
            caller,
            callee,
        },
        PbxEvent::CallAnswered { call_id } => LiveEvent::CallAnswered { call_id },
        PbxEvent::CallEnded { call_id } => LiveEvent::CallEnded { call_id },
        PbxEvent::Lockout { address } => LiveEvent::Lockout { address },
        PbxEvent::TrunkRegistration { trunk, registered } => {
            LiveEvent::TrunkRegistration { trunk, registered }
        }
    }
}

impl LiveView for PbxLiveView {
    fn registrations(&self) -> Vec<LiveRegistration> {
        self.ctx
            .registrar
            .all()
            .into_iter()
            .map(|b| LiveRegistration {
                extension: b.extension.clone(),
                contact: b.contact.to_wire_string(),
                transport: format!("{:?}", b.destination.kind).to_lowercase(),
                source: b.destination.remote,
                expires_at: b.expires_at,
                user_agent: b.user_agent.clone(),
            })
            .collect()
    }

    fn active_calls(&self) -> Vec<LiveCall> {
        self.ctx
            .calls
            .active()
            .into_iter()
            .map(|c| LiveCall {
                id: c.id,
                caller: c.caller,
                callee: c.callee,
                started_at: c.started_at,
                answered_at: None,
                state: "active".to_string(),
            })
            .collect()
    }

    fn hang_up(&self, call_id: u64) -> bool {
        self.ctx.calls.hang_up(call_id)
    }

    fn trunk_states(&self) -> Vec<(String, bool)> {
        let snapshot = self.ctx.directory.snapshot();
        snapshot
            .trunks
            .iter()
            .map(|t| {
                let registered = self
                    .ctx
                    .trunks
                    .registration(&t.name)
                    .is_some_and(|s| s.registered);
                (t.name.clone(), registered)
            })
            .collect()
    }

    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        let mut forwarding = lock(&self.forwarding);
        let rx = self.events.subscribe();
        self.ensure_forwarder(&mut forwarding);
        rx
    }
}
