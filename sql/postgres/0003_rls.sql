-- Row-level security as on Supabase: the API roles anon and authenticated
-- see what the policies allow; service_role bypasses RLS. The role of a
-- signed-in person is public.users.role of auth.uid() (an inactive user
-- has none):
--
--   admin       reads and writes everything
--   manager     reads everything; edits chats, schedules, holidays,
--               templates, FAQ and the global settings; deletes no chat
--   accountant  reads the chats he is assigned to (assigned_accountant_id
--               or his telegram_id in accountant_telegram_ids) and their
--               requests, alerts, deliveries, messages, schedules and
--               holidays, plus templates, FAQ, global holidays and
--               settings; writes only his own profile (name, username)
--   observer    reads everything, writes nothing
--   anon        nothing
--
-- RLS is enabled, not forced: the tables' owner (postgres, Supabase's SQL
-- editor) is not filtered, as on Supabase.

SET LOCAL client_min_messages = warning;  -- "does not exist, skipping" is expected on a first run

-- Helpers for the policies. SECURITY DEFINER, so that reading users from a
-- policy on users does not recurse into its own policy.
CREATE OR REPLACE FUNCTION buhbot.staff_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT role FROM public.users WHERE id = auth.uid() AND is_active
$$;

CREATE OR REPLACE FUNCTION buhbot.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT coalesce(buhbot.staff_role() = 'admin', false) $$;

CREATE OR REPLACE FUNCTION buhbot.is_manager() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT coalesce(buhbot.staff_role() IN ('admin', 'manager'), false) $$;

CREATE OR REPLACE FUNCTION buhbot.reads_all() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT coalesce(buhbot.staff_role() IN ('admin', 'manager', 'observer'), false) $$;

CREATE OR REPLACE FUNCTION buhbot.is_staff() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT buhbot.staff_role() IS NOT NULL $$;

