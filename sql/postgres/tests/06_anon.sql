-- anon gets nothing; a signed-in person who is not staff gets nothing.
BEGIN;
SELECT plan(8);
SELECT test_fixtures.load();
SET LOCAL ROLE anon;

SELECT throws_ok($$SELECT * FROM public.chats$$, '42501', NULL, 'anon cannot read chats');
SELECT throws_ok($$SELECT * FROM public.users$$, '42501', NULL, 'anon cannot read users');
SELECT throws_ok($$INSERT INTO public.client_requests (chat_id, message_id, received_at) VALUES (-1001, 99, now())$$,
    '42501', NULL, 'anon cannot insert requests');
SELECT throws_ok($$SELECT public.increment_faq_usage('80000000-0000-4000-8000-000000000001')$$, '42501', NULL,
    'anon cannot count FAQ usage');
SELECT throws_ok($$SELECT * FROM buhbot.deletions$$, '42501', NULL, 'anon cannot read the sync log');
RESET ROLE;
SELECT test_fixtures.act_as('stranger');
SELECT is((SELECT count(*) FROM public.chats), 0::bigint, 'a signed-in stranger sees no chat');
SELECT is((SELECT count(*) FROM public.users), 0::bigint, 'nor any user');
SELECT throws_ok($$SELECT * FROM buhbot.sync_positions$$, '42501', NULL, 'nor the sync positions');

SELECT * FROM finish();
ROLLBACK;
