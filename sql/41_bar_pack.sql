/*
 * 41_bar_pack.sql: packed bars, a columnar copy of pgtrade.bar that
 * backtests read.
 *
 * A backtest of a million bars read them one key entry at a time, about
 * a hundred nanoseconds a bar: most of its time.  pack_bars copies each
 * series (an instrument and a bar size) into rows of PACK_BARS bars,
 * one array a column, so that the same bars are a few thousand rows, a
 * page each.  The packs are a cache, never the record: pgtrade.bar is.
 *
 * Each pack holds exactly the bars of its series whose ts lies in
 * [lo, hi), as the packer's snapshot saw them; a series' packs tile its
 * history without overlapping.  Every statement that writes bars notes,
 * in the same transaction, the range of ts it touched in each series
 * (bar_change).  A reader trusts a pack only when it sees no change
 * whose range meets the pack's: a change it can see is in its snapshot
 * and may be missing from the pack, and a change it cannot see is not
 * in its snapshot either.  The packer deletes the changes it has packed
 * in the transaction that writes the new packs, so a snapshot sees
 * either the old packs with the changes or the new packs without them.
 * No lock is taken against writers of bars: they only insert a row.
 * Packers take turns on the one row of bar_packer.
 */

CREATE TABLE pgtrade.bar_pack (
	instrument_id	bigint NOT NULL,
	bar_size		interval NOT NULL,
	lo				timestamptz NOT NULL,
	hi				timestamptz NOT NULL,
	n				integer NOT NULL CHECK (n BETWEEN 1 AND 160),
	ts				timestamptz[] NOT NULL,
	open			double precision[] NOT NULL,
	high			double precision[] NOT NULL,
	low				double precision[] NOT NULL,
	close			double precision[] NOT NULL,
	volume			double precision[] NOT NULL,
	CHECK (lo < hi),
	/* packs of a series tile its history: each ends where the next begins */
	PRIMARY KEY (instrument_id, bar_size, hi)
);
/*
 * Stored in the row as they are: a pack of 160 bars (7.7 kB of arrays)
 * fits in a page, and a reader copies its arrays straight from the
 * buffer; compressed or out of line, each would be decompressed or
 * fetched first.
 */
ALTER TABLE pgtrade.bar_pack
	ALTER ts SET STORAGE PLAIN, ALTER open SET STORAGE PLAIN,
	ALTER high SET STORAGE PLAIN, ALTER low SET STORAGE PLAIN,
	ALTER close SET STORAGE PLAIN, ALTER volume SET STORAGE PLAIN;
COMMENT ON TABLE pgtrade.bar_pack IS
	'Bars of a series packed 160 to a row, a column an array (ts ascending), '
	'that backtests read instead of pgtrade.bar where no later change '
	'touches them; written only by pack_bars.  pgtrade.bar is the record.';
COMMENT ON COLUMN pgtrade.bar_pack.lo IS
	'The pack holds every bar of its series with lo <= ts < hi, as '
	'pack_bars saw them.';

CREATE TABLE pgtrade.bar_change (
	instrument_id	bigint NOT NULL,
	bar_size		interval NOT NULL,
	lo				timestamptz NOT NULL,
	hi				timestamptz NOT NULL,
	CHECK (lo <= hi)
);
CREATE INDEX bar_change_series ON pgtrade.bar_change (instrument_id, bar_size, lo);
COMMENT ON TABLE pgtrade.bar_change IS
	'For each statement that wrote bars, the range of ts it touched in each '
	'series (lo and hi inclusive); packs it meets are not read until '
	'pack_bars has packed the series again and deleted the row.';
/* readable as every table is by traders and admins; readers see bars */
GRANT SELECT ON pgtrade.bar_pack, pgtrade.bar_change
	TO pgtrade_trader, pgtrade_admin;

/*
 * The triggers note the ranges written.  A statement-level trigger sees
 * a batch's rows at once: one row of bar_change per series a statement
 * touched, however many bars.  It fires once the statement has written
 * them all, so until then (a RETURNING clause, another trigger) a read
 * could see new bars and no change: while a statement that writes bars
 * runs, pgtrade.bar_writes counts it, and readers use no pack while it
 * is above 0.
 */
