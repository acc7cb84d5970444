//! The running switchboard's call-record writes on SQLite, on a connection and thread of
//! their own (issue 3: sqlx's SQLite worker took about 15 % of a call's server CPU).
//!
//! The PBX's record writer already folds a batch's changes per call and commits them in
//! one transaction, but through sqlx every statement of that transaction (BEGIN, each
//! INSERT/UPDATE, COMMIT, and the ping sqlx sends when a connection goes back to the pool)
//! is a round trip to the connection's worker thread: a command sent over a channel, the
//! statement looked up in the cache by its text, arguments copied, results sent back, and
//! two thread wake-ups. Here one connection is taken out of the pool for good
//! (`PoolConnection::detach`) and its handle locked out of sqlx's worker for as long as the
//! writer lives (`SqliteConnection::lock_handle`, the way sqlx documents for direct SQLite
//! calls, as `sqlite_fast` does for reads). A thread of its own owns it, with every
//! statement prepared once and reused, and runs each batch as one transaction: one hand-over
//! per batch instead of one per statement.
//!
//! The thread, not the caller, runs SQLite because a write may wait out the busy timeout
//! (the CLI writing the same file) or a WAL checkpoint, and the caller is the SIP thread.
//!
//! Same statements, same values and the same outcomes as [`Store::write_call_records`]
//! (the text of each statement is shared, timestamps are bound as sqlx binds them), so
//! rows written either way are indistinguishable; a test checks it.
//!
//! [`Store::write_call_records`]: crate::Store::write_call_records

use std::ffi::{CString, c_char, c_int};
use std::ptr::{self, NonNull};
use std::sync::{Arc, mpsc};

use chrono::{DateTime, Utc};
use libsqlite3_sys as ffi;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::oneshot;

use super::sqlite_fast::{check, sqlite_error, sqlx_text};
use super::{
    ANSWER_SQL, COMPLETE_SQL, CallRecordWrite, CallWriteOutcome, CompletionBinds, INSERT_FULL_SQL,
    LegBinds, SET_CALLEE_SQL, SET_CALLER_SQL, SET_ROUTE_SQL,
};
use crate::error::{Result, StoreError};
use crate::ids::CallRecordId;
use crate::model::CallParty;

type Reply = oneshot::Sender<Result<Vec<CallWriteOutcome>>>;

/// The handle on the writer thread; the thread ends (finalizing its statements and closing
/// its connection) when this is dropped, after the batches already sent.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<(Arc<[CallRecordWrite]>, Reply)>,
}

impl Writer {
    /// Takes a connection out of `pool` and starts the thread; fails if the connection or
    /// a statement cannot be had.
    pub(crate) async fn start(pool: &SqlitePool) -> Result<Writer> {
        let conn = pool.acquire().await?.detach();
        let (jobs, rx) = mpsc::channel();
        let (ready, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("call-records".into())
            .spawn(move || run(conn, rx, ready))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        started
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))??;
        Ok(Writer { jobs })
    }

    /// Writes `writes` in one transaction on the writer thread; as
    /// [`Store::write_call_records`](crate::Store::write_call_records). `Err(WriterGone)`
    /// when the thread has stopped: the batch was not committed (a thread that dies in a
    /// batch drops its connection, and with it the open transaction, before COMMIT).
    pub(crate) async fn write(
        &self,
        writes: Arc<[CallRecordWrite]>,
    ) -> std::result::Result<Result<Vec<CallWriteOutcome>>, WriterGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((writes, reply)).map_err(|_| WriterGone)?;
        answer.await.map_err(|_| WriterGone)
    }

    /// A writer whose thread has already stopped, as one that panicked would leave.
    #[cfg(test)]
    pub(crate) fn stopped() -> Writer {
        let (jobs, _) = mpsc::channel();
        Writer { jobs }
    }
}

/// The writer thread has stopped; the batch handed to it was not written.
#[derive(Debug)]
pub(crate) struct WriterGone;

