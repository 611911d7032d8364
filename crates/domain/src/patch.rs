//! Patch jobs (PATCH-2, PATCH-3): the tenant's weekly maintenance window,
//! when an ordered job may run (inside the window, or at an appointment
//! agreed with the customer), and how a job moves through its rings (the
//! pilot host first, then the rest; a failure stops it). Pure rules: the
//! caller passes the time.

use crate::Lang;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How long an appointment lasts: an action may start until then.
pub const APPOINTMENT_HOURS: i64 = 4;
/// How long an agent may take to report an action sent to it, after the
/// action's expiry, before the host counts as not answering.
pub const REPORT_GRACE: SignedDuration = SignedDuration::from_hours(2);
/// An action sent expires this long after sending at the latest.
pub const ACTION_TTL: SignedDuration = SignedDuration::from_hours(1);
/// Most slots in one window.
const MAX_SLOTS: usize = 21;

/// One weekly slot: a start day and time and a length (it may run past
/// midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub day: Weekday,
    /// Minutes after midnight.
    pub start: u16,
    /// Minutes, 1 to 24 h.
    pub minutes: u16,
}

/// The tenant's weekly maintenance window, in the tenant's time zone: one
/// or more slots, e.g. `Di 22:00-02:00, Sa-So 06:00-12:00`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceWindow {
    slots: Vec<Slot>,
}

const DAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "mo", "mon"),
    (Weekday::Tuesday, "di", "tue"),
    (Weekday::Wednesday, "mi", "wed"),
    (Weekday::Thursday, "do", "thu"),
    (Weekday::Friday, "fr", "fri"),
    (Weekday::Saturday, "sa", "sat"),
    (Weekday::Sunday, "so", "sun"),
];

fn day_of(word: &str) -> Option<Weekday> {
    let w = word.trim().to_lowercase();
    let w = w.trim_end_matches('.');
    DAYS.iter().find(|(_, de, en)| w == *de || w == *en || (w.len() >= 3 && w.starts_with(en))).map(|(d, ..)| *d)
}

fn minutes_of(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl MaintenanceWindow {
    /// Reads slots separated by `,` or `;`, each `DAYS HH:MM-HH:MM` where
    /// DAYS is a day (`Di`, `Tue`) or a range (`Mo-Fr`), German or English.
    /// An empty text is no window.
    pub fn parse(text: &str) -> Result<MaintenanceWindow, String> {
        let mut slots = vec![];
        for part in text.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |why: &str| format!("„{part}“: {why} (e.g. „Di 22:00-02:00“ or „Mo-Fr 06:00-07:00“)");
            let (days, times) = part.split_once(char::is_whitespace).ok_or_else(|| bad("day and time needed"))?;
            let days = match days.split_once('-') {
                Some((a, b)) => {
                    let (a, b) =
                        (day_of(a).ok_or_else(|| bad("unknown day"))?, day_of(b).ok_or_else(|| bad("unknown day"))?);
                    let mut list = vec![a];
                    let mut d = a;
                    while d != b {
                        d = d.next();
                        list.push(d);
                    }
                    list
                }
                None => vec![day_of(days).ok_or_else(|| bad("unknown day"))?],
            };
            let (from, to) = times.trim().split_once(['-', '–']).ok_or_else(|| bad("time range needed"))?;
            let (from, to) = (
                minutes_of(from).ok_or_else(|| bad("times are HH:MM"))?,
                minutes_of(to).ok_or_else(|| bad("times are HH:MM"))?,
            );
            if from == 24 * 60 {
                return Err(bad("a slot starts before 24:00"));
            }
            let minutes = if to > from { to - from } else { to + 24 * 60 - from };
            for day in days {
                slots.push(Slot { day, start: from, minutes });
            }
        }
        if slots.len() > MAX_SLOTS {
            return Err(format!("at most {MAX_SLOTS} slots in a window"));
        }
        Ok(MaintenanceWindow { slots })
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The window as text that [`MaintenanceWindow::parse`] reads back, with
    /// day names in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        self.slots
            .iter()
            .map(|s| {
                let (_, de, en) = DAYS.iter().find(|(d, ..)| *d == s.day).copied().unwrap_or(DAYS[0]);
                let mut name = if lang == Lang::De { de } else { en }.to_owned();
                name[..1].make_ascii_uppercase();
                let end = (s.start + s.minutes) % (24 * 60);
                format!("{name} {:02}:{:02}-{:02}:{:02}", s.start / 60, s.start % 60, end / 60, end % 60)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The slots' occurrences that overlap the days around `at`: (start, end).
    fn occurrences(&self, at: Timestamp, tz: &TimeZone, days: std::ops::Range<i64>) -> Vec<(Timestamp, Timestamp)> {
        let today = at.to_zoned(tz.clone()).date();
        let mut out = vec![];
        for offset in days {
            let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            for s in self.slots.iter().filter(|s| s.day == date.weekday()) {
                if let Some(start) = start_of(date, s.start, tz) {
                    out.push((start, start + SignedDuration::from_mins(i64::from(s.minutes))));
                }
            }
        }
        out
    }

    /// When the slot that holds `at` ends, if `at` is inside the window.
    pub fn open_until(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.occurrences(at, tz, -1..1).into_iter().filter(|(s, e)| *s <= at && at < *e).map(|(_, e)| e).max()
    }

    /// The next start of a slot after `at`.
    pub fn next_start(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.occurrences(at, tz, 0..8).into_iter().map(|(s, _)| s).filter(|s| *s > at).min()
    }
}

/// The instant a civil day and minute mean in `tz` (a time in a spring-
/// forward gap moves on, as clocks do).
fn start_of(date: Date, minute: u16, tz: &TimeZone) -> Option<Timestamp> {
    let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
    date.to_datetime(time).to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Planned; runs only once the customer orders it.
    #[default]
    AwaitingOrder,
    /// Ordered; waits for the window or the appointment.
    Ordered,
    Running,
    /// Every host updated.
    Completed,
    /// A host failed; the hosts after it were not touched.
    Stopped,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::AwaitingOrder,
        JobState::Ordered,
        JobState::Running,
        JobState::Completed,
        JobState::Stopped,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::AwaitingOrder => "awaiting_order",
            JobState::Ordered => "ordered",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Stopped => "stopped",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Completed | JobState::Stopped | JobState::Cancelled)
    }
}

/// Where one host of a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    Waiting,
    /// The signed action is out; the agent has not reported yet.
    Sent,
    Succeeded,
    /// The update failed and the previous versions are back.
    RolledBack,
    /// The update failed and the previous state could not be restored.
    Failed,
    /// The agent refused the action (allow-list, signature, expiry).
    Refused,
    /// No report came in time.
    NoAnswer,
    /// Not touched: the job stopped or was cancelled before its turn.
    Skipped,
}

