-- 006_migrate_product_data (down): remove the copies of legacy products from spare_parts, and
-- the categories 006 created for them if nothing uses them any more. The legacy public.products
-- table was never touched, so nothing is lost: running 006 again copies the rows again.
DO $rollback$
DECLARE
    removed integer;
    kept integer;
BEGIN
    IF pg_catalog.to_regclass('public.spare_parts') IS NULL THEN
        RETURN;                                   -- 001 is already down: nothing to undo
    END IF;

    -- A copied part that appears in an order cannot go (order_items restricts deletes, and
    -- order history must stay intact): keep it and say so rather than fail the rollback.
    -- Cart lines of removed parts go with them (cart_items cascades).
    IF pg_catalog.to_regclass('public.order_items') IS NULL THEN
        DELETE FROM public.spare_parts AS s WHERE s.legacy_product_id IS NOT NULL;
    ELSE
        DELETE FROM public.spare_parts AS s
        WHERE s.legacy_product_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM public.order_items AS oi WHERE oi.spare_part_id = s.id);
    END IF;
    GET DIAGNOSTICS removed = ROW_COUNT;

    SELECT count(*) INTO kept FROM public.spare_parts WHERE legacy_product_id IS NOT NULL;
    IF kept > 0 THEN
        RAISE WARNING '006 down: kept % migrated parts that are referenced by orders', kept;
    END IF;

    DELETE FROM public.categories AS c
    WHERE c.description = 'Imported from the legacy product catalogue'
      AND NOT EXISTS (SELECT 1 FROM public.spare_parts AS s WHERE s.category_id = c.id);

    RAISE NOTICE '006 down: removed % migrated parts', removed;
END
$rollback$;
