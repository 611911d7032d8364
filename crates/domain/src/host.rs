//! Whether a host is up (MON-4): a host is down after a silence of three
//! collection intervals and 30 seconds, and up again when heard.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Heard from within the allowed silence.
    Up,
    /// Silent for longer than the allowed silence.
    Down,
    /// Enrolled, but nothing received yet.
    Waiting,
    /// Refused by the server until enrolled again.
    Revoked,
    /// Enrolled into a tenant that approves new hosts; waits for approval.
    Pending,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Up => "up",
            HostStatus::Down => "down",
            HostStatus::Waiting => "waiting",
            HostStatus::Revoked => "revoked",
            HostStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub const ALL: [HostStatus; 5] =
        [HostStatus::Up, HostStatus::Down, HostStatus::Waiting, HostStatus::Pending, HostStatus::Revoked];
}

/// Collection interval when neither tenant nor host sets one (seconds).
pub const DEFAULT_INTERVAL_SECS: u32 = 10;
/// The intervals the server accepts and pushes (seconds).
pub const INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 5..=3600;

/// The silence after which a host counts as down.
pub fn allowed_silence(interval: SignedDuration) -> SignedDuration {
    interval * 3 + SignedDuration::from_secs(30)
}

pub fn host_status(
    last_seen: Option<Timestamp>,
    revoked: bool,
    pending: bool,
    now: Timestamp,
    interval: SignedDuration,
) -> HostStatus {
    match (revoked, last_seen) {
        (true, _) => HostStatus::Revoked,
        _ if pending => HostStatus::Pending,
        (false, None) => HostStatus::Waiting,
        (false, Some(seen)) if now.duration_since(seen) > allowed_silence(interval) => HostStatus::Down,
        (false, Some(_)) => HostStatus::Up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_three_intervals_and_thirty_seconds() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let ten = SignedDuration::from_secs(10);
        let ago = |s: i64| Some(now - SignedDuration::from_secs(s));
        assert_eq!(host_status(ago(60), false, false, now, ten), HostStatus::Up);
        assert_eq!(host_status(ago(61), false, false, now, ten), HostStatus::Down);
        assert_eq!(host_status(None, false, false, now, ten), HostStatus::Waiting);
        assert_eq!(host_status(ago(1), true, false, now, ten), HostStatus::Revoked);
        assert_eq!(host_status(ago(1), false, true, now, ten), HostStatus::Pending);
        assert_eq!(HostStatus::parse("pending"), Some(HostStatus::Pending));
        assert_eq!(allowed_silence(SignedDuration::from_secs(60)), SignedDuration::from_secs(210));
    }
}
