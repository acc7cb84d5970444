//! Attended transfer (RFC 5589 §7): A talks to B, B holds A and calls C (a second call
//! through us), then B sends REFER on the A–B dialog with
//! `Refer-To: <sip:C?Replaces=…>` naming its dialog with us in the B–C call (RFC 3891).
//! Being a B2BUA, we are the UA that would receive the INVITE with Replaces, so we
//! resolve it against our own calls and splice: the B–C call hands C's dialog over to
//! the A–B call (its task ends and BYEs B), C is re-INVITEd onto this call's relay
//! with A's media, A is re-INVITEd to resume if B had held it, and B hears the outcome
//! in the refer subscription's NOTIFYs before we BYE it. Both records get an
//! `attended` transfer step. A party reached through a trunk (a call we placed out)
//! brings its trunk channel along: it stays counted exactly as long as its leg exists.

use super::transfer::sipfrag;
use super::{Call, CallEvent, Side};
use crate::calls::sip::{has_sdp, our_via, set_sdp_body};
use crate::records::CallEnd;
use sip_core::dialog::DialogState;
use sip_core::driver::{ClientEvent, ServerRequest};
use sip_core::message::typed::Replaces;
use sip_core::message::{Header, HeaderName, Message, Method, Response, SipStr};
use sip_core::rtp_relay::LegId;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a call waits for the call named by Replaces to hand its party over. The
/// other call's task answers at once unless it is itself waiting on the network.
const HAND_OVER_WAIT: Duration = Duration::from_secs(3);

const NO_DIALOG: (u16, &str) = (481, "Call/Transaction Does Not Exist");

/// What the Replaces of an attended transfer asks of the call it names.
#[derive(Debug)]
pub(crate) struct HandOverRequest {
    /// The leg of the named dialog (the transferor's dialog with us in that call).
    pub(crate) leg: LegId,
    /// Replaces' from-tag: the transferor's tag, our dialog's remote tag.
    pub(crate) from_tag: String,
    /// Replaces' `early-only` flag.
    pub(crate) early_only: bool,
    /// Who sent the REFER: only the party on `leg` may give its call away.
    pub(crate) by_number: String,
    /// Who the handed-over party will talk to (the named call's transfer step).
    pub(crate) to_number: String,
    /// The call and leg that take the party over.
    pub(crate) into_call: u64,
    pub(crate) into_leg: LegId,
    pub(crate) reply: oneshot::Sender<Result<HandedOver, (u16, &'static str)>>,
}

impl HandOverRequest {
    /// Answers that nothing is handed over, with the status the transferor will hear.
    pub(crate) fn refuse(self, status: u16, reason: &'static str) {
        let _ = self.reply.send(Err((status, reason)));
    }
}

/// A party handed over from another call: its confirmed dialog with us and its SDP.
#[derive(Debug)]
pub(crate) struct HandedOver {
    side: Side,
    sdp: Option<Vec<u8>>,
    number: String,
    /// Who the party is (an extension, or someone outside and the route that brought
    /// them), for the record's direction and trunk.
    who: crate::records::Party,
    /// The trunk channel the party's leg holds (a provider we called out to): it is
    /// counted for as long as that leg exists, in whichever call.
    channel: Option<crate::trunk::ChannelGuard>,
}

impl Call {
    /// A REFER on leg `by` whose Refer-To carries `replaces`. Always 202: the outcome is
    /// reported in NOTIFYs (RFC 3515 §2.4.5), as the INVITE with Replaces we stand in for
    /// would have been. `Some` when the call ended.
    pub(super) async fn attended(
        &mut self,
        by: LegId,
        req: ServerRequest,
        replaces: Replaces,
    ) -> Option<CallEnd> {
        let by_number = self.leg_number(by).unwrap_or_default();
        let to_number = self.leg_number(by.other()).unwrap_or_default();
        let accepted = Response::to_request(&req.request, 202);
        if let Some(side) = self.side_mut(by) {
            side.dialog.on_response_sent(&accepted);
        }
        req.respond(accepted);
        self.notify(by, &sipfrag(100, "Trying"), false).await;
        tracing::info!(
            call = self.id,
            by = %by_number,
            replaces = %replaces.call_id,
            "attended transfer"
        );
        match self.take_over(by, &replaces, &by_number, to_number).await {
            Ok(party) => self.splice(by, by_number, party).await,
            Err((status, reason)) => {
                tracing::info!(call = self.id, status, "attended transfer failed");
                self.notify(by, &sipfrag(status, reason), true).await;
                None
            }
        }
    }

