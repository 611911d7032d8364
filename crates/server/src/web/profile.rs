//! The user's own profile: password, language, TOTP and API tokens.

use super::{done, page, qr_svg, render, render_status, with_cookie, FormErrors, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm, SESSION_COOKIE};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use leitstand_domain::{Permission as P, TokenId};
use leitstand_service::{ServiceError, SignedIn, TotpSetup};
use leitstand_store::ApiToken;
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/profile", P::SignedIn, Kind::Web, "Own profile.", profile),
        route(M::POST, "/app/profile/password", P::SignedIn, Kind::Web, "Change own password.", password),
        route(M::GET, "/app/profile/totp", P::SignedIn, Kind::Web, "Set up TOTP.", totp_page),
        route(M::POST, "/app/profile/totp", P::SignedIn, Kind::Web, "Confirm TOTP set-up.", totp_confirm),
        route(M::POST, "/app/profile/totp/disable", P::SignedIn, Kind::Web, "Turn TOTP off.", totp_disable),
        route(M::POST, "/app/profile/tokens", P::SignedIn, Kind::Web, "Create an API token.", create_token),
        route(
            M::POST,
            "/app/profile/tokens/{token}/revoke",
            P::SignedIn,
            Kind::Web,
            "Revoke an API token.",
            revoke_token,
        ),
    ]
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfileTpl {
    p: Page,
    name: String,
    totp: bool,
    recovery_left: u32,
    tokens: Vec<ApiToken>,
    errors: FormErrors,
    new_token: Option<String>,
}

async fn profile_page(
    s: &AppState,
    ctx: &Ctx,
    flash: Option<&str>,
    errors: FormErrors,
    new_token: Option<String>,
) -> WebResult {
    let a = ctx.actor()?;
    let tokens = s.services.api_tokens(a).await?;
    let p = page(s, ctx, "page-profile", flash).await;
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render_status(
        status,
        &ProfileTpl {
            p,
            name: a.user.name.to_string(),
            totp: a.user.totp_enabled(),
            recovery_left: a.user.recovery_left,
            tokens,
            errors,
            new_token,
        },
    ))
}

#[derive(Deserialize, Default)]
struct Flash {
    ok: Option<String>,
}

async fn profile(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    profile_page(&s, &ctx, f.ok.as_deref(), FormErrors::none(ctx.lang), None).await
}

fn rotated(s: &AppState, r: Response, signed: Option<SignedIn>) -> Response {
    match signed {
        Some(si) => with_cookie(s, r, SESSION_COOKIE, &si.token, Some(s.services.config().session_ttl.as_secs())),
        None => r,
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    repeat: String,
}

async fn password(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<PasswordForm>) -> WebResult {
    match s.services.change_password(ctx.actor()?, &f.current, &f.new, &f.repeat).await {
        Ok(signed) => Ok(rotated(&s, done("/app/profile", "msg-password-changed"), signed)),
        Err(ServiceError::Invalid(list)) => {
            profile_page(&s, &ctx, None, FormErrors { lang: ctx.lang, list }, None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpTpl {
    p: Page,
    setup: TotpSetup,
    qr: String,
    errors: FormErrors,
    required: bool,
}

async fn totp_page_with(s: &AppState, ctx: &Ctx, setup: Option<TotpSetup>, errors: FormErrors) -> WebResult {
    let a = ctx.actor()?;
    let setup = match setup {
        Some(x) => x,
        None => s.services.begin_totp(a)?,
    };
    let p = page(s, ctx, "page-totp", None).await;
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render_status(status, &TotpTpl { p, qr: qr_svg(&setup.uri), setup, errors, required: a.must_enrol_totp }))
}

async fn totp_page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    totp_page_with(&s, &ctx, None, FormErrors::none(ctx.lang)).await
}

#[derive(Deserialize)]
struct TotpForm {
    sealed: String,
    secret: String,
    uri: String,
    code: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryTpl {
    p: Page,
    codes: Vec<String>,
}

async fn totp_confirm(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<TotpForm>) -> WebResult {
    match s.services.confirm_totp(ctx.actor()?, &f.sealed, &f.code).await {
        Ok((codes, signed)) => {
            let p = page(&s, &ctx, "page-recovery", Some("msg-totp-enabled")).await;
            Ok(rotated(&s, render(&RecoveryTpl { p, codes }), signed))
        }
        Err(ServiceError::Invalid(list)) => {
            let setup = TotpSetup { secret_base32: f.secret, uri: f.uri, sealed: f.sealed };
            totp_page_with(&s, &ctx, Some(setup), FormErrors { lang: ctx.lang, list }).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct DisableForm {
    password: String,
}

async fn totp_disable(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<DisableForm>) -> WebResult {
    match s.services.disable_totp(ctx.actor()?, &f.password).await {
        Ok(()) => Ok(done("/app/profile", "msg-totp-disabled")),
        Err(ServiceError::Invalid(list)) => {
            profile_page(&s, &ctx, None, FormErrors { lang: ctx.lang, list }, None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    label: String,
    #[serde(default)]
    days: String,
}

async fn create_token(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<TokenForm>) -> WebResult {
    let days = match f.days.trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let list = vec![leitstand_domain::FieldError::new("days", "error-token-days")];
                return profile_page(&s, &ctx, None, FormErrors { lang: ctx.lang, list }, None).await;
            }
        },
    };
    match s.services.create_api_token(ctx.actor()?, &f.label, days).await {
        Ok(created) => {
            profile_page(&s, &ctx, Some("msg-token-created"), FormErrors::none(ctx.lang), Some(created.token)).await
        }
        Err(ServiceError::Invalid(list)) => {
            profile_page(&s, &ctx, None, FormErrors { lang: ctx.lang, list }, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_token(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.revoke_api_token(ctx.actor()?, TokenId(id)).await?;
    Ok(done("/app/profile", "msg-token-revoked"))
}
