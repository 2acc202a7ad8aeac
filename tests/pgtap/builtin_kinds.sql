-- builtin_kinds.sql: the built-in strategy kinds ema_cross, macd_cross,
-- rsi_reversion, bollinger_breakout and confirmations.  Each case's
-- indicator values are worked out by hand in the comments; the decision
-- follows from them.
\ir preamble.psql
SELECT plan(37);

SET LOCAL timezone = 'UTC';

-- eval(kind, params, closes): the evaluator of a kind on daily bars from
-- 2024-01-01 with high = close + 1 and low = close - 1
CREATE FUNCTION pg_temp.eval(p_kind text, p_params jsonb, p_close float8[])
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_ts timestamptz[] := ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 day'
		FROM generate_series(0, cardinality(p_close) - 1) i);
	v_hi float8[] := ARRAY(SELECT c + 1 FROM unnest(p_close) c);
	v_lo float8[] := ARRAY(SELECT c - 1 FROM unnest(p_close) c);
	v_out jsonb;
BEGIN
	EXECUTE format('SELECT pgtrade.%I_eval($1, $2, $3, $4, $5, $6, $3::float8[])',
				   p_kind)
		INTO v_out USING p_params, v_ts, p_close, v_hi, v_lo, p_close;
	RETURN v_out;
END
$$;

-- ema_cross 2/3 on closes 10, 9, 8, 9, 11, 12:
--   EMA(2), k = 2/3, seeded at the 2nd bar with (10+9)/2 = 9.5:
--     8.5, 8.8333, 10.2778, 11.4259
--   EMA(3), k = 1/2, seeded at the 3rd bar with (10+9+8)/3 = 9:
--     9, 9, 10, 11
-- last bar: 11.4259 > 11 and before it 10.2778 > 10: long, no cross
SELECT is(pg_temp.eval('ema_cross', '{"fast": 2, "slow": 3}',
	'{10,9,8,9,11,12}') ->> 'reason',
	'fast EMA(2) 11.4259 is above slow EMA(3) 11.0000 on the last bar (2024-01-06)',
	'ema_cross: fast above slow, by hand');
SELECT is(pg_temp.eval('ema_cross', '{"fast": 2, "slow": 3}',
	'{10,9,8,9,11,12}') -> 'target', '1', 'ema_cross: target long');
-- through the 5th bar: 10.2778 > 10, and on the 4th 8.8333 < 9: crossed
SELECT is(pg_temp.eval('ema_cross', '{"fast": 2, "slow": 3}',
	'{10,9,8,9,11}') ->> 'reason',
	'fast EMA(2) 10.2778 crossed above slow EMA(3) 10.0000 on the last bar (2024-01-05)',
	'ema_cross: the cross on the last bar');
SELECT is(pg_temp.eval('ema_cross', '{"fast": 2, "slow": 3}', '{10,9,8}'),
	('{"target": null, "signal": "none", "reason": "not enough bars: '
	 'EMA(3) of the bar before the last needs 4 bars, 3 given", "values": '
	 '{"last_close": 8, "last_ts": "2024-01-03T00:00:00+00:00"}}')::jsonb,
	'ema_cross: three bars are too few for slow 3');
SELECT is(pgtrade.ema_cross_validate('{}'), 27,
	'ema_cross: defaults 12/26 need 27 bars');

-- macd_cross 2/3/2 on the same closes (both EMAs start at the 3rd bar):
--   fast EMA(2) seeded with (9+8)/2 = 8.5: 8.5, 8.8333, 10.2778, 11.4259
--   slow EMA(3): 9, 9, 10, 11
--   MACD: -0.5, -0.1667, 0.2778, 0.4259
--   signal EMA(2) seeded at the 4th bar with (-0.5-0.1667)/2 = -0.3333:
--     -0.3333, 0.0741, 0.3086
-- last bar: 0.4259 > 0.3086 and before it 0.2778 > 0.0741: long
SELECT is(pg_temp.eval('macd_cross', '{"fast": 2, "slow": 3, "signal": 2}',
	'{10,9,8,9,11,12}') ->> 'reason',
	'MACD(2,3,2) 0.4259 is above its signal 0.3086 on the last bar (2024-01-06)',
	'macd_cross: the line above its signal, by hand');
