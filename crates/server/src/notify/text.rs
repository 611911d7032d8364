//! What a notification says, in the contact's language: a plain mail
//! (subject and body), a short SMS, and the JSON of a webhook.

use crate::i18n::{format_time, tr, tr_args};
use crate::web::inventory::facts;
use jiff::tz::TimeZone;
use leitstand_domain::Lang;
use leitstand_service::Outgoing;
use leitstand_store::Alert;

/// Most alerts listed in one grouped message; the rest are counted.
const LISTED: usize = 30;

fn rule_name(lang: Lang, a: &Alert) -> String {
    crate::i18n::alert_title(lang, a)
}

fn severity(lang: Lang, a: &Alert) -> String {
    tr(lang, &format!("severity-{}", a.severity.as_str()))
}

/// Lines of at most 72 characters, broken at spaces, so the mail stays
/// readable as sent (8bit, no encoding).
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for word in text.split(' ') {
        let n = word.chars().count();
        if width > 0 && width + 1 + n > 72 {
            out.push('\n');
            width = 0;
        } else if width > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += n;
    }
    out
}

pub struct Mail {
    pub subject: String,
    pub body: String,
}

fn link(base: &str, a: &Alert) -> String {
    format!("{base}/app/alerts/{}", a.id)
}

/// An analyst's recommendation about one alert (SOC-5).
fn recommendation(m: &Outgoing, text: &str, tz: &TimeZone, base: &str) -> Mail {
    let lang = m.contact.language;
    let mut body = format!("{}\n\n", wrap(&tr(lang, "mail-recommendation-intro")));
    for paragraph in text.lines() {
        body.push_str(&wrap(paragraph));
        body.push('\n');
    }
    let mut subject = tr(lang, "mail-recommendation-subject");
    if let Some((_, a)) = m.items.first() {
        body.push_str(&format!(
            "\n{}: {} ({})\n{}\n{}\n",
            tr(lang, "mail-alarm"),
            rule_name(lang, a),
            severity(lang, a),
            format_time(a.first_at, tz, lang),
            link(base, a)
        ));
        subject = format!("[Leitstand] {subject}: {}", rule_name(lang, a));
    }
    body.push_str(&format!("\n-- \n{}\n", wrap(&tr(lang, "mail-footer"))));
    Mail { subject, body }
}

