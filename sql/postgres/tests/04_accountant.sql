-- An accountant sees his chats only (by Telegram id or as the assigned
-- accountant) and edits nothing but his own profile.
BEGIN;
SELECT plan(18);
SELECT test_fixtures.load();
SELECT test_fixtures.act_as('accountant');

SELECT results_eq($$SELECT id FROM public.chats ORDER BY id$$, ARRAY[-1001::bigint],
    'accountant sees the chat that lists his Telegram id, only');
SELECT results_eq($$SELECT chat_id FROM public.client_requests$$, ARRAY[-1001::bigint], 'and only its requests');
SELECT results_eq($$SELECT chat_id FROM public.sla_alerts$$, ARRAY[-1001::bigint], 'and only its alerts');
SELECT results_eq($$SELECT chat_id FROM public.alert_deliveries$$, ARRAY[-1001::bigint], 'and only its deliveries');
SELECT results_eq($$SELECT chat_id FROM public.chat_messages$$, ARRAY[-1001::bigint], 'and only its messages');
SELECT is((SELECT count(*) FROM public.working_schedules WHERE chat_id <> -1001), 0::bigint,
    'no other chat''s working hours');
SELECT is((SELECT count(*) FROM public.feedback_responses WHERE chat_id <> -1001), 0::bigint,
    'no other chat''s survey answers');
SELECT results_eq($$SELECT id FROM public.users$$, ARRAY[test_fixtures.uid('accountant')], 'accountant sees his own user row only');
SELECT is((SELECT count(*) FROM public.templates), 1::bigint, 'accountant reads the templates');
SELECT is((SELECT count(*) FROM public.global_holidays), 1::bigint, 'accountant reads the global holidays');
SELECT is(test_fixtures.affected($$UPDATE public.users SET full_name = 'Бухгалтер Первый' WHERE id = test_fixtures.uid('accountant')$$),
    1::bigint, 'accountant edits his own name');
SELECT throws_ok($$UPDATE public.users SET role = 'manager' WHERE id = test_fixtures.uid('accountant')$$, '42501', NULL,
    'accountant cannot change his own role');
SELECT is(test_fixtures.affected($$UPDATE public.users SET full_name = 'x' WHERE id = test_fixtures.uid('accountant2')$$),
    0::bigint, 'accountant cannot edit a colleague');
SELECT is(test_fixtures.affected($$UPDATE public.chats SET sla_threshold_minutes = 480 WHERE id = -1001$$), 0::bigint,
    'accountant cannot edit his chat''s settings');
SELECT throws_ok($$INSERT INTO public.templates (title, content) VALUES ('мой', 'текст')$$, '42501', NULL,
    'accountant cannot add a template');
SELECT is(public.increment_template_usage('70000000-0000-4000-8000-000000000001'), 1,
    'accountant counts a template he used');
SELECT test_fixtures.act_as('accountant2');
SELECT results_eq($$SELECT id FROM public.chats$$, ARRAY[-1002::bigint],
    'the assigned accountant sees his chat, not the colleague''s');
SELECT is((SELECT count(*) FROM public.client_requests WHERE chat_id = -1001), 0::bigint,
    'nor the colleague''s requests');

SELECT * FROM finish();
ROLLBACK;
