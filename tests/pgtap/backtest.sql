-- backtest.sql: a backtest's trades and figures worked out by hand on six
-- bars, its decisions equal to replays' of the same closes, and sweeps.
\ir preamble.psql
SELECT plan(58);

SET LOCAL timezone = 'UTC';

-- sma_cross 1/2 (needs 3 bars), 10 shares, commission 1 a share.
--   day    open close  SMA(1) SMA(2)  decision at the close
--   01-02   10   10     10     -      too few bars
--   01-03   10   11     11    10.5    too few bars (2 of 3)
--   01-04   12   12     12    11.5    long: buy 10 at the next open
--   01-05   13   13     13    12.5    long, held (bought 10 at 13)
--   01-08   12   11     11    12      flat: sell 10 at the next open
--   01-09   10   10     10    10.5    flat (sold 10 at 10)
-- cash 1000 - 130 - 10 + 100 - 10 = 950; equity at the closes 1000, 1000,
-- 1000, 860 + 130 = 990, 860 + 110 = 970, 950
SELECT pgtrade.add_instrument('TAPBT', 990401) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPBT'), '1 day',
	(d::timestamp AT TIME ZONE 'America/New_York'), o, greatest(o, c) + 1,
	least(o, c) - 1, c, 1000
FROM (VALUES ('2024-01-02'::date, 10, 10), ('2024-01-03', 10, 11),
			 ('2024-01-04', 12, 12), ('2024-01-05', 13, 13),
			 ('2024-01-08', 12, 11), ('2024-01-09', 10, 10)) v(d, o, c);
