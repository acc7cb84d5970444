//! The B2BUA: every call is two dialogs and a media bridge through the RTP relay.
//!
//! The caller's INVITE is authenticated (407, RFC 3261 §22.3), routed by the dial plan and
//! forked in parallel to every registered contact of the callee (§16.7 behaviour, done
//! by a UA: the B leg is our own dialog with our own Call-ID, tags and branches). The
//! first 2xx wins and the other forks are CANCELled; a late second 2xx is ACKed and
//! BYEd. 180/183 are relayed (with early-media SDP pointed at the relay), a ring timeout
//! gives the caller 480, busy everywhere 486. Once answered, re-INVITE/UPDATE (hold and
//! resume), INFO and other in-dialog requests are relayed with SDP rewritten; a BYE
//! from either side ends both. We ACK the callee's 2xx ourselves and retransmit our 2xx
//! to the caller until its ACK (§13.3.1.4: the transaction layer leaves that to the TU);
//! without it, once `calls.ack_timeout` runs out, both sides get a BYE and the record is a
//! failed call (the callee answered, the caller never confirmed). A device that took a
//! leg over with Replaces and never ACKs ends the call the same way.
//! A caller without SDP (late offer) gets the callee's offer and answers in its ACK.
//! Transfers: blind (REFER; to an extension, or out through a trunk as a call from the
//! transferor), attended (REFER with Replaces, resolved against our own calls and spliced
//! between two call tasks; an outside party takes its trunk channel along) and INVITE
//! with Replaces (another device of the same user takes a call over); see
//! `call/transfer.rs`, `call/attended.rs` and `call/replaces.rs`. Each records the
//! parties that remain, with direction and trunk recomputed between them.
//!
//! Each call runs as one task ([`call`]); this module is the registry that routes
//! in-dialog requests, ACKs and CANCELs to it.

mod call;
mod media;
mod services;
mod sip;
pub(crate) use services::challenge_inline;

use crate::config::PbxConfig;
use crate::context::PbxContext;
use crate::error::PbxError;
use crate::records::{CallEnd, CallRecorder, CallStart, internal_direction};
use billing::{CallDirection, CallDisposition};
use call::{CallEvent, CallHandle, CallSetup};
use chrono::{DateTime, Utc};
use services::{Caller, Destined};
use sip_core::driver::ServerRequest;
use sip_core::message::typed::Replaces;
use sip_core::message::{HeaderError, NameAddr, Request, Response, SipStr};
use sip_core::rtp_relay::LegId;
use sip_core::transaction::TxId;
use sip_core::transport::Flow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use store::Store;
use tokio::sync::mpsc;

/// A call in progress, for live views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCall {
    pub id: u64,
    pub caller: String,
    pub callee: String,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Entry {
    handle: CallHandle,
    info: ActiveCall,
    dialogs: Vec<(String, String)>,
    invite: TxId,
}

#[derive(Debug, Default)]
struct Registry {
    by_id: HashMap<u64, Entry>,
    /// (Call-ID, our tag) → call and leg. Our tags are random and unique, so the remote
    /// tag is not needed to tell calls apart (and forked early dialogs share our tag).
    by_dialog: HashMap<(String, String), (u64, LegId)>,
    /// The caller's INVITE server transaction → call, for CANCEL.
    by_invite: HashMap<TxId, u64>,
}

/// The calls in progress.
#[derive(Debug)]
pub struct Calls {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
}

