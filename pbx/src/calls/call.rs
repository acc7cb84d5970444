//! One call: a task that owns both dialogs, the forks of the B leg and the relay session,
//! and reacts to everything the registry routes to it (in-dialog requests, ACKs, CANCEL,
//! responses to the requests it sent). One task per call means no locks around call
//! state and a strict order of events.

use super::media::CallMedia;
use super::services::Target;
use super::sip::{
    copy_relayed_headers, has_sdp, our_contact, our_via, response_for, set_contact, set_sdp_body,
    with_reason,
};
use crate::context::PbxContext;
use crate::records::{CallEnd, CallRecorder};
use billing::CallDisposition;
use sip_core::dialog::{Dialog, DialogState};
use sip_core::driver::{ClientEvent, DriverHandle, ServerRequest};
use sip_core::message::{
    CSeq, Header, HeaderName, Message, Method, NameAddr, Request, Response, SipStr,
};
use sip_core::rtp_relay::LegId;
use sip_core::transaction::TxId;
use sip_core::transport::{Destination, Flow};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

mod attended;
mod replaces;
mod transfer;
pub(crate) use replaces::ReplaceRequest;
use transfer::Transfer;

/// RFC 3261 §17.1.1.1 timer defaults, used for the TU's 2xx retransmissions (§13.3.1.4).
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

/// What reaches a call's task.
#[derive(Debug)]
pub(crate) enum CallEvent {
    /// A request inside one of the call's dialogs.
    InDialog { leg: LegId, req: ServerRequest },
    /// The ACK for a 2xx we sent on `leg`.
    Ack { leg: LegId, ack: Request },
    /// The caller CANCELled the INVITE (the driver already answered 487).
    CallerCancelled,
    /// A response (or failure) for the INVITE of fork `index` of the B leg.
    /// `sent` is the INVITE as last sent when a trunk challenge made us re-send it.
    Fork {
        index: usize,
        event: ClientEvent,
        sent: Option<Box<Request>>,
    },
    /// A response (or failure) for in-dialog request `id` we relayed.
    Reply { id: u64, event: ClientEvent },
    /// No ACK came for the 2xx we sent on `leg` for CSeq `cseq` within 64*T1.
    AckTimeout { leg: LegId, cseq: u32 },
    /// The PBX wants the call gone (admin hang-up, shutdown).
    Hangup,
    /// A response (or failure) for the INVITE of fork `index` of a blind transfer.
    /// `sent` as for [`CallEvent::Fork`] (a transfer out through a trunk).
    TransferFork {
        index: usize,
        event: ClientEvent,
        sent: Option<Box<Request>>,
    },
    /// The transfer target did not answer within the ring timeout.
    TransferTimeout,
    /// An attended transfer in another call names this call's dialog on `leg` in its
    /// Replaces (RFC 3891): hand the party at the other end over and end this call.
    HandOver(Box<attended::HandOverRequest>),
    /// An INVITE with Replaces naming this call's dialog on a leg (RFC 3891 §3).
    Replace(Box<ReplaceRequest>),
}

/// A 2xx that created a dialog, waiting for its ACK (RFC 3261 §13.3.1.4: without the ACK
/// the session ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwaitedAck {
    /// Our answer to the caller's INVITE: without its ACK the call never got going.
    Caller,
    /// Our answer to an INVITE with Replaces that took a leg of the answered call over.
    Replacement,
}

/// Why a call whose caller never ACKed our 200 ended (the record's reason).
const NO_ACK_FROM_CALLER: &str = "no ACK: the callee answered, the caller never confirmed";
/// Why a call ended whose new device (INVITE with Replaces) never ACKed our 200.
const NO_ACK_FROM_REPLACEMENT: &str = "no ACK from the replacing device";
/// Why an answered call ended whose caller never ACKed our 200 to its re-INVITE.
const NO_ACK_FOR_CALLER_REINVITE: &str = "no ACK: the caller never confirmed its re-INVITE";
/// Why an answered call ended whose callee never ACKed our 200 to its re-INVITE.
const NO_ACK_FOR_CALLEE_REINVITE: &str = "no ACK: the callee never confirmed its re-INVITE";

/// One INVITE of the B leg to one registered contact.
#[derive(Debug)]
struct Fork {
    invite: Request,
    dest: Destination,
    /// Tells the fork's task to CANCEL its INVITE.
    cancel: Option<oneshot::Sender<()>>,
    /// Final non-2xx status and reason, once it failed.
    failed: Option<(u16, String)>,
    /// SDP for the caller built from this fork's early media, reused if its 2xx has none.
    early_sdp_for_a: Option<Vec<u8>>,
}

/// One side of a confirmed call.
#[derive(Debug)]
pub(crate) struct Side {
    dialog: Dialog,
    dest: Destination,
    local: SocketAddr,
}

/// An in-dialog request from one leg waiting for the other leg's answer.
#[derive(Debug)]
struct Pending {
    from: LegId,
    server: ServerRequest,
    method: Method,
}

/// Everything fixed when the call is set up.
#[derive(Debug)]
pub(crate) struct CallSetup {
    pub(crate) id: u64,
    pub(crate) a_req: ServerRequest,
    pub(crate) a_tag: String,
    pub(crate) a_local: SocketAddr,
    pub(crate) b_call_id: String,
    pub(crate) b_tag: String,
    /// Caller as presented to the callee: From of the B leg.
    pub(crate) b_from: NameAddr,
    /// Callee address of record: To of the B leg.
    pub(crate) b_to: NameAddr,
    pub(crate) targets: Vec<Target>,
    /// The trunk channel a call out holds until it ends.
    pub(crate) channel: Option<crate::trunk::ChannelGuard>,
    pub(crate) media: CallMedia,
    pub(crate) recorder: CallRecorder,
    pub(crate) events_tx: mpsc::UnboundedSender<CallEvent>,
    pub(crate) events: mpsc::UnboundedReceiver<CallEvent>,
}

