-- The sync with the firm's Postgres (issue 11).
--
-- The outbox no longer carries hand-built patches: triggers on every table
-- the daemon pushes record (entity, key, op) in the transaction of the
-- change, whoever writes (engine, bot command, CLI), and the pusher reads
-- the full row by its key when it pushes. The entry's id is the row's
-- version upstream (daemon_version), so ids must never be reused:
-- AUTOINCREMENT keeps them growing after the table empties.
--
-- Nothing is recorded while sync is off (no [postgres] section): no
-- backlog builds up. Turning it on (store::outbox::set_enabled, at the
-- daemon's start) first queues every row: what was written while it was
-- off was not recorded.
--
-- Retention deletes old rows locally only: Postgres keeps the history, so
-- the log tables have no delete triggers. Settings changes keep their
-- audit line (who, what, old → new) in audit_log.

-- The old entries (hand-built patches) were never read by anything.
DROP TABLE outbox;
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('upsert', 'delete', 'move')),
    created_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);

-- One row. enabled: a [postgres] section is configured (set at start);
-- applying: 1 inside a pull transaction, so rows that came from Postgres
-- are not pushed back.
CREATE TABLE sync_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    enabled   INTEGER NOT NULL DEFAULT 0,
    applying  INTEGER NOT NULL DEFAULT 0,
    last_push_at     INTEGER,
    last_push_error  TEXT
);
INSERT INTO sync_state (id) VALUES (1);

-- Entries Postgres refused permanently (a constraint, a type), after
-- several attempts: kept with the error, out of the way of the rows behind.
CREATE TABLE sync_dead_letters (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL,
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    op          TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    error       TEXT NOT NULL,
    queued_at   INTEGER NOT NULL,
    failed_at   INTEGER NOT NULL
);

-- Who changed which setting, when, from what to what.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    by          TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    what        TEXT NOT NULL,
    old         TEXT NOT NULL,              -- JSON
    new         TEXT NOT NULL               -- JSON
);

-- The triggers. `sync_on` is the condition every one of them shares.
CREATE VIEW sync_on AS SELECT 1 AS on_ FROM sync_state WHERE enabled = 1 AND applying = 0;

CREATE TRIGGER users_outbox_ins AFTER INSERT ON users WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('users', NEW.id, 'upsert'); END;
CREATE TRIGGER users_outbox_upd AFTER UPDATE ON users WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN
    INSERT INTO outbox (entity, entity_key, op) SELECT 'users', OLD.id, 'delete' WHERE OLD.id <> NEW.id;
    INSERT INTO outbox (entity, entity_key, op) VALUES ('users', NEW.id, 'upsert');
END;
CREATE TRIGGER users_outbox_del AFTER DELETE ON users WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('users', OLD.id, 'delete'); END;

-- A chat's staff lives in chat_staff here and in the chat's id arrays
-- upstream: a staff change is a change of the chat.
CREATE TRIGGER chats_outbox_ins AFTER INSERT ON chats WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.id, 'upsert'); END;
CREATE TRIGGER chats_outbox_upd AFTER UPDATE ON chats WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.id, 'upsert'); END;
-- A group that became a supergroup: its rows move to the new id here
-- (store::chats::move_rows) and upstream: store::outbox::record_move
-- queues ('chats', 'old:new', 'move') before the rows move.
CREATE TRIGGER chats_outbox_del AFTER DELETE ON chats WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', OLD.id, 'delete'); END;
CREATE TRIGGER chat_staff_outbox_ins AFTER INSERT ON chat_staff WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.chat_id, 'upsert'); END;
CREATE TRIGGER chat_staff_outbox_del AFTER DELETE ON chat_staff WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', OLD.chat_id, 'upsert'); END;

CREATE TRIGGER messages_outbox_ins AFTER INSERT ON messages WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('chat_messages', NEW.chat_id || ':' || NEW.message_id || ':' || NEW.edit_version, 'upsert'); END;
CREATE TRIGGER messages_outbox_upd AFTER UPDATE ON messages WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('chat_messages', NEW.chat_id || ':' || NEW.message_id || ':' || NEW.edit_version, 'upsert'); END;

CREATE TRIGGER requests_outbox_ins AFTER INSERT ON client_requests WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('client_requests', NEW.id, 'upsert'); END;
CREATE TRIGGER requests_outbox_upd AFTER UPDATE ON client_requests WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('client_requests', NEW.id, 'upsert'); END;

CREATE TRIGGER alerts_outbox_ins AFTER INSERT ON sla_alerts WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.id, 'upsert'); END;
CREATE TRIGGER alerts_outbox_upd AFTER UPDATE ON sla_alerts WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.id, 'upsert'); END;

-- The alert's row upstream carries its delivery status: a delivery's
-- change is also a change of its alert.
CREATE TRIGGER deliveries_outbox_ins AFTER INSERT ON alert_deliveries WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('alert_deliveries', NEW.id, 'upsert'); END;
CREATE TRIGGER deliveries_outbox_upd AFTER UPDATE ON alert_deliveries WHEN EXISTS (SELECT 1 FROM sync_on)
BEGIN
    INSERT INTO outbox (entity, entity_key, op) VALUES ('alert_deliveries', NEW.id, 'upsert');
    INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.alert_id, 'upsert');
END;
