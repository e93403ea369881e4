-- PLACEHOLDER (pg-connect branch): replaced by the real schema at merge.
CREATE TABLE public.chats (id bigint PRIMARY KEY, title text);
