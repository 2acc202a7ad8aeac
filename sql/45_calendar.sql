/*
 * 45_calendar.sql: exchange calendars as data, and when a market is open.
 *
 * A calendar has a time zone, a regular session and weekend days; its
 * special days close it for the day or shorten (or move) the session.
 * The data covers first_day to last_day: outside that range pgtrade does
 * not know whether the market is open, says so (NULL, or an error where
 * a list of sessions is asked for), and strategies skip rather than
 * guess.  An instrument names its calendar; NULL means one that trades
 * at all hours.
 */

CREATE TABLE pgtrade.market_calendar (
	calendar		text PRIMARY KEY CHECK (calendar ~ '^[A-Z0-9_]{1,16}$'),
	description		text NOT NULL,
	time_zone		text NOT NULL,
	regular_open	time NOT NULL,
	regular_close	time NOT NULL,
	weekend			integer[] NOT NULL DEFAULT '{6,7}'
					CHECK (weekend <@ '{1,2,3,4,5,6,7}'),
	first_day		date NOT NULL,
	last_day		date NOT NULL,
	builtin			boolean NOT NULL DEFAULT false,
	CHECK (regular_open < regular_close),
	CHECK (first_day <= last_day)
);
COMMENT ON TABLE pgtrade.market_calendar IS
	'Exchange calendars: time zone, regular session, weekend days (ISO: '
	'1 Monday to 7 Sunday) and the range of days the data covers.';

CREATE TABLE pgtrade.market_special_day (
	calendar	text NOT NULL REFERENCES pgtrade.market_calendar
				ON UPDATE CASCADE ON DELETE CASCADE,
	day			date NOT NULL,
	opens		time,
	closes		time,
	note		text NOT NULL CHECK (note <> ''),
	builtin		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (calendar, day),
	CHECK ((opens IS NULL) = (closes IS NULL)),
	CHECK (opens < closes)
);
CREATE FUNCTION pgtrade.market_calendar_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
	IF TG_OP = 'UPDATE' AND EXISTS (
		SELECT 1 FROM pgtrade.instrument i
		WHERE i.calendar = OLD.calendar
			AND NOT pgtrade.same_time_zone(i.time_zone, NEW.time_zone)) THEN
		RAISE EXCEPTION 'calendar % has instruments in another time zone than %',
			OLD.calendar, NEW.time_zone
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Move them to another calendar first.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.market_calendar_before_write() IS
	'BEFORE INSERT OR UPDATE OF time_zone on market_calendar: the zone '
	'must be a zone name PostgreSQL knows, and keep the clock of the '
	'instruments that follow the calendar.';
CREATE TRIGGER market_calendar_before_write
	BEFORE INSERT OR UPDATE OF time_zone ON pgtrade.market_calendar
	FOR EACH ROW EXECUTE FUNCTION pgtrade.market_calendar_before_write();

COMMENT ON TABLE pgtrade.market_special_day IS
	'Days a calendar departs from its rule: closed all day (opens and '
	'closes NULL: holidays, closures), or a session with other hours '
	'(early closes, late opens, a weekend session).';

/*
 * pg_dump keeps the rows users add; the ones the extension ships come
 * back with CREATE EXTENSION (a shipped row edited in place is dumped as
 * shipped, not as edited).
 */
SELECT pg_catalog.pg_extension_config_dump('pgtrade.market_calendar',
	'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.market_special_day',
	'WHERE NOT builtin');

/*
 * The rows pgtrade ships are changed by a release, not in place: an edit
 * is not in a dump, and a shipped day deleted and added again by hand
 * would be restored beside the shipped one and fail the restore of every
 * added day.  Only a superuser may still change them (and loses the edit
 * on a restore, as the README says).
 */
CREATE FUNCTION pgtrade.calendar_shipped_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
				 WHERE r.rolname = current_user), false) THEN
		NULL;
	ELSIF TG_TABLE_NAME = 'market_special_day' THEN
		RAISE EXCEPTION '% % is a day pgtrade ships: it cannot be changed or deleted',
			OLD.calendar, pg_catalog.to_jsonb(OLD) ->> 'day'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A new release of pgtrade extends the shipped '
					  || 'calendars; add a calendar of your own for other '
					  || 'sessions.';
	ELSE
		RAISE EXCEPTION 'calendar % is shipped with pgtrade: it cannot be changed '
			'or deleted',
			OLD.calendar
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A new release of pgtrade extends the shipped '
					  || 'calendars; add a calendar of your own for other '
					  || 'sessions.';
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.calendar_shipped_guard() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.calendar_shipped_guard() IS
	'BEFORE UPDATE OR DELETE on market_calendar and market_special_day: '
	'the rows pgtrade ships change only by a superuser.';
