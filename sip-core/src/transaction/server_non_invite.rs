//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
//!
//! It absorbs request retransmissions (answering them with the last response once there
//! is one) and, after the final response, lingers for Timer J so late retransmissions get
//! that response again instead of reaching the TU as new requests.

use super::{Action, ActionQueue, Peer, TimerConfig, TransactionError, TxId};
use crate::message::{Message, Request, Response, serialize};
use bytes::Bytes;
use std::time::Instant;
use tracing::trace;

/// States of Figure 8 (§17.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The request was passed up; retransmissions are dropped.
    Trying,
    /// A provisional was sent; retransmissions get it again.
    Proceeding {
        last_provisional: Response,
    },
    /// A final was sent; retransmissions get it again until Timer J. Only its bytes are
    /// kept: a registrar holds tens of thousands of these at once.
    Completed {
        wire: Bytes,
        timer_j: Instant,
    },
    Terminated,
}

/// A non-INVITE server transaction. It does not keep its request: matching is by the
/// layer's key, and nothing after the TU's answer needs the request again.
#[derive(Debug)]
pub struct ServerNonInvite {
    id: TxId,
    peer: Peer,
    config: TimerConfig,
    state: ServerNonInviteState,
}

impl ServerNonInvite {
    /// A transaction for a newly received request, in Trying.
    pub fn new(id: TxId, peer: Peer, config: TimerConfig) -> Self {
        ServerNonInvite {
            id,
            peer,
            config,
            state: ServerNonInviteState::Trying,
        }
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    pub fn state(&self) -> &ServerNonInviteState {
        &self.state
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, ServerNonInviteState::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            ServerNonInviteState::Completed { timer_j, .. } => Some(*timer_j),
            _ => None,
        }
    }

    /// The TU sends a response (§17.2.2).
    pub fn send_response(
        &mut self,
        response: Response,
        now: Instant,
        out: &mut ActionQueue,
    ) -> Result<(), TransactionError> {
        match &self.state {
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding { .. } => {
                if response.status.is_provisional() {
                    self.send(response.clone(), out);
                    self.state = ServerNonInviteState::Proceeding {
                        last_provisional: response,
                    };
                } else {
                    let wire = serialize::to_bytes(&Message::Response(response));
                    self.send_wire(wire.clone(), out);
                    let j = self.config.j(self.peer.transport.is_reliable());
                    if j.is_zero() {
                        self.terminate(out);
                    } else {
                        self.state = ServerNonInviteState::Completed {
                            wire,
                            timer_j: now + j,
                        };
                    }
                }
                Ok(())
            }
            ServerNonInviteState::Completed { .. } => {
                Err(TransactionError::FinalAlreadySent(self.id))
            }
            ServerNonInviteState::Terminated => Err(TransactionError::NoSuchTransaction(self.id)),
        }
    }

    /// A retransmission of the request.
    pub fn handle_request(&mut self, _request: Request, out: &mut ActionQueue) {
        match &self.state {
            ServerNonInviteState::Trying => trace!(tx = %self.id, "retransmission absorbed"),
            ServerNonInviteState::Proceeding { last_provisional } => {
                self.send(last_provisional.clone(), out)
            }
            ServerNonInviteState::Completed { wire, .. } => self.send_wire(wire.clone(), out),
            ServerNonInviteState::Terminated => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut ActionQueue) {
        if let ServerNonInviteState::Completed { timer_j, .. } = &self.state
            && *timer_j <= now
        {
            self.terminate(out);
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

    fn send_wire(&self, wire: Bytes, out: &mut ActionQueue) {
        out.push_back(Action::SendWire {
            tx: self.id,
            wire,
            peer: self.peer,
        });
    }

    fn terminate(&mut self, out: &mut ActionQueue) {
        self.state = ServerNonInviteState::Terminated;
        out.push_back(Action::Terminated { tx: self.id });
    }
}
