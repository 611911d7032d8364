//! Notification settings in the console (ALARM-3, ALARM-4): a tenant's
//! quiet hours, escalation step and unanswered deadline, its contacts
//! (who is told of what, by which channel, at which level), and the log of
//! messages with their state.

use super::rules::{customer_tenants, rule_name};
use super::{done, page, render, FormErrors, Page, WebResult};
use crate::api::notify::parse_notification_state;
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::alert::Severity;
use leitstand_domain::notify::{Channel, Policy, MAX_LEVEL};
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{ContactInput, ServiceError};
use leitstand_store::{Contact, Notification, NotificationQuery};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/app/notifications",
            P::HostsRead,
            Kind::Web,
            "A tenant's notification policy, contacts and message log.",
            show,
        ),
        route(M::POST, "/app/notifications/policy", P::HostsManage, Kind::Web, "Save the policy.", save_policy),
        route(M::POST, "/app/notifications/contacts", P::HostsManage, Kind::Web, "Add a contact.", add_contact),
        route(
            M::POST,
            "/app/notifications/contacts/{contact}",
            P::HostsManage,
            Kind::Web,
            "Change a contact.",
            save_contact,
        ),
    ]
}

#[derive(Deserialize, Default)]
struct ShowForm {
    tenant: Option<i64>,
    state: Option<String>,
    ok: Option<String>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct Tpl {
    p: Page,
    tenants: Vec<(TenantId, String)>,
    tenant: Option<TenantId>,
    policy: Policy,
    contacts: Vec<Contact>,
    rules: Vec<(i64, String)>,
    log: Vec<Notification>,
    state: String,
    can_manage: bool,
    errors: FormErrors,
    levels: Vec<u32>,
}

impl Tpl {
    fn is_tenant(&self, t: &TenantId) -> bool {
        self.tenant == Some(*t)
    }

    fn sev(&self, s: &str) -> String {
        self.p.tk("severity-", s)
    }

    fn severities(&self) -> [&'static str; 4] {
        Severity::ALL.map(|s| s.as_str())
    }

    fn channels(&self) -> [&'static str; 3] {
        Channel::ALL.map(|c| c.as_str())
    }

    /// `HH:MM` of a minute of the day.
    fn hhmm(&self, m: &u16) -> String {
        format!("{:02}:{:02}", m / 60, m % 60)
    }

    fn quiet_from(&self) -> String {
        self.policy.quiet.map(|q| self.hhmm(&q.0)).unwrap_or_default()
    }

    fn quiet_to(&self) -> String {
        self.policy.quiet.map(|q| self.hhmm(&q.1)).unwrap_or_default()
    }

    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }

    fn has_rule(&self, c: &Contact, r: &i64) -> bool {
        c.rules.contains(r)
    }
}

async fn show(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ShowForm>) -> WebResult {
    let p = page(&s, &ctx, "page-notifications", f.ok.as_deref()).await;
    render_page(&s, &ctx, p, f.tenant, f.state.unwrap_or_default(), FormErrors::none(ctx.lang)).await
}

async fn render_page(
    s: &AppState,
    ctx: &Ctx,
    p: Page,
    asked: Option<i64>,
    state: String,
    errors: FormErrors,
) -> WebResult {
    let a = ctx.actor()?;
    let (tenants, tenant) = customer_tenants(s, ctx, asked).await?;
    let (mut policy, mut contacts, mut rules) = (Policy::default(), vec![], vec![]);
    if let Some(t) = tenant {
        policy = s.services.notify_policy(a, t).await?;
        contacts = s.services.contacts(a, t).await?;
        rules = s.services.alert_rules(a, t).await?.iter().map(|r| (r.id, rule_name(&p, r))).collect();
    }
    let q = NotificationQuery { state: parse_notification_state(Some(&state))?, limit: 100, ..Default::default() };
    let log = match tenant {
        Some(t) => s.services.notifications(a, Some(t), q).await?,
        None => vec![],
    };
    Ok(render(&Tpl {
        p,
        tenants,
        tenant,
        policy,
        contacts,
        rules,
        log,
        state,
        can_manage: a.can(P::HostsManage),
        errors,
        levels: (0..=MAX_LEVEL).collect(),
    }))
}

#[derive(Deserialize)]
struct PolicyForm {
    tenant: i64,
    #[serde(default)]
    quiet_from: String,
    #[serde(default)]
    quiet_to: String,
    escalate_after_mins: String,
    unanswered_hours: String,
}

/// `22:00` → minute of the day; empty → none.
fn minute_of_day(field: &str, v: &str) -> Result<Option<u16>, ServiceError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || ServiceError::BadInput(format!("{field}: {v:?} is not a time like 22:00"));
    let (h, m) = v.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(Some(h * 60 + m))
}

async fn save_policy(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<PolicyForm>) -> WebResult {
    let number = |field: &str, v: &str| {
        v.trim().parse::<u32>().map_err(|_| ServiceError::BadInput(format!("{field}: {v:?} is not a whole number")))
    };
    let quiet = match (minute_of_day("quiet_from", &f.quiet_from)?, minute_of_day("quiet_to", &f.quiet_to)?) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => return Err(ServiceError::BadInput("quiet hours need a start and an end".into()).into()),
    };
    let policy = Policy {
        quiet,
        escalate_after_mins: number("escalate_after_mins", &f.escalate_after_mins)?,
        unanswered_hours: number("unanswered_hours", &f.unanswered_hours)?,
    };
    s.services.set_notify_policy(ctx.actor()?, TenantId(f.tenant), policy).await?;
    Ok(done(&format!("/app/notifications?tenant={}", f.tenant), "msg-policy-saved"))
}

#[derive(Deserialize)]
struct ContactForm {
    tenant: i64,
    name: String,
    channel: String,
    address: String,
    language: String,
    min_severity: String,
    level: u32,
    #[serde(default)]
    enabled: Option<String>,
    /// `rule_<id>` checkboxes.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl ContactForm {
    fn input(self) -> ContactInput {
        let mut rules: Vec<i64> =
            self.rest.keys().filter_map(|k| k.strip_prefix("rule_")?.parse().ok()).collect::<Vec<_>>();
        rules.sort_unstable();
        ContactInput {
            name: self.name,
            channel: self.channel,
            address: self.address,
            language: self.language,
            min_severity: self.min_severity,
            rules,
            level: self.level,
            enabled: self.enabled.is_some(),
        }
    }
}

async fn store_contact(s: &AppState, ctx: &Ctx, id: Option<i64>, f: ContactForm) -> WebResult {
    let tenant = f.tenant;
    match s.services.save_contact(ctx.actor()?, TenantId(tenant), id, f.input()).await {
        Ok(_) => Ok(done(&format!("/app/notifications?tenant={tenant}"), "msg-contact-saved")),
        Err(ServiceError::Invalid(list)) => {
            let p = page(s, ctx, "page-notifications", None).await;
            let errors = FormErrors { lang: ctx.lang, list };
            let mut r = render_page(s, ctx, p, Some(tenant), String::new(), errors).await?;
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_contact(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<ContactForm>) -> WebResult {
    store_contact(&s, &ctx, None, f).await
}

async fn save_contact(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<ContactForm>,
) -> WebResult {
    store_contact(&s, &ctx, Some(id), f).await
}
