//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated by RFC 6026 §8.5–
//! §8.7 with the Accepted state and Timer L).
//!
//! It resends the last response when the INVITE is retransmitted, retransmits a non-2xx
//! final on Timer G over UDP until the ACK arrives (Confirmed) or Timer H gives up, and
//! after a 2xx waits in Accepted for 64*T1, sending the 2xx retransmissions the TU makes
//! (§13.3.1.4) and absorbing INVITE retransmissions. The TU, not this transaction,
//! retransmits 2xx responses.

use super::timers::Retransmit;
use super::{Action, ActionQueue, PassUp, Peer, Timer, TimerConfig, TransactionError, TxId};
use crate::message::{Message, Method, Request, Response, SipStr};
use std::time::Instant;
use tracing::trace;

/// States of Figure 7 (§17.2.1) plus Accepted (RFC 6026 §8.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The INVITE was passed up; the last provisional sent, if any, answers
    /// retransmissions.
    Proceeding {
        last_provisional: Option<Response>,
    },
    /// A 300–699 was sent and is retransmitted on Timer G until the ACK, or Timer H.
    Completed {
        response: Response,
        timer_g: Option<Retransmit>,
        timer_h: Instant,
    },
    /// The ACK arrived; further ACKs are absorbed until Timer I.
    Confirmed {
        timer_i: Instant,
    },
    /// A 2xx was sent; the TU's 2xx retransmissions go out until Timer L.
    Accepted {
        timer_l: Instant,
    },
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    id: TxId,
    peer: Peer,
    request: Request,
    config: TimerConfig,
    state: ServerInviteState,
    /// The To tag of the last response sent: an RFC 2543 ACK matches on it (§17.2.3).
    response_to_tag: Option<SipStr>,
}