SELECT pgtrade.create_strategy('tap_bt', 'sma_cross', 'TAPBT', 'TAPACCT1',
	'{"fast": 1, "slow": 2}', 10, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null

CREATE TEMP TABLE tap_b AS
SELECT * FROM pgtrade.backtest('tap_bt', '2024-01-01', '2024-01-10',
	capital => 1000, commission => 1, store => true);
SELECT results_eq($$SELECT bars, trades, final_equity, total_return FROM tap_b$$,
	$$VALUES (6, 2, 950::numeric, -0.05::numeric)$$,
	'six closes, two fills, 1000 down to 950');
SELECT results_eq($$SELECT t ->> 'side', (t ->> 'quantity')::numeric,
		(t ->> 'price')::numeric, (t ->> 'filled_at')::timestamptz,
		(t ->> 'realized_pnl')::numeric
	FROM tap_b, jsonb_array_elements(trade_list) t$$,
	$$VALUES ('buy', 10::numeric, 13::numeric, '2024-01-05 05:00+00'::timestamptz,
			  -10::numeric),
			 ('sell', 10::numeric, 10::numeric, '2024-01-09 05:00+00'::timestamptz,
			  -40::numeric)$$,
	'buy 10 at the 01-05 open (13), sell 10 at the 01-09 open (10); the sale '
	'realizes 10 x (10 - 13) less its commission: -40');
SELECT results_eq($$SELECT max_drawdown, drawdown_peak, drawdown_trough FROM tap_b$$,
	$$VALUES (-0.05::numeric, '2024-01-04 21:00+00'::timestamptz,
			  '2024-01-09 21:00+00'::timestamptz)$$,
	'the drawdown: from 1000 at the 01-04 close to 950 at the 01-09 close');
SELECT results_eq($$SELECT win_rate, profit_factor, round(exposure, 4) FROM tap_b$$,
	$$VALUES (0::numeric, 0::numeric, 0.3333)$$,
	'no winning trade, profit factor 0, in the market 2 closes of 6');
-- Sharpe and Sortino from the close-to-close returns of the equity above
SELECT ok((SELECT abs(b.sharpe - x.sharpe) < 1e-12 AND abs(b.sortino - x.sortino) < 1e-12
	FROM tap_b b,
	(SELECT avg(r) / stddev_samp(r) * sqrt(252) AS sharpe,
			avg(r) / sqrt(avg(least(r, 0) ^ 2)) * sqrt(252) AS sortino
	 FROM unnest(ARRAY[0, 0, 990.0 / 1000 - 1, 970.0 / 990 - 1,
					   950.0 / 970 - 1]::float8[]) r) x),
	'Sharpe and Sortino: mean return over its deviation, times sqrt(252)');
SELECT ok(abs((SELECT cagr FROM tap_b)::float8
	- (0.95::float8 ^ (365.25 * 86400 / extract(epoch FROM
		'2024-01-09 21:00+00'::timestamptz - '2024-01-02 21:00+00')) - 1)) < 1e-12,
	'CAGR over the seven days from the first close to the last');

-- kept: the summary, the trades and one decision per close
SELECT is((SELECT count(*)::int FROM pgtrade.backtest_trade t
	JOIN tap_b USING (backtest_id)), 2, 'the two trades are kept');
SELECT is((SELECT array_agg(target ORDER BY as_of) FROM pgtrade.backtest_decision
	JOIN tap_b USING (backtest_id)), '{NULL,NULL,1,1,0,0}'::numeric[],
	'the decisions: no opinion twice, long twice, flat twice');
SELECT is((SELECT array_agg(close_no ORDER BY as_of)
	FROM pgtrade.backtest_decision JOIN tap_b USING (backtest_id)),
	'{1,2,3,4,5,6}'::int[], 'the closes numbered in their order, from 1');
SELECT is((SELECT count(*)::int FROM pgtrade.orders o
	JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'tap_bt'), 0,
	'a backtest places no order');
SELECT is((SELECT count(*)::int FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'tap_bt'), 0,
	'nor records a run');

-- the same closes replayed one by one: the same evaluations
SELECT pgtrade.run_strategy('tap_bt', pgtrade.bar_end(b.ts, '1 day',
	'America/New_York', '16:00'), 'replay')
FROM pgtrade.bar b WHERE b.instrument_id = pgtrade.instrument_id('TAPBT')
ORDER BY b.ts \g /dev/null
SELECT results_eq($$SELECT d.as_of, d.evaluation FROM pgtrade.backtest_decision d
		JOIN tap_b USING (backtest_id) ORDER BY d.as_of$$,
	$$SELECT r.as_of, st.output FROM pgtrade.workflow_run r
		JOIN pgtrade.strategy s USING (strategy_id)
		JOIN pgtrade.workflow_step st USING (run_id)
	  WHERE s.name = 'tap_bt' AND st.name = 'evaluate' ORDER BY r.as_of$$,
	'every close: the backtest''s evaluation is the replay''s, key for key');

-- slippage of 10 bp: buy at 13 x 1.001 = 13.013, up to the tick 13.02;
-- sell at 10 x 0.999 = 9.99; 10 x (9.99 - 13.02) = -30.30
SELECT is((SELECT final_equity FROM pgtrade.backtest('tap_bt', '2024-01-01',
	'2024-01-10', capital => 1000, slippage_bps => 10)), 969.70::numeric,
	'slippage moves each fill against the trader, to the tick');
-- no decision before from_ts: from 01-05 the first long is at 01-05's
-- close (bought at 01-08's open, 12), sold at 01-09's open (10)
SELECT results_eq($$SELECT bars, trades, final_equity FROM pgtrade.backtest('tap_bt',
	'2024-01-05', '2024-01-10', capital => 1000)$$,
	$$VALUES (3, 2, 980::numeric)$$,
	'bars before from_ts only warm the indicators');
-- other params: sma_cross 1/3 (4 bars): at 01-05, 13 > 12; at 01-08, 11
-- < 12: long from the 01-08 open (12) to the 01-09 open (10): -20
SELECT results_eq($$SELECT trades, final_equity FROM pgtrade.backtest('tap_bt',
	'2024-01-01', '2024-01-10', capital => 1000, params => '{"fast": 1, "slow": 3}')$$,
	$$VALUES (2, 980::numeric)$$, 'the kind with other params');

-- a sweep: every combination, one row each
SELECT results_eq($$SELECT params, trades, final_equity FROM pgtrade.backtest_sweep(
	'tap_bt', '2024-01-01', '2024-01-10', '{"slow": [2, 3]}', capital => 1000)$$,
	$$VALUES ('{"fast": 1, "slow": 2}'::jsonb, 2, 970::numeric),
			 ('{"fast": 1, "slow": 3}'::jsonb, 2, 980::numeric)$$,
	'a sweep over slow 2 and 3');
SELECT is((SELECT count(*)::int FROM pgtrade.backtest_sweep('tap_bt', '2024-01-01',
	'2024-01-10', '{"fast": [1, 2], "slow": [3, 4, 5]}')), 6,
	'a grid of 2 x 3 gives 6 rows');

-- a close after to_ts is outside: what 01-08 decides (sell) has no open
-- left to fill at, so the position is still held at the 01-08 close
SELECT results_eq($$SELECT bars, trades, final_equity FROM pgtrade.backtest('tap_bt',
	'2024-01-01', '2024-01-09 12:00+00', capital => 1000)$$,
	$$VALUES (5, 1, 980::numeric)$$,
	'to_ts ends the fills too: the 01-08 sell is not filled');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', '2024-01-01',
	'2024-01-10', commission => 'NaN')$$, '22023', NULL, 'a NaN commission is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', '2024-01-01',
	'2024-01-10', slippage_bps => 15000)$$, '22023', NULL,
	'slippage above 1000 basis points is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest_sweep('tap_bt', '2024-01-01',
	'2024-01-10', jsonb_build_object('fast', (SELECT jsonb_agg(i)
		FROM generate_series(1, 101) i), 'slow', (SELECT jsonb_agg(i)
		FROM generate_series(2, 102) i)))$$, '54000', NULL,
	'a sweep of more than 10000 combinations is refused before it runs');

-- a reader may backtest an account it sees, but not keep the result
CREATE ROLE tap_bt_reader IN ROLE pgtrade_reader;
SELECT pgtrade.grant_account('tap_bt_reader', 'TAPACCT1') \g /dev/null
SET ROLE tap_bt_reader;
SELECT is((SELECT trades FROM pgtrade.backtest('tap_bt', '2024-01-01',
	'2024-01-10')), 2, 'a reader granted the account backtests it');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', '2024-01-01',
	'2024-01-10', store => true)$$, '42501', NULL,
	'but may not keep a backtest it could not read');
