-- risk.sql: the risk gate binds every insert, refuses with a verdict,
-- counts open orders toward position limits and lets exposure-reducing
-- orders through.  Expected outcomes are worked out by hand per case.
\ir preamble.psql
SELECT plan(62);

-- kill switch on the account: the order is stored refused, with verdict
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1', note => 'tap halt');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 10)).status,
	'refused', 'kill switch refuses a placed order');
SELECT matches((SELECT risk_verdict->>'reason' FROM pgtrade.orders
				ORDER BY order_id DESC LIMIT 1),
	'^kill switch is on for account TAPACCT1', 'refusal names the kill switch');
SELECT is((SELECT to_status FROM pgtrade.order_event
		   WHERE order_id = (SELECT max(order_id) FROM pgtrade.orders)),
	'refused', 'refusal is recorded as an order event');
SELECT is((SELECT count(*)::int FROM pgtrade.risk_limit_history
		   WHERE new_row->>'account_id' = 'TAPACCT1'
			 AND (new_row->>'kill_switch')::boolean), 1,
	'kill switch change is audited');

-- the history names who changed a limit, not pgtrade's owner
CREATE ROLE tap_limits_admin IN ROLE pgtrade_admin;
SET ROLE tap_limits_admin;
SELECT pgtrade.set_risk_limit('TAPACCT1', max_open_orders => 500) \g /dev/null
RESET ROLE;
SELECT is((SELECT changed_by || ' ' || (new_row->>'updated_by')
		   FROM pgtrade.risk_limit_history ORDER BY history_id DESC LIMIT 1),
	'tap_limits_admin tap_limits_admin',
	'a limit''s change is recorded as the role''s that made it');
SELECT pgtrade.remove_risk_limit('max_open_orders', 'TAPACCT1') \g /dev/null

-- a global kill switch covers every account
SELECT pgtrade.set_trading_enabled(true, 'TAPACCT1');
SELECT pgtrade.set_trading_enabled(false, note => 'all stop');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 10)).status,
	'refused', 'global kill switch refuses');
SELECT pgtrade.set_trading_enabled(true);
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 10)).status,
	'pending', 'lifting the kill switch lets orders pass');

-- max position: each side's worst case counts that side's open orders.
-- Limit 100 with a buy of 10 already pending; by hand, per order:
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 100);
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 50)).status,
	'pending', 'buy to a worst long of 60 (10 + 50) passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 41)).status,
	'refused', 'buy to a worst long of 101 (10 + 50 + 41) is refused');
SELECT is((SELECT (c->>'projected')::numeric FROM pgtrade.orders o,
		   jsonb_array_elements(o.risk_verdict->'checks') c
		   WHERE o.order_id = (SELECT max(order_id) FROM pgtrade.orders)
			 AND c->>'check' = 'max_position'), 101::numeric,
	'verdict shows the projected position 101');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 40)).status,
	'pending', 'buy to a worst long of exactly 100 passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 30)).status,
	'pending', 'a sell to a worst short of -30 passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 71)).status,
	'refused', 'a sell to a worst short of -101 (-30 - 71) is refused: open buys do not make room');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 70)).status,
	'pending', 'a sell to a worst short of exactly -100 passes');
SELECT is(pgtrade.open_quantity('TAPACCT1', pgtrade.instrument_id('TAPX')),
	0::numeric, 'open orders net to 0 (10 + 50 + 40 - 30 - 70)');
SELECT results_eq($$SELECT buys, sells FROM pgtrade.open_side_quantities(
	'TAPACCT1', pgtrade.instrument_id('TAPX'))$$,
	$$VALUES (100::numeric, 100::numeric)$$,
	'open buys and sells are counted apart: 100 and 100');
SELECT count(pgtrade.cancel_order(order_id)) FROM pgtrade.orders
WHERE account_id = 'TAPACCT1' AND status = 'pending' \g /dev/null

-- order size limit; the position limit of 100 stays as it was
SELECT pgtrade.set_risk_limit('TAPACCT1', max_order_quantity => 25);
SELECT is((SELECT max_position FROM pgtrade.risk_limit
		   WHERE account_id = 'TAPACCT1'), 100::numeric,
	'setting one limit leaves the other alone');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 26)).status,
	'refused', 'order above max_order_quantity 25 is refused');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 25)).status,
	'pending', 'order at max_order_quantity 25 passes');
SELECT ok(pgtrade.remove_risk_limit('max_order_quantity', 'TAPACCT1'),
	'a limit is removed by name');
SELECT count(*) AS tap_history FROM pgtrade.risk_limit_history \gset
SELECT is(pgtrade.remove_risk_limit('max_order_quantity', 'TAPACCT1'), false,
	'removing a limit that is not set says false');
SELECT is((SELECT count(*) FROM pgtrade.risk_limit_history), :tap_history::bigint,
	'and records nothing in the limits'' history');
