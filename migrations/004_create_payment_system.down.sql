-- 004_create_payment_system (down): drop what 004 created.
-- 005 (audit) must be down first; it attaches a trigger to payments.
DROP TABLE IF EXISTS public.refunds;
DROP TABLE IF EXISTS public.payments;      -- takes trg_payments_mark_order_paid with it
DROP FUNCTION IF EXISTS public.mark_order_paid();
