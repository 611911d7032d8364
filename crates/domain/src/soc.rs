//! Rules of the SOC service [003]: when analysts work a package's alerts
//! (SOC-5: package 2 Monday to Friday 9–17 Europe/Berlin without the public
//! holidays of North Rhine-Westphalia, package 3 around the clock), the
//! verdicts and classes of triage, indicator kinds, and fair use (SOC-12).

use jiff::civil::{Date, Weekday};
use jiff::Zoned;
use serde::{Deserialize, Serialize};

use crate::plan::SocPackage;

/// Where the support hours are kept.
pub const SUPPORT_ZONE: &str = "Europe/Berlin";

/// How an analyst closed an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    TruePositive,
    FalsePositive,
}

impl Verdict {
    pub const ALL: [Verdict; 2] = [Verdict::TruePositive, Verdict::FalsePositive];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What an analyst says an alert is.
pub const CLASSES: [&str; 8] = [
    "brute_force",
    "reconnaissance",
    "malware",
    "privilege_escalation",
    "persistence",
    "policy_violation",
    "misconfiguration",
    "benign",
];

/// Observables checked against the provider's indicator list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorKind {
    Ip,
    Domain,
    Hash,
    User,
}

impl IndicatorKind {
    pub const ALL: [IndicatorKind; 4] =
        [IndicatorKind::Ip, IndicatorKind::Domain, IndicatorKind::Hash, IndicatorKind::User];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ip => "ip",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Hash => "hash",
            IndicatorKind::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<IndicatorKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The value in the one form it is stored and compared in, or `None`
    /// when it is not a value of this kind.
    pub fn normalise(self, value: &str) -> Option<String> {
        let v = value.trim();
        match self {
            IndicatorKind::Ip => v.parse::<std::net::IpAddr>().ok().map(|a| a.to_canonical().to_string()),
            IndicatorKind::Domain => {
                let d = v.trim_end_matches('.').to_ascii_lowercase();
                let ok = !d.is_empty()
                    && d.len() <= 253
                    && d.contains('.')
                    && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
                    && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                ok.then_some(d)
            }
            // MD5, SHA-1, SHA-256 or SHA-512 in hex.
            IndicatorKind::Hash => {
                let h = v.to_ascii_lowercase();
                (matches!(h.len(), 32 | 40 | 64 | 128) && h.chars().all(|c| c.is_ascii_hexdigit())).then_some(h)
            }
            IndicatorKind::User => {
                (!v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control)).then(|| v.into())
            }
        }
    }
}

/// Easter Sunday of a year (Gregorian, anonymous algorithm).
pub fn easter(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).expect("Easter is a real date")
}

/// Public holidays of North Rhine-Westphalia in a year.
pub fn nrw_holidays(year: i16) -> Vec<Date> {
    let e = easter(year);
    let fixed = |m: i8, d: i8| Date::new(year, m, d).expect("fixed holiday");
    let moved = |days: i64| e.checked_add(jiff::Span::new().days(days)).expect("near Easter");
    vec![
        fixed(1, 1),   // Neujahr
        moved(-2),     // Karfreitag
        moved(1),      // Ostermontag
        fixed(5, 1),   // Tag der Arbeit
        moved(39),     // Christi Himmelfahrt
        moved(50),     // Pfingstmontag
        moved(60),     // Fronleichnam
        fixed(10, 3),  // Tag der Deutschen Einheit
        fixed(11, 1),  // Allerheiligen
        fixed(12, 25), // 1. Weihnachtstag
        fixed(12, 26), // 2. Weihnachtstag
    ]
}

/// Whether analysts work a package's alerts at this moment (SOC-5).
/// Package 1 has no analyst triage (it gets the alert file); no package, none.
pub fn in_support_hours(package: SocPackage, at: &Zoned) -> bool {
    match package {
        SocPackage::P3 => true,
        SocPackage::P2 => {
            let local = at.in_tz(SUPPORT_ZONE).unwrap_or_else(|_| at.clone());
            let weekday = !matches!(local.weekday(), Weekday::Saturday | Weekday::Sunday);
            let hour = (9..17).contains(&local.hour());
            weekday && hour && !nrw_holidays(local.year()).contains(&local.date())
        }
        SocPackage::P1 | SocPackage::None => false,
    }
}

/// When analysts next work a package's alerts: `at` itself when in hours,
/// `None` for packages without triage.
pub fn next_support_start(package: SocPackage, at: &Zoned) -> Option<Zoned> {
    match package {
        SocPackage::P3 => Some(at.clone()),
        SocPackage::P2 => {
            if in_support_hours(package, at) {
                return Some(at.clone());
            }
            let local = at.in_tz(SUPPORT_ZONE).ok()?;
            let mut day = local.date();
            if local.hour() >= 9 {
                day = day.tomorrow().ok()?;
            }
            for _ in 0..30 {
                let start = day.at(9, 0, 0, 0).in_tz(SUPPORT_ZONE).ok()?;
                if in_support_hours(package, &start) {
                    return Some(start);
                }
                day = day.tomorrow().ok()?;
            }
            None
        }
        SocPackage::P1 | SocPackage::None => None,
    }
}

