//! The page shell: `lang` attribute, skip link, header with the menu for the user's role,
//! one `main` landmark, and the embedded stylesheet and script (no inline script: the CSP
//! forbids it).

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

use crate::app::may_get;
use crate::auth::Principal;
use crate::i18n::{Lang, Msg};

const MENU: &[(&str, Msg)] = &[
    ("/", Msg::Overview),
    ("/sites", Msg::Sites),
    ("/departments", Msg::Departments),
    ("/extensions", Msg::Extensions),
    ("/trunks", Msg::Trunks),
    ("/live", Msg::LiveCalls),
    ("/calls", Msg::CallRecords),
    ("/costs", Msg::Costs),
    ("/savings", Msg::Savings),
    ("/tariffs", Msg::Tariffs),
    ("/users", Msg::Users),
    ("/tokens", Msg::ApiTokens),
    ("/audit", Msg::AuditLog),
];

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " – " (Msg::AppName.get(lang)) }
            link rel="stylesheet" href="/static/style.css";
            script src="/static/app.js" defer {}
        }
    }
}

/// A page without menu (sign-in, errors).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                (head(lang, title))
                body {
                    header class="top" { p class="brand" { (Msg::AppName.get(lang)) } }
                    main id="main" { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page for a signed-in user; `current` marks the menu entry with `aria-current`.
pub fn page(p: &Principal, current: &str, title: &str, body: Markup) -> Html<String> {
    let lang = p.lang;
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                (head(lang, title))
                body {
                    a class="skip" href="#main" { (Msg::SkipToContent.get(lang)) }
                    header class="top" {
                        p class="brand" { (Msg::AppName.get(lang)) }
                        nav aria-label=(Msg::MainNav.get(lang)) {
                            ul {
                                @for (path, msg) in MENU {
                                    @if may_get(p.role, path) {
                                        li {
                                            @if *path == current {
                                                a href=(path) aria-current="page" { (msg.get(lang)) }
                                            } @else {
                                                a href=(path) { (msg.get(lang)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        form method="post" action="/logout" class="logout" {
                            (csrf(p))
                            span { (p.name) }
                            " "
                            button type="submit" { (Msg::SignOut.get(lang)) }
                        }
                    }
                    main id="main" tabindex="-1" {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The hidden CSRF field every form carries.
pub fn csrf(p: &Principal) -> Markup {
    html! { input type="hidden" name="csrf" value=(p.csrf()); }
}