struct Call {
    ctx: Arc<PbxContext>,
    driver: DriverHandle,
    id: u64,
    a_req: Request,
    a_tx: TxId,
    a_flow: Flow,
    a_tag: String,
    a_local: SocketAddr,
    b_call_id: String,
    b_tag: String,
    b_from: NameAddr,
    b_to: NameAddr,
    forks: Vec<Fork>,
    /// The trunk channel each leg holds while it reaches a provider through a call we
    /// placed (the B leg of a call out; a leg a transfer sent out through a trunk). It
    /// moves with the party (transfer, hand-over) and drops when that leg ends.
    channels: LegChannels,
    winner: Option<usize>,
    /// The ACK for the winning 2xx, resent for each retransmission of it (§13.2.2.4).
    b_ack: Option<(Request, Destination)>,
    /// Late offer (the caller's INVITE had no SDP, RFC 3261 §13.2.1): the callee's 2xx
    /// carried the offer, so our ACK to it must carry the caller's answer, which comes
    /// in the caller's ACK. The ACK waits here until then.
    late_offer_ack: Option<(Request, Destination)>,
    a: Option<Side>,
    b: Option<Side>,
    media: CallMedia,
    recorder: CallRecorder,
    tx: mpsc::UnboundedSender<CallEvent>,
    rx: mpsc::UnboundedReceiver<CallEvent>,
    pending: HashMap<u64, Pending>,
    /// ACKs for 2xx answers to re-INVITEs we sent, resent on retransmissions.
    reinvite_acks: HashMap<u64, (Request, Destination)>,
    next_pending: u64,
    /// 2xx retransmission tasks by leg and CSeq, stopped by the ACK.
    retransmits: HashMap<(LegId, u32), AbortHandle>,
    /// Dialog-creating 2xx answers by leg and CSeq, until their ACK.
    dialog_acks: HashMap<(LegId, u32), AwaitedAck>,
    /// The answer status and reason the callee gave (for the record).
    answer_status: Option<(u16, String)>,
    /// Calls the transfer steps taken so far.
    transfers: Vec<store::TransferStep>,
    /// The blind transfer in progress (or the last one, for its 2xx retransmissions).
    transfer: Option<Transfer>,
}

/// Runs the call to its end.
pub(crate) async fn run(ctx: Arc<PbxContext>, setup: CallSetup) {
    let Some(driver) = ctx.driver().cloned() else {
        setup
            .a_req
            .respond(response_for(&setup.a_req.request, 503, &setup.a_tag));
        return;
    };
    let CallSetup {
        id,
        mut a_req,
        a_tag,
        a_local,
        b_call_id,
        b_tag,
        b_from,
        b_to,
        targets,
        channel,
        media,
        recorder,
        events_tx,
        events,
    } = setup;
    // The CANCEL signal, watched from its own task so it cannot be missed while the call
    // waits on something else (handle_cancel reports it too; a duplicate is harmless).
    if let Some(signal) = a_req.take_cancel_signal() {
        let tx = events_tx.clone();
        tokio::spawn(async move {
            if signal.await.is_ok() {
                let _ = tx.send(CallEvent::CallerCancelled);
            }
        });
    }
    let mut call = Call {
        driver,
        id,
        a_req: a_req.request.clone(),
        a_tx: a_req.tx,
        a_flow: a_req.flow,
        a_tag,
        a_local,
        b_call_id,
        b_tag,
        b_from,
        b_to,
        forks: Vec::new(),
        channels: LegChannels {
            a: None,
            b: channel,
        },
        winner: None,
        b_ack: None,
        late_offer_ack: None,
        a: None,
        b: None,
        media,
        recorder,
        tx: events_tx,
        rx: events,
        pending: HashMap::new(),
        reinvite_acks: HashMap::new(),
        next_pending: 0,
        retransmits: HashMap::new(),
        dialog_acks: HashMap::new(),
        answer_status: None,
        transfers: Vec::new(),
        transfer: None,
        ctx,
    };
    drop(a_req);
    let end = match call.ring(targets).await {
        Ok(()) => call.talk().await,
        Err(end) => end,
    };
    call.finish(end).await;
}

impl Call {
    fn respond_a(&self, resp: Response) {
        self.driver.respond(self.a_tx, resp);
    }

    fn a_contact(&self) -> NameAddr {
        our_contact(self.a_flow.kind, self.a_local)
    }

    fn end(disposition: CallDisposition, code: u16, reason: impl Into<String>) -> CallEnd {
        CallEnd {
            disposition,
            sip_code: Some(code),
            sip_reason: Some(reason.into()),
            transfer_chain: Vec::new(),
            caller_leg: None,
            callee_leg: None,
        }
    }

