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

-- The triggers that fill the outbox are not part of the schema: they
-- exist only while sync is on (sql/sqlite/sync_triggers.sql, created and
-- dropped by store::outbox::set_enabled), so that a store without
-- [postgres] pays nothing for them on its hot path.
