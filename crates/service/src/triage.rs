//! SOC analyst work (SOC-5, SOC-12, SOC-13): the queue across an analyst's
//! tenants in their package hours, reprioritising, reclassifying, internal
//! notes, indicator checks, recommendations to the customer's contacts,
//! closing with a verdict, and monthly fair-use figures.

use jiff::Timestamp;
use leitstand_domain::alert::{AlertState, Severity};
use leitstand_domain::notify::Channel;
use leitstand_domain::plan::SocPackage;
use leitstand_domain::soc::{in_support_hours, included_per_month, next_support_start, over_fair_use, IndicatorKind};
use leitstand_domain::soc::{Verdict, CLASSES, SUPPORT_ZONE};
use leitstand_domain::{FieldError, Permission, TenantId};
use leitstand_store::{Alert, AlertNote, AlertQuery, Indicator, NoteKind, SocEvent, Triage};

use crate::{Actor, Result, ServiceError, Services};

/// A SOC alert in the analysts' queue.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub alert: Alert,
    pub tenant_name: String,
    pub package: SocPackage,
    /// The package's hours are on now: work it.
    pub in_hours: bool,
    /// When its package's hours begin next (now when in hours).
    pub next_start: Option<Timestamp>,
}

/// One tenant's month against its package (SOC-12).
#[derive(Debug, Clone)]
pub struct FairUseRow {
    pub tenant: TenantId,
    pub name: String,
    pub package: SocPackage,
    pub alerts: u64,
    pub handled: u64,
    /// Included alerts and handled incidents per month.
    pub included: (u64, u64),
    /// More than three times the package.
    pub over: bool,
}

/// The observables of events (source addresses, users, hosts), for the
/// indicator check.
pub fn observables(events: &[SocEvent]) -> Vec<&str> {
    events.iter().flat_map(|e| [e.source_ip.as_deref(), e.user.as_deref(), e.host_name.as_deref()]).flatten().collect()
}

/// Longest note or recommendation.
const MAX_TEXT: usize = 8000;

fn text_of(field: &'static str, text: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_TEXT {
        return Err(ServiceError::Invalid(vec![FieldError::new(field, "error-soc-text")]));
    }
    Ok(t.to_owned())
}

impl Services {
    /// Open SOC alerts of the analyst's tenants with a triage package (2 or
    /// 3): those whose package hours are on first, then by severity and age.
    pub async fn soc_queue(&self, actor: &Actor) -> Result<Vec<QueueItem>> {
        actor.require(Permission::SocManage)?;
        let tenants = self.store.tenants(actor.scope()).await?;
        let q = AlertQuery {
            soc: true,
            states: vec![AlertState::Open, AlertState::Acknowledged, AlertState::Muted],
            limit: 2000,
            ..AlertQuery::default()
        };
        let now = self.now().to_zoned(jiff::tz::TimeZone::get(SUPPORT_ZONE).unwrap_or(jiff::tz::TimeZone::UTC));
        let mut items: Vec<QueueItem> = self
            .store
            .alerts(actor.scope(), &q)
            .await?
            .into_iter()
            .filter_map(|alert| {
                let t = tenants.iter().find(|t| t.id == alert.tenant)?;
                let package = t.plan.soc;
                let next = next_support_start(package, &now)?;
                Some(QueueItem {
                    in_hours: in_support_hours(package, &now),
                    next_start: Some(next.timestamp()),
                    tenant_name: t.name.clone(),
                    package,
                    alert,
                })
            })
            .collect();
        items.sort_by(|a, b| {
            b.in_hours
                .cmp(&a.in_hours)
                .then(b.alert.severity.cmp(&a.alert.severity))
                .then(a.alert.first_at.cmp(&b.alert.first_at))
        });
        Ok(items)
    }