CREATE FUNCTION pgtrade.bar_note_begin()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM set_config('pgtrade.bar_writes', (coalesce(nullif(
		current_setting('pgtrade.bar_writes', true), ''), '0')::integer
		+ 1)::text, true);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_begin() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_begin() IS
	'Trigger: counts a statement writing bars in pgtrade.bar_writes until '
	'bar_note_change notes what it wrote; reads use no pack meanwhile.';
CREATE TRIGGER bar_note_begin BEFORE INSERT OR UPDATE OR DELETE ON pgtrade.bar
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_begin();
ALTER TABLE pgtrade.bar ENABLE ALWAYS TRIGGER bar_note_begin;

CREATE FUNCTION pgtrade.bar_note_change()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP <> 'TRUNCATE' THEN
		PERFORM set_config('pgtrade.bar_writes', greatest(coalesce(nullif(
			current_setting('pgtrade.bar_writes', true), ''), '0')::integer - 1,
			0)::text, true);
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		DELETE FROM pgtrade.bar_pack;
		DELETE FROM pgtrade.bar_change;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM bar_new b GROUP BY b.instrument_id, b.bar_size;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM bar_old b GROUP BY b.instrument_id, b.bar_size;
	ELSE
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM (SELECT o.instrument_id, o.bar_size, o.ts FROM bar_old o
			  UNION ALL
			  SELECT n.instrument_id, n.bar_size, n.ts FROM bar_new n) b
		GROUP BY b.instrument_id, b.bar_size;
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_change() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_change() IS
	'Trigger: notes in bar_change the range of ts each statement wrote in '
	'each series; a TRUNCATE of pgtrade.bar empties the packs.';

CREATE TRIGGER bar_note_insert AFTER INSERT ON pgtrade.bar
	REFERENCING NEW TABLE AS bar_new
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_update AFTER UPDATE ON pgtrade.bar
	REFERENCING OLD TABLE AS bar_old NEW TABLE AS bar_new
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_delete AFTER DELETE ON pgtrade.bar
	REFERENCING OLD TABLE AS bar_old
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_truncate AFTER TRUNCATE ON pgtrade.bar
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
/*
 * A session in replica mode fires no statement trigger of these, and
 * logical replication's apply worker fires only row triggers (in that
 * mode): bars written so, by a subscriber applying a bar feed's changes
 * or a restore run as a replica, are noted a row at a time instead.
 */
CREATE FUNCTION pgtrade.bar_note_row()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		VALUES (OLD.instrument_id, OLD.bar_size, OLD.ts, OLD.ts);
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		VALUES (NEW.instrument_id, NEW.bar_size, NEW.ts, NEW.ts);
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_row() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_row() IS
	'Trigger: notes in bar_change each bar written in replica mode (by '
	'logical replication''s apply worker, say), where bar_note_change does '
	'not fire.';
CREATE TRIGGER bar_note_replica AFTER INSERT OR UPDATE OR DELETE ON pgtrade.bar
	FOR EACH ROW EXECUTE FUNCTION pgtrade.bar_note_row();
ALTER TABLE pgtrade.bar ENABLE REPLICA TRIGGER bar_note_replica;
ALTER TABLE pgtrade.bar ENABLE ALWAYS TRIGGER bar_note_truncate;

/* packers take turns on this row; last_packed says when one last ran */
CREATE TABLE pgtrade.bar_packer (
	only_row	boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	last_packed	timestamptz
);
INSERT INTO pgtrade.bar_packer (only_row) VALUES (true);
COMMENT ON TABLE pgtrade.bar_packer IS
	'One row: pack_bars updates it first, so that packers take turns, and '
	'records when it last ran.';
GRANT SELECT ON pgtrade.bar_packer TO pgtrade_trader, pgtrade_admin;

/*
 * The series of pgtrade.bar, an instrument and a bar size each, read by
 * skipping through the bar key (one probe a series, not a bar).
 */
