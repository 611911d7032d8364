//! Notifications (ALARM-3, ALARM-4): each tenant's policy and contacts, the
//! planner that queues messages for new alerts, escalates unacknowledged
//! ones and flags those left unanswered, and the hand-over to the senders
//! with the rate limit per recipient.

use crate::{Actor, Result, ServiceError, Services};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::alert::Severity;
use leitstand_domain::notify::{
    backoff, Channel, Interest, Policy, MAX_ATTEMPTS, MAX_LEVEL, RATE_LIMIT, RATE_WINDOW_SECS,
};
use leitstand_domain::{FieldError, Lang, Permission, TenantId};
use leitstand_store::{Alert, AlertFlag, Contact, NewContact, Notification, NotificationQuery, TenantScope};
use rand::RngCore;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// A contact as a form or API call gives it.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: String,
    pub channel: String,
    pub address: String,
    pub language: String,
    pub min_severity: String,
    pub rules: Vec<i64>,
    pub level: u32,
    pub enabled: bool,
}

/// One message to send: to one contact, about one alert or several
/// (grouped), saying how many were held back by the rate limit.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub contact: Contact,
    pub items: Vec<(Notification, Alert)>,
    pub held_back: u32,
    /// An analyst's recommendation (SOC-5): sent alone, quoting the alert.
    pub recommendation: Option<String>,
}

impl Outgoing {
    pub fn ids(&self) -> Vec<i64> {
        self.items.iter().map(|(n, _)| n.id).collect()
    }
}

/// What a planning round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Planned {
    pub levels_queued: u32,
    pub flagged: u32,
}

/// Most alerts one planning round looks at.
const PLAN_BATCH: u32 = 5_000;
/// How long a sender holds messages it took before others may take them.
const LEASE: SignedDuration = SignedDuration::from_secs(120);

