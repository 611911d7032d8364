//! Signing in and out, the second factor, invitation links, language.

use super::{page, render, render_status, safe_next, with_cookie, FormErrors, Page, WebResult};
use crate::app::AppState;
use crate::http::{cookie, Ctx, WebForm, LANG_COOKIE, MFA_COOKIE, SESSION_COOKIE};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use leitstand_domain::{Lang, Permission as P};
use leitstand_service::{ServiceError, SignIn, SignedIn};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/", P::Public, Kind::Web, "Start: to the console.", root),
        route(M::GET, "/login", P::Public, Kind::Web, "Sign-in page.", login_page),
        route(M::POST, "/login", P::Public, Kind::Web, "Sign in with name and password.", login),
        route(M::GET, "/login/totp", P::Public, Kind::Web, "Second-factor page.", totp_page),
        route(M::POST, "/login/totp", P::Public, Kind::Web, "Sign in with a TOTP or recovery code.", totp),
        route(M::POST, "/logout", P::SignedIn, Kind::Web, "Sign out.", logout),
        route(
            M::GET,
            "/invite/{code}",
            P::Public,
            Kind::Web,
            "Set the first password through a one-time link.",
            invite_page,
        ),
        route(M::POST, "/invite/{code}", P::Public, Kind::Web, "Redeem a one-time link.", invite),
        route(M::POST, "/language", P::Public, Kind::Web, "Switch the language.", language),
    ]
}

async fn root(ctx: Ctx) -> Redirect {
    Redirect::to(if ctx.actor.is_some() { "/app" } else { "/login" })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTpl {
    p: Page,
    next: String,
    name: String,
    error: String,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    ok: Option<String>,
}

async fn login_page(State(s): State<AppState>, ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    if ctx.actor.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let p = page(&s, &ctx, "page-login", q.ok.as_deref()).await;
    render(&LoginTpl { p, next: safe_next(q.next.as_deref()), name: String::new(), error: String::new() })
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Sets the session cookie of a new session and drops the second-factor ticket.
fn session_cookie(s: &AppState, r: Response, signed: &SignedIn) -> Response {
    let max_age = s.services.config().session_ttl.as_secs();
    let r = with_cookie(s, r, SESSION_COOKIE, &signed.token, Some(max_age));
    with_cookie(s, r, MFA_COOKIE, "", Some(0))
}

fn sign_in_error(lang: Lang, e: &ServiceError) -> (StatusCode, String) {
    match e {
        ServiceError::Throttled(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            crate::i18n::tr_args(lang, "error-throttled-minutes", &[("minutes", (secs.div_ceil(60)).to_string())]),
        ),
        ServiceError::Unauthenticated => (StatusCode::UNAUTHORIZED, crate::i18n::tr(lang, "error-sign-in")),
        other => (crate::http::status_of(other), crate::i18n::tr(lang, crate::http::message_key(other))),
    }
}

async fn login(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<LoginForm>) -> WebResult {
    let next = safe_next(f.next.as_deref());
    match s.services.sign_in(&f.name, &f.password, &ctx.source).await {
        Ok(SignIn::Done(signed)) => Ok(session_cookie(&s, Redirect::to(&next).into_response(), &signed)),
        Ok(SignIn::NeedsSecondFactor { ticket }) => {
            let r = Redirect::to(&format!("/login/totp?next={}", crate::http::url_escape(&next))).into_response();
            Ok(with_cookie(&s, r, MFA_COOKIE, &ticket, Some(300)))
        }
        Err(e @ (ServiceError::Unauthenticated | ServiceError::Throttled(_))) => {
            let (status, error) = sign_in_error(ctx.lang, &e);
            let p = page(&s, &ctx, "page-login", None).await;
            let mut r = render_status(status, &LoginTpl { p, next, name: f.name, error });
            if let ServiceError::Throttled(secs) = e {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpTpl {
    p: Page,
    next: String,
    error: String,
}

async fn totp_page(State(s): State<AppState>, ctx: Ctx, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    if cookie(&headers, MFA_COOKIE).is_none_or(str::is_empty) {
        return Redirect::to("/login").into_response();
    }
    let p = page(&s, &ctx, "page-login-totp", None).await;
    render(&TotpTpl { p, next: safe_next(q.next.as_deref()), error: String::new() })
}

#[derive(Deserialize)]
struct TotpForm {
    code: String,
    #[serde(default)]
    next: Option<String>,
}

async fn totp(State(s): State<AppState>, ctx: Ctx, headers: HeaderMap, WebForm(f): WebForm<TotpForm>) -> WebResult {
    let next = safe_next(f.next.as_deref());
    let ticket = cookie(&headers, MFA_COOKIE).unwrap_or("").to_owned();
    match s.services.sign_in_second_factor(&ticket, &f.code, &ctx.source).await {
        Ok(signed) => Ok(session_cookie(&s, Redirect::to(&next).into_response(), &signed)),
        Err(e @ (ServiceError::Unauthenticated | ServiceError::Throttled(_) | ServiceError::NotFound)) => {
            let (status, _) = sign_in_error(ctx.lang, &e);
            let error = if status == StatusCode::TOO_MANY_REQUESTS {
                sign_in_error(ctx.lang, &e).1
            } else {
                crate::i18n::tr(ctx.lang, "error-totp-code")
            };
            let p = page(&s, &ctx, "page-login-totp", None).await;
            Ok(render_status(status, &TotpTpl { p, next, error }))
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    s.services.sign_out(ctx.actor()?).await?;
    let r = super::done("/login", "msg-signed-out");
    Ok(with_cookie(&s, r, SESSION_COOKIE, "", Some(0)))
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InviteTpl {
    p: Page,
    code: String,
    user_name: String,
    errors: FormErrors,
}

async fn invite_page(State(s): State<AppState>, ctx: Ctx, Path(code): Path<String>) -> WebResult {
    let user = s.services.invitation(&code).await.map_err(|_| ServiceError::field("code", "error-invite-invalid"))?;
    let p = page(&s, &ctx, "page-invite", None).await;
    Ok(render(&InviteTpl { p, code, user_name: user.name.to_string(), errors: FormErrors::none(ctx.lang) }))
}

#[derive(Deserialize)]
struct InviteForm {
    password: String,
    repeat: String,
}

async fn invite(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    WebForm(f): WebForm<InviteForm>,
) -> WebResult {
    match s.services.redeem_invitation(&code, &f.password, &f.repeat, &ctx.source).await {
        Ok(signed) => Ok(session_cookie(&s, super::done("/app", "msg-password-set"), &signed)),
        Err(ServiceError::Invalid(list)) => {
            let user = s.services.invitation(&code).await?;
            let p = page(&s, &ctx, "page-invite", None).await;
            let errors = FormErrors { lang: ctx.lang, list };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &InviteTpl { p, code, user_name: user.name.to_string(), errors },
            ))
        }
        Err(ServiceError::NotFound) => Err(ServiceError::field("code", "error-invite-invalid").into()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    back: Option<String>,
}

async fn language(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<LangForm>) -> WebResult {
    let lang = Lang::parse(&f.lang).ok_or_else(|| ServiceError::field("lang", "error-invalid"))?;
    if let Some(a) = &ctx.actor {
        s.services.set_language(a, lang).await?;
    }
    let r = Redirect::to(&safe_next(f.back.as_deref())).into_response();
    Ok(with_cookie(&s, r, LANG_COOKIE, lang.code(), Some(365 * 86400)))
}
