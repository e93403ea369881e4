-- The persistent outbound queue: every message buhbot sends to Telegram
-- (alerts to staff, replies and confirmations in chats, edits) is a row
-- here first, and is sent by one paced sender loop.
--
-- dedupe_key names one logical message ('alert:<delivery_id>',
-- 'reply:<chat>:<msg>', …): enqueueing the same key twice is a no-op, so a
-- replayed event cannot queue a second copy.
--
-- status: pending → sending → sent, with failures back to pending
-- (transient, FLOOD_WAIT) or to failed (permanent), and given_up once the
-- message is older than the configured limit. 'sending' is written and
-- committed BEFORE the API call: a row found in 'sending' at start-up is a
-- send whose outcome is unknown (the process died during the call).
CREATE TABLE outbound_messages (
    id                   INTEGER PRIMARY KEY,
    dedupe_key           TEXT NOT NULL UNIQUE,
    chat_id              INTEGER NOT NULL,          -- Bot-API id; < 0 for groups
    text                 TEXT NOT NULL,             -- HTML (Telegram's subset)
    buttons              TEXT,                      -- JSON rows of {text, callback_data | url}
    reply_to             INTEGER,                   -- Telegram message id in chat_id
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('alert', 'reply', 'confirmation', 'edit')),
    edit_of              INTEGER,                   -- for edits: message id in chat_id
    status               TEXT NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'given_up')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    attempt_started_at   INTEGER,                   -- start of the last (or in-flight) attempt
    last_error           TEXT,
    telegram_message_id  INTEGER,
    created_at           INTEGER NOT NULL,
    sent_at              INTEGER,
    CHECK ((kind = 'edit') = (edit_of IS NOT NULL))
);
-- The sender reads the oldest unsent message of each chat (per-chat order).
-- The WHERE terms match the sender's queries exactly: SQLite uses a partial
-- index only for queries that repeat its condition.
CREATE INDEX outbound_messages_open ON outbound_messages (chat_id, id)
    WHERE status IN ('pending', 'sending');
CREATE INDEX outbound_messages_due ON outbound_messages (next_attempt_at)
    WHERE status IN ('pending', 'failed');
