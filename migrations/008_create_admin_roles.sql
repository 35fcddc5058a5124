-- 008_create_admin_roles: back-office roles and the permission check used by policies.
-- Idempotent: safe to run again (no error, no change).

CREATE TABLE IF NOT EXISTS public.admin_roles (
    user_id     uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('super_admin', 'admin', 'support')),
    permissions text[] NOT NULL DEFAULT '{}',   -- e.g. {manage_admins, manage_orders}
    granted_at  timestamptz NOT NULL DEFAULT now(),
    granted_by  uuid REFERENCES auth.users (id) ON DELETE SET NULL
);

CREATE INDEX IF NOT EXISTS idx_admin_roles_granted_by ON public.admin_roles (granted_by);

-- Does the current user (auth.uid()) hold a permission? super_admin holds all of them.
-- SECURITY DEFINER so it reads admin_roles as the table owner: called from a policy ON
-- admin_roles itself it would otherwise recurse into that policy. The fixed search_path keeps
-- a caller's objects from being picked up by the definer.
CREATE OR REPLACE FUNCTION public.has_admin_permission(permission text)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM public.admin_roles AS ar
        WHERE ar.user_id = auth.uid()
          AND (ar.role = 'super_admin' OR has_admin_permission.permission = ANY (ar.permissions))
    );
$$;

-- Privileges as Supabase grants them by default; RLS below decides the rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.admin_roles
    TO anon, authenticated, service_role;

ALTER TABLE public.admin_roles ENABLE ROW LEVEL SECURITY;

-- Everyone signed in can see whether they are an admin; anon sees nothing.
DROP POLICY IF EXISTS "admin_roles_select_own" ON public.admin_roles;
CREATE POLICY "admin_roles_select_own" ON public.admin_roles
    FOR SELECT TO authenticated
    USING (auth.uid() = user_id);

-- Admins with manage_admins read and change every row.
DROP POLICY IF EXISTS "admin_roles_manage" ON public.admin_roles;
CREATE POLICY "admin_roles_manage" ON public.admin_roles
    FOR ALL TO authenticated
    USING (public.has_admin_permission('manage_admins'))
    WITH CHECK (public.has_admin_permission('manage_admins'));
