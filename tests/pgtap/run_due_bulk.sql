-- run_due_bulk.sql: the scheduler records the due runs that place no
-- order together (run_due_bulk), and what it records is what the one-by-
-- one path (run_next_due) records for the same strategy at the same time:
-- twin strategies, one run each way, compared column by column and step
-- by step.  What must place an order, or fail, is left to run_next_due.
\ir preamble.psql
SELECT plan(46);

-- the session's zone differs from the exchange's, as pg_cron's may
SET TimeZone = 'Asia/Tokyo';
-- only this suite's strategies are due
UPDATE pgtrade.strategy SET active = false WHERE active;

-- TAPUP closes 10, 11, 12, 13, 14, 15: SMA(2) above SMA(3), target long.
-- TAPDN closes 15, 14, 13, 12, 11, 10: below, target flat.
SELECT pgtrade.add_instrument(s, 990100 + n)
FROM (VALUES ('TAPUP', 1), ('TAPDN', 2), ('TAPOPEN', 3), ('TAPSHUT', 4),
			 ('TAPGONE', 5), ('TAPOLD', 6), ('TAPBAD', 7)) v(s, n) \g /dev/null
CREATE TEMP TABLE tap_bars (line bigserial, symbol text, ts text,
	open float8, high float8, low float8, close float8, volume float8);
INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
SELECT s, d, c, c + 1, c - 1, c, 1000
FROM (VALUES ('2024-01-02', 0), ('2024-01-03', 1), ('2024-01-04', 2),
			 ('2024-01-05', 3), ('2024-01-08', 4), ('2024-01-09', 5)) v(d, k),
	 LATERAL (VALUES ('TAPUP', 10 + k), ('TAPDN', 15 - k), ('TAPOPEN', 10 + k),
			 ('TAPSHUT', 15 - k), ('TAPGONE', 15 - k), ('TAPOLD', 15 - k),
			 ('TAPBAD', 15 - k)) w(s, c);
SELECT is(pgtrade.import_bars('tap_bars'), 42::bigint, 'six bars each');

-- recent_bars: the newest n that started before the bound, oldest first
SELECT results_eq($$SELECT ts, close, volume, bars FROM pgtrade.recent_bars(
	pgtrade.instrument_id('TAPUP'), '1 day', '2024-01-09 05:00+00', 3)$$,
	$$VALUES ('{2024-01-04 05:00+00,2024-01-05 05:00+00,2024-01-08 05:00+00}'
		::timestamptz[], '{12,13,14}'::float8[], '{1000,1000,1000}'::float8[], 3)$$,
	'recent_bars: three before 01-09 (the bound is excluded), oldest first');
SELECT results_eq($$SELECT open, high, low, close, bars FROM pgtrade.recent_bars(
	pgtrade.instrument_id('TAPUP'), '1 day', 'infinity', 100)$$,
	$$VALUES ('{10,11,12,13,14,15}'::float8[], '{11,12,13,14,15,16}'::float8[],
		'{9,10,11,12,13,14}'::float8[], '{10,11,12,13,14,15}'::float8[], 6)$$,
	'recent_bars: all six when fewer than asked, every column');
SELECT results_eq($$SELECT ts, bars FROM pgtrade.recent_bars(
	pgtrade.instrument_id('TAPUP'), '1 day', 'infinity', 0)$$,
	$$VALUES ('{}'::timestamptz[], 0)$$, 'recent_bars: none asked, none read');
SELECT is((SELECT bars FROM pgtrade.recent_bars(pgtrade.instrument_id('TAPUP'),
	'1 day', 'infinity', 2147483647)), 6,
	'recent_bars: a huge n takes room for the bars read, not for n');
SELECT results_eq($$SELECT close, bars FROM pgtrade.recent_bars(
	pgtrade.instrument_id('TAPUP'), '1 minute', 'infinity', 10)$$,
	$$VALUES ('{}'::float8[], 0)$$, 'recent_bars: no bars of another size');
SELECT throws_ok($$SELECT pgtrade.recent_bars(1, '1 day', now(), -1)$$,
	'22023', 'the number of bars must not be negative, not -1',
	'recent_bars: a negative count is refused');
CREATE ROLE tap_no_bars;
GRANT USAGE ON SCHEMA pgtrade TO tap_no_bars;
GRANT EXECUTE ON FUNCTION pgtrade.recent_bars(bigint, interval, timestamptz,
	integer) TO tap_no_bars;
