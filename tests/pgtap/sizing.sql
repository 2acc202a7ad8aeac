-- sizing.sql: a strategy's position size by its sizing: fixed, a
-- fraction of equity, or risk (a fraction of equity over a stop of ATR
-- times a multiple), rounded down to the lot size in numeric.  Sizes are
-- worked out by hand in the comments.
\ir preamble.psql
SELECT plan(24);

SET LOCAL timezone = 'UTC';

-- closes 10 .. 15 over six days, high = close + 1, low = close - 1: every
-- true range from the second bar is max(2, |c-1 - (c+1)|, 0) = 2, so the
-- ATR of any period is 2.  sma_cross 2/3 on a rise: target long.
SELECT pgtrade.add_instrument('TAPZ' || i, 990300 + i)
FROM generate_series(1, 5) i \g /dev/null
UPDATE pgtrade.instrument SET lot_size = 10 WHERE symbol = 'TAPZ3';
CREATE TEMP TABLE tap_bars (line bigserial, symbol text, ts text,
	open float8, high float8, low float8, close float8, volume float8);
INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
SELECT 'TAPZ' || i, d, c, c + 1, c - 1, c, 1000
FROM generate_series(1, 5) i,
	 (VALUES ('2024-01-02', 10), ('2024-01-03', 11), ('2024-01-04', 12),
			 ('2024-01-05', 13), ('2024-01-08', 14), ('2024-01-09', 15)) v(d, c);
SELECT is(pgtrade.import_bars('tap_bars'), 30::bigint, 'six bars each');

SELECT pgtrade.create_strategy('tap_z' || i, 'sma_cross', 'TAPZ' || i,
	'TAPACCT1', '{"fast": 2, "slow": 3}', CASE i WHEN 3 THEN 10 ELSE 1 END,
	max_bar_age => '100 years',
	market_hours => 'always')
FROM generate_series(1, 5) i \g /dev/null

-- fixed, as before: target 1 x quantity 1
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z5',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('buy', 1::numeric)$$, 'fixed sizing: target x quantity');

-- a fraction of equity: 10000 x 0.5 / close 15 = 333.33: 333 shares
UPDATE pgtrade.strategy SET sizing = 'equity_fraction', capital = 10000,
	sizing_fraction = 0.5 WHERE name = 'tap_z1';
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z1',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('buy', 333::numeric)$$, 'equity_fraction: 10000 x 0.5 / 15 = 333');
SELECT matches((SELECT reason FROM pgtrade.decision ORDER BY decision_id DESC LIMIT 1),
	'; sized 333: equity 10000\.00 x 0\.5 / close 15, in lots of 1; target position 333,',
	'the reason shows the sizing');
SELECT is((SELECT s.input -> 'sizing' ->> 'size' FROM pgtrade.workflow_step s
		   JOIN pgtrade.decision d USING (run_id)
		   WHERE d.decision_id = (SELECT max(decision_id) FROM pgtrade.decision)
			 AND s.name = 'decide'), '333', 'the decide step keeps the sizing');
-- the buy is open: the next run keeps it, and resizes nothing
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z1',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('hold', 0::numeric)$$, 'an open position on the target''s side is kept');
SELECT matches((SELECT reason FROM pgtrade.decision ORDER BY decision_id DESC LIMIT 1),
	'333 already held or on order: not resized',
	'and the reason says it was not resized');

-- risk: stop 2 x ATR(3) 2 = 4; 10000 x 0.01 / 4 = 25 shares
UPDATE pgtrade.strategy SET sizing = 'risk', capital = 10000,
	sizing_fraction = 0.01, atr_period = 3, atr_multiple = 2
WHERE name = 'tap_z2';
SELECT is((SELECT bars_needed FROM pgtrade.strategy WHERE name = 'tap_z2'), 4,
	'risk sizing with ATR(3) needs 4 bars (as the kind does)');
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z2',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('buy', 25::numeric)$$, 'risk: 10000 x 0.01 / (2 x ATR 2) = 25');
SELECT matches((SELECT reason FROM pgtrade.decision ORDER BY decision_id DESC LIMIT 1),
	'sized 25: equity 10000\.00 x 0\.01 / stop 4\.0000 \(2 x ATR\(3\) 2\.0000\), in lots of 1',
	'the reason shows the stop and the ATR');
-- an ATR longer than the bars: no size, no order
UPDATE pgtrade.strategy SET atr_period = 50 WHERE name = 'tap_z4';
UPDATE pgtrade.strategy SET sizing = 'risk', capital = 10000,
	sizing_fraction = 0.01, atr_period = 50 WHERE name = 'tap_z4';