impl ServerInvite {
    /// A transaction for a newly received INVITE, in Proceeding. The layer passes the
    /// INVITE up and may send a 100 Trying on the TU's behalf (§17.2.1).
    pub fn new(id: TxId, request: Request, peer: Peer, config: TimerConfig) -> Self {
        ServerInvite {
            id,
            peer,
            request,
            config,
            state: ServerInviteState::Proceeding {
                last_provisional: None,
            },
            response_to_tag: None,
        }
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    pub fn state(&self) -> &ServerInviteState {
        &self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn response_to_tag(&self) -> Option<&str> {
        self.response_to_tag.as_deref()
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, ServerInviteState::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            ServerInviteState::Proceeding { .. } | ServerInviteState::Terminated => None,
            ServerInviteState::Completed {
                timer_g, timer_h, ..
            } => Some(timer_g.map_or(*timer_h, |g| g.at.min(*timer_h))),
            ServerInviteState::Confirmed { timer_i } => Some(*timer_i),
            ServerInviteState::Accepted { timer_l } => Some(*timer_l),
        }
    }

    /// The TU sends a response (§17.2.1).
    pub fn send_response(
        &mut self,
        response: Response,
        now: Instant,
        out: &mut ActionQueue,
    ) -> Result<(), TransactionError> {
        let status = response.status;
        match &mut self.state {
            ServerInviteState::Proceeding { last_provisional } => {
                self.response_to_tag = response
                    .headers
                    .to()
                    .and_then(|t| t.tag())
                    .map(SipStr::from);
                if status.is_provisional() {
                    *last_provisional = Some(response.clone());
                    self.send(response, out);
                } else if status.is_success() {
                    // RFC 6026 §8.5: Accepted instead of Terminated, so INVITE
                    // retransmissions are absorbed rather than seen as new requests.
                    self.send(response, out);
                    self.state = ServerInviteState::Accepted {
                        timer_l: now + self.config.t1x64(),
                    };
                } else {
                    let timer_g = self
                        .config
                        .retransmit_initial(self.peer.transport.is_reliable())
                        .map(|interval| Retransmit {
                            at: now + interval,
                            interval,
                        });
                    self.send(response.clone(), out);
                    self.state = ServerInviteState::Completed {
                        response,
                        timer_g,
                        timer_h: now + self.config.t1x64(),
                    };
                }
                Ok(())
            }
            ServerInviteState::Accepted { .. } if status.is_success() => {
                // RFC 6026 §8.7: the TU's 2xx retransmissions (§13.3.1.4) pass through.
                self.send(response, out);
                Ok(())
            }
            ServerInviteState::Terminated => Err(TransactionError::NoSuchTransaction(self.id)),
            _ => Err(TransactionError::FinalAlreadySent(self.id)),
        }
    }

    /// A request that matched this transaction: an INVITE retransmission or an ACK.
    pub fn handle_request(
        &mut self,
        request: Request,
        from: Peer,
        now: Instant,
        out: &mut ActionQueue,
    ) {
        let is_ack = request.method == Method::Ack;
        match &mut self.state {
            ServerInviteState::Proceeding { last_provisional } => {
                if is_ack {
                    trace!(tx = %self.id, "ACK before any final response dropped");
                } else if let Some(p) = last_provisional.clone() {
                    self.send(p, out);
                }
            }
            ServerInviteState::Completed { response, .. } => {
                if is_ack {
                    // §17.2.1: the ACK ends retransmissions; Timer I absorbs its copies.
                    let i = self.config.i_k(self.peer.transport.is_reliable());
                    if i.is_zero() {
                        self.terminate(out);
                    } else {
                        self.state = ServerInviteState::Confirmed { timer_i: now + i };
                    }
                } else {
                    let r = response.clone();
                    self.send(r, out);
                }
            }
            ServerInviteState::Confirmed { .. } => {
                trace!(tx = %self.id, "absorbed in Confirmed");
            }
            ServerInviteState::Accepted { .. } => {
                if is_ack {
                    // RFC 6026 §8.7: an ACK that matches in Accepted goes to the TU.
                    out.push_back(Action::PassUp(PassUp::Ack {
                        tx: Some(self.id),
                        request,
                        from,
                    }));
                } else {
                    trace!(tx = %self.id, "INVITE retransmission absorbed in Accepted");
                }
            }
            ServerInviteState::Terminated => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut ActionQueue) {
        let config = self.config;
        match &mut self.state {
            ServerInviteState::Completed { timer_h, .. } if *timer_h <= now => {
                // §17.2.1: the ACK never came; tell the TU.
                out.push_back(Action::Timeout {
                    tx: self.id,
                    timer: Timer::H,
                });
                self.terminate(out);
            }
            ServerInviteState::Completed {
                response,
                timer_g: Some(g),
                ..
            } if g.at <= now => {
                // §17.2.1: Timer G doubles, capped at T2.
                let interval = config.backoff_capped(g.interval);
                *g = Retransmit {
                    at: now + interval,
                    interval,
                };
                let r = response.clone();
                trace!(tx = %self.id, "Timer G: retransmitting final response");
                self.send(r, out);
            }
            ServerInviteState::Confirmed { timer_i } if *timer_i <= now => self.terminate(out),
            ServerInviteState::Accepted { timer_l } if *timer_l <= now => self.terminate(out),
            _ => {}
        }
    }

    /// The transport failed to send a response (§17.2.4).
    pub fn handle_transport_error(&mut self, out: &mut ActionQueue) {
        if self.is_terminated() {
            return;
        }
        out.push_back(Action::TransportError { tx: self.id });
        self.terminate(out);
    }

    fn send(&self, response: Response, out: &mut ActionQueue) {
        out.push_back(Action::Send {
            tx: Some(self.id),
            message: Message::Response(response),
            peer: self.peer,
        });
    }

    fn terminate(&mut self, out: &mut ActionQueue) {
        self.state = ServerInviteState::Terminated;
        out.push_back(Action::Terminated { tx: self.id });
    }
}
