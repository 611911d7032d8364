-- Keeps SQLite's migration versions in step with PostgreSQL's; SQLite has no roles.
SELECT 1;
