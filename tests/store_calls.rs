//! Store tests for the running switchboard's data: registrations, call records (open →
//! complete, crash recovery, costs), the bulk path and the streamed period. Each case runs
//! on SQLite and on PostgreSQL.

mod store_support;

use billing::{CallDirection, CallDisposition, CallRecord};
use chrono::{DateTime, Duration, TimeZone, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use store::*;
use store_support::{setup_extension, t};

both_backends!(
    registrations_upsert_and_sweep,
    call_record_lifecycle,
    open_calls_closed_as_interrupted,
    bulk_insert_and_stream_period,
    caller_changed_by_a_transfer
);

fn binding(
    ext: ExtensionId,
    contact: &str,
    expires_at: DateTime<Utc>,
    cseq: u32,
) -> NewRegistration {
    NewRegistration {
        extension_id: ext,
        contact_uri: contact.into(),
        expires_at,
        transport: "udp".into(),
        source_addr: "192.0.2.7:5062".parse().expect("addr"),
        connection_id: None,
        instance_id: Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>".into()),
        reg_id: Some(1),
        call_id: "reg-1@phone".into(),
        cseq,
        user_agent: Some("Yealink T46U".into()),
    }
}

async fn registrations_upsert_and_sweep(s: Store) {
    let a = setup_extension(&s, "1001").await;
    let b = setup_extension(&s, "1002").await;
    let now = t("2026-03-02T10:00:00Z");

    let id1 = s
        .upsert_registration(&binding(
            a,
            "sip:1001@192.0.2.7:5062",
            now + Duration::seconds(60),
            1,
        ))
        .await
        .expect("reg");
    let mut refresh = binding(
        a,
        "sip:1001@192.0.2.7:5062",
        now + Duration::seconds(3600),
        2,
    );
    refresh.source_addr = "192.0.2.8:40000".parse().expect("addr");
    refresh.transport = "tcp".into();
    refresh.connection_id = Some("conn-17".into());
    let id2 = s.upsert_registration(&refresh).await.expect("refresh");
    assert_eq!(
        id1, id2,
        "same extension and contact: one binding, refreshed"
    );
    s.upsert_registration(&binding(
        a,
        "sip:1001@198.51.100.9:5060",
        now + Duration::seconds(30),
        1,
    ))
    .await
    .expect("second contact");
    s.upsert_registration(&binding(
        b,
        "sip:1002@192.0.2.9",
        now - Duration::seconds(1),
        1,
    ))
    .await
    .expect("expired one");

    let mine = s.registrations_for(a, now).await.expect("list");
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine[0].contact_uri, "sip:1001@198.51.100.9:5060",
        "soonest expiry first"
    );
    let refreshed = &mine[1];
    assert_eq!(refreshed.expires_at, now + Duration::seconds(3600));
    assert_eq!(refreshed.transport, "tcp");
    assert_eq!(refreshed.source_addr.to_string(), "192.0.2.8:40000");
    assert_eq!(refreshed.connection_id.as_deref(), Some("conn-17"));
    assert_eq!(refreshed.cseq, 2);
    assert_eq!(refreshed.extension_number, "1001");
    assert!(
        s.registrations_for(b, now).await.expect("list").is_empty(),
        "expired binding is not live"
    );
    assert_eq!(
        s.registrations().await.expect("all").len(),
        3,
        "until swept it is still stored"
    );

    assert!(
        matches!(
            s.upsert_registration(&binding(ExtensionId(999_999), "sip:x@y", now, 1))
                .await,
            Err(StoreError::NotFound { .. })
        ),
        "binding for an unknown extension"
    );

    assert_eq!(
        s.sweep_expired_registrations(now + Duration::seconds(30))
            .await
            .expect("sweep"),
        2
    );
    assert_eq!(s.registrations().await.expect("all").len(), 1);
    assert!(
        s.remove_registration(a, "sip:1001@192.0.2.7:5062")
            .await
            .expect("remove")
    );
    assert!(
        !s.remove_registration(a, "sip:1001@192.0.2.7:5062")
            .await
            .expect("remove again")
    );

    s.upsert_registration(&binding(a, "sip:1001@a", now + Duration::seconds(60), 3))
        .await
        .expect("reg");
    s.upsert_registration(&binding(a, "sip:1001@b", now + Duration::seconds(60), 3))
        .await
        .expect("reg");
    assert_eq!(s.remove_registrations(a).await.expect("star"), 2);
    s.upsert_registration(&binding(a, "sip:1001@c", now + Duration::seconds(60), 4))
        .await
        .expect("reg");
    s.remove_extension("1001").await.expect("remove extension");
    assert!(
        s.registrations().await.expect("all").is_empty(),
        "bindings go with their extension"
    );
}

