-- buhbot_daemon: every row of the synced tables, nothing else.
BEGIN;
SELECT plan(18);
SELECT test_fixtures.load();

SELECT ok(NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole AND NOT rolbypassrls AND rolcanlogin,
    'buhbot_daemon logs in and has no special attribute') FROM pg_roles WHERE rolname = 'buhbot_daemon';
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'buhbot_daemon'),
    0::bigint, 'buhbot_daemon owns nothing');
SET LOCAL ROLE buhbot_daemon;
SELECT set_config('buhbot.origin', 'daemon:host1', true);
SELECT is((SELECT count(*) FROM public.client_requests), 3::bigint, 'the daemon sees every request');
SELECT lives_ok($$INSERT INTO public.client_requests (chat_id, message_id, received_at, daemon_version)
    VALUES (-1003, 11, now(), 7)
    ON CONFLICT (chat_id, message_id) DO UPDATE SET status = excluded.status
    WHERE public.client_requests.daemon_version < excluded.daemon_version$$, 'the daemon upserts a request');
SELECT is(test_fixtures.affected($$INSERT INTO public.client_requests (chat_id, message_id, received_at, status, daemon_version)
    VALUES (-1003, 11, now(), 'answered', 5)
    ON CONFLICT (chat_id, message_id) DO UPDATE SET status = excluded.status, daemon_version = excluded.daemon_version
    WHERE public.client_requests.daemon_version < excluded.daemon_version$$), 0::bigint,
    'an older version does not overwrite a newer one');
SELECT is(test_fixtures.affected($$UPDATE public.chats SET title = 'из Telegram' WHERE id = -1002$$), 1::bigint,
    'the daemon updates a chat');
SELECT is((SELECT updated_by FROM public.chats WHERE id = -1002), 'daemon:host1', 'and is named as its writer');
SELECT lives_ok($$INSERT INTO buhbot.sync_positions (daemon_id, pushed_seq) VALUES ('host1', 42)$$,
    'the daemon records its position');
SELECT lives_ok($$SELECT count(*) FROM buhbot.deletions$$, 'the daemon reads the deletion log');
SELECT throws_ok($$CREATE TABLE public.intruder (id int)$$, '42501', NULL, 'the daemon cannot create tables');
SELECT throws_ok($$ALTER TABLE public.chats ADD COLUMN x int$$, '42501', NULL, 'the daemon cannot alter tables');
SELECT throws_ok($$CREATE TABLE buhbot.intruder (id int)$$, '42501', NULL, 'nor in its own schema');
SELECT throws_ok($$SELECT * FROM auth.users$$, '42501', NULL, 'the daemon cannot read auth.users');
SELECT throws_ok($$DROP TABLE public.templates$$, '42501', NULL, 'the daemon cannot drop tables');
SELECT lives_ok($$SELECT last_value FROM buhbot.row_version_seq$$, 'the daemon reads the row version (for its dump)');
SELECT throws_ok($$SELECT setval('buhbot.row_version_seq', 1)$$, '42501', NULL, 'but cannot set it');

SELECT lives_ok($$INSERT INTO buhbot.replica (tbl, pk, row, store_schema, daemon_version)
    VALUES ('chats', '[-1003]', '{"id": -1003}', 11, 43)$$, 'the daemon writes the standby replica');
SELECT is((SELECT count(*) FROM buhbot.replica), 1::bigint, 'and reads it back');

SELECT * FROM finish();
ROLLBACK;
