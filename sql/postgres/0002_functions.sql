-- Triggers and functions: updated_at, the pull cursor (row_version and
-- the deletion log, with a NOTIFY), the usage counters.
--
-- The trigger functions are SECURITY DEFINER with an empty search_path:
-- whoever edits a row (a manager in the admin panel, the daemon) moves the
-- shared sequence and writes the deletion log without being granted either.

SET LOCAL client_min_messages = warning;  -- "does not exist, skipping" is expected on a first run

-- Who is writing: the daemon says so per transaction (SET LOCAL
-- buhbot.origin = 'daemon:<id>'); anyone else is named by their auth user
-- or, without one (SQL editor, psql), by their database role.
CREATE OR REPLACE FUNCTION buhbot.writer() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT coalesce(
        nullif(current_setting('buhbot.origin', true), ''),
        'user:' || auth.uid()::text,
        'db:' || session_user
    )
$$;

CREATE OR REPLACE FUNCTION buhbot.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The pull cursor: every insert and update of a pulled table takes the
-- next row_version and names its writer; listeners are woken.
CREATE OR REPLACE FUNCTION buhbot.bump_row_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    NEW.row_version := nextval('buhbot.row_version_seq');
    NEW.updated_by := buhbot.writer();
    -- One notification per table and transaction (Postgres folds equal ones).
    PERFORM pg_notify('buhbot_changes', TG_TABLE_NAME);
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION buhbot.log_deletion() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO buhbot.deletions (row_version, table_name, old_row, deleted_by)
    VALUES (nextval('buhbot.row_version_seq'), TG_TABLE_NAME, to_jsonb(OLD), buhbot.writer());
    PERFORM pg_notify('buhbot_changes', TG_TABLE_NAME);
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION buhbot.holiday_year() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    NEW.year := extract(year FROM NEW.date)::integer;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'chats', 'client_requests', 'alert_deliveries',
        'feedback_responses', 'working_schedules', 'templates', 'faq_items',
        'global_settings', 'global_holidays', 'chat_holidays']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS touch_updated_at ON public.%I', t);
        EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.%I
            FOR EACH ROW EXECUTE FUNCTION buhbot.touch_updated_at()', t);
    END LOOP;
    -- The tables the daemon pulls.
    FOREACH t IN ARRAY ARRAY['users', 'chats', 'working_schedules', 'templates', 'faq_items',
        'global_settings', 'global_holidays', 'chat_holidays']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS bump_row_version ON public.%I', t);
        EXECUTE format('CREATE TRIGGER bump_row_version BEFORE INSERT OR UPDATE ON public.%I
            FOR EACH ROW EXECUTE FUNCTION buhbot.bump_row_version()', t);
        EXECUTE format('DROP TRIGGER IF EXISTS log_deletion ON public.%I', t);
        EXECUTE format('CREATE TRIGGER log_deletion AFTER DELETE ON public.%I
            FOR EACH ROW EXECUTE FUNCTION buhbot.log_deletion()', t);
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS holiday_year ON public.global_holidays;
CREATE TRIGGER holiday_year BEFORE INSERT OR UPDATE OF date ON public.global_holidays
    FOR EACH ROW EXECUTE FUNCTION buhbot.holiday_year();

-- Rows present before the triggers (an adopted project) get a version, so
-- the first pull sees them.
UPDATE public.users SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.chats SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.working_schedules SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.templates SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.faq_items SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.global_settings SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.global_holidays SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;
UPDATE public.chat_holidays SET row_version = nextval('buhbot.row_version_seq') WHERE row_version = 0;

-- Usage counters: one atomic increment, the new count returned, NULL for
-- an unknown id. SECURITY DEFINER because an accountant who uses a
-- template may not edit it; only staff (or a caller without an auth user:
-- the daemon, the owner) count, and EXECUTE is granted in 0003/0004.
CREATE OR REPLACE FUNCTION public.increment_template_usage(template_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    n integer;
BEGIN
    IF auth.uid() IS NOT NULL AND NOT buhbot.is_staff() THEN
        RAISE EXCEPTION 'not a staff member' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.templates SET usage_count = usage_count + 1
    WHERE id = template_id RETURNING usage_count INTO n;
    RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION public.increment_faq_usage(faq_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    n integer;
BEGIN
    IF auth.uid() IS NOT NULL AND NOT buhbot.is_staff() THEN
        RAISE EXCEPTION 'not a staff member' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.faq_items SET usage_count = usage_count + 1
    WHERE id = faq_id RETURNING usage_count INTO n;
    RETURN n;
END
$$;

-- The first admin, at migration time or later: an existing auth user with
-- that e-mail keeps its id.
CREATE OR REPLACE FUNCTION buhbot.seed_admin(admin_email text, admin_name text DEFAULT '',
    admin_telegram_id bigint DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
    uid uuid;
BEGIN
    SELECT id INTO uid FROM auth.users WHERE email = admin_email;
    INSERT INTO public.users (id, email, full_name, role, telegram_id)
    VALUES (coalesce(uid, gen_random_uuid()), admin_email, admin_name, 'admin', admin_telegram_id)
    ON CONFLICT (email) DO UPDATE SET role = 'admin', is_active = true
    RETURNING id INTO uid;
    RETURN uid;
END
$$;

DO $$
BEGIN
    IF nullif(current_setting('buhbot.admin_email', true), '') IS NOT NULL THEN
        PERFORM buhbot.seed_admin(current_setting('buhbot.admin_email'));
    END IF;
END
$$;
