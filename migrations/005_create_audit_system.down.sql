-- 005_create_audit_system (down): detach the audit triggers from orders/payments (those
-- tables belong to 002/004 and stay), then drop the function and the tables.
DROP TRIGGER IF EXISTS trg_payments_log_activity ON public.payments;
DROP TRIGGER IF EXISTS trg_orders_log_activity ON public.orders;
DROP FUNCTION IF EXISTS public.log_activity();
DROP TABLE IF EXISTS public.system_metrics;
DROP TABLE IF EXISTS public.activity_logs;
