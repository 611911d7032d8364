//! Overview, tenants, users and platform settings.

use super::{done, page, render, render_status, with_cookie, FormErrors, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm, TENANT_COOKIE};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use leitstand_domain::{Feature, Permission as P, Role, SecurityPlan, SocPackage, TenantId, UserId};
use leitstand_service::{Invitation, NewTenantInput, NewUserInput, PlanInput, ServiceError};
use leitstand_store::{AuditEntry, AuditFilter, Tenant, TenantKind, User};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app", P::SignedIn, Kind::Web, "Overview.", overview),
        route(
            M::POST,
            "/app/switch-tenant",
            P::SignedIn,
            Kind::Web,
            "Staff: pick the tenant to work on.",
            switch_tenant,
        ),
        route(M::GET, "/app/tenants", P::TenantsRead, Kind::Web, "Tenants.", tenants),
        route(M::POST, "/app/tenants", P::TenantsManage, Kind::Web, "Create a tenant.", create_tenant),
        route(M::GET, "/app/tenants/{tenant}", P::TenantsRead, Kind::Web, "One tenant.", tenant),
        route(M::POST, "/app/tenants/{tenant}/plan", P::TenantsManage, Kind::Web, "Change a tenant's plan.", set_plan),
        route(M::GET, "/app/users", P::UsersRead, Kind::Web, "Users.", users),
        route(M::POST, "/app/users", P::UsersManage, Kind::Web, "Create a user.", create_user),
        route(M::GET, "/app/users/{user}", P::UsersRead, Kind::Web, "One user.", user),
        route(M::POST, "/app/users/{user}/invitation", P::UsersManage, Kind::Web, "New invitation link.", invite),
        route(M::POST, "/app/users/{user}/disable", P::UsersManage, Kind::Web, "Disable a user.", disable),
        route(M::POST, "/app/users/{user}/enable", P::UsersManage, Kind::Web, "Enable a user.", enable),
        route(
            M::POST,
            "/app/users/{user}/assignments",
            P::TenantsManage,
            Kind::Web,
            "Assign staff to tenants.",
            assign,
        ),
        route(M::GET, "/app/settings", P::PolicyManage, Kind::Web, "Platform settings.", settings),
        route(M::POST, "/app/settings/totp", P::PolicyManage, Kind::Web, "TOTP policy for staff.", set_totp_policy),
    ]
}

#[derive(Deserialize, Default)]
pub struct Flash {
    pub ok: Option<String>,
}

/// Feature gates shown per tenant.
const FEATURES: [(Feature, &str); 5] = [
    (Feature::IntrusionPrevention, "label-feature-ips"),
    (Feature::SocAlerts, "label-feature-soc-alerts"),
    (Feature::SocTriage, "label-feature-soc-triage"),
    (Feature::SocAroundTheClock, "label-feature-soc-247"),
    (Feature::ManagedService, "label-feature-managed"),
];

pub struct FeatureRow {
    pub label: &'static str,
    pub on: bool,
}

