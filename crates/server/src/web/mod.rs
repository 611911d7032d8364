//! The web console: server-rendered pages (askama) for people, in German and
//! English. Handlers are thin: parse, call one service function, render.

mod account;
mod admin;
mod alerts;
mod audit;
pub(crate) mod checklist;
pub(crate) mod csv;
mod dashboard;
mod deb;
mod hosts;
mod install;
pub(crate) mod inventory;
mod notify;
pub(crate) mod patch;
mod profile;
mod rules;
pub(crate) mod soc;
mod triage;
pub(crate) mod vuln;

pub use audit::AuditQuery;
pub use install::install_command;
pub use inventory::{columns as inventory_columns, EVENT_GROUPS};

use crate::app::AppState;
use crate::http::{set_cookie, Ctx, WebError};
use crate::i18n::{format_int, format_time, tr};
use crate::routes::RouteDef;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::Timestamp;
use leitstand_domain::{FieldError, Lang, Permission, Role};

pub type WebResult = Result<Response, WebError>;

pub fn routes() -> Vec<RouteDef> {
    let mut v = account::routes();
    v.extend(admin::routes());
    v.extend(hosts::routes());
    v.extend(inventory::routes());
    v.extend(checklist::routes());
    v.extend(alerts::routes());
    v.extend(rules::routes());
    v.extend(notify::routes());
    v.extend(dashboard::routes());
    v.extend(soc::routes());
    v.extend(triage::routes());
    v.extend(vuln::routes());
    v.extend(patch::routes());
    v.extend(install::routes());
    v.extend(profile::routes());
    v.extend(audit::routes());
    v
}

pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

pub struct SwitchOption {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

/// What the layout needs on every page.
pub struct Page {
    pub lang: Lang,
    pub title: String,
    pub csrf: String,
    pub path: String,
    pub signed_in: bool,
    pub user_name: String,
    pub role_label: String,
    pub nav: Vec<NavItem>,
    pub switcher: Vec<SwitchOption>,
    pub flash: Option<String>,
    pub tz: jiff::tz::TimeZone,
}

impl Page {
    /// A severity in the reader's language.
    pub fn sev(&self, s: &leitstand_domain::alert::Severity) -> String {
        self.tk("severity-", s.as_str())
    }

    /// An alert state in the reader's language.
    pub fn alert_state(&self, s: &leitstand_domain::alert::AlertState) -> String {
        self.tk("alert-state-", s.as_str())
    }

    /// Translates a message key.
    pub fn t(&self, key: &str) -> String {
        tr(self.lang, key)
    }

    pub fn time(&self, t: &Timestamp) -> String {
        format_time(*t, &self.tz, self.lang)
    }

    pub fn int(&self, n: &usize) -> String {
        format_int(*n as i64, self.lang)
    }

    pub fn count(&self, n: &u64) -> String {
        format_int(*n as i64, self.lang)
    }

    /// Translates `prefix` + `value`, e.g. `plan-` + `basic`.
    pub fn tk(&self, prefix: &str, value: &str) -> String {
        tr(self.lang, &format!("{prefix}{value}"))
    }

    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::De => "en",
            Lang::En => "de",
        }
    }

    /// A bare page for texts made outside a request's page (live streams).
    pub fn for_stream(lang: Lang, tz: jiff::tz::TimeZone) -> Page {
        Page {
            lang,
            title: String::new(),
            csrf: String::new(),
            path: String::new(),
            signed_in: true,
            user_name: String::new(),
            role_label: String::new(),
            nav: vec![],
            switcher: vec![],
            flash: None,
            tz,
        }
    }

    pub fn role(&self, r: &Role) -> String {
        tr(self.lang, &format!("role-{}", r.as_str().replace('_', "-")))
    }
}

