-- File receipts, the client menu and the out-of-hours reply (issue 13).

-- What a message's document or photo was: kind ('document' | 'photo'),
-- the document's file name and the size in bytes. NULL for text and for
-- other media (has_media still says there was some).
ALTER TABLE messages ADD COLUMN media_kind TEXT;
ALTER TABLE messages ADD COLUMN file_name TEXT;
ALTER TABLE messages ADD COLUMN file_size INTEGER;

-- Per-chat switches set from the shell (`buhbot chats set`); NULL follows
-- the configuration ([[chats]], then the section's default).
CREATE TABLE chat_options (
    chat_id             INTEGER PRIMARY KEY,
    receipts            INTEGER CHECK (receipts IN (0, 1)),
    out_of_hours_reply  INTEGER CHECK (out_of_hours_reply IN (0, 1)),
    updated_at          INTEGER NOT NULL
);

-- The current burst of files per client per chat: when its last file came
-- (a burst ends after a longer gap than [receipts] burst_seconds).
CREATE TABLE file_bursts (
    chat_id       INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    last_file_at  INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

-- Out-of-hours replies given: one per client per closure, a closure named
-- by the instant it ends (the next opening).
CREATE TABLE out_of_hours_replies (
    chat_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    opening_at  INTEGER NOT NULL,
    replied_at  INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id, opening_at)
) WITHOUT ROWID;

-- "Contact the accountant" presses of the client menu: one open contact
-- per client per chat; its escalation steps are driven by next_step_at
-- (the accountants are told first, then the chat's managers, then the
-- firm's managers, [menu] contact_escalate_minutes apart). Closed when a
-- staff member writes in the chat or presses "Беру", or after the last
-- level's wait ran out.
CREATE TABLE menu_contacts (
    id            INTEGER PRIMARY KEY,
    chat_id       INTEGER NOT NULL,
    client_id     INTEGER NOT NULL,
    client_name   TEXT,
    -- The menu message the button was pressed on (linked to in notices).
    message_id    INTEGER NOT NULL,
    opened_at     INTEGER NOT NULL,
    -- The last level told: 1 accountants, 2 the chat's managers, 3 the
    -- firm's managers.
    level         INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
    next_step_at  INTEGER,
    closed_at     INTEGER,
    closed_by     INTEGER,
    outcome       TEXT CHECK (outcome IN ('answered', 'taken', 'expired')),
    CHECK ((closed_at IS NULL) = (outcome IS NULL))
);
CREATE UNIQUE INDEX menu_contacts_open ON menu_contacts (chat_id, client_id)
    WHERE closed_at IS NULL;
CREATE INDEX menu_contacts_due ON menu_contacts (next_step_at)
    WHERE next_step_at IS NOT NULL;
