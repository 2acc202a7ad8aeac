-- backtest_risk.sql: a backtest's orders meet the risk limits of the
-- account as the gate would put them, against the backtest's own
-- position and P&L.  Every figure is worked out by hand in the comments.
\ir preamble.psql
SELECT plan(27);

SET LOCAL timezone = 'UTC';

-- sma_cross 1/2 (needs 3 bars) is long when a close is above the one
-- before, flat when below.  10 shares, no commission, capital 1000.
--   day  open close  decision at the close
--   d1    10   10    too few bars
--   d2    10   11    too few bars
--   d3    11   12    long: buy 10 at the d4 open (12)
--   d4    12   13    long, held: 10 at 12
--   d5    13   11    flat: sell 10 at the d6 open (9), realizing -30
--   d6     9   12    long: buy, on a day that has lost 30
--   d7    12   13    long
--   d8    14   14    long
SELECT pgtrade.add_instrument('TAPBR', 990501) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPBR'), '1 day',
	(d::timestamp AT TIME ZONE 'America/New_York'), o, greatest(o, c) + 1,
	least(o, c) - 1, c, 1000
FROM (VALUES ('2024-03-04'::date, 10, 10), ('2024-03-05', 10, 11),
			 ('2024-03-06', 11, 12), ('2024-03-07', 12, 13),
			 ('2024-03-08', 13, 11), ('2024-03-11', 9, 12),
			 ('2024-03-12', 12, 13), ('2024-03-13', 14, 14)) v(d, o, c);
SELECT pgtrade.add_account(a) FROM unnest(ARRAY['TAPBR1', 'TAPBR2', 'TAPBR3',
	'TAPBR4']) a \g /dev/null
SELECT pgtrade.create_strategy('tap_br' || n, 'sma_cross', 'TAPBR',
	'TAPBR' || n, '{"fast": 1, "slow": 2}', 10, max_bar_age => '100 years',
	market_hours => 'always')
FROM generate_series(1, 4) n \g /dev/null

-- TAPBR1 has no limit at all: the gate refuses every order (no
-- max_position covers the account), so the buys at d3, d4 (still flat),
-- d6, d7 and d8 are refused; d5 wants flat and is flat.
CREATE TEMP TABLE tap_r1 AS
SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01', '2024-03-14',
	capital => 1000, store => true);
SELECT results_eq($$SELECT bars, trades, refused, final_equity FROM tap_r1$$,
	$$VALUES (8, 0, 5, 1000::numeric)$$,
	'no max_position limit: five orders refused, nothing traded');
SELECT is((SELECT d.risk_verdict ->> 'reason' FROM pgtrade.backtest_decision d
	JOIN tap_r1 USING (backtest_id) WHERE d.as_of = '2024-03-06 21:00+00'),
	'no max_position limit covers account TAPBR1; set one with pgtrade.set_risk_limit()',
	'the refusal keeps the gate''s reason');
SELECT is((SELECT count(*)::int FROM pgtrade.backtest_decision d
	JOIN tap_r1 USING (backtest_id) WHERE d.risk_verdict IS NULL), 3,
	'closes that place no order have no verdict (d1, d2, d5)');

-- risk => false: the strategy bare.  buy 10 at 12 (d4), sell 10 at 9
-- (d6), buy 10 at 12 (d7): cash 1000 - 120 + 90 - 120 = 850, equity at
-- the d8 close 850 + 140 = 990.
SELECT results_eq($$SELECT trades, refused, final_equity
	FROM pgtrade.backtest('tap_br1', '2024-03-01', '2024-03-14',
		capital => 1000, risk => false)$$,
	$$VALUES (3, 0, 990::numeric)$$,
	'risk => false applies no limit: three trades, 990');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01',
	'2024-03-14', risk => NULL)$$, '22023', 'risk and store must be true or false',
	'risk NULL is refused');

SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01',
	'2024-03-14', store => NULL)$$, '22023', 'risk and store must be true or false',
	'store NULL is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01',
	'2024-03-14', commission => NULL)$$, '22023',
	'a backtest''s commission must be from 0 to below 1e6 a unit, not NULL',
	'commission NULL is refused, not taken for none');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01',
	'2024-03-14', slippage_bps => 1001)$$, '22023',
	'a backtest''s slippage_bps must be from 0 to 1000 basis points, not 1001',
	'slippage beyond 1000 basis points is refused, named');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_br1', '2024-03-01',
	'2024-03-14', capital => 'NaN')$$, '22023',
	'a backtest''s capital must be above 0 and below 1e15, not NaN',
	'a capital of NaN is refused, named');
