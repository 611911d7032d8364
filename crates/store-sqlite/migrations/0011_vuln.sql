-- Vulnerabilities (VULN-1, VULN-2): the scan state of each host and its
-- findings (one per CVE and source package), the tenant's alarm threshold.

CREATE TABLE vuln_hosts (
    host_id INTEGER PRIMARY KEY REFERENCES hosts (id),
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    release TEXT,
    end_of_support TEXT,
    out_of_support INTEGER NOT NULL,
    packages INTEGER NOT NULL,
    problem TEXT,
    software_at INTEGER NOT NULL,
    scanned_at INTEGER NOT NULL,
    advisories_at INTEGER NOT NULL
);
CREATE INDEX vuln_hosts_tenant ON vuln_hosts (tenant_id);

CREATE TABLE vuln_findings (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    cve TEXT NOT NULL,
    package TEXT NOT NULL,
    binaries TEXT NOT NULL,
    installed TEXT NOT NULL,
    fixed_version TEXT,
    state TEXT NOT NULL,
    note TEXT NOT NULL,
    advisory TEXT,
    score_tenths INTEGER,
    vector TEXT,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    fixed_at INTEGER,
    accepted_reason TEXT,
    accepted_until INTEGER,
    accepted_by TEXT,
    UNIQUE (host_id, cve, package)
);
CREATE INDEX vuln_findings_tenant ON vuln_findings (tenant_id, status, score_tenths);
CREATE INDEX vuln_findings_cve ON vuln_findings (tenant_id, cve);

CREATE TABLE vuln_settings (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    min_score_tenths INTEGER NOT NULL
);

-- The "new vulnerability" alarm was a slot; it now watches the events a scan makes.
UPDATE alert_rules SET kind = '{"kind":"event","kinds":["vulnerability.new"]}'
 WHERE rule_key = 'new-vulnerability' AND kind LIKE '%"pending"%';
