-- An observer reads everything and writes nothing; a deactivated user
-- has no role at all.
BEGIN;
SELECT plan(9);
SELECT test_fixtures.load();
SELECT test_fixtures.act_as('observer');

SELECT is((SELECT count(*) FROM public.chats), 3::bigint, 'observer sees every chat');
SELECT is((SELECT count(*) FROM public.client_requests), 3::bigint, 'observer sees every request');
SELECT is(test_fixtures.affected($$UPDATE public.chats SET title = 'x'$$), 0::bigint, 'observer cannot edit chats');
SELECT throws_ok($$INSERT INTO public.faq_items (question, answer) VALUES ('q', 'a')$$, '42501', NULL,
    'observer cannot add FAQ');
SELECT is(test_fixtures.affected($$DELETE FROM public.global_holidays$$), 0::bigint, 'observer cannot delete holidays');
SELECT is(test_fixtures.affected($$UPDATE public.global_settings SET max_escalations = 1$$), 0::bigint,
    'observer cannot change settings');
SELECT test_fixtures.act_as('retired');
SELECT is((SELECT count(*) FROM public.chats), 0::bigint, 'a deactivated manager sees no chat');
SELECT is((SELECT count(*) FROM public.templates), 0::bigint, 'nor templates');
SELECT is(test_fixtures.affected($$UPDATE public.chats SET title = 'x'$$), 0::bigint, 'and edits nothing');

SELECT * FROM finish();
ROLLBACK;
