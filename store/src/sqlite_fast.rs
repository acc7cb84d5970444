//! The fast SQLite read behind `Store::stream_call_records` (issue 4: a savings report over
//! a year of calls in under a second).
//!
//! sqlx-sqlite runs every statement on a worker thread and hands each row to the caller
//! through a channel, decoding it into owned values: about 5 µs a row, twenty times what
//! SQLite itself needs. Here the connection's handle is locked out of the worker
//! (`SqliteConnection::lock_handle`, which sqlx documents as the way to make direct SQLite
//! calls) and the statement is stepped directly through `libsqlite3-sys` (the same build
//! sqlx links), decoding each column straight into a [`CallRecord`].
//!
//! The read goes page by page over the keyset `(started_at, id)`, so a year never sits in
//! memory and the handle is never held across an `.await` (the lock is taken and released
//! inside one synchronous page read). Each page is its own implicit read transaction: a
//! record inserted behind the cursor while the report runs is not seen, one inserted ahead
//! of it is, as with any paged read.
//!
//! Nothing read from the file can panic: a bad value becomes [`StoreError::Corrupt`], a
//! SQLite failure a [`StoreError::Database`].

use std::ffi::{CStr, c_char, c_int};
use std::ptr::{self, NonNull};

use billing::CallRecord;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use libsqlite3_sys as ffi;
use sqlx::SqlitePool;

use super::{parse_direction, parse_disposition};
use crate::error::{Result, StoreError};

/// Rows per page: large enough that preparing the statement and taking the handle lock
/// (a few tens of µs) vanish against the page's rows, small enough to stay a few MB.
const PAGE_ROWS: i64 = 8192;

/// Finished calls in `[?1, ?2)` after the keyset position: `?1` is `from` on the first page
/// and the last row's `started_at` text afterwards (always ≥ `from`), `?3` the last row's
/// id (`i64::MIN` on the first page). `started_at >= ?1 AND (started_at > ?1 OR id > ?3)`
/// is exactly "after (?1, ?3)" and keeps the range on the `call_records_started` index,
/// which also yields `started_at, id` order (the index ends in the rowid) without a sort.
/// Columns are in [`Col`] order.
const PAGE_SQL: &CStr = c"SELECT id, started_at, answered_at, ended_at, talk_seconds, direction, disposition, \
caller_extension, caller_number, caller_site, caller_department, callee_extension, callee_number, \
callee_site, callee_department, trunk, synthetic FROM call_records \
WHERE ended_at IS NOT NULL AND started_at >= ?1 AND started_at < ?2 AND (started_at > ?1 OR id > ?3) \
ORDER BY started_at, id LIMIT ?4";

/// Column indexes of [`PAGE_SQL`].
#[derive(Clone, Copy)]
enum Col {
    Id = 0,
    StartedAt,
    AnsweredAt,
    EndedAt,
    TalkSeconds,
    Direction,
    Disposition,
    CallerExtension,
    CallerNumber,
    CallerSite,
    CallerDepartment,
    CalleeExtension,
    CalleeNumber,
    CalleeSite,
    CalleeDepartment,
    Trunk,
    Synthetic,
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Id => "id",
            Col::StartedAt => "started_at",
            Col::AnsweredAt => "answered_at",
            Col::EndedAt => "ended_at",
            Col::TalkSeconds => "talk_seconds",
            Col::Direction => "direction",
            Col::Disposition => "disposition",
            Col::CallerExtension => "caller_extension",
            Col::CallerNumber => "caller_number",
            Col::CallerSite => "caller_site",
            Col::CallerDepartment => "caller_department",
            Col::CalleeExtension => "callee_extension",
            Col::CalleeNumber => "callee_number",
            Col::CalleeSite => "callee_site",
            Col::CalleeDepartment => "callee_department",
            Col::Trunk => "trunk",
            Col::Synthetic => "synthetic",
        }
    }
}

fn corrupt(col: Col, reason: impl ToString) -> StoreError {
    StoreError::corrupt("call_records", col.name(), reason)
}

/// Where the next page starts: the last row's raw `started_at` text (compared as text, as
/// SQLite orders it) and id.
struct Cursor {
    started_at: String,
    id: i64,
}

struct State<'a> {
    pool: &'a SqlitePool,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
    to: String,
    cursor: Cursor,
    done: bool,
}