CREATE TRIGGER market_calendar_shipped
	BEFORE UPDATE OR DELETE ON pgtrade.market_calendar
	FOR EACH ROW WHEN (OLD.builtin)
	EXECUTE FUNCTION pgtrade.calendar_shipped_guard();
CREATE TRIGGER market_special_day_shipped
	BEFORE UPDATE OR DELETE ON pgtrade.market_special_day
	FOR EACH ROW WHEN (OLD.builtin)
	EXECUTE FUNCTION pgtrade.calendar_shipped_guard();

ALTER TABLE pgtrade.instrument
	ADD COLUMN calendar text DEFAULT 'XNYS'
		REFERENCES pgtrade.market_calendar ON UPDATE CASCADE;
COMMENT ON COLUMN pgtrade.instrument.calendar IS
	'The exchange calendar that says when the instrument trades (default '
	'XNYS, the New York Stock Exchange); NULL for one that trades at all '
	'hours.  Strategies skip runs while it is closed.';

CREATE FUNCTION pgtrade.market_check_calendar(p_calendar text)
RETURNS pgtrade.market_calendar
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_c pgtrade.market_calendar;
BEGIN
	/* a name in any case, as zones are taken; its own spelling first */
	SELECT * INTO v_c FROM pgtrade.market_calendar c
	WHERE upper(c.calendar) = upper(p_calendar)
	ORDER BY c.calendar = p_calendar DESC, c.calendar
	LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'market calendar "%" does not exist', p_calendar
			USING ERRCODE = 'undefined_object',
				  HINT = 'See SELECT calendar FROM pgtrade.market_calendar.';
	END IF;
	RETURN v_c;
END
$$;
COMMENT ON FUNCTION pgtrade.market_check_calendar(text) IS
	'Internal: the calendar of that name, given in any case, or an error.';

/*
 * Two zone names keep the same clock when their offsets agree in both
 * seasons and on either side of both of 2024's changes in each
 * hemisphere: America/New_York and US/Eastern do, Europe/London and
 * America/New_York do not.
 */
CREATE FUNCTION pgtrade.same_time_zone(a text, b text)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT bool_and((t AT TIME ZONE a) = (t AT TIME ZONE b))
	FROM unnest('{2024-01-15 12:00+00, 2024-03-10 06:30+00,
				  2024-03-10 07:30+00, 2024-03-31 00:30+00,
				  2024-03-31 01:30+00, 2024-04-07 00:30+00,
				  2024-07-15 12:00+00, 2024-10-06 00:30+00,
				  2024-10-27 00:30+00, 2024-10-27 01:30+00,
				  2024-11-03 05:30+00, 2024-11-03 06:30+00}'::timestamptz[]) t;
$$;
COMMENT ON FUNCTION pgtrade.same_time_zone(text, text) IS
	'Internal: whether two zone names keep the same clock (their offsets '
	'agree through the seasons of 2024).';

/*
 * A zone changed by hand, by an UPDATE of an instrument or an account
 * (the functions that add them check their own), is held to the same
 * rules: a zone PostgreSQL knows, kept as pg_timezone_names spells it,
 * and for an instrument the clock of the calendar it follows.  A zone
 * PostgreSQL does not know would otherwise surface later, as an error
 * in every run of the instrument's strategies or at the gate of every
 * order of the account.
 */
CREATE FUNCTION pgtrade.zone_before_update()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone text;
BEGIN
	NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
	IF TG_TABLE_NAME <> 'instrument' THEN
		RETURN NEW;
	END IF;
	/* an account's row has no calendar: read only an instrument's */
	v_zone := (SELECT c.time_zone FROM pgtrade.market_calendar c
			   WHERE c.calendar = NEW.calendar);
	IF NOT pgtrade.same_time_zone(NEW.time_zone, v_zone) THEN
		RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
			'calendar %, which is in %',
			NEW.symbol, NEW.time_zone, NEW.calendar, v_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.zone_before_update() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.zone_before_update() IS
	'BEFORE UPDATE of an instrument''s or account''s time zone (or an '
	'instrument''s calendar): a zone PostgreSQL knows, in the calendar''s '
	'clock.';
CREATE TRIGGER instrument_zone
	BEFORE UPDATE OF time_zone, calendar ON pgtrade.instrument
	FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone
		  OR OLD.calendar IS DISTINCT FROM NEW.calendar)
	EXECUTE FUNCTION pgtrade.zone_before_update();
