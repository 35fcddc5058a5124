-- 002_create_order_system (down): drop what 002 created, children before parents.
-- Tables take their indexes, triggers, policies and grants with them.
DROP FUNCTION IF EXISTS public.calculate_order_total(uuid);
DROP TABLE IF EXISTS public.cart_items;
DROP TABLE IF EXISTS public.order_items;
DROP TABLE IF EXISTS public.orders;
