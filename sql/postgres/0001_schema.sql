-- buhbot's Postgres schema: the firm's system of record (issue 11).
--
-- Table and column names are the original system's (a firm moving from it
-- keeps its Supabase project): every table is created only if absent and
-- buhbot's own columns are added if missing, so the migration adopts an
-- existing project instead of failing on it. Times are timestamptz; ids
-- uuid except chats.id, the Telegram chat id (Bot-API form, -100… for
-- supergroups), and Telegram's own ids (bigint).
--
-- Sync columns (see sql/postgres/README.md):
--   row_version     set by trigger from buhbot.row_version_seq on every
--                   insert and update of a table the daemon pulls: the
--                   pull cursor.
--   updated_by      who wrote the row last: 'daemon:<id>' when the daemon
--                   pushed it (it sets buhbot.origin), else 'user:<uid>' or
--                   'db:<role>'; the daemon skips pulling back its own writes.
--   daemon_version  the daemon's version of a row it pushes; an upsert
--                   applies only when newer (the push guard).

SET LOCAL client_min_messages = warning;  -- "does not exist, skipping" is expected on a first run

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- gen_random_uuid() before PG 13 too
CREATE SCHEMA IF NOT EXISTS buhbot;
CREATE SEQUENCE IF NOT EXISTS buhbot.row_version_seq AS bigint;

-- Staff. `id` is the Supabase auth user's id for people who sign in to the
-- admin panel; staff known only from Telegram get a random one.
CREATE TABLE IF NOT EXISTS public.users (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                   text UNIQUE,
    full_name               text NOT NULL DEFAULT '',
    role                    text NOT NULL DEFAULT 'observer'
                            CHECK (role IN ('admin', 'manager', 'accountant', 'observer')),
    telegram_id             bigint UNIQUE,
    telegram_username       text,
    is_onboarding_complete  boolean NOT NULL DEFAULT false,
    is_active               boolean NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.users
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;
CREATE INDEX IF NOT EXISTS users_role ON public.users (role);

-- Monitored chats. NULL policy columns mean "the configuration's default".
-- manager_telegram_ids is text[] as in the original (Telegram ids as text).
CREATE TABLE IF NOT EXISTS public.chats (
    id                       bigint PRIMARY KEY,
    chat_type                text NOT NULL DEFAULT 'group'
                             CHECK (chat_type IN ('private', 'group', 'supergroup')),
    title                    text,
    invite_link              text,
    accountant_usernames     text[] NOT NULL DEFAULT '{}',
    accountant_telegram_ids  bigint[] NOT NULL DEFAULT '{}',
    assigned_accountant_id   uuid REFERENCES public.users (id) ON DELETE SET NULL,
    client_tier              text NOT NULL DEFAULT 'standard',
    sla_enabled              boolean NOT NULL DEFAULT false,
    sla_threshold_minutes    integer NOT NULL DEFAULT 60,
    monitoring_enabled       boolean NOT NULL DEFAULT true,
    is_24x7_mode             boolean NOT NULL DEFAULT false,
    manager_telegram_ids     text[] NOT NULL DEFAULT '{}',
    notify_in_chat_on_breach boolean NOT NULL DEFAULT false,
    is_migrated              boolean NOT NULL DEFAULT false,
    deleted_at               timestamptz,
    last_survey_sent_at      timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.chats
    ADD COLUMN IF NOT EXISTS sla_warning_percent integer
        CHECK (sla_warning_percent BETWEEN 0 AND 99),
    ADD COLUMN IF NOT EXISTS escalation_interval_minutes integer
        CHECK (escalation_interval_minutes BETWEEN 5 AND 120),
    ADD COLUMN IF NOT EXISTS max_escalations integer CHECK (max_escalations BETWEEN 1 AND 10),
    ADD COLUMN IF NOT EXISTS migrated_to bigint,
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text,
    ADD COLUMN IF NOT EXISTS daemon_version bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS chats_assigned_accountant ON public.chats (assigned_accountant_id);
CREATE INDEX IF NOT EXISTS chats_accountant_ids ON public.chats USING gin (accountant_telegram_ids);

-- Client requests; (chat_id, message_id) is the natural key the daemon
-- upserts by. status uses the original's values: buhbot's open request is
-- 'pending' (or 'escalated' once breached), answered 'answered', resolved
-- by a button 'closed'.
CREATE TABLE IF NOT EXISTS public.client_requests (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id                bigint NOT NULL REFERENCES public.chats (id)
                           ON DELETE CASCADE ON UPDATE CASCADE,
    message_id             bigint NOT NULL,
    message_text           text NOT NULL DEFAULT '',
    client_username        text,
    received_at            timestamptz NOT NULL,
    assigned_to            uuid REFERENCES public.users (id) ON DELETE SET NULL,
    response_at            timestamptz,
    response_time_minutes  integer,
    status                 text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'in_progress', 'waiting_client',
                                  'transferred', 'answered', 'escalated', 'closed')),
    classification         text NOT NULL DEFAULT 'REQUEST'
                           CHECK (classification IN ('REQUEST', 'SPAM', 'GRATITUDE', 'CLARIFICATION')),
    classification_score   double precision CHECK (classification_score BETWEEN 0 AND 1),
    classification_model   text,
    sla_timer_started_at   timestamptz,
    sla_timer_paused_at    timestamptz,
    sla_working_minutes    integer,
    sla_breached           boolean NOT NULL DEFAULT false,
    sla_breached_at        timestamptz,
    sla_excess_minutes     integer,
    responded_by           uuid REFERENCES public.users (id) ON DELETE SET NULL,
    response_message_id    bigint,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chat_id, message_id)
);
ALTER TABLE public.client_requests
    ADD COLUMN IF NOT EXISTS client_telegram_id bigint,
    ADD COLUMN IF NOT EXISTS responded_by_telegram_id bigint,
    ADD COLUMN IF NOT EXISTS sla_threshold_minutes integer,
    ADD COLUMN IF NOT EXISTS sla_deadline_at timestamptz,
    ADD COLUMN IF NOT EXISTS daemon_version bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS client_requests_received ON public.client_requests (received_at);
