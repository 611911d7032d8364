-- The second wall: row-level security on every tenant table. The server runs
-- as the role leitstand_app, which owns no table, and every transaction sets
-- `leitstand.scope` to 'all' or a comma-separated list of tenant ids.
DO $$
BEGIN
    CREATE ROLE leitstand_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT leitstand_app TO %I', current_user);
EXCEPTION WHEN others THEN NULL;
END $$;

CREATE FUNCTION leitstand_in_scope(t BIGINT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN coalesce(current_setting('leitstand.scope', true), '') = 'all' THEN true
        WHEN coalesce(current_setting('leitstand.scope', true), '') = '' THEN false
        ELSE t = ANY (string_to_array(current_setting('leitstand.scope', true), ',')::BIGINT[])
    END
$$;

GRANT SELECT, INSERT, UPDATE ON tenants, users, staff_assignments, invitations, api_tokens, recovery_codes,
    sessions, settings, audit_head TO leitstand_app;
GRANT DELETE ON users, staff_assignments, invitations, recovery_codes, sessions, login_failures TO leitstand_app;
GRANT SELECT, INSERT ON audit_log, login_failures TO leitstand_app;
GRANT SELECT ON schema_migrations TO leitstand_app;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON tenants USING (leitstand_in_scope(id)) WITH CHECK (leitstand_in_scope(id));
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON users USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE staff_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON staff_assignments USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON invitations USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON api_tokens USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON recovery_codes USING (leitstand_in_scope(tenant_id)) WITH CHECK (leitstand_in_scope(tenant_id));
-- Audit entries: read inside the scope; any transaction may append (entries
-- without a tenant, e.g. a failed sign-in of an unknown name, included).
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON audit_log FOR SELECT USING (leitstand_in_scope(tenant_id));
CREATE POLICY audit_append ON audit_log FOR INSERT WITH CHECK (true);