/// The writer thread: locks the handle, prepares, then serves batches until the
/// [`Writer`] is dropped. Locals drop in reverse order: statements are finalized before
/// the handle goes back to sqlx's worker, which closes the connection when `conn` drops.
fn run(
    mut conn: SqliteConnection,
    jobs: mpsc::Receiver<(Arc<[CallRecordWrite]>, Reply)>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut handle = match futures_executor::block_on(conn.lock_handle()) {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let db = handle.as_raw_handle();
    // SAFETY: `db` is the open connection, locked out of sqlx's worker until `handle`
    // drops, after `stmts` (declared later, so dropped first); only this thread uses it.
    let stmts = match unsafe { Statements::prepare(db) } {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok((writes, reply)) = jobs.recv() {
        // SAFETY: as above.
        let result = unsafe { write_batch(db, &stmts, &writes) };
        // The caller may have gone (shutdown); the batch is committed or rolled back either way.
        let _ = reply.send(result);
    }
}

/// A prepared statement, finalized on drop.
struct Stmt(NonNull<ffi::sqlite3_stmt>);

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: from a successful prepare, finalized only here, once.
        unsafe {
            ffi::sqlite3_finalize(self.0.as_ptr());
        }
    }
}

/// Every statement the writer runs, prepared once for the thread's life.
struct Statements {
    begin: Stmt,
    commit: Stmt,
    rollback: Stmt,
    insert: Stmt,
    complete: Stmt,
    set_caller: Stmt,
    set_callee: Stmt,
    set_route: Stmt,
    answer: Stmt,
}

impl Statements {
    /// # Safety
    /// `db` must be an open connection used by this thread only.
    unsafe fn prepare(db: NonNull<ffi::sqlite3>) -> Result<Statements> {
        // SAFETY: forwarded contract.
        unsafe {
            Ok(Statements {
                // As `WriteBegin` for SQLite: take the write lock up front (busy timeout
                // applies) rather than fail on upgrading a read.
                begin: prepare(db, "BEGIN IMMEDIATE")?,
                commit: prepare(db, "COMMIT")?,
                rollback: prepare(db, "ROLLBACK")?,
                insert: prepare(db, INSERT_FULL_SQL)?,
                complete: prepare(db, COMPLETE_SQL)?,
                set_caller: prepare(db, SET_CALLER_SQL)?,
                set_callee: prepare(db, SET_CALLEE_SQL)?,
                set_route: prepare(db, SET_ROUTE_SQL)?,
                answer: prepare(db, ANSWER_SQL)?,
            })
        }
    }
}

/// Prepares one of the store's `$N` statements. SQLite reads `$2` as a *named* parameter
/// numbered by first appearance (sqlx maps the names back to numbers); `?2` is parameter
/// 2, so the shared texts are prepared with `?`.
///
/// # Safety
/// `db` must be an open connection used by this thread only.
unsafe fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Stmt> {
    let sql = CString::new(sql.replace('$', "?"))
        .map_err(|e| StoreError::invalid("call record statement", e))?;
    let mut raw: *mut ffi::sqlite3_stmt = ptr::null_mut();
    // SAFETY: `db` is open; `sql` is NUL-terminated (-1 length). PERSISTENT: kept for
    // the thread's life, so SQLite allocates it outside its short-lived lookaside.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            db.as_ptr(),
            sql.as_ptr(),
            -1,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut raw,
            ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, "prepare", rc));
    }
    NonNull::new(raw)
        .map(Stmt)
        .ok_or_else(|| sqlite_error(db, "prepare", rc))
}

/// Binds parameters of one statement. Texts are copied by SQLite (SQLITE_TRANSIENT), so
/// nothing bound outlives what it borrowed.
struct Binder {
    db: NonNull<ffi::sqlite3>,
    s: *mut ffi::sqlite3_stmt,
}

impl Binder {
    /// # Safety
    /// `stmt` must be a live statement on `db`, used by this thread only, for as long as
    /// the binder is.
    unsafe fn new(db: NonNull<ffi::sqlite3>, stmt: &Stmt) -> Binder {
        Binder {
            db,
            s: stmt.0.as_ptr(),
        }
    }

    fn text(&self, i: c_int, v: &str) -> Result<()> {
        let len = c_int::try_from(v.len())
            .map_err(|_| StoreError::invalid("call record", "text too long"))?;
        // SAFETY: `s` is a live statement of this thread; `v` is valid for `len` bytes
        // and copied by SQLite before this returns.
        let rc = unsafe {
            ffi::sqlite3_bind_text(
                self.s,
                i,
                v.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_TRANSIENT(),
            )
        };
        check(self.db, "bind", rc)
    }

