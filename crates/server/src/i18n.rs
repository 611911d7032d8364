//! Message catalogues (Fluent, `locales/*.ftl`), and dates and numbers in the
//! reader's locale and time zone.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use leitstand_domain::Lang;
use std::sync::OnceLock;

pub const CATALOGUES: [(Lang, &str); 2] =
    [(Lang::De, include_str!("../locales/de.ftl")), (Lang::En, include_str!("../locales/en.ftl"))];

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static [(Lang, Bundle)] {
    static B: OnceLock<Vec<(Lang, Bundle)>> = OnceLock::new();
    B.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, src)| {
                let res = FluentResource::try_new((*src).to_owned()).unwrap_or_else(|(res, errs)| {
                    tracing::error!(lang = lang.code(), ?errs, "catalogue has syntax errors");
                    res
                });
                let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
                let mut b = FluentBundle::new_concurrent(vec![id]);
                b.set_use_isolating(false);
                if let Err(errs) = b.add_resource(res) {
                    tracing::error!(lang = lang.code(), ?errs, "catalogue has duplicate keys");
                }
                (*lang, b)
            })
            .collect()
    })
}

fn bundle(lang: Lang) -> Option<&'static Bundle> {
    bundles().iter().find(|(l, _)| *l == lang).map(|(_, b)| b)
}

/// Translates `key`; a missing key shows as the key itself, so it is seen.
pub fn tr(lang: Lang, key: &str) -> String {
    tr_args(lang, key, &[])
}

pub fn tr_args(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let Some(b) = bundle(lang) else { return key.to_owned() };
    let Some(pattern) = b.get_message(key).and_then(|m| m.value()) else {
        return key.to_owned();
    };
    let mut fa = FluentArgs::new();
    for (k, v) in args {
        fa.set(*k, FluentValue::from(v.clone()));
    }
    let mut errs = vec![];
    b.format_pattern(pattern, Some(&fa), &mut errs).into_owned()
}

/// An alarm rule's name: the translated default (`rule-<key>`), or the
/// name a tenant gave its own rule.
pub fn rule_title(lang: Lang, key: Option<&str>, name: &str) -> String {
    match key {
        Some(k) => tr(lang, &format!("rule-{k}")),
        None => name.to_owned(),
    }
}

/// An alert's title: a SOC alert's Sigma rule title (as the rule writes
/// it), else its alarm rule's name.
pub fn alert_title(lang: Lang, a: &leitstand_store::Alert) -> String {
    if let Some(id) = &a.soc_rule {
        if let Some(t) = sigma_title(lang, id) {
            return t;
        }
        if let Some(t) = serde_json::from_str::<serde_json::Value>(&a.detail)
            .ok()
            .and_then(|d| d["title"].as_str().map(str::to_owned))
        {
            return t;
        }
    }
    rule_title(lang, a.rule_key.as_deref(), &a.rule_name)
}

/// The translated title of a shipped Sigma rule (`soc-rule-<id>`); other
/// rules keep the title they were written with.
pub fn sigma_title(lang: Lang, id: &str) -> Option<String> {
    let key = format!("soc-rule-{id}");
    has(lang, &key).then(|| tr(lang, &key))
}

/// Whether the catalogue of `lang` has `key`.
pub fn has(lang: Lang, key: &str) -> bool {
    bundle(lang).is_some_and(|b| b.has_message(key))
}

/// A time in the reader's zone and locale: `23.11.2026, 21:14` (de) or
/// `Nov 23, 2026, 9:14 PM` (en).
pub fn format_time(t: Timestamp, tz: &TimeZone, lang: Lang) -> String {
    let z = t.to_zoned(tz.clone());
    match lang {
        Lang::De => z.strftime("%d.%m.%Y, %H:%M").to_string(),
        Lang::En => z.strftime("%b %-d, %Y, %-I:%M %p").to_string(),
    }
}

