//! Call records: written when a call starts, completed when it ends, so a crash loses
//! nothing; records left open by a crash are closed as `interrupted` at the next start.
//! Also the bulk path for the synthetic traffic generator and the streaming read that the
//! savings report runs over a whole year without holding it in memory.

use billing::{CallDirection, CallDisposition, CallRecord};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use rust_decimal::Decimal;
use sqlx::QueryBuilder;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, StoreError};
use crate::ids::*;
use crate::model::*;
use crate::{Store, dispatch};

// Private to the call records; declared here rather than in lib.rs because only the
// stream below uses it.
#[path = "sqlite_fast.rs"]
mod sqlite_fast;
// The record writer's own SQLite connection and thread (see `CallRecordSink`).
#[path = "sqlite_writes.rs"]
mod sqlite_writes;

/// Which call records to list. `from`/`to` bound `started_at` as `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// At most this many, newest first when set; oldest first otherwise.
    pub limit: Option<u32>,
}

pub(crate) fn parse_direction(s: &str) -> Result<CallDirection> {
    Ok(match s {
        "internal_same_site" => CallDirection::InternalSameSite,
        "internal_other_site" => CallDirection::InternalOtherSite,
        "outbound" => CallDirection::Outbound,
        "inbound" => CallDirection::Inbound,
        "emergency" => CallDirection::Emergency,
        other => return Err(StoreError::corrupt("call_records", "direction", other)),
    })
}

pub(crate) fn parse_disposition(s: &str) -> Result<CallDisposition> {
    Ok(match s {
        "answered" => CallDisposition::Answered,
        "busy" => CallDisposition::Busy,
        "no_answer" => CallDisposition::NoAnswer,
        "cancelled" => CallDisposition::Cancelled,
        "failed" => CallDisposition::Failed,
        "rejected_by_policy" => CallDisposition::RejectedByPolicy,
        "interrupted" => CallDisposition::Interrupted,
        other => return Err(StoreError::corrupt("call_records", "disposition", other)),
    })
}

fn parse_money(column: &'static str, s: Option<String>) -> Result<Option<Decimal>> {
    s.map(|s| {
        s.parse::<Decimal>()
            .map_err(|e| StoreError::corrupt("call_records", column, format!("{s:?}: {e}")))
    })
    .transpose()
}

fn talk(column: &'static str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|e| StoreError::corrupt("call_records", column, e))
}

/// The columns billing reads.
#[derive(sqlx::FromRow)]
struct BillingRow {
    id: i64,
    started_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: DateTime<Utc>,
    talk_seconds: i64,
    direction: String,
    disposition: String,
    caller_extension: Option<String>,
    caller_number: String,
    caller_site: Option<String>,
    caller_department: Option<String>,
    callee_extension: Option<String>,
    callee_number: String,
    callee_site: Option<String>,
    callee_department: Option<String>,
    trunk: Option<String>,
    synthetic: bool,
}

impl TryFrom<BillingRow> for CallRecord {
    type Error = StoreError;
    fn try_from(r: BillingRow) -> Result<CallRecord> {
        Ok(CallRecord {
            id: r.id,
            started_at: r.started_at,
            answered_at: r.answered_at,
            ended_at: r.ended_at,
            talk_seconds: talk("talk_seconds", r.talk_seconds)?,
            direction: parse_direction(&r.direction)?,
            disposition: parse_disposition(&r.disposition)?,
            caller_extension: r.caller_extension,
            caller_number: r.caller_number,
            caller_site: r.caller_site,
            caller_department: r.caller_department,
            callee_extension: r.callee_extension,
            callee_number: r.callee_number,
            callee_site: r.callee_site,
            callee_department: r.callee_department,
            trunk: r.trunk,
            synthetic: r.synthetic,
        })
    }
}

const BILLING_COLUMNS: &str = "id, started_at, answered_at, ended_at, talk_seconds, direction, disposition, \
     caller_extension, caller_number, caller_site, caller_department, callee_extension, callee_number, \
     callee_site, callee_department, trunk, synthetic";