/// Builds the layout context for a page.
pub async fn page(state: &AppState, ctx: &Ctx, title_key: &str, flash: Option<&str>) -> Page {
    let lang = ctx.lang;
    let mut nav = vec![];
    let mut switcher = vec![];
    let (mut user_name, mut role_label) = (String::new(), String::new());
    if let Some(a) = &ctx.actor {
        user_name = a.user.display_name.clone();
        role_label = tr(lang, &format!("role-{}", a.user.role.as_str().replace('_', "-")));
        let items: [(&'static str, &str, Permission); 14] = [
            ("/app", "nav-overview", Permission::SignedIn),
            ("/app/dashboard", "nav-dashboard", Permission::HostsRead),
            ("/app/hosts", "nav-hosts", Permission::HostsRead),
            ("/app/alerts", "nav-alerts", Permission::HostsRead),
            ("/app/soc", "nav-soc", Permission::SocRead),
            ("/app/vulnerabilities", "nav-vulnerabilities", Permission::HostsRead),
            ("/app/patches", "nav-patches", Permission::HostsRead),
            ("/app/inventory", "nav-inventory", Permission::HostsRead),
            ("/app/checklist", "nav-checklist", Permission::HostsRead),
            ("/app/tenants", "nav-tenants", Permission::TenantsRead),
            ("/app/users", "nav-users", Permission::UsersRead),
            ("/app/audit", "nav-audit", Permission::AuditRead),
            ("/app/settings", "nav-settings", Permission::PolicyManage),
            ("/app/profile", "nav-profile", Permission::SignedIn),
        ];
        for (href, key, p) in items {
            if a.can(p) && !a.must_enrol_totp {
                let here = ctx.path.split('?').next().unwrap_or_default();
                let active = if href == "/app" { here == "/app" } else { here.starts_with(href) };
                nav.push(NavItem { href, label: tr(lang, key), active });
            }
        }
        if a.user.role.is_staff() && !a.must_enrol_totp {
            if let Ok(tenants) = state.services.tenants(a).await {
                switcher = tenants
                    .into_iter()
                    .filter(|t| t.kind == leitstand_store::TenantKind::Customer)
                    .map(|t| SwitchOption { id: t.id.0, selected: ctx.selected_tenant == Some(t.id), name: t.name })
                    .collect();
            }
        }
    }
    Page {
        lang,
        title: tr(lang, title_key),
        csrf: ctx.csrf.clone(),
        path: ctx.path.clone(),
        signed_in: ctx.actor.is_some(),
        user_name,
        role_label,
        nav,
        switcher,
        flash: flash.filter(|k| k.starts_with("msg-")).map(|k| tr(lang, k)),
        tz: ctx.tz.clone(),
    }
}

pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    let mut r = render(t);
    *r.status_mut() = status;
    r
}

/// A `303 See Other` after a successful form, with a message key to show.
/// The tenant a page works on: the one staff picked in the switcher, or a
/// customer's own.
pub(crate) fn own_tenant(ctx: &Ctx) -> Option<leitstand_domain::TenantId> {
    let a = ctx.actor.as_ref()?;
    ctx.selected_tenant.or((!a.user.role.is_staff()).then_some(a.user.tenant))
}

pub fn done(to: &str, msg: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}ok={msg}")).into_response()
}

pub fn with_cookie(state: &AppState, mut r: Response, name: &str, value: &str, max_age: Option<i64>) -> Response {
    r.headers_mut().append(header::SET_COOKIE, set_cookie(state, name, value, max_age));
    r
}

/// Field errors for a form, by field name, translated.
pub struct FormErrors {
    pub lang: Lang,
    pub list: Vec<FieldError>,
}

impl FormErrors {
    pub fn none(lang: Lang) -> Self {
        Self { lang, list: vec![] }
    }

    pub fn get(&self, field: &str) -> String {
        self.list.iter().filter(|f| f.field == field).map(|f| tr(self.lang, f.code)).collect::<Vec<_>>().join(" ")
    }

    pub fn any(&self) -> bool {
        !self.list.is_empty()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTpl<'a> {
    p: Page,
    status: u16,
    message: &'a str,
}

/// An error page in the reader's language.
pub fn render_error(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    let lang = ctx.lang;
    let p = Page {
        lang,
        title: format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        csrf: ctx.csrf.clone(),
        path: ctx.path.clone(),
        signed_in: ctx.actor.is_some(),
        user_name: ctx.actor.as_ref().map(|a| a.user.display_name.clone()).unwrap_or_default(),
        role_label: String::new(),
        nav: vec![],
        switcher: vec![],
        flash: None,
        tz: ctx.tz.clone(),
    };
    render_status(status, &ErrorTpl { p, status: status.as_u16(), message })
}

/// Text made safe for HTML built outside a template.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Only same-site paths are followed after sign-in.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/app".to_owned(),
    }
}

/// An SVG QR code for a text (TOTP provisioning URI).
pub fn qr_svg(text: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else { return String::new() };
    let border = 2;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"200\" height=\"200\" \
         shape-rendering=\"crispEdges\" role=\"img\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}
