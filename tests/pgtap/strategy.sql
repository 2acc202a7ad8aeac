-- strategy.sql: runs see only bars that had ended by as_of, net the
-- target against position and open orders, record every step, and fail
-- alone.  The series and its SMAs are worked out by hand below.
\ir preamble.psql
SELECT plan(62);

-- closes 10, 9, 8, 9, 11, 12 on 2024-01-02 .. 2024-01-09 (weekdays);
-- fast SMA(2) and slow SMA(3) on each bar from the third:
--   01-04: fast (9+8)/2 = 8.5,  slow (10+9+8)/3 = 9
--   01-05: fast (8+9)/2 = 8.5,  slow (9+8+9)/3 = 8.667   fast < slow
--   01-08: fast (9+11)/2 = 10,  slow (8+9+11)/3 = 9.333  fast > slow: cross
--   01-09: fast (11+12)/2 = 11.5, slow (9+11+12)/3 = 10.667
-- New York is on EST (UTC-5) in January: the session closes 21:00 UTC.
CREATE TEMP TABLE tap_bars (line bigserial, symbol text, ts text,
	open float8, high float8, low float8, close float8, volume float8);
INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
SELECT 'TAPX', d, c, c + 1, c - 1, c, 1000
FROM (VALUES ('2024-01-02', 10), ('2024-01-03', 9), ('2024-01-04', 8),
			 ('2024-01-05', 9), ('2024-01-08', 11), ('2024-01-09', 12)) v(d, c);
SELECT is(pgtrade.import_bars('tap_bars'), 6::bigint, 'six bars loaded');
SELECT is((SELECT min(ts) FROM pgtrade.bar WHERE instrument_id =
	pgtrade.instrument_id('TAPX')), '2024-01-02 05:00:00+00'::timestamptz,
	'a daily bar starts at midnight New York time (05:00 UTC in January)');
SELECT is(pgtrade.bar_end('2024-01-02 05:00+00', '1 day', 'America/New_York',
	'16:00'), '2024-01-02 21:00:00+00'::timestamptz,
	'a daily bar ends at the 16:00 close, 21:00 UTC in January');
SELECT is(pgtrade.bar_end('2024-07-01 04:00+00', '1 day', 'America/New_York',
	'16:00'), '2024-07-01 20:00:00+00'::timestamptz,
	'in July (EDT, UTC-4) the close is 20:00 UTC');
SELECT is(pgtrade.bar_end('2024-07-01 13:30+00', '1 minute',
	'America/New_York', '16:00'), '2024-07-01 13:31:00+00'::timestamptz,
	'a one-minute bar ends a minute after its start');
-- The C function against the expression it implements, hour by hour over
-- two years (the clock changes of both zones among them), for daily,
-- two-day and intraday sizes and four closes.
SELECT is((SELECT count(*) FROM generate_series('2023-12-30 00:00+00'::timestamptz,
		'2026-01-02 00:00+00', '1 hour') t,
	unnest(ARRAY['America/New_York', 'Europe/London', 'Asia/Tokyo']) z,
	unnest(ARRAY['1 day', '2 days', '1 minute', '5 minutes', '1 hour',
				 '23 hours 59 minutes']::interval[]) s,
	unnest(ARRAY['16:00', '13:00', '00:00', '23:59:59.999999']::time[]) c
	WHERE pgtrade.bar_end(t, s, z, c) IS DISTINCT FROM
		CASE WHEN s >= interval '1 day'
			THEN (((t AT TIME ZONE z)::date + (s - interval '1 day'))::date
				  + c) AT TIME ZONE z
			ELSE t + s END), 0::bigint,
	'bar_end is its expression at 1.3 million times, sizes, zones and closes');
-- Zones bar_end resolves once and converts with itself (full names, in any
-- case, with half-hour offsets and southern summers) and names it leaves
-- to AT TIME ZONE (abbreviations: CET is both an abbreviation, a fixed
-- hour, and a zone with summer time, and AT TIME ZONE takes the first).
SELECT is((SELECT count(*) FROM generate_series('2023-12-30 00:00+00'::timestamptz,
		'2026-01-02 00:00+00', '1 hour') t,
	unnest(ARRAY['CET', 'EST', 'UTC', 'Australia/Sydney', 'America/St_Johns',
				 'america/new_york']) z,
	unnest(ARRAY['1 day', '3 days']::interval[]) s,
	unnest(ARRAY['16:00', '02:30']::time[]) c
	WHERE pgtrade.bar_end(t, s, z, c) IS DISTINCT FROM
		(((t AT TIME ZONE z)::date + (s - interval '1 day'))::date
		 + c) AT TIME ZONE z), 0::bigint,
	'bar_end is its expression for abbreviations, half-hour and southern '
	'zones, and a zone name in lower case');
