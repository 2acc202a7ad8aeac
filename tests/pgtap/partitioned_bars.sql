-- partitioned_bars.sql: pgtrade.bar range-partitioned by time answers as
-- the plain table does: recent_bars (the table's and the view's reader),
-- period_bars, a replayed run, a backtest and record_bars.  The suite swaps in a
-- partitioned copy of the table inside its own transaction (rolled back).
\ir preamble.psql
SELECT plan(19);

SET LOCAL timezone = 'UTC';

-- Six daily bars across a year end, so that they sit in two partitions;
-- sma_cross 1/2 (needs 3 bars), 10 shares, commission 1 a share:
--   day    open close  SMA(1) SMA(2)  decision at the close
--   12-28   10   10     10     -      too few bars
--   12-29   10   11     11    10.5    too few bars (2 of 3)
--   01-02   12   12     12    11.5    long: buy 10 at the next open (13)
--   01-03   13   13     13    12.5    long, held
--   01-04   12   11     11    12      flat: sell 10 at the next open (10)
--   01-05   10   10     10    10.5    flat
-- cash 1000 - 130 - 10 + 100 - 10 = 950.  A daily bar starts at midnight
-- in New York, 05:00 UTC, and ends at the 16:00 close, 21:00 UTC.
SELECT pgtrade.add_instrument('TAPPB', 990701) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPPB'), '1 day',
	(d::timestamp AT TIME ZONE 'America/New_York'), o, greatest(o, c) + 1,
	least(o, c) - 1, c, 1000
FROM (VALUES ('2023-12-28'::date, 10, 10), ('2023-12-29', 10, 11),
			 ('2024-01-02', 12, 12), ('2024-01-03', 13, 13),
			 ('2024-01-04', 12, 11), ('2024-01-05', 10, 10)) v(d, o, c);
SELECT pgtrade.create_strategy('tap_pb', 'sma_cross', 'TAPPB', 'TAPACCT1',
	'{"fast": 1, "slow": 2}', 10, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null

-- recent_bars' cases: (before, n)
CREATE TEMP TABLE tap_case (k int, before timestamptz, n int);
INSERT INTO tap_case VALUES (1, '2024-01-04 05:00+00', 3),
	(2, '2024-01-02 05:00+00', 10), (3, '2024-01-10 00:00+00', 0),
	(4, '2023-12-01 00:00+00', 5), (5, '2024-01-10 00:00+00', 100);
CREATE TEMP TABLE tap_plain AS
SELECT c.k, r.* FROM tap_case c, pgtrade.recent_bars(
	pgtrade.instrument_id('TAPPB'), '1 day', c.before, c.n) r;
-- period_bars' cases: (from, to, window)
CREATE TEMP TABLE tap_pcase (k int, f timestamptz, t timestamptz, w int);
INSERT INTO tap_pcase VALUES (1, '2024-01-04 00:00+00', '2024-01-06', 1),
	(2, '2024-01-04 00:00+00', '2024-01-04 05:00+00', 1),
	(3, '2024-01-04 00:00+00', '2024-01-06', 10),
	(4, '2023-11-01', '2023-12-01', 3), (5, '2024-01-05', '2024-01-05', 2);
CREATE TEMP TABLE tap_pplain AS
SELECT c.k, r.* FROM tap_pcase c, pgtrade.period_bars(
	pgtrade.instrument_id('TAPPB'), '1 day', c.f, c.t, c.w) r;
CREATE TEMP TABLE tap_plain_bt AS
SELECT * FROM pgtrade.backtest('tap_pb', '2023-12-01', '2024-01-06',
	capital => 1000, commission => 1);

-- the same table, partitioned by year, under the same name
ALTER TABLE pgtrade.bar RENAME TO tap_bar_plain;
CREATE TABLE pgtrade.bar (LIKE pgtrade.tap_bar_plain INCLUDING DEFAULTS
	INCLUDING CONSTRAINTS INCLUDING GENERATED) PARTITION BY RANGE (ts);
ALTER TABLE pgtrade.bar ADD PRIMARY KEY (instrument_id, bar_size, ts);
CREATE TABLE pgtrade.tap_bar_2023 PARTITION OF pgtrade.bar
	FOR VALUES FROM ('2023-01-01 00:00+00') TO ('2024-01-01 00:00+00');
CREATE TABLE pgtrade.tap_bar_2024 PARTITION OF pgtrade.bar
	FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2025-01-01 00:00+00');
CREATE TABLE pgtrade.tap_bar_other PARTITION OF pgtrade.bar DEFAULT;
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT instrument_id, bar_size, ts, open, high, low, close, volume
FROM pgtrade.tap_bar_plain;
-- the readers' view, on the partitioned table
CREATE OR REPLACE VIEW pgtrade.bars AS
	SELECT i.symbol, b.instrument_id, b.bar_size, b.ts, b.open, b.high,
		   b.low, b.close, b.volume, b.suspect
	FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id);