    /// Sends the INVITE to every contact at once and waits for the first 2xx.
    /// `Err` is how the call ended without an answer (the caller was answered already).
    async fn ring(&mut self, targets: Vec<Target>) -> Result<(), CallEnd> {
        let offer = if has_sdp(&self.a_req.headers, &self.a_req.body) {
            match self.media.relay_sdp(LegId::A, &self.a_req.body) {
                Some(b) => Some(b),
                None => {
                    self.respond_a(response_for(&self.a_req, 488, &self.a_tag));
                    return Err(Self::end(
                        CallDisposition::Failed,
                        488,
                        "Not Acceptable Here",
                    ));
                }
            }
        } else {
            None
        };
        for target in targets {
            self.start_fork(target, offer.clone()).await;
        }
        if self.forks.iter().all(|f| f.failed.is_some()) {
            self.respond_a(response_for(&self.a_req, 480, &self.a_tag));
            return Err(Self::end(
                CallDisposition::Failed,
                480,
                "Temporarily Unavailable",
            ));
        }
        let ring_timeout = tokio::time::sleep(self.ctx.config.calls.ring_timeout);
        tokio::pin!(ring_timeout);
        loop {
            tokio::select! {
                biased;
                ev = self.rx.recv() => {
                    let Some(ev) = ev else {
                        return Err(Self::end(CallDisposition::Failed, 500, "call task lost its events"));
                    };
                    match ev {
                        CallEvent::CallerCancelled => {
                            self.cancel_forks(None);
                            return Err(Self::end(CallDisposition::Cancelled, 487, "Request Terminated"));
                        }
                        CallEvent::Hangup => {
                            self.cancel_forks(None);
                            self.respond_a(response_for(&self.a_req, 480, &self.a_tag));
                            return Err(Self::end(CallDisposition::Failed, 480, "Temporarily Unavailable"));
                        }
                        CallEvent::Fork { index, event, sent } => {
                            self.note_sent(index, sent);
                            if let Some(done) = self.on_fork_event(index, event).await {
                                return done;
                            }
                        }
                        CallEvent::InDialog { leg, req } => {
                            if leg == LegId::A && req.request.method == Method::Bye {
                                // A BYE in the caller's early dialog ends the attempt
                                // like a CANCEL would (§15).
                                req.respond(Response::to_request(&req.request, 200));
                                self.cancel_forks(None);
                                self.respond_a(response_for(&self.a_req, 487, &self.a_tag));
                                return Err(Self::end(CallDisposition::Cancelled, 487, "Request Terminated"));
                            }
                            // Early-dialog requests (UPDATE, INFO, PRACK) are not relayed
                            // before the answer.
                            req.respond(Response::to_request(&req.request, 491));
                        }
                        CallEvent::HandOver(h) => {
                            // RFC 3891 §3: an early dialog we did not initiate is not
                            // replaced (481).
                            h.refuse(481, "Call/Transaction Does Not Exist");
                        }
                        CallEvent::Replace(r) => r.refuse_early(),
                        CallEvent::Ack { .. }
                        | CallEvent::Reply { .. }
                        | CallEvent::AckTimeout { .. }
                        | CallEvent::TransferFork { .. }
                        | CallEvent::TransferTimeout => {}
                    }
                }
                _ = &mut ring_timeout => {
                    tracing::debug!(call = self.id, "ring timeout");
                    self.cancel_forks(None);
                    self.respond_a(response_for(&self.a_req, 480, &self.a_tag));
                    return Err(Self::end(CallDisposition::NoAnswer, 480, "Temporarily Unavailable"));
                }
            }
        }
    }

    async fn start_fork(&mut self, target: Target, offer: Option<Vec<u8>>) {
        let index = self.forks.len();
        let dest = target.destination();
        let local = super::sip::local_addr(&self.driver, &dest, None).unwrap_or(self.a_local);
        let kind = dest.kind;
        let max_forwards = self
            .a_req
            .headers
            .max_forwards()
            .unwrap_or(70)
            .saturating_sub(1);
        let (inv, credentials) = match &target {
            Target::Contact { uri, .. } => {
                let mut inv = Request::new(Method::Invite, (**uri).clone());
                let mut from = self.b_from.clone();
                from.set_tag(SipStr::from(self.b_tag.clone()));
                let h = &mut inv.headers;
                h.push(Header::Via(vec![our_via(kind, local)]));
                h.push(Header::MaxForwards(max_forwards));
                h.push(Header::From(from));
                h.push(Header::To(self.b_to.clone()));
                h.push(Header::CallId(SipStr::from(self.b_call_id.clone())));
                h.push(Header::CSeq(CSeq {
                    seq: 1,
                    method: Method::Invite,
                }));
                set_contact(h, &our_contact(kind, local));
                (inv, None)
            }
            Target::Trunk(t) => {
                let mut inv = t.request(
                    Method::Invite,
                    &self.b_call_id,
                    &self.b_tag,
                    1,
                    "sentral",
                    None,
                );
                inv.headers.set(Header::MaxForwards(max_forwards));
                (inv, t.credentials.clone())
            }
        };
        let mut inv = inv;
        inv.headers.push(Header::Other(
            HeaderName::Allow,
            SipStr::from(crate::app::ALLOW),
        ));
        if let Some(sdp) = offer {
            set_sdp_body(&mut inv.headers, &mut inv.body, sdp);
        }
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        let mut fork = Fork {
            invite: inv.clone(),
            dest,
            cancel: Some(cancel_tx),
            failed: None,
            early_sdp_for_a: None,
        };
        let events = self.tx.clone();
        let sent = match &target {
            Target::Contact { .. } => match self.driver.send_request(inv, dest).await {
                Ok(ct) => {
                    tokio::spawn(forward_plain(
                        ct,
                        index,
                        cancel_rx,
                        events,
                        |index, event| CallEvent::Fork {
                            index,
                            event,
                            sent: None,
                        },
                    ));
                    true
                }
                Err(e) => {
                    tracing::debug!(call = self.id, error = %e, "fork not sent");
                    false
                }
            },
            Target::Trunk(_) => {
                match crate::trunk::send_with_auth(&self.driver, inv, dest, credentials).await {
                    Ok(at) => {
                        tokio::spawn(forward_authed(
                            at,
                            index,
                            cancel_rx,
                            events,
                            |index, event, sent| CallEvent::Fork { index, event, sent },
                        ));
                        true
                    }
                    Err(e) => {
                        tracing::debug!(call = self.id, error = %e, "trunk INVITE not sent");
                        false
                    }
                }
            }
        };
        if !sent {
            fork.failed = Some((503, "Service Unavailable".into()));
        }
        self.forks.push(fork);
    }

