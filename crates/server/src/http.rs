//! The request edge: who is asking (session cookie or API token), in which
//! language and zone, the permission and CSRF checks every route passes, and
//! how errors become responses (an HTML page or a JSON error).

use crate::app::AppState;
use crate::i18n::tr;
use crate::routes::Kind;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use jiff::tz::TimeZone;
use leitstand_domain::{FieldError, Lang, Permission, TenantId};
use leitstand_service::{Actor, ServiceError};
use serde::Serialize;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "ls_session";
pub const CSRF_COOKIE: &str = "ls_csrf";
pub const LANG_COOKIE: &str = "ls_lang";
pub const TENANT_COOKIE: &str = "ls_tenant";
pub const MFA_COOKIE: &str = "ls_mfa";

/// What every handler knows about the request.
#[derive(Clone)]
pub struct Ctx {
    pub actor: Option<Actor>,
    pub lang: Lang,
    pub tz: TimeZone,
    pub source: String,
    /// The token forms must carry: the session's, or the anonymous cookie's.
    pub csrf: String,
    /// The tenant a staff member picked in the switcher.
    pub selected_tenant: Option<TenantId>,
    /// The host behind a signed agent request.
    pub agent: Option<leitstand_store::Host>,
    pub kind: Kind,
    pub path: String,
}