#[derive(sqlx::FromRow)]
pub(crate) struct FullRow {
    id: i64,
    started_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    talk_seconds: i64,
    direction: String,
    disposition: Option<String>,
    caller_extension: Option<String>,
    caller_number: String,
    caller_site: Option<String>,
    caller_department: Option<String>,
    callee_extension: Option<String>,
    callee_number: String,
    callee_site: Option<String>,
    callee_department: Option<String>,
    trunk: Option<String>,
    sip_code: Option<i64>,
    sip_reason: Option<String>,
    transfer_chain: String,
    caller_packets: Option<i64>,
    caller_lost: Option<i64>,
    caller_jitter_ms: Option<f64>,
    caller_mos: Option<f64>,
    callee_packets: Option<i64>,
    callee_lost: Option<i64>,
    callee_jitter_ms: Option<f64>,
    callee_mos: Option<f64>,
    synthetic: bool,
    cost_new: Option<String>,
    cost_old: Option<String>,
    tariff_version: Option<String>,
    rated_at: Option<DateTime<Utc>>,
}

fn leg(
    column: &'static str,
    packets: Option<i64>,
    lost: Option<i64>,
    jitter_ms: Option<f64>,
    mos: Option<f64>,
) -> Result<Option<LegQuality>> {
    match (packets, lost, jitter_ms, mos) {
        (Some(p), Some(l), Some(j), Some(m)) => Ok(Some(LegQuality {
            packets: u64::try_from(p)
                .map_err(|e| StoreError::corrupt("call_records", column, e))?,
            lost: u64::try_from(l).map_err(|e| StoreError::corrupt("call_records", column, e))?,
            jitter_ms: j,
            mos: m,
        })),
        _ => Ok(None),
    }
}

impl TryFrom<FullRow> for StoredCallRecord {
    type Error = StoreError;
    fn try_from(r: FullRow) -> Result<StoredCallRecord> {
        Ok(StoredCallRecord {
            id: CallRecordId(r.id),
            started_at: r.started_at,
            answered_at: r.answered_at,
            ended_at: r.ended_at,
            talk_seconds: talk("talk_seconds", r.talk_seconds)?,
            direction: parse_direction(&r.direction)?,
            disposition: r
                .disposition
                .as_deref()
                .map(parse_disposition)
                .transpose()?,
            caller_extension: r.caller_extension,
            caller_number: r.caller_number,
            caller_site: r.caller_site,
            caller_department: r.caller_department,
            callee_extension: r.callee_extension,
            callee_number: r.callee_number,
            callee_site: r.callee_site,
            callee_department: r.callee_department,
            trunk: r.trunk,
            sip_code: r
                .sip_code
                .map(u16::try_from)
                .transpose()
                .map_err(|e| StoreError::corrupt("call_records", "sip_code", e))?,
            sip_reason: r.sip_reason,
            transfer_chain: serde_json::from_str(&r.transfer_chain)
                .map_err(|e| StoreError::corrupt("call_records", "transfer_chain", e))?,
            caller_leg: leg(
                "caller_packets",
                r.caller_packets,
                r.caller_lost,
                r.caller_jitter_ms,
                r.caller_mos,
            )?,
            callee_leg: leg(
                "callee_packets",
                r.callee_packets,
                r.callee_lost,
                r.callee_jitter_ms,
                r.callee_mos,
            )?,
            synthetic: r.synthetic,
            cost_new: parse_money("cost_new", r.cost_new)?,
            cost_old: parse_money("cost_old", r.cost_old)?,
            tariff_version: r.tariff_version,
            rated_at: r.rated_at,
        })
    }
}

