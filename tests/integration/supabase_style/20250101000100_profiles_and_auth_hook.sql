create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  full_name text,
  avatar_url text,
  updated_at timestamptz default now()
);
alter table public.profiles enable row level security;

drop policy if exists "profiles are readable by their owner" on public.profiles;
create policy "profiles are readable by their owner" on public.profiles
  for select to authenticated using ((select auth.uid()) = id);

-- A profile for every new user, from the metadata given at sign-up.
create or replace function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.profiles (id, full_name, avatar_url)
  values (new.id, new.raw_user_meta_data ->> 'full_name', new.raw_user_meta_data ->> 'avatar_url');
  return new;
end;
$$;

drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function public.handle_new_user();

-- The custom access token hook: GoTrue calls it as supabase_auth_admin.
create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
language plpgsql stable
as $$
declare
  claims jsonb := event -> 'claims';
  org_count int;
begin
  select count(*) into org_count from public.memberships
  where user_id = (event ->> 'user_id')::uuid;
  claims := jsonb_set(claims, '{org_count}', to_jsonb(org_count));
  return jsonb_set(event, '{claims}', claims);
end;
$$;

grant usage on schema public to supabase_auth_admin;
grant execute on function public.custom_access_token_hook to supabase_auth_admin;
grant select on table public.memberships to supabase_auth_admin;
revoke execute on function public.custom_access_token_hook from authenticated, anon, public;
