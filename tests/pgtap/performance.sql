-- performance.sql: a strategy's daily performance from its fills and
-- daily closes.  Every figure is worked out by hand below.
\ir preamble.psql
SELECT plan(19);

-- Closes 10, 12, 9, 11 on 2024-01-02 .. 01-05; fills (New York times):
--   01-02 15:00 buy 10 @ 10        position 10 @ 10
--   01-03 15:00 sell 5 @ 12        realizes 5 * (12 - 10) = 10, 5 @ 10
--   01-05 15:00 sell 5 @ 11        realizes 5 * (11 - 10) = 5, flat
-- Unrealized at the close: 01-02 10 * (10 - 10) = 0; 01-03 5 * (12 - 10)
-- = 10; 01-04 5 * (9 - 10) = -5; 01-05 flat, 0.
-- Equity = realized to date + unrealized: 0, 20, 5, 15.
-- Drawdown from the running peak: 0, 0, 5 - 20 = -15, 15 - 20 = -5.
SELECT pgtrade.add_account('TAPPERF') \g /dev/null
SELECT pgtrade.add_instrument('TAPP', 990050) \g /dev/null
CREATE TEMP TABLE tap_bars (symbol text, ts text, open float8, high float8,
	low float8, close float8, volume float8);
INSERT INTO tap_bars
SELECT 'TAPP', d, c, c + 1, c - 1, c, 1000
FROM (VALUES ('2024-01-02', 10), ('2024-01-03', 12), ('2024-01-04', 9),
			 ('2024-01-05', 11)) v(d, c);