    /// Asks the call holding the dialog named by `replaces` for the party at its other
    /// end.
    async fn take_over(
        &self,
        by: LegId,
        replaces: &Replaces,
        by_number: &str,
        to_number: String,
    ) -> Result<HandedOver, (u16, &'static str)> {
        // RFC 3891 §3: to-tag is compared with our (local) tag, from-tag with the remote.
        let (id, handle, leg) = self
            .ctx
            .calls
            .find_local_dialog(replaces.call_id.as_str(), replaces.to_tag.as_str())
            .ok_or(NO_DIALOG)?;
        if id == self.id {
            // Replacing a dialog of the very call being transferred means nothing.
            return Err((403, "Forbidden"));
        }
        let (reply, answer) = oneshot::channel();
        let request = HandOverRequest {
            leg,
            from_tag: replaces.from_tag.to_string(),
            early_only: replaces.early_only,
            by_number: by_number.to_string(),
            to_number,
            into_call: self.id,
            into_leg: by,
            reply,
        };
        if handle
            .events
            .send(CallEvent::HandOver(Box::new(request)))
            .is_err()
        {
            return Err(NO_DIALOG);
        }
        match tokio::time::timeout(HAND_OVER_WAIT, answer).await {
            Ok(Ok(result)) => result,
            // The other call ended meanwhile.
            Ok(Err(_)) => Err(NO_DIALOG),
            Err(_) => Err((503, "Service Unavailable")),
        }
    }

    /// The party from the other call replaces the transferor on leg `by`.
    async fn splice(&mut self, by: LegId, by_number: String, party: HandedOver) -> Option<CallEnd> {
        let transferee = by.other();
        // Read before any SDP below is relayed: whether the transferor left the
        // transferee on hold.
        let resume = self.media.held_by_other(transferee);
        self.release_transferor(by);
        // The transferor's dialog is gone: a 2xx it never ACKed must not end the call.
        self.forget_2xx(by);
        let old_key = self.side_mut(by).map(|s| dialog_key(&s.dialog));
        let new_key = dialog_key(&party.side.dialog);
        match by {
            LegId::A => self.a = Some(party.side),
            LegId::B => self.b = Some(party.side),
        }
        // The transferor's leg is gone (and its channel, if it had one); the party's
        // channel comes along with it.
        self.channels.set(by, party.channel);
        self.media.adopt(by, party.sdp);
        if let Some(old) = old_key {
            let now_on_leg = Some(party.number.clone());
            self.ctx
                .calls
                .rebind(self.id, &old, new_key, by, now_on_leg);
        }
        self.transfers.push(store::TransferStep {
            at: chrono::Utc::now(),
            kind: store::TransferKind::Attended,
            by: by_number,
            to: party.number.clone(),
        });
        self.party_changed(by, &party.number, party.who.clone())
            .await;
        // The new party still sends to and expects media from the other call's relay
        // session, which is gone: point it at ours, with the transferee's media.
        let Some(offer) = self.media.offer_from(transferee) else {
            return Some(self.hang_up_both("transfer without media").await);
        };
        match self.reinvite(by, offer).await {
            Ok(answer) => {
                if has_sdp(&answer.headers, &answer.body) {
                    let _ = self.media.relay_sdp(by, &answer.body);
                }
            }
            Err(status) => {
                tracing::warn!(
                    call = self.id,
                    status,
                    "transfer target refused our re-INVITE"
                );
                return Some(self.hang_up_both("transfer target lost").await);
            }
        }
        tracing::info!(call = self.id, to = %party.number, "attended transfer connected");
        if resume {
            return self.resume(transferee).await;
        }
        None
    }

    /// After a transfer: re-INVITEs `leg`'s peer, which the transferor had put on hold,
    /// with the new party's media as `sendrecv` (RFC 3264 §8.4 resume). `Some` when the
    /// peer is gone and the call ended.
    pub(super) async fn resume(&mut self, leg: LegId) -> Option<CallEnd> {
        let offer = self.media.offer_from(leg.other())?;
        match self.reinvite(leg, offer).await {
            Ok(answer) => {
                if has_sdp(&answer.headers, &answer.body) {
                    let _ = self.media.relay_sdp(leg, &answer.body);
                }
                tracing::debug!(call = self.id, ?leg, "transferee resumed");
                None
            }
            // §12.2.1.2: these end the dialog, and the call with it.
            Err(status @ (408 | 481)) => {
                tracing::info!(call = self.id, status, "transferee gone");
                Some(self.hang_up_both("transferee lost").await)
            }
            Err(status) => {
                // The call goes on; the peer keeps its old (held) session.
                tracing::warn!(call = self.id, status, "transferee not resumed");
                None
            }
        }
    }

