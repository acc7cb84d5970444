//! Blind transfer (RFC 3515 REFER, RFC 5589 §6): one party of an answered call sends
//! REFER with `Refer-To: <sip:TARGET@…>`; we accept it (202), route TARGET with the dial
//! plan, call it with the transferee's media, and once it answers connect it to the
//! transferee and end the transferor's dialog. The transferor hears how it went through
//! the implicit subscription's NOTIFYs (RFC 3515 §2.4.4, message/sipfrag bodies).
//!
//! TARGET may be outside (a mobile): it is routed as if the transferor dialled it (its
//! class of service; premium or barred numbers refuse the REFER with the dial plan's
//! status), takes a channel on the trunk and goes out through `services::outbound` and
//! `trunk::send_with_auth` like any call out (the transferor's identity, the trunk's
//! account answering the provider's 401/407). A full trunk is the transfer's outcome,
//! reported in the final NOTIFY (503) with the call left as it was (RFC 3515 §2.4.5).
//! Emergency numbers are always routed, on the emergency trunk, never refused for
//! channels. Only a local extension may send a call out this way. Once answered, the
//! record's party on the transferor's side becomes the outside number and the route
//! is recomputed (`records::route_between`: outbound, or emergency, on that trunk).
//!
//! The transferee keeps its dialog and its relay port, so it needs no re-INVITE: only the
//! relay leg that pointed at the transferor is pointed at the new party (and unlatched);
//! if the transferor had put it on hold, it is re-INVITEd to resume. Attended transfer
//! (`Refer-To` with `?Replaces=`) is in `attended.rs`.

use super::{Call, CallEvent, Side, forward_authed, forward_plain, send_and_forget};
use crate::calls::services::{self, Caller, Destined, Target};
use crate::calls::sip::{
    our_contact, our_via, set_contact, set_sdp_body, sip_uri, token, uri_user,
};
use crate::records::{CallEnd, Party};
use crate::trunk::ChannelGuard;
use sip_core::dialog::{Dialog, DialogState};
use sip_core::driver::{ClientEvent, ServerRequest};
use sip_core::message::{
    CSeq, Header, HeaderName, Message, Method, NameAddr, Request, Response, SipStr,
};
use sip_core::rtp_relay::LegId;
use sip_core::transport::Destination;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// One INVITE of a transfer to one registered contact of the target (or to the provider).
#[derive(Debug)]
struct TransferFork {
    invite: Request,
    dest: Destination,
    cancel: Option<oneshot::Sender<()>>,
    failed: Option<(u16, String)>,
}

/// A blind transfer in progress, or the last one once answered (its 2xx retransmissions
/// still need our ACK, RFC 3261 §13.2.2.4).
#[derive(Debug)]
pub(super) struct Transfer {
    /// The leg that sent the REFER; the other leg, the transferee, stays.
    by: LegId,
    by_number: String,
    /// The number the target was reached on, and who it is (for the record's route).
    to_number: String,
    who: Party,
    /// The trunk channel a transfer out holds; leg `by` takes it once answered.
    channel: Option<ChannelGuard>,
    forks: Vec<TransferFork>,
    answered: Option<usize>,
    ack: Option<(Request, Destination)>,
    timeout: AbortHandle,
}

/// Where the dial plan sends a blind transfer.
enum Reach {
    /// An extension and its registered contacts.
    Extension(Arc<store::Extension>, Vec<Target>),
    /// A number outside, through `trunk` (or the emergency trunk).
    Outside {
        trunk: Option<Arc<store::Trunk>>,
        number: String,
        emergency: bool,
    },
}

impl Transfer {
    fn pending(&self) -> bool {
        self.answered.is_none()
    }
}

/// What the transferor learns in a NOTIFY body (RFC 3515 §2.4.5: a sipfrag status line).
pub(super) fn sipfrag(status: u16, reason: &str) -> Vec<u8> {
    format!("SIP/2.0 {status} {reason}\r\n").into_bytes()
}

impl Call {
    /// The number of whoever is on leg `leg` (the caller's on A, the callee's on B).
    pub(super) fn leg_number(&self, leg: LegId) -> Option<String> {
        let addr = match leg {
            LegId::A => &self.b_from,
            LegId::B => &self.b_to,
        };
        uri_user(&addr.uri)
    }

