-- Multi-tenant core: organizations, memberships and invitations.
create table if not exists public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text not null unique,
  created_at timestamptz not null default now()
);

create table if not exists public.memberships (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  primary key (organization_id, user_id)
);
create index if not exists memberships_user_id_idx on public.memberships (user_id);

-- Invitation tokens come from pgcrypto, which lives in `extensions`: the body is checked when
-- the function is created, so gen_random_bytes must resolve through the search_path.
create or replace function public.new_invite_token() returns text
language sql volatile
as $$ select encode(gen_random_bytes(18), 'hex') $$;

create table if not exists public.invitations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  email text not null,
  token text not null default public.new_invite_token(),
  invited_by uuid references auth.users (id)
);
create index if not exists invitations_organization_id_idx on public.invitations (organization_id);
create index if not exists invitations_invited_by_idx on public.invitations (invited_by);

alter table public.organizations enable row level security;
alter table public.memberships enable row level security;
alter table public.invitations enable row level security;

create or replace function public.is_member(org uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.organization_id = org and m.user_id = (select auth.uid())
  )
$$;

drop policy if exists "members read their organizations" on public.organizations;
create policy "members read their organizations" on public.organizations
  for select to authenticated using (public.is_member(id));

drop policy if exists "members read memberships" on public.memberships;
create policy "members read memberships" on public.memberships
  for select to authenticated using (public.is_member(organization_id));

drop policy if exists "invitees read their invitations" on public.invitations;
create policy "invitees read their invitations" on public.invitations
  for select to authenticated
  using (email = auth.email() or email = (auth.jwt() ->> 'email'));