SELECT results_eq($$SELECT c.relname::text COLLATE "C", count(*)::int
	FROM pgtrade.bar b JOIN pg_catalog.pg_class c ON c.oid = b.tableoid
	WHERE b.instrument_id = pgtrade.instrument_id('TAPPB')
	GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('tap_bar_2023' COLLATE "C", 2), ('tap_bar_2024', 4)$$,
	'the bars sit in two partitions of a partitioned pgtrade.bar');

-- the three that started before 01-04's start: 12-29, 01-02 and 01-03
SELECT results_eq($$SELECT ts, close, open, bars FROM pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-04 05:00+00', 3)$$,
	$$VALUES (ARRAY['2023-12-29 05:00+00', '2024-01-02 05:00+00',
			'2024-01-03 05:00+00']::timestamptz[], '{11,12,13}'::float8[],
			'{10,12,13}'::float8[], 3)$$,
	'recent_bars reads the newest three across the year''s end, oldest first');
SELECT results_eq($$SELECT ts, high, low, volume, bars FROM pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-02 05:00+00', 10)$$,
	$$VALUES (ARRAY['2023-12-28 05:00+00',
			'2023-12-29 05:00+00']::timestamptz[], '{11,12}'::float8[],
			'{9,9}'::float8[], '{1000,1000}'::float8[], 2)$$,
	'a bar starting at the bound is left out; fewer bars than asked');
SELECT results_eq($$SELECT ts, close, bars FROM pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-10', 0)$$,
	$$VALUES ('{}'::timestamptz[], '{}'::float8[], 0)$$,
	'none asked: empty arrays');
SELECT results_eq($$SELECT ts, volume, bars FROM pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2023-12-01', 5)$$,
	$$VALUES ('{}'::timestamptz[], '{}'::float8[], 0)$$,
	'none before the first bar: empty arrays');
SELECT is((SELECT bars FROM pgtrade.recent_bars(pgtrade.instrument_id('TAPPB'),
		'1 minute', '2024-01-10', 5)), 0,
	'another bar size reads nothing');
SELECT results_eq($$SELECT c.k, r.* FROM tap_case c, pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', c.before, c.n) r ORDER BY c.k$$,
	$$SELECT * FROM tap_plain ORDER BY k$$,
	'every case answers as the plain table did');

-- period_bars from 01-04 00:00 UTC: every bar starting from three days
-- before it (01-01 00:00) on, 01-02 to 01-05, and one bar before: 12-29
SELECT results_eq($$SELECT ts, close, bars FROM pgtrade.period_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-04 00:00+00',
		'2024-01-06', 1)$$,
	$$VALUES (ARRAY['2023-12-29 05:00+00', '2024-01-02 05:00+00',
			'2024-01-03 05:00+00', '2024-01-04 05:00+00',
			'2024-01-05 05:00+00']::timestamptz[], '{11,12,13,11,10}'::float8[],
			5)$$,
	'period_bars reads back one window bar past the period''s floor');
SELECT results_eq($$SELECT ts, open, bars FROM pgtrade.period_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-04 00:00+00',
		'2024-01-04 05:00+00', 1)$$,
	$$VALUES (ARRAY['2023-12-29 05:00+00', '2024-01-02 05:00+00',
			'2024-01-03 05:00+00', '2024-01-04 05:00+00']::timestamptz[],
			'{10,12,13,12}'::float8[], 4)$$,
	'a bar starting at to_ts is in; the later one is not');