-- params written 1.0 are the integer 1, as the validator reads them
SELECT results_eq($$SELECT trades, final_equity
	FROM pgtrade.backtest('tap_br1', '2024-03-01', '2024-03-14',
		capital => 1000, risk => false, params => '{"fast": 1.0, "slow": 2}')$$,
	$$VALUES (3, 990::numeric)$$, 'params 1.0 and 2 run as 1 and 2');

-- TAPBR2: max_daily_loss 25.  At the d6 close the day has realized
-- 10 x (9 - 12) = -30 and holds nothing: a loss of 30 has reached 25, so
-- the buy is refused; d7 is a new day (realized 0) and buys at the d8
-- open (14): cash 1000 - 120 + 90 - 140 = 830, equity 830 + 140 = 970.
SELECT pgtrade.set_risk_limit('TAPBR2', max_position => 100,
	max_daily_loss => 25) \g /dev/null
CREATE TEMP TABLE tap_r2 AS
SELECT * FROM pgtrade.backtest('tap_br2', '2024-03-01', '2024-03-14',
	capital => 1000, store => true);
SELECT results_eq($$SELECT trades, refused, final_equity FROM tap_r2$$,
	$$VALUES (3, 1, 970::numeric)$$,
	'max_daily_loss 25: the d6 buy is refused, d7''s fills at 14');
SELECT results_eq($$SELECT c ->> 'realized', c ->> 'unrealized', c ->> 'loss',
		c ->> 'passed'
	FROM pgtrade.backtest_decision d JOIN tap_r2 USING (backtest_id),
		jsonb_array_elements(d.risk_verdict -> 'checks') c
	WHERE c ->> 'check' = 'max_daily_loss' ORDER BY d.as_of$$,
	$$VALUES ('0', '0', '0', 'true'),
			 ('0', '-10', '10', 'true'),
			 ('-30', '0', '30', 'false'),
			 ('0', '0', '0', 'true')$$,
	'the day''s P&L as the gate saw it: flat at d3; at d5 long 10 at 12 '
	'marked at 11; at d6 the sale''s -30; d7 a new day');
SELECT is((SELECT d.risk_verdict ->> 'reason' FROM pgtrade.backtest_decision d
	JOIN tap_r2 USING (backtest_id) WHERE d.as_of = '2024-03-11 20:00+00'),
	'the day''s loss 30 (realized -30, unrealized 0) has reached the limit of '
	'25; only orders that reduce exposure pass',
	'the d6 refusal, in the gate''s words');

-- max_daily_loss 50 lets the d6 buy through: 990 as without limits
SELECT pgtrade.set_risk_limit('TAPBR2', max_daily_loss => 50) \g /dev/null
SELECT results_eq($$SELECT trades, refused, final_equity
	FROM pgtrade.backtest('tap_br2', '2024-03-01', '2024-03-14',
		capital => 1000)$$,
	$$VALUES (3, 0, 990::numeric)$$,
	'max_daily_loss 50: the d6 buy passes at a loss of 30');

-- TAPBR3: limit orders 1 away from the close, a 5% collar.  Each buy's
-- limit is close + 1: 1/12 = 8.3333%, 1/13 = 7.6923%, 1/14 = 7.1429%,
-- all beyond 5%: every one of the five is refused.
SELECT pgtrade.set_risk_limit('TAPBR3', max_position => 100,
	price_collar_pct => 5) \g /dev/null
UPDATE pgtrade.strategy SET order_type = 'limit', limit_offset = 1
WHERE name = 'tap_br3';
CREATE TEMP TABLE tap_r3 AS
SELECT * FROM pgtrade.backtest('tap_br3', '2024-03-01', '2024-03-14',
	capital => 1000, store => true);
SELECT results_eq($$SELECT trades, refused FROM tap_r3$$,
	$$VALUES (0, 5)$$, 'a 5% collar refuses limits 7% to 8% away');
