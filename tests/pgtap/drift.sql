-- drift.sql: broker position reconciliation: record_positions and its
-- two-snapshot rule, drift that blocks an account, the operator's
-- acknowledge_drift and resolve_drift with their errors, adjustments
-- kept by position_rebuild, and who may call what.  Quantities are
-- worked out by hand next to each case.
\ir preamble.psql
SELECT plan(83);

-- A second account and instrument of this suite only.
SELECT pgtrade.add_account('TAPDRIFT2', 'pgTAP drift fixture') \g /dev/null
SELECT pgtrade.add_instrument('TAPY', 990002) \g /dev/null

-- pgtrade holds 10 TAPX in TAPACCT1: buy 12, sell 2 (unlinked executions)
SELECT pgtrade.record_fill('tapdrift.0001.01.01', NULL, 'TAPACCT1', 990001,
	'B', 12, 50, '2026-01-05 15:00+00') \g /dev/null
SELECT pgtrade.record_fill('tapdrift.0002.01.01', NULL, 'TAPACCT1', 990001,
	'S', 2, 55, '2026-01-05 15:01+00') \g /dev/null

CREATE FUNCTION pg_temp.cmp(p_listener bigint, p_account text, p_pos jsonb)
RETURNS TABLE (drift_id bigint, conid bigint, pgtrade_quantity numeric,
	broker_quantity numeric, outcome text)
LANGUAGE sql AS $$
	SELECT r.drift_id, r.conid, r.pgtrade_quantity, r.broker_quantity,
		   r.outcome
	FROM pgtrade.record_positions(p_listener, p_account, p_pos) r
	ORDER BY r.conid NULLS FIRST, r.outcome;
$$;

-- what the broker reports must be finite: NaN compares above every
-- number, and a NaN position would pass the gate's limits
SELECT throws_ok($$SELECT * FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": "NaN"}]')$$, '22023',
	'broker position NaN of conid 990001 is not a finite number',
	'a NaN broker position is refused');
SELECT throws_ok($$SELECT pgtrade.record_fill('tapdrift.nan.01.01', NULL,
	'TAPACCT1', 990001, 'B', 'NaN', 50, '2026-01-05 15:02+00')$$, '23514',
	NULL, 'a NaN fill quantity is refused');
SELECT throws_ok($$SELECT pgtrade.record_fill('tapdrift.inf.01.01', NULL,
	'TAPACCT1', 990001, 'B', 1, 'Infinity', '2026-01-05 15:02+00')$$, '23514',
	NULL, 'an infinite fill price is refused');
SELECT throws_ok($$SELECT pgtrade.record_fill('tapdrift.0001.01.01', NULL,
	'TAPACCT1', 990001, 'B', 12, 50, '2026-01-05 15:00+00', 'NaN')$$,
	'23514', NULL, 'a NaN commission is refused');
SELECT is(pgtrade.position_quantity('TAPACCT1', pgtrade.instrument_id('TAPX')),
	10::numeric, 'and the position is still 12 - 2 = 10');

-- agreement: the broker also shows 10 (as the text "10.0")
SELECT is_empty($$SELECT * FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": "10.0"}]')$$,
	'equal quantities give no row');
SELECT is((SELECT outcome FROM pgtrade.position_check
		   WHERE account_id = 'TAPACCT1'), 'agreed',
	'position_check records the agreement');

-- the broker shows 13: suspected first, drift on the second snapshot
SELECT results_eq($$SELECT * FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": "13"}]')$$,
	$$VALUES (NULL::bigint, 990001::bigint, 10::numeric, 13::numeric,
		'suspected'::text)$$,
	'a first difference is only suspected');
SELECT is((SELECT count(*)::int FROM pgtrade.position_drift
		   WHERE account_id = 'TAPACCT1'), 0,
	'a suspected difference is not recorded as drift');
CREATE TEMP TABLE tap_first AS SELECT suspected_since AS t
	FROM pgtrade.position_check WHERE account_id = 'TAPACCT1';
