-- risk_limits.sql: the value, count, loss, price and short-selling
-- limits of the risk gate, each at, just under and just over its
-- threshold.  Every expected figure is worked out by hand beside its
-- case; the reference price is the latest bar close of TAPR, 100.
\ir preamble.psql
SELECT plan(84);

SELECT pgtrade.add_instrument('TAPR', 990501) \g /dev/null
SELECT pgtrade.add_instrument('TAPN', 990502) \g /dev/null
-- two bars: the later one (close 100) is the reference, not the older 90
INSERT INTO pgtrade.bar VALUES
	(pgtrade.instrument_id('TAPR'), '1 day', date_trunc('day', now()) - interval '2 days',
	 90, 91, 89, 90, 1000),
	(pgtrade.instrument_id('TAPR'), '1 day', date_trunc('day', now()) - interval '1 day',
	 99, 101, 98, 100, 1000);

-- an account of its own per limit, with a wide position limit
CREATE FUNCTION pg_temp.acct(p_name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pgtrade.add_account(p_name);
	PERFORM pgtrade.set_risk_limit(p_name, max_position => 1000000);
	RETURN p_name;
END $$;
CREATE FUNCTION pg_temp.st(p_account text, p_symbol text, p_side text,
	p_qty numeric, p_type text DEFAULT 'market', p_limit numeric DEFAULT NULL,
	p_stop numeric DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
	SELECT (pgtrade.place_order(p_account, p_symbol, p_side, p_qty,
		order_type => p_type, limit_price => p_limit,
		stop_price => p_stop)).status;
$$;
CREATE FUNCTION pg_temp.last_reason() RETURNS text LANGUAGE sql AS $$
	SELECT risk_verdict->>'reason' FROM pgtrade.orders
	ORDER BY order_id DESC LIMIT 1;
$$;
CREATE FUNCTION pg_temp.last_check(p_check text, p_key text)
RETURNS text LANGUAGE sql AS $$
	SELECT c->>p_key FROM pgtrade.orders o,
		jsonb_array_elements(o.risk_verdict->'checks') c
	WHERE o.order_id = (SELECT max(order_id) FROM pgtrade.orders)
		AND c->>'check' = p_check LIMIT 1;
$$;
CREATE FUNCTION pg_temp.cancel_all(p_account text) RETURNS void
LANGUAGE sql AS $$
	SELECT count(pgtrade.cancel_order(order_id)) FROM pgtrade.orders
	WHERE account_id = p_account AND status = 'pending';
$$;
-- a manual fill: moves the position as an execution at the broker would
CREATE FUNCTION pg_temp.fill(p_account text, p_side text, p_qty numeric,
	p_price numeric) RETURNS void LANGUAGE sql AS $$
	SELECT pgtrade.record_fill('TAPEX-' || p_account || '-' || gen_random_uuid(),
		NULL, p_account, 990501, p_side, p_qty, p_price, now());
$$;

SELECT is(pgtrade.latest_close(pgtrade.instrument_id('TAPR')), 100::numeric,
	'the reference price is the latest close, 100');
SELECT is(pgtrade.latest_close(pgtrade.instrument_id('TAPN')), NULL,
	'an instrument without bars has no reference price');

-- max_order_notional 1000: quantity times the limit price, or the close
SELECT pg_temp.acct('TAPRNOT') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRNOT', max_order_notional => 1000) \g /dev/null
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'buy', 10, 'limit', 99.99), 'pending',
	'order value 999.90 (10 at 99.99) passes a limit of 1000');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'buy', 10, 'limit', 100), 'pending',
	'order value 1000 exactly passes');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'buy', 10, 'limit', 100.01), 'refused',
	'order value 1000.10 is refused');
SELECT is(pg_temp.last_reason(),
	'order value 1000.10 (10 at 100.01) exceeds the limit of 1000',
	'the refusal names value, quantity, price and limit');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'sell', 10), 'pending',
	'a market order of 10 is valued at the close: 1000 passes');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'sell', 11), 'refused',
	'a market order of 11 (1100 at the close) is refused');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'sell', 5, 'stop', NULL, 201), 'refused',
	'a stop order is valued at its stop price: 5 at 201 = 1005 is refused');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'sell', 10, 'limit', 0.01), 'pending',
	'a sell limit far under the market is valued at the close: 10 x 100 = 1000 passes');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'sell', 11, 'limit', 0.01), 'refused',
	'11 at a limit of 0.01 is valued at the close, 1100: refused');
