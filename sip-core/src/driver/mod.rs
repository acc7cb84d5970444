//! The async shell: one tokio task owns the sans-IO [`TransactionLayer`], pumps it with
//! what the transports deliver and with its single timer, and hands requests and
//! transaction events to an [`Application`] (the PBX). This is quinn's
//! `ConnectionDriver` pattern: the state machines never see tokio, and only this module
//! touches sockets, clocks and channels.
//!
//! What the driver does on its own, so every application gets it right:
//! - stateless `400` for requests that do not parse (routed back by their raw Via), and
//!   silently drops malformed responses (RFC 4475 §3.1.2.5, §3.1.2.19);
//! - stateless validation through the application's [`ValidationPolicy`] (416, 420, 415,
//!   406, 483, 501, 505…) answered inside a server transaction so retransmissions are
//!   absorbed;
//! - CANCEL: `200` to the CANCEL and `487` to the INVITE it matches (RFC 3261 §9.2), or
//!   `481` when nothing matches, then tells the application;
//! - response routing (RFC 3261 §18.2.2, RFC 3581): back on the connection a request came
//!   in on, or over UDP to `received`/`rport`.

mod handle;

pub use handle::{ClientEvent, ClientTransaction, DriverHandle, ServerRequest};

use crate::message::validate::{self, Policy as ValidationPolicy, Rejection};
use crate::message::{Message, Method, Request, Response, serialize};
use crate::transaction::{Action, LayerConfig, PassUp, Peer, TransactionLayer, TxId, TxIdMap};
use crate::transport::{
    Destination, Flow, TransportConfig, TransportError, TransportEvent, TransportKind, Transports,
    response_address_from_via, udp::UdpReceiver,
};
use handle::Command;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the driver hands to the application. Callbacks run on the driver task: they must
/// return quickly (spawn a task for anything that waits).
pub trait Application: Send + Sync + 'static {
    /// A new request inside a server transaction; answer it with
    /// [`ServerRequest::respond`] (a final response is mandatory, eventually).
    fn on_request(&self, request: ServerRequest);

    /// A synchronous fast path, asked before [`Application::on_request`]: the final
    /// response for a request the application can answer at once from memory (a digest
    /// challenge for a request without credentials), or `None` to get it through
    /// `on_request`. The answer is sent inside the request's server transaction on the
    /// driver task, without a hand-off to another task and back; a To tag is added when
    /// missing. Must not block and must answer exactly as `on_request` would.
    fn answer_inline(&self, request: &Request, flow: &Flow) -> Option<Response> {
        let _ = (request, flow);
        None
    }

    /// An ACK for a 2xx (it has no transaction of its own, RFC 3261 §17.1.1.3).
    fn on_ack(&self, ack: Request, flow: Flow) {
        let _ = (ack, flow);
    }

    /// The INVITE of server transaction `invite` was cancelled; the driver has already
    /// answered the CANCEL with 200 and the INVITE with 487.
    fn on_cancel(&self, invite: TxId) {
        let _ = invite;
    }

    /// A stream connection closed (its registrations' flow is gone, RFC 5626 §4.4).
    fn on_connection_closed(&self, flow: Flow) {
        let _ = flow;
    }

    /// The stateless checks to run before a request reaches `on_request`.
    fn validation_policy(&self) -> &ValidationPolicy;
}

