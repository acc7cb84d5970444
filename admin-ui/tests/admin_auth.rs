//! Sign-in: first-start admin, password + TOTP enrolment (codes computed here per RFC
//! 6238), recovery codes, replay refusal, lockout, CSRF refusal, headers and language.

mod support;

use admin_ui::totp;
use axum::http::StatusCode;
use chrono::Utc;
use store::Store;
use support::{Browser, TestApp};

fn now_code(secret_b32: &str) -> String {
    let secret = totp::base32_decode(secret_b32).unwrap_or_default();
    totp::code_for_step(&secret, totp::step_at(Utc::now().timestamp()))
}

/// GET /login then POST /login; returns the half-signed-in cookie and where it leads.
async fn password_step(
    app: &TestApp,
    user: &str,
    password: &str,
) -> (support::Reply, Option<String>) {
    let form = app.get("/login", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = form
        .set_cookie()
        .unwrap_or_else(|| panic!("login page sets a session cookie"));
    let csrf = form
        .csrf()
        .unwrap_or_else(|| panic!("login form has a CSRF field"));
    let reply = app
        .post_form(
            "/login",
            Some(&cookie),
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await;
    let next = reply.set_cookie();
    (reply, next)
}

async fn first_start_admin(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let password = admin_ui::ensure_admin(&store, app.dir.path())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let password = password.unwrap_or_else(|| panic!("first start creates admin"));
    let file = app.dir.path().join(admin_ui::ADMIN_PASSWORD_FILE);
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(saved.trim(), password);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o777, 0o600, "owner-only password file");
    }
    assert_eq!(
        admin_ui::ensure_admin(&store, app.dir.path())
            .await
            .ok()
            .flatten(),
        None,
        "only on the first start"
    );
    // The printed password signs in (argon2id with production parameters).
    let (reply, _) = password_step(&app, "admin", &password).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/enrol"));
}