CREATE FUNCTION pgtrade.bar_series()
RETURNS TABLE (instrument_id bigint, bar_size interval)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE s AS (
		(SELECT b.instrument_id, b.bar_size FROM pgtrade.bar b
		 ORDER BY b.instrument_id, b.bar_size LIMIT 1)
		UNION ALL
		SELECT n.instrument_id, n.bar_size
		FROM s CROSS JOIN LATERAL (
			SELECT b.instrument_id, b.bar_size FROM pgtrade.bar b
			WHERE (b.instrument_id, b.bar_size) > (s.instrument_id, s.bar_size)
			ORDER BY b.instrument_id, b.bar_size LIMIT 1) n)
	SELECT s.instrument_id, s.bar_size FROM s
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_series() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_series() IS
	'Internal: each instrument and bar size of pgtrade.bar, by skipping '
	'through its key.';

/*
 * pack_bars packs the series named (a symbol, a bar size, or both),
 * or every series with bars written since it last ran or with 160 bars
 * or more and no pack.  For each: the
 * changes it can see are deleted, every pack from the first one they
 * meet onward is dropped, and the bars from the end of the packs kept
 * are packed again, 160 to a pack; fewer than 160 left at the end stay
 * in pgtrade.bar alone until more come.  With rebuild every pack of the
 * series is made again.  Returns a row per series looked at.
 *
 * One packer at a time: each first updates the row of bar_packer, which
 * makes a second wait for the first to end and lets readers and writers
 * of bars through.  At READ COMMITTED the second then sees what the
 * first wrote (each statement has a snapshot of its own); at REPEATABLE
 * READ or SERIALIZABLE its snapshot may not, and the update fails it
 * with 40001 instead of letting it pack over the first's packs.
 */
CREATE FUNCTION pgtrade.pack_bars(symbol text DEFAULT NULL,
	size interval DEFAULT NULL, rebuild boolean DEFAULT false)