/// Where to listen and how to time things.
#[derive(Clone, Debug, Default)]
pub struct DriverConfig {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub transport: TransportConfig,
    pub layer: LayerConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the driver has shut down")]
    Stopped,
    #[error("transaction layer refused: {0}")]
    Transaction(#[from] crate::transaction::TransactionError),
}

/// Counters of what the driver answered on its own.
#[derive(Debug, Default)]
pub struct DriverStats {
    pub malformed_requests_answered: AtomicU64,
    pub malformed_dropped: AtomicU64,
    pub rejected_by_validation: AtomicU64,
    pub requests_passed_up: AtomicU64,
    /// Requests the application answered through [`Application::answer_inline`].
    pub answered_inline: AtomicU64,
}

/// A running driver. Dropping it does not stop it; call [`Driver::shutdown`].
#[derive(Debug)]
pub struct Driver {
    handle: DriverHandle,
    task: JoinHandle<()>,
}

impl Driver {
    /// Binds every configured socket and starts the driver task.
    pub async fn start(
        config: DriverConfig,
        app: Arc<dyn Application>,
    ) -> Result<Driver, DriverError> {
        let (events_tx, events_rx) = mpsc::channel(4096);
        let transports = Transports::new(config.transport.clone(), events_tx);
        // UDP is received on the driver task itself: a datagram is parsed and handled
        // where it is read, without a channel and a wake-up of another task.
        let mut udp = Vec::with_capacity(config.udp.len());
        for addr in &config.udp {
            udp.push(transports.listen_udp_polled(*addr).await?);
        }
        for addr in &config.tcp {
            transports.listen_tcp(*addr).await?;
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(DriverStats::default());
        static NEXT_DRIVER: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_DRIVER.fetch_add(1, Ordering::Relaxed);
        let handle = DriverHandle::new(cmd_tx, transports.clone(), stats.clone(), id);
        let mut layer_config = config.layer;
        if layer_config.seed == 0 {
            layer_config.seed = rand::random();
        }
        let core = Core {
            id,
            layer: TransactionLayer::new(layer_config),
            transports,
            app,
            handle: handle.clone(),
            destinations: TxIdMap::default(),
            clients: TxIdMap::default(),
            cancel_watchers: TxIdMap::default(),
            stats,
        };
        let task = tokio::spawn(core.run(udp, events_rx, cmd_rx));
        Ok(Driver { handle, task })
    }

    pub fn handle(&self) -> DriverHandle {
        self.handle.clone()
    }

    /// Addresses the transports listen on (with the real ports when 0 was configured).
    pub fn local_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.handle.transports().listening()
    }

