-- 007_enable_realtime (down): take the three tables out of supabase_realtime (the publication
-- itself belongs to Supabase/the bootstrap and stays) and restore the default replica identity.
DO $realtime$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['orders', 'messages', 'notifications'] LOOP
        IF EXISTS (
            SELECT 1
            FROM pg_catalog.pg_publication_rel AS pr
            JOIN pg_catalog.pg_publication AS p ON p.oid = pr.prpubid
            WHERE p.pubname = 'supabase_realtime'
              AND pr.prrelid = pg_catalog.to_regclass(format('public.%I', tbl))
        ) THEN
            EXECUTE format('ALTER PUBLICATION supabase_realtime DROP TABLE public.%I', tbl);
        END IF;
    END LOOP;

    IF pg_catalog.to_regclass('public.notifications') IS NOT NULL THEN
        ALTER TABLE public.notifications REPLICA IDENTITY DEFAULT;
    END IF;
END
$realtime$;