CREATE INDEX IF NOT EXISTS client_requests_status ON public.client_requests (status);
CREATE INDEX IF NOT EXISTS client_requests_breached ON public.client_requests (sla_breached);

-- Alerts that fired. The original has warning and breach only; buhbot's
-- escalations are alert_type 'breach' with escalation_level 2 and up
-- (warnings 0, the breach 1). chat_id is denormalised so that the row
-- policies need no join.
CREATE TABLE IF NOT EXISTS public.sla_alerts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id           uuid NOT NULL REFERENCES public.client_requests (id) ON DELETE CASCADE,
    alert_type           text NOT NULL CHECK (alert_type IN ('warning', 'breach')),
    minutes_elapsed      integer NOT NULL DEFAULT 0,
    alert_sent_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at      timestamptz,
    acknowledged_by      uuid REFERENCES public.users (id) ON DELETE SET NULL,
    resolution_notes     text,
    telegram_message_id  bigint,
    delivery_status      text NOT NULL DEFAULT 'pending'
                         CHECK (delivery_status IN ('pending', 'sent', 'delivered', 'failed')),
    delivered_at         timestamptz,
    escalation_level     integer NOT NULL DEFAULT 1 CHECK (escalation_level BETWEEN 0 AND 11),
    next_escalation_at   timestamptz,
    resolved_action      text CHECK (resolved_action IN
                         ('mark_resolved', 'accountant_responded', 'auto_expired'))
);
ALTER TABLE public.sla_alerts
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS due_at timestamptz,
    ADD COLUMN IF NOT EXISTS acknowledged_by_telegram_id bigint,
    ADD COLUMN IF NOT EXISTS daemon_version bigint NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX IF NOT EXISTS sla_alerts_natural
    ON public.sla_alerts (request_id, alert_type, escalation_level);
CREATE INDEX IF NOT EXISTS sla_alerts_chat ON public.sla_alerts (chat_id);

