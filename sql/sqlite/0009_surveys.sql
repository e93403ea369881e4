-- Client satisfaction surveys (issue 13).

-- A campaign: the survey sent to a set of chats at once. `slot` is the
-- scheduled occurrence it stands for (NULL when started by hand): unique,
-- so a scheduled campaign starts once whatever restarts happen. The
-- timeline is stored, so a change of the configuration does not move the
-- steps of a campaign already running, and the worker finds every step
-- missed while the daemon was down from the rows alone.
CREATE TABLE survey_campaigns (
    id          INTEGER PRIMARY KEY,
    slot        INTEGER UNIQUE,
    started_by  TEXT NOT NULL CHECK (started_by IN ('schedule', 'cli')),
    started_at  INTEGER NOT NULL,
    remind_at   INTEGER NOT NULL,
    notice_at   INTEGER NOT NULL,
    closes_at   INTEGER NOT NULL,
    noticed_at  INTEGER,
    closed_at   INTEGER
);
CREATE INDEX survey_campaigns_open ON survey_campaigns (closes_at) WHERE closed_at IS NULL;

-- The schedule's baseline: the last occurrence handled (or the first
-- start with surveys on: a fresh install does not survey the past).
CREATE TABLE survey_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_slot  INTEGER NOT NULL
);

-- One survey message per campaign and chat.
CREATE TABLE survey_chats (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES survey_campaigns (id) ON DELETE CASCADE,
    chat_id      INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    reminded_at  INTEGER,
    UNIQUE (campaign_id, chat_id)
);
CREATE INDEX survey_chats_chat ON survey_chats (chat_id, sent_at);

-- The effective vote of each user (one per user and survey).
CREATE TABLE survey_votes (
    survey_id   INTEGER NOT NULL REFERENCES survey_chats (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    voted_at    INTEGER NOT NULL,
    comment     TEXT,
    PRIMARY KEY (survey_id, user_id)
) WITHOUT ROWID;

-- Every change: votes, changes, withdrawals (rating NULL) and comments.
CREATE TABLE survey_vote_history (
    id          INTEGER PRIMARY KEY,
    survey_id   INTEGER NOT NULL REFERENCES survey_chats (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('vote', 'change', 'withdraw', 'comment')),
    rating      INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    comment     TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX survey_vote_history_survey ON survey_vote_history (survey_id, user_id);
