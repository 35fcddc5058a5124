-- 002_create_order_system: orders, their line items and the shopping cart.
-- Idempotent: safe to run again (no error, no change).

CREATE TABLE IF NOT EXISTS public.orders (
    id         uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    -- Orders are business records: they outlive a deleted account (user_id becomes NULL).
    user_id    uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    status     text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'paid', 'processing', 'shipped', 'delivered',
                                 'cancelled', 'refunded')),
    total      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.order_items (
    id            uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    order_id      uuid NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
    -- RESTRICT: a part that was sold cannot disappear from order history.
    spare_part_id uuid NOT NULL REFERENCES public.spare_parts (id) ON DELETE RESTRICT,
    quantity      integer NOT NULL CHECK (quantity > 0),
    unit_price    numeric(10, 2) NOT NULL CHECK (unit_price >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.cart_items (
    id            uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    spare_part_id uuid NOT NULL REFERENCES public.spare_parts (id) ON DELETE CASCADE,
    quantity      integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- One cart line per part; this unique index also covers the user_id foreign key.
    CONSTRAINT cart_items_user_id_spare_part_id_key UNIQUE (user_id, spare_part_id)
);

CREATE OR REPLACE TRIGGER trg_orders_updated_at
    BEFORE UPDATE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER trg_cart_items_updated_at
    BEFORE UPDATE ON public.cart_items
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Indexes.
-- Guide query: SELECT * FROM orders WHERE user_id = '…' (also covers the FK).
CREATE INDEX IF NOT EXISTS idx_orders_user_id ON public.orders (user_id);
CREATE INDEX IF NOT EXISTS idx_order_items_order_id ON public.order_items (order_id);
CREATE INDEX IF NOT EXISTS idx_order_items_spare_part_id ON public.order_items (spare_part_id);
CREATE INDEX IF NOT EXISTS idx_cart_items_spare_part_id ON public.cart_items (spare_part_id);

-- Sum of the order's lines. SECURITY INVOKER (the default): callers only see totals of orders
-- RLS lets them see. The parameter is qualified with the function name because a bare
-- `order_id` would mean the order_items column.
CREATE OR REPLACE FUNCTION public.calculate_order_total(order_id uuid)
RETURNS numeric
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(sum(oi.quantity * oi.unit_price), 0)::numeric
    FROM public.order_items AS oi
    WHERE oi.order_id = calculate_order_total.order_id;
$$;

-- Privileges as Supabase grants them by default; RLS below decides the rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE
    public.orders, public.order_items, public.cart_items
    TO anon, authenticated, service_role;

-- Row-level security. There is deliberately no policy for anon: anonymous visitors see no
-- orders, items or carts (queries return no rows).
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.order_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.cart_items ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "orders_select_own" ON public.orders;
CREATE POLICY "orders_select_own" ON public.orders
    FOR SELECT TO authenticated
    USING (auth.uid() = user_id);

-- Customers place orders for themselves, always as 'pending'; status changes come from the
-- payment trigger (004) or service_role.
DROP POLICY IF EXISTS "orders_insert_own" ON public.orders;
CREATE POLICY "orders_insert_own" ON public.orders
    FOR INSERT TO authenticated
    WITH CHECK (auth.uid() = user_id AND status = 'pending');

-- Items are visible through their order.
DROP POLICY IF EXISTS "order_items_select_own" ON public.order_items;
CREATE POLICY "order_items_select_own" ON public.order_items
    FOR SELECT TO authenticated
    USING (EXISTS (
        SELECT 1 FROM public.orders AS o
        WHERE o.id = order_items.order_id AND o.user_id = auth.uid()
    ));

-- Items can be added to one's own pending order, at the catalogue price.
DROP POLICY IF EXISTS "order_items_insert_own" ON public.order_items;
CREATE POLICY "order_items_insert_own" ON public.order_items
    FOR INSERT TO authenticated
    WITH CHECK (
        EXISTS (
            SELECT 1 FROM public.orders AS o
            WHERE o.id = order_items.order_id
              AND o.user_id = auth.uid()
              AND o.status = 'pending'
        )
        AND unit_price = (
            SELECT sp.price FROM public.spare_parts AS sp WHERE sp.id = order_items.spare_part_id
        )
    );

-- The cart is fully managed by its owner.
DROP POLICY IF EXISTS "cart_items_all_own" ON public.cart_items;
CREATE POLICY "cart_items_all_own" ON public.cart_items
    FOR ALL TO authenticated
    USING (auth.uid() = user_id)
    WITH CHECK (auth.uid() = user_id);
