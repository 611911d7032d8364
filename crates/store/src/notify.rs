//! Records and the trait for notifications (ALARM-3): each tenant's policy
//! and contacts, and the outbox the sender works through.

use crate::{Alert, AuditDraft, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::Severity;
use leitstand_domain::notify::{Channel, Policy};
use leitstand_domain::{Lang, TenantId};

/// Someone (or something) told of alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: i64,
    pub tenant: TenantId,
    pub name: String,
    pub channel: Channel,
    /// E-mail address, phone number or webhook URL.
    pub address: String,
    pub language: Lang,
    pub min_severity: Severity,
    /// Only these rules; empty: all.
    pub rules: Vec<i64>,
    pub level: u32,
    /// The webhook's signing key (hex); none for other channels.
    pub secret: Option<String>,
    pub enabled: bool,
}

/// A contact as a person wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub name: String,
    pub channel: Channel,
    pub address: String,
    pub language: Lang,
    pub min_severity: Severity,
    pub rules: Vec<i64>,
    pub level: u32,
    pub enabled: bool,
    /// A new signing key to keep (webhooks); none keeps the one it has.
    pub secret: Option<String>,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationState {
    /// Waiting to be sent, or to be tried again.
    Pending,
    Sent,
    /// Given up after the last attempt.
    Failed,
}

impl NotificationState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Sent => "sent",
            NotificationState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed].into_iter().find(|x| x.as_str() == s)
    }
}

/// One alert to one contact, in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: i64,
    pub tenant: TenantId,
    pub alert: i64,
    pub contact: i64,
    pub level: u32,
    pub state: NotificationState,
    pub attempts: u32,
    pub next_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// A recommendation (SOC-5): the timeline note it sends.
    pub note: Option<i64>,
    /// Joined for display.
    pub contact_name: String,
    pub channel: Channel,
    pub address: String,
}

#[derive(Debug, Clone, Default)]
pub struct NotificationQuery {
    pub alert: Option<i64>,
    pub state: Option<NotificationState>,
    pub limit: u32,
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// The tenant's policy, or the default when it has none.
    async fn notify_policy(&self, scope: &TenantScope, tenant: TenantId) -> Result<Policy>;
    async fn set_notify_policy(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        policy: &Policy,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn contacts(&self, scope: &TenantScope, tenant: TenantId) -> Result<Vec<Contact>>;
    async fn contact(&self, scope: &TenantScope, id: i64) -> Result<Contact>;
    /// Adds a contact (`id` none) or changes one.
    async fn save_contact(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        id: Option<i64>,
        contact: &NewContact,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Contact>;

    /// Open alerts, oldest first: only those nobody was told of yet when
    /// `only_new`, else all (for escalation and the unanswered deadline).
    async fn open_alerts(&self, only_new: bool, limit: u32) -> Result<Vec<Alert>>;
    /// Queues messages of one escalation level of an alert, with timeline
    /// notes, unless that level was queued already (by another replica);
    /// returns whether it did.
    async fn queue_notifications(
        &self,
        alert: &Alert,
        level: u32,
        to: &[(i64, Timestamp)],
        notes: &[(&str, String)],
        at: Timestamp,
    ) -> Result<bool>;
    /// Flags an alert for provider action, once, with a timeline note.
    async fn flag_alert(&self, alert: &Alert, flag: crate::AlertFlag, at: Timestamp) -> Result<bool>;
    /// Takes the due messages for sending: they are leased until
    /// `lease_until`, so no other sender takes them meanwhile.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Notification>>;
    /// Sent together as one message.
    async fn notifications_sent(&self, ids: &[i64], at: Timestamp) -> Result<()>;
    /// A failed attempt: tried again at `retry_at`, or given up when none.
    async fn notifications_failed(
        &self,
        ids: &[i64],
        error: &str,
        retry_at: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<()>;
    /// Held back by the rate limit until `until`; no attempt counted.
    async fn notifications_held(&self, ids: &[i64], until: Timestamp) -> Result<()>;
    /// How many messages went to a contact since a time.
    async fn messages_sent_since(&self, contact: i64, since: Timestamp) -> Result<u32>;
    /// The notification log, newest first.
    async fn notifications(&self, scope: &TenantScope, q: &NotificationQuery) -> Result<Vec<Notification>>;
}
