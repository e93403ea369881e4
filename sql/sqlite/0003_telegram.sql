-- grammers' MTProto session (src/telegram/session.rs): where to connect,
-- the permanent auth keys, the peers' access hashes and the update state.
-- The auth keys are credentials: the database is already 0600 under
-- /var/lib/buhbot, and backups carry them like the rest of the state.

-- The datacenter main queries go to (one row).
CREATE TABLE tg_home_dc (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    dc_id   INTEGER NOT NULL
);

-- Datacenter addresses, with the auth key once one was generated.
CREATE TABLE tg_dc_options (
    dc_id       INTEGER PRIMARY KEY,
    ipv4        TEXT NOT NULL,              -- "a.b.c.d:port"
    ipv6        TEXT NOT NULL,              -- "[addr]:port"
    auth_key    BLOB CHECK (auth_key IS NULL OR length(auth_key) = 256)
);

-- Peers seen in updates. Sending to a stored id later needs its access
-- hash, so peers are never forgotten. `info` is grammers' PeerInfo as
-- JSON (serde); the other columns are for people and indexes.
CREATE TABLE tg_peers (
    peer_id     INTEGER PRIMARY KEY,        -- Bot-API dialog id
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'chat', 'channel')),
    access_hash INTEGER,
    is_self     INTEGER NOT NULL DEFAULT 0,
    info        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX tg_peers_self ON tg_peers (is_self) WHERE is_self = 1;

-- The account's update state (one row) and each channel's pts.
CREATE TABLE tg_update_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    pts     INTEGER NOT NULL,
    qts     INTEGER NOT NULL,
    date    INTEGER NOT NULL,
    seq     INTEGER NOT NULL
);

CREATE TABLE tg_channel_state (
    channel_id  INTEGER PRIMARY KEY,        -- bare channel id
    pts         INTEGER NOT NULL
);