SELECT is(pg_temp.st('TAPRNOT', 'TAPR', 'buy', 11, 'stop', NULL, 0.01), 'refused',
	'a buy stop of 11 under the market is valued at the close, 1100: refused');
SELECT is(pg_temp.st('TAPRNOT', 'TAPN', 'buy', 1), 'refused',
	'a market order with no bar to value it by is refused (fails closed)');
SELECT is(pg_temp.last_reason(),
	'no price to value a market order in TAPN: it has no bars',
	'the refusal says there was no price');
SELECT pg_temp.cancel_all('TAPRNOT') \g /dev/null

-- max_position_notional 5000: the side's worst case at the close
SELECT pg_temp.acct('TAPRPN') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRPN', max_position_notional => 5000) \g /dev/null
SELECT is(pg_temp.st('TAPRPN', 'TAPR', 'buy', 49), 'pending',
	'a worst long of 49 at 100 (4900) passes');
SELECT is(pg_temp.st('TAPRPN', 'TAPR', 'buy', 1), 'pending',
	'49 open + 1 = 50 at 100 = 5000 exactly passes');
SELECT is(pg_temp.st('TAPRPN', 'TAPR', 'buy', 1), 'refused',
	'50 open + 1 = 51 at 100 = 5100 is refused');
SELECT is(pg_temp.last_check('max_position_notional', 'notional')::numeric,
	5100::numeric, 'the verdict shows the value 5100');
SELECT pg_temp.cancel_all('TAPRPN') \g /dev/null
SELECT pg_temp.fill('TAPRPN', 'buy', 80, 100) \g /dev/null
SELECT is(pg_temp.st('TAPRPN', 'TAPR', 'sell', 10), 'pending',
	'over the limit at 8000, a sell that reduces the long passes');
SELECT is(pg_temp.st('TAPRPN', 'TAPR', 'buy', 1), 'refused',
	'over the limit, a buy that adds to the long is refused');
SELECT pg_temp.cancel_all('TAPRPN') \g /dev/null

-- max_open_orders 3, counting the new order
SELECT pg_temp.acct('TAPROPEN') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPROPEN', max_open_orders => 3) \g /dev/null
SELECT is(pg_temp.st('TAPROPEN', 'TAPR', 'buy', 1), 'pending', '1 open of 3 passes');
SELECT is(pg_temp.st('TAPROPEN', 'TAPR', 'buy', 1), 'pending',
	'2 open of 3 passes (one under)');
SELECT is(pg_temp.st('TAPROPEN', 'TAPR', 'buy', 1), 'pending', '3 open of 3 passes');
SELECT is(pg_temp.st('TAPROPEN', 'TAPR', 'sell', 1), 'refused',
	'a 4th open order is refused, whichever side');
SELECT is(pg_temp.last_reason(), '4 open orders with this one exceed the limit of 3',
	'the refusal counts the open orders');
SELECT pgtrade.cancel_order(max(order_id)) FROM pgtrade.orders
WHERE account_id = 'TAPROPEN' AND status = 'pending' \g /dev/null
SELECT is(pg_temp.st('TAPROPEN', 'TAPR', 'buy', 1), 'pending',
	'after one is cancelled a 3rd fits again');
SELECT pg_temp.cancel_all('TAPROPEN') \g /dev/null

-- max_orders_per_day: refused orders do not count, cancelled ones do
SELECT pg_temp.acct('TAPRDAY') \g /dev/null
SELECT pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1) \g /dev/null
SELECT pg_temp.cancel_all('TAPRDAY') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRDAY', max_orders_per_day => 3) \g /dev/null
SELECT is(pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1), 'pending',
	'the 2nd order of the day (one cancelled before) passes a limit of 3');
SELECT is(pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1), 'pending', 'the 3rd passes');
SELECT is(pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1), 'refused', 'the 4th is refused');
SELECT is(pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1), 'refused',
	'and so is the next: the refused one did not count');
SELECT is(pg_temp.last_check('max_orders_per_day', 'orders_today')::int, 4,
	'the verdict counts 4 with this one (3 accepted + this)');
