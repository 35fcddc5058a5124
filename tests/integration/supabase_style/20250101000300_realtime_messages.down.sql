-- Dropping the tables also takes them out of the supabase_realtime publication.
drop table if exists public.presence;
drop table if exists public.messages;