CREATE TRIGGER account_zone
	BEFORE UPDATE OF time_zone ON pgtrade.account
	FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
	EXECUTE FUNCTION pgtrade.zone_before_update();

/*
 * The session of one local day, or no row when the market is closed that
 * day; NULL is_known when the day lies outside the calendar's data.
 */
CREATE FUNCTION pgtrade.market_day(p_c pgtrade.market_calendar, p_day date,
	OUT is_known boolean, OUT opens timestamptz, OUT closes timestamptz,
	OUT note text)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sd pgtrade.market_special_day;
BEGIN
	is_known := p_day BETWEEN p_c.first_day AND p_c.last_day;
	IF NOT is_known THEN
		RETURN;
	END IF;
	SELECT * INTO v_sd FROM pgtrade.market_special_day sd
	WHERE sd.calendar = p_c.calendar AND sd.day = p_day;
	IF FOUND THEN
		note := v_sd.note;
		IF v_sd.opens IS NOT NULL THEN
			opens := (p_day + v_sd.opens) AT TIME ZONE p_c.time_zone;
			closes := (p_day + v_sd.closes) AT TIME ZONE p_c.time_zone;
		END IF;
	ELSIF extract(isodow FROM p_day)::integer = ANY (p_c.weekend) THEN
		note := 'weekend';
	ELSE
		opens := (p_day + p_c.regular_open) AT TIME ZONE p_c.time_zone;
		closes := (p_day + p_c.regular_close) AT TIME ZONE p_c.time_zone;
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.market_day(pgtrade.market_calendar, date) IS
	'Internal: one local day of a calendar: whether the data covers it, '
	'its session (NULL when closed) and the special day''s note.';

/*
 * The first session that closes after an instant (the one in progress,
 * or the next), looked for up to a month ahead within the data; NULLs
 * when there is none.
 */
CREATE FUNCTION pgtrade.market_next_session(p_c pgtrade.market_calendar,
	p_after timestamptz, OUT opens timestamptz, OUT closes timestamptz)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_day date := (p_after AT TIME ZONE p_c.time_zone)::date;
	v_d record;
BEGIN
	FOR v_i IN 0..31 LOOP
		v_d := pgtrade.market_day(p_c, v_day + v_i);
		EXIT WHEN NOT v_d.is_known;
		IF v_d.closes > p_after THEN
			opens := v_d.opens;
			closes := v_d.closes;
			RETURN;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.market_next_session(pgtrade.market_calendar,
	timestamptz) IS
	'Internal: the first session of a calendar that closes after an '
	'instant, within a month and the data.';

CREATE FUNCTION pgtrade.market_sessions(calendar text, from_day date,
	to_day date)
