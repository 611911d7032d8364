-- SOC: syslog senders, security events, the evidence of SOC alerts, rule
-- choices and custom rules per tenant, intake counters (SOC-1 … SOC-4, SOC-8,
-- SOC-11).

-- A device that sends syslog, matched by source address, by the host name
-- in its lines, or (TLS) by the token in its structured data.
CREATE TABLE syslog_sources (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    address TEXT,
    hostname TEXT,
    token_hash TEXT,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    UNIQUE (tenant_id, name)
);
CREATE INDEX syslog_sources_address ON syslog_sources (address);

-- One normalised event (ECS JSON in `event`), with the columns lists filter on.
CREATE TABLE soc_events (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    source_id INTEGER REFERENCES syslog_sources (id),
    host_id INTEGER REFERENCES hosts (id),
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    category TEXT NOT NULL,
    action TEXT,
    outcome TEXT,
    user_name TEXT,
    source_ip TEXT,
    host_name TEXT,
    message TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX soc_events_tenant_at ON soc_events (tenant_id, at);
CREATE INDEX soc_events_received ON soc_events (received_at);

-- SOC alerts are alerts of the tenant's `soc.detection` rule; these say which
-- Sigma rule and which group (source address, host) they stand for.
ALTER TABLE alerts ADD COLUMN soc_rule TEXT;
ALTER TABLE alerts ADD COLUMN soc_group TEXT;
CREATE INDEX alerts_soc ON alerts (tenant_id, soc_rule, soc_group, state);

-- The events behind a SOC alert (the newest ones; repeats only count).
CREATE TABLE soc_evidence (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    event_id INTEGER NOT NULL,
    PRIMARY KEY (alert_id, event_id)
);
CREATE INDEX soc_evidence_event ON soc_evidence (event_id);

-- Shipped rules a tenant switched off or on (default: on).
CREATE TABLE soc_rule_choices (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    rule_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);

-- A tenant's own Sigma rules (YAML as written, checked before saving).
CREATE TABLE soc_custom_rules (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    yaml TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, rule_id)
);

-- Per tenant: how long events are kept (SOC-11) and a version that changes
-- with every rule choice, so detectors are rebuilt.
CREATE TABLE soc_settings (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    retention_days INTEGER NOT NULL,
    rules_version INTEGER NOT NULL
);

-- Intake per tenant and day: received, stored, malformed, invalid_utf8,
-- truncated, over_quota.
CREATE TABLE soc_counters (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, kind)
);

-- Analyst triage (SOC-5): the verdict and class of a SOC alert, when it was
-- triaged; recommendations go out through the notification outbox with the
-- timeline note they quote.
ALTER TABLE alerts ADD COLUMN soc_verdict TEXT;
ALTER TABLE alerts ADD COLUMN soc_class TEXT;
ALTER TABLE alerts ADD COLUMN triaged_at INTEGER;
ALTER TABLE notifications ADD COLUMN note_id INTEGER REFERENCES alert_notes (id);

-- The provider's own indicator list (IPs, domains, hashes, user names);
-- provider data, no tenant's.
CREATE TABLE soc_indicators (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    note TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    UNIQUE (kind, value)
);
