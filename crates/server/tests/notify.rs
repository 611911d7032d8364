//! Notifications (ALARM-3, ALARM-4) against real receivers: mail to a real
//! SMTP server (aiosmtpd) in the contact's language, SMS through an HTTP
//! gateway and signed webhooks to a local HTTP receiver; the outbox keeps
//! what could not be sent across a restart; storms are grouped and limited
//! per recipient; quiet hours, escalation and the three-day rule run on an
//! injected clock.

mod common;

use common::smtp::{subject, Smtp};
use common::TestApp;
use jiff::SignedDuration;
use leitstand_domain::alert::{AlertAction, AlertState};
use leitstand_domain::notify::{Policy, RATE_LIMIT};
use leitstand_domain::{HostId, TenantId};
use leitstand_proto::{Batch, Record, Sample, Sequenced, SystemEvent};
use leitstand_server::config::{Config, SmsConfig};
use leitstand_server::notify::Notifier;
use leitstand_service::{Actor, ContactInput};
use leitstand_store::{AlertFlag, AlertQuery, Host, NotificationQuery, NotificationState};
use std::sync::{Arc, Mutex};

struct Setup {
    app: TestApp,
    admin: Actor,
    tenant: TenantId,
    host: Host,
    seq: std::sync::atomic::AtomicU64,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let (id, _) = app.host(&admin, tenant, "web-01").await;
    let host = app.store.host_for_agent(HostId(id)).await.expect("host");
    Setup { app, admin, tenant, host, seq: 0.into() }
}

impl Setup {
    fn notifier(&self, configure: impl FnOnce(&mut Config)) -> Notifier {
        let mut c = Config { base_url: Some("https://leitstand.example".into()), ..Config::default() };
        configure(&mut c);
        Notifier::new(self.app.services.clone(), &c).expect("notifier")
    }

    async fn contact(&self, channel: &str, address: &str, language: &str, level: u32) -> leitstand_store::Contact {
        let input = ContactInput {
            name: format!("{channel} {address}"),
            channel: channel.into(),
            address: address.into(),
            language: language.into(),
            min_severity: "low".into(),
            rules: vec![],
            level,
            enabled: true,
        };
        self.app.services.save_contact(&self.admin, self.tenant, None, input).await.expect("contact")
    }

