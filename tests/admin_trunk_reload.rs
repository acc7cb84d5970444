//! A trunk created, edited and deleted the way the admin UI does it (the store's
//! `create_trunk` / `update_trunk` / `remove_trunk`) reaches the running PBX through the
//! config-version reload, without a restart, on every store backend.

mod support;

use std::time::Duration;

use pbx::PbxConfig;
use support::pbx::{backends, start_pbx};

/// Waits up to five seconds for the PBX's directory to satisfy `ok`.
async fn until(
    pbx: &support::pbx::TestPbx,
    what: &str,
    ok: impl Fn(&pbx::directory::Snapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if ok(&pbx.server.ctx.directory.snapshot()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the running PBX never saw: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_changes_reach_the_running_pbx() {
    for backend in backends() {
        let pbx = start_pbx(backend, PbxConfig::default()).await;
        let trunk = store::NewTrunk {
            name: "provider".into(),
            host: "192.0.2.50".into(),
            port: 5060,
            transport: store::TrunkTransport::Udp,
            username: Some("kommune".into()),
            secret: Some(store::Secret::new("s1")),
            register: false,
            channel_limit: Some(4),
            allowed_sources: vec!["192.0.2.0/28".into()],
            enabled: true,
        };
        pbx.store
            .create_trunk(&trunk, &[("22330000".into(), "22330099".into())])
            .await
            .expect("create");
        until(&pbx, "the new trunk", |s| {
            s.trunks.iter().any(|t| {
                t.name == "provider" && t.channel_limit == Some(4) && t.number_ranges.len() == 1
            })
        })
        .await;
        let edited = store::NewTrunk {
            host: "192.0.2.60".into(),
            channel_limit: Some(9),
            allowed_sources: vec!["198.51.100.0/24".into()],
            ..trunk.clone()
        };
        pbx.store
            .update_trunk(
                "provider",
                &edited,
                &store::SecretChange::Set(store::Secret::new("s2")),
                &[],
            )
            .await
            .expect("update");
        until(&pbx, "the edited trunk", |s| {
            s.trunks.iter().any(|t| {
                t.name == "provider"
                    && t.host == "192.0.2.60"
                    && t.channel_limit == Some(9)
                    && t.allowed_sources == ["198.51.100.0/24"]
                    && t.secret.as_ref().map(|x| x.expose()) == Some("s2")
                    && t.number_ranges.is_empty()
            })
        })
        .await;
        // The new source list is what inbound calls are checked against now.
        let snap = pbx.server.ctx.directory.snapshot();
        let ip = "198.51.100.7".parse().expect("ip");
        assert!(pbx::trunk::trunk_for_source(&snap, ip).is_some_and(|t| t.name == "provider"));
        let old_ip = "192.0.2.3".parse().expect("ip");
        assert!(pbx::trunk::trunk_for_source(&snap, old_ip).is_none());
        pbx.store.remove_trunk("provider").await.expect("remove");
        until(&pbx, "the trunk gone", |s| s.trunks.is_empty()).await;
        pbx.finish().await;
    }
}
