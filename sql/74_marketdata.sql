/*
 * 74_marketdata.sql: bars fetched by the listener from the gateway's
 * history endpoint.
 *
 * The listener asks bars_to_refresh which instruments to fetch (those
 * with an active strategy on an account it serves), sends
 * GET /iserver/marketdata/history with the bar and period given here,
 * and hands the answer's data array to record_bars.  record_bars checks
 * the whole batch before it writes a row, as import_bars does, so a bad
 * answer is refused with the offending bar and nothing half-written.
 * Bars that have not ended yet (the current, still-forming bar) are
 * left out: a stored bar is a finished observation.
 */

/*
 * history_bar maps a bar size to the gateway's bar argument: 1d, Nmin
 * or Nh.  NULL for sizes the gateway does not serve.
 */
CREATE FUNCTION pgtrade.history_bar(bar_size interval)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN $1 = interval '1 day' THEN '1d'
		WHEN extract(epoch FROM $1) / 60 IN (1, 2, 3, 5, 10, 15, 30)
			THEN (extract(epoch FROM $1) / 60)::integer || 'min'
		WHEN extract(epoch FROM $1) / 3600 IN (1, 2, 3, 4, 8)
			THEN (extract(epoch FROM $1) / 3600)::integer || 'h'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.history_bar(interval) IS
	'The gateway''s history bar argument for a bar size (1 day -> 1d, '
	'5 minutes -> 5min, 1 hour -> 1h), or NULL when it has none.';

/*
 * history_period returns the shortest history period that covers the
 * bars started since newest_ts (plus that bar itself, which may have
 * changed), at most max_bars bars of bar_size: Nmin up to 30 minutes,
 * Nh up to 8 hours, else Nd.  Without a stored bar it asks for max_bars
 * bars.  Periods count calendar time, so they cover at least the bars
 * wanted; the gateway never answers more than 1000 bars.
 */
CREATE FUNCTION pgtrade.history_period(bar_size interval,
	newest_ts timestamptz, now timestamptz, max_bars integer DEFAULT 1000)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bar_s numeric := extract(epoch FROM bar_size);
	v_n integer;
	v_min numeric;
BEGIN
	IF bar_size IS NULL OR now IS NULL OR NOT v_bar_s > 0 THEN
		RETURN NULL;
	END IF;
	v_n := least(coalesce(max_bars, 1000), 1000);
	IF newest_ts IS NOT NULL THEN
		v_n := least(v_n, greatest(0, ceil(extract(epoch FROM now - newest_ts)
										   / v_bar_s))::integer + 1);
	END IF;
	v_n := greatest(v_n, 1);
	IF bar_size >= interval '1 day' THEN
		RETURN v_n || 'd';
	END IF;
	v_min := v_n * v_bar_s / 60;
	IF v_min <= 30 THEN
		RETURN ceil(v_min)::integer || 'min';
	ELSIF v_min <= 480 THEN
		RETURN ceil(v_min / 60)::integer || 'h';
	END IF;
	RETURN least(ceil(v_min / 1440), 1000)::integer || 'd';
END
$$;
COMMENT ON FUNCTION pgtrade.history_period(interval, timestamptz,
	timestamptz, integer) IS
	'The gateway''s history period covering the bars since newest_ts '
	'(all max_bars when NULL), at most max_bars (1000) bars: Nmin, Nh or '
	'Nd.';

CREATE FUNCTION pgtrade.bars_to_refresh(accounts text[],
	max_bars integer DEFAULT 1000)
