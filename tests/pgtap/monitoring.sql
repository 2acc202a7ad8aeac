-- monitoring.sql: the operator's views, monitor_accounts and monitor.
-- Three accounts of this suite only get orders in every open state at
-- known ages, fills on both sides of the day's start (one of them
-- corrected), broker rejections and gate refusals today and yesterday,
-- drift open, acknowledged and resolved, runs failed and missed inside
-- and outside 24 hours, stuck-order alerts, and listeners fresh, stale
-- and stopped.  Every figure expected below is counted by hand from
-- that list; now() is the transaction's start, t0, throughout.
\ir preamble.psql
SELECT plan(24);

-- TAPMON1 keeps UTC's day, TAPMON2 Tokyo's, TAPMON3 New York's (the
-- default); the reader below is granted the first two only.
SELECT pgtrade.add_account('TAPMON1', 'pgTAP monitoring', 'UTC') \g /dev/null
SELECT pgtrade.add_account('TAPMON2', 'pgTAP monitoring', 'Asia/Tokyo') \g /dev/null
SELECT pgtrade.add_account('TAPMON3', 'pgTAP monitoring') \g /dev/null
SELECT pgtrade.set_risk_limit(a, max_position => 1000000,
	max_order_quantity => 1000)
FROM unnest('{TAPMON1,TAPMON2,TAPMON3}'::text[]) a \g /dev/null
SELECT pgtrade.add_instrument('TAPMONY', 990712) \g /dev/null
-- where each account's day began, by date_trunc rather than the views'
-- cast to date
CREATE TEMP TABLE tap_day AS
SELECT a, date_trunc('day', now() AT TIME ZONE z) AT TIME ZONE z AS s,
	   date_trunc('day', now() AT TIME ZONE z)::date AS d
FROM (VALUES ('TAPMON1', 'UTC'), ('TAPMON2', 'Asia/Tokyo'),
			 ('TAPMON3', 'America/New_York')) v(a, z);
CREATE FUNCTION pg_temp.day_start(p_account text) RETURNS timestamptz
LANGUAGE sql AS $$ SELECT s FROM tap_day WHERE a = p_account $$;
-- only this suite's listeners (the transaction is rolled back)
DELETE FROM pgtrade.listener;

-- Broker rejections, through the listener's functions: R1 today, R2
-- moved to a second before the day began.  R1's second report is only
-- noted (rejected -> rejected) and must not count again.
CREATE TEMP TABLE tap_o (tag text PRIMARY KEY, order_id bigint);
INSERT INTO tap_o SELECT 'R1',
	(pgtrade.place_order('TAPMON1', 'TAPX', 'buy', 1)).order_id;
SELECT count(*) FROM pgtrade.claim_orders(7, '{TAPMON1}', 1) \g /dev/null
SELECT pgtrade.record_rejection((SELECT order_id FROM tap_o WHERE tag = 'R1'),
	'no margin') \g /dev/null
SELECT pgtrade.record_rejection((SELECT order_id FROM tap_o WHERE tag = 'R1'),
	'no margin, again') \g /dev/null
INSERT INTO tap_o SELECT 'R2',
	(pgtrade.place_order('TAPMON1', 'TAPX', 'buy', 1)).order_id;
SELECT count(*) FROM pgtrade.claim_orders(7, '{TAPMON1}', 1) \g /dev/null
SELECT pgtrade.record_rejection((SELECT order_id FROM tap_o WHERE tag = 'R2'),
	'no margin') \g /dev/null
ALTER TABLE pgtrade.order_event DISABLE TRIGGER append_only;
UPDATE pgtrade.order_event
SET at = pg_temp.day_start('TAPMON1') - interval '1 second'
WHERE order_id = (SELECT order_id FROM tap_o WHERE tag = 'R2')
	AND to_status = 'rejected';
ALTER TABLE pgtrade.order_event ENABLE TRIGGER append_only;