/// The mail for a message: one alert in full, a list, or a recommendation.
pub fn mail(m: &Outgoing, tz: &TimeZone, base: &str) -> Mail {
    if let Some(text) = &m.recommendation {
        return recommendation(m, text, tz, base);
    }
    let lang = m.contact.language;
    let mut body = String::new();
    let subject = if let [(n, a)] = &m.items[..] {
        let host = a.host_name.clone().unwrap_or_else(|| "–".into());
        let line = |key: &str, value: String| format!("{:<16} {value}\n", format!("{}:", tr(lang, key)));
        body.push_str(&line("mail-alarm", rule_name(lang, a)));
        body.push_str(&line(
            "mail-severity",
            format!("{} ({})", severity(lang, a), tr(lang, &format!("severity-meaning-{}", a.severity.as_str()))),
        ));
        body.push_str(&line("mail-host", host.clone()));
        body.push_str(&line("mail-since", format_time(a.first_at, tz, lang)));
        body.push_str(&line("mail-count", a.count.to_string()));
        body.push_str(&line("mail-state", tr(lang, &format!("alert-state-{}", a.state.as_str()))));
        for fact in facts(&a.detail).split(", ").filter(|f| !f.is_empty()) {
            body.push_str(&line("mail-details", fact.to_owned()));
        }
        if n.level > 0 {
            body.push_str(&line("mail-escalation", n.level.to_string()));
        }
        if a.flag.is_some() {
            body.push_str(&format!("\n{}\n", wrap(&tr(lang, "mail-imminent"))));
        }
        body.push_str(&format!("\n{}\n{}\n", tr(lang, "mail-open"), link(base, a)));
        format!("[Leitstand] {}: {} – {host}", severity(lang, a), rule_name(lang, a))
    } else {
        let worst = m.items.iter().map(|(_, a)| a.severity).max().unwrap_or(leitstand_domain::alert::Severity::Low);
        body.push_str(&tr_args(lang, "mail-many-intro", &[("count", m.items.len().to_string())]));
        body.push_str("\n\n");
        for (_, a) in m.items.iter().take(LISTED) {
            body.push_str(&format!(
                "- {}: {}\n  {}, {}\n  {}\n",
                severity(lang, a),
                rule_name(lang, a),
                a.host_name.as_deref().unwrap_or("–"),
                format_time(a.last_at, tz, lang),
                link(base, a)
            ));
        }
        if m.items.len() > LISTED {
            body.push_str(&tr_args(lang, "mail-more", &[("count", (m.items.len() - LISTED).to_string())]));
            body.push('\n');
        }
        body.push_str(&format!("\n{}\n{base}/app/alerts\n", tr(lang, "mail-open-all")));
        tr_args(
            lang,
            "mail-many-subject",
            &[("count", m.items.len().to_string()), ("severity", tr(lang, &format!("severity-{}", worst.as_str())))],
        )
    };
    if m.held_back > 0 {
        body.push_str(&format!(
            "\n{}\n",
            wrap(&tr_args(
                lang,
                "mail-held-back",
                &[
                    ("count", m.held_back.to_string()),
                    ("limit", leitstand_domain::notify::RATE_LIMIT.to_string()),
                    ("minutes", (leitstand_domain::notify::RATE_WINDOW_SECS / 60).to_string()),
                ]
            ))
        ));
    }
    body.push_str(&format!("\n-- \n{}\n", wrap(&tr(lang, "mail-footer"))));
    Mail { subject, body }
}

/// One short line for a text message (at most 300 characters).
pub fn sms(m: &Outgoing, tz: &TimeZone, base: &str) -> String {
    let lang = m.contact.language;
    let text = if let [(_, a)] = &m.items[..] {
        format!(
            "Leitstand {}: {} – {} ({}) {}",
            severity(lang, a),
            rule_name(lang, a),
            a.host_name.as_deref().unwrap_or("–"),
            format_time(a.first_at, tz, lang),
            link(base, a)
        )
    } else {
        let held = if m.held_back > 0 {
            format!(" {}", tr_args(lang, "sms-held-back", &[("count", m.held_back.to_string())]))
        } else {
            String::new()
        };
        format!(
            "Leitstand: {}{held} {base}/app/alerts",
            tr_args(lang, "mail-many-intro", &[("count", m.items.len().to_string())])
        )
    };
    text.chars().take(300).collect()
}

/// The JSON a webhook receives.
pub fn webhook(m: &Outgoing, base: &str) -> serde_json::Value {
    let alerts: Vec<serde_json::Value> = m
        .items
        .iter()
        .map(|(n, a)| {
            serde_json::json!({
                "id": a.id,
                "tenant": a.tenant.0,
                "rule": a.rule,
                "rule_key": a.rule_key,
                "rule_name": rule_name(Lang::En, a),
                "severity": a.severity.as_str(),
                "state": a.state.as_str(),
                "host": a.host.map(|h| h.0),
                "host_name": a.host_name,
                "count": a.count,
                "first_at": a.first_at.to_string(),
                "last_at": a.last_at.to_string(),
                "flag": a.flag.map(|f| f.as_str()),
                "detail": serde_json::from_str::<serde_json::Value>(&a.detail).unwrap_or(serde_json::Value::Null),
                "level": n.level,
                "url": link(base, a),
            })
        })
        .collect();
    serde_json::json!({ "event": "alerts", "held_back": m.held_back, "alerts": alerts })
}