    /// Reprioritise, reclassify and (with a verdict) close a SOC alert.
    pub async fn triage_soc_alert(
        &self,
        actor: &Actor,
        alert: i64,
        severity: Option<&str>,
        class: Option<&str>,
        verdict: Option<&str>,
    ) -> Result<()> {
        actor.require(Permission::SocManage)?;
        let mut errors = vec![];
        let severity = match severity.filter(|s| !s.is_empty()) {
            Some(s) => Severity::parse(s).or_else(|| {
                errors.push(FieldError::new("severity", "error-severity"));
                None
            }),
            None => None,
        };
        let class = match class.filter(|c| !c.is_empty()) {
            Some(c) if CLASSES.contains(&c) => Some(c.to_owned()),
            Some(_) => {
                errors.push(FieldError::new("class", "error-soc-class"));
                None
            }
            None => None,
        };
        let verdict = match verdict.filter(|v| !v.is_empty()) {
            Some(v) => Verdict::parse(v).or_else(|| {
                errors.push(FieldError::new("verdict", "error-soc-verdict"));
                None
            }),
            None => None,
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let a = self.store.alert(actor.scope(), alert).await?;
        let detail = serde_json::json!({
            "severity": severity.map(Severity::as_str),
            "class": class,
            "verdict": verdict.map(Verdict::as_str),
        });
        let draft = actor.audit(self.now(), "soc.triage", Some(a.tenant), format!("alert:{alert}"), detail);
        let t = Triage { severity, class, verdict };
        Ok(self.store.triage_alert(actor.scope(), alert, &t, actor.id(), self.now(), &draft).await?)
    }

    /// A note only provider staff see (SOC-13).
    pub async fn soc_internal_note(&self, actor: &Actor, alert: i64, text: &str) -> Result<AlertNote> {
        actor.require(Permission::SocManage)?;
        let text = text_of("text", text)?;
        let a = self.store.alert(actor.scope(), alert).await?;
        let draft = actor.audit(
            self.now(),
            "alert.internal_note",
            Some(a.tenant),
            format!("alert:{alert}"),
            serde_json::json!({}),
        );
        Ok(self.store.add_note(actor.scope(), alert, NoteKind::Internal, &text, self.now(), &draft).await?)
    }

    /// A recommendation to the customer: on the alert's timeline and by
    /// e-mail to the tenant's named contacts. Returns how many are told.
    pub async fn recommend(&self, actor: &Actor, alert: i64, text: &str) -> Result<usize> {
        actor.require(Permission::SocManage)?;
        let text = text_of("text", text)?;
        let a = self.store.alert(actor.scope(), alert).await?;
        let contacts: Vec<i64> = self
            .store
            .contacts(actor.scope(), a.tenant)
            .await?
            .into_iter()
            .filter(|c| c.enabled && c.channel == Channel::Email)
            .map(|c| c.id)
            .collect();
        let detail = serde_json::json!({ "contacts": contacts.len() });
        let draft = actor.audit(self.now(), "soc.recommendation", Some(a.tenant), format!("alert:{alert}"), detail);
        self.store.recommend(actor.scope(), alert, actor.id(), &text, &contacts, self.now(), &draft).await?;
        Ok(contacts.len())
    }

    pub async fn indicators(&self, actor: &Actor) -> Result<Vec<Indicator>> {
        actor.require(Permission::SocManage)?;
        Ok(self.store.indicators().await?)
    }

    /// Adds an observable to the provider's indicator list (or changes its note).
    pub async fn add_indicator(&self, actor: &Actor, kind: &str, value: &str, note: &str) -> Result<Indicator> {
        actor.require(Permission::SocManage)?;
        if !actor.role().is_staff() {
            return Err(ServiceError::Forbidden);
        }
        let Some(kind) = IndicatorKind::parse(kind) else {
            return Err(ServiceError::Invalid(vec![FieldError::new("kind", "error-indicator-kind")]));
        };
        let Some(value) = kind.normalise(value) else {
            return Err(ServiceError::Invalid(vec![FieldError::new("value", "error-indicator-value")]));
        };
        let note: String = note.trim().chars().take(500).collect();
        let detail = serde_json::json!({ "kind": kind.as_str(), "value": value });
        let draft = actor.audit(self.now(), "soc.indicator_add", None, format!("indicator:{}", kind.as_str()), detail);
        Ok(self.store.add_indicator(kind, &value, &note, self.now(), &draft).await?)
    }

    pub async fn remove_indicator(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::SocManage)?;
        if !actor.role().is_staff() {
            return Err(ServiceError::Forbidden);
        }
        let draft =
            actor.audit(self.now(), "soc.indicator_remove", None, format!("indicator:{id}"), serde_json::json!({}));
        Ok(self.store.remove_indicator(id, &draft).await?)
    }

    /// Which of these observables are on the indicator list (each read as
    /// every kind it can be).
    pub async fn check_observables(&self, actor: &Actor, values: &[&str]) -> Result<Vec<Indicator>> {
        actor.require(Permission::SocManage)?;
        let forms: Vec<String> =
            values.iter().flat_map(|v| IndicatorKind::ALL.iter().filter_map(|k| k.normalise(v))).collect();
        Ok(self.store.matching_indicators(&forms).await?)
    }

    /// Indicators among the observables of a SOC alert's evidence.
    pub async fn alert_indicator_hits(&self, actor: &Actor, alert: i64) -> Result<Vec<Indicator>> {
        actor.require(Permission::SocManage)?;
        let events = self.soc_evidence(actor, alert).await?;
        self.check_observables(actor, &observables(&events)).await
    }

    /// Each tenant's SOC alerts and handled incidents in a month (Europe/
    /// Berlin), against its package; more than 3× is flagged (SOC-12).
    pub async fn soc_fair_use(&self, actor: &Actor, year: i16, month: i8) -> Result<Vec<FairUseRow>> {
        actor.require(Permission::SocManage)?;
        let tz = jiff::tz::TimeZone::get(SUPPORT_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
        let bad = || ServiceError::Invalid(vec![FieldError::new("month", "error-month")]);
        let start = jiff::civil::Date::new(year, month, 1).map_err(|_| bad())?;
        let end = start.checked_add(jiff::Span::new().months(1)).map_err(|_| bad())?;
        let from = start.to_zoned(tz.clone()).map_err(|_| bad())?.timestamp();
        let to = end.to_zoned(tz).map_err(|_| bad())?.timestamp();
        let usage = self.store.soc_usage(from, to).await?;
        let tenants = self.store.tenants(actor.scope()).await?;
        Ok(tenants
            .into_iter()
            .filter(|t| t.plan.soc != SocPackage::None)
            .map(|t| {
                let u = usage.iter().find(|u| u.tenant == t.id);
                let (alerts, handled) = u.map_or((0, 0), |u| (u.alerts, u.handled));
                FairUseRow {
                    tenant: t.id,
                    over: over_fair_use(t.plan.soc, alerts, handled),
                    included: included_per_month(t.plan.soc),
                    package: t.plan.soc,
                    name: t.name,
                    alerts,
                    handled,
                }
            })
            .collect())
    }
}
