-- supabase_compat.sql: give vanilla PostgreSQL what a Supabase database already has, so that
-- Supabase-style migrations (RLS policies for anon/authenticated, auth.uid(), extensions.*,
-- the supabase_realtime publication) run unchanged.
--
-- Facts are taken from Supabase's published schemas and written here in our own SQL:
--   [pg]  supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql (roles,
--         extensions schema, default privileges), 00000000000001-auth-schema.sql (auth schema,
--         auth.uid()/role()/email(), supabase_auth_admin), 00000000000002-storage-schema.sql
--         (storage schema, supabase_storage_admin);
--   [auth] supabase/auth migrations/ (GoTrue's auth.users columns as they are today);
--   [storage] supabase/storage migrations/tenant/0002-storage-schema.sql and later tenant
--         migrations (storage.buckets, storage.objects, foldername/filename/extension).
--
-- Run by `dbmigrator bootstrap`, which first checks that the database is not a real Supabase
-- one (auth.schema_migrations or storage.migrations, the auth and storage services' own
-- bookkeeping, which this file never creates) and skips it if it is. Rules this file follows:
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
    -- The service roles migrations grant to [pg]: the platform's admin, GoTrue's and Storage's
    -- owners of the auth and storage schemas, and the dashboard's role. No passwords here, and
    -- no attributes (on Supabase supabase_admin is a superuser, the admins may CREATEROLE):
    -- migrations only grant to them, and a non-superuser running this could not set them.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'supabase_admin') THEN
        CREATE ROLE supabase_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        CREATE ROLE supabase_auth_admin NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'supabase_storage_admin') THEN
        CREATE ROLE supabase_storage_admin NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dashboard_user') THEN
        CREATE ROLE dashboard_user NOLOGIN;
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

-- 2. Extensions live in their own schema (Supabase keeps public clean) and that schema is on
-- the database's search_path, as on Supabase ("$user", public, extensions): function bodies
-- are checked at CREATE time, so gen_random_bytes() & co. must resolve unqualified. Takes effect
-- for sessions started afterwards (each migration run connects anew). ----------------------
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

DO $bootstrap$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_db_role_setting s
        JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = current_database() AND s.setrole = 0
          AND 'search_path="$user", public, extensions' = ANY (s.setconfig)
    ) THEN
        EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, extensions',
                       current_database());
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

    -- auth.users with GoTrue's columns [auth] (the 00000000000001 init script [pg] has the
    -- original subset; GoTrue's own migrations added phone, confirmation, SSO and anonymous
    -- sign-in columns since). Migrations and seeds read and write these; triggers such as
    -- "on auth.users insert -> public.profiles" use raw_user_meta_data. `id` keeps a default
    -- here (GoTrue supplies ids itself) so seeds may omit it.
    IF pg_catalog.to_regclass('auth.users') IS NULL THEN
        CREATE TABLE auth.users (
            instance_id                 uuid,
            id                          uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
            aud                         varchar(255),
            role                        varchar(255),
            email                       varchar(255) UNIQUE,
            encrypted_password          varchar(255),
            email_confirmed_at          timestamptz,
            invited_at                  timestamptz,
            confirmation_token          varchar(255),
            confirmation_sent_at        timestamptz,
            recovery_token              varchar(255),
            recovery_sent_at            timestamptz,
            email_change_token_new      varchar(255),
            email_change                varchar(255),
            email_change_sent_at        timestamptz,
            last_sign_in_at             timestamptz,
            raw_app_meta_data           jsonb,
            raw_user_meta_data          jsonb,
            is_super_admin              boolean,
            created_at                  timestamptz DEFAULT now(),
            updated_at                  timestamptz,
            phone                       text UNIQUE,
            phone_confirmed_at          timestamptz,
            phone_change                text DEFAULT '',
            phone_change_token          varchar(255) DEFAULT '',
            phone_change_sent_at        timestamptz,
            confirmed_at                timestamptz
                GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
            email_change_token_current  varchar(255) DEFAULT '',
            email_change_confirm_status smallint DEFAULT 0,
            banned_until                timestamptz,
            reauthentication_token      varchar(255) DEFAULT '',
            reauthentication_sent_at    timestamptz,
            is_sso_user                 boolean NOT NULL DEFAULT false,
            deleted_at                  timestamptz,
            is_anonymous                boolean NOT NULL DEFAULT false
        );
    END IF;
END
$bootstrap$;

