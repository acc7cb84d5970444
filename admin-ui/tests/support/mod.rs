//! Shared test harness: a store on SQLite (and PostgreSQL when `SENTRAL_TEST_POSTGRES` is
//! set, one schema per test), a fake `LiveView`, the router driven with `oneshot`, and
//! helpers to sign in.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use admin_ui::{AppState, LiveCall, LiveEvent, LiveRegistration, LiveView};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use store::Store;
use tokio::sync::broadcast;
use tower::ServiceExt;

pub struct FakeLive {
    pub registrations: Mutex<Vec<LiveRegistration>>,
    pub calls: Mutex<Vec<LiveCall>>,
    pub hung_up: Mutex<Vec<u64>>,
    pub events: broadcast::Sender<LiveEvent>,
}

impl FakeLive {
    pub fn new() -> Arc<FakeLive> {
        let (events, _) = broadcast::channel(16);
        Arc::new(FakeLive {
            registrations: Mutex::new(Vec::new()),
            calls: Mutex::new(vec![LiveCall {
                id: 1,
                caller: "1000".into(),
                callee: "1001".into(),
                started_at: Utc::now(),
                answered_at: Some(Utc::now()),
                state: "answered".into(),
            }]),
            hung_up: Mutex::new(Vec::new()),
            events,
        })
    }

    pub fn register(&self, extension: &str) {
        let source: SocketAddr = "192.0.2.10:5060"
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        if let Ok(mut r) = self.registrations.lock() {
            r.push(LiveRegistration {
                extension: extension.into(),
                contact: format!("sip:{extension}@192.0.2.10"),
                transport: "udp".into(),
                source,
                expires_at: Utc::now() + chrono::Duration::minutes(5),
                user_agent: Some("test phone".into()),
            });
        }
    }
}

impl LiveView for FakeLive {
    fn registrations(&self) -> Vec<LiveRegistration> {
        self.registrations
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
    fn active_calls(&self) -> Vec<LiveCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
    fn hang_up(&self, call_id: u64) -> bool {
        let Ok(mut calls) = self.calls.lock() else {
            return false;
        };
        let before = calls.len();
        calls.retain(|c| c.id != call_id);
        if let Ok(mut h) = self.hung_up.lock() {
            h.push(call_id);
        }
        calls.len() != before
    }
    fn trunk_states(&self) -> Vec<(String, bool)> {
        vec![("telenor".into(), true)]
    }
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }
}

