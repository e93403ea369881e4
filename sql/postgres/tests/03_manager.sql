-- A manager reads everything and edits the chats' settings, calendars,
-- templates, FAQ and global settings; not people, not the daemon's data.
BEGIN;
SELECT plan(14);
SELECT test_fixtures.load();
SELECT test_fixtures.act_as('manager');

SELECT is((SELECT count(*) FROM public.chats), 3::bigint, 'manager sees every chat');
SELECT is((SELECT count(*) FROM public.sla_alerts), 3::bigint, 'manager sees every alert');
SELECT is((SELECT count(*) FROM public.users), 6::bigint, 'manager sees the staff');
SELECT is(test_fixtures.affected($$UPDATE public.chats SET sla_threshold_minutes = 30 WHERE id = -1002$$), 1::bigint,
    'manager edits a chat''s threshold');
SELECT lives_ok($$INSERT INTO public.working_schedules (chat_id, day_of_week, start_time, end_time) VALUES (-1002, 6, '10:00', '14:00')$$,
    'manager adds working hours');
SELECT lives_ok($$INSERT INTO public.chat_holidays (chat_id, date, kind) VALUES (-1002, '2026-12-27', 'workday')$$,
    'manager adds a transferred working day');
SELECT lives_ok($$INSERT INTO public.templates (title, content) VALUES ('счёт', 'Счёт во вложении.')$$,
    'manager adds a template');
SELECT is(test_fixtures.affected($$UPDATE public.faq_items SET answer = 'До 20 числа.'$$), 1::bigint, 'manager edits the FAQ');
SELECT is(test_fixtures.affected($$UPDATE public.global_settings SET default_sla_threshold = 90$$), 1::bigint,
    'manager edits the global settings');
SELECT is(test_fixtures.affected($$DELETE FROM public.chats WHERE id = -1003$$), 0::bigint, 'manager cannot delete a chat');
SELECT is(test_fixtures.affected($$DELETE FROM public.users WHERE email = 'acc1@firm.test'$$), 0::bigint,
    'manager cannot delete a user');
SELECT throws_ok($$UPDATE public.users SET role = 'admin' WHERE id = test_fixtures.uid('manager')$$, '42501', NULL,
    'manager cannot make himself admin');
SELECT throws_ok($$INSERT INTO public.users (email, role) VALUES ('x@firm.test', 'admin')$$, '42501', NULL,
    'manager cannot add a user');
SELECT is(test_fixtures.affected($$UPDATE public.client_requests SET status = 'closed'$$), 0::bigint,
    'manager cannot rewrite requests');

SELECT * FROM finish();
ROLLBACK;
