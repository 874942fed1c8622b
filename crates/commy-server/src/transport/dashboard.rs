//! The dashboard at `/`: a page built on the TypeScript client (`clients/ts/dashboard`), embedded in the binary so that
//! the server needs no files and no Node at run time. The built assets are committed in `assets/dashboard`;
//! `scripts/test-ts.sh` rebuilds them and fails if the committed ones are stale.
//!
//! Every response carries a strict Content-Security-Policy: the page loads only its own script and style, connects
//! only to its own origin, and may not be framed.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("../../assets/dashboard/index.html");
const APP_JS: &str = include_str!("../../assets/dashboard/app.js");
const STYLE_CSS: &str = include_str!("../../assets/dashboard/style.css");

/// Only the page's own script, style and WebSocket; no inline code, no framing, no form posts elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The dashboard's routes: `/`, `/dashboard/app.js` and `/dashboard/style.css`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route(
            "/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_the_embedded_assets() {
        assert!(INDEX_HTML.contains(r#"src="/dashboard/app.js""#));
        assert!(INDEX_HTML.contains(r#"href="/dashboard/style.css""#));
        assert!(!INDEX_HTML.contains("<script>"), "no inline script: the CSP forbids it");
        assert!(!APP_JS.is_empty() && !STYLE_CSS.is_empty());
    }
}
