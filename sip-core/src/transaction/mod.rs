//! SIP transactions (RFC 3261 §17, updated by RFC 6026), written sans-IO.
//!
//! This module owns the four transaction state machines (INVITE and non-INVITE, client and
//! server), the matching of messages to transactions (§17.1.3, §17.2.3 and the RFC 2543
//! fallback), branch generation, the ACK for non-2xx finals (§17.1.1.3) and CANCEL
//! construction (§9.1). It never touches a socket, never reads a clock and never draws from
//! an unseeded RNG: the caller feeds messages and timeouts with `now` and polls
//! [`Action`]s and the next deadline, as in quinn-proto.
//!
//! The entry point is [`TransactionLayer`]:
//! - inputs: [`TransactionLayer::handle_message`], [`TransactionLayer::handle_timeout`],
//!   [`TransactionLayer::handle_transport_error`];
//! - TU commands: [`TransactionLayer::send_request`], [`TransactionLayer::send_response`],
//!   [`TransactionLayer::cancel`];
//! - outputs: [`TransactionLayer::poll_action`] and [`TransactionLayer::poll_timeout`].
//!
//! The state machines themselves are public too (`ClientInvite`, …) so they can be driven
//! one by one; each pushes its [`Action`]s into a caller-supplied queue.
//!
//! # Driving it
//!
//! A driver owns the sockets and one timer. After every input it drains the actions and
//! re-arms its timer from `poll_timeout` (quinn's `ConnectionDriver` pattern):
//!
//! ```
//! use sip_core::message::Message;
//! use sip_core::transaction::{Action, LayerConfig, PassUp, Peer, TransactionLayer};
//! use std::time::Instant;
//!
//! fn on_datagram(layer: &mut TransactionLayer, msg: Message, from: Peer) {
//!     layer.handle_message(msg, from, Instant::now());
//!     drain(layer);
//! }
//!
//! fn on_timer(layer: &mut TransactionLayer) -> Option<Instant> {
//!     layer.handle_timeout(Instant::now());
//!     drain(layer);
//!     layer.poll_timeout() // sleep until then
//! }
//!
//! fn drain(layer: &mut TransactionLayer) {
//!     while let Some(action) = layer.poll_action() {
//!         match action {
//!             Action::Send { message, peer, .. } => { /* serialize, send to peer */ }
//!             Action::SendWire { wire, peer, .. } => { /* send these bytes to peer */ }
//!             Action::PassUp(PassUp::Request { tx, request, .. }) => { /* to the TU */ }
//!             Action::PassUp(PassUp::Ack { request, .. }) => { /* to the dialog layer */ }
//!             Action::PassUp(PassUp::Response { tx, response }) => { /* to the TU */ }
//!             Action::Timeout { tx, .. } => { /* TU: treat as 408 */ }
//!             Action::TransportError { tx } => { /* TU: treat as 503 */ }
//!             Action::Terminated { tx } => { /* forget tx */ }
//!         }
//!     }
//! }
//!
//! let mut layer = TransactionLayer::new(LayerConfig { seed: 42, ..LayerConfig::default() });
//! assert_eq!(on_timer(&mut layer), None);
//! ```

mod build;
mod client_invite;
mod client_non_invite;
mod error;
mod key;
mod layer;
mod server_invite;
mod server_non_invite;
mod timers;

pub use build::{build_ack_for_non_2xx, build_cancel};
pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use error::TransactionError;
pub use key::{Branch, BranchGenerator, ClientKey, SentBy, ServerKey};
pub use layer::{LayerConfig, TransactionLayer, TransactionState};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::{Retransmit, Timer, TimerConfig};

use crate::message::{Message, Request, Response};
use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;

/// Identifies one transaction inside a [`TransactionLayer`]. Never reused by a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// A map keyed by [`TxId`]. Ids are numbers the layer hands out, never chosen by a peer,
/// so they need no flood-resistant (and slower) SipHash: [`TxIdHasher`] spreads them
/// with one multiplication.
pub type TxIdMap<V> = std::collections::HashMap<TxId, V, std::hash::BuildHasherDefault<TxIdHasher>>;