-- Drift, before any order is in flight (record_positions waits for
-- that).  TAPMON1 holds no TAPX, the broker shows 5 twice: open, and
-- blocking.  TAPMON2: 4 TAPX and 6 TAPMONY twice; the first is
-- acknowledged (unresolved, not blocking), the second resolved.
SELECT count(*) FROM pgtrade.record_positions(7, 'TAPMON1',
	'[{"conid": 990001, "position": "5"}]') \g /dev/null
SELECT count(*) FROM pgtrade.record_positions(7, 'TAPMON1',
	'[{"conid": 990001, "position": "5"}]') \g /dev/null
SELECT count(*) FROM pgtrade.record_positions(7, 'TAPMON2',
	'[{"conid": 990001, "position": "4"}, {"conid": 990712, "position": "6"}]')
	\g /dev/null
SELECT count(*) FROM pgtrade.record_positions(7, 'TAPMON2',
	'[{"conid": 990001, "position": "4"}, {"conid": 990712, "position": "6"}]')
	\g /dev/null
SELECT pgtrade.acknowledge_drift(drift_id, 'seen at the broker')
FROM pgtrade.position_drift
WHERE account_id = 'TAPMON2' AND conid = 990001 \g /dev/null
SELECT pgtrade.resolve_drift(drift_id, 'statement shows 6')
FROM pgtrade.position_drift
WHERE account_id = 'TAPMON2' AND conid = 990712 \g /dev/null

-- Refusals by the gate (over max_order_quantity 1000): F1 and F3 today,
-- F2 placed a second before TAPMON1's day began.
INSERT INTO tap_o
SELECT tag, (pgtrade.place_order(acct, 'TAPX', 'buy', 5000)).order_id
FROM (VALUES ('F1', 'TAPMON1'), ('F2', 'TAPMON1'), ('F3', 'TAPMON2')) v(tag, acct);

-- Orders in every open state, and two that are done, with their ages
-- (seconds before t0) forced with the state machine's trigger off:
--   TAPMON1  P1 pending 90, P2 pending 30, S1 submitting 200 (last moved
--            15 minutes ago: stuck), W1 working GTC 172800 (2 days),
--            C1 cancel_requested 10, U1 unknown 60; X1 filled and X2
--            cancelled, 3 days old, are not open
--   TAPMON2  P3 pending 660 (and as long unmoved: stuck), W2 working 100
--   TAPMON3  P4 pending 5000
INSERT INTO tap_o
SELECT tag, (pgtrade.place_order(acct, 'TAPX', 'buy', 1,
	tif => 'gtc')).order_id
FROM (VALUES ('P1', 'TAPMON1'), ('P2', 'TAPMON1'), ('S1', 'TAPMON1'),
			 ('W1', 'TAPMON1'), ('C1', 'TAPMON1'), ('U1', 'TAPMON1'),
			 ('X1', 'TAPMON1'), ('X2', 'TAPMON1'), ('P3', 'TAPMON2'),
			 ('W2', 'TAPMON2'), ('P4', 'TAPMON3')) v(tag, acct);
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders o SET status = v.status,
	created_at = now() - v.age * interval '1 second',
	updated_at = now() - v.idle * interval '1 second'
FROM tap_o t
JOIN (VALUES ('P1', 'pending', 90, 0), ('P2', 'pending', 30, 0),
		('S1', 'submitting', 200, 900), ('W1', 'working', 172800, 0),
		('C1', 'cancel_requested', 10, 0), ('U1', 'unknown', 60, 0),
		('X1', 'filled', 259200, 0), ('X2', 'cancelled', 259200, 0),
		('P3', 'pending', 660, 660), ('W2', 'working', 100, 0),
		('P4', 'pending', 5000, 0)) v(tag, status, age, idle)
	USING (tag)
WHERE o.order_id = t.order_id;
UPDATE pgtrade.orders o SET created_at = pg_temp.day_start('TAPMON1')
	- interval '1 second'
FROM tap_o t WHERE t.order_id = o.order_id AND t.tag = 'F2';
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;