RETURNS TABLE (day date, opens timestamptz, closes timestamptz,
	early_close boolean, note text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
BEGIN
	IF from_day IS NULL OR to_day IS NULL OR from_day > to_day THEN
		RAISE EXCEPTION 'market_sessions needs from_day <= to_day, not % and %',
			coalesce(from_day::text, 'NULL'), coalesce(to_day::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF from_day < v_c.first_day OR to_day > v_c.last_day THEN
		RAISE EXCEPTION 'calendar "%" has data from % to %, not for % to %',
			v_c.calendar, v_c.first_day, v_c.last_day, from_day, to_day
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Closed days outside the data are unknown; add '
						 'them to pgtrade.market_special_day and widen '
						 'the calendar''s range.';
	END IF;
	RETURN QUERY
		SELECT d::date,
			   (d::date + coalesce(sd.opens, v_c.regular_open))
				   AT TIME ZONE v_c.time_zone,
			   (d::date + coalesce(sd.closes, v_c.regular_close))
				   AT TIME ZONE v_c.time_zone,
			   coalesce(sd.closes < v_c.regular_close, false),
			   sd.note
		FROM generate_series(from_day, to_day, interval '1 day') d
		LEFT JOIN pgtrade.market_special_day sd
			ON sd.calendar = v_c.calendar AND sd.day = d::date
		WHERE CASE WHEN sd.day IS NOT NULL THEN sd.opens IS NOT NULL
				   ELSE NOT extract(isodow FROM d)::integer = ANY (v_c.weekend)
			  END
		ORDER BY 1;
END
$$;
COMMENT ON FUNCTION pgtrade.market_sessions(text, date, date) IS
	'The sessions of a calendar between two local days, inclusive: each '
	'day''s open and close, whether it closes early and why.  Days '
	'outside the calendar''s data are refused.';

/*
 * market_status answers for one instant: open or not, whether the local
 * day has a session at all, and in plain words why it is closed.  All
 * three answers are NULL outside the calendar's data.
 */
CREATE FUNCTION pgtrade.market_status(calendar text, at timestamptz,
	OUT is_open boolean, OUT trading_day boolean, OUT opens timestamptz,
	OUT closes timestamptz, OUT reason text)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
	v_day date;
	v_d record;
	v_next timestamptz;
BEGIN
	IF at IS NULL THEN
		RAISE EXCEPTION 'market_status needs a time, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(at) THEN
		RAISE EXCEPTION 'market_status needs a finite time, not %', at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_day := (at AT TIME ZONE v_c.time_zone)::date;
	v_d := pgtrade.market_day(v_c, v_day);
	IF NOT v_d.is_known THEN
		reason := format('calendar %s has no data for %s (it covers %s to %s)',
						 v_c.calendar, v_day, v_c.first_day, v_c.last_day);
		RETURN;
	END IF;
	opens := v_d.opens;
	closes := v_d.closes;
	trading_day := v_d.opens IS NOT NULL;
	is_open := trading_day AND at >= v_d.opens AND at < v_d.closes;
	IF is_open THEN
		RETURN;
	END IF;

	/* closed: say why, and when it opens next */
	IF NOT trading_day THEN
		reason := format('%s is closed on %s (%s)', v_c.calendar, v_day,
						 v_d.note);
	ELSIF at < v_d.opens THEN
		reason := format('%s opens at %s %s on %s%s', v_c.calendar,
						 to_char(v_d.opens AT TIME ZONE v_c.time_zone,
								 'HH24:MI'), v_c.time_zone, v_day,
						 coalesce(' (' || v_d.note || ')', ''));
		RETURN;
	ELSE
		reason := format('%s closed at %s%s', v_c.calendar,
						 to_char(v_d.closes AT TIME ZONE v_c.time_zone,
								 'HH24:MI'),
						 coalesce(' (' || v_d.note || ')', ''));
	END IF;
	v_next := (pgtrade.market_next_session(v_c, at)).opens;
	IF v_next IS NOT NULL THEN
		reason := reason || format('; next session opens %s %s',
			to_char(v_next AT TIME ZONE v_c.time_zone, 'YYYY-MM-DD HH24:MI'),
			v_c.time_zone);
	ELSE
		reason := reason || format('; the calendar''s data ends on %s',
								   v_c.last_day);
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.market_status(text, timestamptz) IS
	'Whether a calendar''s market is open at an instant (sessions include '
	'their open and exclude their close), whether that local day has a '
	'session, the session''s times and, when closed, why in plain words; '
	'NULL answers outside the calendar''s data.';

CREATE FUNCTION pgtrade.market_is_open(calendar text, at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (pgtrade.market_status($1, $2)).is_open;
$$;
COMMENT ON FUNCTION pgtrade.market_is_open(text, timestamptz) IS
	'True while the calendar''s market is in a session at that instant, '
	'false when it is not, NULL outside the calendar''s data.';

CREATE FUNCTION pgtrade.set_instrument_calendar(symbol text, calendar text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint := pgtrade.instrument_id(symbol);
	v_c pgtrade.market_calendar;
	v_zone text;
BEGIN
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'symbol must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF calendar IS NOT NULL THEN
		v_c := pgtrade.market_check_calendar(calendar);
		v_zone := (SELECT i.time_zone FROM pgtrade.instrument i
				   WHERE i.instrument_id = v_id);
		IF NOT pgtrade.same_time_zone(v_zone, v_c.time_zone) THEN
			RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
				'calendar %, which is in %',
				symbol, v_zone, v_c.calendar, v_c.time_zone
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	UPDATE pgtrade.instrument i SET calendar = set_instrument_calendar.calendar
	WHERE i.instrument_id = v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.set_instrument_calendar(text, text) IS
	'Sets the calendar an instrument trades by; NULL for one that trades '
	'at all hours.';

/*
 * The close of the session in progress at an instant, or of the next
 * one; NULL when the calendar's data ends first.
 */
CREATE FUNCTION pgtrade.market_next_close(calendar text, after timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
BEGIN
	IF after IS NULL OR NOT isfinite(after) THEN
		RAISE EXCEPTION 'market_next_close needs a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN (pgtrade.market_next_session(v_c, after)).closes;
END
$$;
COMMENT ON FUNCTION pgtrade.market_next_close(text, timestamptz) IS
	'The close of the session in progress at an instant, or of the next '
	'one; NULL past the calendar''s data.';
