//! Operations routes: health, readiness, metrics, static files, the 404
//! fallback, and security headers on every response.

use crate::app::AppState;
use crate::http::{error_response, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leitstand_domain::{Lang, Permission};
use leitstand_service::ServiceError;

pub fn routes() -> Vec<RouteDef> {
    use Permission::Public;
    vec![
        route(Method::GET, "/healthz", Public, Kind::Ops, "Liveness: the process answers.", healthz),
        route(Method::GET, "/readyz", Public, Kind::Ops, "Readiness: the database answers.", readyz),
        route(Method::GET, "/metrics", Public, Kind::Ops, "Prometheus metrics of the server.", metrics),
        route(Method::GET, "/static/{file}", Public, Kind::Ops, "Embedded, pinned front-end files.", asset),
    ]
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.store().ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, format!("database unavailable: {e}\n")).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.services.store();
    let mut body = state.metrics.render(store.pool_stats(), store.backend());
    body.push_str("# HELP leitstand_syslog_lines_total Syslog lines by what became of them.\n");
    body.push_str("# TYPE leitstand_syslog_lines_total counter\n");
    for (outcome, n) in state.syslog.snapshot() {
        body.push_str(&format!("leitstand_syslog_lines_total{{outcome=\"{outcome}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../assets/app.js")),
    ("htmx-2.0.4.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/vendor/htmx-2.0.4.min.js")),
    ("logo.svg", "image/svg+xml", include_bytes!("../assets/logo.svg")),
    ("uplot-1.6.32.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/vendor/uplot-1.6.32.min.js")),
    ("uplot-1.6.32.min.css", "text/css; charset=utf-8", include_bytes!("../assets/vendor/uplot-1.6.32.min.css")),
    ("charts.js", "text/javascript; charset=utf-8", include_bytes!("../assets/charts.js")),
    ("dashboard.js", "text/javascript; charset=utf-8", include_bytes!("../assets/dashboard.js")),
];

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == file) {
        Some((_, mime, body)) => {
            ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=86400")], *body).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Unknown routes: a JSON error under `/api/`, a page elsewhere.
pub async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return error_response(Kind::Api, Lang::En, &ServiceError::NotFound, "");
    }
    let lang = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default();
    let ctx = Ctx {
        actor: None,
        lang,
        tz: jiff::tz::TimeZone::UTC,
        source: String::new(),
        csrf: String::new(),
        selected_tenant: None,
        agent: None,
        kind: Kind::Web,
        path: req.uri().path().to_owned(),
    };
    crate::web::render_error(&ctx, StatusCode::NOT_FOUND, &crate::i18n::tr(lang, "error-not-found"))
}

/// Headers that make the browser stricter; every response gets them.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    r
}