SET ROLE tap_no_bars;
SELECT throws_ok($$SELECT pgtrade.recent_bars(1, '1 day', now(), 5)$$,
	'42501', NULL, 'recent_bars: a role that may not read bars may not here');
RESET ROLE;
SET ROLE pgtrade_reader;
SELECT is((SELECT bars FROM pgtrade.recent_bars(pgtrade.instrument_id('TAPUP'),
	'1 day', 'infinity', 3)), 3,
	'recent_bars: a reader, who reads bars through the bars view, may');
RESET ROLE;

-- a market that never opens, and one whose calendar ended in 2001
INSERT INTO pgtrade.market_calendar (calendar, description, time_zone,
	regular_open, regular_close, weekend, first_day, last_day)
VALUES ('TAPSHUT', 'closed every day', 'America/New_York', '09:30', '16:00',
		'{1,2,3,4,5,6,7}', '2000-01-01', '2099-12-31'),
	   ('TAPGONE', 'no data after 2001', 'America/New_York', '09:30', '16:00',
		'{6,7}', '2000-01-01', '2001-12-31');
SELECT pgtrade.set_instrument_calendar('TAPSHUT', 'TAPSHUT') \g /dev/null
SELECT pgtrade.set_instrument_calendar('TAPGONE', 'TAPGONE') \g /dev/null

-- twins: a_* run together, b_* one by one, each in an account of its
-- own (positions are per account); bars of 2024 with an allowance of a
-- century, and no market hours unless the test says so
SELECT pgtrade.add_account('TAPACCT2', 'pgTAP twin') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT2', max_position => 1000000) \g /dev/null
SELECT pgtrade.create_strategy(t || '_' || s, 'sma_cross', upper(s), a,
	'{"fast": 2, "slow": 3}', 10, '* * * * *', active => true,
	max_bar_age => '100 years', market_hours => h)
FROM (VALUES ('tapup', 'always'), ('tapdn', 'always'), ('tapopen', 'always'),
			 ('tapshut', 'trading_day'), ('tapgone', 'trading_day'))
	 v(s, h), (VALUES ('a', 'TAPACCT1'), ('b', 'TAPACCT2')) w(t, a) \g /dev/null
SELECT pgtrade.create_strategy('a_tapold', 'sma_cross', 'TAPOLD', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10, '* * * * *', active => true,
	market_hours => 'always') \g /dev/null
SELECT pgtrade.create_strategy('a_tapbad', 'sma_cross', 'TAPBAD', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10, '* * * * *', active => true,
	max_bar_age => '100 years', market_hours => 'always') \g /dev/null
UPDATE pgtrade.strategy SET next_run_at = 'infinity' WHERE name LIKE '__tap%';

-- tap_due(names, slot): makes these strategies due at slot, none other
CREATE FUNCTION pg_temp.tap_due(p_names text[], p_slot timestamptz)
RETURNS void LANGUAGE sql AS $$
	UPDATE pgtrade.strategy SET next_run_at = CASE WHEN name = ANY (p_names)
		THEN p_slot ELSE 'infinity' END
	WHERE name LIKE '__tap%';
$$;
-- tap_ids(names): their ids, in the order run_due_bulk returns them
CREATE FUNCTION pg_temp.tap_ids(p_names text[]) RETURNS bigint[]
LANGUAGE sql AS $$
	SELECT array_agg(strategy_id ORDER BY strategy_id)
	FROM pgtrade.strategy WHERE name = ANY (p_names);
$$;
-- tap_runs(name): everything a strategy's runs recorded, less the ids
-- and times that differ between any two runs
CREATE FUNCTION pg_temp.tap_runs(p_name text)
RETURNS TABLE (trigger text, slot timestamptz, as_of timestamptz,
	status text, error text, action text, signal text,
	target_position numeric, "position" numeric, open_quantity numeric,
	quantity numeric, last_close float8, reason text, indicators jsonb,
	last_bar_ts timestamptz, bars_used integer, kind text, params jsonb,
	steps jsonb)