    /// Stops receiving, closes sockets and connections, and waits for the task to end.
    /// Transactions still running are abandoned (their peers retransmit elsewhere or time
    /// out): callers drain calls before this.
    pub async fn shutdown(self) {
        self.handle.stop();
        self.handle.transports().shutdown();
        let _ = self.task.await;
    }
}

struct Core {
    /// This driver's identity for [`handle::collect_inline`].
    id: u64,
    layer: TransactionLayer,
    transports: Transports,
    app: Arc<dyn Application>,
    handle: DriverHandle,
    /// Where each live transaction's messages go (server: back where the request came
    /// from; client: where the application sent it).
    destinations: TxIdMap<Destination>,
    /// Client transactions the application is waiting on.
    clients: TxIdMap<mpsc::UnboundedSender<ClientEvent>>,
    /// INVITE server transactions whose application wants to hear about a CANCEL.
    cancel_watchers: TxIdMap<oneshot::Sender<()>>,
    stats: Arc<DriverStats>,
}

impl Core {
    async fn run(
        mut self,
        mut udp: Vec<UdpReceiver>,
        mut events: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        // One timer for the driver's life, re-armed only when the layer's next deadline
        // changes: a fresh `Sleep` per loop turn cost a timer-wheel insert and removal
        // for every message.
        let sleep = tokio::time::sleep(std::time::Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        let mut next_udp = 0;
        loop {
            self.drain_actions();
            let deadline = self.layer.poll_timeout();
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(d));
                }
                armed = deadline;
            }
            tokio::select! {
                ev = std::future::poll_fn(|cx| poll_udp(&mut udp, &mut next_udp, cx)) => {
                    self.on_event(ev);
                }
                ev = events.recv() => match ev {
                    Some(ev) => self.on_event(ev),
                    None => break,
                },
                cmd = commands.recv() => match cmd {
                    Some(Command::Stop) | None => break,
                    Some(cmd) => self.on_command(cmd),
                },
                _ = &mut sleep, if armed.is_some() => {
                    // Re-armed on the next turn even if the deadline did not move.
                    armed = None;
                    self.layer.handle_timeout(Instant::now());
                }
            }
        }
        tracing::debug!("sip driver stopped");
    }

    /// Handles what a transport delivered, then the commands the application gave
    /// while the driver called into it.
    fn on_event(&mut self, ev: TransportEvent) {
        let ((), given) = handle::collect_inline(self.id, || self.on_transport_event(ev));
        for cmd in given {
            self.on_command(cmd);
        }
    }

    fn on_transport_event(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message(inbound) => {
                let flow = inbound.flow;
                let peer = Peer::new(flow.remote, flow.kind);
                self.layer
                    .handle_message(inbound.message, peer, inbound.received_at);
                // Actions caused by this message (an automatic 100, the PassUp that
                // creates a server transaction) belong to its flow.
                self.drain_actions_for(Some(flow));
            }
            TransportEvent::Malformed { flow, error } => match error.response() {
                Some(resp) => {
                    self.stats
                        .malformed_requests_answered
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(remote = %flow.remote, problem = %error, "answering malformed request");
                    // Its Via is unverified and unstamped: answer the packet's source.
                    self.transmit(Message::Response(resp), Destination::reply_to(&flow), None);
                }
                None => {
                    self.stats.malformed_dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(remote = %flow.remote, problem = %error, "dropping malformed message");
                }
            },
            TransportEvent::ConnectionClosed { flow } => self.app.on_connection_closed(flow),
        }
    }

    fn drain_actions(&mut self) {
        self.drain_actions_for(None);
    }

    /// Executes the layer's actions. `flow` is the flow of the message that caused them,
    /// if any: a transaction first seen here is a server transaction born from it.
    fn drain_actions_for(&mut self, flow: Option<Flow>) {
        while let Some(action) = self.layer.poll_action() {
            match action {
                Action::Send { tx, message, peer } => {
                    let dest = match tx.and_then(|t| self.destinations.get(&t).copied()) {
                        Some(d) => d,
                        None => {
                            let d = match (&message, flow) {
                                (Message::Response(r), Some(f)) => response_destination(r, &f),
                                _ => Destination {
                                    kind: peer.transport,
                                    remote: peer.addr,
                                    connection: None,
                                },
                            };
                            if let Some(t) = tx {
                                self.destinations.insert(t, d);
                            }
                            d
                        }
                    };
                    self.transmit(message, dest, tx);
                }
                Action::SendWire { tx, wire, peer } => {
                    // A server transaction's destination was recorded when its request
                    // was passed up.
                    let dest = self.destinations.get(&tx).copied().unwrap_or(Destination {
                        kind: peer.transport,
                        remote: peer.addr,
                        connection: None,
                    });
                    self.transmit_wire(wire, dest, Some(tx));
                }
                Action::PassUp(PassUp::Request {
                    tx,
                    request,
                    from,
                    cancels,
                }) => {
                    let flow = flow.unwrap_or(Flow {
                        kind: from.transport,
                        local: self
                            .transports
                            .local_for(from.transport, from.addr)
                            .unwrap_or(from.addr),
                        remote: from.addr,
                        connection: None,
                    });
                    self.destinations
                        .entry(tx)
                        .or_insert_with(|| Destination::reply_to(&flow));
                    self.on_new_request(tx, request, flow, cancels);
                }
                Action::PassUp(PassUp::Ack { request, from, .. }) => {
                    let flow = flow.unwrap_or(Flow {
                        kind: from.transport,
                        local: from.addr,
                        remote: from.addr,
                        connection: None,
                    });
                    self.app.on_ack(request, flow);
                }
                Action::PassUp(PassUp::Response { tx, response }) => {
                    if let Some(sink) = self.clients.get(&tx) {
                        let _ = sink.send(ClientEvent::Response(response));
                    }
                }
                Action::Timeout { tx, .. } => {
                    if let Some(sink) = self.clients.get(&tx) {
                        let _ = sink.send(ClientEvent::Timeout);
                    }
                }
                Action::TransportError { tx } => {
                    if let Some(sink) = self.clients.get(&tx) {
                        let _ = sink.send(ClientEvent::TransportError);
                    }
                }
                Action::Terminated { tx } => {
                    self.destinations.remove(&tx);
                    self.clients.remove(&tx);
                    self.cancel_watchers.remove(&tx);
                }
            }
        }
    }

    fn on_new_request(&mut self, tx: TxId, request: Request, flow: Flow, cancels: Option<TxId>) {
        let now = Instant::now();
        if request.method == Method::Cancel {
            // RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE; 481 if none matches.
            let status = if cancels.is_some() { 200 } else { 481 };
            let resp = Response::to_request(&request, status);
            let resp = with_to_tag(resp, &mut self.layer);
            let _ = self.layer.send_response(tx, resp, now);
            if let Some(invite) = cancels {
                if let Some(original) = self.layer.request(invite).cloned() {
                    let terminated =
                        with_to_tag(Response::to_request(&original, 487), &mut self.layer);
                    // Fails harmlessly when the TU already sent a final response.
                    let _ = self.layer.send_response(invite, terminated, now);
                }
                if let Some(w) = self.cancel_watchers.remove(&invite) {
                    let _ = w.send(());
                }
                self.app.on_cancel(invite);
            }
            return;
        }
        if let Err(rejection) = validate::validate_request(&request, self.app.validation_policy()) {
            self.stats
                .rejected_by_validation
                .fetch_add(1, Ordering::Relaxed);
            if let Rejection::Respond(resp) = rejection {
                // Inside the server transaction, so retransmissions get the same answer.
                let resp = with_to_tag(*resp, &mut self.layer);
                let _ = self.layer.send_response(tx, resp, now);
            }
            return;
        }
        if let Some(resp) = self.app.answer_inline(&request, &flow) {
            self.stats.answered_inline.fetch_add(1, Ordering::Relaxed);
            let resp = with_to_tag(resp, &mut self.layer);
            if let Err(e) = self.layer.send_response(tx, resp, now) {
                tracing::debug!(%tx, error = %e, "inline response not sent");
            }
            return;
        }
        self.stats
            .requests_passed_up
            .fetch_add(1, Ordering::Relaxed);
        let cancelled = if request.method == Method::Invite {
            let (w, r) = oneshot::channel();
            self.cancel_watchers.insert(tx, w);
            Some(r)
        } else {
            None
        };
        let req = ServerRequest::new(tx, request, flow, self.handle.clone(), cancelled);
        self.app.on_request(req);
    }

    fn on_command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Respond { tx, response } => {
                if let Err(e) = self.layer.send_response(tx, response, now) {
                    tracing::debug!(%tx, error = %e, "response not sent");
                }
            }
            Command::Request {
                request,
                dest,
                reply,
                events,
            } => {
                let peer = Peer::new(dest.remote, dest.kind);
                match self.layer.send_request(request, peer, now) {
                    Ok(tx) => {
                        self.destinations.insert(tx, dest);
                        self.clients.insert(tx, events);
                        let _ = reply.send(Ok(tx));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(DriverError::Transaction(e)));
                    }
                }
            }
            Command::Cancel { tx } => {
                if let Err(e) = self.layer.cancel(tx, now) {
                    tracing::debug!(%tx, error = %e, "cancel not sent");
                }
            }
            Command::Stateless { message, dest } => self.transmit(message, dest, None),
            Command::TransportFailed { tx } => self.layer.handle_transport_error(tx, now),
            Command::Stop => {}
        }
    }

    /// Serializes and sends without waiting; a send that must wait (a TCP connect) runs
    /// in its own task and reports failure back as a transport error for `tx`.
    fn transmit(&mut self, message: Message, dest: Destination, tx: Option<TxId>) {
        self.transmit_wire(serialize::to_bytes(&message), dest, tx);
    }

    /// [`Core::transmit`] for bytes already serialized.
    fn transmit_wire(&mut self, bytes: bytes::Bytes, dest: Destination, tx: Option<TxId>) {
        match self.transports.try_send(&bytes, dest) {
            Ok(true) => {}
            Ok(false) => {
                let transports = self.transports.clone();
                let handle = self.handle.clone();
                tokio::spawn(async move {
                    if let Err(e) = transports.send(bytes, dest).await {
                        tracing::debug!(remote = %dest.remote, error = %e, "send failed");
                        if let Some(tx) = tx {
                            handle.transport_failed(tx);
                        }
                    }
                });
            }
            Err(e) => {
                tracing::debug!(remote = %dest.remote, error = %e, "send failed");
                if let Some(tx) = tx {
                    self.layer.handle_transport_error(tx, Instant::now());
                }
            }
        }
    }
}

