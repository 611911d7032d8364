//! Notifications going out (ALARM-3): the worker that plans (new alerts at
//! once, escalation and the unanswered deadline every 30 s) and sends what
//! the outbox holds through the channels: e-mail (SMTP), SMS (an HTTP
//! gateway) and signed webhooks. A failed send is tried again with backoff;
//! the outbox is in the database, so a restart loses nothing queued.

pub mod http;
mod mail;
pub mod text;

use crate::config::{Config, SmsConfig};
use futures::future::join_all;
use leitstand_domain::notify::Channel;
use leitstand_service::{Outgoing, Services};
use std::sync::Arc;
use std::time::Duration;

/// Most messages taken from the outbox in one round.
const ROUND: u32 = 500;
/// How often escalation and the unanswered deadline are checked.
const FULL_EVERY: Duration = Duration::from_secs(30);

pub struct Notifier {
    services: Services,
    mail: Option<mail::Mailer>,
    sms: Option<SmsConfig>,
    client: reqwest::Client,
    base_url: String,
}

impl Notifier {
    /// Checks the channel settings; a wrong one stops the start with a message.
    pub fn new(services: Services, config: &Config) -> anyhow::Result<Notifier> {
        let mail = config.smtp.as_ref().map(mail::Mailer::new).transpose()?;
        if let Some(s) = &config.sms {
            reqwest::Url::parse(&s.url).map_err(|e| anyhow::anyhow!("sms.url {:?}: {e}", s.url))?;
            reqwest::Method::from_bytes(s.method.as_bytes())
                .map_err(|_| anyhow::anyhow!("sms.method {:?}", s.method))?;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("leitstand/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Notifier { services, mail, sms: config.sms.clone(), client, base_url: config.base_url() })
    }

    /// One round: plans (only new alerts, or all when `full`), then sends
    /// what is due. Returns how many messages went out.
    pub async fn round(&self, full: bool) -> leitstand_service::Result<usize> {
        self.services.plan_notifications(!full).await?;
        let messages = self.services.take_notifications(ROUND).await?;
        let results = join_all(messages.iter().map(|m| self.deliver(m))).await;
        let mut sent = 0;
        for (m, result) in messages.iter().zip(results) {
            match result {
                Ok(()) => {
                    self.services.notification_sent(m).await?;
                    sent += 1;
                }
                Err(e) => {
                    let again = self.services.notification_failed(m, &e).await?;
                    tracing::warn!(contact = m.contact.id, error = %e, retry = again, "notification not sent");
                }
            }
        }
        Ok(sent)
    }

    async fn deliver(&self, m: &Outgoing) -> Result<(), String> {
        let tz = self.services.tenant_zone(m.contact.tenant).await;
        let to = m.contact.address.as_str();
        match m.contact.channel {
            Channel::Email => {
                let mailer = self.mail.as_ref().ok_or("no mail server configured ([smtp])")?;
                let mail = text::mail(m, &tz, &self.base_url);
                mailer.send(to, &mail.subject, mail.body).await
            }
            Channel::Sms => {
                let gateway = self.sms.as_ref().ok_or("no SMS gateway configured ([sms])")?;
                http::send_sms(&self.client, gateway, to, &text::sms(m, &tz, &self.base_url)).await
            }
            Channel::Webhook => {
                let secret = m.contact.secret.as_deref().ok_or("the webhook has no signing key")?;
                let now = self.services.now().as_second();
                http::send_webhook(&self.client, to, secret, &text::webhook(m, &self.base_url), now).await
            }
        }
    }
}

/// Runs rounds: at once when this replica stored a batch (a new alert may
/// be waiting), else every second; a full round every 30 s.
pub fn spawn(notifier: Arc<Notifier>) {
    let mut stored = notifier.services.stored_hosts();
    tokio::spawn(async move {
        let mut last_full = tokio::time::Instant::now() - FULL_EVERY;
        loop {
            let full = last_full.elapsed() >= FULL_EVERY;
            if full {
                last_full = tokio::time::Instant::now();
            }
            if let Err(e) = notifier.round(full).await {
                tracing::warn!(error = %e, "notification round failed; will retry");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                r = stored.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    // Under steady ingest: at most ten rounds a second.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    while stored.try_recv().is_ok() {}
                }
            }
        }
    });
}