-- (moved back a day behind the state machine's back, as time would)
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders SET created_at = created_at - interval '1 day'
WHERE account_id = 'TAPRDAY';
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is(pg_temp.st('TAPRDAY', 'TAPR', 'buy', 1), 'pending',
	'orders of an earlier day do not count');
SELECT pg_temp.cancel_all('TAPRDAY') \g /dev/null

-- max_daily_loss 500: realized today plus unrealized at the close (100)
SELECT pg_temp.acct('TAPRLOSS') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRLOSS', max_daily_loss => 500) \g /dev/null
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'pending',
	'no loss: orders pass');
SELECT pg_temp.cancel_all('TAPRLOSS') \g /dev/null
SELECT pg_temp.fill('TAPRLOSS', 'buy', 100, 104.99) \g /dev/null
SELECT results_eq($$SELECT realized, unrealized FROM pgtrade.account_day_pnl('TAPRLOSS')$$,
	$$VALUES (0::numeric, -499::numeric)$$,
	'long 100 bought at 104.99, marked at 100: unrealized -499');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'pending',
	'a loss of 499, under the limit: a buy passes');
SELECT pg_temp.cancel_all('TAPRLOSS') \g /dev/null
SELECT pg_temp.fill('TAPRLOSS', 'sell', 100, 99.99) \g /dev/null
SELECT results_eq($$SELECT realized, unrealized FROM pgtrade.account_day_pnl('TAPRLOSS')$$,
	$$VALUES (-500::numeric, 0::numeric)$$,
	'sold at 99.99: 100 x (99.99 - 104.99) = -500 realized, flat');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'refused',
	'a loss of exactly 500 has reached the limit: a buy is refused');
SELECT is(pg_temp.last_reason(),
	'the day''s loss 500 (realized -500, unrealized 0) has '
	'reached the limit of 500; only orders that reduce exposure pass',
	'the refusal names loss, realized, unrealized and limit');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'sell', 1), 'refused',
	'flat, a sell opens a short: refused too');
SELECT pg_temp.fill('TAPRLOSS', 'buy', 10, 100.10) \g /dev/null
SELECT is(pg_temp.last_check('max_daily_loss', 'loss')::numeric, 500::numeric,
	'(the last verdict was taken before that fill)');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'sell', 10), 'pending',
	'a loss of 501 (-500 + 10 x (100 - 100.10)): a sell that closes the long passes');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'refused',
	'a loss of 501: a buy is refused');
SELECT is(pg_temp.last_check('max_daily_loss', 'loss')::numeric, 501::numeric,
	'the verdict shows the loss of 501');
SELECT pg_temp.cancel_all('TAPRLOSS') \g /dev/null
-- the realized loss belongs to the day it was made on
UPDATE pgtrade.position SET day = day - 1 WHERE account_id = 'TAPRLOSS';
SELECT results_eq($$SELECT realized, unrealized FROM pgtrade.account_day_pnl('TAPRLOSS')$$,
	$$VALUES (0::numeric, -1::numeric)$$,
	'a loss realized on an earlier day does not count today');
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'pending',
	'so a buy passes again');
SELECT pg_temp.cancel_all('TAPRLOSS') \g /dev/null
SELECT pgtrade.record_fill('TAPEX-TAPRLOSS-N', NULL, 'TAPRLOSS', 990502, 'buy', 5, 50,
	now()) \g /dev/null
SELECT is(pg_temp.st('TAPRLOSS', 'TAPR', 'buy', 1), 'refused',
	'a position with no bar to mark it makes the loss unknown: refused');
SELECT is(pg_temp.last_reason(),
	'the day''s loss cannot be known: no bar to mark the position in TAPN',
	'the refusal names the instrument that cannot be marked');

-- price_collar_pct 5 around the close of 100
SELECT pg_temp.acct('TAPRCOL') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRCOL', price_collar_pct => 5) \g /dev/null
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'buy', 1, 'limit', 104.99), 'pending',
	'a limit 4.99% away passes');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'buy', 1, 'limit', 105), 'pending',
	'a limit exactly 5% away passes');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'buy', 1, 'limit', 105.01), 'refused',
	'a limit 5.01% away is refused');