/// Fibonacci hashing of a transaction id (see [`TxIdMap`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct TxIdHasher(u64);

impl std::hash::Hasher for TxIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for a TxId; anything else still hashes correctly.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// The transport protocol a message travels on. Reliability decides the retransmission
/// timers (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
    Sctp,
}

impl TransportKind {
    /// True for every transport but UDP: no retransmissions, zero D/I/J/K.
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The Via transport token (RFC 3261 §20.42, RFC 7118 §5.1).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
            TransportKind::Sctp => "SCTP",
        }
    }
}

/// The far end of a hop: where a request goes (chosen by the TU per RFC 3263) or where a
/// message came from (responses return there; §18.2.2 `received`/`rport` rules are the
/// transport's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: TransportKind,
}

impl Peer {
    pub fn new(addr: SocketAddr, transport: TransportKind) -> Self {
        Peer { addr, transport }
    }
}

/// What the transaction layer asks of its driver and its TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Hand `message` to the transport for `peer` (a first send or a retransmission).
    /// `tx` is `None` for messages sent outside any transaction
    /// ([`TransactionLayer::send_stateless`]: the ACK for a 2xx, stateless answers).
    Send {
        tx: Option<TxId>,
        message: Message,
        peer: Peer,
    },
    /// Hand `wire`, a response server transaction `tx` serialized when the TU gave it, to
    /// the transport for `peer`: the first send of a non-INVITE final response and each
    /// retransmission of it. The transaction keeps only these bytes while it lingers
    /// (Timer J), not the parsed request and response.
    SendWire { tx: TxId, wire: Bytes, peer: Peer },
    /// A message for the transaction user.
    PassUp(PassUp),
    /// The transaction gave up waiting (Timer B, F or H, or the §9.1 CANCEL guard): the TU
    /// treats it as a 408 (§8.1.3.1). Timer C leaves the transaction running: the TU is
    /// expected to CANCEL (§16.8).
    Timeout { tx: TxId, timer: Timer },
    /// The transport reported a failure for this transaction (§17.1.4, §17.2.4).
    TransportError { tx: TxId },
    /// The transaction reached its Terminated state and is gone from the layer.
    Terminated { tx: TxId },
}

impl Action {
    /// The message a [`Action::Send`] or [`Action::SendWire`] hands to the transport (the
    /// latter parsed back from its bytes), or the action itself for any other kind: for
    /// tests and tools that carry one layer's output to another.
    // The Ok side is as large as the Err side; boxing either would only add an allocation.
    #[allow(clippy::result_large_err)]
    pub fn into_sent(self) -> Result<Message, Action> {
        match self {
            Action::Send { message, .. } => Ok(message),
            Action::SendWire { tx, wire, peer } => {
                crate::message::parse::parse_datagram(wire.clone()).map_err(|_| Action::SendWire {
                    tx,
                    wire,
                    peer,
                })
            }
            other => Err(other),
        }
    }

    /// [`Action::into_sent`] without consuming the action; `None` for other kinds.
    pub fn sent_message(&self) -> Option<Message> {
        match self {
            Action::Send { message, .. } => Some(message.clone()),
            Action::SendWire { wire, .. } => {
                crate::message::parse::parse_datagram(wire.clone()).ok()
            }
            _ => None,
        }
    }
}

/// Messages the transaction layer hands to the TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassUp {
    /// A new request: server transaction `tx` was created for it. For a CANCEL, `cancels`
    /// names the INVITE server transaction it matches (§9.2); `None` means the TU should
    /// answer 481.
    Request {
        tx: TxId,
        request: Request,
        from: Peer,
        cancels: Option<TxId>,
    },
    /// An ACK outside any INVITE server transaction's Completed state: the ACK for a 2xx
    /// (§13.3.1.4, its own transaction per §17), or one seen in Accepted (RFC 6026 §8.7).
    Ack {
        tx: Option<TxId>,
        request: Request,
        from: Peer,
    },
    /// A response for client transaction `tx`, including 2xx retransmissions received in
    /// the Accepted state (RFC 6026 §8.4), which the TU must ACK again.
    Response { tx: TxId, response: Response },
}

/// The queue the state machines push into.
pub type ActionQueue = VecDeque<Action>;