/// Streams the finished records started in `[from, to)`, oldest first (see the module
/// documentation for how).
pub(crate) fn stream_call_records(
    pool: &SqlitePool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BoxStream<'_, Result<CallRecord>> {
    // Bound as sqlx binds a `DateTime<Utc>` (RFC 3339, `+00:00`), which is how the column
    // is written, so the text comparison means the same as in every other query.
    let state = State {
        pool,
        conn: None,
        to: sqlx_text(to),
        cursor: Cursor {
            started_at: sqlx_text(from),
            id: i64::MIN,
        },
        done: false,
    };
    stream::try_unfold(state, |mut st| async move {
        if st.done {
            return Ok::<_, StoreError>(None);
        }
        let conn = match st.conn {
            Some(ref mut c) => c,
            None => st.conn.insert(st.pool.acquire().await?),
        };
        let mut page = Vec::new();
        {
            let mut handle = conn.lock_handle().await?;
            // SAFETY: the handle is an open connection, locked out of sqlx's worker until
            // `handle` drops at the end of this block; nothing in between awaits.
            let db = handle.as_raw_handle();
            unsafe { read_page(db, &mut st.cursor, &st.to, &mut page) }?;
        }
        st.done = page.len() < PAGE_ROWS as usize;
        if st.done {
            // Back to the pool now, not when the caller drops the stream.
            st.conn = None;
        }
        Ok(Some((stream::iter(page.into_iter().map(Ok)), st)))
    })
    .try_flatten()
    .boxed()
}

pub(super) fn sqlx_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Finalizes the statement however the page read ends.
struct Statement(NonNull<ffi::sqlite3_stmt>);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful `sqlite3_prepare_v2` and is finalized
        // only here, once. The return value repeats the last step's error, already handled.
        unsafe {
            ffi::sqlite3_finalize(self.0.as_ptr());
        }
    }
}

pub(super) fn sqlite_error(db: NonNull<ffi::sqlite3>, what: &str, rc: c_int) -> StoreError {
    // SAFETY: `db` is an open connection; `sqlite3_errmsg` returns a NUL-terminated string
    // owned by SQLite, valid until the next call on it, copied here at once.
    let msg = unsafe {
        let p = ffi::sqlite3_errmsg(db.as_ptr());
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    StoreError::Database(sqlx::Error::Protocol(format!(
        "sqlite {what} failed (code {rc}): {msg}"
    )))
}

/// Reads up to [`PAGE_ROWS`] rows after `cursor` into `out` and moves `cursor` to the last.
///
/// # Safety
/// `db` must be an open connection that no other thread uses for the duration of the call
/// (a `LockedSqliteHandle` guarantees both).
unsafe fn read_page(
    db: NonNull<ffi::sqlite3>,
    cursor: &mut Cursor,
    to: &str,
    out: &mut Vec<CallRecord>,
) -> Result<()> {
    let mut raw: *mut ffi::sqlite3_stmt = ptr::null_mut();
    // SAFETY: `db` is open (caller's contract); the SQL is NUL-terminated (-1 length).
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(
            db.as_ptr(),
            PAGE_SQL.as_ptr(),
            -1,
            &mut raw,
            ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, "prepare", rc));
    }
    let stmt = Statement(NonNull::new(raw).ok_or_else(|| sqlite_error(db, "prepare", rc))?);
    let s = stmt.0.as_ptr();
    // SAFETY: `s` is a live statement; SQLITE_TRANSIENT makes SQLite copy the texts, so
    // the cursor may change below while the statement still runs.
    unsafe {
        bind_text(db, s, 1, &cursor.started_at)?;
        bind_text(db, s, 2, to)?;
        check(db, "bind", ffi::sqlite3_bind_int64(s, 3, cursor.id))?;
        check(db, "bind", ffi::sqlite3_bind_int64(s, 4, PAGE_ROWS))?;
    }
    out.reserve(PAGE_ROWS as usize);
    loop {
        // SAFETY: live statement, used by this thread only.
        let rc = unsafe { ffi::sqlite3_step(s) };
        match rc {
            ffi::SQLITE_ROW => {
                // SAFETY: the statement is on a row; every `Col` is within PAGE_SQL.
                let record = unsafe { decode_row(s, cursor) }?;
                out.push(record);
            }
            ffi::SQLITE_DONE => return Ok(()),
            _ => return Err(sqlite_error(db, "step", rc)),
        }
    }
}

/// # Safety
/// `s` must be a live statement on `db`.
unsafe fn bind_text(
    db: NonNull<ffi::sqlite3>,
    s: *mut ffi::sqlite3_stmt,
    index: c_int,
    text: &str,
) -> Result<()> {
    let len = c_int::try_from(text.len())
        .map_err(|_| StoreError::invalid("report period", "bound text too long"))?;
    // SAFETY: `text` is valid for `len` bytes; SQLITE_TRANSIENT makes SQLite copy it.
    let rc = unsafe {
        ffi::sqlite3_bind_text(
            s,
            index,
            text.as_ptr().cast::<c_char>(),
            len,
            ffi::SQLITE_TRANSIENT(),
        )
    };
    check(db, "bind", rc)
}