SELECT is(pgtrade.drift_blocked_accounts('{TAPACCT1}'), '{}'::text[],
	'a suspected difference does not block the account in the database');
SELECT results_eq($$SELECT conid, pgtrade_quantity, broker_quantity, outcome
	FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": "13"}]')$$,
	$$VALUES (990001::bigint, 10::numeric, 13::numeric, 'drift'::text)$$,
	'the same difference in the next snapshot is drift');
SELECT results_eq($$SELECT account_id, symbol, pgtrade_quantity,
	broker_quantity, difference, status, listener_id
	FROM pgtrade.position_drift WHERE account_id = 'TAPACCT1'$$,
	$$VALUES ('TAPACCT1', 'TAPX', 10::numeric, 13::numeric, 3::numeric,
		'open', 1::bigint)$$,
	'the drift row holds both quantities and a difference of 13 - 10 = 3');
SELECT is((SELECT first_seen FROM pgtrade.position_drift
		   WHERE account_id = 'TAPACCT1'), (SELECT t FROM tap_first),
	'first_seen is the time of the first snapshot');
SELECT is(pgtrade.drift_blocked_accounts('{TAPACCT1,TAPDRIFT2}'),
	'{TAPACCT1}'::text[], 'open drift blocks its account, not another');
SELECT results_eq($$SELECT outcome FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": "13"}]')$$,
	$$VALUES ('open'::text)$$,
	'a third snapshot reports the recorded open drift');
SELECT is((SELECT count(*)::int FROM pgtrade.position_drift
		   WHERE account_id = 'TAPACCT1'), 1,
	'seeing it again adds no second row');
SELECT is((SELECT outcome FROM pgtrade.position_check
		   WHERE account_id = 'TAPACCT1'), 'drift',
	'position_check says drift');
CREATE TEMP TABLE tap_l2 AS
	SELECT pgtrade.listener_register('tapdrift2', 1, 'x') AS id;
SELECT pgtrade.listener_heartbeat((SELECT id FROM tap_l2), 'authenticated',
	'{TAPDRIFT2}', NULL) \g /dev/null
SELECT results_eq($$SELECT health, drift_blocked FROM pgtrade.listener_health
	WHERE listener_id = (SELECT id FROM tap_l2)$$,
	$$VALUES ('alive', '{}'::text[])$$,
	'a listener serving only an account without drift is alive');

-- listener_health names the accounts drift blocks
CREATE TEMP TABLE tap_l AS
	SELECT pgtrade.listener_register('tapdrift', 2, 'x') AS id;
SELECT pgtrade.listener_heartbeat((SELECT id FROM tap_l), 'authenticated',
	'{TAPACCT1,TAPDRIFT2}', NULL) \g /dev/null
SELECT results_eq($$SELECT health, drift_blocked FROM pgtrade.listener_health
	WHERE listener_id = (SELECT id FROM tap_l)$$,
	$$VALUES ('drift blocks TAPACCT1', '{TAPACCT1}'::text[])$$,
	'listener_health says which served account drift blocks');

-- a later comparison that agrees closes it
SELECT results_eq($$SELECT outcome, pgtrade_quantity, broker_quantity
	FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "symbol": "TAPX", "position": 10}]')$$,
	$$VALUES ('agreed'::text, 10::numeric, 10::numeric)$$,
	'a comparison that agrees reports the drift as agreed');
SELECT results_eq($$SELECT status, resolution, resolved_by
	FROM pgtrade.position_drift WHERE account_id = 'TAPACCT1'$$,
	$$VALUES ('resolved', 'agreed', 'listener 1')$$,
	'the drift is resolved as agreed by the listener');
SELECT is(pgtrade.drift_blocked_accounts('{TAPACCT1}'), '{}'::text[],
	'the account is no longer blocked');

-- the chain breaks: another listener, or activity in between
SELECT is((SELECT outcome FROM pg_temp.cmp(1, 'TAPACCT1',
	'[{"conid": 990001, "position": 11}]')), 'suspected',
	'11 against 10 is suspected');
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 11}]')), 'suspected',
	'a snapshot by another listener does not confirm it');