/// Money is read as text on both backends so SQLite's decimal strings and PostgreSQL's
/// NUMERIC come back through one exact path.
pub(crate) const FULL_COLUMNS: &str = "id, started_at, answered_at, ended_at, talk_seconds, direction, disposition, \
     caller_extension, caller_number, caller_site, caller_department, callee_extension, callee_number, \
     callee_site, callee_department, trunk, sip_code, sip_reason, transfer_chain, caller_packets, caller_lost, \
     caller_jitter_ms, caller_mos, callee_packets, callee_lost, callee_jitter_ms, callee_mos, synthetic, \
     CAST(cost_new AS TEXT) AS cost_new, CAST(cost_old AS TEXT) AS cost_old, tariff_version, rated_at";

/// Rows per multi-row INSERT: 16 columns × 500 = 8 000 parameters, under SQLite's 32 766
/// and PostgreSQL's 65 535.
const BULK_ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction: large enough that commits (an fsync each) are rare, small enough
/// that a running server is not locked out of SQLite for long.
const BULK_ROWS_PER_TRANSACTION: usize = 20_000;

/// One change in a [`Store::write_call_records`] batch. The B2BUA's record writer folds
/// everything it learned about a call since its last batch into one of these, so a short
/// call that starts and ends within one batch is a single INSERT.
#[derive(Clone, Debug, PartialEq)]
pub enum CallRecordWrite {
    /// A new record: open (as [`Store::start_call`]) unless `completion` is given, noting
    /// the answer time if known.
    Start {
        record: NewCallRecord,
        answered_at: Option<DateTime<Utc>>,
        completion: Option<CallCompletion>,
    },
    /// Changes to an open record, applied in this order: the calling and the called
    /// party ([`Store::set_call_caller`], [`Store::set_call_callee`]), direction and trunk
    /// ([`Store::set_call_route`]), the answer time ([`Store::answer_call`]), completion
    /// ([`Store::complete_call`]).
    Update {
        id: CallRecordId,
        caller: Option<CallParty>,
        callee: Option<CallParty>,
        route: Option<CallRoute>,
        answered_at: Option<DateTime<Utc>>,
        completion: Option<CallCompletion>,
    },
}

/// What one [`CallRecordWrite`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallWriteOutcome {
    /// The record was written with this id.
    Started(CallRecordId),
    /// The open record was changed.
    Updated,
    /// No open record has this id (unknown, or completed already): nothing changed.
    NotOpen(CallRecordId),
}

/// Where the running switchboard's record writer sends its batches: on SQLite a
/// connection and thread of its own with every statement prepared once (a batch is one
/// hand-over to that thread instead of one sqlx round trip per statement; see
/// `sqlite_writes`), on PostgreSQL the pool, as [`Store::write_call_records`]. Either way
/// a batch is one transaction with the same outcomes as [`Store::write_call_records`].
/// Made by [`Store::call_record_sink`]; dropping it ends the SQLite thread.
#[derive(Debug)]
pub struct CallRecordSink {
    inner: Sink,
}

#[derive(Debug)]
enum Sink {
    Pool(Store),
    Sqlite {
        writer: sqlite_writes::Writer,
        /// The pool path, taken for good once the writer thread has stopped (it can only
        /// by a bug): records keep landing, more slowly, instead of every later batch
        /// failing.
        fallback: Store,
        stopped: AtomicBool,
    },
}

impl CallRecordSink {
    /// Writes `writes` in one transaction and returns one outcome per write, in order;
    /// as [`Store::write_call_records`].
    pub async fn write(&self, writes: Arc<[CallRecordWrite]>) -> Result<Vec<CallWriteOutcome>> {
        match &self.inner {
            Sink::Pool(store) => store.write_call_records(&writes).await,
            Sink::Sqlite {
                writer,
                fallback,
                stopped,
            } => {
                if !stopped.load(Ordering::Relaxed) {
                    match writer.write(writes.clone()).await {
                        Ok(outcome) => return outcome,
                        Err(sqlite_writes::WriterGone) => {
                            stopped.store(true, Ordering::Relaxed);
                            tracing::error!(
                                "call record writer thread has stopped; writing through the pool from now on"
                            );
                        }
                    }
                }
                fallback.write_call_records(&writes).await
            }
        }
    }