pub(super) fn check(db: NonNull<ffi::sqlite3>, what: &str, rc: c_int) -> Result<()> {
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlite_error(db, what, rc))
    }
}

/// The column's bytes, `None` for NULL. Numbers come back as SQLite's text for them, as
/// sqlx's `String` decoding gives them.
///
/// # Safety
/// `s` must be on a row. The slice is valid until the next step or finalize, or the next
/// read of the same column: the caller copies it before any of those.
unsafe fn bytes<'s>(s: *mut ffi::sqlite3_stmt, col: Col) -> Option<&'s [u8]> {
    let i = col as c_int;
    // SAFETY: per the function's contract. `sqlite3_column_text` before
    // `sqlite3_column_bytes`, the order SQLite documents for a stable length.
    unsafe {
        if ffi::sqlite3_column_type(s, i) == ffi::SQLITE_NULL {
            return None;
        }
        let p = ffi::sqlite3_column_text(s, i);
        let n = ffi::sqlite3_column_bytes(s, i);
        match usize::try_from(n) {
            Ok(n) if !p.is_null() => Some(std::slice::from_raw_parts(p, n)),
            // An out-of-memory conversion: SQLite returns NULL; read as an empty text so
            // the NOT NULL checks below report it rather than crash.
            _ => Some(&[]),
        }
    }
}

/// # Safety
/// As [`bytes`].
unsafe fn opt_str<'s>(s: *mut ffi::sqlite3_stmt, col: Col) -> Result<Option<&'s str>> {
    // SAFETY: forwarded contract.
    match unsafe { bytes(s, col) } {
        None => Ok(None),
        Some(b) => std::str::from_utf8(b)
            .map(Some)
            .map_err(|e| corrupt(col, e)),
    }
}

/// # Safety
/// As [`bytes`].
unsafe fn req_str<'s>(s: *mut ffi::sqlite3_stmt, col: Col) -> Result<&'s str> {
    // SAFETY: forwarded contract.
    unsafe { opt_str(s, col) }?.ok_or_else(|| corrupt(col, "NULL"))
}

/// # Safety
/// `s` must be on a row.
unsafe fn int(s: *mut ffi::sqlite3_stmt, col: Col) -> Result<i64> {
    let i = col as c_int;
    // SAFETY: per the function's contract.
    unsafe {
        match ffi::sqlite3_column_type(s, i) {
            ffi::SQLITE_INTEGER => Ok(ffi::sqlite3_column_int64(s, i)),
            t => Err(corrupt(col, format!("not an integer (SQLite type {t})"))),
        }
    }
}

/// A timestamp as sqlx decodes a `DateTime<Utc>` from SQLite: RFC 3339 or one of SQLite's
/// date-time texts, Unix seconds as an integer, a Julian day as a real.
///
/// # Safety
/// `s` must be on a row.
unsafe fn opt_time(s: *mut ffi::sqlite3_stmt, col: Col) -> Result<Option<DateTime<Utc>>> {
    let i = col as c_int;
    // SAFETY: per the function's contract.
    let t = unsafe { ffi::sqlite3_column_type(s, i) };
    match t {
        ffi::SQLITE_NULL => Ok(None),
        ffi::SQLITE_INTEGER => {
            // SAFETY: as above.
            let secs = unsafe { ffi::sqlite3_column_int64(s, i) };
            Utc.timestamp_opt(secs, 0)
                .single()
                .map(Some)
                .ok_or_else(|| corrupt(col, format!("timestamp {secs} out of range")))
        }
        ffi::SQLITE_FLOAT => {
            // SAFETY: as above.
            let jd = unsafe { ffi::sqlite3_column_double(s, i) };
            julian_day(jd)
                .map(Some)
                .ok_or_else(|| corrupt(col, format!("Julian day {jd} out of range")))
        }
        _ => {
            // SAFETY: as above.
            let text = unsafe { req_str(s, col) }?;
            parse_time(text)
                .map(Some)
                .ok_or_else(|| corrupt(col, format!("invalid date-time {text:?}")))
        }
    }
}