SELECT pgtrade.record_fill('tapdrift.0003.01.01', NULL, 'TAPACCT1', 990001,
	'B', 1, 50, '2026-01-05 15:02+00') \g /dev/null
-- position now 10 + 1 = 11; the broker shows 12
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 12}]')), 'suspected',
	'12 against 11 after a fill is suspected anew');
SELECT pgtrade.record_fill('tapdrift.0004.01.01', NULL, 'TAPACCT1', 990001,
	'S', 1, 50, '2026-01-05 15:03+00') \g /dev/null
SELECT pgtrade.record_fill('tapdrift.0005.01.01', NULL, 'TAPACCT1', 990001,
	'B', 1, 50, '2026-01-05 15:04+00') \g /dev/null
-- still 11 after a sell and a buy of 1: same quantities, but fills came
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 12}]')), 'suspected',
	'fills between two snapshots keep the difference suspected');
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 12}]')), 'drift',
	'with nothing in between it becomes drift');

-- an order in flight postpones the comparison
CREATE TEMP TABLE tap_o AS SELECT (pgtrade.place_order('TAPACCT1', 'TAPX',
	'buy', 1)).order_id AS id;
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(2, '{TAPACCT1}')),
	0, 'open drift holds the account''s claims in the database too');
-- a claim over two accounts passes the blocked one over, not the other
SELECT pgtrade.set_risk_limit('TAPDRIFT2', max_position => 100) \g /dev/null
CREATE TEMP TABLE tap_o2 AS SELECT (pgtrade.place_order('TAPDRIFT2', 'TAPY',
	'buy', 1)).order_id AS id;
SELECT results_eq($$SELECT order_id, account_id FROM pgtrade.claim_orders(2,
	'{TAPACCT1,TAPDRIFT2}', 16)$$,
	$$SELECT id, 'TAPDRIFT2'::text FROM tap_o2$$,
	'claiming for both accounts takes only the order of the one without drift');
SELECT pgtrade.record_rejection((SELECT id FROM tap_o2), 'tap: not sent')
	\g /dev/null
-- fixture: the order in flight, as if claimed before the drift opened
UPDATE pgtrade.orders SET status = 'submitting'
WHERE order_id = (SELECT id FROM tap_o);
SELECT results_eq($$SELECT drift_id, conid, outcome FROM pg_temp.cmp(2,
	'TAPACCT1', '[{"conid": 990001, "position": 99}]')$$,
	$$VALUES (NULL::bigint, NULL::bigint, 'postponed'::text)$$,
	'an order in flight postpones the comparison');
SELECT is((SELECT outcome FROM pgtrade.position_check
		   WHERE account_id = 'TAPACCT1'), 'postponed',
	'position_check says postponed');
SELECT pgtrade.record_rejection((SELECT id FROM tap_o), 'tap: not sent')
	\g /dev/null

-- an order resting unchanged at the broker (a GTC limit, a bracket's
-- exits) does not postpone: TAPDRIFT2 holds 0 TAPY, a buy limit of 2 works
CREATE TEMP TABLE tap_o3 AS SELECT (pgtrade.place_order('TAPDRIFT2', 'TAPY',
	'buy', 2, 'limit', 40)).order_id AS id;
UPDATE pgtrade.orders SET status = 'submitting'
WHERE order_id = (SELECT id FROM tap_o3);
SELECT is(pgtrade.record_submission((SELECT id FROM tap_o3), 'tap-b3',
	'Submitted'), 'working', 'fixture: a TAPDRIFT2 limit order works');
SELECT is((SELECT count(*)::int FROM pg_temp.cmp(2, 'TAPDRIFT2', '[]')), 0,
	'with the order working the positions are compared: nothing differs');
SELECT is((SELECT outcome FROM pgtrade.position_check
		   WHERE account_id = 'TAPDRIFT2'), 'agreed',
	'position_check says agreed, not postponed');