    /// Whether batches go to a SQLite writer thread of their own (else through the pool).
    pub fn is_dedicated(&self) -> bool {
        matches!(&self.inner, Sink::Sqlite { stopped, .. } if !stopped.load(Ordering::Relaxed))
    }
}

/// The completion columns, bound the same way by every statement that completes a record.
struct CompletionBinds {
    chain: String,
    caller: LegBinds,
    callee: LegBinds,
}

type LegBinds = (Option<i64>, Option<i64>, Option<f64>, Option<f64>);

impl CompletionBinds {
    fn new(done: &CallCompletion) -> Result<CompletionBinds> {
        let chain = serde_json::to_string(&done.transfer_chain)
            .map_err(|e| StoreError::invalid("transfer chain", e))?;
        let leg = |l: &Option<LegQuality>| match l {
            Some(q) => (
                Some(i64::try_from(q.packets).unwrap_or(i64::MAX)),
                Some(i64::try_from(q.lost).unwrap_or(i64::MAX)),
                Some(q.jitter_ms),
                Some(q.mos),
            ),
            None => (None, None, None, None),
        };
        Ok(CompletionBinds {
            chain,
            caller: leg(&done.caller_leg),
            callee: leg(&done.callee_leg),
        })
    }
}

const COMPLETE_SQL: &str = "UPDATE call_records SET answered_at = $2, ended_at = $3, talk_seconds = $4, disposition = $5, \
     sip_code = $6, sip_reason = $7, transfer_chain = $8, caller_packets = $9, caller_lost = $10, \
     caller_jitter_ms = $11, caller_mos = $12, callee_packets = $13, callee_lost = $14, \
     callee_jitter_ms = $15, callee_mos = $16 WHERE id = $1 AND ended_at IS NULL";

/// A whole record in one statement: the start columns, then the completion columns
/// (NULL, 0 and `[]` while the call is open, as the table's defaults).
const INSERT_FULL_SQL: &str = "INSERT INTO call_records (caller_extension, caller_number, caller_site, \
     caller_department, callee_extension, callee_number, callee_site, callee_department, direction, trunk, \
     started_at, synthetic, answered_at, ended_at, talk_seconds, disposition, sip_code, sip_reason, \
     transfer_chain, caller_packets, caller_lost, caller_jitter_ms, caller_mos, callee_packets, callee_lost, \
     callee_jitter_ms, callee_mos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
     $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) RETURNING id";

const SET_CALLEE_SQL: &str = "UPDATE call_records SET callee_extension = $2, callee_number = $3, callee_site = $4, \
     callee_department = $5 WHERE id = $1 AND ended_at IS NULL";

const SET_CALLER_SQL: &str = "UPDATE call_records SET caller_extension = $2, caller_number = $3, caller_site = $4, \
     caller_department = $5 WHERE id = $1 AND ended_at IS NULL";

const SET_ROUTE_SQL: &str =
    "UPDATE call_records SET direction = $2, trunk = $3 WHERE id = $1 AND ended_at IS NULL";

const ANSWER_SQL: &str =
    "UPDATE call_records SET answered_at = $2 WHERE id = $1 AND ended_at IS NULL";

/// Binds `$2…$16` of [`COMPLETE_SQL`] (after the id) from a completion and its
/// [`CompletionBinds`]; a macro so one text serves both backends' query types.
macro_rules! bind_completion {
    ($q:expr, $done:expr, $b:expr) => {
        $q.bind($done.answered_at)
            .bind($done.ended_at)
            .bind(i64::from($done.talk_seconds))
            .bind($done.disposition.as_str())
            .bind($done.sip_code.map(i64::from))
            .bind(&$done.sip_reason)
            .bind(&$b.chain)
            .bind($b.caller.0)
            .bind($b.caller.1)
            .bind($b.caller.2)
            .bind($b.caller.3)
            .bind($b.callee.0)
            .bind($b.callee.1)
            .bind($b.callee.2)
            .bind($b.callee.3)
    };
}

