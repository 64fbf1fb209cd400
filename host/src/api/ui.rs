//! `GET /ui`: a small read-only web page (plans and their states, a plan's
//! actions with pre-state and result, its graph; a rollback links to its
//! original). Plain HTML, CSS and JavaScript compiled into the binary; the
//! page reads the same guarded API as any client (with the token typed
//! into it), so the page itself is open. A strict Content-Security-Policy
//! allows nothing but this origin.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page.
#[utoipa::path(get, path = "/ui", tag = "meta", operation_id = "ui",
    responses((status = 200, description = "The read-only web page", content_type = "text/html", body = String)))]
pub(super) async fn index() -> impl IntoResponse {
    page(INDEX, "text/html; charset=utf-8")
}

/// Its script.
#[utoipa::path(get, path = "/ui/app.js", tag = "meta", operation_id = "ui_script",
    responses((status = 200, description = "The page's script", content_type = "text/javascript", body = String)))]
pub(super) async fn script() -> impl IntoResponse {
    page(SCRIPT, "text/javascript; charset=utf-8")
}

/// Its style sheet.
#[utoipa::path(get, path = "/ui/style.css", tag = "meta", operation_id = "ui_style",
    responses((status = 200, description = "The page's style sheet", content_type = "text/css", body = String)))]
pub(super) async fn style() -> impl IntoResponse {
    page(STYLE, "text/css; charset=utf-8")
}

fn page(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