impl Calls {
    pub async fn new(_config: &PbxConfig, _store: &Store) -> Result<Self, PbxError> {
        Ok(Calls {
            registry: Mutex::new(Registry::default()),
            // Ids only need to be unique within a run; starting from the clock keeps them
            // from repeating across restarts in logs and events.
            next_id: AtomicU64::new(Utc::now().timestamp_millis().max(1) as u64 * 1000),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Calls in progress (ringing or answered).
    pub fn active(&self) -> Vec<ActiveCall> {
        let mut v: Vec<ActiveCall> = self.lock().by_id.values().map(|e| e.info.clone()).collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// How many calls are in progress.
    pub fn count(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Ends call `id` (BYE to both sides, or 480 to a ringing caller). False when no such
    /// call is in progress.
    pub fn hang_up(&self, id: u64) -> bool {
        match self.lock().by_id.get(&id) {
            Some(e) => e.handle.events.send(CallEvent::Hangup).is_ok(),
            None => false,
        }
    }

    fn register(&self, entry: Entry) {
        let mut r = self.lock();
        let id = entry.info.id;
        for (i, key) in entry.dialogs.iter().enumerate() {
            let leg = if i == 0 { LegId::A } else { LegId::B };
            r.by_dialog.insert(key.clone(), (id, leg));
        }
        r.by_invite.insert(entry.invite, id);
        r.by_id.insert(id, entry);
    }

    pub(crate) fn unregister(&self, id: u64) {
        let mut r = self.lock();
        if let Some(e) = r.by_id.remove(&id) {
            for key in &e.dialogs {
                r.by_dialog.remove(key);
            }
            r.by_invite.remove(&e.invite);
        }
    }

    /// A transfer or a Replaces put a new dialog on leg `leg` of call `id`: the old
    /// dialog no longer reaches the call (a late BYE from the transferor gets 481,
    /// §12.2.2, instead of hanging up the new party) and the new one does. `party` is
    /// who is on `leg` now (the caller on A, the callee on B), if that changed.
    pub(crate) fn rebind(
        &self,
        id: u64,
        old: &(String, String),
        new: (String, String),
        leg: LegId,
        party: Option<String>,
    ) {
        let mut r = self.lock();
        r.by_dialog.remove(old);
        r.by_dialog.insert(new.clone(), (id, leg));
        if let Some(e) = r.by_id.get_mut(&id) {
            e.dialogs.retain(|d| d != old);
            if !e.dialogs.contains(&new) {
                e.dialogs.push(new);
            }
            if let Some(p) = party {
                match leg {
                    LegId::A => e.info.caller = p,
                    LegId::B => e.info.callee = p,
                }
            }
        }
    }

    /// The call and leg whose dialog has Call-ID `call_id` and our tag `local_tag` (a
    /// Replaces header names a dialog so, RFC 3891 §3).
    pub(crate) fn find_local_dialog(
        &self,
        call_id: &str,
        local_tag: &str,
    ) -> Option<(u64, CallHandle, LegId)> {
        let r = self.lock();
        let (id, leg) = r
            .by_dialog
            .get(&(call_id.to_string(), local_tag.to_string()))
            .copied()?;
        r.by_id.get(&id).map(|e| (id, e.handle.clone(), leg))
    }

    /// Dialog `key` moves from call `from` to leg `leg` of call `to` (attended transfer):
    /// its requests reach the new call from now on.
    pub(crate) fn hand_over_dialog(&self, key: &(String, String), from: u64, to: u64, leg: LegId) {
        let mut r = self.lock();
        if let Some(e) = r.by_id.get_mut(&from) {
            e.dialogs.retain(|d| d != key);
        }
        if let Some(e) = r.by_id.get_mut(&to) {
            if !e.dialogs.contains(key) {
                e.dialogs.push(key.clone());
            }
            r.by_dialog.insert(key.clone(), (to, leg));
        } else {
            r.by_dialog.remove(key);
        }
    }

    fn find_dialog(&self, req: &Request) -> Option<(CallHandle, LegId)> {
        let call_id = req.headers.call_id()?.to_string();
        let tag = req.headers.to()?.tag()?.to_string();
        let r = self.lock();
        let (id, leg) = r.by_dialog.get(&(call_id, tag)).copied()?;
        r.by_id.get(&id).map(|e| (e.handle.clone(), leg))
    }
}

/// A new INVITE (no To tag): authenticate, route, and run the call.
pub async fn handle_invite(ctx: Arc<PbxContext>, req: ServerRequest) {
    let snap = ctx.directory.snapshot();
    let a_tag = sip::token();
    let Some(dialled) = sip::uri_user(&req.request.uri) else {
        req.respond(sip::response_for(&req.request, 404, &a_tag));
        return;
    };
    let caller = match services::authenticate(&ctx, &req, &dialled, &snap) {
        Ok(c) => c,
        Err(resp) => {
            req.respond(resp);
            return;
        }
    };
    if let Some(replaces) = req.request.headers.replaces() {
        replace_dialog(&ctx, req, replaces, &caller, a_tag);
        return;
    }
    let from_user = req
        .request
        .headers
        .from()
        .and_then(|f| sip::uri_user(&f.uri));
    let caller_number = services::caller_number(&caller, from_user.as_deref());
    let caller_ext = services::caller_extension(&caller).map(|e| (**e).clone());
    let caller_trunk = match &caller {
        Caller::Trunk(t) => Some(t.name.clone()),
        _ => None,
    };
    let destined = services::route(&ctx, &caller, &dialled, &snap);
    let id = ctx.calls.next_id();
    let mut start = CallStart {
        direction: match &caller {
            Caller::Trunk(_) => CallDirection::Inbound,
            _ => CallDirection::Outbound,
        },
        caller_extension: caller_ext.clone(),
        caller_number: caller_number.clone(),
        callee_extension: None,
        callee_number: dialled.clone(),
        trunk: caller_trunk,
    };
    let (targets, channel) = match destined {
        Destined::Deny { status, reason } => {
            let mut rec = CallRecorder::start(&ctx, id, &start).await;
            let mut resp = sip::response_for(&req.request, status, &a_tag);
            if !reason.is_empty() {
                resp.reason = SipStr::from(reason.clone());
            }
            req.respond(resp);
            // 404/484 are numbers that do not exist; anything else is a policy refusal.
            let disposition = if matches!(status, 404 | 484) {
                CallDisposition::Failed
            } else {
                CallDisposition::RejectedByPolicy
            };
            rec.complete(&ctx, end(disposition, status, &reason)).await;
            return;
        }
        Destined::Extension(callee) => {
            start.direction = match &caller {
                Caller::Extension(e) => internal_direction(e, &callee),
                _ => CallDirection::Inbound,
            };
            start.callee_extension = Some((*callee).clone());
            start.callee_number = callee.number.clone();
            (services::contacts(&ctx, &callee.number), None)
        }
        Destined::Emergency { number } | Destined::Trunk { number, .. }
            if matches!(caller, Caller::Trunk(_)) =>
        {
            // Provider to provider would make Sentral a toll-free relay: refuse.
            let _ = number;
            let mut rec = CallRecorder::start(&ctx, id, &start).await;
            req.respond(sip::response_for(&req.request, 403, &a_tag));
            rec.complete(
                &ctx,
                end(CallDisposition::RejectedByPolicy, 403, "Forbidden"),
            )
            .await;
            return;
        }
        Destined::Emergency { number } => {
            start.direction = CallDirection::Emergency;
            start.callee_number = number.clone();
            match services::outbound(&ctx, &caller, None, &number, true, &snap).await {
                Ok((t, guard, trunk)) => {
                    start.trunk = Some(trunk.name.clone());
                    (vec![t], Some(guard))
                }
                Err(r) => {
                    refuse(&ctx, id, &start, &req, &a_tag, r.status, r.reason).await;
                    return;
                }
            }
        }
        Destined::Trunk { trunk, number } => {
            start.callee_number = number.clone();
            start.trunk = Some(trunk.name.clone());
            match services::outbound(&ctx, &caller, Some(trunk), &number, false, &snap).await {
                Ok((t, guard, _)) => (vec![t], Some(guard)),
                Err(r) => {
                    refuse(&ctx, id, &start, &req, &a_tag, r.status, r.reason).await;
                    return;
                }
            }
        }
    };
    let mut recorder = CallRecorder::start(&ctx, id, &start).await;
    if targets.is_empty() {
        req.respond(sip::response_for(&req.request, 480, &a_tag));
        recorder
            .complete(
                &ctx,
                end(CallDisposition::Failed, 480, "Temporarily Unavailable"),
            )
            .await;
        return;
    }
    let Some(driver) = ctx.driver() else {
        req.respond(sip::response_for(&req.request, 503, &a_tag));
        recorder
            .complete(
                &ctx,
                end(CallDisposition::Failed, 503, "Service Unavailable"),
            )
            .await;
        return;
    };
    let a_local = sip::local_addr(
        driver,
        &sip_core::transport::Destination::reply_to(&req.flow),
        Some(&req.flow),
    )
    .unwrap_or(req.flow.local);
    let media = match media::CallMedia::open(&ctx.relay, Some(a_local.ip())) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(call = id, error = %e, "no media session for the call");
            req.respond(sip::response_for(&req.request, 503, &a_tag));
            recorder
                .complete(
                    &ctx,
                    end(CallDisposition::Failed, 503, "Service Unavailable"),
                )
                .await;
            return;
        }
    };
    let host = a_local.ip().to_string();
    let mut b_from = NameAddr::new(sip::sip_uri(&caller_number, &host));
    let display = caller_ext
        .as_ref()
        .map(|e| e.display_name.clone())
        .filter(|d| !d.is_empty());
    if let Some(d) = display {
        b_from.display_name = Some(SipStr::from(quoted(&d)));
    }
    let b_to = NameAddr::new(sip::sip_uri(&start.callee_number, &host));
    let b_call_id = sip::token();
    let b_tag = sip::token();
    let a_call_id = req
        .request
        .headers
        .call_id()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let (events_tx, events) = mpsc::unbounded_channel();
    ctx.calls.register(Entry {
        handle: CallHandle {
            events: events_tx.clone(),
        },
        info: ActiveCall {
            id,
            caller: caller_number,
            callee: start.callee_number.clone(),
            started_at: recorder.started_at,
        },
        dialogs: vec![
            (a_call_id, a_tag.clone()),
            (b_call_id.clone(), b_tag.clone()),
        ],
        invite: req.tx,
    });
    let setup = CallSetup {
        id,
        a_req: req,
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
    };
    call::run(ctx, setup).await;
}

/// An INVITE with Replaces (RFC 3891 §3) from an authenticated phone: handed to the
/// call holding the named dialog, which answers it; 481 when there is none. It is not
/// routed by the dial plan: it joins an existing call and creates no record of its own
/// (that call's record names the new device's extension).
fn replace_dialog(
    ctx: &PbxContext,
    req: ServerRequest,
    replaces: Result<Replaces, HeaderError>,
    caller: &Caller,
    tag: String,
) {
    let respond = |req: ServerRequest, status: u16, reason: &str| {
        let mut resp = sip::response_for(&req.request, status, &tag);
        resp.reason = SipStr::from(reason.to_string());
        req.respond(resp);
    };
    let Ok(replaces) = replaces else {
        respond(req, 400, "Bad Replaces");
        return;
    };
    let Caller::Extension(ext) = caller else {
        // Only a local phone moves its own calls (RFC 3891 §6).
        respond(req, 403, "Forbidden");
        return;
    };
    let Some((_, handle, leg)) = ctx
        .calls
        .find_local_dialog(replaces.call_id.as_str(), replaces.to_tag.as_str())
    else {
        respond(req, 481, "Call/Transaction Does Not Exist");
        return;
    };
    let local = ctx
        .driver()
        .and_then(|d| {
            sip::local_addr(
                d,
                &sip_core::transport::Destination::reply_to(&req.flow),
                Some(&req.flow),
            )
        })
        .unwrap_or(req.flow.local);
    let request = call::ReplaceRequest {
        leg,
        from_tag: replaces.from_tag.to_string(),
        early_only: replaces.early_only,
        by_number: ext.number.clone(),
        req,
        tag: tag.clone(),
        local,
    };
    if let Err(mpsc::error::SendError(CallEvent::Replace(r))) =
        handle.events.send(CallEvent::Replace(Box::new(request)))
    {
        respond(r.req, 481, "Call/Transaction Does Not Exist");
    }
}

/// A call refused before any B leg: answer the caller and write a failed record.
async fn refuse(
    ctx: &PbxContext,
    id: u64,
    start: &CallStart,
    req: &ServerRequest,
    a_tag: &str,
    status: u16,
    reason: &str,
) {
    let mut rec = CallRecorder::start(ctx, id, start).await;
    let mut resp = sip::response_for(&req.request, status, a_tag);
    resp.reason = SipStr::from(reason.to_string());
    req.respond(resp);
    rec.complete(ctx, end(CallDisposition::Failed, status, reason))
        .await;
}

fn end(disposition: CallDisposition, code: u16, reason: &str) -> CallEnd {
    CallEnd {
        disposition,
        sip_code: Some(code),
        sip_reason: Some(reason.to_string()),
        transfer_chain: Vec::new(),
        caller_leg: None,
        callee_leg: None,
    }
}

/// A display name as a quoted-string (RFC 3261 §25.1: `"` and `\` escaped).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A request with a To tag: routed to its call, or 481 (§12.2.2).
pub async fn handle_in_dialog(ctx: Arc<PbxContext>, req: ServerRequest) {
    match ctx.calls.find_dialog(&req.request) {
        Some((handle, leg)) => {
            if let Err(mpsc::error::SendError(CallEvent::InDialog { req, .. })) =
                handle.events.send(CallEvent::InDialog { leg, req })
            {
                req.respond(Response::to_request(&req.request, 481));
            }
        }
        None => req.respond(Response::to_request(&req.request, 481)),
    }
}

/// The ACK for a 2xx we sent.
pub fn handle_ack(ctx: &PbxContext, ack: Request, _flow: Flow) {
    if let Some((handle, leg)) = ctx.calls.find_dialog(&ack) {
        let _ = handle.events.send(CallEvent::Ack { leg, ack });
    }
}

/// The caller CANCELled (the driver answered 200 and 487 already).
pub fn handle_cancel(ctx: &PbxContext, invite: TxId) {
    let handle = {
        let r = ctx.calls.lock();
        r.by_invite
            .get(&invite)
            .and_then(|id| r.by_id.get(id))
            .map(|e| e.handle.clone())
    };
    if let Some(h) = handle {
        let _ = h.events.send(CallEvent::CallerCancelled);
    }
}
