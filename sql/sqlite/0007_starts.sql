-- The daemon's start history (issue 14): one row per `buhbot run`, so that
-- an upgrade, a restore or a crash loop is told to the admins once.
--
-- reason: why this start is notable (`crate::domain::starts::Reason`):
-- install, restart, upgrade, downgrade, restore. previous_version is the
-- version that ran before an upgrade or downgrade. migrations lists the
-- schema migrations applied at this start ("7 starts, 8 …"); backup names
-- the newest archive at start. ready_at is set at READY=1, stopped_at only
-- on a clean stop (a start whose predecessor has none followed a crash),
-- alive_at by the external heartbeat's store probe. notified_at: the
-- release notice was queued (at READY, with the time it took);
-- crash_loop: this start found a crash loop and queued its warning.
CREATE TABLE starts (
    id                INTEGER PRIMARY KEY,
    version           TEXT NOT NULL,
    previous_version  TEXT,
    reason            TEXT NOT NULL
                      CHECK (reason IN ('install', 'restart', 'upgrade', 'downgrade', 'restore')),
    after_crash       INTEGER NOT NULL DEFAULT 0,
    migrations        TEXT NOT NULL DEFAULT '',
    backup            TEXT,
    restored_from     TEXT,
    started_at        INTEGER NOT NULL,
    ready_at          INTEGER,
    alive_at          INTEGER,
    stopped_at        INTEGER,
    notified_at       INTEGER,
    crash_loop        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX starts_started_at ON starts (started_at);
