-- PLACEHOLDER (pg-connect branch): replaced by the real functions at merge.
CREATE FUNCTION public.buhbot_placeholder() RETURNS integer LANGUAGE sql AS 'SELECT 1';