-- Fills (executions not linked to an order).  TAPMON1: 10 x 50 at t0,
-- 3 x 101.5 at t0 corrected to 3 x 101, 2 x 20 right at the day's
-- start, 7 x 10 a second before it: 3 fills today, 500 + 303 + 40 =
-- 843.  TAPMON2: 1 x 99.99 at t0, and 5 x 10 a second before Tokyo's
-- midnight.  TAPMON3: 100 x 1 at t0.
SELECT pgtrade.record_fill(x, NULL, acct, 990001, side, q, p, t)
FROM (VALUES
	('tapmon.0001.01.01', 'TAPMON1', 'B', 10, 50, now()),
	('tapmon.0002.01.01', 'TAPMON1', 'B', 3, 101.5, now()),
	('tapmon.0002.01.02', 'TAPMON1', 'B', 3, 101, now()),
	('tapmon.0003.01.01', 'TAPMON1', 'S', 2, 20, pg_temp.day_start('TAPMON1')),
	('tapmon.0004.01.01', 'TAPMON1', 'B', 7, 10,
	 pg_temp.day_start('TAPMON1') - interval '1 second'),
	('tapmon.0005.01.01', 'TAPMON2', 'B', 1, 99.99, now()),
	('tapmon.0006.01.01', 'TAPMON2', 'B', 5, 10,
	 pg_temp.day_start('TAPMON2') - interval '1 second'),
	('tapmon.0007.01.01', 'TAPMON3', 'B', 100, 1, now()))
	v(x, acct, side, q, p, t) \g /dev/null

-- Runs (hours before t0).  TAPMON1: failed 1 h (counts), failed 24 h
-- and 25 h (outside), missed 2 h (counts), succeeded and skipped 1 h.
-- TAPMON2: failed 23 h (counts).
SELECT pgtrade.create_strategy('tap_mon_' || a, 'sma_cross', 'TAPX', a,
	'{"fast": 2, "slow": 3}', 1)
FROM unnest('{TAPMON1,TAPMON2}'::text[]) a \g /dev/null
INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of, status,
	started_at)
SELECT s.strategy_id, 'cron', now() - v.h * interval '1 hour' - v.n * interval '1 minute',
	now(), v.status, now() - v.h * interval '1 hour'
FROM (VALUES ('TAPMON1', 'failed', 1, 0), ('TAPMON1', 'failed', 24, 0),
			 ('TAPMON1', 'failed', 25, 0), ('TAPMON1', 'missed', 2, 0),
			 ('TAPMON1', 'succeeded', 1, 1), ('TAPMON1', 'skipped', 1, 2),
			 ('TAPMON2', 'failed', 23, 0)) v(acct, status, h, n)
JOIN pgtrade.strategy s ON s.name = 'tap_mon_' || v.acct;

-- Alerts: S1 (submitting 15 minutes), U1 (unknown) and P3 (pending 11
-- minutes) are stuck; S1's is acknowledged.  Open: TAPMON1 1, TAPMON2 1.
SELECT pgtrade.check_stuck_orders() \g /dev/null
SELECT pgtrade.acknowledge_alert(a.alert_id) FROM pgtrade.alert a
JOIN tap_o t USING (order_id) WHERE t.tag = 'S1' \g /dev/null

