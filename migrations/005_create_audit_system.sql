-- 005_create_audit_system: an activity log fed by triggers on orders and payments, and a table
-- for system metrics. Idempotent: safe to run again (no error, no change).

CREATE TABLE IF NOT EXISTS public.activity_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Who did it (auth.uid() of the request, NULL for backend jobs). No foreign key on purpose:
    -- the audit trail must survive the deletion of the user.
    user_id       uuid,
    activity_type text NOT NULL,         -- 'insert' | 'update' | 'delete' | app-defined, e.g. 'error'
    table_name    text,
    record_id     text,
    old_data      jsonb,
    new_data      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.system_metrics (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_name text NOT NULL,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Indexes for the guide's monitoring queries ("… WHERE created_at > now() - interval '1 hour'",
-- "… WHERE recorded_at > … ORDER BY recorded_at DESC").
CREATE INDEX IF NOT EXISTS idx_activity_logs_created_at ON public.activity_logs (created_at);
CREATE INDEX IF NOT EXISTS idx_activity_logs_user_id ON public.activity_logs (user_id);
CREATE INDEX IF NOT EXISTS idx_activity_logs_table_record
    ON public.activity_logs (table_name, record_id);
CREATE INDEX IF NOT EXISTS idx_system_metrics_recorded_at ON public.system_metrics (recorded_at);
CREATE INDEX IF NOT EXISTS idx_system_metrics_name_recorded_at
    ON public.system_metrics (metric_name, recorded_at DESC);

-- Generic row audit. SECURITY DEFINER: the triggering user (e.g. an authenticated customer
-- placing an order) has no INSERT policy on activity_logs, and must not get one; the function
-- runs as the owner of activity_logs and writes exactly one row describing the change.
CREATE OR REPLACE FUNCTION public.log_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
BEGIN
    INSERT INTO public.activity_logs (user_id, activity_type, table_name, record_id, old_data, new_data)
    VALUES (
        auth.uid(),
        lower(TG_OP),
        TG_TABLE_NAME,
        coalesce(new_row ->> 'id', old_row ->> 'id'),
        old_row,
        new_row
    );
    RETURN NULL;                     -- AFTER trigger: return value ignored
END;
$$;

CREATE OR REPLACE TRIGGER trg_orders_log_activity
    AFTER INSERT OR UPDATE OR DELETE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.log_activity();
CREATE OR REPLACE TRIGGER trg_payments_log_activity
    AFTER INSERT OR UPDATE OR DELETE ON public.payments
    FOR EACH ROW EXECUTE FUNCTION public.log_activity();

-- Privileges as Supabase grants them by default (so the engine can probe them); RLS below.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.activity_logs, public.system_metrics
    TO anon, authenticated, service_role;

-- Row-level security with no policies at all: anon and authenticated see and write nothing;
-- service_role (BYPASSRLS) and the owner (the triggers above) are the only readers/writers.
ALTER TABLE public.activity_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.system_metrics ENABLE ROW LEVEL SECURITY;