    async fn batch(&self, record: Record) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let batch = Batch::new(vec![Sequenced { seq, record }]);
        self.app.services.ingest_batch(&self.host, batch, None).await.expect("ingest");
    }

    /// A sign-in attempt of a user that does not exist (medium alarm).
    async fn invalid_user(&self, user: &str) {
        let e = SystemEvent {
            at_ms: self.app.now().as_millisecond(),
            kind: "auth.invalid_user".into(),
            service: "sshd".into(),
            user: user.into(),
            source: "203.0.113.5".into(),
            ..SystemEvent::default()
        };
        self.batch(Record::Events { events: vec![e] }).await;
    }

    async fn alerts(&self) -> Vec<leitstand_store::Alert> {
        self.app.services.alerts(&self.admin, Some(self.tenant), AlertQuery::default()).await.expect("alerts")
    }

    async fn log(&self, state: Option<NotificationState>) -> Vec<leitstand_store::Notification> {
        let q = NotificationQuery { state, ..Default::default() };
        self.app.services.notifications(&self.admin, Some(self.tenant), q).await.expect("log")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_file_system_mails_each_contact_in_their_language_and_is_flagged_at_once() {
    let Some(smtp) = Smtp::start().await else { return };
    let s = setup().await;
    s.contact("email", "betrieb@kunde.example", "de", 0).await;
    s.contact("email", "ops@customer.example", "en", 0).await;
    let notifier = s.notifier(|c| c.smtp = Some(smtp.config()));

    // 97 % for five minutes: "almost full" (high); then 100 %: "full"
    // (critical, imminent danger) at once.
    let fs = |v: f64| Record::Metrics {
        at_ms: s.app.now().as_millisecond(),
        samples: vec![Sample::new("fs_used_percent", v).with("mount", "/")],
    };
    s.batch(fs(97.0)).await;
    assert!(s.alerts().await.is_empty(), "not for five minutes yet");
    s.app.clock.advance(SignedDuration::from_secs(300));
    s.batch(fs(100.0)).await;
    let alerts = s.alerts().await;
    let keys: Vec<_> = alerts.iter().map(|a| a.rule_key.clone().unwrap_or_default()).collect();
    assert_eq!(keys, ["disk-full", "disk-high"], "most severe first: {alerts:?}");
    assert_eq!(alerts[0].flag, Some(AlertFlag::Imminent), "imminent danger is flagged at once");
    assert!(alerts[0].detail.contains("\"mount\":\"/\""), "{}", alerts[0].detail);

    assert_eq!(notifier.round(false).await.expect("round"), 2, "one message per contact (grouped)");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    let de = mails.iter().find(|m| m.contains("betrieb@kunde.example")).expect("german mail");
    let en = mails.iter().find(|m| m.contains("ops@customer.example")).expect("english mail");
    assert!(subject(de).contains("2 Alarme"), "{}", subject(de));
    assert!(de.contains("Dateisystem voll") && de.contains("Kritisch"), "{de}");
    assert!(subject(en).contains("2 alerts") && en.contains("File system full"), "{en}");
    assert!(de.contains("https://leitstand.example/app/alerts/"), "links to the alert");

    // Sent once; the timeline says so.
    assert_eq!(notifier.round(false).await.expect("again"), 0);
    let detail = s.app.services.alert_detail(&s.admin, alerts[0].id).await.expect("detail");
    let kinds: Vec<_> = detail.notes.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "flagged", "notified", "notified"]);

    // Back below the recovery value: resolved by itself.
    s.app.clock.advance(SignedDuration::from_secs(60));
    s.batch(fs(80.0)).await;
    let q = AlertQuery { states: vec![AlertState::Resolved], ..AlertQuery::default() };
    assert_eq!(s.app.services.alerts(&s.admin, Some(s.tenant), q).await.expect("resolved").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_is_down_leaves_the_notification_pending_across_a_restart() {
    let Some(mut smtp) = Smtp::start().await else { return };
    smtp.stop();
    let s = setup().await;
    s.contact("email", "betrieb@kunde.example", "de", 0).await;
    let notifier = s.notifier(|c| c.smtp = Some(smtp.config()));
    s.invalid_user("oracle").await;
    assert_eq!(notifier.round(false).await.expect("round"), 0, "nothing sent");
    let pending = s.log(Some(NotificationState::Pending)).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);
    assert!(pending[0].last_error.as_deref().is_some_and(|e| e.contains("smtp")), "{pending:?}");
    assert!(pending[0].next_at > s.app.now(), "tried again after a backoff");
    let page = s.app.sign_in("admin").await.get(s.app.at("/app/alerts")).send().await.expect("page");
    let html = page.text().await.expect("html");
    assert!(html.contains("Benachrichtigung ausstehend"), "the alert shows it");

    // A new server process (same database) and the mail server back.
    drop(notifier);
    assert!(smtp.run(), "smtp again");
    let restarted = s.notifier(|c| c.smtp = Some(smtp.config()));
    assert_eq!(restarted.round(false).await.expect("early"), 0, "not before the backoff");
    s.app.clock.advance(SignedDuration::from_secs(20));
    assert_eq!(restarted.round(false).await.expect("round"), 1);
    assert_eq!(smtp.messages().len(), 1);
    let sent = s.log(Some(NotificationState::Sent)).await;
    assert_eq!((sent.len(), sent[0].attempts), (1, 2));
}