SELECT results_eq($$SELECT c.k, r.* FROM tap_pcase c, pgtrade.period_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', c.f, c.t, c.w) r ORDER BY c.k$$,
	$$SELECT * FROM tap_pplain ORDER BY k$$,
	'every period_bars case answers as the plain table did');
SELECT throws_ok($$SELECT pgtrade.period_bars(pgtrade.instrument_id('TAPPB'),
		'1 day', '2024-01-04', '2024-01-06', 0)$$, '22023', NULL,
	'period_bars refuses a window of no bars');

-- a reader may read the view, not the table: recent_bars reads the view
SET LOCAL ROLE pgtrade_reader;
SELECT throws_ok($$SELECT count(*) FROM pgtrade.bar$$, '42501', NULL,
	'a reader cannot read the partitioned table itself');
SELECT results_eq($$SELECT ts, close, bars FROM pgtrade.recent_bars(
		pgtrade.instrument_id('TAPPB'), '1 day', '2024-01-04 05:00+00', 3)$$,
	$$VALUES (ARRAY['2023-12-29 05:00+00', '2024-01-02 05:00+00',
			'2024-01-03 05:00+00']::timestamptz[], '{11,12,13}'::float8[], 3)$$,
	'a reader''s recent_bars reads through the view, with the same answer');
RESET ROLE;

-- a run as of 01-03's close: SMA(1) 13 above SMA(2) (12 + 13) / 2 = 12.5;
-- it reads up to twice the 3 bars it needs, and 4 had ended
CREATE TEMP TABLE tap_run AS
SELECT * FROM pgtrade.run_strategy('tap_pb', '2024-01-03 21:00+00', 'replay');
SELECT results_eq($$SELECT status, action, quantity FROM tap_run$$,
	$$VALUES ('succeeded', 'buy', 10::numeric)$$,
	'a replayed run on the partitioned table goes long 10');
SELECT results_eq($$SELECT r.last_bar_ts, r.bars_used FROM pgtrade.decision r
		JOIN tap_run USING (run_id)$$,
	$$VALUES ('2024-01-03 05:00+00'::timestamptz, 4)$$,
	'its decision used the four bars up to 01-03');

SELECT results_eq($$SELECT bars, trades, final_equity FROM pgtrade.backtest(
		'tap_pb', '2023-12-01', '2024-01-06', capital => 1000, commission => 1)$$,
	$$VALUES (6, 2, 950::numeric)$$,
	'a backtest: six closes, two fills, 1000 down to 950');
SELECT results_eq($$SELECT * FROM pgtrade.backtest('tap_pb', '2023-12-01',
		'2024-01-06', capital => 1000, commission => 1)$$,
	$$SELECT * FROM tap_plain_bt$$,
	'every figure and trade as on the plain table');

-- record_bars: 01-04 as stored, 01-05 with another close, 01-08 new
-- (t in epoch milliseconds of the bars' starts)
SELECT results_eq($$SELECT inserted, updated, unchanged, forming
	FROM pgtrade.record_bars(pgtrade.instrument_id('TAPPB'), '1 day',
		jsonb_build_array(
			jsonb_build_object('t', extract(epoch FROM
				timestamptz '2024-01-04 05:00+00')::bigint * 1000,
				'o', 12, 'h', 13, 'l', 10, 'c', 11, 'v', 1000),
			jsonb_build_object('t', extract(epoch FROM
				timestamptz '2024-01-05 05:00+00')::bigint * 1000,
				'o', 10, 'h', 11, 'l', 9, 'c', 10.5, 'v', 1000),
			jsonb_build_object('t', extract(epoch FROM
				timestamptz '2024-01-08 05:00+00')::bigint * 1000,
				'o', 10, 'h', 11, 'l', 9, 'c', 10, 'v', 1000)))$$,
	$$VALUES (1, 1, 1, 0)$$,
	'record_bars tells a new, a changed and an unchanged bar apart');
SELECT results_eq($$SELECT ts::date, close FROM pgtrade.bar
	WHERE instrument_id = pgtrade.instrument_id('TAPPB')
		AND ts >= '2024-01-04' ORDER BY ts$$,
	$$VALUES ('2024-01-04'::date, 11::float8), ('2024-01-05', 10.5),
			 ('2024-01-08', 10)$$,
	'and stored them');

SELECT * FROM finish();
ROLLBACK;
