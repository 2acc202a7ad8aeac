-- access.sql: who may see and do what.  Each role tries the ways around
-- its limits it has: reading other accounts, writing tables directly,
-- calling internal functions, changing limits or grants; each attempt
-- must fail with insufficient_privilege (42501), or find no rows where
-- row-level security hides them.  Account TAPA is granted to the
-- trader and the analyst; TAPB to nobody.
\ir preamble.psql
SELECT plan(65);

SELECT pgtrade.add_account('TAPA') \g /dev/null
SELECT pgtrade.add_account('TAPB') \g /dev/null
SELECT pgtrade.set_risk_limit(max_position => 1000) \g /dev/null
CREATE ROLE tap_trader IN ROLE pgtrade_trader;
CREATE ROLE tap_analyst IN ROLE pgtrade_reader;
CREATE ROLE tap_listener IN ROLE pgtrade_listener;
CREATE ROLE tap_sched IN ROLE pgtrade_scheduler;
CREATE ROLE tap_admin IN ROLE pgtrade_admin;
SELECT pgtrade.grant_account('tap_trader', 'TAPA') \g /dev/null
SELECT pgtrade.grant_account('tap_analyst', 'TAPA') \g /dev/null
-- two orders and a fill in each account, a strategy in TAPB
CREATE TEMP TABLE tap_o AS
SELECT a AS account_id, (pgtrade.place_order(a, 'TAPX', 'buy', 1)).order_id
FROM unnest(ARRAY['TAPA', 'TAPA', 'TAPB', 'TAPB']) a;
SELECT pgtrade.record_fill('TAPACC-' || a, NULL, a, 990001, 'buy', 1, 10, now())
FROM unnest(ARRAY['TAPA', 'TAPB']) a \g /dev/null
SELECT pgtrade.create_strategy('tap_b_cross', 'sma_cross', 'TAPX', 'TAPB',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT pgtrade.create_strategy('tap_a_cross', 'sma_cross', 'TAPX', 'TAPA',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
-- a run of each (skipped: no bars), so that recent_runs has rows of both
SELECT count(*) FROM pgtrade.run_strategy('tap_a_cross') \g /dev/null
SELECT count(*) FROM pgtrade.run_strategy('tap_b_cross') \g /dev/null
GRANT SELECT ON tap_o TO PUBLIC;
CREATE FUNCTION pg_temp.oid_of(p_account text) RETURNS bigint
LANGUAGE sql AS $$ SELECT min(order_id) FROM tap_o WHERE account_id = p_account $$;

-- every SECURITY DEFINER function pins its search_path
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
		  WHERE p.pronamespace = 'pgtrade'::regnamespace AND p.prosecdef
			AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
				WHERE c LIKE 'search_path=%')), '{}'::text[],
	'every SECURITY DEFINER function sets search_path');

-- the trader: sees TAPA only, trades TAPA only
SET ROLE tap_trader;
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.orders
		  WHERE account_id IN ('TAPA', 'TAPB')), ARRAY['TAPA'],
	'trader: orders of TAPB are not there');
SELECT is((SELECT count(*)::int FROM pgtrade.fill WHERE account_id = 'TAPB'), 0,
	'trader: fills of TAPB are not there');
SELECT is((SELECT count(*)::int FROM pgtrade.position WHERE account_id = 'TAPB'), 0,
	'trader: the position in TAPB is not there');
SELECT is((SELECT count(*)::int FROM pgtrade.order_event e
		   WHERE e.order_id = pg_temp.oid_of('TAPB')), 0,
	'trader: events of a TAPB order are not there');
SELECT is((SELECT count(*)::int FROM pgtrade.account WHERE account_id = 'TAPB'), 0,
	'trader: account TAPB is not there');
SELECT is((SELECT count(*)::int FROM pgtrade.order_history), 2,
	'trader: the order history shows the two TAPA orders');
SELECT is((pgtrade.place_order('TAPA', 'TAPX', 'buy', 1)).status, 'pending',
	'trader: places an order in TAPA');
SELECT is(pgtrade.cancel_order((SELECT max(order_id) FROM pgtrade.orders
								 WHERE account_id = 'TAPA')),
	'cancelled', 'trader: cancels it');