impl Ctx {
    pub fn actor(&self) -> Result<&Actor, ServiceError> {
        self.actor.as_ref().ok_or(ServiceError::Unauthenticated)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Ctx>().cloned().ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` over HTTPS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn source_of(state: &AppState, req: &Request) -> String {
    if state.config.trust_forwarded_for {
        if let Some(f) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            if let Some(first) = f.split(',').next().map(str::trim).filter(|s| s.parse::<std::net::IpAddr>().is_ok()) {
                return first.to_owned();
            }
        }
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Agent routes are called by programs with their own credentials (an
/// enrollment token, a signature), never by a browser.
fn is_agent_route(route: &str) -> bool {
    route.starts_with("/api/agent/")
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Routes a staff member who must set up TOTP may still use.
const TOTP_ENROL_ALLOWED: &[&str] = &["/app/profile/totp", "/logout", "/static/{file}", "/language"];

/// The one gate every registered route passes: find the route's permission,
/// resolve the actor, check permission and CSRF, then run the handler.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    let Some(matched) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Deny by default: a route that is not in the registry answers nothing.
    let Some(info) = state.routes.get(&(method.clone(), matched.clone())).copied() else {
        tracing::error!(%method, path = %matched, "route without a registered permission refused");
        return StatusCode::FORBIDDEN.into_response();
    };
    let response = gated(&state, req, next, info, &matched).await;
    state.metrics.observe(&method, &matched, response.status(), started.elapsed());
    response
}

async fn gated(state: &AppState, req: Request, next: Next, info: (Permission, Kind), route: &str) -> Response {
    let (permission, kind) = info;
    // The path as asked for (for "back" links and sign-in redirects), not the pattern.
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let source = source_of(state, &req);
    let headers = req.headers().clone();
    let token = bearer(&headers);
    // Language before we know the user: cookie, then the browser's.
    let browser_lang = cookie(&headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_else(|| {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or_default()
    });
    let mut ctx = Ctx {
        actor: None,
        lang: browser_lang,
        tz: TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
        source,
        csrf: String::new(),
        selected_tenant: None,
        agent: None,
        kind,
        path,
    };
    let refuse = |ctx: &Ctx, e: &ServiceError, status: Option<StatusCode>| {
        let mut r = error_response(ctx.kind, ctx.lang, e, &ctx.path);
        if let Some(s) = status {
            *r.status_mut() = s;
            if let Some(page) = r.extensions_mut().get_mut::<ErrorPage>() {
                page.status = s;
            }
        }
        render_error_page(ctx, r)
    };

    ctx.actor = if let Some(token) = token {
        match state.services.actor_from_api_token(token, &ctx.source).await {
            Ok(a) => Some(a),
            Err(e) => return refuse(&ctx, &e, None),
        }
    } else if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        match state.services.actor_from_session(session, &ctx.source).await {
            Ok(a) => Some(a),
            Err(ServiceError::Unauthenticated) => None,
            Err(e) => return refuse(&ctx, &e, None),
        }
    } else {
        None
    };
    if let Some(l) = ctx.actor.as_ref().and_then(|a| a.user.lang) {
        ctx.lang = l;
    }

    let mut new_csrf = None;
    ctx.csrf = match &ctx.actor {
        Some(Actor { via: leitstand_service::AuthVia::Session { csrf, .. }, .. }) => csrf.clone(),
        _ => match cookie(&headers, CSRF_COOKIE) {
            Some(c) if c.len() >= 32 => c.to_owned(),
            _ => {
                let c = hex::encode(rand::random::<[u8; 20]>());
                new_csrf = Some(c.clone());
                c
            }
        },
    };

    let mut req = req;
    if permission == Permission::Agent {
        // Agent routes take the agent's signature and nothing else.
        if ctx.actor.is_some() {
            return refuse(&ctx, &ServiceError::Forbidden, None);
        }
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
            let e = ServiceError::BadInput(format!("batch larger than {} bytes", state.config.max_body_bytes));
            return refuse(&ctx, &e, Some(StatusCode::PAYLOAD_TOO_LARGE));
        };
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        use leitstand_proto::signing;
        let sig = leitstand_service::AgentSignature {
            host: h(signing::HOST),
            timestamp: h(signing::TIMESTAMP),
            nonce: h(signing::NONCE),
            signature: h(signing::SIGNATURE),
        };
        match state.services.authenticate_agent(&sig, parts.method.as_str(), parts.uri.path(), &bytes).await {
            Ok(host) => ctx.agent = Some(host),
            Err(e) => {
                state.metrics.agent_refused(&e);
                return refuse(&ctx, &e, None);
            }
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    } else if permission != Permission::Public {
        let Some(a) = &ctx.actor else {
            return refuse(&ctx, &ServiceError::Unauthenticated, None);
        };
        if a.must_enrol_totp && !TOTP_ENROL_ALLOWED.contains(&route) {
            return match kind {
                Kind::Web => Redirect::to("/app/profile/totp").into_response(),
                _ => refuse(&ctx, &ServiceError::Forbidden, None),
            };
        }
        if !permission.granted_to(a.user.role) {
            return refuse(&ctx, &ServiceError::Forbidden, None);
        }
    }

    // CSRF: every state-changing request that a browser could send on its
    // own (cookie-based or anonymous) must carry the token.
    if !is_safe(req.method()) && token.is_none() && ctx.agent.is_none() && !is_agent_route(route) {
        let presented = match headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
            Some(h) => Some(h.to_owned()),
            None => {
                let (parts, body) = req.into_parts();
                let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
                    let e = ServiceError::field("body", "error-too-large");
                    return refuse(&ctx, &e, Some(StatusCode::PAYLOAD_TOO_LARGE));
                };
                let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                    .ok()
                    .and_then(|kv| kv.into_iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v));
                req = Request::from_parts(parts, axum::body::Body::from(bytes));
                field
            }
        };
        if !presented.is_some_and(|p| leitstand_service::csrf_matches(&ctx.csrf, &p)) {
            return refuse(&ctx, &ServiceError::field("_csrf", "error-csrf"), Some(StatusCode::FORBIDDEN));
        }
    }

    if let Some(a) = &ctx.actor {
        ctx.tz = state.tenant_zone(a.user.tenant).await;
        ctx.selected_tenant = cookie(&headers, TENANT_COOKIE)
            .and_then(|v| v.parse().ok())
            .map(TenantId)
            .filter(|t| a.user.role.is_staff() && a.scope().contains(*t));
    }
    req.extensions_mut().insert(ctx.clone());
    let mut resp = next.run(req).await;
    if let Some(c) = new_csrf {
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(state, CSRF_COOKIE, &c, None));
    }
    render_error_page(&ctx, resp)
}

/// A web handler's error leaves an [`ErrorPage`] marker; here it becomes a
/// page in the reader's language, keeping the cookies the handler set.
fn render_error_page(ctx: &Ctx, resp: Response) -> Response {
    match resp.extensions().get::<ErrorPage>().cloned() {
        Some(page) => crate::web::render_error(ctx, page.status, &page.message).with_headers_of(resp),
        None => resp,
    }
}

trait ResponseExt {
    fn with_headers_of(self, other: Response) -> Response;
}

impl ResponseExt for Response {
    fn with_headers_of(mut self, other: Response) -> Response {
        for v in other.headers().get_all(header::SET_COOKIE) {
            self.headers_mut().append(header::SET_COOKIE, v.clone());
        }
        self
    }
}

/// Marker a web handler's error leaves for [`gate`] to render in the
/// reader's language.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub message: String,
}

pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::NotFound => StatusCode::NOT_FOUND,
        ServiceError::Forbidden => StatusCode::FORBIDDEN,
        ServiceError::Unauthenticated | ServiceError::AgentRefused(_) => StatusCode::UNAUTHORIZED,
        ServiceError::BadInput(_) => StatusCode::BAD_REQUEST,
        ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Throttled(_) | ServiceError::AgentRateLimited(..) => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::AgentPending(_) => StatusCode::CONFLICT,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The message key for an error as a person reads it.
pub fn message_key(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::NotFound => "error-not-found",
        ServiceError::Forbidden => "error-forbidden",
        ServiceError::Unauthenticated | ServiceError::AgentRefused(_) => "error-unauthenticated",
        ServiceError::BadInput(_) => "error-invalid",
        ServiceError::Invalid(_) => "error-invalid",
        ServiceError::Conflict(_) => "error-conflict",
        ServiceError::Throttled(_) | ServiceError::AgentRateLimited(..) => "error-throttled",
        ServiceError::AgentPending(_) => "error-conflict",
        ServiceError::Unavailable(_) => "error-unavailable",
        ServiceError::Internal(_) => "error-internal",
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ApiErrorBody {
    /// Machine-readable code, e.g. `not_found`, `invalid`.
    pub error: &'static str,
    /// What happened, in English.
    pub message: String,
    /// Per-field problems for `invalid`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ApiFieldError>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ApiFieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

fn api_code(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::NotFound => "not_found",
        ServiceError::Forbidden => "forbidden",
        ServiceError::Unauthenticated => "unauthenticated",
        ServiceError::AgentRefused(_) => "agent_refused",
        ServiceError::BadInput(_) => "bad_request",
        ServiceError::Invalid(_) => "invalid",
        ServiceError::Conflict(_) => "conflict",
        ServiceError::Throttled(_) => "throttled",
        ServiceError::AgentRateLimited(..) => "rate_limited",
        ServiceError::AgentPending(_) => "pending_approval",
        ServiceError::Unavailable(_) => "unavailable",
        ServiceError::Internal(_) => "internal",
    }
}

pub fn field_errors(lang: Lang, errs: &[FieldError]) -> Vec<ApiFieldError> {
    errs.iter().map(|f| ApiFieldError { field: f.field, code: f.code, message: tr(lang, f.code) }).collect()
}

/// An error as JSON (API) or as a page (web); 401 on a page sends the
/// person to the sign-in page.
pub fn error_response(kind: Kind, lang: Lang, e: &ServiceError, path: &str) -> Response {
    if let ServiceError::Internal(m) = e {
        tracing::error!(error = %m, "internal error");
    }
    let status = status_of(e);
    let mut resp = match kind {
        Kind::Web if status == StatusCode::UNAUTHORIZED => {
            let next: String = url_escape(path);
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Kind::Web => {
            let mut message = tr(lang, message_key(e));
            if let ServiceError::Invalid(errs) = e {
                message = errs.iter().map(|f| tr(lang, f.code)).collect::<Vec<_>>().join(" ");
            }
            let mut r = status.into_response();
            r.extensions_mut().insert(ErrorPage { status, message });
            r
        }
        Kind::Api | Kind::Ops => {
            let fields = match e {
                ServiceError::Invalid(errs) => field_errors(Lang::En, errs),
                _ => vec![],
            };
            let message = match e {
                ServiceError::Throttled(s) => format!("too many failed attempts; try again in {s} seconds"),
                ServiceError::Unavailable(_) => "the database is unavailable; retry shortly".to_owned(),
                ServiceError::Internal(_) => "internal error; the server log has details".to_owned(),
                ServiceError::Conflict(what) => format!("{what} already exists"),
                ServiceError::AgentRefused(m)
                | ServiceError::BadInput(m)
                | ServiceError::AgentPending(m)
                | ServiceError::AgentRateLimited(m, _) => m.clone(),
                other => tr(Lang::En, message_key(other)),
            };
            (status, Json(ApiErrorBody { error: api_code(e), message, fields })).into_response()
        }
    };
    match e {
        ServiceError::Throttled(s) | ServiceError::AgentRateLimited(_, s) => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*s));
        }
        ServiceError::AgentPending(_) => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        ServiceError::Unavailable(_) => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    resp
}

pub fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Errors of web handlers: rendered as a page in the reader's language.
pub struct WebError(pub ServiceError);

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        WebError(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        error_response(Kind::Web, Lang::default(), &self.0, "/app")
    }
}

/// Errors of API handlers: JSON with a code, a message and field errors.
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(Kind::Api, Lang::En, &self.0, "")
    }
}

/// JSON body whose rejection is a JSON error with a clear message (400, 413
/// or 422), never a plain-text one.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                let status = rej.status();
                let body = ApiErrorBody {
                    error: if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_request" },
                    message: rej.body_text(),
                    fields: vec![],
                };
                Err((status, Json(body)).into_response())
            }
        }
    }
}

/// Form body whose rejection is a 400 page (413 when too large).
pub struct WebForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(WebForm(v)),
            Err(rej) => {
                let status = match rej.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                let mut r = status.into_response();
                r.extensions_mut().insert(ErrorPage { status, message: rej.body_text() });
                Err(r)
            }
        }
    }
}