SELECT results_eq($$SELECT (c ->> 'price')::numeric, (c ->> 'reference')::numeric,
		(c ->> 'deviation_pct')::numeric
	FROM pgtrade.backtest_decision d JOIN tap_r3 USING (backtest_id),
		jsonb_array_elements(d.risk_verdict -> 'checks') c
	WHERE c ->> 'check' = 'price_collar' ORDER BY d.as_of$$,
	$$VALUES (13::numeric, 12::numeric, 8.3333), (14, 13, 7.6923),
			 (13, 12, 8.3333), (14, 13, 7.6923), (15, 14, 7.1429)$$,
	'each limit price against the close it was decided at');
-- a 10% collar lets them all through: 990 as without limits
SELECT pgtrade.set_risk_limit('TAPBR3', price_collar_pct => 10) \g /dev/null
SELECT results_eq($$SELECT trades, refused, final_equity
	FROM pgtrade.backtest('tap_br3', '2024-03-01', '2024-03-14',
		capital => 1000)$$,
	$$VALUES (3, 0, 990::numeric)$$, 'a 10% collar refuses none');
-- an offset past the price: a sell's limit is floored at one tick (any
-- price will do), as a live run floors it; the buys' limits are far
-- above the open: both fill at the next open, 990 as at market
SELECT pgtrade.remove_risk_limit('price_collar_pct', 'TAPBR3') \g /dev/null
UPDATE pgtrade.strategy SET limit_offset = 1000 WHERE name = 'tap_br3';
SELECT results_eq($$SELECT trades, refused, final_equity
	FROM pgtrade.backtest('tap_br3', '2024-03-01', '2024-03-14',
		capital => 1000)$$,
	$$VALUES (3, 0, 990::numeric)$$,
	'an offset of 1000 on prices near 13: sells at a limit of one tick');
UPDATE pgtrade.strategy SET limit_offset = 1 WHERE name = 'tap_br3';
SELECT pgtrade.set_risk_limit('TAPBR3', price_collar_pct => 10) \g /dev/null

-- TAPBR4: max_position 5 refuses the buys of 10; its kill switch, an
-- operator's act on live trading, does not stop a simulation.
SELECT pgtrade.set_risk_limit('TAPBR4', max_position => 5) \g /dev/null
SELECT results_eq($$SELECT trades, refused FROM pgtrade.backtest('tap_br4',
		'2024-03-01', '2024-03-14')$$,
	$$VALUES (0, 5)$$, 'max_position 5 refuses buys of 10');
SELECT pgtrade.set_risk_limit('TAPBR4', max_position => 10) \g /dev/null
SELECT pgtrade.set_trading_enabled(false, 'TAPBR4') \g /dev/null
SELECT results_eq($$SELECT trades, refused, final_equity
	FROM pgtrade.backtest('tap_br4', '2024-03-01', '2024-03-14',
		capital => 1000)$$,
	$$VALUES (3, 0, 990::numeric)$$,
	'max_position 10 passes; the kill switch is not applied');
-- the live gate still honours it
SELECT is((SELECT o.status FROM pgtrade.place_order('TAPBR4', 'TAPBR', 'buy', 1) o),
	'refused', 'the live gate refuses the same account''s order');

-- the limit price meets the checks rounded as the gate rounds it: with a
-- tick of 5, a buy limit of 12 + 1 goes down to 10, a sell limit of
-- 12 - 1 up to 15
UPDATE pgtrade.instrument SET tick_size = 5 WHERE symbol = 'TAPBR';
SELECT results_eq($$SELECT (c ->> 'price')::numeric
	FROM pgtrade.strategy s,
		LATERAL (VALUES ('buy'), ('sell')) v(side),
		LATERAL pgtrade.backtest_order_check(s, v.side, 10, 12, 0, NULL, 0,
			NULL, NULL, NULL, 0, '2024-03-06 05:00+00') k,
		jsonb_array_elements(k.verdict -> 'checks') c
	WHERE s.name = 'tap_br3' AND c ->> 'check' = 'price_collar'
	ORDER BY v.side$$,
	$$VALUES (10::numeric), (15::numeric)$$,
	'limit prices rounded away from the market before the collar');
UPDATE pgtrade.instrument SET tick_size = 0.01 WHERE symbol = 'TAPBR';

-- a sweep passes risk on to each backtest
SELECT results_eq($$SELECT refused, trades
	FROM pgtrade.backtest_sweep('tap_br1', '2024-03-01', '2024-03-14',
		'{"slow": [2]}')
	UNION ALL
	SELECT refused, trades
	FROM pgtrade.backtest_sweep('tap_br1', '2024-03-01', '2024-03-14',
		'{"slow": [2]}', risk => false)$$,
	$$VALUES (5, 0), (0, 3)$$,
	'a sweep applies the limits, or not with risk => false');