RETURNS TABLE (instrument_id bigint, symbol text, conid bigint,
	bar_size interval, bar text, period text, newest_ts timestamptz,
	skip_reason text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT w.instrument_id, w.symbol, w.conid, w.bar_size,
		   pgtrade.history_bar(w.bar_size),
		   pgtrade.history_period(w.bar_size, n.newest_ts, now(), $2),
		   n.newest_ts,
		   CASE WHEN w.conid IS NULL
				THEN format('instrument %s has no conid; register it with '
							'pgtrade.add_instrument', w.symbol)
				WHEN pgtrade.history_bar(w.bar_size) IS NULL
				THEN format('the gateway serves no %s bars', w.bar_size)
		   END
	FROM (SELECT DISTINCT s.instrument_id, i.symbol, i.conid, s.bar_size
		  FROM pgtrade.strategy s
		  JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
		  WHERE s.active AND s.account_id = ANY ($1)) w
	CROSS JOIN LATERAL (
		SELECT max(b.ts) AS newest_ts FROM pgtrade.bar b
		WHERE b.instrument_id = w.instrument_id
			AND b.bar_size = w.bar_size) n
	ORDER BY w.instrument_id, w.bar_size;
$$;
COMMENT ON FUNCTION pgtrade.bars_to_refresh(text[], integer) IS
	'Listener: the instruments and bar sizes of the active strategies of '
	'the given accounts, with the history bar and period to ask for, or '
	'the reason they cannot be fetched.';

/*
 * record_bars_stage parses a history answer's data array into the temp
 * table pgtrade_history (n, t, ts, open, high, low, close, volume),
 * raising on the first element that is not a bar.  Internal to
 * record_bars.
 */
CREATE FUNCTION pgtrade.record_bars_stage(p_bar_size interval,
	p_time_zone text, p_bars jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bad record;
BEGIN
	IF p_bars IS NULL OR jsonb_typeof(p_bars) <> 'array' THEN
		RAISE EXCEPTION 'bars must be a JSON array, not %',
			coalesce(jsonb_typeof(p_bars), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.n, e.bar INTO v_bad
	FROM jsonb_array_elements(p_bars) WITH ORDINALITY e(bar, n)
	WHERE CASE WHEN jsonb_typeof(e.bar) IS DISTINCT FROM 'object'
				 OR jsonb_typeof(e.bar->'t') IS DISTINCT FROM 'number'
			   THEN true
			   /* casts only once the types are known to be numbers */
			   WHEN (e.bar->>'t')::numeric <> trunc((e.bar->>'t')::numeric)
				 OR abs((e.bar->>'t')::numeric) > 1e15
			   THEN true
			   ELSE EXISTS (
				   SELECT 1 FROM unnest(ARRAY['o', 'h', 'l', 'c', 'v']) k
				   WHERE CASE WHEN jsonb_typeof(e.bar->k)
								   IS DISTINCT FROM 'number' THEN true
							  ELSE abs((e.bar->>k)::numeric) >= 1e300 END)
		  END
	ORDER BY e.n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % is not a bar with t (epoch ms) and finite numbers o, h, l, c, v',
			v_bad.n
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Bar %s: %s.', v_bad.n,
											 left(v_bad.bar::text, 200));
	END IF;

	CREATE TEMP TABLE pgtrade_history ON COMMIT DROP AS
	SELECT e.n, (e.bar->>'t')::bigint AS t,
		   CASE WHEN p_bar_size >= interval '1 day'
				/* the session date: t rounded to the nearest midnight
				   in the exchange zone, whether t is midnight UTC,
				   midnight there or the session's open */
				THEN ((to_timestamp((e.bar->>'t')::bigint / 1000.0)
					   AT TIME ZONE p_time_zone + interval '12 hours')::date
					  )::timestamp AT TIME ZONE p_time_zone
				ELSE to_timestamp((e.bar->>'t')::bigint / 1000.0) END AS ts,
		   (e.bar->>'o')::float8 AS open, (e.bar->>'h')::float8 AS high,
		   (e.bar->>'l')::float8 AS low, (e.bar->>'c')::float8 AS close,
		   (e.bar->>'v')::float8 AS volume
	FROM jsonb_array_elements(p_bars) WITH ORDINALITY e(bar, n);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_bars_stage(interval, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_bars_stage(interval, text, jsonb) IS
	'Internal to record_bars: stages a history data array as rows.';

/*
 * record_bars_check raises on the first staged bar import_bars would
 * refuse: not on a whole minute, starting in the future, a price not
 * positive, high below low, a negative volume, or time not increasing.
 * Internal to record_bars.
 */
CREATE FUNCTION pgtrade.record_bars_check(p_symbol text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bad record;
BEGIN
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE t % 60000 <> 0 ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % does not start on a whole minute (t = %)',
			v_bad.n, p_symbol, v_bad.t
			USING ERRCODE = 'invalid_datetime_format';
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE ts > now() ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % starts in the future (%)', v_bad.n,
			p_symbol, v_bad.ts
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE NOT (open > 0 AND high > 0 AND low > 0 AND close > 0)
	ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has a price that is not positive',
			v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE high < low ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has high below low', v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s: high %s, low %s.',
					v_bad.ts, v_bad.high, v_bad.low);
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE volume < 0 ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has a negative volume', v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s: volume %s.', v_bad.ts,
											 v_bad.volume);
	END IF;
	SELECT cur.n, cur.ts, cur.prev_n, cur.prev_ts INTO v_bad
	FROM (SELECT n, ts, lag(n) OVER w AS prev_n, lag(ts) OVER w AS prev_ts
		  FROM pgtrade_history WINDOW w AS (ORDER BY n)) cur
	WHERE cur.ts <= cur.prev_ts ORDER BY cur.n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bars of % are not in increasing time order', p_symbol
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format(
					'Bar %s (%s) does not come after bar %s (%s).',
					v_bad.n, v_bad.ts, v_bad.prev_n, v_bad.prev_ts);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_bars_check(text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_bars_check(text) IS
	'Internal to record_bars: raises on the first staged bar that '
	'import_bars would refuse.';

CREATE FUNCTION pgtrade.record_bars(instrument_id bigint,
	bar_size interval, bars jsonb)
RETURNS TABLE (inserted integer, updated integer, unchanged integer,
	forming integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_i pgtrade.instrument;
	v_total integer;
BEGIN
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = record_bars.instrument_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'instrument % does not exist',
			coalesce(record_bars.instrument_id::text, 'NULL')
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF NOT pgtrade.bar_size_supported(record_bars.bar_size) THEN
		RAISE EXCEPTION 'bar size % is not supported',
			coalesce(record_bars.bar_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bars are daily (1 day) or a whole number of minutes under a day.';
	END IF;
	PERFORM pgtrade.record_bars_stage(record_bars.bar_size, v_i.time_zone,
									  record_bars.bars);
	PERFORM pgtrade.record_bars_check(v_i.symbol);
	SELECT count(*) INTO v_total FROM pgtrade_history;

	/* the bar still forming has not ended: it is not an observation yet */
	DELETE FROM pgtrade_history h
	WHERE pgtrade.bar_end(h.ts, record_bars.bar_size, v_i.time_zone,
						  v_i.session_close) > now();
	GET DIAGNOSTICS forming = ROW_COUNT;

	/*
	 * Which bars were new is told by the rows stored before the upsert (in
	 * its snapshot), not by xmax: a partitioned bar table cannot return
	 * system columns.
	 */
	WITH stored AS (
		SELECT b.ts FROM pgtrade.bar b JOIN pgtrade_history h USING (ts)
		WHERE b.instrument_id = v_i.instrument_id
			AND b.bar_size = record_bars.bar_size),
	up AS (
		INSERT INTO pgtrade.bar AS b
			(instrument_id, bar_size, ts, open, high, low, close, volume)
		SELECT v_i.instrument_id, record_bars.bar_size, h.ts, h.open,
			   h.high, h.low, h.close, h.volume
		FROM pgtrade_history h ORDER BY h.ts
		ON CONFLICT (instrument_id, bar_size, ts) DO UPDATE
			SET open = EXCLUDED.open, high = EXCLUDED.high,
				low = EXCLUDED.low, close = EXCLUDED.close,
				volume = EXCLUDED.volume
			WHERE (b.open, b.high, b.low, b.close, b.volume)
				IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high,
								  EXCLUDED.low, EXCLUDED.close,
								  EXCLUDED.volume)
		RETURNING b.ts)
	SELECT count(*) FILTER (WHERE s.ts IS NULL),
		   count(*) FILTER (WHERE s.ts IS NOT NULL)
	INTO inserted, updated FROM up LEFT JOIN stored s USING (ts);
	unchanged := v_total - forming - inserted - updated;
	DROP TABLE pgtrade_history;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION pgtrade.record_bars(bigint, interval, jsonb) IS
	'Listener: validates a history answer''s bars ([{t, o, h, l, c, v}], '
	't in epoch ms) like import_bars and upserts those that have ended; '
	'returns how many were inserted, updated, unchanged, and left out as '
	'still forming.  All or nothing.';

GRANT EXECUTE ON FUNCTION
	pgtrade.bars_to_refresh(text[], integer),
	pgtrade.record_bars(bigint, interval, jsonb)
	TO pgtrade_listener;
/* admins may load a history answer by hand */
GRANT EXECUTE ON FUNCTION pgtrade.record_bars(bigint, interval, jsonb)
	TO pgtrade_admin;
