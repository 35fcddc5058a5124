-- 003_create_communication_system (down): drop what 003 created.
-- 007 (realtime) must be down first; its down takes these tables out of the publication.
DROP FUNCTION IF EXISTS public.mark_notification_read(uuid);
DROP TABLE IF EXISTS public.messages;
DROP TABLE IF EXISTS public.notifications;
