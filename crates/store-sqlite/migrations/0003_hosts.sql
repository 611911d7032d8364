-- Hosts (enrolled agents), enrollment tokens, request nonces, metric samples.
CREATE TABLE enroll_tokens (
    token_hash TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE hosts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    os TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    last_seen INTEGER,
    max_seq INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER
);
CREATE INDEX hosts_tenant ON hosts (tenant_id);

CREATE TABLE agent_nonces (
    host_id INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (host_id, nonce)
);
CREATE INDEX agent_nonces_at ON agent_nonces (at);

CREATE TABLE metric_series (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (host_id, name, labels)
);

CREATE TABLE metric_samples (
    series_id INTEGER NOT NULL REFERENCES metric_series (id),
    tenant_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, at)
) WITHOUT ROWID;
CREATE INDEX metric_samples_at ON metric_samples (at);
