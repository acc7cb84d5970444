//! Store tests for the admin pages' reads (store/src/call_reports.rs): the call list paged
//! and filtered in SQL against the same filter applied in Rust to every record, its count,
//! and the per-day counts and versions kept by triggers. Each case runs on SQLite and on
//! PostgreSQL.

mod store_support;

use billing::{CallDirection, CallDisposition, CallRecord};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use store::*;

both_backends!(
    pages_and_counts_match_a_filter_in_rust,
    day_versions_follow_writes
);

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("bad time {y}-{m}-{d} {h}"))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

/// Varied records: three sites, five extensions each side, every direction and several
/// outcomes, some on the same second (ties broken by id).
fn record(i: u32, started: DateTime<Utc>) -> CallRecord {
    let sites = ["radhus", "sorumsand", "frogner"];
    let depts = ["Administrasjon", "Helse", "Skole"];
    let directions = [
        CallDirection::Outbound,
        CallDirection::Inbound,
        CallDirection::InternalSameSite,
        CallDirection::InternalOtherSite,
        CallDirection::Emergency,
    ];
    let outcomes = [
        CallDisposition::Answered,
        CallDisposition::Busy,
        CallDisposition::NoAnswer,
        CallDisposition::Answered,
    ];
    let caller_ext = format!("{}", 2000 + i % 5);
    let callee_ext = format!("{}", 2003 + i % 7);
    CallRecord {
        id: 0,
        started_at: started,
        answered_at: None,
        ended_at: started + Duration::seconds(60),
        talk_seconds: 60,
        direction: directions[(i % 5) as usize],
        disposition: outcomes[(i % 4) as usize],
        caller_extension: (i % 6 != 0).then_some(caller_ext.clone()),
        caller_number: caller_ext,
        caller_site: Some(sites[(i % 3) as usize].into()),
        caller_department: (i % 4 != 0).then(|| depts[(i % 3) as usize].into()),
        callee_extension: (i % 2 == 0).then_some(callee_ext.clone()),
        callee_number: callee_ext,
        callee_site: (i % 2 == 0).then(|| sites[((i / 2) % 3) as usize].into()),
        callee_department: (i % 2 == 0).then(|| depts[((i / 3) % 3) as usize].into()),
        trunk: None,
        synthetic: true,
    }
}

fn matches(r: &StoredCallRecord, q: &CallQuery) -> bool {
    let either = |a: &Option<String>, b: &Option<String>, want: &Option<String>| {
        want.as_ref()
            .is_none_or(|w| a.as_ref() == Some(w) || b.as_ref() == Some(w))
    };
    q.from.is_none_or(|f| r.started_at >= f)
        && q.to.is_none_or(|t| r.started_at < t)
        && either(&r.caller_site, &r.callee_site, &q.site)
        && either(&r.caller_department, &r.callee_department, &q.department)
        && either(&r.caller_extension, &r.callee_extension, &q.extension)
        && q.direction
            .as_deref()
            .is_none_or(|d| r.direction.as_str() == d)
        && q.outcome
            .as_deref()
            .is_none_or(|o| r.disposition.map(|d| d.as_str()) == Some(o))
}

async fn pages_and_counts_match_a_filter_in_rust(s: Store) {
    // 600 records over four days, ten minutes apart with every third on the same second
    // as the one before, and one call still in progress.
    let start = utc(2026, 3, 1, 20);
    let records: Vec<CallRecord> = (0..600u32)
        .map(|i| record(i, start + Duration::seconds(i64::from(i - i % 3 / 2) * 600)))
        .collect();
    assert_eq!(s.insert_call_records(&records).await.expect("insert"), 600);
    s.start_call(&NewCallRecord {
        caller_extension: Some("2001".into()),
        caller_number: "2001".into(),
        caller_site: Some("radhus".into()),
        caller_department: None,
        callee_extension: None,
        callee_number: "99999999".into(),
        callee_site: None,
        callee_department: None,
        direction: CallDirection::Outbound,
        trunk: None,
        started_at: utc(2026, 3, 2, 12) + Duration::seconds(7),
        synthetic: false,
    })
    .await
    .expect("open call");

    let mut all = s.call_records(&CallFilter::default()).await.expect("all");
    all.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.0.cmp(&a.id.0)));
    assert_eq!(all.len(), 601);

    let some = |v: &str| Some(v.to_string());
    let queries = [
        CallQuery::default(),
        // Whole UTC days: the count comes from the per-day table.
        CallQuery {
            from: Some(utc(2026, 3, 2, 0)),
            to: Some(utc(2026, 3, 4, 0)),
            ..CallQuery::default()
        },
        CallQuery {
            from: Some(utc(2026, 3, 3, 0)),
            ..CallQuery::default()
        },
        // Not whole days: counted in SQL.
        CallQuery {
            from: Some(utc(2026, 3, 2, 5)),
            to: Some(utc(2026, 3, 3, 17)),
            ..CallQuery::default()
        },
        CallQuery {
            site: some("sorumsand"),
            ..CallQuery::default()
        },
        CallQuery {
            department: some("Helse"),
            direction: some("outbound"),
            ..CallQuery::default()
        },
        CallQuery {
            extension: some("2004"),
            from: Some(utc(2026, 3, 2, 0)),
            to: Some(utc(2026, 3, 5, 0)),
            ..CallQuery::default()
        },
        CallQuery {
            extension: some("2003"),
            outcome: some("busy"),
            ..CallQuery::default()
        },
        CallQuery {
            direction: some("no such direction"),
            ..CallQuery::default()
        },
    ];
    for q in &queries {
        let want: Vec<&StoredCallRecord> = all.iter().filter(|r| matches(r, q)).collect();
        assert_eq!(
            s.count_matching_calls(q).await.expect("count"),
            want.len() as u64,
            "count of {q:?}"
        );
        for (offset, limit) in [(0u64, 50u32), (50, 50), (37, 13), (590, 50)] {
            let got = s.call_record_page(q, offset, limit).await.expect("page");
            let want_ids: Vec<i64> = want
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|r| r.id.0)
                .collect();
            let got_ids: Vec<i64> = got.iter().map(|r| r.id.0).collect();
            assert_eq!(got_ids, want_ids, "page {offset}+{limit} of {q:?}");
        }
    }
    // A page holds the whole record, as the full read gives it.
    let first = s
        .call_record_page(&CallQuery::default(), 0, 1)
        .await
        .expect("page");
    assert_eq!(first.first(), all.first());
}