fn julian_day(jd: f64) -> Option<DateTime<Utc>> {
    const UNIX_EPOCH_JD: f64 = 2_440_587.5;
    let secs = (jd - UNIX_EPOCH_JD) * 86_400.0;
    // The range check makes the casts exact-or-truncating, never saturating garbage.
    if !secs.is_finite() || secs.abs() > 1e15 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (whole, nanos) = (secs.trunc() as i64, (secs.fract() * 1e9).abs() as u32);
    Utc.timestamp_opt(whole, nanos).single()
}

/// Parses a stored timestamp. The store writes `YYYY-MM-DDTHH:MM:SS+00:00` (sqlx's
/// encoding of a whole-second UTC time), read here without chrono's general parser; any
/// other text goes through the formats sqlx accepts.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    fast_utc(text.as_bytes()).or_else(|| slow_time(text))
}

fn fast_utc(b: &[u8]) -> Option<DateTime<Utc>> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b'+',
        b'0',
        b'0',
        b':',
        b'0',
        b'0',
    ] = *b
    else {
        return None;
    };
    fn digit(c: u8) -> Option<u32> {
        c.is_ascii_digit().then(|| u32::from(c - b'0'))
    }
    let two = |a, b| Some(digit(a)? * 10 + digit(b)?);
    let year = i32::try_from(two(y0, y1)? * 100 + two(y2, y3)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, two(mo0, mo1)?, two(d0, d1)?)?;
    let time = date.and_hms_opt(two(h0, h1)?, two(mi0, mi1)?, two(s0, s1)?)?;
    Some(time.and_utc())
}

