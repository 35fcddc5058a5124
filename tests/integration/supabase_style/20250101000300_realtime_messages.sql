create table if not exists public.messages (
  id bigint generated always as identity primary key,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  author_id uuid not null references auth.users (id),
  body text not null,
  created_at timestamptz not null default now()
);
create index if not exists messages_organization_id_idx on public.messages (organization_id);
create index if not exists messages_author_id_idx on public.messages (author_id);
alter table public.messages enable row level security;

drop policy if exists "members read messages" on public.messages;
create policy "members read messages" on public.messages
  for select to authenticated using (public.is_member(organization_id));

drop policy if exists "members post messages" on public.messages;
create policy "members post messages" on public.messages
  for insert to authenticated
  with check (author_id = (select auth.uid()) and public.is_member(organization_id));

alter publication supabase_realtime add table public.messages;

create table if not exists public.presence (
  user_id uuid primary key references auth.users (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  seen_at timestamptz not null default now()
);
create index if not exists presence_organization_id_idx on public.presence (organization_id);
alter table public.presence enable row level security;

drop policy if exists "members see presence" on public.presence;
create policy "members see presence" on public.presence
  for select to authenticated using (public.is_member(organization_id));

-- Published only once: adding a member twice is an error.
do $$
begin
  if not exists (
    select 1 from pg_publication_tables
    where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'presence'
  ) then
    alter publication supabase_realtime add table public.presence;
  end if;
end
$$;
