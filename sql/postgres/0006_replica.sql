-- The hot standby's replica (issue 14 part 5): the active daemon's store,
-- row by row, so that the standby that takes over rebuilds its own store
-- from it (open requests, timers, the outbound queue and its delivery
-- state, the Telegram update state, …: what the firm's tables above do
-- not hold, or hold only as a mapping).
--
-- tbl        the SQLite table
-- pk         the row's primary key, a JSON array ('[42]', '[-1001,7,0]')
-- row        the row, a JSON object of its columns (SQLite's own values)
-- store_schema  the SQLite schema version of the daemon that pushed it
-- daemon_version  the outbox entry that pushed it, for the record: only
--            the daemon holding the standby lock writes here, in order, so
--            the last write is the current one (no version guard)
--
-- Only the daemon's role reads or writes it: it holds the chats' messages,
-- and nothing in the admin panel needs it. No RLS policy, so even a role
-- given table privileges by mistake sees no row.

SET LOCAL client_min_messages = warning;  -- "does not exist, skipping" is expected on a first run

CREATE TABLE IF NOT EXISTS buhbot.replica (
    tbl             text NOT NULL,
    pk              text NOT NULL,
    row             jsonb NOT NULL,
    store_schema    integer NOT NULL,
    daemon_version  bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, pk)
);
ALTER TABLE buhbot.replica ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON buhbot.replica FROM PUBLIC;
DROP POLICY IF EXISTS daemon_all ON buhbot.replica;
CREATE POLICY daemon_all ON buhbot.replica FOR ALL TO buhbot_daemon USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON buhbot.replica TO buhbot_daemon;
