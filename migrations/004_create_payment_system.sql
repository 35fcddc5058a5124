-- 004_create_payment_system: payments and refunds, and the trigger that marks orders paid.
-- Idempotent: safe to run again (no error, no change).

CREATE TABLE IF NOT EXISTS public.payments (
    id           uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    -- RESTRICT: an order with payments cannot be deleted (money moved).
    order_id     uuid NOT NULL REFERENCES public.orders (id) ON DELETE RESTRICT,
    amount       numeric(12, 2) NOT NULL CHECK (amount >= 0),
    currency     char(3) NOT NULL DEFAULT 'EUR',
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled', 'refunded')),
    provider     text NOT NULL,                  -- e.g. 'stripe'
    provider_ref text UNIQUE,                    -- the provider's payment id: one row per payment
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.refunds (
    id           uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    payment_id   uuid NOT NULL REFERENCES public.payments (id) ON DELETE RESTRICT,
    amount       numeric(12, 2) NOT NULL CHECK (amount > 0),
    reason       text,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_ref text UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE TRIGGER trg_payments_updated_at
    BEFORE UPDATE ON public.payments
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER trg_refunds_updated_at
    BEFORE UPDATE ON public.refunds
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Indexes on the foreign keys ("payments of this order", "refunds of this payment").
CREATE INDEX IF NOT EXISTS idx_payments_order_id ON public.payments (order_id);
CREATE INDEX IF NOT EXISTS idx_refunds_payment_id ON public.refunds (payment_id);
-- Back-office lists by status.
CREATE INDEX IF NOT EXISTS idx_payments_status ON public.payments (status);

-- When a payment becomes 'succeeded', its order becomes 'paid'. SECURITY DEFINER because the
-- payment is usually written by the payment webhook (service_role) but customers have no UPDATE
-- policy on orders; the function only ever touches the one order of the payment.
CREATE OR REPLACE FUNCTION public.mark_order_paid()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF NEW.status = 'succeeded'
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'succeeded') THEN
        UPDATE public.orders
           SET status = 'paid'
         WHERE id = NEW.order_id
           AND status = 'pending';   -- never move a shipped/cancelled order backwards
    END IF;
    RETURN NULL;                     -- AFTER trigger: return value ignored
END;
$$;

CREATE OR REPLACE TRIGGER trg_payments_mark_order_paid
    AFTER INSERT OR UPDATE OF status ON public.payments
    FOR EACH ROW EXECUTE FUNCTION public.mark_order_paid();

-- Privileges as Supabase grants them by default; RLS below decides the rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.payments, public.refunds
    TO anon, authenticated, service_role;

-- Row-level security: customers read payments/refunds of their own orders; writes come from
-- service_role (the payment webhook), which bypasses RLS. No anon policies.
ALTER TABLE public.payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.refunds ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "payments_select_own_orders" ON public.payments;
CREATE POLICY "payments_select_own_orders" ON public.payments
    FOR SELECT TO authenticated
    USING (EXISTS (
        SELECT 1 FROM public.orders AS o
        WHERE o.id = payments.order_id AND o.user_id = auth.uid()
    ));

DROP POLICY IF EXISTS "refunds_select_own_orders" ON public.refunds;
CREATE POLICY "refunds_select_own_orders" ON public.refunds
    FOR SELECT TO authenticated
    USING (EXISTS (
        SELECT 1
        FROM public.payments AS p
        JOIN public.orders AS o ON o.id = p.order_id
        WHERE p.id = refunds.payment_id AND o.user_id = auth.uid()
    ));
