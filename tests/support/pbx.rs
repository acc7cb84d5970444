//! Starts a real PBX in-process for a test: a fresh store (SQLite in a temp dir, or a
//! PostgreSQL schema of its own), two sites with number ranges, a few extensions with
//! known passwords, the RTP relay on 127.0.0.1 and SIP on 127.0.0.1 port 0 (UDP and TCP).

use pbx::{PbxConfig, PbxServer};
use sip_core::driver::DriverConfig;
use sip_core::rtp_relay::RelayConfig;
use sip_core::transport::TransportKind;
use std::net::SocketAddr;
use store::{ClassOfService, Credentials, DEFAULT_REALM, NewExtension, NewSite, RangeOwner, Store};

/// Extensions every test PBX has: (number, site, class of service, password).
pub const EXTENSIONS: &[(&str, &str, ClassOfService, &str)] = &[
    (
        "1001",
        "radhus",
        ClassOfService::International,
        "pw-1001-secret",
    ),
    ("1002", "radhus", ClassOfService::National, "pw-1002-secret"),
    ("1003", "radhus", ClassOfService::Internal, "pw-1003-secret"),
    ("2001", "fjuk", ClassOfService::Mobile, "pw-2001-secret"),
];

pub fn password(number: &str) -> &'static str {
    EXTENSIONS
        .iter()
        .find(|e| e.0 == number)
        .map(|e| e.3)
        .expect("known test extension")
}

/// Which backend a test PBX runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Backends to run on: SQLite always, PostgreSQL when `SENTRAL_TEST_POSTGRES` is set.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if std::env::var("SENTRAL_TEST_POSTGRES").is_ok_and(|u| !u.is_empty()) {
        v.push(Backend::Postgres);
    }
    v
}

pub struct TestPbx {
    pub server: PbxServer,
    pub store: Store,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub backend: Backend,
    /// Kept so the SQLite file outlives the server, and for restart tests.
    pub data_dir: Option<tempfile::TempDir>,
    pub pg_schema: Option<String>,
}

/// Opens a fresh store on `backend` and fills it with the test sites and extensions.
pub async fn seeded_store(backend: Backend) -> (Store, Option<tempfile::TempDir>, Option<String>) {
    let (store, dir, schema) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = Store::open_in(dir.path(), None)
                .await
                .expect("open sqlite store");
            (store, Some(dir), None)
        }
        Backend::Postgres => {
            let url = std::env::var("SENTRAL_TEST_POSTGRES").expect("postgres url");
            let schema = format!("t_pbx_{:016x}", rand::random::<u64>());
            let store = Store::open_postgres_schema(&url, &schema)
                .await
                .expect("open postgres store");
            (store, None, Some(schema))
        }
    };
    for (code, name, first, last) in [
        ("radhus", "Sørum rådhus", "63869000", "63869399"),
        ("fjuk", "Fjuk skole", "63869400", "63869499"),
    ] {
        let id = store
            .add_site(&NewSite {
                code: code.into(),
                name: name.into(),
                address: format!("{name}, 1920 Sørumsand"),
                department: Some(format!("Dept {code}")),
            })
            .await
            .expect("add site");
        store
            .add_number_range(RangeOwner::Site(id), first, last)
            .await
            .expect("add range");
    }
    for (number, site, cos, pw) in EXTENSIONS {
        store
            .add_extension(&NewExtension {
                number: number.to_string(),
                display_name: format!("Test {number}"),
                site: site.to_string(),
                department: None,
                class_of_service: *cos,
                premium_allowed: false,
                credentials: Credentials::from_password(number, DEFAULT_REALM, pw),
                enabled: true,
            })
            .await
            .expect("add extension");
    }
    (store, dir, schema)
}

/// A PBX on `backend` with `config`, listening on 127.0.0.1 (UDP and TCP, port 0).
pub async fn start_pbx(backend: Backend, config: PbxConfig) -> TestPbx {
    let (store, data_dir, pg_schema) = seeded_store(backend).await;
    start_on(store, backend, config, data_dir, pg_schema).await
}

/// Starts a PBX on an existing store (restart tests).
pub async fn start_on(
    store: Store,
    backend: Backend,
    config: PbxConfig,
    data_dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
) -> TestPbx {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let relay = RelayConfig {
        bind: "127.0.0.1".parse().expect("ip"),
        port_min: 30000,
        port_max: 39999,
        ..RelayConfig::default()
    };
    let driver = DriverConfig {
        udp: vec![loopback],
        tcp: vec![loopback],
        ..DriverConfig::default()
    };
    let server = PbxServer::start(config, store.clone(), relay, driver)
        .await
        .expect("pbx starts");
    let udp = server.sip_addr(TransportKind::Udp).expect("udp");
    let tcp = server.sip_addr(TransportKind::Tcp).expect("tcp");
    TestPbx {
        server,
        store,
        udp,
        tcp,
        backend,
        data_dir,
        pg_schema,
    }
}

impl TestPbx {
    /// Adds `trunk` to the store and reloads the directory, as the admin UI does; the
    /// trunk as the running PBX now sees it.
    pub async fn add_trunk(&self, trunk: &store::NewTrunk) -> store::Trunk {
        self.store.add_trunk(trunk).await.expect("add trunk");
        self.server
            .ctx
            .directory
            .reload(&self.store)
            .await
            .expect("reload directory");
        self.server
            .ctx
            .directory
            .snapshot()
            .trunk(&trunk.name)
            .map(|t| (**t).clone())
            .expect("trunk in the directory")
    }

    /// Stops the PBX and removes its store.
    pub async fn finish(self) {
        self.server.shutdown().await;
        if let Some(schema) = self.pg_schema {
            self.store
                .drop_postgres_schema(&schema)
                .await
                .expect("drop schema");
        } else {
            self.store.close().await;
        }
    }
}