-- a manual buy of 3 at the broker: broker 3, pgtrade 0
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 3}]')), 'suspected',
	'a difference beside a resting order is suspected first');
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 3}]')), 'drift',
	'and becomes drift when seen again with the order unchanged');
-- a late fill closes the gap before the operator resolves: the drift is
-- out of date, and adding its difference would open one of its own
SELECT pgtrade.record_fill('tapdrift.late.01.01', NULL, 'TAPDRIFT2', 990002,
	'B', 3, 40, '2026-01-05 15:05+00') \g /dev/null
SELECT throws_ok($$SELECT pgtrade.resolve_drift((SELECT drift_id
	FROM pgtrade.position_drift WHERE account_id = 'TAPDRIFT2'
		AND status = 'open'), 'broker shows 3')$$, '55000',
	NULL, 'resolving a drift a fill since has overtaken is refused');
SELECT is(pgtrade.position_quantity('TAPDRIFT2', pgtrade.instrument_id('TAPY')),
	3::numeric, 'and the position stays 3, the broker''s');
SELECT pgtrade.record_fill('tapdrift.late.02.01', NULL, 'TAPDRIFT2', 990002,
	'S', 3, 40, '2026-01-05 15:06+00') \g /dev/null
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2', '[]')), 'agreed',
	'the broker back at 0 resolves it as agreed');
-- a status report of the resting order between snapshots breaks the chain
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 3}]')), 'suspected',
	'suspected again');
SELECT pgtrade.record_status((SELECT id FROM tap_o3), 'PreSubmitted')
	\g /dev/null
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 3}]')), 'suspected',
	'a status report of the working order in between keeps it suspected');
-- a fill the broker reported but pgtrade has not recorded postpones
SELECT pgtrade.record_status((SELECT id FROM tap_o3), 'Submitted', 1)
	\g /dev/null
SELECT results_eq($$SELECT drift_id, conid, outcome FROM pg_temp.cmp(2,
	'TAPDRIFT2', '[{"conid": 990002, "position": 1}]')$$,
	$$VALUES (NULL::bigint, NULL::bigint, 'postponed'::text)$$,
	'a working order with a reported fill not recorded postpones');
SELECT pgtrade.record_fill('tapdrift.o3.01.01', (SELECT client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT id FROM tap_o3)),
	'TAPDRIFT2', 990002, 'B', 1, 40, '2026-01-05 15:10+00') \g /dev/null
SELECT is((SELECT count(*)::int FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 1}]')), 0,
	'once the fill is recorded the comparison is made: 1 and 1 agree');
-- an order that ended filled whose fills the trades have not shown yet
-- postpones for five minutes after its last change, then is compared
SELECT pgtrade.record_status((SELECT id FROM tap_o3), 'Filled', 2)
	\g /dev/null
SELECT results_eq($$SELECT drift_id, conid, outcome FROM pg_temp.cmp(2,
	'TAPDRIFT2', '[{"conid": 990002, "position": 2}]')$$,
	$$VALUES (NULL::bigint, NULL::bigint, 'postponed'::text)$$,
	'a filled order with a fill still to record postpones');
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders SET updated_at = clock_timestamp() - interval '6 minutes'
WHERE order_id = (SELECT id FROM tap_o3);
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPDRIFT2',
	'[{"conid": 990002, "position": 2}]')), 'suspected',
	'six minutes on the missing fill no longer postpones: 1 against 2');
SELECT pgtrade.record_fill('tapdrift.o3.02.01', (SELECT client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT id FROM tap_o3)),
	'TAPDRIFT2', 990002, 'B', 1, 40, '2026-01-05 15:10+00') \g /dev/null
SELECT pgtrade.record_fill('tapdrift.o3s.02.01', NULL, 'TAPDRIFT2', 990002,
	'S', 1, 41, '2026-01-05 15:11+00') \g /dev/null