SELECT is(pgtrade.bar_end('2024-03-10 05:00+00', '1 day', 'America/New_York',
	'02:30'), '2024-03-10 07:30:00+00'::timestamptz,
	'a close in the hour skipped in spring is taken an hour later, as '
	'AT TIME ZONE takes it');
SELECT is(pgtrade.bar_end('infinity', '1 day', 'America/New_York', '16:00'),
	'infinity'::timestamptz, 'the end of an infinite start is infinite');
SELECT throws_ok($$SELECT ((('294276-12-31 12:00+00'::timestamptz AT TIME ZONE
	'America/New_York')::date + interval '0')::date + time '23:00')
	AT TIME ZONE 'America/New_York'$$, '22008', 'timestamp out of range',
	'past the last timestamp the expression fails as out of range');
SELECT throws_ok($$SELECT pgtrade.bar_end('294276-12-31 12:00+00', '1 day',
	'America/New_York', '23:00')$$, '22008', 'timestamp out of range',
	'and bar_end with it');
SELECT is(pgtrade.import_bars('tap_bars'), 6::bigint,
	'loading the same bars again upserts them');
SELECT is((SELECT count(*)::int FROM pgtrade.bar WHERE instrument_id =
	pgtrade.instrument_id('TAPX')), 6, 'the upsert made no duplicates');
CREATE TEMP TABLE tap_ctid AS SELECT ts, ctid::text AS c FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX');
SELECT pgtrade.import_bars('tap_bars') \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.bar b JOIN tap_ctid t USING (ts)
		   WHERE b.instrument_id = pgtrade.instrument_id('TAPX')
			 AND b.ctid::text = t.c), 6,
	'bars loaded again with the same values are left where they were, '
	'not written again');

-- max_bar_age of a century: the scheduler tests below run on these 2024
-- bars today, which the default staleness guard would rightly refuse
SELECT pgtrade.create_strategy('tap_cross', 'sma_cross', 'TAPX', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10, max_bar_age => '100 years');
SELECT is((SELECT bars_needed FROM pgtrade.strategy WHERE name = 'tap_cross'),
	4, 'sma_cross 2/3 needs slow + 1 = 4 bars');
SELECT ok((SELECT NOT active FROM pgtrade.strategy WHERE name = 'tap_cross'),
	'a new strategy is inactive');

-- one minute before the 01-08 close: only bars through 01-05 exist
SELECT is((SELECT action FROM pgtrade.run_strategy('tap_cross',
	'2024-01-08 20:59+00', place_orders => true)), 'hold', 'before the close: flat target, hold');
SELECT is((SELECT last_bar_ts FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1),
	'2024-01-05 05:00:00+00'::timestamptz,
	'the 01-08 bar is not used before it ended');
