//! Call records: written when a call starts (so a crash leaves an open record that the
//! next start closes as interrupted), marked when answered, completed when it ends with
//! disposition, SIP cause, transfer chain and the relay's media figures per leg.
//!
//! A record that cannot be written never stops a call: the failure is logged and the
//! call goes on (a PBX that drops calls because its database hiccups is worse than a
//! missing record).
//!
//! # One writer, group commit, off the SIP path
//! Calls never wait for the database. [`CallRecorder`] hands each change (start, answer,
//! new caller or callee after a transfer, completion) to the [`RecordWriter`], one task that owns
//! every record write. From the first change it lets a batch gather for
//! [`GATHER_WINDOW`] (10 ms), folds the changes per call (a call that starts and ends
//! within one batch is a single INSERT of the whole record) and commits them in ONE
//! transaction, then takes the next batch. Under load, batches also hold everything that
//! arrived during the previous commit. The batch goes to the store's
//! [`CallRecordSink`]: on SQLite a connection and thread of the writer's own with its
//! statements prepared once, so a batch costs one hand-over to that thread rather than
//! one sqlx round trip per statement (issue 3); on PostgreSQL the pool.
//!
//! What a crash can lose: only the changes of the batch gathering or being committed when
//! the process died, i.e. the last [`GATHER_WINDOW`] plus one commit (milliseconds).
//! Everything older is committed; a record whose start was committed and whose end was
//! not is closed as `interrupted` at the next start, as before. A graceful stop flushes
//! the queue ([`RecordWriter::flush`], called by `PbxServer::shutdown`).
//!
//! If a batch fails as a whole, each change in it is retried alone, so one bad change
//! (say, a record that vanished) cannot take the others down with it.

use crate::context::PbxContext;
use crate::directory::Snapshot;
use crate::events::PbxEvent;
use billing::{CallDirection, CallDisposition};
use chrono::{DateTime, Utc};
use sip_core::rtp_relay::{LegStats, estimate_mos};
use std::collections::HashMap;
use std::sync::Arc;
use store::{
    CallCompletion, CallParty, CallRecordId, CallRecordSink, CallRecordWrite, CallRoute,
    CallWriteOutcome, Extension, LegQuality, NewCallRecord, Store, TransferStep,
};
use tokio::sync::{mpsc, oneshot};

/// Most queued changes folded into one transaction; a longer queue is written in several.
const MAX_CHANGES_PER_BATCH: usize = 1024;

/// How long the writer lets a batch gather after its first change: the bound on what a
/// crash can lose on top of the transaction being committed (see the module docs).
pub const GATHER_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

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

/// Who is at one end of a call, as far as the record's direction is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Party {
    /// One of our extensions.
    Extension(Extension),
    /// Someone outside, who came in or was reached over this route (direction and trunk
    /// of the call that brought them).
    External(CallRoute),
}