    /// Sends a re-INVITE of our own on `leg` with `sdp` and waits for its final answer,
    /// ACKing a 2xx (and its retransmissions, §13.2.2.4). `Err` is the failure status.
    /// The call's other events wait meanwhile, which keeps their order.
    pub(super) async fn reinvite(&mut self, leg: LegId, sdp: Vec<u8>) -> Result<Response, u16> {
        let driver = self.driver.clone();
        let side = self.side_mut(leg).ok_or(481u16)?;
        if side.dialog.state() == DialogState::Terminated {
            return Err(481);
        }
        let dest = side.dest;
        let local = side.local;
        let mut req = side
            .dialog
            .request(Method::Invite, our_via(dest.kind, local))
            .map_err(|e| e.status().unwrap_or(500))?;
        req.headers.push(Header::Other(
            HeaderName::Allow,
            SipStr::from(crate::app::ALLOW),
        ));
        set_sdp_body(&mut req.headers, &mut req.body, sdp);
        let mut ct = driver.send_request(req, dest).await.map_err(|e| {
            tracing::debug!(call = self.id, error = %e, "re-INVITE not sent");
            503u16
        })?;
        loop {
            let resp = match ct.next().await {
                Some(ClientEvent::Response(r)) => r,
                Some(ClientEvent::Timeout) | None => return Err(408),
                Some(ClientEvent::TransportError) => return Err(503),
            };
            if resp.status.is_provisional() {
                continue;
            }
            let side = self.side_mut(leg).ok_or(481u16)?;
            side.dialog.on_response_received(&resp);
            if !resp.status.is_success() {
                return Err(resp.status.0);
            }
            let ack = side
                .dialog
                .ack(our_via(dest.kind, local))
                .map_err(|e| e.status().unwrap_or(500))?;
            driver.send_stateless(Message::Request(ack.clone()), dest);
            tokio::spawn(async move {
                while let Some(ev) = ct.next().await {
                    if matches!(&ev, ClientEvent::Response(r) if r.status.is_success()) {
                        driver.send_stateless(Message::Request(ack.clone()), dest);
                    }
                }
            });
            return Ok(resp);
        }
    }

    /// Another call's attended transfer names our dialog on `h.leg`: hand the party at
    /// the other end over to it, BYE the transferor and end. `Some` when this call ended.
    pub(super) async fn hand_over(&mut self, h: HandOverRequest) -> Option<CallEnd> {
        let leg = h.leg;
        let Some(side) = self.side_mut(leg) else {
            h.refuse(NO_DIALOG.0, NO_DIALOG.1);
            return None;
        };
        // RFC 3891 §3: a terminated dialog is declined, a confirmed one is not replaced
        // when only an early one may be.
        if side.dialog.state() == DialogState::Terminated {
            h.refuse(603, "Declined");
            return None;
        }
        if side.dialog.id().remote_tag.as_str() != h.from_tag {
            h.refuse(NO_DIALOG.0, NO_DIALOG.1);
            return None;
        }
        if h.early_only {
            h.refuse(486, "Busy Here");
            return None;
        }
        // RFC 3891 §6: Replaces must be authorised. The transferor is a party of both
        // calls; nobody else may take a call away.
        if self.leg_number(leg).as_deref() != Some(h.by_number.as_str()) {
            h.refuse(403, "Forbidden");
            return None;
        }
        if !self.pending.is_empty()
            || self.transferring_from(leg)
            || self.transferring_from(leg.other())
        {
            h.refuse(491, "Request Pending");
            return None;
        }
        let other = leg.other();
        let taken = match other {
            LegId::A => self.a.take(),
            LegId::B => self.b.take(),
        };
        let Some(side) = taken else {
            h.refuse(NO_DIALOG.0, NO_DIALOG.1);
            return None;
        };
        let key = dialog_key(&side.dialog);
        let number = self.leg_number(other).unwrap_or_default();
        self.ctx
            .calls
            .hand_over_dialog(&key, self.id, h.into_call, h.into_leg);
        let party = HandedOver {
            side,
            sdp: self.media.last_sdp(other),
            number,
            who: self.recorder.party(other == LegId::A).clone(),
            channel: self.channels.take(other),
        };
        if let Err(Ok(back)) = h.reply.send(Ok(party)) {
            // The transferring call stopped waiting: the party stays here.
            self.ctx
                .calls
                .hand_over_dialog(&key, h.into_call, self.id, other);
            self.channels.set(other, back.channel);
            match other {
                LegId::A => self.a = Some(back.side),
                LegId::B => self.b = Some(back.side),
            }
            return None;
        }
        // Our 2xx to the party that left is no longer ours to retransmit.
        self.forget_2xx(other);
        self.bye(leg).await;
        self.transfers.push(store::TransferStep {
            at: chrono::Utc::now(),
            kind: store::TransferKind::Attended,
            by: h.by_number,
            to: h.to_number,
        });
        tracing::info!(
            call = self.id,
            into = h.into_call,
            "party handed over (attended transfer)"
        );
        Some(self.answered_end("attended transfer"))
    }
}

/// A dialog's key in the registry: Call-ID and our tag.
fn dialog_key(d: &sip_core::dialog::Dialog) -> (String, String) {
    let id = d.id();
    (id.call_id.to_string(), id.local_tag.to_string())
}