/// Binds `$2…$5` of [`SET_CALLER_SQL`] / [`SET_CALLEE_SQL`] (after the id).
macro_rules! bind_party {
    ($q:expr, $party:expr) => {
        $q.bind(&$party.extension)
            .bind(&$party.number)
            .bind(&$party.site)
            .bind(&$party.department)
    };
}

impl Store {
    /// The record writer's path for its batches (see [`CallRecordSink`]). On SQLite this
    /// takes a connection out of the pool for the sink's life; if that fails, the failure
    /// is logged and the sink writes through the pool instead (slower, same result).
    pub async fn call_record_sink(&self) -> CallRecordSink {
        let inner = match &self.backend {
            crate::Backend::Sqlite(pool) => match sqlite_writes::Writer::start(pool).await {
                Ok(writer) => Sink::Sqlite {
                    writer,
                    fallback: self.clone(),
                    stopped: AtomicBool::new(false),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "call record writer: no connection of its own; writing through the pool");
                    Sink::Pool(self.clone())
                }
            },
            crate::Backend::Postgres(_) => Sink::Pool(self.clone()),
        };
        CallRecordSink { inner }
    }

    /// Writes the record of a call that has just started; it stays open (`ended_at`
    /// NULL) until [`Store::complete_call`].
    pub async fn start_call(&self, call: &NewCallRecord) -> Result<CallRecordId> {
        let start = CallRecordWrite::Start {
            record: call.clone(),
            answered_at: None,
            completion: None,
        };
        match self
            .write_call_records(std::slice::from_ref(&start))
            .await?[..]
        {
            [CallWriteOutcome::Started(id)] => Ok(id),
            _ => Err(StoreError::invalid(
                "call record",
                "the insert returned no id",
            )),
        }
    }

    /// Notes the answer time of an open call.
    pub async fn answer_call(&self, id: CallRecordId, answered_at: DateTime<Utc>) -> Result<()> {
        self.update_open_call(id, None, None, None, Some(answered_at), None)
            .await
    }

    /// Changes the calling party of an open record (the caller transferred the call away:
    /// the record names the parties that remain; the transfer chain keeps the history).
    pub async fn set_call_caller(&self, id: CallRecordId, caller: &CallParty) -> Result<()> {
        self.update_open_call(id, Some(caller.clone()), None, None, None, None)
            .await
    }

    /// Changes the called party of an open record (a transfer connected the caller to
    /// someone else; the transfer chain, given at completion, keeps the history).
    pub async fn set_call_callee(&self, id: CallRecordId, callee: &CallParty) -> Result<()> {
        self.update_open_call(id, None, Some(callee.clone()), None, None, None)
            .await
    }

    /// Changes the direction and trunk of an open record (a transfer changed who remains
    /// in the call, and so how the call reaches them).
    pub async fn set_call_route(&self, id: CallRecordId, route: &CallRoute) -> Result<()> {
        self.update_open_call(id, None, None, Some(route.clone()), None, None)
            .await
    }

    /// Completes an open call record. `NotFound` when no open record has this id (unknown,
    /// or completed already).
    pub async fn complete_call(&self, id: CallRecordId, done: &CallCompletion) -> Result<()> {
        self.update_open_call(id, None, None, None, None, Some(done.clone()))
            .await
    }

    /// One [`CallRecordWrite::Update`] through the batch path (the PBX's record writer
    /// uses the same statements), `NotFound` when no open record has this id.
    async fn update_open_call(
        &self,
        id: CallRecordId,
        caller: Option<CallParty>,
        callee: Option<CallParty>,
        route: Option<CallRoute>,
        answered_at: Option<DateTime<Utc>>,
        completion: Option<CallCompletion>,
    ) -> Result<()> {
        let update = CallRecordWrite::Update {
            id,
            caller,
            callee,
            route,
            answered_at,
            completion,
        };
        match self
            .write_call_records(std::slice::from_ref(&update))
            .await?[..]
        {
            [CallWriteOutcome::Updated] => Ok(()),
            _ => Err(StoreError::not_found("open call record", id)),
        }
    }

    /// Applies `writes` in ONE transaction (the record writer's group commit: every
    /// change that queued up while the previous batch was written commits together).
    /// Returns one outcome per write, in order. An update of a record that is not open is
    /// reported as [`CallWriteOutcome::NotOpen`] and does not fail the batch; any database
    /// error does, and then nothing is written. The running switchboard writes through a
    /// [`CallRecordSink`] instead: the same batches and outcomes, cheaper on SQLite.
    pub async fn write_call_records(
        &self,
        writes: &[CallRecordWrite],
    ) -> Result<Vec<CallWriteOutcome>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut binds = Vec::with_capacity(writes.len());
        for w in writes {
            let done = match w {
                CallRecordWrite::Start { completion, .. }
                | CallRecordWrite::Update { completion, .. } => completion.as_ref(),
            };
            binds.push(done.map(CompletionBinds::new).transpose()?);
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let mut outcomes = Vec::with_capacity(writes.len());
            for (w, b) in writes.iter().zip(&binds) {
                let outcome = match w {
                    CallRecordWrite::Start {
                        record: r,
                        answered_at,
                        completion,
                    } => {
                        let answered_at = completion
                            .as_ref()
                            .map_or(*answered_at, |c| c.answered_at.or(*answered_at));
                        let q = sqlx::query_as::<_, (i64,)>(INSERT_FULL_SQL)
                            .bind(&r.caller_extension)
                            .bind(&r.caller_number)
                            .bind(&r.caller_site)
                            .bind(&r.caller_department)
                            .bind(&r.callee_extension)
                            .bind(&r.callee_number)
                            .bind(&r.callee_site)
                            .bind(&r.callee_department)
                            .bind(r.direction.as_str())
                            .bind(&r.trunk)
                            .bind(r.started_at)
                            .bind(r.synthetic)
                            .bind(answered_at);
                        let q = match (completion, b) {
                            (Some(done), Some(b)) => q
                                .bind(done.ended_at)
                                .bind(i64::from(done.talk_seconds))
                                .bind(done.disposition.as_str())
                                .bind(done.sip_code.map(i64::from))
                                .bind(&done.sip_reason)
                                .bind(&b.chain)
                                .bind(b.caller.0)
                                .bind(b.caller.1)
                                .bind(b.caller.2)
                                .bind(b.caller.3)
                                .bind(b.callee.0)
                                .bind(b.callee.1)
                                .bind(b.callee.2)
                                .bind(b.callee.3),
                            _ => q
                                .bind(None::<DateTime<Utc>>)
                                .bind(0i64)
                                .bind(None::<&str>)
                                .bind(None::<i64>)
                                .bind(None::<&str>)
                                .bind("[]")
                                .bind(None::<i64>)
                                .bind(None::<i64>)
                                .bind(None::<f64>)
                                .bind(None::<f64>)
                                .bind(None::<i64>)
                                .bind(None::<i64>)
                                .bind(None::<f64>)
                                .bind(None::<f64>),
                        };
                        let (id,) = q.fetch_one(&mut *tx).await?;
                        CallWriteOutcome::Started(CallRecordId(id))
                    }
                    CallRecordWrite::Update {
                        id,
                        caller,
                        callee,
                        route,
                        answered_at,
                        completion,
                    } => {
                        let mut open = true;
                        if let Some(c) = caller {
                            open &= bind_party!(sqlx::query(SET_CALLER_SQL).bind(id.0), c)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected()
                                > 0;
                        }
                        if let Some(c) = callee {
                            open &= bind_party!(sqlx::query(SET_CALLEE_SQL).bind(id.0), c)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected()
                                > 0;
                        }
                        if let Some(r) = route {
                            open &= sqlx::query(SET_ROUTE_SQL)
                                .bind(id.0)
                                .bind(r.direction.as_str())
                                .bind(&r.trunk)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected()
                                > 0;
                        }
                        match (completion, b) {
                            (Some(done), Some(b)) => {
                                open &=
                                    bind_completion!(sqlx::query(COMPLETE_SQL).bind(id.0), done, b)
                                        .execute(&mut *tx)
                                        .await?
                                        .rows_affected()
                                        > 0;
                            }
                            _ => {
                                if let Some(at) = answered_at {
                                    open &= sqlx::query(ANSWER_SQL)
                                        .bind(id.0)
                                        .bind(at)
                                        .execute(&mut *tx)
                                        .await?
                                        .rows_affected()
                                        > 0;
                                }
                            }
                        }
                        if open {
                            CallWriteOutcome::Updated
                        } else {
                            CallWriteOutcome::NotOpen(*id)
                        }
                    }
                };
                outcomes.push(outcome);
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// Stores the rating of a finished call (when it ends, or when a period is re-rated).
    pub async fn set_call_cost(&self, id: CallRecordId, cost: &CallCost) -> Result<()> {
        self.set_call_costs(&[(id, cost.clone())]).await
    }

    /// Stores many ratings in one transaction (re-rating a period).
    pub async fn set_call_costs(&self, costs: &[(CallRecordId, CallCost)]) -> Result<()> {
        dispatch!(self, |pool, DB, money| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            for (id, cost) in costs {
                let n = sqlx::query(
                    "UPDATE call_records SET cost_new = $2, cost_old = $3, tariff_version = $4, rated_at = $5 \
                     WHERE id = $1",
                )
                .bind(id.0)
                .bind(money(Some(cost.cost_new)))
                .bind(money(cost.cost_old))
                .bind(&cost.tariff_version)
                .bind(cost.rated_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::not_found("call record", id));
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// One call record by id.
    pub async fn call_record(&self, id: CallRecordId) -> Result<Option<StoredCallRecord>> {
        let row: Option<FullRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {FULL_COLUMNS} FROM call_records WHERE id = $1"
            ))
            .bind(id.0)
            .fetch_optional(pool)
            .await?
        });
        row.map(StoredCallRecord::try_from).transpose()
    }

    /// Call records started in the filter's period, with every field.
    pub async fn call_records(&self, filter: &CallFilter) -> Result<Vec<StoredCallRecord>> {
        // Open bounds become dates every backend can hold and that sort as text in SQLite
        // (chrono's MIN/MAX print signed years that do not).
        let from = filter.from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let to = match filter.to {
            Some(to) => to,
            None => {
                DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            }
        };
        let (order, limit) = match filter.limit {
            Some(n) => ("DESC", i64::from(n)),
            None => ("ASC", i64::MAX),
        };
        let sql = format!(
            "SELECT {FULL_COLUMNS} FROM call_records WHERE started_at >= $1 AND started_at < $2 \
             ORDER BY started_at {order}, id {order} LIMIT $3"
        );
        let rows: Vec<FullRow> = dispatch!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(from)
                .bind(to)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(StoredCallRecord::try_from).collect()
    }

    /// Records of calls still in progress, or left open by a crash.
    pub async fn open_call_records(&self) -> Result<Vec<StoredCallRecord>> {
        let rows: Vec<FullRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {FULL_COLUMNS} FROM call_records WHERE ended_at IS NULL ORDER BY id"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(StoredCallRecord::try_from).collect()
    }

    /// Closes every open record as `interrupted` (call at start-up, before any call is
    /// accepted). The real end is unknown, so `ended_at` is `now`, talk time is counted as 0
    /// (rating must not bill hours of downtime) and the reason says what happened.
    /// Returns how many were closed.
    pub async fn close_open_calls_as_interrupted(&self, now: DateTime<Utc>) -> Result<u64> {
        dispatch!(self, |pool| {
            Ok(sqlx::query(
                "UPDATE call_records SET ended_at = $1, disposition = 'interrupted', talk_seconds = 0, \
                 sip_reason = 'closed at start-up: left open by an unclean shutdown' WHERE ended_at IS NULL",
            )
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }

    /// Inserts finished records in bulk (the synthetic traffic generator): multi-row
    /// INSERTs in large transactions. Record ids in the input are ignored. Returns how many
    /// were written.
    pub async fn insert_call_records(&self, records: &[CallRecord]) -> Result<u64> {
        let mut written = 0u64;
        dispatch!(self, |pool, DB, money| {
            for tx_chunk in records.chunks(BULK_ROWS_PER_TRANSACTION) {
                let mut tx = pool
                    .begin_with(crate::WriteBegin::write_begin(pool))
                    .await?;
                for chunk in tx_chunk.chunks(BULK_ROWS_PER_STATEMENT) {
                    let mut qb: QueryBuilder<DB> = QueryBuilder::new(
                        "INSERT INTO call_records (caller_extension, caller_number, caller_site, caller_department, \
                         callee_extension, callee_number, callee_site, callee_department, direction, trunk, \
                         started_at, answered_at, ended_at, talk_seconds, disposition, synthetic) ",
                    );
                    qb.push_values(chunk, |mut b, r| {
                        b.push_bind(r.caller_extension.as_deref())
                            .push_bind(r.caller_number.as_str())
                            .push_bind(r.caller_site.as_deref())
                            .push_bind(r.caller_department.as_deref())
                            .push_bind(r.callee_extension.as_deref())
                            .push_bind(r.callee_number.as_str())
                            .push_bind(r.callee_site.as_deref())
                            .push_bind(r.callee_department.as_deref())
                            .push_bind(r.direction.as_str())
                            .push_bind(r.trunk.as_deref())
                            .push_bind(r.started_at)
                            .push_bind(r.answered_at)
                            .push_bind(r.ended_at)
                            .push_bind(i64::from(r.talk_seconds))
                            .push_bind(r.disposition.as_str())
                            .push_bind(r.synthetic);
                    });
                    written += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            }
            Ok(written)
        })
    }

    /// Deletes the synthetic records started in `[from, to)` (before generating a period
    /// again); returns how many.
    pub async fn delete_synthetic_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64> {
        dispatch!(self, |pool| {
            Ok(sqlx::query("DELETE FROM call_records WHERE synthetic = $1 AND started_at >= $2 AND started_at < $3")
                .bind(true)
                .bind(from)
                .bind(to)
                .execute(pool)
                .await?
                .rows_affected())
        })
    }

    /// Counts finished records started in `[from, to)`.
    pub async fn count_call_records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<u64> {
        let (n,): (i64,) = dispatch!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM call_records WHERE ended_at IS NOT NULL AND started_at >= $1 AND started_at < $2",
            )
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?
        });
        u64::try_from(n).map_err(|e| StoreError::corrupt("call_records", "count", e))
    }

    /// Streams the finished records started in `[from, to)` as billing sees them, oldest
    /// first, row by row (PostgreSQL) or page by page (SQLite) from the database, so a year
    /// of calls never sits in memory.
    pub fn stream_call_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxStream<'_, Result<CallRecord>> {
        const SQL: &str = "SELECT id, started_at, answered_at, ended_at, talk_seconds, direction, disposition, \
             caller_extension, caller_number, caller_site, caller_department, callee_extension, callee_number, \
             callee_site, callee_department, trunk, synthetic FROM call_records \
             WHERE ended_at IS NOT NULL AND started_at >= $1 AND started_at < $2 ORDER BY started_at, id";
        debug_assert!(SQL.contains(BILLING_COLUMNS));
        match &self.backend {
            // Stepped directly on the SQLite handle, page by page (see `sqlite_fast`): sqlx's
            // per-row channel costs twenty times what SQLite needs (issue 4).
            crate::Backend::Sqlite(pool) => sqlite_fast::stream_call_records(pool, from, to),
            crate::Backend::Postgres(pool) => sqlx::query_as::<_, BillingRow>(SQL)
                .bind(from)
                .bind(to)
                .fetch(pool)
                .map(|row| row.map_err(StoreError::from).and_then(CallRecord::try_from))
                .boxed(),
        }
    }
}
