//! Who is told of an alert, and when (ALARM-3, ALARM-4): contacts chosen by
//! severity and rule, escalation levels, quiet hours, retry backoff, the
//! rate limit per recipient and the unanswered deadline. Pure rules; the
//! time comes in as an argument.

use crate::alert::Severity;
use crate::FieldError;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How a contact is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Checks an address for this channel (field `address`).
    pub fn check_address(self, address: &str) -> Result<(), FieldError> {
        let a = address.trim();
        match self {
            Channel::Email => crate::Email::parse("address", a).map(|_| ()),
            Channel::Sms => {
                let digits = a.strip_prefix('+').unwrap_or("");
                if (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(())
                } else {
                    Err(FieldError::new("address", "error-phone"))
                }
            }
            Channel::Webhook => {
                let rest = a.strip_prefix("https://").or_else(|| a.strip_prefix("http://"));
                match rest {
                    Some(r) if !r.is_empty() && !r.starts_with('/') && a.len() <= 2000 && !a.contains(' ') => Ok(()),
                    _ => Err(FieldError::new("address", "error-webhook-url")),
                }
            }
        }
    }
}

/// Which alerts a contact wants: at least a severity, and only some
/// rules (empty: every rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest<'a> {
    pub min_severity: Severity,
    pub rules: &'a [i64],
}

impl Interest<'_> {
    pub fn wants(&self, severity: Severity, rule: i64) -> bool {
        severity >= self.min_severity && (self.rules.is_empty() || self.rules.contains(&rule))
    }
}

/// Highest escalation level a contact may have.
pub const MAX_LEVEL: u32 = 5;

/// A tenant's notification policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policy {
    /// Quiet hours as minutes of the local day, `[from, to)`, crossing
    /// midnight when `from > to`. Critical alerts are sent all the same.
    pub quiet: Option<(u16, u16)>,
    /// Minutes an alert may stay unacknowledged before the next level is told.
    pub escalate_after_mins: u32,
    /// Hours an alert may stay unanswered before it is flagged for provider
    /// action (ALARM-4: three days).
    pub unanswered_hours: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { quiet: None, escalate_after_mins: 30, unanswered_hours: 72 }
    }
}

impl Policy {
    /// Checks the figures; says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some((from, to)) = self.quiet {
            if from >= 1440 || to >= 1440 {
                return Err("quiet hours are times of day (00:00 to 23:59)".into());
            }
            if from == to {
                return Err("quiet hours must not start and end at the same time".into());
            }
        }
        if !(1..=10_080).contains(&self.escalate_after_mins) {
            return Err("escalate after 1 minute to 7 days".into());
        }
        if !(1..=720).contains(&self.unanswered_hours) {
            return Err("the unanswered deadline is 1 hour to 30 days".into());
        }
        Ok(())
    }

    /// The escalation level due for an alert open since `first_at`.
    pub fn due_level(&self, first_at: Timestamp, now: Timestamp, max_level: u32) -> u32 {
        let open_mins = now.duration_since(first_at).as_secs().max(0) as u64 / 60;
        let steps = open_mins / u64::from(self.escalate_after_mins.max(1));
        steps.min(u64::from(max_level)) as u32
    }

    /// When a message that is due `now` may go out: now, or at the end of
    /// the quiet hours in `tz`. Critical alerts are not held.
    pub fn send_at(&self, severity: Severity, now: Timestamp, tz: &TimeZone) -> Timestamp {
        let Some((from, to)) = self.quiet else { return now };
        if severity == Severity::Critical {
            return now;
        }
        let local = now.to_zoned(tz.clone());
        let minute = u16::from(local.hour() as u8) * 60 + u16::from(local.minute() as u8);
        let quiet = if from < to { (from..to).contains(&minute) } else { minute >= from || minute < to };
        if !quiet {
            return now;
        }
        let end = local
            .with()
            .hour((to / 60) as i8)
            .minute((to % 60) as i8)
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .map(|z| z.timestamp())
            .unwrap_or(now);
        if end > now {
            end
        } else {
            end.checked_add(SignedDuration::from_hours(24)).unwrap_or(now)
        }
    }

    /// Whether an alert open (unanswered) since `first_at` has passed the deadline.
    pub fn unanswered(&self, first_at: Timestamp, now: Timestamp) -> bool {
        now.duration_since(first_at) > SignedDuration::from_hours(i64::from(self.unanswered_hours))
    }
}