-- The delivery history: one row per alert, recipient and channel.
CREATE TABLE IF NOT EXISTS public.alert_deliveries (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_id             uuid NOT NULL REFERENCES public.sla_alerts (id) ON DELETE CASCADE,
    chat_id              bigint,
    channel              text NOT NULL CHECK (channel IN ('telegram', 'email', 'log')),
    recipient            text NOT NULL,
    status               text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'queued', 'sent', 'retrying', 'failed', 'given_up')),
    attempts             integer NOT NULL DEFAULT 0,
    failure_reason       text,
    telegram_message_id  bigint,
    next_attempt_at      timestamptz,
    sent_at              timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    daemon_version       bigint NOT NULL DEFAULT 0,
    UNIQUE (alert_id, channel, recipient)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_chat ON public.alert_deliveries (chat_id);

-- Survey answers (1–5).
CREATE TABLE IF NOT EXISTS public.feedback_responses (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id          bigint NOT NULL REFERENCES public.chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    request_id       uuid REFERENCES public.client_requests (id) ON DELETE SET NULL,
    survey_id        uuid,
    delivery_id      uuid UNIQUE,
    client_username  text,
    rating           integer NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment          text,
    submitted_at     timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.feedback_responses
    ADD COLUMN IF NOT EXISTS campaign text,
    ADD COLUMN IF NOT EXISTS telegram_user_id bigint,
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS daemon_version bigint NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX IF NOT EXISTS feedback_responses_natural
    ON public.feedback_responses (campaign, chat_id, telegram_user_id);

-- Weekly hours of a chat. A day may have several intervals (a lunch
-- break), so the key is (chat, day, start) — the original's (chat, day)
-- allowed one interval a day only.
CREATE TABLE IF NOT EXISTS public.working_schedules (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id      bigint NOT NULL REFERENCES public.chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    day_of_week  integer NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),  -- 1 = Monday
    start_time   time NOT NULL,
    end_time     time NOT NULL,
    is_active    boolean NOT NULL DEFAULT true,
    timezone     text NOT NULL DEFAULT 'Europe/Moscow',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.working_schedules
    DROP CONSTRAINT IF EXISTS working_schedules_chat_id_day_of_week_key,
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;
DROP INDEX IF EXISTS public.working_schedules_chat_id_day_of_week_key;
CREATE UNIQUE INDEX IF NOT EXISTS working_schedules_interval
    ON public.working_schedules (chat_id, day_of_week, start_time);
ALTER TABLE public.working_schedules
    DROP CONSTRAINT IF EXISTS working_schedules_interval_order,
    ADD CONSTRAINT working_schedules_interval_order CHECK (end_time > start_time);

-- Reply templates and FAQ answers (the feedback issue's features).
CREATE TABLE IF NOT EXISTS public.templates (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title        text NOT NULL,
    content      text NOT NULL,
    category     text NOT NULL DEFAULT 'status'
                 CHECK (category IN ('greeting', 'status', 'document_request', 'reminder', 'closing')),
    created_by   uuid REFERENCES public.users (id) ON DELETE SET NULL,
    usage_count  integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.templates
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;
-- `/template NAME` finds a template by its title.
CREATE UNIQUE INDEX IF NOT EXISTS templates_title ON public.templates (title);

CREATE TABLE IF NOT EXISTS public.faq_items (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    question     text NOT NULL,
    answer       text NOT NULL,
    keywords     text[] NOT NULL DEFAULT '{}',
    usage_count  integer NOT NULL DEFAULT 0,
    created_by   uuid REFERENCES public.users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.faq_items
    ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true,
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;
CREATE INDEX IF NOT EXISTS faq_items_keywords ON public.faq_items USING gin (keywords);

-- The firm-wide settings, one row (id 'default'). The original's bot token
-- and API key columns are not created: secrets stay in systemd credentials.
CREATE TABLE IF NOT EXISTS public.global_settings (
    id                       text PRIMARY KEY DEFAULT 'default' CHECK (id = 'default'),
    default_timezone         text NOT NULL DEFAULT 'Europe/Moscow',
    default_working_days     integer[] NOT NULL DEFAULT '{1,2,3,4,5}',
    default_start_time       time NOT NULL DEFAULT '09:00',
    default_end_time         time NOT NULL DEFAULT '18:00',
    default_sla_threshold    integer NOT NULL DEFAULT 60,
    max_escalations          integer NOT NULL DEFAULT 5,
    escalation_interval_min  integer NOT NULL DEFAULT 30,
    sla_warning_percent      integer NOT NULL DEFAULT 80,
    global_manager_ids       text[] NOT NULL DEFAULT '{}',
    lead_notification_ids    text[] NOT NULL DEFAULT '{}',
    message_preview_length   integer NOT NULL DEFAULT 500
                             CHECK (message_preview_length BETWEEN 100 AND 1000),
    data_retention_years     integer NOT NULL DEFAULT 3,
    survey_validity_days     integer NOT NULL DEFAULT 7,
    survey_reminder_day      integer NOT NULL DEFAULT 2,
    low_rating_threshold     integer NOT NULL DEFAULT 3,
    survey_quarter_day       integer NOT NULL DEFAULT 1,
    survey_cooldown_hours    integer NOT NULL DEFAULT 24,
    internal_chat_id         bigint,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.global_settings
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;
INSERT INTO public.global_settings (id) VALUES ('default') ON CONFLICT (id) DO NOTHING;

-- Days off (and, kind 'workday', the production calendar's working
-- Saturdays) for every chat, and per chat.
CREATE TABLE IF NOT EXISTS public.global_holidays (
    id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    date  date NOT NULL UNIQUE,
    name  text NOT NULL DEFAULT '',
    year  integer
);
ALTER TABLE public.global_holidays
    ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'holiday'
        CHECK (kind IN ('holiday', 'workday')),
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;

CREATE TABLE IF NOT EXISTS public.chat_holidays (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id      bigint NOT NULL REFERENCES public.chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    date         date NOT NULL,
    description  text,
    UNIQUE (chat_id, date)
);
ALTER TABLE public.chat_holidays
    ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'holiday'
        CHECK (kind IN ('holiday', 'workday')),
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated_by text;

-- The message log, append-only: one row per message and edit version
-- (0 for the original; the edit's Unix date for an edit).
CREATE TABLE IF NOT EXISTS public.chat_messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id              bigint NOT NULL REFERENCES public.chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    message_id           bigint NOT NULL,
    telegram_user_id     bigint,
    username             text,
    first_name           text,
    last_name            text,
    message_text         text NOT NULL DEFAULT '',
    is_accountant        boolean NOT NULL DEFAULT false,
    reply_to_message_id  bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    telegram_date        timestamptz NOT NULL,
    edit_version         bigint NOT NULL DEFAULT 0,
    message_type         varchar(20) NOT NULL DEFAULT 'text',
    media_file_id        text,
    media_file_name      text,
    caption              text,
    is_bot_outgoing      boolean NOT NULL DEFAULT false,
    deleted_at           timestamptz,
    resolved_request_id  uuid REFERENCES public.client_requests (id) ON DELETE SET NULL,
    UNIQUE (chat_id, message_id, edit_version)
);
ALTER TABLE public.chat_messages
    ADD COLUMN IF NOT EXISTS sender_kind text,
    ADD COLUMN IF NOT EXISTS classification text,
    ADD COLUMN IF NOT EXISTS classification_score double precision,
    ADD COLUMN IF NOT EXISTS daemon_version bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS chat_messages_date ON public.chat_messages (chat_id, telegram_date DESC);

-- Sync bookkeeping.
-- Rows deleted from the tables the daemon pulls, with their old values:
-- deletes reach the daemon through the same cursor as edits.
CREATE TABLE IF NOT EXISTS buhbot.deletions (
    row_version  bigint PRIMARY KEY,
    table_name   text NOT NULL,
    old_row      jsonb NOT NULL,
    deleted_by   text,
    deleted_at   timestamptz NOT NULL DEFAULT now()
);
-- Where each daemon stands: pushed_seq is the last local outbox entry
-- applied here, written in the same transaction as the rows it pushed.
CREATE TABLE IF NOT EXISTS buhbot.sync_positions (
    daemon_id       text PRIMARY KEY,
    pushed_seq      bigint NOT NULL DEFAULT 0,
    pulled_version  bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