SELECT is(pg_temp.last_reason(),
	'limit price 105.01 is 5.0100% from the latest close 100, beyond the collar of 5%',
	'the refusal names price, distance, reference and collar');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'sell', 1, 'limit', 94.99), 'refused',
	'below the close too: a sell limit 5.01% under is refused');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'sell', 1, 'stop', NULL, 95), 'pending',
	'a stop exactly 5% under passes');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'sell', 1, 'stop_limit', 96, 94), 'refused',
	'a stop-limit whose stop is 6% away is refused though its limit is in');
SELECT is(pg_temp.last_check('price_collar', 'price_kind'), 'limit',
	'(its limit price was checked first and passed)');
SELECT is(pg_temp.st('TAPRCOL', 'TAPR', 'buy', 1), 'pending',
	'a market order has no price to collar');
SELECT is(pg_temp.st('TAPRCOL', 'TAPN', 'buy', 1, 'limit', 10), 'refused',
	'a limit order with no bar to check it against is refused');
SELECT pg_temp.cancel_all('TAPRCOL') \g /dev/null

-- allow_short false
SELECT pg_temp.acct('TAPRSHORT') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRSHORT', allow_short => false) \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 1), 'refused',
	'flat, a sell would open a short: refused');
SELECT is(pg_temp.last_reason(),
	'short selling is not allowed for account TAPRSHORT: the projected position would be -1',
	'the refusal says so');
SELECT pg_temp.fill('TAPRSHORT', 'buy', 10, 100) \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 9), 'pending',
	'long 10: a sell of 9 passes');
SELECT pg_temp.cancel_all('TAPRSHORT') \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 10), 'pending',
	'long 10: a sell of 10 to flat passes');
SELECT pg_temp.cancel_all('TAPRSHORT') \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 11), 'refused',
	'long 10: a sell of 11 would leave a short of 1: refused');
SELECT pgtrade.set_risk_limit('TAPRSHORT', allow_short => true) \g /dev/null
SELECT pgtrade.set_risk_limit(allow_short => false) \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 11), 'refused',
	'a false on all accounts wins over the account''s true');
SELECT pgtrade.remove_risk_limit('allow_short') \g /dev/null
SELECT is(pg_temp.st('TAPRSHORT', 'TAPR', 'sell', 11), 'pending',
	'with no false left, short selling is allowed');
SELECT pg_temp.cancel_all('TAPRSHORT') \g /dev/null

-- a strategy's scope counts the strategy's orders only
SELECT pg_temp.acct('TAPRSTRAT') \g /dev/null
SELECT pgtrade.create_strategy('tap_rs', 'sma_cross', 'TAPR', 'TAPRSTRAT',
	'{"fast": 2, "slow": 3}', 1) \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRSTRAT',
	(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_rs'),
	max_open_orders => 1, max_orders_per_day => 2) \g /dev/null
