-- The daemon's own login role: exactly what the sync needs, nothing more.
-- Not a superuser, creates nothing (no DDL after migration: it owns no
-- object and has CREATE on no schema), cannot look into `auth`. It does not
-- need BYPASSRLS (which a non-superuser `postgres` cannot grant on PG 15):
-- each table has a policy that lets it see and write every row.
--
-- The migration sets no password; `buhbot migrate --postgres
-- --set-daemon-password` does (or ALTER ROLE buhbot_daemon PASSWORD …).

SET LOCAL client_min_messages = warning;  -- "does not exist, skipping" is expected on a first run

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'buhbot_daemon') THEN
        CREATE ROLE buhbot_daemon LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            NOBYPASSRLS NOINHERIT CONNECTION LIMIT 20;
    END IF;
END
$$;

-- PG 15 no longer lets PUBLIC create in public; say it for older clusters.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA auth FROM buhbot_daemon;
GRANT USAGE ON SCHEMA public, buhbot TO buhbot_daemon;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'chats', 'client_requests', 'sla_alerts',
        'alert_deliveries', 'feedback_responses', 'working_schedules', 'templates',
        'faq_items', 'global_settings', 'global_holidays', 'chat_holidays', 'chat_messages']
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO buhbot_daemon', t);
        EXECUTE format('DROP POLICY IF EXISTS daemon_all ON public.%I', t);
        EXECUTE format('CREATE POLICY daemon_all ON public.%I FOR ALL TO buhbot_daemon
            USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

-- The sync's bookkeeping: it reads the deletion log (and prunes what every
-- daemon has pulled) and keeps its own position.
GRANT SELECT, DELETE ON buhbot.deletions TO buhbot_daemon;
GRANT SELECT, INSERT, UPDATE ON buhbot.sync_positions TO buhbot_daemon;
GRANT SELECT ON buhbot.schema_migrations TO buhbot_daemon;
GRANT EXECUTE ON FUNCTION buhbot.writer(), buhbot.touch_updated_at(), buhbot.bump_row_version(),
    buhbot.log_deletion(), buhbot.holiday_year(), buhbot.guard_user_update(),
    public.increment_template_usage(uuid), public.increment_faq_usage(uuid)
    TO buhbot_daemon;
