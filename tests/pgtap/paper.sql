-- paper.sql: paper trading's price rule, DAY expiry, and one order's
-- way through claim, paper_accept and paper_step.  Prices are worked
-- out by hand next to each case: buys pay reference x (1 + bps/10000)
-- rounded up to the tick, sells get reference x (1 - bps/10000) rounded
-- down.
\ir preamble.psql
SELECT plan(30);

SELECT is(pgtrade.paper_price('buy', 100.37, 10, 0.01), 100.48,
	'buy: 100.37 x 1.001 = 100.47037, up to 100.48');
SELECT is(pgtrade.paper_price('sell', 100.37, 10, 0.01), 100.26,
	'sell: 100.37 x 0.999 = 100.26963, down to 100.26');
SELECT is(pgtrade.paper_price('buy', 50.12, 10, 0.05), 50.20,
	'buy on a 0.05 tick: 50.17012 up to 50.20');
SELECT is(pgtrade.paper_price('sell', 50.12, 10, 0.05), 50.05,
	'sell on a 0.05 tick: 50.06988 down to 50.05');
SELECT is(pgtrade.paper_price('buy', 100, 5, 0.01), 100.05,
	'buy: 100 x 1.0005 = 100.05 exactly stays 100.05');
SELECT is(pgtrade.paper_price('sell', 100.004, 0, 0.01), 100.00,
	'no slippage: a sell still rounds down to the tick');
SELECT is(pgtrade.paper_price('hold', 100, 5, 0.01), NULL,
	'an unknown side has no price');

SELECT is(pgtrade.paper_day_close('2026-12-04 14:00+00', 'America/New_York',
	'16:00'), '2026-12-04 21:00+00'::timestamptz,
	'submitted at 09:00 New York (EST): expires at 16:00, 21:00 UTC');
SELECT is(pgtrade.paper_day_close('2026-12-04 21:30+00', 'America/New_York',
	'16:00'), '2026-12-05 21:00+00'::timestamptz,
	'submitted after the close: expires at the next day''s close');
SELECT is(pgtrade.paper_day_close('2026-12-04 21:00+00', 'America/New_York',
	'16:00'), '2026-12-05 21:00+00'::timestamptz,
	'submitted at the close itself: the next day''s close');
SELECT is(pgtrade.paper_day_close('2026-07-01 19:59+00', 'America/New_York',
	'16:00'), '2026-07-01 20:00+00'::timestamptz,
	'in summer (EDT) the close is 20:00 UTC');

-- one market buy, from claim to fill
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
	close, volume)
VALUES (pgtrade.instrument_id('TAPX'), '1 day',
	((now() AT TIME ZONE 'America/New_York')::date - 1)::timestamp
		AT TIME ZONE 'America/New_York', 20, 20.5, 19.8, 20.03, 100);
CREATE TEMP TABLE tap_p AS
SELECT pgtrade.listener_register('tap', 1, 'tap') AS lid,
	(pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 5)).order_id AS oid;
SELECT is((SELECT order_id FROM pgtrade.claim_order(
	(SELECT lid FROM tap_p), ARRAY['TAPACCT1'])), (SELECT oid FROM tap_p),
	'the order is claimed as for a live listener');
SELECT is(pgtrade.paper_accept((SELECT oid FROM tap_p), (SELECT lid FROM tap_p)),
	'working', 'paper_accept acknowledges it: working');
SELECT is((SELECT broker_order_id = 'PAPER-' || client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT oid FROM tap_p)), true,
	'its broker order id is PAPER-<cOID>');
SELECT results_eq($$SELECT outcome, status, price
	FROM pgtrade.paper_step((SELECT oid FROM tap_p), 10)$$,
	$$VALUES ('filled', 'filled', 20.06)$$,
	'paper_step fills it: 20.03 x 1.001 = 20.05003, up to 20.06');
SELECT results_eq($$SELECT execution_id = 'PAPER-' || order_ref || '-1',
		quantity, price, payload->>'paper'
	FROM pgtrade.fill WHERE order_id = (SELECT oid FROM tap_p)$$,
	$$VALUES (true, 5::numeric, 20.06::numeric, 'true')$$,
	'one fill PAPER-<cOID>-1 of 5 at 20.06, marked paper');
SELECT is((SELECT quantity FROM pgtrade.position
	WHERE account_id = 'TAPACCT1'
		AND instrument_id = pgtrade.instrument_id('TAPX')), 5::numeric,
	'the position follows the paper fill');
SELECT is((SELECT outcome FROM pgtrade.paper_step((SELECT oid FROM tap_p), 10)),
	'ignored', 'a filled order is not stepped again');
SELECT is((SELECT count(*)::int FROM pgtrade.fill
	WHERE order_id = (SELECT oid FROM tap_p)), 1, 'still one fill');

-- a modification of a working paper order: the paper listener, its
-- broker, applies it
UPDATE tap_p SET oid = (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 2,
	'limit', 19.50, tif => 'gtc')).order_id;
