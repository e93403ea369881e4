-- The schema: tables and keys the daemon and the original's users rely on,
-- and the triggers of the pull cursor.
BEGIN;
SELECT plan(28);

SELECT has_table('public', t, t) FROM unnest(ARRAY['users', 'chats', 'client_requests',
    'sla_alerts', 'alert_deliveries', 'feedback_responses', 'working_schedules', 'templates',
    'faq_items', 'global_settings', 'global_holidays', 'chat_holidays', 'chat_messages']) AS t;
SELECT col_type_is('public', 'chats', 'id', 'bigint', 'chats.id is the Telegram chat id');
SELECT col_type_is('public', 'chats', 'accountant_telegram_ids', 'bigint[]', 'accountant ids are bigint[]');

SELECT test_fixtures.load();

SELECT throws_ok(
    $$INSERT INTO public.client_requests (chat_id, message_id, received_at) VALUES (-1001, 10, now())$$,
    '23505', NULL, 'a request is unique by (chat_id, message_id)');
SELECT lives_ok(
    $$INSERT INTO public.working_schedules (chat_id, day_of_week, start_time, end_time) VALUES (-1001, 1, '19:00', '20:00')$$,
    'a day may have a third interval');
SELECT throws_ok(
    $$INSERT INTO public.working_schedules (chat_id, day_of_week, start_time, end_time) VALUES (-1001, 2, '18:00', '09:00')$$,
    '23514', NULL, 'an interval ends after it starts');

-- The pull cursor: an update takes a newer row_version and names its writer.
CREATE TEMP TABLE before_edit AS SELECT row_version FROM public.chats WHERE id = -1001;
UPDATE public.chats SET sla_threshold_minutes = 45 WHERE id = -1001;
SELECT ok((SELECT row_version FROM public.chats WHERE id = -1001) > (SELECT row_version FROM before_edit),
    'an update moves the row version forward');
SELECT is((SELECT updated_by FROM public.chats WHERE id = -1001), 'db:postgres',
    'a write without an auth user is named by its database role');
SELECT set_config('buhbot.origin', 'daemon:test', true);
UPDATE public.chats SET title = 'ООО Ромашка и партнёры' WHERE id = -1001;
SELECT is((SELECT updated_by FROM public.chats WHERE id = -1001), 'daemon:test',
    'the daemon names itself through buhbot.origin');
SELECT set_config('buhbot.origin', '', true);

-- Deletes reach the daemon through the deletion log, after every edit.
DELETE FROM public.templates WHERE title = 'акт';
SELECT is((SELECT old_row ->> 'title' FROM buhbot.deletions WHERE table_name = 'templates'), 'акт',
    'a delete is logged with the old row');
SELECT ok((SELECT max(row_version) FROM buhbot.deletions) > (SELECT max(row_version) FROM public.chats),
    'the deletion takes a version after the edits before it');

-- updated_at is maintained.
UPDATE public.faq_items SET updated_at = '2000-01-01' WHERE question LIKE 'Когда%';
SELECT ok((SELECT updated_at FROM public.faq_items LIMIT 1) > '2001-01-01', 'updated_at is set on update');

-- Usage counters.
SELECT is(public.increment_faq_usage('80000000-0000-4000-8000-000000000001'), 1, 'increment_faq_usage counts');
SELECT is(public.increment_faq_usage('80000000-0000-4000-8000-000000000001'), 2, 'and counts again');
SELECT is(public.increment_template_usage('00000000-0000-4000-8000-000000000000'), NULL,
    'an unknown template counts nothing');
SELECT is((SELECT year FROM public.global_holidays WHERE date = '2026-01-01'), 2026, 'a holiday knows its year');

SELECT * FROM finish();
ROLLBACK;