SELECT is(round((pg_temp.eval('macd_cross', '{"fast": 2, "slow": 3, "signal": 2}',
	'{10,9,8,9,11,12}') #>> '{values,hist}')::numeric, 4), 0.1173,
	'macd_cross: histogram 0.4259 - 0.3086 = 0.1173');
SELECT is(pgtrade.macd_cross_validate('{"fast": 2, "slow": 3, "signal": 2}'),
	5, 'macd_cross: slow + signal = 5 bars');

-- rsi_reversion, RSI(2): changes -1, -1: no gains: RSI 0, below 30: long
SELECT is(pg_temp.eval('rsi_reversion', '{"period": 2}', '{10,9,8}') ->> 'reason',
	'RSI(2) 0.0000 is below 30 (oversold) on the last bar (2024-01-03)',
	'rsi_reversion: oversold, long');
SELECT is(pg_temp.eval('rsi_reversion', '{"period": 2}', '{10,11,12}') -> 'target',
	'0', 'rsi_reversion: RSI 100 is overbought: flat');
-- +1 then -1: average gain 0.5, average loss 0.5: RSI 50, no signal
SELECT is(pg_temp.eval('rsi_reversion', '{"period": 2, "low": 20, "high": 80}',
	'{10,11,10}') ->> 'reason',
	'RSI(2) 50.0000 lies within 20 to 80 on the last bar (2024-01-03): no signal',
	'rsi_reversion: RSI 50 between the thresholds is no signal');
SELECT is(pg_temp.eval('rsi_reversion', '{"period": 2}', '{10,11,10}') -> 'target',
	'null', 'rsi_reversion: no target in between');

-- bollinger_breakout 3/1: 10, 10, 13: mean 11, deviations -1, -1, 2,
-- population sd sqrt(6/3) = 1.4142: upper 12.4142 < 13: long
SELECT is(pg_temp.eval('bollinger_breakout', '{"period": 3, "k": 1}',
	'{10,10,13}') ->> 'reason',
	'close 13.0000 is above the upper band 12.4142 (SMA(3) 11.0000 + 1 sd) '
	'on the last bar (2024-01-03)',
	'bollinger_breakout: a close above the upper band, by hand');
-- 10, 10, 7: mean 9, lower 9 - 1.4142 = 7.5858 > 7: flat
SELECT is(pg_temp.eval('bollinger_breakout', '{"period": 3, "k": 1}',
	'{10,10,7}') -> 'target', '0', 'bollinger_breakout: below the lower band: flat');
SELECT is(pg_temp.eval('bollinger_breakout', '{"period": 3, "k": 1}',
	'{10,10,10}') -> 'target', 'null',
	'bollinger_breakout: a flat series sits on its bands: no signal');

-- confirmations, small periods: SuperTrend(2, 1), SMA(3), MACD(2,3,2),
-- RSI(2); 6 bars are enough (MACD's signal: 3 + 2 - 1 = 4; SMA 3; RSI
-- and SuperTrend 3)
SELECT is(pgtrade.confirmations_validate('{"supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}'), 4, 'confirmations: the slowest needs 4 bars');
SELECT is(pgtrade.confirmations_validate('{}'), 34,
	'confirmations: defaults need 34 bars (MACD 26 + 9 - 1)');
-- closes rising by 1: SuperTrend up (true range 2, ATR 2: lower band
-- close - 2), close above SMA(3) (the mean is 1 lower), RSI 100; but on a
-- straight line both EMAs keep their seeds' lag (fast: close - 0.5, slow:
-- close - 1), so MACD is 0.5 on every bar and equals its signal: 3 up
SELECT is(pg_temp.eval('confirmations', '{"supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}', '{10,11,12,13,14,15}') #>> '{values,up}',
	'3', 'confirmations: a straight rise confirms 3 of 4 up (MACD flat)');
SELECT is(pg_temp.eval('confirmations', '{"supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}', '{10,11,12,13,14,15}') -> 'target', '1',
	'confirmations: long');
SELECT is(pg_temp.eval('confirmations', '{"supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}', '{15,14,13,12,11,10}') -> 'target', '0',
	'confirmations: a steady fall confirms down: flat');
-- flat closes: SuperTrend starts up (the close 10 is above the lower
-- band, mid 10 - ATR 2 = 8), the close equals its SMA, MACD equals its
-- signal, and RSI, 0 by convention when nothing moved, votes neither
-- way: 1 up, 0 down, k 3: no signal
SELECT is(pg_temp.eval('confirmations', '{"supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}', '{10,10,10,10,10,10}') ->> 'reason',
	'1 of 4 say up and 0 say down, 3 needed, on the last bar (2024-01-06): '
	'SuperTrend(2, 1) up (line 8.0000), close 10.0000 at SMA(3) 10.0000, '
	'MACD(2,3,2) 0.0000 at its signal 0.0000, RSI(2) 0.0000: no move; no signal',
	'confirmations: a flat series has no signal, and says why');
SELECT is(pg_temp.eval('confirmations', '{"k": 1, "supertrend_period": 2, '
	'"supertrend_multiplier": 1, "sma": 3, "macd_fast": 2, "macd_slow": 3, '
	'"macd_signal": 2, "rsi": 2}', '{10,10,10,10,10,10}') -> 'target', '1',
	'confirmations: with k 1, SuperTrend''s up alone is enough');
-- rsi_reversion on closes that never move: RSI is 0 by convention, but
-- nothing was sold: no signal
SELECT is(pg_temp.eval('rsi_reversion', '{"period": 2}', '{10,10,10,10}') ->> 'reason',
	'RSI(2): the 4 closes given did not move (last bar 2024-01-04): no signal',
	'rsi_reversion: a flat series is not oversold');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.ema_cross_validate(
	'{"fast": 12.00000000000000000001}')$$),
	'Key "fast" must be an integer, got 12.00000000000000000001.',
	'an integer is read exactly, not as a double');