SELECT is((SELECT (indicators->>'fast')::numeric FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 8.5,
	'fast SMA on 01-05 is 8.5');

-- a run as of the past is a dry run unless asked to place orders
SELECT results_eq($$SELECT action, quantity, order_id FROM
	pgtrade.run_strategy('tap_cross', '2024-01-08 21:00+00')$$,
	$$VALUES ('buy', 10::numeric, NULL::bigint)$$,
	'a past run decides buy 10 but places no order by default');
SELECT matches((SELECT reason FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 'would buy 10 \(dry run',
	'its reason says it was a dry run');

-- at the close the cross is visible: buy 10
SELECT results_eq($$SELECT status, action, quantity, order_status
	FROM pgtrade.run_strategy('tap_cross', '2024-01-08 21:00+00', place_orders => true)$$,
	$$VALUES ('succeeded', 'buy', 10::numeric, 'pending')$$,
	'at the close of the cross: buy 10, order pending');
SELECT is((SELECT (indicators->>'fast')::numeric FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 10::numeric,
	'fast SMA on 01-08 is 10');
SELECT is(round((SELECT (indicators->>'slow')::numeric FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 4), 9.3333,
	'slow SMA on 01-08 is 9.3333');
SELECT matches((SELECT reason FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 'crossed above',
	'the reason says the fast SMA crossed above');
SELECT is((SELECT string_agg(s.step_no || ' ' || s.name, ', ' ORDER BY s.step_no)
		   FROM pgtrade.workflow_step s
		   JOIN pgtrade.decision d USING (run_id)
		   WHERE d.decision_id = (SELECT max(decision_id) FROM pgtrade.decision)),
	'0 market_hours, 1 load_bars, 2 evaluate, 3 decide, 4 order',
	'a run that orders has five steps, the calendar''s first');
SELECT is((SELECT o.strategy_id FROM pgtrade.orders o
		   ORDER BY order_id DESC LIMIT 1),
	(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_cross'),
	'the order names its strategy');

-- the buy is still open: a second run holds
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy(
	'tap_cross', '2024-01-08 21:00+00', place_orders => true)$$, $$VALUES ('hold', 0::numeric)$$,
	'a buy signal with the buy still open is a hold');
SELECT matches((SELECT reason FROM pgtrade.decision
		   ORDER BY decision_id DESC LIMIT 1), 'open orders 10',
	'the hold reason names the open order');

-- acknowledged as Filled before its execution is recorded: still counted
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT max(order_id) FROM pgtrade.orders), 'the listener claims the buy');
SELECT is(pgtrade.record_submission((SELECT max(order_id) FROM pgtrade.orders),
	'77', 'Filled'), 'filled', 'the broker acknowledges it as filled at once');
SELECT results_eq($$SELECT action FROM pgtrade.run_strategy('tap_cross',
	'2024-01-08 21:00+00', place_orders => true)$$, $$VALUES ('hold')$$,
	'filled at the broker, execution not yet recorded: still a hold');

-- once filled, the 01-09 run holds because the position is already long
SELECT pgtrade.record_fill('tap.s1', (SELECT client_order_id FROM pgtrade.orders
	ORDER BY order_id DESC LIMIT 1), 'TAPACCT1', 990001, 'B', 10, 11, now());
SELECT results_eq($$SELECT action FROM pgtrade.run_strategy('tap_cross',
	'2024-01-09 21:00+00', place_orders => true)$$, $$VALUES ('hold')$$,
	'long target while long: hold');

-- 01-10 closes at 7: fast (12+7)/2 = 9.5 < slow (11+12+7)/3 = 10: sell 10
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPX'), '1 day',
	'2024-01-10 05:00+00', 7, 8, 6, 7, 1000);
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy(
	'tap_cross', '2024-01-10 21:00+00', place_orders => true)$$, $$VALUES ('sell', 10::numeric)$$,
	'a cross below while long sells the position');

-- a failing evaluator fails its run, recorded, without a decision; its
-- kind is registered by a role that only reads, as every user kind is
CREATE ROLE tap_kind_owner IN ROLE pgtrade_reader;
CREATE SCHEMA tap_kinds AUTHORIZATION tap_kind_owner;
SET ROLE tap_kind_owner;
CREATE FUNCTION tap_kinds.broken_eval(jsonb, timestamptz[], float8[],
	float8[], float8[], float8[], float8[]) RETURNS jsonb LANGUAGE plpgsql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ BEGIN RAISE EXCEPTION 'evaluator exploded'; END $$;
CREATE FUNCTION tap_kinds.broken_validate(jsonb) RETURNS int
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'SELECT 1';
SELECT pgtrade.register_kind('tap_broken',
	'tap_kinds.broken_eval(jsonb, timestamptz[], float8[], float8[], '
	'float8[], float8[], float8[])',
	'tap_kinds.broken_validate(jsonb)');
RESET ROLE;
SELECT pgtrade.add_instrument('TAPY', 990002);
INSERT INTO pgtrade.bar SELECT pgtrade.instrument_id('TAPY'), bar_size, ts,
	open, high, low, close, volume FROM pgtrade.bar
WHERE instrument_id = pgtrade.instrument_id('TAPX');
SELECT pgtrade.create_strategy('tap_broken_s', 'tap_broken', 'TAPY', 'TAPACCT1',
	'{}', 1, max_bar_age => '100 years', market_hours => 'always');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_twin', 'sma_cross',
	'TAPX', 'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23505',
	'account TAPACCT1 already has a strategy on this instrument',
	'one strategy per account and instrument');

