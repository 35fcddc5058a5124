-- legacy_shop_seed.sql: the production state *before* migration 006, for tests and demos.
-- The old application kept its catalogue in public.products (integer ids, prices in cents,
-- category as free text). 006 copies these rows into public.spare_parts.
-- Idempotent: the table is created if missing and rows are keyed by their fixed ids, so a second
-- run changes nothing. No BEGIN/COMMIT, no psql meta-commands: plain SQL any runner can send.
-- Realistic quirks on purpose: category spelled 'brakes' (vs the shop's 'Brakes') and
-- 'Electrical ' with a trailing space, empty and NULL categories, categories the new shop does
-- not have yet (Cooling, Transmission), and one SKU used twice (FLT-3001).

CREATE TABLE IF NOT EXISTS public.products (
    id          serial PRIMARY KEY,
    sku         text,
    title       text NOT NULL,
    category    text,
    price_cents integer NOT NULL,
    stock       integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO public.products (id, sku, title, category, price_cents, stock, created_at) VALUES
    ( 1, 'ENG-1001', 'Engine oil pump', 'Engine', 4590, 12, timestamptz '2021-03-01 09:00+00' + interval '3 days'),
    ( 2, 'ENG-1002', 'Engine mount, front left', 'Engine', 3275, 20, timestamptz '2021-03-01 09:00+00' + interval '6 days'),
    ( 3, 'ENG-1003', 'Cylinder head gasket set', 'Engine', 5820, 8, timestamptz '2021-03-01 09:00+00' + interval '9 days'),
    ( 4, 'ENG-1004', 'Timing belt kit with water pump', 'Engine', 12950, 5, timestamptz '2021-03-01 09:00+00' + interval '12 days'),
    ( 5, 'ENG-1005', 'Engine valve cover gasket', 'Engine', 1890, 30, timestamptz '2021-03-01 09:00+00' + interval '15 days'),
    ( 6, 'ENG-1006', 'Piston ring set 79.0 mm', 'Engine', 6740, 6, timestamptz '2021-03-01 09:00+00' + interval '18 days'),
    ( 7, 'ENG-1007', 'Crankshaft position sensor', 'Engine', 2915, 14, timestamptz '2021-03-01 09:00+00' + interval '21 days'),
    ( 8, 'ENG-1008', 'Engine air intake hose', 'Engine', 2240, 9, timestamptz '2021-03-01 09:00+00' + interval '24 days'),
    ( 9, 'ENG-1009', 'Spark plug, iridium (engine tune-up)', 'Engine', 1150, 120, timestamptz '2021-03-01 09:00+00' + interval '27 days'),
    (10, 'ENG-1010', 'Engine control unit relay', 'Engine', 1399, 25, timestamptz '2021-03-01 09:00+00' + interval '30 days'),
    (11, 'BRK-2001', 'Brake pad set, front axle', 'brakes', 3490, 40, timestamptz '2021-03-01 09:00+00' + interval '33 days'),
    (12, 'BRK-2002', 'Brake pad set, rear axle', 'brakes', 2990, 35, timestamptz '2021-03-01 09:00+00' + interval '36 days'),
    (13, 'BRK-2003', 'Brake disc, vented 280 mm', 'brakes', 4450, 16, timestamptz '2021-03-01 09:00+00' + interval '39 days'),
    (14, 'BRK-2004', 'Brake caliper, front right', 'brakes', 8900, 4, timestamptz '2021-03-01 09:00+00' + interval '42 days'),
    (15, 'BRK-2005', 'Brake hose, front', 'brakes', 1275, 22, timestamptz '2021-03-01 09:00+00' + interval '45 days'),
    (16, 'BRK-2006', 'Brake fluid DOT 4, 1 l', 'brakes', 899, 60, timestamptz '2021-03-01 09:00+00' + interval '48 days'),
    (17, 'BRK-2007', 'Handbrake cable', 'brakes', 2150, 11, timestamptz '2021-03-01 09:00+00' + interval '51 days'),
    (18, 'BRK-2008', 'Brake wear sensor', 'brakes', 650, 50, timestamptz '2021-03-01 09:00+00' + interval '54 days'),
    (19, 'FLT-3001', 'Oil filter', 'Filters', 790, 150, timestamptz '2021-03-01 09:00+00' + interval '57 days'),
    (20, 'FLT-3002', 'Air filter', 'Filters', 1290, 80, timestamptz '2021-03-01 09:00+00' + interval '60 days'),
    (21, 'FLT-3003', 'Fuel filter, diesel', 'Filters', 1850, 45, timestamptz '2021-03-01 09:00+00' + interval '63 days'),
    (22, 'FLT-3004', 'Cabin filter, activated carbon', 'Filters', 1590, 70, timestamptz '2021-03-01 09:00+00' + interval '66 days'),
    (23, 'FLT-3005', 'Transmission oil filter kit', 'Filters', 2690, 18, timestamptz '2021-03-01 09:00+00' + interval '69 days'),
    (24, 'FLT-3006', 'Engine breather filter', 'Filters', 1045, 27, timestamptz '2021-03-01 09:00+00' + interval '72 days'),
    (25, 'CLG-4001', 'Radiator, aluminium core', 'Cooling', 15900, 3, timestamptz '2021-03-01 09:00+00' + interval '75 days'),
    (26, 'CLG-4002', 'Water pump', 'Cooling', 6490, 10, timestamptz '2021-03-01 09:00+00' + interval '78 days'),
    (27, 'CLG-4003', 'Thermostat with housing', 'Cooling', 3380, 15, timestamptz '2021-03-01 09:00+00' + interval '81 days'),
    (28, 'CLG-4004', 'Radiator hose, upper', 'Cooling', 1725, 19, timestamptz '2021-03-01 09:00+00' + interval '84 days'),
    (29, 'CLG-4005', 'Coolant expansion tank', 'Cooling', 2460, 12, timestamptz '2021-03-01 09:00+00' + interval '87 days'),
    (30, 'CLG-4006', 'Engine cooling fan', 'Cooling', 9875, 2, timestamptz '2021-03-01 09:00+00' + interval '90 days'),
    (31, 'TRN-5001', 'Clutch kit, 3-piece', 'Transmission', 18900, 4, timestamptz '2021-03-01 09:00+00' + interval '93 days'),
    (32, 'TRN-5002', 'Clutch master cylinder', 'Transmission', 5640, 7, timestamptz '2021-03-01 09:00+00' + interval '96 days'),
    (33, 'TRN-5003', 'Gearbox mount', 'Transmission', 2830, 13, timestamptz '2021-03-01 09:00+00' + interval '99 days'),
    (34, 'TRN-5004', 'CV joint kit, outer', 'Transmission', 4275, 9, timestamptz '2021-03-01 09:00+00' + interval '102 days'),
    (35, 'TRN-5005', 'Drive shaft boot kit', 'Transmission', 1560, 24, timestamptz '2021-03-01 09:00+00' + interval '105 days'),
    (36, 'ELE-6001', 'Starter motor', 'Electrical ', 14500, 3, timestamptz '2021-03-01 09:00+00' + interval '108 days'),
    (37, 'ELE-6002', 'Alternator 120 A', 'Electrical ', 19900, 2, timestamptz '2021-03-01 09:00+00' + interval '111 days'),
    (38, 'ELE-6003', 'Battery 12 V 70 Ah', 'Electrical ', 11490, 8, timestamptz '2021-03-01 09:00+00' + interval '114 days'),
    (39, 'ELE-6004', 'Ignition coil', 'Electrical ', 4190, 17, timestamptz '2021-03-01 09:00+00' + interval '117 days'),
    (40, 'ELE-6005', 'Oxygen sensor (lambda), pre-cat', 'Electrical ', 6780, 6, timestamptz '2021-03-01 09:00+00' + interval '120 days'),
    (41, 'ELE-6006', 'Engine coolant temperature sensor', 'Electrical ', 1690, 21, timestamptz '2021-03-01 09:00+00' + interval '123 days'),
    (42, 'SUS-7001', 'Shock absorber, front, gas', 'Suspension', 7350, 10, timestamptz '2021-03-01 09:00+00' + interval '126 days'),
    (43, 'SUS-7002', 'Coil spring, rear', 'Suspension', 3920, 8, timestamptz '2021-03-01 09:00+00' + interval '129 days'),
    (44, 'SUS-7003', 'Control arm, front lower left', 'Suspension', 5480, 6, timestamptz '2021-03-01 09:00+00' + interval '132 days'),
    (45, 'SUS-7004', 'Stabiliser link', 'Suspension', 1380, 32, timestamptz '2021-03-01 09:00+00' + interval '135 days'),
    (46, 'SUS-7005', 'Wheel bearing kit', 'Suspension', 4850, 11, timestamptz '2021-03-01 09:00+00' + interval '138 days'),
    (47, 'MSC-8001', 'Wiper blade set 600/450 mm', '', 2190, 40, timestamptz '2021-03-01 09:00+00' + interval '141 days'),
    (48, 'MSC-8002', 'Exhaust gasket', '', 490, 0, timestamptz '2021-03-01 09:00+00' + interval '144 days'),
    (49, 'MSC-8003', 'Engine oil 5W-30, 5 l', NULL, 3999, 55, timestamptz '2021-03-01 09:00+00' + interval '147 days'),
    (50, 'FLT-3001', 'Oil filter (alternative brand)', 'Filters', 690, 90, timestamptz '2021-03-01 09:00+00' + interval '150 days')
ON CONFLICT (id) DO NOTHING;

-- Explicit ids bypass the serial: move it past them so the old app's next insert works.
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('public.products', 'id'),
                         (SELECT max(id) FROM public.products));

-- Like a typical Supabase project, the old catalogue was public-read behind RLS (which is also
-- what `requireRlsOnExposedTables` expects of every table in public).
GRANT SELECT ON TABLE public.products TO anon, authenticated;
ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "products_select_public" ON public.products;
CREATE POLICY "products_select_public" ON public.products
    FOR SELECT TO anon, authenticated
    USING (true);