async fn totp_enrolment_and_sign_in(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.user("kari", "admin", "korrekt hest batteri").await;
    let (reply, cookie) = password_step(&app, "kari", "korrekt hest batteri").await;
    assert_eq!(reply.location(), Some("/enrol"));
    let cookie = cookie.unwrap_or_else(|| panic!("session rotated after password"));
    // Half signed in: the pages stay closed.
    let b = Browser {
        cookie: cookie.clone(),
        csrf: String::new(),
    };
    assert_eq!(app.get("/", Some(&b)).await.location(), Some("/login"));

    let enrol = app.get("/enrol", Some(&b)).await;
    assert_eq!(enrol.status, StatusCode::OK);
    assert!(enrol.body.contains("<svg"), "QR code as SVG");
    let secret = enrol
        .find("id=\"totp-secret\">")
        .unwrap_or_else(|| panic!("secret shown"));
    let csrf = enrol.csrf().unwrap_or_default();
    // A wrong code does not enrol.
    let wrong = app
        .post_form(
            "/enrol",
            Some(&cookie),
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let user = store
        .admin_user("kari")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("user"));
    assert!(!user.totp_enrolled);
    // The right code does, and shows ten recovery codes once.
    let enrol_code = now_code(&secret);
    let ok = app
        .post_form(
            "/enrol",
            Some(&cookie),
            &[("csrf", &csrf), ("code", &enrol_code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body.matches("<li class=\"secret\">").count(), 10);
    let recovery = ok.find("<li class=\"secret\">").unwrap_or_default();
    let full = Browser {
        cookie: ok.set_cookie().unwrap_or_default(),
        csrf: String::new(),
    };
    let home = app.get("/", Some(&full)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        store
            .admin_user("kari")
            .await
            .ok()
            .flatten()
            .is_some_and(|u| u.totp_enrolled)
    );
    assert!(
        store
            .audit_log(20)
            .await
            .unwrap_or_default()
            .iter()
            .any(|e| e.action == "auth.totp_enrol" && e.actor == "kari")
    );

    // Sign in again: password, then the code; the code of the enrolment step is spent.
    let (reply, cookie) = password_step(&app, "kari", "korrekt hest batteri").await;
    assert_eq!(reply.location(), Some("/login/totp"));
    let cookie = cookie.unwrap_or_default();
    let form = app
        .get(
            "/login/totp",
            Some(&Browser {
                cookie: cookie.clone(),
                csrf: String::new(),
            }),
        )
        .await;
    let csrf = form.csrf().unwrap_or_default();
    let replay = app
        .post_form(
            "/login/totp",
            Some(&cookie),
            &[("csrf", &csrf), ("code", &enrol_code)],
        )
        .await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a TOTP code works once (RFC 6238 §5.2)"
    );
    // A recovery code works, once.
    let rec = app
        .post_form(
            "/login/totp",
            Some(&cookie),
            &[("csrf", &csrf), ("code", &recovery)],
        )
        .await;
    assert_eq!(rec.status, StatusCode::SEE_OTHER, "{}", rec.body);
    assert_eq!(rec.location(), Some("/"));
    let (_, cookie2) = password_step(&app, "kari", "korrekt hest batteri").await;
    let cookie2 = cookie2.unwrap_or_default();
    let form = app
        .get(
            "/login/totp",
            Some(&Browser {
                cookie: cookie2.clone(),
                csrf: String::new(),
            }),
        )
        .await;
    let csrf2 = form.csrf().unwrap_or_default();
    let again = app
        .post_form(
            "/login/totp",
            Some(&cookie2),
            &[("csrf", &csrf2), ("code", &recovery)],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "recovery codes are one-time"
    );
    // The old half-signed-in session id was rotated away.
    assert_eq!(
        app.get(
            "/login/totp",
            Some(&Browser {
                cookie,
                csrf: String::new()
            })
        )
        .await
        .location(),
        Some("/login")
    );
}

async fn lockout_after_failed_logins(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.user("ola", "finance", "riktig-passord").await;
    for _ in 0..admin_ui::auth::MAX_FAILED_LOGINS {
        let (reply, _) = password_step(&app, "ola", "feil").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, with the same message.
    let (reply, _) = password_step(&app, "ola", "riktig-passord").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let user = store
        .admin_user("ola")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("user"));
    assert!(user.locked_until.is_some_and(|t| t > Utc::now()));
    let lockouts = store
        .audit_log_action("auth.lockout", 10)
        .await
        .unwrap_or_default();
    assert_eq!(lockouts.len(), 1);
    // The overview lists it.
    let admin = app.session("admin").await;
    assert!(
        app.get("/", Some(&admin))
            .await
            .body
            .contains("locked after")
    );
    // Unknown users get the same answer.
    let (reply, _) = password_step(&app, "nobody", "x").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn csrf_is_required(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    let b = app.session("admin").await;
    let fields = [("code", "skole"), ("name", "Skolen")];
    let none = app.post_form("/sites", Some(&b.cookie), &fields).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(none.body.contains("lang=\"nb\""), "refusal as a page");
    let mut wrong = vec![("csrf", "0000")];
    wrong.extend_from_slice(&fields);
    assert_eq!(
        app.post_form("/sites", Some(&b.cookie), &wrong)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Another session's token does not fit this one.
    let other = app.session("finance").await;
    let mut theirs = vec![("csrf", other.csrf.as_str())];
    theirs.extend_from_slice(&fields);
    assert_eq!(
        app.post_form("/sites", Some(&b.cookie), &theirs)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(
        store.site_by_code("skole").await.ok().flatten().is_none(),
        "nothing changed"
    );
    // With the token it works, and is audited.
    let ok = app.post("/sites", &b, &fields).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(store.site_by_code("skole").await.ok().flatten().is_some());
    let audit = store.audit_log(5).await.unwrap_or_default();
    assert!(
        audit.iter().any(|e| e.action == "site.add"
            && e.actor == "admin-user"
            && e.detail.contains("skole"))
    );
    // The login form needs the token of its anonymous session, too.
    let form = app.get("/login", None).await;
    let cookie = form.set_cookie().unwrap_or_default();
    let r = app
        .post_form(
            "/login",
            Some(&cookie),
            &[("username", "x"), ("password", "y")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn headers_cookies_and_language(store: Store) {
    let app = TestApp::new(store).await;
    let form = app.get("/login", None).await;
    let h = &form.headers;
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && csp.contains("frame-ancestors 'none'")
    );
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        h.get("referrer-policy").and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    let cookie = h
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && !cookie.contains("Secure")
    );
    assert!(form.body.contains("<html lang=\"nb\"") && form.body.contains("Logg inn"));
    assert!(!form.body.contains("<script>"), "no inline script");
    let en = app
        .send(
            axum::http::Request::get("/login")
                .header("accept-language", "en-GB,en;q=0.9,nb;q=0.5")
                .body(axum::body::Body::empty())
                .unwrap_or_default(),
        )
        .await;
    assert!(en.body.contains("<html lang=\"en\"") && en.body.contains("Sign in"));
    // Secure flag under TLS.
    let tls = TestApp {
        state: app.state.clone().with_secure_cookies(true),
        ..app
    };
    let c = tls.get("/login", None).await;
    assert!(
        c.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("Secure")
    );
    // Static assets are served from the binary.
    assert!(
        tls.get("/static/app.js", None)
            .await
            .body
            .contains("EventSource")
    );
    // Unknown paths: 404 with a JSON code for the API.
    let r = tls.api("GET", "/api/v1/nothing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn logout_ends_session(store: Store) {
    let app = TestApp::new(store).await;
    let b = app.session("staff").await;
    assert_eq!(app.get("/", Some(&b)).await.status, StatusCode::OK);
    let out = app.post("/logout", &b, &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/", Some(&b)).await.location(), Some("/login"));
}

both_backends!(
    first_start_admin,
    totp_enrolment_and_sign_in,
    lockout_after_failed_logins,
    csrf_is_required,
    headers_cookies_and_language,
    logout_ends_session,
);

/// `serve` over real TCP: answers, sees the client address, stops on shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_shuts_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    support::on_sqlite(|store| async move {
        let app = TestApp::new(store.clone()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(admin_ui::serve(listener, app.state.clone(), async move {
            let _ = stopped.await;
        }));
        let mut conn = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        conn.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut reply = String::new();
        conn.read_to_string(&mut reply)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("content-security-policy")
        );
        let _ = stop.send(());
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
        assert!(matches!(done, Ok(Ok(Ok(())))), "server stopped cleanly");
    })
    .await;
}