-- A database bootstrapped by an earlier dbmigrator has the four-column auth.users: add the
-- missing columns only (ALTER TABLE needs ownership even when it would change nothing, and on
-- a platform-owned auth.users the role running this has none).
DO $bootstrap$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY[
        'instance_id uuid',
        'aud varchar(255)',
        'role varchar(255)',
        'encrypted_password varchar(255)',
        'email_confirmed_at timestamptz',
        'invited_at timestamptz',
        'confirmation_token varchar(255)',
        'confirmation_sent_at timestamptz',
        'recovery_token varchar(255)',
        'recovery_sent_at timestamptz',
        'email_change_token_new varchar(255)',
        'email_change varchar(255)',
        'email_change_sent_at timestamptz',
        'last_sign_in_at timestamptz',
        'raw_app_meta_data jsonb',
        'raw_user_meta_data jsonb',
        'is_super_admin boolean',
        'updated_at timestamptz',
        'phone text',
        'phone_confirmed_at timestamptz',
        'phone_change text DEFAULT ''',
        'phone_change_token varchar(255) DEFAULT ''',
        'phone_change_sent_at timestamptz',
        'email_change_token_current varchar(255) DEFAULT ''',
        'email_change_confirm_status smallint DEFAULT 0',
        'banned_until timestamptz',
        'reauthentication_token varchar(255) DEFAULT ''',
        'reauthentication_sent_at timestamptz',
        'is_sso_user boolean NOT NULL DEFAULT false',
        'deleted_at timestamptz',
        'is_anonymous boolean NOT NULL DEFAULT false'
    ] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_attribute
            WHERE attrelid = 'auth.users'::regclass AND NOT attisdropped
              AND attname = split_part(col, ' ', 1)
        ) THEN
            EXECUTE 'ALTER TABLE auth.users ADD COLUMN ' || col;
        END IF;
    END LOOP;
END
$bootstrap$;

DO $bootstrap$
BEGIN
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
    IF pg_catalog.to_regprocedure('auth.email()') IS NULL THEN
        CREATE FUNCTION auth.email() RETURNS text
            LANGUAGE sql STABLE
            AS $fn$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.email', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
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
        FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.email()', 'auth.jwt()'] LOOP
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

-- 7. Storage [storage]: the schema, buckets and objects (RLS on: policies on storage.objects
-- are how projects say who may read and upload files) and the path helpers policies call.
-- Columns as the storage service's tenant migrations leave them (public, limits, mime types,
-- owner_id, path_tokens, version, user_metadata added after 0002).
DO $bootstrap$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'storage') THEN
        CREATE SCHEMA storage;
    END IF;
    IF pg_catalog.to_regclass('storage.buckets') IS NULL THEN
        CREATE TABLE storage.buckets (
            id                 text NOT NULL PRIMARY KEY,
            name               text NOT NULL,
            owner              uuid,
            created_at         timestamptz DEFAULT now(),
            updated_at         timestamptz DEFAULT now(),
            public             boolean DEFAULT false,
            avif_autodetection boolean DEFAULT false,
            file_size_limit    bigint,
            allowed_mime_types text[],
            owner_id           text
        );
        CREATE UNIQUE INDEX bname ON storage.buckets USING btree (name);
    END IF;
    IF pg_catalog.to_regclass('storage.objects') IS NULL THEN
        CREATE TABLE storage.objects (
            id               uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
            bucket_id        text REFERENCES storage.buckets (id),
            name             text,
            owner            uuid,
            created_at       timestamptz DEFAULT now(),
            updated_at       timestamptz DEFAULT now(),
            last_accessed_at timestamptz DEFAULT now(),
            metadata         jsonb,
            path_tokens      text[] GENERATED ALWAYS AS (string_to_array(name, '/')) STORED,
            version          text,
            owner_id         text,
            user_metadata    jsonb
        );
        CREATE UNIQUE INDEX bucketid_objname ON storage.objects USING btree (bucket_id, name);
        CREATE INDEX name_prefix_search ON storage.objects USING btree (name text_pattern_ops);
    END IF;
    -- 'a/b/c.png' -> {a,b}; -> 'c.png'; -> 'png' (the text after the file name's last dot,
    -- the whole name when it has none, as the storage service's own functions answer).
    IF pg_catalog.to_regprocedure('storage.foldername(text)') IS NULL THEN
        CREATE FUNCTION storage.foldername(name text) RETURNS text[]
            LANGUAGE sql IMMUTABLE
            AS $fn$
                SELECT parts[1:pg_catalog.array_length(parts, 1) - 1]
                FROM (SELECT pg_catalog.string_to_array(name, '/') AS parts) p
            $fn$;
    END IF;
    IF pg_catalog.to_regprocedure('storage.filename(text)') IS NULL THEN
        CREATE FUNCTION storage.filename(name text) RETURNS text
            LANGUAGE sql IMMUTABLE
            AS $fn$
                SELECT parts[pg_catalog.array_length(parts, 1)]
                FROM (SELECT pg_catalog.string_to_array(name, '/') AS parts) p
            $fn$;
    END IF;
    IF pg_catalog.to_regprocedure('storage.extension(text)') IS NULL THEN
        CREATE FUNCTION storage.extension(name text) RETURNS text
            LANGUAGE sql IMMUTABLE
            AS $fn$
                SELECT pg_catalog.reverse(pg_catalog.split_part(pg_catalog.reverse(
                    parts[pg_catalog.array_length(parts, 1)]), '.', 1))
                FROM (SELECT pg_catalog.string_to_array(name, '/') AS parts) p
            $fn$;
    END IF;
END
$bootstrap$;

DO $bootstrap$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'storage.objects'::regclass) THEN
        ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
    END IF;
    IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'storage.buckets'::regclass) THEN
        ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
    END IF;