SELECT is((SELECT source FROM pgtrade.order_event
		   WHERE order_id = (SELECT max(order_id) FROM pgtrade.orders
							 WHERE account_id = 'TAPA')
		   ORDER BY event_id DESC LIMIT 1), 'user tap_trader',
	'trader: the cancel is recorded as the role''s, not the login''s');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPB', 'TAPX', 'buy', 1)$$,
	'42501', 'role "tap_trader" may not trade or see account "TAPB"',
	'trader: place_order in TAPB is refused');
SELECT throws_ok($$INSERT INTO pgtrade.orders (account_id, instrument_id, side,
	quantity) VALUES ('TAPB', pgtrade.instrument_id('TAPX'), 'buy', 1)$$,
	'42501', NULL, 'trader: a direct INSERT into TAPB is refused');
SELECT throws_ok($$INSERT INTO pgtrade.orders (order_id, account_id, instrument_id,
	side, quantity) OVERRIDING SYSTEM VALUE
	VALUES (9000000000, 'TAPA', pgtrade.instrument_id('TAPX'), 'buy', 1)$$,
	'42501', 'permission denied for table orders',
	'trader: an order id picked ahead of the sequence is refused');
SELECT throws_ok($$INSERT INTO pgtrade.orders (order_id, account_id, instrument_id,
	side, quantity) OVERRIDING SYSTEM VALUE
	VALUES (1, 'TAPA', pgtrade.instrument_id('TAPX'), 'buy', 1)$$,
	'42501', 'permission denied for table orders',
	'trader: so is one below it, never drawn or not');
SELECT throws_ok($$INSERT INTO pgtrade.orders (account_id, instrument_id, side,
	quantity, status) VALUES ('TAPA', pgtrade.instrument_id('TAPX'), 'buy', 1,
	'filled')$$, '42501', 'permission denied for table orders',
	'trader: and a status of the trader''s own');
CREATE TEMP TABLE tap_br AS SELECT * FROM pgtrade.place_bracket('TAPA', 'TAPX', 'buy',
	5, 50, 60, 40);
SELECT throws_ok($$INSERT INTO pgtrade.orders (account_id, instrument_id, side,
	quantity, order_type, limit_price, parent_order_id, bracket_role)
	SELECT 'TAPA', pgtrade.instrument_id('TAPX'), 'sell', 5, 'limit', 61,
		order_id, 'take_profit' FROM tap_br WHERE bracket_role = 'entry'$$,
	'23505', NULL, 'trader: a third bracket child (a second take-profit) is refused');
SELECT throws_ok($$INSERT INTO pgtrade.orders (account_id, instrument_id, side,
	quantity, order_type, parent_order_id, bracket_role)
	SELECT 'TAPA', pgtrade.instrument_id('TAPX'), 'sell', 5, 'market',
		order_id, 'stop_loss' FROM tap_br WHERE bracket_role = 'entry'$$,
	'22023', NULL, 'trader: a market order as a bracket child is refused');
SELECT lives_ok($$SELECT * FROM pgtrade.account_day_pnl('TAPA')$$,
	'trader: the day''s P&L of TAPA');
UPDATE pgtrade.strategy SET active = false WHERE name = 'tap_a_cross';
SELECT is((SELECT count(*)::int FROM pgtrade.strategy WHERE name = 'tap_a_cross'), 1,
	'trader: switches a TAPA strategy (the UPDATE passed its trigger)');
SELECT lives_ok($$UPDATE pgtrade.strategy SET order_type = 'limit',
	limit_offset = 0.05, tif = 'gtc', order_valid_for = '1 hour',
	grace = '10 minutes', catch_up = true, max_bar_age = '3 days'
	WHERE name = 'tap_a_cross'$$,
	'trader: tunes a TAPA strategy''s orders and timing');
SELECT results_eq($$SELECT order_type, limit_offset, tif, catch_up
	FROM pgtrade.strategy WHERE name = 'tap_a_cross'$$,
	$$VALUES ('limit'::text, 0.05::numeric, 'gtc'::text, true)$$,
	'trader: the settings are stored');
SELECT throws_ok($$UPDATE pgtrade.strategy SET quantity = 1
	WHERE name = 'tap_a_cross'$$, '42501', NULL,
	'trader: the quantity changes only by creating a strategy');