    /// A trunk fork re-sent its INVITE with credentials: dialogs and ACKs are built
    /// from the request as last sent (its CSeq).
    fn note_sent(&mut self, index: usize, sent: Option<Box<Request>>) {
        if let Some(req) = sent
            && let Some(f) = self.forks.get_mut(index)
        {
            f.invite = *req;
        }
    }

    /// CANCELs every fork still ringing except `keep` (§9.1; §16.7 step 10 for forks
    /// that lost).
    fn cancel_forks(&mut self, keep: Option<usize>) {
        for (i, f) in self.forks.iter_mut().enumerate() {
            if Some(i) == keep || f.failed.is_some() {
                continue;
            }
            if let Some(cancel) = f.cancel.take() {
                let _ = cancel.send(());
            }
            f.failed = Some((487, "Request Terminated".into()));
        }
    }

    /// Handles a response of fork `index` while ringing. `Some(Ok)` when the call was
    /// answered, `Some(Err)` when every fork failed.
    async fn on_fork_event(
        &mut self,
        index: usize,
        event: ClientEvent,
    ) -> Option<Result<(), CallEnd>> {
        let resp = match event {
            ClientEvent::Response(r) => r,
            ClientEvent::Timeout => {
                return self.fork_failed(index, 408, "Request Timeout".into());
            }
            ClientEvent::TransportError => {
                return self.fork_failed(index, 503, "Service Unavailable".into());
            }
        };
        let status = resp.status.0;
        if status == 100 {
            return None;
        }
        if resp.status.is_provisional() {
            self.relay_provisional(index, &resp);
            return None;
        }
        if resp.status.is_success() {
            if self.forks.get(index).is_some_and(|f| f.failed.is_some()) {
                // A fork we already CANCELled answered anyway: take it down.
                self.ack_and_bye_stray(index, &resp).await;
                return None;
            }
            return match self.answer(index, resp).await {
                Ok(()) => Some(Ok(())),
                Err(()) => self.fork_failed(index, 502, "Bad Gateway".into()),
            };
        }
        self.fork_failed(index, status, resp.reason.to_string())
    }

    fn fork_failed(
        &mut self,
        index: usize,
        status: u16,
        reason: String,
    ) -> Option<Result<(), CallEnd>> {
        if let Some(f) = self.forks.get_mut(index)
            && f.failed.is_none()
        {
            f.failed = Some((status, reason));
        }
        if !self.forks.iter().all(|f| f.failed.is_some()) {
            return None;
        }
        let (status, reason, disposition) = self.best_failure();
        let mut resp = response_for(&self.a_req, status, &self.a_tag);
        if !reason.is_empty() {
            resp.reason = SipStr::from(reason.clone());
        }
        self.respond_a(resp);
        Some(Err(Self::end(disposition, status, reason)))
    }

    /// The answer for the caller when every fork failed (after RFC 3261 §16.7 step 6):
    /// busy anywhere is busy (the phones are in use), a decline is passed on, timeouts and
    /// unreachable phones become 480.
    fn best_failure(&self) -> (u16, String, CallDisposition) {
        let finals: Vec<&(u16, String)> = self
            .forks
            .iter()
            .filter_map(|f| f.failed.as_ref())
            .collect();
        if let Some(f) = finals.iter().find(|f| f.0 >= 600) {
            let d = if f.0 == 600 {
                CallDisposition::Busy
            } else {
                CallDisposition::Failed
            };
            return (f.0, f.1.clone(), d);
        }
        if finals.iter().any(|f| f.0 == 486) {
            return (486, "Busy Here".into(), CallDisposition::Busy);
        }
        if finals.iter().all(|f| matches!(f.0, 408 | 480 | 487 | 503)) {
            return (
                480,
                "Temporarily Unavailable".into(),
                CallDisposition::Failed,
            );
        }
        match finals
            .iter()
            .find(|f| !matches!(f.0, 408 | 480 | 487 | 503))
        {
            Some(f) => (f.0, f.1.clone(), CallDisposition::Failed),
            None => (
                480,
                "Temporarily Unavailable".into(),
                CallDisposition::Failed,
            ),
        }
    }

    fn relay_provisional(&mut self, index: usize, resp: &Response) {
        let mut out = with_reason(response_for(&self.a_req, resp.status.0, &self.a_tag), resp);
        set_contact(&mut out.headers, &self.a_contact());
        if has_sdp(&resp.headers, &resp.body)
            && let Some(sdp) = self.media.relay_sdp(LegId::B, &resp.body)
        {
            // Early media (RFC 3960): the caller hears the callee's ringback or announcement.
            if let Some(f) = self.forks.get_mut(index) {
                f.early_sdp_for_a = Some(sdp.clone());
            }
            set_sdp_body(&mut out.headers, &mut out.body, sdp);
        }
        self.respond_a(out);
    }

