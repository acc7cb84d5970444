//! Sentral admin UI: the axum web UI and JSON API. Not built yet (issue 5).
