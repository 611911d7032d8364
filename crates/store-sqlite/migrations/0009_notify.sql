-- Threshold evaluation, the alert timeline, the three-day rule and
-- notifications (ALARM-2 … ALARM-4).

-- Where each threshold rule stands on each series of a host: beyond the
-- line since when, and whether it fires. Written only when that changes.
CREATE TABLE alert_trackers (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    rule_id INTEGER NOT NULL REFERENCES alert_rules (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    series TEXT NOT NULL,
    beyond_since INTEGER,
    firing INTEGER NOT NULL,
    PRIMARY KEY (host_id, rule_id, series)
);

-- An imminent-danger rule flags its alerts for provider action at once.
ALTER TABLE alert_rules ADD COLUMN imminent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN assignee_id INTEGER REFERENCES users (id);
-- 'unanswered' (the three-day rule) or 'imminent'.
ALTER TABLE alerts ADD COLUMN flag TEXT;
ALTER TABLE alerts ADD COLUMN flagged_at INTEGER;
-- The highest escalation level whose notifications are queued; -1: none yet.
ALTER TABLE alerts ADD COLUMN notified_level INTEGER NOT NULL DEFAULT -1;

-- The timeline of an alert: opened, state changes, comments, assignments,
-- flags, what the provider did, notifications sent or failed.
CREATE TABLE alert_notes (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    author_id INTEGER REFERENCES users (id),
    body TEXT NOT NULL
);
CREATE INDEX alert_notes_alert ON alert_notes (alert_id, at);

-- Per tenant: quiet hours (minutes of the local day), escalation and the
-- unanswered deadline.
CREATE TABLE notify_policies (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    quiet_from INTEGER,
    quiet_to INTEGER,
    escalate_after_mins INTEGER NOT NULL,
    unanswered_hours INTEGER NOT NULL
);

-- Who is told of what: channel and address, language, the least severity,
-- the rules (JSON list of ids; empty: all), and the escalation level.
CREATE TABLE notify_contacts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    language TEXT NOT NULL,
    min_severity TEXT NOT NULL,
    rule_ids TEXT NOT NULL,
    level INTEGER NOT NULL,
    secret TEXT,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- The outbox: one row per alert and contact, sent with retries and backoff.
-- `message_id` ties the rows sent together in one (grouped) message.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    contact_id INTEGER NOT NULL REFERENCES notify_contacts (id),
    level INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    message_id INTEGER
);
CREATE INDEX notifications_due ON notifications (state, next_at);
CREATE INDEX notifications_alert ON notifications (alert_id);
CREATE INDEX notifications_contact ON notifications (contact_id, sent_at);
