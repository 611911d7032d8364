-- Host down/up detection (MON-4): when a host went silent, and the events.
ALTER TABLE hosts ADD COLUMN down_since INTEGER;

CREATE TABLE host_events (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX host_events_host ON host_events (host_id, at);
