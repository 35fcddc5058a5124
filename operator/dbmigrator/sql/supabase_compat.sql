-- supabase_compat.sql: give vanilla PostgreSQL what a Supabase database already has, so that
-- Supabase-style migrations (RLS policies for anon/authenticated, auth.uid(), extensions.*,
-- the supabase_realtime publication) run unchanged.
--
-- Run by `dbmigrator bootstrap`. Rules this file follows:
--   * idempotent: every object is created only when a catalog lookup says it is missing;
--   * safe on a real Supabase database, where all of this exists already and much of it is owned
--     by supabase_admin: nothing is replaced (no CREATE OR REPLACE over auth functions), and
--     grants are only issued when the privilege is missing (a GRANT on an object we have no
--     rights on would be an error even if it changed nothing);
--   * no BEGIN/COMMIT: the caller wraps the file in one transaction.

-- 1. API roles ----------------------------------------------------------------------------------
-- PostgREST switches to anon/authenticated per request; service_role bypasses RLS; authenticator
-- is the login role PostgREST connects as (no password here: set one out of band if needed).
DO $bootstrap$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
END
$bootstrap$;

-- authenticator must be able to SET ROLE to each API role. Only grant what is missing.
DO $bootstrap$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (
            SELECT 1
            FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
            JOIN pg_catalog.pg_roles u ON u.oid = m.member
            WHERE r.rolname = api_role AND u.rolname = 'authenticator'
        ) THEN
            EXECUTE format('GRANT %I TO authenticator', api_role);
        END IF;
    END LOOP;
END
$bootstrap$;

-- The role running migrations and validation probes must be able to SET ROLE anon/authenticated
-- (and service_role). A superuser already can; on Supabase `postgres` is already a member.
DO $bootstrap$
DECLARE
    api_role text;
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_catalog.pg_has_role(current_user, api_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', api_role, current_user);
        END IF;
    END LOOP;
END
$bootstrap$;

-- 2. Extensions live in their own schema (Supabase keeps public clean) --------------------------
DO $bootstrap$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'extensions') THEN
        CREATE SCHEMA extensions;
    END IF;
    -- If an extension is already installed elsewhere (e.g. in public) it is left where it is:
    -- moving it could break existing objects that reference it.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'uuid-ossp') THEN
        CREATE EXTENSION "uuid-ossp" WITH SCHEMA extensions;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto') THEN
        CREATE EXTENSION pgcrypto WITH SCHEMA extensions;
    END IF;
    -- pg_trgm: trigram GIN indexes for ILIKE '%…%' catalogue search.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE EXTENSION pg_trgm WITH SCHEMA extensions;
    END IF;
END
$bootstrap$;

-- 3. Schema usage for the API roles -------------------------------------------------------------
DO $bootstrap$
DECLARE
    api_role text;
    schema_name text;
BEGIN
    FOREACH schema_name IN ARRAY ARRAY['public', 'extensions'] LOOP
        FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
            IF NOT pg_catalog.has_schema_privilege(api_role, schema_name, 'USAGE') THEN
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', schema_name, api_role);
            END IF;
        END LOOP;
    END LOOP;
END
$bootstrap$;

-- 4. Default privileges, as Supabase sets them: tables created later in public (by the role
-- running this file, i.e. the migration role) are readable/writable by the API roles at the
-- privilege level, and row-level security decides which rows. Re-running is a no-op.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role;

-- 5. auth schema: the minimum of GoTrue's schema that migrations reference --------------------
DO $bootstrap$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'auth') THEN
        CREATE SCHEMA auth;
    END IF;

    -- Real Supabase has a much wider auth.users; migrations only rely on id (and sometimes email
    -- and raw_user_meta_data).
    IF pg_catalog.to_regclass('auth.users') IS NULL THEN
        CREATE TABLE auth.users (
            id                 uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
            email              text UNIQUE,
            raw_user_meta_data jsonb DEFAULT '{}'::jsonb,
            created_at         timestamptz DEFAULT now()
        );
    END IF;

    -- JWT helpers in the same shape as Supabase's: PostgREST sets request.jwt.claims (newer) or
    -- request.jwt.claim.* (older) per transaction. nullif() because a placeholder GUC that was
    -- once set reads back as '' afterwards. Plain `language sql stable` without SET clauses so
    -- the planner can inline them into RLS policies; every name in them resolves in pg_catalog.
    IF pg_catalog.to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE
            AS $fn$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
            $fn$;
    END IF;
    IF pg_catalog.to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text
            LANGUAGE sql STABLE
            AS $fn$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
                )::text
            $fn$;
    END IF;
    IF pg_catalog.to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb
            LANGUAGE sql STABLE
            AS $fn$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $fn$;
    END IF;
END
$bootstrap$;

-- API roles may resolve and call the helpers (RLS policies call them as anon/authenticated).
-- auth.users itself stays private to the owner, as on Supabase.
DO $bootstrap$
DECLARE
    api_role text;
    fn text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_catalog.has_schema_privilege(api_role, 'auth', 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA auth TO %I', api_role);
        END IF;
        FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.jwt()'] LOOP
            IF NOT pg_catalog.has_function_privilege(api_role, fn, 'EXECUTE') THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, api_role);
            END IF;
        END LOOP;
    END LOOP;
END
$bootstrap$;

-- 6. Realtime: Supabase's realtime server streams the tables of this publication. It starts
-- empty; migrations add tables to it.
DO $bootstrap$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$bootstrap$;
