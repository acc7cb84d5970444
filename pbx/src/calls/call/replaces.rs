//! An INVITE with a Replaces header from a local phone (RFC 3891 §3): the new dialog
//! takes the place of the one it names, which gets a BYE. The user moves a call to
//! another of its devices (from the desk phone to the softphone) without the other
//! party noticing more than a re-INVITE: the new phone's offer goes to the party that
//! stays, whose answer comes back in our 200. The record's party on that side is then
//! the new device's extension as the directory has it now, and direction and trunk are
//! recomputed as after a transfer.
//!
//! RFC 3891 §3's outcomes: no such dialog, or one already ended, 481 (603 for a dialog
//! that is terminated but still known); a confirmed dialog with `early-only`, 486; the
//! caller's early dialog (not initiated by us) 481; the callee's early dialog (ours, i.e.
//! call pickup, which is not offered) 486. RFC 3891 §6 wants the replacement
//! authorised: only the extension on the named leg may replace it.

use super::{Call, Side};
use crate::calls::sip::{has_sdp, our_contact, response_for, set_contact, set_sdp_body};
use crate::records::{CallEnd, Party};
use sip_core::dialog::{Dialog, DialogState};
use sip_core::driver::ServerRequest;
use sip_core::message::{Header, HeaderName, Response, SipStr};
use sip_core::rtp_relay::LegId;
use sip_core::transport::Destination;
use std::net::SocketAddr;

/// An INVITE with Replaces naming this call's dialog on `leg`.
#[derive(Debug)]
pub(crate) struct ReplaceRequest {
    pub(crate) leg: LegId,
    /// Replaces' from-tag: must be our dialog's remote tag.
    pub(crate) from_tag: String,
    pub(crate) early_only: bool,
    /// The authenticated extension that sent the INVITE.
    pub(crate) by_number: String,
    pub(crate) req: ServerRequest,
    /// Our tag for the new dialog.
    pub(crate) tag: String,
    /// Our address towards the new phone (Contact).
    pub(crate) local: SocketAddr,
}

impl ReplaceRequest {
    /// Answers the INVITE with `status` (the named dialog stays as it was).
    pub(crate) fn refuse(self, status: u16, reason: &str) {
        let mut resp = response_for(&self.req.request, status, &self.tag);
        resp.reason = SipStr::from(reason.to_string());
        self.req.respond(resp);
    }

    /// The refusal for a call still ringing.
    pub(crate) fn refuse_early(self) {
        match self.leg {
            LegId::A => self.refuse(481, "Call/Transaction Does Not Exist"),
            LegId::B => self.refuse(486, "Busy Here"),
        }
    }
}

impl Call {
    /// The new phone replaces the dialog on `r.leg`. `Some` when the call ended.
    pub(super) async fn replace(&mut self, r: ReplaceRequest) -> Option<CallEnd> {
        let leg = r.leg;
        let Some(side) = self.side_mut(leg) else {
            r.refuse(481, "Call/Transaction Does Not Exist");
            return None;
        };
        if side.dialog.state() == DialogState::Terminated {
            r.refuse(603, "Declined");
            return None;
        }
        if side.dialog.id().remote_tag.as_str() != r.from_tag {
            r.refuse(481, "Call/Transaction Does Not Exist");
            return None;
        }
        if r.early_only {
            r.refuse(486, "Busy Here");
            return None;
        }
        if self.leg_number(leg).as_deref() != Some(r.by_number.as_str()) {
            r.refuse(403, "Forbidden");
            return None;
        }
        if !self.pending.is_empty()
            || self.transferring_from(leg)
            || self.transferring_from(leg.other())
        {
            r.refuse(491, "Request Pending");
            return None;
        }
        if !has_sdp(&r.req.request.headers, &r.req.request.body) {
            // Without an offer we would have to ask the other party for one first; the
            // phones that move calls send one.
            r.refuse(488, "Not Acceptable Here");
            return None;
        }
        let previous = self.media.last_sdp(leg);
        let Some(offer) = self.media.relay_sdp(leg, &r.req.request.body) else {
            r.refuse(488, "Not Acceptable Here");
            return None;
        };
        self.media.session.unlatch(leg);
        let other = leg.other();
        let answer = match self.reinvite(other, offer).await {
            Ok(answer) if has_sdp(&answer.headers, &answer.body) => {
                self.media.relay_sdp(other, &answer.body)
            }
            Ok(_) => None,
            Err(status) => {
                tracing::info!(
                    call = self.id,
                    status,
                    "replacing INVITE: the other party refused"
                );
                // The old phone keeps the call: point the relay back at it.
                if let Some(sdp) = previous {
                    let _ = self.media.relay_sdp(leg, &sdp);
                }
                r.refuse(status, "Replacement refused");
                if matches!(status, 408 | 481) {
                    return Some(self.hang_up_both("peer lost").await);
                }
                return None;
            }
        };
        let ReplaceRequest {
            req,
            tag,
            local,
            by_number,
            ..
        } = r;
        let mut ok = response_for(&req.request, 200, &tag);
        set_contact(&mut ok.headers, &our_contact(req.flow.kind, local));
        ok.headers.push(Header::Other(
            HeaderName::Allow,
            SipStr::from(crate::app::ALLOW),
        ));
        if let Some(sdp) = answer {
            set_sdp_body(&mut ok.headers, &mut ok.body, sdp);
        }
        let dialog = match Dialog::new_uas(&req.request, &ok) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(call = self.id, error = %e, "replacing dialog not created");
                req.respond(Response::to_request(&req.request, 400));
                return None;
            }
        };
        let cseq = req.request.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let tx = req.tx;
        let dest = Destination::reply_to(&req.flow);
        req.respond(ok.clone());
        // RFC 3891 §3: the replaced dialog ends with a BYE.
        self.bye(leg).await;
        let old_key = self.side_mut(leg).map(|s| {
            let id = s.dialog.id();
            (id.call_id.to_string(), id.local_tag.to_string())
        });
        let new_key = {
            let id = dialog.id();
            (id.call_id.to_string(), id.local_tag.to_string())
        };
        let side = Side {
            dialog,
            dest,
            local,
        };
        match leg {
            LegId::A => self.a = Some(side),
            LegId::B => self.b = Some(side),
        }
        if let Some(old) = old_key {
            self.ctx
                .calls
                .rebind(self.id, &old, new_key, leg, Some(by_number.clone()));
        }
        // The record names the device's extension as the directory has it now (a user
        // who moved to a desk at another site takes the call there): its site and
        // department, and the direction and trunk between the parties that remain.
        if let Some(ext) = self.ctx.directory.snapshot().extension(&by_number).cloned() {
            self.party_changed(leg, &by_number, Party::Extension((*ext).clone()))
                .await;
        }
        // Our 2xx answers on the replaced dialog are no longer ours to retransmit; the new
        // dialog's answer is, and without its ACK the call ends like an unconfirmed call.
        self.forget_2xx(leg);
        self.retransmit_2xx(leg, tx, cseq, ok);
        self.dialog_acks
            .insert((leg, cseq), super::AwaitedAck::Replacement);
        tracing::info!(call = self.id, ?leg, "dialog replaced (RFC 3891)");
        None
    }
}