CREATE OR REPLACE FUNCTION buhbot.sees_chat(chat bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT buhbot.reads_all() OR EXISTS (
        SELECT 1 FROM public.chats c JOIN public.users u ON u.id = auth.uid()
        WHERE c.id = chat AND u.is_active AND u.role = 'accountant'
          AND (c.assigned_accountant_id = u.id OR u.telegram_id = ANY (c.accountant_telegram_ids))
    )
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA buhbot FROM PUBLIC;
GRANT USAGE ON SCHEMA buhbot TO authenticated;
GRANT EXECUTE ON FUNCTION buhbot.staff_role(), buhbot.is_admin(), buhbot.is_manager(),
    buhbot.reads_all(), buhbot.is_staff(), buhbot.sees_chat(bigint) TO authenticated;
-- The trigger functions run for every writer.
GRANT EXECUTE ON FUNCTION buhbot.writer(), buhbot.touch_updated_at(),
    buhbot.bump_row_version(), buhbot.log_deletion(), buhbot.holiday_year()
    TO authenticated, service_role;

-- Who may change what in a users row: the admin everything; a person only
-- his own profile fields, never his role, activity, e-mail or Telegram id.
CREATE OR REPLACE FUNCTION buhbot.guard_user_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF auth.uid() IS NOT NULL AND NOT buhbot.is_admin()
       AND (NEW.id, NEW.role, NEW.is_active, NEW.email, NEW.telegram_id)
           IS DISTINCT FROM (OLD.id, OLD.role, OLD.is_active, OLD.email, OLD.telegram_id) THEN
        RAISE EXCEPTION 'only an admin may change the role, activity, e-mail or Telegram id of user %', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
GRANT EXECUTE ON FUNCTION buhbot.guard_user_update() TO authenticated, service_role;
DROP TRIGGER IF EXISTS guard_user_update ON public.users;
CREATE TRIGGER guard_user_update BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION buhbot.guard_user_update();

DO $$
DECLARE
    t text;
    all_tables text[] := ARRAY['users', 'chats', 'client_requests', 'sla_alerts',
        'alert_deliveries', 'feedback_responses', 'working_schedules', 'templates',
        'faq_items', 'global_settings', 'global_holidays', 'chat_holidays', 'chat_messages'];
BEGIN
    FOREACH t IN ARRAY all_tables LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        -- Supabase's default privileges grant anon everything on new
        -- tables in public; buhbot's tables are for staff only.
        EXECUTE format('REVOKE ALL ON public.%I FROM anon, PUBLIC', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO authenticated', t);
        EXECUTE format('GRANT ALL ON public.%I TO service_role', t);
        -- Policies are (re)made from scratch so that a rerun on an adopted
        -- project leaves exactly these.
        EXECUTE format('DROP POLICY IF EXISTS staff_read ON public.%I', t);
        EXECUTE format('DROP POLICY IF EXISTS staff_insert ON public.%I', t);
        EXECUTE format('DROP POLICY IF EXISTS staff_update ON public.%I', t);
        EXECUTE format('DROP POLICY IF EXISTS staff_delete ON public.%I', t);
    END LOOP;

    -- Chat-scoped data: readable where the chat is; written by the admin
    -- (the daemon owns it; the admin may correct it).
    FOREACH t IN ARRAY ARRAY['client_requests', 'sla_alerts', 'alert_deliveries',
        'feedback_responses', 'chat_messages'] LOOP
        EXECUTE format('CREATE POLICY staff_read ON public.%I FOR SELECT TO authenticated
            USING (buhbot.sees_chat(chat_id))', t);
        EXECUTE format('CREATE POLICY staff_insert ON public.%I FOR INSERT TO authenticated
            WITH CHECK (buhbot.is_admin())', t);
        EXECUTE format('CREATE POLICY staff_update ON public.%I FOR UPDATE TO authenticated
            USING (buhbot.is_admin()) WITH CHECK (buhbot.is_admin())', t);
        EXECUTE format('CREATE POLICY staff_delete ON public.%I FOR DELETE TO authenticated
            USING (buhbot.is_admin())', t);
    END LOOP;

    -- A chat's calendar: read with the chat, edited by managers.
    FOREACH t IN ARRAY ARRAY['working_schedules', 'chat_holidays'] LOOP
        EXECUTE format('CREATE POLICY staff_read ON public.%I FOR SELECT TO authenticated
            USING (buhbot.sees_chat(chat_id))', t);
        EXECUTE format('CREATE POLICY staff_insert ON public.%I FOR INSERT TO authenticated
            WITH CHECK (buhbot.is_manager())', t);
        EXECUTE format('CREATE POLICY staff_update ON public.%I FOR UPDATE TO authenticated
            USING (buhbot.is_manager()) WITH CHECK (buhbot.is_manager())', t);
        EXECUTE format('CREATE POLICY staff_delete ON public.%I FOR DELETE TO authenticated
            USING (buhbot.is_manager())', t);
    END LOOP;

    -- Firm-wide working material: every staff member reads it (answers,
    -- the calendar), managers edit it.
    FOREACH t IN ARRAY ARRAY['templates', 'faq_items', 'global_holidays', 'global_settings'] LOOP
        EXECUTE format('CREATE POLICY staff_read ON public.%I FOR SELECT TO authenticated
            USING (buhbot.is_staff())', t);
        EXECUTE format('CREATE POLICY staff_insert ON public.%I FOR INSERT TO authenticated
            WITH CHECK (buhbot.is_manager())', t);
        EXECUTE format('CREATE POLICY staff_update ON public.%I FOR UPDATE TO authenticated
            USING (buhbot.is_manager()) WITH CHECK (buhbot.is_manager())', t);
    END LOOP;
    -- The settings row is a singleton: nobody deletes it through the API.
    FOREACH t IN ARRAY ARRAY['templates', 'faq_items', 'global_holidays'] LOOP
        EXECUTE format('CREATE POLICY staff_delete ON public.%I FOR DELETE TO authenticated
            USING (buhbot.is_manager())', t);
    END LOOP;
END
$$;

-- Chats: seen by who reads all and by the assigned accountants; managers
-- add and edit them; only the admin deletes one (it takes its history
-- with it; managers set deleted_at instead).
CREATE POLICY staff_read ON public.chats FOR SELECT TO authenticated
    USING (buhbot.sees_chat(id));
CREATE POLICY staff_insert ON public.chats FOR INSERT TO authenticated
    WITH CHECK (buhbot.is_manager());
CREATE POLICY staff_update ON public.chats FOR UPDATE TO authenticated
    USING (buhbot.is_manager()) WITH CHECK (buhbot.is_manager());
CREATE POLICY staff_delete ON public.chats FOR DELETE TO authenticated
    USING (buhbot.is_admin());

-- Users: everyone reads his own row, who reads all reads all; the admin
-- adds, edits and removes people; a person edits his own profile (the
-- guard trigger keeps him off role, activity, e-mail and Telegram id).
CREATE POLICY staff_read ON public.users FOR SELECT TO authenticated
    USING (id = auth.uid() OR buhbot.reads_all());
CREATE POLICY staff_insert ON public.users FOR INSERT TO authenticated
    WITH CHECK (buhbot.is_admin());
CREATE POLICY staff_update ON public.users FOR UPDATE TO authenticated
    USING (buhbot.is_admin() OR id = auth.uid())
    WITH CHECK (buhbot.is_admin() OR id = auth.uid());
CREATE POLICY staff_delete ON public.users FOR DELETE TO authenticated
    USING (buhbot.is_admin());

GRANT EXECUTE ON FUNCTION public.increment_template_usage(uuid), public.increment_faq_usage(uuid)
    TO authenticated, service_role;
REVOKE EXECUTE ON FUNCTION public.increment_template_usage(uuid), public.increment_faq_usage(uuid)
    FROM PUBLIC, anon;
-- The sync's bookkeeping is the daemon's and the owner's alone.
REVOKE ALL ON ALL TABLES IN SCHEMA buhbot FROM PUBLIC, anon, authenticated;