/// Direction and trunk of a call between `caller` and `callee`: what a call set up
/// between them would have been. Two extensions are an internal call whatever trunk the
/// call once used; an outside party keeps the route that brought it in (or out).
pub fn route_between(caller: &Party, callee: &Party) -> CallRoute {
    match (caller, callee) {
        (Party::Extension(a), Party::Extension(b)) => CallRoute {
            direction: internal_direction(a, b),
            trunk: None,
        },
        // Two outside parties bridged by a transfer: the call we placed out is the one
        // that costs, so its route wins over an inbound one.
        (Party::External(a), Party::External(b)) => {
            if b.direction == CallDirection::Inbound {
                a.clone()
            } else {
                b.clone()
            }
        }
        (Party::External(r), Party::Extension(_)) | (Party::Extension(_), Party::External(r)) => {
            r.clone()
        }
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
    /// The PBX's id of the call (events carry it; the record writer keys on it).
    pub call_id: u64,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    done: bool,
    /// Who is on each end now, and the route the record gives (kept in step by
    /// [`CallRecorder::set_caller`] and [`CallRecorder::set_callee`]).
    caller: Party,
    callee: Party,
    route: CallRoute,
}

impl CallRecorder {
    /// Queues the start of the record and publishes [`PbxEvent::CallStarted`].
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
        ctx.records.send(RecordChange::Start {
            call: call_id,
            record: new,
        });
        let route = CallRoute {
            direction: start.direction,
            trunk: start.trunk.clone(),
        };
        let party = |ext: &Option<Extension>| match ext {
            Some(e) => Party::Extension(e.clone()),
            None => Party::External(route.clone()),
        };
        let (caller, callee) = (
            party(&start.caller_extension),
            party(&start.callee_extension),
        );
        ctx.events.publish(PbxEvent::CallStarted {
            call_id,
            caller: start.caller_number.clone(),
            callee: start.callee_number.clone(),
        });
        CallRecorder {
            call_id,
            started_at,
            answered_at: None,
            done: false,
            caller,
            callee,
            route,
        }
    }

    /// Marks the answer time and publishes [`PbxEvent::CallAnswered`].
    pub async fn answered(&mut self, ctx: &PbxContext) {
        if self.answered_at.is_some() {
            return;
        }
        let now = Utc::now();
        self.answered_at = Some(now);
        ctx.records.send(RecordChange::Answer {
            call: self.call_id,
            at: now,
        });
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
        ctx.records.send(RecordChange::Complete {
            call: self.call_id,
            done,
        });
        ctx.events.publish(PbxEvent::CallEnded {
            call_id: self.call_id,
        });
    }

    /// The party now on the caller's end (`true`) or the callee's.
    pub fn party(&self, caller: bool) -> &Party {
        if caller { &self.caller } else { &self.callee }
    }

    /// A transfer connected the caller to someone else: the record's callee becomes
    /// `party` (the transfer chain, given at completion, keeps who it was before), and
    /// direction and trunk follow the parties that remain.
    pub fn set_callee(&mut self, ctx: &PbxContext, party: CallParty, who: Party) {
        ctx.records.send(RecordChange::Callee {
            call: self.call_id,
            party,
        });
        self.callee = who;
        self.reroute(ctx);
    }

    /// The caller transferred its call away: the record's caller becomes `party`, who
    /// remains in the call, and direction and trunk follow.
    pub fn set_caller(&mut self, ctx: &PbxContext, party: CallParty, who: Party) {
        ctx.records.send(RecordChange::Caller {
            call: self.call_id,
            party,
        });
        self.caller = who;
        self.reroute(ctx);
    }

    fn reroute(&mut self, ctx: &PbxContext) {
        let route = route_between(&self.caller, &self.callee);
        if route != self.route {
            self.route = route.clone();
            ctx.records.send(RecordChange::Route {
                call: self.call_id,
                route,
            });
        }
    }
}

/// One change to a call's record, keyed by the PBX's call id.
#[derive(Debug)]
enum RecordChange {
    Start {
        call: u64,
        record: NewCallRecord,
    },
    Answer {
        call: u64,
        at: DateTime<Utc>,
    },
    Caller {
        call: u64,
        party: CallParty,
    },
    Callee {
        call: u64,
        party: CallParty,
    },
    Route {
        call: u64,
        route: CallRoute,
    },
    Complete {
        call: u64,
        done: CallCompletion,
    },
    /// Answered once everything queued before it is committed (or failed).
    Flush(oneshot::Sender<()>),
}

/// The single writer of call records (see the module docs). Cheap to share; sending a
/// change never waits.
#[derive(Debug)]
pub struct RecordWriter {
    changes: mpsc::UnboundedSender<RecordChange>,
}

impl RecordWriter {
    /// Starts the writer task on `store`. It ends when the writer is dropped.
    pub fn spawn(store: Store) -> RecordWriter {
        let (changes, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_writer(store, rx));
        RecordWriter { changes }
    }

    fn send(&self, change: RecordChange) {
        if self.changes.send(change).is_err() {
            tracing::error!("call record writer has stopped; record change lost");
        }
    }

    /// Waits until every change queued before this call is committed (or has failed
    /// and been logged).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.changes.send(RecordChange::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// What one batch knows about one call, folded in arrival order.
#[derive(Debug)]
struct Pending {
    call: u64,
    start: Option<NewCallRecord>,
    caller: Option<CallParty>,
    callee: Option<CallParty>,
    route: Option<CallRoute>,
    answered_at: Option<DateTime<Utc>>,
    completion: Option<CallCompletion>,
}

async fn run_writer(store: Store, mut rx: mpsc::UnboundedReceiver<RecordChange>) {
    // On SQLite, a connection and thread of the writer's own with prepared statements:
    // one hand-over per batch instead of one sqlx round trip per statement.
    let sink = store.call_record_sink().await;
    // Records written and not yet completed, by call id.
    let mut open: HashMap<u64, CallRecordId> = HashMap::new();
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let flush_now = matches!(first, RecordChange::Flush(_));
        batch.push(first);
        if !flush_now {
            // Let the batch gather: a short call's start and end then fold into one
            // INSERT, and concurrent calls share one commit.
            tokio::time::sleep(GATHER_WINDOW).await;
        }
        while batch.len() < MAX_CHANGES_PER_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        write_batch(&sink, &mut open, &mut batch).await;
    }
}

