/*
 * 38_progress.sql: progress reports of long calls.
 *
 * A bulk import or a large sweep can run for minutes with nothing to
 * show.  Such a call asks note_progress at points where it knows how far
 * it is; a NOTICE is raised only when pgtrade.progress_interval seconds
 * (default 5) have passed since the call began or since its last report,
 * so a call shorter than that prints nothing.  The interval is a server
 * setting the library defines (pgtrade.c), read on every report: SET it
 * for a session, or to 0 to see every report.  A bad value is refused by
 * SET once the library is loaded in the session; SET before that, it
 * draws a WARNING when the library loads and the default applies, so a
 * long call never fails over it.
 */

CREATE FUNCTION pgtrade.progress_interval()
RETURNS double precision
AS 'MODULE_PATHNAME', 'pgtrade_progress_interval'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.progress_interval() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.progress_interval() IS
	'Internal to note_progress: pgtrade.progress_interval in seconds; '
	'calling it loads the library, which defines the setting.';

CREATE FUNCTION pgtrade.note_progress(caller text, done bigint,
	total bigint, unit text, started timestamptz, noted timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := pg_catalog.clock_timestamp();
	v_every double precision := pgtrade.progress_interval();
BEGIN
	IF v_now - coalesce(noted, started, v_now)
		< pg_catalog.make_interval(secs => v_every) THEN
		RETURN noted;
	END IF;
	RAISE NOTICE '%: % of % % (%), % s', caller, done, total, unit,
		CASE WHEN total > 0 THEN pg_catalog.floor(done * 100.0 / total)
			 ELSE 100 END || '%',
		pg_catalog.round(extract(epoch FROM v_now - started), 1);
	RETURN v_now;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.note_progress(text, bigint, bigint, text,
	timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.note_progress(text, bigint, bigint, text,
	timestamptz, timestamptz) IS
	'Internal to long calls: raises a progress NOTICE ("import_bars: 1200000 '
	'of 5000000 rows written (24%), 3.1 s") when pgtrade.progress_interval '
	'seconds (default 5) have passed since noted, the time of the last one '
	'(or started); returns the time of the last NOTICE.';