/// Monthly volume a package includes, before fair use is asked about
/// (SOC-12). The service description names no figures; these are the
/// provider's defaults: package 1 counts alerts (the file), packages 2 and
/// 3 the incidents analysts handled.
pub fn included_per_month(package: SocPackage) -> (u64, u64) {
    match package {
        SocPackage::None => (0, 0),
        SocPackage::P1 => (100, 0),
        SocPackage::P2 => (200, 20),
        SocPackage::P3 => (400, 60),
    }
}

/// Usage above this many times the included volume is flagged (SOC-12).
pub const FAIR_USE_FACTOR: u64 = 3;

/// Whether a month's usage is far above the package (more than 3×).
pub fn over_fair_use(package: SocPackage, alerts: u64, handled: u64) -> bool {
    let (inc_alerts, inc_handled) = included_per_month(package);
    (inc_alerts > 0 && alerts > FAIR_USE_FACTOR * inc_alerts)
        || (inc_handled > 0 && handled > FAIR_USE_FACTOR * inc_handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin(s: &str) -> Zoned {
        format!("{s}[Europe/Berlin]").parse().expect("time")
    }

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(easter(2024), Date::new(2024, 3, 31).expect("d"));
        assert_eq!(easter(2025), Date::new(2025, 4, 20).expect("d"));
        assert_eq!(easter(2026), Date::new(2026, 4, 5).expect("d"));
        assert_eq!(easter(2027), Date::new(2027, 3, 28).expect("d"));
    }

    #[test]
    fn nrw_has_corpus_christi_and_all_saints() {
        let h = nrw_holidays(2026);
        assert!(h.contains(&Date::new(2026, 6, 4).expect("d")), "Fronleichnam 2026");
        assert!(h.contains(&Date::new(2026, 11, 1).expect("d")));
        assert!(h.contains(&Date::new(2026, 4, 3).expect("d")), "Karfreitag");
        assert!(h.contains(&Date::new(2026, 5, 25).expect("d")), "Pfingstmontag");
        assert_eq!(h.len(), 11);
    }

    #[test]
    fn package_2_is_worked_on_nrw_working_days_from_9_to_17() {
        let p = SocPackage::P2;
        assert!(in_support_hours(p, &berlin("2026-11-24T09:00:00")), "Tuesday 9:00");
        assert!(in_support_hours(p, &berlin("2026-11-24T16:59:59")));
        assert!(!in_support_hours(p, &berlin("2026-11-24T17:00:00")));
        assert!(!in_support_hours(p, &berlin("2026-11-24T08:59:00")));
        assert!(!in_support_hours(p, &berlin("2026-11-28T10:00:00")), "Saturday");
        assert!(!in_support_hours(p, &berlin("2026-06-04T10:00:00")), "Fronleichnam, Thursday");
        assert!(!in_support_hours(p, &berlin("2026-12-25T10:00:00")));
        // UTC input is read in Berlin time: 08:30Z is 09:30 in winter.
        let utc: Zoned = "2026-11-24T08:30:00+00:00[UTC]".parse().expect("t");
        assert!(in_support_hours(p, &utc));
        assert!(in_support_hours(SocPackage::P3, &berlin("2026-12-25T03:00:00")));
        assert!(!in_support_hours(SocPackage::P1, &berlin("2026-11-24T10:00:00")));
    }

    #[test]
    fn next_start_skips_nights_weekends_and_holidays() {
        let p = SocPackage::P2;
        let friday_evening = berlin("2026-12-24T18:00:00"); // Thursday before Christmas
        let next = next_support_start(p, &friday_evening).expect("next");
        assert_eq!(next.date(), Date::new(2026, 12, 28).expect("d"), "Christmas and the weekend are skipped");
        assert_eq!(next.hour(), 9);
        let early = berlin("2026-11-24T07:00:00");
        assert_eq!(next_support_start(p, &early).expect("next").hour(), 9);
        assert_eq!(next_support_start(p, &early).expect("next").date(), early.date());
        assert_eq!(next_support_start(SocPackage::P1, &early), None);
    }

    #[test]
    fn more_than_three_times_the_package_is_flagged() {
        assert!(!over_fair_use(SocPackage::P2, 600, 60));
        assert!(over_fair_use(SocPackage::P2, 601, 0));
        assert!(over_fair_use(SocPackage::P2, 0, 61));
        assert!(!over_fair_use(SocPackage::None, 10_000, 10_000));
    }

    #[test]
    fn indicators_are_normalised_or_refused() {
        assert_eq!(IndicatorKind::Ip.normalise(" 198.51.100.23 "), Some("198.51.100.23".into()));
        assert_eq!(IndicatorKind::Ip.normalise("::ffff:198.51.100.23"), Some("198.51.100.23".into()));
        assert_eq!(IndicatorKind::Ip.normalise("300.1.1.1"), None);
        assert_eq!(IndicatorKind::Domain.normalise("Evil.Example.COM."), Some("evil.example.com".into()));
        assert_eq!(IndicatorKind::Domain.normalise("no_dot"), None);
        assert_eq!(IndicatorKind::Hash.normalise(&"A".repeat(64)), Some("a".repeat(64)));
        assert_eq!(IndicatorKind::Hash.normalise("abc"), None);
    }
}