SELECT pgtrade.import_bars('tap_bars') \g /dev/null
SELECT pgtrade.create_strategy('tap_perf', 'sma_cross', 'TAPP', 'TAPPERF',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT pgtrade.record_fill('pf.a.01.01', NULL, 'TAPPERF', 990050, 'B', 10, 10,
	'2024-01-02 15:00 America/New_York') \g /dev/null
SELECT pgtrade.record_fill('pf.b.01.01', NULL, 'TAPPERF', 990050, 'S', 5, 12,
	'2024-01-03 15:00 America/New_York') \g /dev/null
SELECT pgtrade.record_fill('pf.c.01.01', NULL, 'TAPPERF', 990050, 'S', 5, 11,
	'2024-01-05 15:00 America/New_York') \g /dev/null

SELECT results_eq(
	$$SELECT day, trades, net_position FROM
	  pgtrade.strategy_performance('tap_perf')$$,
	$$VALUES ('2024-01-02'::date, 1, 10::numeric), ('2024-01-03', 1, 5),
			 ('2024-01-04', 0, 5), ('2024-01-05', 1, 0)$$,
	'one row per session from the first fill, with trades and position');
SELECT results_eq(
	$$SELECT realized_pnl, cumulative_realized FROM
	  pgtrade.strategy_performance('tap_perf')$$,
	$$VALUES (0::numeric, 0::numeric), (10, 10), (0, 10), (5, 15)$$,
	'realized P&L by day and to date: 0, 10, 0, 5');
SELECT results_eq(
	$$SELECT unrealized_pnl FROM pgtrade.strategy_performance('tap_perf')$$,
	$$VALUES (0::numeric), (10), (-5), (0)$$,
	'unrealized P&L at each close: 0, 10, -5, 0');
SELECT results_eq(
	$$SELECT equity, drawdown FROM pgtrade.strategy_performance('tap_perf')$$,
	$$VALUES (0::numeric, 0::numeric), (20, 0), (5, -15), (15, -5)$$,
	'equity and drawdown from the running peak');
SELECT is((SELECT sum(realized_pnl) FROM pgtrade.strategy_performance('tap_perf')),
	(SELECT realized_pnl FROM pgtrade.position WHERE account_id = 'TAPPERF'),
	'daily realized P&L adds up to the position''s');

-- a fill on a day without a bar (a Saturday, as paper trading fills) is
-- marked at the last close before it: bought 10 @ 10 on Saturday
-- 2024-01-06, Friday's close 11: unrealized 10 * (11 - 10) = 10
SELECT pgtrade.add_account('TAPPERF3') \g /dev/null
SELECT pgtrade.add_instrument('TAPPQ', 990058) \g /dev/null
INSERT INTO tap_bars VALUES ('TAPPQ', '2024-01-05', 11, 12, 10, 11, 1000);
DELETE FROM tap_bars WHERE symbol = 'TAPP';
SELECT pgtrade.import_bars('tap_bars') \g /dev/null
SELECT pgtrade.create_strategy('tap_perf_sat', 'sma_cross', 'TAPPQ',
	'TAPPERF3', '{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT pgtrade.record_fill('pf.sat.01.01', NULL, 'TAPPERF3', 990058, 'B', 10, 10,
	'2024-01-06 12:00 America/New_York') \g /dev/null
SELECT results_eq(
	$$SELECT day, net_position, unrealized_pnl, equity FROM
	  pgtrade.strategy_performance('tap_perf_sat')$$,
	$$VALUES ('2024-01-06'::date, 10::numeric, 10::numeric, 10::numeric)$$,
	'a day without a bar is marked at the last close before it');

-- the daily rollup stores the same figures, once
SELECT is(pgtrade.rollup_performance('tap_perf'), 4, 'the rollup stores four days');
SELECT results_eq(
	$$SELECT day, trades, net_position, realized_pnl, cumulative_realized,
		unrealized_pnl, equity, drawdown FROM pgtrade.strategy_daily
	  WHERE strategy = 'tap_perf' ORDER BY day$$,
	$$VALUES ('2024-01-02'::date, 1, 10::numeric, 0::numeric, 0::numeric,
			  0::numeric, 0::numeric, 0::numeric),
		('2024-01-03', 1, 5, 10, 10, 10, 20, 0),
		('2024-01-04', 0, 5, 0, 10, -5, 5, -15),
		('2024-01-05', 1, 0, 5, 15, 0, 15, -5)$$,
	'the stored days hold the figures worked out above');
SELECT is(pgtrade.rollup_performance('tap_perf'), 0,
	'a second rollup changes nothing');

-- a correction replaces its execution in the report too: the 01-03 sell
-- corrected to 13 realizes 5 * (13 - 10) = 15 instead of 10, 20 in all
SELECT ok(pgtrade.record_fill('pf.b.01.02', NULL, 'TAPPERF', 990050, 'S', 5,
	13, '2024-01-03 15:00 America/New_York'), 'a correction is recorded');
SELECT is((SELECT realized_pnl FROM pgtrade.strategy_performance('tap_perf')
		   WHERE day = '2024-01-03'), 15::numeric,
	'the corrected day realizes 15');
SELECT is((SELECT sum(realized_pnl) FROM pgtrade.strategy_performance('tap_perf')),
	20::numeric, 'daily realized P&L still adds up: 15 + 5');
-- stored again: 01-03 realizes 15 (to date 15), 01-04 and 01-05 carry
-- the extra 5 in realized to date and equity: three days change
SELECT is(pgtrade.rollup_performance('tap_perf'), 3,
	'after the correction the rollup rewrites the three days it changed');
SELECT results_eq(
	$$SELECT cumulative_realized, equity, drawdown FROM pgtrade.performance
	  WHERE strategy_id = (SELECT strategy_id FROM pgtrade.strategy
						   WHERE name = 'tap_perf')
	  ORDER BY day$$,
	$$VALUES (0::numeric, 0::numeric, 0::numeric), (15, 25, 0), (15, 10, -15),
		(20, 20, -5)$$,
	'realized to date 0, 15, 15, 20; equity 0, 25, 10, 20');
-- a trader's rollup covers the accounts the trader may see, no more
SELECT pgtrade.add_account('TAPPERF2') \g /dev/null
SELECT pgtrade.create_strategy('tap_perf2', 'sma_cross', 'TAPP', 'TAPPERF2',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT pgtrade.record_fill('pf.d.01.01', NULL, 'TAPPERF2', 990050, 'B', 1, 10,
	'2024-01-02 15:00 America/New_York') \g /dev/null
CREATE ROLE tap_perf_trader IN ROLE pgtrade_trader;
SELECT pgtrade.grant_account('tap_perf_trader', 'TAPPERF') \g /dev/null
SET ROLE tap_perf_trader;
SELECT is(pgtrade.rollup_performance(), 0,
	'a trader''s rollup skips accounts not granted (nothing new in its own)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pgtrade.strategy_daily
		   WHERE strategy = 'tap_perf2'), 0, 'so the other account''s days wait');
SELECT throws_ok($$SELECT pgtrade.rollup_performance('nope')$$,
	'42704', 'strategy "nope" does not exist', 'the rollup refuses one too');
SELECT throws_ok($$SELECT * FROM pgtrade.strategy_performance('nope')$$,
	'42704', 'strategy "nope" does not exist', 'an unknown strategy is refused');

-- the report needs no writes: it runs in a read-only transaction (a
-- standby's, say); the rest of this suite only reads
SET LOCAL transaction_read_only = on;
SELECT is((SELECT count(*)::int FROM pgtrade.strategy_performance('tap_perf')),
	4, 'strategy_performance runs read-only');

SELECT * FROM finish();
ROLLBACK;
