//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as updated by RFC 6026 §8.4
//! with the Accepted state and Timer M).
//!
//! It sends the INVITE, retransmits it on Timer A over UDP, gives up on Timer B, ACKs
//! non-2xx finals itself (§17.1.1.3) and, after a 2xx, stays in Accepted for 64*T1 passing
//! every further 2xx (retransmissions and forked answers) to the TU, which ACKs them
//! (§13.2.2.4). It never builds the ACK for a 2xx: that is the dialog's job.

use super::build::build_ack_for_non_2xx;
use super::timers::Retransmit;
use super::{Action, ActionQueue, PassUp, Peer, Timer, TimerConfig, TxId};
use crate::message::{Message, Request, Response};
use std::time::Instant;
use tracing::trace;

/// States of Figure 5 (§17.1.1.2) plus Accepted (RFC 6026 §8.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, no response yet. `timer_a` is `None` over reliable transports.
    Calling {
        timer_a: Option<Retransmit>,
        timer_b: Instant,
    },
    /// A provisional response arrived. `cancel_guard` runs once a CANCEL was sent (§9.1:
    /// without a final response 64*T1 later the INVITE is given up).
    Proceeding {
        cancel_guard: Option<Instant>,
    },
    /// A 300–699 arrived and was ACKed; retransmissions of it are ACKed again until
    /// Timer D.
    Completed {
        ack: Box<Request>,
        timer_d: Instant,
    },
    /// A 2xx arrived; further 2xx go to the TU until Timer M (RFC 6026 §8.4).
    Accepted {
        timer_m: Instant,
    },
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    id: TxId,
    peer: Peer,
    request: Request,
    config: TimerConfig,
    state: ClientInviteState,
    /// Timer C (§16.6 step 11), if configured: reset by each provisional response.
    timer_c: Option<Instant>,
}

impl ClientInvite {
    /// Creates the transaction and sends the INVITE (§17.1.1.2: Calling, Timers A and B).
    pub fn start(
        id: TxId,
        request: Request,
        peer: Peer,
        config: TimerConfig,
        now: Instant,
        out: &mut ActionQueue,
    ) -> Self {
        let reliable = peer.transport.is_reliable();
        let timer_a = config
            .retransmit_initial(reliable)
            .map(|interval| Retransmit {
                at: now + interval,
                interval,
            });
        out.push_back(Action::Send {
            tx: Some(id),
            message: Message::Request(request.clone()),
            peer,
        });
        ClientInvite {
            id,
            peer,
            request,
            config,
            state: ClientInviteState::Calling {
                timer_a,
                timer_b: now + config.t1x64(),
            },
            timer_c: config.timer_c.map(|c| now + c),
        }
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    pub fn state(&self) -> &ClientInviteState {
        &self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, ClientInviteState::Terminated)
    }

    /// True once a final response arrived (CANCEL is then pointless, §9.1).
    pub fn has_final(&self) -> bool {
        matches!(
            self.state,
            ClientInviteState::Completed { .. }
                | ClientInviteState::Accepted { .. }
                | ClientInviteState::Terminated
        )
    }

    /// True once a provisional response arrived, so a CANCEL may be sent (§9.1).
    pub fn is_proceeding(&self) -> bool {
        matches!(self.state, ClientInviteState::Proceeding { .. })
    }

    /// The TU sent a CANCEL for this INVITE: arm the §9.1 guard so a UAS that never
    /// answers 487 does not keep the transaction forever.
    pub fn cancel_sent(&mut self, now: Instant) {
        if let ClientInviteState::Proceeding { cancel_guard } = &mut self.state
            && cancel_guard.is_none()
        {
            *cancel_guard = Some(now + self.config.t1x64());
        }
    }