fn outbound_call(started: DateTime<Utc>) -> NewCallRecord {
    NewCallRecord {
        started_at: started,
        direction: CallDirection::Outbound,
        caller_extension: Some("1001".into()),
        caller_number: "63869001".into(),
        caller_site: Some("radhus".into()),
        caller_department: Some("Administrasjon".into()),
        callee_extension: None,
        callee_number: "91234567".into(),
        callee_site: None,
        callee_department: None,
        trunk: Some("telenor".into()),
        synthetic: false,
    }
}

async fn call_record_lifecycle(s: Store) {
    let start = t("2026-03-02T09:15:00Z");
    let id = s.start_call(&outbound_call(start)).await.expect("start");
    let open = s.open_call_records().await.expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, id);
    assert!(open[0].ended_at.is_none() && open[0].disposition.is_none());
    assert!(
        open[0].to_billing().is_none(),
        "an open call is not billable yet"
    );

    s.set_call_callee(
        id,
        &CallParty {
            extension: Some("1002".into()),
            number: "63869002".into(),
            site: Some("radhus".into()),
            department: Some("Økonomi".into()),
        },
    )
    .await
    .expect("transfer target");
    let moved = s.call_record(id).await.expect("get").expect("exists");
    assert_eq!(moved.callee_extension.as_deref(), Some("1002"));
    assert_eq!(moved.callee_department.as_deref(), Some("Økonomi"));
    s.answer_call(id, start + Duration::seconds(5))
        .await
        .expect("answer");
    let done = CallCompletion {
        answered_at: Some(start + Duration::seconds(5)),
        ended_at: start + Duration::seconds(125),
        talk_seconds: 120,
        disposition: CallDisposition::Answered,
        sip_code: Some(200),
        sip_reason: Some("OK".into()),
        transfer_chain: vec![TransferStep {
            at: start + Duration::seconds(60),
            kind: TransferKind::Blind,
            by: "1001".into(),
            to: "1002".into(),
        }],
        caller_leg: Some(LegQuality {
            packets: 6000,
            lost: 12,
            jitter_ms: 3.5,
            mos: 4.3,
        }),
        callee_leg: Some(LegQuality {
            packets: 5990,
            lost: 0,
            jitter_ms: 1.25,
            mos: 4.4,
        }),
    };
    s.complete_call(id, &done).await.expect("complete");
    assert!(
        matches!(
            s.complete_call(id, &done).await,
            Err(StoreError::NotFound { .. })
        ),
        "a record is completed once"
    );
    assert!(s.open_call_records().await.expect("open").is_empty());

    let cost = CallCost {
        cost_new: "1.23".parse::<Decimal>().expect("dec"),
        cost_old: Some("12.3456789".parse::<Decimal>().expect("dec")),
        tariff_version: "new-2006".into(),
        rated_at: start + Duration::seconds(126),
    };
    s.set_call_cost(id, &cost).await.expect("cost");
    assert!(matches!(
        s.set_call_cost(CallRecordId(999_999), &cost).await,
        Err(StoreError::NotFound { .. })
    ));

    let r = s.call_record(id).await.expect("get").expect("exists");
    assert_eq!(r.ended_at, Some(start + Duration::seconds(125)));
    assert_eq!(r.answered_at, Some(start + Duration::seconds(5)));
    assert_eq!(r.talk_seconds, 120);
    assert_eq!(r.disposition, Some(CallDisposition::Answered));
    assert_eq!(
        (r.sip_code, r.sip_reason.as_deref()),
        (Some(200), Some("OK"))
    );
    assert_eq!(r.transfer_chain, done.transfer_chain);
    assert_eq!(r.caller_leg, done.caller_leg);
    assert_eq!(r.callee_leg, done.callee_leg);
    // Exact decimals, scale kept, on both backends.
    assert_eq!(r.cost_new.map(|d| d.to_string()).as_deref(), Some("1.23"));
    assert_eq!(
        r.cost_old.map(|d| d.to_string()).as_deref(),
        Some("12.3456789")
    );
    assert_eq!(r.tariff_version.as_deref(), Some("new-2006"));
    assert!(
        matches!(
            s.set_call_callee(
                id,
                &CallParty {
                    extension: None,
                    number: "1".into(),
                    site: None,
                    department: None
                }
            )
            .await,
            Err(StoreError::NotFound { .. })
        ),
        "a completed record keeps its parties"
    );
    let b = r.to_billing().expect("finished");
    assert_eq!(b.id, id.0);
    assert_eq!(b.caller_site.as_deref(), Some("radhus"));
    assert_eq!(b.direction, CallDirection::Outbound);

    let listed = s
        .call_records(&CallFilter {
            from: Some(start),
            to: Some(start + Duration::seconds(1)),
            limit: None,
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    let none = s
        .call_records(&CallFilter {
            from: Some(start + Duration::seconds(1)),
            to: None,
            limit: None,
        })
        .await
        .expect("list");
    assert!(
        none.is_empty(),
        "the period bounds started_at as [from, to)"
    );
}

async fn open_calls_closed_as_interrupted(s: Store) {
    let start = t("2026-03-02T09:00:00Z");
    let a = s.start_call(&outbound_call(start)).await.expect("a");
    let b = s
        .start_call(&outbound_call(start + Duration::seconds(1)))
        .await
        .expect("b");
    s.answer_call(b, start + Duration::seconds(3))
        .await
        .expect("answer b");
    let c = s
        .start_call(&outbound_call(start + Duration::seconds(2)))
        .await
        .expect("c");
    s.complete_call(
        c,
        &CallCompletion {
            answered_at: None,
            ended_at: start + Duration::seconds(10),
            talk_seconds: 0,
            disposition: CallDisposition::Busy,
            sip_code: Some(486),
            sip_reason: Some("Busy Here".into()),
            transfer_chain: vec![],
            caller_leg: None,
            callee_leg: None,
        },
    )
    .await
    .expect("complete c");

    let restart = start + Duration::hours(2);
    assert_eq!(
        s.close_open_calls_as_interrupted(restart)
            .await
            .expect("close"),
        2
    );
    assert!(s.open_call_records().await.expect("open").is_empty());
    for id in [a, b] {
        let r = s.call_record(id).await.expect("get").expect("exists");
        assert_eq!(r.disposition, Some(CallDisposition::Interrupted));
        assert_eq!(r.ended_at, Some(restart));
        assert_eq!(r.talk_seconds, 0, "downtime is not billed as talk time");
    }
    let busy = s.call_record(c).await.expect("get").expect("exists");
    assert_eq!(busy.disposition, Some(CallDisposition::Busy));
    assert_eq!(busy.sip_code, Some(486));
    assert!(matches!(
        s.answer_call(a, restart).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn synthetic(i: u32, started: DateTime<Utc>) -> CallRecord {
    let answered = i % 3 != 0;
    let talk = if answered { 30 + i % 200 } else { 0 };
    CallRecord {
        id: 0,
        started_at: started,
        answered_at: answered.then(|| started + Duration::seconds(4)),
        ended_at: started + Duration::seconds(4 + i64::from(talk)),
        talk_seconds: talk,
        direction: if i % 2 == 0 {
            CallDirection::Outbound
        } else {
            CallDirection::InternalOtherSite
        },
        disposition: if answered {
            CallDisposition::Answered
        } else {
            CallDisposition::NoAnswer
        },
        caller_extension: Some(format!("{}", 1000 + i % 50)),
        caller_number: format!("6386{:04}", 9000 + i % 50),
        caller_site: Some("radhus".into()),
        caller_department: Some("Administrasjon".into()),
        callee_extension: (i % 2 == 1).then(|| "2001".to_string()),
        callee_number: if i % 2 == 0 {
            format!("9{:07}", i)
        } else {
            "2001".into()
        },
        callee_site: (i % 2 == 1).then(|| "vektergarden".to_string()),
        callee_department: None,
        trunk: (i % 2 == 0).then(|| "telenor".to_string()),
        synthetic: true,
    }
}

async fn bulk_insert_and_stream_period(s: Store) {
    let day1 = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .expect("date");
    // 1 250 calls per day over 3 days: crosses the 500-row statement batches.
    let records: Vec<CallRecord> = (0..3750u32)
        .map(|i| {
            synthetic(
                i,
                day1 + Duration::seconds(i64::from(i / 1250) * 86_400 + i64::from(i % 1250) * 60),
            )
        })
        .collect();
    assert_eq!(s.insert_call_records(&records).await.expect("bulk"), 3750);
    // An open record inside the period is not streamed.
    s.start_call(&outbound_call(
        day1 + Duration::days(1) + Duration::seconds(30),
    ))
    .await
    .expect("open");

    let day2 = day1 + Duration::days(1);
    let day3 = day1 + Duration::days(2);
    assert_eq!(s.count_call_records(day2, day3).await.expect("count"), 1250);
    let streamed: Vec<CallRecord> = s
        .stream_call_records(day2, day3)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(streamed.len(), 1250);
    assert!(
        streamed
            .windows(2)
            .all(|w| w[0].started_at <= w[1].started_at),
        "oldest first"
    );
    for (got, want) in streamed.iter().zip(&records[1250..2500]) {
        assert!(got.id > 0);
        let mut got = got.clone();
        got.id = 0;
        assert_eq!(&got, want);
    }

    // Regenerating a period removes only synthetic records.
    assert_eq!(
        s.delete_synthetic_calls(day1, day2).await.expect("delete"),
        1250
    );
    assert_eq!(
        s.count_call_records(day1, day3 + Duration::days(1))
            .await
            .expect("count"),
        2500
    );
    assert_eq!(s.open_call_records().await.expect("open").len(), 1);
}

/// The caller transferred its call away: the open record names the new calling party and
/// nothing else changes; a finished or unknown record is refused.
async fn caller_changed_by_a_transfer(s: Store) {
    let start = t("2026-03-03T10:00:00Z");
    let before = outbound_call(start);
    let id = s.start_call(&before).await.expect("start");
    let now_calling = CallParty {
        extension: Some("1003".into()),
        number: "1003".into(),
        site: Some("skole".into()),
        department: None,
    };
    s.set_call_caller(id, &now_calling)
        .await
        .expect("new caller");
    let r = s.call_record(id).await.expect("get").expect("exists");
    assert_eq!(r.caller_extension.as_deref(), Some("1003"));
    assert_eq!(r.caller_number, "1003");
    assert_eq!(r.caller_site.as_deref(), Some("skole"));
    assert_eq!(r.caller_department, None, "the old department is not kept");
    assert_eq!(r.callee_number, before.callee_number, "the callee stays");
    assert_eq!(r.trunk, before.trunk);
    assert_eq!(r.direction, before.direction);
    assert!(matches!(
        s.set_call_caller(CallRecordId(999_999), &now_calling).await,
        Err(StoreError::NotFound { .. })
    ));
    let done = CallCompletion {
        answered_at: None,
        ended_at: start + Duration::seconds(30),
        talk_seconds: 0,
        disposition: CallDisposition::Cancelled,
        sip_code: Some(487),
        sip_reason: Some("Request Terminated".into()),
        transfer_chain: Vec::new(),
        caller_leg: None,
        callee_leg: None,
    };
    s.complete_call(id, &done).await.expect("complete");
    assert!(
        matches!(
            s.set_call_caller(id, &now_calling).await,
            Err(StoreError::NotFound { .. })
        ),
        "a completed record keeps its parties"
    );
    let r = s.call_record(id).await.expect("get").expect("exists");
    assert_eq!(r.caller_extension.as_deref(), Some("1003"));
}
