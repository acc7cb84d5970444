//! Walks EVERY route of the table with EVERY role (and with no sign-in, and half signed
//! in) and checks the server allows or refuses as the table says; checks the table against
//! the routers' source and the OpenAPI document against the table.

mod support;

use admin_ui::app::{Access, ROUTES};
use admin_ui::auth::Role;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use store::Store;
use support::TestApp;

fn concrete(path: &str) -> String {
    path.replace("{code}", "x")
        .replace("{number}", "1000")
        .replace("{id}", "1")
        .replace("{name}", "x")
}

/// A new session for user `user_id` at `stage`; returns (cookie, csrf).
async fn session(app: &TestApp, user_id: i64, stage: &str) -> (String, String) {
    let token = admin_ui::auth::random_token();
    let csrf = admin_ui::auth::random_token();
    app.store
        .create_admin_session(&store::NewAdminSession {
            id_hash: admin_ui::auth::sha256_hex(&token),
            user_id: Some(user_id),
            stage: stage.into(),
            csrf_token: csrf.clone(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
            source: "test".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("session: {e}"));
    (format!("sentral_session={token}"), csrf)
}

enum Who {
    Anonymous,
    Session { user_id: i64, stage: &'static str },
    Token(String),
}

async fn request(app: &TestApp, method: &str, path: &str, who: &Who) -> support::Reply {
    let mut req = Request::builder().method(method).uri(concrete(path));
    let api = path.starts_with("/api/");
    match who {
        Who::Anonymous => {}
        Who::Session { user_id, stage } => {
            // A fresh session per request: POST /logout ends the one it is given.
            let (cookie, csrf) = session(app, *user_id, stage).await;
            req = req
                .header(header::COOKIE, cookie)
                .header("x-csrf-token", csrf);
        }
        Who::Token(t) if api => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
        Who::Token(_) => {}
    }
    app.send(req.body(Body::empty()).unwrap_or_default()).await
}

/// Refusals: 401, 403, or a page GET sent to the sign-in form. (POST /logout also ends
/// at /login, as its success.)
fn refused(method: &str, r: &support::Reply) -> bool {
    matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        || (method == "GET" && r.status == StatusCode::SEE_OTHER && r.location() == Some("/login"))
}

async fn seed(app: &TestApp) {
    app.seed_site("x").await;
    let ext = store::NewExtension {
        number: "1000".into(),
        display_name: "Resepsjon".into(),
        site: "x".into(),
        department: None,
        class_of_service: store::ClassOfService::National,
        premium_allowed: false,
        credentials: store::Credentials::from_password("1000", store::DEFAULT_REALM, "pw"),
        enabled: true,
    };
    app.store
        .add_extension(&ext)
        .await
        .unwrap_or_else(|e| panic!("extension: {e}"));
}

async fn every_route_every_role(store: Store) {
    let app = TestApp::new(store).await;
    seed(&app).await;
    // Row 1 of users and tokens is what `{id}` routes disable and revoke: keep the
    // principals under test away from it.
    app.user("victim", "staff", "pw").await;
    app.token("staff").await;
    let mut checked = 0;
    for role in Role::ALL {
        let user_id = app
            .user(&format!("u-{}", role.as_str()), role.as_str(), "pw")
            .await;
        let token = app.token(role.as_str()).await;
        for route in ROUTES {
            let api = route.path.starts_with("/api/");
            let who = if api {
                Who::Token(token.clone())
            } else {
                Who::Session {
                    user_id,
                    stage: "full",
                }
            };
            let r = request(&app, route.method, route.path, &who).await;
            let allowed = match route.access {
                Access::Public => true,
                Access::Pending => false,
                Access::Roles(roles) => roles.contains(&role),
            };
            let what = format!(
                "{} {} as {}: {} {}",
                route.method,
                route.path,
                role.as_str(),
                r.status,
                r.body
            );
            if allowed {
                assert!(!refused(route.method, &r), "should be allowed: {what}");
                assert_ne!(
                    r.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "route not served: {what}"
                );
                if !route.path.contains('{') {
                    assert_ne!(r.status, StatusCode::NOT_FOUND, "route not served: {what}");
                }
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "should be refused: {what}");
                if api {
                    assert_eq!(r.json()["error"]["code"], "forbidden", "{what}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * Role::ALL.len());
}

async fn anonymous_and_half_signed_in(store: Store) {
    let app = TestApp::new(store).await;
    seed(&app).await;
    let user_id = app.user("halfway", "admin", "pw").await;
    for route in ROUTES {
        let api = route.path.starts_with("/api/");
        let anon = request(&app, route.method, route.path, &Who::Anonymous).await;
        let half = request(
            &app,
            route.method,
            route.path,
            &Who::Session {
                user_id,
                stage: "password",
            },
        )
        .await;
        let what = format!(
            "{} {}: anonymous {} / half {}",
            route.method, route.path, anon.status, half.status
        );
        match route.access {
            Access::Public => assert!(
                !refused(route.method, &anon) || route.method == "POST",
                "{what}"
            ),
            Access::Pending => {
                assert!(refused(route.method, &anon), "{what}");
                assert!(!refused(route.method, &half), "{what}");
            }
            Access::Roles(_) => {
                assert!(refused(route.method, &anon), "{what}");
                if api {
                    assert_eq!(anon.status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(anon.json()["error"]["code"], "unauthorized", "{what}");
                } else {
                    assert!(
                        refused(route.method, &half),
                        "half signed in is not signed in: {what}"
                    );
                    if route.method == "GET" {
                        assert_eq!(anon.location(), Some("/login"), "{what}");
                    }
                }
            }
        }
    }
    // A revoked or unknown token is refused.
    let r = request(&app, "GET", "/api/v1/sites", &Who::Token("snt_nope".into())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

both_backends!(every_route_every_role, anonymous_and_half_signed_in);

/// Every `.route("…", method(…))` in the routers' source is in the table, and every table
/// row is in the source: the table is the whole policy.
#[test]
fn route_table_matches_routers() {
    let sources = [
        include_str!("../src/http/api.rs"),
        include_str!("../src/http/assets.rs"),
        include_str!("../src/http/audit.rs"),
        include_str!("../src/http/calls.rs"),
        include_str!("../src/http/costs.rs"),
        include_str!("../src/http/extensions.rs"),
        include_str!("../src/http/login.rs"),
        include_str!("../src/http/overview.rs"),
        include_str!("../src/http/savings.rs"),
        include_str!("../src/http/sites.rs"),
        include_str!("../src/http/tariffs.rs"),
        include_str!("../src/http/trunks.rs"),
        include_str!("../src/http/users.rs"),
    ];
    let mut found = std::collections::BTreeSet::new();
    for src in sources {
        for chunk in src.split(".route(").skip(1) {
            let Some(chunk) = chunk.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((path, rest)) = chunk.split_once('"') else {
                continue;
            };
            let call = rest.split(".route(").next().unwrap_or(rest);
            let call = call.split("\n}").next().unwrap_or(call);
            for (word, method) in [
                ("get(", "GET"),
                ("post(", "POST"),
                ("patch(", "PATCH"),
                ("delete(", "DELETE"),
            ] {
                let mut idx = 0;
                while let Some(pos) = call[idx..].find(word) {
                    let at = idx + pos;
                    let before = call[..at].chars().last().unwrap_or(' ');
                    if !before.is_alphanumeric() && before != '_' {
                        found.insert((method.to_string(), path.to_string()));
                    }
                    idx = at + word.len();
                }
            }
        }
    }
    let table: std::collections::BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(found, table);
}

#[test]
fn openapi_matches_api_routes() {
    let doc = admin_ui::http_api_openapi();
    let mut documented = std::collections::BTreeSet::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for method in ops
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: std::collections::BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(documented, routed);
    assert_eq!(doc["openapi"], "3.0.3");
    // Every operation refers to its path parameters.
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        let params = path.matches('{').count();
        for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
            assert_eq!(
                op["parameters"].as_array().map(|a| a.len()),
                Some(params),
                "{path}"
            );
        }
    }
}
