-- Inventory (INV-1 … INV-7): the current items of each host by section,
-- and the state of each section (when read, the collector's error).
-- Changes become rows of host_events.
CREATE TABLE inventory_items (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    section TEXT NOT NULL,
    item_key TEXT NOT NULL,
    name TEXT NOT NULL,
    port INTEGER,
    data TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (host_id, section, item_key)
);
CREATE INDEX inventory_items_name ON inventory_items (tenant_id, section, name);
CREATE INDEX inventory_items_port ON inventory_items (tenant_id, port);

CREATE TABLE inventory_sections (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    section TEXT NOT NULL,
    updated_at INTEGER,
    error TEXT,
    error_at INTEGER,
    truncated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (host_id, section)
);

CREATE INDEX host_events_kind ON host_events (tenant_id, kind, at);

-- Hardening checklist (RISK-1): the latest result of each check per host.
CREATE TABLE checklist_results (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    check_id TEXT NOT NULL,
    result TEXT NOT NULL,
    evidence TEXT NOT NULL,
    checked_at INTEGER NOT NULL,
    PRIMARY KEY (host_id, check_id)
);