SELECT is(ARRAY[pgtrade.set_risk_limit('TAPACCT1'),
		pgtrade.set_risk_limit('TAPACCT1', max_position => 100)],
	ARRAY[(SELECT limit_id FROM pgtrade.risk_limit
		   WHERE account_id = 'TAPACCT1' AND strategy_id IS NULL)] || ARRAY[
		  (SELECT limit_id FROM pgtrade.risk_limit
		   WHERE account_id = 'TAPACCT1' AND strategy_id IS NULL)],
	'setting no limit, or a limit to the value it has, returns the scope''s id');
SELECT is((SELECT count(*) FROM pgtrade.risk_limit_history), :tap_history::bigint,
	'and records nothing either');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 26)).status,
	'pending', 'without max_order_quantity 26 passes');

-- a strategy's scope is one row however it is named: by the strategy
-- alone or with its account
SELECT pgtrade.create_strategy('tap_scope', 'sma_cross', 'TAPX', 'TAPACCT1',
	'{"fast": 1, "slow": 2}', 10) AS tap_sid \gset
SELECT pgtrade.set_risk_limit(strategy_id => :tap_sid, max_position => 5)
	AS tap_lid \gset
SELECT is((SELECT account_id FROM pgtrade.risk_limit WHERE limit_id = :tap_lid),
	'TAPACCT1', 'a limit set by the strategy alone is kept on its account');
SELECT is(pgtrade.set_risk_limit('TAPACCT1', :tap_sid, max_position => 6),
	:tap_lid::bigint, 'the same scope named with its account is that row');
SELECT ok(pgtrade.remove_risk_limit('max_position', NULL, :tap_sid),
	'and the strategy alone removes what was set with the account');
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1', :tap_sid) \g /dev/null
SELECT pgtrade.set_trading_enabled(true, strategy_id => :tap_sid) \g /dev/null
SELECT is((SELECT array_agg(kill_switch) FROM pgtrade.risk_limit
		   WHERE strategy_id = :tap_sid), '{f}'::boolean[],
	'a strategy''s kill switch set with its account is lifted by the '
	'strategy alone, on the one row');

-- fail closed: no position limit, no order
SELECT pgtrade.add_account('TAPACCT2');
SELECT is((pgtrade.place_order('TAPACCT2', 'TAPX', 'buy', 1)).status,
	'refused', 'an account without a position limit is refused');
SELECT matches((SELECT risk_verdict->>'reason' FROM pgtrade.orders
				ORDER BY order_id DESC LIMIT 1),
	'^no max_position limit covers account TAPACCT2',
	'the refusal says no position limit is set');

-- an instrument that is not a stock: the listener would send its orders
-- as a stock's, so the gate refuses them
SET client_min_messages = warning;
SELECT pgtrade.add_instrument('TAPOPT', sec_type => 'OPT') \gset tap_opt_
RESET client_min_messages;
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPOPT', 'buy', 1)).status,
	'refused', 'an order for an option instrument is refused');
SELECT is((SELECT risk_verdict->>'reason' FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1),
	format('instrument %s has sec_type OPT: pgtrade-listener sends stock '
		   '(STK) orders only', :tap_opt_add_instrument),
	'the refusal names the instrument and its sec_type');
SELECT is((SELECT c->>'passed' FROM pgtrade.orders o,
		   jsonb_array_elements(o.risk_verdict->'checks') c
		   WHERE o.account_id = 'TAPACCT2' AND c->>'check' = 'sec_type'),
	'true', 'a stock passes the sec_type check');

-- a halted account refuses everything
UPDATE pgtrade.account SET halted = true, halt_reason = 'tap test'
WHERE account_id = 'TAPACCT1';
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).status,
	'refused', 'halted account refuses');
UPDATE pgtrade.account SET halted = false WHERE account_id = 'TAPACCT1';

-- the cOID: installation prefix plus order id; prices rounded to tick
SELECT matches((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1, 'limit',
	10.004)).client_order_id, '^pgt-[a-z0-9]{8}-[0-9]+$',
	'client order id is pgt-<prefix>-<id>');
SELECT is((SELECT client_order_id FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1),
	(SELECT format('pgt-%s-%s', coid_prefix, max(o.order_id))
	 FROM pgtrade.installation, pgtrade.orders o GROUP BY coid_prefix),
	'client order id ends with the order id');
SELECT is((SELECT limit_price FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1), 10.00::numeric,
	'a buy limit of 10.004 is rounded down to 10.00');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 1, 'limit',
	10.001)).limit_price, 10.01::numeric,
	'a sell limit of 10.001 is rounded up to 10.01');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	valid_for => '2 days')$$, '22023', 'valid_until must be within a day of now',
	'an order may not wait more than a day to be sent');

