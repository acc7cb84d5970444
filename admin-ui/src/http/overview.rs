//! The overview page and its live feed (server-sent events from [`crate::LiveView`]).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::Html;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{Local, TimeZone, Utc};
use futures_util::Stream;
use maud::html;
use serde::Serialize;

use crate::auth::Principal;
use crate::http::error::HttpResult;
use crate::i18n::Msg;
use crate::layout::page;
use crate::{AppState, LiveEvent};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/events", get(events))
}

#[derive(Serialize)]
struct Summary {
    phones_registered: usize,
    calls_now: usize,
    trunks_up: usize,
    trunks_total: usize,
}

fn summary(state: &AppState) -> Summary {
    let mut phones: Vec<String> = state
        .live
        .registrations()
        .into_iter()
        .map(|r| r.extension)
        .collect();
    phones.sort();
    phones.dedup();
    let trunks = state.live.trunk_states();
    Summary {
        phones_registered: phones.len(),
        calls_now: state.live.active_calls().len(),
        trunks_up: trunks.iter().filter(|(_, up)| *up).count(),
        trunks_total: trunks.len(),
    }
}

async fn overview(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let s = summary(&state);
    let midnight = Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest());
    let today = match midnight {
        Some(m) => {
            state
                .store
                .count_call_records(m.with_timezone(&Utc), Utc::now())
                .await?
        }
        None => 0,
    };
    let trunks = state.live.trunk_states();
    let lockouts = state.store.audit_log_action("auth.lockout", 10).await?;
    let title = Msg::Overview.get(lang);
    Ok(page(
        &p,
        "/",
        title,
        html! {
            p class="visually-hidden" { (Msg::LiveUpdates.get(lang)) }
            ul class="cards" data-live=[crate::app::may_get(p.role, "/events").then_some("summary")] {
                li { span class="value" data-field="phones_registered" { (s.phones_registered) } (Msg::PhonesRegistered.get(lang)) }
                li { span class="value" data-field="calls_now" { (s.calls_now) } (Msg::CallsNow.get(lang)) }
                li { span class="value" { (today) } (Msg::CallsToday.get(lang)) }
                li { span class="value" { span data-field="trunks_up" { (s.trunks_up) } "/" (s.trunks_total) } (Msg::TrunkState.get(lang)) }
            }
            h2 { (Msg::TrunkState.get(lang)) }
            @if trunks.is_empty() { p { (Msg::None.get(lang)) } } @else {
                ul { @for (name, up) in &trunks {
                    li { (name) ": " @if *up { span class="ok" { (Msg::Up.get(lang)) } } @else { span class="bad" { (Msg::Down.get(lang)) } } }
                } }
            }
            h2 { (Msg::RecentLockouts.get(lang)) }
            @if lockouts.is_empty() { p { (Msg::None.get(lang)) } } @else {
                table {
                    thead { tr { th scope="col" { (Msg::Time.get(lang)) } th scope="col" { (Msg::Who.get(lang)) } th scope="col" { (Msg::FromWhere.get(lang)) } } }
                    tbody { @for e in &lockouts { tr { td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td { (e.detail) } td { (e.source) } } } }
                }
            }
        },
    ))
}

/// One SSE event per PBX event: `registration` for the extension concerned, `calls` when
/// calls change, and a fresh `summary` after each. A listener that lags just gets the
/// next summary (the PBX's channel drops old events for slow readers).
async fn events(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.subscribe();
    let lang = p.lang;
    let stream = futures_util::stream::unfold((rx, state), move |(mut rx, state)| async move {
        let mut out = Vec::new();
        match rx.recv().await {
            Ok(LiveEvent::Registration {
                extension,
                contacts,
            }) => {
                let label = if contacts > 0 {
                    Msg::Registered
                } else {
                    Msg::NotRegistered
                }
                .get(lang);
                let data = serde_json::json!({ "extension": extension, "contacts": contacts, "label": label });
                out.push(
                    Event::default()
                        .event("registration")
                        .data(data.to_string()),
                );
            }
            Ok(
                LiveEvent::CallStarted { .. }
                | LiveEvent::CallAnswered { .. }
                | LiveEvent::CallEnded { .. },
            ) => {
                out.push(Event::default().event("calls").data("{}"));
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        }
        let s = serde_json::to_string(&summary(&state)).unwrap_or_default();
        out.push(Event::default().event("summary").data(s));
        Some((
            futures_util::stream::iter(out.into_iter().map(Ok)),
            (rx, state),
        ))
    });
    Sse::new(futures_util::StreamExt::flatten(stream)).keep_alive(KeepAlive::default())
}
