-- Inventory (INV-1 … INV-7): the current items of each host by section,
-- and the state of each section (when read, the collector's error).
-- Changes become rows of host_events.
CREATE TABLE inventory_items (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    host_id BIGINT NOT NULL REFERENCES hosts (id),
    section TEXT NOT NULL,
    item_key TEXT NOT NULL,
    name TEXT NOT NULL,
    port BIGINT,
    data TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (host_id, section, item_key)
);
CREATE INDEX inventory_items_name ON inventory_items (tenant_id, section, name);
CREATE INDEX inventory_items_port ON inventory_items (tenant_id, port);

CREATE TABLE inventory_sections (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    host_id BIGINT NOT NULL REFERENCES hosts (id),
    section TEXT NOT NULL,
    updated_at BIGINT,
    error TEXT,
    error_at BIGINT,
    truncated BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (host_id, section)
);

CREATE INDEX host_events_kind ON host_events (tenant_id, kind, at);

-- Hardening checklist (RISK-1): the latest result of each check per host.
CREATE TABLE checklist_results (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    host_id BIGINT NOT NULL REFERENCES hosts (id),
    check_id TEXT NOT NULL,
    result TEXT NOT NULL,
    evidence TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (host_id, check_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_items, inventory_sections, checklist_results TO leitstand_app;
ALTER TABLE inventory_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON inventory_items USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE inventory_sections ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON inventory_sections USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE checklist_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON checklist_results USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