SELECT lives_ok($$UPDATE pgtrade.strategy SET kind = 'ema_cross',
	bar_size = '1 hour', name = 'tap_a_ema' WHERE name = 'tap_a_cross'$$,
	'trader: renames a strategy and changes its kind and bar size');
SELECT is((SELECT kind || ' ' || bar_size FROM pgtrade.strategy
		   WHERE name = 'tap_a_ema'), 'ema_cross 01:00:00',
	'trader: the new kind and bar size are stored');
UPDATE pgtrade.strategy SET kind = 'sma_cross', bar_size = '1 day',
	name = 'tap_a_cross' WHERE name = 'tap_a_ema';
SELECT throws_ok(format('SELECT pgtrade.cancel_order(%s)', pg_temp.oid_of('TAPB')),
	'42501', NULL, 'trader: cancelling a TAPB order is refused');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 2)',
	pg_temp.oid_of('TAPB')), '42501', NULL,
	'trader: modifying a TAPB order is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_sneak', 'sma_cross', 'TAPX',
	'TAPB', '{"fast": 2, "slow": 3}', 10)$$, '42501', NULL,
	'trader: a strategy for TAPB is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.run_strategy('tap_b_cross')$$, '42501',
	NULL, 'trader: running a TAPB strategy is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.strategy_performance('tap_b_cross')$$,
	'42501', NULL, 'trader: a TAPB strategy''s performance is refused');
SELECT throws_ok($$SELECT pgtrade.rollup_performance('tap_b_cross')$$,
	'42501', NULL, 'trader: rolling up a TAPB strategy''s performance is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.account_day_pnl('TAPB')$$,
	'42501', NULL, 'trader: the day''s P&L of TAPB is refused, not zero');
UPDATE pgtrade.strategy SET active = true WHERE name = 'tap_b_cross';
SELECT is((SELECT count(*)::int FROM pgtrade.strategy WHERE name = 'tap_b_cross'), 0,
	'trader: the TAPB strategy cannot be seen, so the UPDATE touched nothing');
SELECT throws_ok(format('UPDATE pgtrade.orders SET status = ''filled'' WHERE order_id = %s',
	pg_temp.oid_of('TAPA')), '42501', NULL, 'trader: UPDATE on orders is refused');
SELECT throws_ok('DELETE FROM pgtrade.orders', '42501', NULL,
	'trader: DELETE on orders is refused');
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPA', max_position => 1e9)$$,
	'42501', NULL, 'trader: changing a limit is refused');
SELECT throws_ok($$UPDATE pgtrade.risk_limit SET max_position = 1e9$$, '42501',
	NULL, 'trader: writing risk_limit is refused');
SELECT throws_ok($$SELECT pgtrade.set_trading_enabled(true)$$, '42501', NULL,
	'trader: the kill switch is refused');
SELECT throws_ok($$SELECT pgtrade.grant_account('tap_trader', 'TAPB')$$, '42501',
	NULL, 'trader: granting herself an account is refused');
SELECT throws_ok($$INSERT INTO pgtrade.account_grant (role_name, account_id)
	VALUES ('tap_trader', 'TAPB')$$, '42501', NULL,
	'trader: writing account_grant is refused');
SELECT throws_ok($$SELECT pgtrade.claim_orders(1, ARRAY['TAPB'], 10)$$, '42501',
	NULL, 'trader: the listener''s claim is refused');
SELECT throws_ok($$SELECT pgtrade.record_fill('X1', NULL, 'TAPB', 990001, 'buy', 1,
	1, now())$$, '42501', NULL, 'trader: recording a fill is refused');
SELECT throws_ok($$SELECT pgtrade.order_move(1, 'filled', 'x', 'y')$$, '42501',
	NULL, 'trader: an internal state move is refused');
SELECT throws_ok($$SELECT pgtrade.position_apply('TAPA', 1, 'buy', 1, 1)$$,
	'42501', NULL, 'trader: an internal position change is refused');
RESET ROLE;

-- the analyst: views only, TAPA only
SET ROLE tap_analyst;
SELECT throws_ok('SELECT 1 FROM pgtrade.orders LIMIT 1', '42501', NULL,
	'analyst: the orders table is refused');
SELECT throws_ok('SELECT 1 FROM pgtrade.bar LIMIT 1', '42501', NULL,
	'analyst: the bar table is refused');
