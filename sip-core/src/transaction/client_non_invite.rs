//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
//!
//! It sends the request, retransmits on Timer E over UDP (doubling up to T2, then every
//! T2 once a provisional arrived), gives up on Timer F, and after a final response
//! absorbs retransmissions of it until Timer K.

use super::timers::Retransmit;
use super::{Action, ActionQueue, PassUp, Peer, Timer, TimerConfig, TxId};
use crate::message::{Message, Request, Response};
use std::time::Instant;
use tracing::trace;

/// States of Figure 6 (§17.1.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent. `timer_e` is `None` over reliable transports.
    Trying {
        timer_e: Option<Retransmit>,
        timer_f: Instant,
    },
    /// A provisional arrived; Timer E now runs at T2.
    Proceeding {
        timer_e: Option<Retransmit>,
        timer_f: Instant,
    },
    /// A final arrived; retransmissions of it are absorbed until Timer K.
    Completed {
        timer_k: Instant,
    },
    Terminated,
}

/// A non-INVITE client transaction.
#[derive(Debug)]
pub struct ClientNonInvite {
    id: TxId,
    peer: Peer,
    request: Request,
    config: TimerConfig,
    state: ClientNonInviteState,
}

impl ClientNonInvite {
    /// Creates the transaction and sends the request (Trying, Timers E and F).
    pub fn start(
        id: TxId,
        request: Request,
        peer: Peer,
        config: TimerConfig,
        now: Instant,
        out: &mut ActionQueue,
    ) -> Self {
        let timer_e = config
            .retransmit_initial(peer.transport.is_reliable())
            .map(|interval| Retransmit {
                at: now + interval,
                interval,
            });
        out.push_back(Action::Send {
            tx: Some(id),
            message: Message::Request(request.clone()),
            peer,
        });
        ClientNonInvite {
            id,
            peer,
            request,
            config,
            state: ClientNonInviteState::Trying {
                timer_e,
                timer_f: now + config.t1x64(),
            },
        }
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    pub fn state(&self) -> &ClientNonInviteState {
        &self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, ClientNonInviteState::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            ClientNonInviteState::Trying { timer_e, timer_f }
            | ClientNonInviteState::Proceeding { timer_e, timer_f } => {
                Some(timer_e.map_or(*timer_f, |e| e.at.min(*timer_f)))
            }
            ClientNonInviteState::Completed { timer_k } => Some(*timer_k),
            ClientNonInviteState::Terminated => None,
        }
    }

    pub fn handle_response(&mut self, response: Response, now: Instant, out: &mut ActionQueue) {
        match &mut self.state {
            ClientNonInviteState::Trying { timer_e, timer_f }
            | ClientNonInviteState::Proceeding { timer_e, timer_f } => {
                if response.status.is_provisional() {
                    self.state = ClientNonInviteState::Proceeding {
                        timer_e: *timer_e,
                        timer_f: *timer_f,
                    };
                    self.pass_up(response, out);
                } else {
                    self.pass_up(response, out);
                    let k = self.config.i_k(self.peer.transport.is_reliable());
                    if k.is_zero() {
                        self.terminate(out);
                    } else {
                        self.state = ClientNonInviteState::Completed { timer_k: now + k };
                    }
                }
            }
            ClientNonInviteState::Completed { .. } => {
                trace!(tx = %self.id, status = response.status.0, "absorbed in Completed");
            }
            ClientNonInviteState::Terminated => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut ActionQueue) {
        let config = self.config;
        match &mut self.state {
            ClientNonInviteState::Trying { timer_f, .. }
            | ClientNonInviteState::Proceeding { timer_f, .. }
                if *timer_f <= now =>
            {
                out.push_back(Action::Timeout {
                    tx: self.id,
                    timer: Timer::F,
                });
                self.terminate(out);
            }
            ClientNonInviteState::Trying {
                timer_e: Some(e), ..
            } if e.at <= now => {
                // §17.1.2.2: Trying doubles the interval up to T2.
                let interval = config.backoff_capped(e.interval);
                *e = Retransmit {
                    at: now + interval,
                    interval,
                };
                self.retransmit(out);
            }
            ClientNonInviteState::Proceeding {
                timer_e: Some(e), ..
            } if e.at <= now => {
                // §17.1.2.2: Proceeding retransmits every T2.
                *e = Retransmit {
                    at: now + config.t2,
                    interval: config.t2,
                };
                self.retransmit(out);
            }
            ClientNonInviteState::Completed { timer_k } if *timer_k <= now => {
                self.terminate(out);
            }
            _ => {}
        }
    }

    fn retransmit(&self, out: &mut ActionQueue) {
        trace!(tx = %self.id, "Timer E: retransmitting request");
        out.push_back(Action::Send {
            tx: Some(self.id),
            message: Message::Request(self.request.clone()),
            peer: self.peer,
        });
    }

    /// The transport could not send (§17.1.4).
    pub fn handle_transport_error(&mut self, out: &mut ActionQueue) {
        if self.is_terminated() {
            return;
        }
        out.push_back(Action::TransportError { tx: self.id });
        self.terminate(out);
    }

    fn pass_up(&self, response: Response, out: &mut ActionQueue) {
        out.push_back(Action::PassUp(PassUp::Response {
            tx: self.id,
            response,
        }));
    }

    fn terminate(&mut self, out: &mut ActionQueue) {
        self.state = ClientNonInviteState::Terminated;
        out.push_back(Action::Terminated { tx: self.id });
    }
}
