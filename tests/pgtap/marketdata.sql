-- marketdata.sql: bars fetched from the gateway's history endpoint:
-- the bar and period asked for, the instruments a listener refreshes,
-- and record_bars' validation and upsert.  Epoch milliseconds are
-- worked out by hand next to each case (2024-12-02 00:00 UTC is day
-- 20059 since 1970: 20059 * 86400 * 1000 = 1733097600000).
\ir preamble.psql
SELECT plan(48);
SELECT pgtrade.add_instrument('TAPY', 990002) \g /dev/null

-- the gateway's bar argument
SELECT is(pgtrade.history_bar('1 day'), '1d', 'a daily bar is 1d');
SELECT is(pgtrade.history_bar('5 minutes'), '5min', 'five minutes is 5min');
SELECT is(pgtrade.history_bar('1 minute'), '1min', 'one minute is 1min');
SELECT is(pgtrade.history_bar('1 hour'), '1h', 'an hour is 1h');
SELECT is(pgtrade.history_bar('4 hours'), '4h', 'four hours is 4h');
SELECT is(pgtrade.history_bar('7 minutes'), NULL,
	'seven minutes has no gateway bar');

-- the period: bars since the newest stored one plus that one, at most
-- 1000 bars
SELECT is(pgtrade.history_period('1 day', NULL, '2026-12-04 18:00+00'),
	'1000d', 'no daily bar yet: 1000 bars');
SELECT is(pgtrade.history_period('1 day', '2026-12-01 05:00+00',
	'2026-12-04 18:00+00'), '5d',
	'3 days 13 hours since the newest daily bar: ceil 4, plus it, 5d');
SELECT is(pgtrade.history_period('1 day', NULL, '2026-12-04 18:00+00', 10),
	'10d', 'max_bars bounds the daily period');
SELECT is(pgtrade.history_period('5 minutes', '2026-12-04 17:48+00',
	'2026-12-04 18:00+00'), '20min',
	'12 minutes of 5-minute bars: 3 + 1 bars, 20min');
SELECT is(pgtrade.history_period('5 minutes', '2026-12-04 16:00+00',
	'2026-12-04 18:00+00'), '3h',
	'2 hours of 5-minute bars: 25 bars, 125 minutes, 3h');
SELECT is(pgtrade.history_period('5 minutes', '2026-12-01 18:00+00',
	'2026-12-04 18:00+00'), '4d',
	'3 days of 5-minute bars: 865 bars, 4325 minutes, 4d');
SELECT is(pgtrade.history_period('5 minutes', NULL, '2026-12-04 18:00+00'),
	'4d', 'no 5-minute bar yet: 1000 bars, 5000 minutes, 4d');
SELECT is(pgtrade.history_period('1 hour', NULL, '2026-12-04 18:00+00'),
	'42d', 'no hourly bar yet: 1000 hours, 41.7 days, 42d');
SELECT is(pgtrade.history_period('1 minute', '2026-12-04 18:00+00',
	'2026-12-04 18:00+00'), '1min', 'nothing new: the newest bar again');

-- daily bars: t is the session date, whatever time of that day it names
CREATE TEMP TABLE tap_n AS
SELECT * FROM pgtrade.record_bars(pgtrade.instrument_id('TAPX'), '1 day',
	'[{"t": 1733097600000, "o": 10.5, "h": 11, "l": 10, "c": 10.75, "v": 1200},
	  {"t": 1733184000000, "o": 10.75, "h": 12, "l": 10.5, "c": 11.5, "v": 800}]');
SELECT results_eq('SELECT inserted, updated, unchanged, forming FROM tap_n',
	$$VALUES (2, 0, 0, 0)$$, 'two new daily bars inserted');
SELECT results_eq($$SELECT ts, open, high, low, close, volume FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX')
		AND bar_size = '1 day' ORDER BY ts$$,
	$$VALUES ('2024-12-02 00:00 America/New_York'::timestamptz,
			  10.5::float8, 11::float8, 10::float8, 10.75::float8, 1200::float8),
			 ('2024-12-03 00:00 America/New_York', 10.75, 12, 10.5, 11.5, 800)$$,
	'midnight UTC names the session date in New York');
-- again: 12-02 unchanged, 12-03 close changed, 12-04 given at 09:30
-- New York (14:30 UTC), 12-05 at midnight New York (05:00 UTC)
DELETE FROM tap_n;
INSERT INTO tap_n SELECT * FROM pgtrade.record_bars(
	pgtrade.instrument_id('TAPX'), '1 day',
	'[{"t": 1733097600000, "o": 10.5, "h": 11, "l": 10, "c": 10.75, "v": 1200},
	  {"t": 1733184000000, "o": 10.75, "h": 12, "l": 10.5, "c": 11.25, "v": 900},
	  {"t": 1733322600000, "o": 11.25, "h": 11.5, "l": 11, "c": 11.0, "v": 300},
	  {"t": 1733374800000, "o": 11, "h": 11.5, "l": 10.9, "c": 11.1, "v": 400}]');