SELECT pgtrade.claim_order((SELECT lid FROM tap_p), ARRAY['TAPACCT1'])
	\g /dev/null
SELECT pgtrade.paper_accept((SELECT oid FROM tap_p), (SELECT lid FROM tap_p))
	\g /dev/null
CREATE TEMP TABLE tap_m AS
SELECT (pgtrade.modify_order((SELECT oid FROM tap_p), 3, 19.60, NULL))
	.modification_id AS mid;
SELECT is(pgtrade.paper_modify((SELECT mid FROM tap_m), (SELECT lid FROM tap_p)),
	'applied', 'paper_modify applies a modification of a working paper order');
SELECT results_eq($$SELECT o.status, o.quantity, o.limit_price, m.status,
		m.payload ->> 'paper'
	FROM pgtrade.orders o JOIN pgtrade.order_modification m USING (order_id)
	WHERE m.modification_id = (SELECT mid FROM tap_m)$$,
	$$VALUES ('working', 3::numeric, 19.60::numeric, 'applied', 'true')$$,
	'the order works on with quantity 3 and limit 19.60, marked paper');
SELECT is(pgtrade.paper_modify((SELECT mid FROM tap_m), (SELECT lid FROM tap_p)),
	'applied', 'an answered modification is answered once');

-- a stop is elected by what traded after it was placed: the one ended
-- bar (yesterday's: high 20.5, low 19.8, close 20.03) ended before these
-- orders, so its close alone can elect them
UPDATE tap_p SET oid = (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	order_type => 'stop', stop_price => 20.40, tif => 'gtc')).order_id;
SELECT pgtrade.claim_order((SELECT lid FROM tap_p), ARRAY['TAPACCT1'])
	\g /dev/null
SELECT pgtrade.paper_accept((SELECT oid FROM tap_p), (SELECT lid FROM tap_p))
	\g /dev/null
SELECT is((SELECT outcome FROM pgtrade.paper_step((SELECT oid FROM tap_p), 10)),
	'working', 'a buy stop at 20.40 is not elected by the high of 20.50 '
	'of a bar that ended before it was placed');
UPDATE tap_p SET oid = (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	order_type => 'stop', stop_price => 20.00, tif => 'gtc')).order_id;
SELECT pgtrade.claim_order((SELECT lid FROM tap_p), ARRAY['TAPACCT1'])
	\g /dev/null
SELECT pgtrade.paper_accept((SELECT oid FROM tap_p), (SELECT lid FROM tap_p))
	\g /dev/null
SELECT results_eq($$SELECT outcome, price
	FROM pgtrade.paper_step((SELECT oid FROM tap_p), 10)$$,
	$$VALUES ('filled', 20.06)$$,
	'a buy stop at 20.00 under that close is elected by it and fills from '
	'the worse of close and stop: 20.03 x 1.001 = 20.05003, up to 20.06');

-- a bracket's exits are one-cancels-other at the paper broker too
CREATE TEMP TABLE tap_b AS
SELECT * FROM pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy', 2, NULL,
	20.00, 19.50);
SELECT pgtrade.claim_order((SELECT lid FROM tap_p), ARRAY['TAPACCT1'])
	\g /dev/null
SELECT pgtrade.paper_accept(order_id, (SELECT lid FROM tap_p))
FROM tap_b ORDER BY order_id \g /dev/null
SELECT is((SELECT outcome FROM pgtrade.paper_step((SELECT order_id FROM tap_b
	WHERE bracket_role = 'entry'), 10)), 'filled', 'the entry fills at market');
SELECT is((SELECT outcome || ' ' || price FROM pgtrade.paper_step(
	(SELECT order_id FROM tap_b WHERE bracket_role = 'take_profit'), 10)),
	'filled 20.00', 'the take-profit sells at 20.03 x 0.999 = 20.00997, '
	'down to 20.00, at its limit');
SELECT is((SELECT status FROM pgtrade.orders WHERE order_id =
	(SELECT order_id FROM tap_b WHERE bracket_role = 'stop_loss')),
	'cancelled', 'the stop-loss of its group is cancelled with it');

-- an order another listener claimed is not taken over
UPDATE tap_p SET oid = (pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 1)).order_id;
SELECT pgtrade.claim_order((SELECT lid FROM tap_p), ARRAY['TAPACCT1'])
	\g /dev/null
SELECT is(pgtrade.paper_accept((SELECT oid FROM tap_p),
	(SELECT lid FROM tap_p) + 1), 'unknown',
	'an order claimed by another listener becomes unknown');
SELECT throws_ok($$SELECT pgtrade.paper_cancel((SELECT oid FROM tap_p))$$,
	'55000', NULL, 'paper_cancel refuses an order that is not a paper order');
SELECT is((SELECT outcome FROM pgtrade.paper_step((SELECT oid FROM tap_p), 10)),
	'ignored', 'paper_step leaves an order that is not a paper order alone');


SELECT * FROM finish();
ROLLBACK;