/// The next datagram from any of the driver's UDP sockets, starting the scan one socket
/// further each time so a busy socket cannot starve the others.
fn poll_udp(
    sockets: &mut [UdpReceiver],
    next: &mut usize,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<TransportEvent> {
    let n = sockets.len();
    for i in 0..n {
        let at = (*next + i) % n;
        if let std::task::Poll::Ready(ev) = sockets[at].poll_event(cx) {
            *next = (at + 1) % n;
            return std::task::Poll::Ready(ev);
        }
    }
    std::task::Poll::Pending
}

/// A final response from a UAS needs a To tag (RFC 3261 §8.2.6.2); 100 does not.
fn with_to_tag(mut resp: Response, layer: &mut TransactionLayer) -> Response {
    if resp.status.0 > 100 {
        if let Some(to) = resp.headers.to_mut() {
            if to.tag().is_none() {
                to.set_tag(layer.new_token());
            }
        }
    }
    resp
}

/// Where a response goes (RFC 3261 §18.2.2 with RFC 3581): over a stream back on the
/// connection; over UDP to the top Via's `received`/`rport` (stamped by the transport),
/// else its sent-by, else the packet's source.
fn response_destination(resp: &Response, flow: &Flow) -> Destination {
    if flow.kind.is_reliable() {
        return Destination::reply_to(flow);
    }
    let remote = resp
        .headers
        .top_via()
        .and_then(response_address_from_via)
        .unwrap_or(flow.remote);
    Destination {
        kind: flow.kind,
        remote,
        connection: None,
    }
}