/// The texts sqlx-sqlite 0.8 accepts for a `DateTime<Utc>`, in its order.
fn slow_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const FORMATS: [&str; 12] = [
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    FORMATS.iter().find_map(|f| {
        DateTime::parse_from_str(text, f)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| NaiveDateTime::parse_from_str(text, f).map(|t| t.and_utc()))
            .ok()
    })
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// Decodes the current row and moves `cursor` to it.
///
/// # Safety
/// `s` must be a PAGE_SQL statement on a row.
unsafe fn decode_row(s: *mut ffi::sqlite3_stmt, cursor: &mut Cursor) -> Result<CallRecord> {
    // SAFETY: every call below reads one column of the current row and copies what it
    // borrows before the next read of that column.
    unsafe {
        let id = int(s, Col::Id)?;
        let started_text = req_str(s, Col::StartedAt)?;
        let started_at = parse_time(started_text).ok_or_else(|| {
            corrupt(
                Col::StartedAt,
                format!("invalid date-time {started_text:?}"),
            )
        })?;
        // The keyset keeps the raw text: the comparison in PAGE_SQL is textual. The buffer
        // is reused, so this allocates once per stream.
        cursor.started_at.clear();
        cursor.started_at.push_str(started_text);
        cursor.id = id;
        let ended_at = opt_time(s, Col::EndedAt)?.ok_or_else(|| corrupt(Col::EndedAt, "NULL"))?;
        let talk = int(s, Col::TalkSeconds)?;
        Ok(CallRecord {
            id,
            started_at,
            answered_at: opt_time(s, Col::AnsweredAt)?,
            ended_at,
            talk_seconds: u32::try_from(talk).map_err(|e| corrupt(Col::TalkSeconds, e))?,
            direction: parse_direction(req_str(s, Col::Direction)?)?,
            disposition: parse_disposition(req_str(s, Col::Disposition)?)?,
            caller_extension: owned(opt_str(s, Col::CallerExtension)?),
            caller_number: req_str(s, Col::CallerNumber)?.to_owned(),
            caller_site: owned(opt_str(s, Col::CallerSite)?),
            caller_department: owned(opt_str(s, Col::CallerDepartment)?),
            callee_extension: owned(opt_str(s, Col::CalleeExtension)?),
            callee_number: req_str(s, Col::CalleeNumber)?.to_owned(),
            callee_site: owned(opt_str(s, Col::CalleeSite)?),
            callee_department: owned(opt_str(s, Col::CalleeDepartment)?),
            trunk: owned(opt_str(s, Col::Trunk)?),
            synthetic: int(s, Col::Synthetic)? != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_chrono() {
        for text in ["2006-01-01T05:50:12+00:00", "2024-02-29T23:59:59+00:00"] {
            assert_eq!(
                fast_utc(text.as_bytes()),
                DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            );
        }
    }

    #[test]
    fn bad_and_other_texts() {
        // Not a date: the fast path refuses, so does the slow one.
        assert_eq!(fast_utc(b"2006-02-30T05:50:12+00:00"), None);
        assert_eq!(parse_time("2006-02-30T05:50:12+00:00"), None);
        assert_eq!(parse_time("2006-0x-01T05:50:12+00:00"), None);
        assert_eq!(parse_time(""), None);
        // Other offsets and SQLite's own format go through the slow path.
        let want = Utc.with_ymd_and_hms(2006, 1, 1, 4, 50, 12).single();
        assert_eq!(parse_time("2006-01-01T05:50:12+01:00"), want);
        assert_eq!(parse_time("2006-01-01 04:50:12"), want);
        assert_eq!(parse_time("2006-01-01T04:50:12.000Z"), want);
    }

    fn record(started_at: DateTime<Utc>) -> CallRecord {
        CallRecord {
            id: 0,
            started_at,
            answered_at: None,
            ended_at: started_at,
            talk_seconds: 0,
            direction: billing::CallDirection::InternalSameSite,
            disposition: billing::CallDisposition::NoAnswer,
            caller_extension: Some("2001".into()),
            caller_number: "2001".into(),
            caller_site: Some("sorum".into()),
            caller_department: None,
            callee_extension: Some("2002".into()),
            callee_number: "2002".into(),
            callee_site: Some("sorum".into()),
            callee_department: None,
            trunk: None,
            synthetic: true,
        }
    }

    async fn store() -> (tempfile::TempDir, crate::Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::Store::open_in(dir.path(), None)
            .await
            .expect("store");
        (dir, store)
    }

    /// Pages end inside runs of equal `started_at`: the keyset must neither skip nor
    /// repeat a row there, and the order stays (started_at, id).
    #[tokio::test]
    async fn pages_split_ties_without_loss() {
        let (_dir, s) = store().await;
        let t0 = Utc
            .with_ymd_and_hms(2006, 3, 1, 8, 0, 0)
            .single()
            .expect("date");
        let n = 2 * PAGE_ROWS as usize + 7;
        // Seven rows per second: every page boundary falls inside a tie.
        let records: Vec<CallRecord> = (0..n)
            .map(|i| record(t0 + chrono::Duration::seconds(i64::try_from(i / 7).expect("small"))))
            .collect();
        s.insert_call_records(&records).await.expect("insert");
        let end = t0 + chrono::Duration::days(1);
        let got: Vec<CallRecord> = s
            .stream_call_records(t0, end)
            .try_collect()
            .await
            .expect("stream");
        assert_eq!(got.len(), n);
        assert!(
            got.windows(2)
                .all(|w| (w[0].started_at, w[0].id) < (w[1].started_at, w[1].id)),
            "strictly ordered, no repeats"
        );
        // [from, to) on started_at: the first second excluded, the last included.
        let later: Vec<CallRecord> = s
            .stream_call_records(t0 + chrono::Duration::seconds(1), end)
            .try_collect()
            .await
            .expect("stream");
        assert_eq!(later.len(), n - 7);
    }

    /// A bad value in the file is an error, not a panic and not a skipped row.
    #[tokio::test]
    async fn bad_rows_are_corrupt() {
        let (_dir, s) = store().await;
        let t0 = Utc
            .with_ymd_and_hms(2006, 3, 1, 8, 0, 0)
            .single()
            .expect("date");
        s.insert_call_records(&[record(t0)]).await.expect("insert");
        let end = t0 + chrono::Duration::days(1);
        let crate::Backend::Sqlite(pool) = &s.backend else {
            panic!("SQLite store expected");
        };
        // The schema's CHECKs keep out bad directions and dispositions; these get past them.
        for (sql, column) in [
            ("UPDATE call_records SET ended_at = 'yesterday'", "ended_at"),
            (
                "UPDATE call_records SET ended_at = started_at, talk_seconds = 'long'",
                "talk_seconds",
            ),
            (
                "UPDATE call_records SET talk_seconds = 5000000000",
                "talk_seconds",
            ),
            (
                "UPDATE call_records SET talk_seconds = 0, caller_number = CAST(x'ff' AS TEXT)",
                "caller_number",
            ),
        ] {
            sqlx::query(sql).execute(pool).await.expect("update");
            let got: Result<Vec<CallRecord>> = s.stream_call_records(t0, end).try_collect().await;
            match got {
                Err(StoreError::Corrupt { column: c, .. }) => assert_eq!(c, column, "{sql}"),
                other => panic!("{sql}: expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn julian_days() {
        assert_eq!(julian_day(2_440_587.5), Utc.timestamp_opt(0, 0).single());
        assert_eq!(julian_day(f64::NAN), None);
        assert_eq!(julian_day(f64::INFINITY), None);
    }
}