RETURNS TABLE (instrument_id bigint, bar_size interval, packs_dropped integer,
	packs_added integer, bars_unpacked integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_series record;
	v_from timestamptz;
	v_start timestamptz;
	v_instrument bigint;
BEGIN
	IF rebuild IS NULL THEN
		RAISE EXCEPTION 'rebuild must be true or false, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF symbol IS NOT NULL THEN
		v_instrument := pgtrade.instrument_id(symbol);
	END IF;
	IF size IS NOT NULL AND NOT pgtrade.bar_size_supported(size) THEN
		RAISE EXCEPTION 'pgtrade.bar holds no bars of size %', size
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bar sizes are 1 day or whole minutes below a day.';
	END IF;
	UPDATE pgtrade.bar_packer SET last_packed = clock_timestamp();
	FOR v_series IN
		SELECT DISTINCT c.instrument_id, c.bar_size FROM pgtrade.bar_change c
		WHERE (v_instrument IS NULL OR c.instrument_id = v_instrument)
			AND (size IS NULL OR c.bar_size = size)
		UNION
		SELECT DISTINCT b.instrument_id, b.bar_size FROM pgtrade.bar_pack b
		WHERE rebuild
			AND (v_instrument IS NULL OR b.instrument_id = v_instrument)
			AND (size IS NULL OR b.bar_size = size)
		UNION
		SELECT v_instrument, size
		WHERE v_instrument IS NOT NULL AND size IS NOT NULL
		UNION
		/*
		 * Series of 160 bars or more without a pack: bars written with
		 * the triggers disabled (a restore), or noted changes deleted.
		 * One probe of the bar key a series.
		 */
		SELECT s.instrument_id, s.bar_size FROM pgtrade.bar_series() s
		WHERE (v_instrument IS NULL OR s.instrument_id = v_instrument)
			AND (size IS NULL OR s.bar_size = size)
			AND NOT EXISTS (SELECT 1 FROM pgtrade.bar_pack p
							WHERE p.instrument_id = s.instrument_id
								AND p.bar_size = s.bar_size)
			AND EXISTS (SELECT 1 FROM pgtrade.bar b
						WHERE b.instrument_id = s.instrument_id
							AND b.bar_size = s.bar_size OFFSET 159)
		ORDER BY 1, 2
	LOOP
		instrument_id := v_series.instrument_id;
		bar_size := v_series.bar_size;
		/* a series that fails is left as it was; the others are packed */
		BEGIN
			/*
			 * The changes packed now, taken and deleted in one statement:
			 * every statement after it sees at least those bars.
			 */
			WITH gone AS (
				DELETE FROM pgtrade.bar_change c
				WHERE c.instrument_id = v_series.instrument_id
					AND c.bar_size = v_series.bar_size
				RETURNING c.lo)
			SELECT min(g.lo) INTO v_from FROM gone g;
			IF rebuild THEN
				v_from := '-infinity';
			END IF;
			WITH gone AS (
				DELETE FROM pgtrade.bar_pack p
				WHERE p.instrument_id = v_series.instrument_id
					AND p.bar_size = v_series.bar_size AND p.hi > v_from
				RETURNING 1)
			SELECT count(*) INTO packs_dropped FROM gone;
			SELECT coalesce(max(p.hi), '-infinity') INTO v_start
			FROM pgtrade.bar_pack p
			WHERE p.instrument_id = v_series.instrument_id
				AND p.bar_size = v_series.bar_size;
			/*
			 * Full packs of 160 from v_start on; each begins a microsecond
			 * after the last bar of the one before (the first at v_start) and
			 * ends a microsecond after its own last bar.
			 */
			WITH b AS (
				SELECT b.*, (row_number() OVER (ORDER BY b.ts) - 1) / 160 AS g
				FROM pgtrade.bar b
				WHERE b.instrument_id = v_series.instrument_id
					AND b.bar_size = v_series.bar_size AND b.ts >= v_start
					AND b.ts < '294276-12-31 23:59:59.999999+00'),
			packs AS (
				SELECT b.g, count(*)::integer AS n, max(b.ts) AS last_ts,
					array_agg(b.ts ORDER BY b.ts) AS ts,
					array_agg(b.open ORDER BY b.ts) AS open,
					array_agg(b.high ORDER BY b.ts) AS high,
					array_agg(b.low ORDER BY b.ts) AS low,
					array_agg(b.close ORDER BY b.ts) AS close,
					array_agg(b.volume ORDER BY b.ts) AS volume
				FROM b GROUP BY b.g),
			added AS (
				INSERT INTO pgtrade.bar_pack (instrument_id, bar_size, lo, hi,
					n, ts, open, high, low, close, volume)
				SELECT v_series.instrument_id, v_series.bar_size,
					coalesce(lag(p.last_ts) OVER (ORDER BY p.g)
							 + interval '1 microsecond', v_start),
					p.last_ts + interval '1 microsecond', p.n, p.ts, p.open,
					p.high, p.low, p.close, p.volume
				FROM packs p
				WHERE p.n = 160
				RETURNING n)
			SELECT count(*) INTO packs_added FROM added;
			SELECT coalesce(max(p.hi), '-infinity') INTO v_start
			FROM pgtrade.bar_pack p
			WHERE p.instrument_id = v_series.instrument_id
				AND p.bar_size = v_series.bar_size;
			SELECT count(*) INTO bars_unpacked
			FROM pgtrade.bar b
			WHERE b.instrument_id = v_series.instrument_id
				AND b.bar_size = v_series.bar_size AND b.ts >= v_start;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'pack_bars: instrument % bars of %: %, left unpacked',
				v_series.instrument_id, v_series.bar_size, SQLERRM;
			CONTINUE;
		END;
		RETURN NEXT;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.pack_bars(text, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.pack_bars(text, interval, boolean)
	TO pgtrade_admin, pgtrade_scheduler;
COMMENT ON FUNCTION pgtrade.pack_bars(text, interval, boolean) IS
	'Packs bars for backtests: the series named, or every series with bars '
	'written since it last ran or none packed; rebuild makes every pack of '
	'them again.  '
	'Returns, per series, the packs dropped and added and the bars left '
	'after the last pack.  One packer at a time: another waits for it.';
