-- The admin reads and writes everything.
BEGIN;
SELECT plan(9);
SELECT test_fixtures.load();
SELECT test_fixtures.act_as('admin');

SELECT is((SELECT count(*) FROM public.chats), 3::bigint, 'admin sees every chat');
SELECT is((SELECT count(*) FROM public.client_requests), 3::bigint, 'admin sees every request');
SELECT is((SELECT count(*) FROM public.users), 6::bigint, 'admin sees every user');
SELECT lives_ok($$INSERT INTO public.users (email, full_name, role) VALUES ('new@firm.test', 'Новый', 'accountant')$$,
    'admin adds a user');
SELECT is(test_fixtures.affected($$UPDATE public.users SET role = 'manager' WHERE email = 'acc1@firm.test'$$), 1::bigint,
    'admin changes a role');
SELECT is(test_fixtures.affected($$UPDATE public.client_requests SET status = 'closed' WHERE chat_id = -1003$$), 1::bigint,
    'admin corrects a request');
SELECT is(test_fixtures.affected($$DELETE FROM public.chats WHERE id = -1003$$), 1::bigint, 'admin deletes a chat');
SELECT is(test_fixtures.affected($$DELETE FROM public.users WHERE email = 'retired@firm.test'$$), 1::bigint,
    'admin removes a user');

SELECT throws_ok($$SELECT count(*) FROM buhbot.replica$$, '42501', NULL,
    'not even admin reads the standby replica (the chats'' messages, for the daemon only)');

SELECT * FROM finish();
ROLLBACK;