impl Services {
    pub async fn notify_policy(&self, actor: &Actor, tenant: TenantId) -> Result<Policy> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        Ok(self.store.notify_policy(actor.scope(), tenant).await?)
    }

    pub async fn set_notify_policy(&self, actor: &Actor, tenant: TenantId, policy: Policy) -> Result<()> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        policy.validate().map_err(ServiceError::BadInput)?;
        let draft = actor.audit(
            self.now(),
            "notify.policy",
            Some(tenant),
            format!("tenant:{}", tenant.0),
            json!({ "quiet": policy.quiet, "escalate_after_mins": policy.escalate_after_mins,
                    "unanswered_hours": policy.unanswered_hours }),
        );
        Ok(self.store.set_notify_policy(actor.scope(), tenant, &policy, &draft).await?)
    }

    /// A tenant's contacts; webhook secrets only for those who may change them.
    pub async fn contacts(&self, actor: &Actor, tenant: TenantId) -> Result<Vec<Contact>> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        let mut list = self.store.contacts(actor.scope(), tenant).await?;
        if !actor.can(Permission::HostsManage) {
            list.iter_mut().for_each(|c| c.secret = None);
        }
        Ok(list)
    }

    /// One contact; its secret only for those who may change it.
    pub async fn contact(&self, actor: &Actor, id: i64) -> Result<Contact> {
        actor.require(Permission::HostsRead)?;
        let mut c = self.store.contact(actor.scope(), id).await?;
        if !actor.can(Permission::HostsManage) {
            c.secret = None;
        }
        Ok(c)
    }

    /// Adds (`id` none) or changes a contact. A webhook gets its signing
    /// key when it is made.
    pub async fn save_contact(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Option<i64>,
        input: ContactInput,
    ) -> Result<Contact> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        let mut errors = vec![];
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new("name", "error-contact-name"));
        }
        let channel = Channel::parse(&input.channel);
        match channel {
            None => errors.push(FieldError::new("channel", "error-channel")),
            Some(c) => {
                if let Err(e) = c.check_address(&input.address) {
                    errors.push(e);
                }
            }
        }
        let language = Lang::parse(&input.language);
        if language.is_none() {
            errors.push(FieldError::new("language", "error-language"));
        }
        let severity = Severity::parse(&input.min_severity);
        if severity.is_none() {
            errors.push(FieldError::new("min_severity", "error-severity"));
        }
        if input.level > MAX_LEVEL {
            errors.push(FieldError::new("level", "error-level"));
        }
        let rules = self.store.alert_rules(actor.scope(), tenant).await?;
        if input.rules.iter().any(|r| !rules.iter().any(|x| x.id == *r)) {
            errors.push(FieldError::new("rules", "error-rules"));
        }
        let (Some(channel), Some(language), Some(min_severity), true) =
            (channel, language, severity, errors.is_empty())
        else {
            return Err(ServiceError::Invalid(errors));
        };
        let contact = NewContact {
            name,
            channel,
            address: input.address.trim().to_owned(),
            language,
            min_severity,
            rules: input.rules,
            level: input.level,
            enabled: input.enabled,
            secret: None,
        };
        let had_secret = match id {
            Some(id) => self.store.contact(actor.scope(), id).await?.secret.is_some(),
            None => false,
        };
        let contact = NewContact {
            secret: (channel == Channel::Webhook && !had_secret).then(|| {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                hex::encode(key)
            }),
            ..contact
        };
        let now = self.now();
        let draft = actor.audit(
            now,
            if id.is_some() { "notify.contact_update" } else { "notify.contact_create" },
            Some(tenant),
            String::new(),
            json!({ "name": contact.name, "channel": channel.as_str(), "address": contact.address,
                    "level": contact.level, "enabled": contact.enabled }),
        );
        Ok(self.store.save_contact(actor.scope(), tenant, id, &contact, now, &draft).await?)
    }

    /// The notification log of the actor's tenants (or one alert's).
    pub async fn notifications(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        mut q: NotificationQuery,
    ) -> Result<Vec<Notification>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        if let Some(alert) = q.alert {
            self.store.alert(&scope, alert).await?;
        }
        q.limit = if q.limit == 0 { 200 } else { q.limit.min(10_000) };
        Ok(self.store.notifications(&scope, &q).await?)
    }

    /// One planning round (system): queues the messages of new alerts
    /// (`only_new`), or also escalates unacknowledged alerts level by level
    /// and flags those unanswered past the tenant's deadline (ALARM-4).
    /// An alert whose rule had notifications off records that, and nobody
    /// is told (ALARM-3).
    pub async fn plan_notifications(&self, only_new: bool) -> Result<Planned> {
        let now = self.now();
        let mut done = Planned::default();
        let mut setups: HashMap<TenantId, (Policy, Vec<Contact>, TimeZone)> = HashMap::new();
        for a in self.store.open_alerts(only_new, PLAN_BATCH).await? {
            if let std::collections::hash_map::Entry::Vacant(slot) = setups.entry(a.tenant) {
                let all = TenantScope::All;
                let policy = self.store.notify_policy(&all, a.tenant).await?;
                let contacts: Vec<Contact> =
                    self.store.contacts(&all, a.tenant).await?.into_iter().filter(|c| c.enabled).collect();
                slot.insert((policy, contacts, self.tenant_zone(a.tenant).await));
            }
            let (policy, contacts, tz) = &setups[&a.tenant];
            if !only_new && a.flag.is_none() && policy.unanswered(a.first_at, now) {
                done.flagged += u32::from(self.store.flag_alert(&a, AlertFlag::Unanswered, now).await?);
            }
            if !a.notify {
                if a.notified_level < 0 {
                    let noted = [("notify_off", String::new())];
                    done.levels_queued += u32::from(self.store.queue_notifications(&a, 0, &[], &noted, now).await?);
                }
                continue;
            }
            let max_level = contacts.iter().map(|c| c.level).max().unwrap_or(0);
            let due = policy.due_level(a.first_at, now, max_level);
            let from = u32::try_from(a.notified_level + 1).unwrap_or(0);
            for level in from..=due {
                let send_at = policy.send_at(a.severity, now, tz);
                let to: Vec<(i64, Timestamp)> = contacts
                    .iter()
                    .filter(|c| {
                        c.level == level
                            && Interest { min_severity: c.min_severity, rules: &c.rules }.wants(a.severity, a.rule)
                    })
                    .map(|c| (c.id, send_at))
                    .collect();
                let mut notes = vec![];
                if level > 0 {
                    notes.push(("escalated", level.to_string()));
                }
                if send_at > now && !to.is_empty() {
                    notes.push(("quiet_hours", send_at.to_string()));
                }
                done.levels_queued += u32::from(self.store.queue_notifications(&a, level, &to, &notes, now).await?);
            }
        }
        Ok(done)
    }

    /// Takes the due messages (system) and groups them per contact: one
    /// message per contact and round; a contact that had its
    /// [`RATE_LIMIT`] messages in the window waits, and what was held back
    /// goes out together afterwards.
    pub async fn take_notifications(&self, limit: u32) -> Result<Vec<Outgoing>> {
        let now = self.now();
        let rows = self.store.claim_notifications(now, now + LEASE, limit).await?;
        // Alerts to a contact go as one message; each recommendation alone.
        let mut by_contact: BTreeMap<(i64, Option<i64>), Vec<Notification>> = BTreeMap::new();
        for n in rows {
            by_contact.entry((n.contact, n.note)).or_default().push(n);
        }
        let all = TenantScope::All;
        let window = SignedDuration::from_secs(RATE_WINDOW_SECS);
        let mut out = vec![];
        for ((contact_id, note), rows) in by_contact {
            let ids: Vec<i64> = rows.iter().map(|n| n.id).collect();
            let contact = self.store.contact(&all, contact_id).await?;
            if !contact.enabled {
                self.store.notifications_failed(&ids, "the contact is switched off", None, now).await?;
                continue;
            }
            if self.store.messages_sent_since(contact_id, now - window).await? >= RATE_LIMIT {
                self.store.notifications_held(&ids, now + SignedDuration::from_secs(60)).await?;
                continue;
            }
            let held_back =
                rows.iter().filter(|n| n.last_error.as_deref().is_some_and(|e| e.starts_with("held back"))).count();
            let mut items = vec![];
            for n in rows {
                let alert = self.store.alert(&all, n.alert).await?;
                items.push((n, alert));
            }
            let recommendation = match (note, items.first()) {
                (Some(note), Some((n, _))) => {
                    let notes = self.store.alert_notes(&all, n.alert).await?;
                    notes.into_iter().find(|x| x.id == note).map(|x| x.body)
                }
                _ => None,
            };
            out.push(Outgoing { contact, items, held_back: held_back as u32, recommendation });
        }
        Ok(out)
    }

    /// Records that a message went out.
    pub async fn notification_sent(&self, message: &Outgoing) -> Result<()> {
        Ok(self.store.notifications_sent(&message.ids(), self.now()).await?)
    }

    /// Records a failed attempt: tried again after the backoff, or given up
    /// after [`MAX_ATTEMPTS`]. Returns whether it will be tried again.
    pub async fn notification_failed(&self, message: &Outgoing, error: &str) -> Result<bool> {
        let now = self.now();
        let attempts = message.items.iter().map(|(n, _)| n.attempts).max().unwrap_or(0) + 1;
        let retry_at = (attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
        let error: String = error.chars().take(500).collect();
        self.store.notifications_failed(&message.ids(), &error, retry_at, now).await?;
        Ok(retry_at.is_some())
    }
}