/// A local HTTP receiver: keeps every request (headers and body).
async fn receiver() -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>) {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: String| {
        let keep = keep.clone();
        async move {
            keep.lock().expect("lock").push((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_go_through_the_gateway_and_webhooks_are_signed() {
    let s = setup().await;
    let (url, got) = receiver().await;
    let hook = s.contact("webhook", &format!("{url}/hook"), "en", 0).await;
    let secret = hook.secret.clone().expect("a webhook gets a signing key");
    s.contact("sms", "+491701234567", "de", 0).await;
    let notifier = s.notifier(|c| {
        c.sms = Some(SmsConfig {
            url: format!("{url}/sms"),
            method: "POST".into(),
            body: r#"{"to":"{to}","message":"{text}"}"#.into(),
            content_type: "application/json".into(),
            authorization: Some("Bearer gateway-key".into()),
        })
    });
    s.invalid_user("admin\"; DROP").await;
    assert_eq!(notifier.round(false).await.expect("round"), 2);
    let got = got.lock().expect("lock").clone();
    let (sms_headers, sms) = got.iter().find(|(_, b)| b.contains("+491701234567")).expect("sms");
    assert_eq!(sms_headers["authorization"], "Bearer gateway-key");
    let sms: serde_json::Value = serde_json::from_str(sms).expect("the template gives valid JSON");
    let text = sms["message"].as_str().expect("text");
    assert!(text.contains("Anmeldeversuch eines nicht vorhandenen Benutzers") && text.contains("web-01"), "{text}");

    let (headers, body) = got.iter().find(|(_, b)| b.contains("\"alerts\"")).expect("webhook");
    let ts: i64 = headers["x-leitstand-timestamp"].to_str().expect("ts").parse().expect("number");
    let expected = leitstand_server::notify::http::signature(&secret, ts, body.as_bytes());
    assert_eq!(headers["x-leitstand-signature"], expected.as_str(), "HMAC over time and body");
    let json: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(json["alerts"][0]["rule_key"], "invalid-user-login");
    assert_eq!(json["alerts"][0]["detail"]["user"], "admin\"; DROP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_rate_limited_per_recipient_and_the_rest_goes_out_grouped() {
    let Some(smtp) = Smtp::start().await else { return };
    let s = setup().await;
    s.contact("email", "betrieb@kunde.example", "de", 0).await;
    let notifier = s.notifier(|c| c.smtp = Some(smtp.config()));
    // Thousands of events on many hosts: one alert per host, each a round.
    let mut hosts = vec![];
    for i in 0..40 {
        let (id, _) = s.app.host(&s.admin, s.tenant, &format!("node-{i:02}")).await;
        hosts.push(s.app.store.host_for_agent(HostId(id)).await.expect("host"));
    }
    for (i, h) in hosts.iter().enumerate() {
        let events = (0..50)
            .map(|n| SystemEvent {
                at_ms: s.app.now().as_millisecond() + n,
                kind: "auth.invalid_user".into(),
                service: "sshd".into(),
                user: format!("u{n}"),
                ..SystemEvent::default()
            })
            .collect();
        let batch = Batch::new(vec![Sequenced { seq: 1, record: Record::Events { events } }]);
        s.app.services.ingest_batch(h, batch, None).await.expect("ingest");
        notifier.round(false).await.expect("round");
        if i % 10 == 9 {
            s.app.clock.advance(SignedDuration::from_secs(1));
        }
    }
    assert_eq!(s.alerts().await.len(), 40, "2 000 events, one alert per host");
    assert_eq!(smtp.messages().len(), RATE_LIMIT as usize, "at most {RATE_LIMIT} messages in ten minutes");
    let held = s.log(Some(NotificationState::Pending)).await;
    assert_eq!(held.len(), 40 - RATE_LIMIT as usize);
    assert!(held.iter().all(|n| n.last_error.as_deref() == Some("held back: rate limit")));

    // The window passes: the rest in one message that says so.
    s.app.clock.advance(SignedDuration::from_secs(601));
    assert_eq!(notifier.round(false).await.expect("round"), 1);
    let mails = smtp.messages();
    assert_eq!(mails.len(), RATE_LIMIT as usize + 1);
    let last = mails.iter().find(|m| subject(m).contains("35 Alarme")).expect("grouped mail");
    assert!(last.contains("35 Alarme wurden zurückgehalten"), "{last}");
    assert!(last.contains("Content-Transfer-Encoding: 8bit"), "plain and readable as sent: {last}");
    assert!(s.log(Some(NotificationState::Pending)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_and_an_unacknowledged_alert_escalates_to_the_next_level() {
    let s = setup().await;
    let (url, got) = receiver().await;
    s.contact("webhook", &format!("{url}/first"), "de", 0).await;
    s.contact("webhook", &format!("{url}/second"), "de", 1).await;
    let notifier = s.notifier(|_| {});
    // Quiet for the next hour (Berlin time), escalation after 30 minutes.
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").expect("tz");
    let local = s.app.now().to_zoned(tz);
    let from = (local.hour() as u16 * 60 + local.minute() as u16) % 1440;
    let policy = Policy { quiet: Some((from, (from + 60) % 1440)), escalate_after_mins: 30, unanswered_hours: 72 };
    s.app.services.set_notify_policy(&s.admin, s.tenant, policy).await.expect("policy");

    s.invalid_user("oracle").await;
    assert_eq!(notifier.round(false).await.expect("round"), 0, "held by quiet hours");
    let alert = s.alerts().await.remove(0);
    let detail = s.app.services.alert_detail(&s.admin, alert.id).await.expect("detail");
    assert!(detail.notes.iter().any(|n| n.kind == "quiet_hours"), "{:?}", detail.notes);
    s.app.clock.advance(SignedDuration::from_mins(61));
    assert_eq!(notifier.round(true).await.expect("round"), 2, "after the quiet hours: first, and the escalation");
    let mut levels: Vec<String> = got
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).expect("json")["alerts"][0]["level"].to_string())
        .collect();
    levels.sort();
    assert_eq!(levels, ["0", "1"]);

    // An acknowledged alert escalates no further; a new one does not escalate before its time.
    let before = got.lock().expect("lock").len();
    s.app.services.act_on_alert(&s.admin, alert.id, AlertAction::Acknowledge).await.expect("ack");
    s.app.clock.advance(SignedDuration::from_mins(120));
    notifier.round(true).await.expect("round");
    assert_eq!(got.lock().expect("lock").len(), before, "acknowledged: nobody else is told");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_left_unanswered_for_three_days_is_flagged_and_the_provider_records_its_action() {
    let s = setup().await;
    let notifier = s.notifier(|_| {});
    s.invalid_user("oracle").await;
    notifier.round(true).await.expect("round");
    let alert = s.alerts().await.remove(0);
    assert_eq!(alert.flag, None);
    s.app.clock.advance(SignedDuration::from_hours(72) - SignedDuration::from_secs(1));
    notifier.round(true).await.expect("round");
    assert_eq!(s.alerts().await[0].flag, None, "not three days yet");
    s.app.clock.advance(SignedDuration::from_secs(2));
    notifier.round(true).await.expect("round");
    let flagged = s.alerts().await.remove(0);
    assert_eq!(flagged.flag, Some(AlertFlag::Unanswered));
    let q = AlertQuery { flagged: true, ..AlertQuery::default() };
    assert_eq!(s.app.services.alerts(&s.admin, None, q).await.expect("flagged").len(), 1);

    // Staff record what they did; the customer reads it; customers cannot record it.
    let note = s.app.services.record_provider_action(&s.admin, alert.id, "Konto oracle gesperrt").await.expect("act");
    assert_eq!(note.kind, "provider_action");
    s.app.user(&s.admin, s.tenant, "kunde", "customer_admin").await;
    let customer = s.app.actor("kunde").await;
    let seen = s.app.services.alert_detail(&customer, alert.id).await.expect("customer sees it");
    assert!(seen.notes.iter().any(|n| n.kind == "provider_action" && n.body == "Konto oracle gesperrt"));
    assert!(s.app.services.record_provider_action(&customer, alert.id, "x").await.is_err());
    s.app.services.comment_on_alert(&customer, alert.id, "Danke!").await.expect("comment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notifications_switched_off_nobody_is_told_and_no_proactive_action_is_offered() {
    let s = setup().await;
    let (url, got) = receiver().await;
    s.contact("webhook", &format!("{url}/hook"), "de", 0).await;
    let rules = s.app.services.alert_rules(&s.admin, s.tenant).await.expect("rules");
    let rule = rules.iter().find(|r| r.key.as_deref() == Some("invalid-user-login")).expect("rule");
    s.app.services.set_rule_flags(&s.admin, rule.id, true, false).await.expect("notify off");
    s.invalid_user("oracle").await;
    let notifier = s.notifier(|_| {});
    notifier.round(true).await.expect("round");
    assert!(got.lock().expect("lock").is_empty(), "nobody told");
    let alert = s.alerts().await.remove(0);
    assert!(!alert.notify, "the alert records that notifications were off");
    let detail = s.app.services.alert_detail(&s.admin, alert.id).await.expect("detail");
    assert!(detail.notes.iter().any(|n| n.kind == "notify_off"));
    let refused = s.app.services.record_provider_action(&s.admin, alert.id, "restarted").await;
    assert!(refused.is_err_and(|e| e.to_string().contains("no proactive action")));
}
