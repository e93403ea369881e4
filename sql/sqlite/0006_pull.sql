-- What the pull from Postgres brings down (issue 11).
--
-- Days off and extra working days (the production calendar's transferred
-- Saturdays) from Postgres' global_holidays (chat_id 0) and chat_holidays:
-- the engine lays them over the configured calendars.
ALTER TABLE holidays ADD COLUMN kind TEXT NOT NULL DEFAULT 'holiday'
    CHECK (kind IN ('holiday', 'workday'));

-- Templates and FAQ entries edited in Postgres are keyed by its uuid.
ALTER TABLE templates ADD COLUMN pg_id TEXT;
CREATE UNIQUE INDEX templates_pg_id ON templates (pg_id);
ALTER TABLE faq_items ADD COLUMN pg_id TEXT;
CREATE UNIQUE INDEX faq_items_pg_id ON faq_items (pg_id);

-- Firm-wide settings changed in Postgres' global_settings that differ from
-- the configuration: they override it (key → JSON value).
CREATE TABLE settings_overrides (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