-- back to flat in TAPY for what follows
SELECT pgtrade.record_fill('tapdrift.o3s.01.01', NULL, 'TAPDRIFT2', 990002,
	'S', 1, 41, '2026-01-05 15:11+00') \g /dev/null

-- acknowledge: errors first
CREATE TEMP TABLE tap_d AS SELECT drift_id AS id FROM pgtrade.position_drift
	WHERE account_id = 'TAPACCT1' AND status = 'open';
SELECT throws_ok($$SELECT pgtrade.acknowledge_drift(-1, 'x')$$, 'P0002',
	'position drift -1 does not exist', 'acknowledging an unknown drift id');
SELECT throws_ok($$SELECT pgtrade.acknowledge_drift((SELECT id FROM tap_d),
	'  ')$$, '22023',
	'settling position drift needs a note saying what the broker shows',
	'acknowledging without a note');
SELECT throws_ok($$SELECT pgtrade.acknowledge_drift((SELECT id FROM tap_d),
	NULL)$$, '22023', NULL, 'acknowledging with a NULL note');
SELECT lives_ok($$SELECT pgtrade.acknowledge_drift((SELECT id FROM tap_d),
	'broker shows 12 after a manual buy; fine')$$, 'acknowledge_drift');
SELECT results_eq($$SELECT status, acknowledged_by = session_user, note
	FROM pgtrade.position_drift WHERE drift_id = (SELECT id FROM tap_d)$$,
	$$VALUES ('acknowledged', true, 'broker shows 12 after a manual buy; fine')$$,
	'the drift is acknowledged by the caller with the note');
SELECT is(pgtrade.drift_blocked_accounts('{TAPACCT1}'), '{}'::text[],
	'acknowledged drift does not block');
SELECT throws_ok($$SELECT pgtrade.acknowledge_drift((SELECT id FROM tap_d),
	'again')$$, '55000', NULL, 'acknowledging twice');
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 12}]')), 'acknowledged',
	'the same difference is reported as acknowledged');
SELECT results_eq($$SELECT blocks_orders, difference FROM pgtrade.open_drift
	WHERE drift_id = (SELECT id FROM tap_d)$$,
	$$VALUES (false, 1::numeric)$$,
	'open_drift lists it, not blocking, difference 12 - 11 = 1');

-- a different difference supersedes the acknowledged one
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 15}]')), 'suspected',
	'a new difference (15 against 11) is suspected');
SELECT is((SELECT outcome FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 15}]')), 'drift',
	'and then drift');
SELECT results_eq($$SELECT status, resolution FROM pgtrade.position_drift
	WHERE drift_id = (SELECT id FROM tap_d)$$,
	$$VALUES ('resolved', 'superseded')$$,
	'the acknowledged drift is superseded');

-- resolve: an adjustment of 15 - 11 = 4 makes the position 15
TRUNCATE tap_d;
INSERT INTO tap_d SELECT drift_id FROM pgtrade.position_drift
	WHERE account_id = 'TAPACCT1' AND status = 'open';
SELECT throws_ok($$SELECT pgtrade.resolve_drift((SELECT id FROM tap_d), '')$$,
	'22023', NULL, 'resolving without a note');
SELECT throws_ok($$SELECT pgtrade.resolve_drift(-5, 'x')$$, 'P0002', NULL,
	'resolving an unknown drift id');
SELECT ok(pgtrade.resolve_drift((SELECT id FROM tap_d),
	'broker statement shows 15') > 0, 'resolve_drift returns the adjustment');
SELECT results_eq($$SELECT quantity, reason, created_by = session_user
	FROM pgtrade.position_adjustment WHERE drift_id = (SELECT id FROM tap_d)$$,
	$$VALUES (4::numeric, 'broker statement shows 15', true)$$,
	'the adjustment adds the difference 4, with the note, by the caller');
SELECT is(pgtrade.position_quantity('TAPACCT1',
	pgtrade.instrument_id('TAPX')), 15::numeric,
	'the position is 11 + 4 = 15, the broker''s');
