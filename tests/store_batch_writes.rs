//! The group-commit write paths of the running switchboard: many binding changes, and
//! many call record changes, in one transaction each (`Store::write_registrations`,
//! `Store::write_call_records`). Each case runs on SQLite and on PostgreSQL.

mod store_support;

use billing::{CallDirection, CallDisposition};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use store::*;
use store_support::{setup_extension, t};

both_backends!(
    registration_batch_applies_in_order_in_one_transaction,
    call_record_batch_folds_start_and_end,
    call_record_sink_writes_as_write_call_records_does
);

fn upsert(
    ext: ExtensionId,
    contact: &str,
    expires_at: DateTime<Utc>,
    cseq: u32,
) -> RegistrationWrite {
    RegistrationWrite::Upsert(NewRegistration {
        extension_id: ext,
        contact_uri: contact.into(),
        expires_at,
        transport: "udp".into(),
        source_addr: "192.0.2.7:5062".parse().expect("addr"),
        connection_id: None,
        instance_id: None,
        reg_id: None,
        call_id: format!("reg-{cseq}@phone"),
        cseq,
        user_agent: Some("Yealink T46U".into()),
    })
}

async fn registration_batch_applies_in_order_in_one_transaction(s: Store) {
    let a = setup_extension(&s, "1001").await;
    let b = setup_extension(&s, "1002").await;
    let now = t("2026-03-02T10:00:00Z");
    let later = now + Duration::seconds(3600);

    // Many upserts (more than one multi-row statement), the same binding twice (the later
    // wins; PostgreSQL refuses one statement touching a row twice), removals, `*`.
    let mut writes: Vec<RegistrationWrite> = (0..450)
        .map(|i| {
            upsert(
                b,
                &format!("sip:1002@192.0.2.{}:{}", i % 250, 5000 + i),
                later,
                1,
            )
        })
        .collect();
    writes.push(upsert(a, "sip:1001@x", now + Duration::seconds(60), 1));
    writes.push(upsert(a, "sip:1001@x", later, 2));
    writes.push(upsert(a, "sip:1001@y", later, 1));
    writes.push(RegistrationWrite::Remove {
        extension_id: a,
        contact_uri: "sip:1001@y".into(),
    });
    writes.push(RegistrationWrite::RemoveAll(b));
    writes.push(upsert(b, "sip:1002@z", later, 7));
    s.write_registrations(&writes).await.expect("batch");

    let mine = s.registrations_for(a, now).await.expect("list");
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].contact_uri, "sip:1001@x");
    assert_eq!(
        mine[0].expires_at, later,
        "the later upsert of a binding wins"
    );
    assert_eq!(mine[0].cseq, 2);
    let theirs = s.registrations_for(b, now).await.expect("list");
    assert_eq!(theirs.len(), 1, "`*` removed the 450 written before it");
    assert_eq!(theirs[0].contact_uri, "sip:1002@z");

    // One bad change (an unknown extension) fails the whole batch: nothing is written.
    let bad = vec![
        upsert(a, "sip:1001@new", later, 3),
        upsert(ExtensionId(999_999), "sip:x@y", later, 1),
    ];
    assert!(matches!(
        s.write_registrations(&bad).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.registrations_for(a, now).await.expect("list").len(),
        1,
        "rolled back"
    );
    s.write_registrations(&[]).await.expect("empty batch");
}

fn call(started: DateTime<Utc>, callee: &str) -> NewCallRecord {
    NewCallRecord {
        started_at: started,
        direction: CallDirection::InternalSameSite,
        caller_extension: Some("1001".into()),
        caller_number: "1001".into(),
        caller_site: Some("radhus".into()),
        caller_department: None,
        callee_extension: Some(callee.into()),
        callee_number: callee.into(),
        callee_site: Some("radhus".into()),
        callee_department: None,
        trunk: None,
        synthetic: false,
    }
}

fn answered(start: DateTime<Utc>, talk: i64) -> CallCompletion {
    CallCompletion {
        answered_at: Some(start + Duration::seconds(2)),
        ended_at: start + Duration::seconds(2 + talk),
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
        callee_leg: None,
    }
}

