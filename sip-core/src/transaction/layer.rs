//! The transaction layer: owns every transaction, matches incoming messages to them
//! (§17.1.3, §17.2.3), creates server transactions for new requests, runs the TU's
//! commands, and merges all timers into one deadline.
//!
//! It never touches sockets or clocks: the driver feeds [`TransactionLayer::handle_message`]
//! and [`TransactionLayer::handle_timeout`] with `now`, then drains
//! [`TransactionLayer::poll_action`] and sleeps until [`TransactionLayer::poll_timeout`].

use super::build::build_cancel;
use super::key::{Branch, BranchGenerator, ClientKey, ServerKey, param_value};
use super::{
    Action, ActionQueue, ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState,
    PassUp, Peer, ServerInvite, ServerInviteState, ServerNonInvite, ServerNonInviteState,
    TimerConfig, TransactionError, TxId, TxIdMap,
};
use crate::message::{Header, HeaderName, Message, Method, Request, Response, SipStr};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;
use tracing::{Span, debug, debug_span, trace};

/// Settings of a [`TransactionLayer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    pub timers: TimerConfig,
    /// Seeds the branch/tag generator (seed from the OS in production, fixed in tests).
    pub seed: u64,
    /// Send 100 Trying as soon as an INVITE server transaction is created. §17.2.1 asks for
    /// it unless the TU answers within 200 ms; the layer cannot know that, so it defaults
    /// to on.
    pub auto_100_trying: bool,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            timers: TimerConfig::default(),
            seed: 0,
            auto_100_trying: true,
        }
    }
}

/// A snapshot of one transaction's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionState {
    ClientInvite(ClientInviteState),
    ClientNonInvite(ClientNonInviteState),
    ServerInvite(ServerInviteState),
    ServerNonInvite(ServerNonInviteState),
}

// Variant names are the RFC's transaction kinds. Boxed: the kinds differ in size by
// hundreds of bytes, and a registrar holds tens of thousands of the smallest kind.
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum Tx {
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(Box<ClientNonInvite>),
    ServerInvite(Box<ServerInvite>),
    ServerNonInvite(Box<ServerNonInvite>),
}

impl Tx {
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Tx::ClientInvite(t) => t.poll_timeout(),
            Tx::ClientNonInvite(t) => t.poll_timeout(),
            Tx::ServerInvite(t) => t.poll_timeout(),
            Tx::ServerNonInvite(t) => t.poll_timeout(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Tx::ClientInvite(t) => t.is_terminated(),
            Tx::ClientNonInvite(t) => t.is_terminated(),
            Tx::ServerInvite(t) => t.is_terminated(),
            Tx::ServerNonInvite(t) => t.is_terminated(),
        }
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut ActionQueue) {
        match self {
            Tx::ClientInvite(t) => t.handle_timeout(now, out),
            Tx::ClientNonInvite(t) => t.handle_timeout(now, out),
            Tx::ServerInvite(t) => t.handle_timeout(now, out),
            Tx::ServerNonInvite(t) => t.handle_timeout(now, out),
        }
    }

    fn handle_transport_error(&mut self, out: &mut ActionQueue) {
        match self {
            Tx::ClientInvite(t) => t.handle_transport_error(out),
            Tx::ClientNonInvite(t) => t.handle_transport_error(out),
            Tx::ServerInvite(t) => t.handle_transport_error(out),
            Tx::ServerNonInvite(t) => t.handle_transport_error(out),
        }
    }

    fn snapshot(&self) -> TransactionState {
        match self {
            Tx::ClientInvite(t) => TransactionState::ClientInvite(t.state().clone()),
            Tx::ClientNonInvite(t) => TransactionState::ClientNonInvite(t.state().clone()),
            Tx::ServerInvite(t) => TransactionState::ServerInvite(t.state().clone()),
            Tx::ServerNonInvite(t) => TransactionState::ServerNonInvite(t.state().clone()),
        }
    }
}

