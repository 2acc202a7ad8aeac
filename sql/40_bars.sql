/*
 * 40_bars.sql: accounts, instruments, bar loading and bar availability.
 *
 * Loading is an upsert that either takes a whole batch or nothing: every
 * check runs before the first row is written, and a failed check raises
 * with the offending line, so a bad file never leaves half a batch.
 */

/*
 * PostgreSQL reads a zone's name without regard to case; pgtrade keeps
 * the spelling pg_timezone_names gives it, so that equal zones compare
 * equal as text.  pg_timezone_names reads every zone file: this is for
 * a zone being set, not for every run.
 */
CREATE FUNCTION pgtrade.time_zone_name(zone text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_name text;
BEGIN
	IF zone IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT z.name INTO v_name
	FROM pg_catalog.pg_timezone_names z
	WHERE lower(z.name) = lower(zone)
	ORDER BY z.name = zone DESC, z.name
	LIMIT 1;
	IF v_name IS NULL THEN
		RAISE EXCEPTION 'time zone "%" not recognized', zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_name;
END
$$;
COMMENT ON FUNCTION pgtrade.time_zone_name(text) IS
	'The name of a time zone as pg_timezone_names spells it, given in any '
	'case; an error for a zone PostgreSQL does not know.';

CREATE FUNCTION pgtrade.add_account(account_id text, description text DEFAULT NULL,
	time_zone text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF account_id IS NULL THEN
		RAISE EXCEPTION 'add_account needs an account_id, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	ELSIF account_id !~ '^[A-Za-z0-9_-]{1,32}$' THEN
		RAISE EXCEPTION 'account id "%" is not 1 to 32 letters, digits, _ or -',
			account_id
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'IBKR account ids look like DU1234567 or U1234567.';
	END IF;
	time_zone := pgtrade.time_zone_name(time_zone);
	IF time_zone IS NOT NULL AND EXISTS (
		SELECT 1 FROM pgtrade.account a
		WHERE a.account_id = add_account.account_id AND a.time_zone <> time_zone) THEN
		RAISE EXCEPTION 'account "%" keeps its trading day in %, not %', account_id,
			(SELECT a.time_zone FROM pgtrade.account a
			 WHERE a.account_id = add_account.account_id), time_zone
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The zone moves the day the daily risk limits '
						   'count; it is never changed silently.';
	END IF;
	INSERT INTO pgtrade.account AS a (account_id, description, time_zone)
	VALUES (account_id, description, coalesce(time_zone, 'America/New_York'))
	ON CONFLICT ON CONSTRAINT account_pkey DO UPDATE
		SET description = coalesce(EXCLUDED.description, a.description),
			time_zone = CASE WHEN add_account.time_zone IS NULL THEN a.time_zone
							 ELSE EXCLUDED.time_zone END;
	RETURN account_id;
END
$$;
COMMENT ON FUNCTION pgtrade.add_account(text, text, text) IS
	'Registers a brokerage account (idempotent) and returns its id; '
	'time_zone (default America/New_York) is where its trading day for '
	'the daily risk limits begins.';

/*
 * add_instrument registers an instrument or returns the one already
 * registered.  Arguments left NULL take the defaults for a new row and
 * leave an existing row alone; an argument that contradicts an existing
 * row is an error, never a silent change: orders follow the conid, and
 * bar availability follows the zone and the session close.  The one
 * change allowed is filling in a conid that was not known yet.
 */
CREATE FUNCTION pgtrade.add_instrument(symbol text, conid bigint DEFAULT NULL,
	sec_type text DEFAULT 'STK', exchange text DEFAULT 'SMART',
	currency text DEFAULT 'USD', time_zone text DEFAULT NULL,
	session_open time DEFAULT NULL, session_close time DEFAULT NULL,
	calendar text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_i pgtrade.instrument;
	v_other pgtrade.instrument;
	v_c pgtrade.market_calendar;
BEGIN
	time_zone := pgtrade.time_zone_name(time_zone);
	IF calendar IS NOT NULL THEN
		calendar := (pgtrade.market_check_calendar(calendar)).calendar;
	END IF;
	/* IBKR's security types, as its contract searches name them */
	IF sec_type IS NULL OR sec_type NOT IN ('STK', 'OPT', 'FUT', 'FOP',
		'CASH', 'CFD', 'BOND', 'WAR', 'IND', 'FUND', 'CMDTY', 'CRYPTO') THEN
		RAISE EXCEPTION 'sec_type must be an IBKR security type such as STK, '
			'not %', coalesce('"' || sec_type || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'STK, OPT, FUT, FOP, CASH, CFD, BOND, WAR, IND, FUND, '
					  || 'CMDTY or CRYPTO, in capitals.';
	END IF;
	IF currency IS NULL OR currency !~ '^[A-Z]{3}$' THEN
		RAISE EXCEPTION 'currency must be an ISO 4217 code such as USD, not %',
			coalesce('"' || currency || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.symbol = add_instrument.symbol
		AND i.sec_type = add_instrument.sec_type
		AND i.exchange = add_instrument.exchange
		AND i.currency = add_instrument.currency
	FOR UPDATE;
	IF NOT FOUND THEN
		/*
		 * Functions name an instrument by its symbol alone: a second
		 * instrument with the same symbol would make every one of them
		 * refuse both as ambiguous.
		 */
		SELECT * INTO v_other FROM pgtrade.instrument i
		WHERE i.symbol = add_instrument.symbol
		ORDER BY i.instrument_id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'symbol "%" is already registered, as % on % in %',
				symbol, v_other.sec_type, v_other.exchange, v_other.currency
				USING ERRCODE = 'unique_violation',
					  DETAIL = 'pgtrade''s functions name an instrument by its '
						 || 'symbol alone; a second one with it would make '
						 || 'them refuse both as ambiguous.',
					  HINT = 'Give the other contract a symbol of its own '
						 || '(its local symbol, say).';
		END IF;
		/* the same stock under another case would get limits of its own */
		SELECT * INTO v_other FROM pgtrade.instrument i
		WHERE upper(i.symbol) = upper(add_instrument.symbol)
		ORDER BY i.instrument_id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'symbol "%" differs only in case from "%", already '
				'registered',
				symbol, v_other.symbol
				USING ERRCODE = 'unique_violation',
					  DETAIL = 'Risk limits and positions are kept per '
						 || 'instrument: one stock under two spellings '
						 || 'would have two of each.',
					  HINT = pg_catalog.format('Use "%s".', v_other.symbol);
		END IF;
		/*
		 * A New York instrument follows XNYS unless told otherwise; one
		 * elsewhere has no calendar unless named (it would not trade by
		 * New York's).  A calendar gives the zone and session it lacks,
		 * and must agree with a zone it is given.
		 */
		IF calendar IS NOT NULL
			OR pgtrade.same_time_zone(coalesce(time_zone, 'America/New_York'),
									  'America/New_York') THEN
			v_c := pgtrade.market_check_calendar(coalesce(calendar, 'XNYS'));
			IF NOT pgtrade.same_time_zone(time_zone, v_c.time_zone) THEN
				RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
					'calendar %, which is in %',
					symbol, time_zone, v_c.calendar, v_c.time_zone
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		ELSE
			RAISE NOTICE 'instrument "%" in time zone % has no calendar: its '
				'strategies run at all hours', symbol, time_zone
				USING HINT = 'Name one with calendar => ..., or add one to '
							 'pgtrade.market_calendar.';
		END IF;
		IF sec_type <> 'STK' THEN
			RAISE NOTICE 'instrument "%" has sec_type %: its bars, indicators '
				'and backtests work, but the risk gate refuses its orders',
				symbol, sec_type
				USING DETAIL = 'pgtrade-listener sends stock (STK) orders only.';
		END IF;
		INSERT INTO pgtrade.instrument AS i (symbol, conid, sec_type,
			exchange, currency, time_zone, session_open, session_close,
			calendar)
		VALUES (add_instrument.symbol, add_instrument.conid,
			add_instrument.sec_type, add_instrument.exchange,
			add_instrument.currency,
			coalesce(add_instrument.time_zone, v_c.time_zone,
					 'America/New_York'),
			coalesce(add_instrument.session_open, v_c.regular_open, '09:30'),
			coalesce(add_instrument.session_close, v_c.regular_close,
					 '16:00'),
			v_c.calendar)
		RETURNING i.instrument_id INTO v_i.instrument_id;
		RETURN v_i.instrument_id;
	END IF;
	IF conid IS NOT NULL AND v_i.conid IS NOT NULL AND conid <> v_i.conid THEN
		RAISE EXCEPTION 'instrument "%" already has conid %', symbol, v_i.conid
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The call gave conid %s.', conid),
				  HINT = 'A conid names a contract; orders follow it, so it '
					  || 'is never changed silently.';
	END IF;
	IF v_i.time_zone <> coalesce(time_zone, v_i.time_zone)
		OR v_i.session_open <> coalesce(session_open, v_i.session_open)
		OR v_i.session_close <> coalesce(session_close, v_i.session_close) THEN
		RAISE EXCEPTION 'instrument "%" is already registered with time '
			'zone % and session %-%',
			symbol, v_i.time_zone, v_i.session_open, v_i.session_close
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_i.calendar IS DISTINCT FROM coalesce(calendar, v_i.calendar) THEN
		RAISE EXCEPTION 'instrument "%" is already registered with calendar %',
			symbol, coalesce(v_i.calendar, 'NULL (all hours)')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Change it with pgtrade.set_instrument_calendar().';
	END IF;
	IF conid IS NOT NULL AND v_i.conid IS NULL THEN
		UPDATE pgtrade.instrument i SET conid = add_instrument.conid
		WHERE i.instrument_id = v_i.instrument_id;
	END IF;
	RETURN v_i.instrument_id;
END
$$;
COMMENT ON FUNCTION pgtrade.add_instrument(text, bigint, text, text, text,
	text, time, time, text) IS
	'Registers an instrument (a New York one follows calendar XNYS unless '
	'another is named; a calendar gives its zone and session) or returns '
	'the registered one; fills in a conid not known yet, and refuses to '
	'change a conid, time zone, session or calendar silently.';

CREATE FUNCTION pgtrade.instrument_id(symbol text)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_n integer;
BEGIN
	SELECT min(i.instrument_id), count(*) INTO v_id, v_n
	FROM pgtrade.instrument i WHERE i.symbol = instrument_id.symbol;
	IF v_n = 0 THEN
		/* symbols are as the broker spells them: say so for a near miss */
		RAISE EXCEPTION 'instrument "%" does not exist', symbol
			USING ERRCODE = 'undefined_object',
				  HINT = coalesce((
					  SELECT pg_catalog.format('Symbols match case: did you '
						  || 'mean "%s"?', min(i.symbol))
					  FROM pgtrade.instrument i
					  WHERE upper(i.symbol) = upper(instrument_id.symbol)
					  HAVING count(*) > 0),
					  'Add it with pgtrade.add_instrument().');
	ELSIF v_n > 1 THEN
		RAISE EXCEPTION 'instrument symbol "%" is ambiguous', symbol
			USING ERRCODE = 'ambiguous_parameter',
				  DETAIL = pg_catalog.format('%s instruments share the symbol.',
											 v_n);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.instrument_id(text) IS
	'Returns the id of the one instrument with this symbol; raises when '
	'none or several match.';

CREATE FUNCTION pgtrade.bar_size_supported(bar_size interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT coalesce($1 = interval '1 day'
		OR ($1 > interval '0' AND $1 < interval '1 day'
			AND extract(epoch FROM $1) % 60 = 0), false);
$$;
COMMENT ON FUNCTION pgtrade.bar_size_supported(interval) IS
	'True for the bar sizes pgtrade handles: one day, or a whole number '
	'of minutes under a day.';

/*
 * recent_bars reads the newest bars of an instrument and size that
 * started before a time, oldest first, by one backward scan of the
 * primary key: what every run reads.
 */
CREATE FUNCTION pgtrade.recent_bars(instrument_id bigint, bar_size interval,
	before timestamptz, n integer, OUT ts timestamptz[],
	OUT open double precision[], OUT high double precision[],
	OUT low double precision[], OUT close double precision[],
	OUT volume double precision[], OUT bars integer)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtrade_recent_bars'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgtrade.recent_bars(bigint, interval, timestamptz,
	integer) IS
	'The newest n bars of an instrument and size that started before '
	'"before", oldest first, as arrays (with the caller''s right to read '
	'pgtrade.bar).';

/*
 * bars_floor gives a time before which every bar of the size has ended
 * before from_ts: from_ts less the size (each part at its longest) and
 * two days.  Internal: a backtest looks for its first close from there,
 * and reads back only a window before it.
 */
CREATE FUNCTION pgtrade.bars_floor(from_ts timestamptz, bar_size interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_bars_floor_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.bars_floor(timestamptz, interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bars_floor(timestamptz, interval) IS
	'Internal: a time before which every bar of the size ended before '
	'from_ts.';

/*
 * period_bars reads the bars a backtest of from_ts to to_ts looks at, as
 * recent_bars gives them: every bar that starts by to_ts, back to
 * bars_window bars before the first that could end at or after from_ts.
 * A backtest decides each close over the window a live run loads, so
 * the bars before that change nothing.  Internal: a sweep reads its bars
 * with it once for all its combinations.
 */
CREATE FUNCTION pgtrade.period_bars(instrument_id bigint, bar_size interval,
	from_ts timestamptz, to_ts timestamptz, bars_window integer,
	OUT ts timestamptz[], OUT open double precision[],
	OUT high double precision[], OUT low double precision[],
	OUT close double precision[], OUT volume double precision[],
	OUT bars integer)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtrade_period_bars'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.period_bars(bigint, interval, timestamptz,
	timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.period_bars(bigint, interval, timestamptz,
	timestamptz, integer) IS
	'Internal: the bars a backtest from from_ts to to_ts looks at, back to '
	'bars_window bars before its first close, as arrays.';

/*
 * A daily bar (bar_size of one day or more) ends at the session close of
 * its date in the exchange time zone; an intraday bar ends at its start
 * plus its size.  An early close in the instrument's calendar does not
 * move it: a half-day session's bar is taken to end at the usual close,
 * later than it did, never earlier.  In C (bars_sql.c), by the expression
 *   CASE WHEN bar_size >= interval '1 day'
 *	 THEN (((ts AT TIME ZONE time_zone)::date
 *			+ (bar_size - interval '1 day'))::date
 *		   + session_close) AT TIME ZONE time_zone
 *	 ELSE ts + bar_size END
 */
CREATE FUNCTION pgtrade.bar_end(ts timestamptz, bar_size interval,
	time_zone text, session_close time)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_bar_end'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgtrade.bar_end(timestamptz, interval, text, time) IS
	'When a bar has ended: session close of its date in the exchange zone '
	'for daily bars, start plus size for intraday bars.';

/*
 * A bar size as messages name it: "1 day", "5 minute", "1 hour" (an
 * interval's own text says 00:05:00).
 */
CREATE FUNCTION pgtrade.bar_size_label(bar_size interval)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN bar_size >= interval '1 day' THEN bar_size::text
		WHEN extract(epoch FROM bar_size)::numeric % 3600 = 0
			THEN (extract(epoch FROM bar_size)::numeric / 3600)::int || ' hour'
		WHEN extract(epoch FROM bar_size)::numeric % 60 = 0
			THEN (extract(epoch FROM bar_size)::numeric / 60)::int || ' minute'
		ELSE bar_size::text END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_size_label(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_size_label(interval) IS
	'Internal: a bar size as messages name it (5 minute, 1 hour, 1 day).';

/*
 * A bar named in its exchange's clock, for messages, whatever the
 * session's zone (pg_cron's is UTC): a daily bar by its session date, an
 * intraday one by its local start and the zone.
 */
CREATE FUNCTION pgtrade.bar_label(ts timestamptz, bar_size interval,
	time_zone text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN bar_size >= interval '1 day'
		THEN 'is of session ' || to_char(ts AT TIME ZONE time_zone, 'YYYY-MM-DD')
		ELSE 'started ' || to_char(ts AT TIME ZONE time_zone, 'YYYY-MM-DD HH24:MI ')
			 || time_zone END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_label(timestamptz, interval, text)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_label(timestamptz, interval, text) IS
	'Internal: a bar as messages name it, in its exchange''s clock.';

/*
 * bars_ended_by gives the bound on ts of the bars that had ended by
 * as_of (no look-ahead): every bar that started before it had ended.  An
 * intraday bar started by as_of minus its size; a daily bar's session
 * date is at most the last date whose close came by as_of, so it started
 * before midnight after that date, in the exchange's zone; and no bar
 * starts after as_of.  One expression, so that a query calling it takes
 * it in (inlined).  STABLE, as the expression is (timestamptz plus or
 * minus an interval depends on the session's zone): declared IMMUTABLE it
 * was not inlined but run as a query of its own on every call, 5 % of a
 * scheduler tick.
 */
CREATE FUNCTION pgtrade.bars_ended_by(as_of timestamptz, bar_size interval,
	time_zone text, session_close time)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT least(CASE WHEN $2 >= interval '1 day'
		THEN ((($1 AT TIME ZONE $3)::date
			   - CASE WHEN ($1 AT TIME ZONE $3)::time >= $4 THEN 0 ELSE 1 END
			   + 1)::timestamp) AT TIME ZONE $3
		ELSE $1 - $2 + interval '1 microsecond' END,
		$1 + interval '1 microsecond');
$$;
COMMENT ON FUNCTION pgtrade.bars_ended_by(timestamptz, interval, text, time) IS
	'The bound on ts below which every bar had ended by as_of: what a run '
	'and the scheduler read with recent_bars.';

/*
 * import_bars reads a table (usually a temporary one filled with psql's
 * \copy) with columns line, symbol, ts, open, high, low, close, volume and
 * upserts its rows into pgtrade.bar.  ts is text: a date (YYYY-MM-DD) for
 * daily bars, taken as midnight in the instrument's zone, or a timestamp
 * with offset for intraday bars.  A long import reports its progress
 * with note_progress (38_progress.sql).
 */
CREATE FUNCTION pgtrade.import_bars(source regclass,
	bar_size interval DEFAULT '1 day')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_bad record;
	v_n bigint := 0;
	v_rows bigint;
	v_changed bigint;
	v_new bigint := 0;
	v_replaced bigint := 0;
	v_total bigint;
	v_checks text;
	v_blocks integer;
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_noted timestamptz := v_started;
	v_missing text;
BEGIN
	IF source IS NULL THEN
		RAISE EXCEPTION 'import_bars needs a source table, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.col INTO v_missing
	FROM unnest(ARRAY['symbol', 'ts', 'open', 'high', 'low', 'close',
					  'volume']) WITH ORDINALITY c(col, n)
	WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid = source AND a.attname = c.col
						AND a.attnum > 0 AND NOT a.attisdropped)
	ORDER BY c.n LIMIT 1;
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION '% has no column %', source, v_missing
			USING ERRCODE = 'undefined_column',
				  HINT = 'A source of bars has the columns symbol, ts, '
					  'open, high, low, close and volume (and line, '
					  'optionally).';
	END IF;
	IF NOT pgtrade.bar_size_supported(bar_size) THEN
		RAISE EXCEPTION 'bar size % is not supported', coalesce(bar_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bars are daily (1 day) or a whole number of '
					  'minutes under a day.';
	END IF;

	/* line numbers: the source's own, or the order rows come in */
	EXECUTE pg_catalog.format(
		'CREATE TEMP TABLE pgtrade_import ON COMMIT DROP AS
		 SELECT %s AS line, s.symbol::text AS symbol,
				s.ts::text AS ts_text,
				s.open::float8 AS open, s.high::float8 AS high,
				s.low::float8 AS low, s.close::float8 AS close,
				s.volume::float8 AS volume, i.instrument_id,
				i.time_zone, NULL::timestamptz AS ts
		 FROM %s s LEFT JOIN pgtrade.instrument i ON i.symbol = s.symbol',
		CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
						  WHERE a.attrelid = source AND a.attname = 'line'
							AND NOT a.attisdropped)
			 THEN 's.line::bigint' ELSE 'row_number() OVER ()' END,
		source);
	GET DIAGNOSTICS v_total = ROW_COUNT;
	v_checks := pg_catalog.format('checks of %s rows', v_total);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE instrument_id IS NULL ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'instrument "%" does not exist', v_bad.symbol
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = pg_catalog.format('Line %s names it.', v_bad.line),
				  HINT = 'Add it with pgtrade.add_instrument().';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 1, 12, v_checks,
		v_started, v_noted);
	IF (SELECT count(DISTINCT symbol) <> count(DISTINCT instrument_id)
		FROM pgtrade_import) THEN
		RAISE EXCEPTION 'a symbol in the batch matches several instruments'
			USING ERRCODE = 'ambiguous_parameter';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 2, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL
		OR volume IS NULL OR ts_text IS NULL
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has an empty field', v_bad.line
			USING ERRCODE = 'not_null_violation';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 3, 12, v_checks,
		v_started, v_noted);

	/* ISO 8601 only: a date for daily bars, a timestamp with offset else */
	SELECT * INTO v_bad FROM pgtrade_import
	WHERE CASE WHEN bar_size >= interval '1 day'
			   THEN ts_text !~ '^\d{4}-\d{2}-\d{2}$'
			   ELSE ts_text !~ ('^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}'
				   '(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$')
		  END
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has time "%", not %', v_bad.line,
			v_bad.ts_text,
			CASE WHEN bar_size >= interval '1 day'
				 THEN 'a date (YYYY-MM-DD) as daily bars need'
				 ELSE 'a timestamp with its offset '
					  '(YYYY-MM-DDTHH:MM:SS+HH:MM) as intraday bars need'
			END
			USING ERRCODE = 'invalid_datetime_format',
				  HINT = 'Check the bar size: daily files load with '
					  '''1 day'', minute files with ''1 minute''.';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 4, 12, v_checks,
		v_started, v_noted);

	PERFORM pgtrade.import_parse_ts(bar_size);
	v_noted := pgtrade.note_progress('import_bars', 5, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE extract(second FROM ts) <> 0 ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % does not start on a whole minute (%)',
			v_bad.line, v_bad.ts_text
			USING ERRCODE = 'invalid_datetime_format';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 6, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE ts > now() ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % starts in the future (%)', v_bad.line,
			v_bad.ts_text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 7, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (open > '-Infinity' AND open < 'Infinity'
		AND high > '-Infinity' AND high < 'Infinity'
		AND low > '-Infinity' AND low < 'Infinity'
		AND close > '-Infinity' AND close < 'Infinity')
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a price that is not a finite number',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 8, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (open > 0 AND high > 0 AND low > 0 AND close > 0)
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a price that is not positive',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 9, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE high < low ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has high below low', v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s %s: high %s, low %s.',
					v_bad.symbol, v_bad.ts_text, v_bad.high, v_bad.low);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 10, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (volume >= 0 AND volume < 'Infinity') ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a negative or invalid volume',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s %s: volume %s.',
					v_bad.symbol, v_bad.ts_text, v_bad.volume);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 11, 12, v_checks,
		v_started, v_noted);

	SELECT cur.line, cur.symbol, cur.ts_text, prev_line, prev_ts_text
	INTO v_bad
	FROM (SELECT line, symbol, ts, ts_text,
				 lag(ts) OVER w AS prev_ts,
				 lag(line) OVER w AS prev_line,
				 lag(ts_text) OVER w AS prev_ts_text
		  FROM pgtrade_import
		  WINDOW w AS (PARTITION BY instrument_id ORDER BY line)) cur
	WHERE cur.ts <= cur.prev_ts
	ORDER BY cur.line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bars for "%" are not in increasing time order',
			v_bad.symbol
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format(
					'Line %s (%s) does not come after line %s (%s).',
					v_bad.line, v_bad.ts_text, v_bad.prev_line,
					v_bad.prev_ts_text);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 12, 12, v_checks,
		v_started, v_noted);

	/*
	 * The rows are written in (instrument, time) order, as one sorted
	 * INSERT would lock them, but in slices of 1024 pages (8 MB) of a
	 * sorted copy, each read by ctid range without a scan of the rest,
	 * so that progress can be reported between slices.
	 */
	CREATE TEMP TABLE pgtrade_import_sorted ON COMMIT DROP AS
	SELECT instrument_id, ts, open, high, low, close, volume
	FROM pgtrade_import ORDER BY instrument_id, ts;
	DROP TABLE pgtrade_import;
	v_blocks := pg_catalog.pg_relation_size('pgtrade_import_sorted')
		/ pg_catalog.current_setting('block_size')::integer;
	/*
	 * A bar already stored with the same values is left as it is (no
	 * new row version); one with other values is replaced, and a notice
	 * at the end says how many were (a vendor's correction, or a wrong
	 * file).
	 */
	FOR v_from IN 0 .. v_blocks BY 1024 LOOP
		WITH w AS (
			INSERT INTO pgtrade.bar AS b
				(instrument_id, bar_size, ts, open, high, low, close, volume)
			SELECT instrument_id, import_bars.bar_size, ts, open, high, low,
				   close, volume
			FROM pgtrade_import_sorted
			WHERE ctid >= pg_catalog.format('(%s,0)', v_from)::tid
			  AND ctid < pg_catalog.format('(%s,0)', v_from + 1024)::tid
			ORDER BY instrument_id, ts
			ON CONFLICT (instrument_id, bar_size, ts) DO UPDATE
				SET open = EXCLUDED.open, high = EXCLUDED.high,
					low = EXCLUDED.low, close = EXCLUDED.close,
					volume = EXCLUDED.volume
				WHERE (b.open, b.high, b.low, b.close, b.volume)
					IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high,
						EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
			RETURNING b.xmax = 0 AS inserted)
		SELECT count(*) FILTER (WHERE w.inserted),
			   count(*) FILTER (WHERE NOT w.inserted)
		INTO v_rows, v_changed
		FROM w;
		v_new := v_new + v_rows;
		v_replaced := v_replaced + v_changed;
		v_n := least(v_total, (v_from + 1024)::bigint * v_total
			/ greatest(v_blocks, 1));
		v_noted := pgtrade.note_progress('import_bars', v_n, v_total,
			'rows written', v_started, v_noted);
	END LOOP;
	DROP TABLE pgtrade_import_sorted;
	IF v_replaced > 0 THEN
		RAISE NOTICE 'import_bars: % of % bars replaced stored bars with '
			'other values (% new, % unchanged)', v_replaced, v_total, v_new,
			v_total - v_new - v_replaced;
	END IF;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION pgtrade.import_bars(regclass, interval) IS
	'Validates and upserts a batch of bars from a table (symbol, ts, '
	'open, high, low, close, volume, and optionally line for error '
	'messages); all or nothing.  Returns the bars in the batch; a notice '
	'says how many replaced stored bars with other values.';

/*
 * import_parse_ts fills pgtrade_import.ts from ts_text, raising with the
 * line number on the first text that is not a date (daily bars) or a
 * timestamp (any bar size).  Internal to import_bars.
 */
CREATE FUNCTION pgtrade.import_parse_ts(bar_size interval)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_row record;
BEGIN
	/* The fast path converts the whole batch in one statement. */
	BEGIN
		UPDATE pgtrade_import
		SET ts = CASE WHEN ts_text ~ '^\d{4}-\d{2}-\d{2}$'
					  AND bar_size >= interval '1 day'
				 THEN (ts_text::date)::timestamp AT TIME ZONE time_zone
				 ELSE ts_text::timestamptz END;
		RETURN;
	EXCEPTION
		WHEN invalid_datetime_format OR datetime_field_overflow THEN
			NULL;			/* find the line below */
	END;

	FOR v_row IN SELECT line, ts_text FROM pgtrade_import ORDER BY line
	LOOP
		BEGIN
			PERFORM v_row.ts_text::timestamptz;
		EXCEPTION
			WHEN invalid_datetime_format OR datetime_field_overflow THEN
				RAISE EXCEPTION 'bar on line % has an invalid time "%"',
					v_row.line, v_row.ts_text
					USING ERRCODE = 'invalid_datetime_format',
						  DETAIL = SQLERRM;
		END;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.import_parse_ts(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.import_parse_ts(interval) IS
	'Internal to import_bars: parses the time text of each staged bar.';