    /// Fork `index` answered: confirm both dialogs, ACK it, CANCEL the others and answer
    /// the caller.
    async fn answer(&mut self, index: usize, resp: Response) -> Result<(), ()> {
        let Some(fork) = self.forks.get(index) else {
            return Err(());
        };
        let mut b_dialog = match Dialog::new_uac(&fork.invite, &resp) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(call = self.id, error = %e, "2xx cannot create a dialog");
                return Err(());
            }
        };
        b_dialog.on_response_received(&resp);
        let dest = fork.dest;
        let local = super::sip::local_addr(&self.driver, &dest, None).unwrap_or(self.a_local);
        let early = fork.early_sdp_for_a.clone();
        let late_offer =
            !has_sdp(&self.a_req.headers, &self.a_req.body) && has_sdp(&resp.headers, &resp.body);
        // §13.2.2.4: the UAC (here, us) ACKs the 2xx end to end.
        match b_dialog.ack(our_via(dest.kind, local)) {
            Ok(ack) if late_offer => self.late_offer_ack = Some((ack, dest)),
            Ok(ack) => {
                self.driver
                    .send_stateless(Message::Request(ack.clone()), dest);
                self.b_ack = Some((ack, dest));
            }
            Err(e) => tracing::debug!(call = self.id, error = %e, "no ACK for the 2xx"),
        }
        self.winner = Some(index);
        self.cancel_forks(Some(index));
        let answer_sdp = if has_sdp(&resp.headers, &resp.body) {
            self.media.relay_sdp(LegId::B, &resp.body)
        } else {
            early
        };
        let mut ok = with_reason(response_for(&self.a_req, 200, &self.a_tag), &resp);
        set_contact(&mut ok.headers, &self.a_contact());
        ok.headers.push(Header::Other(
            HeaderName::Allow,
            SipStr::from(crate::app::ALLOW),
        ));
        if let Some(sdp) = answer_sdp {
            set_sdp_body(&mut ok.headers, &mut ok.body, sdp);
        }
        let a_dialog = match Dialog::new_uas(&self.a_req, &ok) {
            Ok(d) => d,
            Err(e) => {
                // The caller's INVITE had no usable Contact: we cannot reach it in-dialog.
                tracing::debug!(call = self.id, error = %e, "caller dialog not created");
                let bye_side = Side {
                    dialog: b_dialog,
                    dest,
                    local,
                };
                self.b = Some(bye_side);
                self.respond_a(response_for(&self.a_req, 400, &self.a_tag));
                return Err(());
            }
        };
        self.respond_a(ok.clone());
        let cseq = self.a_req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        self.retransmit_2xx(LegId::A, self.a_tx, cseq, ok);
        self.dialog_acks
            .insert((LegId::A, cseq), AwaitedAck::Caller);
        self.a = Some(Side {
            dialog: a_dialog,
            dest: Destination::reply_to(&self.a_flow),
            local: self.a_local,
        });
        self.b = Some(Side {
            dialog: b_dialog,
            dest,
            local,
        });
        self.answer_status = Some((resp.status.0, resp.reason.to_string()));
        self.recorder.answered(&self.ctx).await;
        Ok(())
    }

    /// RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx at T1, doubling up to T2,
    /// until the ACK; over a reliable transport once is enough. After 64*T1 (the
    /// configured `ack_timeout`) without an ACK the session ends.
    fn retransmit_2xx(&mut self, leg: LegId, tx: TxId, cseq: u32, resp: Response) {
        let driver = self.driver.clone();
        let events = self.tx.clone();
        let reliable = match leg {
            LegId::A => self.a_flow.kind.is_reliable(),
            LegId::B => self.b.as_ref().is_some_and(|s| s.dest.kind.is_reliable()),
        };
        let ack_timeout = self.ctx.config.calls.ack_timeout;
        let task = tokio::spawn(async move {
            let give_up = tokio::time::Instant::now() + ack_timeout;
            let mut interval = T1;
            loop {
                let next = tokio::time::Instant::now() + interval;
                if next >= give_up {
                    tokio::time::sleep_until(give_up).await;
                    let _ = events.send(CallEvent::AckTimeout { leg, cseq });
                    return;
                }
                tokio::time::sleep_until(next).await;
                if !reliable {
                    driver.respond(tx, resp.clone());
                }
                interval = (interval * 2).min(T2);
            }
        });
        if let Some(old) = self.retransmits.insert((leg, cseq), task.abort_handle()) {
            old.abort();
        }
    }

    /// The caller's ACK of a late-offer call carries its answer: it goes into our ACK
    /// to the callee (RFC 3264 §5: the offer was in the callee's 2xx). `Some(reason)`
    /// when the caller answered nothing and the call cannot have media (§13.2.2.4: ACK,
    /// then BYE).
    fn complete_late_offer(&mut self, ack_from_a: &Request) -> Option<&'static str> {
        let (mut ack, dest) = self.late_offer_ack.take()?;
        let answer = if has_sdp(&ack_from_a.headers, &ack_from_a.body) {
            self.media.relay_sdp(LegId::A, &ack_from_a.body)
        } else {
            None
        };
        let answered = answer.is_some();
        if let Some(sdp) = answer {
            set_sdp_body(&mut ack.headers, &mut ack.body, sdp);
        }
        self.driver
            .send_stateless(Message::Request(ack.clone()), dest);
        self.b_ack = Some((ack, dest));
        if answered {
            None
        } else {
            tracing::info!(call = self.id, "late offer: the caller's ACK had no answer");
            Some("no SDP answer")
        }
    }

    /// A 2xx from a fork that lost (or was CANCELled too late): ACK it and BYE it
    /// (§13.2.2.4: every 2xx is ACKed; the extra dialog is then ended).
    async fn ack_and_bye_stray(&mut self, index: usize, resp: &Response) {
        let Some(fork) = self.forks.get(index) else {
            return;
        };
        let Ok(mut d) = Dialog::new_uac(&fork.invite, resp) else {
            return;
        };
        let dest = fork.dest;
        let local = super::sip::local_addr(&self.driver, &dest, None).unwrap_or(self.a_local);
        if let Ok(ack) = d.ack(our_via(dest.kind, local)) {
            self.driver.send_stateless(Message::Request(ack), dest);
        }
        if let Ok(bye) = d.request(Method::Bye, our_via(dest.kind, local)) {
            send_and_forget(&self.driver, bye, dest).await;
        }
    }

    /// The answered call: relays in-dialog requests until a BYE (or the safety net).
    async fn talk(&mut self) -> CallEnd {
        let max = tokio::time::sleep(self.ctx.config.calls.max_call_duration);
        tokio::pin!(max);
        loop {
            tokio::select! {
                ev = self.rx.recv() => {
                    let Some(ev) = ev else {
                        return self.hang_up_both("call task lost its events").await;
                    };
                    match ev {
                        CallEvent::InDialog { leg, req } => {
                            if let Some(end) = self.in_dialog(leg, req).await {
                                return end;
                            }
                        }
                        CallEvent::Ack { leg, ack } => {
                            if let Some(c) = ack.headers.cseq() {
                                self.dialog_acks.remove(&(leg, c.seq));
                                if let Some(t) = self.retransmits.remove(&(leg, c.seq)) {
                                    t.abort();
                                }
                            }
                            if let Some(side) = self.side_mut(leg) {
                                let _ = side.dialog.on_request_received(&ack);
                            }
                            if leg == LegId::A
                                && let Some(end) = self.complete_late_offer(&ack)
                            {
                                return self.hang_up_both(end).await;
                            }
                        }
                        CallEvent::AckTimeout { leg, cseq } => {
                            // None: the ACK came (or the dialog was replaced) after the
                            // timer fired; nothing is awaited any more.
                            let awaited = self.retransmits.remove(&(leg, cseq)).is_some();
                            match self.dialog_acks.remove(&(leg, cseq)) {
                                Some(AwaitedAck::Caller) => {
                                    tracing::info!(call = self.id, "no ACK from the caller: ending the call");
                                    self.bye(LegId::A).await;
                                    self.bye(LegId::B).await;
                                    // The caller never confirmed the answer: no conversation
                                    // took place, so the record is a failed call (not billed),
                                    // with 408 as for any SIP transaction that timed out.
                                    return Self::end(CallDisposition::Failed, 408, NO_ACK_FROM_CALLER);
                                }
                                Some(AwaitedAck::Replacement) => {
                                    tracing::info!(call = self.id, ?leg, "no ACK from the replacing device: ending the call");
                                    return self.hang_up_both(NO_ACK_FROM_REPLACEMENT).await;
                                }
                                // Our 2xx to a phone's re-INVITE. §13.3.1.4 (via §14.2): the
                                // session SHOULD end with a BYE. The call was answered and
                                // talked on, so it stays answered, billed up to now.
                                None if awaited && self.dialog_up(leg) => {
                                    tracing::info!(call = self.id, ?leg, cseq, "no ACK for our 2xx to a re-INVITE: ending the call");
                                    let reason = match leg {
                                        LegId::A => NO_ACK_FOR_CALLER_REINVITE,
                                        LegId::B => NO_ACK_FOR_CALLEE_REINVITE,
                                    };
                                    return self.hang_up_both(reason).await;
                                }
                                None => {}
                            }
                        }
                        CallEvent::Fork { index, event, sent } => {
                            self.note_sent(index, sent);
                            self.late_fork_event(index, event).await;
                        }
                        CallEvent::Reply { id, event } => {
                            if let Some(end) = self.on_reply(id, event).await {
                                return end;
                            }
                        }
                        CallEvent::CallerCancelled => {}
                        CallEvent::TransferFork { index, event, sent } => {
                            if let Some(end) = self.on_transfer_event(index, event, sent).await {
                                return end;
                            }
                        }
                        CallEvent::TransferTimeout => {
                            if let Some(end) = self
                                .transfer_failed(480, "Temporarily Unavailable")
                                .await
                            {
                                return end;
                            }
                        }
                        CallEvent::Hangup => {
                            return self.hang_up_both("hung up by the PBX").await;
                        }
                        CallEvent::HandOver(h) => {
                            if let Some(end) = self.hand_over(*h).await {
                                return end;
                            }
                        }
                        CallEvent::Replace(r) => {
                            if let Some(end) = self.replace(*r).await {
                                return end;
                            }
                        }
                    }
                }
                _ = &mut max => {
                    tracing::info!(call = self.id, "maximum call duration reached");
                    return self.hang_up_both("maximum call duration").await;
                }
            }
        }
    }

    /// Whether leg `leg` has a dialog that has not ended.
    fn dialog_up(&self, leg: LegId) -> bool {
        let side = match leg {
            LegId::A => self.a.as_ref(),
            LegId::B => self.b.as_ref(),
        };
        side.is_some_and(|s| s.dialog.state() != DialogState::Terminated)
    }

    /// Leg `leg` now holds another dialog (transfer, Replaces): our 2xx answers on the old
    /// one are no longer ours to retransmit, nor are their ACKs awaited.
    fn forget_2xx(&mut self, leg: LegId) {
        self.retransmits.retain(|(l, _), t| {
            if *l == leg {
                t.abort();
            }
            *l != leg
        });
        self.dialog_acks.retain(|(l, _), _| *l != leg);
    }

    fn side_mut(&mut self, leg: LegId) -> Option<&mut Side> {
        match leg {
            LegId::A => self.a.as_mut(),
            LegId::B => self.b.as_mut(),
        }
    }

    /// The record's end of an answered call.
    /// The record's end of an answered call: the answer's status, and who ended it.
    fn answered_end(&self, reason: &str) -> CallEnd {
        let code = self.answer_status.as_ref().map(|s| s.0).unwrap_or(200);
        Self::end(CallDisposition::Answered, code, reason)
    }

    async fn hang_up_both(&mut self, reason: &str) -> CallEnd {
        self.bye(LegId::A).await;
        self.bye(LegId::B).await;
        self.answered_end(reason)
    }

    /// Sends BYE on `leg` if its dialog is still up (§15.1.1).
    async fn bye(&mut self, leg: LegId) {
        let driver = self.driver.clone();
        let Some(side) = self.side_mut(leg) else {
            return;
        };
        if side.dialog.state() == DialogState::Terminated {
            return;
        }
        let via = our_via(side.dest.kind, side.local);
        let dest = side.dest;
        match side.dialog.request(Method::Bye, via) {
            Ok(bye) => {
                side.dialog.terminate();
                send_and_forget(&driver, bye, dest).await;
            }
            Err(e) => tracing::debug!(error = %e, "BYE not built"),
        }
    }

    async fn late_fork_event(&mut self, index: usize, event: ClientEvent) {
        let ClientEvent::Response(resp) = event else {
            return;
        };
        if !resp.status.is_success() {
            return;
        }
        if Some(index) == self.winner {
            // A retransmission of the answer: our ACK was lost (§13.2.2.4).
            if let Some((ack, dest)) = &self.b_ack {
                self.driver
                    .send_stateless(Message::Request(ack.clone()), *dest);
            }
            return;
        }
        let same_dialog = self.b.as_ref().is_some_and(|b| {
            resp.headers.to().and_then(|t| t.tag()) == Some(b.dialog.id().remote_tag.as_str())
        });
        if !same_dialog {
            self.ack_and_bye_stray(index, &resp).await;
        }
    }

    /// A request inside a confirmed dialog. `Some` when it ended the call.
    async fn in_dialog(&mut self, leg: LegId, req: ServerRequest) -> Option<CallEnd> {
        let Some(side) = self.side_mut(leg) else {
            req.respond(Response::to_request(&req.request, 481));
            return None;
        };
        if let Err(e) = side.dialog.on_request_received(&req.request) {
            let status = e.status().unwrap_or(500);
            req.respond(Response::to_request(&req.request, status));
            return None;
        }
        match req.request.method {
            Method::Bye => {
                let ok = Response::to_request(&req.request, 200);
                if let Some(side) = self.side_mut(leg) {
                    side.dialog.on_response_sent(&ok);
                    side.dialog.terminate();
                }
                req.respond(ok);
                if self.transferring_from(leg) {
                    // A transferor may hang up once its REFER is accepted (RFC 5589
                    // §6.1): the transferee waits for the target alone.
                    return None;
                }
                self.bye(leg.other()).await;
                let who = match leg {
                    LegId::A => "caller hung up",
                    LegId::B => "callee hung up",
                };
                Some(self.answered_end(who))
            }
            Method::Invite if self.invite_pending() => {
                // §14.2: a re-INVITE while another is in progress gets 491.
                req.respond(Response::to_request(&req.request, 491));
                None
            }
            Method::Refer => self.refer(leg, req).await,
            _ => {
                self.relay_request(leg, req).await;
                None
            }
        }
    }

    fn invite_pending(&self) -> bool {
        self.pending.values().any(|p| p.method == Method::Invite)
    }

    /// Sends a copy of `req` (re-INVITE, UPDATE, INFO, NOTIFY, …) into the other dialog
    /// and answers `req` with what comes back.
    async fn relay_request(&mut self, from: LegId, req: ServerRequest) {
        let to = from.other();
        let sdp = if has_sdp(&req.request.headers, &req.request.body) {
            match self.media.relay_sdp(from, &req.request.body) {
                Some(s) => Some(s),
                None => {
                    req.respond(Response::to_request(&req.request, 488));
                    return;
                }
            }
        } else {
            None
        };
        let method = req.request.method.clone();
        let Some(side) = self.side_mut(to) else {
            req.respond(Response::to_request(&req.request, 481));
            return;
        };
        let via = our_via(side.dest.kind, side.local);
        let dest = side.dest;
        let mut out = match side.dialog.request(method.clone(), via) {
            Ok(r) => r,
            Err(e) => {
                let status = e.status().unwrap_or(500);
                req.respond(Response::to_request(&req.request, status));
                return;
            }
        };
        copy_relayed_headers(&req.request.headers, &mut out.headers);
        match sdp {
            Some(s) => set_sdp_body(&mut out.headers, &mut out.body, s),
            None => out.body = req.request.body.clone(),
        }
        match self.driver.send_request(out, dest).await {
            Ok(mut ct) => {
                let id = self.next_pending;
                self.next_pending += 1;
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    while let Some(event) = ct.next().await {
                        if tx.send(CallEvent::Reply { id, event }).is_err() {
                            break;
                        }
                    }
                });
                self.pending.insert(
                    id,
                    Pending {
                        from,
                        server: req,
                        method,
                    },
                );
            }
            Err(e) => {
                tracing::debug!(call = self.id, error = %e, "in-dialog request not sent");
                req.respond(Response::to_request(&req.request, 503));
            }
        }
    }

    /// A response to a request we relayed. `Some` when it ended the call.
    async fn on_reply(&mut self, id: u64, event: ClientEvent) -> Option<CallEnd> {
        let resp = match event {
            ClientEvent::Response(r) => r,
            ClientEvent::Timeout | ClientEvent::TransportError => {
                let status = if event == ClientEvent::Timeout {
                    408
                } else {
                    503
                };
                if let Some(p) = self.pending.remove(&id) {
                    p.server
                        .respond(Response::to_request(&p.server.request, status));
                    // §12.2.1.2: a 408 ends the dialog; the call goes with it.
                    return Some(self.hang_up_both("peer unreachable").await);
                }
                return None;
            }
        };
        if resp.status.0 == 100 {
            return None;
        }
        let Some(p) = self.pending.get(&id) else {
            // A retransmitted 2xx to a re-INVITE we already answered: ACK again.
            if resp.status.is_success()
                && let Some((ack, dest)) = self.reinvite_acks.get(&id)
            {
                self.driver
                    .send_stateless(Message::Request(ack.clone()), *dest);
            }
            return None;
        };
        let from = p.from;
        let to = from.other();
        if resp.status.is_provisional() {
            let mut out = with_reason(
                Response::to_request(&p.server.request, resp.status.0),
                &resp,
            );
            copy_relayed_headers(&resp.headers, &mut out.headers);
            p.server.respond(out);
            return None;
        }
        let p = self.pending.remove(&id)?;
        let is_invite = p.method == Method::Invite;
        if let Some(side) = self.side_mut(to) {
            side.dialog.on_response_received(&resp);
            if is_invite && resp.status.is_success() {
                let via = our_via(side.dest.kind, side.local);
                let dest = side.dest;
                if let Ok(ack) = side.dialog.ack(via) {
                    self.driver
                        .send_stateless(Message::Request(ack.clone()), dest);
                    self.reinvite_acks.insert(id, (ack, dest));
                }
            }
        }
        let mut out = with_reason(
            Response::to_request(&p.server.request, resp.status.0),
            &resp,
        );
        copy_relayed_headers(&resp.headers, &mut out.headers);
        if has_sdp(&resp.headers, &resp.body) {
            match self.media.relay_sdp(to, &resp.body) {
                Some(s) => set_sdp_body(&mut out.headers, &mut out.body, s),
                None => out.body = bytes::Bytes::new(),
            }
        } else {
            out.body = resp.body.clone();
        }
        let contact = match from {
            LegId::A => self.a.as_ref().map(|s| our_contact(s.dest.kind, s.local)),
            LegId::B => self.b.as_ref().map(|s| our_contact(s.dest.kind, s.local)),
        };
        if resp.status.is_success()
            && sip_core::dialog::is_target_refresh(&p.method)
            && let Some(c) = contact
        {
            set_contact(&mut out.headers, &c);
        }
        if let Some(side) = self.side_mut(from) {
            side.dialog.on_response_sent(&out);
        }
        let cseq = p.server.request.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let tx = p.server.tx;
        p.server.respond(out.clone());
        if is_invite && resp.status.is_success() {
            self.retransmit_2xx(from, tx, cseq, out);
        }
        let other_gone = self
            .side_mut(to)
            .is_some_and(|s| s.dialog.state() == DialogState::Terminated);
        if other_gone {
            // The other dialog ended (481/408): nothing is left to bridge to.
            return Some(self.hang_up_both("dialog ended").await);
        }
        None
    }

    /// Ends the call: answers nothing more, stops timers, closes media and the record.
    async fn finish(&mut self, mut end: CallEnd) {
        self.abandon_transfer();
        for (_, t) in self.retransmits.drain() {
            t.abort();
        }
        // Anything still waiting for an answer gets one.
        for (_, p) in self.pending.drain() {
            p.server
                .respond(Response::to_request(&p.server.request, 481));
        }
        self.ctx.calls.unregister(self.id);
        let stats = self.media.session.stats();
        self.media.session.set_forwarding(LegId::A, false);
        self.media.session.set_forwarding(LegId::B, false);
        // Media figures belong to calls that had media: answered, or early media.
        let had_media = self.recorder.answered_at.is_some()
            || stats.a.rtp.packets > 0
            || stats.b.rtp.packets > 0;
        if had_media {
            end.caller_leg = Some(stats.a.clone());
            end.callee_leg = Some(stats.b.clone());
        }
        end.transfer_chain = std::mem::take(&mut self.transfers);
        self.recorder.complete(&self.ctx, end).await;
    }
}