impl HostState {
    pub const ALL: [HostState; 8] = [
        HostState::Waiting,
        HostState::Sent,
        HostState::Succeeded,
        HostState::RolledBack,
        HostState::Failed,
        HostState::Refused,
        HostState::NoAnswer,
        HostState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Waiting => "waiting",
            HostState::Sent => "sent",
            HostState::Succeeded => "succeeded",
            HostState::RolledBack => "rolled_back",
            HostState::Failed => "failed",
            HostState::Refused => "refused",
            HostState::NoAnswer => "no_answer",
            HostState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<HostState> {
        HostState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The host's part ended badly: the job stops.
    pub fn is_failure(self) -> bool {
        matches!(self, HostState::RolledBack | HostState::Failed | HostState::Refused | HostState::NoAnswer)
    }
}

/// When an ordered job may run now: until when actions may start, or why
/// not (and when next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    OpenUntil(Timestamp),
    /// Closed; opens at this time, if the window or appointment ever opens.
    Closed(Option<Timestamp>),
}

/// An appointment replaces the window; without one the tenant's window
/// applies.
pub fn opening(window: &MaintenanceWindow, appointment: Option<Timestamp>, tz: &TimeZone, now: Timestamp) -> Opening {
    match appointment {
        Some(at) => {
            let end = at + SignedDuration::from_hours(APPOINTMENT_HOURS);
            if now < at {
                Opening::Closed(Some(at))
            } else if now < end {
                Opening::OpenUntil(end)
            } else {
                Opening::Closed(None)
            }
        }
        None => match window.open_until(now, tz) {
            Some(end) => Opening::OpenUntil(end),
            None => Opening::Closed(window.next_start(now, tz)),
        },
    }
}

/// One host of a job as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobHost {
    /// 1: the pilot; 2: the rest.
    pub ring: u8,
    pub state: HostState,
    /// For a sent action: when the agent stops accepting it.
    pub not_after: Option<Timestamp>,
}

/// What to do with a job now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// Hosts (indexes) to send the action to, valid until `not_after`.
    pub send: Vec<usize>,
    pub not_after: Option<Timestamp>,
    /// Hosts whose report is overdue.
    pub no_answer: Vec<usize>,
    /// Hosts never to be touched (the job stopped).
    pub skip: Vec<usize>,
    /// The job's new state, when it changes.
    pub state: Option<JobState>,
}