    fn opt_text(&self, i: c_int, v: Option<&str>) -> Result<()> {
        match v {
            Some(v) => self.text(i, v),
            None => self.null(i),
        }
    }

    /// A timestamp as sqlx binds a `DateTime<Utc>` to SQLite, so both paths write the
    /// same text (and the text order every query relies on).
    fn time(&self, i: c_int, v: Option<DateTime<Utc>>) -> Result<()> {
        match v {
            Some(t) => self.text(i, &sqlx_text(t)),
            None => self.null(i),
        }
    }

    fn int(&self, i: c_int, v: Option<i64>) -> Result<()> {
        match v {
            // SAFETY: live statement of this thread.
            Some(v) => check(self.db, "bind", unsafe {
                ffi::sqlite3_bind_int64(self.s, i, v)
            }),
            None => self.null(i),
        }
    }

    fn real(&self, i: c_int, v: Option<f64>) -> Result<()> {
        match v {
            // SAFETY: live statement of this thread.
            Some(v) => check(self.db, "bind", unsafe {
                ffi::sqlite3_bind_double(self.s, i, v)
            }),
            None => self.null(i),
        }
    }

    fn null(&self, i: c_int) -> Result<()> {
        // SAFETY: live statement of this thread.
        check(self.db, "bind", unsafe {
            ffi::sqlite3_bind_null(self.s, i)
        })
    }

    /// Binds a leg's four columns from `first` on.
    fn leg(&self, first: c_int, l: &LegBinds) -> Result<()> {
        self.int(first, l.0)?;
        self.int(first + 1, l.1)?;
        self.real(first + 2, l.2)?;
        self.real(first + 3, l.3)
    }

    fn party(&self, p: &CallParty) -> Result<()> {
        self.opt_text(2, p.extension.as_deref())?;
        self.text(3, &p.number)?;
        self.opt_text(4, p.site.as_deref())?;
        self.opt_text(5, p.department.as_deref())
    }
}

/// Runs a bound statement to its end and resets it for the next use. Returns the rowid
/// of a RETURNING row if there was one, and the rows changed.
///
/// # Safety
/// `stmt` must be a live statement on `db`, used by this thread only.
unsafe fn run_stmt(db: NonNull<ffi::sqlite3>, stmt: &Stmt) -> Result<(Option<i64>, u64)> {
    let s = stmt.0.as_ptr();
    let mut returned = None;
    let result = loop {
        // SAFETY: per the contract.
        match unsafe { ffi::sqlite3_step(s) } {
            ffi::SQLITE_ROW => {
                // SAFETY: on a row; column 0 of `RETURNING id`.
                returned = Some(unsafe { ffi::sqlite3_column_int64(s, 0) });
            }
            ffi::SQLITE_DONE => {
                // SAFETY: `db` is open; counts the statement just finished.
                let n = unsafe { ffi::sqlite3_changes64(db.as_ptr()) };
                break Ok((returned, u64::try_from(n).unwrap_or(0)));
            }
            rc => break Err(sqlite_error(db, "step", rc)),
        }
    };
    // SAFETY: per the contract. The return value repeats the step's error, handled above;
    // clearing the bindings means no later step can see this batch's values.
    unsafe {
        ffi::sqlite3_reset(s);
        ffi::sqlite3_clear_bindings(s);
    }
    result
}