-- a live run on bars years old is skipped as stale, without a decision
SELECT pgtrade.add_instrument('TAPZ', 990003);
INSERT INTO pgtrade.bar SELECT pgtrade.instrument_id('TAPZ'), bar_size, ts,
	open, high, low, close, volume FROM pgtrade.bar
WHERE instrument_id = pgtrade.instrument_id('TAPX');
SELECT pgtrade.create_strategy('tap_stale', 'sma_cross', 'TAPZ', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10, market_hours => 'always');
SELECT results_eq($$SELECT status, action FROM pgtrade.run_strategy('tap_stale')$$,
	$$VALUES ('skipped', NULL::text)$$,
	'a run now on 2024 bars is skipped (default max_bar_age 5 days)');
SELECT matches((SELECT error FROM pgtrade.workflow_run ORDER BY run_id DESC
		   LIMIT 1), '^stale bars: the last 1 day bar of TAPZ is of session 2024-01-10;',
	'the skipped run says which bar was too old');
SELECT pgtrade.add_instrument('TAPNB', 990004) \g /dev/null
SELECT pgtrade.create_strategy('tap_nobars', 'sma_cross', 'TAPNB', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10, market_hours => 'always') \g /dev/null
SELECT results_eq($$SELECT status FROM pgtrade.run_strategy('tap_nobars')$$,
	$$VALUES ('skipped')$$, 'a run on an instrument without bars is skipped');
SELECT matches((SELECT error FROM pgtrade.workflow_run ORDER BY run_id DESC
		   LIMIT 1), '^stale bars: TAPNB has no 1 day bar that ended by ',
	'and says the instrument has no bar');
SELECT results_eq($$SELECT status, reason FROM pgtrade.run_strategy(
	'tap_broken_s', '2024-01-10 21:00+00', place_orders => true)$$,
	$$VALUES ('failed', 'evaluator exploded')$$,
	'a failing evaluator fails the run and says why');
SELECT is((SELECT sqlstate FROM pgtrade.workflow_run
		   ORDER BY run_id DESC LIMIT 1), 'P0001', 'the run keeps the SQLSTATE');
SELECT throws_ok($$SELECT * FROM pgtrade.run_strategy('tap_cross',
	now() + interval '1 hour')$$, '22023', 'as_of must not be in the future',
	'a run in the future is refused');

-- the scheduler: due strategies run once per slot; failures stay apart
UPDATE pgtrade.strategy SET active = true, market_hours = 'always'
WHERE name IN ('tap_cross', 'tap_broken_s');
UPDATE pgtrade.strategy SET next_run_at = date_trunc('minute', now())
WHERE name IN ('tap_cross', 'tap_broken_s');
SELECT ok(pgtrade.run_next_due(now()) AND pgtrade.run_next_due(now()),
	'two due strategies run');
SELECT ok(NOT pgtrade.run_next_due(now()), 'then none is due');
SELECT results_eq($$SELECT s.name, r.status FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s USING (strategy_id) WHERE r.trigger = 'cron'
	ORDER BY s.name$$,
	$$VALUES ('tap_broken_s', 'failed'), ('tap_cross', 'succeeded')$$,
	'the failing strategy did not stop the other');
UPDATE pgtrade.strategy SET next_run_at = date_trunc('minute', now())
WHERE name = 'tap_cross';
SELECT pgtrade.run_next_due(now());
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_cross' AND r.trigger = 'cron'), 1,
	'a slot already run is not run again');
UPDATE pgtrade.strategy SET next_run_at = now() - interval '1 hour'
WHERE name = 'tap_cross';
SELECT pgtrade.run_next_due(now());
SELECT is((SELECT status FROM pgtrade.workflow_run ORDER BY run_id DESC LIMIT 1),
	'missed', 'a run an hour past its slot is recorded as missed');
SELECT ok((SELECT next_run_at > now() FROM pgtrade.strategy
		   WHERE name = 'tap_cross'), 'next_run_at moves past now');
SELECT throws_ok($$SELECT pgtrade.run_next_due(clock_timestamp()
	+ interval '30 seconds')$$, '22023', NULL,
	'the scheduler never runs ahead of the clock, not even by seconds');
UPDATE pgtrade.strategy SET next_run_at = NULL WHERE name = 'tap_cross';
SELECT ok((SELECT next_run_at > now() FROM pgtrade.strategy
		   WHERE name = 'tap_cross'), 'a cleared next_run_at is computed again');

