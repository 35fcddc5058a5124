-- 001_create_core_tables (down): drop what 001 created, children before parents.
-- Dropping a table drops its indexes, triggers, policies and grants with it. No CASCADE: if
-- something outside these migrations depends on a table, fail rather than silently drop it.
-- The auth/extensions objects belong to the bootstrap and are not touched.
DROP TABLE IF EXISTS public.spare_parts;
DROP TABLE IF EXISTS public.categories;
DROP TABLE IF EXISTS public.user_profiles;
-- Last user of set_updated_at is gone once 002..005 are down too.
DROP FUNCTION IF EXISTS public.set_updated_at();