SELECT results_eq('SELECT inserted, updated, unchanged, forming FROM tap_n',
	$$VALUES (2, 1, 1, 0)$$, 'two new, one changed, one unchanged');
SELECT results_eq($$SELECT ts, close, volume FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX')
		AND bar_size = '1 day' ORDER BY ts$$,
	$$VALUES ('2024-12-02 00:00 America/New_York'::timestamptz, 10.75::float8,
			  1200::float8),
			 ('2024-12-03 00:00 America/New_York', 11.25, 900),
			 ('2024-12-04 00:00 America/New_York', 11.0, 300),
			 ('2024-12-05 00:00 America/New_York', 11.1, 400)$$,
	'the changed bar is updated; session-open and local-midnight stamps name their date');

-- intraday: the bar still forming is left out
CREATE TEMP TABLE tap_m AS
SELECT (extract(epoch FROM date_trunc('minute', now())) * 1000)::bigint AS m;
DELETE FROM tap_n;
INSERT INTO tap_n SELECT * FROM pgtrade.record_bars(
	pgtrade.instrument_id('TAPX'), '5 minutes',
	format('[{"t": %s, "o": 5, "h": 6, "l": 4, "c": 5.5, "v": 10},
			 {"t": %s, "o": 5.5, "h": 6, "l": 5, "c": 5.25, "v": 20},
			 {"t": %s, "o": 5.25, "h": 5.5, "l": 5, "c": 5.5, "v": 5}]',
		   (SELECT m - 600000 FROM tap_m), (SELECT m - 300000 FROM tap_m),
		   (SELECT m FROM tap_m))::jsonb);
SELECT results_eq('SELECT inserted, updated, unchanged, forming FROM tap_n',
	$$VALUES (2, 0, 0, 1)$$,
	'two ended 5-minute bars stored, the one started this minute left out');
SELECT results_eq($$SELECT ts, close FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX')
		AND bar_size = '5 minutes' ORDER BY ts$$,
	$$SELECT date_trunc('minute', now()) - interval '10 minutes', 5.5::float8
	  UNION ALL
	  SELECT date_trunc('minute', now()) - interval '5 minutes', 5.25$$,
	'intraday t is the bar''s start');
-- a daily bar of today ends at today's close: forming unless it has
-- closed; the test day's close decides
SELECT is((SELECT forming FROM pgtrade.record_bars(
	pgtrade.instrument_id('TAPY'), '1 day',
	format('[{"t": %s, "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]',
		   (extract(epoch FROM (now() AT TIME ZONE 'America/New_York')::date
				::timestamp AT TIME ZONE 'America/New_York') * 1000)::bigint
		  )::jsonb)),
	CASE WHEN (now() AT TIME ZONE 'America/New_York')::time < '16:00'
		 THEN 1 ELSE 0 END,
	'today''s daily bar counts as forming until the close in New York');

