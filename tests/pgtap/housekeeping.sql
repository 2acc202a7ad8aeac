-- tests/pgtap/housekeeping.sql: stuck-order alerts, strategies switched
-- off after failing, retention of run steps, and install_jobs.  (The
-- performance rollup is tested with its figures in performance.sql.)
\ir preamble.psql
SELECT plan(50);

-- Orders in every state the check looks at, their times forced back with
-- the state machine's trigger off.  Ages against the default 10 minutes:
--   A pending 11 min: stuck       B pending 2 min: not yet
--   C unknown 0 min: stuck at once
--   D working, day order placed 2 days ago: stuck (expiry never came)
--   E working, GTC order placed 2 days ago: not stuck
CREATE TEMP TABLE tap_o (tag text, order_id bigint);
INSERT INTO tap_o
SELECT tag, (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	tif => CASE tag WHEN 'E' THEN 'gtc' ELSE 'day' END)).order_id
FROM unnest(ARRAY['A', 'B', 'C', 'D', 'E']) tag;
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders o SET
	status = CASE t.tag WHEN 'C' THEN 'unknown' WHEN 'D' THEN 'working'
		WHEN 'E' THEN 'working' ELSE 'pending' END,
	updated_at = now() - CASE t.tag WHEN 'A' THEN interval '11 minutes'
		WHEN 'B' THEN interval '2 minutes' ELSE interval '0' END,
	created_at = now() - CASE WHEN t.tag IN ('D', 'E') THEN interval '2 days'
		ELSE interval '0' END
FROM tap_o t WHERE t.order_id = o.order_id;
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;

SELECT is(pgtrade.check_stuck_orders(), 3, 'three orders are stuck');
SELECT set_eq($$SELECT t.tag, a.order_status FROM pgtrade.alerts a
	JOIN tap_o t USING (order_id) WHERE a.kind = 'stuck_order'$$,
	$$VALUES ('A', 'pending'), ('C', 'unknown'), ('D', 'working')$$,
	'A pending, C unknown and D working are alerted; B and E are not');
SELECT is((SELECT a.message FROM pgtrade.alert a JOIN tap_o t USING (order_id)
		   WHERE t.tag = 'A'),
	format('order %s (%s, buy 1 TAPX) has been pending for 00:11:00',
		   (SELECT order_id FROM tap_o WHERE tag = 'A'),
		   (SELECT client_order_id FROM pgtrade.orders o JOIN tap_o t
			USING (order_id) WHERE t.tag = 'A')),
	'the alert names the order, what it is and how long it has waited');
SELECT is(pgtrade.check_stuck_orders(), 0, 'an order is alerted once per state');
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders o SET status = 'submitting',
	updated_at = now() - interval '11 minutes'
FROM tap_o t WHERE t.order_id = o.order_id AND t.tag = 'A';
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is(pgtrade.check_stuck_orders(), 1,
	'stuck again in the next state: alerted again');
SELECT is(pgtrade.check_stuck_orders('1 day'), 0,
	'with a day''s patience nothing new is stuck');
SELECT throws_ok($$SELECT pgtrade.check_stuck_orders('30 seconds')$$, '22023',
	'an order is stuck after a minute or more, not 00:00:30',
	'a threshold under a minute is refused');

-- a pending order past valid_until that no listener claims is expired
INSERT INTO tap_o SELECT 'V', (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy',
	1, valid_for => '1 minute')).order_id;
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders o SET valid_until = now() - interval '1 second'
FROM tap_o t WHERE t.order_id = o.order_id AND t.tag = 'V';
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is(pgtrade.check_stuck_orders('1 day'), 0,
	'expiring an order raises no alert');
SELECT results_eq($$SELECT o.status, e.source, e.detail LIKE
	'not sent: valid until %, and no listener claimed it'
	FROM pgtrade.orders o JOIN tap_o t USING (order_id)
	JOIN pgtrade.order_event e USING (order_id)
	WHERE t.tag = 'V' AND e.to_status = 'expired'$$,
	$$VALUES ('expired', 'housekeeping', true)$$,
	'the stuck-order check expires a pending order past valid_until');

-- acknowledging
SELECT lives_ok($$SELECT pgtrade.acknowledge_alert((SELECT min(alert_id)
	FROM pgtrade.alert))$$, 'an alert is acknowledged');