/// Sends a request whose outcome does not matter (BYE at the end of a call) and lets a
/// task drain its transaction.
async fn send_and_forget(driver: &DriverHandle, req: Request, dest: Destination) {
    match driver.send_request(req, dest).await {
        Ok(mut ct) => {
            tokio::spawn(async move { while ct.next().await.is_some() {} });
        }
        Err(e) => tracing::debug!(error = %e, "request not sent"),
    }
}

/// The trunk channels held per leg (see `Call::channels`).
#[derive(Debug, Default)]
struct LegChannels {
    a: Option<crate::trunk::ChannelGuard>,
    b: Option<crate::trunk::ChannelGuard>,
}

impl LegChannels {
    /// The channel of whoever is on `leg` now; the previous one (if any) is freed.
    fn set(&mut self, leg: LegId, channel: Option<crate::trunk::ChannelGuard>) {
        match leg {
            LegId::A => self.a = channel,
            LegId::B => self.b = channel,
        }
    }

    /// The channel of the party leaving `leg` (to go with it to another call).
    fn take(&mut self, leg: LegId) -> Option<crate::trunk::ChannelGuard> {
        match leg {
            LegId::A => self.a.take(),
            LegId::B => self.b.take(),
        }
    }
}

/// The registry's view of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallHandle {
    pub(crate) events: mpsc::UnboundedSender<CallEvent>,
}

