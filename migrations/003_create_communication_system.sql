-- 003_create_communication_system: in-app notifications and user-to-user messages.
-- Idempotent: safe to run again (no error, no change).

CREATE TABLE IF NOT EXISTS public.notifications (
    id         uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    type       text NOT NULL DEFAULT 'info',
    title      text NOT NULL,
    body       text,
    read_at    timestamptz,            -- NULL = unread
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.messages (
    id           uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    sender_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    recipient_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    body         text NOT NULL,
    read_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Indexes.
-- Guide query: SELECT * FROM notifications WHERE user_id = '…' AND read_at IS NULL.
-- Partial: only unread rows are indexed, so it stays small however many are read; ordered by
-- newest first for the notification badge/list.
CREATE INDEX IF NOT EXISTS idx_notifications_user_unread
    ON public.notifications (user_id, created_at DESC)
    WHERE read_at IS NULL;
-- Full index on the FK (the partial one does not cover read rows, e.g. for ON DELETE CASCADE)
-- and for "all my notifications, newest first".
CREATE INDEX IF NOT EXISTS idx_notifications_user_id
    ON public.notifications (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_messages_sender_id ON public.messages (sender_id);
CREATE INDEX IF NOT EXISTS idx_messages_recipient_id ON public.messages (recipient_id);

-- Privileges as Supabase grants them by default; RLS below decides the rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.notifications, public.messages
    TO anon, authenticated, service_role;

-- Row-level security: no anon policies, so anonymous visitors see nothing.
ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;

-- Notifications are written by the backend (service_role); users read and mark their own.
DROP POLICY IF EXISTS "notifications_select_own" ON public.notifications;
CREATE POLICY "notifications_select_own" ON public.notifications
    FOR SELECT TO authenticated
    USING (auth.uid() = user_id);

DROP POLICY IF EXISTS "notifications_update_own" ON public.notifications;
CREATE POLICY "notifications_update_own" ON public.notifications
    FOR UPDATE TO authenticated
    USING (auth.uid() = user_id)
    WITH CHECK (auth.uid() = user_id);

-- Messages: visible to sender and recipient; one can only send as oneself.
DROP POLICY IF EXISTS "messages_select_participant" ON public.messages;
CREATE POLICY "messages_select_participant" ON public.messages
    FOR SELECT TO authenticated
    USING (auth.uid() = sender_id OR auth.uid() = recipient_id);

DROP POLICY IF EXISTS "messages_insert_as_sender" ON public.messages;
CREATE POLICY "messages_insert_as_sender" ON public.messages
    FOR INSERT TO authenticated
    WITH CHECK (auth.uid() = sender_id);

-- Mark one notification read. SECURITY INVOKER on purpose: the UPDATE goes through the
-- caller's RLS policy, so a user can only mark their own notifications. Returns whether a row
-- changed (false for someone else's or an already read notification).
CREATE OR REPLACE FUNCTION public.mark_notification_read(notification_id uuid)
RETURNS boolean
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE public.notifications AS n
       SET read_at = now()
     WHERE n.id = mark_notification_read.notification_id
       AND n.read_at IS NULL;
    RETURN FOUND;
END;
$$;
