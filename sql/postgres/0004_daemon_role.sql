-- PLACEHOLDER (pg-connect branch): replaced by the real daemon role at merge.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'buhbot_daemon') THEN
        CREATE ROLE buhbot_daemon LOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO buhbot_daemon;
GRANT SELECT ON public.chats TO buhbot_daemon;