async fn day_versions_follow_writes(s: Store) {
    assert!(
        s.call_record_day_versions(day(2026, 1, 1), day(2026, 12, 31))
            .await
            .expect("versions")
            .is_empty(),
        "no records, no days"
    );
    let records: Vec<CallRecord> = (0..30u32)
        .map(|i| record(i, utc(2026, 6, 1 + i / 10, 8 + i % 10)))
        .collect();
    s.insert_call_records(&records).await.expect("insert");
    let days = s
        .call_record_day_versions(day(2026, 6, 1), day(2026, 6, 30))
        .await
        .expect("versions");
    assert_eq!(
        days.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        vec![day(2026, 6, 1), day(2026, 6, 2), day(2026, 6, 3)]
    );
    let whole_days = |from: u32, to: u32| CallQuery {
        from: Some(utc(2026, 6, from, 0)),
        to: Some(utc(2026, 6, to, 0)),
        ..CallQuery::default()
    };
    assert_eq!(
        s.count_matching_calls(&whole_days(2, 3)).await.expect("n"),
        10
    );

    // An update of what billing reads (completing a call of 2 June) moves only that
    // day's version.
    let open = s
        .start_call(&NewCallRecord {
            caller_extension: Some("2001".into()),
            caller_number: "2001".into(),
            caller_site: Some("radhus".into()),
            caller_department: None,
            callee_extension: None,
            callee_number: "99999999".into(),
            callee_site: None,
            callee_department: None,
            direction: CallDirection::Outbound,
            trunk: None,
            started_at: utc(2026, 6, 2, 23),
            synthetic: false,
        })
        .await
        .expect("open call");
    let before = s
        .call_record_day_versions(day(2026, 6, 1), day(2026, 6, 30))
        .await
        .expect("versions");
    s.complete_call(
        open,
        &CallCompletion {
            answered_at: None,
            ended_at: utc(2026, 6, 2, 23) + Duration::seconds(20),
            talk_seconds: 0,
            disposition: CallDisposition::NoAnswer,
            sip_code: Some(480),
            sip_reason: None,
            transfer_chain: vec![],
            caller_leg: None,
            callee_leg: None,
        },
    )
    .await
    .expect("complete");
    let after_update = s
        .call_record_day_versions(day(2026, 6, 1), day(2026, 6, 30))
        .await
        .expect("versions");
    for ((d, v0), (_, v1)) in before.iter().zip(&after_update) {
        if *d == day(2026, 6, 2) {
            assert!(v1 > v0, "updated day's version rises");
        } else {
            assert_eq!(v1, v0, "other days unchanged");
        }
    }
    assert_eq!(
        s.count_matching_calls(&whole_days(2, 3)).await.expect("n"),
        11
    );

    // A delete lowers the day's count and raises its version; a new day appears.
    let removed = s
        .delete_synthetic_calls(utc(2026, 6, 3, 0), utc(2026, 6, 3, 12))
        .await
        .expect("delete");
    assert_eq!(removed, 4);
    s.insert_call_records(&[record(1, utc(2026, 6, 20, 9))])
        .await
        .expect("insert");
    let after = s
        .call_record_day_versions(day(2026, 6, 1), day(2026, 6, 30))
        .await
        .expect("versions");
    assert_eq!(after.len(), 4);
    assert!(
        after[2].1 > after_update[2].1,
        "deleted day's version rises"
    );
    assert_eq!(
        s.count_matching_calls(&whole_days(3, 4)).await.expect("n"),
        6
    );
    assert_eq!(
        s.count_matching_calls(&whole_days(1, 30)).await.expect("n"),
        28
    );
    assert_eq!(
        s.count_matching_calls(&CallQuery::default())
            .await
            .expect("n"),
        28
    );
}