async fn call_record_batch_folds_start_and_end(s: Store) {
    let start = t("2026-03-02T09:15:00Z");
    // A call started and ended within one batch is one INSERT of the whole record; another
    // stays open.
    let outcomes = s
        .write_call_records(&[
            CallRecordWrite::Start {
                record: call(start, "1002"),
                answered_at: None,
                completion: Some(answered(start, 30)),
            },
            CallRecordWrite::Start {
                record: call(start, "1003"),
                answered_at: Some(start + Duration::seconds(1)),
                completion: None,
            },
        ])
        .await
        .expect("batch");
    let [
        CallWriteOutcome::Started(done_id),
        CallWriteOutcome::Started(open_id),
    ] = outcomes[..]
    else {
        panic!("two records started: {outcomes:?}");
    };
    let done = s.call_record(done_id).await.expect("get").expect("exists");
    assert_eq!(done.ended_at, Some(start + Duration::seconds(32)));
    assert_eq!(done.answered_at, Some(start + Duration::seconds(2)));
    assert_eq!(done.talk_seconds, 30);
    assert_eq!(done.disposition, Some(CallDisposition::Answered));
    assert_eq!(done.sip_code, Some(200));
    assert_eq!(done.caller_leg, answered(start, 30).caller_leg);
    assert_eq!(done.callee_leg, None);
    assert!(done.transfer_chain.is_empty());
    let open = s.open_call_records().await.expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, open_id);
    assert_eq!(open[0].answered_at, Some(start + Duration::seconds(1)));
    assert_eq!(open[0].talk_seconds, 0);

    // Updates: a new caller and callee, then completion; a record that is not open is reported,
    // without failing the batch.
    let outcomes = s
        .write_call_records(&[
            CallRecordWrite::Update {
                id: open_id,
                caller: Some(CallParty {
                    extension: Some("1005".into()),
                    number: "1005".into(),
                    site: Some("radhus".into()),
                    department: None,
                }),
                callee: Some(CallParty {
                    extension: Some("1004".into()),
                    number: "1004".into(),
                    site: Some("radhus".into()),
                    department: Some("Økonomi".into()),
                }),
                route: Some(CallRoute {
                    direction: CallDirection::Inbound,
                    trunk: Some("telia".into()),
                }),
                answered_at: None,
                completion: Some(answered(start, 60)),
            },
            CallRecordWrite::Update {
                id: done_id,
                caller: None,
                callee: None,
                route: None,
                answered_at: Some(start),
                completion: None,
            },
        ])
        .await
        .expect("batch");
    assert_eq!(
        outcomes,
        vec![
            CallWriteOutcome::Updated,
            CallWriteOutcome::NotOpen(done_id)
        ]
    );
    let r = s.call_record(open_id).await.expect("get").expect("exists");
    assert_eq!(r.caller_extension.as_deref(), Some("1005"));
    assert_eq!(r.callee_extension.as_deref(), Some("1004"));
    assert_eq!(r.callee_department.as_deref(), Some("Økonomi"));
    assert_eq!(r.direction, CallDirection::Inbound);
    assert_eq!(r.trunk.as_deref(), Some("telia"));
    assert_eq!(r.talk_seconds, 60);
    assert_eq!(r.disposition, Some(CallDisposition::Answered));
    assert!(s.open_call_records().await.expect("open").is_empty());
    let untouched = s.call_record(done_id).await.expect("get").expect("exists");
    assert_eq!(untouched.answered_at, Some(start + Duration::seconds(2)));
    assert!(
        s.write_call_records(&[]).await.expect("empty").is_empty(),
        "an empty batch writes nothing"
    );
}

/// The record writer's sink (its own SQLite connection and thread; the pool on
/// PostgreSQL) gives the records and outcomes `write_call_records` gives.
async fn call_record_sink_writes_as_write_call_records_does(s: Store) {
    let sink = s.call_record_sink().await;
    assert_eq!(sink.is_dedicated(), s.kind() == BackendKind::Sqlite);
    let start = t("2026-03-02T09:15:00Z") + Duration::nanoseconds(250_000_000);
    let first = |callee: &str| {
        vec![
            CallRecordWrite::Start {
                record: call(start, callee),
                answered_at: None,
                completion: Some(answered(start, 30)),
            },
            CallRecordWrite::Start {
                record: call(start, callee),
                answered_at: Some(start + Duration::seconds(1)),
                completion: None,
            },
        ]
    };
    let second = |open: CallRecordId, done: CallRecordId| {
        vec![
            CallRecordWrite::Update {
                id: open,
                caller: None,
                callee: Some(CallParty {
                    extension: None,
                    number: "4722000000".into(),
                    site: None,
                    department: None,
                }),
                route: Some(CallRoute {
                    direction: CallDirection::Outbound,
                    trunk: Some("telia".into()),
                }),
                answered_at: None,
                completion: Some(answered(start, 45)),
            },
            CallRecordWrite::Update {
                id: done,
                caller: None,
                callee: None,
                route: None,
                answered_at: Some(start),
                completion: None,
            },
        ]
    };
    let mut records = Vec::new();
    for via_sink in [false, true] {
        let writes = first(if via_sink { "1003" } else { "1002" });
        let outcomes = if via_sink {
            sink.write(Arc::from(writes)).await
        } else {
            s.write_call_records(&writes).await
        }
        .expect("first batch");
        let [
            CallWriteOutcome::Started(done),
            CallWriteOutcome::Started(open),
        ] = outcomes[..]
        else {
            panic!("two records started: {outcomes:?}");
        };
        let writes = second(open, done);
        let outcomes = if via_sink {
            sink.write(Arc::from(writes)).await
        } else {
            s.write_call_records(&writes).await
        }
        .expect("second batch");
        assert_eq!(
            outcomes,
            vec![CallWriteOutcome::Updated, CallWriteOutcome::NotOpen(done)]
        );
        for id in [done, open] {
            let mut r = s.call_record(id).await.expect("get").expect("exists");
            r.id = CallRecordId(0);
            records.push(r);
        }
    }
    assert_eq!(records[0].callee_number, "1002");
    assert_eq!(records[2].callee_number, "1003");
    records[2].callee_number = "1002".into();
    records[2].callee_extension = Some("1002".into());
    assert_eq!(records[..2], records[2..], "the same rows either way");
    assert_eq!(records[1].callee_number, "4722000000");
    assert_eq!(records[1].talk_seconds, 45);
    assert!(s.open_call_records().await.expect("open").is_empty());
}