END
$bootstrap$;

-- 8. Grants as Supabase sets them [pg][storage]: the API roles use storage (RLS decides the
-- rows); GoTrue's and Storage's admins own their schemas' privileges; dashboard_user manages
-- auth, storage and extensions. Only what is missing, and only on objects the role running
-- this owns (or is a member of the owner of): a platform's objects are left as they are.
DO $bootstrap$
DECLARE
    api_role text;
    schema_name text;
    owns_storage boolean := pg_catalog.pg_has_role(current_user, (
        SELECT relowner FROM pg_catalog.pg_class WHERE oid = 'storage.objects'::regclass), 'MEMBER');
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_catalog.has_schema_privilege(api_role, 'storage', 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA storage TO %I', api_role);
        END IF;
        IF owns_storage AND (
            NOT pg_catalog.has_table_privilege(api_role, 'storage.objects', 'SELECT,INSERT,UPDATE,DELETE')
            OR NOT pg_catalog.has_table_privilege(api_role, 'storage.buckets', 'SELECT,INSERT,UPDATE,DELETE')) THEN
            EXECUTE format('GRANT ALL ON TABLE storage.objects, storage.buckets TO %I', api_role);
        END IF;
    END LOOP;
    FOREACH schema_name IN ARRAY ARRAY['auth', 'storage', 'extensions'] LOOP
        IF NOT pg_catalog.pg_has_role(current_user, (
            SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = schema_name), 'MEMBER') THEN
            CONTINUE;
        END IF;
        IF NOT pg_catalog.has_schema_privilege('dashboard_user', schema_name, 'CREATE') THEN
            EXECUTE format('GRANT ALL ON SCHEMA %I TO dashboard_user', schema_name);
        END IF;
        IF schema_name = 'auth'
           AND NOT pg_catalog.has_schema_privilege('supabase_auth_admin', 'auth', 'CREATE') THEN
            GRANT ALL ON SCHEMA auth TO supabase_auth_admin;
        END IF;
        IF schema_name = 'storage'
           AND NOT pg_catalog.has_schema_privilege('supabase_storage_admin', 'storage', 'CREATE') THEN
            GRANT ALL ON SCHEMA storage TO supabase_storage_admin WITH GRANT OPTION;
        END IF;
    END LOOP;
    IF pg_catalog.pg_has_role(current_user, (
        SELECT relowner FROM pg_catalog.pg_class WHERE oid = 'auth.users'::regclass), 'MEMBER')
       AND NOT pg_catalog.has_table_privilege('supabase_auth_admin', 'auth.users', 'SELECT,INSERT,UPDATE,DELETE') THEN
        GRANT ALL ON TABLE auth.users TO supabase_auth_admin;
    END IF;
    IF owns_storage
       AND NOT pg_catalog.has_table_privilege('supabase_storage_admin', 'storage.objects', 'SELECT,INSERT,UPDATE,DELETE') THEN
        GRANT ALL ON TABLE storage.objects, storage.buckets TO supabase_storage_admin;
    END IF;
    -- supabase_admin administers the API roles [pg] (needs ADMIN on them: a superuser has it).
    IF NOT pg_catalog.pg_has_role('supabase_admin', 'service_role', 'MEMBER')
       AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        GRANT anon, authenticated, service_role TO supabase_admin;
    END IF;
END
$bootstrap$;
