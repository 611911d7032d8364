-- Agent upgrades (AGT-4): the build each host's agent runs.
ALTER TABLE hosts ADD COLUMN agent_version TEXT;
ALTER TABLE hosts ADD COLUMN agent_sha256 TEXT;
