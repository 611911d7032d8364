-- Alarm rules and alerts (ALARM-1 … ALARM-4): each tenant's rules (the
-- defaults are added on first use and can be changed or switched off), and
-- the alerts they raise, one per rule and host while active, with a count.
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    rule_key TEXT,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    notify INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, rule_key)
);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    rule_id INTEGER NOT NULL REFERENCES alert_rules (id),
    host_id INTEGER REFERENCES hosts (id),
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    muted_until INTEGER,
    resolved_at INTEGER,
    notify INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alerts_rule_host ON alerts (rule_id, host_id, state);
CREATE INDEX alerts_tenant ON alerts (tenant_id, state, last_at);