/// An integer with the locale's thousands separator.
pub fn format_int(n: i64, lang: Lang) -> String {
    let sep = match lang {
        Lang::De => '.',
        Lang::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// The message keys a catalogue defines.
pub fn keys(src: &str) -> Vec<String> {
    src.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('-'))
        .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let de = keys(CATALOGUES[0].1);
        let en = keys(CATALOGUES[1].1);
        let missing_en: Vec<_> = de.iter().filter(|k| !en.contains(k)).collect();
        let missing_de: Vec<_> = en.iter().filter(|k| !de.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(missing_de.is_empty(), "missing in de.ftl: {missing_de:?}");
        assert!(de.len() > 50);
    }

    #[test]
    fn every_shipped_sigma_rule_has_a_title_in_both_languages() {
        for r in leitstand_detect::RuleSet::shipped().summaries() {
            for lang in Lang::ALL {
                assert!(sigma_title(lang, &r.id).is_some(), "{}: soc-rule-{} ({})", lang.code(), r.id, r.title);
            }
        }
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut sources = vec![];
        for sub in ["templates", "src", "src/web", "src/api", "src/notify"] {
            for e in std::fs::read_dir(format!("{dir}{sub}")).unwrap().flatten() {
                if e.path().is_file() {
                    sources.push(std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        let mut missing = vec![];
        for src in &sources {
            for quote in ['"'] {
                for piece in src.split(quote).skip(1).step_by(2) {
                    let looks_like_key = piece.len() > 3
                        && piece.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                        && piece.contains('-')
                        && !piece.ends_with('-')
                        && [
                            "nav-", "error-", "page-", "label-", "action-", "msg-", "role-", "plan-", "soc-", "help-",
                            "tab-", "col-", "mail-", "sms-",
                        ]
                        .iter()
                        .any(|p| piece.starts_with(p));
                    if looks_like_key {
                        for lang in Lang::ALL {
                            if !has(lang, piece) {
                                missing.push(format!("{}:{piece}", lang.code()));
                            }
                        }
                    }
                }
            }
        }
        // Keys made from a prefix and a value.
        use leitstand_domain::host::HostStatus;
        use leitstand_domain::{Role, SecurityPlan, SocPackage};
        let composed = SecurityPlan::ALL
            .iter()
            .map(|p| format!("plan-{}", p.as_str()))
            .chain(SocPackage::ALL.iter().map(|p| format!("soc-{}", p.as_str())))
            .chain(Role::ALL.iter().map(|r| format!("role-{}", r.as_str().replace('_', "-"))))
            .chain(["label-kind-provider".to_owned(), "label-kind-customer".to_owned()])
            .chain(HostStatus::ALL.iter().map(|s| format!("label-status-{}", s.as_str())))
            .chain(["label-event-host-down".to_owned(), "label-event-host-up".to_owned()])
            .chain(leitstand_store::HostSort::ALL.iter().map(|s| format!("label-sort-{}", s.as_str())))
            .chain(
                leitstand_proto::inventory::CHANGE_KINDS
                    .iter()
                    .chain(&["host.restarted", "vulnerability.new"])
                    .chain(leitstand_proto::SYSTEM_EVENT_KINDS.iter())
                    .map(|k| format!("label-event-{}", k.replace(['.', '_'], "-"))),
            )
            .chain(crate::web::EVENT_GROUPS.iter().map(|g| format!("label-events-{}", g.trim_end_matches('.'))))
            .chain(leitstand_proto::inventory::Section::ALL.iter().map(|s| format!("tab-{}", s.as_str())))
            .chain(leitstand_proto::checklist::Outcome::ALL.iter().map(|o| format!("label-check-{}", o.as_str())))
            .chain(leitstand_domain::alert::default_rules().into_iter().map(|r| format!("rule-{}", r.key)))
            .chain(
                leitstand_domain::alert::Severity::ALL
                    .iter()
                    .flat_map(|s| [format!("severity-{}", s.as_str()), format!("severity-meaning-{}", s.as_str())]),
            )
            .chain(leitstand_domain::alert::AlertState::ALL.iter().map(|s| format!("alert-state-{}", s.as_str())))
            .chain(leitstand_domain::notify::Channel::ALL.iter().map(|c| format!("label-channel-{}", c.as_str())))
            .chain(["pending", "sent", "failed"].iter().map(|s| format!("label-delivery-{s}")))
            .chain(
                [
                    "contact-name",
                    "channel",
                    "language",
                    "severity",
                    "level",
                    "rules",
                    "phone",
                    "webhook-url",
                    "note-text",
                ]
                .iter()
                .map(|k| format!("error-{k}")),
            )
            .chain(["unanswered", "imminent"].iter().map(|s| format!("label-flag-{s}")))
            .chain(
                ["received", "stored", "malformed", "invalid-utf8", "truncated", "over-quota", "agent"]
                    .iter()
                    .map(|k| format!("soc-counter-{k}")),
            )
            .chain(
                leitstand_vuln::State::ALL.iter().map(|x| format!("label-vuln-state-{}", x.name().replace('_', "-"))),
            )
            .chain(["open", "accepted", "fixed", "all"].iter().map(|x| format!("label-vuln-status-{x}")))
            .chain(leitstand_domain::soc::CLASSES.iter().map(|c| format!("soc-class-{c}")))
            .chain(leitstand_domain::soc::Verdict::ALL.iter().map(|v| format!("soc-verdict-{}", v.as_str())))
            .chain(leitstand_domain::soc::IndicatorKind::ALL.iter().map(|k| format!("label-indicator-{}", k.as_str())))
            .chain(
                ["soc-text", "soc-class", "soc-verdict", "indicator-kind", "indicator-value", "month", "source-name"]
                    .iter()
                    .map(|k| format!("error-{k}")),
            )
            .chain(
                [
                    "opened",
                    "acknowledged",
                    "muted",
                    "resolved",
                    "reopened",
                    "comment",
                    "assigned",
                    "flagged",
                    "provider-action",
                    "notified",
                    "notify-failed",
                    "escalated",
                    "quiet-hours",
                    "notify-off",
                    "reprioritised",
                    "reclassified",
                    "closed",
                    "recommendation",
                    "internal",
                ]
                .iter()
                .map(|k| format!("label-note-{k}")),
            )
            .chain(
                leitstand_domain::patch::JobState::ALL
                    .iter()
                    .map(|x| format!("label-patch-job-{}", x.as_str().replace('_', "-"))),
            )
            .chain(
                leitstand_domain::patch::HostState::ALL
                    .iter()
                    .map(|x| format!("label-patch-host-{}", x.as_str().replace('_', "-"))),
            )
            .chain(leitstand_proto::inventory::Section::ALL.iter().flat_map(|s| {
                crate::web::inventory_columns(*s).iter().map(|c| format!("col-{c}")).collect::<Vec<_>>()
            }));
        for key in composed {
            for lang in Lang::ALL {
                if !has(lang, &key) {
                    missing.push(format!("{}:{key}", lang.code()));
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "keys used but not in the catalogues: {missing:?}");
    }

    #[test]
    fn dates_follow_locale_and_zone() {
        let t: Timestamp = "2026-11-23T20:14:00Z".parse().unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(format_time(t, &berlin, Lang::De), "23.11.2026, 21:14");
        assert_eq!(format_time(t, &berlin, Lang::En), "Nov 23, 2026, 9:14 PM");
        assert_eq!(format_int(1234567, Lang::De), "1.234.567");
        assert_eq!(format_int(-1234, Lang::En), "-1,234");
    }
}