SELECT is((SELECT acknowledged_by FROM pgtrade.alert ORDER BY alert_id
		   LIMIT 1), current_user::name, 'by whom');
SELECT is((SELECT count(*)::int FROM pgtrade.alerts
		   WHERE acknowledged_at IS NULL AND account_id = 'TAPACCT1'), 3,
	'three stay open');
SELECT throws_ok($$SELECT pgtrade.acknowledge_alert(-1)$$, '42704',
	'alert -1 does not exist', 'an unknown alert is refused');

-- a day order of an instrument without a calendar: stuck a day after
-- it was placed (and the check goes on for every other order)
SELECT pgtrade.add_instrument('TAPHKT', 990522, time_zone => 'Asia/Tokyo') \g /dev/null
INSERT INTO tap_o
SELECT 'F', (pgtrade.place_order('TAPACCT1', 'TAPHKT', 'buy', 1)).order_id;
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders o SET status = 'working',
	created_at = now() - interval '2 days'
FROM tap_o t WHERE t.order_id = o.order_id AND t.tag = 'F';
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is(pgtrade.check_stuck_orders(), 1,
	'a day order without a calendar is stuck a day after it was placed');

-- a trader of another account neither sees nor acknowledges them
CREATE ROLE tap_hk_trader IN ROLE pgtrade_trader;
SELECT pgtrade.add_account('TAPHK2') \g /dev/null
SELECT pgtrade.grant_account('tap_hk_trader', 'TAPHK2') \g /dev/null
SET ROLE tap_hk_trader;
SELECT is((SELECT count(*)::int FROM pgtrade.alerts), 0,
	'alerts of other accounts are not shown');
SELECT is((SELECT count(*)::int FROM pgtrade.alert), 0,
	'nor read from the table');
SELECT throws_ok($$SELECT pgtrade.acknowledge_alert((SELECT max(alert_id)
	FROM pgtrade.alert))$$, '42704', NULL, 'nor acknowledged');
SELECT throws_ok($$SELECT pgtrade.check_stuck_orders()$$, '42501', NULL,
	'the check is the scheduler''s');
RESET ROLE;

-- a strategy whose scheduled runs fail in a row is switched off
CREATE ROLE tap_hk_kinds IN ROLE pgtrade_reader;
CREATE SCHEMA tap_hk AUTHORIZATION tap_hk_kinds;
SET ROLE tap_hk_kinds;
CREATE FUNCTION tap_hk.broken_eval(jsonb, timestamptz[], float8[],
	float8[], float8[], float8[], float8[]) RETURNS jsonb LANGUAGE plpgsql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ BEGIN RAISE EXCEPTION 'evaluator exploded'; END $$;
CREATE FUNCTION tap_hk.broken_validate(jsonb) RETURNS int
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'SELECT 1';
SELECT pgtrade.register_kind('tap_hk_broken',
	'tap_hk.broken_eval(jsonb, timestamptz[], float8[], '
	'float8[], float8[], float8[], float8[])',
	'tap_hk.broken_validate(jsonb)') \g /dev/null
RESET ROLE;
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPX'), '1 day',
	'2024-01-02 05:00+00', 10, 10, 10, 10, 1000);
