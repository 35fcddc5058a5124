-- 001_create_core_tables: customer profiles, the parts catalogue and its categories.
-- Idempotent: safe to run again on a database where it already ran (no error, no change).
-- Needs the Supabase bootstrap on vanilla PostgreSQL (auth schema, extensions schema, roles).

-- Shared trigger function: keep updated_at honest without trusting clients.
CREATE OR REPLACE FUNCTION public.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- One profile per auth user; deleting the auth user deletes the profile.
CREATE TABLE IF NOT EXISTS public.user_profiles (
    id         uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    full_name  text,
    phone      text,
    role       text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.categories (
    id          uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    slug        text NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.spare_parts (
    id                uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    sku               text NOT NULL UNIQUE,
    name              text NOT NULL,
    description       text,
    category_id       uuid REFERENCES public.categories (id) ON DELETE SET NULL,
    price             numeric(10, 2) NOT NULL CHECK (price >= 0),
    stock             integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    is_active         boolean NOT NULL DEFAULT true,
    -- Set only for rows copied from the legacy public.products table by 006; the unique
    -- constraint is what makes 006 re-runnable (ON CONFLICT (legacy_product_id) DO NOTHING).
    legacy_product_id integer UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE TRIGGER trg_user_profiles_updated_at
    BEFORE UPDATE ON public.user_profiles
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER trg_categories_updated_at
    BEFORE UPDATE ON public.categories
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER trg_spare_parts_updated_at
    BEFORE UPDATE ON public.spare_parts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Indexes.
-- Guide query: SELECT * FROM spare_parts WHERE name ILIKE '%engine%' -- a leading wildcard
-- cannot use a btree; a trigram GIN index can.
CREATE INDEX IF NOT EXISTS idx_spare_parts_name_trgm
    ON public.spare_parts USING gin (name extensions.gin_trgm_ops);
-- Foreign keys get covering indexes (deletes on categories would scan spare_parts otherwise).
CREATE INDEX IF NOT EXISTS idx_spare_parts_category_id ON public.spare_parts (category_id);
-- (user_profiles.id is its own primary key, so that foreign key is already covered.)

-- A few categories the shop starts with. Existing rows (same name or slug) are left alone.
INSERT INTO public.categories (name, slug, description) VALUES
    ('Engine',     'engine',     'Engine components: gaskets, pistons, timing parts'),
    ('Brakes',     'brakes',     'Brake pads, discs, calipers and hoses'),
    ('Filters',    'filters',    'Oil, air, fuel and cabin filters'),
    ('Suspension', 'suspension', 'Shock absorbers, springs, control arms'),
    ('Electrical', 'electrical', 'Batteries, alternators, starters, sensors'),
    ('Lighting',   'lighting',   'Headlamps, bulbs and tail lights')
ON CONFLICT DO NOTHING;

-- Privileges: the same grants Supabase's default privileges give, stated here so the migration
-- does not depend on which role ran the bootstrap. Row-level security decides which rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE
    public.user_profiles, public.categories, public.spare_parts
    TO anon, authenticated, service_role;
-- Customers may edit their name and phone, never their role: column-level UPDATE only.
REVOKE UPDATE ON TABLE public.user_profiles FROM anon, authenticated;
GRANT UPDATE (full_name, phone) ON TABLE public.user_profiles TO authenticated;

-- Row-level security.
ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.spare_parts ENABLE ROW LEVEL SECURITY;

-- The catalogue is public: anyone may browse categories and active parts. No write policies:
-- writes come from service_role (bypasses RLS) or the table owner.
DROP POLICY IF EXISTS "categories_select_public" ON public.categories;
CREATE POLICY "categories_select_public" ON public.categories
    FOR SELECT TO anon, authenticated
    USING (true);

DROP POLICY IF EXISTS "spare_parts_select_active" ON public.spare_parts;
CREATE POLICY "spare_parts_select_active" ON public.spare_parts
    FOR SELECT TO anon, authenticated
    USING (is_active);

-- A signed-in user sees and edits only their own profile.
DROP POLICY IF EXISTS "user_profiles_select_own" ON public.user_profiles;
CREATE POLICY "user_profiles_select_own" ON public.user_profiles
    FOR SELECT TO authenticated
    USING (auth.uid() = id);

DROP POLICY IF EXISTS "user_profiles_update_own" ON public.user_profiles;
CREATE POLICY "user_profiles_update_own" ON public.user_profiles
    FOR UPDATE TO authenticated
    USING (auth.uid() = id)
    WITH CHECK (auth.uid() = id);
