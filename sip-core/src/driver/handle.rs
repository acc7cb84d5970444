//! The application's side of the driver: a cloneable handle for commands, a server
//! request to answer, and a client transaction to await.

use super::{DriverError, DriverStats};
use crate::message::{Message, Request, Response};
use crate::transaction::TxId;
use crate::transport::{Destination, Flow, Transports};
use std::cell::RefCell;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug)]
pub(super) enum Command {
    Respond {
        tx: TxId,
        response: Response,
    },
    Request {
        request: Request,
        dest: Destination,
        reply: oneshot::Sender<Result<TxId, DriverError>>,
        events: mpsc::UnboundedSender<ClientEvent>,
    },
    Cancel {
        tx: TxId,
    },
    Stateless {
        message: Message,
        dest: Destination,
    },
    TransportFailed {
        tx: TxId,
    },
    Stop,
}

/// Sends commands to the driver task. Cheap to clone; every method is non-blocking.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    commands: mpsc::UnboundedSender<Command>,
    transports: Transports,
    stats: Arc<DriverStats>,
    /// Tells this driver's callbacks apart from another driver's on the same thread.
    driver: u64,
}

thread_local! {
    /// Commands given by an application callback while the driver runs it on this thread
    /// (see [`collect_inline`]).
    static INLINE: RefCell<Option<InlineCommands>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct InlineCommands {
    driver: u64,
    queue: Vec<Command>,
}

/// Runs `callback` (the driver calling into the application) and returns what it
/// returned with the commands it gave through a handle of driver `driver`. They are
/// queued here rather than sent through the command channel: a send to the channel
/// from the driver's own task wakes that task again, and tokio answers such a wake by
/// waking a parked worker thread as well, a futex round trip per answered request.
pub(super) fn collect_inline<R>(driver: u64, callback: impl FnOnce() -> R) -> (R, Vec<Command>) {
    let outer = INLINE.with_borrow_mut(|slot| {
        slot.replace(InlineCommands {
            driver,
            queue: Vec::new(),
        })
    });
    let result = callback();
    let ours = INLINE.with_borrow_mut(|slot| std::mem::replace(slot, outer));
    (result, ours.map(|q| q.queue).unwrap_or_default())
}

impl DriverHandle {
    pub(super) fn new(
        commands: mpsc::UnboundedSender<Command>,
        transports: Transports,
        stats: Arc<DriverStats>,
        driver: u64,
    ) -> Self {
        DriverHandle {
            commands,
            transports,
            stats,
            driver,
        }
    }

    /// Hands a command to the driver: onto the inline queue inside one of its callbacks,
    /// else through the channel. `false` once the driver has stopped.
    fn command(&self, cmd: Command) -> bool {
        let rest = INLINE.with_borrow_mut(|slot| match slot {
            Some(q) if q.driver == self.driver => {
                q.queue.push(cmd);
                None
            }
            _ => Some(cmd),
        });
        match rest {
            None => true,
            Some(cmd) => self.commands.send(cmd).is_ok(),
        }
    }

    pub fn transports(&self) -> &Transports {
        &self.transports
    }

    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// Answers server transaction `tx`.
    pub fn respond(&self, tx: TxId, response: Response) {
        self.command(Command::Respond { tx, response });
    }

    /// Starts a client transaction. Its responses, timeout or transport failure arrive on
    /// the returned [`ClientTransaction`].
    pub async fn send_request(
        &self,
        request: Request,
        dest: Destination,
    ) -> Result<ClientTransaction, DriverError> {
        let (reply, rx) = oneshot::channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        if !self.command(Command::Request {
            request,
            dest,
            reply,
            events,
        }) {
            return Err(DriverError::Stopped);
        }
        let tx = rx.await.map_err(|_| DriverError::Stopped)??;
        Ok(ClientTransaction {
            tx,
            events: events_rx,
            handle: self.clone(),
        })
    }

    /// Sends outside any transaction: the ACK for a 2xx, or a stateless answer.
    pub fn send_stateless(&self, message: Message, dest: Destination) {
        self.command(Command::Stateless { message, dest });
    }

    /// CANCELs the INVITE of client transaction `tx` (RFC 3261 §9.1).
    pub fn cancel(&self, tx: TxId) {
        self.command(Command::Cancel { tx });
    }

    pub(super) fn transport_failed(&self, tx: TxId) {
        self.command(Command::TransportFailed { tx });
    }

    pub(super) fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// A request the application must answer.
#[derive(Debug)]
pub struct ServerRequest {
    pub tx: TxId,
    pub request: Request,
    /// The flow it arrived on (store it with a registration to reach the phone later).
    pub flow: Flow,
    handle: DriverHandle,
    cancelled: Option<oneshot::Receiver<()>>,
}

impl ServerRequest {
    pub(super) fn new(
        tx: TxId,
        request: Request,
        flow: Flow,
        handle: DriverHandle,
        cancelled: Option<oneshot::Receiver<()>>,
    ) -> Self {
        ServerRequest {
            tx,
            request,
            flow,
            handle,
            cancelled,
        }
    }

    /// Sends a response in this request's transaction (provisional or final).
    pub fn respond(&self, response: Response) {
        self.handle.respond(self.tx, response);
    }

    pub fn handle(&self) -> &DriverHandle {
        &self.handle
    }

    /// Resolves when a CANCEL for this INVITE arrived (the driver already sent 487).
    /// Never resolves for other methods or once the transaction is over.
    pub async fn cancelled(&mut self) {
        match self.cancelled.as_mut() {
            Some(rx) => {
                if rx.await.is_err() {
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending::<()>().await,
        }
    }

    /// Takes the cancel notification out, to await it from another task.
    pub fn take_cancel_signal(&mut self) -> Option<oneshot::Receiver<()>> {
        self.cancelled.take()
    }
}

/// What happens to a client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A provisional or final response (and, for an INVITE, 2xx retransmissions that must
    /// be ACKed again).
    Response(Response),
    /// Timer B/F fired: treat as 408 (RFC 3261 §8.1.3.1).
    Timeout,
    /// The transport could not deliver the request: treat as 503 (RFC 3261 §8.1.3.1).
    TransportError,
}

/// A running client transaction.
#[derive(Debug)]
pub struct ClientTransaction {
    pub tx: TxId,
    events: mpsc::UnboundedReceiver<ClientEvent>,
    handle: DriverHandle,
}

impl ClientTransaction {
    /// The next event; `None` once the transaction has terminated.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Waits for the final response (skipping provisionals), or a timeout/transport error.
    pub async fn final_response(&mut self) -> Option<ClientEvent> {
        while let Some(ev) = self.next().await {
            match &ev {
                ClientEvent::Response(r) if r.status.is_provisional() => continue,
                _ => return Some(ev),
            }
        }
        None
    }

    /// CANCELs this INVITE (RFC 3261 §9.1).
    pub fn cancel(&self) {
        self.handle.cancel(self.tx);
    }
}
