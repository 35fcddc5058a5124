-- 008_create_admin_roles (down): the table first (its policies call the function), then the
-- function.
DROP TABLE IF EXISTS public.admin_roles;
DROP FUNCTION IF EXISTS public.has_admin_permission(text);