#[derive(Debug)]
enum Key {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug)]
struct Entry {
    tx: Tx,
    key: Key,
    /// The deadline last pushed on the heap for this transaction; heap entries that differ
    /// are stale and skipped.
    scheduled: Option<Instant>,
    /// A CANCEL requested while the INVITE was still in Calling: §9.1 forbids sending it
    /// before a provisional response, so its id is reserved until one arrives.
    pending_cancel: Option<TxId>,
    /// RFC 2543 fallback: the To tag of the creating request, compared after the lookup.
    request_to_tag: Option<SipStr>,
    /// Everything the transaction logs happens inside this span. It names the transaction
    /// and method only: Call-IDs often carry IP addresses, which stay out of logs.
    span: Span,
}

/// All transactions of one SIP endpoint (UA, B2BUA or proxy).
#[derive(Debug)]
pub struct TransactionLayer {
    config: LayerConfig,
    branches: BranchGenerator,
    next_id: u64,
    /// Boxed: an entry holds a whole transaction, and a table of them inline made every
    /// growth of the map move megabytes (a registrar keeps ~64 000 transactions alive
    /// at 1 000 REGISTERs/s for Timer J's 32 s).
    txs: TxIdMap<Box<Entry>>,
    clients: HashMap<ClientKey, TxId>,
    servers: HashMap<ServerKey, TxId>,
    timers: BinaryHeap<Reverse<(Instant, TxId)>>,
    actions: ActionQueue,
}

impl TransactionLayer {
    /// A layer with `config`; its timers are [`TimerConfig::clamped`].
    pub fn new(mut config: LayerConfig) -> Self {
        config.timers = config.timers.clamped();
        TransactionLayer {
            config,
            branches: BranchGenerator::from_seed(config.seed),
            next_id: 1,
            txs: TxIdMap::default(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            timers: BinaryHeap::new(),
            actions: ActionQueue::new(),
        }
    }

    pub fn config(&self) -> &LayerConfig {
        &self.config
    }

    // ---- getters -------------------------------------------------------------------

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The state of `tx`, or `None` once it terminated.
    pub fn state(&self, tx: TxId) -> Option<TransactionState> {
        self.txs.get(&tx).map(|e| e.tx.snapshot())
    }

    /// The request that created `tx`; `None` for a non-INVITE server transaction, which
    /// does not keep it.
    pub fn request(&self, tx: TxId) -> Option<&Request> {
        self.txs.get(&tx).and_then(|e| match &e.tx {
            Tx::ClientInvite(t) => Some(t.request()),
            Tx::ClientNonInvite(t) => Some(t.request()),
            Tx::ServerInvite(t) => Some(t.request()),
            Tx::ServerNonInvite(_) => None,
        })
    }

    /// A fresh RFC 3261 branch from the seeded generator.
    pub fn new_branch(&mut self) -> Branch {
        self.branches.next_branch()
    }

    /// A fresh random token (for From/To tags, §19.3).
    pub fn new_token(&mut self) -> SipStr {
        self.branches.next_token()
    }

    // ---- outputs -------------------------------------------------------------------

    /// The next action for the driver or the TU, in the order they arose.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    // ---- inputs --------------------------------------------------------------------

    /// A message from the transport, received from `from`.
    pub fn handle_message(&mut self, message: Message, from: Peer, now: Instant) {
        match message {
            Message::Response(r) => self.handle_response(r, now),
            Message::Request(r) => self.handle_request(r, from, now),
        }
        self.prune_timers();
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.txs.get(&id).is_some_and(|e| e.scheduled == Some(at)) {
                due.push(id);
            }
        }
        for id in due {
            if let Some(e) = self.txs.get_mut(&id) {
                e.scheduled = None;
                let _g = e.span.enter();
                e.tx.handle_timeout(now, &mut self.actions);
            }
            self.after(id, now);
        }
        self.prune_timers();
    }

    /// The transport failed to deliver a message of `tx` (ICMP error, connection refused
    /// or reset). §17.1.4 and §17.2.4: the TU is told and the transaction ends.
    pub fn handle_transport_error(&mut self, tx: TxId, now: Instant) {
        if let Some(e) = self.txs.get_mut(&tx) {
            let _g = e.span.enter();
            e.tx.handle_transport_error(&mut self.actions);
        }
        self.after(tx, now);
        self.prune_timers();
    }

    // ---- TU commands ---------------------------------------------------------------