    /// The earliest running timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state_timer = match &self.state {
            ClientInviteState::Calling { timer_a, timer_b } => {
                Some(timer_a.map_or(*timer_b, |a| a.at.min(*timer_b)))
            }
            ClientInviteState::Proceeding { cancel_guard } => *cancel_guard,
            ClientInviteState::Completed { timer_d, .. } => Some(*timer_d),
            ClientInviteState::Accepted { timer_m } => Some(*timer_m),
            ClientInviteState::Terminated => None,
        };
        let c = match self.state {
            ClientInviteState::Calling { .. } | ClientInviteState::Proceeding { .. } => {
                self.timer_c
            }
            _ => None,
        };
        match (state_timer, c) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A response whose key matched this transaction (§17.1.3).
    pub fn handle_response(&mut self, response: Response, now: Instant, out: &mut ActionQueue) {
        let status = response.status;
        match &mut self.state {
            ClientInviteState::Calling { .. } | ClientInviteState::Proceeding { .. } => {
                if status.is_provisional() {
                    if matches!(self.state, ClientInviteState::Calling { .. }) {
                        self.state = ClientInviteState::Proceeding { cancel_guard: None };
                    }
                    if let Some(c) = self.config.timer_c {
                        self.timer_c = Some(now + c);
                    }
                    self.pass_up(response, out);
                } else if status.is_success() {
                    // RFC 6026 §8.4: 2xx moves to Accepted, not Terminated.
                    self.state = ClientInviteState::Accepted {
                        timer_m: now + self.config.t1x64(),
                    };
                    self.pass_up(response, out);
                } else {
                    let ack = build_ack_for_non_2xx(&self.request, &response);
                    self.send(Message::Request(ack.clone()), out);
                    self.pass_up(response, out);
                    let d = self.config.d(self.peer.transport.is_reliable());
                    if d.is_zero() {
                        self.terminate(out);
                    } else {
                        self.state = ClientInviteState::Completed {
                            ack: Box::new(ack),
                            timer_d: now + d,
                        };
                    }
                }
            }
            ClientInviteState::Completed { ack, .. } => {
                // §17.1.1.2: a retransmitted final is ACKed again, not passed up.
                if status.is_final() && !status.is_success() {
                    let ack = Message::Request(Request::clone(ack));
                    self.send(ack, out);
                } else {
                    trace!(tx = %self.id, status = status.0, "response absorbed in Completed");
                }
            }
            ClientInviteState::Accepted { .. } => {
                // RFC 6026 §8.4: 2xx go up (each needs its ACK); anything else is dropped.
                if status.is_success() {
                    self.pass_up(response, out);
                } else {
                    trace!(tx = %self.id, status = status.0, "non-2xx absorbed in Accepted");
                }
            }
            ClientInviteState::Terminated => {}
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut ActionQueue) {
        if let Some(c) = self.timer_c
            && c <= now
            && matches!(
                self.state,
                ClientInviteState::Calling { .. } | ClientInviteState::Proceeding { .. }
            )
        {
            // §16.6 step 11: the TU CANCELs (or answers 408 if nothing came back); the
            // transaction itself keeps running until its own timers end it.
            self.timer_c = None;
            out.push_back(Action::Timeout {
                tx: self.id,
                timer: Timer::C,
            });
        }
        match &mut self.state {
            ClientInviteState::Calling { timer_a, timer_b } => {
                if *timer_b <= now {
                    out.push_back(Action::Timeout {
                        tx: self.id,
                        timer: Timer::B,
                    });
                    self.terminate(out);
                } else if let Some(a) = timer_a
                    && a.at <= now
                {
                    // §17.1.1.2: Timer A doubles each time, with no T2 cap for INVITE.
                    let interval = a.interval.saturating_mul(2);
                    *a = Retransmit {
                        at: now + interval,
                        interval,
                    };
                    trace!(tx = %self.id, "Timer A: retransmitting INVITE");
                    let msg = Message::Request(self.request.clone());
                    self.send(msg, out);
                }
            }
            ClientInviteState::Proceeding { cancel_guard } => {
                if cancel_guard.is_some_and(|g| g <= now) {
                    out.push_back(Action::Timeout {
                        tx: self.id,
                        timer: Timer::CancelGuard,
                    });
                    self.terminate(out);
                }
            }
            ClientInviteState::Completed { timer_d, .. } => {
                if *timer_d <= now {
                    self.terminate(out);
                }
            }
            ClientInviteState::Accepted { timer_m } => {
                if *timer_m <= now {
                    self.terminate(out);
                }
            }
            ClientInviteState::Terminated => {}
        }
    }

    /// The transport could not send (§17.1.4): tell the TU and end.
    pub fn handle_transport_error(&mut self, out: &mut ActionQueue) {
        if self.is_terminated() {
            return;
        }
        out.push_back(Action::TransportError { tx: self.id });
        self.terminate(out);
    }

    fn send(&self, message: Message, out: &mut ActionQueue) {
        out.push_back(Action::Send {
            tx: Some(self.id),
            message,
            peer: self.peer,
        });
    }

    fn pass_up(&self, response: Response, out: &mut ActionQueue) {
        out.push_back(Action::PassUp(PassUp::Response {
            tx: self.id,
            response,
        }));
    }

    fn terminate(&mut self, out: &mut ActionQueue) {
        self.state = ClientInviteState::Terminated;
        out.push_back(Action::Terminated { tx: self.id });
    }
}
