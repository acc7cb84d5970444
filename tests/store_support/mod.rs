//! Runs one store test on both backends: always on a fresh SQLite file, and on PostgreSQL
//! when `SENTRAL_TEST_POSTGRES` holds a URL, inside a schema of its own (dropped at the
//! end) so parallel tests never see each other's rows.

#![allow(dead_code)]

use std::future::Future;

use chrono::{DateTime, Utc};
use store::{
    ClassOfService, Credentials, DEFAULT_REALM, ExtensionId, NewExtension, NewSite, Store,
};

/// A store plus what to clean up after the test.
pub struct TestStore {
    pub store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

pub async fn sqlite() -> TestStore {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let store = match Store::open_in(dir.path(), None).await {
        Ok(s) => s,
        Err(e) => panic!("open sqlite store: {e}"),
    };
    TestStore {
        store,
        cleanup: Cleanup::Sqlite(dir),
    }
}

/// `None` when `SENTRAL_TEST_POSTGRES` is not set.
pub async fn postgres() -> Option<TestStore> {
    let url = std::env::var("SENTRAL_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())?;
    let schema = format!("t_{:016x}", rand_u64());
    let store = match Store::open_postgres_schema(&url, &schema).await {
        Ok(s) => s,
        Err(e) => panic!("open postgres store in schema {schema}: {e}"),
    };
    Some(TestStore {
        store,
        cleanup: Cleanup::Postgres(schema),
    })
}

impl TestStore {
    pub async fn finish(self) {
        match self.cleanup {
            Cleanup::Sqlite(dir) => {
                self.store.close().await;
                drop(dir);
            }
            Cleanup::Postgres(schema) => {
                if let Err(e) = self.store.drop_postgres_schema(&schema).await {
                    panic!("drop schema {schema}: {e}");
                }
            }
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded per process from the OS; mixing in the time and a counter
    // makes names unique across the tests of one process too.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Runs `case` on SQLite, then on PostgreSQL when configured.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let t = sqlite().await;
    case(t.store.clone()).await;
    t.finish().await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(t) = postgres().await else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL variant skipped");
        return;
    };
    case(t.store.clone()).await;
    t.finish().await;
}

/// `both_backends!(case_fn, ...)` makes a module per case with a `sqlite` and a
/// `postgres` test, each calling `async fn case_fn(store: Store)`.
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::store_support::on_sqlite(super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::store_support::on_postgres(super::$case).await;
            }
        }
    )*};
}

/// A test time from RFC 3339 text.
pub fn t(s: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(d) => d.with_timezone(&Utc),
        Err(e) => panic!("bad test time {s}: {e}"),
    }
}

/// Extension `number` at site `radhus` (created on first use), password "pw".
pub async fn setup_extension(s: &Store, number: &str) -> ExtensionId {
    if s.site_by_code("radhus").await.expect("site").is_none() {
        s.add_site(&NewSite {
            code: "radhus".into(),
            name: "Rådhus".into(),
            address: String::new(),
            department: None,
        })
        .await
        .expect("add site");
    }
    s.add_extension(&NewExtension {
        number: number.into(),
        display_name: number.into(),
        site: "radhus".into(),
        department: None,
        class_of_service: ClassOfService::Mobile,
        premium_allowed: false,
        credentials: Credentials::from_password(number, DEFAULT_REALM, "pw"),
        enabled: true,
    })
    .await
    .expect("add extension")
}