-- The C engine backtest uses for sma_cross when nothing is kept, called
-- directly over the eight bars (window 6, closes 1 to 8), no limits: buys
-- decided at the 3rd and 6th closes fill at the next opens (12, 12), the
-- sale decided at the 5th at the 6th open (9), realizing 10 x (9 - 12).
-- Equity at the closes: 1000 1000 1000 1010 990 970 980 990; the deepest
-- fall, 1010 at the 4th close to 970 at the 6th: 970 / 1010 - 1.
-- New York keeps EST to March 10 (closes at 21:00 UTC, days start at
-- 05:00 UTC) and EDT from then (20:00 and 04:00).
CREATE TEMP TABLE tap_e AS
SELECT (pgtrade.backtest_sma_cross_engine(s, 1, 2, 6,
	array_agg(b.ts ORDER BY b.ts), array_agg(b.open ORDER BY b.ts),
	array_agg(b.high ORDER BY b.ts), array_agg(b.low ORDER BY b.ts),
	array_agg(b.close ORDER BY b.ts), 1, 8, 1000, 10, 0, 0, 0.01, 252, false,
	'America/New_York', '1 day', 'America/New_York', '16:00', true)).*
FROM pgtrade.strategy s JOIN pgtrade.bar b USING (instrument_id)
WHERE s.name = 'tap_br1' GROUP BY s.*;
SELECT results_eq($$SELECT bars, in_market, refused, final_equity, trades
	FROM tap_e$$,
	$$VALUES (8, 4, 0, 990::numeric, 3)$$,
	'the engine''s closes, fills and equity, by hand');
SELECT results_eq($$SELECT (t ->> 'decided_at')::timestamptz,
		(t ->> 'filled_at')::timestamptz, t ->> 'side',
		(t ->> 'quantity')::numeric, (t ->> 'price')::numeric,
		(t ->> 'commission')::numeric, (t ->> 'position')::numeric,
		(t ->> 'realized_pnl')::numeric
	FROM tap_e, jsonb_array_elements(trade_list) WITH ORDINALITY x(t, n)
	ORDER BY n$$,
	$$VALUES ('2024-03-06 21:00+00'::timestamptz,
			  '2024-03-07 05:00+00'::timestamptz, 'buy', 10::numeric,
			  12::numeric, 0::numeric, 10::numeric, 0::numeric),
			 ('2024-03-08 21:00+00', '2024-03-11 04:00+00', 'sell', 10, 9, 0,
			  0, -30),
			 ('2024-03-11 20:00+00', '2024-03-12 04:00+00', 'buy', 10, 12, 0,
			  10, 0)$$,
	'its trade list, by hand, across the change to daylight saving');
SELECT results_eq($$SELECT peak_at, trough_at, max_drawdown = 970 / 1010.0 - 1,
		wins, closes, gain, loss FROM tap_e$$,
	$$VALUES (4, 6, true, 0, 1, 0::numeric, 30::numeric)$$,
	'its drawdown from the 4th close to the 6th, and one losing close');

-- Without the trade list (a sweep's call), the same figures and count.
SELECT results_eq($$SELECT e.bars, e.final_equity, e.trades,
		e.trade_list IS NULL
	FROM pgtrade.strategy s
	CROSS JOIN LATERAL (SELECT array_agg(b.ts ORDER BY b.ts) AS ts,
			array_agg(b.open ORDER BY b.ts) AS o,
			array_agg(b.high ORDER BY b.ts) AS h,
			array_agg(b.low ORDER BY b.ts) AS l,
			array_agg(b.close ORDER BY b.ts) AS c
		FROM pgtrade.bar b WHERE b.instrument_id = s.instrument_id) b
	CROSS JOIN LATERAL pgtrade.backtest_sma_cross_engine(s, 1, 2, 6, b.ts,
		b.o, b.h, b.l, b.c, 1, 8, 1000, 10, 0, 0, 0.01, 252, false,
		'America/New_York', '1 day', 'America/New_York', '16:00', false) e
	WHERE s.name = 'tap_br1'$$,
	$$VALUES (8, 990::numeric, 3, true)$$,
	'without the trade list: the same figures and count');

SELECT * FROM finish();
ROLLBACK;
