-- 007_enable_realtime: stream notifications, messages and orders to clients through Supabase
-- Realtime, which follows the tables of the publication supabase_realtime.
-- Idempotent: ALTER PUBLICATION … ADD TABLE fails if the table is already a member, so each
-- table is added only when pg_publication_tables does not list it yet.

DO $realtime$
DECLARE
    tbl text;
BEGIN
    -- Supabase and the bootstrap create the publication; create it if this database lacks it.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;

    FOREACH tbl IN ARRAY ARRAY['notifications', 'messages', 'orders'] LOOP
        -- pg_publication_tables also lists tables of a FOR ALL TABLES publication, so such a
        -- publication is left alone too.
        IF NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_publication_tables
            WHERE pubname = 'supabase_realtime' AND schemaname = 'public' AND tablename = tbl
        ) THEN
            EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE public.%I', tbl);
        END IF;
    END LOOP;
END
$realtime$;

-- Realtime sends the old row on UPDATE/DELETE only with REPLICA IDENTITY FULL; clients need
-- it for notifications (to tell "marked read" from "new").
ALTER TABLE public.notifications REPLICA IDENTITY FULL;