/// Passes a fork's transaction events to the call; CANCELs when told to (§9.1).
async fn forward_plain(
    mut ct: sip_core::driver::ClientTransaction,
    index: usize,
    mut cancel: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<CallEvent>,
    wrap: fn(usize, ClientEvent) -> CallEvent,
) {
    let mut cancelled = false;
    loop {
        tokio::select! {
            c = &mut cancel, if !cancelled => {
                cancelled = true;
                if c.is_ok() {
                    ct.cancel();
                }
            }
            ev = ct.next() => {
                let Some(event) = ev else { return };
                if events.send(wrap(index, event)).is_err() {
                    return;
                }
            }
        }
    }
}

/// The same for a trunk fork, whose INVITE may be re-sent once with credentials: `wrap`
/// also carries the request as last sent once it was.
async fn forward_authed(
    mut at: crate::trunk::AuthedTransaction,
    index: usize,
    mut cancel: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<CallEvent>,
    wrap: fn(usize, ClientEvent, Option<Box<Request>>) -> CallEvent,
) {
    let mut cancelled = false;
    loop {
        tokio::select! {
            c = &mut cancel, if !cancelled => {
                cancelled = true;
                if c.is_ok() {
                    at.cancel();
                }
            }
            ev = at.next() => {
                let Some(event) = ev else { return };
                let sent = at.retried().then(|| Box::new(at.request().clone()));
                if events.send(wrap(index, event, sent)).is_err() {
                    return;
                }
            }
        }
    }
}