async fn write_batch(
    sink: &CallRecordSink,
    open: &mut HashMap<u64, CallRecordId>,
    batch: &mut Vec<RecordChange>,
) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut flushes = Vec::new();
    for change in batch.drain(..) {
        let call = match change {
            RecordChange::Start { call, .. }
            | RecordChange::Answer { call, .. }
            | RecordChange::Caller { call, .. }
            | RecordChange::Callee { call, .. }
            | RecordChange::Route { call, .. }
            | RecordChange::Complete { call, .. } => call,
            RecordChange::Flush(done) => {
                flushes.push(done);
                continue;
            }
        };
        let i = *index.entry(call).or_insert_with(|| {
            pending.push(Pending {
                call,
                start: None,
                caller: None,
                callee: None,
                route: None,
                answered_at: None,
                completion: None,
            });
            pending.len() - 1
        });
        let p = &mut pending[i];
        match change {
            RecordChange::Start { record, .. } => p.start = Some(record),
            RecordChange::Answer { at, .. } => p.answered_at = Some(at),
            RecordChange::Caller { party, .. } => match &mut p.start {
                // Not written yet: the record starts with the new caller.
                Some(r) => {
                    r.caller_extension = party.extension;
                    r.caller_number = party.number;
                    r.caller_site = party.site;
                    r.caller_department = party.department;
                }
                None => p.caller = Some(party),
            },
            RecordChange::Callee { party, .. } => match &mut p.start {
                // Not written yet: the record starts with the new callee.
                Some(r) => {
                    r.callee_extension = party.extension;
                    r.callee_number = party.number;
                    r.callee_site = party.site;
                    r.callee_department = party.department;
                }
                None => p.callee = Some(party),
            },
            RecordChange::Route { route, .. } => match &mut p.start {
                // Not written yet: the record starts with the new route.
                Some(r) => {
                    r.direction = route.direction;
                    r.trunk = route.trunk;
                }
                None => p.route = Some(route),
            },
            RecordChange::Complete { done, .. } => p.completion = Some(done),
            RecordChange::Flush(_) => {}
        }
    }
    let mut calls = Vec::with_capacity(pending.len());
    let mut writes = Vec::with_capacity(pending.len());
    for p in pending {
        let write = match p.start {
            Some(record) => CallRecordWrite::Start {
                record,
                answered_at: p.answered_at,
                completion: p.completion,
            },
            None => match open.get(&p.call) {
                Some(&id) => CallRecordWrite::Update {
                    id,
                    caller: p.caller,
                    callee: p.callee,
                    route: p.route,
                    answered_at: p.answered_at,
                    completion: p.completion,
                },
                None => {
                    // Its start failed to write (logged then): nothing to update.
                    tracing::debug!(call = p.call, "no record to update");
                    continue;
                }
            },
        };
        calls.push(p.call);
        writes.push(write);
    }
    let writes: Arc<[CallRecordWrite]> = writes.into();
    match sink.write(writes.clone()).await {
        Ok(outcomes) => {
            for ((call, write), outcome) in calls.iter().zip(writes.iter()).zip(outcomes) {
                note_outcome(open, *call, write, Ok(outcome));
            }
        }
        Err(e) if writes.len() > 1 => {
            tracing::warn!(changes = writes.len(), error = %e, "call record batch failed; writing its changes one by one");
            for (call, write) in calls.iter().zip(writes.iter()) {
                match sink.write(Arc::from(std::slice::from_ref(write))).await {
                    Ok(outcomes) => {
                        for outcome in outcomes {
                            note_outcome(open, *call, write, Ok(outcome));
                        }
                    }
                    Err(e) => note_outcome(open, *call, write, Err(e)),
                }
            }
        }
        Err(e) => {
            if let (Some(call), Some(write)) = (calls.first(), writes.first()) {
                note_outcome(open, *call, write, Err(e));
            }
        }
    }
    for done in flushes {
        let _ = done.send(());
    }
}

