//! The JSON API under `/api/v1`: the same use cases as the web pages, for
//! programs. Each route is in the registry with its permission and types.

pub(crate) mod alerts;
mod dto;
pub(crate) mod hosts;
mod inventory;
mod live;
pub(crate) mod notify;
mod patch;
mod soc;
mod vuln;

use crate::app::AppState;
use crate::http::{ApiError, ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use dto::*;
use leitstand_domain::{Permission as P, TenantId, TokenId, UserId};
use leitstand_service::{NewTenantInput, NewUserInput, PlanInput};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    let mut v = hosts::routes();
    v.extend(live::routes());
    v.extend(inventory::routes());
    v.extend(alerts::routes());
    v.extend(notify::routes());
    v.extend(soc::routes());
    v.extend(soc::triage_routes());
    v.extend(vuln::routes());
    v.extend(patch::routes());
    v.extend([
        route(M::GET, "/api/v1/openapi.json", P::Public, Kind::Api, "This document.", openapi),
        route(M::GET, "/api/v1/me", P::SignedIn, Kind::Api, "The user the token belongs to.", me).gives::<MeDto>(),
        route(M::GET, "/api/v1/tenants", P::TenantsRead, Kind::Api, "Tenants in the caller's scope.", tenants)
            .gives::<Vec<TenantDto>>(),
        route(M::POST, "/api/v1/tenants", P::TenantsManage, Kind::Api, "Create a customer tenant.", create_tenant)
            .takes::<NewTenantInput>()
            .gives::<TenantDto>(),
        route(M::GET, "/api/v1/tenants/{tenant}", P::TenantsRead, Kind::Api, "One tenant.", tenant)
            .gives::<TenantDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/plan",
            P::TenantsManage,
            Kind::Api,
            "Change a tenant's plan.",
            set_plan,
        )
        .takes::<PlanInput>()
        .gives::<TenantDto>(),
        route(
            M::GET,
            "/api/v1/users",
            P::UsersRead,
            Kind::Api,
            "Users in the caller's scope; `?tenant=` filters.",
            users,
        )
        .gives::<Vec<UserDto>>(),
        route(
            M::POST,
            "/api/v1/users",
            P::UsersManage,
            Kind::Api,
            "Create a user; answers with a one-time invitation link.",
            create_user,
        )
        .takes::<NewUserInput>()
        .gives::<CreatedUserDto>(),
        route(M::GET, "/api/v1/users/{user}", P::UsersRead, Kind::Api, "One user.", user).gives::<UserDto>(),
        route(
            M::POST,
            "/api/v1/users/{user}/invitation",
            P::UsersManage,
            Kind::Api,
            "A new one-time invitation link.",
            invite,
        )
        .gives::<InvitationDto>(),
        route(
            M::POST,
            "/api/v1/users/{user}/disable",
            P::UsersManage,
            Kind::Api,
            "Disable a user and end their sessions.",
            disable,
        )
        .gives::<UserDto>(),
        route(M::POST, "/api/v1/users/{user}/enable", P::UsersManage, Kind::Api, "Enable a user again.", enable)
            .gives::<UserDto>(),
        route(
            M::PUT,
            "/api/v1/users/{user}/assignments",
            P::TenantsManage,
            Kind::Api,
            "Assign staff to customer tenants.",
            assign,
        )
        .takes::<AssignmentsDto>()
        .gives::<AssignmentsDto>(),
        route(M::GET, "/api/v1/tokens", P::SignedIn, Kind::Api, "The caller's API tokens (without secrets).", tokens)
            .gives::<Vec<TokenDto>>(),
        route(
            M::POST,
            "/api/v1/tokens",
            P::SignedIn,
            Kind::Api,
            "Create an API token; the secret is shown once.",
            create_token,
        )
        .takes::<NewTokenDto>()
        .gives::<CreatedTokenDto>(),
        route(
            M::DELETE,
            "/api/v1/tokens/{token}",
            P::SignedIn,
            Kind::Api,
            "Revoke one of the caller's tokens.",
            revoke_token,
        ),
        route(M::GET, "/api/v1/audit", P::AuditRead, Kind::Api, "Audit entries, newest first, filtered.", audit)
            .gives::<AuditPageDto>(),
        route(
            M::GET,
            "/api/v1/audit/verify",
            P::PolicyManage,
            Kind::Api,
            "Check the audit log's hash chain.",
            verify_audit,
        )
        .gives::<ChainDto>(),
        route(
            M::PUT,
            "/api/v1/policy/totp",
            P::PolicyManage,
            Kind::Api,
            "Make TOTP mandatory for staff, or not.",
            set_totp_policy,
        )
        .takes::<TotpPolicyDto>()
        .gives::<TotpPolicyDto>(),
    ]);
    v
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn me(ctx: Ctx) -> ApiResult<MeDto> {
    let a = ctx.actor()?;
    Ok(Json(MeDto { user: UserDto::from(&a.user), must_enrol_totp: a.must_enrol_totp }))
}