SELECT pgtrade.create_strategy('tap_hk_s', 'tap_hk_broken', 'TAPX', 'TAPACCT1',
	'{}', 1, active => true, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
UPDATE pgtrade.strategy SET disable_after_failures = 2 WHERE name = 'tap_hk_s';
CREATE FUNCTION pg_temp.tap_run_slot(p_ago interval) RETURNS boolean
LANGUAGE sql AS $$
	UPDATE pgtrade.strategy SET next_run_at = date_trunc('minute', now()) - p_ago
	WHERE name = 'tap_hk_s';
	SELECT pgtrade.run_next_due(now());
$$;
SELECT ok(pg_temp.tap_run_slot('3 minutes'), 'a first scheduled run');
SELECT is((SELECT active FROM pgtrade.strategy WHERE name = 'tap_hk_s'), true,
	'one failure leaves it on');
SELECT ok(pg_temp.tap_run_slot('2 minutes'), 'a second');
SELECT is((SELECT active FROM pgtrade.strategy WHERE name = 'tap_hk_s'), false,
	'two failures in a row switch it off');
SELECT matches((SELECT disabled_reason FROM pgtrade.strategy
				WHERE name = 'tap_hk_s'),
	'^switched off at .* after 2 scheduled runs failed in a row; the last: evaluator exploded$',
	'and say why');
SELECT is((SELECT count(*)::int FROM pgtrade.alerts
		   WHERE kind = 'strategy_disabled' AND strategy = 'tap_hk_s'), 1,
	'an alert is raised');
UPDATE pgtrade.strategy SET active = true WHERE name = 'tap_hk_s';
SELECT is((SELECT disabled_reason FROM pgtrade.strategy WHERE name = 'tap_hk_s'),
	NULL, 'switching it on again clears the reason');
SELECT ok(pg_temp.tap_run_slot('1 minute'), 'a third run fails');
SELECT is((SELECT active FROM pgtrade.strategy WHERE name = 'tap_hk_s'), true,
	'failures before it was switched on again do not count');
SELECT ok(pg_temp.tap_run_slot('4 minutes'), 'a fourth run fails');
SELECT is((SELECT active FROM pgtrade.strategy WHERE name = 'tap_hk_s'), false,
	'two failures since it was switched on: off again');
UPDATE pgtrade.strategy SET active = true, disable_after_failures = NULL
WHERE name = 'tap_hk_s';
SELECT ok(pg_temp.tap_run_slot('0 minutes'), 'a fifth run fails');
SELECT is((SELECT active FROM pgtrade.strategy WHERE name = 'tap_hk_s'), true,
	'with no limit it stays on');

-- the scheduler's commits: a transaction that placed no order need not
-- wait for its WAL; one that placed an order must, whatever the default.
-- This suite's transaction placed orders above: forget them, as a new
-- transaction of run_due would start without any.
SET LOCAL synchronous_commit = on;
SELECT set_config('pgtrade.order_placed', '', true) \g /dev/null
SELECT ok(pg_temp.tap_run_slot('5 minutes'), 'a run without an order');
SELECT is(current_setting('synchronous_commit'), 'off',
	'commits asynchronously');
SET ROLE tap_hk_kinds;
CREATE FUNCTION tap_hk.long_eval(jsonb, timestamptz[], float8[],
	float8[], float8[], float8[], float8[]) RETURNS jsonb LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT '{"target": 1, "reason": "always long"}'::jsonb $$;
SELECT pgtrade.register_kind('tap_hk_long',
	'tap_hk.long_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_hk.broken_validate(jsonb)') \g /dev/null
RESET ROLE;
SELECT pgtrade.add_instrument('TAPHKL', 990521) \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPHKL'), '1 day',
	'2024-01-02 05:00+00', 10, 10, 10, 10, 1000);
SELECT pgtrade.create_strategy('tap_hk_l', 'tap_hk_long', 'TAPHKL',
	'TAPACCT1', '{}', 1, active => true, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
UPDATE pgtrade.strategy SET next_run_at = date_trunc('minute', now())
WHERE name = 'tap_hk_l';
SET LOCAL synchronous_commit = off;
SELECT ok(pgtrade.run_next_due(now()), 'a run that places an order');
SELECT is((SELECT count(*)::int FROM pgtrade.orders o
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_hk_l'), 1, 'placed one');
SELECT is(current_setting('synchronous_commit'), 'on',
	'commits synchronously, though the session said off');
SELECT ok(pg_temp.tap_run_slot('30 seconds'), 'a run without an order after it');
SELECT is(current_setting('synchronous_commit'), 'on',
	'leaves the transaction synchronous: it placed an order');

-- a scheduler's time older than the grace makes a dry run: the decision
-- is recorded, no live order is placed on an old picture
UPDATE pgtrade.orders o SET status = 'cancelled'
FROM pgtrade.strategy s
WHERE s.strategy_id = o.strategy_id AND s.name = 'tap_hk_l'
	AND o.status = 'pending';
UPDATE pgtrade.strategy SET grace = '1 hour',
	next_run_at = date_trunc('minute', now()) - interval '2 hours'
WHERE name = 'tap_hk_l';
SELECT ok(pgtrade.run_next_due(now() - interval '90 minutes'),
	'a slot run as of 90 minutes ago, within its grace');
SELECT results_eq($$SELECT d.action, d.order_id IS NULL,
		d.reason ~ 'dry run: no order placed'
	FROM pgtrade.decision d JOIN pgtrade.strategy s USING (strategy_id)
	WHERE s.name = 'tap_hk_l' ORDER BY d.decision_id DESC LIMIT 1$$,
	$$VALUES ('buy'::text, true, true)$$,
	'decides to buy but places no order');

-- retention of run steps: runs, decisions and orders stay.  An
-- external decision's run has two steps (the decision as submitted, and
-- the netting); its order makes a third.
SELECT pgtrade.submit_decision('tap_hk_s', 1, 'tap: go long') \g /dev/null
UPDATE pgtrade.workflow_run SET finished_at = now() - interval '100 days'
WHERE run_id = (SELECT max(r.run_id) FROM pgtrade.workflow_run r
				JOIN pgtrade.strategy s USING (strategy_id)
				WHERE s.name = 'tap_hk_s');
SELECT is(pgtrade.purge_step_details('90 days'), 3::bigint,
	'the steps of a run finished 100 days ago are purged at 90 days');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
		   JOIN pgtrade.strategy s USING (strategy_id)
		   JOIN pgtrade.decision d USING (run_id)
		   WHERE s.name = 'tap_hk_s' AND d.order_id IS NOT NULL), 1,
	'the run, its decision and its order stay');