    /// Starts a client transaction for `request` towards `peer` and sends it. A missing or
    /// pre-RFC 3261 branch in the top Via is replaced by a generated one (§8.1.1.7); the
    /// top Via itself (sent-by, transport) is the caller's.
    pub fn send_request(
        &mut self,
        mut request: Request,
        peer: Peer,
        now: Instant,
    ) -> Result<TxId, TransactionError> {
        if request.method == Method::Ack {
            return Err(TransactionError::AckNeedsNoTransaction);
        }
        let via = request
            .headers
            .top_via_mut()
            .ok_or(TransactionError::MissingHeader(HeaderName::Via))?;
        if !via.has_rfc3261_branch() {
            let b = self.branches.next_branch();
            via.params.set("branch", Some(b.0));
        }
        let id = self.alloc_id();
        self.start_client(id, request, peer, now)?;
        self.prune_timers();
        Ok(id)
    }

    /// The TU answers the request of server transaction `tx`.
    pub fn send_response(
        &mut self,
        tx: TxId,
        response: Response,
        now: Instant,
    ) -> Result<(), TransactionError> {
        if !(100..=699).contains(&response.status.0) {
            return Err(TransactionError::InvalidStatus(response.status.0));
        }
        let e = self
            .txs
            .get_mut(&tx)
            .ok_or(TransactionError::NoSuchTransaction(tx))?;
        let r = {
            let _g = e.span.enter();
            match &mut e.tx {
                Tx::ServerInvite(t) => t.send_response(response, now, &mut self.actions),
                Tx::ServerNonInvite(t) => t.send_response(response, now, &mut self.actions),
                _ => Err(TransactionError::WrongKind(tx)),
            }
        };
        self.after(tx, now);
        self.prune_timers();
        r
    }

    /// Sends `message` outside any transaction: the ACK for a 2xx (§13.2.2.4) and its
    /// retransmissions, or a stateless response.
    pub fn send_stateless(&mut self, message: Message, peer: Peer) {
        self.actions.push_back(Action::Send {
            tx: None,
            message,
            peer,
        });
    }

    /// Cancels the INVITE of client transaction `tx` (§9.1). Returns the CANCEL's own
    /// client transaction, which the TU sees responses and a Terminated for, or `None` when
    /// a final response already arrived (nothing left to cancel). If no provisional
    /// response has arrived yet the CANCEL waits for one, as §9.1 requires; if a final
    /// arrives first, the reserved CANCEL transaction terminates unsent.
    pub fn cancel(&mut self, tx: TxId, now: Instant) -> Result<Option<TxId>, TransactionError> {
        let e = self
            .txs
            .get_mut(&tx)
            .ok_or(TransactionError::NoSuchTransaction(tx))?;
        let Tx::ClientInvite(inv) = &mut e.tx else {
            return Err(TransactionError::WrongKind(tx));
        };
        if inv.has_final() {
            return Ok(None);
        }
        if let Some(pending) = e.pending_cancel {
            return Ok(Some(pending));
        }
        // A CANCEL already sent and still running is returned rather than duplicated.
        if let Ok(mut k) = ClientKey::of_request(inv.request()) {
            k.method = Method::Cancel;
            if let Some(&existing) = self.clients.get(&k) {
                return Ok(Some(existing));
            }
        }
        let cancel_id = TxId(self.next_id);
        self.next_id += 1;
        if inv.is_proceeding() {
            self.send_cancel(tx, cancel_id, now)?;
        } else {
            e.pending_cancel = Some(cancel_id);
        }
        self.prune_timers();
        Ok(Some(cancel_id))
    }

