-- FAQ auto-answers and staff templates (issue 13).

-- How often each was used (Postgres has the same counters).
ALTER TABLE templates ADD COLUMN usage_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE faq_items ADD COLUMN usage_count INTEGER NOT NULL DEFAULT 0;

-- The last FAQ answer per entry and client in a chat: at most one answer
-- per client per entry per hour, across restarts. A removed entry takes its
-- rows along.
CREATE TABLE faq_answers (
    faq_id      INTEGER NOT NULL REFERENCES faq_items (id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (faq_id, chat_id, user_id)
) WITHOUT ROWID;

-- Bumped by every change of the entries' content (not of their usage
-- counters): the daemon rebuilds its match index only when it moved.
CREATE TABLE faq_revision (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO faq_revision (id, n) VALUES (1, 0);
CREATE TRIGGER faq_revision_ins AFTER INSERT ON faq_items
BEGIN UPDATE faq_revision SET n = n + 1; END;
CREATE TRIGGER faq_revision_upd AFTER UPDATE OF question, answer, keywords, enabled ON faq_items
BEGIN UPDATE faq_revision SET n = n + 1; END;
CREATE TRIGGER faq_revision_del AFTER DELETE ON faq_items
BEGIN UPDATE faq_revision SET n = n + 1; END;