SELECT is(pgtrade.purge_step_details('90 days'), 0::bigint,
	'nothing is left to purge');
SELECT throws_ok($$SELECT pgtrade.purge_step_details('1 hour')$$, '22023',
	'keep at least a day of run steps, not 01:00:00',
	'less than a day is refused');

-- install_jobs: idempotent, by name
CREATE ROLE tap_cron LOGIN IN ROLE pgtrade_scheduler;
SELECT results_eq($$SELECT jobname, schedule, command
	FROM pgtrade.install_jobs('tap_cron', step_retention => '30 days')$$,
	$$VALUES ('pgtrade-run-due'::text, '* * * * *'::text,
			  'CALL pgtrade.run_due()'::text),
		('pgtrade-stuck-orders', '* * * * *',
		 'SELECT pgtrade.check_stuck_orders(''00:10:00'')'),
		('pgtrade-performance', '30 22 * * *',
		 'SELECT pgtrade.rollup_performance()'),
		('pgtrade-purge-run-details', '17 3 * * *',
		 'SELECT pgtrade.purge_run_details()'),
		('pgtrade-purge-step-details', '27 3 * * *',
		 'SELECT pgtrade.purge_step_details(''30 days'')'),
		('pgtrade-pack-bars', '37 3 * * *',
		 'SELECT count(*) FROM pgtrade.pack_bars()')$$,
	'install_jobs schedules six jobs');
SELECT is((SELECT count(*)::int FROM pgtrade.install_jobs('tap_cron')), 6,
	'and again');
SELECT results_eq($$SELECT jobname::text COLLATE "default", count(*)::int,
		min(username)
	FROM cron.job WHERE jobname LIKE 'pgtrade-%' GROUP BY jobname
	ORDER BY jobname$$,
	$$VALUES ('pgtrade-pack-bars', 1, 'tap_cron'),
		('pgtrade-performance', 1, 'tap_cron'),
		('pgtrade-purge-run-details', 1, 'tap_cron'),
		('pgtrade-purge-step-details', 1, 'tap_cron'),
		('pgtrade-run-due', 1, 'tap_cron'),
		('pgtrade-stuck-orders', 1, 'tap_cron')$$,
	'each job once, as the role asked');
SELECT is((SELECT count(*)::int FROM pgtrade.install_jobs('tap_cron',
	step_retention => NULL)
	WHERE jobname = 'pgtrade-purge-step-details'), 0,
	'without a step retention');
SELECT is((SELECT count(*)::int FROM cron.job
		   WHERE jobname = 'pgtrade-purge-step-details'), 0,
	'the step purge is unscheduled');
SELECT throws_ok($$SELECT pgtrade.install_jobs('tap_hk_trader')$$, '22023',
	NULL, 'a role that is not a scheduler is refused');

SELECT * FROM finish();
ROLLBACK;