LANGUAGE sql AS $$
	SELECT r.trigger, r.slot, r.as_of, r.status, r.error, d.action, d.signal,
		d.target_position, d.position, d.open_quantity, d.quantity,
		d.last_close, d.reason, d.indicators, d.last_bar_ts, d.bars_used,
		d.kind, d.params,
		(SELECT jsonb_agg(jsonb_build_array(st.step_no, st.name, st.input,
				st.output - 'decision_id') ORDER BY st.step_no)
		 FROM pgtrade.workflow_step st WHERE st.run_id = r.run_id)
	FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s ON s.strategy_id = r.strategy_id
	LEFT JOIN pgtrade.decision d ON d.run_id = r.run_id
	WHERE s.name = p_name
	ORDER BY r.slot;
$$;
-- tap_twins(s, slot): runs a_s together and b_s one by one at the slot
CREATE FUNCTION pg_temp.tap_twins(p_s text, p_slot timestamptz,
	p_now timestamptz)
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
	v_left bigint[];
BEGIN
	PERFORM pg_temp.tap_due(ARRAY['a_' || p_s], p_slot);
	v_left := pgtrade.run_due_bulk(p_now, 500);
	PERFORM pg_temp.tap_due(ARRAY['b_' || p_s], p_slot);
	IF NOT pgtrade.run_next_due(p_now, (pg_temp.tap_ids(ARRAY['b_' || p_s]))[1]) THEN
		RAISE EXCEPTION 'b_% was not run', p_s;
	END IF;
	RETURN v_left;
END
$$;

-- a hold: flat target, flat position
SELECT is(pg_temp.tap_twins('tapdn', now() - interval '1 minute', now()),
	'{}'::bigint[], 'a hold is recorded together: nothing left');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapdn')$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapdn')$$,
	'a hold recorded together is the run recorded one by one');
SELECT results_eq($$SELECT status, action, jsonb_array_length(steps)
	FROM pg_temp.tap_runs('a_tapdn')$$,
	$$VALUES ('succeeded', 'hold', 3)$$,
	'it succeeded, held, and has its three steps');
SELECT matches((SELECT reason FROM pg_temp.tap_runs('a_tapdn')),
	'^fast SMA\(2\) 10\.5000 is below slow SMA\(3\) 11\.0000 .*; '
	'target position 0 already held or on order '
	'\(position 0, open orders 0\): hold$',
	'its reason: SMA(2) (11+10)/2 = 10.5 below SMA(3) (12+11+10)/3 = 11');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
		   JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'a_tapdn'),
	1, 'one run for the slot');

-- a slot that already has its run gets nothing more, and moves on
SELECT pg_temp.tap_due(ARRAY['a_tapdn'], now() - interval '1 minute') \g /dev/null
SELECT is(pgtrade.run_due_bulk(now(), 500), '{}'::bigint[],
	'nothing is left');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
		   JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'a_tapdn'),
	1, 'still one run for the slot');
SELECT is((SELECT next_run_at FROM pgtrade.strategy WHERE name = 'a_tapdn'),
	date_trunc('minute', now()) + interval '1 minute',
	'and its next run has moved on');

-- nothing due
SELECT is(pgtrade.run_due_bulk(now(), 500), NULL, 'none due: NULL');

-- a buy that would place an order is left, untouched
SELECT pg_temp.tap_due(ARRAY['a_tapup'], now() - interval '1 minute') \g /dev/null
SELECT is(pgtrade.run_due_bulk(now(), 500), pg_temp.tap_ids(ARRAY['a_tapup']),
	'a run that places an order is left to run one by one');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
		   JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'a_tapup'),
	0, 'nothing is recorded for it');
SELECT is((SELECT next_run_at FROM pgtrade.strategy WHERE name = 'a_tapup'),
	now() - interval '1 minute', 'and it is still due');
SELECT ok(pgtrade.run_next_due(now(), (pg_temp.tap_ids(ARRAY['a_tapup']))[1]),
	'run_next_due runs it');
SELECT results_eq($$SELECT status, action, quantity FROM pg_temp.tap_runs('a_tapup')$$,
	$$VALUES ('succeeded', 'buy', 10::numeric)$$, 'and it buys 10');
SELECT is((SELECT o.status FROM pgtrade.orders o
		   JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'a_tapup'),
	'pending', 'through the gate: pending');

-- b_tapup buys the same way; with each buy open, both hold
SELECT pg_temp.tap_due(ARRAY['b_tapup'], now() - interval '1 minute') \g /dev/null
SELECT ok(pgtrade.run_next_due(now()), 'b_tapup buys too');
SELECT is(pg_temp.tap_twins('tapup', now() - interval '30 seconds', now()),
	'{}'::bigint[], 'with the buy open, b_tapup and a_tapup hold together');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapup') OFFSET 1$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapup') OFFSET 1$$,
	'the hold netted against the open order matches run_next_due''s');