-- Kill switches: TAPMON2's account switch counts; a switch on one
-- strategy of TAPMON1 does not.  TAPMON2 is halted.
SELECT pgtrade.set_trading_enabled(false, 'TAPMON2') \g /dev/null
SELECT pgtrade.set_trading_enabled(false, 'TAPMON1',
	(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_mon_TAPMON1'))
	\g /dev/null
UPDATE pgtrade.account SET halted = true, halt_reason = 'pgTAP'
WHERE account_id = 'TAPMON2';

-- Listeners (heartbeat seconds before t0):
--   L1 TAPMON1, authenticated, 45: alive
--   L2 TAPMON2, down, 5: alive, the freshest
--   L3 TAPMON2 and TAPMON3, authenticated, stopped, 100
--   L4 TAPMON1, authenticated, 3600, never stopped: stale
CREATE TEMP TABLE tap_l (tag text PRIMARY KEY, id bigint);
INSERT INTO tap_l SELECT tag, pgtrade.listener_register('tap' || tag, 1, 'x')
FROM unnest('{L1,L2,L3,L4}'::text[]) tag;
SELECT pgtrade.listener_heartbeat(l.id, v.state, v.accts, NULL)
FROM tap_l l JOIN (VALUES ('L1', 'authenticated', '{TAPMON1}'::text[]),
	('L2', 'down', '{TAPMON2}'), ('L3', 'authenticated', '{TAPMON2,TAPMON3}'),
	('L4', 'authenticated', '{TAPMON1}')) v(tag, state, accts) USING (tag)
	\g /dev/null
SELECT pgtrade.listener_stopped(id) FROM tap_l WHERE tag = 'L3' \g /dev/null
UPDATE pgtrade.listener li SET heartbeat_at = now() - v.age * interval '1 second'
FROM tap_l l JOIN (VALUES ('L1', 45), ('L2', 5), ('L3', 100), ('L4', 3600))
	v(tag, age) USING (tag)
WHERE li.listener_id = l.id;

-- per account, as the owner sees them
SELECT results_eq($$SELECT account_id, pending_orders,
	oldest_pending_order_age_seconds, submitting_orders, working_orders,
	cancel_requested_orders, unknown_orders, open_orders,
	oldest_open_order_age_seconds
	FROM pgtrade.monitor_accounts WHERE account_id LIKE 'TAPMON_'
	ORDER BY account_id$$,
	$$VALUES ('TAPMON1', 2::bigint, 90::numeric, 1::bigint, 1::bigint,
			  1::bigint, 1::bigint, 6::bigint, 172800::numeric),
		('TAPMON2', 1, 660, 0, 1, 0, 0, 2, 660),
		('TAPMON3', 1, 5000, 0, 0, 0, 0, 1, 5000)$$,
	'open orders by state, with the oldest pending and open order''s age');
SELECT results_eq($$SELECT account_id, trading_day, day_start, fills_today,
	fills_today_notional, rejects_today, refusals_today
	FROM pgtrade.monitor_accounts WHERE account_id LIKE 'TAPMON_'
	ORDER BY account_id$$,
	$$SELECT a, d, s, v.f::bigint, v.n::numeric, v.rj::bigint, v.rf::bigint
	  FROM tap_day JOIN (VALUES ('TAPMON1', 3, 843, 1, 1),
		('TAPMON2', 1, 99.99, 0, 1), ('TAPMON3', 1, 100, 0, 0))
		v(a, f, n, rj, rf) USING (a) ORDER BY a$$,
	'today is each account''s own day: fills, notional, rejects, refusals');
SELECT results_eq($$SELECT account_id, drifts_blocking, drifts_unresolved,
	runs_failed_24h, runs_missed_24h, alerts_unacknowledged, halted,
	kill_switch
	FROM pgtrade.monitor_accounts WHERE account_id LIKE 'TAPMON_'
	ORDER BY account_id$$,
	$$VALUES ('TAPMON1', 1::bigint, 1::bigint, 1::bigint, 1::bigint,
			  1::bigint, 0, 0),
		('TAPMON2', 0, 1, 1, 0, 1, 1, 1),
		('TAPMON3', 0, 0, 0, 0, 0, 0, 0)$$,
	'drift, runs of the last 24 hours, open alerts, halt and kill switch');
SELECT results_eq($$SELECT account_id, listener_heartbeat_age_seconds,
	gateway_state, gateway_ready
	FROM pgtrade.monitor_accounts WHERE account_id LIKE 'TAPMON_'
	ORDER BY account_id$$,
	$$VALUES ('TAPMON1', 45::numeric, 'authenticated', 1),
		('TAPMON2', 5, 'down', 0), ('TAPMON3', 100, 'stopped', 0)$$,
	'each account''s figures come from the listener that last held it');

-- the boundaries, one by one
SELECT is((SELECT count(*)::int FROM pgtrade.order_event e
		   JOIN tap_o t USING (order_id)
		   WHERE t.tag = 'R1' AND e.to_status = 'rejected'), 2,
	'R1 has two rejected events (the move and a note), counted once above');
SELECT is((SELECT fills_today FROM pgtrade.monitor_accounts
		   WHERE account_id = 'TAPMON1'), 3::bigint,
	'a fill at the day''s very start counts, one a second before does not');
SELECT is((SELECT runs_failed_24h FROM pgtrade.monitor_accounts
		   WHERE account_id = 'TAPMON1'), 1::bigint,
	'a run 24 hours old is out of the last 24 hours');

-- kill switches for all accounts count for every account
SELECT pgtrade.set_trading_enabled(false) \g /dev/null
SELECT results_eq($$SELECT kill_switch FROM pgtrade.monitor_accounts
	WHERE account_id LIKE 'TAPMON_' ORDER BY account_id$$,
	$$VALUES (1), (1), (1)$$, 'a switch for all accounts covers each');
SELECT pgtrade.set_trading_enabled(true) \g /dev/null

-- the total row as a reader granted TAPMON1 and TAPMON2 sees it: sums,
-- the oldest ages (TAPMON3's 5000 s pending order is not shown), and
-- the freshest listener L2 (alive: L1, L2)
CREATE ROLE tap_mon_reader IN ROLE pgtrade_reader;
SELECT pgtrade.grant_account('tap_mon_reader', a)
FROM unnest('{TAPMON1,TAPMON2}'::text[]) a \g /dev/null
CREATE ROLE tap_mon_nobody IN ROLE pgtrade_reader;
CREATE ROLE tap_mon_trader IN ROLE pgtrade_trader;
SELECT pgtrade.grant_account('tap_mon_trader', 'TAPMON2') \g /dev/null

SET ROLE tap_mon_reader;
SELECT results_eq($$SELECT account_id FROM pgtrade.monitor_accounts
	ORDER BY 1$$, $$VALUES ('TAPMON1'), ('TAPMON2')$$,
	'a reader sees the accounts granted to it');
SELECT results_eq($$SELECT accounts, halted_accounts, kill_switched_accounts,
	pending_orders, oldest_pending_order_age_seconds, submitting_orders,
	working_orders, cancel_requested_orders, unknown_orders, open_orders,
	oldest_open_order_age_seconds FROM pgtrade.monitor$$,
	$$VALUES (2::bigint, 1::bigint, 1::bigint, 3::bigint, 660::numeric,
			  1::bigint, 2::bigint, 1::bigint, 1::bigint, 8::bigint,
			  172800::numeric)$$,
	'the reader''s total: accounts, halts, switches and open orders');
SELECT results_eq($$SELECT fills_today, fills_today_notional, rejects_today,
	refusals_today, drifts_blocking, drifts_unresolved, runs_failed_24h,
	runs_missed_24h, alerts_unacknowledged FROM pgtrade.monitor$$,
	$$VALUES (4::bigint, 942.99::numeric, 1::bigint, 2::bigint, 1::bigint,
			  2::bigint, 2::bigint, 1::bigint, 2::bigint)$$,
	'the reader''s total: today, drift, runs and alerts');
SELECT results_eq($$SELECT listeners_alive, listener_heartbeat_age_seconds,
	gateway_state, gateway_ready FROM pgtrade.monitor$$,
	$$VALUES (2::bigint, 5::numeric, 'down', 0)$$,
	'the freshest listener is L2, down; L1 and L2 are alive');
SELECT throws_ok($$SELECT count(*) FROM pgtrade.orders$$, '42501', NULL,
	'the reader still cannot read the orders table');
RESET ROLE;

SET ROLE tap_mon_nobody;
SELECT results_eq($$SELECT accounts, pending_orders,
	oldest_pending_order_age_seconds, fills_today_notional, listeners_alive
	FROM pgtrade.monitor$$,
	$$VALUES (0::bigint, 0::bigint, 0::numeric, 0::numeric, 2::bigint)$$,
	'a reader granted nothing gets one row of zeros, and the listeners');
SELECT is_empty($$SELECT * FROM pgtrade.monitor_accounts$$,
	'and no account rows');
RESET ROLE;

SET ROLE tap_mon_trader;
SELECT results_eq($$SELECT accounts, pending_orders, fills_today,
	alerts_unacknowledged FROM pgtrade.monitor$$,
	$$VALUES (1::bigint, 1::bigint, 1::bigint, 1::bigint)$$,
	'a trader''s total covers the accounts granted to it');
RESET ROLE;

-- the scheduler's heartbeat: NULL before run_due's first call, then its
-- age (a pg_cron job of the database may have called run_due already)
DELETE FROM pgtrade.scheduler_tick;
SELECT is((SELECT scheduler_tick_age_seconds FROM pgtrade.monitor), NULL,
	'no scheduler heartbeat before run_due''s first call');
SELECT pgtrade.scheduler_ticked(now() - interval '90 seconds') \g /dev/null
SELECT pgtrade.scheduler_ticked(now() - interval '150 seconds') \g /dev/null
SELECT is((SELECT scheduler_tick_age_seconds FROM pgtrade.monitor), 90::numeric,
	'its age is that of the latest call recorded, 90 s, not an older one');

-- the freshest heartbeat moves with the listeners
SELECT pgtrade.listener_heartbeat(id, 'authenticated', '{TAPMON1}', NULL)
FROM tap_l WHERE tag = 'L1' \g /dev/null
SELECT results_eq($$SELECT listeners_alive, listener_heartbeat_age_seconds,
	gateway_state, gateway_ready FROM pgtrade.monitor$$,
	$$VALUES (2::bigint, 0::numeric, 'authenticated', 1)$$,
	'a heartbeat now makes L1 the freshest: authenticated, ready');
SELECT pgtrade.listener_stopped(id) FROM tap_l WHERE tag = 'L1' \g /dev/null
SELECT results_eq($$SELECT listeners_alive, listener_heartbeat_age_seconds,
	gateway_state, gateway_ready FROM pgtrade.monitor$$,
	$$VALUES (1::bigint, 0::numeric, 'stopped', 0)$$,
	'L1 stopped: its last heartbeat is the freshest, not ready, one alive');
SELECT results_eq($$SELECT gateway_state, gateway_ready
	FROM pgtrade.monitor_accounts WHERE account_id = 'TAPMON1'$$,
	$$VALUES ('stopped', 0)$$,
	'and TAPMON1''s listener is shown stopped');
DELETE FROM pgtrade.listener;
SELECT results_eq($$SELECT listeners_alive, listener_heartbeat_age_seconds,
	gateway_state, gateway_ready FROM pgtrade.monitor$$,
	$$VALUES (0::bigint, NULL::numeric, NULL::text, 0)$$,
	'no listener ever: no heartbeat age, no state, not ready');

SELECT ok((SELECT bool_and(c.reloptions @> '{security_barrier=true}')
		   FROM pg_class c
		   WHERE c.oid IN ('pgtrade.monitor'::regclass,
						   'pgtrade.monitor_accounts'::regclass)),
	'both views are security barriers');
SELECT ok(has_table_privilege('pgtrade_reader', 'pgtrade.monitor', 'SELECT')
	AND has_table_privilege('pgtrade_reader', 'pgtrade.monitor_accounts',
							'SELECT')
	AND NOT has_table_privilege('pgtrade_listener', 'pgtrade.monitor',
								'SELECT'),
	'readers, traders and admins read them; the listener does not');

SELECT * FROM finish();
ROLLBACK;