/// The next step of an ordered or running job: overdue reports count as
/// failures; a failure stops the job and skips the waiting hosts; when a
/// ring is through, the next one starts while the window is open; when all
/// are through, the job is complete.
pub fn plan(state: JobState, hosts: &[JobHost], opening: &Opening, now: Timestamp) -> Step {
    let mut step = Step::default();
    if !matches!(state, JobState::Ordered | JobState::Running) {
        return step;
    }
    let mut current: Vec<HostState> = hosts.iter().map(|h| h.state).collect();
    for (i, h) in hosts.iter().enumerate() {
        if h.state == HostState::Sent && h.not_after.is_some_and(|t| now > t + REPORT_GRACE) {
            step.no_answer.push(i);
            current[i] = HostState::NoAnswer;
        }
    }
    if current.iter().any(|s| s.is_failure()) {
        step.skip = (0..hosts.len()).filter(|i| current[*i] == HostState::Waiting).collect();
        if !current.contains(&HostState::Sent) {
            step.state = Some(JobState::Stopped);
        }
        return step;
    }
    if current.iter().all(|s| *s == HostState::Succeeded) {
        step.state = Some(JobState::Completed);
        return step;
    }
    if current.contains(&HostState::Sent) {
        return step;
    }
    // The lowest ring with waiting hosts goes next, all earlier rings being through.
    let Some(ring) = hosts.iter().zip(&current).filter(|(_, s)| **s == HostState::Waiting).map(|(h, _)| h.ring).min()
    else {
        return step;
    };
    if let Opening::OpenUntil(end) = opening {
        step.send = (0..hosts.len()).filter(|i| hosts[*i].ring == ring && current[*i] == HostState::Waiting).collect();
        step.not_after = Some((now + ACTION_TTL).min(*end));
        if state == JobState::Ordered {
            step.state = Some(JobState::Running);
        }
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).unwrap().to_zoned(berlin()).unwrap().timestamp()
    }

    #[test]
    fn windows_read_german_and_english_days_and_ranges() {
        let w = MaintenanceWindow::parse("Di 22:00-02:00; sat 06:00–12:00, Mo-Mi 05:00-06:00").unwrap();
        assert_eq!(w.slots().len(), 5);
        assert_eq!(w.slots()[0], Slot { day: Weekday::Tuesday, start: 22 * 60, minutes: 240 });
        assert_eq!(
            w.describe(Lang::De),
            "Di 22:00-02:00, Sa 06:00-12:00, Mo 05:00-06:00, Di 05:00-06:00, Mi 05:00-06:00"
        );
        assert_eq!(MaintenanceWindow::parse(&w.describe(Lang::En)).unwrap(), w);
        assert!(MaintenanceWindow::parse("").unwrap().is_empty());
        for bad in ["Di", "Xy 10:00-11:00", "Di 25:00-26:00", "Di 10-11", "Di 10:61-11:00"] {
            let e = MaintenanceWindow::parse(bad).unwrap_err();
            assert!(e.contains(bad.split(' ').next().unwrap()), "{bad}: {e}");
        }
        // Fr-Mo wraps over the weekend.
        assert_eq!(MaintenanceWindow::parse("Fr-Mo 01:00-02:00").unwrap().slots().len(), 4);
    }

    #[test]
    fn a_window_past_midnight_is_open_the_next_morning_and_says_when_it_opens_next() {
        let w = MaintenanceWindow::parse("Di 22:00-02:00").unwrap();
        let tz = berlin();
        // 2026-11-24 is a Tuesday.
        assert_eq!(w.open_until(at("2026-11-24 21:59"), &tz), None);
        assert_eq!(w.open_until(at("2026-11-24 22:00"), &tz), Some(at("2026-11-25 02:00")));
        assert_eq!(w.open_until(at("2026-11-25 01:30"), &tz), Some(at("2026-11-25 02:00")));
        assert_eq!(w.open_until(at("2026-11-25 02:00"), &tz), None);
        assert_eq!(w.next_start(at("2026-11-25 02:00"), &tz), Some(at("2026-12-01 22:00")));
        assert_eq!(w.next_start(at("2026-11-23 12:00"), &tz), Some(at("2026-11-24 22:00")));
        assert_eq!(MaintenanceWindow::default().next_start(at("2026-11-23 12:00"), &tz), None);
    }

    #[test]
    fn windows_follow_the_tenants_clock_over_daylight_saving() {
        let w = MaintenanceWindow::parse("So 01:00-04:00").unwrap();
        let tz = berlin();
        // 2026-03-29: clocks go from 02:00 to 03:00; the slot lasts 3 hours of real time.
        let start = at("2026-03-29 01:00");
        assert_eq!(w.open_until(start, &tz), Some(start + SignedDuration::from_hours(3)));
        // Summer time: 01:00 local is 23:00 UTC.
        assert_eq!(w.next_start(at("2026-07-01 12:00"), &tz).unwrap().to_string(), "2026-07-04T23:00:00Z");
    }

    #[test]
    fn an_appointment_replaces_the_window() {
        let w = MaintenanceWindow::parse("Di 22:00-02:00").unwrap();
        let tz = berlin();
        let appt = at("2026-11-26 10:00");
        assert_eq!(opening(&w, Some(appt), &tz, at("2026-11-24 23:00")), Opening::Closed(Some(appt)));
        assert_eq!(opening(&w, Some(appt), &tz, at("2026-11-26 11:00")), Opening::OpenUntil(at("2026-11-26 14:00")));
        assert_eq!(opening(&w, Some(appt), &tz, at("2026-11-26 14:00")), Opening::Closed(None));
        assert_eq!(opening(&w, None, &tz, at("2026-11-24 23:00")), Opening::OpenUntil(at("2026-11-25 02:00")));
        assert_eq!(opening(&MaintenanceWindow::default(), None, &tz, at("2026-11-24 23:00")), Opening::Closed(None));
    }

    fn hosts(states: &[(u8, HostState)]) -> Vec<JobHost> {
        states.iter().map(|(ring, state)| JobHost { ring: *ring, state: *state, not_after: None }).collect()
    }

    #[test]
    fn the_pilot_goes_first_then_the_rest_inside_the_window() {
        let now = at("2026-11-24 22:10");
        let open = Opening::OpenUntil(at("2026-11-24 22:30"));
        let closed = Opening::Closed(Some(at("2026-12-01 22:00")));
        use HostState::*;
        let mut h = hosts(&[(1, Waiting), (2, Waiting), (2, Waiting)]);
        // Ordered but closed: nothing.
        assert_eq!(plan(JobState::Ordered, &h, &closed, now), Step::default());
        // Not ordered: nothing, even in the window.
        assert_eq!(plan(JobState::AwaitingOrder, &h, &open, now), Step::default());
        let s = plan(JobState::Ordered, &h, &open, now);
        assert_eq!(s.send, vec![0]);
        assert_eq!(s.not_after, Some(at("2026-11-24 22:30")), "not past the window's end");
        assert_eq!(s.state, Some(JobState::Running));
        h[0].state = Sent;
        assert_eq!(plan(JobState::Running, &h, &open, now), Step::default(), "waits for the pilot");
        h[0].state = Succeeded;
        assert_eq!(plan(JobState::Running, &h, &closed, now), Step::default(), "ring 2 waits for the window");
        let s = plan(JobState::Running, &h, &open, now);
        assert_eq!((s.send, s.state), (vec![1, 2], None));
        h[1].state = Succeeded;
        h[2].state = Succeeded;
        assert_eq!(plan(JobState::Running, &h, &closed, now).state, Some(JobState::Completed));
    }

    #[test]
    fn a_failure_stops_the_job_and_skips_who_waits() {
        let now = at("2026-11-24 22:10");
        let open = Opening::OpenUntil(at("2026-11-25 02:00"));
        use HostState::*;
        let h = hosts(&[(1, RolledBack), (2, Waiting), (2, Waiting)]);
        let s = plan(JobState::Running, &h, &open, now);
        assert_eq!((s.send, s.skip, s.state), (vec![], vec![1, 2], Some(JobState::Stopped)));
        // In ring 2, one fails while another still runs: skip nothing more, stop once it reports.
        let h = hosts(&[(1, Succeeded), (2, Failed), (2, Sent)]);
        let s = plan(JobState::Running, &h, &open, now);
        assert_eq!((s.skip.len(), s.state), (0, None));
        let h = hosts(&[(1, Succeeded), (2, Failed), (2, Succeeded)]);
        assert_eq!(plan(JobState::Running, &h, &open, now).state, Some(JobState::Stopped));
    }

    #[test]
    fn a_host_that_does_not_report_counts_as_failed() {
        use HostState::*;
        let sent_until = at("2026-11-24 23:00");
        let h = vec![
            JobHost { ring: 1, state: Sent, not_after: Some(sent_until) },
            JobHost { ring: 2, state: Waiting, not_after: None },
        ];
        let open = Opening::OpenUntil(at("2026-11-25 02:00"));
        assert_eq!(plan(JobState::Running, &h, &open, sent_until + REPORT_GRACE), Step::default());
        let s = plan(JobState::Running, &h, &open, sent_until + REPORT_GRACE + SignedDuration::from_secs(1));
        assert_eq!((s.no_answer, s.skip, s.state), (vec![0], vec![1], Some(JobState::Stopped)));
    }
}
