//! Per-resource routers, merged in [`crate::app::app`]. Each file owns one resource's
//! pages; `api.rs` holds the JSON API and its OpenAPI document.

pub mod api;
pub mod assets;
pub mod audit;
pub mod calls;
pub mod costs;
pub mod download;
pub mod error;
pub mod extensions;
pub mod login;
pub mod overview;
pub mod savings;
pub mod sites;
pub mod tariffs;
pub mod trunks;
pub mod users;

use crate::auth::Principal;

/// Appends an audit entry for a change; a failure to audit is logged, never hidden from
/// the log, but does not undo the change already made.
pub(crate) async fn audit(
    state: &crate::AppState,
    who: &Principal,
    action: &str,
    detail: impl Into<String>,
) {
    let entry = store::NewAuditEntry {
        actor: if who.name.is_empty() {
            "anonymous".into()
        } else {
            who.name.clone()
        },
        action: action.into(),
        detail: detail.into(),
        source: who.source.clone(),
    };
    if let Err(e) = state.store.audit(&entry).await {
        tracing::error!(error = %e, action, "writing the audit log failed");
    }
}