/// Keeps the open-record map in step with what was written, and logs what was not.
fn note_outcome(
    open: &mut HashMap<u64, CallRecordId>,
    call: u64,
    write: &CallRecordWrite,
    outcome: Result<CallWriteOutcome, store::StoreError>,
) {
    let completes = match write {
        CallRecordWrite::Start { completion, .. } | CallRecordWrite::Update { completion, .. } => {
            completion.is_some()
        }
    };
    match outcome {
        Ok(CallWriteOutcome::Started(id)) => {
            if !completes {
                open.insert(call, id);
            }
        }
        Ok(CallWriteOutcome::Updated) => {
            if completes {
                open.remove(&call);
            }
        }
        Ok(CallWriteOutcome::NotOpen(id)) => {
            open.remove(&call);
            tracing::warn!(
                call,
                record = id.0,
                "call record is no longer open; change not recorded"
            );
        }
        Err(e) => {
            if completes {
                open.remove(&call);
            }
            tracing::error!(call, error = %e, "call record not written");
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use store::{ClassOfService, Credentials, ExtensionId, SiteId};

    fn ext(number: &str, site: i64) -> Party {
        Party::Extension(Extension {
            id: ExtensionId(site * 1000),
            number: number.into(),
            display_name: String::new(),
            site_id: SiteId(site),
            site: format!("site {site}"),
            department_id: None,
            department: None,
            class_of_service: ClassOfService::National,
            premium_allowed: false,
            credentials: Credentials::from_password(number, "sentral", "pw"),
            enabled: true,
        })
    }

    fn outside(direction: CallDirection, trunk: &str) -> Party {
        Party::External(CallRoute {
            direction,
            trunk: Some(trunk.into()),
        })
    }

    fn route(direction: CallDirection, trunk: Option<&str>) -> CallRoute {
        CallRoute {
            direction,
            trunk: trunk.map(Into::into),
        }
    }

    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_in(dir.path(), None).await.expect("store");
        (dir, store)
    }

    fn new_record(callee: &str) -> NewCallRecord {
        NewCallRecord {
            started_at: Utc::now(),
            direction: CallDirection::InternalSameSite,
            caller_extension: Some("1001".into()),
            caller_number: "1001".into(),
            caller_site: Some("site 1".into()),
            caller_department: None,
            callee_extension: Some(callee.into()),
            callee_number: callee.into(),
            callee_site: Some("site 1".into()),
            callee_department: None,
            trunk: None,
            synthetic: false,
        }
    }

    fn ended(answered_at: Option<DateTime<Utc>>) -> CallCompletion {
        CallCompletion {
            answered_at,
            ended_at: Utc::now(),
            talk_seconds: 0,
            disposition: if answered_at.is_some() {
                CallDisposition::Answered
            } else {
                CallDisposition::NoAnswer
            },
            sip_code: Some(200),
            sip_reason: None,
            transfer_chain: Vec::new(),
            caller_leg: None,
            callee_leg: None,
        }
    }

    /// Many calls in flight at once, each going open → answered → completed, some within
    /// one batch and some across batches: every change lands on its own record, in order.
    #[tokio::test]
    async fn many_calls_open_answer_and_complete_in_order() {
        let (_dir, store) = sqlite_store().await;
        let w = RecordWriter::spawn(store.clone());
        let n = 600u64;
        // Queued back to back: the writer takes them in batches of at most
        // MAX_CHANGES_PER_BATCH, so a call's start and answer may or may not share one.
        for call in 0..n {
            w.send(RecordChange::Start {
                call,
                record: new_record(&format!("{}", 2000 + call)),
            });
            if call % 3 != 0 {
                w.send(RecordChange::Answer {
                    call,
                    at: Utc::now(),
                });
            }
        }
        // Half complete in the same stream (folded where they share the batch)…
        for call in (0..n).filter(|c| c % 2 == 0) {
            let answered = (call % 3 != 0).then(Utc::now);
            w.send(RecordChange::Complete {
                call,
                done: ended(answered),
            });
        }
        w.flush().await;
        assert_eq!(
            store.open_call_records().await.expect("open").len(),
            300,
            "the odd calls are still open"
        );
        // …the other half after their start was committed (updates of open records),
        // with a new callee first.
        for call in (0..n).filter(|c| c % 2 == 1) {
            w.send(RecordChange::Callee {
                call,
                party: CallParty {
                    extension: Some("3999".into()),
                    number: "3999".into(),
                    site: Some("site 1".into()),
                    department: None,
                },
            });
            w.send(RecordChange::Complete {
                call,
                done: ended(None),
            });
        }
        w.flush().await;
        assert!(store.open_call_records().await.expect("open").is_empty());
        let all = store
            .call_records(&store::CallFilter::default())
            .await
            .expect("records");
        assert_eq!(all.len(), 600, "one record per call");
        for r in &all {
            let callee: u64 = r.callee_number.parse().expect("number");
            if callee == 3999 {
                assert_eq!(r.disposition, Some(CallDisposition::NoAnswer));
                continue;
            }
            let call = callee - 2000;
            assert_eq!(call % 2, 0, "{r:?}");
            assert_eq!(r.answered_at.is_some(), call % 3 != 0, "{r:?}");
            let want = if call % 3 != 0 {
                CallDisposition::Answered
            } else {
                CallDisposition::NoAnswer
            };
            assert_eq!(r.disposition, Some(want), "{r:?}");
        }
        assert_eq!(
            all.iter().filter(|r| r.callee_number == "3999").count(),
            300
        );
    }

    /// A batch the database refuses is written again change by change: the good records
    /// land, the bad one is logged, and its later changes find nothing to update.
    #[tokio::test]
    async fn a_failed_batch_is_retried_change_by_change() {
        let (dir, store) = sqlite_store().await;
        {
            use sqlx::Connection;
            let url = Store::default_url(dir.path());
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query(
                "CREATE TRIGGER refuse BEFORE INSERT ON call_records WHEN NEW.callee_number = 'refused' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .execute(&mut conn)
            .await
            .expect("trigger");
            conn.close().await.expect("close");
        }
        let w = RecordWriter::spawn(store.clone());
        for (call, callee) in [(1, "2001"), (2, "refused"), (3, "2003")] {
            w.send(RecordChange::Start {
                call,
                record: new_record(callee),
            });
        }
        w.flush().await;
        let open = store.open_call_records().await.expect("open");
        let mut callees: Vec<&str> = open.iter().map(|r| r.callee_number.as_str()).collect();
        callees.sort_unstable();
        assert_eq!(callees, ["2001", "2003"]);
        for call in 1..=3 {
            w.send(RecordChange::Complete {
                call,
                done: ended(None),
            });
        }
        w.flush().await;
        assert!(store.open_call_records().await.expect("open").is_empty());
        let all = store
            .call_records(&store::CallFilter::default())
            .await
            .expect("records");
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|r| r.ended_at.is_some()));
    }

    #[test]
    fn two_extensions_are_internal_by_site_whatever_trunk_the_call_used() {
        assert_eq!(
            route_between(&ext("1001", 1), &ext("1002", 1)),
            route(CallDirection::InternalSameSite, None)
        );
        assert_eq!(
            route_between(&ext("1001", 1), &ext("2001", 2)),
            route(CallDirection::InternalOtherSite, None)
        );
    }

    #[test]
    fn an_outside_party_keeps_the_route_that_brought_it_on_either_end() {
        let inbound = outside(CallDirection::Inbound, "telia");
        let out = outside(CallDirection::Outbound, "telenor");
        assert_eq!(
            route_between(&inbound, &ext("2001", 2)),
            route(CallDirection::Inbound, Some("telia"))
        );
        // Handed over onto the callee's end (attended transfer): still a call in.
        assert_eq!(
            route_between(&ext("1001", 1), &inbound),
            route(CallDirection::Inbound, Some("telia"))
        );
        assert_eq!(
            route_between(&ext("2001", 2), &out),
            route(CallDirection::Outbound, Some("telenor"))
        );
        // Two outside parties bridged: the call placed out is the one that costs.
        assert_eq!(
            route_between(&inbound, &out),
            route(CallDirection::Outbound, Some("telenor"))
        );
        assert_eq!(
            route_between(&out, &inbound),
            route(CallDirection::Outbound, Some("telenor"))
        );
    }
}