CREATE FUNCTION pg_temp.st_strat(p_side text) RETURNS text LANGUAGE sql AS $$
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity, strategy_id)
	VALUES ('TAPRSTRAT', pgtrade.instrument_id('TAPR'), p_side, 1,
			(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_rs'))
	RETURNING status;
$$;
SELECT is(pg_temp.st_strat('buy'), 'pending', 'the strategy''s first open order passes');
SELECT is(pg_temp.st_strat('buy'), 'refused',
	'its second open order is over the strategy''s limit of 1');
SELECT is(pg_temp.st('TAPRSTRAT', 'TAPR', 'buy', 1), 'pending',
	'a manual order of the account is not in the strategy''s scope');
SELECT pg_temp.cancel_all('TAPRSTRAT') \g /dev/null
SELECT is(pg_temp.st_strat('sell'), 'pending',
	'after a cancel: the strategy''s 2nd order of the day passes a limit of 2');
SELECT pg_temp.cancel_all('TAPRSTRAT') \g /dev/null
SELECT is(pg_temp.st_strat('sell'), 'refused',
	'its 3rd of the day is refused (the manual one and the refused one do not count)');
SELECT is(pg_temp.last_check('max_orders_per_day', 'orders_today')::int, 3,
	'the verdict counts the strategy''s 2 accepted orders and this one');

-- modifications: the collar checks a new price, not one left as it was
CREATE FUNCTION pg_temp.working(p_account text, p_limit numeric)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	v_id := (pgtrade.place_order(p_account, 'TAPR', 'buy', 10,
		order_type => 'limit', limit_price => p_limit)).order_id;
	PERFORM pgtrade.claim_order(1, ARRAY[p_account]);
	PERFORM pgtrade.record_submission(v_id, 'B' || v_id, 'Submitted');
	RETURN v_id;
END $$;
CREATE TEMP TABLE tap_w (id bigint);
INSERT INTO tap_w SELECT pg_temp.working('TAPRCOL', 100);
SELECT is((pgtrade.modify_order((SELECT id FROM tap_w), limit_price => 106)).status,
	'refused', 'a modification to a limit 6% away is refused');
SELECT is((pgtrade.modify_order((SELECT id FROM tap_w), limit_price => 104)).status,
	'requested', 'a modification to a limit 4% away is requested');

-- bad limits: a clear error, nothing stored
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPRCOL', max_order_notional => 'NaN')$$,
	'22023', 'max_order_notional must be a finite number above 0, not NaN',
	'a NaN order value limit is refused');
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPRCOL', max_open_orders => -1)$$,
	'22023', 'max_open_orders must be at least 0, not -1',
	'a negative open order limit is refused');
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('TAPRCOL', price_collar_pct => 0)$$,
	'22023', 'price_collar_pct must be a finite percentage above 0, not 0',
	'a collar of 0% is refused');
SELECT throws_ok($$SELECT pgtrade.set_risk_limit('NOSUCHACCT', max_daily_loss => 1)$$,
	'23503', 'account "NOSUCHACCT" does not exist',
	'a limit for an unknown account is refused');
SELECT throws_ok($$SELECT pgtrade.remove_risk_limit('max_loss', 'TAPRCOL')$$,
	'22023', 'unknown limit "max_loss"', 'an unknown limit name is refused');

-- a limit whose scope could never apply, and an account's trading day
SELECT pgtrade.create_strategy('tap_rl_s', 'sma_cross', 'TAPR', 'TAPRSHORT',
	'{"fast": 2, "slow": 3}', 1) \g /dev/null
SELECT throws_ok(format($$SELECT pgtrade.set_risk_limit('TAPRCOL', %s, max_position => 1)$$,
	(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_rl_s')), '22023',
	NULL, 'a limit for a strategy of another account is refused');
SELECT throws_ok($$SELECT pgtrade.add_account('TAPRCOL', NULL, 'Asia/Tokyo')$$,
	'22023', 'account "TAPRCOL" keeps its trading day in America/New_York, not Asia/Tokyo',
	'an account''s time zone is never changed silently');
SELECT throws_ok($$SELECT pgtrade.add_account('TAPRTZ', NULL, 'Mars/Olympus')$$,
	'22023', 'time zone "Mars/Olympus" not recognized', 'an unknown zone is refused');
SELECT is(pgtrade.add_account('TAPRTZ', NULL, 'Asia/Tokyo'), 'TAPRTZ',
	'a new account takes a zone');
SELECT is(pgtrade.account_day_start('TAPRTZ'),
	(now() AT TIME ZONE 'Asia/Tokyo')::date::timestamp AT TIME ZONE 'Asia/Tokyo',
	'its trading day starts at midnight in Tokyo');

-- limits are audited; the verdict says who asked
SELECT is((SELECT (new_row->>'max_daily_loss')::numeric FROM pgtrade.risk_limit_history
		   WHERE new_row->>'account_id' = 'TAPRLOSS'
		   ORDER BY history_id DESC LIMIT 1), 500::numeric,
	'the daily loss limit is in the limit history');
GRANT pgtrade_trader TO CURRENT_USER;
SELECT pgtrade.grant_account('pgtrade_trader', 'TAPRCOL') \g /dev/null
SET ROLE pgtrade_trader;
SELECT pg_temp.st('TAPRCOL', 'TAPR', 'buy', 1) \g /dev/null
RESET ROLE;
SELECT is((SELECT risk_verdict->>'asked_by' FROM pgtrade.orders
		   ORDER BY order_id DESC LIMIT 1), 'pgtrade_trader',
	'the verdict names the role that asked');

SELECT * FROM finish();
ROLLBACK;