SELECT matches((SELECT reason FROM pg_temp.tap_runs('a_tapup') OFFSET 1),
	'target position 10 already held or on order \(position 0, open orders 10\): hold$',
	'it counts the open buy');

-- a dry run (a time older than the grace) that would trade
SELECT is(pg_temp.tap_twins('tapopen', now() - interval '2 hours 1 minute',
	now() - interval '2 hours'), '{}'::bigint[],
	'a dry run that would buy is recorded together');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapopen')$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapopen')$$,
	'the dry run matches run_next_due''s');
SELECT results_eq($$SELECT action, quantity FROM pg_temp.tap_runs('a_tapopen')$$,
	$$VALUES ('buy', 10::numeric)$$,
	'a long target, flat: would buy 10');
SELECT matches((SELECT reason FROM pg_temp.tap_runs('a_tapopen')),
	'would buy 10 \(dry run: no order placed\)$', 'and says so');

-- a missed slot
SELECT is(pg_temp.tap_twins('tapopen', now() - interval '1 hour', now()),
	'{}'::bigint[], 'a missed slot is recorded together');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapopen')$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapopen')$$,
	'the missed slot matches run_next_due''s');
SELECT is((SELECT status FROM pg_temp.tap_runs('a_tapopen') ORDER BY slot DESC
		   LIMIT 1), 'missed', 'it is missed');

-- a closed market
SELECT is(pg_temp.tap_twins('tapshut', now() - interval '1 minute', now()),
	'{}'::bigint[], 'a closed market is recorded together');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapshut')$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapshut')$$,
	'the skip matches run_next_due''s, market_hours step and all');
SELECT results_eq($$SELECT status, steps -> 0 ->> 1 FROM pg_temp.tap_runs('a_tapshut')$$,
	$$VALUES ('skipped', 'market_hours')$$, 'skipped, with its market step');

-- a calendar past its data: left while live (run_market_step alerts) ...
SELECT pg_temp.tap_due(ARRAY['a_tapgone'], now() - interval '1 minute') \g /dev/null
SELECT is(pgtrade.run_due_bulk(now(), 500), pg_temp.tap_ids(ARRAY['a_tapgone']),
	'a live run past the calendar''s data is left to run one by one');
SELECT ok(pgtrade.run_next_due(now()), 'which records it');
SELECT is((SELECT count(*)::int FROM pgtrade.alert a
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'a_tapgone' AND a.kind = 'calendar_ended'),
	1, 'and raises the calendar_ended alert');
-- ... and a replay of two days ago is a closed market, as one by one
SELECT is(pg_temp.tap_twins('tapgone', now() - interval '2 days 1 minute',
	now() - interval '2 days'), '{}'::bigint[],
	'a run of two days ago past the data is recorded together');
SELECT results_eq($$SELECT * FROM pg_temp.tap_runs('a_tapgone')
	WHERE slot < now() - interval '1 day'$$,
	$$SELECT * FROM pg_temp.tap_runs('b_tapgone')$$,
	'and matches run_next_due''s');

-- stale bars are left (run_next_due warns about them)
SELECT pg_temp.tap_due(ARRAY['a_tapold'], now() - interval '1 minute') \g /dev/null
SELECT is(pgtrade.run_due_bulk(now(), 500), pg_temp.tap_ids(ARRAY['a_tapold']),
	'stale bars are left to run one by one');

-- an evaluator that fails: nothing is recorded, everything is left
ALTER TABLE pgtrade.strategy DISABLE TRIGGER strategy_before_update;
UPDATE pgtrade.strategy SET params = '{"fast": 2, "slow": "x"}'
WHERE name = 'a_tapbad';
ALTER TABLE pgtrade.strategy ENABLE TRIGGER strategy_before_update;
SELECT pg_temp.tap_due(ARRAY['a_tapbad', 'a_tapdn'], now()) \g /dev/null
SELECT is(pgtrade.run_due_bulk(now(), 500),
	pg_temp.tap_ids(ARRAY['a_tapbad', 'a_tapdn']),
	'one evaluator''s error leaves every strategy taken to run one by one');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run
		   WHERE slot = now()), 0, 'and nothing is recorded for the slot');

SELECT * FROM finish();
ROLLBACK;
