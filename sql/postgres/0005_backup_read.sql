-- The daemon's role takes the daily `pg_dump` of buhbot's schemas (public
-- and buhbot; `[backup] postgres_*`). It already reads every table there;
-- a dump also reads the position of buhbot.row_version_seq, without which
-- a restored database would hand out row versions the daemons have already
-- pulled. SELECT on a sequence reads it (last_value, currval); it cannot
-- advance or set it (that is USAGE/UPDATE, which the triggers do as the
-- owner).

GRANT SELECT ON SEQUENCE buhbot.row_version_seq TO buhbot_daemon;
