-- 006_migrate_product_data: copy the legacy catalogue (public.products, from before these
-- migrations) into public.spare_parts.
--   * no-op when public.products does not exist (fresh installs);
--   * the legacy table is never dropped or changed: the old application can keep reading it
--     until it is retired, and the copy can be redone;
--   * re-runnable: rows already copied are skipped through the unique legacy_product_id.
-- Mapping: title -> name, price_cents / 100 -> price, category text -> categories (matched by
-- name, case-insensitively; missing ones are created), id -> legacy_product_id.

DO $migrate$
DECLARE
    created_categories integer;
    copied integer;
    not_copied integer;
BEGIN
    IF pg_catalog.to_regclass('public.products') IS NULL THEN
        RAISE NOTICE '006: no legacy public.products table, nothing to migrate';
        RETURN;
    END IF;

    -- Categories the legacy rows use but the shop does not have yet. The description marks them
    -- as created here, which is how the down file recognises them.
    INSERT INTO public.categories (name, slug, description)
    SELECT DISTINCT ON (lower(btrim(p.category)))
           btrim(p.category),
           btrim(regexp_replace(lower(btrim(p.category)), '[^a-z0-9]+', '-', 'g'), '-'),
           'Imported from the legacy product catalogue'
    FROM public.products AS p
    WHERE nullif(btrim(p.category), '') IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM public.categories AS c
          WHERE lower(c.name) = lower(btrim(p.category))
      )
    ORDER BY lower(btrim(p.category)), p.category
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS created_categories = ROW_COUNT;

    -- Normalised legacy rows. Legacy SKUs were not unique: a repeated SKU keeps its value on the
    -- oldest row and gets "-<legacy id>" appended on the others, so every product moves.
    WITH normalised AS (
        SELECT p.id,
               coalesce(nullif(btrim(p.sku), ''), 'LEGACY-' || p.id) AS sku,
               coalesce(nullif(btrim(p.title), ''), 'Legacy product ' || p.id) AS name,
               nullif(btrim(p.category), '') AS category,
               round(coalesce(p.price_cents, 0) / 100.0, 2) AS price,
               greatest(coalesce(p.stock, 0), 0) AS stock,
               coalesce(p.created_at, now()) AS created_at
        FROM public.products AS p
    ), legacy AS (
        SELECT n.id,
               CASE WHEN row_number() OVER (PARTITION BY n.sku ORDER BY n.id) = 1 THEN n.sku
                    ELSE n.sku || '-' || n.id END AS sku,
               n.name, n.category, n.price, n.stock, n.created_at
        FROM normalised AS n
    )
    INSERT INTO public.spare_parts
        (sku, name, category_id, price, stock, is_active, legacy_product_id, created_at)
    SELECT l.sku, l.name, c.id, l.price, l.stock, true, l.id, l.created_at
    FROM legacy AS l
    -- Exactly one category per row, even if names differ only by case (prefer the exact match).
    LEFT JOIN LATERAL (
        SELECT cat.id FROM public.categories AS cat
        WHERE lower(cat.name) = lower(l.category)
        ORDER BY cat.name = l.category DESC, cat.created_at, cat.id
        LIMIT 1
    ) AS c ON true
    -- A legacy SKU that the new catalogue already uses for another part is not copied (it would
    -- violate spare_parts.sku); it is reported below instead of failing the whole migration.
    WHERE NOT EXISTS (SELECT 1 FROM public.spare_parts AS s WHERE s.sku = l.sku)
    ORDER BY l.id
    ON CONFLICT (legacy_product_id) DO NOTHING;
    GET DIAGNOSTICS copied = ROW_COUNT;

    SELECT count(*) INTO not_copied
    FROM public.products AS p
    WHERE NOT EXISTS (SELECT 1 FROM public.spare_parts AS s WHERE s.legacy_product_id = p.id);

    RAISE NOTICE '006: copied % legacy products, created % categories', copied, created_categories;
    IF not_copied > 0 THEN
        RAISE WARNING '006: % legacy products not copied: their SKU is already used in spare_parts',
            not_copied;
    END IF;
END
$migrate$;