-- refused batches, nothing half-written
SELECT is((SELECT count(*)::int FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX')), 6,
	'six bars stored before the refused batches (four daily, two 5-minute)');
SELECT throws_ok(format($$SELECT pgtrade.record_bars(
	pgtrade.instrument_id('TAPX'), '5 minutes',
	'[{"t": %s, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1},
	  {"t": %s, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	(SELECT m - 1200000 FROM tap_m), (SELECT m + 600000 FROM tap_m)),
	'22023', NULL, 'a bar starting in the future is refused');
SELECT throws_like(format($$SELECT pgtrade.record_bars(
	pgtrade.instrument_id('TAPX'), '5 minutes',
	'[{"t": %s, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	(SELECT m + 600000 FROM tap_m)),
	'bar 1 of TAPX starts in the future%', 'the message names the bar');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": 5, "h": 4, "l": 6, "c": 5, "v": 1}]')$$,
	'23514', 'bar 1 of TAPX has high below low',
	'high below low is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": 5, "h": 6, "l": 0, "c": 5, "v": 1}]')$$,
	'23514', 'bar 1 of TAPX has a price that is not positive',
	'a zero low is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": -5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'23514', 'bar 1 of TAPX has a price that is not positive',
	'a negative open is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": 5, "h": 6, "l": 4, "c": 5, "v": -1}]')$$,
	'23514', 'bar 1 of TAPX has a negative volume',
	'a negative volume is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": 5, "h": 1e400, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', NULL, 'a price too large for a float is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": "5", "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', 'bar 1 is not a bar with t (epoch ms) and finite numbers o, h, l, c, v',
	'a price given as a string is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000.5, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', NULL, 'a fractional t is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', NULL, 'a bar without t is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '{"data": []}')$$,
	'22023', 'bars must be a JSON array, not object',
	'an object instead of the data array is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'5 minutes', '[{"t": 1733097630000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22007', 'bar 1 of TAPX does not start on a whole minute (t = 1733097630000)',
	'a start 30 seconds past the minute is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733184000000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1},
			   {"t": 1733097600000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', 'bars of TAPX are not in increasing time order',
	'bars out of order are refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733097600000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1},
			   {"t": 1733097600000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1}]')$$,
	'22023', 'bars of TAPX are not in increasing time order',
	'a repeated bar is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(-1, '1 day', '[]')$$,
	'23503', 'instrument -1 does not exist', 'an unknown instrument is refused');
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 week', '[]')$$,
	'22023', 'bar size 7 days is not supported', 'a weekly bar size is refused');
-- the good first bar of a refused batch is not kept
SELECT throws_ok($$SELECT pgtrade.record_bars(pgtrade.instrument_id('TAPX'),
	'1 day', '[{"t": 1733443200000, "o": 5, "h": 6, "l": 4, "c": 5, "v": 1},
			   {"t": 1733529600000, "o": 5, "h": 4, "l": 6, "c": 5, "v": 1}]')$$,
	'23514', 'bar 2 of TAPX has high below low',
	'the second bar of a batch is named');
SELECT results_eq($$SELECT count(*)::int, max(close) FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPX')$$,
	$$VALUES (6, 11.25::float8)$$,
	'refused batches left the six bars as they were');
SELECT results_eq($$SELECT inserted, updated, unchanged, forming
	FROM pgtrade.record_bars(pgtrade.instrument_id('TAPX'), '1 day', '[]')$$,
	$$VALUES (0, 0, 0, 0)$$, 'an empty answer records nothing');

-- what a listener refreshes: active strategies of the accounts it serves
SELECT pgtrade.add_instrument('TAPNOCONID') \g /dev/null
SELECT pgtrade.add_account('TAPACCT2') \g /dev/null
SELECT pgtrade.create_strategy('tap_md_x', 'sma_cross', 'TAPX', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, schedule => '0 0 1 1 *', active => true)
	\g /dev/null
SELECT pgtrade.create_strategy('tap_md_y', 'sma_cross', 'TAPY', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 1, schedule => '0 0 1 1 *',
	bar_size => '5 minutes') \g /dev/null
SELECT pgtrade.create_strategy('tap_md_n', 'sma_cross', 'TAPNOCONID',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 1, schedule => '0 0 1 1 *',
	bar_size => '7 minutes', active => true) \g /dev/null
SELECT pgtrade.create_strategy('tap_md_x2', 'sma_cross', 'TAPX', 'TAPACCT2',
	'{"fast": 2, "slow": 3}', 1, schedule => '0 0 1 1 *',
	bar_size => '5 minutes', active => true) \g /dev/null
SELECT results_eq($$SELECT symbol, conid, bar_size, bar, newest_ts,
		period ~ '^[0-9]+d$', skip_reason
	FROM pgtrade.bars_to_refresh(ARRAY['TAPACCT1'])$$,
	$$VALUES ('TAPX', 990001::bigint, '1 day'::interval, '1d',
			  '2024-12-05 00:00 America/New_York'::timestamptz, true,
			  NULL::text),
			 ('TAPNOCONID', NULL, '7 minutes', NULL, NULL, true,
			  'instrument TAPNOCONID has no conid; register it with pgtrade.add_instrument')$$,
	'active strategies only, with the newest stored bar; an inactive one is left out');
SELECT results_eq($$SELECT symbol, bar_size, bar, period
	FROM pgtrade.bars_to_refresh(ARRAY['TAPACCT2'])$$,
	$$VALUES ('TAPX', '5 minutes'::interval, '5min', '15min')$$,
	'another account''s strategy asks for its own bar size: 5 to 6 minutes since the newest, 2 + 1 bars');
SELECT is((SELECT count(*)::int FROM pgtrade.bars_to_refresh(ARRAY['NOBODY'])),
	0, 'an account without strategies refreshes nothing');
UPDATE pgtrade.strategy SET active = false WHERE name = 'tap_md_n';
SELECT is((SELECT count(*)::int FROM pgtrade.bars_to_refresh(ARRAY['TAPACCT1'])),
	1, 'a strategy switched off is no longer refreshed');

SELECT ok(has_function_privilege('pgtrade_listener',
	'pgtrade.record_bars(bigint, interval, jsonb)', 'EXECUTE')
	AND has_function_privilege('pgtrade_listener',
	'pgtrade.bars_to_refresh(text[], integer)', 'EXECUTE'),
	'the listener may fetch and record bars');
SELECT ok(NOT has_function_privilege('public',
	'pgtrade.record_bars(bigint, interval, jsonb)', 'EXECUTE'),
	'PUBLIC cannot record bars');

SELECT * FROM finish();
ROLLBACK;
