-- buhbot's durable state. Times are Unix seconds (UTC) unless named *_date.
-- Every write the daemon makes is idempotent through the unique keys below,
-- so that replaying an event after a crash changes nothing.

-- Staff of the firm. Clients are not users: any other member of a chat.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,            -- Telegram user id
    name        TEXT NOT NULL DEFAULT '',
    username    TEXT,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'accountant', 'observer')),
    email       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Monitored chats (Bot-API ids: -100… for supergroups). NULL policy or
-- calendar columns mean "the configuration's default".
CREATE TABLE chats (
    id                          INTEGER PRIMARY KEY,
    title                       TEXT NOT NULL DEFAULT '',
    kind                        TEXT NOT NULL DEFAULT 'group',
    monitored                   INTEGER NOT NULL DEFAULT 1,
    sla_enabled                 INTEGER NOT NULL DEFAULT 1,
    threshold_minutes           INTEGER CHECK (threshold_minutes BETWEEN 1 AND 480),
    warning_percent             INTEGER CHECK (warning_percent BETWEEN 0 AND 99),
    escalation_interval_minutes INTEGER CHECK (escalation_interval_minutes BETWEEN 5 AND 120),
    max_escalations             INTEGER CHECK (max_escalations BETWEEN 1 AND 10),
    invite_link                 TEXT,
    migrated_to                 INTEGER,        -- set when a group became a supergroup
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);

-- Who answers (accountants) and who is alerted (managers) in each chat.
CREATE TABLE chat_staff (
    chat_id  INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    user_id  INTEGER NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('accountant', 'manager')),
    PRIMARY KEY (chat_id, user_id, role)
) WITHOUT ROWID;

-- A chat's own calendar: the same keys as [calendar], as a TOML snippet.
CREATE TABLE working_schedules (
    chat_id     INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    calendar    TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  INTEGER NOT NULL
);

-- Days off beyond the configuration: global (chat_id 0) or per chat.
CREATE TABLE holidays (
    chat_id  INTEGER NOT NULL DEFAULT 0,
    date     TEXT NOT NULL,                     -- YYYY-MM-DD
    title    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (chat_id, date)
) WITHOUT ROWID;

-- Append-only message log: one row per message and edit version, with
-- Telegram's own dates. edit_version is 0 for the original, else the edit's
-- Unix date, so a repeated delivery of the same edit is a duplicate.
CREATE TABLE messages (
    chat_id       INTEGER NOT NULL,
    message_id    INTEGER NOT NULL,
    edit_version  INTEGER NOT NULL DEFAULT 0,
    date          INTEGER NOT NULL,
    sender_id     INTEGER,
    sender_kind   TEXT NOT NULL,                -- user | chat | none
    sender_name   TEXT,
    text          TEXT NOT NULL DEFAULT '',
    reply_to      INTEGER,
    has_media     INTEGER NOT NULL DEFAULT 0,
    service       INTEGER NOT NULL DEFAULT 0,
    category      TEXT,                         -- classification of client messages
    confidence    REAL,
    logged_at     INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id, edit_version)
) WITHOUT ROWID;
CREATE INDEX messages_date ON messages (date);

-- Requests. The SLA clock of an open request is anchored: at anchor_at it
-- had used anchor_used_seconds of working time; re-timing after a calendar
-- or policy change moves the anchor, keeping the time already used.
CREATE TABLE client_requests (
    id                   INTEGER PRIMARY KEY,
    chat_id              INTEGER NOT NULL,
    message_id           INTEGER NOT NULL,
    client_id            INTEGER NOT NULL,
    received_at          INTEGER NOT NULL,
    category             TEXT NOT NULL,
    confidence           REAL NOT NULL,
    status               TEXT NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'answered', 'resolved')),
    anchor_at            INTEGER NOT NULL,
    anchor_used_seconds  INTEGER NOT NULL DEFAULT 0,
    threshold_minutes    INTEGER NOT NULL,
    deadline_at          INTEGER,               -- when the SLA is breached if still open
    answered_at          INTEGER,
    answered_by          INTEGER,
    answer_message_id    INTEGER,
    working_minutes      INTEGER,
    breached             INTEGER NOT NULL DEFAULT 0,
    breached_at          INTEGER,
    excess_minutes       INTEGER,
    updated_at           INTEGER NOT NULL,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX client_requests_open ON client_requests (chat_id) WHERE status = 'open';
CREATE INDEX client_requests_received ON client_requests (received_at);

-- Alerts that fired. level: 0 warning, 1 breach, 2.. escalations.
CREATE TABLE sla_alerts (
    id               INTEGER PRIMARY KEY,
    request_id       INTEGER NOT NULL REFERENCES client_requests (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('warning', 'breach', 'escalation')),
    level            INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    fired_at         INTEGER NOT NULL,
    acknowledged_by  INTEGER,
    acknowledged_at  INTEGER,
    resolution       TEXT CHECK (resolution IN ('answered', 'resolved', 'expired')),
    UNIQUE (request_id, kind, level)
);

-- One row per alert, sink and recipient; retried until sent or given up.
CREATE TABLE alert_deliveries (
    id               INTEGER PRIMARY KEY,
    alert_id         INTEGER NOT NULL REFERENCES sla_alerts (id) ON DELETE CASCADE,
    sink             TEXT NOT NULL,             -- telegram | email | log
    recipient        TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'given_up')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    sent_at          INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (alert_id, sink, recipient)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');

-- Durable timers: the alerts an open request will get if it stays open.
CREATE TABLE timers (
    request_id  INTEGER NOT NULL REFERENCES client_requests (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    level       INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    PRIMARY KEY (request_id, kind, level)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers (due_at);

-- Changes to push upstream (Supabase) later, in order.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    payload     TEXT NOT NULL,                  -- JSON
    created_at  INTEGER NOT NULL
);

-- Where each event source stands (replay position, Telegram update state).
CREATE TABLE transport_state (
    source      TEXT PRIMARY KEY,
    position    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Last runs of scheduled jobs, so runs missed while down happen after start.
CREATE TABLE job_runs (
    job          TEXT PRIMARY KEY,
    last_run_at  INTEGER NOT NULL,
    last_ok_at   INTEGER,
    detail       TEXT
);

-- Client satisfaction surveys (1–5 stars).
CREATE TABLE feedback_responses (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    campaign    TEXT NOT NULL,
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (campaign, chat_id, user_id)
);

-- Reply templates for staff.
CREATE TABLE templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    created_by  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- FAQ auto-answers.
CREATE TABLE faq_items (
    id          INTEGER PRIMARY KEY,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    keywords    TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