/// The batch in one transaction; on any error it is rolled back and nothing is written.
///
/// # Safety
/// `db` must be the open connection `stmts` were prepared on, used by this thread only.
unsafe fn write_batch(
    db: NonNull<ffi::sqlite3>,
    stmts: &Statements,
    writes: &[CallRecordWrite],
) -> Result<Vec<CallWriteOutcome>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    // SAFETY: forwarded contract, for this and every call below.
    unsafe {
        run_stmt(db, &stmts.begin)?;
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut result = Ok(());
        for w in writes {
            match write_one(db, stmts, w) {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() {
            result = run_stmt(db, &stmts.commit).map(|_| ());
        }
        match result {
            Ok(()) => Ok(outcomes),
            Err(e) => {
                // Some errors (a full disk, an I/O error) make SQLite roll back by itself;
                // ROLLBACK then would only fail with "no transaction is active".
                if ffi::sqlite3_get_autocommit(db.as_ptr()) == 0
                    && let Err(r) = run_stmt(db, &stmts.rollback)
                {
                    tracing::error!(error = %r, "call record batch: rollback failed");
                }
                Err(e)
            }
        }
    }
}

/// # Safety
/// As [`write_batch`].
unsafe fn write_one(
    db: NonNull<ffi::sqlite3>,
    stmts: &Statements,
    w: &CallRecordWrite,
) -> Result<CallWriteOutcome> {
    match w {
        CallRecordWrite::Start {
            record: r,
            answered_at,
            completion,
        } => {
            let b = unsafe { Binder::new(db, &stmts.insert) };
            let answered_at = completion
                .as_ref()
                .map_or(*answered_at, |c| c.answered_at.or(*answered_at));
            b.opt_text(1, r.caller_extension.as_deref())?;
            b.text(2, &r.caller_number)?;
            b.opt_text(3, r.caller_site.as_deref())?;
            b.opt_text(4, r.caller_department.as_deref())?;
            b.opt_text(5, r.callee_extension.as_deref())?;
            b.text(6, &r.callee_number)?;
            b.opt_text(7, r.callee_site.as_deref())?;
            b.opt_text(8, r.callee_department.as_deref())?;
            b.text(9, r.direction.as_str())?;
            b.opt_text(10, r.trunk.as_deref())?;
            b.time(11, Some(r.started_at))?;
            b.int(12, Some(i64::from(r.synthetic)))?;
            b.time(13, answered_at)?;
            match completion {
                Some(done) => {
                    let c = CompletionBinds::new(done)?;
                    b.time(14, Some(done.ended_at))?;
                    b.int(15, Some(i64::from(done.talk_seconds)))?;
                    b.text(16, done.disposition.as_str())?;
                    b.int(17, done.sip_code.map(i64::from))?;
                    b.opt_text(18, done.sip_reason.as_deref())?;
                    b.text(19, &c.chain)?;
                    b.leg(20, &c.caller)?;
                    b.leg(24, &c.callee)?;
                }
                // Open: the table's defaults for what a running call does not know.
                None => {
                    b.null(14)?;
                    b.int(15, Some(0))?;
                    b.null(16)?;
                    b.null(17)?;
                    b.null(18)?;
                    b.text(19, "[]")?;
                    b.leg(20, &(None, None, None, None))?;
                    b.leg(24, &(None, None, None, None))?;
                }
            }
            // SAFETY: forwarded contract.
            match unsafe { run_stmt(db, &stmts.insert) }? {
                (Some(id), _) => Ok(CallWriteOutcome::Started(CallRecordId(id))),
                (None, _) => Err(StoreError::invalid(
                    "call record",
                    "the insert returned no id",
                )),
            }
        }
        CallRecordWrite::Update {
            id,
            caller,
            callee,
            route,
            answered_at,
            completion,
        } => {
            // Same order and the same rule as the sqlx path: every statement must find the
            // record open, else the write is reported as NotOpen.
            let mut open = true;
            // SAFETY (every `run_stmt` below): forwarded contract.
            if let Some(p) = caller {
                let b = unsafe { Binder::new(db, &stmts.set_caller) };
                b.int(1, Some(id.0))?;
                b.party(p)?;
                open &= unsafe { run_stmt(db, &stmts.set_caller) }?.1 > 0;
            }
            if let Some(p) = callee {
                let b = unsafe { Binder::new(db, &stmts.set_callee) };
                b.int(1, Some(id.0))?;
                b.party(p)?;
                open &= unsafe { run_stmt(db, &stmts.set_callee) }?.1 > 0;
            }
            if let Some(r) = route {
                let b = unsafe { Binder::new(db, &stmts.set_route) };
                b.int(1, Some(id.0))?;
                b.text(2, r.direction.as_str())?;
                b.opt_text(3, r.trunk.as_deref())?;
                open &= unsafe { run_stmt(db, &stmts.set_route) }?.1 > 0;
            }
            match completion {
                Some(done) => {
                    let c = CompletionBinds::new(done)?;
                    let b = unsafe { Binder::new(db, &stmts.complete) };
                    b.int(1, Some(id.0))?;
                    b.time(2, done.answered_at)?;
                    b.time(3, Some(done.ended_at))?;
                    b.int(4, Some(i64::from(done.talk_seconds)))?;
                    b.text(5, done.disposition.as_str())?;
                    b.int(6, done.sip_code.map(i64::from))?;
                    b.opt_text(7, done.sip_reason.as_deref())?;
                    b.text(8, &c.chain)?;
                    b.leg(9, &c.caller)?;
                    b.leg(13, &c.callee)?;
                    open &= unsafe { run_stmt(db, &stmts.complete) }?.1 > 0;
                }
                None => {
                    if let Some(at) = answered_at {
                        let b = unsafe { Binder::new(db, &stmts.answer) };
                        b.int(1, Some(id.0))?;
                        b.time(2, Some(*at))?;
                        open &= unsafe { run_stmt(db, &stmts.answer) }?.1 > 0;
                    }
                }
            }
            Ok(if open {
                CallWriteOutcome::Updated
            } else {
                CallWriteOutcome::NotOpen(*id)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallCompletion, CallRoute, LegQuality, NewCallRecord};
    use billing::{CallDirection, CallDisposition};
    use chrono::{Duration, TimeZone};

    /// A batch through the writer thread, which must be running.
    async fn written(
        writer: &Writer,
        writes: Arc<[CallRecordWrite]>,
    ) -> Result<Vec<CallWriteOutcome>> {
        writer.write(writes).await.expect("writer thread running")
    }

    async fn store() -> (tempfile::TempDir, crate::Store, SqlitePool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::Store::open_in(dir.path(), None)
            .await
            .expect("store");
        let crate::Backend::Sqlite(pool) = &store.backend else {
            panic!("SQLite store expected");
        };
        let pool = pool.clone();
        (dir, store, pool)
    }

    fn t0() -> DateTime<Utc> {
        // Sub-second digits: the text written must be sqlx's, digits and offset alike.
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 15, 0)
            .single()
            .expect("date")
            + Duration::nanoseconds(123_456_789)
    }

    fn record(callee: &str) -> NewCallRecord {
        NewCallRecord {
            started_at: t0(),
            direction: CallDirection::InternalSameSite,
            caller_extension: Some("1001".into()),
            caller_number: "1001".into(),
            caller_site: Some("rådhus".into()),
            caller_department: None,
            callee_extension: Some(callee.into()),
            callee_number: callee.into(),
            callee_site: Some("rådhus".into()),
            callee_department: Some("Økonomi".into()),
            trunk: None,
            synthetic: false,
        }
    }

    fn done(talk: i64) -> CallCompletion {
        CallCompletion {
            answered_at: Some(t0() + Duration::seconds(2)),
            ended_at: t0() + Duration::seconds(2 + talk),
            talk_seconds: u32::try_from(talk).expect("talk"),
            disposition: CallDisposition::Answered,
            sip_code: Some(200),
            sip_reason: Some("OK".into()),
            transfer_chain: Vec::new(),
            caller_leg: Some(LegQuality {
                packets: 100,
                lost: 1,
                jitter_ms: 2.5,
                mos: 4.3,
            }),
            callee_leg: Some(LegQuality {
                packets: u64::MAX,
                lost: 0,
                jitter_ms: 0.0,
                mos: 4.5,
            }),
        }
    }

    fn party(n: &str) -> CallParty {
        CallParty {
            extension: None,
            number: n.into(),
            site: None,
            department: None,
        }
    }

    /// Three batches that touch every statement: opens, a call folded into one INSERT, an
    /// answer, new parties and route, completions, and an update of a closed record.
    /// `ids` maps the record numbers of earlier batches to their ids.
    fn batches(ids: &[CallRecordId]) -> Vec<CallRecordWrite> {
        match ids.len() {
            0 => vec![
                CallRecordWrite::Start {
                    record: record("1002"),
                    answered_at: None,
                    completion: None,
                },
                CallRecordWrite::Start {
                    record: record("1003"),
                    answered_at: None,
                    completion: Some(done(30)),
                },
                CallRecordWrite::Start {
                    record: record("1004"),
                    answered_at: Some(t0() + Duration::milliseconds(1500)),
                    completion: None,
                },
            ],
            _ => vec![
                CallRecordWrite::Update {
                    id: ids[0],
                    caller: Some(party("4722000000")),
                    callee: Some(party("1005")),
                    route: Some(CallRoute {
                        direction: CallDirection::Inbound,
                        trunk: Some("telia".into()),
                    }),
                    answered_at: Some(t0() + Duration::seconds(1)),
                    completion: None,
                },
                CallRecordWrite::Update {
                    id: ids[2],
                    caller: None,
                    callee: None,
                    route: None,
                    answered_at: None,
                    completion: Some(done(60)),
                },
                CallRecordWrite::Update {
                    id: ids[1],
                    caller: None,
                    callee: None,
                    route: None,
                    answered_at: Some(t0()),
                    completion: None,
                },
            ],
        }
    }

    /// Every column but the id, as SQLite holds it (type and text), for the given ids.
    async fn raw_rows(pool: &SqlitePool, ids: &[CallRecordId]) -> Vec<String> {
        let mut rows = Vec::new();
        for id in ids {
            let (row,): (String,) = sqlx::query_as(
                "SELECT concat_ws('|', quote(caller_extension), quote(caller_number), quote(caller_site), \
                 quote(caller_department), quote(callee_extension), quote(callee_number), quote(callee_site), \
                 quote(callee_department), quote(direction), quote(trunk), quote(started_at), quote(answered_at), \
                 quote(ended_at), quote(talk_seconds), quote(disposition), quote(sip_code), quote(sip_reason), \
                 quote(transfer_chain), quote(caller_packets), quote(caller_lost), quote(caller_jitter_ms), \
                 quote(caller_mos), quote(callee_packets), quote(callee_lost), quote(callee_jitter_ms), \
                 quote(callee_mos), quote(synthetic)) FROM call_records WHERE id = $1",
            )
            .bind(id.0)
            .fetch_one(pool)
            .await
            .expect("row");
            rows.push(row);
        }
        rows
    }

    fn started(outcomes: &[CallWriteOutcome]) -> Vec<CallRecordId> {
        outcomes
            .iter()
            .map(|o| match o {
                CallWriteOutcome::Started(id) => *id,
                other => panic!("expected Started, got {other:?}"),
            })
            .collect()
    }

    /// The writer thread and sqlx's path write the very same values (sqlx's texts for
    /// times, numbered parameters bound to the right columns) and report the same outcomes.
    #[tokio::test]
    async fn writes_exactly_what_the_sqlx_path_writes() {
        let (_dir, s, pool) = store().await;
        let writer = Writer::start(&pool).await.expect("writer");

        let via_sqlx = started(&s.write_call_records(&batches(&[])).await.expect("sqlx"));
        let via_thread = started(&written(&writer, batches(&[]).into()).await.expect("thread"));
        let a = s
            .write_call_records(&batches(&via_sqlx))
            .await
            .expect("sqlx");
        let b = written(&writer, batches(&via_thread).into())
            .await
            .expect("thread");
        assert_eq!(
            a,
            vec![
                CallWriteOutcome::Updated,
                CallWriteOutcome::Updated,
                CallWriteOutcome::NotOpen(via_sqlx[1])
            ]
        );
        assert_eq!(
            b,
            vec![
                CallWriteOutcome::Updated,
                CallWriteOutcome::Updated,
                CallWriteOutcome::NotOpen(via_thread[1])
            ]
        );
        let (ra, rb) = (
            raw_rows(&pool, &via_sqlx).await,
            raw_rows(&pool, &via_thread).await,
        );
        assert_eq!(ra, rb);
        // The values are the model's, not merely equal to each other.
        assert!(
            rb[0].contains("'2026-03-02T09:15:00.123456789+00:00'"),
            "{}",
            rb[0]
        );
        assert!(rb[0].contains("'inbound'|'telia'"), "{}", rb[0]);
        assert!(
            rb[2].contains(&format!("|100|1|2.5|4.3|{}|0|0.0|4.5|0", i64::MAX)),
            "{}",
            rb[2]
        );
        // Committed: seen from the pool's other connections.
        assert_eq!(s.open_call_records().await.expect("open").len(), 2);
    }

    /// A batch that fails part-way is rolled back whole, and the writer goes on with the
    /// next batch on a clean connection.
    #[tokio::test]
    async fn a_failed_batch_writes_nothing_and_the_next_one_commits() {
        let (_dir, s, pool) = store().await;
        let writer = Writer::start(&pool).await.expect("writer");
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON call_records WHEN NEW.callee_number = 'refused' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(&pool)
        .await
        .expect("trigger");
        let bad: Arc<[CallRecordWrite]> = vec![
            CallRecordWrite::Start {
                record: record("1002"),
                answered_at: None,
                completion: None,
            },
            CallRecordWrite::Start {
                record: record("refused"),
                answered_at: None,
                completion: None,
            },
        ]
        .into();
        match written(&writer, bad).await {
            Err(StoreError::Database(e)) => {
                assert!(e.to_string().contains("refused by the test"), "{e}")
            }
            other => panic!("expected a database error, got {other:?}"),
        }
        let all = s
            .call_records(&crate::CallFilter::default())
            .await
            .expect("list");
        assert!(all.is_empty(), "rolled back: {all:?}");
        let ok = written(&writer, batches(&[]).into())
            .await
            .expect("next batch");
        assert_eq!(started(&ok).len(), 3);
        assert_eq!(
            s.call_records(&crate::CallFilter::default())
                .await
                .expect("list")
                .len(),
            3
        );
    }

    /// Another connection holding the write lock delays a batch (busy timeout, on the
    /// writer's thread), it does not fail it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_for_another_writer() {
        let (_dir, s, pool) = store().await;
        let writer = Writer::start(&pool).await.expect("writer");
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("lock");
        sqlx::query("UPDATE config_version SET version = version + 1")
            .execute(&mut *tx)
            .await
            .expect("write");
        let write = tokio::spawn(async move { written(&writer, batches(&[]).into()).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!write.is_finished(), "the batch waits for the lock");
        tx.commit().await.expect("commit");
        let outcomes = write.await.expect("task").expect("batch");
        assert_eq!(started(&outcomes).len(), 3);
        assert_eq!(s.open_call_records().await.expect("open").len(), 2);
    }

    /// Many records in one batch (a burst of call set-ups): all written, ids in order.
    #[tokio::test]
    async fn a_large_batch_is_one_transaction() {
        let (_dir, s, pool) = store().await;
        let writer = Writer::start(&pool).await.expect("writer");
        let writes: Vec<CallRecordWrite> = (0..2000)
            .map(|i| CallRecordWrite::Start {
                record: record(&format!("{}", 10_000 + i)),
                answered_at: None,
                completion: (i % 2 == 0).then(|| done(i)),
            })
            .collect();
        let ids = started(&written(&writer, writes.into()).await.expect("batch"));
        assert_eq!(ids.len(), 2000);
        assert!(ids.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(s.open_call_records().await.expect("open").len(), 1000);
        let r = s.call_record(ids[1999]).await.expect("get").expect("row");
        assert_eq!(r.callee_number, "11999");
    }

    /// A writer thread that has stopped (only a bug could stop it) must not lose the
    /// records after it: the sink writes through the pool from then on.
    #[tokio::test]
    async fn a_stopped_writer_thread_falls_back_to_the_pool() {
        let (_dir, store, _pool) = store().await;
        let sink = crate::calls::CallRecordSink {
            inner: crate::calls::Sink::Sqlite {
                writer: Writer::stopped(),
                fallback: store.clone(),
                stopped: std::sync::atomic::AtomicBool::new(false),
            },
        };
        assert!(sink.is_dedicated());
        for callee in ["2001", "2002"] {
            let writes: Arc<[CallRecordWrite]> = vec![CallRecordWrite::Start {
                record: record(callee),
                answered_at: None,
                completion: None,
            }]
            .into();
            let out = sink.write(writes).await.expect("written through the pool");
            assert!(matches!(out[..], [CallWriteOutcome::Started(_)]), "{out:?}");
        }
        assert!(!sink.is_dedicated());
        assert_eq!(store.open_call_records().await.expect("open").len(), 2);
    }
}