SELECT is((SELECT bars_needed FROM pgtrade.strategy WHERE name = 'tap_z4'), 51,
	'risk sizing with ATR(50) raises bars_needed to 51');
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z4',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('hold', 0::numeric)$$, 'without an ATR there is no size: hold');
SELECT matches((SELECT reason FROM pgtrade.decision ORDER BY decision_id DESC LIMIT 1),
	'cannot size: ATR\(50\) needs 51 bars', 'and the reason says why');

-- back to a shorter ATR, and back to fixed: bars_needed comes down again
UPDATE pgtrade.strategy SET atr_period = 5 WHERE name = 'tap_z4';
SELECT is((SELECT bars_needed FROM pgtrade.strategy WHERE name = 'tap_z4'), 6,
	'a shorter ATR lowers bars_needed to 6');
UPDATE pgtrade.strategy SET sizing = 'fixed' WHERE name = 'tap_z4';
SELECT is((SELECT bars_needed FROM pgtrade.strategy WHERE name = 'tap_z4'), 4,
	'fixed sizing: the kind''s own 4 again');

-- lots of 10: 10000 x 0.5 / 15 = 333.33, rounded down to 330
UPDATE pgtrade.strategy SET sizing = 'equity_fraction', capital = 10000,
	sizing_fraction = 0.5 WHERE name = 'tap_z3';
SELECT results_eq($$SELECT action, quantity FROM pgtrade.run_strategy('tap_z3',
	'2024-01-09 22:00+00', place_orders => true)$$,
	$$VALUES ('buy', 330::numeric)$$, 'rounded down to the lot size of 10: 330');

-- equity counts the position's P&L: 4 long at an average of 11 and 50
-- realized, marked at 15: 10000 + 50 + 4 x (15 - 11) = 10066.  A
-- reversal (target -1 while long) sizes 10066 x 0.5 / 15 = 335.53: -335
INSERT INTO pgtrade.position (account_id, instrument_id, quantity, avg_cost,
	realized_pnl)
VALUES ('TAPACCT1', pgtrade.instrument_id('TAPZ1'), 4, 11, 50)
ON CONFLICT (account_id, instrument_id) DO UPDATE
SET quantity = 4, avg_cost = 11, realized_pnl = 50;
SELECT results_eq($$SELECT target_position, detail ->> 'equity'
	FROM pgtrade.size_target((SELECT s FROM pgtrade.strategy s
		WHERE name = 'tap_z1'), -1, 15, NULL, 4, 0)$$,
	$$VALUES (-335::numeric, '10066')$$,
	'equity is capital plus realized and unrealized P&L: -335 from 10066');
-- a loss that ate the capital: no new position
UPDATE pgtrade.position SET realized_pnl = -20000
WHERE account_id = 'TAPACCT1' AND instrument_id = pgtrade.instrument_id('TAPZ1');
SELECT is((SELECT note FROM pgtrade.size_target((SELECT s FROM pgtrade.strategy s
		WHERE name = 'tap_z1'), -1, 15, NULL, 4, 0)),
	'equity -9984 is not positive: no new position',
	'equity not positive: no new position, and says so');

-- flat targets need no size
SELECT is((SELECT target_position FROM pgtrade.size_target(
	(SELECT s FROM pgtrade.strategy s WHERE name = 'tap_z2'), 0, 15, 2, 25, 0)),
	0::numeric, 'a flat target is 0 whatever the sizing');
SELECT is((SELECT detail FROM pgtrade.size_target(
	(SELECT s FROM pgtrade.strategy s WHERE name = 'tap_z2'), NULL, 15, 2, 0, 0)),
	NULL, 'no target, no sizing');

-- the scheduler leaves a position to size to run one by one
UPDATE pgtrade.strategy SET active = false WHERE active;
UPDATE pgtrade.strategy SET active = true, sizing = 'risk', capital = 10000,
	sizing_fraction = 0.01, atr_period = 3 WHERE name = 'tap_z5';
UPDATE pgtrade.strategy SET next_run_at = now() - interval '1 minute'
WHERE name = 'tap_z5';
SELECT is(pgtrade.run_due_bulk(now(), 500),
	ARRAY[(SELECT strategy_id FROM pgtrade.strategy WHERE name = 'tap_z5')],
	'run_due_bulk leaves a target to size to run_next_due');

-- bad sizing
SELECT throws_ok($$UPDATE pgtrade.strategy SET sizing = 'equity_fraction',
	capital = NULL WHERE name = 'tap_z5'$$, '23514', NULL,
	'a sizing from equity needs a capital');
SELECT throws_ok($$UPDATE pgtrade.strategy SET sizing = 'risk', capital = 1,
	sizing_fraction = 2 WHERE name = 'tap_z5'$$, '23514', NULL,
	'a stop may risk at most all of the equity');
SELECT throws_ok($$UPDATE pgtrade.strategy SET sizing = 'half' WHERE name = 'tap_z5'$$,
	'23514', NULL, 'an unknown sizing is refused');

SELECT * FROM finish();
ROLLBACK;