-- every fill was at 50 except the sell at 55, which realized 2 * 5 = 10
SELECT results_eq($$SELECT avg_cost, realized_pnl FROM pgtrade.position
	WHERE account_id = 'TAPACCT1'
		AND instrument_id = pgtrade.instrument_id('TAPX')$$,
	$$VALUES (50::numeric, 10::numeric)$$,
	'the adjustment keeps the average cost 50 and realized P&L 10');
SELECT throws_ok($$SELECT pgtrade.resolve_drift((SELECT id FROM tap_d), 'x')$$,
	'55000', NULL, 'resolving a resolved drift');
SELECT is_empty($$SELECT * FROM pg_temp.cmp(2, 'TAPACCT1',
	'[{"conid": 990001, "position": 15}]')$$,
	'after the adjustment the positions agree');

-- position_rebuild keeps adjustments
SELECT pgtrade.position_rebuild('TAPACCT1', pgtrade.instrument_id('TAPX'))
	\g /dev/null
SELECT is(pgtrade.position_quantity('TAPACCT1',
	pgtrade.instrument_id('TAPX')), 15::numeric,
	'a rebuild gives fills 12 - 2 + 1 - 1 + 1 = 11 plus adjustment 4 = 15');
SELECT throws_ok($$UPDATE pgtrade.position_adjustment SET quantity = 5$$,
	'55000', 'position adjustments are append-only',
	'adjustments cannot be changed');

-- a broker position in a conid pgtrade does not know is drift at 0
SELECT results_eq($$SELECT conid, pgtrade_quantity, broker_quantity, outcome
	FROM pg_temp.cmp(1, 'TAPDRIFT2',
	'[{"conid": 990777, "symbol": "ZZUNK", "position": "0.5"}]')$$,
	$$VALUES (990777::bigint, 0::numeric, 0.5::numeric, 'suspected'::text)$$,
	'an unknown conid counts as pgtrade quantity 0');
SELECT is((SELECT outcome FROM pg_temp.cmp(1, 'TAPDRIFT2',
	'[{"conid": 990777, "symbol": "ZZUNK", "position": "0.5"}]')), 'drift',
	'and becomes drift');
SELECT throws_ok($$SELECT pgtrade.resolve_drift((SELECT drift_id
	FROM pgtrade.position_drift WHERE account_id = 'TAPDRIFT2'
		AND conid = 990777), 'x')$$,
	'55000', NULL, 'drift in an unknown conid cannot be resolved');

-- shares of unknown cost: an adjustment that opens or flips a position
-- leaves it without a cost; closing them realizes nothing, and a fill
-- that adds to them gives the position its price (worked out by hand)
SELECT results_eq($$SELECT * FROM pgtrade.position_step(5, NULL, 0, 'sell',
	2, 120)$$, $$VALUES (3::numeric, NULL::numeric, 0::numeric)$$,
	'position_step: selling 2 of 5 of unknown cost realizes 0');
SELECT results_eq($$SELECT * FROM pgtrade.position_step(5, NULL, 0, 'buy',
	2, 120)$$, $$VALUES (7::numeric, 120::numeric, 0::numeric)$$,
	'position_step: buying 2 at 120 onto 5 of unknown cost costs all 7 at 120');
SELECT results_eq($$SELECT * FROM pgtrade.position_step(-5, NULL, 7, 'buy',
	8, 90)$$, $$VALUES (3::numeric, 90::numeric, 7::numeric)$$,
	'position_step: buying 8 at 90 against a short 5 of unknown cost '
	'realizes 0 and opens 3 long at 90');
SELECT pgtrade.add_account('TAPDRIFT3', 'pgTAP drift fixture') \g /dev/null
INSERT INTO pgtrade.position_adjustment (account_id, instrument_id, quantity,
	reason)