-- an outside decider's target is a finite whole number of lots
SELECT throws_ok($$SELECT * FROM pgtrade.submit_decision('tap_cross', 'NaN',
	'x')$$, '22023', 'target position must be a finite number, not NaN',
	'a NaN target is refused before anything is recorded');
SELECT throws_ok($$SELECT * FROM pgtrade.submit_decision('tap_cross', 0.5,
	'x')$$, '22023', 'target position 0.5 is not a whole number of lots of 1',
	'so is half a share');
-- an outside decider: position 10 and a pending sell of 10, target 30:
-- 30 - 10 - (-10) = buy 30
SELECT results_eq($$SELECT action, quantity, order_status FROM
	pgtrade.submit_decision('tap_cross', 30, 'model expects a rebound', 0.7)$$,
	$$VALUES ('buy', 30::numeric, 'pending')$$,
	'an external decision is netted like any other: buy 30');
SELECT results_eq($$SELECT r.trigger, d.confidence, d.reason FROM
	pgtrade.workflow_run r JOIN pgtrade.decision d USING (run_id)
	ORDER BY r.run_id DESC LIMIT 1$$,
	$$VALUES ('external', 0.7, 'decision by ' || (session_user::text COLLATE "default")
		|| ': model expects a rebound; target position 30, position 10, open orders -10: buy 30')$$,
	'it is recorded as an external run with its confidence and reason');
SELECT throws_ok($$SELECT * FROM pgtrade.submit_decision('nope', 1, 'x')$$,
	'42704', 'strategy "nope" does not exist',
	'an external decision for an unknown strategy is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.submit_decision('tap_cross', 1, ' ')$$,
	'22023', 'a decision needs an explanation',
	'an external decision without an explanation is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.submit_decision('tap_cross', 1, 'x',
	1.5)$$, '22023', 'confidence must be between 0 and 1, not 1.5',
	'a confidence above 1 is refused');

-- maintenance: old pg_cron run details of pgtrade's jobs are purged,
-- other jobs' are left alone; by hand, 1 of the 3 rows below qualifies
INSERT INTO cron.job (jobid, schedule, command, nodename, nodeport, database,
	username, jobname)
VALUES (-41, '0 0 1 1 *', 'SELECT 1', 'localhost', 5432, current_database(),
		current_user, 'pgtrade-tap'),
	   (-42, '0 0 1 1 *', 'SELECT 1', 'localhost', 5432, current_database(),
		current_user, 'someone-else');
INSERT INTO cron.job_run_details (jobid, runid, database, username, command,
	status, start_time, end_time)
VALUES (-41, -1, current_database(), current_user, 'SELECT 1', 'succeeded',
		now() - interval '30 days', now() - interval '30 days'),
	   (-41, -2, current_database(), current_user, 'SELECT 1', 'succeeded',
		now() - interval '1 day', now() - interval '1 day'),
	   (-42, -3, current_database(), current_user, 'SELECT 1', 'succeeded',
		now() - interval '30 days', now() - interval '30 days');
SELECT is(pgtrade.purge_run_details('14 days'), 1::bigint,
	'only pgtrade''s run details older than 14 days are purged');
SELECT is((SELECT count(*)::int FROM cron.job_run_details WHERE jobid < 0), 2,
	'recent ones and other jobs'' ones are kept');
SELECT throws_ok($$SELECT pgtrade.purge_run_details('1 hour')$$, '22023',
	NULL, 'keeping less than a day is refused');

-- listener health names a gateway that is not authenticated
INSERT INTO pgtrade.listener (name, gateway_state) VALUES ('tap-l', 'down');
SELECT is((SELECT health FROM pgtrade.listener_health WHERE name = 'tap-l'),
	'gateway down', 'a listener whose gateway is down is not called alive');

-- an evaluator never sees bars out of time order: the call refuses them
SELECT throws_ok($$SELECT pgtrade.kind_evaluate(
	'pgtrade.sma_cross_eval(jsonb, timestamptz[], float8[], float8[], '
	'float8[], float8[], float8[])',
	'{"fast": 1, "slow": 2}', '{2024-01-03, 2024-01-02}', '{1, 2}',
	'{1, 2}', '{1, 2}', '{1, 2}', '{1, 2}')$$, '22000',
	'bars passed to a strategy kind are not in time order at position 2',
	'bars out of order are refused before the evaluator runs');

SELECT * FROM finish();
ROLLBACK;