async fn tenants(State(s): State<AppState>, ctx: Ctx) -> ApiResult<Vec<TenantDto>> {
    let list = s.services.tenants(ctx.actor()?).await?;
    Ok(Json(list.iter().map(TenantDto::from).collect()))
}

async fn create_tenant(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewTenantInput>,
) -> ApiResult<TenantDto> {
    Ok(Json(TenantDto::from(&s.services.create_tenant(ctx.actor()?, &input).await?)))
}

async fn tenant(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<TenantDto> {
    Ok(Json(TenantDto::from(&s.services.tenant(ctx.actor()?, TenantId(id)).await?)))
}

async fn set_plan(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<PlanInput>,
) -> ApiResult<TenantDto> {
    Ok(Json(TenantDto::from(&s.services.set_plan(ctx.actor()?, TenantId(id), &input).await?)))
}

#[derive(serde::Deserialize)]
struct UsersQuery {
    tenant: Option<i64>,
}

async fn users(State(s): State<AppState>, ctx: Ctx, Query(q): Query<UsersQuery>) -> ApiResult<Vec<UserDto>> {
    let list = s.services.users(ctx.actor()?, q.tenant.map(TenantId)).await?;
    Ok(Json(list.iter().map(UserDto::from).collect()))
}

async fn create_user(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewUserInput>,
) -> ApiResult<CreatedUserDto> {
    let (user, inv) = s.services.create_user(ctx.actor()?, &input).await?;
    Ok(Json(CreatedUserDto { user: UserDto::from(&user), invitation: InvitationDto::from(&inv) }))
}

async fn user(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<UserDto> {
    Ok(Json(UserDto::from(&s.services.user(ctx.actor()?, UserId(id)).await?)))
}

async fn invite(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<InvitationDto> {
    Ok(Json(InvitationDto::from(&s.services.invite_user(ctx.actor()?, UserId(id)).await?)))
}

async fn set_disabled(s: &AppState, ctx: &Ctx, id: i64, disabled: bool) -> ApiResult<UserDto> {
    let actor = ctx.actor()?;
    s.services.set_user_disabled(actor, UserId(id), disabled).await?;
    Ok(Json(UserDto::from(&s.services.user(actor, UserId(id)).await?)))
}

async fn disable(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<UserDto> {
    set_disabled(&s, &ctx, id, true).await
}

async fn enable(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<UserDto> {
    set_disabled(&s, &ctx, id, false).await
}

async fn assign(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AssignmentsDto>,
) -> ApiResult<AssignmentsDto> {
    let actor = ctx.actor()?;
    s.services.assign_staff(actor, UserId(id), &body.tenants).await?;
    Ok(Json(AssignmentsDto { tenants: s.services.assignments(actor, UserId(id)).await? }))
}

async fn tokens(State(s): State<AppState>, ctx: Ctx) -> ApiResult<Vec<TokenDto>> {
    let list = s.services.api_tokens(ctx.actor()?).await?;
    Ok(Json(list.iter().map(TokenDto::from).collect()))
}

async fn create_token(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewTokenDto>,
) -> ApiResult<CreatedTokenDto> {
    let created = s.services.create_api_token(ctx.actor()?, &body.label, body.days).await?;
    Ok(Json(CreatedTokenDto { token: created.token, info: TokenDto::from(&created.info) }))
}

async fn revoke_token(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.services.revoke_api_token(ctx.actor()?, TokenId(id)).await?;
    Ok(Json(serde_json::json!({ "revoked": id })))
}

async fn audit(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<crate::web::AuditQuery>,
) -> ApiResult<AuditPageDto> {
    let filter = q.to_filter(&ctx)?;
    let page = s.services.audit_entries(ctx.actor()?, &filter).await?;
    Ok(Json(AuditPageDto { entries: page.entries, next_before: page.next.map(|s| s.0) }))
}

async fn verify_audit(State(s): State<AppState>, ctx: Ctx) -> ApiResult<ChainDto> {
    let report = s.services.verify_audit(ctx.actor()?).await?;
    Ok(Json(ChainDto { intact: report.error.is_none(), entries: report.entries, error: report.error }))
}

async fn set_totp_policy(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<TotpPolicyDto>,
) -> ApiResult<TotpPolicyDto> {
    s.services.set_totp_required_for_staff(ctx.actor()?, body.required_for_staff).await?;
    Ok(Json(TotpPolicyDto { required_for_staff: s.services.totp_required_for_staff().await? }))
}
