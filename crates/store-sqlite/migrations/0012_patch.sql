-- Patch jobs (PATCH-2, PATCH-3): the tenant's maintenance window, jobs of
-- several updates for several hosts with the customer's order, and each
-- host's part (its row id is the signed action's id).

CREATE TABLE patch_settings (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    maintenance_window TEXT NOT NULL
);

CREATE TABLE patch_jobs (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    title TEXT NOT NULL,
    packages TEXT NOT NULL,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    appointment_at INTEGER,
    ordered_user INTEGER REFERENCES users (id),
    ordered_by TEXT,
    ordered_at INTEGER,
    ordered_from TEXT,
    finished_at INTEGER
);
CREATE INDEX patch_jobs_tenant ON patch_jobs (tenant_id, state);

CREATE TABLE patch_job_hosts (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES patch_jobs (id),
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    ring INTEGER NOT NULL,
    position INTEGER NOT NULL,
    packages TEXT NOT NULL,
    state TEXT NOT NULL,
    sent_at INTEGER,
    not_after INTEGER,
    finished_at INTEGER,
    detail TEXT NOT NULL,
    changes TEXT NOT NULL,
    UNIQUE (job_id, host_id)
);
CREATE INDEX patch_job_hosts_host ON patch_job_hosts (host_id, state);