    // ---- internals -----------------------------------------------------------------

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        id
    }

    fn start_client(
        &mut self,
        id: TxId,
        request: Request,
        peer: Peer,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let key = ClientKey::of_request(&request)?;
        if self.clients.contains_key(&key) {
            return Err(TransactionError::DuplicateBranch(key.branch.to_string()));
        }
        let span = debug_span!("sip_tx", tx = %id, method = %request.method, side = "client");
        span.in_scope(|| debug!("client transaction started"));
        let timers = self.config.timers;
        let tx = if request.method == Method::Invite {
            Tx::ClientInvite(Box::new(ClientInvite::start(
                id,
                request,
                peer,
                timers,
                now,
                &mut self.actions,
            )))
        } else {
            Tx::ClientNonInvite(Box::new(ClientNonInvite::start(
                id,
                request,
                peer,
                timers,
                now,
                &mut self.actions,
            )))
        };
        self.clients.insert(key.clone(), id);
        self.txs.insert(
            id,
            Box::new(Entry {
                tx,
                key: Key::Client(key),
                scheduled: None,
                pending_cancel: None,
                request_to_tag: None,
                span,
            }),
        );
        self.after(id, now);
        Ok(())
    }

    fn send_cancel(
        &mut self,
        invite: TxId,
        cancel_id: TxId,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let Some(e) = self.txs.get_mut(&invite) else {
            return Err(TransactionError::NoSuchTransaction(invite));
        };
        let Tx::ClientInvite(inv) = &mut e.tx else {
            return Err(TransactionError::WrongKind(invite));
        };
        inv.cancel_sent(now);
        let cancel = build_cancel(inv.request());
        let peer = inv.peer();
        self.after(invite, now);
        self.start_client(cancel_id, cancel, peer, now)
    }

    fn handle_response(&mut self, response: Response, now: Instant) {
        let Some(id) =
            ClientKey::of_response(&response).and_then(|k| self.clients.get(&k).copied())
        else {
            // RFC 6026 §8.2 (updating §18.1.2): stray responses are dropped.
            trace!(
                status = response.status.0,
                "response matches no client transaction"
            );
            return;
        };
        let Some(e) = self.txs.get_mut(&id) else {
            return;
        };
        {
            let _g = e.span.enter();
            match &mut e.tx {
                Tx::ClientInvite(t) => t.handle_response(response, now, &mut self.actions),
                Tx::ClientNonInvite(t) => t.handle_response(response, now, &mut self.actions),
                _ => return,
            }
        }
        // A CANCEL that waited for a provisional may go now (§9.1), or is moot after a
        // final.
        if let Some(cancel_id) = e.pending_cancel
            && let Tx::ClientInvite(inv) = &e.tx
        {
            if inv.is_proceeding() {
                e.pending_cancel = None;
                if let Err(err) = self.send_cancel(id, cancel_id, now) {
                    debug!(tx = %id, %err, "pending CANCEL could not start");
                    self.actions.push_back(Action::Terminated { tx: cancel_id });
                }
            } else if inv.has_final() {
                e.pending_cancel = None;
                self.actions.push_back(Action::Terminated { tx: cancel_id });
            }
        }
        self.after(id, now);
    }

    fn handle_request(&mut self, request: Request, from: Peer, now: Instant) {
        let key = match ServerKey::of_request(&request) {
            Ok(k) => k,
            Err(err) => {
                // Stateless validation answers these with 400 before they get here.
                debug!(%err, "request without transaction key dropped");
                return;
            }
        };
        // Only RFC 2543 matching looks at the To tag (§17.2.3).
        let to_tag = if key.is_rfc2543() {
            request
                .headers
                .to()
                .and_then(|t| param_value(&t.params, "tag"))
        } else {
            None
        };
        if request.method == Method::Ack {
            self.handle_ack(request, key, to_tag, from, now);
            return;
        }
        if let Some(&id) = self.servers.get(&key) {
            let Some(e) = self.txs.get_mut(&id) else {
                return;
            };
            if key.is_rfc2543() && e.request_to_tag != to_tag {
                debug!(tx = %id, "RFC 2543 request differs only in To tag: dropped");
                return;
            }
            {
                let _g = e.span.enter();
                match &mut e.tx {
                    Tx::ServerInvite(t) => t.handle_request(request, from, now, &mut self.actions),
                    Tx::ServerNonInvite(t) => t.handle_request(request, &mut self.actions),
                    _ => {}
                }
            }
            self.after(id, now);
            return;
        }
        self.create_server(request, key, to_tag, from, now);
    }

    fn handle_ack(
        &mut self,
        request: Request,
        key: ServerKey,
        to_tag: Option<SipStr>,
        from: Peer,
        now: Instant,
    ) {
        let matched = self.servers.get(&key).copied().filter(|id| {
            self.txs.get(id).is_some_and(|e| match &e.tx {
                // §17.2.3: an RFC 2543 ACK also needs the To tag of our response.
                Tx::ServerInvite(t) => {
                    !key.is_rfc2543() || t.response_to_tag() == to_tag.as_deref()
                }
                _ => false,
            })
        });
        match matched.and_then(|id| self.txs.get_mut(&id).map(|e| (id, e))) {
            Some((id, e)) => {
                if let Tx::ServerInvite(t) = &mut e.tx {
                    t.handle_request(request, from, now, &mut self.actions);
                }
                self.after(id, now);
            }
            None => self.actions.push_back(Action::PassUp(PassUp::Ack {
                tx: None,
                request,
                from,
            })),
        }
    }

    fn create_server(
        &mut self,
        request: Request,
        key: ServerKey,
        to_tag: Option<SipStr>,
        from: Peer,
        now: Instant,
    ) {
        let id = self.alloc_id();
        let timers = self.config.timers;
        let cancels = if request.method == Method::Cancel {
            self.servers
                .get(&key.cancelled_invite())
                .copied()
                .filter(|i| matches!(self.txs.get(i).map(|e| &e.tx), Some(Tx::ServerInvite(_))))
        } else {
            None
        };
        let span = debug_span!("sip_tx", tx = %id, method = %request.method, side = "server");
        span.in_scope(|| debug!("server transaction created"));
        let is_invite = request.method == Method::Invite;
        // The 100 Trying is built before the request moves into its transaction.
        let trying = (is_invite && self.config.auto_100_trying).then(|| trying_for(&request));
        let mut tx = if is_invite {
            self.actions.push_back(Action::PassUp(PassUp::Request {
                tx: id,
                request: request.clone(),
                from,
                cancels,
            }));
            Tx::ServerInvite(Box::new(ServerInvite::new(id, request, from, timers)))
        } else {
            self.actions.push_back(Action::PassUp(PassUp::Request {
                tx: id,
                request,
                from,
                cancels,
            }));
            Tx::ServerNonInvite(Box::new(ServerNonInvite::new(id, from, timers)))
        };
        if let (Some(trying), Tx::ServerInvite(t)) = (trying, &mut tx) {
            // Proceeding always takes a provisional, so this cannot fail.
            let _ = t.send_response(trying, now, &mut self.actions);
        }
        let request_to_tag = if key.is_rfc2543() { to_tag } else { None };
        // An INVITE transaction keeps its request, and so the datagram, anyway.
        let key = if is_invite { key } else { key.detached() };
        self.servers.insert(key.clone(), id);
        self.txs.insert(
            id,
            Box::new(Entry {
                tx,
                key: Key::Server(key),
                scheduled: None,
                pending_cancel: None,
                request_to_tag,
                span,
            }),
        );
        self.after(id, now);
    }

    /// Book-keeping after any input to transaction `id`: drop it once terminated,
    /// otherwise put its next deadline on the heap.
    fn after(&mut self, id: TxId, _now: Instant) {
        let Some(e) = self.txs.get_mut(&id) else {
            return;
        };
        if e.tx.is_terminated() {
            if let Some(cancel_id) = e.pending_cancel.take() {
                self.actions.push_back(Action::Terminated { tx: cancel_id });
            }
            if let Some(e) = self.txs.remove(&id) {
                match e.key {
                    Key::Client(k) => {
                        self.clients.remove(&k);
                    }
                    Key::Server(k) => {
                        self.servers.remove(&k);
                    }
                }
            }
            return;
        }
        let next = e.tx.poll_timeout();
        if next != e.scheduled {
            e.scheduled = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, id)));
            }
        }
    }

    /// Drops stale heap entries from the top so `poll_timeout` is exact.
    fn prune_timers(&mut self) {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if self.txs.get(&id).is_some_and(|e| e.scheduled == Some(at)) {
                break;
            }
            self.timers.pop();
        }
    }
}

/// 100 Trying for `request` (§8.2.6.1: To without a tag; Timestamp copied).
fn trying_for(request: &Request) -> Response {
    let mut r = Response::to_request(request, 100);
    if let Some(ts) = request.headers.raw_first(&HeaderName::Timestamp) {
        r.headers
            .push(Header::Other(HeaderName::Timestamp, ts.clone()));
    }
    r
}