pub struct TestApp {
    pub store: Store,
    pub live: Arc<FakeLive>,
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as sent (downloads: XLSX is binary).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
    }
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }
    /// The first value of `marker` ... `"` or `<` in the body.
    pub fn find(&self, marker: &str) -> Option<String> {
        let start = self.body.find(marker)? + marker.len();
        let rest = &self.body[start..];
        let end = rest.find(['"', '<'])?;
        Some(rest[..end].to_string())
    }
    pub fn csrf(&self) -> Option<String> {
        self.find("name=\"csrf\" value=\"")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A signed-in browser: session cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    pub async fn new(store: Store) -> TestApp {
        let live = FakeLive::new();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let params = argon2::Params::new(1024, 1, 1, None).unwrap_or_default();
        let state = AppState::new(store.clone(), live.clone(), dir.path().to_path_buf())
            .with_argon2_params(params);
        TestApp {
            store,
            live,
            state,
            dir,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let response = admin_ui::app(self.state.clone())
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        let is_stream = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let bytes = if is_stream {
            Vec::new()
        } else {
            response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default()
        };
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&self, path: &str, browser: Option<&Browser>) -> Reply {
        let mut req = Request::get(path);
        if let Some(b) = browser {
            req = req.header(header::COOKIE, &b.cookie);
        }
        self.send(req.body(Body::empty()).unwrap_or_default()).await
    }

    /// Posts a form; the CSRF field is added from `browser` unless `csrf` overrides it.
    pub async fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Reply {
        let body = serde_urlencoded::to_string(fields).unwrap_or_default();
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).unwrap_or_default())
            .await
    }

    pub async fn post(&self, path: &str, b: &Browser, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", b.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, Some(&b.cookie), &all).await
    }

    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<serde_json::Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match json {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap_or_default()).await
    }

    /// Creates a user with `password`, returns its id.
    pub async fn user(&self, name: &str, role: &str, password: &str) -> i64 {
        let params = argon2::Params::new(1024, 1, 1, None).unwrap_or_default();
        let hash = admin_ui::auth::hash_password(password, &params).unwrap_or_default();
        self.store
            .create_admin_user(name, role, &hash)
            .await
            .unwrap_or_else(|e| panic!("create user: {e}"))
    }

    /// A fully signed-in session for a new user of `role`, made directly in the store
    /// (the sign-in flow itself is tested in admin_auth.rs).
    pub async fn session(&self, role: &str) -> Browser {
        let id = self
            .user(&format!("{role}-user"), role, "irrelevant-password")
            .await;
        let token = admin_ui::auth::random_token();
        let csrf = admin_ui::auth::random_token();
        self.store
            .create_admin_session(&store::NewAdminSession {
                id_hash: admin_ui::auth::sha256_hex(&token),
                user_id: Some(id),
                stage: "full".into(),
                csrf_token: csrf.clone(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
                source: "test".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("session: {e}"));
        Browser {
            cookie: format!("sentral_session={token}"),
            csrf,
        }
    }

    /// An API token for `role`.
    pub async fn token(&self, role: &str) -> String {
        let token = format!("snt_{}", admin_ui::auth::random_token());
        self.store
            .create_api_token(
                &format!("{role} token"),
                role,
                &admin_ui::auth::sha256_hex(&token),
                "test",
            )
            .await
            .unwrap_or_else(|e| panic!("token: {e}"));
        token
    }

    pub async fn seed_site(&self, code: &str) {
        self.store
            .add_site(&store::NewSite {
                code: code.into(),
                name: format!("Site {code}"),
                address: String::new(),
                department: Some("IT".into()),
            })
            .await
            .unwrap_or_else(|e| panic!("site: {e}"));
    }
}

pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = Store::open_in(dir.path(), None)
        .await
        .unwrap_or_else(|e| panic!("open sqlite: {e}"));
    case(store.clone()).await;
    store.close().await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = std::env::var("SENTRAL_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL variant skipped");
        return;
    };
    let schema = format!("t_ui_{}", &admin_ui::auth::random_token()[..16]);
    let store = Store::open_postgres_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("open postgres: {e}"));
    case(store.clone()).await;
    store
        .drop_postgres_schema(&schema)
        .await
        .unwrap_or_else(|e| panic!("drop schema: {e}"));
}

/// `both_backends!(case, ...)`: a module per case with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::on_sqlite(super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::on_postgres(super::$case).await;
            }
        }
    )*};
}

/// An outbound call from extension `caller` at site `radhus` (department IT) to
/// `callee_number`, starting at `start`; change fields with `..outbound_call(..)`.
pub fn outbound_call(
    caller: &str,
    callee_number: &str,
    start: chrono::DateTime<Utc>,
) -> store::NewCallRecord {
    store::NewCallRecord {
        started_at: start,
        direction: billing::CallDirection::Outbound,
        caller_extension: Some(caller.into()),
        caller_number: caller.into(),
        caller_site: Some("radhus".into()),
        caller_department: Some("IT".into()),
        callee_extension: None,
        callee_number: callee_number.into(),
        callee_site: None,
        callee_department: None,
        trunk: None,
        synthetic: false,
    }
}

/// Stores `call` as answered at its start and ended after `talk_seconds` of talk.
pub async fn store_answered_call(
    store: &Store,
    call: store::NewCallRecord,
    talk_seconds: u32,
) -> store::CallRecordId {
    let start = call.started_at;
    let id = store
        .start_call(&call)
        .await
        .unwrap_or_else(|e| panic!("call: {e}"));
    store
        .complete_call(
            id,
            &store::CallCompletion {
                answered_at: Some(start),
                ended_at: start + chrono::Duration::seconds(i64::from(talk_seconds)),
                talk_seconds,
                disposition: billing::CallDisposition::Answered,
                sip_code: Some(200),
                sip_reason: None,
                transfer_chain: vec![],
                caller_leg: None,
                callee_leg: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("complete: {e}"));
    id
}