VALUES ('TAPDRIFT3', pgtrade.instrument_id('TAPY'), 5, 'tap: held before');
SELECT lives_ok($$SELECT pgtrade.record_fill('tapdrift.u1.01.01', NULL,
	'TAPDRIFT3', 990002, 'S', 2, 120, '2026-01-06 15:00+00')$$,
	'a sell of 2 out of a position an adjustment opened is recorded');
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position WHERE account_id = 'TAPDRIFT3'$$,
	$$VALUES (3::numeric, NULL::numeric, 0::numeric)$$,
	'5 - 2 = 3 left, of unknown cost, nothing realized');
SELECT pgtrade.record_fill('tapdrift.u2.01.01', NULL, 'TAPDRIFT3', 990002,
	'B', 2, 120, '2026-01-06 15:01+00') \g /dev/null
SELECT pgtrade.record_fill('tapdrift.u3.01.01', NULL, 'TAPDRIFT3', 990002,
	'S', 1, 130, '2026-01-06 15:02+00') \g /dev/null
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position WHERE account_id = 'TAPDRIFT3'$$,
	$$VALUES (4::numeric, 120::numeric, 10::numeric)$$,
	'buy 2 at 120 makes 5 at 120; a sell of 1 at 130 realizes 10');
INSERT INTO pgtrade.position_adjustment (account_id, instrument_id, quantity,
	reason)
VALUES ('TAPDRIFT3', pgtrade.instrument_id('TAPY'), -9, 'tap: broker short');
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position WHERE account_id = 'TAPDRIFT3'$$,
	$$VALUES (-5::numeric, NULL::numeric, 10::numeric)$$,
	'an adjustment of -9 flips 4 to -5, of unknown cost');
SELECT pgtrade.record_fill('tapdrift.u4.01.01', NULL, 'TAPDRIFT3', 990002,
	'B', 5, 90, '2026-01-06 15:03+00') \g /dev/null
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position WHERE account_id = 'TAPDRIFT3'$$,
	$$VALUES (0::numeric, NULL::numeric, 10::numeric)$$,
	'buying the 5 back realizes nothing more: still 10');
UPDATE pgtrade.position SET quantity = 99, avg_cost = 1, realized_pnl = 0
WHERE account_id = 'TAPDRIFT3';
SELECT pgtrade.position_rebuild('TAPDRIFT3', pgtrade.instrument_id('TAPY'))
	\g /dev/null
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position WHERE account_id = 'TAPDRIFT3'$$,
	$$VALUES (0::numeric, NULL::numeric, 10::numeric)$$,
	'a rebuild from the fills and adjustments gives the same');

-- privileges
SELECT ok(has_function_privilege('pgtrade_admin',
	'pgtrade.resolve_drift(bigint, text)', 'EXECUTE')
	AND has_function_privilege('pgtrade_admin',
	'pgtrade.acknowledge_drift(bigint, text)', 'EXECUTE'),
	'admins may acknowledge and resolve drift');
SELECT ok(NOT has_function_privilege('pgtrade_listener',
	'pgtrade.resolve_drift(bigint, text)', 'EXECUTE')
	AND NOT has_function_privilege('pgtrade_trader',
	'pgtrade.acknowledge_drift(bigint, text)', 'EXECUTE')
	AND NOT has_function_privilege('public',
	'pgtrade.resolve_drift(bigint, text)', 'EXECUTE'),
	'the listener, traders and PUBLIC may not');
SELECT ok(has_function_privilege('pgtrade_listener',
	'pgtrade.record_positions(bigint, text, jsonb)', 'EXECUTE')
	AND NOT has_function_privilege('pgtrade_admin',
	'pgtrade.record_positions(bigint, text, jsonb)', 'EXECUTE')
	AND NOT has_table_privilege('pgtrade_listener',
	'pgtrade.position_adjustment', 'INSERT'),
	'only the listener records positions; it cannot adjust them');
SELECT ok(has_table_privilege('pgtrade_reader', 'pgtrade.open_drift',
	'SELECT') AND NOT has_table_privilege('pgtrade_admin',
	'pgtrade.position_drift', 'UPDATE'),
	'analysts read open_drift; nobody updates drift directly');

SELECT * FROM finish();
ROLLBACK;