    /// Whether leg `leg` sent the REFER of a transfer still in progress.
    pub(super) fn transferring_from(&self, leg: LegId) -> bool {
        self.transfer
            .as_ref()
            .is_some_and(|t| t.pending() && t.by == leg)
    }

    /// A REFER inside the answered call. `Some` when it ended the call.
    pub(super) async fn refer(&mut self, leg: LegId, req: ServerRequest) -> Option<CallEnd> {
        let reject = |req: ServerRequest, status: u16, reason: &str| {
            let mut r = Response::to_request(&req.request, status);
            r.reason = SipStr::from(reason.to_string());
            req.respond(r);
        };
        if self.transfer.as_ref().is_some_and(Transfer::pending) {
            // One transfer at a time (RFC 3261 §14.2's rule, by analogy).
            reject(req, 491, "Request Pending");
            return None;
        }
        let refer_to = match req.request.headers.refer_to() {
            Some(Ok(r)) => r,
            // RFC 3515 §2.4.1: exactly one Refer-To, or 400.
            _ => {
                reject(req, 400, "Bad Refer-To");
                return None;
            }
        };
        match sip_core::message::typed::embedded_replaces(&refer_to.uri) {
            Some(Ok(replaces)) => return self.attended(leg, req, replaces).await,
            Some(Err(_)) => {
                reject(req, 400, "Bad Replaces");
                return None;
            }
            None => {}
        }
        let Some(dialled) = uri_user(&refer_to.uri) else {
            reject(req, 404, "Not Found");
            return None;
        };
        let by_number = self.leg_number(leg).unwrap_or_default();
        let snap = self.ctx.directory.snapshot();
        // Routed as if the transferor dialled it: its permissions apply.
        let caller = snap
            .extension(&by_number)
            .cloned()
            .map(Caller::Extension)
            .unwrap_or(Caller::Unknown);
        let reach = match services::route(&self.ctx, &caller, &dialled, &snap) {
            Destined::Extension(e) => {
                let targets = services::contacts(&self.ctx, &e.number);
                if targets.is_empty() {
                    reject(req, 480, "Temporarily Unavailable");
                    return None;
                }
                Reach::Extension(e, targets)
            }
            Destined::Deny { status, reason } => {
                reject(req, status, &reason);
                return None;
            }
            Destined::Emergency { .. } | Destined::Trunk { .. }
                if !matches!(caller, Caller::Extension(_)) =>
            {
                // Only a local extension sends a call out on our account; an outside
                // party REFERring us elsewhere would make Sentral a free relay (as
                // provider-to-provider INVITEs are refused).
                reject(req, 403, "Forbidden");
                return None;
            }
            // Emergency numbers are always routed (the dial plan's rule), whatever the
            // transferor's class of service and however full the trunk.
            Destined::Emergency { number } => Reach::Outside {
                trunk: None,
                number,
                emergency: true,
            },
            Destined::Trunk { trunk, number } => Reach::Outside {
                trunk: Some(trunk),
                number,
                emergency: false,
            },
        };
        let transferee = leg.other();
        let Some(offer) = self.media.offer_from(transferee) else {
            reject(req, 488, "Not Acceptable Here");
            return None;
        };
        let referred_by = req
            .request
            .headers
            .raw_first(&HeaderName::from_wire(&SipStr::from("Referred-By")))
            .cloned();
        let accepted = Response::to_request(&req.request, 202);
        if let Some(side) = self.side_mut(leg) {
            side.dialog.on_response_sent(&accepted);
        }
        req.respond(accepted);
        self.notify(leg, &sipfrag(100, "Trying"), false).await;

        // An outside target takes a trunk channel and goes out exactly as if the
        // transferor had dialled it (identity, trunk account); a refusal (channels busy,
        // no trunk) is the transfer's outcome, reported like a busy target: the call stays.
        let (targets, to_number, who, channel) = match reach {
            Reach::Extension(e, targets) => {
                let number = e.number.clone();
                (targets, number, Party::Extension((*e).clone()), None)
            }
            Reach::Outside {
                trunk,
                number,
                emergency,
            } => match services::outbound(&self.ctx, &caller, trunk, &number, emergency, &snap)
                .await
            {
                Ok((target, guard, trunk)) => {
                    let direction = if emergency {
                        billing::CallDirection::Emergency
                    } else {
                        billing::CallDirection::Outbound
                    };
                    let route = store::CallRoute {
                        direction,
                        trunk: Some(trunk.name.clone()),
                    };
                    (vec![target], number, Party::External(route), Some(guard))
                }
                Err(r) => {
                    tracing::info!(
                        call = self.id,
                        status = r.status,
                        reason = r.reason,
                        "blind transfer out refused"
                    );
                    self.notify(leg, &sipfrag(r.status, r.reason), true).await;
                    return None;
                }
            },
        };

        let host = self.a_local.ip().to_string();
        let from = match transferee {
            LegId::A => self.b_from.clone(),
            LegId::B => self.b_to.clone(),
        };
        let referred_by =
            referred_by.unwrap_or_else(|| SipStr::from(format!("<sip:{by_number}@{host}>")));
        let call_id = token();
        let tag = token();
        let mut forks = Vec::new();
        for t in targets {
            let index = forks.len();
            let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
            let (inv, destination) = match &t {
                Target::Contact { uri, destination } => {
                    let destination = *destination;
                    let local = crate::calls::sip::local_addr(&self.driver, &destination, None)
                        .unwrap_or(self.a_local);
                    let mut inv = Request::new(Method::Invite, (**uri).clone());
                    let mut f = from.clone();
                    f.set_tag(SipStr::from(tag.clone()));
                    let h = &mut inv.headers;
                    h.push(Header::Via(vec![our_via(destination.kind, local)]));
                    h.push(Header::MaxForwards(70));
                    h.push(Header::From(f));
                    h.push(Header::To(NameAddr::new(sip_uri(&to_number, &host))));
                    h.push(Header::CallId(SipStr::from(call_id.clone())));
                    h.push(Header::CSeq(CSeq {
                        seq: 1,
                        method: Method::Invite,
                    }));
                    set_contact(h, &our_contact(destination.kind, local));
                    // RFC 3892 §3: the referee passes the transferor's identity on.
                    h.push(Header::Other(
                        HeaderName::from_wire(&SipStr::from("Referred-By")),
                        referred_by.clone(),
                    ));
                    (inv, destination)
                }
                // The provider sees an ordinary call out from the transferor (its number,
                // P-Asserted-Identity): no Referred-By naming an internal address.
                Target::Trunk(out) => (
                    out.request(Method::Invite, &call_id, &tag, 1, "sentral", None),
                    out.destination,
                ),
            };
            let mut inv = inv;
            inv.headers.push(Header::Other(
                HeaderName::Allow,
                SipStr::from(crate::app::ALLOW),
            ));
            set_sdp_body(&mut inv.headers, &mut inv.body, offer.clone());
            let mut fork = TransferFork {
                invite: inv.clone(),
                dest: destination,
                cancel: Some(cancel_tx),
                failed: None,
            };
            let sent = match t {
                Target::Contact { .. } => match self.driver.send_request(inv, destination).await {
                    Ok(ct) => {
                        tokio::spawn(forward_plain(
                            ct,
                            index,
                            cancel_rx,
                            self.tx.clone(),
                            |index, event| CallEvent::TransferFork {
                                index,
                                event,
                                sent: None,
                            },
                        ));
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                Target::Trunk(out) => {
                    match crate::trunk::send_with_auth(
                        &self.driver,
                        inv,
                        destination,
                        out.credentials.clone(),
                    )
                    .await
                    {
                        Ok(at) => {
                            tokio::spawn(forward_authed(
                                at,
                                index,
                                cancel_rx,
                                self.tx.clone(),
                                |index, event, sent| CallEvent::TransferFork { index, event, sent },
                            ));
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = sent {
                tracing::debug!(call = self.id, error = %e, "transfer INVITE not sent");
                fork.failed = Some((503, "Service Unavailable".into()));
            }
            forks.push(fork);
        }
        let events = self.tx.clone();
        let ring = self.ctx.config.calls.ring_timeout;
        let timeout = tokio::spawn(async move {
            tokio::time::sleep(ring).await;
            let _ = events.send(CallEvent::TransferTimeout);
        })
        .abort_handle();
        tracing::info!(call = self.id, by = %by_number, to = %to_number, "blind transfer");
        self.transfer = Some(Transfer {
            by: leg,
            by_number,
            to_number,
            who,
            channel,
            forks,
            answered: None,
            ack: None,
            timeout,
        });
        if self
            .transfer
            .as_ref()
            .is_some_and(|t| t.forks.iter().all(|f| f.failed.is_some()))
        {
            return self.transfer_failed(503, "Service Unavailable").await;
        }
        None
    }

    /// A NOTIFY of the implicit refer subscription to the transferor, if its dialog is up.
    /// `last` ends the subscription (RFC 3515 §2.4.7; RFC 6665 §4.1.3 reason noresource).
    pub(super) async fn notify(&mut self, leg: LegId, body: &[u8], last: bool) {
        let Some(req) = self.build_notify(leg, body, last) else {
            return;
        };
        send_and_forget(&self.driver, req.0, req.1).await;
    }

    fn build_notify(
        &mut self,
        leg: LegId,
        body: &[u8],
        last: bool,
    ) -> Option<(Request, Destination)> {
        let side = self.side_mut(leg)?;
        if side.dialog.state() == DialogState::Terminated {
            return None;
        }
        let via = our_via(side.dest.kind, side.local);
        let dest = side.dest;
        let mut req = match side.dialog.request(Method::Notify, via) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "NOTIFY not built");
                return None;
            }
        };
        let h = &mut req.headers;
        h.push(Header::Other(
            HeaderName::from_wire(&SipStr::from("Event")),
            SipStr::from("refer"),
        ));
        let state = if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        h.push(Header::Other(
            HeaderName::from_wire(&SipStr::from("Subscription-State")),
            SipStr::from(state),
        ));
        h.set_raw(HeaderName::ContentType, "message/sipfrag;version=2.0");
        req.body = bytes::Bytes::from(body.to_vec());
        Some((req, dest))
    }

    /// A response for a transfer fork. `Some` when it ended the call.
    pub(super) async fn on_transfer_event(
        &mut self,
        index: usize,
        event: ClientEvent,
        sent: Option<Box<Request>>,
    ) -> Option<CallEnd> {
        // A trunk re-sent its INVITE with credentials: the dialog and ACK follow it.
        if let Some(req) = sent
            && let Some(f) = self.transfer.as_mut().and_then(|t| t.forks.get_mut(index))
        {
            f.invite = *req;
        }
        let t = self.transfer.as_ref()?;
        let resp = match event {
            ClientEvent::Response(r) => r,
            ClientEvent::Timeout => {
                return self
                    .transfer_fork_failed(index, 408, "Request Timeout")
                    .await;
            }
            ClientEvent::TransportError => {
                return self
                    .transfer_fork_failed(index, 503, "Service Unavailable")
                    .await;
            }
        };
        if resp.status.is_provisional() {
            return None;
        }
        if resp.status.is_success() {
            if t.answered == Some(index) {
                // Our ACK was lost: the 2xx comes again (§13.2.2.4).
                if let Some((ack, dest)) = &t.ack {
                    self.driver
                        .send_stateless(Message::Request(ack.clone()), *dest);
                }
                return None;
            }
            let stray = !t.pending() || t.forks.get(index).is_none_or(|f| f.failed.is_some());
            if stray {
                self.ack_and_bye_transfer_stray(index, &resp).await;
                return None;
            }
            return self.transfer_answered(index, resp).await;
        }
        let reason = resp.reason.to_string();
        self.transfer_fork_failed(index, resp.status.0, &reason)
            .await
    }

    async fn transfer_fork_failed(
        &mut self,
        index: usize,
        status: u16,
        reason: &str,
    ) -> Option<CallEnd> {
        let t = self.transfer.as_mut()?;
        if !t.pending() {
            return None;
        }
        if let Some(f) = t.forks.get_mut(index)
            && f.failed.is_none()
        {
            f.failed = Some((status, reason.to_string()));
        }
        if !t.forks.iter().all(|f| f.failed.is_some()) {
            return None;
        }
        // Busy anywhere is busy; anything else is passed on as the first failure.
        let (status, reason) = t
            .forks
            .iter()
            .filter_map(|f| f.failed.clone())
            .find(|f| f.0 == 486)
            .or_else(|| t.forks.iter().find_map(|f| f.failed.clone()))
            .unwrap_or((480, "Temporarily Unavailable".into()));
        self.transfer_failed(status, &reason).await
    }

    /// The target did not answer: the transferor hears why and keeps its call; if it hung
    /// up meanwhile, the transferee is left alone and the call ends.
    pub(super) async fn transfer_failed(&mut self, status: u16, reason: &str) -> Option<CallEnd> {
        let t = self.transfer.take()?;
        if !t.pending() {
            self.transfer = Some(t);
            return None;
        }
        t.timeout.abort();
        let mut t = t;
        for f in &mut t.forks {
            if let Some(c) = f.cancel.take() {
                let _ = c.send(());
            }
        }
        tracing::info!(call = self.id, status, "blind transfer failed");
        let by = t.by;
        let by_up = self
            .side_mut(by)
            .is_some_and(|s| s.dialog.state() != DialogState::Terminated);
        if by_up {
            self.notify(by, &sipfrag(status, reason), true).await;
            None
        } else {
            Some(self.hang_up_both("transfer failed").await)
        }
    }

    /// Fork `index` of the transfer answered: it replaces the transferor.
    async fn transfer_answered(&mut self, index: usize, resp: Response) -> Option<CallEnd> {
        let t = self.transfer.as_mut()?;
        let fork = t.forks.get(index)?;
        let mut dialog = match Dialog::new_uac(&fork.invite, &resp) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(call = self.id, error = %e, "transfer 2xx cannot create a dialog");
                return self.transfer_fork_failed(index, 502, "Bad Gateway").await;
            }
        };
        dialog.on_response_received(&resp);
        let dest = fork.dest;
        let local =
            crate::calls::sip::local_addr(&self.driver, &dest, None).unwrap_or(self.a_local);
        match dialog.ack(our_via(dest.kind, local)) {
            Ok(ack) => {
                self.driver
                    .send_stateless(Message::Request(ack.clone()), dest);
                t.ack = Some((ack, dest));
            }
            Err(e) => tracing::debug!(call = self.id, error = %e, "no ACK for the transfer 2xx"),
        }
        t.answered = Some(index);
        t.timeout.abort();
        for (i, f) in t.forks.iter_mut().enumerate() {
            if i != index
                && f.failed.is_none()
                && let Some(c) = f.cancel.take()
            {
                let _ = c.send(());
                f.failed = Some((487, "Request Terminated".into()));
            }
        }
        let by = t.by;
        let by_number = t.by_number.clone();
        let to_number = t.to_number.clone();
        let who = t.who.clone();
        // The new party's trunk channel (if any) is held as long as its leg; the
        // transferor's leg, gone, frees its own.
        let channel = t.channel.take();
        self.channels.set(by, channel);
        // Read before the answer below is relayed: whether the transferor left the
        // transferee on hold.
        let resume = self.media.held_by_other(by.other());
        // The relay leg that served the transferor now serves the new party.
        if crate::calls::sip::has_sdp(&resp.headers, &resp.body) {
            let _ = self.media.relay_sdp(by, &resp.body);
        }
        self.media.session.unlatch(by);
        self.release_transferor(by);
        // The transferor's dialog is gone: a 2xx it never ACKed must not end the call.
        self.forget_2xx(by);
        let old_key = self.side_mut(by).map(|s| {
            let id = s.dialog.id();
            (id.call_id.to_string(), id.local_tag.to_string())
        });
        let new_key = {
            let id = dialog.id();
            (id.call_id.to_string(), id.local_tag.to_string())
        };
        let new_side = Side {
            dialog,
            dest,
            local,
        };
        match by {
            LegId::A => self.a = Some(new_side),
            LegId::B => self.b = Some(new_side),
        }
        if let Some(old) = old_key {
            let now_on_leg = Some(to_number.clone());
            self.ctx
                .calls
                .rebind(self.id, &old, new_key, by, now_on_leg);
        }
        self.transfers.push(store::TransferStep {
            at: chrono::Utc::now(),
            kind: store::TransferKind::Blind,
            by: by_number,
            to: to_number.clone(),
        });
        self.party_changed(by, &to_number, who).await;
        tracing::info!(call = self.id, "blind transfer connected");
        if resume {
            return self.resume(by.other()).await;
        }
        None
    }

    /// The transferor's part ends: the final NOTIFY (200) and then BYE on `by` (RFC 5589
    /// §6.1), sent in that order by a task so the phone sees them in order (the BYE goes
    /// after the NOTIFY's answer). The dialog counts as ended from now on.
    pub(super) fn release_transferor(&mut self, by: LegId) {
        let notify = self.build_notify(by, &sipfrag(200, "OK"), true);
        let bye = self.side_mut(by).and_then(|side| {
            if side.dialog.state() == DialogState::Terminated {
                return None;
            }
            let via = our_via(side.dest.kind, side.local);
            let dest = side.dest;
            let bye = side.dialog.request(Method::Bye, via).ok()?;
            side.dialog.terminate();
            Some((bye, dest))
        });
        let driver = self.driver.clone();
        tokio::spawn(async move {
            if let Some((n, d)) = notify
                && let Ok(mut ct) = driver.send_request(n, d).await
            {
                while let Some(ev) = ct.next().await {
                    if matches!(&ev, ClientEvent::Response(r) if r.status.is_provisional()) {
                        continue;
                    }
                    break;
                }
                tokio::spawn(async move { while ct.next().await.is_some() {} });
            }
            if let Some((b, d)) = bye {
                send_and_forget(&driver, b, d).await;
            }
        });
    }

    /// Leg `by` now reaches `number` (`who`): the names on our requests and the record's
    /// party on that side (caller on A, callee on B) follow, so the record names who
    /// remains in the call, with the direction and trunk between them; the transfer chain
    /// keeps who it was before.
    pub(super) async fn party_changed(&mut self, by: LegId, number: &str, who: Party) {
        let uri = sip_uri(number, &self.a_local.ip().to_string());
        match by {
            LegId::A => self.b_from = NameAddr::new(uri),
            LegId::B => self.b_to = NameAddr::new(uri),
        }
        let snap = self.ctx.directory.snapshot();
        // An extension as the directory has it now (site and department may have moved);
        // an outside party by its number alone, even if it looks like an extension's.
        let (party, who) = match who {
            Party::Extension(e) => {
                let now = snap.extension(&e.number).map_or(e, |n| (**n).clone());
                let party = store::CallParty {
                    extension: Some(now.number.clone()),
                    number: now.number.clone(),
                    site: Some(now.site.clone()),
                    department: now.department.clone(),
                };
                (party, Party::Extension(now))
            }
            Party::External(route) => {
                let party = store::CallParty {
                    extension: None,
                    number: number.to_string(),
                    site: None,
                    department: None,
                };
                (party, Party::External(route))
            }
        };
        match by {
            LegId::A => self.recorder.set_caller(&self.ctx, party, who),
            LegId::B => self.recorder.set_callee(&self.ctx, party, who),
        }
    }

    async fn ack_and_bye_transfer_stray(&mut self, index: usize, resp: &Response) {
        let Some(fork) = self.transfer.as_ref().and_then(|t| t.forks.get(index)) else {
            return;
        };
        let Ok(mut d) = Dialog::new_uac(&fork.invite, resp) else {
            return;
        };
        let dest = fork.dest;
        let local =
            crate::calls::sip::local_addr(&self.driver, &dest, None).unwrap_or(self.a_local);
        if let Ok(ack) = d.ack(our_via(dest.kind, local)) {
            self.driver.send_stateless(Message::Request(ack), dest);
        }
        if let Ok(bye) = d.request(Method::Bye, our_via(dest.kind, local)) {
            send_and_forget(&self.driver, bye, dest).await;
        }
    }

    /// The call ends: a transfer still ringing is CANCELled.
    pub(super) fn abandon_transfer(&mut self) {
        if let Some(t) = self.transfer.as_mut() {
            t.timeout.abort();
            for f in &mut t.forks {
                if let Some(c) = f.cancel.take() {
                    let _ = c.send(());
                }
            }
        }
    }
}
