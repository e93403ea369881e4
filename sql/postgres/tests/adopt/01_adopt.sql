-- The migrations adopt a project made by the original system: its rows
-- stay, buhbot's columns, triggers and policies arrive.
BEGIN;
SELECT plan(9);

SELECT is((SELECT title FROM public.chats WHERE id = -1009), 'ООО Старый клиент', 'the original chat is kept');
SELECT is((SELECT sla_threshold_minutes FROM public.chats WHERE id = -1009), 120, 'with its settings');
SELECT is((SELECT default_sla_threshold FROM public.global_settings), 90, 'the settings row is kept');
SELECT ok((SELECT row_version FROM public.chats WHERE id = -1009) > 0, 'existing rows get a row version for the first pull');
SELECT has_column('public', 'chats', 'daemon_version', 'buhbot''s columns are added');
SELECT lives_ok($$INSERT INTO public.working_schedules (chat_id, day_of_week, start_time, end_time)
    VALUES (-1009, 1, '19:00', '21:00')$$, 'a second interval on a day is allowed now');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.chats'::regclass), 'RLS is on');
SELECT '' FROM set_config('request.jwt.claims', '{"sub":"a1000000-0000-4000-8000-000000000001","role":"authenticated"}', true);
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*) FROM public.chats), 1::bigint, 'the original admin sees the chat through RLS');
RESET ROLE;
SELECT has_table('public', 'client_requests', 'missing tables are created');

SELECT * FROM finish();
ROLLBACK;