-- a direct INSERT by a non-superuser trader meets the same gate
CREATE ROLE tap_trader_role IN ROLE pgtrade_trader;
SELECT pgtrade.grant_account('tap_trader_role', 'TAPACCT1');
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1');
SET ROLE tap_trader_role;
INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity)
VALUES ('TAPACCT1', pgtrade.instrument_id('TAPX'), 'buy', 5);
SELECT throws_ok($$INSERT INTO pgtrade.orders (account_id, instrument_id, side,
	quantity, filled_quantity) VALUES ('TAPACCT1',
	pgtrade.instrument_id('TAPX'), 'buy', 5, 5)$$, '42501', NULL,
	'a trader''s direct insert cannot name its fills');
RESET ROLE;
SELECT is((SELECT status FROM pgtrade.orders ORDER BY order_id DESC LIMIT 1),
	'refused', 'direct insert by a trader is refused by the kill switch');
-- what an insert claims beyond the request is overwritten by the gate,
-- whoever inserts
INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
	status, filled_quantity, broker_order_id)
VALUES ('TAPACCT1', pgtrade.instrument_id('TAPX'), 'buy', 5, 'filled', 5,
		'999');
SELECT is((SELECT status FROM pgtrade.orders ORDER BY order_id DESC LIMIT 1),
	'refused', 'a direct insert claiming to be filled meets the kill switch');
SELECT is((SELECT filled_quantity FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1), 0::numeric,
	'direct insert cannot claim fills');
SELECT is((SELECT broker_order_id FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1), NULL,
	'direct insert cannot claim a broker id');
SELECT pgtrade.set_trading_enabled(true, 'TAPACCT1');
SET ROLE tap_trader_role;
SELECT throws_ok($$UPDATE pgtrade.orders SET status = 'filled'$$, '42501',
	NULL, 'a trader cannot update orders directly');
SELECT throws_ok($$DELETE FROM pgtrade.orders$$, '42501', NULL,
	'a trader cannot delete orders');
SELECT throws_ok($$SELECT pgtrade.set_trading_enabled(true)$$, '42501',
	NULL, 'a trader cannot lift the kill switch');
RESET ROLE;

-- limits and prices must be finite: NaN would compare as passing
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPACCT1',
	max_position => 'NaN')$$, '22023', NULL, 'a NaN position limit is refused');
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPACCT1',
	max_order_quantity => 'Infinity')$$, '22023', NULL,
	'an infinite order-size limit is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	'limit', 'Infinity')$$, '22023',
	'limit price must be a positive finite number, not Infinity',
	'an infinite limit price is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 1,
	'stop', stop_price => 'NaN')$$, '22023',
	'stop price must be a positive finite number, not NaN',
	'a NaN stop price is refused');
SELECT throws_ok($$CALL pgtrade.run_due(now() + interval '1 hour')$$, '22023',
	'run_due cannot run ahead of the clock',
	'the scheduler cannot be run ahead of the clock');

-- an admin who is not a superuser can do an admin's work
CREATE ROLE tap_admin_role IN ROLE pgtrade_admin;
CREATE TEMP TABLE tap_admin_bars (symbol text, ts text, open float8,
	high float8, low float8, close float8, volume float8);
INSERT INTO tap_admin_bars VALUES ('TAPW', '2024-01-02', 10, 11, 9, 10, 5);
GRANT SELECT ON tap_admin_bars TO tap_admin_role;
SET ROLE tap_admin_role;
SELECT lives_ok($$SELECT pgtrade.add_account('TAPACCT3')$$,
	'an admin registers an account');
SELECT lives_ok($$SELECT pgtrade.add_instrument('TAPW', 990004)$$,
	'an admin registers an instrument');
SELECT is(pgtrade.import_bars('tap_admin_bars'), 1::bigint,
	'an admin imports bars from a table without a line column');
SELECT lives_ok($$SELECT pgtrade.set_risk_limit('TAPACCT3', max_position => 5)$$,
	'an admin sets limits');
RESET ROLE;

-- an order that takes exposure off passes a limit the position is
-- already over.  A long of 100 from a trade outside pgtrade, limit 50:
SELECT pgtrade.add_instrument('TAPRD', 990011) \g /dev/null
SELECT pgtrade.record_fill('tap-risk-reduce-1', NULL, 'TAPACCT1', 990011,
	'B', 100, 20.00, now()) \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 50) \g /dev/null
SELECT is(pgtrade.position_quantity('TAPACCT1', pgtrade.instrument_id('TAPRD')),
	100::numeric, 'the outside trade makes a long of 100');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPRD', 'buy', 1)).status,
	'refused', 'a buy to 101 over a limit of 50 is refused');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPRD', 'sell', 30)).status,
	'pending', 'a sell from 100 to a worst case of 70 passes: it reduces');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPRD', 'sell', 130)).status,
	'refused', 'a sell from 70 to -60 crosses zero beyond the limit');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPRD', 'sell', 70)).status,
	'pending', 'a sell from 70 to exactly 0 passes');

SELECT * FROM finish();
ROLLBACK;
