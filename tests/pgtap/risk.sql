-- risk.sql: the risk gate binds every insert, refuses with a verdict,
-- counts open orders toward position limits and lets exposure-reducing
-- orders through.  Expected outcomes are worked out by hand per case.
\ir preamble.psql
SELECT plan(26);

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
		   WHERE new_row->>'account_id' = 'TAPACCT1'), 1,
	'kill switch change is audited');

-- a global kill switch covers every account
SELECT pgtrade.set_trading_enabled(true, 'TAPACCT1');
SELECT pgtrade.set_trading_enabled(false, note => 'all stop');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 10)).status,
	'refused', 'global kill switch refuses');
SELECT pgtrade.set_trading_enabled(true);
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 10)).status,
	'pending', 'lifting the kill switch lets orders pass');

-- max position counts open orders: limit 100 with 10 already pending
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 100);
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 50)).status,
	'pending', 'buy to 60 of 100 passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 41)).status,
	'refused', 'buy to 101 of 100 is refused (10 + 50 open + 41)');
SELECT is((SELECT (c->>'projected')::numeric FROM pgtrade.orders o,
		   jsonb_array_elements(o.risk_verdict->'checks') c
		   WHERE o.order_id = (SELECT max(order_id) FROM pgtrade.orders)
			 AND c->>'check' = 'max_position'), 101::numeric,
	'verdict shows the projected position 101');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 40)).status,
	'pending', 'buy to exactly 100 passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 30)).status,
	'pending', 'a sell that reduces exposure from 100 to 70 passes');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 200)).status,
	'refused', 'a sell from 70 to -130 is refused');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 170)).status,
	'pending', 'a sell from 70 to -100 passes');
SELECT is(pgtrade.open_quantity('TAPACCT1', pgtrade.instrument_id('TAPX')),
	-100::numeric, 'open orders net to -100 (10+50+40-30-170)');

-- order size limit
SELECT pgtrade.set_risk_limit('TAPACCT1', max_order_quantity => 25);
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 26)).status,
	'refused', 'order above max_order_quantity 25 is refused');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 25)).status,
	'pending', 'order at max_order_quantity 25 passes');
SELECT pgtrade.set_risk_limit('TAPACCT1');

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
	'limit 10.004 is rounded to the 0.01 tick');

-- a direct INSERT by a non-superuser trader meets the same gate
CREATE ROLE tap_trader_role IN ROLE pgtrade_trader;
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1');
SET ROLE tap_trader_role;
INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
	status, filled_quantity, broker_order_id)
VALUES ('TAPACCT1', pgtrade.instrument_id('TAPX'), 'buy', 5, 'filled', 5,
		'999');
RESET ROLE;
SELECT is((SELECT status FROM pgtrade.orders ORDER BY order_id DESC LIMIT 1),
	'refused', 'direct insert by a trader is refused by the kill switch');
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

SELECT * FROM finish();
ROLLBACK;
