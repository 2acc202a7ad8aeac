-- bar_pack.sql: packed bars.  pack_bars packs a series 160 bars to a
-- pack; reads through the packs (period_bars, backtests) must answer
-- exactly what a plain query of pgtrade.bar answers, after bars are
-- corrected, deleted and inserted in packed ranges without packing
-- again, after packing again, and after a pack is damaged.
\ir preamble.psql
SELECT plan(41);

SET LOCAL timezone = 'UTC';

-- 1,000 daily bars, one every other day from 2020-01-01 (so that a bar
-- can be put between two), prices a slow sine on a drift.
SELECT pgtrade.add_instrument('TAPPK', 990801) \g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPPK'), '1 day',
	('2020-01-01'::date + 2 * n)::timestamp AT TIME ZONE 'America/New_York',
	100 + 10 * sin(n / 7.0) + n / 50.0, 112 + n / 50.0, 88 + n / 50.0,
	100 + 10 * sin((n + 3) / 7.0) + n / 50.0, 1000 + n
FROM generate_series(0, 999) n;
SELECT pgtrade.create_strategy('tap_pk', 'sma_cross', 'TAPPK', 'TAPACCT1',
	'{"fast": 5, "slow": 20}', 10, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null

-- truth(from, to, window): the bars period_bars must give, by a plain
-- query: every bar starting by "to", back to "window" bars before
-- bars_floor(from), each column an array, as text.
CREATE FUNCTION pg_temp.truth(p_from timestamptz, p_to timestamptz,
	p_window integer) RETURNS text
LANGUAGE sql AS $$
	SELECT count(*) || ' ' || array_agg(ts ORDER BY ts)::text || ' '
		|| array_agg(open ORDER BY ts)::text || ' '
		|| array_agg(high ORDER BY ts)::text || ' '
		|| array_agg(low ORDER BY ts)::text || ' '
		|| array_agg(close ORDER BY ts)::text || ' '
		|| array_agg(volume ORDER BY ts)::text
	FROM (SELECT b.* FROM pgtrade.bar b
		  WHERE b.instrument_id = pgtrade.instrument_id('TAPPK')
			AND b.bar_size = '1 day' AND b.ts <= p_to
			AND b.ts >= pgtrade.bars_floor(p_from, '1 day')
		  UNION ALL
		  (SELECT b.* FROM pgtrade.bar b
		   WHERE b.instrument_id = pgtrade.instrument_id('TAPPK')
			 AND b.bar_size = '1 day'
			 AND b.ts < pgtrade.bars_floor(p_from, '1 day')
		   ORDER BY b.ts DESC LIMIT p_window)) x
$$;
-- read(from, to, window): what period_bars gives, in the same text
CREATE FUNCTION pg_temp.read(p_from timestamptz, p_to timestamptz,
	p_window integer) RETURNS text
LANGUAGE sql AS $$
	SELECT r.bars || ' ' || r.ts::text || ' ' || r.open::text || ' '
		|| r.high::text || ' ' || r.low::text || ' ' || r.close::text || ' '
		|| r.volume::text
	FROM pgtrade.period_bars(pgtrade.instrument_id('TAPPK'), '1 day', p_from,
							 p_to, p_window) r
$$;
-- the periods read: all of it, and one that begins and ends inside packs
CREATE TEMP TABLE periods (f timestamptz, t timestamptz, w integer);
INSERT INTO periods VALUES
	('2020-01-01', '2026-01-01', 20),
	('2021-03-10 12:00', '2024-07-19 12:00', 37);
CREATE FUNCTION pg_temp.all_agree() RETURNS boolean
LANGUAGE sql AS $$
	SELECT bool_and(pg_temp.read(f, t, w) = pg_temp.truth(f, t, w)) FROM periods
$$;
-- the HINT of the error q raises
CREATE FUNCTION pg_temp.error_hint(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_hint text;
BEGIN
	EXECUTE q;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
	RETURN v_hint;
END
$$;
-- the whole backtest row, as text
CREATE FUNCTION pg_temp.bt() RETURNS text
LANGUAGE sql AS $$
	SELECT b::text FROM pgtrade.backtest('tap_pk', '2020-06-01', '2025-06-01',
		risk => false) b
$$;
-- the packs tile the series: each begins where the one before ends
CREATE FUNCTION pg_temp.tiled() RETURNS boolean
LANGUAGE sql AS $$
	SELECT bool_and(lo = coalesce(prev_hi, '-infinity') AND n = cardinality(ts)
					AND hi = ts[n] + interval '1 microsecond')
	FROM (SELECT p.*, lag(hi) OVER (ORDER BY hi) AS prev_hi
		  FROM pgtrade.bar_pack p
		  WHERE instrument_id = pgtrade.instrument_id('TAPPK')) x
$$;

SELECT ok(pg_temp.all_agree(), 'before packing, period_bars reads the table');
CREATE TEMP TABLE bt_rows AS SELECT pg_temp.bt() AS r;
SELECT is((SELECT count(*)::int FROM pgtrade.bar_change
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 1,
	'the insert noted one change of the series');

SELECT results_eq($$SELECT bar_size, packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars('TAPPK')$$,
	$$VALUES ('1 day'::interval, 0, 6, 40)$$,
	'1,000 bars: six packs of 160 and 40 left in the table');
SELECT ok(pg_temp.tiled(), 'the packs tile the series');
SELECT is((SELECT sum(n)::int FROM pgtrade.bar_pack
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 960,
	'960 bars packed');
SELECT is((SELECT count(*)::int FROM pgtrade.bar_change
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 0,
	'the change is packed and gone');
SELECT ok(pg_temp.all_agree(), 'read through the packs, the same bars');
SELECT is(pg_temp.bt(), (SELECT r FROM bt_rows), 'the same backtest');
SELECT results_eq($$SELECT packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars('TAPPK', '1 day')$$,
	$$VALUES (0, 0, 40)$$, 'packing again changes nothing');

-- a read inside the statement that writes bars (RETURNING) sees them:
-- the statement's changes are noted only once it ends
CREATE FUNCTION pg_temp.close_read(p_ts timestamptz) RETURNS float8
LANGUAGE sql VOLATILE AS $$
	SELECT r.close[array_position(r.ts, p_ts)]
	FROM pgtrade.period_bars(pgtrade.instrument_id('TAPPK'), '1 day',
		'2020-01-01', '2027-01-01', 20) r
$$;
CREATE FUNCTION pg_temp.correct_and_read() RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	v_seen float8;
BEGIN
	UPDATE pgtrade.bar SET close = 77.25
	WHERE instrument_id = pgtrade.instrument_id('TAPPK')
		AND ts = ('2020-01-01'::date + 2 * 300)::timestamp
			AT TIME ZONE 'America/New_York'
	RETURNING pg_temp.close_read(ts) INTO v_seen;
	RETURN v_seen;
END
$$;
SELECT is(pg_temp.correct_and_read(), 77.25::float8,
	'a read in the RETURNING of the statement that corrected a bar sees it');
SELECT is(current_setting('pgtrade.bar_writes'), '0',
	'and the count of statements writing bars is back to 0 after it');
SELECT ok(pg_temp.all_agree(), 'the next statement reads as the table too');
SELECT pgtrade.pack_bars('TAPPK') \g /dev/null


-- writes in packed ranges, not packed yet: a close corrected in the
-- second pack, a bar deleted in the fourth, one put between two bars of
-- the fifth; the reads must see each
UPDATE pgtrade.bar SET close = close + 1
WHERE instrument_id = pgtrade.instrument_id('TAPPK')
	AND ts = ('2020-01-01'::date + 2 * 200)::timestamp AT TIME ZONE 'America/New_York';
DELETE FROM pgtrade.bar
WHERE instrument_id = pgtrade.instrument_id('TAPPK')
	AND ts = ('2020-01-01'::date + 2 * 500)::timestamp AT TIME ZONE 'America/New_York';
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
VALUES (pgtrade.instrument_id('TAPPK'), '1 day',
	('2020-01-01'::date + 2 * 700 + 1)::timestamp AT TIME ZONE 'America/New_York',
	50, 60, 40, 55, 7);
SELECT is((SELECT count(*)::int FROM pgtrade.bar_change
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 3,
	'three changes noted');
SELECT ok(pg_temp.all_agree(), 'the reads see the correction, the deletion and the insertion');
UPDATE bt_rows SET r = pg_temp.bt();
SAVEPOINT no_packs;
DELETE FROM pgtrade.bar_pack;
SELECT is(pg_temp.bt(), (SELECT r FROM bt_rows),
	'the backtest is the one read from the table alone');
ROLLBACK TO SAVEPOINT no_packs;
SELECT isnt(pg_temp.bt(), (SELECT r FROM pgtrade.backtest('tap_pk',
	'2020-06-01', '2020-06-02', risk => false) r)::text,
	'(a different period gives a different row)');

SELECT results_eq($$SELECT packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars()$$,
	$$VALUES (5, 5, 40)$$,
	'packed again from the second pack on: five dropped, five added');
SELECT ok(pg_temp.tiled(), 'the packs tile the series again');
SELECT is((SELECT count(*)::int FROM pgtrade.bar_change
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 0,
	'no change left');
SELECT ok(pg_temp.all_agree(), 'the repacked bars read as the table');
SELECT is(pg_temp.bt(), (SELECT r FROM bt_rows), 'and backtest the same');

-- appends after the packs: 200 more bars fill one more pack
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPPK'), '1 day',
	('2020-01-01'::date + 2 * n)::timestamp AT TIME ZONE 'America/New_York',
	100, 101, 99, 100 + n % 7, 10
FROM generate_series(1000, 1199) n;
SELECT results_eq($$SELECT packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars('TAPPK')$$,
	$$VALUES (0, 1, 80)$$,
	'200 appended: no pack dropped, one added, 80 left');
UPDATE periods SET t = '2027-01-01' WHERE w = 20;
SELECT ok(pg_temp.all_agree(), 'the appended bars read as the table');

-- a damaged pack is an error that names the repair
UPDATE pgtrade.bar_pack SET close = close[1:159]
WHERE instrument_id = pgtrade.instrument_id('TAPPK')
	AND hi = (SELECT min(hi) FROM pgtrade.bar_pack
			  WHERE instrument_id = pgtrade.instrument_id('TAPPK'));
SELECT throws_ok($$SELECT pg_temp.read('2020-01-01', '2027-01-01', 20)$$,
	'XX001', NULL, 'a pack whose arrays disagree with n is refused');
SELECT is(pg_temp.error_hint($$SELECT pg_temp.read('2020-01-01', '2027-01-01', 20)$$),
	'pgtrade.pack_bars(symbol, bar_size, rebuild => true) packs the series '
	'again from pgtrade.bar.',
	'and the hint names the repair');
UPDATE pgtrade.bar_pack SET close = close[1:159] || 1e300::float8,
	ts = ts[1:159] || ts[158]
WHERE instrument_id = pgtrade.instrument_id('TAPPK')
	AND hi = (SELECT min(hi) FROM pgtrade.bar_pack
			  WHERE instrument_id = pgtrade.instrument_id('TAPPK'));
SELECT throws_ok($$SELECT pg_temp.read('2020-01-01', '2027-01-01', 20)$$,
	'XX001', NULL, 'a pack whose times are out of order is refused');
SELECT results_eq($$SELECT packs_dropped, packs_added
	FROM pgtrade.pack_bars('TAPPK', '1 day', rebuild => true)$$,
	$$VALUES (7, 7)$$, 'rebuild makes every pack again');
SELECT ok(pg_temp.all_agree(), 'and the reads agree with the table');
UPDATE bt_rows SET r = pg_temp.bt();

-- bars written as a replica are noted; a series written with the
-- triggers off (a restore) is packed because it has no pack
SET LOCAL session_replication_role = replica;
UPDATE pgtrade.bar SET volume = volume + 1
WHERE instrument_id = pgtrade.instrument_id('TAPPK')
	AND ts = ('2020-01-01'::date + 2 * 10)::timestamp AT TIME ZONE 'America/New_York';
SET LOCAL session_replication_role = origin;
SELECT is((SELECT count(*)::int FROM pgtrade.bar_change
		   WHERE instrument_id = pgtrade.instrument_id('TAPPK')), 2,
	'a replica''s update is noted by the row trigger, as it was and as it is');
SELECT ok(pg_temp.all_agree(), 'and read');
SELECT pgtrade.add_instrument('TAPPK2', 990802) \g /dev/null
ALTER TABLE pgtrade.bar DISABLE TRIGGER bar_note_insert;
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPPK2'), '1 hour',
	'2024-01-01 00:00+00'::timestamptz + n * interval '1 hour', 10, 11, 9, 10, 1
FROM generate_series(1, 170) n;
ALTER TABLE pgtrade.bar ENABLE ALWAYS TRIGGER bar_note_insert;
SELECT results_eq($$SELECT bar_size, packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars() WHERE instrument_id = pgtrade.instrument_id('TAPPK2')$$,
	$$VALUES ('01:00:00'::interval, 0, 1, 10)$$,
	'a series of 170 bars noted nowhere and without a pack is packed');

-- a truncated bar table leaves no pack behind
SAVEPOINT truncated;
TRUNCATE pgtrade.bar;
SELECT is((SELECT count(*)::int FROM pgtrade.bar_pack), 0,
	'TRUNCATE of pgtrade.bar empties the packs');
ROLLBACK TO SAVEPOINT truncated;

-- rights: readers read through the packs; packing is for admins and the
-- scheduler
CREATE ROLE tap_pk_reader IN ROLE pgtrade_reader;
SELECT pgtrade.grant_account('tap_pk_reader', 'TAPACCT1') \g /dev/null
GRANT SELECT ON bt_rows TO tap_pk_reader;
SET LOCAL ROLE tap_pk_reader;
SELECT is(pg_temp.bt(), (SELECT r FROM bt_rows),
	'a reader backtests through the packs');
SELECT throws_ok($$SELECT * FROM pgtrade.pack_bars()$$, '42501', NULL,
	'a reader may not pack');
RESET ROLE;
SET LOCAL ROLE pgtrade_admin;
SELECT lives_ok($$SELECT * FROM pgtrade.pack_bars('TAPPK')$$, 'an admin may');
RESET ROLE;

-- the last microsecond PostgreSQL holds stays out of the packs
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPPK2'), '1 hour',
	'2025-01-01 00:00+00'::timestamptz + n * interval '1 hour', 10, 11, 9, 10, 1
FROM generate_series(1, 149) n;
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
VALUES (pgtrade.instrument_id('TAPPK2'), '1 hour',
	'294276-12-31 23:59:59.999999+00', 10, 11, 9, 10, 1);
SELECT results_eq($$SELECT packs_added, bars_unpacked
	FROM pgtrade.pack_bars('TAPPK2')$$, $$VALUES (0, 160)$$,
	'a bar at the last microsecond is left in the table, not packed past it');

-- bad input
SELECT throws_ok($$SELECT * FROM pgtrade.pack_bars('TAPPK', '-1 day')$$,
	'22023', NULL, 'a bar size pgtrade.bar cannot hold is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.pack_bars('NO_SUCH_SYMBOL')$$,
	'42704', NULL, 'an unknown symbol is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.pack_bars(rebuild => NULL)$$,
	'22004', NULL, 'rebuild NULL is refused');
SELECT is((SELECT count(*)::int FROM pgtrade.pack_bars('TAPX', '1 hour')), 1,
	'a series without bars gives its row');
SELECT results_eq($$SELECT packs_dropped, packs_added, bars_unpacked
	FROM pgtrade.pack_bars('TAPX', '1 hour')$$, $$VALUES (0, 0, 0)$$,
	'with nothing done');

SELECT * FROM finish();
ROLLBACK;
