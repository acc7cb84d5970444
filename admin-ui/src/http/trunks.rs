//! Trunks: settings and registration state. Secrets are never shown, to anyone: only
//! whether one is set.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use maud::html;

use crate::AppState;
use crate::auth::Principal;
use crate::http::error::HttpResult;
use crate::i18n::Msg;
use crate::layout::page;

pub fn router() -> Router<AppState> {
    Router::new().route("/trunks", get(list))
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let trunks = state.store.trunks().await?;
    let states = state.live.trunk_states();
    Ok(page(
        &p,
        "/trunks",
        Msg::Trunks.get(lang),
        html! {
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::Host.get(lang)) }
                    th scope="col" { (Msg::Transport.get(lang)) } th scope="col" { (Msg::RegisterWithProvider.get(lang)) }
                    th scope="col" { (Msg::ChannelLimit.get(lang)) } th scope="col" { (Msg::Enabled.get(lang)) }
                    th scope="col" { (Msg::State.get(lang)) }
                } }
                tbody { @for t in &trunks {
                    @let up = states.iter().find(|(n, _)| *n == t.name).map(|(_, u)| *u);
                    tr {
                        td { (t.name) } td { (t.host) ":" (t.port) } td { (t.transport.as_str()) }
                        td { (if t.register { Msg::Yes } else { Msg::No }.get(lang)) }
                        td { (t.channel_limit.map(|c| c.to_string()).unwrap_or_else(|| "–".into())) }
                        td { (if t.enabled { Msg::Yes } else { Msg::No }.get(lang)) }
                        td { @match up {
                            Some(true) => span class="ok" { (Msg::Up.get(lang)) },
                            Some(false) => span class="bad" { (Msg::Down.get(lang)) },
                            None => "–",
                        } }
                    }
                } }
            }
        },
    ))
}