fn features(t: &Tenant) -> Vec<FeatureRow> {
    FEATURES.iter().map(|(f, label)| FeatureRow { label, on: t.plan.allows(*f) }).collect()
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewTpl {
    p: Page,
    staff: bool,
    tenants: usize,
    users: Option<usize>,
    pending: Option<usize>,
    own: Option<Tenant>,
    features: Vec<FeatureRow>,
    totp: bool,
    recent: Vec<AuditEntry>,
    roles: Vec<(Role, usize)>,
    max_role: usize,
}

async fn overview(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let tenant_list = s.services.tenants(a).await?;
    let customers = tenant_list.iter().filter(|t| t.kind == TenantKind::Customer).count();
    let user_list = if a.can(P::UsersRead) { Some(s.services.users(a, ctx.selected_tenant).await?) } else { None };
    let own = if a.user.role.is_staff() {
        match ctx.selected_tenant {
            Some(t) => tenant_list.iter().find(|x| x.id == t).cloned(),
            None => None,
        }
    } else {
        tenant_list.iter().find(|t| t.id == a.user.tenant).cloned()
    };
    let recent = if a.can(P::AuditRead) {
        let filter = AuditFilter { limit: 8, tenant: ctx.selected_tenant, ..Default::default() };
        s.services.audit_entries(a, &filter).await?.entries
    } else {
        vec![]
    };
    let roles: Vec<(Role, usize)> = Role::ALL
        .iter()
        .map(|r| (*r, user_list.as_ref().map_or(0, |l| l.iter().filter(|u| u.role == *r).count())))
        .filter(|(_, n)| *n > 0)
        .collect();
    let p = page(&s, &ctx, "page-overview", f.ok.as_deref()).await;
    Ok(render(&OverviewTpl {
        p,
        staff: a.user.role.is_staff(),
        tenants: customers,
        users: user_list.as_ref().map(Vec::len),
        pending: user_list.as_ref().map(|l| l.iter().filter(|u| u.password_hash.is_none()).count()),
        features: own.as_ref().map(features).unwrap_or_default(),
        own,
        totp: a.user.totp_enabled(),
        recent,
        max_role: roles.iter().map(|r| r.1).max().unwrap_or(1),
        roles,
    }))
}

#[derive(Deserialize)]
struct SwitchForm {
    tenant: String,
    #[serde(default)]
    back: Option<String>,
}

async fn switch_tenant(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<SwitchForm>) -> WebResult {
    let a = ctx.actor()?;
    let back = super::safe_next(f.back.as_deref());
    let r = Redirect::to(&back).into_response();
    match f.tenant.parse::<i64>() {
        Ok(id) => {
            a.require_tenant(TenantId(id))?;
            Ok(with_cookie(&s, r, TENANT_COOKIE, &id.to_string(), None))
        }
        Err(_) => Ok(with_cookie(&s, r, TENANT_COOKIE, "", Some(0))),
    }
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsTpl {
    p: Page,
    tenants: Vec<Tenant>,
    can_manage: bool,
    securities: [SecurityPlan; 3],
    socs: [SocPackage; 4],
    form: NewTenantForm,
    errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
struct NewTenantForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    soc: String,
    #[serde(default)]
    managed_service: Option<String>,
    #[serde(default)]
    time_zone: String,
}

impl NewTenantForm {
    fn plan(&self) -> PlanInput {
        PlanInput {
            security: self.security.clone(),
            soc: self.soc.clone(),
            managed_service: self.managed_service.is_some(),
        }
    }
}

async fn tenants(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    if !a.user.role.is_staff() {
        return Ok(Redirect::to(&format!("/app/tenants/{}", a.user.tenant)).into_response());
    }
    let list = s.services.tenants(a).await?;
    let p = page(&s, &ctx, "page-tenants", f.ok.as_deref()).await;
    let form = NewTenantForm {
        security: "basic".into(),
        soc: "none".into(),
        time_zone: "Europe/Berlin".into(),
        ..Default::default()
    };
    Ok(render(&TenantsTpl {
        p,
        tenants: list,
        can_manage: a.can(P::TenantsManage),
        securities: SecurityPlan::ALL,
        socs: SocPackage::ALL,
        form,
        errors: FormErrors::none(ctx.lang),
    }))
}

async fn create_tenant(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<NewTenantForm>) -> WebResult {
    let a = ctx.actor()?;
    let input = NewTenantInput { name: f.name.clone(), plan: f.plan(), time_zone: Some(f.time_zone.clone()) };
    match s.services.create_tenant(a, &input).await {
        Ok(t) => Ok(done(&format!("/app/tenants/{}", t.id), "msg-tenant-created")),
        Err(ServiceError::Invalid(list)) => {
            let tenants = s.services.tenants(a).await?;
            let p = page(&s, &ctx, "page-tenants", None).await;
            let errors = FormErrors { lang: ctx.lang, list };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TenantsTpl {
                    p,
                    tenants,
                    can_manage: true,
                    securities: SecurityPlan::ALL,
                    socs: SocPackage::ALL,
                    form: f,
                    errors,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "tenant.html")]
struct TenantTpl {
    p: Page,
    t: Tenant,
    users: Vec<User>,
    features: Vec<FeatureRow>,
    can_manage: bool,
    securities: [SecurityPlan; 3],
    socs: [SocPackage; 4],
}

async fn tenant(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let t = s.services.tenant(a, TenantId(id)).await?;
    let users = if a.can(P::UsersRead) { s.services.users(a, Some(t.id)).await? } else { vec![] };
    let p = page(&s, &ctx, "page-tenant", f.ok.as_deref()).await;
    Ok(render(&TenantTpl {
        p,
        features: features(&t),
        t,
        users,
        can_manage: a.can(P::TenantsManage),
        securities: SecurityPlan::ALL,
        socs: SocPackage::ALL,
    }))
}

async fn set_plan(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<NewTenantForm>,
) -> WebResult {
    s.services.set_plan(ctx.actor()?, TenantId(id), &f.plan()).await?;
    Ok(done(&format!("/app/tenants/{id}"), "msg-plan-changed"))
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersTpl {
    p: Page,
    users: Vec<User>,
    tenants: Vec<Tenant>,
    can_manage: bool,
    form: NewUserForm,
    errors: FormErrors,
    roles: Vec<Role>,
}

impl UsersTpl {
    fn tenant_name(&self, id: &TenantId) -> String {
        self.tenants.iter().find(|t| t.id == *id).map(|t| t.name.clone()).unwrap_or_default()
    }
}

#[derive(Deserialize, Default, Clone)]
struct NewUserForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

fn roles_for(a: &leitstand_service::Actor) -> Vec<Role> {
    Role::ALL.into_iter().filter(|r| a.user.role == Role::ProviderAdmin || !r.is_staff()).collect()
}

async fn users_page(s: &AppState, ctx: &Ctx, flash: Option<&str>, form: NewUserForm, errors: FormErrors) -> WebResult {
    let a = ctx.actor()?;
    let users = s.services.users(a, ctx.selected_tenant).await?;
    let tenants = s.services.tenants(a).await?;
    let p = page(s, ctx, "page-users", flash).await;
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render_status(
        status,
        &UsersTpl { p, users, tenants, can_manage: a.can(P::UsersManage), form, errors, roles: roles_for(a) },
    ))
}

async fn users(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let form = NewUserForm {
        tenant: ctx.selected_tenant.unwrap_or(a.user.tenant).to_string(),
        role: "customer_member".into(),
        ..Default::default()
    };
    users_page(&s, &ctx, f.ok.as_deref(), form, FormErrors::none(ctx.lang)).await
}

#[derive(Template)]
#[template(path = "user_created.html")]
struct CreatedTpl {
    p: Page,
    user: User,
    invitation: Invitation,
}

async fn create_user(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<NewUserForm>) -> WebResult {
    let a = ctx.actor()?;
    let Ok(tenant) = f.tenant.parse::<i64>() else {
        let errors =
            FormErrors { lang: ctx.lang, list: vec![leitstand_domain::FieldError::new("tenant", "error-invalid")] };
        return users_page(&s, &ctx, None, f, errors).await;
    };
    let input = NewUserInput {
        tenant: TenantId(tenant),
        name: f.name.clone(),
        display_name: f.display_name.clone(),
        email: Some(f.email.clone()),
        role: f.role.clone(),
    };
    match s.services.create_user(a, &input).await {
        Ok((user, invitation)) => {
            let p = page(&s, &ctx, "page-user-created", None).await;
            Ok(render(&CreatedTpl { p, user, invitation }))
        }
        Err(ServiceError::Invalid(list)) => users_page(&s, &ctx, None, f, FormErrors { lang: ctx.lang, list }).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserTpl {
    p: Page,
    u: User,
    tenant: Tenant,
    can_manage: bool,
    can_assign: bool,
    assignable: Vec<(Tenant, bool)>,
    is_self: bool,
}

async fn user(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let u = s.services.user(a, UserId(id)).await?;
    let tenant = s.services.tenant(a, u.tenant).await?;
    let can_assign = a.can(P::TenantsManage) && u.role.needs_assignment();
    let assignable = if can_assign {
        let assigned = s.services.assignments(a, u.id).await?;
        s.services
            .tenants(a)
            .await?
            .into_iter()
            .filter(|t| t.kind == TenantKind::Customer)
            .map(|t| {
                let on = assigned.contains(&t.id);
                (t, on)
            })
            .collect()
    } else {
        vec![]
    };
    let p = page(&s, &ctx, "page-user", f.ok.as_deref()).await;
    Ok(render(&UserTpl {
        p,
        is_self: u.id == a.id(),
        u,
        tenant,
        can_manage: a.can(P::UsersManage),
        can_assign,
        assignable,
    }))
}

async fn invite(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let a = ctx.actor()?;
    let invitation = s.services.invite_user(a, UserId(id)).await?;
    let user = s.services.user(a, UserId(id)).await?;
    let p = page(&s, &ctx, "page-user-created", None).await;
    Ok(render(&CreatedTpl { p, user, invitation }))
}

async fn disable(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.set_user_disabled(ctx.actor()?, UserId(id), true).await?;
    Ok(done(&format!("/app/users/{id}"), "msg-user-disabled"))
}

async fn enable(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.set_user_disabled(ctx.actor()?, UserId(id), false).await?;
    Ok(done(&format!("/app/users/{id}"), "msg-user-enabled"))
}

async fn assign(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, body: axum::body::Bytes) -> WebResult {
    // Repeated `tenant` fields: parse the pairs ourselves.
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| ServiceError::field("tenants", "error-invalid"))?;
    let tenants = pairs
        .iter()
        .filter(|(k, _)| k == "tenant")
        .map(|(_, v)| v.parse().map(TenantId).map_err(|_| ServiceError::field("tenants", "error-invalid")))
        .collect::<Result<Vec<_>, _>>()?;
    s.services.assign_staff(ctx.actor()?, UserId(id), &tenants).await?;
    Ok(done(&format!("/app/users/{id}"), "msg-assignments-saved"))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsTpl {
    p: Page,
    totp_required: bool,
    chain: Option<leitstand_service::ChainReport>,
}

#[derive(Deserialize, Default)]
struct SettingsQuery {
    ok: Option<String>,
    /// `1`: check the audit chain now.
    verify: Option<String>,
}

async fn settings(State(s): State<AppState>, ctx: Ctx, Query(q): Query<SettingsQuery>) -> WebResult {
    let totp_required = s.services.totp_required_for_staff().await?;
    let chain = match q.verify.as_deref() {
        Some("1") => Some(s.services.verify_audit(ctx.actor()?).await?),
        _ => None,
    };
    let p = page(&s, &ctx, "page-settings", q.ok.as_deref()).await;
    Ok(render(&SettingsTpl { p, totp_required, chain }))
}

#[derive(Deserialize)]
struct TotpPolicyForm {
    #[serde(default)]
    required: Option<String>,
}

async fn set_totp_policy(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<TotpPolicyForm>) -> WebResult {
    s.services.set_totp_required_for_staff(ctx.actor()?, f.required.is_some()).await?;
    Ok(done("/app/settings", "msg-settings-saved"))
}