/// Attempts before a notification counts as failed.
pub const MAX_ATTEMPTS: u32 = 10;

/// The wait before the next attempt after `attempts` failures: 15 s, 30 s,
/// 1 min … at most one hour.
pub fn backoff(attempts: u32) -> SignedDuration {
    let secs = 15u64.saturating_mul(1 << attempts.saturating_sub(1).min(12));
    SignedDuration::from_secs(secs.min(3600) as i64)
}

/// At most this many messages per recipient within [`RATE_WINDOW_SECS`];
/// what comes beyond waits and goes out as one message that says how many
/// were held back.
pub const RATE_LIMIT: u32 = 5;
pub const RATE_WINDOW_SECS: i64 = 600;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn addresses_are_checked_per_channel() {
        assert!(Channel::Email.check_address("ops@example.org").is_ok());
        assert!(Channel::Email.check_address("ops").is_err());
        assert!(Channel::Sms.check_address("+491701234567").is_ok());
        assert_eq!(Channel::Sms.check_address("0170 1234567").unwrap_err().code, "error-phone");
        assert!(Channel::Webhook.check_address("https://hooks.example.org/x").is_ok());
        assert!(Channel::Webhook.check_address("ftp://x").is_err());
    }

    #[test]
    fn interest_by_severity_and_rule() {
        let i = Interest { min_severity: Severity::High, rules: &[] };
        assert!(i.wants(Severity::Critical, 1) && !i.wants(Severity::Medium, 1));
        let only = Interest { min_severity: Severity::Low, rules: &[7] };
        assert!(only.wants(Severity::Low, 7) && !only.wants(Severity::Critical, 8));
    }

    #[test]
    fn escalation_steps_with_time_up_to_the_last_level() {
        let p = Policy { escalate_after_mins: 30, ..Policy::default() };
        let first = at("2026-11-24T10:00:00Z");
        assert_eq!(p.due_level(first, at("2026-11-24T10:29:59Z"), 2), 0);
        assert_eq!(p.due_level(first, at("2026-11-24T10:30:00Z"), 2), 1);
        assert_eq!(p.due_level(first, at("2026-11-24T13:00:00Z"), 2), 2, "not past the last level");
    }

    #[test]
    fn quiet_hours_hold_all_but_critical_until_they_end_in_local_time() {
        let berlin = TimeZone::get("Europe/Berlin").expect("tz");
        let p = Policy { quiet: Some((22 * 60, 7 * 60)), ..Policy::default() };
        // 23:30 in Berlin (UTC+1 in November).
        let night = at("2026-11-24T22:30:00Z");
        assert_eq!(p.send_at(Severity::High, night, &berlin), at("2026-11-25T06:00:00Z"));
        assert_eq!(p.send_at(Severity::Critical, night, &berlin), night, "critical is not held");
        // 05:00 in Berlin, after midnight: until 07:00 the same day.
        assert_eq!(p.send_at(Severity::Low, at("2026-11-25T04:00:00Z"), &berlin), at("2026-11-25T06:00:00Z"));
        let noon = at("2026-11-24T11:00:00Z");
        assert_eq!(p.send_at(Severity::Low, noon, &berlin), noon);
        let day = Policy { quiet: Some((12 * 60, 13 * 60)), ..Policy::default() };
        let one = at("2026-11-24T12:00:00Z");
        assert_eq!(day.send_at(Severity::Low, one, &berlin), one, "12:00 UTC is 13:00 in Berlin: over");
        assert_eq!(day.send_at(Severity::Low, noon, &berlin), one, "11:00 UTC is noon in Berlin: held");
    }

    #[test]
    fn the_unanswered_deadline_and_policy_checks() {
        let p = Policy::default();
        let first = at("2026-11-20T10:00:00Z");
        assert!(!p.unanswered(first, at("2026-11-23T10:00:00Z")), "exactly three days: not yet");
        assert!(p.unanswered(first, at("2026-11-23T10:00:01Z")));
        assert!(Policy { quiet: Some((600, 600)), ..p }.validate().is_err());
        assert!(Policy { unanswered_hours: 0, ..p }.validate().is_err());
        assert!(p.validate().is_ok());
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), SignedDuration::from_secs(15));
        assert_eq!(backoff(2), SignedDuration::from_secs(30));
        assert_eq!(backoff(5), SignedDuration::from_secs(240));
        assert_eq!(backoff(40), SignedDuration::from_secs(3600));
    }
}