RESET ROLE;

-- bad input
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', '2024-02-01', '2024-01-01')$$,
	'22023', 'a backtest needs finite from_ts <= to_ts', 'from after to is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', NULL, '2024-01-01')$$,
	'22004', 'a backtest needs from_ts and to_ts, not a NULL from_ts',
	'a NULL from_ts is refused as NULL');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest_sweep('tap_bt', '2024-01-01',
	NULL, '{"fast": [1]}')$$,
	'22004', 'a backtest needs from_ts and to_ts, not a NULL to_ts',
	'so is a sweep''s NULL to_ts');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('nope', '2024-01-01', '2024-02-01')$$,
	'42704', 'strategy "nope" does not exist', 'an unknown strategy is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest('tap_bt', '2024-01-01', '2024-02-01',
	params => '{"fast": 3, "slow": 2}')$$, '22023', NULL,
	'params are validated as the kind validates them');
SELECT throws_ok($$SELECT * FROM pgtrade.backtest_sweep('tap_bt', '2024-01-01',
	'2024-02-01', '{"slow": 3}')$$, '22023', 'grid key "slow" must hold a non-empty array',
	'a grid of a scalar is refused');

-- Closes too large for the engine's doubles: it gives way to the PL/pgSQL
-- loop, which refuses them as a kept backtest does (and so does a sweep).
SELECT pgtrade.add_instrument('TAPBIG', 990503) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPBIG'), '1 day',
	('2024-01-01'::date + k)::timestamp AT TIME ZONE 'America/New_York',
	1, 1, 1, 1e308, 1