SELECT throws_ok('SELECT 1 FROM pgtrade.account_grant LIMIT 1', '42501', NULL,
	'analyst: the grants table is refused');
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.order_history),
	ARRAY['TAPA'], 'analyst: the order history shows TAPA only');
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.open_orders
		  WHERE account_id IN ('TAPA', 'TAPB')), ARRAY['TAPA'],
	'analyst: open orders of TAPA only');
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.positions
		  WHERE account_id IN ('TAPA', 'TAPB')), ARRAY['TAPA'],
	'analyst: positions of TAPA only');
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.fills
		  WHERE account_id IN ('TAPA', 'TAPB')), ARRAY['TAPA'],
	'analyst: fills of TAPA only');
SELECT is((SELECT count(*)::int FROM pgtrade.strategies WHERE name = 'tap_b_cross'),
	0, 'analyst: the TAPB strategy is not shown');
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.recent_runs
		  WHERE account_id IN ('TAPA', 'TAPB')), ARRAY['TAPA'],
	'analyst: recent runs of TAPA strategies only');
SELECT ok((SELECT count(*) > 0 FROM pgtrade.instruments WHERE symbol = 'TAPX'),
	'analyst: instruments are shown');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPA', 'TAPX', 'buy', 1)$$,
	'42501', NULL, 'analyst: placing an order is refused');
SELECT is(pgtrade.visible_accounts('postgres'), ARRAY['TAPA'],
	'analyst: asking for another role''s accounts shows no more than her own');
-- a cheap function of her own in the query never sees another account's rows
CREATE TEMP TABLE tap_seen (account_id text);
CREATE FUNCTION pg_temp.peek(a text) RETURNS boolean LANGUAGE plpgsql
	COST 0.0000001 AS $$ BEGIN INSERT INTO tap_seen VALUES (a); RETURN true; END $$;
SELECT count(*) FROM pgtrade.order_history WHERE pg_temp.peek(account_id) \g /dev/null
SELECT count(*) FROM pgtrade.strategies WHERE pg_temp.peek(account_id) \g /dev/null
SELECT count(*) FROM pgtrade.fills WHERE pg_temp.peek(account_id) \g /dev/null
SELECT count(*) FROM pgtrade.open_orders WHERE pg_temp.peek(account_id) \g /dev/null
SELECT count(*) FROM pgtrade.positions WHERE pg_temp.peek(account_id) \g /dev/null
SELECT is(ARRAY(SELECT DISTINCT account_id FROM tap_seen ORDER BY 1), ARRAY['TAPA'],
	'analyst: the views are security barriers (her function saw TAPA rows only)');
RESET ROLE;

-- the listener and the scheduler act only through their functions
SET ROLE tap_listener;
SELECT throws_ok('SELECT 1 FROM pgtrade.orders LIMIT 1', '42501', NULL,
	'listener: reading orders directly is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPA', 'TAPX', 'buy', 1)$$,
	'42501', NULL, 'listener: placing an order is refused');
SELECT throws_ok($$SELECT pgtrade.set_trading_enabled(true)$$, '42501', NULL,
	'listener: the kill switch is refused');
RESET ROLE;
SET ROLE tap_sched;
SELECT throws_ok($$SELECT pgtrade.place_order('TAPA', 'TAPX', 'buy', 1)$$,
	'42501', NULL, 'scheduler: placing an order is refused');
SELECT throws_ok('SELECT 1 FROM pgtrade.fill LIMIT 1', '42501', NULL,
	'scheduler: reading fills is refused');
RESET ROLE;

-- the admin sees every account and sets limits, but rewrites no order
SET ROLE tap_admin;
SELECT is(ARRAY(SELECT DISTINCT account_id FROM pgtrade.order_history
		  WHERE account_id IN ('TAPA', 'TAPB') ORDER BY 1), ARRAY['TAPA', 'TAPB'],
	'admin: sees both accounts');
SELECT ok(pgtrade.set_risk_limit('TAPB', max_open_orders => 5) > 0,
	'admin: sets a limit');
SELECT throws_ok('DELETE FROM pgtrade.orders', '42501', NULL,
	'admin: DELETE on orders is refused');
SELECT throws_ok($$SELECT pgtrade.grant_account('tap_trader', 'NOSUCH')$$,
	'42704', 'account "NOSUCH" does not exist',
	'admin: granting an account that does not exist');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