-- parameters
SELECT throws_ok($$SELECT pgtrade.ema_cross_validate('{"fast": 26, "slow": 12}')$$,
	'22023', 'invalid parameters for strategy kind "ema_cross"',
	'ema_cross refuses fast >= slow');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.macd_cross_validate('{"fast": 2.5}')$$),
	'Key "fast" must be an integer, got 2.5.', 'a fraction for an integer is refused, named');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.rsi_reversion_validate('{"lo": 20}')$$),
	'Key "lo" is not allowed; the keys are "period", "low", "high".',
	'an unknown key is refused, with the keys allowed');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.rsi_reversion_validate('{"low": 80}')$$),
	'Key "low" (80) must be less than key "high" (70).',
	'rsi_reversion: low must be below high');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.bollinger_breakout_validate('{"k": "2"}')$$),
	'Key "k" must be a number, got a string.', 'a string for a number is refused');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.confirmations_validate('{"k": 5}')$$),
	'Key "k" must be between 1 and 4, got 5.', 'confirmations: k from 1 to 4');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.ema_cross_validate('[1]')$$),
	'Parameters must be a JSON object, got an array.', 'params must be an object');
SELECT throws_ok($$SELECT pg_temp.eval('ema_cross', '{}', '{1,NULL}')$$,
	'22004', NULL, 'a null close is refused');

-- through the pipeline: a strategy of each kind runs, and its decision
-- carries the kind's reason
SELECT pgtrade.add_instrument('TAPK' || i, 990200 + i) FROM generate_series(1, 5) i
\g /dev/null
CREATE TEMP TABLE tap_bars (line bigserial, symbol text, ts text,
	open float8, high float8, low float8, close float8, volume float8);
-- 64 weekdays whose closes rise faster and faster: 100 + 0.01 k^2 on
-- the k-th (from 0).  On the last, 2024-03-29 (k = 63, close 139.69):
-- EMA(12) above EMA(26) and MACD above its signal (the line still
-- rising), RSI(14) 100 (only gains: overbought, flat); the 20 closes of
-- Bollinger(20, 2) have mean 128.96 and sd 6.18 (worked out in Python
-- from the formula): upper band 141.31, the close is inside; SuperTrend
-- up, close above SMA(20): all four say up.
INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
SELECT 'TAPK' || i, x.d::date::text, x.c, x.c + 1, x.c - 1, x.c, 1000
FROM generate_series(1, 5) i,
	 (SELECT d, 100 + 0.01 * (row_number() OVER (ORDER BY d) - 1) ^ 2 AS c
	  FROM generate_series('2024-01-02'::date, '2024-03-29', '1 day') d
	  WHERE extract(isodow FROM d) < 6) x;
SELECT is(pgtrade.import_bars('tap_bars'), 320::bigint,
	'64 bars of a quickening rise for each of 5 instruments');
SELECT pgtrade.create_strategy('tap_k_' || k, k, 'TAPK' || i, 'TAPACCT1', '{}',
	10, max_bar_age => '100 years', market_hours => 'always')
FROM unnest(ARRAY['ema_cross', 'macd_cross', 'rsi_reversion',
	'bollinger_breakout', 'confirmations']) WITH ORDINALITY AS u(k, i)
\g /dev/null
SELECT is((SELECT array_agg(bars_needed ORDER BY name) FROM pgtrade.strategy
		   WHERE name LIKE 'tap\_k\_%'), '{20,34,27,35,15}'::int[],
	'the validators set bars_needed (bollinger 20, confirmations 34, '
	'ema 27, macd 35, rsi 15)');
SELECT results_eq($$SELECT r.status, r.action FROM unnest(ARRAY['ema_cross',
		'macd_cross', 'rsi_reversion', 'bollinger_breakout', 'confirmations'])
		WITH ORDINALITY AS u(k, i),
		LATERAL pgtrade.run_strategy('tap_k_' || u.k, '2024-03-30 12:00+00') r
	ORDER BY u.i$$,
	$$VALUES ('succeeded', 'buy'), ('succeeded', 'buy'),
			 ('succeeded', 'hold'), ('succeeded', 'hold'),
			 ('succeeded', 'buy')$$,
	'on a quickening rise the trend kinds buy; RSI 100 wants flat (held); '
	'the close stays inside the bands');
SELECT matches((SELECT reason FROM pgtrade.decision d
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_k_confirmations'),
	'^4 of 4 say up and 0 say down, 3 needed, on the last bar \(2024-03-29\): SuperTrend',
	'confirmations'' reason in the decision, dated in the exchange''s zone');
SELECT is((SELECT d.kind FROM pgtrade.decision d
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_k_rsi_reversion'),
	'rsi_reversion', 'the decision names its kind');

SELECT * FROM finish();
ROLLBACK;