FROM generate_series(1, 10) k;
SELECT pgtrade.create_strategy('tap_big', 'sma_cross', 'TAPBIG', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
SELECT throws_ok($$SELECT bars FROM pgtrade.backtest('tap_big', '2024-01-01',
	'2024-03-01', risk => false)$$, '22003',
	'moving average out of range at position 2',
	'closes too large for the engine: the loop refuses them');
SELECT throws_ok($$SELECT count(*) FROM pgtrade.backtest_sweep('tap_big',
	'2024-01-01', '2024-03-01', '{"fast": [2, 1]}', risk => false)$$, '22003',
	'moving average out of range at position 2', 'and so does a sweep');

-- An array that held a NULL, since replaced, is taken by the engine
-- whether it comes flat (PL/pgSQL's first runs of a statement put it in
-- as a constant) or expanded (later runs): seven calls, one answer.
CREATE FUNCTION pg_temp.tap_refilled() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	s pgtrade.strategy;
	c float8[] := '{1,2,3,4,5,6}';
	ts timestamptz[] := ARRAY(SELECT '2024-01-01'::timestamptz
		+ i * interval '1 day' FROM generate_series(1, 6) i);
	r record;
BEGIN
	SELECT * INTO s FROM pgtrade.strategy WHERE name = 'tap_big';
	c[5] := NULL;
	c[5] := 100;
	SELECT * INTO r FROM pgtrade.backtest_sma_cross_engine(s, 1, 2, 6, ts, c,
		c, c, c, 1, 6, 100000, 1, 0, 0, 0.01, 252, false, 'UTC', '1 day', 'UTC',
		'16:00', true);
	RETURN r.bars || ' ' || r.final_equity;
END $f$;
SELECT results_eq($$SELECT pg_temp.tap_refilled() FROM generate_series(1, 7)$$,
	$$SELECT '6 100002.00' FROM generate_series(1, 7)$$,
	'a refilled array: the same answer flat or expanded');

-- Equity from almost nothing to 1e301 and back: returns around 1e295,
-- whose squares overflow double precision.  Sharpe and Sortino are ratios
-- of returns, so the same backtest scaled down by 1e295 (prices about
-- 1e6 instead of 1e301, capital 1e-290 instead of 1e5) has the same ones:
-- computed, not an error, in the loop and in the engine.
SELECT pgtrade.add_instrument(s, n) FROM (VALUES ('TAPHUGE', 990504),
	('TAPSMALL', 990505)) v(s, n) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id(s), '1 day',
	('2024-01-01'::date + k)::timestamp AT TIME ZONE 'America/New_York',
	c, c, c, c, 1
FROM (VALUES ('TAPHUGE', 1e300::float8), ('TAPSMALL', 1e5)) v(s, f),
	generate_series(1, 40) k, LATERAL (SELECT (10 + k % 7) * f AS c) x;
SELECT pgtrade.create_strategy(lower(s), 'sma_cross', s, 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
	market_hours => 'always')
FROM unnest(ARRAY['TAPHUGE', 'TAPSMALL']) s \g /dev/null
CREATE TEMP TABLE tap_scaled AS
SELECT k.store, h.trades AS huge_trades, h.sharpe AS huge_sharpe,
	h.sortino AS huge_sortino, s.trades, s.sharpe, s.sortino
FROM (VALUES (true), (false)) k(store)
CROSS JOIN LATERAL pgtrade.backtest('taphuge', '2024-01-01', '2024-03-01',
	capital => 100000, risk => false, store => k.store) h
CROSS JOIN LATERAL pgtrade.backtest('tapsmall', '2024-01-01', '2024-03-01',
	capital => 1e-290, risk => false, store => k.store) s;
SELECT results_eq($$SELECT store, huge_trades = trades,
		abs(huge_sharpe / sharpe - 1) < 1e-9,
		abs(huge_sortino / sortino - 1) < 1e-9
	FROM tap_scaled ORDER BY store$$,
	$$VALUES (false, true, true, true), (true, true, true, true)$$,
	'returns beyond double precision''s squares: the figures of the same '
	'backtest scaled down, in the engine and in the loop');

-- From a capital of 1e-200 to about 36 in six weeks: a yearly growth
-- beyond double precision.  CAGR is NULL instead of an overflow, in the
-- loop and in the engine; the total return is still there.
SELECT pgtrade.add_instrument('TAPRISE', 990507) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPRISE'), '1 day',
	('2024-01-01'::date + k)::timestamp AT TIME ZONE 'America/New_York',
	10 + k, 10 + k, 10 + k, 10 + k, 1
FROM generate_series(1, 40) k;
SELECT pgtrade.create_strategy('taprise', 'sma_cross', 'TAPRISE', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
SELECT results_eq($$SELECT k.store, b.trades, b.cagr IS NULL,
		b.total_return > 1e200
	FROM (VALUES (true), (false)) k(store),
	LATERAL pgtrade.backtest('taprise', '2024-01-01', '2024-03-01',
		capital => 1e-200, risk => false, store => k.store) b
	ORDER BY k.store$$,
	$$VALUES (false, 1, true, true), (true, 1, true, true)$$,
	'a yearly growth beyond double precision: CAGR NULL, no overflow');

-- The engine works its fills in 128-bit decimals and does the run again
-- in numeric when a value does not fit: from the start (a commission at
-- 40 decimals), or from the middle of a run (a commission at 30 decimals
-- fits, but a capital of 1e10 at that scale, the cash after the first
-- fill, does not).  Each way its figures and trades are the loop's,
-- compared as text: every digit, every scale.
SELECT pgtrade.add_instrument('TAPEXACT', 990508) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPEXACT'), '1 day',
	('2024-01-01'::date + k)::timestamp AT TIME ZONE 'America/New_York',
	c - 0.13, c + 0.5, c - 0.5, c, 1
FROM generate_series(1, 40) k, LATERAL (SELECT (10 + k % 7) * 1.37::float8
	+ k * 0.011 AS c) x;
SELECT pgtrade.create_strategy('tapexact', 'sma_cross', 'TAPEXACT',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 7, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE FUNCTION pg_temp.tap_figures(p_capital numeric, p_commission numeric,
	p_risk boolean, p_store boolean, p_name text DEFAULT 'tapexact')
RETURNS text LANGUAGE sql AS $f$
	SELECT row(b.bars, b.trades, b.refused, b.final_equity, b.total_return,
		b.cagr, b.max_drawdown, b.drawdown_peak, b.drawdown_trough,
		b.win_rate, b.profit_factor, b.exposure, b.trade_list)::text
	FROM pgtrade.backtest(p_name, '2024-01-01', '2024-03-01',
		capital => p_capital, commission => p_commission,
		slippage_bps => 3, risk => p_risk, store => p_store) b
$f$;
SELECT is(pg_temp.tap_figures(100000, 0.005, true, false),
	pg_temp.tap_figures(100000, 0.005, true, true),
	'decimals throughout, under the risk checks: the loop''s figures');
SELECT is(pg_temp.tap_figures(1e10, 1e-30, false, false),
	pg_temp.tap_figures(1e10, 1e-30, false, true),
	'numeric from the middle of the run: the loop''s figures');
SELECT is(pg_temp.tap_figures(100000, 1e-40, false, false),
	pg_temp.tap_figures(100000, 1e-40, false, true),
	'numeric from the start: the loop''s figures');

-- Closes that never cross: no fill, and the equity at each close is the
-- loop's capital + 0 * close, at the close's scale (100000.0, not 100000).
SELECT pgtrade.add_instrument('TAPFLAT', 990509) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPFLAT'), '1 day',
	('2024-01-01'::date + k)::timestamp AT TIME ZONE 'America/New_York',
	10.5, 10.5, 10.5, 10.5, 1
FROM generate_series(1, 10) k;
SELECT pgtrade.create_strategy('tapflat', 'sma_cross', 'TAPFLAT', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
SELECT is(pg_temp.tap_figures(100000, 0, false, false, 'tapflat'),
	pg_temp.tap_figures(100000, 0, false, true, 'tapflat'),
	'no fill: the equity at the closes'' scale, as the loop''s');

-- Beyond the engine's doubles it hands the backtest to the loop: a
-- capital of 1e-400 (0 as a double), and a cash of about -1.2e309 after
-- buying 1e9 at about 1.2e300.  Each way the loop's answer, not an error.
SELECT is(pg_temp.tap_figures(1e-400, 0, false, false, 'tapflat'),
	pg_temp.tap_figures(1e-400, 0, false, true, 'tapflat'),
	'a capital below double precision: the loop''s figures');
SELECT pgtrade.add_account('TAPACCTQ', 'pgTAP fixture') \g /dev/null
SELECT pgtrade.create_strategy('taphugeq', 'sma_cross', 'TAPHUGE',
	'TAPACCTQ', '{"fast": 2, "slow": 3}', 1e9, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
SELECT is(pg_temp.tap_figures(100000, 0, false, false, 'taphugeq'),
	pg_temp.tap_figures(100000, 0, false, true, 'taphugeq'),
	'a cash beyond double precision: the loop''s figures');

-- Two daily bars of one session date (10:00 and 12:00 on 01-02) close at
-- the same instant; a kept backtest keeps a decision for each.  fast 1,
-- slow 2 needs 3 bars: no opinion at the first two closes, then long at
-- 01-03 (12 over (11 + 12) / 2) and 01-04 (13 over 12.5).
SELECT pgtrade.add_instrument('TAPTWIN', 990611) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPTWIN'), '1 day',
	t::timestamp AT TIME ZONE 'America/New_York', c, c, c, c, 1
FROM (VALUES ('2024-01-02 10:00', 10), ('2024-01-02 12:00', 11),
			 ('2024-01-03 09:30', 12), ('2024-01-04 09:30', 13)) v(t, c);
SELECT pgtrade.create_strategy('taptwin', 'sma_cross', 'TAPTWIN', 'TAPACCTQ',
	'{"fast": 1, "slow": 2}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_twin AS
SELECT * FROM pgtrade.backtest('taptwin', '2024-01-01', '2024-01-05',
	capital => 1000, store => true, risk => false);
SELECT results_eq($$SELECT d.close_no, d.as_of, d.target
		FROM pgtrade.backtest_decision d JOIN tap_twin USING (backtest_id)
		ORDER BY d.close_no$$,
	$$VALUES (1, '2024-01-02 21:00+00'::timestamptz, NULL::numeric),
			 (2, '2024-01-02 21:00+00', NULL), (3, '2024-01-03 21:00+00', 1),
			 (4, '2024-01-04 21:00+00', 1)$$,
	'two closes at one instant are both kept, in bar order');

-- Once the position is flat, equity stays the same at every close (below
-- zero here: a commission of 100 a unit on units of 1e-8), its numeric
-- scale that of each close's price.  The deepest drawdown is the first
-- close at that equity, the close of the last fill's bar, and engine
-- and loop say so alike, in value and scale.
SELECT pgtrade.add_instrument('TAPDD', 990612) \g /dev/null
UPDATE pgtrade.instrument SET lot_size = 1e-8 WHERE symbol = 'TAPDD';
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPDD'), '1 day',
	('2020-01-01'::date + (i - 1)::int)::timestamp
		AT TIME ZONE 'America/New_York', c, c, c, c, 100
FROM unnest('{100,100,100,100,100,101,102,90,85,84.123456789012,84.12,
	83.987654321098,83.98}'::float8[]) WITH ORDINALITY u(c, i);
SELECT pgtrade.create_strategy('tapdd', 'sma_cross', 'TAPDD', 'TAPACCTQ',
	'{"fast": 1, "slow": 2}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
UPDATE pgtrade.strategy SET sizing = 'equity_fraction', capital = 100000,
	sizing_fraction = 1 WHERE name = 'tapdd';
CREATE TEMP TABLE tap_dd AS
SELECT s AS kept, max_drawdown::text AS dd, drawdown_trough, trade_list
FROM unnest(ARRAY[false, true]) s,
	pgtrade.backtest('tapdd', '2019-12-01', '2020-12-31', capital => 123456.789,
		commission => 100, store => s, risk => false);
SELECT is((SELECT dd || ' ' || drawdown_trough FROM tap_dd WHERE NOT kept),
	(SELECT dd || ' ' || drawdown_trough FROM tap_dd WHERE kept),
	'a flat account''s equal drawdowns: engine and loop keep the same one');
SELECT is((SELECT drawdown_trough FROM tap_dd WHERE kept),
	(SELECT pgtrade.bar_end((trade_list -> -1 ->> 'filled_at')::timestamptz,
		'1 day', 'America/New_York', '16:00') FROM tap_dd WHERE kept),
	'the trough is the first close at that equity: the last fill''s bar');

-- Prices alternating 100 and 100.02 (open = close), sma_cross 1/2, 7
-- shares from 1,000: it buys at 100 on the bar after each 100.02 and
-- sells at 100.02 on the next, 18 times over 40 bars.  Worked out: each
-- buy's close is 100, the price paid, so the equity stays what it was
-- (cash 300.00 + 7 x 100, or 299.86 + 7 x 100.02 on a later one), and
-- each sale adds 0.14: 1,002.52 at the end, never a fall (the deepest
-- is 0, at the first close) and no return below 0 (no Sortino).  In
-- doubles the buys' equities come out a unit in the last place apart;
-- the engine must still see them equal.
SELECT pgtrade.add_instrument('TAPZIG', 990613) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPZIG'), '1 day',
	('1990-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York',
	p, p, p, p, 1000
FROM generate_series(0, 39) i,
	LATERAL (SELECT CASE WHEN i % 2 = 1 THEN 100.02 ELSE 100 END::float8 AS p) x;
SELECT pgtrade.create_strategy('tapzig', 'sma_cross', 'TAPZIG', 'TAPACCT1',
	'{"fast": 1, "slow": 2}', 7, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_zig AS
SELECT s AS kept, b.*
FROM unnest(ARRAY[false, true]) s,
	pgtrade.backtest('tapzig', '1989-12-01', '1990-12-31', capital => 1000,
		store => s, risk => false) b;
SELECT results_eq($$SELECT kept, trades, final_equity, max_drawdown = 0,
		drawdown_peak, drawdown_trough, sortino IS NULL
	FROM tap_zig ORDER BY kept$$,
	$$SELECT k, 36, 1002.52, true, t, t, true
	FROM unnest(ARRAY[false, true]) k,
		(SELECT '1990-01-01 16:00 America/New_York'::timestamptz AS t) x$$,
	'equal equities a unit in the last place apart in doubles: no fall and '
	'no Sortino, in the engine as in the loop');
SELECT ok((SELECT abs(e.sharpe / l.sharpe - 1) < 1e-12
	FROM tap_zig e, tap_zig l WHERE NOT e.kept AND l.kept),
	'and the same Sharpe, its returns at the fills exact');

-- 300,000 shares bought at 99.94 with a capital of 3,000: the close of
-- 99.93 leaves cash of -29,979,000 and an equity of exactly 0, a double
-- of 3.7e-9.  No return counts from an equity of 0 (the loop's rule), so
-- the engine must not count one from 3.7e-9 to 6,000 either: its Sharpe
-- and Sortino are the loop's.
SELECT pgtrade.add_instrument('TAPZERO', 990614) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPZERO'), '1 day',
	('1990-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York',
	o, greatest(o, c), least(o, c), c, 1000
FROM generate_series(0, 35) i,
	LATERAL (SELECT (CASE WHEN i < 30 THEN 99 ELSE (ARRAY[99.5, 99.93, 99.95,
		99.96, 99.94, 99.97])[i - 29] END)::float8 AS c) y,
	LATERAL (SELECT CASE WHEN i = 31 THEN 99.94 ELSE c END AS o) z;
SELECT pgtrade.create_strategy('tapzero', 'sma_cross', 'TAPZERO', 'TAPACCT1',
	'{"fast": 1, "slow": 30}', 300000, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
-- One share at about 1e-150 in an account of 1e14: returns near 1e-166,
-- whose squares are below double precision's range.
SELECT pgtrade.add_instrument('TAPTINY', 990615) \g /dev/null
UPDATE pgtrade.instrument SET tick_size = 1e-200 WHERE symbol = 'TAPTINY';
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPTINY'), '1 day',
	('1990-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York',
	c, c, c, c, 1000
FROM generate_series(0, 299) i,
	LATERAL (SELECT 1e-150::float8 * (1 + 0.01 * ((i * 7919) % 13 - 6)) AS c) x;
SELECT pgtrade.create_strategy('taptiny', 'sma_cross', 'TAPTINY', 'TAPACCT1',
	'{"fast": 3, "slow": 7}', 1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_edge AS
SELECT name, s AS kept, b.sharpe, b.sortino
FROM (VALUES ('tapzero', 3000::numeric), ('taptiny', 1e14)) v(name, capital),
	unnest(ARRAY[false, true]) s,
	pgtrade.backtest(v.name, '1989-12-01', '1990-12-31', capital => v.capital,
		store => s, risk => false) b;
SELECT ok((SELECT abs(e.sharpe / l.sharpe - 1) < 1e-12
		AND abs(e.sortino / l.sortino - 1) < 1e-12
	FROM tap_edge e, tap_edge l
	WHERE e.name = 'tapzero' AND l.name = 'tapzero' AND NOT e.kept AND l.kept),
	'no return counts after an equity of exactly 0 whose double is not');
SELECT ok((SELECT abs(e.sharpe / l.sharpe - 1) < 1e-12
		AND abs(e.sortino / l.sortino - 1) < 1e-12
	FROM tap_edge e, tap_edge l
	WHERE e.name = 'taptiny' AND l.name = 'taptiny' AND NOT e.kept AND l.kept),
	'returns near 1e-166, whose squares double precision cannot hold');

-- All of 100,000 in 50 shares at 2,000 (cash 0), then a close of 5e-324
-- (the smallest double): the equity falls to 2.5e-322, and the next
-- close of 1,000 makes it 50,000, a return near 2e326, beyond double
-- precision.  Sharpe and Sortino are then undefined, NULL in the engine
-- and in the loop alike (the loop raised an error).
SELECT pgtrade.add_instrument('TAPSUB', 990616) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPSUB'), '1 day',
	('1990-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York',
	o, greatest(o, c), least(o, c), c, 1000
FROM generate_series(0, 59) i,
	LATERAL (SELECT (CASE WHEN i < 2 THEN 2000 WHEN i < 40 THEN 2001
		WHEN i = 40 THEN 5e-324 ELSE 1000 END)::float8 AS c) y,
	LATERAL (SELECT CASE WHEN i = 3 THEN 2000 ELSE c END AS o) z;
SELECT pgtrade.create_strategy('tapsub', 'sma_cross', 'TAPSUB', 'TAPACCT1',
	'{"fast": 1, "slow": 2}', 50, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
SELECT results_eq($$SELECT s, b.trades, b.final_equity, b.sharpe IS NULL,
		b.sortino IS NULL
	FROM unnest(ARRAY[false, true]) s,
		pgtrade.backtest('tapsub', '1989-12-01', '1990-12-31',
			capital => 100000, store => s, risk => false) b ORDER BY s$$,
	$$VALUES (false, 3, 50000.00, true, true), (true, 3, 50000.00, true, true)$$,
	'a return beyond double precision: no Sharpe or Sortino, in both');

-- The engine writes its trade list as jsonb's binary form itself.  Over
-- 4,000 bars in a zone with daylight saving and a half-hour offset (and
-- its local mean time, seconds and all, before 1935), hundreds of
-- trades: the list is the loop's, reads the same by position (past the
-- entries that hold offsets, every 32nd) and by key as when walked, and
-- is what parsing its own text gives, byte for byte in size.
SET LOCAL timezone = 'America/St_Johns';
SELECT pgtrade.add_instrument('TAPJB', 990617) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPJB'), '1 day',
	('1930-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York',
	c + 0.25, c + 1, c - 1, c, 1000
FROM generate_series(0, 3999) i,
	LATERAL (SELECT round((100 + 10 * sin(i / 3.0) + i / 1000.0)::numeric,
				2)::float8 AS c) y;
SELECT pgtrade.create_strategy('tap_jb', 'sma_cross', 'TAPJB', 'TAPACCT1',
	'{"fast": 2, "slow": 5}', 7, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_jb AS
SELECT s AS kept, b.trades, b.trade_list
FROM unnest(ARRAY[false, true]) s,
	pgtrade.backtest('tap_jb', '1930-01-01', '1941-12-31', capital => 100000,
		commission => 0.013, slippage_bps => 3.3, store => s,
		risk => false) b;
SELECT is((SELECT trades FROM tap_jb WHERE NOT kept), 425,
	'the engine''s trade list holds 425 trades');
SELECT is((SELECT trade_list::text FROM tap_jb WHERE NOT kept),
	(SELECT trade_list::text FROM tap_jb WHERE kept),
	'the engine''s trade list is the loop''s, offsets with seconds and all');
SELECT is((SELECT count(*) FILTER (WHERE b.trade_list -> (n::int - 1) = t
			AND (SELECT bool_and(b.trade_list -> (n::int - 1) ->> k = t ->> k)
				 FROM jsonb_object_keys(t) k))
		   FROM tap_jb b, jsonb_array_elements(b.trade_list)
			   WITH ORDINALITY x(t, n) WHERE NOT b.kept),
	(SELECT trades::bigint FROM tap_jb WHERE NOT kept),
	'each trade reads the same by position and by key as walked');
SELECT ok((SELECT b.trade_list::text::jsonb = b.trade_list
		AND pg_column_size(b.trade_list::text::jsonb)
			= pg_column_size(b.trade_list)
		AND jsonb_array_length(b.trade_list) = b.trades
		AND b.trade_list @> '[{"side": "sell"}]'
	FROM pgtrade.backtest('tap_jb', '1930-01-01', '1941-12-31',
		capital => 100000, commission => 0.013, slippage_bps => 3.3,
		risk => false) b),
	'the trade list is what parsing its text gives, and of the same size');

-- Two backtests in one statement, with other params: each row holds its
-- own trade list (the engine hands each on apart from its row), the
-- loop's for the same params.
SELECT is((SELECT array_agg(b.trade_list::text ORDER BY p.n)
	FROM unnest(ARRAY['{"fast": 3, "slow": 8}', '{"fast": 4, "slow": 9}']::jsonb[])
		WITH ORDINALITY p(params, n),
		pgtrade.backtest('tap_jb', '1930-01-01', '1935-12-31',
			capital => 100000, params => p.params, risk => false) b),
	(SELECT array_agg(b.trade_list::text ORDER BY p.n)
	FROM unnest(ARRAY['{"fast": 3, "slow": 8}', '{"fast": 4, "slow": 9}']::jsonb[])
		WITH ORDINALITY p(params, n),
		pgtrade.backtest('tap_jb', '1930-01-01', '1935-12-31',
			capital => 100000, params => p.params, store => true,
			risk => false) b),
	'two backtests in one statement: each its own trade list, the loop''s');

-- The engine finds each trade's decided_at (the end of its bar) with the
-- instrument zone's offset kept between transitions; the loop asks
-- bar_end every time.  Daily bars at local midnight, in zones with
-- half-hour, quarter-hour and negative daylight saving, one that moves
-- its clocks at midnight, and Samoa's, which skipped 2011-12-30, and
-- bars a fraction of a second off the minute: over four years, the same
-- trade lists, with the session in other zones.
CREATE TEMP TABLE tap_zone (n int, zone text, size interval, session text,
	shift interval);
INSERT INTO tap_zone VALUES (1, 'Pacific/Apia', '1 day', 'UTC', '0'),
	(2, 'Australia/Lord_Howe', '1 day', 'America/St_Johns', '0'),
	(3, 'Europe/Dublin', '1 day', 'Asia/Kathmandu', '0'),
	(4, 'Asia/Kathmandu', '1 day', 'Pacific/Apia', '0'),
	(5, 'America/Santiago', '1 day', 'Australia/Lord_Howe', '0'),
	(6, 'Asia/Tokyo', '1 day', 'Europe/Amsterdam', '1.05 seconds'),
	(7, 'Europe/Berlin', '1 day', 'America/New_York', '-0.000001 seconds');
SELECT pgtrade.add_instrument('TAPZ' || n, 990620 + n, time_zone => zone,
	session_close => '16:30')
FROM tap_zone \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPZ' || z.n), z.size,
	(('2009-06-01'::date + i)::timestamp AT TIME ZONE z.zone) + z.shift,
	c + 0.5, c + 1, c - 1, c, 1000
FROM tap_zone z, generate_series(0, 1499) i,
	LATERAL (SELECT round((50 + 5 * sin(i / 2.0))::numeric, 2)::float8 AS c) y
ON CONFLICT DO NOTHING;
SELECT pgtrade.create_strategy('tap_z' || n, 'sma_cross', 'TAPZ' || n,
	'TAPACCT1', '{"fast": 1, "slow": 3}', 3, bar_size => size,
	max_bar_age => '100 years', market_hours => 'always')
FROM tap_zone \g /dev/null
CREATE FUNCTION pg_temp.zone_lists(p_n int, p_store boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_z tap_zone;
	v text;
BEGIN
	SELECT * INTO v_z FROM tap_zone WHERE n = p_n;
	PERFORM set_config('timezone', v_z.session, true);
	SELECT b.trades || ' ' || b.trade_list::text INTO v
	FROM pgtrade.backtest('tap_z' || p_n, '2009-06-01', '2060-01-01',
		capital => 100000, store => p_store, risk => false) b;
	RETURN v;
END
$$;
SELECT is((SELECT count(*) FROM tap_zone
	WHERE pg_temp.zone_lists(n, false) = pg_temp.zone_lists(n, true)
		AND split_part(pg_temp.zone_lists(n, false), ' ', 1)::int > 200),
	7::bigint,
	'decided_at in seven zones with odd transitions, bars off the second: '
	'the loop''s trade lists');
SET LOCAL timezone = 'America/St_Johns';

-- The trade list the engine keeps is taken by backtest_trade_list():
-- the value it returned stays whole while another backtest reads and
-- keeps its own, and a second take finds none.
SELECT is((SELECT x.a::text
	FROM (SELECT pgtrade.backtest_trade_list() AS a
		  FROM (SELECT pgtrade.backtest_engine_read(s, s.instrument_id,
					s.kind, s.params, 2, 5, s.bars_needed * 2, '1930-01-01',
					'1941-12-31', 100000, s.quantity, 0.013, 3.3, i.tick_size,
					252, false, 'America/New_York', s.bar_size, i.time_zone,
					i.session_close, true) AS r
				FROM pgtrade.strategy s JOIN pgtrade.instrument i
					USING (instrument_id)
				WHERE s.name = 'tap_jb' OFFSET 0) k
		  OFFSET 0) x
	CROSS JOIN LATERAL pgtrade.backtest('tap_jb', '1930-01-01', '1935-12-31',
		capital => 100000, risk => false) b),
	(SELECT trade_list::text FROM tap_jb WHERE NOT kept),
	'a trade list taken stays whole while another backtest keeps its own');
SELECT throws_ok('SELECT pgtrade.backtest_trade_list()', '55000',
	'no backtest has kept a trade list in this transaction',
	'a trade list is taken once: the next take finds none');

-- A bar at an infinite time, which every evaluator refuses to read, is
-- refused by the table itself: nothing, the engine included, meets one.
SELECT pgtrade.add_instrument('TAPINF', 990630) \g /dev/null
SELECT throws_ok($$INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open,
		high, low, close, volume)
	VALUES (pgtrade.instrument_id('TAPINF'), '1 day', '-infinity', 100, 101,
		99, 100, 1)$$,
	'23514', NULL, 'a bar at -infinity is refused');
SELECT throws_ok($$INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open,
		high, low, close, volume)
	VALUES (pgtrade.instrument_id('TAPINF'), '1 day', 'infinity', 100, 101,
		99, 100, 1)$$,
	'23514', NULL, 'and so is one at infinity');

SELECT * FROM finish();
ROLLBACK;
