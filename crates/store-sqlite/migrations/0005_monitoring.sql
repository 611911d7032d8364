-- Monitoring (MON-1, MON-3, AGT-2, AGT-4): rollups of samples to 1 minute and
-- 1 hour, the queue of sample ranges still to roll up, figures at a glance
-- on the host row, collection interval per tenant and host, approval of new
-- hosts, and the address a host last spoke from.
CREATE TABLE metric_rollups (
    series_id INTEGER NOT NULL REFERENCES metric_series (id),
    tenant_id INTEGER NOT NULL,
    res INTEGER NOT NULL,
    at INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    PRIMARY KEY (series_id, res, at)
) WITHOUT ROWID;
CREATE INDEX metric_rollups_at ON metric_rollups (res, at);

CREATE TABLE rollup_queue (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL,
    from_at INTEGER NOT NULL,
    to_at INTEGER NOT NULL
);

CREATE TABLE host_policies (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    interval_secs INTEGER NOT NULL,
    require_approval INTEGER NOT NULL
);

ALTER TABLE hosts ADD COLUMN interval_secs INTEGER;
ALTER TABLE hosts ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN address TEXT;
ALTER TABLE hosts ADD COLUMN cpu_percent REAL;
ALTER TABLE hosts ADD COLUMN mem_percent REAL;
ALTER TABLE hosts ADD COLUMN disk_percent REAL;
CREATE INDEX hosts_tenant_name ON hosts (tenant_id, name);
