-- PLACEHOLDER (pg-connect branch): replaced by the real RLS policies at merge.
ALTER TABLE public.chats ENABLE ROW LEVEL SECURITY;
