//! Call records: written when a call starts (so a crash leaves an open record that the
//! next start closes as interrupted), marked when answered, completed when it ends with
//! disposition, SIP cause, transfer chain and the relay's media figures per leg.
//!
//! A record that cannot be written never stops a call: the failure is logged and the
//! call goes on (a PBX that drops calls because its database hiccups is worse than a
//! missing record).

use crate::context::PbxContext;
use crate::directory::Snapshot;
use crate::events::PbxEvent;
use billing::{CallDirection, CallDisposition};
use chrono::{DateTime, Utc};
use sip_core::rtp_relay::{LegStats, estimate_mos};
use store::{CallCompletion, CallRecordId, Extension, LegQuality, NewCallRecord, TransferStep};

/// Everything known about a call when it starts.
#[derive(Debug, Clone)]
pub struct CallStart {
    pub direction: CallDirection,
    pub caller_extension: Option<Extension>,
    pub caller_number: String,
    pub callee_extension: Option<Extension>,
    pub callee_number: String,
    pub trunk: Option<String>,
}

/// The direction of a call between two extensions: same site or not.
pub fn internal_direction(caller: &Extension, callee: &Extension) -> CallDirection {
    if caller.site_id == callee.site_id {
        CallDirection::InternalSameSite
    } else {
        CallDirection::InternalOtherSite
    }
}

/// How a call ended, as the B2BUA saw it.
#[derive(Debug, Clone)]
pub struct CallEnd {
    pub disposition: CallDisposition,
    pub sip_code: Option<u16>,
    pub sip_reason: Option<String>,
    pub transfer_chain: Vec<TransferStep>,
    pub caller_leg: Option<LegStats>,
    pub callee_leg: Option<LegStats>,
}

/// One call's record, as the B2BUA holds it while the call runs.
#[derive(Debug)]
pub struct CallRecorder {
    /// The PBX's id of the call (events carry it).
    pub call_id: u64,
    /// `None` when the start could not be written.
    pub record: Option<CallRecordId>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    done: bool,
}

impl CallRecorder {
    /// Writes the start of the record and publishes [`PbxEvent::CallStarted`].
    pub async fn start(ctx: &PbxContext, call_id: u64, start: &CallStart) -> CallRecorder {
        let snap = ctx.directory.snapshot();
        let started_at = Utc::now();
        let (caller_site, caller_department) =
            site_and_department(&snap, start.caller_extension.as_ref());
        let (callee_site, callee_department) =
            site_and_department(&snap, start.callee_extension.as_ref());
        let new = NewCallRecord {
            started_at,
            direction: start.direction,
            caller_extension: start.caller_extension.as_ref().map(|e| e.number.clone()),
            caller_number: start.caller_number.clone(),
            caller_site,
            caller_department,
            callee_extension: start.callee_extension.as_ref().map(|e| e.number.clone()),
            callee_number: start.callee_number.clone(),
            callee_site,
            callee_department,
            trunk: start.trunk.clone(),
            synthetic: false,
        };
        let record = match ctx.store.start_call(&new).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(call = call_id, error = %e, "call record not written");
                None
            }
        };
        ctx.events.publish(PbxEvent::CallStarted {
            call_id,
            caller: start.caller_number.clone(),
            callee: start.callee_number.clone(),
        });
        CallRecorder {
            call_id,
            record,
            started_at,
            answered_at: None,
            done: false,
        }
    }

    /// Marks the answer time and publishes [`PbxEvent::CallAnswered`].
    pub async fn answered(&mut self, ctx: &PbxContext) {
        if self.answered_at.is_some() {
            return;
        }
        let now = Utc::now();
        self.answered_at = Some(now);
        if let Some(id) = self.record
            && let Err(e) = ctx.store.answer_call(id, now).await
        {
            tracing::error!(call = self.call_id, error = %e, "answer time not recorded");
        }
        ctx.events.publish(PbxEvent::CallAnswered {
            call_id: self.call_id,
        });
    }

    /// Completes the record (once) and publishes [`PbxEvent::CallEnded`].
    pub async fn complete(&mut self, ctx: &PbxContext, end: CallEnd) {
        if self.done {
            return;
        }
        self.done = true;
        let ended_at = Utc::now();
        // Talk time belongs to calls that were talked on: a callee that answered a caller
        // who never confirmed (no ACK) gives a failed call with its answer time but no talk.
        let talk_seconds = match self.answered_at {
            Some(a) if end.disposition == CallDisposition::Answered => {
                (ended_at - a).num_seconds().clamp(0, i64::from(u32::MAX)) as u32
            }
            _ => 0,
        };
        let done = CallCompletion {
            answered_at: self.answered_at,
            ended_at,
            talk_seconds,
            disposition: end.disposition,
            sip_code: end.sip_code,
            sip_reason: end.sip_reason,
            transfer_chain: end.transfer_chain,
            caller_leg: end.caller_leg.as_ref().map(quality),
            callee_leg: end.callee_leg.as_ref().map(quality),
        };
        if let Some(id) = self.record
            && let Err(e) = ctx.store.complete_call(id, &done).await
        {
            tracing::error!(call = self.call_id, error = %e, "call record not completed");
        }
        ctx.events.publish(PbxEvent::CallEnded {
            call_id: self.call_id,
        });
    }
}

fn site_and_department(
    snap: &Snapshot,
    ext: Option<&Extension>,
) -> (Option<String>, Option<String>) {
    match ext {
        // The snapshot is the current view; the extension passed in may be older.
        Some(e) => match snap.extension(&e.number) {
            Some(now) => (Some(now.site.clone()), now.department.clone()),
            None => (Some(e.site.clone()), e.department.clone()),
        },
        None => (None, None),
    }
}

/// What the relay measured about the media received from one leg's phone.
pub fn quality(leg: &LegStats) -> LegQuality {
    let rtp = &leg.rtp;
    LegQuality {
        packets: rtp.packets,
        lost: rtp.lost.max(0) as u64,
        jitter_ms: rtp.jitter_ms,
        mos: estimate_mos(rtp.loss_fraction, rtp.jitter_ms),
    }
}
